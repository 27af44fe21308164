/*
 * fuzz_bundle_struct.c — a structure-aware fuzzer for bundles. Where
 * fuzz_bundle flips bytes (and mostly breaks the section table, so most
 * inputs die at the first check), this one's mutator (LLVMFuzzerCustom-
 * Mutator) parses the section table, picks one section, one record of it
 * and one field of the record — for code, one operand of one instruction,
 * by the format letters of opcodes.def — and sets it to a boundary value:
 * 0, 1, a section's count - 1 or count, NONE, the largest value, the old
 * value plus or minus one, for registers the edges of the block's window,
 * for jumps the edges of the block, or another instruction's operand. It
 * then recomputes the length and the SHA-256 (over bytes [64, total)), so
 * every mutant reaches the verifier's semantic checks; the input is then
 * loaded and, if it loads, decided twice on one context with two different
 * changes (bundle_run.h). One in eight mutations is libFuzzer's own, so the
 * framing is still exercised.
 *
 *   build-fuzz/fuzz/fuzz_bundle_struct -max_total_time=1800 -timeout=5 \
 *       fuzz/corpus-bundle-struct-work fuzz/corpus/bundle
 */
#include "bundle_run.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);
/* libFuzzer's own mutator; weak, so the replay build (no libFuzzer, the
 * mutator compiled but never called) links */
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size) __attribute__((weak));

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    fuzz_bundle_seal(copy, size);
    fuzz_bundle_run(copy, size);
    free(copy);
    return 0;
}

#define rec_size(s) (chg_sections()[s].size)

typedef struct sections {
    uint32_t off[CHG_SEC__MAX]; /* first record, 0 when absent */
    uint32_t count[CHG_SEC__MAX];
} sections;

/* The section table, trusted no further than it checks out. */
static bool parse(const uint8_t *d, size_t size, sections *S)
{
    memset(S, 0, sizeof *S);
    if (size < CHG_BUNDLE_HEADER + 4 || memcmp(d, CHG_BUNDLE_MAGIC, 8) != 0)
        return false;
    uint32_t nsec = chg_rd32(d + CHG_BUNDLE_HEADER);
    if (nsec > CHG_SEC__MAX || CHG_BUNDLE_HEADER + 4 + 12ull * nsec > size)
        return false;
    for (uint32_t i = 0; i < nsec; i++) {
        const uint8_t *e = d + CHG_BUNDLE_HEADER + 4 + 12 * i;
        uint32_t id = chg_rd32(e), off = chg_rd32(e + 4), len = chg_rd32(e + 8);
        if (id == 0 || id >= CHG_SEC__MAX || !rec_size(id) || (uint64_t)off + len > size || len < 4)
            return false;
        uint32_t count = chg_rd32(d + off);
        if (4 + (uint64_t)count * rec_size(id) > len)
            return false;
        S->off[id] = off + 4;
        S->count[id] = count;
    }
    return true;
}

static uint32_t rnd(unsigned int *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

/* A boundary value for a field of w bytes holding old. */
static uint64_t boundary(const sections *S, uint64_t old, unsigned w, unsigned int *seed)
{
    uint64_t max = w == 8 ? ~0ull : (1ull << (8 * w)) - 1;
    uint32_t sec = 1 + rnd(seed) % (CHG_SEC__MAX - 1), c = S->count[sec];
    switch (rnd(seed) % 10) {
    case 0: return 0;
    case 1: return 1;
    case 2: return c ? c - 1 : 0;
    case 3: return c;
    case 4: return max; /* NONE */
    case 5: return max >> 1; /* the largest signed value */
    case 6: return (old + 1) & max;
    case 7: return (old - 1) & max;
    case 8: return (max >> 1) + 1; /* the smallest signed value */
    default: return rnd(seed) & max;
    }
}

static void put(uint8_t *p, unsigned w, uint64_t v)
{
    for (unsigned i = 0; i < w; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get(const uint8_t *p, unsigned w)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < w; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* The block holding instruction pc: {start, len, reg_base, nregs}, or
 * false. */
static bool block_of(const uint8_t *d, const sections *S, uint32_t pc, uint32_t blk[4])
{
    for (uint32_t i = 0; i < S->count[CHG_SEC_BLOCKS]; i++) {
        const uint8_t *r = d + S->off[CHG_SEC_BLOCKS] + 16 * i;
        uint32_t start = chg_rd32(r), len = chg_rd32(r + 4);
        if (pc >= start && pc - start < len) {
            blk[0] = start;
            blk[1] = len;
            blk[2] = chg_rd16(r + 8);
            blk[3] = chg_rd16(r + 10);
            return true;
        }
    }
    return false;
}

/* One operand of instruction pc: a register at the window's edges or a
 * register another instruction of the block uses (a read before a write,
 * a loop register clobbered), a jump at the block's edges or to another
 * instruction of the block (into or out of a loop), or a boundary. */
static void mutate_ins(uint8_t *d, const sections *S, uint32_t pc, unsigned int *seed)
{
    uint8_t *ins = d + S->off[CHG_SEC_CODE] + 8 * pc;
    unsigned q = rnd(seed) % 5; /* op, x, a, b, c */
    if (q == 0) {
        ins[0] = (uint8_t)(rnd(seed) % (CHG_OP__COUNT + 1));
        return;
    }
    const char *fmt = chg_op_format(ins[0]);
    char letter = *fmt ? fmt[q - 1] : '-';
    uint8_t *p = q == 1 ? ins + 1 : ins + 2 * (q - 1);
    unsigned w = q == 1 ? 1 : 2;
    uint32_t blk[4] = {0, 1, 0, 1};
    bool inblk = block_of(d, S, pc, blk);
    /* the block record may itself be a mutant: stay inside the code */
    uint32_t other = inblk ? blk[0] + rnd(seed) % blk[1] : pc;
    if (other >= S->count[CHG_SEC_CODE])
        other = pc;
    const uint8_t *oi = d + S->off[CHG_SEC_CODE] + 8 * other;
    if (letter == 'R' && inblk && rnd(seed) % 4 != 0) {
        uint32_t choice[6] = {blk[2], blk[2] + blk[3] - 1, blk[2] + blk[3], blk[2] - 1, chg_rd16(oi + 2),
                              chg_rd16(oi + 2) + 1u};
        put(p, 2, choice[rnd(seed) % 6] & 0xffff);
    } else if (letter == 'J' && inblk && rnd(seed) % 4 != 0) {
        uint32_t choice[7] = {blk[0], blk[0] + blk[1] - 1, blk[0] + blk[1], blk[0] - 1, pc, pc + 1, other};
        uint32_t t = choice[rnd(seed) % 7];
        chg_wr16(ins + 4, (uint16_t)t);
        chg_wr16(ins + 6, (uint16_t)(t >> 16));
    } else
        put(p, w, boundary(S, get(p, w), w, seed));
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    sections S;
    if (!LLVMFuzzerMutate)
        return size;
    if (rnd(&seed) % 8 == 0 || !parse(data, size, &S))
        return LLVMFuzzerMutate(data, size, max_size);
    /* a section with records, each equally likely; the META counts and
     * the section table's own entries count as a record too */
    uint32_t pick[CHG_SEC__MAX], n = 0;
    for (int s = 1; s < CHG_SEC__MAX; s++)
        if (S.count[s])
            pick[n++] = (uint32_t)s;
    if (!n)
        return LLVMFuzzerMutate(data, size, max_size);
    int rounds = 1 + (int)(rnd(&seed) % 3 == 0) + (int)(rnd(&seed) % 9 == 0);
    for (int k = 0; k < rounds; k++) {
        uint32_t s = pick[rnd(&seed) % n];
        uint32_t i = rnd(&seed) % S.count[s];
        uint8_t *r = data + S.off[s] + i * rec_size(s);
        if (rnd(&seed) % 32 == 0) { /* the record count itself */
            uint8_t *cp = data + S.off[s] - 4;
            put(cp, 4, boundary(&S, get(cp, 4), 4, &seed));
        } else if (s == CHG_SEC_CODE)
            mutate_ins(data, &S, i, &seed);
        else {
            /* a field: records are naturally aligned, so an aligned run
             * of 1, 2, 4 or 8 bytes is a field or a part of one */
            unsigned w = 1u << (rnd(&seed) % 4);
            while (w > rec_size(s))
                w >>= 1;
            uint32_t at = (rnd(&seed) % (rec_size(s) / w)) * w;
            put(r + at, w, boundary(&S, get(r + at, w), w, &seed));
        }
    }
    fuzz_bundle_seal(data, size);
    return size;
}
