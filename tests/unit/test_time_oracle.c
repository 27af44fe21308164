/*
 * test_time_oracle.c — differential tests of the time-set library against
 * independent oracles written here, not in the code under test:
 *
 *  - cron: a brute-force matcher that walks the clock minute by minute
 *    (second by second inside matching minutes for 7-field expressions),
 *    reads the wall clock with the C library (localtime_r, gmtime_r) and
 *    decides each field straight from the expression's text. Its DST rule is
 *    stated the plain way: a fixed-time schedule fires when the clock shows a
 *    matching time it has never shown before, or jumps forward over one; a
 *    wildcard schedule fires whenever the clock shows a matching time.
 *    Compared with chg_cron_next/prev and with cron-window membership over
 *    random expressions in all three dialects, zones and instants (many near
 *    DST transitions).
 *  - weekly and yearly windows: membership read off the wall clock at
 *    instants with no offset change nearby, against chg_timeset_contains.
 *
 * Prints the number of cases run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chg_time.h"

/* ---- random numbers (xorshift, fixed seed: reproducible) ------------------------------- */

#define TEST_RNG_SEED 0x9E3779B97F4A7C15ULL
#include "test_rng.h"

#define PICK(arr) (arr[rnd() % (sizeof arr / sizeof *arr)])

static const char *zones[] = {
    "America/New_York", "Europe/Berlin",  "Australia/Lord_Howe", "Asia/Kathmandu",
    "Pacific/Apia",     "UTC",            "America/Sao_Paulo",   "Asia/Tehran",
    "Africa/Casablanca", "America/St_Johns", "Pacific/Chatham",  "Europe/London",
    "Australia/Sydney", "America/Havana", "Antarctica/Troll",    "America/Santiago",
    "Europe/Moscow",    "Asia/Gaza",
};

/* ---- the wall clock, from the C library --------------------------------------------------- */

static void use_zone(const char *zone)
{
    setenv("TZ", zone, 1);
    tzset();
}

static long clock_offset(int64_t u)
{
    time_t t = (time_t)u;
    struct tm tm;
    localtime_r(&t, &tm);
    return tm.tm_gmtoff;
}

/* A wall-clock reading (seconds as if UTC) as calendar fields. */
typedef struct reading {
    int year, mon, mday, hour, min, sec, wday;
} reading;

static reading read_fields(int64_t local)
{
    time_t t = (time_t)local;
    struct tm tm;
    gmtime_r(&t, &tm);
    return (reading){tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min,         tm.tm_sec,     tm.tm_wday};
}

static bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int month_days(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : d[m - 1];
}

/* Weekday of day d of (y, m), 0 = Sunday (Sakamoto's method). */
static int weekday(int y, int m, int d)
{
    static const int t[] = {0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4};
    if (m < 3)
        y -= 1;
    return (y + y / 4 - y / 100 + y / 400 + t[m - 1] + d) % 7;
}

/* ---- the oracle's cron: fields decided from their text ------------------------------------- */

enum { K_SEC, K_MIN, K_HOUR, K_DOM, K_MON, K_DOW, K_YEAR };

typedef struct oexpr {
    char text[400];
    int nfields;         /* 5, 6 or 7 */
    char f[7][48];       /* by kind; absent seconds are "0", absent year "*" */
} oexpr;

static void written_range(const oexpr *e, int kind, int *lo, int *hi)
{
    static const int L[] = {0, 0, 0, 1, 1, 0, 1970}, H[] = {59, 59, 23, 31, 12, 7, 2199};
    *lo = L[kind];
    *hi = H[kind];
    if (kind == K_DOW && e->nfields != 5)
        *lo = 1;
}

/* A written value: number or name; -1 if neither. */
static int value_of(const oexpr *e, int kind, const char *s, size_t n)
{
    static const char *mons[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                 "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
    static const char *days[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};
    if (n == 3 && isalpha((unsigned char)s[0])) {
        for (int i = 0; i < 12 && kind == K_MON; i++)
            if (strncasecmp(s, mons[i], 3) == 0)
                return i + 1;
        for (int i = 0; i < 7 && kind == K_DOW; i++)
            if (strncasecmp(s, days[i], 3) == 0)
                return e->nfields == 5 ? i : i + 1;
        return -1;
    }
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return n ? v : -1;
}

/* Does the written value x denote the actual value v? (weekdays differ
 * by dialect: classic 0 and 7 are Sunday, AWS 1 is Sunday) */
static bool denotes(const oexpr *e, int kind, int x, int v)
{
    if (kind != K_DOW)
        return x == v;
    return e->nfields == 5 ? x % 7 == v : x - 1 == v;
}

/* A plain item (*, a, a-b, each with an optional /n): walk its values the
 * way a person reads it, wrapping past the top of the range, and keep every
 * n-th one. */
static bool plain_item_matches(const oexpr *e, int kind, const char *s, size_t n, int v)
{
    int lo, hi;
    written_range(e, kind, &lo, &hi);
    const char *slash = memchr(s, '/', n);
    size_t bn = slash ? (size_t)(slash - s) : n;
    int step = slash ? atoi(slash + 1) : 1;
    int a, b;
    if (bn == 1 && s[0] == '*') {
        a = lo;
        b = hi;
        if (kind == K_DOW && e->nfields == 5)
            b = 6;
    } else {
        const char *dash = memchr(s + 1, '-', bn - 1);
        if (dash) {
            a = value_of(e, kind, s, (size_t)(dash - s));
            b = value_of(e, kind, dash + 1, bn - (size_t)(dash + 1 - s));
        } else {
            a = value_of(e, kind, s, bn);
            b = slash ? hi : a;
        }
    }
    int x = a;
    for (int i = 0;; i++) {
        if (i % step == 0 && denotes(e, kind, x, v))
            return true;
        if (x == b)
            return false;
        x = x == hi ? lo : x + 1;
    }
}

static bool is_weekday(int y, int m, int d)
{
    int w = weekday(y, m, d);
    return w >= 1 && w <= 5;
}

/* One item of day-of-month, specials included. */
static bool dom_item(const oexpr *e, const char *s, size_t n, const reading *r)
{
    int dim = month_days(r->year, r->mon);
    if (n == 1 && s[0] == 'L')
        return r->mday == dim;
    if (n == 2 && s[0] == 'L' && s[1] == 'W') {
        int last = dim;
        while (!is_weekday(r->year, r->mon, last))
            last--;
        return r->mday == last;
    }
    if (n > 2 && s[0] == 'L' && s[1] == '-')
        return r->mday == dim - atoi(s + 2);
    if (s[n - 1] == 'W') {
        int target = atoi(s);
        if (target > dim)
            return false;
        /* the weekday of this month closest to the target day */
        int best = 0;
        for (int d = 1; d <= dim; d++)
            if (is_weekday(r->year, r->mon, d) &&
                (!best || abs(d - target) < abs(best - target)))
                best = d;
        return r->mday == best;
    }
    return plain_item_matches(e, K_DOM, s, n, r->mday);
}

/* One item of day-of-week, specials included. */
static bool dow_item(const oexpr *e, const char *s, size_t n, const reading *r)
{
    int dim = month_days(r->year, r->mon);
    if (n == 1 && s[0] == 'L')
        return r->wday == 6;
    const char *hash = memchr(s, '#', n);
    if (hash) {
        if (!plain_item_matches(e, K_DOW, s, (size_t)(hash - s), r->wday))
            return false;
        int count = 0; /* how many of this weekday so far this month */
        for (int d = 1; d <= r->mday; d++)
            count += weekday(r->year, r->mon, d) == r->wday;
        return count == atoi(hash + 1);
    }
    if (n >= 2 && s[n - 1] == 'L')
        return plain_item_matches(e, K_DOW, s, n - 1, r->wday) && r->mday + 7 > dim;
    return plain_item_matches(e, K_DOW, s, n, r->wday);
}

static bool field_matches(const oexpr *e, int kind, const reading *r)
{
    const char *f = e->f[kind];
    if (strcmp(f, "?") == 0)
        return true;
    int v = kind == K_SEC ? r->sec : kind == K_MIN ? r->min : kind == K_HOUR ? r->hour
          : kind == K_MON ? r->mon : kind == K_YEAR ? r->year : 0;
    if (kind == K_YEAR && (v < 1970 || v > 2199))
        return false;
    for (const char *s = f; *s;) {
        size_t n = strcspn(s, ",");
        bool m = kind == K_DOM ? dom_item(e, s, n, r)
               : kind == K_DOW ? dow_item(e, s, n, r)
                               : plain_item_matches(e, kind, s, n, v);
        if (m)
            return true;
        s += n + (s[n] == ',');
    }
    return false;
}

static bool day_matches(const oexpr *e, const reading *r)
{
    if (e->nfields != 5 && !field_matches(e, K_YEAR, r))
        return false;
    if (!field_matches(e, K_MON, r))
        return false;
    bool dom = field_matches(e, K_DOM, r), dow = field_matches(e, K_DOW, r);
    if (e->nfields != 5)
        return strcmp(e->f[K_DOM], "?") == 0 ? dow : dom;
    /* Vixie cron: either day field when both are restricted */
    if (e->f[K_DOM][0] == '*' || e->f[K_DOW][0] == '*')
        return dom && dow;
    return dom || dow;
}

static bool wildcard(const oexpr *e)
{
    return e->f[K_SEC][0] == '*' || e->f[K_MIN][0] == '*' || e->f[K_HOUR][0] == '*';
}

/* ---- random expressions ---------------------------------------------------------------- */

static void random_expr(oexpr *e, bool dst_focus)
{
    static const char *secs[] = {"0", "0", "*/20", "15,45", "*", "30", "0-59/13", "59"};
    static const char *mins[] = {"*", "*/15", "0", "30", "5,35", "10-20/5", "0-59/7",
                                 "50-10", "*/7", "45", "0", "0"};
    static const char *hours[] = {"*", "*/6", "2", "1-3", "22-2", "0,12", "1", "3", "*/5",
                                  "23", "0-23/4", "1,2,3", "2", "0"};
    static const char *doms[] = {"*", "*", "L", "LW", "15W", "1W", "31W", "L-2", "1,15",
                                 "10-20", "*/5", "29", "31", "1", "5-25/10", "30W", "*/2"};
    static const char *mons[] = {"*", "*", "*", "JAN-MAR", "*/2", "3", "NOV-FEB", "2",
                                 "10,11", "MAR-MAY", "*/5", "oct-apr", "12"};
    static const char *dows_classic[] = {"*", "*", "1-5", "MON-FRI", "0", "7", "5L", "MON#2",
                                         "SUN#1", "6#5", "SUN,SAT", "5-7", "FRI-MON", "*/2",
                                         "L", "1-5/2"};
    static const char *dows_aws[] = {"*", "MON-FRI", "2-6", "1", "7", "6L", "L", "3#2",
                                     "SUN#1", "SAT-MON", "1,7", "*/3", "FRI#5", "2-7/2"};
    static const char *years[] = {"*", "*", "*", "2026-2030", "*/3", "1970-2199/2", "2030",
                                  "2000-2100"};
    int dialect = (int)(rnd() % 3); /* 0 classic, 1 AWS, 2 SSM */
    e->nfields = dialect == 0 ? 5 : dialect == 1 ? 6 : 7;
    strcpy(e->f[K_SEC], dialect == 2 ? PICK(secs) : "0");
    strcpy(e->f[K_MIN], PICK(mins));
    strcpy(e->f[K_HOUR], PICK(hours));
    if (rnd() % 4 == 0)
        snprintf(e->f[K_HOUR], sizeof e->f[K_HOUR], "%d", (int)(rnd() % 24));
    strcpy(e->f[K_DOM], PICK(doms));
    if (rnd() % 5 == 0)
        snprintf(e->f[K_DOM], sizeof e->f[K_DOM], "%d", (int)(rnd() % 31) + 1);
    strcpy(e->f[K_MON], PICK(mons));
    strcpy(e->f[K_DOW], dialect == 0 ? PICK(dows_classic) : PICK(dows_aws));
    strcpy(e->f[K_YEAR], dialect == 0 ? "*" : PICK(years));
    if (dst_focus) {
        /* every day, at the hours clocks change, fixed or wildcard */
        static const char *dmins[] = {"*/15", "30", "0", "*/20", "15,45", "*", "0,30", "45"};
        static const char *dhours[] = {"*", "1-3", "2", "*/2", "0-3", "1,2", "0", "1", "3"};
        strcpy(e->f[K_MIN], PICK(dmins));
        strcpy(e->f[K_HOUR], PICK(dhours));
        strcpy(e->f[K_DOM], "*");
        strcpy(e->f[K_MON], "*");
        strcpy(e->f[K_DOW], "*");
        strcpy(e->f[K_YEAR], "*");
    }
    if (dialect != 0) {
        if (rnd() % 2)
            strcpy(e->f[K_DOM], "?");
        else
            strcpy(e->f[K_DOW], "?");
    }
    if (dialect == 0)
        snprintf(e->text, sizeof e->text, "%s %s %s %s %s", e->f[K_MIN], e->f[K_HOUR],
                 e->f[K_DOM], e->f[K_MON], e->f[K_DOW]);
    else if (dialect == 1)
        snprintf(e->text, sizeof e->text, "%s %s %s %s %s %s", e->f[K_MIN], e->f[K_HOUR],
                 e->f[K_DOM], e->f[K_MON], e->f[K_DOW], e->f[K_YEAR]);
    else
        snprintf(e->text, sizeof e->text, "cron(%s %s %s %s %s %s %s)", e->f[K_SEC],
                 e->f[K_MIN], e->f[K_HOUR], e->f[K_DOM], e->f[K_MON], e->f[K_DOW],
                 e->f[K_YEAR]);
}

/* ---- the brute-force walk ----------------------------------------------------------------- */

typedef struct list {
    int64_t *v;
    size_t n, cap;
} list;

static void push(list *l, int64_t x)
{
    if (l->n && l->v[l->n - 1] == x)
        return; /* a gap's end and the first reading after it coincide */
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        assert_non_null(l->v);
    }
    l->v[l->n++] = x;
}

/* Check the seconds of one minute of readings [local, local+59] shown at
 * instants [u, u+59]; fire those not shown before (fixed) or all (wild). */
static void fire_minute(const oexpr *e, bool wild, int64_t u, int64_t local, int64_t high,
                        list *out)
{
    reading r = read_fields(local);
    if (!day_matches(e, &r) || !field_matches(e, K_HOUR, &r) || !field_matches(e, K_MIN, &r))
        return;
    for (int s = 0; s < 60; s++) {
        r.sec = s;
        if (field_matches(e, K_SEC, &r) && (wild || local + s > high))
            push(out, u + s);
    }
}

/* All matches of e in (from, to), walking minute by minute from `from`
 * (which must be well before the interval of interest: the clock's
 * high-water mark needs a history). Returns false if the zone has an offset
 * change inside a minute (not walkable by minutes). */
static bool brute_force(const oexpr *e, int64_t from, int64_t to, list *out)
{
    bool wild = wildcard(e);
    long prev_off = clock_offset(from);
    int64_t high = from + prev_off - 1; /* the latest reading shown so far */
    for (int64_t u = from; u < to; u += 60) {
        long off = clock_offset(u);
        if (off % 60 != 0)
            return false;
        if (off != prev_off) {
            if (clock_offset(u - 1) != prev_off)
                return false;
            if (off > prev_off && !wild) {
                /* the clock jumped over [u + prev_off, u + off): a fixed
                 * time in there fires now */
                for (int64_t l = u + prev_off; l < u + off; l += 60) {
                    reading r = read_fields(l);
                    bool any = false;
                    if (day_matches(e, &r) && field_matches(e, K_HOUR, &r) &&
                        field_matches(e, K_MIN, &r))
                        for (int s = 0; s < 60 && !any; s++) {
                            r.sec = s;
                            any = field_matches(e, K_SEC, &r);
                        }
                    if (any) {
                        push(out, u);
                        break;
                    }
                }
            }
            prev_off = off;
        }
        fire_minute(e, wild, u, u + off, high, out);
        if (u + off + 59 > high)
            high = u + off + 59;
    }
    return true;
}

/* A start instant: often just before one of the zone's offset changes. */
static int64_t random_start(const chg_tz *tz)
{
    int64_t year_s = 31556952;
    int64_t t = rnd_range(52 * year_s, 180 * year_s); /* ~2022 .. 2150 */
    if (rnd() % 3 == 0)
        t = rnd_range(1 * year_s, 52 * year_s);
    if (rnd() % 8 == 0)
        t = 1325152800 - 86400 * 5; /* Samoa's skipped day */
    if (rnd() % 5 != 0) {
        int64_t tr = chg_tz_next_transition(tz, t);
        if (tr != INT64_MAX && tr < t + 2 * year_s)
            t = tr - rnd_range(0, 36 * 3600);
    }
    return t - t % 60;
}

static int cron_cases, cron_matches, cron_prev_checks, window_checks;

static void one_cron_case(void)
{
    oexpr e;
    random_expr(&e, rnd() % 2 == 0);
    const char *zone = PICK(zones);
    chg_time_error err;
    chg_cron *c = chg_cron_parse(e.text, &err);
    if (!c)
        fail_msg("oracle expression '%s' rejected: %s", e.text, err.message);
    chg_tz *tz = chg_tz_load(zone, &err);
    assert_non_null(tz);
    use_zone(zone);
    int64_t start = random_start(tz);
    int64_t len = rnd() % 10 < 7 ? 2 * 86400 : 12 * 86400;
    int64_t end = start + len;
    int64_t warm = 2 * 86400;
    list bf = {0};
    if (!brute_force(&e, start - warm, end, &bf)) {
        free(bf.v);
        chg_cron_free(c);
        chg_tz_free(tz);
        return;
    }
    /* the real matcher, forwards */
    size_t k = 0;
    while (k < bf.n && bf.v[k] < start)
        k++;
    size_t first = k;
    for (int64_t t = start;;) {
        int64_t m = chg_cron_next(c, tz, t, end);
        int64_t want = k < bf.n ? bf.v[k] : INT64_MAX;
        if (m != want) {
            char a[40] = "none", b[40] = "none", s[40];
            if (m != INT64_MAX)
                chg_time_format_utc(m, a);
            if (want != INT64_MAX)
                chg_time_format_utc(want, b);
            chg_time_format_utc(t, s);
            fail_msg("cron '%s' in %s from %s: chg_cron_next %s, brute force %s", e.text, zone,
                     s, a, b);
        }
        if (m == INT64_MAX)
            break;
        cron_matches++;
        k++;
        t = m + 1;
    }
    /* backwards, from random instants */
    for (int i = 0; i < 8; i++) {
        int64_t x = rnd_range(start, end);
        int64_t want = INT64_MIN;
        for (size_t j = first; j < bf.n && bf.v[j] <= x; j++)
            want = bf.v[j];
        int64_t got = chg_cron_prev(c, tz, x, start);
        if (got != want) {
            char s[40];
            chg_time_format_utc(x, s);
            fail_msg("cron '%s' in %s: chg_cron_prev(%s) = %lld, brute force %lld", e.text, zone,
                     s, (long long)got, (long long)want);
        }
        cron_prev_checks++;
    }
    /* as a window "for d": in at x iff a match in (x - d, x] */
    static const int64_t durations[] = {60, 1800, 3600, 6 * 3600, 86400};
    int64_t d = PICK(durations);
    chg_ts_node n = {.op = CHG_TS_CRON, .zone = zone, .cron = e.text, .duration = d};
    int bad;
    chg_timeset *ts = chg_timeset_build(&n, 1, 0, &err, &bad);
    assert_non_null(ts);
    int64_t x = start;
    for (int i = 0; i < 40; i++) {
        x = rnd() % 2 ? rnd_range(start, end) : x + rnd_range(0, 7200);
        if (x >= end)
            x = start;
        bool want = false;
        for (size_t j = 0; j < bf.n; j++)
            if (bf.v[j] <= x && bf.v[j] > x - d)
                want = true;
        bool got = chg_timeset_contains(ts, NULL, x);
        if (got != want) {
            char s[40];
            chg_time_format_utc(x, s);
            fail_msg("cron window '%s' for %llds in %s at %s: chg %d, brute force %d", e.text,
                     (long long)d, zone, s, got, want);
        }
        window_checks++;
    }
    chg_timeset_free(ts);
    cron_cases++;
    free(bf.v);
    chg_cron_free(c);
    chg_tz_free(tz);
}

static void test_time_oracle_cron_brute_force(void **state)
{
    (void)state;
    for (int i = 0; i < 1200; i++)
        one_cron_case();
    printf("cron oracle: %d expressions x zones x windows, %d matches compared, %d prev "
           "checks, %d window membership checks\n",
           cron_cases, cron_matches, cron_prev_checks, window_checks);
    assert_true(cron_cases > 1000);
    assert_true(cron_matches > 10000);
}

/* The first match >= t in UTC, found by looking at every day from t's date
 * on (up to `days` days), then every hour, minute and second of a
 * matching day. */
static int64_t calendar_next(const oexpr *e, int64_t t, int days)
{
    int64_t day0 = t / 86400;
    for (int64_t day = day0; day < day0 + days; day++) {
        reading r = read_fields(day * 86400);
        if (!day_matches(e, &r))
            continue;
        for (r.hour = 0; r.hour < 24; r.hour++) {
            if (!field_matches(e, K_HOUR, &r))
                continue;
            for (r.min = 0; r.min < 60; r.min++) {
                if (!field_matches(e, K_MIN, &r))
                    continue;
                for (r.sec = 0; r.sec < 60; r.sec++) {
                    int64_t x = day * 86400 + r.hour * 3600 + r.min * 60 + r.sec;
                    if (x >= t && field_matches(e, K_SEC, &r))
                        return x;
                }
            }
        }
    }
    return INT64_MAX;
}

static void test_time_oracle_cron_calendar(void **state)
{
    (void)state;
    chg_time_error err;
    chg_tz *utc = chg_tz_load("UTC", &err);
    int cases = 0, found = 0, readings = 0;
    for (int i = 0; i < 3000; i++) {
        oexpr e;
        random_expr(&e, false);
        chg_cron *c = chg_cron_parse(e.text, &err);
        if (!c)
            fail_msg("oracle expression '%s' rejected: %s", e.text, err.message);
        /* the next match within ~2 years, from a random instant */
        int64_t t = rnd_range(0, 230 * 31556952LL);
        if (rnd() % 3 == 0)
            t = rnd_range(56 * 31556952LL, 70 * 31556952LL);
        int64_t want = calendar_next(&e, t, 800);
        int64_t got = chg_cron_next(c, utc, t, t / 86400 * 86400 + 800 * 86400LL);
        if (got != want)
            fail_msg("cron '%s' from %lld: chg_cron_next %lld, calendar oracle %lld", e.text,
                     (long long)t, (long long)got, (long long)want);
        found += want != INT64_MAX;
        /* and the matcher on single readings, near and at matches */
        for (int j = 0; j < 40; j++) {
            int64_t l = want != INT64_MAX && j % 2 ? want + rnd_range(-3, 3) * (j % 4 ? 60 : 86400)
                                                   : rnd_range(0, 230 * 31556952LL);
            reading r = read_fields(l);
            bool o = day_matches(&e, &r) && field_matches(&e, K_HOUR, &r) &&
                     field_matches(&e, K_MIN, &r) && field_matches(&e, K_SEC, &r);
            if (chg_cron_matches_local(c, l) != o)
                fail_msg("cron '%s' at local %lld: chg_cron_matches_local %d, oracle %d", e.text,
                         (long long)l, !o, o);
            readings++;
        }
        chg_cron_free(c);
        cases++;
    }
    chg_tz_free(utc);
    printf("cron calendar oracle: %d expressions (%d with a match within 800 days), %d "
           "readings\n",
           cases, found, readings);
    assert_true(found > 1000);
}

/* ---- weekly and yearly windows read off the clock ----------------------------------------------- */

/* An instant with no offset change within ±26 hours, where reading the
 * clock and chg's gap/overlap rules cannot disagree. */
static bool quiet(int64_t u)
{
    long o = clock_offset(u);
    for (int64_t d = -26 * 3600; d <= 26 * 3600; d += 1800)
        if (clock_offset(u + d) != o)
            return false;
    return true;
}

static int weekly_checks, yearly_checks;

static void test_time_oracle_weekly_and_yearly(void **state)
{
    (void)state;
    for (int i = 0; i < 300; i++) {
        const char *zone = PICK(zones);
        use_zone(zone);
        uint8_t days = (uint8_t)(rnd() % 128);
        int smin = (int)(rnd() % 96) * 15, emin = (int)(rnd() % 97) * 15;
        chg_ts_node n = {.op = CHG_TS_WEEKLY, .zone = zone, .days = days, .start_min = smin,
                         .end_min = emin};
        chg_time_error err;
        int bad;
        chg_timeset *w = chg_timeset_build(&n, 1, 0, &err, &bad);
        assert_non_null(w);
        /* yearly, with a random pair of days (Feb 29 now and then) */
        int fm = (int)(rnd() % 12) + 1, tm = (int)(rnd() % 12) + 1;
        int fd = (int)(rnd() % (unsigned)month_days(2028, fm)) + 1;
        int td = (int)(rnd() % (unsigned)month_days(2028, tm)) + 1;
        if (rnd() % 6 == 0) {
            fm = 2;
            fd = 29;
        }
        chg_ts_node yn = {.op = CHG_TS_YEARLY, .zone = zone, .from_month = fm, .from_day = fd,
                          .to_month = tm, .to_day = td};
        chg_timeset *y = chg_timeset_build(&yn, 1, 0, &err, &bad);
        assert_non_null(y);
        int64_t u = rnd_range(40 * 31556952LL, 150 * 31556952LL);
        for (int j = 0; j < 60; j++) {
            u = rnd() % 3 ? u + rnd_range(0, 3 * 86400) : rnd_range(0, 200 * 31556952LL);
            if (!quiet(u))
                continue;
            reading r = read_fields(u + clock_offset(u));
            int m = r.hour * 60 + r.min;
            int yday = (r.wday + 6) % 7;
            bool want;
            if (emin > smin)
                want = (days >> r.wday & 1) && m >= smin && m < emin;
            else /* crosses midnight (or 24 hours when equal) */
                want = ((days >> r.wday & 1) && m >= smin) || ((days >> yday & 1) && m < emin);
            bool got = chg_timeset_contains(w, NULL, u);
            if (got != want)
                fail_msg("weekly days=%#x %d..%d in %s at %lld: chg %d, clock %d", days, smin,
                         emin, zone, (long long)u, got, want);
            weekly_checks++;
            /* yearly: is today's date inside the interval that began this
             * year or the one that began last year? */
            int64_t today = (int64_t)(u + clock_offset(u)) / 86400;
            bool ywant = false;
            for (int yy = r.year - 1; yy <= r.year; yy++) {
                if (fm == 2 && fd == 29 && !leap(yy))
                    continue;
                bool cross = tm < fm || (tm == fm && td <= fd);
                int ye = cross ? yy + 1 : yy;
                struct tm a = {.tm_year = yy - 1900, .tm_mon = fm - 1, .tm_mday = fd};
                struct tm b = {.tm_year = ye - 1900, .tm_mon = tm - 1, .tm_mday = td};
                if (tm == 2 && td == 29 && !leap(ye)) {
                    b.tm_mon = 2;
                    b.tm_mday = 1;
                }
                int64_t sday = (int64_t)timegm(&a) / 86400, eday = (int64_t)timegm(&b) / 86400;
                if (today >= sday && today < eday)
                    ywant = true;
            }
            bool ygot = chg_timeset_contains(y, NULL, u);
            if (ygot != ywant)
                fail_msg("yearly %d/%d..%d/%d in %s at %lld: chg %d, clock %d", fm, fd, tm, td,
                         zone, (long long)u, ygot, ywant);
            yearly_checks++;
        }
        chg_timeset_free(w);
        chg_timeset_free(y);
    }
    printf("window oracle: %d weekly and %d yearly membership checks\n", weekly_checks,
           yearly_checks);
    assert_true(weekly_checks > 5000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_oracle_cron_brute_force),
        cmocka_unit_test(test_time_oracle_cron_calendar),
        cmocka_unit_test(test_time_oracle_weekly_and_yearly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
