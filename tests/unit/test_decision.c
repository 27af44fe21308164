/*
 * test_decision.c — the decision writer (vm/decision.c) and its
 * formatters: the bytes are the same as those of the writer before it.
 *
 * The writer before it (printf-free already, but byte by byte through
 * chg_buf_puts/putc, with the old JSON string escaper and instant
 * formatter) is kept here, verbatim but for its names, as the judge: the
 * new writer must give the same bytes on every decision the VM makes of
 * random changes under a policy with every part a decision shows
 * (reasons, warnings, windows, freezes, approvals, actions), and on
 * random decisions built field by field, with strings of every byte,
 * instants at and past the edges of 0000-9999, indices out of range. The
 * formatters are tested at their edges against fixed texts and printf.
 * (The golden decisions, tests/decisions, compare chgc eval's bytes with
 * committed ones.)
 */
#include "helpers.h"
#include "vm_helpers.h"
#include "vm_int.h"

#include <inttypes.h>

#include "chg_civil.h"
#include "chg_time.h"

/* ---- the writer before (main at 09b3abd), the judge ---------------------------- */

/* s as a JSON string literal (RFC 8259). Bytes are copied as they are, so
 * valid UTF-8 stays UTF-8 (the output is for humans too, and \u escapes
 * of every non-ASCII character would triple it); controls and DEL are
 * escaped so that no terminal sequence reaches a log. Plain runs are
 * appended in one piece rather than byte by byte. */
static void old_json_string(chg_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    chg_buf_putc(b, '"');
    size_t run = 0; /* start of the pending run of plain bytes */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[6];
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
            if (c < 0x20 || c == 0x7f) {
                u[0] = '\\'; u[1] = 'u'; u[2] = '0'; u[3] = '0';
                u[4] = hex[c >> 4]; u[5] = hex[c & 15];
                chg_buf_append(b, s + run, i - run);
                chg_buf_append(b, u, 6);
                run = i + 1;
            }
            continue;
        }
        chg_buf_append(b, s + run, i - run);
        chg_buf_puts(b, esc);
        run = i + 1;
    }
    chg_buf_append(b, s + run, n - run);
    chg_buf_putc(b, '"');
}

static bool old_format_utc(int64_t t, char *out)
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
    /* in range every field has its fixed width: written digit by digit,
     * "YYYY-MM-DDTHH:MM:SSZ" is exactly 20 characters */
    unsigned f[6] = {(unsigned)y, (unsigned)m, (unsigned)d, (unsigned)(sod / 3600), (unsigned)(sod / 60 % 60),
                     (unsigned)(sod % 60)};
    static const char seps[] = "--T::Z";
    char *p = out;
    for (int k = 0; k < 6; k++) {
        if (k == 0) {
            *p++ = (char)('0' + f[0] / 1000 % 10);
            *p++ = (char)('0' + f[0] / 100 % 10);
        }
        *p++ = (char)('0' + f[k] / 10 % 10);
        *p++ = (char)('0' + f[k] % 10);
        *p++ = seps[k];
    }
    *p = 0;
    return true;
}

static const char *const old_levels[] = {"mandatory", "overridable", "advisory"};

static void old_str(chg_buf *out, const char *s) { old_json_string(out, s, strlen(s)); }

/* The searches use INT64_MIN and INT64_MAX for "none" (no next_open, no
 * closing within the horizon): JSON says null. So does an instant outside
 * the years 0000-9999 (the `at` of a decision whose caller's now was one:
 * its outcome is error), which has no RFC 3339 form to write. */
static void old_instant(chg_buf *out, int64_t t)
{
    char tmp[40];
    if (!old_format_utc(t, tmp)) {
        chg_buf_puts(out, "null");
        return;
    }
    old_str(out, tmp);
}

/* s as JSON string content, without the quotes: the string written, then
 * its quotes taken off in place (the writer allocates nothing else). */
static void old_inner(chg_buf *out, const char *s)
{
    size_t at = out->len;
    old_json_string(out, s, strlen(s));
    if (out->oom || out->len < at + 2)
        return;
    memmove(out->data + at, out->data + at + 1, out->len - at - 2);
    out->len -= 2;
}

static void old_strings(chg_buf *out, const char *const *s, uint32_t n)
{
    chg_buf_putc(out, '[');
    for (uint32_t i = 0; i < n; i++) {
        if (i)
            chg_buf_putc(out, ',');
        old_str(out, s[i] ? s[i] : "");
    }
    chg_buf_putc(out, ']');
}

/* n in decimal at p; returns the end. */
static char *old_decimal(char *p, uint32_t n)
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
static void old_source(chg_buf *out, const chg_bundle *b, uint32_t span)
{
    const chg_srcspan *s = &b->spans[span];
    size_t flen = b->strlen[s->file];
    char tmp[512];
    if (flen + 24 > sizeof tmp) { /* a path that long: chg_bundle_source cuts it, and says so */
        old_str(out, chg_bundle_source(b, span, tmp, sizeof tmp));
        return;
    }
    memcpy(tmp, b->str[s->file], flen);
    char *p = tmp + flen;
    *p++ = ':';
    p = old_decimal(p, s->line);
    *p++ = ':';
    p = old_decimal(p, s->col);
    old_json_string(out, tmp, (size_t)(p - tmp));
}

/* A reason or warning. An evaluation error has the level "error" and the
 * source of the failing instruction; a rejection by an approver is no
 * rule's and has no source; a reason an approved emergency waived (an
 * overridable deny, a closed window) stays listed with "overridden", so
 * the decision shows what was waived. */
static void old_reason(const chg_bundle *b, const chg_reason *r, chg_buf *out)
{
    chg_buf_puts(out, "{\"rule\":");
    if (r->kind == CHG_R_LIMIT) { /* no rule's: the limit's, named beside */
        chg_buf_puts(out, "null,\"limit\":");
        if (r->rule < b->nconcur)
            old_str(out, b->str[b->concur[r->rule].name]);
        else
            chg_buf_puts(out, "null");
    } else if (r->rule < b->nrules)
        old_str(out, b->str[b->rules[r->rule].name]);
    else
        chg_buf_puts(out, "null");
    chg_buf_puts(out, ",\"level\":");
    old_str(out, r->kind == CHG_R_ERROR ? "error" : old_levels[r->level < 3 ? r->level : 0]);
    chg_buf_puts(out, ",\"message\":");
    old_json_string(out, r->message ? r->message : "", r->message_len);
    chg_buf_puts(out, ",\"source\":");
    if (r->kind == CHG_R_REJECTED || r->span >= b->nspans)
        chg_buf_puts(out, "null");
    else
        old_source(out, b, r->span);
    if (r->overridden)
        chg_buf_puts(out, ",\"overridden\":true");
    chg_buf_putc(out, '}');
}

static void old_decision_write(const chg_bundle *b, const chg_decision *d, chg_buf *out)
{
    chg_buf_puts(out, "{\"change\":");
    if (d->change_id)
        old_json_string(out, d->change_id, d->change_id_len);
    else
        chg_buf_puts(out, "null");
    chg_buf_puts(out, ",\"policy\":");
    old_str(out, b->str[b->name]);
    chg_buf_puts(out, ",\"version\":");
    old_str(out, b->str[b->version]);
    chg_buf_puts(out, ",\"at\":");
    old_instant(out, d->at);
    chg_buf_puts(out, ",\"risk\":");
    if (d->risk >= 0 && (uint32_t)d->risk < b->nrisks)
        old_str(out, b->str[b->risks[d->risk]]);
    else
        chg_buf_puts(out, "null");
    chg_buf_puts(out, ",\"outcome\":");
    old_str(out, chg_outcome_name(d->outcome));
    chg_buf_puts(out, ",\"reasons\":[");
    for (uint32_t i = 0; i < d->nreasons; i++) {
        if (i)
            chg_buf_putc(out, ',');
        old_reason(b, &d->reasons[i], out);
    }
    chg_buf_puts(out, "],\"approvals\":{\"required\":");
    old_str(out, d->approvals_required ? d->approvals_required : "none");
    chg_buf_puts(out, ",\"satisfied\":");
    old_strings(out, d->satisfied, d->nsatisfied);
    chg_buf_puts(out, ",\"missing\":");
    old_strings(out, d->missing, d->nmissing);
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
                old_inner(out, b->str[b->timesets[d->windows[i]].name]);
            }
            chg_buf_putc(out, '"');
        } else
            old_str(out, b->str[b->timesets[d->window].name]);
        chg_buf_puts(out, d->window_open ? ",\"open\":true,\"next_open\":" : ",\"open\":false,\"next_open\":");
        old_instant(out, d->next_open);
        chg_buf_puts(out, ",\"closes_at\":");
        old_instant(out, d->closes_at);
        if (d->cutoff_at != INT64_MIN) { /* only with a cutoff: decisions without one are unchanged */
            chg_buf_puts(out, ",\"cutoff_at\":");
            old_instant(out, d->cutoff_at);
        }
        chg_buf_putc(out, '}');
    } else if (d->next_open != INT64_MIN) {
        chg_buf_puts(out, "{\"required\":null,\"open\":null,\"next_open\":");
        old_instant(out, d->next_open);
        chg_buf_puts(out, ",\"closes_at\":null}");
    } else
        chg_buf_puts(out, "null");
    chg_buf_puts(out, ",\"freezes\":[");
    for (uint32_t i = 0; i < d->nfreezes; i++) {
        if (i)
            chg_buf_putc(out, ',');
        CHG_ASSERT(d->freezes[i] < b->ntimesets);
        old_str(out, b->str[b->timesets[d->freezes[i]].name]);
    }
    chg_buf_puts(out, "],\"warnings\":[");
    for (uint32_t i = 0; i < d->nwarnings; i++) {
        if (i)
            chg_buf_putc(out, ',');
        old_reason(b, &d->warnings[i], out);
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
        old_str(out, b->str[c->name]);
        chg_buf_puts(out, ",\"args\":{");
        for (uint32_t k = 0; a->args.tag == CHG_V_LIST && k < a->args.len && k < params->len; k++) {
            if (k)
                chg_buf_putc(out, ',');
            old_json_string(out, params->u.items[k].u.s, params->u.items[k].len);
            chg_buf_putc(out, ':');
            chg_vm_value_json(b, &a->args.u.items[k], out);
        }
        chg_buf_puts(out, "}}");
    }
    chg_buf_puts(out, d->emergency ? "],\"emergency\":true}" : "],\"emergency\":false}");
}

/* ---- random inputs --------------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static uint32_t below(uint32_t n) { return n ? (uint32_t)(rnd() % n) : 0; }

/* n random bytes into p: mostly plain text, with quotes, backslashes,
 * controls, DEL, UTF-8 and bytes 0x80-0xff mixed in. */
static void rnd_bytes(char *p, size_t n)
{
    static const char *const bits[] = {"\"", "\\", "\n", "\t", "\r", "\b", "\f", "\x01", "\x1f", "\x7f", "\xc3\xa9",
                                       "\xe2\x80\xae", "\xf0\x9f\x98\x80", "\xff", " ", "/"};
    size_t i = 0;
    while (i < n) {
        uint32_t k = below(8);
        if (k < 6) {
            p[i++] = (char)('a' + below(26));
            continue;
        }
        const char *s = k == 6 ? bits[below(CHG_ARRAY_LEN(bits))] : (char[]){(char)below(256), 0};
        size_t len = k == 6 ? strlen(s) : 1;
        for (size_t j = 0; j < len && i < n; j++)
            p[i++] = s[j];
    }
}

/* An instant: in range, at the edges of 0000-9999, past them, or a search's
 * INT64_MIN/INT64_MAX. */
static int64_t rnd_instant(void)
{
    int64_t lo = chg_days_from_civil(0, 1, 1) * 86400, hi = chg_days_from_civil(10000, 1, 1) * 86400 - 1;
    switch (below(8)) {
    case 0: return INT64_MIN;
    case 1: return INT64_MAX;
    case 2: return lo + (int64_t)below(3) - 1;
    case 3: return hi + (int64_t)below(3) - 1;
    case 4: return (int64_t)(rnd() >> 1) * (below(2) ? 1 : -1);
    default: return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
    }
}

static void compare(const chg_bundle *b, const chg_decision *d)
{
    chg_buf want, got;
    chg_buf_init(&want);
    chg_buf_init(&got);
    /* the new writer appends after what a buffer holds already */
    chg_buf_puts(&want, "x");
    chg_buf_puts(&got, "x");
    old_decision_write(b, d, &want);
    chg_decision_write(b, d, &got);
    assert_false(want.oom || got.oom);
    if (want.len != got.len || memcmp(want.data, got.data, want.len) != 0)
        fail_msg("the writers differ:\n old: %s\n new: %s", want.data, got.data);
    assert_int_equal(got.data[got.len], 0);
    chg_buf_free(&want);
    chg_buf_free(&got);
}

/* A policy with every part a decision shows: risks, reasons of each level,
 * a warning, windows (one and two at once, with a cutoff), freezes,
 * approvals, an emergency, actions whose arguments are strings, numbers,
 * times, lists and the summary. */
static const char *const policy =
    "policy \"writer \\\"test\\\"\" version \"1.0 \xc3\xa9\"\n"
    "risk low < high\n"
    "at change.at\n"
    "classify {\n"
    "  high when change.n > 10\n"
    "  default low\n"
    "}\n"
    "window ops = cron \"0 9 * * MON-FRI\" for 8h in \"Europe/Paris\"\n"
    "window night = cron \"0 22 * * *\" for 6h cutoff 1h in \"UTC\"\n"
    "freeze xmas = 2026-12-20T00:00 .. 2027-01-03T00:00 in \"UTC\"\n"
    "approvals {\n"
    "  low => none\n"
    "  high => 2 of group \"cab\"\n"
    "  emergency => 1 of any\n"
    "}\n"
    "rule frozen overridable:\n"
    "  deny during xmas \"frozen: {freeze} \\\"q\\\" {change.id}\"\n"
    "rule hours overridable:\n"
    "  when risk >= high\n"
    "  require window ops\n"
    "rule nights:\n"
    "  when change.n > 20\n"
    "  require window night\n"
    "rule big:\n"
    "  when change.n > 40\n"
    "  deny \"too big: {change.n} {change.id}\"\n"
    "rule note advisory:\n"
    "  when change.n % 2 == 0\n"
    "  warn \"even {change.n}\"\n"
    "on deny\n"
    "  do webhook(\"t\", {id: change.id, n: change.n, at: change.at, s: summary, r: reason, l: [1, -2, -9223372036854775807], f: 3.5, b: true, z: null})\n"
    "on emergency\n"
    "  do webhook(\"e\", summary)\n";

/* The record field `name` of v, or NULL. */
static const chg_value *field(const chg_bundle *b, const chg_value *v, const char *name)
{
    if (v->tag != CHG_V_REC)
        return NULL;
    const chg_layout *l = &b->layouts[v->layout];
    for (uint32_t k = 0; k < l->count && k < v->len; k++)
        if (!strcmp(b->str[b->lfields[l->first + k].name], name))
            return &v->u.items[k];
    return NULL;
}

/* The summary an action sees is what the snprintf before made of it:
 * "<outcome>: change <id cut at 200> (<risk>[, emergency]) under <policy>
 * <version>: " in 512 bytes, then the reason. */
static void check_summary(const chg_bundle *b, const chg_decision *d)
{
    for (uint32_t i = 0; i < d->nactions; i++) {
        const chg_value *payload = &d->actions[i].args.u.items[1];
        const chg_value *s = field(b, payload, "s"), *r = field(b, payload, "r");
        if (!s || !r)
            continue;
        char head[512], want[2048];
        const char *risk = d->risk >= 0 ? b->str[b->risks[d->risk]] : "unclassified";
        const char *version = b->str[b->version];
        snprintf(head, sizeof head, "%s: change %.*s (%s%s) under %s%s%s: ", chg_outcome_name(d->outcome),
                 d->change_id ? (int)(d->change_id_len > 200 ? 200 : d->change_id_len) : 1,
                 d->change_id ? d->change_id : "?", risk, d->emergency ? ", emergency" : "", b->str[b->name],
                 *version ? " " : "", version);
        snprintf(want, sizeof want, "%s%s", head, r->u.s);
        assert_int_equal(s->tag, CHG_V_STR);
        assert_string_equal(s->u.s, want);
    }
}

static void writer_on_random_changes(void **state)
{
    (void)state;
    chg_bundle *b = vm_build_load(policy);
    chg_ctx *ctx = chg_ctx_new(b);
    assert_non_null(ctx);
    char id[320], json[4096];
    int64_t lo = chg_days_from_civil(2026, 1, 1) * 86400;
    for (int i = 0; i < 3000; i++) {
        /* an id of random bytes, as a JSON string with every byte escaped */
        size_t n = below(8) ? below(24) : 190 + below(120), k = 0; /* the summary cuts ids at 200 bytes */
        rnd_bytes(id, n);
        char esc[6 * 320 + 1];
        for (size_t j = 0; j < n; j++)
        {
            unsigned c = (unsigned char)id[j];
            c = c == 0 ? 1 : c < 0x80 ? c : 0xe9; /* JSON's \\u0000 is refused */
            k += (size_t)snprintf(esc + k, sizeof esc - k, "\\u%04x", c);
        }
        esc[k] = 0;
        char at[32];
        chg_time_format_utc(lo + (int64_t)(rnd() % (2 * 365 * 86400ULL)), at);
        snprintf(json, sizeof json, "{\"id\":\"%s\",\"n\":%u,\"at\":\"%s\",\"emergency\":%s,\"approvals\":[]}", esc,
                 below(60), at, below(4) ? "false" : "true");
        char err[256];
        chg_event *e = chg_event_decode(b, json, strlen(json), err, sizeof err);
        if (!e)
            fail_msg("decode %s: %s", json, err);
        chg_eval_input in = {.change = e, .now = lo};
        chg_decision d;
        assert_int_equal(chg_eval(ctx, &in, &d), CHG_OK);
        compare(b, &d);
        check_summary(b, &d);
        chg_event_free(e);
    }
    chg_ctx_free(ctx);
    chg_bundle_free(b);
}

/* Decisions built field by field, with what the VM never makes as well:
 * indices past the tables, strings of any byte, any instant. */
static void writer_on_random_decisions(void **state)
{
    (void)state;
    chg_bundle *b = vm_build_load(policy);
    enum { MAXN = 6 };
    static char text[32][5000];
    for (int i = 0; i < 4000; i++) {
        int t = 0;
        chg_reason reasons[MAXN], warnings[MAXN];
        const char *sat[MAXN], *mis[MAXN];
        uint32_t windows[MAXN], freezes[MAXN];
        chg_decision d;
        memset(&d, 0, sizeof d);
#define TEXT(maxlen) (rnd_bytes(text[t], below(maxlen)), text[t][below(maxlen)] = 0, text[t++])
        if (below(5)) {
            size_t n = below(below(20) ? 40 : 4990); /* past chg_buf_json_string's 4 KiB pieces */
            rnd_bytes(text[t], n);
            d.change_id = text[t++];
            d.change_id_len = (uint32_t)n;
        }
        d.at = rnd_instant();
        d.risk = (int)below(b->nrisks + 2) - 1;
        d.outcome = (chg_outcome)below(5);
        d.nreasons = below(MAXN);
        d.nwarnings = below(3);
        for (uint32_t k = 0; k < d.nreasons + d.nwarnings; k++) {
            chg_reason *r = k < d.nreasons ? &reasons[k] : &warnings[k - d.nreasons];
            memset(r, 0, sizeof *r);
            r->rule = below(4) ? below(b->nrules) : below(b->nrules + 3);
            r->kind = (uint8_t)below(CHG_R_LIMIT + 1);
            r->level = (uint8_t)below(4);
            r->overridden = below(2);
            r->message = below(6) ? TEXT(60) : NULL;
            r->message_len = r->message ? (uint32_t)strlen(r->message) : 0;
            r->span = below(4) ? below(b->nspans) : below(b->nspans + 3);
        }
        d.reasons = reasons;
        d.warnings = warnings;
        d.approvals_required = below(3) ? TEXT(30) : NULL;
        d.nsatisfied = below(3);
        d.nmissing = below(3);
        for (uint32_t k = 0; k < d.nsatisfied; k++)
            sat[k] = below(5) ? TEXT(20) : NULL;
        for (uint32_t k = 0; k < d.nmissing; k++)
            mis[k] = TEXT(20);
        d.satisfied = sat;
        d.missing = mis;
        d.window = below(3) ? -1 : (int32_t)below(b->ntimesets);
        d.nwindows = d.window >= 0 ? 1 + below(3) : 0;
        for (uint32_t k = 0; k < d.nwindows; k++)
            windows[k] = k ? below(b->ntimesets) : (uint32_t)d.window;
        d.windows = windows;
        d.window_open = below(2);
        d.next_open = below(3) ? rnd_instant() : INT64_MIN;
        d.closes_at = rnd_instant();
        d.cutoff_at = below(2) ? INT64_MIN : rnd_instant();
        d.nfreezes = below(3);
        for (uint32_t k = 0; k < d.nfreezes; k++)
            freezes[k] = below(b->ntimesets);
        d.freezes = freezes;
        d.emergency = below(2);
        compare(b, &d);
#undef TEXT
    }
    chg_bundle_free(b);
}

/* ---- the formatters at their edges ------------------------------------------------- */

static void int_format_edges(void **state)
{
    (void)state;
    static const int64_t edges[] = {0, 1, -1, 9, 10, -10, 99, 100, -100, 999, 1000, 4294967295LL, 4294967296LL,
                                    999999999999999999LL, 1000000000000000000LL, INT64_MAX, INT64_MAX - 1,
                                    INT64_MIN, INT64_MIN + 1};
    char got[CHG_INT_TEXT], want[32];
    assert_int_equal(chg_int_format(INT64_MIN, got), 20);
    assert_string_equal(got, "-9223372036854775808");
    assert_int_equal(chg_int_format(INT64_MAX, got), 19);
    assert_string_equal(got, "9223372036854775807");
    assert_int_equal(chg_int_format(0, got), 1);
    assert_string_equal(got, "0");
    for (size_t i = 0; i < CHG_ARRAY_LEN(edges); i++) {
        snprintf(want, sizeof want, "%" PRId64, edges[i]);
        assert_int_equal(chg_int_format(edges[i], got), strlen(want));
        assert_string_equal(got, want);
    }
    for (int i = 0; i < 200000; i++) {
        int64_t v = (int64_t)(rnd() >> below(64));
        if (below(2))
            v = -v;
        snprintf(want, sizeof want, "%" PRId64, v);
        assert_int_equal(chg_int_format(v, got), strlen(want));
        assert_string_equal(got, want);
    }
}

static void instant_format_edges(void **state)
{
    (void)state;
    static const struct {
        int64_t y;
        int m, d, sod;
        const char *text;
    } cases[] = {
        {0, 1, 1, 0, "0000-01-01T00:00:00Z"},
        {0, 2, 29, 43200, "0000-02-29T12:00:00Z"}, /* 0000 is a leap year */
        {9999, 12, 31, 86399, "9999-12-31T23:59:59Z"},
        {1969, 12, 31, 86399, "1969-12-31T23:59:59Z"}, /* -1 */
        {1970, 1, 1, 0, "1970-01-01T00:00:00Z"},
        {1900, 2, 28, 86399, "1900-02-28T23:59:59Z"},
        {1900, 3, 1, 0, "1900-03-01T00:00:00Z"}, /* 1900: no leap day */
        {2000, 2, 29, 3723, "2000-02-29T01:02:03Z"},
        {2024, 2, 29, 86399, "2024-02-29T23:59:59Z"},
        {2026, 12, 31, 86399, "2026-12-31T23:59:59Z"},
        {999, 7, 4, 600, "0999-07-04T00:10:00Z"},
    };
    char got[32], want[32];
    for (size_t i = 0; i < CHG_ARRAY_LEN(cases); i++) {
        int64_t t = chg_days_from_civil(cases[i].y, cases[i].m, cases[i].d) * 86400 + cases[i].sod;
        assert_true(chg_time_format_utc(t, got));
        assert_string_equal(got, cases[i].text);
    }
    assert_true(chg_time_format_utc(-1, got));
    assert_string_equal(got, "1969-12-31T23:59:59Z");
    int64_t lo = chg_days_from_civil(0, 1, 1) * 86400, hi = chg_days_from_civil(10000, 1, 1) * 86400 - 1;
    assert_false(chg_time_format_utc(lo - 1, got));
    assert_string_equal(got, "out-of-range instant");
    assert_false(chg_time_format_utc(hi + 1, got));
    assert_false(chg_time_format_utc(INT64_MIN, got));
    assert_false(chg_time_format_utc(INT64_MAX, got));
    for (int i = 0; i < 200000; i++) {
        int64_t t = rnd_instant();
        bool w = old_format_utc(t, want);
        assert_int_equal(chg_time_format_utc(t, got), w);
        assert_string_equal(got, want);
    }
}

static void json_string_every_byte(void **state)
{
    (void)state;
    static char s[20000];
    chg_buf want, got;
    chg_buf_init(&want);
    chg_buf_init(&got);
    for (int c = 0; c < 256; c++) { /* each byte alone, and inside a run of eight and more */
        for (int k = 0; k < 2; k++) {
            size_t n = k ? 19 : 1;
            memset(s, 'a', n);
            s[k ? 11 : 0] = (char)c;
            chg_buf_reset(&want);
            chg_buf_reset(&got);
            old_json_string(&want, s, n);
            chg_buf_json_string(&got, s, n);
            assert_string_equal(got.data, want.data);
        }
    }
    for (int i = 0; i < 3000; i++) {
        size_t n = below(8) ? below(64) : below(sizeof s);
        rnd_bytes(s, n);
        chg_buf_reset(&want);
        chg_buf_reset(&got);
        old_json_string(&want, s, n);
        chg_buf_json_string(&got, s, n);
        assert_int_equal(got.len, want.len);
        assert_memory_equal(got.data, want.data, want.len);
    }
    memset(s, '\x01', sizeof s); /* every byte six: pieces of 4 KiB at the worst case */
    chg_buf_reset(&want);
    chg_buf_reset(&got);
    old_json_string(&want, s, sizeof s);
    chg_buf_json_string(&got, s, sizeof s);
    assert_int_equal(got.len, sizeof s * 6 + 2);
    assert_memory_equal(got.data, want.data, want.len);
    chg_buf_free(&want);
    chg_buf_free(&got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(int_format_edges),
        cmocka_unit_test(instant_format_edges),
        cmocka_unit_test(json_string_every_byte),
        cmocka_unit_test(writer_on_random_changes),
        cmocka_unit_test(writer_on_random_decisions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
