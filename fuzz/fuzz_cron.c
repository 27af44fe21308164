/*
 * fuzz_cron.c — libFuzzer target for the cron parser and matcher
 * (stdlib/cron.c): any input must either be rejected with an error that
 * points inside it, or parse into a schedule whose searches terminate and
 * agree with the matcher. Self-contained: needs only libchg.
 */
#include "chg_time.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static chg_tz *zones[3];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!zones[0]) {
        chg_time_error e;
        zones[0] = chg_tz_load("UTC", &e);
        zones[1] = chg_tz_load("America/New_York", &e);
        zones[2] = chg_tz_load("Australia/Lord_Howe", &e);
    }
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = 0;
    chg_time_error err;
    chg_cron *c = chg_cron_parse(s, &err);
    if (!c) {
        if (err.offset > strlen(s) || err.length > strlen(s) - err.offset || !err.message[0])
            abort(); /* the error must point inside the input */
        free(s);
        return 0;
    }
    /* searches from a few instants, bounded by a horizon */
    static const int64_t from[] = {0, 1772936400 /* 2026-03-08 */, 4102444800 /* 2100 */,
                                   7258118399 /* 2199-12-31 */};
    for (size_t z = 0; z < 3; z++) {
        if (!zones[z])
            continue;
        for (size_t i = 0; i < sizeof from / sizeof *from; i++) {
            int64_t t = from[i];
            int64_t m = chg_cron_next(c, zones[z], t, t + 366 * 86400LL);
            if (m != INT64_MAX) {
                if (m < t || chg_cron_prev(c, zones[z], m, t) != m)
                    abort();
                if (z == 0 && !chg_cron_matches_local(c, m))
                    abort();
            }
            int64_t p = chg_cron_prev(c, zones[z], t, t - 366 * 86400LL);
            if (p != INT64_MIN && p > t)
                abort();
        }
    }
    /* as a window */
    chg_ts_node n = {.op = CHG_TS_CRON, .cron = s, .duration = 3600, .zone = "Europe/Berlin"};
    int bad;
    chg_timeset *ts = chg_timeset_build(&n, 1, 0, &err, &bad);
    if (ts) {
        (void)chg_timeset_contains(ts, NULL, 1772936400);
        (void)chg_timeset_next_change(ts, NULL, 1772936400, 30 * 86400LL);
        chg_timeset_free(ts);
    }
    chg_cron_free(c);
    free(s);
    return 0;
}
