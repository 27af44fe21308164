/*
 * chg_aws.h — the AWS client (stdlib/aws/, library chg_aws): requests
 * signed with SigV4 by libcurl, the JSON and Query protocols, the SDKs'
 * standard retry mode, configuration and credentials found the way the
 * AWS SDKs find them, and the answers of the policy's `aws.…` queries.
 *
 * Only programs that talk to AWS link it (chgd); the evaluator never does
 * I/O: chgd's resolver calls chg_aws_answer and hands the VM the answer.
 *
 * Threads: one chg_aws is shared by every thread. Credentials are cached
 * in it under a lock and refreshed before they expire; each thread keeps
 * its own curl handle, so connections are reused per thread.
 *
 * Secrets: no access key secret, session token or web identity token is
 * ever written into an error, a log line or an answer.
 */
#ifndef CHG_AWS_H
#define CHG_AWS_H

#include "chg_base.h"

typedef struct chg_aws chg_aws;

/* Why a call failed. code is AWS's error code as AWS names it
 * ("ThrottlingException", "AccessDeniedException", "ValidationException")
 * or one of the client's own: "RequestTimeout" (no answer in time),
 * "ConnectionFailed", "CredentialsNotFound", "CredentialsInvalid",
 * "ConfigError", "MalformedResponse", "HttpError", "RequestAborted"
 * (the caller's cancelled said so). message is visible
 * text for a person; http is the status (0 when none arrived). */
typedef struct chg_aws_error {
    int http;
    int attempts;       /* how many requests were sent */
    char code[64];
    char message[384];
} chg_aws_error;

typedef struct chg_aws_options {
    long connect_timeout_ms; /* 0: 3000 */
    long timeout_ms;         /* per attempt, 0: 10000 */
    long max_attempts;       /* 0: AWS_MAX_ATTEMPTS, the profile's max_attempts, or 3 */
    /* Asked while a request waits (a long poll): true ends it at once,
     * with the code "RequestAborted", never retried (NULL: never). */
    bool (*cancelled)(void *ud);
    void *cancel_ud;
    /* The process environment (NULL: getenv): tests pass their own. */
    const char *(*getenv)(void *ud, const char *name);
    void *getenv_ud;
} chg_aws_options;

/* Read the configuration (region, profile, endpoints, max attempts) as the
 * SDKs do: docs/aws.md, "Configuration". Credentials are looked up on the
 * first call, not here. CHG_OK with *out, or CHG_EINVAL with err set
 * (a config file that cannot be read, an unusable AWS_MAX_ATTEMPTS). */
int chg_aws_new(const chg_aws_options *o, chg_aws **out, chg_aws_error *err);
void chg_aws_free(chg_aws *a);

/* The region requests go to ("" when none is configured). */
const char *chg_aws_region(const chg_aws *a);
/* The endpoint used for a service ("ssm", "cloudwatch", …) into buf. */
int chg_aws_endpoint(const chg_aws *a, const char *service, char *buf, size_t len, chg_aws_error *err);

/* Call a JSON-protocol operation: body is a JSON object (text). On CHG_OK
 * the response body (JSON text) is appended to out. On failure (after the
 * retries the standard mode allows) CHG_EIO and *err. */
int chg_aws_json_call(chg_aws *a, const char *service, const char *op, const char *body, chg_buf *out,
                      chg_aws_error *err);
/* Call a Query-protocol operation: params are the form-encoded members
 * ("AlarmNames.member.1=x"; Action and Version are added). The XML answer
 * is appended to out. */
int chg_aws_query_call(chg_aws *a, const char *service, const char *op, const char *params, chg_buf *out,
                       chg_aws_error *err);

/* Is this an external query chg_aws_answer knows ("aws.ssm.calendar_state")? */
bool chg_aws_answers(const char *call);
/* Answer the policy's external query call(args) from AWS: the answer as
 * JSON text (a string: "ALARM", "OPEN", "2026-12-03T00:00:00Z") appended
 * to out. at is the instant the decision is judged at (seconds; used as
 * GetCalendarState's AtTime). CHG_OK, or CHG_EIO / CHG_EINVAL with err
 * naming the AWS operation and AWS's error code. */
int chg_aws_answer(chg_aws *a, const char *call, const char *const *args, uint32_t nargs, int64_t at,
                   chg_buf *out, chg_aws_error *err);

/* Is this an action chg_aws_act runs ("aws.codepipeline.disable_transition")? */
bool chg_aws_acts(const char *call);
/* Run the policy's action call with its arguments as the decision holds
 * them (args_json: the decision's object by parameter name, or a JSON
 * list in the parameter order of vm/builtins.def): one AWS operation (docs/aws.md, "Actions"), retried
 * as the standard mode says; EventBridge's failed entries inside an HTTP
 * 200 are sent again. key (NULL: none) is the action's idempotency key,
 * sent as the ClientRequestToken of the operations that take one
 * (CloudFormation's). AWS's answer (JSON text) is appended to out. CHG_OK,
 * or CHG_EIO / CHG_EINVAL with err naming the operation and AWS's code:
 * an executor records it and decides whether to try again later. */
int chg_aws_act(chg_aws *a, const char *call, const char *args_json, const char *key, chg_buf *out,
                chg_aws_error *err);
/* DisableStageTransition's reason as the API takes it: 1 to 300 of
 * [a-zA-Z0-9!@ ().*?-], every other character a space (runs collapsed,
 * ends trimmed), "disabled by chg" when nothing is left. */
void chg_aws_sanitize_reason(const char *in, char *out, size_t outlen);

/* Put the operation ("SQS ReceiveMessage"), the code and how the call
 * ended (HTTP status, attempts) before err's message, as the queries'
 * and actions' errors read. */
void chg_aws_name_error(chg_aws_error *err, const char *op);

/* Would the standard retry mode try again after this error (throttling,
 * a transient error, HTTP 500, 502, 503, 504, a timeout)? */
bool chg_aws_retryable(const chg_aws_error *err);

/* Form-encode s (RFC 3986 unreserved kept, everything else %XX), as the
 * Query protocol and SigV4 expect. */
void chg_aws_urlencode(chg_buf *out, const char *s);

#endif
