/*
 * applies.c — to which risk classes a rule applies: to every change of a
 * class, to none, or to some (its condition reads more than the risk).
 *
 * The one answer to "does this rule bind changes of class k": the time
 * analysis of `chgc check` counts the windows of the rules that apply
 * always (W0012, W0017), and the bundle carries the answer for every
 * rule and class (the APPLIES section) so that `chgc windows --effective`
 * lists, from a .chgb as from .chg files, when each class may go.
 *
 * A condition is evaluated with three values — true, false, unknown —
 * with the risk fixed to class k and everything else unknown: literals,
 * comparisons of `risk` with classes (`risk >= high`, `high > risk`,
 * `risk in [low, medium]`), `and`, `or`, `not`, `if` and lets are
 * followed; the rest is unknown. `false and x` is false whatever x, as
 * the evaluator's short circuit: a condition that fails to evaluate
 * makes the decision an error, which no change goes with either, so
 * "never" and "always" hold of every change whose decision is not one.
 */
#include "bundle_format.h"
#include "compiler_int.h"

/* Node visits one rule's analysis may spend, over all its classes; past
 * it the rest is "sometimes" (conservative both ways: the time analysis
 * counts only rules that apply always, the listing assumes the others
 * apply). Real conditions take tens; a let chain that doubles at each
 * step would otherwise take exponential time. */
#define APPLIES_BUDGET 4096

enum { F = CHG_APPLIES_NEVER, U = CHG_APPLIES_SOMETIMES, T = CHG_APPLIES_ALWAYS };

typedef struct tv_ctx {
    int k;           /* the class the risk is fixed to */
    int next;        /* the lowest class above k at which a comparison
                        that was evaluated may change its value */
    unsigned budget; /* node visits left */
} tv_ctx;

static int class_of(const chg_expr *e)
{
    return e && e->kind == EX_NAME && e->u.name.kind == NAME_RISK_CLASS ? e->u.name.risk_index : -1;
}

static bool is_risk(const chg_expr *e) { return e && e->kind == EX_NAME && e->u.name.kind == NAME_RISK; }

/* A comparison with class c changes value only where the risk crosses c:
 * at c and at c + 1. */
static void bound(tv_ctx *x, int c)
{
    if (c > x->k && c < x->next)
        x->next = c;
    if (c + 1 > x->k && c + 1 < x->next)
        x->next = c + 1;
}

static int order(chg_binop op, int a, int b)
{
    switch (op) {
    case BIN_EQ: return a == b ? T : F;
    case BIN_NE: return a != b ? T : F;
    case BIN_LT: return a < b ? T : F;
    case BIN_LE: return a <= b ? T : F;
    case BIN_GT: return a > b ? T : F;
    case BIN_GE: return a >= b ? T : F;
    default: return U;
    }
}

static int tv(tv_ctx *x, const chg_expr *e);

/* a op b where each side is `risk` or a class; U for anything else */
static int risk_compare(tv_ctx *x, const chg_expr *e)
{
    const chg_expr *a = e->u.binary.a, *b = e->u.binary.b;
    int ca = class_of(a), cb = class_of(b);
    if (is_risk(a) && cb >= 0) {
        bound(x, cb);
        return order(e->u.binary.op, x->k, cb);
    }
    if (ca >= 0 && is_risk(b)) {
        bound(x, ca);
        return order(e->u.binary.op, ca, x->k);
    }
    if (ca >= 0 && cb >= 0)
        return order(e->u.binary.op, ca, cb);
    return U;
}

/* risk in [c1, c2, …], every element a class */
static int risk_in(tv_ctx *x, const chg_expr *e)
{
    const chg_expr *l = e->u.binary.b;
    if (!is_risk(e->u.binary.a) || l->kind != EX_LIST)
        return U;
    for (uint32_t i = 0; i < l->u.list.n; i++)
        if (class_of(l->u.list.items[i]) < 0)
            return U;
    bool in = false;
    for (uint32_t i = 0; i < l->u.list.n; i++) {
        int c = class_of(l->u.list.items[i]);
        bound(x, c);
        in |= c == x->k;
    }
    return in ? T : F;
}

static int tv(tv_ctx *x, const chg_expr *e)
{
    if (!e || !x->budget)
        return U;
    x->budget--;
    switch (e->kind) {
    case EX_BOOL: return e->u.b ? T : F;
    case EX_NAME:
        if (e->u.name.kind == NAME_LET && e->u.name.decl && e->u.name.decl->kind == D_LET)
            return tv(x, e->u.name.decl->u.let.expr);
        return U;
    case EX_UNARY: return e->u.unary.op == UOP_NOT ? T + F - tv(x, e->u.unary.a) : U;
    case EX_IF: {
        int c = tv(x, e->u.ifx.cond);
        if (c != U)
            return tv(x, c == T ? e->u.ifx.then : e->u.ifx.els);
        int a = tv(x, e->u.ifx.then), b = tv(x, e->u.ifx.els);
        return a == b ? a : U;
    }
    case EX_BINARY:
        break;
    default: return U;
    }
    switch (e->u.binary.op) {
    case BIN_AND:
    case BIN_OR: {
        int stop = e->u.binary.op == BIN_AND ? F : T; /* the value that decides */
        int a = tv(x, e->u.binary.a);
        if (a == stop)
            return stop;
        int b = tv(x, e->u.binary.b);
        if (b == stop)
            return stop;
        return a == U || b == U ? U : a;
    }
    case BIN_IN: return risk_in(x, e);
    default: return risk_compare(x, e);
    }
}

static int nclasses(const chg_compiler *c) { return c->risk && c->risk->u.risk.n ? (int)c->risk->u.risk.n : 1; }

int chg_c_rule_applies(const chg_compiler *c, const chg_decl *rule, int k)
{
    if (!rule->u.rule.when)
        return T;
    tv_ctx x = {k, nclasses(c), APPLIES_BUDGET};
    int v = tv(&x, rule->u.rule.when);
    return x.budget ? v : U;
}

size_t chg_c_rule_applies_runs(const chg_compiler *c, const chg_decl *rule, chg_c_applies_run *runs, size_t max)
{
    int n = nclasses(c);
    size_t nr = 0;
    unsigned budget = APPLIES_BUDGET;
    for (int k = 0; k < n && nr < max;) {
        tv_ctx x = {k, n, budget};
        int v = rule->u.rule.when ? tv(&x, rule->u.rule.when) : T;
        if (!x.budget) {
            v = U; /* out of budget: unknown from here on */
            x.next = n;
        }
        budget = x.budget;
        if (!nr || runs[nr - 1].how != v)
            runs[nr++] = (chg_c_applies_run){(uint32_t)k, (uint8_t)v};
        k = x.next;
    }
    return nr;
}
