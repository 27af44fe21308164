/*
 * intake_diff.h — one raw event through the intakes' fast path and
 * through the jansson path it stands in for, compared: the fast path
 * (chg_event_intake_change: vm/fastdecode.c's one pass, the intakes'
 * `when`s on its slots) must give what the jansson path
 * (chg_vm_intake_jansson) gives, the same decision and explanation, or
 * the same error, word for word, and the same intake. Each way is asked
 * twice on one context, and with and without the change's text wanted
 * (chgd's way), since state that survives one answer is where a leak into
 * the next hides. With a twin (another bundle that decodes as this one,
 * chg_bundle_decode_same), the event is also judged through a share the
 * twin's intake filled, as chgc replay judges it under its second policy,
 * and must give the jansson path's answer too. Shared by
 * tests/unit/test_intake_diff.c and
 * fuzz/fuzz_intake.c; static, so each has its own copy.
 */
#ifndef CHG_FUZZ_INTAKE_DIFF_H
#define CHG_FUZZ_INTAKE_DIFF_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "chg_vm.h"
#include "vm_int.h"

/* Everything one way says of the event, as text: the intake used, then
 * the error, or the explanation and the decision; with want_change, the
 * change's text as chgd stores it. Heap; NULL only when out of memory. */
static char *intake_diff_answer(chg_ctx *ctx, const chg_bundle *b, const char *ev, size_t len,
                                const chg_eval_input *base, bool fast, bool want_change, chg_event_share *share)
{
    char err[1024];
    err[0] = 0;
    int used = -2;
    chg_buf change, out;
    chg_buf_init(&change);
    chg_buf_init(&out);
    chg_buf *cp = want_change ? &change : NULL;
    chg_event *e = share  ? chg_event_intake_shared(ctx, ev, len, base, &used, share, err, sizeof err)
                   : fast ? chg_event_intake_change(ctx, ev, len, base, &used, cp, err, sizeof err)
                          : chg_vm_intake_jansson(ctx, ev, len, base, &used, cp, err, sizeof err);
    chg_buf_printf(&out, "intake %d\n", used);
    if (!e)
        chg_buf_printf(&out, "error: %s\n", err);
    else {
        chg_eval_input in = *base;
        in.change = e;
        chg_decision d;
        chg_explain(ctx, &in, &d, &out);
        chg_buf_puts(&out, "\ndecision: ");
        chg_decision_write(b, &d, &out);
        if (!share || e != share->change)
            chg_event_free(e);
        if (want_change) {
            chg_buf_puts(&out, "\nchange: ");
            chg_buf_append(&out, change.data ? change.data : "", change.len);
        }
    }
    chg_buf_free(&change);
    if (out.oom) {
        chg_buf_free(&out);
        return NULL;
    }
    return chg_buf_take(&out);
}

/* What ctx answers through a share that twin's context tctx filled first
 * (chgc replay's way: the second policy takes the events the first one's
 * intake decoded); twin is another bundle that decodes as b does
 * (chg_bundle_decode_same), and its own answer is not compared here. */
static char *intake_diff_shared(chg_ctx *ctx, const chg_bundle *b, chg_ctx *tctx, const chg_bundle *twin,
                                const char *ev, size_t len, const chg_eval_input *base)
{
    chg_event_share share = {NULL, NULL};
    char *first = intake_diff_answer(tctx, twin, ev, len, base, true, false, &share);
    char *a = first ? intake_diff_answer(ctx, b, ev, len, base, true, false, &share) : NULL;
    chg_event_share_clear(&share, tctx); /* given back to the twin, which fills them again next */
    chg_free(first);
    return a;
}

/* NULL when both ways agree on ev; else what differs, for a message
 * (heap). ctx is b's, and is used for everything, in this order: fast,
 * jansson, fast again, then both with the change's text wanted, then
 * (with a twin: tctx, another context of a bundle that decodes as b does,
 * NULL for none) through a share tctx filled. */
static char *intake_diff_check(chg_ctx *ctx, const chg_bundle *b, const char *ev, size_t len,
                               const chg_eval_input *base, chg_ctx *tctx, const chg_bundle *twin)
{
    char *a[6] = {
        intake_diff_answer(ctx, b, ev, len, base, true, false, NULL),
        intake_diff_answer(ctx, b, ev, len, base, false, false, NULL),
        intake_diff_answer(ctx, b, ev, len, base, true, false, NULL),
        intake_diff_answer(ctx, b, ev, len, base, true, true, NULL),
        intake_diff_answer(ctx, b, ev, len, base, false, true, NULL),
        tctx ? intake_diff_shared(ctx, b, tctx, twin, ev, len, base) : chg_strdup(""),
    };
    static const char *const what[6] = {"fast", "jansson", "fast, again", "fast, change wanted",
                                        "jansson, change wanted", "fast, through a twin's share"};
    char *diff = NULL;
    for (int k = 0; k < 6; k++)
        if (!a[k]) {
            diff = chg_strdup("out of memory");
            goto done;
        }
    static const int pairs[4][2] = {{0, 1}, {2, 1}, {3, 4}, {5, 1}};
    for (int p = 0; p < (tctx ? 4 : 3) && !diff; p++) {
        const char *x = a[pairs[p][0]], *y = a[pairs[p][1]];
        if (strcmp(x, y) == 0)
            continue;
        chg_buf m;
        chg_buf_init(&m);
        chg_buf_printf(&m, "%s:\n%s\n%s:\n%s\n", what[pairs[p][0]], x, what[pairs[p][1]], y);
        diff = chg_buf_take(&m);
    }
done:
    for (int k = 0; k < 6; k++)
        chg_free(a[k]);
    return diff;
}

#endif
