/*
 * test_time_ical.c — calendar time sets from .ics files: recurrence (COUNT,
 * UNTIL, EXDATE, RDATE times and periods), VTIMEZONE (Outlook names, gap
 * and repeated hour per RFC 5545, far future), all-day events, floating
 * times, X-WR-TIMEZONE and the node's zone, RECURRENCE-ID overrides and
 * cancellations, AWS Change Calendar DEFAULT_OPEN / DEFAULT_CLOSED (and a
 * calendar without events), the example policy's calendar, and errors that
 * point at the offending line; calendars built to be slow (many RRULEs,
 * EXDATEs, overrides, unused VTIMEZONEs), and the cache that expands each
 * calendar once within one budget. Fixtures: tests/fixtures/calendars/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
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
    char text[8192];
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

/* RECURRENCE-ID as RFC 5545 §3.8.4.4 has it: the override names the
 * instance by its original start (matched as an instant, whatever zone
 * the override writes it in) and replaces it with itself, a whole
 * component with its own STATUS: moved then cancelled removes the instance
 * and leaves nothing at the new time; an override of a cancelled series
 * that is not cancelled itself stands alone. The file is parsed by libical
 * as every calendar is. */
static void test_time_ical_moved_occurrences(void **state)
{
    (void)state;
    chg_timeset *ts = calendar("tests/fixtures/calendars/moved.ics", NULL);
    /* Wednesdays 18:00 Berlin: Mar 18 (CET), Mar 25 moved to the 26th and
     * cancelled, Apr 1 (CEST) moved to Apr 2 09:00, Apr 8, Apr 15 */
    assert_string_equal(intervals(ts, "2026-03-01T00:00:00Z", "2026-05-01T00:00:00Z"),
                        "[2026-03-18T17:00:00Z,2026-03-18T19:00:00Z) "
                        "[2026-04-02T07:00:00Z,2026-04-02T08:00:00Z) "
                        "[2026-04-08T16:00:00Z,2026-04-08T18:00:00Z) "
                        "[2026-04-15T16:00:00Z,2026-04-15T18:00:00Z)");
    /* the cancelled series: only its moved, uncancelled instance */
    assert_string_equal(intervals(ts, "2026-05-30T00:00:00Z", "2026-06-10T00:00:00Z"),
                        "[2026-06-02T13:00:00Z,2026-06-02T14:00:00Z)");
    chg_timeset_free(ts);
}

/* RANGE=THISANDFUTURE (an override of this and every later instance) is
 * not read: refused, rather than read as this instance alone. */
static void test_time_ical_thisandfuture_refused(void **state)
{
    (void)state;
    static const char text[] =
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
        "BEGIN:VEVENT\r\nUID:u@chg.test\r\nDTSTAMP:20260101T000000Z\r\n"
        "DTSTART:20260105T090000Z\r\nDTEND:20260105T100000Z\r\nRRULE:FREQ=WEEKLY\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:u@chg.test\r\nDTSTAMP:20260101T000000Z\r\n"
        "RECURRENCE-ID;RANGE=THISANDFUTURE:20260119T090000Z\r\n"
        "DTSTART:20260119T140000Z\r\nDTEND:20260119T150000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    chg_ts_node n = {.op = CHG_TS_CALENDAR, .ics = text, .ics_len = strlen(text)};
    chg_time_error e;
    int bad;
    assert_null(chg_timeset_build(&n, 1, 0, &e, &bad));
    assert_string_equal(e.message, "RECURRENCE-ID;RANGE=THISANDFUTURE is not supported: "
                                   "end the series and start a new one at the changed instance");
    assert_memory_equal(text + e.offset, "RECURRENCE-ID;RANGE=THISANDFUTURE:20260119T090000Z", e.length);
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

/* ---- calendars built to be slow (issue 10 point 3) ---------------------------------- */

/* A calendar of one VCALENDAR around `body`, in a chg_buf the caller frees. */
static void vcal(chg_buf *b, const char *body)
{
    chg_buf_init(b);
    chg_buf_puts(b, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n");
    chg_buf_puts(b, body);
    chg_buf_puts(b, "END:VCALENDAR\r\n");
    assert_false(b->oom);
}

static chg_timeset *build_text(const char *text, size_t len, chg_time_error *e)
{
    chg_ts_node n = {.op = CHG_TS_CALENDAR, .ics = text, .ics_len = len};
    int bad;
    memset(e, 0, sizeof *e);
    return chg_timeset_build(&n, 1, 0, e, &bad);
}

/* "YYYYMMDD" of day `d` (days since 1970-01-01). */
static const char *ymd(int64_t d)
{
    static char ring[4][40];
    static int k;
    char *b = ring[k++ & 3];
    int64_t y;
    int m, dd;
    chg_civil_from_days(d, &y, &m, &dd);
    snprintf(b, 40, "%04d%02d%02d", (int)y, m, dd);
    return b;
}

static int count_iv(void *ud, int64_t a, int64_t b)
{
    (void)a;
    (void)b;
    ++*(size_t *)ud;
    return 0;
}

static size_t count_intervals(const chg_timeset *ts)
{
    size_t n = 0;
    chg_timeset_intervals(ts, NULL, U("1900-01-01T00:00:00Z"), U("2200-01-01T00:00:00Z"), count_iv, &n);
    return n;
}

/* Fifty RRULEs in one event are the union of their occurrences; and the
 * calendar's cap counts the starts of all its rules together, so five
 * copies of one daily rule from 1900 (110,000 starts each, the same
 * ones) are refused, where a cap per rule let each run to its end. */
static void test_time_ical_many_rrules(void **state)
{
    (void)state;
    chg_buf body;
    chg_buf_init(&body);
    chg_buf_puts(&body, "BEGIN:VEVENT\r\nUID:r@chg.test\r\nDTSTART:20260101T090000Z\r\n"
                        "DTEND:20260101T100000Z\r\n");
    for (int k = 0; k < 50; k++)
        chg_buf_printf(&body, "RRULE:FREQ=YEARLY;BYMONTH=%d;BYMONTHDAY=%d;UNTIL=20271231T235959Z\r\n", k % 12 + 1, k / 12 + 1);
    chg_buf_puts(&body, "END:VEVENT\r\n");
    chg_buf text;
    vcal(&text, body.data);
    chg_time_error e;
    chg_timeset *ts = build_text(text.data, text.len, &e);
    if (!ts)
        fail_msg("%s", e.message);
    /* expected: each (month, day) in 2026 and 2027, in order */
    chg_buf want;
    chg_buf_init(&want);
    for (int y = 2026; y <= 2027; y++)
        for (int m = 1; m <= 12; m++)
            for (int d = 1; d <= 5; d++)
                if ((d - 1) * 12 + (m - 1) < 50)
                    chg_buf_printf(&want, "%s[%04d-%02d-%02dT09:00:00Z,%04d-%02d-%02dT10:00:00Z)", want.len ? " " : "",
                                   y, m, d, y, m, d);
    assert_string_equal(intervals(ts, "2025-01-01T00:00:00Z", "2029-01-01T00:00:00Z"), want.data);
    chg_timeset_free(ts);
    chg_buf_free(&want);
    chg_buf_free(&text);
    chg_buf_free(&body);

    vcal(&text, "BEGIN:VEVENT\r\nUID:d@chg.test\r\nDTSTART:19000101T090000Z\r\nDTEND:19000101T100000Z\r\n"
                "RRULE:FREQ=DAILY\r\nRRULE:FREQ=DAILY\r\nRRULE:FREQ=DAILY\r\nRRULE:FREQ=DAILY\r\n"
                "RRULE:FREQ=DAILY\r\nEND:VEVENT\r\n");
    clock_t c0 = clock();
    assert_null(build_text(text.data, text.len, &e));
    assert_true((double)(clock() - c0) / CLOCKS_PER_SEC < 20.0);
    assert_string_equal(e.message, "more than 500000 occurrences before 2200 (all the calendar's rules together)");
    assert_int_equal(e.status, CHG_EINVAL);
    const char *at = strstr(text.data, "RRULE:FREQ=DAILY");
    assert_int_equal(e.offset, (size_t)(at - text.data));
    assert_int_equal(e.length, strlen("RRULE:FREQ=DAILY"));
    chg_buf_free(&text);
}

/* The calendar of `body` (freed) into text, built in under 3 s of CPU:
 * with the sanitizers the EXDATE and override cases take under one; the
 * scans of every EXDATE (override) for each occurrence they replace took
 * 4 s (14 s) in a Release build. */
static chg_timeset *build_fast(chg_buf *text, chg_buf *body)
{
    vcal(text, body->data);
    chg_buf_free(body);
    chg_time_error e;
    clock_t c0 = clock();
    chg_timeset *ts = build_text(text->data, text->len, &e);
    double secs = (double)(clock() - c0) / CLOCKS_PER_SEC;
    if (!ts)
        fail_msg("%s", e.message);
    if (secs > 3.0)
        fail_msg("%.1f s", secs);
    return ts;
}

/* A daily event from 1950 with an EXDATE on every day but Sundays
 * (date-times, and DATEs for the Saturdays): 78,000 exclusions, each
 * occurrence looked up in them. What is left is every Sunday. */
static void test_time_ical_many_exdates(void **state)
{
    (void)state;
    int64_t d0 = chg_days_from_civil(1950, 1, 1), d1 = chg_days_from_civil(2200, 1, 1);
    assert_int_equal(chg_weekday_from_days(d0), 0); /* a Sunday */
    chg_buf body;
    chg_buf_init(&body);
    chg_buf_puts(&body, "BEGIN:VEVENT\r\nUID:x@chg.test\r\nDTSTART:19500101T090000Z\r\n"
                        "DTEND:19500101T100000Z\r\nRRULE:FREQ=DAILY\r\n");
    /* in reverse, so nothing depends on the file's order */
    for (int64_t d = d1 - 1; d >= d0; d--) {
        int wd = chg_weekday_from_days(d);
        if (wd == 6)
            chg_buf_printf(&body, "EXDATE;VALUE=DATE:%s\r\n", ymd(d));
        else if (wd != 0)
            chg_buf_printf(&body, "EXDATE:%sT090000Z\r\n", ymd(d));
    }
    chg_buf_puts(&body, "END:VEVENT\r\n");
    chg_buf text;
    chg_timeset *ts = build_fast(&text, &body);
    assert_string_equal(intervals(ts, "2026-11-28T00:00:00Z", "2026-12-14T00:00:00Z"),
                        "[2026-11-29T09:00:00Z,2026-11-29T10:00:00Z) "
                        "[2026-12-06T09:00:00Z,2026-12-06T10:00:00Z) "
                        "[2026-12-13T09:00:00Z,2026-12-13T10:00:00Z)");
    assert_int_equal(count_intervals(ts), (size_t)((d1 - d0 + 6) / 7));
    chg_timeset_free(ts);
    chg_buf_free(&text);
}

/* A daily event from 1950 and 20,000 RECURRENCE-ID events that move its
 * first 20,000 occurrences to 12:00 (every tenth cancelled instead),
 * before and after the master in the file. */
static void test_time_ical_many_overrides(void **state)
{
    (void)state;
    int64_t d0 = chg_days_from_civil(1950, 1, 1), d1 = chg_days_from_civil(2200, 1, 1);
    const int64_t n = 20000;
    chg_buf body;
    chg_buf_init(&body);
    for (int64_t k = 0; k < n; k++) {
        if (k == n / 2)
            chg_buf_puts(&body, "BEGIN:VEVENT\r\nUID:m@chg.test\r\nDTSTART:19500101T090000Z\r\n"
                                "DTEND:19500101T100000Z\r\nRRULE:FREQ=DAILY\r\nEND:VEVENT\r\n");
        const char *d = ymd(d0 + k);
        chg_buf_printf(&body,
                       "BEGIN:VEVENT\r\nUID:m@chg.test\r\nRECURRENCE-ID:%sT090000Z\r\n"
                       "DTSTART:%sT120000Z\r\nDTEND:%sT130000Z\r\n%sEND:VEVENT\r\n",
                       d, d, d, k % 10 == 9 ? "STATUS:CANCELLED\r\n" : "");
    }
    chg_buf text;
    chg_timeset *ts = build_fast(&text, &body);
    /* days 8..11: moved, cancelled (the tenth), moved, moved */
    assert_string_equal(intervals(ts, "1950-01-09T00:00:00Z", "1950-01-13T00:00:00Z"),
                        "[1950-01-09T12:00:00Z,1950-01-09T13:00:00Z) "
                        "[1950-01-11T12:00:00Z,1950-01-11T13:00:00Z) "
                        "[1950-01-12T12:00:00Z,1950-01-12T13:00:00Z)");
    /* the last override, and the master again after it */
    char a[40], b[40];
    chg_time_format_utc((d0 + n - 2) * 86400, a);
    chg_time_format_utc((d0 + n + 1) * 86400, b);
    char want[256];
    snprintf(want, sizeof want, "[%.10sT12:00:00Z,%.10sT13:00:00Z) [%s,%.10sT10:00:00Z)", a, a,
             F((d0 + n) * 86400 + 9 * 3600), F((d0 + n) * 86400));
    assert_string_equal(intervals(ts, a, b), want);
    assert_int_equal(count_intervals(ts), (size_t)(d1 - d0 - n / 10));
    chg_timeset_free(ts);
    chg_buf_free(&text);
}

/* An Outlook-style VTIMEZONE: rules from 1601. */
static void vtimezone(chg_buf *b, const char *tzid, const char *std_rule)
{
    chg_buf_printf(b,
                   "BEGIN:VTIMEZONE\r\nTZID:%s\r\n"
                   "BEGIN:STANDARD\r\nDTSTART:16011104T020000\r\nRRULE:%s\r\n"
                   "TZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nEND:STANDARD\r\n"
                   "BEGIN:DAYLIGHT\r\nDTSTART:16010311T020000\r\nRRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3\r\n"
                   "TZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n",
                   tzid, std_rule);
}

/* A hundred VTIMEZONEs of which one is named: the others are checked for
 * their form but never expanded, so one whose expansion would be refused
 * (a daily STANDARD rule: too many onsets) does no harm until a time
 * names it; one without TZOFFSETTO is an error, named or not. */
static void test_time_ical_unused_vtimezones(void **state)
{
    (void)state;
    for (int named = 0; named < 2; named++) {
        chg_buf body;
        chg_buf_init(&body);
        for (int k = 0; k < 99; k++) {
            char id[32];
            snprintf(id, sizeof id, "Zone %d", k);
            vtimezone(&body, id, "FREQ=YEARLY;BYDAY=1SU;BYMONTH=11");
        }
        vtimezone(&body, "Daily", "FREQ=DAILY");
        chg_buf_printf(&body, "BEGIN:VEVENT\r\nUID:v@chg.test\r\nDTSTART;TZID=%s:20260701T090000\r\n"
                              "DTEND;TZID=%s:20260701T100000\r\nEND:VEVENT\r\n",
                       named ? "Daily" : "Zone 50", named ? "Daily" : "Zone 50");
        chg_buf text;
        vcal(&text, body.data);
        chg_buf_free(&body);
        chg_time_error e;
        chg_timeset *ts = build_text(text.data, text.len, &e);
        if (!named) {
            if (!ts)
                fail_msg("%s", e.message);
            /* 09:00 daylight time (-04:00) */
            assert_string_equal(intervals(ts, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
                                "[2026-07-01T13:00:00Z,2026-07-01T14:00:00Z)");
        } else {
            assert_null(ts);
            assert_string_equal(e.message, "RRULE expands to more than 20000 occurrences before 2200");
            /* placed on the Daily zone's RRULE */
            const char *at = strstr(strstr(text.data, "TZID:Daily"), "RRULE:FREQ=DAILY");
            assert_int_equal(e.offset, (size_t)(at - text.data));
        }
        chg_timeset_free(ts);
        chg_buf_free(&text);
    }
    chg_buf body;
    chg_buf_init(&body);
    vtimezone(&body, "Zone 0", "FREQ=YEARLY;BYDAY=1SU;BYMONTH=11");
    chg_buf_puts(&body, "BEGIN:VTIMEZONE\r\nTZID:Broken\r\nBEGIN:STANDARD\r\nDTSTART:16011104T020000\r\n"
                        "TZOFFSETFROM:-0400\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
                        "BEGIN:VEVENT\r\nUID:v@chg.test\r\nDTSTART:20260701T090000Z\r\nEND:VEVENT\r\n");
    chg_buf text;
    vcal(&text, body.data);
    chg_buf_free(&body);
    chg_time_error e;
    assert_null(build_text(text.data, text.len, &e));
    assert_string_equal(e.message,
                        "VTIMEZONE 'Broken' needs DTSTART, TZOFFSETFROM and TZOFFSETTO in each STANDARD/DAYLIGHT");
    /* on its own BEGIN line (libical lists a file's zones last to first) */
    assert_int_equal(e.offset, (size_t)(strstr(text.data, "BEGIN:VTIMEZONE\r\nTZID:Broken") - text.data));
    assert_int_equal(e.length, strlen("BEGIN:VTIMEZONE"));
    chg_buf_free(&text);
    /* two definitions of one TZID: the first in the file is the zone */
    vcal(&text, "BEGIN:VTIMEZONE\r\nTZID:Dup\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\n"
                "TZOFFSETFROM:-0500\r\nTZOFFSETTO:-0500\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
                "BEGIN:VTIMEZONE\r\nTZID:Dup\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\n"
                "TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
                "BEGIN:VEVENT\r\nUID:d@chg.test\r\nDTSTART;TZID=Dup:20260701T090000\r\n"
                "DTEND;TZID=Dup:20260701T100000\r\nEND:VEVENT\r\n");
    chg_timeset *ts = build_text(text.data, text.len, &e);
    if (!ts)
        fail_msg("%s", e.message);
    assert_string_equal(intervals(ts, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
                        "[2026-07-01T14:00:00Z,2026-07-01T15:00:00Z)");
    chg_timeset_free(ts);
    chg_buf_free(&text);
}

/* A weekly event of `count` occurrences; uid tells calendars apart. */
static char *weekly_text(const char *uid, int count, size_t *len)
{
    chg_buf b;
    chg_buf_init(&b);
    chg_buf_printf(&b,
                   "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:%s\r\n"
                   "DTSTART:20260105T090000\r\nDTEND:20260105T100000\r\nRRULE:FREQ=WEEKLY;COUNT=%d\r\n"
                   "END:VEVENT\r\nEND:VCALENDAR\r\n",
                   uid, count);
    assert_false(b.oom);
    *len = b.len;
    return b.data;
}

/* One cache: a calendar is expanded once however many nodes and sets name
 * it (by its address, or its content at another address), so it spends
 * the budget once; the calendar that would pass the budget is refused
 * with CHG_ERANGE, and stays refused; a zone makes another calendar. The
 * sets answer as uncached ones do. */
static void test_time_ical_cache_and_budget(void **state)
{
    (void)state;
    size_t la, lb;
    char *a = weekly_text("a@chg.test", 600, &la), *b = weekly_text("b@chg.test", 600, &lb);
    char *a2 = chg_strndup(a, la);
    /* 601 steps each: DTSTART and the rule's 600 starts */
    chg_ts_cache *cache = chg_ts_cache_new(1000);
    assert_non_null(cache);
    chg_ts_node one = {.op = CHG_TS_CALENDAR, .ics = a, .ics_len = la};
    chg_ts_node two[3] = {one, {.op = CHG_TS_CALENDAR, .ics = a2, .ics_len = la}, {.op = CHG_TS_OR, .a = 0, .b = 1}};
    chg_time_error e;
    int bad;
    chg_timeset *s1 = chg_timeset_build_cached(&one, 1, 0, cache, &e, &bad);
    chg_timeset *s2 = chg_timeset_build_cached(two, 3, 2, cache, &e, &bad);
    chg_timeset *s3 = chg_timeset_build_cached(&one, 1, 0, cache, &e, &bad);
    chg_timeset *plain = chg_timeset_build(&one, 1, 0, &e, &bad);
    assert_non_null(s1);
    assert_non_null(s2);
    assert_non_null(s3);
    assert_non_null(plain);
    const char *want = "[2026-01-05T09:00:00Z,2026-01-05T10:00:00Z) [2026-01-12T09:00:00Z,2026-01-12T10:00:00Z)";
    assert_string_equal(intervals(s1, "2026-01-01T00:00:00Z", "2026-01-13T00:00:00Z"), want);
    assert_string_equal(intervals(s2, "2026-01-01T00:00:00Z", "2026-01-13T00:00:00Z"), want);
    assert_string_equal(intervals(plain, "2026-01-01T00:00:00Z", "2026-01-13T00:00:00Z"), want);
    assert_int_equal(count_intervals(s3), 600);
    /* b: 601 more steps than the 399 left */
    chg_ts_node nb = {.op = CHG_TS_CALENDAR, .ics = b, .ics_len = lb};
    for (int k = 0; k < 2; k++) {
        memset(&e, 0, sizeof e);
        bad = -1;
        assert_null(chg_timeset_build_cached(&nb, 1, 0, cache, &e, &bad));
        assert_int_equal(e.status, CHG_ERANGE);
        assert_int_equal(bad, 0);
        assert_string_equal(e.message, "the calendars of this build expand to more than 1000 occurrences together");
        assert_int_equal(e.offset, (size_t)(strstr(b, "RRULE:") - b));
    }
    /* a with a zone is another expansion: nothing is left for it */
    chg_ts_node nz = one;
    nz.zone = "Europe/Berlin";
    assert_null(chg_timeset_build_cached(&nz, 1, 0, cache, &e, &bad));
    assert_int_equal(e.status, CHG_ERANGE);
    /* a refused calendar is refused again from the cache, with its place */
    chg_ts_node bad_cal = {.op = CHG_TS_CALENDAR, .ics = "hello", .ics_len = 5};
    for (int k = 0; k < 2; k++) {
        assert_null(chg_timeset_build_cached(&bad_cal, 1, 0, cache, &e, &bad));
        assert_int_equal(e.status, CHG_EINVAL);
        assert_string_equal(e.message, "not an iCalendar document (BEGIN:VCALENDAR ... END:VCALENDAR)");
    }
    chg_timeset_free(s1);
    chg_timeset_free(s2);
    chg_timeset_free(s3);
    chg_timeset_free(plain);
    chg_ts_cache_free(cache);
    chg_free(a);
    chg_free(a2);
    chg_free(b);
}

/* ---- next transitions with no horizon (issue 14 point 5) ---------------------------- */

/* The shipped calendars: the policy library's, the fixtures' and those
 * of the language tests. */
static const char *const shipped[] = {
    "policies/calendars/ops-blackouts.ics",     "policies/calendars/us-holidays.ics",
    "tests/fixtures/calendars/allday.ics",      "tests/fixtures/calendars/default_closed.ics",
    "tests/fixtures/calendars/empty_closed.ics", "tests/fixtures/calendars/moved.ics",
    "tests/fixtures/calendars/overrides.ics",   "tests/fixtures/calendars/recurring.ics",
    "tests/fixtures/calendars/vtimezone.ics",   "tests/lang/calendars/slots-weekly.ics",
    "tests/lang/calendars/slots-2056.ics",      "tests/lang/calendars/slots-2027.ics",
    "tests/lang/calendars/freeze-2y.ics"};

/* A calendar fixture as a window: `not calendar`. */
static chg_timeset *not_calendar(const char *fixture)
{
    size_t len;
    char *text = read_fixture(fixture, &len);
    chg_ts_node n[2] = {{.op = CHG_TS_CALENDAR, .ics = text, .ics_len = len}, {.op = CHG_TS_NOT, .a = 0}};
    chg_time_error e;
    int bad;
    chg_timeset *ts = chg_timeset_build(n, 2, 1, &e, &bad);
    chg_free(text);
    if (!ts)
        fail_msg("%s: %s", fixture, e.message);
    return ts;
}

/* The intervals of a set within [a, b), as pairs. */
typedef struct ivlist {
    int64_t *v;
    size_t n, cap;
} ivlist;

static int iv_push(void *ud, int64_t a, int64_t b)
{
    ivlist *l = ud;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = realloc(l->v, l->cap * 2 * sizeof *l->v);
        assert_non_null(l->v);
    }
    l->v[2 * l->n] = a;
    l->v[2 * l->n + 1] = b;
    l->n++;
    return 0;
}

static bool iv_has(const ivlist *l, int64_t t)
{
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->v[2 * mid + 1] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < l->n && l->v[2 * lo] <= t;
}

/* The earliest instant in [t, end) at which every set is as wanted, from
 * the sets' interval lists (an enumeration, not the search under test):
 * membership changes only at an interval's edge, so the candidates are t
 * and the edges. INT64_MAX if none. */
static int64_t enumerated_next_admissible(const chg_timeset *const *sets, const bool *want, size_t n, int64_t t,
                                          int64_t end)
{
    ivlist l[4] = {{0}};
    assert_true(n <= 4);
    for (size_t k = 0; k < n; k++)
        chg_timeset_intervals(sets[k], NULL, t, end, iv_push, &l[k]);
    int64_t best = INT64_MAX;
    for (size_t k = 0; k <= n; k++) {
        size_t m = k < n ? 2 * l[k].n : 1;
        for (size_t i = 0; i < m; i++) {
            int64_t c = k < n ? l[k].v[i] : t;
            if (c >= best || c >= end)
                continue;
            bool ok = true;
            for (size_t j = 0; j < n && ok; j++)
                ok = iv_has(&l[j], c) == want[j];
            if (ok)
                best = c;
        }
    }
    for (size_t k = 0; k < n; k++)
        free(l[k].v);
    return best;
}

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 11;
}

/* The searches with no horizon (what the VM asks when every set is a
 * calendar) against the old bounded ones, on every shipped calendar as a
 * freeze, as a window, and as a freeze beside a window of weekly slots:
 * at random instants from 1995 to 2201 and at the edges of the intervals
 * of 2020-2040, with horizons of a day, a year and ten years, wherever
 * the bounded search answers, the unbounded one gives the same instant;
 * where it does not, the unbounded answer lies past the horizon, and it
 * is the earliest one by an enumeration of the sets' intervals. */
static void test_time_ical_unbounded_equals_bounded(void **state)
{
    (void)state;
    const int64_t hs[] = {86400, CHG_HORIZON_DEFAULT, CHG_HORIZON_MAX};
    const int64_t lo = U("1995-01-01T00:00:00Z"), span = U("2201-01-01T00:00:00Z") - lo;
    chg_timeset *slots = not_calendar("tests/lang/calendars/slots-weekly.ics");
    uint64_t seed = 14;
    size_t compared = 0, far = 0, enumerated = 0;
    for (size_t c = 0; c < CHG_ARRAY_LEN(shipped); c++) {
        /* one expansion for both (a cache), as a policy's build does */
        size_t len;
        char *text = read_fixture(shipped[c], &len);
        chg_ts_node nodes[2] = {{.op = CHG_TS_CALENDAR, .ics = text, .ics_len = len}, {.op = CHG_TS_NOT, .a = 0}};
        chg_ts_cache *cache = chg_ts_cache_new(CHG_TS_CALENDAR_BUDGET);
        chg_time_error e;
        int bad;
        chg_timeset *freeze = chg_timeset_build_cached(nodes, 2, 0, cache, &e, &bad);
        chg_timeset *window = chg_timeset_build_cached(nodes, 2, 1, cache, &e, &bad);
        assert_non_null(freeze);
        assert_non_null(window);
        assert_true(chg_timeset_is_finite(freeze));
        assert_true(chg_timeset_is_finite(window));
        /* the instants: random ones, and the edges of 2020-2040 */
        ivlist edges = {0};
        chg_timeset_intervals(freeze, NULL, U("2020-01-01T00:00:00Z"), U("2040-01-01T00:00:00Z"), iv_push, &edges);
        size_t nrand = 150, nt = nrand + 3 * 2 * (edges.n < 40 ? edges.n : 40);
        for (size_t i = 0; i < nt; i++) {
            int64_t t = i < nrand ? lo + (int64_t)(lcg(&seed) % (uint64_t)span)
                                  : edges.v[(i - nrand) / 3] + (int64_t)((i - nrand) % 3) - 1;
            for (int config = 0; config < 3; config++) {
                const chg_timeset *sets[2] = {config == 1 ? window : config == 2 ? slots : freeze, freeze};
                const bool want[2] = {config != 0, false};
                size_t n = config == 2 ? 2 : 1;
                int64_t unb = CHG_TIME_MAX - t;
                int64_t open = chg_timeset_next_admissible(sets, want, n, NULL, t, unb, NULL);
                int64_t until = chg_timeset_admissible_until(sets, want, n, NULL, t, unb, NULL);
                for (size_t k = 0; k < CHG_ARRAY_LEN(hs); k++) {
                    int64_t o = chg_timeset_next_admissible(sets, want, n, NULL, t, hs[k], NULL);
                    int64_t u = chg_timeset_admissible_until(sets, want, n, NULL, t, hs[k], NULL);
                    compared += 2;
                    if (o != INT64_MAX && o != open)
                        fail_msg("%s config %d at %s, horizon %llds: next_admissible %s bounded, %s unbounded",
                                 shipped[c], config, F(t), (long long)hs[k], F(o), F(open));
                    if (o == INT64_MAX && open != INT64_MAX && open <= t + hs[k])
                        fail_msg("%s config %d at %s: unbounded %s inside the horizon the bounded search missed",
                                 shipped[c], config, F(t), F(open));
                    if (u != INT64_MAX && u != until)
                        fail_msg("%s config %d at %s, horizon %llds: admissible_until %s bounded, %s unbounded",
                                 shipped[c], config, F(t), (long long)hs[k], F(u), F(until));
                    if (u == INT64_MAX && until != INT64_MAX && until <= t + hs[k])
                        fail_msg("%s config %d at %s: unbounded until %s inside the horizon", shipped[c], config,
                                 F(t), F(until));
                }
                /* a far answer is the earliest, by enumeration (up to 2201) */
                if (open != INT64_MAX && open > t + CHG_HORIZON_MAX) {
                    far++;
                    if (open < U("2201-01-01T00:00:00Z") && enumerated < 200) {
                        enumerated++;
                        assert_string_equal(F(enumerated_next_admissible(sets, want, n, t, open + 1)), F(open));
                    }
                }
            }
        }
        free(edges.v);
        chg_timeset_free(freeze);
        chg_timeset_free(window);
        chg_ts_cache_free(cache);
        chg_free(text);
    }
    chg_timeset_free(slots);
    print_message("%zu bounded answers compared (next_admissible and admissible_until), %zu far answers, "
                  "%zu of them enumerated\n",
                  compared, far, enumerated);
    assert_true(far > 0);
}

/* Answers checked by hand, past any horizon: a yearly slot that starts 30
 * years ahead, the last event of a calendar (nothing after it: never), a
 * DEFAULT_CLOSED calendar (a window when not'ed), and which sets count
 * as finite (no horizon in the VM). */
static void test_time_ical_far_answers(void **state)
{
    (void)state;
    chg_timeset *ts = calendar("tests/lang/calendars/slots-2056.ics", NULL); /* DEFAULT_CLOSED: CLOSED outside */
    int64_t from = U("2026-12-01T00:00:00Z"), unb = CHG_TIME_MAX - from;
    assert_true(chg_timeset_contains(ts, NULL, from));
    assert_int_equal(chg_timeset_next_change(ts, NULL, from, CHG_HORIZON_MAX), INT64_MAX);
    assert_string_equal(F(chg_timeset_next_change(ts, NULL, from, unb)), "2056-06-01T08:00:00Z");
    assert_string_equal(F(chg_timeset_next_change(ts, NULL, U("2056-06-01T08:00:00Z"), unb)),
                        "2056-06-01T12:00:00Z");
    assert_string_equal(F(chg_timeset_next_change(ts, NULL, U("2056-06-01T12:00:00Z"), unb)),
                        "2057-06-01T08:00:00Z");
    chg_timeset_free(ts);

    ts = not_calendar("tests/lang/calendars/slots-2027.ics");
    const chg_timeset *w[] = {ts};
    const bool want[] = {true};
    from = U("2026-01-05T00:00:00Z");
    assert_int_equal(chg_timeset_next_admissible(w, want, 1, NULL, from, CHG_HORIZON_DEFAULT, NULL), INT64_MAX);
    assert_string_equal(F(chg_timeset_next_admissible(w, want, 1, NULL, from, CHG_TIME_MAX - from, NULL)),
                        "2027-09-15T08:00:00Z");
    from = U("2027-09-15T12:00:00Z");
    assert_int_equal(chg_timeset_next_admissible(w, want, 1, NULL, from, CHG_TIME_MAX - from, NULL), INT64_MAX);
    assert_int_equal(chg_timeset_next_change(ts, NULL, from, CHG_TIME_MAX - from), INT64_MAX);
    chg_timeset_free(ts);

    /* finite: calendars, ranges, at, flags and their or/and/not; not a
     * set with a recurring schedule in it */
    size_t len;
    char *text = read_fixture("tests/lang/calendars/slots-weekly.ics", &len);
    chg_ts_node n[] = {
        {.op = CHG_TS_CALENDAR, .ics = text, .ics_len = len},
        {.op = CHG_TS_RANGE, .from = 0, .to = 86400},
        {.op = CHG_TS_FLAG, .flag = "f"},
        {.op = CHG_TS_AT, .from = 0, .duration = 60},
        {.op = CHG_TS_WEEKLY, .days = 2, .start_min = 60, .end_min = 120},
        {.op = CHG_TS_OR, .a = 0, .b = 1},
        {.op = CHG_TS_AND, .a = 5, .b = 2},
        {.op = CHG_TS_OR, .a = 6, .b = 3},
        {.op = CHG_TS_NOT, .a = 7},
        {.op = CHG_TS_AND, .a = 8, .b = 4},
    };
    chg_time_error e;
    int bad;
    for (int root = 0; root < (int)CHG_ARRAY_LEN(n); root++) {
        chg_timeset *s = chg_timeset_build(n, CHG_ARRAY_LEN(n), root, &e, &bad);
        assert_non_null(s);
        assert_int_equal(chg_timeset_is_finite(s), root != 4 && root != 9);
        chg_timeset_free(s);
    }
    chg_free(text);
}

/* Counts the next-change questions of a search. */
typedef struct counted {
    const chg_timeset *const *sets;
    size_t calls;
} counted;

static bool counted_contains(void *ud, size_t k, int64_t t)
{
    const counted *c = ud;
    return chg_timeset_contains(c->sets[k], NULL, t);
}

static int64_t counted_next_change(void *ud, size_t k, int64_t t, int64_t h)
{
    counted *c = ud;
    c->calls++;
    return chg_timeset_next_change(c->sets[k], NULL, t, h);
}

/* The bound of a search with no horizon: it passes at least one change
 * of one set a step, so it takes at most as many steps as the calendars
 * have interval edges after its start. Daily slots from 2026 that a
 * daily freeze always covers never admit a change: the search walks
 * them all, up to 2200, where the calendars end, and answers never, in
 * at most 2 × (slots + freezes) steps; a calendar whose events always
 * overlap is one interval to 2200, found in one step. */
static void test_time_ical_unbounded_search_is_bounded(void **state)
{
    (void)state;
    chg_buf slots_text, freeze_text;
    vcal(&slots_text, "X-CALENDAR-TYPE:DEFAULT_CLOSED\r\nBEGIN:VEVENT\r\nUID:s@chg.test\r\n"
                      "DTSTART:20260101T080000Z\r\nDTEND:20260101T120000Z\r\nRRULE:FREQ=DAILY\r\nEND:VEVENT\r\n");
    vcal(&freeze_text, "BEGIN:VEVENT\r\nUID:f@chg.test\r\nDTSTART:20260101T070000Z\r\nDTEND:20260101T130000Z\r\n"
                       "RRULE:FREQ=DAILY\r\nEND:VEVENT\r\n");
    chg_ts_node n[3] = {{.op = CHG_TS_CALENDAR, .ics = slots_text.data, .ics_len = slots_text.len},
                        {.op = CHG_TS_NOT, .a = 0},
                        {.op = CHG_TS_CALENDAR, .ics = freeze_text.data, .ics_len = freeze_text.len}};
    chg_time_error e;
    int bad;
    chg_timeset *window = chg_timeset_build(n, 3, 1, &e, &bad), *freeze = chg_timeset_build(n, 3, 2, &e, &bad);
    assert_non_null(window);
    assert_non_null(freeze);
    size_t edges = 2 * (count_intervals(window) + count_intervals(freeze));
    assert_true(edges > 4 * 63000);
    const chg_timeset *sets[] = {window, freeze};
    const bool want[] = {true, false};
    counted c = {sets, 0};
    chg_ts_probe probe = {counted_contains, counted_next_change, &c};
    int64_t from = U("2026-06-01T00:00:00Z");
    clock_t c0 = clock();
    assert_int_equal(chg_timeset_next_admissible(sets, want, 2, NULL, from, CHG_TIME_MAX - from, &probe), INT64_MAX);
    double secs = (double)(clock() - c0) / CLOCKS_PER_SEC;
    print_message("%zu steps over %zu interval edges, %.2f s\n", c.calls, edges, secs);
    assert_true(c.calls > 0 && c.calls <= edges);
    /* the same without the probe, as the VM asks */
    assert_int_equal(chg_timeset_next_admissible(sets, want, 2, NULL, from, CHG_TIME_MAX - from, NULL), INT64_MAX);
    chg_timeset_free(window);
    chg_timeset_free(freeze);
    chg_buf_free(&slots_text);
    chg_buf_free(&freeze_text);

    chg_buf always;
    vcal(&always, "BEGIN:VEVENT\r\nUID:a@chg.test\r\nDTSTART:20260101T000000Z\r\nDTEND:20260101T130000Z\r\n"
                  "RRULE:FREQ=DAILY\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:b@chg.test\r\nDTSTART:20260101T120000Z\r\n"
                  "DTEND:20260102T010000Z\r\nRRULE:FREQ=DAILY\r\nEND:VEVENT\r\n");
    chg_timeset *ts = build_text(always.data, always.len, &e);
    assert_non_null(ts);
    const chg_timeset *one[] = {ts};
    const bool no[] = {false};
    counted c1 = {one, 0};
    probe.ud = &c1;
    from = U("2030-01-01T00:00:00Z");
    assert_string_equal(F(chg_timeset_next_admissible(one, no, 1, NULL, from, CHG_TIME_MAX - from, &probe)),
                        "2200-01-01T01:00:00Z");
    assert_int_equal(c1.calls, 1);
    chg_timeset_free(ts);
    chg_buf_free(&always);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_ical_recurrence_exdate_rdate),
        cmocka_unit_test(test_time_ical_vtimezone),
        cmocka_unit_test(test_time_ical_all_day_and_floating),
        cmocka_unit_test(test_time_ical_overrides_and_cancellations),
        cmocka_unit_test(test_time_ical_moved_occurrences),
        cmocka_unit_test(test_time_ical_thisandfuture_refused),
        cmocka_unit_test(test_time_ical_default_closed),
        cmocka_unit_test(test_time_ical_example_policy_calendar),
        cmocka_unit_test(test_time_ical_prefixed_tzid),
        cmocka_unit_test(test_time_ical_errors_point_at_the_line),
        cmocka_unit_test(test_time_ical_unbounded_rules_terminate),
        cmocka_unit_test(test_time_ical_many_rrules),
        cmocka_unit_test(test_time_ical_many_exdates),
        cmocka_unit_test(test_time_ical_many_overrides),
        cmocka_unit_test(test_time_ical_unused_vtimezones),
        cmocka_unit_test(test_time_ical_cache_and_budget),
        cmocka_unit_test(test_time_ical_unbounded_equals_bounded),
        cmocka_unit_test(test_time_ical_far_answers),
        cmocka_unit_test(test_time_ical_unbounded_search_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
