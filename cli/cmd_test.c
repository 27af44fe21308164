/*
 * cmd_test.c — `chgc test`: run the `test` blocks of policies. Each file
 * with tests is compiled as its own policy (with what it imports) and its
 * tests run against it; the driver does the running and the reporting
 * (chg_test_files, chg_test_render).
 */
#include "cli.h"

#include <getopt.h>
#include <time.h>

static void test_usage(FILE *f)
{
    fprintf(f,
            "Usage: chgc test [OPTIONS] PATH...\n"
            "\n"
            "Run the 'test' blocks of policies: each test's change (or raw event, through the\n"
            "policy's intakes) is decided and compared with its 'expect' line. Each PATH is a\n"
            "file or a directory (searched for *.chg); every file with tests is compiled as\n"
            "its own policy, with the files it imports.\n"
            "\n"
            "Options:\n"
            "  -f, --format FORMAT  text (default), tap (TAP 13), junit (JUnit XML) or json\n"
            "      --coverage       report the rules and classify arms no test exercised\n"
            "      --threshold PCT  with --coverage: fail when a policy's coverage is below PCT\n"
            "      --budgets        per policy, the most steps and scratch memory one test's\n"
            "                       decision used, against the policy's budgets (text only)\n"
            "      --run REGEX      run only the tests whose name matches REGEX (PCRE2)\n"
            "      --at INSTANT     the instant of tests that give no 'at', in policies with no\n"
            "                       'at' line (default: now)\n"
            "      --color WHEN     auto (default), always or never\n"
            "      --allow-path DIR read imports, calendars, test inputs also from DIR\n"
            "  -h, --help           show this help\n"
            "\n"
            "Exit status: 0 every test passed (and coverage met --threshold), 1 a test failed,\n"
            "a policy has errors, coverage is below the threshold or no test was found,\n"
            "2 usage or I/O error.\n");
}

int chgc_test(int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},
        {"coverage", no_argument, NULL, 'C'},
        {"budgets", no_argument, NULL, 'B'},
        {"threshold", required_argument, NULL, 'T'},
        {"run", required_argument, NULL, 'r'},
        {"at", required_argument, NULL, 'a'},
        {"color", required_argument, NULL, 'c'},
        {"allow-path", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const char *const formats[] = {"text", "tap", "junit", "json", NULL};
    int format = CHG_TEST_TEXT;
    bool coverage = false, budgets = false, color_on;
    double threshold = -1;
    const char *run = NULL, *color = "auto";
    /* read here, once: every test without an `at` of its own decides at
     * the same instant, so tests in one run agree with each other */
    int64_t now = (int64_t)time(NULL);
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
        bool ok = true;
        switch (ch) {
        case 'f': ok = chgc_opt_choice("format", optarg, formats, &format); break; /* chg_test_format order */
        case 'C': coverage = true; break;
        case 'B': budgets = true; break;
        case 'T': ok = chgc_opt_number("threshold", optarg, 0, 100, &threshold); break;
        case 'r': run = optarg; break;
        case 'a': ok = chgc_opt_instant("at", optarg, &now); break;
        case 'c': color = optarg; break;
        case 'P': ok = chgc_opt_allow_path(optarg); break;
        case 'h': test_usage(stdout); return EXIT_CLEAN;
        default: test_usage(stderr); return EXIT_USAGE;
        }
        if (!ok)
            return EXIT_USAGE;
    }
    if (optind >= argc) {
        chgc_error("test: no PATH given");
        test_usage(stderr);
        return EXIT_USAGE;
    }
    /* a threshold without --coverage would fail runs for a figure the
     * report does not show; asking for one implies the other */
    if (threshold >= 0)
        coverage = true;
    if (!chgc_opt_color(color, stdout, &color_on))
        return EXIT_USAGE;
    chg_vec files;
    chg_vec_init(&files);
    if (chgc_collect(argv + optind, argc - optind, &files) != CHG_OK) {
        chg_strings_free(&files);
        return EXIT_USAGE;
    }
    for (size_t i = 0; i < files.len; i++)
        if (chg_is_bundle_path(files.items[i])) {
            chgc_error("%s: a bundle holds no tests; run chgc test on the .chg files it was built from",
                       (char *)files.items[i]);
            chg_strings_free(&files);
            return EXIT_USAGE;
        }
    chg_test_session ts;
    char err[1024] = "";
    chg_compile_options co = chgc_compile_options(false);
    int rc = chg_test_files((char *const *)files.items, files.len, run, now, &co, &ts, err, sizeof err);
    /* Statuses: 1 for any failed test, broken policy, coverage below
     * --threshold, or no test at all (a CI job that tests nothing should
     * not pass); 2 only when the run itself failed (an unreadable file,
     * memory, a bad --run); then nothing is rendered, since a report of
     * part of the files would read as a complete run. */
    int status = ts.nfailed ? EXIT_FINDINGS : EXIT_CLEAN;
    /* What happened to each file, in order: broken policies, low coverage.
     * The threshold is per policy file, not over the whole run: a well
     * tested file must not hide one with no coverage; a file whose tests
     * --run filtered out entirely has nothing to measure. */
    for (size_t i = 0; i < ts.nfiles; i++) {
        const chg_test_file *f = &ts.files[i];
        if (f->state == CHG_TF_BROKEN) {
            chgc_print_diags(f->compiler);
            chgc_error("%s: the policy has errors; its tests were not run", f->path);
            status = EXIT_FINDINGS;
        } else if (f->state == CHG_TF_RAN && threshold >= 0 && f->suite->n &&
                   chg_test_coverage(f->suite) < threshold) {
            chgc_error("%s: coverage %.1f%% is below the threshold %.1f%%", f->path, chg_test_coverage(f->suite),
                       threshold);
            status = EXIT_FINDINGS;
        }
    }
    if (rc != CHG_OK) {
        if (rc == CHG_EINVAL)
            chgc_error("--run: %s", err);
        else
            chgc_fail(rc, err);
        status = EXIT_USAGE;
    } else {
        /* machine formats are written even for zero suites, so that a
         * consumer always gets a well-formed (empty) report to parse */
        if (ts.nsuites || format != CHG_TEST_TEXT) {
            chg_buf out;
            chg_buf_init(&out);
            chg_test_render(ts.suites, ts.nsuites, (chg_test_format)format, coverage,
                            color_on && format == CHG_TEST_TEXT, &out);
            fwrite(out.data ? out.data : "", 1, out.len, stdout);
            chg_buf_free(&out);
        }
        /* what the budgets are measured against (docs/vm.md, "Budgets") */
        for (size_t i = 0; budgets && format == CHG_TEST_TEXT && i < ts.nsuites; i++) {
            const chg_test_suite *su = &ts.suites[i];
            printf("budgets: %s: at most %llu of %llu steps and %llu of %llu bytes of scratch in one decision; "
                   "regex %llu steps per match\n",
                   su->policy, (unsigned long long)su->max_steps, (unsigned long long)su->steps_limit,
                   (unsigned long long)su->max_scratch, (unsigned long long)su->scratch_limit,
                   (unsigned long long)su->regex_steps_limit);
        }
        if (ts.ntests == 0 && status == EXIT_CLEAN) {
            chgc_error("no tests found%s", run ? " matching --run" : "");
            status = EXIT_FINDINGS;
        }
    }
    chg_test_session_free(&ts);
    chg_strings_free(&files);
    fflush(stdout);
    return status;
}
