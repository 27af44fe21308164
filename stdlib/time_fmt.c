/*
 * time_fmt.c — instants as text: the one UTC formatter of chg
 * ("2026-12-03T09:00:00Z") and the RFC 3339 / ISO 8601 date-time parser for
 * the timestamps events carry ("…Z", "…+01:00", "…-0700", fractions); and
 * durations as text ("1h30m"), parsed and formatted with one table of
 * units; and the names of days and months.
 */
#include "time_int.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* ---- names ---------------------------------------------------------------------- */

const chg_calendar_name chg_weekday_names[7] = {
    {"sun", "sunday"}, {"mon", "monday"}, {"tue", "tuesday"}, {"wed", "wednesday"},
    {"thu", "thursday"}, {"fri", "friday"}, {"sat", "saturday"},
};

const chg_calendar_name chg_month_names[12] = {
    {"jan", "january"}, {"feb", "february"}, {"mar", "march"}, {"apr", "april"},
    {"may", "may"}, {"jun", "june"}, {"jul", "july"}, {"aug", "august"},
    {"sep", "september"}, {"oct", "october"}, {"nov", "november"}, {"dec", "december"},
};

/* ---- durations ------------------------------------------------------------------ */

/* Largest first: the formatter writes them in this order. */
static const struct {
    char unit;
    int64_t secs;
} duration_units[] = {{'w', 7 * 86400}, {'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};

/* Durations above a quarter of the int64 range are refused (CHG_ERANGE):
 * then time + duration, duration + duration and small multiples stay far
 * from overflow in the VM, whose arithmetic still checks, and a duration
 * of 2^61 s (73 billion years) is no real policy's. */
#define DURATION_MAX (INT64_MAX / 4)

static int64_t duration_unit(char c)
{
    for (size_t i = 0; i < CHG_ARRAY_LEN(duration_units); i++)
        if (duration_units[i].unit == c)
            return duration_units[i].secs;
    return 0;
}

int chg_duration_parse(const char *s, size_t n, int64_t *out)
{
    const char *p = s, *e = s + n;
    int64_t total = 0;
    bool big = false;
    if (p == e)
        return CHG_EINVAL;
    while (p < e) {
        const char *digits_at = p;
        int64_t v = 0;
        for (; p < e && *p >= '0' && *p <= '9'; p++)
            v = v > (INT64_MAX - 9) / 10 ? INT64_MAX : v * 10 + (*p - '0'); /* saturates */
        int64_t unit = p < e ? duration_unit(*p) : 0;
        if (p == digits_at || !unit)
            return CHG_EINVAL;
        p++;
        if (v > DURATION_MAX / unit) {
            big = true;
            continue;
        }
        total += v * unit;
        if (total > DURATION_MAX)
            big = true;
    }
    if (big)
        return CHG_ERANGE;
    *out = total;
    return CHG_OK;
}

/* The inverse of chg_duration_parse for canonical text: "90m" formats as
 * "1h30m", each unit at most once, largest first. The magnitude goes
 * through uint64_t so INT64_MIN has one. */
void chg_duration_format(int64_t secs, char *out, size_t len)
{
    if (secs == 0) {
        snprintf(out, len, "0s");
        return;
    }
    size_t n = 0;
    uint64_t s = secs < 0 ? (uint64_t)0 - (uint64_t)secs : (uint64_t)secs;
    if (secs < 0 && n < len)
        n += (size_t)snprintf(out + n, len - n, "-");
    for (size_t i = 0; i < CHG_ARRAY_LEN(duration_units) && n < len; i++) {
        uint64_t u = (uint64_t)duration_units[i].secs;
        if (s >= u) {
            n += (size_t)snprintf(out + n, len - n, "%" PRIu64 "%c", s / u, duration_units[i].unit);
            s %= u;
        }
    }
}

/* ---- instants ------------------------------------------------------------------- */

/* Two digits of v (0-99) at p. */
static char *put2(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

/* Every decision writes several instants: the fields come from the
 * days-from-civil inverse and are written as fixed-width digit pairs
 * (in range "YYYY-MM-DDTHH:MM:SSZ" is exactly 20 characters), no strftime
 * or printf. */
bool chg_time_format_utc(int64_t t, char *out)
{
    if (!chg_time_in_range(t)) {
        snprintf(out, 32, "out-of-range instant");
        return false;
    }
    int64_t sod = t % 86400, days = t / 86400;
    if (sod < 0) {
        sod += 86400;
        days -= 1;
    }
    int64_t y;
    int m, d;
    chg_civil_from_days(days, &y, &m, &d);
    unsigned s = (unsigned)sod;
    char *p = put2(out, (unsigned)y / 100);
    p = put2(p, (unsigned)y % 100);
    *p++ = '-';
    p = put2(p, (unsigned)m);
    *p++ = '-';
    p = put2(p, (unsigned)d);
    *p++ = 'T';
    p = put2(p, s / 3600);
    *p++ = ':';
    p = put2(p, s / 60 % 60);
    *p++ = ':';
    p = put2(p, s % 60);
    *p++ = 'Z';
    *p = 0;
    return true;
}

/* Exactly n digits at s[*i]; advances *i. */
static bool digits(const char *s, size_t len, size_t *i, int n, int *out)
{
    if (*i + (size_t)n > len)
        return false;
    int v = 0;
    for (int k = 0; k < n; k++) {
        char c = s[*i + (size_t)k];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *i += (size_t)n;
    *out = v;
    return true;
}

/* Parse "YYYY-MM-DD(T|t| )HH:MM[:SS[(.|,)fraction]](Z|z|±HH[:]MM|±HH)".
 * Fractions are truncated (the instant is the whole second that starts
 * the fraction); a leap second :60 is the first second of the next minute. */
/* "YYYY-MM-DDTHH:MM:SSZ", the shape nearly every instant of a change or
 * an AWS event has, read without the general walk below; the same checks
 * and the same instant (tests/unit/test_time.c compares the two on every
 * such string against its "+00:00" twin, which takes the general walk).
 * False: not that shape, for the walk to judge. */
static bool parse_utc_seconds(const char *s, size_t len, int *rc, int64_t *out)
{
    static const unsigned char at[14] = {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18};
    if (len != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z')
        return false;
    int v[14];
    for (int k = 0; k < 14; k++) {
        unsigned dgt = (unsigned)(unsigned char)s[at[k]] - '0';
        if (dgt > 9)
            return false;
        v[k] = (int)dgt;
    }
    int y = v[0] * 1000 + v[1] * 100 + v[2] * 10 + v[3], mo = v[4] * 10 + v[5], d = v[6] * 10 + v[7];
    int h = v[8] * 10 + v[9], mi = v[10] * 10 + v[11], sec = v[12] * 10 + v[13];
    if (mo < 1 || mo > 12 || d < 1 || d > chg_days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60) {
        *rc = CHG_EINVAL;
        return true;
    }
    int64_t t = chg_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    if (!chg_time_in_range(t)) {
        *rc = CHG_ERANGE;
        return true;
    }
    *out = t;
    *rc = CHG_OK;
    return true;
}

int chg_time_parse_iso(const char *s, size_t len, int64_t *out)
{
    int rc;
    if (parse_utc_seconds(s, len, &rc, out))
        return rc;
    size_t i = 0;
    int y, mo, d, h, mi, sec = 0;
    if (!digits(s, len, &i, 4, &y) || i >= len || s[i++] != '-' ||
        !digits(s, len, &i, 2, &mo) || i >= len || s[i++] != '-' ||
        !digits(s, len, &i, 2, &d))
        return CHG_EINVAL;
    if (mo < 1 || mo > 12 || d < 1 || d > chg_days_in_month(y, mo))
        return CHG_EINVAL;
    if (i >= len || (s[i] != 'T' && s[i] != 't' && s[i] != ' '))
        return CHG_EINVAL;
    i++;
    if (!digits(s, len, &i, 2, &h) || i >= len || s[i++] != ':' || !digits(s, len, &i, 2, &mi))
        return CHG_EINVAL;
    if (i < len && s[i] == ':') {
        i++;
        if (!digits(s, len, &i, 2, &sec))
            return CHG_EINVAL;
        if (i < len && (s[i] == '.' || s[i] == ',')) {
            i++;
            size_t f0 = i;
            while (i < len && s[i] >= '0' && s[i] <= '9')
                i++;
            if (i == f0)
                return CHG_EINVAL;
        }
    }
    if (h > 23 || mi > 59 || sec > 60)
        return CHG_EINVAL;
    if (i >= len)
        return CHG_EINVAL; /* an instant needs its offset */
    int off = 0;
    if (s[i] == 'Z' || s[i] == 'z') {
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        int sign = s[i] == '-' ? -1 : 1;
        i++;
        int oh, om = 0;
        if (!digits(s, len, &i, 2, &oh))
            return CHG_EINVAL;
        if (i < len && s[i] == ':') {
            i++;
            if (!digits(s, len, &i, 2, &om))
                return CHG_EINVAL;
        } else if (i < len) {
            if (!digits(s, len, &i, 2, &om))
                return CHG_EINVAL;
        }
        if (oh > 23 || om > 59)
            return CHG_EINVAL;
        off = sign * (oh * 3600 + om * 60);
    } else {
        return CHG_EINVAL;
    }
    if (i != len)
        return CHG_EINVAL;
    /* four digits of year and an offset under a day: no overflow, but the
     * offset may take the instant a day outside the years 0000-9999 */
    int64_t t = chg_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
    if (!chg_time_in_range(t))
        return CHG_ERANGE;
    *out = t;
    return CHG_OK;
}
