/*
 * cli.h — what the chgc subcommands share: their entry points and the
 * few helpers they need to print (diagnostics, colour choice, errors).
 * The work is the driver layer's (include/chg_driver.h): a command parses
 * its options, calls it, and prints.
 */
#ifndef CHG_CLI_H
#define CHG_CLI_H

#include "chg_driver.h"

#include <stdio.h>

/* Exit statuses shared by every subcommand (docs/cli.md). */
enum {
    EXIT_CLEAN = 0,   /* success; for check: no error-level diagnostic */
    EXIT_FINDINGS = 1,/* diagnostics at error level, failed tests, … */
    EXIT_USAGE = 2    /* bad usage or an I/O error */
};

int chgc_check(int argc, char **argv);
int chgc_build(int argc, char **argv);
int chgc_eval(int argc, char **argv);
int chgc_disasm(int argc, char **argv);
int chgc_windows(int argc, char **argv);
int chgc_test(int argc, char **argv);
int chgc_replay(int argc, char **argv);
int chgc_simulate(int argc, char **argv);
int chgc_fmt(int argc, char **argv);
int chgc_audit(int argc, char **argv);

/* Open the policy a command names (a .chgb, or .chg files compiled on
 * the spot, with or without lints) with chg_policy_open, printing
 * diagnostics and errors to stderr. Returns EXIT_CLEAN with *p ready, or the exit status to use (1
 * for policy errors, 2 for I/O and usage) with *p freed. */
int chgc_open_policy(char **paths, int n, bool lints, chg_policy *p);

/* Print a compilation's diagnostics as text to standard error (colour
 * when it is a terminal). */
void chgc_print_diags(chg_compiler *c);

/* Expand PATH arguments into .chg files (chg_collect_files), printing
 * what went wrong. Returns CHG_OK or an error status. */
int chgc_collect(char **paths, int n, chg_vec *out);

/* Colour: "auto" means stdout is a terminal and NO_COLOR is unset/empty. */
int chgc_parse_color(const char *when, FILE *stream); /* -1: bad value */

/* Option values. Each reads the value `arg` of option --NAME and returns
 * true, or prints "chgc: --NAME: ..." saying what was expected and returns
 * false. */
bool chgc_opt_choice(const char *name, const char *arg, const char *const *choices, int *out); /* NULL-ended */
bool chgc_opt_instant(const char *name, const char *arg, int64_t *out);  /* RFC 3339 */
bool chgc_opt_duration(const char *name, const char *arg, int64_t *out); /* > 0, as in a policy: 366d */
bool chgc_opt_horizon(const char *name, const char *arg, int64_t *out);  /* a duration of at most CHG_HORIZON_MAX */
bool chgc_opt_number(const char *name, const char *arg, double lo, double hi, double *out);
bool chgc_opt_int(const char *name, const char *arg, long lo, long hi, long *out);
bool chgc_opt_color(const char *arg, FILE *stream, bool *out);
/* --allow-path DIR (repeatable): a directory, besides the policy's own,
 * that its imports, calendars and test inputs may be read from. */
bool chgc_opt_allow_path(const char *arg);
/* The compile options every command shares (the allowed paths). */
chg_compile_options chgc_compile_options(bool lints);
#define CHGC_ALLOW_PATH_HELP \
    "      --allow-path DIR  also read imports, calendars and test inputs from DIR\n"

/* Print "chgc: message" to stderr. */
void chgc_error(const char *fmt, ...) CHG_PRINTF(1, 2);
/* Print what a driver call that returned `status` wrote in err, or the
 * status's own words when it wrote nothing. */
void chgc_fail(int status, const char *err);
/* Is path (may be NULL) "-", standard input? And how many of the n paths
 * are? A command refuses two: standard input can be read once. */
bool chgc_is_stdin(const char *path);
int chgc_stdin_uses(char *const *paths, int n);

#endif
