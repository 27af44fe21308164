/*
 * test_time_diff.c — the differential check of time-set answers: for many
 * random sets and instants, three independent paths must give the same
 * membership, next change and next admissible instant:
 *
 *  - the library asked directly (chg_timeset_contains, _next_change,
 *    _next_admissible without a probe, _admissible_until), as the VM asks
 *    it, at random instants in random order;
 *  - the library's enumeration of intervals (chg_timeset_intervals), one
 *    walk from span to span over more than two years, searched by
 *    bisection and, for the searches, given to them as their probe: in
 *    zones with daylight-saving time, where the oracle does not apply,
 *    the direct answers at any instant must be the enumeration's;
 *  - a brute-force oracle written here from the definitions in
 *    docs/time.md: membership minute by minute over a bounded range,
 *    from the wall clock in fixed-offset zones, and the searches as scans
 *    of that bitmap.
 *
 * The horizon is checked at its edge: a change or opening exactly at
 * t + horizon is inside it (docs/time.md, "Queries and the horizon"), one
 * second later is not. The local-year ends (0000, 0001, 9998, 9999) get a
 * range of their own. Whoever makes the searches faster keeps this test as
 * the safety net: it asks only the public library.
 *
 * Prints the number of cases run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chg_time.h"

/* ---- random numbers (xorshift, fixed seed: reproducible) ------------------------------- */

#define TEST_RNG_SEED 0xD1B54A32D192ED03ULL
#include "test_rng.h"

/* ---- the oracle's own calendar (not chg_civil.h) --------------------------------------- */

static int64_t days_from_civil(int64_t y, int m, int d)
{
    /* days since 1970-01-01, proleptic Gregorian, by counting */
    static const int cum[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    int64_t yy = y - 1; /* whole years before y, from year 0 */
    int64_t days = 365 * y + (yy >= 0 ? yy / 4 - yy / 100 + yy / 400 + 1 : 0);
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    days += cum[m - 1] + (m > 2 && leap) + d - 1;
    return days - 719528; /* days from 0000-01-01 to 1970-01-01 */
}

static bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    /* by search: the year whose January 1st is the last at or before z */
    int64_t lo = -1, hi = 10001;
    while (hi - lo > 1) {
        int64_t mid = (lo + hi) / 2;
        if (days_from_civil(mid, 1, 1) <= z)
            lo = mid;
        else
            hi = mid;
    }
    *y = lo;
    int mm = 1;
    while (mm < 12 && days_from_civil(lo, mm + 1, 1) <= z)
        mm++;
    *m = mm;
    *d = (int)(z - days_from_civil(lo, mm, 1)) + 1;
}

#define LOCAL_MIN (-62167219200LL) /* 0000-01-01T00:00 */
#define LOCAL_MAX (253402300800LL) /* 10000-01-01T00:00 */

/* ---- random sets, with their oracle ----------------------------------------------------- */

/* Zones with one offset over the years the runs use: the oracle's wall
 * clock is t + offset. Etc zones are fixed for all time (the year-end
 * runs); the others have had one offset since the 1980s. */
typedef struct zone {
    const char *name;
    int32_t off;
    bool forever;
} zone;
static const zone zones[] = {
    {"UTC", 0, true},          {"Etc/GMT-14", 14 * 3600, true}, {"Etc/GMT+12", -12 * 3600, true},
    {"Etc/GMT-5", 5 * 3600, true}, {"Asia/Kathmandu", 20700, false}, {"Asia/Kolkata", 19800, false},
    {"America/Phoenix", -25200, false},
};

#define MAXN 16

typedef struct oset {
    chg_ts_node n[MAXN];
    char cron_text[MAXN][128];
    /* the oracle's view of each leaf */
    uint64_t min_mask[MAXN];
    uint32_t hour_mask[MAXN];
    uint8_t dow_mask[MAXN];
    int32_t off[MAXN];
    size_t count;
    int root;
} oset;

static const char *flag_names[] = {"f1", "f2"};
static bool flags_on[2];

static bool flag_cb(void *ud, const char *name)
{
    (void)ud;
    return strcmp(name, "f1") == 0 ? flags_on[0] : strcmp(name, "f2") == 0 ? flags_on[1] : false;
}

static int pick_zone(bool forever_only)
{
    for (;;) {
        int z = (int)(rnd() % (sizeof zones / sizeof *zones));
        if (!forever_only || zones[z].forever)
            return z;
    }
}

/* A random leaf in [base, base + span). */
static int leaf(oset *s, int64_t base, int64_t span, bool forever_only)
{
    int i = (int)s->count++;
    chg_ts_node *n = &s->n[i];
    memset(n, 0, sizeof *n);
    int z = pick_zone(forever_only);
    n->zone = zones[z].name;
    s->off[i] = zones[z].off;
    switch (rnd() % 6) {
    case 0:
    case 1: { /* classic cron "M H * * D" for a duration */
        char mins[32] = "", hours[32] = "*", dows[32] = "*";
        s->min_mask[i] = 0;
        int nm = 1 + (int)(rnd() % 3);
        unsigned dense = rnd() % 4; /* every minute, or a run of minutes: blocks of touching occurrences */
        if (dense == 1) {
            s->min_mask[i] = (1ULL << 60) - 1;
            strcpy(mins, "*");
            nm = 0;
        } else if (dense == 2) {
            int a = (int)(rnd() % 60), b = a + (int)(rnd() % (60 - a));
            for (int v = a; v <= b; v++)
                s->min_mask[i] |= 1ULL << v;
            snprintf(mins, sizeof mins, "%d-%d", a, b);
            nm = 0;
        }
        for (int k = 0; k < nm; k++) {
            int m = (int)(rnd() % 4 == 0 ? rnd() % 60 : 15 * (rnd() % 4));
            if (s->min_mask[i] >> m & 1)
                continue;
            s->min_mask[i] |= 1ULL << m;
            snprintf(mins + strlen(mins), sizeof mins - strlen(mins), "%s%d", *mins ? "," : "", m);
        }
        s->hour_mask[i] = 0xffffff;
        if (rnd() % 4) {
            int a = (int)(rnd() % 24), b = a + (int)(rnd() % (24 - a));
            s->hour_mask[i] = 0;
            for (int h = a; h <= b; h++)
                s->hour_mask[i] |= 1u << h;
            snprintf(hours, sizeof hours, "%d-%d", a, b);
        }
        s->dow_mask[i] = 0x7f;
        if (rnd() % 2) {
            int a = (int)(rnd() % 7), b = a + (int)(rnd() % (7 - a));
            s->dow_mask[i] = 0;
            for (int d = a; d <= b; d++)
                s->dow_mask[i] |= (uint8_t)(1u << d);
            snprintf(dows, sizeof dows, "%d-%d", a, b);
        }
        snprintf(s->cron_text[i], sizeof s->cron_text[i], "%s %s * * %s", mins, hours, dows);
        n->op = CHG_TS_CRON;
        n->cron = s->cron_text[i];
        static const int64_t durs[] = {60, 60, 120, 900, 3600, 5400, 6 * 3600, 26 * 3600};
        n->duration = durs[rnd() % 8];
        if (rnd() % 4 == 0) /* an SSM cutoff: the last part of each run admits no start */
            n->cutoff = 60 * rnd_range(0, n->duration / 60);
        break;
    }
    case 2: /* weekly, or daily */
        n->op = CHG_TS_WEEKLY;
        n->days = rnd() % 3 ? (uint8_t)(1 + rnd() % 127) : 0x7f;
        n->start_min = (int)(rnd() % 2 ? 60 * (rnd() % 24) : rnd() % 1440);
        do
            n->end_min = (int)(rnd() % 3 ? 60 * (rnd() % 25) : rnd() % 1441);
        while (n->end_min == n->start_min); /* refused by the compiler (E0530) */
        break;
    case 3: { /* yearly, within the months of the run or anywhere */
        n->op = CHG_TS_YEARLY;
        static const int md[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        n->from_month = 1 + (int)(rnd() % 12);
        n->from_day = 1 + (int)(rnd() % (uint64_t)md[n->from_month - 1]);
        n->to_month = 1 + (int)(rnd() % 12);
        n->to_day = 1 + (int)(rnd() % (uint64_t)md[n->to_month - 1]);
        break;
    }
    case 4: { /* an absolute range, or a local one in the zone; or a rate or at() from there */
        n->op = CHG_TS_RANGE;
        int64_t a = base + 60 * rnd_range(-span / 120, span / 60);
        int64_t b = a + 60 * rnd_range(1, span / 60);
        unsigned kind = (unsigned)(rnd() % 4);
        if (kind == 1 || kind == 2) {
            static const int64_t periods[] = {300, 1500, 3600, 5 * 3600, 86400, 7 * 86400};
            static const int64_t durs[] = {60, 600, 3600, 6 * 3600, 2 * 86400};
            n->op = kind == 1 ? CHG_TS_RATE : CHG_TS_AT;
            n->period = periods[rnd() % 6];
            n->duration = durs[rnd() % 5];
            n->cutoff = rnd() % 3 == 0 ? 60 * rnd_range(0, n->duration / 60) : 0;
            if (n->op == CHG_TS_RATE && rnd() % 2)
                n->flags = CHG_TSF_TO; /* ends at b */
        }
        if (rnd() % 2) {
            n->from_local = n->to_local = true;
            a += s->off[i];
            b += s->off[i];
        } else {
            n->zone = NULL;
            s->off[i] = 0;
        }
        n->from = a;
        n->to = b;
        break;
    }
    default:
        n->op = CHG_TS_FLAG;
        n->zone = NULL;
        n->flag = flag_names[rnd() % 2];
        break;
    }
    return i;
}

static int tree(oset *s, int depth, int64_t base, int64_t span, bool forever_only)
{
    if (depth == 0 || s->count + 3 > MAXN || rnd() % 3 == 0)
        return leaf(s, base, span, forever_only);
    unsigned op = rnd() % 5;
    if (op == 0) {
        int a = tree(s, depth - 1, base, span, forever_only);
        int i = (int)s->count++;
        s->n[i] = (chg_ts_node){.op = CHG_TS_NOT, .a = a};
        return i;
    }
    int a = tree(s, depth - 1, base, span, forever_only);
    int b = tree(s, depth - 1, base, span, forever_only);
    int i = (int)s->count++;
    s->n[i] = (chg_ts_node){.op = op <= 2 ? CHG_TS_AND : CHG_TS_OR, .a = a, .b = b};
    return i;
}

/* ---- the oracle: membership of node i at instant t (a whole minute) ---------------------- */

static bool local_ok(int64_t local) { return local >= LOCAL_MIN && local < LOCAL_MAX; }

static bool cron_matches(const oset *s, int i, int64_t local)
{
    int64_t day = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
    int64_t sod = local - day * 86400;
    int dow = (int)(((day % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
    return sod % 60 == 0 && (s->min_mask[i] >> (sod / 60 % 60) & 1) && (s->hour_mask[i] >> (sod / 3600) & 1) &&
           (s->dow_mask[i] >> dow & 1);
}

static bool weekly_has(const chg_ts_node *n, int64_t day)
{
    int dow = (int)(((day % 7) + 7 + 4) % 7);
    return n->days >> dow & 1;
}

static bool oracle_in(const oset *s, int i, int64_t t)
{
    const chg_ts_node *n = &s->n[i];
    int64_t local = t + s->off[i];
    switch (n->op) {
    case CHG_TS_CRON: {
        if (!local_ok(local))
            return false;
        /* a match in (t - duration, t], itself in 0000..9999 */
        for (int64_t m = local - local % 60 - (local % 60 < 0 ? 60 : 0); m > local - (n->duration - n->cutoff); m -= 60)
            if (local_ok(m) && cron_matches(s, i, m))
                return true;
        return false;
    }
    case CHG_TS_WEEKLY: {
        if (!local_ok(local))
            return false;
        int64_t day = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
        int64_t mod = (local - day * 86400) / 60;
        if (n->end_min > n->start_min)
            return weekly_has(n, day) && mod >= n->start_min && mod < n->end_min;
        /* crosses midnight: the evening of day, or the morning after day - 1 */
        return (weekly_has(n, day) && mod >= n->start_min) || (weekly_has(n, day - 1) && mod < n->end_min);
    }
    case CHG_TS_YEARLY: {
        if (!local_ok(local))
            return false;
        int64_t day = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
        int64_t y;
        int m, d;
        civil_from_days(day, &y, &m, &d);
        bool cross = n->to_month < n->from_month || (n->to_month == n->from_month && n->to_day <= n->from_day);
        for (int64_t k = y - 1; k <= y; k++) {
            if (n->from_month == 2 && n->from_day == 29 && !is_leap(k))
                continue;
            int64_t ye = cross ? k + 1 : k;
            int64_t a = days_from_civil(k, n->from_month, n->from_day);
            int64_t b = n->to_month == 2 && n->to_day == 29 && !is_leap(ye) ? days_from_civil(ye, 3, 1)
                                                                            : days_from_civil(ye, n->to_month, n->to_day);
            if (day >= a && day < b)
                return true;
        }
        return false;
    }
    case CHG_TS_RANGE: {
        int64_t a = n->from - (n->from_local ? s->off[i] : 0), b = n->to - (n->to_local ? s->off[i] : 0);
        return t >= a && t < b;
    }
    case CHG_TS_AT:
    case CHG_TS_RATE: {
        /* runs a + k * period (k >= 0; one for at), before the end if any,
         * each admitting starts for duration - cutoff */
        int64_t a = n->from - (n->from_local ? s->off[i] : 0);
        int64_t end = n->flags & CHG_TSF_TO ? n->to - (n->to_local ? s->off[i] : 0) : INT64_MAX;
        if (t < a)
            return false;
        int64_t k = n->op == CHG_TS_AT ? 0 : (t - a) / n->period;
        for (; k >= 0; k--) {
            int64_t r = a + k * (n->op == CHG_TS_AT ? 0 : n->period);
            if (r + n->duration - n->cutoff <= t)
                break;
            if (r < end && r <= t)
                return true;
            if (n->op == CHG_TS_AT)
                break;
        }
        return false;
    }
    case CHG_TS_FLAG: return flag_cb(NULL, n->flag);
    case CHG_TS_NOT: return !oracle_in(s, n->a, t);
    case CHG_TS_AND: return oracle_in(s, n->a, t) && oracle_in(s, n->b, t);
    case CHG_TS_OR: return oracle_in(s, n->a, t) || oracle_in(s, n->b, t);
    case CHG_TS_CALENDAR: break;
    }
    fail_msg("oracle: node %d", i);
    return false;
}

/* Node i's membership at t0 + 60 m for m in [0, nmin), tabulated bottom
 * up; a cron leaf by a sliding count of its matches (the same definition
 * as oracle_in, without its cost for long durations). */
static void oracle_bits(const oset *s, int i, int64_t t0, int64_t nmin, uint8_t *out)
{
    const chg_ts_node *n = &s->n[i];
    switch (n->op) {
    case CHG_TS_NOT:
        oracle_bits(s, n->a, t0, nmin, out);
        for (int64_t m = 0; m < nmin; m++)
            out[m] = !out[m];
        return;
    case CHG_TS_AND:
    case CHG_TS_OR: {
        uint8_t *b = malloc((size_t)nmin);
        assert_non_null(b);
        oracle_bits(s, n->a, t0, nmin, out);
        oracle_bits(s, n->b, t0, nmin, b);
        for (int64_t m = 0; m < nmin; m++)
            out[m] = n->op == CHG_TS_AND ? out[m] && b[m] : out[m] || b[m];
        free(b);
        return;
    }
    case CHG_TS_CRON: {
        int64_t dm = (n->duration - n->cutoff) / 60; /* whole minutes in these runs */
        uint8_t *mt = malloc((size_t)(nmin + dm));
        assert_non_null(mt);
        for (int64_t j = 0; j < nmin + dm; j++) {
            int64_t local = t0 + 60 * (j - dm) + s->off[i];
            mt[j] = local_ok(local) && cron_matches(s, i, local);
        }
        int64_t count = 0; /* matches at ext indexes (m, m + dm] */
        for (int64_t j = 1; j <= dm; j++)
            count += mt[j];
        for (int64_t m = 0; m < nmin; m++) {
            out[m] = count > 0 && local_ok(t0 + 60 * m + s->off[i]);
            if (m + 1 < nmin) {
                count -= mt[m + 1];
                count += mt[m + 1 + dm];
            }
        }
        free(mt);
        return;
    }
    default:
        for (int64_t m = 0; m < nmin; m++)
            out[m] = oracle_in(s, i, t0 + 60 * m);
        return;
    }
}

/* ---- a run: sets over a bounded range, asked many questions ----------------------------- */

#define NSETS 3
#define RANGE_MIN (24 * 60 * 24) /* minutes the oracle tabulates: 24 days */

typedef struct run {
    int64_t t0;                 /* a whole minute */
    oset os[NSETS];
    chg_timeset *ts[NSETS];
    uint8_t *bits[NSETS];       /* membership at t0 + 60 m */
    chg_ts_env env;
} run;

static long cases;

/* The horizon includes its end: an answer at exactly t + h is given. */
#ifndef HORIZON_EXCLUSIVE
#define IN_HORIZON(x, t, h) ((x) <= (t) + (h))
#else
#define IN_HORIZON(x, t, h) ((x) < (t) + (h))
#endif

static void run_init(run *r, int64_t t0, bool forever_only)
{
    memset(r, 0, sizeof *r);
    r->t0 = t0;
    r->env = (chg_ts_env){flag_cb, NULL};
    flags_on[0] = rnd() % 4 == 0;
    flags_on[1] = rnd() % 2 == 0;
    for (int k = 0; k < NSETS; k++) {
        oset *s = &r->os[k];
        s->root = tree(s, 3, t0, RANGE_MIN * 60LL, forever_only);
        chg_time_error e;
        int bad;
        r->ts[k] = chg_timeset_build(s->n, s->count, s->root, &e, &bad);
        if (!r->ts[k])
            fail_msg("build: %s", e.message);
        r->bits[k] = malloc(RANGE_MIN);
        assert_non_null(r->bits[k]);
        oracle_bits(s, s->root, t0, RANGE_MIN, r->bits[k]);
        for (int q = 0; q < 64; q++) { /* the two oracles agree */
            int64_t m = rnd_range(0, RANGE_MIN);
            if (r->bits[k][m] != oracle_in(s, s->root, t0 + 60 * m))
                fail_msg("oracles disagree at minute %lld", (long long)m);
        }
    }
}

static void run_free(run *r)
{
    for (int k = 0; k < NSETS; k++) {
        chg_timeset_free(r->ts[k]);
        free(r->bits[k]);
    }
}

static const char *fmt(int64_t t)
{
    static char ring[8][40];
    static int k;
    char *b = ring[k++ & 7];
    if (t == INT64_MAX)
        strcpy(b, "none");
    else if (!chg_time_format_utc(t, b))
        snprintf(b, 40, "%lld", (long long)t);
    return b;
}

/* Membership at any instant of the range: that of its minute. */
static bool bit(const run *r, int k, int64_t t) { return r->bits[k][(t - r->t0) / 60]; }

/* The oracle's next change of set k after t, at or before t + h (t + h
 * inside the range); INT64_MAX if none. */
static int64_t oracle_next_change(const run *r, int k, int64_t t, int64_t h)
{
    bool cur = bit(r, k, t);
    for (int64_t x = t - (t - r->t0) % 60 + 60; IN_HORIZON(x, t, h); x += 60)
        if (bit(r, k, x) != cur)
            return x;
    return INT64_MAX;
}

static bool agrees(const run *r, const int *ks, const bool *want, int n, int64_t x)
{
    for (int i = 0; i < n; i++)
        if (bit(r, ks[i], x) != want[i])
            return false;
    return true;
}

/* The earliest instant in [t, t + h] at which every set ks[i] is want[i]. */
static int64_t oracle_next_admissible(const run *r, const int *ks, const bool *want, int n, int64_t t, int64_t h)
{
    if (agrees(r, ks, want, n, t))
        return t;
    for (int64_t x = t - (t - r->t0) % 60 + 60; IN_HORIZON(x, t, h); x += 60)
        if (agrees(r, ks, want, n, x))
            return x;
    return INT64_MAX;
}

/* The first instant in (t, t + h] at which some set that agrees with want
 * at t stops agreeing (sets that disagree at t are not counted). */
static int64_t oracle_admissible_until(const run *r, const int *ks, const bool *want, int n, int64_t t, int64_t h)
{
    for (int64_t x = t - (t - r->t0) % 60 + 60; IN_HORIZON(x, t, h); x += 60)
        for (int i = 0; i < n; i++)
            if (bit(r, ks[i], t) == want[i] && bit(r, ks[i], x) != want[i])
                return x;
    return INT64_MAX;
}

static void describe(const run *r, int k)
{
    const oset *s = &r->os[k];
    for (size_t i = 0; i < s->count; i++) {
        const chg_ts_node *n = &s->n[i];
        fprintf(stderr, "  set %d node %zu: op %d zone %s cron '%s' dur %lld days %#x %d..%d range %s..%s%s "
                        "yearly %d/%d..%d/%d flag %s a %d b %d\n",
                k, i, (int)n->op, n->zone ? n->zone : "-", n->op == CHG_TS_CRON ? n->cron : "",
                (long long)n->duration, n->days, n->start_min, n->end_min, fmt(n->from), fmt(n->to),
                n->from_local ? " local" : "", n->from_month, n->from_day, n->to_month, n->to_day,
                n->flag ? n->flag : "-", n->a, n->b);
    }
    fprintf(stderr, "  root %d, flags f1=%d f2=%d\n", s->root, flags_on[0], flags_on[1]);
}

#define CHECK_EQ(what, k, t, h, got, want)                                                                 \
    do {                                                                                                   \
        int64_t got_ = (got), want_ = (want);                                                              \
        if (got_ != want_) {                                                                               \
            describe(r, k);                                                                                \
            fail_msg("%s at %s horizon %lld: %s, expected %s", what, fmt(t), (long long)(h), fmt(got_),     \
                     fmt(want_));                                                                          \
        }                                                                                                  \
    } while (0)

/* A horizon for a search from t: random, or exactly the distance to the
 * oracle's answer for the full range (the edge), or one second short. */
static int64_t pick_horizon(const run *r, int64_t t, int64_t answer)
{
    int64_t room = r->t0 + 60LL * (RANGE_MIN - 1) - t; /* t + h stays in the range */
    int64_t h;
    switch (rnd() % 4) {
    case 0: h = answer != INT64_MAX ? answer - t : room; break;
    case 1: h = answer != INT64_MAX ? answer - t - 1 : room - 1; break;
    default: h = rnd_range(1, room); break;
    }
    return h < 1 ? 1 : h > room ? room : h;
}

static void one_query(run *r)
{
    int64_t room = 60LL * (RANGE_MIN - 2);
    int64_t t = r->t0 + (rnd() % 3 ? 60 * rnd_range(0, room / 60) : rnd_range(0, room));
    int k = (int)(rnd() % NSETS);
    cases++;
    switch (rnd() % 4) {
    case 0: {
        bool o = bit(r, k, t);
        CHECK_EQ("library contains", k, t, 0, chg_timeset_contains(r->ts[k], &r->env, t), o);
        break;
    }
    case 1: {
        int64_t full = oracle_next_change(r, k, t, r->t0 + 60LL * (RANGE_MIN - 1) - t);
        int64_t h = pick_horizon(r, t, full);
        int64_t o = oracle_next_change(r, k, t, h);
        CHECK_EQ("library next_change", k, t, h, chg_timeset_next_change(r->ts[k], &r->env, t, h), o);
        break;
    }
    default: {
        int ks[NSETS], n = 1 + (int)(rnd() % NSETS);
        bool want[NSETS];
        const chg_timeset *sets[NSETS];
        for (int i = 0; i < n; i++) {
            ks[i] = (i + k) % NSETS;
            want[i] = rnd() % 3 != 0;
            sets[i] = r->ts[ks[i]];
        }
        bool until = rnd() % 2;
        int64_t end = r->t0 + 60LL * (RANGE_MIN - 1) - t;
        int64_t full = until ? oracle_admissible_until(r, ks, want, n, t, end)
                             : oracle_next_admissible(r, ks, want, n, t, end);
        int64_t h = pick_horizon(r, t, full);
        if (until) {
            int64_t o = oracle_admissible_until(r, ks, want, n, t, h);
            CHECK_EQ("library admissible_until", k, t, h,
                     chg_timeset_admissible_until(sets, want, (size_t)n, &r->env, t, h, NULL), o);
        } else {
            int64_t o = oracle_next_admissible(r, ks, want, n, t, h);
            CHECK_EQ("library next_admissible", k, t, h,
                     chg_timeset_next_admissible(sets, want, (size_t)n, &r->env, t, h, NULL), o);
        }
        break;
    }
    }
}

static void runs(int64_t from, int64_t to, int nruns, int nq, bool forever_only)
{
    for (int i = 0; i < nruns; i++) {
        run r;
        int64_t t0 = rnd_range(from, to);
        t0 -= ((t0 % 60) + 60) % 60;
        run_init(&r, t0, forever_only);
        for (int q = 0; q < nq; q++)
            one_query(&r);
        run_free(&r);
    }
}

/* Years 2020-2032, where the fixed zones are fixed. */
static void test_time_diff_modern_years(void **state)
{
    (void)state;
    runs(1577836800LL /* 2020 */, 1956528000LL /* 2032 */, 40, 400, false);
}

/* Across new year. */
static void test_time_diff_new_year(void **state)
{
    (void)state;
    for (int64_t y = 2024; y <= 2028; y++) {
        int64_t ny = days_from_civil(y, 1, 1) * 86400;
        runs(ny - 20 * 86400, ny - 4 * 86400, 4, 400, false);
    }
}

/* The local years 0000, 0001, 9998 and 9999 (Etc zones and UTC only). */
static void test_time_diff_year_ends(void **state)
{
    (void)state;
    runs(LOCAL_MIN, LOCAL_MIN + 2 * 366 * 86400LL, 20, 300, true);
    runs(LOCAL_MAX - 2 * 366 * 86400LL, LOCAL_MAX - 60LL * (RANGE_MIN + 1), 20, 300, true);
}

/* Zones with daylight-saving time, where the oracle's wall clock does not
 * apply: the direct answers must be the enumeration's, at any instant in
 * random order, for horizons up to more than a year and at their edges. */
static const char *dst_zones[] = {"Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Pacific/Apia",
                                  "America/Santiago"};

/* A set's intervals over [lo, hi), from one chg_timeset_intervals walk. */
typedef struct enumerated {
    int64_t lo, hi;
    int64_t *iv; /* start, end pairs */
    size_t n, cap;
} enumerated;

static int collect(void *ud, int64_t start, int64_t end)
{
    enumerated *x = ud;
    if (x->n == x->cap) {
        x->cap = x->cap ? 2 * x->cap : 64;
        x->iv = realloc(x->iv, 2 * x->cap * sizeof *x->iv);
        assert_non_null(x->iv);
    }
    x->iv[2 * x->n] = start;
    x->iv[2 * x->n + 1] = end;
    x->n++;
    return 0;
}

/* The last interval starting at or before t, or -1. */
static int64_t en_find(const enumerated *x, int64_t t)
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

static bool en_contains(const enumerated *x, int64_t t)
{
    int64_t i = en_find(x, t);
    return i >= 0 && t < x->iv[2 * i + 1];
}

/* The next change after t within h. The questions stay clear of both ends
 * (an interval clipped at hi goes on past the horizon). */
static int64_t en_next_change(const enumerated *x, int64_t t, int64_t h)
{
    assert_true(t > x->lo && t + h < x->hi);
    int64_t i = en_find(x, t);
    int64_t next;
    if (i >= 0 && t < x->iv[2 * i + 1])
        next = x->iv[2 * i + 1];
    else
        next = (size_t)(i + 1) < x->n ? x->iv[2 * (i + 1)] : x->hi;
    return next - t > h ? INT64_MAX : next;
}

static bool probe_contains(void *ud, size_t k, int64_t t) { return en_contains((const enumerated *)ud + k, t); }

static int64_t probe_next_change(void *ud, size_t k, int64_t t, int64_t h)
{
    return en_next_change((const enumerated *)ud + k, t, h);
}

static void test_time_diff_direct_is_enumeration(void **state)
{
    (void)state;
    const int64_t span = 400 * 86400LL, big = 420 * 86400LL;
    for (int i = 0; i < 15; i++) {
        run rr;
        run *r = &rr; /* for CHECK_EQ */
        int64_t t0 = rnd_range(1735689600LL /* 2025 */, 1830297600LL /* 2028 */);
        t0 -= ((t0 % 60) + 60) % 60;
        memset(r, 0, sizeof *r);
        r->t0 = t0;
        r->env = (chg_ts_env){flag_cb, NULL};
        flags_on[0] = rnd() % 4 == 0;
        flags_on[1] = rnd() % 2 == 0;
        enumerated en[NSETS];
        for (int k = 0; k < NSETS; k++) {
            oset *s = &r->os[k];
            s->root = tree(s, 3, t0, 40 * 86400LL, false);
            for (size_t q = 0; q < s->count; q++)
                if (s->n[q].zone && rnd() % 2)
                    s->n[q].zone = dst_zones[rnd() % (sizeof dst_zones / sizeof *dst_zones)];
            chg_time_error e;
            int bad;
            r->ts[k] = chg_timeset_build(s->n, s->count, s->root, &e, &bad);
            if (!r->ts[k])
                fail_msg("build: %s", e.message);
            en[k] = (enumerated){t0 - span - 86400, t0 + span + big + 86400, NULL, 0, 0};
            assert_int_equal(chg_timeset_intervals(r->ts[k], &r->env, en[k].lo, en[k].hi, collect, &en[k]), 0);
        }
        chg_ts_probe probe = {probe_contains, probe_next_change, en};
        for (int q = 0; q < 300; q++) {
            int k = (int)(rnd() % NSETS);
            int64_t t = t0 + rnd_range(-span, span);
            if (rnd() % 2)
                t -= ((t % 60) + 60) % 60;
            int64_t lib = chg_timeset_next_change(r->ts[k], &r->env, t, big);
            int64_t h = rnd() % 3 == 0 || lib == INT64_MAX ? rnd_range(1, big) : lib - t + (int64_t)(rnd() % 3) - 1;
            if (h < 1)
                h = 1;
            cases++;
            CHECK_EQ("contains (dst)", k, t, 0, chg_timeset_contains(r->ts[k], &r->env, t), en_contains(&en[k], t));
            CHECK_EQ("next_change (dst)", k, t, h, chg_timeset_next_change(r->ts[k], &r->env, t, h),
                     en_next_change(&en[k], t, h));
            if (q % 4 == 0) {
                /* the next change within a day, against membership asked
                 * minute by minute (membership does not depend on how far a
                 * span reaches; changes are on whole minutes here) */
                int64_t t1 = t - ((t % 60) + 60) % 60, hh = 86400, o = INT64_MAX;
                bool cur = chg_timeset_contains(r->ts[k], &r->env, t);
                for (int64_t x = t1 + 60; x <= t + hh; x += 60)
                    if (chg_timeset_contains(r->ts[k], &r->env, x) != cur) {
                        o = x;
                        break;
                    }
                CHECK_EQ("library next_change (dst, by minutes)", k, t, hh,
                         chg_timeset_next_change(r->ts[k], &r->env, t, hh), o);
            }
            const chg_timeset *sets[NSETS];
            bool want[NSETS];
            for (int j = 0; j < NSETS; j++) {
                sets[j] = r->ts[j];
                want[j] = rnd() % 3 != 0;
            }
            int64_t a = chg_timeset_next_admissible(sets, want, NSETS, &r->env, t, big, NULL);
            h = rnd() % 3 == 0 || a == INT64_MAX ? rnd_range(1, big) : a - t + (int64_t)(rnd() % 3) - 1;
            if (h < 1)
                h = 1;
            CHECK_EQ("next_admissible (dst)", k, t, h,
                     chg_timeset_next_admissible(sets, want, NSETS, &r->env, t, h, NULL),
                     chg_timeset_next_admissible(sets, want, NSETS, &r->env, t, h, &probe));
            CHECK_EQ("admissible_until (dst)", k, t, h,
                     chg_timeset_admissible_until(sets, want, NSETS, &r->env, t, h, NULL),
                     chg_timeset_admissible_until(sets, want, NSETS, &r->env, t, h, &probe));
        }
        for (int k = 0; k < NSETS; k++) {
            chg_timeset_free(r->ts[k]);
            free(en[k].iv);
        }
    }
}

#include <time.h>

static double secs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double t_start;

static int timer_start(void **state)
{
    (void)state;
    t_start = secs();
    return 0;
}

static int timer_stop(void **state)
{
    (void)state;
    printf("  %.1f s\n", secs() - t_start);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_time_diff_modern_years, timer_start, timer_stop),
        cmocka_unit_test_setup_teardown(test_time_diff_new_year, timer_start, timer_stop),
        cmocka_unit_test_setup_teardown(test_time_diff_year_ends, timer_start, timer_stop),
        cmocka_unit_test_setup_teardown(test_time_diff_direct_is_enumeration, timer_start, timer_stop),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    printf("time_diff: %ld cases\n", cases);
    return rc;
}
