/*
 * chg_vm.h — the evaluator's public interface: loading and verifying a
 * bundle, decoding a change, evaluating it into a decision, and writing the
 * decision as JSON.
 *
 * Ownership and threads: a chg_bundle is immutable after chg_bundle_load
 * and may be shared by any number of threads. Each thread evaluates with
 * its own chg_ctx, which owns every piece of mutable state (registers, a
 * scratch arena, time-set caches, regex match data). A chg_event (a decoded
 * change) belongs to the thread that decoded it until it is freed.
 *
 * Purity: evaluation reads nothing but its arguments — no clock, no files,
 * no environment — and allocates nothing once the context has warmed up.
 */
#ifndef CHG_VM_H
#define CHG_VM_H

#include "chg_base.h"

typedef struct chg_bundle chg_bundle;
typedef struct chg_ctx chg_ctx;

/* ---- values -------------------------------------------------------------- */

typedef enum chg_vtag {
    CHG_V_NULL,
    CHG_V_BOOL,
    CHG_V_INT,
    CHG_V_FLOAT,
    CHG_V_STR,
    CHG_V_TIME,     /* i: seconds since the epoch */
    CHG_V_DUR,      /* i: seconds */
    CHG_V_RISK,     /* i: class index */
    CHG_V_LIST,     /* items[0..len) */
    CHG_V_REC,      /* items[0..len) in the field order of `layout` */
    CHG_V_JSON,     /* a jansson object or array used as a whole */
    CHG_V_ABSENT,   /* decoded change: the field is missing */
    CHG_V_BAD       /* decoded change: the field has the wrong type (flags:
                       the JSON type found) */
} chg_vtag;

typedef struct chg_value {
    union {
        struct {
            uint8_t tag;
            uint8_t flags;
            uint16_t layout;
            uint32_t len;
        };
        uint64_t hdr;       /* the four fields above as one word */
    };
    union {
        int64_t i;
        double f;
        const char *s;
        const struct chg_value *items;
        const void *json;
    } u;
} chg_value;

/* ---- bundles ----------------------------------------------------------------- */

/* Load and fully verify a bundle held in memory (the bytes are copied).
 * On error returns NULL and writes "corrupt at offset N: reason" (or
 * another clear reason) into err. */
chg_bundle *chg_bundle_load(const void *data, size_t len, char *err, size_t errlen);
/* Load from a file; err as above. */
chg_bundle *chg_bundle_load_file(const char *path, char *err, size_t errlen);
void chg_bundle_free(chg_bundle *b);

const char *chg_bundle_policy_name(const chg_bundle *b);
const char *chg_bundle_policy_version(const chg_bundle *b);
/* The SHA-256 of the bundle's content, as 64 hex digits. */
const char *chg_bundle_hash(const chg_bundle *b);

/* Disassemble: every block with its instructions and source positions. */
void chg_bundle_disasm(const chg_bundle *b, chg_buf *out);
/* The opcode reference (docs/bytecode.md), from opcodes.def. */
void chg_opcodes_markdown(chg_buf *out);

/* ---- facts: flags and answers of external queries ---------------------------- */

typedef struct chg_facts chg_facts;

/* Parse the facts JSON (docs/facts.md):
 *   {"flags": {"name": true}, "queries": [{"call": "...", "args": [...],
 *    "result": ...}]}
 * NULL text means no facts. On error returns NULL with "facts: PATH:
 * reason" in err. */
chg_facts *chg_facts_parse(const char *text, size_t len, char *err, size_t errlen);
void chg_facts_free(chg_facts *f);
int chg_facts_set_flag(chg_facts *f, const char *name, bool value);

/* ---- events ------------------------------------------------------------------ */

typedef struct chg_event chg_event;

/* Decode a change (JSON text) into the slots the bundle's policy reads.
 * Field problems (a missing required field, a wrong type) are not errors
 * here: they become run-time errors where the policy reads the field. On
 * malformed JSON returns NULL with "line L, column C: reason" in err. */
chg_event *chg_event_decode(const chg_bundle *b, const char *json, size_t len,
                            char *err, size_t errlen);
/* Same, from a parsed jansson value (json_t *); takes a reference. */
chg_event *chg_event_from_json(const chg_bundle *b, void *json, char *err, size_t errlen);
void chg_event_free(chg_event *e);

/* ---- evaluation ---------------------------------------------------------------- */

typedef enum chg_outcome {
    CHG_OUT_ALLOW,
    CHG_OUT_PENDING,
    CHG_OUT_DEFER,
    CHG_OUT_DENY,
    CHG_OUT_ERROR
} chg_outcome;

const char *chg_outcome_name(chg_outcome o);

typedef enum chg_reason_kind {
    CHG_R_DENY,      /* a deny rule applied */
    CHG_R_WARN,      /* a warn rule applied */
    CHG_R_WINDOW,    /* a require-window rule applied */
    CHG_R_APPROVAL,  /* a require-approvals rule applied */
    CHG_R_ERROR      /* evaluation failed */
} chg_reason_kind;

typedef struct chg_reason {
    uint32_t rule;          /* rule index, or UINT32_MAX for none */
    uint8_t kind;           /* chg_reason_kind */
    uint8_t level;          /* 0 mandatory, 1 overridable, 2 advisory */
    const char *message;    /* in the context's scratch or the bundle */
    uint32_t message_len;
    uint32_t span;          /* source-map entry of the rule or the error */
} chg_reason;

typedef struct chg_decision {
    const char *change_id;  /* the change's "id" field, or NULL */
    uint32_t change_id_len;
    int64_t at;             /* the instant judged at */
    int risk;               /* class index, -1 when classify failed */
    chg_outcome outcome;
    chg_reason *reasons;    /* every rule that applied, in order */
    uint32_t nreasons;
    chg_reason *warnings;   /* advisory messages */
    uint32_t nwarnings;
    /* windows: the first window a rule requires, whether it is open now,
     * when it closes (if open) and, when only time stands in the way, the
     * next instant everything is open (INT64_MIN: none required; INT64_MAX:
     * none within the horizon) */
    int32_t window;         /* time-set index, -1 none */
    bool window_open;
    int64_t closes_at;      /* INT64_MIN when not open */
    int64_t next_open;      /* INT64_MIN: not computed */
    uint32_t *freezes;      /* time sets of `deny during` that hold now */
    uint32_t nfreezes;
    bool emergency;
} chg_decision;

typedef struct chg_eval_input {
    const chg_event *change;
    int64_t now;            /* used when the policy has no `at` */
    const chg_facts *facts; /* may be NULL */
    int64_t horizon;        /* next_open search, seconds; 0: 366 days */
} chg_eval_input;

chg_ctx *chg_ctx_new(const chg_bundle *b);
void chg_ctx_free(chg_ctx *ctx);

/* Evaluate one change. The decision's strings live in ctx until the next
 * evaluation with it. Returns CHG_OK; a policy that fails at run time gives
 * a decision with outcome CHG_ERROR, not an error status. */
int chg_eval(chg_ctx *ctx, const chg_eval_input *in, chg_decision *out);

/* The one decision writer: the decision as one line of JSON (no newline),
 * in the shape of language.md §3. Deterministic: the same decision gives
 * the same bytes. */
void chg_decision_write(const chg_bundle *b, const chg_decision *d, chg_buf *out);

/* A source-map entry as "file:line:col". */
const char *chg_bundle_source(const chg_bundle *b, uint32_t span, char *buf, size_t len);

#endif
