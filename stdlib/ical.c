/*
 * ical.c — iCalendar (RFC 5545) calendars as time sets, through libical:
 * parses the .ics text, builds zones from its VTIMEZONEs (or the system tz
 * database for IANA TZIDs), expands every VEVENT (DTSTART with DTEND or
 * DURATION, RRULE, RDATE, EXDATE, RECURRENCE-ID overrides, all-day DATE
 * events, STATUS:CANCELLED) into instants, and merges the occurrences into
 * sorted disjoint intervals. AWS Change Calendar's X-CALENDAR-TYPE decides
 * whether the time set is the events (DEFAULT_OPEN: closed during events)
 * or their complement (DEFAULT_CLOSED: closed outside events).
 *
 * Expansion is done once, at build time, over a fixed window (1900 to
 * 2200) with a cap on occurrences, so queries are a binary search and no
 * recurrence rule can make anything loop: libical's own search is bounded
 * by an UNTIL we impose, and sub-daily frequencies (whose impossible
 * combinations libical would search for years) are refused.
 *
 * The work of a build is bounded by the text and one count: every
 * occurrence start any rule, RDATE or DTSTART produces and every
 * VTIMEZONE onset is a step, and the steps of the whole calendar (not of
 * each RRULE) stop at TI_CAL_MAX_OCCURRENCES, or earlier at what is left
 * of a budget several builds share (chg_ts_cache). Everything else is
 * sorted once and searched: EXDATEs, overrides, zones. A VTIMEZONE is
 * checked for its form when read but expanded only when a time names it,
 * so the unused zones of an export cost their parse alone.
 *
 * Local times follow RFC 5545 §3.3.5: a time that occurs twice is its
 * first occurrence; a time in a gap is read with the offset before the gap.
 */
#include "time_int.h"

#include <libical/ical.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Onsets one VTIMEZONE may expand to: two a year over 1900..2200 is 600;
 * the cap is far above that and stops a rule with a daily RRULE. */
#define MAX_TZ_TRANSITIONS 20000

/* A zone a TZID may name: a VTIMEZONE of the file (vtz, expanded into tz
 * the first time it is named) or an IANA zone (loaded when named). The
 * table is sorted by tzid. */
typedef struct zone_ref {
    const char *tzid; /* the VTIMEZONE's (libical's) or, for IANA, owned */
    bool own_tzid;
    chg_tz *tz;
    icalcomponent *vtz;
    int no;           /* index of the VTIMEZONE, for error places */
} zone_ref;

/* An occurrence a RECURRENCE-ID event replaces: of the event with UID
 * uid, the one starting at instant `at` (is_day false) or, for a DATE
 * RECURRENCE-ID, every one on local date `at` (is_day true). */
typedef struct override {
    char *uid;
    bool is_day;
    int64_t at;
} override;

/* The state of one chg_ti_calendar_build. occ collects every occurrence
 * of every event as [start, end) instant pairs, unsorted; they are sorted
 * and merged once at the end. ovr lists the occurrences that
 * RECURRENCE-ID events replace, collected in a first pass over the events
 * so the second pass can drop them from their master event whatever the
 * order of the two in the file. */
typedef struct cal_ctx {
    const char *text;
    size_t len;
    chg_time_error *err;
    const chg_tz *deftz;
    zone_ref *zones;
    size_t nzones;
    int64_t *occ; /* pairs */
    size_t nocc, capocc;
    override *ovr; /* sorted by uid, is_day, at once pass one is done */
    size_t novr, capovr;
    int event_no;  /* index of the VEVENT being expanded (for error places) */
    size_t steps;     /* occurrences and onsets produced so far */
    size_t max_steps; /* TI_CAL_MAX_OCCURRENCES or less, what the budget has left */
    ti_budget *budget;
    int status;       /* of the first failure: CHG_EINVAL, or CHG_ERANGE for the budget */
    bool failed;
} cal_ctx;

/* ---- error places --------------------------------------------------------------------- */

/* Property names are case-insensitive (RFC 5545 §2); name is given in
 * upper case. The name must end at ':' or ';' (a parameter), so "DTEND"
 * does not match a line of "DTENDX". Folded continuation lines start with
 * a space and never match. */
static bool line_starts_with(const char *l, const char *end, const char *name)
{
    size_t n = strlen(name);
    if ((size_t)(end - l) < n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = l[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 32);
        if (c != name[i])
            return false;
    }
    return l + n == end || l[n] == ':' || l[n] == ';' || l[n] == '\r' || l[n] == '\n';
}

/* Place of the line of property `prop` (NULL: the BEGIN line; a prop
 * starting with '=' matches a whole line equal to the rest) inside the
 * comp_no-th component `comp` ("VEVENT") of the text; 0/0 if not found. */
static void locate(const cal_ctx *cx, const char *comp, int comp_no, const char *prop,
                   size_t *off, size_t *len)
{
    char begin[40];
    snprintf(begin, sizeof begin, "BEGIN:%s", comp);
    const char *p = cx->text, *end = cx->text + cx->len;
    int seen = -1;
    bool inside = false;
    *off = 0;
    *len = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *lc = le > p && le[-1] == '\r' ? le - 1 : le;
        if (line_starts_with(p, lc, begin) && (size_t)(lc - p) == strlen(begin)) {
            seen++;
            if (seen == comp_no) {
                inside = true;
                if (!prop) {
                    *off = (size_t)(p - cx->text);
                    *len = (size_t)(lc - p);
                    return;
                }
            } else if (seen > comp_no) {
                return;
            }
        } else if (inside && prop &&
                   (prop[0] == '=' ? (size_t)(lc - p) == strlen(prop + 1) &&
                                         memcmp(p, prop + 1, strlen(prop + 1)) == 0
                                   : line_starts_with(p, lc, prop))) {
            *off = (size_t)(p - cx->text);
            *len = (size_t)(lc - p);
            return;
        }
        p = nl ? nl + 1 : end;
    }
}

static bool cal_error(cal_ctx *cx, const char *comp, int comp_no, const char *prop,
                      const char *fmt, ...) CHG_PRINTF(5, 6);

/* Report an error placed at a property of a component; returns false. */
static bool cal_error(cal_ctx *cx, const char *comp, int comp_no, const char *prop,
                      const char *fmt, ...)
{
    if (cx->failed)
        return false;
    cx->failed = true;
    if (!cx->err)
        return false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cx->err->message, sizeof cx->err->message, fmt, ap);
    va_end(ap);
    cx->err->status = cx->status ? cx->status : CHG_EINVAL;
    size_t off, len;
    locate(cx, comp, comp_no, prop, &off, &len);
    if (len == 0 && prop)
        locate(cx, comp, comp_no, NULL, &off, &len);
    cx->err->offset = off;
    cx->err->length = len;
    return false;
}

/* failed is sticky: after the first failure nothing else is recorded, so
 * the message is about the first thing that went wrong, and helpers that
 * return a zone or nothing can be told apart from "no zone" by it. */
static bool oom(cal_ctx *cx)
{
    if (!cx->failed && cx->err)
        chg_ti_nomem(cx->err, "out of memory expanding calendar");
    cx->failed = true;
    return false;
}

/* Count one step of the expansion: an occurrence start (of a rule, an
 * RDATE, a DTSTART) or a VTIMEZONE onset, placed at component comp_no
 * (its RRULE line, else its BEGIN line) when it is one too many. The
 * limit is the calendar's, or the shared budget's when that has less
 * left; the two are told apart by the status (CHG_ERANGE: the budget),
 * since a calendar refused for the budget is not wrong by itself. */
static bool step(cal_ctx *cx, const char *comp, int comp_no)
{
    if (++cx->steps <= cx->max_steps)
        return true;
    if (cx->max_steps < TI_CAL_MAX_OCCURRENCES) {
        cx->status = CHG_ERANGE;
        return cal_error(cx, comp, comp_no, "RRULE",
                         "the calendars of this build expand to more than %zu occurrences "
                         "together",
                         cx->budget->total);
    }
    return cal_error(cx, comp, comp_no, "RRULE",
                     "more than %d occurrences before 2200 (all the calendar's rules together)",
                     TI_CAL_MAX_OCCURRENCES);
}

/* The list v of n elements of `size` bytes and capacity *cap with room
 * for one more: v itself, or v moved to twice the room; NULL when memory
 * runs out (v is then unchanged). The lists of a build double as they
 * grow, since an event may have thousands of EXDATEs and a file
 * thousands of overrides. */
static void *grow(cal_ctx *cx, void *v, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return v;
    size_t c = *cap ? *cap * 2 : 16;
    void *p = chg_realloc(v, c * size);
    if (!p) {
        oom(cx);
        return NULL;
    }
    *cap = c;
    return p;
}

/* The properties chg reads: a libical error in one of them is an error. */
static const char *const used_props[] = {
    "DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "RECURRENCE-ID",
    "STATUS", "TZID", "TZOFFSETFROM", "TZOFFSETTO", "UID"};

/* Turn libical's X-LIC-ERROR properties in comp (and its children) into an
 * error when they concern what we read or the structure of the text.
 * libical never fails a parse: it drops what it cannot read and leaves
 * an X-LIC-ERROR property in its place. Ignoring them all would silently
 * drop a mistyped DTSTART; failing on all would refuse calendars whose
 * only fault is in a property chg never reads (X-ALT-DESC, ATTACH, …),
 * which exports from real calendar tools have. Only libical's message
 * says which property it was, hence the string matching. */
static bool check_lic_errors(cal_ctx *cx, icalcomponent *comp, const char *kind, int no)
{
    for (icalproperty *p = icalcomponent_get_first_property(comp, ICAL_XLICERROR_PROPERTY); p;
         p = icalcomponent_get_next_property(comp, ICAL_XLICERROR_PROPERTY)) {
        const char *msg = icalproperty_get_xlicerror(p);
        if (!msg)
            msg = "malformed line";
        const char *prop = NULL;
        bool relevant = strstr(msg, "could not find a property name") != NULL ||
                        strstr(msg, "Parse error in property name") != NULL;
        for (size_t i = 0; i < CHG_ARRAY_LEN(used_props); i++) {
            char pat[40];
            snprintf(pat, sizeof pat, " %s property", used_props[i]);
            if (strstr(msg, pat)) {
                prop = used_props[i];
                relevant = true;
                break;
            }
        }
        if (relevant && !prop) {
            /* libical quotes the offending line after the last ": " */
            const char *q = strstr(msg, ": ");
            for (const char *r = q; r; r = strstr(r + 2, ": "))
                q = r;
            char line[200];
            if (q && strlen(q + 2) < sizeof line - 1) {
                snprintf(line, sizeof line, "=%s", q + 2);
                return cal_error(cx, kind, no, line, "%s", msg);
            }
        }
        if (relevant)
            return cal_error(cx, kind, no, prop, "%s", msg);
    }
    for (icalcomponent *k = icalcomponent_get_first_component(comp, ICAL_ANY_COMPONENT); k;
         k = icalcomponent_get_next_component(comp, ICAL_ANY_COMPONENT))
        if (!check_lic_errors(cx, k, kind, no))
            return false;
    return true;
}

/* ---- zones --------------------------------------------------------------------------- */

/* A date or date-time chg can compute with: years 1..9999 (the civil
 * arithmetic's range), real days, second 60 allowed (a leap second, read
 * as the next minute's first by the arithmetic). libical hands out
 * whatever it parsed, so every time from it passes through here. */
static bool valid_tt(struct icaltimetype tt)
{
    if (tt.year < 1 || tt.year > 9999 || tt.month < 1 || tt.month > 12 || tt.day < 1 ||
        tt.day > chg_days_in_month(tt.year, tt.month))
        return false;
    if (tt.is_date)
        return true;
    return tt.hour >= 0 && tt.hour < 24 && tt.minute >= 0 && tt.minute < 60 && tt.second >= 0 &&
           tt.second <= 60;
}

/* Wall-clock seconds (as if UTC) of an icaltimetype; dates are midnight. */
static int64_t tt_local(struct icaltimetype tt)
{
    int64_t s = chg_days_from_civil(tt.year, tt.month, tt.day) * 86400;
    if (!tt.is_date)
        s += tt.hour * 3600 + tt.minute * 60 + tt.second;
    return s;
}

/* The inverse of tt_local, for the UNTIL handed to libical: a floating
 * time (no zone), since libical iterates in floating time here. */
static struct icaltimetype tt_from_local(int64_t local, bool is_date)
{
    struct icaltimetype tt = icaltime_null_time();
    int64_t days = chg_floor_div(local, 86400), sod = local - days * 86400, y;
    int m, d;
    chg_civil_from_days(days, &y, &m, &d);
    tt.year = (int)y;
    tt.month = m;
    tt.day = d;
    tt.is_date = is_date;
    if (!is_date) {
        tt.hour = (int)(sod / 3600);
        tt.minute = (int)(sod / 60 % 60);
        tt.second = (int)(sod % 60);
    }
    return tt;
}

/* The zone table's entry for tzid, or where it would go (*at). */
static zone_ref *find_zone(const cal_ctx *cx, const char *tzid, size_t *at)
{
    size_t lo = 0, hi = cx->nzones;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(cx->zones[mid].tzid, tzid);
        if (c == 0)
            return &cx->zones[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (at)
        *at = lo;
    return NULL;
}

static bool build_vtimezone(cal_ctx *cx, zone_ref *z);

/* The zone of a TZID: a VTIMEZONE of the file (expanded now if this is
 * the first time it is named), else an IANA zone (also as the last two
 * components of a prefixed id like "/mozilla.org/…/Europe/Paris"), loaded
 * once and kept in the table. */
static const chg_tz *zone_for_tzid(cal_ctx *cx, const char *tzid, const char *kind, int no,
                                   const char *prop)
{
    size_t at = 0;
    zone_ref *z = find_zone(cx, tzid, &at);
    if (z && !z->tz && z->vtz && !build_vtimezone(cx, z))
        return NULL;
    if (z)
        return z->tz;
    const char *name = tzid;
    /* Such prefixed ids come from older Mozilla exports; RFC 5545
     * §3.2.19 says a leading '/' means a globally unique id, which in
     * practice ends in the Olson name. */
    if (name[0] == '/') {
        /* keep the last two components: "/a/b/Europe/Paris" → "Europe/Paris" */
        const char *last = strrchr(name, '/');
        const char *q = last;
        while (q > name && q[-1] != '/')
            q--;
        name = q > name ? q : last + 1;
    }
    chg_time_error e;
    chg_tz *tz = chg_tz_load(name, &e);
    if (!tz && e.status == CHG_ENOMEM) {
        oom(cx);
        return NULL;
    }
    if (!tz) {
        cal_error(cx, kind, no, prop,
                  "TZID '%s' has no VTIMEZONE and is not a known time zone", tzid);
        return NULL;
    }
    zone_ref *v = chg_realloc(cx->zones, (cx->nzones + 1) * sizeof *v);
    char *id = chg_strdup(tzid);
    if (!v || !id) {
        if (v)
            cx->zones = v;
        chg_free(id);
        chg_tz_free(tz);
        oom(cx);
        return NULL;
    }
    cx->zones = v;
    /* an insertion keeps the table sorted; the IANA zones one calendar
     * names are a few distinct TZIDs, each inserted once */
    memmove(&v[at + 1], &v[at], (cx->nzones - at) * sizeof *v);
    v[at] = (zone_ref){.tzid = id, .own_tzid = true, .tz = tz, .no = -1};
    cx->nzones++;
    return tz;
}

/* The zone named by a time property's TZID; NULL for UTC ("Z") values and
 * for floating times and dates, which the caller places (*is_utc tells). */
static const chg_tz *zone_of(cal_ctx *cx, icalproperty *p, struct icaltimetype tt,
                             const char *prop, bool *is_utc)
{
    *is_utc = !tt.is_date && icaltime_is_utc(tt);
    if (*is_utc)
        return NULL;
    icalparameter *par = icalproperty_get_first_parameter(p, ICAL_TZID_PARAMETER);
    const char *tzid = par ? icalparameter_get_tzid(par) : NULL;
    if (tzid && !tt.is_date)
        return zone_for_tzid(cx, tzid, "VEVENT", cx->event_no, prop);
    return NULL;
}

/* Fold 0 and TI_GAP_SHIFT give RFC 5545's reading (§3.3.5): in an
 * overlap the first occurrence, in a gap the offset before it — which is
 * not the rule of chg's own schedules (docs/time.md): calendars are read
 * as the calendar tools that wrote them show them. */
static int64_t to_instant(const chg_tz *tz, bool is_utc, int64_t local)
{
    if (is_utc || !tz)
        return local;
    return chg_ti_tz_resolve(tz, local, 0, TI_GAP_SHIFT, NULL);
}

/* ---- recurrence ------------------------------------------------------------------------ */

typedef bool (*occ_fn)(cal_ctx *cx, void *ud, int64_t local);

/* Iterate an RRULE from dtstart (local wall time), calling fn for each
 * occurrence's local time, stopping at local time `stop` or after `cap`
 * occurrences. The caller applies UNTIL precisely; here it only bounds
 * libical's search. Returns false on error (reported).
 *
 * libical iterates in floating local time (st.zone = NULL): the zone is
 * applied by the caller, with chg's zone tables, so the rule's wall-clock
 * times stay fixed across DST as RFC 5545 wants. Its UNTIL is replaced by
 * one no later than `stop` (plus a day of slack for UTC UNTILs read as
 * local), because libical searches a rule like "FREQ=YEARLY;BYMONTHDAY=31;
 * BYMONTH=2" until its UNTIL and would otherwise never return. */
static bool iterate_rrule(cal_ctx *cx, struct icalrecurrencetype rule, struct icaltimetype dtstart,
                          int64_t stop, size_t cap, occ_fn fn, void *ud, const char *kind, int no)
{
    if (rule.freq == ICAL_NO_RECURRENCE)
        return cal_error(cx, kind, no, "RRULE", "RRULE has no valid FREQ");
    if (rule.freq == ICAL_SECONDLY_RECURRENCE || rule.freq == ICAL_MINUTELY_RECURRENCE ||
        rule.freq == ICAL_HOURLY_RECURRENCE)
        return cal_error(cx, kind, no, "RRULE",
                         "FREQ=%s recurrences are not supported in calendars; use a "
                         "cron time set for sub-daily schedules",
                         rule.freq == ICAL_SECONDLY_RECURRENCE  ? "SECONDLY"
                         : rule.freq == ICAL_MINUTELY_RECURRENCE ? "MINUTELY"
                                                                 : "HOURLY");
    /* bound libical's search: UNTIL no later than `stop` (local) */
    /* The extra day of slack: a UTC UNTIL compared as local time may be up
     * to a day off (offsets are at most 25 h); the exact UNTIL is applied by
     * start_add on instants, so the slack only lets libical go far enough. */
    int64_t until_local = stop;
    if (!icaltime_is_null_time(rule.until) && valid_tt(rule.until)) {
        int64_t u = tt_local(rule.until) + (rule.until.is_date ? 86400 : 0) + 86400;
        if (u < until_local)
            until_local = u;
    }
    rule.until = tt_from_local(until_local, dtstart.is_date);
    struct icaltimetype st = dtstart;
    /* cap counts occurrences of this rule (a VTIMEZONE's); the callbacks
     * count every one against the calendar's steps (step), so many rules
     * cannot add up unbounded */
    st.zone = NULL;
    icalrecur_iterator *it = icalrecur_iterator_new(rule, st);
    if (!it)
        return cal_error(cx, kind, no, "RRULE",
                         "RRULE is invalid or can never produce an occurrence");
    size_t n = 0;
    bool ok = true;
    for (;;) {
        struct icaltimetype t = icalrecur_iterator_next(it);
        if (icaltime_is_null_time(t) || !valid_tt(t))
            break;
        int64_t l = tt_local(t);
        if (l >= stop)
            break;
        if (++n > cap) {
            ok = cal_error(cx, kind, no, "RRULE",
                           "RRULE expands to more than %zu occurrences before 2200",
                           cap);
            break;
        }
        if (!fn(cx, ud, l)) {
            ok = false;
            break;
        }
    }
    icalrecur_iterator_free(it);
    return ok;
}

/* ---- VTIMEZONE ------------------------------------------------------------------------- */

typedef struct onset {
    int64_t at;
    int32_t from, to;
} onset;

typedef struct onsets {
    onset *v;
    size_t n, cap;
    int32_t from, to;       /* of the sub-component being expanded */
    int64_t until;          /* its RRULE UNTIL as an instant, or INT64_MAX */
    int no;                 /* index of the VTIMEZONE, for error places */
} onsets;

/* Record a VTIMEZONE onset (local time in the old offset) as an instant.
 * RFC 5545 gives an onset (DTSTART, RRULE, RDATE of a STANDARD or
 * DAYLIGHT part) in the local time in force before it, so the instant is
 * local - TZOFFSETFROM; an RRULE's UNTIL is UTC or that same local time. */
static bool onset_add(cal_ctx *cx, void *ud, int64_t local)
{
    onsets *o = ud;
    if (!step(cx, "VTIMEZONE", o->no))
        return false;
    int64_t at = local - o->from;
    if (at > o->until)
        return true;
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 32;
        if (cap > MAX_TZ_TRANSITIONS * 2)
            return cal_error(cx, "VTIMEZONE", o->no, NULL, "VTIMEZONE has too many transitions");
        onset *v = chg_realloc(o->v, cap * sizeof *v);
        if (!v)
            return oom(cx);
        o->v = v;
        o->cap = cap;
    }
    o->v[o->n++] = (onset){at, o->from, o->to};
    return true;
}

/* Compare without subtracting: instants are 64-bit and a difference could
 * overflow int. */
static int cmp_onset(const void *a, const void *b)
{
    const onset *x = a, *y = b;
    return x->at < y->at ? -1 : x->at > y->at;
}

static const icalcomponent_kind vtz_parts[] = {ICAL_XSTANDARD_COMPONENT, ICAL_XDAYLIGHT_COMPONENT};

/* The form of the no-th VTIMEZONE, checked for every one in the file,
 * named or not: each STANDARD and DAYLIGHT part has DTSTART, TZOFFSETFROM
 * and TZOFFSETTO, valid, and a daily or slower RRULE; there is at least
 * one part. What only its expansion can tell (a rule that never produces
 * an onset, too many onsets) is found when a time names it. */
static bool check_vtimezone(cal_ctx *cx, icalcomponent *vtz, const char *tzid, int no)
{
    size_t parts = 0;
    for (int k = 0; k < 2; k++) {
        for (icalcomponent *sub = icalcomponent_get_first_component(vtz, vtz_parts[k]); sub;
             sub = icalcomponent_get_next_component(vtz, vtz_parts[k]), parts++) {
            icalproperty *ds = icalcomponent_get_first_property(sub, ICAL_DTSTART_PROPERTY);
            icalproperty *pf = icalcomponent_get_first_property(sub, ICAL_TZOFFSETFROM_PROPERTY);
            icalproperty *pt = icalcomponent_get_first_property(sub, ICAL_TZOFFSETTO_PROPERTY);
            if (!ds || !pf || !pt)
                return cal_error(cx, "VTIMEZONE", no, NULL,
                                 "VTIMEZONE '%s' needs DTSTART, TZOFFSETFROM and "
                                 "TZOFFSETTO in each STANDARD/DAYLIGHT",
                                 tzid);
            int from = icalproperty_get_tzoffsetfrom(pf), to = icalproperty_get_tzoffsetto(pt);
            if (!valid_tt(icalproperty_get_dtstart(ds)) || from > TI_MAX_OFFSET ||
                from < -TI_MAX_OFFSET || to > TI_MAX_OFFSET || to < -TI_MAX_OFFSET)
                return cal_error(cx, "VTIMEZONE", no, "DTSTART",
                                 "VTIMEZONE '%s' has an invalid DTSTART or offset", tzid);
            for (icalproperty *rp = icalcomponent_get_first_property(sub, ICAL_RRULE_PROPERTY); rp;
                 rp = icalcomponent_get_next_property(sub, ICAL_RRULE_PROPERTY)) {
                icalrecurrencetype_frequency f = icalproperty_get_rrule(rp).freq;
                if (f != ICAL_YEARLY_RECURRENCE && f != ICAL_MONTHLY_RECURRENCE &&
                    f != ICAL_WEEKLY_RECURRENCE && f != ICAL_DAILY_RECURRENCE)
                    return cal_error(cx, "VTIMEZONE", no, "RRULE",
                                     "VTIMEZONE '%s' has an unsupported RRULE", tzid);
            }
        }
    }
    if (parts == 0)
        return cal_error(cx, "VTIMEZONE", no, NULL,
                         "VTIMEZONE '%s' has no STANDARD or DAYLIGHT part", tzid);
    return true;
}

/* Build the zone of a VTIMEZONE the first time a time names it (its form
 * was checked): expand every onset of every STANDARD and DAYLIGHT part up
 * to the end of the expansion window, sort them, and make the transition
 * table "offset TZOFFSETTO from each onset on" (before the first onset,
 * its TZOFFSETFROM). Two onsets at the same instant (a malformed
 * VTIMEZONE) keep one offset, whichever qsort put last. The zone is a
 * plain table, no footer rule: occurrences never go past TI_CAL_UNTIL. */
static bool build_vtimezone(cal_ctx *cx, zone_ref *z)
{
    onsets o = {0};
    o.no = z->no;
    for (int k = 0; k < 2; k++) {
        for (icalcomponent *sub = icalcomponent_get_first_component(z->vtz, vtz_parts[k]); sub;
             sub = icalcomponent_get_next_component(z->vtz, vtz_parts[k])) {
            struct icaltimetype st = icalproperty_get_dtstart(
                icalcomponent_get_first_property(sub, ICAL_DTSTART_PROPERTY));
            o.from = icalproperty_get_tzoffsetfrom(
                icalcomponent_get_first_property(sub, ICAL_TZOFFSETFROM_PROPERTY));
            o.to = icalproperty_get_tzoffsetto(
                icalcomponent_get_first_property(sub, ICAL_TZOFFSETTO_PROPERTY));
            o.until = INT64_MAX;
            int64_t stop = TI_CAL_UNTIL + 2 * 86400;
            if (!onset_add(cx, &o, tt_local(st))) {
                chg_free(o.v);
                return false;
            }
            for (icalproperty *rp = icalcomponent_get_first_property(sub, ICAL_RRULE_PROPERTY); rp;
                 rp = icalcomponent_get_next_property(sub, ICAL_RRULE_PROPERTY)) {
                struct icalrecurrencetype r = icalproperty_get_rrule(rp);
                o.until = INT64_MAX;
                if (!icaltime_is_null_time(r.until) && valid_tt(r.until))
                    o.until = icaltime_is_utc(r.until) ? tt_local(r.until)
                                                       : tt_local(r.until) - o.from;
                if (!iterate_rrule(cx, r, st, stop, MAX_TZ_TRANSITIONS, onset_add, &o,
                                   "VTIMEZONE", z->no)) {
                    chg_free(o.v);
                    return false;
                }
            }
            o.until = INT64_MAX;
            for (icalproperty *rp = icalcomponent_get_first_property(sub, ICAL_RDATE_PROPERTY); rp;
                 rp = icalcomponent_get_next_property(sub, ICAL_RDATE_PROPERTY)) {
                struct icaldatetimeperiodtype dp = icalproperty_get_rdate(rp);
                if (valid_tt(dp.time) && !onset_add(cx, &o, tt_local(dp.time))) {
                    chg_free(o.v);
                    return false;
                }
            }
        }
    }
    qsort(o.v, o.n, sizeof *o.v, cmp_onset);
    int64_t *at = chg_malloc(o.n * sizeof *at);
    int32_t *offs = chg_malloc((o.n + 1) * sizeof *offs);
    if (!at || !offs) {
        chg_free(at);
        chg_free(offs);
        chg_free(o.v);
        return oom(cx);
    }
    offs[0] = o.v[0].from;
    size_t m = 0;
    for (size_t i = 0; i < o.n; i++) {
        if (m > 0 && at[m - 1] == o.v[i].at) {
            offs[m] = o.v[i].to;
            continue;
        }
        at[m] = o.v[i].at;
        offs[m + 1] = o.v[i].to;
        m++;
    }
    z->tz = chg_ti_tz_from_table(z->tzid, at, offs, m);
    chg_free(at);
    chg_free(offs);
    chg_free(o.v);
    return z->tz ? true : oom(cx);
}

/* By TZID, then document order: the first definition of a TZID wins. */
static int cmp_zone(const void *a, const void *b)
{
    const zone_ref *x = a, *y = b;
    int c = strcmp(x->tzid, y->tzid);
    return c ? c : (x->no > y->no) - (x->no < y->no);
}

/* The file's VTIMEZONEs into the zone table, unexpanded. Errors come in
 * document order, as if each were read in turn: libical's, then a missing
 * TZID, then the form; a later definition of a TZID already defined is
 * ignored (its form too), so the duplicates are found (by sorting) before
 * any form is checked. */
static bool read_vtimezones(cal_ctx *cx, icalcomponent **cals, size_t ncal)
{
    size_t n = 0;
    for (size_t i = 0; i < ncal; i++)
        n += (size_t)icalcomponent_count_components(cals[i], ICAL_VTIMEZONE_COMPONENT);
    if (n == 0)
        return true;
    zone_ref *doc = chg_calloc(n, sizeof *doc);
    bool *dup = chg_calloc(n, sizeof *dup);
    cx->zones = chg_calloc(n, sizeof *cx->zones);
    if (!doc || !dup || !cx->zones) {
        chg_free(doc);
        chg_free(dup);
        return oom(cx);
    }
    /* libical puts each VTIMEZONE first in its VCALENDAR as it parses
     * them (icalcomponent_add_component), so it lists a calendar's zones
     * last to first: no is the document's order, which locate() counts */
    size_t k = 0;
    for (size_t i = 0; i < ncal; i++) {
        size_t ni = (size_t)icalcomponent_count_components(cals[i], ICAL_VTIMEZONE_COMPONENT), j = 0;
        for (icalcomponent *c = icalcomponent_get_first_component(cals[i], ICAL_VTIMEZONE_COMPONENT);
             c && j < ni; c = icalcomponent_get_next_component(cals[i], ICAL_VTIMEZONE_COMPONENT), j++) {
            size_t no = k + ni - 1 - j;
            icalproperty *idp = icalcomponent_get_first_property(c, ICAL_TZID_PROPERTY);
            doc[no] = (zone_ref){.tzid = idp ? icalproperty_get_tzid(idp) : NULL, .vtz = c, .no = (int)no};
            if (doc[no].tzid && *doc[no].tzid)
                cx->zones[cx->nzones++] = doc[no];
        }
        k += ni;
    }
    qsort(cx->zones, cx->nzones, sizeof *cx->zones, cmp_zone);
    size_t m = 0;
    for (size_t i = 0; i < cx->nzones; i++) {
        if (m > 0 && strcmp(cx->zones[m - 1].tzid, cx->zones[i].tzid) == 0) {
            dup[cx->zones[i].no] = true;
            continue;
        }
        cx->zones[m++] = cx->zones[i];
    }
    cx->nzones = m;
    bool ok = true;
    for (size_t i = 0; i < k && ok; i++) {
        ok = check_lic_errors(cx, doc[i].vtz, "VTIMEZONE", (int)i);
        if (ok && (!doc[i].tzid || !*doc[i].tzid))
            ok = cal_error(cx, "VTIMEZONE", (int)i, NULL, "VTIMEZONE without TZID");
        else if (ok && !dup[i])
            ok = check_vtimezone(cx, doc[i].vtz, doc[i].tzid, (int)i);
    }
    chg_free(doc);
    chg_free(dup);
    return ok;
}

/* ---- events --------------------------------------------------------------------------- */

/* Record one occurrence [s, e) of the calendar (empty ones are dropped).
 * Each comes from a start that was counted as a step, so the steps' cap
 * (TI_CAL_MAX_OCCURRENCES) bounds these too: 500,000 pairs are 8 MB before
 * merging, whatever the rules. */
static bool occ_push(cal_ctx *cx, int64_t s, int64_t e)
{
    if (e <= s)
        return true;
    if (cx->nocc == cx->capocc) {
        size_t cap = cx->capocc ? cx->capocc * 2 : 64;
        int64_t *v = chg_realloc(cx->occ, cap * 2 * sizeof *v);
        if (!v)
            return oom(cx);
        cx->occ = v;
        cx->capocc = cap;
    }
    cx->occ[2 * cx->nocc] = s;
    cx->occ[2 * cx->nocc + 1] = e;
    cx->nocc++;
    return true;
}

/* One event's expansion state. An occurrence's end is computed from its
 * start as RFC 5545 §3.3.6 says: the nominal part of the duration (days,
 * weeks; all of an all-day event) is added to the local date, so a
 * one-day event across a DST change still ends at midnight, then the
 * exact part (hours, minutes, seconds) to the instant. Starts are kept as
 * local wall times until then, because EXDATE and RECURRENCE-ID compare
 * with them and the zone is applied once, in emit. */
typedef struct event {
    const chg_tz *tz;      /* zone of DTSTART (NULL when UTC) */
    bool is_utc, is_date;
    int64_t nominal_days;  /* end = local start + days, then + exact */
    int64_t exact;
    int64_t until;         /* RRULE UNTIL as an instant (INT64_MAX: none) */
    int64_t *starts;       /* local start times of occurrences */
    size_t n, cap;
} event;

/* Record an occurrence start (local wall time) of the event being
 * expanded, unless it is past the rule's UNTIL. */
static bool start_add(cal_ctx *cx, void *ud, int64_t local)
{
    event *ev = ud;
    if (!step(cx, "VEVENT", cx->event_no))
        return false;
    if (ev->until != INT64_MAX && to_instant(ev->tz, ev->is_utc, local) > ev->until)
        return true;
    int64_t *v = grow(cx, ev->starts, ev->n, &ev->cap, sizeof *v);
    if (!v)
        return false;
    ev->starts = v;
    ev->starts[ev->n++] = local;
    return true;
}

/* Compare without subtracting, which could overflow for far instants. */
static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* An event without UID cannot be overridden: RECURRENCE-ID matching is by
 * UID, so such an event's overrides simply add occurrences. */
static const char *uid_of(icalcomponent *ve)
{
    icalproperty *p = icalcomponent_get_first_property(ve, ICAL_UID_PROPERTY);
    return p ? icalproperty_get_uid(p) : NULL;
}

/* Only the event's own STATUS: a cancelled override (RECURRENCE-ID with
 * STATUS:CANCELLED) still removes its occurrence, because note_override
 * runs over every event, cancelled or not. */
static bool is_cancelled(icalcomponent *ve)
{
    icalproperty *p = icalcomponent_get_first_property(ve, ICAL_STATUS_PROPERTY);
    return p && icalproperty_get_status(p) == ICAL_STATUS_CANCELLED;
}

/* Convert a date or date-time property value to an instant in the event's
 * terms; *day gets its local date when it is a DATE. */
static bool value_instant(cal_ctx *cx, icalproperty *p, struct icaltimetype tt, const event *ev,
                          const char *prop, int64_t *out, int64_t *day)
{
    if (!valid_tt(tt))
        return cal_error(cx, "VEVENT", cx->event_no, prop, "invalid %s value", prop);
    bool utc;
    const chg_tz *z = zone_of(cx, p, tt, prop, &utc);
    if (cx->failed)
        return false;
    /* ev is NULL for RECURRENCE-ID, read before its event is known: a
     * floating id is then in the calendar's default zone */
    if (!utc && !z) /* floating or date: the event's zone */
        z = ev ? (ev->is_utc ? NULL : ev->tz) : cx->deftz;
    if (!utc && !z)
        utc = true;
    *day = tt.is_date ? chg_floor_div(tt_local(tt), 86400) : INT64_MIN;
    *out = to_instant(z, utc, tt_local(tt));
    return true;
}

/* Is x in the sorted v[0..n)? */
static bool has_i64(const int64_t *v, size_t n, int64_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && v[lo] == x;
}

/* The order of the override list, which the search below follows. */
static int cmp_override(const void *a, const void *b)
{
    const override *x = a, *y = b;
    int c = strcmp(x->uid, y->uid);
    if (c)
        return c;
    if (x->is_day != y->is_day)
        return x->is_day ? 1 : -1;
    return x->at < y->at ? -1 : x->at > y->at;
}

/* Does an override replace the occurrence of event `uid` at instant s
 * (is_day false) or on local date s (is_day true)? */
static bool overridden(const cal_ctx *cx, const char *uid, bool is_day, int64_t s)
{
    override key = {(char *)uid, is_day, s};
    size_t lo = 0, hi = cx->novr;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_override(&cx->ovr[mid], &key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < cx->novr && cmp_override(&cx->ovr[lo], &key) == 0;
}

/* Emit occurrence with local start `ls` unless excluded. */
static bool emit(cal_ctx *cx, const event *ev, int64_t ls, const int64_t *ex, size_t nex,
                 const int64_t *exday, size_t nexday, const char *uid)
{
    /* Exclusions compare instants (EXDATE date-times) or local dates
     * (EXDATE dates, which exclude every occurrence on that day), and
     * overrides are matched by UID and the replaced occurrence's instant
     * or date: binary searches in the sorted lists, so thousands of
     * EXDATEs or overrides cost a logarithm per occurrence. */
    int64_t s = to_instant(ev->tz, ev->is_utc, ls);
    if (s < TI_CAL_FROM || s >= TI_CAL_UNTIL)
        return true;
    int64_t day = chg_floor_div(ls, 86400);
    if (has_i64(ex, nex, s) || has_i64(exday, nexday, day))
        return true;
    if (uid && (overridden(cx, uid, false, s) || overridden(cx, uid, true, day)))
        return true;
    int64_t e = ev->nominal_days
                    ? ti_add(to_instant(ev->tz, ev->is_utc, ls + ev->nominal_days * 86400),
                             ev->exact)
                    : ti_add(s, ev->exact);
    return occ_push(cx, s, e);
}

static bool push_i64(cal_ctx *cx, int64_t **v, size_t *n, size_t *cap, int64_t x)
{
    int64_t *p = grow(cx, *v, *n, cap, sizeof *p);
    if (!p)
        return false;
    *v = p;
    p[(*n)++] = x;
    return true;
}

/* Expand one VEVENT into occurrences. is_override: it replaces one
 * occurrence of another event (RECURRENCE-ID) and does not recur itself. */
static bool expand_event(cal_ctx *cx, icalcomponent *ve, bool is_override)
{
    icalproperty *dsp = icalcomponent_get_first_property(ve, ICAL_DTSTART_PROPERTY);
    if (!dsp)
        return cal_error(cx, "VEVENT", cx->event_no, NULL, "VEVENT without DTSTART");
    struct icaltimetype ds = icalproperty_get_dtstart(dsp);
    if (!valid_tt(ds))
        return cal_error(cx, "VEVENT", cx->event_no, "DTSTART", "invalid DTSTART");
    event ev = {0};
    ev.until = INT64_MAX;
    ev.is_date = ds.is_date;
    ev.tz = zone_of(cx, dsp, ds, "DTSTART", &ev.is_utc);
    if (cx->failed)
        return false;
    if (!ev.tz && !ev.is_utc)
        ev.tz = cx->deftz; /* floating time or date: the calendar's zone */
    int64_t ls = tt_local(ds);
    int64_t s0 = to_instant(ev.tz, ev.is_utc, ls);

    icalproperty *dep = icalcomponent_get_first_property(ve, ICAL_DTEND_PROPERTY);
    icalproperty *dup = icalcomponent_get_first_property(ve, ICAL_DURATION_PROPERTY);
    if (dep && dup)
        return cal_error(cx, "VEVENT", cx->event_no, "DURATION",
                         "VEVENT has both DTEND and DURATION");
    if (dep) {
        struct icaltimetype de = icalproperty_get_dtend(dep);
        if (!valid_tt(de) || de.is_date != ds.is_date)
            return cal_error(cx, "VEVENT", cx->event_no, "DTEND",
                             "DTEND must be a valid %s like DTSTART",
                             ds.is_date ? "DATE" : "DATE-TIME");
        if (ds.is_date) {
            ev.nominal_days = chg_floor_div(tt_local(de), 86400) - chg_floor_div(ls, 86400);
            if (ev.nominal_days < 0)
                return cal_error(cx, "VEVENT", cx->event_no, "DTEND",
                                 "DTEND is before DTSTART");
        } else {
            bool utc;
            const chg_tz *ez = zone_of(cx, dep, de, "DTEND", &utc);
            if (cx->failed)
                return false;
            if (!ez && !utc)
                ez = ev.tz;
            int64_t e0 = to_instant(ez, utc, tt_local(de));
            if (e0 < s0)
                return cal_error(cx, "VEVENT", cx->event_no, "DTEND",
                                 "DTEND is before DTSTART");
            ev.exact = e0 - s0;
        }
    } else if (dup) {
        struct icaldurationtype d = icalproperty_get_duration(dup);
        if (d.is_neg)
            return cal_error(cx, "VEVENT", cx->event_no, "DURATION",
                             "negative DURATION");
        ev.nominal_days = (int64_t)d.days + 7 * (int64_t)d.weeks;
        ev.exact = (int64_t)d.hours * 3600 + (int64_t)d.minutes * 60 + d.seconds;
    } else if (ds.is_date) {
        ev.nominal_days = 1; /* RFC 5545: an all-day event lasts the day */
    }

    /* EXDATE */
    int64_t *ex = NULL, *exday = NULL;
    size_t nex = 0, nexday = 0, capex = 0, capexday = 0;
    bool ok = true;
    for (icalproperty *p = icalcomponent_get_first_property(ve, ICAL_EXDATE_PROPERTY); p && ok;
         p = icalcomponent_get_next_property(ve, ICAL_EXDATE_PROPERTY)) {
        int64_t inst, day;
        ok = value_instant(cx, p, icalproperty_get_exdate(p), &ev, "EXDATE", &inst, &day) &&
             (day != INT64_MIN ? push_i64(cx, &exday, &nexday, &capexday, day)
                               : push_i64(cx, &ex, &nex, &capex, inst));
    }
    if (nex)
        qsort(ex, nex, sizeof *ex, cmp_i64);
    if (nexday)
        qsort(exday, nexday, sizeof *exday, cmp_i64);
    /* an override does not recur, so nothing of it can be overridden: no
     * uid means emit checks no overrides */
    const char *uid = is_override ? NULL : uid_of(ve);

    /* the occurrence starts: DTSTART, RRULE, plain RDATEs. Several RRULEs
     * (deprecated, but seen) and an RDATE equal to a rule's occurrence give
     * the same start twice; the sort below drops duplicates. */
    if (ok)
        ok = start_add(cx, &ev, ls);
    if (!is_override) {
        for (icalproperty *p = icalcomponent_get_first_property(ve, ICAL_RRULE_PROPERTY); p && ok;
             p = icalcomponent_get_next_property(ve, ICAL_RRULE_PROPERTY)) {
            struct icalrecurrencetype r = icalproperty_get_rrule(p);
            ev.until = INT64_MAX;
            if (!icaltime_is_null_time(r.until) && valid_tt(r.until)) {
                if (r.until.is_date)
                    ev.until = to_instant(ev.tz, ev.is_utc, tt_local(r.until) + 86400) - 1;
                else if (icaltime_is_utc(r.until))
                    ev.until = tt_local(r.until);
                else
                    ev.until = to_instant(ev.tz, ev.is_utc, tt_local(r.until));
            }
            int64_t stop = TI_CAL_UNTIL + 2 * 86400;
            /* stop is two days past the window: local times run up to a
             * day ahead of instants, and an occurrence starting just before
             * TI_CAL_UNTIL must still be seen; emit drops what is past it */
            /* no cap of its own: start_add counts every start against
             * the calendar's steps, whatever rule it comes from */
            ok = iterate_rrule(cx, r, ds, stop, SIZE_MAX, start_add, &ev, "VEVENT", cx->event_no);
        }
        ev.until = INT64_MAX;
        for (icalproperty *p = icalcomponent_get_first_property(ve, ICAL_RDATE_PROPERTY); p && ok;
             p = icalcomponent_get_next_property(ve, ICAL_RDATE_PROPERTY)) {
            struct icaldatetimeperiodtype dp = icalproperty_get_rdate(p);
            if (!icaltime_is_null_time(dp.period.start)) {
                /* an explicit period: its own start and end */
                struct icalperiodtype pr = dp.period;
                int64_t a, b, day;
                if (!value_instant(cx, p, pr.start, &ev, "RDATE", &a, &day)) {
                    ok = false;
                    break;
                }
                if (!icaltime_is_null_time(pr.end)) {
                    if (!value_instant(cx, p, pr.end, &ev, "RDATE", &b, &day)) {
                        ok = false;
                        break;
                    }
                } else {
                    struct icaldurationtype d = pr.duration;
                    b = a + ((int64_t)d.days + 7 * (int64_t)d.weeks) * 86400 +
                        (int64_t)d.hours * 3600 + (int64_t)d.minutes * 60 + d.seconds;
                }
                if (!step(cx, "VEVENT", cx->event_no)) {
                    ok = false;
                    break;
                }
                if (!has_i64(ex, nex, a) && a >= TI_CAL_FROM && a < TI_CAL_UNTIL)
                    ok = occ_push(cx, a, b);
                continue;
            }
            struct icaltimetype rt = dp.time;
            if (!valid_tt(rt)) {
                ok = cal_error(cx, "VEVENT", cx->event_no, "RDATE", "invalid RDATE");
                break;
            }
            bool utc;
            const chg_tz *rz = zone_of(cx, p, rt, "RDATE", &utc);
            if (cx->failed) {
                ok = false;
                break;
            }
            /* express it in the event's wall time (floating: already is) */
            /* starts are kept in the event's wall time so that EXDATE and
             * overrides, matched in emit, compare like with like */
            int64_t rl = tt_local(rt);
            if (utc || (rz && rz != ev.tz)) {
                int64_t inst = utc ? rl : to_instant(rz, false, rl);
                rl = ev.is_utc ? inst : inst + chg_tz_offset(ev.tz, inst);
            }
            ok = start_add(cx, &ev, rl);
        }
    }
    if (ok && ev.n > 0) {
        qsort(ev.starts, ev.n, sizeof *ev.starts, cmp_i64);
        for (size_t i = 0; i < ev.n && ok; i++) {
            if (i > 0 && ev.starts[i] == ev.starts[i - 1])
                continue;
            ok = emit(cx, &ev, ev.starts[i], ex, nex, exday, nexday, uid);
        }
    }
    chg_free(ex);
    chg_free(exday);
    chg_free(ev.starts);
    return ok && !cx->failed;
}

/* Record the occurrence a RECURRENCE-ID event replaces. */
static bool note_override(cal_ctx *cx, icalcomponent *ve, icalproperty *rp)
{
    const char *uid = uid_of(ve);
    if (!uid)
        return true;
    /* RFC 5545 §3.8.4.4: RANGE=THISANDFUTURE makes the override apply to
     * every later instance too (shifted by the change of its start). Read
     * as this instance alone it would leave the later ones at their old
     * times, so it is refused; exporters split the series instead. */
    icalparameter *range = icalproperty_get_first_parameter(rp, ICAL_RANGE_PARAMETER);
    if (range && icalparameter_get_range(range) == ICAL_RANGE_THISANDFUTURE)
        return cal_error(cx, "VEVENT", cx->event_no, "RECURRENCE-ID",
                         "RECURRENCE-ID;RANGE=THISANDFUTURE is not supported: end the series and start a "
                         "new one at the changed instance");
    struct icaltimetype rt = icalproperty_get_recurrenceid(rp);
    int64_t inst, day;
    if (!value_instant(cx, rp, rt, NULL, "RECURRENCE-ID", &inst, &day))
        return false;
    override *o = grow(cx, cx->ovr, cx->novr, &cx->capovr, sizeof *o);
    if (!o)
        return false;
    cx->ovr = o;
    char *u = chg_strdup(uid);
    if (!u)
        return oom(cx);
    cx->ovr[cx->novr++] = (override){u, day != INT64_MIN, day != INT64_MIN ? day : inst};
    return true;
}

/* ---- the calendar ------------------------------------------------------------------------ */

/* The value of a calendar-level X- property (X-CALENDAR-TYPE,
 * X-WR-TIMEZONE), or NULL; libical keeps those unparsed. */
static const char *x_prop(icalcomponent *cal, const char *name)
{
    for (icalproperty *p = icalcomponent_get_first_property(cal, ICAL_X_PROPERTY); p;
         p = icalcomponent_get_next_property(cal, ICAL_X_PROPERTY)) {
        const char *n = icalproperty_get_x_name(p);
        if (n && strcmp(n, name) == 0)
            return icalproperty_get_x(p);
    }
    return NULL;
}

/* Frees everything the build state owns; the occurrences unless they were
 * handed to the result (cx->occ is then NULL). */
static void ctx_free(cal_ctx *cx)
{
    for (size_t i = 0; i < cx->nzones; i++) {
        if (cx->zones[i].own_tzid)
            chg_free((char *)cx->zones[i].tzid);
        chg_tz_free(cx->zones[i].tz);
    }
    chg_free(cx->zones);
    for (size_t i = 0; i < cx->novr; i++)
        chg_free(cx->ovr[i].uid);
    chg_free(cx->ovr);
    chg_free(cx->occ);
}

/* By start, then end: the merge below relies on starts ascending only,
 * the end order just makes the sort deterministic. */
static int cmp_pair(const void *a, const void *b)
{
    const int64_t *x = a, *y = b;
    if (x[0] != y[0])
        return x[0] < y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : x[1] > y[1];
}

/* Place of the first line of property `name` anywhere in the text. */
static void locate_line(const char *text, size_t len, const char *name, size_t *off, size_t *l)
{
    const char *p = text, *end = text + len;
    *off = 0;
    *l = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *lc = le > p && le[-1] == '\r' ? le - 1 : le;
        if (line_starts_with(p, lc, name)) {
            *off = (size_t)(p - text);
            *l = (size_t)(lc - p);
            return;
        }
        p = nl ? nl + 1 : end;
    }
}

/* Parse and expand a calendar (see the file comment). Works on a private
 * NUL-terminated copy of the text; keeps nothing of it. On error returns
 * CHG_EINVAL (CHG_ERANGE when the budget ran out, or CHG_ENOMEM) with err
 * placed on the offending line. The steps taken are spent from the
 * budget whether the build succeeds or not: the work was done. */
int chg_ti_calendar_build(const char *text, size_t len, const char *zone, ti_budget *budget,
                          ti_calendar *out, chg_time_error *err)
{
    memset(out, 0, sizeof *out);
    if (err)
        err->message[0] = 0;
    if (memchr(text, 0, len)) {
        chg_ti_set_error(err, (size_t)((const char *)memchr(text, 0, len) - text), 1,
                     "the text contains a NUL byte");
        return CHG_EINVAL;
    }
    /* libical writes "Encountered END before BEGIN" to stderr itself (it
     * has no way to turn that off), so find that mistake first and
     * report it like any other */
    size_t depth = 0;
    for (size_t i = 0; i < len;) {
        size_t e = i;
        while (e < len && text[e] != '\n')
            e++;
        if (e - i >= 6 && strncasecmp(text + i, "BEGIN:", 6) == 0)
            depth++;
        else if (e - i >= 4 && strncasecmp(text + i, "END:", 4) == 0) {
            if (depth == 0) {
                size_t n = e - i;
                while (n && (text[i + n - 1] == '\r' || text[i + n - 1] == ' '))
                    n--;
                chg_ti_set_error(err, i, n, "'%.*s' comes before its BEGIN", (int)(n > 60 ? 60 : n), text + i);
                return CHG_EINVAL;
            }
            depth--;
        }
        i = e + 1;
    }
    char *buf = chg_strndup(text, len);
    if (!buf) {
        chg_ti_nomem(err, "out of memory");
        return CHG_ENOMEM;
    }
    icalcomponent *root = icalparser_parse_string(buf);
    chg_free(buf);
    if (!root) {
        chg_ti_set_error(err, 0, 0,
                     "not an iCalendar document (BEGIN:VCALENDAR ... END:VCALENDAR)");
        return CHG_EINVAL;
    }
    /* A file may hold several VCALENDARs (libical wraps them in an XROOT);
     * 64 is far above any export seen and keeps the list on the stack. */
    icalcomponent *cals[64];
    size_t ncal = 0;
    if (icalcomponent_isa(root) == ICAL_VCALENDAR_COMPONENT) {
        cals[ncal++] = root;
    } else if (icalcomponent_isa(root) == ICAL_XROOT_COMPONENT) {
        for (icalcomponent *c = icalcomponent_get_first_component(root, ICAL_VCALENDAR_COMPONENT);
             c; c = icalcomponent_get_next_component(root, ICAL_VCALENDAR_COMPONENT)) {
            if (ncal == CHG_ARRAY_LEN(cals)) {
                icalcomponent_free(root);
                chg_ti_set_error(err, 0, 0, "more than %zu VCALENDARs in one file",
                             CHG_ARRAY_LEN(cals));
                return CHG_EINVAL;
            }
            cals[ncal++] = c;
        }
    }
    if (ncal == 0) {
        icalcomponent_free(root);
        chg_ti_set_error(err, 0, 0, "no VCALENDAR in the text");
        return CHG_EINVAL;
    }
    cal_ctx cx = {0};
    cx.text = text;
    cx.len = len;
    cx.err = err;
    cx.budget = budget;
    cx.max_steps = budget && budget->left < TI_CAL_MAX_OCCURRENCES ? budget->left
                                                                    : TI_CAL_MAX_OCCURRENCES;
    int rc = CHG_EINVAL;
    chg_tz *own_default = NULL;

    /* calendar type: DEFAULT_OPEN unless said otherwise. Several
     * VCALENDARs in one text (an export of several calendars) are one
     * time set: their events are merged, and any DEFAULT_CLOSED makes it
     * the complement. */
    bool closed = false;
    const char *xtz = NULL;
    for (size_t i = 0; i < ncal; i++) {
        const char *type = x_prop(cals[i], "X-CALENDAR-TYPE");
        if (type) {
            size_t off, l;
            locate_line(text, len, "X-CALENDAR-TYPE", &off, &l);
            if (strcmp(type, "DEFAULT_CLOSED") == 0) {
                closed = true;
            } else if (strcmp(type, "DEFAULT_OPEN") != 0) {
                chg_ti_set_error(err, off, l,
                             "X-CALENDAR-TYPE must be DEFAULT_OPEN or DEFAULT_CLOSED, "
                             "not '%s'",
                             type);
                goto done;
            }
        }
        if (!xtz)
            xtz = x_prop(cals[i], "X-WR-TIMEZONE");
    }
    /* the zone of floating times and dates: the node's, X-WR-TIMEZONE, UTC */
    {
        chg_time_error zerr;
        const char *zn = zone ? zone : xtz ? xtz : "UTC";
        own_default = chg_tz_load(zn, &zerr);
        if (!own_default && !zone && xtz) {
            size_t off, l;
            locate_line(text, len, "X-WR-TIMEZONE", &off, &l);
            chg_ti_set_error(err, off, l, "X-WR-TIMEZONE '%s' is not a known time zone",
                         xtz);
            goto done;
        }
        if (!own_default) {
            if (err)
                *err = zerr;
            goto done;
        }
        cx.deftz = own_default;
    }
    /* zones, then overrides, then events; all in document order */
    if (!read_vtimezones(&cx, cals, ncal))
        goto done;
    /* Pass one records every override before any event is expanded, so a
     * RECURRENCE-ID event may come before or after its master in the file.
     * Events are numbered in document order across VCALENDARs, the order
     * locate() counts BEGIN:VEVENT lines in for error places. */
    int nev = 0, live = 0;
    for (size_t i = 0; i < ncal; i++)
        for (icalcomponent *c = icalcomponent_get_first_component(cals[i], ICAL_VEVENT_COMPONENT);
             c; c = icalcomponent_get_next_component(cals[i], ICAL_VEVENT_COMPONENT), nev++) {
            cx.event_no = nev;
            if (!check_lic_errors(&cx, c, "VEVENT", nev))
                goto done;
            icalproperty *rp = icalcomponent_get_first_property(c, ICAL_RECURRENCEID_PROPERTY);
            if (rp && !note_override(&cx, c, rp))
                goto done;
        }
    if (cx.novr)
        qsort(cx.ovr, cx.novr, sizeof *cx.ovr, cmp_override);
    nev = 0;
    for (size_t i = 0; i < ncal; i++)
        for (icalcomponent *c = icalcomponent_get_first_component(cals[i], ICAL_VEVENT_COMPONENT);
             c; c = icalcomponent_get_next_component(cals[i], ICAL_VEVENT_COMPONENT), nev++) {
            cx.event_no = nev;
            if (is_cancelled(c))
                continue;
            live++;
            bool ovr = icalcomponent_get_first_property(c, ICAL_RECURRENCEID_PROPERTY) != NULL;
            if (!expand_event(&cx, c, ovr))
                goto done;
        }
    /* sort and merge touching or overlapping occurrences: the time set
     * needs disjoint, non-adjacent intervals (calendar_span binary-searches
     * them and reports each as one span) */
    if (cx.nocc > 0) {
        qsort(cx.occ, cx.nocc, 2 * sizeof *cx.occ, cmp_pair);
        size_t m = 0;
        for (size_t i = 0; i < cx.nocc; i++) {
            int64_t s = cx.occ[2 * i], e = cx.occ[2 * i + 1];
            if (m > 0 && s <= cx.occ[2 * m - 1]) {
                if (e > cx.occ[2 * m - 1])
                    cx.occ[2 * m - 1] = e;
                continue;
            }
            cx.occ[2 * m] = s;
            cx.occ[2 * m + 1] = e;
            m++;
        }
        /* shrinking cannot really fail; if it does, the larger block is as
         * good, so the result is never lost to it */
        out->iv = chg_realloc(cx.occ, m * 2 * sizeof *cx.occ);
        if (!out->iv)
            out->iv = cx.occ;
        cx.occ = NULL;
        out->n = m;
    }
    /* AWS: a calendar without events neither blocks nor allows anything */
    out->complement = closed && live > 0;
    rc = CHG_OK;
done:
    if (rc != CHG_OK && cx.failed && rc == CHG_EINVAL && err && !err->message[0])
        chg_ti_set_error(err, 0, 0, "invalid calendar");
    if (rc != CHG_OK && cx.status == CHG_ERANGE)
        rc = CHG_ERANGE;
    if (budget)
        budget->left -= cx.steps < budget->left ? cx.steps : budget->left;
    ctx_free(&cx);
    chg_tz_free(own_default);
    icalcomponent_free(root);
    return rc;
}

/* ---- what AWS's import would say ------------------------------------------------------ */

/* The producers AWS Change Calendar imports from (Google Calendar,
 * Microsoft Outlook, iCloud Calendar: "Supported calendar providers" in
 * the Systems Manager User Guide, third-party-events), recognised by the
 * PRODID their exports carry: Google's "-//Google Inc//Google Calendar
 * 70.9054//EN", Outlook's "-//Microsoft Corporation//Outlook 16.0
 * MIMEDIR//EN" (Outlook on the web writes "Microsoft Exchange Server
 * 2010"), Apple's "-//Apple Inc.//macOS 14.0//EN" or "…//iCloud…". */
static const char *const aws_producers[] = {
    "//google inc//google calendar", "//microsoft corporation//outlook",
    "microsoft exchange server", "-//apple inc.//"};

static bool contains_nocase(const char *s, const char *pat)
{
    size_t n = strlen(pat);
    for (; *s; s++)
        if (strncasecmp(s, pat, n) == 0)
            return true;
    return false;
}

/* Line (1-based) of the no-th BEGIN:VEVENT of the text. */
static size_t event_line(const char *text, size_t len, int no)
{
    cal_ctx cx = {0};
    cx.text = text;
    cx.len = len;
    size_t off, l, line = 1;
    locate(&cx, "VEVENT", no, NULL, &off, &l);
    for (size_t i = 0; i < off; i++)
        line += text[i] == '\n';
    return line;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The UIDs of the recurring (RRULE or RDATE) events that are not
 * overrides, sorted, in *out (the caller frees the array, not the
 * strings, which are libical's); false when memory runs out. A cancelled
 * override deletes an occurrence only of one of those: the list is
 * searched, so thousands of overrides cost a logarithm each. */
static bool recurring_uids(icalcomponent **cals, size_t ncal, const char ***out, size_t *n)
{
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    for (size_t i = 0; i < ncal; i++)
        for (icalcomponent *c = icalcomponent_get_first_component(cals[i], ICAL_VEVENT_COMPONENT); c;
             c = icalcomponent_get_next_component(cals[i], ICAL_VEVENT_COMPONENT)) {
            const char *u = uid_of(c);
            if (!u || icalcomponent_get_first_property(c, ICAL_RECURRENCEID_PROPERTY) ||
                !(icalcomponent_get_first_property(c, ICAL_RRULE_PROPERTY) ||
                  icalcomponent_get_first_property(c, ICAL_RDATE_PROPERTY)))
                continue;
            if (*n == cap) {
                size_t nc = cap ? cap * 2 : 16;
                const char **v = chg_realloc((void *)*out, nc * sizeof *v);
                if (!v)
                    return false;
                *out = v;
                cap = nc;
            }
            (*out)[(*n)++] = u;
        }
    if (*n)
        qsort((void *)*out, *n, sizeof **out, cmp_str);
    return true;
}

int chg_calendar_facts_of(const char *ics, size_t len, chg_calendar_facts *out)
{
    memset(out, 0, sizeof *out);
    out->size = len;
    if (memchr(ics, 0, len))
        return CHG_EINVAL;
    char *buf = chg_strndup(ics, len);
    if (!buf)
        return CHG_ENOMEM;
    icalcomponent *root = icalparser_parse_string(buf);
    chg_free(buf);
    if (!root)
        return CHG_EINVAL;
    icalcomponent *cals[64];
    size_t ncal = 0;
    if (icalcomponent_isa(root) == ICAL_VCALENDAR_COMPONENT)
        cals[ncal++] = root;
    else
        for (icalcomponent *c = icalcomponent_get_first_component(root, ICAL_VCALENDAR_COMPONENT);
             c && ncal < CHG_ARRAY_LEN(cals); c = icalcomponent_get_next_component(root, ICAL_VCALENDAR_COMPONENT))
            cals[ncal++] = c;
    if (ncal == 0) {
        icalcomponent_free(root);
        return CHG_EINVAL;
    }
    icalproperty *pp = icalcomponent_get_first_property(cals[0], ICAL_PRODID_PROPERTY);
    const char *prodid = pp ? icalproperty_get_prodid(pp) : NULL;
    if (prodid) {
        snprintf(out->prodid, sizeof out->prodid, "%s", prodid);
        out->aws_document = contains_nocase(prodid, "-//aws//change calendar");
        for (size_t i = 0; i < CHG_ARRAY_LEN(aws_producers); i++)
            out->supported_producer |= contains_nocase(prodid, aws_producers[i]);
    }
    const char **uids;
    size_t nuids;
    if (!recurring_uids(cals, ncal, &uids, &nuids)) {
        chg_free((void *)uids);
        icalcomponent_free(root);
        return CHG_ENOMEM;
    }
    int no = 0;
    for (size_t i = 0; i < ncal; i++) {
        const char *type = x_prop(cals[i], "X-CALENDAR-TYPE");
        out->closed |= type && strcmp(type, "DEFAULT_CLOSED") == 0;
        for (icalcomponent *c = icalcomponent_get_first_component(cals[i], ICAL_VEVENT_COMPONENT); c;
             c = icalcomponent_get_next_component(cals[i], ICAL_VEVENT_COMPONENT), no++) {
            bool cancelled = is_cancelled(c);
            bool ovr = icalcomponent_get_first_property(c, ICAL_RECURRENCEID_PROPERTY) != NULL;
            if (!cancelled)
                out->events++;
            for (icalproperty *rp = icalcomponent_get_first_property(c, ICAL_RRULE_PROPERTY);
                 rp && !cancelled && !ovr; rp = icalcomponent_get_next_property(c, ICAL_RRULE_PROPERTY)) {
                struct icalrecurrencetype r = icalproperty_get_rrule(rp);
                out->may_recur_past_end |= icaltime_is_null_time(r.until) || r.until.year >= 2200;
            }
            if (out->deleted_line)
                continue;
            bool recurs = icalcomponent_get_first_property(c, ICAL_RRULE_PROPERTY) ||
                          icalcomponent_get_first_property(c, ICAL_RDATE_PROPERTY);
            const char *uid = uid_of(c);
            if (!ovr && recurs && icalcomponent_get_first_property(c, ICAL_EXDATE_PROPERTY)) {
                out->deleted_line = event_line(ics, len, no);
                out->deleted_how = "EXDATE";
            } else if (ovr && cancelled && uid && nuids &&
                       bsearch(&uid, (void *)uids, nuids, sizeof *uids, cmp_str)) {
                out->deleted_line = event_line(ics, len, no);
                out->deleted_how = "STATUS:CANCELLED";
            }
        }
    }
    chg_free((void *)uids);
    icalcomponent_free(root);
    return CHG_OK;
}

/* Leaves an empty calendar, so a second free is harmless. */
void chg_ti_calendar_free(ti_calendar *cal)
{
    chg_free(cal->iv);
    cal->iv = NULL;
    cal->n = 0;
}
