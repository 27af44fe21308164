/*
 * cmd_eval.c — `chgc eval`: decide changes against a policy and print the
 * decisions (one JSON object per line). The instant comes from the policy's
 * `at`, else --at, else the clock — read here, never by the evaluator.
 */
#include "chg_time.h"
#include "chg_vm.h"
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
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

static int read_all(const char *path, char **data, size_t *len)
{
    if (strcmp(path, "-") != 0) {
        int rc = chg_read_file_max(path, data, len, (size_t)1 << 30);
        if (rc != CHG_OK)
            chgc_error("%s: %s", path, rc == CHG_EINVAL ? "not a regular file" : rc == CHG_ERANGE ? "too large"
                                                                                         : strerror(errno));
        return rc;
    }
    chg_buf b;
    chg_buf_init(&b);
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, stdin)) > 0)
        chg_buf_append(&b, tmp, n);
    if (ferror(stdin) || b.oom) {
        chgc_error("-: cannot read standard input");
        chg_buf_free(&b);
        return CHG_EIO;
    }
    *len = b.len;
    *data = chg_buf_take(&b);
    return CHG_OK;
}

/* Decide one change; append the decision line to out. Returns false when
 * the input is not a change (the error line is appended instead, and the
 * message to errs, or stderr when errs is NULL). */
static bool explain; /* --explain */

static bool decide(chg_bundle *b, chg_ctx *ctx, const char *json, size_t len, const chg_eval_input *base,
                   const char *where, chg_buf *out, chg_buf *errs)
{
    char err[512];
    chg_event *ev = chg_event_intake(ctx, json, len, base, NULL, err, sizeof err);
    if (!ev) {
        if (errs)
            chg_buf_printf(errs, "chgc: %s: %s\n", where, err);
        else
            chgc_error("%s: %s", where, err);
        chg_buf_puts(out, "{\"error\":");
        char msg[600];
        snprintf(msg, sizeof msg, "%s: %s", where, err);
        chg_buf_json_string(out, msg, strlen(msg));
        chg_buf_puts(out, "}\n");
        return false;
    }
    chg_eval_input in = *base;
    in.change = ev;
    chg_decision d;
    if (explain) {
        chg_explain(ctx, &in, &d, out);
        chg_buf_puts(out, "\ndecision: ");
    } else
        chg_eval(ctx, &in, &d);
    chg_decision_write(b, &d, out);
    chg_buf_putc(out, '\n');
    chg_event_free(ev);
    return true;
}

/* ---- --jsonl on several threads ------------------------------------------- */

/* The input is cut into batches of lines; workers decide whole batches
 * with their own contexts (the bundle is shared, read-only), and the main
 * thread writes the batches' output in input order. */
typedef struct batch {
    chg_buf lines;          /* the batch's lines, each ending in \n */
    unsigned long first;    /* line number of the first */
    chg_buf out, errs;
    bool failed;            /* some line was not a change */
    bool done;
} batch;

typedef struct pool {
    chg_bundle *b;
    const chg_eval_input *base;
    batch *ring;
    size_t nring;
    unsigned long filled, taken, written; /* batch counters */
    bool eof;
    pthread_mutex_t mu;
    pthread_cond_t work, done, space;
} pool;

static void run_batch(pool *p, chg_ctx *ctx, batch *bt)
{
    const char *s = bt->lines.data, *end = s + bt->lines.len;
    unsigned long lineno = bt->first;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t len = (size_t)(nl - s);
        while (len && s[len - 1] == '\r')
            len--;
        if (len) {
            char where[64];
            snprintf(where, sizeof where, "line %lu", lineno);
            if (!decide(p->b, ctx, s, len, p->base, where, &bt->out, &bt->errs))
                bt->failed = true;
        }
        lineno++;
        s = nl + 1;
    }
}

static void *worker(void *arg)
{
    pool *p = arg;
    chg_ctx *ctx = chg_ctx_new(p->b);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->taken == p->filled && !p->eof)
            pthread_cond_wait(&p->work, &p->mu);
        if (p->taken == p->filled && p->eof)
            break;
        batch *bt = &p->ring[p->taken++ % p->nring];
        pthread_mutex_unlock(&p->mu);
        if (ctx)
            run_batch(p, ctx, bt);
        else
            bt->failed = true;
        pthread_mutex_lock(&p->mu);
        bt->done = true;
        pthread_cond_broadcast(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    chg_ctx_free(ctx);
    return NULL;
}

/* Write finished batches in order; with `all`, wait for every batch. */
static bool drain(pool *p, bool all)
{
    bool failed = false;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->written < p->filled && !p->ring[p->written % p->nring].done && all)
            pthread_cond_wait(&p->done, &p->mu);
        if (p->written == p->filled || !p->ring[p->written % p->nring].done)
            break;
        batch *bt = &p->ring[p->written % p->nring];
        pthread_mutex_unlock(&p->mu);
        fwrite(bt->errs.data ? bt->errs.data : "", 1, bt->errs.len, stderr);
        fwrite(bt->out.data ? bt->out.data : "", 1, bt->out.len, stdout);
        failed |= bt->failed;
        chg_buf_reset(&bt->lines);
        chg_buf_reset(&bt->out);
        chg_buf_reset(&bt->errs);
        bt->failed = bt->done = false;
        pthread_mutex_lock(&p->mu);
        p->written++;
        pthread_cond_broadcast(&p->space);
    }
    pthread_mutex_unlock(&p->mu);
    return failed;
}

static int eval_parallel(chg_bundle *b, const chg_eval_input *base, FILE *in, int threads, const char *name)
{
    pool p;
    memset(&p, 0, sizeof p);
    p.b = b;
    p.base = base;
    p.nring = (size_t)threads * 3;
    p.ring = chg_calloc(p.nring, sizeof *p.ring);
    pthread_t *tids = chg_calloc((size_t)threads, sizeof *tids);
    if (!p.ring || !tids) {
        chgc_error("out of memory");
        chg_free(p.ring);
        chg_free(tids);
        return EXIT_USAGE;
    }
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.work, NULL);
    pthread_cond_init(&p.done, NULL);
    pthread_cond_init(&p.space, NULL);
    for (int i = 0; i < threads; i++)
        pthread_create(&tids[i], NULL, worker, &p);

    int status = EXIT_CLEAN;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = 0;
    unsigned long lineno = 0;
    while (n >= 0) {
        /* wait for a free batch, writing what is finished meanwhile */
        pthread_mutex_lock(&p.mu);
        while (p.filled - p.written >= p.nring) {
            pthread_mutex_unlock(&p.mu);
            if (drain(&p, false))
                status = EXIT_FINDINGS;
            pthread_mutex_lock(&p.mu);
            if (p.filled - p.written >= p.nring)
                pthread_cond_wait(&p.done, &p.mu);
        }
        batch *bt = &p.ring[p.filled % p.nring];
        pthread_mutex_unlock(&p.mu);
        bt->first = lineno + 1;
        int count = 0;
        while (count < 512 && bt->lines.len < (1 << 20) && (n = getline(&line, &cap, in)) > 0) {
            lineno++;
            count++;
            chg_buf_append(&bt->lines, line, (size_t)n);
            if (line[n - 1] != '\n')
                chg_buf_putc(&bt->lines, '\n');
        }
        pthread_mutex_lock(&p.mu);
        if (count)
            p.filled++;
        pthread_cond_broadcast(&p.work);
        pthread_mutex_unlock(&p.mu);
        if (drain(&p, false))
            status = EXIT_FINDINGS;
        if (n <= 0)
            break;
    }
    if (ferror(in)) {
        chgc_error("%s: %s", name, strerror(errno));
        status = EXIT_USAGE;
    }
    free(line);
    pthread_mutex_lock(&p.mu);
    p.eof = true;
    pthread_cond_broadcast(&p.work);
    pthread_mutex_unlock(&p.mu);
    if (drain(&p, true) && status == EXIT_CLEAN)
        status = EXIT_FINDINGS;
    for (int i = 0; i < threads; i++)
        pthread_join(tids[i], NULL);
    for (size_t i = 0; i < p.nring; i++) {
        chg_buf_free(&p.ring[i].lines);
        chg_buf_free(&p.ring[i].out);
        chg_buf_free(&p.ring[i].errs);
    }
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.work);
    pthread_cond_destroy(&p.done);
    pthread_cond_destroy(&p.space);
    chg_free(p.ring);
    chg_free(tids);
    return status;
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
    bool jsonl = false;
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
    chg_facts *facts = NULL;
    if (facts_path) {
        char *data;
        size_t len;
        if (read_all(facts_path, &data, &len) != CHG_OK)
            return EXIT_USAGE;
        char err[512];
        facts = chg_facts_parse(data, len, err, sizeof err);
        chg_free(data);
        if (!facts) {
            chgc_error("%s: %s", facts_path, err);
            return EXIT_USAGE;
        }
        base.facts = facts;
    }
    int status = EXIT_CLEAN;
    chg_bundle *b = chgc_load_policy(argv + optind, argc - optind, &status);
    if (!b) {
        chg_facts_free(facts);
        return status;
    }
    chg_ctx *ctx = chg_ctx_new(b);
    if (!ctx) {
        chgc_error("out of memory");
        chg_bundle_free(b);
        chg_facts_free(facts);
        return EXIT_USAGE;
    }
    chg_buf out;
    chg_buf_init(&out);
    if (!jsonl) {
        char *data;
        size_t len;
        if (read_all(event, &data, &len) != CHG_OK)
            status = EXIT_USAGE;
        else {
            if (!decide(b, ctx, data, len, &base, strcmp(event, "-") ? event : "<stdin>", &out, NULL))
                status = EXIT_FINDINGS;
            chg_free(data);
        }
    } else {
        FILE *in = strcmp(event, "-") ? fopen(event, "r") : stdin;
        if (!in) {
            chgc_error("%s: %s", event, strerror(errno));
            status = EXIT_USAGE;
        } else if (threads > 1) {
            status = eval_parallel(b, &base, in, (int)threads, event);
            if (in != stdin)
                fclose(in);
        } else {
            char *line = NULL;
            size_t cap = 0;
            ssize_t n;
            unsigned long lineno = 0;
            while ((n = getline(&line, &cap, in)) > 0) {
                lineno++;
                size_t len = (size_t)n;
                while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                    len--;
                if (!len)
                    continue;
                char where[64];
                snprintf(where, sizeof where, "line %lu", lineno);
                if (!decide(b, ctx, line, len, &base, where, &out, NULL))
                    status = EXIT_FINDINGS;
                if (out.len > (1 << 16)) {
                    fwrite(out.data, 1, out.len, stdout);
                    chg_buf_reset(&out);
                }
            }
            if (ferror(in)) {
                chgc_error("%s: %s", event, strerror(errno));
                status = EXIT_USAGE;
            }
            free(line);
            if (in != stdin)
                fclose(in);
        }
    }
    fwrite(out.data ? out.data : "", 1, out.len, stdout);
    fflush(stdout);
    chg_buf_free(&out);
    chg_ctx_free(ctx);
    chg_bundle_free(b);
    chg_facts_free(facts);
    return status;
}
