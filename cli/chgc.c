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
#include <unistd.h>

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

int main(int argc, char **argv)
{
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

void chgc_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("chgc: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

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
    if (chg_time_parse_iso(arg, strlen(arg), out) == CHG_OK)
        return true;
    chgc_error("--%s: '%s' is not an RFC 3339 instant (like 2026-12-01T03:30:00Z)", name, arg);
    return false;
}

bool chgc_opt_duration(const char *name, const char *arg, int64_t *out)
{
    if (chg_duration_parse(arg, strlen(arg), out) == CHG_OK && *out > 0)
        return true;
    chgc_error("--%s: '%s' is not a duration (like 366d or 6h30m)", name, arg);
    return false;
}

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

void chgc_fail(int status, const char *err)
{
    chgc_error("%s", err && *err ? err : chg_strerror(status));
}

int chgc_collect(char **paths, int n, chg_vec *out)
{
    char err[1024] = "";
    int rc = chg_collect_files(paths, (size_t)n, out, err, sizeof err);
    if (rc != CHG_OK)
        chgc_fail(rc, err);
    return rc;
}

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

int chgc_open_policy(char **paths, int n, bool lints, chg_policy *p)
{
    char err[1024] = "";
    chg_compile_options co = {.lints = lints};
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
