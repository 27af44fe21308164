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

#include "chg_time.h"

static const char *const levels[] = {"mandatory", "overridable", "advisory"};

static void str(chg_buf *out, const char *s) { chg_buf_json_string(out, s, strlen(s)); }

/* The searches use INT64_MIN and INT64_MAX for "none" (no next_open, no
 * closing within the horizon): JSON says null. So does an instant outside
 * the years 0000-9999 (the `at` of a decision whose caller's now was one:
 * its outcome is error), which has no RFC 3339 form to write. */
static void instant(chg_buf *out, int64_t t)
{
    char tmp[40];
    if (!chg_time_format_utc(t, tmp)) {
        chg_buf_puts(out, "null");
        return;
    }
    str(out, tmp);
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
}

static void strings(chg_buf *out, const char *const *s, uint32_t n)
{
    chg_buf_putc(out, '[');
    for (uint32_t i = 0; i < n; i++) {
        if (i)
            chg_buf_putc(out, ',');
        str(out, s[i] ? s[i] : "");
    }
    chg_buf_putc(out, ']');
}

/* n in decimal at p; returns the end. */
static char *decimal(char *p, uint32_t n)
{
    char tmp[10];
    int k = 0;
    do
        tmp[k++] = (char)('0' + n % 10);
    while (n /= 10);
    while (k > 0)
        *p++ = tmp[--k];
    return p;
}

/* "file:line:col" as JSON, as chg_bundle_source writes it, without a
 * printf per reason (a decision writes one for every rule that applied). */
static void source(chg_buf *out, const chg_bundle *b, uint32_t span)
{
    const chg_srcspan *s = &b->spans[span];
    size_t flen = b->strlen[s->file];
    char tmp[512];
    if (flen + 24 > sizeof tmp) { /* a path that long: chg_bundle_source cuts it, and says so */
        str(out, chg_bundle_source(b, span, tmp, sizeof tmp));
        return;
    }
    memcpy(tmp, b->str[s->file], flen);
    char *p = tmp + flen;
    *p++ = ':';
    p = decimal(p, s->line);
    *p++ = ':';
    p = decimal(p, s->col);
    chg_buf_json_string(out, tmp, (size_t)(p - tmp));
}

/* A reason or warning. An evaluation error has the level "error" and the
 * source of the failing instruction; a rejection by an approver is no
 * rule's and has no source; a reason an approved emergency waived (an
 * overridable deny, a closed window) stays listed with "overridden", so
 * the decision shows what was waived. */
static void reason(const chg_bundle *b, const chg_reason *r, chg_buf *out)
{
    chg_buf_puts(out, "{\"rule\":");
    if (r->kind == CHG_R_LIMIT) { /* no rule's: the limit's, named beside */
        chg_buf_puts(out, "null,\"limit\":");
        if (r->rule < b->nconcur)
            str(out, b->str[b->concur[r->rule].name]);
        else
            chg_buf_puts(out, "null");
    } else if (r->rule < b->nrules)
        str(out, b->str[b->rules[r->rule].name]);
    else
        chg_buf_puts(out, "null");
    chg_buf_puts(out, ",\"level\":");
    str(out, r->kind == CHG_R_ERROR ? "error" : levels[r->level < 3 ? r->level : 0]);
    chg_buf_puts(out, ",\"message\":");
    chg_buf_json_string(out, r->message ? r->message : "", r->message_len);
    chg_buf_puts(out, ",\"source\":");
    if (r->kind == CHG_R_REJECTED || r->span >= b->nspans)
        chg_buf_puts(out, "null");
    else
        source(out, b, r->span);
    if (r->overridden)
        chg_buf_puts(out, ",\"overridden\":true");
    chg_buf_putc(out, '}');
}

void chg_decision_write(const chg_bundle *b, const chg_decision *d, chg_buf *out)
{
    chg_buf_puts(out, "{\"change\":");
    if (d->change_id)
        chg_buf_json_string(out, d->change_id, d->change_id_len);
    else
        chg_buf_puts(out, "null");
    chg_buf_puts(out, ",\"policy\":");
    str(out, b->str[b->name]);
    chg_buf_puts(out, ",\"version\":");
    str(out, b->str[b->version]);
    chg_buf_puts(out, ",\"at\":");
    instant(out, d->at);
    chg_buf_puts(out, ",\"risk\":");
    if (d->risk >= 0 && (uint32_t)d->risk < b->nrisks)
        str(out, b->str[b->risks[d->risk]]);
    else
        chg_buf_puts(out, "null");
    chg_buf_puts(out, ",\"outcome\":");
    str(out, chg_outcome_name(d->outcome));
    chg_buf_puts(out, ",\"reasons\":[");
    for (uint32_t i = 0; i < d->nreasons; i++) {
        if (i)
            chg_buf_putc(out, ',');
        reason(b, &d->reasons[i], out);
    }
    chg_buf_puts(out, "],\"approvals\":{\"required\":");
    str(out, d->approvals_required ? d->approvals_required : "none");
    chg_buf_puts(out, ",\"satisfied\":");
    strings(out, d->satisfied, d->nsatisfied);
    chg_buf_puts(out, ",\"missing\":");
    strings(out, d->missing, d->nmissing);
    chg_buf_putc(out, '}');
    /* window: what the rules required (with its state) — one window's
     * name, or several joined with " and ", all of which must be open at
     * once — or, when no rule required one but a freeze applies, only when
     * the freezes end (next_open), or null when time did not matter */
    chg_buf_puts(out, ",\"window\":");
    if (d->window >= 0) {
        CHG_ASSERT((uint32_t)d->window < b->ntimesets); /* a rule's window (decide.c) */
        chg_buf_puts(out, "{\"required\":");
        if (d->nwindows > 1) {
            chg_buf_putc(out, '"');
            for (uint32_t i = 0; i < d->nwindows; i++) {
                CHG_ASSERT(d->windows[i] < b->ntimesets);
                if (i)
                    chg_buf_puts(out, " and ");
                inner(out, b->str[b->timesets[d->windows[i]].name]);
            }
            chg_buf_putc(out, '"');
        } else
            str(out, b->str[b->timesets[d->window].name]);
        chg_buf_puts(out, d->window_open ? ",\"open\":true,\"next_open\":" : ",\"open\":false,\"next_open\":");
        instant(out, d->next_open);
        chg_buf_puts(out, ",\"closes_at\":");
        instant(out, d->closes_at);
        if (d->cutoff_at != INT64_MIN) { /* only with a cutoff: decisions without one are unchanged */
            chg_buf_puts(out, ",\"cutoff_at\":");
            instant(out, d->cutoff_at);
        }
        chg_buf_putc(out, '}');
    } else if (d->next_open != INT64_MIN) {
        chg_buf_puts(out, "{\"required\":null,\"open\":null,\"next_open\":");
        instant(out, d->next_open);
        chg_buf_puts(out, ",\"closes_at\":null}");
    } else
        chg_buf_puts(out, "null");
    chg_buf_puts(out, ",\"freezes\":[");
    for (uint32_t i = 0; i < d->nfreezes; i++) {
        if (i)
            chg_buf_putc(out, ',');
        CHG_ASSERT(d->freezes[i] < b->ntimesets);
        str(out, b->str[b->timesets[d->freezes[i]].name]);
    }
    chg_buf_puts(out, "],\"warnings\":[");
    for (uint32_t i = 0; i < d->nwarnings; i++) {
        if (i)
            chg_buf_putc(out, ',');
        reason(b, &d->warnings[i], out);
    }
    chg_buf_puts(out, "],\"actions\":[");
    for (uint32_t i = 0; i < d->nactions; i++) {
        const chg_action *a = &d->actions[i];
        CHG_ASSERT(a->call < b->ncalls);
        const chg_calldef *c = &b->calls[a->call];
        /* parameter names: a list constant of strings (load_decisions);
         * the arguments block makes one item per parameter */
        const chg_value *params = &b->consts[c->params];
        CHG_ASSERT(params->tag == CHG_V_LIST);
        if (i)
            chg_buf_putc(out, ',');
        chg_buf_puts(out, "{\"call\":");
        str(out, b->str[c->name]);
        chg_buf_puts(out, ",\"args\":{");
        for (uint32_t k = 0; a->args.tag == CHG_V_LIST && k < a->args.len && k < params->len; k++) {
            if (k)
                chg_buf_putc(out, ',');
            chg_buf_json_string(out, params->u.items[k].u.s, params->u.items[k].len);
            chg_buf_putc(out, ':');
            chg_vm_value_json(b, &a->args.u.items[k], out);
        }
        chg_buf_puts(out, "}}");
    }
    chg_buf_puts(out, d->emergency ? "],\"emergency\":true}" : "],\"emergency\":false}");
}
