/*
 * bundle_format.h — the .chgb file format: one definition shared by the
 * compiler's writer (compiler/codegen.c) and the loader (vm/bundle.c).
 *
 * All integers are little-endian. A bundle is:
 *
 *   offset  size  field
 *   0       8     magic "CHGB\r\n\x1a\n" (catches text-mode mangling)
 *   8       4     format version (CHG_BUNDLE_VERSION)
 *   12      4     total length in bytes
 *   16      16    compiler version, NUL-padded
 *   32      32    SHA-256 of bytes [64, total length)
 *   64      4     number of sections N
 *   68      12*N  section table: {u32 id, u32 offset, u32 length}
 *   …             section contents (each starts with a u32 record count,
 *                 then fixed-size records, then — for STRINGS — the blob)
 *
 * Sections may come in any order; each id at most once. The loader checks
 * every offset, count, index and jump before anything runs.
 */
#ifndef CHG_BUNDLE_FORMAT_H
#define CHG_BUNDLE_FORMAT_H

#include <stdint.h>
#include <string.h>

#define CHG_BUNDLE_MAGIC "CHGB\r\n\x1a\n"
#define CHG_BUNDLE_VERSION 4 /* 2: approvals, actions, intakes; 3: time sets
                                carry their text and kind (listings); 4: the
                                SCHEMA section (whole-change validation) */
#define CHG_BUNDLE_HEADER 64
#define CHG_NONE32 0xffffffffu
#define CHG_NONE16 0xffffu

/* Section ids and the size of one record in each. */
#define CHG_SECTIONS(X)                                                                   \
    X(META, 1, 48)        /* one record: policy-wide facts, below */                     \
    X(STRINGS, 2, 8)      /* {u32 off, u32 len} into the blob after the records; each   \
                             string is NUL-terminated in the blob */                     \
    X(CONSTS, 3, 16)      /* {u8 tag, u8 0, u16 0, u32 a, u64 payload} */               \
    X(CODE, 4, 8)         /* instructions, see opcodes.def */                            \
    X(BLOCKS, 5, 16)      /* {u32 start, u32 len, u16 reg_base, u16 nregs, u8 kind, 3 0} */ \
    X(SPANS, 6, 12)       /* {u32 file (string), u32 line, u32 column} */               \
    X(INSSPAN, 7, 4)      /* one u32 span index per instruction */                       \
    X(PATHS, 8, 32)       /* path nodes, below */                                        \
    X(LAYOUTS, 9, 8)      /* {u32 first field, u32 count} */                             \
    X(LFIELDS, 10, 8)     /* {u32 name (string), u32 path node or NONE} */               \
    X(RISKS, 11, 4)       /* {u32 name} lowest first */                                  \
    X(ARMS, 12, 12)       /* {u32 cond block or NONE, u32 class, u32 span} */            \
    X(LETS, 13, 8)        /* {u32 name, u32 block} */                                    \
    X(RULES, 14, 36)      /* rules, below */                                             \
    X(DURING, 15, 4)      /* {u32 time set} lists referenced by rules */                 \
    X(TIMESETS, 16, 20)   /* {u32 name, u32 kind (CHG_SET_*), u32 first node, u32 node   \
                             count, u32 text (string: as written, for listings)};  \
                             the root is the last node */                             \
    X(TSNODES, 17, 72)    /* time-set nodes, below */                                    \
    X(REGEXES, 18, 4)     /* {u32 pattern (string)} */                                   \
    X(ZONES, 19, 4)       /* {u32 name (string)} */                                      \
    X(BUILTINS, 20, 4)    /* {u32 name (string)}: bound to implementations by name */ \
    X(AREQS, 21, 36)      /* approval requirement nodes, below */                        \
    X(APPROVALS, 22, 8)   /* {u32 risk class or NONE (emergency), u32 AREQS root} */     \
    X(ACTIONS, 23, 16)    /* {u8 outcome (chg_outcome, 5 = emergency), 3 0, u32 when     \
                             block or NONE, u32 first CALLS, u32 count} */               \
    X(CALLS, 24, 16)      /* {u32 action name (string), u32 args block (a LIST), u32     \
                             parameter names (LIST constant of strings), u32 span} */    \
    X(INTAKES, 25, 16)    /* {u32 name, u32 when block or NONE, u32 first IFIELDS, u32   \
                             count} */                                                   \
    X(IFIELDS, 26, 8)     /* {u32 field name (string), u32 block} */                    \
    X(SCHEMA, 27, 24)     /* the declared schema as a tree, below; empty without one */

enum chg_section_id {
#define CHG_SEC_ENUM(name, id, size) CHG_SEC_##name = id,
    CHG_SECTIONS(CHG_SEC_ENUM)
#undef CHG_SEC_ENUM
    CHG_SEC__MAX = 28
};

/* META record (48 bytes):
 *   u32 policy name (string), u32 version (string), u32 at block or NONE,
 *   u32 registers, u32 change slots, u32 event slots, u32 change id slot or
 *   NONE, u32 flags (bit 0: has schema, bit 1: has an approvals block),
 *   u32 approvals slot (change.approvals) or NONE, u32 requester slot
 *   (change.requester.name) or NONE, u32 emergency slot (change.emergency)
 *   or NONE, u32 approvals layout (fields by, group, at, decision in that
 *   order) or NONE */

/* Constant tags (CONSTS.tag): a = string index (STR), element count (LIST;
 * the elements are the `a` constants just before it). */
enum {
    CHG_K_NULL = 0,
    CHG_K_BOOL = 1,
    CHG_K_INT = 2,
    CHG_K_FLOAT = 3,
    CHG_K_STR = 4,
    CHG_K_TIME = 5,
    CHG_K_DUR = 6,
    CHG_K_RISK = 7,
    CHG_K_LIST = 8
};

/* Block kinds. */
enum {
    CHG_B_EXPR = 0,   /* an expression: at, conditions, messages, arguments */
    CHG_B_LET = 1     /* a let: its register window is its own */
};

/* PATHS record (32 bytes): how the decoder finds and converts a value.
 *   u8 kind (CHG_PN_*), u8 type (CHG_PT_*), u8 need (CHG_PR_*), u8 0,
 *   u32 parent (node; NONE for roots), u32 name (string; NONE for roots and
 *   elements), u32 default (constant or NONE), u32 enum (LIST constant of
 *   the allowed strings, or NONE), u16 slot (or NONE16: not loaded
 *   directly), u16 layout (elements of this list are records of it, or
 *   NONE16), u32 text (string: "change.approvals[].group", for messages),
 *   u32 0 */
enum { CHG_PN_ROOT_CHANGE = 0, CHG_PN_ROOT_EVENT = 1, CHG_PN_KEY = 2, CHG_PN_ELEM = 3 };
enum {
    CHG_PT_ANY = 0,
    CHG_PT_BOOL,
    CHG_PT_INT,
    CHG_PT_FLOAT,
    CHG_PT_STR,
    CHG_PT_TIME,
    CHG_PT_DUR,
    CHG_PT_ENUM,
    CHG_PT_LIST,
    CHG_PT_OBJECT
};
enum { CHG_PR_REQUIRED = 0, CHG_PR_OPTIONAL = 1, CHG_PR_DEFAULT = 2 };

/* SCHEMA record (24 bytes): one node of the declared schema, which the
 * decoder checks the whole change against before any rule runs (the PATHS
 * table holds only what the policy reads; this holds everything declared).
 *   u8 type (CHG_PT_*, never ANY), u8 need (CHG_PR_*), u8 flags
 *   (CHG_SF_*), u8 0, u32 name (string; NONE for node 0 and for list
 *   elements), u32 enum (LIST constant of the allowed strings for an ENUM,
 *   else NONE), u32 first child, u32 child count, u32 span (the
 *   declaration's source position, or NONE)
 * Node 0 is the change itself (an OBJECT, required). An OBJECT's children
 * are its fields in declaration order, a LIST's one child is its element,
 * other types have none. Children come after their parent (first child >
 * own index) and every node but 0 is the child of exactly one node, so the
 * nodes form one tree, at most CHG_SCHEMA_MAX_DEPTH deep. */
enum { CHG_SF_STRICT = 1 /* fields this object does not declare are errors, not warnings */ };
#define CHG_SCHEMA_MAX_DEPTH 300 /* above the parser's bracket limit (256) */

/* RULES record (36 bytes):
 *   u32 name, u8 level (0 mandatory, 1 overridable, 2 advisory), u8 action
 *   (CHG_RA_*), u16 0, u32 when block or NONE, u32 message block or NONE,
 *   u32 window (time set) or NONE, u32 first DURING, u32 DURING count,
 *   u32 span, u32 approval requirement (AREQS root) or NONE */

/* AREQS record (36 bytes): u8 kind (CHG_AR_*), u8 including requester,
 *   u16 0, u32 count, u32 group (string) or NONE, u32 people (LIST
 *   constant of strings) or NONE, i64 within (seconds, 0: any age), u32 a,
 *   u32 b (operands of AND/OR: earlier nodes), u32 within as written
 *   ("72h", a string) or NONE */
enum { CHG_AR_NONE = 0, CHG_AR_GROUP, CHG_AR_ANY, CHG_AR_PEOPLE, CHG_AR_AND, CHG_AR_OR };
enum { CHG_RA_DENY = 0, CHG_RA_WARN = 1, CHG_RA_WINDOW = 2, CHG_RA_APPROVAL = 3 };

/* The most nodes one time set may have, references written out: the
 * loader refuses more, so the compiler reports a set that would have more
 * (E0410) and its flattening stops there. */
#define CHG_TS_MAX_NODES 4096

/* TIMESETS kinds: a declared window or freeze, or the set written inside
 * a `deny during` rule (named "rule#k"; a freeze that only its rule uses). */
enum { CHG_SET_WINDOW = 0, CHG_SET_FREEZE = 1, CHG_SET_INLINE = 2 };

/* TSNODES record (72 bytes), mirroring chg_ts_node of chg_time.h:
 *   u8 op (chg_ts_op), u8 days, u8 from_local, u8 to_local, u32 zone
 *   (string or NONE), u32 text (string: cron expression, ics text or flag
 *   name, or NONE), i32 a, i32 b, i32 start_min, i32 end_min, i32
 *   from_month, i32 from_day, i32 to_month, i32 to_day, u32 0, i64
 *   duration, i64 from, i64 to. Node indexes a and b are relative to the
 *   time set's first node and smaller than the node's own index. */

/* ---- little-endian access ------------------------------------------------------- */

static inline uint16_t chg_rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t chg_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t chg_rd64(const uint8_t *p)
{
    return (uint64_t)chg_rd32(p) | (uint64_t)chg_rd32(p + 4) << 32;
}
static inline void chg_wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void chg_wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void chg_wr64(uint8_t *p, uint64_t v)
{
    chg_wr32(p, (uint32_t)v);
    chg_wr32(p + 4, (uint32_t)(v >> 32));
}

/* ---- opcodes ---------------------------------------------------------------------- */

typedef enum chg_opcode {
#define CHG_OP(name, fmt, doc) CHG_OP_##name,
#include "opcodes.def"
#undef CHG_OP
    CHG_OP__COUNT
} chg_opcode;

typedef struct chg_ins {
    uint8_t op;
    uint8_t x;
    uint16_t a;
    uint16_t b;
    uint16_t c;
} chg_ins;

#define CHG_INS_BC(i) ((uint32_t)(i).b | (uint32_t)(i).c << 16)

/* The operand format of an opcode (opcodes.def): the writer and the
 * verifier both read it, so it belongs to the format, not to either side.
 * Inline, so the compiler needs no object of the VM's. */
static inline const char *chg_op_format(unsigned op)
{
    static const char *const formats[CHG_OP__COUNT] = {
#define CHG_OP(name, fmt, doc) fmt,
#include "opcodes.def"
#undef CHG_OP
    };
    return op < CHG_OP__COUNT ? formats[op] : "";
}

/* Names and meanings, for the disassembler and docs (vm/opcodes.c). */
extern const char *const chg_vm_op_names[CHG_OP__COUNT];
extern const char *const chg_vm_op_docs[CHG_OP__COUNT];

#endif
