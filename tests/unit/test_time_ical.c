/*
 * test_time_ical.c — calendar time sets from .ics files: recurrence (COUNT,
 * UNTIL, EXDATE, RDATE times and periods), VTIMEZONE (Outlook names, gap
 * and repeated hour per RFC 5545, far future), all-day events, floating
 * times, X-WR-TIMEZONE and the node's zone, RECURRENCE-ID overrides and
 * cancellations, AWS Change Calendar DEFAULT_OPEN / DEFAULT_CLOSED (and a
 * calendar without events), the example policy's calendar, and errors that
 * point at the offending line. Fixtures: tests/fixtures/calendars/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "chg_time.h"

static int64_t U(const char *iso)
{
    int64_t t = 0;
    if (chg_time_parse_iso(iso, strlen(iso), &t) != CHG_OK)
        fail_msg("bad instant literal %s", iso);
    return t;
}

static const char *F(int64_t t)
{
    static char ring[8][40];
    static int k;
    char *b = ring[k++ & 7];
    chg_time_format_utc(t, b);
    return b;
}

static char *read_fixture(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", CHG_SOURCE_DIR, name);
    char *data;
    if (chg_read_file(path, &data, len) != CHG_OK)
        fail_msg("cannot read %s", path);
    return data;
}

/* Build a calendar time set from a fixture, with an optional zone. */
static chg_timeset *calendar(const char *fixture, const char *zone)
{
    size_t len;
    char *text = read_fixture(fixture, &len);
    chg_ts_node n = {.op = CHG_TS_CALENDAR, .ics = text, .ics_len = len, .zone = zone};
    chg_time_error e;
    int bad;
    chg_timeset *ts = chg_timeset_build(&n, 1, 0, &e, &bad);
    chg_free(text); /* the time set keeps nothing of the text */
    if (!ts)
        fail_msg("%s: %s (at %zu)", fixture, e.message, e.offset);
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

static const char *intervals(const chg_timeset *ts, const char *a, const char *b)
{
    static ivs v;
    memset(&v, 0, sizeof v);
    chg_timeset_intervals(ts, NULL, U(a), U(b), collect, &v);
    return v.text;
}

static void test_time_ical_recurrence_exdate_rdate(void **state)
{
    (void)state;
    chg_timeset *ts = calendar("tests/fixtures/calendars/recurring.ics", NULL);
    /* COUNT=3 */
    assert_string_equal(intervals(ts, "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"),
                        "[2026-01-05T10:00:00Z,2026-01-05T12:00:00Z) "
                        "[2026-01-12T10:00:00Z,2026-01-12T12:00:00Z) "
                        "[2026-01-19T10:00:00Z,2026-01-19T12:00:00Z)");
    /* 23:00 Berlin for 2h, across the spring change; EXDATE Mar 25; UNTIL
     * Mar 30 21:00Z inclusive; RDATE Apr 1 */
    assert_string_equal(intervals(ts, "2026-03-20T00:00:00Z", "2026-04-10T00:00:00Z"),
                        "[2026-03-23T22:00:00Z,2026-03-24T00:00:00Z) "
                        "[2026-03-24T22:00:00Z,2026-03-25T00:00:00Z) "
                        "[2026-03-26T22:00:00Z,2026-03-27T00:00:00Z) "
                        "[2026-03-27T22:00:00Z,2026-03-28T00:00:00Z) "
                        "[2026-03-28T22:00:00Z,2026-03-29T00:00:00Z) "
                        "[2026-03-29T21:00:00Z,2026-03-29T23:00:00Z) "
                        "[2026-03-30T21:00:00Z,2026-03-30T23:00:00Z) "
                        "[2026-04-01T21:00:00Z,2026-04-01T23:00:00Z)");
    /* RDATE periods: with a duration, and with an end */
    assert_string_equal(intervals(ts, "2026-05-30T00:00:00Z", "2026-06-10T00:00:00Z"),
                        "[2026-06-01T08:00:00Z,2026-06-01T09:00:00Z) "
                        "[2026-06-02T08:00:00Z,2026-06-02T08:30:00Z) "
                        "[2026-06-03T08:00:00Z,2026-06-03T10:00:00Z)");
    assert_true(chg_timeset_contains(ts, NULL, U("2026-03-29T22:00:00Z")));
    assert_false(chg_timeset_contains(ts, NULL, U("2026-03-25T23:00:00Z")));
    assert_int_equal(chg_timeset_next_change(ts, NULL, U("2026-06-04T00:00:00Z"), 3650 * 86400LL),
                     INT64_MAX);
    chg_timeset_free(ts);
}

static void test_time_ical_vtimezone(void **state)
{
    (void)state;
    chg_timeset *ts = calendar("tests/fixtures/calendars/vtimezone.ics", NULL);
    /* 02:30 does not exist on 2026-03-08: RFC 5545 reads it with the offset
     * before the gap (03:30 EDT); the repeated 01:30 is the first one (EDT) */
    assert_string_equal(intervals(ts, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
                        "[2026-03-08T07:30:00Z,2026-03-08T08:30:00Z) "
                        "[2026-11-01T05:30:00Z,2026-11-01T08:00:00Z)");
    /* the VTIMEZONE's rules are expanded far ahead */
    assert_string_equal(intervals(ts, "2150-01-01T00:00:00Z", "2151-01-01T00:00:00Z"),
                        "[2150-07-01T16:00:00Z,2150-07-01T17:00:00Z)");
    chg_timeset_free(ts);
}

static void test_time_ical_all_day_and_floating(void **state)
{
    (void)state;
    /* X-WR-TIMEZONE: America/New_York */
    chg_timeset *ts = calendar("tests/fixtures/calendars/allday.ics", NULL);
    assert_string_equal(intervals(ts, "2026-01-01T00:00:00Z", "2026-04-01T00:00:00Z"),
                        "[2026-01-05T05:00:00Z,2026-01-06T05:00:00Z) "
                        "[2026-03-02T05:00:00Z,2026-03-03T05:00:00Z)");
    assert_string_equal(intervals(ts, "2026-07-01T00:00:00Z", "2026-08-01T00:00:00Z"),
                        "[2026-07-10T13:00:00Z,2026-07-10T21:00:00Z)");
    assert_string_equal(intervals(ts, "2026-12-01T00:00:00Z", "2027-02-01T00:00:00Z"),
                        "[2026-12-24T05:00:00Z,2026-12-27T05:00:00Z) "
                        "[2027-01-01T05:00:00Z,2027-01-02T05:00:00Z)");
    chg_timeset_free(ts);
    /* the node's zone wins over X-WR-TIMEZONE */
    ts = calendar("tests/fixtures/calendars/allday.ics", "Europe/Berlin");
    assert_string_equal(intervals(ts, "2026-12-01T00:00:00Z", "2027-02-01T00:00:00Z"),
                        "[2026-12-23T23:00:00Z,2026-12-26T23:00:00Z) "
                        "[2026-12-31T23:00:00Z,2027-01-01T23:00:00Z)");
    chg_timeset_free(ts);
}

static void test_time_ical_overrides_and_cancellations(void **state)
{
    (void)state;
    chg_timeset *ts = calendar("tests/fixtures/calendars/overrides.ics", NULL);
    assert_string_equal(intervals(ts, "2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z"),
                        "[2026-01-05T15:00:00Z,2026-01-05T16:00:00Z) "
                        "[2026-01-13T17:00:00Z,2026-01-13T18:00:00Z) "
                        "[2026-01-26T15:00:00Z,2026-01-26T16:00:00Z)");
    chg_timeset_free(ts);
}

/* DEFAULT_CLOSED: the time set (the CLOSED state) is outside the events. */
static void test_time_ical_default_closed(void **state)
{
    (void)state;
    chg_timeset *ts = calendar("tests/fixtures/calendars/default_closed.ics", NULL);
    /* Saturdays 06:00-10:00 London are the only open times */
    assert_false(chg_timeset_contains(ts, NULL, U("2026-01-10T07:00:00Z")));
    assert_true(chg_timeset_contains(ts, NULL, U("2026-01-10T10:00:00Z")));
    assert_true(chg_timeset_contains(ts, NULL, U("2026-01-09T07:00:00Z")));
    assert_false(chg_timeset_contains(ts, NULL, U("2026-07-11T05:30:00Z"))); /* BST */
    assert_true(chg_timeset_contains(ts, NULL, U("2026-07-11T09:30:00Z")));
    /* before the first event the calendar is closed too */
    assert_true(chg_timeset_contains(ts, NULL, U("2025-06-01T00:00:00Z")));
    assert_string_equal(intervals(ts, "2026-01-09T00:00:00Z", "2026-01-18T00:00:00Z"),
                        "[2026-01-09T00:00:00Z,2026-01-10T06:00:00Z) "
                        "[2026-01-10T10:00:00Z,2026-01-17T06:00:00Z) "
                        "[2026-01-17T10:00:00Z,2026-01-18T00:00:00Z)");
    /* as a window: `not calendar` is open exactly during the events */
    size_t len;
    char *text = read_fixture("tests/fixtures/calendars/default_closed.ics", &len);
    chg_ts_node n[2] = {{.op = CHG_TS_CALENDAR, .ics = text, .ics_len = len},
                        {.op = CHG_TS_NOT, .a = 0}};
    chg_time_error e;
    int bad;
    chg_timeset *open = chg_timeset_build(n, 2, 1, &e, &bad);
    chg_free(text);
    assert_non_null(open);
    const chg_timeset *all[] = {open};
    const bool want[] = {true};
    assert_string_equal(F(chg_timeset_next_admissible(all, want, 1, NULL, U("2026-01-11T00:00:00Z"),
                                                      366 * 86400LL, NULL)),
                        "2026-01-17T06:00:00Z");
    chg_timeset_free(open);
    chg_timeset_free(ts);
    /* AWS: a calendar without events neither blocks nor allows anything */
    ts = calendar("tests/fixtures/calendars/empty_closed.ics", NULL);
    assert_false(chg_timeset_contains(ts, NULL, U("2026-01-10T07:00:00Z")));
    assert_string_equal(intervals(ts, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"), "");
    chg_timeset_free(ts);
}

/* The calendar of the example policy (language.md §2). */
static void test_time_ical_example_policy_calendar(void **state)
{
    (void)state;
    chg_timeset *ts = calendar("policies/calendars/ops-blackouts.ics", NULL);
    /* quarterly on the third Thursday 08:00-20:00 New York, except July;
     * and the datacenter migration */
    assert_string_equal(intervals(ts, "2026-01-01T00:00:00Z", "2027-02-01T00:00:00Z"),
                        "[2026-01-15T13:00:00Z,2026-01-16T01:00:00Z) "
                        "[2026-04-16T12:00:00Z,2026-04-17T00:00:00Z) "
                        "[2026-10-15T12:00:00Z,2026-10-16T00:00:00Z) "
                        "[2026-12-10T00:00:00Z,2026-12-12T00:00:00Z) "
                        "[2027-01-21T13:00:00Z,2027-01-22T01:00:00Z)");
    /* unbounded: still there in the next century */
    assert_string_equal(intervals(ts, "2150-01-01T00:00:00Z", "2150-06-01T00:00:00Z"),
                        "[2150-01-15T13:00:00Z,2150-01-16T01:00:00Z) "
                        "[2150-04-16T12:00:00Z,2150-04-17T00:00:00Z)");
    chg_timeset_free(ts);
}

/* TZIDs with a vendor prefix name IANA zones by their last two parts. */
static void test_time_ical_prefixed_tzid(void **state)
{
    (void)state;
    static const char text[] =
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\n"
        "UID:p@chg.test\r\nDTSTAMP:20260101T000000Z\r\n"
        "DTSTART;TZID=/mozilla.org/20050126_1/Europe/Paris:20260701T100000\r\n"
        "DTEND;TZID=/mozilla.org/20050126_1/Europe/Paris:20260701T110000\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n";
    chg_ts_node n = {.op = CHG_TS_CALENDAR, .ics = text, .ics_len = sizeof text - 1};
    chg_time_error e;
    int bad;
    chg_timeset *ts = chg_timeset_build(&n, 1, 0, &e, &bad);
    if (!ts)
        fail_msg("%s", e.message);
    assert_string_equal(intervals(ts, "2026-06-01T00:00:00Z", "2026-08-01T00:00:00Z"),
                        "[2026-07-01T08:00:00Z,2026-07-01T09:00:00Z)");
    chg_timeset_free(ts);
}

/* Errors carry the place of the offending line. */
static void test_time_ical_errors_point_at_the_line(void **state)
{
    (void)state;
    static const struct {
        const char *body;  /* between BEGIN:VEVENT and END:VEVENT */
        const char *line;  /* the line the error must point at */
        const char *message;
    } cases[] = {
        {"DTSTART:20260101T000000Z\r\nRRULE:FREQ=MINUTELY;COUNT=5\r\n",
         "RRULE:FREQ=MINUTELY;COUNT=5",
         "FREQ=MINUTELY recurrences are not supported in calendars; use a cron time "
         "set for sub-daily schedules"},
        {"DTSTART;TZID=Mars/Olympus:20260101T000000\r\n",
         "DTSTART;TZID=Mars/Olympus:20260101T000000",
         "TZID 'Mars/Olympus' has no VTIMEZONE and is not a known time zone"},
        {"DTSTART:20260102T000000Z\r\nDTEND:20260101T000000Z\r\n", "DTEND:20260101T000000Z",
         "DTEND is before DTSTART"},
        {"DTSTART:not-a-date\r\n", "DTSTART:not-a-date",
         "Can't parse as DATE-TIME value in DTSTART property. Removing entire "
         "property: not-a-date"},
        {"DTSTART:20260101T000000Z\r\nDTEND:20261345T000000Z\r\n", "DTEND:20261345T000000Z",
         "DTEND must be a valid DATE-TIME like DTSTART"},
        {"SUMMARY:no start\r\n", "BEGIN:VEVENT", "VEVENT without DTSTART"},
        {"DTSTART:20260101T000000Z\r\nRRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30\r\n",
         "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
         "RRULE is invalid or can never produce an occurrence"},
        {"DTSTART:20260101T000000Z\r\nDTEND:20260101T010000Z\r\nDURATION:PT1H\r\n",
         "DURATION:PT1H", "VEVENT has both DTEND and DURATION"},
        {"DTSTART;VALUE=DATE:20260101\r\nDTEND:20260102T000000Z\r\n", "DTEND:20260102T000000Z",
         "DTEND must be a valid DATE like DTSTART"},
        {"DTSTART:20260101T000000Z\r\nTHIS LINE IS BROKEN\r\n", "THIS LINE IS BROKEN",
         "Got a data line, but could not find a property name or component begin "
         "tag: THIS LINE IS BROKEN"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char text[1024];
        snprintf(text, sizeof text,
                 "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
                 "BEGIN:VEVENT\r\nUID:x@chg.test\r\nDTSTAMP:20260101T000000Z\r\n%s"
                 "END:VEVENT\r\nEND:VCALENDAR\r\n",
                 cases[i].body);
        chg_ts_node n = {.op = CHG_TS_CALENDAR, .ics = text, .ics_len = strlen(text)};
        chg_time_error e;
        int bad = 5;
        clock_t c0 = clock();
        chg_timeset *ts = chg_timeset_build(&n, 1, 0, &e, &bad);
        double secs = (double)(clock() - c0) / CLOCKS_PER_SEC;
        if (ts) {
            chg_timeset_free(ts);
            fail_msg("case %zu accepted", i);
        }
        assert_true(secs < 5.0); /* bounded, even for impossible rules */
        assert_int_equal(bad, 0);
        if (strcmp(e.message, cases[i].message) != 0)
            fail_msg("case %zu: \"%s\", expected \"%s\"", i, e.message, cases[i].message);
        const char *at = strstr(text, cases[i].line);
        assert_non_null(at);
        if (e.offset != (size_t)(at - text) || e.length != strlen(cases[i].line))
            fail_msg("case %zu: error at %zu+%zu, expected %zu+%zu (\"%s\")", i, e.offset,
                     e.length, (size_t)(at - text), strlen(cases[i].line), cases[i].line);
    }
    /* calendar-level errors */
    static const struct {
        const char *text, *message;
        size_t offset, length;
    } whole[] = {
        {"hello", "not an iCalendar document (BEGIN:VCALENDAR ... END:VCALENDAR)", 0,
         0},
        {"BEGIN:VCALENDAR\r\nX-CALENDAR-TYPE:DEFAULT_MAYBE\r\nEND:VCALENDAR\r\n",
         "X-CALENDAR-TYPE must be DEFAULT_OPEN or DEFAULT_CLOSED, not "
         "'DEFAULT_MAYBE'",
         17, 29},
        {"BEGIN:VCALENDAR\r\nX-WR-TIMEZONE:Not/AZone\r\nEND:VCALENDAR\r\n",
         "X-WR-TIMEZONE 'Not/AZone' is not a known time zone", 17, 23},
    };
    for (size_t i = 0; i < sizeof whole / sizeof *whole; i++) {
        chg_ts_node n = {.op = CHG_TS_CALENDAR, .ics = whole[i].text,
                         .ics_len = strlen(whole[i].text)};
        chg_time_error e;
        int bad;
        assert_null(chg_timeset_build(&n, 1, 0, &e, &bad));
        assert_string_equal(e.message, whole[i].message);
        assert_int_equal(e.offset, whole[i].offset);
        assert_int_equal(e.length, whole[i].length);
    }
    /* a NUL byte inside the text */
    static const char nul[] = "BEGIN:VCALENDAR\r\n\0END:VCALENDAR\r\n";
    chg_ts_node n = {.op = CHG_TS_CALENDAR, .ics = nul, .ics_len = sizeof nul - 1};
    chg_time_error e;
    int bad;
    assert_null(chg_timeset_build(&n, 1, 0, &e, &bad));
    assert_string_equal(e.message, "the text contains a NUL byte");
    assert_int_equal(e.offset, 17);
}

/* Impossible and unbounded rules end: libical's search is bounded. */
static void test_time_ical_unbounded_rules_terminate(void **state)
{
    (void)state;
    static const char *rules[] = {
        "FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=4",
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO",
        "FREQ=WEEKLY;INTERVAL=1000",
        "FREQ=DAILY",
    };
    for (size_t i = 0; i < sizeof rules / sizeof *rules; i++) {
        char text[512];
        snprintf(text, sizeof text,
                 "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\n"
                 "UID:u@chg.test\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T000000Z\r\n"
                 "DTEND:20260105T010000Z\r\nRRULE:%s\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
                 rules[i]);
        chg_ts_node n = {.op = CHG_TS_CALENDAR, .ics = text, .ics_len = strlen(text)};
        chg_time_error e;
        int bad;
        clock_t c0 = clock();
        chg_timeset *ts = chg_timeset_build(&n, 1, 0, &e, &bad);
        double secs = (double)(clock() - c0) / CLOCKS_PER_SEC;
        if (!ts)
            fail_msg("%s: %s", rules[i], e.message);
        if (secs > 5.0)
            fail_msg("%s took %.1f s", rules[i], secs);
        /* DTSTART is always an occurrence */
        assert_true(chg_timeset_contains(ts, NULL, U("2026-01-05T00:30:00Z")));
        chg_timeset_free(ts);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_ical_recurrence_exdate_rdate),
        cmocka_unit_test(test_time_ical_vtimezone),
        cmocka_unit_test(test_time_ical_all_day_and_floating),
        cmocka_unit_test(test_time_ical_overrides_and_cancellations),
        cmocka_unit_test(test_time_ical_default_closed),
        cmocka_unit_test(test_time_ical_example_policy_calendar),
        cmocka_unit_test(test_time_ical_prefixed_tzid),
        cmocka_unit_test(test_time_ical_errors_point_at_the_line),
        cmocka_unit_test(test_time_ical_unbounded_rules_terminate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
