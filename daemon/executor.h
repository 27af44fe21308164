/*
 * executor.h — how chgd performs a decision's actions: the one interface
 * between the action workers (actions.c: the queue, retries, the audit
 * records) and the code that talks to a target (webhook.c; the AWS
 * actions of aws.*). docs/internals.md describes it.
 *
 * An executor claims calls by name prefix and executes one action at a
 * time: the call's name, its arguments (the decision's `args` object,
 * named by the action's parameters in vm/builtins.def) and its
 * idempotency key. It answers ok, retryable or permanent, with a message.
 * It never sleeps to retry and never records anything: the worker decides
 * when to try again (exponential backoff with full jitter, a maximum of
 * attempts) and writes every attempt and result to the audit log. A call
 * no executor claims fails for good, with an audit record saying so —
 * never a silent success.
 */
#ifndef CHGD_EXECUTOR_H
#define CHGD_EXECUTOR_H

#include <jansson.h>
#include <stddef.h>

typedef enum chgd_exec_status {
    CHGD_EXEC_OK,    /* done: never tried again */
    CHGD_EXEC_RETRY, /* failed for now (timeout, refused connection, 429, 5xx, throttling): tried again later */
    CHGD_EXEC_FAIL,  /* failed for good (4xx, bad arguments, unknown target): never tried again */
} chgd_exec_status;

typedef struct chgd_action_call {
    const char *call;      /* "webhook", "aws.sns.publish" */
    const json_t *args;    /* the decision's args: an object by parameter name (read only) */
    const char *args_json; /* the same as stored: compact JSON, keys sorted */
    const char *key;       /* the idempotency key: the same on every attempt of this action, no other
                            * action's; send it to the target (an Idempotency-Key header, a client
                            * request token) so that a retry after a lost answer is not done twice */
    int attempt;           /* 1 for the first */
} chgd_action_call;

typedef struct chgd_executor {
    const char *name;   /* in logs and audit records: "webhook", "aws" */
    /* The calls it claims: a prefix ending in '.' claims every call under
     * it ("aws." claims "aws.sns.publish"); any other claims that one call
     * ("webhook"). Of two that claim a call, the longer prefix wins. */
    const char *prefix;
    /* Perform one action. Called by the action worker threads, several at
     * once: thread-safe, and bounded in time (its own timeouts). msg, NUL
     * terminated, says what happened ("HTTP 503 from ops"); it goes to the
     * audit log and the log, so it holds no secret. */
    chgd_exec_status (*execute)(void *ud, const chgd_action_call *a, char *msg, size_t msglen);
    /* At shut-down, after the last execute (may be NULL). */
    void (*stop)(void *ud);
    void *ud;
} chgd_executor;

/* Register an executor (copied) at start-up, before chgd_actions_start.
 * CHG_EINVAL when its prefix is already claimed, CHG_ENOMEM. */
int chgd_executor_register(const chgd_executor *e);
/* The executor that claims call, or NULL. */
const chgd_executor *chgd_executor_find(const char *call);

/* The webhook executor (webhook.c), from the configured targets. */
struct chgd_config;
int chgd_webhook_register(const struct chgd_config *c, char *err, size_t errlen);

#endif
