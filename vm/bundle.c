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
 * Order matters: each load_* step may rely on the tables loaded before it
 * (constants before paths, blocks before the tables that name blocks), and
 * the code verifier (verify.c) runs last, when every table an operand can
 * index exists. The semantic checks that span tables (code, time-set
 * trees, decoding without fan-out) are verify.c's; this file reads and
 * checks records.
 * Tables are allocated with one spare entry (n + 1) so that an empty
 * table is still a valid pointer.
 */
#include "vm_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "chg_time.h"

static const uint32_t sec_size[CHG_SEC__MAX] = {
#define SEC_SIZE(name, id, size) [id] = size,
    CHG_SECTIONS(SEC_SIZE)
#undef SEC_SIZE
};

static const char *const sec_name[CHG_SEC__MAX] = {
#define SEC_NAME(name, id, size) [id] = #name,
    CHG_SECTIONS(SEC_NAME)
#undef SEC_NAME
};

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
} loader;

/* Record the first failure (later ones are consequences) and return false,
 * so a check reads `return fail(...)`. */
static bool fail(loader *L, uint32_t offset, const char *fmt, ...) CHG_PRINTF(3, 4);
static bool fail(loader *L, uint32_t offset, const char *fmt, ...)
{
    if (L->failed)
        return false;
    L->failed = true;
    int n = snprintf(L->err, L->errlen, "corrupt at offset %u: ", offset);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < L->errlen)
        vsnprintf(L->err + n, L->errlen - (size_t)n, fmt, ap);
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
 * "corrupt at", and its own status (chg_bundle_open). */
static bool nomem(loader *L)
{
    if (L->failed)
        return false;
    L->failed = L->oom = true;
    snprintf(L->err, L->errlen, "out of memory");
    return false;
}

/* Offset and bytes of record i of section s. */
static uint32_t roff(loader *L, int s, uint32_t i) { return L->off[s] + i * sec_size[s]; }
static const uint8_t *recp(loader *L, int s, uint32_t i) { return L->b->data + roff(L, s, i); }

static bool check_str(loader *L, uint32_t s, uint32_t at, bool none_ok)
{
    if (s == CHG_NONE32 && none_ok)
        return true;
    if (s >= L->b->nstrings)
        return fail(L, at, "string index %u out of range (%u strings)", s, L->b->nstrings);
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
    if (b->len < CHG_BUNDLE_HEADER + 4)
        return fail(L, 0, "truncated: %zu bytes is shorter than the header", b->len);
    if (memcmp(d, CHG_BUNDLE_MAGIC, 8) != 0)
        return fail(L, 0, "not a chg bundle (bad magic)");
    uint32_t version = chg_rd32(d + 8);
    if (version != CHG_BUNDLE_VERSION)
        return fail(L, 8, "bundle format version %u is not supported (this chgc reads version %u)",
                    version, CHG_BUNDLE_VERSION);
    uint32_t total = chg_rd32(d + 12);
    if (total != b->len)
        return fail(L, 12, "%s: the header says %u bytes, the file has %zu",
                    total > b->len ? "truncated" : "trailing bytes", total, b->len);
    memcpy(b->compiler, d + 16, 16);
    b->compiler[16] = 0;
    unsigned char h[32];
    unsigned int hl = 0;
    EVP_Digest(d + CHG_BUNDLE_HEADER, b->len - CHG_BUNDLE_HEADER, h, &hl, EVP_sha256(), NULL);
    if (memcmp(h, d + 32, 32) != 0)
        return fail(L, 32, "content hash mismatch (the bundle was changed after it was built)");
    for (int i = 0; i < 32; i++)
        snprintf(b->hash + 2 * i, 3, "%02x", d[32 + i]);

    uint32_t nsec = chg_rd32(d + CHG_BUNDLE_HEADER);
    if (nsec > CHG_SEC__MAX || (uint64_t)CHG_BUNDLE_HEADER + 4 + 12ull * nsec > b->len)
        return fail(L, CHG_BUNDLE_HEADER, "section table of %u entries does not fit", nsec);
    bool seen[CHG_SEC__MAX] = {false};
    for (uint32_t i = 0; i < nsec; i++) {
        uint32_t at = CHG_BUNDLE_HEADER + 4 + 12 * i;
        uint32_t id = chg_rd32(d + at), off = chg_rd32(d + at + 4), len = chg_rd32(d + at + 8);
        if (id == 0 || id >= CHG_SEC__MAX || !sec_size[id])
            return fail(L, at, "unknown section id %u", id);
        if (seen[id])
            return fail(L, at, "section %s appears twice", sec_name[id]);
        seen[id] = true;
        if ((uint64_t)off + len > b->len || len < 4 || off < CHG_BUNDLE_HEADER + 4 + 12 * nsec)
            return fail(L, at, "section %s (offset %u, %u bytes) lies outside the bundle", sec_name[id], off, len);
        uint32_t count = chg_rd32(d + off);
        uint64_t need = 4 + (uint64_t)count * sec_size[id];
        if (need > len)
            return fail(L, off, "section %s: %u records of %u bytes do not fit in %u bytes", sec_name[id],
                        count, sec_size[id], len);
        if (id != CHG_SEC_STRINGS && need != len)
            return fail(L, off, "section %s: %u bytes after its %u records", sec_name[id],
                        (uint32_t)(len - need), count);
        L->off[id] = off + 4;
        L->count[id] = count;
        if (id == CHG_SEC_STRINGS) {
            L->blob = (uint32_t)(off + need);
            L->bloblen = (uint32_t)(len - need);
        }
    }
    for (int s = 1; s < CHG_SEC__MAX; s++)
        if (sec_size[s] && !seen[s])
            return fail(L, CHG_BUNDLE_HEADER, "section %s is missing", sec_name[s]);
    if (L->count[CHG_SEC_META] != 1)
        return fail(L, L->off[CHG_SEC_META] - 4, "META must hold one record, not %u", L->count[CHG_SEC_META]);
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
    b->str = chg_calloc(n + 1, sizeof *b->str);
    b->strlen = chg_calloc(n + 1, sizeof *b->strlen);
    if (!b->str || !b->strlen)
        return nomem(L);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *r = recp(L, CHG_SEC_STRINGS, i);
        uint32_t off = chg_rd32(r), len = chg_rd32(r + 4);
        if ((uint64_t)off + len + 1 > L->bloblen || b->data[L->blob + off + len] != 0)
            return fail(L, roff(L, CHG_SEC_STRINGS, i), "string %u (offset %u, %u bytes) is outside the blob "
                                                       "or not terminated", i, off, len);
        const uint8_t *s = b->data + L->blob + off;
        size_t bad = chg_utf8_validate(s, len);
        if (bad < len)
            return fail(L, L->blob + off + (uint32_t)bad, "string %u is not valid UTF-8", i);
        if (memchr(s, 0, len))
            return fail(L, L->blob + off, "string %u contains a NUL byte", i);
        b->str[i] = (const char *)s;
        b->strlen[i] = len;
    }
    return true;
}

static bool load_consts(loader *L)
{
    chg_bundle *b = L->b;
    uint32_t n = L->count[CHG_SEC_CONSTS];
    b->nconsts = n;
    b->consts = chg_calloc(n + 1, sizeof *b->consts);
    if (!b->consts)
        return nomem(L);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *r = recp(L, CHG_SEC_CONSTS, i);
        uint32_t at = roff(L, CHG_SEC_CONSTS, i);
        uint8_t tag = r[0];
        uint32_t a = chg_rd32(r + 4);
        uint64_t pl = chg_rd64(r + 8);
        chg_value *v = &b->consts[i];
        if (r[1] || r[2] || r[3])
            return fail(L, at + 1, "constant %u: reserved bytes are not zero", i);
        switch (tag) {
        case CHG_K_NULL: v->tag = CHG_V_NULL; break;
        case CHG_K_BOOL:
            if (pl > 1)
                return fail(L, at + 8, "constant %u: a bool must be 0 or 1", i);
            v->tag = CHG_V_BOOL;
            v->u.i = (int64_t)pl;
            break;
        case CHG_K_INT: v->tag = CHG_V_INT; v->u.i = (int64_t)pl; break;
        case CHG_K_FLOAT: v->tag = CHG_V_FLOAT; memcpy(&v->u.f, &pl, 8); break;
        case CHG_K_STR:
            if (!check_str(L, a, at + 4, false))
                return false;
            v->tag = CHG_V_STR;
            v->u.s = b->str[a];
            v->len = b->strlen[a];
            break;
        case CHG_K_TIME: v->tag = CHG_V_TIME; v->u.i = (int64_t)pl; break;
        case CHG_K_DUR: v->tag = CHG_V_DUR; v->u.i = (int64_t)pl; break;
        case CHG_K_RISK: v->tag = CHG_V_RISK; v->u.i = (int64_t)pl; break; /* checked with RISKS */
        case CHG_K_LIST:
            /* the elements are the a constants just before the list: one
             * pass loads them first, and a list constant holds only plain
             * values, so nothing that walks constants recurses */
            if (a > i)
                return fail(L, at + 4, "constant %u: a list of %u elements needs them before it", i, a);
            for (uint32_t k = i - a; k < i; k++)
                if (b->consts[k].tag == CHG_V_LIST)
                    return fail(L, at, "constant %u: nested list constants are not allowed", i);
            v->tag = CHG_V_LIST;
            v->len = a;
            v->u.items = &b->consts[i - a];
            break;
        default:
            return fail(L, at, "constant %u: unknown tag %u", i, tag);
        }
    }
    return true;
}

/* Code is decoded into an array of chg_ins, not run from the bytes: the
 * file is little-endian and unaligned, the interpreter reads aligned host
 * structs. The source map (one span per instruction) is what turns a
 * failing pc into "policy.chg:12:5" in a decision. */
static bool load_code(loader *L)
{
    chg_bundle *b = L->b;
    uint32_t n = L->count[CHG_SEC_CODE];
    b->ncode = n;
    chg_ins *code = chg_calloc(n + 1, sizeof *code);
    if (!code)
        return nomem(L);
    b->code = code; /* owned by the bundle from here, freed with it on error */
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *r = recp(L, CHG_SEC_CODE, i);
        code[i].op = r[0];
        code[i].x = r[1];
        code[i].a = chg_rd16(r + 2);
        code[i].b = chg_rd16(r + 4);
        code[i].c = chg_rd16(r + 6);
        /* the interpreter's dispatch indexes its handler table with op */
        if (code[i].op >= CHG_OP__COUNT)
            return fail(L, roff(L, CHG_SEC_CODE, i), "instruction %u: unknown opcode %u", i, code[i].op);
    }
    if (L->count[CHG_SEC_INSSPAN] != n)
        return fail(L, L->off[CHG_SEC_INSSPAN] - 4, "%u source positions for %u instructions",
                    L->count[CHG_SEC_INSSPAN], n);
    b->nspans = L->count[CHG_SEC_SPANS];
    b->spans = chg_calloc(b->nspans + 1, sizeof *b->spans);
    b->insspan = chg_calloc(n + 1, sizeof *b->insspan);
    if (!b->spans || !b->insspan)
        return nomem(L);
    for (uint32_t i = 0; i < b->nspans; i++) {
        const uint8_t *r = recp(L, CHG_SEC_SPANS, i);
        b->spans[i].file = chg_rd32(r);
        b->spans[i].line = chg_rd32(r + 4);
        b->spans[i].col = chg_rd32(r + 8);
        if (!check_str(L, b->spans[i].file, roff(L, CHG_SEC_SPANS, i), false))
            return false;
    }
    for (uint32_t i = 0; i < n; i++) {
        b->insspan[i] = chg_rd32(recp(L, CHG_SEC_INSSPAN, i));
        if (b->insspan[i] >= b->nspans && !(b->nspans == 0 && b->insspan[i] == 0))
            return fail(L, roff(L, CHG_SEC_INSSPAN, i), "instruction %u: source position %u out of range", i,
                        b->insspan[i]);
    }
    return true;
}

static bool load_meta(loader *L)
{
    chg_bundle *b = L->b;
    const uint8_t *m = recp(L, CHG_SEC_META, 0);
    uint32_t at = roff(L, CHG_SEC_META, 0);
    b->name = chg_rd32(m);
    b->version = chg_rd32(m + 4);
    b->at_block = chg_rd32(m + 8);
    b->nregs = chg_rd32(m + 12);
    b->nslots_change = chg_rd32(m + 16);
    b->nslots_event = chg_rd32(m + 20);
    b->id_slot = chg_rd32(m + 24);
    b->flags = chg_rd32(m + 28);
    b->approvals_slot = chg_rd32(m + 32);
    b->requester_slot = chg_rd32(m + 36);
    b->emergency_slot = chg_rd32(m + 40);
    b->approvals_layout = chg_rd32(m + 44);
    if (!check_str(L, b->name, at, false) || !check_str(L, b->version, at + 4, false))
        return false;
    /* register operands are u16; chg_ctx_new allocates nregs of them */
    if (b->nregs == 0 || b->nregs > 0xffff)
        return fail(L, at + 12, "%u registers (1 to 65535)", b->nregs);
    if (b->nslots_change > 0xffff || b->nslots_event > 0xffff)
        return fail(L, at + 16, "too many path slots");
    if (b->id_slot != CHG_NONE32 && b->id_slot >= b->nslots_change)
        return fail(L, at + 24, "id slot %u out of range", b->id_slot);
    uint32_t slots[3] = {b->approvals_slot, b->requester_slot, b->emergency_slot};
    for (int i = 0; i < 3; i++)
        if (slots[i] != CHG_NONE32 && slots[i] >= b->nslots_change)
            return fail(L, at + 32 + 4 * (uint32_t)i, "slot %u out of range", slots[i]);
    return true;
}

static bool load_blocks(loader *L)
{
    chg_bundle *b = L->b;
    uint32_t n = L->count[CHG_SEC_BLOCKS];
    b->nblocks = n;
    b->blocks = chg_calloc(n + 1, sizeof *b->blocks);
    if (!b->blocks)
        return nomem(L);
    uint32_t next = 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *r = recp(L, CHG_SEC_BLOCKS, i);
        uint32_t at = roff(L, CHG_SEC_BLOCKS, i);
        chg_block *k = &b->blocks[i];
        k->start = chg_rd32(r);
        k->len = chg_rd32(r + 4);
        k->reg_base = chg_rd16(r + 8);
        k->nregs = chg_rd16(r + 10);
        k->kind = r[12];
        if (k->start != next || k->len == 0 || (uint64_t)k->start + k->len > b->ncode)
            return fail(L, at, "block %u (instructions %u..%u) does not follow the previous block", i, k->start,
                        k->start + k->len);
        next = k->start + k->len;
        if (k->kind > CHG_B_LET)
            return fail(L, at + 12, "block %u: unknown kind %u", i, k->kind);
        /* the window is inside ctx->regs; and every block ends with RET,
         * so straight-line code cannot run into the next block */
        if (k->nregs == 0 || (uint32_t)k->reg_base + k->nregs > b->nregs)
            return fail(L, at + 8, "block %u: register window %u..%u outside the %u registers", i, k->reg_base,
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
                return fail(L, roff(L, CHG_SEC_BLOCKS, i) + 8, "let block %u shares registers with block %u", i, j);
        }
    }
    return true;
}

/* The path table: nodes 0 and 1 are the roots (change, raw event), every
 * other node names its parent, which comes before it. That order is what
 * decode.c relies on to walk from a node to its root without a cycle. */
static bool load_paths(loader *L)
{
    chg_bundle *b = L->b;
    uint32_t n = L->count[CHG_SEC_PATHS];
    b->npaths = n;
    b->paths = chg_calloc(n + 1, sizeof *b->paths);
    b->nlayouts = L->count[CHG_SEC_LAYOUTS];
    b->layouts = chg_calloc(b->nlayouts + 1, sizeof *b->layouts);
    b->nlfields = L->count[CHG_SEC_LFIELDS];
    b->lfields = chg_calloc(b->nlfields + 1, sizeof *b->lfields);
    if (!b->paths || !b->layouts || !b->lfields)
        return nomem(L);
    if (n < 2)
        return fail(L, L->off[CHG_SEC_PATHS] - 4, "the path table lacks its two roots");
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *r = recp(L, CHG_SEC_PATHS, i);
        uint32_t at = roff(L, CHG_SEC_PATHS, i);
        chg_pathnode *p = &b->paths[i];
        p->kind = r[0];
        p->type = r[1];
        p->need = r[2];
        p->parent = chg_rd32(r + 4);
        p->name = chg_rd32(r + 8);
        p->dflt = chg_rd32(r + 12);
        p->enm = chg_rd32(r + 16);
        p->slot = chg_rd16(r + 20);
        p->layout = chg_rd16(r + 22);
        p->text = chg_rd32(r + 24);
        bool root = i < 2;
        if (root ? p->kind != (i == 0 ? CHG_PN_ROOT_CHANGE : CHG_PN_ROOT_EVENT) || p->parent != CHG_NONE32
                 : (p->kind != CHG_PN_KEY && p->kind != CHG_PN_ELEM) || p->parent >= i)
            return fail(L, at, "path node %u: bad kind or parent", i);
        if (p->type > CHG_PT_OBJECT || p->need > CHG_PR_DEFAULT)
            return fail(L, at + 1, "path node %u: bad type or need", i);
        if (!check_str(L, p->name, at + 8, p->kind != CHG_PN_KEY) || !check_str(L, p->text, at + 24, false))
            return false;
        if (p->dflt != CHG_NONE32 && p->dflt >= b->nconsts)
            return fail(L, at + 12, "path node %u: default %u out of range", i, p->dflt);
        /* decode.c reads an enum field's values through enm, unchecked */
        if (p->type == CHG_PT_ENUM && p->enm == CHG_NONE32)
            return fail(L, at + 16, "path node %u: an enum without its values", i);
        if (p->enm != CHG_NONE32) {
            if (p->enm >= b->nconsts || b->consts[p->enm].tag != CHG_V_LIST)
                return fail(L, at + 16, "path node %u: enum values are not a list constant", i);
            for (uint32_t k = 0; k < b->consts[p->enm].len; k++)
                if (b->consts[p->enm].u.items[k].tag != CHG_V_STR)
                    return fail(L, at + 16, "path node %u: enum values must be strings", i);
        }
        if (p->slot != CHG_NONE16) {
            /* a slot belongs to the root its node hangs from; decode.c
             * writes slots[p->slot] of that root's array unchecked */
            uint32_t q = i;
            while (q >= 2 && b->paths[q].kind != CHG_PN_ELEM)
                q = b->paths[q].parent;
            uint32_t limit = q == 0 ? b->nslots_change : q == 1 ? b->nslots_event : 0;
            if (p->slot >= limit)
                return fail(L, at + 20, "path node %u: slot %u out of range", i, p->slot);
        }
        if (p->layout != CHG_NONE16 && p->layout >= b->nlayouts)
            return fail(L, at + 22, "path node %u: layout %u out of range", i, p->layout);
    }
    for (uint32_t i = 0; i < b->nlayouts; i++) {
        const uint8_t *r = recp(L, CHG_SEC_LAYOUTS, i);
        chg_layout *l = &b->layouts[i];
        l->first = chg_rd32(r);
        l->count = chg_rd32(r + 4);
        if ((uint64_t)l->first + l->count > b->nlfields || l->count > 255)
            return fail(L, roff(L, CHG_SEC_LAYOUTS, i), "layout %u: fields out of range", i);
    }
    for (uint32_t i = 0; i < b->nlfields; i++) {
        const uint8_t *r = recp(L, CHG_SEC_LFIELDS, i);
        chg_lfield *f = &b->lfields[i];
        f->name = chg_rd32(r);
        f->node = chg_rd32(r + 4);
        if (!check_str(L, f->name, roff(L, CHG_SEC_LFIELDS, i), false))
            return false;
        if (f->node != CHG_NONE32 && f->node >= n)
            return fail(L, roff(L, CHG_SEC_LFIELDS, i) + 4, "layout field %u: path node out of range", i);
    }
    return true;
}

/* The schema tree (bundle_format.h, SCHEMA). schema.c walks it once per
 * change with no checks of its own, so everything it relies on is proved
 * here: every index in range, a tree (each node but the root the child of
 * exactly one node, children after their parent, so the walk ends and
 * visits each node once per value), bounded depth (the walk recurses),
 * types and needs it knows, names where it looks keys up and none where
 * it does not, an enum's values a list of strings, an object's field names
 * distinct (sorted and compared: no blow-up on crafted names), and a
 * schema exactly when META says the policy has one, so a bundle cannot
 * switch validation off while its code assumes it ran. */
static int cmp_name(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static bool load_schema(loader *L)
{
    chg_bundle *b = L->b;
    uint32_t n = L->count[CHG_SEC_SCHEMA];
    uint32_t at0 = L->off[CHG_SEC_SCHEMA] - 4;
    b->nschema = n;
    b->schema = chg_calloc(n + 1, sizeof *b->schema);
    if (!b->schema)
        return nomem(L);
    if ((n > 0) != ((b->flags & 1) != 0))
        return fail(L, at0, n ? "a schema in a bundle whose META says it has none"
                              : "META says the policy has a schema, but the SCHEMA section is empty");
    if (!n)
        return true;
    uint32_t *parent = chg_malloc(sizeof *parent * n), *depth = chg_malloc(sizeof *depth * n);
    const char **names = chg_malloc(sizeof *names * n);
    bool ok = parent && depth && names;
    if (!ok)
        nomem(L);
    for (uint32_t i = 0; ok && i < n; i++)
        parent[i] = CHG_NONE32;
    if (ok)
        depth[0] = 0;
    for (uint32_t i = 0; ok && i < n; i++) {
        const uint8_t *r = recp(L, CHG_SEC_SCHEMA, i);
        uint32_t at = roff(L, CHG_SEC_SCHEMA, i);
        chg_schemanode *s = &b->schema[i];
        s->type = r[0];
        s->need = r[1];
        s->flags = r[2];
        s->name = chg_rd32(r + 4);
        s->enm = chg_rd32(r + 8);
        s->first = chg_rd32(r + 12);
        s->count = chg_rd32(r + 16);
        s->span = chg_rd32(r + 20);
        /* the parent is known: it comes first and claimed this node */
        if (i > 0 && parent[i] == CHG_NONE32) {
            ok = fail(L, at, "schema node %u is no node's child", i);
            break;
        }
        const chg_schemanode *up = i > 0 ? &b->schema[parent[i]] : NULL;
        bool elem = up && up->type == CHG_PT_LIST;
        if (s->type < CHG_PT_BOOL || s->type > CHG_PT_OBJECT || s->need > CHG_PR_DEFAULT || r[3] != 0 ||
            (s->flags & ~(uint8_t)CHG_SF_STRICT) || (s->flags && s->type != CHG_PT_OBJECT) ||
            (i == 0 && (s->type != CHG_PT_OBJECT || s->need != CHG_PR_REQUIRED)) ||
            (elem && s->need == CHG_PR_DEFAULT)) {
            ok = fail(L, at, "schema node %u: bad type, need or flags", i);
            break;
        }
        /* fields are looked up by name; the root and elements have none */
        if ((up && !elem) ? s->name >= b->nstrings : s->name != CHG_NONE32) {
            ok = fail(L, at + 4, "schema node %u: bad name %u", i, s->name);
            break;
        }
        if (s->type == CHG_PT_ENUM) {
            if (s->enm >= b->nconsts || b->consts[s->enm].tag != CHG_V_LIST) {
                ok = fail(L, at + 8, "schema node %u: enum values are not a list constant", i);
                break;
            }
            for (uint32_t k = 0; ok && k < b->consts[s->enm].len; k++)
                if (b->consts[s->enm].u.items[k].tag != CHG_V_STR)
                    ok = fail(L, at + 8, "schema node %u: enum values must be strings", i);
            if (!ok)
                break;
        } else if (s->enm != CHG_NONE32) {
            ok = fail(L, at + 8, "schema node %u: enum values on a field that is no enum", i);
            break;
        }
        bool kids_ok = s->type == CHG_PT_OBJECT ? true : s->type == CHG_PT_LIST ? s->count == 1 : s->count == 0;
        if (!kids_ok || (s->count == 0 ? s->first != 0 : s->first <= i || (uint64_t)s->first + s->count > n)) {
            ok = fail(L, at + 12, "schema node %u: children %u..+%u out of range", i, s->first, s->count);
            break;
        }
        if (s->span != CHG_NONE32 && s->span >= b->nspans) {
            ok = fail(L, at + 20, "schema node %u: source position %u out of range", i, s->span);
            break;
        }
        for (uint32_t k = s->first; k < s->first + s->count; k++) {
            if (parent[k] != CHG_NONE32) {
                ok = fail(L, at + 12, "schema node %u is a child of both %u and %u", k, parent[k], i);
                break;
            }
            parent[k] = i;
            depth[k] = depth[i] + 1;
            if (depth[k] > CHG_SCHEMA_MAX_DEPTH) {
                ok = fail(L, at + 12, "schema node %u is nested more than %u deep", k, CHG_SCHEMA_MAX_DEPTH);
                break;
            }
        }
    }
    /* field names distinct within each object; names are checked above */
    for (uint32_t i = 0; ok && i < n; i++) {
        const chg_schemanode *s = &b->schema[i];
        if (s->type != CHG_PT_OBJECT || s->count < 2)
            continue;
        for (uint32_t k = 0; k < s->count; k++)
            names[k] = b->str[b->schema[s->first + k].name];
        qsort(names, s->count, sizeof *names, cmp_name);
        for (uint32_t k = 1; ok && k < s->count; k++)
            if (strcmp(names[k - 1], names[k]) == 0)
                ok = fail(L, roff(L, CHG_SEC_SCHEMA, i) + 12, "schema node %u declares field '%s' twice", i,
                          names[k]);
    }
    chg_free(parent);
    chg_free(depth);
    chg_free(names);
    return ok;
}

/* A table's reference to a block: in range and of the kind its reader
 * runs it as. An expression block run as a let would share its register
 * window with the expression that asked for the let, and clobber it. */
static bool block_ref(loader *L, uint32_t blk, uint32_t at, bool none_ok, uint8_t kind)
{
    if (blk == CHG_NONE32 && none_ok)
        return true;
    if (blk >= L->b->nblocks)
        return fail(L, at, "block %u out of range (%u blocks)", blk, L->b->nblocks);
    if (L->b->blocks[blk].kind != kind)
        return fail(L, at, "block %u has the wrong kind", blk);
    return true;
}

static bool load_policy(loader *L)
{
    chg_bundle *b = L->b;
    if (!block_ref(L, b->at_block, roff(L, CHG_SEC_META, 0) + 8, true, CHG_B_EXPR))
        return false;
    b->nrisks = L->count[CHG_SEC_RISKS];
    b->risks = chg_calloc(b->nrisks + 1, sizeof *b->risks);
    b->narms = L->count[CHG_SEC_ARMS];
    b->arms = chg_calloc(b->narms + 1, sizeof *b->arms);
    b->nlets = L->count[CHG_SEC_LETS];
    b->lets = chg_calloc(b->nlets + 1, sizeof *b->lets);
    b->nrules = L->count[CHG_SEC_RULES];
    b->rules = chg_calloc(b->nrules + 1, sizeof *b->rules);
    b->nduring = L->count[CHG_SEC_DURING];
    b->during = chg_calloc(b->nduring + 1, sizeof *b->during);
    if (!b->risks || !b->arms || !b->lets || !b->rules || !b->during)
        return nomem(L);
    for (uint32_t i = 0; i < b->nrisks; i++) {
        b->risks[i] = chg_rd32(recp(L, CHG_SEC_RISKS, i));
        if (!check_str(L, b->risks[i], roff(L, CHG_SEC_RISKS, i), false))
            return false;
    }
    for (uint32_t i = 0; i < b->nconsts; i++)
        if (b->consts[i].tag == CHG_V_RISK && (uint64_t)b->consts[i].u.i >= b->nrisks)
            return fail(L, roff(L, CHG_SEC_CONSTS, i) + 8, "constant %u: risk class out of range", i);
    for (uint32_t i = 0; i < b->narms; i++) {
        const uint8_t *r = recp(L, CHG_SEC_ARMS, i);
        uint32_t at = roff(L, CHG_SEC_ARMS, i);
        chg_arm *a = &b->arms[i];
        a->cond = chg_rd32(r);
        a->cls = chg_rd32(r + 4);
        a->span = chg_rd32(r + 8);
        if (!block_ref(L, a->cond, at, true, CHG_B_EXPR))
            return false;
        if (a->cls >= b->nrisks)
            return fail(L, at + 4, "classify arm %u: risk class %u out of range", i, a->cls);
        if (a->span >= b->nspans && b->nspans)
            return fail(L, at + 8, "classify arm %u: source position out of range", i);
    }
    /* decide.c: after classify, a policy with arms always has a risk */
    if (b->narms && b->arms[b->narms - 1].cond != CHG_NONE32)
        return fail(L, L->off[CHG_SEC_ARMS] - 4, "classify has no default arm");
    for (uint32_t i = 0; i < b->nlets; i++) {
        const uint8_t *r = recp(L, CHG_SEC_LETS, i);
        uint32_t at = roff(L, CHG_SEC_LETS, i);
        b->lets[i].name = chg_rd32(r);
        b->lets[i].block = chg_rd32(r + 4);
        if (!check_str(L, b->lets[i].name, at, false) || !block_ref(L, b->lets[i].block, at + 4, false, CHG_B_LET))
            return false;
    }
    uint32_t ntimesets = L->count[CHG_SEC_TIMESETS];
    for (uint32_t i = 0; i < b->nduring; i++) {
        b->during[i] = chg_rd32(recp(L, CHG_SEC_DURING, i));
        if (b->during[i] >= ntimesets)
            return fail(L, roff(L, CHG_SEC_DURING, i), "time set %u out of range", b->during[i]);
    }
    for (uint32_t i = 0; i < b->nrules; i++) {
        const uint8_t *r = recp(L, CHG_SEC_RULES, i);
        uint32_t at = roff(L, CHG_SEC_RULES, i);
        chg_ruledef *d = &b->rules[i];
        d->name = chg_rd32(r);
        d->level = r[4];
        d->action = r[5];
        d->when = chg_rd32(r + 8);
        d->msg = chg_rd32(r + 12);
        d->window = chg_rd32(r + 16);
        d->during_first = chg_rd32(r + 20);
        d->during_count = chg_rd32(r + 24);
        d->span = chg_rd32(r + 28);
        d->req = chg_rd32(r + 32);
        if (!check_str(L, d->name, at, false) || !block_ref(L, d->when, at + 8, true, CHG_B_EXPR) ||
            !block_ref(L, d->msg, at + 12, true, CHG_B_EXPR))
            return false;
        if (d->level > 2 || d->action > CHG_RA_APPROVAL)
            return fail(L, at + 4, "rule %u: bad level or action", i);
        if (d->window != CHG_NONE32 && d->window >= ntimesets)
            return fail(L, at + 16, "rule %u: window out of range", i);
        if ((d->action == CHG_RA_WINDOW) != (d->window != CHG_NONE32))
            return fail(L, at + 16, "rule %u: window and action disagree", i);
        if ((uint64_t)d->during_first + d->during_count > b->nduring)
            return fail(L, at + 20, "rule %u: 'during' list out of range", i);
        if (d->span >= b->nspans && b->nspans)
            return fail(L, at + 28, "rule %u: source position out of range", i);
        if (d->req != CHG_NONE32 && d->req >= L->count[CHG_SEC_AREQS])
            return fail(L, at + 32, "rule %u: approval requirement out of range", i);
        if ((d->action == CHG_RA_APPROVAL) != (d->req != CHG_NONE32))
            return fail(L, at + 5, "rule %u: approval requirement and action disagree", i);
    }
    return true;
}

/* Approvals, actions and intakes: the tables issue-5 semantics read. */
static bool load_decisions(loader *L)
{
    chg_bundle *b = L->b;
    b->nareqs = L->count[CHG_SEC_AREQS];
    b->areqs = chg_calloc(b->nareqs + 1, sizeof *b->areqs);
    b->napprovals = L->count[CHG_SEC_APPROVALS];
    b->approvals = chg_calloc(b->napprovals + 1, sizeof *b->approvals);
    b->nactions = L->count[CHG_SEC_ACTIONS];
    b->actions = chg_calloc(b->nactions + 1, sizeof *b->actions);
    b->ncalls = L->count[CHG_SEC_CALLS];
    b->calls = chg_calloc(b->ncalls + 1, sizeof *b->calls);
    b->nintakes = L->count[CHG_SEC_INTAKES];
    b->intakes = chg_calloc(b->nintakes + 1, sizeof *b->intakes);
    b->nifields = L->count[CHG_SEC_IFIELDS];
    b->ifields = chg_calloc(b->nifields + 1, sizeof *b->ifields);
    if (!b->areqs || !b->approvals || !b->actions || !b->calls || !b->intakes || !b->ifields)
        return nomem(L);
    for (uint32_t i = 0; i < b->nareqs; i++) {
        const uint8_t *r = recp(L, CHG_SEC_AREQS, i);
        uint32_t at = roff(L, CHG_SEC_AREQS, i);
        chg_areqdef *q = &b->areqs[i];
        q->kind = r[0];
        q->including = r[1];
        q->count = chg_rd32(r + 4);
        q->group = chg_rd32(r + 8);
        q->people = chg_rd32(r + 12);
        q->within = (int64_t)chg_rd64(r + 16);
        q->a = chg_rd32(r + 24);
        q->b = chg_rd32(r + 28);
        q->within_text = chg_rd32(r + 32);
        if (q->within_text != CHG_NONE32 && !check_str(L, q->within_text, at + 32, false))
            return false;
        if (q->kind > CHG_AR_OR || q->including > 1 || q->within < 0)
            return fail(L, at, "approval requirement %u: bad kind, flag or age", i);
        bool term = q->kind == CHG_AR_GROUP || q->kind == CHG_AR_ANY || q->kind == CHG_AR_PEOPLE;
        if (term && (q->count == 0 || q->count > 64))
            return fail(L, at + 4, "approval requirement %u: count %u (1 to 64)", i, q->count);
        if (q->kind == CHG_AR_GROUP && !check_str(L, q->group, at + 8, false))
            return false;
        if (q->kind == CHG_AR_PEOPLE) {
            if (q->people >= b->nconsts || b->consts[q->people].tag != CHG_V_LIST)
                return fail(L, at + 12, "approval requirement %u: people are not a list constant", i);
            for (uint32_t k = 0; k < b->consts[q->people].len; k++)
                if (b->consts[q->people].u.items[k].tag != CHG_V_STR)
                    return fail(L, at + 12, "approval requirement %u: people must be strings", i);
        }
        if ((q->kind == CHG_AR_AND || q->kind == CHG_AR_OR) && (q->a >= i || q->b >= i))
            return fail(L, at + 24, "approval requirement %u: operands must come before it", i);
        if (q->within > CHG_MAX_WITHIN)
            return fail(L, at + 16, "approval requirement %u: 'within' longer than 100 years", i);
    }
    /* a tree, not a graph: each node is the operand of one node at most
     * (shared operands would make evaluation exponential), and no deeper
     * than the evaluator recurses */
    uint8_t *used = chg_calloc(b->nareqs + 1, 1), *depth = chg_calloc(b->nareqs + 1, 1);
    if (!used || !depth) {
        chg_free(used);
        chg_free(depth);
        return nomem(L);
    }
    for (uint32_t i = 0; i < b->nareqs; i++) {
        chg_areqdef *q = &b->areqs[i];
        q->lo = i;
        depth[i] = 1;
        if (q->kind != CHG_AR_AND && q->kind != CHG_AR_OR)
            continue;
        bool bad = q->a == q->b || used[q->a] || used[q->b];
        used[q->a] = used[q->b] = 1;
        depth[i] = (uint8_t)(1 + (depth[q->a] > depth[q->b] ? depth[q->a] : depth[q->b]));
        q->lo = b->areqs[q->a].lo < b->areqs[q->b].lo ? b->areqs[q->a].lo : b->areqs[q->b].lo;
        if (bad || depth[i] > CHG_MAX_AREQ_DEPTH) {
            chg_free(used);
            chg_free(depth);
            return fail(L, roff(L, CHG_SEC_AREQS, i) + 24,
                        "approval requirement %u: operands shared or nested deeper than %d", i, CHG_MAX_AREQ_DEPTH);
        }
    }
    chg_free(used);
    chg_free(depth);
    /* the texts decisions show, made once */
    for (uint32_t i = 0; i < b->nareqs; i++) {
        chg_areqdef *q = &b->areqs[i];
        chg_buf t;
        chg_buf_init(&t);
        chg_vm_areq_render(b, i, &t);
        q->text = chg_buf_take(&t);
        bool term = q->kind == CHG_AR_GROUP || q->kind == CHG_AR_ANY || q->kind == CHG_AR_PEOPLE;
        if (term) {
            q->term = chg_calloc(q->count, sizeof *q->term);
            for (uint32_t k = 0; q->term && k < q->count; k++) {
                chg_buf_init(&t);
                chg_vm_areq_render_term(b, q, k + 1, &t);
                q->term[k] = chg_buf_take(&t);
                if (!q->term[k])
                    return nomem(L);
            }
        }
        if (!q->text || (term && !q->term))
            return nomem(L);
    }
    for (uint32_t i = 0; i < b->napprovals; i++) {
        const uint8_t *r = recp(L, CHG_SEC_APPROVALS, i);
        uint32_t at = roff(L, CHG_SEC_APPROVALS, i);
        b->approvals[i].cls = chg_rd32(r);
        b->approvals[i].req = chg_rd32(r + 4);
        if (b->approvals[i].cls != CHG_NONE32 && b->approvals[i].cls >= b->nrisks)
            return fail(L, at, "approvals entry %u: risk class out of range", i);
        if (b->approvals[i].req >= b->nareqs)
            return fail(L, at + 4, "approvals entry %u: requirement out of range", i);
    }
    if (b->approvals_layout != CHG_NONE32 &&
        (b->approvals_layout >= b->nlayouts || b->layouts[b->approvals_layout].count < 4))
        return fail(L, roff(L, CHG_SEC_META, 0) + 44, "approvals layout out of range");
    for (uint32_t i = 0; i < b->ncalls; i++) {
        const uint8_t *r = recp(L, CHG_SEC_CALLS, i);
        uint32_t at = roff(L, CHG_SEC_CALLS, i);
        chg_calldef *c = &b->calls[i];
        c->name = chg_rd32(r);
        c->args = chg_rd32(r + 4);
        c->params = chg_rd32(r + 8);
        c->span = chg_rd32(r + 12);
        if (!check_str(L, c->name, at, false) || !block_ref(L, c->args, at + 4, false, CHG_B_EXPR))
            return false;
        if (c->params >= b->nconsts || b->consts[c->params].tag != CHG_V_LIST)
            return fail(L, at + 8, "call %u: parameter names are not a list constant", i);
        for (uint32_t k = 0; k < b->consts[c->params].len; k++)
            if (b->consts[c->params].u.items[k].tag != CHG_V_STR)
                return fail(L, at + 8, "call %u: parameter names must be strings", i);
        if (c->span >= b->nspans && b->nspans)
            return fail(L, at + 12, "call %u: source position out of range", i);
    }
    for (uint32_t i = 0; i < b->nactions; i++) {
        const uint8_t *r = recp(L, CHG_SEC_ACTIONS, i);
        uint32_t at = roff(L, CHG_SEC_ACTIONS, i);
        chg_actiondef *a = &b->actions[i];
        a->outcome = r[0];
        a->when = chg_rd32(r + 4);
        a->first = chg_rd32(r + 8);
        a->count = chg_rd32(r + 12);
        if (a->outcome > 5)
            return fail(L, at, "action %u: unknown outcome %u", i, a->outcome);
        if (!block_ref(L, a->when, at + 4, true, CHG_B_EXPR))
            return false;
        /* actions own consecutive, disjoint runs of calls, in order: a
         * decision holds at most ncalls action records */
        uint32_t next = i ? b->actions[i - 1].first + b->actions[i - 1].count : 0;
        if (a->first != next || (uint64_t)a->first + a->count > b->ncalls)
            return fail(L, at + 8, "action %u: calls out of range or not after the previous action's", i);
    }
    if (b->nactions && b->actions[b->nactions - 1].first + b->actions[b->nactions - 1].count != b->ncalls)
        return fail(L, roff(L, CHG_SEC_ACTIONS, 0), "calls that no action owns");
    for (uint32_t i = 0; i < b->nifields; i++) {
        const uint8_t *r = recp(L, CHG_SEC_IFIELDS, i);
        uint32_t at = roff(L, CHG_SEC_IFIELDS, i);
        b->ifields[i].name = chg_rd32(r);
        b->ifields[i].block = chg_rd32(r + 4);
        if (!check_str(L, b->ifields[i].name, at, false) ||
            !block_ref(L, b->ifields[i].block, at + 4, false, CHG_B_EXPR))
            return false;
    }
    for (uint32_t i = 0; i < b->nintakes; i++) {
        const uint8_t *r = recp(L, CHG_SEC_INTAKES, i);
        uint32_t at = roff(L, CHG_SEC_INTAKES, i);
        chg_intakedef *k = &b->intakes[i];
        k->name = chg_rd32(r);
        k->when = chg_rd32(r + 4);
        k->first = chg_rd32(r + 8);
        k->count = chg_rd32(r + 12);
        if (!check_str(L, k->name, at, false) || !block_ref(L, k->when, at + 4, true, CHG_B_EXPR))
            return false;
        if ((uint64_t)k->first + k->count > b->nifields)
            return fail(L, at + 8, "intake %u: fields out of range", i);
    }
    return true;
}

/* Time sets: rebuild chg_ts_node trees and let the time library check
 * and build them (it loads the zones they name). */
static bool load_timesets(loader *L)
{
    chg_bundle *b = L->b;
    uint32_t n = L->count[CHG_SEC_TIMESETS], nn = L->count[CHG_SEC_TSNODES];
    b->ntimesets = n;
    b->timesets = chg_calloc(n + 1, sizeof *b->timesets);
    if (!b->timesets)
        return nomem(L);
    chg_vm_verifier V = {b, L->off, L->err, L->errlen, false};
    uint32_t next_first = 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *r = recp(L, CHG_SEC_TIMESETS, i);
        uint32_t at = roff(L, CHG_SEC_TIMESETS, i);
        chg_tsdef *t = &b->timesets[i];
        t->name = chg_rd32(r);
        t->kind = chg_rd32(r + 4);
        uint32_t first = chg_rd32(r + 8), count = chg_rd32(r + 12);
        t->text = chg_rd32(r + 16);
        if (!check_str(L, t->name, at, false) || !check_str(L, t->text, at + 16, false))
            return false;
        if (t->kind > CHG_SET_INLINE || count == 0 || count > CHG_TS_MAX_NODES || (uint64_t)first + count > nn)
            return fail(L, at + 4, "time set %u: bad kind or nodes", i);
        chg_ts_node *nodes = chg_calloc(count, sizeof *nodes);
        if (!nodes)
            return nomem(L);
        bool ok = true;
        for (uint32_t k = 0; k < count && ok; k++) {
            const uint8_t *q = recp(L, CHG_SEC_TSNODES, first + k);
            uint32_t qa = roff(L, CHG_SEC_TSNODES, first + k);
            chg_ts_node *x = &nodes[k];
            if (q[0] > CHG_TS_NOT) {
                ok = fail(L, qa, "time-set node %u: unknown operation %u", first + k, q[0]);
                break;
            }
            x->op = (chg_ts_op)q[0];
            x->days = q[1];
            x->from_local = q[2] != 0;
            x->to_local = q[3] != 0;
            uint32_t zone = chg_rd32(q + 4), text = chg_rd32(q + 8);
            if (!check_str(L, zone, qa + 4, true) || !check_str(L, text, qa + 8, true)) {
                ok = false;
                break;
            }
            x->zone = zone == CHG_NONE32 ? NULL : b->str[zone];
            const char *tx = text == CHG_NONE32 ? NULL : b->str[text];
            x->a = (int32_t)chg_rd32(q + 12);
            x->b = (int32_t)chg_rd32(q + 16);
            x->start_min = (int32_t)chg_rd32(q + 20);
            x->end_min = (int32_t)chg_rd32(q + 24);
            x->from_month = (int32_t)chg_rd32(q + 28);
            x->from_day = (int32_t)chg_rd32(q + 32);
            x->to_month = (int32_t)chg_rd32(q + 36);
            x->to_day = (int32_t)chg_rd32(q + 40);
            x->duration = (int64_t)chg_rd64(q + 48);
            x->from = (int64_t)chg_rd64(q + 56);
            x->to = (int64_t)chg_rd64(q + 64);
            switch (x->op) {
            case CHG_TS_CRON: x->cron = tx; break;
            case CHG_TS_CALENDAR:
                x->ics = tx;
                x->ics_len = text == CHG_NONE32 ? 0 : b->strlen[text];
                break;
            case CHG_TS_FLAG: x->flag = tx; break;
            default: break;
            }
            if ((x->op == CHG_TS_CRON || x->op == CHG_TS_CALENDAR || x->op == CHG_TS_FLAG) && !tx)
                ok = fail(L, qa + 8, "time-set node %u needs its text", first + k);
            if ((x->op == CHG_TS_OR || x->op == CHG_TS_AND || x->op == CHG_TS_NOT) &&
                (x->a < 0 || (uint32_t)x->a >= k || (x->op != CHG_TS_NOT && (x->b < 0 || (uint32_t)x->b >= k))))
                ok = fail(L, qa + 12, "time-set node %u: operands must come before it", first + k);
        }
        /* The zone a listing shows local times in: the one every schedule
         * of the set names, unless that is UTC. Derived here from the very
         * nodes the evaluator uses, so a bundle cannot show a reviewer one
         * zone while deciding in another. */
        t->zone = NULL;
        bool mixed = false;
        for (uint32_t k = 0; k < count && ok; k++) {
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
            ok = verified(L, &V, chg_vm_verify_tstree(&V, i, nodes, first, count, &next_first));
        if (ok) {
            chg_time_error te;
            int bad = -1;
            memset(&te, 0, sizeof te);
            t->ts = chg_timeset_build(nodes, count, (int)count - 1, &te, &bad);
            if (!t->ts && te.status == CHG_ENOMEM)
                ok = nomem(L);
            else if (!t->ts)
                ok = fail(L, roff(L, CHG_SEC_TSNODES, first + (bad >= 0 ? (uint32_t)bad : 0)),
                          "time set '%s': %s", b->str[t->name], te.message);
        }
        chg_free(nodes);
        if (!ok)
            return false;
    }
    return true;
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
    b->regexes = chg_calloc(b->nregexes + 1, sizeof *b->regexes);
    b->nzones = L->count[CHG_SEC_ZONES];
    b->zones = chg_calloc(b->nzones + 1, sizeof *b->zones);
    b->nbuiltins = L->count[CHG_SEC_BUILTINS];
    b->builtins = chg_calloc(b->nbuiltins + 1, sizeof *b->builtins);
    b->builtin_info = chg_calloc(b->nbuiltins + 1, sizeof *b->builtin_info);
    /* pcre2 allocates through chg_realloc too, by way of a general
     * context (no global of pcre2's is touched) */
    if (b->nregexes && (!(b->pcre = pcre2_general_context_create(pcre_malloc, pcre_free, NULL)) ||
                        !(b->pcre_cc = pcre2_compile_context_create(b->pcre))))
        return nomem(L);
    if (!b->regexes || !b->zones || !b->builtins || !b->builtin_info)
        return nomem(L);
    for (uint32_t i = 0; i < b->nregexes; i++) {
        uint32_t s = chg_rd32(recp(L, CHG_SEC_REGEXES, i));
        if (!check_str(L, s, roff(L, CHG_SEC_REGEXES, i), false))
            return false;
        int code;
        PCRE2_SIZE off;
        b->regexes[i] = pcre2_compile((PCRE2_SPTR)b->str[s], b->strlen[s], PCRE2_UTF, &code, &off, b->pcre_cc);
        if (!b->regexes[i] && code == PCRE2_ERROR_HEAP_FAILED)
            return nomem(L);
        if (!b->regexes[i]) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(code, msg, sizeof msg);
            return fail(L, roff(L, CHG_SEC_REGEXES, i), "regular expression %u: %s", i, (const char *)msg);
        }
        pcre2_jit_compile(b->regexes[i], PCRE2_JIT_COMPLETE); /* best effort: interpreted otherwise */
        uint32_t caps = 0;
        pcre2_pattern_info(b->regexes[i], PCRE2_INFO_CAPTURECOUNT, &caps);
        if (caps > b->max_captures)
            b->max_captures = caps;
    }
    for (uint32_t i = 0; i < b->nzones; i++) {
        uint32_t s = chg_rd32(recp(L, CHG_SEC_ZONES, i));
        if (!check_str(L, s, roff(L, CHG_SEC_ZONES, i), false))
            return false;
        chg_time_error te;
        memset(&te, 0, sizeof te);
        b->zones[i] = chg_tz_load(b->str[s], &te);
        if (!b->zones[i] && te.status == CHG_ENOMEM)
            return nomem(L);
        if (!b->zones[i])
            return fail(L, roff(L, CHG_SEC_ZONES, i), "time zone '%s': %s", b->str[s], te.message);
    }
    for (uint32_t i = 0; i < b->nbuiltins; i++) {
        uint32_t s = chg_rd32(recp(L, CHG_SEC_BUILTINS, i));
        if (!check_str(L, s, roff(L, CHG_SEC_BUILTINS, i), false))
            return false;
        const chg_builtin_impl *impl = chg_vm_builtin_impl_find(b->str[s]);
        if (!impl)
            return fail(L, roff(L, CHG_SEC_BUILTINS, i), "the bundle needs built-in '%s', which this chgc lacks",
                        b->str[s]);
        b->builtins[i] = impl->fn;
        b->builtin_info[i] = impl;
    }
    return true;
}

/* ---- loading ------------------------------------------------------------------- */

void chg_bundle_free(chg_bundle *b)
{
    if (!b)
        return;
    for (uint32_t i = 0; b->timesets && i < b->ntimesets; i++)
        chg_timeset_free(b->timesets[i].ts);
    for (uint32_t i = 0; b->regexes && i < b->nregexes; i++)
        pcre2_code_free(b->regexes[i]);
    pcre2_compile_context_free(b->pcre_cc);
    pcre2_general_context_free(b->pcre);
    for (uint32_t i = 0; b->zones && i < b->nzones; i++)
        chg_tz_free(b->zones[i]);
    chg_free(b->str);
    chg_free(b->strlen);
    chg_free(b->consts);
    chg_free((void *)b->code);
    chg_free(b->blocks);
    chg_free(b->spans);
    chg_free(b->insspan);
    chg_free(b->paths);
    chg_free(b->layouts);
    chg_free(b->lfields);
    chg_free(b->schema);
    chg_free(b->risks);
    chg_free(b->arms);
    chg_free(b->lets);
    chg_free(b->rules);
    chg_free(b->during);
    chg_free(b->timesets);
    chg_free(b->regexes);
    chg_free(b->zones);
    chg_free(b->builtins);
    chg_free(b->builtin_info);
    for (uint32_t i = 0; b->areqs && i < b->nareqs; i++) {
        chg_free(b->areqs[i].text);
        for (uint32_t k = 0; b->areqs[i].term && k < b->areqs[i].count; k++)
            chg_free(b->areqs[i].term[k]);
        chg_free(b->areqs[i].term);
    }
    chg_free(b->areqs);
    chg_free(b->approvals);
    chg_free(b->actions);
    chg_free(b->calls);
    chg_free(b->intakes);
    chg_free(b->ifields);
    chg_free(b->data);
    chg_free(b);
}

int chg_bundle_open(const void *data, size_t len, chg_bundle **out, char *err, size_t errlen)
{
    *out = NULL;
    if (len > UINT32_MAX) {
        snprintf(err, errlen, "bundle too large");
        return CHG_ERANGE;
    }
    chg_bundle *b = chg_calloc(1, sizeof *b);
    if (b)
        b->data = chg_malloc(len ? len : 1);
    if (!b || !b->data) {
        snprintf(err, errlen, "out of memory");
        chg_free(b);
        return CHG_ENOMEM;
    }
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
    bool ok = read_sections(&L) && load_strings(&L) && load_consts(&L) && load_code(&L) && load_meta(&L) &&
              load_blocks(&L) && load_paths(&L) && verified(&L, &V, chg_vm_verify_decoding(&V)) && load_schema(&L) &&
              load_policy(&L) && load_decisions(&L) && load_timesets(&L) && load_externals(&L) &&
              verified(&L, &V, chg_vm_verify_code(&V));
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

const char *chg_bundle_policy_name(const chg_bundle *b) { return b->str[b->name]; }
const char *chg_bundle_policy_version(const chg_bundle *b) { return b->str[b->version]; }

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

void chg_bundle_disasm(const chg_bundle *b, chg_buf *out)
{
    chg_buf_printf(out, "; policy %s version %s\n; compiler %s, sha256 %s\n", b->str[b->name], b->str[b->version],
                   b->compiler, b->hash);
    chg_buf_printf(out, "; %u instructions in %u blocks, %u registers, %u constants, %u change slots\n",
                   b->ncode, b->nblocks, b->nregs, b->nconsts, b->nslots_change);
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
