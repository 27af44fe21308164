/*
 * cli.h — what the chgc subcommands share: their entry points and the few
 * helpers every driver needs (collecting .chg files, colour choice, usage
 * errors). The drivers stay thin: the library does the work.
 */
#ifndef CHG_CLI_H
#define CHG_CLI_H

#include "chg_base.h"

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

struct chg_bundle;
/* Get a loaded bundle for the subcommands that run policies: a .chgb
 * file is loaded (and verified); anything else is compiled as .chg files
 * (diagnostics go to stderr). Returns NULL after reporting; *status is the
 * exit status to use then (1 for policy errors, 2 for I/O and usage). */
struct chg_bundle *chgc_load_policy(char **paths, int n, int *status);

/* Print a compilation's diagnostics as text to standard error (colour
 * when it is a terminal). */
struct chg_compiler;
void chgc_print_diags(struct chg_compiler *c);

/* Expand PATH arguments: files as given, directories recursively to their
 * *.chg files (sorted, hidden entries skipped). Returns CHG_OK or prints
 * "chgc: PATH: reason" to stderr and returns CHG_EIO. Items are chg_malloc'd
 * strings. */
int chgc_collect_files(char **paths, int n, chg_vec *out);
void chgc_free_strings(chg_vec *v);

/* Colour: "auto" means stdout is a terminal and NO_COLOR is unset/empty. */
int chgc_parse_color(const char *when, FILE *stream); /* -1: bad value */

/* "366d", "6h30m": a duration in seconds. CHG_OK or CHG_EINVAL. */
int chgc_parse_duration(const char *s, int64_t *out);

/* Print "chgc: message" to stderr. */
void chgc_error(const char *fmt, ...) CHG_PRINTF(1, 2);

#endif
