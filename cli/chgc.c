/*
 * chgc.c — the chgc program: subcommand dispatch, --help, --version, and
 * the printing helpers the subcommands share (diagnostics, colour, errors).
 */
#include "chg_time.h"
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The command table, in the order `chgc --help` lists it. Each run
 * function gets argv from the command name on, so it parses its own
 * options with getopt_long as if it were a program of its own (and
 * resets optind to 1 first, since getopt keeps global state). */
static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"check", chgc_check, "parse, resolve, type-check and lint policy files"},
    {"build", chgc_build, "compile policy files into a verified bundle (.chgb)"},
    {"eval", chgc_eval, "decide one change (or a stream of them) against a policy"},
    {"disasm", chgc_disasm, "print a bundle's bytecode with source positions"},
    {"test", chgc_test, "run a policy's test blocks (text, TAP, JUnit or JSON; coverage)"},
    {"windows", chgc_windows, "list the intervals of a policy's windows and freezes"},
    {"fmt", chgc_fmt, "lay policy files out canonically (--check: only report, with a diff)"},
    {"simulate", chgc_simulate, "judge planned changes ahead of time: earliest slots and conflicts"},
    {"replay", chgc_replay, "decide recorded events under two policies and show what differs"},
    {"audit", chgc_audit, "verify or export a chgd store's hash-chained audit log"},
};

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: chgc COMMAND [OPTIONS] [ARGS]\n"
            "\n"
            "chgc compiles and checks change policies written in the .chg language.\n"
            "\n"
            "Commands:\n");
    for (size_t i = 0; i < CHG_ARRAY_LEN(commands); i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "\n"
            "Options:\n"
            "  -h, --help      show this help (chgc COMMAND --help for a command)\n"
            "  -V, --version   show the version\n"
            "\n"
            "Exit status: 0 success, 1 findings (errors, failed tests), 2 usage or I/O error.\n"
            "Documentation: docs/cli.md, docs/language.md, docs/errors.md\n");
}

/* Exit statuses, for every command (cli.h): 0 the command did what was
 * asked; 1 it did, and found something the caller must act on (errors in
 * a policy, a failed test, a change that could not be decided); 2 it
 * could not do its work (bad usage, unreadable input, out of memory).
 * A CI job can then tell "the policy is wrong" from "the job is wrong".
 * A decision's outcome, even deny, is never an exit status: it is data in
 * the output, and a pipeline that wants to gate on it reads the JSON. */
int main(int argc, char **argv)
{
    /* no command: usage on stderr and status 2, since nothing was done;
     * an explicit --help is a success and goes to stdout */
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return EXIT_CLEAN;
    }
    if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
        printf("chgc %s\n", CHG_VERSION_STRING);
        return EXIT_CLEAN;
    }
    for (size_t i = 0; i < CHG_ARRAY_LEN(commands); i++)
        if (!strcmp(cmd, commands[i].name)) {
            int status = commands[i].run(argc - 1, argv + 1);
            /* a command's output that never reached its file is an error,
             * whatever the command thought (a full disk, a closed pipe) */
            int flushed = fflush(stdout), saved = errno;
            if (flushed != 0 || ferror(stdout)) {
                chgc_error("cannot write the output: %s", flushed != 0 ? strerror(saved) : "a write failed");
                return EXIT_USAGE;
            }
            return status;
        }
    chgc_error("unknown command '%s' (see 'chgc --help')", cmd);
    return EXIT_USAGE;
}

/* ---- shared helpers -------------------------------------------------------- */

/* One line on stderr, prefixed "chgc: " so it is told apart from the
 * output of a pipeline's other programs; messages quote the offending
 * value, so the user sees what chgc read, as visible text (chg_base.h): a
 * file name or a parser's quote of the input with a newline or an escape
 * in it stays one line and moves no cursor. */
void chgc_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    chg_buf raw, line;
    chg_buf_init(&raw);
    chg_buf_init(&line);
    chg_buf_vprintf(&raw, fmt, ap);
    va_end(ap);
    chg_buf_put_visible(&line, raw.data ? raw.data : "", raw.len);
    fputs("chgc: ", stderr);
    if (raw.oom || line.oom)
        fputs(chg_strerror(CHG_ENOMEM), stderr);
    else
        fwrite(line.data ? line.data : "", 1, line.len, stderr);
    fputc('\n', stderr);
    chg_buf_free(&raw);
    chg_buf_free(&line);
}

/* 1 colour, 0 none, -1 not a valid WHEN. "auto" follows the NO_COLOR
 * convention (no-color.org: set and non-empty disables) and then asks
 * whether stream is a terminal: a file or a pipe never gets escapes. */
int chgc_parse_color(const char *when, FILE *stream)
{
    if (!strcmp(when, "always"))
        return 1;
    if (!strcmp(when, "never"))
        return 0;
    if (!strcmp(when, "auto")) {
        const char *nc = getenv("NO_COLOR");
        if (nc && *nc)
            return 0;
        return isatty(fileno(stream)) ? 1 : 0;
    }
    return -1;
}

/* *out is the index in choices, which callers keep in the order of the
 * matching enum so the index casts to it. The error lists the choices
 * ("text, json or sarif"), the fix a user needs. */
bool chgc_opt_choice(const char *name, const char *arg, const char *const *choices, int *out)
{
    for (int i = 0; choices[i]; i++)
        if (!strcmp(arg, choices[i])) {
            *out = i;
            return true;
        }
    char list[256] = "";
    size_t n = 0;
    for (int i = 0; choices[i] && n < sizeof list; i++)
        n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i == 0 ? "" : choices[i + 1] ? ", " : " or ",
                              choices[i]);
    chgc_error("--%s: unknown value '%s' (%s)", name, arg, list);
    return false;
}

bool chgc_opt_instant(const char *name, const char *arg, int64_t *out)
{
    int rc = chg_time_parse_iso(arg, strlen(arg), out);
    if (rc == CHG_OK)
        return true;
    if (rc == CHG_ERANGE)
        chgc_error("--%s: '%s' is outside the years 0000 to 9999 in UTC", name, arg);
    else
        chgc_error("--%s: '%s' is not an RFC 3339 instant (like 2026-12-01T03:30:00Z)", name, arg);
    return false;
}

/* Durations in the policy language's syntax (chg_duration_parse), and
 * strictly positive: to the library a horizon of 0 means "the default",
 * so accepting "0s" would silently search a year. */
bool chgc_opt_duration(const char *name, const char *arg, int64_t *out)
{
    if (chg_duration_parse(arg, strlen(arg), out) == CHG_OK && *out > 0)
        return true;
    chgc_error("--%s: '%s' is not a duration (like 366d or 6h30m)", name, arg);
    return false;
}

/* A search horizon: a duration of at most CHG_HORIZON_MAX (ten years),
 * which bounds what one decision or check may cost; more is refused, not
 * cut short without a word. */
bool chgc_opt_horizon(const char *name, const char *arg, int64_t *out)
{
    if (!chgc_opt_duration(name, arg, out))
        return false;
    if (*out <= CHG_HORIZON_MAX)
        return true;
    chgc_error("--%s: '%s' is longer than the longest horizon, %lldd (ten years)", name, arg,
               (long long)(CHG_HORIZON_MAX / 86400));
    return false;
}

/* The whole argument must be the number ("50%" is refused, not read as
 * 50): an option half-read is worse than one refused. */
bool chgc_opt_number(const char *name, const char *arg, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (end != arg && !*end && !errno && v >= lo && v <= hi) {
        *out = v;
        return true;
    }
    chgc_error("--%s: needs a number from %g to %g, not '%s'", name, lo, hi, arg);
    return false;
}

bool chgc_opt_int(const char *name, const char *arg, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (end != arg && !*end && !errno && v >= lo && v <= hi) {
        *out = v;
        return true;
    }
    chgc_error("--%s: needs a whole number from %ld to %ld, not '%s'", name, lo, hi, arg);
    return false;
}

bool chgc_opt_color(const char *arg, FILE *stream, bool *out)
{
    int c = chgc_parse_color(arg, stream);
    if (c >= 0) {
        *out = c == 1;
        return true;
    }
    chgc_error("--color: unknown value '%s' (auto, always or never)", arg);
    return false;
}

/* The library's message when it wrote one (it names the file and the
 * cause), else the status's generic text. */
void chgc_fail(int status, const char *err)
{
    chgc_error("%s", err && *err ? err : chg_strerror(status));
}

/* Two inputs both given as '-' would each see part of standard input, or
 * the second nothing, and a decision made on half a document is worse
 * than a usage error: the commands count them with this. */
bool chgc_is_stdin(const char *path)
{
    return path && !strcmp(path, "-");
}

int chgc_stdin_uses(char *const *paths, int n)
{
    int uses = 0;
    for (int i = 0; i < n; i++)
        uses += chgc_is_stdin(paths[i]);
    return uses;
}

int chgc_collect(char **paths, int n, chg_vec *out)
{
    char err[1024] = "";
    int rc = chg_collect_files(paths, (size_t)n, out, err, sizeof err);
    if (rc != CHG_OK)
        chgc_fail(rc, err);
    return rc;
}

/* Diagnostics of one compiler on stderr, in text, coloured when stderr is
 * a terminal: the stdout of build, eval, test and windows is data, which
 * must not be mixed with diagnostics. */
void chgc_print_diags(chg_compiler *c)
{
    if (!c || !chg_compiler_ndiags(c))
        return;
    chg_report r = {CHG_REPORT_TEXT, chgc_parse_color("auto", stderr) == 1, false, true};
    chg_buf out;
    chg_buf_init(&out);
    chg_report_render(&r, &c, 1, &out);
    fwrite(out.data ? out.data : "", 1, out.len, stderr);
    chg_buf_free(&out);
}

/* The --allow-path directories, for the one command a process runs. */
static const char *allow_paths[64];
static size_t nallow_paths;

bool chgc_opt_allow_path(const char *arg)
{
    struct stat st;
    if (stat(arg, &st) != 0) {
        chgc_error("--allow-path '%s': %s", arg, strerror(errno));
        return false;
    }
    if (!S_ISDIR(st.st_mode)) {
        chgc_error("--allow-path '%s': not a directory", arg);
        return false;
    }
    if (nallow_paths == sizeof allow_paths / sizeof *allow_paths) {
        chgc_error("--allow-path: at most %zu directories", nallow_paths);
        return false;
    }
    allow_paths[nallow_paths++] = arg;
    return true;
}

chg_compile_options chgc_compile_options(bool lints)
{
    return (chg_compile_options){.lints = lints, .allow_paths = allow_paths, .nallow_paths = nallow_paths};
}

/* The status mapping shared by every command that needs a policy: a
 * policy with errors (CHG_EINVAL with a compiler to show) is 1, a finding;
 * anything else that fails (a file that cannot be read, a bad bundle, no
 * memory) is 2, a failure to do the work. */
int chgc_open_policy(char **paths, int n, bool lints, chg_policy *p)
{
    char err[1024] = "";
    chg_compile_options co = chgc_compile_options(lints);
    int rc = chg_policy_open(p, paths, (size_t)n, &co, err, sizeof err);
    if (rc == CHG_OK) {
        chgc_print_diags(p->compiler); /* warnings */
        return EXIT_CLEAN;
    }
    bool findings = rc == CHG_EINVAL && p->compiler; /* errors in the policy, not a bad file */
    if (findings)
        chgc_print_diags(p->compiler);
    else
        chgc_fail(rc, err);
    chg_policy_free(p);
    return findings ? EXIT_FINDINGS : EXIT_USAGE;
}
