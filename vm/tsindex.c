/*
 * tsindex.c — a per-context index of time sets: the intervals of each set
 * over the calendar year around the instants being judged (with a month of
 * margin on each side), taken from the time-set library once and then
 * searched by bisection. Membership, the next change and the next
 * admissible instant are answered from it; outside the indexed range the
 * library answers directly.
 *
 * Why: changes arrive from all over a year (replays, simulations,
 * benchmarks), so a one-segment cache misses; computing cron matches in
 * local time per decision costs hundreds of nanoseconds. Building the
 * index allocates (once per year and set of flags); using it does not.
 */
#include "vm_int.h"

#include <string.h>

#include "chg_time.h"

static int collect(void *ud, int64_t start, int64_t end)
{
    chg_ts_index *x = ud;
    if (x->n == x->cap) {
        uint32_t cap = x->cap ? x->cap * 2 : 64;
        int64_t *iv = chg_realloc(x->iv, sizeof(int64_t) * 2 * cap);
        if (!iv)
            return 1;
        x->iv = iv;
        x->cap = cap;
    }
    x->iv[2 * x->n] = start;
    x->iv[2 * x->n + 1] = end;
    x->n++;
    return 0;
}

/* Index the calendar year (UTC) of t, plus 31 days on each side. */
static bool rebuild(const chg_timeset *ts, const chg_ts_env *env, chg_ts_index *x, int64_t t)
{
    int64_t y;
    int m, d;
    chg_civil_from_days(chg_floor_div(t, 86400), &y, &m, &d);
    if (y < 1 || y > 9000)
        return false;
    x->lo = chg_days_from_civil(y, 1, 1) * 86400 - 31 * 86400;
    x->hi = chg_days_from_civil(y + 1, 1, 1) * 86400 + 31 * 86400;
    x->n = 0;
    x->valid = chg_timeset_intervals(ts, env, x->lo, x->hi, collect, x) == 0;
    return x->valid;
}

/* Index of the last interval starting at or before t, or -1. */
static int64_t find(const chg_ts_index *x, int64_t t)
{
    int64_t lo = 0, hi = (int64_t)x->n - 1, r = -1;
    while (lo <= hi) {
        int64_t mid = (lo + hi) / 2;
        if (x->iv[2 * mid] <= t) {
            r = mid;
            lo = mid + 1;
        } else
            hi = mid - 1;
    }
    return r;
}

static bool covers(const chg_ts_index *x, int64_t t) { return x->valid && t >= x->lo && t < x->hi; }

bool chg_tsx_contains(const chg_timeset *ts, const chg_ts_env *env, chg_ts_index *x, int64_t t)
{
    if (CHG_UNLIKELY(!covers(x, t)) && !rebuild(ts, env, x, t))
        return chg_timeset_contains(ts, env, t, NULL);
    int64_t i = find(x, t);
    return i >= 0 && t < x->iv[2 * i + 1];
}

int64_t chg_tsx_next_change(const chg_timeset *ts, const chg_ts_env *env, chg_ts_index *x, int64_t t,
                            int64_t horizon)
{
    if (!covers(x, t) && !rebuild(ts, env, x, t))
        return chg_timeset_next_change(ts, env, t, horizon);
    int64_t i = find(x, t);
    int64_t next;
    if (i >= 0 && t < x->iv[2 * i + 1])
        next = x->iv[2 * i + 1];           /* inside: it ends */
    else
        next = (uint64_t)(i + 1) < x->n ? x->iv[2 * (i + 1)] : x->hi; /* outside: the next one starts */
    if (next >= x->hi) /* clipped at the end of the index: ask the library */
        return chg_timeset_next_change(ts, env, t, horizon);
    return next > t + horizon ? INT64_MAX : next;
}

int64_t chg_tsx_next_admissible(chg_ts_index *const *xs, const chg_timeset *const *sets, const bool *want,
                                size_t n, const chg_ts_env *env, int64_t t, int64_t horizon)
{
    int64_t end = t > INT64_MAX - horizon ? INT64_MAX : t + horizon;
    /* each step moves to the next boundary of some set, so the loop runs
     * at most once per boundary within the horizon */
    while (t < end) {
        bool ok = true;
        int64_t step = INT64_MAX;
        for (size_t k = 0; k < n; k++) {
            bool in = chg_tsx_contains(sets[k], env, xs[k], t);
            if (in != want[k])
                ok = false;
            int64_t c = chg_tsx_next_change(sets[k], env, xs[k], t, end - t);
            if (c < step)
                step = c;
        }
        if (ok)
            return t;
        if (step == INT64_MAX || step <= t)
            return INT64_MAX;
        t = step;
    }
    return INT64_MAX;
}

void chg_tsx_free(chg_ts_index *x, size_t n)
{
    for (size_t i = 0; x && i < n; i++)
        chg_free(x[i].iv);
    chg_free(x);
}

chg_ts_index *chg_tsx_new(size_t n) { return chg_calloc(n + 1, sizeof(chg_ts_index)); }

void chg_tsx_reset(chg_ts_index *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i].valid = false;
}
