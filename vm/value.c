/*
 * value.c — run-time values: equality, the text form interpolation uses,
 * the JSON form decisions use, and conversion from jansson values.
 *
 * A value (chg_vm.h) is 16 bytes: a header word (tag, flags, record
 * layout, length) and a payload word (an int64 for ints, times, durations,
 * risks and bools; a double; or a pointer). Values never own memory: a
 * string points into the bundle (constants), the event's JSON document
 * (fields), or the context's scratch arena (computed strings); a list or
 * record into the bundle, the event's arena (decoded fields) or the
 * scratch; and lives as long as that. So copying a value is copying 16 bytes, and a register
 * file is a plain array. Objects and arrays of the event that the schema
 * does not describe stay jansson values (CHG_V_JSON) and are converted
 * element by element when read, never as a whole.
 */
#include "vm_int.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "chg_time.h"

/* ---- basics ------------------------------------------------------------------------ */

const char *chg_vm_vtag_name(uint8_t tag)
{
    switch (tag) {
    case CHG_V_NULL: return "null";
    case CHG_V_BOOL: return "bool";
    case CHG_V_INT: return "int";
    case CHG_V_FLOAT: return "float";
    case CHG_V_STR: return "string";
    case CHG_V_TIME: return "time";
    case CHG_V_DUR: return "duration";
    case CHG_V_RISK: return "risk";
    case CHG_V_LIST: return "list";
    case CHG_V_REC: return "object";
    case CHG_V_JSON: return "object";
    case CHG_V_ABSENT: return "missing";
    default: return "invalid";
    }
}

static bool json_equal_value(const json_t *j, const chg_value *v);

/* Converting i to a double rounds above 2^53, so 2^53 + 1 would equal
 * 2^53.0; instead f is split into its integer part (exact: a double of
 * that magnitude is a whole number or has one) and its fraction. The
 * bounds are -2^63 and 2^63, both exact as doubles. */
int chg_vm_cmp_int_float(int64_t i, double f)
{
    if (f != f)
        return -2;
    if (f >= 9223372036854775808.0)
        return -1;
    if (f < -9223372036854775808.0)
        return 1;
    int64_t t = (int64_t)f; /* towards zero, in range */
    if (i != t)
        return i < t ? -1 : 1;
    double frac = f - (double)t;
    return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

/* Equality as the language defines it: an int equals a float of exactly the same
 * value (JSON does not tell 2 from 2.0); a jansson value equals a native
 * one when its conversion does, element by element for arrays (a list
 * literal against an event's array); otherwise the tags must agree. A
 * record compares field by field only with a record of the same layout.
 * Strings compare bytes: both are valid UTF-8, and chg does no Unicode
 * normalisation. */
bool chg_vm_value_equal(const chg_value *a, const chg_value *b)
{
    if (a->tag == CHG_V_INT && b->tag == CHG_V_FLOAT)
        return chg_vm_cmp_int_float(a->u.i, b->u.f) == 0;
    if (a->tag == CHG_V_FLOAT && b->tag == CHG_V_INT)
        return chg_vm_cmp_int_float(b->u.i, a->u.f) == 0;
    if (a->tag == CHG_V_JSON && b->tag != CHG_V_JSON)
        return json_equal_value(a->u.json, b);
    if (b->tag == CHG_V_JSON && a->tag != CHG_V_JSON)
        return json_equal_value(b->u.json, a);
    if (a->tag != b->tag)
        return false;
    switch (a->tag) {
    case CHG_V_NULL: return true;
    case CHG_V_BOOL:
    case CHG_V_INT:
    case CHG_V_TIME:
    case CHG_V_DUR:
    case CHG_V_RISK: return a->u.i == b->u.i;
    case CHG_V_FLOAT: return a->u.f == b->u.f;
    case CHG_V_STR: return a->len == b->len && (a->u.s == b->u.s || memcmp(a->u.s, b->u.s, a->len) == 0);
    case CHG_V_LIST:
    case CHG_V_REC:
        if (a->len != b->len || (a->tag == CHG_V_REC && a->layout != b->layout))
            return false;
        for (uint32_t i = 0; i < a->len; i++)
            if (!chg_vm_value_equal(&a->u.items[i], &b->u.items[i]))
                return false;
        return true;
    case CHG_V_JSON: return json_equal((json_t *)a->u.json, (json_t *)b->u.json);
    default: return false;
    }
}

static bool json_equal_value(const json_t *j, const chg_value *v)
{
    chg_value c;
    chg_vm_value_from_json(j, &c);
    if (c.tag == CHG_V_JSON) {
        if (v->tag != CHG_V_LIST || !json_is_array(j) || json_array_size(j) != v->len)
            return false;
        for (uint32_t i = 0; i < v->len; i++) {
            chg_value e;
            chg_vm_value_from_json(json_array_get(j, i), &e);
            if (!chg_vm_value_equal(&e, &v->u.items[i]))
                return false;
        }
        return true;
    }
    return chg_vm_value_equal(&c, v);
}

/* No allocation: scalars are copied, strings point into the document
 * (jansson keeps them NUL-terminated, and their length is known), objects
 * and arrays are referenced whole. A missing field (NULL) is ABSENT, not
 * null: reading it is a run-time error unless the path is optional (the
 * CHANGE instruction's x), while an explicit null is a value. */
void chg_vm_value_from_json(const void *jv, chg_value *out)
{
    const json_t *j = jv;
    memset(out, 0, sizeof *out);
    if (!j) {
        out->tag = CHG_V_ABSENT;
        return;
    }
    switch (json_typeof(j)) {
    case JSON_NULL: out->tag = CHG_V_NULL; break;
    case JSON_TRUE: out->tag = CHG_V_BOOL; out->u.i = 1; break;
    case JSON_FALSE: out->tag = CHG_V_BOOL; out->u.i = 0; break;
    case JSON_INTEGER: out->tag = CHG_V_INT; out->u.i = json_integer_value(j); break;
    case JSON_REAL: out->tag = CHG_V_FLOAT; out->u.f = json_real_value(j); break;
    case JSON_STRING:
        out->tag = CHG_V_STR;
        out->u.s = json_string_value(j);
        out->len = (uint32_t)json_string_length(j);
        break;
    default:
        out->tag = CHG_V_JSON;
        out->u.json = j;
        out->len = (uint32_t)(json_is_array(j) ? json_array_size(j) : json_object_size(j));
    }
}

void chg_value_of_json(const void *j, chg_value *out)
{
    chg_vm_value_from_json(j, out);
}

/* ---- text ------------------------------------------------------------------------- */

/* Shortest decimal text that reads back as the same double: try 1 to 17
 * significant digits (17 always round-trips an IEEE double). Decisions are
 * compared byte for byte across platforms, so the text must not depend
 * on printf's default precision. */
static void format_float(double f, char *out, size_t len)
{
    if (isnan(f) || isinf(f)) {
        snprintf(out, len, "%s", isnan(f) ? "NaN" : f > 0 ? "Infinity" : "-Infinity");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, len, "%.*g", prec, f);
        if (strtod(out, NULL) == f)
            break;
    }
    /* a float always shows as one: 2.0, not 2 */
    if (!strpbrk(out, ".eE"))
        strncat(out, ".0", len - strlen(out) - 1);
}

/* b may be NULL (a value printed without its bundle): "?" then. */
static const char *risk_name(const chg_bundle *b, int64_t i)
{
    if (b && i >= 0 && (uint64_t)i < b->nrisks)
        return b->str[b->risks[i]];
    return "?";
}

static void json_text(const json_t *j, chg_buf *out);

void chg_vm_value_text(const chg_bundle *b, const chg_value *v, chg_buf *out)
{
    char tmp[64];
    switch (v->tag) {
    case CHG_V_NULL:
    case CHG_V_ABSENT: chg_buf_puts(out, "null"); break;
    case CHG_V_BOOL: chg_buf_puts(out, v->u.i ? "true" : "false"); break;
    case CHG_V_INT: chg_buf_append(out, tmp, chg_int_format(v->u.i, tmp)); break;
    case CHG_V_FLOAT: format_float(v->u.f, tmp, sizeof tmp); chg_buf_puts(out, tmp); break;
    case CHG_V_STR: chg_buf_append(out, v->u.s, v->len); break;
    case CHG_V_TIME: chg_time_format_utc(v->u.i, tmp); chg_buf_puts(out, tmp); break;
    case CHG_V_DUR: chg_duration_format(v->u.i, tmp, sizeof tmp); chg_buf_puts(out, tmp); break;
    case CHG_V_RISK: chg_buf_puts(out, risk_name(b, v->u.i)); break;
    case CHG_V_LIST:
        chg_buf_putc(out, '[');
        for (uint32_t i = 0; i < v->len; i++) {
            if (i)
                chg_buf_puts(out, ", ");
            chg_vm_value_text(b, &v->u.items[i], out);
        }
        chg_buf_putc(out, ']');
        break;
    case CHG_V_REC:
    case CHG_V_JSON:
        chg_vm_value_json(b, v, out);
        break;
    default: chg_buf_puts(out, "?"); break;
    }
}

/* Times and durations become strings in their text form, risks their
 * class name; NaN and infinities, which JSON cannot write, become null.
 * As a change (`change`: what an intake builds) a duration is whole
 * seconds instead, the form the decoder and the schema check read. */
static void value_json(const chg_bundle *b, const chg_value *v, chg_buf *out, bool change)
{
    char tmp[64];
    switch (v->tag) {
    case CHG_V_STR: chg_buf_json_string(out, v->u.s, v->len); break;
    case CHG_V_TIME:
        if (chg_time_format_utc(v->u.i, tmp))
            chg_buf_json_string(out, tmp, strlen(tmp));
        else
            chg_buf_puts(out, "null"); /* no RFC 3339 form (a crafted constant) */
        break;
    case CHG_V_DUR:
        if (change) {
            chg_buf_append(out, tmp, chg_int_format(v->u.i, tmp));
            break;
        }
        chg_duration_format(v->u.i, tmp, sizeof tmp);
        chg_buf_json_string(out, tmp, strlen(tmp));
        break;
    case CHG_V_RISK: {
        const char *r = risk_name(b, v->u.i);
        chg_buf_json_string(out, r, strlen(r));
        break;
    }
    case CHG_V_FLOAT:
        if (isnan(v->u.f) || isinf(v->u.f))
            chg_buf_puts(out, "null");
        else {
            format_float(v->u.f, tmp, sizeof tmp);
            chg_buf_puts(out, tmp);
        }
        break;
    case CHG_V_LIST:
        chg_buf_putc(out, '[');
        for (uint32_t i = 0; i < v->len; i++) {
            if (i)
                chg_buf_putc(out, ',');
            value_json(b, &v->u.items[i], out, change);
        }
        chg_buf_putc(out, ']');
        break;
    case CHG_V_REC: {
        chg_buf_putc(out, '{');
        const chg_layout *l = b && v->layout < b->nlayouts ? &b->layouts[v->layout] : NULL;
        for (uint32_t i = 0; i < v->len; i++) {
            if (i)
                chg_buf_putc(out, ',');
            const char *name = l && i < l->count ? b->str[b->lfields[l->first + i].name] : "?";
            chg_buf_json_string(out, name, strlen(name));
            chg_buf_putc(out, ':');
            value_json(b, &v->u.items[i], out, change);
        }
        chg_buf_putc(out, '}');
        break;
    }
    case CHG_V_JSON: json_text(v->u.json, out); break;
    default: chg_vm_value_text(b, v, out); break;
    }
}

void chg_vm_value_json(const chg_bundle *b, const chg_value *v, chg_buf *out) { value_json(b, v, out, false); }
void chg_vm_value_change_json(const chg_bundle *b, const chg_value *v, chg_buf *out) { value_json(b, v, out, true); }

/* Write a jansson value as JSON without allocating (json_dumps would). */
static void json_text(const json_t *j, chg_buf *out)
{
    char tmp[64];
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        chg_buf_putc(out, '{');
        const char *key;
        json_t *val;
        bool first = true;
        /* jansson keeps insertion order: the output follows the input */
        json_object_foreach((json_t *)j, key, val) {
            if (!first)
                chg_buf_putc(out, ',');
            first = false;
            chg_buf_json_string(out, key, strlen(key));
            chg_buf_putc(out, ':');
            json_text(val, out);
        }
        chg_buf_putc(out, '}');
        break;
    }
    case JSON_ARRAY:
        chg_buf_putc(out, '[');
        for (size_t i = 0; i < json_array_size(j); i++) {
            if (i)
                chg_buf_putc(out, ',');
            json_text(json_array_get(j, i), out);
        }
        chg_buf_putc(out, ']');
        break;
    case JSON_STRING: chg_buf_json_string(out, json_string_value(j), json_string_length(j)); break;
    case JSON_INTEGER: chg_buf_append(out, tmp, chg_int_format((int64_t)json_integer_value(j), tmp)); break;
    case JSON_REAL: format_float(json_real_value(j), tmp, sizeof tmp); chg_buf_puts(out, tmp); break;
    case JSON_TRUE: chg_buf_puts(out, "true"); break;
    case JSON_FALSE: chg_buf_puts(out, "false"); break;
    case JSON_NULL: chg_buf_puts(out, "null"); break;
    }
}

/* The text form of a value in scratch memory. Scalars are formatted on the
 * stack and copied once, so they cost no heap allocation; lists and
 * objects (rare in messages) go through a heap buffer. */
const char *chg_vm_value_to_scratch(chg_ctx *ctx, const chg_value *v, uint32_t *len)
{
    char tmp[64];
    const char *text = tmp;
    size_t n;
    switch (v->tag) {
    case CHG_V_STR:
        *len = v->len;
        return v->u.s;
    case CHG_V_NULL:
    case CHG_V_ABSENT: text = "null"; n = 4; break;
    case CHG_V_BOOL: text = v->u.i ? "true" : "false"; n = strlen(text); break;
    case CHG_V_INT: n = chg_int_format(v->u.i, tmp); break;
    case CHG_V_FLOAT: format_float(v->u.f, tmp, sizeof tmp); n = strlen(tmp); break;
    case CHG_V_TIME: chg_time_format_utc(v->u.i, tmp); n = strlen(tmp); break;
    case CHG_V_DUR: chg_duration_format(v->u.i, tmp, sizeof tmp); n = strlen(tmp); break;
    case CHG_V_RISK: text = risk_name(ctx->b, v->u.i); n = strlen(text); break;
    default: {
        chg_buf b;
        chg_buf_init(&b);
        chg_vm_value_text(ctx->b, v, &b);
        char *p = b.oom ? NULL : chg_arena_alloc_raw(&ctx->scratch, b.len + 1);
        if (p) {
            memcpy(p, b.data ? b.data : "", b.len);
            p[b.len] = 0;
        }
        *len = (uint32_t)b.len;
        chg_buf_free(&b);
        return p;
    }
    }
    char *p = chg_arena_alloc_raw(&ctx->scratch, n + 1);
    if (p) {
        memcpy(p, text, n);
        p[n] = 0;
    }
    *len = (uint32_t)n;
    return p;
}
