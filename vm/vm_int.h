/*
 * vm_int.h — the evaluator's internals: the loaded bundle, the evaluation
 * context, decoded events, and what the VM's files share. Not for use
 * outside vm/ (the compiler includes only bundle_format.h).
 */
#ifndef CHG_VM_INT_H
#define CHG_VM_INT_H

#include "bundle_format.h"
#include "chg_vm.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

typedef struct chg_timeset chg_timeset;
typedef struct chg_tz chg_tz;

/* The loaded tables whose records are exactly the bundle's: the structs
 * bundle_format.def generates (chg_rec_NAME), under the VM's names. */
typedef chg_rec_BLOCKS chg_block;
typedef chg_rec_SPANS chg_srcspan;
typedef chg_rec_PATHS chg_pathnode;
typedef chg_rec_LAYOUTS chg_layout;
typedef chg_rec_LFIELDS chg_lfield;
typedef chg_rec_SCHEMA chg_schemanode; /* a node of the declared schema */
typedef chg_rec_ARMS chg_arm;
typedef chg_rec_LETS chg_letdef;
typedef chg_rec_RULES chg_ruledef;
typedef chg_rec_APPROVALS chg_approvaldef;
typedef chg_rec_ACTIONS chg_actiondef;
typedef chg_rec_CALLS chg_calldef;
typedef chg_rec_INTAKES chg_intakedef;
typedef chg_rec_IFIELDS chg_ifielddef;

typedef struct chg_tsdef {
    uint32_t name, kind;    /* kind: CHG_SET_* */
    uint32_t text;          /* string: the definition as written */
    const char *zone;       /* the one non-UTC zone of its schedules, or NULL
                               (derived from the nodes at load) */
    uint32_t flag;          /* string: the first flag it reads, or NONE */
    const uint32_t *flags;  /* strings: the flags it reads, in node order, */
    uint32_t nflags;        /* repeats included (derived at load; --explain) */
    chg_timeset *ts;        /* built at load */
    chg_timeset *open;      /* with a cutoff: ts without it (the runs' real
                               ends, for closes_at); else NULL */
} chg_tsdef;

/* A conjunction of an approval requirement's disjunctive normal form:
 * the AREQS terms that must all be met (approvals.c; the limits are
 * those of the evaluation: 16 terms, 32 conjunctions). */
#define CHG_AREQ_MAX_TERMS 16
#define CHG_AREQ_MAX_CLAUSES 32
typedef struct chg_vm_clause {
    uint32_t terms[CHG_AREQ_MAX_TERMS];
    uint32_t n;
} chg_vm_clause;

typedef struct chg_areqdef {
    uint8_t kind, including;
    uint32_t count, group, people;
    int64_t within;
    uint32_t a, b;
    uint32_t within_text;   /* string, or NONE */
    uint32_t lo;            /* the first node of its subtree: the subtree
                               is nodes lo..self (operands come first) */
    /* built at load, for decisions without printf: the node as a whole
     * requirement, and for a term "k of …" for k = 1..count */
    char *text;
    char **term;
    /* a requirement a rule or the approvals block names (a root): its
     * normal form, made once at load (chg_vm_areq_prepare), so a decision
     * does not rebuild it; dnf_big: larger than the limits, which every
     * decision needing it reports as its error. Other nodes: NULL, 0. */
    const chg_vm_clause *dnf;
    uint32_t ndnf;
    bool dnf_big;
} chg_areqdef;

/* A block whose whole code is one read and its RET — `LET rX l; RET rX`
 * (a condition that is a let: `when prod`) or `CHANGE rX s; RET rX` (an
 * `at` that is a field) — has its value where the read finds it: the
 * let's, once computed, or the slot's, when it holds a plain value.
 * chg_vm_run answers such a block from there, charging what its run
 * would; anything else (a let not yet computed, an absent field) runs as
 * code. Found at load; kind 0 for every other block.
 *
 * A block that starts `LET rX l; JMPF rX ->ret` (or JMPT) and ends
 * `ret: RET rX` — `prod and …`, `prod or …`, the classify arms of most
 * policies — has its value decided by the let alone when the let is
 * computed and false (JMPF: CHG_SC_LET_FALSE) or true (JMPT:
 * CHG_SC_LET_TRUE): the run would jump straight to the RET. chg_vm_run
 * answers those from the let too, charging the block's length as its
 * run would; otherwise (the let not yet computed, not a bool, or the
 * other value) the block runs as code. */
enum { CHG_SC_NONE, CHG_SC_LET, CHG_SC_CHANGE, CHG_SC_LET_FALSE, CHG_SC_LET_TRUE };
typedef struct chg_vm_shortcut {
    uint8_t kind;
    uint32_t arg;             /* the let, or the change slot */
} chg_vm_shortcut;

/* Fill b->shortcuts from the verified code. false: out of memory. */
bool chg_vm_shortcuts(chg_bundle *b);

/* Scratch and steps: the bytes of string work that cost one step (a
 * built-in that reads or writes n bytes spends n / 64 steps, at least 1). */
#define CHG_STEP_BYTES 64

typedef struct chg_limits {
    uint64_t steps, regex_steps, scratch;
} chg_limits;

/* The JIT stack of a context's regex matches: enough for a group
 * repeated over a few hundred KiB of subject (`^(a|b)*$`); reserved once
 * per context, touched only as deep as a match goes. */
#define CHG_JIT_STACK_MAX (8u << 20)

/* The deepest approval requirement tree the loader accepts (the
 * evaluator recurses that deep). */
#define CHG_MAX_AREQ_DEPTH 32

/* A built-in function: args in, *out out. Every built-in has a fixed
 * arity (min == max in builtins.def) and the verifier checked the CALL
 * against it, so args holds exactly that many values and no built-in
 * checks its count. Return 0, or -1 with ctx's error set (chg_vm_error).
 * Must not allocate except through the context's scratch arena. */
typedef int (*chg_builtin_fn)(chg_ctx *ctx, const chg_value *args, chg_value *out);

/* A loaded bundle: one allocation for itself and its bytes, one arena
 * block for every table (sized from the section counts), plus the objects
 * the libraries it calls made (time sets, zones, compiled regexes), which
 * chg_bundle_free hands back to them. */
struct chg_bundle {
    uint8_t *data;          /* its own copy of the bytes, after the struct */
    size_t len;
    chg_arena arena;        /* the tables below and the approval texts */
    chg_rec_META meta;      /* the META record as read */
    char hash[65];
    char compiler[17];

    uint32_t nstrings;
    const char **str;       /* pointers into data, NUL-terminated */
    uint32_t *strlen;

    uint32_t nconsts;
    chg_value *consts;

    uint32_t ncode;
    const chg_ins *code;    /* decoded copy */
    uint32_t nblocks;
    chg_block *blocks;
    chg_vm_shortcut *shortcuts; /* per block: what chg_vm_run may answer
                                   without dispatching (chg_vm_shortcuts) */
    uint32_t nspans;
    chg_srcspan *spans;
    uint32_t *insspan;

    uint32_t npaths;
    chg_pathnode *paths;
    uint32_t nlayouts;
    chg_layout *layouts;
    uint32_t nlfields;
    chg_lfield *lfields;

    uint32_t nschema;       /* 0: no schema, nothing to validate */
    chg_schemanode *schema;

    /* META, under the names the VM reads them by */
    uint32_t name, version, at_block, nregs, nslots_change, nslots_event, id_slot, flags;
    uint32_t approvals_slot, requester_slot, emergency_slot, approvals_layout;

    uint32_t nrisks;
    uint32_t *risks;
    uint32_t *risk_spans;     /* each class's place */
    uint32_t narms;
    chg_arm *arms;
    uint32_t nlets;
    chg_letdef *lets;
    uint32_t nrules;
    chg_ruledef *rules;
    uint32_t nduring;
    uint32_t *during;
    uint32_t ntimesets;
    chg_tsdef *timesets;
    chg_ts_cache *calendars; /* the sets' calendars, expanded once each */
    uint32_t nregexes;
    pcre2_code **regexes;
    pcre2_general_context *pcre; /* allocates through chg_realloc; NULL
                                    when the bundle has no regex */
    pcre2_compile_context *pcre_cc; /* made from it */
    uint32_t max_captures;
    uint32_t nzones;
    chg_tz **zones;
    uint32_t nbuiltins;
    uint32_t *flag_strs;      /* strings of the FLAG time-set nodes */
    uint32_t nflag_strs;
    chg_builtin_fn *builtins;
    const struct chg_builtin_impl **builtin_info;

    uint32_t nareqs;
    chg_areqdef *areqs;
    uint32_t napprovals;
    chg_approvaldef *approvals;
    uint32_t nactions;
    chg_actiondef *actions;
    uint32_t ncalls;
    chg_calldef *calls;
    uint32_t nintakes;
    chg_intakedef *intakes;
    uint32_t nifields;
    chg_ifielddef *ifields;
    uint32_t nconcur;
    chg_rec_CONCUR *concur;   /* concurrency limits (chg_concurrency_check) */
    uint32_t napplies;
    chg_rec_APPLIES *applies; /* the classes each rule applies to (listings) */

    chg_limits limits;        /* the LIMITS section, or the defaults */
};

/* ---- facts ------------------------------------------------------------------------- */

typedef struct chg_fact_query {
    const char *call;
    chg_value *args;
    uint32_t nargs;
    chg_value result;
} chg_fact_query;

struct chg_facts {
    chg_arena arena;
    const char **flag_names;
    bool *flag_values;
    uint32_t nflags, capflags;
    chg_fact_query *queries;
    uint32_t nqueries;
    void *json;               /* the parsed document the strings point into */
};

/* ---- events ------------------------------------------------------------------------- */

/* How many schema errors, and separately how many undeclared fields, a
 * decision lists by name; the rest are counted in one closing entry ("and
 * N more"), so a hostile change cannot make its decision huge. */
#define CHG_SCHEMA_LISTED 20

/* One way the change does not fit the schema, found when it was decoded. */
typedef struct chg_issue {
    const char *msg;          /* "change.requester.name: expected string, found an integer" */
    uint32_t len;
    uint32_t span;            /* the schema declaration it breaks, or UINT32_MAX */
} chg_issue;

struct chg_event {
    void *json;               /* json_t*: the change document */
    void *raw;                /* json_t*: the raw event (intake), or NULL */
    chg_value *slots;         /* change slots */
    chg_value *eslots;        /* event slots */
    chg_arena arena;          /* lists and records */
    /* schema validation (schema.c): the errors and the undeclared fields
     * (warnings, unless strict: then errors) listed, each at most
     * CHG_SCHEMA_LISTED plus one "and N more" entry, in the arena */
    chg_issue *errors, *warnings;
    uint32_t nerrors, nwarnings;
};

/* Check the whole change j (a json_t object) against the bundle's schema
 * and record what does not fit in e. Once per change, at decoding; a
 * change that fits costs a walk of the document and no allocation.
 * Returns CHG_OK or CHG_ENOMEM. */
int chg_vm_schema_validate(const chg_bundle *b, chg_event *e, const void *j);

typedef struct chg_fastdec chg_fastdec;

/* ---- context ---------------------------------------------------------------------- */

typedef struct chg_frame {
    uint32_t pc;              /* where to continue */
    uint32_t let;             /* let being computed */
    uint16_t dest;            /* register that wants its value */
} chg_frame;

/* The queries answered in one evaluation, for --explain. */
#define CHG_QLOG_MAX 32
typedef struct chg_qlog {
    const char *call;
    chg_value args[4];
    uint32_t nargs;
    chg_value result;
} chg_qlog;

struct chg_ctx {
    const chg_bundle *b;
    chg_value *regs;
    chg_value *letvals;
    uint8_t *letstate;        /* 0 not yet, 1 running, 2 done */
    chg_frame *frames;        /* let call stack, nlets deep at most */
    chg_arena scratch;        /* one evaluation's strings and lists: reset, not
                                 freed, between evaluations (chg_vm_ctx_begin) */
    pcre2_match_data *match;
    pcre2_match_context *mctx; /* the regex budget: match and depth limits */
    pcre2_jit_stack *jit_stack;
    chg_fastdec *fastdec;     /* the change decoder's fast path, made on first use */
    chg_fastdec *fastdec2;    /* a second one, for the change while the first
                                 decodes the raw event in the same walk (intakes) */
    chg_reason *reasons;      /* capacity nrules + 1 */
    chg_reason *warnings;

    uint32_t *during_hits;    /* time sets of deny-during rules that applied */
    uint32_t *window_reqs;    /* windows required by rules that applied */
    uint32_t *during_all;     /* every time set of deny-during rules that applied */
    uint8_t *during_level;    /* the lowest level of the rules naming each */
    uint32_t nduring_all;     /* of the last decision (chg_ctx_admissible_until) */
    int64_t next_approval;    /* of the last decision (chg_ctx_next_approval) */
    const chg_timeset **ts_sets; /* next_open's sets: nrules + nduring at most */
    bool *ts_want;
    uint32_t *req_roots;      /* approval requirements in force */
    const char **satisfied, **missing;
    uint32_t *missing_nodes;  /* the AREQS term of each missing entry */
    struct chg_action *actions;
    uint8_t *applied;         /* per rule: its condition held and it acted */
    uint32_t *class_req;      /* per risk class: the approvals entry in force
                                 (the last naming it, as listed), or CHG_NONE32 */
    uint32_t emergency_req;   /* the `emergency` entry's, or CHG_NONE32 */
    chg_decision blank;       /* what a decision starts as (chg_ctx_new):
                                 copied, not built, at each decision */

    /* external queries: the resolver, or the facts when NULL */
    chg_resolver_fn resolver;
    void *resolver_ud;
    chg_qlog qlog[CHG_QLOG_MAX];
    uint32_t nqlog;

    /* per evaluation */
    const char *var_freeze, *var_reason, *var_summary;
    chg_decision *action_d;   /* while actions run: their decision */
    const chg_event *ev;
    const chg_facts *facts;
    int64_t now;
    int risk;
    /* the step budget: what is left of it in this evaluation, and the
     * peak use of this decision (for chg_ctx_usage) */
    uint64_t steps_left;
    uint64_t used_steps, used_scratch; /* of the last chg_eval */
    /* the run-time error, if any */
    /* the approval requirements in force in the last decision (explain) */
    const uint32_t *ap_roots;
    uint32_t ap_nroots;
    bool failed;
    bool oom;                 /* memory ran out (chg_vm_nomem): the
                                 decision is void, chg_eval says so */
    uint32_t err_pc;          /* instruction that failed */
    const char *err_msg;
    uint32_t err_len;
};

/* Make ctx ready to run blocks on change ev at now (scratch and lets
 * reset, caches checked against the facts). */
void chg_vm_ctx_begin(chg_ctx *ctx, const chg_event *ev, int64_t now, const chg_facts *facts, chg_resolver_fn resolver,
                   void *resolver_ud);

/* The flag callback of time sets; ud is a const chg_facts * (may be NULL). */
bool chg_vm_ctx_flag(void *ud, const char *name);

/* A new event of b with every slot absent; NULL with "out of memory". */
chg_event *chg_vm_event_new(const chg_bundle *b, char *err, size_t errlen);
/* e, done with, emptied for a new change of b as chg_vm_event_new makes
 * it (NULL, e freed, when out of memory). */
chg_event *chg_vm_event_reuse(const chg_bundle *b, chg_event *e, char *err, size_t errlen);

/* The change decoder's fast path (fastdecode.c): one pass over the text
 * with the JSON walker, straight into slots, for a change that is valid
 * and fits its schema exactly. Reusable from change to change; one per
 * thread. chg_vm_fastdec_decode returns CHG_OK with *out, CHG_ENOMEM, or
 * CHG_JW_DECLINED (1): then decode with jansson, which decides or says
 * what is wrong. `intake`: as chg_event_intake takes a change (an
 * envelope, or a top-level `detail`, is declined). */
chg_fastdec *chg_vm_fastdec_new(const chg_bundle *b);
void chg_vm_fastdec_free(chg_fastdec *d);
int chg_vm_fastdec_decode(chg_fastdec *d, const char *json, size_t len, bool intake, chg_event **out);
/* The same pass for an intake: the raw event's slots (the change's stay
 * absent), for the intakes' blocks to run on. Declines, besides the
 * above, what intake.c reads differently from the bytes: an SNS
 * notification (a top-level TopicArn) and a top-level `detail` string
 * the policy reads into. */
int chg_vm_fastdec_event(chg_fastdec *d, const char *json, size_t len, chg_event **out);
/* Both in one walk: the raw event by d (as chg_vm_fastdec_event) and the
 * change by c, another decoder of the same bundle (as
 * chg_vm_fastdec_decode with intake), each with its own answer: what the
 * two calls would give, for one pass over the bytes. */
void chg_vm_fastdec_both(chg_fastdec *d, chg_fastdec *c, const char *json, size_t len, chg_event **raw,
                         int *rc_raw, chg_event **change, int *rc_change);
/* An event of d's bundle the caller is done with, kept (one at most) for
 * the next decoding to fill instead of allocating one; else freed. */
void chg_vm_fastdec_recycle(chg_fastdec *d, chg_event *e);
/* chg_event_decode with d's fast path (NULL: none), and with jansson only. */
chg_event *chg_vm_event_decode(chg_fastdec *d, const chg_bundle *b, const char *json, size_t len, char *err,
                               size_t errlen);
chg_event *chg_vm_event_decode_json(const chg_bundle *b, const char *json, size_t len, char *err, size_t errlen);
/* Do x and y hold the same slots, schema errors and warnings (the fast
 * path against jansson's, in tests and fuzz_decode)? */
bool chg_vm_event_same(const chg_bundle *b, const chg_event *x, const chg_event *y);

/* chg_event_intake_change on the jansson path alone, the fast paths not
 * tried: what the fast paths must agree with, decision for decision and
 * error for error (tests/unit/test_intake_diff.c, fuzz/fuzz_intake.c). */
chg_event *chg_vm_intake_jansson(chg_ctx *ctx, const char *json, size_t len, const chg_eval_input *in, int *used,
                                 chg_buf *change, char *err, size_t errlen);

/* A raw event: its event slots decoded from json (a json_t *, referenced),
 * change slots absent. */
chg_event *chg_vm_event_raw(const chg_bundle *b, void *json, char *err, size_t errlen);

/* Run block `block`; its value goes to *out. Returns 0, or -1 with the
 * context's error set. */
int chg_vm_run(chg_ctx *ctx, uint32_t block, chg_value *out);

/* Make root n's normal form (q->dnf, or q->dnf_big) in the bundle's
 * arena, once; false only when memory ran out. */
bool chg_vm_areq_prepare(chg_bundle *b, uint32_t n);

/* Render approval requirement node n as text (for the bundle's tables). */
void chg_vm_areq_render(const chg_bundle *b, uint32_t n, chg_buf *out);
void chg_vm_areq_render_term(const chg_bundle *b, const chg_areqdef *q, uint32_t count, chg_buf *out);

/* reason and summary for actions, computed when an action first reads
 * them (decide.c) */
void chg_vm_action_vars(chg_ctx *ctx);

/* Evaluate the approval requirements roots[0..n) (joined by `and`) on the
 * change at `now`: fills d's approvals fields; *rejected_by names the first
 * approver who rejected the change, or is NULL. Returns 0 or -1 (error). */
/* --explain: the approvals of the change that counted for nothing, and why. */
void chg_vm_approvals_explain(chg_ctx *ctx, const uint32_t *roots, uint32_t nroots, int64_t now, chg_buf *out);
int chg_vm_approvals_eval(chg_ctx *ctx, const uint32_t *roots, uint32_t nroots, int64_t now, chg_decision *d,
                       const char **rejected_by);

/* Spend n steps of the decision's budget: 0, or -1 with the error set
 * ("step budget exceeded") when it is spent. */
int chg_vm_charge(chg_ctx *ctx, uint32_t pc, uint64_t n);
/* Steps for n bytes of string work: n / CHG_STEP_BYTES, at least 1. */
static inline uint64_t chg_vm_byte_steps(uint64_t n) { return n / CHG_STEP_BYTES + 1; }
/* The error for a scratch allocation that failed: the scratch budget when
 * it is spent, else out of memory. Returns -1. */
int chg_vm_scratch_error(chg_ctx *ctx, uint32_t pc);

/* Record a run-time error at instruction pc (printf-style, into scratch).
 * Returns -1 for `return chg_vm_error(…)`. */
int chg_vm_error(chg_ctx *ctx, uint32_t pc, const char *fmt, ...) CHG_PRINTF(3, 4);
/* The error "out of memory" at pc, marking the decision void (ctx->oom):
 * chg_eval then returns CHG_ENOMEM. Returns -1. */
int chg_vm_nomem(chg_ctx *ctx, uint32_t pc);

/* ---- the verifier (verify.c) ------------------------------------------------------ */

/* What the verifier needs of the loader: the bundle as loaded so far and
 * where each section's records start in the file (for the offsets of its
 * messages, "corrupt at offset N: …", written to err). */
typedef struct chg_vm_verifier {
    const chg_bundle *b;
    const uint32_t *off;      /* file offset of each section's first record, by CHG_SEC_* */
    char *err;
    size_t errlen;
    bool oom;                 /* set when a check failed for want of memory */
} chg_vm_verifier;

/* Every block's code (invariants I1-I4 of verify.c): operands, no
 * register read before it is written, loops that end. Runs last, when
 * every table an operand may index is loaded. */
bool chg_vm_verify_code(chg_vm_verifier *v);
/* Time set `set`'s nodes (TSNODES first..first+count-1, decoded, operands
 * already checked to come first) form a tree and share no node with the
 * set before (*next_first: where the next set may start). I5. */
struct chg_ts_node;
bool chg_vm_verify_tstree(chg_vm_verifier *v, uint32_t set, const struct chg_ts_node *nodes, uint32_t first,
                          uint32_t count, uint32_t *next_first);
/* Each path node is the field of one layout at most, each layout the
 * records of one list at most. I6. */
bool chg_vm_verify_decoding(chg_vm_verifier *v);

/* ---- time sets --------------------------------------------------------------------- */

/* The horizon of a decision's searches at now (decide.c). */
int64_t chg_vm_horizon(const chg_eval_input *in, int64_t now);
/* The horizon of one search from now over sets[0..n): chg_vm_horizon's,
 * or none (to CHG_TIME_MAX) when every set is finite (calendars, ranges,
 * `at`, flags: chg_timeset_is_finite), whose changes are found however
 * far, as GetCalendarState finds a calendar's next transition. */
int64_t chg_vm_search_horizon(const chg_eval_input *in, int64_t now, const chg_timeset *const *sets, size_t n);

/* ---- values ------------------------------------------------------------------------ */

const char *chg_vm_vtag_name(uint8_t tag);
/* An int against a float, exactly: -1, 0, 1, or -2 when f is NaN. */
int chg_vm_cmp_int_float(int64_t i, double f);
bool chg_vm_value_equal(const chg_value *a, const chg_value *b);
/* Append the value as interpolation shows it. */
void chg_vm_value_text(const chg_bundle *b, const chg_value *v, chg_buf *out);
/* Append the value as JSON. */
void chg_vm_value_json(const chg_bundle *b, const chg_value *v, chg_buf *out);
/* The same as part of a change (an intake's): durations as whole seconds. */
void chg_vm_value_change_json(const chg_bundle *b, const chg_value *v, chg_buf *out);

/* The text form of a value into scratch memory (no heap allocation once
 * warm). Returns NULL when out of memory. */
const char *chg_vm_value_to_scratch(chg_ctx *ctx, const chg_value *v, uint32_t *len);

/* Built-ins, expanded from builtins.def: look an implementation up by name
 * (NULL: unknown, or an action). */
typedef struct chg_builtin_impl {
    const char *name;
    chg_builtin_fn fn;
    uint8_t min_args, max_args;
    bool query;               /* answered by the resolver, not computed */
} chg_builtin_impl;
extern const chg_builtin_impl chg_vm_builtin_impls[];
extern const size_t chg_vm_nbuiltin_impls;
const chg_builtin_impl *chg_vm_builtin_impl_find(const char *name);

/* Facts: find a query's answer; NULL when there is none. */
const chg_value *chg_vm_facts_answer(const chg_facts *f, const char *call, const chg_value *args,
                                  uint32_t nargs);
bool chg_vm_facts_flag(const chg_facts *f, const char *name, bool *value);

/* JSON value → chg_value without allocation (objects and arrays stay
 * jansson values: CHG_V_JSON). */
void chg_vm_value_from_json(const void *json, chg_value *out);

/* Parse JSON text (jansson flags); NULL with err "WHAT: line L, column
 * C: reason" (no prefix when what is NULL), or exactly "out of memory". */
struct json_t;
struct json_t *chg_vm_json_parse(const char *text, size_t len, size_t flags, const char *what, char *err,
                                 size_t errlen);

#endif
