/*
 * actions.c — the policy's AWS actions as calls, ready for chgd's action
 * executor: each takes the action's arguments as the decision holds them
 * (a JSON list, in the call's parameter order, vm/builtins.def) and makes
 * one AWS request (EventBridge: one request per retry of failed entries).
 *
 *   aws.codepipeline.disable_transition(p, stage, reason)  DisableStageTransition, Inbound;
 *                                                          reason cut to what the API takes
 *   aws.codepipeline.enable_transition(p, stage)           EnableStageTransition, Inbound
 *   aws.codepipeline.put_approval_result(p, stage, action, token, status, summary)
 *                                                          PutApprovalResult
 *   aws.codedeploy.stop_deployment(id[, rollback])         StopDeployment, autoRollbackEnabled (default true)
 *   aws.stepfunctions.send_task_success(token, output)     SendTaskSuccess (output as JSON text)
 *   aws.stepfunctions.send_task_failure(token, error, cause) SendTaskFailure
 *   aws.sns.publish(topic_arn, message[, subject])         SNS Publish (Query)
 *   aws.events.put_event(bus, detail_type, detail)         PutEvents: an HTTP 200 may still carry a
 *                                                          failed entry; it is retried, as the SDKs advise
 *   aws.codepipeline.stop_pipeline_execution(p, id, reason[, abandon])
 *                                                          StopPipelineExecution, reason cut at 200 bytes
 *   aws.ssm.send_automation_signal(id, signal[, comment])  SendAutomationSignal, Approve or Reject only
 *   aws.cloudformation.cancel_update_stack(stack)          CancelUpdateStack (Query)
 *   aws.cloudformation.rollback_stack(stack)               RollbackStack (Query)
 *   aws.cloudformation.execute_change_set(stack, change_set) ExecuteChangeSet (Query)
 *
 * The CloudFormation ones carry the action's idempotency key as their
 * ClientRequestToken, so that a retry after a lost answer is known to
 * CloudFormation as the same request.
 */
#include "aws_int.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* DisableStageTransition's reason: 1 to 300 characters of
 * [a-zA-Z0-9!@ ().*?-] (botocore's model, DisabledReason). Anything else
 * (a '_', ',', ':', '/', a non-ASCII character) becomes a space, runs of
 * spaces one, the ends trimmed; empty is "disabled by chg". */
void chg_aws_sanitize_reason(const char *in, char *out, size_t outlen)
{
    size_t n = 0;
    bool space = true; /* no leading space */
    for (const unsigned char *p = (const unsigned char *)in; *p && n + 1 < outlen && n < 300; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                  strchr("!@().*?-", *p) != NULL;
        if (ok) {
            out[n++] = (char)*p;
            space = false;
        } else if (!space) {
            out[n++] = ' ';
            space = true;
        }
        /* a UTF-8 sequence is one character: one space for it */
        while ((p[1] & 0xC0) == 0x80)
            p++;
    }
    while (n && out[n - 1] == ' ')
        n--;
    out[n] = 0;
    if (!n)
        snprintf(out, outlen, "disabled by chg");
}

static const char *arg(json_t *args, size_t i)
{
    return json_string_value(json_array_get(args, i));
}

static int json_op(chg_aws *a, const char *service, const char *op, json_t *req, chg_buf *out, chg_aws_error *err)
{
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body) {
        chg_aws_seterr(err, 0, "ConfigError", "out of memory");
        return CHG_ENOMEM;
    }
    int rc = chg_aws_json_call(a, service, op, body, out, err);
    free(body);
    return rc;
}

/* PutEvents with one entry; a failed entry (FailedEntryCount > 0 inside
 * an HTTP 200) is sent again after the standard backoff, at most
 * max_attempts times in all, then its ErrorCode is the error. */
static int put_event(chg_aws *a, json_t *args, chg_buf *out, chg_aws_error *err)
{
    json_t *detail = json_array_get(args, 2);
    char *dtext = json_is_string(detail) ? strdup(json_string_value(detail))
                                         : json_dumps(detail ? detail : json_object(), JSON_COMPACT);
    if (!dtext) {
        chg_aws_seterr(err, 0, "ConfigError", "out of memory");
        return CHG_ENOMEM;
    }
    int rc = CHG_EIO;
    for (long attempt = 1;; attempt++) {
        json_t *req = json_pack("{s:[{s:s, s:s, s:s, s:s}]}", "Entries", "EventBusName", arg(args, 0), "Source",
                                "chg", "DetailType", arg(args, 1), "Detail", dtext);
        chg_buf resp;
        chg_buf_init(&resp);
        rc = json_op(a, "events", "PutEvents", req, &resp, err);
        if (rc != CHG_OK) {
            chg_buf_free(&resp);
            break;
        }
        json_error_t je;
        json_t *j = json_loadb(resp.data ? resp.data : "", resp.len, 0, &je);
        json_int_t failed = json_integer_value(json_object_get(j, "FailedEntryCount"));
        json_t *e0 = json_array_get(json_object_get(j, "Entries"), 0);
        if (!j || (!failed && !json_string_value(json_object_get(e0, "EventId")))) {
            chg_aws_seterr(err, 200, "MalformedResponse", "PutEvents: the answer has no EventId and no failure");
            rc = CHG_EIO;
        } else if (failed) {
            const char *code = json_string_value(json_object_get(e0, "ErrorCode"));
            const char *msg = json_string_value(json_object_get(e0, "ErrorMessage"));
            chg_aws_seterr(err, 200, code ? code : "FailedEntry", "the entry failed: %.200s", msg ? msg : "");
            err->attempts = (int)attempt;
            rc = CHG_EIO;
        } else
            chg_buf_append(out, resp.data, resp.len);
        json_decref(j);
        chg_buf_free(&resp);
        if (rc == CHG_OK || !failed || attempt >= a->max_attempts)
            break;
        chg_aws_backoff((int)attempt);
    }
    free(dtext);
    return rc;
}

/* A Query answer's element at path (its last name the key) as the JSON
 * object {"KEY": "text"} appended to out; false when it has none. */
static bool xml_answer(const chg_buf *xml, const char *const *path, chg_buf *out)
{
    chg_buf v;
    chg_buf_init(&v);
    bool ok = chg_aws_xml_text(xml->data, xml->len, path, &v) && v.data;
    if (ok) {
        size_t last = 0;
        while (path[last + 1])
            last++;
        chg_buf_putc(out, '{');
        chg_buf_json_string(out, path[last], strlen(path[last]));
        chg_buf_putc(out, ':');
        chg_buf_json_string(out, v.data, v.len);
        chg_buf_putc(out, '}');
    }
    chg_buf_free(&v);
    return ok;
}

static int publish(chg_aws *a, json_t *args, chg_buf *out, chg_aws_error *err)
{
    chg_buf p, xml;
    chg_buf_init(&p);
    chg_buf_init(&xml);
    chg_buf_puts(&p, "TopicArn=");
    chg_aws_urlencode(&p, arg(args, 0));
    chg_buf_puts(&p, "&Message=");
    chg_aws_urlencode(&p, arg(args, 1));
    if (arg(args, 2)) {
        /* Subject: ASCII, no line breaks, at most 100 characters (SNS) */
        char subj[101];
        size_t n = 0;
        for (const unsigned char *s = (const unsigned char *)arg(args, 2); *s && n < 100; s++)
            subj[n++] = *s >= 0x20 && *s < 0x7f ? (char)*s : ' ';
        subj[n] = 0;
        chg_buf_puts(&p, "&Subject=");
        chg_aws_urlencode(&p, subj);
    }
    int rc = p.oom ? CHG_ENOMEM : chg_aws_query_call(a, "sns", "Publish", p.data, &xml, err);
    static const char *const path[] = {"PublishResult", "MessageId", NULL};
    if (rc == CHG_OK && !xml_answer(&xml, path, out)) {
        chg_aws_seterr(err, 200, "MalformedResponse", "Publish: the answer has no MessageId");
        rc = CHG_EIO;
    }
    chg_buf_free(&p);
    chg_buf_free(&xml);
    return rc;
}

/* Text cut at max bytes, never inside a UTF-8 character: within a
 * length limit of the model however AWS counts it (bytes are never fewer
 * than characters or UTF-16 units). out has max + 1 bytes. */
static void cut_utf8(const char *s, size_t max, char *out)
{
    size_t n = strlen(s);
    if (n > max) {
        n = max;
        while (n && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(out, s, n);
    out[n] = 0;
}

/* CloudFormation's ClientRequestToken is 1 to 128 of [a-zA-Z0-9][-a-zA-Z0-9]*:
 * the action's key when it has that form (chgd's keys, "chg-12-0-ab12…",
 * do), else none is sent and a retry is a new request. */
static void client_token(chg_buf *p, const char *key)
{
    size_t n = key ? strlen(key) : 0;
    if (!n || n > 128 || !isalnum((unsigned char)key[0]))
        return;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)key[i]) && key[i] != '-')
            return;
    chg_buf_puts(p, "&ClientRequestToken=");
    chg_aws_urlencode(p, key);
}

/* A CloudFormation operation by the Query protocol: StackName (and
 * ChangeSetName), the token; the answer's StackId when it has one. */
static int cfn(chg_aws *a, const char *op, json_t *args, const char *key, chg_buf *out, chg_aws_error *err)
{
    chg_buf p, xml;
    chg_buf_init(&p);
    chg_buf_init(&xml);
    chg_buf_puts(&p, "StackName=");
    chg_aws_urlencode(&p, arg(args, 0));
    if (arg(args, 1)) {
        chg_buf_puts(&p, "&ChangeSetName=");
        chg_aws_urlencode(&p, arg(args, 1));
    }
    client_token(&p, key);
    int rc = p.oom ? CHG_ENOMEM : chg_aws_query_call(a, "cloudformation", op, p.data, &xml, err);
    static const char *const path[] = {"StackId", NULL};
    if (rc == CHG_OK && !xml_answer(&xml, path, out))
        chg_buf_puts(out, "{}"); /* CancelUpdateStack, ExecuteChangeSet answer nothing */
    chg_buf_free(&p);
    chg_buf_free(&xml);
    return rc;
}

/* The actions, their arity, their parameters' names as the decision
 * names them (the signatures in vm/builtins.def; tests/aws checks that
 * the two agree) and their kinds: s a string, b a bool, j any JSON. */
enum {
    A_DISABLE, A_ENABLE, A_APPROVAL, A_STOP_DEPLOYMENT, A_TASK_SUCCESS, A_TASK_FAILURE, A_PUBLISH, A_PUT_EVENT,
    A_STOP_EXECUTION, A_SIGNAL, A_CANCEL_UPDATE, A_ROLLBACK, A_EXECUTE_CHANGE_SET
};
static const struct {
    const char *call, *op;
    size_t min, max;
    const char *params[6];
    const char *kinds;
} actions[] = {
    [A_DISABLE] = {"aws.codepipeline.disable_transition", "CodePipeline DisableStageTransition", 3, 3,
                   {"pipeline", "stage", "reason"}, "sss"},
    [A_ENABLE] = {"aws.codepipeline.enable_transition", "CodePipeline EnableStageTransition", 2, 2,
                  {"pipeline", "stage"}, "ss"},
    [A_APPROVAL] = {"aws.codepipeline.put_approval_result", "CodePipeline PutApprovalResult", 6, 6,
                    {"pipeline", "stage", "action", "token", "status", "summary"}, "ssssss"},
    [A_STOP_DEPLOYMENT] = {"aws.codedeploy.stop_deployment", "CodeDeploy StopDeployment", 1, 2,
                           {"id", "rollback"}, "sb"},
    [A_TASK_SUCCESS] = {"aws.stepfunctions.send_task_success", "Step Functions SendTaskSuccess", 2, 2,
                        {"token", "output"}, "sj"},
    [A_TASK_FAILURE] = {"aws.stepfunctions.send_task_failure", "Step Functions SendTaskFailure", 3, 3,
                        {"token", "error", "cause"}, "sss"},
    [A_PUBLISH] = {"aws.sns.publish", "SNS Publish", 2, 3, {"topic_arn", "message", "subject"}, "sss"},
    [A_PUT_EVENT] = {"aws.events.put_event", "EventBridge PutEvents", 3, 3, {"bus", "detail_type", "detail"},
                     "ssj"},
    [A_STOP_EXECUTION] = {"aws.codepipeline.stop_pipeline_execution", "CodePipeline StopPipelineExecution", 3, 4,
                          {"pipeline", "execution_id", "reason", "abandon"}, "sssb"},
    [A_SIGNAL] = {"aws.ssm.send_automation_signal", "SSM SendAutomationSignal", 2, 3,
                  {"execution_id", "signal", "comment"}, "sss"},
    [A_CANCEL_UPDATE] = {"aws.cloudformation.cancel_update_stack", "CloudFormation CancelUpdateStack", 1, 1,
                         {"stack"}, "s"},
    [A_ROLLBACK] = {"aws.cloudformation.rollback_stack", "CloudFormation RollbackStack", 1, 1, {"stack"}, "s"},
    [A_EXECUTE_CHANGE_SET] = {"aws.cloudformation.execute_change_set", "CloudFormation ExecuteChangeSet", 2, 2,
                              {"stack", "change_set"}, "ss"},
};

/* The decision's arguments object as the list of the call's parameters,
 * a missing optional one left out (a new reference). */
static json_t *as_list(json_t *args, size_t k)
{
    if (!json_is_object(args))
        return json_incref(args);
    json_t *l = json_array();
    for (size_t i = 0; i < 6 && actions[k].params[i]; i++) {
        json_t *v = json_object_get(args, actions[k].params[i]);
        if (!v || json_is_null(v))
            break;
        json_array_append(l, v);
    }
    return l;
}

bool chg_aws_acts(const char *call)
{
    for (size_t i = 0; i < CHG_ARRAY_LEN(actions); i++)
        if (!strcmp(actions[i].call, call))
            return true;
    return false;
}

int chg_aws_act(chg_aws *a, const char *call, const char *args_json, const char *key, chg_buf *out,
                chg_aws_error *err)
{
    memset(err, 0, sizeof *err);
    size_t k = 0;
    while (k < CHG_ARRAY_LEN(actions) && strcmp(actions[k].call, call))
        k++;
    json_error_t je;
    json_t *parsed = json_loads(args_json ? args_json : "", 0, &je);
    json_t *args = k < CHG_ARRAY_LEN(actions) ? as_list(parsed, k) : json_incref(parsed);
    json_decref(parsed);
    size_t n = json_array_size(args);
    int rc;
    if (k == CHG_ARRAY_LEN(actions) || !json_is_array(args) || n < actions[k].min || n > actions[k].max) {
        chg_aws_seterr(err, 0, "ConfigError", "%s: not an action the AWS client runs with these arguments", call);
        json_decref(args);
        return CHG_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(args, i);
        char kind = actions[k].kinds[i];
        if (kind == 'j' || (kind == 'b' ? json_is_boolean(v) : json_is_string(v)))
            continue;
        chg_aws_seterr(err, 0, "ConfigError", "%s: argument %zu is not a %s", call, i + 1,
                       kind == 'b' ? "bool" : "string");
        json_decref(args);
        return CHG_EINVAL;
    }
    switch (k) {
    case A_DISABLE: {
        char reason[301];
        chg_aws_sanitize_reason(arg(args, 2), reason, sizeof reason);
        rc = json_op(a, "codepipeline", "DisableStageTransition",
                     json_pack("{s:s, s:s, s:s, s:s}", "pipelineName", arg(args, 0), "stageName", arg(args, 1),
                               "transitionType", "Inbound", "reason", reason),
                     out, err);
        break;
    }
    case A_ENABLE:
        rc = json_op(a, "codepipeline", "EnableStageTransition",
                     json_pack("{s:s, s:s, s:s}", "pipelineName", arg(args, 0), "stageName", arg(args, 1),
                               "transitionType", "Inbound"),
                     out, err);
        break;
    case A_APPROVAL: {
        /* summary: at most 512 characters */
        char summary[513];
        cut_utf8(arg(args, 5), 512, summary);
        rc = json_op(a, "codepipeline", "PutApprovalResult",
                     json_pack("{s:s, s:s, s:s, s:{s:s, s:s}, s:s}", "pipelineName", arg(args, 0), "stageName",
                               arg(args, 1), "actionName", arg(args, 2), "result", "summary", summary, "status",
                               arg(args, 4), "token", arg(args, 3)),
                     out, err);
        break;
    }
    case A_STOP_DEPLOYMENT: {
        json_t *rb = json_array_get(args, 1);
        rc = json_op(a, "codedeploy", "StopDeployment",
                     json_pack("{s:s, s:b}", "deploymentId", arg(args, 0), "autoRollbackEnabled",
                               rb ? json_is_true(rb) : 1),
                     out, err);
        break;
    }
    case A_TASK_SUCCESS: {
        json_t *o = json_array_get(args, 1);
        char *otext = json_is_string(o) ? strdup(json_string_value(o)) : json_dumps(o, JSON_COMPACT | JSON_ENCODE_ANY);
        rc = otext ? json_op(a, "states", "SendTaskSuccess",
                             json_pack("{s:s, s:s}", "taskToken", arg(args, 0), "output", otext), out, err)
                   : CHG_ENOMEM;
        free(otext);
        break;
    }
    case A_TASK_FAILURE:
        rc = json_op(a, "states", "SendTaskFailure",
                     json_pack("{s:s, s:s, s:s}", "taskToken", arg(args, 0), "error", arg(args, 1), "cause",
                               arg(args, 2)),
                     out, err);
        break;
    case A_PUBLISH: rc = publish(a, args, out, err); break;
    case A_PUT_EVENT: rc = put_event(a, args, out, err); break;
    case A_STOP_EXECUTION: {
        /* reason: at most 200 characters, no charset (StopPipelineExecutionReason) */
        char reason[201];
        cut_utf8(arg(args, 2), 200, reason);
        json_t *ab = json_array_get(args, 3);
        rc = json_op(a, "codepipeline", "StopPipelineExecution",
                     json_pack("{s:s, s:s, s:b, s:s}", "pipelineName", arg(args, 0), "pipelineExecutionId",
                               arg(args, 1), "abandon", ab && json_is_true(ab), "reason",
                               reason[0] ? reason : "stopped by chg"),
                     out, err);
        break;
    }
    case A_SIGNAL: {
        /* a Change Manager request is approved or rejected: the model's
         * other signals (StartStep, StopStep, Resume) drive a runbook's
         * steps, which this action does not mean, so they are refused
         * here rather than sent (the compiler refuses them as literals) */
        const char *sig = arg(args, 1);
        if (strcmp(sig, "Approve") != 0 && strcmp(sig, "Reject") != 0) {
            chg_aws_seterr(err, 0, "ConfigError", "%s: the signal is \"Approve\" or \"Reject\", not \"%.40s\"", call,
                           sig);
            json_decref(args);
            return CHG_EINVAL;
        }
        json_t *req = json_pack("{s:s, s:s}", "AutomationExecutionId", arg(args, 0), "SignalType", sig);
        /* Payload {"Comment": [text]}: each value 1 to 512 characters, so
         * an empty comment is no payload */
        char comment[513];
        cut_utf8(arg(args, 2) ? arg(args, 2) : "", 512, comment);
        if (req && comment[0])
            json_object_set_new(req, "Payload", json_pack("{s:[s]}", "Comment", comment));
        rc = json_op(a, "ssm", "SendAutomationSignal", req, out, err);
        break;
    }
    case A_CANCEL_UPDATE: rc = cfn(a, "CancelUpdateStack", args, key, out, err); break;
    case A_ROLLBACK: rc = cfn(a, "RollbackStack", args, key, out, err); break;
    default: rc = cfn(a, "ExecuteChangeSet", args, key, out, err); break;
    }
    json_decref(args);
    if (rc != CHG_OK && rc != CHG_ENOMEM)
        chg_aws_name_error(err, actions[k].op);
    return rc;
}
