/*
 * decision.c — the one decision writer: a decision as JSON in the shape of
 * language.md §3, keys always in the same order, so the same decision is
 * the same bytes in chgc eval, chgc test, chgd and replay.
 *
 * Written by hand into a chg_buf rather than through jansson: the key
 * order is part of the contract, and the writer allocates nothing but
 * the buffer's growth.
 */
#include "vm_int.h"

#include <string.h>

#include "chg_civil.h"
#include "chg_time.h"

/* The writer runs once per decision, for every line of a stream, so it is
 * written for speed as well as order: bytes go straight into the buffer
 * (put: one capacity test, then a copy), literals have their length from
 * the compiler and bundle strings from the bundle (no strlen), instants
 * and numbers are formatted by hand (chg_time_format_utc, chg_int_format:
 * no printf, no strftime), and strings are escaped by
 * chg_buf_json_string's word-at-a-time runs. The bytes are those of the
 * writer before it (tests/unit/test_decision.c compares the two). */

static const char *const levels[] = {"mandatory", "overridable", "advisory"};

/* n bytes at s appended, as chg_buf_append (dropped once out of memory). */
static inline void put(chg_buf *out, const char *s, size_t n)
{
    if (out->oom || out->len + n + 1 > out->cap) {
        chg_buf_append(out, s, n); /* grows, or marks oom */
        return;
    }
    memcpy(out->data + out->len, s, n);
    out->len += n;
    out->data[out->len] = 0;
}

#define LIT(out, s) put(out, s, sizeof s - 1)

static void str(chg_buf *out, const char *s) { chg_buf_json_string(out, s, strlen(s)); }

/* The bundle's string i as JSON. */
static void bstr(chg_buf *out, const chg_bundle *b, uint32_t i) { chg_buf_json_string(out, b->str[i], b->strlen[i]); }

/* The searches use INT64_MIN and INT64_MAX for "none" (no next_open, no
 * closing within the horizon): JSON says null. So does an instant outside
 * the years 0000-9999 (the `at` of a decision whose caller's now was one:
 * its outcome is error), which has no RFC 3339 form to write. An instant
 * in range is 20 characters: formatted in place between its quotes. */
static void instant(chg_buf *out, int64_t t)
{
    if (!chg_time_in_range(t)) {
        LIT(out, "null");
        return;
    }
    if (!chg_buf_reserve(out, 32))
        return;
    char *p = out->data + out->len;
    p[0] = '"';
    chg_time_format_utc(t, p + 1);
    p[21] = '"';
    p[22] = 0;
    out->len += 22;
}

/* s as JSON string content, without the quotes: the string written, then
 * its quotes taken off in place (the writer allocates nothing else). */
static void inner(chg_buf *out, const char *s)
{
    size_t at = out->len;
    chg_buf_json_string(out, s, strlen(s));
    if (out->oom || out->len < at + 2)
        return;
    memmove(out->data + at, out->data + at + 1, out->len - at - 2);
    out->len -= 2;
    out->data[out->len] = 0;
}

static void strings(chg_buf *out, const char *const *s, uint32_t n)
{
    LIT(out, "[");
    for (uint32_t i = 0; i < n; i++) {
        if (i)
            LIT(out, ",");
        str(out, s[i] ? s[i] : "");
    }
    LIT(out, "]");
}

/* "file:line:col" as JSON, as chg_bundle_source writes it, without a
 * printf per reason (a decision writes one for every rule that applied). */
static void source(chg_buf *out, const chg_bundle *b, uint32_t span)
{
    const chg_srcspan *s = &b->spans[span];
    size_t flen = b->strlen[s->file];
    char tmp[512];
    if (flen + 2 * CHG_INT_TEXT + 2 > sizeof tmp) { /* a path that long: chg_bundle_source cuts it, and says so */
        str(out, chg_bundle_source(b, span, tmp, sizeof tmp));
        return;
    }
    memcpy(tmp, b->str[s->file], flen);
    char *p = tmp + flen;
    *p++ = ':';
    p += chg_int_format(s->line, p);
    *p++ = ':';
    p += chg_int_format(s->col, p);
    chg_buf_json_string(out, tmp, (size_t)(p - tmp));
}

/* A reason or warning. An evaluation error has the level "error" and the
 * source of the failing instruction; a rejection by an approver is no
 * rule's and has no source; a reason an approved emergency waived (an
 * overridable deny, a closed window) stays listed with "overridden", so
 * the decision shows what was waived. */
static void reason(const chg_bundle *b, const chg_reason *r, bool comparable, chg_buf *out)
{
    LIT(out, "{\"rule\":");
    if (r->kind == CHG_R_LIMIT) { /* no rule's: the limit's, named beside */
        LIT(out, "null,\"limit\":");
        if (r->rule < b->nconcur)
            bstr(out, b, b->concur[r->rule].name);
        else
            LIT(out, "null");
    } else if (r->rule < b->nrules)
        bstr(out, b, b->rules[r->rule].name);
    else
        LIT(out, "null");
    LIT(out, ",\"level\":");
    str(out, r->kind == CHG_R_ERROR ? "error" : levels[r->level < 3 ? r->level : 0]);
    LIT(out, ",\"message\":");
    chg_buf_json_string(out, r->message ? r->message : "", r->message_len);
    if (!comparable) {
        LIT(out, ",\"source\":");
        if (r->kind == CHG_R_REJECTED || r->span >= b->nspans)
            LIT(out, "null");
        else
            source(out, b, r->span);
    }
    if (r->overridden)
        LIT(out, ",\"overridden\":true");
    LIT(out, "}");
}

/* comparable: without what two versions of one policy differ in without
 * deciding differently (chg_decision_write_comparable). */
static void write_decision(const chg_bundle *b, const chg_decision *d, bool comparable, chg_buf *out)
{
    LIT(out, "{\"change\":");
    if (d->change_id)
        chg_buf_json_string(out, d->change_id, d->change_id_len);
    else
        LIT(out, "null");
    if (!comparable) {
        LIT(out, ",\"policy\":");
        bstr(out, b, b->name);
        LIT(out, ",\"version\":");
        bstr(out, b, b->version);
    }
    LIT(out, ",\"at\":");
    instant(out, d->at);
    LIT(out, ",\"risk\":");
    if (d->risk >= 0 && (uint32_t)d->risk < b->nrisks)
        bstr(out, b, b->risks[d->risk]);
    else
        LIT(out, "null");
    LIT(out, ",\"outcome\":");
    str(out, chg_outcome_name(d->outcome));
    LIT(out, ",\"reasons\":[");
    for (uint32_t i = 0; i < d->nreasons; i++) {
        if (i)
            LIT(out, ",");
        reason(b, &d->reasons[i], comparable, out);
    }
    LIT(out, "],\"approvals\":{\"required\":");
    str(out, d->approvals_required ? d->approvals_required : "none");
    LIT(out, ",\"satisfied\":");
    strings(out, d->satisfied, d->nsatisfied);
    LIT(out, ",\"missing\":");
    strings(out, d->missing, d->nmissing);
    LIT(out, "}");
    /* window: what the rules required (with its state) — one window's
     * name, or several joined with " and ", all of which must be open at
     * once — or, when no rule required one but a freeze applies, only when
     * the freezes end (next_open), or null when time did not matter */
    LIT(out, ",\"window\":");
    if (d->window >= 0) {
        CHG_ASSERT((uint32_t)d->window < b->ntimesets); /* a rule's window (decide.c) */
        LIT(out, "{\"required\":");
        if (d->nwindows > 1) {
            LIT(out, "\"");
            for (uint32_t i = 0; i < d->nwindows; i++) {
                CHG_ASSERT(d->windows[i] < b->ntimesets);
                if (i)
                    LIT(out, " and ");
                inner(out, b->str[b->timesets[d->windows[i]].name]);
            }
            LIT(out, "\"");
        } else
            bstr(out, b, b->timesets[d->window].name);
        if (d->window_open)
            LIT(out, ",\"open\":true,\"next_open\":");
        else
            LIT(out, ",\"open\":false,\"next_open\":");
        instant(out, d->next_open);
        LIT(out, ",\"closes_at\":");
        instant(out, d->closes_at);
        if (d->cutoff_at != INT64_MIN) { /* only with a cutoff: decisions without one are unchanged */
            LIT(out, ",\"cutoff_at\":");
            instant(out, d->cutoff_at);
        }
        LIT(out, "}");
    } else if (d->next_open != INT64_MIN) {
        LIT(out, "{\"required\":null,\"open\":null,\"next_open\":");
        instant(out, d->next_open);
        LIT(out, ",\"closes_at\":null}");
    } else
        LIT(out, "null");
    LIT(out, ",\"freezes\":[");
    for (uint32_t i = 0; i < d->nfreezes; i++) {
        if (i)
            LIT(out, ",");
        CHG_ASSERT(d->freezes[i] < b->ntimesets);
        bstr(out, b, b->timesets[d->freezes[i]].name);
    }
    LIT(out, "],\"warnings\":[");
    for (uint32_t i = 0; i < d->nwarnings; i++) {
        if (i)
            LIT(out, ",");
        reason(b, &d->warnings[i], comparable, out);
    }
    LIT(out, "],\"actions\":[");
    for (uint32_t i = 0; i < d->nactions; i++) {
        const chg_action *a = &d->actions[i];
        CHG_ASSERT(a->call < b->ncalls);
        const chg_calldef *c = &b->calls[a->call];
        /* parameter names: a list constant of strings (load_decisions);
         * the arguments block makes one item per parameter */
        const chg_value *params = &b->consts[c->params];
        CHG_ASSERT(params->tag == CHG_V_LIST);
        if (i)
            LIT(out, ",");
        LIT(out, "{\"call\":");
        bstr(out, b, c->name);
        LIT(out, ",\"args\":{");
        for (uint32_t k = 0; a->args.tag == CHG_V_LIST && k < a->args.len && k < params->len; k++) {
            if (k)
                LIT(out, ",");
            chg_buf_json_string(out, params->u.items[k].u.s, params->u.items[k].len);
            LIT(out, ":");
            chg_vm_value_json(b, &a->args.u.items[k], out);
        }
        LIT(out, "}}");
    }
    if (d->emergency)
        LIT(out, "],\"emergency\":true}");
    else
        LIT(out, "],\"emergency\":false}");
}

void chg_decision_write(const chg_bundle *b, const chg_decision *d, chg_buf *out)
{
    write_decision(b, d, false, out);
}

void chg_decision_write_comparable(const chg_bundle *b, const chg_decision *d, chg_buf *out)
{
    write_decision(b, d, true, out);
}
