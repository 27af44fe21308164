/*
 * timeset.c — time sets: building a chg_timeset from the node tree of
 * chg_time.h (cron, weekly, range, yearly, calendar, flag, or/and/not) and
 * answering questions about it: membership, the next change, the
 * earliest admissible instant for several sets (next_open), and the
 * intervals inside a range.
 *
 * Everything rests on one primitive, the span: for an instant t, whether t
 * is in the set and a stretch [lo, hi) around t on which that answer
 * cannot change. Leaves compute spans from their schedule; or/and/not
 * combine them (and short-circuit: an "and" whose left side is out is out
 * for the whole of that side's span). Searches jump from span to span, so
 * their cost grows with the number of changes, not with elapsed time, and
 * every search stops at its horizon.
 *
 * A built time set is immutable and may be shared between threads.
 *
 * Calendars are the one costly leaf to build (an expansion of every
 * occurrence to 2200), so sets built with a chg_ts_cache share them: each
 * distinct calendar is expanded once per cache, and all of the cache's
 * expansions spend one budget of steps.
 */
#include "time_int.h"

#include <string.h>

/* A node after building: resolved zones, parsed cron, expanded calendar.
 * The nodes keep the caller's indexes (a, b), so the tree is the caller's
 * array; nodes nothing reaches from the root stay zeroed and are never
 * visited. Zones are loaded once per set (get_zone) and shared by its
 * nodes. */
typedef struct tnode {
    chg_ts_op op;
    int a, b;
    const chg_tz *tz;
    chg_cron *cron;
    int64_t duration;
    uint8_t days;
    int start_min, end_min;
    int64_t from, to;   /* RANGE: instants */
    int fm, fd, tm, td;
    int64_t edge_lo, edge_hi; /* WEEKLY, YEARLY: instants at which the local
                                 clock shows 0000-01-01 and 10000-01-01 */
    /* CRON, RATE, AT: each run (a cron match moved by its offset, a rate's
     * step, the one instant) is open for duration - cutoff; runs start
     * before run_hi, and a cron run's match is not before run_lo */
    int64_t cutoff, period;
    int64_t run_lo, run_hi;
    int offset_days;
    const ti_calendar *cal; /* own, or a cache's */
    ti_calendar own;
    char *flag;
} tnode;

struct chg_timeset {
    tnode *nodes;
    size_t n;
    int root;
    chg_tz **tzs;
    size_t ntz;
    bool finite; /* chg_timeset_is_finite */
};

typedef struct span {
    int64_t lo, hi; /* membership is `in` on [lo, hi) */
    bool in;
} span;

/* Nesting limit of or/and/not: span_of recurses once per level, and the
 * compiler's own limit (256 for expressions) is not the library's to
 * assume. The compiler checks sets against it (chg_time.h). */
#define MAX_DEPTH CHG_TIMESET_MAX_DEPTH
/* How far one span computation looks ahead when merging touching
 * intervals (more is found by the next span). */
#define MERGE_CAP 32

/* ---- leaves ---------------------------------------------------------------------- */

/* ---- runs of the schedule leaves (CRON, RATE, AT) ---------------------------------- */

static int64_t resolve(const tnode *nd, int64_t local);

/* The match a cron run r stands for: the instant the wall clock showed
 * r's time offset_days earlier (the same instant without an offset). */
static int64_t match_of(const tnode *nd, int64_t r)
{
    if (!nd->offset_days)
        return r;
    return resolve(nd, ti_add(r, chg_tz_offset(nd->tz, r)) - nd->offset_days * 86400LL);
}

/* SSM's rule for StartDate and the offset: a run counts only when its
 * match is not before run_lo — "if you specify a cron expression that
 * would run a maintenance window yesterday and add a schedule offset of
 * two days, the maintenance window won't run tomorrow". */
static bool run_ok(const tnode *nd, int64_t r) { return match_of(nd, r) >= nd->run_lo; }

/* A run precedes its match by at most this (offsets of 1-6 days, UTC
 * offsets differing by at most 2 * TI_MAX_OFFSET), so a search for runs
 * whose match is >= run_lo may start here. */
static int64_t run_floor(const tnode *nd)
{
    return nd->offset_days ? ti_add(nd->run_lo, -2 * TI_MAX_OFFSET) : nd->run_lo;
}

static int64_t ceil_div64(int64_t a, int64_t b) { return a / b + (a % b > 0); }

/* The first run in [t, limit), or TI_NONE_HI. */
static int64_t run_next(const tnode *nd, int64_t t, int64_t limit)
{
    if (limit > nd->run_hi)
        limit = nd->run_hi;
    if (t >= limit)
        return TI_NONE_HI;
    switch (nd->op) {
    case CHG_TS_RATE: {
        int64_t r = t <= nd->from ? nd->from : ti_add(nd->from, ceil_div64(t - nd->from, nd->period) * nd->period);
        return r < limit ? r : TI_NONE_HI;
    }
    case CHG_TS_AT:
        return t <= nd->from && nd->from < limit ? nd->from : TI_NONE_HI;
    default:
        break;
    }
    if (t < run_floor(nd))
        t = run_floor(nd);
    for (;;) {
        int64_t r = chg_cron_next(nd->cron, nd->tz, t, limit);
        if (r == TI_NONE_HI || run_ok(nd, r))
            return r;
        /* skipped: matches this far short of run_lo cannot count */
        int64_t jump = nd->run_lo - match_of(nd, r) - 2 * TI_MAX_OFFSET;
        t = ti_add(r, jump > 1 ? jump : 1);
    }
}

/* The last run in [limit, t], or TI_NONE_LO. */
static int64_t run_prev(const tnode *nd, int64_t t, int64_t limit)
{
    if (t >= nd->run_hi)
        t = nd->run_hi - 1;
    if (t < limit)
        return TI_NONE_LO;
    switch (nd->op) {
    case CHG_TS_RATE: {
        if (t < nd->from)
            return TI_NONE_LO;
        int64_t r = nd->from + (t - nd->from) / nd->period * nd->period;
        return r >= limit ? r : TI_NONE_LO;
    }
    case CHG_TS_AT:
        return nd->from >= limit && nd->from <= t ? nd->from : TI_NONE_LO;
    default:
        break;
    }
    if (limit < run_floor(nd))
        limit = run_floor(nd);
    while (t >= limit) {
        int64_t r = chg_cron_prev(nd->cron, nd->tz, t, limit);
        if (r == TI_NONE_LO || run_ok(nd, r))
            return r;
        t = r - 1;
    }
    return TI_NONE_LO;
}

/* Schedule leaf: t is in iff a run falls in (t - d, t], d being the
 * duration less the cutoff (the instants at which a change may start).
 * In: the run of overlapping occurrences through t, extended by at most
 * MERGE_CAP jumps. Out: from t to the next run before the limit (a limit
 * of t + 1, as for a membership test, makes that search nothing). */
static void sched_span(const tnode *nd, int64_t t, int64_t limit, span *o)
{
    int64_t d = nd->duration - nd->cutoff;
    int64_t m = run_prev(nd, t, ti_add(t, 1 - d));
    if (m != TI_NONE_LO) {
        /* in: the run of overlapping [match, match + d) through t */
        o->in = true;
        o->lo = m;
        int64_t e = ti_add(m, d);
        /* each step: the latest match whose occurrence reaches past e, and
         * from it the block of matches that follow it minute by minute
         * (chg_ti_cron_block_end), so a run of "* * * * *" for 1m costs a
         * step per day, not per minute */
        for (int k = 0; k < MERGE_CAP && e < limit; k++) {
            int64_t m2 = run_prev(nd, e, ti_add(e, 1 - d));
            if (m2 == TI_NONE_LO || ti_add(m2, d) <= e)
                break;
            e = ti_add(m2, d);
            if (nd->op != CHG_TS_CRON)
                continue;
            int64_t b = chg_ti_cron_block_end(nd->cron, nd->tz, m2, d, limit < nd->run_hi ? limit : nd->run_hi);
            if (b != TI_NONE_LO && b > e)
                e = b;
        }
        o->hi = e;
        return;
    }
    o->in = false;
    o->lo = t; /* where the last occurrence ended is nobody's question: no
                  search back for it */
    int64_t nx = run_next(nd, ti_add(t, 1), limit);
    o->hi = nx == TI_NONE_HI ? limit : nx;
}

static int64_t resolve(const tnode *nd, int64_t local)
{
    return chg_ti_tz_resolve(nd->tz, local, 0, TI_GAP_END, NULL);
}

/* Recurring schedules exist for local times in 0000..9999 only: an
 * interval reaching past either end is cut where the zone's clock shows
 * 0000-01-01T00:00 or 10000-01-01T00:00. Intervals of the years -1 and
 * 10000 are computed like any other (the civil arithmetic is exact for
 * them) and cut to nothing. */
static bool clip_local(const tnode *nd, int64_t *s, int64_t *e)
{
    if (*s < nd->edge_lo)
        *s = nd->edge_lo;
    if (*e > nd->edge_hi)
        *e = nd->edge_hi;
    return *e > *s;
}

static void set_edges(tnode *nd)
{
    nd->edge_lo = resolve(nd, TI_LOCAL_MIN);
    nd->edge_hi = resolve(nd, TI_LOCAL_MAX);
}

/* WEEKLY: interval of local day k, if that weekday is in the set. The
 * local times are resolved with TI_GAP_END, so a window that starts in a
 * spring-forward gap starts when the gap ends, and one that ends in it
 * ends there; end <= start means the interval runs past midnight into day
 * k+1. An interval that resolves to nothing (entirely in a gap) is none. */
static bool weekly_iv(const tnode *nd, int64_t k, int64_t *s, int64_t *e)
{
    if (!(nd->days >> chg_weekday_from_days(k) & 1))
        return false;
    int64_t ls = k * 86400 + nd->start_min * 60;
    int64_t le = (nd->end_min <= nd->start_min ? (k + 1) * 86400 : k * 86400) + nd->end_min * 60;
    *s = resolve(nd, ls);
    *e = resolve(nd, le);
    return clip_local(nd, s, e);
}

/* YEARLY: interval starting in year k, from the local midnight that starts
 * the from date to the local midnight that starts the to date (the code
 * below: `le` is the to date's midnight, so dec 24 .. dec 27 is
 * [dec 24 00:00, dec 27 00:00)).
 * An end date before the start crosses into year k+1; Feb 29 starts exist
 * in leap years only, and a Feb 29 end in other years becomes March 1. */
static bool yearly_iv(const tnode *nd, int64_t k, int64_t *s, int64_t *e)
{
    if (nd->fm == 2 && nd->fd == 29 && !chg_is_leap(k))
        return false;
    bool cross = nd->tm < nd->fm || (nd->tm == nd->fm && nd->td <= nd->fd);
    int64_t ye = cross ? k + 1 : k;
    int64_t ls = chg_days_from_civil(k, nd->fm, nd->fd) * 86400;
    int64_t le = nd->tm == 2 && nd->td == 29 && !chg_is_leap(ye)
                     ? chg_days_from_civil(ye, 3, 1) * 86400
                     : chg_days_from_civil(ye, nd->tm, nd->td) * 86400;
    *s = resolve(nd, ls);
    *e = resolve(nd, le);
    return clip_local(nd, s, e);
}

/* Lower bounds of the starts of interval k: its local day or year. */
static int64_t weekly_lb(const tnode *nd, int64_t k) { return resolve(nd, k * 86400); }

static int64_t yearly_lb(const tnode *nd, int64_t k)
{
    return resolve(nd, chg_days_from_civil(k, 1, 1) * 86400);
}

typedef bool (*iv_fn)(const tnode *nd, int64_t k, int64_t *s, int64_t *e);
typedef int64_t (*lb_fn)(const tnode *nd, int64_t k);

/* Span of a leaf made of intervals indexed by k, whose starts and ends do
 * not decrease with k; lb(k) bounds the start of interval k from below. k0
 * is the index of t's local day or year; usually at most max_gap
 * consecutive indexes have no interval (a skipped day can add more). */
static void indexed_span(const tnode *nd, iv_fn f, lb_fn lb, int64_t k0, int max_gap, int64_t t,
                         int64_t limit, span *o)
{
    /* Interval k0-2 ends by local midnight of day (or year) k0, which the
     * clock showed (or jumped over) no later than t: its end is <= t. So the
     * first interval ending after t has index k0-1 or more. */
    int64_t k = k0 - 1, s = 0, e = 0;
    int64_t last_end = TI_NONE_LO;
    bool found = false;
    for (int steps = 0; steps < max_gap + 8; steps++, k++) {
        if (!f(nd, k, &s, &e))
            continue;
        if (e <= t) {
            last_end = e;
            continue;
        }
        found = true;
        break;
    }
    if (!found) {
        /* no interval in reach: out until interval k could start */
        int64_t next = lb(nd, k);
        o->in = false;
        o->lo = last_end == TI_NONE_LO ? t : last_end;
        o->hi = next > t ? next : ti_add(t, 1);
        return;
    }
    if (s <= t) {
        o->in = true;
        o->lo = s;
        int64_t hi = e;
        int64_t kk = k + 1;
        for (int merged = 0, gap = 0; merged < MERGE_CAP && hi < limit && gap <= max_gap; kk++) {
            int64_t s2, e2;
            if (!f(nd, kk, &s2, &e2)) {
                gap++;
                continue;
            }
            gap = 0;
            if (s2 > hi)
                break;
            if (e2 > hi)
                hi = e2;
            merged++;
        }
        o->hi = hi;
        return;
    }
    o->in = false;
    o->hi = s;
    if (last_end == TI_NONE_LO) {
        for (int64_t kk = k - 4; kk >= k - 4 - max_gap; kk--) {
            int64_t s2, e2;
            if (f(nd, kk, &s2, &e2)) {
                if (e2 <= t)
                    last_end = e2;
                break;
            }
        }
    }
    o->lo = last_end == TI_NONE_LO ? t : last_end;
}

static int64_t local_day(const chg_tz *tz, int64_t t)
{
    return chg_floor_div(ti_add(t, chg_tz_offset(tz, t)), 86400);
}

/* CALENDAR leaf: binary search in the expanded intervals. Out of the
 * intervals, the span is the gap between two of them (unbounded before the
 * first and after the last); a complemented calendar (DEFAULT_CLOSED)
 * swaps in and out on the same spans. */
static void calendar_span(const tnode *nd, int64_t t, span *o)
{
    const ti_calendar *c = nd->cal;
    /* first interval with end > t */
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->iv[2 * mid + 1] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < c->n && c->iv[2 * lo] <= t) {
        o->in = true;
        o->lo = c->iv[2 * lo];
        o->hi = c->iv[2 * lo + 1];
    } else {
        o->in = false;
        o->lo = lo > 0 ? c->iv[2 * lo - 1] : INT64_MIN;
        o->hi = lo < c->n ? c->iv[2 * lo] : INT64_MAX;
    }
    if (c->complement)
        o->in = !o->in;
}

/* ---- the span of any node ------------------------------------------------------------ */

/* The span of node i at t. Spans never look past `limit` (a span may end
 * there without a change), and always end after t. */
static void span_of(const chg_timeset *ts, int i, const chg_ts_env *env, int64_t t, int64_t limit,
                    span *o)
{
    const tnode *nd = &ts->nodes[i];
    if (limit <= t)
        limit = ti_add(t, 1);
    switch (nd->op) {
    case CHG_TS_CRON:
    case CHG_TS_RATE:
    case CHG_TS_AT:
        if (t >= TI_LOCAL_MAX || t < TI_LOCAL_MIN) {
            *o = (span){t < TI_LOCAL_MIN ? INT64_MIN : TI_LOCAL_MAX,
                        t < TI_LOCAL_MIN ? TI_LOCAL_MIN : INT64_MAX, false};
            return;
        }
        sched_span(nd, t, limit, o);
        return;
    case CHG_TS_WEEKLY:
    case CHG_TS_YEARLY: {
        /* Outside the instants whose local time is in 0000..9999 nothing
         * matches (as for cron); inside, the intervals of the first and
         * last years are cut at the edge (clip_local), so 0000-01-01 and
         * 9999-12-31 are days like any other. */
        if (nd->op == CHG_TS_WEEKLY && nd->days == 0) {
            *o = (span){INT64_MIN, INT64_MAX, false};
            return;
        }
        if (t < nd->edge_lo || t >= nd->edge_hi) {
            *o = t < nd->edge_lo ? (span){INT64_MIN, nd->edge_lo, false} : (span){nd->edge_hi, INT64_MAX, false};
            return;
        }
        int64_t day = local_day(nd->tz, t);
        if (nd->op == CHG_TS_WEEKLY) {
            indexed_span(nd, weekly_iv, weekly_lb, day, 7, t, limit, o);
        } else {
            int64_t y;
            int m, d;
            chg_civil_from_days(day, &y, &m, &d);
            indexed_span(nd, yearly_iv, yearly_lb, y, 8, t, limit, o);
        }
        return;
    }
    case CHG_TS_RANGE:
        if (nd->from >= nd->to)
            *o = (span){INT64_MIN, INT64_MAX, false};
        else if (t < nd->from)
            *o = (span){INT64_MIN, nd->from, false};
        else if (t < nd->to)
            *o = (span){nd->from, nd->to, true};
        else
            *o = (span){nd->to, INT64_MAX, false};
        return;
    case CHG_TS_CALENDAR:
        calendar_span(nd, t, o);
        return;
    case CHG_TS_FLAG: {
        bool on = env && env->flag && env->flag(env->ud, nd->flag);
        *o = (span){INT64_MIN, INT64_MAX, on};
        return;
    }
    case CHG_TS_NOT:
        span_of(ts, nd->a, env, t, limit, o);
        o->in = !o->in;
        return;
    case CHG_TS_AND:
    case CHG_TS_OR: {
        /* the left side decides alone when it is out (and) or in (or),
         * for the whole of its span. Otherwise the answer is the right
         * side's, which holds where both spans hold: their intersection.
         * The intersection may be shorter than the true stretch (a change
         * of a that b masks); callers only need a span on which the answer
         * holds, and continue from its end. */
        bool decisive = nd->op == CHG_TS_OR;
        span a, b;
        span_of(ts, nd->a, env, t, limit, &a);
        if (a.in == decisive) {
            *o = a;
            return;
        }
        span_of(ts, nd->b, env, t, limit, &b);
        if (b.in == decisive) {
            *o = b;
            return;
        }
        o->in = !decisive;
        o->lo = a.lo > b.lo ? a.lo : b.lo;
        o->hi = a.hi < b.hi ? a.hi : b.hi;
        return;
    }
    }
    *o = (span){INT64_MIN, INT64_MAX, false};
}

/* ---- queries ------------------------------------------------------------------------ */

bool chg_timeset_contains(const chg_timeset *ts, const chg_ts_env *env, int64_t t)
{
    /* the answer at t alone: a span to t + 1 looks no further (a cron
     * leaf makes one backward search, not a search for its next match) */
    span s;
    span_of(ts, ts->root, env, t, ti_add(t, 1), &s);
    return s.in;
}

/* The first instant past span s0 at which membership is no longer s0's,
 * before limit; INT64_MAX if none. Spans may end without a change (a
 * merge cap, an and-node's intersection, the limit), so the walk goes on
 * from span to span until the answer differs. Every span ends after its
 * instant, so x grows and the loop ends at limit. */
/* *at (when not NULL) gets the span found at the change. */
static int64_t change_after(const chg_timeset *ts, const chg_ts_env *env, const span *s0, int64_t limit,
                            span *at)
{
    span s;
    int64_t x = s0->hi;
    while (x < limit) {
        span_of(ts, ts->root, env, x, limit, &s);
        if (s.in != s0->in) {
            if (at)
                *at = s;
            return x;
        }
        x = s.hi;
    }
    return INT64_MAX;
}

/* The one definition of the horizon: a search from t with horizon h looks
 * at the instants up to and including t + h (h <= 0: t alone). Inside,
 * searches stop before `limit`, the instant after. */
static int64_t search_limit(int64_t t, int64_t horizon)
{
    return ti_add(ti_add(t, horizon > 0 ? horizon : 0), 1);
}

int64_t chg_timeset_next_change(const chg_timeset *ts, const chg_ts_env *env, int64_t t,
                                int64_t horizon)
{
    int64_t limit = search_limit(t, horizon);
    span s;
    span_of(ts, ts->root, env, t, limit, &s);
    return change_after(ts, env, &s, limit, NULL);
}

/* The probe used without one: the sets themselves. The search asks for
 * the next change of a set right after asking whether it contains t, so
 * that goes on from the span contains found instead of finding it again
 * (half the cost). And a set's answer holds on the whole of a span found
 * for it, so the last span of each of the first DIRECT_SPANS sets is kept
 * (the one contains found, or the one at the change next_change found):
 * a set asked again at an instant inside it is answered from it. The
 * search moves to that change and asks the set there again, and a freeze
 * (a range) has one span before it, one during and one after, so most
 * questions of a search are answered without a walk of the schedule.
 * Every span holds for the set as a whole (its limit only shortens it),
 * so the answers are the same as asked afresh. */
#define DIRECT_SPANS 8
typedef struct direct {
    const chg_timeset *const *sets;
    const chg_ts_env *env;
    int64_t limit;
    size_t k;    /* the last contains(k, t) and its span */
    int64_t t;
    span s;
    span last[DIRECT_SPANS]; /* of set k, when known[k] */
    bool known[DIRECT_SPANS];
} direct;

static bool direct_contains(void *ud, size_t k, int64_t t)
{
    direct *d = ud;
    if (k < DIRECT_SPANS && d->known[k] && d->last[k].lo <= t && t < d->last[k].hi)
        d->s = d->last[k];
    else {
        span_of(d->sets[k], d->sets[k]->root, d->env, t, d->limit, &d->s);
        if (k < DIRECT_SPANS) {
            d->last[k] = d->s;
            d->known[k] = true;
        }
    }
    d->k = k;
    d->t = t;
    return d->s.in;
}

static int64_t direct_next_change(void *ud, size_t k, int64_t t, int64_t horizon)
{
    direct *d = ud;
    if (k == d->k && t == d->t) {
        span at;
        int64_t x = change_after(d->sets[k], d->env, &d->s, search_limit(t, horizon), k < DIRECT_SPANS ? &at : NULL);
        if (x != INT64_MAX && k < DIRECT_SPANS) {
            d->last[k] = at;
            d->known[k] = true;
        }
        return x;
    }
    return chg_timeset_next_change(d->sets[k], d->env, t, horizon);
}

/* The caller's probe, or one that asks the sets themselves (own and d,
 * the caller's, hold it). */
static const chg_ts_probe *probe_or_direct(const chg_ts_probe *probe, chg_ts_probe *own, direct *d,
                                           const chg_timeset *const *sets, const chg_ts_env *env, int64_t limit)
{
    d->sets = sets;
    d->env = env;
    d->limit = limit;
    d->k = SIZE_MAX;
    d->t = 0;
    d->s = (span){0, 0, false};
    memset(d->known, 0, sizeof d->known);
    *own = (chg_ts_probe){direct_contains, direct_next_change, d};
    return probe ? probe : own;
}

/* Jump past the stretch on which the first set that disagrees keeps
 * disagreeing (no instant in it can be admissible), until all agree or
 * the horizon. Each step passes at least one change of one set, so the
 * loop runs at most once per change within the horizon. */
int64_t chg_timeset_next_admissible(const chg_timeset *const *sets, const bool *want, size_t n,
                                    const chg_ts_env *env, int64_t t, int64_t horizon,
                                    const chg_ts_probe *probe)
{
    int64_t limit = search_limit(t, horizon);
    direct d;
    chg_ts_probe own;
    probe = probe_or_direct(probe, &own, &d, sets, env, limit);
    while (t < limit) {
        size_t k = 0;
        while (k < n && probe->contains(probe->ud, k, t) == want[k])
            k++;
        if (k == n)
            return t;
        int64_t next = probe->next_change(probe->ud, k, t, limit - 1 - t);
        if (next == INT64_MAX || next <= t)
            return INT64_MAX;
        t = next;
    }
    return INT64_MAX;
}

/* The first change, within the horizon, of a set that agrees with want at
 * t: the end of the stretch on which everything that is as wanted stays
 * so. Sets that disagree at t are not counted (a freeze that holds now
 * cannot start). Each later set is searched only up to the best answer so
 * far. */
int64_t chg_timeset_admissible_until(const chg_timeset *const *sets, const bool *want, size_t n,
                                     const chg_ts_env *env, int64_t t, int64_t horizon,
                                     const chg_ts_probe *probe)
{
    int64_t limit = search_limit(t, horizon);
    direct d;
    chg_ts_probe own;
    probe = probe_or_direct(probe, &own, &d, sets, env, limit);
    int64_t best = INT64_MAX;
    for (size_t k = 0; k < n; k++) {
        if (probe->contains(probe->ud, k, t) != want[k])
            continue;
        int64_t c = probe->next_change(probe->ud, k, t, (best == INT64_MAX ? limit - 1 : best) - t);
        if (c < best)
            best = c;
    }
    return best;
}

/* Walk spans from a to b, reporting maximal runs of membership: spans with
 * the same answer are joined, so a run split by span boundaries is
 * reported once. fn returning non-zero stops the walk with that value. */
int chg_timeset_intervals(const chg_timeset *ts, const chg_ts_env *env, int64_t a, int64_t b,
                          int (*fn)(void *ud, int64_t start, int64_t end), void *ud)
{
    int64_t x = a, run = 0;
    bool in_run = false;
    while (x < b) {
        span s;
        span_of(ts, ts->root, env, x, b, &s);
        if (s.in && !in_run) {
            run = x;
            in_run = true;
        } else if (!s.in && in_run) {
            int rc = fn(ud, run, x);
            if (rc)
                return rc;
            in_run = false;
        }
        x = s.hi < b ? s.hi : b;
    }
    if (in_run)
        return fn(ud, run, b);
    return 0;
}

/* ---- building ------------------------------------------------------------------------ */

void chg_timeset_free(chg_timeset *ts)
{
    if (!ts)
        return;
    for (size_t i = 0; i < ts->n; i++) {
        chg_cron_free(ts->nodes[i].cron);
        chg_ti_calendar_free(&ts->nodes[i].own);
        chg_free(ts->nodes[i].flag);
    }
    for (size_t i = 0; i < ts->ntz; i++)
        chg_tz_free(ts->tzs[i]);
    chg_free(ts->tzs);
    chg_free(ts->nodes);
    chg_free(ts);
}

/* The zone named `name` (NULL: UTC), loaded once per time set. */
static const chg_tz *get_zone(chg_timeset *ts, const char *name, chg_time_error *err)
{
    if (!name)
        name = "UTC";
    for (size_t i = 0; i < ts->ntz; i++)
        if (strcmp(chg_tz_name(ts->tzs[i]), name) == 0)
            return ts->tzs[i];
    chg_tz **v = chg_realloc(ts->tzs, (ts->ntz + 1) * sizeof *v);
    if (!v) {
        chg_ti_nomem(err, "out of memory");
        return NULL;
    }
    ts->tzs = v;
    chg_tz *tz = chg_tz_load(name, err);
    if (!tz)
        return NULL;
    ts->tzs[ts->ntz++] = tz;
    return tz;
}

static bool valid_month_day(int m, int d)
{
    static const int maxd[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m >= 1 && m <= 12 && d >= 1 && d <= maxd[m - 1];
}

/* ---- the calendar cache ---------------------------------------------------------------- */

/* One calendar of a cache: the text and zone it was built from, and its
 * expansion or the error that refused it. An entry whose text has the
 * content of an earlier one's at another address (two files with the same
 * text) is an alias: it shares the expansion (own false). */
typedef struct cal_entry {
    const char *text;
    size_t len;
    char *zone; /* NULL: the node had none */
    ti_calendar *cal;
    bool own;
    chg_time_error err; /* when cal is NULL */
} cal_entry;

struct chg_ts_cache {
    cal_entry *v;
    size_t n, cap;
    ti_budget budget;
};

chg_ts_cache *chg_ts_cache_new(size_t budget)
{
    chg_ts_cache *c = chg_calloc(1, sizeof *c);
    if (c)
        c->budget = (ti_budget){budget, budget};
    return c;
}

void chg_ts_cache_free(chg_ts_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        if (c->v[i].own) {
            chg_ti_calendar_free(c->v[i].cal);
            chg_free(c->v[i].cal);
        }
        chg_free(c->v[i].zone);
    }
    chg_free(c->v);
    chg_free(c);
}

static bool same_zone(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* Add an entry (its zone copied); NULL when memory runs out. */
static cal_entry *cache_add(chg_ts_cache *c, const cal_entry *e)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        cal_entry *v = chg_realloc(c->v, cap * sizeof *v);
        if (!v)
            return NULL;
        c->v = v;
        c->cap = cap;
    }
    char *zone = NULL;
    if (e->zone && !(zone = chg_strdup(e->zone)))
        return NULL;
    cal_entry *n = &c->v[c->n++];
    *n = *e;
    n->zone = zone;
    return n;
}

/* The expansion of a calendar node, from the cache or built into it.
 * Entries are found by the text's address first (the compiler and the
 * loader hand the same text for every node naming one file), then by
 * content; a linear search, over the distinct calendars of a policy. A
 * refusal is kept like an expansion, so a bad calendar is not expanded
 * again for every set that names it; running out of memory is not. */
static const ti_calendar *cached_calendar(chg_ts_cache *c, const chg_ts_node *src,
                                          chg_time_error *err)
{
    const cal_entry *hit = NULL;
    for (size_t i = 0; i < c->n && !hit; i++)
        if (c->v[i].text == src->ics && c->v[i].len == src->ics_len && same_zone(c->v[i].zone, src->zone))
            hit = &c->v[i];
    for (size_t i = 0; i < c->n && !hit; i++)
        if (c->v[i].len == src->ics_len && same_zone(c->v[i].zone, src->zone) &&
            memcmp(c->v[i].text, src->ics, src->ics_len) == 0) {
            cal_entry alias = c->v[i];
            alias.text = src->ics;
            alias.own = false;
            if (!(hit = cache_add(c, &alias))) {
                chg_ti_nomem(err, "out of memory");
                return NULL;
            }
        }
    if (!hit) {
        cal_entry e = {.text = src->ics, .len = src->ics_len, .zone = (char *)src->zone, .own = true};
        e.cal = chg_calloc(1, sizeof *e.cal);
        if (!e.cal) {
            chg_ti_nomem(err, "out of memory");
            return NULL;
        }
        memset(&e.err, 0, sizeof e.err);
        if (chg_ti_calendar_build(src->ics, src->ics_len, src->zone, &c->budget, e.cal, &e.err) != CHG_OK) {
            chg_free(e.cal);
            e.cal = NULL;
            e.own = false;
            if (e.err.status == CHG_ENOMEM) {
                if (err)
                    *err = e.err;
                return NULL;
            }
        }
        if (!(hit = cache_add(c, &e))) {
            if (e.cal) {
                chg_ti_calendar_free(e.cal);
                chg_free(e.cal);
            }
            chg_ti_nomem(err, "out of memory");
            return NULL;
        }
    }
    if (!hit->cal && err)
        *err = hit->err;
    return hit->cal;
}

/* A schedule leaf: its runs (chg_ts_node), duration, cutoff and bounds. */
static bool build_schedule(chg_timeset *ts, const chg_ts_node *src, tnode *nd, chg_time_error *err)
{
    const char *what = src->op == CHG_TS_CRON ? "cron" : src->op == CHG_TS_RATE ? "rate" : "at";
    unsigned allowed = src->op == CHG_TS_CRON ? CHG_TSF_ALL : src->op == CHG_TS_RATE ? CHG_TSF_TO : 0;
    if (src->flags & ~allowed) {
        chg_ti_set_error(err, 0, 0, "an %s time set does not take the options 0x%x", what, src->flags & ~allowed);
        return false;
    }
    if (src->duration <= 0) {
        chg_ti_set_error(err, 0, 0, "a%s %s time set needs a positive duration (\"for 6h\")",
                         src->op == CHG_TS_AT ? "n" : "", what);
        return false;
    }
    if (src->cutoff < 0 || src->cutoff >= src->duration) {
        chg_ti_set_error(err, 0, 0, "a cutoff must be shorter than the duration it cuts");
        return false;
    }
    if (src->op == CHG_TS_RATE && src->period <= 0) {
        chg_ti_set_error(err, 0, 0, "a rate time set needs a positive period");
        return false;
    }
    nd->duration = src->duration;
    nd->cutoff = src->cutoff;
    nd->period = src->period;
    if (!(nd->tz = get_zone(ts, src->zone, err)))
        return false;
    if (src->op == CHG_TS_CRON) {
        chg_cron_opts o = {(src->flags & CHG_TSF_AWS) != 0, src->offset_days,
                           (src->flags & CHG_TSF_EVENTBRIDGE_DST) != 0};
        if (!(nd->cron = chg_cron_parse_opts(src->cron, &o, err)))
            return false;
        nd->offset_days = src->offset_days;
    }
    /* CRON's bounds are `from` and `to` when flagged; RATE and AT always
     * start at `from` */
    bool has_from = src->op != CHG_TS_CRON || (src->flags & CHG_TSF_FROM);
    nd->from = src->from_local ? resolve(nd, src->from) : src->from;
    nd->run_lo = src->op == CHG_TS_CRON && has_from ? nd->from : INT64_MIN;
    nd->run_hi = INT64_MAX;
    if (src->flags & CHG_TSF_TO)
        nd->run_hi = src->to_local ? resolve(nd, src->to) : src->to;
    if (has_from && (src->flags & CHG_TSF_TO) && nd->run_hi <= nd->from) {
        chg_ti_set_error(err, 0, 0, "the %s schedule ends before it starts", what);
        return false;
    }
    return true;
}

/* Build node i and, first, its operands. state: 0 new, 1 in progress, 2 done.
 * A node met again while in progress is a cycle (the caller's array need
 * not be a tree); a node shared by two parents is built once. *bad is the
 * node being built when an error occurs, for the caller's message. */
static bool build_node(chg_timeset *ts, const chg_ts_node *nodes, size_t n, int i, chg_ts_cache *cache,
                       unsigned char *state, int depth, chg_time_error *err, int *bad)
{
    if (i < 0 || (size_t)i >= n) {
        chg_ti_set_error(err, 0, 0, "time set operand %d is not a node", i);
        return false;
    }
    if (state[i] == 2)
        return true;
    *bad = i;
    if (state[i] == 1) {
        chg_ti_set_error(err, 0, 0, "time set node %d refers to itself", i);
        return false;
    }
    if (depth >= MAX_DEPTH) { /* depth counts from 0: at most MAX_DEPTH levels */
        chg_ti_set_error(err, 0, 0, "time set expression is nested more than %d deep", MAX_DEPTH);
        return false;
    }
    state[i] = 1;
    const chg_ts_node *src = &nodes[i];
    tnode *nd = &ts->nodes[i];
    nd->op = src->op;
    switch (src->op) {
    case CHG_TS_OR:
    case CHG_TS_AND:
        if (!build_node(ts, nodes, n, src->a, cache, state, depth + 1, err, bad) ||
            !build_node(ts, nodes, n, src->b, cache, state, depth + 1, err, bad))
            return false;
        nd->a = src->a;
        nd->b = src->b;
        break;
    case CHG_TS_NOT:
        if (!build_node(ts, nodes, n, src->a, cache, state, depth + 1, err, bad))
            return false;
        nd->a = src->a;
        break;
    case CHG_TS_CRON:
    case CHG_TS_RATE:
    case CHG_TS_AT:
        if (!build_schedule(ts, src, nd, err))
            return false;
        break;
    case CHG_TS_WEEKLY:
        if (src->start_min < 0 || src->start_min >= 1440 || src->end_min < 0 ||
            src->end_min > 1440) {
            chg_ti_set_error(err, 0, 0, "weekly times must be within 00:00..24:00");
            return false;
        }
        nd->days = src->days & 0x7f;
        nd->start_min = src->start_min;
        nd->end_min = src->end_min;
        if (!(nd->tz = get_zone(ts, src->zone, err)))
            return false;
        set_edges(nd);
        break;
    case CHG_TS_RANGE: {
        nd->from = src->from;
        nd->to = src->to;
        if (src->from_local || src->to_local) {
            if (!(nd->tz = get_zone(ts, src->zone, err)))
                return false;
            if (src->from_local)
                nd->from = resolve(nd, src->from);
            if (src->to_local)
                nd->to = resolve(nd, src->to);
        }
        break;
    }
    case CHG_TS_YEARLY:
        if (!valid_month_day(src->from_month, src->from_day) ||
            !valid_month_day(src->to_month, src->to_day)) {
            chg_ti_set_error(err, 0, 0, "yearly dates must be real days of the year (%d/%d .. %d/%d)",
                         src->from_month, src->from_day, src->to_month, src->to_day);
            return false;
        }
        nd->fm = src->from_month;
        nd->fd = src->from_day;
        nd->tm = src->to_month;
        nd->td = src->to_day;
        if (!(nd->tz = get_zone(ts, src->zone, err)))
            return false;
        set_edges(nd);
        break;
    case CHG_TS_CALENDAR:
        if (!src->ics) {
            chg_ti_set_error(err, 0, 0, "calendar time set without calendar text");
            return false;
        }
        if (cache)
            nd->cal = cached_calendar(cache, src, err);
        else if (chg_ti_calendar_build(src->ics, src->ics_len, src->zone, NULL, &nd->own, err) == CHG_OK)
            nd->cal = &nd->own;
        if (!nd->cal)
            return false;
        break;
    case CHG_TS_FLAG:
        if (!src->flag || !*src->flag) {
            chg_ti_set_error(err, 0, 0, "flag time set without a flag name");
            return false;
        }
        if (!(nd->flag = chg_strdup(src->flag))) {
            chg_ti_nomem(err, "out of memory");
            return false;
        }
        break;
    default:
        chg_ti_set_error(err, 0, 0, "unknown time set operation %d", (int)src->op);
        return false;
    }
    state[i] = 2;
    return true;
}

/* Whether node i has finitely many changes, all of which its spans
 * report exactly: its leaves are calendars (sorted intervals), ranges,
 * `at` runs and flags (constant during an evaluation); or, and and not of
 * them change only where a leaf does. A recurring schedule (cron, weekly,
 * yearly, rate) changes without end. The tree was built, so it has no
 * cycle and is at most MAX_DEPTH deep. */
static bool finite_node(const chg_timeset *ts, int i)
{
    const tnode *nd = &ts->nodes[i];
    switch (nd->op) {
    case CHG_TS_CALENDAR:
    case CHG_TS_RANGE:
    case CHG_TS_AT:
    case CHG_TS_FLAG:
        return true;
    case CHG_TS_NOT:
        return finite_node(ts, nd->a);
    case CHG_TS_OR:
    case CHG_TS_AND:
        return finite_node(ts, nd->a) && finite_node(ts, nd->b);
    default:
        return false;
    }
}

bool chg_timeset_is_finite(const chg_timeset *ts) { return ts->finite; }

chg_timeset *chg_timeset_build(const chg_ts_node *nodes, size_t n, int root,
                               chg_time_error *err, int *bad_node)
{
    return chg_timeset_build_cached(nodes, n, root, NULL, err, bad_node);
}

chg_timeset *chg_timeset_build_cached(const chg_ts_node *nodes, size_t n, int root, chg_ts_cache *cache,
                                      chg_time_error *err, int *bad_node)
{
    int bad_dummy = -1;
    if (!bad_node)
        bad_node = &bad_dummy;
    *bad_node = root;
    if (err) {
        err->message[0] = 0;
        err->offset = err->length = 0;
    }
    if (!nodes || n == 0) {
        chg_ti_set_error(err, 0, 0, "empty time set");
        return NULL;
    }
    if (root < 0 || (size_t)root >= n) {
        chg_ti_set_error(err, 0, 0, "time set root %d is not a node", root);
        return NULL;
    }
    chg_timeset *ts = chg_calloc(1, sizeof *ts);
    unsigned char *state = chg_calloc(n, 1);
    if (ts)
        ts->nodes = chg_calloc(n, sizeof *ts->nodes);
    if (!ts || !state || !ts->nodes) {
        chg_free(state);
        chg_timeset_free(ts);
        chg_ti_nomem(err, "out of memory");
        return NULL;
    }
    ts->n = n;
    ts->root = root;
    bool ok = build_node(ts, nodes, n, root, cache, state, 0, err, bad_node);
    chg_free(state);
    if (!ok) {
        chg_timeset_free(ts);
        return NULL;
    }
    ts->finite = finite_node(ts, root);
    *bad_node = -1;
    return ts;
}
