/*
 * aws.c — chgd's resolver: the policy's aws.* queries answered by the AWS
 * client (include/chg_aws.h), each answer reused for --aws-cache-ttl
 * seconds, and every answer a decision used kept with it for its audit
 * record, so that the log says what the decision saw.
 *
 * A query AWS does not answer (throttled past the retries, denied, timed
 * out, no such alarm) is never answered from the cache of an older
 * success nor guessed: the resolver says why and the decision is `error`
 * naming the call and AWS's error code. Failures are not cached, so the
 * next decision asks again.
 */
#include "chgd.h"

#include "chg_aws.h"
#include "executor.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define CACHE_MAX 1024

typedef struct entry {
    char *key;      /* call + its arguments as JSON */
    json_t *result;
    double expires; /* monotonic seconds */
} entry;

static chg_aws *client;
/* The actions' client: one attempt per call, since the action worker
 * (actions.c) decides when to try again and records every attempt. */
static chg_aws *actor;
static long ttl;
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static entry cache[CACHE_MAX];
static size_t ncache;

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The executor of the aws.* actions: ok, or AWS's error with retry when
 * the standard mode would retry it (throttling, 5xx, a timeout, a failed
 * EventBridge entry), else for good. */
static chgd_exec_status execute(void *ud, const chgd_action_call *a, char *msg, size_t msglen)
{
    (void)ud;
    chg_buf out;
    chg_buf_init(&out);
    chg_aws_error e;
    int rc = chg_aws_act(actor, a->call, a->args_json, a->key, &out, &e);
    chgd_exec_status st = CHGD_EXEC_OK;
    if (rc == CHG_OK)
        snprintf(msg, msglen, "%.200s", out.data ? out.data : "");
    else {
        snprintf(msg, msglen, "%s", rc == CHG_ENOMEM ? "out of memory" : e.message);
        st = rc == CHG_ENOMEM || chg_aws_retryable(&e) ? CHGD_EXEC_RETRY : CHGD_EXEC_FAIL;
    }
    chg_buf_free(&out);
    return st;
}

int chgd_aws_start(const chgd_config *c, char *err, size_t errlen)
{
    if (!c->aws)
        return CHG_OK;
    chg_aws_options o = {.timeout_ms = c->aws_timeout};
    chg_aws_error e;
    int rc = chg_aws_new(&o, &client, &e);
    if (rc != CHG_OK) {
        snprintf(err, errlen, "--aws: %s", e.message);
        return rc;
    }
    o.max_attempts = 1;
    if ((rc = chg_aws_new(&o, &actor, &e)) != CHG_OK) {
        snprintf(err, errlen, "--aws: %s", e.message);
        return rc;
    }
    chgd_executor ex = {.name = "aws", .prefix = "aws.", .execute = execute};
    if ((rc = chgd_executor_register(&ex)) != CHG_OK) {
        snprintf(err, errlen, "--aws: cannot register the AWS executor");
        return rc;
    }
    ttl = c->aws_cache_ttl;
    chgd_log(LOG_INFO, "aws: answering aws.* queries from AWS, region '%s', answers reused for %lds",
             chg_aws_region(client), ttl);
    return CHG_OK;
}

void chgd_aws_stop(void)
{
    pthread_mutex_lock(&cache_mu);
    for (size_t i = 0; i < ncache; i++) {
        chg_free(cache[i].key);
        json_decref(cache[i].result);
    }
    ncache = 0;
    pthread_mutex_unlock(&cache_mu);
    chg_aws_free(client);
    chg_aws_free(actor);
    client = actor = NULL;
}

void chgd_asked_init(chgd_asked *q, int64_t at)
{
    q->queries = NULL;
    q->at = at;
}

void chgd_asked_free(chgd_asked *q)
{
    json_decref(q->queries);
    q->queries = NULL;
}

void chgd_asked_json(const chgd_asked *q, chg_buf *out)
{
    if (!q->queries || !json_array_size(q->queries))
        return;
    char *s = json_dumps(q->queries, JSON_COMPACT | JSON_SORT_KEYS);
    if (!s) {
        out->oom = true;
        return;
    }
    chg_buf_puts(out, ",\"queries\":");
    chg_buf_puts(out, s);
    free(s);
}

/* A cached answer (a new reference) or NULL; expired ones are dropped. */
static json_t *cache_get(const char *key)
{
    json_t *r = NULL;
    double now = mono();
    pthread_mutex_lock(&cache_mu);
    for (size_t i = 0; i < ncache; i++)
        if (!strcmp(cache[i].key, key)) {
            if (cache[i].expires > now)
                r = json_incref(cache[i].result);
            else {
                chg_free(cache[i].key);
                json_decref(cache[i].result);
                cache[i] = cache[--ncache];
            }
            break;
        }
    pthread_mutex_unlock(&cache_mu);
    return r;
}

static void cache_put(const char *key, json_t *result)
{
    if (ttl <= 0)
        return;
    char *k = chg_strdup(key);
    if (!k)
        return;
    double now = mono();
    pthread_mutex_lock(&cache_mu);
    size_t at = ncache;
    for (size_t i = 0; i < ncache; i++)
        if (!strcmp(cache[i].key, key) || cache[i].expires <= now) {
            at = i;
            break;
        }
    if (at == CACHE_MAX)
        at = (size_t)(now * 1000) % CACHE_MAX; /* full of live answers: replace one */
    if (at < ncache) {
        chg_free(cache[at].key);
        json_decref(cache[at].result);
    } else
        ncache++;
    cache[at] = (entry){k, json_incref(result), now + (double)ttl};
    pthread_mutex_unlock(&cache_mu);
}

static int resolve(void *ud, const char *call, const chg_value *args, uint32_t nargs, chg_value *out, char *err,
                   size_t errlen)
{
    chgd_asked *q = ud;
    if (!chg_aws_answers(call)) {
        snprintf(err, errlen, "chgd's AWS client does not answer %s", call);
        return -1;
    }
    const char *sargs[16];
    json_t *jargs = json_array();
    for (uint32_t i = 0; i < nargs && i < 16; i++) {
        if (args[i].tag != CHG_V_STR) {
            json_decref(jargs);
            snprintf(err, errlen, "argument %u is not a string", i + 1);
            return -1;
        }
        sargs[i] = args[i].u.s;
        json_array_append_new(jargs, json_stringn(args[i].u.s, args[i].len));
    }
    char *argtext = json_dumps(jargs, JSON_COMPACT);
    chg_buf key;
    chg_buf_init(&key);
    chg_buf_printf(&key, "%s%s", call, argtext ? argtext : "");
    free(argtext);
    json_t *result = key.oom ? NULL : cache_get(key.data);
    if (!result && !key.oom) {
        chg_buf ans;
        chg_buf_init(&ans);
        chg_aws_error e;
        if (chg_aws_answer(client, call, sargs, nargs, q->at, &ans, &e) == CHG_OK) {
            json_error_t je;
            result = json_loadb(ans.data, ans.len, JSON_DECODE_ANY, &je);
            if (result)
                cache_put(key.data, result);
        } else {
            snprintf(err, errlen, "%s", e.message);
            chgd_log(LOG_WARN, "aws: %s: %s", call, e.message);
        }
        chg_buf_free(&ans);
    }
    chg_buf_free(&key);
    if (!result) {
        json_decref(jargs);
        if (!err[0])
            snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!q->queries)
        q->queries = json_array();
    /* the record holds the answer the VM reads: it lives as long as q */
    json_t *rec = json_pack("{s:s, s:o, s:o}", "call", call, "args", jargs, "result", result);
    if (!rec || json_array_append_new(q->queries, rec) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    chg_value_of_json(json_object_get(rec, "result"), out);
    return 0;
}

chg_resolver_fn chgd_aws_resolver(void)
{
    return client ? resolve : NULL;
}
