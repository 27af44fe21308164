/*
 * actions.c — the action workers: they take the queued actions from the
 * store, hand each to the executor that claims its call (executor.h), and
 * record every attempt and its result in the audit log and the action's
 * row (state, attempts, when to try next).
 *
 * Delivery is at least once: an action is queued in the transaction of its
 * decision, so a decision is never committed without its actions nor
 * they without it; a worker marks an action `done` only after the target
 * said so, and a crash between the two makes a restart try it again — with
 * the same idempotency key, so that a target that honours it does it once.
 *
 * Retries: exponential backoff with full jitter (the delay before attempt
 * n+1 is uniform in [0, min(max-delay, backoff * 2^(n-1))] ms, as AWS's
 * "Exponential Backoff And Jitter" advises against synchronized retry
 * storms), at most action-attempts attempts, then `failed`. The delays
 * are on the system clock, even with --fake-clock: the fake clock is the
 * policy's time, a target's recovery is real time.
 *
 * Which actions are in flight is known in memory only (one process owns a
 * store): a worker claims an action under the mutex, so no two workers run
 * one action at once; after a crash none is in flight.
 */
#include "chgd.h"
#include "executor.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

enum { MAX_EXECUTORS = 16, MAX_WORKERS = 64 };

static chgd_executor executors[MAX_EXECUTORS];
static int nexecutors;

int chgd_executor_register(const chgd_executor *e)
{
    for (int i = 0; i < nexecutors; i++)
        if (!strcmp(executors[i].prefix, e->prefix))
            return CHG_EINVAL;
    if (nexecutors == MAX_EXECUTORS)
        return CHG_ENOMEM;
    executors[nexecutors++] = *e;
    return CHG_OK;
}

static bool claims(const char *prefix, const char *call)
{
    size_t n = strlen(prefix);
    return n && prefix[n - 1] == '.' ? !strncmp(call, prefix, n) : !strcmp(call, prefix);
}

const chgd_executor *chgd_executor_find(const char *call)
{
    const chgd_executor *best = NULL;
    for (int i = 0; i < nexecutors; i++)
        if (claims(executors[i].prefix, call) && (!best || strlen(executors[i].prefix) > strlen(best->prefix)))
            best = &executors[i];
    return best;
}

/* ---- instants of the queue: milliseconds, system clock -------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* RFC 3339 UTC with milliseconds, one length, so text order is time order
 * (the store compares next_at as text). */
static const char *ms_text(int64_t ms, char buf[32])
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, 32 - n, ".%03dZ", (int)(ms % 1000));
    return buf;
}

static int64_t ms_parse(const char *s)
{
    struct tm tm = {0};
    int ms = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
               &tm.tm_sec, &ms) != 7)
        return 0; /* not ours: due now */
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

/* The delay before the attempt after attempt n (1, 2, …): full jitter. */
static int64_t backoff(const chgd_config *c, int n)
{
    int64_t cap = c->action_backoff;
    for (int i = 1; i < n && cap < c->action_max_delay; i++)
        cap *= 2;
    if (cap > c->action_max_delay)
        cap = c->action_max_delay;
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
        r = (uint64_t)now_ms() * 0x9E3779B97F4A7C15ull; /* no entropy: still spread */
    return (int64_t)(r % (uint64_t)(cap + 1));
}

/* ---- the records of an attempt ----------------------------------------------------------- */

typedef struct record_job {
    const chg_store_action *a;
    int attempt;
    const char *executor;   /* NULL: none claims the call */
    const char *status;     /* "started", "ok", "retry", "failed" */
    const char *message;
    const char *state;      /* the row's new state */
    const char *next_at;
} record_job;

static void put_str(json_t *o, const char *k, const char *v)
{
    json_object_set_new(o, k, v ? json_string(v) : json_null());
}

static int record_run(chg_store_conn *w, void *ud)
{
    record_job *j = ud;
    json_t *o = json_object();
    json_object_set_new(o, "action", json_integer(j->a->id));
    json_object_set_new(o, "attempt", json_integer(j->attempt));
    put_str(o, "call", j->a->call);
    put_str(o, "executor", j->executor);
    put_str(o, "key", j->a->key);
    put_str(o, "message", *j->message ? j->message : NULL);
    if (strcmp(j->status, "started"))
        put_str(o, "next_at", j->next_at);
    put_str(o, "status", j->status);
    chg_buf data;
    chg_buf_init(&data);
    if (o)
        chgd_json_dump(o, &data);
    else
        data.oom = true;
    json_decref(o);
    char at[32];
    int rc = data.oom ? CHG_ENOMEM
                      : chg_store_audit_append(w, "action", j->a->change_id, data.data,
                                               chgd_time_text(chgd_now(), at), NULL);
    chg_buf_free(&data);
    /* the attempt counts from its start: one cut short by a crash is not
     * made again under the same number, and a crash loop still ends */
    if (rc == CHG_OK)
        rc = chg_store_action_update(w, j->a->id, j->state, j->attempt, j->next_at);
    return rc;
}

/* ---- the workers --------------------------------------------------------------------------------- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool stopping;
static uint64_t kicks;
static pthread_t workers[MAX_WORKERS];
static int nworkers;
static int64_t in_flight[MAX_WORKERS];
static const chgd_config *cfg;

static bool is_in_flight(int64_t id)
{
    for (int i = 0; i < nworkers; i++)
        if (in_flight[i] == id)
            return true;
    return false;
}

/* A due action no other worker has, marked as this worker's (under mu);
 * NULL when none. *wait_ms: how long until the next one is due. */
static chg_store_action *claim(chg_store_conn *r, int self, int64_t *wait_ms)
{
    *wait_ms = 1000;
    char now[32];
    chg_vec due;
    chg_vec_init(&due);
    int rc = chg_store_actions_due(r, ms_text(now_ms(), now), 2 * MAX_WORKERS, &due);
    chg_store_action *a = NULL;
    for (size_t i = 0; rc == CHG_OK && i < due.len && !a; i++) {
        chg_store_action *c = due.items[i];
        if (!is_in_flight(c->id)) {
            a = c;
            due.items[i] = NULL;
        }
    }
    for (size_t i = 0; i < due.len; i++)
        chg_store_action_free(due.items[i]);
    chg_vec_free(&due);
    if (a) {
        in_flight[self] = a->id;
        return a;
    }
    if (rc != CHG_OK) {
        chgd_log(LOG_ERROR, "actions: cannot read the queue: %s", chg_store_error(r));
        return NULL;
    }
    chg_buf next;
    chg_buf_init(&next);
    if (chg_store_actions_next(r, &next) == CHG_OK && next.len) {
        int64_t d = ms_parse(next.data) - now_ms();
        *wait_ms = d < 1 ? 1 : d < 1000 ? d : 1000;
    }
    chg_buf_free(&next);
    return NULL;
}

static void perform(chg_store_action *a)
{
    int attempt = a->attempts + 1;
    const chgd_executor *e = chgd_executor_find(a->call);
    char msg[512] = "", next_at[32];
    record_job j = {.a = a, .attempt = attempt, .executor = e ? e->name : NULL, .message = msg};
    if (!e) {
        snprintf(msg, sizeof msg, "no executor claims '%s'", a->call);
        j.status = j.state = "failed";
    } else if (a->attempts >= cfg->action_attempts) {
        /* its last attempts were cut short (a crash, a kill) */
        snprintf(msg, sizeof msg, "no attempt left: %d made, the last without a result", a->attempts);
        j.attempt = a->attempts;
        j.status = j.state = "failed";
    } else {
        j.status = "started";
        j.state = "queued";
        if (chg_store_run(chgd_store, record_run, &j) != CHG_OK) {
            chgd_log(LOG_ERROR, "actions: the store could not record an attempt of %s; trying again", a->key);
            return;
        }
        json_error_t je;
        json_t *args = json_loads(a->args, JSON_DECODE_ANY, &je);
        chgd_action_call call = {.call = a->call, .args = args, .args_json = a->args, .key = a->key,
                                 .attempt = attempt};
        chgd_exec_status st = args ? e->execute(e->ud, &call, msg, sizeof msg) : CHGD_EXEC_FAIL;
        if (!args)
            snprintf(msg, sizeof msg, "the stored arguments are not JSON");
        json_decref(args);
        if (st == CHGD_EXEC_OK)
            j.status = j.state = "done";
        else if (st == CHGD_EXEC_RETRY && attempt < cfg->action_attempts) {
            j.status = "retry";
            j.state = "queued";
            j.next_at = ms_text(now_ms() + backoff(cfg, attempt), next_at);
        } else {
            j.status = "failed";
            j.state = "failed";
            if (st == CHGD_EXEC_RETRY) /* the last attempt: say so */
                snprintf(msg + strlen(msg), sizeof msg - strlen(msg), " (attempt %d of %ld: no more)", attempt,
                         cfg->action_attempts);
        }
    }
    if (!strcmp(j.status, "done"))
        j.status = "ok";
    if (chg_store_run(chgd_store, record_run, &j) != CHG_OK) {
        /* still queued: tried again, with the same key */
        chgd_log(LOG_ERROR, "actions: the store could not record the result of %s; it stays queued", a->key);
        return;
    }
    chgd_metrics_action(!strcmp(j.status, "ok") ? "done" : !strcmp(j.status, "retry") ? "retried" : "failed");
    int level = !strcmp(j.status, "ok") ? LOG_INFO : LOG_WARN;
    if (j.next_at)
        chgd_log(level, "action %s %s (attempt %d): %s; next attempt at %s", a->key, a->call, attempt, msg, j.next_at);
    else
        chgd_log(level, "action %s %s (attempt %d): %s: %s", a->key, a->call, attempt, j.status, msg);
}

static void wait_ms(int64_t ms, uint64_t seen)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(ms / 1000);
    until.tv_nsec += (long)(ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    while (!stopping && kicks == seen)
        if (pthread_cond_timedwait(&cv, &mu, &until) == ETIMEDOUT)
            break;
}

static void *worker_main(void *arg)
{
    int self = (int)(intptr_t)arg;
    chg_store_conn *r = chg_store_reader(chgd_store);
    pthread_mutex_lock(&mu);
    while (!stopping) {
        uint64_t seen = kicks;
        int64_t wait = 1000;
        chg_store_action *a = r ? claim(r, self, &wait) : NULL;
        if (!a) {
            wait_ms(wait, seen);
            continue;
        }
        pthread_mutex_unlock(&mu);
        perform(a);
        pthread_mutex_lock(&mu);
        in_flight[self] = 0;
        chg_store_action_free(a);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

static atomic_bool queued;

void chgd_actions_queued(void)
{
    atomic_store(&queued, true);
}

void chgd_actions_kick(void)
{
    /* after a commit: rows queued by a batch still committing are found by
     * the workers' poll (a second at most) */
    if (!atomic_exchange(&queued, false))
        return;
    pthread_mutex_lock(&mu);
    kicks++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

int chgd_actions_start(const chgd_config *c, char *err, size_t errlen)
{
    cfg = c;
    if (chgd_webhook_register(c, err, errlen) != CHG_OK)
        return CHG_EINVAL;
    if (c->dry_run)
        return CHG_OK; /* recorded as dry-run, never executed */
    int n = c->action_workers < MAX_WORKERS ? (int)c->action_workers : MAX_WORKERS;
    for (int i = 0; i < n; i++) {
        if (pthread_create(&workers[nworkers], NULL, worker_main, (void *)(intptr_t)nworkers) != 0) {
            snprintf(err, errlen, "cannot start the action workers");
            chgd_actions_stop();
            return CHG_EIO;
        }
        nworkers++;
    }
    chgd_log(LOG_INFO, "actions: %d workers, up to %ld attempts each", nworkers, c->action_attempts);
    return CHG_OK;
}

void chgd_actions_stop(void)
{
    pthread_mutex_lock(&mu);
    stopping = true;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    /* an action in flight ends within its executor's timeouts */
    for (int i = 0; i < nworkers; i++)
        pthread_join(workers[i], NULL);
    nworkers = 0;
    for (int i = 0; i < nexecutors; i++)
        if (executors[i].stop)
            executors[i].stop(executors[i].ud);
    nexecutors = 0;
}
