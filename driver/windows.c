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
#include <stdlib.h>
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

/* "  START .. END  DURATION  (local START .. END ZONE)" without the
 * newline: one interval of a listing for a terminal. */
static void interval_text(chg_buf *out, const chg_tz *tz, int64_t s, int64_t e)
{
    char a[40], b[40];
    chg_time_format_utc(s, a);
    chg_time_format_utc(e, b);
    char dur[40];
    int64_t secs = e - s;
    snprintf(dur, sizeof dur, "%lldh%02lldm", (long long)(secs / 3600), (long long)(secs % 3600 / 60));
    chg_buf_printf(out, "  %s .. %s  %9s", a, b, dur);
    if (tz) {
        char la[40], lb[40];
        local_text(tz, s, la, sizeof la);
        local_text(tz, e, lb, sizeof lb);
        chg_buf_printf(out, "  (%s .. %s %s)", la, lb, chg_tz_name(tz));
    }
}

static int list_interval(void *ud, int64_t s, int64_t e)
{
    listing *L = ud;
    char a[40], b[40];
    chg_time_format_utc(s, a);
    chg_time_format_utc(e, b);
    if (L->format == CHG_LIST_TEXT) {
        interval_text(L->out, L->tz, s, e);
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

/* ---- effective slots (chgc windows --effective) ------------------------------------ */

/* What binds the changes of one risk class: a rule's required window, a
 * set it denies during, or a plain deny (set NONE). */
typedef struct use {
    uint32_t rule;
    uint32_t set;
    bool window;
    chg_applies how;
} use;

#define NO_SET UINT32_MAX

typedef struct effective {
    const chg_bundle *b;
    chg_ts_env env;
    int64_t from, to;
    chg_listing_format format;
    chg_buf *out, *diags;
    use *uses;                 /* of the class being listed */
    size_t nuses;
    const chg_timeset **sets;  /* the distinct (set, want) pairs of uses */
    bool *want;
    uint32_t *set_index;
    size_t nsets;
    const chg_tz *tz;          /* the one zone of all its sets, or NULL */
    size_t nwarnings;
} effective;

/* The uses of class k, in rule order: every rule that can change the
 * outcome (advisory ones never do), unless it never applies to the class;
 * a rule that applies to some of its changes is assumed to apply. */
static void class_uses(effective *E, uint32_t k)
{
    E->nuses = 0;
    for (uint32_t r = 0; r < chg_bundle_nrules(E->b); r++) {
        chg_rule_info ri;
        chg_bundle_rule(E->b, r, &ri);
        chg_applies how = chg_bundle_rule_applies(E->b, r, k);
        if (ri.level == 2 || how == CHG_APPLIES_NEVER)
            continue;
        if (ri.action == CHG_RULE_WINDOW)
            E->uses[E->nuses++] = (use){r, ri.window, true, how};
        else if (ri.action == CHG_RULE_DENY && !ri.nduring)
            E->uses[E->nuses++] = (use){r, NO_SET, false, how};
        else if (ri.action == CHG_RULE_DENY)
            for (uint32_t i = 0; i < ri.nduring; i++)
                E->uses[E->nuses++] = (use){r, ri.during[i], false, how};
    }
    E->nsets = 0;
    for (size_t u = 0; u < E->nuses; u++) {
        if (E->uses[u].set == NO_SET)
            continue;
        bool dup = false;
        for (size_t i = 0; i < E->nsets && !dup; i++)
            dup = E->set_index[i] == E->uses[u].set && E->want[i] == E->uses[u].window;
        if (dup)
            continue;
        chg_timeset_info info;
        E->sets[E->nsets] = chg_bundle_timeset(E->b, E->uses[u].set, &info);
        E->want[E->nsets] = E->uses[u].window;
        E->set_index[E->nsets++] = E->uses[u].set;
    }
}

/* The zone every set of the class names, when they name one. */
static const char *class_zone(const effective *E)
{
    const char *zone = NULL;
    for (size_t i = 0; i < E->nsets; i++) {
        chg_timeset_info info;
        chg_bundle_timeset(E->b, E->set_index[i], &info);
        if (!info.zone || (zone && strcmp(zone, info.zone) != 0))
            return NULL;
        zone = info.zone;
    }
    return zone;
}

static const char *set_name(const effective *E, uint32_t set)
{
    chg_timeset_info info;
    return chg_bundle_timeset(E->b, set, &info) ? info.name : "?";
}

/* A rule always denying every change of the class, whatever the time. */
static const use *denied(const effective *E)
{
    for (size_t u = 0; u < E->nuses; u++)
        if (E->uses[u].set == NO_SET && E->uses[u].how == CHG_APPLIES_ALWAYS)
            return &E->uses[u];
    return NULL;
}

/* The sets whose change at t made the class admissible (a window opens,
 * a freeze ends; start) or stopped it (a window closes, a freeze starts),
 * as "nights opens, xmas ends" or a JSON array of names. */
static void causes(effective *E, int64_t t, bool start, bool json)
{
    size_t n = 0;
    if (json)
        chg_buf_putc(E->out, '[');
    for (size_t i = 0; i < E->nsets && t > CHG_TIME_MIN; i++) {
        bool now = chg_timeset_contains(E->sets[i], &E->env, t);
        bool before = chg_timeset_contains(E->sets[i], &E->env, t - 1);
        if (now == before || (now == E->want[i]) != start)
            continue;
        const char *name = set_name(E, E->set_index[i]);
        if (json) {
            chg_buf_puts(E->out, n ? "," : "");
            chg_buf_json_string(E->out, name, strlen(name));
        } else {
            chg_buf_printf(E->out, "%s", n ? ", " : "");
            chg_buf_puts_visible(E->out, name);
            chg_buf_puts(E->out, E->want[i] ? (now ? " opens" : " closes") : (now ? " starts" : " ends"));
        }
        n++;
    }
    if (json)
        chg_buf_putc(E->out, ']');
    else if (!n)
        chg_buf_puts(E->out, start ? "range start" : "range end");
}

static void effective_interval(effective *E, int64_t s, int64_t e, size_t count)
{
    if (E->format == CHG_LIST_TEXT) {
        interval_text(E->out, E->tz, s, e);
        chg_buf_puts(E->out, "  ");
        causes(E, s, true, false);
        chg_buf_puts(E->out, " .. ");
        causes(E, e, false, false);
        chg_buf_putc(E->out, '\n');
    } else if (E->format == CHG_LIST_JSON) {
        char a[40], z[40];
        chg_time_format_utc(s, a);
        chg_time_format_utc(e, z);
        chg_buf_printf(E->out, "%s{\"start\":\"%s\",\"end\":\"%s\",\"opened_by\":", count ? "," : "", a, z);
        causes(E, s, true, true);
        chg_buf_puts(E->out, ",\"closed_by\":");
        causes(E, e, false, true);
        chg_buf_putc(E->out, '}');
    }
}

/* The effective intervals of the class in [from, to): the instants at
 * which every required window is open and no set denied during holds —
 * chg_timeset_next_admissible and chg_timeset_admissible_until, the
 * search of the VM's next_open and closes_at and of chgc simulate's
 * earliest slot. Returns how many. */
static size_t class_intervals(effective *E, const char *label)
{
    size_t count = 0;
    for (int64_t t = E->from; t < E->to;) {
        int64_t s = chg_timeset_next_admissible(E->sets, E->want, E->nsets, &E->env, t, E->to - 1 - t, NULL);
        if (s == INT64_MAX || s >= E->to)
            break;
        int64_t e = chg_timeset_admissible_until(E->sets, E->want, E->nsets, &E->env, s, E->to - s, NULL);
        if (e > E->to)
            e = E->to;
        if (E->format == CHG_LIST_ICS)
            chg_drv_ics_interval(E->out, "effective", label, s, e, E->from);
        else
            effective_interval(E, s, e, count);
        count++;
        t = e;
    }
    return count;
}

static const char *applies_word(chg_applies how) { return how == CHG_APPLIES_ALWAYS ? "always" : "sometimes"; }

/* The rules behind one set (or the plain denies, set NO_SET), text:
 * "rule a (p.chg:3:6), rule b (p.chg:9:6, assumed: it applies to some of
 * these changes)"; JSON: [{"rule", "source", "applies"}]. */
static void set_rules(effective *E, uint32_t set, bool window, bool json)
{
    size_t n = 0;
    for (size_t u = 0; u < E->nuses; u++) {
        const use *x = &E->uses[u];
        if (x->set != set || x->window != window || (set == NO_SET && x->how == CHG_APPLIES_ALWAYS && !json))
            continue;
        char src[300];
        chg_rule_info ri;
        chg_bundle_rule(E->b, x->rule, &ri);
        chg_bundle_source(E->b, ri.span, src, sizeof src);
        if (json) {
            chg_buf_puts(E->out, n ? ",{\"rule\":" : "{\"rule\":");
            chg_buf_json_string(E->out, ri.name, strlen(ri.name));
            chg_buf_puts(E->out, ",\"source\":");
            chg_buf_json_string(E->out, src, strlen(src));
            chg_buf_printf(E->out, ",\"applies\":\"%s\"}", applies_word(x->how));
        } else {
            chg_buf_puts(E->out, n ? ", rule " : "rule ");
            chg_buf_puts_visible(E->out, ri.name);
            chg_buf_puts(E->out, " (");
            chg_buf_puts_visible(E->out, src);
            /* a plain deny is named, not assumed: it is no time set */
            chg_buf_puts(E->out, x->how == CHG_APPLIES_ALWAYS || set == NO_SET
                                     ? ")"
                                     : ", assumed: it applies to some of these changes)");
        }
        n++;
    }
}

/* What shapes the class: its windows, its freezes, the plain denies. */
static void class_shape(effective *E)
{
    bool json = E->format == CHG_LIST_JSON;
    for (int pass = 0; pass < 2; pass++) {
        bool window = pass == 0;
        size_t n = 0;
        if (json)
            chg_buf_printf(E->out, ",\"%s\":[", window ? "windows" : "freezes");
        for (size_t i = 0; i < E->nsets; i++) {
            if (E->want[i] != window)
                continue;
            const char *name = set_name(E, E->set_index[i]);
            if (json) {
                chg_buf_puts(E->out, n ? ",{\"name\":" : "{\"name\":");
                chg_buf_json_string(E->out, name, strlen(name));
                chg_buf_puts(E->out, ",\"rules\":[");
                set_rules(E, E->set_index[i], window, true);
                chg_buf_puts(E->out, "]}");
            } else {
                chg_buf_printf(E->out, "  %s ", window ? "window" : "freeze");
                chg_buf_puts_visible(E->out, name);
                chg_buf_puts(E->out, ": ");
                set_rules(E, E->set_index[i], window, false);
                chg_buf_putc(E->out, '\n');
            }
            n++;
        }
        if (json)
            chg_buf_putc(E->out, ']');
    }
    if (json) {
        chg_buf_puts(E->out, ",\"denies\":[");
        set_rules(E, NO_SET, false, true);
        chg_buf_putc(E->out, ']');
        return;
    }
    const use *d = denied(E);
    if (d) {
        chg_rule_info ri;
        char src[300];
        chg_bundle_rule(E->b, d->rule, &ri);
        chg_buf_puts(E->out, "  denied whatever the time: rule ");
        chg_buf_puts_visible(E->out, ri.name);
        chg_buf_printf(E->out, " (%s)\n", chg_bundle_source(E->b, ri.span, src, sizeof src));
    }
    bool some = false;
    for (size_t u = 0; u < E->nuses && !some; u++)
        some = E->uses[u].set == NO_SET && E->uses[u].how == CHG_APPLIES_SOMETIMES;
    if (some) {
        chg_buf_puts(E->out, "  may also deny some of them whatever the time: ");
        set_rules(E, NO_SET, false, false);
        chg_buf_putc(E->out, '\n');
    }
    if (!E->nsets && !d)
        chg_buf_puts(E->out, "  no window required, no freeze applies\n");
}

/* W0030's reason: what leaves the class no instant. */
static const char *empty_reason(effective *E, chg_buf *r)
{
    const use *d = denied(E);
    if (d) {
        chg_rule_info ri;
        chg_bundle_rule(E->b, d->rule, &ri);
        chg_buf_printf(r, "rule %s denies every one of them", ri.name);
        return r->data;
    }
    size_t nw = 0, nf = 0;
    for (size_t i = 0; i < E->nsets; i++)
        nw += E->want[i], nf += !E->want[i];
    for (int pass = 0; pass < 2; pass++) {
        bool window = pass == 0;
        size_t n = window ? nw : nf, k = 0;
        if (!n)
            continue;
        if (window)
            chg_buf_printf(r, "they need window%s ", n > 1 ? "s" : "");
        else
            chg_buf_printf(r, "%sfreeze%s ", nw ? ", never open outside " : "", n > 1 ? "s" : "");
        for (size_t i = 0; i < E->nsets; i++)
            if (E->want[i] == window)
                chg_buf_printf(r, "%s%s", k++ ? ", " : "", set_name(E, E->set_index[i]));
        if (window && n > 1)
            chg_buf_puts(r, " at once");
    }
    if (!nf)
        chg_buf_puts(r, ", never open in the range");
    else if (!nw)
        chg_buf_printf(r, " cover%s the whole range", nf > 1 ? "" : "s");
    size_t ns = 0;
    for (size_t u = 0; u < E->nuses; u++) {
        const use *x = &E->uses[u];
        if (x->how != CHG_APPLIES_SOMETIMES || x->set == NO_SET)
            continue;
        bool dup = false;
        for (size_t v = 0; v < u && !dup; v++)
            dup = E->uses[v].rule == x->rule && E->uses[v].set != NO_SET;
        if (dup)
            continue;
        chg_buf_printf(r, "%s%s", ns++ ? ", " : " (assuming rules that apply to some of them apply: ",
                       chg_bundle_rule_name(E->b, x->rule));
    }
    if (ns)
        chg_buf_putc(r, ')');
    return r->data ? r->data : "";
}

/* "FILE:LINE:COL" of span split into its parts (the file may hold ':'). */
static void split_source(const char *src, char *file, size_t len, unsigned *line, unsigned *col)
{
    const char *c2 = strrchr(src, ':');
    const char *c1 = c2 ? c2 - 1 : NULL;
    while (c1 && c1 > src && *c1 != ':')
        c1--;
    *line = *col = 0;
    if (!c2 || !c1 || c1 == src) {
        snprintf(file, len, "%s", src);
        return;
    }
    snprintf(file, len, "%.*s", (int)(c1 - src), src);
    *line = (unsigned)strtoul(c1 + 1, NULL, 10);
    *col = (unsigned)strtoul(c2 + 1, NULL, 10);
}

/* W0030 for a class with no effective instant, at the class (or, in a
 * policy without classes, at its first rule that binds): a line of text
 * diagnostics, or an entry of the JSON document's "diagnostics". */
static void warn_empty(effective *E, const char *cls, uint32_t span, chg_buf *json)
{
    char a[40], z[40], src[300], file[300];
    chg_time_format_utc(E->from, a);
    chg_time_format_utc(E->to, z);
    chg_buf reason;
    chg_buf_init(&reason);
    empty_reason(E, &reason);
    chg_buf who;
    chg_buf_init(&who);
    if (cls)
        chg_buf_printf(&who, "changes of risk class '%s'", cls);
    else
        chg_buf_puts(&who, "changes");
    /* the table's template, "%s can never go between %s and %s: %s" */
    const char *args[] = {who.data ? who.data : "", a, z, reason.data ? reason.data : ""};
    chg_buf msg;
    chg_buf_init(&msg);
    size_t ai = 0;
    for (const char *t = chg_diag_table[CHG_D_W0030].message; *t; t++) {
        if (t[0] == '%' && t[1] == 's' && ai < 4) {
            chg_buf_puts(&msg, args[ai++]);
            t++;
        } else
            chg_buf_putc(&msg, *t);
    }
    chg_bundle_source(E->b, span, src, sizeof src);
    if (E->format == CHG_LIST_JSON) {
        unsigned line, col;
        split_source(src, file, sizeof file, &line, &col);
        chg_buf_puts(json, E->nwarnings ? ",{\"file\":" : "{\"file\":");
        chg_buf_json_string(json, file, strlen(file));
        chg_buf_printf(json, ",\"line\":%u,\"column\":%u,\"severity\":\"warning\",\"code\":\"W0030\",\"message\":",
                       line, col);
        chg_buf_json_string(json, msg.data ? msg.data : "", msg.len);
        chg_buf_putc(json, '}');
    } else if (E->diags) {
        chg_buf_puts_visible(E->diags, src);
        chg_buf_puts(E->diags, ": warning[W0030]: ");
        chg_buf_puts_visible(E->diags, msg.data ? msg.data : "");
        chg_buf_putc(E->diags, '\n');
    }
    if (reason.oom || who.oom || msg.oom)
        E->out->oom = true;
    chg_buf_free(&reason);
    chg_buf_free(&who);
    chg_buf_free(&msg);
    E->nwarnings++;
}

int chg_windows_effective(const chg_bundle *b, int64_t from, int64_t to, const char *const *flags, int risk,
                          chg_listing_format format, chg_buf *out, chg_buf *diags, size_t *nwarnings)
{
    if (!chg_time_in_range(from))
        return CHG_ERANGE;
    if (to > CHG_TIME_MAX)
        to = CHG_TIME_MAX;
    effective E = {.b = b, .env = {set_flag, (void *)flags}, .from = from, .to = to, .format = format, .out = out,
                   .diags = diags};
    size_t cap = 1;
    for (uint32_t r = 0; r < chg_bundle_nrules(b); r++) {
        chg_rule_info ri;
        chg_bundle_rule(b, r, &ri);
        cap += 1 + ri.nduring;
    }
    E.uses = chg_calloc(cap, sizeof *E.uses);
    E.sets = chg_calloc(cap, sizeof *E.sets);
    E.want = chg_calloc(cap, sizeof *E.want);
    E.set_index = chg_calloc(cap, sizeof *E.set_index);
    chg_buf json;
    chg_buf_init(&json);
    int rc = CHG_OK;
    if (!E.uses || !E.sets || !E.want || !E.set_index) {
        rc = CHG_ENOMEM;
        goto done;
    }
    char a[40], z[40];
    chg_time_format_utc(from, a);
    chg_time_format_utc(to, z);
    if (format == CHG_LIST_JSON)
        chg_buf_printf(out, "{\"from\":\"%s\",\"to\":\"%s\",\"classes\":[", a, z);
    else if (format == CHG_LIST_ICS)
        chg_buf_puts(out, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//chg//chgc windows --effective//EN\r\n");
    else
        chg_buf_printf(out, "from %s to %s: when a change of each risk class may go (its required windows open, "
                            "no freeze that applies to it)\n", a, z);
    uint32_t nclasses = chg_bundle_nrisks(b) ? chg_bundle_nrisks(b) : 1;
    size_t listed = 0;
    for (uint32_t k = 0; k < nclasses; k++) {
        if (risk >= 0 && (uint32_t)risk != k)
            continue;
        const char *cls = chg_bundle_risk_name(b, (int)k); /* NULL: a policy without classes */
        class_uses(&E, k);
        chg_tz *tz = NULL;
        const char *zone = class_zone(&E);
        if (zone) {
            chg_time_error err;
            E.tz = tz = chg_tz_load(zone, &err); /* the loader loaded it once: it exists */
        } else
            E.tz = NULL;
        if (format == CHG_LIST_JSON) {
            chg_buf_puts(out, listed ? ",{\"class\":" : "{\"class\":");
            if (cls)
                chg_buf_json_string(out, cls, strlen(cls));
            else
                chg_buf_puts(out, "null");
            class_shape(&E);
            chg_buf_puts(out, ",\"intervals\":[");
        } else if (format == CHG_LIST_TEXT) {
            chg_buf_puts(out, cls ? "\nrisk class " : "\nall changes\n");
            if (cls) {
                chg_buf_puts_visible(out, cls);
                chg_buf_putc(out, '\n');
            }
            class_shape(&E);
        }
        size_t n = denied(&E) ? 0 : class_intervals(&E, cls ? cls : "all changes");
        if (format == CHG_LIST_JSON)
            chg_buf_puts(out, "]}");
        else if (format == CHG_LIST_TEXT && !n)
            chg_buf_puts(out, "  (no slot in this range)\n");
        if (!n) {
            uint32_t span = cls ? chg_bundle_risk_span(b, k) : UINT32_MAX;
            for (size_t u = 0; !cls && u < E.nuses && span == UINT32_MAX; u++) {
                chg_rule_info ri;
                chg_bundle_rule(b, E.uses[u].rule, &ri);
                span = ri.span;
            }
            warn_empty(&E, cls, span, &json);
        }
        chg_tz_free(tz);
        listed++;
    }
    if (format == CHG_LIST_JSON) {
        chg_buf_puts(out, "],\"diagnostics\":[");
        chg_buf_append(out, json.data ? json.data : "", json.len);
        chg_buf_puts(out, "]}\n");
    } else if (format == CHG_LIST_ICS)
        chg_buf_puts(out, "END:VCALENDAR\r\n");
done:
    if (nwarnings)
        *nwarnings = E.nwarnings;
    if (out->oom || json.oom || (diags && diags->oom))
        rc = CHG_ENOMEM;
    chg_buf_free(&json);
    chg_free(E.uses);
    chg_free(E.sets);
    chg_free(E.want);
    chg_free(E.set_index);
    return rc;
}
