/*
 * bundle.c — loading a .chgb bundle: the header, the hash, every section,
 * and a full verification before anything runs (every index, register,
 * jump and loop). A bundle that fails is rejected with the offset of the
 * first bad byte; nothing in it is trusted before that. Also the
 * disassembler, which prints what the verifier accepted.
 *
 * Why verify everything up front: the interpreter (interp.c) and the
 * decision walk (decide.c, approvals.c, decode.c) index tables with the
 * bundle's numbers and never check them, so a decision costs no bounds
 * checks. Each check below exists because some reader relies on it; the
 * comments say which, and those readers restate it as a CHG_ASSERT.
 * Bundles are untrusted input (fuzz_bundle, test_vm_flip_every_byte): a
 * check is never skipped because "the compiler never emits that".
 *
 * Two kinds of check. What one field can be checked for by itself — its
 * range, NONE, the record it refers to being there (and of the right kind:
 * a let block, a list of strings), an earlier record, a run of records
 * inside its section, reserved bytes zero — is stated once per field in
 * bundle_format.def and done by read_rec for every record of every
 * section. What depends on several fields or records (kinds, orders,
 * trees, the blob) is code below, reading the fields by name; its
 * messages name the field too ("RULES[3].window: …").
 *
 * Order matters: each load_* step may rely on the tables loaded before it
 * (constants before paths, blocks before the tables that name blocks), and
 * the code verifier (verify.c) runs last, when every table an operand can
 * index exists. The semantic checks that span tables (code, time-set
 * trees, decoding without fan-out) are verify.c's; this file reads and
 * checks records.
 * Every table lives in one arena block sized from the section counts
 * (alloc_tables), with one spare entry each (n + 1) so that an empty
 * table is still a valid pointer.
 */
#include "vm_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "chg_time.h"

static const chg_section *sec_info(int s) { return &chg_sections()[s]; }

/* The loader's state: where each section's records start and how many
 * there are, found once by read_sections. Offsets are into b->data (the
 * bundle's own copy of the bytes); every message names the offset of the
 * byte it rejects, so a corrupt bundle can be inspected with a hex dump. */
typedef struct loader {
    chg_bundle *b;
    char *err;
    size_t errlen;
    bool failed;
    bool oom;                     /* the failure is memory, not the bytes */
    uint32_t off[CHG_SEC__MAX];   /* offset of the section's first record */
    uint32_t count[CHG_SEC__MAX];
    uint32_t blob, bloblen;       /* STRINGS blob */
    bool same[CHG_SEC__MAX];      /* records decode by memcpy (same_layout) */
    uint8_t nchecks[CHG_SEC__MAX];
    uint8_t checks[CHG_SEC__MAX][32]; /* the fields with a check (not ANY) */
} loader;

/* Record the first failure (later ones are consequences) and return false,
 * so a check reads `return fail(...)`: "corrupt bundle: WHAT at offset N". */
static bool failv(loader *L, uint32_t offset, const char *prefix, const char *fmt, va_list ap) CHG_PRINTF(4, 0);
static bool failv(loader *L, uint32_t offset, const char *prefix, const char *fmt, va_list ap)
{
    if (L->failed)
        return false;
    L->failed = true;
    char what[512];
    vsnprintf(what, sizeof what, fmt, ap);
    snprintf(L->err, L->errlen, "corrupt bundle: %s%s at offset %" PRIu32, prefix, what, offset);
    return false;
}

static bool fail(loader *L, uint32_t offset, const char *fmt, ...) CHG_PRINTF(3, 4);
static bool fail(loader *L, uint32_t offset, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    failv(L, offset, "", fmt, ap);
    va_end(ap);
    return false;
}

/* The verdict of a check of verify.c, which wrote its own message (and
 * said whether it ran out of memory). */
static bool verified(loader *L, const chg_vm_verifier *V, bool ok)
{
    L->failed |= !ok;
    L->oom |= V->oom;
    return ok;
}

/* Out of memory is not a defect of the bundle: its own message, without
 * "corrupt bundle", and its own status (chg_bundle_open). */
static bool nomem(loader *L)
{
    if (L->failed)
        return false;
    L->failed = L->oom = true;
    snprintf(L->err, L->errlen, "out of memory");
    return false;
}

/* Offset and bytes of record i of section s. */
static uint32_t roff(loader *L, int s, uint32_t i) { return L->off[s] + i * sec_info(s)->size; }
static const uint8_t *recp(loader *L, int s, uint32_t i) { return L->b->data + roff(L, s, i); }

/* A failure of field `field` (a chg_field_id) of record i of its section:
 * "RULES[3].window: …", at the field's own offset. */
static bool fail_field(loader *L, uint32_t i, int field, const char *fmt, ...) CHG_PRINTF(4, 5);
static bool fail_field(loader *L, uint32_t i, int field, const char *fmt, ...)
{
    const chg_field *f = &chg_fields()[field];
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s[%" PRIu32 "].%s: ", sec_info(f->sec)->name, i, f->name);
    va_list ap;
    va_start(ap, fmt);
    failv(L, roff(L, f->sec, i) + f->off, prefix, fmt, ap);
    va_end(ap);
    return false;
}
#define FAILF(L, sec, i, field, ...) fail_field(L, i, CHG_F_##sec##_##field, __VA_ARGS__)

/* ---- the generic reader ------------------------------------------------------------ */

static const char *const block_kind_name[] = {[CHG_B_EXPR] = "expression", [CHG_B_LET] = "let"};

/* The check field f's ref names (bundle_format.def), for its value in
 * record i (p: the record's bytes). Everything a check here needs is
 * loaded before the first section that refers to it: constants (LISTK),
 * blocks (BLOCK), META (CSLOT). */
static inline bool check_field(loader *L, uint32_t i, const chg_field *f, const uint8_t *p)
{
    chg_bundle *b = L->b;
    int id = (int)(f - chg_fields());
    uint64_t v = chg_wire_get(f, p);
    uint64_t none = f->width == 8 ? UINT64_MAX : ((uint64_t)1 << (8 * f->width)) - 1;
    if (f->none && v == none)
        return true;
    switch ((chg_ref)f->ref) {
    case CHG_R_ANY: return true;
    case CHG_R_ZERO:
        return v == 0 || fail_field(L, i, id, "reserved, must be zero, not %" PRIu64, v);
    case CHG_R_NUM: {
        /* sign-extend the signed widths; unsigned ones are at most u32 */
        int64_t sv = (int64_t)v;
        if (f->is_signed && f->width < 8 && (v >> (8 * f->width - 1)) & 1)
            sv = (int64_t)(v | ~none);
        if (sv < f->lo || sv > f->hi)
            return fail_field(L, i, id, "%" PRId64 " is not in %" PRId64 "..%" PRId64, sv, f->lo, f->hi);
        return true;
    }
    case CHG_R_IDX:
        if (v >= L->count[f->target]) {
            const char *what = f->target == CHG_SEC_STRINGS ? "string" : f->target == CHG_SEC_CONSTS ? "constant" : NULL;
            if (what)
                return fail_field(L, i, id, "%s %" PRIu64 " out of range (%" PRIu32 " %ss)", what, v,
                                  L->count[f->target], what);
            return fail_field(L, i, id, "%s record %" PRIu64 " out of range (%" PRIu32 " records)",
                              sec_info(f->target)->name, v, L->count[f->target]);
        }
        return true;
    case CHG_R_LISTK:
        /* decode.c, approvals.c and actions read these as strings */
        if (v >= b->nconsts || b->consts[v].tag != CHG_V_LIST)
            return fail_field(L, i, id, "constant %" PRIu64 " is not a list constant", v);
        for (uint32_t k = 0; k < b->consts[v].len; k++)
            if (b->consts[v].u.items[k].tag != CHG_V_STR)
                return fail_field(L, i, id, "list constant %" PRIu64 " holds a non-string", v);
        return true;
    case CHG_R_BLOCK:
        /* a block run as the wrong kind: an expression run as a let would
         * share its window with the expression that asked for the let */
        if (v >= b->nblocks)
            return fail_field(L, i, id, "block %" PRIu64 " out of range (%" PRIu32 " blocks)", v, b->nblocks);
        if (b->blocks[v].kind != f->target)
            return fail_field(L, i, id, "block %" PRIu64 " is not an %s block", v, block_kind_name[f->target]);
        return true;
    case CHG_R_SPAN:
        /* 0 is "no place" when a bundle has no positions at all */
        if (v >= L->count[CHG_SEC_SPANS] && !(L->count[CHG_SEC_SPANS] == 0 && v == 0))
            return fail_field(L, i, id, "source position %" PRIu64 " out of range (%" PRIu32 " positions)", v,
                              L->count[CHG_SEC_SPANS]);
        return true;
    case CHG_R_EARLIER:
        if (v >= i)
            return fail_field(L, i, id, "record %" PRIu64 " does not come before this one", v);
        return true;
    case CHG_R_RUN: {
        uint64_t n = chg_wire_get(f + 1, p); /* the count is the next field */
        if (v + n > L->count[f->target])
            return fail_field(L, i, id, "%s %" PRIu64 "..%" PRIu64 " out of range (%" PRIu32 " records)",
                              sec_info(f->target)->name, v, v + n, L->count[f->target]);
        return true;
    }
    case CHG_R_CSLOT:
        if (v >= b->meta.nslots_change)
            return fail_field(L, i, id, "change slot %" PRIu64 " out of range (%" PRIu32 " slots)", v,
                              b->meta.nslots_change);
        return true;
    }
    return fail_field(L, i, id, "unknown reference kind");
}

/* Record i of section s, decoded into rec (a chg_rec_NAME) and checked
 * field by field, in file order. */
static bool read_rec(loader *L, int s, uint32_t i, void *rec)
{
    const chg_section *sec = sec_info(s);
    const chg_field *f = chg_fields() + sec->first, *end = f + sec->nfields;
    const uint8_t *p = recp(L, s, i);
    if (L->same[s])
        memcpy(rec, p, sec->size < sec->host_size ? sec->size : sec->host_size);
    else
        for (const chg_field *q = f; q < end; q++)
            chg_rec_set(q, rec, chg_wire_get(q, p));
    for (unsigned k = 0; k < L->nchecks[s]; k++)
        if (!check_field(L, i, f + L->checks[s][k], p))
            return false;
    return true;
}

/* Whether a record of section s decodes by copying its bytes: on a
 * little-endian host whose struct puts every field at its wire offset
 * (true of most sections: the .def keeps fields aligned), which makes
 * loading large tables (code, positions) a copy plus the checks. */
static bool same_layout(int s)
{
    const uint16_t one = 1;
    uint8_t low;
    memcpy(&low, &one, 1);
    const chg_section *sec = sec_info(s);
    for (unsigned k = 0; k < sec->nfields; k++) {
        const chg_field *f = &chg_fields()[sec->first + k];
        if (f->host != CHG_NO_HOST && f->host != f->off)
            return false;
    }
    return low == 1;
}

/* Every record of section s into recs, an array of chg_rec_NAME. */
static bool read_table(loader *L, int s, void *recs)
{
    for (uint32_t i = 0; i < L->count[s]; i++)
        if (!read_rec(L, s, i, (uint8_t *)recs + (size_t)i * sec_info(s)->host_size))
            return false;
    return true;
}

/* ---- sections ------------------------------------------------------------------- */

/* The header and the section table. The hash is checked before anything
 * else is read, so an accidental change fails here with one clear message;
 * everything after still assumes a hostile bundle (the hash is no
 * signature: anyone can recompute it). Every section must be present (an
 * empty one holds a zero count), each once, inside the file and with a
 * whole number of records: later steps index records without checking. */
static bool read_sections(loader *L)
{
    chg_bundle *b = L->b;
    const uint8_t *d = b->data;
    if (b->len < CHG_HDR_TABLE)
        return fail(L, 0, "truncated: %zu bytes is shorter than the header", b->len);
    if (memcmp(d, CHG_BUNDLE_MAGIC, 8) != 0)
        return fail(L, 0, "not a chg bundle (bad magic)");
    uint32_t version = chg_rd32(d + CHG_HDR_VERSION);
    if (version != CHG_BUNDLE_VERSION)
        return fail(L, CHG_HDR_VERSION, "bundle format version %u is not supported (this chgc reads version %u)",
                    version, CHG_BUNDLE_VERSION);
    uint32_t total = chg_rd32(d + CHG_HDR_LENGTH);
    if (total != b->len)
        return fail(L, CHG_HDR_LENGTH, "%s: the header says %u bytes, the file has %zu",
                    total > b->len ? "truncated" : "trailing bytes", total, b->len);
    memcpy(b->compiler, d + CHG_HDR_COMPILER, 16);
    b->compiler[16] = 0;
    unsigned char h[32];
    unsigned int hl = 0;
    EVP_Digest(d + CHG_BUNDLE_HEADER, b->len - CHG_BUNDLE_HEADER, h, &hl, EVP_sha256(), NULL);
    if (memcmp(h, d + CHG_HDR_HASH, 32) != 0)
        return fail(L, CHG_HDR_HASH, "content hash mismatch (the bundle was changed after it was built)");
    for (int i = 0; i < 32; i++)
        snprintf(b->hash + 2 * i, 3, "%02x", d[CHG_HDR_HASH + i]);

    uint32_t nsec = chg_rd32(d + CHG_HDR_NSECTIONS);
    if (nsec > CHG_SEC__MAX || (uint64_t)CHG_HDR_TABLE + (uint64_t)CHG_SECTAB_ENTRY * nsec > b->len)
        return fail(L, CHG_HDR_NSECTIONS, "section table of %u entries does not fit", nsec);
    bool seen[CHG_SEC__MAX] = {false};
    for (uint32_t i = 0; i < nsec; i++) {
        uint32_t at = CHG_HDR_TABLE + CHG_SECTAB_ENTRY * i;
        uint32_t id = chg_rd32(d + at + CHG_SECTAB_ID), off = chg_rd32(d + at + CHG_SECTAB_OFF),
                 len = chg_rd32(d + at + CHG_SECTAB_LEN);
        if (id == 0 || id >= CHG_SEC__MAX)
            return fail(L, at, "unknown section id %u", id);
        const chg_section *s = sec_info((int)id);
        if (seen[id])
            return fail(L, at, "section %s appears twice", s->name);
        seen[id] = true;
        if ((uint64_t)off + len > b->len || len < 4 || off < CHG_HDR_TABLE + CHG_SECTAB_ENTRY * nsec)
            return fail(L, at, "section %s (offset %u, %u bytes) lies outside the bundle", s->name, off, len);
        uint32_t count = chg_rd32(d + off);
        uint64_t need = 4 + (uint64_t)count * s->size;
        if (need > len)
            return fail(L, off, "section %s: %u records of %u bytes do not fit in %u bytes", s->name, count,
                        s->size, len);
        if (id != CHG_SEC_STRINGS && need != len)
            return fail(L, off, "section %s: %u bytes after its %u records", s->name, (uint32_t)(len - need),
                        count);
        L->off[id] = off + 4;
        L->count[id] = count;
        L->same[id] = same_layout((int)id);
        for (unsigned k = 0; k < s->nfields; k++)
            if (chg_fields()[s->first + k].ref != CHG_R_ANY)
                L->checks[id][L->nchecks[id]++] = (uint8_t)k;
        if (id == CHG_SEC_STRINGS) {
            L->blob = (uint32_t)(off + need);
            L->bloblen = (uint32_t)(len - need);
        }
    }
    for (int s = 1; s < CHG_SEC__MAX; s++)
        if (!seen[s])
            return fail(L, CHG_HDR_NSECTIONS, "section %s is missing", sec_info(s)->name);
    if (L->count[CHG_SEC_META] != 1)
        return fail(L, L->off[CHG_SEC_META] - 4, "META must hold one record, not %u", L->count[CHG_SEC_META]);
    return true;
}

/* The loaded tables, each with the section whose count sizes it. */
#define CHG_TABLES(X)                                                                                        \
    X(str, STRINGS) X(strlen, STRINGS) X(consts, CONSTS) X(code, CODE) X(blocks, BLOCKS) X(spans, SPANS)     \
    X(insspan, INSSPAN) X(paths, PATHS) X(layouts, LAYOUTS) X(lfields, LFIELDS) X(schema, SCHEMA) X(risks, RISKS)            \
    X(arms, ARMS) X(lets, LETS) X(rules, RULES) X(during, DURING) X(timesets, TIMESETS)                    \
    X(regexes, REGEXES) X(zones, ZONES) X(builtins, BUILTINS) X(builtin_info, BUILTINS) X(areqs, AREQS)    \
    X(approvals, APPROVALS) X(actions, ACTIONS) X(calls, CALLS) X(intakes, INTAKES) X(ifields, IFIELDS) \
    X(concur, CONCUR) X(risk_spans, RISKS) X(applies, APPLIES)

static size_t table_bytes(size_t elem, uint32_t n) { return ((size_t)n + 1) * elem; }

/* Every table in one zeroed arena block: n + 1 entries each, n from the
 * section table (so at most the bundle's size over the record size). */
static bool alloc_tables(loader *L)
{
    chg_bundle *b = L->b;
    size_t total = 0;
#define TABLE_SIZE(m, s) total += (table_bytes(sizeof *b->m, L->count[CHG_SEC_##s]) + 15) & ~(size_t)15;
    CHG_TABLES(TABLE_SIZE)
#undef TABLE_SIZE
    uint8_t *p = chg_arena_alloc(&b->arena, total);
    if (!p)
        return nomem(L);
#define TABLE_CARVE(m, s)                                                                                    \
    b->m = (void *)p;                                                                                        \
    p += (table_bytes(sizeof *b->m, L->count[CHG_SEC_##s]) + 15) & ~(size_t)15;
    CHG_TABLES(TABLE_CARVE)
#undef TABLE_CARVE
    return true;
}

/* Strings point into the bundle's bytes, not copies: the blob is kept
 * for the bundle's life. Each must be NUL-terminated in the blob (C code
 * uses them as C strings), hold no NUL inside (the length and strlen then
 * agree) and be valid UTF-8 (decisions are JSON, which must be). */
static bool load_strings(loader *L)
{
    chg_bundle *b = L->b;
    uint32_t n = L->count[CHG_SEC_STRINGS];
    b->nstrings = n;
    for (uint32_t i = 0; i < n; i++) {
        chg_rec_STRINGS r;
        if (!read_rec(L, CHG_SEC_STRINGS, i, &r))
            return false;
        if ((uint64_t)r.off + r.len + 1 > L->bloblen || b->data[L->blob + r.off + r.len] != 0)
            return FAILF(L, STRINGS, i, off, "offset %u, %u bytes: outside the blob or not terminated", r.off,
                         r.len);
        const uint8_t *s = b->data + L->blob + r.off;
        size_t bad = chg_utf8_validate(s, r.len);
        if (bad < r.len)
            return fail(L, L->blob + r.off + (uint32_t)bad, "string %u is not valid UTF-8", i);
        if (memchr(s, 0, r.len))
            return fail(L, L->blob + r.off, "string %u contains a NUL byte", i);
        b->str[i] = (const char *)s;
        b->strlen[i] = r.len;
    }
    return true;
}

/* What a constant's a and payload mean depends on its tag. */
static bool load_consts(loader *L)
{
    chg_bundle *b = L->b;
    uint32_t n = L->count[CHG_SEC_CONSTS];
    b->nconsts = n;
    for (uint32_t i = 0; i < n; i++) {
        chg_rec_CONSTS r;
        if (!read_rec(L, CHG_SEC_CONSTS, i, &r))
            return false;
        chg_value *v = &b->consts[i];
        switch (r.tag) {
        case CHG_K_NULL: v->tag = CHG_V_NULL; break;
        case CHG_K_BOOL:
            if (r.payload > 1)
                return FAILF(L, CONSTS, i, payload, "a bool must be 0 or 1");
            v->tag = CHG_V_BOOL;
            v->u.i = (int64_t)r.payload;
            break;
        case CHG_K_INT: v->tag = CHG_V_INT; v->u.i = (int64_t)r.payload; break;
        case CHG_K_FLOAT: v->tag = CHG_V_FLOAT; memcpy(&v->u.f, &r.payload, 8); break;
        case CHG_K_STR:
            if (r.a >= b->nstrings)
                return FAILF(L, CONSTS, i, a, "string %u out of range (%u strings)", r.a, b->nstrings);
            v->tag = CHG_V_STR;
            v->u.s = b->str[r.a];
            v->len = b->strlen[r.a];
            break;
        case CHG_K_TIME: v->tag = CHG_V_TIME; v->u.i = (int64_t)r.payload; break;
        case CHG_K_DUR: v->tag = CHG_V_DUR; v->u.i = (int64_t)r.payload; break;
        case CHG_K_RISK: v->tag = CHG_V_RISK; v->u.i = (int64_t)r.payload; break; /* checked with RISKS */
        default: /* CHG_K_LIST: the tag's range is checked */
            /* the elements are the a constants just before the list: one
             * pass loads them first, and a list constant holds only plain
             * values, so nothing that walks constants recurses */
            if (r.a > i)
                return FAILF(L, CONSTS, i, a, "a list of %u elements needs them before it", r.a);
            for (uint32_t k = i - r.a; k < i; k++)
                if (b->consts[k].tag == CHG_V_LIST)
                    return FAILF(L, CONSTS, i, a, "nested list constants are not allowed");
            v->tag = CHG_V_LIST;
            v->len = r.a;
            v->u.items = &b->consts[i - r.a];
            break;
        }
    }
    return true;
}

/* Code is decoded into an array of chg_ins, not run from the bytes: the
 * file is little-endian and unaligned, the interpreter reads aligned host
 * structs (the interpreter's dispatch indexes its handler table with op,
 * whose range read_rec checks). The source map (one span per instruction)
 * is what turns a failing pc into "policy.chg:12:5" in a decision. */
static bool load_code(loader *L)
{
    chg_bundle *b = L->b;
    uint32_t n = L->count[CHG_SEC_CODE];
    b->ncode = n;
    if (!read_table(L, CHG_SEC_CODE, (chg_ins *)b->code))
        return false;
    if (L->count[CHG_SEC_INSSPAN] != n)
        return fail(L, L->off[CHG_SEC_INSSPAN] - 4, "%u source positions for %u instructions",
                    L->count[CHG_SEC_INSSPAN], n);
    b->nspans = L->count[CHG_SEC_SPANS];
    if (!read_table(L, CHG_SEC_SPANS, b->spans))
        return false;
    for (uint32_t i = 0; i < n; i++) {
        chg_rec_INSSPAN r;
        if (!read_rec(L, CHG_SEC_INSSPAN, i, &r))
            return false;
        b->insspan[i] = r.span;
    }
    return true;
}

/* LIMITS: none (the defaults, set when the bundle was allocated), or one
 * record of three budgets, each from 1 to its maximum (bundle_format.def):
 * a zero budget would fail every decision, a huge one bound nothing. */
static bool load_limits(loader *L)
{
    uint32_t n = L->count[CHG_SEC_LIMITS];
    if (n == 0)
        return true;
    if (n != 1)
        return fail(L, L->off[CHG_SEC_LIMITS] - 4, "LIMITS must hold one record or none, not %u", n);
    chg_rec_LIMITS r;
    if (!read_rec(L, CHG_SEC_LIMITS, 0, &r))
        return false;
    L->b->limits = (chg_limits){r.steps, r.regex_steps, r.scratch};
    return true;
}

/* Blocks are read before META (which names the `at` block) and checked
 * after it (their windows must fit its register count). */
static bool read_blocks(loader *L)
{
    L->b->nblocks = L->count[CHG_SEC_BLOCKS];
    return read_table(L, CHG_SEC_BLOCKS, L->b->blocks);
}

static bool load_meta(loader *L)
{
    chg_bundle *b = L->b;
    if (!read_rec(L, CHG_SEC_META, 0, &b->meta))
        return false;
    const chg_rec_META *m = &b->meta;
    b->name = m->name;
    b->version = m->version;
    b->at_block = m->at_block;
    b->nregs = m->nregs;
    b->nslots_change = m->nslots_change;
    b->nslots_event = m->nslots_event;
    b->id_slot = m->id_slot;
    b->flags = m->flags;
    b->approvals_slot = m->approvals_slot;
    b->requester_slot = m->requester_slot;
    b->emergency_slot = m->emergency_slot;
    b->approvals_layout = m->approvals_layout;
    return true;
}

static bool check_blocks(loader *L)
{
    chg_bundle *b = L->b;
    uint32_t n = b->nblocks;
    uint32_t next = 0;
    for (uint32_t i = 0; i < n; i++) {
        chg_block *k = &b->blocks[i];
        if (k->start != next || k->len == 0 || (uint64_t)k->start + k->len > b->ncode)
            return FAILF(L, BLOCKS, i, start, "instructions %u..%u do not follow the previous block", k->start,
                         k->start + k->len);
        next = k->start + k->len;
        /* the window is inside ctx->regs; and every block ends with RET,
         * so straight-line code cannot run into the next block */
        if (k->nregs == 0 || (uint32_t)k->reg_base + k->nregs > b->nregs)
            return FAILF(L, BLOCKS, i, reg_base, "register window %u..%u outside the %u registers", k->reg_base,
                         k->reg_base + k->nregs, b->nregs);
        if (b->code[k->start + k->len - 1].op != CHG_OP_RET)
            return fail(L, roff(L, CHG_SEC_CODE, k->start + k->len - 1), "block %u does not end with RET", i);
    }
    if (next != b->ncode)
        return fail(L, L->off[CHG_SEC_BLOCKS] - 4, "instructions %u..%u belong to no block", next, b->ncode);
    /* a let's window is its own: it must overlap no other block's. LET
     * runs the let's block in the middle of its caller's expression, with
     * the caller's registers live; this is why it may. */
    for (uint32_t i = 0; i < n; i++) {
        if (b->blocks[i].kind != CHG_B_LET)
            continue;
        for (uint32_t j = 0; j < n; j++) {
            if (i == j)
                continue;
            const chg_block *x = &b->blocks[i], *y = &b->blocks[j];
            if (x->reg_base < y->reg_base + y->nregs && y->reg_base < x->reg_base + x->nregs)
                return FAILF(L, BLOCKS, i, reg_base, "let block %u shares registers with block %u", i, j);
        }
    }
    return true;
}

/* The path table: nodes 0 and 1 are the roots (change, raw event), every
 * other node names its parent, which comes before it (read_rec: EARLIER).
 * That order is what decode.c relies on to walk from a node to its root
 * without a cycle. */
static bool load_paths(loader *L)
{
    chg_bundle *b = L->b;
    uint32_t n = L->count[CHG_SEC_PATHS];
    b->npaths = n;
    b->nlayouts = L->count[CHG_SEC_LAYOUTS];
    b->nlfields = L->count[CHG_SEC_LFIELDS];
    if (n < 2)
        return fail(L, L->off[CHG_SEC_PATHS] - 4, "the path table lacks its two roots");
    for (uint32_t i = 0; i < n; i++) {
        chg_pathnode *p = &b->paths[i];
        if (!read_rec(L, CHG_SEC_PATHS, i, p))
            return false;
        bool root = i < 2;
        if (root ? p->kind != (i == 0 ? CHG_PN_ROOT_CHANGE : CHG_PN_ROOT_EVENT)
                 : p->kind != CHG_PN_KEY && p->kind != CHG_PN_ELEM)
            return FAILF(L, PATHS, i, kind, "kind %u for a %s", p->kind, root ? "root" : "node below a root");
        if (root != (p->parent == CHG_NONE32))
            return FAILF(L, PATHS, i, parent, root ? "a root has no parent" : "a node below a root needs its parent");
        if (p->kind == CHG_PN_KEY && p->name == CHG_NONE32)
            return FAILF(L, PATHS, i, name, "a key node needs its name");
        /* decode.c reads an enum field's values through enm, unchecked */
        if (p->type == CHG_PT_ENUM && p->enm == CHG_NONE32)
            return FAILF(L, PATHS, i, enm, "an enum without its values");
        if (p->slot != CHG_NONE16) {
            /* a slot belongs to the root its node hangs from; decode.c
             * writes slots[p->slot] of that root's array unchecked */
            uint32_t q = i;
            while (q >= 2 && b->paths[q].kind != CHG_PN_ELEM)
                q = b->paths[q].parent;
            uint32_t limit = q == 0 ? b->nslots_change : q == 1 ? b->nslots_event : 0;
            if (p->slot >= limit)
                return FAILF(L, PATHS, i, slot, "slot %u out of range (%u slots)", p->slot, limit);
        }
    }
    if (!read_table(L, CHG_SEC_LAYOUTS, b->layouts) || !read_table(L, CHG_SEC_LFIELDS, b->lfields))
        return false;
    /* approvals.c reads an approval's by, group, at and decision as the
     * first four fields of its layout */
    if (b->approvals_layout != CHG_NONE32 && b->layouts[b->approvals_layout].count < 4)
        return FAILF(L, META, 0, approvals_layout, "layout %u has fewer than 4 fields", b->approvals_layout);
    return true;
}

/* The schema tree (SCHEMA). schema.c walks it once per change with no
 * checks of its own, so everything it relies on is proved here. read_rec
 * checks each node's type, need and flags, its name and enum values when
 * present, its children inside the table and its position. Here: a tree
 * (each node but the root the child of exactly one node, children after
 * their parent, so the walk ends and visits each node once per value),
 * bounded depth (the walk recurses), names where it looks keys up and none
 * where it does not, enum values exactly for an enum, an object's field
 * names distinct (sorted and compared: no blow-up on crafted names), and a
 * schema exactly when META says the policy has one, so a bundle cannot
 * switch validation off while its code assumes it ran. */
static int cmp_name(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static bool check_schema_node(loader *L, uint32_t i, uint32_t *parent, uint32_t *depth)
{
    chg_bundle *b = L->b;
    const chg_schemanode *s = &b->schema[i];
    /* the parent is known: it comes first and claimed this node */
    if (i > 0 && parent[i] == CHG_NONE32)
        return FAILF(L, SCHEMA, i, first, "node %u is no node's child", i);
    const chg_schemanode *up = i > 0 ? &b->schema[parent[i]] : NULL;
    bool elem = up && up->type == CHG_PT_LIST;
    if (i == 0 && (s->type != CHG_PT_OBJECT || s->need != CHG_PR_REQUIRED))
        return FAILF(L, SCHEMA, i, type, "the change must be a required object");
    if (elem && s->need == CHG_PR_DEFAULT)
        return FAILF(L, SCHEMA, i, need, "a list element has no default");
    if (s->flags && s->type != CHG_PT_OBJECT)
        return FAILF(L, SCHEMA, i, flags, "flags on a node that is no object");
    /* fields are looked up by name; the root and elements have none */
    if ((up && !elem) != (s->name != CHG_NONE32))
        return FAILF(L, SCHEMA, i, name, up && !elem ? "a field needs its name" : "only fields have names");
    if ((s->type == CHG_PT_ENUM) != (s->enm != CHG_NONE32))
        return FAILF(L, SCHEMA, i, enm, s->enm == CHG_NONE32 ? "an enum without its values"
                                                             : "enum values on a field that is no enum");
    bool kids_ok = s->type == CHG_PT_OBJECT ? true : s->type == CHG_PT_LIST ? s->count == 1 : s->count == 0;
    if (!kids_ok || (s->count == 0 ? s->first != 0 : s->first <= i))
        return FAILF(L, SCHEMA, i, first, "children %u..+%u out of range", s->first, s->count);
    for (uint32_t k = s->first; k < s->first + s->count; k++) {
        if (parent[k] != CHG_NONE32)
            return FAILF(L, SCHEMA, i, first, "node %u is a child of both %u and %u", k, parent[k], i);
        parent[k] = i;
        depth[k] = depth[i] + 1;
        if (depth[k] > CHG_SCHEMA_MAX_DEPTH)
            return FAILF(L, SCHEMA, i, first, "node %u is nested more than %u deep", k, CHG_SCHEMA_MAX_DEPTH);
    }
    return true;
}

static bool load_schema(loader *L)
{
    chg_bundle *b = L->b;
    uint32_t n = L->count[CHG_SEC_SCHEMA];
    b->nschema = n;
    if ((n > 0) != ((b->flags & 1) != 0))
        return fail(L, L->off[CHG_SEC_SCHEMA] - 4, n ? "a schema in a bundle whose META says it has none"
                                                     : "META says the policy has a schema, but the SCHEMA section is empty");
    if (!n)
        return true;
    uint32_t *parent = chg_arena_alloc(&b->arena, 2 * sizeof *parent * n), *depth = parent + n;
    const char **names = chg_arena_alloc(&b->arena, sizeof *names * n);
    if (!parent || !names)
        return nomem(L);
    for (uint32_t i = 0; i < n; i++)
        parent[i] = CHG_NONE32;
    depth[0] = 0;
    for (uint32_t i = 0; i < n; i++)
        if (!read_rec(L, CHG_SEC_SCHEMA, i, &b->schema[i]) || !check_schema_node(L, i, parent, depth))
            return false;
    /* field names distinct within each object; names are checked above */
    for (uint32_t i = 0; i < n; i++) {
        const chg_schemanode *s = &b->schema[i];
        if (s->type != CHG_PT_OBJECT || s->count < 2)
            continue;
        for (uint32_t k = 0; k < s->count; k++)
            names[k] = b->str[b->schema[s->first + k].name];
        qsort(names, s->count, sizeof *names, cmp_name);
        for (uint32_t k = 1; k < s->count; k++)
            if (strcmp(names[k - 1], names[k]) == 0)
                return FAILF(L, SCHEMA, i, first, "node %u declares field '%s' twice", i, names[k]);
    }
    return true;
}

/* The runs of classes each rule applies to: the rules' runs tile the
 * section in rule order, each rule's start at class 0 and go up, below
 * the class count (0 alone in a policy without classes), and two runs
 * in a row differ — so every rule has one answer for every class. */
static bool load_applies(loader *L)
{
    chg_bundle *b = L->b;
    b->napplies = L->count[CHG_SEC_APPLIES];
    if (!read_table(L, CHG_SEC_APPLIES, b->applies))
        return false;
    uint32_t next = 0, ncls = b->nrisks ? b->nrisks : 1;
    for (uint32_t i = 0; i < b->nrules; i++) {
        const chg_ruledef *d = &b->rules[i];
        if (d->applies_first != next)
            return FAILF(L, RULES, i, applies_first, "runs that do not follow the previous rule's");
        if (d->applies_count == 0)
            return FAILF(L, RULES, i, applies_count, "a rule without runs");
        for (uint32_t k = 0; k < d->applies_count; k++) {
            const chg_rec_APPLIES *a = &b->applies[d->applies_first + k];
            if (k == 0 ? a->from_class != 0 : a->from_class <= a[-1].from_class || a->how == a[-1].how)
                return FAILF(L, APPLIES, d->applies_first + k, from_class, "not a run after the one before");
            if (a->from_class >= ncls)
                return FAILF(L, APPLIES, d->applies_first + k, from_class, "no such risk class");
        }
        next += d->applies_count;
    }
    if (next != b->napplies)
        return FAILF(L, APPLIES, next, from_class, "runs that no rule owns");
    return true;
}

static bool load_policy(loader *L)
{
    chg_bundle *b = L->b;
    b->nrisks = L->count[CHG_SEC_RISKS];
    b->narms = L->count[CHG_SEC_ARMS];
    b->nlets = L->count[CHG_SEC_LETS];
    b->nrules = L->count[CHG_SEC_RULES];
    b->nduring = L->count[CHG_SEC_DURING];
    for (uint32_t i = 0; i < b->nrisks; i++) {
        chg_rec_RISKS r;
        if (!read_rec(L, CHG_SEC_RISKS, i, &r))
            return false;
        b->risks[i] = r.name;
        b->risk_spans[i] = r.span;
    }
    for (uint32_t i = 0; i < b->nconsts; i++)
        if (b->consts[i].tag == CHG_V_RISK && (uint64_t)b->consts[i].u.i >= b->nrisks)
            return FAILF(L, CONSTS, i, payload, "risk class out of range");
    if (!read_table(L, CHG_SEC_ARMS, b->arms) || !read_table(L, CHG_SEC_LETS, b->lets))
        return false;
    /* decide.c: after classify, a policy with arms always has a risk */
    if (b->narms && b->arms[b->narms - 1].cond != CHG_NONE32)
        return FAILF(L, ARMS, b->narms - 1, cond, "classify has no default arm");
    for (uint32_t i = 0; i < b->nduring; i++) {
        chg_rec_DURING r;
        if (!read_rec(L, CHG_SEC_DURING, i, &r))
            return false;
        b->during[i] = r.set;
    }
    for (uint32_t i = 0; i < b->nrules; i++) {
        chg_ruledef *d = &b->rules[i];
        if (!read_rec(L, CHG_SEC_RULES, i, d))
            return false;
        if ((d->action == CHG_RA_WINDOW) != (d->window != CHG_NONE32))
            return FAILF(L, RULES, i, window, "window and action disagree");
        if ((d->action == CHG_RA_APPROVAL) != (d->req != CHG_NONE32))
            return FAILF(L, RULES, i, req, "approval requirement and action disagree");
    }
    return load_applies(L);
}

/* Approval requirements: each term has its count and what it counts; the
 * nodes form a tree, not a graph: each node is the operand of one node at
 * most (shared operands would make evaluation exponential), and no deeper
 * than the evaluator recurses. */
static bool load_areqs(loader *L)
{
    chg_bundle *b = L->b;
    b->nareqs = L->count[CHG_SEC_AREQS];
    uint8_t *used = chg_arena_alloc(&b->arena, 2 * ((size_t)b->nareqs + 1)), *depth = used + b->nareqs + 1;
    if (!used)
        return nomem(L);
    for (uint32_t i = 0; i < b->nareqs; i++) {
        chg_rec_AREQS r;
        if (!read_rec(L, CHG_SEC_AREQS, i, &r))
            return false;
        chg_areqdef *q = &b->areqs[i];
        q->kind = r.kind;
        q->including = r.including;
        q->count = r.count;
        q->group = r.group;
        q->people = r.people;
        q->within = r.within;
        q->a = r.a;
        q->b = r.b;
        q->within_text = r.within_text;
        q->lo = i;
        depth[i] = 1;
        bool term = q->kind == CHG_AR_GROUP || q->kind == CHG_AR_ANY || q->kind == CHG_AR_PEOPLE;
        if (term && q->count == 0)
            return FAILF(L, AREQS, i, count, "a term needs a count of 1 to 64");
        if (q->kind == CHG_AR_GROUP && q->group == CHG_NONE32)
            return FAILF(L, AREQS, i, group, "a group term needs its group");
        if (q->kind == CHG_AR_PEOPLE && q->people == CHG_NONE32)
            return FAILF(L, AREQS, i, people, "a people term needs its people");
        if (q->kind != CHG_AR_AND && q->kind != CHG_AR_OR)
            continue;
        if (q->a == CHG_NONE32 || q->b == CHG_NONE32)
            return FAILF(L, AREQS, i, a, "'and' and 'or' need two operands");
        bool shared = q->a == q->b || used[q->a] || used[q->b];
        used[q->a] = used[q->b] = 1;
        depth[i] = (uint8_t)(1 + (depth[q->a] > depth[q->b] ? depth[q->a] : depth[q->b]));
        q->lo = b->areqs[q->a].lo < b->areqs[q->b].lo ? b->areqs[q->a].lo : b->areqs[q->b].lo;
        if (shared || depth[i] > CHG_MAX_AREQ_DEPTH)
            return FAILF(L, AREQS, i, a, "operands shared or nested deeper than %d", CHG_MAX_AREQ_DEPTH);
    }
    /* the texts decisions show, made once, in the bundle's arena */
    chg_buf t;
    chg_buf_init(&t);
    bool ok = true;
    for (uint32_t i = 0; i < b->nareqs && ok; i++) {
        chg_areqdef *q = &b->areqs[i];
        chg_buf_reset(&t);
        chg_vm_areq_render(b, i, &t);
        q->text = t.oom ? NULL : chg_arena_strndup(&b->arena, t.data ? t.data : "", t.len);
        ok = q->text != NULL;
        if (q->kind != CHG_AR_GROUP && q->kind != CHG_AR_ANY && q->kind != CHG_AR_PEOPLE)
            continue;
        q->term = chg_arena_alloc(&b->arena, q->count * sizeof *q->term);
        ok = ok && q->term;
        for (uint32_t k = 0; ok && k < q->count; k++) {
            chg_buf_reset(&t);
            chg_vm_areq_render_term(b, q, k + 1, &t);
            q->term[k] = t.oom ? NULL : chg_arena_strndup(&b->arena, t.data ? t.data : "", t.len);
            ok = q->term[k] != NULL;
        }
    }
    chg_buf_free(&t);
    return ok || nomem(L);
}

/* Approvals, actions and intakes: the tables issue-5 semantics read. */
static bool load_decisions(loader *L)
{
    chg_bundle *b = L->b;
    b->napprovals = L->count[CHG_SEC_APPROVALS];
    b->nactions = L->count[CHG_SEC_ACTIONS];
    b->ncalls = L->count[CHG_SEC_CALLS];
    b->nintakes = L->count[CHG_SEC_INTAKES];
    b->nifields = L->count[CHG_SEC_IFIELDS];
    if (!load_areqs(L) || !read_table(L, CHG_SEC_APPROVALS, b->approvals) ||
        !read_table(L, CHG_SEC_CALLS, b->calls) || !read_table(L, CHG_SEC_ACTIONS, b->actions))
        return false;
    /* actions own consecutive, disjoint runs of calls, in order: a
     * decision holds at most ncalls action records */
    for (uint32_t i = 0; i < b->nactions; i++) {
        const chg_actiondef *a = &b->actions[i];
        uint32_t next = i ? b->actions[i - 1].first + b->actions[i - 1].count : 0;
        if (a->first != next)
            return FAILF(L, ACTIONS, i, first, "calls not right after the previous action's");
    }
    if (b->nactions && b->actions[b->nactions - 1].first + b->actions[b->nactions - 1].count != b->ncalls)
        return FAILF(L, ACTIONS, b->nactions - 1, count, "calls that no action owns");
    /* the normal forms of the requirements decisions start from */
    for (uint32_t i = 0; i < b->napprovals; i++)
        if (!chg_vm_areq_prepare(b, b->approvals[i].req))
            return nomem(L);
    for (uint32_t i = 0; i < b->nrules; i++)
        if (b->rules[i].req != CHG_NONE32 && !chg_vm_areq_prepare(b, b->rules[i].req))
            return nomem(L);
    if (!read_table(L, CHG_SEC_IFIELDS, b->ifields) || !read_table(L, CHG_SEC_INTAKES, b->intakes))
        return false;
    /* concurrency limits: a field path is names joined by single dots */
    b->nconcur = L->count[CHG_SEC_CONCUR];
    if (!read_table(L, CHG_SEC_CONCUR, b->concur))
        return false;
    for (uint32_t i = 0; i < b->nconcur; i++) {
        if (b->concur[i].per == CHG_NONE32)
            continue;
        const char *s = b->str[b->concur[i].per];
        size_t n = b->strlen[b->concur[i].per];
        if (n == 0 || s[0] == '.' || s[n - 1] == '.' || strstr(s, ".."))
            return FAILF(L, CONCUR, i, per, "an empty field name");
    }
    return true;
}

/* A set with a cutoff (SSM Cutoff) admits no start in the last part of
 * its runs, which is what t->ts answers; the decision's closes_at is
 * still the run's real end, so such a set also gets t->open: the same
 * nodes without their cutoffs (built once here, asked directly by
 * decide.c, not through the per-context index). */
static bool load_open_set(loader *L, chg_tsdef *t, chg_ts_node *nodes, uint32_t count)
{
    bool any = false;
    for (uint32_t k = 0; k < count; k++)
        if (nodes[k].cutoff) {
            nodes[k].cutoff = 0;
            any = true;
        }
    t->open = NULL;
    if (!any)
        return true;
    chg_time_error te;
    memset(&te, 0, sizeof te);
    t->open = chg_timeset_build_cached(nodes, count, (int)count - 1, L->b->calendars, &te, NULL);
    return t->open ? true : nomem(L); /* the same nodes built a moment ago */
}

/* Time sets: rebuild chg_ts_node trees and let the time library check
 * and build them (it loads the zones they name). Every node is read and
 * checked once by itself, then again as part of each set that has it.
 * The sets share one calendar cache, as in the compiler: a calendar
 * (one string of the bundle) is expanded once however many sets name
 * it, and all of them within the compiler's budget, so a bundle that
 * compiled loads and a made-up one cannot make the load run away. */
static bool load_timesets(loader *L)
{
    chg_bundle *b = L->b;
    uint32_t n = L->count[CHG_SEC_TIMESETS], nn = L->count[CHG_SEC_TSNODES];
    b->ntimesets = n;
    /* the flags the policy reads, for chg_bundle_reads_flag (string
     * indexes; not deduplicated: the list is only scanned) */
    b->flag_strs = chg_arena_alloc(&b->arena, sizeof *b->flag_strs * (nn + 1));
    if (!b->flag_strs)
        return nomem(L);
    for (uint32_t i = 0; i < nn; i++) {
        chg_rec_TSNODES q;
        if (!read_rec(L, CHG_SEC_TSNODES, i, &q))
            return false;
        if (q.op == CHG_TS_FLAG && q.text != CHG_NONE32)
            b->flag_strs[b->nflag_strs++] = q.text;
    }
    if (n && !(b->calendars = chg_ts_cache_new(CHG_TS_CALENDAR_BUDGET)))
        return nomem(L);
    bool ok = true;
    chg_vm_verifier V = {b, L->off, L->err, L->errlen, false};
    uint32_t next_first = 0;
    for (uint32_t i = 0; i < n && ok; i++) {
        chg_rec_TIMESETS r;
        if (!read_rec(L, CHG_SEC_TIMESETS, i, &r))
            return false;
        chg_tsdef *t = &b->timesets[i];
        t->name = r.name;
        t->kind = r.kind;
        t->text = r.text;
        t->flag = CHG_NONE32;
        t->nflags = 0;
        chg_ts_node *nodes = chg_calloc(r.count, sizeof *nodes);
        uint32_t *flags = chg_arena_alloc(&b->arena, sizeof *flags * (r.count + 1));
        if (!nodes || !flags) {
            chg_free(nodes);
            return nomem(L);
        }
        t->flags = flags;
        for (uint32_t k = 0; k < r.count && ok; k++) {
            uint32_t at = r.first + k;
            chg_rec_TSNODES q;
            read_rec(L, CHG_SEC_TSNODES, at, &q); /* checked above */
            chg_ts_node *x = &nodes[k];
            x->op = (chg_ts_op)q.op;
            x->days = q.days;
            x->from_local = q.from_local != 0;
            x->to_local = q.to_local != 0;
            x->zone = q.zone == CHG_NONE32 ? NULL : b->str[q.zone];
            const char *tx = q.text == CHG_NONE32 ? NULL : b->str[q.text];
            x->a = q.a;
            x->b = q.b;
            x->start_min = q.start_min;
            x->end_min = q.end_min;
            x->from_month = q.from_month;
            x->from_day = q.from_day;
            x->to_month = q.to_month;
            x->to_day = q.to_day;
            x->duration = q.duration;
            x->from = q.from;
            x->to = q.to;
            x->flags = q.flags;
            x->offset_days = q.offset_days;
            x->cutoff = q.cutoff;
            x->period = q.period;
            switch (x->op) {
            case CHG_TS_CRON: x->cron = tx; break;
            case CHG_TS_CALENDAR:
                x->ics = tx;
                x->ics_len = tx ? b->strlen[q.text] : 0;
                break;
            case CHG_TS_FLAG: {
                x->flag = tx;
                if (t->flag == CHG_NONE32)
                    t->flag = q.text;
                if (tx) /* repeats kept: --explain skips them, load stays linear */
                    flags[t->nflags++] = q.text;
                break;
            }
            default: break;
            }
            if ((x->op == CHG_TS_CRON || x->op == CHG_TS_CALENDAR || x->op == CHG_TS_FLAG) && !tx)
                ok = FAILF(L, TSNODES, at, text, "this operation needs its text");
            else if ((x->op == CHG_TS_OR || x->op == CHG_TS_AND || x->op == CHG_TS_NOT) &&
                     (x->a < 0 || (uint32_t)x->a >= k))
                ok = FAILF(L, TSNODES, at, a, "operands must come before the node in its set");
            else if ((x->op == CHG_TS_OR || x->op == CHG_TS_AND) && (x->b < 0 || (uint32_t)x->b >= k))
                ok = FAILF(L, TSNODES, at, b, "operands must come before the node in its set");
        }
        /* The zone a listing shows local times in: the one every schedule
         * of the set names, unless that is UTC. Derived here from the very
         * nodes the evaluator uses, so a bundle cannot show a reviewer one
         * zone while deciding in another. */
        t->zone = NULL;
        bool mixed = false;
        for (uint32_t k = 0; k < r.count && ok; k++) {
            const chg_ts_node *x = &nodes[k];
            if (x->op == CHG_TS_FLAG || x->op == CHG_TS_OR || x->op == CHG_TS_AND || x->op == CHG_TS_NOT)
                continue;
            const char *z = x->zone ? x->zone : "UTC";
            mixed |= t->zone && strcmp(t->zone, z) != 0;
            t->zone = z;
        }
        if (mixed || (t->zone && !strcmp(t->zone, "UTC")))
            t->zone = NULL;
        if (ok)
            ok = verified(L, &V, chg_vm_verify_tstree(&V, i, nodes, r.first, r.count, &next_first));
        if (ok) {
            chg_time_error te;
            int bad = -1;
            memset(&te, 0, sizeof te);
            t->ts = chg_timeset_build_cached(nodes, r.count, (int)r.count - 1, b->calendars, &te, &bad);
            if (!t->ts && te.status == CHG_ENOMEM)
                ok = nomem(L);
            else if (!t->ts)
                ok = fail(L, roff(L, CHG_SEC_TSNODES, r.first + (bad >= 0 ? (uint32_t)bad : 0)),
                          "time set '%s': %s", b->str[t->name], te.message);
        }
        if (ok)
            ok = load_open_set(L, t, nodes, r.count);
        chg_free(nodes);
    }
    return ok;
}

/* What a bundle names but does not contain: regular expressions (compiled
 * here, once, so a decision only matches), time zones (from the system's
 * tz database) and built-ins (bound by name to this chgc's functions, so a
 * bundle from a newer compiler that needs a newer built-in is rejected
 * here rather than failing in the middle of a decision). */
static void *pcre_malloc(PCRE2_SIZE size, void *ud)
{
    (void)ud;
    return chg_malloc(size);
}

static void pcre_free(void *p, void *ud)
{
    (void)ud;
    chg_free(p);
}

static bool load_externals(loader *L)
{
    chg_bundle *b = L->b;
    b->nregexes = L->count[CHG_SEC_REGEXES];
    b->nzones = L->count[CHG_SEC_ZONES];
    b->nbuiltins = L->count[CHG_SEC_BUILTINS];
    /* pcre2 allocates through chg_realloc too, by way of a general
     * context (no global of pcre2's is touched) */
    if (b->nregexes && (!(b->pcre = pcre2_general_context_create(pcre_malloc, pcre_free, NULL)) ||
                        !(b->pcre_cc = pcre2_compile_context_create(b->pcre))))
        return nomem(L);
    for (uint32_t i = 0; i < b->nregexes; i++) {
        chg_rec_REGEXES r;
        if (!read_rec(L, CHG_SEC_REGEXES, i, &r))
            return false;
        int code;
        PCRE2_SIZE off;
        b->regexes[i] = pcre2_compile((PCRE2_SPTR)b->str[r.pattern], b->strlen[r.pattern], PCRE2_UTF, &code, &off,
                                      b->pcre_cc);
        if (!b->regexes[i] && code == PCRE2_ERROR_HEAP_FAILED)
            return nomem(L);
        if (!b->regexes[i]) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(code, msg, sizeof msg);
            return FAILF(L, REGEXES, i, pattern, "%s", (const char *)msg);
        }
        pcre2_jit_compile(b->regexes[i], PCRE2_JIT_COMPLETE); /* best effort: interpreted otherwise */
        uint32_t caps = 0;
        pcre2_pattern_info(b->regexes[i], PCRE2_INFO_CAPTURECOUNT, &caps);
        if (caps > b->max_captures)
            b->max_captures = caps;
    }
    for (uint32_t i = 0; i < b->nzones; i++) {
        chg_rec_ZONES r;
        if (!read_rec(L, CHG_SEC_ZONES, i, &r))
            return false;
        chg_time_error te;
        memset(&te, 0, sizeof te);
        b->zones[i] = chg_tz_load(b->str[r.name], &te);
        if (!b->zones[i] && te.status == CHG_ENOMEM)
            return nomem(L);
        if (!b->zones[i])
            return FAILF(L, ZONES, i, name, "time zone '%s': %s", b->str[r.name], te.message);
    }
    for (uint32_t i = 0; i < b->nbuiltins; i++) {
        chg_rec_BUILTINS r;
        if (!read_rec(L, CHG_SEC_BUILTINS, i, &r))
            return false;
        const chg_builtin_impl *impl = chg_vm_builtin_impl_find(b->str[r.name]);
        if (!impl)
            return FAILF(L, BUILTINS, i, name, "the bundle needs built-in '%s', which this chgc lacks",
                         b->str[r.name]);
        b->builtins[i] = impl->fn;
        b->builtin_info[i] = impl;
    }
    return true;
}

/* ---- loading ------------------------------------------------------------------- */

/* What the libraries made goes back to them (compiled regexes to pcre2,
 * zones and time sets to the time library, each its own object); every
 * table and text is in the arena, freed at once; the bytes share the
 * bundle's own allocation. */
void chg_bundle_free(chg_bundle *b)
{
    if (!b)
        return;
    for (uint32_t i = 0; b->timesets && i < b->ntimesets; i++) {
        chg_timeset_free(b->timesets[i].ts);
        chg_timeset_free(b->timesets[i].open);
    }
    chg_ts_cache_free(b->calendars); /* after the sets that use it */
    for (uint32_t i = 0; b->regexes && i < b->nregexes; i++)
        pcre2_code_free(b->regexes[i]);
    pcre2_compile_context_free(b->pcre_cc);
    pcre2_general_context_free(b->pcre);
    for (uint32_t i = 0; b->zones && i < b->nzones; i++)
        chg_tz_free(b->zones[i]);
    chg_arena_free(&b->arena);
    chg_free(b);
}

int chg_bundle_open(const void *data, size_t len, chg_bundle **out, char *err, size_t errlen)
{
    *out = NULL;
    if (len > UINT32_MAX) {
        snprintf(err, errlen, "bundle too large");
        return CHG_ERANGE;
    }
    chg_bundle *b = chg_malloc(sizeof *b + len);
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return CHG_ENOMEM;
    }
    memset(b, 0, sizeof *b);
    chg_arena_init(&b->arena);
    /* the budgets of a bundle without a LIMITS section */
    b->limits = (chg_limits){CHG_DEFAULT_STEPS, CHG_DEFAULT_REGEX_STEPS, CHG_DEFAULT_SCRATCH};
    b->data = (uint8_t *)(b + 1);
    if (len)
        memcpy(b->data, data, len);
    b->len = len;
    loader L;
    memset(&L, 0, sizeof L);
    L.b = b;
    L.err = err;
    L.errlen = errlen;
    /* each step relies on the ones before it; the code verifier comes
     * last, when every table an operand may index is loaded and checked */
    chg_vm_verifier V = {b, L.off, err, errlen, false};
    bool ok = read_sections(&L) && alloc_tables(&L) && load_strings(&L) && load_consts(&L) && load_code(&L) &&
              read_blocks(&L) && load_meta(&L) && load_limits(&L) && check_blocks(&L) && load_paths(&L) &&
              verified(&L, &V, chg_vm_verify_decoding(&V)) && load_schema(&L) && load_policy(&L) &&
              load_decisions(&L) && load_timesets(&L) && load_externals(&L) && verified(&L, &V, chg_vm_verify_code(&V)) &&
              (chg_vm_shortcuts(b) || nomem(&L));
    if (!ok) {
        chg_bundle_free(b);
        return L.oom ? CHG_ENOMEM : CHG_EINVAL;
    }
    *out = b;
    return CHG_OK;
}

chg_bundle *chg_bundle_load(const void *data, size_t len, char *err, size_t errlen)
{
    chg_bundle *b;
    chg_bundle_open(data, len, &b, err, errlen);
    return b;
}

bool chg_bundle_reads_flag(const chg_bundle *b, const char *name)
{
    for (uint32_t i = 0; i < b->nflag_strs; i++)
        if (strcmp(b->str[b->flag_strs[i]], name) == 0)
            return true;
    return false;
}

bool chg_bundle_reads_query(const chg_bundle *b, const char *name)
{
    for (uint32_t i = 0; i < b->nbuiltins; i++)
        if (b->builtin_info[i]->query && strcmp(b->builtin_info[i]->name, name) == 0)
            return true;
    return false;
}

const char *chg_bundle_policy_name(const chg_bundle *b) { return b->str[b->name]; }
const char *chg_bundle_policy_version(const chg_bundle *b) { return b->str[b->version]; }

bool chg_bundle_has_at(const chg_bundle *b) { return b->at_block != CHG_NONE32; }

uint32_t chg_bundle_ntimesets(const chg_bundle *b) { return b->ntimesets; }

const chg_timeset *chg_bundle_timeset(const chg_bundle *b, uint32_t i, chg_timeset_info *info)
{
    if (i >= b->ntimesets)
        return NULL;
    const chg_tsdef *t = &b->timesets[i];
    info->name = b->str[t->name];
    info->text = b->str[t->text];
    info->zone = t->zone;
    info->kind = t->kind == CHG_SET_WINDOW ? "window" : "freeze";
    info->inline_set = t->kind == CHG_SET_INLINE;
    return t->ts;
}
const char *chg_bundle_hash(const chg_bundle *b) { return b->hash; }

uint32_t chg_bundle_nrules(const chg_bundle *b) { return b->nrules; }
const char *chg_bundle_rule_name(const chg_bundle *b, uint32_t rule) { return b->str[b->rules[rule].name]; }
uint32_t chg_bundle_narms(const chg_bundle *b) { return b->narms; }
const char *chg_bundle_rule_source(const chg_bundle *b, uint32_t rule, char *buf, size_t len)
{
    return chg_bundle_source(b, b->rules[rule].span, buf, len);
}
const char *chg_bundle_arm_source(const chg_bundle *b, uint32_t arm, char *buf, size_t len)
{
    return chg_bundle_source(b, b->arms[arm].span, buf, len);
}
const char *chg_bundle_arm_class(const chg_bundle *b, uint32_t arm) { return b->str[b->risks[b->arms[arm].cls]]; }
bool chg_bundle_arm_is_default(const chg_bundle *b, uint32_t arm) { return b->arms[arm].cond == CHG_NONE32; }
const char *chg_bundle_risk_name(const chg_bundle *b, int risk)
{
    return risk >= 0 && (uint32_t)risk < b->nrisks ? b->str[b->risks[risk]] : NULL;
}
uint32_t chg_bundle_nintakes(const chg_bundle *b) { return b->nintakes; }
const char *chg_bundle_intake_name(const chg_bundle *b, uint32_t intake) { return b->str[b->intakes[intake].name]; }

const char *chg_bundle_source(const chg_bundle *b, uint32_t span, char *buf, size_t len)
{
    if (span >= b->nspans) {
        snprintf(buf, len, "?");
        return buf;
    }
    const chg_srcspan *s = &b->spans[span];
    snprintf(buf, len, "%s:%u:%u", b->str[s->file], s->line, s->col);
    return buf;
}

/* ---- disassembler ------------------------------------------------------------------ */

static void operand(const chg_bundle *b, chg_buf *out, char kind, uint32_t v, const chg_ins *in)
{
    switch (kind) {
    case 'R': chg_buf_printf(out, " r%u", v); break;
    case 'K':
        chg_buf_printf(out, " k%u(", v);
        chg_vm_value_json(b, &b->consts[v], out);
        chg_buf_putc(out, ')');
        break;
    case 'P': {
        const char *t = "?";
        for (uint32_t i = 0; i < b->npaths; i++)
            if (b->paths[i].slot == v && b->paths[i].kind == CHG_PN_KEY) {
                uint32_t q = i;
                while (q >= 2)
                    q = b->paths[q].parent;
                if (q == (kind == 'P' ? 0u : 1u))
                    t = b->str[b->paths[i].text];
            }
        chg_buf_printf(out, " %s", t);
        break;
    }
    case 'E': chg_buf_printf(out, " event[%u]", v); break;
    case 'L': chg_buf_printf(out, " let:%s", b->str[b->lets[v].name]); break;
    case 'T': chg_buf_printf(out, " set:%s", b->str[b->timesets[v].name]); break;
    case 'X': chg_buf_printf(out, " re%u", v); break;
    case 'B': chg_buf_printf(out, " %s", b->builtin_info[v]->name); break;
    case 'Y': chg_buf_printf(out, " layout%u", v); break;
    case 'F': chg_buf_printf(out, " .%s", b->str[b->lfields[b->layouts[in->c].first + v].name]); break;
    case 'n': chg_buf_printf(out, " n=%u", v); break;
    case 'o':
        if (in->op == CHG_OP_LOADBOOL)
            chg_buf_puts(out, v ? " true" : " false");
        else if (v)
            chg_buf_puts(out, " (or null)");
        break;
    case 'V': chg_buf_printf(out, " %s", v == 0 ? "freeze" : v == 1 ? "reason" : "summary"); break;
    case 'J': chg_buf_printf(out, " ->%u", v); break;
    case 'I': chg_buf_printf(out, " %d", (int32_t)v); break;
    }
}

void chg_bundle_rule(const chg_bundle *b, uint32_t rule, chg_rule_info *out)
{
    const chg_ruledef *d = &b->rules[rule];
    static const chg_rule_kind actions[] = {
        [CHG_RA_DENY] = CHG_RULE_DENY,
        [CHG_RA_WARN] = CHG_RULE_WARN,
        [CHG_RA_WINDOW] = CHG_RULE_WINDOW,
        [CHG_RA_APPROVAL] = CHG_RULE_APPROVAL,
    };
    out->name = b->str[d->name];
    out->level = d->level;
    out->action = actions[d->action];
    out->window = d->window;
    out->during = b->during + d->during_first;
    out->nduring = d->during_count;
    out->span = d->span;
}

chg_applies chg_bundle_rule_applies(const chg_bundle *b, uint32_t rule, uint32_t k)
{
    const chg_ruledef *d = &b->rules[rule];
    const chg_rec_APPLIES *a = &b->applies[d->applies_first];
    uint32_t i = 0;
    while (i + 1 < d->applies_count && a[i + 1].from_class <= k)
        i++;
    return (chg_applies)a[i].how;
}

uint32_t chg_bundle_nrisks(const chg_bundle *b) { return b->nrisks; }
uint32_t chg_bundle_risk_span(const chg_bundle *b, uint32_t k) { return b->risk_spans[k]; }

uint32_t chg_bundle_nconcurrency(const chg_bundle *b) { return b->nconcur; }

void chg_bundle_concurrency(const chg_bundle *b, uint32_t i, chg_concurrency_info *out)
{
    const chg_rec_CONCUR *r = &b->concur[i];
    out->name = b->str[r->name];
    out->max = r->max;
    out->min_risk = r->min_risk == CHG_NONE32 ? -1 : (int)r->min_risk;
    out->per = r->per == CHG_NONE32 ? NULL : b->str[r->per];
    out->span = r->span;
}

bool chg_bundle_concurrency_default(const chg_bundle *b, uint32_t i, chg_buf *out)
{
    const chg_rec_CONCUR *r = &b->concur[i];
    if (r->per == CHG_NONE32)
        return false;
    /* walk the path nodes from the change's root (node 0), one key at a
     * time; a segment no node has means the schema says nothing of it */
    uint32_t node = 0;
    const char *p = b->str[r->per];
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        uint32_t k = CHG_NONE32;
        for (uint32_t j = node + 1; j < b->npaths && k == CHG_NONE32; j++) {
            const chg_pathnode *q = &b->paths[j];
            if (q->kind == CHG_PN_KEY && q->parent == node && q->name != CHG_NONE32 &&
                strncmp(b->str[q->name], p, n) == 0 && b->str[q->name][n] == 0)
                k = j;
        }
        if (k == CHG_NONE32)
            return false;
        node = k;
        p += n + (dot ? 1 : 0);
    }
    if (b->paths[node].dflt == CHG_NONE32 || b->paths[node].dflt >= b->nconsts)
        return false;
    chg_vm_value_change_json(b, &b->consts[b->paths[node].dflt], out);
    return true;
}

void chg_bundle_disasm(const chg_bundle *b, chg_buf *out)
{
    chg_buf_printf(out, "; policy %s version %s\n; compiler %s, sha256 %s\n", b->str[b->name], b->str[b->version],
                   b->compiler, b->hash);
    chg_buf_printf(out, "; %u instructions in %u blocks, %u registers, %u constants, %u change slots\n",
                   b->ncode, b->nblocks, b->nregs, b->nconsts, b->nslots_change);
    for (uint32_t i = 0; i < b->nconcur; i++) {
        const chg_rec_CONCUR *r = &b->concur[i];
        chg_buf_printf(out, "; concurrency %s: at most %u of %s%s in flight", b->str[r->name], r->max,
                       r->min_risk == CHG_NONE32 ? "any" : "risk >= ",
                       r->min_risk == CHG_NONE32 ? "" : b->str[b->risks[r->min_risk]]);
        if (r->per != CHG_NONE32)
            chg_buf_printf(out, " per change.%s", b->str[r->per]);
        chg_buf_putc(out, '\n');
    }
    for (uint32_t bi = 0; bi < b->nblocks; bi++) {
        const chg_block *k = &b->blocks[bi];
        const char *what = "";
        char label[256] = "";
        if (bi == b->at_block)
            what = "at";
        for (uint32_t i = 0; i < b->nlets; i++)
            if (b->lets[i].block == bi)
                snprintf(label, sizeof label, "let %s", b->str[b->lets[i].name]);
        for (uint32_t i = 0; i < b->narms; i++)
            if (b->arms[i].cond == bi)
                snprintf(label, sizeof label, "classify %s", b->str[b->risks[b->arms[i].cls]]);
        for (uint32_t i = 0; i < b->nrules; i++) {
            if (b->rules[i].when == bi)
                snprintf(label, sizeof label, "rule %s: when", b->str[b->rules[i].name]);
            if (b->rules[i].msg == bi)
                snprintf(label, sizeof label, "rule %s: message", b->str[b->rules[i].name]);
        }
        chg_buf_printf(out, "\nblock %u (%s%s) registers r%u..r%u\n", bi, what, label, k->reg_base,
                       k->reg_base + k->nregs - 1);
        uint32_t last_span = CHG_NONE32;
        for (uint32_t pc = k->start; pc < k->start + k->len; pc++) {
            const chg_ins *in = &b->code[pc];
            const char *fmt = chg_op_format(in->op);
            size_t line_start = out->len;
            chg_buf_printf(out, "  %5u  %-9s", pc, chg_vm_op_names[in->op]);
            uint32_t v[4] = {in->x, in->a, in->b, in->c};
            for (int q = 1; q < 4; q++) {
                if (fmt[q] == 'J' || fmt[q] == 'I') {
                    operand(b, out, fmt[q], CHG_INS_BC(*in), in);
                    break;
                }
                if (fmt[q] != '-')
                    operand(b, out, fmt[q], v[q], in);
            }
            if (fmt[0] != '-')
                operand(b, out, fmt[0], v[0], in);
            if (b->insspan[pc] != last_span && b->insspan[pc] < b->nspans) {
                last_span = b->insspan[pc];
                size_t w = out->len - line_start;
                chg_buf_printf(out, "%*s; ", w < 56 ? (int)(56 - w) : 1, "");
                char src[512];
                chg_buf_puts(out, chg_bundle_source(b, last_span, src, sizeof src));
            }
            chg_buf_putc(out, '\n');
        }
    }
}
