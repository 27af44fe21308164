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
 * On error returns NULL and writes "corrupt bundle: reason at offset N"
 * (the reason names the record and field: "RULES[3].when: …") (or
 * another clear reason) into err. */
chg_bundle *chg_bundle_load(const void *data, size_t len, char *err, size_t errlen);
/* The same, with a status: CHG_OK (*out set), CHG_EINVAL (corrupt: err
 * says where), CHG_ERANGE (larger than 4 GiB) or CHG_ENOMEM (err is "out
 * of memory"; the bundle may be fine). */
int chg_bundle_open(const void *data, size_t len, chg_bundle **out, char *err, size_t errlen);
void chg_bundle_free(chg_bundle *b);

const char *chg_bundle_policy_name(const chg_bundle *b);
/* Does the policy read the flag (a window or freeze on it), or ask the
 * external query, of that name? (A facts file that sets a flag nothing
 * reads is most often a typo: `chgc eval` warns.) */
bool chg_bundle_reads_flag(const chg_bundle *b, const char *name);
bool chg_bundle_reads_query(const chg_bundle *b, const char *name);
const char *chg_bundle_policy_version(const chg_bundle *b);
/* Does the policy say when a change happens (`at`)? Without it a change is
 * judged at chg_eval_input.now. */
bool chg_bundle_has_at(const chg_bundle *b);
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
/* Is the flag set, and true? (f NULL: no facts, every flag off.) */
bool chg_facts_flag(const chg_facts *f, const char *name);
/* Append a line to out for each flag and query answer of f that the
 * bundle's policy never reads, with a did-you-mean; returns how many. */
size_t chg_facts_unread(const chg_facts *f, const chg_bundle *b, chg_buf *out);

/* ---- events ------------------------------------------------------------------ */

typedef struct chg_event chg_event;

/* Decode a change (JSON text) into the slots the bundle's policy reads,
 * and check it against the policy's whole schema, if it has one. A change
 * that does not fit is still decoded: what does not fit is kept with the
 * event, and chg_eval's decision about it is `error` naming every
 * offending field (without a schema, a field of the wrong type is a
 * run-time error where the policy reads it). On malformed JSON returns
 * NULL with "line L, column C: reason" in err. */
chg_event *chg_event_decode(const chg_bundle *b, const char *json, size_t len,
                            char *err, size_t errlen);
/* Same, from a parsed jansson value (json_t *); takes a reference. */
chg_event *chg_event_from_json(const chg_bundle *b, void *json, char *err, size_t errlen);

/* Decode what arrived — a change, or a raw event (an EventBridge envelope,
 * an SNS notification carrying one, a webhook body) that one of the
 * policy's intakes maps to a change: the first intake whose `when` holds
 * is used; an event no intake takes must be shaped like a change, or be an
 * envelope whose `detail` is (docs/language.md, "Intake"). Intakes run on
 * ctx with in's now, facts and resolver (in->change is not read). *intake
 * is set to the intake used, or -1 (may be NULL). On error returns NULL
 * with a message naming the event's source and detail-type. */
struct chg_eval_input;
chg_event *chg_event_intake(chg_ctx *ctx, const char *json, size_t len, const struct chg_eval_input *in,
                            int *intake, char *err, size_t errlen);
/* The same, and the change decided on appended to `change` as JSON text
 * (compact, keys sorted: the same content gives the same bytes), which
 * chg_event_decode takes back: what chgd stores as a change's revision. */
chg_event *chg_event_intake_change(chg_ctx *ctx, const char *json, size_t len, const struct chg_eval_input *in,
                                   int *intake, chg_buf *change, char *err, size_t errlen);
/* chg_event_intake of an event already parsed (a jansson json_t *, an
 * object or not); takes a reference, and may parse a string `detail` of
 * it in place, which another policy's intake of the same tree reads
 * alike: chgc replay parses each recorded event once for both policies. */
chg_event *chg_event_intake_json(chg_ctx *ctx, void *json, const struct chg_eval_input *in, int *intake,
                                 char *err, size_t errlen);
void chg_event_free(chg_event *e);
/* Done with e, which chg_event_intake made on ctx: the next intake on ctx
 * may fill it again instead of allocating an event (what e held is gone
 * either way; e must not be used after). */
void chg_ctx_event_done(chg_ctx *ctx, chg_event *e);

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
    CHG_R_APPROVAL,  /* a require-approvals rule applied, still missing */
    CHG_R_REJECTED,  /* an approver rejected the change */
    CHG_R_ERROR,     /* evaluation failed */
    CHG_R_LIMIT      /* a concurrency limit held an allowed change
                        (chg_decision_hold); rule is the limit's index */
} chg_reason_kind;

typedef struct chg_reason {
    uint32_t rule;          /* rule index, or UINT32_MAX for none */
    uint8_t kind;           /* chg_reason_kind */
    uint8_t level;          /* 0 mandatory, 1 overridable, 2 advisory */
    bool overridden;        /* applied, but an approved emergency overrides it */
    bool during;            /* a `deny during` rule: time-based */
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
    /* windows: what the rules that applied require — all of windows[]
     * open at once (window is the first of them) — whether that holds now,
     * when it stops (if open: the first instant a window closes or a freeze
     * of an applying deny-during rule starts) and, when only time stands
     * in the way, the next instant everything is open (INT64_MIN: none
     * required; INT64_MAX: none within the horizon) */
    int32_t window;         /* time-set index, -1 none */
    const uint32_t *windows; /* the required windows, each once, in rule order */
    uint32_t nwindows;
    bool window_open;       /* every required window is open */
    int64_t closes_at;      /* INT64_MIN when not open */
    int64_t cutoff_at;      /* when open and a required window has a cutoff:
                               the first instant no change may start
                               (closes_at stays the windows' real end);
                               INT64_MIN otherwise, INT64_MAX none within
                               the horizon */
    int64_t next_open;      /* INT64_MIN: not computed */
    uint32_t *freezes;      /* time sets of `deny during` that hold now */
    uint32_t nfreezes;
    /* approvals: the requirement in force, as text ("none" when there is
     * none), and its parts that are met and that are missing */
    const char *approvals_required;
    const char **satisfied;
    uint32_t nsatisfied;
    const char **missing;
    uint32_t nmissing;
    /* actions bound to the outcome: data, never performed here */
    struct chg_action *actions;
    uint32_t nactions;
    int32_t arm;            /* the classify arm that decided risk, -1 none */
    bool emergency;         /* an approved emergency: break-glass in effect */
} chg_decision;

typedef struct chg_action {
    uint32_t call;          /* index of the call in the bundle */
    chg_value args;         /* a list, in the call's parameter order */
} chg_action;

/* The resolver of external queries: answer call(args) into *out and
 * return 0, or return -1 when there is no answer (the decision then fails
 * naming the call, and the reason the resolver wrote into err, if any:
 * "SSM GetCalendarState: ThrottlingException …"). Called on the
 * evaluating thread; *out's memory must outlive the decision. Without
 * one, the facts answer. */
typedef int (*chg_resolver_fn)(void *ud, const char *call, const chg_value *args, uint32_t nargs,
                               chg_value *out, char *err, size_t errlen);
/* A JSON value (a jansson json_t *) as the value the VM reads, as the
 * facts' answers are read: no copy, so j must outlive the decision. */
void chg_value_of_json(const void *j, chg_value *out);

typedef struct chg_eval_input {
    const chg_event *change;
    int64_t now;            /* used when the policy has no `at` */
    const chg_facts *facts; /* may be NULL */
    int64_t horizon;        /* how far next_open and closes_at look, seconds:
                               0 is CHG_HORIZON_DEFAULT, more than
                               CHG_HORIZON_MAX is CHG_HORIZON_MAX; an answer
                               at exactly now + horizon is given */
    chg_resolver_fn resolver; /* may be NULL: the facts answer */
    void *resolver_ud;
    bool ignore_at;         /* judge at now even when the policy has `at`:
                               chgc simulate asks what a change's decision
                               would be at instants it was not planned at */
} chg_eval_input;

chg_ctx *chg_ctx_new(const chg_bundle *b);
void chg_ctx_free(chg_ctx *ctx);

/* Evaluate one change. The decision's strings live in ctx until the next
 * evaluation with it. Returns CHG_OK; a policy that fails at run time gives
 * a decision with outcome CHG_ERROR, not an error status. CHG_ENOMEM when
 * memory ran out: the decision is then an `error`, "out of memory" (fail
 * closed), and ctx stays usable. */
int chg_eval(chg_ctx *ctx, const chg_eval_input *in, chg_decision *out);

/* Evaluate changes[0..n) in order, each as chg_eval would with in (its
 * `change` is not read), and hand each decision to fn(ud, i, d, status)
 * before the next evaluation (d lives until then, as chg_eval's). The
 * decisions are chg_eval's, byte for byte; what a batch adds is that
 * while one change is judged the memory of the next ones is brought
 * towards the CPU's caches (prefetch hints, no reads that could fault),
 * so a run over changes decoded earlier does not wait on memory for
 * each. Returns CHG_OK, or the first status other than CHG_OK that an
 * evaluation returned (the batch still goes on to the end). */
typedef void (*chg_decision_fn)(void *ud, size_t i, const chg_decision *d, int status);
int chg_eval_batch(chg_ctx *ctx, const chg_eval_input *in, const chg_event *const *changes, size_t n,
                   chg_decision_fn fn, void *ud);

/* A concurrency limit (`concurrency`, checked outside the decision by a
 * caller that knows the changes in flight: chgd) holds decision d, just
 * made by chg_eval on ctx: an `allow` becomes `defer` with a reason of
 * the limit (index `limit`, its message msg[0..len), which must outlive
 * the decision's writing), next_open `until` (INT64_MAX: unknown), and
 * the actions of `defer` in place of those of `allow`. Called again for
 * a second limit, it adds that limit's reason and keeps the later
 * next_open. CHG_EINVAL when d is not an allow or a held decision of
 * ctx's bundle (nothing changed), CHG_ENOMEM as chg_eval. */
int chg_decision_hold(chg_ctx *ctx, chg_decision *d, uint32_t limit, const char *msg, uint32_t len, int64_t until);

/* Evaluate like chg_eval and explain it in text: every rule in order, whether
 * it applied, the values its condition read and its source position, then
 * what would change the outcome (missing approvals, the next window, the
 * end of a freeze). */
int chg_explain(chg_ctx *ctx, const chg_eval_input *in, chg_decision *out, chg_buf *text);

/* After chg_eval on ctx gave d (not an error): the first instant after
 * d->at, at or before d->at + horizon, at which d stops being admissible
 * by time — one of its required windows closes, or a freeze of an
 * applying `deny during` rule starts (one that already holds at d->at
 * does not count) — or INT64_MAX when none does. What an approved
 * emergency overrides (the windows, the freezes no mandatory rule names)
 * does not count. The same search as d->closes_at (which is only given
 * when a window is required and open), from ctx's index; the facts d was
 * decided with must still be alive. chgc simulate asks it whether a
 * change's whole duration fits. */
int64_t chg_ctx_admissible_until(chg_ctx *ctx, const chg_decision *d, int64_t horizon);

/* After chg_eval on ctx: the first instant after the decision's `at` at
 * which an approval or rejection the change carries is given (one dated
 * later than `at` does not count yet), or INT64_MAX when there is none
 * (or no approval was required). When a change waiting for approvals may
 * be decided differently. */
int64_t chg_ctx_next_approval(const chg_ctx *ctx);

/* After chg_eval: did rule i apply (its condition held and it acted)? For
 * test coverage. */
bool chg_ctx_rule_applied(const chg_ctx *ctx, uint32_t rule);

/* What the last chg_eval on ctx spent of its budgets (docs/vm.md,
 * "Budgets"), and the budgets: steps and bytes of scratch memory; the
 * regex budget is per match, so only its limit is known. */
typedef struct chg_usage {
    uint64_t steps, scratch;
    uint64_t steps_limit, regex_steps_limit, scratch_limit;
} chg_usage;
void chg_ctx_usage(const chg_ctx *ctx, chg_usage *out);

/* Names, for reports. */
uint32_t chg_bundle_nrules(const chg_bundle *b);
const char *chg_bundle_rule_name(const chg_bundle *b, uint32_t rule);
uint32_t chg_bundle_narms(const chg_bundle *b);
/* "policies/p.chg:12:3" of a rule or classify arm. */
const char *chg_bundle_rule_source(const chg_bundle *b, uint32_t rule, char *buf, size_t len);
const char *chg_bundle_arm_source(const chg_bundle *b, uint32_t arm, char *buf, size_t len);
const char *chg_bundle_arm_class(const chg_bundle *b, uint32_t arm);
bool chg_bundle_arm_is_default(const chg_bundle *b, uint32_t arm);
const char *chg_bundle_risk_name(const chg_bundle *b, int risk);
uint32_t chg_bundle_nintakes(const chg_bundle *b);
const char *chg_bundle_intake_name(const chg_bundle *b, uint32_t intake);

/* What a rule is, for listings that read a policy rather than decide
 * (`chgc windows --effective`). */
typedef enum chg_rule_kind {
    CHG_RULE_DENY,     /* deny, or deny during its time sets */
    CHG_RULE_WARN,
    CHG_RULE_WINDOW,   /* require window */
    CHG_RULE_APPROVAL  /* require approvals */
} chg_rule_kind;
typedef struct chg_rule_info {
    const char *name;
    uint8_t level;           /* 0 mandatory, 1 overridable, 2 advisory */
    chg_rule_kind action;
    uint32_t window;         /* WINDOW: the time set it requires (chg_bundle_timeset) */
    const uint32_t *during;  /* DENY: the time sets it denies during, */
    uint32_t nduring;        /* none for a plain deny */
    uint32_t span;           /* its place, for chg_bundle_source */
} chg_rule_info;
void chg_bundle_rule(const chg_bundle *b, uint32_t rule, chg_rule_info *out);

/* To which changes of risk class k (0 in a policy without classes) rule
 * applies, as the compiler proved from its condition: to none, to some
 * (the condition reads more than the risk: fields, time, queries), or to
 * all. A decision never reads it (docs/language.md, Effective slots). */
typedef enum chg_applies {
    CHG_APPLIES_NEVER = 0,
    CHG_APPLIES_SOMETIMES = 1,
    CHG_APPLIES_ALWAYS = 2
} chg_applies;
chg_applies chg_bundle_rule_applies(const chg_bundle *b, uint32_t rule, uint32_t k);
uint32_t chg_bundle_nrisks(const chg_bundle *b);
/* The place of risk class k in the `risk` declaration (chg_bundle_source). */
uint32_t chg_bundle_risk_span(const chg_bundle *b, uint32_t k);

/* Concurrency limits (`concurrency NAME = N of …`), in declaration order.
 * A decision never reads them: chg_concurrency_check (chg_driver.h)
 * applies them to a set of changes in flight. */
typedef struct chg_concurrency_info {
    const char *name;
    uint32_t max;           /* changes in flight at once, 1 or more */
    int min_risk;           /* the lowest class counted, -1: every change */
    const char *per;        /* the field below change, dotted ("service"),
                               the changes are grouped by; NULL: globally */
    uint32_t span;          /* its place, for chg_bundle_source */
} chg_concurrency_info;
uint32_t chg_bundle_nconcurrency(const chg_bundle *b);
void chg_bundle_concurrency(const chg_bundle *b, uint32_t i, chg_concurrency_info *out);
/* The schema's default of the field limit i groups by (`per change.F`),
 * as JSON text in the form a change carries it, appended to out: a
 * change that leaves the field out (or sends null) is in the default's
 * group, as its decision reads it. false (nothing appended) when the limit
 * is global or the field has no default. */
bool chg_bundle_concurrency_default(const chg_bundle *b, uint32_t i, chg_buf *out);

/* Time sets: every declared window and freeze, in declaration order, then
 * the sets written inside `deny during` rules. */
typedef struct chg_timeset_info {
    const char *name;       /* "maintenance", or "rule#1" for an inline set */
    const char *text;       /* the definition as written */
    const char *zone;       /* the one zone its schedules name (not UTC), or NULL */
    const char *kind;       /* "window" or "freeze" */
    bool inline_set;        /* written inside a `deny during` rule: a freeze
                               of that rule alone, not a declaration */
} chg_timeset_info;

uint32_t chg_bundle_ntimesets(const chg_bundle *b);
/* The time set i (chg_time.h) and what describes it; NULL when i is out of
 * range. It belongs to the bundle. */
struct chg_timeset;
const struct chg_timeset *chg_bundle_timeset(const chg_bundle *b, uint32_t i, chg_timeset_info *info);

/* The one decision writer: the decision as one line of JSON (no newline),
 * in the shape of language.md §3. Deterministic: the same decision gives
 * the same bytes. */
void chg_decision_write(const chg_bundle *b, const chg_decision *d, chg_buf *out);

/* A source-map entry as "file:line:col". */
const char *chg_bundle_source(const chg_bundle *b, uint32_t span, char *buf, size_t len);

#endif
