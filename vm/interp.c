/*
 * interp.c — the interpreter: runs one block of register code to a value.
 *
 * One loop, one `switch` over the opcode (computed goto with GCC and clang),
 * one error exit. Lets are computed on first use through a small stack of
 * frames, so a chain of lets costs no C recursion. Values never own heap
 * memory: strings and lists made while evaluating live in the context's
 * scratch arena, so the loop allocates nothing once the context is warm.
 */
#define _GNU_SOURCE
#include "vm_int.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "chg_time.h"

int chg_vm_error(chg_ctx *ctx, uint32_t pc, const char *fmt, ...)
{
    if (ctx->failed)
        return -1;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof msg)
        n = sizeof msg - 1;
    char *p = chg_scratch_alloc(&ctx->scratch, (size_t)n + 1);
    if (p) {
        memcpy(p, msg, (size_t)n);
        p[n] = 0;
    }
    ctx->failed = true;
    ctx->err_pc = pc;
    ctx->err_msg = p ? p : "run-time error";
    ctx->err_len = p ? (uint32_t)n : 15;
    return -1;
}

/* The text of a path slot, for messages. */
static const char *slot_text(const chg_bundle *b, uint32_t slot, int root)
{
    for (uint32_t i = 2; i < b->npaths; i++) {
        const chg_pathnode *p = &b->paths[i];
        if (p->slot != slot)
            continue;
        uint32_t q = i;
        while (q >= 2 && b->paths[q].kind != CHG_PN_ELEM)
            q = b->paths[q].parent;
        if ((int)q == root)
            return b->str[p->text];
    }
    return "?";
}

static const char *pt_name(uint8_t t)
{
    static const char *const names[] = {"any", "bool", "int", "float", "string", "time",
                                        "duration", "one of its values", "list", "object"};
    return t <= CHG_PT_OBJECT ? names[t] : "?";
}

/* A decoded field that is missing or of the wrong type. */
static int bad_field(chg_ctx *ctx, uint32_t pc, const chg_value *v, uint32_t slot)
{
    const chg_bundle *b = ctx->b;
    const char *path = slot_text(b, slot, 0);
    if (v->tag == CHG_V_ABSENT)
        return chg_vm_error(ctx, pc, "%s is required but missing", path);
    /* BAD: flags hold the JSON kind found, layout the type expected */
    static const char *const found[] = {"an object", "an array", "a string", "an integer",
                                        "a number", "true", "false", "null"};
    const char *f = v->flags < 8 ? found[v->flags] : "something else";
    if (v->len == 1) /* a string that is not one of the enum's values, or not an instant */
        return chg_vm_error(ctx, pc, "%s: \"%s\" is not %s", path, v->u.s ? v->u.s : "",
                            v->layout == CHG_PT_TIME ? "an RFC 3339 instant" : "one of its values");
    return chg_vm_error(ctx, pc, "%s: expected %s, found %s", path, pt_name((uint8_t)v->layout), f);
}

static int type_error2(chg_ctx *ctx, uint32_t pc, const char *op, const chg_value *a, const chg_value *b)
{
    return chg_vm_error(ctx, pc, "operator '%s' cannot be applied to %s and %s", op, chg_vtag_name(a->tag),
                        chg_vtag_name(b->tag));
}

static bool numeric(const chg_value *v) { return v->tag == CHG_V_INT || v->tag == CHG_V_FLOAT; }
static double num(const chg_value *v) { return v->tag == CHG_V_INT ? (double)v->u.i : v->u.f; }

/* Values are written and copied as two 8-byte words. A value written
 * field by field and then copied whole with one 16-byte load defeats the
 * CPU's store-to-load forwarding and stalls for a dozen cycles; this keeps
 * every access a whole word. (The header word is little-endian: tag in
 * its low byte, as chg_value lays it out.) */
static inline void set_int(chg_value *r, uint8_t tag, int64_t i)
{
    r->hdr = tag;
    r->u.i = i;
}

static inline void set_float(chg_value *r, double f)
{
    r->hdr = CHG_V_FLOAT;
    r->u.f = f;
}

static inline void vcopy(chg_value *d, const chg_value *s)
{
    uint64_t h = s->hdr;
    int64_t p = s->u.i;
    __asm__("" : "+r"(h), "+r"(p)); /* keep them two words: no 16-byte merge */
    d->hdr = h;
    d->u.i = p;
}

/* Order a and b: <0, 0, >0; -2 when they cannot be ordered. */
static int order(const chg_value *a, const chg_value *b)
{
    if (numeric(a) && numeric(b)) {
        if (a->tag == CHG_V_INT && b->tag == CHG_V_INT)
            return (a->u.i > b->u.i) - (a->u.i < b->u.i);
        double x = num(a), y = num(b);
        return (x > y) - (x < y);
    }
    if (a->tag != b->tag)
        return -2;
    switch (a->tag) {
    case CHG_V_STR: {
        uint32_t n = a->len < b->len ? a->len : b->len;
        int c = memcmp(a->u.s, b->u.s, n);
        if (c)
            return c < 0 ? -1 : 1;
        return (a->len > b->len) - (a->len < b->len);
    }
    case CHG_V_TIME:
    case CHG_V_DUR:
    case CHG_V_RISK: return (a->u.i > b->u.i) - (a->u.i < b->u.i);
    default: return -2;
    }
}

/* Element i of a list value (a decoded list or a JSON array). */
static void elem(const chg_value *l, uint32_t i, chg_value *out)
{
    if (l->tag == CHG_V_LIST)
        *out = l->u.items[i];
    else {
        chg_value_from_json(json_array_get((const json_t *)l->u.json, i), out);
        if (out->tag == CHG_V_ABSENT)
            out->tag = CHG_V_NULL;
    }
}

static bool is_list(const chg_value *v)
{
    return v->tag == CHG_V_LIST || (v->tag == CHG_V_JSON && json_is_array((const json_t *)v->u.json));
}

/* Field `name` of a record or object; null when it has none. */
static int get_field(chg_ctx *ctx, uint32_t pc, const chg_value *obj, uint32_t layout, uint32_t field,
                     chg_value *out)
{
    const chg_bundle *b = ctx->b;
    uint32_t name = b->lfields[b->layouts[layout].first + field].name;
    if (obj->tag == CHG_V_NULL || obj->tag == CHG_V_ABSENT) {
        set_int(out, CHG_V_NULL, 0);
        return 0;
    }
    if (obj->tag == CHG_V_REC) {
        if (obj->layout == layout && field < obj->len) {
            *out = obj->u.items[field];
            if (out->tag == CHG_V_ABSENT)
                set_int(out, CHG_V_NULL, 0);
            return 0;
        }
        if (obj->layout < b->nlayouts) {
            const chg_layout *l = &b->layouts[obj->layout];
            for (uint32_t i = 0; i < l->count && i < obj->len; i++)
                if (strcmp(b->str[b->lfields[l->first + i].name], b->str[name]) == 0) {
                    *out = obj->u.items[i];
                    if (out->tag == CHG_V_ABSENT)
                        set_int(out, CHG_V_NULL, 0);
                    return 0;
                }
        }
        set_int(out, CHG_V_NULL, 0);
        return 0;
    }
    if (obj->tag == CHG_V_JSON && json_is_object((const json_t *)obj->u.json)) {
        chg_value_from_json(json_object_get((const json_t *)obj->u.json, b->str[name]), out);
        if (out->tag == CHG_V_ABSENT)
            set_int(out, CHG_V_NULL, 0);
        return 0;
    }
    return chg_vm_error(ctx, pc, "cannot read field '%s' of %s", b->str[name], chg_vtag_name(obj->tag));
}

static bool flag_of(void *ud, const char *name)
{
    bool v = false;
    chg_facts_flag(ud, name, &v);
    return v;
}

int chg_vm_run(chg_ctx *ctx, uint32_t block, chg_value *out)
{
    const chg_bundle *b = ctx->b;
    const chg_ins *code = b->code;
    chg_value *R = ctx->regs;
    const chg_value *slots = ctx->ev ? ctx->ev->slots : NULL;
    const chg_value *K = b->consts;
    uint32_t pc = b->blocks[block].start;
    uint32_t nframes = 0;
    const chg_ins *in;

#define A (R[in->a])
#define B (R[in->b])
#define C (R[in->c])
#define FAIL(...) return chg_vm_error(ctx, pc, __VA_ARGS__)

    /* Dispatch: computed goto where the compiler has it (one indirect jump
     * per handler predicts far better than one shared `switch` jump), a
     * plain switch elsewhere. The verifier guarantees every opcode is valid. */
#if defined(__GNUC__)
    static const void *const labels[OP__COUNT] = {
#define CHG_OP(name, fmt, doc) &&L_##name,
#include "opcodes.def"
#undef CHG_OP
    };
#define CASE(name) L_##name:
#define NEXT                                                                                  \
    do {                                                                                      \
        in = &code[pc];                                                                       \
        goto *labels[in->op];                                                                 \
    } while (0)
    NEXT;
    {
        {
#else
#define CASE(name) case OP_##name:
#define NEXT break
    for (;;) {
        in = &code[pc];
        switch ((chg_opcode)in->op) {
#endif
        CASE(LOADK) vcopy(&A, &K[in->b]); pc++; NEXT;
        CASE(LOADNULL) set_int(&A, CHG_V_NULL, 0); pc++; NEXT;
        CASE(LOADBOOL) set_int(&A, CHG_V_BOOL, in->x); pc++; NEXT;
        CASE(LOADI) set_int(&A, CHG_V_INT, (int32_t)CHG_INS_BC(*in)); pc++; NEXT;
        CASE(MOVE) vcopy(&A, &B); pc++; NEXT;
        CASE(CHANGE) {
            const chg_value *v = &slots[in->b];
            if (CHG_LIKELY(v->tag < CHG_V_ABSENT))
                vcopy(&A, v);
            else if (v->tag == CHG_V_ABSENT && in->x)
                set_int(&A, CHG_V_NULL, 0);
            else
                return bad_field(ctx, pc, v, in->b);
            pc++;
            NEXT;
        }
        CASE(EVENT) {
            const chg_value *v = ctx->ev->eslots ? &ctx->ev->eslots[in->b] : NULL;
            if (v && v->tag < CHG_V_ABSENT)
                A = *v;
            else
                set_int(&A, CHG_V_NULL, 0);
            pc++;
            NEXT;
        }
        CASE(NOW) set_int(&A, CHG_V_TIME, ctx->now); pc++; NEXT;
        CASE(RISK)
            if (ctx->risk < 0)
                FAIL("risk is not known before classify");
            set_int(&A, CHG_V_RISK, ctx->risk);
            pc++;
            NEXT;
        CASE(VAR) {
            if (in->x != 0 && !ctx->var_reason && ctx->action_d)
                chg_action_vars(ctx);
            const char *s = in->x == 0 ? ctx->var_freeze : in->x == 1 ? ctx->var_reason : ctx->var_summary;
            if (!s)
                s = "";
            A.tag = CHG_V_STR;
            A.u.s = s;
            A.len = (uint32_t)strlen(s);
            pc++;
            NEXT;
        }
        CASE(LET) {
            uint32_t l = in->b;
            if (ctx->letstate[l] == 2) {
                vcopy(&A, &ctx->letvals[l]);
                pc++;
                NEXT;
            }
            if (ctx->letstate[l] == 1 || nframes >= b->nlets)
                FAIL("let '%s' depends on itself", b->str[b->lets[l].name]);
            ctx->letstate[l] = 1;
            ctx->frames[nframes].pc = pc + 1;
            ctx->frames[nframes].let = l;
            ctx->frames[nframes].dest = in->a;
            nframes++;
            pc = b->blocks[b->lets[l].block].start;
            NEXT;
        }
        CASE(FIELD)
            if (get_field(ctx, pc, &B, in->c, in->x, &A) < 0)
                return -1;
            pc++;
            NEXT;
        CASE(INDEX) {
            const chg_value *o = &B, *k = &C;
            chg_value r;
            set_int(&r, CHG_V_NULL, 0);
            if (o->tag == CHG_V_NULL) {
                /* null[...] is null */
            } else if (is_list(o) && k->tag == CHG_V_INT) {
                uint32_t n = o->tag == CHG_V_LIST ? o->len : (uint32_t)json_array_size(o->u.json);
                if (k->u.i >= 0 && (uint64_t)k->u.i < n)
                    elem(o, (uint32_t)k->u.i, &r);
            } else if (o->tag == CHG_V_JSON && k->tag == CHG_V_STR &&
                       json_is_object((const json_t *)o->u.json)) {
                chg_value_from_json(json_object_get(o->u.json, k->u.s), &r);
                if (r.tag == CHG_V_ABSENT)
                    r.tag = CHG_V_NULL;
            } else if (o->tag == CHG_V_REC && k->tag == CHG_V_STR) {
                const chg_layout *l = &b->layouts[o->layout];
                for (uint32_t i = 0; i < l->count && i < o->len; i++)
                    if (strcmp(b->str[b->lfields[l->first + i].name], k->u.s) == 0)
                        r = o->u.items[i];
            } else
                FAIL("cannot index %s with %s", chg_vtag_name(o->tag), chg_vtag_name(k->tag));
            A = r;
            pc++;
            NEXT;
        }
        CASE(TOTIME) {
            chg_value v = B;
            if (v.tag == CHG_V_STR) {
                int64_t t;
                if (chg_time_parse_iso(v.u.s, v.len, &t) != CHG_OK)
                    FAIL("\"%.*s\" is not an RFC 3339 instant", (int)(v.len > 64 ? 64 : v.len), v.u.s);
                set_int(&v, CHG_V_TIME, t);
            } else if (v.tag != CHG_V_TIME && v.tag != CHG_V_NULL)
                FAIL("expected an instant, found %s", chg_vtag_name(v.tag));
            A = v;
            pc++;
            NEXT;
        }
        CASE(NOT)
            if (B.tag != CHG_V_BOOL)
                FAIL("operator 'not' cannot be applied to %s", chg_vtag_name(B.tag));
            set_int(&A, CHG_V_BOOL, !B.u.i);
            pc++;
            NEXT;
        CASE(NEG) {
            chg_value v = B;
            if (v.tag == CHG_V_INT || v.tag == CHG_V_DUR) {
                if (v.u.i == INT64_MIN)
                    FAIL("integer overflow in -");
                set_int(&A, v.tag, -v.u.i);
            } else if (v.tag == CHG_V_FLOAT)
                set_float(&A, -v.u.f);
            else
                FAIL("operator '-' cannot be applied to %s", chg_vtag_name(v.tag));
            pc++;
            NEXT;
        }
        CASE(ADD) {
            chg_value x = B, y = C;
            int64_t r;
            if (x.tag == CHG_V_INT && y.tag == CHG_V_INT) {
                if (__builtin_add_overflow(x.u.i, y.u.i, &r))
                    FAIL("integer overflow in %lld + %lld", (long long)x.u.i, (long long)y.u.i);
                set_int(&A, CHG_V_INT, r);
            } else if (numeric(&x) && numeric(&y))
                set_float(&A, num(&x) + num(&y));
            else if (x.tag == CHG_V_STR && y.tag == CHG_V_STR) {
                char *p = chg_scratch_alloc(&ctx->scratch, (size_t)x.len + y.len + 1);
                if (!p)
                    FAIL("out of memory");
                memcpy(p, x.u.s, x.len);
                memcpy(p + x.len, y.u.s, y.len);
                p[x.len + y.len] = 0;
                A.tag = CHG_V_STR;
                A.u.s = p;
                A.len = x.len + y.len;
            } else if ((x.tag == CHG_V_TIME && y.tag == CHG_V_DUR) || (x.tag == CHG_V_DUR && y.tag == CHG_V_TIME) ||
                       (x.tag == CHG_V_DUR && y.tag == CHG_V_DUR)) {
                if (__builtin_add_overflow(x.u.i, y.u.i, &r))
                    FAIL("time overflow in +");
                set_int(&A, x.tag == CHG_V_DUR && y.tag == CHG_V_DUR ? CHG_V_DUR : CHG_V_TIME, r);
            } else
                return type_error2(ctx, pc, "+", &x, &y);
            pc++;
            NEXT;
        }
        CASE(SUB) {
            chg_value x = B, y = C;
            int64_t r;
            if (x.tag == CHG_V_INT && y.tag == CHG_V_INT) {
                if (__builtin_sub_overflow(x.u.i, y.u.i, &r))
                    FAIL("integer overflow in %lld - %lld", (long long)x.u.i, (long long)y.u.i);
                set_int(&A, CHG_V_INT, r);
            } else if (numeric(&x) && numeric(&y))
                set_float(&A, num(&x) - num(&y));
            else if ((x.tag == CHG_V_TIME && (y.tag == CHG_V_DUR || y.tag == CHG_V_TIME)) ||
                     (x.tag == CHG_V_DUR && y.tag == CHG_V_DUR)) {
                if (__builtin_sub_overflow(x.u.i, y.u.i, &r))
                    FAIL("time overflow in -");
                set_int(&A, x.tag == CHG_V_TIME && y.tag == CHG_V_DUR ? CHG_V_TIME : CHG_V_DUR, r);
            } else
                return type_error2(ctx, pc, "-", &x, &y);
            pc++;
            NEXT;
        }
        CASE(MUL) {
            chg_value x = B, y = C;
            int64_t r;
            bool dur = (x.tag == CHG_V_DUR && y.tag == CHG_V_INT) || (x.tag == CHG_V_INT && y.tag == CHG_V_DUR);
            if ((x.tag == CHG_V_INT && y.tag == CHG_V_INT) || dur) {
                if (__builtin_mul_overflow(x.u.i, y.u.i, &r))
                    FAIL("integer overflow in %lld * %lld", (long long)x.u.i, (long long)y.u.i);
                set_int(&A, dur ? CHG_V_DUR : CHG_V_INT, r);
            } else if (numeric(&x) && numeric(&y))
                set_float(&A, num(&x) * num(&y));
            else
                return type_error2(ctx, pc, "*", &x, &y);
            pc++;
            NEXT;
        }
        CASE(DIV)
        CASE(MOD) {
            chg_value x = B, y = C;
            bool div = in->op == OP_DIV;
            bool ints = (x.tag == CHG_V_INT || x.tag == CHG_V_DUR) && (y.tag == CHG_V_INT || y.tag == CHG_V_DUR);
            bool ok_types = div ? (x.tag == CHG_V_INT && y.tag == CHG_V_INT) || (x.tag == CHG_V_DUR && ints)
                                : (x.tag == CHG_V_INT && y.tag == CHG_V_INT) || (x.tag == CHG_V_DUR && y.tag == CHG_V_DUR);
            if (ok_types) {
                if (y.u.i == 0)
                    FAIL("division by zero");
                if (x.u.i == INT64_MIN && y.u.i == -1)
                    FAIL("integer overflow in %s", div ? "/" : "%");
                int64_t r = div ? x.u.i / y.u.i : x.u.i % y.u.i;
                uint8_t tag = x.tag == CHG_V_DUR && y.tag == CHG_V_INT ? CHG_V_DUR
                              : x.tag == CHG_V_DUR && y.tag == CHG_V_DUR && !div ? CHG_V_DUR
                                                                                : CHG_V_INT;
                set_int(&A, tag, r);
            } else if (div && numeric(&x) && numeric(&y)) {
                if (num(&y) == 0)
                    FAIL("division by zero");
                set_float(&A, num(&x) / num(&y));
            } else
                return type_error2(ctx, pc, div ? "/" : "%", &x, &y);
            pc++;
            NEXT;
        }
        CASE(EQ) set_int(&A, CHG_V_BOOL, chg_value_equal(&B, &C)); pc++; NEXT;
        CASE(NE) set_int(&A, CHG_V_BOOL, !chg_value_equal(&B, &C)); pc++; NEXT;
        CASE(EQK)
        CASE(NEK) {
            const chg_value *x = &B, *k = &K[in->c];
            bool eq;
            if (x->tag == CHG_V_STR && k->tag == CHG_V_STR)
                eq = x->len == k->len && (x->u.s == k->u.s || memcmp(x->u.s, k->u.s, x->len) == 0);
            else
                eq = chg_value_equal(x, k);
            set_int(&A, CHG_V_BOOL, in->op == OP_EQK ? eq : !eq);
            pc++;
            NEXT;
        }
        CASE(LT)
        CASE(LE) {
            int o = order(&B, &C);
            if (o == -2)
                FAIL("cannot compare %s with %s", chg_vtag_name(B.tag), chg_vtag_name(C.tag));
            set_int(&A, CHG_V_BOOL, in->op == OP_LT ? o < 0 : o <= 0);
            pc++;
            NEXT;
        }
        CASE(IN) {
            const chg_value *x = &B, *l = &C;
            bool found = false;
            if (is_list(l)) {
                uint32_t n = l->tag == CHG_V_LIST ? l->len : (uint32_t)json_array_size(l->u.json);
                for (uint32_t i = 0; i < n && !found; i++) {
                    chg_value e;
                    elem(l, i, &e);
                    found = chg_value_equal(x, &e);
                }
            } else if (l->tag == CHG_V_STR && x->tag == CHG_V_STR)
                found = x->len == 0 || memmem(l->u.s, l->len, x->u.s, x->len) != NULL;
            else
                FAIL("cannot look for %s in %s", chg_vtag_name(x->tag), chg_vtag_name(l->tag));
            set_int(&A, CHG_V_BOOL, found);
            pc++;
            NEXT;
        }
        CASE(INSET) {
            if (B.tag != CHG_V_TIME)
                FAIL("expected an instant on the left of 'in %s', found %s", b->str[b->timesets[in->c].name],
                     chg_vtag_name(B.tag));
            chg_ts_env env = {flag_of, (void *)ctx->facts};
            set_int(&A, CHG_V_BOOL, chg_tsx_contains(b->timesets[in->c].ts, &env, &ctx->ts_index[in->c], B.u.i));
            pc++;
            NEXT;
        }
        CASE(MATCH) {
            if (B.tag != CHG_V_STR)
                FAIL("'matches' needs a string, found %s", chg_vtag_name(B.tag));
            int rc = pcre2_match(b->regexes[in->c], (PCRE2_SPTR)B.u.s, B.len, 0, 0, ctx->match, NULL);
            if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
                PCRE2_UCHAR msg[120];
                pcre2_get_error_message(rc, msg, sizeof msg);
                FAIL("regular expression failed: %s", (const char *)msg);
            }
            set_int(&A, CHG_V_BOOL, rc >= 0);
            pc++;
            NEXT;
        }
        CASE(CONCAT) {
            const char *parts[256];
            uint32_t lens[256];
            size_t total = 0;
            for (uint32_t i = 0; i < in->x; i++) {
                parts[i] = chg_value_to_scratch(ctx, &R[in->b + i], &lens[i]);
                if (!parts[i])
                    FAIL("out of memory");
                total += lens[i];
            }
            char *p = chg_scratch_alloc(&ctx->scratch, total + 1);
            if (!p)
                FAIL("out of memory");
            size_t at = 0;
            for (uint32_t i = 0; i < in->x; i++) {
                memcpy(p + at, parts[i], lens[i]);
                at += lens[i];
            }
            p[at] = 0;
            A.tag = CHG_V_STR;
            A.flags = 0;
            A.u.s = p;
            A.len = (uint32_t)total;
            pc++;
            NEXT;
        }
        CASE(LIST)
        CASE(RECORD) {
            chg_value *items = chg_scratch_alloc(&ctx->scratch, sizeof(chg_value) * (in->x ? in->x : 1));
            if (!items)
                FAIL("out of memory");
            memcpy(items, &R[in->b], sizeof(chg_value) * in->x);
            A.tag = in->op == OP_LIST ? CHG_V_LIST : CHG_V_REC;
            A.flags = 0;
            A.layout = in->op == OP_RECORD ? in->c : 0;
            A.len = in->x;
            A.u.items = items;
            pc++;
            NEXT;
        }
        CASE(CALL) {
            chg_value r;
            if (b->builtins[in->c](ctx, &R[in->b], in->x, &r, b) < 0) {
                ctx->err_pc = pc;
                return -1;
            }
            A = r;
            pc++;
            NEXT;
        }
        CASE(QUERY) {
            const char *name = b->builtin_info[in->c]->name;
            const chg_value *ans = NULL;
            chg_value rv;
            if (ctx->resolver) {
                if (ctx->resolver(ctx->resolver_ud, name, &R[in->b], in->x, &rv) == 0)
                    ans = &rv;
            } else if (ctx->facts)
                ans = chg_facts_answer(ctx->facts, name, &R[in->b], in->x);
            if (ans && ctx->nqlog < CHG_QLOG_MAX) {
                chg_qlog *q = &ctx->qlog[ctx->nqlog++];
                q->call = name;
                q->nargs = in->x < 4 ? in->x : 4;
                for (uint32_t i = 0; i < q->nargs; i++)
                    q->args[i] = R[in->b + i];
                q->result = *ans;
            }
            if (!ans) {
                char args[256];
                size_t n = 0;
                for (uint32_t i = 0; i < in->x && n < sizeof args - 8; i++) {
                    chg_buf t;
                    chg_buf_init(&t);
                    chg_value_json(b, &R[in->b + i], &t);
                    n += (size_t)snprintf(args + n, sizeof args - n, "%s%s", i ? ", " : "", t.data ? t.data : "");
                    chg_buf_free(&t);
                }
                args[n < sizeof args ? n : sizeof args - 1] = 0;
                FAIL("no answer for %s(%s): give it in the facts (\"queries\") or with 'given' in a test", name,
                     args);
            }
            A = *ans;
            pc++;
            NEXT;
        }
        CASE(JMP) pc = CHG_INS_BC(*in); NEXT;
        CASE(JMPT)
        CASE(JMPF)
            if (A.tag != CHG_V_BOOL)
                FAIL("expected a bool, found %s", chg_vtag_name(A.tag));
            pc = (A.u.i != 0) == (in->op == OP_JMPT) ? CHG_INS_BC(*in) : pc + 1;
            NEXT;
        CASE(JMPNN) pc = A.tag != CHG_V_NULL ? CHG_INS_BC(*in) : pc + 1; NEXT;
        CASE(FORPREP)
            if (A.tag != CHG_V_NULL && !is_list(&A))
                FAIL("cannot iterate over %s", chg_vtag_name(A.tag));
            set_int(&R[in->a + 1], CHG_V_INT, -1);
            pc++;
            NEXT;
        CASE(FORNEXT) {
            const chg_value *l = &A;
            uint32_t n = l->tag == CHG_V_LIST ? l->len
                         : l->tag == CHG_V_JSON ? (uint32_t)json_array_size(l->u.json)
                                                : 0;
            int64_t i = ++R[in->a + 1].u.i;
            if (i >= (int64_t)n)
                pc = CHG_INS_BC(*in);
            else {
                elem(l, (uint32_t)i, &R[in->a + 2]);
                pc++;
            }
            NEXT;
        }
        CASE(RET)
            if (nframes == 0) {
                vcopy(out, &A);
                return 0;
            } else {
                chg_frame *f = &ctx->frames[--nframes];
                vcopy(&ctx->letvals[f->let], &A);
                ctx->letstate[f->let] = 2;
                vcopy(&R[f->dest], &A);
                pc = f->pc;
            }
            NEXT;
#if !defined(__GNUC__)
        default:
            FAIL("invalid instruction %u", in->op);
#endif
        }
    }
#undef CASE
#undef NEXT
#undef A
#undef B
#undef C
#undef FAIL
}
