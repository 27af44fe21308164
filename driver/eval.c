/*
 * eval.c — inputs to decisions: one JSON document, or a stream of JSON
 * lines decided on several threads with the output in input order.
 *
 * Threads: the bundle is immutable and shared; each worker owns one
 * evaluation context (chg_vm.h), so the evaluator needs no lock. Only the
 * ring of batches below is shared, under one mutex. The pool is not
 * eval's alone (batch.h): `chgc replay` runs its records on it too, with
 * its own work per line and its own writer.
 *
 * Streams answer as they go: before the reader would wait for more input
 * (a pipe from a slow producer, a terminal), everything decided so far is
 * written and flushed, so a consumer on the other end of a pipe sees each
 * decision without waiting for the end of the input.
 */
#include "batch.h"

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
    int n = where ? snprintf(msg, sizeof msg, "%s: %s", where, reason) : snprintf(msg, sizeof msg, "%s", reason);
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
int chg_decide_json(chg_ctx *ctx, const chg_bundle *b, const char *json, size_t len, const chg_eval_input *base,
                    const char *where, bool explain, chg_buf *out, chg_buf *errs)
{
    char err[512];
    chg_event *ev = chg_event_intake(ctx, json, len, base, NULL, err, sizeof err);
    if (!ev) {
        /* A JSON line is one line of JSON: "line 2" and the parser's
         * "line 1, column 12: …" are one place, "line 2, column 12: …" */
        char joined[600];
        const char *at = where;
        if (!strncmp(where, "line ", 5) && !strncmp(err, "line 1, column ", 15)) {
            snprintf(joined, sizeof joined, "%s, %s", where, err + 8);
            at = NULL;
        }
        /* the line for a human is visible text (chg_base.h), one line
         * whatever the message quotes; the error line is JSON. Out of
         * memory is not the input's fault: the caller reports it once, as
         * the run's error, so it is not a line of errs too. */
        bool nomem = strcmp(err, chg_strerror(CHG_ENOMEM)) == 0;
        if (!nomem) {
            chg_buf_puts_visible(errs, at ? where : joined);
            if (at) {
                chg_buf_puts(errs, ": ");
                chg_buf_puts_visible(errs, err);
            }
            chg_buf_putc(errs, '\n');
        }
        chg_error_line_write(out, at, at ? err : joined);
        nomem |= out->oom || errs->oom;
        return nomem ? CHG_ENOMEM : CHG_EINVAL;
    }
    chg_eval_input in = *base;
    in.change = ev;
    chg_decision d;
    int rc;
    if (explain) {
        rc = chg_explain(ctx, &in, &d, out);
        chg_buf_puts(out, "\ndecision: ");
    } else
        rc = chg_eval(ctx, &in, &d);
    /* out of memory still writes its `error` decision: the line answers
     * the input, and the status says the error is the machine's */
    chg_decision_write(b, &d, out);
    chg_buf_putc(out, '\n');
    chg_ctx_event_done(ctx, ev);
    return out->oom ? CHG_ENOMEM : rc;
}

/* "line N", the place of a JSON line in messages: made for every line,
 * by hand rather than by snprintf. */
static void line_label(char where[32], unsigned long n)
{
    char tmp[24];
    int k = 0;
    do
        tmp[k++] = (char)('0' + n % 10);
    while (n /= 10);
    memcpy(where, "line ", 5);
    char *p = where + 5;
    while (k > 0)
        *p++ = tmp[--k];
    *p = 0;
}

/* Write a buffer of "WHERE: reason" lines to f, each after "LABEL: ".
 * The lines are visible text already (chg_decide_json writes them so). */
static void write_errs(FILE *f, const char *label, const chg_buf *e)
{
    const char *s = e->data, *end = s + e->len;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = nl ? (size_t)(nl - s) + 1 : (size_t)(end - s);
        if (label && *label)
            fprintf(f, "%s: ", label);
        fwrite(s, 1, n, f);
        s += n;
    }
}

static void too_long_text(const chg_lines *in, char *buf, size_t len)
{
    snprintf(buf, len, "the line is longer than the limit (%zu bytes)", chg_lines_limit(in));
}

static void too_long(const char *where, const char *why, chg_buf *out, chg_buf *errs)
{
    chg_buf_printf(errs, "%s: %s\n", where, why);
    chg_error_line_write(out, where, why);
}

/* After the last write: was everything written? */
static int check_written(FILE *out, FILE *errs, char *err, size_t errlen)
{
    fflush(errs);
    if (fflush(out) != 0) {
        snprintf(err, errlen, "cannot write the decisions: %s", strerror(errno)); /* fflush's */
        return CHG_EIO;
    }
    if (ferror(out)) { /* an earlier write failed; its errno is gone */
        snprintf(err, errlen, "cannot write the decisions: a write failed");
        return CHG_EIO;
    }
    return CHG_OK;
}

/* ---- JSON lines on several threads ------------------------------------------------ */

/* The reader cuts the input into batches of lines; workers decide whole
 * batches, and the reader writes finished batches in input order. A ring
 * of 3 batches per thread keeps every worker busy while one batch is being
 * written and one filled. A batch ends at BATCH_LINES lines, at
 * BATCH_BYTES, or when the reader would wait for input; the bytes held by
 * batches in flight are bounded by INFLIGHT_MAX (plus one line), and a
 * slot that held a big batch gives its memory back when it is written.
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
 * threads do, and the bytes are those of --threads 1. The reader is also
 * the writer: it never sleeps while a finished batch could be written, and
 * it tests for a free slot and waits under one lock, so a batch that
 * finishes in between cannot be missed. */
typedef struct batch {
    chg_buf lines;          /* the batch's lines, each ending in \n */
    struct line_info {
        unsigned long lineno; /* in the input */
        bool too_long;      /* over the limit: not kept, an empty line here */
    } *info;
    size_t nlines, cap;
    chg_batch_out o;        /* what its lines answered */
    bool failed;            /* some line was not an input */
    bool oom;               /* some answer could not be held */
    bool done;
} batch;

typedef struct pool {
    const chg_batch_work *w;
    char too_long[128];     /* the reader's message for a line over its limit */
    batch *ring;
    size_t nring;
    unsigned long filled, taken, written; /* batch counters */
    size_t inflight;        /* bytes of lines in batches filled, not written */
    bool eof;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
} pool;

enum { BATCH_LINES = 512, BATCH_BYTES = 1 << 20, KEEP_BYTES = 4 << 20 };
#define INFLIGHT_MAX ((size_t)256 << 20)

static void run_batch(pool *p, void *ws, batch *bt)
{
    const char *s = bt->lines.data, *end = s + bt->lines.len;
    for (size_t i = 0; s < end; i++) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        int rc = p->w->line(p->w->ud, ws, s, (size_t)(nl - s), bt->info[i].lineno, bt->info[i].too_long,
                            p->too_long, &bt->o);
        bt->failed |= rc == CHG_EINVAL;
        bt->oom |= rc == CHG_ENOMEM || bt->o.out.oom || bt->o.errs.oom || bt->o.meta.oom;
        s = nl + 1;
    }
}

static void *worker(void *arg)
{
    pool *p = arg;
    void *ws = p->w->worker_new(p->w->ud); /* NULL (out of memory): each line says so */
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->taken == p->filled && !p->eof)
            pthread_cond_wait(&p->work, &p->mu);
        if (p->taken == p->filled && p->eof)
            break;
        CHG_ASSERT(p->written <= p->taken && p->taken < p->filled && p->filled <= p->written + p->nring);
        batch *bt = &p->ring[p->taken++ % p->nring];
        pthread_mutex_unlock(&p->mu);
        run_batch(p, ws, bt); /* no lock: the batch is this worker's from `taken` to `done` */
        pthread_mutex_lock(&p->mu);
        bt->done = true;
        pthread_cond_broadcast(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    if (ws)
        p->w->worker_free(p->w->ud, ws);
    return NULL;
}

static void batch_clear(batch *bt)
{
    chg_buf *bufs[4] = {&bt->lines, &bt->o.out, &bt->o.errs, &bt->o.meta};
    for (int k = 0; k < 4; k++) {
        if (bufs[k]->cap > KEEP_BYTES)
            chg_buf_free(bufs[k]); /* one big batch must not pin its memory */
        else
            chg_buf_reset(bufs[k]);
    }
    bt->nlines = 0;
    bt->failed = bt->oom = bt->done = false;
}

/* Write finished batches in order; with `all`, wait for every batch.
 * Called by the reader only. */
static void drain(pool *p, bool all, FILE *out, FILE *errs, bool *failed, bool *oom)
{
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (all && p->written < p->filled && !p->ring[p->written % p->nring].done)
            pthread_cond_wait(&p->done, &p->mu);
        if (p->written == p->filled || !p->ring[p->written % p->nring].done)
            break;
        CHG_ASSERT(p->written < p->taken && p->taken <= p->filled);
        batch *bt = &p->ring[p->written % p->nring];
        pthread_mutex_unlock(&p->mu); /* write outside the lock: a slow pipe must not stall the workers */
        p->w->emit(p->w->ud, &bt->o, out, errs);
        *failed |= bt->failed;
        *oom |= bt->oom;
        size_t bytes = bt->lines.len;
        batch_clear(bt);
        pthread_mutex_lock(&p->mu);
        p->inflight -= bytes;
        p->written++;
    }
    pthread_mutex_unlock(&p->mu);
}

/* The reader is about to wait for input: write every batch handed out,
 * waiting for the workers, since there is nothing better to do. */
typedef struct pool_wait {
    pool *p;
    FILE *out, *errs;
    bool *failed, *oom;
} pool_wait;

static void pool_on_wait(void *ud)
{
    pool_wait *w = ud;
    drain(w->p, true, w->out, w->errs, w->failed, w->oom);
    fflush(w->out);
    fflush(w->errs);
}

/* Append one line to a batch; false when out of memory (the batch is left
 * as it was: every line in it ends in '\n', which run_batch relies on). */
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
    size_t before = bt->lines.len;
    chg_buf_append(&bt->lines, line, len);
    chg_buf_putc(&bt->lines, '\n');
    if (bt->lines.oom) {
        bt->lines.oom = false;
        bt->lines.len = before;
        if (bt->lines.data)
            bt->lines.data[before] = 0;
        return false;
    }
    bt->info[bt->nlines].lineno = lineno;
    bt->info[bt->nlines++].too_long = is_too_long;
    return true;
}

/* One thread (threads <= 1): each line answered on the calling thread,
 * into one batch written every 64 KiB (or 1 KiB of the work's notes) and
 * whenever the reader is about to wait for input, through the same line
 * and emit as the workers'. */
typedef struct serial_batch {
    const chg_batch_work *w;
    chg_batch_out o;
    FILE *out, *errs;
} serial_batch;

static void serial_emit(void *ud)
{
    serial_batch *sb = ud;
    sb->w->emit(sb->w->ud, &sb->o, sb->out, sb->errs);
    fflush(sb->out);
    fflush(sb->errs);
    chg_buf_reset(&sb->o.out);
    chg_buf_reset(&sb->o.errs);
    chg_buf_reset(&sb->o.meta);
}

static int batch_serial(const chg_batch_work *w, chg_lines *in, FILE *out, FILE *errs, bool *failed, char *err,
                        size_t errlen)
{
    char msg[128];
    too_long_text(in, msg, sizeof msg);
    serial_batch sb = {.w = w, .out = out, .errs = errs};
    chg_buf_init(&sb.o.out);
    chg_buf_init(&sb.o.errs);
    chg_buf_init(&sb.o.meta);
    void *ws = w->worker_new(w->ud);
    chg_lines_on_wait(in, serial_emit, &sb);
    int rc = ws ? 1 : CHG_ENOMEM;
    if (!ws)
        snprintf(err, errlen, "out of memory");
    while (rc > 0 && !ferror(out)) {
        /* and every 512 lines or so (their notes), for a progress line */
        if (sb.o.out.len + sb.o.errs.len > (1 << 16) || sb.o.meta.len > 1024)
            serial_emit(&sb);
        const char *line;
        size_t len;
        unsigned long lineno;
        rc = chg_lines_next(in, &line, &len, &lineno, err, errlen);
        bool over = rc == CHG_ERANGE;
        if (rc == 0 || (rc < 0 && !over))
            break;
        int d = w->line(w->ud, ws, over ? "" : line, over ? 0 : len, lineno, over, msg, &sb.o);
        *failed |= d == CHG_EINVAL;
        rc = 1;
        if (d == CHG_ENOMEM || sb.o.out.oom || sb.o.errs.oom || sb.o.meta.oom) {
            snprintf(err, errlen, "line %lu: out of memory", lineno);
            rc = CHG_ENOMEM;
        }
    }
    chg_lines_on_wait(in, NULL, NULL);
    if (rc != CHG_ENOMEM)
        serial_emit(&sb);
    if (ws)
        w->worker_free(w->ud, ws);
    chg_buf_free(&sb.o.out);
    chg_buf_free(&sb.o.errs);
    chg_buf_free(&sb.o.meta);
    if (rc < 0)
        return rc;
    return check_written(out, errs, err, errlen);
}

int chg_drv_batch_run(const chg_batch_work *w, int threads, chg_lines *in, FILE *out, FILE *errs, bool *failed,
                      char *err, size_t errlen)
{
    *failed = false;
    if (threads <= 1)
        return batch_serial(w, in, out, errs, failed, err, errlen);
    pool p;
    memset(&p, 0, sizeof p);
    p.w = w;
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
    int rc = started ? 1 : CHG_ENOMEM;
    if (!started)
        snprintf(err, errlen, "cannot start a thread: %s", strerror(e));
    bool oom = false;
    pool_wait pw = {&p, out, errs, failed, &oom};
    chg_lines_on_wait(in, pool_on_wait, &pw); /* about to wait for input: answer what we have */
    while (rc > 0 && !ferror(out)) {
        /* a free slot, and room under the in-flight budget; the test and
         * the wait are under one lock, so a batch finishing in between
         * cannot be missed */
        pthread_mutex_lock(&p.mu);
        while (p.filled - p.written >= p.nring || (p.inflight > INFLIGHT_MAX && p.written < p.filled)) {
            if (p.ring[p.written % p.nring].done) {
                pthread_mutex_unlock(&p.mu);
                drain(&p, false, out, errs, failed, &oom);
                pthread_mutex_lock(&p.mu);
            } else
                pthread_cond_wait(&p.done, &p.mu);
        }
        batch *bt = &p.ring[p.filled % p.nring];
        pthread_mutex_unlock(&p.mu);
        const char *line;
        size_t len;
        unsigned long lineno;
        while (bt->nlines < BATCH_LINES && bt->lines.len < BATCH_BYTES) {
            if (bt->nlines && !chg_lines_buffered(in))
                break; /* hand out what we have before the reader may wait */
            rc = chg_lines_next(in, &line, &len, &lineno, err, errlen);
            if (rc == 0)
                break;
            bool over = rc == CHG_ERANGE; /* the line was not kept: its place is */
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
        if (bt->nlines) {
            p.filled++;
            p.inflight += bt->lines.len;
        }
        pthread_cond_broadcast(&p.work);
        pthread_mutex_unlock(&p.mu);
        drain(&p, false, out, errs, failed, &oom);
    }
    chg_lines_on_wait(in, NULL, NULL);
    pthread_mutex_lock(&p.mu);
    p.eof = true;
    pthread_cond_broadcast(&p.work);
    pthread_mutex_unlock(&p.mu);
    drain(&p, true, out, errs, failed, &oom);
    for (int i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    for (size_t i = 0; i < p.nring; i++) {
        chg_buf_free(&p.ring[i].lines);
        chg_buf_free(&p.ring[i].o.out);
        chg_buf_free(&p.ring[i].o.errs);
        chg_buf_free(&p.ring[i].o.meta);
        chg_free(p.ring[i].info);
    }
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.work);
    pthread_cond_destroy(&p.done);
    chg_free(p.ring);
    chg_free(tids);
    if (rc < 0)
        return rc;
    if (oom) { /* some answer could not be held: say so, do not pretend */
        snprintf(err, errlen, "out of memory: some decisions were not written");
        return CHG_ENOMEM;
    }
    return check_written(out, errs, err, errlen);
}

/* ---- chgc eval --jsonl's work: a decision per line ----------------------------------- */

typedef struct eval_work {
    const chg_bundle *b;
    const chg_eval_input *base;
    bool explain;
    const char *label;
} eval_work;

static void *eval_worker_new(void *ud)
{
    return chg_ctx_new(((eval_work *)ud)->b);
}

static void eval_worker_free(void *ud, void *ws)
{
    (void)ud;
    chg_ctx_free(ws);
}

static int eval_line(void *ud, void *ws, const char *s, size_t n, unsigned long lineno, bool is_too_long,
                     const char *too_long_msg, chg_batch_out *o)
{
    eval_work *ew = ud;
    char where[32];
    line_label(where, lineno);
    if (!ws) {
        chg_error_line_write(&o->out, where, "out of memory");
        return CHG_ENOMEM;
    }
    if (is_too_long) {
        too_long(where, too_long_msg, &o->out, &o->errs);
        return CHG_EINVAL;
    }
    return chg_decide_json(ws, ew->b, s, n, ew->base, where, ew->explain, &o->out, &o->errs);
}

static void eval_emit(void *ud, const chg_batch_out *o, FILE *out, FILE *errs)
{
    write_errs(errs, ((eval_work *)ud)->label, &o->errs);
    fwrite(o->out.data ? o->out.data : "", 1, o->out.len, out);
}

/* One thread: decide as we read; write every 64 KiB, and whenever the
 * reader is about to wait for input (the on-wait hook). */
typedef struct serial_out {
    FILE *out, *errs;
    const char *label;
    chg_buf o, e;           /* decided, not yet written */
} serial_out;

static void serial_flush(void *ud)
{
    serial_out *so = ud;
    write_errs(so->errs, so->label, &so->e);
    fwrite(so->o.data ? so->o.data : "", 1, so->o.len, so->out);
    fflush(so->out);
    fflush(so->errs);
    chg_buf_reset(&so->o);
    chg_buf_reset(&so->e);
}

static int decide_serial(const chg_bundle *b, const chg_eval_input *base, chg_lines *in,
                         const chg_decide_options *o, FILE *out, FILE *errs, bool *failed, char *err, size_t errlen)
{
    chg_ctx *ctx = chg_ctx_new(b);
    if (!ctx) {
        snprintf(err, errlen, "out of memory");
        return CHG_ENOMEM;
    }
    char msg[128];
    too_long_text(in, msg, sizeof msg);
    serial_out so = {.out = out, .errs = errs, .label = o->label};
    chg_buf_init(&so.o);
    chg_buf_init(&so.e);
    chg_lines_on_wait(in, serial_flush, &so);
    const char *line;
    size_t len;
    unsigned long lineno;
    int rc = 1;
    while (rc != 0) {
        if (so.o.len + so.e.len > (1 << 16))
            serial_flush(&so);
        if (ferror(out)) /* a full disk, a closed pipe: stop now, not at the end of the input */
            break;
        rc = chg_lines_next(in, &line, &len, &lineno, err, errlen);
        if (rc == 0)
            break;
        char where[32];
        line_label(where, lineno);
        if (rc == CHG_ERANGE) {
            too_long(where, msg, &so.o, &so.e);
            *failed = true;
            rc = 1;
        } else if (rc < 0)
            break;
        else {
            int d = chg_decide_json(ctx, b, line, len, base, where, o->explain, &so.o, &so.e);
            *failed |= d == CHG_EINVAL;
            if (d == CHG_ENOMEM) {
                snprintf(err, errlen, "%s: out of memory", where);
                rc = CHG_ENOMEM;
                break;
            }
        }
    }
    chg_lines_on_wait(in, NULL, NULL);
    serial_flush(&so);
    chg_buf_free(&so.o);
    chg_buf_free(&so.e);
    chg_ctx_free(ctx);
    if (rc < 0)
        return rc;
    return check_written(out, errs, err, errlen);
}

int chg_decide_reader(const chg_bundle *b, const chg_eval_input *base, chg_lines *in, const chg_decide_options *o,
                      FILE *out, FILE *errs, bool *failed, char *err, size_t errlen)
{
    *failed = false;
    if (o->threads <= 1)
        return decide_serial(b, base, in, o, out, errs, failed, err, errlen);
    eval_work ew = {b, base, o->explain, o->label};
    chg_batch_work w = {&ew, eval_worker_new, eval_worker_free, eval_line, eval_emit};
    return chg_drv_batch_run(&w, o->threads, in, out, errs, failed, err, errlen);
}

int chg_decide_lines(const chg_bundle *b, const chg_eval_input *base, const char *path, const chg_decide_options *o,
                     FILE *out, FILE *errs, bool *failed, char *err, size_t errlen)
{
    *failed = false;
    chg_lines *in = chg_lines_open(path, 0, err, errlen);
    if (!in)
        return CHG_EIO;
    int rc = chg_decide_reader(b, base, in, o, out, errs, failed, err, errlen);
    chg_lines_close(in);
    return rc;
}

int chg_decide_document(const chg_bundle *b, const chg_eval_input *base, const char *path,
                        const chg_decide_options *o, FILE *out, FILE *errs, bool *failed, char *err, size_t errlen)
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
    chg_buf ob, eb;
    chg_buf_init(&ob);
    chg_buf_init(&eb);
    rc = chg_decide_json(ctx, b, data, len, base, strcmp(path, "-") ? path : "<stdin>", o->explain, &ob, &eb);
    *failed = rc == CHG_EINVAL;
    if (rc == CHG_ENOMEM)
        snprintf(err, errlen, "out of memory");
    else {
        write_errs(errs, o->label, &eb);
        fwrite(ob.data ? ob.data : "", 1, ob.len, out);
        rc = check_written(out, errs, err, errlen);
    }
    chg_buf_free(&ob);
    chg_buf_free(&eb);
    chg_ctx_free(ctx);
    chg_free(data);
    return rc;
}
