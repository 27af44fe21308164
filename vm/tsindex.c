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
 *
 * Rebuild policy: one index per set and context, covering one year. A
 * query outside it rebuilds it around the new instant, reusing the
 * interval array (so a warm context does not allocate even then, only
 * recomputes). The index depends on the flags (a flag node is in or out
 * for the whole evaluation), so chg_vm_ctx_begin invalidates every index
 * when the facts' flags differ from the ones it was built with; a stream
 * of decisions with the same flags keeps them. The worst case, instants
 * alternating between two years, rebuilds on every query and is as fast
 * as asking the library each time plus one year's intervals; the
 * common case (one year) is a binary search.
 *
 * The intervals are the library's maximal runs clipped to [lo, hi): an
 * interval ending at hi may go on beyond it, and one starting at lo may
 * have started before, which is why an answer that touches an end of the
 * index is left to the library.
 */
#include "vm_int.h"

#include <string.h>

#include "chg_time.h"

/* chg_timeset_intervals callback: append [start, end). Returns 1 (stop
 * the walk) when out of memory; the index is then invalid and the library
 * answers until a rebuild succeeds. */
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

/* Index the calendar year (UTC) of t, plus 31 days on each side: the
 * margin lets next_change and next_admissible near the year's end find
 * January's intervals without a rebuild. Years outside 1..9000 are left
 * to the library (no index, no civil-date edge cases). */
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

/* t is in the set iff the last interval starting at or before t has not
 * ended at t (intervals are half-open and disjoint). */
bool chg_vm_tsx_contains(const chg_timeset *ts, const chg_ts_env *env, chg_ts_index *x, int64_t t)
{
    if (CHG_UNLIKELY(!covers(x, t)) && !rebuild(ts, env, x, t))
        return chg_timeset_contains(ts, env, t);
    int64_t i = find(x, t);
    return i >= 0 && t < x->iv[2 * i + 1];
}

int64_t chg_vm_tsx_next_change(const chg_timeset *ts, const chg_ts_env *env, chg_ts_index *x, int64_t t,
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
    /* as the library: a change at t + horizon is inside it, one after is
     * past it (and next - t cannot overflow where t + horizon could) */
    return next - t > horizon ? INT64_MAX : next;
}

/* The search itself is the library's (chg_timeset_next_admissible, one
 * algorithm for both); through the probe it asks the index instead of the
 * sets, so a next_open over several windows and freezes is a few binary
 * searches per change it passes. */
typedef struct probe_ud {
    chg_ts_index *const *xs;
    const chg_timeset *const *sets;
    const chg_ts_env *env;
} probe_ud;

static bool probe_contains(void *ud, size_t k, int64_t t)
{
    const probe_ud *p = ud;
    return chg_vm_tsx_contains(p->sets[k], p->env, p->xs[k], t);
}

static int64_t probe_next_change(void *ud, size_t k, int64_t t, int64_t horizon)
{
    const probe_ud *p = ud;
    return chg_vm_tsx_next_change(p->sets[k], p->env, p->xs[k], t, horizon);
}

int64_t chg_vm_tsx_next_admissible(chg_ts_index *const *xs, const chg_timeset *const *sets, const bool *want,
                                size_t n, const chg_ts_env *env, int64_t t, int64_t horizon)
{
    probe_ud ud = {xs, sets, env};
    chg_ts_probe probe = {probe_contains, probe_next_change, &ud};
    return chg_timeset_next_admissible(sets, want, n, env, t, horizon, &probe);
}

int64_t chg_vm_tsx_admissible_until(chg_ts_index *const *xs, const chg_timeset *const *sets, const bool *want,
                                    size_t n, const chg_ts_env *env, int64_t t, int64_t horizon)
{
    probe_ud ud = {xs, sets, env};
    chg_ts_probe probe = {probe_contains, probe_next_change, &ud};
    return chg_timeset_admissible_until(sets, want, n, env, t, horizon, &probe);
}

void chg_vm_tsx_free(chg_ts_index *x, size_t n)
{
    for (size_t i = 0; x && i < n; i++)
        chg_free(x[i].iv);
    chg_free(x);
}

/* n + 1: a bundle without time sets still gets a non-NULL array, so
 * chg_ctx_new's NULL check means out of memory. */
chg_ts_index *chg_vm_tsx_new(size_t n) { return chg_calloc(n + 1, sizeof(chg_ts_index)); }

/* Invalidate, keeping the arrays for the rebuild. */
void chg_vm_tsx_reset(chg_ts_index *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i].valid = false;
}
