/*
 * bundle_format.h — the .chgb file format: one definition shared by the
 * compiler's writer (compiler/codegen.c) and the loader (vm/bundle.c).
 * Every section and record field is described once, in bundle_format.def;
 * this header expands it into the section ids, the record structs, the
 * wire layouts and the field table, and holds the enums the fields use.
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

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "chg_time.h" /* chg_ts_op: the TSNODES operations */
#include "chg_vm.h"   /* chg_applies: the APPLIES values */

#define CHG_BUNDLE_MAGIC "CHGB\r\n\x1a\n"
#define CHG_BUNDLE_VERSION 8 /* 2: approvals, actions, intakes; 3: time sets
                                carry their text and kind (listings); 4: the
                                SCHEMA section (whole-change validation); 5:
                                LIMITS; 6: CONCUR (concurrency limits); 7:
                                rate and at schedules, cron options (TSNODES
                                flags, offset, cutoff, period); 8: APPLIES
                                (the classes each rule applies to) and the
                                risk classes' places (chgc windows
                                --effective) */
#define CHG_BUNDLE_HEADER 64
/* Offsets of the header's fields, and of a section table entry's. */
enum {
    CHG_HDR_VERSION = 8,
    CHG_HDR_LENGTH = 12,
    CHG_HDR_COMPILER = 16,
    CHG_HDR_HASH = 32,
    CHG_HDR_NSECTIONS = CHG_BUNDLE_HEADER,
    CHG_HDR_TABLE = CHG_BUNDLE_HEADER + 4
};
enum { CHG_SECTAB_ID = 0, CHG_SECTAB_OFF = 4, CHG_SECTAB_LEN = 8, CHG_SECTAB_ENTRY = 12 };
#define CHG_NONE32 0xffffffffu
#define CHG_NONE16 0xffffu

/* Limits of the encoding that the compiler reports (E06xx) before it
 * writes a bundle the loader would refuse (docs/internals.md, "Limits").
 * An instruction's count operand x is a u8: at most 255 registers listed,
 * the parts of CONCAT, the items of LIST, the fields of RECORD, a field's
 * position in a layout (and LAYOUTS.count is at most 255, so a layout has
 * at most 255 fields). Register and index operands are u16. */
#define CHG_MAX_COUNT 255
#define CHG_MAX_OPERAND 0xffffu
/* The most instruction visits the verifier's data-flow pass may take for
 * one block: its instructions times the 64-register words of the
 * registers it writes (vm/verify.c). Some tens of milliseconds. */
#define CHG_VERIFY_MAX_WORK (1u << 22)
/* CHG_BUNDLE_MAX (chg_base.h) is the largest bundle the writer writes
 * (E0608) and a reader reads. */

/* Per-decision budgets (docs/vm.md, "Budgets"): what one decision may
 * spend before it stops with outcome `error` naming the budget. A policy
 * sets them with `limits { … }` (the LIMITS section); these are the
 * defaults, far above what the policy library uses (at most 111 steps and
 * 384 bytes of scratch, `chgc test --budgets policies`), and the most a
 * bundle may ask for, beyond which a budget stops bounding much. */
#define CHG_DEFAULT_STEPS 10000000ULL      /* instructions, iterations, work */
#define CHG_DEFAULT_REGEX_STEPS 1000000ULL /* pcre2 match limit, per match */
#define CHG_DEFAULT_SCRATCH (16ULL << 20)  /* bytes of scratch memory */
#define CHG_MAX_STEPS (1ULL << 40)
#define CHG_MAX_REGEX_STEPS 4294967295ULL  /* pcre2's limits are u32 */
#define CHG_MAX_SCRATCH (1ULL << 34)
/* The most changes a concurrency limit lets be in flight at once. */
#define CHG_MAX_CONCURRENCY 1000000

/* Constant tags (CONSTS.tag). */
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

/* Block kinds (BLOCKS.kind). */
enum {
    CHG_B_EXPR = 0,   /* an expression: at, conditions, messages, arguments */
    CHG_B_LET = 1     /* a let: its register window is its own */
};

/* Path nodes: kind, type (the decoder's conversion), need. */
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

/* SCHEMA flags: fields this object does not declare are errors, not
 * warnings (`schema change strict`). */
enum { CHG_SF_STRICT = 1 };
#define CHG_SCHEMA_MAX_DEPTH 300 /* above the parser's bracket limit (256) */

/* Approval requirement kinds (AREQS.kind) and rule actions (RULES.action). */
enum { CHG_AR_NONE = 0, CHG_AR_GROUP, CHG_AR_ANY, CHG_AR_PEOPLE, CHG_AR_AND, CHG_AR_OR };
enum { CHG_RA_DENY = 0, CHG_RA_WARN = 1, CHG_RA_WINDOW = 2, CHG_RA_APPROVAL = 3 };

/* The most nodes one time set may have, references written out: the
 * loader refuses more, so the compiler reports a set that would have more
 * (E0410) and its flattening stops there. */
#define CHG_TS_MAX_NODES 4096

/* The longest `within` of an approval requirement: 100 years. */
#define CHG_MAX_WITHIN (100LL * 366 * 86400)

/* TIMESETS kinds: a declared window or freeze, or the set written inside
 * a `deny during` rule (named "rule#k"; a freeze that only its rule uses). */
enum { CHG_SET_WINDOW = 0, CHG_SET_FREEZE = 1, CHG_SET_INLINE = 2 };

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

/* ---- sections and fields (bundle_format.def) ---------------------------------------- */

/* Widths: the bytes of a field and its C type. */
#define CHG_W_U8 1
#define CHG_W_U16 2
#define CHG_W_U32 4
#define CHG_W_I32 4
#define CHG_W_I64 8
#define CHG_W_U64 8
#define CHG_T_U8 uint8_t
#define CHG_T_U16 uint16_t
#define CHG_T_U32 uint32_t
#define CHG_T_I32 int32_t
#define CHG_T_I64 int64_t
#define CHG_T_U64 uint64_t
#define CHG_SIGNED_U8 0
#define CHG_SIGNED_U16 0
#define CHG_SIGNED_U32 0
#define CHG_SIGNED_I32 1
#define CHG_SIGNED_I64 1
#define CHG_SIGNED_U64 0
#define CHG_NONE_NONE 1
#define CHG_NONE_VAL 0

/* Section ids. Ids run from 1 without gaps, so CHG_SEC__MAX (one past the
 * last) is the number of sections plus one. */
enum chg_section_id {
#define CHG_SECTION(name, id, size, doc) CHG_SEC_##name = id,
#define CHG_FIELD(sec, w, name, ref, none, doc)
#define CHG_PAD(sec, w, name)
#define CHG_END(sec)
#include "bundle_format.def"
#undef CHG_SECTION
    CHG_SEC__MAX = 1
#define CHG_SECTION(name, id, size, doc) +1
#include "bundle_format.def"
#undef CHG_SECTION
};

/* The record size each section declares, checked below against the sum of
 * its fields' widths. */
enum {
#define CHG_SECTION(name, id, size, doc) CHG_RECSIZE_##name = size,
#include "bundle_format.def"
#undef CHG_SECTION
#undef CHG_FIELD
#undef CHG_PAD
#undef CHG_END
};

/* The wire layout of a record: one byte array per field, so that
 * offsetof() is the field's offset in the file and sizeof() the record
 * size (no padding between byte arrays). Never instantiated. */
#define CHG_SECTION(name, id, size, doc) struct chg_wire_##name {
#define CHG_FIELD(sec, w, name, ref, none, doc) uint8_t name[CHG_W_##w];
#define CHG_PAD(sec, w, name) uint8_t name[CHG_W_##w];
#define CHG_END(sec)                                                                                      \
    }                                                                                                     \
    ;                                                                                                     \
    _Static_assert(sizeof(struct chg_wire_##sec) == CHG_RECSIZE_##sec,                                     \
                   "bundle_format.def: the fields of " #sec " do not add up to its record size");          \
    _Static_assert(CHG_SEC_##sec < CHG_SEC__MAX, "bundle_format.def: section ids must run from 1 without gaps");
#include "bundle_format.def"
#undef CHG_SECTION
#undef CHG_FIELD
#undef CHG_PAD
#undef CHG_END

/* The offset of a field in its record: CHG_OFF(RULES, when). */
#define CHG_OFF(sec, field) ((uint32_t)offsetof(struct chg_wire_##sec, field))

/* A record in memory: the fields by name, reserved bytes left out. The
 * writer fills one and encodes it (chg_rec_encode); the loader decodes
 * into one and checks it. */
#define CHG_SECTION(name, id, size, doc) typedef struct chg_rec_##name {
#define CHG_FIELD(sec, w, name, ref, none, doc) CHG_T_##w name;
#define CHG_PAD(sec, w, name)
#define CHG_END(sec) } chg_rec_##sec;
#include "bundle_format.def"
#undef CHG_SECTION
#undef CHG_FIELD
#undef CHG_PAD
#undef CHG_END

/* An instruction as the interpreter runs it: the CODE record. */
typedef chg_rec_CODE chg_ins;
#define CHG_INS_BC(i) ((uint32_t)(i).b | (uint32_t)(i).c << 16)

/* Every field (reserved ones included) has an index in the field table:
 * CHG_F_RULES_when. A section's fields are CHG_FIRST_NAME up to
 * CHG_LAST_NAME, in file order. */
enum chg_field_id {
#define CHG_SECTION(name, id, size, doc) CHG_FIRST_##name, CHG_FIRST_##name##_ = CHG_FIRST_##name - 1,
#define CHG_FIELD(sec, w, name, ref, none, doc) CHG_F_##sec##_##name,
#define CHG_PAD(sec, w, name) CHG_F_##sec##_##name,
#define CHG_END(sec) CHG_END_##sec##_, CHG_LAST_##sec = CHG_END_##sec##_ - 1,
#include "bundle_format.def"
#undef CHG_SECTION
#undef CHG_FIELD
#undef CHG_PAD
#undef CHG_END
    CHG_F__COUNT
};

/* The loader keeps a record's checked fields in a small array. */
#define CHG_SECTION(name, id, size, doc)                                                                    \
    _Static_assert(CHG_LAST_##name + 1 - CHG_FIRST_##name <= 32, "bundle_format.def: at most 32 fields a record");
#define CHG_FIELD(sec, w, name, ref, none, doc)
#define CHG_PAD(sec, w, name)
#define CHG_END(sec)
#include "bundle_format.def"
#undef CHG_SECTION
#undef CHG_FIELD
#undef CHG_PAD
#undef CHG_END

/* What a field refers to (the `ref` column of bundle_format.def). */
typedef enum chg_ref {
    CHG_R_ANY,     /* any value */
    CHG_R_ZERO,    /* reserved: zero */
    CHG_R_NUM,     /* lo..hi */
    CHG_R_IDX,     /* a record of section `target` */
    CHG_R_LISTK,   /* a LIST constant of strings */
    CHG_R_BLOCK,   /* a block of kind `target` */
    CHG_R_SPAN,    /* a SPANS record, or 0 when there are none */
    CHG_R_EARLIER, /* an earlier record of the same section */
    CHG_R_RUN,     /* records [v, v + next field) of section `target` */
    CHG_R_CSLOT    /* a change slot: below META.nslots_change */
} chg_ref;

typedef struct chg_field {
    const char *name;    /* "when" */
    const char *ref_text;/* the ref as written in the .def: "BLOCK(EXPR)" */
    const char *doc;
    uint8_t sec;         /* its section */
    uint8_t width;       /* bytes: 1, 2, 4 or 8 */
    uint8_t is_signed;   /* I32, I64 */
    uint8_t none;        /* NONE (all ones) is allowed */
    uint16_t off;        /* in the record on the wire */
    uint16_t host;       /* in chg_rec_SEC; CHG_NO_HOST for reserved bytes */
    uint8_t ref;         /* chg_ref */
    uint8_t target;      /* IDX, RUN: a section; BLOCK: a block kind */
    int64_t lo, hi;      /* NUM */
} chg_field;
#define CHG_NO_HOST 0xffffu

typedef struct chg_section {
    const char *name;    /* "RULES" */
    const char *doc;
    uint32_t size;       /* bytes of one record on the wire */
    uint32_t host_size;  /* sizeof(chg_rec_NAME) */
    uint16_t first;      /* its fields: first .. first + nfields - 1 */
    uint16_t nfields;
} chg_section;

/* The field table, in file order section by section, indexed by
 * chg_field_id. Inline, so the compiler needs no object of the VM's. */
static inline const chg_field *chg_fields(void)
{
#define ANY CHG_R_ANY, 0, 0, 0
#define NUM(lo, hi) CHG_R_NUM, 0, lo, hi
#define STR CHG_R_IDX, CHG_SEC_STRINGS, 0, 0
#define IDX(s) CHG_R_IDX, CHG_SEC_##s, 0, 0
#define LISTK CHG_R_LISTK, CHG_SEC_CONSTS, 0, 0
#define BLOCK(k) CHG_R_BLOCK, CHG_B_##k, 0, 0
#define SPAN CHG_R_SPAN, CHG_SEC_SPANS, 0, 0
#define EARLIER CHG_R_EARLIER, 0, 0, 0
#define RUN(s) CHG_R_RUN, CHG_SEC_##s, 0, 0
#define CSLOT CHG_R_CSLOT, 0, 0, 0
#define CHG_REF4(kind, target, lo, hi) kind, target, lo, hi
#define CHG_REF(...) CHG_REF4(__VA_ARGS__)
#define CHG_SECTION(name, id, size, doc)
#define CHG_FIELD(sec, w, name, ref, none, doc)                                                             \
    {#name, #ref, doc, CHG_SEC_##sec, CHG_W_##w, CHG_SIGNED_##w, CHG_NONE_##none, CHG_OFF(sec, name),        \
     (uint16_t)offsetof(chg_rec_##sec, name), CHG_REF(ref)},
#define CHG_PAD(sec, w, name)                                                                               \
    {#name, "0", "reserved", CHG_SEC_##sec, CHG_W_##w, 0, 0, CHG_OFF(sec, name), CHG_NO_HOST, CHG_R_ZERO, 0, 0, 0},
#define CHG_END(sec)
    static const chg_field fields[CHG_F__COUNT] = {
#include "bundle_format.def"
    };
#undef CHG_SECTION
#undef CHG_FIELD
#undef CHG_PAD
#undef CHG_END
#undef CHG_REF
#undef CHG_REF4
#undef ANY
#undef NUM
#undef STR
#undef IDX
#undef LISTK
#undef BLOCK
#undef SPAN
#undef EARLIER
#undef RUN
#undef CSLOT
    return fields;
}

/* The sections by id; a zero entry for id 0. */
static inline const chg_section *chg_sections(void)
{
#define CHG_SECTION(name, id, size, doc)                                                                    \
    [id] = {#name, doc, size, sizeof(chg_rec_##name), CHG_FIRST_##name,                                     \
            (uint16_t)(CHG_LAST_##name + 1 - CHG_FIRST_##name)},
#define CHG_FIELD(sec, w, name, ref, none, doc)
#define CHG_PAD(sec, w, name)
#define CHG_END(sec)
    static const chg_section sections[CHG_SEC__MAX] = {
#include "bundle_format.def"
    };
#undef CHG_SECTION
#undef CHG_FIELD
#undef CHG_PAD
#undef CHG_END
    return sections;
}

/* The raw bits of field f of host record rec (zero for reserved bytes). */
static inline uint64_t chg_rec_get(const chg_field *f, const void *rec)
{
    if (f->host == CHG_NO_HOST)
        return 0;
    const uint8_t *p = (const uint8_t *)rec + f->host;
    switch (f->width) {
    case 1: return *p;
    case 2: { uint16_t v; memcpy(&v, p, 2); return v; }
    case 4: { uint32_t v; memcpy(&v, p, 4); return v; }
    default: { uint64_t v; memcpy(&v, p, 8); return v; }
    }
}

static inline void chg_rec_set(const chg_field *f, void *rec, uint64_t bits)
{
    if (f->host == CHG_NO_HOST)
        return;
    uint8_t *p = (uint8_t *)rec + f->host;
    switch (f->width) {
    case 1: *p = (uint8_t)bits; break;
    case 2: { uint16_t v = (uint16_t)bits; memcpy(p, &v, 2); break; }
    case 4: { uint32_t v = (uint32_t)bits; memcpy(p, &v, 4); break; }
    default: memcpy(p, &bits, 8); break;
    }
}

/* The bits of a field on the wire, little-endian, and back. */
static inline uint64_t chg_wire_get(const chg_field *f, const uint8_t *rec)
{
    const uint8_t *p = rec + f->off;
    switch (f->width) {
    case 1: return *p;
    case 2: return chg_rd16(p);
    case 4: return chg_rd32(p);
    default: return chg_rd64(p);
    }
}

static inline void chg_wire_set(const chg_field *f, uint8_t *rec, uint64_t bits)
{
    uint8_t *p = rec + f->off;
    switch (f->width) {
    case 1: *p = (uint8_t)bits; break;
    case 2: chg_wr16(p, (uint16_t)bits); break;
    case 4: chg_wr32(p, (uint32_t)bits); break;
    default: chg_wr64(p, bits); break;
    }
}

/* Write host record rec of section sec as its bytes (reserved ones zero):
 * the whole writer, for every section. */
static inline void chg_rec_encode(int sec, const void *rec, uint8_t *out)
{
    const chg_section *s = &chg_sections()[sec];
    const chg_field *f = chg_fields() + s->first;
    for (unsigned k = 0; k < s->nfields; k++)
        chg_wire_set(&f[k], out, chg_rec_get(&f[k], rec));
}

#endif
