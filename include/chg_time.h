/*
 * chg_time.h — the one time-set implementation of chg: time zones from the
 * system tz database, cron schedules (AWS, SSM and classic dialects),
 * weekly/daily/yearly/absolute schedules, iCalendar calendars, runtime
 * flags, and the algebra over them (or, and, not).
 *
 * Used by the compiler (validation, time analysis), the VM (membership,
 * next_open, closes_at), `chgc windows` and `chgc replay`. Instants are
 * int64 seconds since 1970-01-01T00:00:00Z. Nothing here reads the clock.
 *
 * Ownership: a chg_tz and a chg_timeset are immutable once built and may be
 * shared by any number of threads. Nothing here caches answers, and the
 * VM asks directly: each question is answered at its instant (cron field
 * masks on the local time, the zone's segment around it, a calendar's
 * sorted intervals), so its cost does not depend on the questions asked
 * before. What is cached, on request, is the expansion of calendars while
 * sets are built (chg_ts_cache).
 */
#ifndef CHG_TIME_H
#define CHG_TIME_H

#include "chg_base.h"
#include "chg_civil.h"

/* An error in a time expression, with the place inside the string that
 * caused it (a cron field, an .ics line) so the compiler can underline it. */
typedef struct chg_time_error {
    char message[160];
    size_t offset; /* byte offset of the offending part in the input text */
    size_t length; /* its length (0: the whole input) */
    int status;    /* CHG_EINVAL (the input is wrong, message says how),
                      CHG_ERANGE (a chg_ts_cache's budget ran out: the input
                      may be fine alone) or CHG_ENOMEM (the message says
                      so too) */
} chg_time_error;

/* ---- time zones ----------------------------------------------------------------- */

typedef struct chg_tz chg_tz;

/* Load an IANA zone ("Europe/Berlin", "UTC") from TZif files under $TZDIR
 * or /usr/share/zoneinfo, including the POSIX-TZ footer rule used for
 * instants past the transition table. Returns NULL with err filled when the
 * zone does not exist or the file is malformed. */
chg_tz *chg_tz_load(const char *name, chg_time_error *err);
void chg_tz_free(chg_tz *tz);
const char *chg_tz_name(const chg_tz *tz);

/* UTC offset in seconds at instant t. */
int32_t chg_tz_offset(const chg_tz *tz, int64_t t);

/* Local wall-clock seconds (as if UTC) → instant. `fold` chooses, for a
 * local time that occurs twice, the earlier (0) or later (1) instant. For a
 * local time that does not exist (a gap), the result is the instant the gap
 * ends at (the first valid local time after it); *in_gap reports it. */
int64_t chg_tz_local_to_utc(const chg_tz *tz, int64_t local, int fold, bool *in_gap);

/* The first instant > t at which the zone's UTC offset changes, or
 * INT64_MAX if it never does again. */
int64_t chg_tz_next_transition(const chg_tz *tz, int64_t t);

/* ---- cron ---------------------------------------------------------------------- */

typedef enum chg_cron_dialect {
    CHG_CRON_CLASSIC, /* 5 fields: min hour dom mon dow (0/7 = Sunday) */
    CHG_CRON_AWS,     /* 6 fields: min hour dom mon dow year (1 = Sunday) */
    CHG_CRON_SSM      /* 7 fields: sec min hour dom mon dow year */
} chg_cron_dialect;

typedef struct chg_cron chg_cron; /* parsed schedule (opaque) */

/* Parse a cron expression; the dialect follows from the field count (an
 * optional "cron(...)" wrapper is accepted). On error returns NULL with the
 * offending field's place in err. */
chg_cron *chg_cron_parse(const char *expr, chg_time_error *err);
/* What a schedule adds to its expression (docs/time.md, "AWS
 * schedules"): `aws` accepts only what the EventBridge and SSM
 * references allow (no 5-field form, no wrapping range, no '/' in a
 * 6-field day-of-week, one '#', 'L' or 'W' item, one seconds value, no
 * 'LW', 'L-n' or macro); `offset_days` is SSM's ScheduleOffset: each match
 * is moved that many days later on the wall clock (0: none, at most
 * CHG_CRON_OFFSET_MAX); `eventbridge_dst` gives every time of the
 * schedule EventBridge Scheduler's DST rules (a time in a gap is skipped,
 * a repeated time happens once) instead of chg's. */
typedef struct chg_cron_opts {
    bool aws;
    int offset_days;
    bool eventbridge_dst;
} chg_cron_opts;
#define CHG_CRON_OFFSET_MAX 6
/* chg_cron_parse with options (NULL: none). */
chg_cron *chg_cron_parse_opts(const char *expr, const chg_cron_opts *o, chg_time_error *err);
void chg_cron_free(chg_cron *c);

/* An AWS rate expression's interval, "5 hours" or "rate(5 hours)": a
 * positive whole number and minute(s), hour(s) or day(s), singular
 * exactly when the number is 1, as SSM requires ("1 hours" and "5 hour"
 * are errors, with a hint). *period is in seconds, a day being 86400:
 * AWS rates count elapsed time. CHG_OK or CHG_EINVAL with err. */
int chg_rate_parse(const char *text, int64_t *period, chg_time_error *err);
chg_cron_dialect chg_cron_get_dialect(const chg_cron *c);

/* Whether the schedule follows the wall clock across DST changes (its
 * second, minute or hour field starts with '*') rather than being a fixed
 * time of day; see docs/time.md "Daylight saving time". */
bool chg_cron_is_wildcard(const chg_cron *c);

/* Does a local wall-clock time (seconds since 1970 as if UTC) match every
 * field? Ignores time zones and DST. */
bool chg_cron_matches_local(const chg_cron *c, int64_t local);

/* The first match instant >= t and < limit in zone tz, or INT64_MAX; and
 * the last match instant <= t and >= limit, or INT64_MIN. DST rules as
 * documented in docs/time.md. Cost: a few field steps per offset change. */
int64_t chg_cron_next(const chg_cron *c, const chg_tz *tz, int64_t t, int64_t limit);
int64_t chg_cron_prev(const chg_cron *c, const chg_tz *tz, int64_t t, int64_t limit);

/* ---- time sets ------------------------------------------------------------------- */

/* A time set is described as a small tree of nodes (the compiler builds it
 * from the AST; the bundle stores it) and then built into a chg_timeset. */
typedef enum chg_ts_op {
    CHG_TS_CRON,     /* cron matches, each open for `duration` seconds */
    CHG_TS_WEEKLY,   /* days (bit 0 = Sunday) from start_min to end_min local */
    CHG_TS_RANGE,    /* [from, to): instants, or local times in `zone` */
    CHG_TS_YEARLY,   /* every year from (from_month, from_day) 00:00 local to
                        (to_month, to_day) 00:00 local, crossing the year end
                        when to <= from (the same day: all year); a start on
                        Feb 29 only in leap years, an end on Feb 29 is Mar 1
                        00:00 in other years */
    CHG_TS_CALENDAR, /* iCalendar text: the instants its state is CLOSED —
                        the events (DEFAULT_OPEN, or no X-CALENDAR-TYPE) or
                        their complement (DEFAULT_CLOSED); empty when it has
                        no events. Floating times and dates in `zone` (NULL:
                        X-WR-TIMEZONE, else UTC) — see docs/time.md */
    CHG_TS_FLAG,     /* all time when the runtime flag is set, else empty */
    CHG_TS_OR,
    CHG_TS_AND,
    CHG_TS_NOT,
    CHG_TS_RATE,     /* from `from` (local in zone when from_local) every
                        `period` seconds of elapsed time, each open for
                        `duration` (AWS rate()); before `to` when CHG_TSF_TO */
    CHG_TS_AT        /* once, at `from`, for `duration` (AWS at()) */
} chg_ts_op;

typedef struct chg_ts_node {
    chg_ts_op op;
    const char *zone;         /* IANA name; NULL means "UTC" */
    const char *cron;         /* CRON */
    int64_t duration;         /* CRON: seconds, > 0 */
    uint8_t days;             /* WEEKLY: bit d = weekday d (0 = Sunday) */
    int start_min, end_min;   /* WEEKLY: minutes of the day, 0..1440; end <=
                                 start means the interval ends the next day */
    int64_t from, to;         /* RANGE */
    bool from_local, to_local;/* RANGE: value is local wall time in zone */
    int from_month, from_day, to_month, to_day; /* YEARLY */
    const char *ics;          /* CALENDAR: the .ics text */
    size_t ics_len;
    const char *flag;         /* FLAG: name */
    int a, b;                 /* OR/AND: operand node indexes; NOT: a */
    uint8_t flags;            /* CRON, RATE, AT: CHG_TSF_* */
    int offset_days;          /* CRON: SSM ScheduleOffset, 0-6 */
    int64_t cutoff;           /* CRON, RATE, AT: no start in the last `cutoff`
                                 seconds of each occurrence (SSM Cutoff), 0 to
                                 duration - 1 */
    int64_t period;           /* RATE: seconds, > 0 */
} chg_ts_node;

/* Flags of schedule nodes. CRON takes `from` (CHG_TSF_FROM: no match before
 * it opens, SSM StartDate; matches whose offset lands after it too) and
 * `to` (CHG_TSF_TO: nothing opens at or after it, SSM EndDate), local when
 * from_local / to_local as for RANGE. */
#define CHG_TSF_FROM 1u
#define CHG_TSF_TO 2u
#define CHG_TSF_AWS 4u            /* CRON: chg_cron_opts.aws */
#define CHG_TSF_EVENTBRIDGE_DST 8u /* CRON: chg_cron_opts.eventbridge_dst */
#define CHG_TSF_ALL 15u

typedef struct chg_timeset chg_timeset;

/* The deepest tree of nodes chg_timeset_build accepts, in levels (a leaf
 * alone is 1): its queries recurse once per level. The compiler refuses a
 * deeper set (E0410) before it is built. */
#define CHG_TIMESET_MAX_DEPTH 200

/* Build from nodes[0..n) with root nodes[root]. Loads the zones it needs.
 * Returns NULL and fills err (err->offset indexes into the cron string or
 * ics text of the failing node; *bad_node says which) on error. */
chg_timeset *chg_timeset_build(const chg_ts_node *nodes, size_t n, int root,
                               chg_time_error *err, int *bad_node);
void chg_timeset_free(chg_timeset *ts);

/* Calendars shared by the sets built with one cache. Each distinct
 * calendar (its text and the node's zone) is expanded once however many
 * nodes and sets name it — found by the text's address, then by its
 * content — and a refusal is remembered like an expansion. All the
 * expansions together spend `budget` steps (occurrence starts and time
 * zone onsets, see docs/time.md); the one that would pass it is refused
 * with CHG_ERANGE. A cache is used by one thread at a time; the texts it
 * was given must stay unchanged, and the sets built with it must be
 * freed, before it is. */
typedef struct chg_ts_cache chg_ts_cache;

/* The budget of a compilation's or a bundle load's calendars. */
#define CHG_TS_CALENDAR_BUDGET 1000000

chg_ts_cache *chg_ts_cache_new(size_t budget); /* NULL: out of memory */
void chg_ts_cache_free(chg_ts_cache *cache);
/* chg_timeset_build with a cache (NULL: none, as chg_timeset_build). */
chg_timeset *chg_timeset_build_cached(const chg_ts_node *nodes, size_t n, int root, chg_ts_cache *cache,
                                      chg_time_error *err, int *bad_node);

/* What chgc check says of a calendar beyond its validity: the rules of AWS
 * Change Calendar's import of an .ics file ("Importing and managing events
 * from third-party calendars", docs/time.md) and whether it has events.
 * Read from the text alone, without expanding it. */
typedef struct chg_calendar_facts {
    size_t size;             /* bytes of the text */
    char prodid[96];         /* PRODID of the first VCALENDAR ("" if none), cut to fit */
    bool aws_document;       /* PRODID of AWS Change Calendar itself: not an import */
    bool supported_producer; /* exported by Google Calendar, Microsoft Outlook or iCloud */
    bool closed;             /* X-CALENDAR-TYPE:DEFAULT_CLOSED */
    size_t events;           /* VEVENTs that are not cancelled */
    size_t deleted_line;     /* line of the first VEVENT that deletes an
                                occurrence of a recurring event: its EXDATE,
                                or a cancelled RECURRENCE-ID instance; 0 if none */
    const char *deleted_how; /* "EXDATE" or "STATUS:CANCELLED" */
    bool may_recur_past_end; /* an RRULE without an UNTIL before CHG_CALENDAR_END */
} chg_calendar_facts;

/* Occurrences of calendars are expanded up to 2200-01-01T00:00:00Z and
 * not after (docs/time.md): past it a calendar has no events. */
#define CHG_CALENDAR_END 7258118400LL

/* The AWS import limit: the .ics files of one calendar together. */
#define CHG_AWS_CALENDAR_MAX_BYTES 65536

/* Fills out; CHG_EINVAL when the text is no iCalendar at all (the
 * calendar's build says why), CHG_ENOMEM. */
int chg_calendar_facts_of(const char *ics, size_t len, chg_calendar_facts *out);

/* Runtime flags, supplied per evaluation (from facts). */
typedef struct chg_ts_env {
    bool (*flag)(void *ud, const char *name);
    void *ud;
} chg_ts_env;

bool chg_timeset_contains(const chg_timeset *ts, const chg_ts_env *env, int64_t t);

/* How far the searches of a decision (next_open, closes_at) and of
 * `chgc check`'s time analysis look: 366 days unless the caller says
 * otherwise, and at most ten years, which bounds the cost of one decision
 * or check whatever the caller asks (chgc refuses more; the VM and the
 * compiler use CHG_HORIZON_MAX for more). */
#define CHG_HORIZON_DEFAULT (366 * 86400LL)
#define CHG_HORIZON_MAX (3660 * 86400LL)

/* The horizon of every search below: a search from t with horizon h looks
 * at instants up to and including t + h, so an answer at exactly t + h is
 * given and one a second later is INT64_MAX ("none"). h <= 0 is t alone. */

/* The first instant > t at which membership changes, at or before
 * t + horizon; INT64_MAX if none. */
int64_t chg_timeset_next_change(const chg_timeset *ts, const chg_ts_env *env, int64_t t,
                                int64_t horizon);

/* Whether the set changes finitely often and its next change costs no
 * search through time: it is made of calendars, ranges (`START .. END`),
 * `at` schedules and flags only, with or, and, not. Such a set's next
 * change, asked with a horizon reaching CHG_TIME_MAX, costs at most one
 * step per interval of its calendars after t (a lone calendar, or its
 * `not`, one binary search), however far the change is: the VM asks it
 * so (docs/time.md, "Queries and the horizon"). */
bool chg_timeset_is_finite(const chg_timeset *ts);

/* How chg_timeset_next_admissible asks about sets[k]: whether it contains
 * t, and its next change after t (as chg_timeset_next_change; INT64_MAX
 * when none within horizon). The tests answer from an enumeration of
 * intervals, to compare it with the direct answers. */
typedef struct chg_ts_probe {
    bool (*contains)(void *ud, size_t k, int64_t t);
    int64_t (*next_change)(void *ud, size_t k, int64_t t, int64_t horizon);
    void *ud;
} chg_ts_probe;

/* Earliest instant >= t, at or before t + horizon, at which every sets[k] holds
 * t when want[k] and does not when !want[k] (the required windows, and
 * the freezes to avoid): the VM's next_open. INT64_MAX if none. probe
 * NULL asks the sets themselves (chg_timeset_contains and
 * chg_timeset_next_change in env). The one implementation of the search:
 * the VM, the tests and the benchmarks all call it. */
int64_t chg_timeset_next_admissible(const chg_timeset *const *sets, const bool *want, size_t n,
                                    const chg_ts_env *env, int64_t t, int64_t horizon,
                                    const chg_ts_probe *probe /* may be NULL */);

/* The first instant > t, at or before t + horizon, at which a set that
 * agrees with want at t stops agreeing (a required window closes, a freeze
 * to avoid starts); sets that disagree at t are not counted. INT64_MAX if
 * none. The decision's closes_at; probe as for next_admissible. */
int64_t chg_timeset_admissible_until(const chg_timeset *const *sets, const bool *want, size_t n,
                                     const chg_ts_env *env, int64_t t, int64_t horizon,
                                     const chg_ts_probe *probe /* may be NULL */);

/* Call fn for each maximal interval [start, end) of the set within [a, b)
 * (clipped to it), in order. Stops early if fn returns non-zero (returned). */
int chg_timeset_intervals(const chg_timeset *ts, const chg_ts_env *env, int64_t a, int64_t b,
                          int (*fn)(void *ud, int64_t start, int64_t end), void *ud);

/* ---- formatting ---------------------------------------------------------------- */

/* Day and month names, in English and lower case: the one table behind
 * weekly schedules ("mon", "monday"), yearly ones ("dec", "december"),
 * cron names (JAN, MON: compared ignoring case), weekday() and the
 * listings of `chgc windows`. abbr is the first three letters of full.
 * Index 0 is Sunday (as chg_weekday_from_days) and January. */
typedef struct chg_calendar_name {
    const char *abbr; /* "sun", "jan" */
    const char *full; /* "sunday", "january" */
} chg_calendar_name;
extern const chg_calendar_name chg_weekday_names[7];
extern const chg_calendar_name chg_month_names[12];

/* Durations as the language writes them: one or more groups of digits and
 * a unit (w, d, h, m, s), in any order, repeats allowed: "90s", "1h30m",
 * "366d". The one table of units, for the scanner, the command line and
 * the VM. Each group and the total are at most INT64_MAX / 4 seconds, so
 * sums and differences of a few durations and instants cannot overflow.
 * chg_duration_parse reads s[0..n): CHG_OK, CHG_EINVAL (not of that form:
 * empty, no unit, a sign, a blank) or CHG_ERANGE (too large); *out is set
 * only on success. */
int chg_duration_parse(const char *s, size_t n, int64_t *out);
/* The shortest text of secs in those units, largest first: "1w2d", "1h30m",
 * "0s", "-90s" is "-1m30s". Truncated to len - 1 bytes. */
void chg_duration_format(int64_t secs, char *out, size_t len);

/* "2026-12-03T09:00:00Z" into out (at least 32 bytes), and true. An
 * instant outside 0000–9999 (chg_time_in_range) has no RFC 3339 form: out
 * is then "out-of-range instant", which no parser takes for one, and the
 * result false (the decision writer says null). */
bool chg_time_format_utc(int64_t t, char *out);
/* Parse RFC 3339 / ISO 8601 date-times as AWS events use them
 * ("2026-12-03T03:30:00Z", "…+01:00", fractions). Returns CHG_OK,
 * CHG_EINVAL, or CHG_ERANGE for one whose offset takes it outside the years
 * 0000–9999 in UTC ("0000-01-01T00:00:00+01:00"). */
int chg_time_parse_iso(const char *s, size_t len, int64_t *out);

#endif
