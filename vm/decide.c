/*
 * decide.c — one decision: the evaluation context, and the walk over the
 * policy's structure (at, classify, rules, approvals, actions) that runs
 * the blocks and settles the outcome by the contract of language.md §3:
 *
 *   deny    a mandatory deny, an overridable deny without an approved
 *           emergency, a `deny during` while its freeze holds (overridable
 *           ones lifted by an approved emergency), or a rejection;
 *   defer   no deny, but a required window is closed (an approved
 *           emergency lifts every window);
 *   pending approvals missing (`missing` lists exactly what), or an
 *           emergency whose own approvals are not yet met;
 *   allow   none of these;
 *   error   evaluation failed (the reason names the rule and place).
 *
 * Everything here reads only its arguments and writes only the context:
 * no clock, no I/O, no globals. A warmed-up context allocates nothing.
 */
#include "vm_int.h"

#include <stdio.h>
#include <string.h>

#include "chg_time.h"

/* How far next_open and closes_at look: the caller's horizon (at most
 * CHG_HORIZON_MAX), else 366 days — a year and a day holds one occurrence
 * of every yearly schedule (a freeze over new year, a leap day) — and
 * never past the last instant there is (9999-12-31T23:59:59Z). The
 * searches include now + horizon itself (chg_time.h); beyond it the
 * answer is null. The one definition, for the decision and its
 * explanation. */
int64_t chg_vm_horizon(const chg_eval_input *in, int64_t now)
{
    int64_t h = in->horizon > 0 ? in->horizon : CHG_HORIZON_DEFAULT;
    if (h > CHG_HORIZON_MAX)
        h = CHG_HORIZON_MAX;
    if (now < CHG_TIME_MAX && h > CHG_TIME_MAX - now)
        h = CHG_TIME_MAX - now;
    return h;
}

/* The horizon bounds the searches through recurring schedules, which
 * change without end; a set of calendars, ranges and `at` runs changes
 * finitely often and its spans name its changes, so a search over such
 * sets alone costs one step per change it passes (at most two per
 * interval of the calendars after now) however far it looks: it looks to
 * the end of time. A search with one recurring set keeps the horizon,
 * since past it that set's changes are not looked for. */
int64_t chg_vm_search_horizon(const chg_eval_input *in, int64_t now, const chg_timeset *const *sets, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (!chg_timeset_is_finite(sets[k]))
            return chg_vm_horizon(in, now);
    return now < CHG_TIME_MAX ? CHG_TIME_MAX - now : 0;
}

/* The names decisions are written with; anything unknown reads "error",
 * the one outcome that never makes a caller proceed with a change. */
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

/* A decision's reasons: one per rule at most, one for a rejection, or the
 * schema errors of the change (CHG_SCHEMA_LISTED and one "and N more");
 * its warnings: one per rule, after the change's undeclared fields. */
#define MAX_REASONS(b) ((b)->nrules + 2 + CHG_SCHEMA_LISTED + 1)
#define MAX_WARNINGS(b) ((b)->nrules + 1 + CHG_SCHEMA_LISTED + 1)

/* The per-decision byte arrays (let states, rules applied) are cleared
 * at every decision; they are a byte or two for most policies, and a call
 * of memset costs more than the clearing. Allocated to a multiple of 16
 * bytes, one of 16 or less is cleared with one constant-size store. */
#define ZERO_CAP(n) (((size_t)(n) + 16) & ~(size_t)15)
static inline void zero_bytes(uint8_t *p, size_t n)
{
    if (n <= 16)
        memset(p, 0, 16); /* within ZERO_CAP(n) */
    else
        memset(p, 0, n);
}

/* Every array a decision writes is allocated here, at its largest, so a
 * decision never allocates: the bounds are the bundle's own counts (each
 * rule adds one reason at most, plus one for a rejection; each deny-during
 * rule names its sets in `during`; each action owns a run of calls), and
 * 64 for the approvals' texts (a conjunction has at most 16 terms). The
 * asserts in decide() check each array against its bound. The + 1s keep
 * an empty array a valid pointer. */
chg_ctx *chg_ctx_new(const chg_bundle *b)
{
    chg_ctx *ctx = chg_calloc(1, sizeof *ctx);
    if (!ctx)
        return NULL;
    ctx->b = b;
    ctx->regs = chg_calloc(b->nregs + 1, sizeof *ctx->regs);
    ctx->letvals = chg_calloc(b->nlets + 1, sizeof *ctx->letvals);
    ctx->letstate = chg_calloc(ZERO_CAP(b->nlets), 1);
    ctx->frames = chg_calloc(b->nlets + 1, sizeof *ctx->frames);
    ctx->reasons = chg_calloc(MAX_REASONS(b), sizeof *ctx->reasons);
    ctx->warnings = chg_calloc(MAX_WARNINGS(b), sizeof *ctx->warnings);
    ctx->during_hits = chg_calloc(b->nduring + b->ntimesets + 1, sizeof *ctx->during_hits);
    ctx->window_reqs = chg_calloc(b->nrules + 1, sizeof *ctx->window_reqs);
    ctx->during_all = chg_calloc(b->nduring + 1, sizeof *ctx->during_all);
    ctx->during_level = chg_calloc(b->nduring + 1, 1);
    ctx->ts_sets = chg_calloc(b->nrules + b->nduring + 1, sizeof *ctx->ts_sets);
    ctx->ts_want = chg_calloc(b->nrules + b->nduring + 1, sizeof *ctx->ts_want);
    ctx->req_roots = chg_calloc(b->nrules + 2, sizeof *ctx->req_roots);
    ctx->satisfied = chg_calloc(64, sizeof *ctx->satisfied);
    ctx->missing = chg_calloc(64, sizeof *ctx->missing);
    ctx->missing_nodes = chg_calloc(64, sizeof *ctx->missing_nodes);
    ctx->actions = chg_calloc(b->ncalls + 1, sizeof *ctx->actions);
    ctx->applied = chg_calloc(ZERO_CAP(b->nrules), 1);
    /* the approvals block looked up once per class, not per decision: the
     * last entry for a class (or for emergency) is the one in force */
    ctx->class_req = chg_calloc(b->nrisks + 1, sizeof *ctx->class_req);
    ctx->emergency_req = CHG_NONE32;
    for (uint32_t r = 0; ctx->class_req && r < b->nrisks; r++)
        ctx->class_req[r] = CHG_NONE32;
    for (uint32_t i = 0; ctx->class_req && i < b->napprovals; i++) {
        if (b->approvals[i].cls == CHG_NONE32)
            ctx->emergency_req = b->approvals[i].req;
        else if (b->approvals[i].cls < b->nrisks)
            ctx->class_req[b->approvals[i].cls] = b->approvals[i].req;
    }
    ctx->match = pcre2_match_data_create(b->max_captures + 1, b->pcre);
    /* the regex budget, once per context: a match context with the
     * bundle's limits and a JIT stack far larger than pcre2's 32 KiB
     * default, which a group repeated over 1.5 KiB of text exhausts */
    ctx->mctx = pcre2_match_context_create(b->pcre);
    ctx->jit_stack = pcre2_jit_stack_create(32 << 10, CHG_JIT_STACK_MAX, b->pcre);
    if (ctx->mctx) {
        uint32_t lim = (uint32_t)(b->limits.regex_steps < UINT32_MAX ? b->limits.regex_steps : UINT32_MAX);
        pcre2_set_match_limit(ctx->mctx, lim);
        pcre2_set_depth_limit(ctx->mctx, lim);
        pcre2_set_heap_limit(ctx->mctx, CHG_JIT_STACK_MAX >> 10); /* KiB, for the interpreter */
        if (ctx->jit_stack)
            pcre2_jit_stack_assign(ctx->mctx, NULL, ctx->jit_stack);
    }
    ctx->scratch.cap = (size_t)b->limits.scratch;
    ctx->blank = (chg_decision){
        .risk = -1,
        .arm = -1,
        .window = -1,
        .closes_at = INT64_MIN,
        .next_open = INT64_MIN,
        .cutoff_at = INT64_MIN,
        .reasons = ctx->reasons,
        .warnings = ctx->warnings,
        .freezes = ctx->during_hits,
        .approvals_required = "none",
        .satisfied = ctx->satisfied,
        .missing = ctx->missing,
        .actions = ctx->actions,
    };
    if (!ctx->regs || !ctx->letvals || !ctx->letstate || !ctx->frames || !ctx->reasons || !ctx->warnings ||
        !ctx->during_hits || !ctx->window_reqs || !ctx->during_all || !ctx->req_roots ||
        !ctx->during_level || !ctx->ts_sets || !ctx->ts_want ||
        !ctx->satisfied || !ctx->missing || !ctx->missing_nodes || !ctx->actions || !ctx->applied ||
        !ctx->class_req || !ctx->match ||
        !ctx->mctx || !ctx->jit_stack) {
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
    chg_vm_fastdec_free(ctx->fastdec);
    chg_vm_fastdec_free(ctx->fastdec2);
    chg_free(ctx->letvals);
    chg_free(ctx->letstate);
    chg_free(ctx->frames);
    chg_free(ctx->reasons);
    chg_free(ctx->warnings);
    chg_free(ctx->during_hits);
    chg_free(ctx->window_reqs);
    chg_free(ctx->during_all);
    chg_free(ctx->during_level);
    chg_free(ctx->ts_sets);
    chg_free(ctx->ts_want);
    chg_free(ctx->req_roots);
    chg_free(ctx->satisfied);
    chg_free(ctx->missing);
    chg_free(ctx->missing_nodes);
    chg_free(ctx->actions);
    chg_free(ctx->applied);
    chg_free(ctx->class_req);
    if (ctx->match)
        pcre2_match_data_free(ctx->match);
    if (ctx->mctx)
        pcre2_match_context_free(ctx->mctx);
    if (ctx->jit_stack)
        pcre2_jit_stack_free(ctx->jit_stack);
    chg_arena_free(&ctx->scratch);
    chg_free(ctx);
}

void chg_ctx_usage(const chg_ctx *ctx, chg_usage *out)
{
    out->steps = ctx->used_steps;
    out->scratch = ctx->used_scratch;
    out->steps_limit = ctx->b->limits.steps;
    out->regex_steps_limit = ctx->b->limits.regex_steps;
    out->scratch_limit = ctx->b->limits.scratch;
}

/* For coverage: 1 only (held and acted), so a `deny during` that held
 * outside its freezes does not count a test as exercising the deny. */
bool chg_ctx_rule_applied(const chg_ctx *ctx, uint32_t rule)
{
    return rule < ctx->b->nrules && ctx->applied[rule] == 1;
}

/* The time library's flag callback: ud is the decision's facts. */
bool chg_vm_ctx_flag(void *ud, const char *name)
{
    bool v = false;
    chg_vm_facts_flag(ud, name, &v);
    return v;
}

/* Membership, asked of the time-set library: a few field steps at t
 * whatever the instants judged before (no state kept between questions,
 * so the order changes arrive in costs nothing). */
static bool in_set(chg_ctx *ctx, uint32_t ts, int64_t t)
{
    CHG_ASSERT(ts < ctx->b->ntimesets); /* rule windows and `during` lists, checked at load */
    chg_ts_env env = {chg_vm_ctx_flag, (void *)ctx->facts};
    return chg_timeset_contains(ctx->b->timesets[ts].ts, &env, t);
}

/* Run a block that must give a bool. A failure inside the block has set
 * ctx's error (message and pc); the caller only names the rule. */
static int run_bool(chg_ctx *ctx, uint32_t block, bool *out)
{
    chg_value v;
    if (chg_vm_run(ctx, block, &v) < 0)
        return -1;
    if (v.tag != CHG_V_BOOL) {
        /* only possible without a schema: the checker types the rest */
        uint32_t last = ctx->b->blocks[block].start + ctx->b->blocks[block].len - 1;
        return chg_vm_error(ctx, last, "a condition must be true or false, not %s", chg_vm_vtag_name(v.tag));
    }
    *out = v.u.i != 0;
    return 0;
}

/* A message block's value as text in scratch (valid for this decision);
 * a non-string is rendered, so `"{n} files"` and a bare number both work. */
static int run_text(chg_ctx *ctx, uint32_t block, const char **s, uint32_t *len)
{
    chg_value v;
    if (chg_vm_run(ctx, block, &v) < 0)
        return -1;
    *s = chg_vm_value_to_scratch(ctx, &v, len);
    if (!*s)
        return chg_vm_scratch_error(ctx, ctx->b->blocks[block].start);
    return chg_vm_charge(ctx, ctx->b->blocks[block].start, chg_vm_byte_steps(*len));
}

/* Reasons and warnings live in the context's arrays, sized in chg_ctx_new:
 * one per rule, since a rule acts once per decision, and reasons have one
 * more for a rejection. */
static chg_reason *add_reason(chg_ctx *ctx, chg_decision *d, uint32_t rule, uint8_t kind, const char *msg,
                              uint32_t len)
{
    CHG_ASSERT(rule < ctx->b->nrules);
    const chg_ruledef *r = &ctx->b->rules[rule];
    CHG_ASSERT(kind == CHG_R_WARN ? d->nwarnings < MAX_WARNINGS(ctx->b) : d->nreasons < ctx->b->nrules + 1);
    chg_reason *x = kind == CHG_R_WARN ? &ctx->warnings[d->nwarnings++] : &ctx->reasons[d->nreasons++];
    x->rule = rule;
    x->kind = kind;
    x->level = r->level;
    x->overridden = false;
    x->during = false;
    x->message = msg;
    x->message_len = len;
    x->span = r->span;
    return x;
}

/* "<prefix><name><suffix>" in scratch. */
/* Reason texts built at decision time ("window x is closed") live in the
 * scratch arena, reset at the next decision, like every string a decision
 * points at that is not the bundle's. */
static const char *join3(chg_ctx *ctx, const char *a, const char *b, const char *c, uint32_t *len)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *p = chg_arena_alloc_raw(&ctx->scratch, la + lb + lc + 1);
    if (!p)
        return NULL;
    memcpy(p, a, la);
    memcpy(p + la, b, lb);
    memcpy(p + la + lb, c, lc);
    p[la + lb + lc] = 0;
    *len = (uint32_t)(la + lb + lc);
    return p;
}

/* The decision for a run-time error: the reason names the rule (when the
 * failing code belongs to one) and the instruction's source position. */
static void fail_decision(chg_ctx *ctx, chg_decision *d, uint32_t rule)
{
    /* Everything gathered before the failure is dropped: a decision that
     * failed half-way must not show reasons, freezes or approvals that
     * would read as a judgement of the whole policy. */
    d->outcome = CHG_OUT_ERROR;
    d->nreasons = 0;
    d->nwarnings = 0;
    chg_reason *x = &ctx->reasons[d->nreasons++];
    x->rule = rule;
    x->kind = CHG_R_ERROR;
    x->level = rule != UINT32_MAX ? ctx->b->rules[rule].level : 0;
    x->overridden = false;
    x->during = false;
    x->message = ctx->err_msg;
    x->message_len = ctx->err_len;
    x->span = ctx->err_pc < ctx->b->ncode ? ctx->b->insspan[ctx->err_pc] : UINT32_MAX;
    d->window = -1;
    d->nwindows = 0;
    d->nfreezes = 0;
    d->next_open = INT64_MIN;
    d->closes_at = INT64_MIN;
    d->cutoff_at = INT64_MIN;
    d->nsatisfied = d->nmissing = 0;
    d->nactions = 0;
    d->emergency = false;
}

/* The change's fields the schema does not declare, as warnings of no
 * rule (a strict schema made them errors instead). They come first: they
 * are about the input, found before any rule ran. */
static void schema_warnings(chg_ctx *ctx, chg_decision *d)
{
    const chg_event *ev = ctx->ev;
    CHG_ASSERT(ev->nwarnings <= CHG_SCHEMA_LISTED + 1 && d->nwarnings == 0);
    for (uint32_t i = 0; i < ev->nwarnings; i++) {
        chg_reason *x = &ctx->warnings[d->nwarnings++];
        memset(x, 0, sizeof *x);
        x->rule = UINT32_MAX;
        x->kind = CHG_R_WARN;
        x->level = 2; /* advisory: a warning never changes the outcome */
        x->message = ev->warnings[i].msg;
        x->message_len = ev->warnings[i].len;
        x->span = ev->warnings[i].span;
    }
}

/* A change that does not fit the schema: outcome `error`, one reason per
 * offending path (schema.c listed them when it was decoded), and nothing
 * judged — no class, no rule, no approvals. */
static void schema_decision(chg_ctx *ctx, chg_decision *d)
{
    const chg_event *ev = ctx->ev;
    CHG_ASSERT(ev->nerrors <= CHG_SCHEMA_LISTED + 1 && ev->nerrors <= MAX_REASONS(ctx->b));
    d->outcome = CHG_OUT_ERROR;
    d->risk = -1;
    d->nreasons = 0;
    for (uint32_t i = 0; i < ev->nerrors; i++) {
        chg_reason *x = &ctx->reasons[d->nreasons++];
        memset(x, 0, sizeof *x);
        x->rule = UINT32_MAX;
        x->kind = CHG_R_ERROR;
        x->message = ev->errors[i].msg;
        x->message_len = ev->errors[i].len;
        x->span = ev->errors[i].span;
    }
    /* what `on error` actions read as the reason */
    ctx->err_msg = ev->errors[0].msg;
    ctx->err_len = ev->errors[0].len;
    ctx->err_pc = UINT32_MAX;
    ctx->failed = true;
}

/* A flag field of the change (emergency): only a real `true` counts, not
 * "yes" or 1, since a policy without a schema gets whatever the event has
 * and break-glass must not be switched on by accident. */
/* slot CHG_NONE32: the policy has no emergency field, so never break-glass. */
static bool truthy_slot(const chg_ctx *ctx, uint32_t slot)
{
    if (slot == CHG_NONE32)
        return false;
    CHG_ASSERT(slot < ctx->b->nslots_change); /* load_meta */
    const chg_value *v = &ctx->ev->slots[slot];
    return v->tag == CHG_V_BOOL && v->u.i;
}

/* Append the k bytes at s to head[*n], which holds 511 bytes and a NUL:
 * what snprintf into 512 bytes keeps. */
static void head_put(char head[512], size_t *n, const char *s, size_t k)
{
    if (k > 511 - *n)
        k = 511 - *n;
    memcpy(head + *n, s, k);
    *n += k;
}

static void head_puts(char head[512], size_t *n, const char *s) { head_put(head, n, s, strlen(s)); }

/* The reason, and a one-line summary, that actions see. Computed when an
 * action's arguments first read them (VAR), not for every decision: most
 * decisions run no action. */
void chg_vm_action_vars(chg_ctx *ctx)
{
    const chg_bundle *b = ctx->b;
    const chg_decision *d = ctx->action_d;
    /* the first reason of the kind that decided the outcome */
    const char *reason = "";
    for (uint32_t i = 0; i < d->nreasons && !*reason; i++) {
        const chg_reason *x = &d->reasons[i];
        bool decides = d->outcome == CHG_OUT_DENY    ? x->kind == CHG_R_DENY || x->kind == CHG_R_REJECTED
                       : d->outcome == CHG_OUT_DEFER ? x->kind == CHG_R_WINDOW || x->kind == CHG_R_LIMIT
                       : d->outcome == CHG_OUT_ERROR ? x->kind == CHG_R_ERROR
                                                     : false;
        if (decides && !x->overridden)
            reason = x->message ? x->message : "";
    }
    if (!*reason && d->outcome == CHG_OUT_PENDING && d->nmissing) {
        uint32_t len;
        reason = join3(ctx, "waiting for approvals: ", d->missing[0], "", &len);
    }
    /* join3 is NULL out of memory (the scratch arena marks the decision void) */
    if (!reason || !*reason)
        reason = d->emergency ? "emergency change, approved" : chg_outcome_name(d->outcome);
    ctx->var_reason = reason ? reason : "";
    /* "<outcome>: change <id> (<risk>[, emergency]) under <policy>[ <version>]: ",
     * the id cut at 200 bytes and the whole at 511, assembled by hand */
    char head[512];
    size_t n = 0;
    const char *risk = d->risk >= 0 && (uint32_t)d->risk < b->nrisks ? b->str[b->risks[d->risk]] : "unclassified";
    const char *version = b->str[b->version];
    head_puts(head, &n, chg_outcome_name(d->outcome));
    head_puts(head, &n, ": change ");
    size_t idlen = d->change_id ? (d->change_id_len > 200 ? 200 : d->change_id_len) : 1;
    const char *id = d->change_id ? d->change_id : "?", *nul = memchr(id, 0, idlen); /* %.*s stops there */
    head_put(head, &n, id, nul ? (size_t)(nul - id) : idlen);
    head_puts(head, &n, " (");
    head_puts(head, &n, risk);
    head_puts(head, &n, d->emergency ? ", emergency) under " : ") under ");
    head_puts(head, &n, b->str[b->name]);
    if (*version) {
        head_puts(head, &n, " ");
        head_puts(head, &n, version);
    }
    head_puts(head, &n, ": ");
    head[n] = 0;
    uint32_t len;
    ctx->var_summary = join3(ctx, head, ctx->var_reason, "", &len);
}

/* Actions bound to the outcome (and `on emergency` when break-glass is in
 * effect): their calls' arguments, evaluated; never performed here. */
static int run_actions(chg_ctx *ctx, chg_decision *d)
{
    const chg_bundle *b = ctx->b;
    d->actions = ctx->actions;
    d->nactions = 0;
    if (!b->nactions)
        return 0;
    ctx->action_d = d; /* reason and summary are made when first read */
    for (uint32_t i = 0; i < b->nactions; i++) {
        const chg_actiondef *a = &b->actions[i];
        bool fires = a->outcome == 5 ? d->emergency : a->outcome == d->outcome;
        if (!fires)
            continue;
        if (a->when != CHG_NONE32) {
            bool ok = false;
            if (run_bool(ctx, a->when, &ok) < 0)
                return -1;
            if (!ok)
                continue;
        }
        /* actions own disjoint runs of calls and each fires once at most,
         * so ncalls records are enough (load_decisions) */
        CHG_ASSERT(a->first + a->count <= b->ncalls && d->nactions + a->count <= b->ncalls);
        for (uint32_t k = 0; k < a->count; k++) {
            chg_action *x = &ctx->actions[d->nactions++];
            x->call = a->first + k;
            if (chg_vm_run(ctx, b->calls[x->call].args, &x->args) < 0)
                return -1;
        }
    }
    return 0;
}

/* Prepare ctx for one evaluation (a decision, or an intake's blocks):
 * per-decision state is cleared, the time-set index is kept when the
 * flags are the same. */
void chg_vm_ctx_begin(chg_ctx *ctx, const chg_event *ev, int64_t now, const chg_facts *facts, chg_resolver_fn resolver,
                   void *resolver_ud)
{
    const chg_bundle *b = ctx->b;
    /* scratch is reset, not freed: its chunks stay for the next decision */
    chg_arena_reset(&ctx->scratch);
    ctx->scratch.cap = (size_t)b->limits.scratch;
    ctx->steps_left = b->limits.steps;
    zero_bytes(ctx->letstate, b->nlets);
    zero_bytes(ctx->applied, b->nrules);
    ctx->failed = false;
    ctx->oom = false;
    ctx->ap_nroots = 0;
    ctx->ev = ev;
    ctx->facts = facts;
    ctx->resolver = resolver;
    ctx->resolver_ud = resolver_ud;
    ctx->nqlog = 0;
    ctx->now = now;
    ctx->risk = -1;
    ctx->var_freeze = ctx->var_reason = ctx->var_summary = NULL;
    ctx->action_d = NULL;
}

static void decide(chg_ctx *ctx, const chg_eval_input *in, chg_decision *d);

/* The scratch arena failed somewhere in the decision: whatever the
 * decision says was judged without some value (a message, an approval's
 * text, a list), so none of it stands. It becomes an `error` decision
 * saying so, without actions, and the status tells the caller that this
 * error is the machine's, not the policy's (a daemon answers 503, a test
 * runner stops). */
static int nomem_decision(chg_ctx *ctx, chg_decision *d)
{
    ctx->failed = true;
    ctx->err_msg = "out of memory";
    ctx->err_len = 13;
    ctx->err_pc = UINT32_MAX;
    fail_decision(ctx, d, UINT32_MAX);
    return CHG_ENOMEM;
}

/* CHG_OK: a policy that fails gives an `error` decision, which is data
 * (docs/internals.md), not a status. CHG_ENOMEM when memory ran out: the
 * decision is then `error`, "out of memory". The saved error is restored
 * after the `on error` actions so the decision reports the first failure
 * even if one of those actions failed as well. */
int chg_eval(chg_ctx *ctx, const chg_eval_input *in, chg_decision *d)
{
    decide(ctx, in, d);
    ctx->used_steps = ctx->b->limits.steps - ctx->steps_left;
    ctx->used_scratch = ctx->scratch.used_total;
    if (ctx->scratch.failed || ctx->oom)
        return nomem_decision(ctx, d);
    /* a refused allocation whose NULL some caller dropped (a reason text
     * left out) must not leave a decision that looks whole */
    if (ctx->scratch.over_cap && d->outcome != CHG_OUT_ERROR) {
        chg_vm_scratch_error(ctx, UINT32_MAX);
        fail_decision(ctx, d, UINT32_MAX);
    }
    if (d->outcome == CHG_OUT_ERROR) {
        /* `on error` actions: a failure among them leaves none, and the
         * first error stands */
        ctx->failed = false;
        const char *msg = ctx->err_msg;
        uint32_t len = ctx->err_len, pc = ctx->err_pc;
        /* they have budgets of their own, as large: a decision that ran
         * out of steps or scratch still tells its `on error` actions */
        ctx->steps_left = ctx->b->limits.steps;
        size_t cap = ctx->scratch.cap;
        if (cap && ctx->scratch.used_total <= SIZE_MAX - cap)
            ctx->scratch.cap = ctx->scratch.used_total + cap;
        ctx->scratch.over_cap = false;
        if (run_actions(ctx, d) < 0)
            d->nactions = 0;
        ctx->scratch.cap = cap;
        ctx->err_msg = msg;
        ctx->err_len = len;
        ctx->err_pc = pc;
        ctx->failed = true;
    }
    return ctx->scratch.failed || ctx->oom ? nomem_decision(ctx, d) : CHG_OK;
}

/* A limit the caller applies holds an allowed change (chg_vm.h). An
 * allowed decision used at most one reason per rule, so the spare
 * reasons (MAX_REASONS) hold a limit's each; more limits than spares
 * keep the first ones' reasons and the latest next_open. */
int chg_decision_hold(chg_ctx *ctx, chg_decision *d, uint32_t limit, const char *msg, uint32_t len, int64_t until)
{
    const chg_bundle *b = ctx->b;
    bool held = d->outcome == CHG_OUT_DEFER && d->nreasons && d->reasons[d->nreasons - 1].kind == CHG_R_LIMIT;
    if ((d->outcome != CHG_OUT_ALLOW && !held) || d->reasons != ctx->reasons || limit >= b->nconcur)
        return CHG_EINVAL;
    if (d->nreasons < MAX_REASONS(b)) {
        chg_reason *x = &ctx->reasons[d->nreasons++];
        memset(x, 0, sizeof *x);
        x->rule = limit;
        x->kind = CHG_R_LIMIT;
        x->level = 0;
        x->message = msg;
        x->message_len = len;
        x->span = b->concur[limit].span;
    }
    d->outcome = CHG_OUT_DEFER;
    if (!held || d->next_open == INT64_MIN || until > d->next_open)
        d->next_open = until;
    /* the actions are those of the outcome now decided, with its reason,
     * on a budget of their own as `on error` actions have (the decision's
     * spent some of its on the actions of allow) */
    ctx->var_reason = ctx->var_summary = NULL;
    ctx->steps_left = b->limits.steps;
    if (run_actions(ctx, d) < 0) /* an argument failed: as in chg_eval, the decision says so */
        fail_decision(ctx, d, UINT32_MAX);
    return ctx->scratch.failed || ctx->oom ? nomem_decision(ctx, d) : CHG_OK;
}

static size_t admissible_sets(chg_ctx *ctx, const chg_decision *d);

/* The decision, in the order language.md §3 fixes: now, risk, every rule
 * (each may add a reason, a window, a freeze or an approval requirement),
 * the approvals, the outcome, the times, then the actions. The decision's
 * arrays are the context's (d->reasons is ctx->reasons, ...): a decision
 * is valid until the context's next evaluation, and copies nothing. */
static void decide(chg_ctx *ctx, const chg_eval_input *in, chg_decision *d)
{
    const chg_bundle *b = ctx->b;
    chg_vm_ctx_begin(ctx, in->change, in->now, in->facts, in->resolver, in->resolver_ud);
    /* a copy of the context's blank decision: gcc zeroes a compound
     * literal of this size with `rep stos`, whose start-up cost is that of
     * a few dozen stores (4 % of a decision, bench_vm); a copy of a
     * constant struct is a handful of vector moves */
    *d = ctx->blank;

    /* the change's id is only echoed, never judged: a missing or non-string
     * id leaves change_id NULL rather than failing the decision */
    const chg_value *id = b->id_slot < b->nslots_change ? &in->change->slots[b->id_slot] : NULL;
    if (id && id->tag == CHG_V_STR) {
        d->change_id = id->u.s;
        d->change_id_len = id->len;
    }

    schema_warnings(ctx, d);

    /* now: the caller's instant, or the `at` block's; either must be in
     * the years 0000-9999, where every instant has its RFC 3339 form and
     * the calendar arithmetic of time sets stays exact. A change that does
     * not fit the schema still gets its instant when `at` can compute one,
     * and its schema errors either way: they say what is wrong better than
     * a failing `at` would. */
    ctx->now = in->now;
    if (!chg_time_in_range(in->now)) {
        d->at = in->now;
        chg_vm_error(ctx, UINT32_MAX, "now (%lld seconds since the epoch) is outside the years 0000 to 9999",
                     (long long)in->now);
        fail_decision(ctx, d, UINT32_MAX);
        return;
    }
    ctx->nduring_all = 0;
    ctx->next_approval = INT64_MAX;
    if (b->at_block != CHG_NONE32 && !in->ignore_at) {
        chg_value v;
        bool ok = chg_vm_run(ctx, b->at_block, &v) == 0;
        if (ok && v.tag != CHG_V_TIME)
            ok = chg_vm_error(ctx, b->blocks[b->at_block].start, "'at' must give an instant, not %s",
                              chg_vm_vtag_name(v.tag)) == 0;
        if (ok && !chg_time_in_range(v.u.i)) /* only from a crafted constant */
            ok = chg_vm_error(ctx, b->blocks[b->at_block].start,
                              "'at' gives an instant outside the years 0000 to 9999") == 0;
        if (!ok) {
            d->at = in->now;
            if (in->change->nerrors)
                schema_decision(ctx, d);
            else
                fail_decision(ctx, d, UINT32_MAX);
            return;
        }
        ctx->now = v.u.i;
    }
    d->at = ctx->now;

    /* the schema, before any rule: a change that does not fit it is an
     * error, however little of it the policy reads */
    if (in->change->nerrors) {
        schema_decision(ctx, d);
        return;
    }

    /* classify: the first arm that holds */
    for (uint32_t i = 0; i < b->narms; i++) {
        bool hit = true;
        if (b->arms[i].cond != CHG_NONE32 && run_bool(ctx, b->arms[i].cond, &hit) < 0) {
            fail_decision(ctx, d, UINT32_MAX);
            return;
        }
        if (hit) {
            CHG_ASSERT(b->arms[i].cls < b->nrisks);
            ctx->risk = (int)b->arms[i].cls;
            d->arm = (int32_t)i;
            break;
        }
    }
    d->risk = ctx->risk;
    CHG_ASSERT(b->narms == 0 || ctx->risk >= 0); /* the last arm is the default (load_policy) */

    /* emergency is what the change asks for; d->emergency, set after the
     * approvals, is whether the request is granted */
    bool emergency = truthy_slot(ctx, b->emergency_slot);

    /* rules, in order; every one that applies is a reason */
    uint32_t nwindows = 0, nduring_all = 0, nroots = 0;
    uint32_t first_rule_req = 0;
    for (uint32_t i = 0; i < b->nrules; i++) {
        const chg_ruledef *r = &b->rules[i];
        bool applies = true;
        if (r->when != CHG_NONE32 && run_bool(ctx, r->when, &applies) < 0) {
            fail_decision(ctx, d, i);
            return;
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
                    /* during_all keeps every set of every applying deny-during
                     * rule, with the strictest level that names it: next_open
                     * must avoid them all, and an emergency lifts only those no
                     * mandatory rule names */
                    for (uint32_t q = 0; q < nduring_all; q++)
                        if (ctx->during_all[q] == ts) {
                            known = true;
                            if (r->level < ctx->during_level[q])
                                ctx->during_level[q] = r->level;
                        }
                    if (!known) {
                        CHG_ASSERT(nduring_all < b->nduring); /* distinct sets of the `during` lists */
                        ctx->during_level[nduring_all] = r->level;
                        ctx->during_all[nduring_all++] = ts;
                    }
                    if (in_set(ctx, ts, ctx->now)) {
                        if (hit == CHG_NONE32)
                            hit = ts;
                        bool dup = false;
                        for (uint32_t q = 0; q < d->nfreezes; q++)
                            dup |= d->freezes[q] == ts;
                        CHG_ASSERT(dup || d->nfreezes < b->nduring);
                        if (!dup)
                            d->freezes[d->nfreezes++] = ts;
                    }
                }
                if (hit == CHG_NONE32) {
                    ctx->applied[i] = 2; /* held, but no freeze holds now */
                    break;
                }
                ctx->var_freeze = b->str[b->timesets[hit].name];
            }
            if (r->msg != CHG_NONE32 && run_text(ctx, r->msg, &msg, &len) < 0) {
                fail_decision(ctx, d, i);
                return;
            }
            if (!msg) {
                msg = b->str[r->name];
                len = b->strlen[r->name];
            }
            chg_reason *x = add_reason(ctx, d, i, r->action == CHG_RA_DENY ? CHG_R_DENY : CHG_R_WARN, msg, len);
            x->during = r->during_count != 0;
            ctx->applied[i] = 1;
            ctx->var_freeze = NULL;
            break;
        }
        case CHG_RA_WINDOW: {
            CHG_ASSERT(nwindows < b->nrules); /* one per window rule */
            bool open = in_set(ctx, r->window, ctx->now);
            /* the decision's window is what is required: every window of
             * the rules that applied, at once (each named once) */
            bool dup = false;
            for (uint32_t q = 0; q < nwindows; q++)
                dup |= ctx->window_reqs[q] == r->window;
            if (!dup)
                ctx->window_reqs[nwindows++] = r->window;
            ctx->applied[i] = 1;
            if (d->window < 0) {
                d->window = (int32_t)r->window;
                d->window_open = open;
            } else
                d->window_open &= open;
            if (!open) {
                msg = join3(ctx, "window ", b->str[b->timesets[r->window].name], " is closed", &len);
                if (!msg) {
                    chg_vm_scratch_error(ctx, UINT32_MAX);
                    fail_decision(ctx, d, i);
                    return;
                }
                add_reason(ctx, d, i, CHG_R_WINDOW, msg, len);
            }
            break;
        }
        /* An approval rule adds its requirement to the conjunction; it is
         * not a reason by itself. Only when something is missing does it
         * become one ("needs approval: rule …"), below. */
        case CHG_RA_APPROVAL:
            /* mandatory rule requirements hold even in an emergency */
            if (!emergency || r->level == 0) {
                if (!nroots)
                    first_rule_req = i;
                /* req_roots[0] is kept for the class's entry, below */
                CHG_ASSERT(r->req < b->nareqs && 1 + nroots < b->nrules + 2);
                ctx->req_roots[1 + nroots++] = r->req;
            }
            ctx->applied[i] = 1;
            break;
        }
    }

    ctx->nduring_all = nduring_all;

    /* approvals: the class's entry (the emergency entry for an emergency),
     * and the requirements of rules that applied */
    uint32_t emergency_req = ctx->emergency_req;
    uint32_t class_req = ctx->risk >= 0 && (uint32_t)ctx->risk < b->nrisks ? ctx->class_req[ctx->risk] : CHG_NONE32;
    /* An emergency with no `emergency` entry in the approvals block needs
     * what its class needs: asking for break-glass never removes a
     * requirement the policy did not say it removes. */
    uint32_t base = emergency && emergency_req != CHG_NONE32 ? emergency_req : class_req;
    const uint32_t *roots = ctx->req_roots + 1;
    if (base != CHG_NONE32) {
        ctx->req_roots[0] = base;
        roots = ctx->req_roots;
        nroots++;
    }
    const char *rejected_by = NULL;
    ctx->ap_roots = roots;
    ctx->ap_nroots = nroots;
    if (chg_vm_approvals_eval(ctx, roots, nroots, ctx->now, d, &rejected_by) < 0) {
        fail_decision(ctx, d, UINT32_MAX);
        return;
    }
    /* an emergency is in effect once its approvals are met */
    bool approved = d->nmissing == 0 && !rejected_by;
    d->emergency = emergency && approved;
    if (d->nmissing && nroots > (base != CHG_NONE32 ? 1u : 0u)) {
        /* name the approval rules still waiting, as reasons */
        for (uint32_t i = first_rule_req; i < b->nrules; i++)
            if (ctx->applied[i] == 1 && b->rules[i].action == CHG_RA_APPROVAL && (!emergency || b->rules[i].level == 0)) {
                /* only rules whose own requirement has a missing term */
                uint32_t root = b->rules[i].req, lo = b->areqs[root].lo;
                bool waiting = false;
                for (uint32_t k = 0; k < d->nmissing; k++)
                    waiting |= ctx->missing_nodes[k] >= lo && ctx->missing_nodes[k] <= root;
                if (!waiting)
                    continue;
                uint32_t len;
                const char *m = join3(ctx, "needs approval: rule ", b->str[b->rules[i].name], "", &len);
                if (m)
                    add_reason(ctx, d, i, CHG_R_APPROVAL, m, len);
            }
    }
    if (rejected_by) {
        uint32_t len;
        const char *m = join3(ctx, "rejected by ", rejected_by, "", &len);
        CHG_ASSERT(d->nreasons < b->nrules + 2); /* the one spare reason */
        chg_reason *x = &ctx->reasons[d->nreasons++];
        memset(x, 0, sizeof *x);
        x->rule = UINT32_MAX;
        x->kind = CHG_R_REJECTED;
        x->message = m ? m : "rejected";
        x->message_len = m ? len : 8;
        x->span = 0;
    }

    /* the outcome */
    /* deny_firm: a deny that time cannot lift (not a `deny during`), for
     * which next_open would be meaningless. A window reason is overridable
     * whatever its rule's level: windows are the emergency's to skip. */
    bool deny = rejected_by != NULL, deny_firm = rejected_by != NULL, closed = false;
    for (uint32_t i = 0; i < d->nreasons; i++) {
        chg_reason *x = &d->reasons[i];
        bool overridable = x->level != 0 || x->kind == CHG_R_WINDOW;
        if (d->emergency && overridable && (x->kind == CHG_R_DENY || x->kind == CHG_R_WINDOW)) {
            x->overridden = true;
            continue;
        }
        if (emergency && overridable)
            continue; /* an emergency waiting for its approvals: pending, whatever these say */
        if (x->kind == CHG_R_DENY) {
            deny = true;
            if (!x->during)
                deny_firm = true;
        } else if (x->kind == CHG_R_WINDOW)
            closed = true;
    }
    if (deny)
        d->outcome = CHG_OUT_DENY;
    else if (emergency && !d->emergency)
        d->outcome = CHG_OUT_PENDING; /* break-glass waits for its approvals, whatever the calendar says */
    else if (closed)
        d->outcome = CHG_OUT_DEFER;
    else if (d->nmissing)
        d->outcome = CHG_OUT_PENDING;
    else
        d->outcome = CHG_OUT_ALLOW;

    /* when the windows close, and when everything opens again */
    chg_ts_env env = {chg_vm_ctx_flag, (void *)ctx->facts};
    d->windows = ctx->window_reqs;
    d->nwindows = nwindows;
    if (d->window >= 0 && d->window_open) {
        /* closes_at: the first instant the change stops being admissible
         * by time — one of the required windows closes, or a freeze of an
         * applying deny-during rule starts (one that holds now is already
         * in the decision's freezes and does not count). An emergency's
         * overrides play no part: closes_at describes the windows. */
        size_t n = 0;
        for (uint32_t k = 0; k < nwindows; k++, n++) {
            ctx->ts_sets[n] = b->timesets[ctx->window_reqs[k]].ts;
            ctx->ts_want[n] = true;
        }
        for (uint32_t k = 0; k < nduring_all; k++, n++) {
            ctx->ts_sets[n] = b->timesets[ctx->during_all[k]].ts;
            ctx->ts_want[n] = false;
        }
        int64_t h = chg_vm_search_horizon(in, ctx->now, ctx->ts_sets, n);
        d->closes_at = chg_timeset_admissible_until(ctx->ts_sets, ctx->ts_want, n, &env, ctx->now, h, NULL);
        /* A window with a cutoff (SSM Cutoff) admits no start in the last
         * part of its runs: what was just found is that start cutoff, and
         * closes_at is the runs' real end, asked of the sets without their
         * cutoffs (the same freezes). */
        bool cut = false;
        for (uint32_t k = 0; k < nwindows; k++) {
            const chg_timeset *open = b->timesets[ctx->window_reqs[k]].open;
            if (open) {
                ctx->ts_sets[k] = open;
                cut = true;
            }
        }
        if (cut) {
            d->cutoff_at = d->closes_at;
            h = chg_vm_search_horizon(in, ctx->now, ctx->ts_sets, n);
            d->closes_at = chg_timeset_admissible_until(ctx->ts_sets, ctx->ts_want, n, &env, ctx->now, h, NULL);
            if (d->cutoff_at != INT64_MAX && !chg_time_in_range(d->cutoff_at))
                d->cutoff_at = INT64_MAX;
        }
    }
    bool timed = d->outcome == CHG_OUT_DEFER || (d->outcome == CHG_OUT_DENY && !deny_firm);
    if (timed) {
        /* every required window open, and no freeze of an applying
         * deny-during rule — not only those that hold now: the next slot
         * must avoid the freeze after this one too. An approved emergency
         * has overridden the windows and the overridable freezes. */
        CHG_ASSERT(nwindows + nduring_all <= b->nrules + b->nduring); /* ts_sets and ts_want */
        size_t n = admissible_sets(ctx, d);
        /* from now + 1 to now + horizon: now itself is known not to be
         * admissible */
        int64_t h = chg_vm_search_horizon(in, ctx->now, ctx->ts_sets, n);
        d->next_open = h < 1 ? INT64_MAX
                             : chg_timeset_next_admissible(ctx->ts_sets, ctx->ts_want, n, &env, ctx->now + 1, h - 1,
                                                          NULL);
        if (d->next_open != INT64_MAX && !chg_time_in_range(d->next_open))
            d->next_open = INT64_MAX; /* past the horizon, which ends with year 9999 */
    }
    if (d->closes_at != INT64_MIN && d->closes_at != INT64_MAX && !chg_time_in_range(d->closes_at))
        d->closes_at = INT64_MAX;

    if (run_actions(ctx, d) < 0) {
        fail_decision(ctx, d, UINT32_MAX);
        return;
    }
}

/* The sets of d's time check, as decide() gathers them for next_open:
 * the required windows (wanted open) and every set of an applying
 * deny-during rule (wanted closed), less what an approved emergency
 * overrides. Returns how many are in ctx->ts_sets and ts_want. */
static size_t admissible_sets(chg_ctx *ctx, const chg_decision *d)
{
    const chg_bundle *b = ctx->b;
    size_t n = 0;
    for (uint32_t k = 0; k < d->nwindows && !d->emergency; k++, n++) {
        ctx->ts_sets[n] = b->timesets[d->windows[k]].ts;
        ctx->ts_want[n] = true;
    }
    for (uint32_t k = 0; k < ctx->nduring_all; k++) {
        if (d->emergency && ctx->during_level[k] != 0)
            continue;
        ctx->ts_sets[n] = b->timesets[ctx->during_all[k]].ts;
        ctx->ts_want[n++] = false;
    }
    return n;
}

int64_t chg_ctx_admissible_until(chg_ctx *ctx, const chg_decision *d, int64_t horizon)
{
    if (d->outcome == CHG_OUT_ERROR || horizon < 1)
        return INT64_MAX;
    CHG_ASSERT(d->windows == ctx->window_reqs); /* d is ctx's last decision */
    chg_ts_env env = {chg_vm_ctx_flag, (void *)ctx->facts};
    chg_eval_input in = {.horizon = horizon};
    size_t n = admissible_sets(ctx, d);
    int64_t t = chg_timeset_admissible_until(ctx->ts_sets, ctx->ts_want, n, &env, d->at, chg_vm_horizon(&in, d->at),
                                             NULL);
    return t == INT64_MIN ? INT64_MAX : t;
}

int64_t chg_ctx_next_approval(const chg_ctx *ctx) { return ctx->next_approval; }

/* ---- batches -------------------------------------------------------------------- */

/* How far ahead a batch looks: the event struct of the change PREFETCH_FAR
 * ahead is asked for first; PREFETCH_NEAR ahead, with its struct in cache
 * by then, the memory it points at (slots, then the lists, records and
 * strings its arena holds after them). A decision takes a few hundred
 * nanoseconds, a miss to memory about one hundred: two decisions ahead is
 * time enough, four not yet so far that the lines are evicted again. */
#define PREFETCH_NEAR 2
#define PREFETCH_FAR 4
/* The most of an event's arena asked for: a change's slots and the data
 * of a usual change (the peers' changes use ~600 bytes); a larger change
 * is fetched as it is read. */
#define PREFETCH_BYTES 1024

static inline void prefetch_lines(const void *p, size_t len)
{
#if defined(__GNUC__)
    for (size_t k = 0; k < len; k += 64)
        __builtin_prefetch((const char *)p + k, 0, 3);
#else
    (void)p;
    (void)len;
#endif
}

/* The memory of e's decision, as hints: prefetching never faults, so an
 * arena whose data is not all after the slots costs a wasted hint, not
 * a wrong read. */
static void prefetch_event(const chg_event *e)
{
    size_t used = e->arena.used_total;
    prefetch_lines(e->slots, used < PREFETCH_BYTES ? used : PREFETCH_BYTES);
}

int chg_eval_batch(chg_ctx *ctx, const chg_eval_input *in, const chg_event *const *changes, size_t n,
                   chg_decision_fn fn, void *ud)
{
    chg_eval_input one = *in;
    chg_decision d;
    int status = CHG_OK;
    for (size_t i = 0; i < n && i < PREFETCH_NEAR; i++)
        prefetch_event(changes[i]);
    for (size_t i = 0; i < n; i++) {
        if (i + PREFETCH_FAR < n)
            prefetch_lines(changes[i + PREFETCH_FAR], sizeof *changes[i + PREFETCH_FAR]);
        if (i + PREFETCH_NEAR < n)
            prefetch_event(changes[i + PREFETCH_NEAR]);
        one.change = changes[i];
        int rc = chg_eval(ctx, &one, &d);
        if (rc != CHG_OK && status == CHG_OK)
            status = rc;
        if (fn)
            fn(ud, i, &d, rc);
    }
    return status;
}
