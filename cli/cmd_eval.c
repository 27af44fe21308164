/*
 * cmd_eval.c — `chgc eval`: decide changes against a policy and print the
 * decisions (one JSON object per line; chg_decide_json, chg_decide_lines).
 * The instant comes from the policy's `at`, else --at, else the clock —
 * read here, never by the evaluator.
 */
#include "chg_time.h"
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
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
            "      --horizon DUR  how far to look for next_open, e.g. 366d (default)\n"
            "      --threads N    with --jsonl: decide on N threads, output in input order\n"
            "                     (default: the number of CPUs, at most 8)\n"
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
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *event = NULL, *at = NULL, *facts_path = NULL, *horizon = NULL;
    bool jsonl = false, explain = false;
    long threads = sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1)
        threads = 1;
    if (threads > 8)
        threads = 8;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "e:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'e': event = optarg; break;
        case 'j': jsonl = true; break;
        case 'x': explain = true; break;
        case 'a': at = optarg; break;
        case 'f': facts_path = optarg; break;
        case 'H': horizon = optarg; break;
        case 't': {
            char *end;
            threads = strtol(optarg, &end, 10);
            if (*end || threads < 1 || threads > 64) {
                chgc_error("--threads needs a number from 1 to 64, not '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        }
        case 'h': eval_usage(stdout); return EXIT_CLEAN;
        default: eval_usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind >= argc || !event) {
        chgc_error("eval: %s", optind >= argc ? "no policy given" : "no --event given");
        eval_usage(stderr);
        return EXIT_USAGE;
    }
    for (int i = optind; i < argc; i++)
        if (!strcmp(argv[i], "-") && !strcmp(event, "-")) {
            chgc_error("eval: the policy and --event cannot both be standard input");
            return EXIT_USAGE;
        }
    chg_eval_input base = {.now = (int64_t)time(NULL)};
    if (at && chg_time_parse_iso(at, strlen(at), &base.now) != CHG_OK) {
        chgc_error("--at: '%s' is not an RFC 3339 instant (like 2026-12-03T03:30:00Z)", at);
        return EXIT_USAGE;
    }
    if (horizon) {
        if (chgc_parse_duration(horizon, &base.horizon) != CHG_OK || base.horizon <= 0) {
            chgc_error("--horizon: '%s' is not a duration (like 366d)", horizon);
            return EXIT_USAGE;
        }
    }
    char err[1024];
    chg_facts *facts = NULL;
    if (facts_path && chg_facts_load(facts_path, &facts, err, sizeof err) != CHG_OK) {
        chgc_error("%s", err);
        return EXIT_USAGE;
    }
    base.facts = facts;
    chg_policy p;
    int status = chgc_open_policy(argv + optind, argc - optind, true, &p);
    if (status != EXIT_CLEAN) {
        chg_facts_free(facts);
        return status;
    }
    if (jsonl) {
        chg_lines *in = chg_lines_open(event, 0, err, sizeof err);
        bool failed = false;
        if (!in || chg_decide_lines(p.bundle, &base, in, (int)threads, explain, stdout, stderr, &failed, err,
                                    sizeof err) != CHG_OK) {
            chgc_error("%s", err);
            status = EXIT_USAGE;
        } else if (failed)
            status = EXIT_FINDINGS;
        chg_lines_close(in);
    } else {
        char *data;
        size_t len;
        chg_ctx *ctx = NULL;
        if (chg_input_read(event, 0, &data, &len, err, sizeof err) != CHG_OK) {
            chgc_error("%s", err);
            status = EXIT_USAGE;
        } else if (!(ctx = chg_ctx_new(p.bundle))) {
            chgc_error("out of memory");
            status = EXIT_USAGE;
            chg_free(data);
        } else {
            chg_buf out, errs;
            chg_buf_init(&out);
            chg_buf_init(&errs);
            if (!chg_decide_json(ctx, p.bundle, data, len, &base, strcmp(event, "-") ? event : "<stdin>", explain,
                                 &out, &errs))
                status = EXIT_FINDINGS;
            fwrite(errs.data ? errs.data : "", 1, errs.len, stderr);
            fwrite(out.data ? out.data : "", 1, out.len, stdout);
            chg_buf_free(&out);
            chg_buf_free(&errs);
            chg_free(data);
        }
        chg_ctx_free(ctx);
    }
    fflush(stdout);
    chg_policy_free(&p);
    chg_facts_free(facts);
    return status;
}
