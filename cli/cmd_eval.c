/*
 * cmd_eval.c — `chgc eval`: decide changes against a policy and print the
 * decisions (one JSON object per line; chg_decide_json, chg_decide_lines).
 * The instant comes from the policy's `at`, else --at, else the clock —
 * read here, never by the evaluator.
 */
#include "cli.h"

#include <getopt.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void eval_usage(FILE *f)
{
    fprintf(f,
            "Usage: chgc eval (BUNDLE.chgb | PATH...) --event FILE|- [OPTIONS]\n"
            "\n"
            "Decide a change against a policy and print the decision as JSON.\n"
            "\n"
            "Options:\n"
            "  -e, --event FILE   the change, or a raw event an intake maps to one (JSON);\n"
            "                     '-' reads standard input\n"
            "      --jsonl        the input has one change per line; print one decision per line\n"
            "      --at INSTANT   judge at this RFC 3339 instant when the policy has no 'at'\n"
            "                     (default: now)\n"
            "      --facts FILE   flags and answers of external queries (docs/facts.md)\n"
            "      --explain      before the decision, explain it: the classify arm, every rule\n"
            "                     with the values it read and its source position, and what\n"
            "                     would change the outcome\n"
            "      --horizon DUR  how far to look for next_open and closes_at\n"
            "                     (default 366d, at most 3660d)\n"
            "      --threads N    with --jsonl: decide on N threads, output in input order\n"
            "                     (default: the number of CPUs, at most 8)\n"
            "      --allow-path DIR read imports, calendars, test inputs also from DIR\n"
            "  -h, --help         show this help\n"
            "\n"
            "Exit status: 0 every change was decided (whatever the outcome), 1 some input\n"
            "was not a valid change, 2 usage or I/O error.\n");
}

int chgc_eval(int argc, char **argv)
{
    static const struct option opts[] = {
        {"event", required_argument, NULL, 'e'},
        {"jsonl", no_argument, NULL, 'j'},
        {"at", required_argument, NULL, 'a'},
        {"facts", required_argument, NULL, 'f'},
        {"horizon", required_argument, NULL, 'H'},
        {"threads", required_argument, NULL, 't'},
        {"explain", no_argument, NULL, 'x'},
        {"allow-path", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *event = NULL, *facts_path = NULL;
    bool jsonl = false, explain = false;
    chg_eval_input base = {.now = (int64_t)time(NULL)};
    /* Eight threads at most by default, so that chgc on a large shared
     * runner does not take every CPU; --threads may ask for up to 64. The
     * output is the same bytes whatever the number (docs/vm.md). */
    long threads = sysconf(_SC_NPROCESSORS_ONLN);
    threads = threads < 1 ? 1 : threads > 8 ? 8 : threads;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "e:h", opts, NULL)) != -1) {
        bool ok = true;
        switch (ch) {
        case 'e': event = optarg; break;
        case 'j': jsonl = true; break;
        case 'x': explain = true; break;
        case 'a': ok = chgc_opt_instant("at", optarg, &base.now); break;
        case 'f': facts_path = optarg; break;
        case 'H': ok = chgc_opt_horizon("horizon", optarg, &base.horizon); break;
        case 't': ok = chgc_opt_int("threads", optarg, 1, 64, &threads); break;
        case 'P': ok = chgc_opt_allow_path(optarg); break;
        case 'h': eval_usage(stdout); return EXIT_CLEAN;
        default: eval_usage(stderr); return EXIT_USAGE;
        }
        if (!ok)
            return EXIT_USAGE;
    }
    if (optind >= argc || !event) {
        chgc_error("eval: %s", optind >= argc ? "no policy given" : "no --event given");
        eval_usage(stderr);
        return EXIT_USAGE;
    }
    if (chgc_is_stdin(event) + chgc_is_stdin(facts_path) + chgc_stdin_uses(argv + optind, argc - optind) > 1) {
        chgc_error("eval: only one of the policy, --event and --facts can be standard input");
        return EXIT_USAGE;
    }
    char err[1024] = "";
    chg_facts *facts = NULL;
    /* Facts are loaded before the policy is compiled: a mistyped facts
     * file is a usage error (2) and should not wait for a compilation. */
    int rc = facts_path ? chg_facts_load(facts_path, &facts, err, sizeof err) : CHG_OK;
    if (rc != CHG_OK) {
        chgc_fail(rc, err);
        return EXIT_USAGE;
    }
    base.facts = facts;
    chg_policy p;
    int status = chgc_open_policy(argv + optind, argc - optind, true, &p);
    if (status == EXIT_CLEAN && facts) {
        /* a warning, not a failure: facts may serve several policies */
        chg_buf unread;
        chg_buf_init(&unread);
        chg_facts_unread(facts, p.bundle, &unread);
        for (const char *s = unread.data, *e = s ? s + unread.len : s; s && s < e;) {
            const char *nl = memchr(s, '\n', (size_t)(e - s));
            chgc_error("%s: warning: %.*s", facts_path, (int)(nl - s), s);
            s = nl + 1;
        }
        chg_buf_free(&unread);
    }
    if (status == EXIT_CLEAN) {
        bool failed = false;
        chg_decide_options o = {.threads = (int)threads, .explain = explain, .label = "chgc"};
        rc = jsonl ? chg_decide_lines(p.bundle, &base, event, &o, stdout, stderr, &failed, err, sizeof err)
                   : chg_decide_document(p.bundle, &base, event, &o, stdout, stderr, &failed, err, sizeof err);
        /* Statuses: 2 when the run could not go on (an unreadable input,
         * memory); 1 when it went through but some input was not a valid
         * change (each such line got its error on stderr and the others
         * their decisions); 0 otherwise. The outcomes themselves — deny,
         * defer, error — are in the output, never in the status. */
        if (rc != CHG_OK) {
            chgc_fail(rc, err);
            status = EXIT_USAGE;
        } else if (failed)
            status = EXIT_FINDINGS;
        chg_policy_free(&p);
    }
    fflush(stdout);
    chg_facts_free(facts);
    return status;
}
