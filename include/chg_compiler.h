/*
 * chg_compiler.h — the compiler's public interface: source files, spans,
 * diagnostics, and compiling a set of .chg files into a checked program.
 *
 * A chg_compiler owns everything of one compilation (sources, AST, types,
 * diagnostics) in one arena; chg_compiler_free() releases it all.
 */
#ifndef CHG_COMPILER_H
#define CHG_COMPILER_H

#include "chg_base.h"

#include <stdio.h>

/* ---- sources and spans ----------------------------------------------- */

/* A half-open byte range [start, end) in source `file` (an index into the
 * compiler's source list; 0 is "no source"). */
typedef struct chg_span {
    uint32_t file;
    uint32_t start;
    uint32_t end;
} chg_span;

typedef struct chg_source {
    char *path;          /* as given or resolved (for imports): for display */
    char *real;          /* realpath(3) of the file, or NULL (standard input,
                            memory): its imports are found next to it */
    char *text;          /* NUL-terminated; may contain NULs before len */
    size_t len;
    uint32_t *lines;     /* byte offset of each line start */
    size_t nlines;
    uint32_t *cps;       /* code points before each CHG_SOURCE_BLOCK bytes, so a
                            column is found in bounded time on a long line */
} chg_source;
#define CHG_SOURCE_BLOCK 4096

/* Line and column (1-based; the column counts code points) of offset. */
void chg_source_position(const chg_source *src, uint32_t offset,
                         uint32_t *line, uint32_t *col);

/* ---- diagnostics ------------------------------------------------------ */

typedef enum chg_severity {
    CHG_NOTE,
    CHG_WARNING,
    CHG_ERROR
} chg_severity;

typedef enum chg_diag_id {
#define CHG_DIAG(code, sev, name, title, msg) CHG_D_##code,
#include "chg_diag.def"
#undef CHG_DIAG
    CHG_D__COUNT
} chg_diag_id;

typedef struct chg_diag_info {
    const char *code;     /* "E0104" */
    chg_severity severity;
    const char *name;     /* "unknown_field" */
    const char *title;    /* "unknown field": its heading in docs/errors.md */
    const char *message;  /* template with %s */
} chg_diag_info;

/* The table generated from chg_diag.def. */
extern const chg_diag_info chg_diag_table[CHG_D__COUNT];
const chg_diag_info *chg_diag_lookup(const char *code);

typedef struct chg_note {
    chg_span span;       /* file 0: a note without a place */
    const char *message;
} chg_note;

typedef struct chg_diag {
    chg_diag_id id;
    chg_severity severity; /* may be raised to error by --werror */
    chg_span span;
    const char *message;
    chg_note notes[4];
    int nnotes;
    const char *help;      /* "did you mean 'env'?" */
} chg_diag;

/* ---- the compiler --------------------------------------------------------- */

typedef struct chg_compiler chg_compiler;

typedef struct chg_compile_options {
    size_t max_errors;        /* stop reporting after this many (default 100) */
    size_t max_file_size;     /* bytes (default 256 MiB) */
    bool lints;               /* run lints (default true) */
    bool no_files;            /* never read files: imports and calendars
                                 fail (fuzzing, untrusted input) */
    int64_t analysis_from;    /* time analysis: the first instant looked at
                                 (0: no time analysis) */
    int64_t horizon;          /* how far it looks, seconds (0: 366 days) */
    /* Files a policy names (imports, calendars, test inputs) are read only
     * from inside the directory of a root file (the working directory for
     * one read from memory or stdin) or of one of these (E0307). */
    const char *const *allow_paths;
    size_t nallow_paths;
} chg_compile_options;

chg_compiler *chg_compiler_new(const chg_compile_options *opts);
void chg_compiler_free(chg_compiler *c);

/* Add a root file to compile. Its imports are found relative to it. Roots
 * added together form one policy. Returns CHG_OK; the file's own errors,
 * for the driver to report (no diagnostic is recorded): CHG_EIO (errno says
 * why), CHG_ENOTREG, CHG_ENOMEM; or CHG_ERANGE with diagnostic E0012 (the
 * file is larger than max_file_size). */
int chg_compiler_add_file(chg_compiler *c, const char *path);
/* Add a root from memory (tests, fuzzing, stdin). `path` names it in
 * diagnostics and is the base for its imports. Returns CHG_OK, CHG_ENOMEM,
 * or CHG_ERANGE with diagnostic E0012. */
int chg_compiler_add_source(chg_compiler *c, const char *path,
                            const char *text, size_t len);

/* Parse, resolve, type-check and lint everything added, then generate the
 * bundle of a program without errors (kept for chg_compiler_emit), so
 * that every limit of the bundle format is an error here, with its place
 * (E06xx). Returns CHG_OK when no error-level diagnostic was produced,
 * CHG_EINVAL when one was, CHG_ENOMEM (never CHG_OK) when memory ran out
 * at any point, even for a diagnostic that then could not be recorded,
 * and CHG_EINTERNAL when the code generator failed on a program the
 * checker passed, with no diagnostic (a bug of chg). */
int chg_compiler_check(chg_compiler *c);

/* chgc fmt: the canonical layout of the one root file added (docs/cli.md),
 * appended to out; *original is that file's source. Only the whitespace between tokens and comments changes; the
 * result is checked to be the same tokens before it is returned. CHG_OK;
 * CHG_EINVAL when the file has syntax errors (diagnostics say which: a
 * file that does not parse is not formatted); CHG_EINTERNAL if the check
 * failed (a bug; nothing usable is in out); CHG_ENOMEM. */
int chg_compiler_format(chg_compiler *c, chg_buf *out, const chg_source **original);

size_t chg_compiler_ndiags(const chg_compiler *c);
const chg_diag *chg_compiler_diag(const chg_compiler *c, size_t i);
size_t chg_compiler_count(const chg_compiler *c, chg_severity sev);
const chg_source *chg_compiler_source(const chg_compiler *c, uint32_t file);
size_t chg_compiler_nsources(const chg_compiler *c);
/* Does this compilation load the file whose realpath(3) is `real` as an
 * import (not as one of its roots)? */
bool chg_compiler_imports(const chg_compiler *c, const char *real);

/* A test file, "…_test.chg": it may import the policy it tests (the
 * `policy` declaration then comes from the import), and it covers no
 * other file for `chgc check` (the policy is still checked on its own). */
bool chg_is_test_file(const char *path);

/* Generate the bundle (.chgb bytes, vm/bundle_format.h) of a program that
 * checked without errors; appends to out (the bytes the check generated).
 * Returns CHG_OK, CHG_EINVAL when the program has errors (the limits of
 * the format among them), CHG_ERANGE when it exceeds them and was never
 * checked (a diagnostic says which), CHG_EINTERNAL for a checker bug,
 * CHG_ENOMEM when memory ran out (now or during the check). */
int chg_compiler_emit(chg_compiler *c, chg_buf *out);

/* ---- tests ------------------------------------------------------------------ */

/* One `expect` clause: what the decision must show. */
typedef struct chg_test_expect {
    const char *key;        /* "outcome", "risk", "missing", "reasons",
                               "warnings", "actions", "next_open",
                               "closes_at", "cutoff_at", "emergency",
                               "freezes" */
    const char *value;      /* JSON: a string, a list of strings, an
                               instant as a string, null, a bool */
    const char *source;     /* "file:line:col" of the clause */
} chg_test_expect;

/* A `test` block of a root file, ready to run. */
typedef struct chg_test_case {
    const char *name;
    const char *file;       /* the file it is in */
    const char *source;     /* "file:line:col" of `test` */
    const char *input;      /* JSON text: the change, or a raw event */
    bool is_event;          /* `event`: goes through the intakes */
    bool has_at;
    int64_t at;             /* `at INSTANT` */
    const char *facts;      /* JSON text of the facts `given` lines make */
    chg_test_expect *expects; /* expects[0] is the outcome */
    uint32_t nexpects;
} chg_test_case;

/* After chg_compiler_check succeeded: the test blocks of the root files,
 * in order. The cases live in the compiler. Returns CHG_OK, or CHG_ENOMEM
 * with no cases. */
int chg_compiler_tests(chg_compiler *c, const chg_test_case **out, size_t *n);
/* How many `test` blocks the root files hold (after parsing, even with
 * errors). */
size_t chg_compiler_ntests(const chg_compiler *c);

/* ---- rendering diagnostics ---------------------------------------------- */

typedef enum chg_report_format {
    CHG_REPORT_TEXT,
    CHG_REPORT_JSON,
    CHG_REPORT_SARIF,
    CHG_REPORT_GITHUB
} chg_report_format;

typedef struct chg_report {
    chg_report_format format;
    bool color;          /* text only: ANSI colours */
    bool werror;         /* report warnings as errors */
    bool summary;        /* text: print "2 errors, 1 warning" */
} chg_report;

/* Render the diagnostics of several compilations (one per root set) to a
 * buffer in the chosen format. Diagnostics are sorted by file and place. */
void chg_report_render(const chg_report *r, chg_compiler *const *cs, size_t n,
                       chg_buf *out);

#endif
