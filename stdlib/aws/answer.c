/*
 * answer.c — the policy's `aws.…` queries answered from AWS, one AWS
 * operation each (docs/aws.md has the table and the IAM policy of each):
 *
 *   aws.cloudwatch.alarm_state(name)        CloudWatch DescribeAlarms (Query; XML)
 *   aws.ssm.calendar_state(names…)          SSM GetCalendarState → State
 *   aws.ssm.next_transition(names…)         SSM GetCalendarState → NextTransitionTime
 *   aws.codepipeline.stage_state(p, stage)  CodePipeline GetPipelineState → the stage's latestExecution.status
 *   aws.codepipeline.execution_state(p, id) CodePipeline GetPipelineExecution → pipelineExecution.status
 *
 * An answer AWS does not give (no such alarm or stage, a body not shaped
 * as the model says) is an error naming the call, never a guess: the
 * decision is then `error`.
 *
 * XML comes from libxml2 (the Query protocol answers in XML: CloudWatch
 * here, STS for web identity), read without a network, without entity
 * substitution and without DTDs.
 */
#include "aws_int.h"

#include "chg_time.h"

#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <string.h>

/* ---- XML ---------------------------------------------------------------------------------- */

static bool named(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

/* The first element named path[0] in document order (any depth), then
 * its child path[1], and so on. */
static const xmlNode *find_first(const xmlNode *n, const char *name, int depth)
{
    for (; n && depth < 64; n = n->next) {
        if (named(n, name))
            return n;
        const xmlNode *d = find_first(n->children, name, depth + 1);
        if (d)
            return d;
    }
    return NULL;
}

static const xmlNode *child(const xmlNode *n, const char *name)
{
    for (const xmlNode *c = n ? n->children : NULL; c; c = c->next)
        if (named(c, name))
            return c;
    return NULL;
}

static xmlDoc *xml_read(const char *xml, size_t len)
{
    if (!xml || !len || len > (1u << 24))
        return NULL;
    return xmlReadMemory(xml, (int)len, "aws.xml", NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

bool chg_aws_xml_text(const char *xml, size_t len, const char *const *path, chg_buf *out)
{
    xmlDoc *doc = xml_read(xml, len);
    if (!doc)
        return false;
    const xmlNode *n = find_first(xmlDocGetRootElement(doc), path[0], 0);
    for (size_t i = 1; n && path[i]; i++)
        n = child(n, path[i]);
    bool ok = false;
    if (n) {
        xmlChar *t = xmlNodeGetContent(n);
        if (t) {
            chg_buf_puts(out, (const char *)t);
            ok = !out->oom;
            xmlFree(t);
        }
    }
    xmlFreeDoc(doc);
    return ok;
}

/* ---- the queries ------------------------------------------------------------------------------ */

static int answer_string(chg_buf *out, const char *s)
{
    chg_buf_json_string(out, s, strlen(s));
    return out->oom ? CHG_ENOMEM : CHG_OK;
}

/* DescribeAlarms for one name, metric and composite alarms alike (without
 * AlarmTypes only metric alarms are listed). */
static int alarm_state(chg_aws *a, const char *const *args, chg_buf *out, chg_aws_error *err)
{
    chg_buf p, xml;
    chg_buf_init(&p);
    chg_buf_init(&xml);
    chg_buf_puts(&p, "AlarmNames.member.1=");
    chg_aws_urlencode(&p, args[0]);
    chg_buf_puts(&p, "&AlarmTypes.member.1=CompositeAlarm&AlarmTypes.member.2=MetricAlarm");
    int rc = p.oom ? CHG_ENOMEM : chg_aws_query_call(a, "cloudwatch", "DescribeAlarms", p.data, &xml, err);
    chg_buf_free(&p);
    if (rc != CHG_OK) {
        chg_buf_free(&xml);
        return rc;
    }
    xmlDoc *doc = xml_read(xml.data, xml.len);
    const xmlNode *res = doc ? find_first(xmlDocGetRootElement(doc), "DescribeAlarmsResult", 0) : NULL;
    const char *state = NULL;
    bool found = false;
    static const char *const lists[] = {"MetricAlarms", "CompositeAlarms"};
    for (size_t l = 0; res && l < 2 && !found; l++)
        for (const xmlNode *m = child(child(res, lists[l]), "member"); m && !found; m = m->next) {
            if (!named(m, "member"))
                continue;
            xmlChar *name = xmlNodeGetContent(child(m, "AlarmName"));
            if (name && !strcmp((const char *)name, args[0])) {
                found = true;
                xmlChar *sv = xmlNodeGetContent(child(m, "StateValue"));
                static const char *const ok[] = {"OK", "ALARM", "INSUFFICIENT_DATA"};
                for (size_t k = 0; sv && k < 3; k++)
                    if (!strcmp((const char *)sv, ok[k]))
                        state = ok[k];
                xmlFree(sv);
            }
            xmlFree(name);
        }
    if (!res) {
        chg_aws_seterr(err, 200, "MalformedResponse", "the answer has no DescribeAlarmsResult");
        rc = CHG_EIO;
    } else if (!found) {
        chg_aws_seterr(err, 200, "AlarmNotFound", "no alarm is named '%.200s'", args[0]);
        rc = CHG_EIO;
    } else if (!state) {
        chg_aws_seterr(err, 200, "MalformedResponse",
                       "the alarm's StateValue is not OK, ALARM or INSUFFICIENT_DATA");
        rc = CHG_EIO;
    } else
        rc = answer_string(out, state);
    xmlFreeDoc(doc);
    chg_buf_free(&xml);
    return rc;
}

/* GetCalendarState: the AND of the calendars (OPEN only if all are open,
 * as AWS computes it), at the decision's instant. */
static int calendar(chg_aws *a, const char *const *args, uint32_t nargs, int64_t at, bool next, chg_buf *out,
                    chg_aws_error *err)
{
    json_t *names = json_array();
    for (uint32_t i = 0; i < nargs; i++)
        json_array_append_new(names, json_string(args[i]));
    char when[32];
    chg_time_format_utc(at, when);
    json_t *req = json_pack("{s:o, s:s}", "CalendarNames", names, "AtTime", when);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body) {
        chg_aws_seterr(err, 0, "ConfigError", "out of memory");
        return CHG_ENOMEM;
    }
    chg_buf resp;
    chg_buf_init(&resp);
    int rc = chg_aws_json_call(a, "ssm", "GetCalendarState", body, &resp, err);
    free(body);
    if (rc == CHG_OK) {
        json_error_t je;
        json_t *j = json_loadb(resp.data ? resp.data : "", resp.len, 0, &je);
        const char *state = json_string_value(json_object_get(j, "State"));
        json_t *nt = json_object_get(j, "NextTransitionTime");
        int64_t t;
        if (!state || (strcmp(state, "OPEN") && strcmp(state, "CLOSED"))) {
            chg_aws_seterr(err, 200, "MalformedResponse", "the answer's State is not OPEN or CLOSED");
            rc = CHG_EIO;
        } else if (!next)
            rc = answer_string(out, state);
        else if (!nt) /* no event ahead: the state holds for good */
            chg_buf_puts(out, "null");
        else if (!json_is_string(nt) || !chg_aws_parse_time(json_string_value(nt), &t)) {
            chg_aws_seterr(err, 200, "MalformedResponse",
                           "the answer's NextTransitionTime is not an ISO 8601 time");
            rc = CHG_EIO;
        } else {
            char text[32];
            chg_time_format_utc(t, text);
            rc = answer_string(out, text);
        }
        json_decref(j);
    }
    chg_buf_free(&resp);
    return rc;
}

/* CodePipeline: the latest execution status of a stage (GetPipelineState)
 * or of one execution (GetPipelineExecution). A stage that never ran has
 * no status: null. */
static int pipeline(chg_aws *a, const char *const *args, bool execution, chg_buf *out, chg_aws_error *err)
{
    json_t *req = execution ? json_pack("{s:s, s:s}", "pipelineName", args[0], "pipelineExecutionId", args[1])
                            : json_pack("{s:s}", "name", args[0]);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body) {
        chg_aws_seterr(err, 0, "ConfigError", "out of memory");
        return CHG_ENOMEM;
    }
    const char *op = execution ? "GetPipelineExecution" : "GetPipelineState";
    chg_buf resp;
    chg_buf_init(&resp);
    int rc = chg_aws_json_call(a, "codepipeline", op, body, &resp, err);
    free(body);
    if (rc == CHG_OK) {
        json_error_t je;
        json_t *j = json_loadb(resp.data ? resp.data : "", resp.len, 0, &je);
        json_t *status = NULL;
        bool found = false;
        if (execution) {
            status = json_object_get(json_object_get(j, "pipelineExecution"), "status");
            found = status != NULL;
        } else {
            size_t i;
            json_t *s;
            json_array_foreach(json_object_get(j, "stageStates"), i, s)
            {
                const char *name = json_string_value(json_object_get(s, "stageName"));
                if (name && !strcmp(name, args[1])) {
                    found = true;
                    status = json_object_get(json_object_get(s, "latestExecution"), "status");
                    break;
                }
            }
        }
        if (!j) {
            chg_aws_seterr(err, 200, "MalformedResponse", "the answer is not JSON");
            rc = CHG_EIO;
        } else if (!found && !execution) {
            chg_aws_seterr(err, 200, "StageNotFound", "pipeline '%.100s' has no stage '%.100s'",
                           args[0], args[1]);
            rc = CHG_EIO;
        } else if (!found) {
            chg_aws_seterr(err, 200, "MalformedResponse", "the answer has no status");
            rc = CHG_EIO;
        } else if (status && !json_is_string(status)) {
            chg_aws_seterr(err, 200, "MalformedResponse", "the status is not a string");
            rc = CHG_EIO;
        } else if (status)
            rc = answer_string(out, json_string_value(status));
        else
            chg_buf_puts(out, "null");
        json_decref(j);
    }
    chg_buf_free(&resp);
    return rc;
}

/* "SSM GetCalendarState: ThrottlingException (HTTP 400, 3 attempts): Rate
 * exceeded": the operation, AWS's code, how it ended, AWS's message. */
void chg_aws_name_error(chg_aws_error *err, const char *op)
{
    char m[sizeof err->message], how[48] = "";
    snprintf(m, sizeof m, "%s", err->message);
    if (err->http && !err->attempts) /* a credentials provider's answer */
        snprintf(how, sizeof how, " (HTTP %d)", err->http);
    else if (err->http && err->http != 200)
        snprintf(how, sizeof how, " (HTTP %d, %d attempt%s)", err->http, err->attempts, err->attempts == 1 ? "" : "s");
    else if (err->attempts > 1)
        snprintf(how, sizeof how, " (%d attempts)", err->attempts);
    snprintf(err->message, sizeof err->message, "%s: %s%s%s%.250s", op, err->code, how, m[0] ? ": " : "", m);
}

/* The queries, their arity and the operation their errors name. */
static const struct {
    const char *call, *op;
    uint32_t min, max;
} queries[] = {
    {"aws.cloudwatch.alarm_state", "CloudWatch DescribeAlarms", 1, 1},
    {"aws.ssm.calendar_state", "SSM GetCalendarState", 1, 10},
    {"aws.ssm.next_transition", "SSM GetCalendarState", 1, 10},
    {"aws.codepipeline.stage_state", "CodePipeline GetPipelineState", 2, 2},
    {"aws.codepipeline.execution_state", "CodePipeline GetPipelineExecution", 2, 2},
};

bool chg_aws_answers(const char *call)
{
    for (size_t i = 0; i < CHG_ARRAY_LEN(queries); i++)
        if (!strcmp(queries[i].call, call))
            return true;
    return false;
}

int chg_aws_answer(chg_aws *a, const char *call, const char *const *args, uint32_t nargs, int64_t at,
                   chg_buf *out, chg_aws_error *err)
{
    memset(err, 0, sizeof *err);
    size_t q = 0;
    while (q < CHG_ARRAY_LEN(queries) && strcmp(queries[q].call, call))
        q++;
    if (q == CHG_ARRAY_LEN(queries) || nargs < queries[q].min || nargs > queries[q].max) {
        chg_aws_seterr(err, 0, "ConfigError", "%s: not a query the AWS client answers with %u arguments", call,
                       nargs);
        return CHG_EINVAL;
    }
    int rc;
    switch (q) {
    case 0: rc = alarm_state(a, args, out, err); break;
    case 1: rc = calendar(a, args, nargs, at, false, out, err); break;
    case 2: rc = calendar(a, args, nargs, at, true, out, err); break;
    case 3: rc = pipeline(a, args, false, out, err); break;
    default: rc = pipeline(a, args, true, out, err); break;
    }
    if (rc != CHG_OK && rc != CHG_ENOMEM)
        chg_aws_name_error(err, queries[q].op);
    return rc;
}
