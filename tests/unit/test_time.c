/*
 * test_time.c — unit tests of the time-set library (include/chg_time.h):
 * time zones (offsets, transitions, footer rules, gaps and folds, bad
 * names and files), cron in its three dialects (every feature, errors with
 * their places, DST behaviour), weekly/daily, yearly and range schedules
 * across DST and year ends, the algebra, flags, the queries, and
 * time formatting. Calendars are in test_time_ical.c; the differential
 * tests against independent oracles in test_time_oracle.c and tz_oracle.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "alloc_fail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chg_time.h"

/* ---- helpers ------------------------------------------------------------------------ */

/* "2026-03-08T07:00:00Z" → instant; the test fails on a bad literal. */
static int64_t U(const char *iso)
{
    int64_t t = 0;
    int rc = chg_time_parse_iso(iso, strlen(iso), &t);
    if (rc != CHG_OK)
        fail_msg("bad instant literal %s", iso);
    return t;
}

/* "2026-03-08T02:30:00" wall clock → local seconds (as if UTC). */
static int64_t LOC(const char *wall)
{
    char b[64];
    snprintf(b, sizeof b, "%sZ", wall);
    return U(b);
}

static const char *F(int64_t t)
{
    static char ring[8][40];
    static int k;
    char *b = ring[k++ & 7];
    if (t == INT64_MAX)
        strcpy(b, "never");
    else if (t == INT64_MIN)
        strcpy(b, "-never");
    else
        chg_time_format_utc(t, b);
    return b;
}

#define assert_instant(actual, expected_iso) assert_string_equal(F(actual), expected_iso)

static chg_tz *load(const char *name)
{
    chg_time_error e;
    chg_tz *tz = chg_tz_load(name, &e);
    if (!tz)
        fail_msg("cannot load %s: %s", name, e.message);
    return tz;
}

static chg_cron *cron(const char *expr)
{
    chg_time_error e;
    chg_cron *c = chg_cron_parse(expr, &e);
    if (!c)
        fail_msg("cron '%s' rejected: %s", expr, e.message);
    return c;
}

static chg_timeset *build1(chg_ts_node n)
{
    chg_time_error e;
    int bad;
    chg_timeset *ts = chg_timeset_build(&n, 1, 0, &e, &bad);
    if (!ts)
        fail_msg("build failed: %s", e.message);
    return ts;
}

typedef struct ivs {
    char text[4096];
    int n;
} ivs;

static int collect(void *ud, int64_t a, int64_t b)
{
    ivs *v = ud;
    size_t l = strlen(v->text);
    snprintf(v->text + l, sizeof v->text - l, "%s[%s,%s)", v->n++ ? " " : "", F(a), F(b));
    return 0;
}

/* The intervals of ts in [a, b) as "[s,e) [s,e)". */
static const char *intervals(const chg_timeset *ts, const chg_ts_env *env, const char *a,
                             const char *b)
{
    static ivs v;
    memset(&v, 0, sizeof v);
    chg_timeset_intervals(ts, env, U(a), U(b), collect, &v);
    return v.text;
}

/* ---- time zones -------------------------------------------------------------------- */

static void test_time_tz_offsets_and_transitions(void **state)
{
    (void)state;
    static const struct {
        const char *zone, *at;
        int32_t off;
    } cases[] = {
        {"America/New_York", "2026-03-08T06:59:59Z", -18000},
        {"America/New_York", "2026-03-08T07:00:00Z", -14400},
        {"America/New_York", "2026-11-01T05:59:59Z", -14400},
        {"America/New_York", "2026-11-01T06:00:00Z", -18000},
        {"Europe/Berlin", "2026-03-29T00:59:59Z", 3600},
        {"Europe/Berlin", "2026-03-29T01:00:00Z", 7200},
        {"Europe/Berlin", "2026-10-25T00:59:59Z", 7200},
        {"Europe/Berlin", "2026-10-25T01:00:00Z", 3600},
        {"Australia/Lord_Howe", "2026-04-04T14:59:59Z", 39600},
        {"Australia/Lord_Howe", "2026-04-04T15:00:00Z", 37800},
        {"Australia/Lord_Howe", "2026-10-03T15:29:59Z", 37800},
        {"Australia/Lord_Howe", "2026-10-03T15:30:00Z", 39600},
        {"Asia/Kathmandu", "1985-06-01T00:00:00Z", 19800},
        {"Asia/Kathmandu", "1985-12-31T18:29:59Z", 19800},
        {"Asia/Kathmandu", "1985-12-31T18:30:00Z", 20700},
        {"Pacific/Apia", "2011-12-30T09:59:59Z", -36000},
        {"Pacific/Apia", "2011-12-30T10:00:00Z", 50400},
        {"Pacific/Apia", "2026-06-01T00:00:00Z", 46800},
        /* past the transition table: the footer's POSIX rule */
        {"America/New_York", "2100-01-15T12:00:00Z", -18000},
        {"America/New_York", "2100-07-01T12:00:00Z", -14400},
        {"Europe/Berlin", "2100-07-01T12:00:00Z", 7200},
        {"Australia/Lord_Howe", "2100-01-15T12:00:00Z", 39600},
        {"Australia/Lord_Howe", "2100-07-01T12:00:00Z", 37800},
        {"Europe/Berlin", "2199-10-27T00:59:59Z", 7200},
        {"Europe/Berlin", "2199-10-27T01:00:00Z", 3600},
        {"America/New_York", "2500-07-01T12:00:00Z", -14400},
        {"Europe/Berlin", "9999-07-01T00:00:00Z", 7200},
        {"UTC", "2026-07-01T00:00:00Z", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        chg_tz *tz = load(cases[i].zone);
        int32_t got = chg_tz_offset(tz, U(cases[i].at));
        if (got != cases[i].off)
            fail_msg("%s at %s: offset %d, expected %d", cases[i].zone, cases[i].at, got,
                     cases[i].off);
        chg_tz_free(tz);
    }
    chg_tz *tz = load("Australia/Lord_Howe");
    assert_instant(chg_tz_next_transition(tz, U("2100-01-01T00:00:00Z")), "2100-04-03T15:00:00Z");
    assert_instant(chg_tz_next_transition(tz, U("2100-04-03T15:00:00Z")), "2100-10-02T15:30:00Z");
    assert_string_equal(chg_tz_name(tz), "Australia/Lord_Howe");
    chg_tz_free(tz);
    tz = load("America/New_York");
    assert_instant(chg_tz_next_transition(tz, U("2199-01-01T00:00:00Z")), "2199-03-10T07:00:00Z");
    assert_instant(chg_tz_next_transition(tz, U("2199-03-10T07:00:00Z")), "2199-11-03T06:00:00Z");
    chg_tz_free(tz);
    tz = load("Asia/Kathmandu");
    assert_instant(chg_tz_next_transition(tz, U("2000-01-01T00:00:00Z")), "never");
    chg_tz_free(tz);
}

static void test_time_tz_local_to_utc_gap_and_fold(void **state)
{
    (void)state;
    static const struct {
        const char *zone, *wall;
        int fold;
        const char *utc;
        bool gap;
    } cases[] = {
        /* spring forward: the gap's end */
        {"America/New_York", "2026-03-08T02:30:00", 0, "2026-03-08T07:00:00Z", true},
        {"America/New_York", "2026-03-08T02:00:00", 1, "2026-03-08T07:00:00Z", true},
        {"America/New_York", "2026-03-08T03:00:00", 0, "2026-03-08T07:00:00Z", false},
        {"America/New_York", "2026-03-08T01:59:59", 0, "2026-03-08T06:59:59Z", false},
        /* fall back: earlier or later */
        {"America/New_York", "2026-11-01T01:30:00", 0, "2026-11-01T05:30:00Z", false},
        {"America/New_York", "2026-11-01T01:30:00", 1, "2026-11-01T06:30:00Z", false},
        {"America/New_York", "2026-11-01T02:00:00", 0, "2026-11-01T07:00:00Z", false},
        {"Europe/Berlin", "2026-03-29T02:59:00", 0, "2026-03-29T01:00:00Z", true},
        {"Europe/Berlin", "2026-10-25T02:30:00", 0, "2026-10-25T00:30:00Z", false},
        {"Europe/Berlin", "2026-10-25T02:30:00", 1, "2026-10-25T01:30:00Z", false},
        /* 30-minute DST */
        {"Australia/Lord_Howe", "2026-10-04T02:15:00", 0, "2026-10-03T15:30:00Z", true},
        {"Australia/Lord_Howe", "2026-04-05T01:45:00", 0, "2026-04-04T14:45:00Z", false},
        {"Australia/Lord_Howe", "2026-04-05T01:45:00", 1, "2026-04-04T15:15:00Z", false},
        /* +05:30 → +05:45: a 15-minute gap at midnight */
        {"Asia/Kathmandu", "1986-01-01T00:10:00", 0, "1985-12-31T18:30:00Z", true},
        {"Asia/Kathmandu", "2026-06-01T09:00:00", 0, "2026-06-01T03:15:00Z", false},
        /* Samoa skipped 2011-12-30 entirely */
        {"Pacific/Apia", "2011-12-30T12:00:00", 0, "2011-12-30T10:00:00Z", true},
        {"Pacific/Apia", "2011-12-29T23:59:59", 0, "2011-12-30T09:59:59Z", false},
        {"Pacific/Apia", "2011-12-31T00:00:00", 0, "2011-12-30T10:00:00Z", false},
        /* footer rule far ahead */
        {"America/New_York", "2150-03-08T02:30:00", 0, "2150-03-08T07:00:00Z", true},
        {"UTC", "2026-03-08T02:30:00", 1, "2026-03-08T02:30:00Z", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        chg_tz *tz = load(cases[i].zone);
        bool gap = !cases[i].gap;
        int64_t got = chg_tz_local_to_utc(tz, LOC(cases[i].wall), cases[i].fold, &gap);
        if (strcmp(F(got), cases[i].utc) != 0 || gap != cases[i].gap)
            fail_msg("%s %s fold %d: %s gap=%d, expected %s gap=%d", cases[i].zone,
                     cases[i].wall, cases[i].fold, F(got), gap, cases[i].utc, cases[i].gap);
        chg_tz_free(tz);
    }
}

static void test_time_tz_rejects_bad_names(void **state)
{
    (void)state;
    static const char *bad[] = {"../../etc/passwd", "/etc/passwd", "Europe/../../etc/passwd",
                                "Europe//Berlin",   ".hidden",     "",
                                "Europe/Berl in",   "Europe/",     "a\\b"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        chg_time_error e = {{0}, 0, 0, 0};
        assert_null(chg_tz_load(bad[i], &e));
        assert_non_null(strstr(e.message, "is not a valid time zone name"));
    }
    chg_time_error e;
    assert_null(chg_tz_load("No/Such_Zone", &e));
    assert_string_equal(e.message, "unknown time zone 'No/Such_Zone'");
    assert_null(chg_tz_load("America", &e)); /* a directory */
    assert_string_equal(e.message, "unknown time zone 'America'");
    /* NULL means UTC, and UTC needs no file */
    chg_tz *tz = chg_tz_load(NULL, &e);
    assert_non_null(tz);
    assert_int_equal(chg_tz_offset(tz, 0), 0);
    chg_tz_free(tz);
}

/* ---- synthetic TZif files ----------------------------------------------------------- */

static char tzdir[256];

static void put32(FILE *f, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    fwrite(b, 1, 4, f);
}

/* A version-2 TZif with no transitions, one type of offset `off` and the
 * given footer (NULL: none). leapcnt makes it claim leap seconds. */
static void write_tzif(const char *name, int32_t off, const char *footer, uint32_t leapcnt)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tzdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (int block = 0; block < 2; block++) {
        fwrite("TZif2", 1, 5, f);
        for (int i = 0; i < 15; i++)
            fputc(0, f);
        uint32_t cnt[6] = {0, 0, leapcnt, 0, 1, 4}; /* isut isstd leap time type char */
        for (int i = 0; i < 6; i++)
            put32(f, cnt[i]);
        put32(f, (uint32_t)off);
        fputc(0, f);
        fputc(0, f);
        fwrite("XXX", 1, 4, f);
        for (uint32_t i = 0; i < leapcnt; i++) {
            if (block == 1)
                put32(f, 0);
            put32(f, 0);
            put32(f, 1);
        }
    }
    if (footer)
        fprintf(f, "\n%s\n", footer);
    fclose(f);
}

static int setup_tzdir(void **state)
{
    (void)state;
    snprintf(tzdir, sizeof tzdir, "/tmp/chg-tztest-%d", (int)getpid());
    mkdir(tzdir, 0700);
    char sub[300];
    snprintf(sub, sizeof sub, "%s/Test", tzdir);
    mkdir(sub, 0700);
    write_tzif("Test/EST5EDT", -18000, "EST5EDT,M3.2.0,M11.1.0", 0);
    write_tzif("Test/LordHowe", 37800, "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", 0);
    write_tzif("Test/Julian", 7200, "AAA-2BBB,J60/0,J300/0", 0);
    write_tzif("Test/ZeroBased", -10800, "CCC3DDD,59/2,299/2", 0);
    write_tzif("Test/AllYearDst", 10800, "XXX-3YYY,0/0,J365/25", 0);
    write_tzif("Test/Fixed", 20700, "<+0545>-5:45", 0);
    write_tzif("Test/NoFooter", 3600, NULL, 0);
    write_tzif("Test/BigTimes", -18000, "EST5EDT,M3.2.0/-1,M11.1.0/26", 0);
    write_tzif("Test/BadFooter", 0, "this is not a rule", 0);
    write_tzif("Test/Leap", 0, "UTC0", 1);
    char path[512];
    snprintf(path, sizeof path, "%s/Test/Garbage", tzdir);
    FILE *f = fopen(path, "wb");
    fputs("hello, world: certainly not a zone file", f);
    fclose(f);
    /* a real zone cut short */
    char *data;
    size_t len;
    assert_int_equal(chg_read_file("/usr/share/zoneinfo/Europe/Berlin", &data, &len), CHG_OK);
    snprintf(path, sizeof path, "%s/Test/Truncated", tzdir);
    f = fopen(path, "wb");
    fwrite(data, 1, 300, f);
    fclose(f);
    chg_free(data);
    setenv("TZDIR", tzdir, 1);
    return 0;
}

static int teardown_tzdir(void **state)
{
    (void)state;
    unsetenv("TZDIR");
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tzdir);
    if (system(cmd) != 0)
        return -1;
    return 0;
}

static void test_time_tz_footer_rules(void **state)
{
    (void)state;
    static const struct {
        const char *zone, *at;
        int32_t off;
    } cases[] = {
        {"Test/EST5EDT", "2026-03-08T06:59:59Z", -18000},
        {"Test/EST5EDT", "2026-03-08T07:00:00Z", -14400},
        {"Test/EST5EDT", "2026-11-01T06:00:00Z", -18000},
        {"Test/EST5EDT", "1850-07-01T00:00:00Z", -14400}, /* no table: the rule everywhere */
        {"Test/EST5EDT", "3000-07-01T00:00:00Z", -14400},
        /* southern hemisphere, DST of 30 minutes */
        {"Test/LordHowe", "2026-01-15T00:00:00Z", 39600},
        {"Test/LordHowe", "2026-07-15T00:00:00Z", 37800},
        {"Test/LordHowe", "2026-10-03T15:29:59Z", 37800},
        {"Test/LordHowe", "2026-10-03T15:30:00Z", 39600},
        /* Jn ignores Feb 29: J60 is March 1 in every year */
        {"Test/Julian", "2028-02-29T21:59:59Z", 7200},
        {"Test/Julian", "2028-02-29T22:00:00Z", 10800},
        {"Test/Julian", "2027-02-28T22:00:00Z", 10800},
        /* n counts Feb 29: day 59 is Feb 29 in leap years */
        {"Test/ZeroBased", "2028-02-29T04:59:59Z", -10800},
        {"Test/ZeroBased", "2028-02-29T05:00:00Z", -7200},
        {"Test/ZeroBased", "2027-03-01T05:00:00Z", -7200},
        /* DST all year: never back to standard time */
        {"Test/AllYearDst", "2026-01-01T00:00:00Z", 14400},
        {"Test/AllYearDst", "2026-12-31T21:30:00Z", 14400},
        {"Test/AllYearDst", "2027-06-30T00:00:00Z", 14400},
        {"Test/Fixed", "2026-06-01T00:00:00Z", 20700},
        {"Test/NoFooter", "2300-06-01T00:00:00Z", 3600},
        /* v3 rule times below 0 and above 24 hours */
        {"Test/BigTimes", "2026-03-08T03:59:59Z", -18000}, /* Mar 7 23:00 EST */
        {"Test/BigTimes", "2026-03-08T04:00:00Z", -14400},
        {"Test/BigTimes", "2026-11-02T05:59:59Z", -14400},
        {"Test/BigTimes", "2026-11-02T06:00:00Z", -18000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        chg_tz *tz = load(cases[i].zone);
        int32_t got = chg_tz_offset(tz, U(cases[i].at));
        if (got != cases[i].off)
            fail_msg("%s at %s: offset %d, expected %d", cases[i].zone, cases[i].at, got,
                     cases[i].off);
        chg_tz_free(tz);
    }
    chg_tz *tz = load("Test/AllYearDst");
    assert_instant(chg_tz_next_transition(tz, U("2026-06-01T00:00:00Z")), "never");
    chg_tz_free(tz);
}

static void test_time_tz_rejects_bad_files(void **state)
{
    (void)state;
    static const struct {
        const char *zone, *message;
    } cases[] = {
        {"Test/Garbage", "time zone 'Test/Garbage': not a TZif file"},
        {"Test/Truncated", "time zone 'Test/Truncated': truncated TZif file"},
        {"Test/BadFooter", "time zone 'Test/BadFooter': unsupported TZ rule in footer"},
        {"Test/Leap", "time zone 'Test/Leap': zones with leap seconds ('right/') are not "
                      "supported"},
        {"Test", "unknown time zone 'Test'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        chg_time_error e;
        assert_null(chg_tz_load(cases[i].zone, &e));
        assert_string_equal(e.message, cases[i].message);
    }
}

/* ---- cron: dialects, features, errors ------------------------------------------------------ */

static void test_time_cron_dialects(void **state)
{
    (void)state;
    static const struct {
        const char *expr;
        chg_cron_dialect d;
    } cases[] = {
        {"0 22 * * 1-5", CHG_CRON_CLASSIC},
        {"0 22 ? * MON-FRI *", CHG_CRON_AWS},
        {"cron(0 22 ? * MON-FRI *)", CHG_CRON_AWS},
        {"  cron( 30 09 ? * * * )  ", CHG_CRON_AWS},
        {"24 30 09 ? * * *", CHG_CRON_SSM},
        {"cron(24 30 09 ? * * *)", CHG_CRON_SSM},
        {"@daily", CHG_CRON_CLASSIC},
        {"0\t22\t*\t*\t*", CHG_CRON_CLASSIC},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        chg_cron *c = cron(cases[i].expr);
        assert_int_equal(chg_cron_get_dialect(c), cases[i].d);
        chg_cron_free(c);
    }
    chg_cron *c = cron("*/15 2 * * *");
    assert_true(chg_cron_is_wildcard(c));
    chg_cron_free(c);
    c = cron("0 2 * * *");
    assert_false(chg_cron_is_wildcard(c));
    chg_cron_free(c);
}

/* Every cron feature in every dialect: the next three matches from a start,
 * in UTC. */
static void test_time_cron_next_table(void **state)
{
    (void)state;
    static const struct {
        const char *expr, *from, *next[3];
    } cases[] = {
        /* classic: lists, ranges, steps, names, 0 and 7 = Sunday */
        {"0 22 * * 1-5", "2026-03-06T23:00:00Z",
         {"2026-03-09T22:00:00Z", "2026-03-10T22:00:00Z", "2026-03-11T22:00:00Z"}},
        {"15,45 9 * * *", "2026-03-01T09:20:00Z",
         {"2026-03-01T09:45:00Z", "2026-03-02T09:15:00Z", "2026-03-02T09:45:00Z"}},
        {"*/20 10-11 * * *", "2026-03-01T10:30:00Z",
         {"2026-03-01T10:40:00Z", "2026-03-01T11:00:00Z", "2026-03-01T11:20:00Z"}},
        {"0 0 * * 0", "2026-03-02T00:00:00Z",
         {"2026-03-08T00:00:00Z", "2026-03-15T00:00:00Z", "2026-03-22T00:00:00Z"}},
        {"0 0 * * 7", "2026-03-02T00:00:00Z",
         {"2026-03-08T00:00:00Z", "2026-03-15T00:00:00Z", "2026-03-22T00:00:00Z"}},
        {"0 0 * * sun", "2026-03-02T00:00:00Z",
         {"2026-03-08T00:00:00Z", "2026-03-15T00:00:00Z", "2026-03-22T00:00:00Z"}},
        {"0 12 1 jan,Jul *", "2026-03-01T00:00:00Z",
         {"2026-07-01T12:00:00Z", "2027-01-01T12:00:00Z", "2027-07-01T12:00:00Z"}},
        /* wrap-around ranges */
        {"0 22-1 * * *", "2026-03-01T12:00:00Z",
         {"2026-03-01T22:00:00Z", "2026-03-01T23:00:00Z", "2026-03-02T00:00:00Z"}},
        {"0 9 * * FRI-MON", "2026-03-03T00:00:00Z",
         {"2026-03-06T09:00:00Z", "2026-03-07T09:00:00Z", "2026-03-08T09:00:00Z"}},
        {"0 0 1 NOV-FEB *", "2026-03-01T00:00:00Z",
         {"2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"}},
        /* classic day rule: both restricted → either; a '*…' field → both */
        {"0 0 13 * 5", "2026-03-01T00:00:00Z",
         {"2026-03-06T00:00:00Z", "2026-03-13T00:00:00Z", "2026-03-20T00:00:00Z"}},
        {"0 0 */2 * 1", "2026-03-01T00:00:00Z",
         {"2026-03-09T00:00:00Z", "2026-03-23T00:00:00Z", "2026-04-13T00:00:00Z"}},
        {"0 0 1 * *", "2026-03-01T00:00:01Z",
         {"2026-04-01T00:00:00Z", "2026-05-01T00:00:00Z", "2026-06-01T00:00:00Z"}},
        {"@hourly", "2026-03-01T00:00:00Z",
         {"2026-03-01T00:00:00Z", "2026-03-01T01:00:00Z", "2026-03-01T02:00:00Z"}},
        {"@weekly", "2026-03-01T00:00:01Z",
         {"2026-03-08T00:00:00Z", "2026-03-15T00:00:00Z", "2026-03-22T00:00:00Z"}},
        /* extensions accepted in classic: L, W, # */
        {"0 0 L * *", "2026-02-01T00:00:00Z",
         {"2026-02-28T00:00:00Z", "2026-03-31T00:00:00Z", "2026-04-30T00:00:00Z"}},
        {"0 0 * * 5#3", "2026-03-01T00:00:00Z",
         {"2026-03-20T00:00:00Z", "2026-04-17T00:00:00Z", "2026-05-15T00:00:00Z"}},
        /* AWS: 1 = Sunday, names, ?, L, W, #, years */
        {"0 22 ? * MON-FRI *", "2026-03-06T23:00:00Z",
         {"2026-03-09T22:00:00Z", "2026-03-10T22:00:00Z", "2026-03-11T22:00:00Z"}},
        {"0 8 ? * 1 *", "2026-03-02T00:00:00Z",
         {"2026-03-08T08:00:00Z", "2026-03-15T08:00:00Z", "2026-03-22T08:00:00Z"}},
        {"0 8 ? * 7 *", "2026-03-02T00:00:00Z",
         {"2026-03-07T08:00:00Z", "2026-03-14T08:00:00Z", "2026-03-21T08:00:00Z"}},
        {"0 2 L * ? *", "2026-01-15T00:00:00Z",
         {"2026-01-31T02:00:00Z", "2026-02-28T02:00:00Z", "2026-03-31T02:00:00Z"}},
        {"0 2 L 2 ? 2027-2029", "2026-01-01T00:00:00Z",
         {"2027-02-28T02:00:00Z", "2028-02-29T02:00:00Z", "2029-02-28T02:00:00Z"}},
        {"0 2 L-2 * ? *", "2026-02-01T00:00:00Z",
         {"2026-02-26T02:00:00Z", "2026-03-29T02:00:00Z", "2026-04-28T02:00:00Z"}},
        {"0 9 LW * ? *", "2026-05-01T00:00:00Z",
         {"2026-05-29T09:00:00Z", "2026-06-30T09:00:00Z", "2026-07-31T09:00:00Z"}},
        /* 15W: Sun 2026-03-15 → Mon 16th; Wed 2026-04-15 itself */
        {"0 9 15W * ? *", "2026-03-01T00:00:00Z",
         {"2026-03-16T09:00:00Z", "2026-04-15T09:00:00Z", "2026-05-15T09:00:00Z"}},
        /* 1W: Sat 2026-08-01 → Mon 3rd (never into July); 31W: Sun 2026-05-31 → Fri 29th */
        {"0 9 1W 8 ? 2026", "2026-01-01T00:00:00Z",
         {"2026-08-03T09:00:00Z", "never", "never"}},
        {"0 9 31W * ? 2026", "2026-04-01T00:00:00Z",
         {"2026-05-29T09:00:00Z", "2026-07-31T09:00:00Z", "2026-08-31T09:00:00Z"}},
        {"15 10 ? * 6L 2026", "2026-10-01T00:00:00Z",
         {"2026-10-30T10:15:00Z", "2026-11-27T10:15:00Z", "2026-12-25T10:15:00Z"}},
        {"15 10 ? * FRIL 2026", "2026-10-01T00:00:00Z",
         {"2026-10-30T10:15:00Z", "2026-11-27T10:15:00Z", "2026-12-25T10:15:00Z"}},
        {"0 9 ? * L 2026", "2026-03-01T00:00:00Z", /* L alone: the last day of the week */
         {"2026-03-07T09:00:00Z", "2026-03-14T09:00:00Z", "2026-03-21T09:00:00Z"}},
        {"0 9 ? * 3#2 *", "2026-03-01T00:00:00Z",
         {"2026-03-10T09:00:00Z", "2026-04-14T09:00:00Z", "2026-05-12T09:00:00Z"}},
        {"0 9 ? * MON#1 *", "2026-03-01T00:00:00Z",
         {"2026-03-02T09:00:00Z", "2026-04-06T09:00:00Z", "2026-05-04T09:00:00Z"}},
        {"0 9 ? * 5#5 *", "2026-01-01T00:00:00Z", /* a 5th Thursday: not every month */
         {"2026-01-29T09:00:00Z", "2026-04-30T09:00:00Z", "2026-07-30T09:00:00Z"}},
        {"0 9 ? * SAT-MON *", "2026-03-04T00:00:00Z",
         {"2026-03-07T09:00:00Z", "2026-03-08T09:00:00Z", "2026-03-09T09:00:00Z"}},
        {"0 0 1 1 ? */50", "2026-01-01T00:00:01Z",
         {"2070-01-01T00:00:00Z", "2120-01-01T00:00:00Z", "2170-01-01T00:00:00Z"}},
        {"0 0 1 1 ? 2199", "2026-01-01T00:00:00Z", {"2199-01-01T00:00:00Z", "never", "never"}},
        {"0/30 9 1 * ? *", "2026-03-01T00:00:00Z",
         {"2026-03-01T09:00:00Z", "2026-03-01T09:30:00Z", "2026-04-01T09:00:00Z"}},
        {"0 0 30 2 ? *", "2026-01-01T00:00:00Z", {"never", "never", "never"}},
        /* SSM: leading seconds */
        {"24 30 09 ? * * *", "2026-03-01T00:00:00Z",
         {"2026-03-01T09:30:24Z", "2026-03-02T09:30:24Z", "2026-03-03T09:30:24Z"}},
        {"*/20 0 12 ? * SUN *", "2026-03-01T12:00:30Z",
         {"2026-03-01T12:00:40Z", "2026-03-08T12:00:00Z", "2026-03-08T12:00:20Z"}},
        {"0 0 0 L * ? *", "2026-02-27T00:00:00Z",
         {"2026-02-28T00:00:00Z", "2026-03-31T00:00:00Z", "2026-04-30T00:00:00Z"}},
        {"0 0 9 15W * ? *", "2026-03-01T00:00:00Z",
         {"2026-03-16T09:00:00Z", "2026-04-15T09:00:00Z", "2026-05-15T09:00:00Z"}},
        {"0 0 9 LW * ? *", "2026-05-01T00:00:00Z",
         {"2026-05-29T09:00:00Z", "2026-06-30T09:00:00Z", "2026-07-31T09:00:00Z"}},
        {"30 15 10 ? * 6L 2026", "2026-10-01T00:00:00Z",
         {"2026-10-30T10:15:30Z", "2026-11-27T10:15:30Z", "2026-12-25T10:15:30Z"}},
        {"0 0 9 ? * MON#1 2026-2027", "2026-11-15T00:00:00Z",
         {"2026-12-07T09:00:00Z", "2027-01-04T09:00:00Z", "2027-02-01T09:00:00Z"}},
        {"0 0/30 9 1 JAN,JUL ? */2", "2026-01-01T00:00:00Z", /* 2026 is 1970 + 56 */
         {"2026-01-01T09:00:00Z", "2026-01-01T09:30:00Z", "2026-07-01T09:00:00Z"}},
        {"0 0 22 ? * SAT-MON *", "2026-03-04T00:00:00Z",
         {"2026-03-07T22:00:00Z", "2026-03-08T22:00:00Z", "2026-03-09T22:00:00Z"}},
        /* classic with W, LW, L-n, xL, L (Saturday) */
        {"0 9 15W * *", "2026-03-01T00:00:00Z",
         {"2026-03-16T09:00:00Z", "2026-04-15T09:00:00Z", "2026-05-15T09:00:00Z"}},
        {"0 9 LW * *", "2026-05-01T00:00:00Z",
         {"2026-05-29T09:00:00Z", "2026-06-30T09:00:00Z", "2026-07-31T09:00:00Z"}},
        {"0 9 L-1 * *", "2026-02-01T00:00:00Z",
         {"2026-02-27T09:00:00Z", "2026-03-30T09:00:00Z", "2026-04-29T09:00:00Z"}},
        {"15 10 * * 5L", "2026-10-01T00:00:00Z",
         {"2026-10-30T10:15:00Z", "2026-11-27T10:15:00Z", "2026-12-25T10:15:00Z"}},
        {"0 9 * * L", "2026-03-01T00:00:00Z",
         {"2026-03-07T09:00:00Z", "2026-03-14T09:00:00Z", "2026-03-21T09:00:00Z"}},
        {"0 9 * 2 1#5", "2026-01-01T00:00:00Z", /* a fifth Monday in February */
         {"2044-02-29T09:00:00Z", "2072-02-29T09:00:00Z", "2112-02-29T09:00:00Z"}},
    };
    chg_tz *utc = load("UTC");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        chg_cron *c = cron(cases[i].expr);
        int64_t t = U(cases[i].from);
        for (int k = 0; k < 3; k++) {
            int64_t m = chg_cron_next(c, utc, t, t + 200LL * 366 * 86400);
            if (strcmp(F(m), cases[i].next[k]) != 0)
                fail_msg("'%s' from %s: match %d is %s, expected %s", cases[i].expr,
                         cases[i].from, k + 1, F(m), cases[i].next[k]);
            if (m != INT64_MAX) {
                /* the matcher agrees on the wall-clock time, and prev finds it back */
                assert_true(chg_cron_matches_local(c, m));
                assert_int_equal(chg_cron_prev(c, utc, m, m - 86400), m);
                assert_true(chg_cron_prev(c, utc, m - 1, m - 86400) < m);
                t = m + 1;
            }
        }
        chg_cron_free(c);
    }
    chg_tz_free(utc);
}

static void test_time_cron_prev_table(void **state)
{
    (void)state;
    static const struct {
        const char *expr, *from, *prev[3];
    } cases[] = {
        {"0 22 ? * MON-FRI *", "2026-03-09T21:59:59Z",
         {"2026-03-06T22:00:00Z", "2026-03-05T22:00:00Z", "2026-03-04T22:00:00Z"}},
        {"0 2 L * ? *", "2026-03-15T00:00:00Z",
         {"2026-02-28T02:00:00Z", "2026-01-31T02:00:00Z", "2025-12-31T02:00:00Z"}},
        {"*/20 10-11 * * *", "2026-03-01T10:30:00Z",
         {"2026-03-01T10:20:00Z", "2026-03-01T10:00:00Z", "2026-02-28T11:40:00Z"}},
        {"0 0 1 1 ? 1970-1972", "2026-01-01T00:00:00Z",
         {"1972-01-01T00:00:00Z", "1971-01-01T00:00:00Z", "1970-01-01T00:00:00Z"}},
        {"0 9 ? * 3#2 *", "2026-03-10T08:59:59Z",
         {"2026-02-10T09:00:00Z", "2026-01-13T09:00:00Z", "2025-12-09T09:00:00Z"}},
        {"59 59 23 31 12 ? *", "2026-06-01T00:00:00Z",
         {"2025-12-31T23:59:59Z", "2024-12-31T23:59:59Z", "2023-12-31T23:59:59Z"}},
    };
    chg_tz *utc = load("UTC");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        chg_cron *c = cron(cases[i].expr);
        int64_t t = U(cases[i].from);
        for (int k = 0; k < 3; k++) {
            int64_t m = chg_cron_prev(c, utc, t, t - 100LL * 366 * 86400);
            if (strcmp(F(m), cases[i].prev[k]) != 0)
                fail_msg("'%s' before %s: match %d is %s, expected %s", cases[i].expr,
                         cases[i].from, k + 1, F(m), cases[i].prev[k]);
            t = m - 1;
        }
        chg_cron_free(c);
    }
    chg_tz_free(utc);
}

/* Errors point at the offending part of the string. */
static void test_time_cron_errors(void **state)
{
    (void)state;
    static const struct {
        const char *expr;
        size_t offset, length;
        const char *message;
    } cases[] = {
        {"0 0 ? * 8 *", 8, 1, "day-of-week '8' is out of range 1-7 (1 = Sunday)"},
        {"0 0 ? * 0 *", 8, 1, "day-of-week '0' is out of range 1-7 (1 = Sunday)"},
        {"0 0 * * 8", 8, 1, "day-of-week '8' is out of range 0-7 (0 and 7 = Sunday)"},
        {"60 * * * *", 0, 2, "minute '60' is out of range 0-59"},
        {"0 24 * * *", 2, 2, "hour '24' is out of range 0-23"},
        {"0 0 32 * ? *", 4, 2, "day-of-month '32' is out of range 1-31"},
        {"0 0 0 * ? *", 4, 1, "day-of-month '0' is out of range 1-31"},
        {"0 0 1 13 ? *", 6, 2, "month '13' is out of range 1-12"},
        {"0 0 1 FOO ? *", 6, 3, "month 'FOO' is not a month (JAN-DEC or 1-12)"},
        {"0 0 ? * FUN *", 8, 3,
         "day-of-week 'FUN' is not a weekday (SUN-SAT, or 1-7 with 1 = Sunday)"},
        {"0 0 * * FUN", 8, 3,
         "day-of-week 'FUN' is not a weekday (SUN-SAT, or 0-7 with 0 and 7 = Sunday)"},
        {"0 0 1 1 ? 1969", 10, 4, "year '1969' is out of range 1970-2199"},
        {"0 0 1 1 ? 2200", 10, 4, "year '2200' is out of range 1970-2199"},
        {"61 0 0 1 1 ? *", 0, 2, "second '61' is out of range 0-59"},
        {"*/0 * * * *", 2, 1, "step '0' must be at least 1"},
        {"5/ * * * *", 1, 1, "'/' needs a step number after it"},
        {"0 0 20-10 * ? *", 4, 5, "day-of-month range '20-10' is reversed"},
        {"0 0 1 1 ? 2030-2027", 10, 9, "year range '2030-2027' is reversed"},
        {"0 0 1,,2 * ? *", 6, 1, "empty item in the day-of-month list"},
        {"0 0 1, * ? *", 5, 1, "empty item in the day-of-month list"},
        {"0 0 ? * ? *", 8, 1, "day-of-month and day-of-week cannot both be '?'"},
        {"0 0 * * * *", 8, 1,
         "one of day-of-month and day-of-week must be '?' in AWS cron (e.g. \"0 10 * * ? *\" "
         "or \"0 10 ? * MON-FRI *\")"},
        {"0 0 ? * *", 4, 1, "classic 5-field cron has no '?'; use '*' (AWS cron has 6 fields, the last the year)"},
        {"0 ? * * ? *", 2, 1, "'?' is only allowed in day-of-month or day-of-week"},
        {"0 0 ? * 3#6 *", 9, 2, "'3#6': '#' needs a week number 1-5 (\"3#2\")"},
        {"0 0 ? * 9#1 *", 8, 1, "day-of-week '9' is out of range 1-7 (1 = Sunday)"},
        {"0 0 32W * ? *", 4, 3,
         "'32W': 'W' needs a day of the month 1-31 before it (\"15W\")"},
        {"0 0 L-31 * ? *", 4, 4, "'L-31': 'L-n' needs a day offset 0-30"},
        {"0 0 * *", 0, 7,
         "a cron expression has 5 fields (classic), 6 (AWS: minute hour day-of-month month "
         "day-of-week year) or 7 (SSM: seconds first); found 4"},
        {"cron(0 0 * * ? *", 16, 0, "missing ')' to close 'cron('"},
        {"0 0 ? * MON- *", 11, 1, "missing day-of-week value after '-'"},
        {"0 0 ? * #2 *", 8, 1, "missing day-of-week value before '#'"},
        {"rate(5 minutes)", 0, 15, "rate() and at() schedules are not cron expressions"},
        {"@fortnightly", 0, 12,
         "unknown cron macro '@fortnightly' (@yearly, @monthly, @weekly, @daily, @hourly)"},
        {"cron(0 0 ? * 8 *)", 13, 1, "day-of-week '8' is out of range 1-7 (1 = Sunday)"},
        {"0 x * * *", 2, 1, "hour 'x' is not a number (0-23)"},
        {"0 1x * * *", 2, 2, "hour '1x' is not a number"},
        {"0 0 1?2 * ? *", 4, 3, "'?' must be the whole day-of-month field"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        chg_time_error e = {{0}, 99, 99, 0};
        chg_cron *c = chg_cron_parse(cases[i].expr, &e);
        if (c) {
            chg_cron_free(c);
            fail_msg("'%s' accepted", cases[i].expr);
        }
        if (strcmp(e.message, cases[i].message) != 0 || e.offset != cases[i].offset ||
            e.length != cases[i].length)
            fail_msg("'%s': got %zu+%zu \"%s\", expected %zu+%zu \"%s\"", cases[i].expr,
                     e.offset, e.length, e.message, cases[i].offset, cases[i].length,
                     cases[i].message);
    }
}

/* ---- cron and DST --------------------------------------------------------------------- */

/* The matches of expr in zone over [a, b) as text. */
static const char *matches(const char *expr, const char *zone, const char *a, const char *b)
{
    static char out[2048];
    out[0] = 0;
    chg_cron *c = cron(expr);
    chg_tz *tz = load(zone);
    int64_t t = U(a), end = U(b);
    for (int n = 0; n < 40; n++) {
        int64_t m = chg_cron_next(c, tz, t, end);
        if (m == INT64_MAX)
            break;
        size_t l = strlen(out);
        snprintf(out + l, sizeof out - l, "%s%s", l ? " " : "", F(m));
        t = m + 1;
    }
    /* prev walks the same matches backwards */
    char back[2048] = "";
    t = end - 1;
    for (int n = 0; n < 40; n++) {
        int64_t m = chg_cron_prev(c, tz, t, U(a));
        if (m == INT64_MIN)
            break;
        char tmp[2048];
        snprintf(tmp, sizeof tmp, "%s%s%s", F(m), back[0] ? " " : "", back);
        strcpy(back, tmp);
        t = m - 1;
    }
    if (strcmp(back, out) != 0)
        fail_msg("'%s' in %s: prev gives %s but next gives %s", expr, zone, back, out);
    chg_cron_free(c);
    chg_tz_free(tz);
    return out;
}

static void test_time_cron_dst_new_york(void **state)
{
    (void)state;
    /* fixed time in the spring gap: when the gap ends (03:00 EDT) */
    assert_string_equal(matches("30 2 * * *", "America/New_York", "2026-03-07T00:00:00Z",
                                "2026-03-10T00:00:00Z"),
                        "2026-03-07T07:30:00Z 2026-03-08T07:00:00Z 2026-03-09T06:30:00Z");
    /* a wildcard schedule follows the wall clock: nothing in the gap */
    assert_string_equal(matches("*/30 2 * * *", "America/New_York", "2026-03-08T06:00:00Z",
                                "2026-03-09T07:00:00Z"),
                        "2026-03-09T06:00:00Z 2026-03-09T06:30:00Z");
    /* fixed time in the repeated hour: once, at the first 01:30 */
    assert_string_equal(matches("30 1 * * *", "America/New_York", "2026-10-31T00:00:00Z",
                                "2026-11-02T12:00:00Z"),
                        "2026-10-31T05:30:00Z 2026-11-01T05:30:00Z 2026-11-02T06:30:00Z");
    /* wildcard: both passes of the repeated hour */
    assert_string_equal(
        matches("*/30 1 * * *", "America/New_York", "2026-11-01T04:00:00Z",
                "2026-11-01T08:00:00Z"),
        "2026-11-01T05:00:00Z 2026-11-01T05:30:00Z 2026-11-01T06:00:00Z 2026-11-01T06:30:00Z");
    assert_string_equal(matches("0 * * * *", "America/New_York", "2026-11-01T04:30:00Z",
                                "2026-11-01T07:30:00Z"),
                        "2026-11-01T05:00:00Z 2026-11-01T06:00:00Z 2026-11-01T07:00:00Z");
    /* the §2 window: 22:00 on weeknights, EST and EDT */
    assert_string_equal(matches("0 22 ? * MON-FRI *", "America/New_York", "2026-03-06T00:00:00Z",
                                "2026-03-11T00:00:00Z"),
                        "2026-03-06T03:00:00Z 2026-03-07T03:00:00Z 2026-03-10T02:00:00Z");
}

static void test_time_cron_dst_europe_berlin(void **state)
{
    (void)state;
    assert_string_equal(matches("0 2 ? * SUN *", "Europe/Berlin", "2026-03-21T00:00:00Z",
                                "2026-04-06T00:00:00Z"),
                        "2026-03-22T01:00:00Z 2026-03-29T01:00:00Z 2026-04-05T00:00:00Z");
    assert_string_equal(matches("30 2 * * ? *", "Europe/Berlin", "2026-10-24T00:00:00Z",
                                "2026-10-26T12:00:00Z"),
                        "2026-10-24T00:30:00Z 2026-10-25T00:30:00Z 2026-10-26T01:30:00Z");
    /* SSM with seconds, wildcard seconds: both passes */
    assert_string_equal(matches("*/30 59 2 25 10 ? 2026", "Europe/Berlin",
                                "2026-10-25T00:00:00Z", "2026-10-25T03:00:00Z"),
                        "2026-10-25T00:59:00Z 2026-10-25T00:59:30Z 2026-10-25T01:59:00Z "
                        "2026-10-25T01:59:30Z");
}

static void test_time_cron_dst_lord_howe(void **state)
{
    (void)state;
    /* 02:00 → 02:30 on 2026-10-04: a fixed 02:15 happens at 02:30 (+11) */
    assert_string_equal(matches("15 2 * * *", "Australia/Lord_Howe", "2026-10-02T00:00:00Z",
                                "2026-10-05T00:00:00Z"),
                        "2026-10-02T15:45:00Z 2026-10-03T15:30:00Z 2026-10-04T15:15:00Z");
    /* 02:00 → 01:30 on 2026-04-05: 01:45 happens once */
    assert_string_equal(matches("45 1 * * *", "Australia/Lord_Howe", "2026-04-03T00:00:00Z",
                                "2026-04-06T00:00:00Z"),
                        "2026-04-03T14:45:00Z 2026-04-04T14:45:00Z 2026-04-05T15:15:00Z");
    assert_string_equal(matches("*/15 1 5 4 *", "Australia/Lord_Howe", "2026-04-04T14:00:00Z",
                                "2026-04-04T16:00:00Z"),
                        "2026-04-04T14:00:00Z 2026-04-04T14:15:00Z 2026-04-04T14:30:00Z "
                        "2026-04-04T14:45:00Z 2026-04-04T15:00:00Z 2026-04-04T15:15:00Z");
}

static void test_time_cron_dst_kathmandu(void **state)
{
    (void)state;
    assert_string_equal(matches("0 9 * * ? *", "Asia/Kathmandu", "2026-06-01T00:00:00Z",
                                "2026-06-03T00:00:00Z"),
                        "2026-06-01T03:15:00Z 2026-06-02T03:15:00Z");
    /* 1986-01-01 00:00 → 00:15: 00:05 happens at 00:15 */
    assert_string_equal(matches("5 0 * * *", "Asia/Kathmandu", "1985-12-30T00:00:00Z",
                                "1986-01-02T00:00:00Z"),
                        "1985-12-30T18:35:00Z 1985-12-31T18:30:00Z 1986-01-01T18:20:00Z");
}

static void test_time_cron_dst_apia(void **state)
{
    (void)state;
    /* 2011-12-30 did not exist in Samoa: its 10:00 happens when the day
     * that replaced it begins (Dec 31 00:00 +14) */
    assert_string_equal(matches("0 10 * * *", "Pacific/Apia", "2011-12-29T00:00:00Z",
                                "2011-12-31T00:00:00Z"),
                        "2011-12-29T20:00:00Z 2011-12-30T10:00:00Z 2011-12-30T20:00:00Z");
    /* wildcard: no hour of the missing day */
    assert_string_equal(matches("0 * 30 12 *", "Pacific/Apia", "2011-12-29T00:00:00Z",
                                "2012-01-02T00:00:00Z"),
                        "");
    assert_string_equal(matches("0 12 ? * FRI 2011", "Pacific/Apia", "2011-12-20T00:00:00Z",
                                "2012-01-01T00:00:00Z"),
                        "2011-12-23T22:00:00Z 2011-12-30T10:00:00Z");
}

/* ---- weekly, daily, yearly, range ------------------------------------------------------- */

static void test_time_weekly_windows_across_dst(void **state)
{
    (void)state;
    /* §2: weekly sun 02:00..06:00 in "Europe/Berlin" */
    chg_timeset *w = build1((chg_ts_node){.op = CHG_TS_WEEKLY, .zone = "Europe/Berlin",
                                          .days = 1, .start_min = 120, .end_min = 360});
    assert_string_equal(intervals(w, NULL, "2026-03-20T00:00:00Z", "2026-04-06T00:00:00Z"),
                        "[2026-03-22T01:00:00Z,2026-03-22T05:00:00Z) "
                        "[2026-03-29T01:00:00Z,2026-03-29T04:00:00Z) "
                        "[2026-04-05T00:00:00Z,2026-04-05T04:00:00Z)");
    assert_string_equal(intervals(w, NULL, "2026-10-20T00:00:00Z", "2026-10-26T00:00:00Z"),
                        "[2026-10-25T00:00:00Z,2026-10-25T05:00:00Z)");
    chg_timeset_free(w);
    /* crossing midnight, Friday night into Saturday, in New York */
    w = build1((chg_ts_node){.op = CHG_TS_WEEKLY, .zone = "America/New_York", .days = 1 << 5,
                             .start_min = 22 * 60, .end_min = 2 * 60});
    assert_string_equal(intervals(w, NULL, "2026-10-29T00:00:00Z", "2026-11-08T00:00:00Z"),
                        "[2026-10-31T02:00:00Z,2026-10-31T06:00:00Z) "
                        "[2026-11-07T03:00:00Z,2026-11-07T07:00:00Z)");
    assert_true(chg_timeset_contains(w, NULL, U("2026-10-31T05:59:59Z")));
    assert_false(chg_timeset_contains(w, NULL, U("2026-10-31T06:00:00Z")));
    chg_timeset_free(w);
    /* a window ending at 24:00 */
    w = build1((chg_ts_node){.op = CHG_TS_WEEKLY, .zone = "UTC", .days = 1 << 1,
                             .start_min = 20 * 60, .end_min = 1440});
    assert_string_equal(intervals(w, NULL, "2026-03-01T00:00:00Z", "2026-03-10T00:00:00Z"),
                        "[2026-03-02T20:00:00Z,2026-03-03T00:00:00Z) "
                        "[2026-03-09T20:00:00Z,2026-03-10T00:00:00Z)");
    chg_timeset_free(w);
    /* daily 09:00..17:00 in Kathmandu (+05:45) */
    w = build1((chg_ts_node){.op = CHG_TS_WEEKLY, .zone = "Asia/Kathmandu", .days = 0x7f,
                             .start_min = 9 * 60, .end_min = 17 * 60});
    assert_string_equal(intervals(w, NULL, "2026-06-01T00:00:00Z", "2026-06-03T00:00:00Z"),
                        "[2026-06-01T03:15:00Z,2026-06-01T11:15:00Z) "
                        "[2026-06-02T03:15:00Z,2026-06-02T11:15:00Z)");
    chg_timeset_free(w);
    /* daily 00:00..00:00 is all the time */
    w = build1((chg_ts_node){.op = CHG_TS_WEEKLY, .zone = "Europe/Berlin", .days = 0x7f,
                             .start_min = 0, .end_min = 0});
    assert_string_equal(intervals(w, NULL, "2026-03-01T00:00:00Z", "2026-12-01T00:00:00Z"),
                        "[2026-03-01T00:00:00Z,2026-12-01T00:00:00Z)");
    assert_int_equal(chg_timeset_next_change(w, NULL, U("2026-03-01T00:00:00Z"), 366 * 86400LL),
                     INT64_MAX);
    chg_timeset_free(w);
    /* Samoa's missing Friday: no window that week */
    w = build1((chg_ts_node){.op = CHG_TS_WEEKLY, .zone = "Pacific/Apia", .days = 1 << 5,
                             .start_min = 9 * 60, .end_min = 17 * 60});
    assert_string_equal(intervals(w, NULL, "2011-12-20T00:00:00Z", "2012-01-08T00:00:00Z"),
                        "[2011-12-23T19:00:00Z,2011-12-24T03:00:00Z) "
                        "[2012-01-05T19:00:00Z,2012-01-06T03:00:00Z)");
    chg_timeset_free(w);
    /* no days: never */
    w = build1((chg_ts_node){.op = CHG_TS_WEEKLY, .zone = "UTC", .days = 0, .start_min = 0,
                             .end_min = 60});
    assert_string_equal(intervals(w, NULL, "2026-03-01T00:00:00Z", "2027-03-01T00:00:00Z"), "");
    chg_timeset_free(w);
}

static void test_time_cron_windows(void **state)
{
    (void)state;
    /* §2: cron "0 22 ? * MON-FRI *" for 6h in "America/New_York" */
    chg_timeset *w = build1((chg_ts_node){.op = CHG_TS_CRON, .zone = "America/New_York",
                                          .cron = "0 22 ? * MON-FRI *", .duration = 6 * 3600});
    assert_string_equal(intervals(w, NULL, "2026-03-05T12:00:00Z", "2026-03-10T12:00:00Z"),
                        "[2026-03-06T03:00:00Z,2026-03-06T09:00:00Z) "
                        "[2026-03-07T03:00:00Z,2026-03-07T09:00:00Z) "
                        "[2026-03-10T02:00:00Z,2026-03-10T08:00:00Z)");
    chg_timeset_free(w);
    /* overlapping matches merge: every hour for 90 minutes is always open */
    w = build1((chg_ts_node){.op = CHG_TS_CRON, .zone = "UTC", .cron = "0 * * * *",
                             .duration = 5400});
    assert_string_equal(intervals(w, NULL, "2026-03-05T12:00:00Z", "2026-04-05T12:00:00Z"),
                        "[2026-03-05T12:00:00Z,2026-04-05T12:00:00Z)");
    chg_timeset_free(w);
    /* touching matches merge too; a gap of one second does not */
    w = build1((chg_ts_node){.op = CHG_TS_CRON, .zone = "UTC", .cron = "0 8,9 * * *",
                             .duration = 3600});
    assert_string_equal(intervals(w, NULL, "2026-03-05T00:00:00Z", "2026-03-06T00:00:00Z"),
                        "[2026-03-05T08:00:00Z,2026-03-05T10:00:00Z)");
    chg_timeset_free(w);
    w = build1((chg_ts_node){.op = CHG_TS_CRON, .zone = "UTC", .cron = "0 8,9 * * *",
                             .duration = 3599});
    assert_string_equal(intervals(w, NULL, "2026-03-05T00:00:00Z", "2026-03-06T00:00:00Z"),
                        "[2026-03-05T08:00:00Z,2026-03-05T08:59:59Z) "
                        "[2026-03-05T09:00:00Z,2026-03-05T09:59:59Z)");
    chg_timeset_free(w);
    /* common.chg: month-end close, cron "0 0 L * ? *" for 1d */
    w = build1((chg_ts_node){.op = CHG_TS_CRON, .zone = "UTC", .cron = "0 0 L * ? *",
                             .duration = 86400});
    assert_string_equal(intervals(w, NULL, "2028-02-01T00:00:00Z", "2028-04-01T00:00:00Z"),
                        "[2028-02-29T00:00:00Z,2028-03-01T00:00:00Z) "
                        "[2028-03-31T00:00:00Z,2028-04-01T00:00:00Z)");
    chg_timeset_free(w);
    /* a window whose start is in the spring gap opens as the gap ends, for
     * its full elapsed duration */
    w = build1((chg_ts_node){.op = CHG_TS_CRON, .zone = "America/New_York", .cron = "30 2 * * *",
                             .duration = 3600});
    assert_string_equal(intervals(w, NULL, "2026-03-08T00:00:00Z", "2026-03-09T00:00:00Z"),
                        "[2026-03-08T07:00:00Z,2026-03-08T08:00:00Z)");
    chg_timeset_free(w);
}

static void test_time_yearly_ranges(void **state)
{
    (void)state;
    /* §2: yearly dec 20 .. jan 03 in "UTC", across year ends */
    chg_timeset *y = build1((chg_ts_node){.op = CHG_TS_YEARLY, .zone = "UTC", .from_month = 12,
                                          .from_day = 20, .to_month = 1, .to_day = 3});
    assert_string_equal(intervals(y, NULL, "2025-06-01T00:00:00Z", "2027-06-01T00:00:00Z"),
                        "[2025-12-20T00:00:00Z,2026-01-03T00:00:00Z) "
                        "[2026-12-20T00:00:00Z,2027-01-03T00:00:00Z)");
    assert_true(chg_timeset_contains(y, NULL, U("2026-12-31T23:59:59Z")));
    assert_true(chg_timeset_contains(y, NULL, U("2027-01-01T00:00:00Z")));
    assert_false(chg_timeset_contains(y, NULL, U("2027-01-03T00:00:00Z")));
    assert_false(chg_timeset_contains(y, NULL, U("2026-12-19T23:59:59Z")));
    chg_timeset_free(y);
    /* starting on Feb 29: leap years only (2100 is not one) */
    y = build1((chg_ts_node){.op = CHG_TS_YEARLY, .zone = "UTC", .from_month = 2, .from_day = 29,
                             .to_month = 3, .to_day = 1});
    assert_string_equal(intervals(y, NULL, "2026-01-01T00:00:00Z", "2033-01-01T00:00:00Z"),
                        "[2028-02-29T00:00:00Z,2028-03-01T00:00:00Z) "
                        "[2032-02-29T00:00:00Z,2032-03-01T00:00:00Z)");
    assert_string_equal(intervals(y, NULL, "2097-01-01T00:00:00Z", "2105-01-01T00:00:00Z"),
                        "[2104-02-29T00:00:00Z,2104-03-01T00:00:00Z)");
    assert_instant(chg_timeset_next_change(y, NULL, U("2097-01-01T00:00:00Z"), 10 * 366 * 86400LL),
                   "2104-02-29T00:00:00Z");
    chg_timeset_free(y);
    /* ending on Feb 29: in other years it ends as Feb 28 ends */
    y = build1((chg_ts_node){.op = CHG_TS_YEARLY, .zone = "UTC", .from_month = 2, .from_day = 20,
                             .to_month = 2, .to_day = 29});
    assert_string_equal(intervals(y, NULL, "2027-01-01T00:00:00Z", "2029-01-01T00:00:00Z"),
                        "[2027-02-20T00:00:00Z,2027-03-01T00:00:00Z) "
                        "[2028-02-20T00:00:00Z,2028-02-29T00:00:00Z)");
    chg_timeset_free(y);
    /* local midnights in a zone, and all year when from == to */
    y = build1((chg_ts_node){.op = CHG_TS_YEARLY, .zone = "America/New_York", .from_month = 7,
                             .from_day = 1, .to_month = 7, .to_day = 5});
    assert_string_equal(intervals(y, NULL, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
                        "[2026-07-01T04:00:00Z,2026-07-05T04:00:00Z)");
    chg_timeset_free(y);
    y = build1((chg_ts_node){.op = CHG_TS_YEARLY, .zone = "UTC", .from_month = 1, .from_day = 1,
                             .to_month = 1, .to_day = 1});
    assert_string_equal(intervals(y, NULL, "2026-05-01T00:00:00Z", "2029-01-01T00:00:00Z"),
                        "[2026-05-01T00:00:00Z,2029-01-01T00:00:00Z)");
    chg_timeset_free(y);
    /* Samoa: dec 30 .. dec 31 was empty in 2011 */
    y = build1((chg_ts_node){.op = CHG_TS_YEARLY, .zone = "Pacific/Apia", .from_month = 12,
                             .from_day = 30, .to_month = 12, .to_day = 31});
    assert_string_equal(intervals(y, NULL, "2010-06-01T00:00:00Z", "2012-06-01T00:00:00Z"),
                        "[2010-12-30T10:00:00Z,2010-12-31T10:00:00Z)");
    chg_timeset_free(y);
}

static void test_time_ranges(void **state)
{
    (void)state;
    /* §2: black_friday = 2026-11-25T00:00 .. 2026-12-01T00:00 in "UTC" */
    chg_timeset *r = build1((chg_ts_node){.op = CHG_TS_RANGE, .from = U("2026-11-25T00:00:00Z"),
                                          .to = U("2026-12-01T00:00:00Z")});
    assert_false(chg_timeset_contains(r, NULL, U("2026-11-24T23:59:59Z")));
    assert_true(chg_timeset_contains(r, NULL, U("2026-11-25T00:00:00Z")));
    assert_false(chg_timeset_contains(r, NULL, U("2026-12-01T00:00:00Z")));
    assert_instant(chg_timeset_next_change(r, NULL, U("2026-01-01T00:00:00Z"), 366 * 86400LL),
                   "2026-11-25T00:00:00Z");
    assert_instant(chg_timeset_next_change(r, NULL, U("2026-11-26T00:00:00Z"), 366 * 86400LL),
                   "2026-12-01T00:00:00Z");
    assert_instant(chg_timeset_next_change(r, NULL, U("2026-01-01T00:00:00Z"), 30 * 86400LL),
                   "never");
    chg_timeset_free(r);
    /* local endpoints: a start in the gap opens when the gap ends */
    r = build1((chg_ts_node){.op = CHG_TS_RANGE, .zone = "America/New_York",
                             .from = LOC("2026-03-08T02:30:00"), .to = LOC("2026-11-01T01:30:00"),
                             .from_local = true, .to_local = true});
    assert_string_equal(intervals(r, NULL, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
                        "[2026-03-08T07:00:00Z,2026-11-01T05:30:00Z)");
    chg_timeset_free(r);
    /* empty and reversed ranges contain nothing */
    r = build1((chg_ts_node){.op = CHG_TS_RANGE, .from = 100, .to = 100});
    assert_string_equal(intervals(r, NULL, "1970-01-01T00:00:00Z", "1971-01-01T00:00:00Z"), "");
    chg_timeset_free(r);
}

/* ---- algebra, flags, queries ------------------------------------------------------------------ */

static bool flag_cb(void *ud, const char *name)
{
    const char *on = ud;
    return on && strcmp(on, name) == 0;
}

/* The §2 example's windows and freezes, in one node array. */
enum { N_WEEKNIGHTS, N_SUNDAY_AM, N_ANY_SLOT, N_BLACK_FRIDAY, N_YEAR_END, N_INCIDENT, N_COUNT };

static void example_nodes(chg_ts_node *n)
{
    memset(n, 0, N_COUNT * sizeof *n);
    n[N_WEEKNIGHTS] = (chg_ts_node){.op = CHG_TS_CRON, .zone = "America/New_York",
                                    .cron = "0 22 ? * MON-FRI *", .duration = 6 * 3600};
    n[N_SUNDAY_AM] = (chg_ts_node){.op = CHG_TS_WEEKLY, .zone = "Europe/Berlin", .days = 1,
                                   .start_min = 120, .end_min = 360};
    n[N_ANY_SLOT] = (chg_ts_node){.op = CHG_TS_OR, .a = N_WEEKNIGHTS, .b = N_SUNDAY_AM};
    n[N_BLACK_FRIDAY] = (chg_ts_node){.op = CHG_TS_RANGE, .from = U("2026-11-25T00:00:00Z"),
                                      .to = U("2026-12-01T00:00:00Z")};
    n[N_YEAR_END] = (chg_ts_node){.op = CHG_TS_YEARLY, .zone = "UTC", .from_month = 12,
                                  .from_day = 20, .to_month = 1, .to_day = 3};
    n[N_INCIDENT] = (chg_ts_node){.op = CHG_TS_FLAG, .flag = "incident-freeze"};
}

static void test_time_set_algebra(void **state)
{
    (void)state;
    chg_ts_node n[N_COUNT + 4];
    example_nodes(n);
    n[N_COUNT] = (chg_ts_node){.op = CHG_TS_AND, .a = N_ANY_SLOT, .b = N_YEAR_END};
    n[N_COUNT + 1] = (chg_ts_node){.op = CHG_TS_NOT, .a = N_YEAR_END};
    n[N_COUNT + 2] = (chg_ts_node){.op = CHG_TS_AND, .a = N_ANY_SLOT, .b = N_COUNT + 1};
    n[N_COUNT + 3] = (chg_ts_node){.op = CHG_TS_OR, .a = N_INCIDENT, .b = N_BLACK_FRIDAY};
    chg_time_error e;
    int bad;
    chg_timeset *any = chg_timeset_build(n, N_COUNT + 4, N_ANY_SLOT, &e, &bad);
    chg_timeset *both = chg_timeset_build(n, N_COUNT + 4, N_COUNT, &e, &bad);
    chg_timeset *outside = chg_timeset_build(n, N_COUNT + 4, N_COUNT + 2, &e, &bad);
    chg_timeset *frozen = chg_timeset_build(n, N_COUNT + 4, N_COUNT + 3, &e, &bad);
    assert_non_null(any);
    assert_non_null(both);
    assert_non_null(outside);
    assert_non_null(frozen);
    /* weeknights (NY) or Sunday morning (Berlin) */
    assert_string_equal(intervals(any, NULL, "2026-11-20T12:00:00Z", "2026-11-24T00:00:00Z"),
                        "[2026-11-21T03:00:00Z,2026-11-21T09:00:00Z) "
                        "[2026-11-22T01:00:00Z,2026-11-22T05:00:00Z)");
    /* and / not with the year-end freeze */
    assert_string_equal(intervals(both, NULL, "2026-12-18T00:00:00Z", "2026-12-22T00:00:00Z"),
                        "[2026-12-20T01:00:00Z,2026-12-20T05:00:00Z)");
    assert_string_equal(intervals(outside, NULL, "2026-12-18T00:00:00Z", "2026-12-22T00:00:00Z"),
                        "[2026-12-18T03:00:00Z,2026-12-18T09:00:00Z) "
                        "[2026-12-19T03:00:00Z,2026-12-19T09:00:00Z)");
    /* flags come from the environment of each evaluation */
    chg_ts_env off = {flag_cb, NULL}, on = {flag_cb, (void *)"incident-freeze"};
    assert_false(chg_timeset_contains(frozen, &off, U("2026-06-01T00:00:00Z")));
    assert_false(chg_timeset_contains(frozen, NULL, U("2026-06-01T00:00:00Z")));
    assert_true(chg_timeset_contains(frozen, &on, U("2026-06-01T00:00:00Z")));
    assert_true(chg_timeset_contains(frozen, &off, U("2026-11-26T00:00:00Z")));
    assert_int_equal(chg_timeset_next_change(frozen, &on, U("2026-06-01T00:00:00Z"), 366 * 86400LL),
                     INT64_MAX);
    chg_timeset_free(any);
    chg_timeset_free(both);
    chg_timeset_free(outside);
    chg_timeset_free(frozen);
}

/* next_open of the §2 example: any_slot, outside every freeze. */
static void test_time_set_next_admissible_example(void **state)
{
    (void)state;
    chg_ts_node n[N_COUNT];
    example_nodes(n);
    chg_timeset *ts[N_COUNT];
    for (int i = 0; i < N_COUNT; i++) {
        chg_time_error e;
        int bad;
        ts[i] = chg_timeset_build(n, N_COUNT, i, &e, &bad);
        assert_non_null(ts[i]);
    }
    /* in any_slot, out of every freeze */
    const chg_timeset *sets[] = {ts[N_ANY_SLOT], ts[N_BLACK_FRIDAY], ts[N_YEAR_END], ts[N_INCIDENT]};
    const bool want[] = {true, false, false, false};
    chg_ts_env off = {flag_cb, NULL}, on = {flag_cb, (void *)"incident-freeze"};
    static const struct {
        const char *now, *next;
    } cases[] = {
        {"2026-12-03T03:30:00Z", "2026-12-03T03:30:00Z"}, /* open now */
        {"2026-12-03T00:00:00Z", "2026-12-03T03:00:00Z"},
        {"2026-11-26T00:00:00Z", "2026-12-01T03:00:00Z"}, /* after black friday */
        {"2026-12-19T12:00:00Z", "2027-01-03T01:00:00Z"}, /* Sunday after the year end */
        {"2026-12-26T00:00:00Z", "2027-01-03T01:00:00Z"},
        {"2026-06-20T00:00:00Z", "2026-06-20T02:00:00Z"}, /* Friday 22:00 EDT */
        {"2026-06-20T08:00:00Z", "2026-06-21T00:00:00Z"}, /* Sunday 02:00 CEST */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int64_t got = chg_timeset_next_admissible(sets, want, 4, &off, U(cases[i].now), 366 * 86400LL, NULL);
        if (strcmp(F(got), cases[i].next) != 0)
            fail_msg("next_open from %s: %s, expected %s", cases[i].now, F(got), cases[i].next);
    }
    /* an incident freeze closes everything within the horizon */
    assert_int_equal(chg_timeset_next_admissible(sets, want, 4, &on, U("2026-06-20T00:00:00Z"), 366 * 86400LL,
                                                 NULL),
                     INT64_MAX);
    /* a horizon too short */
    assert_int_equal(chg_timeset_next_admissible(sets, want, 4, &off, U("2026-12-19T12:00:00Z"), 7 * 86400LL,
                                                 NULL),
                     INT64_MAX);
    /* nothing required: now */
    assert_int_equal(chg_timeset_next_admissible(NULL, NULL, 0, &off, 1234, 10, NULL), 1234);
    for (int i = 0; i < N_COUNT; i++)
        chg_timeset_free(ts[i]);
}

/* A window that never opens costs a bounded search, not a loop. */
static void test_time_set_horizon_bounds_searches(void **state)
{
    (void)state;
    chg_timeset *never = build1((chg_ts_node){.op = CHG_TS_CRON, .zone = "Europe/Berlin",
                                              .cron = "0 0 30 2 ? *", .duration = 3600});
    const chg_timeset *all[] = {never};
    const bool want[] = {true};
    assert_int_equal(chg_timeset_next_admissible(all, want, 1, NULL, U("2026-01-01T00:00:00Z"), 366 * 86400LL,
                                                 NULL),
                     INT64_MAX);
    assert_int_equal(chg_timeset_next_change(never, NULL, U("2026-01-01T00:00:00Z"), INT64_MAX),
                     INT64_MAX);
    assert_string_equal(intervals(never, NULL, "1970-01-01T00:00:00Z", "2300-01-01T00:00:00Z"), "");
    chg_timeset_free(never);
    /* every second for a second: always open */
    chg_timeset *always = build1((chg_ts_node){.op = CHG_TS_CRON, .zone = "UTC",
                                               .cron = "* * * * * ? *", .duration = 1});
    assert_true(chg_timeset_contains(always, NULL, U("2026-01-01T00:00:00Z")));
    assert_int_equal(chg_timeset_next_change(always, NULL, U("2026-01-01T00:00:00Z"), 3600),
                     INT64_MAX);
    chg_timeset_free(always);
    /* instants at the ends of int64 are answered */
    chg_timeset *w = build1((chg_ts_node){.op = CHG_TS_WEEKLY, .zone = "Europe/Berlin",
                                          .days = 0x7f, .start_min = 60, .end_min = 120});
    assert_false(chg_timeset_contains(w, NULL, INT64_MAX - 1));
    assert_false(chg_timeset_contains(w, NULL, INT64_MIN));
    assert_int_equal(chg_timeset_next_change(w, NULL, INT64_MAX - 10, INT64_MAX), INT64_MAX);
    chg_timeset_free(w);
}

/* next_change and intervals agree with membership sampled every minute. */
static void test_time_set_queries_agree_with_membership(void **state)
{
    (void)state;
    chg_ts_node n[N_COUNT + 2];
    example_nodes(n);
    n[N_COUNT] = (chg_ts_node){.op = CHG_TS_NOT, .a = N_YEAR_END};
    n[N_COUNT + 1] = (chg_ts_node){.op = CHG_TS_AND, .a = N_ANY_SLOT, .b = N_COUNT};
    chg_time_error e;
    int bad;
    chg_timeset *ts = chg_timeset_build(n, N_COUNT + 2, N_COUNT + 1, &e, &bad);
    assert_non_null(ts);
    int64_t a = U("2026-12-10T00:00:00Z"), b = U("2027-01-10T00:00:00Z");
    bool cur = chg_timeset_contains(ts, NULL, a);
    int64_t change = chg_timeset_next_change(ts, NULL, a, b - a);
    for (int64_t t = a + 60; t < b; t += 60) {
        bool in = chg_timeset_contains(ts, NULL, t);
        if (in != cur) {
            /* the change happened in (t-60, t]: next_change found that instant */
            assert_true(change > t - 60 && change <= t);
            assert_int_equal(chg_timeset_contains(ts, NULL, change), in);
            assert_int_equal(chg_timeset_contains(ts, NULL, change - 1), cur);
            cur = in;
            change = chg_timeset_next_change(ts, NULL, t, b - t);
        } else {
            assert_true(change > t);
        }
    }
    chg_timeset_free(ts);
}

static void test_time_set_build_errors(void **state)
{
    (void)state;
    chg_time_error e;
    int bad = 99;
    chg_ts_node n[3] = {
        {.op = CHG_TS_WEEKLY, .zone = "UTC", .days = 1, .start_min = 0, .end_min = 60},
        {.op = CHG_TS_CRON, .zone = "UTC", .cron = "0 22 ? * MON-FRY *", .duration = 60},
        {.op = CHG_TS_OR, .a = 0, .b = 1},
    };
    assert_null(chg_timeset_build(n, 3, 2, &e, &bad));
    assert_int_equal(bad, 1);
    assert_int_equal(e.offset, 13);
    assert_int_equal(e.length, 3);
    assert_string_equal(e.message, "day-of-week 'FRY' is not a weekday (SUN-SAT, or 1-7 with 1 = Sunday)");
    /* the same node array builds from another root */
    chg_timeset *ok = chg_timeset_build(n, 3, 0, &e, &bad);
    assert_non_null(ok);
    assert_int_equal(bad, -1);
    chg_timeset_free(ok);

    static const struct {
        chg_ts_node node;
        const char *message;
    } cases[] = {
        {{.op = CHG_TS_CRON, .cron = "0 1 * * *", .duration = 0},
         "a cron time set needs a positive duration (\"for 6h\")"},
        {{.op = CHG_TS_CRON, .cron = "0 1 * * *", .duration = 60, .zone = "Mars/Olympus"},
         "unknown time zone 'Mars/Olympus'"},
        {{.op = CHG_TS_WEEKLY, .days = 1, .start_min = 1440, .end_min = 0},
         "weekly times must be within 00:00..24:00"},
        {{.op = CHG_TS_YEARLY, .from_month = 2, .from_day = 30, .to_month = 3, .to_day = 1},
         "yearly dates must be real days of the year (2/30 .. 3/1)"},
        {{.op = CHG_TS_FLAG, .flag = ""}, "flag time set without a flag name"},
        {{.op = CHG_TS_NOT, .a = 7}, "time set operand 7 is not a node"},
        {{.op = CHG_TS_NOT, .a = 0}, "time set node 0 refers to itself"},
        {{.op = (chg_ts_op)42}, "unknown time set operation 42"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        assert_null(chg_timeset_build(&cases[i].node, 1, 0, &e, &bad));
        assert_string_equal(e.message, cases[i].message);
    }
    /* a cycle through two nodes */
    chg_ts_node cyc[2] = {{.op = CHG_TS_NOT, .a = 1}, {.op = CHG_TS_AND, .a = 0, .b = 0}};
    assert_null(chg_timeset_build(cyc, 2, 0, &e, &bad));
    assert_string_equal(e.message, "time set node 0 refers to itself");
    /* nesting deeper than the limit */
    chg_ts_node deep[300];
    for (int i = 0; i < 299; i++)
        deep[i] = (chg_ts_node){.op = CHG_TS_NOT, .a = i + 1};
    deep[299] = (chg_ts_node){.op = CHG_TS_FLAG, .flag = "x"};
    assert_null(chg_timeset_build(deep, 300, 0, &e, &bad));
    assert_string_equal(e.message, "time set expression is nested more than 200 deep");
    assert_null(chg_timeset_build(deep, 300, 300, &e, &bad));
    assert_string_equal(e.message, "time set root 300 is not a node");
    assert_null(chg_timeset_build(deep, 0, 0, &e, &bad));
    assert_string_equal(e.message, "empty time set");
}

/* ---- formatting ------------------------------------------------------------------------ */


/* ---- names ----------------------------------------------------------------------------- */

/* One table of day and month names; cron reads its names from it, in any
 * case, as the numbers they stand for. */
/* ---- allocation failures --------------------------------------------------------- */

/* Building a time set that allocates in every way (zones, cron, a
 * calendar, a flag name, the node table) with each allocation failing in
 * turn: the build either succeeds and answers as usual, or fails with
 * CHG_ENOMEM, never with CHG_EINVAL ("bad input") and never crashes. The
 * queries allocate nothing. */
static void test_time_set_allocation_failures(void **state)
{
    (void)state;
    static const char ics[] = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
                              "BEGIN:VEVENT\r\nUID:1@t\r\nDTSTAMP:20260101T000000Z\r\n"
                              "DTSTART:20261224T000000Z\r\nDTEND:20261227T000000Z\r\n"
                              "RRULE:FREQ=YEARLY\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    chg_ts_node n[N_COUNT + 3];
    example_nodes(n);
    n[N_COUNT] = (chg_ts_node){.op = CHG_TS_CALENDAR, .ics = ics, .ics_len = sizeof ics - 1,
                               .zone = "Europe/Paris"};
    n[N_COUNT + 1] = (chg_ts_node){.op = CHG_TS_OR, .a = N_INCIDENT, .b = N_COUNT};
    n[N_COUNT + 2] = (chg_ts_node){.op = CHG_TS_AND, .a = N_ANY_SLOT, .b = N_COUNT + 1};
    chg_ts_env on = {flag_cb, (void *)"incident-freeze"};
    int64_t t0 = U("2026-11-20T12:00:00Z");

    failing f = {0, 0, false};
    chg_set_allocator(failing_realloc, &f);
    chg_time_error e;
    int bad;
    chg_timeset *ts = chg_timeset_build(n, N_COUNT + 3, N_COUNT + 2, &e, &bad);
    unsigned long total = f.calls;
    assert_non_null(ts);
    bool in = chg_timeset_contains(ts, &on, U("2026-11-21T04:00:00Z"));
    int64_t next = chg_timeset_next_change(ts, &on, t0, 60 * 86400LL);
    assert_int_equal(f.calls, total);
    assert_true(in);
    assert_instant(next, "2026-11-21T03:00:00Z");
    chg_timeset_free(ts);
    assert_true(total >= 5);

    for (unsigned long k = 1; k <= total + 1; k++) {
        f = (failing){0, k, false};
        memset(&e, 0, sizeof e);
        ts = chg_timeset_build(n, N_COUNT + 3, N_COUNT + 2, &e, &bad);
        if (!ts) {
            assert_true(k <= total);
            if (e.status != CHG_ENOMEM) {
                chg_set_allocator(NULL, NULL);
                fail_msg("allocation %lu of %lu failed, reported as %d: %s", k, total, e.status,
                         e.message);
            }
            continue;
        }
        assert_true(chg_timeset_contains(ts, &on, U("2026-11-21T04:00:00Z")) == in);
        assert_int_equal(chg_timeset_next_change(ts, &on, t0, 60 * 86400LL), next);
        chg_timeset_free(ts);
    }
    chg_set_allocator(NULL, NULL);
}

static void test_time_calendar_names(void **state)
{
    (void)state;
    for (int i = 0; i < 19; i++) {
        const chg_calendar_name *nm = i < 7 ? &chg_weekday_names[i] : &chg_month_names[i - 7];
        assert_int_equal(strlen(nm->abbr), 3);
        assert_memory_equal(nm->abbr, nm->full, 3);
        for (const char *c = nm->full; *c; c++)
            assert_true(*c >= 'a' && *c <= 'z');
    }
    assert_string_equal(chg_weekday_names[chg_weekday_from_days(0)].full, "thursday"); /* 1970-01-01 */
    for (int m = 1; m <= 12; m++) {
        const char *a = chg_month_names[m - 1].abbr;
        char name[8] = {(char)(a[0] - 32), a[1], (char)(a[2] - 32), 0}, expr[64];
        snprintf(expr, sizeof expr, "0 0 1 %s ? *", name); /* "JaN" */
        chg_time_error err;
        chg_cron *c = chg_cron_parse(expr, &err);
        if (!c)
            fail_msg("%s: %s", expr, err.message);
        int64_t first = chg_days_from_civil(2026, m, 1) * 86400;
        assert_true(chg_cron_matches_local(c, first));
        assert_false(chg_cron_matches_local(c, chg_days_from_civil(2026, m % 12 + 1, 1) * 86400));
        chg_cron_free(c);
    }
    for (int d = 0; d < 7; d++) {
        char expr[64];
        snprintf(expr, sizeof expr, "0 0 ? * %s *", chg_weekday_names[d].abbr);
        chg_time_error err;
        chg_cron *c = chg_cron_parse(expr, &err);
        if (!c)
            fail_msg("%s: %s", expr, err.message);
        for (int64_t day = 20454; day < 20454 + 7; day++) /* 2026-01-01 on */
            assert_int_equal(chg_cron_matches_local(c, day * 86400), chg_weekday_from_days(day) == d);
        chg_cron_free(c);
    }
}

/* ---- durations ------------------------------------------------------------------------- */

static void test_time_duration_parse_and_format(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int status;
        int64_t secs;
    } cases[] = {
        {"90s", CHG_OK, 90},
        {"366d", CHG_OK, 366 * 86400LL},
        {"6h30m", CHG_OK, 6 * 3600 + 30 * 60},
        {"1w2d3h4m5s", CHG_OK, 604800 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5},
        {"30m1h", CHG_OK, 5400}, /* any order, repeats allowed */
        {"1h1h", CHG_OK, 7200},
        {"0s", CHG_OK, 0},
        {"007m", CHG_OK, 420},
        {"2305843009213693951s", CHG_OK, INT64_MAX / 4},
        {"3812571113117w", CHG_OK, 3812571113117LL * 604800},
        /* blanks and signs are not durations, on the command line as in a
         * policy (strtoll once let " 5m", "+5m" and "-0s" through there) */
        {" 5m", CHG_EINVAL, 0},
        {"+5m", CHG_EINVAL, 0},
        {"5m +3s", CHG_EINVAL, 0},
        {"-0s", CHG_EINVAL, 0},
        {"2305843009213693951s1s", CHG_ERANGE, 0},
        {"", CHG_EINVAL, 0},
        {"5", CHG_EINVAL, 0},
        {"5x", CHG_EINVAL, 0},
        {"m", CHG_EINVAL, 0},
        {"5M", CHG_EINVAL, 0},
        {"-5m", CHG_EINVAL, 0},
        {"5m ", CHG_EINVAL, 0},
        {"1.5h", CHG_EINVAL, 0},
        {"2305843009213693952s", CHG_ERANGE, 0},
        {"3812571113118w", CHG_ERANGE, 0},
        {"99999999999999999999999s", CHG_ERANGE, 0},
        {"2305843009213693951s2305843009213693951s1s", CHG_ERANGE, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int64_t a = -1;
        int ra = chg_duration_parse(cases[i].text, strlen(cases[i].text), &a);
        if (ra != cases[i].status)
            fail_msg("\"%s\": %d, expected %d", cases[i].text, ra, cases[i].status);
        if (ra == CHG_OK && a != cases[i].secs)
            fail_msg("\"%s\": %lld seconds", cases[i].text, (long long)a);
        if (ra != CHG_OK)
            assert_int_equal(a, -1); /* untouched */
    }
    /* n bounds the text: no NUL needed */
    int64_t t;
    assert_int_equal(chg_duration_parse("90s30", 3, &t), CHG_OK);
    assert_int_equal(t, 90);

    uint64_t x = 88172645463325252ULL;
    static const struct {
        int64_t secs;
        const char *text;
    } shown[] = {{0, "0s"}, {59, "59s"}, {5430, "1h30m30s"}, {691200, "1w1d"}, {-90, "-1m30s"},
                 {INT64_MIN, "-15250284452471w3d15h30m8s"}};
    for (size_t i = 0; i < sizeof shown / sizeof *shown; i++) {
        char b[64];
        chg_duration_format(shown[i].secs, b, sizeof b);
        assert_string_equal(b, shown[i].text);
    }
    /* what the formatter writes reads back */
    for (int i = 0; i < 10000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int64_t secs = (int64_t)(x % (uint64_t)(INT64_MAX / 4)) >> (x % 50);
        char b[64];
        chg_duration_format(secs, b, sizeof b);
        assert_int_equal(chg_duration_parse(b, strlen(b), &t), CHG_OK);
        assert_int_equal(t, secs);
    }
}


static void test_time_format_and_parse_iso(void **state)
{
    (void)state;
    char b[32];
    chg_time_format_utc(0, b);
    assert_string_equal(b, "1970-01-01T00:00:00Z");
    chg_time_format_utc(-1, b);
    assert_string_equal(b, "1969-12-31T23:59:59Z");
    chg_time_format_utc(U("2026-12-03T09:00:00Z"), b);
    assert_string_equal(b, "2026-12-03T09:00:00Z");
    chg_time_format_utc(INT64_MAX, b);
    assert_true(strlen(b) < 32);
    chg_time_format_utc(INT64_MIN, b);
    assert_true(strlen(b) < 32);
    static const struct {
        const char *text, *utc;
    } good[] = {
        {"2026-12-03T03:30:00Z", "2026-12-03T03:30:00Z"},
        {"2026-12-03t03:30:00z", "2026-12-03T03:30:00Z"},
        {"2026-12-03 03:30:00Z", "2026-12-03T03:30:00Z"},
        {"2026-12-03T03:30Z", "2026-12-03T03:30:00Z"},
        {"2026-12-03T04:30:00+01:00", "2026-12-03T03:30:00Z"},
        {"2020-07-30T11:05:14-0700", "2020-07-30T18:05:14Z"},
        {"2026-12-03T09:15:00+05:45", "2026-12-03T03:30:00Z"},
        {"2026-12-03T03:30:00-00", "2026-12-03T03:30:00Z"},
        {"2026-12-03T03:30:00.999999Z", "2026-12-03T03:30:00Z"},
        {"2026-12-03T03:30:00,5+00:00", "2026-12-03T03:30:00Z"},
        {"2016-12-31T23:59:60Z", "2017-01-01T00:00:00Z"},
        {"2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z"},
        {"1900-03-01T00:00:00Z", "1900-03-01T00:00:00Z"},
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        int64_t t;
        assert_int_equal(chg_time_parse_iso(good[i].text, strlen(good[i].text), &t), CHG_OK);
        assert_string_equal(F(t), good[i].utc);
    }
    static const char *bad[] = {
        "",
        "2026-12-03",
        "2026-12-03T03:30:00",
        "2026-13-03T03:30:00Z",
        "2025-02-29T00:00:00Z",
        "2026-12-03T24:00:00Z",
        "2026-12-03T03:60:00Z",
        "2026-12-03T03:30:61Z",
        "2026-12-03T03:30:00.Z",
        "2026-12-03T03:30:00+24:00",
        "2026-12-03T03:30:00+01:",
        "2026-12-03T03:30:00Zjunk",
        "26-12-03T03:30:00Z",
        "2026-12-03X03:30:00Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int64_t t;
        if (chg_time_parse_iso(bad[i], strlen(bad[i]), &t) != CHG_EINVAL)
            fail_msg("'%s' accepted", bad[i]);
    }
    /* the length bounds the parse: no NUL needed */
    int64_t t;
    assert_int_equal(chg_time_parse_iso("2026-12-03T03:30:00Z trailing", 20, &t), CHG_OK);
    assert_string_equal(F(t), "2026-12-03T03:30:00Z");
}

/* "YYYY-MM-DDTHH:MM:SSZ" has a parse of its own (the common shape): on
 * strings of that shape with digits anywhere (dates that exist and do
 * not, hours, minutes and seconds out of range, a non-digit here and
 * there) it must answer as the general parse answers the same instant
 * written with "+00:00" and with a lowercase "z". */
static void test_time_parse_iso_utc_shape_agrees(void **state)
{
    (void)state;
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    static const unsigned char at[14] = {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18};
    for (int n = 0; n < 300000; n++) {
        char z[21] = "0000-00-00T00:00:00Z";
        for (int k = 0; k < 14; k++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            z[at[k]] = (char)('0' + (seed >> 33) % 10);
        }
        /* mostly plausible fields, so most strings are valid instants */
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        if ((seed >> 40) % 4) {
            z[5] = (char)('0' + (seed >> 20) % 2);
            z[8] = (char)('0' + (seed >> 22) % 3);
            z[11] = (char)('0' + (seed >> 24) % 3);
            z[14] = (char)('0' + (seed >> 26) % 6);
            z[17] = (char)('0' + (seed >> 28) % 7);
        }
        if ((seed >> 50) % 64 == 0)
            z[(seed >> 30) % 20] = "x/:-T Z9"[(seed >> 45) % 8];
        char plus[26], lower[21];
        memcpy(plus, z, 19);
        memcpy(plus + 19, "+00:00", 7);
        memcpy(lower, z, 21);
        lower[19] = 'z';
        int64_t a = -1, b = -1, c = -1;
        int ra = chg_time_parse_iso(z, 20, &a);
        int rb = z[19] == 'Z' ? chg_time_parse_iso(plus, 25, &b) : ra;
        int rc = chg_time_parse_iso(lower, 20, &c);
        if (z[19] != 'Z')
            continue; /* not the shape: the general parse judged it anyway */
        if (ra != rb || ra != rc || (ra == CHG_OK && (a != b || a != c)))
            fail_msg("%s: %d %lld, +00:00 %d %lld, z %d %lld", z, ra, (long long)a, rb, (long long)b, rc,
                     (long long)c);
    }
}


/* ---- AWS schedules: cron aws, offset, EventBridge DST, rate ------------------------------ */

/* Forms plain cron takes and the AWS references refuse: each parses
 * without `aws` (so the old parser accepted it) and is refused with it,
 * at the offending part. */
static void test_time_cron_aws_strict(void **state)
{
    (void)state;
    static const struct {
        const char *expr;
        size_t offset, length;
        const char *message;
    } cases[] = {
        {"0 0 * * 1-5", 0, 11,
         "5 fields are classic Unix cron, not AWS: AWS cron has 6 (minute hour day-of-month month day-of-week "
         "year), or 7 with SSM's seconds first"},
        {"@daily", 0, 6, "'@daily' is a classic cron macro, not AWS cron"},
        {"0 22 ? * FRI-MON *", 9, 7,
         "day-of-week range 'FRI-MON' wraps around, which AWS cron does not allow; split it at the end of the "
         "range (\"FRI-SAT,SUN-MON\")"},
        {"0 22-2 * * ? *", 2, 4,
         "hour range '22-2' wraps around, which AWS cron does not allow; split it at the end of the range "
         "(\"FRI-SAT,SUN-MON\")"},
        {"0 0 ? * MON/2 *", 11, 2,
         "'/' is not allowed in day-of-week in AWS cron (EventBridge: , - * ? L #); list the days "
         "(\"MON,WED,FRI\")"},
        {"0 0 ? * 3#1,6#3 *", 8, 7,
         "with '#' the day-of-week field of AWS cron is that one item, not the list '3#1,6#3'"},
        {"0 0 1W,15W * ? *", 4, 6,
         "with 'L' or 'W' the day-of-month field of AWS cron is that one item, not the list '1W,15W'"},
        {"0 0 LW * ? *", 4, 2,
         "'LW' is not AWS cron: the EventBridge and SSM references allow 'L' and 'nW' in day-of-month, not "
         "'LW' or 'L-n'"},
        {"0 0 L-3 * ? *", 4, 3,
         "'L-3' is not AWS cron: the EventBridge and SSM references allow 'L' and 'nW' in day-of-month, not "
         "'LW' or 'L-n'"},
        {"*/10 30 9 ? * * *", 0, 4, "the seconds field of AWS cron is one number 0-59, not '*/10'"},
    };
    chg_cron_opts aws = {true, 0, false};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        chg_time_error e = {{0}, 99, 99, 0};
        chg_cron *plain = chg_cron_parse(cases[i].expr, &e);
        if (!plain)
            fail_msg("'%s' refused by plain cron: %s", cases[i].expr, e.message);
        chg_cron_free(plain);
        chg_cron *c = chg_cron_parse_opts(cases[i].expr, &aws, &e);
        if (c) {
            chg_cron_free(c);
            fail_msg("'%s' accepted by cron aws", cases[i].expr);
        }
        if (strcmp(e.message, cases[i].message) != 0 || e.offset != cases[i].offset ||
            e.length != cases[i].length)
            fail_msg("'%s': got %zu+%zu \"%s\", expected %zu+%zu \"%s\"", cases[i].expr, e.offset, e.length,
                     e.message, cases[i].offset, cases[i].length, cases[i].message);
    }
    /* every example of the EventBridge and SSM references is AWS cron */
    static const char *const docs[] = {
        "0 10 * * ? *",      "15 12 * * ? *",     "0 18 ? * MON-FRI *", "0 8 1 * ? *",
        "0/15 * * * ? *",    "0/10 * ? * MON-FRI *", "0/5 8-17 ? * MON-FRI *", "0 9 ? * 2#1 *",
        "30 09 ? * * *",     "24 30 09 ? * * *",  "0 2 ? * THU#3 *",   "15 10 ? * 6L *",
        "0 2 L * ? *",       "15 10 ? * MON-FRI *", "30 23 ? * TUE#3 *", "0 0 ? * THU#2 *",
        "cron(0 16 ? * TUE *)", "0 0/30 * * ? *",  "0 */30 * * * ? *",  "0 0 3W * ? *",
    };
    for (size_t i = 0; i < sizeof docs / sizeof *docs; i++) {
        chg_time_error e;
        chg_cron *c = chg_cron_parse_opts(docs[i], &aws, &e);
        if (!c)
            fail_msg("AWS's own example '%s' refused: %s", docs[i], e.message);
        chg_cron_free(c);
    }
}

/* The first n runs of expr (with options) in zone from a, as text. */
static const char *runs(const char *expr, const chg_cron_opts *o, const char *zone, const char *a, int n)
{
    static char out[1024];
    out[0] = 0;
    chg_time_error e;
    chg_cron *c = chg_cron_parse_opts(expr, o, &e);
    if (!c)
        fail_msg("'%s' refused: %s", expr, e.message);
    chg_tz *tz = load(zone);
    int64_t t = U(a);
    for (int k = 0; k < n; k++) {
        int64_t m = chg_cron_next(c, tz, t, INT64_MAX);
        if (m == INT64_MAX)
            break;
        size_t l = strlen(out);
        snprintf(out + l, sizeof out - l, "%s%s", l ? " " : "", F(m));
        t = m + 1;
    }
    chg_cron_free(c);
    chg_tz_free(tz);
    return out;
}

static void test_time_cron_offset_and_eventbridge_dst(void **state)
{
    (void)state;
    /* SSM: "cron(30 23 ? * TUE#3 *)" with offset 2 runs two days after the
     * third Tuesday, at 23:30: 2026-12-15 is December's third Tuesday,
     * 2027-01-19 January's */
    chg_cron_opts off2 = {true, 2, false};
    assert_string_equal(runs("30 23 ? * TUE#3 *", &off2, "UTC", "2026-12-01T00:00:00Z", 2),
                        "2026-12-17T23:30:00Z 2027-01-21T23:30:00Z");
    /* SSM's association example: THU#2 with offset 3 is the Sunday after */
    chg_cron_opts off3 = {true, 3, false};
    assert_string_equal(runs("0 0 ? * THU#2 *", &off3, "UTC", "2026-12-01T00:00:00Z", 1), "2026-12-13T00:00:00Z");
    /* an offset across a DST change keeps the wall-clock time: the match
     * is Saturday 2026-03-07 02:30 EST, the run Monday 02:30 EDT */
    chg_cron_opts off2ny = {false, 2, false};
    assert_string_equal(runs("30 2 ? * SAT *", &off2ny, "America/New_York", "2026-03-03T00:00:00Z", 1),
                        "2026-03-09T06:30:00Z");
    /* EventBridge Scheduler: 02:30 does not exist on 2026-03-08 in New
     * York, so that day has no run (chg's default: 03:00 EDT) ... */
    chg_cron_opts eb = {true, 0, true}, plain = {true, 0, false};
    assert_string_equal(runs("30 2 * * ? *", &eb, "America/New_York", "2026-03-07T00:00:00Z", 2),
                        "2026-03-07T07:30:00Z 2026-03-09T06:30:00Z");
    assert_string_equal(runs("30 2 * * ? *", &plain, "America/New_York", "2026-03-07T00:00:00Z", 2),
                        "2026-03-07T07:30:00Z 2026-03-08T07:00:00Z");
    /* ... and a wildcard schedule in the repeated hour runs once
     * (EventBridge) instead of in both passes (chg, as cronie) */
    assert_string_equal(runs("*/30 1 * * ? *", &eb, "America/New_York", "2026-11-01T04:00:00Z", 3),
                        "2026-11-01T05:00:00Z 2026-11-01T05:30:00Z 2026-11-02T06:00:00Z");
    assert_string_equal(runs("*/30 1 * * ? *", &plain, "America/New_York", "2026-11-01T04:00:00Z", 4),
                        "2026-11-01T05:00:00Z 2026-11-01T05:30:00Z 2026-11-01T06:00:00Z 2026-11-01T06:30:00Z");
    /* an offset outside 0-6 is refused by the library too */
    chg_cron_opts off9 = {false, 9, false};
    chg_time_error e;
    assert_null(chg_cron_parse_opts("0 0 * * *", &off9, &e));
}

static void test_time_rate_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t period;
        const char *message;
    } cases[] = {
        {"1 hour", 3600, NULL},
        {"5 hours", 5 * 3600, NULL},
        {"30 minutes", 1800, NULL},
        {"1 minute", 60, NULL},
        {"25 days", 25 * 86400, NULL},
        {"rate(7 days)", 7 * 86400, NULL},
        {"1 hours", 0, "AWS writes a rate of 1 with 'hour', not 'hours' (\"1 hour\")"},
        {"5 hour", 0, "AWS writes a rate of 5 with 'hours', not 'hour' (\"5 hours\")"},
        {"0 minutes", 0, "a rate is a positive whole number and a unit (\"5 hours\", \"1 day\")"},
        {"5 weeks", 0, "a rate's unit is minute(s), hour(s) or day(s), not 'weeks'"},
        {"5hours", 0, "a rate's number and unit are separated by a space (\"5 hours\")"},
        {"hours", 0, "a rate is a positive whole number and a unit (\"5 hours\", \"1 day\")"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        chg_time_error e = {{0}, 0, 0, 0};
        int64_t p = 0;
        int rc = chg_rate_parse(cases[i].text, &p, &e);
        if (!cases[i].message) {
            if (rc != CHG_OK || p != cases[i].period)
                fail_msg("'%s': rc %d period %lld: %s", cases[i].text, rc, (long long)p, e.message);
        } else if (rc == CHG_OK || strcmp(e.message, cases[i].message) != 0)
            fail_msg("'%s': got rc %d \"%s\", expected \"%s\"", cases[i].text, rc, e.message, cases[i].message);
    }
}

/* A rate counts elapsed time (AWS): "1 day" from 02:30 EST on the day
 * before the spring-forward night runs 24 hours later, at 03:30 EDT; a
 * cutoff closes the end of each run to new starts; an end bound stops
 * runs; at() is one run. */
static void test_time_rate_and_at_sets(void **state)
{
    (void)state;
    chg_ts_node n = {.op = CHG_TS_RATE, .zone = "America/New_York", .period = 86400, .duration = 3600,
                     .from = U("2026-03-07T02:30:00Z"), .from_local = true};
    chg_time_error e;
    chg_timeset *ts = chg_timeset_build(&n, 1, 0, &e, NULL);
    assert_non_null(ts);
    assert_true(chg_timeset_contains(ts, NULL, U("2026-03-07T07:30:00Z")));  /* 02:30 EST */
    assert_false(chg_timeset_contains(ts, NULL, U("2026-03-07T07:29:59Z")));
    assert_true(chg_timeset_contains(ts, NULL, U("2026-03-08T07:30:00Z")));  /* 03:30 EDT */
    assert_false(chg_timeset_contains(ts, NULL, U("2026-03-08T06:30:00Z"))); /* not 02:30 wall clock */
    assert_instant(chg_timeset_next_change(ts, NULL, U("2026-03-08T08:00:00Z"), CHG_HORIZON_DEFAULT),
                   "2026-03-08T08:30:00Z");
    assert_false(chg_timeset_contains(ts, NULL, U("2026-03-06T07:30:00Z"))); /* before the first run */
    chg_timeset_free(ts);

    n = (chg_ts_node){.op = CHG_TS_RATE, .period = 5 * 3600, .duration = 1800, .cutoff = 600,
                      .from = U("2026-12-01T00:00:00Z"), .to = U("2026-12-01T12:00:00Z"), .flags = CHG_TSF_TO};
    ts = chg_timeset_build(&n, 1, 0, &e, NULL);
    assert_non_null(ts);
    assert_true(chg_timeset_contains(ts, NULL, U("2026-12-01T05:19:59Z")));
    assert_false(chg_timeset_contains(ts, NULL, U("2026-12-01T05:20:00Z"))); /* the cutoff */
    assert_true(chg_timeset_contains(ts, NULL, U("2026-12-01T10:00:00Z")));
    assert_false(chg_timeset_contains(ts, NULL, U("2026-12-01T15:00:00Z"))); /* past the end bound */
    chg_timeset_free(ts);

    n = (chg_ts_node){.op = CHG_TS_AT, .duration = 7200, .cutoff = 1800, .from = U("2026-12-05T10:00:00Z")};
    ts = chg_timeset_build(&n, 1, 0, &e, NULL);
    assert_non_null(ts);
    assert_instant(chg_timeset_next_change(ts, NULL, U("2026-01-01T00:00:00Z"), CHG_HORIZON_MAX),
                   "2026-12-05T10:00:00Z");
    assert_instant(chg_timeset_next_change(ts, NULL, U("2026-12-05T10:00:00Z"), CHG_HORIZON_MAX),
                   "2026-12-05T11:30:00Z");
    assert_instant(chg_timeset_next_change(ts, NULL, U("2026-12-05T11:30:00Z"), CHG_HORIZON_MAX), "never");
    chg_timeset_free(ts);

    /* SSM's skip rule: with start 2026-12-16 the match of 2026-12-15
     * (third Tuesday) does not run on the 17th although its offset day is
     * after the start; the next one, 2027-01-21, does */
    n = (chg_ts_node){.op = CHG_TS_CRON, .cron = "30 23 ? * TUE#3 *", .offset_days = 2, .duration = 3600,
                      .from = U("2026-12-16T00:00:00Z"), .flags = CHG_TSF_FROM | CHG_TSF_AWS};
    ts = chg_timeset_build(&n, 1, 0, &e, NULL);
    assert_non_null(ts);
    assert_instant(chg_timeset_next_change(ts, NULL, U("2026-12-01T00:00:00Z"), CHG_HORIZON_DEFAULT),
                   "2027-01-21T23:30:00Z");
    chg_timeset_free(ts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_parse_iso_utc_shape_agrees),
        cmocka_unit_test(test_time_tz_offsets_and_transitions),
        cmocka_unit_test(test_time_tz_local_to_utc_gap_and_fold),
        cmocka_unit_test(test_time_tz_rejects_bad_names),
        cmocka_unit_test_setup_teardown(test_time_tz_footer_rules, setup_tzdir, teardown_tzdir),
        cmocka_unit_test_setup_teardown(test_time_tz_rejects_bad_files, setup_tzdir,
                                        teardown_tzdir),
        cmocka_unit_test(test_time_cron_dialects),
        cmocka_unit_test(test_time_cron_next_table),
        cmocka_unit_test(test_time_cron_prev_table),
        cmocka_unit_test(test_time_cron_errors),
        cmocka_unit_test(test_time_cron_dst_new_york),
        cmocka_unit_test(test_time_cron_dst_europe_berlin),
        cmocka_unit_test(test_time_cron_dst_lord_howe),
        cmocka_unit_test(test_time_cron_dst_kathmandu),
        cmocka_unit_test(test_time_cron_dst_apia),
        cmocka_unit_test(test_time_weekly_windows_across_dst),
        cmocka_unit_test(test_time_cron_windows),
        cmocka_unit_test(test_time_yearly_ranges),
        cmocka_unit_test(test_time_ranges),
        cmocka_unit_test(test_time_set_algebra),
        cmocka_unit_test(test_time_set_next_admissible_example),
        cmocka_unit_test(test_time_set_horizon_bounds_searches),
        cmocka_unit_test(test_time_set_queries_agree_with_membership),
        cmocka_unit_test(test_time_set_build_errors),
        cmocka_unit_test(test_time_set_allocation_failures),
        cmocka_unit_test(test_time_format_and_parse_iso),
        cmocka_unit_test(test_time_duration_parse_and_format),
        cmocka_unit_test(test_time_cron_aws_strict),
        cmocka_unit_test(test_time_cron_offset_and_eventbridge_dst),
        cmocka_unit_test(test_time_rate_parse),
        cmocka_unit_test(test_time_rate_and_at_sets),
        cmocka_unit_test(test_time_calendar_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
