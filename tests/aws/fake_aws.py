#!/usr/bin/python3
"""A local AWS-compatible endpoint for chg's tests, checked by AWS's own SDK code.

Run with Debian's /usr/bin/python3 (python3-botocore). Every request is checked
the way AWS would, with botocore and independently of libcurl:

- the SigV4 signature is recomputed with botocore's SigV4Auth over the headers
  the client says it signed, and a mismatch is refused (wrong secret, wrong
  region or service in the scope, a date more than 5 minutes off, a required
  header left unsigned, an unknown or expired access key);
- the operation comes from X-Amz-Target (JSON protocol) or Action (Query);
- the parameters are validated against botocore's service model for that
  operation with botocore's ParamValidator (required members, types, minimum
  lengths), then for what botocore leaves to AWS (string patterns, maximum
  lengths, enums), and unknown ones refused;
- answers are built from the test's state, validated against the model's
  output shape, and serialized as the protocol says (JSON, or Query XML that
  botocore's own QueryParser reads back).

It can inject errors (throttling, 5xx, slow answers) per operation, and has
fake IMDSv2, container-credential and STS AssumeRoleWithWebIdentity endpoints
that issue temporary credentials with an expiry. Control: POST /_fake/state,
POST /_fake/inject, GET /_fake/log (JSON).

    fake_aws.py [--port N]     serve, print "PORT\\n" on stdout
"""
import base64
import datetime
import hashlib
import json
import os
import re
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.parsers import create_parser
from botocore.validate import ParamValidator

SESSION = botocore.session.get_session()
MODELS = {}  # model name -> ServiceModel
# SigV4 signing name -> botocore model name
SIGNING = {"monitoring": "cloudwatch", "ssm": "ssm", "codepipeline": "codepipeline", "codedeploy": "codedeploy",
           "states": "stepfunctions", "events": "events", "sns": "sns", "cloudformation": "cloudformation",
           "sts": "sts", "sqs": "sqs"}


def model(name):
    if name not in MODELS:
        MODELS[name] = SESSION.get_service_model(name)
    return MODELS[name]


TARGETS = {}  # JSON target prefix -> (signing name, model name)
for sig, name in SIGNING.items():
    m = model(name)
    if m.metadata.get("targetPrefix"):
        TARGETS[m.metadata["targetPrefix"]] = (sig, name)
# SQS speaks AWS JSON 1.0 (target AmazonSQS) since 2023, as well as Query;
# Debian's botocore 1.29 has only the Query model. The shapes are the same
# in both, so a JSON 1.0 request is validated against that model's shapes,
# and its errors are named as JSON 1.0 names them (com.amazonaws.sqs#Code).
TARGETS.setdefault("AmazonSQS", ("sqs", "sqs"))
JSON_VERSION = {"sqs": "1.0"}
ERROR_PREFIX = {"sqs": "com.amazonaws.sqs#"}


def json_version(svc):
    return model(svc).metadata.get("jsonVersion") or JSON_VERSION[svc]


class Refused(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class State:
    """What the fake AWS account holds; the tests set it through /_fake/state."""

    def __init__(self):
        self.lock = threading.Lock()
        self.region = "eu-west-1"
        self.keys = {"AKIDTEST": {"secret": "test-secret", "token": None, "expires": None}}
        self.alarms = {}        # name -> state value
        self.calendars = {}     # name -> {"state": ..., "next": ISO or None}
        self.pipelines = {}     # name -> {"stages": {stage: status}, "executions": {id: status}}
        self.injections = []    # [{"op", "count", "status"/"error"/"delay"}]
        self.log = []
        self.cred_ttl = 3600    # lifetime of issued temporary credentials, seconds
        self.web_token = "web-identity-token"
        self.role_arn = "arn:aws:iam::123456789012:role/chgd"
        self.container_token = "container-auth-token"
        self.imds_tokens = set()
        self.issued = {"imds": 0, "container": 0, "sts": 0}
        self.fail_entries = 0   # PutEvents: this many entries fail inside an HTTP 200
        self.automations = {}   # SSM Automation execution id -> status (PendingApproval, Approved, ...)
        self.stacks = {}        # CloudFormation stack name -> {"status", "id", "change_sets": {name: status}}
        self.cfn_tokens = {}    # ClientRequestToken -> the request it named and its answer
        self.queues = {}        # SQS: name -> Queue

    def issue(self, kind):
        akid = "ASIA" + secrets.token_hex(8).upper()
        cred = {"secret": secrets.token_urlsafe(30), "token": secrets.token_urlsafe(60),
                "expires": time.time() + self.cred_ttl}
        with self.lock:
            self.keys[akid] = cred
            self.issued[kind] += 1
        return akid, cred


STATE = State()


# ---- SigV4 ----------------------------------------------------------------------------------

AUTH_RE = re.compile(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
                     r"SignedHeaders=([a-z0-9;\-]+), Signature=([0-9a-f]{64})$")


def verify_sigv4(method, path, headers, body, json_protocol):
    """The signing name of a correctly signed request; Refused otherwise."""
    auth = headers.get("Authorization", "")
    m = AUTH_RE.match(auth)
    if not m:
        raise Refused(403, "MissingAuthenticationToken", "Request is missing a valid SigV4 Authorization header")
    akid, date, region, service, signed, sig = m.groups()
    key = STATE.keys.get(akid)
    if not key:
        raise Refused(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
    if key["expires"] is not None and key["expires"] < time.time():
        raise Refused(403, "ExpiredTokenException", "The security token included in the request is expired")
    if region != STATE.region:
        raise Refused(403, "SignatureDoesNotMatch", f"Credential should be scoped to a valid region, not '{region}'")
    if service not in SIGNING:
        raise Refused(403, "SignatureDoesNotMatch", f"Credential should be scoped to correct service, not '{service}'")
    amz = headers.get("X-Amz-Date", "")
    try:
        t = datetime.datetime.strptime(amz, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        raise Refused(403, "IncompleteSignature", "X-Amz-Date is missing or malformed")
    if amz[:8] != date:
        raise Refused(403, "SignatureDoesNotMatch", "The credential's date is not the request's date")
    if abs(time.time() - t.timestamp()) > 300:
        raise Refused(403, "InvalidSignatureException", "Signature expired: the request date is more than 5 minutes off")
    names = signed.split(";")
    need = ["host", "x-amz-date", "content-type"] + (["x-amz-target"] if json_protocol else [])
    if key["token"]:
        need.append("x-amz-security-token")
        if headers.get("X-Amz-Security-Token") != key["token"]:
            raise Refused(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
    for n in need:
        if n not in names:
            raise Refused(403, "SignatureDoesNotMatch", f"The header '{n}' must be signed")
    sh = {}
    for n in names:
        v = headers.get(n)
        if v is None:
            raise Refused(403, "SignatureDoesNotMatch", f"The signed header '{n}' is missing")
        sh[n] = v
    req = AWSRequest(method=method, url="http://" + headers["Host"] + path, data=body, headers=sh)
    req.context["timestamp"] = amz
    signer = SigV4Auth(Credentials(akid, key["secret"], key["token"]), service, region)
    canonical = signer.canonical_request(req)
    expect = signer.signature(signer.string_to_sign(req, canonical), req)
    if expect != sig:
        raise Refused(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the "
                      "signature you provided.")
    return akid, service


# ---- Query protocol: request members and XML answers ----------------------------------------

def query_decode(params, shape, prefix, used):
    """The members of shape from the flat Query parameters (botocore's Query serializer, backwards)."""
    t = shape.type_name
    if t == "structure":
        out = {}
        for name, ms in shape.members.items():
            key = prefix + ms.serialization.get("name", name)
            v = query_decode(params, ms, key, used)
            if v is not None:
                out[name] = v
        return out if out or prefix == "" else None
    if t == "list":
        member = shape.member.serialization.get("name", "member")
        base = prefix + "." if shape.serialization.get("flattened") else f"{prefix}.{member}."
        items = []
        i = 1
        while True:
            v = query_decode(params, shape.member, f"{base}{i}", used)
            if v is None:
                break
            items.append(v)
            i += 1
        return items or None
    if t == "map":
        out = {}
        i = 1
        while f"{prefix}.entry.{i}.key" in params:
            used.add(f"{prefix}.entry.{i}.key")
            k = params[f"{prefix}.entry.{i}.key"]
            out[k] = query_decode(params, shape.value, f"{prefix}.entry.{i}.value", used)
            i += 1
        return out or None
    if prefix not in params:
        return None
    used.add(prefix)
    v = params[prefix]
    if t in ("integer", "long"):
        try:
            return int(v)
        except ValueError:
            return v
    if t == "boolean":
        return {"true": True, "false": False}.get(v, v)
    if t in ("double", "float"):
        try:
            return float(v)
        except ValueError:
            return v
    return v


def xml_escape(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def xml_encode(value, shape, name):
    t = shape.type_name
    tag = shape.serialization.get("name", name)
    if t == "structure":
        inner = "".join(xml_encode(value[k], ms, k) for k, ms in shape.members.items() if k in value)
        return f"<{tag}>{inner}</{tag}>"
    if t == "list":
        m = shape.member.serialization.get("name", "member")
        return f"<{tag}>" + "".join(xml_encode(v, shape.member, m) for v in value) + f"</{tag}>"
    if t == "timestamp":
        return f"<{tag}>{iso(value.timestamp() if hasattr(value, 'timestamp') else value)}</{tag}>"
    if t == "boolean":
        return f"<{tag}>{'true' if value else 'false'}</{tag}>"
    return f"<{tag}>{xml_escape(value)}</{tag}>"


def query_answer(svc, op, result):
    om = model(svc).operation_model(op)
    ns = model(svc).metadata.get("xmlNamespace", "https://example.com/doc/")
    inner = ""
    if om.output_shape is not None:
        ParamValidator().validate(result, om.output_shape).has_errors() and _raise_invalid(
            ParamValidator().validate(result, om.output_shape))
        wrapper = om.output_shape.serialization.get("resultWrapper", op + "Result")
        inner = "".join(xml_encode(result[k], ms, k) for k, ms in om.output_shape.members.items() if k in result)
        inner = f"<{wrapper}>{inner}</{wrapper}>"
    xml = (f'<{op}Response xmlns="{ns}">{inner}<ResponseMetadata><RequestId>{secrets.token_hex(8)}</RequestId>'
           f"</ResponseMetadata></{op}Response>")
    if om.output_shape is not None:
        # read back with botocore's own parser: the answer is what an SDK would take
        parsed = create_parser("query").parse({"body": xml.encode(), "headers": {}, "status_code": 200},
                                              om.output_shape)
        for k in result:
            assert k in parsed, f"{op}: {k} lost in the XML answer"
    return xml


def _raise_invalid(report):
    raise AssertionError("the fake's own answer does not fit the model: " + report.generate_report())


def check_patterns(value, shape, path, enums=True):
    """What botocore's validator leaves out and AWS checks: string patterns
    of the model (as Python regexes: AWS's are Java ones, the same for the
    ones used here), matched whole; maximum lengths (in characters, as
    Python counts them: AWS's Java counts UTF-16 units, the same below
    U+10000); enums."""
    t = shape.type_name
    if t == "structure" and isinstance(value, dict):
        for k, v in value.items():
            if k in shape.members:
                r = check_patterns(v, shape.members[k], f"{path}.{k}" if path else k, enums)
                if r:
                    return r
    elif t == "list" and isinstance(value, list):
        for i, v in enumerate(value):
            r = check_patterns(v, shape.member, f"{path}[{i}]", enums)
            if r:
                return r
    elif t == "string" and isinstance(value, str) and len(value) > shape.metadata.get("max", len(value)):
        return f"1 validation error detected: Value at '{path}' failed to satisfy constraint: Member must " \
               f"have length less than or equal to {shape.metadata['max']}"
    elif t == "string" and isinstance(value, str) and enums and shape.enum and value not in shape.enum:
        return f"1 validation error detected: Value '{value}' at '{path}' failed to satisfy constraint: Member " \
               f"must satisfy enum value set: [{', '.join(shape.enum)}]"
    elif t == "string" and isinstance(value, str) and "pattern" in shape.metadata:
        try:
            ok = re.fullmatch(shape.metadata["pattern"], value, re.S) is not None
        except re.error:
            ok = True
        if not ok:
            return f"1 validation error detected: Value at '{path}' failed to satisfy constraint: Member must " \
                   f"satisfy regular expression pattern: {shape.metadata['pattern']}"
    return None


# ---- the operations ----------------------------------------------------------------------------

def op_describe_alarms(p):
    names = p.get("AlarmNames", [])
    types = p.get("AlarmTypes", ["MetricAlarm"])
    now = datetime.datetime.now(datetime.timezone.utc)
    metric, composite = [], []
    for n in names:
        if n in STATE.alarms:
            a = STATE.alarms[n]
            kind, value = (a if isinstance(a, list) else ["MetricAlarm", a])
            rec = {"AlarmName": n, "AlarmArn": f"arn:aws:cloudwatch:{STATE.region}:123456789012:alarm:{n}",
                   "StateValue": value, "StateReason": "set by the test", "StateUpdatedTimestamp": now}
            if kind in types:
                (metric if kind == "MetricAlarm" else composite).append(rec)
    return {"MetricAlarms": metric, "CompositeAlarms": composite}


def op_get_calendar_state(p):
    state, nexts = "OPEN", []
    for n in p["CalendarNames"]:
        c = STATE.calendars.get(n)
        if c is None:
            raise Refused(400, "InvalidDocument", f"Document {n} does not exist")
        if c["state"] != "OPEN":
            state = "CLOSED"
        if c.get("next"):
            nexts.append(c["next"])
    r = {"State": state, "AtTime": p.get("AtTime") or iso(time.time())}
    if nexts:
        r["NextTransitionTime"] = min(nexts)
    return r


def op_get_pipeline_state(p):
    pl = STATE.pipelines.get(p["name"])
    if pl is None:
        raise Refused(400, "PipelineNotFoundException", f"Account does not have a pipeline with name '{p['name']}'")
    stages = []
    for name, status in pl.get("stages", {}).items():
        s = {"stageName": name}
        if status:
            s["latestExecution"] = {"pipelineExecutionId": "e-1", "status": status}
        stages.append(s)
    return {"pipelineName": p["name"], "stageStates": stages}


def op_get_pipeline_execution(p):
    pl = STATE.pipelines.get(p["pipelineName"])
    status = pl and pl.get("executions", {}).get(p["pipelineExecutionId"])
    if not status:
        raise Refused(400, "PipelineExecutionNotFoundException", "The pipeline execution was not found")
    return {"pipelineExecution": {"pipelineName": p["pipelineName"], "pipelineExecutionId": p["pipelineExecutionId"],
                                  "status": status}}


def op_put_events(p):
    entries, failed = [], 0
    for e in p["Entries"]:
        with STATE.lock:
            fail = STATE.fail_entries > 0
            STATE.fail_entries -= 1 if fail else 0
        if fail:
            failed += 1
            entries.append({"ErrorCode": "InternalFailure", "ErrorMessage": "injected entry failure"})
        else:
            entries.append({"EventId": secrets.token_hex(8)})
    return {"FailedEntryCount": failed, "Entries": entries}


def op_empty(p):
    return {}


def op_publish(p):
    return {"MessageId": secrets.token_hex(8)}


def op_stop_deployment(p):
    return {"status": "Pending", "statusMessage": "stopping"}


def op_put_approval_result(p):
    return {"approvedAt": datetime.datetime.now(datetime.timezone.utc)}


def locked(op):
    """op under the state's lock: it reads and changes the account's state."""
    def run(p):
        with STATE.lock:
            return op(p)
    return run


@locked
def op_stop_pipeline_execution(p):
    pl = STATE.pipelines.get(p["pipelineName"])
    if pl is None:
        raise Refused(400, "PipelineNotFoundException", f"Account does not have a pipeline with name "
                      f"'{p['pipelineName']}'")
    ex = pl.setdefault("executions", {})
    status = ex.get(p["pipelineExecutionId"])
    if status == "Stopping":
        raise Refused(400, "DuplicatedStopRequestException", "The execution is already being stopped")
    if status != "InProgress":
        raise Refused(400, "PipelineExecutionNotStoppableException", f"Execution {p['pipelineExecutionId']} "
                      f"cannot be stopped: it is {status or 'not found'}")
    ex[p["pipelineExecutionId"]] = "Stopping"
    return {"pipelineExecutionId": p["pipelineExecutionId"]}


@locked
def op_send_automation_signal(p):
    status = STATE.automations.get(p["AutomationExecutionId"])
    if status is None:
        raise Refused(400, "AutomationExecutionNotFoundException", "The automation execution was not found")
    if p["SignalType"] in ("Approve", "Reject") and status != "PendingApproval":
        raise Refused(400, "InvalidAutomationSignalException", f"The execution is {status}, not waiting for "
                      "approval")
    STATE.automations[p["AutomationExecutionId"]] = {"Approve": "Approved", "Reject": "Rejected"}.get(
        p["SignalType"], status)
    return {}


def cfn_stack(p):
    for name, st in STATE.stacks.items():
        if p["StackName"] in (name, st["id"]):
            return name, st
    raise Refused(400, "ValidationError", f"Stack [{p['StackName']}] does not exist")


def cfn_idempotent(op):
    """A request that names a ClientRequestToken already used: the same
    request again is answered as the first was and changes nothing (a
    retry); another request with it is refused (the fake's reading of the
    CloudFormation API reference: TokenAlreadyExistsException)."""
    @locked
    def wrap(p):
        tok = p.get("ClientRequestToken")
        req = {k: v for k, v in p.items() if k != "ClientRequestToken"}
        if tok and tok in STATE.cfn_tokens:
            first = STATE.cfn_tokens[tok]
            if first["op"] != op.__name__ or first["request"] != req:
                raise Refused(400, "TokenAlreadyExistsException", f"Another request used token {tok}")
            return first["answer"]
        answer = op(p)
        if tok:
            STATE.cfn_tokens[tok] = {"op": op.__name__, "request": req, "answer": answer}
        return answer
    return wrap


@cfn_idempotent
def op_cancel_update_stack(p):
    name, st = cfn_stack(p)
    if st["status"] != "UPDATE_IN_PROGRESS":
        raise Refused(400, "ValidationError", f"CancelUpdateStack cannot be called from current stack status "
                      f"{st['status']}")
    st["status"] = "UPDATE_ROLLBACK_IN_PROGRESS"
    return {}


@cfn_idempotent
def op_rollback_stack(p):
    name, st = cfn_stack(p)
    if st["status"] not in ("CREATE_FAILED", "UPDATE_FAILED", "IMPORT_ROLLBACK_FAILED"):
        raise Refused(400, "ValidationError", f"Stack {name} is in {st['status']} state and can not be rolled back")
    st["status"] = "ROLLBACK_IN_PROGRESS" if st["status"] == "CREATE_FAILED" else "UPDATE_ROLLBACK_IN_PROGRESS"
    return {"StackId": st["id"]}


@cfn_idempotent
def op_execute_change_set(p):
    name, st = cfn_stack(p)
    cs = p["ChangeSetName"].rsplit("changeSet/", 1)[-1].split("/")[0]
    if cs not in st.get("change_sets", {}):
        raise Refused(404, "ChangeSetNotFound", f"ChangeSet [{p['ChangeSetName']}] does not exist")
    if st["change_sets"][cs] != "CREATE_COMPLETE":
        raise Refused(400, "InvalidChangeSetStatus", f"ChangeSet [{cs}] cannot be executed in its current "
                      f"status of [{st['change_sets'][cs]}]")
    st["change_sets"][cs] = "EXECUTE_IN_PROGRESS"
    st["status"] = "UPDATE_IN_PROGRESS"
    return {}


# ---- SQS: a real queue -----------------------------------------------------------------------

SQS = threading.Condition()  # guards every queue; notified when a message becomes receivable


class Queue:
    """Messages with a visibility timeout, a receive count and a receipt
    handle per receive, as SQS keeps them; a redrive policy moves a message
    received maxReceiveCount times to its dead-letter queue."""

    def __init__(self, name, redrive=None):
        self.name, self.redrive, self.msgs = name, redrive, []


def queue(url):
    m = re.fullmatch(r"https?://[^/]+/123456789012/([A-Za-z0-9_-]{1,80})", url or "")
    q = m and STATE.queues.get(m.group(1))
    if not q:
        raise Refused(400, "QueueDoesNotExist", "The specified queue does not exist.")
    return q


def sqs_message(q, body, delay=0):
    m = {"id": secrets.token_hex(16), "body": body, "md5": hashlib.md5(body.encode()).hexdigest(),
         "count": 0, "receipt": None, "visible_at": time.time() + delay}
    q.msgs.append(m)
    SQS.notify_all()
    return m


def op_send_message(p):
    with SQS:
        m = sqs_message(queue(p["QueueUrl"]), p["MessageBody"], p.get("DelaySeconds", 0))
    return {"MessageId": m["id"], "MD5OfMessageBody": m["md5"]}


def op_receive_message(p):
    n, wait, vis = p.get("MaxNumberOfMessages", 1), p.get("WaitTimeSeconds", 0), p.get("VisibilityTimeout")
    if not 1 <= n <= 10 or not 0 <= wait <= 20 or (vis is not None and not 0 <= vis <= 43200):
        raise Refused(400, "InvalidParameterValue", "MaxNumberOfMessages 1-10, WaitTimeSeconds 0-20, "
                      "VisibilityTimeout 0-43200")
    attrs = p.get("AttributeNames", [])
    deadline = time.time() + wait
    with SQS:
        q = queue(p["QueueUrl"])
        while True:
            now, out = time.time(), []
            for m in list(q.msgs):
                if len(out) == n or m["visible_at"] > now:
                    continue
                if q.redrive and m["count"] >= q.redrive["maxReceiveCount"]:
                    q.msgs.remove(m)  # to the dead-letter queue, as SQS's redrive does
                    STATE.queues[q.redrive["deadLetterQueue"]].msgs.append(dict(m, count=0, receipt=None))
                    continue
                m["count"] += 1
                m["receipt"] = base64.b64encode(secrets.token_bytes(48)).decode()
                m["visible_at"] = now + (30 if vis is None else vis)
                r = {"MessageId": m["id"], "ReceiptHandle": m["receipt"], "MD5OfBody": m["md5"], "Body": m["body"]}
                if "All" in attrs or "ApproximateReceiveCount" in attrs:
                    r["Attributes"] = {"ApproximateReceiveCount": str(m["count"])}
                out.append(r)
            if out or now >= deadline:
                return {"Messages": out} if out else {}
            SQS.wait(min(deadline - now, 0.05))


def in_queue(p):
    q = queue(p["QueueUrl"])
    for m in q.msgs:
        if m["receipt"] is not None and m["receipt"] == p["ReceiptHandle"]:
            return q, m
    raise Refused(400, "ReceiptHandleIsInvalid", f"The input receipt handle \"{p['ReceiptHandle'][:20]}…\" is not "
                  "a valid receipt handle.")


def op_delete_message(p):
    with SQS:
        q, m = in_queue(p)
        q.msgs.remove(m)
    return {}


def op_change_message_visibility(p):
    if not 0 <= p["VisibilityTimeout"] <= 43200:
        raise Refused(400, "InvalidParameterValue", "VisibilityTimeout must be 0 to 43200")
    with SQS:
        q, m = in_queue(p)
        if m["visible_at"] <= time.time():
            raise Refused(400, "MessageNotInflight", "The message referred to is not in flight.")
        m["visible_at"] = time.time() + p["VisibilityTimeout"]
        SQS.notify_all()
    return {}


OPS = {("cloudwatch", "DescribeAlarms"): op_describe_alarms,
       ("sqs", "SendMessage"): op_send_message,
       ("sqs", "ReceiveMessage"): op_receive_message,
       ("sqs", "DeleteMessage"): op_delete_message,
       ("sqs", "ChangeMessageVisibility"): op_change_message_visibility,
       ("events", "PutEvents"): op_put_events,
       ("sns", "Publish"): op_publish,
       ("codepipeline", "DisableStageTransition"): op_empty,
       ("codepipeline", "EnableStageTransition"): op_empty,
       ("codepipeline", "PutApprovalResult"): op_put_approval_result,
       ("codedeploy", "StopDeployment"): op_stop_deployment,
       ("stepfunctions", "SendTaskSuccess"): op_empty,
       ("stepfunctions", "SendTaskFailure"): op_empty,
       ("ssm", "GetCalendarState"): op_get_calendar_state,
       ("codepipeline", "GetPipelineState"): op_get_pipeline_state,
       ("codepipeline", "GetPipelineExecution"): op_get_pipeline_execution,
       ("codepipeline", "StopPipelineExecution"): op_stop_pipeline_execution,
       ("ssm", "SendAutomationSignal"): op_send_automation_signal,
       ("cloudformation", "CancelUpdateStack"): op_cancel_update_stack,
       ("cloudformation", "RollbackStack"): op_rollback_stack,
       ("cloudformation", "ExecuteChangeSet"): op_execute_change_set}


# ---- HTTP -----------------------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the client reuses connections

    def log_message(self, *a):
        pass

    def send(self, status, body, ctype="application/json", extra=None):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): nothing to tell it

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def record(self, **kw):
        with STATE.lock:
            STATE.log.append(kw)

    # -- control
    def control(self, method):
        if method == "GET" and self.path == "/_fake/log":
            with STATE.lock:
                return self.send(200, json.dumps({"log": STATE.log, "issued": STATE.issued}))
        if method == "POST" and self.path == "/_fake/state":
            s = json.loads(self.body())
            with STATE.lock:
                for k, v in s.items():
                    if k == "keys":
                        STATE.keys.update(v)
                    elif hasattr(STATE, k):
                        setattr(STATE, k, v)
                    else:
                        return self.send(400, json.dumps({"error": f"unknown state {k}"}))
            return self.send(200, "{}")
        if method == "POST" and self.path == "/_fake/queue":  # {"name", "redrive": {...}}: its URL
            s = json.loads(self.body())
            with SQS:
                STATE.queues[s["name"]] = Queue(s["name"], s.get("redrive"))
            host = f"127.0.0.1:{self.server.server_address[1]}"
            return self.send(200, json.dumps({"url": f"http://{host}/123456789012/{s['name']}"}))
        if method == "GET" and self.path.startswith("/_fake/queue/"):  # what a queue holds
            now = time.time()
            with SQS:
                q = STATE.queues.get(self.path.rsplit("/", 1)[1])
                msgs = [{"id": m["id"], "body": m["body"], "receive_count": m["count"],
                         "in_flight": m["visible_at"] > now and m["count"] > 0} for m in (q.msgs if q else [])]
            return self.send(200 if q else 404, json.dumps({"messages": msgs}))
        if method == "POST" and self.path == "/_fake/inject":
            with STATE.lock:
                STATE.injections.append(json.loads(self.body()))
            return self.send(200, "{}")
        if method == "POST" and self.path == "/_fake/reset":
            with STATE.lock:
                STATE.log.clear()
                STATE.injections.clear()
            return self.send(200, "{}")
        self.send(404, "{}")

    # -- credentials endpoints
    def imds(self, method):
        if method == "PUT" and self.path == "/latest/api/token":
            ttl = self.headers.get("x-aws-ec2-metadata-token-ttl-seconds")
            if not ttl or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                return self.send(400, "", "text/plain")
            tok = secrets.token_urlsafe(24)
            with STATE.lock:
                STATE.imds_tokens.add(tok)
            return self.send(200, tok, "text/plain")
        if self.headers.get("x-aws-ec2-metadata-token") not in STATE.imds_tokens:
            return self.send(401, "", "text/plain")  # IMDSv2 only: no token, no answer
        base = "/latest/meta-data/iam/security-credentials/"
        if self.path == base:
            return self.send(200, "chgd-role", "text/plain")
        if self.path == base + "chgd-role":
            akid, c = STATE.issue("imds")
            return self.send(200, json.dumps({"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": akid,
                                              "SecretAccessKey": c["secret"], "Token": c["token"],
                                              "Expiration": iso(c["expires"])}))
        self.send(404, "", "text/plain")

    def container(self):
        if self.headers.get("Authorization") != STATE.container_token:
            return self.send(403, json.dumps({"message": "bad authorization token"}))
        akid, c = STATE.issue("container")
        self.send(200, json.dumps({"AccessKeyId": akid, "SecretAccessKey": c["secret"], "Token": c["token"],
                                   "Expiration": iso(c["expires"]), "RoleArn": STATE.role_arn}))

    def sts_web_identity(self, params):
        om = model("sts").operation_model("AssumeRoleWithWebIdentity")
        used = set()
        p = query_decode(params, om.input_shape, "", used)
        report = ParamValidator().validate(p, om.input_shape)
        if report.has_errors():
            raise Refused(400, "ValidationError", report.generate_report())
        if p["WebIdentityToken"] != STATE.web_token:
            raise Refused(400, "InvalidIdentityToken", "The web identity token is not valid")
        if p["RoleArn"] != STATE.role_arn:
            raise Refused(403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
        akid, c = STATE.issue("sts")
        self.record(service="sts", op="AssumeRoleWithWebIdentity", params={"RoleArn": p["RoleArn"],
                    "RoleSessionName": p["RoleSessionName"]}, ok=True)
        return query_answer("sts", "AssumeRoleWithWebIdentity", {
            "Credentials": {"AccessKeyId": akid, "SecretAccessKey": c["secret"], "SessionToken": c["token"],
                            "Expiration": datetime.datetime.fromtimestamp(c["expires"], datetime.timezone.utc)},
            "SubjectFromWebIdentityToken": "system:serviceaccount:chg:chgd"})

    def do_PUT(self):
        if self.path.startswith("/latest/"):
            return self.imds("PUT")
        self.send(404, "{}")

    def do_GET(self):
        if self.path.startswith("/_fake/"):
            return self.control("GET")
        if self.path.startswith("/latest/"):
            return self.imds("GET")
        if self.path == "/container-credentials":
            return self.container()
        self.send(404, "{}")

    def do_POST(self):
        if self.path.startswith("/_fake/"):
            return self.control("POST")
        body = self.body()
        target = self.headers.get("X-Amz-Target")
        json_protocol = target is not None
        svc = op = p = None
        try:
            if json_protocol:
                prefix, _, op = target.partition(".")
                if prefix not in TARGETS:
                    raise Refused(400, "UnknownOperationException", f"unknown target {target}")
                sig, svc = TARGETS[prefix]
                ver = json_version(svc)
                if self.headers.get("Content-Type") != f"application/x-amz-json-{ver}":
                    raise Refused(400, "SerializationException", f"Content-Type must be application/x-amz-json-{ver}")
            else:
                params = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
                op = params.get("Action")
                if op == "AssumeRoleWithWebIdentity" and "Authorization" not in self.headers:
                    return self.send(200, self.sts_web_identity(params), "text/xml")
            akid, signing = verify_sigv4("POST", self.path, self.headers, body, json_protocol)
            if json_protocol and SIGNING[signing] != svc:
                raise Refused(403, "SignatureDoesNotMatch", f"Credential should be scoped to correct service")
            svc = SIGNING[signing]
            m = model(svc)
            if op not in m.operation_names:
                raise Refused(400, "InvalidAction", f"The action {op} is not valid for this web service")
            om = m.operation_model(op)
            if json_protocol:
                p = json.loads(body or b"{}")
            else:
                if params.get("Version") != m.api_version:
                    raise Refused(400, "InvalidParameterValue", f"Version must be {m.api_version}")
                used = {"Action", "Version"}
                p = query_decode(params, om.input_shape, "", used) if om.input_shape else {}
                extra = set(params) - used
                if extra:
                    raise Refused(400, "InvalidParameterValue", f"unknown parameters {sorted(extra)}")
            if om.input_shape is not None:
                report = ParamValidator().validate(p, om.input_shape)
                if report.has_errors():
                    raise Refused(400, "ValidationException" if json_protocol else "ValidationError",
                                  report.generate_report())
                # SQS: chgd speaks JSON 1.0, this botocore has the Query model only, whose
                # AttributeNames enum lacks the message attributes JSON 1.0 takes
                bad = check_patterns(p, om.input_shape, "", svc != "sqs")
                if bad:
                    raise Refused(400, "ValidationException" if json_protocol else "ValidationError", bad)
            inj = None
            with STATE.lock:
                for i in STATE.injections:
                    if i["op"] == op and i.get("count", 1) > 0:
                        i["count"] = i.get("count", 1) - 1
                        inj = i
                        break
            entry = {"service": svc, "op": op, "params": p, "akid": akid}
            if inj and inj.get("delay"):
                self.record(**entry, ok=False, injected="delay")
                time.sleep(inj["delay"])
            elif inj:
                self.record(**entry, ok=False, injected=inj.get("error") or inj.get("status"))
                e = Refused(inj.get("status", 400), inj.get("error", "InternalFailure"),
                            inj.get("message", "injected by the test"))
                e.logged = True
                raise e
            handler = OPS.get((svc, op))
            if handler is None:
                raise Refused(400, "InvalidAction", f"the fake does not implement {op}")
            result = handler(p)
            if not inj:
                self.record(**entry, ok=True)
            if json_protocol:
                if om.output_shape is None:
                    return self.send(200, "{}", f"application/x-amz-json-{json_version(svc)}")
                report = ParamValidator().validate(result, om.output_shape)
                if report.has_errors():
                    _raise_invalid(report)
                return self.send(200, json.dumps(result, default=lambda d: d.timestamp()),
                                 f"application/x-amz-json-{json_version(svc)}")
            return self.send(200, query_answer(svc, op, result), "text/xml")
        except Refused as e:
            if not getattr(e, "logged", False):
                self.record(service=svc, op=op, ok=False, error=e.code, message=e.message,
                            **({"params": p} if isinstance(p, dict) else {}))
            if json_protocol:
                return self.send(e.status, json.dumps({"__type": ERROR_PREFIX.get(svc, "") + e.code,
                                                       "message": e.message}), "application/x-amz-json-1.1")
            return self.send(e.status, f"<ErrorResponse><Error><Type>Sender</Type><Code>{e.code}</Code><Message>"
                             f"{xml_escape(e.message)}</Message></Error><RequestId>r</RequestId></ErrorResponse>",
                             "text/xml")


def serve(port=0):
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    return srv


if __name__ == "__main__":
    port = int(sys.argv[sys.argv.index("--port") + 1]) if "--port" in sys.argv else 0
    srv = serve(port)
    print(srv.server_address[1], flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
