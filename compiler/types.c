/*
 * types.c — the type representation the checker works with, and the table
 * of built-in functions, queries and actions the checker, the code
 * generator and docs/language.md use (expanded from vm/builtins.def).
 */
#include "compiler_int.h"

#include <string.h>

/* The scalar types are singletons: the checker compares them by kind,
 * points at them from every expression of that type, and never allocates
 * for them, so checking `a + b` on ints costs no memory. They are never
 * modified after initialisation; only composite types (lists, optionals,
 * objects, enums) live in the arena. */
chg_type chg_c_type_error = {T_ERROR, {{0}}};
chg_type chg_c_type_any = {T_ANY, {{0}}};
chg_type chg_c_type_null = {T_NULL, {{0}}};
chg_type chg_c_type_bool = {T_BOOL, {{0}}};
chg_type chg_c_type_int = {T_INT, {{0}}};
chg_type chg_c_type_float = {T_FLOAT, {{0}}};
chg_type chg_c_type_string = {T_STRING, {{0}}};
chg_type chg_c_type_time = {T_TIME, {{0}}};
chg_type chg_c_type_duration = {T_DURATION, {{0}}};
chg_type chg_c_type_risk = {T_RISK, {{0}}};
chg_type chg_c_type_timeset = {T_TIMESET, {{0}}};

/* Out of memory gives the error type rather than NULL: the checker then
 * treats the expression as already reported, so no caller needs a NULL
 * test, and the arena's flag makes the compilation fail with ENOMEM. */
chg_type *chg_c_type_list(chg_arena *a, chg_type *elem)
{
    chg_type *t = chg_arena_alloc(a, sizeof *t);
    if (!t)
        return &chg_c_type_error;
    t->kind = T_LIST;
    t->u.elem = elem;
    return t;
}

/* Optional is idempotent and absorbs the types that already admit
 * "nothing": T?? is T?, null? is null, any? is any (any includes null),
 * error? stays error so it keeps silencing follow-on messages. This keeps
 * a type at most one `?` deep, which chg_c_type_strip and every
 * `kind == T_OPTIONAL` test in the checker rely on. */
chg_type *chg_c_type_optional(chg_arena *a, chg_type *inner)
{
    if (inner->kind == T_OPTIONAL || inner->kind == T_NULL || inner->kind == T_ANY ||
        inner->kind == T_ERROR)
        return inner;
    chg_type *t = chg_arena_alloc(a, sizeof *t);
    if (!t)
        return &chg_c_type_error;
    t->kind = T_OPTIONAL;
    t->u.elem = inner;
    return t;
}

/* One level is enough: chg_c_type_optional never nests optionals. */
const chg_type *chg_c_type_strip(const chg_type *t)
{
    return t->kind == T_OPTIONAL ? t->u.elem : t;
}

/* Types as users write them, for messages. Deep or wide types are cut
 * with "…" (depth 8, four enum values, three fields): a schema with a
 * hundred fields would otherwise turn "expected …, found …" into a page.
 * The depth cut also bounds the recursion whatever the type. */
static void type_str(chg_buf *b, const chg_type *t, int depth)
{
    if (depth > 8) {
        chg_buf_puts(b, "…");
        return;
    }
    switch (t->kind) {
    case T_ERROR: chg_buf_puts(b, "<error>"); break;
    case T_ANY: chg_buf_puts(b, "any"); break;
    case T_NULL: chg_buf_puts(b, "null"); break;
    case T_BOOL: chg_buf_puts(b, "bool"); break;
    case T_INT: chg_buf_puts(b, "int"); break;
    case T_FLOAT: chg_buf_puts(b, "float"); break;
    case T_STRING: chg_buf_puts(b, "string"); break;
    case T_TIME: chg_buf_puts(b, "time"); break;
    case T_DURATION: chg_buf_puts(b, "duration"); break;
    case T_RISK: chg_buf_puts(b, "risk"); break;
    case T_TIMESET: chg_buf_puts(b, "time set"); break;
    case T_ENUM:
        chg_buf_puts(b, "enum(");
        for (uint32_t i = 0; i < t->u.enm.n; i++) {
            if (i == 4 && t->u.enm.n > 5) {
                chg_buf_puts(b, ", …");
                break;
            }
            chg_buf_printf(b, "%s\"%s\"", i ? ", " : "", t->u.enm.values[i]);
        }
        chg_buf_putc(b, ')');
        break;
    case T_LIST:
        chg_buf_putc(b, '[');
        type_str(b, t->u.elem, depth + 1);
        chg_buf_putc(b, ']');
        break;
    case T_OPTIONAL:
        type_str(b, t->u.elem, depth + 1);
        chg_buf_putc(b, '?');
        break;
    case T_OBJECT:
        chg_buf_puts(b, "{ ");
        for (uint32_t i = 0; i < t->u.obj.n; i++) {
            if (i == 3 && t->u.obj.n > 4) {
                chg_buf_puts(b, ", …");
                break;
            }
            chg_buf_printf(b, "%s%s: ", i ? ", " : "", t->u.obj.fields[i].name);
            type_str(b, t->u.obj.fields[i].type, depth + 1);
        }
        chg_buf_puts(b, " }");
        break;
    }
}

const char *chg_c_type_str(chg_arena *a, const chg_type *t)
{
    chg_buf b;
    chg_buf_init(&b);
    type_str(&b, t, 0);
    const char *s = chg_arena_strndup(a, b.data ? b.data : "", b.len);
    chg_buf_free(&b);
    return s;
}

/* A linear search: objects have tens of fields, looked up a few times per
 * expression, and build_object guarantees names are unique, so the first
 * match is the only one. */
const chg_type_field *chg_c_type_field_find(const chg_type *obj, const char *name)
{
    if (obj->kind != T_OBJECT)
        return NULL;
    for (uint32_t i = 0; i < obj->u.obj.n; i++)
        if (strcmp(obj->u.obj.fields[i].name, name) == 0)
            return &obj->u.obj.fields[i];
    return NULL;
}

/* Takes a length because literals carry one: comparing length and bytes
 * stays exact even for a literal with an escaped NUL in it, which strcmp
 * would cut short and match against a prefix. */
int chg_c_type_enum_index(const chg_type *t, const char *s, size_t len)
{
    if (t->kind != T_ENUM)
        return -1;
    for (uint32_t i = 0; i < t->u.enm.n; i++)
        if (strlen(t->u.enm.values[i]) == len && memcmp(t->u.enm.values[i], s, len) == 0)
            return (int)i;
    return -1;
}

/* Structural equality. Enums are equal when they list the same values in
 * the same order (order is part of the type: the bundle lists the values
 * in order); objects when their fields match in order, name and type. The
 * recursion follows the schema's nesting, bounded by the parser's depth
 * limit. Scalars of the same kind are always equal. */
bool chg_c_type_equal(const chg_type *a, const chg_type *b)
{
    if (a == b)
        return true;
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case T_ENUM:
        if (a->u.enm.n != b->u.enm.n)
            return false;
        for (uint32_t i = 0; i < a->u.enm.n; i++)
            if (strcmp(a->u.enm.values[i], b->u.enm.values[i]) != 0)
                return false;
        return true;
    case T_LIST:
    case T_OPTIONAL:
        return chg_c_type_equal(a->u.elem, b->u.elem);
    case T_OBJECT:
        if (a->u.obj.n != b->u.obj.n)
            return false;
        for (uint32_t i = 0; i < a->u.obj.n; i++)
            if (strcmp(a->u.obj.fields[i].name, b->u.obj.fields[i].name) != 0 ||
                !chg_c_type_equal(a->u.obj.fields[i].type, b->u.obj.fields[i].type))
                return false;
        return true;
    default:
        return true;
    }
}

/* ---- built-ins ----------------------------------------------------------------- */

/* The table comes from vm/builtins.def, the one list the VM expands too;
 * the implementation column is dropped here. */
#define CHG_BI_PARAMS(...) {__VA_ARGS__}
#define CHG_BI_NPARAMS(...) (uint8_t)(sizeof((chg_param[]){__VA_ARGS__}) / sizeof(chg_param))
const chg_builtin chg_c_builtins[] = {
#define CHG_FUNCTION(name, impl, min, max, params, result, doc) \
    {name, BI_FUNCTION, min, max, CHG_BI_PARAMS params, CHG_BI_NPARAMS params, result, doc},
#define CHG_QUERY(name, min, max, params, result, doc) \
    {name, BI_QUERY, min, max, CHG_BI_PARAMS params, CHG_BI_NPARAMS params, result, doc},
#define CHG_ACTION(name, min, max, params, doc) \
    {name, BI_ACTION, min, max, CHG_BI_PARAMS params, CHG_BI_NPARAMS params, P_ANY, doc},
#include "builtins.def"
#undef CHG_FUNCTION
#undef CHG_QUERY
#undef CHG_ACTION
};
#undef CHG_BI_PARAMS
#undef CHG_BI_NPARAMS

const size_t chg_c_nbuiltins = CHG_ARRAY_LEN(chg_c_builtins);

/* By exact name, dots included ("aws.sns.publish" is one name, not a
 * path): a linear search over a table of a few dozen, once per call site. */
chg_param chg_c_builtin_param(const chg_builtin *b, uint32_t i)
{
    if (!b || !b->nparams)
        return P_ANY;
    return b->params[i < b->nparams ? i : b->nparams - 1u];
}

const chg_builtin *chg_c_builtin_find(const char *name)
{
    for (size_t i = 0; i < chg_c_nbuiltins; i++)
        if (strcmp(chg_c_builtins[i].name, name) == 0)
            return &chg_c_builtins[i];
    return NULL;
}
