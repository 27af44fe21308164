/*
 * cmd_simulate.c — `chgc simulate`: a schedule of planned changes judged
 * ahead of time (chg_simulate), printed as a timeline, JSON, two
 * calendars or a page.
 */
#include "cli.h"
#include "chg_time.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void simulate_usage(FILE *f)
{
    fprintf(f,
            "Usage: chgc simulate (BUNDLE.chgb | PATH...) --changes FILE [OPTIONS]\n"
            "\n"
            "Judge planned changes ahead of time: each one's decision at its planned\n"
            "instant, the earliest slot in the range its whole duration fits, what it\n"
            "still needs, and the conflicts between changes (docs/simulate.md).\n"
            "\n"
            "Options:\n"
            "  -c, --changes FILE     the planned changes: a JSON array or JSON lines of\n"
            "                         changes or {\"change\": {...}, \"at\": \"RFC 3339\",\n"
            "                         \"duration\": \"2h\", \"depends_on\": [...]} ('-': stdin)\n"
            "      --from INSTANT     start of the range (default: the first planned instant)\n"
            "      --to INSTANT       end of the range (default: 30 days after the last\n"
            "                         planned end)\n"
            "      --facts FILE       flags and query answers (docs/facts.md)\n"
            "      --approval-lead DUR  what a change still needs can be had DUR after\n"
            "                         --from (default: only the approvals it has)\n"
            "      --duration DUR     the duration of changes without one (default 1h)\n"
            "  -f, --format FORMAT    text (default), json, ics or html\n"
            "  -o, --output PATH      write to PATH (ics: a directory, which gets\n"
            "                         changes.ics and freezes.ics)\n"
            "  -q, --quiet            no progress on a terminal\n"
            CHGC_ALLOW_PATH_HELP
            "  -h, --help             show this help\n"
            "\n"
            "Exit status: 0 every change fits as planned and none conflict, 1 some do\n"
            "not fit or conflict, 2 usage or I/O error, a policy with errors, or bad input.\n");
}

static bool write_file(const char *path, const chg_buf *b)
{
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(b->data ? b->data : "", 1, b->len, f) == b->len;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok)
        chgc_error("%s: %s", path, strerror(errno ? errno : EIO));
    return ok;
}

/* ics: two calendars, the changes and the freezes, as DIR/changes.ics
 * and DIR/freezes.ics (one file cannot be imported as two calendars). */
static bool write_ics(const chg_simulation *s, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        chgc_error("%s: --format ics writes two calendars into a directory, and this is not one", dir);
        return false;
    }
    static const char *const names[2] = {"changes.ics", "freezes.ics"};
    for (int k = 0; k < 2; k++) {
        chg_buf b;
        chg_buf_init(&b);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        bool ok = chg_simulation_write(s, k ? CHG_SIM_ICS_FREEZES : CHG_SIM_ICS_CHANGES, &b) == CHG_OK;
        if (!ok)
            chgc_fail(CHG_ENOMEM, "");
        ok = ok && write_file(path, &b);
        chg_buf_free(&b);
        if (!ok)
            return false;
    }
    return true;
}

int chgc_simulate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"changes", required_argument, NULL, 'c'},
        {"from", required_argument, NULL, 'F'},
        {"to", required_argument, NULL, 'T'},
        {"facts", required_argument, NULL, 'a'},
        {"approval-lead", required_argument, NULL, 'L'},
        {"duration", required_argument, NULL, 'd'},
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"quiet", no_argument, NULL, 'q'},
        {"allow-path", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const char *const formats[] = {"text", "json", "ics", "html", NULL};
    chg_sim_options o = {.duration = 3600};
    const char *changes = NULL, *facts_path = NULL, *output = NULL;
    int format = 0, ch;
    bool quiet = false;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:f:o:qh", opts, NULL)) != -1) {
        bool ok = true;
        switch (ch) {
        case 'c': changes = optarg; break;
        case 'F': ok = o.has_from = chgc_opt_instant("from", optarg, &o.from); break;
        case 'T': ok = o.has_to = chgc_opt_instant("to", optarg, &o.to); break;
        case 'a': facts_path = optarg; break;
        case 'L': ok = chgc_opt_duration("approval-lead", optarg, &o.approval_lead); break;
        case 'd': ok = chgc_opt_duration("duration", optarg, &o.duration); break;
        case 'f': ok = chgc_opt_choice("format", optarg, formats, &format); break;
        case 'o': output = optarg; break;
        case 'q': quiet = true; break;
        case 'P': ok = chgc_opt_allow_path(optarg); break;
        case 'h': simulate_usage(stdout); return EXIT_CLEAN;
        default: simulate_usage(stderr); return EXIT_USAGE;
        }
        if (!ok)
            return EXIT_USAGE;
    }
    if (optind >= argc || !changes) {
        chgc_error("simulate: %s", optind >= argc ? "no PATH given" : "no --changes given");
        simulate_usage(stderr);
        return EXIT_USAGE;
    }
    if (format == 2 && !output) {
        chgc_error("simulate: --format ics writes two calendars (changes.ics, freezes.ics): name their "
                   "directory with -o DIR");
        return EXIT_USAGE;
    }
    if (o.has_from && o.has_to && o.to <= o.from) {
        chgc_error("--to must be after --from");
        return EXIT_USAGE;
    }
    /* the search looks at most as far as a decision may: ten years */
    if (o.has_from && o.has_to && o.to - o.from > CHG_HORIZON_MAX) {
        chgc_error("the range is longer than 3660 days");
        return EXIT_USAGE;
    }
    if (chgc_is_stdin(changes) + chgc_is_stdin(facts_path) + chgc_stdin_uses(argv + optind, argc - optind) > 1) {
        chgc_error("simulate: only one of the policy, --changes and --facts can be standard input");
        return EXIT_USAGE;
    }
    char err[1024] = "";
    chg_facts *facts = NULL;
    int rc = facts_path ? chg_facts_load(facts_path, &facts, err, sizeof err) : CHG_OK;
    if (rc != CHG_OK) {
        chgc_fail(rc, err);
        return EXIT_USAGE;
    }
    o.facts = facts;
    o.name = !strcmp(changes, "-") ? "<stdin>" : changes;
    chg_policy p;
    int status = chgc_open_policy(argv + optind, argc - optind, false, &p);
    if (status != EXIT_CLEAN) {
        chg_facts_free(facts);
        return status == EXIT_FINDINGS ? EXIT_USAGE : status; /* a policy with errors simulates nothing */
    }
    char *text = NULL;
    size_t len = 0;
    status = EXIT_USAGE;
    rc = chg_input_read(changes, 0, &text, &len, err, sizeof err);
    chg_simulation *s = NULL;
    chg_buf errs, out;
    chg_buf_init(&errs);
    chg_buf_init(&out);
    if (rc != CHG_OK)
        chgc_fail(rc, err);
    else {
        o.progress = quiet || !isatty(fileno(stderr)) ? NULL : chg_progress_start(stderr, "simulate", "changes");
        rc = chg_simulate(p.bundle, text, len, &o, &s, &errs);
        chg_progress_end(o.progress);
        if (errs.len)
            fwrite(errs.data, 1, errs.len, stderr);
        if (rc != CHG_OK && rc != CHG_EINVAL)
            chgc_fail(rc, "");
    }
    if (s) {
        bool ok;
        if (format == 2)
            ok = write_ics(s, output);
        else {
            static const chg_sim_format fs[] = {CHG_SIM_TEXT, CHG_SIM_JSON, CHG_SIM_ICS_CHANGES, CHG_SIM_HTML};
            ok = chg_simulation_write(s, fs[format], &out) == CHG_OK;
            if (!ok)
                chgc_fail(CHG_ENOMEM, "");
            else if (output)
                ok = write_file(output, &out);
            else
                ok = fwrite(out.data ? out.data : "", 1, out.len, stdout) == out.len && fflush(stdout) == 0;
        }
        if (ok) {
            chg_sim_summary sum;
            chg_simulation_summary(s, &sum);
            status = sum.fit == sum.changes && !sum.conflicts ? EXIT_CLEAN : EXIT_FINDINGS;
        }
    }
    chg_simulation_free(s);
    chg_buf_free(&errs);
    chg_buf_free(&out);
    chg_free(text);
    chg_policy_free(&p);
    chg_facts_free(facts);
    return status;
}
