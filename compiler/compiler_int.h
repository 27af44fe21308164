/*
 * compiler_int.h — the compiler's internals shared by its passes: the
 * compiler state, the diagnostics API, the symbol table and the passes'
 * entry points. Not for use outside compiler/ and grammar/.
 */
#ifndef CHG_COMPILER_INT_H
#define CHG_COMPILER_INT_H

#include "ast.h"
#include "chg_compiler.h"

/* Limits that keep hostile input linear and the passes' recursion bounded. */
#define CHG_MAX_DEPTH 256          /* bracket and expression nesting */
#define CHG_DEFAULT_MAX_ERRORS 100
#define CHG_DEFAULT_MAX_FILE (256u << 20)

/* ---- string map: name → pointer, open addressing ---------------------- */

typedef struct chg_map_entry {
    const char *key; /* NULL: empty */
    uint64_t hash;
    void *value;
} chg_map_entry;

typedef struct chg_map {
    chg_map_entry *e;
    size_t cap;     /* power of two */
    size_t len;
} chg_map;

void chg_c_map_free(chg_map *m);
void *chg_c_map_get(const chg_map *m, const char *key);
/* Insert or replace. Returns CHG_OK or CHG_ENOMEM. The key is not copied. */
int chg_c_map_put(chg_map *m, const char *key, void *value);
uint64_t chg_c_hash_str(const char *s);

/* ---- types --------------------------------------------------------------- */

typedef enum chg_type_kind {
    T_ERROR,     /* already reported; suppresses follow-on errors */
    T_ANY,       /* dynamically typed (no schema, or event data) */
    T_NULL,
    T_BOOL,
    T_INT,
    T_FLOAT,
    T_STRING,
    T_TIME,
    T_DURATION,
    T_RISK,
    T_ENUM,
    T_LIST,
    T_OBJECT,
    T_OPTIONAL,
    T_TIMESET    /* a window or freeze name: only as the right of `in` */
} chg_type_kind;

typedef struct chg_type_field {
    const char *name;
    chg_type *type;
    chg_expr *dflt;       /* schema default, or NULL */
    chg_span span;
} chg_type_field;

struct chg_type {
    chg_type_kind kind;
    union {
        struct { const char **values; uint32_t n; } enm;
        chg_type *elem;                                /* LIST, OPTIONAL */
        struct { chg_type_field *fields; uint32_t n; } obj;
    } u;
};

/* Shared singletons for the scalar types. */
extern chg_type chg_c_type_error, chg_c_type_any, chg_c_type_null, chg_c_type_bool,
    chg_c_type_int, chg_c_type_float, chg_c_type_string, chg_c_type_time,
    chg_c_type_duration, chg_c_type_risk, chg_c_type_timeset;

chg_type *chg_c_type_list(chg_arena *a, chg_type *elem);
chg_type *chg_c_type_optional(chg_arena *a, chg_type *t);
/* "string", "[int]", "enum(\"a\", \"b\")", "string?", "{ name: string }" */
const char *chg_c_type_str(chg_arena *a, const chg_type *t);
const chg_type_field *chg_c_type_field_find(const chg_type *obj, const char *name);
int chg_c_type_enum_index(const chg_type *t, const char *s, size_t len);
bool chg_c_type_equal(const chg_type *a, const chg_type *b);
/* Strip one level of `?`. */
const chg_type *chg_c_type_strip(const chg_type *t);

/* ---- built-in functions ------------------------------------------------ */

typedef enum chg_builtin_kind {
    BI_FUNCTION,   /* pure: lower, len, hour, … */
    BI_QUERY,      /* external query through the resolver: aws.cloudwatch.… */
    BI_ACTION      /* action, only after `do` */
} chg_builtin_kind;

/* Argument and result types, as type-kind codes with a few extras. */
typedef enum chg_param {
    P_ANY, P_STRING, P_INT, P_NUMBER, P_BOOL, P_TIME, P_DURATION,
    P_LIST, P_STRING_OR_LIST, P_ZONE,  /* a plain string naming an IANA zone */
    /* Strings of the form an AWS API requires (compiler/aws_shapes.c):
     * any string type-checks; a literal is checked against the form. */
    P_AWS_SNS_TOPIC_ARN, P_AWS_CFN_STACK, P_AWS_CFN_CHANGE_SET, P_AWS_PIPELINE_NAME,
    P_AWS_PIPELINE_EXECUTION_ID, P_AWS_APPROVAL_TOKEN, P_AWS_APPROVAL_STATUS, P_AWS_SSM_EXECUTION_ID,
    P_AWS_SSM_SIGNAL, P_AWS_EVENT_BUS
} chg_param;

#define CHG_BI_MAXPARAMS 6
typedef struct chg_builtin {
    const char *name;          /* "lower", "aws.cloudwatch.alarm_state" */
    chg_builtin_kind kind;
    uint8_t min_args, max_args;
    chg_param params[CHG_BI_MAXPARAMS];
    uint8_t nparams;           /* how many params lists; the last repeats */
    chg_param result;
    const char *doc;           /* one line, for docs/language.md */
} chg_builtin;

extern const chg_builtin chg_c_builtins[];
extern const size_t chg_c_nbuiltins;
const chg_builtin *chg_c_builtin_find(const char *name);
/* The kind of argument i (from 0) of b: its own, or the last one listed
 * for the arguments of a variadic built-in past them. */
chg_param chg_c_builtin_param(const chg_builtin *b, uint32_t i);

/* AWS argument shapes (aws_shapes.c): is p one, and if so, report on a
 * literal argument s that does not have its form (E0800-E0802); true if
 * s is fine. */
bool chg_c_aws_shape(chg_param p);
bool chg_c_aws_shape_check(chg_compiler *c, chg_param p, const char *s, chg_span span, const char *call,
                           uint32_t argno);

/* ---- the compiler --------------------------------------------------------- */

struct chg_compiler {
    chg_arena arena;
    chg_compile_options opts;

    chg_vec sources;          /* chg_source* ; index 0 is a dummy */
    chg_vec files;            /* chg_file*, parsed; [i] for sources[i] */
    chg_vec roots;            /* source indexes added as roots */
    chg_map source_by_path;   /* realpath → (uintptr_t) index */
    chg_vec trees;            /* realpaths of the directories files may be
                                 read from (chg_c_path_allowed) */
    bool trees_made;

    chg_vec diags;            /* chg_diag* */
    size_t nerrors, nwarnings;
    bool error_limit_hit;
    bool oom;                 /* an allocation failed (a diagnostic may be
                                 missing): the result is CHG_ENOMEM */

    /* Merged program, filled by the resolver. */
    chg_map globals;          /* let, window, freeze, risk class → chg_decl* */
    chg_map rules;            /* rule name → chg_decl* */
    chg_map intakes, tests;
    chg_map concurrency;      /* concurrency limit name → chg_decl* */
    bool uses_approvals;      /* an approvals block or a `require` rule
                                 (set by the checker; codegen reads it) */
    bool has_emergency;       /* approvals has an `emergency` entry */
    int decl_depth;           /* lets, or time sets, being checked inside
                                 one another (check.c, decl_too_deep) */
    bool decl_reported;       /* its E0011 was reported */
    chg_vec all_decls;        /* every declaration, in file order */
    chg_decl *policy, *schema, *at, *risk, *classify, *approvals, *limits;
    /* the budgets `limits` sets (check_limits): steps, regex steps,
     * scratch bytes; 0 where it says nothing (the VM's default) */
    uint64_t limit[3];
    chg_type *change_type;    /* from the schema, or &chg_c_type_any */
    uint64_t *reach;          /* bit j of row i: file i sees file j */
    size_t reach_n, reach_words;
    chg_map zones;            /* zone name → chg_tz*, loaded once */
    chg_map flags_read;       /* flag names time sets read (W0016) */
    chg_map queries_read;     /* external queries called outside tests */
    chg_vec zone_list;        /* to free them */
    /* The bundle the check generated (chg_c_codegen): the check runs the
     * code generator, so every limit of the format is reported by
     * `chgc check`, and chg_compiler_emit hands these bytes out rather
     * than generating them again. */
    chg_buf bundle;
    bool generated;           /* bundle holds the program's bundle */
    bool internal;            /* generation failed with no diagnostic: a bug */
    chg_map calendar_texts;   /* realpath → its text, read once */
    chg_map calendars_linted; /* texts (by address) whose import rules were checked */
    struct chg_ts_cache *calendars; /* their expansions, once each (timesets.c) */
};

/* Generate the bundle of a program that checked without errors into
 * c->bundle, reporting every limit of the bundle format and the loader
 * it exceeds (E06xx, with its span). CHG_OK (limits are diagnostics),
 * CHG_ENOMEM, or CHG_EINTERNAL when generation failed without a
 * diagnostic (a checker bug). Run by the check (compile.c). */
int chg_c_codegen(chg_compiler *c);

/* Record a diagnostic. Arguments are strings for the %s of the template,
 * NULL-terminated. Returns the diagnostic so notes and help can be added,
 * or NULL when the error limit was hit or memory ran out (callers must
 * accept NULL; the engine remembers the failure, see chg_c_status). */
chg_diag *chg_c_diag_report(chg_compiler *c, chg_diag_id id, chg_span span, ...);
void chg_c_diag_note(chg_compiler *c, chg_diag *d, chg_span span,
                   const char *fmt, ...) CHG_PRINTF(4, 5);
void chg_c_diag_help(chg_compiler *c, chg_diag *d, const char *fmt, ...)
    CHG_PRINTF(3, 4);
/* Add "did you mean 'x'?" for the closest of `candidates` to `name`, if
 * any is close enough. */
void chg_c_diag_suggest(chg_compiler *c, chg_diag *d, const char *name,
                      const char *const *candidates, size_t n);
const char *chg_c_span_text(chg_compiler *c, chg_span s); /* arena copy */

/* Remember an allocation failure: whatever the diagnostics say, the
 * compilation then ends in CHG_ENOMEM, so a diagnostic that could not be
 * recorded never turns into "no errors". Returns CHG_ENOMEM. */
int chg_c_nomem(chg_compiler *c);
/* CHG_ENOMEM when an allocation of the compilation failed (remembered, or
 * one of its arena's), else CHG_OK. Passes return it. */
int chg_c_status(const chg_compiler *c);
/* Report a syntax error (E0013) from the parser's data: "unexpected X,
 * expected A or B" ("syntax error" without a token). */
chg_diag *chg_c_diag_syntax(chg_compiler *c, chg_span span, const char *unexpected,
                          const char *const *expected, size_t n);

/* Add a source (copying text); returns its index, or 0 on OOM. */
uint32_t chg_c_add_text(chg_compiler *c, const char *path,
                               const char *text, size_t len);

/* ---- passes ---------------------------------------------------------------- */

/* Parse source `file` into *out (NULL when memory ran out). Returns
 * CHG_OK (syntax errors are diagnostics) or CHG_ENOMEM. */
int chg_c_parse(chg_compiler *c, uint32_t file, chg_file **out);
/* Scan source `file` only: store up to max token kinds (the parser's token
 * numbers; 0 ends) and spans. Returns the number of tokens. For tests and
 * tools that need tokens (formatters, highlighters). */
size_t chg_c_lex_all(chg_compiler *c, uint32_t file, int *kinds, chg_span *spans, size_t max);
/* The name of a token kind as messages show it ("'when'", "identifier"). */
const char *chg_c_token_name(int kind);
/* path with "." segments dropped and "dir/.." folded, for naming files */
const char *chg_c_normalize_path(chg_compiler *c, const char *path);
/* The passes below report what they find as diagnostics and return
 * CHG_OK, or CHG_ENOMEM when memory ran out (chg_c_status). */
/* Merge declarations, resolve names. */
int chg_c_resolve(chg_compiler *c);
/* Build the schema type and type-check every declaration. */
int chg_c_typecheck(chg_compiler *c);
/* Lints (warnings). */
int chg_c_lint(chg_compiler *c);

/* ---- time sets (timesets.c) ---------------------------------------------- */

struct chg_ts_node;
struct chg_tz;
struct chg_time_error;
/* A window's or freeze's node tree for the time-set library (the nodes
 * codegen writes as TSNODES and the analysis builds sets from). */
typedef struct chg_c_tsnodes {
    struct chg_ts_node *nodes;
    uint32_t n, cap;
    bool oom;             /* a push failed: -1 was for want of memory */
    bool too_large;       /* more than CHG_TS_MAX_NODES: -1 for that */
} chg_c_tsnodes;
/* Append t's nodes (references inlined); returns t's node index, or -1
 * when the tree has errors (already reported) or memory ran out (out->oom
 * says which). */
int chg_c_ts_flatten(const chg_tsexpr *t, chg_c_tsnodes *out, int depth);

void chg_c_tsnodes_free(chg_c_tsnodes *n);
const struct chg_tz *chg_c_zone(chg_compiler *c, const char *name, struct chg_time_error *err);
void chg_c_check_zone(chg_compiler *c, const chg_ident *zone);
void chg_c_check_sched(chg_compiler *c, chg_tsexpr *t); /* cron, rate, at */
void chg_c_check_calendar(chg_compiler *c, const chg_tsexpr *t);
/* chg_timeset_build with the compilation's calendar cache, so each
 * calendar is expanded once however many sets name it. */
struct chg_timeset *chg_c_ts_build(chg_compiler *c, const struct chg_ts_node *nodes, size_t n, int root,
                                   struct chg_time_error *err, int *bad);
/* The warnings of `chgc check` about time (opts.analysis_from). */
int chg_c_time_analysis(chg_compiler *c);

/* applies.c: to which risk classes a rule applies (CHG_APPLIES_NEVER,
 * SOMETIMES or ALWAYS of chg_vm.h): for class k (0 in a policy without
 * classes), and as runs over the classes — each run from its first class
 * to the next run's, adjacent runs different, the first from class 0. */
int chg_c_rule_applies(const chg_compiler *c, const chg_decl *rule, int k);
typedef struct chg_c_applies_run {
    uint32_t from_class;
    uint8_t how;
} chg_c_applies_run;
/* The most runs a rule has (its budget of visits bounds the classes its
 * condition names). Returns how many were written. */
#define CHG_C_APPLIES_MAX_RUNS 8200
size_t chg_c_rule_applies_runs(const chg_compiler *c, const chg_decl *rule, chg_c_applies_run *runs, size_t max);

/* Can code in file `from` use a declaration made in file `decl`? */
bool chg_c_visible(const chg_compiler *c, uint32_t from, uint32_t decl);

/* tests.c: the JSON of a test's constant value (E0510 when report and it
 * is not one); reading `change "file.json"` inputs. */
bool chg_c_test_json(chg_compiler *c, const chg_expr *e, chg_buf *out, bool report);
void chg_c_test_file(chg_compiler *c, uint32_t file, struct chg_test_item *it);
/* May the file at real (a realpath), named rel in the policy, be read?
 * Otherwise reports E0307 at span (source.c). */
bool chg_c_path_allowed(chg_compiler *c, const char *real, const char *rel, chg_span span);

/* Read `rel`, found relative to source `file` (calendars, test inputs);
 * on failure report `id` at span ("cannot read …") with a note naming the
 * path looked for. */
int chg_c_read_relative(chg_compiler *c, uint32_t file, const char *rel, chg_span span, chg_diag_id id,
                        const char *what, char **text, size_t *len);
/* The same for a file many places may name (calendars): read once per
 * compilation, found again in `once` by its real path; the text is the
 * arena's and the same pointer for every place. */
int chg_c_read_relative_once(chg_compiler *c, chg_map *once, uint32_t file, const char *rel, chg_span span,
                             chg_diag_id id, const char *what, const char **text, size_t *len);

/* Lexical helpers shared by the lexer and the checker. */
int chg_c_parse_time_of_day(const char *s, int *minutes);  /* "HH:MM" */
int chg_c_day_index(const char *name);   /* "sun".."sat" (and full) → 0..6 */
int chg_c_month_index(const char *name); /* "jan".."dec" (and full) → 1..12 */

#endif
