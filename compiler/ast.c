/*
 * ast.c — AST node constructors and small helpers over the tree.
 */
#include "ast.h"

#include <string.h>

/* Out of memory, a constructor returns a spare node rather than NULL, so
 * that neither the grammar's actions nor the passes that add a node need a
 * check for each one: the arena's `failed` flag ends the compilation in
 * CHG_ENOMEM, and nothing reads a tree holding spare nodes (they are all
 * one node, zeroed for each use). One per thread, as compilations may run
 * in parallel. */
static _Thread_local union {
    chg_expr e;
    chg_decl d;
    chg_tsexpr t;
    chg_areq r;
    chg_typeexpr te;
} spare;

static void *node(chg_arena *a, size_t size)
{
    void *p = chg_arena_alloc(a, size);
    if (!p) {
        memset(&spare, 0, sizeof spare);
        p = &spare;
    }
    return p;
}

/* Nodes start zeroed (the arena returns zeroed memory, and the spare is
 * cleared), so only kind, span and depth need setting; every pointer
 * field the grammar does not fill reads as NULL. depth starts at 1 and
 * the grammar's builders raise it from the children's, which is how the
 * parser's nesting limit sees a tree before any pass recurses into it. */
chg_expr *chg_c_ast_expr(chg_arena *a, chg_expr_kind kind, chg_span span)
{
    chg_expr *e = node(a, sizeof *e);
    e->kind = kind;
    e->span = span;
    e->depth = 1;
    return e;
}

/* Declarations have no depth: they do not nest (only their expressions
 * do), and the resolver, not the parser, creates some of them (one per
 * risk class). */
chg_decl *chg_c_ast_decl(chg_arena *a, chg_decl_kind kind, chg_span span)
{
    chg_decl *d = node(a, sizeof *d);
    d->kind = kind;
    d->span = span;
    return d;
}

chg_tsexpr *chg_c_ast_ts(chg_arena *a, chg_ts_kind kind, chg_span span)
{
    chg_tsexpr *t = node(a, sizeof *t);
    t->kind = kind;
    t->span = span;
    t->depth = 1;
    return t;
}

chg_areq *chg_c_ast_areq(chg_arena *a, chg_areq_kind kind, chg_span span)
{
    chg_areq *r = node(a, sizeof *r);
    r->kind = kind;
    r->span = span;
    r->depth = 1;
    return r;
}

chg_typeexpr *chg_c_ast_typeexpr(chg_arena *a, chg_typeexpr_kind kind, chg_span span)
{
    chg_typeexpr *t = node(a, sizeof *t);
    t->kind = kind;
    t->span = span;
    return t;
}

/* A growing list in the arena: the old array is abandoned, not freed,
 * which the arena makes free of cost and which doubling keeps to less
 * than the final size in waste. Lists are built by left-recursive grammar
 * rules, one push per item, so amortised O(1) matters for long schemas. */
void chg_c_ast_list_push(chg_arena *a, chg_ast_list *l, void *item)
{
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 4;
        void **items = chg_arena_alloc(a, cap * sizeof *items);
        if (!items)
            return; /* dropped: the arena remembers the failure */
        if (l->n)
            memcpy(items, l->items, l->n * sizeof *items);
        l->items = items;
        l->cap = cap;
    }
    l->items[l->n++] = item;
}

/* The span from a's start to b's end, for nodes built from their first
 * and last tokens. A b from another file (impossible from one parse, but
 * cheap to rule out) or ending earlier leaves a unchanged, so a joined
 * span never runs backwards. */
chg_span chg_c_span_join(chg_span a, chg_span b)
{
    chg_span s = a;
    if (b.file == a.file && b.end > s.end)
        s.end = b.end;
    return s;
}

/* Operators as written, for messages: "operator '+' …" must quote what
 * the user typed, not the enum's name. */
const char *chg_c_binop_text(chg_binop op)
{
    switch (op) {
    case BIN_OR: return "or";
    case BIN_AND: return "and";
    case BIN_EQ: return "==";
    case BIN_NE: return "!=";
    case BIN_LT: return "<";
    case BIN_LE: return "<=";
    case BIN_GT: return ">";
    case BIN_GE: return ">=";
    case BIN_IN: return "in";
    case BIN_MATCHES: return "matches";
    case BIN_ADD: return "+";
    case BIN_SUB: return "-";
    case BIN_MUL: return "*";
    case BIN_DIV: return "/";
    case BIN_MOD: return "%";
    case BIN_COALESCE: return "??";
    }
    return "?";
}

const char *chg_c_decl_kind_name(chg_decl_kind k)
{
    switch (k) {
    case D_POLICY: return "policy";
    case D_IMPORT: return "import";
    case D_SCHEMA: return "schema";
    case D_AT: return "at";
    case D_RISK: return "risk";
    case D_LET: return "let";
    case D_CLASSIFY: return "classify";
    case D_WINDOW: return "window";
    case D_FREEZE: return "freeze";
    case D_APPROVALS: return "approvals";
    case D_RULE: return "rule";
    case D_ON: return "on";
    case D_INTAKE: return "intake";
    case D_TEST: return "test";
    case D_LIMITS: return "limits";
    case D_CONCURRENCY: return "concurrency";
    }
    return "?";
}
