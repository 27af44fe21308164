/*
 * batch.h — JSON lines decided on several threads, written in input
 * order (eval.c's pool), for any work that answers a line with bytes:
 * `chgc eval --jsonl` (a decision per line) and `chgc replay` (two
 * decisions per record, compared). The work says how to decide a line
 * and how to write a batch of answers; the pool cuts the input into
 * batches, hands them to workers, and has the reader write them back in
 * order, so the bytes are those of one thread whatever the number.
 */
#ifndef CHG_DRIVER_BATCH_H
#define CHG_DRIVER_BATCH_H

#include "chg_driver.h"

/* What the lines of one batch answered, in their order. */
typedef struct chg_batch_out {
    chg_buf out;            /* for the output */
    chg_buf errs;           /* for the messages */
    chg_buf meta;           /* the work's own notes, for its emit */
} chg_batch_out;

typedef struct chg_batch_work {
    void *ud;
    /* A worker's own state (its contexts), made on its thread; NULL when
     * out of memory: each of its lines is then given ws NULL. */
    void *(*worker_new)(void *ud);
    void (*worker_free)(void *ud, void *ws);
    /* Answer one line into o. too_long: the line was over the reader's
     * limit and is not there (s is empty), too_long_msg says so. Returns
     * CHG_OK, CHG_EINVAL (the line was not an input: *failed is set) or
     * CHG_ENOMEM. */
    int (*line)(void *ud, void *ws, const char *s, size_t n, unsigned long lineno, bool too_long,
                const char *too_long_msg, chg_batch_out *o);
    /* On the reader's thread, batch after batch in input order: write
     * what o holds. */
    void (*emit)(void *ud, const chg_batch_out *o, FILE *out, FILE *errs);
} chg_batch_work;

/* Answer every line of in with w on `threads` workers (<= 1: on the
 * calling thread, through the same line and emit), writing in input
 * order; what is answered is written before the reader waits for more
 * input. *failed as chg_decide_reader's. Returns CHG_OK, or another
 * status with err. */
int chg_drv_batch_run(const chg_batch_work *w, int threads, chg_lines *in, FILE *out, FILE *errs, bool *failed,
                      char *err, size_t errlen);

/* "line N", the place of a JSON line in messages, without printf (it is
 * made for every line). */
void chg_drv_line_label(char where[32], unsigned long n);

/* chg_decide_json for chgc replay: the event decoded through share
 * (chg_event_intake_shared; NULL: on its own). With d, the decision's
 * line is the comparable one (chg_decision_write_comparable) and the
 * decision is kept in *d, for the full line to be written when it is
 * wanted: what it points to is ctx's until its next evaluation, and the
 * event's, which is then *ev (NULL: none, or the share's) for the caller
 * to free after. */
int chg_drv_decide_shared(chg_ctx *ctx, const chg_bundle *b, const char *json, size_t len,
                          const chg_eval_input *base, const char *where, bool explain, chg_event_share *share,
                          chg_decision *d, chg_event **ev, chg_buf *out, chg_buf *errs);

#endif
