/*
 * engine.c — from an API call to a durable decision: the loaded policy
 * (shared, refcounted, swapped by a reload), the flags as facts, the
 * per-thread evaluation contexts, and the jobs the store's writer thread
 * runs (an event, an approval, a flag), each deciding and writing its
 * decision and audit records in one transaction.
 *
 * Where work happens: intake (raw event → change) runs on the HTTP worker
 * thread that took the request, with that thread's context; the decision
 * runs in the writer's job, on the writer's context, because it reads
 * state (the change's earlier revision, approvals recorded through the
 * API, the flags) that must be the state it is committed with — two
 * calls about one change can then never decide on each other's stale
 * view. The decision is made by chg_eval and written by the one decision
 * writer, chg_decision_write; a change that fails the schema is never
 * judged by the rules (its decision is `error`, docs/language.md).
 */
#include "chgd.h"

#include "chg_time.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const chgd_config *chgd_cfg;
chg_store *chgd_store;
int64_t chgd_started;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;      /* current, facts */
static pthread_mutex_t reload_mu = PTHREAD_MUTEX_INITIALIZER; /* one reload at a time */
static chgd_bundle *current;
static uint64_t generations;
static atomic_bool ready;

struct chgd_facts {
    atomic_int refs;
    chg_facts *facts;
    chg_vec names;          /* the flags set through the API that it holds, by name */
};
static chgd_facts *facts_now;

/* ---- small helpers -------------------------------------------------------------------- */

void chgd_sha256_hex(const void *data, size_t len, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char d[32];
    unsigned int n = 0;
    EVP_Digest(data, len, d, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[64] = 0;
}

void chgd_error(chgd_answer *a, int status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    chg_buf_reset(&a->body);
    a->status = status;
    chg_buf_puts(&a->body, "{\"error\":{\"code\":");
    chg_buf_json_string(&a->body, code, strlen(code));
    chg_buf_puts(&a->body, ",\"message\":");
    chg_buf_json_string(&a->body, msg, n < 0 ? 0 : (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
    chg_buf_puts(&a->body, "}}");
}

static double mono(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int dump_cb(const char *buffer, size_t size, void *data)
{
    chg_buf_append(data, buffer, size);
    return 0;
}

/* JSON compact with sorted keys: the form of everything the daemon
 * stores, so that the audit log hashes deterministic bytes. */
static void dump(const json_t *j, chg_buf *out)
{
    if (json_dump_callback(j, dump_cb, out, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) != 0)
        out->oom = true;
}

void chgd_json_dump(const json_t *j, chg_buf *out)
{
    dump(j, out);
}

/* ---- bundles ---------------------------------------------------------------------------- */

int chgd_bundle_open(const chgd_config *c, chgd_bundle **out, char *err, size_t errlen)
{
    *out = NULL;
    chgd_bundle *b = chg_calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return CHG_ENOMEM;
    }
    chg_compile_options co = {.lints = false};
    char *one[1] = {c->bundle};
    char *const *paths = c->bundle ? one : (char *const *)c->policy.items;
    size_t n = c->bundle ? 1 : c->policy.len;
    int rc = chg_policy_open(&b->policy, paths, n, &co, err, errlen);
    if (rc == CHG_EINVAL && b->policy.compiler) {
        /* errors in the policy: the first few, as chgc prints them */
        chg_buf text;
        chg_buf_init(&text);
        chg_report r = {.format = CHG_REPORT_TEXT};
        chg_compiler *cs[1] = {b->policy.compiler};
        chg_report_render(&r, cs, 1, &text);
        const char *first = text.data ? text.data : "";
        size_t len = strcspn(first, "\n");
        snprintf(err, errlen, "the policy has errors: %.*s", (int)len, first);
        chg_buf_free(&text);
    }
    if (rc != CHG_OK) {
        chg_policy_free(&b->policy);
        chg_free(b);
        return rc;
    }
    b->b = b->policy.bundle;
    atomic_init(&b->refs, 1);
    chgd_time_text(chgd_now(), b->loaded_at);
    *out = b;
    return CHG_OK;
}

chgd_bundle *chgd_bundle_acquire(void)
{
    pthread_mutex_lock(&mu);
    chgd_bundle *b = current;
    if (b)
        atomic_fetch_add(&b->refs, 1);
    pthread_mutex_unlock(&mu);
    return b;
}

void chgd_bundle_release(chgd_bundle *b)
{
    if (b && atomic_fetch_sub(&b->refs, 1) == 1) {
        chg_policy_free(&b->policy);
        chg_free(b);
    }
}

/* Each thread's context, and the bundle it was made for (a reference,
 * so the bundle outlives it); both let go when the thread ends. */
typedef struct thread_ctx {
    chgd_bundle *b;
    chg_ctx *ctx;
} thread_ctx;
static pthread_key_t ctx_key;
static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;

static void ctx_free(void *p)
{
    thread_ctx *t = p;
    chg_ctx_free(t->ctx);
    chgd_bundle_release(t->b);
    chg_free(t);
}

static void ctx_key_make(void)
{
    pthread_key_create(&ctx_key, ctx_free);
}

chg_ctx *chgd_thread_ctx(chgd_bundle *b)
{
    pthread_once(&ctx_once, ctx_key_make);
    thread_ctx *t = pthread_getspecific(ctx_key);
    if (!t) {
        t = chg_calloc(1, sizeof *t);
        if (!t)
            return NULL;
        pthread_setspecific(ctx_key, t);
    }
    if (t->b != b) {
        chg_ctx_free(t->ctx);
        chgd_bundle_release(t->b);
        atomic_fetch_add(&b->refs, 1);
        t->b = b;
        t->ctx = chg_ctx_new(b->b);
    }
    return t->ctx;
}

/* Called by the main thread at exit: its own context, if any. */
static void ctx_release_own(void)
{
    pthread_once(&ctx_once, ctx_key_make);
    thread_ctx *t = pthread_getspecific(ctx_key);
    if (t) {
        pthread_setspecific(ctx_key, NULL);
        ctx_free(t);
    }
}

/* ---- flags as facts ---------------------------------------------------------------------------- */

/* The --facts file (answers of external queries, default flags), read
 * once at start: a file edited later changes nothing until a restart. */
static char *facts_text;
static size_t facts_len;

/* Facts holding the flags named: the --facts file's, with each flag set
 * through the API set to true. */
static chg_facts *facts_of(const chg_vec *names)
{
    char err[512];
    /* no --facts file: NULL text is empty facts */
    chg_facts *f = chg_facts_parse(facts_text, facts_len, err, sizeof err);
    for (size_t i = 0; f && i < names->len; i++)
        if (chg_facts_set_flag(f, names->items[i], true) != CHG_OK) {
            chg_facts_free(f);
            f = NULL;
        }
    return f;
}

chgd_facts *chgd_facts_acquire(void)
{
    pthread_mutex_lock(&mu);
    chgd_facts *f = facts_now;
    if (f)
        atomic_fetch_add(&f->refs, 1);
    pthread_mutex_unlock(&mu);
    return f;
}

const chg_facts *chgd_facts_get(const chgd_facts *f)
{
    return f ? f->facts : NULL;
}

void chgd_facts_release(chgd_facts *f)
{
    if (f && atomic_fetch_sub(&f->refs, 1) == 1) {
        chg_facts_free(f->facts);
        chg_strings_free(&f->names);
        chg_free(f);
    }
}

/* Read the committed flags and make them the facts every reader sees.
 * Under the lock: of two calls, the last to install read the later state. */
static int facts_refresh(void)
{
    chg_store_conn *r = chg_store_reader(chgd_store);
    if (!r)
        return CHG_EIO;
    pthread_mutex_lock(&mu);
    chg_vec names;
    chg_vec_init(&names);
    int rc = chg_store_flag_names(r, &names);
    chgd_facts *f = NULL;
    if (rc == CHG_OK) {
        f = chg_calloc(1, sizeof *f);
        if (f && !(f->facts = facts_of(&names))) {
            chg_free(f);
            f = NULL;
        }
        rc = f ? CHG_OK : CHG_ENOMEM;
    }
    if (f) {
        f->names = names; /* kept: an event judged with f says which flags it met */
        chg_vec_init(&names);
        atomic_init(&f->refs, 1);
        chgd_facts *old = facts_now;
        facts_now = f;
        pthread_mutex_unlock(&mu);
        chgd_facts_release(old);
    } else
        pthread_mutex_unlock(&mu);
    chg_strings_free(&names);
    return rc;
}

/* The writer's facts, from the flags as its transaction sees them (a
 * flag set earlier in the same batch included), rebuilt only when the
 * set of names changed. Writer thread only. */
static chg_facts *writer_facts;
static chg_buf writer_flags;

static int writer_facts_get(chg_store_conn *w, const chg_facts **out)
{
    chg_vec names;
    chg_vec_init(&names);
    int rc = chg_store_flag_names(w, &names);
    chg_buf key;
    chg_buf_init(&key);
    for (size_t i = 0; rc == CHG_OK && i < names.len; i++) {
        chg_buf_puts(&key, names.items[i]);
        chg_buf_putc(&key, '\n');
    }
    if (rc == CHG_OK && key.oom)
        rc = CHG_ENOMEM;
    if (rc == CHG_OK && (!writer_facts || key.len != writer_flags.len ||
                         (key.len && memcmp(key.data, writer_flags.data, key.len)))) {
        chg_facts *f = facts_of(&names);
        if (!f)
            rc = CHG_ENOMEM;
        else {
            chg_facts_free(writer_facts);
            writer_facts = f;
            chg_buf_reset(&writer_flags);
            chg_buf_append(&writer_flags, key.data, key.len);
        }
    }
    chg_buf_free(&key);
    chg_strings_free(&names);
    *out = writer_facts;
    return rc;
}

/* ---- deciding a stored change (writer thread) --------------------------------------------------- */

/* The change as it is decided: its latest revision with the approvals
 * recorded through the API appended to its `approvals`. */
static int merged_change(chg_store_conn *w, const char *id, const char *content, chg_buf *out)
{
    chg_buf api;
    chg_buf_init(&api);
    int rc = id ? chg_store_approvals_json(w, id, &api) : CHG_OK;
    if (rc != CHG_OK || !id || api.len <= 2) { /* none: the revision as it is */
        chg_buf_free(&api);
        if (rc == CHG_OK)
            chg_buf_puts(out, content);
        return rc != CHG_OK ? rc : out->oom ? CHG_ENOMEM : CHG_OK;
    }
    json_error_t je;
    json_t *c = json_loads(content, 0, &je), *extra = json_loads(api.data, 0, &je);
    chg_buf_free(&api);
    if (!c || !extra) {
        json_decref(c);
        json_decref(extra);
        return CHG_EINTERNAL;
    }
    json_t *list = json_object_get(c, "approvals");
    if (!list) {
        list = json_array();
        json_object_set_new(c, "approvals", list);
    }
    /* "approve" is what a missing `decision` means (language.md): left
     * out, so a schema without the field takes the approval without a
     * warning; a rejection says so. A revision whose approvals are not a
     * list keeps them: the schema check then says so in the decision. */
    size_t i;
    json_t *ap;
    json_array_foreach(extra, i, ap) {
        const char *dec = json_string_value(json_object_get(ap, "decision"));
        if (dec && !strcmp(dec, "approve"))
            json_object_del(ap, "decision");
    }
    if (json_is_array(list))
        json_array_extend(list, extra);
    dump(c, out);
    json_decref(c);
    json_decref(extra);
    return out->oom ? CHG_ENOMEM : CHG_OK;
}

typedef struct decided {
    uint64_t seq;
    int64_t decision_id;    /* the decision stored (when changed) */
    char outcome[16];
    bool changed;
    bool same_outcome;      /* as the latest recorded: its actions are not queued */
} decided;

/* A decision made and not yet written: the §3 text, its outcome, what
 * the writer reads of it taken from the decision struct as it was written
 * (not parsed back from the text), the text parsed only when it has
 * actions (their arguments are stored as JSON of their own), and the
 * instant it was judged at. judge() makes one on any thread; record()
 * writes it on the writer's. */
typedef struct verdict {
    chg_buf text;
    char outcome[16];
    int risk;               /* the risk class's index: -1 none */
    bool emergency;
    char next_open[32];     /* window.next_open as the text has it, "" when null */
    json_t *dj;             /* the text parsed, when it has actions; else NULL */
    char now_text[32];
    int64_t now;
    bool evaluated;         /* chg_eval ran (verdict_count counts it) */
    double secs;            /* its time */
    chgd_asked asked;       /* what it asked AWS */
    bool held;              /* deferred by a concurrency limit (live_check) */
    /* what an allow does to the change's period (live_check decides,
     * live_record does): nothing, a new period from now, or the period
     * in flight taken over by this revision, from its since */
    enum { LIVE_KEEP, LIVE_NEW, LIVE_REVISE } live;
    int64_t live_since;
} verdict;

/* The concurrency limits that hold an allowed change (live_check): for
 * each, the limit, its reason's message and when a change it counts
 * ends first. */
typedef struct limit_holds {
    size_t n;
    uint32_t *limit;
    chg_buf *msg;
    int64_t *until;
} limit_holds;

/* A decision made: chgd_decisions_total and chgd_evaluation_seconds. */
static void verdict_count(const verdict *v)
{
    if (v->evaluated)
        chgd_metrics_decision(v->outcome, v->secs);
}

static void verdict_free(verdict *v)
{
    chg_buf_free(&v->text);
    json_decref(v->dj);
    v->dj = NULL;
    chgd_asked_free(&v->asked);
}

/* Judge a change at `now` with bundle b and facts, on the calling
 * thread's context: ev when the caller has it decoded, else the change's
 * JSON text. v is initialised here and freed by the caller; the caller
 * counts it (verdict_count) once it is known to be used: an event's
 * verdict made on its HTTP thread is not, when the writer finds the
 * event a redelivery. */
static int judge(chgd_bundle *b, const chg_facts *facts, const chg_event *ev, const char *json, size_t len,
                 int64_t now, const limit_holds *h, verdict *v)
{
    memset(v, 0, sizeof *v);
    chg_buf_init(&v->text);
    v->risk = -1;
    v->now = now;
    chgd_time_text(now, v->now_text);
    chgd_asked_init(&v->asked, now);
    chg_ctx *ctx = chgd_thread_ctx(b);
    if (!ctx)
        return CHG_ENOMEM;
    char err[512];
    chg_event *own = NULL;
    if (!ev && !(ev = own = chg_event_decode(b->b, json, len, err, sizeof err)))
        return strcmp(err, chg_strerror(CHG_ENOMEM)) ? CHG_EINTERNAL : CHG_ENOMEM;
    /* what the decision asks AWS (--aws), recorded with it for replay */
    chg_eval_input in = {.change = ev, .now = now, .facts = facts, .horizon = chgd_cfg->horizon,
                         .resolver = chgd_aws_resolver(), .resolver_ud = &v->asked};
    chg_decision dec;
    double t0 = mono();
    int rc = chg_eval(ctx, &in, &dec);
    double secs = mono() - t0;
    /* held by concurrency limits: still allowed by the rules, the same
     * decision with the limits' reasons, as defer (one writer) */
    for (size_t i = 0; rc == CHG_OK && h && i < h->n && (dec.outcome == CHG_OUT_ALLOW || v->held); i++) {
        rc = chg_decision_hold(ctx, &dec, h->limit[i], h->msg[i].data, (uint32_t)h->msg[i].len, h->until[i]);
        v->held = rc == CHG_OK && dec.outcome == CHG_OUT_DEFER;
    }
    if (rc == CHG_EINVAL)
        rc = CHG_EINTERNAL;
    if (rc == CHG_OK) {
        chg_decision_write(b->b, &dec, &v->text);
        snprintf(v->outcome, sizeof v->outcome, "%s", chg_outcome_name(dec.outcome));
        if (v->text.oom)
            rc = CHG_ENOMEM;
        /* the fields as chg_decision_write wrote them: "risk" the class's
         * name when it has one, next_open an instant when in range (the
         * writer's null otherwise, with or without a window) */
        v->risk = chg_bundle_risk_name(b->b, dec.risk) ? dec.risk : -1;
        v->emergency = dec.emergency;
        if (!chg_time_format_utc(dec.next_open, v->next_open))
            v->next_open[0] = '\0';
    }
    v->evaluated = true;
    v->secs = secs;
    chg_event_free(own);
    if (rc == CHG_OK && dec.nactions) {
        json_error_t je;
        if (!(v->dj = json_loads(v->text.data, 0, &je)))
            rc = CHG_EINTERNAL;
    }
    return rc;
}

/* ---- live changes: concurrency limits over the changes in flight ---------------------------------- */

/* docs/daemon.md, "Live changes". While the policy declares a limit,
 * every change chgd allows goes in flight (live_record) until it is
 * reported ended (POST /v1/changes/{id}/end), its declared `duration`
 * elapses or --in-flight-max does; an allow that would break a limit is
 * judged again here with the limits' reasons and stored as defer
 * (live_check), and every end decides the held changes again, in the
 * order they were first held (live_reeval_held). All of it runs on the
 * writer, on the transaction's state: two events cannot both take the
 * last place. */

static void holds_free(limit_holds *h)
{
    for (size_t i = 0; h->msg && i < h->n; i++)
        chg_buf_free(&h->msg[i]);
    chg_free(h->limit);
    chg_free(h->msg);
    chg_free(h->until);
    memset(h, 0, sizeof *h);
}

/* The class index of a risk name under bundle b; -1 (unknown: counted
 * under every limit) for none or a class the policy does not have. */
static int risk_index(const chg_bundle *b, const char *name)
{
    for (int i = 0; name && chg_bundle_risk_name(b, i); i++)
        if (!strcmp(chg_bundle_risk_name(b, i), name))
            return i;
    return -1;
}

/* When a change going in flight at since stops counting: its `duration`
 * (a positive integer of seconds, as events carry durations), at most
 * --in-flight-max; *bound says which. */
static int64_t live_until(const char *content, int64_t since, const char **bound)
{
    json_t *c = content ? json_loads(content, 0, NULL) : NULL;
    json_t *dur = json_object_get(c, "duration");
    int64_t max = chgd_cfg->in_flight_max;
    *bound = "max";
    if (json_is_integer(dur) && json_integer_value(dur) > 0 && json_integer_value(dur) < max) {
        max = json_integer_value(dur);
        *bound = "duration";
    }
    json_decref(c);
    return since + max;
}

static int live_instant(const char *s, int64_t *t)
{
    return s && chg_time_parse_iso(s, strlen(s), t) == CHG_OK ? CHG_OK : CHG_EINTERNAL;
}

/* The limits an allowed change would break, going in flight at start
 * beside the changes in flight (chg_concurrency_check: the planner's
 * algorithm), each with its reason and the earliest end of the changes
 * it lists. Every change in flight and not past its bound counts as in
 * flight at start, whatever its since (a change judged earlier reaches
 * the writer after one judged later; the clock may step back), and the
 * new change starts last: it is the one a violation is about. Its own
 * row (a new revision of a change in flight) is left out. */
static int live_limits(chg_store_conn *w, chgd_bundle *b, const char *id, const char *content, int64_t start,
                       const verdict *v, limit_holds *h)
{
    chg_vec act;
    chg_vec_init(&act);
    int rc = chg_store_inflight_active(w, &act);
    chg_inflight *c = rc == CHG_OK ? chg_calloc(act.len + 1, sizeof *c) : NULL;
    if (rc == CHG_OK && !c)
        rc = CHG_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; rc == CHG_OK && i < act.len; i++) {
        const chg_store_inflight *f = act.items[i];
        if (!strcmp(f->id, id))
            continue;
        c[n] = (chg_inflight){.id = f->id, .risk = risk_index(b->b, f->risk), .change = f->content,
                              .len = strlen(f->content)};
        if ((rc = live_instant(f->since, &c[n].start)) == CHG_OK)
            rc = live_instant(f->until, &c[n].end);
        if (rc == CHG_OK && c[n].end <= start) /* past its bound: the timer ends it */
            continue;
        if (c[n].start > start)
            c[n].start = start;
        n++;
    }
    const char *bound;
    size_t me = n;
    if (rc == CHG_OK) {
        c[me] = (chg_inflight){.id = id, .start = start, .end = live_until(content, start, &bound),
                               .risk = v->risk, .change = content, .len = strlen(content)};
        n++;
    }
    chg_concurrency_violation *viol = NULL;
    size_t nv = 0;
    char err[256];
    if (rc == CHG_OK && (rc = chg_concurrency_check(b->b, c, n, &viol, &nv, err, sizeof err)) != CHG_OK) {
        chgd_log(LOG_ERROR, "concurrency: %s", err);
        rc = rc == CHG_ENOMEM ? rc : CHG_EINTERNAL;
    }
    uint32_t nl = chg_bundle_nconcurrency(b->b);
    if (rc == CHG_OK && nv) {
        h->limit = chg_calloc(nl, sizeof *h->limit);
        h->msg = chg_calloc(nl, sizeof *h->msg);
        h->until = chg_calloc(nl, sizeof *h->until);
        if (!h->limit || !h->msg || !h->until)
            rc = CHG_ENOMEM;
    }
    /* the violations where this change is the one that starts: at most
     * one per limit (it starts once), in the limits' order */
    for (size_t i = 0; rc == CHG_OK && i < nv; i++) {
        if (viol[i].change != me || h->n >= nl)
            continue;
        size_t k = h->n++;
        h->limit[k] = viol[i].limit;
        chg_buf_init(&h->msg[k]);
        chg_concurrency_violation_text(b->b, c, &viol[i], &h->msg[k]);
        h->until[k] = INT64_MAX;
        for (size_t x = 0; x < viol[i].nlisted; x++)
            if (c[viol[i].inflight[x]].end < h->until[k])
                h->until[k] = c[viol[i].inflight[x]].end;
        if (h->msg[k].oom)
            rc = CHG_ENOMEM;
    }
    chg_concurrency_violations_free(viol, nv);
    chg_free(c);
    chg_store_inflights_free(&act);
    return rc;
}

/* What an allow of change id at revision rev does to its period
 * (docs/daemon.md, "Live changes"): a change in flight at this revision
 * keeps its place; a new revision of one in flight takes its period over
 * (from its since); a re-decision (reeval: an approval, a flag, a timer)
 * of a change whose period at this revision ended (unless a delivery
 * since was held), or of one allowed with no period (before the policy
 * had limits), starts none; anything
 * else — a first allow, a change delivered again after its end — starts
 * a new period now. */
/* Is change id listed as held by a limit? */
static int live_is_held(chg_store_conn *w, const char *id, bool *held)
{
    chg_vec ids;
    chg_vec_init(&ids);
    int rc = chg_store_held_ids(w, &ids);
    *held = false;
    for (size_t i = 0; rc == CHG_OK && i < ids.len && !*held; i++)
        *held = !strcmp(ids.items[i], id);
    chg_strings_free(&ids);
    return rc;
}

/* The latest decision stored for change id, into latest, and its outcome
 * ("" when it has none or it does not parse); CHG_ENOTFOUND when the
 * change has no decision yet. */
static int latest_decision(chg_store_conn *w, const char *id, chg_buf *latest, char outcome[16])
{
    outcome[0] = '\0';
    int rc = chg_store_decision_latest(w, id, latest);
    if (rc != CHG_OK)
        return rc;
    json_t *lj = json_loads(latest->data, 0, NULL);
    const char *was = json_string_value(json_object_get(lj, "outcome"));
    if (was && strlen(was) < 16)
        strcpy(outcome, was);
    json_decref(lj);
    return CHG_OK;
}

static int live_plan(chg_store_conn *w, const char *id, int64_t rev, bool reeval, verdict *v)
{
    chg_store_inflight own;
    int rc = chg_store_inflight_get(w, id, &own);
    v->live = LIVE_NEW;
    v->live_since = v->now;
    if (rc == CHG_OK) {
        if (!own.ended_at && own.revision < rev) {
            v->live = LIVE_REVISE;
            rc = live_instant(own.since, &v->live_since);
        } else if (!own.ended_at)
            v->live = LIVE_KEEP;
        else if (reeval && own.revision >= rev) {
            bool held = false; /* delivered again after its end and held: it starts when let go */
            rc = live_is_held(w, id, &held);
            v->live = held ? LIVE_NEW : LIVE_KEEP;
        }
        chg_store_inflight_free(&own);
        return rc;
    }
    if (rc != CHG_ENOTFOUND || !reeval)
        return rc == CHG_ENOTFOUND ? CHG_OK : rc;
    chg_buf latest;
    chg_buf_init(&latest);
    char was[16];
    rc = latest_decision(w, id, &latest, was);
    if (rc == CHG_OK && !strcmp(was, "allow"))
        v->live = LIVE_KEEP;
    chg_buf_free(&latest);
    return rc == CHG_ENOTFOUND ? CHG_OK : rc;
}

/* An allowed verdict v about change id at revision rev, checked against
 * the limits when it starts or takes over a period (live_plan): when one
 * holds it, v is judged again, on this thread, with their reasons. */
static int live_check(chg_store_conn *w, chgd_bundle *b, const chg_facts *facts, const char *id, int64_t rev,
                      const char *content, bool reeval, verdict *v)
{
    if (!id || strcmp(v->outcome, "allow") || chg_bundle_nconcurrency(b->b) == 0)
        return CHG_OK;
    int rc = live_plan(w, id, rev, reeval, v);
    /* an approved emergency goes (it still counts) */
    if (rc != CHG_OK || v->live == LIVE_KEEP || v->emergency)
        return rc;
    limit_holds h = {0};
    chg_buf merged;
    chg_buf_init(&merged);
    rc = live_limits(w, b, id, content, v->live_since, v, &h);
    if (rc == CHG_OK && h.n)
        rc = merged_change(w, id, content, &merged);
    if (rc == CHG_OK && h.n) {
        verdict again;
        rc = judge(b, facts, NULL, merged.data, merged.len, v->now, &h, &again);
        verdict_count(&again);
        verdict_free(v);
        *v = again;
    }
    chg_buf_free(&merged);
    holds_free(&h);
    return rc;
}

/* After a decision about change id is written: a held change is listed
 * (in the order first held), any other is not (also when the policy has
 * no limits now); an allow stored starts or takes over the change's
 * period as live_check planned. */
static int live_record(chg_store_conn *w, chgd_bundle *b, const char *id, int64_t rev, const char *content,
                       const verdict *v, const decided *d)
{
    int rc = chg_store_held_set(w, id, v->held);
    if (rc != CHG_OK || chg_bundle_nconcurrency(b->b) == 0 || !d->changed || strcmp(v->outcome, "allow") ||
        v->live == LIVE_KEEP)
        return rc;
    const char *bound;
    char since[32], until[32];
    chgd_time_text(v->live_since, since);
    chgd_time_text(live_until(content, v->live_since, &bound), until);
    chg_store_inflight nf = {.id = (char *)id, .revision = rev, .since = since, .until = until,
                             .bound = (char *)bound, .content = (char *)content,
                             .risk = (char *)chg_bundle_risk_name(b->b, v->risk)};
    return chg_store_inflight_put(w, &nf);
}

/* The change's latest recorded decision as the endpoints answer it:
 * the first of GET /v1/changes/{id}'s decisions. */
static int latest_body(chg_store_conn *w, const char *id, chg_buf *out)
{
    chg_buf all;
    chg_buf_init(&all);
    int rc = chg_store_change_json(w, id, &all);
    json_t *j = rc == CHG_OK ? json_loads(all.data, 0, NULL) : NULL;
    json_t *first = json_array_get(json_object_get(j, "decisions"), 0);
    if (rc == CHG_OK && !first)
        rc = CHG_EINTERNAL;
    char *text = first ? json_dumps(first, JSON_COMPACT) : NULL; /* in the store's order, as answered */
    if (rc == CHG_OK && !text)
        rc = CHG_ENOMEM;
    if (rc == CHG_OK)
        chg_buf_puts(out, text);
    free(text);
    json_decref(j);
    chg_buf_free(&all);
    return rc == CHG_OK && out->oom ? CHG_ENOMEM : rc;
}

/* Does decision text a differ from b in anything but its instant "at"?
 * -1: not JSON, or out of memory (then they differ: stored). */
static int differs_but_at(const char *a, const char *b)
{
    json_t *x = json_loads(a, 0, NULL), *y = json_loads(b, 0, NULL);
    int r = -1;
    if (json_is_object(x) && json_is_object(y)) {
        json_object_del(x, "at");
        json_object_del(y, "at");
        r = !json_equal(x, y);
    }
    json_decref(x);
    json_decref(y);
    return r;
}

/* Write verdict v about change id (NULL: a change without an id) at
 * revision rev: when d->changed, the decision's audit record, the
 * decision, its actions; in any case its timer. The answer's body, when
 * body is not NULL, is the decision with its extra fields. Writer only. */
static int record(chg_store_conn *w, chgd_bundle *b, const char *id, int64_t rev, const char *cause,
                  const char *content, const verdict *v, chg_buf *body, decided *d)
{
    snprintf(d->outcome, sizeof d->outcome, "%s", v->outcome);
    int rc = CHG_OK;
    size_t in_record = 0;
    if (d->changed) {
        /* the audit record holds the decision whole: the log alone says
         * what was decided, by which bundle, and why */
        chg_buf data;
        chg_buf_init(&data);
        chg_buf_puts(&data, "{\"bundle\":\"");
        chg_buf_puts(&data, chg_bundle_hash(b->b));
        chg_buf_puts(&data, "\",\"cause\":");
        chg_buf_json_string(&data, cause, strlen(cause));
        chg_buf_puts(&data, ",\"change_id\":");
        if (id)
            chg_buf_json_string(&data, id, strlen(id));
        else
            chg_buf_puts(&data, "null");
        chg_buf_puts(&data, ",\"decision\":");
        in_record = data.len; /* the decision is stored here alone: decisions point at it */
        chg_buf_puts(&data, v->text.data);
        chgd_asked_json(&v->asked, &data); /* the answers it saw, for replay */
        chg_buf_printf(&data, ",\"revision\":%lld}", (long long)rev);
        rc = data.oom ? CHG_ENOMEM : chg_store_audit_append(w, "decision", id, data.data, v->now_text, &d->seq);
        chg_buf_free(&data);
    }
    int64_t decision_id = 0;
    if (rc == CHG_OK && d->changed) {
        chg_store_decision sd = {.change_id = id, .revision = rev, .cause = cause, .outcome = d->outcome,
                                 .decision = v->text.data, .bundle = chg_bundle_hash(b->b),
                                 .decided_at = v->now_text, .seq = d->seq, .in_record = in_record};
        rc = chg_store_decision_put(w, &sd, &decision_id);
        d->decision_id = decision_id;
    }
    /* actions: queued in the same transaction as their decision, each
     * with its own idempotency key; with --dry-run recorded, never run */
    json_t *acts = d->changed && !d->same_outcome ? json_object_get(v->dj, "actions") : NULL;
    /* the key names the action in every store: the chain's head after the
     * decision's record hashes the whole history before it */
    uint64_t head_seq = 0;
    char head[65] = "";
    if (json_array_size(acts))
        chg_store_audit_head(w, &head_seq, head);
    for (size_t i = 0; rc == CHG_OK && i < json_array_size(acts); i++) {
        json_t *a = json_array_get(acts, i);
        chg_buf args;
        chg_buf_init(&args);
        dump(json_object_get(a, "args") ? json_object_get(a, "args") : json_null(), &args);
        char key[64];
        snprintf(key, sizeof key, "chg-%llu-%zu-%.16s", (unsigned long long)d->seq, i, head);
        const char *state = chgd_cfg->dry_run ? "dry-run" : "queued";
        rc = args.oom ? CHG_ENOMEM
                      : chg_store_action_put(w, decision_id, (int)i, json_string_value(json_object_get(a, "call")),
                                             args.data, state, key);
        if (rc == CHG_OK)
            chgd_metrics_action(state);
        if (rc == CHG_OK && !chgd_cfg->dry_run)
            chgd_actions_queued();
        chg_buf_free(&args);
    }
    /* a change that only time holds back is decided again at next_open
     * (chgd_timers_run); only an instant still to come is a timer — a
     * policy that judges at the change's own instant (`at
     * change.requested_at`) has a next_open that waiting never reaches */
    if (rc == CHG_OK && id) {
        bool waits = v->next_open[0] && strcmp(v->next_open, v->now_text) > 0 &&
                     (!strcmp(d->outcome, "defer") || !strcmp(d->outcome, "deny"));
        rc = chg_store_timer_set(w, id, waits ? v->next_open : NULL);
    }
    if (rc == CHG_OK && id)
        rc = live_record(w, b, id, rev, content, v, d);
    if (rc == CHG_OK && body && d->changed)
        chg_store_decision_body(body, v->text.data, v->text.len, d->seq, v->now_text, chg_bundle_hash(b->b), rev,
                                cause);
    else if (rc == CHG_OK && body && id)
        rc = latest_body(w, id, body);
    return rc;
}

/* Decide change id (NULL: a change without an id) at revision rev with
 * bundle b on the writer, on the state its transaction sees, and write
 * it (record). A re-evaluation (reeval: an approval, a flag, a timer) is
 * measured against the change's latest recorded decision (docs/daemon.md,
 * "Decided again"): stored only when it differs in more than its instant
 * (d->changed), its actions queued only when its outcome differs — a
 * duplicate approval, or a flag that changes nothing, stores and runs
 * nothing, and the answer's body is then the latest decision. */
static int decide(chg_store_conn *w, chgd_bundle *b, const char *id, int64_t rev, const char *content,
                  const char *cause, bool reeval, chg_buf *body, decided *d)
{
    memset(d, 0, sizeof *d);
    const chg_facts *facts;
    int rc = writer_facts_get(w, &facts);
    if (rc != CHG_OK)
        return rc;
    chg_buf merged, latest;
    chg_buf_init(&merged);
    chg_buf_init(&latest);
    verdict v = {0};
    rc = merged_change(w, id, content, &merged);
    if (rc == CHG_OK)
        rc = judge(b, facts, NULL, merged.data, merged.len, chgd_now(), NULL, &v);
    verdict_count(&v);
    if (rc == CHG_OK)
        rc = live_check(w, b, facts, id, rev, content, reeval, &v);
    d->changed = true;
    if (rc == CHG_OK && reeval && id) {
        char was[16];
        int lr = latest_decision(w, id, &latest, was);
        if (lr == CHG_OK) {
            d->same_outcome = !strcmp(was, v.outcome);
            d->changed = !d->same_outcome || differs_but_at(latest.data, v.text.data);
        } else if (lr != CHG_ENOTFOUND)
            rc = lr;
    }
    if (rc == CHG_OK)
        rc = record(w, b, id, rev, cause, content, &v, body, d);
    verdict_free(&v);
    chg_buf_free(&merged);
    chg_buf_free(&latest);
    return rc;
}

/* The status and error body for a job that failed for a machine reason. */
static void job_failed(chgd_answer *a, int rc)
{
    if (rc == CHG_ENOMEM)
        chgd_error(a, 503, "out_of_memory", "out of memory: try again");
    else if (rc == CHG_EINTERNAL)
        chgd_error(a, 500, "internal", "chgd failed a check of its own (a bug to report)");
    else
        chgd_error(a, 503, "store_unavailable", "the store could not record the change: try again");
}

/* An API call's job run on the writer with the current bundle (*b, a
 * reference for the job's time), the actions it queued woken, and a
 * machine failure answered. */
static void run_call(chgd_answer *a, chg_store_job fn, void *job, chgd_bundle **b)
{
    *b = chgd_bundle_acquire();
    int rc = chg_store_run(chgd_store, fn, job);
    chgd_actions_kick();
    if (rc != CHG_OK)
        job_failed(a, rc);
    chgd_bundle_release(*b);
    *b = NULL;
}

/* ---- events --------------------------------------------------------------------------------------- */

/* An event on its way: intake and, most often, its decision are made on
 * the HTTP thread that took it (judged), each on that thread's context;
 * the writer then only checks that what it was judged on still holds,
 * chains the audit records and commits. */
typedef struct event_job {
    chgd_bundle *b;         /* a reference */
    chg_buf key;            /* the idempotency key */
    chg_buf raw;            /* the event as it arrived, compact JSON */
    chg_buf change;         /* JSON text, as intake gave it */
    char body_sha[65], sha[65]; /* of the body, of the change */
    json_t *cj;             /* the change parsed, when change_id_of_text could not read it */
    const char *id;         /* its "id", or NULL: into id_text, id_str or cj */
    char id_text[24];       /* an integer "id" as text */
    chg_buf id_str;         /* a string "id" read from the text */
    const char *intake;     /* the intake used, or NULL */
    chgd_answer *a;
    const chgd_later *later; /* NULL: the caller waits */
    /* the decision made on the HTTP thread, and the state it rests on:
     * the change's latest decision (its audit seq, 0 none) and the flags */
    bool judged;
    uint64_t basis;
    chgd_facts *facts;      /* a reference */
    int64_t rev;
    bool new_revision;
    verdict v;
} event_job;

static void event_job_free(event_job *j)
{
    chg_buf_free(&j->key);
    chg_buf_free(&j->raw);
    chg_buf_free(&j->change);
    chg_buf_free(&j->id_str);
    json_decref(j->cj);
    verdict_free(&j->v);
    chgd_facts_release(j->facts);
    chgd_bundle_release(j->b);
    chg_free(j);
}

/* The event's audit record: the event as it arrived and the flags it
 * met, what `chgc audit export --events` gives `chgc replay`. */
static void event_data(const event_job *j, const chg_vec *flags, bool new_revision, int64_t rev, chg_buf *data)
{
    chg_buf_puts(data, "{\"body_sha256\":\"");
    chg_buf_puts(data, j->body_sha);
    chg_buf_puts(data, "\",\"change\":");
    chg_buf_puts(data, j->change.data);
    chg_buf_puts(data, ",\"change_id\":");
    if (j->id)
        chg_buf_json_string(data, j->id, strlen(j->id));
    else
        chg_buf_puts(data, "null");
    chg_buf_puts(data, ",\"event\":");
    chg_buf_puts(data, j->raw.data);
    chg_buf_puts(data, ",\"flags\":[");
    for (size_t i = 0; i < flags->len; i++) {
        if (i)
            chg_buf_putc(data, ',');
        chg_buf_json_string(data, flags->items[i], strlen(flags->items[i]));
    }
    chg_buf_puts(data, "],\"intake\":");
    if (j->intake)
        chg_buf_json_string(data, j->intake, strlen(j->intake));
    else
        chg_buf_puts(data, "null");
    chg_buf_puts(data, ",\"key\":");
    chg_buf_json_string(data, j->key.data, j->key.len);
    chg_buf_printf(data, ",\"new_revision\":%s,\"revision\":%lld}", new_revision ? "true" : "false", (long long)rev);
}

static bool same_strings(const chg_vec *a, const chg_vec *b)
{
    if (a->len != b->len)
        return false;
    for (size_t i = 0; i < a->len; i++)
        if (strcmp(a->items[i], b->items[i]))
            return false;
    return true;
}

/* Does what the event was judged on hold in the writer's transaction: no
 * decision of the change since (so no revision, no approval), the same
 * flags set? Anything else it read is fixed for its life (the bundle it
 * holds, the --facts file). */
static int basis_holds(chg_store_conn *w, const event_job *j, bool *holds)
{
    *holds = false;
    uint64_t seq = 0;
    int rc = j->id ? chg_store_change_seq(w, j->id, &seq) : CHG_OK;
    if (rc == CHG_ENOTFOUND)
        rc = CHG_OK;
    if (rc != CHG_OK || seq != j->basis)
        return rc;
    chg_vec names;
    chg_vec_init(&names);
    rc = chg_store_flag_names(w, &names);
    *holds = rc == CHG_OK && same_strings(&names, &j->facts->names);
    chg_strings_free(&names);
    return rc;
}

/* The writer's part: a redelivery that won the race answers the recorded
 * decision; a decision judged on a state that still holds is written as
 * it is; otherwise (a concurrent write about the same change, a flag set
 * meanwhile) the event is decided here again, on the transaction's state,
 * as the one writer decides approvals and flags. */
static int event_run(chg_store_conn *w, void *ud)
{
    event_job *j = ud;
    chgd_answer *a = j->a;
    chg_buf_reset(&a->body);
    int status;
    int rc = chg_store_idem_get(w, j->key.data, &status, &a->body);
    if (rc == CHG_OK) { /* a concurrent delivery of the same event won */
        a->status = status;
        a->replayed = true;
        return CHG_OK;
    }
    if (rc != CHG_ENOTFOUND)
        return rc;
    verdict_count(&j->v); /* not a redelivery: the HTTP thread's decision was made for it */
    bool holds = false;
    if (j->judged && (rc = basis_holds(w, j, &holds)) != CHG_OK)
        return rc;
    char now_text[32];
    if (holds)
        memcpy(now_text, j->v.now_text, sizeof now_text);
    else
        chgd_time_text(chgd_now(), now_text);
    int64_t rev = j->rev;
    bool new_revision = j->new_revision;
    if (!holds && j->id) {
        uint64_t seq;
        char old[65];
        rc = chg_store_change_head(w, j->id, &seq, &rev, old);
        /* a change id seen again with new content: a new revision */
        new_revision = rc == CHG_ENOTFOUND || (rc == CHG_OK && strcmp(old, j->sha));
        rev = rc == CHG_ENOTFOUND ? 1 : rev + new_revision;
        if (rc == CHG_ENOTFOUND)
            rc = CHG_OK;
    }
    if (rc == CHG_OK && new_revision)
        rc = chg_store_revision_put(w, j->id, rev, j->change.data, j->sha, now_text);
    chg_vec flags;
    chg_vec_init(&flags);
    if (rc == CHG_OK && !holds)
        rc = chg_store_flag_names(w, &flags);
    chg_buf data;
    chg_buf_init(&data);
    if (rc == CHG_OK) {
        event_data(j, holds ? &j->facts->names : &flags, new_revision, rev, &data);
        rc = data.oom ? CHG_ENOMEM : chg_store_audit_append(w, "event", j->id, data.data, now_text, NULL);
    }
    chg_buf_free(&data);
    chg_strings_free(&flags);
    if (rc != CHG_OK)
        return rc;
    decided d = {.changed = true};
    /* the limits are checked here, on the transaction's changes in flight:
     * of two events judged allow at once on other threads, the second to
     * reach the writer finds the first in flight */
    if (holds)
        rc = live_check(w, j->b, chgd_facts_get(j->facts), j->id, rev, j->change.data, false, &j->v);
    if (rc == CHG_OK)
        rc = holds ? record(w, j->b, j->id, rev, "event", j->change.data, &j->v, &a->body, &d)
                   : decide(w, j->b, j->id, rev, j->change.data, "event", false, &a->body, &d);
    if (rc == CHG_OK)
        rc = a->body.oom ? CHG_ENOMEM
                         : chg_store_idem_put(w, j->key.data, 200, d.changed ? d.decision_id : 0, a->body.data,
                                              now_text);
    if (rc == CHG_OK)
        a->status = 200;
    return rc;
}

/* The HTTP thread's part, after intake: read the state the decision
 * rests on — the change's head (its latest decision's seq, its latest
 * revision: one row) first, so that a write landing before the approvals
 * are read moves the seq and the writer sees the change — and
 * judge the change on it with facts of the flags as last committed. Any
 * failure here leaves the decision to the writer. */
static void event_judge(event_job *j, const chg_event *ev, int64_t now)
{
    chg_store_conn *r = chg_store_reader(chgd_store);
    if (!r)
        return;
    int rc = CHG_OK;
    j->basis = 0;
    j->rev = 0;
    j->new_revision = false;
    bool seen = false;
    if (j->id) {
        char old[65];
        rc = chg_store_change_head(r, j->id, &j->basis, &j->rev, old);
        seen = rc == CHG_OK;
        if (rc == CHG_ENOTFOUND) { /* not seen: the writer tells if it is by then */
            j->rev = 1;
            j->new_revision = true;
            rc = CHG_OK;
        } else if (rc == CHG_OK && strcmp(old, j->sha)) {
            j->rev++;
            j->new_revision = true;
        }
    }
    chg_buf merged;
    chg_buf_init(&merged);
    /* a change not seen has no approval recorded through the API (they
     * are recorded about a stored change only): not read. Had one been
     * recorded since, its decision moved the seq from the basis 0 */
    if (rc == CHG_OK)
        rc = merged_change(r, seen ? j->id : NULL, j->change.data, &merged);
    /* no approval recorded through the API: the change is what intake
     * decoded, and is judged as it is */
    bool as_is = rc == CHG_OK && merged.len == j->change.len;
    if (rc == CHG_OK)
        rc = judge(j->b, chgd_facts_get(j->facts), as_is ? ev : NULL, merged.data, merged.len, now, NULL, &j->v);
    j->judged = rc == CHG_OK;
    chg_buf_free(&merged);
}

/* The writer's answer came (or the job could not be queued): the status
 * of a failure, and the connection resumed. */
static void event_done(int rc, void *ud)
{
    event_job *j = ud;
    chgd_actions_kick();
    if (rc != CHG_OK)
        job_failed(j->a, rc);
    const chgd_later *later = j->later;
    event_job_free(j);
    if (later)
        later->resume(later->ud);
}

/* A change's "id": a string as it is, an integer by its canonical
 * decimal text (written to text); NULL for none or any other value. */
static const char *change_id(const json_t *c, char text[24])
{
    const json_t *id = json_object_get(c, "id");
    if (json_is_integer(id)) {
        snprintf(text, 24, "%" JSON_INTEGER_FORMAT, json_integer_value(id));
        return text;
    }
    return json_string_value(id);
}

/* A JSON string at p (its opening quote) skipped: past its closing
 * quote, or NULL when the text ends first; *esc says whether it holds an
 * escape. */
static const char *skip_string(const char *p, const char *end, bool *esc)
{
    *esc = false;
    for (p++; p < end; p++)
        if (*p == '\\') {
            *esc = true;
            if (++p == end)
                return NULL;
        } else if (*p == '"')
            return p + 1;
    return NULL;
}

/* A JSON value at p, in an object, skipped: at the ',' or '}' after it,
 * or NULL when the text ends first. */
static const char *skip_value(const char *p, const char *end)
{
    int depth = 0;
    bool esc;
    while (p && p < end) {
        if (depth == 0 && (*p == ',' || *p == '}'))
            return p;
        if (*p == '"')
            p = skip_string(p, end, &esc);
        else {
            depth += *p == '{' || *p == '[' ? 1 : *p == '}' || *p == ']' ? -1 : 0;
            p++;
        }
    }
    return NULL;
}

/* change_id() of the change text s[0..n), read without parsing it into a
 * tree: intake writes a change compact with its keys sorted (jansson's
 * dump), where a key is a quoted run and a string without a backslash is
 * its own bytes, an integer its canonical digits. *id is set to the id
 * (in j's id_str or id_text) or NULL; false when the text holds what this
 * reader does not take (an escape in a key or in the id, no object, no
 * memory), and the caller parses it. */
static bool change_id_of_text(event_job *j, const char *s, size_t n)
{
    const char *p = s, *end = s + n;
    j->id = NULL;
    if (p == end || *p++ != '{')
        return false;
    if (p < end && *p == '}')
        return true;
    bool esc;
    while (p < end && *p == '"') {
        const char *k = p + 1, *v = skip_string(p, end, &esc);
        if (!v || esc || v == end || *v != ':')
            return false;
        if (v - 1 - k != 2 || memcmp(k, "id", 2)) {
            if (!(p = skip_value(v + 1, end)))
                return false;
            if (*p++ == '}')
                return true;
            continue;
        }
        if (++v < end && *v == '"') { /* a string */
            const char *e = skip_string(v, end, &esc);
            if (!e || esc)
                return false;
            chg_buf_append(&j->id_str, v + 1, (size_t)(e - 1 - (v + 1)));
            j->id = j->id_str.oom ? NULL : j->id_str.data ? j->id_str.data : "";
            return !j->id_str.oom;
        }
        size_t len = strspn(v, "-0123456789"); /* an integer: anything else is no id */
        if (len && len < sizeof j->id_text && v + len < end && (v[len] == ',' || v[len] == '}')) {
            memcpy(j->id_text, v, len);
            j->id_text[len] = '\0';
            j->id = j->id_text;
        }
        return true;
    }
    return false;
}

/* The event's change id, from the change's text (change_id_of_text), or
 * from its parsed tree when that reader does not take the text. Debug
 * builds (the tests') check the reader against the tree on every event. */
static void event_change_id(event_job *j)
{
    json_error_t je;
    if (!change_id_of_text(j, j->change.data, j->change.len)) {
        j->cj = json_loads(j->change.data, 0, &je);
        j->id = change_id(j->cj, j->id_text);
        return;
    }
#ifdef CHG_DEBUG_ASSERTS
    json_t *cj = json_loads(j->change.data, 0, &je);
    char text[24];
    const char *want = change_id(cj, text);
    CHG_ASSERT(cj && (want ? j->id && !strcmp(want, j->id) : !j->id));
    json_decref(cj);
#endif
}

/* An EventBridge envelope's id, or NULL when j is no envelope. */
static const char *envelope_id(const json_t *j)
{
    if (json_object_get(j, "detail-type") || (json_object_get(j, "source") && json_object_get(j, "detail")))
        return json_string_value(json_object_get(j, "id"));
    return NULL;
}

/* The idempotency key: the header, else an envelope's id (also of an
 * envelope an SNS notification carries: one event, whether it came by
 * HTTP, through SNS or through SQS), else an SNS notification's
 * MessageId, else the SHA-256 of the body; each in its own namespace, so
 * a header cannot collide with an envelope id. */
static void idem_key(const json_t *j, const char *header, const char *body_sha, chg_buf *out)
{
    const char *env = envelope_id(j);
    const char *sns = NULL;
    const char *type = json_string_value(json_object_get(j, "Type"));
    json_t *inner = NULL;
    if (type && !strcmp(type, "Notification")) {
        sns = json_string_value(json_object_get(j, "MessageId"));
        const char *m = json_string_value(json_object_get(j, "Message"));
        if (!env && m && (inner = json_loads(m, 0, NULL)))
            env = envelope_id(inner);
    }
    if (header) {
        chg_buf_puts(out, "header:");
        chg_buf_puts(out, header);
    } else if (env && *env) {
        chg_buf_puts(out, "envelope:");
        chg_buf_puts(out, env);
    } else if (sns && *sns) {
        chg_buf_puts(out, "sns:");
        chg_buf_puts(out, sns);
    } else {
        chg_buf_puts(out, "sha256:");
        chg_buf_puts(out, body_sha);
    }
    json_decref(inner);
}

/* Parse a request body: a JSON document, or 400 with the place. */
static json_t *parse_body(const char *body, size_t len, chgd_answer *a)
{
    json_error_t je;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!j)
        chgd_error(a, 400, "bad_json", "the body is not JSON: line %d, column %d: %s", je.line, je.column, je.text);
    return j;
}

/* An event refused before it reaches the writer (intake does not take
 * it, no change id under concurrency limits) may still be a redelivery of
 * one taken before (by another bundle): answered as recorded, once
 * durable as the first delivery was. false: not recorded (or the store
 * failed: the refusal stands). Any other event's key is looked up by the
 * writer alone, in the transaction that would record it (event_run). */
static bool event_replayed(event_job *j, chgd_answer *a)
{
    chg_store_conn *r = chg_store_reader(chgd_store);
    int status;
    chg_buf body;
    chg_buf_init(&body);
    if (!r || chg_store_idem_get(r, j->key.data, &status, &body) != CHG_OK || body.oom ||
        chg_store_durable(chgd_store) != CHG_OK) {
        chg_buf_free(&body);
        return false;
    }
    chg_buf_reset(&a->body);
    chg_buf_append(&a->body, body.data, body.len);
    chg_buf_free(&body);
    a->status = status;
    a->replayed = true;
    return true;
}

int chgd_event(const char *body, size_t len, const char *header_key, chgd_answer *a)
{
    json_t *j = parse_body(body, len, a);
    if (!j)
        return CHG_OK;
    if (!json_is_object(j)) {
        json_decref(j);
        chgd_error(a, 400, "bad_request", "an event must be a JSON object");
        return CHG_OK;
    }
    event_job *job = chg_calloc(1, sizeof *job);
    if (!job) {
        json_decref(j);
        job_failed(a, CHG_ENOMEM);
        return CHG_OK;
    }
    job->a = a;
    chg_buf_init(&job->key);
    chg_buf_init(&job->raw);
    chg_buf_init(&job->change);
    chg_buf_init(&job->id_str);
    chgd_sha256_hex(body, len, job->body_sha);
    idem_key(j, header_key, job->body_sha, &job->key);
    dump(j, &job->raw);
    json_decref(j);
    if (job->key.oom || job->raw.oom) {
        event_job_free(job);
        job_failed(a, CHG_ENOMEM);
        return CHG_OK;
    }
    job->b = chgd_bundle_acquire();
    job->facts = chgd_facts_acquire();
    int rc;
    chg_ctx *ctx = chgd_thread_ctx(job->b);
    char err[1024];
    chg_event *ev = NULL;
    int intake = -1;
    /* one instant: intake's and the decision's */
    int64_t now = chgd_now();
    if (!ctx)
        rc = CHG_ENOMEM;
    else {
        chg_eval_input in = {.now = now, .facts = chgd_facts_get(job->facts), .horizon = chgd_cfg->horizon};
        ev = chg_event_intake_change(ctx, body, len, &in, &intake, &job->change, err, sizeof err);
        rc = ev ? CHG_OK : strcmp(err, chg_strerror(CHG_ENOMEM)) ? CHG_EINVAL : CHG_ENOMEM;
    }
    if (rc == CHG_OK && job->change.oom)
        rc = CHG_ENOMEM;
    if (rc != CHG_OK) {
        if (rc == CHG_EINVAL && !event_replayed(job, a))
            chgd_error(a, 422, "not_a_change", "%s", err);
        else if (rc != CHG_EINVAL)
            job_failed(a, rc);
        chg_event_free(ev);
        event_job_free(job);
        return CHG_OK;
    }
    event_change_id(job);
    if (!job->id && chg_bundle_nconcurrency(job->b->b)) {
        /* a change chgd cannot follow would escape the limits unseen */
        if (!event_replayed(job, a))
            chgd_error(a, 422, "no_change_id",
                       "the policy declares concurrency limits: a change needs an \"id\" (a string or an integer) "
                       "to be followed while in flight");
        chg_event_free(ev);
        event_job_free(job);
        return CHG_OK;
    }
    job->intake = intake >= 0 ? chg_bundle_intake_name(job->b->b, (uint32_t)intake) : NULL;
    chgd_sha256_hex(job->change.data, job->change.len, job->sha);
    event_judge(job, ev, now);
    chg_event_free(ev);
    /* written by the writer; the answer waits for its commit, on this
     * thread, or with the connection suspended and this thread free */
    job->later = a->later;
    if (!job->later) {
        event_done(chg_store_run(chgd_store, event_run, job), job);
        return CHG_OK;
    }
    a->pending = true;
    job->later->suspend(job->later->ud);
    rc = chg_store_submit(chgd_store, event_run, job, event_done, job);
    if (rc != CHG_OK)
        event_done(rc, job);
    return CHG_OK;
}

/* ---- dry evaluation --------------------------------------------------------------------------------- */

/* One input to one answer line: the decision with "bundle" beside it, or
 * {"error":{…}}. No state is read or written. */
static void evaluate_one(chg_ctx *ctx, chgd_bundle *b, const chg_facts *facts, const char *s, size_t n,
                         const char *where, chg_buf *out, int *status)
{
    char err[1024];
    chg_eval_input in = {.now = chgd_now(), .facts = facts, .horizon = chgd_cfg->horizon};
    chg_event *ev = chg_event_intake(ctx, s, n, &in, NULL, err, sizeof err);
    if (!ev) {
        bool nomem = !strcmp(err, chg_strerror(CHG_ENOMEM));
        bool json = !strncmp(err, "line ", 5);
        chgd_answer e = {0};
        chg_buf_init(&e.body);
        chgd_error(&e, 0, nomem ? "out_of_memory" : json ? "bad_json" : "not_a_change", "%s%s%s", where ? where : "",
                   where ? ": " : "", err);
        chg_buf_append(out, e.body.data, e.body.len);
        chg_buf_free(&e.body);
        *status = nomem ? 503 : json ? 400 : 422;
        return;
    }
    in.change = ev;
    chg_decision d;
    double t0 = mono();
    int rc = chg_eval(ctx, &in, &d);
    double secs = mono() - t0;
    chg_buf text;
    chg_buf_init(&text);
    chg_decision_write(b->b, &d, &text);
    chgd_metrics_decision(chg_outcome_name(d.outcome), secs);
    chg_buf_append(out, text.data, text.len ? text.len - 1 : 0);
    chg_buf_puts(out, ",\"bundle\":\"");
    chg_buf_puts(out, chg_bundle_hash(b->b));
    chg_buf_puts(out, "\"}");
    chg_buf_free(&text);
    chg_event_free(ev);
    *status = rc == CHG_ENOMEM ? 503 : 200;
}

int chgd_evaluate(const char *body, size_t len, bool ndjson, chgd_answer *a)
{
    chgd_bundle *b = chgd_bundle_acquire();
    chgd_facts *f = chgd_facts_acquire();
    chg_ctx *ctx = chgd_thread_ctx(b);
    chg_buf_reset(&a->body);
    if (!ctx)
        job_failed(a, CHG_ENOMEM);
    else if (!ndjson) {
        evaluate_one(ctx, b, chgd_facts_get(f), body, len, NULL, &a->body, &a->status);
        if (a->status == 200 && a->body.oom)
            job_failed(a, CHG_ENOMEM);
    } else {
        /* one answer line per input line, each with its own error; the
         * status is 200 when every line could be read as a request */
        a->status = 200;
        chg_lines *in = chg_lines_memory(body, len, "body", 0);
        const char *line;
        size_t n;
        unsigned long lineno;
        char err[256], where[32];
        int rc;
        while (in && (rc = chg_lines_next(in, &line, &n, &lineno, err, sizeof err)) == 1) {
            snprintf(where, sizeof where, "line %lu", lineno);
            int st;
            evaluate_one(ctx, b, chgd_facts_get(f), line, n, where, &a->body, &st);
            chg_buf_putc(&a->body, '\n');
        }
        chg_lines_close(in);
        if (!in || a->body.oom)
            job_failed(a, CHG_ENOMEM);
        else
            a->ndjson = true;
    }
    chgd_facts_release(f);
    chgd_bundle_release(b);
    return CHG_OK;
}

/* ---- approvals ------------------------------------------------------------------------------------------ */

typedef struct approval_job {
    chgd_bundle *b;
    const char *id, *by, *group, *at, *decision;
    chgd_answer *a;
} approval_job;

static int approval_run(chg_store_conn *w, void *ud)
{
    approval_job *j = ud;
    chg_buf content, sha;
    chg_buf_init(&content);
    chg_buf_init(&sha);
    int64_t rev;
    int rc = chg_store_change_latest(w, j->id, &rev, &content, &sha);
    if (rc == CHG_ENOTFOUND) {
        chgd_error(j->a, 404, "not_found", "no change with id '%.200s'", j->id);
        rc = CHG_OK;
        goto done;
    }
    char now_text[32];
    chgd_time_text(chgd_now(), now_text);
    if (rc == CHG_OK)
        rc = chg_store_approval_put(w, j->id, j->by, j->group, j->at, j->decision, now_text);
    if (rc == CHG_OK) {
        chg_buf data;
        chg_buf_init(&data);
        chg_buf_puts(&data, "{\"at\":");
        chg_buf_json_string(&data, j->at, strlen(j->at));
        chg_buf_puts(&data, ",\"by\":");
        chg_buf_json_string(&data, j->by, strlen(j->by));
        chg_buf_puts(&data, ",\"change_id\":");
        chg_buf_json_string(&data, j->id, strlen(j->id));
        chg_buf_puts(&data, ",\"decision\":");
        chg_buf_json_string(&data, j->decision, strlen(j->decision));
        chg_buf_puts(&data, ",\"group\":");
        if (j->group)
            chg_buf_json_string(&data, j->group, strlen(j->group));
        else
            chg_buf_puts(&data, "null");
        chg_buf_putc(&data, '}');
        rc = data.oom ? CHG_ENOMEM : chg_store_audit_append(w, "approval", j->id, data.data, now_text, NULL);
        chg_buf_free(&data);
    }
    decided d;
    chg_buf_reset(&j->a->body);
    if (rc == CHG_OK)
        rc = decide(w, j->b, j->id, rev, content.data, "approval", true, &j->a->body, &d);
    if (rc == CHG_OK)
        j->a->status = 200;
done:
    chg_buf_free(&content);
    chg_buf_free(&sha);
    return rc;
}

/* A string field of a request object: NULL when absent; false (with a
 * 400 answer) when present and not a non-empty string of at most 256
 * bytes. */
static bool str_field(json_t *o, const char *name, bool required, const char **out, chgd_answer *a)
{
    json_t *v = json_object_get(o, name);
    *out = NULL;
    if (!v) {
        if (required)
            chgd_error(a, 400, "bad_request", "'%s' is required", name);
        return !required;
    }
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 256 ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        chgd_error(a, 400, "bad_request", "'%s' must be a non-empty string of at most 256 bytes", name);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

/* Only the fields named may be present: a misspelt field is an error,
 * not silently ignored. */
static bool only_fields(json_t *o, const char *const *names, chgd_answer *a)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        bool known = false;
        for (int i = 0; names[i] && !known; i++)
            known = !strcmp(k, names[i]);
        if (!known) {
            chgd_error(a, 400, "bad_request", "unknown field '%.64s'", k);
            return false;
        }
    }
    return true;
}

int chgd_approve(const char *id, const char *body, size_t len, chgd_answer *a)
{
    json_t *j = parse_body(body, len, a);
    if (!j)
        return CHG_OK;
    static const char *const fields[] = {"by", "group", "at", "decision", NULL};
    approval_job job = {.id = id, .a = a};
    char at[32];
    if (!json_is_object(j))
        chgd_error(a, 400, "bad_request", "an approval must be a JSON object");
    else if (only_fields(j, fields, a) && str_field(j, "by", true, &job.by, a) &&
             str_field(j, "group", false, &job.group, a) && str_field(j, "at", false, &job.at, a) &&
             str_field(j, "decision", false, &job.decision, a)) {
        int64_t t;
        if (job.decision && strcmp(job.decision, "approve") && strcmp(job.decision, "reject"))
            chgd_error(a, 400, "bad_request", "'decision' must be \"approve\" or \"reject\"");
        else if (job.at && chg_time_parse_iso(job.at, strlen(job.at), &t) != CHG_OK)
            chgd_error(a, 400, "bad_request", "'at' must be an RFC 3339 instant, such as 2026-12-02T10:00:00Z");
        else {
            /* stored in UTC, as the change's other instants are */
            chgd_time_text(job.at ? t : chgd_now(), at);
            job.at = at;
            if (!job.decision)
                job.decision = "approve";
            run_call(a, approval_run, &job, &job.b);
        }
    }
    json_decref(j);
    return CHG_OK;
}

/* ---- flags ---------------------------------------------------------------------------------------------- */

typedef struct flag_job {
    chgd_bundle *b;
    const char *name, *by, *why;
    bool set;
    chgd_answer *a;
} flag_job;

static int flag_run(chg_store_conn *w, void *ud)
{
    flag_job *j = ud;
    char now_text[32];
    chgd_time_text(chgd_now(), now_text);
    int rc = j->set ? chg_store_flag_put(w, j->name, j->by, j->why, now_text) : chg_store_flag_delete(w, j->name);
    if (rc == CHG_ENOTFOUND) {
        chgd_error(j->a, 404, "not_found", "the flag '%s' is not set", j->name);
        return CHG_OK;
    }
    if (rc != CHG_OK)
        return rc;
    chg_buf data;
    chg_buf_init(&data);
    chg_buf_puts(&data, "{\"by\":");
    if (j->by)
        chg_buf_json_string(&data, j->by, strlen(j->by));
    else
        chg_buf_puts(&data, "null");
    chg_buf_puts(&data, ",\"name\":");
    chg_buf_json_string(&data, j->name, strlen(j->name));
    chg_buf_printf(&data, ",\"set\":%s,\"why\":", j->set ? "true" : "false");
    if (j->why)
        chg_buf_json_string(&data, j->why, strlen(j->why));
    else
        chg_buf_puts(&data, "null");
    chg_buf_putc(&data, '}');
    rc = data.oom ? CHG_ENOMEM : chg_store_audit_append(w, "flag", j->name, data.data, now_text, NULL);
    chg_buf_free(&data);
    /* every change the flag can affect is decided again; a decision that
     * comes out the same is not written again */
    long n = 0, changed = 0;
    bool reads = chg_bundle_reads_flag(j->b->b, j->name);
    chg_vec ids;
    chg_vec_init(&ids);
    if (rc == CHG_OK && reads)
        rc = chg_store_change_ids(w, &ids);
    for (size_t i = 0; rc == CHG_OK && i < ids.len; i++) {
        chg_buf content, sha;
        chg_buf_init(&content);
        chg_buf_init(&sha);
        int64_t rev;
        rc = chg_store_change_latest(w, ids.items[i], &rev, &content, &sha);
        decided d;
        if (rc == CHG_OK)
            rc = decide(w, j->b, ids.items[i], rev, content.data, "flag", true, NULL, &d);
        n++;
        changed += rc == CHG_OK && d.changed;
        chg_buf_free(&content);
        chg_buf_free(&sha);
    }
    chg_strings_free(&ids);
    if (rc != CHG_OK)
        return rc;
    chgd_answer *a = j->a;
    chg_buf_reset(&a->body);
    a->status = 200;
    chg_buf_puts(&a->body, "{\"flag\":");
    chg_buf_json_string(&a->body, j->name, strlen(j->name));
    chg_buf_printf(&a->body, ",\"set\":%s,\"at\":\"%s\",\"read_by_policy\":%s,\"reevaluated\":%ld,\"changed\":%ld}",
                   j->set ? "true" : "false", now_text, reads ? "true" : "false", n, changed);
    return a->body.oom ? CHG_ENOMEM : CHG_OK;
}

int chgd_flag(const char *name, bool set, const char *body, size_t len, chgd_answer *a)
{
    static const char *const fields[] = {"by", "why", NULL};
    flag_job job = {.name = name, .set = set, .a = a};
    json_t *j = NULL;
    if (len || set) { /* DELETE may come without a body */
        j = parse_body(body, len, a);
        if (!j)
            return CHG_OK;
        if (!json_is_object(j)) {
            chgd_error(a, 400, "bad_request", "the body must be a JSON object {\"by\": …, \"why\": …}");
            json_decref(j);
            return CHG_OK;
        }
        if (!only_fields(j, fields, a) || !str_field(j, "by", set, &job.by, a) ||
            !str_field(j, "why", set, &job.why, a)) {
            json_decref(j);
            return CHG_OK;
        }
    }
    job.b = chgd_bundle_acquire();
    int rc = chg_store_run(chgd_store, flag_run, &job);
    chgd_actions_kick();
    if (rc != CHG_OK)
        job_failed(a, rc);
    else if (a->status == 200 && facts_refresh() != CHG_OK)
        chgd_log(LOG_ERROR, "flags: could not refresh the facts of dry evaluations");
    chgd_bundle_release(job.b);
    json_decref(j);
    return CHG_OK;
}

/* ---- live changes: ends --------------------------------------------------------------------------- */

/* Decide again every change a limit holds, in the order first held: each
 * sees the changes allowed before it in flight, so the first that fits
 * takes a freed place. */
static int live_reeval_held(chg_store_conn *w, chgd_bundle *b, const char *cause, long *run, long *changed)
{
    chg_vec ids;
    chg_vec_init(&ids);
    int rc = chg_store_held_ids(w, &ids);
    for (size_t i = 0; rc == CHG_OK && i < ids.len; i++) {
        chg_buf content, sha;
        chg_buf_init(&content);
        chg_buf_init(&sha);
        int64_t rev;
        rc = chg_store_change_latest(w, ids.items[i], &rev, &content, &sha);
        decided d = {0};
        if (rc == CHG_OK)
            rc = decide(w, b, ids.items[i], rev, content.data, cause, true, NULL, &d);
        else if (rc == CHG_ENOTFOUND) /* cannot be: only a stored change is held */
            rc = chg_store_held_set(w, ids.items[i], false);
        (*run)++;
        *changed += rc == CHG_OK && d.changed;
        chg_buf_free(&content);
        chg_buf_free(&sha);
    }
    chg_strings_free(&ids);
    return rc;
}

/* End change id's period f at `at`: the period and its audit record. */
static int live_end(chg_store_conn *w, const chg_store_inflight *f, const char *at, const char *result, const char *by)
{
    int rc = chg_store_inflight_end(w, f->id, at, result, by);
    if (rc != CHG_OK)
        return rc;
    chg_buf data;
    chg_buf_init(&data);
    chg_buf_puts(&data, "{\"at\":");
    chg_buf_json_string(&data, at, strlen(at));
    chg_buf_puts(&data, ",\"bound\":");
    chg_buf_json_string(&data, f->bound, strlen(f->bound));
    chg_buf_puts(&data, ",\"by\":");
    if (by)
        chg_buf_json_string(&data, by, strlen(by));
    else
        chg_buf_puts(&data, "null");
    chg_buf_puts(&data, ",\"change_id\":");
    chg_buf_json_string(&data, f->id, strlen(f->id));
    chg_buf_printf(&data, ",\"result\":\"%s\",\"revision\":%lld,\"since\":\"%s\",\"until\":\"%s\"}", result,
                   (long long)f->revision, f->since, f->until);
    char now_text[32];
    rc = data.oom ? CHG_ENOMEM
                  : chg_store_audit_append(w, "end", f->id, data.data, chgd_time_text(chgd_now(), now_text), NULL);
    chg_buf_free(&data);
    return rc;
}

/* The periods whose bound is at or before now: ended, "elapsed", at
 * their until. *ended counts them. */
static int live_expire(chg_store_conn *w, const char *now, long *ended)
{
    chg_vec ids;
    chg_vec_init(&ids);
    int rc = chg_store_inflight_expired(w, now, &ids);
    for (size_t i = 0; rc == CHG_OK && i < ids.len; i++) {
        chg_store_inflight f;
        if ((rc = chg_store_inflight_get(w, ids.items[i], &f)) != CHG_OK)
            break;
        rc = live_end(w, &f, f.until, "elapsed", NULL);
        chg_store_inflight_free(&f);
        (*ended)++;
    }
    chg_strings_free(&ids);
    return rc;
}

typedef struct end_job {
    chgd_bundle *b;
    const char *id, *by, *at, *result;
    chgd_answer *a;
} end_job;

static int end_run(chg_store_conn *w, void *ud)
{
    end_job *j = ud;
    char now_text[32];
    chgd_time_text(chgd_now(), now_text);
    uint64_t seq;
    int rc = chg_store_change_seq(w, j->id, &seq);
    if (rc == CHG_ENOTFOUND) {
        chgd_error(j->a, 404, "not_found", "no change with id '%.200s'", j->id);
        return CHG_OK;
    }
    long ended = 0, run = 0, changed = 0;
    if (rc == CHG_OK) /* a bound that passed ends first: the state is now's */
        rc = live_expire(w, now_text, &ended);
    chg_store_inflight f = {0};
    if (rc == CHG_OK)
        rc = chg_store_inflight_get(w, j->id, &f);
    if (rc == CHG_ENOTFOUND || (rc == CHG_OK && f.ended_at)) {
        if (rc == CHG_OK)
            chgd_error(j->a, 409, "not_in_flight", "change '%.200s' is not in flight: it ended at %s (%s)", j->id,
                       f.ended_at, f.result);
        else
            chgd_error(j->a, 409, "not_in_flight", "change '%.200s' is not in flight: chgd never allowed it%s", j->id,
                       chg_bundle_nconcurrency(j->b->b) ? "" : " while its policy had a concurrency limit");
        chg_store_inflight_free(&f);
        /* what expired meanwhile stays ended, and its held changes are decided */
        return ended ? live_reeval_held(w, j->b, "timer", &run, &changed) : CHG_OK;
    }
    const char *at = j->at ? j->at : now_text;
    if (rc == CHG_OK && strcmp(at, f.since) < 0) {
        chgd_error(j->a, 400, "bad_request", "'at' (%s) is before the change went in flight (%s)", at, f.since);
        chg_store_inflight_free(&f);
        return ended ? live_reeval_held(w, j->b, "timer", &run, &changed) : CHG_OK;
    }
    if (rc == CHG_OK)
        rc = live_end(w, &f, at, j->result, j->by);
    chg_store_inflight_free(&f);
    if (rc == CHG_OK)
        rc = live_reeval_held(w, j->b, "end", &run, &changed);
    if (rc != CHG_OK)
        return rc;
    chgd_answer *a = j->a;
    chg_buf_reset(&a->body);
    a->status = 200;
    chg_buf_puts(&a->body, "{\"change\":");
    chg_buf_json_string(&a->body, j->id, strlen(j->id));
    chg_buf_puts(&a->body, ",\"in_flight\":");
    rc = chg_store_inflight_json(w, j->id, &a->body);
    chg_buf_printf(&a->body, ",\"reevaluated\":%ld,\"changed\":%ld}", run, changed);
    return rc == CHG_OK && a->body.oom ? CHG_ENOMEM : rc;
}

int chgd_end(const char *id, const char *body, size_t len, chgd_answer *a)
{
    json_t *j = parse_body(body, len, a);
    if (!j)
        return CHG_OK;
    static const char *const fields[] = {"by", "at", "result", NULL};
    end_job job = {.id = id, .a = a};
    char at[32];
    int64_t t = 0;
    if (!json_is_object(j))
        chgd_error(a, 400, "bad_request", "the body must be {\"by\": …, \"result\": …, \"at\": …}");
    else if (only_fields(j, fields, a) && str_field(j, "by", true, &job.by, a) &&
             str_field(j, "result", true, &job.result, a) && str_field(j, "at", false, &job.at, a)) {
        if (strcmp(job.result, "succeeded") && strcmp(job.result, "failed") && strcmp(job.result, "cancelled"))
            chgd_error(a, 400, "bad_request", "'result' must be \"succeeded\", \"failed\" or \"cancelled\"");
        else if (job.at && chg_time_parse_iso(job.at, strlen(job.at), &t) != CHG_OK)
            chgd_error(a, 400, "bad_request", "'at' must be an RFC 3339 instant, such as 2026-12-02T10:00:00Z");
        else if (job.at && t > chgd_now())
            chgd_error(a, 400, "bad_request", "'at' is after now (%s): an end is reported once it happened",
                       chgd_time_text(chgd_now(), (char[32]){0}));
        else {
            if (job.at) /* stored in UTC, as every instant of the store */
                job.at = chgd_time_text(t, at);
            run_call(a, end_run, &job, &job.b);
        }
    }
    json_decref(j);
    return CHG_OK;
}

/* ---- timers ---------------------------------------------------------------------------------------- */

typedef struct timers_job {
    chgd_bundle *b;
    long run, changed;
} timers_job;

static int timers_run(chg_store_conn *w, void *ud)
{
    timers_job *j = ud;
    char now_text[32];
    chgd_time_text(chgd_now(), now_text);
    chg_vec ids;
    chg_vec_init(&ids);
    /* changes whose bound passed end first, and what their limits held
     * is decided again (in the order first held) before the timers */
    long ended = 0;
    int rc = live_expire(w, now_text, &ended);
    if (rc == CHG_OK && ended)
        rc = live_reeval_held(w, j->b, "timer", &j->run, &j->changed);
    if (rc == CHG_OK)
        rc = chg_store_timers_due(w, now_text, &ids);
    for (size_t i = 0; rc == CHG_OK && i < ids.len; i++) {
        chg_buf content, sha;
        chg_buf_init(&content);
        chg_buf_init(&sha);
        int64_t rev;
        rc = chg_store_change_latest(w, ids.items[i], &rev, &content, &sha);
        decided d;
        if (rc == CHG_OK)
            rc = decide(w, j->b, ids.items[i], rev, content.data, "timer", true, NULL, &d);
        else if (rc == CHG_ENOTFOUND) /* cannot be: a timer belongs to a change */
            rc = chg_store_timer_set(w, ids.items[i], NULL);
        j->run++;
        j->changed += rc == CHG_OK && d.changed;
        chg_buf_free(&content);
        chg_buf_free(&sha);
    }
    chg_strings_free(&ids);
    return rc;
}

int chgd_timers_run(long *run, long *changed)
{
    *run = *changed = 0;
    /* a look first, on this thread's reader: most seconds nothing is due,
     * and the writer is not woken for nothing */
    char now_text[32];
    chg_vec due;
    chg_vec_init(&due);
    chg_store_conn *r = chg_store_reader(chgd_store);
    int rc = r ? chg_store_timers_due(r, chgd_time_text(chgd_now(), now_text), &due) : CHG_EIO;
    if (rc == CHG_OK && due.len == 0) /* or a change in flight whose bound passed */
        rc = chg_store_inflight_expired(r, now_text, &due);
    size_t n = due.len;
    chg_strings_free(&due);
    if (rc != CHG_OK || n == 0)
        return rc;
    timers_job j = {.b = chgd_bundle_acquire()};
    rc = j.b ? chg_store_run(chgd_store, timers_run, &j) : CHG_EIO;
    chgd_actions_kick();
    chgd_bundle_release(j.b);
    *run = j.run;
    *changed = j.changed;
    if (rc == CHG_OK && j.run)
        chgd_log(LOG_INFO, "timers: %ld changes decided again, %ld with a new decision", j.run, j.changed);
    return rc;
}

int chgd_clock_put(const char *body, size_t len, chgd_answer *a)
{
    if (!chgd_clock_is_fake()) {
        chgd_error(a, 409, "no_fake_clock", "the clock is the system's: PUT /v1/clock needs chgd --fake-clock");
        return CHG_OK;
    }
    json_t *j = parse_body(body, len, a);
    if (!j)
        return CHG_OK;
    static const char *const fields[] = {"now", NULL};
    const char *now;
    int64_t t;
    if (!json_is_object(j))
        chgd_error(a, 400, "bad_request", "the body must be {\"now\": \"RFC 3339\"}");
    else if (only_fields(j, fields, a) && str_field(j, "now", true, &now, a)) {
        if (chg_time_parse_iso(now, strlen(now), &t) != CHG_OK)
            chgd_error(a, 400, "bad_request", "'now' must be an RFC 3339 instant, such as 2026-12-07T09:00:00Z");
        else if (t < chgd_now())
            chgd_error(a, 400, "bad_request", "the clock does not go back (it reads %s)",
                       chgd_time_text(chgd_now(), (char[32]){0}));
        else {
            /* one move at a time, so that the timers run are those due at it */
            static pthread_mutex_t clock_mu = PTHREAD_MUTEX_INITIALIZER;
            pthread_mutex_lock(&clock_mu);
            chgd_clock_set(t);
            long run, changed;
            int rc = chgd_timers_run(&run, &changed);
            pthread_mutex_unlock(&clock_mu);
            if (rc != CHG_OK)
                job_failed(a, rc);
            else {
                char now_text[32];
                a->status = 200;
                chg_buf_reset(&a->body);
                chg_buf_printf(&a->body, "{\"now\":\"%s\",\"timers_run\":%ld,\"changed\":%ld}",
                               chgd_time_text(t, now_text), run, changed);
            }
        }
    }
    json_decref(j);
    return CHG_OK;
}

/* On the system clock, due timers are run once a second. */
static pthread_t timer_thread;
static bool timer_started, timer_stop;
static pthread_mutex_t timer_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t timer_cv = PTHREAD_COND_INITIALIZER;

static void *timer_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&timer_mu);
    while (!timer_stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&timer_cv, &timer_mu, &until);
        if (timer_stop)
            break;
        pthread_mutex_unlock(&timer_mu);
        long run, changed;
        if (chgd_timers_run(&run, &changed) != CHG_OK)
            chgd_log(LOG_ERROR, "timers: the store could not record the decisions; trying again");
        pthread_mutex_lock(&timer_mu);
    }
    pthread_mutex_unlock(&timer_mu);
    return NULL;
}

void chgd_timers_start(void)
{
    if (chgd_clock_is_fake())
        return;
    timer_started = pthread_create(&timer_thread, NULL, timer_main, NULL) == 0;
    if (!timer_started)
        chgd_log(LOG_ERROR, "timers: cannot start their thread: deferred changes wait for their next event");
}

void chgd_timers_stop(void)
{
    if (!timer_started)
        return;
    pthread_mutex_lock(&timer_mu);
    timer_stop = true;
    pthread_cond_signal(&timer_cv);
    pthread_mutex_unlock(&timer_mu);
    pthread_join(timer_thread, NULL);
    timer_started = false;
}

/* ---- reload, start, stop ----------------------------------------------------------------------------- */

typedef struct note_job {
    const char *kind, *data;
} note_job;

static int note_run(chg_store_conn *w, void *ud)
{
    note_job *j = ud;
    char now_text[32];
    return chg_store_audit_append(w, j->kind, NULL, j->data, chgd_time_text(chgd_now(), now_text), NULL);
}

static void bundle_json(chg_buf *out, const chgd_bundle *b)
{
    const char *name = chg_bundle_policy_name(b->b), *version = chg_bundle_policy_version(b->b);
    chg_buf_puts(out, "{\"loaded_at\":");
    chg_buf_json_string(out, b->loaded_at, strlen(b->loaded_at));
    chg_buf_puts(out, ",\"policy\":");
    if (name)
        chg_buf_json_string(out, name, strlen(name));
    else
        chg_buf_puts(out, "null");
    chg_buf_printf(out, ",\"sha256\":\"%s\",\"version\":", chg_bundle_hash(b->b));
    if (version)
        chg_buf_json_string(out, version, strlen(version));
    else
        chg_buf_puts(out, "null");
    chg_buf_putc(out, '}');
}

void chgd_bundle_json(chg_buf *out, const chgd_bundle *b)
{
    bundle_json(out, b);
}

/* After a reload: every held change decided again under the new bundle
 * (a limit raised or removed lets them go). */
static int reload_held_run(chg_store_conn *w, void *ud)
{
    long run = 0, changed = 0;
    return live_reeval_held(w, ud, "reload", &run, &changed);
}

int chgd_reload(chg_buf *out, char *err, size_t errlen)
{
    pthread_mutex_lock(&reload_mu);
    chgd_bundle *nb;
    int rc = chgd_bundle_open(chgd_cfg, &nb, err, errlen);
    chg_buf data;
    chg_buf_init(&data);
    if (rc != CHG_OK) {
        chgd_log(LOG_ERROR, "reload refused, the loaded policy keeps serving: %s", err);
        chg_buf_puts(&data, "{\"error\":");
        chg_buf_json_string(&data, err, strlen(err));
        chg_buf_puts(&data, ",\"ok\":false}");
    } else {
        nb->generation = ++generations;
        pthread_mutex_lock(&mu);
        chgd_bundle *old = current;
        current = nb;
        pthread_mutex_unlock(&mu);
        chgd_log(LOG_INFO, "reloaded: policy %s version %s, bundle %s (was %s)", chg_bundle_policy_name(nb->b),
                 chg_bundle_policy_version(nb->b) ? chg_bundle_policy_version(nb->b) : "none",
                 chg_bundle_hash(nb->b), chg_bundle_hash(old->b));
        chg_buf_puts(&data, "{\"bundle\":");
        bundle_json(&data, nb);
        chg_buf_puts(&data, ",\"ok\":true,\"previous\":\"");
        chg_buf_puts(&data, chg_bundle_hash(old->b));
        chg_buf_puts(&data, "\"}");
        chgd_bundle_release(old);
    }
    note_job nj = {"reload", data.data};
    if (!data.oom && chg_store_run(chgd_store, note_run, &nj) != CHG_OK)
        chgd_log(LOG_ERROR, "reload: the audit record could not be written");
    if (rc == CHG_OK) {
        chgd_bundle *cb = chgd_bundle_acquire();
        if (chg_store_run(chgd_store, reload_held_run, cb) != CHG_OK)
            chgd_log(LOG_ERROR, "reload: the held changes could not be decided again (the next end or timer does)");
        chgd_bundle_release(cb);
        chgd_actions_kick();
    }
    chg_buf_append(out, data.data, data.len);
    chg_buf_free(&data);
    pthread_mutex_unlock(&reload_mu);
    return rc == CHG_OK ? CHG_OK : CHG_EINVAL;
}

int chgd_engine_start(const chgd_config *c, chg_store *s, chgd_bundle *b, char *err, size_t errlen)
{
    chgd_cfg = c;
    chgd_store = s;
    chgd_started = chgd_now();
    b->generation = ++generations;
    current = b;
    chg_buf_init(&writer_flags);
    if (c->facts && chg_input_read(c->facts, 0, &facts_text, &facts_len, err, errlen) != CHG_OK)
        return CHG_EIO;
    if (facts_refresh() != CHG_OK) {
        snprintf(err, errlen, "%s: cannot read the flags", chg_store_path(s));
        return CHG_EIO;
    }
    chg_buf data;
    chg_buf_init(&data);
    chg_buf_puts(&data, "{\"bundle\":");
    bundle_json(&data, b);
    chg_buf_printf(&data, ",\"dry_run\":%s,\"facts\":", c->dry_run ? "true" : "false");
    if (facts_text) { /* as stored everywhere: compact, keys sorted */
        json_error_t je;
        json_t *fj = json_loadb(facts_text, facts_len, 0, &je);
        if (fj)
            dump(fj, &data);
        else
            chg_buf_puts(&data, "null");
        json_decref(fj);
    } else
        chg_buf_puts(&data, "null");
    chg_buf_printf(&data, ",\"version\":\"%s\"}", CHG_VERSION_STRING);
    note_job nj = {"start", data.data};
    int rc = data.oom ? CHG_ENOMEM : chg_store_run(s, note_run, &nj);
    chg_buf_free(&data);
    if (rc != CHG_OK) {
        snprintf(err, errlen, "%s: cannot write to the store", chg_store_path(s));
        return rc;
    }
    atomic_store(&ready, true);
    return CHG_OK;
}

bool chgd_engine_ready(void)
{
    return atomic_load(&ready);
}

void chgd_engine_stop(void)
{
    atomic_store(&ready, false);
    ctx_release_own();
    pthread_mutex_lock(&mu);
    chgd_bundle *b = current;
    chgd_facts *f = facts_now;
    current = NULL;
    facts_now = NULL;
    pthread_mutex_unlock(&mu);
    chgd_bundle_release(b);
    chgd_facts_release(f);
    chg_facts_free(writer_facts);
    writer_facts = NULL;
    chg_free(facts_text);
    facts_text = NULL;
    chg_buf_free(&writer_flags);
}
