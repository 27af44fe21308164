/*
 * cron.c — cron expressions: the parser for the three dialects (classic
 * 5-field, AWS EventBridge 6-field, SSM 7-field with seconds), the matcher
 * on local calendar fields, and the search for the next/previous matching
 * instant in a time zone with chg's daylight-saving rules (docs/time.md):
 *
 *   - fixed-time schedules (second, minute and hour fields do not start
 *     with '*'): a local time skipped by a gap happens when the gap ends;
 *     a local time that occurs twice happens at its first occurrence only;
 *   - wildcard schedules (one of them starts with '*', e.g. "*\/15 * ..."):
 *     they follow the wall clock as displayed — nothing in a gap, both
 *     passes of a repeated hour — like Vixie cron and cronie.
 *
 * Searches skip whole fields (years, months, days, hours, minutes) instead
 * of stepping through time, and walk the zone's constant-offset segments,
 * so a search costs a handful of field steps per offset change.
 */
#include "time_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* The years a year field may name: AWS EventBridge's range. A classic
 * expression has no year field and matches in every year 0000..9999. */
#define YEAR_MIN 1970
#define YEAR_MAX 2199

/* A parsed expression is a set of bit masks, one bit per allowed value of
 * each field, so matching a calendar field is a shift and a test, and the
 * next allowed value is a count of trailing zeros (next_bit). The day
 * fields keep their special forms apart (L, L-n, nW, LW, xL, x#n) because
 * those depend on the month: they are evaluated per month by day_match. */

struct chg_cron {
    chg_cron_dialect dialect;
    uint64_t sec, min;
    uint32_t hour;
    uint32_t dom;          /* bit d: day d (1..31) */
    uint32_t dom_lastoff;  /* bit n: the day n days before the last ("L-n"; L = n 0) */
    uint32_t dom_w;        /* bit n: the weekday nearest day n ("nW") */
    bool dom_lw;           /* "LW": last weekday of the month */
    uint16_t mon;          /* bit m: month m (1..12) */
    uint8_t dow;           /* bit d: weekday d (0 = Sunday) */
    uint8_t dow_last;      /* bit d: last d-day of the month ("6L") */
    uint8_t dow_nth[6];    /* dow_nth[k] bit d: k-th d-day of the month ("3#2") */
    uint64_t year[4];      /* bit y-1970 */
    bool has_year;
    bool dom_q, dow_q;     /* '?' */
    bool dom_star, dow_star; /* field starts with '*' (classic day rule) */
    bool wild;             /* wall-clock DST behaviour, see above */
    bool eb_dst;           /* EventBridge Scheduler's DST rules: a time in a
                              gap is skipped, a repeated one runs once */
    int64_t shift;         /* SSM ScheduleOffset: every match this many
                              seconds of local time later (whole days) */
    int8_t weekdays;       /* when every month is allowed, the years are
                              one run and the day fields come down to a set
                              of weekdays (bit 0 = Sunday): that set, so a
                              day is matched without its calendar date;
                              else -1 */
    int64_t wd_lo, wd_hi;  /* weekdays: the days of those years, [lo, hi) */
    /* local times outside [lo, hi) never match: the allowed years' span,
     * which lets the zone searches stop instead of walking to year 9999 */
    int64_t local_lo, local_hi;
    /* a schedule of weekdays (weekdays >= 0) with at most WEEK_MAX matches
     * a week (a maintenance window's "0 22 ? * MON-FRI *" has five) is also
     * the sorted table of them, as seconds from Sunday 00:00: a local
     * search is then a look-up in the week at hand or the one next to it
     * (week_next, week_prev) instead of a walk of the fields. nweek 0: no
     * table. */
    uint8_t nweek;
    int32_t week[64];
};
#define WEEK_MAX 64

/* Field kinds in the order of the SSM dialect; a dialect's field list
 * (chg_cron_parse) maps positions to kinds, so one parser serves all. */
typedef enum { F_SEC, F_MIN, F_HOUR, F_DOM, F_MON, F_DOW, F_YEAR } field_kind;

static const char *const field_name[] = {"second", "minute", "hour", "day-of-month",
                                          "month", "day-of-week", "year"};

typedef struct parser {
    const char *src; /* the whole input, for offsets */
    chg_cron *c;
    chg_time_error *err;
    bool aws; /* `cron aws`: only the forms the AWS documentation allows */
} parser;

/* Range of written values for a field in a dialect. */
/* The classic day-of-week range is 0-7 because Vixie cron accepts both 0
 * and 7 for Sunday; AWS numbers 1-7 from Sunday, so 0 is an error there
 * and 7 is Saturday. */
static void field_range(field_kind k, chg_cron_dialect d, int *lo, int *hi)
{
    switch (k) {
    case F_SEC:
    case F_MIN: *lo = 0; *hi = 59; break;
    case F_HOUR: *lo = 0; *hi = 23; break;
    case F_DOM: *lo = 1; *hi = 31; break;
    case F_MON: *lo = 1; *hi = 12; break;
    case F_DOW:
        *lo = d == CHG_CRON_CLASSIC ? 0 : 1;
        *hi = 7;
        break;
    case F_YEAR:
    default: *lo = YEAR_MIN; *hi = YEAR_MAX; break;
    }
}

static const char *range_text(field_kind k, chg_cron_dialect d)
{
    switch (k) {
    case F_SEC:
    case F_MIN: return "0-59";
    case F_HOUR: return "0-23";
    case F_DOM: return "1-31";
    case F_MON: return "1-12";
    case F_DOW: return d == CHG_CRON_CLASSIC ? "0-7 (0 and 7 = Sunday)" : "1-7 (1 = Sunday)";
    case F_YEAR:
    default: return "1970-2199";
    }
}

static bool perr(parser *p, const char *at, size_t len, const char *fmt, ...) CHG_PRINTF(4, 5);

/* Record an error at [at, at+len) of the input; always returns false. */
/* The offset and length let the compiler underline the bad item inside
 * the policy's string literal (E0402), not just the whole expression. */
static bool perr(parser *p, const char *at, size_t len, const char *fmt, ...)
{
    if (p->err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err->message, sizeof p->err->message, fmt, ap);
        va_end(ap);
        p->err->offset = (size_t)(at - p->src);
        p->err->length = len;
    }
    return false;
}

/* A value: a number, or a month/weekday name where the field has them.
 * Returns the written number (weekday names in the dialect's numbering). */
static bool parse_value(parser *p, field_kind k, const char *b, const char *e, int *out)
{
    chg_cron_dialect d = p->c->dialect;
    int lo, hi;
    field_range(k, d, &lo, &hi);
    if (b == e) { /* "5-" or "#2": point at the '-' or '#' */
        if (b > p->src && b[-1] == '-')
            return perr(p, b - 1, 1, "missing %s value after '-'", field_name[k]);
        return perr(p, b, *b ? 1 : 0, "missing %s value before '%c'", field_name[k],
                    *b ? *b : ' ');
    }
    if (isdigit((unsigned char)*b)) {
        int v = 0;
        for (const char *q = b; q < e; q++) {
            if (!isdigit((unsigned char)*q))
                return perr(p, b, (size_t)(e - b), "%s '%.*s' is not a number", field_name[k],
                            (int)(e - b), b);
            if (v < 100000) /* saturate: any long number is out of range */
                v = v * 10 + (*q - '0');
        }
        if (v < lo || v > hi)
            return perr(p, b, (size_t)(e - b), "%s '%.*s' is out of range %s", field_name[k],
                        (int)(e - b), b, range_text(k, d));
        *out = v;
        return true;
    }
    if ((k == F_MON || k == F_DOW) && e - b == 3) {
        /* JAN, Mon, sun: the names of chg_time.h, in any case */
        const chg_calendar_name *names = k == F_MON ? chg_month_names : chg_weekday_names;
        int n = k == F_MON ? 12 : 7;
        for (int i = 0; i < n; i++) {
            if (tolower((unsigned char)b[0]) == names[i].abbr[0] &&
                tolower((unsigned char)b[1]) == names[i].abbr[1] &&
                tolower((unsigned char)b[2]) == names[i].abbr[2]) {
                if (k == F_MON)
                    *out = i + 1;
                else
                    *out = d == CHG_CRON_CLASSIC ? i : i + 1;
                return true;
            }
        }
    }
    if (k == F_MON)
        return perr(p, b, (size_t)(e - b), "month '%.*s' is not a month (JAN-DEC or 1-12)",
                    (int)(e - b), b);
    if (k == F_DOW)
        return perr(p, b, (size_t)(e - b), "day-of-week '%.*s' is not a weekday (SUN-SAT, or %s)",
                    (int)(e - b), b,
                    d == CHG_CRON_CLASSIC ? "0-7 with 0 and 7 = Sunday" : "1-7 with 1 = Sunday");
    return perr(p, b, (size_t)(e - b), "%s '%.*s' is not a number (%s)", field_name[k],
                (int)(e - b), b, range_text(k, d));
}

/* Written weekday number → 0 = Sunday. */
/* Classic 7 and 0 both become Sunday (v % 7); AWS 1..7 become 0..6. Every
 * mask stores the normalised weekday, so matching ignores the dialect. */
static int dow_norm(const chg_cron *c, int v)
{
    return c->dialect == CHG_CRON_CLASSIC ? v % 7 : v - 1;
}

static void set_bit(chg_cron *c, field_kind k, int v)
{
    switch (k) {
    case F_SEC: c->sec |= 1ULL << v; break;
    case F_MIN: c->min |= 1ULL << v; break;
    case F_HOUR: c->hour |= 1U << v; break;
    case F_DOM: c->dom |= 1U << v; break;
    case F_MON: c->mon |= (uint16_t)(1U << v); break;
    case F_DOW: c->dow |= (uint8_t)(1U << dow_norm(c, v)); break;
    case F_YEAR: c->year[(v - YEAR_MIN) / 64] |= 1ULL << ((v - YEAR_MIN) % 64); break;
    }
}

/* Case-insensitive equality of [b, e) with an upper-case literal; cron
 * letters (L, W, names) are accepted in any case, as AWS accepts them. */
static bool ieq(const char *b, const char *e, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(e - b) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (toupper((unsigned char)b[i]) != lit[i])
            return false;
    return true;
}

/* Small unsigned decimal number in [b, e), or -1. */
/* At most 4 digits, so the value cannot overflow; callers range-check it
 * and report "needs 1-5" rather than a number they never accept. */
static int small_num(const char *b, const char *e)
{
    if (b == e || e - b > 4)
        return -1;
    int v = 0;
    for (const char *q = b; q < e; q++) {
        if (!isdigit((unsigned char)*q))
            return -1;
        v = v * 10 + (*q - '0');
    }
    return v;
}

/* Day-of-month items with letters: L, L-n, LW, nW. Returns 1 if handled,
 * 0 if not such an item, -1 on error. */
static int parse_dom_special(parser *p, const char *b, const char *e)
{
    chg_cron *c = p->c;
    size_t len = (size_t)(e - b);
    if (ieq(b, e, "L")) {
        /* L is L-0: one mask holds L and every L-n */
        c->dom_lastoff |= 1;
        return 1;
    }
    if (p->aws && (ieq(b, e, "LW") || (len >= 2 && toupper((unsigned char)b[0]) == 'L' && b[1] == '-'))) {
        perr(p, b, len, "'%.*s' is not AWS cron: the EventBridge and SSM references allow 'L' and "
             "'nW' in day-of-month, not 'LW' or 'L-n'", (int)len, b);
        return -1;
    }
    if (ieq(b, e, "LW")) {
        c->dom_lw = true;
        return 1;
    }
    if (len >= 2 && toupper((unsigned char)b[0]) == 'L' && b[1] == '-') {
        int n = small_num(b + 2, e);
        if (n < 0 || n > 30) {
            perr(p, b, len, "'%.*s': 'L-n' needs a day offset 0-30", (int)len, b);
            return -1;
        }
        c->dom_lastoff |= 1U << n;
        return 1;
    }
    /* "nW" is tested before the plain parser sees it; "LW" was taken above,
     * so a W here always follows a day number */
    if (len >= 2 && toupper((unsigned char)e[-1]) == 'W') {
        int n = small_num(b, e - 1);
        if (n < 1 || n > 31) {
            perr(p, b, len, "'%.*s': 'W' needs a day of the month 1-31 before it (\"15W\")",
                 (int)len, b);
            return -1;
        }
        c->dom_w |= 1U << n;
        return 1;
    }
    return 0;
}

/* Day-of-week items with letters: L, xL, x#n. Same returns as above. */
static int parse_dow_special(parser *p, const char *b, const char *e)
{
    chg_cron *c = p->c;
    size_t len = (size_t)(e - b);
    if (ieq(b, e, "L")) {
        /* alone, L is the last day of the week (Quartz, AWS): Saturday */
        c->dow |= 1U << 6;
        return 1;
    }
    const char *hash = memchr(b, '#', len);
    if (hash) {
        int v = 0;
        if (!parse_value(p, F_DOW, b, hash, &v))
            return -1;
        int n = small_num(hash + 1, e);
        if (n < 1 || n > 5) {
            perr(p, hash, (size_t)(e - hash), "'%.*s': '#' needs a week number 1-5 (\"%.*s#2\")",
                 (int)len, b, (int)(hash - b), b);
            return -1;
        }
        c->dow_nth[n] |= (uint8_t)(1U << dow_norm(c, v));
        return 1;
    }
    if (len >= 2 && toupper((unsigned char)e[-1]) == 'L') {
        int v = 0;
        if (!parse_value(p, F_DOW, b, e - 1, &v))
            return -1;
        c->dow_last |= (uint8_t)(1U << dow_norm(c, v));
        return 1;
    }
    return 0;
}

/* One list item: *, v, a-b, with an optional /step; or a special. */
static bool parse_item(parser *p, field_kind k, const char *b, const char *e)
{
    chg_cron *c = p->c;
    size_t len = (size_t)(e - b);
    if (b == e)
        return perr(p, b, 1, "empty item in the %s list", field_name[k]);
    if (k == F_DOM || k == F_DOW) {
        int r = k == F_DOM ? parse_dom_special(p, b, e) : parse_dow_special(p, b, e);
        if (r < 0)
            return false;
        if (r > 0)
            return true;
    }
    if (memchr(b, '?', len))
        return perr(p, b, len, "'?' must be the whole %s field", field_name[k]);
    int lo, hi;
    field_range(k, c->dialect, &lo, &hi);
    const char *slash = memchr(b, '/', len);
    const char *be = slash ? slash : e;
    int step = 1;
    if (slash) {
        int s = small_num(slash + 1, e);
        if (slash + 1 == e || (s < 0 && !isdigit((unsigned char)slash[1])))
            return perr(p, slash, (size_t)(e - slash), "'/' needs a step number after it");
        if (s < 1)
            return perr(p, slash + 1, (size_t)(e - slash - 1), "step '%.*s' must be at least 1",
                        (int)(e - slash - 1), slash + 1);
        step = s;
    }
    if (slash && p->aws && k == F_DOW && c->dialect == CHG_CRON_AWS)
        /* EventBridge's table allows ", - * ? L #" in day-of-week; SSM's
         * lists '/' too, so a 7-field (SSM-only) expression may step */
        return perr(p, slash, (size_t)(e - slash),
                    "'/' is not allowed in day-of-week in AWS cron (EventBridge: , - * ? L #); "
                    "list the days (\"MON,WED,FRI\")");
    int a = 0, z = 0;
    /* Wrapping ranges ("22-2", "FRI-MON", "NOV-FEB") are cyclic fields'
     * convenience; days of the month and years are not cyclic (a month's
     * length varies, years do not come round), so there "20-10" is an
     * error instead of a surprising wrap. */
    bool wrap_ok = k != F_DOM && k != F_YEAR;
    if (be - b == 1 && *b == '*') {
        a = lo;
        z = hi;
        if (k == F_DOW && c->dialect == CHG_CRON_CLASSIC)
            /* the week is the cycle 0..6: a wrapping range or a step
             * counts each day once, and 7 never stands in for Sunday here */
            z = 6; /* 7 is Sunday again */
    } else {
        const char *dash = NULL;
        for (const char *q = b + 1; q < be; q++)
            if (*q == '-') {
                dash = q;
                break;
            }
        if (!parse_value(p, k, b, dash ? dash : be, &a))
            return false;
        if (dash) {
            if (!parse_value(p, k, dash + 1, be, &z))
                return false;
            if (z < a && p->aws)
                return perr(p, b, (size_t)(be - b),
                            "%s range '%.*s' wraps around, which AWS cron does not allow; "
                            "split it at the end of the range (\"FRI-SAT,SUN-MON\")",
                            field_name[k], (int)(be - b), b);
            if (z < a && !wrap_ok)
                return perr(p, b, (size_t)(be - b), "%s range '%.*s' is reversed",
                            field_name[k], (int)(be - b), b);
        } else {
            z = slash ? hi : a; /* "5/15" means 5-max/15 */
        }
    }
    /* Walk a..z (wrapping through hi → lo when z < a) by step. */
    /* span counts the values from a to z along the cycle, so the step
     * pattern of a wrapping range continues across the wrap ("22-2/2" is
     * 22, 0, 2) instead of restarting at lo. */
    int span = z >= a ? z - a : (hi - a) + (z - lo) + 1;
    for (int i = 0; i <= span; i += step) {
        int v = a + i;
        if (v > hi)
            v = lo + (v - hi - 1);
        set_bit(c, k, v);
    }
    return true;
}

/* The field-wide rules of AWS cron (`cron aws`), from the EventBridge
 * and SSM references: with '#' "you can only define one expression in
 * the day-of-week field" ("3#1,6#3" is invalid), and likewise L and W
 * name one day and take no list; SSM's seconds field is one value (the
 * examples: "cron(24 30 09 ? * * *)"). */
static bool aws_field_ok(parser *p, field_kind k, const char *b, const char *e)
{
    size_t len = (size_t)(e - b);
    bool list = memchr(b, ',', len) != NULL;
    if (k == F_SEC) {
        for (const char *q = b; q < e; q++)
            if (!isdigit((unsigned char)*q))
                return perr(p, b, len, "the seconds field of AWS cron is one number 0-59, not '%.*s'",
                            (int)len, b);
        return true;
    }
    if (k == F_DOW && list && memchr(b, '#', len))
        return perr(p, b, len, "with '#' the day-of-week field of AWS cron is that one item, "
                    "not the list '%.*s'", (int)len, b);
    if (k == F_DOM && list) {
        for (const char *q = b; q < e; q++)
            if (toupper((unsigned char)*q) == 'L' || toupper((unsigned char)*q) == 'W')
                return perr(p, b, len, "with 'L' or 'W' the day-of-month field of AWS cron is "
                            "that one item, not the list '%.*s'", (int)len, b);
    }
    return true;
}

/* A whole field: '?' or a comma list. A field that starts with '*' is
 * remembered: in the classic dialect it changes how the two day fields
 * combine (day_match), and in the time fields it makes the schedule follow
 * the wall clock across DST (the header). */
static bool parse_field(parser *p, field_kind k, const char *b, const char *e)
{
    chg_cron *c = p->c;
    if (e - b == 1 && *b == '?') {
        if (k != F_DOM && k != F_DOW)
            return perr(p, b, 1, "'?' is only allowed in day-of-month or day-of-week");
        if (c->dialect == CHG_CRON_CLASSIC)
            return perr(p, b, 1, "classic 5-field cron has no '?'; use '*' (AWS cron has 6 fields, the last the year)");
        if (k == F_DOM)
            c->dom_q = true;
        else
            c->dow_q = true;
        return true;
    }
    /* Only the first character counts, as in Vixie cron: "*\/2" in
     * day-of-month is "starts with *" and so combines with day-of-week by
     * AND (docs/time.md), and "*\/15" in minute makes a wildcard schedule. */
    if (*b == '*') {
        if (k == F_DOM)
            c->dom_star = true;
        if (k == F_DOW)
            c->dow_star = true;
        if (k == F_SEC || k == F_MIN || k == F_HOUR)
            c->wild = true;
    }
    if (p->aws && !aws_field_ok(p, k, b, e))
        return false;
    const char *q = b;
    while (q <= e) {
        const char *comma = memchr(q, ',', (size_t)(e - q));
        const char *ie = comma ? comma : e;
        if (!parse_item(p, k, q, ie))
            return false;
        if (!comma)
            break;
        q = comma + 1;
        if (q == e)
            return perr(p, comma, 1, "empty item in the %s list", field_name[k]);
    }
    return true;
}

static int64_t year_next(const chg_cron *c, int64_t y);
static int64_t year_prev(const chg_cron *c, int64_t y);
static bool year_ok(const chg_cron *c, int64_t y);

static const struct {
    const char *name, *expr;
} macros[] = {
    {"@yearly", "0 0 1 1 *"},  {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"},  {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* Trim, unwrap "cron(...)", expand a macro, split into fields, pick the
 * dialect by their count, parse each field, then apply the dialect's day
 * rules. Errors are placed on the offending field or item of expr. */
/* The set of weekdays a parsed expression's day fields and months come
 * down to, or -1 when a day's match depends on its date (a month field, a
 * day-of-month list, L, W, #, years with a gap). day_match's rules, with
 * the day of the month known to match (all 31 days, no special form).
 * The allowed years, one run (AWS's "*" is 1970-2199), go to wd_lo/hi. */
static int8_t weekday_only(chg_cron *c)
{
    c->wd_lo = chg_floor_div(TI_LOCAL_MIN, 86400);
    c->wd_hi = chg_floor_div(TI_LOCAL_MAX, 86400);
    if (c->has_year) {
        int64_t y0 = year_next(c, YEAR_MIN), y1 = year_prev(c, YEAR_MAX);
        if (y0 < 0)
            return -1;
        for (int64_t y = y0; y <= y1; y++)
            if (!year_ok(c, y))
                return -1;
        c->wd_lo = chg_days_from_civil(y0, 1, 1);
        c->wd_hi = chg_days_from_civil(y1 + 1, 1, 1);
    }
    const uint32_t all_days = 0xFFFFFFFEu; /* bits 1..31 */
    bool dom_all = c->dom == all_days && !c->dom_lastoff && !c->dom_w && !c->dom_lw;
    bool dow_plain = !c->dow_last;
    for (int k = 0; k < 6; k++)
        dow_plain = dow_plain && !c->dow_nth[k];
    if ((c->mon & 0x1FFE) != 0x1FFE)
        return -1;
    int mask;
    if (c->dom_q)
        mask = dow_plain ? c->dow : -1;
    else if (c->dow_q || (!(c->dom_star || c->dow_star) && dom_all))
        mask = dom_all ? 0x7f : -1; /* every day (or: dom matches every day) */
    else
        mask = dom_all && dow_plain ? c->dow : -1; /* both must match */
    return mask > 0 ? (int8_t)(mask & 0x7f) : -1;
}

static void week_table(chg_cron *c);

chg_cron *chg_cron_parse(const char *expr, chg_time_error *err)
{
    return chg_cron_parse_opts(expr, NULL, err);
}

chg_cron *chg_cron_parse_opts(const char *expr, const chg_cron_opts *o, chg_time_error *err)
{
    static const chg_cron_opts none = {false, 0, false};
    if (!o)
        o = &none;
    if (o->offset_days < 0 || o->offset_days > CHG_CRON_OFFSET_MAX) {
        chg_ti_set_error(err, 0, 0, "a schedule offset is 1-%d days (SSM ScheduleOffset)", CHG_CRON_OFFSET_MAX);
        return NULL;
    }
    if (!expr) {
        chg_ti_set_error(err, 0, 0, "missing cron expression");
        return NULL;
    }
    const char *b = expr, *e = expr + strlen(expr);
    while (b < e && isspace((unsigned char)*b))
        b++;
    while (e > b && isspace((unsigned char)e[-1]))
        e--;
    const char *whole = b;
    size_t whole_len = (size_t)(e - b);
    if (e - b >= 5 && ieq(b, b + 5, "CRON(")) {
        if (e[-1] != ')') {
            chg_ti_set_error(err, (size_t)(e - expr), 0, "missing ')' to close 'cron('");
            return NULL;
        }
        b += 5;
        e--;
    } else if ((e - b >= 5 && ieq(b, b + 5, "RATE(")) || (e - b >= 3 && ieq(b, b + 3, "AT("))) {
        chg_ti_set_error(err, (size_t)(b - expr), whole_len,
                     "rate() and at() schedules are not cron expressions");
        return NULL;
    }
    /* Macros are classic expressions, so they follow the classic day and
     * DST rules; the recursion is one level deep (no macro expands to '@'). */
    if (b < e && *b == '@') {
        if (o->aws) {
            chg_ti_set_error(err, (size_t)(b - expr), (size_t)(e - b),
                             "'%.*s' is a classic cron macro, not AWS cron", (int)(e - b), b);
            return NULL;
        }
        for (size_t i = 0; i < CHG_ARRAY_LEN(macros); i++) {
            if ((size_t)(e - b) == strlen(macros[i].name) &&
                strncmp(b, macros[i].name, (size_t)(e - b)) == 0)
                return chg_cron_parse_opts(macros[i].expr, o, err);
        }
        chg_ti_set_error(err, (size_t)(b - expr), (size_t)(e - b),
                     "unknown cron macro '%.*s' (@yearly, @monthly, @weekly, @daily, @hourly)",
                     (int)(e - b), b);
        return NULL;
    }
    /* Fields are counted past 8 without being stored, so that "found 9"
     * reports the real count instead of failing on the array's size. */
    const char *fb[8], *fe[8];
    int nf = 0;
    const char *q = b;
    while (q < e) {
        while (q < e && isspace((unsigned char)*q))
            q++;
        if (q >= e)
            break;
        const char *s = q;
        while (q < e && !isspace((unsigned char)*q))
            q++;
        if (nf < 8) {
            fb[nf] = s;
            fe[nf] = q;
        }
        nf++;
    }
    if (nf < 5 || nf > 7) {
        chg_ti_set_error(err, (size_t)(whole - expr), whole_len,
                     "a cron expression has 5 fields (classic), 6 (AWS: minute hour "
                     "day-of-month month day-of-week year) or 7 (SSM: seconds first); "
                     "found %d",
                     nf);
        return NULL;
    }
    if (nf == 5 && o->aws) {
        /* an SSM association or EventBridge expression has 6 fields; 5 is
         * how classic Unix cron is read, and AWS has no such dialect */
        chg_ti_set_error(err, (size_t)(whole - expr), whole_len,
                         "5 fields are classic Unix cron, not AWS: AWS cron has 6 (minute hour "
                         "day-of-month month day-of-week year), or 7 with SSM's seconds first");
        return NULL;
    }
    chg_cron *c = chg_calloc(1, sizeof *c);
    if (!c) {
        chg_ti_nomem(err, "out of memory");
        return NULL;
    }
    c->dialect = nf == 5 ? CHG_CRON_CLASSIC : nf == 6 ? CHG_CRON_AWS : CHG_CRON_SSM;
    parser p = {expr, c, err, o->aws};
    static const field_kind classic[] = {F_MIN, F_HOUR, F_DOM, F_MON, F_DOW};
    static const field_kind aws[] = {F_MIN, F_HOUR, F_DOM, F_MON, F_DOW, F_YEAR};
    static const field_kind ssm[] = {F_SEC, F_MIN, F_HOUR, F_DOM, F_MON, F_DOW, F_YEAR};
    const field_kind *kinds = nf == 5 ? classic : nf == 6 ? aws : ssm;
    int dow_i = -1;
    for (int i = 0; i < nf; i++) {
        if (kinds[i] == F_DOW)
            dow_i = i;
        if (!parse_field(&p, kinds[i], fb[i], fe[i])) {
            chg_free(c);
            return NULL;
        }
    }
    if (nf != 7)
        /* 5 and 6-field expressions match at second 0 of the minute; the
         * bit masks then need no case for "no seconds field" */
        c->sec = 1; /* second 0 */
    c->has_year = nf != 5;
    if (c->dialect != CHG_CRON_CLASSIC) {
        if (c->dom_q && c->dow_q) {
            perr(&p, fb[dow_i], (size_t)(fe[dow_i] - fb[dow_i]),
                 "day-of-month and day-of-week cannot both be '?'");
            chg_free(c);
            return NULL;
        }
        if (!c->dom_q && !c->dow_q) {
            perr(&p, fb[dow_i], (size_t)(fe[dow_i] - fb[dow_i]),
                 "one of day-of-month and day-of-week must be '?' in AWS cron "
                 "(e.g. \"0 10 * * ? *\" or \"0 10 ? * MON-FRI *\")");
            chg_free(c);
            return NULL;
        }
    }
    /* the span of allowed years bounds every search */
    c->local_lo = TI_LOCAL_MIN;
    c->local_hi = TI_LOCAL_MAX;
    if (c->has_year) {
        int64_t y0 = year_next(c, YEAR_MIN), y1 = year_prev(c, YEAR_MAX);
        if (y0 < 0) {
            c->local_lo = c->local_hi = 0; /* no year at all */
        } else {
            c->local_lo = chg_days_from_civil(y0, 1, 1) * 86400;
            c->local_hi = chg_days_from_civil(y1 + 1, 1, 1) * 86400;
        }
    }
    c->weekdays = weekday_only(c);
    week_table(c);
    c->eb_dst = o->eventbridge_dst;
    if (o->offset_days) {
        c->shift = o->offset_days * 86400LL;
        if (c->local_hi > c->local_lo) {
            c->local_lo += c->shift;
            c->local_hi += c->shift;
        }
    }
    return c;
}

void chg_cron_free(chg_cron *c) { chg_free(c); }

/* The dialect the field count chose: weekday 1 is Sunday in AWS and SSM
 * but Monday in classic cron, so whoever prints numbers needs it. */
chg_cron_dialect chg_cron_get_dialect(const chg_cron *c) { return c->dialect; }

bool chg_cron_is_wildcard(const chg_cron *c) { return c->wild; }

/* ---- matching on local calendar fields ------------------------------------------- */

/* Smallest set bit >= from in mask (bits 0..63), or -1. */
/* With the ctz/clz builtins (GCC, clang) a field step is O(1) whatever
 * the mask, instead of a loop over the field's values. */
static int next_bit(uint64_t mask, int from)
{
    if (from > 63)
        return -1;
    uint64_t m = mask >> from;
    if (!m)
        return -1;
    return from + __builtin_ctzll(m);
}

/* Largest set bit <= from, or -1. */
static int prev_bit(uint64_t mask, int from)
{
    if (from < 0)
        return -1;
    uint64_t m = from >= 63 ? mask : mask & ((2ULL << from) - 1);
    if (!m)
        return -1;
    return 63 - __builtin_clzll(m);
}

/* Years are bits 0..229 of four 64-bit words (1970..2199); any year out of
 * that range is not allowed when the expression has a year field. */
static bool year_ok(const chg_cron *c, int64_t y)
{
    if (!c->has_year)
        return true;
    if (y < YEAR_MIN || y > YEAR_MAX)
        return false;
    int i = (int)(y - YEAR_MIN);
    return c->year[i / 64] >> (i % 64) & 1;
}

/* Smallest allowed year >= y, or -1. */
/* Word by word: a whole empty word of years (64 of them) is one test. */
static int64_t year_next(const chg_cron *c, int64_t y)
{
    if (!c->has_year)
        return y;
    if (y < YEAR_MIN)
        y = YEAR_MIN;
    for (int64_t i = y - YEAR_MIN; i <= YEAR_MAX - YEAR_MIN;) {
        int w = (int)(i / 64), b = (int)(i % 64);
        int n = next_bit(c->year[w], b);
        if (n >= 0)
            return YEAR_MIN + w * 64 + n;
        i = (w + 1) * 64;
    }
    return -1;
}

/* Largest allowed year <= y, or -1. */
static int64_t year_prev(const chg_cron *c, int64_t y)
{
    if (!c->has_year)
        return y;
    if (y > YEAR_MAX)
        y = YEAR_MAX;
    for (int64_t i = y - YEAR_MIN; i >= 0;) {
        int w = (int)(i / 64), b = (int)(i % 64);
        int n = prev_bit(c->year[w], b);
        if (n >= 0)
            return YEAR_MIN + w * 64 + n;
        i = w * 64 - 1;
    }
    return -1;
}

/* Weekday (Mon-Fri) nearest to day n of a month of dim days whose day 1 is
 * weekday wd1, never leaving the month; 0 if n does not exist. Quartz's
 * rule: a Saturday moves to the Friday before, a Sunday to the Monday
 * after, except that "1W" on a Saturday is Monday the 3rd and the last day
 * on a Sunday is the Friday before. */
static int nearest_weekday(int n, int dim, int wd1)
{
    if (n > dim)
        return 0;
    int wd = (wd1 + n - 1) % 7;
    if (wd == 6) /* Saturday */
        return n == 1 ? 3 : n - 1;
    if (wd == 0) /* Sunday */
        return n == dim ? n - 2 : n + 1;
    return n;
}

/* Day d of a month of dim days (day 1 is weekday wd1) against the
 * day-of-month field; "L-n" is bit n of dom_lastoff, counted back from
 * the last day (L itself is n = 0). */
/* The special forms are tested per day rather than expanded into dom at
 * parse time because their days depend on the month: "L" is the 28th,
 * 29th, 30th or 31st, "15W" moves with the weekday of the 15th. */
static bool dom_match(const chg_cron *c, int d, int dim, int wd1)
{
    if (c->dom >> d & 1)
        return true;
    if (c->dom_lastoff && dim - d < 31 && (c->dom_lastoff >> (dim - d) & 1))
        return true;
    if (c->dom_lw) {
        int last = dim, wdl = (wd1 + dim - 1) % 7;
        if (wdl == 6)
            last -= 1;
        else if (wdl == 0)
            last -= 2;
        if (d == last)
            return true;
    }
    if (c->dom_w) {
        for (uint32_t m = c->dom_w; m; m &= m - 1) {
            int n = __builtin_ctz(m);
            if (nearest_weekday(n, dim, wd1) == d)
                return true;
        }
    }
    return false;
}

/* Day d (weekday wd) against the day-of-week field: "xL" is the last
 * x-day when a week later is past the month's end; "x#n" is the n-th,
 * days 7(n-1)+1 .. 7n of the month. */
/* dow_nth has 6 entries so that (d - 1) / 7 + 1, at most 5 for day 31,
 * indexes it without a test; entry 0 is unused. */
static bool dow_match(const chg_cron *c, int d, int dim, int wd)
{
    if (c->dow >> wd & 1)
        return true;
    if ((c->dow_last >> wd & 1) && d + 7 > dim)
        return true;
    int nth = (d - 1) / 7 + 1;
    return c->dow_nth[nth] >> wd & 1;
}

/* Does day d of (y, m) match the day fields? wd1: weekday of day 1. */
static bool day_match(const chg_cron *c, int d, int dim, int wd1)
{
    int wd = (wd1 + d - 1) % 7;
    if (c->dom_q)
        return dow_match(c, d, dim, wd);
    if (c->dow_q)
        return dom_match(c, d, dim, wd1);
    /* classic: both restricted → either; one is '*…' → both (Vixie cron) */
    if (c->dom_star || c->dow_star)
        return dom_match(c, d, dim, wd1) && dow_match(c, d, dim, wd);
    return dom_match(c, d, dim, wd1) || dow_match(c, d, dim, wd);
}

/* Whether a local time (seconds since 1970-01-01 00:00 local, "as if
 * UTC") matches every field. The DST rules are not applied here: this
 * answers for the wall clock, and chg_cron_next decides which instants a
 * wall-clock match stands for. */
static bool matches_local_raw(const chg_cron *c, int64_t local)
{
    if (local < TI_LOCAL_MIN || local >= TI_LOCAL_MAX)
        return false;
    int64_t days = chg_floor_div(local, 86400);
    int64_t sod = local - days * 86400;
    int64_t y;
    int m, d;
    chg_civil_from_days(days, &y, &m, &d);
    if (!year_ok(c, y) || !(c->mon >> m & 1))
        return false;
    int wd1 = chg_weekday_from_days(days - d + 1);
    if (!day_match(c, d, chg_days_in_month(y, m), wd1))
        return false;
    return (c->hour >> (sod / 3600) & 1) && (c->min >> (sod / 60 % 60) & 1) &&
           (c->sec >> (sod % 60) & 1);
}

/* The time-of-day fields as one search: the first (tod_next) or last
 * (tod_prev) second of a day at or after (before) sod whose hour, minute
 * and second are all allowed, or -1. A matching day is searched here at
 * once, field by field, instead of one calendar recomputation per field
 * step: each loop below runs at most twice, because a minute (hour) with
 * any allowed second (minute) past the first is found on the next turn. */
static int tod_next(const chg_cron *c, int sod)
{
    int h0 = sod / 3600, m0 = sod / 60 % 60, s0 = sod % 60;
    for (int h = next_bit(c->hour, h0); h >= 0; h = next_bit(c->hour, h + 1)) {
        int mf = h == h0 ? m0 : 0;
        for (int m = next_bit(c->min, mf); m >= 0 && m < 60; m = next_bit(c->min, m + 1)) {
            int s = next_bit(c->sec, h == h0 && m == m0 ? s0 : 0);
            if (s >= 0 && s < 60)
                return h * 3600 + m * 60 + s;
        }
    }
    return -1;
}

static int tod_prev(const chg_cron *c, int sod)
{
    int h0 = sod / 3600, m0 = sod / 60 % 60, s0 = sod % 60;
    for (int h = prev_bit(c->hour, h0 < 23 ? h0 : 23); h >= 0; h = prev_bit(c->hour, h - 1)) {
        int mf = h == h0 ? m0 : 59;
        for (int m = prev_bit(c->min, mf); m >= 0; m = prev_bit(c->min, m - 1)) {
            int s = prev_bit(c->sec, h == h0 && m == m0 ? s0 : 59);
            if (s >= 0)
                return h * 3600 + m * 60 + s;
        }
    }
    return -1;
}

/* Whether local day `days` matches the year, month and day fields. If
 * not, *L is the first second of the next day that may (day_next; or
 * TI_NONE_HI: none before `to`), or the last second of the previous one
 * (day_prev; or TI_NONE_LO: none at or after `to`). A schedule of weekdays
 * (c->weekdays) needs no calendar date, only the day's weekday. */
static bool day_next(const chg_cron *c, int64_t days, int64_t to, int64_t *L)
{
    if (c->weekdays >= 0) {
        int wd = chg_weekday_from_days(days);
        int k = 0;
        if (days < c->wd_lo)
            k = (int)(c->wd_lo - days); /* the first allowed year's first day (then its weekday) */
        else if (days >= c->wd_hi) {
            *L = TI_NONE_HI;
            return false;
        } else if (c->weekdays >> wd & 1)
            return true;
        else
            while (!(c->weekdays >> (wd + ++k) % 7 & 1))
                ;
        *L = (days + k) * 86400 < to ? (days + k) * 86400 : TI_NONE_HI;
        return false;
    }
    int64_t y;
    int m, d;
    chg_civil_from_days(days, &y, &m, &d);
    int64_t ny = year_next(c, y);
    if (ny < 0) {
        *L = TI_NONE_HI;
        return false;
    }
    if (ny != y) {
        *L = chg_days_from_civil(ny, 1, 1) * 86400;
        return false;
    }
    if (!(c->mon >> m & 1)) {
        int nm = next_bit(c->mon, m + 1);
        *L = (nm < 0 ? chg_days_from_civil(y + 1, 1, 1) : chg_days_from_civil(y, nm, 1)) * 86400;
        return false;
    }
    int dim = chg_days_in_month(y, m);
    int wd1 = chg_weekday_from_days(days - d + 1);
    if (day_match(c, d, dim, wd1))
        return true;
    if ((days + 1) * 86400 >= to) {
        *L = TI_NONE_HI; /* no later day in range: no scan */
        return false;
    }
    int nd = 0;
    for (int dd = d + 1; dd <= dim; dd++)
        if (day_match(c, dd, dim, wd1)) {
            nd = dd;
            break;
        }
    *L = nd ? (days - d + nd) * 86400 : (days - d + dim + 1) * 86400;
    return false;
}

static bool day_prev(const chg_cron *c, int64_t days, int64_t to, int64_t *L)
{
    if (c->weekdays >= 0) {
        int wd = chg_weekday_from_days(days);
        int64_t k = 0;
        if (days >= c->wd_hi)
            k = days - c->wd_hi + 1; /* the last allowed year's last day (then its weekday) */
        else if (days < c->wd_lo) {
            *L = TI_NONE_LO;
            return false;
        } else if (c->weekdays >> wd & 1)
            return true;
        else
            while (!(c->weekdays >> (wd + 7 - ++k) % 7 & 1))
                ;
        *L = (days - k + 1) * 86400 - 1 >= to ? (days - k + 1) * 86400 - 1 : TI_NONE_LO;
        return false;
    }
    int64_t y;
    int m, d;
    chg_civil_from_days(days, &y, &m, &d);
    int64_t py = year_prev(c, y);
    if (py < 0) {
        *L = TI_NONE_LO;
        return false;
    }
    if (py != y) {
        *L = chg_days_from_civil(py + 1, 1, 1) * 86400 - 1;
        return false;
    }
    if (!(c->mon >> m & 1)) {
        int pm = prev_bit(c->mon, m - 1);
        *L = (pm <= 0 ? chg_days_from_civil(y, 1, 1) : chg_days_from_civil(y, pm, 1) + chg_days_in_month(y, pm)) *
                 86400 -
             1;
        return false;
    }
    int dim = chg_days_in_month(y, m);
    int wd1 = chg_weekday_from_days(days - d + 1);
    if (day_match(c, d, dim, wd1))
        return true;
    if (days * 86400 - 1 < to) {
        *L = TI_NONE_LO; /* no earlier day in range: no scan */
        return false;
    }
    int pd = 0;
    for (int dd = d - 1; dd >= 1; dd--)
        if (day_match(c, dd, dim, wd1)) {
            pd = dd;
            break;
        }
    *L = pd ? (days - d + pd + 1) * 86400 - 1 : (days - d + 1) * 86400 - 1;
    return false;
}

/* The week table (see nweek): every second of the day tod_next finds,
 * on every weekday of the set, in order; none when there are more than
 * WEEK_MAX. Built once, when the expression is parsed. */
static void week_table(chg_cron *c)
{
    c->nweek = 0;
    if (c->weekdays < 0)
        return;
    int32_t tods[WEEK_MAX];
    int ntod = 0;
    for (int s = 0; s < 86400;) {
        int x = tod_next(c, s);
        if (x < 0)
            break;
        if (ntod == WEEK_MAX)
            return;
        tods[ntod++] = x;
        s = x + 1;
    }
    int n = 0;
    for (int wd = 0; wd < 7; wd++) {
        if (!(c->weekdays >> wd & 1))
            continue;
        if (n + ntod > WEEK_MAX)
            return;
        for (int k = 0; k < ntod; k++)
            c->week[n++] = wd * 86400 + tods[k];
    }
    c->nweek = (uint8_t)n;
}

/* The Sunday that starts the week of local day `days` (day 0, 1970-01-01,
 * was a Thursday). */
static int64_t week_of(int64_t days) { return days - chg_weekday_from_days(days); }

/* next_local_raw and prev_local_raw by the week table: the same answers
 * (the matches are the allowed days' times, the days those of wd_lo..wd_hi),
 * from and to already inside the local years. test_time_diff compares the
 * two on random schedules and instants. */
static int64_t week_next(const chg_cron *c, int64_t from, int64_t to)
{
    int64_t days = chg_floor_div(from, 86400);
    if (days >= c->wd_hi)
        return TI_NONE_HI;
    if (days < c->wd_lo) {
        days = c->wd_lo;
        from = days * 86400;
    }
    int64_t w = week_of(days), sow = from - w * 86400;
    int i = 0;
    while (i < c->nweek && c->week[i] < sow)
        i++;
    int64_t r = i < c->nweek ? w * 86400 + c->week[i] : (w + 7) * 86400 + c->week[0];
    return r < to && chg_floor_div(r, 86400) < c->wd_hi ? r : TI_NONE_HI;
}

static int64_t week_prev(const chg_cron *c, int64_t from, int64_t to)
{
    int64_t days = chg_floor_div(from, 86400);
    if (days < c->wd_lo)
        return TI_NONE_LO;
    if (days >= c->wd_hi) {
        days = c->wd_hi - 1;
        from = c->wd_hi * 86400 - 1;
    }
    int64_t w = week_of(days), sow = from - w * 86400;
    int i = c->nweek - 1;
    while (i >= 0 && c->week[i] > sow)
        i--;
    int64_t r = i >= 0 ? w * 86400 + c->week[i] : (w - 7) * 86400 + c->week[c->nweek - 1];
    return r >= to && chg_floor_div(r, 86400) >= c->wd_lo ? r : TI_NONE_LO;
}

/* Field skipping, largest unit first: a year not in the set jumps to the
 * next allowed year, a month to the next allowed month, a day to the next
 * matching day of the month, then hour, minute, second. Each step lands on
 * the first instant of the next candidate, so the loop runs a few times per
 * unit boundary, never once per second. Every step moves L forward (a
 * "none left in this unit" goes to the start of the next larger unit), so
 * the loop ends at `to` at the latest: at most a few steps per day the
 * day fields reject, and a schedule that never matches (Feb 30) costs one
 * pass over the months of each year up to `to`. Local times are "as if
 * UTC": no zone is involved here (chg_cron_next adds it). */
/* Returns the first matching local time in [from, to), or TI_NONE_HI. */
static int64_t next_local_raw(const chg_cron *c, int64_t from, int64_t to, bool table)
{
    if (from < TI_LOCAL_MIN)
        from = TI_LOCAL_MIN;
    if (to > TI_LOCAL_MAX)
        to = TI_LOCAL_MAX;
    if (table && c->nweek)
        return from < to ? week_next(c, from, to) : TI_NONE_HI;
    int64_t L = from;
    while (L < to) {
        int64_t days = chg_floor_div(L, 86400);
        int64_t sod = L - days * 86400;
        if (!day_next(c, days, to, &L)) {
            if (L == TI_NONE_HI)
                return L;
            continue;
        }
        int tod = tod_next(c, (int)sod);
        if (tod < 0) {
            L = (days + 1) * 86400;
            continue;
        }
        L = days * 86400 + tod;
        return L < to ? L : TI_NONE_HI;
    }
    return TI_NONE_HI;
}

/* The mirror image of chg_ti_cron_next_local: each step lands on the last
 * second of the previous candidate. */
/* Returns the last matching local time in [to, from], or TI_NONE_LO. */
static int64_t prev_local_raw(const chg_cron *c, int64_t from, int64_t to, bool table)
{
    if (from >= TI_LOCAL_MAX)
        from = TI_LOCAL_MAX - 1;
    if (to < TI_LOCAL_MIN)
        to = TI_LOCAL_MIN;
    if (table && c->nweek)
        return from >= to ? week_prev(c, from, to) : TI_NONE_LO;
    int64_t L = from;
    while (L >= to) {
        int64_t days = chg_floor_div(L, 86400);
        int64_t sod = L - days * 86400;
        if (!day_prev(c, days, to, &L)) {
            if (L == TI_NONE_LO)
                return L;
            continue;
        }
        int tod = tod_prev(c, (int)sod);
        if (tod < 0) {
            L = days * 86400 - 1;
            continue;
        }
        L = days * 86400 + tod;
        return L >= to ? L : TI_NONE_LO;
    }
    return TI_NONE_LO;
}

/* The local searches of a schedule with an offset (SSM ScheduleOffset):
 * a wall-clock time matches when the expression matched the same time
 * `shift` earlier, so each search is the unshifted one, moved. The DST
 * rules then apply to the shifted times, which are when the window opens. */
bool chg_cron_matches_local(const chg_cron *c, int64_t local)
{
    return matches_local_raw(c, local - c->shift);
}

int64_t chg_ti_cron_next_local_by(const chg_cron *c, int64_t from, int64_t to, bool table)
{
    int64_t L = next_local_raw(c, ti_add(from, -c->shift), ti_add(to, -c->shift), table);
    return L == TI_NONE_HI ? L : L + c->shift;
}

int64_t chg_ti_cron_prev_local_by(const chg_cron *c, int64_t from, int64_t to, bool table)
{
    int64_t L = prev_local_raw(c, ti_add(from, -c->shift), ti_add(to, -c->shift), table);
    return L == TI_NONE_LO ? L : L + c->shift;
}

int64_t chg_ti_cron_next_local(const chg_cron *c, int64_t from, int64_t to)
{
    return chg_ti_cron_next_local_by(c, from, to, true);
}

int64_t chg_ti_cron_prev_local(const chg_cron *c, int64_t from, int64_t to)
{
    return chg_ti_cron_prev_local_by(c, from, to, true);
}

bool chg_ti_cron_has_week_table(const chg_cron *c) { return c->nweek != 0; }

/* ---- matches as instants in a zone ---------------------------------------------- */

/* Walk the zone's constant-offset segments from t: inside a segment local
 * time is instant + offset, so a local search finds the first match; at a
 * segment that starts with a gap, fixed-time matches skipped by it happen at
 * its start; after a fall-back, fixed-time readings already shown are
 * skipped. Example, New York, 2026-03-08: "30 2 * * *" has no 02:30; the
 * segment from 07:00Z (offset -4 h) starts with a gap from local 02:00 to
 * 03:00, the local search over that gap finds 02:30, so the match is
 * 07:00Z, 03:00 EDT. On 2026-11-01 "30 1 * * *" matches at 01:30 EDT; the
 * next segment (-5 h) shows 01:00..02:00 again, and its search starts at
 * local 02:00, so 01:30 EST is not a second match. A wildcard schedule
 * ("*\/15 * * * *") gets neither rule and sees both 01:xx hours.
 *
 * The cost is one local search per segment up to the match, and a segment
 * is half a year in a DST zone. */
/* The two DST rules (docs/time.md): chg's default gives fixed-time
 * schedules both (a time in a gap happens as it ends, a repeated time
 * once) and wildcard ones neither; EventBridge Scheduler's rules skip
 * every time in a gap and run every repeated time once. */
static bool gap_at_end(const chg_cron *c) { return !c->wild && !c->eb_dst; }
static bool fold_once(const chg_cron *c) { return !c->wild || c->eb_dst; }

/* The first matching instant in [t, limit), or TI_NONE_HI. Matching is
 * done on local times, which are what a cron expression names; the
 * conversion back (L - s.off) is exact inside a segment because a
 * segment's offset is constant. */
int64_t chg_cron_next(const chg_cron *c, const chg_tz *tz, int64_t t, int64_t limit)
{
    int32_t fixed;
    if (chg_ti_tz_fixed(tz, &fixed)) {
        /* one segment, all time, no gap or fold: the loop below's one turn */
        if (t >= limit || ti_add(t, -TI_MAX_OFFSET) >= c->local_hi)
            return TI_NONE_HI;
        int64_t L = chg_ti_cron_next_local(c, ti_add(t, fixed), ti_add(limit, fixed));
        return L != TI_NONE_HI ? L - fixed : TI_NONE_HI;
    }
    int64_t u = t;
    while (u < limit) {
        ti_seg s;
        chg_ti_tz_segment(tz, u, &s);
        /* ti_add saturates, so the test is safe at the ends of time; with
         * the largest offset subtracted, no zone can still show a local
         * time before local_hi */
        if (ti_add(u, -TI_MAX_OFFSET) >= c->local_hi)
            return TI_NONE_HI; /* past the last allowed year */
        if (gap_at_end(c) && u == s.start && s.off > s.prev_off) {
            /* fixed-time matches skipped by this gap happen as it ends */
            if (chg_ti_cron_next_local(c, ti_add(s.start, s.prev_off), ti_add(s.start, s.off)) !=
                TI_NONE_HI)
                return u;
        }
        int64_t lo = ti_add(u, s.off);
        if (fold_once(c) && s.off < s.prev_off && s.start != INT64_MIN) {
            /* readings before start+prev_off were shown before the fall-back */
            int64_t seen = ti_add(s.start, s.prev_off);
            if (lo < seen)
                lo = seen;
        }
        int64_t hi = ti_add(s.end, s.off);
        int64_t lim = ti_add(limit, s.off);
        if (hi > lim)
            hi = lim;
        int64_t L = chg_ti_cron_next_local(c, lo, hi);
        if (L != TI_NONE_HI)
            return L - s.off;
        if (s.end == INT64_MAX)
            break;
        u = s.end;
    }
    return TI_NONE_HI;
}

/* The first local time in [from, to) on the grid of step g (60: minute
 * starts, for expressions whose seconds are just 0; 1: every second, for
 * those whose seconds are all) that does not match, or TI_NONE_HI. Whole
 * minutes, hours and days that match are skipped at once: an expression
 * that matches every minute costs one step per day, not 1440. */
static int64_t next_miss_local(const chg_cron *c, int64_t from, int64_t to, int64_t g)
{
    const uint64_t all_min = (1ULL << 60) - 1;
    const uint32_t all_hour = (1u << 24) - 1;
    int64_t L = chg_floor_div(from + g - 1, g) * g;
    while (L < to) {
        if (L < TI_LOCAL_MIN || L >= TI_LOCAL_MAX)
            return L;
        int64_t days = chg_floor_div(L, 86400);
        int64_t sod = L - days * 86400;
        int64_t y;
        int m, d;
        chg_civil_from_days(days, &y, &m, &d);
        int wd1 = chg_weekday_from_days(days - d + 1);
        if (!year_ok(c, y) || !(c->mon >> m & 1) || !day_match(c, d, chg_days_in_month(y, m), wd1))
            return L;
        int h = (int)(sod / 3600), mi = (int)(sod / 60 % 60);
        if (!(c->hour >> h & 1) || !(c->min >> mi & 1))
            return L;
        /* L matches; the rest of its hour up to the first minute missing */
        int miss = next_bit(~c->min & all_min, mi);
        if (miss >= 0)
            return days * 86400 + h * 3600LL + miss * 60LL;
        /* the rest of the hour matches: the next hour missing today */
        if (c->min == all_min) {
            int hm = next_bit(~c->hour & all_hour, h + 1);
            if (hm >= 0)
                return days * 86400 + hm * 3600LL;
            L = (days + 1) * 86400; /* all day: the next day */
        } else
            L = days * 86400 + (h + 1) * 3600LL;
    }
    return TI_NONE_HI;
}

/* A run of touching occurrences, skipped block by block: m is a match
 * (an instant) whose occurrence lasts d; the matches at every grid point
 * after it, up to the first one missing, follow in one block, so the run
 * reaches at least the last of them + d. Only inside m's constant-offset
 * segment, where local times and instants differ by the offset and every
 * local time shown matches as itself (a fixed-time schedule's match in a
 * fall-back segment is past the readings shown before, as m is). Returns
 * that end, or TI_NONE_LO where the shortcut does not apply (seconds
 * neither all nor just 0, or d shorter than the grid); the caller's
 * step-by-step merge takes it from there. */
int64_t chg_ti_cron_block_end(const chg_cron *c, const chg_tz *tz, int64_t m, int64_t d, int64_t limit)
{
    const uint64_t all_sec = (1ULL << 60) - 1;
    int64_t g = c->sec == all_sec ? 1 : c->sec == 1 ? 60 : 0;
    if (!g || d < g)
        return TI_NONE_LO;
    ti_seg s;
    chg_ti_tz_segment(tz, m, &s);
    int64_t end = s.end < limit ? s.end : limit;
    int64_t Lm = ti_add(m, s.off), cap = ti_add(end, s.off);
    if (Lm >= cap || Lm % g)
        return TI_NONE_LO;
    /* the shift is whole days, so the grid is the same before and after it */
    int64_t x = next_miss_local(c, Lm + g - c->shift, cap - c->shift, g);
    if (x != TI_NONE_HI)
        x += c->shift;
    int64_t last = x == TI_NONE_HI ? chg_floor_div(cap - 1, g) * g : x - g;
    return ti_add(last - s.off, d);
}

/* chg_cron_next backwards: segments from t down to limit. The gap rule
 * comes after the segment's own search, because the gap's match (at
 * s.start) is earlier than everything in the segment; and it counts only
 * when s.start is not before limit. */
/* The last matching instant in [limit, t], or TI_NONE_LO: used to find
 * where an interval that holds at t began (a match whose duration still
 * covers t). */
int64_t chg_cron_prev(const chg_cron *c, const chg_tz *tz, int64_t t, int64_t limit)
{
    int32_t fixed;
    if (chg_ti_tz_fixed(tz, &fixed)) {
        /* one segment, all time, no gap or fold: the loop below's one turn */
        if (t < limit || ti_add(t, TI_MAX_OFFSET) < c->local_lo)
            return TI_NONE_LO;
        int64_t L = chg_ti_cron_prev_local(c, ti_add(t, fixed), ti_add(limit, fixed));
        return L != TI_NONE_LO ? L - fixed : TI_NONE_LO;
    }
    int64_t u = t;
    while (u >= limit) {
        ti_seg s;
        chg_ti_tz_segment(tz, u, &s);
        if (ti_add(u, TI_MAX_OFFSET) < c->local_lo)
            return TI_NONE_LO; /* before the first allowed year */
        int64_t low = ti_add(s.start, s.off);
        if (fold_once(c) && s.off < s.prev_off && s.start != INT64_MIN) {
            int64_t seen = ti_add(s.start, s.prev_off);
            if (low < seen)
                low = seen;
        }
        int64_t lim = ti_add(limit, s.off);
        if (low < lim)
            low = lim;
        int64_t L = chg_ti_cron_prev_local(c, ti_add(u, s.off), low);
        if (L != TI_NONE_LO)
            return L - s.off;
        if (s.start == INT64_MIN)
            break;
        if (gap_at_end(c) && s.off > s.prev_off && s.start >= limit &&
            chg_ti_cron_next_local(c, ti_add(s.start, s.prev_off), ti_add(s.start, s.off)) !=
                TI_NONE_HI)
            return s.start;
        u = s.start - 1;
    }
    return TI_NONE_LO;
}

/* ---- rate expressions ---------------------------------------------------------- */

/* "N unit", optionally inside "rate(...)". The unit rule is SSM's ("If the
 * value is equal to 1, then the unit must be singular. Similarly, for
 * values greater than 1, the unit must be plural"), which EventBridge
 * shares; the hint names the form that would be right. */
int chg_rate_parse(const char *text, int64_t *period, chg_time_error *err)
{
    static const struct {
        const char *one, *many;
        int64_t secs;
    } units[] = {{"minute", "minutes", 60}, {"hour", "hours", 3600}, {"day", "days", 86400}};
    const char *b = text, *e = text + strlen(text);
    while (b < e && isspace((unsigned char)*b))
        b++;
    while (e > b && isspace((unsigned char)e[-1]))
        e--;
    if (e - b >= 5 && ieq(b, b + 5, "RATE(") && e[-1] == ')') {
        b += 5;
        e--;
    }
    const char *n0 = b;
    int64_t n = 0;
    while (b < e && isdigit((unsigned char)*b)) {
        if (n > 1000000000) {
            chg_ti_set_error(err, (size_t)(n0 - text), (size_t)(e - n0), "rate value is too large");
            return CHG_EINVAL;
        }
        n = n * 10 + (*b++ - '0');
    }
    if (b == n0 || n < 1) {
        chg_ti_set_error(err, (size_t)(n0 - text), (size_t)(b > n0 ? b - n0 : e - n0),
                         "a rate is a positive whole number and a unit (\"5 hours\", \"1 day\")");
        return CHG_EINVAL;
    }
    const char *u0 = b;
    while (u0 < e && *u0 == ' ')
        u0++;
    if (u0 == b) {
        chg_ti_set_error(err, (size_t)(b - text), (size_t)(e - b),
                         "a rate's number and unit are separated by a space (\"5 hours\")");
        return CHG_EINVAL;
    }
    size_t ul = (size_t)(e - u0);
    for (size_t i = 0; i < CHG_ARRAY_LEN(units); i++) {
        bool one = ul == strlen(units[i].one) && memcmp(u0, units[i].one, ul) == 0;
        bool many = ul == strlen(units[i].many) && memcmp(u0, units[i].many, ul) == 0;
        if (!one && !many)
            continue;
        if (one != (n == 1)) {
            chg_ti_set_error(err, (size_t)(u0 - text), ul,
                             "AWS writes a rate of %lld with '%s', not '%.*s' (\"%lld %s\")", (long long)n,
                             n == 1 ? units[i].one : units[i].many, (int)ul, u0, (long long)n,
                             n == 1 ? units[i].one : units[i].many);
            return CHG_EINVAL;
        }
        if (n > INT64_MAX / 4 / units[i].secs) {
            chg_ti_set_error(err, (size_t)(n0 - text), (size_t)(e - n0), "rate value is too large");
            return CHG_EINVAL;
        }
        *period = n * units[i].secs;
        return CHG_OK;
    }
    chg_ti_set_error(err, (size_t)(u0 - text), ul,
                     "a rate's unit is minute(s), hour(s) or day(s), not '%.*s'", (int)ul, u0);
    return CHG_EINVAL;
}
