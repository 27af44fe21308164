/*
 * time_int.h — internals shared by the files of the time-set library
 * (tz.c, cron.c, ical.c, timeset.c, time_fmt.c). Not for other folders:
 * they use chg_time.h.
 *
 * It owns the pieces the files hand each other: the time-zone segment
 * walk (constant-offset stretches of time), local-time resolution with a
 * choice of gap rule, building a zone from an explicit transition list
 * (iCalendar VTIMEZONE), cron's local-calendar search, and the calendar
 * expander.
 */
#ifndef CHG_TIME_INT_H
#define CHG_TIME_INT_H

#include "chg_time.h"

/* Seconds of the wall clock, as if UTC, are called "local" here. Every
 * recurring schedule is defined for local times in years 0000..9999 only;
 * instants outside are outside every recurring schedule. */
#define TI_LOCAL_MIN (-62167219200LL)  /* 0000-01-01T00:00:00 */
#define TI_LOCAL_MAX (253402300800LL)  /* 10000-01-01T00:00:00 */
#define TI_NONE_HI INT64_MAX
#define TI_NONE_LO INT64_MIN

/* Largest |UTC offset| a zone may have (25 h); the loader rejects more. */
#define TI_MAX_OFFSET 90000

/* Saturating arithmetic on instants: never overflow, clamp instead. */
static inline int64_t ti_add(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

/* Fill err (may be NULL): status CHG_EINVAL, or CHG_ENOMEM for chg_ti_nomem. */
void chg_ti_set_error(chg_time_error *err, size_t offset, size_t length, const char *fmt, ...)
    CHG_PRINTF(4, 5);
void chg_ti_nomem(chg_time_error *err, const char *fmt, ...) CHG_PRINTF(2, 3);

/* ---- zones ---------------------------------------------------------------- */

/* A stretch of time [start, end) with one UTC offset; prev_off is the offset
 * in force just before start (equal to off when start is INT64_MIN). */
typedef struct ti_seg {
    int64_t start, end;
    int32_t off, prev_off;
} ti_seg;

/* The segment containing instant t. */
void chg_ti_tz_segment(const chg_tz *tz, int64_t t, ti_seg *seg);

/* How a local time inside a gap (spring forward) resolves. */
typedef enum ti_gap_rule {
    TI_GAP_END,  /* the instant the gap ends (chg default) */
    TI_GAP_SHIFT /* with the offset before the gap: 02:30 → 03:30 (RFC 5545) */
} ti_gap_rule;

int64_t chg_ti_tz_resolve(const chg_tz *tz, int64_t local, int fold, ti_gap_rule rule, bool *in_gap);

/* A zone from an explicit list: offsets[0] applies before at[0], offsets[i+1]
 * from at[i] on; at[] ascending. Used for iCalendar VTIMEZONE. NULL on OOM. */
chg_tz *chg_ti_tz_from_table(const char *name, const int64_t *at, const int32_t *offsets, size_t n);

/* True when the zone is fixed at offset 0 forever (fast paths). */
bool chg_ti_tz_is_utc(const chg_tz *tz);
/* True when the zone has one offset forever (UTC, Etc/GMT+5): *off. Its
 * one segment is all time, with no gap and no fold (fast paths). */
bool chg_ti_tz_fixed(const chg_tz *tz, int32_t *off);

/* ---- cron ---------------------------------------------------------------- */

/* First local time >= from and < to matching every field, or TI_NONE_HI. */
int64_t chg_ti_cron_next_local(const chg_cron *c, int64_t from, int64_t to);
/* Last local time <= from and >= to matching, or TI_NONE_LO. */
int64_t chg_ti_cron_prev_local(const chg_cron *c, int64_t from, int64_t to);
/* The same searches with table false: by the fields alone, never by the
 * week table (cron.c) — for the test that the two agree. */
int64_t chg_ti_cron_next_local_by(const chg_cron *c, int64_t from, int64_t to, bool table);
int64_t chg_ti_cron_prev_local_by(const chg_cron *c, int64_t from, int64_t to, bool table);
/* Whether c's searches use the week table. */
bool chg_ti_cron_has_week_table(const chg_cron *c);

/* The end of the block of touching occurrences that starts with match m
 * (duration d), inside m's constant-offset segment and before limit, or
 * TI_NONE_LO where that shortcut does not apply (cron.c). */
int64_t chg_ti_cron_block_end(const chg_cron *c, const chg_tz *tz, int64_t m, int64_t d, int64_t limit);

/* ---- iCalendar ------------------------------------------------------------- */

/* The expanded calendar: sorted, disjoint, non-adjacent intervals
 * [iv[2i], iv[2i+1]) of its events, and whether the time set is their
 * complement (DEFAULT_CLOSED with at least one event). */
typedef struct ti_calendar {
    int64_t *iv;
    size_t n; /* number of intervals */
    bool complement;
} ti_calendar;

/* Steps of expansion (occurrence starts and VTIMEZONE onsets) several
 * builds share: what is left, and what there was (for the message). */
typedef struct ti_budget {
    size_t left, total;
} ti_budget;

/* Expand .ics text. zone is the zone for floating and all-day times given
 * by the node (NULL: X-WR-TIMEZONE if loadable, else UTC). budget (NULL:
 * none) is spent by the steps taken. On error returns CHG_EINVAL,
 * CHG_ERANGE (the budget ran out) or CHG_ENOMEM with err filled (offset
 * into text; err->status the same). */
int chg_ti_calendar_build(const char *text, size_t len, const char *zone, ti_budget *budget,
                          ti_calendar *out, chg_time_error *err);
void chg_ti_calendar_free(ti_calendar *cal);

/* Occurrences of events are expanded from 1900-01-01 up to 2200-01-01 UTC,
 * at most this many steps per calendar (every start of every rule, RDATE
 * and DTSTART, and every onset of the VTIMEZONEs it uses). */
#define TI_CAL_FROM (-2208988800LL)
#define TI_CAL_UNTIL CHG_CALENDAR_END
#define TI_CAL_MAX_OCCURRENCES 500000

#endif
