/*
 * codegen.c — the code generator and bundle writer: turns a checked
 * program into the bytes of a .chgb bundle (vm/bundle_format.h).
 *
 * Expressions become register code in blocks (one per let, condition,
 * message, …); the policy's structure (classify arms, rules, time sets)
 * becomes tables the evaluator walks. Field paths the policy reads become
 * path nodes: root-relative ones get a slot the decoder fills once per
 * event; paths read on list elements become fields of a record layout.
 *
 * Registers: the code of a block uses registers 0.. relative to its
 * window; at the end of the block they are relocated to the window's base
 * (let blocks each get their own window, every other block shares one
 * after them, see docs/vm.md).
 *
 * What this file assumes from the passes before it. chg_compiler_emit runs
 * only on a program that checked without errors, so every name is
 * resolved (e->u.name.kind, .decl, .binder, .risk_index are set), every
 * call has its chg_builtin, every expression its type, and every
 * recursion is bounded by CHG_MAX_DEPTH (the parser refused deeper
 * input). It does not re-check any of that; EX_ERROR or an unresolved name
 * reaching here is a checker bug and sets `failed`.
 *
 * What the loader (chg_bundle_load, vm/bundle.c) checks of what is
 * written here, so that a mistake in this file is a load error, never a
 * wrong decision:
 * every index in range, blocks that tile the code and end in RET, jumps
 * inside their block, register windows that fit and let windows that
 * overlap nothing, and loops whose list and index registers the body
 * never writes. The layout below is built to satisfy exactly that.
 *
 * Register allocation is a stack: `top` is the first free register of the
 * block, tmp() takes it, and every gen_ function restores `top` before it
 * returns, so the registers of a subexpression are free again once its
 * value is in `dst`. An expression writes only its dst and registers at or
 * above the `top` it was given; `max` is the block's high-water mark and
 * becomes the width of its window. This is what makes loops safe: a
 * quantifier's list, index and element registers are taken before its
 * body is compiled, so the body's registers all lie above them.
 *
 * A let's window: let i's block gets registers [base_i, base_i + max_i)
 * with base_i the sum of the earlier lets' widths, so let windows are
 * disjoint and a LET instruction may run a let's block in the middle of
 * any other block without clobbering it. Every other block (at, classify
 * arms, rule conditions and messages, action arguments, intake fields)
 * shares one window starting at let_regs, as wide as the widest of them;
 * they never run nested, only one after the other. Their base is not
 * known until every let is compiled, hence blocks_fix.
 *
 * Running out of memory: a record that cannot be appended is not counted
 * (rec returns NULL), a string or node whose allocation failed reads as
 * index 0 or the spare node, and generation carries on without crashing;
 * at the end, any failure (a section's or the blob's oom, the compiler's
 * chg_c_status) makes the emit CHG_ENOMEM and no bundle is written.
 */
#include "bundle_format.h"
#include "chg_time.h"
#include "compiler_int.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

/* Records are built in memory as the structs bundle_format.def defines
 * (chg_rec_RULES, …), filled and patched by field name, and encoded only
 * when the bundle is written (finish, chg_rec_encode): this file knows no
 * byte offset of the format. */
static const chg_section *sec_info(int sec) { return &chg_sections()[sec]; }

/* A path node: one field path the policy reads (change.requester.name,
 * event.detail, change.approvals[], a.group on an approval). Nodes form a
 * tree whose roots are node 0 (change) and node 1 (event); a list's
 * elements are its ELEM child. Root-anchored nodes that are read get a
 * slot, filled once per event by the decoder; nodes under an ELEM are read
 * through the list's record layout instead. Written as the PATHS section. */
typedef struct pnode {
    int parent;
    const char *name;     /* NULL: root or element */
    uint8_t kind;         /* CHG_PN_ROOT_CHANGE, _ROOT_EVENT, _KEY, _ELEM */
    const chg_type *type; /* the schema's type, for the decoder's conversion */
    uint8_t need;         /* CHG_PR_REQUIRED, _OPTIONAL, _DEFAULT */
    const chg_expr *dflt; /* the schema default (a literal) or NULL */
    int slot;             /* -1 none */
    int layout;           /* -1 none */
    int elem;             /* the ELEM child of a list node, -1 none */
    const char *text;     /* "change.a.b", for messages and the map key */
} pnode;

/* A record layout: the fields of one kind of record, by position. A list
 * of records from the event (change.approvals) has one, whose fields are
 * the paths read on its elements; an object literal or a field read on a
 * computed record has its own, whose fields are plain names (node 0). */
typedef struct glayout {
    chg_vec names;        /* const char* */
    chg_vec nodes;        /* (uintptr_t) node + 1, 0 none */
    const char *list;     /* the list whose elements it reads ("change.l"), or NULL */
    chg_span over;        /* where its field CHG_MAX_COUNT + 1 was read (E0604) */
} glayout;

/* A quantifier variable in scope: the register holding the element, and
 * its ELEM path node when the list is a path, so that `a.group` on it
 * compiles to a FIELD read of the list's layout rather than a lookup by
 * name. */
typedef struct gloc {
    const chg_expr *binder;
    int reg;              /* relative register of the element */
    int elem;             /* ELEM path node, -1 when the list is not a path */
} gloc;

typedef struct gen {
    chg_compiler *c;
    /* A limit of the format was exceeded and reported (E06xx): no bundle.
     * Generation goes on (with the operand written as 0), so a count in a
     * report is the whole count and every construct past a limit is
     * reported; `failed` is for what no limit explains (a checker bug). */
    bool limited;
    uint32_t once;        /* limits reported once per program, bit by kind */
    chg_arena *a;
    chg_buf sec[CHG_SEC__MAX];  /* each section's records, as chg_rec_NAME structs */
    uint32_t n[CHG_SEC__MAX];   /* how many records each holds */
    chg_buf blob;               /* the bytes of every string, NUL-terminated */
    /* deduplication: key → index + 1 (0 is "absent" for chg_c_map_get) */
    chg_map strs, consts, regexes, zones, builtins, spans;
    /* the block being generated */
    uint32_t bstart;
    int top, max;
    uint32_t span;
    chg_span at;          /* the expression being compiled, for limit reports */
    chg_span block_at;    /* the block's expression */
    uint32_t let_regs;    /* registers used by let windows so far */
    int expr_max;         /* widest non-let block */
    chg_vec blocks_fix;   /* expression blocks whose base is set at the end */
    /* paths */
    chg_vec nodes;        /* pnode* */
    chg_map pathmap;
    chg_vec layouts;      /* glayout* */
    int nslots[2];
    bool id_slotted;      /* change.id has its slot (new_slot) */
    gloc locals[CHG_MAX_DEPTH + 1];
    int nlocals;
    bool failed;
    pnode spare;          /* path_node(g, -1): what a node whose allocation failed reads as */
    chg_c_applies_run *runs; /* emit_applies's buffer, made once */
} gen;

/* ---- tables ----------------------------------------------------------------- */

/* Append a zeroed record (a chg_rec_NAME of section sec); returns it, or
 * NULL when memory ran out. The pointer is valid only until the next rec()
 * on the same section (the buffer may move), which is why callers fill a
 * record before they call anything that might add another of its kind. */
static void *rec(gen *g, int sec)
{
    uint32_t sz = sec_info(sec)->host_size;
    chg_buf *b = &g->sec[sec];
    size_t at = b->len;
    _Alignas(8) static const uint8_t zero[128];
    if (sz > sizeof zero)
        chg_panic("bundle record of %u bytes is larger than the zero buffer", sz);
    chg_buf_append(b, zero, sz);
    if (b->oom)
        return NULL; /* the count stays the number of records the section holds */
    g->n[sec]++;
    return b->data + at;
}

/* Record i of section sec, already written (NULL if it is not there: its
 * rec() ran out of memory). */
static void *rec_at(gen *g, int sec, uint32_t i)
{
    if (i >= g->n[sec])
        return NULL;
    return g->sec[sec].data + (size_t)i * sec_info(sec)->host_size;
}

/* The index of string s[0..len) in the STRINGS section, added once: a
 * record (offset, length) into the blob, which gets the bytes and a NUL
 * (the verifier checks every string is terminated and valid UTF-8). */
static uint32_t str_n(gen *g, const char *s, size_t len)
{
    char *key = chg_arena_strndup(g->a, s, len);
    if (!key)
        return 0; /* the arena's failed flag makes the emit CHG_ENOMEM */
    uintptr_t idx = (uintptr_t)chg_c_map_get(&g->strs, key);
    if (idx)
        return (uint32_t)idx - 1;
    chg_rec_STRINGS *r = rec(g, CHG_SEC_STRINGS);
    if (!r)
        return 0;
    r->off = (uint32_t)g->blob.len;
    r->len = (uint32_t)len;
    chg_buf_append(&g->blob, s, len);
    chg_buf_putc(&g->blob, 0);
    uint32_t i = g->n[CHG_SEC_STRINGS] - 1;
    if (chg_c_map_put(&g->strs, key, (void *)(uintptr_t)(i + 1)) != CHG_OK)
        chg_c_nomem(g->c);
    return i;
}

/* s may be an arena string whose allocation failed (a path's text, a
 * hidden declaration's name): NULL is an allocation failure, never a
 * string to write. */
static uint32_t str(gen *g, const char *s)
{
    if (!s) {
        chg_c_nomem(g->c);
        return 0;
    }
    return str_n(g, s, strlen(s));
}

/* The index of a constant (tag, a, payload), added once. A LIST constant
 * is never shared: its elements are the `a` constants written just before
 * it, so it must be added right after them, every time. */
static uint32_t konst(gen *g, uint8_t tag, uint32_t a, uint64_t payload)
{
    const char *key = chg_arena_printf(g->a, "%u:%u:%llu", tag, a, (unsigned long long)payload);
    if (!key)
        return 0;
    uintptr_t idx = tag == CHG_K_LIST ? 0 : (uintptr_t)chg_c_map_get(&g->consts, key);
    if (idx)
        return (uint32_t)idx - 1;
    chg_rec_CONSTS *r = rec(g, CHG_SEC_CONSTS);
    if (!r)
        return 0;
    *r = (chg_rec_CONSTS){.tag = tag, .a = a, .payload = payload};
    uint32_t i = g->n[CHG_SEC_CONSTS] - 1;
    if (tag != CHG_K_LIST)
        if (chg_c_map_put(&g->consts, (char *)key, (void *)(uintptr_t)(i + 1)) != CHG_OK)
            chg_c_nomem(g->c);
    return i;
}

/* An element of a LIST constant: never shared, written right before the
 * list (konst(…, CHG_K_LIST, n, 0) after the n elements). */
static bool k_elem(gen *g, chg_rec_CONSTS k)
{
    chg_rec_CONSTS *r = rec(g, CHG_SEC_CONSTS);
    if (!r)
        return false;
    *r = k;
    return true;
}

/* A LIST constant of the strings items[0..n). */
static uint32_t k_strings(gen *g, const uint32_t *items, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (!k_elem(g, (chg_rec_CONSTS){.tag = CHG_K_STR, .a = items[i]}))
            return 0;
    return konst(g, CHG_K_LIST, n, 0);
}

/* An enum's values as a LIST constant of strings, every one of them (a
 * value left out would be rejected by the decoder although declared). */
static uint32_t enum_values(gen *g, const chg_type *t)
{
    for (uint32_t k = 0; k < t->u.enm.n; k++) {
        uint32_t si = str(g, t->u.enm.values[k]);
        if (!k_elem(g, (chg_rec_CONSTS){.tag = CHG_K_STR, .a = si}))
            return 0; /* out of memory: the emit fails */
    }
    return konst(g, CHG_K_LIST, t->u.enm.n, 0);
}

static uint64_t f64_bits(double f)
{
    uint64_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* The SPANS record (file, line, column) of a source place, added once per
 * place; 0 (also a real record, the first) for no place. Instructions
 * carry one each (INSSPAN), so a run-time error names its source. */
static uint32_t span_of(gen *g, chg_span s)
{
    if (!s.file)
        return 0;
    const chg_source *src = chg_compiler_source(g->c, s.file);
    uint32_t line, col;
    chg_source_position(src, s.start, &line, &col);
    const char *key = chg_arena_printf(g->a, "%u:%u:%u", s.file, line, col);
    if (!key)
        return 0;
    uintptr_t idx = (uintptr_t)chg_c_map_get(&g->spans, key);
    if (idx)
        return (uint32_t)idx - 1;
    uint32_t file = str(g, src->path);
    chg_rec_SPANS *r = rec(g, CHG_SEC_SPANS);
    if (!r)
        return 0;
    *r = (chg_rec_SPANS){.file = file, .line = line, .col = col};
    uint32_t i = g->n[CHG_SEC_SPANS] - 1;
    if (chg_c_map_put(&g->spans, (char *)key, (void *)(uintptr_t)(i + 1)) != CHG_OK)
        chg_c_nomem(g->c);
    return i;
}

/* The index of a record naming `name` in a section bound by name when the
 * bundle loads (regexes, zones, built-ins: records of one string field),
 * added once. */
static uint32_t named(gen *g, chg_map *m, int sec, const char *name)
{
    if (!name) {
        chg_c_nomem(g->c);
        return 0;
    }
    uintptr_t idx = (uintptr_t)chg_c_map_get(m, name);
    if (idx)
        return (uint32_t)idx - 1;
    uint32_t s = str(g, name);
    void *r = rec(g, sec);
    if (!r)
        return 0;
    chg_rec_set(&chg_fields()[sec_info(sec)->first], r, s);
    uint32_t i = g->n[sec] - 1;
    const char *key = chg_arena_strdup(g->a, name);
    if (!key || chg_c_map_put(m, key, (void *)(uintptr_t)(i + 1)) != CHG_OK)
        chg_c_nomem(g->c);
    return i;
}

/* ---- instructions and blocks --------------------------------------------------- */

static uint32_t pc(gen *g) { return g->n[CHG_SEC_CODE]; }

/* ---- limits ---------------------------------------------------------------------- */

static const char *num(gen *g, uint64_t v) { return chg_arena_printf(g->a, "%llu", (unsigned long long)v); }

/* Report a limit of the format (E06xx) at span at; `once` (a bit of
 * g->once, 0 for none) reports it only the first time: past a pool's or
 * the register file's limit, every later use would fail the same way. */
static chg_diag *limit(gen *g, uint32_t once, chg_diag_id id, chg_span at, const char *a, const char *b,
                       const char *c3, const char *d, const char *e)
{
    g->limited = true;
    if (once && (g->once & once))
        return NULL;
    g->once |= once;
    return chg_c_diag_report(g->c, id, at, a, b, c3, d, e, NULL);
}

/* An index operand past 65535 (or 65534 for those a path node also
 * stores, where 0xffff is NONE): the pool it indexes is too large. The
 * register operands are judged by block_end, which knows the window. */
static void operand_too_large(gen *g, char kind)
{
    if (chg_c_status(g->c) != CHG_OK) {
        g->failed = true; /* an index that failed to allocate, not a limit */
        return;
    }
    static const struct { char kind; const char *what; uint32_t max; } pools[] = {
        {'K', "constants", CHG_MAX_OPERAND + 1u},     {'P', "change fields read", CHG_MAX_OPERAND},
        {'E', "event fields read", CHG_MAX_OPERAND},  {'L', "lets", CHG_MAX_OPERAND + 1u},
        {'T', "windows and freezes", CHG_MAX_OPERAND + 1u}, {'X', "regular expressions", CHG_MAX_OPERAND + 1u},
        {'B', "built-ins", CHG_MAX_OPERAND + 1u},     {'Y', "record layouts", CHG_MAX_OPERAND},
    };
    for (size_t i = 0; i < sizeof pools / sizeof pools[0]; i++)
        if (pools[i].kind == kind) {
            chg_diag *d = limit(g, 1u << (8 + i), CHG_D_E0607, g->at, pools[i].what, num(g, pools[i].max), NULL,
                                NULL, NULL);
            if (d && kind == 'K')
                chg_c_diag_help(g->c, d, "every literal is a constant, and so is each item of a list of literals");
            return;
        }
    g->limited = true; /* a register: block_end reports it */
}

/* The next path slot of root 0 (change) or 1 (event), for node p: at
 * most CHG_MAX_OPERAND of each (META.nslots_*; a path node stores its
 * slot as a u16 whose 0xffff is NONE). Slots the decision itself reads
 * (the approvals, the requester, the change's id) count too; change.id
 * gets its slot after every block, so one is kept for it until then, and
 * the read that goes past the limit is the one reported, where it is. */
static int new_slot(gen *g, int root, const pnode *p)
{
    bool id = root == 0 && p->parent == 0 && p->name && strcmp(p->name, "id") == 0;
    int keep = root == 0 && !id && !g->id_slotted ? 1 : 0;
    if (g->nslots[root] + keep >= (int)CHG_MAX_OPERAND)
        operand_too_large(g, root ? 'E' : 'P');
    g->id_slotted |= id;
    return g->nslots[root]++;
}

/* A count operand (x) past CHG_MAX_COUNT: the construct at `at` has too
 * many parts for one instruction. */
static bool count_ok(gen *g, chg_diag_id id, chg_span at, uint32_t n)
{
    if (n <= CHG_MAX_COUNT)
        return true;
    chg_diag *d = limit(g, 0, id, at, num(g, n), num(g, CHG_MAX_COUNT), NULL, NULL, NULL);
    if (d && id == CHG_D_E0601)
        chg_c_diag_help(g->c, d, "a list of plain literals (strings, numbers, instants, durations) has no such limit");
    return false;
}

/* Append an instruction with the current source span; returns its pc.
 * Operands are 16 bits: a larger one (a block past 65535 registers, a
 * constant pool past 65535 entries) cannot be encoded, so it is reported
 * (E0607, or E0605 for registers) and written as 0 rather than truncated
 * to an index the verifier might accept as a different, valid one. An
 * index a path node also stores (slots, layouts) must stay below 0xffff,
 * its NONE. */
static uint32_t emit(gen *g, chg_opcode op, uint8_t x, uint32_t a, uint32_t b, uint32_t c)
{
    const char *fmt = chg_op_format(op);
    uint32_t v[4] = {x, a, b, c};
    for (int k = 1; k < 4; k++) {
        bool stored = fmt[k] == 'P' || fmt[k] == 'E' || fmt[k] == 'Y';
        if (fmt[k] != 'I' && fmt[k] != 'J' && (v[k] > CHG_MAX_OPERAND || (stored && v[k] == CHG_NONE16))) {
            operand_too_large(g, fmt[k]);
            a = b = c = 0;
        }
    }
    chg_rec_CODE *r = rec(g, CHG_SEC_CODE);
    chg_rec_INSSPAN *s = rec(g, CHG_SEC_INSSPAN);
    if (!r || !s)
        return 0;
    *r = (chg_rec_CODE){.op = (uint8_t)op, .x = x, .a = (uint16_t)a, .b = (uint16_t)b, .c = (uint16_t)c};
    s->span = g->span;
    return pc(g) - 1;
}

static uint32_t emit_jump(gen *g, chg_opcode op, uint32_t a)
{
    return emit(g, op, 0, a, 0, 0);
}

/* Point the jump at instruction `at` to `target` (an absolute pc, split
 * over b and c: the JJ format). Jumps are emitted with target 0 and
 * patched once the target is known, forward or back. */
static void patch(gen *g, uint32_t at, uint32_t target)
{
    /* A jump whose emit failed for want of memory is "instruction 0", which
     * need not exist: nothing to patch, the emit ends in CHG_ENOMEM. */
    chg_rec_CODE *r = rec_at(g, CHG_SEC_CODE, at);
    if (!r)
        return;
    r->b = (uint16_t)(target & 0xffff);
    r->c = (uint16_t)(target >> 16);
}

/* Take the next free register of the block (see "Register allocation"
 * above). */
static int tmp(gen *g)
{
    int r = g->top++;
    if (g->top > g->max)
        g->max = g->top;
    return r;
}

/* Start a block: registers from 0, no quantifier variables in scope. A
 * block never nests inside another (LET runs another block, it does not
 * compile one), so one set of block state suffices. */
static void block_begin(gen *g, chg_span at)
{
    g->bstart = pc(g);
    g->top = g->max = 0;
    g->span = span_of(g, at);
    g->at = g->block_at = at;
    g->nlocals = 0;
}

/* Add base to every register operand (those the format marks 'R') of
 * instructions [start, end). */
static void relocate(gen *g, uint32_t start, uint32_t end, uint32_t base)
{
    for (uint32_t i = start; i < end; i++) {
        chg_rec_CODE *ins = rec_at(g, CHG_SEC_CODE, i);
        if (!ins)
            return;
        const char *fmt = chg_op_format(ins->op);
        uint16_t *operand[4] = {NULL, &ins->a, &ins->b, &ins->c};
        for (int k = 1; k < 4; k++)
            if (fmt[k] == 'R')
                *operand[k] = (uint16_t)(*operand[k] + base);
    }
}

/* The block's window must end within the register file a context has
 * (META.nregs, at most 65535: E0605), and the verifier must be willing to
 * check it (E0606). `window` is where the window starts: a let's own
 * base, or for an expression block the lets' total width (final, as the
 * lets are compiled first). The verifier's work counts the registers the
 * block writes, at most its width, so this bound is safe. */
static void block_limits(gen *g, uint32_t window)
{
    uint32_t width = g->max ? (uint32_t)g->max : 1, n = pc(g) - g->bstart;
    if ((uint64_t)window + width > CHG_MAX_OPERAND) {
        chg_diag *d = limit(g, 1u << 0, CHG_D_E0605, g->block_at, "this expression",
                            num(g, (uint64_t)window + width), num(g, CHG_MAX_OPERAND), NULL, NULL);
        if (d && window)
            chg_c_diag_note(g->c, d, (chg_span){0}, "its own %u registers come after the %u the lets use", width,
                            window);
    }
    uint64_t work = (uint64_t)n * ((width + 63) / 64);
    if (work > CHG_VERIFY_MAX_WORK)
        limit(g, 0, CHG_D_E0606, g->block_at, "this expression", num(g, n), num(g, width), num(g, work),
              num(g, CHG_VERIFY_MAX_WORK));
}

/* Relocate the block's registers to base and record it. For expression
 * blocks base is 0 here and the real base is added at the end
 * (blocks_fix); for lets it is the let's own window. The window is at
 * least one register wide, as RET needs one. */
static uint32_t block_end(gen *g, uint8_t kind, uint32_t base)
{
    uint32_t end = pc(g);
    block_limits(g, kind == CHG_B_LET ? base : g->let_regs);
    relocate(g, g->bstart, end, base);
    chg_rec_BLOCKS *r = rec(g, CHG_SEC_BLOCKS);
    if (!r)
        return 0;
    *r = (chg_rec_BLOCKS){.start = g->bstart, .len = end - g->bstart, .reg_base = (uint16_t)base,
                          .nregs = (uint16_t)(g->max ? g->max : 1), .kind = kind};
    return g->n[CHG_SEC_BLOCKS] - 1;
}

/* ---- paths ----------------------------------------------------------------------- */

/* The decoder's conversion for a path of type t (optional or not: a
 * missing or null value is the `need` field's business). */
static uint8_t type_code(const chg_type *t)
{
    t = chg_c_type_strip(t);
    switch (t->kind) {
    case T_BOOL: return CHG_PT_BOOL;
    case T_INT: return CHG_PT_INT;
    case T_FLOAT: return CHG_PT_FLOAT;
    case T_STRING: return CHG_PT_STR;
    case T_TIME: return CHG_PT_TIME;
    case T_DURATION: return CHG_PT_DUR;
    case T_ENUM: return CHG_PT_ENUM;
    case T_LIST: return CHG_PT_LIST;
    case T_OBJECT: return CHG_PT_OBJECT;
    default: return CHG_PT_ANY;
    }
}

/* Path node n, or the spare node for -1: a node whose allocation failed is -1,
 * and code that goes on from there reads and writes the spare (a root with
 * no slot) instead of crashing; the emit then ends in CHG_ENOMEM. */
static pnode *path_node(gen *g, int n)
{
    if (n < 0 || (size_t)n >= g->nodes.len)
        return &g->spare;
    return g->nodes.items[n];
}

static int node_new(gen *g, int parent, const char *name, uint8_t kind, const chg_type *type)
{
    pnode *n = chg_arena_alloc(g->a, sizeof *n);
    if (!n)
        return -1;
    n->parent = parent;
    n->name = name;
    n->kind = kind;
    n->type = type ? type : &chg_c_type_any;
    n->slot = n->layout = n->elem = -1;
    n->need = CHG_PR_OPTIONAL;
    if (parent < 0)
        n->text = kind == CHG_PN_ROOT_CHANGE ? "change" : "event";
    else {
        pnode *p = path_node(g, parent);
        n->text = kind == CHG_PN_ELEM ? chg_arena_printf(g->a, "%s[]", p->text)
                                      : chg_arena_printf(g->a, "%s.%s", p->text, name);
    }
    if (chg_vec_push(&g->nodes, n) != CHG_OK) {
        chg_c_nomem(g->c);
        return -1;
    }
    return (int)g->nodes.len - 1;
}

static int elem_of(gen *g, int list);

/* A list of a schema's scalar type (`[time]`, `[duration]`, `[enum(…)]`,
 * lists of those) has its elements converted by their type wherever the
 * list is read from: through a quantifier over the path, but also behind
 * `??`, `in`, or a let, where no element path is ever named. Without the
 * ELEM node the decoder would leave them as JSON text, and the checker,
 * which typed them as instants, would compare an instant with a string. */
static void typed_elems(gen *g, int n)
{
    const chg_type *t = chg_c_type_strip(path_node(g, n)->type);
    if (t->kind != T_LIST)
        return;
    const chg_type *et = chg_c_type_strip(t->u.elem);
    if (et->kind == T_ANY || et->kind == T_OBJECT)
        return; /* records: their fields are read through paths (path_of) */
    int e = elem_of(g, n);
    if (e >= 0)
        typed_elems(g, e);
}

/* The child `name` of path node parent, made on first use. Its type and
 * need come from the parent's schema type: a required field the decoder
 * must find, an optional one, or one with a default it fills in. Without
 * a schema every field is `any` and optional. */
static int child(gen *g, int parent, const char *name)
{
    const char *key = chg_arena_printf(g->a, "%d/%s", parent, name);
    if (!key)
        return -1;
    uintptr_t idx = (uintptr_t)chg_c_map_get(&g->pathmap, key);
    if (idx)
        return (int)idx - 1;
    pnode *p = path_node(g, parent);
    const chg_type *pt = chg_c_type_strip(p->type);
    const chg_type_field *f = chg_c_type_field_find(pt, name);
    int n = node_new(g, parent, name, CHG_PN_KEY, f ? f->type : &chg_c_type_any);
    if (n < 0)
        return -1;
    pnode *nd = path_node(g, n);
    if (f) {
        nd->need = f->dflt ? CHG_PR_DEFAULT : f->type->kind == T_OPTIONAL ? CHG_PR_OPTIONAL : CHG_PR_REQUIRED;
        nd->dflt = f->dflt;
    }
    if (chg_c_map_put(&g->pathmap, (char *)key, (void *)(uintptr_t)(n + 1)) != CHG_OK)
        chg_c_nomem(g->c);
    typed_elems(g, n);
    return n;
}

/* The ELEM node of list node `list` (its elements), made on first use.
 * Elements are always optional: a list may be empty. */
static int elem_of(gen *g, int list)
{
    pnode *l = path_node(g, list);
    if (l->elem >= 0)
        return l->elem;
    const chg_type *lt = chg_c_type_strip(l->type);
    int e = node_new(g, list, NULL, CHG_PN_ELEM, lt->kind == T_LIST ? lt->u.elem : &chg_c_type_any);
    if (e < 0)
        return -1;
    path_node(g, list)->elem = e;
    path_node(g, e)->need = CHG_PR_OPTIONAL;
    return e;
}

/* The node's root: 0 change, 1 event, or the ELEM node it hangs from. */
static int anchor(gen *g, int n, int *elem)
{
    for (;;) {
        pnode *p = path_node(g, n);
        if (p->kind == CHG_PN_ELEM) {
            *elem = n;
            return 2;
        }
        if (p->parent < 0) {
            *elem = -1;
            return p->kind == CHG_PN_ROOT_CHANGE ? 0 : 1;
        }
        n = p->parent;
    }
}

/* The path node of a static path expression (change.a.b, event["x"],
 * a.b for a quantifier variable over a path list), or -1. *local is the
 * register of the quantifier variable the path starts from (-1: a root):
 * two variables over one list share their element's path node, so the
 * node alone cannot say whose field `y.n` is. */
static int path_of(gen *g, const chg_expr *e, bool *optional, int *local)
{
    switch (e->kind) {
    case EX_NAME:
        if (e->u.name.kind == NAME_CHANGE)
            return 0;
        if (e->u.name.kind == NAME_EVENT)
            return 1;
        if (e->u.name.kind == NAME_LOCAL)
            for (int i = g->nlocals - 1; i >= 0; i--)
                if (g->locals[i].binder == e->u.name.binder) {
                    *local = g->locals[i].reg;
                    return g->locals[i].elem;
                }
        return -1;
    case EX_FIELD:
    case EX_OPTFIELD: {
        int p = path_of(g, e->u.field.obj, optional, local);
        if (p < 0)
            return -1;
        if (e->kind == EX_OPTFIELD)
            *optional = true;
        return child(g, p, e->u.field.field.name);
    }
    case EX_INDEX: {
        if (e->u.index.index->kind != EX_STRING)
            return -1;
        int p = path_of(g, e->u.index.obj, optional, local);
        return p < 0 ? -1 : child(g, p, e->u.index.index->u.str.s);
    }
    default:
        return -1;
    }
}

/* A new record layout; -1 when memory ran out (layout_field then adds
 * nothing, and the FIELD or RECORD instruction naming -1 fails the emit). */
static int layout_new(gen *g)
{
    glayout *l = chg_arena_alloc(g->a, sizeof *l);
    if (!l || chg_vec_push(&g->layouts, l) != CHG_OK) {
        chg_c_nomem(g->c);
        return -1;
    }
    return (int)g->layouts.len - 1;
}

static int layout_field(gen *g, int layout, const char *name, int node)
{
    if (layout < 0 || !name) {
        chg_c_nomem(g->c); /* a failed layout_new, or a path text's printf */
        return 0;
    }
    glayout *l = g->layouts.items[layout];
    for (size_t i = 0; i < l->names.len; i++)
        if (strcmp(l->names.items[i], name) == 0 &&
            (uintptr_t)l->nodes.items[i] == (uintptr_t)(node + 1))
            return (int)i;
    /* nodes first: the loop above and emit_paths read nodes[i] for every
     * name, so names must never get ahead of nodes */
    if (chg_vec_push(&l->nodes, (void *)(uintptr_t)(node + 1)) != CHG_OK ||
        chg_vec_push(&l->names, (void *)name) != CHG_OK) {
        chg_c_nomem(g->c);
        return 0;
    }
    return (int)l->names.len - 1;
}

/* Emit the load of path node n into dst. A root-anchored node reads its
 * slot (CHANGE or EVENT); its `optional` flag (x) tells the VM a missing
 * value is null rather than an error, which it is for anything not
 * required by a schema. A node under an ELEM reads a field of the
 * quantifier variable that holds the element: the field's position in the
 * list's layout is the instruction's x, so at most 256 fields per layout
 * (past that the emit fails). */
static void load_path(gen *g, int n, int local, int dst, bool optional)
{
    int elem;
    int root = anchor(g, n, &elem);
    pnode *p = path_node(g, n);
    if (root < 2) {
        if (p->slot < 0)
            p->slot = new_slot(g, root, p);
        if (root == 0) {
            bool opt = optional || p->need != CHG_PR_REQUIRED || !g->c->schema;
            emit(g, CHG_OP_CHANGE, opt, (uint32_t)dst, (uint32_t)p->slot, 0);
        } else
            emit(g, CHG_OP_EVENT, 0, (uint32_t)dst, (uint32_t)p->slot, 0);
        return;
    }
    /* a field of a list element: find the local holding the element */
    pnode *e = path_node(g, elem);
    pnode *list = path_node(g, e->parent);
    if (list->layout < 0)
        list->layout = layout_new(g);
    /* path_of only reaches an ELEM through a quantifier variable in scope,
     * and says which */
    CHG_ASSERT(local >= 0 || g->c->arena.failed || g->c->oom);
    if (n == elem) {
        emit(g, CHG_OP_MOVE, 0, (uint32_t)dst, (uint32_t)local, 0);
        return;
    }
    int f = layout_field(g, list->layout, p->text, n);
    if (f >= CHG_MAX_COUNT && list->layout >= 0) {
        /* reported once per layout, with the whole count (emit_paths) */
        glayout *l = g->layouts.items[list->layout];
        if (!l->list) {
            l->list = list->text;
            l->over = g->at;
        }
        g->limited = true;
        f = 0;
    }
    emit(g, CHG_OP_FIELD, (uint8_t)f, (uint32_t)dst, (uint32_t)local, (uint32_t)list->layout);
}

/* ---- expressions ----------------------------------------------------------------- */

static void gen_expr(gen *g, const chg_expr *e, int dst);

static bool is_dynamic(const chg_expr *e) { return !e->type || e->type->kind == T_ANY; }

/* Compile e into dst; if it must be an instant and is dynamically typed,
 * convert (RFC 3339 strings from events become instants). */
static void gen_time(gen *g, const chg_expr *e, int dst)
{
    gen_expr(g, e, dst);
    if (is_dynamic(e))
        emit(g, CHG_OP_TOTIME, 0, (uint32_t)dst, (uint32_t)dst, 0);
}

/* A constant for a literal expression, or -1. A list of plain literals,
 * however long, becomes one LIST constant (so `x in ["a", "b"]` costs
 * one LOADK, and an allow-list has no count limit); any other list is
 * built at run time, by LIST, at most CHG_MAX_COUNT items (E0601). */
/* The constant a scalar literal stands for, not yet in the pool: false
 * for anything else (a list among them). */
static bool literal_value(gen *g, const chg_expr *e, chg_rec_CONSTS *k)
{
    switch (e->kind) {
    case EX_NULL: *k = (chg_rec_CONSTS){.tag = CHG_K_NULL}; return true;
    case EX_BOOL: *k = (chg_rec_CONSTS){.tag = CHG_K_BOOL, .payload = e->u.b}; return true;
    case EX_INT: *k = (chg_rec_CONSTS){.tag = CHG_K_INT, .payload = (uint64_t)e->u.i}; return true;
    case EX_FLOAT: *k = (chg_rec_CONSTS){.tag = CHG_K_FLOAT, .payload = f64_bits(e->u.f)}; return true;
    case EX_STRING:
    case EX_RAWSTRING: *k = (chg_rec_CONSTS){.tag = CHG_K_STR, .a = str_n(g, e->u.str.s, e->u.str.len)}; return true;
    case EX_DURATION: *k = (chg_rec_CONSTS){.tag = CHG_K_DUR, .payload = (uint64_t)e->u.i}; return true;
    case EX_INSTANT:
    case EX_DATE: *k = (chg_rec_CONSTS){.tag = CHG_K_TIME, .payload = (uint64_t)e->u.i}; return true;
    case EX_NAME:
        if (e->u.name.kind != NAME_RISK_CLASS)
            return false;
        *k = (chg_rec_CONSTS){.tag = CHG_K_RISK, .payload = (uint64_t)e->u.name.risk_index};
        return true;
    default:
        return false;
    }
}

static int64_t literal_const(gen *g, const chg_expr *e)
{
    chg_rec_CONSTS k;
    if (e->kind != EX_LIST)
        return literal_value(g, e, &k) ? (int64_t)konst(g, k.tag, k.a, k.payload) : -1;
    /* every item a scalar literal (nested lists are built at run time) */
    for (uint32_t i = 0; i < e->u.list.n; i++)
        if (e->u.list.items[i]->kind == EX_LIST || !literal_value(g, e->u.list.items[i], &k))
            return -1;
    /* a list constant's elements are the constants just before it: the
     * items go into the pool only as its elements, one entry each */
    for (uint32_t i = 0; i < e->u.list.n; i++) {
        literal_value(g, e->u.list.items[i], &k);
        if (!k_elem(g, k))
            return -1; /* out of memory: the emit fails */
    }
    return konst(g, CHG_K_LIST, e->u.list.n, 0);
}

/* Arguments go to consecutive registers base.. (CALL, QUERY and LIST read
 * n registers from base). A zone argument given as a literal is also
 * bound in the ZONES section, so the bundle loads it once at load time. */
static void gen_args(gen *g, chg_expr *const *args, uint32_t n, int base, const chg_builtin *b)
{
    for (uint32_t i = 0; i < n; i++) {
        int r = base + (int)i;
        chg_param p = chg_c_builtin_param(b, i);
        if (p == P_ZONE && args[i]->kind == EX_STRING)
            named(g, &g->zones, CHG_SEC_ZONES, args[i]->u.str.s);
        if (p == P_TIME)
            gen_time(g, args[i], r);
        else
            gen_expr(g, args[i], r);
    }
}

/* any / all / count x in L: body. The loop is
 *
 *         R[list] = L; FORPREP list
 *   loop: FORNEXT list → exit      (R[list+1] += 1; R[list+2] = element)
 *         R[result] = body
 *         JMPT/JMPF result → found (any/all), or count += 1
 *         JMP loop
 *   exit: any false / all true / count done
 *
 * FORNEXT uses the three registers list, list+1 (index), list+2 (the
 * element), so they are taken together here, before the body, which then
 * lies above them: the body never writes the list or the index, which is
 * what the verifier demands of every loop (so every loop terminates). */
static void gen_quant(gen *g, const chg_expr *e, int dst)
{
    int save = g->top;
    int list = tmp(g);
    tmp(g); /* index */
    int var = tmp(g);
    CHG_ASSERT(var == list + 2);
    bool opt = false;
    int from = -1;
    /* `x in (change.l ?? [])` iterates the path's elements: the empty
     * fallback adds none, so x is an element of the path as in `x in change.l` */
    const chg_expr *src = e->u.quant.list;
    if (src->kind == EX_BINARY && src->u.binary.op == BIN_COALESCE &&
        src->u.binary.b->kind == EX_LIST && src->u.binary.b->u.list.n == 0)
        src = src->u.binary.a;
    int lnode = path_of(g, src, &opt, &from);
    gen_expr(g, e->u.quant.list, list);
    int result = tmp(g);
    if (e->kind == EX_COUNT)
        emit(g, CHG_OP_LOADI, 0, (uint32_t)dst, 0, 0);
    emit(g, CHG_OP_FORPREP, 0, (uint32_t)list, 0, 0);
    uint32_t loop = emit_jump(g, CHG_OP_FORNEXT, (uint32_t)list);
    if (g->nlocals >= CHG_MAX_DEPTH) { /* the parser's depth limit keeps it below */
        limit(g, 0, CHG_D_E0011, e->span, "quantifiers", num(g, CHG_MAX_DEPTH), NULL, NULL, NULL);
        g->top = save;
        return;
    }
    g->locals[g->nlocals].binder = e;
    g->locals[g->nlocals].reg = var;
    g->locals[g->nlocals].elem = lnode >= 0 ? elem_of(g, lnode) : -1;
    g->nlocals++;
    gen_expr(g, e->u.quant.body, result);
    g->nlocals--;
    uint32_t exit_jump = 0;
    if (e->kind == EX_ANY)
        exit_jump = emit_jump(g, CHG_OP_JMPT, (uint32_t)result);
    else if (e->kind == EX_ALL)
        exit_jump = emit_jump(g, CHG_OP_JMPF, (uint32_t)result);
    else {
        /* count: dst += 1 when the body holds (checks it is a bool too) */
        uint32_t skip = emit_jump(g, CHG_OP_JMPF, (uint32_t)result);
        int one = tmp(g);
        emit(g, CHG_OP_LOADI, 0, (uint32_t)one, 1, 0);
        emit(g, CHG_OP_ADD, 0, (uint32_t)dst, (uint32_t)dst, (uint32_t)one);
        patch(g, skip, pc(g));
    }
    uint32_t back = emit(g, CHG_OP_JMP, 0, 0, 0, 0);
    patch(g, back, loop);
    /* the loop ran out: any is false, all is true */
    patch(g, loop, pc(g));
    if (e->kind == EX_COUNT) {
        g->top = save;
        return;
    }
    emit(g, CHG_OP_LOADBOOL, e->kind == EX_ALL, (uint32_t)dst, 0, 0);
    uint32_t end = emit(g, CHG_OP_JMP, 0, 0, 0, 0);
    patch(g, exit_jump, pc(g));
    emit(g, CHG_OP_LOADBOOL, e->kind == EX_ANY, (uint32_t)dst, 0, 0);
    patch(g, end, pc(g));
    g->top = save;
}

static int builtin_index(gen *g, const char *name) { return (int)named(g, &g->builtins, CHG_SEC_BUILTINS, name); }

/* Binary operators. `and`/`or` short-circuit into dst; `??` keeps the
 * left when it is not null; `in` a time set and `matches` have their own
 * instructions; == and != against a literal compare with a constant (EQK)
 * unless times are involved (a string literal may stand for an instant);
 * > and >= swap their operands onto LT and LE. Where a side is `any` but
 * must be an instant, TOTIME converts (RFC 3339 text from events). */
static void gen_binary(gen *g, const chg_expr *e, int dst)
{
    const chg_expr *a = e->u.binary.a, *b = e->u.binary.b;
    chg_binop op = e->u.binary.op;
    int save = g->top;
    switch (op) {
    case BIN_AND:
    case BIN_OR: {
        gen_expr(g, a, dst);
        uint32_t j = emit_jump(g, op == BIN_AND ? CHG_OP_JMPF : CHG_OP_JMPT, (uint32_t)dst);
        gen_expr(g, b, dst);
        if (is_dynamic(b)) { /* check the right side is a bool too */
            uint32_t k = emit_jump(g, CHG_OP_JMPF, (uint32_t)dst);
            patch(g, k, pc(g));
        }
        patch(g, j, pc(g));
        return;
    }
    case BIN_COALESCE: {
        gen_expr(g, a, dst);
        uint32_t j = emit_jump(g, CHG_OP_JMPNN, (uint32_t)dst);
        gen_expr(g, b, dst);
        patch(g, j, pc(g));
        return;
    }
    case BIN_IN:
        if (b->kind == EX_NAME && b->u.name.kind == NAME_TIMESET) {
            CHG_ASSERT(b->u.name.decl && b->u.name.decl->index >= 0);
            int r = tmp(g);
            gen_time(g, a, r);
            emit(g, CHG_OP_INSET, 0, (uint32_t)dst, (uint32_t)r, (uint32_t)b->u.name.decl->index);
            g->top = save;
            return;
        }
        break;
    case BIN_MATCHES: {
        int r = tmp(g);
        gen_expr(g, a, r);
        uint32_t re = named(g, &g->regexes, CHG_SEC_REGEXES,
                            chg_arena_strndup(g->a, b->u.str.s, b->u.str.len));
        emit(g, CHG_OP_MATCH, 0, (uint32_t)dst, (uint32_t)r, re);
        g->top = save;
        return;
    }
    default:
        break;
    }
    bool time_ctx = (a->type && a->type->kind == T_TIME) || (b->type && b->type->kind == T_TIME);
    if ((op == BIN_EQ || op == BIN_NE) && !time_ctx) {
        int64_t k = literal_const(g, b);
        const chg_expr *other = a;
        if (k < 0) {
            k = literal_const(g, a);
            other = b;
        }
        if (k >= 0) {
            int r = tmp(g);
            gen_expr(g, other, r);
            emit(g, op == BIN_EQ ? CHG_OP_EQK : CHG_OP_NEK, 0, (uint32_t)dst, (uint32_t)r, (uint32_t)k);
            g->top = save;
            return;
        }
    }
    int ra = tmp(g), rb = tmp(g);
    bool swap = op == BIN_GT || op == BIN_GE;
    const chg_expr *l = swap ? b : a, *r = swap ? a : b;
    if (time_ctx && op != BIN_ADD && op != BIN_SUB) {
        gen_time(g, l, ra);
        gen_time(g, r, rb);
    } else if (time_ctx && (op == BIN_SUB) && a->type && a->type->kind == T_TIME) {
        gen_time(g, l, ra); /* time - x: only the left is surely a time */
        gen_expr(g, r, rb);
        if (b->type && b->type->kind == T_TIME)
            emit(g, CHG_OP_TOTIME, 0, (uint32_t)rb, (uint32_t)rb, 0);
    } else {
        gen_expr(g, l, ra);
        gen_expr(g, r, rb);
    }
    chg_opcode o;
    switch (op) {
    case BIN_EQ: o = CHG_OP_EQ; break;
    case BIN_NE: o = CHG_OP_NE; break;
    case BIN_LT: case BIN_GT: o = CHG_OP_LT; break;
    case BIN_LE: case BIN_GE: o = CHG_OP_LE; break;
    case BIN_IN: o = CHG_OP_IN; break;
    case BIN_ADD: o = CHG_OP_ADD; break;
    case BIN_SUB: o = CHG_OP_SUB; break;
    case BIN_MUL: o = CHG_OP_MUL; break;
    case BIN_DIV: o = CHG_OP_DIV; break;
    default: o = CHG_OP_MOD; break;
    }
    emit(g, o, 0, (uint32_t)dst, (uint32_t)ra, (uint32_t)rb);
    g->top = save;
}

/* Compile e so that its value ends in register dst (relative to the
 * block's window). Registers from g->top up are free on entry and free
 * again on return; dst may be below top (the caller's register). Each
 * expression's instructions carry its own span, restored afterwards, so a
 * failing instruction names the innermost expression. */
static void gen_expr(gen *g, const chg_expr *e, int dst)
{
    if (g->failed)
        return;
    CHG_ASSERT(dst >= 0 && dst < g->max);
    uint32_t saved_span = g->span;
    chg_span saved_at = g->at;
    g->span = span_of(g, e->span);
    g->at = e->span;
    int save = g->top;
    switch (e->kind) {
    case EX_ERROR:
    case EX_LOCALTIME:
        g->failed = true; /* the checker reported it */
        break;
    case EX_NULL: emit(g, CHG_OP_LOADNULL, 0, (uint32_t)dst, 0, 0); break;
    case EX_BOOL: emit(g, CHG_OP_LOADBOOL, e->u.b, (uint32_t)dst, 0, 0); break;
    case EX_INT:
        if (e->u.i >= INT32_MIN && e->u.i <= INT32_MAX) {
            uint32_t v = (uint32_t)(int32_t)e->u.i;
            emit(g, CHG_OP_LOADI, 0, (uint32_t)dst, v & 0xffff, v >> 16);
            break;
        }
        /* fall through */
    case EX_FLOAT:
    case EX_STRING:
    case EX_RAWSTRING:
    case EX_DURATION:
    case EX_INSTANT:
    case EX_DATE:
        emit(g, CHG_OP_LOADK, 0, (uint32_t)dst, (uint32_t)literal_const(g, e), 0);
        break;
    case EX_INTERP: {
        int base = g->top;
        for (uint32_t i = 0; i < e->u.interp.n; i++)
            tmp(g);
        for (uint32_t i = 0; i < e->u.interp.n; i++)
            gen_expr(g, e->u.interp.parts[i], base + (int)i);
        uint32_t n = count_ok(g, CHG_D_E0602, e->span, e->u.interp.n) ? e->u.interp.n : 0;
        emit(g, CHG_OP_CONCAT, (uint8_t)n, (uint32_t)dst, (uint32_t)base, 0);
        break;
    }
    case EX_NAME:
        switch (e->u.name.kind) {
        case NAME_NOW: emit(g, CHG_OP_NOW, 0, (uint32_t)dst, 0, 0); break;
        case NAME_RISK: emit(g, CHG_OP_RISK, 0, (uint32_t)dst, 0, 0); break;
        case NAME_FREEZE_VAR: emit(g, CHG_OP_VAR, 0, (uint32_t)dst, 0, 0); break;
        case NAME_REASON: emit(g, CHG_OP_VAR, 1, (uint32_t)dst, 0, 0); break;
        case NAME_SUMMARY: emit(g, CHG_OP_VAR, 2, (uint32_t)dst, 0, 0); break;
        case NAME_LET:
            /* lets were numbered before any block was compiled */
            CHG_ASSERT(e->u.name.decl->kind == D_LET && e->u.name.decl->index >= 0);
            emit(g, CHG_OP_LET, 0, (uint32_t)dst, (uint32_t)e->u.name.decl->index, 0);
            break;
        case NAME_RISK_CLASS:
            emit(g, CHG_OP_LOADK, 0, (uint32_t)dst, (uint32_t)literal_const(g, e), 0);
            break;
        case NAME_LOCAL:
            for (int i = g->nlocals - 1; i >= 0; i--)
                if (g->locals[i].binder == e->u.name.binder) {
                    emit(g, CHG_OP_MOVE, 0, (uint32_t)dst, (uint32_t)g->locals[i].reg, 0);
                    break;
                }
            break;
        case NAME_CHANGE:
        case NAME_EVENT:
            load_path(g, e->u.name.kind == NAME_CHANGE ? 0 : 1, -1, dst, true);
            break;
        default:
            g->failed = true;
        }
        break;
    case EX_FIELD:
    case EX_OPTFIELD:
    case EX_INDEX: {
        bool opt = false;
        int local = -1;
        int n = path_of(g, e, &opt, &local);
        if (n >= 0) {
            load_path(g, n, local, dst, opt);
            break;
        }
        int o = tmp(g);
        if (e->kind == EX_INDEX) {
            int i = tmp(g);
            gen_expr(g, e->u.index.obj, o);
            gen_expr(g, e->u.index.index, i);
            emit(g, CHG_OP_INDEX, 0, (uint32_t)dst, (uint32_t)o, (uint32_t)i);
        } else {
            /* a field of a computed record: look the name up at run time */
            gen_expr(g, e->u.field.obj, o);
            int l = layout_new(g);
            int f = layout_field(g, l, e->u.field.field.name, -1);
            emit(g, CHG_OP_FIELD, (uint8_t)f, (uint32_t)dst, (uint32_t)o, (uint32_t)l);
        }
        break;
    }
    case EX_CALL: {
        const chg_builtin *b = e->u.call.builtin;
        int base = g->top;
        for (uint32_t i = 0; i < e->u.call.nargs; i++)
            tmp(g);
        gen_args(g, e->u.call.args, e->u.call.nargs, base, b);
        emit(g, b && b->kind == BI_QUERY ? CHG_OP_QUERY : CHG_OP_CALL, (uint8_t)e->u.call.nargs, (uint32_t)dst,
             (uint32_t)base, (uint32_t)builtin_index(g, e->u.call.name));
        break;
    }
    case EX_UNARY: {
        int r = tmp(g);
        gen_expr(g, e->u.unary.a, r);
        emit(g, e->u.unary.op == UOP_NOT ? CHG_OP_NOT : CHG_OP_NEG, 0, (uint32_t)dst, (uint32_t)r, 0);
        break;
    }
    case EX_BINARY: gen_binary(g, e, dst); break;
    case EX_IF: {
        int c = tmp(g);
        gen_expr(g, e->u.ifx.cond, c);
        uint32_t jf = emit_jump(g, CHG_OP_JMPF, (uint32_t)c);
        gen_expr(g, e->u.ifx.then, dst);
        uint32_t je = emit(g, CHG_OP_JMP, 0, 0, 0, 0);
        patch(g, jf, pc(g));
        gen_expr(g, e->u.ifx.els, dst);
        patch(g, je, pc(g));
        break;
    }
    case EX_LIST: {
        int64_t k = literal_const(g, e);
        if (k >= 0) {
            emit(g, CHG_OP_LOADK, 0, (uint32_t)dst, (uint32_t)k, 0);
            break;
        }
        int base = g->top;
        for (uint32_t i = 0; i < e->u.list.n; i++)
            tmp(g);
        for (uint32_t i = 0; i < e->u.list.n; i++)
            gen_expr(g, e->u.list.items[i], base + (int)i);
        uint32_t n = count_ok(g, CHG_D_E0601, e->span, e->u.list.n) ? e->u.list.n : 0;
        emit(g, CHG_OP_LIST, (uint8_t)n, (uint32_t)dst, (uint32_t)base, 0);
        break;
    }
    case EX_OBJECT: {
        int l = layout_new(g);
        int base = g->top;
        for (uint32_t i = 0; i < e->u.object.n; i++) {
            tmp(g);
            layout_field(g, l, e->u.object.fields[i].key.name, -1);
        }
        for (uint32_t i = 0; i < e->u.object.n; i++)
            gen_expr(g, e->u.object.fields[i].value, base + (int)i);
        uint32_t n = count_ok(g, CHG_D_E0603, e->span, e->u.object.n) ? e->u.object.n : 0;
        emit(g, CHG_OP_RECORD, (uint8_t)n, (uint32_t)dst, (uint32_t)base, (uint32_t)l);
        break;
    }
    case EX_ANY:
    case EX_ALL:
    case EX_COUNT: gen_quant(g, e, dst); break;
    }
    g->top = save;
    g->span = saved_span;
    g->at = saved_at;
}

/* A block computing one expression (a condition, a message, the `at`
 * instant, an intake field, …); returns its block index. It goes to
 * blocks_fix: its window is the shared one, placed after the lets once
 * their total width is known. */
static uint32_t expr_block(gen *g, const chg_expr *e, bool as_time)
{
    block_begin(g, e->span);
    int r = tmp(g);
    if (as_time)
        gen_time(g, e, r);
    else
        gen_expr(g, e, r);
    emit(g, CHG_OP_RET, 0, (uint32_t)r, 0, 0);
    uint32_t b = block_end(g, CHG_B_EXPR, 0);
    if (g->max > g->expr_max)
        g->expr_max = g->max;
    if (chg_vec_push(&g->blocks_fix, (void *)(uintptr_t)b) != CHG_OK)
        chg_c_nomem(g->c);
    return b;
}

/* ---- time sets --------------------------------------------------------------------- */

/* A window's or freeze's node tree, flattened by the same function the
 * checker and the time analysis use (chg_c_ts_flatten), so the set the
 * VM builds at load time is the one the compiler checked. References to
 * other sets are inlined: each TIMESETS record is self-contained, its
 * nodes TSNODES[first, first + n) with the root last. The record also
 * keeps the set's source text and single zone for explanations. */
static void emit_timeset(gen *g, chg_decl *d, bool inline_set)
{
    chg_c_tsnodes nodes = {0};
    if (chg_c_ts_flatten(d->u.timeset.ts, &nodes, 0) < 0) {
        if (nodes.oom)
            chg_c_nomem(g->c); /* not "too large": the emit says CHG_ENOMEM */
        else if (nodes.too_large && inline_set) { /* a declared set was reported by the checker */
            char why[64];
            snprintf(why, sizeof why, "more than %d nodes", CHG_TS_MAX_NODES);
            limit(g, 0, CHG_D_E0410, d->u.timeset.ts->span, d->name.name, why, NULL, NULL, NULL);
        } else
            g->failed = true; /* the checker passed a set that does not flatten */
    }
    uint32_t first = g->n[CHG_SEC_TSNODES];
    for (uint32_t i = 0; i < nodes.n; i++) {
        const chg_ts_node *n = &nodes.nodes[i];
        uint32_t zone = n->zone ? str(g, n->zone) : CHG_NONE32;
        uint32_t text = CHG_NONE32;
        if (n->op == CHG_TS_CRON)
            text = str(g, n->cron);
        else if (n->op == CHG_TS_CALENDAR)
            text = str_n(g, n->ics, n->ics_len);
        else if (n->op == CHG_TS_FLAG)
            text = str(g, n->flag);
        chg_rec_TSNODES *r = rec(g, CHG_SEC_TSNODES);
        if (!r)
            break;
        *r = (chg_rec_TSNODES){.op = (uint8_t)n->op, .days = n->days, .from_local = n->from_local,
                               .to_local = n->to_local, .zone = zone, .text = text, .a = n->a, .b = n->b,
                               .start_min = n->start_min, .end_min = n->end_min, .from_month = n->from_month,
                               .from_day = n->from_day, .to_month = n->to_month, .to_day = n->to_day,
                               .duration = n->duration, .from = n->from, .to = n->to, .flags = n->flags,
                               .offset_days = (uint8_t)n->offset_days, .cutoff = n->cutoff, .period = n->period};
    }
    uint32_t name = str(g, d->name.name), text = str(g, chg_c_span_text(g->c, d->u.timeset.ts->span));
    chg_rec_TIMESETS *r = rec(g, CHG_SEC_TIMESETS);
    if (r)
        *r = (chg_rec_TIMESETS){.name = name,
                                .kind = inline_set ? CHG_SET_INLINE : d->kind == D_FREEZE ? CHG_SET_FREEZE : CHG_SET_WINDOW,
                                .first = first, .count = nodes.n, .text = text};
    chg_c_tsnodes_free(&nodes);
}

/* ---- the program ---------------------------------------------------------------------- */

/* The layouts and the path tree, written last because every block may
 * add nodes and layout fields while it is compiled. A node's index in
 * PATHS is its index in g->nodes, the one the instructions and layouts
 * already use; parents come before children (a node is made after its
 * parent), which the loader demands so that walking from a node to its
 * root can never cycle. */
static void emit_paths(gen *g)
{
    for (size_t i = 0; i < g->layouts.len; i++) {
        glayout *l = g->layouts.items[i];
        if (l->list)
            limit(g, 0, CHG_D_E0604, l->over, l->list, num(g, l->names.len), num(g, CHG_MAX_COUNT), NULL, NULL);
        chg_rec_LAYOUTS *r = rec(g, CHG_SEC_LAYOUTS);
        if (!r)
            return;
        *r = (chg_rec_LAYOUTS){.first = g->n[CHG_SEC_LFIELDS], .count = (uint32_t)l->names.len};
        for (size_t k = 0; k < l->names.len; k++) {
            chg_rec_LFIELDS *f = rec(g, CHG_SEC_LFIELDS);
            if (!f)
                return;
            /* the field's name is its last path component */
            const char *name = l->names.items[k];
            uintptr_t node = (uintptr_t)l->nodes.items[k];
            if (node) {
                pnode *p = path_node(g, (int)node - 1);
                name = p->name ? p->name : name;
            }
            f->node = node ? (uint32_t)(node - 1) : CHG_NONE32;
            f->name = str(g, name); /* adds no LFIELDS record: f stays valid */
        }
    }
    for (size_t i = 0; i < g->nodes.len; i++) {
        pnode *p = path_node(g, (int)i);
        chg_rec_PATHS *r = rec(g, CHG_SEC_PATHS);
        if (!r)
            return;
        /* r stays valid: what follows adds strings and constants, never
         * PATHS records */
        r->kind = p->kind;
        r->type = type_code(p->type);
        r->need = p->need;
        r->parent = p->parent < 0 ? CHG_NONE32 : (uint32_t)p->parent;
        r->name = p->name ? str(g, p->name) : CHG_NONE32;
        r->dflt = CHG_NONE32;
        if (p->dflt) {
            int64_t k = literal_const(g, p->dflt);
            r->dflt = k < 0 ? CHG_NONE32 : (uint32_t)k;
        }
        r->enm = CHG_NONE32;
        const chg_type *t = chg_c_type_strip(p->type);
        if (t->kind == T_ENUM) /* every value: the decoder rejects what is not listed */
            r->enm = enum_values(g, t);
        r->slot = p->slot < 0 ? CHG_NONE16 : (uint16_t)p->slot;
        r->layout = p->layout < 0 ? CHG_NONE16 : (uint16_t)p->layout;
        r->text = str(g, p->text);
    }
}

/* The declared schema as the SCHEMA section (bundle_format.def): every field,
 * read by the policy or not, which the decoder checks each change against
 * before any rule runs. Written breadth first, so each node's children are
 * consecutive and come after it, as the loader demands. A `strict` schema
 * marks every object, nested ones included. */
typedef struct snode {
    const chg_type *type;   /* optional stripped */
    const char *name;       /* NULL: the change, or a list's element */
    uint8_t need;
    chg_span span;
    uint32_t first, count;
} snode;

static snode *snode_new(gen *g, chg_vec *v, const chg_type *t, const char *name, uint8_t need, chg_span span)
{
    snode *n = chg_arena_alloc(g->a, sizeof *n);
    if (!n || chg_vec_push(v, n) != CHG_OK) {
        chg_c_nomem(g->c);
        return NULL;
    }
    *n = (snode){chg_c_type_strip(t), name, need, span, 0, 0};
    return n;
}

static void emit_schema(gen *g)
{
    chg_compiler *c = g->c;
    if (!c->schema || c->change_type->kind != T_OBJECT)
        return; /* no schema: nothing to check before the rules */
    chg_vec nodes = {0};
    if (!snode_new(g, &nodes, c->change_type, NULL, CHG_PR_REQUIRED, c->schema->span)) {
        chg_vec_free(&nodes);
        return;
    }
    for (size_t i = 0; i < nodes.len; i++) {
        snode *n = nodes.items[i];
        n->first = (uint32_t)nodes.len;
        if (n->type->kind == T_OBJECT)
            for (uint32_t k = 0; k < n->type->u.obj.n; k++) {
                const chg_type_field *f = &n->type->u.obj.fields[k];
                uint8_t need = f->dflt ? CHG_PR_DEFAULT : f->type->kind == T_OPTIONAL ? CHG_PR_OPTIONAL : CHG_PR_REQUIRED;
                snode_new(g, &nodes, f->type, f->name, need, f->span);
            }
        else if (n->type->kind == T_LIST) /* the element: where its list is declared */
            snode_new(g, &nodes, n->type->u.elem, NULL,
                      n->type->u.elem->kind == T_OPTIONAL ? CHG_PR_OPTIONAL : CHG_PR_REQUIRED, n->span);
        n->count = (uint32_t)nodes.len - n->first;
        if (!n->count)
            n->first = 0;
    }
    for (size_t i = 0; i < nodes.len; i++) {
        const snode *n = nodes.items[i];
        uint32_t enm = CHG_NONE32;
        if (n->type->kind == T_ENUM)
            enm = enum_values(g, n->type);
        uint32_t name = n->name ? str(g, n->name) : CHG_NONE32;
        uint32_t span = span_of(g, n->span);
        chg_rec_SCHEMA *r = rec(g, CHG_SEC_SCHEMA);
        if (!r)
            break;
        *r = (chg_rec_SCHEMA){.type = type_code(n->type),
                              .need = n->need,
                              .flags = n->type->kind == T_OBJECT && c->schema->u.schema.strict ? CHG_SF_STRICT : 0,
                              .name = name,
                              .enm = enm,
                              .first = n->first,
                              .count = n->count,
                              .span = span};
        CHG_ASSERT(r->type != CHG_PT_ANY); /* a schema names types; errors stop the emit */
    }
    chg_vec_free(&nodes);
}

/* An approval requirement's nodes, operands first; returns its root. The
 * requirement's shape was checked against what the evaluator can handle
 * (check_areq_size), so the recursion is bounded and every count is an
 * integer literal (the parser only accepts those). */
static uint32_t emit_areq(gen *g, const chg_areq *q)
{
    uint32_t a = CHG_NONE32, b = CHG_NONE32;
    if (q->kind == AR_AND || q->kind == AR_OR) {
        a = emit_areq(g, q->u.bin.a);
        b = emit_areq(g, q->u.bin.b);
    }
    uint32_t people = CHG_NONE32;
    if (q->kind == AR_PEOPLE) {
        uint32_t n = q->u.term.npeople;
        uint32_t *items = chg_arena_alloc(g->a, sizeof *items * (n + 1));
        if (!items)
            return 0;
        for (uint32_t i = 0; i < n; i++)
            items[i] = str(g, q->u.term.people[i].name);
        people = k_strings(g, items, n);
    }
    static const uint8_t kinds[] = {[AR_NONE] = CHG_AR_NONE, [AR_GROUP] = CHG_AR_GROUP, [AR_ANY] = CHG_AR_ANY,
                                    [AR_PEOPLE] = CHG_AR_PEOPLE, [AR_AND] = CHG_AR_AND, [AR_OR] = CHG_AR_OR};
    bool term = q->kind == AR_GROUP || q->kind == AR_ANY || q->kind == AR_PEOPLE;
    bool within = term && q->u.term.within;
    uint32_t group = q->kind == AR_GROUP ? str(g, q->u.term.group.name) : CHG_NONE32;
    uint32_t within_text = within ? str(g, chg_c_span_text(g->c, q->u.term.within->span)) : CHG_NONE32;
    chg_rec_AREQS *r = rec(g, CHG_SEC_AREQS);
    if (!r)
        return 0;
    *r = (chg_rec_AREQS){.kind = kinds[q->kind],
                         .including = term && q->u.term.requester_counts,
                         .count = term ? (uint32_t)q->u.term.count->u.i : 0,
                         .group = group,
                         .people = people,
                         .within = within ? q->u.term.within->u.i : 0,
                         .a = a,
                         .b = b,
                         .within_text = within_text};
    return g->n[CHG_SEC_AREQS] - 1;
}

/* The classes rule d applies to, as runs (applies.c); returns how many. */
static uint32_t emit_applies(gen *g, const chg_decl *d)
{
    /* a run per class at most, and no more than the analysis makes */
    size_t max = g->c->risk && g->c->risk->u.risk.n ? g->c->risk->u.risk.n : 1;
    if (max > CHG_C_APPLIES_MAX_RUNS)
        max = CHG_C_APPLIES_MAX_RUNS;
    if (!g->runs && !(g->runs = chg_arena_alloc(g->a, max * sizeof *g->runs))) {
        chg_c_nomem(g->c);
        return 0;
    }
    chg_c_applies_run *v = g->runs;
    size_t n = chg_c_rule_applies_runs(g->c, d, v, max);
    for (size_t i = 0; i < n; i++) {
        chg_rec_APPLIES *r = rec(g, CHG_SEC_APPLIES);
        if (!r)
            return (uint32_t)i;
        *r = (chg_rec_APPLIES){.from_class = v[i].from_class, .how = v[i].how};
    }
    return (uint32_t)n;
}

/* Rules in declaration order, which is the order the decision reports
 * them in. A `deny during` list names time sets by index: a reference uses
 * its declaration's, an inline set gets a hidden declaration and its own
 * TIMESETS record ("rule#1"), numbered after the declared ones. */
static void emit_rules(gen *g)
{
    chg_compiler *c = g->c;
    for (size_t i = 0; i < c->all_decls.len; i++) {
        chg_decl *d = c->all_decls.items[i];
        if (d->kind != D_RULE)
            continue;
        uint32_t when = d->u.rule.when ? expr_block(g, d->u.rule.when, false) : CHG_NONE32;
        uint32_t msg = CHG_NONE32;
        if (d->u.rule.message)
            msg = expr_block(g, d->u.rule.message, false);
        uint32_t during_first = g->n[CHG_SEC_DURING];
        for (uint32_t k = 0; k < d->u.rule.nduring; k++) {
            chg_tsexpr *t = d->u.rule.during[k];
            chg_rec_DURING *r = rec(g, CHG_SEC_DURING);
            if (!r)
                return;
            uint32_t index;
            if (t->kind == TS_REF && t->u.ref.decl) {
                CHG_ASSERT(t->u.ref.decl->index >= 0);
                index = (uint32_t)t->u.ref.decl->index;
            }
            else {
                /* an inline time set: give it a hidden declaration */
                chg_decl *hd = chg_c_ast_decl(g->a, D_FREEZE, t->span);
                hd->name.name = chg_arena_printf(g->a, "%s#%u", d->name.name, k + 1);
                hd->u.timeset.ts = t;
                hd->index = (int)g->n[CHG_SEC_TIMESETS];
                emit_timeset(g, hd, true);
                index = (uint32_t)hd->index;
            }
            r->set = index; /* emit_timeset adds no DURING record: r is valid */
        }
        uint32_t name = str(g, d->name.name);
        uint8_t action = CHG_RA_DENY;
        switch (d->u.rule.action) {
        case RA_WARN: action = CHG_RA_WARN; break;
        case RA_REQUIRE_WINDOW: action = CHG_RA_WINDOW; break;
        case RA_REQUIRE_APPROVAL: action = CHG_RA_APPROVAL; break;
        default: action = CHG_RA_DENY;
        }
        uint32_t span = span_of(g, d->name.span);
        uint32_t req = CHG_NONE32;
        if (d->u.rule.action == RA_REQUIRE_APPROVAL && d->u.rule.req)
            req = emit_areq(g, d->u.rule.req);
        uint32_t applies_first = g->n[CHG_SEC_APPLIES];
        uint32_t applies_count = emit_applies(g, d);
        chg_rec_RULES *r = rec(g, CHG_SEC_RULES);
        if (!r)
            return;
        *r = (chg_rec_RULES){.name = name,
                             .applies_first = applies_first,
                             .applies_count = applies_count,
                             .level = (uint8_t)d->u.rule.level,
                             .action = action,
                             .when = when,
                             .msg = msg,
                             .window = d->u.rule.window_decl ? (uint32_t)d->u.rule.window_decl->index : CHG_NONE32,
                             .during_first = during_first,
                             .during_count = d->u.rule.nduring,
                             .span = span,
                             .req = req};
    }
}

/* ---- approvals, actions, intakes ----------------------------------------------------- */

/* The approvals of a change: path nodes whose layout puts by, group, at
 * and decision first, as the evaluator expects. Returns the list node. */
static int approvals_path(gen *g)
{
    int list = child(g, 0, "approvals");
    int elem = elem_of(g, list);
    pnode *l = path_node(g, list);
    if (l->layout < 0)
        l->layout = layout_new(g);
    static const char *const fields[] = {"by", "group", "at", "decision"};
    for (int i = 0; i < 4; i++) {
        int f = child(g, elem, fields[i]);
        layout_field(g, l->layout, path_node(g, f)->text, f);
    }
    l = path_node(g, list);
    if (l->slot < 0)
        l->slot = new_slot(g, 0, l);
    return list;
}

/* A slot for path node n even when no block reads it: the decision
 * procedure itself reads the approvals, the requester, `emergency` and the
 * change's id. */
static int slot_of_path(gen *g, int n)
{
    pnode *p = path_node(g, n);
    if (p->slot < 0)
        p->slot = new_slot(g, 0, p);
    return p->slot;
}

/* A call's parameter names, from the signature in its doc line
 * ("aws.sns.publish(topic_arn, message[, subject]): …"), as a LIST
 * constant of strings. */
static uint32_t param_names(gen *g, const chg_builtin *b, uint32_t nargs)
{
    uint32_t *items = chg_arena_alloc(g->a, sizeof *items * (nargs + 1));
    if (!items)
        return 0;
    const char *p = b ? strchr(b->doc, '(') : NULL;
    if (p)
        p++;
    for (uint32_t i = 0; i < nargs; i++) {
        /* the next name of the signature, or argN past its end */
        while (p && (*p == ' ' || *p == '[' || *p == ',' || *p == ']'))
            p++;
        const char *start = p;
        while (p && *p && *p != ',' && *p != ')' && *p != '[' && *p != ']' && *p != ' ')
            p++;
        if (p && p > start)
            items[i] = str_n(g, start, (size_t)(p - start));
        else {
            char fallback[24];
            snprintf(fallback, sizeof fallback, "arg%u", i + 1);
            items[i] = str(g, fallback);
            p = NULL;
        }
    }
    return k_strings(g, items, nargs);
}

/* `on OUTCOME [when C] do call, …`: each call's arguments are one block
 * that builds them as a list, so the driver gets (name, argument list,
 * parameter names) to run or print without evaluating anything itself.
 * Actions run after the decision; they never influence it. */
static void emit_actions(gen *g)
{
    chg_compiler *c = g->c;
    for (size_t i = 0; i < c->all_decls.len; i++) {
        chg_decl *d = c->all_decls.items[i];
        if (d->kind != D_ON)
            continue;
        static const char *const outcomes[] = {"allow", "pending", "defer", "deny", "error", "emergency"};
        uint8_t outcome = 0;
        for (uint8_t k = 0; k < 6; k++)
            if (strcmp(d->u.on.outcome.name, outcomes[k]) == 0)
                outcome = k;
        uint32_t when = d->u.on.when ? expr_block(g, d->u.on.when, false) : CHG_NONE32;
        uint32_t first = g->n[CHG_SEC_CALLS];
        for (uint32_t k = 0; k < d->u.on.ncalls; k++) {
            const chg_expr *call = d->u.on.calls[k];
            if (call->kind != EX_CALL) {
                g->failed = true;
                return;
            }
            /* the arguments as one list */
            block_begin(g, call->span);
            int dst = tmp(g);
            int base = g->top;
            for (uint32_t q = 0; q < call->u.call.nargs; q++)
                tmp(g);
            gen_args(g, call->u.call.args, call->u.call.nargs, base, call->u.call.builtin);
            emit(g, CHG_OP_LIST, (uint8_t)call->u.call.nargs, (uint32_t)dst, (uint32_t)base, 0);
            emit(g, CHG_OP_RET, 0, (uint32_t)dst, 0, 0);
            uint32_t args = block_end(g, CHG_B_EXPR, 0);
            if (g->max > g->expr_max)
                g->expr_max = g->max;
            if (chg_vec_push(&g->blocks_fix, (void *)(uintptr_t)args) != CHG_OK)
                chg_c_nomem(g->c);
            uint32_t params = param_names(g, call->u.call.builtin, call->u.call.nargs);
            uint32_t name = str(g, call->u.call.name), span = span_of(g, call->span);
            chg_rec_CALLS *r = rec(g, CHG_SEC_CALLS);
            if (!r)
                return;
            *r = (chg_rec_CALLS){.name = name, .args = args, .params = params, .span = span};
        }
        chg_rec_ACTIONS *r = rec(g, CHG_SEC_ACTIONS);
        if (!r)
            return;
        *r = (chg_rec_ACTIONS){.outcome = outcome, .when = when, .first = first, .count = g->n[CHG_SEC_CALLS] - first};
    }
}

/* Intakes: a condition on the raw event and one block per field of the
 * change it builds. A field the schema types as an instant is compiled
 * with a TOTIME, as event data is JSON text. */
static void emit_intakes(gen *g)
{
    chg_compiler *c = g->c;
    for (size_t i = 0; i < c->all_decls.len; i++) {
        chg_decl *d = c->all_decls.items[i];
        if (d->kind != D_INTAKE)
            continue;
        uint32_t when = d->u.intake.when ? expr_block(g, d->u.intake.when, false) : CHG_NONE32;
        uint32_t first = g->n[CHG_SEC_IFIELDS];
        for (uint32_t k = 0; k < d->u.intake.n; k++) {
            const chg_object_field *f = &d->u.intake.fields[k];
            /* a field the schema types as an instant converts from text */
            const chg_type_field *tf =
                c->change_type ? chg_c_type_field_find(chg_c_type_strip(c->change_type), f->key.name) : NULL;
            bool as_time = tf && chg_c_type_strip(tf->type)->kind == T_TIME;
            uint32_t blk = expr_block(g, f->value, as_time);
            uint32_t name = str(g, f->key.name);
            chg_rec_IFIELDS *r = rec(g, CHG_SEC_IFIELDS);
            if (!r)
                return;
            *r = (chg_rec_IFIELDS){.name = name, .block = blk};
        }
        uint32_t name = str(g, d->name.name);
        chg_rec_INTAKES *r = rec(g, CHG_SEC_INTAKES);
        if (!r)
            return;
        *r = (chg_rec_INTAKES){.name = name, .when = when, .first = first, .count = g->n[CHG_SEC_IFIELDS] - first};
    }
}

/* The path node of each limit's `per` field, so its schema default (if
 * any) is in the bundle even when no rule reads the field: the planner
 * groups a change that leaves it out with the default's
 * (chg_bundle_concurrency_default). The node gets no slot: nothing
 * decodes it. */
static void concurrency_paths(gen *g)
{
    chg_compiler *c = g->c;
    for (size_t i = 0; i < c->all_decls.len; i++) {
        chg_decl *d = c->all_decls.items[i];
        if (d->kind != D_CONCURRENCY || !d->u.concurrency.path)
            continue;
        int n = 0; /* the change's root */
        for (const char *p = d->u.concurrency.path; n >= 0 && *p;) {
            const char *dot = strchr(p, '.');
            size_t len = dot ? (size_t)(dot - p) : strlen(p);
            const char *name = chg_arena_printf(g->a, "%.*s", (int)len, p);
            n = name ? child(g, n, name) : -1;
            p += len + (dot ? 1 : 0);
        }
    }
}

/* Concurrency limits: what the checker resolved (the risk class's rank,
 * the field path), for chg_concurrency_check. */
static void emit_concurrency(gen *g)
{
    chg_compiler *c = g->c;
    for (size_t i = 0; i < c->all_decls.len; i++) {
        chg_decl *d = c->all_decls.items[i];
        if (d->kind != D_CONCURRENCY)
            continue;
        uint32_t name = str(g, d->name.name);
        uint32_t per = d->u.concurrency.path ? str(g, d->u.concurrency.path) : CHG_NONE32;
        uint32_t span = span_of(g, d->name.span);
        chg_rec_CONCUR *r = rec(g, CHG_SEC_CONCUR);
        if (!r)
            return;
        *r = (chg_rec_CONCUR){.name = name,
                              .max = (uint32_t)d->u.concurrency.max,
                              .min_risk = d->u.concurrency.risk_index < 0 ? CHG_NONE32
                                                                         : (uint32_t)d->u.concurrency.risk_index,
                              .per = per,
                              .span = span};
    }
}

/* Serialize all sections with the header and hash: the header, the
 * section directory (id, offset, size), then each section as its record
 * count and records. The SHA-256 covers everything after the header, so
 * chg_bundle_load rejects any byte changed after compilation before it
 * starts verifying. */
/* The bytes of section s: its records, encoded by the field table, and
 * for STRINGS the blob after them. */
static size_t sec_bytes(gen *g, int s)
{
    return (size_t)g->n[s] * sec_info(s)->size + (s == CHG_SEC_STRINGS ? g->blob.len : 0);
}

static void write_section(gen *g, int s, chg_buf *out)
{
    uint8_t w[4], rec_bytes[128]; /* the largest record, TSNODES, has 88 */
    chg_wr32(w, g->n[s]);
    chg_buf_append(out, w, 4);
    for (uint32_t i = 0; i < g->n[s]; i++) {
        memset(rec_bytes, 0, sizeof rec_bytes);
        chg_rec_encode(s, rec_at(g, s, i), rec_bytes);
        chg_buf_append(out, rec_bytes, sec_info(s)->size);
    }
    if (s == CHG_SEC_STRINGS)
        chg_buf_append(out, g->blob.data ? g->blob.data : "", g->blob.len);
}

static int finish(gen *g, chg_buf *out)
{
    uint32_t nsec = CHG_SEC__MAX - 1;
    size_t total = CHG_HDR_TABLE + (size_t)CHG_SECTAB_ENTRY * nsec;
    for (int s = 1; s < CHG_SEC__MAX; s++)
        total += 4 + sec_bytes(g, s);
    if (total > CHG_BUNDLE_MAX) {
        /* the whole program is too large: reported at the start of its first file */
        uint32_t root = g->c->roots.len ? (uint32_t)(uintptr_t)g->c->roots.items[0] : 0;
        limit(g, 0, CHG_D_E0608, (chg_span){root, 0, 0}, num(g, total), num(g, CHG_BUNDLE_MAX), NULL, NULL, NULL);
        return CHG_ERANGE;
    }
    uint8_t head[CHG_HDR_TABLE] = {0};
    memcpy(head, CHG_BUNDLE_MAGIC, 8);
    chg_wr32(head + CHG_HDR_VERSION, CHG_BUNDLE_VERSION);
    chg_wr32(head + CHG_HDR_LENGTH, (uint32_t)total);
    snprintf((char *)head + CHG_HDR_COMPILER, 16, "%s", CHG_VERSION_STRING);
    chg_wr32(head + CHG_HDR_NSECTIONS, nsec);
    size_t start = out->len;
    chg_buf_append(out, head, sizeof head);
    uint32_t off = CHG_HDR_TABLE + CHG_SECTAB_ENTRY * nsec;
    for (int s = 1; s < CHG_SEC__MAX; s++) {
        uint8_t e[CHG_SECTAB_ENTRY];
        chg_wr32(e + CHG_SECTAB_ID, (uint32_t)s);
        chg_wr32(e + CHG_SECTAB_OFF, off);
        chg_wr32(e + CHG_SECTAB_LEN, (uint32_t)(4 + sec_bytes(g, s)));
        chg_buf_append(out, e, sizeof e);
        off += (uint32_t)(4 + sec_bytes(g, s));
    }
    for (int s = 1; s < CHG_SEC__MAX; s++)
        write_section(g, s, out);
    if (out->oom)
        return CHG_ENOMEM;
    unsigned int hl = 0;
    EVP_Digest(out->data + start + CHG_BUNDLE_HEADER, out->len - start - CHG_BUNDLE_HEADER,
               (unsigned char *)out->data + start + CHG_HDR_HASH, &hl, EVP_sha256(), NULL);
    return CHG_OK;
}

/* The order matters in three places. Path nodes 0 and 1 are the roots,
 * made first. The approvals' paths come next so their layout starts with
 * the four fields the evaluator reads by position. Lets and time sets are
 * numbered before any block is compiled, as a block may name any of them
 * (LET, INSET) whatever the declaration order. Expression blocks are
 * relocated only after the last let is compiled (their base is the lets'
 * total width), and the paths are written only after the last block. */
static int generate(chg_compiler *c, chg_buf *out)
{
    gen gg;
    gen *g = &gg;
    memset(g, 0, sizeof *g);
    g->c = c;
    g->a = &c->arena;
    g->spare = (pnode){.parent = -1, .kind = CHG_PN_ROOT_CHANGE, .type = &chg_c_type_any,
                       .slot = -1, .layout = -1, .elem = -1, .text = "change"};
    node_new(g, -1, NULL, CHG_PN_ROOT_CHANGE, c->change_type);
    node_new(g, -1, NULL, CHG_PN_ROOT_EVENT, &chg_c_type_any);
    path_node(g, 0)->need = CHG_PR_REQUIRED;

    /* the approvals' paths come first, so their layout starts with the
     * fields the evaluator reads (by, group, at, decision) */
    uint32_t approvals_slot = CHG_NONE32, requester_slot = CHG_NONE32, emergency_slot = CHG_NONE32,
             approvals_layout = CHG_NONE32;
    if (c->uses_approvals) {
        int list = approvals_path(g);
        approvals_slot = (uint32_t)slot_of_path(g, list);
        approvals_layout = (uint32_t)path_node(g, list)->layout;
        requester_slot = (uint32_t)slot_of_path(g, child(g, child(g, 0, "requester"), "name"));
    }

    /* number the lets and time sets */
    uint32_t nlets = 0, nts = 0;
    for (size_t i = 0; i < c->all_decls.len; i++) {
        chg_decl *d = c->all_decls.items[i];
        if (d->kind == D_LET)
            d->index = (int)nlets++;
        else if (d->kind == D_WINDOW || d->kind == D_FREEZE)
            d->index = (int)nts++;
    }
    for (size_t i = 0; i < c->all_decls.len; i++) {
        chg_decl *d = c->all_decls.items[i];
        if (d->kind == D_WINDOW || d->kind == D_FREEZE)
            emit_timeset(g, d, false);
    }
    /* lets first: each gets its own register window */
    for (size_t i = 0; i < c->all_decls.len; i++) {
        chg_decl *d = c->all_decls.items[i];
        if (d->kind != D_LET)
            continue;
        block_begin(g, d->u.let.expr->span);
        int r = tmp(g);
        gen_expr(g, d->u.let.expr, r);
        emit(g, CHG_OP_RET, 0, (uint32_t)r, 0, 0);
        uint32_t b = block_end(g, CHG_B_LET, g->let_regs);
        g->let_regs += (uint32_t)g->max;
        uint32_t name = str(g, d->name.name);
        chg_rec_LETS *lr = rec(g, CHG_SEC_LETS);
        if (lr)
            *lr = (chg_rec_LETS){.name = name, .block = b};
    }
    uint32_t at_block = c->at ? expr_block(g, c->at->u.at.expr, true) : CHG_NONE32;
    if (c->risk)
        for (uint32_t k = 0; k < c->risk->u.risk.n; k++) {
            uint32_t name = str(g, c->risk->u.risk.classes[k].name);
            uint32_t span = span_of(g, c->risk->u.risk.classes[k].span);
            chg_rec_RISKS *r = rec(g, CHG_SEC_RISKS);
            if (!r)
                break;
            *r = (chg_rec_RISKS){.name = name, .span = span};
        }
    if (c->classify)
        for (uint32_t k = 0; k < c->classify->u.classify.n; k++) {
            chg_classify_arm *arm = &c->classify->u.classify.arms[k];
            uint32_t cond = arm->cond ? expr_block(g, arm->cond, false) : CHG_NONE32;
            uint32_t span = span_of(g, arm->span);
            chg_rec_ARMS *r = rec(g, CHG_SEC_ARMS);
            if (!r)
                break;
            *r = (chg_rec_ARMS){.cond = cond, .cls = (uint32_t)arm->risk_index, .span = span};
            if (arm->is_default)
                break;
        }
    /* approvals: the entries per class */
    if (c->approvals)
        for (uint32_t k = 0; k < c->approvals->u.approvals.n; k++) {
            chg_approval_entry *e = &c->approvals->u.approvals.entries[k];
            uint32_t root = emit_areq(g, e->req);
            chg_rec_APPROVALS *r = rec(g, CHG_SEC_APPROVALS);
            if (!r)
                break;
            *r = (chg_rec_APPROVALS){.cls = e->is_emergency ? CHG_NONE32 : (uint32_t)e->risk_index, .req = root};
        }
    if (c->has_emergency)
        emergency_slot = (uint32_t)slot_of_path(g, child(g, 0, "emergency"));
    emit_rules(g);
    emit_actions(g);
    emit_intakes(g);

    /* the change's id, for decisions (made here, after every block, so it
     * costs a slot only once) */
    int idnode = child(g, 0, "id");
    pnode *idn = path_node(g, idnode);
    if (idn->slot < 0)
        idn->slot = new_slot(g, 0, idn); /* kept for it: never past the limit */

    /* expression blocks share one window after the lets: relocate their
     * registers now that let_regs is final (lets were relocated already) */
    for (size_t i = 0; i < g->blocks_fix.len; i++) {
        chg_rec_BLOCKS *r = rec_at(g, CHG_SEC_BLOCKS, (uint32_t)(uintptr_t)g->blocks_fix.items[i]);
        if (!r)
            continue; /* block_end ran out of memory: the emit fails */
        r->reg_base = (uint16_t)g->let_regs;
        relocate(g, r->start, r->start + r->len, g->let_regs);
    }
    concurrency_paths(g);
    emit_paths(g);
    emit_schema(g);
    emit_concurrency(g);

    /* the budgets a `limits` declaration set, the defaults for the rest;
     * without one the section is empty and the VM's defaults apply */
    if (c->limit[0] || c->limit[1] || c->limit[2]) {
        chg_rec_LIMITS *l = rec(g, CHG_SEC_LIMITS);
        if (l) {
            l->steps = c->limit[0] ? c->limit[0] : CHG_DEFAULT_STEPS;
            l->regex_steps = c->limit[1] ? c->limit[1] : CHG_DEFAULT_REGEX_STEPS;
            l->scratch = c->limit[2] ? c->limit[2] : CHG_DEFAULT_SCRATCH;
        }
    }

    const char *pname = "policy";
    if (c->policy)
        pname = c->policy->name.name;
    else if (c->roots.len) {
        const chg_source *root = chg_compiler_source(c, (uint32_t)(uintptr_t)c->roots.items[0]);
        const char *slash = strrchr(root->path, '/');
        const char *base = slash ? slash + 1 : root->path;
        const char *dot = strrchr(base, '.');
        pname = chg_arena_strndup(g->a, base, dot ? (size_t)(dot - base) : strlen(base));
    }
    uint32_t total_regs = g->let_regs + (uint32_t)g->expr_max;
    uint32_t name = str(g, pname);
    uint32_t version = str(g, c->policy && c->policy->u.policy.version.name ? c->policy->u.policy.version.name : "");
    chg_rec_META *m = rec(g, CHG_SEC_META);
    if (m)
        *m = (chg_rec_META){.name = name,
                            .version = version,
                            .at_block = at_block,
                            .nregs = total_regs ? total_regs : 1,
                            .nslots_change = (uint32_t)g->nslots[0],
                            .nslots_event = (uint32_t)g->nslots[1],
                            .id_slot = (uint32_t)idn->slot,
                            .flags = (c->schema ? 1u : 0u) | (c->approvals ? 2u : 0u),
                            .approvals_slot = approvals_slot,
                            .requester_slot = requester_slot,
                            .emergency_slot = emergency_slot,
                            .approvals_layout = approvals_layout};
    /* A section that ran out of memory is cut short, and a failed map or
     * vector push loses a string or a node: never emit such a bundle. */
    bool oom = g->blob.oom || chg_c_status(c) != CHG_OK;
    for (int s = 0; s < CHG_SEC__MAX; s++)
        oom |= g->sec[s].oom;
    /* every block's window was checked to end within CHG_MAX_OPERAND */
    CHG_ASSERT(total_regs <= CHG_MAX_OPERAND || g->limited || g->failed);
    int rc;
    if (oom)
        rc = chg_c_nomem(c);
    else if (g->limited)
        rc = CHG_ERANGE; /* each limit has its own diagnostic, with its place */
    else if (g->failed)
        rc = CHG_EINTERNAL; /* what no limit explains: a checker bug */
    else
        rc = finish(g, out);
    for (int s = 0; s < CHG_SEC__MAX; s++)
        chg_buf_free(&g->sec[s]);
    chg_buf_free(&g->blob);
    chg_c_map_free(&g->strs);
    chg_c_map_free(&g->consts);
    chg_c_map_free(&g->regexes);
    chg_c_map_free(&g->zones);
    chg_c_map_free(&g->builtins);
    chg_c_map_free(&g->spans);
    chg_c_map_free(&g->pathmap);
    chg_vec_free(&g->nodes);
    chg_vec_free(&g->blocks_fix);
    for (size_t i = 0; i < g->layouts.len; i++) {
        glayout *l = g->layouts.items[i];
        chg_vec_free(&l->names);
        chg_vec_free(&l->nodes);
    }
    chg_vec_free(&g->layouts);
    return rc;
}

/* The check's run (compile.c): the bundle is generated once, into
 * c->bundle, and every limit it meets is a diagnostic of the check. */
int chg_c_codegen(chg_compiler *c)
{
    chg_buf_reset(&c->bundle);
    c->generated = false;
    int rc = generate(c, &c->bundle);
    if (rc == CHG_OK && c->bundle.oom)
        rc = chg_c_nomem(c);
    c->generated = rc == CHG_OK;
    return rc == CHG_ERANGE ? CHG_OK : rc; /* the diagnostics say which limit */
}

int chg_compiler_emit(chg_compiler *c, chg_buf *out)
{
    if (chg_c_status(c) != CHG_OK)
        return CHG_ENOMEM;
    if (c->nerrors)
        return CHG_EINVAL;
    if (c->generated) { /* the check generated it */
        chg_buf_append(out, c->bundle.data, c->bundle.len);
        return out->oom ? CHG_ENOMEM : CHG_OK;
    }
    return generate(c, out);
}
