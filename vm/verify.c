/*
 * verify.c — the bundle verifier: what chg_bundle_load proves about a
 * bundle's code and tables before anything runs, so that the interpreter
 * (interp.c) and the decoder (decode.c) may read them without checks.
 *
 * The invariants. Once a bundle loads, the VM may assume, of every block
 * (its instructions s..s+n-1, its register window lo..hi-1):
 *
 *  I1  every operand is in range by the format letters of opcodes.def:
 *      registers in the block's window, constants, slots, lets, time sets,
 *      regexes, layouts, fields, built-ins (kind and arity), flags; a
 *      RECORD has one item per field of its layout; jumps stay inside the
 *      block, and the block ends with RET (load_blocks), so pc never leaves
 *      it.
 *      Each let block is the block of one let at most: LET runs a let's
 *      block in the middle of its caller, whose window a let block
 *      shares with no other block (load_blocks) — but a block shared by
 *      two lets would run inside itself (one let asking for the other)
 *      and overwrite its own registers.
 *  I2  no register is read before it is written, on any path from the
 *      block's first instruction. Registers keep their values from one
 *      decision to the next (they are never cleared): without this a
 *      crafted block would read the previous change's values: strings of
 *      a scratch arena since reset or of an event since freed (a use after
 *      free, and one change's data leaking into another's decision; see
 *      test_vm_registers_do_not_carry_over_between_decisions).
 *  I3  every path terminates. The only edges that do not go forward are
 *      back edges: a JMP to a FORNEXT whose instruction before is the
 *      FORPREP of the same registers. A loop is the FORNEXT at p and the
 *      range [p, e], e its last back edge; loops are nested or disjoint;
 *      the only way into a loop from outside is FORPREP at p-1 falling
 *      through to p (so p dominates the loop: the graph is reducible); the
 *      FORNEXT's exit lies past e; and nothing in (p, e] writes the loop's
 *      list R[a] or index R[a+1]. So a cycle runs through a FORNEXT, each
 *      pass adds one to an index that only its FORPREP set (to -1) over a
 *      list nothing changes, and every loop runs at most len + 1 times per
 *      entry; every other path is forward, at most n steps.
 *  I4  at a FORNEXT, R[a+1] is the int -1 (its FORPREP) or the index of the
 *      previous pass, so -1 <= R[a+1] < len: never negative past -1, never
 *      huge, never overflowing; and R[a] is the list FORPREP checked.
 *
 * And of the tables:
 *
 *  I5  a time set's nodes form a tree: each node is an operand of at most
 *      one node, operands come before the node, there are at most
 *      CHG_TS_MAX_NODES of them, and no two sets share a node. Membership
 *      then costs one visit per node, and building every set costs the
 *      size of the TSNODES section.
 *  I6  decoding fans out nowhere: each path node is the field of at most
 *      one record layout, and each layout belongs to at most one list
 *      node. Decoding a change then visits each (node, JSON value) pair at
 *      most once: its cost is bounded by the size of the change times the
 *      number of path nodes.
 *  I7  an enum path node has its values (a list constant of strings); that
 *      check, with the other per-record ones, is in load_paths (bundle.c).
 *
 * The checks of I2 are a data-flow pass: forward over the block's
 * control-flow graph (edges: fall through, jump target, FORNEXT's exit),
 * the set of registers definitely written before each instruction, with
 * intersection where paths join, iterated to a fixed point. Sets start
 * full (nothing known against) and only shrink, so the iteration ends
 * (after at most n * 64 shrinking passes per word, in general). Here it
 * ends after one: I3 is checked first, instructions are visited in pc
 * order, so every forward edge is seen before its target, and the only
 * back edges go to a FORNEXT that dominates their source, whose set they
 * cannot shrink (a path only adds written registers): the pass that
 * changes nothing at a back edge is the first (CHG_ASSERT). A read that
 * fails in any pass fails at the fixed point (sets only shrink), so the
 * first failure is reported at once. Unreachable instructions never run
 * and are not judged.
 *
 * The cost: registers are numbered among those the block writes (a read
 * of any other is at once a failure), sets are bitsets of 64 of them at a
 * time, one word per instruction, so memory is n words and time is
 * n * ceil(w / 64) instruction visits for w registers written; a block
 * beyond CHG_VERIFY_MAX_WORK of them is refused (compiled blocks are tens
 * of instructions and registers; the bound keeps a hostile bundle from
 * making loading slow). The loop checks are linear in n.
 */
#include "vm_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "chg_time.h"

/* CHG_VERIFY_MAX_WORK (bundle_format.h, as the compiler reports a block
 * beyond it, E0606) bounds one block's data-flow pass: n times the words
 * of its registers (see the cost above), 2^22, some tens of milliseconds
 * (a block of 65,536 instructions writing 4,096 registers; compiled
 * blocks are far below it). */

/* The file offset of record i of section s. */
static uint32_t rec_at(chg_vm_verifier *v, int s, uint32_t i) { return v->off[s] + i * chg_sections()[s].size; }

/* The loader's message format, "corrupt bundle: … at offset N" (a field
 * of a record named as the loader names it, "LETS[1].block: …"); false,
 * so a check reads `return vfail(...)`. */
static bool vfail(chg_vm_verifier *v, uint32_t offset, const char *fmt, ...) CHG_PRINTF(3, 4);
static bool vfail(chg_vm_verifier *v, uint32_t offset, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(v->err, v->errlen, "corrupt bundle: %s at offset %u", what, offset);
    return false;
}

/* Out of memory is no defect of the bundle: the loader's own message and
 * status (chg_bundle_open returns CHG_ENOMEM). */
static bool vnomem(chg_vm_verifier *v)
{
    v->oom = true;
    snprintf(v->err, v->errlen, "out of memory");
    return false;
}

/* ---- what an instruction reads and writes ------------------------------------------ */

/* The operand format of a valid opcode (load_code refused the others):
 * four letters. */
static const char *fmt_of(uint8_t op)
{
    const char *f = chg_op_format(op);
    return f[0] ? f : "----";
}

/* The control instructions, whose `a` register is read, not written. */
static bool a_is_read(uint8_t op)
{
    return op == CHG_OP_JMPT || op == CHG_OP_JMPF || op == CHG_OP_JMPNN || op == CHG_OP_RET ||
           op == CHG_OP_FORPREP || op == CHG_OP_FORNEXT;
}

/* The registers instruction `in` reads, into r (at most 258: three
 * operands and a run of x <= 255); returns how many. */
static uint32_t ins_reads(const chg_ins *in, uint16_t *r)
{
    const char *fmt = fmt_of(in->op);
    uint32_t n = 0;
    if (fmt[1] == 'R' && a_is_read(in->op))
        r[n++] = in->a;
    if (in->op == CHG_OP_FORNEXT)
        r[n++] = (uint16_t)(in->a + 1); /* the index (in the window: verified) */
    if (fmt[2] == 'R') {
        if (fmt[0] == 'n') /* R[b..b+x-1]: nothing when x is 0 */
            for (uint32_t i = 0; i < in->x; i++)
                r[n++] = (uint16_t)(in->b + i);
        else
            r[n++] = in->b;
    }
    if (fmt[3] == 'R')
        r[n++] = in->c;
    return n;
}

/* The registers it writes on every edge out of it (FORNEXT writes its
 * element R[a+2] only on the edge into the body: see edges()); returns
 * how many, at most 2. */
static uint32_t ins_writes(const chg_ins *in, uint16_t *w)
{
    if (in->op == CHG_OP_FORPREP || in->op == CHG_OP_FORNEXT) {
        w[0] = (uint16_t)(in->a + 1);
        return 1;
    }
    if (fmt_of(in->op)[1] == 'R' && !a_is_read(in->op)) {
        w[0] = in->a;
        return 1;
    }
    return 0;
}

/* The edges out of instruction i of a block at s (block-relative): up
 * to two targets. A block ends with RET and only RET stops, so i + 1 is
 * inside the block whenever it is a target. */
static uint32_t edges(const chg_ins *in, uint32_t i, uint32_t s, uint32_t *t)
{
    uint32_t jt = CHG_INS_BC(*in) - s;
    switch (in->op) {
    case CHG_OP_RET: return 0;
    case CHG_OP_JMP: t[0] = jt; return 1;
    case CHG_OP_JMPT:
    case CHG_OP_JMPF:
    case CHG_OP_JMPNN:
    case CHG_OP_FORNEXT: /* t[0] the body, t[1] the exit */
        t[0] = i + 1;
        t[1] = jt;
        return 2;
    default: t[0] = i + 1; return 1;
    }
}

/* ---- I1: operands ---------------------------------------------------------------- */

/* Every instruction of block k, operand by operand, by the format letters
 * of opcodes.def: what each letter's check proves is what the handler in
 * interp.c reads without checking (its CHG_ASSERTs say the same). */
static bool verify_operands(chg_vm_verifier *v, const chg_block *k)
{
    const chg_bundle *b = v->b;
    uint32_t lo = k->reg_base, hi = (uint32_t)k->reg_base + k->nregs;
    for (uint32_t pc = k->start; pc < k->start + k->len; pc++) {
        const chg_ins *in = &b->code[pc];
        uint32_t at = rec_at(v, CHG_SEC_CODE, pc);
        const char *fmt = fmt_of(in->op);
        const char *name = chg_vm_op_names[in->op];
        uint32_t val[4] = {in->x, in->a, in->b, in->c};
        uint32_t bc = CHG_INS_BC(*in);
        for (int q = 0; q < 4; q++) {
            uint32_t x = val[q];
            uint32_t fo = at + (q == 0 ? 1 : 2 * (uint32_t)q);
            switch (fmt[q]) {
            case '-': /* nothing reads it; zero keeps the encoding canonical */
                if (x)
                    return vfail(v, fo, "instruction %u (%s): unused operand is %u, not 0", pc, name, x);
                break;
            case 'R': /* R[x] is in ctx->regs, and in this block's window: a let
                       * run mid-expression cannot clobber it (load_blocks) */
                if (x < lo || x >= hi)
                    return vfail(v, fo, "instruction %u (%s): register %u outside the block's window %u..%u", pc,
                                 name, x, lo, hi - 1);
                break;
            case 'K': /* LOADK, EQK, NEK index K[] directly */
                if (x >= b->nconsts)
                    return vfail(v, fo, "instruction %u (%s): constant %u out of range", pc, name, x);
                break;
            case 'P': /* CHANGE indexes the decoded event's slots[] */
                if (x >= b->nslots_change)
                    return vfail(v, fo, "instruction %u (%s): change slot %u out of range", pc, name, x);
                break;
            case 'E': /* EVENT indexes eslots[] */
                if (x >= b->nslots_event)
                    return vfail(v, fo, "instruction %u (%s): event slot %u out of range", pc, name, x);
                break;
            case 'L': /* LET indexes lets[], letstate[], letvals[] */
                if (x >= b->nlets)
                    return vfail(v, fo, "instruction %u (%s): let %u out of range", pc, name, x);
                break;
            case 'T': /* INSET indexes timesets[] */
                if (x >= b->ntimesets)
                    return vfail(v, fo, "instruction %u (%s): time set %u out of range", pc, name, x);
                break;
            case 'X': /* MATCH indexes regexes[] (each compiled at load) */
                if (x >= b->nregexes)
                    return vfail(v, fo, "instruction %u (%s): regex %u out of range", pc, name, x);
                break;
            case 'B': /* CALL calls builtins[x] with x arguments, QUERY asks the
                       * resolver: the kind and the arity are the built-in's,
                       * so no built-in checks its argument count */
                if (x >= b->nbuiltins)
                    return vfail(v, fo, "instruction %u (%s): built-in %u out of range", pc, name, x);
                if (b->builtin_info[x]->query != (in->op == CHG_OP_QUERY))
                    return vfail(v, fo, "instruction %u (%s): '%s' is not a %s", pc, name,
                                 b->builtin_info[x]->name, in->op == CHG_OP_QUERY ? "query" : "function");
                if (in->x < b->builtin_info[x]->min_args || in->x > b->builtin_info[x]->max_args)
                    return vfail(v, at + 1, "instruction %u (%s): %u arguments for '%s'", pc, name, in->x,
                                 b->builtin_info[x]->name);
                break;
            case 'Y': /* FIELD and RECORD index layouts[] */
                if (x >= b->nlayouts)
                    return vfail(v, fo, "instruction %u (%s): layout %u out of range", pc, name, x);
                break;
            case 'F': /* FIELD: layouts[c].first + x is inside lfields[] */
                if (in->c >= b->nlayouts || x >= b->layouts[in->c].count)
                    return vfail(v, fo, "instruction %u (%s): field %u not in layout %u", pc, name, x, in->c);
                break;
            case 'o': /* LOADBOOL stores x as the bool's payload as it is */
                if (x > 1)
                    return vfail(v, fo, "instruction %u (%s): flag %u is not 0 or 1", pc, name, x);
                break;
            case 'V': /* VAR: three context variables */
                if (x > 2)
                    return vfail(v, fo, "instruction %u (%s): context variable %u unknown", pc, name, x);
                break;
            case 'n': /* R[b..b+x-1], the argument run, all in the window */
                if ((uint32_t)in->b + x > hi || (x && in->b < lo))
                    return vfail(v, fo, "instruction %u (%s): %u registers from %u leave the window", pc, name,
                                 x, in->b);
                break;
            case 'J': /* pc stays inside the block, which ends with RET: the
                       * interpreter never runs off its block */
                if (bc < k->start || bc >= k->start + k->len)
                    return vfail(v, at + 4, "instruction %u (%s): jump target %u out of range", pc, name, bc);
                break;
            case 'I': /* any 32-bit value is an immediate */
                break;
            }
        }
        /* a record has one item per field of its layout: FIELD and INDEX
         * read items[field] of a record of that layout unchecked */
        if (in->op == CHG_OP_RECORD && in->x != b->layouts[in->c].count)
            return vfail(v, at + 1, "instruction %u (RECORD): %u fields for a layout of %u", pc, in->x,
                         b->layouts[in->c].count);
        /* a loop's list, index and element registers: R[a..a+2] */
        if ((in->op == CHG_OP_FORPREP || in->op == CHG_OP_FORNEXT) && (uint32_t)in->a + 2 >= hi)
            return vfail(v, at + 2, "instruction %u (%s): loop registers leave the window", pc, name);
    }
    return true;
}

/* ---- I3, I4: termination and loops ---------------------------------------------------- */

/* The loops of block k (see I3 above). end[i] is the loop at FORNEXT i's
 * last instruction (i when nothing jumps back to it); inner[i] the
 * innermost loop whose range holds i, or NONE. Linear in the block's
 * length, plus a word per register of the window. */
static bool verify_loops(chg_vm_verifier *v, const chg_block *k, uint32_t *end, uint32_t *inner,
                         uint32_t *saved, uint32_t *owner)
{
    const chg_ins *code = v->b->code;
    uint32_t s = k->start, n = k->len;
    /* back edges: a JMP to the FORNEXT of a loop; every other edge forward */
    for (uint32_t i = 0; i < n; i++) {
        end[i] = i;
        inner[i] = CHG_NONE32;
    }
    for (uint32_t i = 0; i < n; i++) {
        const chg_ins *in = &code[s + i];
        if (fmt_of(in->op)[2] != 'J')
            continue;
        uint32_t t = CHG_INS_BC(*in) - s; /* in the block (verify_operands) */
        if (t > i)
            continue;
        if (in->op != CHG_OP_JMP || code[s + t].op != CHG_OP_FORNEXT)
            return vfail(v, rec_at(v, CHG_SEC_CODE, s + i) + 4,
                         "instruction %u (%s): a backward jump must go to a FORNEXT", s + i,
                         chg_vm_op_names[in->op]);
        if (end[t] < i)
            end[t] = i;
    }
    /* each FORNEXT: its FORPREP, nesting, an exit past the loop */
    uint32_t top = CHG_NONE32; /* innermost open loop; inner[] of a FORNEXT links to the enclosing one */
    for (uint32_t i = 0; i < n; i++) {
        const chg_ins *in = &code[s + i];
        uint32_t at = rec_at(v, CHG_SEC_CODE, s + i);
        while (top != CHG_NONE32 && end[top] < i)
            top = inner[top];
        if (in->op != CHG_OP_FORNEXT) {
            inner[i] = top;
            continue;
        }
        const chg_ins *prep = i > 0 ? &code[s + i - 1] : NULL;
        if (!prep || prep->op != CHG_OP_FORPREP || prep->a != in->a)
            return vfail(v, at, "instruction %u (FORNEXT): not preceded by the FORPREP of its loop", s + i);
        if (top != CHG_NONE32 && end[i] > end[top])
            return vfail(v, at, "instruction %u (FORNEXT): its loop overlaps the loop at %u", s + i, s + top);
        if (CHG_INS_BC(*in) - s <= end[i])
            return vfail(v, at + 4, "instruction %u (FORNEXT): exits into its own loop", s + i);
        inner[i] = top; /* for a FORNEXT: the enclosing loop */
        top = i;
    }
    /* entries: a jump into a loop comes from inside it (falling through
     * enters a loop only at its FORNEXT, from its FORPREP); the innermost
     * loop around the target is enough, it lies inside all the others */
    for (uint32_t q = 0; q < n; q++) {
        const chg_ins *in = &code[s + q];
        if (fmt_of(in->op)[2] != 'J')
            continue;
        uint32_t t = CHG_INS_BC(*in) - s;
        uint32_t p = code[s + t].op == CHG_OP_FORNEXT ? t : inner[t];
        if (p != CHG_NONE32 && (q <= p || q > end[p]))
            return vfail(v, rec_at(v, CHG_SEC_CODE, s + q) + 4,
                         "instruction %u (%s): jumps into the loop at %u from outside it", s + q,
                         chg_vm_op_names[in->op], s + p);
    }
    /* writes: nothing inside a loop writes its list or index. owner[r] is
     * the innermost open loop that owns register r, or NONE; loops nest,
     * so closing one gives its registers back to whichever owned them
     * before (saved[2p], saved[2p+1]: an inner loop may iterate over an
     * outer loop's index, which it never writes). */
    uint32_t lo = k->reg_base;
    for (uint32_t r = 0; r < k->nregs; r++)
        owner[r] = CHG_NONE32;
    top = CHG_NONE32;
    for (uint32_t i = 0; i < n; i++) {
        const chg_ins *in = &code[s + i];
        while (top != CHG_NONE32 && end[top] < i) {
            const chg_ins *h = &code[s + top];
            owner[h->a + 1 - lo] = saved[2 * top + 1];
            owner[h->a - lo] = saved[2 * top];
            top = inner[top];
        }
        uint16_t w[3];
        uint32_t nw = ins_writes(in, w);
        if (in->op == CHG_OP_FORNEXT)
            w[nw++] = (uint16_t)(in->a + 2);
        for (uint32_t j = 0; j < nw; j++)
            if (owner[w[j] - lo] != CHG_NONE32)
                return vfail(v, rec_at(v, CHG_SEC_CODE, s + i), "instruction %u writes the loop registers of the "
                             "loop at %u", s + i, s + owner[w[j] - lo]);
        if (in->op == CHG_OP_FORNEXT) {
            saved[2 * i] = owner[in->a - lo];
            saved[2 * i + 1] = owner[in->a + 1 - lo];
            owner[in->a - lo] = owner[in->a + 1 - lo] = i;
            top = i;
        }
    }
    return true;
}

/* ---- I2: no register read before it is written ---------------------------------------- */

static bool verify_dataflow(chg_vm_verifier *v, uint32_t bi, const chg_block *k, uint64_t *in_set,
                            uint8_t *reached, uint32_t *idx)
{
    const chg_ins *code = v->b->code;
    uint32_t s = k->start, n = k->len, lo = k->reg_base;
    uint16_t rr[260], ww[3];
    uint32_t t[2];
    /* number the registers the block writes; a read of another one is
     * a read before any write */
    for (uint32_t r = 0; r < k->nregs; r++)
        idx[r] = CHG_NONE32;
    uint32_t nw = 0;
    for (uint32_t i = 0; i < n; i++) {
        const chg_ins *in = &code[s + i];
        uint32_t m = ins_writes(in, ww);
        if (in->op == CHG_OP_FORNEXT)
            ww[m++] = (uint16_t)(in->a + 2);
        for (uint32_t j = 0; j < m; j++)
            if (idx[ww[j] - lo] == CHG_NONE32)
                idx[ww[j] - lo] = nw++;
    }
    uint32_t words = (nw + 63) / 64;
    if ((uint64_t)n * words > CHG_VERIFY_MAX_WORK)
        return vfail(v, rec_at(v, CHG_SEC_BLOCKS, bi) + 4,
                     "BLOCKS[%u].len: %u instructions writing %u registers are too many to verify", bi, n, nw);
    /* the sets, 64 registers at a time (one round when the block writes
     * none: its reads still fail). The first pass also finds what is
     * reachable: in pc order, every forward edge is seen before its
     * target, and a back edge goes to a FORNEXT reached through its
     * FORPREP before, so reached[i] is final when i is visited. */
    memset(reached, 0, n);
    reached[0] = 1;
    for (uint32_t wd = 0; wd < (words ? words : 1); wd++) {
        for (uint32_t i = 0; i < n; i++)
            in_set[i] = ~(uint64_t)0;
        in_set[0] = 0; /* nothing is written when a block starts */
        bool changed = true;
        for (int pass = 0; changed; pass++) {
            CHG_ASSERT(pass == 0); /* back edges change nothing (see the top) */
            changed = false;
            for (uint32_t i = 0; i < n; i++) {
                if (!reached[i])
                    continue;
                const chg_ins *in = &code[s + i];
                uint64_t cur = in_set[i];
                uint32_t m = ins_reads(in, rr);
                for (uint32_t j = 0; j < m; j++) {
                    uint32_t c = idx[rr[j] - lo];
                    if (c == CHG_NONE32 || (c / 64 == wd && !(cur >> (c % 64) & 1)))
                        return vfail(v, rec_at(v, CHG_SEC_CODE, s + i),
                                     "instruction %u (%s): register %u is read before it is written on some path",
                                     s + i, chg_vm_op_names[in->op], rr[j]);
                }
                m = ins_writes(in, ww);
                for (uint32_t j = 0; j < m; j++) {
                    uint32_t c = idx[ww[j] - lo];
                    if (c / 64 == wd)
                        cur |= (uint64_t)1 << (c % 64);
                }
                uint32_t ne = edges(in, i, s, t);
                for (uint32_t e = 0; e < ne; e++) {
                    uint64_t out = cur;
                    if (in->op == CHG_OP_FORNEXT && e == 0) { /* into the body: the element too */
                        uint32_t c = idx[in->a + 2 - lo];
                        if (c / 64 == wd)
                            out |= (uint64_t)1 << (c % 64);
                    }
                    reached[t[e]] = 1;
                    uint64_t was = in_set[t[e]];
                    in_set[t[e]] = was & out;
                    if (t[e] <= i && in_set[t[e]] != was)
                        changed = true; /* a back edge: its target needs another pass */
                }
            }
        }
    }
    return true;
}

/* I1: a let block belongs to one let (found by fuzz_bundle_struct: two
 * lets of one block, one asking for the other, ran the block inside
 * itself). */
static bool verify_lets(chg_vm_verifier *v)
{
    const chg_bundle *b = v->b;
    uint32_t *owner = chg_malloc(((size_t)b->nblocks + 1) * sizeof *owner);
    if (!owner)
        return vnomem(v);
    for (uint32_t i = 0; i < b->nblocks; i++)
        owner[i] = CHG_NONE32;
    bool ok = true;
    for (uint32_t i = 0; ok && i < b->nlets; i++) {
        uint32_t k = b->lets[i].block; /* in range and a let block: load_policy */
        if (owner[k] != CHG_NONE32)
            ok = vfail(v, rec_at(v, CHG_SEC_LETS, i) + 4, "LETS[%u].block: block %u is already the block of let %u", i, k,
                       owner[k]);
        owner[k] = i;
    }
    chg_free(owner);
    return ok;
}

bool chg_vm_verify_code(chg_vm_verifier *v)
{
    const chg_bundle *b = v->b;
    if (!verify_lets(v))
        return false;
    /* scratch for the largest block: 6 words and a byte per instruction
     * (end, inner, saved owners, a set), a word per register */
    uint32_t maxn = 0;
    for (uint32_t i = 0; i < b->nblocks; i++)
        if (b->blocks[i].len > maxn)
            maxn = b->blocks[i].len;
    uint32_t *end = chg_malloc(((size_t)4 * maxn + 0x10000) * sizeof *end);
    uint64_t *in_set = chg_malloc(((size_t)maxn + 1) * sizeof *in_set);
    uint8_t *reached = chg_malloc((size_t)maxn + 1);
    if (!end || !in_set || !reached) {
        chg_free(end);
        chg_free(in_set);
        chg_free(reached);
        return vnomem(v);
    }
    uint32_t *inner = end + maxn, *saved = end + 2 * (size_t)maxn, *regs = end + 4 * (size_t)maxn;
    bool ok = true;
    for (uint32_t i = 0; ok && i < b->nblocks; i++) {
        const chg_block *k = &b->blocks[i];
        ok = verify_operands(v, k) && verify_loops(v, k, end, inner, saved, regs) &&
             verify_dataflow(v, i, k, in_set, reached, regs);
    }
    chg_free(end);
    chg_free(in_set);
    chg_free(reached);
    return ok;
}

/* ---- I5: time sets are trees ------------------------------------------------------------ */

bool chg_vm_verify_tstree(chg_vm_verifier *v, uint32_t set, const chg_ts_node *nodes, uint32_t first,
                          uint32_t count, uint32_t *next_first)
{
    /* sets in order, each its own nodes: building them all costs the
     * TSNODES section once */
    if (first < *next_first)
        return vfail(v, rec_at(v, CHG_SEC_TIMESETS, set) + 8, "TIMESETS[%u].first: node %u belongs to the time set before",
                     set, first);
    *next_first = first + count;
    uint8_t *used = chg_calloc(count + 1, 1);
    if (!used)
        return vnomem(v);
    bool ok = true;
    for (uint32_t k = 0; k < count && ok; k++) {
        const chg_ts_node *x = &nodes[k];
        int nops = x->op == CHG_TS_OR || x->op == CHG_TS_AND ? 2 : x->op == CHG_TS_NOT ? 1 : 0;
        int32_t ops[2] = {x->a, x->b};
        for (int j = 0; j < nops && ok; j++) {
            /* in range and before k: load_timesets checked */
            uint32_t o = (uint32_t)ops[j];
            if (used[o]++)
                ok = vfail(v, rec_at(v, CHG_SEC_TSNODES, first + k) + 12 + 4 * (uint32_t)j,
                           "TSNODES[%u].%c: node %u is already an operand (a time set must be a tree)", first + k,
                           j ? 'b' : 'a', first + o);
        }
    }
    chg_free(used);
    return ok;
}

/* ---- I6: decoding does not fan out ---------------------------------------------------- */

bool chg_vm_verify_decoding(chg_vm_verifier *v)
{
    const chg_bundle *b = v->b;
    uint8_t *node_used = chg_calloc(b->npaths + 1, 1), *layout_used = chg_calloc(b->nlayouts + 1, 1);
    bool ok = node_used && layout_used;
    if (!ok)
        vnomem(v);
    for (uint32_t i = 0; ok && i < b->nlfields; i++) {
        uint32_t node = b->lfields[i].node;
        if (node != CHG_NONE32 && node_used[node]++)
            ok = vfail(v, rec_at(v, CHG_SEC_LFIELDS, i) + 4,
                       "LFIELDS[%u].node: path node %u is already a field (decoding would fan out)", i, node);
    }
    for (uint32_t i = 0; ok && i < b->npaths; i++) {
        uint32_t l = b->paths[i].layout;
        if (l != CHG_NONE16 && layout_used[l]++)
            ok = vfail(v, rec_at(v, CHG_SEC_PATHS, i) + 22,
                       "PATHS[%u].layout: layout %u already belongs to a list (decoding would fan out)", i, l);
    }
    chg_free(node_used);
    chg_free(layout_used);
    return ok;
}
