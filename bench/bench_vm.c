/*
 * bench_vm.c — in-process decision throughput: compile a policy, decode a
 * file of changes (one JSON object per line) once, then evaluate them all
 * repeatedly on one thread (chg_eval_batch, which prefetches the changes
 * ahead; and one chg_eval at a time) and print decisions per second, the cost of
 * decoding, and heap allocations per decision (counted for the whole
 * process, libraries included). Prints figures; asserts nothing.
 *
 *   bench_vm POLICY.chg EVENTS.jsonl [FACTS.json] [SECONDS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "alloc_count.h"
#include "chg_compiler.h"
#include "chg_vm.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *len)
{
    char *data;
    if (chg_read_file_max(path, &data, len, (size_t)1 << 31) != CHG_OK) {
        fprintf(stderr, "bench_vm: cannot read %s\n", path);
        exit(2);
    }
    return data;
}

int main(int argc, char **argv)
{
    alloc_count_init();
    if (argc < 3) {
        fprintf(stderr, "usage: bench_vm POLICY.chg EVENTS.jsonl [FACTS.json] [SECONDS]\n");
        return 2;
    }
    double seconds = argc > 4 ? atof(argv[4]) : 3.0;
    chg_compiler *c = chg_compiler_new(NULL);
    chg_buf bytes;
    chg_buf_init(&bytes);
    if (chg_compiler_add_file(c, argv[1]) != CHG_OK || chg_compiler_check(c) != CHG_OK ||
        chg_compiler_emit(c, &bytes) != CHG_OK) {
        fprintf(stderr, "bench_vm: %s does not compile (run chgc check)\n", argv[1]);
        return 2;
    }
    chg_compiler_free(c);
    char err[512];
    chg_bundle *b = chg_bundle_load(bytes.data, bytes.len, err, sizeof err);
    if (!b) {
        fprintf(stderr, "bench_vm: %s\n", err);
        return 2;
    }
    chg_facts *facts = NULL;
    if (argc > 3 && strcmp(argv[3], "-")) {
        size_t fl;
        char *ft = slurp(argv[3], &fl);
        facts = chg_facts_parse(ft, fl, err, sizeof err);
        free(ft);
        if (!facts) {
            fprintf(stderr, "bench_vm: %s\n", err);
            return 2;
        }
    }

    size_t len;
    char *text = slurp(argv[2], &len);
    size_t cap = 1024, n = 0;
    chg_event **events = malloc(cap * sizeof *events);
    double t0 = now_s();
    for (char *line = text; line < text + len;) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        size_t ll = nl ? (size_t)(nl - line) : (size_t)(text + len - line);
        if (ll) {
            chg_event *e = chg_event_decode(b, line, ll, err, sizeof err);
            if (!e) {
                fprintf(stderr, "bench_vm: event %zu: %s\n", n + 1, err);
                return 2;
            }
            if (n == cap)
                events = realloc(events, (cap *= 2) * sizeof *events);
            events[n++] = e;
        }
        line += ll + 1;
    }
    double decode_s = now_s() - t0;

    chg_ctx *ctx = chg_ctx_new(b);
    chg_decision d;
    chg_eval_input in = {.now = 1798761600, .facts = facts};
    unsigned long outcomes[5] = {0};
    for (size_t i = 0; i < n; i++) { /* warm up: grow the scratch arena */
        in.change = events[i];
        chg_eval(ctx, &in, &d);
        outcomes[d.outcome]++;
    }
    unsigned long allocs_before = alloc_count_calls;
    size_t evals = 0;
    t0 = now_s();
    double t1 = t0;
    while (t1 - t0 < seconds) {
        chg_eval_batch(ctx, &in, (const chg_event *const *)events, n, NULL, NULL);
        evals += n;
        t1 = now_s();
    }
    unsigned long allocs = alloc_count_calls - allocs_before;
    double rate = (double)evals / (t1 - t0);

    /* the same, one chg_eval at a time: what a caller that does not
     * batch gets (the memory of each change is fetched when it is read) */
    size_t one_evals = 0;
    double o0 = now_s(), o1 = o0;
    while (o1 - o0 < seconds) {
        for (size_t i = 0; i < n; i++) {
            in.change = events[i];
            chg_eval(ctx, &in, &d);
        }
        one_evals += n;
        o1 = now_s();
    }
    double one_rate = (double)one_evals / (o1 - o0);

    /* the same, over the first 1,000 changes only: they stay in the CPU's
     * caches, so this measures the evaluator rather than memory latency */
    size_t hot = n < 1000 ? n : 1000, hot_evals = 0;
    double h0 = now_s(), h1 = h0;
    while (h1 - h0 < seconds) {
        chg_eval_batch(ctx, &in, (const chg_event *const *)events, hot, NULL, NULL);
        hot_evals += hot;
        h1 = now_s();
    }
    double hot_rate = (double)hot_evals / (h1 - h0);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("policy:    %s (%s)\n", argv[1], chg_bundle_policy_name(b));
    printf("events:    %zu, decoded in %.3f s (%.0f events/s)\n", n, decode_s, (double)n / decode_s);
    printf("outcomes:  allow %lu, pending %lu, defer %lu, deny %lu, error %lu\n", outcomes[0], outcomes[1],
           outcomes[2], outcomes[3], outcomes[4]);
    printf("(a) in-process: %.2f million decisions/s on one core, %.1f ns per decision (%zu decisions in %.2f s)\n",
           rate / 1e6, 1e9 / rate, evals, t1 - t0);
    printf("    one chg_eval at a time (no batch): %.2f million decisions/s, %.1f ns per decision\n",
           one_rate / 1e6, 1e9 / one_rate);
    printf("    cache-resident (first %zu changes, repeated): %.2f million decisions/s, %.1f ns per decision\n",
           hot, hot_rate / 1e6, 1e9 / hot_rate);
    printf("    heap allocations during the timed decisions: %lu (%.6f per decision)\n", allocs,
           (double)allocs / (double)evals);
    printf("    peak memory: %ld MiB (all %zu events decoded and held)\n", ru.ru_maxrss / 1024, n);

    for (size_t i = 0; i < n; i++)
        chg_event_free(events[i]);
    free(events);
    free(text);
    chg_ctx_free(ctx);
    chg_facts_free(facts);
    chg_bundle_free(b);
    chg_buf_free(&bytes);
    return 0;
}
