/*
 * tz.c — time zones: the TZif reader (RFC 8536, versions 1 to 4, using the
 * 64-bit section when present), the POSIX TZ rule of the footer for
 * instants past the transition table, UTC offsets, the segment walk the
 * schedules use, and local-time → instant resolution with gap and overlap
 * rules.
 *
 * A loaded zone is an immutable table of segments (stretches of constant
 * UTC offset) extended with the footer rule up to the year 2200; past the
 * table (and before it, for a file that has no transitions) the footer
 * rule is evaluated on the fly, so any int64 instant has an answer. There
 * is no process-wide cache: every chg_tz_load reads its file.
 */
#include "time_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the POSIX TZ rule (TZif footer) ------------------------------------------ */

typedef enum { RD_JULIAN1, RD_JULIAN0, RD_MWD } rule_kind;

typedef struct rule_date {
    rule_kind kind;
    int n;          /* Jn: 1..365; n: 0..365 */
    int m, w, d;    /* Mm.w.d */
    int32_t time;   /* seconds after local midnight, -167h..167h */
} rule_date;

typedef struct posix_rule {
    int32_t std_off, dst_off; /* UTC offsets (east positive) */
    bool has_dst;
    rule_date start, end;
} posix_rule;

/* A zone is the list of instants at which its offset changes: segment i
 * is [start[i], start[i+1]) with offset off[i], so the offset at t is a
 * binary search (chg_ti_tz_segment). The file's table is extended with
 * the footer rule up to EXTEND_TO_YEAR, which covers every schedule a
 * policy is likely to ask about without evaluating the rule; outside
 * [static_lo, static_hi) a zone with DST (`dynamic`) evaluates the rule
 * per query instead, so the table stays a few hundred entries and any
 * int64 instant still has an answer. */
struct chg_tz {
    char *name;
    size_t n;        /* segments: [start[i], start[i+1]) has offset off[i] */
    int64_t *start;  /* start[0] == INT64_MIN */
    int32_t *off;
    bool dynamic;    /* a footer rule with DST governs outside [static_lo, static_hi) */
    int64_t static_lo, static_hi;
    posix_rule rule;
};

static void set_error(chg_time_error *err, int status, size_t offset, size_t length, const char *fmt, va_list ap)
{
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    err->status = status;
    err->offset = offset;
    err->length = length;
}

void chg_ti_set_error(chg_time_error *err, size_t offset, size_t length, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    set_error(err, CHG_EINVAL, offset, length, fmt, ap);
    va_end(ap);
}

/* Out of memory: the status says so, so no caller reports a schedule as
 * malformed for it; there is no place in the input to point at. */
void chg_ti_nomem(chg_time_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    set_error(err, CHG_ENOMEM, 0, 0, fmt, ap);
    va_end(ap);
}

/* Parse a POSIX zone abbreviation: "<+0545>" or at least three letters. */
static bool parse_abbr(const char **pp)
{
    const char *p = *pp;
    if (*p == '<') {
        p++;
        const char *b = p;
        while (*p && *p != '>') {
            if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                  (*p >= '0' && *p <= '9') || *p == '+' || *p == '-'))
                return false;
            p++;
        }
        if (*p != '>' || p - b < 3)
            return false;
        *pp = p + 1;
        return true;
    }
    const char *b = p;
    while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
        p++;
    if (p - b < 3)
        return false;
    *pp = p;
    return true;
}

/* [+-]hh[:mm[:ss]] with hh <= max_h; result in seconds (sign applied). */
static bool parse_hms(const char **pp, int max_h, int32_t *out)
{
    const char *p = *pp;
    int sign = 1;
    if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        p++;
    }
    int v[3] = {0, 0, 0};
    for (int part = 0; part < 3; part++) {
        if (part > 0) {
            if (*p != ':')
                break;
            p++;
        }
        if (*p < '0' || *p > '9')
            return false;
        int x = 0, digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 3) {
            x = x * 10 + (*p - '0');
            p++;
            digits++;
        }
        v[part] = x;
    }
    if (v[0] > max_h || v[1] > 59 || v[2] > 59)
        return false;
    *out = sign * (v[0] * 3600 + v[1] * 60 + v[2]);
    *pp = p;
    return true;
}

static bool parse_int(const char **pp, int lo, int hi, int *out)
{
    const char *p = *pp;
    if (*p < '0' || *p > '9')
        return false;
    int x = 0;
    while (*p >= '0' && *p <= '9') {
        x = x * 10 + (*p - '0');
        if (x > hi)
            return false;
        p++;
    }
    if (x < lo)
        return false;
    *out = x;
    *pp = p;
    return true;
}

/* A rule date: Jn, n or Mm.w.d, with an optional /time (default 02:00). */
static bool parse_rule_date(const char **pp, rule_date *rd)
{
    const char *p = *pp;
    if (*p == 'J') {
        p++;
        rd->kind = RD_JULIAN1;
        if (!parse_int(&p, 1, 365, &rd->n))
            return false;
    } else if (*p == 'M') {
        p++;
        rd->kind = RD_MWD;
        if (!parse_int(&p, 1, 12, &rd->m) || *p++ != '.' || !parse_int(&p, 1, 5, &rd->w) ||
            *p++ != '.' || !parse_int(&p, 0, 6, &rd->d))
            return false;
    } else {
        rd->kind = RD_JULIAN0;
        if (!parse_int(&p, 0, 365, &rd->n))
            return false;
    }
    rd->time = 7200;
    if (*p == '/') {
        p++;
        if (!parse_hms(&p, 167, &rd->time))
            return false;
    }
    *pp = p;
    return true;
}

/* Parse a TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3". */
static bool parse_posix(const char *s, posix_rule *r)
{
    const char *p = s;
    memset(r, 0, sizeof *r);
    int32_t off;
    if (!parse_abbr(&p) || !parse_hms(&p, 24, &off))
        return false;
    r->std_off = -off;
    if (!*p)
        return true;
    if (!parse_abbr(&p))
        return false;
    r->has_dst = true;
    r->dst_off = r->std_off + 3600;
    if (*p && *p != ',') {
        if (!parse_hms(&p, 24, &off))
            return false;
        r->dst_off = -off;
    }
    if (!*p) {
        /* POSIX leaves the default rule to the implementation; tzcode uses
         * the US rules. */
        r->start = (rule_date){RD_MWD, 0, 3, 2, 0, 7200};
        r->end = (rule_date){RD_MWD, 0, 11, 1, 0, 7200};
        return true;
    }
    if (*p++ != ',' || !parse_rule_date(&p, &r->start) || *p++ != ',' ||
        !parse_rule_date(&p, &r->end))
        return false;
    return *p == 0;
}

/* Day number (since 1970) of a rule date in year y. POSIX has three
 * forms: Jn counts 1..365 and never counts February 29 (J60 is always
 * March 1); n counts 0..365 with February 29; Mm.w.d is weekday d of week
 * w of month m, where w = 5 means the last such weekday (hence the step
 * back while the day is past the month's end). */
static int64_t rule_day(const rule_date *rd, int64_t y)
{
    int64_t jan1 = chg_days_from_civil(y, 1, 1);
    switch (rd->kind) {
    case RD_JULIAN1:
        return jan1 + rd->n - 1 + (chg_is_leap(y) && rd->n >= 60 ? 1 : 0);
    case RD_JULIAN0:
        return jan1 + rd->n;
    case RD_MWD:
    default: {
        int64_t first = chg_days_from_civil(y, rd->m, 1);
        int wd0 = chg_weekday_from_days(first);
        int day = 1 + (rd->d - wd0 + 7) % 7 + (rd->w - 1) * 7;
        int dim = chg_days_in_month(y, rd->m);
        while (day > dim)
            day -= 7;
        return first + day - 1;
    }
    }
}

typedef struct rule_tr {
    int64_t at;
    int32_t off; /* offset from `at` on */
    int order;   /* ties: an end (0) sorts before a start (1) */
    bool edge;   /* first start or last end: its cancelling partner may be missing */
} rule_tr;

/* The transitions of years y-2..y+3, sorted, with zero-length DST periods
 * and non-changes removed. Returns how many (<= 12). The first start and
 * the last end are marked `edge`: in a DST-all-year rule they would cancel
 * with a neighbour year's transition that is not in the list.
 *
 * A rule's times are local: the start is given in standard time (hence
 * - std_off), the end in daylight time (- dst_off), and since RFC 8536
 * they may lie outside 0..24h (-167h..167h), so a year's transition can
 * fall in the year before or after. Six years around y are computed so
 * that the years the callers use (y and y+1, or the one containing t) are
 * surrounded by their true neighbours. Southern-hemisphere rules (start
 * after end in the calendar year) need nothing special: sorting puts the
 * transitions in order. */
#define RULE_TR_MAX 12
static int rule_transitions(const posix_rule *r, int64_t y, rule_tr *out)
{
    int n = 0;
    for (int64_t yy = y - 2; yy <= y + 3; yy++) {
        out[n++] = (rule_tr){rule_day(&r->start, yy) * 86400 + r->start.time - r->std_off,
                             r->dst_off, 1, yy == y - 2};
        out[n++] = (rule_tr){rule_day(&r->end, yy) * 86400 + r->end.time - r->dst_off,
                             r->std_off, 0, yy == y + 3};
    }
    /* insertion sort: 12 items */
    for (int i = 1; i < n; i++) {
        rule_tr x = out[i];
        int j = i - 1;
        while (j >= 0 && (out[j].at > x.at || (out[j].at == x.at && out[j].order > x.order))) {
            out[j + 1] = out[j];
            j--;
        }
        out[j + 1] = x;
    }
    /* An end and a start at the same instant cancel (all-year DST). */
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (i + 1 < n && out[i].at == out[i + 1].at) {
            out[m] = out[i + 1];
            out[m++].edge |= out[i].edge;
            i++;
            continue;
        }
        out[m++] = out[i];
    }
    /* Drop entries that do not change the offset. */
    int k = 0;
    for (int i = 0; i < m; i++) {
        if (k > 0 && out[k - 1].off == out[i].off)
            continue;
        out[k++] = out[i];
    }
    return k;
}

/* The segment containing t under the footer rule alone. */
static void rule_segment(const posix_rule *r, int64_t t, ti_seg *seg)
{
    if (!r->has_dst) {
        *seg = (ti_seg){INT64_MIN, INT64_MAX, r->std_off, r->std_off};
        return;
    }
    /* Past year ±1e9 (3e16 s) the civil-date arithmetic would overflow:
     * hold the offset on a one-second segment (callers only need progress). */
    if (t > (int64_t)3e16 || t < -(int64_t)3e16) {
        *seg = (ti_seg){t, ti_add(t, 1), r->std_off, r->std_off};
        return;
    }
    int64_t y;
    int mo, d;
    chg_civil_from_days(chg_floor_div(t + r->std_off, 86400), &y, &mo, &d);
    rule_tr tr[RULE_TR_MAX];
    int n = rule_transitions(r, y, tr);
    /* the offset at t: after the last transition <= t, edge or not */
    int last = -1;
    for (int i = 0; i < n; i++)
        if (tr[i].at <= t)
            last = i;
    seg->off = last >= 0 ? tr[last].off : n ? (tr[0].off == r->dst_off ? r->std_off : r->dst_off)
                                            : r->std_off;
    /* the segment's start: the last real transition <= t, looking back as
     * far as needed (a rule without real transitions has none). Each window
     * of 6 years is moved by 4 so consecutive windows overlap and no year
     * is seen only at an edge; 16 windows (64 years) is more than any rule
     * whose transitions do not all cancel can go without one. */
    seg->start = INT64_MIN;
    seg->prev_off = seg->off;
    for (int64_t base = y, iter = 0; iter < 16; iter++, base -= 4) {
        if (base != y)
            n = rule_transitions(r, base, tr);
        int s = -1;
        for (int i = 0; i < n; i++)
            if (tr[i].at <= t && !tr[i].edge)
                s = i;
        if (s >= 0) {
            seg->start = tr[s].at;
            seg->prev_off = s > 0 ? tr[s - 1].off
                                  : (tr[s].off == r->dst_off ? r->std_off : r->dst_off);
            break;
        }
    }
    seg->end = INT64_MAX;
    for (int64_t base = y, iter = 0; iter < 16; iter++, base += 4) {
        n = rule_transitions(r, base, tr);
        int e = -1;
        for (int i = n - 1; i >= 0; i--)
            if (tr[i].at > t && !tr[i].edge)
                e = i;
        if (e >= 0) {
            seg->end = tr[e].at;
            break;
        }
    }
}

/* ---- segments ------------------------------------------------------------------ */

/* The segment of t: from the table inside [static_lo, static_hi), else
 * from the footer rule. The last table segment's end is the rule's next
 * transition, not INT64_MAX, when the rule continues past the table. */
void chg_ti_tz_segment(const chg_tz *tz, int64_t t, ti_seg *seg)
{
    if (tz->dynamic && (t < tz->static_lo || t >= tz->static_hi)) {
        rule_segment(&tz->rule, t, seg);
        return;
    }
    /* largest i with start[i] <= t */
    size_t lo = 0, hi = tz->n;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->start[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    seg->start = tz->start[lo];
    seg->off = tz->off[lo];
    seg->prev_off = lo > 0 ? tz->off[lo - 1] : tz->off[0];
    seg->end = lo + 1 < tz->n ? tz->start[lo + 1] : INT64_MAX;
    if (tz->dynamic && lo + 1 == tz->n) {
        /* the last static segment ends where the rule says */
        ti_seg r;
        rule_segment(&tz->rule, t, &r);
        seg->end = r.end;
    }
}

int32_t chg_tz_offset(const chg_tz *tz, int64_t t)
{
    ti_seg s;
    chg_ti_tz_segment(tz, t, &s);
    return s.off;
}

int64_t chg_tz_next_transition(const chg_tz *tz, int64_t t)
{
    ti_seg s;
    chg_ti_tz_segment(tz, t, &s);
    return s.end;
}

bool chg_ti_tz_is_utc(const chg_tz *tz)
{
    return tz->n == 1 && tz->off[0] == 0 && !tz->dynamic;
}

bool chg_ti_tz_fixed(const chg_tz *tz, int32_t *off)
{
    if (tz->n != 1 || tz->dynamic)
        return false;
    *off = tz->off[0];
    return true;
}

/* Every instant u with u + offset(u) == local lies within TI_MAX_OFFSET of
 * local: walk the segments of that stretch, collecting the solutions and
 * noting a gap that swallows local.
 *
 * A segment [start, end) with offset off solves the equation iff
 * local - off lies in it. No solution: local is in a gap, the jump from
 * s.end + s.off to s.end + nx.off (spring forward), and the rule says
 * where it goes: TI_GAP_END gives the gap's end, the first instant the
 * clock shows a later time (chg's rule: 02:30 in a 02:00→03:00 gap is
 * 03:00); TI_GAP_SHIFT applies the offset from before the gap (RFC 5545:
 * 03:30). Two solutions: local is in a fold (fall back); fold = 0 takes
 * the earlier, fold = 1 the later. The 2 * TI_MAX_OFFSET stretch holds
 * few segments; 64 bounds the walk against a pathological table. */
int64_t chg_ti_tz_resolve(const chg_tz *tz, int64_t local, int fold, ti_gap_rule rule, bool *in_gap)
{
    bool dummy;
    if (!in_gap)
        in_gap = &dummy;
    *in_gap = false;
    if (chg_ti_tz_is_utc(tz))
        return local;
    int64_t sols[8];
    int nsol = 0;
    bool have_gap = false;
    int64_t gap_at = 0;
    int32_t gap_prev = 0;
    ti_seg s;
    chg_ti_tz_segment(tz, ti_add(local, -TI_MAX_OFFSET - 1), &s);
    int64_t stop = ti_add(local, TI_MAX_OFFSET + 1);
    for (int guard = 0; guard < 64; guard++) {
        int64_t cand = ti_add(local, -s.off);
        if (cand >= s.start && cand < s.end && nsol < 8)
            sols[nsol++] = cand;
        if (s.end == INT64_MAX || s.end > stop)
            break;
        ti_seg nx;
        chg_ti_tz_segment(tz, s.end, &nx);
        if (local >= ti_add(s.end, s.off) && local < ti_add(s.end, nx.off)) {
            have_gap = true;
            gap_at = s.end;
            gap_prev = s.off;
        }
        s = nx;
    }
    if (nsol > 0)
        return fold ? sols[nsol - 1] : sols[0];
    *in_gap = true;
    if (have_gap)
        return rule == TI_GAP_END ? gap_at : ti_add(local, -gap_prev);
    return ti_add(local, -s.off);
}

int64_t chg_tz_local_to_utc(const chg_tz *tz, int64_t local, int fold, bool *in_gap)
{
    return chg_ti_tz_resolve(tz, local, fold, TI_GAP_END, in_gap);
}

const char *chg_tz_name(const chg_tz *tz) { return tz->name; }

void chg_tz_free(chg_tz *tz)
{
    if (!tz)
        return;
    chg_free(tz->name);
    chg_free(tz->start);
    chg_free(tz->off);
    chg_free(tz);
}

/* ---- building ------------------------------------------------------------------- */

typedef struct seg_builder {
    int64_t *start;
    int32_t *off;
    size_t n, cap;
    bool oom;
} seg_builder;

/* Append a segment starting at `at` unless the offset does not change:
 * TZif files have transitions that change only the abbreviation or the
 * isdst flag, which chg does not use, and merging them keeps segments
 * maximal, which the schedules rely on (a segment start with
 * off != prev_off is a real gap or fold). */
static void sb_push(seg_builder *b, int64_t at, int32_t off)
{
    if (b->oom)
        return;
    if (b->n > 0 && b->off[b->n - 1] == off)
        return;
    if (b->n > 0 && at <= b->start[b->n - 1]) {
        /* same instant: the later definition wins */
        b->off[b->n - 1] = off;
        if (b->n > 1 && b->off[b->n - 2] == off)
            b->n--;
        return;
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        int64_t *s = chg_realloc(b->start, cap * sizeof *s);
        if (!s) {
            b->oom = true;
            return;
        }
        b->start = s;
        int32_t *o = chg_realloc(b->off, cap * sizeof *o);
        if (!o) {
            b->oom = true;
            return;
        }
        b->off = o;
        b->cap = cap;
    }
    b->start[b->n] = at;
    b->off[b->n] = off;
    b->n++;
}

/* Turn a builder into a zone (taking its arrays); NULL on OOM, freeing
 * everything. */
static chg_tz *tz_finish(const char *name, seg_builder *b)
{
    chg_tz *tz = b->oom ? NULL : chg_calloc(1, sizeof *tz);
    char *nm = tz ? chg_strdup(name) : NULL;
    if (!tz || !nm || b->n == 0) {
        chg_free(tz);
        chg_free(nm);
        chg_free(b->start);
        chg_free(b->off);
        return NULL;
    }
    tz->name = nm;
    tz->n = b->n;
    tz->start = b->start;
    tz->off = b->off;
    tz->start[0] = INT64_MIN;
    return tz;
}

chg_tz *chg_ti_tz_from_table(const char *name, const int64_t *at, const int32_t *offsets, size_t n)
{
    seg_builder b = {0};
    sb_push(&b, INT64_MIN, offsets[0]);
    for (size_t i = 0; i < n; i++)
        sb_push(&b, at[i], offsets[i + 1]);
    return tz_finish(name, &b);
}

/* Year of instant t in UTC (for the table extension). */
static int64_t year_of(int64_t t)
{
    int64_t y;
    int m, d;
    chg_civil_from_days(chg_floor_div(t, 86400), &y, &m, &d);
    return y;
}

#define EXTEND_TO_YEAR 2200

/* Append the rule's transitions after `from` up to the end of 2200.
 * rule_transitions(y) is exact for the years in its middle only (the
 * edges may miss a cancelling partner), so it is called every second year
 * and only its transitions in years y and y+1 are kept. */
static void extend_with_rule(seg_builder *b, const posix_rule *r, int64_t from)
{
    int64_t y0 = from == INT64_MIN ? 1900 : year_of(from);
    for (int64_t y = y0; y <= EXTEND_TO_YEAR; y += 2) {
        rule_tr tr[RULE_TR_MAX];
        int n = rule_transitions(r, y, tr);
        for (int i = 0; i < n; i++) {
            int64_t ty = year_of(tr[i].at); /* keep the reliable middle years */
            if (tr[i].at > from && (b->n == 0 || tr[i].at > b->start[b->n - 1]) &&
                (ty == y || ty == y + 1) && ty <= EXTEND_TO_YEAR)
                sb_push(b, tr[i].at, tr[i].off);
        }
    }
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* Parse TZif data into a zone. On error returns NULL with err filled.
 * A version 2+ file repeats its data with 64-bit times after the 32-bit
 * version 1 block; only the second block is read (the first is skipped by
 * its counts), then the footer, the POSIX rule for instants after the
 * table. Every count is checked against the length before any read. */
static chg_tz *parse_tzif(const char *name, const unsigned char *d, size_t len,
                          chg_time_error *err)
{
    if (len < 44 || memcmp(d, "TZif", 4) != 0) {
        chg_ti_set_error(err, 0, 0, "time zone '%s': not a TZif file", name);
        return NULL;
    }
    int version = d[4];
    const unsigned char *h = d;
    size_t tsize = 4;
    uint64_t cnt[6];
    for (int i = 0; i < 6; i++)
        cnt[i] = be32(h + 20 + 4 * i);
    if (version >= '2') {
        uint64_t v1 = cnt[3] * 5 + cnt[4] * 6 + cnt[5] + cnt[2] * 8 + cnt[1] + cnt[0];
        if (44 + v1 + 44 > len) {
            chg_ti_set_error(err, 0, 0, "time zone '%s': truncated TZif file", name);
            return NULL;
        }
        h = d + 44 + v1;
        if (memcmp(h, "TZif", 4) != 0) {
            chg_ti_set_error(err, 0, 0, "time zone '%s': malformed TZif file", name);
            return NULL;
        }
        for (int i = 0; i < 6; i++)
            cnt[i] = be32(h + 20 + 4 * i);
        tsize = 8;
    }
    uint64_t isutcnt = cnt[0], isstdcnt = cnt[1], leapcnt = cnt[2], timecnt = cnt[3],
             typecnt = cnt[4], charcnt = cnt[5];
    const unsigned char *p = h + 44;
    uint64_t block = timecnt * (tsize + 1) + typecnt * 6 + charcnt +
                     leapcnt * (tsize + 4) + isstdcnt + isutcnt;
    if ((uint64_t)(p - d) + block > len) {
        chg_ti_set_error(err, 0, 0, "time zone '%s': truncated TZif file", name);
        return NULL;
    }
    if (typecnt == 0 || typecnt > 256 || (isstdcnt && isstdcnt != typecnt) ||
        (isutcnt && isutcnt != typecnt)) {
        chg_ti_set_error(err, 0, 0, "time zone '%s': malformed TZif file", name);
        return NULL;
    }
    if (leapcnt) {
        chg_ti_set_error(err, 0, 0,
                     "time zone '%s': zones with leap seconds ('right/') are not supported",
                     name);
        return NULL;
    }
    const unsigned char *times = p;
    const unsigned char *idx = times + timecnt * tsize;
    const unsigned char *types = idx + timecnt;
    int32_t utoff[256];
    for (uint64_t i = 0; i < typecnt; i++) {
        int32_t o = (int32_t)be32(types + 6 * i);
        if (o > TI_MAX_OFFSET || o < -TI_MAX_OFFSET) {
            chg_ti_set_error(err, 0, 0, "time zone '%s': UTC offset out of range", name);
            return NULL;
        }
        utoff[i] = o;
    }
    posix_rule rule;
    bool have_rule = false;
    if (version >= '2') {
        const unsigned char *f = p + block;
        const unsigned char *end = d + len;
        if (f < end && *f == '\n') {
            const unsigned char *nl = memchr(f + 1, '\n', (size_t)(end - f - 1));
            if (nl && nl > f + 1) {
                char buf[128];
                size_t fl = (size_t)(nl - f - 1);
                if (fl >= sizeof buf || !(memcpy(buf, f + 1, fl), buf[fl] = 0, parse_posix(buf, &rule))) {
                    chg_ti_set_error(err, 0, 0, "time zone '%s': unsupported TZ rule in footer",
                                 name);
                    return NULL;
                }
                have_rule = true;
                if (rule.has_dst) {
                    /* a rule whose transitions all cancel (DST all year) is
                     * a fixed offset */
                    ti_seg sg;
                    rule_segment(&rule, 946684800, &sg);
                    if (sg.start == INT64_MIN && sg.end == INT64_MAX) {
                        rule.has_dst = false;
                        rule.std_off = sg.off;
                    }
                }
            }
        }
    }
    seg_builder b = {0};
    int64_t prev = INT64_MIN;
    if (timecnt == 0 && have_rule)
        sb_push(&b, INT64_MIN, rule.std_off);
    else
        sb_push(&b, INT64_MIN, utoff[0]);
    for (uint64_t i = 0; i < timecnt; i++) {
        int64_t t = tsize == 8 ? be64(times + 8 * i) : (int32_t)be32(times + 4 * i);
        if (idx[i] >= typecnt || (i > 0 && t <= prev)) {
            chg_free(b.start);
            chg_free(b.off);
            chg_ti_set_error(err, 0, 0, "time zone '%s': malformed transition table", name);
            return NULL;
        }
        prev = t;
        sb_push(&b, t, utoff[idx[i]]);
    }
    bool dynamic = false;
    int64_t static_lo = INT64_MIN, static_hi = INT64_MAX;
    if (have_rule && rule.has_dst) {
        int64_t from = timecnt ? prev : INT64_MIN;
        size_t before = b.n;
        extend_with_rule(&b, &rule, from);
        dynamic = true;
        if (timecnt == 0)
            static_lo = b.n > before ? b.start[before] : INT64_MAX;
        static_hi = b.n ? b.start[b.n - 1] : INT64_MIN;
        if (b.n == 1) /* only the initial segment: all dynamic */
            static_lo = INT64_MAX;
    }
    /* A footer without DST agrees with the last transition's type in every
     * file tzdata produces, so the table alone answers past it. */
    chg_tz *tz = tz_finish(name, &b);
    if (!tz) {
        chg_ti_nomem(err, "out of memory loading time zone '%s'", name);
        return NULL;
    }
    tz->dynamic = dynamic;
    tz->static_lo = static_lo;
    tz->static_hi = static_hi;
    if (have_rule)
        tz->rule = rule;
    return tz;
}

/* A zone name must stay inside the zoneinfo directory: no absolute path, no
 * "." or ".." components, no hidden files, only the characters tzdata uses. */
static bool valid_zone_name(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > 255 || name[0] == '/')
        return false;
    const char *comp = name;
    for (size_t i = 0; i <= len; i++) {
        char c = name[i];
        if (c == '/' || c == 0) {
            size_t cl = (size_t)(name + i - comp);
            if (cl == 0 || comp[0] == '.')
                return false;
            comp = name + i + 1;
            continue;
        }
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '+' || c == '.'))
            return false;
    }
    return true;
}

/* "UTC" needs no file; any other name is checked, then read from the
 * zoneinfo directory and parsed. Nothing is cached. */
chg_tz *chg_tz_load(const char *name, chg_time_error *err)
{
    if (!name)
        name = "UTC";
    if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0) {
        int32_t zero = 0;
        chg_tz *tz = chg_ti_tz_from_table(name, NULL, &zero, 0);
        if (!tz)
            chg_ti_nomem(err, "out of memory loading time zone '%s'", name);
        return tz;
    }
    if (!valid_zone_name(name)) {
        chg_ti_set_error(err, 0, 0, "'%s' is not a valid time zone name (expected an IANA "
                     "name such as \"Europe/Berlin\")", name);
        return NULL;
    }
    const char *dir = getenv("TZDIR");
    if (!dir || !*dir)
        dir = "/usr/share/zoneinfo";
    size_t pl = strlen(dir) + 1 + strlen(name) + 1;
    char *path = chg_malloc(pl);
    if (!path) {
        chg_ti_nomem(err, "out of memory loading time zone '%s'", name);
        return NULL;
    }
    snprintf(path, pl, "%s/%s", dir, name);
    char *data;
    size_t len;
    int rc = chg_read_file(path, &data, &len);
    chg_free(path);
    if (rc == CHG_ENOMEM) {
        chg_ti_nomem(err, "out of memory loading time zone '%s'", name);
        return NULL;
    }
    if (rc != CHG_OK) {
        chg_ti_set_error(err, 0, 0, "unknown time zone '%s'", name);
        return NULL;
    }
    chg_tz *tz = parse_tzif(name, (const unsigned char *)data, len, err);
    chg_free(data);
    return tz;
}
