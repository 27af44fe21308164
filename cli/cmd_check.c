/*
 * cmd_check.c — `chgc check`: compile each policy file for diagnostics.
 *
 * Every file named (or found under a named directory) is compiled as its
 * own policy, except files another of them imports: those are checked as
 * part of their importer, so a shared file is reported once, in context
 * (chg_check_files).
 */
#include "cli.h"

#include <getopt.h>
#include <time.h>

/* stdout for --help, stderr for a usage error, so `chgc check --help |
 * less` works and a mistake in a script does not vanish into a pipe. */
static void check_usage(FILE *f)
{
    fprintf(f,
            "Usage: chgc check [OPTIONS] PATH...\n"
            "\n"
            "Parse, resolve, type-check and lint .chg policy files, and check that\n"
            "each fits the bundle format (what checks clean builds). A directory is\n"
            "searched recursively for *.chg files; '-' reads standard input.\n"
            "\n"
            "Options:\n"
            "  -f, --format FORMAT  text (default), json, sarif or github\n"
            "      --werror         treat warnings as errors\n"
            "      --no-lint        skip lints (warnings)\n"
            "      --max-errors N   stop after N errors per policy (default 100)\n"
            "      --at INSTANT     start the time analysis here (default: now)\n"
            "      --horizon DUR    how far the time analysis looks (default 366d,\n"
            "                       at most 3660d)\n"
            "      --color WHEN     auto (default), always or never; NO_COLOR disables auto\n"
            "      --allow-path DIR read imports, calendars, test inputs also from DIR\n"
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
        {"allow-path", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const char *const formats[] = {"text", "json", "sarif", "github", NULL};
    chg_report rep = {CHG_REPORT_TEXT, false, false, true};
    const char *color = "auto";
    bool lints = true;
    long max_errors = 0;
    /* The time analysis starts at the current minute: rounding makes two
     * runs within a minute print the same findings, and --at pins it for
     * reproducible CI output. horizon 0 is the compiler's default. */
    int64_t analysis_from = (int64_t)time(NULL) / 60 * 60, horizon = 0;
    int ch, format = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
        bool ok = true;
        switch (ch) {
        case 'f': ok = chgc_opt_choice("format", optarg, formats, &format); break;
        case 'W': rep.werror = true; break;
        case 'M': ok = chgc_opt_int("max-errors", optarg, 1, 1000000, &max_errors); break;
        case 'L': lints = false; break;
        case 'c': color = optarg; break;
        case 'a': ok = chgc_opt_instant("at", optarg, &analysis_from); break;
        case 'H': ok = chgc_opt_horizon("horizon", optarg, &horizon); break;
        case 'P': ok = chgc_opt_allow_path(optarg); break;
        case 'h': check_usage(stdout); return EXIT_CLEAN;
        default: check_usage(stderr); return EXIT_USAGE;
        }
        if (!ok)
            return EXIT_USAGE;
    }
    if (optind >= argc) {
        chgc_error("check: no PATH given");
        check_usage(stderr);
        return EXIT_USAGE;
    }
    rep.format = (chg_report_format)format; /* formats[] is in chg_report_format's order */
    if (!chgc_opt_color(color, stdout, &rep.color))
        return EXIT_USAGE;
    rep.color = rep.color && rep.format == CHG_REPORT_TEXT;

    chg_vec files;
    chg_vec_init(&files);
    if (chgc_collect(argv + optind, argc - optind, &files) != CHG_OK) {
        chg_strings_free(&files);
        return EXIT_USAGE;
    }
    int status = EXIT_CLEAN;
    /* A bundle named on the command line is verified, as every command
     * that loads one would; the sources are checked together. */
    size_t nsrc = 0;
    for (size_t i = 0; i < files.len; i++) {
        if (!chg_is_bundle_path(files.items[i])) {
            files.items[nsrc++] = files.items[i];
            continue;
        }
        chg_policy p;
        char *one[1] = {files.items[i]};
        if (chgc_open_policy(one, 1, false, &p) != EXIT_CLEAN)
            status = EXIT_FINDINGS;
        else {
            if (rep.format == CHG_REPORT_TEXT)
                printf("%s: a verified bundle: policy %s version %s, sha256 %s\n", one[0],
                       chg_bundle_policy_name(p.bundle), chg_bundle_policy_version(p.bundle),
                       chg_bundle_hash(p.bundle));
            chg_policy_free(&p);
        }
        chg_free(one[0]);
    }
    files.len = nsrc;
    chg_compile_options co = chgc_compile_options(lints);
    co.max_errors = (size_t)max_errors;
    co.analysis_from = analysis_from;
    co.horizon = horizon;
    chg_compiler **cs;
    size_t n;
    char err[1024] = "";
    /* A status here is the machine's (a file that cannot be read, memory),
     * status 2; what is wrong with a policy is in its diagnostics and
     * decides between 0 and 1 below. */
    int rc = chg_check_files((char *const *)files.items, files.len, &co, &cs, &n, err, sizeof err);
    if (rc != CHG_OK) {
        chgc_fail(rc, err);
        chg_strings_free(&files);
        return EXIT_USAGE;
    }
    chg_buf out;
    chg_buf_init(&out);
    chg_report_render(&rep, cs, n, &out);
    fwrite(out.data ? out.data : "", 1, out.len, stdout);
    chg_buf_free(&out);
    /* 1 when any file has an error, or with --werror a warning; notes
     * never fail a check. Every file is reported before the status is
     * decided, so one run shows all of them. */
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
