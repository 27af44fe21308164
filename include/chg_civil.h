/*
 * chg_civil.h — proleptic Gregorian calendar arithmetic on days since
 * 1970-01-01 (Howard Hinnant's algorithms), exact for any int64 day count
 * we use. Header-only: these are a few integer operations each.
 */
#ifndef CHG_CIVIL_H
#define CHG_CIVIL_H

#include <stdbool.h>
#include <stdint.h>

/* The instants chg handles: the years 0000 to 9999 of RFC 3339, in UTC.
 * Everything that makes an instant — parsing, literals, `now`, arithmetic
 * — keeps to this range or fails, so every instant prints as RFC 3339 and
 * the calendar arithmetic on it (local fields, time sets) cannot overflow. */
#define CHG_TIME_MIN (-62167219200LL) /* 0000-01-01T00:00:00Z */
#define CHG_TIME_MAX 253402300799LL   /* 9999-12-31T23:59:59Z */

static inline bool chg_time_in_range(int64_t t)
{
    return t >= CHG_TIME_MIN && t <= CHG_TIME_MAX;
}

/* Days since 1970-01-01 of year-month-day (month 1..12, day 1..31). */
static inline int64_t chg_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Inverse of chg_days_from_civil. */
static inline void chg_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static inline bool chg_is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static inline int chg_days_in_month(int64_t y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && chg_is_leap(y) ? 29 : dm[m - 1];
}

/* 0 = Sunday … 6 = Saturday. */
static inline int chg_weekday_from_days(int64_t z)
{
    return (int)(z >= -4 ? (z + 4) % 7 : (z + 5) % 7 + 6);
}

/* Floor division for seconds → days. */
static inline int64_t chg_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

#endif
