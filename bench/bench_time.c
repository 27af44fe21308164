/*
 * bench_time.c — figures for the time-set library on the windows and
 * freezes of the example policy (language.md §2): nanoseconds per
 * membership test (sequential and random instants, with and without the
 * per-thread cache) and microseconds per next-open search over a year
 * (any_slot outside black_friday, year_end, the ops-blackouts calendar and
 * the incident flag). Prints a table; asserts nothing.
 *
 * Usage: bench_time [path/to/ops-blackouts.ics]
 */
#include "chg_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static bool flag_cb(void *ud, const char *name)
{
    return *(const bool *)ud && strcmp(name, "incident-freeze") == 0;
}

static uint64_t rng = 0x2545F4914F6CDD1DULL;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

#define YEAR_S (365 * 86400LL)
#define T0 1767225600LL /* 2026-01-01T00:00:00Z */

typedef struct named {
    const char *name;
    chg_timeset *ts;
} named;

/* ns per contains over n instants (sequential: one a minute from T0). */
static double bench_contains(const chg_timeset *ts, const chg_ts_env *env, bool sequential, int n,
                             int *hits)
{
    int64_t *at = malloc((size_t)n * sizeof *at);
    for (int i = 0; i < n; i++)
        at[i] = sequential ? T0 + (int64_t)i * 60 : T0 + (int64_t)(rnd() % (uint64_t)YEAR_S);
    int h = 0;
    double t0 = now_ns();
    for (int i = 0; i < n; i++)
        h += chg_timeset_contains(ts, env, at[i]);
    double dt = now_ns() - t0;
    free(at);
    *hits = h;
    return dt / n;
}

int main(int argc, char **argv)
{
    const char *ics_path = argc > 1 ? argv[1] : "policies/calendars/ops-blackouts.ics";
    char *ics;
    size_t ics_len;
    if (chg_read_file(ics_path, &ics, &ics_len) != CHG_OK) {
        fprintf(stderr, "bench_time: cannot read %s\n", ics_path);
        return 1;
    }
    chg_ts_node n[] = {
        [0] = {.op = CHG_TS_CRON, .zone = "America/New_York", .cron = "0 22 ? * MON-FRI *",
               .duration = 6 * 3600},
        [1] = {.op = CHG_TS_WEEKLY, .zone = "Europe/Berlin", .days = 1, .start_min = 120,
               .end_min = 360},
        [2] = {.op = CHG_TS_OR, .a = 0, .b = 1},
        [3] = {.op = CHG_TS_RANGE, .from = 1795564800 /* 2026-11-25 */,
               .to = 1796083200 /* 2026-12-01 */},
        [4] = {.op = CHG_TS_YEARLY, .zone = "UTC", .from_month = 12, .from_day = 20,
               .to_month = 1, .to_day = 3},
        [5] = {.op = CHG_TS_CALENDAR, .ics = ics, .ics_len = ics_len},
        [6] = {.op = CHG_TS_FLAG, .flag = "incident-freeze"},
    };
    static const char *names[] = {"weeknights",   "sunday_am", "any_slot",    "black_friday",
                                  "year_end",     "ops_calendar", "incident"};
    named sets[7];
    double b0 = now_ns();
    for (int i = 0; i < 7; i++) {
        chg_time_error e;
        int bad;
        sets[i].name = names[i];
        sets[i].ts = chg_timeset_build(n, 7, i, &e, &bad);
        if (!sets[i].ts) {
            fprintf(stderr, "bench_time: %s: %s\n", names[i], e.message);
            return 1;
        }
    }
    double build_us = (now_ns() - b0) / 1e3;
    bool incident = false;
    chg_ts_env env = {flag_cb, &incident};

    printf("chg time sets — language.md §2 example (built in %.0f us)\n\n", build_us);
    printf("membership, ns per test over 2026 (%%: share of instants inside)\n");
    printf("  %-13s %11s %11s\n", "set", "seq", "rand");
    const int N = 525600; /* a year of minutes */
    for (int i = 0; i < 7; i++) {
        int h1, h2;
        double a = bench_contains(sets[i].ts, &env, true, N, &h1);
        double b = bench_contains(sets[i].ts, &env, false, N / 4, &h2);
        printf("  %-13s %8.1f ns %8.1f ns   (%4.1f%% in)\n", sets[i].name, a, b, 100.0 * h1 / N);
    }

    /* in any_slot, out of every freeze */
    const chg_timeset *ns[] = {sets[2].ts, sets[3].ts, sets[4].ts, sets[5].ts, sets[6].ts};
    const bool want[] = {true, false, false, false, false};
    const int64_t horizon = 366 * 86400LL;
    printf("\nnext_open: any_slot outside black_friday, year_end, ops_calendar, incident "
           "(horizon 366 d)\n");
    static const struct {
        const char *what;
        int64_t from;
        bool flag;
    } cases[] = {
        {"random instants in 2026", 0, false},
        {"from 2026-12-19T12:00Z (through the year-end freeze)", 1797681600, false},
        {"from 2026-11-26T00:00Z (inside black friday)", 1795651200, false},
        {"incident flag set (no slot in the horizon)", 1781913600, true},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        incident = cases[k].flag;
        int reps = cases[k].flag ? 2000 : 20000;
        int64_t sink = 0;
        double t0 = now_ns();
        for (int i = 0; i < reps; i++) {
            int64_t from = cases[k].from ? cases[k].from + i % 3600
                                         : T0 + (int64_t)(rnd() % (uint64_t)YEAR_S);
            sink ^= chg_timeset_next_admissible(ns, want, 5, &env, from, horizon, NULL);
        }
        double us = (now_ns() - t0) / reps / 1e3;
        char first[40] = "none";
        int64_t r = chg_timeset_next_admissible(ns, want, 5, &env, cases[k].from ? cases[k].from : T0,
                                                horizon, NULL);
        if (r != INT64_MAX)
            chg_time_format_utc(r, first);
        printf("  %-56s %8.2f us  -> %s%s\n", cases[k].what, us, first,
               sink == 42 ? " " : "");
    }
    incident = false;

    /* next_change of the combined window, and intervals over a year */
    double t0 = now_ns();
    int changes = 0;
    for (int64_t t = T0; t < T0 + YEAR_S && t != INT64_MAX; changes++)
        t = chg_timeset_next_change(sets[2].ts, &env, t, T0 + YEAR_S - t);
    printf("\nnext_change: %d changes of any_slot in 2026, %.2f us each\n", changes,
           (now_ns() - t0) / changes / 1e3);

    for (int i = 0; i < 7; i++)
        chg_timeset_free(sets[i].ts);
    chg_free(ics);
    return 0;
}
