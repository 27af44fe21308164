/*
 * cmd_windows.c — `chgc windows`: what a policy's windows and freezes mean
 * in wall-clock time, interval by interval, for reviewers.
 */
#include "cli.h"

#include "chg_time.h"

#include <getopt.h>
#include <string.h>
#include <time.h>

static void windows_usage(FILE *f)
{
    fprintf(f,
            "Usage: chgc windows [OPTIONS] (BUNDLE.chgb | PATH...)\n"
            "\n"
            "List the intervals of every window and freeze of a policy; with\n"
            "--effective, when a change of each risk class may go.\n"
            "\n"
            "Options:\n"
            "      --from INSTANT   start of the range (default: now)\n"
            "      --to INSTANT     end of the range (default: 30 days after --from,\n"
            "                       366 days with --effective)\n"
            "      --effective      per risk class: its required windows minus its freezes\n"
            "      --risk CLASS     with --effective: only this class\n"
            "      --flag NAME      treat runtime flag NAME as set (repeatable)\n"
            "  -f, --format FORMAT  text (default), json or ics\n"
            "      --allow-path DIR read imports, calendars, test inputs also from DIR\n"
            "  -h, --help           show this help\n"
            "\n"
            "Exit status: 0 listed, 1 the policy has errors, 2 usage or I/O error.\n");
}

/* The class --risk names, by the bundle's classes; -1 with a message
 * (and the likeliest class meant) when it is none of them. */
static int risk_class(const chg_bundle *b, const char *name)
{
    uint32_t n = chg_bundle_nrisks(b);
    if (!n) {
        chgc_error("--risk: the policy declares no risk classes");
        return -1;
    }
    const char *names[256];
    size_t nn = 0;
    for (uint32_t k = 0; k < n; k++) {
        if (strcmp(chg_bundle_risk_name(b, (int)k), name) == 0)
            return (int)k;
        if (nn < 256)
            names[nn++] = chg_bundle_risk_name(b, (int)k);
    }
    const char *near = chg_closest_name(name, names, nn);
    chg_buf msg;
    chg_buf_init(&msg);
    chg_buf_puts_visible(&msg, name);
    if (near) {
        chg_buf_puts(&msg, "' (did you mean '");
        chg_buf_puts_visible(&msg, near);
        chg_buf_puts(&msg, "'?)");
    } else {
        chg_buf_puts(&msg, "' (the classes are ");
        for (size_t k = 0; k < nn; k++) {
            chg_buf_puts(&msg, k ? k + 1 < nn ? ", " : " and " : "");
            chg_buf_puts_visible(&msg, names[k]);
        }
        chg_buf_putc(&msg, ')');
    }
    chgc_error("--risk: unknown risk class '%s", msg.oom ? "" : msg.data);
    chg_buf_free(&msg);
    return -1;
}

/* --effective: the listing on stdout, W0030 on stderr (text and ics) or
 * in the JSON document. Warnings leave the status 0, as in chgc check. */
static int windows_effective(chg_policy *p, int64_t from, int64_t to, const char *const *flags, const char *risk,
                             int format, chg_buf *out)
{
    int k = risk ? risk_class(p->bundle, risk) : -1;
    if (risk && k < 0)
        return EXIT_USAGE;
    chg_buf diags;
    chg_buf_init(&diags);
    int status = EXIT_CLEAN;
    if (chg_windows_effective(p->bundle, from, to, flags, k, (chg_listing_format)format, out, &diags, NULL) !=
        CHG_OK) {
        chgc_error("out of memory");
        status = EXIT_USAGE;
    } else {
        fwrite(out->data ? out->data : "", 1, out->len, stdout);
        fflush(stdout);
        fwrite(diags.data ? diags.data : "", 1, diags.len, stderr);
    }
    chg_buf_free(&diags);
    return status;
}

int chgc_windows(int argc, char **argv)
{
    static const struct option opts[] = {
        {"from", required_argument, NULL, 'F'},
        {"to", required_argument, NULL, 'T'},
        {"flag", required_argument, NULL, 'g'},
        {"format", required_argument, NULL, 'f'},
        {"allow-path", required_argument, NULL, 'P'},
        {"effective", no_argument, NULL, 'e'},
        {"risk", required_argument, NULL, 'r'},
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
    bool effective = false;
    const char *risk = NULL;
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
        case 'e': effective = true; break;
        case 'r': risk = optarg; break;
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
    if (risk && !effective) {
        chgc_error("--risk: only with --effective");
        return EXIT_USAGE;
    }
    /* the effective view answers "can this class ever go": over the
     * horizon of a decision's next_open by default, as chgc check's W0012 */
    if (!to)
        to = from + (effective ? CHG_HORIZON_DEFAULT : 30 * 86400);
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
    if (effective) {
        status = windows_effective(&p, from, to, flags, risk, format, &out);
        chg_buf_free(&out);
        chg_policy_free(&p);
        return status;
    }
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
