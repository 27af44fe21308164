/*
 * eval.c — inputs to decisions: one JSON document, or a stream of JSON
 * lines decided on several threads with the output in input order.
 *
 * Threads: the bundle is immutable and shared; each worker owns one
 * evaluation context (chg_vm.h), so the evaluator needs no lock. Only the
 * ring of batches below is shared, under one mutex.
 */
#include "chg_driver.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

/* {"error":"line 3: …"}: the line that stands for an input that gave no
 * decision. The message is cut at 1 KiB (a reason quoting a huge input
 * must not make a huge line); snprintf's result is clamped because it
 * reports the length it wanted, not the one it wrote. */
void chg_error_line_write(chg_buf *out, const char *where, const char *reason)
{
    char msg[1024];
    int n = snprintf(msg, sizeof msg, "%s: %s", where, reason);
    chg_buf_puts(out, "{\"error\":");
    chg_buf_json_string(out, msg, n < 0 ? 0 : (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
    chg_buf_puts(out, "}\n");
}

/* One document to one decision line. A document that is not a change (bad
 * JSON, a field of the wrong type, an intake that does not match) still
 * gives one output line, an error line, so the n-th output line always
 * answers the n-th input line; the message also goes to errs for a human.
 * A policy that fails at run time is not such a failure: its decision
 * says `error` (chg_eval never fails for it). */
bool chg_decide_json(chg_ctx *ctx, const chg_bundle *b, const char *json, size_t len, const chg_eval_input *base,
                     const char *where, bool explain, chg_buf *out, chg_buf *errs)
{
    char err[512];
    chg_event *ev = chg_event_intake(ctx, json, len, base, NULL, err, sizeof err);
    if (!ev) {
        chg_buf_printf(errs, "chgc: %s: %s\n", where, err);
        chg_error_line_write(out, where, err);
        return false;
    }
    chg_eval_input in = *base;
    in.change = ev;
    chg_decision d;
    if (explain) {
        chg_explain(ctx, &in, &d, out);
        chg_buf_puts(out, "\ndecision: ");
    } else
        chg_eval(ctx, &in, &d);
    chg_decision_write(b, &d, out);
    chg_buf_putc(out, '\n');
    chg_event_free(ev);
    return true;
}

/* ---- JSON lines on several threads ------------------------------------------------ */

/* The reader cuts the input into batches of lines; workers decide whole
 * batches, and the reader writes finished batches in input order. A ring
 * of 3 batches per thread keeps every worker busy while one batch is being
 * written and one filled.
 *
 * The ring is indexed by three counters that only grow: `filled` batches
 * the reader has handed out, `taken` of them a worker has started,
 * `written` of them the reader has written. Batch k lives in slot
 * k % nring, and
 *
 *     written <= taken <= filled <= written + nring
 *
 * so a slot is reused only after its batch was written. Workers may finish
 * out of order (`done` per batch); the reader writes only the batch
 * `written` points to, so output order is input order whatever the
 * threads do, and the bytes are those of --threads 1. Batches are about
 * BATCH_LINES lines or BATCH_BYTES bytes: big enough that the mutex is
 * taken a few times per thousand decisions, small enough that the output
 * keeps flowing. Each batch keeps its buffers (reset, not freed), so a
 * long stream allocates only while batches grow. */
typedef struct batch {
    chg_buf lines;          /* the batch's lines, each ending in \n */
    struct line_info {
        unsigned long lineno; /* in the input */
        bool too_long;      /* over the limit: not kept, an empty line here */
    } *info;
    size_t nlines, cap;
    chg_buf out, errs;
    bool failed;            /* some line was not a change */
    bool done;              /* decided; written by the worker under the
                               mutex, read by the reader under it */
} batch;

typedef struct pool {
    const chg_bundle *b;
    const chg_eval_input *base;
    bool explain;
    char too_long[128];     /* the reader's message for a line over its limit */
    batch *ring;
    size_t nring;
    unsigned long filled, taken, written; /* batch counters */
    bool eof;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
} pool;

enum { BATCH_LINES = 512, BATCH_BYTES = 1 << 20 };

static void too_long_text(const chg_lines *in, char *buf, size_t len)
{
    snprintf(buf, len, "the line is longer than the limit (%zu bytes)", chg_lines_limit(in));
}

static void too_long(const char *where, const char *why, chg_buf *out, chg_buf *errs)
{
    chg_buf_printf(errs, "chgc: %s: %s\n", where, why);
    chg_error_line_write(out, where, why);
}

/* Decide every line of a batch into its out and errs; no lock: the batch
 * belongs to this worker from `taken` until `done`. */
static void run_batch(pool *p, chg_ctx *ctx, batch *bt)
{
    const char *s = bt->lines.data, *end = s + bt->lines.len;
    for (size_t i = 0; s < end; i++) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        char where[64];
        snprintf(where, sizeof where, "line %lu", bt->info[i].lineno);
        if (bt->info[i].too_long) {
            too_long(where, p->too_long, &bt->out, &bt->errs);
            bt->failed = true;
        } else if (!chg_decide_json(ctx, p->b, s, (size_t)(nl - s), p->base, where, p->explain, &bt->out,
                                    &bt->errs))
            bt->failed = true;
        s = nl + 1;
    }
}

static void *worker(void *arg)
{
    pool *p = arg;
    chg_ctx *ctx = chg_ctx_new(p->b);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->taken == p->filled && !p->eof)
            pthread_cond_wait(&p->work, &p->mu);
        if (p->taken == p->filled && p->eof)
            break;
        CHG_ASSERT(p->written <= p->taken && p->taken < p->filled && p->filled <= p->written + p->nring);
        batch *bt = &p->ring[p->taken++ % p->nring];
        pthread_mutex_unlock(&p->mu);
        if (ctx)
            run_batch(p, ctx, bt);
        else { /* no context (out of memory): every line of it fails */
            bt->failed = true;
            for (size_t i = 0; i < bt->nlines; i++) {
                char where[64];
                snprintf(where, sizeof where, "line %lu", bt->info[i].lineno);
                chg_error_line_write(&bt->out, where, "out of memory");
            }
        }
        pthread_mutex_lock(&p->mu);
        bt->done = true;
        pthread_cond_broadcast(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    chg_ctx_free(ctx);
    return NULL;
}

/* Write finished batches in order; with `all`, wait for every batch. The
 * writing happens outside the lock (a slow pipe must not stall the
 * workers): the batch at `written` is done and no one else touches it
 * until `written` moves past it, which only this thread does. */
static bool drain(pool *p, bool all, FILE *out, FILE *errs)
{
    bool failed = false;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (all && p->written < p->filled && !p->ring[p->written % p->nring].done)
            pthread_cond_wait(&p->done, &p->mu);
        if (p->written == p->filled || !p->ring[p->written % p->nring].done)
            break;
        CHG_ASSERT(p->written < p->taken && p->taken <= p->filled);
        batch *bt = &p->ring[p->written % p->nring];
        pthread_mutex_unlock(&p->mu);
        fwrite(bt->errs.data ? bt->errs.data : "", 1, bt->errs.len, errs);
        fwrite(bt->out.data ? bt->out.data : "", 1, bt->out.len, out);
        failed |= bt->failed;
        chg_buf_reset(&bt->lines);
        chg_buf_reset(&bt->out);
        chg_buf_reset(&bt->errs);
        bt->nlines = 0;
        bt->failed = bt->done = false;
        pthread_mutex_lock(&p->mu);
        p->written++;
    }
    pthread_mutex_unlock(&p->mu);
    return failed;
}

/* Append one line to a batch; false when out of memory. */
static bool batch_add(batch *bt, const char *line, size_t len, unsigned long lineno, bool is_too_long)
{
    if (bt->nlines == bt->cap) {
        size_t cap = bt->cap ? bt->cap * 2 : BATCH_LINES;
        struct line_info *n = chg_realloc(bt->info, cap * sizeof *n);
        if (!n)
            return false;
        bt->info = n;
        bt->cap = cap;
    }
    chg_buf_append(&bt->lines, line, len);
    chg_buf_putc(&bt->lines, '\n');
    bt->info[bt->nlines].lineno = lineno;
    bt->info[bt->nlines++].too_long = is_too_long;
    return !bt->lines.oom;
}

/* One thread: decide as we read, write every 64 KiB (the output of a
 * stream appears while it is read, and memory stays bounded). */
static int decide_serial(const chg_bundle *b, const chg_eval_input *base, chg_lines *in, bool explain, FILE *out,
                         FILE *errs, bool *failed, char *err, size_t errlen)
{
    chg_ctx *ctx = chg_ctx_new(b);
    if (!ctx) {
        snprintf(err, errlen, "out of memory");
        return CHG_ENOMEM;
    }
    char msg[128];
    too_long_text(in, msg, sizeof msg);
    chg_buf o, e;
    chg_buf_init(&o);
    chg_buf_init(&e);
    const char *line;
    size_t len;
    unsigned long lineno;
    int rc;
    while ((rc = chg_lines_next(in, &line, &len, &lineno, err, errlen)) != 0) {
        char where[64];
        snprintf(where, sizeof where, "line %lu", lineno);
        if (rc == CHG_ERANGE) {
            too_long(where, msg, &o, &e);
            *failed = true;
        } else if (rc < 0)
            break;
        else if (!chg_decide_json(ctx, b, line, len, base, where, explain, &o, &e))
            *failed = true;
        if (o.len + e.len > (1 << 16)) {
            fwrite(e.data ? e.data : "", 1, e.len, errs);
            fwrite(o.data, 1, o.len, out);
            chg_buf_reset(&o);
            chg_buf_reset(&e);
        }
    }
    fwrite(e.data ? e.data : "", 1, e.len, errs);
    fwrite(o.data ? o.data : "", 1, o.len, out);
    chg_buf_free(&o);
    chg_buf_free(&e);
    chg_ctx_free(ctx);
    return rc < 0 ? rc : CHG_OK;
}

int chg_decide_reader(const chg_bundle *b, const chg_eval_input *base, chg_lines *in, int threads, bool explain,
                      FILE *out, FILE *errs, bool *failed, char *err, size_t errlen)
{
    *failed = false;
    if (threads <= 1)
        return decide_serial(b, base, in, explain, out, errs, failed, err, errlen);
    pool p;
    memset(&p, 0, sizeof p);
    p.b = b;
    p.base = base;
    p.explain = explain;
    too_long_text(in, p.too_long, sizeof p.too_long);
    p.nring = (size_t)threads * 3;
    p.ring = chg_calloc(p.nring, sizeof *p.ring);
    pthread_t *tids = chg_calloc((size_t)threads, sizeof *tids);
    if (!p.ring || !tids) {
        chg_free(p.ring);
        chg_free(tids);
        snprintf(err, errlen, "out of memory");
        return CHG_ENOMEM;
    }
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.work, NULL);
    pthread_cond_init(&p.done, NULL);
    int started = 0, e = 0;
    while (started < threads && (e = pthread_create(&tids[started], NULL, worker, &p)) == 0)
        started++;
    /* rc: 1 while there is input, 0 at its end, < 0 on an error; with
     * fewer threads than asked (pthread_create failed) the started ones do
     * all the work */
    int rc = started ? 1 : CHG_ENOMEM;
    if (!started)
        snprintf(err, errlen, "cannot start a thread: %s", strerror(e));
    while (rc > 0) {
        /* wait for a free slot, writing what is finished meanwhile: the
         * reader is also the writer, so it never sleeps while a finished
         * batch could be written */
        pthread_mutex_lock(&p.mu);
        while (p.filled - p.written >= p.nring) {
            pthread_mutex_unlock(&p.mu);
            *failed |= drain(&p, false, out, errs);
            pthread_mutex_lock(&p.mu);
            if (p.filled - p.written >= p.nring)
                pthread_cond_wait(&p.done, &p.mu);
        }
        batch *bt = &p.ring[p.filled % p.nring];
        pthread_mutex_unlock(&p.mu);
        const char *line;
        size_t len;
        unsigned long lineno;
        while (bt->nlines < BATCH_LINES && bt->lines.len < BATCH_BYTES &&
               (rc = chg_lines_next(in, &line, &len, &lineno, err, errlen)) != 0) {
            /* a line over the limit keeps its place in the batch as an empty
         * line marked too_long, so its error line comes out in order */
        bool over = rc == CHG_ERANGE;
            if (rc < 0 && !over)
                break;
            rc = 1;
            if (!batch_add(bt, over ? "" : line, over ? 0 : len, lineno, over)) {
                snprintf(err, errlen, "out of memory");
                rc = CHG_ENOMEM;
                break;
            }
        }
        pthread_mutex_lock(&p.mu);
        if (bt->nlines)
            p.filled++;
        pthread_cond_broadcast(&p.work);
        pthread_mutex_unlock(&p.mu);
        *failed |= drain(&p, false, out, errs);
    }
    /* the end (or an error): workers finish what is filled and leave;
     * what they decided is still written, then the error is returned */
    pthread_mutex_lock(&p.mu);
    p.eof = true;
    pthread_cond_broadcast(&p.work);
    pthread_mutex_unlock(&p.mu);
    *failed |= drain(&p, true, out, errs);
    for (int i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    for (size_t i = 0; i < p.nring; i++) {
        chg_buf_free(&p.ring[i].lines);
        chg_buf_free(&p.ring[i].out);
        chg_buf_free(&p.ring[i].errs);
        chg_free(p.ring[i].info);
    }
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.work);
    pthread_cond_destroy(&p.done);
    chg_free(p.ring);
    chg_free(tids);
    return rc < 0 ? rc : CHG_OK;
}

int chg_decide_lines(const chg_bundle *b, const chg_eval_input *base, const char *path, int threads, bool explain,
                     FILE *out, FILE *errs, bool *failed, char *err, size_t errlen)
{
    *failed = false;
    chg_lines *in = chg_lines_open(path, 0, err, errlen);
    if (!in)
        return CHG_EIO;
    int rc = chg_decide_reader(b, base, in, threads, explain, out, errs, failed, err, errlen);
    chg_lines_close(in);
    return rc;
}

/* One document: read whole (with its limit), decided, written. The
 * output is built in memory first so that an out-of-memory is reported
 * instead of a truncated decision. */
int chg_decide_document(const chg_bundle *b, const chg_eval_input *base, const char *path, bool explain, FILE *out,
                        FILE *errs, bool *failed, char *err, size_t errlen)
{
    *failed = false;
    char *data;
    size_t len;
    int rc = chg_input_read(path, 0, &data, &len, err, errlen);
    if (rc != CHG_OK)
        return rc;
    chg_ctx *ctx = chg_ctx_new(b);
    if (!ctx) {
        chg_free(data);
        snprintf(err, errlen, "out of memory");
        return CHG_ENOMEM;
    }
    chg_buf o, e;
    chg_buf_init(&o);
    chg_buf_init(&e);
    *failed = !chg_decide_json(ctx, b, data, len, base, strcmp(path, "-") ? path : "<stdin>", explain, &o, &e);
    fwrite(e.data ? e.data : "", 1, e.len, errs);
    fwrite(o.data ? o.data : "", 1, o.len, out);
    rc = o.oom || e.oom ? CHG_ENOMEM : CHG_OK;
    if (rc != CHG_OK)
        snprintf(err, errlen, "out of memory");
    chg_buf_free(&o);
    chg_buf_free(&e);
    chg_ctx_free(ctx);
    chg_free(data);
    return rc;
}
