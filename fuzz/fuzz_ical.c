/*
 * fuzz_ical.c — libFuzzer target for calendar time sets (stdlib/ical.c
 * over libical): any .ics text must either be rejected with an error that
 * points inside it, or expand (boundedly) into a time set whose queries
 * work. Self-contained: needs only libchg.
 */
#include "chg_time.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count(void *ud, int64_t a, int64_t b)
{
    if (b <= a)
        abort(); /* intervals are never empty */
    ++*(int *)ud;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    chg_ts_node n = {.op = CHG_TS_CALENDAR, .ics = (const char *)data, .ics_len = size};
    chg_time_error err;
    int bad;
    chg_timeset *ts = chg_timeset_build(&n, 1, 0, &err, &bad);
    if (!ts) {
        if (err.offset > size || err.length > size - err.offset || !err.message[0])
            abort();
        return 0;
    }
    int k = 0;
    chg_timeset_intervals(ts, NULL, 1767225600, 1767225600 + 2 * 366 * 86400LL, count, &k);
    (void)chg_timeset_contains(ts, NULL, 1772936400);
    (void)chg_timeset_next_change(ts, NULL, 0, 400 * 366 * 86400LL);
    chg_timeset_free(ts);
    return 0;
}
