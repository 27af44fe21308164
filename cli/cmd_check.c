/*
 * cmd_check.c — `chgc check`: compile each policy file for diagnostics.
 *
 * Every file named (or found under a named directory) is compiled as its
 * own policy, except files another of them imports: those are checked as
 * part of their importer, so a shared file is reported once, in context
 * (chg_check_files).
 */
#include "chg_time.h"
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void check_usage(FILE *f)
{
    fprintf(f,
            "Usage: chgc check [OPTIONS] PATH...\n"
            "\n"
            "Parse, resolve, type-check and lint .chg policy files. A directory is\n"
            "searched recursively for *.chg files; '-' reads standard input.\n"
            "\n"
            "Options:\n"
            "  -f, --format FORMAT  text (default), json, sarif or github\n"
            "      --werror         treat warnings as errors\n"
            "      --no-lint        skip lints (warnings)\n"
            "      --max-errors N   stop after N errors per policy (default 100)\n"
            "      --at INSTANT     start the time analysis here (default: now)\n"
            "      --horizon DUR    how far the time analysis looks (default 366d)\n"
            "      --color WHEN     auto (default), always or never; NO_COLOR disables auto\n"
            "  -h, --help           show this help\n"
            "\n"
            "Exit status: 0 no errors, 1 errors (or warnings with --werror), 2 usage or I/O error.\n");
}

int chgc_check(int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},
        {"werror", no_argument, NULL, 'W'},
        {"max-errors", required_argument, NULL, 'M'},
        {"at", required_argument, NULL, 'a'},
        {"horizon", required_argument, NULL, 'H'},
        {"no-lint", no_argument, NULL, 'L'},
        {"color", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    chg_report rep = {CHG_REPORT_TEXT, false, false, true};
    const char *color = "auto";
    bool lints = true;
    size_t max_errors = 0;
    int64_t analysis_from = (int64_t)time(NULL) / 60 * 60, horizon = 0;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'f':
            if (!strcmp(optarg, "text")) rep.format = CHG_REPORT_TEXT;
            else if (!strcmp(optarg, "json")) rep.format = CHG_REPORT_JSON;
            else if (!strcmp(optarg, "sarif")) rep.format = CHG_REPORT_SARIF;
            else if (!strcmp(optarg, "github")) rep.format = CHG_REPORT_GITHUB;
            else {
                chgc_error("unknown format '%s' (text, json, sarif or github)", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'W': rep.werror = true; break;
        case 'M': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 1000000) {
                chgc_error("--max-errors needs a number from 1 to 1000000, not '%s'", optarg);
                return EXIT_USAGE;
            }
            max_errors = (size_t)v;
            break;
        }
        case 'L': lints = false; break;
        case 'c': color = optarg; break;
        case 'a':
            if (chg_time_parse_iso(optarg, strlen(optarg), &analysis_from) != CHG_OK) {
                chgc_error("--at: '%s' is not an RFC 3339 instant (like 2026-12-01T00:00:00Z)", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'H':
            if (chgc_parse_duration(optarg, &horizon) != CHG_OK || horizon <= 0) {
                chgc_error("--horizon: '%s' is not a duration (like 366d)", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'h': check_usage(stdout); return EXIT_CLEAN;
        default: check_usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        chgc_error("check: no PATH given");
        check_usage(stderr);
        return EXIT_USAGE;
    }
    int cl = chgc_parse_color(color, stdout);
    if (cl < 0) {
        chgc_error("unknown --color value '%s' (auto, always or never)", color);
        return EXIT_USAGE;
    }
    rep.color = cl && rep.format == CHG_REPORT_TEXT;

    chg_vec files;
    chg_vec_init(&files);
    if (chgc_collect(argv + optind, argc - optind, &files) != CHG_OK) {
        chg_strings_free(&files);
        return EXIT_USAGE;
    }
    chg_compile_options co = {.max_errors = max_errors, .lints = lints, .analysis_from = analysis_from,
                              .horizon = horizon};
    chg_compiler **cs;
    size_t n;
    char err[1024];
    int status = EXIT_CLEAN;
    if (chg_check_files((char *const *)files.items, files.len, &co, &cs, &n, err, sizeof err) != CHG_OK) {
        chgc_error("%s", err);
        chg_strings_free(&files);
        return EXIT_USAGE;
    }
    chg_buf out;
    chg_buf_init(&out);
    chg_report_render(&rep, cs, n, &out);
    fwrite(out.data ? out.data : "", 1, out.len, stdout);
    chg_buf_free(&out);
    for (size_t i = 0; i < n; i++) {
        if (chg_compiler_count(cs[i], CHG_ERROR) || (rep.werror && chg_compiler_count(cs[i], CHG_WARNING)))
            status = EXIT_FINDINGS;
        chg_compiler_free(cs[i]);
    }
    chg_free(cs);
    chg_strings_free(&files);
    fflush(stdout);
    return status;
}
