/*
 * check.c — name resolution inside expressions and the type checker.
 *
 * Builds the `change` type from the schema (without one, `change` is
 * dynamically typed and checked at run time), then checks every
 * declaration: names resolve and are visible and allowed where they are
 * used (`event` only in intakes, `risk` not while classifying, …), types
 * agree, enum literals belong to their enum, `T?` values are not used
 * before a null check (conditions narrow: `x != null and f(x)`), built-in
 * calls have the right arity and argument types.
 *
 * Every expression gets its type in expr->type; an error gives T_ERROR,
 * which silences follow-on errors about the same expression.
 *
 * Where this pass sits. The resolver ran before it: declarations are
 * merged into c->globals, c->rules, …, duplicates reported, and the
 * singletons (schema, at, risk, classify, approvals) found. Names inside
 * expressions are resolved here, not there, because what a name means
 * depends on where it is (a quantifier variable shadows a global; `risk`
 * is a class name or the decision's risk). After this pass every
 * EX_NAME has its kind and target, every call its chg_builtin, every
 * expression a type, and lets and time sets know whether they are used;
 * the lints, the time analysis and codegen rely on all of that and do
 * not look names up again. They also rely on T_ERROR: codegen never runs
 * on a program with errors, so it never meets one.
 *
 * Order inside the pass (chg_c_typecheck): the schema first (everything
 * typed against `change` needs it), then `at`, classify and approvals
 * (which resolve class names to indexes), then what approvals read of the
 * schema,
 * then every declaration in order. A let is checked on first use instead
 * of in order, so its type is known wherever it is named, whatever the
 * order of declarations.
 *
 * Narrowing. A `T?` value may not be used as a T until a condition has
 * proved it present. The proof is a list of facts, canonical path keys
 * ("change.pipeline", "$0x…" for a quantifier variable, a let's name)
 * known to be non-null: facts_when(cond, truth) collects what cond
 * proves when it evaluates to truth, and check_with() checks the guarded
 * expression with those facts in scope: the right of `and` with the
 * left's facts when true, the right of `or` with the left's when false,
 * the branches of `if`, and whatever a rule's or action's `when` guards.
 * A path is a place, not a value, so only paths narrow (a call's result
 * does not), and only within the expression they guard: facts are a
 * linked list on the stack of checks, restored on the way out, so they
 * cannot leak to a sibling (test_check_narrowing_does_not_leak).
 */
#include "bundle_format.h" /* CHG_TS_MAX_NODES */
#include "compiler_int.h"
#include "chg_civil.h"
#include "chg_time.h"

#include <stdio.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* What an expression may refer to, by where it appears. Each context
 * allows a set (context()'s `allow`), and check_name records in `uses`
 * what an expression did use: a let that reads `risk` cannot be named
 * from classify (risk is computed there), and that is only known once the
 * let is checked, hence d->uses_risk. */
enum {
    CX_CHANGE = 1 << 0,
    CX_EVENT = 1 << 1,
    CX_NOW = 1 << 2,
    CX_RISK = 1 << 3,
    CX_ACTIONVARS = 1 << 4, /* reason, summary */
    CX_FREEZEVAR = 1 << 5,  /* freeze, in deny-during messages */
    CX_QUERY = 1 << 6,      /* external queries */
    CX_ACTION = 1 << 7      /* the outermost call after `do` */
};

/* A quantifier variable in scope (innermost first). `binder` is the
 * quantifier's node: it identifies the variable in NAME_LOCAL references,
 * in path keys and in codegen, whatever its name. */
typedef struct local {
    const char *name;
    chg_type *type;
    chg_expr *binder;
    struct local *next;
} local;

/* One proved fact: `path` (a path_key string, arena-owned) is non-null.
 * Facts form a singly linked list whose head is cx.facts; check_with()
 * splices fresh facts in front of it for one sub-expression and unsplices
 * them afterwards, so the list is a stack that mirrors the recursion and
 * never needs freeing (the arena owns the nodes). */
typedef struct fact {
    const char *path; /* a path known to be non-null */
    struct fact *next;
} fact;

/* The checker's context for one expression tree: where it is (allow,
 * where, file for visibility), the variables and facts in scope. Made
 * fresh for each declaration part, so nothing leaks between them. */
typedef struct cx {
    chg_compiler *c;
    uint32_t file;
    unsigned allow;
    unsigned uses;        /* CX_ bits this expression used */
    const char *where;    /* for messages: "classify", "intake 'x'", … */
    local *locals;
    int nlocals;
    fact *facts;
} cx;

static chg_type *check(cx *x, chg_expr *e);
static void check_ts(cx *x, chg_tsexpr *t);
static chg_type *check_let(chg_compiler *c, chg_decl *d);

#define A (&x->c->arena)

static const char *tstr(cx *x, const chg_type *t) { return chg_c_type_str(A, t); }

/* Mark e as erroneous and return the error type. Every error path in the
 * checker goes through here, so "e->type is never NULL after check()"
 * holds for erroneous expressions too, and later passes may read it
 * without a NULL test. chg_c_type_error is a static singleton: comparing
 * kinds is enough, and no allocation is made, so this cannot fail. */
static chg_type *err(chg_expr *e)
{
    e->type = &chg_c_type_error;
    return &chg_c_type_error;
}

static bool is_err(const chg_type *t) { return t->kind == T_ERROR; }
/* T_ERROR counts as `any` on purpose: an expression already reported
 * must accept every use without a second message, or one typo in a
 * field name would be reported again at every operator above it. */
static bool is_any(const chg_type *t) { return t->kind == T_ANY || t->kind == T_ERROR; }

/* ---- paths and narrowing ---------------------------------------------------------- */

/* A canonical key for expressions that name a place (change.a.b, a local's
 * field, a let), or NULL. */
/*
 * The key is a string so that two syntactically different references to
 * the same place compare equal: `change.a.b` and `change["a"].b` both give
 * "change.a.b". A quantifier variable is keyed by its binder's address
 * rather than its name, because `any x in L: …` nested in another `any x`
 * shadows the outer x, and a fact about the outer x must not narrow the
 * inner one. The '$' prefix cannot start a name, which is also how
 * describe() tells such keys from printable paths. Indexing by anything
 * but a string literal is not a place (`l[i]` depends on i), so NULL.
 */
static const char *path_key(cx *x, chg_expr *e)
{
    switch (e->kind) {
    case EX_NAME:
        if (e->u.name.kind == NAME_LOCAL)
            return chg_arena_printf(A, "$%p", (void *)e->u.name.binder);
        if (e->u.name.kind == NAME_CHANGE || e->u.name.kind == NAME_EVENT ||
            e->u.name.kind == NAME_LET)
            return e->u.name.name;
        return NULL;
    case EX_FIELD:
    case EX_OPTFIELD: {
        const char *k = path_key(x, e->u.field.obj);
        return k ? chg_arena_printf(A, "%s.%s", k, e->u.field.field.name) : NULL;
    }
    case EX_INDEX: {
        const char *k = path_key(x, e->u.index.obj);
        chg_expr *i = e->u.index.index;
        if (!k || i->kind != EX_STRING)
            return NULL;
        return chg_arena_printf(A, "%s.%s", k, i->u.str.s);
    }
    default:
        return NULL;
    }
}

/* Is e a path some enclosing condition proved non-null? A linear search:
 * facts are few (one per `!= null` in the guarding conditions). */
static bool known_non_null(cx *x, chg_expr *e)
{
    if (!x->facts)
        return false;
    const char *k = path_key(x, e);
    if (!k)
        return false;
    for (fact *f = x->facts; f; f = f->next)
        if (strcmp(f->path, k) == 0)
            return true;
    return false;
}

/* Add to *out the paths that are non-null when `e` evaluates to `truth`.
 * Names are resolved already (e was checked). `a and b` true proves what
 * a and b prove; `a or b` false proves what their negations prove; `not`
 * flips the truth; `p != null` true and `p == null` false prove p. Nothing
 * else proves anything: `a or b` true proves neither side, so no fact is
 * ever claimed that a run could contradict. */
/*
 * Soundness is the one requirement: a fact is only claimed if every run
 * that takes the guarded branch makes it true. Completeness is not
 * attempted (`x == null or f(x)` false would prove x, and is not
 * recognised). Nothing here reports: e was checked already, this only
 * reads its shape. Facts allocated here live until the arena is freed;
 * an allocation failure drops the fact, which can only make the checker
 * stricter (a spurious E0206), never unsound.
 */
static void facts_when(cx *x, chg_expr *e, bool truth, fact **out)
{
    if (e->kind == EX_UNARY && e->u.unary.op == UOP_NOT) {
        facts_when(x, e->u.unary.a, !truth, out);
        return;
    }
    if (e->kind != EX_BINARY)
        return;
    chg_expr *a = e->u.binary.a, *b = e->u.binary.b;
    switch (e->u.binary.op) {
    case BIN_AND:
        if (truth) {
            facts_when(x, a, true, out);
            facts_when(x, b, true, out);
        }
        break;
    case BIN_OR:
        if (!truth) {
            facts_when(x, a, false, out);
            facts_when(x, b, false, out);
        }
        break;
    case BIN_NE:
    case BIN_EQ: {
        if ((e->u.binary.op == BIN_NE) != truth)
            break;
        chg_expr *p = b->kind == EX_NULL ? a : a->kind == EX_NULL ? b : NULL;
        const char *k = p ? path_key(x, p) : NULL;
        if (k) {
            fact *f = chg_arena_alloc(A, sizeof *f);
            if (f) { /* else the fact is lost, and the arena's flag says so */
                f->path = k;
                f->next = *out;
                *out = f;
            }
        }
        break;
    }
    default:
        break;
    }
}

/* Check e with extra facts, restoring the fact list afterwards. */
/*
 * `extra` is a list built by facts_when for this call only, so its tail
 * may be pointed at the current list temporarily and cut again after the
 * check: no copy is needed, and after the call both lists are exactly as
 * they were. This is what keeps the facts of `a and b` away from a
 * sibling `c` in `(a and b) or c`.
 */
static chg_type *check_with(cx *x, chg_expr *e, fact *extra)
{
    fact *saved = x->facts;
    fact *last = extra;
    if (last) {
        /* extra facts are fresh nodes: chain the current list behind them */
        while (last->next)
            last = last->next;
        last->next = x->facts;
        x->facts = extra;
    }
    chg_type *t = check(x, e);
    if (last)
        last->next = NULL;
    x->facts = saved;
    return t;
}

/* ---- reporting helpers --------------------------------------------------------------- */

/* How an expression is named in a message: its path when it has one
 * (users recognise `'change.pipeline'`), else its source text when short
 * and on one line, else a neutral phrase. Long or multi-line text would
 * make the one-line message unreadable; the caret shows the place anyway. */
static const char *describe(cx *x, chg_expr *e)
{
    const char *k = path_key(x, e);
    if (k && k[0] != '$')
        return chg_arena_printf(A, "'%s'", k);
    const char *text = chg_c_span_text(x->c, e->span);
    if (strlen(text) <= 40 && !strchr(text, '\n'))
        return chg_arena_printf(A, "'%s'", text);
    return "this value";
}

/* A value of optional type used where a value is required. */
/* Callers pass the narrowed type (field_type and the index case already
 * dropped the `?` when a fact covers the path), so a `T?` here really is
 * unproved. The second message argument is the text the help suggests
 * guarding (`x != null and …`); for an unnamed value a placeholder is
 * used rather than quoting a long expression. */
static bool require_present(cx *x, chg_expr *e, chg_type *t)
{
    if (t->kind != T_OPTIONAL && t->kind != T_NULL)
        return true;
    const char *what = describe(x, e);
    chg_c_diag_report(x->c, CHG_D_E0206, e->span, what,
                    strcmp(what, "this value") ? chg_c_span_text(x->c, e->span) : "x", NULL);
    return false;
}

static void not_allowed(cx *x, chg_expr *e, const char *name, const char *why)
{
    chg_c_diag_report(x->c, CHG_D_E0119, e->span, name, why, NULL);
}

/* ---- enum literals -------------------------------------------------------------------- */

/* A string literal compared with or assigned to an enum must be one of its
 * values. Returns false (reported) when it is not. */
/* Only literals can be checked at compile time; a computed string
 * compared with an enum is allowed and simply never equal at run time.
 * That asymmetry is deliberate: it catches the common typo (`"prodd"`)
 * without forcing casts on dynamic values. */
static bool enum_literal_ok(cx *x, const chg_type *en, chg_expr *lit)
{
    if (lit->kind != EX_STRING || en->kind != T_ENUM)
        return true;
    if (chg_c_type_enum_index(en, lit->u.str.s, lit->u.str.len) >= 0)
        return true;
    chg_diag *d = chg_c_diag_report(x->c, CHG_D_E0202, lit->span, lit->u.str.s, tstr(x, en), NULL);
    chg_c_diag_suggest(x->c, d, lit->u.str.s, en->u.enm.values, en->u.enm.n);
    return false;
}

/* ---- assignability ------------------------------------------------------------------ */

static bool assign(cx *x, chg_expr *e, chg_type *s, const chg_type *t, const char *what);

/* An object literal against an object type: fields by name, missing
 * required fields, unknown fields. */
/*
 * `what` is the dotted place being filled ("change", "intake 'x'.user"),
 * extended per field so a nested mismatch names the full path. Missing
 * fields are gathered into one E0120 instead of one per field: a test
 * written against an old schema would otherwise produce a screenful of
 * near-identical errors. A field is required unless it has a default, is
 * optional, or is `any` (a field of unknown shape may be absent). The
 * diagnostic points at the opening brace rather than the whole literal,
 * which may span many lines.
 */
static bool assign_object(cx *x, chg_expr *e, const chg_type *t, const char *what)
{
    bool ok = true;
    for (uint32_t i = 0; i < e->u.object.n; i++) {
        chg_object_field *f = &e->u.object.fields[i];
        const chg_type_field *tf = chg_c_type_field_find(t, f->key.name);
        if (!tf) {
            const char **names = chg_arena_alloc(A, sizeof(char *) * (t->u.obj.n + 1));
            for (uint32_t k = 0; names && k < t->u.obj.n; k++)
                names[k] = t->u.obj.fields[k].name;
            chg_diag *d = chg_c_diag_report(x->c, CHG_D_E0104, f->key.span, f->key.name, what, NULL);
            chg_c_diag_suggest(x->c, d, f->key.name, names, names ? t->u.obj.n : 0);
            ok = false;
            continue;
        }
        const char *sub = chg_arena_printf(A, "%s.%s", what, f->key.name);
        if (!assign(x, f->value, f->value->type, tf->type, sub))
            ok = false;
    }
    /* every missing field in one diagnostic */
    chg_buf names;
    chg_buf_init(&names);
    const chg_type_field *first = NULL;
    uint32_t missing = 0;
    for (uint32_t k = 0; k < t->u.obj.n; k++) {
        const chg_type_field *tf = &t->u.obj.fields[k];
        if (tf->dflt || tf->type->kind == T_OPTIONAL || tf->type->kind == T_ANY)
            continue;
        bool given = false;
        for (uint32_t i = 0; i < e->u.object.n; i++)
            if (strcmp(e->u.object.fields[i].key.name, tf->name) == 0)
                given = true;
        if (given)
            continue;
        if (!first)
            first = tf;
        missing++;
        chg_buf_printf(&names, "%s'%s'", names.len ? ", " : "", tf->name);
    }
    if (missing) {
        chg_span at = e->span.end - e->span.start > 1 && e->kind == EX_OBJECT && e->u.object.n
                          ? (chg_span){e->span.file, e->span.start, e->span.start + 1}
                          : e->span;
        const char *list = chg_arena_printf(A, "field%s %s", missing > 1 ? "s" : "", names.data);
        chg_diag *d = chg_c_diag_report(x->c, CHG_D_E0120, at, what, list, NULL);
        chg_c_diag_note(x->c, d, first->span, "'%s' is declared here", first->name);
        ok = false;
    }
    chg_buf_free(&names);
    return ok;
}

/* Can expression e (of type s) go where type t is expected? Reports and
 * returns false when not. Literals are checked structurally, so an enum
 * field gets its literal checked and an object literal its fields. */
/*
 * The order of the tests matters. Optional targets are peeled first (a
 * `T` or `T?` value may fill a `T?`; null fills any `T?`). An `if` is
 * checked branch by branch before the optional source test, so that
 * `if c then "a" else null` assigned to an enum checks "a" as a literal
 * of that enum. Only then is an optional source refused: a `T?` cannot
 * fill a `T` unless narrowed. Integers widen to float; enums go where
 * strings are expected but not the other way round (a string is not
 * known to be a member). Lists are checked element by element when they
 * are literals, so that `["prod", "dev"]` can fill `[enum(prod, dev)]`.
 */
static bool assign(cx *x, chg_expr *e, chg_type *s, const chg_type *t, const char *what)
{
    if (is_err(s) || is_any(t) || s->kind == T_ANY)
        return true;
    if (t->kind == T_OPTIONAL) {
        if (s->kind == T_NULL)
            return true;
        const chg_type *inner = t->u.elem;
        if (s->kind == T_OPTIONAL)
            return assign(x, e, s->u.elem, inner, what);
        return assign(x, e, s, inner, what);
    }
    if (e->kind == EX_IF) {
        bool a = assign(x, e->u.ifx.then, e->u.ifx.then->type, t, what);
        bool b = assign(x, e->u.ifx.els, e->u.ifx.els->type, t, what);
        return a && b;
    }
    if (s->kind == T_OPTIONAL || s->kind == T_NULL) {
        if (s->kind == T_NULL) {
            chg_c_diag_report(x->c, CHG_D_E0201, e->span, tstr(x, t), "null", NULL);
            return false;
        }
        return require_present(x, e, s);
    }
    switch (t->kind) {
    case T_ENUM:
        if (s->kind == T_ENUM && !chg_c_type_equal(s, t)) {
            chg_c_diag_report(x->c, CHG_D_E0201, e->span, tstr(x, t), tstr(x, s), NULL);
            return false;
        }
        if (s->kind == T_STRING || s->kind == T_ENUM)
            return enum_literal_ok(x, t, e);
        break;
    case T_FLOAT:
        if (s->kind == T_INT || s->kind == T_FLOAT)
            return true;
        break;
    case T_STRING:
        if (s->kind == T_STRING || s->kind == T_ENUM)
            return true;
        break;
    case T_LIST:
        if (s->kind != T_LIST)
            break;
        if (e->kind == EX_LIST) {
            bool ok = true;
            for (uint32_t i = 0; i < e->u.list.n; i++)
                if (!assign(x, e->u.list.items[i], e->u.list.items[i]->type, t->u.elem, what))
                    ok = false;
            return ok;
        }
        if (s->u.elem->kind == T_ANY || chg_c_type_equal(s->u.elem, t->u.elem))
            return true;
        if (t->u.elem->kind == T_STRING && s->u.elem->kind == T_ENUM)
            return true;
        break;
    case T_OBJECT:
        if (e->kind == EX_OBJECT)
            return assign_object(x, e, t, what);
        if (s->kind == T_OBJECT && chg_c_type_equal(s, t))
            return true;
        break;
    default:
        if (s->kind == t->kind)
            return true;
    }
    chg_diag *d = chg_c_diag_report(x->c, CHG_D_E0201, e->span, tstr(x, t), tstr(x, s), NULL);
    if (d && strcmp(what, "value") != 0)
        chg_c_diag_note(x->c, d, (chg_span){0}, "for %s", what);
    return false;
}

/* ---- names ------------------------------------------------------------------------------ */

/* The candidates for "did you mean" after an unknown name: everything the
 * name could have resolved to here, in check_name's order. Globals not
 * visible from this file are included on purpose: suggesting one leads
 * to the E0119 that explains the missing import. */
static void collect_names(cx *x, chg_vec *out)
{
    static const char *const roots[] = {"change", "now", "risk"};
    for (size_t i = 0; i < CHG_ARRAY_LEN(roots); i++)
        if (chg_vec_push(out, (void *)roots[i]) != CHG_OK)
            chg_c_nomem(x->c);
    /* and the names only some places see, where they are seen: `{freze}`
     * in a deny-during message should suggest `freeze` */
    static const struct {
        unsigned need;
        const char *name;
    } scoped[] = {{CX_FREEZEVAR, "freeze"}, {CX_ACTIONVARS, "reason"}, {CX_ACTIONVARS, "summary"}, {CX_EVENT, "event"}};
    for (size_t i = 0; i < CHG_ARRAY_LEN(scoped); i++)
        if ((x->allow & scoped[i].need) && chg_vec_push(out, (void *)scoped[i].name) != CHG_OK)
            chg_c_nomem(x->c);
    for (local *l = x->locals; l; l = l->next)
        if (chg_vec_push(out, (void *)l->name) != CHG_OK)
            chg_c_nomem(x->c);
    for (size_t i = 0; i < x->c->globals.cap; i++)
        if (x->c->globals.e[i].key)
            if (chg_vec_push(out, (void *)x->c->globals.e[i].key) != CHG_OK)
                chg_c_nomem(x->c);
}

static void unknown_name(cx *x, chg_expr *e)
{
    const char *name = e->u.name.name;
    chg_diag *d = chg_c_diag_report(x->c, CHG_D_E0101, e->span, name, NULL);
    chg_vec names;
    chg_vec_init(&names);
    collect_names(x, &names);
    chg_c_diag_suggest(x->c, d, name, (const char *const *)names.items, names.len);
    chg_vec_free(&names);
}

/* A built-in root (`change`, `now`, `risk`, …) used where the context does
 * not allow it. `risk` outside a place that may read it gets its own code,
 * E0116, naming the place (classify computes risk, so reading it there
 * would be circular); intakes are excluded from that wording because
 * intakes run before any risk exists at all. The root's name is resolved
 * either way so later passes see a kind, not a bare name. */
static chg_type *root_name(cx *x, chg_expr *e, unsigned need, chg_name_kind kind, chg_type *t,
                           const char *why)
{
    e->u.name.kind = kind;
    if (!(x->allow & need)) {
        if (need == CX_RISK && !(x->allow & CX_RISK) && x->where && strcmp(x->where, "intake") != 0)
            chg_c_diag_report(x->c, CHG_D_E0116, e->span, x->where, NULL);
        else
            not_allowed(x, e, e->u.name.name, why);
        return err(e);
    }
    x->uses |= need;
    return e->type = t;
}

/*
 * Lookup order is the scoping rule: quantifier variables (innermost
 * first), then the built-in roots, then globals. A local may therefore be
 * called `change` and shadow the root inside its body; a global may not,
 * since the resolver's namespace never holds the roots and the roots are
 * tested first. Visibility is checked after lookup, not during, so that a
 * name declared in a file not imported gets "not imported" rather than
 * "unknown" (the former tells the user what to write).
 *
 * A let's needs propagate: naming a let that reads `risk` counts as
 * reading `risk`, which is only known once the let is checked, hence the
 * check_let call before the test.
 */
static chg_type *check_name(cx *x, chg_expr *e)
{
    const char *n = e->u.name.name;
    for (local *l = x->locals; l; l = l->next)
        if (strcmp(l->name, n) == 0) {
            e->u.name.kind = NAME_LOCAL;
            e->u.name.binder = l->binder;
            return e->type = l->type;
        }
    if (!strcmp(n, "change"))
        return root_name(x, e, CX_CHANGE, NAME_CHANGE, x->c->change_type,
                         x->allow & CX_EVENT ? "an intake builds the change from 'event'"
                                             : "tests give the change with 'change { … }'");
    if (!strcmp(n, "event"))
        return root_name(x, e, CX_EVENT, NAME_EVENT, &chg_c_type_any,
                         "only intake blocks see the raw event");
    if (!strcmp(n, "now"))
        return root_name(x, e, CX_NOW, NAME_NOW, &chg_c_type_time,
                         x->where && !strcmp(x->where, "at") ? "the 'at' expression defines now"
                                                             : "a test sets the instant with 'at'");
    if (!strcmp(n, "risk"))
        return root_name(x, e, CX_RISK, NAME_RISK, &chg_c_type_risk,
                         "risk is known only after classify");
    if (!strcmp(n, "reason") || !strcmp(n, "summary"))
        return root_name(x, e, CX_ACTIONVARS, n[0] == 'r' ? NAME_REASON : NAME_SUMMARY,
                         &chg_c_type_string, "only actions (after 'do') see 'reason' and 'summary'");
    if (!strcmp(n, "freeze"))
        return root_name(x, e, CX_FREEZEVAR, NAME_FREEZE_VAR, &chg_c_type_string,
                         "only messages of 'deny during' rules see 'freeze'");

    chg_decl *d = chg_c_map_get(&x->c->globals, n);
    if (!d) {
        unknown_name(x, e);
        return err(e);
    }
    if (!chg_c_visible(x->c, x->file, d->file)) {
        const chg_source *src = chg_compiler_source(x->c, d->file);
        const chg_source *here = chg_compiler_source(x->c, x->file);
        chg_diag *dg = chg_c_diag_report(x->c, CHG_D_E0119, e->span, n,
                                       chg_arena_printf(A, "it is declared in %s, which %s does not import",
                                                        src->path, here->path),
                                       NULL);
        chg_c_diag_note(x->c, dg, d->name.span, "declared here");
        return err(e);
    }
    d->used = true;
    e->u.name.decl = d;
    switch (d->kind) {
    case D_LET: {
        e->u.name.kind = NAME_LET;
        chg_type *t = check_let(x->c, d);
        unsigned missing = d->uses_risk ? CX_RISK & ~x->allow : 0;
        if (d->state == 2 && missing) {
            chg_diag *dg = chg_c_diag_report(x->c, CHG_D_E0116, e->span,
                                           chg_arena_printf(A, "%s, through let '%s'", x->where, n), NULL);
            chg_c_diag_note(x->c, dg, d->name.span, "'%s' reads 'risk'", n);
            return err(e);
        }
        /* the let's other needs (change, now) are allowed wherever lets are */
        if (d->uses_risk)
            x->uses |= CX_RISK;
        x->uses |= CX_CHANGE;
        return e->type = t;
    }
    case D_RISK:
        e->u.name.kind = NAME_RISK_CLASS;
        e->u.name.risk_index = d->index;
        return e->type = &chg_c_type_risk;
    case D_WINDOW:
    case D_FREEZE:
        e->u.name.kind = NAME_TIMESET;
        return e->type = &chg_c_type_timeset;
    default:
        unknown_name(x, e);
        return err(e);
    }
}

/* ---- fields -------------------------------------------------------------------------------- */

/*
 * The type of obj.name (or obj?.name, or obj["name"]). Three rules
 * interact here. A field with a default is never null at run time (the
 * decoder supplies the default), so its `?` is dropped. `?.` on an optional
 * object makes the result optional, whatever the field's own type. And a
 * fact about this very path removes the `?` last, after the other two,
 * because `change.a?.b != null` proves the combined result, not the
 * field's declared type. Plain `.` on a `T?` is refused before looking
 * the field up: the fix is a null check, not a different field name.
 */
static chg_type *field_type(cx *x, chg_expr *e, chg_type *obj, const char *name, chg_span name_span,
                            bool optional_chain)
{
    if (is_err(obj))
        return err(e);
    if (obj->kind == T_ANY)
        return e->type = &chg_c_type_any;
    bool opt = false;
    if (obj->kind == T_OPTIONAL) {
        if (!optional_chain) {
            require_present(x, e->kind == EX_INDEX ? e->u.index.obj : e->u.field.obj, obj);
            return err(e);
        }
        obj = obj->u.elem;
        opt = true;
    }
    if (obj->kind != T_OBJECT) {
        chg_c_diag_report(x->c, CHG_D_E0208, e->kind == EX_INDEX ? e->u.index.obj->span : e->u.field.obj->span,
                        tstr(x, obj), NULL);
        return err(e);
    }
    const chg_type_field *f = chg_c_type_field_find(obj, name);
    if (!f) {
        chg_expr *o = e->kind == EX_INDEX ? e->u.index.obj : e->u.field.obj;
        const char *k = path_key(x, o);
        const char *on = k && k[0] != '$' ? k : chg_c_span_text(x->c, o->span);
        const char **names = chg_arena_alloc(A, sizeof(char *) * (obj->u.obj.n + 1));
        for (uint32_t i = 0; names && i < obj->u.obj.n; i++)
            names[i] = obj->u.obj.fields[i].name;
        chg_diag *d = chg_c_diag_report(x->c, CHG_D_E0104, name_span, name, on, NULL);
        chg_c_diag_suggest(x->c, d, name, names, names ? obj->u.obj.n : 0);
        return err(e);
    }
    chg_type *t = f->type;
    if (f->dflt && t->kind == T_OPTIONAL)
        t = t->u.elem;
    if (opt)
        t = chg_c_type_optional(A, t);
    if (t->kind == T_OPTIONAL && known_non_null(x, e))
        t = t->u.elem;
    return e->type = t;
}

/* ---- calls ---------------------------------------------------------------------------------- */

/* Parameter kinds as words for "expected …" messages. P_ZONE reads as a
 * phrase, not a type: the argument's type is string, but what is wrong
 * is usually that it is not a literal zone name. */
static const char *param_name(chg_param p)
{
    if (chg_c_aws_shape(p))
        return "string"; /* of a form checked when literal */
    switch (p) {
    case P_STRING: return "string";
    case P_ZONE: return "a time zone name";
    case P_INT: return "int";
    case P_NUMBER: return "a number";
    case P_BOOL: return "bool";
    case P_TIME: return "time";
    case P_DURATION: return "duration";
    case P_LIST: return "a list";
    case P_STRING_OR_LIST: return "a string or a list";
    default: return "any value";
    }
}

/* The kinds are those of vm/builtins.def; the VM's implementations assume
 * exactly these (test_vm_builtins_match_checker keeps the two in step),
 * so widening a case here without the VM side would let a bundle call a
 * built-in with a value it does not handle. */
static bool param_ok(const chg_type *t, chg_param p)
{
    if (is_any(t))
        return true;
    switch (p) {
    case P_ANY: return true;
    case P_STRING:
    case P_ZONE:
    case P_AWS_SNS_TOPIC_ARN:
    case P_AWS_CFN_STACK:
    case P_AWS_CFN_CHANGE_SET:
    case P_AWS_PIPELINE_NAME:
    case P_AWS_PIPELINE_EXECUTION_ID:
    case P_AWS_APPROVAL_TOKEN:
    case P_AWS_APPROVAL_STATUS:
    case P_AWS_SSM_EXECUTION_ID:
    case P_AWS_SSM_SIGNAL:
    case P_AWS_EVENT_BUS: return t->kind == T_STRING || t->kind == T_ENUM;
    case P_INT: return t->kind == T_INT;
    case P_NUMBER: return t->kind == T_INT || t->kind == T_FLOAT;
    case P_BOOL: return t->kind == T_BOOL;
    case P_TIME: return t->kind == T_TIME;
    case P_DURATION: return t->kind == T_DURATION;
    case P_LIST: return t->kind == T_LIST;
    case P_STRING_OR_LIST: return t->kind == T_STRING || t->kind == T_ENUM || t->kind == T_LIST;
    }
    return false;
}

/* "did you mean" for an unknown call: among the built-ins that may stand
 * where it does (actions after `do`, the others elsewhere), the closest
 * name; failing that, the one built-in there whose last part is the
 * call's, so that a service named as its API or CLI does
 * (aws.sfn.send_task_success, aws.eventbridge.put_event,
 * aws.cfn.rollback_stack) finds chg's name; failing that, the closest of
 * all built-ins. */
static void suggest_builtin(cx *x, chg_diag *d, const char *name, bool is_action_position)
{
    const char **names = chg_arena_alloc(A, sizeof(char *) * chg_c_nbuiltins);
    size_t n = 0;
    for (size_t i = 0; names && i < chg_c_nbuiltins; i++)
        if ((chg_c_builtins[i].kind == BI_ACTION) == is_action_position)
            names[n++] = chg_c_builtins[i].name;
    chg_c_diag_suggest(x->c, d, name, names, n);
    const char *last = strrchr(name, '.');
    if (!d || d->help || !names)
        return;
    const char *only = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *l = strrchr(names[i], '.');
        if (last && l && !strcmp(l, last)) {
            if (only)
                return; /* two share it: no guess */
            only = names[i];
        }
    }
    if (only)
        chg_c_diag_help(x->c, d, "did you mean '%s'?", only);
    else { /* a query after `do`, say: its E0504 then explains */
        for (size_t i = n = 0; i < chg_c_nbuiltins; i++)
            names[n++] = chg_c_builtins[i].name;
        chg_c_diag_suggest(x->c, d, name, names, n);
    }
}

/*
 * Order of checks: the name, then the call's kind against its position
 * (an action only after `do`, nothing but actions there), then whether
 * queries are allowed, then arity, then each argument. The arguments of
 * an unknown function are still checked, so that names inside them are
 * resolved and reported; the other early exits skip them because the
 * call is already meaningless. Arguments beyond max_args are checked but
 * not matched to a parameter; the last of params[] applies to every
 * later argument (variadic built-ins).
 *
 * An argument of an AWS form (an SNS topic ARN, a stack name) given as a
 * literal is checked against the form here (aws_shapes.c); a computed one
 * is AWS's to refuse when chgd calls it.
 *
 * Zone arguments must be literals: the bundle resolves zones when it
 * loads, so a computed zone could not be verified there. chg_c_check_zone
 * reports through the diagnostics engine; the error count before and
 * after tells whether it did.
 */
static chg_type *check_call(cx *x, chg_expr *e, bool is_action_position)
{
    const char *name = e->u.call.name;
    const chg_builtin *b = chg_c_builtin_find(name);
    if (!b) {
        chg_diag *d = chg_c_diag_report(x->c, is_action_position ? CHG_D_E0503 : CHG_D_E0110,
                                      e->u.call.name_span, name, NULL);
        suggest_builtin(x, d, name, is_action_position);
        for (uint32_t i = 0; i < e->u.call.nargs; i++)
            check(x, e->u.call.args[i]);
        return err(e);
    }
    e->u.call.builtin = b;
    if (b->kind == BI_ACTION && !is_action_position) {
        chg_c_diag_report(x->c, CHG_D_E0505, e->u.call.name_span, name, NULL);
        return err(e);
    }
    if (b->kind != BI_ACTION && is_action_position) {
        chg_diag *d = chg_c_diag_report(x->c, CHG_D_E0504, e->u.call.name_span, name, NULL);
        chg_c_diag_help(x->c, d, "after 'do' come actions such as aws.sns.publish(…)");
        return err(e);
    }
    if (b->kind == BI_QUERY && !(x->allow & CX_QUERY)) {
        not_allowed(x, e, name, "external queries are answered when a change is judged");
        return err(e);
    }
    /* what the policy asks, for the lint on `given` answers nothing reads
     * (a test's own `given` is checked in a context named "test") */
    if (b->kind == BI_QUERY && (!x->where || strcmp(x->where, "test") != 0) &&
        chg_c_map_put(&x->c->queries_read, b->name, (void *)b) != CHG_OK)
        chg_c_nomem(x->c);
    bool ok = true;
    if (e->u.call.nargs < b->min_args || e->u.call.nargs > b->max_args) {
        const char *takes = b->min_args == b->max_args
                                ? chg_arena_printf(A, "%u argument%s", b->min_args, b->min_args == 1 ? "" : "s")
                                : chg_arena_printf(A, "%u to %u arguments", b->min_args, b->max_args);
        const char *given = chg_arena_printf(A, "%u %s", e->u.call.nargs,
                                             e->u.call.nargs == 1 ? "was" : "were");
        chg_diag *d = chg_c_diag_report(x->c, CHG_D_E0207, e->span, chg_arena_printf(A, "'%s'", name),
                                      takes, given, NULL);
        chg_c_diag_help(x->c, d, "%s", b->doc);
        ok = false;
    }
    for (uint32_t i = 0; i < e->u.call.nargs; i++) {
        chg_expr *arg = e->u.call.args[i];
        chg_type *t = check(x, arg);
        if (i >= b->max_args)
            continue;
        chg_param p = chg_c_builtin_param(b, i);
        if (is_err(t))
            continue;
        if (p != P_ANY && !require_present(x, arg, t)) {
            ok = false;
            continue;
        }
        if (!param_ok(t, p)) {
            chg_diag *d = chg_c_diag_report(x->c, CHG_D_E0201, arg->span, param_name(p), tstr(x, t), NULL);
            chg_c_diag_note(x->c, d, (chg_span){0}, "argument %u of %s", i + 1, name);
            ok = false;
        } else if (p == P_ZONE && arg->kind != EX_STRING) {
            chg_c_diag_report(x->c, CHG_D_E0510, arg->span, "a time zone argument", NULL);
            ok = false;
        } else if (p == P_ZONE) {
            chg_ident z = {arg->u.str.s, arg->span, false};
            size_t before = x->c->nerrors;
            chg_c_check_zone(x->c, &z);
            ok &= x->c->nerrors == before;
        } else if (chg_c_aws_shape(p) && (arg->kind == EX_STRING || arg->kind == EX_RAWSTRING))
            ok &= chg_c_aws_shape_check(x->c, p, arg->u.str.s, arg->span, name, i + 1);
    }
    if (!ok)
        return err(e);
    if (b->kind == BI_QUERY)
        x->uses |= CX_QUERY;
    switch (b->result) {
    case P_INT: return e->type = &chg_c_type_int;
    case P_BOOL: return e->type = &chg_c_type_bool;
    case P_STRING: return e->type = &chg_c_type_string;
    case P_TIME: return e->type = &chg_c_type_time;
    default: return e->type = &chg_c_type_any;
    }
}

/* ---- operators -------------------------------------------------------------------------------- */

static bool numeric(const chg_type *t) { return t->kind == T_INT || t->kind == T_FLOAT; }
static bool stringish(const chg_type *t) { return t->kind == T_STRING || t->kind == T_ENUM; }

/* May values of types a and b be compared with == and != ? */
/* Equality is looser than ordering: numbers of either kind compare,
 * enums and strings compare (a string literal against an enum is then
 * checked by enum_literal_ok), but two different enums never do, which
 * catches comparing `change.env` with `change.region`. Time sets have no
 * equality: two sets written differently may be the same set, so any
 * answer the language gave would be about the text, not the set. */
static bool comparable(const chg_type *a, const chg_type *b)
{
    if (is_any(a) || is_any(b))
        return true;
    if (a->kind == T_NULL || b->kind == T_NULL)
        return a->kind == T_OPTIONAL || b->kind == T_OPTIONAL || a->kind == b->kind;
    a = chg_c_type_strip(a);
    b = chg_c_type_strip(b);
    if (numeric(a) && numeric(b))
        return true;
    if (a->kind == T_ENUM && b->kind == T_ENUM)
        return chg_c_type_equal(a, b);
    if (stringish(a) && stringish(b))
        return true;
    if (a->kind == T_LIST && b->kind == T_LIST)
        return comparable(a->u.elem, b->u.elem);
    return a->kind == b->kind && a->kind != T_TIMESET;
}

/* Risk classes are ordered by declaration (`risk >= high`), which is why
 * T_RISK is here and why classes are compared by index, not name. */
static bool ordered(const chg_type *a, const chg_type *b)
{
    if (is_any(a) || is_any(b))
        return true;
    if (numeric(a) && numeric(b))
        return true;
    if (stringish(a) && stringish(b))
        return a->kind != T_ENUM || b->kind != T_ENUM || chg_c_type_equal(a, b);
    return a->kind == b->kind && (a->kind == T_TIME || a->kind == T_DURATION || a->kind == T_RISK);
}

/* `risk == "high"` is the commonest mistake with risk: the class is a
 * name, not a string. Offer that fix only when the string really is a
 * class name, so the help never suggests something that would not parse. */
static void risk_literal_help(cx *x, chg_diag *d, chg_expr *other)
{
    if (d && other->kind == EX_STRING && chg_c_map_get(&x->c->globals, other->u.str.s)) {
        chg_decl *cls = chg_c_map_get(&x->c->globals, other->u.str.s);
        if (cls->kind == D_RISK)
            chg_c_diag_help(x->c, d, "risk classes are names: write %s without quotes", other->u.str.s);
    }
}

/* == and != accept optional operands (comparing with null is how a value
 * is tested); < and the others do not, since an order with null has no
 * meaning. The risk test comes first so that `risk == "high"` gets the
 * risk-specific help rather than a generic type mismatch. */
static chg_type *check_compare(cx *x, chg_expr *e, chg_type *ta, chg_type *tb)
{
    chg_expr *a = e->u.binary.a, *b = e->u.binary.b;
    chg_binop op = e->u.binary.op;
    if (is_err(ta) || is_err(tb))
        return err(e);
    /* risk against anything but a risk class */
    if ((ta->kind == T_RISK) != (tb->kind == T_RISK) && !is_any(ta) && !is_any(tb)) {
        chg_expr *other = ta->kind == T_RISK ? b : a;
        chg_type *ot = ta->kind == T_RISK ? tb : ta;
        chg_diag *d = chg_c_diag_report(x->c, CHG_D_E0204, other->span, tstr(x, ot), NULL);
        risk_literal_help(x, d, other);
        return err(e);
    }
    if (op == BIN_EQ || op == BIN_NE) {
        if (!comparable(ta, tb)) {
            chg_c_diag_report(x->c, CHG_D_E0203, e->u.binary.op_span, tstr(x, ta), tstr(x, tb), NULL);
            return err(e);
        }
        const chg_type *sa = chg_c_type_strip(ta), *sb = chg_c_type_strip(tb);
        if ((sa->kind == T_ENUM && !enum_literal_ok(x, sa, b)) ||
            (sb->kind == T_ENUM && !enum_literal_ok(x, sb, a)))
            return err(e);
        return e->type = &chg_c_type_bool;
    }
    /* < <= > >= */
    if (!require_present(x, a, ta) || !require_present(x, b, tb))
        return err(e);
    if (!ordered(ta, tb)) {
        chg_c_diag_report(x->c, CHG_D_E0203, e->u.binary.op_span, tstr(x, ta), tstr(x, tb), NULL);
        return err(e);
    }
    return e->type = &chg_c_type_bool;
}

/* `in` has three meanings chosen by the right operand's type: membership
 * of an instant in a time set, of a value in a list, of a substring in a
 * string. The list case checks enum literals on both sides so that
 * `change.env in ["prod", "stagin"]` reports the misspelt element. */
static chg_type *check_in(cx *x, chg_expr *e, chg_type *ta, chg_type *tb)
{
    chg_expr *a = e->u.binary.a, *b = e->u.binary.b;
    if (is_err(ta) || is_err(tb))
        return err(e);
    if (tb->kind == T_TIMESET) {
        if (!require_present(x, a, ta))
            return err(e);
        if (!is_any(ta) && ta->kind != T_TIME) {
            chg_diag *d = chg_c_diag_report(x->c, CHG_D_E0201, a->span, "time", tstr(x, ta), NULL);
            chg_c_diag_note(x->c, d, (chg_span){0}, "the left of 'in %s' is an instant", chg_c_span_text(x->c, b->span));
            return err(e);
        }
        return e->type = &chg_c_type_bool;
    }
    if (!require_present(x, b, tb))
        return err(e);
    if (tb->kind == T_ANY)
        return e->type = &chg_c_type_bool;
    if (tb->kind == T_LIST) {
        const chg_type *el = tb->u.elem;
        if (!comparable(ta, el)) {
            chg_c_diag_report(x->c, CHG_D_E0203, e->u.binary.op_span, tstr(x, ta),
                            chg_arena_printf(A, "elements of %s", tstr(x, tb)), NULL);
            return err(e);
        }
        const chg_type *sa = chg_c_type_strip(ta);
        if (sa->kind == T_ENUM && b->kind == EX_LIST) {
            bool ok = true;
            for (uint32_t i = 0; i < b->u.list.n; i++)
                ok &= enum_literal_ok(x, sa, b->u.list.items[i]);
            if (!ok)
                return err(e);
        }
        if (el->kind == T_ENUM && !enum_literal_ok(x, el, a))
            return err(e);
        return e->type = &chg_c_type_bool;
    }
    if (stringish(tb)) {
        if (!require_present(x, a, ta))
            return err(e);
        if (!is_any(ta) && !stringish(ta)) {
            chg_c_diag_report(x->c, CHG_D_E0203, e->u.binary.op_span, tstr(x, ta), tstr(x, tb), NULL);
            return err(e);
        }
        return e->type = &chg_c_type_bool;
    }
    chg_diag *d = chg_c_diag_report(x->c, CHG_D_E0205, e->u.binary.op_span, "in", tstr(x, ta), tstr(x, tb), NULL);
    chg_c_diag_help(x->c, d, "'in' looks in a list, a string, or a window or freeze");
    return err(e);
}

/*
 * The pattern is compiled here only to validate it and is freed at once;
 * the bundle carries the source and the VM compiles it when the bundle
 * loads. Compiling here too means a bad pattern is a diagnostic with a
 * position, not a load failure. The flags must be those the VM uses
 * (PCRE2_UTF), or a pattern valid here could fail there. The error offset
 * is mapped into the source only for raw strings: in a "…" string escapes
 * make pattern offsets and source offsets differ, so the whole literal is
 * underlined instead.
 */
static chg_type *check_matches(cx *x, chg_expr *e, chg_type *ta)
{
    chg_expr *a = e->u.binary.a, *b = e->u.binary.b;
    if (!is_err(ta) && !require_present(x, a, ta))
        return err(e);
    if (!is_any(ta) && !stringish(ta)) {
        chg_c_diag_report(x->c, CHG_D_E0205, e->u.binary.op_span, "matches", tstr(x, ta), "a pattern", NULL);
        return err(e);
    }
    if (b->kind != EX_STRING && b->kind != EX_RAWSTRING) {
        chg_diag *d = chg_c_diag_report(x->c, CHG_D_E0510, b->span, "a regular expression", NULL);
        chg_c_diag_help(x->c, d, "patterns are compiled once when the policy loads: write r\"…\"");
        return err(e);
    }
    int code;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)b->u.str.s, b->u.str.len, PCRE2_UTF, &code, &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        /* point into the pattern: r"…" has 2 bytes before it, "…" 1 */
        uint32_t lead = b->kind == EX_RAWSTRING ? 2 : 1;
        chg_span at = b->span;
        if (b->kind == EX_RAWSTRING && off <= b->u.str.len) {
            at.start = b->span.start + lead + (uint32_t)off;
            at.end = at.start + 1 <= b->span.end - 1 ? at.start + 1 : at.start;
        }
        chg_c_diag_report(x->c, CHG_D_E0216, at, (const char *)msg, NULL);
        return err(e);
    }
    pcre2_code_free(re);
    return e->type = &chg_c_type_bool;
}

/* The table of arithmetic: int op int stays int, mixed numbers become
 * float, and the time algebra is affine (instant ± duration is an
 * instant, instant - instant a duration, instant + instant nothing).
 * Everything the table does not list is E0205, with a help for the one
 * mistake people actually make (adding two instants). */
static chg_type *check_arith(cx *x, chg_expr *e, chg_type *ta, chg_type *tb)
{
    chg_expr *a = e->u.binary.a, *b = e->u.binary.b;
    chg_binop op = e->u.binary.op;
    if (is_err(ta) || is_err(tb))
        return err(e);
    if (!require_present(x, a, ta) || !require_present(x, b, tb))
        return err(e);
    if (ta->kind == T_ANY || tb->kind == T_ANY)
        return e->type = &chg_c_type_any;
    chg_type_kind ka = ta->kind, kb = tb->kind;
    chg_type *r = NULL;
    switch (op) {
    case BIN_ADD:
        if (ka == T_INT && kb == T_INT) r = &chg_c_type_int;
        else if (numeric(ta) && numeric(tb)) r = &chg_c_type_float;
        else if (stringish(ta) && stringish(tb)) r = &chg_c_type_string;
        else if ((ka == T_TIME && kb == T_DURATION) || (ka == T_DURATION && kb == T_TIME)) r = &chg_c_type_time;
        else if (ka == T_DURATION && kb == T_DURATION) r = &chg_c_type_duration;
        break;
    case BIN_SUB:
        if (ka == T_INT && kb == T_INT) r = &chg_c_type_int;
        else if (numeric(ta) && numeric(tb)) r = &chg_c_type_float;
        else if (ka == T_TIME && kb == T_DURATION) r = &chg_c_type_time;
        else if (ka == T_TIME && kb == T_TIME) r = &chg_c_type_duration;
        else if (ka == T_DURATION && kb == T_DURATION) r = &chg_c_type_duration;
        break;
    case BIN_MUL:
        if (ka == T_INT && kb == T_INT) r = &chg_c_type_int;
        else if (numeric(ta) && numeric(tb)) r = &chg_c_type_float;
        else if ((ka == T_DURATION && kb == T_INT) || (ka == T_INT && kb == T_DURATION)) r = &chg_c_type_duration;
        break;
    case BIN_DIV:
        if (ka == T_INT && kb == T_INT) r = &chg_c_type_int;
        else if (numeric(ta) && numeric(tb)) r = &chg_c_type_float;
        else if (ka == T_DURATION && kb == T_INT) r = &chg_c_type_duration;
        else if (ka == T_DURATION && kb == T_DURATION) r = &chg_c_type_int;
        break;
    case BIN_MOD:
        if (ka == T_INT && kb == T_INT) r = &chg_c_type_int;
        else if (ka == T_DURATION && kb == T_DURATION) r = &chg_c_type_duration;
        break;
    default:
        break;
    }
    if (!r) {
        chg_diag *d = chg_c_diag_report(x->c, CHG_D_E0205, e->u.binary.op_span, chg_c_binop_text(op),
                                      tstr(x, ta), tstr(x, tb), NULL);
        if (ka == T_TIME && kb == T_TIME && op == BIN_ADD)
            chg_c_diag_help(x->c, d, "add a duration to an instant (t + 2h), or subtract instants for a duration");
        return err(e);
    }
    return e->type = r;
}

/*
 * `and`/`or` are checked apart from the other operators because their
 * right side is checked under the facts of the left: when `and`'s right
 * runs, its left was true; when `or`'s right runs, its left was false.
 * A `bool?` operand is reported as an unproved optional rather than a
 * type mismatch, since the fix is a null check. `matches` checks only its
 * left operand through check(): the right must be a literal pattern and
 * is inspected directly. `??` requires an optional left; a fallback on a
 * value that cannot be null is reported because it is dead code that
 * usually hides a misunderstanding of the schema.
 */
static chg_type *check_binary(cx *x, chg_expr *e)
{
    chg_expr *a = e->u.binary.a, *b = e->u.binary.b;
    chg_binop op = e->u.binary.op;
    if (op == BIN_AND || op == BIN_OR) {
        chg_type *ta = check(x, a);
        fact *f = NULL;
        facts_when(x, a, op == BIN_AND, &f);
        chg_type *tb = check_with(x, b, f);
        bool ok = true;
        chg_expr *sides[2] = {a, b};
        chg_type *types[2] = {ta, tb};
        for (int i = 0; i < 2; i++) {
            if (is_any(types[i]) || types[i]->kind == T_BOOL)
                continue;
            if (types[i]->kind == T_OPTIONAL && types[i]->u.elem->kind == T_BOOL)
                require_present(x, sides[i], types[i]);
            else
                chg_c_diag_report(x->c, CHG_D_E0201, sides[i]->span, "bool", tstr(x, types[i]), NULL);
            ok = false;
        }
        return ok ? (e->type = &chg_c_type_bool) : err(e);
    }
    chg_type *ta = check(x, a);
    if (op == BIN_MATCHES)
        return check_matches(x, e, ta);
    chg_type *tb = check(x, b);
    switch (op) {
    case BIN_EQ: case BIN_NE: case BIN_LT: case BIN_LE: case BIN_GT: case BIN_GE:
        return check_compare(x, e, ta, tb);
    case BIN_IN:
        return check_in(x, e, ta, tb);
    case BIN_COALESCE: {
        if (is_err(ta) || is_err(tb))
            return err(e);
        if (ta->kind == T_ANY)
            return e->type = tb->kind == T_NULL ? &chg_c_type_any : tb;
        const chg_type *inner = chg_c_type_strip(ta);
        if (ta->kind != T_OPTIONAL && ta->kind != T_NULL) {
            chg_diag *d = chg_c_diag_report(x->c, CHG_D_E0205, e->u.binary.op_span, "??", tstr(x, ta),
                                          tstr(x, tb), NULL);
            chg_c_diag_help(x->c, d, "the left of '?\?' is never null here; drop the fallback");
            return err(e);
        }
        if (!assign(x, b, tb, inner, "value"))
            return err(e);
        return e->type = (chg_type *)inner;
    }
    default:
        return check_arith(x, e, ta, tb);
    }
}

/* The type two branches share (if/else, list elements), or NULL. */
/*
 * Used for the branches of `if` and the elements of a list literal.
 * null joins anything as an optional; numbers join as float; an enum and
 * a string join as the enum (the string is then a literal to check where
 * the value is used); an empty-list element type (`any`) yields to the
 * other side. Two different object literals unify to `any` rather than
 * failing: their use site checks them field by field through assign(),
 * which gives better messages than a structural join would.
 */
static chg_type *unify(cx *x, chg_type *a, chg_type *b)
{
    if (is_err(a) || is_err(b))
        return &chg_c_type_error;
    if (a->kind == T_ANY || b->kind == T_ANY)
        return &chg_c_type_any;
    if (chg_c_type_equal(a, b))
        return a;
    if (a->kind == T_NULL)
        return chg_c_type_optional(A, b);
    if (b->kind == T_NULL)
        return chg_c_type_optional(A, a);
    bool oa = a->kind == T_OPTIONAL, ob = b->kind == T_OPTIONAL;
    const chg_type *sa = chg_c_type_strip(a), *sb = chg_c_type_strip(b);
    chg_type *r = NULL;
    if (chg_c_type_equal(sa, sb))
        r = (chg_type *)sa;
    else if (numeric(sa) && numeric(sb))
        r = &chg_c_type_float;
    else if (stringish(sa) && stringish(sb))
        r = sa->kind == T_ENUM ? (chg_type *)sa : sb->kind == T_ENUM ? (chg_type *)sb : &chg_c_type_string;
    else if (sa->kind == T_LIST && sb->kind == T_LIST) {
        if (sa->u.elem->kind == T_ANY)
            r = (chg_type *)sb;
        else if (sb->u.elem->kind == T_ANY)
            r = (chg_type *)sa;
    } else if (sa->kind == T_OBJECT && sb->kind == T_OBJECT)
        r = &chg_c_type_any; /* differing object literals: checked where used */
    if (!r)
        return NULL;
    return oa || ob ? chg_c_type_optional(A, r) : r;
}

/* `l` lives in the caller's stack frame (check_quant), which is what
 * makes scoping automatic: the local exists exactly while its body is
 * checked. The slot is the variable's nesting depth, so sibling
 * quantifiers share a number; references go through `binder`, never
 * through the slot, which is why sharing is harmless. */
static void bind(cx *x, local *l, chg_expr *q, chg_type *elem)
{
    l->name = q->u.quant.var.name;
    l->type = elem;
    l->binder = q;
    l->next = x->locals;
    x->locals = l;
    q->u.quant.slot = (uint32_t)x->nlocals++;
}

/* any/all/count x in L: body. x is bound to L's element type for the body
 * only (bind() pushes it on the locals, popped here); a list of `any` (no
 * schema) gives an `any` element. The body must be a bool: codegen's loop
 * tests it with JMPT/JMPF. */
static chg_type *check_quant(cx *x, chg_expr *e)
{
    chg_type *lt = check(x, e->u.quant.list);
    chg_type *elem = &chg_c_type_any;
    bool ok = true;
    if (is_err(lt))
        elem = &chg_c_type_error, ok = false;
    else if (!require_present(x, e->u.quant.list, lt))
        ok = false;
    else if (lt->kind == T_LIST)
        elem = lt->u.elem;
    else if (lt->kind != T_ANY) {
        chg_c_diag_report(x->c, CHG_D_E0209, e->u.quant.list->span, tstr(x, lt), NULL);
        ok = false;
    }
    local l;
    bind(x, &l, e, elem);
    chg_type *bt = check(x, e->u.quant.body);
    x->locals = l.next;
    x->nlocals--;
    if (!is_any(bt) && bt->kind != T_BOOL) {
        chg_c_diag_report(x->c, CHG_D_E0201, e->u.quant.body->span, "bool", tstr(x, bt), NULL);
        ok = false;
    }
    if (!ok)
        return err(e);
    return e->type = e->kind == EX_COUNT ? &chg_c_type_int : &chg_c_type_bool;
}

/* The type of e, checking it and everything under it once. Recursion is
 * bounded by the parser's depth limit (CHG_MAX_DEPTH), except through
 * lets and time sets, which check_let and check_ts_decl bound. */
static chg_type *check(cx *x, chg_expr *e)
{
    switch (e->kind) {
    case EX_ERROR: return err(e);
    case EX_NULL: return e->type = &chg_c_type_null;
    case EX_BOOL: return e->type = &chg_c_type_bool;
    case EX_INT: return e->type = &chg_c_type_int;
    case EX_FLOAT: return e->type = &chg_c_type_float;
    case EX_STRING:
    case EX_RAWSTRING: return e->type = &chg_c_type_string;
    case EX_DURATION: return e->type = &chg_c_type_duration;
    case EX_INSTANT:
    case EX_DATE: return e->type = &chg_c_type_time;
    case EX_LOCALTIME: {
        chg_diag *d = chg_c_diag_report(x->c, CHG_D_E0215, e->span, NULL);
        chg_c_diag_help(x->c, d, "write %sZ for UTC", chg_c_span_text(x->c, e->span));
        return err(e);
    }
    case EX_INTERP:
        for (uint32_t i = 0; i < e->u.interp.n; i++)
            check(x, e->u.interp.parts[i]);
        return e->type = &chg_c_type_string;
    case EX_NAME: return check_name(x, e);
    case EX_FIELD:
    case EX_OPTFIELD: {
        chg_type *ot = check(x, e->u.field.obj);
        return field_type(x, e, ot, e->u.field.field.name, e->u.field.field.span, e->kind == EX_OPTFIELD);
    }
    case EX_INDEX: {
        chg_type *ot = check(x, e->u.index.obj);
        chg_type *it = check(x, e->u.index.index);
        if (is_err(ot) || is_err(it))
            return err(e);
        const chg_type *so = ot;
        if (so->kind == T_ANY)
            return e->type = &chg_c_type_any;
        if (so->kind == T_OBJECT || (so->kind == T_OPTIONAL && so->u.elem->kind == T_OBJECT)) {
            chg_expr *k = e->u.index.index;
            if (k->kind != EX_STRING) {
                chg_c_diag_report(x->c, CHG_D_E0510, k->span, "a field name in [ ]", NULL);
                return err(e);
            }
            return field_type(x, e, ot, k->u.str.s, k->span, false);
        }
        if (!require_present(x, e->u.index.obj, ot))
            return err(e);
        if (so->kind == T_LIST) {
            if (!is_any(it) && it->kind != T_INT) {
                chg_c_diag_report(x->c, CHG_D_E0201, e->u.index.index->span, "int", tstr(x, it), NULL);
                return err(e);
            }
            /* out of range gives null */
            chg_type *t = chg_c_type_optional(A, so->u.elem);
            if (t->kind == T_OPTIONAL && known_non_null(x, e))
                t = t->u.elem;
            return e->type = t;
        }
        chg_c_diag_report(x->c, CHG_D_E0213, e->u.index.obj->span, tstr(x, ot), NULL);
        return err(e);
    }
    case EX_CALL: return check_call(x, e, false);
    case EX_UNARY: {
        chg_type *t = check(x, e->u.unary.a);
        if (is_err(t))
            return err(e);
        if (e->u.unary.op == UOP_NOT) {
            if (is_any(t) || t->kind == T_BOOL)
                return e->type = &chg_c_type_bool;
            if (t->kind == T_OPTIONAL && t->u.elem->kind == T_BOOL) {
                require_present(x, e->u.unary.a, t);
                return err(e);
            }
        } else {
            if (!require_present(x, e->u.unary.a, t))
                return err(e);
            if (is_any(t) || numeric(t) || t->kind == T_DURATION)
                return e->type = t;
        }
        chg_c_diag_report(x->c, CHG_D_E0212, e->span, e->u.unary.op == UOP_NOT ? "not" : "-", tstr(x, t), NULL);
        return err(e);
    }
    case EX_BINARY: return check_binary(x, e);
    case EX_IF: {
        chg_type *ct = check(x, e->u.ifx.cond);
        if (!is_any(ct) && ct->kind != T_BOOL) {
            if (ct->kind == T_OPTIONAL && ct->u.elem->kind == T_BOOL)
                require_present(x, e->u.ifx.cond, ct);
            else
                chg_c_diag_report(x->c, CHG_D_E0201, e->u.ifx.cond->span, "bool", tstr(x, ct), NULL);
        }
        fact *ft = NULL, *ff = NULL;
        facts_when(x, e->u.ifx.cond, true, &ft);
        facts_when(x, e->u.ifx.cond, false, &ff);
        chg_type *a = check_with(x, e->u.ifx.then, ft);
        chg_type *b = check_with(x, e->u.ifx.els, ff);
        chg_type *u = unify(x, a, b);
        if (!u) {
            chg_diag *d = chg_c_diag_report(x->c, CHG_D_E0201, e->u.ifx.els->span, tstr(x, a), tstr(x, b), NULL);
            chg_c_diag_note(x->c, d, e->u.ifx.then->span, "the 'then' branch is %s", tstr(x, a));
            return err(e);
        }
        return e->type = u;
    }
    case EX_LIST: {
        chg_type *el = NULL;
        chg_expr *first = NULL;
        bool bad = false;
        for (uint32_t i = 0; i < e->u.list.n; i++) {
            chg_expr *it = e->u.list.items[i];
            chg_type *t = check(x, it);
            if (is_err(t)) {
                bad = true;
                continue;
            }
            if (!el) {
                el = t;
                first = it;
                continue;
            }
            chg_type *u = unify(x, el, t);
            if (!u) {
                chg_diag *d = chg_c_diag_report(x->c, CHG_D_E0214, it->span, tstr(x, el), tstr(x, t), NULL);
                chg_c_diag_note(x->c, d, first->span, "the first element is %s", tstr(x, el));
                bad = true;
                continue;
            }
            el = u;
        }
        if (bad)
            return err(e);
        return e->type = chg_c_type_list(A, el ? el : &chg_c_type_any);
    }
    case EX_OBJECT: {
        chg_type *t = chg_arena_alloc(A, sizeof *t);
        chg_type_field *fields = chg_arena_alloc(A, sizeof(chg_type_field) * (e->u.object.n + 1));
        if (!t || !fields)
            return err(e); /* out of memory: the arena's flag ends the check */
        t->kind = T_OBJECT;
        t->u.obj.fields = fields;
        for (uint32_t i = 0; i < e->u.object.n; i++) {
            chg_object_field *f = &e->u.object.fields[i];
            for (uint32_t k = 0; k < i; k++)
                if (strcmp(e->u.object.fields[k].key.name, f->key.name) == 0) {
                    chg_diag *d = chg_c_diag_report(x->c, CHG_D_E0111, f->key.span, f->key.name, NULL);
                    chg_c_diag_note(x->c, d, e->u.object.fields[k].key.span, "first given here");
                }
            chg_type_field *tf = &t->u.obj.fields[t->u.obj.n++];
            tf->name = f->key.name;
            tf->type = check(x, f->value);
            tf->span = f->key.span;
        }
        return e->type = t;
    }
    case EX_ANY:
    case EX_ALL:
    case EX_COUNT:
        return check_quant(x, e);
    }
    return err(e);
}

/* Check an expression that must be of type t (or assignable to it). */
/* A `bool?` where a bool is required (a `when`, a condition) is reported
 * as an unproved optional: `when change.urgent` with `urgent: bool?`
 * needs `== true` or a null check, and saying so helps more than "expected
 * bool, found bool?". */
static bool expect_type(cx *x, chg_expr *e, const chg_type *t, const char *what)
{
    chg_type *s = check(x, e);
    if (is_err(s))
        return false;
    if (t->kind == T_BOOL && s->kind == T_OPTIONAL && s->u.elem->kind == T_BOOL) {
        require_present(x, e, s);
        return false;
    }
    return assign(x, e, s, t, what);
}

/* A fresh context per declaration part: no locals, no facts, no uses.
 * `file` is the declaring file, used for visibility of globals: a rule
 * in an imported file sees that file's imports, not the root's. */
static cx context(chg_compiler *c, uint32_t file, unsigned allow, const char *where)
{
    cx x;
    memset(&x, 0, sizeof x);
    x.c = c;
    x.file = file;
    x.allow = allow;
    x.where = where;
    return x;
}

/* ---- lets ---------------------------------------------------------------------------------- */

/* Is declaration d one too many checked inside one another (see
 * check_let)? Reports E0011 the first time. */
/* Reported once per compilation: past the limit every further let of the
 * chain would fail the same way, and a hundred copies of one error would
 * hit the error limit and hide everything else. */
static bool decl_too_deep(chg_compiler *c, chg_decl *d, const char *chain)
{
    if (c->decl_depth < CHG_MAX_DEPTH)
        return false;
    if (!c->decl_reported) {
        char lim[16];
        snprintf(lim, sizeof lim, "%d", CHG_MAX_DEPTH);
        const char *what = chg_arena_printf(&c->arena, "the chain of %s that defines '%s'", chain, d->name.name);
        chg_c_diag_report(c, CHG_D_E0011, d->name.span, what ? what : chain, lim, NULL);
        c->decl_reported = true;
    }
    return true;
}

/* A let is checked on first use, wherever that is (its type is needed
 * there), and then once more by the declaration loop, which finds it done:
 * state 0 unchecked, 1 being checked, 2 done. Meeting a let in state 1
 * means it is defined through itself (E0118).
 *
 * Checking a let inside the let that names it is recursion the parser's
 * depth limit does not bound: each let is shallow, but a chain of 100000
 * lets, each naming the next, would overflow the C stack. The chain is
 * cut at CHG_MAX_DEPTH (E0011, reported once), which also bounds how deep
 * the VM's LET frames can nest at run time. */
static chg_type *check_let(chg_compiler *c, chg_decl *d)
{
    if (d->state == 2)
        return d->type;
    if (d->state == 1) {
        chg_c_diag_report(c, CHG_D_E0118, d->name.span, d->name.name, NULL);
        d->state = 2;
        d->type = &chg_c_type_error;
        return d->type;
    }
    if (decl_too_deep(c, d, "lets")) {
        d->state = 2;
        d->type = &chg_c_type_error;
        return d->type;
    }
    d->state = 1;
    cx x = context(c, d->file, CX_CHANGE | CX_NOW | CX_RISK | CX_QUERY, "let");
    c->decl_depth++;
    chg_type *t = check(&x, d->u.let.expr);
    c->decl_depth--;
    if (t->kind == T_TIMESET) {
        chg_diag *dg = chg_c_diag_report(c, CHG_D_E0105, d->u.let.expr->span,
                                       chg_c_span_text(c, d->u.let.expr->span), "a time set", "a value", NULL);
        chg_c_diag_help(c, dg, "name a time set with 'window' or 'freeze'; test membership with 'now in …'");
        t = &chg_c_type_error;
    }
    if (d->state == 2) /* a cycle was reported through us */
        return d->type;
    d->type = t;
    d->uses_risk = (x.uses & CX_RISK) != 0;
    d->state = 2;
    return t;
}

/* ---- schema ------------------------------------------------------------------------------------ */

static chg_type *build_type(chg_compiler *c, chg_typeexpr *te, const char *path);

/* Does a literal default value fit its field's type? Defaults are
 * literals (build_object refuses anything else), so fitting is
 * structural and needs no context: the decoder supplies the literal for
 * the field when it is absent, and this guarantees the value has the
 * field's type. An int literal fits a float field (ints widen). */
static bool default_fits(const chg_type *t, const chg_expr *v)
{
    if (t->kind == T_ERROR || t->kind == T_ANY)
        return true;
    if (t->kind == T_OPTIONAL)
        return v->kind == EX_NULL || default_fits(t->u.elem, v);
    switch (v->kind) {
    case EX_BOOL: return t->kind == T_BOOL;
    case EX_INT: return t->kind == T_INT || t->kind == T_FLOAT;
    case EX_FLOAT: return t->kind == T_FLOAT;
    case EX_STRING:
        return t->kind == T_STRING ||
               (t->kind == T_ENUM && chg_c_type_enum_index(t, v->u.str.s, v->u.str.len) >= 0);
    case EX_DURATION: return t->kind == T_DURATION;
    case EX_INSTANT: return t->kind == T_TIME;
    case EX_LIST:
        if (t->kind != T_LIST)
            return false;
        for (uint32_t i = 0; i < v->u.list.n; i++)
            if (!default_fits(t->u.elem, v->u.list.items[i]))
                return false;
        return true;
    default: return false;
    }
}

/*
 * Fields keep declaration order, which is the order messages list them
 * in and codegen lays out their paths. A duplicate is reported and skipped, so the
 * object never has two fields of one name and chg_c_type_field_find can
 * stop at the first match. The array gets n + 1 entries so that n == 0
 * still allocates. Defaults are checked in an empty context (allow 0): a
 * default may not read `change` or `now`, which do not exist yet when the
 * default is applied.
 */
static chg_type *build_object(chg_compiler *c, chg_field_decl *fields, uint32_t n, const char *path)
{
    chg_type *t = chg_arena_alloc(&c->arena, sizeof *t);
    chg_type_field *tfields = chg_arena_alloc(&c->arena, sizeof(chg_type_field) * (n + 1));
    if (!t || !tfields)
        return &chg_c_type_error; /* out of memory: the arena's flag ends the check */
    t->kind = T_OBJECT;
    t->u.obj.fields = tfields;
    for (uint32_t i = 0; i < n; i++) {
        chg_field_decl *f = &fields[i];
        bool dup = false;
        for (uint32_t k = 0; k < i; k++)
            if (strcmp(fields[k].name.name, f->name.name) == 0) {
                chg_diag *d = chg_c_diag_report(c, CHG_D_E0111, f->name.span, f->name.name, NULL);
                chg_c_diag_note(c, d, fields[k].name.span, "first declared here");
                dup = true;
            }
        if (dup)
            continue;
        const char *sub = chg_arena_printf(&c->arena, "%s.%s", path, f->name.name);
        chg_type_field *tf = &t->u.obj.fields[t->u.obj.n++];
        tf->name = f->name.name;
        tf->type = build_type(c, f->type, sub);
        tf->span = f->name.span;
        tf->dflt = f->dflt;
        if (f->dflt) {
            cx x = context(c, f->name.span.file, 0, "a default");
            chg_type *dt = check(&x, f->dflt);
            bool literal = f->dflt->kind == EX_NULL || f->dflt->kind == EX_BOOL || f->dflt->kind == EX_INT ||
                           f->dflt->kind == EX_FLOAT || f->dflt->kind == EX_STRING ||
                           f->dflt->kind == EX_DURATION || f->dflt->kind == EX_INSTANT ||
                           f->dflt->kind == EX_LIST;
            if (!is_err(dt) && !literal)
                chg_c_diag_report(c, CHG_D_E0510, f->dflt->span, "a default value", NULL);
            else if (!is_err(dt) && !default_fits(tf->type, f->dflt))
                chg_c_diag_report(c, CHG_D_E0211, f->dflt->span, f->name.name, tstr(&x, tf->type),
                                tstr(&x, dt), NULL);
        }
    }
    return t;
}

/* The schema's type language. Named types are the six scalars only;
 * there are no user type names, so a misspelt scalar is the only way to
 * get E0109 and the suggestion list is exactly the six. Duplicate enum
 * values are dropped after reporting, so the value list has no repeats
 * and chg_c_type_enum_index is a plain first-match search. */
static chg_type *build_type(chg_compiler *c, chg_typeexpr *te, const char *path)
{
    switch (te->kind) {
    case TE_NAMED: {
        static const char *const names[] = {"string", "int", "float", "bool", "time", "duration"};
        static chg_type *const types[] = {&chg_c_type_string, &chg_c_type_int, &chg_c_type_float,
                                          &chg_c_type_bool, &chg_c_type_time, &chg_c_type_duration};
        for (size_t i = 0; i < CHG_ARRAY_LEN(names); i++)
            if (strcmp(te->u.named.name, names[i]) == 0)
                return types[i];
        chg_diag *d = chg_c_diag_report(c, CHG_D_E0109, te->span, te->u.named.name, NULL);
        chg_c_diag_suggest(c, d, te->u.named.name, names, CHG_ARRAY_LEN(names));
        if (d && !d->help)
            chg_c_diag_help(c, d, "types are string, int, float, bool, time, duration, enum(…), [T], { … } and T?");
        return &chg_c_type_error;
    }
    case TE_ENUM: {
        chg_type *t = chg_arena_alloc(&c->arena, sizeof *t);
        const char **values = chg_arena_alloc(&c->arena, sizeof(char *) * (te->u.enm.n + 1));
        if (!t || !values)
            return &chg_c_type_error;
        t->kind = T_ENUM;
        t->u.enm.values = values;
        for (uint32_t i = 0; i < te->u.enm.n; i++) {
            bool dup = false;
            for (uint32_t k = 0; k < i; k++)
                if (strcmp(te->u.enm.values[k].name, te->u.enm.values[i].name) == 0) {
                    chg_c_diag_report(c, CHG_D_E0218, te->u.enm.values[i].span, te->u.enm.values[i].name, NULL);
                    dup = true;
                }
            if (!dup)
                t->u.enm.values[t->u.enm.n++] = te->u.enm.values[i].name;
        }
        return t;
    }
    case TE_LIST: return chg_c_type_list(&c->arena, build_type(c, te->u.elem, path));
    case TE_OPTIONAL: return chg_c_type_optional(&c->arena, build_type(c, te->u.elem, path));
    case TE_OBJECT: return build_object(c, te->u.object.fields, te->u.object.n, path);
    }
    return &chg_c_type_error;
}

/* Without a schema `change` is `any` and every field access is checked
 * at run time; with a schema of the wrong root name it is `any` too, so
 * the one error does not turn every later `change.x` into another. */
static void build_schema(chg_compiler *c)
{
    c->change_type = &chg_c_type_any;
    chg_decl *s = c->schema;
    if (!s)
        return;
    if (strcmp(s->u.schema.root.name, "change") != 0) {
        chg_diag *d = chg_c_diag_report(c, CHG_D_E0124, s->u.schema.root.span, s->u.schema.root.name, NULL);
        chg_c_diag_help(c, d, "write 'schema change { … }'");
        return;
    }
    c->change_type = build_object(c, s->u.schema.fields, s->u.schema.n, "change");
}

/* ---- time sets ---------------------------------------------------------------------------------- */

static void check_ts_decl(chg_compiler *c, chg_decl *d);

/* 24:00 is accepted only as an end ("until midnight"); as a start it
 * would name the next day's 00:00. *minutes is -1 after an error so the
 * caller can skip the comparison of start and end. */
static void bad_time_of_day(cx *x, chg_ident *t, int *minutes, bool end)
{
    if (chg_c_parse_time_of_day(t->name, minutes) != CHG_OK || (!end && *minutes == 1440)) {
        chg_diag *d = chg_c_diag_report(x->c, CHG_D_E0403, t->span, t->name, NULL);
        chg_c_diag_help(x->c, d, "times of day are HH:MM from 00:00 to 23:59 (24:00 only as an end)");
        *minutes = -1;
    }
}

/*
 * Time sets are checked as far as the compiler can: references resolve
 * to windows or freezes (never lets: a let is a value, not a set), days,
 * months and times of day are valid, ranges are non-empty, durations
 * positive. Cron and calendars are validated by the time library itself
 * (chg_c_check_cron, chg_c_check_calendar), so the compiler accepts
 * exactly what the VM's library will build. Whether a set is ever
 * non-empty, and DST effects, belong to the time analysis that runs
 * later (timesets.c), which needs every set checked first.
 */
static void check_ts(cx *x, chg_tsexpr *t)
{
    chg_compiler *c = x->c;
    chg_c_check_zone(c, &t->zone);
    switch (t->kind) {
    case TS_ERROR:
        return;
    case TS_REF: {
        chg_decl *d = chg_c_map_get(&c->globals, t->u.ref.name.name);
        if (!d) {
            chg_diag *dg = chg_c_diag_report(c, CHG_D_E0101, t->u.ref.name.span, t->u.ref.name.name, NULL);
            chg_vec names;
            chg_vec_init(&names);
            for (size_t i = 0; i < c->globals.cap; i++) {
                chg_decl *g = c->globals.e[i].value;
                if (c->globals.e[i].key && (g->kind == D_WINDOW || g->kind == D_FREEZE))
                    if (chg_vec_push(&names, (void *)c->globals.e[i].key) != CHG_OK)
                        chg_c_nomem(c);
            }
            chg_c_diag_suggest(c, dg, t->u.ref.name.name, (const char *const *)names.items, names.len);
            chg_vec_free(&names);
            return;
        }
        if (d->kind != D_WINDOW && d->kind != D_FREEZE) {
            chg_c_diag_report(c, CHG_D_E0105, t->u.ref.name.span, t->u.ref.name.name,
                            d->kind == D_RISK ? "a risk class" : "a let", "a window or freeze", NULL);
            return;
        }
        if (!chg_c_visible(c, x->file, d->file)) {
            chg_c_diag_report(c, CHG_D_E0119, t->u.ref.name.span, t->u.ref.name.name,
                            chg_arena_printf(&c->arena, "it is declared in %s, which this file does not import",
                                             chg_compiler_source(c, d->file)->path),
                            NULL);
            return;
        }
        d->used = true;
        t->u.ref.decl = d;
        check_ts_decl(c, d);
        return;
    }
    case TS_CRON:
    case TS_RATE:
    case TS_AT: {
        chg_expr *dur = t->u.cron.dur;
        if (dur->kind == EX_ERROR)
            break;
        if (dur->kind != EX_DURATION) {
            chg_diag *d = chg_c_diag_report(c, CHG_D_E0201, dur->span, "duration", "int", NULL);
            chg_c_diag_help(c, d, "write the unit: for 6h, for 30m");
        } else if (dur->u.i <= 0)
            chg_c_diag_report(c, CHG_D_E0406, dur->span, "'for'", NULL);
        chg_c_check_sched(c, t);
        break;
    }
    case TS_WEEKLY:
        for (uint32_t i = 0; i < t->u.weekly.ndays; i++) {
            chg_dayspec *ds = &t->u.weekly.days[i];
            chg_ident *ids[2] = {&ds->from, &ds->to};
            int *out[2] = {&ds->from_day, &ds->to_day};
            for (int k = 0; k < 2; k++) {
                if (!ids[k]->name)
                    continue;
                *out[k] = chg_c_day_index(ids[k]->name);
                if (*out[k] < 0) {
                    const char *days[14]; /* short names, then full ones */
                    for (int w = 0; w < 7; w++) {
                        days[w] = chg_weekday_names[w].abbr;
                        days[7 + w] = chg_weekday_names[w].full;
                    }
                    chg_diag *d = chg_c_diag_report(c, CHG_D_E0107, ids[k]->span, ids[k]->name, NULL);
                    chg_c_diag_suggest(c, d, ids[k]->name, days, CHG_ARRAY_LEN(days));
                }
            }
            if (!ds->to.name)
                ds->to_day = ds->from_day;
        }
        /* fall through */
    case TS_DAILY: {
        int a, b;
        bad_time_of_day(x, &t->u.weekly.from, &a, false);
        bad_time_of_day(x, &t->u.weekly.to, &b, true);
        /* 02:00..02:00 is refused rather than read as empty or as 24
         * hours: either reading surprises half of the people who write it */
        if (a >= 0 && b >= 0 && a == b) {
            chg_diag *d = chg_c_diag_report(c, CHG_D_E0530, t->span,
                                          chg_arena_printf(&c->arena, "%s..%s", t->u.weekly.from.name,
                                                           t->u.weekly.to.name),
                                          NULL);
            chg_c_diag_help(c, d, "write 00:00..24:00 for whole days; an end before the start crosses midnight "
                                  "(22:00..06:00)");
        }
        break;
    }
    case TS_RANGE: {
        chg_expr *a = t->u.range.from, *b = t->u.range.to;
        if (t->zone.name) {
            chg_expr *zoned = a->kind == EX_INSTANT ? a : b->kind == EX_INSTANT ? b : NULL;
            if (zoned)
                chg_c_diag_report(c, CHG_D_E0408, zoned->span, chg_c_span_text(c, zoned->span), t->zone.name, NULL);
        }
        if (a->kind == b->kind && b->u.i <= a->u.i)
            chg_c_diag_report(c, CHG_D_E0404, t->span,
                            chg_arena_printf(&c->arena, "range %s .. %s", chg_c_span_text(c, a->span),
                                             chg_c_span_text(c, b->span)),
                            NULL);
        break;
    }
    case TS_YEARLY: {
        chg_ident *m[2] = {&t->u.yearly.from_mon, &t->u.yearly.to_mon};
        chg_expr *dd[2] = {t->u.yearly.from_day, t->u.yearly.to_day};
        for (int k = 0; k < 2; k++) {
            int mi = chg_c_month_index(m[k]->name);
            if (mi < 1) {
                const char *months[24]; /* short names, then full ones */
                for (int i = 0; i < 12; i++) {
                    months[i] = chg_month_names[i].abbr;
                    months[12 + i] = chg_month_names[i].full;
                }
                chg_diag *d = chg_c_diag_report(c, CHG_D_E0108, m[k]->span, m[k]->name, NULL);
                chg_c_diag_suggest(c, d, m[k]->name, months, CHG_ARRAY_LEN(months));
                continue;
            }
            int64_t day = dd[k]->u.i;
            if (day < 1 || day > chg_days_in_month(2000, mi)) /* 2000: leap, so Feb 29 is allowed */
                chg_c_diag_report(c, CHG_D_E0407, dd[k]->span, chg_c_span_text(c, dd[k]->span),
                                chg_month_names[mi - 1].full, NULL);
        }
        break;
    }
    case TS_CALENDAR: {
        /* Read the calendar now: the bundle carries its text, so a built
         * policy does not depend on files next to it. */
        const char *text;
        size_t len;
        if (chg_c_read_relative_once(c, &c->calendar_texts, x->file, t->u.cal.path.name, t->u.cal.path.span,
                                     CHG_D_E0304, "calendars", &text, &len) != CHG_OK)
            break;
        t->u.cal.text = text;
        t->u.cal.len = len;
        chg_c_check_calendar(c, t);
        break;
    }
    case TS_FLAG:
        if (!t->u.flag.name[0])
            chg_c_diag_report(c, CHG_D_E0510, t->u.flag.span, "a non-empty flag name", NULL);
        else if (chg_c_map_put(&c->flags_read, t->u.flag.name, (void *)t) != CHG_OK)
            chg_c_nomem(c);
        break;
    case TS_OR:
    case TS_AND:
        check_ts(x, t->u.bin.a);
        check_ts(x, t->u.bin.b);
        break;
    case TS_NOT:
        check_ts(x, t->u.not_);
        break;
    }
}

/* The nodes a set has once its references are written out, as
 * chg_c_ts_flatten will write them: references are copied, not shared, so
 * `w0 = w1 or w1`, `w1 = w2 or w2`, … doubles at each level. Counted with
 * a memo per declaration (each is counted once: linear in the source) and
 * capped just past the limit, so the count itself cannot overflow. */
typedef struct ts_size {
    uint32_t nodes, depth;
} ts_size;

static ts_size ts_count(const chg_tsexpr *t);

/* E0410: the set, written out as codegen will write it, must fit the
 * bundle (CHG_TS_MAX_NODES nodes) and the time library
 * (CHG_TIMESET_MAX_DEPTH levels); check fails here exactly where build
 * and load would. */
static void check_ts_size(chg_compiler *c, const chg_tsexpr *t, chg_span at, const char *name)
{
    ts_size z = ts_count(t);
    char why[64];
    if (z.nodes > CHG_TS_MAX_NODES)
        snprintf(why, sizeof why, "more than %d nodes", CHG_TS_MAX_NODES);
    else if (z.depth > CHG_TIMESET_MAX_DEPTH)
        snprintf(why, sizeof why, "nested more than %d deep", CHG_TIMESET_MAX_DEPTH);
    else
        return;
    chg_diag *dg = chg_c_diag_report(c, CHG_D_E0410, at, name, why, NULL);
    chg_c_diag_help(c, dg, "each use of a window or freeze copies its definition; name a shared part once "
                           "and use it once, or write the set out plainly");
}

/* The nodes and levels of a set once its references are written out, as
 * chg_c_ts_flatten will write them: references are copied, not shared, so
 * `w0 = w1 or w1`, `w1 = w2 or w2`, … doubles at each level. Counted with
 * a memo per declaration (each is counted once: linear in the source) and
 * capped just past the limits, so the counts cannot overflow. */
static ts_size ts_count(const chg_tsexpr *t)
{
    ts_size z = {0, 0};
    if (!t)
        return z;
    switch (t->kind) {
    case TS_REF: {
        chg_decl *d = t->u.ref.decl;
        if (!d || d->ts_nodes == UINT32_MAX)
            return z; /* unknown, or a cycle (E0409): reported already */
        if (!d->ts_nodes) {
            d->ts_nodes = UINT32_MAX; /* being counted */
            ts_size r = ts_count(d->u.timeset.ts);
            d->ts_nodes = r.nodes + 1; /* + 1: 0 means "not counted" */
            d->ts_depth = r.depth;
        }
        z.nodes = d->ts_nodes - 1;
        z.depth = d->ts_depth;
        return z;
    }
    case TS_OR:
    case TS_AND:
    case TS_NOT: {
        /* an operator node over its operands (NOT has one) */
        ts_size a = ts_count(t->kind == TS_NOT ? t->u.not_ : t->u.bin.a);
        ts_size b = t->kind == TS_NOT ? z : ts_count(t->u.bin.b);
        uint32_t nodes_cap = CHG_TS_MAX_NODES + 1, depth_cap = CHG_TIMESET_MAX_DEPTH + 1;
        uint64_t n = 1 + (uint64_t)a.nodes + b.nodes;
        uint32_t depth = 1 + (a.depth > b.depth ? a.depth : b.depth);
        z.nodes = n > nodes_cap ? nodes_cap : (uint32_t)n;
        z.depth = depth > depth_cap ? depth_cap : depth;
        return z;
    }
    case TS_ERROR: return z;
    default: z.nodes = z.depth = 1; return z;
    }
}

/* Same three states as check_let: a window defined through itself is
 * E0409, and the chain depth is bounded by decl_too_deep. Time sets have
 * no context bits (allow 0): they cannot read the change. */
static void check_ts_decl(chg_compiler *c, chg_decl *d)
{
    if (d->state == 2)
        return;
    if (d->state == 1) {
        chg_c_diag_report(c, CHG_D_E0409, d->name.span, d->name.name, NULL);
        d->state = 2;
        return;
    }
    /* a reference checks the set it names first, as lets do: bounded the
     * same way */
    if (decl_too_deep(c, d, "windows and freezes")) {
        d->state = 2;
        return;
    }
    d->state = 1;
    cx x = context(c, d->file, 0, chg_c_decl_kind_name(d->kind));
    c->decl_depth++;
    check_ts(&x, d->u.timeset.ts);
    c->decl_depth--;
    d->state = 2;
    check_ts_size(c, d->u.timeset.ts, d->name.span, d->name.name);
}

/* ---- approvals -------------------------------------------------------------------------------------- */

/* Limits of one term: 1 to 64 approvers (the evaluator's slot limit,
 * vm/approvals.c), no more people required than listed (the same person
 * approving twice counts once), and a positive `within`. */
static void check_areq(chg_compiler *c, chg_areq *r)
{
    switch (r->kind) {
    case AR_NONE:
        return;
    case AR_AND:
    case AR_OR:
        check_areq(c, r->u.bin.a);
        check_areq(c, r->u.bin.b);
        return;
    default:
        break;
    }
    chg_expr *n = r->u.term.count;
    if (n->u.i < 1 || n->u.i > 64)
        chg_c_diag_report(c, CHG_D_E0501, n->span, chg_c_span_text(c, n->span), NULL);
    else if (r->kind == AR_PEOPLE && (uint64_t)n->u.i > r->u.term.npeople) {
        chg_diag *d = chg_c_diag_report(c, CHG_D_E0514, n->span, chg_c_span_text(c, n->span),
                                      chg_arena_printf(&c->arena, "%u", r->u.term.npeople), NULL);
        chg_c_diag_help(c, d, "approvers are distinct people");
    }
    if (r->kind == AR_GROUP && !r->u.term.group.name[0])
        chg_c_diag_report(c, CHG_D_E0510, r->u.term.group.span, "a non-empty group name", NULL);
    chg_expr *w = r->u.term.within;
    if (w && w->kind != EX_ERROR) {
        if (w->kind != EX_DURATION) {
            chg_diag *d = chg_c_diag_report(c, CHG_D_E0201, w->span, "duration", "int", NULL);
            chg_c_diag_help(c, d, "write the unit: within 72h");
        } else if (w->u.i <= 0)
            chg_c_diag_report(c, CHG_D_E0406, w->span, "'within'", NULL);
    }
}

/* The size of a requirement in the evaluator's terms (vm/approvals.c):
 * conjunctions of its normal form, terms and approver slots in one,
 * nesting depth. Saturating. */
typedef struct areq_size {
    uint64_t clauses, terms, slots, depth;
} areq_size;

static areq_size size_of(const chg_areq *r)
{
    areq_size z = {1, 0, 0, 1};
    if (r->kind == AR_NONE)
        return z;
    if (r->kind != AR_AND && r->kind != AR_OR) {
        z.terms = 1;
        z.slots = r->u.term.count->u.i > 0 ? (uint64_t)r->u.term.count->u.i : 0;
        return z;
    }
    areq_size a = size_of(r->u.bin.a), b = size_of(r->u.bin.b);
    z.depth = 1 + (a.depth > b.depth ? a.depth : b.depth);
    if (r->kind == AR_OR) {
        z.clauses = a.clauses + b.clauses;
        z.terms = a.terms > b.terms ? a.terms : b.terms;
        z.slots = a.slots > b.slots ? a.slots : b.slots;
    } else {
        z.clauses = a.clauses * b.clauses;
        z.terms = a.terms + b.terms;
        z.slots = a.slots + b.slots;
    }
    if (z.clauses > 1000000)
        z.clauses = 1000000;
    return z;
}

/* `a and b` in those terms: what the evaluator builds when it joins the
 * requirements of a decision (the product of their normal forms). */
static areq_size size_and(areq_size a, areq_size b)
{
    areq_size z = {a.clauses * b.clauses, a.terms + b.terms, a.slots + b.slots,
                   1 + (a.depth > b.depth ? a.depth : b.depth)};
    if (z.clauses > 1000000)
        z.clauses = 1000000;
    return z;
}

/* Which limit of the evaluator z exceeds (what, and the limit), or NULL;
 * `one_term`: a single term, whose count E0501 judges. */
static const char *areq_over(chg_compiler *c, areq_size z, bool depth, bool one_term, const char **limit)
{
    if (depth && z.depth > 32)
        return *limit = "32", chg_arena_printf(&c->arena, "nested %llu deep", (unsigned long long)z.depth);
    if (z.clauses > 32)
        return *limit = "32", chg_arena_printf(&c->arena, "%llu ways to satisfy it", (unsigned long long)z.clauses);
    if (z.terms > 16)
        return *limit = "16", chg_arena_printf(&c->arena, "%llu terms to meet at once", (unsigned long long)z.terms);
    if (z.slots > 64 && !one_term)
        return *limit = "64", chg_arena_printf(&c->arena, "%llu approvers needed at once", (unsigned long long)z.slots);
    return NULL;
}

/* A whole requirement (an approvals entry, a rule's) must fit the
 * evaluator: checked here so that it is never an error at run time. */
static const char *areq_alone_over(chg_compiler *c, const chg_areq *r, const char **limit)
{
    return areq_over(c, size_of(r), true, r->kind != AR_AND && r->kind != AR_OR, limit);
}

static void check_areq_size(chg_compiler *c, const chg_areq *r)
{
    const char *limit = NULL;
    const char *what = areq_alone_over(c, r, &limit);
    if (what)
        chg_c_diag_report(c, CHG_D_E0517, r->span, what, limit, NULL);
}

/* A decision needs the class's entry (or the emergency entry) and the
 * requirement of every approval rule that applied, all at once
 * (vm/decide.c joins them, vm/approvals.c evaluates the product). Which
 * rules apply depends on the change, so the bound is for all of them: for
 * each entry (none without an approvals block) the requirements are
 * joined in declaration order, and the rule whose requirement takes the
 * product past a limit is reported (E0609), once. In an emergency only
 * mandatory rules' requirements count. A requirement too large on its own
 * has its E0517 and is left out. */
static void check_combined_approvals(chg_compiler *c)
{
    size_t n = c->all_decls.len;
    bool *reported = chg_arena_alloc(&c->arena, n + 1);
    if (!reported)
        return; /* the arena remembers the failure */
    memset(reported, 0, n + 1);
    if (c->approvals && c->approvals->broken)
        return; /* the syntax error may have swallowed part of an entry */
    uint32_t nentries = c->approvals ? c->approvals->u.approvals.n : 0;
    for (uint32_t k = 0; k < (nentries ? nentries : 1); k++) {
        const chg_approval_entry *e = nentries ? &c->approvals->u.approvals.entries[k] : NULL;
        if (e && !e->req)
            continue;
        areq_size acc = {1, 0, 0, 1};
        const char *limit = NULL;
        if (e) {
            acc = size_of(e->req);
            if (areq_alone_over(c, e->req, &limit))
                continue; /* E0517 */
        }
        uint32_t before = 0;
        for (size_t i = 0; i < n; i++) {
            chg_decl *d = c->all_decls.items[i];
            if (d->kind != D_RULE || d->broken || d->u.rule.action != RA_REQUIRE_APPROVAL || !d->u.rule.req)
                continue;
            if (e && e->is_emergency && d->u.rule.level != LEVEL_MANDATORY)
                continue; /* not required in an emergency */
            areq_size r = size_of(d->u.rule.req);
            if (areq_alone_over(c, d->u.rule.req, &limit))
                continue; /* E0517 */
            areq_size next = size_and(acc, r);
            const char *what = areq_over(c, next, false, false, &limit);
            if (!what) {
                acc = next;
                before++;
                continue;
            }
            if (!reported[i]) {
                reported[i] = true;
                const char *with = chg_arena_printf(
                    &c->arena, "%s%s%s%s%s", e ? (e->is_emergency ? "the emergency entry" : "the entry for '") : "",
                    e && !e->is_emergency ? e->cls.name : "", e && !e->is_emergency ? "'" : "",
                    e && before ? " and " : "",
                    before ? chg_arena_printf(&c->arena, "the %u approval rule%s before it", before, before > 1 ? "s" : "")
                           : "");
                const char *rule = chg_arena_printf(&c->arena, "the requirement of rule '%s'", d->name.name);
                chg_diag *dg = chg_c_diag_report(c, CHG_D_E0609, d->u.rule.req->span, rule, with, what, limit, NULL);
                if (e)
                    chg_c_diag_note(c, dg, e->cls.span, "the entry is here");
            }
            break;
        }
    }
}

/*
 * Every risk class must have an entry (E0502), so that a decision never
 * meets a class with no requirement; the check is skipped for a broken
 * block, where the missing entry is usually the one the syntax error
 * swallowed. The class index is stored in the entry so codegen need not
 * look the name up. `emergency` is not a class and is accepted without
 * lookup; it is offered among the suggestions for that reason.
 */
/* limits { steps: N, regex_steps: N, scratch: N }: each budget at most
 * once, a whole number from 1 to what the bundle format allows. */
static void check_limits(chg_compiler *c, chg_decl *d)
{
    static const char *const names[] = {"steps", "regex_steps", "scratch"};
    static const uint64_t max[] = {CHG_MAX_STEPS, CHG_MAX_REGEX_STEPS, CHG_MAX_SCRATCH};
    if (!d)
        return;
    bool seen[3] = {false, false, false};
    for (uint32_t i = 0; i < d->u.limits.n; i++) {
        const chg_object_field *f = &d->u.limits.fields[i];
        int k = -1;
        for (int j = 0; j < 3; j++)
            if (strcmp(f->key.name, names[j]) == 0)
                k = j;
        if (k < 0) {
            chg_diag *dg = chg_c_diag_report(c, CHG_D_E0121, f->key.span, "limits", f->key.name, NULL);
            chg_c_diag_suggest(c, dg, f->key.name, names, 3);
            continue;
        }
        if (seen[k]) {
            chg_c_diag_report(c, CHG_D_E0111, f->key.span, f->key.name, NULL);
            continue;
        }
        seen[k] = true;
        const chg_expr *v = f->value;
        if (v->kind != EX_INT || v->u.i < 1 || (uint64_t)v->u.i > max[k]) {
            char hi[32];
            snprintf(hi, sizeof hi, "%llu", (unsigned long long)max[k]);
            chg_diag *dg = chg_c_diag_report(c, CHG_D_E0518, v->span, f->key.name, hi, NULL);
            if (k == 2)
                chg_c_diag_help(c, dg, "scratch is in bytes: 16 MiB is 16777216");
            continue;
        }
        c->limit[k] = (uint64_t)v->u.i;
    }
}

/* The field path below `change` of e (`change.a.b` gives "a.b"), or
 * NULL when e is not such a path. */
static const char *change_path(chg_compiler *c, const chg_expr *e)
{
    size_t len = 0, depth = 0;
    const chg_expr *k = e;
    for (; k->kind == EX_FIELD; k = k->u.field.obj, depth++)
        len += strlen(k->u.field.field.name) + 1;
    if (k->kind != EX_NAME || strcmp(k->u.name.name, "change") != 0 || depth == 0)
        return NULL;
    char *out = chg_arena_alloc(&c->arena, len);
    if (!out)
        return NULL;
    size_t at = len - 1;
    out[at] = '\0';
    for (k = e; k->kind == EX_FIELD; k = k->u.field.obj) {
        size_t n = strlen(k->u.field.field.name);
        at -= n;
        memcpy(out + at, k->u.field.field.name, n);
        if (at > 0)
            out[--at] = '.';
    }
    return out;
}

/* concurrency NAME = N of any|risk >= CLASS [per change.FIELD]: N from 1
 * to CHG_MAX_CONCURRENCY, a risk class of the policy, and a field of the
 * change whose values can be told apart exactly (string, enum, int,
 * bool; optional allowed: a change without it is grouped under null). */
static void check_concurrency(chg_compiler *c, chg_decl *d)
{
    if (d->u.concurrency.max < 1 || d->u.concurrency.max > CHG_MAX_CONCURRENCY) {
        char hi[24], n[24];
        snprintf(hi, sizeof hi, "%d", CHG_MAX_CONCURRENCY);
        snprintf(n, sizeof n, "%lld", (long long)d->u.concurrency.max);
        chg_c_diag_report(c, CHG_D_E0710, d->u.concurrency.max_span, hi, n, NULL);
    }
    chg_ident cls = d->u.concurrency.min_risk;
    chg_decl *risk = c->risk;
    if (cls.name && !risk) {
        chg_c_diag_report(c, CHG_D_E0115, cls.span, "a concurrency limit by risk", NULL);
    } else if (cls.name) {
        chg_decl *k = chg_c_map_get(&c->globals, cls.name);
        if (!k || k->kind != D_RISK) {
            chg_diag *dg = chg_c_diag_report(c, CHG_D_E0103, cls.span, cls.name, NULL);
            const char **names = chg_arena_alloc(&c->arena, sizeof(char *) * (risk->u.risk.n + 1));
            for (uint32_t i = 0; names && i < risk->u.risk.n; i++)
                names[i] = risk->u.risk.classes[i].name;
            if (names)
                chg_c_diag_suggest(c, dg, cls.name, names, risk->u.risk.n);
        } else
            d->u.concurrency.risk_index = k->index;
    }
    chg_expr *per = d->u.concurrency.per;
    if (!per)
        return;
    const char *path = change_path(c, per);
    if (!path) {
        chg_c_diag_report(c, CHG_D_E0712, per->span, chg_c_span_text(c, per->span), NULL);
        return;
    }
    cx x = context(c, d->file, CX_CHANGE, "concurrency");
    chg_type *t = check(&x, per);
    if (is_err(t))
        return; /* an unknown field: E0104 names it */
    if (t->kind == T_OPTIONAL)
        t = t->u.elem;
    if (t->kind != T_ANY && t->kind != T_STRING && t->kind != T_ENUM && t->kind != T_INT && t->kind != T_BOOL) {
        chg_c_diag_report(c, CHG_D_E0713, per->span, chg_c_span_text(c, per->span), tstr(&x, per->type), NULL);
        return;
    }
    d->u.concurrency.path = path;
}

static void check_approvals(chg_compiler *c, chg_decl *ap)
{
    chg_decl *risk = c->risk;
    if (!risk) {
        chg_span at = {ap->span.file, ap->span.start, ap->span.start + 9};
        chg_c_diag_report(c, CHG_D_E0115, at, "approvals", NULL);
    }
    for (uint32_t i = 0; i < ap->u.approvals.n; i++) {
        chg_approval_entry *e = &ap->u.approvals.entries[i];
        check_areq(c, e->req);
        check_areq_size(c, e->req);
        for (uint32_t k = 0; k < i; k++)
            if (strcmp(ap->u.approvals.entries[k].cls.name, e->cls.name) == 0) {
                chg_diag *d = chg_c_diag_report(c, CHG_D_E0125, e->cls.span, e->cls.name, NULL);
                chg_c_diag_note(c, d, ap->u.approvals.entries[k].cls.span, "first given here");
            }
        if (e->is_emergency || !risk)
            continue;
        chg_decl *cls = chg_c_map_get(&c->globals, e->cls.name);
        if (!cls || cls->kind != D_RISK) {
            chg_diag *d = chg_c_diag_report(c, CHG_D_E0103, e->cls.span, e->cls.name, NULL);
            const char **names = chg_arena_alloc(&c->arena, sizeof(char *) * (risk->u.risk.n + 1));
            if (names) {
                for (uint32_t k = 0; k < risk->u.risk.n; k++)
                    names[k] = risk->u.risk.classes[k].name;
                names[risk->u.risk.n] = "emergency";
                chg_c_diag_suggest(c, d, e->cls.name, names, risk->u.risk.n + 1);
            }
            continue;
        }
        e->risk_index = cls->index;
    }
    if (!risk || ap->broken)
        return;
    for (uint32_t k = 0; k < risk->u.risk.n; k++) {
        bool found = false;
        for (uint32_t i = 0; i < ap->u.approvals.n; i++)
            if (strcmp(ap->u.approvals.entries[i].cls.name, risk->u.risk.classes[k].name) == 0)
                found = true;
        if (!found) {
            chg_span at = {ap->span.file, ap->span.start, ap->span.start + 9};
            chg_diag *d = chg_c_diag_report(c, CHG_D_E0502, at, risk->u.risk.classes[k].name, NULL);
            chg_c_diag_help(c, d, "write '%s => none' if it needs no approval", risk->u.risk.classes[k].name);
        }
    }
}

/* What approvals read of the change must have the shape they expect:
 * change.approvals a list of { by: string, group: string, at: time,
 * decision: string }, change.requester.name a string, change.emergency a
 * bool. Fields may be optional; approvals missing from the schema are
 * fine (no approvals, no requester). */
static void check_approval_schema(chg_compiler *c, bool emergency)
{
    const chg_type *ct = chg_c_type_strip(c->change_type);
    if (ct->kind != T_OBJECT)
        return;
    static const char *const list_shape = "a list of { by: string, group: string, at: time, decision: string }";
    const chg_type_field *f = chg_c_type_field_find(ct, "approvals");
    if (f) {
        const chg_type *t = chg_c_type_strip(f->type);
        const chg_type *e = t->kind == T_LIST ? chg_c_type_strip(t->u.elem) : NULL;
        bool ok = e && e->kind == T_OBJECT;
        static const char *const names[] = {"by", "group", "at", "decision"};
        for (int i = 0; ok && i < 4; i++) {
            const chg_type_field *g = chg_c_type_field_find(e, names[i]);
            const chg_type *gt = g ? chg_c_type_strip(g->type) : NULL;
            if (!g)
                ok = i != 0 && i != 2; /* by and at are needed */
            else if (i == 2)
                ok = gt->kind == T_TIME || gt->kind == T_STRING;
            else
                ok = gt->kind == T_STRING || gt->kind == T_ENUM || gt->kind == T_ANY;
        }
        if (!ok)
            chg_c_diag_report(c, CHG_D_E0516, f->span, "change.approvals", chg_c_type_str(&c->arena, f->type),
                            list_shape, NULL);
    }
    f = chg_c_type_field_find(ct, "requester");
    if (f && chg_c_type_strip(f->type)->kind != T_ANY) {
        const chg_type *t = chg_c_type_strip(f->type);
        const chg_type_field *n = t->kind == T_OBJECT ? chg_c_type_field_find(t, "name") : NULL;
        if (!n || chg_c_type_strip(n->type)->kind != T_STRING)
            chg_c_diag_report(c, CHG_D_E0516, f->span, "change.requester.name", chg_c_type_str(&c->arena, f->type),
                            "an object with name: string", NULL);
    }
    f = chg_c_type_field_find(ct, "emergency");
    if (emergency && f && chg_c_type_strip(f->type)->kind != T_BOOL)
        chg_c_diag_report(c, CHG_D_E0516, f->span, "change.emergency", chg_c_type_str(&c->arena, f->type), "bool",
                        NULL);
}

/* ---- classify ---------------------------------------------------------------------------------------- */

/*
 * Arms are checked in order, so "unreachable after default" (W0004) and
 * "same condition twice" (W0005) can be found in the same pass. Duplicate
 * conditions are compared by their source text: cheap, and exact for the
 * case it targets (copy and paste); semantically equal conditions written
 * differently are not found, which only costs a missed warning. Classify
 * may not read `risk` (it computes it), hence the context without CX_RISK.
 * `produced` marks classes some arm yields, for the unused-class lint.
 */
static void check_classify(chg_compiler *c, chg_decl *cl)
{
    if (!c->risk) {
        chg_span at = {cl->span.file, cl->span.start, cl->span.start + 8};
        chg_c_diag_report(c, CHG_D_E0115, at, "classify", NULL);
    }
    bool seen_default = false;
    for (uint32_t i = 0; i < cl->u.classify.n; i++) {
        chg_classify_arm *arm = &cl->u.classify.arms[i];
        if (seen_default && c->opts.lints)
            chg_c_diag_report(c, CHG_D_W0004, arm->span, NULL);
        if (arm->is_default)
            seen_default = true;
        if (c->risk) {
            chg_decl *cls = chg_c_map_get(&c->globals, arm->cls.name);
            if (!cls || cls->kind != D_RISK) {
                chg_diag *d = chg_c_diag_report(c, CHG_D_E0103, arm->cls.span, arm->cls.name, NULL);
                chg_decl *r = c->risk;
                const char **names = chg_arena_alloc(&c->arena, sizeof(char *) * (r->u.risk.n + 1));
                for (uint32_t k = 0; names && k < r->u.risk.n; k++)
                    names[k] = r->u.risk.classes[k].name;
                chg_c_diag_suggest(c, d, arm->cls.name, names, names ? r->u.risk.n : 0);
            } else {
                arm->risk_index = cls->index;
                cls->produced = true;
            }
        }
        if (arm->cond) {
            cx x = context(c, cl->file, CX_CHANGE | CX_NOW | CX_QUERY, "classify");
            expect_type(&x, arm->cond, &chg_c_type_bool, "a classify condition");
            if (c->opts.lints)
                for (uint32_t k = 0; k < i; k++) {
                    chg_classify_arm *prev = &cl->u.classify.arms[k];
                    if (prev->cond && strcmp(chg_c_span_text(c, prev->cond->span), chg_c_span_text(c, arm->cond->span)) == 0) {
                        chg_diag *d = chg_c_diag_report(c, CHG_D_W0005, arm->span, NULL);
                        chg_c_diag_note(c, d, prev->span, "the same condition is tested here first");
                        break;
                    }
                }
        }
    }
    if (!seen_default && !cl->broken) {
        chg_span at = {cl->span.file, cl->span.start, cl->span.start + 8};
        chg_diag *d = chg_c_diag_report(c, CHG_D_E0114, at, NULL);
        chg_c_diag_help(c, d, "end classify with 'default CLASS': every change needs a risk class");
    }
}

/* ---- rules, actions, intakes, tests --------------------------------------------------------------------- */

static void check_message(cx *x, chg_expr *m)
{
    if (m)
        expect_type(x, m, &chg_c_type_string, "a message");
}

/*
 * The `when` facts are installed in the context for the rest of the rule,
 * not only for one expression: the message of `deny when x != null "…{x}"`
 * runs only when the condition held. `freeze` becomes visible to the
 * message only once the `during` sets are checked, because only a deny
 * during a freeze has a freeze to name.
 */
static void check_rule(chg_compiler *c, chg_decl *d)
{
    unsigned base = CX_CHANGE | CX_NOW | CX_RISK | CX_QUERY;
    cx x = context(c, d->file, base, "rule");
    fact *f = NULL;
    if (d->u.rule.when) {
        expect_type(&x, d->u.rule.when, &chg_c_type_bool, "a rule condition");
        facts_when(&x, d->u.rule.when, true, &f);
    }
    x.facts = f;
    if (d->u.rule.level == LEVEL_ADVISORY && d->u.rule.action != RA_WARN && d->u.rule.action != RA_ERROR) {
        chg_diag *dg = chg_c_diag_report(c, CHG_D_E0515, d->u.rule.action_span, d->name.name, NULL);
        chg_c_diag_help(c, dg, "advisory rules only warn; make it mandatory or overridable to block");
    }
    switch (d->u.rule.action) {
    case RA_REQUIRE_WINDOW: {
        chg_ident *w = &d->u.rule.window;
        chg_decl *wd = chg_c_map_get(&c->globals, w->name);
        if (!wd) {
            chg_diag *dg = chg_c_diag_report(c, CHG_D_E0101, w->span, w->name, NULL);
            chg_vec names;
            chg_vec_init(&names);
            for (size_t i = 0; i < c->globals.cap; i++)
                if (c->globals.e[i].key && ((chg_decl *)c->globals.e[i].value)->kind == D_WINDOW)
                    if (chg_vec_push(&names, (void *)c->globals.e[i].key) != CHG_OK)
                        chg_c_nomem(c);
            chg_c_diag_suggest(c, dg, w->name, (const char *const *)names.items, names.len);
            chg_vec_free(&names);
        } else if (wd->kind != D_WINDOW) {
            chg_diag *dg = chg_c_diag_report(c, CHG_D_E0105, w->span, w->name,
                                           wd->kind == D_FREEZE ? "a freeze" : wd->kind == D_RISK ? "a risk class" : "a let",
                                           "a window", NULL);
            if (wd->kind == D_FREEZE)
                chg_c_diag_help(c, dg, "to block during a freeze write 'deny during %s'", w->name);
        } else if (!chg_c_visible(c, d->file, wd->file)) {
            chg_c_diag_report(c, CHG_D_E0119, w->span, w->name,
                            chg_arena_printf(&c->arena, "it is declared in %s, which this file does not import",
                                             chg_compiler_source(c, wd->file)->path), NULL);
        } else {
            wd->used = true;
            d->u.rule.window_decl = wd;
            check_ts_decl(c, wd);
        }
        break;
    }
    case RA_REQUIRE_APPROVAL:
        check_areq(c, d->u.rule.req);
        check_areq_size(c, d->u.rule.req);
        break;
    case RA_DENY:
        for (uint32_t i = 0; i < d->u.rule.nduring; i++) {
            chg_tsexpr *t = d->u.rule.during[i];
            check_ts(&x, t);
            if (t->kind != TS_REF) { /* written inside the rule: a set of its own (codegen names it so) */
                char *name = chg_arena_printf(&c->arena, "%s#%u", d->name.name, i + 1);
                check_ts_size(c, t, t->span, name ? name : d->name.name);
            }
        }
        if (d->u.rule.nduring)
            x.allow |= CX_FREEZEVAR;
        check_message(&x, d->u.rule.message);
        if (!d->u.rule.message && c->opts.lints) {
            chg_diag *dg = chg_c_diag_report(c, CHG_D_W0007, d->name.span, d->name.name, NULL);
            chg_c_diag_help(c, dg, "add a message after deny: deny \"why, and what to do instead\"");
        }
        break;
    case RA_WARN:
        check_message(&x, d->u.rule.message);
        break;
    case RA_ERROR:
        break;
    }
}

/* Actions may read everything a rule may plus `reason` and `summary`
 * (the decision's texts, known when actions run). Each entry after `do`
 * must be a call in action position; anything else was parsed as an
 * expression and is reported here, where its span is known. */
static void check_on(chg_compiler *c, chg_decl *d)
{
    static const char *const outcomes[] = {"allow", "deny", "defer", "pending", "error", "emergency"};
    const char *o = d->u.on.outcome.name;
    bool known = false;
    for (size_t i = 0; i < CHG_ARRAY_LEN(outcomes); i++)
        known |= strcmp(o, outcomes[i]) == 0;
    if (!known) {
        chg_diag *dg = chg_c_diag_report(c, CHG_D_E0117, d->u.on.outcome.span, o, NULL);
        chg_c_diag_suggest(c, dg, o, outcomes, CHG_ARRAY_LEN(outcomes));
        if (dg && !dg->help)
            chg_c_diag_help(c, dg, "outcomes are allow, deny, defer, pending, error and emergency");
    }
    cx x = context(c, d->file, CX_CHANGE | CX_NOW | CX_RISK | CX_QUERY | CX_ACTIONVARS, "action");
    fact *f = NULL;
    if (d->u.on.when) {
        expect_type(&x, d->u.on.when, &chg_c_type_bool, "an action condition");
        facts_when(&x, d->u.on.when, true, &f);
    }
    x.facts = f;
    for (uint32_t i = 0; i < d->u.on.ncalls; i++) {
        chg_expr *call = d->u.on.calls[i];
        if (call->kind != EX_CALL) {
            if (call->kind != EX_ERROR) {
                chg_diag *dg = chg_c_diag_report(c, CHG_D_E0503, call->span, chg_c_span_text(c, call->span), NULL);
                chg_c_diag_help(c, dg, "after 'do' come calls such as aws.sns.publish(topic, summary)");
            }
            continue;
        }
        check_call(&x, call, true);
    }
}

/*
 * An intake's fields are checked as if they were one object literal
 * against the schema's `change`: building that literal on the stack reuses
 * assign_object for missing and unknown fields. The fake node is never
 * stored, so its stack lifetime is enough; its types are in the arena.
 * The completeness check is skipped for a broken intake (the missing
 * fields may be behind the syntax error).
 */
static void check_intake(chg_compiler *c, chg_decl *d)
{
    cx x = context(c, d->file, CX_EVENT | CX_NOW | CX_QUERY, "intake");
    if (d->u.intake.when)
        expect_type(&x, d->u.intake.when, &chg_c_type_bool, "an intake condition");
    chg_type *ct = c->change_type;
    chg_expr obj;
    memset(&obj, 0, sizeof obj);
    obj.kind = EX_OBJECT;
    obj.span = d->name.span;
    obj.u.object.fields = d->u.intake.fields;
    obj.u.object.n = d->u.intake.n;
    chg_type *t = check(&x, &obj);
    if (ct->kind == T_OBJECT && !is_err(t) && !d->broken)
        assign_object(&x, &obj, ct, chg_arena_printf(&c->arena, "intake '%s'", d->name.name));
}

/* Test values must be constants (E0510). */
/* The JSON writer reports non-constant values (E0510) as a side effect;
 * the text it builds is thrown away. Using the same writer tests.c uses
 * to build the cases guarantees that whatever passes here can be
 * written there. */
static void constant(chg_compiler *c, const chg_expr *e)
{
    chg_buf b;
    chg_buf_init(&b);
    chg_c_test_json(c, e, &b, true);
    chg_buf_free(&b);
}

/*
 * Test items are checked independently, each in an empty context: a test
 * supplies values, it does not compute them, so every value must be a
 * constant. A `given` query is checked as a call in a context that allows
 * only queries, and its answer against the query's result type. Expect
 * clauses are a closed set; `risk` takes a class name (resolved to its
 * index), the list clauses take string lists, and `reasons`/`warnings`
 * must name existing rules so a renamed rule breaks its tests loudly.
 * Finally a test needs an input and an expect, unless broken.
 */
static void check_test(chg_compiler *c, chg_decl *d)
{
    bool input = false, expect = false;
    for (uint32_t i = 0; i < d->u.test.n; i++) {
        chg_test_item *it = &d->u.test.items[i];
        cx x = context(c, d->file, 0, "test");
        switch (it->kind) {
        case TI_CHANGE:
            input = true;
            if (it->value->kind == EX_STRING) {
                chg_c_test_file(c, d->file, it);
                break;
            }
            if (c->change_type->kind == T_OBJECT && it->value->kind == EX_OBJECT) {
                check(&x, it->value);
                assign(&x, it->value, it->value->type, c->change_type, "change");
            } else
                check(&x, it->value);
            constant(c, it->value);
            break;
        case TI_EVENT:
            input = true;
            if (it->value->kind == EX_STRING) {
                chg_c_test_file(c, d->file, it);
                break;
            }
            expect_type(&x, it->value, &chg_c_type_any, "event");
            constant(c, it->value);
            break;
        case TI_AT:
            if (expect_type(&x, it->value, &chg_c_type_time, "'at'"))
                constant(c, it->value);
            break;
        case TI_GIVEN: {
            chg_expr *call = it->call;
            if (call->kind != EX_CALL) {
                chg_c_diag_report(c, CHG_D_E0508, call->span, chg_c_span_text(c, call->span), NULL);
                break;
            }
            const chg_builtin *b = chg_c_builtin_find(call->u.call.name);
            if (!b || b->kind != BI_QUERY) {
                chg_diag *dg = chg_c_diag_report(c, CHG_D_E0508, call->u.call.name_span,
                                               chg_arena_printf(&c->arena, "'%s'", call->u.call.name), NULL);
                const char *queries[16];
                size_t nq = 0;
                for (size_t k = 0; k < chg_c_nbuiltins && nq < 16; k++)
                    if (chg_c_builtins[k].kind == BI_QUERY)
                        queries[nq++] = chg_c_builtins[k].name;
                chg_c_diag_suggest(c, dg, call->u.call.name, queries, nq);
                break;
            }
            x.allow = CX_QUERY;
            chg_type *rt = check_call(&x, call, false);
            if (!is_err(rt) && expect_type(&x, it->value, rt, "the query's answer")) {
                for (uint32_t a = 0; a < call->u.call.nargs; a++)
                    constant(c, call->u.call.args[a]);
                constant(c, it->value);
            }
            break;
        }
        case TI_GIVEN_FLAG:
            if (expect_type(&x, it->value, &chg_c_type_bool, "a flag"))
                constant(c, it->value);
            break;
        case TI_EXPECT: {
            expect = true;
            static const char *const outcomes[] = {"allow", "deny", "defer", "pending", "error"};
            const char *o = it->outcome.name;
            bool known = false;
            for (size_t k = 0; k < CHG_ARRAY_LEN(outcomes); k++)
                known |= strcmp(o, outcomes[k]) == 0;
            if (!known) {
                chg_diag *dg = chg_c_diag_report(c, CHG_D_E0117, it->outcome.span, o, NULL);
                chg_c_diag_suggest(c, dg, o, outcomes, CHG_ARRAY_LEN(outcomes));
            }
            static const char *const clauses[] = {"risk", "missing", "reasons", "warnings", "actions",
                                                  "next_open", "closes_at", "cutoff_at", "emergency",
                                                  "freezes"};
            for (uint32_t k = 0; k < it->nclauses; k++) {
                chg_expect_clause *cl = &it->clauses[k];
                const char *key = cl->key.name;
                if (!strcmp(key, "risk")) {
                    chg_decl *cls = chg_c_map_get(&c->globals, cl->value->u.name.name);
                    if (!cls || cls->kind != D_RISK) {
                        chg_diag *dg = chg_c_diag_report(c, CHG_D_E0103, cl->value->span, cl->value->u.name.name, NULL);
                        if (c->risk) {
                            chg_decl *r = c->risk;
                            const char **names = chg_arena_alloc(&c->arena, sizeof(char *) * (r->u.risk.n + 1));
                            for (uint32_t j = 0; names && j < r->u.risk.n; j++)
                                names[j] = r->u.risk.classes[j].name;
                            chg_c_diag_suggest(c, dg, cl->value->u.name.name, names, names ? r->u.risk.n : 0);
                        }
                    } else {
                        cl->value->u.name.kind = NAME_RISK_CLASS;
                        cl->value->u.name.risk_index = cls->index;
                    }
                } else if (!strcmp(key, "missing") || !strcmp(key, "reasons") || !strcmp(key, "warnings") ||
                           !strcmp(key, "actions") || !strcmp(key, "freezes")) {
                    bool ok = expect_type(&x, cl->value, chg_c_type_list(&c->arena, &chg_c_type_string), key);
                    if (ok)
                        constant(c, cl->value);
                    if (ok && (!strcmp(key, "reasons") || !strcmp(key, "warnings")) && cl->value->kind == EX_LIST)
                        for (uint32_t j = 0; j < cl->value->u.list.n; j++) {
                            chg_expr *r = cl->value->u.list.items[j];
                            if (r->kind == EX_STRING && !chg_c_map_get(&c->rules, r->u.str.s)) {
                                chg_diag *dg = chg_c_diag_report(c, CHG_D_E0126, r->span, r->u.str.s, NULL);
                                chg_vec names;
                                chg_vec_init(&names);
                                for (size_t q = 0; q < c->rules.cap; q++)
                                    if (c->rules.e[q].key)
                                        if (chg_vec_push(&names, (void *)c->rules.e[q].key) != CHG_OK)
                                            chg_c_nomem(c);
                                chg_c_diag_suggest(c, dg, r->u.str.s, (const char *const *)names.items, names.len);
                                chg_vec_free(&names);
                            }
                        }
                } else if (!strcmp(key, "next_open") || !strcmp(key, "closes_at") || !strcmp(key, "cutoff_at")) {
                    if (expect_type(&x, cl->value, chg_c_type_optional(&c->arena, &chg_c_type_time), key))
                        constant(c, cl->value);
                } else if (!strcmp(key, "emergency")) {
                    if (expect_type(&x, cl->value, &chg_c_type_bool, key))
                        constant(c, cl->value);
                } else {
                    chg_diag *dg = chg_c_diag_report(c, CHG_D_E0121, cl->key.span, "expect", key, NULL);
                    chg_c_diag_suggest(c, dg, key, clauses, CHG_ARRAY_LEN(clauses));
                    if (dg && !dg->help && (!strcmp(key, "change") || !strcmp(key, "event")))
                        chg_c_diag_help(c, dg, "'expect' comes last in a test: move '%s { … }' before it", key);
                }
            }
            break;
        }
        }
    }
    chg_span at = {d->span.file, d->span.start, d->span.start + 4};
    if (d->broken)
        return; /* the syntax error explains what is missing */
    if (!input)
        chg_c_diag_report(c, CHG_D_E0506, at, d->name.name, NULL);
    if (!expect)
        chg_c_diag_report(c, CHG_D_E0507, at, d->name.name, NULL);
}

/* ---- driver --------------------------------------------------------------------------------------------- */

/* The pass's entry: see "Order inside the pass" at the top. uses_approvals
 * and has_emergency are set here for codegen, which must lay out the
 * approvals' paths only when something reads them. */
int chg_c_typecheck(chg_compiler *c)
{
    build_schema(c);
    if (c->at) {
        cx x = context(c, c->at->file, CX_CHANGE | CX_QUERY, "at");
        expect_type(&x, c->at->u.at.expr, &chg_c_type_time, "'at'");
    }
    if (c->classify)
        check_classify(c, c->classify);
    if (c->approvals)
        check_approvals(c, c->approvals);
    check_limits(c, c->limits);
    c->uses_approvals = c->approvals != NULL;
    for (size_t i = 0; i < c->all_decls.len; i++) {
        chg_decl *d = c->all_decls.items[i];
        c->uses_approvals |= d->kind == D_RULE && d->u.rule.action == RA_REQUIRE_APPROVAL;
    }
    for (uint32_t i = 0; c->approvals && i < c->approvals->u.approvals.n; i++)
        c->has_emergency |= c->approvals->u.approvals.entries[i].is_emergency;
    if (c->uses_approvals && c->schema)
        check_approval_schema(c, c->has_emergency);
    for (size_t i = 0; i < c->all_decls.len && !c->error_limit_hit; i++) {
        chg_decl *d = c->all_decls.items[i];
        switch (d->kind) {
        case D_LET: check_let(c, d); break;
        case D_WINDOW:
        case D_FREEZE: check_ts_decl(c, d); break;
        case D_RULE: check_rule(c, d); break;
        case D_ON: check_on(c, d); break;
        case D_INTAKE: check_intake(c, d); break;
        case D_TEST: check_test(c, d); break;
        case D_CONCURRENCY: check_concurrency(c, d); break;
        default: break;
        }
    }
    if (!c->error_limit_hit)
        check_combined_approvals(c);
    return chg_c_status(c);
}

/* ---- lexical helpers ---------------------------------------------------------------------------------- */

/* H:MM or HH:MM, 00:00 to 24:00. The time analysis (timesets.c) reads
 * the same strings with it, so there is one definition of a time of day:
 * what passes here is what the analysis and codegen see. */
int chg_c_parse_time_of_day(const char *s, int *minutes)
{
    int h = 0, m = 0, n = 0;
    const char *p = s;
    while (*p >= '0' && *p <= '9' && n < 3)
        h = h * 10 + (*p++ - '0'), n++;
    if (n < 1 || n > 2 || *p++ != ':')
        return CHG_EINVAL;
    if (!(p[0] >= '0' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9') || p[2])
        return CHG_EINVAL;
    m = (p[0] - '0') * 10 + (p[1] - '0');
    if (h > 24 || m > 59 || (h == 24 && m != 0))
        return CHG_EINVAL;
    *minutes = h * 60 + m;
    return CHG_OK;
}

int chg_c_day_index(const char *name)
{
    for (int i = 0; i < 7; i++)
        if (strcmp(name, chg_weekday_names[i].abbr) == 0 || strcmp(name, chg_weekday_names[i].full) == 0)
            return i;
    return -1;
}

int chg_c_month_index(const char *name)
{
    for (int i = 0; i < 12; i++)
        if (strcmp(name, chg_month_names[i].abbr) == 0 || strcmp(name, chg_month_names[i].full) == 0)
            return i + 1;
    return -1;
}
