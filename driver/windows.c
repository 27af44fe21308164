/*
 * windows.c — `chgc windows`: what a policy's windows and freezes mean in
 * wall-clock time, interval by interval, for reviewers.
 *
 * It reads the bundle, not the source: the intervals listed are those of
 * the very time sets the evaluator consults, built by the same loader,
 * whether the policy came as .chg files or as a .chgb.
 */
#include "chg_driver.h"
#include "chg_civil.h"
#include "chg_time.h"
#include "ics.h"

#include <ctype.h>
#include <string.h>

typedef struct listing {
    chg_buf *out;
    chg_listing_format format;
    const char *name;
    const char *what;       /* "window" or "freeze" */
    const chg_tz *tz;       /* the set's zone, when it has exactly one */
    int count;
    int64_t stamp;          /* DTSTAMP of the iCalendar events: the start of
                               the range, not the clock, so the same command
                               prints the same bytes */
} listing;

/* Flags given on the command line (--flag NAME) are on, all others off:
 * a freeze driven by a flag is listed as if that flag were set. */
static bool set_flag(void *ud, const char *name)
{
    const char *const *flags = ud;
    for (size_t i = 0; flags && flags[i]; i++)
        if (strcmp(flags[i], name) == 0)
            return true;
    return false;
}

/* "Mon 2026-12-07 22:00" in the set's zone: reviewers check windows
 * against the wall clock, and the weekday catches off-by-one-day
 * mistakes around midnight and DST. */
static void local_text(const chg_tz *tz, int64_t t, char *out, size_t len)
{
    int64_t local = t + chg_tz_offset(tz, t);
    int64_t d = chg_floor_div(local, 86400);
    int64_t s = local - d * 86400, y;
    int m, day;
    chg_civil_from_days(d, &y, &m, &day);
    const char *wd = chg_weekday_names[chg_weekday_from_days(d)].abbr; /* shown as "Mon" */
    snprintf(out, len, "%c%s %04lld-%02d-%02d %02d:%02d", toupper((unsigned char)wd[0]), wd + 1, (long long)y, m,
             day, (int)(s / 3600), (int)(s % 3600 / 60));
}

static int list_interval(void *ud, int64_t s, int64_t e)
{
    listing *L = ud;
    char a[40], b[40];
    chg_time_format_utc(s, a);
    chg_time_format_utc(e, b);
    char dur[40];
    int64_t secs = e - s;
    snprintf(dur, sizeof dur, "%lldh%02lldm", (long long)(secs / 3600), (long long)(secs % 3600 / 60));
    if (L->format == CHG_LIST_TEXT) {
        chg_buf_printf(L->out, "  %s .. %s  %9s", a, b, dur);
        if (L->tz) {
            char la[40], lb[40];
            local_text(L->tz, s, la, sizeof la);
            local_text(L->tz, e, lb, sizeof lb);
            chg_buf_printf(L->out, "  (%s .. %s %s)", la, lb, chg_tz_name(L->tz));
        }
        chg_buf_putc(L->out, '\n');
    } else if (L->format == CHG_LIST_JSON) {
        chg_buf_printf(L->out, "%s{\"start\":\"%s\",\"end\":\"%s\"}", L->count ? "," : "", a, b);
    } else {
        chg_drv_ics_interval(L->out, L->what, L->name, s, e, L->stamp);
    }
    L->count++;
    return 0;
}

/* Every declared window and freeze in declaration order, each with its
 * maximal intervals in [from, to) (an interval running past the range is
 * cut at its ends). The zone is shown when the set names exactly one; a
 * set mixing zones is listed in UTC only. */
int chg_windows_list(const chg_bundle *b, int64_t from, int64_t to, const char *const *flags,
                     chg_listing_format format, chg_buf *out)
{
    chg_ts_env env = {set_flag, (void *)flags};
    /* instants end with 9999: a range past it is cut there, so no listed
     * instant lacks its RFC 3339 form */
    if (!chg_time_in_range(from))
        return CHG_ERANGE;
    if (to > CHG_TIME_MAX)
        to = CHG_TIME_MAX;
    char a[40], z[40];
    chg_time_format_utc(from, a);
    chg_time_format_utc(to, z);
    if (format == CHG_LIST_JSON)
        chg_buf_printf(out, "{\"from\":\"%s\",\"to\":\"%s\",\"sets\":[", a, z);
    else if (format == CHG_LIST_ICS)
        chg_buf_puts(out, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//chg//chgc windows//EN\r\n");
    else
        chg_buf_printf(out, "from %s to %s\n", a, z);
    int nsets = 0, rc = CHG_OK;
    for (uint32_t i = 0; i < chg_bundle_ntimesets(b); i++) {
        chg_timeset_info info;
        const chg_timeset *ts = chg_bundle_timeset(b, i, &info);
        if (info.inline_set)
            continue; /* part of its rule, not a declared set */
        listing L = {out, format, info.name, info.kind, NULL, 0, from};
        chg_tz *tz = NULL;
        if (info.zone) {
            chg_time_error err;
            L.tz = tz = chg_tz_load(info.zone, &err); /* the loader loaded it once: it exists */
        }
        if (format == CHG_LIST_JSON) {
            chg_buf_printf(out, "%s{\"name\":", nsets ? "," : "");
            chg_buf_json_string(out, info.name, strlen(info.name));
            chg_buf_printf(out, ",\"kind\":\"%s\",\"intervals\":[", L.what);
        } else if (format == CHG_LIST_TEXT)
            chg_buf_printf(out, "\n%s %s = %s\n", L.what, info.name, strlen(info.text) < 100 ? info.text : "…");
        chg_timeset_intervals(ts, &env, from, to, list_interval, &L);
        if (format == CHG_LIST_JSON)
            chg_buf_puts(out, "]}");
        else if (format == CHG_LIST_TEXT && !L.count)
            chg_buf_puts(out, "  (never in this range)\n");
        chg_tz_free(tz);
        nsets++;
    }
    if (format == CHG_LIST_JSON)
        chg_buf_puts(out, "]}\n");
    else if (format == CHG_LIST_ICS)
        chg_buf_puts(out, "END:VCALENDAR\r\n");
    if (out->oom)
        rc = CHG_ENOMEM;
    return rc;
}
