/*
 * cmd_windows.c — `chgc windows`: what a policy's windows and freezes mean
 * in wall-clock time, interval by interval, for reviewers.
 */
#include "chg_compiler.h"
#include "chg_time.h"
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <time.h>

static void windows_usage(FILE *f)
{
    fprintf(f,
            "Usage: chgc windows [OPTIONS] PATH...\n"
            "\n"
            "List the intervals of every window and freeze of a policy.\n"
            "\n"
            "Options:\n"
            "      --from INSTANT   start of the range (default: now)\n"
            "      --to INSTANT     end of the range (default: 30 days after --from)\n"
            "      --flag NAME      treat runtime flag NAME as set (repeatable)\n"
            "  -f, --format FORMAT  text (default), json or ics\n"
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
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int64_t from = (int64_t)time(NULL) / 60 * 60, to = 0;
    int format = 0;
    const char *flags[65] = {NULL};
    int nflags = 0, ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'F':
        case 'T':
            if (chg_time_parse_iso(optarg, strlen(optarg), ch == 'F' ? &from : &to) != CHG_OK) {
                chgc_error("--%s: '%s' is not an RFC 3339 instant", ch == 'F' ? "from" : "to", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'g':
            if (nflags == 64) {
                chgc_error("at most 64 --flag options");
                return EXIT_USAGE;
            }
            flags[nflags++] = optarg;
            break;
        case 'f':
            if (!strcmp(optarg, "text")) format = 0;
            else if (!strcmp(optarg, "json")) format = 1;
            else if (!strcmp(optarg, "ics")) format = 2;
            else {
                chgc_error("unknown format '%s' (text, json or ics)", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'h': windows_usage(stdout); return EXIT_CLEAN;
        default: windows_usage(stderr); return EXIT_USAGE;
        }
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
    if (to - from > 10LL * 366 * 86400) {
        chgc_error("the range is longer than ten years");
        return EXIT_USAGE;
    }
    chg_compile_options co = {.lints = false};
    chg_compiler *c = chg_compiler_new(&co);
    for (int i = optind; i < argc; i++) {
        int rc = chg_compiler_add_file(c, argv[i]);
        if (rc == CHG_EIO || rc == CHG_EINVAL || rc == CHG_ENOMEM) {
            chgc_error("%s: %s", argv[i], rc == CHG_EINVAL ? "not a regular file" : strerror(errno));
            chg_compiler_free(c);
            return EXIT_USAGE;
        }
    }
    int status = EXIT_CLEAN;
    chg_buf out;
    chg_buf_init(&out);
    if (chg_compiler_check(c) != CHG_OK) {
        chg_report r = {CHG_REPORT_TEXT, chgc_parse_color("auto", stderr) == 1, false, true};
        chg_report_render(&r, &c, 1, &out);
        fwrite(out.data ? out.data : "", 1, out.len, stderr);
        status = EXIT_FINDINGS;
    } else {
        chg_compiler_windows(c, from, to, flags, format, &out);
        fwrite(out.data ? out.data : "", 1, out.len, stdout);
    }
    chg_buf_free(&out);
    chg_compiler_free(c);
    return status;
}
