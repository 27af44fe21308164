/*
 * chgd.h — what the files of the daemon share. chgd is a driver like
 * chgc: the work of deciding is the library's (chg_driver.h, chg_vm.h);
 * the daemon adds HTTP (http.c, api.c), state (store.h), configuration
 * (config.c), logging (log.c), metrics (metrics.c) and the evaluation
 * engine that ties an event to its stored decision (engine.c).
 */
#ifndef CHGD_H
#define CHGD_H

#include "chg_driver.h"
#include "store.h"

#include <stdatomic.h>

/* ---- configuration (config.c) ------------------------------------------------------ */

enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum { LOG_TEXT, LOG_JSON };

typedef struct chgd_config {
    char *listen;           /* ADDR:PORT */
    chg_vec policy;         /* policy paths (.chg files or directories) */
    char *bundle;           /* or a .chgb */
    char *store;
    char *token_file;
    char *facts;            /* answers of external queries, default flags */
    char *tls_cert, *tls_key; /* PEM files: HTTPS (GnuTLS, through libmicrohttpd) */
    long max_body;          /* bytes */
    long max_depth;         /* JSON nesting */
    long max_connections;
    long timeout;           /* seconds a connection may stay idle */
    long threads;           /* HTTP worker threads */
    long horizon;           /* next_open search, seconds */
    long in_flight_max;     /* seconds a change stays in flight without an end (concurrency limits) */
    int log_level, log_format;
    bool dry_run;
    bool aws;               /* answer aws.* queries from AWS */
    long aws_cache_ttl;     /* seconds an answer is reused */
    long aws_timeout;       /* ms per attempt */
    char *fake_clock;       /* RFC 3339: start on a fake clock (tests) */
    chg_vec webhooks;       /* "NAME=URL": the targets of the webhook action */
    chg_vec webhook_secrets; /* "NAME=FILE": their HMAC secrets */
    long webhook_connect_timeout, webhook_timeout; /* seconds */
    long action_workers, action_attempts;
    long action_backoff, action_max_delay; /* milliseconds */
    chg_vec sqs_queues;     /* --sqs-queue URLs: SQS intake (sqs.c) */
    long sqs_wait, sqs_visibility, sqs_max_receives; /* seconds, seconds, receives */
    char *audit_key;        /* PEM Ed25519 private key: signed digests */
    long audit_digest_records, audit_digest_seconds;
    char *config_file;      /* where the above came from, or NULL */
} chgd_config;

/* Defaults, then the config file (--config FILE, read first wherever it
 * is on the command line), then the flags. Returns 0 ready, 1 exit with
 * status 0 (--help printed), 2 a usage or config error (printed to
 * stderr, naming FILE:LINE for a bad line). *check is set by
 * --check-config. */
int chgd_config_load(chgd_config *c, int argc, char **argv, bool *check);
/* The checks across keys (a policy or a bundle, the token file's form). */
int chgd_config_validate(const chgd_config *c, char *err, size_t errlen);
void chgd_config_free(chgd_config *c);
#include <sys/socket.h>
int chgd_listen_parse(const char *s, struct sockaddr_storage *sa, socklen_t *len, char *err, size_t errlen);

/* ---- logging (log.c) ---------------------------------------------------------------- */

void chgd_log_init(int level, int format);
/* One line on stderr: ISO-8601 UTC time, level, message (text: "TIME
 * LEVEL message"; json: {"time","level","msg"}). Never a secret: callers
 * log no token and no request body. */
void chgd_log(int level, const char *fmt, ...) CHG_PRINTF(2, 3);

/* ---- time ------------------------------------------------------------------------------ */

/* The daemon's clock, one interface: every instant the daemon judges at,
 * stamps or waits for comes from here (a fake clock for tests fits it). */
typedef struct chgd_clock {
    int64_t (*now)(void *ud); /* seconds since the epoch */
    void *ud;
} chgd_clock;
int64_t chgd_now(void);
/* --fake-clock: from start on, the clock reads what chgd_clock_set says. */
void chgd_clock_fake(int64_t start);
bool chgd_clock_is_fake(void);
void chgd_clock_set(int64_t t);
/* RFC 3339 UTC with seconds ("2026-12-02T10:00:00Z"); buf of 32 bytes. */
const char *chgd_time_text(int64_t t, char *buf);
/* The same with milliseconds, from the system clock (log lines). */
const char *chgd_log_time(char *buf);

/* ---- AWS (aws.c) --------------------------------------------------------------------------- */

/* With --aws: the AWS client (configured from the environment and the
 * shared files as the SDKs are) that answers the policy's aws.* queries. */
int chgd_aws_start(const chgd_config *c, char *err, size_t errlen);
void chgd_aws_stop(void);
/* What one decision asked AWS: every answer, kept alive until the
 * decision is written and recorded in its audit record. */
typedef struct chgd_asked {
    void *queries;  /* json_t array of {call, args, result} */
    int64_t at;     /* the instant judged at */
} chgd_asked;
void chgd_asked_init(chgd_asked *q, int64_t at);
void chgd_asked_free(chgd_asked *q);
/* The resolver for chg_eval_input (ud: a chgd_asked), or NULL without --aws. */
chg_resolver_fn chgd_aws_resolver(void);
/* Append ,"queries":[…] to an audit record when the decision asked any. */
void chgd_asked_json(const chgd_asked *q, chg_buf *out);

/* ---- SQS intake (sqs.c) ------------------------------------------------------------------- */

/* One long-polling thread per --sqs-queue, each message fed to
 * chgd_event and deleted once its decision is durable (docs/aws.md,
 * "SQS intake"). Start after the engine; stop first (polling ends, the
 * messages in hand are finished). */
int chgd_sqs_start(const chgd_config *c, char *err, size_t errlen);
void chgd_sqs_stop(void);
/* "polling", "failing", "starting", "stopping", or NULL without queues. */
const char *chgd_sqs_state(void);
/* [{"queue","state","error","last_receive_at","in_flight","received",…}] */
void chgd_sqs_json(chg_buf *out);
void chgd_sqs_metrics(chg_buf *out);

/* ---- the engine (engine.c) ----------------------------------------------------------- */

/* A loaded policy: verified, shared read-only by every thread, freed when
 * the last user lets go (a reload swaps it while requests still use the
 * old one). */
typedef struct chgd_bundle {
    atomic_int refs;
    chg_policy policy;
    const chg_bundle *b;
    char loaded_at[32];
    uint64_t generation;
} chgd_bundle;

/* Compile or load the configured policy and verify it (chg_policy_open). */
int chgd_bundle_open(const chgd_config *c, chgd_bundle **out, char *err, size_t errlen);
chgd_bundle *chgd_bundle_acquire(void);  /* the current one, with a reference */
void chgd_bundle_release(chgd_bundle *b);
/* The calling thread's evaluation context for b (made on first use and
 * when the bundle changed; NULL when out of memory). */
chg_ctx *chgd_thread_ctx(chgd_bundle *b);

int chgd_engine_start(const chgd_config *c, chg_store *s, chgd_bundle *b, char *err, size_t errlen);
void chgd_engine_stop(void);
bool chgd_engine_ready(void);
/* The current flags as facts (a reference: release it). */
typedef struct chgd_facts chgd_facts;
chgd_facts *chgd_facts_acquire(void);
const chg_facts *chgd_facts_get(const chgd_facts *f);
void chgd_facts_release(chgd_facts *f);

/* Reload the policy (SIGHUP, POST /v1/reload): a policy that fails to
 * compile or verify is refused and the old one keeps serving. The answer
 * (a JSON object) is appended to out. CHG_OK, or CHG_EINVAL with err. */
int chgd_reload(chg_buf *out, char *err, size_t errlen);
/* {"loaded_at","policy","sha256","version"} of a loaded bundle. */
void chgd_bundle_json(chg_buf *out, const chgd_bundle *b);

/* An answer given later, without holding an HTTP thread while the store
 * commits (http.c offers one; POST /v1/events takes it): the engine calls
 * suspend before it queues the work, and resume, from any thread, once
 * the answer is complete. */
typedef struct chgd_later {
    void (*suspend)(void *ud);
    void (*resume)(void *ud);
    void *ud;
} chgd_later;

/* What an API call asks of the engine; each answers an HTTP status and a
 * JSON body. */
typedef struct chgd_answer {
    int status;
    chg_buf body;
    bool replayed;          /* Idempotent-Replayed: true */
    bool ndjson;            /* the body is JSON lines */
    bool text;              /* the body is text (metrics) */
    const char *allow;      /* 405: the methods the route takes */
    const chgd_later *later; /* NULL: the handler answers before it returns */
    bool pending;           /* set by a handler that took later: the rest
                             * of the answer is written until resume */
} chgd_answer;

int chgd_event(const char *body, size_t len, const char *idem_key, chgd_answer *a);
int chgd_evaluate(const char *body, size_t len, bool ndjson, chgd_answer *a);
int chgd_approve(const char *id, const char *body, size_t len, chgd_answer *a);
/* POST /v1/changes/{id}/end: the change in flight ended; the changes a
 * concurrency limit held are decided again (docs/daemon.md). */
int chgd_end(const char *id, const char *body, size_t len, chgd_answer *a);
int chgd_flag(const char *name, bool set, const char *body, size_t len, chgd_answer *a);
/* PUT /v1/clock (fake clock only): move it, run the timers now due. */
int chgd_clock_put(const char *body, size_t len, chgd_answer *a);
/* Decide again every change whose timer is due; *run and *changed count. */
int chgd_timers_run(long *run, long *changed);
/* The thread that runs due timers on the system clock (not with a fake one). */
void chgd_timers_start(void);
void chgd_timers_stop(void);

/* {"error":{"code":…,"message":…}} with a status. */
void chgd_error(chgd_answer *a, int status, const char *code, const char *fmt, ...) CHG_PRINTF(4, 5);

extern const chgd_config *chgd_cfg;
extern chg_store *chgd_store;
extern int64_t chgd_started;

/* ---- HTTP (http.c, api.c) -------------------------------------------------------------- */

int chgd_http_start(const chgd_config *c, char *err, size_t errlen);
/* Nested deeper than max? Brackets counted outside strings, before any
 * parser sees the text (the --max-depth check of every body). */
bool chgd_json_too_deep(const char *s, size_t n, long max);
/* Stop taking connections, let the requests in flight finish (at most
 * `grace` seconds), then stop. */
void chgd_http_stop(int grace);

/* A request as the handlers see it. */
typedef struct chgd_request {
    const char *method, *path;
    struct MHD_Connection *conn;
    const char *body;
    size_t len;
    int scope;              /* 0 none, 1 read, 2 write */
    bool bad_token;         /* a token was given and is unknown */
} chgd_request;

/* Route a request to its handler (api.c); routes for the metrics. */
void chgd_api_handle(const chgd_request *r, chgd_answer *a, const char **route);

/* ---- tokens (http.c) ------------------------------------------------------------------- */

int chgd_tokens_load(const char *path, char *err, size_t errlen);

/* The SHA-256 of data as 64 lowercase hex digits. */
void chgd_sha256_hex(const void *data, size_t len, char out[65]);

/* JSON as the daemon stores it (compact, keys sorted: the audit log hashes
 * deterministic bytes), appended to out (out->oom on failure). */
struct json_t;
void chgd_json_dump(const struct json_t *j, chg_buf *out);

/* ---- actions (actions.c, webhook.c; the interface is executor.h) ------------------------- */

/* The action workers: start (not with --dry-run) once the store and the
 * executors are ready; kick when a commit queued actions; stop before the
 * store closes. */
int chgd_actions_start(const chgd_config *c, char *err, size_t errlen);
void chgd_actions_kick(void);
/* A job queued an action to execute: the next kick wakes the workers
 * (a kick without one costs an atomic exchange, nothing more). */
void chgd_actions_queued(void);
void chgd_actions_stop(void);
/* Signed digests of the audit chain (--audit-key): one now (at start and
 * stop), then every audit-digest-records records and audit-digest-seconds
 * seconds. */
int chgd_digests_start(const chgd_config *c, char *err, size_t errlen);
void chgd_digests_stop(void);
void chgd_digests_free(void); /* after the store closed */
/* The checks of the webhook keys (config validation). */
int chgd_webhooks_check(const chgd_config *c, char *err, size_t errlen);

/* ---- metrics (metrics.c) ---------------------------------------------------------------- */

void chgd_metrics_request(const char *route, int status, double seconds);
void chgd_metrics_decision(const char *outcome, double seconds);
void chgd_metrics_action(const char *state);
void chgd_metrics_render(chg_buf *out);
/* A Prometheus label value, escaped, appended to out. */
void chgd_metrics_label(chg_buf *out, const char *s);
extern atomic_int chgd_inflight;

#endif
