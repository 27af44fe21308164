/*
 * test_cron_week.c — the week table of cron.c against the field search it
 * shortcuts. A schedule whose days come down to a set of weekdays, with
 * few times of day, answers its local searches (next and previous match
 * between two local times) from a table of its matches in a week; the
 * same searches by the fields alone (chg_ti_cron_*_local_by with table
 * false) are the reference. Random schedules of that kind in the three
 * dialects (years, offsets, seconds, lists and ranges of hours and
 * minutes), random instants across the local years 0000-9999 and their
 * ends, random bounds (empty, short, a week, years): every answer must be
 * the same. A schedule the table cannot hold, or one whose days depend on
 * the date, must not use it.
 *
 * Prints the number of searches compared.
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
#include "time_int.h"

#define TEST_RNG_SEED 0x9E3779B97F4A7C15ULL
#include "test_rng.h"

static const char *const dows[] = {"MON-FRI", "SAT,SUN", "*", "?", "TUE", "FRI-MON", "SUN,WED,SAT", "2-4"};

/* One field of hours (0-23) or minutes/seconds (0-59): a value, a short
 * list, a range, a step. */
static void field(char *out, size_t n, int max)
{
    switch (rnd() % 5) {
    case 0: snprintf(out, n, "%d", (int)(rnd() % (unsigned)(max + 1))); break;
    case 1: snprintf(out, n, "%d,%d", (int)(rnd() % (unsigned)(max + 1)), (int)(rnd() % (unsigned)(max + 1))); break;
    case 2: {
        int a = (int)(rnd() % (unsigned)(max + 1)), b = a + (int)(rnd() % 3);
        snprintf(out, n, "%d-%d", a, b > max ? max : b);
        break;
    }
    case 3: snprintf(out, n, "%d/%d", (int)(rnd() % 3), (int)(max / 2 + 1)); break;
    default: snprintf(out, n, "0"); break;
    }
}

/* A random schedule of weekdays: classic (5 fields), AWS (6, with a
 * year) or SSM (7, with seconds), with an SSM offset now and then. */
static chg_cron *random_cron(char *expr, size_t n)
{
    char h[32], m[32], s[32];
    field(h, sizeof h, 23);
    field(m, sizeof m, 59);
    field(s, sizeof s, 59);
    const char *dow = dows[rnd() % (sizeof dows / sizeof *dows)];
    chg_cron_opts o = {0};
    switch (rnd() % 3) {
    case 0: {
        /* classic: day-of-month '*' with a weekday list is "both match" */
        bool q = !strcmp(dow, "?");
        snprintf(expr, n, "%s %s * * %s", m, h, q ? "*" : dow);
        break;
    }
    case 1: {
        static const char *const years[] = {"*", "2020-2030", "1970", "2199", "2026-2199"};
        bool q = !strcmp(dow, "?") || !strcmp(dow, "*");
        snprintf(expr, n, "cron(%s %s %s * %s %s)", m, h, q ? "*" : "?", q ? "?" : dow, years[rnd() % 5]);
        break;
    }
    default: {
        bool q = !strcmp(dow, "?") || !strcmp(dow, "*");
        snprintf(expr, n, "cron(%s %s %s %s * %s *)", s, m, h, q ? "*" : "?", q ? "?" : dow);
        o.offset_days = (int)(rnd() % 3);
        break;
    }
    }
    chg_time_error err;
    return chg_cron_parse_opts(expr, &o, &err);
}

static long compared;

static void compare(const chg_cron *c, const char *expr, int64_t from, int64_t to)
{
    int64_t a = chg_ti_cron_next_local_by(c, from, to, true), b = chg_ti_cron_next_local_by(c, from, to, false);
    if (a != b)
        fail_msg("%s: next in [%lld, %lld): table %lld, fields %lld", expr, (long long)from, (long long)to,
                 (long long)a, (long long)b);
    a = chg_ti_cron_prev_local_by(c, to, from, true);
    b = chg_ti_cron_prev_local_by(c, to, from, false);
    if (a != b)
        fail_msg("%s: prev in [%lld, %lld]: table %lld, fields %lld", expr, (long long)from, (long long)to,
                 (long long)a, (long long)b);
    compared += 2;
}

static int64_t random_instant(void)
{
    switch (rnd() % 4) {
    case 0: return rnd_range(TI_LOCAL_MIN - 3 * 86400, TI_LOCAL_MIN + 30 * 86400); /* year 0000 */
    case 1: return rnd_range(TI_LOCAL_MAX - 30 * 86400, TI_LOCAL_MAX + 3 * 86400); /* year 9999 */
    case 2: return rnd_range(0, 7258118400LL); /* 1970-2200, AWS's years and their ends */
    default: return rnd_range(TI_LOCAL_MIN, TI_LOCAL_MAX);
    }
}

static void test_cron_week_agrees(void **state)
{
    (void)state;
    static const int64_t spans[] = {0, 1, 59, 3600, 6 * 3600, 86400, 7 * 86400, 8 * 86400, 400 * 86400LL,
                                    30LL * 366 * 86400};
    int tabled = 0;
    for (int i = 0; i < 3000; i++) {
        char expr[160];
        chg_cron *c = random_cron(expr, sizeof expr);
        if (!c)
            fail_msg("random schedule rejected: %s", expr);
        tabled += chg_ti_cron_has_week_table(c);
        for (int q = 0; q < 200; q++) {
            int64_t t = random_instant();
            int64_t span = spans[rnd() % (sizeof spans / sizeof *spans)];
            int64_t d = span ? rnd_range(0, span + 1) : 0;
            compare(c, expr, t, t + d); /* next in [t, t+d), prev in [t, t+d] */
            compare(c, expr, t - d, t);
        }
        chg_cron_free(c);
    }
    /* the comparison is worth something only where the table is used */
    assert_true(tabled > 1500);
    printf("cron_week: %d of 3000 schedules by the table, %ld searches compared\n", tabled, compared);
}

/* Which schedules get a table: weekdays and few times only. */
static void test_cron_week_which(void **state)
{
    (void)state;
    static const struct {
        const char *expr;
        bool table;
    } cases[] = {
        {"cron(0 22 ? * MON-FRI *)", true}, /* the peer benchmark's window: 5 a week */
        {"0 2 * * *", true},                /* daily: 7 */
        {"*/15 2 * * 1-5", true},           /* 4 a day on 5 days: 20 */
        {"0 */2 * * *", false},             /* 12 a day: 84 > 64 */
        {"* * * * *", false},               /* every minute */
        {"0 2 1 * *", false},               /* a day of the month */
        {"0 2 * 6 *", false},               /* a month */
        {"cron(0 2 ? * 6#3 *)", false},     /* the third Friday */
        {"cron(0 2 ? * MON 2026,2028)", false}, /* years with a gap */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        chg_time_error err;
        chg_cron *c = chg_cron_parse(cases[i].expr, &err);
        assert_non_null(c);
        bool want = cases[i].table;
        if (chg_ti_cron_has_week_table(c) != want)
            fail_msg("%s: week table %d, expected %d", cases[i].expr, chg_ti_cron_has_week_table(c), want);
        chg_cron_free(c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cron_week_agrees),
        cmocka_unit_test(test_cron_week_which),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
