/*
 * cmd_replay.c — `chgc replay`: recorded events decided under the policy
 * of today and the policy of a pull request, and the decisions that would
 * change (chg_replay). The exit status makes it a CI gate.
 */
#include "cli.h"

#include <getopt.h>
#include <string.h>
#include <unistd.h>

static void replay_usage(FILE *f)
{
    fprintf(f,
            "Usage: chgc replay --old PATH... --new PATH... --events FILE [OPTIONS]\n"
            "\n"
            "Decide recorded events under two policies and print the decisions that differ,\n"
            "then the counts of outcome and risk transitions (allow \u2192 pending: 412).\n"
            "PATH is a policy's .chg files (or a directory) or one BUNDLE.chgb.\n"
            "\n"
            "Options:\n"
            "      --old PATH...  the policy as it is\n"
            "      --new PATH...  the policy as it would be\n"
            "  -e, --events FILE  the records, JSON lines {\"event\": {...}, \"at\": \"RFC 3339\",\n"
            "                     \"facts\": {...}} (at and facts optional; '-' reads standard\n"
            "                     input); docs/replay.md\n"
            "      --at INSTANT   the instant of records without \"at\"\n"
            "      --facts FILE   the facts of records without \"facts\" (docs/facts.md)\n"
            "      --horizon DUR  how far to look for next_open and closes_at\n"
            "                     (default 366d, at most 3660d)\n"
            "  -f, --format FMT   text (default) or json\n"
            "      --threads N    decide on N threads (default: the number of CPUs, at\n"
            "                     most 8); the output is the same bytes whatever N\n"
            "      --quiet        no progress line (shown only when stderr is a terminal)\n"
            CHGC_ALLOW_PATH_HELP
            "  -h, --help         show this help\n"
            "\n"
            "Exit status: 0 no decision differs, 1 some differ, 2 usage or I/O error, a\n"
            "policy with errors, or a line that is not a record.\n");
}

int chgc_replay(int argc, char **argv)
{
    static const struct option opts[] = {
        {"old", no_argument, NULL, 'o'},
        {"new", no_argument, NULL, 'n'},
        {"events", required_argument, NULL, 'e'},
        {"at", required_argument, NULL, 'a'},
        {"facts", required_argument, NULL, 'F'},
        {"horizon", required_argument, NULL, 'H'},
        {"format", required_argument, NULL, 'f'},
        {"threads", required_argument, NULL, 't'},
        {"allow-path", required_argument, NULL, 'P'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const char *const formats[] = {"text", "json", NULL}; /* chg_replay_format order */
    char **paths[2] = {chg_malloc(sizeof(char *) * (size_t)argc), chg_malloc(sizeof(char *) * (size_t)argc)};
    int npaths[2] = {0, 0}, side = -1, format = CHG_REPLAY_TEXT, ch, status = EXIT_USAGE;
    const char *events = NULL, *facts_path = NULL;
    chg_eval_input base = {0};
    bool has_now = false, quiet = false;
    /* as chgc eval's: every CPU, eight at most unless asked */
    long threads = sysconf(_SC_NPROCESSORS_ONLN);
    threads = threads < 1 ? 1 : threads > 8 ? 8 : threads;
    if (!paths[0] || !paths[1]) {
        chgc_fail(CHG_ENOMEM, "");
        goto done;
    }
    optind = 1;
    /* "-" first: paths come back in order as option 1, so each belongs
     * to the --old or --new before it */
    while ((ch = getopt_long(argc, argv, "-e:f:h", opts, NULL)) != -1) {
        bool ok = true;
        switch (ch) {
        case 1:
            if (side < 0) {
                chgc_error("replay: '%s': a policy path goes after --old or --new", optarg);
                ok = false;
            } else
                paths[side][npaths[side]++] = optarg;
            break;
        case 'o': side = 0; break;
        case 'n': side = 1; break;
        case 'e': events = optarg; break;
        case 'a': ok = has_now = chgc_opt_instant("at", optarg, &base.now); break;
        case 'F': facts_path = optarg; break;
        case 'H': ok = chgc_opt_horizon("horizon", optarg, &base.horizon); break;
        case 'f': ok = chgc_opt_choice("format", optarg, formats, &format); break;
        case 't': ok = chgc_opt_int("threads", optarg, 1, 64, &threads); break;
        case 'P': ok = chgc_opt_allow_path(optarg); break;
        case 'q': quiet = true; break;
        case 'h':
            replay_usage(stdout);
            status = EXIT_CLEAN;
            goto done;
        default: ok = false; replay_usage(stderr); break;
        }
        if (!ok)
            goto done;
    }
    if (!npaths[0] || !npaths[1] || !events) {
        chgc_error("replay: %s", !npaths[0] ? "no --old policy given"
                                 : !npaths[1] ? "no --new policy given" : "no --events given");
        replay_usage(stderr);
        goto done;
    }
    if (chgc_is_stdin(events) + chgc_is_stdin(facts_path) + chgc_stdin_uses(paths[0], npaths[0]) +
            chgc_stdin_uses(paths[1], npaths[1]) > 1) {
        chgc_error("replay: only one of the policies, --events and --facts can be standard input");
        goto done;
    }
    char err[1024] = "";
    chg_facts *facts = NULL;
    int rc = facts_path ? chg_facts_load(facts_path, &facts, err, sizeof err) : CHG_OK;
    if (rc != CHG_OK) {
        chgc_fail(rc, err);
        goto done;
    }
    base.facts = facts;
    chg_policy p[2];
    int opened = 0;
    for (; opened < 2; opened++) {
        int s = chgc_open_policy(paths[opened], npaths[opened], false, &p[opened]);
        if (s != EXIT_CLEAN) {
            /* a policy with errors cannot be compared: that is the job's
             * failure (2), not a difference (1) */
            chgc_error("replay: the %s policy cannot be used", opened ? "new" : "old");
            break;
        }
    }
    if (opened == 2) {
        chg_lines *in = chg_lines_open(events, 0, err, sizeof err);
        if (!in)
            chgc_fail(CHG_EIO, err);
        else {
            /* the progress line only on a terminal, and never when quiet */
            FILE *tty = !quiet && isatty(fileno(stderr)) ? stderr : NULL;
            chg_replay_options o = {
                .base = &base, .has_now = has_now, .format = (chg_replay_format)format, .progress = tty,
                .threads = (int)threads};
            chg_replay_summary sum;
            rc = chg_replay(p[0].bundle, p[1].bundle, in, &o, stdout, stderr, &sum, err, sizeof err);
            chg_lines_close(in);
            if (rc != CHG_OK)
                chgc_fail(rc, err);
            else if (sum.invalid) {
                chgc_error("replay: %zu line%s of %s %s not a record", sum.invalid, sum.invalid == 1 ? "" : "s",
                           events, sum.invalid == 1 ? "is" : "are");
            } else
                status = sum.differ ? EXIT_FINDINGS : EXIT_CLEAN;
        }
    }
    for (int k = 0; k < opened; k++)
        chg_policy_free(&p[k]);
    chg_facts_free(facts);
done:
    chg_free(paths[0]);
    chg_free(paths[1]);
    return status;
}
