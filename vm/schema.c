/*
 * schema.c — checking the whole change against the declared schema, once,
 * when it is decoded, so that a decision about a change that does not fit
 * is `error` before any rule runs (decide.c) rather than decided on what
 * happened to be read.
 *
 * The bundle's SCHEMA section is the declared schema as a tree (node 0 is
 * the change; bundle_format.h). The walk pairs each JSON value with the one
 * schema node that describes it, so its cost is the size of the document
 * times the fields of the records in it, whatever the policy reads. What
 * it finds, in schema order:
 *
 *   - a required field missing, or null;
 *   - a value of the wrong JSON type, an enum string that is none of the
 *     enum's, a time that is not an RFC 3339 instant in the years
 *     0000-9999, a duration that is not whole seconds;
 *   - a field the schema does not declare: a warning, or an error in a
 *     `strict` schema.
 *
 * Optional fields (`T?`) may be missing or null; fields with a default may
 * be missing or null (the decoder fills the default in). A list's elements
 * are checked against its element type; a null element is allowed only
 * when that type is optional.
 *
 * The messages name JSON paths (`change.approvals[1].at`) built only when
 * something is reported, from a chain of segments on the stack: a change
 * that fits allocates nothing here. At most CHG_SCHEMA_LISTED errors and
 * as many undeclared fields are listed, then one entry counts the rest,
 * and an undeclared key is quoted to at most KEY_MAX bytes, so what a
 * hostile change can add to its decision is bounded.
 */
#include "vm_int.h"

#include <jansson.h>
#include <string.h>

#include "chg_civil.h"
#include "chg_time.h"

#define KEY_MAX 64   /* bytes of an undeclared key or a bad string quoted */

/* One step of the path from the change to the value being checked: a key
 * (key != NULL) or a list index. */
typedef struct seg {
    const struct seg *up;
    const char *key;
    size_t keylen;
    size_t index;
} seg;

typedef struct vstate {
    const chg_bundle *b;
    chg_event *e;
    uint32_t errors, warnings;  /* found, listed or not */
    bool oom;
} vstate;

/* Instants a time field may hold: the years RFC 3339 can write. */
static int64_t time_min(void) { return chg_days_from_civil(0, 1, 1) * 86400; }
static int64_t time_max(void) { return chg_days_from_civil(10000, 1, 1) * 86400 - 1; }

/* The first n bytes of s cut back to a UTF-8 boundary, so a quoted
 * prefix stays valid text. */
static size_t utf8_prefix(const char *s, size_t len, size_t n)
{
    if (len <= n)
        return len;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    return n;
}

static bool ident_like(const char *s, size_t n)
{
    if (n == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '_'))
            return false;
    return true;
}

/* A string as a quoted JSON string, cut at KEY_MAX bytes with "…". */
static void quoted(chg_buf *out, const char *s, size_t len)
{
    size_t n = utf8_prefix(s, len, KEY_MAX);
    chg_buf_json_string(out, s, n);
    if (n < len)
        chg_buf_puts(out, "…");
}

/* change.a.b[2]["odd key"]: segments are collected leaf to root (their
 * depth is the schema's, which the loader bounds) and written root first. */
static void path_text(chg_buf *out, const seg *s)
{
    const seg *chain[CHG_SCHEMA_MAX_DEPTH + 2];
    int depth = 0;
    for (; s && depth < CHG_SCHEMA_MAX_DEPTH + 2; s = s->up)
        chain[depth++] = s;
    chg_buf_puts(out, "change");
    while (depth-- > 0) {
        const seg *x = chain[depth];
        if (!x->key)
            chg_buf_printf(out, "[%zu]", x->index);
        else if (ident_like(x->key, x->keylen) && x->keylen <= KEY_MAX) {
            chg_buf_putc(out, '.');
            chg_buf_append(out, x->key, x->keylen);
        } else {
            chg_buf_putc(out, '[');
            quoted(out, x->key, x->keylen);
            chg_buf_putc(out, ']');
        }
    }
}

/* Keep one message in the event's list (errors or warnings), at most
 * CHG_SCHEMA_LISTED of them; the count goes on regardless. The text is
 * made only for what is listed. */
static chg_buf *begin_issue(vstate *v, bool error, chg_buf *msg, const seg *at)
{
    uint32_t *count = error ? &v->errors : &v->warnings;
    if ((*count)++ >= CHG_SCHEMA_LISTED)
        return NULL;
    chg_buf_init(msg);
    path_text(msg, at);
    return msg;
}

static void end_issue(vstate *v, bool error, chg_buf *msg, uint32_t span)
{
    chg_event *e = v->e;
    chg_issue **list = error ? &e->errors : &e->warnings;
    uint32_t *n = error ? &e->nerrors : &e->nwarnings;
    if (!*list)
        *list = chg_arena_alloc(&e->arena, sizeof(chg_issue) * (CHG_SCHEMA_LISTED + 1));
    char *text = msg->oom ? NULL : chg_arena_strndup(&e->arena, msg->data ? msg->data : "", msg->len);
    if (!*list || !text) {
        v->oom = true;
        chg_buf_free(msg);
        return;
    }
    CHG_ASSERT(*n < CHG_SCHEMA_LISTED);
    (*list)[*n] = (chg_issue){text, (uint32_t)msg->len, span};
    (*n)++;
    chg_buf_free(msg);
}

static const char *found_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a float";
    case JSON_TRUE: return "true";
    case JSON_FALSE: return "false";
    default: return "null";
    }
}

/* What node s accepts, as its messages say it: an enum lists its first
 * four values. */
static void expected_text(const chg_bundle *b, const chg_schemanode *s, chg_buf *out)
{
    switch (s->type) {
    case CHG_PT_BOOL: chg_buf_puts(out, "bool"); return;
    case CHG_PT_INT: chg_buf_puts(out, "int"); return;
    case CHG_PT_FLOAT: chg_buf_puts(out, "float"); return;
    case CHG_PT_STR: chg_buf_puts(out, "string"); return;
    case CHG_PT_TIME: chg_buf_puts(out, "time (an RFC 3339 string)"); return;
    case CHG_PT_DUR: chg_buf_puts(out, "duration (whole seconds)"); return;
    case CHG_PT_LIST: chg_buf_puts(out, "a list"); return;
    case CHG_PT_OBJECT: chg_buf_puts(out, "an object"); return;
    case CHG_PT_ENUM: {
        const chg_value *vals = &b->consts[s->enm];
        chg_buf_puts(out, "one of ");
        for (uint32_t i = 0; i < vals->len; i++) {
            if (i == 4) {
                chg_buf_puts(out, ", …");
                break;
            }
            if (i)
                chg_buf_puts(out, ", ");
            chg_buf_json_string(out, vals->u.items[i].u.s, vals->u.items[i].len);
        }
        return;
    }
    }
    chg_buf_puts(out, "?");
}

/* "PATH: expected T, found K" */
static void mismatch(vstate *v, const chg_schemanode *s, const seg *at, const json_t *j)
{
    chg_buf msg;
    if (!begin_issue(v, true, &msg, at))
        return;
    chg_buf_puts(&msg, ": expected ");
    expected_text(v->b, s, &msg);
    chg_buf_printf(&msg, ", found %s", found_name(j));
    end_issue(v, true, &msg, s->span);
}

/* "PATH: "text" is not …": a string of the right JSON type whose value
 * does not fit (an enum, an instant). */
static void bad_string(vstate *v, const chg_schemanode *s, const seg *at, const json_t *j)
{
    chg_buf msg;
    if (!begin_issue(v, true, &msg, at))
        return;
    chg_buf_puts(&msg, ": ");
    quoted(&msg, json_string_value(j), json_string_length(j));
    if (s->type == CHG_PT_ENUM) {
        chg_buf_puts(&msg, " is not ");
        expected_text(v->b, s, &msg);
    } else
        chg_buf_puts(&msg, " is not an RFC 3339 instant in the years 0000-9999");
    end_issue(v, true, &msg, s->span);
}

static void absent(vstate *v, const chg_schemanode *s, const seg *at, const char *what)
{
    chg_buf msg;
    if (!begin_issue(v, true, &msg, at))
        return;
    chg_buf_printf(&msg, " is required but %s", what);
    end_issue(v, true, &msg, s->span);
}

static void check_value(vstate *v, uint32_t n, const json_t *j, const seg *at);

static bool enum_has(const chg_value *vals, const char *s, size_t len)
{
    for (uint32_t i = 0; i < vals->len; i++)
        if (vals->u.items[i].len == len && memcmp(vals->u.items[i].u.s, s, len) == 0)
            return true;
    return false;
}

/* The fields of object node s in the JSON object j: the declared ones in
 * declaration order, then the keys it does not declare. A JSON object's
 * keys are distinct (jansson keeps one of each, and the decoder refuses
 * duplicates), and so are an object's declared fields (load_schema), so
 * the undeclared keys number size - matched, and they are looked for only
 * while there is room to list them. */
static void check_object(vstate *v, const chg_schemanode *s, const json_t *j, const seg *at)
{
    const chg_bundle *b = v->b;
    size_t matched = 0;
    for (uint32_t k = 0; k < s->count; k++) {
        uint32_t fn = s->first + k;
        const chg_schemanode *f = &b->schema[fn];
        const char *name = b->str[f->name];
        seg here = {at, name, b->strlen[f->name], 0};
        const json_t *x = json_object_get(j, name);
        if (!x) {
            if (f->need == CHG_PR_REQUIRED)
                absent(v, f, &here, "missing");
            continue;
        }
        matched++;
        if (json_is_null(x)) {
            if (f->need == CHG_PR_REQUIRED)
                absent(v, f, &here, "null");
            continue;
        }
        check_value(v, fn, x, &here);
    }
    size_t extra = json_object_size(j) - matched;
    if (!extra)
        return;
    bool strict = s->flags & CHG_SF_STRICT;
    uint32_t *count = strict ? &v->errors : &v->warnings;
    if (*count >= CHG_SCHEMA_LISTED) { /* no room to list any: count them */
        *count += extra > UINT32_MAX - *count ? UINT32_MAX - *count : (uint32_t)extra;
        return;
    }
    const char *key;
    const json_t *x;
    json_object_foreach((json_t *)j, key, x)
    {
        if (!extra)
            break;
        size_t klen = strlen(key);
        bool declared = false;
        for (uint32_t k = 0; k < s->count && !declared; k++) {
            uint32_t nm = b->schema[s->first + k].name;
            declared = b->strlen[nm] == klen && memcmp(b->str[nm], key, klen) == 0;
        }
        if (declared)
            continue;
        extra--;
        seg here = {at, key, klen, 0};
        chg_buf msg;
        if (begin_issue(v, strict, &msg, &here)) {
            chg_buf_puts(&msg, " is not declared in the schema");
            end_issue(v, strict, &msg, s->span);
        } else { /* the list is full: count the rest without looking */
            *count += extra > UINT32_MAX - *count ? UINT32_MAX - *count : (uint32_t)extra;
            return;
        }
    }
}

static void check_list(vstate *v, const chg_schemanode *s, const json_t *j, const seg *at)
{
    CHG_ASSERT(s->count == 1); /* load_schema */
    uint32_t en = s->first;
    const chg_schemanode *el = &v->b->schema[en];
    size_t n = json_array_size(j);
    for (size_t i = 0; i < n; i++) {
        const json_t *x = json_array_get(j, i);
        seg here = {at, NULL, 0, i};
        if (json_is_null(x)) {
            if (el->need == CHG_PR_REQUIRED)
                mismatch(v, el, &here, x);
            continue;
        }
        check_value(v, en, x, &here);
    }
}

/* A present, non-null value j against node n. */
static void check_value(vstate *v, uint32_t n, const json_t *j, const seg *at)
{
    const chg_bundle *b = v->b;
    CHG_ASSERT(n < b->nschema);
    const chg_schemanode *s = &b->schema[n];
    switch (s->type) {
    case CHG_PT_BOOL:
        if (!json_is_boolean(j))
            mismatch(v, s, at, j);
        return;
    case CHG_PT_INT:
        /* 3.0 is not an int (jansson keeps JSON's 3 and 3.0 apart); an
         * integer beyond int64 never gets here: the JSON reader refuses it */
        if (!json_is_integer(j))
            mismatch(v, s, at, j);
        return;
    case CHG_PT_FLOAT:
        if (!json_is_number(j))
            mismatch(v, s, at, j);
        return;
    case CHG_PT_STR:
        if (!json_is_string(j))
            mismatch(v, s, at, j);
        return;
    case CHG_PT_DUR:
        if (!json_is_integer(j))
            mismatch(v, s, at, j);
        return;
    case CHG_PT_ENUM:
        if (!json_is_string(j))
            mismatch(v, s, at, j);
        else if (!enum_has(&b->consts[s->enm], json_string_value(j), json_string_length(j)))
            bad_string(v, s, at, j);
        return;
    case CHG_PT_TIME: {
        int64_t t;
        if (!json_is_string(j))
            mismatch(v, s, at, j);
        else if (chg_time_parse_iso(json_string_value(j), json_string_length(j), &t) != CHG_OK ||
                 t < time_min() || t > time_max())
            bad_string(v, s, at, j); /* an offset can carry 0000-01-01 into year -1 */
        return;
    }
    case CHG_PT_LIST:
        if (!json_is_array(j))
            mismatch(v, s, at, j);
        else
            check_list(v, s, j, at);
        return;
    case CHG_PT_OBJECT:
        if (!json_is_object(j))
            mismatch(v, s, at, j);
        else
            check_object(v, s, j, at);
        return;
    }
    CHG_ASSERT(false); /* load_schema admits only the types above */
}

/* The closing entry of a list that was cut: "and 7 more …". */
static void more(vstate *v, bool error, uint32_t total)
{
    chg_event *e = v->e;
    if (total <= CHG_SCHEMA_LISTED || v->oom)
        return;
    chg_issue *list = error ? e->errors : e->warnings;
    uint32_t *n = error ? &e->nerrors : &e->nwarnings;
    CHG_ASSERT(list && *n == CHG_SCHEMA_LISTED);
    char tmp[96];
    int len = snprintf(tmp, sizeof tmp, "and %u more %s", total - CHG_SCHEMA_LISTED,
                       error ? "fields that do not fit the schema" : "fields the schema does not declare");
    char *text = chg_arena_strndup(&e->arena, tmp, (size_t)len);
    if (!text) {
        v->oom = true;
        return;
    }
    list[(*n)++] = (chg_issue){text, (uint32_t)len, UINT32_MAX};
}

int chg_vm_schema_validate(const chg_bundle *b, chg_event *e, const void *jv)
{
    const json_t *j = jv;
    if (!b->nschema)
        return CHG_OK; /* no schema: fields are checked where they are read */
    vstate v = {b, e, 0, 0, false};
    CHG_ASSERT(json_is_object(j)); /* chg_event_from_json */
    check_object(&v, &b->schema[0], j, NULL);
    more(&v, true, v.errors);
    more(&v, false, v.warnings);
    return v.oom ? CHG_ENOMEM : CHG_OK;
}
