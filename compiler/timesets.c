/*
 * timesets.c — the compiler's side of time sets: turning a window or
 * freeze (its AST) into the node trees of the one time-set library
 * (include/chg_time.h), checking each schedule with that library (zones,
 * cron fields, calendars) so errors point inside the policy's strings, and
 * the time analysis `chgc check` runs: windows that never open or are
 * always frozen, risk classes that can never proceed, local times in DST
 * gaps or overlaps, overlapping or redundant freezes.
 *
 * Code generation uses the same node trees, so what is checked is what is
 * compiled.
 *
 * The node tree is the contract between compiler and library: a flat
 * array of chg_ts_node, operands before the nodes that use them, the root
 * returned by
 * chg_c_ts_flatten. References to other windows and freezes are inlined
 * (the library knows no names), so a set's tree is self-contained; its
 * depth is bounded twice over, by the parser for each declaration's own
 * tree and by check_ts_decl for chains of references, and flatten refuses
 * anything deeper still rather than recurse without bound.
 *
 * The time analysis (chg_c_time_analysis, only with opts.analysis_from) is
 * the last pass and never changes what is compiled: it only adds
 * warnings and notes. It works by building sets and asking the library for
 * their first interval within the horizon: "never opens" is "no interval",
 * "always frozen" is "a ∧ ¬(f1 ∨ f2 …) has no interval" (covered()). The
 * library does the algebra; nothing here reasons about calendars itself,
 * except dst_check, which walks the zone's transitions in the horizon and
 * asks whether a schedule's local start or end falls in one.
 */
#include "bundle_format.h" /* CHG_TS_MAX_NODES */
#include "compiler_int.h"
#include "chg_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* True when the time library failed for want of memory: the compilation's
 * failure (CHG_ENOMEM), not a diagnostic about the policy. */
static bool time_nomem(chg_compiler *c, const chg_time_error *err)
{
    if (err->status != CHG_ENOMEM)
        return false;
    chg_c_nomem(c);
    return true;
}

/* ---- zones, loaded once per compilation ------------------------------------------ */

/* Zones are cached by name for the whole compilation: a policy names the
 * same few zones in dozens of schedules, and each load reads and parses a
 * TZif file. The cache owns the zones (zone_list, freed with the
 * compiler); the map only finds them. A failed load is not cached, so an
 * unknown zone is looked up, and reported, at each use: each use is a
 * separate place the user must fix. */
const chg_tz *chg_c_zone(chg_compiler *c, const char *name, chg_time_error *err)
{
    uintptr_t hit = (uintptr_t)chg_c_map_get(&c->zones, name);
    if (hit)
        return (const chg_tz *)hit;
    memset(err, 0, sizeof *err);
    chg_tz *tz = chg_tz_load(name, err);
    if (!tz) {
        time_nomem(c, err);
        return NULL;
    }
    if (chg_vec_push(&c->zone_list, tz) != CHG_OK) {
        chg_tz_free(tz);
        chg_c_nomem(c);
        return NULL;
    }
    const char *key = chg_arena_strdup(&c->arena, name);
    if (!key || chg_c_map_put(&c->zones, key, tz) != CHG_OK)
        chg_c_nomem(c); /* still freed with zone_list; loaded again if asked */
    return tz;
}

/* Zone names for "did you mean": the system's zone1970.tab, read once per
 * unknown zone (only an error pays for it). */
static void zone_names(chg_compiler *c, chg_vec *out)
{
    char *text;
    size_t len;
    if (chg_read_file("/usr/share/zoneinfo/zone1970.tab", &text, &len) != CHG_OK)
        return;
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        if (line[0] != '#') {
            char *f = strchr(line, '\t');
            f = f ? strchr(f + 1, '\t') : NULL;
            if (f) {
                char *end = strchr(f + 1, '\t');
                size_t n = end ? (size_t)(end - f - 1) : strlen(f + 1);
                chg_vec_push(out, chg_arena_strndup(&c->arena, f + 1, n));
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    chg_vec_push(out, (void *)"UTC");
    chg_free(text);
}

/* A zone is checked by loading it, with the same library and the same
 * system zone database the VM will use when the bundle loads, so
 * "compiles" implies "loads" on the same machine. A zone that is `bad`
 * (an interpolated string, already reported) is skipped. */
void chg_c_check_zone(chg_compiler *c, const chg_ident *zone)
{
    if (!zone->name || zone->bad)
        return;
    chg_time_error err;
    memset(&err, 0, sizeof err);
    if (chg_c_zone(c, zone->name, &err) || err.status == CHG_ENOMEM)
        return;
    chg_diag *d = chg_c_diag_report(c, CHG_D_E0401, zone->span, zone->name, NULL);
    chg_vec names;
    chg_vec_init(&names);
    zone_names(c, &names);
    chg_c_diag_suggest(c, d, zone->name, (const char *const *)names.items, names.len);
    chg_vec_free(&names);
    if (d && !d->help)
        chg_c_diag_help(c, d, "zones are IANA names such as \"Europe/Berlin\" or \"America/New_York\"");
}

/* The span of bytes [off, off+len) of a string literal's text, when the
 * literal has no escapes (so text and source line up); else the literal.
 * This is how a cron error points at the bad field inside the string
 * rather than at the whole string. */
static chg_span inside(chg_compiler *c, chg_span lit, size_t off, size_t len, size_t textlen)
{
    const chg_source *src = chg_compiler_source(c, lit.file);
    if (!src || lit.end < lit.start + 2 || lit.end - lit.start - 2 != textlen || len == 0)
        return lit;
    if (memchr(src->text + lit.start, '\\', lit.end - lit.start))
        return lit;
    chg_span s = {lit.file, lit.start + 1 + (uint32_t)off, lit.start + 1 + (uint32_t)(off + len)};
    if (s.end > lit.end - 1)
        s.end = lit.end - 1;
    return s;
}

/* The cron options of a checked schedule, for the library's parser. */
static chg_cron_opts cron_opts(const chg_tsexpr *t)
{
    chg_cron_opts o = {t->u.cron.dialect.name != NULL, t->u.cron.offset_days, t->u.cron.eventbridge_dst};
    return o;
}

/* The library's parser is the only cron parser: checking with it means a
 * schedule accepted here is one the VM can build. Its error carries an
 * offset and length into the expression, which inside() maps onto the
 * source so the caret lands on the bad field. */
static void check_cron(chg_compiler *c, const chg_tsexpr *t)
{
    const chg_ident *expr = &t->u.cron.expr;
    if (expr->bad)
        return;
    chg_time_error err;
    memset(&err, 0, sizeof err);
    chg_cron_opts o = cron_opts(t);
    chg_cron *cr = chg_cron_parse_opts(expr->name, &o, &err);
    if (cr || time_nomem(c, &err)) {
        chg_cron_free(cr);
        return;
    }
    chg_span at = inside(c, expr->span, err.offset, err.length, strlen(expr->name));
    chg_diag *d = chg_c_diag_report(c, CHG_D_E0402, at, err.message, NULL);
    if (o.aws)
        chg_c_diag_help(c, d, "'cron aws' takes what the EventBridge and SSM cron references allow; plain "
                              "'cron' takes more; see docs/time.md");
    else
        chg_c_diag_help(c, d, "5 fields are classic cron, 6 AWS EventBridge (day 1 = Sunday), 7 SSM with "
                              "seconds first; see docs/time.md");
}

/* The options each schedule takes (docs/time.md, "AWS schedules"). */
static const char *const cron_options[] = {"offset", "cutoff", "start", "end", "dst"};
static const char *const rate_options[] = {"from", "cutoff", "end"};
static const char *const at_options[] = {"cutoff"};

static bool is_point(const chg_expr *e)
{
    return e && (e->kind == EX_INSTANT || e->kind == EX_LOCALTIME || e->kind == EX_DATE);
}

/* One option: known to this kind, given once, with a value of its type.
 * Fills the schedule's checked fields. */
static void check_sched_opt(chg_compiler *c, chg_tsexpr *t, const chg_schedopt *o, const char *const *names,
                            size_t nnames, const char *kind, uint32_t *seen)
{
    const char *nm = o->name.name;
    size_t k = 0;
    while (k < nnames && strcmp(names[k], nm) != 0)
        k++;
    if (k == nnames) {
        char list[96] = "";
        for (size_t i = 0; i < nnames; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", names[i]);
        chg_diag *d = chg_c_diag_report(c, CHG_D_E0541, o->name.span, nm, kind, list, NULL);
        chg_c_diag_suggest(c, d, nm, names, nnames);
        return;
    }
    if (*seen >> k & 1) {
        chg_c_diag_report(c, CHG_D_E0544, o->span, nm, NULL);
        return;
    }
    *seen |= 1u << k;
    if (!strcmp(nm, "dst")) {
        const char *w = o->word.name;
        if (!w || (strcmp(w, "eventbridge") && strcmp(w, "chg")))
            chg_c_diag_report(c, CHG_D_E0546, o->span, nm,
                              "takes 'eventbridge' (EventBridge Scheduler's rules) or 'chg' (the default)", NULL);
        else
            t->u.cron.eventbridge_dst = !strcmp(w, "eventbridge");
        return;
    }
    bool point = !strcmp(nm, "from") || !strcmp(nm, "start") || !strcmp(nm, "end");
    if (point) {
        if (!is_point(o->val)) {
            chg_c_diag_report(c, CHG_D_E0546, o->span, nm,
                              "takes an instant or a local date-time (2026-12-01T00:00Z, 2026-12-01T00:00)", NULL);
            return;
        }
        if (!strcmp(nm, "end"))
            t->u.cron.to = o->val;
        else
            t->u.cron.from = o->val;
        return;
    }
    if (!o->val || o->val->kind != EX_DURATION) {
        chg_c_diag_report(c, CHG_D_E0546, o->span, nm, "takes a duration with its unit (2d, 1h, 30m)", NULL);
        return;
    }
    int64_t v = o->val->u.i;
    if (!strcmp(nm, "offset")) {
        if (v % 86400 || v < 86400 || v > CHG_CRON_OFFSET_MAX * 86400LL)
            chg_c_diag_report(c, CHG_D_E0542, o->val->span, chg_c_span_text(c, o->val->span), NULL);
        else
            t->u.cron.offset_days = (int)(v / 86400);
        return;
    }
    t->u.cron.cutoff = v; /* cutoff; checked against the duration by the caller */
    (void)kind;
}

/* cron, rate and at schedules: their options, the rate's interval, the
 * cutoff against the duration, the bounds' order, then the expression
 * with the library's parser (which needs the options: `cron aws`, the
 * offset). The duration itself is check.c's. */
void chg_c_check_sched(chg_compiler *c, chg_tsexpr *t)
{
    const char *kind = t->kind == TS_CRON ? "cron" : t->kind == TS_RATE ? "rate" : "at";
    const char *const *names = t->kind == TS_CRON ? cron_options : t->kind == TS_RATE ? rate_options : at_options;
    size_t nnames = t->kind == TS_CRON   ? CHG_ARRAY_LEN(cron_options)
                    : t->kind == TS_RATE ? CHG_ARRAY_LEN(rate_options)
                                         : CHG_ARRAY_LEN(at_options);
    uint32_t seen = 0;
    for (uint32_t i = 0; i < t->u.cron.nopts; i++)
        check_sched_opt(c, t, &t->u.cron.opts[i], names, nnames, kind, &seen);
    if (t->u.cron.dialect.name && strcmp(t->u.cron.dialect.name, "aws") != 0) {
        chg_c_diag_report(c, CHG_D_E0546, t->u.cron.dialect.span, t->u.cron.dialect.name,
                          "is not a cron dialect: write 'cron aws \"...\"' for an AWS expression, or 'cron \"...\"'",
                          NULL);
        t->u.cron.dialect.name = NULL;
    }
    chg_expr *dur = t->u.cron.dur;
    if (dur->kind == EX_DURATION && dur->u.i > 0 && t->u.cron.cutoff >= dur->u.i) {
        chg_c_diag_report(c, CHG_D_E0543, t->span, chg_c_span_text(c, dur->span), NULL);
        t->u.cron.cutoff = 0;
    }
    if (t->kind == TS_RATE) {
        chg_time_error err;
        memset(&err, 0, sizeof err);
        const chg_ident *e = &t->u.cron.expr;
        if (!e->bad && chg_rate_parse(e->name, &t->u.cron.period, &err) != CHG_OK) {
            chg_diag *d = chg_c_diag_report(c, CHG_D_E0540, inside(c, e->span, err.offset, err.length, strlen(e->name)),
                                            err.message, NULL);
            chg_c_diag_help(c, d, "as in AWS: \"30 minutes\", \"1 hour\", \"5 hours\", \"1 day\", \"25 days\"");
        }
        if (!t->u.cron.from)
            chg_c_diag_report(c, CHG_D_E0545, t->span,
                              "a rate schedule needs 'from T', the first run: AWS starts a rate at its StartDate "
                              "(or when it is created, which a policy cannot say)",
                              NULL);
    }
    if (t->kind == TS_AT)
        t->u.cron.from = t->u.cron.at;
    chg_expr *a = t->u.cron.from, *b = t->u.cron.to;
    if (a && b && a->kind == b->kind && b->u.i <= a->u.i)
        chg_c_diag_report(c, CHG_D_E0404, t->span,
                          chg_arena_printf(&c->arena, "schedule %s .. %s", chg_c_span_text(c, a->span),
                                           chg_c_span_text(c, b->span)),
                          NULL);
    if (t->kind == TS_CRON)
        check_cron(c, t);
}

/* Every set the compiler builds goes through here, so a calendar is
 * expanded once per compilation (the cache finds it by its text, which
 * the checker reads once per file), and all of them spend one budget. */
chg_timeset *chg_c_ts_build(chg_compiler *c, const chg_ts_node *nodes, size_t n, int root, chg_time_error *err,
                            int *bad)
{
    if (!c->calendars && !(c->calendars = chg_ts_cache_new(CHG_TS_CALENDAR_BUDGET))) {
        snprintf(err->message, sizeof err->message, "out of memory");
        err->status = CHG_ENOMEM;
        return NULL;
    }
    return chg_timeset_build_cached(nodes, n, root, c->calendars, err, bad);
}

/* What AWS Change Calendar would say of a calendar (docs/time.md,
 * "AWS Change Calendar's import"), a lint of `chgc check`'s analysis,
 * which runs on a policy without errors: no events (W0023, whoever made it);
 * then, unless it is a Change Calendar document itself (PRODID
 * "-//AWS//Change Calendar…", not an import), the import rules of the
 * Systems Manager User Guide: 64 KB (W0020), no deleted occurrence of a
 * recurring event (W0021), a supported producer (W0022). */
static void check_calendar_import(chg_compiler *c, const chg_tsexpr *t)
{
    /* once per file (its text is read once, whatever the path names it):
     * the file is what would be imported */
    char key[32];
    snprintf(key, sizeof key, "%p", (const void *)t->u.cal.text);
    if (chg_c_map_get(&c->calendars_linted, key))
        return;
    const char *k = chg_arena_strdup(&c->arena, key);
    if (!k || chg_c_map_put(&c->calendars_linted, k, (void *)t) != CHG_OK) {
        chg_c_nomem(c);
        return;
    }
    chg_calendar_facts f;
    int rc = chg_calendar_facts_of(t->u.cal.text, t->u.cal.len, &f);
    if (rc == CHG_ENOMEM) {
        chg_c_nomem(c);
        return;
    }
    if (rc != CHG_OK)
        return; /* the build accepted it: cannot happen, and nothing to add */
    chg_span at = t->u.cal.path.span;
    const char *path = t->u.cal.path.name;
    if (f.events == 0)
        chg_c_diag_report(c, CHG_D_W0023, at, path, NULL);
    if (f.aws_document)
        return;
    if (f.size > CHG_AWS_CALENDAR_MAX_BYTES)
        chg_c_diag_report(c, CHG_D_W0020, at, path, chg_arena_printf(&c->arena, "%zu", f.size), NULL);
    if (f.deleted_line) {
        chg_diag *d = chg_c_diag_report(c, CHG_D_W0021, at, path,
                                        chg_arena_printf(&c->arena, "%zu", f.deleted_line), f.deleted_how, NULL);
        chg_c_diag_help(c, d, "chg reads it as RFC 5545 says; for AWS, end the series before the deleted "
                              "occurrence and start a new one after it");
    }
    if (!f.supported_producer)
        chg_c_diag_report(c, CHG_D_W0022, at, path,
                          f.prodid[0] ? chg_arena_printf(&c->arena, "PRODID '%s'", f.prodid) : "no PRODID", NULL);
}

/* The time set of one calendar expression alone, built the way a
 * policy's sets are (its zone, the compilation's budget). */
static chg_timeset *calendar_build(chg_compiler *c, const chg_tsexpr *t, chg_time_error *err, int *bad)
{
    chg_ts_node n;
    memset(&n, 0, sizeof n);
    n.op = CHG_TS_CALENDAR;
    n.zone = t->zone.name;
    n.ics = t->u.cal.text;
    n.ics_len = t->u.cal.len;
    memset(err, 0, sizeof *err);
    return chg_c_ts_build(c, &n, 1, 0, err, bad);
}

/* A calendar is validated by building a one-node set from its text, the
 * same call codegen's output will get at load time. The error offset is
 * into the .ics text, which is not in the policy, so it is given as a line
 * number in the message while the caret stays on the path. No text means
 * the file could not be read, which was reported already. A calendar
 * past the compilation's budget is not invalid; it is E0519, with the
 * limit. */
void chg_c_check_calendar(chg_compiler *c, const chg_tsexpr *t)
{
    if (!t->u.cal.text)
        return;
    chg_time_error err;
    int bad = -1;
    chg_timeset *ts = calendar_build(c, t, &err, &bad);
    if (ts || time_nomem(c, &err)) {
        chg_timeset_free(ts);
        return;
    }
    if (err.status == CHG_ERANGE) {
        char limit[32];
        snprintf(limit, sizeof limit, "%d", CHG_TS_CALENDAR_BUDGET);
        chg_diag *d = chg_c_diag_report(c, CHG_D_E0519, t->u.cal.path.span, t->u.cal.path.name, limit, NULL);
        chg_c_diag_help(c, d, "each calendar file is expanded once, from 1900 to 2200; the occurrences of all of "
                              "them together are limited (docs/time.md)");
        return;
    }
    /* name the line of the .ics file */
    const char *why = err.message;
    char buf[256];
    if (err.offset < t->u.cal.len) {
        unsigned line = 1;
        for (size_t i = 0; i < err.offset; i++)
            line += t->u.cal.text[i] == '\n';
        snprintf(buf, sizeof buf, "line %u: %s", line, err.message);
        why = buf;
    }
    chg_c_diag_report(c, CHG_D_E0405, t->u.cal.path.span, t->u.cal.path.name, why, NULL);
}

/* ---- node trees -------------------------------------------------------------------- */

/* Append a node; returns its index or -1 (memory: out->oom says so, so
 * callers can tell it from a tree with errors; a failure adds nothing). */
static int push(chg_c_tsnodes *out, const chg_ts_node *n)
{
    if (out->n >= CHG_TS_MAX_NODES) {
        out->too_large = true; /* the checker reported it (E0410) */
        return -1;
    }
    if (out->n == out->cap) {
        uint32_t cap = out->cap ? out->cap * 2 : 16;
        chg_ts_node *nodes = chg_realloc(out->nodes, cap * sizeof *nodes);
        if (!nodes) {
            out->oom = true;
            return -1;
        }
        out->nodes = nodes;
        out->cap = cap;
    }
    out->nodes[out->n] = *n;
    return (int)out->n++;
}

/* Children are pushed before their parent, so every operand index is
 * smaller than the node naming it and the root of a tree is its last
 * node (codegen writes TSNODES in this order). A node of a tree that
 * still holds an error (TS_ERROR, an unparsable time of day, a missing
 * calendar text) makes the whole result -1: the error was reported by the
 * checker, and no half-built set is ever handed to the library. */
/*
 * Returns the index of t's root node. Day ranges wrap around the week
 * (`Fri-Mon` is Fri, Sat, Sun, Mon), which the step count bounds to seven
 * so a range from a day to itself is one day, not an endless loop. The
 * depth fuse lies past anything the checker lets through: every level of
 * operators pushes a node (at most CHG_TS_MAX_NODES, E0410) and a path
 * crosses at most the declaration-chain limit of references, so a set the
 * checker accepted always flattens; the fuse only keeps the recursion
 * bounded for what the checker already reported.
 */
int chg_c_ts_flatten(const chg_tsexpr *t, chg_c_tsnodes *out, int depth)
{
    if (!t || depth > CHG_TS_MAX_NODES + CHG_MAX_DEPTH * 2)
        return -1;
    chg_ts_node n;
    memset(&n, 0, sizeof n);
    n.zone = t->zone.name;
    switch (t->kind) {
    case TS_REF:
        return t->u.ref.decl ? chg_c_ts_flatten(t->u.ref.decl->u.timeset.ts, out, depth + 1) : -1;
    case TS_CRON:
    case TS_RATE:
    case TS_AT:
        n.op = t->kind == TS_CRON ? CHG_TS_CRON : t->kind == TS_RATE ? CHG_TS_RATE : CHG_TS_AT;
        n.cron = t->kind == TS_CRON ? t->u.cron.expr.name : NULL;
        n.duration = t->u.cron.dur->u.i;
        n.cutoff = t->u.cron.cutoff;
        n.period = t->u.cron.period;
        n.offset_days = t->u.cron.offset_days;
        if (t->kind == TS_CRON && t->u.cron.dialect.name)
            n.flags |= CHG_TSF_AWS;
        if (t->u.cron.eventbridge_dst)
            n.flags |= CHG_TSF_EVENTBRIDGE_DST;
        if (t->u.cron.from) {
            n.from = t->u.cron.from->u.i;
            n.from_local = t->u.cron.from->kind != EX_INSTANT;
            if (t->kind == TS_CRON)
                n.flags |= CHG_TSF_FROM;
        } else if (t->kind != TS_CRON)
            return -1; /* reported: a rate without `from` */
        if (t->u.cron.to) {
            n.to = t->u.cron.to->u.i;
            n.to_local = t->u.cron.to->kind != EX_INSTANT;
            n.flags |= CHG_TSF_TO;
        }
        if (t->kind == TS_RATE && n.period <= 0)
            return -1; /* reported: a bad interval */
        break;
    case TS_WEEKLY:
    case TS_DAILY: {
        n.op = CHG_TS_WEEKLY;
        if (t->kind == TS_DAILY)
            n.days = 0x7f;
        for (uint32_t i = 0; i < t->u.weekly.ndays; i++) {
            const chg_dayspec *d = &t->u.weekly.days[i];
            if (d->from_day < 0 || d->to_day < 0)
                return -1;
            for (int k = d->from_day, steps = 0; steps < 7; k = (k + 1) % 7, steps++) {
                n.days |= (uint8_t)(1u << k);
                if (k == d->to_day)
                    break;
            }
        }
        int a = 0, b = 0;
        if (chg_c_parse_time_of_day(t->u.weekly.from.name, &a) != CHG_OK ||
            chg_c_parse_time_of_day(t->u.weekly.to.name, &b) != CHG_OK)
            return -1;
        n.start_min = a;
        n.end_min = b;
        break;
    }
    case TS_RANGE:
        n.op = CHG_TS_RANGE;
        n.from = t->u.range.from->u.i;
        n.to = t->u.range.to->u.i;
        n.from_local = t->u.range.from->kind != EX_INSTANT;
        n.to_local = t->u.range.to->kind != EX_INSTANT;
        break;
    case TS_YEARLY:
        n.op = CHG_TS_YEARLY;
        n.from_month = chg_c_month_index(t->u.yearly.from_mon.name);
        n.from_day = (int)t->u.yearly.from_day->u.i;
        n.to_month = chg_c_month_index(t->u.yearly.to_mon.name);
        n.to_day = (int)t->u.yearly.to_day->u.i;
        break;
    case TS_CALENDAR:
        if (!t->u.cal.text)
            return -1;
        n.op = CHG_TS_CALENDAR;
        n.ics = t->u.cal.text;
        n.ics_len = t->u.cal.len;
        break;
    case TS_FLAG:
        n.op = CHG_TS_FLAG;
        n.flag = t->u.flag.name;
        break;
    case TS_OR:
    case TS_AND:
        n.op = t->kind == TS_OR ? CHG_TS_OR : CHG_TS_AND;
        /* stop at the first failure: with the node cap, that bounds the
         * work of a set whose references double at every level */
        n.a = chg_c_ts_flatten(t->u.bin.a, out, depth + 1);
        if (n.a < 0)
            return -1;
        n.b = chg_c_ts_flatten(t->u.bin.b, out, depth + 1);
        if (n.b < 0)
            return -1;
        break;
    case TS_NOT:
        n.op = CHG_TS_NOT;
        n.a = chg_c_ts_flatten(t->u.not_, out, depth + 1);
        if (n.a < 0)
            return -1;
        break;
    case TS_ERROR:
        return -1;
    }
    if (((t->kind == TS_CRON || t->kind == TS_RATE || t->kind == TS_AT) && t->u.cron.dur->kind != EX_DURATION) ||
        (t->kind == TS_RANGE && (t->u.range.from->kind == EX_ERROR || t->u.range.to->kind == EX_ERROR)))
        return -1;
    return push(out, &n);
}

/* Frees the arrays only: the strings the nodes point at (cron text, zone
 * names, calendar text) belong to the AST and live in the arena. */
void chg_c_tsnodes_free(chg_c_tsnodes *n)
{
    chg_free(n->nodes);
    memset(n, 0, sizeof *n);
}

/* Build a declaration's time set for analysis; NULL if it does not build
 * (the error was reported by the checks above) or memory ran out (then
 * remembered: the analysis must not read as "nothing to warn about"). */
static chg_timeset *build_decl(chg_compiler *c, chg_decl *d)
{
    chg_c_tsnodes nodes = {0};
    int root = chg_c_ts_flatten(d->u.timeset.ts, &nodes, 0);
    chg_timeset *ts = NULL;
    if (nodes.oom)
        chg_c_nomem(c);
    if (root >= 0) {
        chg_time_error err;
        memset(&err, 0, sizeof err);
        int bad;
        ts = chg_c_ts_build(c, nodes.nodes, nodes.n, root, &err, &bad);
        if (!ts)
            time_nomem(c, &err);
    }
    chg_c_tsnodes_free(&nodes);
    return ts;
}

/* ---- time analysis ------------------------------------------------------------------ */

/* The time analysis' state: the horizon [from, to), its texts for the
 * messages, and an environment where every runtime flag is off (a flag
 * freeze is "not frozen" for the analysis, as it is until someone sets it). */
typedef struct an {
    chg_compiler *c;
    int64_t from, to;     /* the horizon analysed */
    const char *from_text;
    const char *horizon_text;
    chg_ts_env env;       /* every flag unset */
    struct blockidx *bx;  /* may_block's index, built when first asked */
} an;

/* The analysis' flag environment: every flag unset, as before anyone
 * sets one, so a flag-controlled freeze never makes a window look shut. */
static bool no_flags(void *ud, const char *name)
{
    (void)ud;
    (void)name;
    return false;
}

/* Interval callback that keeps the first interval and returns 1, which
 * stops the library's enumeration: only existence is asked. */
static int first_iv(void *ud, int64_t s, int64_t e)
{
    int64_t *iv = ud;
    iv[0] = s;
    iv[1] = e;
    return 1;
}

/* The first interval of ts in the horizon, or false. */
static bool first_interval(an *A, const chg_timeset *ts, int64_t *s, int64_t *e)
{
    int64_t iv[2] = {0, 0};
    if (chg_timeset_intervals(ts, &A->env, A->from, A->to, first_iv, iv) != 1)
        return false;
    *s = iv[0];
    *e = iv[1];
    return true;
}

static const char *date(an *A, int64_t t)
{
    char buf[40];
    chg_time_format_utc(t, buf);
    return chg_arena_strdup(&A->c->arena, buf);
}

/* Does a ∧ (b1 ∨ b2 …) — or, with outside, a ∧ ¬(b1 ∨ b2 …) — have an
 * interval within the horizon? 1 yes, 0 no, -1 when a tree does not build
 * (an error was reported, or memory ran out), so that a doubt never
 * produces a warning. Uses the library's algebra through a tiny composed
 * tree over the sets' own trees. */
static int meets(an *A, chg_decl *a, chg_decl **bs, size_t nb, bool outside)
{
    chg_c_tsnodes nodes = {0};
    int ra = chg_c_ts_flatten(a->u.timeset.ts, &nodes, 0);
    int rb = -1;
    for (size_t i = 0; i < nb && ra >= 0; i++) {
        int r = chg_c_ts_flatten(bs[i]->u.timeset.ts, &nodes, 0);
        if (r < 0) {
            ra = -1;
            break;
        }
        if (rb < 0)
            rb = r;
        else {
            chg_ts_node o;
            memset(&o, 0, sizeof o);
            o.op = CHG_TS_OR;
            o.a = rb;
            o.b = r;
            rb = push(&nodes, &o);
        }
    }
    int result = -1;
    if (ra >= 0 && rb >= 0) {
        chg_ts_node n;
        memset(&n, 0, sizeof n);
        if (outside) {
            n.op = CHG_TS_NOT;
            n.a = rb;
            rb = push(&nodes, &n);
        }
        n.op = CHG_TS_AND;
        n.a = ra;
        n.b = rb;
        int root = rb >= 0 ? push(&nodes, &n) : -1;
        chg_time_error err;
        memset(&err, 0, sizeof err);
        int bad;
        chg_timeset *ts = root >= 0 ? chg_c_ts_build(A->c, nodes.nodes, nodes.n, root, &err, &bad) : NULL;
        int64_t s, e;
        if (ts)
            result = first_interval(A, ts, &s, &e);
        else
            time_nomem(A->c, &err);
        chg_timeset_free(ts);
    }
    if (nodes.oom)
        chg_c_nomem(A->c);
    chg_c_tsnodes_free(&nodes);
    return result;
}

/* Is every instant of `a` (within the horizon) inside the union of bs? */
static bool covered(an *A, chg_decl *a, chg_decl **bs, size_t nb) { return meets(A, a, bs, nb, true) == 0; }

/* Do a and b share an instant within the horizon? */
static bool intersects(an *A, chg_decl *a, chg_decl *b) { return meets(A, a, &b, 1, false) == 1; }

/* `change.p == "s"` (either way round): its path in *path, its string. */
static const chg_expr *eq_string(const chg_expr *e, const chg_expr **path)
{
    if (e->kind != EX_BINARY || e->u.binary.op != BIN_EQ)
        return NULL;
    const chg_expr *l = e->u.binary.a, *r = e->u.binary.b;
    if (r->kind == EX_FIELD && l->kind == EX_STRING) {
        const chg_expr *t = l;
        l = r;
        r = t;
    }
    if (l->kind != EX_FIELD || r->kind != EX_STRING)
        return NULL;
    *path = l;
    return r;
}

/* The `change.p == "s"` conjuncts of a rule's condition, the only ones
 * the exclusivity test below reads: p interned to a number (the field
 * names from the outermost in, so change.a.b and change.a differ), s by
 * its bytes; sorted by path then string, without repeats. */
typedef struct eqterm {
    uint32_t path;
    uint32_t len;
    const char *s;
} eqterm;

typedef struct terms {
    eqterm *t;
    uint32_t n;
} terms;

/* What may_block asks, indexed once per analysis, so that its cost is the
 * rules that might overlap, not every pair of rules (a policy of 10,000
 * rules, half requiring one window and half denying during one freeze,
 * has millions of pairs). `keys` are sorted arrays searched by prefix. */
typedef struct bkey {
    uintptr_t decl; /* the window (req, has, single) or the freeze (deny) */
    uint32_t path;  /* has, single */
    uint32_t len;   /* single: the one string the rule compares path to */
    const char *s;
    uint32_t rule;  /* index in all_decls */
} bkey;

typedef struct blockidx {
    terms *of;   /* per all_decls index; only rules have terms */
    bkey *req;   /* (window, rule) for each rule requiring the window */
    bkey *deny;  /* (freeze, rule) for each blocking rule denying during it */
    bkey *has;   /* (window, path, rule): a rule requiring the window compares path */
    bkey *single; /* (window, path, string, rule): ... to this one string only */
    size_t nreq, ndeny, nhas, nsingle;
    chg_map paths;
    bool failed;
} blockidx;

static int eqterm_cmp(const eqterm *a, const eqterm *b)
{
    if (a->path != b->path)
        return a->path < b->path ? -1 : 1;
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return memcmp(a->s, b->s, a->len);
}

static int eqterm_order(const void *a, const void *b) { return eqterm_cmp(a, b); }

/* change.a.b as the key "b.a", or NULL when e is not a path of change */
static const char *change_path_key(chg_compiler *c, const chg_expr *e)
{
    chg_buf b;
    chg_buf_init(&b);
    bool field = false;
    for (; e->kind == EX_FIELD; e = e->u.field.obj) {
        chg_buf_printf(&b, "%s%s", field ? "." : "", e->u.field.field.name);
        field = true;
    }
    const char *key = NULL;
    if (field && !b.oom && e->kind == EX_NAME && e->u.name.kind == NAME_CHANGE)
        key = chg_arena_strndup(&c->arena, b.data, b.len);
    chg_buf_free(&b);
    return key;
}

/* The conjuncts of e (its `and`s flattened) that compare a path of
 * change to a string, appended to *out (at most cap). */
static void eq_terms(blockidx *X, chg_compiler *c, const chg_expr *e, eqterm *out, uint32_t *n, uint32_t cap)
{
    if (!e)
        return;
    if (e->kind == EX_BINARY && e->u.binary.op == BIN_AND) {
        eq_terms(X, c, e->u.binary.a, out, n, cap);
        eq_terms(X, c, e->u.binary.b, out, n, cap);
        return;
    }
    const chg_expr *p = NULL;
    const chg_expr *s = eq_string(e, &p);
    const char *key = s ? change_path_key(c, p) : NULL;
    if (!key)
        return;
    uintptr_t id = (uintptr_t)chg_c_map_get(&X->paths, key);
    if (!id) {
        id = X->paths.len + 1;
        if (chg_c_map_put(&X->paths, key, (void *)id) != CHG_OK) {
            X->failed = true;
            return;
        }
    }
    if (*n < cap)
        out[(*n)++] = (eqterm){(uint32_t)id, (uint32_t)s->u.str.len, s->u.str.s};
    else
        X->failed = true;
}

static uint32_t expr_size(const chg_expr *e)
{
    if (!e)
        return 0;
    if (e->kind == EX_BINARY && e->u.binary.op == BIN_AND)
        return expr_size(e->u.binary.a) + expr_size(e->u.binary.b);
    return 1;
}

/* The strings rule terms t compare path to: [*lo, *hi) of t->t. */
static void path_range(const terms *t, uint32_t path, uint32_t *lo, uint32_t *hi)
{
    uint32_t i = 0;
    while (i < t->n && t->t[i].path < path)
        i++;
    *lo = i;
    while (i < t->n && t->t[i].path == path)
        i++;
    *hi = i;
}

/* Can conditions a and b never hold together? Proved only for what is
 * easy to prove: a conjunct `change.p == "x"` of one and `change.p ==
 * "y"` of the other with x != y (an enum or a string field). A rule with
 * no such conjunct may overlap anything. Both term lists are sorted, so
 * one merge: on each path both compare, they can hold together only when
 * both compare it to the same single string. */
static bool exclusive(const terms *a, const terms *b)
{
    uint32_t i = 0, j = 0;
    while (i < a->n && j < b->n) {
        uint32_t p = a->t[i].path;
        if (p != b->t[j].path) {
            if (p < b->t[j].path)
                i++;
            else
                j++;
            continue;
        }
        uint32_t ie = i, je = j;
        while (ie < a->n && a->t[ie].path == p)
            ie++;
        while (je < b->n && b->t[je].path == p)
            je++;
        if (ie - i > 1 || je - j > 1 || eqterm_cmp(&a->t[i], &b->t[j]) != 0)
            return true;
        i = ie;
        j = je;
    }
    return false;
}

static int bkey_cmp(const bkey *a, const bkey *b)
{
    if (a->decl != b->decl)
        return a->decl < b->decl ? -1 : 1;
    if (a->path != b->path)
        return a->path < b->path ? -1 : 1;
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    int r = a->len ? memcmp(a->s, b->s, a->len) : 0;
    if (r)
        return r;
    return a->rule < b->rule ? -1 : a->rule > b->rule;
}

static int bkey_order(const void *a, const void *b) { return bkey_cmp(a, b); }

/* The keys of k[0, n) that equal *probe but for the rule: [*lo, *hi). */
static size_t bkey_range(const bkey *k, size_t n, bkey probe, size_t *lo)
{
    probe.rule = 0;
    size_t a = 0, b = n;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (bkey_cmp(&k[m], &probe) < 0)
            a = m + 1;
        else
            b = m;
    }
    *lo = a;
    probe.rule = UINT32_MAX;
    b = n;
    size_t s = a;
    while (s < b) {
        size_t m = s + (b - s) / 2;
        if (bkey_cmp(&k[m], &probe) <= 0)
            s = m + 1;
        else
            b = m;
    }
    return s - a;
}

static bool blocking_deny(const chg_decl *d)
{
    return d->kind == D_RULE && d->u.rule.action == RA_DENY && d->u.rule.level != LEVEL_ADVISORY;
}

static bool requires_window(const chg_decl *r)
{
    return r->kind == D_RULE && r->u.rule.action == RA_REQUIRE_WINDOW && r->u.rule.window_decl;
}

static blockidx *block_index(an *A)
{
    if (A->bx)
        return A->bx->failed ? NULL : A->bx;
    chg_compiler *c = A->c;
    size_t nd = c->all_decls.len;
    blockidx *X = A->bx = chg_arena_alloc(&c->arena, sizeof *X);
    if (!X) {
        chg_c_nomem(c);
        return NULL;
    }
    X->of = chg_arena_alloc(&c->arena, (nd + 1) * sizeof *X->of);
    size_t nreq = 0, ndeny = 0, nterms = 0;
    for (size_t i = 0; X->of && i < nd; i++) {
        const chg_decl *d = c->all_decls.items[i];
        if (requires_window(d))
            nreq++;
        if (blocking_deny(d))
            for (uint32_t k = 0; k < d->u.rule.nduring; k++)
                ndeny += d->u.rule.during[k]->kind == TS_REF;
        if (d->kind == D_RULE)
            nterms += expr_size(d->u.rule.when);
    }
    X->req = chg_arena_alloc(&c->arena, (nreq + 1) * sizeof *X->req);
    X->deny = chg_arena_alloc(&c->arena, (ndeny + 1) * sizeof *X->deny);
    X->has = chg_arena_alloc(&c->arena, (nterms + 1) * sizeof *X->has);
    X->single = chg_arena_alloc(&c->arena, (nterms + 1) * sizeof *X->single);
    if (!X->of || !X->req || !X->deny || !X->has || !X->single) {
        X->failed = true;
        chg_c_nomem(c);
        return NULL;
    }
    for (size_t i = 0; i < nd && !X->failed; i++) {
        chg_decl *d = c->all_decls.items[i];
        if (d->kind != D_RULE)
            continue;
        uint32_t cap = expr_size(d->u.rule.when), n = 0;
        eqterm *t = chg_arena_alloc(&c->arena, (cap + 1) * sizeof *t);
        if (!t) {
            X->failed = true;
            break;
        }
        eq_terms(X, c, d->u.rule.when, t, &n, cap);
        qsort(t, n, sizeof *t, eqterm_order);
        uint32_t m = 0;
        for (uint32_t k = 0; k < n; k++)
            if (!m || eqterm_cmp(&t[m - 1], &t[k]) != 0)
                t[m++] = t[k];
        X->of[i] = (terms){t, m};
        if (requires_window(d)) {
            uintptr_t w = (uintptr_t)d->u.rule.window_decl;
            X->req[X->nreq++] = (bkey){.decl = w, .rule = (uint32_t)i};
            for (uint32_t k = 0; k < m;) {
                uint32_t e = k;
                while (e < m && t[e].path == t[k].path)
                    e++;
                X->has[X->nhas++] = (bkey){.decl = w, .path = t[k].path, .rule = (uint32_t)i};
                if (e - k == 1)
                    X->single[X->nsingle++] =
                        (bkey){.decl = w, .path = t[k].path, .len = t[k].len, .s = t[k].s, .rule = (uint32_t)i};
                k = e;
            }
        }
        if (blocking_deny(d))
            for (uint32_t k = 0; k < d->u.rule.nduring; k++)
                if (d->u.rule.during[k]->kind == TS_REF)
                    X->deny[X->ndeny++] =
                        (bkey){.decl = (uintptr_t)d->u.rule.during[k]->u.ref.decl, .rule = (uint32_t)i};
    }
    if (X->failed) {
        chg_c_nomem(c);
        return NULL;
    }
    qsort(X->req, X->nreq, sizeof *X->req, bkey_order);
    qsort(X->deny, X->ndeny, sizeof *X->deny, bkey_order);
    qsort(X->has, X->nhas, sizeof *X->has, bkey_order);
    qsort(X->single, X->nsingle, sizeof *X->single, bkey_order);
    return X;
}

/* Does a rule requiring window w (those of req[0, nreq)) have a condition
 * that may hold together with deny rule d's? Only candidates are tried:
 * for one path p that d compares to a string, every rule comparing p to
 * another string is exclusive of d, so the candidates are the rules not
 * comparing p, and, when d compares p to one string s only, those
 * comparing it to s alone. The p with the fewest is taken. */
static bool may_overlap(blockidx *X, uintptr_t w, const bkey *req, size_t nreq, uint32_t d)
{
    const terms *td = &X->of[d];
    if (!td->n)
        return true; /* nothing of d excludes any rule */
    size_t best = SIZE_MAX, best_lo = 0, best_n = 0;
    uint32_t best_path = 0;
    for (uint32_t k = 0; k < td->n;) {
        uint32_t e = k;
        while (e < td->n && td->t[e].path == td->t[k].path)
            e++;
        size_t lo, nhas = bkey_range(X->has, X->nhas, (bkey){.decl = w, .path = td->t[k].path}, &lo);
        size_t slo = 0, ns = 0;
        if (e - k == 1)
            ns = bkey_range(X->single, X->nsingle,
                            (bkey){.decl = w, .path = td->t[k].path, .len = td->t[k].len, .s = td->t[k].s}, &slo);
        size_t cost = (nreq - nhas) + ns;
        if (cost < best) {
            best = cost;
            best_lo = slo;
            best_n = ns;
            best_path = td->t[k].path;
        }
        k = e;
    }
    for (size_t i = 0; i < best_n; i++)
        if (!exclusive(&X->of[X->single[best_lo + i].rule], td))
            return true;
    if (best == best_n)
        return false; /* every rule requiring w compares the path */
    for (size_t i = 0; i < nreq; i++) {
        const terms *tr = &X->of[req[i].rule];
        uint32_t lo, hi;
        path_range(tr, best_path, &lo, &hi);
        if (lo == hi && !exclusive(tr, td))
            return true;
    }
    return false;
}

/* Can freeze f keep a change that needs window w out: is there a rule
 * requiring w and a blocking rule denying during f whose conditions may
 * hold together? *conditional is set when such a deny rule has a
 * condition, so the freeze blocks only some of those changes. A window no
 * rule requires is taken as needed by every change. */
static bool may_block(an *A, const chg_decl *w, const chg_decl *f, bool *conditional)
{
    blockidx *X = block_index(A);
    if (!X)
        return true; /* out of memory, reported: assume the worst, warn no less */
    size_t rlo, nreq = bkey_range(X->req, X->nreq, (bkey){.decl = (uintptr_t)w}, &rlo);
    size_t dlo, ndeny = bkey_range(X->deny, X->ndeny, (bkey){.decl = (uintptr_t)f}, &dlo);
    bool any = false;
    uint32_t last = UINT32_MAX;
    for (size_t i = 0; i < ndeny; i++) {
        uint32_t d = X->deny[dlo + i].rule;
        if (d == last)
            continue; /* a rule naming f twice */
        last = d;
        if (!nreq || may_overlap(X, (uintptr_t)w, &X->req[rlo], nreq, d)) {
            any = true;
            *conditional |= ((const chg_decl *)A->c->all_decls.items[d])->u.rule.when != NULL;
        }
    }
    return any;
}

typedef struct candidate {
    chg_decl *d;
    bool conditional;
} candidate;

static int decl_order(const void *pa, const void *pb)
{
    const chg_decl *a = ((const candidate *)pa)->d, *b = ((const candidate *)pb)->d;
    if (a->span.file != b->span.file)
        return a->span.file < b->span.file ? -1 : 1;
    return a->span.start < b->span.start ? -1 : a->span.start > b->span.start;
}

/* The freezes that keep window w shut, whatever the order they are listed
 * in: every freeze that covers w by itself (*together false), or when
 * none does, a set that covers it together, found by dropping freezes in
 * declaration order while the rest still cover (*together true); in
 * declaration order. 0 when they do not cover w. Only freezes that meet
 * w and may apply to a change needing w are considered (may_block);
 * *conditional says a named freeze blocks only under a rule's condition. */
static size_t covering_freezes(an *A, chg_decl *w, chg_decl **freezes, size_t nf, chg_decl **out, bool *together,
                               bool *conditional)
{
    candidate cs[256];
    size_t n = 0;
    for (size_t i = 0; i < nf && n < 256; i++) {
        bool ci = false;
        if (freezes[i] != w && may_block(A, w, freezes[i], &ci) && intersects(A, w, freezes[i]))
            cs[n++] = (candidate){freezes[i], ci};
    }
    *together = false;
    *conditional = false;
    /* declaration order, so the answer does not depend on the lists */
    qsort(cs, n, sizeof *cs, decl_order);
    for (size_t i = 0; i < n; i++)
        out[i] = cs[i].d;
    if (!n || !covered(A, w, out, n))
        return 0;
    size_t alone = 0;
    for (size_t i = 0; i < n && i < 64; i++)
        if (covered(A, w, &out[i], 1))
            cs[alone++] = cs[i];
    if (!alone) {
        /* drop each in turn, in order, if the others still cover w
         * (bounded: a policy with many freezes gets the ones that meet w) */
        for (size_t i = 0; n > 1 && n <= 16 && i < n;) {
            chg_decl *rest[16];
            size_t m = 0;
            for (size_t k = 0; k < n; k++)
                if (k != i)
                    rest[m++] = out[k];
            if (covered(A, w, rest, m)) {
                memmove(&cs[i], &cs[i + 1], (n - i - 1) * sizeof *cs);
                memcpy(out, rest, m * sizeof *out);
                n = m;
                continue;
            }
            i++;
        }
        *together = n > 1;
    } else
        n = alone;
    for (size_t i = 0; i < n; i++) {
        out[i] = cs[i].d;
        *conditional |= cs[i].conditional;
    }
    return n;
}

/* Freezes used by deny-during rules that block (not advisory): the only
 * ones that can keep a window shut. At most `max`: past that the analysis
 * looks at the first ones, which can miss a warning but never invent one. */
static size_t blocking_freezes(chg_compiler *c, chg_decl **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < c->all_decls.len; i++) {
        chg_decl *r = c->all_decls.items[i];
        if (r->kind != D_RULE || r->u.rule.action != RA_DENY || r->u.rule.level == LEVEL_ADVISORY)
            continue;
        for (uint32_t k = 0; k < r->u.rule.nduring; k++) {
            chg_tsexpr *t = r->u.rule.during[k];
            if (t->kind != TS_REF || !t->u.ref.decl)
                continue;
            bool dup = false;
            for (size_t q = 0; q < n; q++)
                dup |= out[q] == t->u.ref.decl;
            if (!dup && n < max)
                out[n++] = t->u.ref.decl;
        }
    }
    return n;
}

/* "a, b, c" for notes listing the freezes that cover a window. */
static const char *names(an *A, chg_decl **ds, size_t n)
{
    chg_buf b;
    chg_buf_init(&b);
    for (size_t i = 0; i < n; i++)
        chg_buf_printf(&b, "%s%s", i ? ", " : "", ds[i]->name.name);
    if (b.oom)
        chg_c_nomem(A->c);
    const char *s = chg_arena_strndup(&A->c->arena, b.data ? b.data : "", b.len);
    chg_buf_free(&b);
    return s;
}

/* Local times of weekly/daily windows and cron schedules that fall in a DST
 * gap or overlap within the horizon: one warning per schedule, with the
 * first date. */
static void dst_check(an *A, chg_decl *d, const chg_tsexpr *t)
{
    chg_compiler *c = A->c;
    switch (t->kind) {
    case TS_OR:
    case TS_AND:
        dst_check(A, d, t->u.bin.a);
        dst_check(A, d, t->u.bin.b);
        return;
    case TS_NOT:
        dst_check(A, d, t->u.not_);
        return;
    case TS_WEEKLY:
    case TS_DAILY:
    case TS_CRON:
        break;
    default:
        return;
    }
    if (!t->zone.name)
        return;
    chg_time_error err;
    const chg_tz *tz = chg_c_zone(c, t->zone.name, &err);
    if (!tz)
        return;
    memset(&err, 0, sizeof err);
    chg_cron_opts o = cron_opts(t);
    chg_cron *cr = t->kind == TS_CRON ? chg_cron_parse_opts(t->u.cron.expr.name, &o, &err) : NULL;
    if (t->kind == TS_CRON && !cr)
        time_nomem(c, &err); /* a bad expression was reported by the checker */
    if (t->kind == TS_CRON && (!cr || chg_cron_is_wildcard(cr))) {
        chg_cron_free(cr);
        return; /* wildcard schedules follow the clock by design */
    }
    int mins[2] = {-1, -1};
    uint8_t days = 0x7f;
    if (t->kind != TS_CRON) {
        chg_c_parse_time_of_day(t->u.weekly.from.name, &mins[0]);
        chg_c_parse_time_of_day(t->u.weekly.to.name, &mins[1]);
        if (t->kind == TS_WEEKLY) {
            days = 0;
            for (uint32_t i = 0; i < t->u.weekly.ndays; i++)
                for (int k = t->u.weekly.days[i].from_day, s = 0; s < 7 && k >= 0; k = (k + 1) % 7, s++) {
                    days |= (uint8_t)(1u << k);
                    if (k == t->u.weekly.days[i].to_day)
                        break;
                }
        }
    }
    for (int64_t x = A->from; x < A->to;) {
        int64_t tr = chg_tz_next_transition(tz, x);
        if (tr == INT64_MAX || tr >= A->to)
            break;
        int32_t before = chg_tz_offset(tz, tr - 1), after = chg_tz_offset(tz, tr);
        /* local times [lo, hi) are skipped (gap) or repeated (overlap) */
        int64_t lo = tr + (before < after ? before : after), hi = tr + (before < after ? after : before);
        bool gap = after > before;
        for (int64_t lt = lo; lt < hi; lt += 60) {
            int64_t days_since = chg_floor_div(lt, 86400);
            int minute = (int)((lt - days_since * 86400) / 60);
            int wd = chg_weekday_from_days(days_since);
            bool hit = false;
            if (cr)
                hit = chg_cron_matches_local(cr, lt);
            else
                for (int k = 0; k < 2; k++)
                    /* a start on one of the days; an end on the day after a start day when it crosses midnight */
                    if (minute == mins[k] &&
                        (k == 0 ? (days >> wd) & 1
                                : (mins[1] > mins[0] ? (days >> wd) & 1 : (days >> ((wd + 6) % 7)) & 1)))
                        hit = true;
            if (hit) {
                char when[16];
                snprintf(when, sizeof when, "%02d:%02d", minute / 60, minute % 60);
                char day[40];
                chg_time_format_utc(days_since * 86400, day);
                day[10] = 0;
                chg_diag *dg = chg_c_diag_report(c, CHG_D_W0013, t->span, d->name.name, when, day, t->zone.name,
                                               gap ? "does not exist (clocks skip it)" : "happens twice (clocks repeat it)",
                                               NULL);
                chg_c_diag_help(c, dg, "%s", gap ? "the window starts when the gap ends; see docs/time.md, Daylight-saving time"
                                               : "the first occurrence counts; see docs/time.md, Daylight-saving time");
                chg_cron_free(cr);
                return;
            }
        }
        x = tr + 1;
    }
    chg_cron_free(cr);
}

/* ---- calendars that run out of events --------------------------------------------- */

/* Interval callback keeping the last interval seen. */
static int last_iv(void *ud, int64_t s, int64_t e)
{
    int64_t *iv = ud;
    iv[0] = s;
    iv[1] = e;
    iv[2] = 1;
    return 0;
}

/* The last instant in [a, b) at which ts changes (the end of its last
 * interval there, or the start of one that lasts to b), INT64_MIN if none. */
static int64_t last_change(an *A, const chg_timeset *ts, int64_t a, int64_t b)
{
    int64_t iv[3] = {0, 0, 0};
    chg_timeset_intervals(ts, &A->env, a, b, last_iv, iv);
    if (!iv[2])
        return INT64_MIN;
    return iv[1] < b ? iv[1] : iv[0] > a ? iv[0] : INT64_MIN;
}

/* A calendar whose events end before the horizon does (W0024), or within
 * it (W0025): a freeze of holidays nobody renewed, a DEFAULT_CLOSED
 * calendar of slots that stops opening. Without this the analysis would
 * see only what follows from it — a window "always frozen", a freeze
 * "redundant" — and name the wrong cause. Each calendar file is reported
 * once, at its first use; true when t holds such a calendar (its
 * declaration's other notes about the horizon are then beside the point). */
static bool calendar_runs_out(an *A, const chg_tsexpr *t, const char ***seen, size_t *nseen)
{
    if (!t)
        return false;
    switch (t->kind) {
    case TS_OR:
    case TS_AND:
        return calendar_runs_out(A, t->u.bin.a, seen, nseen) | calendar_runs_out(A, t->u.bin.b, seen, nseen);
    case TS_NOT:
        return calendar_runs_out(A, t->u.not_, seen, nseen);
    case TS_CALENDAR:
        break;
    default:
        return false;
    }
    if (!t->u.cal.text)
        return false;
    check_calendar_import(A->c, t);
    chg_calendar_facts f;
    if (chg_calendar_facts_of(t->u.cal.text, t->u.cal.len, &f) != CHG_OK || f.events == 0)
        return false; /* W0023 says it has none */
    chg_time_error err;
    int bad;
    chg_timeset *ts = calendar_build(A->c, t, &err, &bad);
    if (!ts)
        return false;
    /* a calendar's next change is a search in its occurrences, however
     * far it is: the whole range of instants costs what a day does */
    bool ended = chg_timeset_next_change(ts, &A->env, A->from, CHG_TIME_MAX - A->from) == INT64_MAX;
    bool expiring = !ended && chg_timeset_next_change(ts, &A->env, A->to, CHG_TIME_MAX - A->to) == INT64_MAX;
    int64_t last = INT64_MIN;
    if (ended)
        last = last_change(A, ts, CHG_TIME_MIN, A->from + 1);
    else if (expiring)
        last = last_change(A, ts, A->from, A->to + 1);
    chg_timeset_free(ts);
    if (!ended && !expiring)
        return false;
    for (size_t i = 0; i < *nseen; i++)
        if ((*seen)[i] == t->u.cal.text)
            return true;
    const char **v = chg_arena_alloc(&A->c->arena, (*nseen + 1) * sizeof *v);
    if (!v) {
        chg_c_nomem(A->c);
        return true;
    }
    if (*nseen)
        memcpy(v, *seen, *nseen * sizeof *v);
    v[(*nseen)++] = t->u.cal.text;
    *seen = v;
    const char *then = f.closed ? "it is CLOSED from then on (DEFAULT_CLOSED)" : "it is OPEN from then on";
    /* not the calendar's end but chg's (point 6 of issue 14): a rule that
     * goes on is cut at CHG_CALENDAR_END, which the horizon reaches */
    if (f.may_recur_past_end && last != INT64_MIN && last >= CHG_CALENDAR_END - 7 * 86400) {
        chg_diag *d = chg_c_diag_report(A->c, CHG_D_W0026, t->u.cal.path.span, t->u.cal.path.name, then, NULL);
        chg_c_diag_help(A->c, d, "decisions past 2200-01-01 do not see the calendar's events; see docs/time.md");
        return true;
    }
    const char *when = last == INT64_MIN ? A->from_text : chg_arena_strndup(&A->c->arena, date(A, last), 10);
    chg_diag *d = ended ? chg_c_diag_report(A->c, CHG_D_W0024, t->u.cal.path.span, t->u.cal.path.name, when, then,
                                            NULL)
                        : chg_c_diag_report(A->c, CHG_D_W0025, t->u.cal.path.span, t->u.cal.path.name, when,
                                            A->horizon_text, A->from_text, then, NULL);
    chg_c_diag_help(A->c, d, "add the events of the coming period to the file (or let its rule recur)");
    return true;
}

/* Three questions, in this order: does each window open at all within the
 * horizon (W0010), is it entirely frozen (W0011), can a risk class ever
 * proceed when its windows are all required at once (W0012); then, for
 * freezes in use, which overlap (N0001) or make another redundant (N0002).
 * DST gaps and overlaps in schedules come first, per declaration (W0013).
 * Each question builds its own sets from the declarations' trees. */
int chg_c_time_analysis(chg_compiler *c)
{
    if (!c->opts.analysis_from)
        return CHG_OK;
    an A;
    memset(&A, 0, sizeof A);
    A.c = c;
    A.from = c->opts.analysis_from;
    int64_t horizon = c->opts.horizon > 0 ? c->opts.horizon : CHG_HORIZON_DEFAULT;
    A.to = A.from + (horizon < CHG_HORIZON_MAX ? horizon : CHG_HORIZON_MAX);
    /* the analysis looks no further than there are instants: the horizon
     * (at most a quarter of int64, chg_duration_parse) stops at 9999 */
    if (A.to > CHG_TIME_MAX)
        A.to = CHG_TIME_MAX;
    if (!chg_time_in_range(A.from) || A.to <= A.from)
        return CHG_OK;
    A.env.flag = no_flags;
    char day[40];
    chg_time_format_utc(A.from, day);
    A.from_text = chg_arena_strndup(&c->arena, day, 10); /* the date only */
    A.horizon_text = chg_arena_printf(&c->arena, "%lld days", (long long)((A.to - A.from) / 86400));

    chg_decl *freezes[256];
    size_t nf = blocking_freezes(c, freezes, 256);

    /* calendars that run out of events, first: the other questions' answers
     * about their declarations follow from it */
    const char **seen = NULL;
    size_t nseen = 0;
    bool *runs_out = chg_arena_alloc(&c->arena, (c->all_decls.len + 1) * sizeof *runs_out);
    if (!runs_out) {
        chg_c_nomem(c);
        return chg_c_status(c);
    }
    for (size_t i = 0; i < c->all_decls.len; i++) {
        chg_decl *d = c->all_decls.items[i];
        runs_out[i] = (d->kind == D_WINDOW || d->kind == D_FREEZE) &&
                      calendar_runs_out(&A, d->u.timeset.ts, &seen, &nseen);
    }

    for (size_t i = 0; i < c->all_decls.len; i++) {
        chg_decl *d = c->all_decls.items[i];
        if (d->kind != D_WINDOW && d->kind != D_FREEZE)
            continue;
        dst_check(&A, d, d->u.timeset.ts);
        if (d->kind != D_WINDOW)
            continue;
        chg_timeset *ts = build_decl(c, d);
        if (!ts)
            continue;
        int64_t s, e;
        bool opens = first_interval(&A, ts, &s, &e);
        chg_timeset_free(ts);
        if (!opens) {
            chg_c_diag_report(c, CHG_D_W0010, d->name.span, d->name.name, A.horizon_text, A.from_text, NULL);
            continue;
        }
        chg_decl *cover[256];
        bool together = false, conditional = false;
        size_t ncover = nf ? covering_freezes(&A, d, freezes, nf, cover, &together, &conditional) : 0;
        if (ncover) {
            const char *list = names(&A, cover, ncover);
            if (ncover > 1)
                list = chg_arena_printf(&c->arena, "%s (%s)", list, together ? "together" : "each alone");
            chg_diag *dg = chg_c_diag_report(c, CHG_D_W0011, d->name.span, d->name.name, A.horizon_text,
                                           A.from_text, list, NULL);
            /* what is proved: the openings are frozen; that a change needing
             * the window meets a freeze's rule is proved only when the rule
             * has no condition */
            chg_c_diag_help(c, dg, conditional ? "changes that need it can never proceed when the condition of a rule "
                                                 "denying during it also holds, except in an emergency"
                                               : "changes that need it can never proceed, except in an emergency");
        }
    }

    /* Windows that rules require together: of each risk class (rules
     * restricted to it by risk, and rules without a condition), or, in a
     * policy without risk classes, of every change (rules without a
     * condition). Never open at the same time is W0017; open together but
     * always frozen is W0012, naming the freezes that do it. */
    uint32_t nclasses = c->risk ? c->risk->u.risk.n : 1;
    chg_decl *prev[64];
    size_t nprev = SIZE_MAX;
    for (uint32_t k = 0; k < nclasses; k++) {
        chg_decl *wins[64];
        size_t nw = 0;
        chg_span last = {0, 0, 0};
        for (size_t i = 0; i < c->all_decls.len && nw < 64; i++) {
            chg_decl *r = c->all_decls.items[i];
            if (r->kind != D_RULE || r->u.rule.action != RA_REQUIRE_WINDOW || !r->u.rule.window_decl)
                continue;
            if (chg_c_rule_applies(c, r, (int)k) != CHG_APPLIES_ALWAYS)
                continue; /* only rules that apply to every change of the class */
            bool dup = false;
            for (size_t q = 0; q < nw; q++)
                dup |= wins[q] == r->u.rule.window_decl;
            if (!dup)
                wins[nw++] = r->u.rule.window_decl;
            last = r->name.span;
        }
        if (!nw)
            continue;
        /* all the windows together: their intersection */
        chg_decl tmp = *wins[0];
        if (nw > 1) {
            chg_tsexpr *and = wins[0]->u.timeset.ts;
            for (size_t q = 1; q < nw; q++) {
                chg_tsexpr *x = chg_c_ast_ts(&c->arena, TS_AND, wins[q]->span);
                x->u.bin.a = and;
                x->u.bin.b = wins[q]->u.timeset.ts;
                and = x;
            }
            tmp.u.timeset.ts = and;
        }
        const char *who = c->risk ? chg_arena_printf(&c->arena, "changes of risk class '%s'",
                                                      c->risk->u.risk.classes[k].name)
                                  : "all changes";
        chg_span at = c->risk ? c->risk->u.risk.classes[k].span : last;
        /* a window that never opens by itself is W0010's */
        bool each_opens = true;
        for (size_t q = 0; q < nw && each_opens; q++) {
            chg_timeset *one = build_decl(c, wins[q]);
            int64_t s, e;
            each_opens = one && first_interval(&A, one, &s, &e);
            chg_timeset_free(one);
        }
        if (!each_opens)
            continue;
        if (nw > 1) {
            chg_timeset *both = build_decl(c, &tmp);
            int64_t s, e;
            bool opens = both && first_interval(&A, both, &s, &e);
            chg_timeset_free(both);
            if (both && !opens) {
                /* once per set of windows: the classes above share it */
                bool same = nprev == nw;
                for (size_t q = 0; same && q < nw; q++)
                    same = prev[q] == wins[q];
                if (!same) {
                    chg_diag *dg = chg_c_diag_report(c, CHG_D_W0017, at, who, names(&A, wins, nw), A.horizon_text,
                                                   A.from_text, NULL);
                    chg_c_diag_help(c, dg, "every required window must be open at once; such changes are always "
                                           "deferred, except in an emergency");
                    memcpy(prev, wins, nw * sizeof *wins);
                    nprev = nw;
                }
                continue;
            }
        }
        if (!nf || !c->risk)
            continue;
        bool window_warned = nw == 1 && covered(&A, wins[0], freezes, nf); /* W0011 said it */
        chg_decl *cover[256];
        bool together = false, conditional = false; /* W0012 lists them as they come */
        size_t ncover = window_warned ? 0 : covering_freezes(&A, &tmp, freezes, nf, cover, &together, &conditional);
        if (ncover) {
            const char *need = nw == 1 ? chg_arena_printf(&c->arena, "window %s", wins[0]->name.name)
                                       : chg_arena_printf(&c->arena, "windows %s at once", names(&A, wins, nw));
            chg_diag *dg = chg_c_diag_report(c, CHG_D_W0012, at, c->risk->u.risk.classes[k].name, need,
                                           names(&A, cover, ncover), A.horizon_text, A.from_text, NULL);
            chg_c_diag_help(c, dg, "such changes can only proceed in an emergency");
        }
    }

    /* freezes that overlap, or that another freeze makes redundant */
    size_t nfz = 0;
    chg_decl *all[200];
    bool out_of_events[200];
    for (size_t i = 0; i < c->all_decls.len && nfz < 200; i++) {
        chg_decl *d = c->all_decls.items[i];
        if (d->kind == D_FREEZE && d->used) {
            out_of_events[nfz] = runs_out[i];
            all[nfz++] = d;
        }
    }
    for (size_t i = 0; i < nfz; i++) {
        /* "redundant" in a horizon past its calendar's last event says
         * nothing true of the freeze: W0024/W0025 said what is */
        if (out_of_events[i])
            continue;
        chg_timeset *ti = build_decl(c, all[i]);
        int64_t si, ei;
        bool holds = ti && first_interval(&A, ti, &si, &ei);
        chg_timeset_free(ti);
        if (!holds)
            continue;
        for (size_t j = 0; j < nfz; j++) {
            if (i == j)
                continue;
            if (covered(&A, all[i], &all[j], 1)) {
                chg_diag *dg = chg_c_diag_report(c, CHG_D_N0002, all[i]->name.span, all[i]->name.name,
                                               all[j]->name.name, A.horizon_text, A.from_text, NULL);
                chg_c_diag_note(c, dg, all[j]->name.span, "'%s' is declared here", all[j]->name.name);
                break;
            }
            if (j > i) {
                /* overlap: the first interval of a ∧ b */
                chg_tsexpr and;
                memset(&and, 0, sizeof and);
                and.kind = TS_AND;
                and.u.bin.a = all[i]->u.timeset.ts;
                and.u.bin.b = all[j]->u.timeset.ts;
                chg_decl tmp = *all[i];
                tmp.u.timeset.ts = &and;
                chg_timeset *both = build_decl(c, &tmp);
                int64_t s, e;
                if (both && first_interval(&A, both, &s, &e) && !covered(&A, all[j], &all[i], 1))
                    chg_c_diag_report(c, CHG_D_N0001, all[i]->name.span, all[i]->name.name, all[j]->name.name,
                                    date(&A, s), date(&A, e), NULL);
                chg_timeset_free(both);
            }
        }
    }
    if (A.bx)
        chg_c_map_free(&A.bx->paths);
    return chg_c_status(c);
}
