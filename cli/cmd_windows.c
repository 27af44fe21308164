/*
 * cmd_windows.c — `chgc windows`: what a policy's windows and freezes mean
 * in wall-clock time, interval by interval, for reviewers.
 */
#include "cli.h"

#include <getopt.h>
#include <time.h>

static void windows_usage(FILE *f)
{
    fprintf(f,
            "Usage: chgc windows [OPTIONS] (BUNDLE.chgb | PATH...)\n"
            "\n"
            "List the intervals of every window and freeze of a policy.\n"
            "\n"
            "Options:\n"
            "      --from INSTANT   start of the range (default: now)\n"
            "      --to INSTANT     end of the range (default: 30 days after --from)\n"
            "      --flag NAME      treat runtime flag NAME as set (repeatable)\n"
            "  -f, --format FORMAT  text (default), json or ics\n"
            "      --allow-path DIR read imports, calendars, test inputs also from DIR\n"
            "  -h, --help           show this help\n"
            "\n"
            "Exit status: 0 listed, 1 the policy has errors, 2 usage or I/O error.\n");
}

int chgc_windows(int argc, char **argv)
{
    static const struct option opts[] = {
        {"from", required_argument, NULL, 'F'},
        {"to", required_argument, NULL, 'T'},
        {"flag", required_argument, NULL, 'g'},
        {"format", required_argument, NULL, 'f'},
        {"allow-path", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    /* From the current minute, so listings made a few seconds apart are
     * the same; --from and --to pin them for documentation and review. */
    int64_t from = (int64_t)time(NULL) / 60 * 60, to = 0;
    static const char *const formats[] = {"text", "json", "ics", NULL}; /* chg_listing_format order */
    /* NULL-terminated for chg_windows_list; 64 is a generous bound that
     * keeps the list on the stack. */
    const char *flags[65] = {NULL};
    int nflags = 0, ch, format = CHG_LIST_TEXT;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
        bool ok = true;
        switch (ch) {
        case 'F': ok = chgc_opt_instant("from", optarg, &from); break;
        case 'T': ok = chgc_opt_instant("to", optarg, &to); break;
        case 'g':
            if (nflags == 64) {
                chgc_error("--flag: at most 64 flags");
                return EXIT_USAGE;
            }
            flags[nflags++] = optarg;
            break;
        case 'f': ok = chgc_opt_choice("format", optarg, formats, &format); break;
        case 'P': ok = chgc_opt_allow_path(optarg); break;
        case 'h': windows_usage(stdout); return EXIT_CLEAN;
        default: windows_usage(stderr); return EXIT_USAGE;
        }
        if (!ok)
            return EXIT_USAGE;
    }
    if (optind >= argc) {
        chgc_error("windows: no PATH given");
        windows_usage(stderr);
        return EXIT_USAGE;
    }
    if (!to)
        to = from + 30 * 86400;
    if (to <= from) {
        chgc_error("--to must be after --from");
        return EXIT_USAGE;
    }
    /* Ten years bound the output: a minutely cron window over a longer
     * range would print millions of lines, and no review needs them. */
    if (to - from > 10LL * 366 * 86400) {
        chgc_error("the range is longer than ten years");
        return EXIT_USAGE;
    }
    chg_policy p;
    /* Lints are off: a listing is for reading a policy's schedules, and
     * lint warnings would only clutter stderr. A policy with errors is
     * status 1, as in every command (chgc_open_policy). */
    int status = chgc_open_policy(argv + optind, argc - optind, false, &p);
    if (status != EXIT_CLEAN)
        return status;
    chg_buf out;
    chg_buf_init(&out);
    /* The only failure of a listing is memory: the bundle was verified,
     * and time sets built, when the policy was opened. */
    if (chg_windows_list(p.bundle, from, to, flags, (chg_listing_format)format, &out) != CHG_OK) {
        chgc_error("out of memory");
        status = EXIT_USAGE;
    } else
        fwrite(out.data ? out.data : "", 1, out.len, stdout);
    chg_buf_free(&out);
    chg_policy_free(&p);
    return status;
}
