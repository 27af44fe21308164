/*
 * interp.c — the interpreter: runs one block of register code to a value.
 *
 * One loop, one `switch` over the opcode (computed goto with GCC and clang).
 * Every run-time error leaves through FAIL, which records the message and
 * the pc (chg_vm_error) and returns -1; nothing needs unwinding, since the
 * loop holds no resource but the scratch arena. Lets are computed on first use through a small stack of
 * frames, so a chain of lets costs no C recursion. Values never own heap
 * memory: strings and lists made while evaluating live in the context's
 * scratch arena, so the loop allocates nothing once the context is warm.
 *
 * The division of labour with the loader: chg_bundle_load verified every
 * index an instruction can hold before the bundle could run, so this file
 * reads operands without checking them (that is where a VM's time goes);
 * it checks only what depends on the change being judged. A run-time
 * error is never a crash: it records a message and the failing pc
 * (chg_vm_error) and returns -1, and the decision becomes `error`.
 */
#define _GNU_SOURCE
#include "vm_int.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "chg_time.h"

/* CHG_VM_SWITCH selects the portable paths even where GNU C is at hand:
 * the `switch` dispatch and the value copy without inline asm. The tests
 * build the VM tests a second time that way (tests/CMakeLists.txt), so
 * both paths are compiled with -Werror and run. */
#if defined(__GNUC__) && !defined(CHG_VM_SWITCH)
#define VM_GOTO 1
#if defined(__x86_64__) || defined(__aarch64__)
#define VM_ASM_COPY 1
#endif
#endif

/* The message goes to the scratch arena, not the heap: a decision that
 * fails must not allocate either, and the message lives exactly as long
 * as the decision that shows it. The first error of an evaluation stands;
 * later ones (a caller adding context) are dropped. */
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
    /* the message may be the very thing the scratch budget has no room
     * for: it is allowed past the cap, once per evaluation */
    size_t cap = ctx->scratch.cap;
    ctx->scratch.cap = 0;
    char *p = chg_arena_alloc_raw(&ctx->scratch, (size_t)n + 1);
    ctx->scratch.cap = cap;
    if (p) {
        memcpy(p, msg, (size_t)n);
        p[n] = 0;
    }
    ctx->failed = true;
    ctx->err_pc = pc;
    /* no room for the message is itself out of memory (chg_eval turns
     * the decision into that error, as scratch.failed is set) */
    ctx->oom |= !p;
    ctx->err_msg = p ? p : "out of memory";
    ctx->err_len = p ? (uint32_t)n : 13;
    return -1;
}

/* The step budget. Blocks are charged their length when they start (a
 * let's block when it is computed) and a loop its body's length at each
 * iteration, so what is charged bounds the instructions run from above
 * without a count in the dispatch; operators and built-ins whose work
 * grows with their input charge it too (CHG_STEP_BYTES per step). */
int chg_vm_charge(chg_ctx *ctx, uint32_t pc, uint64_t n)
{
    if (CHG_LIKELY(ctx->steps_left >= n)) {
        ctx->steps_left -= n;
        return 0;
    }
    ctx->steps_left = 0;
    return chg_vm_error(ctx, pc,
                        "step budget exceeded: the decision needs more than %llu steps (raise it with "
                        "'limits { steps: N }')",
                        (unsigned long long)ctx->b->limits.steps);
}

int chg_vm_scratch_error(chg_ctx *ctx, uint32_t pc)
{
    if (ctx->scratch.over_cap)
        return chg_vm_error(ctx, pc,
                            "scratch budget exceeded: the decision needs more than %llu bytes of memory (raise it "
                            "with 'limits { scratch: N }')",
                            (unsigned long long)ctx->b->limits.scratch);
    return chg_vm_nomem(ctx, pc);
}

/* The nodes of a JSON value (and a step per 64 bytes of its strings),
 * counted no further than cap: what comparing it may cost. Recursion is
 * bounded by jansson's parsing depth. */
static uint64_t json_cost(const json_t *j, uint64_t cap)
{
    uint64_t n = 1;
    if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j) && n < cap; i++)
            n += json_cost(json_array_get(j, i), cap - n);
    } else if (json_is_object(j)) {
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)j, key, val) {
            if (n >= cap)
                break;
            n += json_cost(val, cap - n);
        }
    } else if (json_is_string(j))
        n += json_string_length(j) / CHG_STEP_BYTES;
    return n;
}

/* What comparing v with another value may cost beyond the instruction:
 * a long string its bytes, a list its elements, a JSON value its nodes
 * (counted only as far as the budget left, so counting is bounded too).
 * Short strings and scalars cost nothing more. */
static inline uint64_t cmp_cost(const chg_ctx *ctx, const chg_value *v)
{
    if (v->tag == CHG_V_STR)
        return v->len > CHG_STEP_BYTES ? chg_vm_byte_steps(v->len) : 0;
    if (v->tag == CHG_V_LIST)
        return v->len;
    if (v->tag == CHG_V_JSON)
        return json_cost(v->u.json, ctx->steps_left + 1);
    return 0;
}

int chg_vm_nomem(chg_ctx *ctx, uint32_t pc)
{
    ctx->oom = true;
    return chg_vm_error(ctx, pc, "out of memory");
}

/* The text of a path slot, for messages. A linear scan of the path table:
 * only error messages need it, so slots keep no back pointer. Slot numbers
 * are per root (root 0 the change, 1 the raw event), hence the walk up to
 * the root (or to a list element, whose fields have no slot of a root). */
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
    CHG_ASSERT(v->tag == CHG_V_ABSENT || v->tag == CHG_V_BAD);
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
    return chg_vm_error(ctx, pc, "operator '%s' cannot be applied to %s and %s", op, chg_vm_vtag_name(a->tag),
                        chg_vm_vtag_name(b->tag));
}

static bool numeric(const chg_value *v) { return v->tag == CHG_V_INT || v->tag == CHG_V_FLOAT; }
static double num(const chg_value *v) { return v->tag == CHG_V_INT ? (double)v->u.i : v->u.f; }

/* Float arithmetic that leaves the finite numbers is an error, not a
 * value: JSON has no NaN or infinity to write, and a NaN compares false
 * with everything, so `x <= y` and `x >= y` would both be false and
 * `not (x < y)` would not mean `x >= y`. No NaN or infinity can then
 * reach a comparison (JSON input and literals are finite). */
#define FLOAT_RESULT(op, r)                                                                   \
    do {                                                                                      \
        double r_ = (r);                                                                      \
        if (CHG_UNLIKELY(!isfinite(r_)))                                                      \
            FAIL("float overflow in %s: the result is %s", op, isnan(r_) ? "not a number" : "infinite"); \
        set_float(&A, r_);                                                                    \
    } while (0)

/* An instant made by arithmetic must stay in the years 0000-9999. */
#define TIME_RESULT(op, r)                                                                    \
    do {                                                                                      \
        if (CHG_UNLIKELY(!chg_time_in_range(r)))                                              \
            FAIL("time overflow in %s: the instant would be outside the years 0000 to 9999", op); \
    } while (0)

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
#ifdef VM_ASM_COPY
    /* An empty asm that claims to change both words: the compiler can no
     * longer merge the two loads into one 16-byte load. Only where it was
     * measured (x86-64, AArch64, GNU C); elsewhere the plain copy below is
     * as correct, if perhaps slower. */
    __asm__("" : "+r"(h), "+r"(p)); /* keep them two words: no 16-byte merge */
#endif
    d->hdr = h;
    d->u.i = p;
}

/* Order a and b: <0, 0, >0; -2 when they cannot be ordered. Strings
 * order by bytes (UTF-8 byte order is code point order), not by locale:
 * a decision must not depend on the machine. Int against float compares
 * exactly, as `==` does (chg_vm_value_equal); a NaN (only a crafted
 * bundle's constant can be one) orders with nothing. */
static int order(const chg_value *a, const chg_value *b)
{
    if (numeric(a) && numeric(b)) {
        if (a->tag == CHG_V_INT && b->tag == CHG_V_INT)
            return (a->u.i > b->u.i) - (a->u.i < b->u.i);
        if (a->tag == CHG_V_FLOAT && b->tag == CHG_V_FLOAT) {
            double x = a->u.f, y = b->u.f;
            return x != x || y != y ? -2 : (x > y) - (x < y);
        }
        /* an int against a float exactly, not as two doubles: 2^53 + 1
         * is more than 2^53.0 */
        if (a->tag == CHG_V_INT)
            return chg_vm_cmp_int_float(a->u.i, b->u.f);
        int o = chg_vm_cmp_int_float(b->u.i, a->u.f);
        return o == -2 ? -2 : -o;
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

/* Element i of a list value (a decoded list or a JSON array); callers
 * have checked i against the length. A JSON array stays jansson's: only
 * the element read is converted, and a JSON null reads as null. */
static void elem(const chg_value *l, uint32_t i, chg_value *out)
{
    if (l->tag == CHG_V_LIST) {
        CHG_ASSERT(i < l->len);
        *out = l->u.items[i];
    } else {
        CHG_ASSERT(l->tag == CHG_V_JSON && i < json_array_size((const json_t *)l->u.json));
        chg_vm_value_from_json(json_array_get((const json_t *)l->u.json, i), out);
        if (out->tag == CHG_V_ABSENT)
            out->tag = CHG_V_NULL;
    }
}

static bool is_list(const chg_value *v)
{
    return v->tag == CHG_V_LIST || (v->tag == CHG_V_JSON && json_is_array((const json_t *)v->u.json));
}

/* Field `field` of layout `layout` of a record or object; null when it
 * has none. The fast path is a record of that very layout: the field is
 * an index. A record of another layout (the same field read on elements
 * of two different lists) and a JSON object are searched by name. */
static int get_field(chg_ctx *ctx, uint32_t pc, const chg_value *obj, uint32_t layout, uint32_t field,
                     chg_value *out)
{
    const chg_bundle *b = ctx->b;
    CHG_ASSERT(layout < b->nlayouts && field < b->layouts[layout].count); /* 'Y' and 'F' operands */
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
        chg_vm_value_from_json(json_object_get((const json_t *)obj->u.json, b->str[name]), out);
        if (out->tag == CHG_V_ABSENT)
            set_int(out, CHG_V_NULL, 0);
        return 0;
    }
    return chg_vm_error(ctx, pc, "cannot read field '%s' of %s", b->str[name], chg_vm_vtag_name(obj->tag));
}

static bool flag_of(void *ud, const char *name)
{
    bool v = false;
    chg_vm_facts_flag(ud, name, &v);
    return v;
}

#ifdef CHG_DEBUG_ASSERTS
/* The block instruction pc belongs to: blocks tile the code in order
 * (load_blocks), so a bisection finds it. For the assertions only. */
static const chg_block *block_of(const chg_bundle *b, uint32_t pc)
{
    uint32_t lo = 0, hi = b->nblocks;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (b->blocks[mid].start <= pc)
            lo = mid;
        else
            hi = mid;
    }
    CHG_ASSERT(pc >= b->blocks[lo].start && pc < b->blocks[lo].start + b->blocks[lo].len);
    return &b->blocks[lo];
}
#define SET_CUR(blk) (cur = (blk))
#else
#define SET_CUR(blk) ((void)0)
#endif

/*
 * Run block `block` to its RET. The loop's state is three locals: pc (an
 * absolute instruction index), `in` (the instruction at pc) and nframes
 * (how deep in lets). Operands are used as the verifier left them: no
 * handler checks a register, constant, slot, layout, time set, regex,
 * built-in or jump target, because chg_bundle_load rejected every bundle
 * where one is out of range (verify.c, invariant I1: one check per
 * format letter of opcodes.def). The CHG_ASSERTs restate those proofs
 * where each handler relies on them, for debug builds; the checks that
 * remain at run time are about values (types, overflow, null), which
 * depend on the change and cannot be verified ahead.
 */
static int run_code(chg_ctx *ctx, uint32_t block, chg_value *out);

bool chg_vm_shortcuts(chg_bundle *b)
{
    b->shortcuts = chg_arena_alloc(&b->arena, ((size_t)b->nblocks + 1) * sizeof *b->shortcuts);
    if (!b->shortcuts)
        return false;
    for (uint32_t i = 0; i < b->nblocks; i++) {
        const chg_block *k = &b->blocks[i];
        if (k->len >= 3) {
            /* LET rX l; JMPF/JMPT rX ->last; ...; last: RET rX (the
             * verifier checked the let, the registers and the target) */
            const chg_ins *let = &b->code[k->start], *jmp = let + 1, *last = &b->code[k->start + k->len - 1];
            if (let->op == CHG_OP_LET && (jmp->op == CHG_OP_JMPF || jmp->op == CHG_OP_JMPT) && jmp->a == let->a &&
                CHG_INS_BC(*jmp) == k->start + k->len - 1 && last->op == CHG_OP_RET && last->a == let->a)
                b->shortcuts[i] = (chg_vm_shortcut){jmp->op == CHG_OP_JMPF ? CHG_SC_LET_FALSE : CHG_SC_LET_TRUE,
                                                    let->b};
            continue;
        }
        if (k->len != 2)
            continue;
        const chg_ins *read = &b->code[k->start], *ret = read + 1;
        if (ret->op != CHG_OP_RET || ret->a != read->a)
            continue;
        /* the verifier checked the operands: the let and slot exist */
        if (read->op == CHG_OP_LET)
            b->shortcuts[i] = (chg_vm_shortcut){CHG_SC_LET, read->b};
        else if (read->op == CHG_OP_CHANGE)
            b->shortcuts[i] = (chg_vm_shortcut){CHG_SC_CHANGE, read->b};
    }
    return true;
}

int chg_vm_run(chg_ctx *ctx, uint32_t block, chg_value *out)
{
    /* the shortcut: a block that is one read, of a value that is there */
    const chg_vm_shortcut sc = ctx->b->shortcuts[block];
    if (sc.kind == CHG_SC_LET && ctx->letstate[sc.arg] == 2 && CHG_LIKELY(ctx->steps_left >= 2)) {
        ctx->steps_left -= 2;
        vcopy(out, &ctx->letvals[sc.arg]);
        return 0;
    }
    if (sc.kind == CHG_SC_CHANGE && ctx->ev && ctx->ev->slots[sc.arg].tag < CHG_V_ABSENT &&
        CHG_LIKELY(ctx->steps_left >= 2)) {
        ctx->steps_left -= 2;
        vcopy(out, &ctx->ev->slots[sc.arg]);
        return 0;
    }
    if (sc.kind >= CHG_SC_LET_FALSE && ctx->letstate[sc.arg] == 2) {
        /* LET, the jump taken, RET: the let's value, if it is the bool
         * that jumps */
        const chg_value *v = &ctx->letvals[sc.arg];
        uint32_t len = ctx->b->blocks[block].len;
        if (v->tag == CHG_V_BOOL && (v->u.i != 0) == (sc.kind == CHG_SC_LET_TRUE) &&
            CHG_LIKELY(ctx->steps_left >= len)) {
            ctx->steps_left -= len;
            vcopy(out, v);
            return 0;
        }
    }
    return run_code(ctx, block, out);
}

/* Run block `block` as code (chg_vm_run, which takes the shortcuts). */
static int run_code(chg_ctx *ctx, uint32_t block, chg_value *out)
{
    const chg_bundle *b = ctx->b;
    CHG_ASSERT(block < b->nblocks);
    const chg_ins *code = b->code;
    chg_value *R = ctx->regs;
    const chg_value *slots = ctx->ev ? ctx->ev->slots : NULL;
    const chg_value *K = b->consts;
    uint32_t pc = b->blocks[block].start;
    uint32_t nframes = 0;
    const chg_ins *in;
    /* The block being run, for the assertions only (release builds never
     * read it): a let moves it to the let's block, its RET back. */
    const chg_block *cur = &b->blocks[block];
    CHG_ASSERT((uint32_t)cur->reg_base + cur->nregs <= b->nregs); /* ctx->regs has nregs */
    if (chg_vm_charge(ctx, pc, cur->len) < 0)
        return -1;

#define A (R[in->a])
#define B (R[in->b])
#define C (R[in->c])
#define FAIL(...) return chg_vm_error(ctx, pc, __VA_ARGS__)
#define CHARGE(n) \
    do { \
        if (CHG_UNLIKELY(chg_vm_charge(ctx, pc, (n)) < 0)) \
            return -1; \
    } while (0)
#define SCRATCH_FAIL() return chg_vm_scratch_error(ctx, pc)

    /* What verify.c proved about the instruction at hand (I1). */
#define IN_WINDOW(r) ((uint32_t)(r) >= cur->reg_base && (uint32_t)(r) < (uint32_t)cur->reg_base + cur->nregs)
#define ASSERT_R(r) CHG_ASSERT(IN_WINDOW(r))
#define ASSERT_RABC() \
    do { \
        ASSERT_R(in->a); \
        ASSERT_R(in->b); \
        ASSERT_R(in->c); \
    } while (0)
#define ASSERT_RUN(r, n) CHG_ASSERT((n) == 0 || (IN_WINDOW(r) && IN_WINDOW((uint32_t)(r) + (n) - 1)))
#define ASSERT_JUMP() CHG_ASSERT(CHG_INS_BC(*in) >= cur->start && CHG_INS_BC(*in) < cur->start + cur->len)
#define ASSERT_INS()                                                                          \
    do {                                                                                      \
        CHG_ASSERT(pc >= cur->start && pc < cur->start + cur->len);                           \
        CHG_ASSERT(in->op < CHG_OP__COUNT);                                                       \
    } while (0)

    /* Dispatch: computed goto where the compiler has it (one indirect jump
     * per handler predicts far better than one shared `switch` jump), a
     * plain switch elsewhere or with CHG_VM_SWITCH. The verifier
     * guarantees every opcode is valid, so the goto table needs no bounds
     * check and the switch's default is unreachable for a loaded bundle.
     * Each handler starts with its meaning, as opcodes.def has it (a test,
     * tests/vm/opcode_comments.py, keeps the two equal). */
#ifdef VM_GOTO
    static const void *const labels[CHG_OP__COUNT] = {
#define CHG_OP(name, fmt, doc) &&L_##name,
#include "opcodes.def"
#undef CHG_OP
    };
#define CASE(name) L_##name:
#define NEXT                                                                                  \
    do {                                                                                      \
        in = &code[pc];                                                                       \
        ASSERT_INS();                                                                         \
        goto *labels[in->op];                                                                 \
    } while (0)
    NEXT;
    {
        {
#else
#define CASE(name) case CHG_OP_##name:
#define NEXT break
    for (;;) {
        in = &code[pc];
        ASSERT_INS();
        switch ((chg_opcode)in->op) {
#endif
        /* LOADK: R[a] = K[b] */
        CASE(LOADK)
            ASSERT_R(in->a);
            CHG_ASSERT(in->b < b->nconsts);
            vcopy(&A, &K[in->b]);
            pc++;
            NEXT;
        /* LOADNULL: R[a] = null */
        CASE(LOADNULL) ASSERT_R(in->a); set_int(&A, CHG_V_NULL, 0); pc++; NEXT;
        /* LOADBOOL: R[a] = x (false or true) */
        CASE(LOADBOOL)
            ASSERT_R(in->a);
            CHG_ASSERT(in->x <= 1);
            set_int(&A, CHG_V_BOOL, in->x);
            pc++;
            NEXT;
        /* LOADI: R[a] = the integer immediate b + (c << 16) */
        CASE(LOADI) ASSERT_R(in->a); set_int(&A, CHG_V_INT, (int32_t)CHG_INS_BC(*in)); pc++; NEXT;
        /* MOVE: R[a] = R[b] */
        CASE(MOVE) ASSERT_R(in->a); ASSERT_R(in->b); vcopy(&A, &B); pc++; NEXT;
        /* CHANGE: R[a] = the change's field at slot b; absent: null if x, else a run-time error */
        CASE(CHANGE) {
            ASSERT_R(in->a);
            CHG_ASSERT(slots != NULL && in->b < b->nslots_change);
            /* decoded slots hold plain values, or ABSENT / BAD (the tags
             * after every plain one), so one compare takes the common case */
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
        /* EVENT: R[a] = the raw event's field at slot b (null when absent) */
        CASE(EVENT) {
            ASSERT_R(in->a);
            CHG_ASSERT(ctx->ev != NULL && in->b < b->nslots_event);
            const chg_value *v = ctx->ev->eslots ? &ctx->ev->eslots[in->b] : NULL;
            if (v && v->tag < CHG_V_ABSENT)
                A = *v;
            else
                set_int(&A, CHG_V_NULL, 0);
            pc++;
            NEXT;
        }
        /* NOW: R[a] = now, the instant the change is judged at */
        CASE(NOW) ASSERT_R(in->a); set_int(&A, CHG_V_TIME, ctx->now); pc++; NEXT;
        /* RISK: R[a] = the change's risk class */
        CASE(RISK)
            ASSERT_R(in->a);
            if (ctx->risk < 0) /* read before classify: the checker forbids it, a bundle may not */
                FAIL("risk is not known before classify");
            CHG_ASSERT((uint32_t)ctx->risk < b->nrisks); /* an arm's class, checked at load */
            set_int(&A, CHG_V_RISK, ctx->risk);
            pc++;
            NEXT;
        /* VAR: R[a] = context variable x: the freeze that applies, reason or summary */
        CASE(VAR) {
            ASSERT_R(in->a);
            CHG_ASSERT(in->x <= 2);
            /* reason and summary cost a scan of the decision: made when an
             * action first reads one, not for every decision */
            if (in->x != 0 && !ctx->var_reason && ctx->action_d)
                chg_vm_action_vars(ctx);
            const char *s = in->x == 0 ? ctx->var_freeze : in->x == 1 ? ctx->var_reason : ctx->var_summary;
            if (!s)
                s = "";
            A.tag = CHG_V_STR;
            A.u.s = s;
            A.len = (uint32_t)strlen(s);
            pc++;
            NEXT;
        }
        /* LET: R[a] = let b, running its block on first use in a decision */
        CASE(LET) {
            ASSERT_R(in->a);
            CHG_ASSERT(in->b < b->nlets);
            uint32_t l = in->b;
            CHG_ASSERT(ctx->letstate[l] <= 2);
            if (ctx->letstate[l] == 2) {
                vcopy(&A, &ctx->letvals[l]);
                pc++;
                NEXT;
            }
            /* A let being computed (state 1) that is asked for again is a
             * cycle; the checker rejects those, but a bundle is not
             * trusted to be acyclic, so this is a run-time error. With no
             * cycle at most nlets frames are live, the size of ctx->frames. */
            if (ctx->letstate[l] == 1 || nframes >= b->nlets)
                FAIL("let '%s' depends on itself", b->str[b->lets[l].name]);
            const chg_block *lb = &b->blocks[b->lets[l].block];
            CHG_ASSERT(b->lets[l].block < b->nblocks && lb->kind == CHG_B_LET);
            /* the let's window overlaps the caller's nowhere, so running it
             * here leaves every register the caller holds intact */
            CHG_ASSERT(lb->reg_base >= cur->reg_base + cur->nregs || cur->reg_base >= lb->reg_base + lb->nregs);
            CHARGE(lb->len);
            ctx->letstate[l] = 1;
            ctx->frames[nframes].pc = pc + 1;
            ctx->frames[nframes].let = l;
            ctx->frames[nframes].dest = in->a;
            nframes++;
            pc = lb->start;
            SET_CUR(lb);
            NEXT;
        }
        /* FIELD: R[a] = field x of layout c of R[b] (a record, or an object by name); null if R[b] is null */
        CASE(FIELD)
            ASSERT_R(in->a);
            ASSERT_R(in->b);
            CHG_ASSERT(in->c < b->nlayouts && in->x < b->layouts[in->c].count);
            if (get_field(ctx, pc, &B, in->c, in->x, &A) < 0)
                return -1;
            pc++;
            NEXT;
        /* INDEX: R[a] = R[b][R[c]]: list element (null out of range) or field by name */
        CASE(INDEX) {
            ASSERT_RABC();
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
                chg_vm_value_from_json(json_object_get(o->u.json, k->u.s), &r);
                if (r.tag == CHG_V_ABSENT)
                    r.tag = CHG_V_NULL;
            } else if (o->tag == CHG_V_REC && k->tag == CHG_V_STR) {
                /* records come from RECORD or the decoder, both with a
                 * verified layout and one item per field of it */
                CHG_ASSERT(o->layout < b->nlayouts && o->len <= b->layouts[o->layout].count);
                const chg_layout *l = &b->layouts[o->layout];
                for (uint32_t i = 0; i < l->count && i < o->len; i++)
                    if (strcmp(b->str[b->lfields[l->first + i].name], k->u.s) == 0)
                        r = o->u.items[i];
            } else
                FAIL("cannot index %s with %s", chg_vm_vtag_name(o->tag), chg_vm_vtag_name(k->tag));
            A = r;
            pc++;
            NEXT;
        }
        /* TOTIME: R[a] = R[b] as an instant: times pass, RFC 3339 strings are parsed, null stays */
        CASE(TOTIME) {
            ASSERT_R(in->a);
            ASSERT_R(in->b);
            chg_value v = B;
            if (v.tag == CHG_V_STR) {
                int64_t t;
                int rc = chg_time_parse_iso(v.u.s, v.len, &t);
                if (rc != CHG_OK)
                    FAIL("\"%.*s\" is %s", (int)(v.len > 64 ? 64 : v.len), v.u.s,
                         rc == CHG_ERANGE ? "outside the years 0000 to 9999 in UTC" : "not an RFC 3339 instant");
                set_int(&v, CHG_V_TIME, t);
            } else if (v.tag != CHG_V_TIME && v.tag != CHG_V_NULL)
                FAIL("expected an instant, found %s", chg_vm_vtag_name(v.tag));
            A = v;
            pc++;
            NEXT;
        }
        /* NOT: R[a] = not R[b] */
        CASE(NOT)
            ASSERT_R(in->a);
            ASSERT_R(in->b);
            if (B.tag != CHG_V_BOOL)
                FAIL("operator 'not' cannot be applied to %s", chg_vm_vtag_name(B.tag));
            set_int(&A, CHG_V_BOOL, !B.u.i);
            pc++;
            NEXT;
        /* NEG: R[a] = -R[b] (int overflow is an error) */
        CASE(NEG) {
            ASSERT_R(in->a);
            ASSERT_R(in->b);
            chg_value v = B;
            if (v.tag == CHG_V_INT || v.tag == CHG_V_DUR) {
                if (v.u.i == INT64_MIN)
                    FAIL("integer overflow in -");
                set_int(&A, v.tag, -v.u.i);
            } else if (v.tag == CHG_V_FLOAT)
                set_float(&A, -v.u.f);
            else
                FAIL("operator '-' cannot be applied to %s", chg_vm_vtag_name(v.tag));
            pc++;
            NEXT;
        }
        /* The arithmetic handlers copy their operands first (x, y): R[a]
         * may be R[b] or R[c], and is written before they are last read. */
        /* ADD: R[a] = R[b] + R[c]: numbers, strings, time + duration, durations */
        CASE(ADD) {
            ASSERT_RABC();
            chg_value x = B, y = C;
            int64_t r;
            if (x.tag == CHG_V_INT && y.tag == CHG_V_INT) {
                if (__builtin_add_overflow(x.u.i, y.u.i, &r))
                    FAIL("integer overflow in %lld + %lld", (long long)x.u.i, (long long)y.u.i);
                set_int(&A, CHG_V_INT, r);
            } else if (numeric(&x) && numeric(&y))
                FLOAT_RESULT("+", num(&x) + num(&y));
            else if (x.tag == CHG_V_STR && y.tag == CHG_V_STR) {
                CHARGE(chg_vm_byte_steps((uint64_t)x.len + y.len));
                if ((uint64_t)x.len + y.len > UINT32_MAX)
                    FAIL("string too long");
                char *p = chg_arena_alloc_raw(&ctx->scratch, (size_t)x.len + y.len + 1);
                if (!p)
                    SCRATCH_FAIL();
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
                uint8_t tag = x.tag == CHG_V_DUR && y.tag == CHG_V_DUR ? CHG_V_DUR : CHG_V_TIME;
                if (tag == CHG_V_TIME)
                    TIME_RESULT("+", r);
                set_int(&A, tag, r);
            } else
                return type_error2(ctx, pc, "+", &x, &y);
            pc++;
            NEXT;
        }
        /* SUB: R[a] = R[b] - R[c]: numbers, time - duration, time - time, durations */
        CASE(SUB) {
            ASSERT_RABC();
            chg_value x = B, y = C;
            int64_t r;
            if (x.tag == CHG_V_INT && y.tag == CHG_V_INT) {
                if (__builtin_sub_overflow(x.u.i, y.u.i, &r))
                    FAIL("integer overflow in %lld - %lld", (long long)x.u.i, (long long)y.u.i);
                set_int(&A, CHG_V_INT, r);
            } else if (numeric(&x) && numeric(&y))
                FLOAT_RESULT("-", num(&x) - num(&y));
            else if ((x.tag == CHG_V_TIME && (y.tag == CHG_V_DUR || y.tag == CHG_V_TIME)) ||
                     (x.tag == CHG_V_DUR && y.tag == CHG_V_DUR)) {
                if (__builtin_sub_overflow(x.u.i, y.u.i, &r))
                    FAIL("time overflow in -");
                uint8_t tag = x.tag == CHG_V_TIME && y.tag == CHG_V_DUR ? CHG_V_TIME : CHG_V_DUR;
                if (tag == CHG_V_TIME)
                    TIME_RESULT("-", r);
                set_int(&A, tag, r);
            } else
                return type_error2(ctx, pc, "-", &x, &y);
            pc++;
            NEXT;
        }
        /* MUL: R[a] = R[b] * R[c]: numbers, duration * int */
        CASE(MUL) {
            ASSERT_RABC();
            chg_value x = B, y = C;
            int64_t r;
            bool dur = (x.tag == CHG_V_DUR && y.tag == CHG_V_INT) || (x.tag == CHG_V_INT && y.tag == CHG_V_DUR);
            if ((x.tag == CHG_V_INT && y.tag == CHG_V_INT) || dur) {
                if (__builtin_mul_overflow(x.u.i, y.u.i, &r))
                    FAIL("integer overflow in %lld * %lld", (long long)x.u.i, (long long)y.u.i);
                set_int(&A, dur ? CHG_V_DUR : CHG_V_INT, r);
            } else if (numeric(&x) && numeric(&y))
                FLOAT_RESULT("*", num(&x) * num(&y));
            else
                return type_error2(ctx, pc, "*", &x, &y);
            pc++;
            NEXT;
        }
        /* DIV: R[a] = R[b] / R[c]: numbers, duration / int, duration / duration; by 0 is an error */
        CASE(DIV)
        /* MOD: R[a] = R[b] % R[c]: ints, durations; by 0 is an error */
        CASE(MOD) {
            ASSERT_RABC();
            chg_value x = B, y = C;
            bool div = in->op == CHG_OP_DIV;
            bool ints = (x.tag == CHG_V_INT || x.tag == CHG_V_DUR) && (y.tag == CHG_V_INT || y.tag == CHG_V_DUR);
            bool ok_types = div ? (x.tag == CHG_V_INT && y.tag == CHG_V_INT) || (x.tag == CHG_V_DUR && ints)
                                : (x.tag == CHG_V_INT && y.tag == CHG_V_INT) || (x.tag == CHG_V_DUR && y.tag == CHG_V_DUR);
            if (ok_types) {
                /* both are C undefined behaviour, not just wrong answers */
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
                FLOAT_RESULT("/", num(&x) / num(&y));
            } else
                return type_error2(ctx, pc, div ? "/" : "%", &x, &y);
            pc++;
            NEXT;
        }
        /* EQ: R[a] = R[b] == R[c] */
        CASE(EQ)
            ASSERT_RABC();
            CHARGE(cmp_cost(ctx, &B));
            set_int(&A, CHG_V_BOOL, chg_vm_value_equal(&B, &C));
            pc++;
            NEXT;
        /* NE: R[a] = R[b] != R[c] */
        CASE(NE)
            ASSERT_RABC();
            CHARGE(cmp_cost(ctx, &B));
            set_int(&A, CHG_V_BOOL, !chg_vm_value_equal(&B, &C));
            pc++;
            NEXT;
        /* EQK: R[a] = R[b] == K[c] */
        CASE(EQK)
        /* NEK: R[a] = R[b] != K[c] */
        CASE(NEK) {
            ASSERT_R(in->a);
            ASSERT_R(in->b);
            CHG_ASSERT(in->c < b->nconsts);
            const chg_value *x = &B, *k = &K[in->c];
            bool eq;
            /* `field == "literal"`, the commonest test there is: an enum
             * value decodes to the bundle's own copy of the string, the
             * one the constant points to, so memcmp is mostly skipped */
            if (x->tag == CHG_V_STR && k->tag == CHG_V_STR && x->len == k->len)
                CHARGE(cmp_cost(ctx, x));
            if (x->tag == CHG_V_STR && k->tag == CHG_V_STR)
                eq = x->len == k->len && (x->u.s == k->u.s || memcmp(x->u.s, k->u.s, x->len) == 0);
            else
                eq = chg_vm_value_equal(x, k);
            set_int(&A, CHG_V_BOOL, in->op == CHG_OP_EQK ? eq : !eq);
            pc++;
            NEXT;
        }
        /* LT: R[a] = R[b] < R[c] */
        CASE(LT)
        /* LE: R[a] = R[b] <= R[c] */
        CASE(LE) {
            /* no GT or GE: the compiler swaps the operands */
            ASSERT_RABC();
            /* strings compare byte by byte: charged as == is */
            CHARGE(cmp_cost(ctx, &B));
            int o = order(&B, &C);
            if (o == -2)
                FAIL("cannot compare %s with %s", chg_vm_vtag_name(B.tag), chg_vm_vtag_name(C.tag));
            set_int(&A, CHG_V_BOOL, in->op == CHG_OP_LT ? o < 0 : o <= 0);
            pc++;
            NEXT;
        }
        /* IN: R[a] = R[b] in R[c]: an element of a list, or a substring */
        CASE(IN) {
            ASSERT_RABC();
            const chg_value *x = &B, *l = &C;
            bool found = false;
            if (is_list(l)) {
                uint32_t n = l->tag == CHG_V_LIST ? l->len : (uint32_t)json_array_size(l->u.json);
                uint64_t per = 1 + cmp_cost(ctx, x);
                CHARGE(per > ctx->steps_left ? per : (uint64_t)n * per); /* no overflow: per <= 2^40 + 2 */
                for (uint32_t i = 0; i < n && !found; i++) {
                    chg_value e;
                    elem(l, i, &e);
                    found = chg_vm_value_equal(x, &e);
                }
            } else if (l->tag == CHG_V_STR && x->tag == CHG_V_STR) {
                CHARGE(chg_vm_byte_steps((uint64_t)l->len + x->len));
                found = x->len == 0 || memmem(l->u.s, l->len, x->u.s, x->len) != NULL;
            } else
                FAIL("cannot look for %s in %s", chg_vm_vtag_name(x->tag), chg_vm_vtag_name(l->tag));
            set_int(&A, CHG_V_BOOL, found);
            pc++;
            NEXT;
        }
        /* INSET: R[a] = R[b], an instant, is in time set c */
        CASE(INSET) {
            ASSERT_R(in->a);
            ASSERT_R(in->b);
            CHG_ASSERT(in->c < b->ntimesets && b->timesets[in->c].ts != NULL); /* built at load */
            if (B.tag != CHG_V_TIME)
                FAIL("expected an instant on the left of 'in %s', found %s", b->str[b->timesets[in->c].name],
                     chg_vm_vtag_name(B.tag));
            if (!chg_time_in_range(B.u.i)) /* only a crafted constant or a resolver's answer */
                FAIL("the instant is outside the years 0000 to 9999");
            /* the library answers at B alone, in a few field steps
             * whatever instants came before (no index to move) */
            chg_ts_env env = {flag_of, (void *)ctx->facts};
            set_int(&A, CHG_V_BOOL, chg_timeset_contains(b->timesets[in->c].ts, &env, B.u.i));
            pc++;
            NEXT;
        }
        /* MATCH: R[a] = R[b] matches regular expression c */
        CASE(MATCH) {
            ASSERT_R(in->a);
            ASSERT_R(in->b);
            CHG_ASSERT(in->c < b->nregexes && b->regexes[in->c] != NULL); /* compiled at load */
            if (B.tag != CHG_V_STR)
                FAIL("'matches' needs a string, found %s", chg_vm_vtag_name(B.tag));
            /* ctx->match was sized at context creation for the bundle's
             * largest capture count: matching allocates nothing */
            CHG_ASSERT(ctx->match != NULL);
            CHARGE(chg_vm_byte_steps(B.len));
            /* the match context (chg_ctx_new) holds the regex budget and
             * the JIT stack: a match that hits either is an error, never
             * a silent "no match" */
            int rc = pcre2_match(b->regexes[in->c], (PCRE2_SPTR)B.u.s, B.len, 0, 0, ctx->match, ctx->mctx);
            if (rc == PCRE2_ERROR_JIT_STACKLIMIT || rc == PCRE2_ERROR_HEAPLIMIT)
                FAIL("regex budget exceeded: matching needs more than %u MiB of backtracking memory",
                     CHG_JIT_STACK_MAX >> 20);
            if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT)
                FAIL("regex budget exceeded: matching needs more than %llu steps (raise it with "
                     "'limits { regex_steps: N }')",
                     (unsigned long long)b->limits.regex_steps);
            if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
                PCRE2_UCHAR msg[120];
                pcre2_get_error_message(rc, msg, sizeof msg);
                FAIL("regular expression failed: %s", (const char *)msg);
            }
            set_int(&A, CHG_V_BOOL, rc >= 0);
            pc++;
            NEXT;
        }
        /* CONCAT: R[a] = the text of R[b], …, R[b+x-1], joined */
        CASE(CONCAT) {
            ASSERT_R(in->a);
            ASSERT_RUN(in->b, in->x);
            /* x is a u8, so 256 parts always suffice; the texts are made
             * first and joined once, so the result is one allocation */
            const char *parts[256];
            uint32_t lens[256];
            size_t total = 0;
            for (uint32_t i = 0; i < in->x; i++) {
                parts[i] = chg_vm_value_to_scratch(ctx, &R[in->b + i], &lens[i]);
                if (!parts[i])
                    SCRATCH_FAIL();
                total += lens[i];
            }
            CHARGE(chg_vm_byte_steps(total));
            if (total > UINT32_MAX)
                FAIL("string too long");
            char *p = chg_arena_alloc_raw(&ctx->scratch, total + 1);
            if (!p)
                SCRATCH_FAIL();
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
        /* LIST: R[a] = [R[b], …, R[b+x-1]] */
        CASE(LIST)
        /* RECORD: R[a] = a record of layout c with fields R[b], …, R[b+x-1] */
        CASE(RECORD) {
            ASSERT_R(in->a);
            ASSERT_RUN(in->b, in->x);
            CHG_ASSERT(in->op == CHG_OP_LIST || (in->c < b->nlayouts && in->x == b->layouts[in->c].count));
            /* the items are copied out of the registers: the next write to
             * R[b..] must not change a list already made */
            chg_value *items = chg_arena_alloc_raw(&ctx->scratch, sizeof(chg_value) * (in->x ? in->x : 1));
            if (!items)
                SCRATCH_FAIL();
            memcpy(items, &R[in->b], sizeof(chg_value) * in->x);
            A.tag = in->op == CHG_OP_LIST ? CHG_V_LIST : CHG_V_REC;
            A.flags = 0;
            A.layout = in->op == CHG_OP_RECORD ? in->c : 0;
            A.len = in->x;
            A.u.items = items;
            pc++;
            NEXT;
        }
        /* CALL: R[a] = built-in function c applied to R[b], …, R[b+x-1] */
        CASE(CALL) {
            ASSERT_R(in->a);
            ASSERT_RUN(in->b, in->x);
            CHG_ASSERT(in->c < b->nbuiltins && b->builtins[in->c] != NULL && !b->builtin_info[in->c]->query);
            CHG_ASSERT(in->x == b->builtin_info[in->c]->min_args && in->x == b->builtin_info[in->c]->max_args);
            chg_value r;
            /* the built-in set the error message; the place is ours */
            if (b->builtins[in->c](ctx, &R[in->b], &r) < 0) {
                ctx->err_pc = pc;
                return -1;
            }
            A = r;
            pc++;
            NEXT;
        }
        /* QUERY: R[a] = external query c of R[b], …, R[b+x-1], through the resolver */
        CASE(QUERY) {
            ASSERT_R(in->a);
            ASSERT_RUN(in->b, in->x);
            CHG_ASSERT(in->c < b->nbuiltins && b->builtin_info[in->c]->query);
            const char *name = b->builtin_info[in->c]->name;
            const chg_value *ans = NULL;
            chg_value rv;
            char why[256] = "";
            if (ctx->resolver) {
                if (ctx->resolver(ctx->resolver_ud, name, &R[in->b], in->x, &rv, why, sizeof why) == 0)
                    ans = &rv;
            } else if (ctx->facts)
                ans = chg_vm_facts_answer(ctx->facts, name, &R[in->b], in->x);
            /* --explain shows the answers; past CHG_QLOG_MAX it shows fewer,
             * the decision is the same */
            if (ans && ctx->nqlog < CHG_QLOG_MAX) {
                chg_qlog *q = &ctx->qlog[ctx->nqlog++];
                q->call = name;
                q->nargs = in->x < 4 ? in->x : 4;
                for (uint32_t i = 0; i < q->nargs; i++)
                    q->args[i] = R[in->b + i];
                q->result = *ans;
            }
            if (!ans) {
                /* the error path may use the heap: the decision is over */
                char args[256];
                size_t n = 0;
                bool oom = false;
                for (uint32_t i = 0; i < in->x && n < sizeof args - 8; i++) {
                    chg_buf t;
                    chg_buf_init(&t);
                    chg_vm_value_json(b, &R[in->b + i], &t);
                    oom |= t.oom;
                    n += (size_t)snprintf(args + n, sizeof args - n, "%s%s", i ? ", " : "", t.data ? t.data : "");
                    chg_buf_free(&t);
                }
                if (oom) /* a message without its arguments would mislead */
                    return chg_vm_nomem(ctx, pc);
                args[n < sizeof args ? n : sizeof args - 1] = 0;
                if (ctx->resolver && why[0])
                    FAIL("no answer for %s(%s): %s", name, args, why);
                FAIL("no answer for %s(%s): give it in the facts (\"queries\") or with 'given' in a test", name,
                     args);
            }
            A = *ans;
            pc++;
            NEXT;
        }
        /* Jumps stay inside their block (verified), and a backward one is
         * the JMP that closes a list loop, back to its FORNEXT: that is
         * what makes every block end (verify.c, I3). */
        /* JMP: go to J */
        CASE(JMP)
            ASSERT_JUMP();
            CHG_ASSERT(CHG_INS_BC(*in) > pc || code[CHG_INS_BC(*in)].op == CHG_OP_FORNEXT);
            pc = CHG_INS_BC(*in);
            NEXT;
        /* JMPT: go to J if R[a] is true (R[a] must be a bool) */
        CASE(JMPT)
        /* JMPF: go to J if R[a] is false (R[a] must be a bool) */
        CASE(JMPF)
            ASSERT_R(in->a);
            ASSERT_JUMP();
            CHG_ASSERT(CHG_INS_BC(*in) > pc);
            if (A.tag != CHG_V_BOOL)
                FAIL("expected a bool, found %s", chg_vm_vtag_name(A.tag));
            pc = (A.u.i != 0) == (in->op == CHG_OP_JMPT) ? CHG_INS_BC(*in) : pc + 1;
            NEXT;
        /* JMPNN: go to J if R[a] is not null */
        CASE(JMPNN)
            ASSERT_R(in->a);
            ASSERT_JUMP();
            CHG_ASSERT(CHG_INS_BC(*in) > pc);
            pc = A.tag != CHG_V_NULL ? CHG_INS_BC(*in) : pc + 1;
            NEXT;
        /* A loop uses three registers from a: the list, the index, the
         * element; the verifier keeps all three in the window. */
        /* FORPREP: start a loop over the list R[a]: R[a+1] = -1 (null iterates nothing) */
        CASE(FORPREP)
            ASSERT_R(in->a);
            ASSERT_R(in->a + 2);
            if (A.tag != CHG_V_NULL && !is_list(&A))
                FAIL("cannot iterate over %s", chg_vm_vtag_name(A.tag));
            set_int(&R[in->a + 1], CHG_V_INT, -1);
            pc++;
            NEXT;
        /* FORNEXT: R[a+1] += 1; past the end of R[a], go to J; else R[a+2] = R[a][R[a+1]] */
        CASE(FORNEXT) {
            ASSERT_R(in->a);
            ASSERT_R(in->a + 2);
            ASSERT_JUMP();
            CHG_ASSERT(CHG_INS_BC(*in) > pc);
            const chg_value *l = &A;
            /* the list is re-read each time: the loop body cannot write it
             * (verified), so n is the same on every iteration */
            uint32_t n = l->tag == CHG_V_LIST ? l->len
                         : l->tag == CHG_V_JSON ? (uint32_t)json_array_size(l->u.json)
                                                : 0;
            /* the index is FORPREP's -1 or the last iteration's: the
             * loop is entered only through its FORPREP (verify.c, I3 and I4) */
            CHG_ASSERT(R[in->a + 1].tag == CHG_V_INT && R[in->a + 1].u.i >= -1 &&
                       R[in->a + 1].u.i < (int64_t)n);
            int64_t i = ++R[in->a + 1].u.i;
            if (i >= (int64_t)n)
                pc = CHG_INS_BC(*in);
            else {
                /* the body, up to the closing JMP, once more */
                CHARGE(CHG_INS_BC(*in) - pc);
                elem(l, (uint32_t)i, &R[in->a + 2]);
                pc++;
            }
            NEXT;
        }
        /* RET: end the block; its value is R[a] */
        CASE(RET)
            ASSERT_R(in->a);
            if (nframes == 0) {
                vcopy(out, &A);
                return 0;
            } else {
                /* the end of a let: keep its value for the rest of the
                 * decision, hand it to the register that asked for it */
                chg_frame *f = &ctx->frames[--nframes];
                CHG_ASSERT(f->let < b->nlets && ctx->letstate[f->let] == 1);
                vcopy(&ctx->letvals[f->let], &A);
                ctx->letstate[f->let] = 2;
                pc = f->pc;
                SET_CUR(block_of(b, pc));
                ASSERT_R(f->dest);
                vcopy(&R[f->dest], &A);
            }
            NEXT;
#ifndef VM_GOTO
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
#undef CHARGE
#undef SCRATCH_FAIL
#undef IN_WINDOW
#undef ASSERT_R
#undef ASSERT_RABC
#undef ASSERT_RUN
#undef ASSERT_JUMP
#undef ASSERT_INS
}
