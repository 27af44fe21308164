/*
 * decide.c — one decision: the evaluation context, and the walk over the
 * policy's structure (at, classify, rules) that runs the blocks and
 * assembles the outcome by the precedence of language.md §3:
 * deny > defer > pending > allow, with error when evaluation fails.
 *
 * Everything here reads only its arguments and writes only the context:
 * no clock, no I/O, no globals. After a context's first evaluations have
 * grown its scratch arena, a decision allocates nothing.
 */
#include "vm_int.h"

#include <string.h>

#include "chg_time.h"

#define DEFAULT_HORIZON (366 * 86400LL)

const char *chg_outcome_name(chg_outcome o)
{
    switch (o) {
    case CHG_OUT_ALLOW: return "allow";
    case CHG_OUT_PENDING: return "pending";
    case CHG_OUT_DEFER: return "defer";
    case CHG_OUT_DENY: return "deny";
    default: return "error";
    }
}

chg_ctx *chg_ctx_new(const chg_bundle *b)
{
    chg_ctx *ctx = chg_calloc(1, sizeof *ctx);
    if (!ctx)
        return NULL;
    ctx->b = b;
    ctx->regs = chg_calloc(b->nregs + 1, sizeof *ctx->regs);
    ctx->letvals = chg_calloc(b->nlets + 1, sizeof *ctx->letvals);
    ctx->letstate = chg_calloc(b->nlets + 1, 1);
    ctx->frames = chg_calloc(b->nlets + 1, sizeof *ctx->frames);
    ctx->reasons = chg_calloc(b->nrules + 2, sizeof *ctx->reasons);
    ctx->warnings = chg_calloc(b->nrules + 1, sizeof *ctx->warnings);
    ctx->ts_index = chg_tsx_new(b->ntimesets);
    ctx->during_hits = chg_calloc(b->nduring + b->ntimesets + 1, sizeof *ctx->during_hits);
    ctx->window_reqs = chg_calloc(b->nrules + 1, sizeof *ctx->window_reqs);
    ctx->during_all = chg_calloc(b->nduring + 1, sizeof *ctx->during_all);
    ctx->match = pcre2_match_data_create(b->max_captures + 1, NULL);
    if (!ctx->regs || !ctx->letvals || !ctx->letstate || !ctx->frames || !ctx->reasons || !ctx->warnings ||
        !ctx->ts_index || !ctx->during_hits || !ctx->window_reqs || !ctx->during_all || !ctx->match) {
        chg_ctx_free(ctx);
        return NULL;
    }
    return ctx;
}

void chg_ctx_free(chg_ctx *ctx)
{
    if (!ctx)
        return;
    chg_free(ctx->regs);
    chg_free(ctx->letvals);
    chg_free(ctx->letstate);
    chg_free(ctx->frames);
    chg_free(ctx->reasons);
    chg_free(ctx->warnings);
    chg_tsx_free(ctx->ts_index, ctx->b->ntimesets);
    chg_free(ctx->during_hits);
    chg_free(ctx->window_reqs);
    chg_free(ctx->during_all);
    if (ctx->match)
        pcre2_match_data_free(ctx->match);
    chg_scratch_free(&ctx->scratch);
    chg_free(ctx);
}

static bool flag_of(void *ud, const char *name)
{
    bool v = false;
    chg_facts_flag(ud, name, &v);
    return v;
}

static bool in_set(chg_ctx *ctx, uint32_t ts, int64_t t)
{
    chg_ts_env env = {flag_of, (void *)ctx->facts};
    return chg_tsx_contains(ctx->b->timesets[ts].ts, &env, &ctx->ts_index[ts], t);
}

/* Run a block that must give a bool. */
static int run_bool(chg_ctx *ctx, uint32_t block, bool *out)
{
    chg_value v;
    if (chg_vm_run(ctx, block, &v) < 0)
        return -1;
    if (v.tag != CHG_V_BOOL) {
        /* only possible without a schema: the checker types the rest */
        uint32_t last = ctx->b->blocks[block].start + ctx->b->blocks[block].len - 1;
        return chg_vm_error(ctx, last, "a condition must be true or false, not %s", chg_vtag_name(v.tag));
    }
    *out = v.u.i != 0;
    return 0;
}

static int run_text(chg_ctx *ctx, uint32_t block, const char **s, uint32_t *len)
{
    chg_value v;
    if (chg_vm_run(ctx, block, &v) < 0)
        return -1;
    *s = chg_value_to_scratch(ctx, &v, len);
    return *s ? 0 : chg_vm_error(ctx, ctx->b->blocks[block].start, "out of memory");
}

static void add_reason(chg_ctx *ctx, chg_decision *d, uint32_t rule, uint8_t kind, const char *msg, uint32_t len)
{
    const chg_ruledef *r = &ctx->b->rules[rule];
    chg_reason *x = kind == CHG_R_WARN ? &ctx->warnings[d->nwarnings++] : &ctx->reasons[d->nreasons++];
    x->rule = rule;
    x->kind = kind;
    x->level = r->level;
    x->message = msg;
    x->message_len = len;
    x->span = r->span;
}

/* The decision for a run-time error: the reason names the rule (when the
 * failing code belongs to one) and the instruction's source position. */
static void fail_decision(chg_ctx *ctx, chg_decision *d, uint32_t rule)
{
    d->outcome = CHG_OUT_ERROR;
    d->nreasons = 0;
    d->nwarnings = 0;
    chg_reason *x = &ctx->reasons[d->nreasons++];
    x->rule = rule;
    x->kind = CHG_R_ERROR;
    x->level = rule != UINT32_MAX ? ctx->b->rules[rule].level : 0;
    x->message = ctx->err_msg;
    x->message_len = ctx->err_len;
    x->span = ctx->err_pc < ctx->b->ncode ? ctx->b->insspan[ctx->err_pc] : 0;
    d->window = -1;
    d->nfreezes = 0;
    d->next_open = INT64_MIN;
    d->closes_at = INT64_MIN;
}

int chg_eval(chg_ctx *ctx, const chg_eval_input *in, chg_decision *d)
{
    const chg_bundle *b = ctx->b;
    chg_scratch_reset(&ctx->scratch);
    if (b->nlets)
        memset(ctx->letstate, 0, b->nlets);
    if (ctx->cache_facts != in->facts || (in->facts && ctx->cache_generation != in->facts->generation)) {
        chg_tsx_reset(ctx->ts_index, b->ntimesets);
        ctx->cache_facts = in->facts;
        ctx->cache_generation = in->facts ? in->facts->generation : 0;
    }
    ctx->failed = false;
    ctx->ev = in->change;
    ctx->facts = in->facts;
    ctx->risk = -1;
    ctx->var_freeze = ctx->var_reason = ctx->var_summary = NULL;
    memset(d, 0, sizeof *d);
    d->risk = -1;
    d->window = -1;
    d->closes_at = d->next_open = INT64_MIN;
    d->reasons = ctx->reasons;
    d->warnings = ctx->warnings;
    d->freezes = ctx->during_hits;

    const chg_value *id = b->id_slot < b->nslots_change ? &in->change->slots[b->id_slot] : NULL;
    if (id && id->tag == CHG_V_STR) {
        d->change_id = id->u.s;
        d->change_id_len = id->len;
    }

    /* now */
    ctx->now = in->now;
    if (b->at_block != CHG_NONE32) {
        chg_value v;
        if (chg_vm_run(ctx, b->at_block, &v) < 0) {
            d->at = in->now;
            fail_decision(ctx, d, UINT32_MAX);
            return CHG_OK;
        }
        if (v.tag != CHG_V_TIME) {
            chg_vm_error(ctx, b->blocks[b->at_block].start, "'at' must give an instant, not %s",
                         chg_vtag_name(v.tag));
            d->at = in->now;
            fail_decision(ctx, d, UINT32_MAX);
            return CHG_OK;
        }
        ctx->now = v.u.i;
    }
    d->at = ctx->now;

    /* classify: the first arm that holds */
    for (uint32_t i = 0; i < b->narms; i++) {
        bool hit = true;
        if (b->arms[i].cond != CHG_NONE32 && run_bool(ctx, b->arms[i].cond, &hit) < 0) {
            fail_decision(ctx, d, UINT32_MAX);
            return CHG_OK;
        }
        if (hit) {
            ctx->risk = (int)b->arms[i].cls;
            break;
        }
    }
    d->risk = ctx->risk;

    /* rules, in order; every one that applies is a reason */
    uint32_t nwindows = 0, nduring_all = 0;
    bool deny_firm = false;   /* a deny that time alone will not lift */
    bool deny_timed = false;  /* a deny during a freeze */
    bool closed = false;
    for (uint32_t i = 0; i < b->nrules; i++) {
        const chg_ruledef *r = &b->rules[i];
        bool applies = true;
        if (r->when != CHG_NONE32 && run_bool(ctx, r->when, &applies) < 0) {
            fail_decision(ctx, d, i);
            return CHG_OK;
        }
        if (!applies)
            continue;
        const char *msg = NULL;
        uint32_t len = 0;
        switch (r->action) {
        case CHG_RA_DENY:
        case CHG_RA_WARN: {
            if (r->during_count) {
                /* deny during: only while one of the sets holds now */
                uint32_t hit = CHG_NONE32;
                for (uint32_t k = 0; k < r->during_count; k++) {
                    uint32_t ts = b->during[r->during_first + k];
                    bool known = false;
                    for (uint32_t q = 0; q < nduring_all; q++)
                        known |= ctx->during_all[q] == ts;
                    if (!known)
                        ctx->during_all[nduring_all++] = ts;
                    if (in_set(ctx, ts, ctx->now)) {
                        if (hit == CHG_NONE32)
                            hit = ts;
                        bool dup = false;
                        for (uint32_t q = 0; q < d->nfreezes; q++)
                            dup |= d->freezes[q] == ts;
                        if (!dup)
                            d->freezes[d->nfreezes++] = ts;
                    }
                }
                if (hit == CHG_NONE32)
                    break;
                ctx->var_freeze = b->str[b->timesets[hit].name];
            }
            if (r->msg != CHG_NONE32 && run_text(ctx, r->msg, &msg, &len) < 0) {
                fail_decision(ctx, d, i);
                return CHG_OK;
            }
            if (!msg) {
                msg = b->str[r->name];
                len = b->strlen[r->name];
            }
            add_reason(ctx, d, i, r->action == CHG_RA_DENY ? CHG_R_DENY : CHG_R_WARN, msg, len);
            if (r->action == CHG_RA_DENY) {
                if (r->during_count)
                    deny_timed = true;
                else
                    deny_firm = true;
            }
            ctx->var_freeze = NULL;
            break;
        }
        case CHG_RA_WINDOW: {
            bool open = in_set(ctx, r->window, ctx->now);
            ctx->window_reqs[nwindows++] = r->window;
            if (d->window < 0) {
                d->window = (int32_t)r->window;
                d->window_open = open;
            }
            if (!open) {
                closed = true;
                /* the message names the window: "window any_slot is closed" */
                const char *w = b->str[b->timesets[r->window].name];
                size_t wl = strlen(w);
                char *m = chg_scratch_alloc(&ctx->scratch, wl + 20);
                if (m) {
                    memcpy(m, "window ", 7);
                    memcpy(m + 7, w, wl);
                    memcpy(m + 7 + wl, " is closed", 11);
                    add_reason(ctx, d, i, CHG_R_WINDOW, m, (uint32_t)(wl + 17));
                }
            }
            break;
        }
        case CHG_RA_APPROVAL:
            /* approval requirements are decided with the approvals table */
            break;
        }
    }

    if (deny_firm || deny_timed)
        d->outcome = CHG_OUT_DENY;
    else if (closed)
        d->outcome = CHG_OUT_DEFER;
    else
        d->outcome = CHG_OUT_ALLOW;

    /* when the window closes, and when everything opens again */
    chg_ts_env env = {flag_of, (void *)ctx->facts};
    int64_t horizon = in->horizon > 0 ? in->horizon : DEFAULT_HORIZON;
    if (d->window >= 0 && d->window_open)
        d->closes_at = chg_tsx_next_change(b->timesets[d->window].ts, &env, &ctx->ts_index[d->window], ctx->now,
                                           horizon);
    if (!deny_firm && (closed || deny_timed)) {
        /* every required window open, and no freeze of an applying
         * deny-during rule — not only those that hold now: the next slot
         * must avoid the freeze after this one too */
        chg_ts_index *xs[128];
        const chg_timeset *sets[128];
        bool want[128];
        size_t n = 0;
        for (uint32_t k = 0; k < nwindows && n < 128; k++, n++) {
            xs[n] = &ctx->ts_index[ctx->window_reqs[k]];
            sets[n] = b->timesets[ctx->window_reqs[k]].ts;
            want[n] = true;
        }
        for (uint32_t k = 0; k < nduring_all && n < 128; k++, n++) {
            xs[n] = &ctx->ts_index[ctx->during_all[k]];
            sets[n] = b->timesets[ctx->during_all[k]].ts;
            want[n] = false;
        }
        d->next_open = chg_tsx_next_admissible(xs, sets, want, n, &env, ctx->now + 1, horizon);
    }
    return CHG_OK;
}
