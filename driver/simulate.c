/*
 * simulate.c — `chgc simulate`: a schedule of planned changes judged
 * ahead of time. For each planned change: its decision at its planned
 * instant, the earliest slot in the range that its whole duration fits,
 * what shaped that slot, what it still needs; and the conflicts between
 * changes (docs/simulate.md).
 *
 * Every answer comes from the evaluator: a change is decided at an
 * instant by chg_eval (ignore_at: the instant is the simulation's, not the
 * policy's `at`), the next candidate instant is the decision's next_open,
 * and whether the duration fits is chg_ctx_admissible_until — the same
 * time-set search (stdlib/timeset.c through the context's index,
 * vm/tsindex.c) that gives every decision its next_open and closes_at.
 * Nothing here reasons about time sets itself.
 *
 * Deterministic: one context, changes in input order, conflicts sorted;
 * no clock (the range defaults follow from the planned instants).
 */
#include "chg_driver.h"
#include "chg_civil.h"
#include "chg_time.h"
#include "ics.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* How many decisions one change's search may take: each step moves to
 * the next instant the policy's time sets allow, so a year of an hourly
 * window too short for the change is under 9,000. Past it the search
 * stops and the change has no earliest slot (fail closed), saying so. */
#define SEARCH_STEPS 20000
/* Input errors reported before giving up. */
#define MAX_ERRORS 20

typedef struct planned {
    char *where;            /* "[3]" or "line 4": the item in the input */
    char *id;               /* the change's id, or `where` when it has none */
    char *service;          /* the change's "service", or NULL */
    char **deps;            /* the item's depends_on services */
    size_t ndeps;
    chg_event *ev;
    char *json;             /* the change as compact JSON, for concurrency
                               limits' `per` fields */
    bool has_at;            /* the item gives its instant */
    int64_t at, dur;        /* planned [at, at + dur) */
    /* the decision at the planned instant */
    char *decision;         /* the decision writer's JSON */
    chg_outcome outcome;
    char *risk;             /* class name, or NULL */
    int risk_index;
    bool fits;              /* allowed, and admissible for the whole duration */
    char **needs;           /* missing approvals at the planned instant */
    size_t nneeds;
    char *reasons;          /* "rule: message" lines, for text and hover */
    /* the search */
    int64_t earliest;       /* INT64_MAX: none in the range */
    char *why_none;         /* why there is none */
    bool with_lead;         /* the slot counts on --approval-lead */
    uint8_t *shaped;        /* per time set: 1 a required window, 2 a freeze met */
} planned;

typedef enum conflict_kind { K_SERVICE, K_DEPENDENCY, K_FREEZE, K_WINDOW, K_CONCURRENCY } conflict_kind;
static const char *const kind_names[] = {"service", "dependency", "freeze", "window", "concurrency"};

typedef struct conflict {
    conflict_kind kind;
    size_t a, b;            /* planned indexes; b == SIZE_MAX for one change */
    int64_t start, end;     /* the overlap, or the planned interval */
    char *rule;             /* what the rule says, in words */
} conflict;

struct chg_simulation {
    const chg_bundle *b;
    const chg_sim_options *o;
    int64_t from, to;
    planned *items;
    size_t n;
    conflict *conflicts;
    size_t nconflicts, capconflicts;
    bool oom;
};

/* ---- small helpers ---------------------------------------------------------------- */

static char *dup_n(const char *s, size_t n)
{
    char *d = chg_malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

static char *fmt_alloc(const char *fmt, ...) CHG_PRINTF(1, 2);
static char *fmt_alloc(const char *fmt, ...)
{
    chg_buf b;
    chg_buf_init(&b);
    va_list ap;
    va_start(ap, fmt);
    chg_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (b.oom) {
        chg_buf_free(&b);
        return NULL;
    }
    return chg_buf_take(&b);
}

static void instant_json(chg_buf *out, int64_t t)
{
    char s[40];
    if (t == INT64_MAX || t == INT64_MIN || !chg_time_format_utc(t, s))
        chg_buf_puts(out, "null");
    else
        chg_buf_printf(out, "\"%s\"", s);
}

static void str_json(chg_buf *out, const char *s)
{
    if (s)
        chg_buf_json_string(out, s, strlen(s));
    else
        chg_buf_puts(out, "null");
}

static const char *ts_name(const chg_bundle *b, uint32_t i)
{
    chg_timeset_info info;
    return chg_bundle_timeset(b, i, &info) ? info.name : "?";
}

static bool facts_flag(void *ud, const char *name) { return chg_facts_flag(ud, name); }

/* ---- input ------------------------------------------------------------------------------ */

typedef struct reader {
    chg_simulation *s;
    chg_buf *errs;          /* "WHERE: reason" lines */
    size_t nerrors;
    chg_vec items;          /* planned * */
} reader;

static void input_error(reader *r, const char *where, const char *fmt, ...) CHG_PRINTF(3, 4);
static void input_error(reader *r, const char *where, const char *fmt, ...)
{
    if (r->nerrors++ >= MAX_ERRORS)
        return;
    chg_buf line;
    chg_buf_init(&line);
    va_list ap;
    va_start(ap, fmt);
    chg_buf_vprintf(&line, fmt, ap);
    va_end(ap);
    chg_buf_printf(r->errs, "%s: %s: ", r->s->o->name, where);
    chg_buf_put_visible(r->errs, line.data ? line.data : "", line.len);
    chg_buf_putc(r->errs, '\n');
    chg_buf_free(&line);
}

static void planned_free(planned *p)
{
    chg_free(p->where);
    chg_free(p->id);
    chg_free(p->service);
    for (size_t i = 0; i < p->ndeps; i++)
        chg_free(p->deps[i]);
    chg_free(p->deps);
    chg_event_free(p->ev);
    free(p->json); /* jansson's */
    chg_free(p->decision);
    chg_free(p->risk);
    for (size_t i = 0; i < p->nneeds; i++)
        chg_free(p->needs[i]);
    chg_free(p->needs);
    chg_free(p->reasons);
    chg_free(p->why_none);
    chg_free(p->shaped);
}

/* One planned change: a bare change, or {"change": {…}, "at": …,
 * "duration": …, "depends_on": […]}. Returns CHG_OK (kept, or an error
 * reported) or CHG_ENOMEM. */
static int read_item(reader *r, json_t *item, const char *where)
{
    const chg_sim_options *o = r->s->o;
    if (!json_is_object(item)) {
        input_error(r, where, "a planned change is a JSON object: a change, or {\"change\": {…}, \"at\": …, "
                              "\"duration\": …}");
        return CHG_OK;
    }
    json_t *change = json_object_get(item, "change");
    bool wrapped = json_is_object(change);
    planned p = {.dur = o->duration, .earliest = INT64_MAX, .risk_index = -1};
    bool bad = false;
    if (wrapped) {
        const char *k;
        json_t *v;
        json_object_foreach(item, k, v) {
            if (!strcmp(k, "change"))
                continue;
            if (!strcmp(k, "at")) {
                if (!json_is_string(v) ||
                    chg_time_parse_iso(json_string_value(v), json_string_length(v), &p.at) != CHG_OK) {
                    input_error(r, where, ".at: must be an RFC 3339 instant");
                    bad = true;
                } else
                    p.has_at = true;
            } else if (!strcmp(k, "duration")) {
                if (!json_is_string(v) ||
                    chg_duration_parse(json_string_value(v), json_string_length(v), &p.dur) != CHG_OK || p.dur <= 0) {
                    input_error(r, where, ".duration: must be a duration of at least 1s, as a policy writes "
                                          "it (\"2h\", \"1h30m\")");
                    bad = true;
                }
            } else if (!strcmp(k, "depends_on")) {
                size_t i;
                json_t *x;
                if (!json_is_array(v)) {
                    input_error(r, where, ".depends_on: must be a list of service names");
                    bad = true;
                    continue;
                }
                json_array_foreach(v, i, x) {
                    if (!json_is_string(x) || !json_string_length(x)) {
                        input_error(r, where, ".depends_on[%zu]: must be a service name (a non-empty string)", i);
                        bad = true;
                    }
                }
            } else {
                input_error(r, where, ".%s: not a member of a planned change (change, at, duration, "
                                      "depends_on)", k);
                bad = true;
            }
        }
    } else if (change) {
        input_error(r, where, ".change: must be the change, a JSON object");
        return CHG_OK;
    } else
        change = item;
    if (bad)
        return CHG_OK;
    if (!p.has_at && !chg_bundle_has_at(r->s->b)) {
        input_error(r, where, "no \"at\", and the policy has no `at` to plan the change at: give "
                              "{\"change\": {…}, \"at\": \"RFC 3339\"}");
        return CHG_OK;
    }
    char err[600];
    p.ev = chg_event_from_json(r->s->b, change, err, sizeof err); /* takes its own reference */
    if (!p.ev) {
        if (strstr(err, "out of memory"))
            return CHG_ENOMEM;
        input_error(r, where, "%s%s", wrapped ? ".change: " : "", err);
        return CHG_OK;
    }
    if (!(p.json = json_dumps(change, JSON_COMPACT))) {
        chg_event_free(p.ev);
        return CHG_ENOMEM;
    }
    json_t *svc = json_object_get(change, "service");
    json_t *deps = wrapped ? json_object_get(item, "depends_on") : NULL;
    json_t *id = json_object_get(change, "id");
    p.where = chg_strdup(where);
    p.id = json_is_string(id) ? dup_n(json_string_value(id), json_string_length(id)) : chg_strdup(where);
    p.service = json_is_string(svc) ? dup_n(json_string_value(svc), json_string_length(svc)) : NULL;
    p.ndeps = deps ? json_array_size(deps) : 0;
    p.deps = p.ndeps ? chg_calloc(p.ndeps, sizeof *p.deps) : NULL;
    p.shaped = chg_calloc(chg_bundle_ntimesets(r->s->b) + 1, 1);
    bool ok = p.where && p.id && (p.service || !json_is_string(svc)) && (p.deps || !p.ndeps) && p.shaped;
    for (size_t i = 0; ok && i < p.ndeps; i++) {
        json_t *x = json_array_get(deps, i);
        ok = (p.deps[i] = dup_n(json_string_value(x), json_string_length(x))) != NULL;
    }
    planned *kept = ok ? chg_malloc(sizeof *kept) : NULL;
    if (!kept) {
        planned_free(&p);
        return CHG_ENOMEM;
    }
    *kept = p;
    if (chg_vec_push(&r->items, kept) != CHG_OK) {
        planned_free(kept);
        chg_free(kept);
        return CHG_ENOMEM;
    }
    return CHG_OK;
}

/* A JSON array of planned changes, or JSON lines of them. */
static int read_input(reader *r, const char *text, size_t len)
{
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        text += 3;
        len -= 3;
    }
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
        i++;
    json_error_t je;
    if (i < len && text[i] == '[') {
        je.text[0] = 0;
        json_t *all = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
        if (!all) {
            if (!je.text[0] || json_error_code(&je) == json_error_out_of_memory)
                return CHG_ENOMEM;
            char where[64];
            snprintf(where, sizeof where, "line %d, column %d", je.line, je.column < 1 ? 1 : je.column);
            input_error(r, where, "%s", je.text);
            return CHG_OK;
        }
        size_t k;
        json_t *item;
        int rc = CHG_OK;
        json_array_foreach(all, k, item) {
            char where[32];
            snprintf(where, sizeof where, "[%zu]", k);
            if ((rc = read_item(r, item, where)) != CHG_OK)
                break;
        }
        json_decref(all);
        return rc;
    }
    chg_lines *lines = chg_lines_memory(text, len, r->s->o->name, 0);
    if (!lines)
        return CHG_ENOMEM;
    int rc = CHG_OK;
    for (;;) {
        const char *line;
        size_t n;
        unsigned long lineno;
        char err[256];
        int k = chg_lines_next(lines, &line, &n, &lineno, err, sizeof err);
        if (k == 0)
            break;
        char where[64];
        snprintf(where, sizeof where, "line %lu", lineno);
        if (k < 0) {
            input_error(r, where, "the line is longer than the limit");
            continue;
        }
        je.text[0] = 0;
        json_t *item = json_loadb(line, n, JSON_REJECT_DUPLICATES, &je);
        if (!item) {
            if (!je.text[0] || json_error_code(&je) == json_error_out_of_memory) {
                rc = CHG_ENOMEM;
                break;
            }
            snprintf(where, sizeof where, "line %lu, column %d", lineno, je.column < 1 ? 1 : je.column);
            input_error(r, where, "%s", je.text);
            continue;
        }
        rc = read_item(r, item, where);
        json_decref(item);
        if (rc != CHG_OK)
            break;
    }
    chg_lines_close(lines);
    return rc;
}

/* ---- deciding ------------------------------------------------------------------------------ */

typedef struct sim_ctx {
    chg_simulation *s;
    chg_ctx *ctx;
    chg_decision d;
    chg_buf buf;
} sim_ctx;

/* Decide p at t (its own `at` when use_policy_at), with the searches
 * looking to the end of the range. */
static int decide_at(sim_ctx *c, planned *p, int64_t t, bool use_policy_at)
{
    int64_t h = c->s->to - t;
    chg_eval_input in = {.change = p->ev,
                         .now = t,
                         .facts = c->s->o->facts,
                         .horizon = h < 1 ? 1 : h > CHG_HORIZON_MAX ? CHG_HORIZON_MAX : h,
                         .ignore_at = !use_policy_at};
    return chg_eval(c->ctx, &in, &c->d) == CHG_ENOMEM ? CHG_ENOMEM : CHG_OK;
}

/* Is the decision's deny one that time can lift (only `deny during`
 * rules deny)? */
static bool deny_is_timed(const chg_decision *d)
{
    for (uint32_t i = 0; i < d->nreasons; i++)
        if ((d->reasons[i].kind == CHG_R_DENY && !d->reasons[i].during && !d->reasons[i].overridden) ||
            d->reasons[i].kind == CHG_R_REJECTED)
            return false;
    return true;
}

static void mark_shaped(sim_ctx *c, planned *p)
{
    for (uint32_t k = 0; k < c->d.nwindows; k++)
        p->shaped[c->d.windows[k]] |= 1;
    for (uint32_t k = 0; k < c->d.nfreezes; k++)
        p->shaped[c->d.freezes[k]] |= 2;
}

/* The first rule of the decision's reasons of `kind`, by name. */
static const char *reason_rule(const chg_simulation *s, const chg_decision *d, int kind, const chg_reason **out)
{
    for (uint32_t i = 0; i < d->nreasons; i++)
        if (d->reasons[i].kind == kind && !d->reasons[i].overridden) {
            if (out)
                *out = &d->reasons[i];
            return d->reasons[i].rule < chg_bundle_nrules(s->b) ? chg_bundle_rule_name(s->b, d->reasons[i].rule)
                                                                 : "?";
        }
    return NULL;
}

static int add_conflict(chg_simulation *s, conflict_kind kind, size_t a, size_t b, int64_t start, int64_t end,
                        char *rule)
{
    if (!rule)
        return CHG_ENOMEM;
    if (s->nconflicts == s->capconflicts) {
        size_t cap = s->capconflicts ? s->capconflicts * 2 : 16;
        conflict *c = chg_realloc(s->conflicts, cap * sizeof *c);
        if (!c) {
            chg_free(rule);
            return CHG_ENOMEM;
        }
        s->conflicts = c;
        s->capconflicts = cap;
    }
    s->conflicts[s->nconflicts++] = (conflict){kind, a, b, start, end, rule};
    return CHG_OK;
}

/* The freezes and windows that keep the decision c->d from being
 * admissible at t, as conflicts of change i planned in [at, end). */
static int time_conflicts(sim_ctx *c, size_t i, int64_t t, bool at_start)
{
    chg_simulation *s = c->s;
    planned *p = &s->items[i];
    char when[40];
    chg_time_format_utc(t, when);
    for (uint32_t k = 0; k < c->d.nfreezes; k++) {
        const chg_reason *x = NULL;
        for (uint32_t q = 0; q < c->d.nreasons && !x; q++)
            if (c->d.reasons[q].kind == CHG_R_DENY && c->d.reasons[q].during && !c->d.reasons[q].overridden)
                x = &c->d.reasons[q];
        if (!x)
            break; /* overridden by an approved emergency */
        const char *rule = x->rule < chg_bundle_nrules(s->b) ? chg_bundle_rule_name(s->b, x->rule) : "?";
        int rc = add_conflict(s, K_FREEZE, i, SIZE_MAX, p->at, p->at + p->dur,
                              at_start ? fmt_alloc("planned inside freeze %s (rule %s)", ts_name(s->b, c->d.freezes[k]),
                                                   rule)
                                       : fmt_alloc("runs into freeze %s at %s (rule %s)",
                                                   ts_name(s->b, c->d.freezes[k]), when, rule));
        if (rc != CHG_OK)
            return rc;
    }
    for (uint32_t q = 0; q < c->d.nreasons; q++) {
        const chg_reason *x = &c->d.reasons[q];
        if (x->kind != CHG_R_WINDOW || x->overridden || x->rule >= chg_bundle_nrules(s->b))
            continue;
        /* the window is named in the reason's message: "window W is closed" */
        int rc = add_conflict(s, K_WINDOW, i, SIZE_MAX, p->at, p->at + p->dur,
                              at_start ? fmt_alloc("planned outside its window: %.*s (rule %s)", (int)x->message_len,
                                                   x->message, chg_bundle_rule_name(s->b, x->rule))
                                       : fmt_alloc("its window closes at %s, before it ends: %.*s (rule %s)", when,
                                                   (int)x->message_len, x->message,
                                                   chg_bundle_rule_name(s->b, x->rule)));
        if (rc != CHG_OK)
            return rc;
    }
    return CHG_OK;
}

/* The decision at the planned instant: kept as JSON, its needs, whether
 * the change fits there, and the freeze and window conflicts. */
static int judge_planned(sim_ctx *c, size_t i)
{
    chg_simulation *s = c->s;
    planned *p = &s->items[i];
    if (decide_at(c, p, p->has_at ? p->at : s->from, !p->has_at) != CHG_OK)
        return CHG_ENOMEM;
    p->at = c->d.at;
    chg_buf_reset(&c->buf);
    chg_decision_write(s->b, &c->d, &c->buf);
    if (c->buf.oom || !(p->decision = dup_n(c->buf.data, c->buf.len)))
        return CHG_ENOMEM;
    p->outcome = c->d.outcome;
    p->risk_index = c->d.risk;
    if (c->d.risk >= 0 && !(p->risk = chg_strdup(chg_bundle_risk_name(s->b, c->d.risk))))
        return CHG_ENOMEM;
    if (c->d.nmissing && !(p->needs = chg_calloc(c->d.nmissing, sizeof *p->needs)))
        return CHG_ENOMEM;
    for (uint32_t k = 0; k < c->d.nmissing; k++, p->nneeds++)
        if (!(p->needs[k] = chg_strdup(c->d.missing[k])))
            return CHG_ENOMEM;
    chg_buf_reset(&c->buf);
    for (uint32_t k = 0; k < c->d.nreasons; k++) {
        const chg_reason *x = &c->d.reasons[k];
        chg_buf_printf(&c->buf, "%s%s: %.*s", k ? "\n" : "",
                       x->rule < chg_bundle_nrules(s->b) ? chg_bundle_rule_name(s->b, x->rule) : "policy",
                       (int)x->message_len, x->message);
    }
    if (c->buf.oom || !(p->reasons = dup_n(c->buf.data ? c->buf.data : "", c->buf.len)))
        return CHG_ENOMEM;
    mark_shaped(c, p);
    if (p->outcome == CHG_OUT_DEFER || p->outcome == CHG_OUT_DENY)
        return time_conflicts(c, i, p->at, true);
    if (p->outcome != CHG_OUT_ALLOW && p->outcome != CHG_OUT_PENDING)
        return CHG_OK;
    int64_t until = chg_ctx_admissible_until(c->ctx, &c->d, p->dur);
    if (until >= p->at + p->dur) {
        p->fits = p->outcome == CHG_OUT_ALLOW;
        return CHG_OK;
    }
    /* admissible at its start, not to its end: what stops it there */
    if (decide_at(c, p, until, false) != CHG_OK)
        return CHG_ENOMEM;
    mark_shaped(c, p);
    return time_conflicts(c, i, until, false);
}

/* The earliest instant t in the range with [t, t + dur) inside it at
 * which the change is allowed — or, with --approval-lead, at most waits
 * for approvals, from from + lead on — and stays admissible by time for
 * its whole duration. Its approvals count from their own instants: a
 * change waiting for them is looked at again when the next one it
 * carries is given (chg_ctx_next_approval). */
static int search(sim_ctx *c, planned *p)
{
    chg_simulation *s = c->s;
    int64_t lead = s->o->approval_lead, t = s->from;
    bool short_slot = false; /* admissible somewhere, but not for long enough */
    char dur[40];
    chg_duration_format(p->dur, dur, sizeof dur);
    for (int step = 0;; step++) {
        if (t > s->to - p->dur) {
            p->why_none = fmt_alloc("no slot of %s in the range", dur);
            break;
        }
        if (step == SEARCH_STEPS) {
            p->why_none = fmt_alloc("no slot within %d steps of the search", SEARCH_STEPS);
            break;
        }
        if (decide_at(c, p, t, false) != CHG_OK)
            return CHG_ENOMEM;
        mark_shaped(c, p);
        const chg_decision *d = &c->d;
        char when[40];
        chg_time_format_utc(t, when);
        int64_t next = INT64_MAX;
        bool ok = false;
        switch (d->outcome) {
        case CHG_OUT_ALLOW: ok = true; break;
        case CHG_OUT_PENDING:
            if (lead && t >= s->from + lead) {
                ok = true;
                p->with_lead = true;
                break;
            }
            /* when an approval it carries is given, or the lead is over */
            next = chg_ctx_next_approval(c->ctx);
            if (lead && s->from + lead < next)
                next = s->from + lead;
            if (next == INT64_MAX) {
                p->why_none = fmt_alloc("it needs approvals it does not have (%s%s)", d->nmissing ? d->missing[0] : "",
                                        d->nmissing > 1 ? ", …" : "");
                return p->why_none ? CHG_OK : CHG_ENOMEM;
            }
            break;
        case CHG_OUT_DENY:
            if (!deny_is_timed(d)) {
                const char *rule = reason_rule(s, d, CHG_R_DENY, NULL);
                p->why_none = rule ? fmt_alloc("rule %s denies it at %s, which no time lifts", rule, when)
                                   : fmt_alloc("it is rejected at %s", when);
                return p->why_none ? CHG_OK : CHG_ENOMEM;
            }
            next = d->next_open;
            break;
        case CHG_OUT_DEFER: next = d->next_open; break;
        default:
            p->why_none = fmt_alloc("its decision at %s is an error", when);
            return p->why_none ? CHG_OK : CHG_ENOMEM;
        }
        if (ok) {
            int64_t until = chg_ctx_admissible_until(c->ctx, d, p->dur);
            if (until >= t + p->dur) {
                p->earliest = t;
                return CHG_OK;
            }
            p->with_lead = false;
            short_slot = true;
            next = until; /* not admissible there: its decision says when it is again */
        }
        /* a decision over calendars alone looks past the range (they
         * have no horizon): an opening after it is none in the range */
        if (next == INT64_MAX || next == INT64_MIN || next > s->to) {
            p->why_none = short_slot ? fmt_alloc("no slot of %s in the range: where it may go, its windows are "
                                                 "shorter or a freeze starts sooner", dur)
                                     : fmt_alloc("no instant in the range has its windows open and no freeze");
            break;
        }
        t = next > t ? next : t + 1;
    }
    return p->why_none ? CHG_OK : CHG_ENOMEM;
}

/* ---- conflicts between changes ----------------------------------------------------------- */

/* The services of the schedule and what each depends on: the union of
 * every item's depends_on for its service, as indexes into the sorted
 * names, so a dependency question is a walk over services, not items. */
typedef struct svc_graph {
    const char **names;     /* sorted, distinct */
    size_t n;
    size_t **deps;          /* deps[i][0..ndeps[i]) */
    size_t *ndeps;
    size_t *seen, *from;    /* the walk's scratch */
} svc_graph;

static int by_name(const void *x, const void *y) { return strcmp(*(const char *const *)x, *(const char *const *)y); }

static size_t svc_index(const svc_graph *g, const char *name)
{
    const char **hit = bsearch(&name, g->names, g->n, sizeof *g->names, by_name);
    return hit ? (size_t)(hit - g->names) : SIZE_MAX;
}

static void graph_free(svc_graph *g)
{
    for (size_t i = 0; g->deps && i < g->n; i++)
        chg_free(g->deps[i]);
    chg_free(g->deps);
    chg_free(g->ndeps);
    chg_free(g->names);
    chg_free(g->seen);
    chg_free(g->from);
}

static int graph_build(const chg_simulation *s, svc_graph *g)
{
    memset(g, 0, sizeof *g);
    size_t cap = 0;
    for (size_t i = 0; i < s->n; i++)
        cap += (s->items[i].service != NULL) + s->items[i].ndeps;
    g->names = chg_malloc((cap + 1) * sizeof *g->names);
    if (!g->names)
        return CHG_ENOMEM;
    for (size_t i = 0; i < s->n; i++) {
        if (s->items[i].service)
            g->names[g->n++] = s->items[i].service;
        for (size_t k = 0; k < s->items[i].ndeps; k++)
            g->names[g->n++] = s->items[i].deps[k];
    }
    qsort(g->names, g->n, sizeof *g->names, by_name);
    size_t n = 0;
    for (size_t i = 0; i < g->n; i++)
        if (!n || strcmp(g->names[n - 1], g->names[i]))
            g->names[n++] = g->names[i];
    g->n = n;
    g->deps = chg_calloc(n + 1, sizeof *g->deps);
    g->ndeps = chg_calloc(n + 1, sizeof *g->ndeps);
    g->seen = chg_calloc(n + 1, sizeof *g->seen);
    g->from = chg_calloc(n + 1, sizeof *g->from);
    if (!g->deps || !g->ndeps || !g->seen || !g->from)
        return CHG_ENOMEM;
    for (size_t i = 0; i < s->n; i++) {
        const planned *p = &s->items[i];
        if (!p->service || !p->ndeps)
            continue;
        size_t a = svc_index(g, p->service);
        size_t *d = chg_realloc(g->deps[a], (g->ndeps[a] + p->ndeps) * sizeof *d);
        if (!d)
            return CHG_ENOMEM;
        g->deps[a] = d;
        for (size_t k = 0; k < p->ndeps; k++) {
            size_t b = svc_index(g, p->deps[k]), q = 0;
            while (q < g->ndeps[a] && d[q] != b)
                q++;
            if (q == g->ndeps[a] && b != a)
                d[g->ndeps[a]++] = b;
        }
    }
    return CHG_OK;
}

/* Does service a depend on b (transitively)? Breadth first, so the path
 * named is a shortest one: "a depends on b" or "a depends on b through x,
 * y" in path. A cycle only makes each service of it depend on the others. */
static bool depends(svc_graph *g, size_t a, size_t b, chg_buf *path)
{
    /* seen[] holds the walk's queue; from[x] is the service x was reached
     * from + 1 (0: not reached) */
    memset(g->from, 0, g->n * sizeof *g->from);
    size_t head = 0, tail = 0;
    g->seen[tail++] = a;
    g->from[a] = a + 1;
    while (head < tail) {
        size_t x = g->seen[head++];
        for (size_t k = 0; k < g->ndeps[x]; k++) {
            size_t y = g->deps[x][k];
            if (g->from[y])
                continue;
            g->from[y] = x + 1;
            if (y == b) {
                size_t hops[64], nh = 0;
                for (size_t v = x; v != a && nh < 64; v = g->from[v] - 1)
                    hops[nh++] = v;
                chg_buf_printf(path, "%s depends on %s", g->names[a], g->names[b]);
                for (size_t q = nh; q-- > 0;)
                    chg_buf_printf(path, "%s%s", q == nh - 1 ? " through " : ", ", g->names[hops[q]]);
                return true;
            }
            g->seen[tail++] = y;
        }
    }
    return false;
}

typedef struct start_key {
    int64_t at;
    size_t i;
} start_key;

static int by_start(const void *x, const void *y)
{
    const start_key *a = x, *b = y;
    if (a->at != b->at)
        return a->at < b->at ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

/* Changes whose planned intervals overlap on one service, or on two of
 * which one depends on the other: a sweep over the intervals by start,
 * each compared with those still running. */
static int overlap_conflicts(chg_simulation *s, size_t *order)
{
    svc_graph g = {0};
    size_t *active = chg_malloc((s->n + 1) * sizeof *active), nactive = 0;
    if (!active || graph_build(s, &g) != CHG_OK) {
        chg_free(active);
        graph_free(&g);
        return CHG_ENOMEM;
    }
    chg_buf path;
    chg_buf_init(&path);
    int rc = CHG_OK;
    for (size_t k = 0; k < s->n && rc == CHG_OK; k++) {
        planned *p = &s->items[order[k]];
        size_t keep = 0;
        for (size_t q = 0; q < nactive; q++)
            if (s->items[active[q]].at + s->items[active[q]].dur > p->at)
                active[keep++] = active[q];
        nactive = keep;
        for (size_t q = 0; q < nactive && rc == CHG_OK; q++) {
            planned *o = &s->items[active[q]];
            if (!p->service || !o->service)
                continue;
            int64_t end = o->at + o->dur < p->at + p->dur ? o->at + o->dur : p->at + p->dur;
            chg_buf_reset(&path);
            if (!strcmp(p->service, o->service))
                rc = add_conflict(s, K_SERVICE, active[q], order[k], p->at, end,
                                  fmt_alloc("both change service %s", p->service));
            else if (depends(&g, svc_index(&g, p->service), svc_index(&g, o->service), &path) ||
                     depends(&g, svc_index(&g, o->service), svc_index(&g, p->service), &path))
                rc = path.oom ? CHG_ENOMEM
                              : add_conflict(s, K_DEPENDENCY, active[q], order[k], p->at, end, chg_buf_take(&path));
        }
        active[nactive++] = order[k];
    }
    chg_buf_free(&path);
    chg_free(active);
    graph_free(&g);
    return rc;
}

/* Concurrency limits (`concurrency NAME = N of … [per change.F]`):
 * chg_concurrency_check over the planned intervals [at, at + dur) with
 * their risk (-1 when the decision failed: counted under every limit,
 * fail closed). Each violation becomes one conflict per change it lists
 * in flight, paired with the change that starts over the limit, over
 * the time both run; the rule is the violation's sentence, which names
 * every change in flight and the limit. */
static int limit_conflicts(chg_simulation *s)
{
    if (!s->n || !chg_bundle_nconcurrency(s->b))
        return CHG_OK;
    chg_inflight *in = chg_calloc(s->n, sizeof *in);
    if (!in)
        return CHG_ENOMEM;
    for (size_t i = 0; i < s->n; i++) {
        const planned *p = &s->items[i];
        in[i] = (chg_inflight){.id = p->id, .start = p->at, .end = p->at + p->dur, .risk = p->risk_index,
                               .change = p->json, .len = strlen(p->json)};
    }
    chg_concurrency_violation *v = NULL;
    size_t nv = 0;
    char err[300];
    int rc = chg_concurrency_check(s->b, in, s->n, &v, &nv, err, sizeof err);
    /* the intervals are the planner's own (a duration is never negative)
     * and the risks the policy's, so only memory can fail here */
    if (rc != CHG_OK)
        rc = CHG_ENOMEM;
    chg_buf text;
    chg_buf_init(&text);
    for (size_t k = 0; k < nv && rc == CHG_OK; k++) {
        chg_buf_reset(&text);
        chg_concurrency_violation_text(s->b, in, &v[k], &text);
        const planned *p = &s->items[v[k].change];
        for (size_t q = 0; q < v[k].nlisted && rc == CHG_OK; q++) {
            const planned *o = &s->items[v[k].inflight[q]];
            int64_t end = o->at + o->dur < p->at + p->dur ? o->at + o->dur : p->at + p->dur;
            rc = text.oom ? CHG_ENOMEM
                          : add_conflict(s, K_CONCURRENCY, v[k].inflight[q], v[k].change, p->at, end,
                                         dup_n(text.data, text.len));
        }
    }
    chg_buf_free(&text);
    chg_concurrency_violations_free(v, nv);
    chg_free(in);
    return rc;
}

static int by_conflict(const void *x, const void *y)
{
    const conflict *a = x, *b = y;
    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    if (a->a != b->a)
        return a->a < b->a ? -1 : 1;
    if (a->b != b->b)
        return a->b < b->b ? -1 : 1;
    if (a->kind != b->kind)
        return (int)a->kind - (int)b->kind;
    /* two limits over one pair: their sentences differ in the limit */
    return strcmp(a->rule, b->rule);
}

/* ---- the run ------------------------------------------------------------------------------ */

int chg_simulate(const chg_bundle *b, const char *text, size_t len, const chg_sim_options *o,
                 chg_simulation **out, chg_buf *errs)
{
    *out = NULL;
    chg_simulation *s = chg_calloc(1, sizeof *s);
    if (!s)
        return CHG_ENOMEM;
    s->b = b;
    s->o = o;
    reader r = {.s = s, .errs = errs};
    chg_vec_init(&r.items);
    int rc = read_input(&r, text, len);
    s->n = r.items.len;
    s->items = s->n ? chg_calloc(s->n, sizeof *s->items) : NULL;
    if (s->n && !s->items)
        rc = CHG_ENOMEM;
    for (size_t i = 0; i < r.items.len; i++) {
        planned *p = r.items.items[i];
        if (s->items)
            s->items[i] = *p;
        else
            planned_free(p);
        chg_free(p);
    }
    if (!s->items)
        s->n = 0;
    chg_vec_free(&r.items);
    if (rc == CHG_OK && r.nerrors) {
        if (r.nerrors > MAX_ERRORS)
            chg_buf_printf(errs, "%s: and %zu more errors\n", o->name, r.nerrors - MAX_ERRORS);
        rc = CHG_EINVAL;
    }
    for (size_t i = 0; rc == CHG_OK && i < s->n; i++)
        for (size_t k = 0; k < i; k++)
            if (!strcmp(s->items[i].id, s->items[k].id)) {
                chg_buf_printf(errs, "%s: %s: change %s is planned twice (also %s); each planned change needs its "
                                     "own id\n", o->name, s->items[i].where, s->items[i].id, s->items[k].where);
                rc = CHG_EINVAL;
                break;
            }
    sim_ctx c = {.s = s, .ctx = rc == CHG_OK ? chg_ctx_new(b) : NULL};
    chg_buf_init(&c.buf);
    if (rc == CHG_OK && !c.ctx)
        rc = CHG_ENOMEM;
    /* the range: given, or from the first planned instant to 30 days past
     * the last planned end (the planned instants of bare changes are
     * their decisions' `at`, which needs no range) */
    s->from = o->has_from ? o->from : CHG_TIME_MAX;
    s->to = o->has_to ? o->to : CHG_TIME_MIN;
    for (size_t i = 0; rc == CHG_OK && i < s->n && (!o->has_from || !o->has_to); i++) {
        planned *p = &s->items[i];
        if (!p->has_at) {
            if (decide_at(&c, p, 0, true) != CHG_OK) {
                rc = CHG_ENOMEM;
                break;
            }
            p->at = c.d.at;
        }
        if (!o->has_from && p->at < s->from)
            s->from = p->at;
        if (!o->has_to && p->at + p->dur + 30 * 86400 > s->to)
            s->to = p->at + p->dur + 30 * 86400;
    }
    if (rc == CHG_OK && !s->n) {
        if (!o->has_from || !o->has_to) {
            chg_buf_printf(errs, "%s: no planned changes, and no --from and --to to show a range of\n", o->name);
            rc = CHG_EINVAL;
        }
    }
    if (s->to > CHG_TIME_MAX)
        s->to = CHG_TIME_MAX;
    if (rc == CHG_OK && s->to <= s->from) {
        chg_buf_printf(errs, "%s: the range ends before it starts\n", o->name);
        rc = CHG_EINVAL;
    }
    size_t *order = NULL;
    if (rc == CHG_OK && !(order = chg_malloc((s->n + 1) * sizeof *order)))
        rc = CHG_ENOMEM;
    for (size_t i = 0; rc == CHG_OK && i < s->n; i++) {
        if (judge_planned(&c, i) != CHG_OK || search(&c, &s->items[i]) != CHG_OK)
            rc = CHG_ENOMEM;
        if (o->progress)
            chg_progress_tick(o->progress, i + 1);
    }
    start_key *keys = rc == CHG_OK ? chg_malloc((s->n + 1) * sizeof *keys) : NULL;
    if (rc == CHG_OK && !keys)
        rc = CHG_ENOMEM;
    if (rc == CHG_OK) {
        for (size_t i = 0; i < s->n; i++)
            keys[i] = (start_key){s->items[i].at, i};
        qsort(keys, s->n, sizeof *keys, by_start);
        for (size_t i = 0; i < s->n; i++)
            order[i] = keys[i].i;
        rc = overlap_conflicts(s, order);
    }
    chg_free(keys);
    if (rc == CHG_OK)
        rc = limit_conflicts(s);
    if (rc == CHG_OK && s->nconflicts > 1)
        qsort(s->conflicts, s->nconflicts, sizeof *s->conflicts, by_conflict);
    chg_free(order);
    chg_buf_free(&c.buf);
    chg_ctx_free(c.ctx);
    if (rc != CHG_OK) {
        chg_simulation_free(s);
        return rc;
    }
    *out = s;
    return CHG_OK;
}

void chg_simulation_free(chg_simulation *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        planned_free(&s->items[i]);
    chg_free(s->items);
    for (size_t i = 0; i < s->nconflicts; i++)
        chg_free(s->conflicts[i].rule);
    chg_free(s->conflicts);
    chg_free(s);
}

void chg_simulation_summary(const chg_simulation *s, chg_sim_summary *out)
{
    memset(out, 0, sizeof *out);
    out->changes = s->n;
    out->conflicts = s->nconflicts;
    for (size_t i = 0; i < s->n; i++) {
        out->fit += s->items[i].fits;
        out->no_slot += s->items[i].earliest == INT64_MAX;
    }
}

/* ---- writing ------------------------------------------------------------------------------- */

static bool involves(const conflict *k, size_t i) { return k->a == i || k->b == i; }

static void conflict_json(const chg_simulation *s, const conflict *k, chg_buf *out)
{
    chg_buf_printf(out, "{\"kind\":\"%s\",\"changes\":[", kind_names[k->kind]);
    str_json(out, s->items[k->a].id);
    if (k->b != SIZE_MAX) {
        chg_buf_putc(out, ',');
        str_json(out, s->items[k->b].id);
    }
    chg_buf_puts(out, "],\"rule\":");
    str_json(out, k->rule);
    chg_buf_puts(out, ",\"start\":");
    instant_json(out, k->start);
    chg_buf_puts(out, ",\"end\":");
    instant_json(out, k->end);
    chg_buf_putc(out, '}');
}

static void shaped_json(const chg_simulation *s, const planned *p, int bit, chg_buf *out)
{
    chg_buf_putc(out, '[');
    bool first = true;
    for (uint32_t t = 0; t < chg_bundle_ntimesets(s->b); t++)
        if (p->shaped[t] & bit) {
            if (!first)
                chg_buf_putc(out, ',');
            str_json(out, ts_name(s->b, t));
            first = false;
        }
    chg_buf_putc(out, ']');
}

static void change_json(const chg_simulation *s, size_t i, chg_buf *out)
{
    const planned *p = &s->items[i];
    char dur[40];
    chg_duration_format(p->dur, dur, sizeof dur);
    chg_buf_puts(out, "{\"id\":");
    str_json(out, p->id);
    chg_buf_puts(out, ",\"service\":");
    str_json(out, p->service);
    chg_buf_puts(out, ",\"at\":");
    instant_json(out, p->at);
    chg_buf_puts(out, ",\"end\":");
    instant_json(out, p->at + p->dur);
    chg_buf_printf(out, ",\"duration\":\"%s\",\"outcome\":\"%s\",\"risk\":", dur, chg_outcome_name(p->outcome));
    str_json(out, p->risk);
    chg_buf_printf(out, ",\"fits\":%s,\"earliest\":", p->fits ? "true" : "false");
    instant_json(out, p->earliest);
    chg_buf_puts(out, ",\"earliest_needs_lead\":");
    chg_buf_puts(out, p->with_lead ? "true" : "false");
    chg_buf_puts(out, ",\"no_slot\":");
    str_json(out, p->earliest == INT64_MAX ? p->why_none : NULL);
    chg_buf_puts(out, ",\"windows\":");
    shaped_json(s, p, 1, out);
    chg_buf_puts(out, ",\"freezes\":");
    shaped_json(s, p, 2, out);
    chg_buf_puts(out, ",\"needs\":[");
    for (size_t k = 0; k < p->nneeds; k++) {
        if (k)
            chg_buf_putc(out, ',');
        str_json(out, p->needs[k]);
    }
    chg_buf_puts(out, "],\"depends_on\":[");
    for (size_t k = 0; k < p->ndeps; k++) {
        if (k)
            chg_buf_putc(out, ',');
        str_json(out, p->deps[k]);
    }
    chg_buf_puts(out, "],\"conflicts\":[");
    bool first = true;
    for (size_t k = 0; k < s->nconflicts; k++)
        if (involves(&s->conflicts[k], i)) {
            if (!first)
                chg_buf_putc(out, ',');
            conflict_json(s, &s->conflicts[k], out);
            first = false;
        }
    chg_buf_puts(out, "],\"decision\":");
    chg_buf_puts(out, p->decision);
    chg_buf_putc(out, '}');
}

typedef struct freeze_list {
    chg_buf *out;
    const char *name;
    int mode;               /* 0 JSON, 1 iCalendar */
    int64_t stamp;
    size_t count;
} freeze_list;

static int freeze_interval(void *ud, int64_t a, int64_t e)
{
    freeze_list *L = ud;
    if (L->mode == 0) {
        chg_buf_puts(L->out, L->count ? "," : "");
        chg_buf_puts(L->out, "{\"name\":");
        str_json(L->out, L->name);
        chg_buf_puts(L->out, ",\"start\":");
        instant_json(L->out, a);
        chg_buf_puts(L->out, ",\"end\":");
        instant_json(L->out, e);
        chg_buf_putc(L->out, '}');
    } else {
        chg_drv_ics_interval(L->out, "freeze", L->name, a, e, L->stamp);
    }
    L->count++;
    return 0;
}

/* Every declared window (kind "window") or freeze within the range, with
 * the facts' flags: mode 0 JSON objects, 1 VEVENTs. */
static void list_sets(const chg_simulation *s, const char *kind, int mode, chg_buf *out)
{
    chg_ts_env env = {facts_flag, (void *)s->o->facts};
    freeze_list L = {out, NULL, mode, s->from, 0};
    for (uint32_t i = 0; i < chg_bundle_ntimesets(s->b); i++) {
        chg_timeset_info info;
        const chg_timeset *ts = chg_bundle_timeset(s->b, i, &info);
        if (info.inline_set || strcmp(info.kind, kind))
            continue;
        L.name = info.name;
        chg_timeset_intervals(ts, &env, s->from, s->to, freeze_interval, &L);
    }
}

static void write_json(const chg_simulation *s, chg_buf *out)
{
    chg_sim_summary sum;
    chg_simulation_summary(s, &sum);
    chg_buf_puts(out, "{\"policy\":");
    str_json(out, chg_bundle_policy_name(s->b));
    chg_buf_puts(out, ",\"version\":");
    str_json(out, chg_bundle_policy_version(s->b));
    chg_buf_puts(out, ",\"from\":");
    instant_json(out, s->from);
    chg_buf_puts(out, ",\"to\":");
    instant_json(out, s->to);
    chg_buf_printf(out, ",\"count\":{\"changes\":%zu,\"fit\":%zu,\"no_slot\":%zu,\"conflicts\":%zu}", sum.changes,
                   sum.fit, sum.no_slot, sum.conflicts);
    chg_buf_puts(out, ",\"changes\":[");
    for (size_t i = 0; i < s->n; i++) {
        chg_buf_puts(out, i ? ",\n" : "\n");
        change_json(s, i, out);
    }
    chg_buf_puts(out, "],\"conflicts\":[");
    for (size_t k = 0; k < s->nconflicts; k++) {
        chg_buf_puts(out, k ? ",\n" : "\n");
        conflict_json(s, &s->conflicts[k], out);
    }
    chg_buf_puts(out, "],\"windows\":[");
    list_sets(s, "window", 0, out);
    chg_buf_puts(out, "],\"freezes\":[");
    list_sets(s, "freeze", 0, out);
    chg_buf_puts(out, "]}\n");
}

/* "Thu 2026-12-03 22:00" in UTC: the weekday catches a slot a day off */
static void short_time(int64_t t, char *out)
{
    char x[40];
    chg_time_format_utc(t, x);
    const char *wd = chg_weekday_names[chg_weekday_from_days(chg_floor_div(t, 86400))].abbr;
    snprintf(out, 24, "%c%c%c %.10s %.5s", wd[0] - 32, wd[1], wd[2], x, x + 11);
}

typedef struct event {
    int64_t t;
    int what;               /* 0 a freeze starts, 1 a change */
    size_t i;
    char *text;
} event;

/* chg_timeset_intervals callback of the timeline: args are the events,
 * the freeze's name and the end of the range (where intervals are cut). */
static int freeze_event(void *ud, int64_t a, int64_t e)
{
    void **args = ud;
    chg_vec *v = args[0];
    const char *name = args[1];
    int64_t range_end = *(const int64_t *)args[2];
    event *x = chg_calloc(1, sizeof *x);
    if (!x)
        return 1;
    char se[24];
    short_time(e, se);
    x->t = a;
    x->text = e >= range_end ? fmt_alloc("freeze %s begins, until past the range", name)
                             : fmt_alloc("freeze %s begins, until %s", name, se);
    if (!x->text || chg_vec_push(v, x) != CHG_OK) {
        chg_free(x->text);
        chg_free(x);
        return 1;
    }
    return 0;
}

static int by_event(const void *x, const void *y)
{
    const event *a = *(event *const *)x, *b = *(event *const *)y;
    if (a->t != b->t)
        return a->t < b->t ? -1 : 1;
    if (a->what != b->what)
        return a->what - b->what;
    return a->i < b->i ? -1 : a->i > b->i;
}

/* The timeline for a terminal: the freezes that start and the planned
 * changes in time order (UTC), each change with its outcome, its
 * earliest slot when it does not fit as planned, what it needs and its
 * conflicts; then the conflicts and the counts. */
static int write_text(const chg_simulation *s, chg_buf *out)
{
    chg_vec ev;
    chg_vec_init(&ev);
    int rc = CHG_OK;
    chg_ts_env env = {facts_flag, (void *)s->o->facts};
    for (uint32_t i = 0; i < chg_bundle_ntimesets(s->b) && rc == CHG_OK; i++) {
        chg_timeset_info info;
        const chg_timeset *ts = chg_bundle_timeset(s->b, i, &info);
        if (info.inline_set || strcmp(info.kind, "freeze"))
            continue;
        void *args[3] = {&ev, (void *)info.name, (void *)&s->to};
        if (chg_timeset_intervals(ts, &env, s->from, s->to, freeze_event, args))
            rc = CHG_ENOMEM;
    }
    for (size_t i = 0; i < s->n && rc == CHG_OK; i++) {
        event *x = chg_malloc(sizeof *x);
        if (!x || chg_vec_push(&ev, x) != CHG_OK) {
            chg_free(x);
            rc = CHG_ENOMEM;
            break;
        }
        *x = (event){s->items[i].at, 1, i, NULL};
    }
    if (rc == CHG_OK && ev.len > 1)
        qsort(ev.items, ev.len, sizeof ev.items[0], by_event);
    char a[40], z[40];
    chg_time_format_utc(s->from, a);
    chg_time_format_utc(s->to, z);
    chg_sim_summary sum;
    chg_simulation_summary(s, &sum);
    chg_buf_printf(out, "policy %s from %s to %s (UTC)\n\n", chg_bundle_policy_name(s->b), a, z);
    for (size_t k = 0; k < ev.len && rc == CHG_OK; k++) {
        const event *x = ev.items[k];
        char t[24];
        short_time(x->t, t);
        if (x->what == 0) {
            chg_buf_printf(out, "%s  ** ", t);
            chg_buf_puts_visible(out, x->text);
            chg_buf_puts(out, "\n");
            continue;
        }
        const planned *p = &s->items[x->i];
        char e[24], dur[40];
        short_time(p->at + p->dur, e);
        chg_duration_format(p->dur, dur, sizeof dur);
        chg_buf_printf(out, "%s  ", t);
        chg_buf_puts_visible(out, p->id);
        chg_buf_printf(out, " %s %s (%s, until %s)", chg_outcome_name(p->outcome), p->risk ? p->risk : "-", dur, e + 15);
        if (p->service) {
            chg_buf_puts(out, " service ");
            chg_buf_puts_visible(out, p->service);
        }
        chg_buf_puts(out, p->fits ? "  fits\n" : "  does not fit\n");
        if (!p->fits) {
            char w[24];
            if (p->earliest == INT64_MAX) {
                chg_buf_puts(out, "                      earliest: none (");
                chg_buf_puts_visible(out, p->why_none ? p->why_none : "");
                chg_buf_puts(out, ")\n");
            } else {
                short_time(p->earliest, w);
                chg_buf_printf(out, "                      earliest: %s%s\n", w,
                               p->with_lead ? " (given --approval-lead)" : "");
            }
        }
        for (size_t q = 0; q < p->nneeds; q++) {
            chg_buf_puts(out, "                      needs: ");
            chg_buf_puts_visible(out, p->needs[q]);
            chg_buf_putc(out, '\n');
        }
        for (size_t q = 0; q < s->nconflicts; q++)
            if (involves(&s->conflicts[q], x->i)) {
                const conflict *c = &s->conflicts[q];
                chg_buf_printf(out, "                      conflict (%s): ", kind_names[c->kind]);
                if (c->b != SIZE_MAX) {
                    chg_buf_puts(out, "with ");
                    chg_buf_puts_visible(out, s->items[c->a == x->i ? c->b : c->a].id);
                    chg_buf_puts(out, ", ");
                }
                chg_buf_puts_visible(out, c->rule);
                chg_buf_putc(out, '\n');
            }
    }
    chg_buf_printf(out, "\n%zu planned change%s: %zu fit as planned, %zu without a slot in the range; %zu "
                        "conflict%s\n",
                   sum.changes, sum.changes == 1 ? "" : "s", sum.fit, sum.no_slot, sum.conflicts,
                   sum.conflicts == 1 ? "" : "s");
    for (size_t k = 0; k < ev.len; k++) {
        event *x = ev.items[k];
        chg_free(x->text);
        chg_free(x);
    }
    chg_vec_free(&ev);
    return rc;
}

/* The planned changes as a calendar: one event per change over its
 * planned interval, its outcome in the summary and its reasons,
 * conflicts and earliest slot in the description. */
static void write_ics_changes(const chg_simulation *s, chg_buf *raw)
{
    chg_buf_puts(raw, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//chg//chgc simulate//EN\r\nCALSCALE:GREGORIAN\r\n"
                      "X-WR-CALNAME:planned changes (");
    chg_drv_ics_text(raw, chg_bundle_policy_name(s->b), strlen(chg_bundle_policy_name(s->b)));
    chg_buf_puts(raw, ")\r\n");
    chg_buf desc;
    chg_buf_init(&desc);
    for (size_t i = 0; i < s->n; i++) {
        const planned *p = &s->items[i];
        char ia[20], ie[20], is[20];
        chg_drv_ics_instant(p->at, ia);
        chg_drv_ics_instant(p->at + p->dur, ie);
        chg_drv_ics_instant(s->from, is);
        chg_buf_puts(raw, "BEGIN:VEVENT\r\nUID:change-");
        chg_drv_ics_text(raw, p->id, strlen(p->id));
        chg_buf_printf(raw, "@chg\r\nDTSTAMP:%s\r\nDTSTART:%s\r\nDTEND:%s\r\nSUMMARY:", is, ia, ie);
        chg_drv_ics_text(raw, p->id, strlen(p->id));
        chg_buf_printf(raw, " (%s%s)", chg_outcome_name(p->outcome), p->fits ? "" : ", does not fit");
        chg_buf_printf(raw, "\r\nCATEGORIES:%s\r\nDESCRIPTION:", chg_outcome_name(p->outcome));
        chg_buf_reset(&desc);
        chg_buf_printf(&desc, "risk %s", p->risk ? p->risk : "-");
        if (p->reasons && *p->reasons)
            chg_buf_printf(&desc, "\n%s", p->reasons);
        if (!p->fits) {
            char w[40];
            if (p->earliest == INT64_MAX)
                chg_buf_printf(&desc, "\nearliest: none (%s)", p->why_none ? p->why_none : "");
            else {
                chg_time_format_utc(p->earliest, w);
                chg_buf_printf(&desc, "\nearliest: %s", w);
            }
        }
        for (size_t q = 0; q < p->nneeds; q++)
            chg_buf_printf(&desc, "\nneeds: %s", p->needs[q]);
        for (size_t q = 0; q < s->nconflicts; q++)
            if (involves(&s->conflicts[q], i)) {
                const conflict *c = &s->conflicts[q];
                chg_buf_printf(&desc, "\nconflict (%s): %s%s%s", kind_names[c->kind],
                               c->b != SIZE_MAX ? "with " : "",
                               c->b != SIZE_MAX ? s->items[c->a == i ? c->b : c->a].id : "",
                               c->b != SIZE_MAX ? ", " : "");
                chg_buf_puts(&desc, c->rule);
            }
        chg_drv_ics_text(raw, desc.data ? desc.data : "", desc.len);
        chg_buf_puts(raw, "\r\nEND:VEVENT\r\n");
    }
    if (desc.oom)
        raw->oom = true;
    chg_buf_free(&desc);
    chg_buf_puts(raw, "END:VCALENDAR\r\n");
}

static void write_ics_freezes(const chg_simulation *s, chg_buf *raw)
{
    chg_buf_puts(raw, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//chg//chgc simulate//EN\r\nCALSCALE:GREGORIAN\r\n"
                      "X-WR-CALNAME:freezes (");
    chg_drv_ics_text(raw, chg_bundle_policy_name(s->b), strlen(chg_bundle_policy_name(s->b)));
    chg_buf_puts(raw, ")\r\n");
    list_sets(s, "freeze", 1, raw);
    chg_buf_puts(raw, "END:VCALENDAR\r\n");
}

/* The page: simulate_page.html with the JSON report in place of its
 * data marker. '<' is written \u003c inside the JSON (it can only occur
 * in strings), so no text of a change can close the script element. */
extern const char chg_drv_simulate_page[];

static void write_html(const chg_simulation *s, chg_buf *out)
{
    chg_buf json;
    chg_buf_init(&json);
    write_json(s, &json);
    const char *page = chg_drv_simulate_page, *mark = strstr(page, "@DATA@");
    CHG_ASSERT(mark);
    chg_buf_append(out, page, (size_t)(mark - page));
    for (size_t i = 0; i < json.len; i++) {
        char ch = json.data[i];
        if (ch == '<')
            chg_buf_puts(out, "\\u003c");
        else if (ch == '\n')
            continue;
        else
            chg_buf_putc(out, ch);
    }
    if (json.oom)
        out->oom = true;
    chg_buf_free(&json);
    chg_buf_puts(out, mark + 6);
}

int chg_simulation_write(const chg_simulation *s, chg_sim_format f, chg_buf *out)
{
    chg_buf raw;
    switch (f) {
    case CHG_SIM_TEXT:
        if (write_text(s, out) != CHG_OK)
            return CHG_ENOMEM;
        break;
    case CHG_SIM_JSON: write_json(s, out); break;
    case CHG_SIM_HTML: write_html(s, out); break;
    case CHG_SIM_ICS_CHANGES:
    case CHG_SIM_ICS_FREEZES:
        chg_buf_init(&raw);
        if (f == CHG_SIM_ICS_CHANGES)
            write_ics_changes(s, &raw);
        else
            write_ics_freezes(s, &raw);
        chg_drv_ics_fold(raw.data ? raw.data : "", raw.len, out);
        if (raw.oom)
            out->oom = true;
        chg_buf_free(&raw);
        break;
    }
    return out->oom ? CHG_ENOMEM : CHG_OK;
}
