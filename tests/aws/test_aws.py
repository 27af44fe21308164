#!/usr/bin/python3
"""The AWS client and chgd's AWS queries against the local AWS endpoint.

    test_aws.py AWS_ANSWER CHGD REPO_ROOT

The endpoint (fake_aws.py) checks each request with botocore: the SigV4
signature recomputed by botocore's signer, the operation's parameters
validated against botocore's service model. So a passing test means the
requests are ones AWS's own SDK code accepts; what AWS itself would answer
beyond its published model is not checked here (docs/aws.md says which).
"""
import datetime
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_aws  # noqa: E402

ANSWER, CHGD, ROOT = sys.argv[1:4]
SECRETS = ["test-secret", "web-identity-token", "container-auth-token"]

SRV = fake_aws.serve()
PORT = SRV.server_address[1]
URL = f"http://127.0.0.1:{PORT}"
TMP = tempfile.mkdtemp(prefix="chg-aws-")


def fake(path, body=None):
    req = urllib.request.Request(URL + path, data=json.dumps(body).encode() if body is not None else None,
                                 method="POST" if body is not None else "GET")
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


def base_env(**kw):
    """An environment with nothing of the machine's own AWS set-up in it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(HOME=TMP, AWS_ENDPOINT_URL=URL, AWS_REGION="eu-west-1", AWS_CONFIG_FILE=os.path.join(TMP, "none"),
               AWS_SHARED_CREDENTIALS_FILE=os.path.join(TMP, "none"), AWS_EC2_METADATA_DISABLED="true",
               AWS_ACCESS_KEY_ID="AKIDTEST", AWS_SECRET_ACCESS_KEY="test-secret")
    for k, v in kw.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def ask(*args, env=None, opts=()):
    """aws_answer's lines, and they never show a secret."""
    p = subprocess.run([ANSWER, *opts, *args], capture_output=True, text=True, env=env or base_env(), timeout=120)
    out = p.stdout + p.stderr
    for s in SECRETS:
        assert s not in out, f"a secret in the output: {out!r}"
    return p.stdout.strip()


STACK_ARN = "arn:aws:cloudformation:eu-west-1:123456789012:stack/web/0a1b2c3d-1111-2222-3333-444455556666"


def reset(**state):
    fake("/_fake/reset", {})
    s = {"alarms": {"pay-5xx": "ALARM", "web-5xx": "OK", "combo": ["CompositeAlarm", "INSUFFICIENT_DATA"]},
         "calendars": {"prod-freeze": {"state": "OPEN", "next": "2026-12-24T00:00:00Z"},
                       "payments": {"state": "OPEN", "next": "2026-12-05T18:00:00Z"},
                       "closed": {"state": "CLOSED"}},
         "pipelines": {"web": {"stages": {"Build": "Succeeded", "Deploy": "InProgress", "Never": None},
                               "executions": {"d3f1c2a0-1111-2222-3333-444455556666": "Succeeded"}}},
         "stacks": {"web": {"status": "UPDATE_IN_PROGRESS", "id": STACK_ARN}},
         "automations": {}, "cfn_tokens": {},
         "cred_ttl": 3600}
    s.update(state)
    fake("/_fake/state", s)


def log():
    return fake("/_fake/log")


def calls(op):
    return [e for e in log()["log"] if e.get("op") == op]


def eq(got, want):
    assert got == want, f"\n got: {got!r}\nwant: {want!r}"


# ---- the queries -----------------------------------------------------------------------------

def test_queries():
    reset()
    eq(ask("aws.cloudwatch.alarm_state", "pay-5xx"), '"ALARM"')
    eq(ask("aws.cloudwatch.alarm_state", "combo"), '"INSUFFICIENT_DATA"')  # composite alarms too
    eq(ask("aws.cloudwatch.alarm_state", "nope"),
       "error AlarmNotFound: CloudWatch DescribeAlarms: AlarmNotFound: no alarm is named 'nope'")
    d = calls("DescribeAlarms")[0]["params"]
    eq(d, {"AlarmNames": ["pay-5xx"], "AlarmTypes": ["CompositeAlarm", "MetricAlarm"]})
    eq(ask("aws.ssm.calendar_state", "prod-freeze"), '"OPEN"')
    eq(ask("aws.ssm.calendar_state", "prod-freeze", "closed"), '"CLOSED"')  # OPEN only if all are
    eq(ask("aws.ssm.next_transition", "prod-freeze", "payments"), '"2026-12-05T18:00:00Z"')
    eq(ask("aws.ssm.next_transition", "closed"), "null")
    p = calls("GetCalendarState")[0]["params"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", p["AtTime"]), p
    eq(ask("aws.ssm.calendar_state", "missing"),
       "error InvalidDocument: SSM GetCalendarState: InvalidDocument (HTTP 400, 1 attempt): Document missing does "
       "not exist")
    eq(ask("aws.codepipeline.stage_state", "web", "Deploy"), '"InProgress"')
    eq(ask("aws.codepipeline.stage_state", "web", "Never"), "null")
    eq(ask("aws.codepipeline.stage_state", "web", "Nope"),
       "error StageNotFound: CodePipeline GetPipelineState: StageNotFound: pipeline 'web' has no stage 'Nope'")
    eq(ask("aws.codepipeline.stage_state", "gone", "Deploy"),
       "error PipelineNotFoundException: CodePipeline GetPipelineState: PipelineNotFoundException (HTTP 400, 1 "
       "attempt): Account does not have a pipeline with name 'gone'")
    eq(ask("aws.codepipeline.execution_state", "web", "d3f1c2a0-1111-2222-3333-444455556666"), '"Succeeded"')
    # every request above passed botocore's signer and validator
    assert all(e["ok"] or e.get("error") in ("InvalidDocument", "PipelineNotFoundException")
               for e in log()["log"]), log()


# ---- signing: the endpoint refuses what AWS would ----------------------------------------------

def test_signature_checks():
    reset()
    eq(ask("aws.ssm.calendar_state", "payments", env=base_env(AWS_SECRET_ACCESS_KEY="wrong")),
       "error SignatureDoesNotMatch: SSM GetCalendarState: SignatureDoesNotMatch (HTTP 403, 1 attempt): The request "
       "signature we calculated does not match the signature you provided.")
    eq(ask("aws.ssm.calendar_state", "payments", env=base_env(AWS_REGION="us-east-1")),
       "error SignatureDoesNotMatch: SSM GetCalendarState: SignatureDoesNotMatch (HTTP 403, 1 attempt): Credential "
       "should be scoped to a valid region, not 'us-east-1'")
    eq(ask("aws.ssm.calendar_state", "payments", env=base_env(AWS_ACCESS_KEY_ID="AKIDUNKNOWN")),
       "error UnrecognizedClientException: SSM GetCalendarState: UnrecognizedClientException (HTTP 403, 1 attempt): "
       "The security token included in the request is invalid.")

    # the endpoint itself: a request botocore signs is taken; a stale one,
    # or one with Content-Type left unsigned, is not
    def signed(amz_date, drop=None):
        body = json.dumps({"CalendarNames": ["payments"]})
        req = AWSRequest("POST", URL + "/", data=body, headers={
            "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AmazonSSM.GetCalendarState"})
        auth = SigV4Auth(Credentials("AKIDTEST", "test-secret"), "ssm", "eu-west-1")
        req.context["timestamp"] = amz_date
        req.headers["X-Amz-Date"] = amz_date
        if drop:
            sh = {k: v for k, v in req.headers.items() if k.lower() != drop}
            req2 = AWSRequest("POST", URL + "/", data=body, headers=sh)
            req2.context["timestamp"] = amz_date
            sig = auth.signature(auth.string_to_sign(req2, auth.canonical_request(req2)), req2)
            names = ";".join(sorted(auth.headers_to_sign(req2)))
        else:
            sig = auth.signature(auth.string_to_sign(req, auth.canonical_request(req)), req)
            names = ";".join(sorted(auth.headers_to_sign(req)))
        req.headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential=AKIDTEST/{amz_date[:8]}/eu-west-1/ssm/"
                                        f"aws4_request, SignedHeaders={names}, Signature={sig}")
        c = http.client.HTTPConnection("127.0.0.1", PORT)
        c.request("POST", "/", body=body, headers=dict(req.headers.items()))
        r = c.getresponse()
        return r.status, json.loads(r.read())

    now = datetime.datetime.now(datetime.timezone.utc)
    eq(signed(now.strftime("%Y%m%dT%H%M%SZ"))[0], 200)
    s, b = signed((now - datetime.timedelta(minutes=6)).strftime("%Y%m%dT%H%M%SZ"))
    eq((s, b["__type"]), (403, "InvalidSignatureException"))
    s, b = signed(now.strftime("%Y%m%dT%H%M%SZ"), drop="content-type")
    eq((s, b["__type"], b["message"]), (403, "SignatureDoesNotMatch", "The header 'content-type' must be signed"))


# ---- the standard retry mode ---------------------------------------------------------------------

def test_retries():
    reset()
    fake("/_fake/inject", {"op": "GetCalendarState", "error": "ThrottlingException", "count": 2})
    eq(ask("aws.ssm.calendar_state", "payments"), '"OPEN"')
    eq(len(calls("GetCalendarState")), 3)
    reset()
    fake("/_fake/inject", {"op": "GetCalendarState", "error": "ThrottlingException", "message": "Rate exceeded",
                           "count": 5})
    eq(ask("aws.ssm.calendar_state", "payments"),
       "error ThrottlingException: SSM GetCalendarState: ThrottlingException (HTTP 400, 3 attempts): Rate exceeded")
    eq(len(calls("GetCalendarState")), 3)  # max attempts 3 by default
    reset()
    fake("/_fake/inject", {"op": "GetCalendarState", "error": "ThrottlingException", "count": 5})
    ask("aws.ssm.calendar_state", "payments", env=base_env(AWS_MAX_ATTEMPTS="5"))
    eq(len(calls("GetCalendarState")), 5)
    reset()
    fake("/_fake/inject", {"op": "DescribeAlarms", "error": "Throttling", "status": 400, "count": 1})
    eq(ask("aws.cloudwatch.alarm_state", "pay-5xx", env=base_env(AWS_MAX_ATTEMPTS="1")),
       "error Throttling: CloudWatch DescribeAlarms: Throttling (HTTP 400, 1 attempt): injected by the test")
    reset()
    fake("/_fake/inject", {"op": "GetPipelineState", "status": 503, "error": "ServiceUnavailableException"})
    eq(ask("aws.codepipeline.stage_state", "web", "Deploy"), '"InProgress"')  # a 5xx is retried
    reset()
    fake("/_fake/inject", {"op": "DescribeAlarms", "status": 403, "error": "AccessDenied",
                           "message": "User is not authorized to perform: cloudwatch:DescribeAlarms"})
    eq(ask("aws.cloudwatch.alarm_state", "pay-5xx"),
       "error AccessDenied: CloudWatch DescribeAlarms: AccessDenied (HTTP 403, 1 attempt): User is not authorized to "
       "perform: cloudwatch:DescribeAlarms")
    eq(len(calls("DescribeAlarms")), 1)  # not retried
    reset()
    fake("/_fake/inject", {"op": "GetCalendarState", "status": 400, "error": "ValidationException",
                           "message": "1 validation error detected"})
    eq(ask("aws.ssm.calendar_state", "payments"),
       "error ValidationException: SSM GetCalendarState: ValidationException (HTTP 400, 1 attempt): 1 validation "
       "error detected")
    reset()
    fake("/_fake/inject", {"op": "GetCalendarState", "delay": 2, "count": 2})
    t0 = time.time()
    eq(ask("aws.ssm.calendar_state", "payments", env=base_env(AWS_MAX_ATTEMPTS="2"), opts=["--timeout", "300"]),
       "error RequestTimeout: SSM GetCalendarState: RequestTimeout (2 attempts): Timeout was reached")
    assert time.time() - t0 < 10


# ---- configuration -------------------------------------------------------------------------------

def write(name, text, mode=0o600):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def test_endpoints_and_region():
    reset()
    dead = "http://127.0.0.1:9"
    # AWS_ENDPOINT_URL_<SERVICE> wins over AWS_ENDPOINT_URL
    eq(ask("aws.ssm.calendar_state", "payments", env=base_env(AWS_ENDPOINT_URL=dead, AWS_ENDPOINT_URL_SSM=URL)),
       '"OPEN"')
    # the profile's services section, then its endpoint_url
    cfg = write("config-ep", f"[profile ep]\nregion = eu-west-1\nservices = local\nendpoint_url = {dead}\n\n"
                f"[services local]\nssm =\n  endpoint_url = {URL}\n")
    env = base_env(AWS_ENDPOINT_URL=None, AWS_PROFILE="ep", AWS_CONFIG_FILE=cfg, AWS_REGION=None)
    eq(ask("aws.ssm.calendar_state", "payments", env=env), '"OPEN"')
    out = ask("aws.cloudwatch.alarm_state", "pay-5xx", env=env, opts=["--timeout", "500"])
    assert out.startswith("error ConnectionFailed: CloudWatch DescribeAlarms: ConnectionFailed"), out
    # ignored: the regional AWS endpoint is asked (and this sandbox has no route to it)
    n = len(calls("GetCalendarState"))
    out = ask("aws.ssm.calendar_state", "payments", env=base_env(AWS_IGNORE_CONFIGURED_ENDPOINT_URLS="true"),
              opts=["--timeout", "300"])
    assert out.startswith("error ConnectionFailed") or out.startswith("error RequestTimeout"), out
    eq(len(calls("GetCalendarState")), n)
    # region: AWS_REGION, then AWS_DEFAULT_REGION
    eq(ask("aws.ssm.calendar_state", "payments", env=base_env(AWS_REGION=None, AWS_DEFAULT_REGION="eu-west-1")),
       '"OPEN"')
    eq(ask("aws.ssm.calendar_state", "payments", env=base_env(AWS_REGION=None)),
       "error ConfigError: SSM GetCalendarState: ConfigError: no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, "
       "or region in the profile 'default')")
    eq(ask("aws.ssm.calendar_state", "payments", env=base_env(AWS_ENDPOINT_URL="file:///etc/passwd")),
       "error ConfigError: SSM GetCalendarState: ConfigError: AWS_ENDPOINT_URL: 'file:///etc/passwd' is not an "
       "http:// or https:// URL")
    eq(ask("aws.ssm.calendar_state", "payments", env=base_env(AWS_MAX_ATTEMPTS="zero")),
       "error ConfigError: AWS_MAX_ATTEMPTS: 'zero' is not a number of attempts from 1 to 20")


def test_credential_chain():
    reset()
    no_env = dict(AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None)
    # shared credentials file, by profile; the environment comes first
    creds = write("credentials", "[default]\naws_access_key_id = AKIDUNKNOWN\naws_secret_access_key = x\n\n"
                  "[dev]\naws_access_key_id = AKIDTEST\naws_secret_access_key = test-secret\n")
    eq(ask("aws.ssm.calendar_state", "payments", env=base_env(AWS_SHARED_CREDENTIALS_FILE=creds)), '"OPEN"')
    eq(ask("aws.ssm.calendar_state", "payments", env=base_env(**no_env, AWS_SHARED_CREDENTIALS_FILE=creds,
                                                              AWS_PROFILE="dev")), '"OPEN"')
    out = ask("aws.ssm.calendar_state", "payments", env=base_env(**no_env, AWS_SHARED_CREDENTIALS_FILE=creds))
    assert out.startswith("error UnrecognizedClientException"), out
    eq(ask("aws.ssm.calendar_state", "payments", env=base_env(AWS_SECRET_ACCESS_KEY=None)),
       "error CredentialsInvalid: SSM GetCalendarState: CredentialsInvalid: environment: AWS_ACCESS_KEY_ID is set "
       "without AWS_SECRET_ACCESS_KEY")
    # credential_process in the config file's profile
    script = write("creds.sh", "#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": \"AKIDTEST\", "
                   "\"SecretAccessKey\": \"test-secret\"}'\n", 0o700)
    cfg = write("config-cp", f"[profile cp]\nregion = eu-west-1\ncredential_process = {script} --flag\n")
    eq(ask("aws.ssm.calendar_state", "payments", env=base_env(**no_env, AWS_CONFIG_FILE=cfg, AWS_PROFILE="cp")),
       '"OPEN"')
    bad = write("bad.sh", "#!/bin/sh\nexit 3\n", 0o700)
    cfg = write("config-cp2", f"[default]\ncredential_process = {bad}\n")
    eq(ask("aws.ssm.calendar_state", "payments", env=base_env(**no_env, AWS_CONFIG_FILE=cfg)),
       f"error CredentialsInvalid: SSM GetCalendarState: CredentialsInvalid: credential_process: {bad} exited with "
       "status 3")
    # web identity (EKS IRSA): STS AssumeRoleWithWebIdentity, then signed with the session
    tok = write("web-token", "web-identity-token\n")
    wi = dict(no_env, AWS_WEB_IDENTITY_TOKEN_FILE=tok, AWS_ROLE_ARN="arn:aws:iam::123456789012:role/chgd",
              AWS_ROLE_SESSION_NAME="chgd-test")
    before = log()["issued"]["sts"]
    eq(ask("aws.ssm.calendar_state", "payments", env=base_env(**wi)), '"OPEN"')
    eq(log()["issued"]["sts"], before + 1)
    eq(calls("AssumeRoleWithWebIdentity")[-1]["params"]["RoleSessionName"], "chgd-test")
    assert calls("GetCalendarState")[-1]["akid"].startswith("ASIA")
    out = ask("aws.ssm.calendar_state", "payments", env=base_env(**dict(wi, AWS_ROLE_ARN="arn:aws:iam::1:role/x")))
    eq(out, "error AccessDenied: SSM GetCalendarState: AccessDenied (HTTP 403): web identity: STS "
       "AssumeRoleWithWebIdentity answered HTTP 403: AccessDenied")
    # container credentials (ECS, EKS Pod Identity) with the token file
    ct = write("container-token", "container-auth-token\n")
    cont = dict(no_env, AWS_CONTAINER_CREDENTIALS_FULL_URI=URL + "/container-credentials",
                AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=ct)
    eq(ask("aws.ssm.calendar_state", "payments", env=base_env(**cont)), '"OPEN"')
    eq(ask("aws.ssm.calendar_state", "payments",
           env=base_env(**dict(cont, AWS_CONTAINER_CREDENTIALS_FULL_URI="http://example.com/creds"))),
       "error CredentialsInvalid: SSM GetCalendarState: CredentialsInvalid: container: "
       "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https or name loopback, 169.254.170.2 or 169.254.170.23")
    # IMDSv2: a token, then the role's credentials
    imds = dict(no_env, AWS_EC2_METADATA_DISABLED=None, AWS_EC2_METADATA_SERVICE_ENDPOINT=URL)
    eq(ask("aws.ssm.calendar_state", "payments", env=base_env(**imds)), '"OPEN"')
    eq(ask("aws.ssm.calendar_state", "payments", env=base_env(**no_env)),
       "error CredentialsNotFound: SSM GetCalendarState: CredentialsNotFound: no AWS credentials: none in the "
       "environment, the web identity token file, the profile 'default' of the shared files, the container or the "
       "instance metadata")


def test_expiry_and_refresh():
    imds = base_env(AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None, AWS_EC2_METADATA_DISABLED=None,
                    AWS_EC2_METADATA_SERVICE_ENDPOINT=URL)
    reset(cred_ttl=3600)
    n = log()["issued"]["imds"]
    eq(ask("aws.ssm.calendar_state", "payments", env=imds, opts=["--repeat", "3"]), '"OPEN"\n"OPEN"\n"OPEN"')
    eq(log()["issued"]["imds"], n + 1)  # cached
    reset(cred_ttl=700)  # within 15 minutes of expiry: refreshed before every use
    n = log()["issued"]["imds"]
    eq(ask("aws.ssm.calendar_state", "payments", env=imds, opts=["--repeat", "3"]), '"OPEN"\n"OPEN"\n"OPEN"')
    eq(log()["issued"]["imds"], n + 3)
    akids = {e["akid"] for e in calls("GetCalendarState")}
    eq(len(akids), 3)
    # a key AWS says has expired is refused, and the client looks again next time
    fake("/_fake/state", {"keys": {"AKIDOLD": {"secret": "test-secret", "token": None, "expires": time.time() - 1}}})
    eq(ask("aws.ssm.calendar_state", "payments", env=base_env(AWS_ACCESS_KEY_ID="AKIDOLD")),
       "error ExpiredTokenException: SSM GetCalendarState: ExpiredTokenException (HTTP 403, 1 attempt): The security "
       "token included in the request is expired")
    # an environment that says its credentials expired is not used at all
    eq(ask("aws.ssm.calendar_state", "payments", env=base_env(AWS_CREDENTIAL_EXPIRATION="2020-01-01T00:00:00Z")),
       "error CredentialsInvalid: SSM GetCalendarState: CredentialsInvalid: environment: the credentials have "
       "already expired")


# ---- chgd ---------------------------------------------------------------------------------------

class Chgd:
    def __init__(self, *extra, env, store=None):
        d = tempfile.mkdtemp(dir=TMP)
        self.tokens = os.path.join(d, "tokens")
        with open(self.tokens, "w") as f:
            f.write("write write-token-0123456789abcdef\nread read-token-0123456789abcdef\n")
        self.log = os.path.join(d, "chgd.log")
        self.store = store or os.path.join(d, "chgd.db")  # a store given: a restart
        self.errf = open(self.log, "wb")
        if "--policy" not in extra:
            extra = ("--policy", os.path.join(ROOT, "tests/aws/policy.chg"), *extra)
        self.proc = subprocess.Popen([CHGD, "--listen", "127.0.0.1:0", "--store",
                                      self.store, "--token-file", self.tokens, *extra],
                                     stdout=subprocess.DEVNULL, stderr=self.errf, env=env)
        deadline = time.time() + 30
        self.port = None
        while time.time() < deadline and not self.port:
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", self.text())
            if m:
                self.port = int(m.group(1))
            elif self.proc.poll() is not None:
                raise AssertionError("chgd exited:\n" + self.text())
            time.sleep(0.05)
        assert self.port, self.text()

    def text(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def req(self, method, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        c.request(method, path, body=json.dumps(body) if body is not None else None,
                  headers={"Authorization": "Bearer write-token-0123456789abcdef"})
        r = c.getresponse()
        return r.status, json.loads(r.read())

    def kill(self):
        self.proc.kill()  # SIGKILL: nothing is flushed, nothing finished
        self.proc.wait(30)
        self.errf.close()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)
        self.errf.close()
        for s in SECRETS:
            assert s not in self.text(), "a secret in chgd's log"


def reasons(decision):
    return [r["message"] for r in decision["reasons"]]


def test_chgd_end_to_end():
    reset()
    d = Chgd("--aws", "--aws-cache-ttl", "60", env=base_env())
    try:
        s, b = d.req("POST", "/v1/events", {"id": "c1", "service": "pay"})
        eq(s, 200)
        eq(b["outcome"], "deny")
        eq(reasons(b), ["alarm pay-5xx is firing"])
        s, b = d.req("POST", "/v1/events", {"id": "c2", "service": "web"})
        eq(b["outcome"], "allow")
        # the answers were reused: one DescribeAlarms per alarm, one GetCalendarState
        eq(len(calls("DescribeAlarms")), 2)
        eq(len(calls("GetCalendarState")), 1)
        eq(calls("GetCalendarState")[0]["params"]["CalendarNames"], ["prod-freeze", "payments"])
        # the audit record says what the decision saw
        s, a = d.req("GET", "/v1/audit")
        recs = [json.loads(r["data"]) if isinstance(r.get("data"), str) else r.get("data")
                for r in a["records"] if r["kind"] == "decision"]
        last = recs[-1]
        eq(last["queries"], [
            {"args": ["web-5xx"], "call": "aws.cloudwatch.alarm_state", "result": "OK"},
            {"args": ["prod-freeze", "payments"], "call": "aws.ssm.calendar_state", "result": "OPEN"},
            {"args": ["web", "Deploy"], "call": "aws.codepipeline.stage_state", "result": "InProgress"}])
    finally:
        d.stop()
    # chgc audit export --events gives replay what the decision saw: the
    # answers, as facts — and replay decides as chgd did, asking nothing
    chgc = os.path.join(os.path.dirname(CHGD), "chgc")
    p = subprocess.run([chgc, "audit", "export", d.store, "--events"], capture_output=True, text=True, timeout=60)
    eq(p.returncode, 0)
    recs = [json.loads(line) for line in p.stdout.splitlines()]
    eq([r["event"]["id"] for r in recs], ["c1", "c2"])
    eq(recs[0]["facts"]["queries"][0], {"args": ["pay-5xx"], "call": "aws.cloudwatch.alarm_state",
                                         "result": "ALARM"})
    pol = os.path.join(ROOT, "tests/aws/policy.chg")

    def replayed(facts):
        ev, fa = os.path.join(TMP, "event.json"), os.path.join(TMP, "facts.json")
        with open(ev, "w") as f:
            json.dump(recs[0]["event"], f)
        with open(fa, "w") as f:
            json.dump(facts, f)
        p = subprocess.run([chgc, "eval", pol, "--event", ev, "--facts", fa, "--at", recs[0]["at"]],
                           capture_output=True, text=True, timeout=60)
        return json.loads(p.stdout)
    dec = replayed(recs[0]["facts"])
    eq((dec["outcome"], reasons(dec)), ("deny", ["alarm pay-5xx is firing"]))
    dec = replayed({k: v for k, v in recs[0]["facts"].items() if k != "queries"})
    eq(dec["outcome"], "error")  # without them, nothing to decide on
    # a throttled query past its retries: the decision is `error`, naming
    # the call and AWS's code — never a silent allow; nothing cached
    reset()
    fake("/_fake/inject", {"op": "DescribeAlarms", "error": "Throttling", "message": "Rate exceeded", "count": 3})
    d = Chgd("--aws", "--aws-cache-ttl", "0", env=base_env())
    try:
        s, b = d.req("POST", "/v1/events", {"id": "c3", "service": "web"})
        eq(b["outcome"], "error")
        eq(reasons(b), ['no answer for aws.cloudwatch.alarm_state("web-5xx"): CloudWatch DescribeAlarms: Throttling '
                        '(HTTP 400, 3 attempts): Rate exceeded'])
        s, b = d.req("POST", "/v1/events", {"id": "c4", "service": "web"})
        eq(b["outcome"], "allow")  # the next decision asks again
    finally:
        d.stop()


def act(call, args, env=None):
    return ask("--act", call, json.dumps(args), env=env)


def test_actions():
    """The AWS actions as chgd's executor will run them: each request
    passes botocore's signer, validator and the model's patterns."""
    reset()
    eq(act("aws.codepipeline.disable_transition", ["web", "Deploy", "freeze: CAB_hold, see https://x/y — ok"]), "{}")
    eq(calls("DisableStageTransition")[0]["params"],
       {"pipelineName": "web", "stageName": "Deploy", "transitionType": "Inbound",
        "reason": "freeze CAB hold see https x y ok"})  # the API's charset: no _ , : / nor non-ASCII
    eq(act("aws.codepipeline.disable_transition", ["web", "Deploy", "x" * 400 + "_"]), "{}")
    eq(len(calls("DisableStageTransition")[1]["params"]["reason"]), 300)
    eq(act("aws.codepipeline.disable_transition", ["web", "Deploy", "::"]), "{}")
    eq(calls("DisableStageTransition")[2]["params"]["reason"], "disabled by chg")
    eq(act("aws.codepipeline.enable_transition", ["web", "Deploy"]), "{}")
    token = "12345678-1234-1234-1234-123456789abc"
    out = act("aws.codepipeline.put_approval_result", ["web", "Deploy", "Approve", token, "Approved", "é" * 300])
    assert out.startswith('{"approvedAt": '), out
    eq(calls("PutApprovalResult")[0]["params"]["result"], {"summary": "é" * 256, "status": "Approved"})
    eq(act("aws.codepipeline.put_approval_result", ["web", "Deploy", "Approve", "not-a-token", "Approved", "ok"]),
       "error ValidationException: CodePipeline PutApprovalResult: ValidationException (HTTP 400, 1 attempt): 1 "
       "validation error detected: Value at 'token' failed to satisfy constraint: Member must satisfy regular "
       "expression pattern: [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
    eq(act("aws.codedeploy.stop_deployment", ["d-ABCDEF123"]), '{"status": "Pending", "statusMessage": "stopping"}')
    eq(calls("StopDeployment")[0]["params"], {"deploymentId": "d-ABCDEF123", "autoRollbackEnabled": True})
    act("aws.codedeploy.stop_deployment", ["d-ABCDEF123", False])
    eq(calls("StopDeployment")[1]["params"]["autoRollbackEnabled"], False)
    eq(act("aws.stepfunctions.send_task_success", ["tok", {"ok": True}]), "{}")
    eq(calls("SendTaskSuccess")[0]["params"], {"taskToken": "tok", "output": '{"ok":true}'})
    eq(act("aws.stepfunctions.send_task_failure", ["tok", "Denied", "policy"]), "{}")
    out = act("aws.sns.publish", ["arn:aws:sns:eu-west-1:123456789012:changes", "hello", "subject\nline"])
    assert re.fullmatch(r'\{"MessageId":"[0-9a-f]{16}"\}', out), out
    eq(calls("Publish")[0]["params"], {"TopicArn": "arn:aws:sns:eu-west-1:123456789012:changes",
                                       "Message": "hello", "Subject": "subject line"})
    # EventBridge: a failed entry inside an HTTP 200 is sent again
    fake("/_fake/state", {"fail_entries": 1})
    out = act("aws.events.put_event", ["default", "Change Decided", {"id": "c1"}])
    assert out.startswith('{"FailedEntryCount": 0'), out
    eq(len(calls("PutEvents")), 2)
    eq(calls("PutEvents")[0]["params"]["Entries"][0],
       {"EventBusName": "default", "Source": "chg", "DetailType": "Change Decided", "Detail": '{"id":"c1"}'})
    fake("/_fake/state", {"fail_entries": 5})
    eq(act("aws.events.put_event", ["default", "Change Decided", {"id": "c1"}]),
       "error InternalFailure: EventBridge PutEvents: InternalFailure (3 attempts): the entry failed: injected entry "
       "failure")
    fake("/_fake/state", {"fail_entries": 0})
    # throttled, then through
    fake("/_fake/inject", {"op": "EnableStageTransition", "error": "ThrottlingException", "count": 1})
    eq(act("aws.codepipeline.enable_transition", ["web", "Deploy"]), "{}")
    eq(act("aws.sns.publish", ["arn:aws:sns:eu-west-1:123456789012:changes"]),
       "error ConfigError: aws.sns.publish: not an action the AWS client runs with these arguments")


RUNNING = "3137f7cb-7cf7-4f2d-9a2c-2d8e4ff5d1a0"
DONE = "d3f1c2a0-1111-2222-3333-444455556666"
WAITING = "0a1b2c3d-aaaa-bbbb-cccc-0123456789ab"  # Automation execution IDs: 36 characters


def test_stop_pipeline_execution():
    """StopPipelineExecution: the reason cut to the model's 200, abandon
    false unless asked, and CodePipeline's refusals named."""
    reset(pipelines={"web": {"stages": {}, "executions": {RUNNING: "InProgress", DONE: "Succeeded"}}})
    reason = "freeze: CAB_hold " + "é" * 300
    eq(act("aws.codepipeline.stop_pipeline_execution", ["web", RUNNING, reason]),
       '{"pipelineExecutionId": "%s"}' % RUNNING)
    eq(calls("StopPipelineExecution")[0]["params"],
       {"pipelineName": "web", "pipelineExecutionId": RUNNING, "abandon": False,
        "reason": "freeze: CAB_hold " + "é" * 91})  # 17 + 182 bytes: no character cut in two
    eq(act("aws.codepipeline.stop_pipeline_execution", ["web", RUNNING, "again"]),
       "error DuplicatedStopRequestException: CodePipeline StopPipelineExecution: DuplicatedStopRequestException "
       "(HTTP 400, 1 attempt): The execution is already being stopped")
    eq(act("aws.codepipeline.stop_pipeline_execution", {"pipeline": "web", "execution_id": DONE, "reason": "",
                                                        "abandon": True}),
       "error PipelineExecutionNotStoppableException: CodePipeline StopPipelineExecution: "
       "PipelineExecutionNotStoppableException (HTTP 400, 1 attempt): Execution %s cannot be stopped: it is "
       "Succeeded" % DONE)
    eq({k: calls("StopPipelineExecution")[2]["params"][k] for k in ("abandon", "reason")},
       {"abandon": True, "reason": "stopped by chg"})
    eq(act("aws.codepipeline.stop_pipeline_execution", ["web", "not-an-id", "x"]),
       "error ValidationException: CodePipeline StopPipelineExecution: ValidationException (HTTP 400, 1 attempt): "
       "1 validation error detected: Value at 'pipelineExecutionId' failed to satisfy constraint: Member must "
       "satisfy regular expression pattern: [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
    eq(act("aws.codepipeline.stop_pipeline_execution", ["web", RUNNING, "x", "yes"]),
       "error ConfigError: aws.codepipeline.stop_pipeline_execution: argument 4 is not a bool")


def test_send_automation_signal():
    """SendAutomationSignal answers a Change Manager request: Approve or
    Reject, the comment as the Payload's Comment (1 to 512 characters), no
    other signal ever sent."""
    other = "ffffffff-aaaa-bbbb-cccc-0123456789ab"
    reset(automations={WAITING: "PendingApproval", other: "Approved"})
    eq(act("aws.ssm.send_automation_signal", [WAITING, "Approve", "ok: " + "x" * 600]), "{}")
    eq(calls("SendAutomationSignal")[0]["params"],
       {"AutomationExecutionId": WAITING, "SignalType": "Approve", "Payload": {"Comment": ["ok: " + "x" * 508]}})
    eq(fake("/_fake/log")["log"][-1]["ok"], True)
    eq(act("aws.ssm.send_automation_signal", [other, "Reject"]),
       "error InvalidAutomationSignalException: SSM SendAutomationSignal: InvalidAutomationSignalException "
       "(HTTP 400, 1 attempt): The execution is Approved, not waiting for approval")
    eq(calls("SendAutomationSignal")[1]["params"], {"AutomationExecutionId": other, "SignalType": "Reject"})
    act("aws.ssm.send_automation_signal", [other, "Reject", ""])  # an empty comment: no payload
    eq(calls("SendAutomationSignal")[2]["params"], {"AutomationExecutionId": other, "SignalType": "Reject"})
    eq(act("aws.ssm.send_automation_signal", [WAITING, "StartStep", "x"]),
       'error ConfigError: aws.ssm.send_automation_signal: the signal is "Approve" or "Reject", not "StartStep"')
    eq(len(calls("SendAutomationSignal")), 3)  # refused before any request
    eq(act("aws.ssm.send_automation_signal", ["short", "Approve"]),
       "error ValidationException: SSM SendAutomationSignal: ValidationException (HTTP 400, 1 attempt): "
       "Invalid length for parameter AutomationExecutionId, value: 5, valid min length: 36")


def test_cloudformation_actions():
    """CancelUpdateStack, RollbackStack, ExecuteChangeSet by the Query
    protocol, the action's key as ClientRequestToken: a retry after a lost
    answer is the same request to CloudFormation, not a second one."""
    reset(stacks={"web": {"status": "UPDATE_IN_PROGRESS", "id": STACK_ARN},
                  "api": {"status": "UPDATE_FAILED", "id": STACK_ARN.replace("/web/", "/api/")},
                  "db": {"status": "UPDATE_COMPLETE", "id": STACK_ARN.replace("/web/", "/db/"),
                         "change_sets": {"release-42": "CREATE_COMPLETE", "draft": "CREATE_PENDING"}}})
    key = "chg-7-0-0123456789abcdef"
    eq(ask("--act", "aws.cloudformation.cancel_update_stack", '{"stack": "web"}', key), "{}")
    eq(calls("CancelUpdateStack")[0]["params"], {"StackName": "web", "ClientRequestToken": key})
    # the answer lost, the worker tries again with the same key: the same request
    eq(ask("--act", "aws.cloudformation.cancel_update_stack", '{"stack": "web"}', key), "{}")
    # without the token the second call would have been refused
    eq(ask("--act", "aws.cloudformation.cancel_update_stack", '{"stack": "web"}', "chg-7-0-ffff"),
       "error ValidationError: CloudFormation CancelUpdateStack: ValidationError (HTTP 400, 1 attempt): "
       "CancelUpdateStack cannot be called from current stack status UPDATE_ROLLBACK_IN_PROGRESS")
    eq(ask("--act", "aws.cloudformation.rollback_stack", '{"stack": "api"}', key),
       "error TokenAlreadyExistsException: CloudFormation RollbackStack: TokenAlreadyExistsException (HTTP 400, "
       "1 attempt): Another request used token " + key)
    eq(act("aws.cloudformation.rollback_stack", [STACK_ARN.replace("/web/", "/api/")]),
       '{"StackId":"%s"}' % STACK_ARN.replace("/web/", "/api/"))
    eq(calls("RollbackStack")[1]["params"], {"StackName": STACK_ARN.replace("/web/", "/api/")})  # no key, no token
    eq(act("aws.cloudformation.rollback_stack", ["db"]),
       "error ValidationError: CloudFormation RollbackStack: ValidationError (HTTP 400, 1 attempt): Stack db is in "
       "UPDATE_COMPLETE state and can not be rolled back")
    # a key not of the token's form is not sent
    eq(ask("--act", "aws.cloudformation.execute_change_set", '["db", "release-42"]', "my_key"), "{}")
    eq(calls("ExecuteChangeSet")[0]["params"], {"StackName": "db", "ChangeSetName": "release-42"})
    eq(act("aws.cloudformation.execute_change_set", ["db", "release-42"]),
       "error InvalidChangeSetStatus: CloudFormation ExecuteChangeSet: InvalidChangeSetStatus (HTTP 400, 1 attempt): "
       "ChangeSet [release-42] cannot be executed in its current status of [EXECUTE_IN_PROGRESS]")
    eq(act("aws.cloudformation.execute_change_set", ["db", "nope"]),
       "error ChangeSetNotFound: CloudFormation ExecuteChangeSet: ChangeSetNotFound (HTTP 404, 1 attempt): "
       "ChangeSet [nope] does not exist")
    # throttled, then retried by the client: every attempt carries the same token
    fake("/_fake/inject", {"op": "ExecuteChangeSet", "error": "Throttling", "count": 1})
    fake("/_fake/state", {"stacks": {"db": {"status": "UPDATE_COMPLETE", "id": "x",
                                            "change_sets": {"release-43": "CREATE_COMPLETE"}}}})
    eq(ask("--act", "aws.cloudformation.execute_change_set", '["db", "release-43"]', "chg-8-1-ab"), "{}")
    eq([c["params"].get("ClientRequestToken") for c in calls("ExecuteChangeSet")[-2:]], ["chg-8-1-ab"] * 2)


# each aws.* built-in and the IAM actions of the operations it calls
IAM = {"aws.cloudwatch.alarm_state": {"cloudwatch:DescribeAlarms"},
       "aws.ssm.calendar_state": {"ssm:GetCalendarState"}, "aws.ssm.next_transition": {"ssm:GetCalendarState"},
       "aws.codepipeline.stage_state": {"codepipeline:GetPipelineState"},
       "aws.codepipeline.execution_state": {"codepipeline:GetPipelineExecution"},
       "aws.codepipeline.disable_transition": {"codepipeline:DisableStageTransition"},
       "aws.codepipeline.enable_transition": {"codepipeline:EnableStageTransition"},
       "aws.codepipeline.put_approval_result": {"codepipeline:PutApprovalResult"},
       "aws.codepipeline.stop_pipeline_execution": {"codepipeline:StopPipelineExecution"},
       "aws.codedeploy.stop_deployment": {"codedeploy:StopDeployment"},
       "aws.stepfunctions.send_task_success": {"states:SendTaskSuccess"},
       "aws.stepfunctions.send_task_failure": {"states:SendTaskFailure"},
       "aws.sns.publish": {"sns:Publish"}, "aws.events.put_event": {"events:PutEvents"},
       "aws.ssm.send_automation_signal": {"ssm:SendAutomationSignal"},
       "aws.cloudformation.cancel_update_stack": {"cloudformation:CancelUpdateStack"},
       "aws.cloudformation.rollback_stack": {"cloudformation:RollbackStack"},
       "aws.cloudformation.execute_change_set": {"cloudformation:ExecuteChangeSet"}}
# IAM's service prefix -> botocore's model
IAM_MODEL = {"cloudwatch": "cloudwatch", "ssm": "ssm", "codepipeline": "codepipeline", "codedeploy": "codedeploy",
             "states": "stepfunctions", "sns": "sns", "events": "events", "cloudformation": "cloudformation",
             "sqs": "sqs", "sts": "sts"}


def check_iam_policy(p):
    """An IAM policy of IAM's grammar (the parts chg uses); its actions,
    each an operation of botocore's model of its service."""
    eq(sorted(k for k in p if k != "Id"), ["Statement", "Version"])
    eq(p["Version"], "2012-10-17")
    actions = set()
    for st in p["Statement"]:
        assert st["Effect"] == "Allow" and st["Action"] and st.get("Resource", st.get("Principal")), st
        assert set(st) <= {"Sid", "Effect", "Action", "Resource", "Principal", "Condition"}, st
        for a in st["Action"]:
            svc, _, op = a.partition(":")
            assert op in fake_aws.model(IAM_MODEL[svc]).operation_names, a
            actions.add(a)
    return actions


def test_docs_iam_policies():
    """docs/aws.md: every IAM policy is JSON of IAM's grammar; each one given
    for built-ins allows exactly their operations; every aws.* built-in of
    vm/builtins.def has one; the last is the union of all."""
    text = open(os.path.join(ROOT, "docs/aws.md"), encoding="utf-8").read()
    text = text[text.index("## Least-privilege IAM policies"):text.index("## EventBridge to SQS")]
    blocks = re.findall(r"\n\n([^\n]*)\n\n```json\n(.*?)```", text, re.S)
    builtins = set(re.findall(r'CHG_(?:QUERY|ACTION)\("(aws\.[a-z_.]+)"',
                              open(os.path.join(ROOT, "vm/builtins.def"), encoding="utf-8").read()))
    eq(builtins, set(IAM))
    covered = set()
    for intro, b in blocks[:-1]:
        names = set(re.findall(r"`(aws\.[a-z_.]+)`", intro))
        assert names, intro
        covered |= names
        eq(check_iam_policy(json.loads(b)), set().union(*(IAM[n] for n in names)))
    eq(covered, builtins)
    whole = json.loads(blocks[-1][1])
    eq(check_iam_policy(whole), set().union(*IAM.values()))
    WHOLE.update(whole)
    # the SQS intake's: exactly the operations the poller calls (daemon/sqs.c)
    eq(sqs_intake_policy(), {"sqs:" + op for op in re.findall(r'sqs_call\(\w+, "(\w+)"', open(
        os.path.join(ROOT, "daemon/sqs.c"), encoding="utf-8").read())})


def sqs_intake_policy():
    """The actions of docs/aws.md's policy for the SQS intake."""
    text = open(os.path.join(ROOT, "docs/aws.md"), encoding="utf-8").read()
    text = text[text.index("## SQS intake"):text.index("## Least-privilege IAM policies")]
    blocks = re.findall(r"```json\n(.*?)```", text, re.S)
    eq(len(blocks), 1)
    return check_iam_policy(json.loads(blocks[0]))


WHOLE = {}

# The CloudFormation resource types the template may use, each with its
# required properties and its Fn::GetAtt attributes, from the CloudFormation
# User Guide's resource reference (awsdocs/aws-cloudformation-user-guide,
# doc_source/aws-resource-events-rule.md, aws-resource-sqs-queue.md,
# aws-resource-sqs-queuepolicy.md, aws-resource-iam-role.md): cfn-lint, which
# has the full specification, is not a Debian package.
CFN_TYPES = {"AWS::Events::Rule": ({"EventPattern"}, {"Arn"}),  # EventPattern or ScheduleExpression
             "AWS::SQS::Queue": (set(), {"Arn", "QueueName", "QueueUrl"}),
             "AWS::SQS::QueuePolicy": ({"PolicyDocument", "Queues"}, {"Id"}),
             "AWS::IAM::Role": ({"AssumeRolePolicyDocument"}, {"Arn", "RoleId"})}
# the detail types chgd's rule matches: those of the real sample events (policies/events,
# from /work/shared/events) and CodeDeploy's "Monitoring deployments with Amazon EventBridge"
DETAIL_TYPES = {"aws.codepipeline": {"CodePipeline Pipeline Execution State Change",
                                     "CodePipeline Stage Execution State Change",
                                     "CodePipeline Action Execution State Change"},
                "aws.codedeploy": {"CodeDeploy Deployment State-change Notification",
                                   "CodeDeploy Instance State-change Notification"}}


def test_cloudformation_template():
    """docs/chgd-aws.cfn.json, checked structurally (cfn-lint is no Debian
    package): real types with their required properties, every Ref and
    GetAtt resolved, the queue's redrive to the dead-letter queue, the queue
    policy for EventBridge and that rule only, the role's policies of IAM's
    grammar and the whole-deployment one of docs/aws.md."""
    t = json.load(open(os.path.join(ROOT, "docs/chgd-aws.cfn.json"), encoding="utf-8"))
    assert set(t) <= {"AWSTemplateFormatVersion", "Description", "Parameters", "Resources", "Outputs"}, set(t)
    eq(t["AWSTemplateFormatVersion"], "2010-09-09")
    params, res = t.get("Parameters", {}), t["Resources"]
    for name, p in params.items():
        assert p["Type"] in ("String", "Number"), name
        if "AllowedValues" in p:
            assert p["Default"] in p["AllowedValues"], name

    def walk(v, where):
        if isinstance(v, dict):
            if "Ref" in v:
                assert v["Ref"] in params or v["Ref"] in res or v["Ref"].startswith("AWS::"), (where, v)
            if "Fn::GetAtt" in v:
                r, attr = v["Fn::GetAtt"]
                assert r in res and attr in CFN_TYPES[res[r]["Type"]][1], (where, v)
            for k, x in v.items():
                assert not k.startswith("Fn::") or k in ("Fn::GetAtt", "Fn::Sub", "Fn::Join"), (where, k)
                walk(x, where)
        elif isinstance(v, list):
            for x in v:
                walk(x, where)

    for name, r in res.items():
        assert re.fullmatch(r"[A-Za-z0-9]+", name), name
        assert r["Type"] in CFN_TYPES, (name, r["Type"])
        missing = CFN_TYPES[r["Type"]][0] - set(r.get("Properties", {}))
        assert not missing, (name, missing)
        walk(r.get("Properties", {}), name)
    for name, o in t.get("Outputs", {}).items():
        walk(o["Value"], name)
    by_type = {}
    for name, r in res.items():
        by_type.setdefault(r["Type"], []).append(name)
    rule = res[by_type["AWS::Events::Rule"][0]]["Properties"]
    pat = rule["EventPattern"]
    eq(set(pat["source"]), set(DETAIL_TYPES))
    eq(set(pat["detail-type"]), set().union(*DETAIL_TYPES.values()))
    samples = os.path.join(ROOT, "policies/events")
    seen = {json.load(open(os.path.join(samples, f), encoding="utf-8")).get("detail-type")
            for f in os.listdir(samples) if f.endswith(".json")}
    assert DETAIL_TYPES["aws.codepipeline"] | {"CodeDeploy Instance State-change Notification"} <= seen, seen
    queue = rule["Targets"][0]["Arn"]["Fn::GetAtt"][0]
    qp = res[queue]["Properties"]
    dlq = qp["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"]
    eq((res[dlq[0]]["Type"], dlq[1]), ("AWS::SQS::Queue", "Arn"))
    assert qp["ReceiveMessageWaitTimeSeconds"] == 20  # what chgd's long poll waits
    pol = res[by_type["AWS::SQS::QueuePolicy"][0]]["Properties"]
    eq(pol["Queues"], [{"Ref": queue}])
    st = pol["PolicyDocument"]["Statement"]
    eq(check_iam_policy(pol["PolicyDocument"]), {"sqs:SendMessage"})
    eq(st[0]["Principal"], {"Service": "events.amazonaws.com"})
    eq(st[0]["Condition"]["ArnEquals"]["aws:SourceArn"], {"Fn::GetAtt": [by_type["AWS::Events::Rule"][0], "Arn"]})
    role = res[by_type["AWS::IAM::Role"][0]]["Properties"]
    eq(check_iam_policy(role["AssumeRolePolicyDocument"]), {"sts:AssumeRole"})
    docs = {p["PolicyName"]: p["PolicyDocument"] for p in role["Policies"]}
    eq(check_iam_policy(docs["chgd-queue"]), sqs_intake_policy())
    if not WHOLE:
        test_docs_iam_policies()
    eq(docs["chgd-aws"], WHOLE)


def audit_actions(d):
    s, a = d.req("GET", "/v1/audit?limit=500")
    return [r["data"] if isinstance(r["data"], dict) else json.loads(r["data"])
            for r in a["records"] if r["kind"] == "action"]


def test_chgd_actions():
    """A denied change's actions reach AWS through chgd's executor, signed
    and valid; a throttled call is retried by the action worker, and every
    attempt and result is in the audit log."""
    reset()
    fake("/_fake/inject", {"op": "Publish", "error": "Throttling", "count": 1})
    d = Chgd("--aws", "--action-backoff", "50", "--policy", os.path.join(ROOT, "tests/aws/actions_policy.chg"),
             env=base_env())
    try:
        s, b = d.req("POST", "/v1/events", {"id": "blocked", "pipeline": "web"})
        eq(b["outcome"], "deny")
        deadline = time.time() + 30
        while time.time() < deadline and len([r for r in audit_actions(d) if r["status"] == "ok"]) < 3:
            time.sleep(0.1)
        recs = audit_actions(d)
        results = [(r["call"], r["status"]) for r in recs if r["status"] != "started"]
        eq(sorted(results), sorted([("aws.codepipeline.disable_transition", "ok"), ("aws.sns.publish", "retry"),
                                    ("aws.sns.publish", "ok"), ("aws.cloudformation.cancel_update_stack", "ok")]))
        # the action's idempotency key reaches CloudFormation as its ClientRequestToken
        cancel = [r for r in recs if r["call"] == "aws.cloudformation.cancel_update_stack" and r["status"] == "ok"]
        eq(calls("CancelUpdateStack")[0]["params"], {"StackName": "web", "ClientRequestToken": cancel[0]["key"]})
        assert re.fullmatch(r"chg-\d+-2-[0-9a-f]{16}", cancel[0]["key"]), cancel[0]
        retry = [r for r in recs if r["status"] == "retry"][0]
        eq(retry["message"], "SNS Publish: Throttling (HTTP 400, 1 attempt): injected by the test")
        eq(calls("DisableStageTransition")[0]["params"]["transitionType"], "Inbound")
        assert re.fullmatch(r"[a-zA-Z0-9!@ ().*?-]{1,300}", calls("DisableStageTransition")[0]["params"]["reason"])
        eq([c["params"]["Subject"] for c in calls("Publish")], ["chg: change denied"] * 2)
    finally:
        d.stop()


# (call, argument index) -> (botocore model, operation, member): where each
# argument of an AWS form goes; its valid neighbours for the other arguments
FORMS = {
    ("aws.sns.publish", 0): ("sns", "Publish", "TopicArn"),
    ("aws.cloudformation.rollback_stack", 0): ("cloudformation", "RollbackStack", "StackName"),
    ("aws.cloudformation.cancel_update_stack", 0): ("cloudformation", "CancelUpdateStack", "StackName"),
    ("aws.cloudformation.execute_change_set", 0): ("cloudformation", "ExecuteChangeSet", "StackName"),
    ("aws.cloudformation.execute_change_set", 1): ("cloudformation", "ExecuteChangeSet", "ChangeSetName"),
    ("aws.codepipeline.disable_transition", 0): ("codepipeline", "DisableStageTransition", "pipelineName"),
    ("aws.codepipeline.disable_transition", 1): ("codepipeline", "DisableStageTransition", "stageName"),
    ("aws.codepipeline.put_approval_result", 2): ("codepipeline", "PutApprovalResult", "actionName"),
    ("aws.codepipeline.put_approval_result", 3): ("codepipeline", "PutApprovalResult", "token"),
    ("aws.codepipeline.put_approval_result", 4): ("codepipeline", "PutApprovalResult", "result.status"),
    ("aws.codepipeline.stop_pipeline_execution", 1): ("codepipeline", "StopPipelineExecution", "pipelineExecutionId"),
    ("aws.ssm.send_automation_signal", 0): ("ssm", "SendAutomationSignal", "AutomationExecutionId"),
    ("aws.ssm.send_automation_signal", 1): ("ssm", "SendAutomationSignal", "SignalType"),
    ("aws.events.put_event", 0): ("events", "PutEvents", "Entries.EventBusName"),
}
GOOD = {"aws.sns.publish": ['"arn:aws:sns:eu-west-1:123456789012:t"', "summary"],
        "aws.cloudformation.rollback_stack": ['"web"'],
        "aws.cloudformation.cancel_update_stack": ['"web"'],
        "aws.cloudformation.execute_change_set": ['"web"', '"release-1"'],
        "aws.codepipeline.disable_transition": ['"web"', '"Deploy"', "reason"],
        "aws.codepipeline.put_approval_result": ['"web"', '"Deploy"', '"Approve"',
                                                 '"3137f7cb-7cf7-4f2d-9a2c-2d8e4ff5d1a0"', '"Approved"', "summary"],
        "aws.codepipeline.stop_pipeline_execution": ['"web"', '"3137f7cb-7cf7-4f2d-9a2c-2d8e4ff5d1a0"', "reason"],
        "aws.ssm.send_automation_signal": ['"0a1b2c3d-aaaa-bbbb-cccc-0123456789ab"', '"Approve"'],
        "aws.events.put_event": ['"default"', '"x"', "{}"]}
SAMPLES = ["web", "Deploy", "web-prod", "web_prod", "web.prod@1", "9web", "web app", "a" * 100, "a" * 101,
           "a" * 128, "a" * 129, "é", "Approve", "Approved", "approved", "Reject", "Rejected", "StartStep",
           "3137f7cb-7cf7-4f2d-9a2c-2d8e4ff5d1a0", "3137F7CB-7CF7-4F2D-9A2C-2D8E4FF5D1A0",
           "0a1b2c3d-aaaa-bbbb-cccc-0123456789ab", "x" * 36, "x" * 37,
           "arn:aws:sns:eu-west-1:123456789012:changes", "arn:aws:sns:eu-west-1:123456789012:changes.fifo",
           "arn:aws:sns:eu-west-1:1234:changes", "arn:aws:sqs:eu-west-1:123456789012:changes",
           "arn:aws:cloudformation:eu-west-1:123456789012:stack/web/0a1b2c3d-1111-2222-3333-444455556666",
           "arn:aws:cloudformation:eu-west-1:123456789012:changeSet/release-1/0a1b2c3d-1111-2222-3333-44445555",
           "arn:aws-cn:cloudformation:cn-north-1:123456789012:stack/web/1",
           "arn:aws:events:eu-west-1:123456789012:event-bus/ops", "arn:aws:events:eu-west-1:123456789012:rule/ops",
           "arn:aws-us-gov:events:us-gov-west-1:123456789012:event-bus/ops", "default", "ops bus", "a/b", ""]


def model_accepts(svc, op, member, value):
    """Would AWS's published model take value for member: botocore's
    validator and the model's pattern, maximum length and enum."""
    shape = fake_aws.model(svc).operation_model(op).input_shape
    for part in member.split("."):
        shape = shape.members[part]
        if shape.type_name == "list":
            shape = shape.member
    if len(value) < shape.metadata.get("min", 0) or len(value) > shape.metadata.get("max", len(value)):
        return False
    if shape.enum and value not in shape.enum:
        return False
    pat = shape.metadata.get("pattern")
    return pat is None or re.fullmatch(pat, value) is not None


def test_argument_forms_match_models():
    """chgc's compile-time forms of aws.* arguments (compiler/aws_shapes.c)
    against botocore's models: chgc never refuses a literal the model
    accepts but where AWS documents more than the model (a topic ARN, a
    stack name's 128 characters, the ARN of a stack), nor accepts one the
    model refuses; where the model's pattern is all there is, the two
    agree exactly."""
    chgc = os.path.join(os.path.dirname(CHGD), "chgc")
    lines, where = [], []
    for (call, i), target in FORMS.items():
        for v in SAMPLES:
            args = list(GOOD[call])
            args[i] = json.dumps(v, ensure_ascii=False)
            lines.append(f"on deny do {call}({', '.join(args)})")
            where.append((call, i, v))
    path = os.path.join(TMP, "forms.chg")
    write(path, "\n".join(lines) + "\n", 0o644)
    p = subprocess.run([chgc, "check", "--color", "never", "--max-errors", "100000", path], capture_output=True, text=True, timeout=120)
    refused = {int(m.group(1)) for m in re.finditer(r"forms\.chg:(\d+):\d+: error\[E080[0-2]\]", p.stdout)}
    others = re.findall(r"error\[(?!E080)E\d+\]", p.stdout)
    assert not others, (others[:5], p.stdout[-2000:])
    # documented beyond the model: chgc may refuse what the model's bare string allows
    stricter = {("sns", "Publish", "TopicArn"), ("cloudformation", "CancelUpdateStack", "StackName"),
                ("cloudformation", "RollbackStack", "StackName"), ("cloudformation", "ExecuteChangeSet", "StackName"),
                ("cloudformation", "ExecuteChangeSet", "ChangeSetName"), ("ssm", "SendAutomationSignal", "SignalType"),
                ("events", "PutEvents", "Entries.EventBusName")}
    for n, (call, i, v) in enumerate(where, 1):
        target = FORMS[(call, i)]
        chg_ok, model_ok = n not in refused, model_accepts(*target, v)
        if chg_ok and not model_ok:
            raise AssertionError(f"chgc accepts {v!r} for {call} argument {i + 1}; the model refuses it")
        if model_ok and not chg_ok and target not in stricter:
            raise AssertionError(f"chgc refuses {v!r} for {call} argument {i + 1}; the model takes it")


def test_action_names_match_builtins():
    """chg_aws_act names the decision's arguments as vm/builtins.def does."""
    text = open(os.path.join(ROOT, "vm/builtins.def"), encoding="utf-8").read()
    sigs = {}
    for call, doc in re.findall(r'CHG_ACTION\("(aws\.[a-z_.]+)",[^"]*"([^"]*)', text):
        m = re.match(re.escape(call) + r"\(([^)]*)\)", doc)
        sigs[call] = [p.strip() for p in m.group(1).replace("[", ",").replace("]", "").split(",") if p.strip()]
    src = open(os.path.join(ROOT, "stdlib/aws/actions.c"), encoding="utf-8").read()
    table = {c: [n.strip().strip('"') for n in names.split(",")]
             for c, names in re.findall(r'\{"(aws\.[a-z_.]+)", "[^"]+", \d, \d,\s*\{([^}]*)\}', src)}
    eq(table, sigs)


# ---- SQS intake ---------------------------------------------------------------------------------

SQS_POLICY = os.path.join(ROOT, "tests/aws/sqs_policy.chg")
# AWS's own sample, verbatim (policies/events/SOURCES: aws/aws-lambda-go events/testdata/
# codepipeline-execution-stage-change-event.json, as /work/shared/events/ holds it)
with open(os.path.join(ROOT, "policies/events/codepipeline-stage-execution-state-change.json")) as _f:
    CP_EVENT = json.load(_f)


def cp_event(event_id, execution_id):
    """The same event as AWS's sample, another delivery of another run."""
    return dict(CP_EVENT, id=event_id, detail=dict(CP_EVENT["detail"], **{"execution-id": execution_id}))


def sqs_send(url, body):
    """SendMessage with botocore's own SQS client (Query, as its model
    says): the fake's queue is fed as an SDK feeds SQS."""
    import botocore.session
    c = botocore.session.get_session().create_client(
        "sqs", region_name="eu-west-1", endpoint_url=URL, aws_access_key_id="AKIDTEST",
        aws_secret_access_key="test-secret")
    return c.send_message(QueueUrl=url, MessageBody=body)["MessageId"]


def queue_msgs(name):
    return fake(f"/_fake/queue/{name}")["messages"]


def wait_for(what, pred, timeout=40):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def sqs_status(d):
    return d.req("GET", "/v1/status")[1]["sqs"][0]


def test_sqs_end_to_end():
    """AWS's CodePipeline event by HTTP, by EventBridge-to-SQS and by
    SNS-to-SQS: each decided deny once, its action signed and validated at
    the endpoint (a throttled attempt retried), the results in the audit
    log; a redelivery is replayed and runs nothing; poison is recorded and
    left to the redrive policy."""
    reset(alarms={"myPipeline-alarm": "OK"})
    fake("/_fake/queue", {"name": "changes-dlq"})
    url = fake("/_fake/queue", {"name": "changes",
                                "redrive": {"deadLetterQueue": "changes-dlq", "maxReceiveCount": 3}})["url"]
    fake("/_fake/inject", {"op": "DisableStageTransition", "error": "ThrottlingException", "count": 1})
    d = Chgd("--aws", "--policy", SQS_POLICY, "--action-backoff", "50", "--sqs-queue", url, "--sqs-wait", "1",
             "--sqs-visibility", "2", env=base_env())
    try:
        s, b = d.req("POST", "/v1/events", CP_EVENT)
        eq((s, b["outcome"], b["change"], reasons(b)),
           (200, "deny", "01234567-0123-0123-0123-012345678901", ["myPipeline is frozen: CAB hold"]))
        wait_for("the HTTP event's action", lambda: [c for c in calls("DisableStageTransition") if c["ok"]])
        sqs_send(url, json.dumps(cp_event("eb-sqs-1", "11111111-0123-0123-0123-012345678901")))
        sqs_send(url, json.dumps({
            "Type": "Notification", "MessageId": "0c7a6ad3-5f14-5b56-a2b0-1ba3c5e0f4a1",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:pipeline-events", "Timestamp": "2017-04-22T03:31:48.000Z",
            "Message": json.dumps(cp_event("eb-sns-1", "22222222-0123-0123-0123-012345678901"))}))
        sqs_send(url, json.dumps(CP_EVENT))  # the HTTP event again: one event, whichever way it comes
        poison_id = sqs_send(url, "not json {")
        wait_for("three messages decided and deleted", lambda: sqs_status(d)["deleted"] == 3)
        st = sqs_status(d)
        eq((st["state"], st["replayed"], st["error"]), ("polling", 1, None))
        for cid in ("11111111-0123-0123-0123-012345678901", "22222222-0123-0123-0123-012345678901",
                    "01234567-0123-0123-0123-012345678901"):
            s, ch = d.req("GET", f"/v1/changes/{cid}")
            eq((s, [x["outcome"] for x in ch["decisions"]]), (200, ["deny"]))
        # the envelope SNS carried is that event's key: posted bare, it is a redelivery
        c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
        c.request("POST", "/v1/events", body=json.dumps(cp_event("eb-sns-1", "22222222-0123-0123-0123-012345678901")),
                  headers={"Authorization": "Bearer write-token-0123456789abcdef"})
        r = c.getresponse()
        eq((r.status, r.getheader("Idempotent-Replayed"), json.loads(r.read())["outcome"]), (200, "true", "deny"))
        # each decision's action reached the endpoint once, signed and valid;
        # the replayed one ran nothing again
        ok = wait_for("three actions done", lambda: (lambda c: c if len(c) == 3 else None)(
            [c for c in calls("DisableStageTransition") if c["ok"]]))
        eq({(c["params"]["pipelineName"], c["params"]["stageName"], c["params"]["reason"]) for c in ok},
           {("myPipeline", "Deploy", "myPipeline is frozen CAB hold")})
        eq([c.get("injected") for c in calls("DisableStageTransition") if not c["ok"]], ["ThrottlingException"])
        for c in calls("ReceiveMessage")[:1]:
            eq((c["params"]["WaitTimeSeconds"], c["params"]["MaxNumberOfMessages"], c["params"]["AttributeNames"]),
               (1, 10, ["ApproximateReceiveCount"]))
        # poison: recorded at each receive, never deleted, moved on by the redrive policy
        wait_for("the poison message in the dead-letter queue", lambda: queue_msgs("changes-dlq"))
        eq([m["id"] for m in queue_msgs("changes-dlq")], [poison_id])
        eq(queue_msgs("changes"), [])
        s, a = d.req("GET", "/v1/audit?limit=500")
        poison = [r["data"] if isinstance(r["data"], dict) else json.loads(r["data"])
                  for r in a["records"] if r["kind"] == "sqs_poison"]
        eq([(p["message_id"], p["receive_count"]) for p in poison], [(poison_id, 1), (poison_id, 2), (poison_id, 3)])
        assert poison[0]["reason"].startswith("the body is not JSON: line 1, column"), poison[0]
        eq(poison[0]["queue"], url)
        s, r = d.req("GET", "/readyz")
        eq(r, {"ready": True, "sqs": "polling"})
        c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
        c.request("GET", "/metrics")
        m = c.getresponse().read().decode()
        for result, n in (("received", 6), ("deleted", 3), ("replayed", 1), ("poison", 3)):
            assert f'chgd_sqs_messages_total{{queue="{url}",result="{result}"}} {n}\n' in m, (result, m)
    finally:
        d.stop()
    # the actions' results, from the audit log as chgc exports it
    chgc = os.path.join(os.path.dirname(CHGD), "chgc")
    p = subprocess.run([chgc, "audit", "export", d.store], capture_output=True, text=True, timeout=60)
    eq(p.returncode, 0)
    recs = [json.loads(line) for line in p.stdout.splitlines()]
    acts = [r["data"] for r in recs if r["kind"] == "action" and r["data"]["status"] != "started"]
    eq(sorted(a["status"] for a in acts), ["ok", "ok", "ok", "retry"])
    eq({a["call"] for a in acts}, {"aws.codepipeline.disable_transition"})
    assert [a for a in acts if a["status"] == "retry"][0]["message"].startswith(
        "CodePipeline DisableStageTransition: ThrottlingException"), acts
    p = subprocess.run([chgc, "audit", "verify", d.store], capture_output=True, text=True, timeout=60)
    eq(p.returncode, 0)


def test_sqs_slow_work_and_crash():
    """Slow work keeps its message (visibility extended); SIGTERM ends a
    long poll at once; kill -9 between the decision and DeleteMessage loses
    nothing: the message comes back, is answered as replayed, deleted, and
    its action is not run again."""
    reset(alarms={"myPipeline-alarm": "OK"})
    url = fake("/_fake/queue", {"name": "slow"})["url"]
    fake("/_fake/inject", {"op": "DescribeAlarms", "delay": 5})
    d = Chgd("--aws", "--aws-timeout", "20000", "--policy", SQS_POLICY, "--sqs-queue", url, "--sqs-visibility", "2",
             env=base_env())
    try:
        sqs_send(url, json.dumps(cp_event("slow-1", "33333333-0123-0123-0123-012345678901")))
        wait_for("the slow message deleted", lambda: sqs_status(d)["deleted"] == 1)
        st = sqs_status(d)
        eq((st["received"], st["replayed"]), (1, 0))  # never handed out twice
        assert len([c for c in calls("ChangeMessageVisibility") if c["ok"]]) >= 2, calls("ChangeMessageVisibility")
        eq(calls("ChangeMessageVisibility")[0]["params"]["VisibilityTimeout"], 2)
    finally:
        t0 = time.time()
        d.stop()  # a 20 s long poll in flight
        assert time.time() - t0 < 8, time.time() - t0
    reset(alarms={"myPipeline-alarm": "OK"})
    fake("/_fake/inject", {"op": "DeleteMessage", "status": 500, "error": "InternalFailure", "count": 1000})
    d = Chgd("--aws", "--policy", SQS_POLICY, "--sqs-queue", url, "--sqs-wait", "1", "--sqs-visibility", "2",
             env=base_env())
    sqs_send(url, json.dumps(cp_event("crash-1", "44444444-0123-0123-0123-012345678901")))
    wait_for("the decision durable (DeleteMessage tried)", lambda: calls("DeleteMessage"))
    wait_for("its action done", lambda: [c for c in calls("DisableStageTransition") if c["ok"]])
    d.kill()
    eq(len(queue_msgs("slow")), 1)
    fake("/_fake/reset", {})
    d2 = Chgd("--aws", "--policy", SQS_POLICY, "--sqs-queue", url, "--sqs-wait", "1", "--sqs-visibility", "2",
              env=base_env(), store=d.store)
    try:
        wait_for("the message back, replayed and deleted", lambda: sqs_status(d2)["deleted"] == 1)
        eq(sqs_status(d2)["replayed"], 1)
        eq(queue_msgs("slow"), [])
        s, ch = d2.req("GET", "/v1/changes/44444444-0123-0123-0123-012345678901")
        eq(len(ch["decisions"]), 1)
        time.sleep(0.5)
        eq(calls("DisableStageTransition"), [])  # not run again
    finally:
        d2.stop()
    chgc = os.path.join(os.path.dirname(CHGD), "chgc")
    eq(subprocess.run([chgc, "audit", "verify", d.store], capture_output=True, timeout=60).returncode, 0)


def main():
    tests = [(k, v) for k, v in globals().items() if k.startswith("test_") and callable(v)]
    only = os.environ.get("CHG_AWS_TEST")
    failed = 0
    for name, fn in tests:
        if only and only != name:
            continue
        t0 = time.time()
        try:
            fn()
            print(f"ok   {name} ({time.time() - t0:.1f}s)")
        except Exception:
            failed += 1
            print(f"FAIL {name}")
            traceback.print_exc()
    shutil.rmtree(TMP, ignore_errors=True)
    print(f"{len(tests) - failed}/{len(tests)} passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
