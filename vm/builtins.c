/*
 * builtins.c — the implementations of the built-in functions. Their names,
 * arities and types are listed once, in builtins.def, which the compiler
 * expands too; bundles name the built-ins they call and are bound to these
 * implementations by name when they load. External queries have no
 * implementation here: the resolver (facts, or chgd's AWS client) answers
 * them.
 *
 * Every function checks its arguments at run time too (a policy without a
 * schema is only checked then) and allocates only from the context's
 * scratch arena.
 */
#define _GNU_SOURCE /* strptime, tm_gmtoff */
#include "vm_int.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chg_time.h"

/* A built-in does not know its instruction: the pc passed here is a
 * placeholder, and the interpreter's CALL handler sets err_pc to the CALL
 * when the built-in returns -1 (interp.c), which is what the decision's
 * source position comes from. */
#define ERR(...) chg_vm_error(ctx, ctx->err_pc, __VA_ARGS__)
/* Work that grows with the input is charged to the step budget before it
 * is done (the place, again, is the CALL's). */
#define CHARGE_BYTES(n) chg_vm_charge(ctx, ctx->err_pc, chg_vm_byte_steps(n))

static void out_int(chg_value *o, uint8_t tag, int64_t i)
{
    memset(o, 0, sizeof *o);
    o->tag = tag;
    o->u.i = i;
}

static void out_str(chg_value *o, const char *s, uint32_t len)
{
    memset(o, 0, sizeof *o);
    o->tag = CHG_V_STR;
    o->u.s = s;
    o->len = len;
}

/* Argument i of fn must have tag `tag`; else the run-time error a policy
 * without a schema gets (the checker refuses it when the type is known). */
static int need(chg_ctx *ctx, const char *fn, uint32_t i, const chg_value *v, uint8_t tag)
{
    if (v->tag == tag)
        return 0;
    return ERR("%s: argument %u must be %s, found %s", fn, i + 1, chg_vm_vtag_name(tag), chg_vm_vtag_name(v->tag));
}

/* lower/upper: ASCII letters only, byte by byte, so the length in bytes
 * is unchanged and UTF-8 sequences (all bytes >= 0x80) pass through. */
static int bi_case(chg_ctx *ctx, const chg_value *a, chg_value *o, bool up, const char *fn)
{
    if (need(ctx, fn, 0, &a[0], CHG_V_STR) < 0 || CHARGE_BYTES(a[0].len) < 0)
        return -1;
    char *p = chg_arena_alloc_raw(&ctx->scratch, (size_t)a[0].len + 1);
    if (!p)
        return chg_vm_scratch_error(ctx, ctx->err_pc);
    for (uint32_t i = 0; i < a[0].len; i++) {
        char c = a[0].u.s[i];
        p[i] = up ? (c >= 'a' && c <= 'z' ? (char)(c - 32) : c) : (c >= 'A' && c <= 'Z' ? (char)(c + 32) : c);
    }
    p[a[0].len] = 0;
    out_str(o, p, a[0].len);
    return 0;
}

static int bi_lower(chg_ctx *ctx, const chg_value *a, chg_value *o)
{
    return bi_case(ctx, a, o, false, "lower");
}

static int bi_upper(chg_ctx *ctx, const chg_value *a, chg_value *o)
{
    return bi_case(ctx, a, o, true, "upper");
}

/* len of a string counts code points: every byte that is not a UTF-8
 * continuation byte (10xxxxxx) starts one. Strings are valid UTF-8 (event
 * decoding and the compiler check), so no sequence is miscounted. */
static int bi_len(chg_ctx *ctx, const chg_value *a, chg_value *o)
{
    if (a[0].tag == CHG_V_STR) {
        if (CHARGE_BYTES(a[0].len) < 0)
            return -1;
        int64_t cps = 0;
        for (uint32_t i = 0; i < a[0].len; i++)
            cps += ((unsigned char)a[0].u.s[i] & 0xc0) != 0x80;
        out_int(o, CHG_V_INT, cps);
    } else if (a[0].tag == CHG_V_LIST)
        out_int(o, CHG_V_INT, a[0].len);
    else if (a[0].tag == CHG_V_JSON && json_is_array((const json_t *)a[0].u.json))
        out_int(o, CHG_V_INT, (int64_t)json_array_size(a[0].u.json));
    else
        return ERR("len: argument must be a string or a list, found %s", chg_vm_vtag_name(a[0].tag));
    return 0;
}

static int bi_affix(chg_ctx *ctx, const chg_value *a, chg_value *o, bool start, const char *fn)
{
    if (need(ctx, fn, 0, &a[0], CHG_V_STR) < 0 || need(ctx, fn, 1, &a[1], CHG_V_STR) < 0 ||
        CHARGE_BYTES(a[1].len) < 0)
        return -1;
    bool r = a[1].len <= a[0].len &&
             memcmp(a[0].u.s + (start ? 0 : a[0].len - a[1].len), a[1].u.s, a[1].len) == 0;
    out_int(o, CHG_V_BOOL, r);
    return 0;
}

static int bi_startswith(chg_ctx *ctx, const chg_value *a, chg_value *o)
{
    return bi_affix(ctx, a, o, true, "startswith");
}

static int bi_endswith(chg_ctx *ctx, const chg_value *a, chg_value *o)
{
    return bi_affix(ctx, a, o, false, "endswith");
}

/* One UTF-8 character's length at s (1 for invalid bytes). */
static uint32_t cp_len(const char *s, uint32_t n)
{
    size_t l = chg_utf8_seq_len((const unsigned char *)s, n);
    return l ? (uint32_t)l : 1;
}

/* Does [p, pe) (at a '[') match the character c of length cl? Sets *end
 * past the class. Ranges compare bytes, so they are meant for ASCII. */
static bool class_match(const char *p, const char *pe, const char *c, uint32_t cl, const char **end)
{
    const char *q = p + 1;
    bool neg = q < pe && (*q == '!' || *q == '^');
    if (neg)
        q++;
    bool hit = false, first = true;
    while (q < pe && (*q != ']' || first)) {
        first = false;
        uint32_t ql = cp_len(q, (uint32_t)(pe - q));
        if (q + ql + 1 < pe && q[ql] == '-' && q[ql + 1] != ']') {
            const char *hi = q + ql + 1;
            uint32_t hl = cp_len(hi, (uint32_t)(pe - hi));
            if (cl == 1 && ql == 1 && hl == 1 && (unsigned char)*c >= (unsigned char)*q &&
                (unsigned char)*c <= (unsigned char)*hi)
                hit = true;
            q = hi + hl;
        } else {
            if (ql == cl && memcmp(q, c, cl) == 0)
                hit = true;
            q += ql;
        }
    }
    if (q >= pe) { /* no closing ']': the '[' is literal */
        *end = p + 1;
        return cl == 1 && *c == '[';
    }
    *end = q + 1;
    return hit != neg;
}

/* Shell-style match with one backtrack point per '*'. Only the last '*'
 * is remembered: when a later part fails, that star absorbs one more
 * character and the match resumes after it. That is complete for globs,
 * because whatever an earlier star could absorb instead, the later star
 * can absorb as well (the classic argument for wildcard matching without
 * recursion). Never exponential, but a pattern from the change such as
 * "*aaaa…ab" against "aaaa…a" takes |pattern| × |subject| steps, so every
 * character tried is a step of the decision's budget (charged in batches
 * of 256): a glob that would run too long is an `error`, never
 * a hang. Matching is by characters (UTF-8 sequences), so '?' is one
 * character; '\' makes the next character literal. Returns 1, 0, or -1
 * with the budget's error set. */
static int glob(chg_ctx *ctx, const char *s, uint32_t sn, const char *p, uint32_t pn)
{
    const char *se = s + sn, *pe = p + pn;
    const char *star_p = NULL, *star_s = NULL;
    uint64_t tried = 0;
    while (s < se) {
        if (CHG_UNLIKELY(++tried == 256)) {
            if (chg_vm_charge(ctx, ctx->err_pc, tried) < 0)
                return -1;
            tried = 0;
        }
        if (p < pe && *p == '*') {
            star_p = ++p;
            star_s = s;
            continue;
        }
        uint32_t cl = cp_len(s, (uint32_t)(se - s));
        if (p < pe) {
            const char *next = NULL;
            bool ok;
            if (*p == '?') {
                ok = true;
                next = p + 1;
            } else if (*p == '[') {
                ok = class_match(p, pe, s, cl, &next);
            } else {
                const char *lit = p;
                if (*p == '\\' && p + 1 < pe)
                    lit = p + 1;
                uint32_t ll = cp_len(lit, (uint32_t)(pe - lit));
                ok = ll == cl && memcmp(lit, s, cl) == 0;
                next = lit + ll;
            }
            if (ok) {
                p = next;
                s += cl;
                continue;
            }
        }
        if (!star_p)
            return 0;
        p = star_p;
        star_s += cp_len(star_s, (uint32_t)(se - star_s));
        s = star_s;
    }
    while (p < pe && *p == '*')
        p++;
    return p == pe;
}

static int bi_glob(chg_ctx *ctx, const chg_value *a, chg_value *o)
{
    if (need(ctx, "glob", 0, &a[0], CHG_V_STR) < 0 || need(ctx, "glob", 1, &a[1], CHG_V_STR) < 0 ||
        CHARGE_BYTES((uint64_t)a[0].len + a[1].len) < 0)
        return -1;
    int r = glob(ctx, a[0].u.s, a[0].len, a[1].u.s, a[1].len);
    if (r < 0)
        return -1;
    out_int(o, CHG_V_BOOL, r);
    return 0;
}

static int bi_string(chg_ctx *ctx, const chg_value *a, chg_value *o)
{
    uint32_t len;
    const char *s = chg_vm_value_to_scratch(ctx, &a[0], &len);
    if (!s)
        return chg_vm_scratch_error(ctx, ctx->err_pc);
    if (CHARGE_BYTES(len) < 0)
        return -1;
    out_str(o, s, len);
    return 0;
}

/* int(x): exact conversions only. A float converts when it is whole and
 * inside int64 (the bounds are 2^63 as doubles: -2^63 is in, 2^63 is
 * not; NaN fails v == v). A string must be a plain decimal: strtoll's
 * leading spaces and '+' are refused, so "int" reads what "string" writes
 * and nothing more; 31 bytes hold any int64. */
static int bi_int(chg_ctx *ctx, const chg_value *a, chg_value *o)
{
    const chg_value *v = &a[0];
    if (v->tag == CHG_V_INT) {
        *o = *v;
        return 0;
    }
    if (v->tag == CHG_V_FLOAT) {
        if (v->u.f != v->u.f || v->u.f < -9.2233720368547758e18 || v->u.f >= 9.2233720368547758e18 ||
            (double)(int64_t)v->u.f != v->u.f)
            return ERR("int: %g is not a whole number in range", v->u.f);
        out_int(o, CHG_V_INT, (int64_t)v->u.f);
        return 0;
    }
    if (v->tag == CHG_V_STR) {
        char buf[32];
        if (v->len == 0 || v->len >= sizeof buf)
            return ERR("int: \"%.*s\" is not a decimal integer", (int)(v->len > 40 ? 40 : v->len), v->u.s);
        memcpy(buf, v->u.s, v->len);
        buf[v->len] = 0;
        char *end;
        errno = 0;
        long long x = strtoll(buf, &end, 10);
        if (*end || errno || buf[0] == ' ' || buf[0] == '+')
            return ERR("int: \"%s\" is not a decimal integer", buf);
        out_int(o, CHG_V_INT, x);
        return 0;
    }
    return ERR("int: cannot convert %s", chg_vm_vtag_name(v->tag));
}

static int bi_time(chg_ctx *ctx, const chg_value *a, chg_value *o)
{
    if (a[0].tag == CHG_V_TIME) {
        *o = a[0];
        return 0;
    }
    if (need(ctx, "time", 0, &a[0], CHG_V_STR) < 0)
        return -1;
    int64_t t;
    int rc = chg_time_parse_iso(a[0].u.s, a[0].len, &t);
    if (rc != CHG_OK)
        return ERR("time: \"%.*s\" is %s", (int)(a[0].len > 64 ? 64 : a[0].len), a[0].u.s,
                   rc == CHG_ERANGE ? "outside the years 0000 to 9999 in UTC" : "not an RFC 3339 instant");
    out_int(o, CHG_V_TIME, t);
    return 0;
}

/* parse_time(s, format): strptime in the C locale (month and day names
 * in English), fields read as UTC unless the format has %z. The text is
 * copied to a NUL-terminated stack buffer: strptime needs one. */
static int bi_parse_time(chg_ctx *ctx, const chg_value *a, chg_value *o)
{
    if (need(ctx, "parse_time", 0, &a[0], CHG_V_STR) < 0 || need(ctx, "parse_time", 1, &a[1], CHG_V_STR) < 0)
        return -1;
    char text[128], fmt[128];
    if (a[0].len >= sizeof text || a[1].len >= sizeof fmt)
        return ERR("parse_time: the text or the format is longer than 127 bytes");
    memcpy(text, a[0].u.s, a[0].len);
    text[a[0].len] = 0;
    memcpy(fmt, a[1].u.s, a[1].len);
    fmt[a[1].len] = 0;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(text, fmt, &tm);
    while (end && (*end == ' ' || *end == '\t'))
        end++;
    if (!end || *end)
        return ERR("parse_time: \"%s\" does not match the format \"%s\"", text, fmt);
    /* the year in int64: %s reads any number of seconds, and glibc makes
     * a tm_year of it as far as an int goes */
    int64_t year = (int64_t)tm.tm_year + 1900;
    if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > chg_days_in_month(year, tm.tm_mon + 1))
        return ERR("parse_time: \"%s\" is not a valid date", text);
    if (year < 0 || year > 9999)
        return ERR("parse_time: \"%s\" is outside the years 0000 to 9999", text);
    int64_t t = chg_days_from_civil(year, tm.tm_mon + 1, tm.tm_mday) * 86400 + tm.tm_hour * 3600 +
                tm.tm_min * 60 + tm.tm_sec - (int64_t)tm.tm_gmtoff;
    if (!chg_time_in_range(t))
        return ERR("parse_time: \"%s\" is outside the years 0000 to 9999 in UTC", text);
    out_int(o, CHG_V_TIME, t);
    return 0;
}

static int bi_seconds(chg_ctx *ctx, const chg_value *a, chg_value *o)
{
    if (need(ctx, "seconds", 0, &a[0], CHG_V_DUR) < 0)
        return -1;
    out_int(o, CHG_V_INT, a[0].u.i);
    return 0;
}

/* Local calendar fields of an instant in a zone the bundle loaded. The
 * zone argument is a string at run time, but the code generator lists
 * every zone named by a literal in the bundle's ZONES section, so the
 * zone is loaded with the policy and looked up here by name (a linear
 * search: bundles name few zones). A zone computed at run time that no
 * literal named is an error rather than a file read in the VM. */
static int local_fields(chg_ctx *ctx, const chg_value *a, const char *fn, int64_t *y, int *mo, int *d, int *h,
                        int *mi, int *wd)
{
    const chg_bundle *b = ctx->b;
    if (need(ctx, fn, 0, &a[0], CHG_V_TIME) < 0 || need(ctx, fn, 1, &a[1], CHG_V_STR) < 0)
        return -1;
    const chg_tz *tz = NULL;
    for (uint32_t i = 0; i < b->nzones; i++)
        if (strcmp(chg_tz_name(b->zones[i]), a[1].u.s) == 0)
            tz = b->zones[i];
    if (!tz)
        return ERR("%s: time zone '%s' was not loaded with the policy", fn, a[1].u.s);
    /* every instant the VM makes is in range; one from a crafted bundle's
     * constant or a resolver's answer is checked here, where the offset
     * is added */
    if (!chg_time_in_range(a[0].u.i))
        return ERR("%s: the instant is outside the years 0000 to 9999", fn);
    int64_t local = a[0].u.i + chg_tz_offset(tz, a[0].u.i);
    int64_t days = chg_floor_div(local, 86400);
    int64_t secs = local - days * 86400;
    chg_civil_from_days(days, y, mo, d);
    *h = (int)(secs / 3600);
    *mi = (int)(secs % 3600 / 60);
    *wd = chg_weekday_from_days(days);
    return 0;
}

#define LOCAL_FN(fname, expr, tag_)                                                                   \
    static int bi_##fname(chg_ctx *ctx, const chg_value *a, chg_value *o)                             \
    {                                                                                                 \
        int64_t y;                                                                                    \
        int mo, d, h, mi, wd;                                                                         \
        if (local_fields(ctx, a, #fname, &y, &mo, &d, &h, &mi, &wd) < 0)                              \
            return -1;                                                                                \
        (void)y, (void)mo, (void)d, (void)h, (void)mi, (void)wd;                                      \
        out_int(o, tag_, (expr));                                                                     \
        return 0;                                                                                     \
    }

LOCAL_FN(hour, h, CHG_V_INT)
LOCAL_FN(minute, mi, CHG_V_INT)
LOCAL_FN(day, d, CHG_V_INT)
LOCAL_FN(month, mo, CHG_V_INT)
LOCAL_FN(year, y, CHG_V_INT)

static int bi_weekday(chg_ctx *ctx, const chg_value *a, chg_value *o)
{
    int64_t y;
    int mo, d, h, mi, wd;
    if (local_fields(ctx, a, "weekday", &y, &mo, &d, &h, &mi, &wd) < 0)
        return -1;
    out_str(o, chg_weekday_names[wd].abbr, 3);
    return 0;
}

/* From the one list, builtins.def: its parameter kinds and docs are the
 * compiler's; actions have no entry here. */
const chg_builtin_impl chg_vm_builtin_impls[] = {
#define CHG_FUNCTION(name, impl, min, max, params, result, doc) {name, impl, min, max, false},
#define CHG_QUERY(name, min, max, params, result, doc) {name, NULL, min, max, true},
#define CHG_ACTION(name, min, max, params, doc)
#include "builtins.def"
#undef CHG_FUNCTION
#undef CHG_QUERY
#undef CHG_ACTION
};

const size_t chg_vm_nbuiltin_impls = CHG_ARRAY_LEN(chg_vm_builtin_impls);

const chg_builtin_impl *chg_vm_builtin_impl_find(const char *name)
{
    for (size_t i = 0; i < chg_vm_nbuiltin_impls; i++)
        if (strcmp(chg_vm_builtin_impls[i].name, name) == 0)
            return &chg_vm_builtin_impls[i];
    return NULL;
}
