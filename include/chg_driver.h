/*
 * chg_driver.h — the driver layer: what a program that runs policies does
 * with the compiler and the evaluator, written once for chgc and chgd.
 *
 *   compiler/ (source → checked program → bundle bytes)
 *        │
 *   vm/ (bundle bytes → verified bundle → decisions)
 *        │
 *   driver/ (paths → policies, inputs → decisions, tests, listings)
 *        │
 *   cli/ chgc, daemon/ chgd: parse options, call the driver, print
 *
 * The driver never prints and never exits: every function returns an int
 * status (CHG_OK or a negative CHG_E… code) and, where something went
 * wrong that the compiler's diagnostics do not already say, a message of
 * the form "PATH: reason" in the caller's buffer (err, errlen). The
 * programs decide how to show it.
 */
#ifndef CHG_DRIVER_H
#define CHG_DRIVER_H

#include "chg_base.h"
#include "chg_compiler.h"
#include "chg_vm.h"

#include <stdio.h>

/* ---- inputs ------------------------------------------------------------------ */

/* Limits on what the driver reads (0 in a field: the default). */
#define CHG_INPUT_MAX ((size_t)64 << 20)     /* one document: 64 MiB */
#define CHG_INPUT_MAX_LINE ((size_t)64 << 20) /* one JSON line: 64 MiB */
/* a .chgb file: CHG_BUNDLE_MAX (chg_base.h), which the compiler writes no more than */

/* Read a whole input: a regular file, a pipe or FIFO, a terminal, or
 * standard input for "-" (which must be one of those too). At most max
 * bytes (0: CHG_INPUT_MAX). *data is chg_malloc'd and NUL-terminated.
 * Errors: CHG_EIO, CHG_ENOTREG (a directory or another device: never read,
 * so /dev/zero cannot exhaust memory), CHG_ERANGE (larger than max),
 * CHG_ENOMEM; err says "PATH: reason". A pipe or FIFO named by a path must
 * start writing within 10 s (opening one that nobody writes would block
 * for ever, and reading it would look like an empty input): after that it
 * is an error, CHG_EIO. */
int chg_input_read(const char *path, size_t max, char **data, size_t *len, char *err, size_t errlen);

/* A reader of JSON lines (one document a line; blank lines are skipped,
 * "\r\n" endings accepted). A line longer than the limit is not kept: it
 * is reported as that line's error and reading goes on after it. */
typedef struct chg_lines chg_lines;

/* Open path ("-": standard input) for reading lines of at most max_line
 * bytes (0: CHG_INPUT_MAX_LINE). NULL with err on failure. */
chg_lines *chg_lines_open(const char *path, size_t max_line, char *err, size_t errlen);
/* A reader over memory (a request body): data[0..len) and `name` must
 * outlive the reader; lines are handed out in place. NULL when out of
 * memory. */
chg_lines *chg_lines_memory(const char *data, size_t len, const char *name, size_t max_line);
/* Will chg_lines_next return without waiting for a producer? (A whole
 * line or the end is buffered, or the input is a regular file.) */
bool chg_lines_buffered(const chg_lines *r);
/* fn(ud) is called each time the reader is about to wait for input (a
 * pipe, FIFO or terminal that has nothing yet, at a line's start or in its
 * middle): a stream's consumer writes what it has decided. */
void chg_lines_on_wait(chg_lines *r, void (*fn)(void *ud), void *ud);
/* The next non-blank line: returns 1 with *line (valid until the next
 * call; not NUL-terminated), *len and *lineno (1-based) set; 0 at the end;
 * CHG_ERANGE for a line over the limit (*lineno says which, err is not
 * set; call again to go on); CHG_EIO with err on a read error. */
int chg_lines_next(chg_lines *r, const char **line, size_t *len, unsigned long *lineno, char *err, size_t errlen);
/* The longest line kept, in bytes. */
size_t chg_lines_limit(const chg_lines *r);
void chg_lines_close(chg_lines *r);

/* Read and parse a facts file (docs/facts.md). */
int chg_facts_load(const char *path, chg_facts **out, char *err, size_t errlen);

/* ---- policy files -------------------------------------------------------------- */

/* Expand PATH arguments: files as given ("-" as itself), directories
 * recursively to their *.chg files (sorted, hidden entries skipped, at most
 * 64 levels; links to files are followed, links to directories are not, so
 * a link to `..` or `/` cannot make the walk loop or roam). A directory without .chg files is an error. Items are
 * chg_malloc'd strings; free them with chg_strings_free. */
int chg_collect_files(char *const *paths, size_t n, chg_vec *out, char *err, size_t errlen);
void chg_strings_free(chg_vec *v);

/* True for a path naming a bundle (ends in ".chgb"). */
bool chg_is_bundle_path(const char *path);

/* ---- policies: source or bundle, to a verified bundle -------------------------- */

typedef struct chg_policy {
    chg_compiler *compiler; /* the compilation (diagnostics, tests), or
                               NULL for a policy loaded from a .chgb */
    chg_bundle *bundle;     /* verified and ready, or NULL */
    chg_buf bytes;          /* the bundle's bytes, when compiled here */
} chg_policy;

/* Compile root files (one policy: the roots and what they import; "-" is
 * standard input) and check them. Returns CHG_OK; CHG_EINVAL when the
 * policy has errors (p->compiler holds the diagnostics to show); another
 * status with err for what is not the policy's fault (an unreadable file,
 * out of memory). p->compiler is kept in every case but out of memory. */
int chg_policy_compile(chg_policy *p, char *const *paths, size_t n, const chg_compile_options *opts, char *err,
                       size_t errlen);

/* After chg_policy_compile succeeded: generate the bundle and load it
 * through the same verifier a .chgb file passes. CHG_EINVAL when the
 * program exceeds the bundle format's limits (a diagnostic says which);
 * CHG_EINTERNAL (err says why) when the bundle fails its own verification;
 * CHG_ENOMEM. */
int chg_policy_emit(chg_policy *p, char *err, size_t errlen);

/* What a command that runs a policy calls: one path ending in .chgb is
 * loaded and verified; anything else is compiled, checked and emitted.
 * Returns as chg_policy_compile and chg_policy_emit; a bundle that does
 * not verify is CHG_EINVAL with err and p->compiler NULL (so "errors in
 * the policy" is CHG_EINVAL with p->compiler set). */
int chg_policy_open(chg_policy *p, char *const *paths, size_t n, const chg_compile_options *opts, char *err,
                    size_t errlen);
void chg_policy_free(chg_policy *p);

/* chgc check: compile each file as its own policy (files[i] "-" reads
 * standard input), in order, except a file a compilation kept so far
 * imports; a compilation that imports a file kept earlier (and is not
 * imported back by it) drops it. So files that another of them imports
 * are checked, and reported, in their importer's context, and a chain
 * named root first is compiled once. On CHG_OK, *out holds the *nout compilations kept, in order;
 * free each with chg_compiler_free and the array with chg_free. */
int chg_check_files(char *const *files, size_t n, const chg_compile_options *opts, chg_compiler ***out,
                    size_t *nout, char *err, size_t errlen);

/* ---- deciding ----------------------------------------------------------------------- */

/* Decide one input — a change, or a raw event an intake maps to one — and
 * append its decision as one JSON line to out (with explain: the
 * explanation first, then "decision: " and the line). Returns CHG_OK;
 * CHG_EINVAL when the input is not a change: the error line
 * (chg_error_line_write) is appended to out instead, and "WHERE: reason\n"
 * to errs; CHG_ENOMEM when out or errs could not hold it. `where` names
 * the input in messages ("line 3", a file name). base (its facts
 * included) is only read, so threads may share it. */
int chg_decide_json(chg_ctx *ctx, const chg_bundle *b, const char *json, size_t len, const chg_eval_input *base,
                    const char *where, bool explain, chg_buf *out, chg_buf *errs);

/* The line written for an input that could not be decided:
 * {"error":"WHERE: reason"} (where NULL: {"error":"reason"}) and a
 * newline. */
void chg_error_line_write(chg_buf *out, const char *where, const char *reason);

typedef struct chg_decide_options {
    int threads;            /* streams: worker threads; <= 1 decides on the
                               calling thread. Each worker has its own
                               context, made and freed by the call. */
    bool explain;           /* explain each decision before it */
    const char *label;      /* each message to errs starts "LABEL: " (NULL: no label) */
} chg_decide_options;

/* Decide the JSON lines of path ("-": standard input), writing decisions
 * to out and messages to errs in input order; what is decided is written
 * before the reader waits for more input. *failed is set when some line
 * was not a change (its error line stands in its place). Returns CHG_OK,
 * or another status with err: the input cannot be read, out of memory
 * (never a silently dropped decision), or out cannot be written. */
int chg_decide_lines(const chg_bundle *b, const chg_eval_input *base, const char *path, const chg_decide_options *o,
                     FILE *out, FILE *errs, bool *failed, char *err, size_t errlen);
/* The same over an open reader. */
int chg_decide_reader(const chg_bundle *b, const chg_eval_input *base, chg_lines *in, const chg_decide_options *o,
                      FILE *out, FILE *errs, bool *failed, char *err, size_t errlen);
/* Decide the one JSON document of path ("-": standard input), as
 * chg_decide_lines does a line; `where` in messages is the path. */
int chg_decide_document(const chg_bundle *b, const chg_eval_input *base, const char *path,
                        const chg_decide_options *o, FILE *out, FILE *errs, bool *failed, char *err, size_t errlen);

/* ---- formatting -------------------------------------------------------------------- */

/* The canonical layout of one .chg file ("-": standard input), appended to
 * out (chg_compiler_format); *original is the file as read. *cp is the compilation that holds the file
 * and its diagnostics (a file with syntax errors is CHG_EINVAL and is not
 * formatted); free it with chg_compiler_free, whatever the status. Other
 * statuses come with err: the file cannot be read, CHG_EINTERNAL. */
int chg_format_file(const char *path, const chg_compile_options *opts, chg_buf *out, chg_compiler **cp,
                    const chg_source **original, char *err, size_t errlen);
/* A unified diff (3 lines of context) from a to b, with "--- label_a" and
 * "+++ label_b" headers; nothing when they are equal. */
int chg_diff_unified(const char *a, size_t alen, const char *b, size_t blen, const char *label_a,
                     const char *label_b, chg_buf *out);
/* Replace path's content with data: a temporary file beside it, written,
 * given the file's permissions and synced, then renamed over it, so a
 * crash leaves the old file or the new one, never half of either. */
int chg_file_replace(const char *path, const char *data, size_t len, char *err, size_t errlen);

/* ---- replay: two policies on recorded events ---------------------------------------- */

typedef enum chg_replay_format {
    CHG_REPLAY_TEXT,  /* "line N: change ID: allow → pending (…)", both decisions, the counts */
    CHG_REPLAY_JSON   /* one document: {"differences": […], "records", "differ", …} */
} chg_replay_format;

typedef struct chg_replay_options {
    const chg_eval_input *base; /* now (for records without "at", when
                                   has_now), facts (for records without
                                   "facts"), horizon */
    bool has_now;               /* base->now was given (--at) */
    chg_replay_format format;
    FILE *progress;             /* a terminal for the progress line, or
                                   NULL (chg_progress_start) */
    int threads;                /* workers deciding records; <= 1 decides
                                   on the calling thread. The output is
                                   the same bytes whatever the number. */
} chg_replay_options;

typedef struct chg_replay_summary {
    size_t records;  /* decided under both policies */
    size_t differ;   /* of which the decisions differ */
    size_t invalid;  /* lines that are not a record (named on msgs) */
} chg_replay_summary;

/* Decide every record of `in` (JSON lines {"event": {…}, "at": "RFC 3339",
 * "facts": {…}}, docs/replay.md) under old and new, writing to out each
 * record whose decisions differ — ignoring policy, version and source
 * positions — and then the counts of outcome and risk transitions. A line
 * that is not a record is named on msgs and counted in sum->invalid. The
 * output is the same bytes for the same inputs. Returns CHG_OK, or
 * CHG_EIO / CHG_ENOMEM with err (the input could not be read, memory, out
 * could not be written). */
int chg_replay(const chg_bundle *old, const chg_bundle *new_, chg_lines *in, const chg_replay_options *o,
               FILE *out, FILE *msgs, chg_replay_summary *sum, char *err, size_t errlen);

/* ---- progress ------------------------------------------------------------------------- */

/* A progress line for long runs ("replay: 51200 records") rewritten in
 * place on tty, at most four times a second, cleared at the end. NULL tty
 * (stderr is not a terminal, or --quiet): nothing is written, and the
 * functions take the NULL they return. */
typedef struct chg_progress chg_progress;
chg_progress *chg_progress_start(FILE *tty, const char *what, const char *unit);
void chg_progress_tick(chg_progress *p, size_t done);
void chg_progress_end(chg_progress *p);

/* ---- simulate: a schedule of planned changes ----------------------------------------- */

typedef struct chg_sim_options {
    const char *name;        /* the input's name in messages */
    const chg_facts *facts;  /* flags and query answers for every decision (may be NULL) */
    bool has_from, has_to;   /* the range was given; else it runs from the
                                first planned instant to 30 days past the
                                last planned end */
    int64_t from, to;
    int64_t duration;        /* of items without "duration" (seconds, > 0) */
    int64_t approval_lead;   /* > 0: what a change still needs can be had by
                                from + lead (docs/simulate.md); 0: no lead */
    chg_progress *progress;  /* may be NULL */
} chg_sim_options;

typedef struct chg_simulation chg_simulation;

typedef struct chg_sim_summary {
    size_t changes;          /* planned */
    size_t fit;              /* allowed at their planned instant for their whole duration */
    size_t no_slot;          /* with no earliest slot in the range */
    size_t conflicts;
} chg_sim_summary;

/* Judge the planned changes of text[0..len) (a JSON array, or JSON lines,
 * of changes or {"change": {…}, "at": "RFC 3339", "duration": "2h",
 * "depends_on": ["service", …]}; docs/simulate.md) under b: each one's
 * decision at its planned instant, its earliest slot in the range, its
 * needs, and the conflicts between them. Returns CHG_OK with *out;
 * CHG_EINVAL when the input has errors ("NAME: WHERE: reason" lines on
 * errs, WHERE a JSON path "[3].at" or "line 4"; nothing is judged then:
 * a schedule read in part would hide its conflicts); CHG_ENOMEM. */
int chg_simulate(const chg_bundle *b, const char *text, size_t len, const chg_sim_options *o,
                 chg_simulation **out, chg_buf *errs);
void chg_simulation_summary(const chg_simulation *s, chg_sim_summary *out);

typedef enum chg_sim_format {
    CHG_SIM_TEXT,            /* the timeline, for a terminal */
    CHG_SIM_JSON,            /* one document */
    CHG_SIM_ICS_CHANGES,     /* iCalendar: the planned changes */
    CHG_SIM_ICS_FREEZES,     /* iCalendar: the freezes in the range */
    CHG_SIM_HTML             /* one self-contained page */
} chg_sim_format;

/* Append the report in format f to out. The same simulation gives the
 * same bytes. CHG_OK or CHG_ENOMEM. */
int chg_simulation_write(const chg_simulation *s, chg_sim_format f, chg_buf *out);
void chg_simulation_free(chg_simulation *s);

/* ---- concurrency limits --------------------------------------------------------------- */

/* One change in flight, or planned to be: the input of chg_concurrency_check. */
typedef struct chg_inflight {
    const char *id;         /* its id, for messages (may be NULL) */
    int64_t start, end;     /* in flight during [start, end), Unix seconds */
    int risk;               /* its class (chg_bundle_risk_name), -1 unknown:
                               counted under every limit, as the highest */
    const char *change;     /* the change as JSON text, read for `per`
                               fields; NULL: it has none (its groups are null) */
    size_t len;
} chg_inflight;

/* The in-flight changes a violation lists by index; it counts them all. */
#define CHG_CONCURRENCY_LISTED 20

/* A change that starts while `max` counted changes of its group are
 * already in flight. */
typedef struct chg_concurrency_violation {
    uint32_t limit;         /* the limit (chg_bundle_concurrency) */
    size_t change;          /* the change that starts over it, an input index */
    int64_t at;             /* when: that change's start */
    size_t *inflight;       /* the changes in flight then, input indexes in
                               start order: the first nlisted of them */
    size_t nlisted, ninflight;
    char *value;            /* the group's field value as compact JSON
                               ("\"payments\"", "null"), NULL globally */
} chg_concurrency_violation;

/* Apply b's concurrency limits (docs/language.md, `concurrency`) to
 * changes[0..n): for each limit, the changes it counts (risk at least
 * its class, or unknown) grouped by its field's value, each change that
 * starts while `max` of its group are in flight — including those over
 * the limit themselves — is a violation. *out (free with
 * chg_concurrency_violations_free) is sorted by limit, start and index;
 * NULL with *nout 0 when there is none. Deterministic; O(n log n) time
 * plus the in-flight set at each start. Returns CHG_OK, CHG_EINVAL with
 * err naming the change (an interval that ends before it starts, a risk
 * class the policy has not, a change that is not a JSON object), or
 * CHG_ENOMEM. */
int chg_concurrency_check(const chg_bundle *b, const chg_inflight *changes, size_t n,
                          chg_concurrency_violation **out, size_t *nout, char *err, size_t errlen);
void chg_concurrency_violations_free(chg_concurrency_violation *v, size_t n);
/* One violation as a sentence naming the changes and the rule:
 * change "c3" starts at 2026-12-02T10:00:00Z while 1 change is in flight
 * with change.service = "payments" ("c1"): concurrency one_per_service
 * allows 1 of any per change.service */
void chg_concurrency_violation_text(const chg_bundle *b, const chg_inflight *changes,
                                    const chg_concurrency_violation *v, chg_buf *out);

/* ---- windows and freezes ------------------------------------------------------------ */

typedef enum chg_listing_format {
    CHG_LIST_TEXT,  /* UTC, and the set's local time when it has one zone */
    CHG_LIST_JSON,
    CHG_LIST_ICS    /* iCalendar (RFC 5545) */
} chg_listing_format;

/* List every window's and freeze's intervals within [from, to) (clipped)
 * with the runtime flags in `flags` (NULL-terminated, may be NULL) set. */
int chg_windows_list(const chg_bundle *b, int64_t from, int64_t to, const char *const *flags,
                     chg_listing_format format, chg_buf *out);

/* `chgc windows --effective`: per risk class (only class `risk`, unless
 * it is -1; one entry for all changes in a policy without classes), the
 * intervals in [from, to) at which a change of the class may go — every
 * window a rule requires of it open, no set a rule denies it during
 * holding — with the windows and freezes that shape them and the rules
 * behind each (a rule that applies to only some changes of the class is
 * assumed to apply, and named so). A class with no such instant is W0030:
 * a text diagnostic line appended to diags (text and ics), or an entry of
 * the JSON document's "diagnostics"; *nwarnings counts them. Emergency
 * changes, which bypass windows and freezes, are not what it lists.
 * CHG_OK, CHG_ERANGE (from outside the years 0000-9999), CHG_ENOMEM. */
int chg_windows_effective(const chg_bundle *b, int64_t from, int64_t to, const char *const *flags, int risk,
                          chg_listing_format format, chg_buf *out, chg_buf *diags, size_t *nwarnings);

/* ---- tests -------------------------------------------------------------------------- */

typedef enum chg_test_format {
    CHG_TEST_TEXT,
    CHG_TEST_TAP,
    CHG_TEST_JUNIT,
    CHG_TEST_JSON
} chg_test_format;

typedef struct chg_test_result {
    char *name, *file, *source; /* the test's, copied: the suite outlives
                                   the compiler that held the cases */
    bool passed;
    char *failures;         /* one line per failed expectation; heap */
    char *decision;         /* the decision (JSON), or NULL; heap */
} chg_test_result;

/* One policy's run. */
typedef struct chg_test_suite {
    char *policy;           /* the root file */
    chg_test_result *results;
    size_t n;
    /* coverage: rule i / classify arm k exercised by some test */
    uint32_t nrules, narms;
    bool *rule_hit, *arm_hit;
    char **rule_names, **rule_sources, **arm_names, **arm_sources;
    /* the most one test's decision spent of the budgets (chg_ctx_usage),
     * and the policy's budgets, for `chgc test --budgets` */
    uint64_t max_steps, max_scratch;
    uint64_t steps_limit, regex_steps_limit, scratch_limit;
} chg_test_suite;

/* Run cases[i] where keep[i] (keep may be NULL) against bundle b. Tests
 * without `at`, of a policy without `at`, run at default_now. */
int chg_test_run(const chg_bundle *b, const char *policy, const chg_test_case *cases, size_t n, const bool *keep,
                 int64_t default_now, chg_test_suite *out);
/* Free what a suite holds (also after chg_test_run failed). */
void chg_test_suite_free(chg_test_suite *s);

/* Coverage of a suite in percent (100 when there is nothing to cover). */
double chg_test_coverage(const chg_test_suite *s);

/* Render suites; with coverage, list what no test exercised. */
void chg_test_render(const chg_test_suite *suites, size_t n, chg_test_format f, bool coverage, bool color,
                     chg_buf *out);

/* chgc test over files: each file with tests is compiled as its own policy
 * and its tests run. What happened to each file, in order: */
typedef enum chg_test_file_state {
    CHG_TF_NO_TESTS,   /* compiled cleanly and holds no test */
    CHG_TF_BROKEN,     /* the policy has errors: `compiler` has them */
    CHG_TF_RAN         /* `suite` is its run */
} chg_test_file_state;

typedef struct chg_test_file {
    const char *path;       /* as in files[] */
    chg_test_file_state state;
    chg_compiler *compiler; /* CHG_TF_BROKEN: the diagnostics to show */
    chg_test_suite *suite;  /* CHG_TF_RAN */
} chg_test_file;

typedef struct chg_test_session {
    chg_test_file *files;
    size_t nfiles;
    chg_test_suite *suites; /* of the files that ran, in order */
    size_t nsuites, ntests, nfailed;
} chg_test_session;

/* Run the tests of files (CHG_OK even when tests fail: see nfailed and
 * each file's state); `run` selects tests by name (PCRE2, may be NULL);
 * tests without an instant run at now; opts (may be NULL) gives the
 * allowed paths (lints are off). CHG_EINVAL with err for a bad regex;
 * CHG_EIO with err for an unreadable file; CHG_ENOMEM. */
int chg_test_files(char *const *files, size_t n, const char *run, int64_t now, const chg_compile_options *opts,
                   chg_test_session *out, char *err, size_t errlen);
void chg_test_session_free(chg_test_session *s);

/* ---- the audit log ------------------------------------------------------------------ */

/* chgd's audit log is a hash chain (driver/audit.c says the canonical
 * content): one definition of it, for the daemon that appends and for
 * `chgc audit` that verifies and exports. */
#define CHG_AUDIT_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

typedef struct chg_audit_record {
    uint64_t seq;           /* 1, 2, … without gaps */
    const char *prev;       /* the previous record's hash (64 hex digits) */
    const char *hash;       /* this record's (chg_audit_hash) */
    const char *at;         /* RFC 3339 UTC, when it was written */
    const char *kind;       /* "event", "decision", "approval", "flag", "reload", "start", "action", "digest" */
    const char *subject;    /* the change id or flag name, or "" */
    const char *data;       /* compact JSON object */
} chg_audit_record;

/* The SQL that creates the audit table (and refuses UPDATE and DELETE on
 * it); the store runs it, the verifier reads that table. */
extern const char chg_audit_schema_sql[];

/* SHA-256 of r's canonical content (r->hash is not read), 64 hex digits. */
void chg_audit_hash(const chg_audit_record *r, char out[65]);
/* r as one JSON object (no newline), data embedded: what GET /v1/audit
 * lists and `chgc audit export` writes a line of. */
void chg_audit_record_json(const chg_audit_record *r, chg_buf *out);

/* Check the whole chain of the store at path: CHG_OK with *nrecords; or
 * CHG_EINVAL with "record N: reason" for the first record that breaks it;
 * CHG_EIO when the store cannot be opened or read (never created). */
int chg_audit_verify(const char *path, uint64_t *nrecords, char *err, size_t errlen);
/* The same with signed digests (--pubkey): pubkey is a PEM Ed25519 public
 * key file. Besides the chain: every digest record covers the record
 * before it and its signature verifies with the key; at least one digest
 * exists; no record is more than the last digest's `every` records past
 * it (records after the last one are counted in *unsigned_tail, allowed
 * up to that bound). *ndigests counts the digests checked. */
int chg_audit_verify_signed(const char *path, const char *pubkey, uint64_t *nrecords, uint64_t *ndigests,
                            uint64_t *unsigned_tail, char *err, size_t errlen);

/* Signed digests (chgd --audit-key): an Ed25519 key through OpenSSL, the
 * private one to sign, the public one to verify. */
typedef struct chg_audit_key chg_audit_key;
/* A PEM file: a private key (PKCS#8, `openssl genpkey -algorithm
 * ed25519`) when private, else a public one (`openssl pkey -pubout`). */
int chg_audit_key_load(const char *path, bool private_key, chg_audit_key **out, char *err, size_t errlen);
void chg_audit_key_free(chg_audit_key *k);
/* Sign the digest of the head (seq, hash) of a log signed every `every`
 * records: appends the digest record's members "public_key":"HEX",
 * "signature":"HEX" to out. The signed bytes are "chg-audit-digest-1",
 * seq, hash and every, each followed by a newline. */
int chg_audit_sign(const chg_audit_key *k, uint64_t seq, const char *hash, uint64_t every, chg_buf *out);

/* Write the records after `since` (seq > since) as JSON lines to out;
 * with events, only the events, as records `chgc replay` reads:
 * {"seq", "at", "event" (as it arrived), "facts" (the --facts file of the
 * daemon then, with the flags set then)}. */
int chg_audit_export(const char *path, uint64_t since, bool events, FILE *out, uint64_t *nrecords, char *err,
                     size_t errlen);

#endif
