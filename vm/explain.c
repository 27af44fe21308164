/*
 * explain.c — a decision, explained for people (`chgc eval --explain`).
 *
 * The decision is computed by chg_eval as always; the explanation is read
 * off the context afterwards: which classify arm held, which rules applied,
 * and for each the values its condition read (change fields, lets, risk,
 * the answers of external queries), found by scanning the condition's
 * instructions. Then what would change the outcome: the approvals still
 * missing, when the required window opens, when a freeze ends.
 *
 * Not on the hot path: it allocates freely into the text buffer.
 */
#include "vm_int.h"

#include <string.h>

#include "chg_time.h"

/* Indexed by chg_ruledef.level (0, 1, 2 as the bundle stores them); the
 * verifier bounds the level, the index test below only guards a future
 * level this table forgets. */
static const char *const levels[] = {"mandatory", "overridable", "advisory"};

/* The text of change slot `slot`'s path ("change.env"): the first path
 * node with that slot whose chain reaches the change root (node 0) without
 * passing a list element (element fields have slots of their own kind).
 * A linear search: explaining is rare and path tables are small. */
static const char *slot_path(const chg_bundle *b, uint32_t slot)
{
    /* Nodes 0 and 1 are the roots (change, event) by the bundle format, so
     * the search starts at 2; the walk up stops at a root or an element,
     * and only a chain that ends at node 0 is a change path. */
    for (uint32_t n = 2; n < b->npaths; n++) {
        if (b->paths[n].slot != slot)
            continue;
        uint32_t r = n;
        while (r >= 2 && b->paths[r].kind != CHG_PN_ELEM)
            r = b->paths[r].parent;
        if (r == 0)
            return b->str[b->paths[n].text];
    }
    return "change.?";
}

/* User text in the explanation (the change's id, messages, names,
 * positions, values) goes through the one definition of visible text
 * (chg_base.h): the explanation is read in a terminal or a CI log, and a
 * newline or an escape in an id must not forge a line or move the cursor. */
static void vis(chg_buf *out, const char *s, size_t n) { chg_buf_put_visible(out, s ? s : "", s ? n : 0); }
static void vis0(chg_buf *out, const char *s) { vis(out, s, s ? strlen(s) : 0); }

/* A value as JSON, which escapes control characters but not the
 * bidirectional marks, then as visible text. */
static void value_text(const chg_bundle *b, const chg_value *v, chg_buf *out)
{
    chg_buf j;
    chg_buf_init(&j);
    chg_vm_value_json(b, v, &j);
    vis(out, j.data, j.len);
    out->oom |= j.oom;
    chg_buf_free(&j);
}

/* Instants print in UTC (RFC 3339 with Z), as decisions do: one zone for
 * every line, whatever zones the policy's time sets use. */
static void instant(chg_buf *out, int64_t t)
{
    char tmp[40];
    chg_time_format_utc(t, tmp);
    chg_buf_puts(out, tmp);
}

/* "name = value" for every value block `block` read, on one line. The
 * values are found in the bytecode, not recorded while it ran: the
 * interpreter stays free of tracing, and what a block read is what its
 * instructions name. A let shows the value it got; one the decision never
 * reached shows "(not computed)". At most 64 distinct values per block. */
static void values_read(const chg_ctx *ctx, uint32_t block, chg_buf *out)
{
    const chg_bundle *b = ctx->b;
    CHG_ASSERT(block < b->nblocks);
    const chg_block *bl = &b->blocks[block];
    uint32_t seen[64];
    uint32_t nseen = 0;
    bool any = false;
    for (uint32_t pc = bl->start; pc < bl->start + bl->len; pc++) {
        const chg_ins *in = &b->code[pc];
        /* what was read, as one number: the kind in the top bits, the
         * slot, let or built-in below, so "read twice" is one compare */
        uint32_t key;
        switch (in->op) {
        case CHG_OP_CHANGE: key = 0x10000000u | in->b; break;
        case CHG_OP_LET: key = 0x20000000u | in->b; break;
        case CHG_OP_RISK: key = 0x30000000u; break;
        case CHG_OP_QUERY: key = 0x40000000u | in->c; break;
        default: continue;
        }
        bool dup = false;
        for (uint32_t i = 0; i < nseen; i++)
            dup |= seen[i] == key;
        /* a block that reads more than 64 distinct things shows the first
         * 64: the line is for a reader, and seen[] stays on the stack */
        if (dup || nseen == 64)
            continue;
        seen[nseen++] = key;
        if (in->op == CHG_OP_QUERY) {
            /* every answer this call gave in the evaluation */
            /* The log is per decision and capped (CHG_QLOG_MAX): queries
             * past the cap were answered but are not shown. Matching is
             * by name, so a call asked with other arguments elsewhere in
             * the policy shows here too, each with its own arguments. */
            const char *name = b->builtin_info[in->c]->name;
            for (uint32_t q = 0; q < ctx->nqlog; q++) {
                const chg_qlog *l = &ctx->qlog[q];
                if (strcmp(l->call, name) != 0)
                    continue;
                chg_buf_puts(out, any ? ", " : "      ");
                chg_buf_printf(out, "%s(", name);
                for (uint32_t a = 0; a < l->nargs; a++) {
                    if (a)
                        chg_buf_puts(out, ", ");
                    value_text(b, &l->args[a], out);
                }
                chg_buf_puts(out, ") = ");
                value_text(b, &l->result, out);
                any = true;
            }
            continue;
        }
        const chg_value *v = NULL;
        chg_value risk;
        const char *name;
        /* the operands were verified with the bundle: slot, let, query */
        CHG_ASSERT(in->op != CHG_OP_CHANGE || in->b < b->nslots_change);
        CHG_ASSERT(in->op != CHG_OP_LET || in->b < b->nlets);
        if (in->op == CHG_OP_CHANGE) {
            name = slot_path(b, in->b);
            v = &ctx->ev->slots[in->b];
        } else if (in->op == CHG_OP_LET) {
            name = b->str[b->lets[in->b].name];
            /* letstate 2 is "done"; 0 (never reached, the decision took
             * another path) and 1 (still running: the let failed) have no
             * value to show, and letvals[] may hold an earlier decision's */
            if (ctx->letstate[in->b] == 2)
                v = &ctx->letvals[in->b];
        } else {
            name = "risk";
            memset(&risk, 0, sizeof risk);
            risk.tag = CHG_V_RISK;
            risk.u.i = ctx->risk;
            /* risk is -1 until an arm holds; a condition inside classify
             * itself cannot read it (the checker forbids it) */
            if (ctx->risk >= 0)
                v = &risk;
        }
        chg_buf_puts(out, any ? ", " : "      ");
        vis0(out, name);
        chg_buf_puts(out, " = ");
        if (!v)
            chg_buf_puts(out, "(not computed)");
        else if (v->tag == CHG_V_ABSENT)
            chg_buf_puts(out, "(missing)");
        else if (v->tag == CHG_V_BAD)
            chg_buf_puts(out, "(wrong type)");
        else
            value_text(b, v, out);
        any = true;
    }
    if (any)
        chg_buf_putc(out, '\n');
}

/* ---- what a flag would change ---------------------------------------------------- */

/* The facts' flags with one of them flipped. */
typedef struct flipped {
    const void *facts;
    const char *flip;
} flipped;

static bool flipped_flag(void *ud, const char *name)
{
    const flipped *f = ud;
    bool v = chg_vm_ctx_flag((void *)f->facts, name);
    return strcmp(name, f->flip) == 0 ? !v : v;
}

/* The flags whose change alone would change whether set ts holds at t:
 * found by asking the set itself with that one flag flipped, so the
 * answer is exact whatever the set's shape (`flag "a" or flag "b"` with
 * both set has none; `not flag "g"` is ended by setting g). Appends
 * "; it VERBs now if flag 'x' is cleared, or if flag 'y' is set"; when
 * the set reads flags but no one of them alone changes it, says so and
 * names them; nothing when it reads none. The first 64 flags of a set
 * are considered. */
static void flag_effect(const chg_ctx *ctx, uint32_t ts, int64_t t, const char *verb, chg_buf *out)
{
    const chg_tsdef *d = &ctx->b->timesets[ts];
    const chg_ts_env env = {chg_vm_ctx_flag, (void *)ctx->facts};
    bool now = chg_timeset_contains(d->ts, &env, t);
    uint32_t considered = 0, named = 0;
    for (uint32_t i = 0; i < d->nflags && considered < 64; i++) {
        bool repeat = false;
        for (uint32_t k = 0; k < i && !repeat; k++)
            repeat = d->flags[k] == d->flags[i];
        if (repeat)
            continue;
        considered++;
        const char *name = ctx->b->str[d->flags[i]];
        flipped f = {ctx->facts, name};
        const chg_ts_env alt = {flipped_flag, &f};
        if (chg_timeset_contains(d->ts, &alt, t) == now)
            continue;
        chg_buf_printf(out, named ? ", or if flag '" : "; it %s now if flag '", verb);
        vis0(out, name);
        chg_buf_puts(out, chg_vm_ctx_flag((void *)ctx->facts, name) ? "' is cleared" : "' is set");
        named++;
    }
    if (named || !considered)
        return;
    chg_buf_printf(out, "; no one flag alone %s it (it reads ", verb[0] == 'e' ? "ends" : "opens");
    considered = 0;
    for (uint32_t i = 0; i < d->nflags && considered < 64; i++) {
        bool repeat = false;
        for (uint32_t k = 0; k < i && !repeat; k++)
            repeat = d->flags[k] == d->flags[i];
        if (repeat)
            continue;
        chg_buf_puts(out, considered++ ? ", flag '" : "flag '");
        vis0(out, ctx->b->str[d->flags[i]]);
        chg_buf_putc(out, '\'');
    }
    chg_buf_putc(out, ')');
}

/* Decide as chg_eval does (same d, same status), then append to out the
 * explanation, which reads ctx: it is valid only until ctx decides again.
 * An `error` decision is explained by its one reason and nothing else,
 * since what ran before the failure says nothing certain about the rest. */
int chg_explain(chg_ctx *ctx, const chg_eval_input *in, chg_decision *d, chg_buf *out)
{
    int rc = chg_eval(ctx, in, d);
    if (rc != CHG_OK)
        return rc;
    const chg_bundle *b = ctx->b;
    char src[512];

    chg_buf_puts(out, "change ");
    if (d->change_id)
        vis(out, d->change_id, d->change_id_len);
    else
        chg_buf_putc(out, '?');
    chg_buf_puts(out, " under ");
    vis0(out, b->str[b->name]);
    chg_buf_putc(out, ' ');
    vis0(out, b->str[b->version]);
    chg_buf_puts(out, " at ");
    instant(out, d->at);
    chg_buf_printf(out, ": %s", chg_outcome_name(d->outcome));
    if (d->risk >= 0)
        chg_buf_printf(out, " (risk %s)", b->str[b->risks[d->risk]]);
    if (d->emergency)
        chg_buf_puts(out, " — emergency, approved");
    chg_buf_putc(out, '\n');

    if (d->outcome == CHG_OUT_ERROR) {
        /* a run-time error is one reason; a change that does not fit the
         * schema has one per offending path (no rule ran) */
        bool schema = in->change->nerrors != 0;
        if (schema)
            chg_buf_puts(out, "\nthe change does not fit the schema:\n");
        for (uint32_t i = 0; i < d->nreasons; i++) {
            chg_buf_printf(out, "%serror at ", schema ? "  " : "\n");
            vis0(out, chg_bundle_source(b, d->reasons[i].span, src, sizeof src));
            chg_buf_puts(out, ": ");
            vis(out, d->reasons[i].message, d->reasons[i].message_len);
            chg_buf_putc(out, '\n');
        }
        return CHG_OK;
    }

    if (b->narms) {
        chg_buf_puts(out, "\nclassify (the first arm that holds):\n");
            /* arms after the one that held were never evaluated, so they
             * are not listed: their values would all read "(not computed)" */
        for (uint32_t i = 0; i < b->narms; i++) {
            const chg_arm *a = &b->arms[i];
            bool decided = d->arm == (int32_t)i;
            chg_buf_printf(out, "  %-9s %s  ", b->str[b->risks[a->cls]], decided ? "holds   " : "no      ");
            vis0(out, chg_bundle_source(b, a->span, src, sizeof src));
            chg_buf_putc(out, '\n');
            if (a->cond != CHG_NONE32)
                values_read(ctx, a->cond, out);
            if (decided)
                break;
        }
    }

    if (b->nrules) {
        chg_buf_puts(out, "\nrules, in order:\n");
        for (uint32_t i = 0; i < b->nrules; i++) {
            const chg_ruledef *r = &b->rules[i];
            const char *state;
            const chg_reason *why = NULL;
            for (uint32_t k = 0; k < d->nreasons; k++)
                if (d->reasons[k].rule == i)
                    why = &d->reasons[k];
            for (uint32_t k = 0; k < d->nwarnings && !why; k++)
                if (d->warnings[k].rule == i)
                    why = &d->warnings[k];
            /* applied[] is 1 when the rule held and acted, 2 when it held
             * but is a `deny during` none of whose freezes holds now, 0
             * otherwise; a window or approval rule that acted without a
             * reason is one whose requirement is met. */
            switch (ctx->applied[i]) {
            case 1:
                state = why && why->overridden ? "applied, overridden by the emergency" : "applied";
                if (r->action == CHG_RA_WINDOW && !why)
                    state = "applied (its window is open)";
                else if (r->action == CHG_RA_APPROVAL && !why)
                    state = "applied (its approvals are met)";
                break;
            case 2: state = "condition holds, but none of its freezes holds now"; break;
            default: state = "does not apply"; break;
            }
            chg_buf_printf(out, "  %-24s %-11s %s  ", b->str[r->name], levels[r->level < 3 ? r->level : 0], state);
            vis0(out, chg_bundle_source(b, r->span, src, sizeof src));
            chg_buf_putc(out, '\n');
            if (r->when != CHG_NONE32)
                values_read(ctx, r->when, out);
            if (why && why->message) {
                chg_buf_puts(out, "      -> ");
                vis(out, why->message, why->message_len);
                chg_buf_putc(out, '\n');
            }
        }
    }

    if (strcmp(d->approvals_required, "none") != 0 || d->nmissing) {
        chg_buf_puts(out, "\napprovals: ");
        vis0(out, d->approvals_required);
        chg_buf_putc(out, '\n');
        for (uint32_t i = 0; i < d->nsatisfied; i++) {
            chg_buf_puts(out, "  met:     ");
            vis0(out, d->satisfied[i]);
            chg_buf_putc(out, '\n');
        }
        for (uint32_t i = 0; i < d->nmissing; i++) {
            chg_buf_puts(out, "  missing: ");
            vis0(out, d->missing[i]);
            chg_buf_putc(out, '\n');
        }
        chg_vm_approvals_explain(ctx, ctx->ap_roots, ctx->ap_nroots, d->at, out);
    }
    for (uint32_t i = 0; i < d->nreasons; i++)
        if (d->reasons[i].kind == CHG_R_REJECTED) {
            chg_buf_puts(out, "  ");
            vis(out, d->reasons[i].message, d->reasons[i].message_len);
            chg_buf_putc(out, '\n');
        }

    /* what would change the outcome */
    bool header = false;
#define WOULD()                                                                                          \
    do {                                                                                                 \
        if (!header)                                                                                     \
            chg_buf_puts(out, "\nwhat would change the outcome:\n");                                   \
        header = true;                                                                                   \
    } while (0)
    for (uint32_t i = 0; i < d->nreasons; i++) {
        const chg_reason *x = &d->reasons[i];
        if (x->kind == CHG_R_DENY && !x->during && !x->overridden) {
            CHG_ASSERT(x->rule < b->nrules); /* a deny always names its rule */
            WOULD();
            chg_buf_printf(out, "  - rule %s denies%s: only a change to the change itself helps\n",
                           b->str[b->rules[x->rule].name],
                           x->level == 1 ? " (an approved emergency would override it)" : "");
        }
    }
    for (uint32_t i = 0; i < d->nmissing; i++) {
        WOULD();
        chg_buf_puts(out, "  - approvals: ");
        vis0(out, d->missing[i]);
        chg_buf_putc(out, '\n');
    }
    /* The freezes' ends are asked from the same per-context index the
     * decision used, under the same flags, so the answer agrees with
     * next_open. During an approved emergency freezes are overridden and
     * their end changes nothing, hence not shown. */
    chg_ts_env env = {chg_vm_ctx_flag, (void *)ctx->facts};
    for (uint32_t i = 0; i < d->nfreezes && !d->emergency; i++) {
        uint32_t ts = d->freezes[i];
        CHG_ASSERT(ts < b->ntimesets);
        WOULD();
        const chg_timeset *set = b->timesets[ts].ts;
        int64_t end = chg_timeset_next_change(set, &env, d->at, chg_vm_search_horizon(in, d->at, &set, 1));
        chg_buf_printf(out, "  - freeze %s ", b->str[b->timesets[ts].name]);
        if (end == INT64_MAX || end == INT64_MIN)
            /* a calendar's, range's or flag's end is looked for to the end
             * of time (no horizon): it has none */
            chg_buf_puts(out, chg_timeset_is_finite(set) ? "does not end" : "does not end within the horizon");
        else {
            chg_buf_puts(out, "ends at ");
            instant(out, end);
        }
        flag_effect(ctx, ts, d->at, "ends", out);
        chg_buf_putc(out, '\n');
    }
    /* every required window that is closed, each with the flags that
     * would open it (an approved emergency lifts them all) */
    for (uint32_t i = 0; i < d->nreasons && !d->emergency; i++) {
        const chg_reason *x = &d->reasons[i];
        if (x->kind != CHG_R_WINDOW || x->rule >= b->nrules)
            continue;
        uint32_t ts = b->rules[x->rule].window;
        CHG_ASSERT(ts < b->ntimesets);
        WOULD();
        chg_buf_printf(out, "  - window %s is closed", b->str[b->timesets[ts].name]);
        flag_effect(ctx, ts, d->at, "opens", out);
        chg_buf_putc(out, '\n');
    }
    if (d->next_open != INT64_MIN) {
        WOULD();
        if (d->next_open == INT64_MAX)
            chg_buf_puts(out, "  - no instant within the horizon has every window open and no freeze\n");
        else {
            chg_buf_puts(out, "  - next open: ");
            instant(out, d->next_open);
            chg_buf_puts(out, " (every required window open, no freeze)\n");
        }
    }
#undef WOULD
    if (d->nactions) {
        chg_buf_puts(out, "\nactions:\n");
        for (uint32_t i = 0; i < d->nactions; i++) {
            chg_buf_printf(out, "  %s(", b->str[b->calls[d->actions[i].call].name]);
            const chg_value *args = &d->actions[i].args;
            for (uint32_t k = 0; args->tag == CHG_V_LIST && k < args->len; k++) {
                if (k)
                    chg_buf_puts(out, ", ");
                value_text(b, &args->u.items[k], out);
            }
            chg_buf_puts(out, ")\n");
        }
    }
    /* a warning of no rule is a field the schema does not declare */
    for (uint32_t i = 0; i < d->nwarnings; i++) {
        chg_buf_printf(out, "%swarning (%s): ", i ? "" : "\n",
                       d->warnings[i].rule < b->nrules ? b->str[b->rules[d->warnings[i].rule].name] : "schema");
        vis(out, d->warnings[i].message, d->warnings[i].message_len);
        chg_buf_putc(out, '\n');
    }
    return CHG_OK;
}
