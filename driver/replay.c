/*
 * replay.c — `chgc replay`: decide recorded events under two policies and
 * report the decisions that differ, so a policy change can be judged by
 * what it would have done to real traffic before it is merged.
 *
 * A record is one JSON line {"event": {…}, "at": "RFC 3339", "facts": {…}}
 * (`at` and `facts` optional; other members, such as the audit export's
 * `seq`, ignored). Each record is decided by the same code as `chgc eval`
 * (intake, validation, the decision writer) once per policy, and the two
 * lines are compared as JSON with what naturally differs between two
 * versions of one policy left out: `policy`, `version` and every `source`
 * position (an edit above a rule moves it). For speed (docs/replay.md,
 * "Speed"), a record of the plain shape is read without a JSON tree, its
 * event decoded once for both policies when their decoders read the same
 * tables (chg_bundle_decode_same), and two decisions are compared by the
 * bytes of their comparable lines first (chg_decision_write_comparable:
 * the line without policy, version and source); only those that differ
 * are written in full and parsed. Every answer is the general path's, byte for byte
 * (tests/cli/test_replay.py, test_plain_records_decide_as_the_general_path).
 *
 * Records are decided on worker threads (--threads, eval.c's batch pool:
 * each worker has its own two contexts) and written, and counted, by the
 * reader in input order, so the output is the bytes of one thread.
 * Everything is deterministic: records in input order, no clock (a record without `at` takes --at, and with neither a policy that
 * has no `at` of its own cannot judge it: that record is an input error),
 * transitions sorted by count, then by name.
 */
#include "batch.h"
#include "chg_time.h"

#include <ctype.h>
#include <jansson.h>
#include <string.h>

/* One transition "allow → pending" and how often it happened. */
typedef struct transition {
    char *name;
    size_t count;
} transition;

/* The run: what every worker reads, and what the reader counts as it
 * writes the batches in input order (emit). */
typedef struct replay {
    const chg_replay_options *o;
    const chg_bundle *b[2];
    bool share;              /* the bundles decode alike: one decoding of an
                                event serves both (chg_bundle_decode_same) */
    chg_vec outcomes, risks; /* transition * */
    size_t records, differ, bad;
    bool oom;                /* a count could not be kept */
    chg_progress *progress;
} replay;

/* One worker's: its two contexts and its scratch. */
typedef struct rworker {
    chg_ctx *ctx[2];
    chg_buf line[2], errs;
    chg_event_share share;   /* the record's event as the first policy decoded it */
    /* the record's two answers: status (CHG_OK a decision, CHG_EINVAL an
     * error line), the decision, and the event it points into (or NULL) */
    int st[2];
    chg_decision dec[2];
    chg_event *ev[2];
} rworker;

/* ---- the record's members, found without building a tree ----------------
 *
 * Most records are what `chgc audit export` writes: a few scalar members
 * and the event. Parsing each into a jansson tree, and writing the event
 * back as text for the decoder, cost more than both decisions; so a record
 * of that plain shape is read here in one pass, strictly (RFC 8259: a bad
 * escape, a control character, invalid UTF-8 or a malformed number
 * declines) but for the event, which is only found (skip_event), and is
 * decided from its own bytes — exactly what `chgc eval` would decide of
 * them; the decoders refuse malformed JSON and duplicate keys themselves,
 * and a record whose event they refuse is judged again on the general
 * path. Anything else — a key with an escape, a
 * duplicate member, an unknown member whose value is an object or array,
 * an `at` with an escape — declines, and the record takes the general path
 * (jansson), which words every error as before. */

typedef struct mspan {
    const char *p;
    size_t n;
} mspan;

static const char *ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* The end of the string starting at p (its opening quote), or NULL. */
static const char *skip_string(const char *p, const char *e, bool *escaped)
{
    for (p++; p < e;) {
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            return p + 1;
        if (c < 0x20)
            return NULL;
        if (c == '\\') {
            *escaped = true;
            if (++p >= e)
                return NULL;
            if (*p == 'u') {
                /* four hex digits; a surrogate (even a valid pair) is left
                 * to the general path, which words a lone one */
                for (int i = 1; i <= 4; i++)
                    if (p + i >= e || !isxdigit((unsigned char)p[i]))
                        return NULL;
                if (p[1] == 'd' || p[1] == 'D')
                    return NULL;
                p += 5;
            } else if (strchr("\"\\/bfnrt", *p) && *p)
                p++;
            else
                return NULL;
        } else if (c < 0x80)
            p++;
        else {
            size_t k = chg_utf8_seq_len((const unsigned char *)p, (size_t)(e - p));
            if (!k)
                return NULL;
            p += k;
        }
    }
    return NULL;
}

static bool digit(const char *p, const char *e)
{
    return p < e && *p >= '0' && *p <= '9';
}

static const char *skip_number(const char *p, const char *e)
{
    if (p < e && *p == '-')
        p++;
    if (!digit(p, e))
        return NULL;
    if (*p == '0')
        p++;
    else
        while (digit(p, e))
            p++;
    if (p < e && *p == '.') {
        if (!digit(++p, e))
            return NULL;
        while (digit(p, e))
            p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        if (!digit(p, e))
            return NULL;
        while (digit(p, e))
            p++;
    }
    return p;
}

/* The end of a scalar value at p, or NULL (an object or array included). */
static const char *skip_scalar(const char *p, const char *e)
{
    bool esc = false;
    if (p >= e)
        return NULL;
    if (*p == '"')
        return skip_string(p, e, &esc);
    static const char *const words[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if ((size_t)(e - p) >= n && !memcmp(p, words[i], n))
            return p + n;
    }
    return skip_number(p, e);
}

/* The end of the object or array at p, its strings and scalars checked,
 * its nesting bounded; the decoder that reads it checks the rest. */
static const char *skip_container(const char *p, const char *e)
{
    char stack[64];
    int depth = 0;
    bool esc;
    while (p < e) {
        char c = *p;
        if (c == '{' || c == '[') {
            if (depth == (int)sizeof stack)
                return NULL;
            stack[depth++] = c;
            p++;
        } else if (c == '}' || c == ']') {
            if (!depth || stack[depth - 1] != (c == '}' ? '{' : '['))
                return NULL;
            p++;
            if (--depth == 0)
                return p;
        } else if (c == '"') {
            if (!(p = skip_string(p, e, &esc)))
                return NULL;
        } else if (c == ',' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\r')
            p++;
        else if (!(p = skip_scalar(p, e)))
            return NULL;
    }
    return NULL;
}

/* The first quote or backslash at or after p, or e: eight bytes at a
 * time while none of them is one. */
static const char *to_quote(const char *p, const char *e)
{
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    while (e - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        uint64_t q = w ^ (ones * '"'), bs = w ^ (ones * '\\');
        if (((q - ones) & ~q & high) | ((bs - ones) & ~bs & high))
            break;
        p += 8;
    }
    while (p < e && *p != '"' && *p != '\\')
        p++;
    return p;
}

/* The end of the event's object at p (its opening brace), or NULL: its
 * brackets counted, nested at most as deep as skip_container allows, and
 * its strings stepped over (a backslash escapes the byte after it).
 * Nothing else is checked here, because the decoders check every byte of
 * the event (the walker and jansson alike): an event they refuse is
 * judged again on the general path, which words the error for the record
 * as before. */
static const char *skip_event(const char *p, const char *e)
{
    int depth = 0;
    while (p < e) {
        char c = *p++;
        if (c == '"') {
            for (p = to_quote(p, e); p < e && *p == '\\'; p = to_quote(p + 2, e))
                if (e - p < 2)
                    return NULL;
            if (p >= e)
                return NULL;
            p++;
        } else if (c == '{' || c == '[') {
            if (++depth > 64)
                return NULL;
        } else if ((c == '}' || c == ']') && --depth == 0)
            return p;
    }
    return NULL;
}

/* Find the record's event, at and facts members; false: take the general
 * path. */
static bool plain_record(const char *text, size_t len, mspan *ev, mspan *at, mspan *facts)
{
    const char *p = text, *e = text + len;
    mspan other[8];
    size_t nother = 0;
    ev->p = at->p = facts->p = NULL;
    p = ws(p, e);
    if (p >= e || *p++ != '{')
        return false;
    p = ws(p, e);
    if (p < e && *p == '}')
        return false; /* no event: the general path says so */
    for (;;) {
        bool esc = false;
        if (p >= e || *p != '"')
            return false;
        const char *k = p + 1, *ke = skip_string(p, e, &esc);
        if (!ke || esc)
            return false;
        size_t kn = (size_t)(ke - 1 - k);
        p = ws(ke, e);
        if (p >= e || *p++ != ':')
            return false;
        p = ws(p, e);
        const char *v = p;
        mspan *slot = kn == 5 && !memcmp(k, "event", 5)   ? ev
                      : kn == 2 && !memcmp(k, "at", 2)    ? at
                      : kn == 5 && !memcmp(k, "facts", 5) ? facts
                                                          : NULL;
        if (slot) {
            if (slot->p)
                return false; /* a duplicate */
            if (slot == at) {
                esc = false;
                if (p >= e || *p != '"' || !(p = skip_string(p, e, &esc)) || esc)
                    return false;
            } else if (p >= e || *p != '{' || !(p = slot == ev ? skip_event(p, e) : skip_container(p, e)))
                return false;
            slot->p = v;
            slot->n = (size_t)(p - v);
        } else {
            for (size_t i = 0; i < nother; i++)
                if (other[i].n == kn && !memcmp(other[i].p, k, kn))
                    return false;
            if (nother == sizeof other / sizeof other[0] || !(p = skip_scalar(p, e)))
                return false;
            other[nother++] = (mspan){k, kn};
        }
        p = ws(p, e);
        if (p < e && *p == ',') {
            p = ws(p + 1, e);
            continue;
        }
        if (p >= e || *p++ != '}')
            return false;
        return ws(p, e) == e && ev->p;
    }
}

/* Drop what two versions of one policy may differ in without deciding
 * differently: its name and version, and the source positions. */
static void normalize(json_t *j, int depth)
{
    if (depth > 16)
        return;
    if (json_is_object(j)) {
        json_object_del(j, "source");
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) normalize(v, depth + 1);
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) normalize(v, depth + 1);
    }
}

/* A decision line as compared: parsed, with policy and version dropped.
 * NULL only when out of memory (the lines are the decision writer's). */
static json_t *comparable(const chg_buf *line)
{
    json_t *j = json_loadb(line->data, line->len, 0, NULL);
    if (j) {
        json_object_del(j, "policy");
        json_object_del(j, "version");
        normalize(j, 0);
    }
    return j;
}

/* What a line's decision was: its outcome, or "invalid" for the error line
 * of an input that was not a change. */
static const char *outcome_of(const json_t *j)
{
    const char *s = json_string_value(json_object_get(j, "outcome"));
    return s ? s : "invalid";
}

static const char *risk_of(const json_t *j)
{
    const char *s = json_string_value(json_object_get(j, "risk"));
    return s ? s : "none";
}

static int count(chg_vec *v, const char *from, const char *to)
{
    char name[160];
    snprintf(name, sizeof name, "%s \u2192 %s", from, to);
    for (size_t i = 0; i < v->len; i++) {
        transition *t = v->items[i];
        if (!strcmp(t->name, name)) {
            t->count++;
            return CHG_OK;
        }
    }
    transition *t = chg_malloc(sizeof *t);
    if (!t || !(t->name = chg_strdup(name))) {
        chg_free(t);
        return CHG_ENOMEM;
    }
    t->count = 1;
    if (chg_vec_push(v, t) != CHG_OK) {
        chg_free(t->name);
        chg_free(t);
        return CHG_ENOMEM;
    }
    return CHG_OK;
}

/* The top-level members whose values differ, comma-separated: a's in the
 * decision writer's order, then any only b has (jansson keeps insertion
 * order), so a member the writer gains is compared without a list here. */
static void changed_members(const json_t *a, const json_t *b, chg_buf *out, bool as_json)
{
    bool first = true;
    for (int side = 0; side < 2; side++) {
        const json_t *x = side ? b : a, *other = side ? a : b;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)x, k, v) {
            json_t *w = json_object_get(other, k);
            if ((side && w) || (w && json_equal(v, w)))
                continue; /* equal, or b's member already compared from a */
            if (!first)
                chg_buf_puts(out, as_json ? "," : ", ");
            if (as_json)
                chg_buf_json_string(out, k, strlen(k));
            else
                chg_buf_puts(out, k);
            first = false;
        }
    }
}

/* The change's id as the decisions name it (either side's), or "?". */
static const char *change_id(const json_t *a, const json_t *b)
{
    const char *s = json_string_value(json_object_get(a, "change"));
    if (!s)
        s = json_string_value(json_object_get(b, "change"));
    return s ? s : "?";
}

static void trim_newline(chg_buf *b)
{
    if (b->len && b->data[b->len - 1] == '\n')
        b->data[--b->len] = 0;
}

/* Write one difference to w: text "line N: change ID: old → new …" with
 * both decisions under it, or one JSON object of the "differences" array
 * (emit puts the commas between them). */
static void write_difference(const replay *r, rworker *wk, unsigned long lineno, const json_t *a, const json_t *b,
                             chg_buf *w)
{
    const chg_buf *line = wk->line;
    const char *id = change_id(a, b);
    if (r->o->format == CHG_REPLAY_JSON) {
        chg_buf_printf(w, "{\"line\":%lu,\"change\":", lineno);
        chg_buf_json_string(w, id, strlen(id));
        chg_buf_puts(w, ",\"changed\":[");
        changed_members(a, b, w, true);
        chg_buf_printf(w, "],\"old\":%.*s,\"new\":%.*s}\n", (int)line[0].len, line[0].data, (int)line[1].len,
                       line[1].data);
    } else {
        chg_buf_printf(w, "line %lu: change %s: %s \u2192 %s", lineno, id, outcome_of(a), outcome_of(b));
        if (strcmp(risk_of(a), risk_of(b)))
            chg_buf_printf(w, ", risk %s \u2192 %s", risk_of(a), risk_of(b));
        chg_buf_puts(w, " (");
        changed_members(a, b, w, false);
        chg_buf_printf(w, ")\n  old: %.*s\n  new: %.*s\n", (int)line[0].len, line[0].data, (int)line[1].len,
                       line[1].data);
    }
}

/* The events the last record's decisions point into, given back to the
 * contexts for the next record (ctx NULL: freed). */
static void release(rworker *w, bool keep)
{
    for (int k = 0; k < 2; k++) {
        if (keep)
            chg_ctx_event_done(w->ctx[k], w->ev[k]);
        else
            chg_event_free(w->ev[k]);
        w->ev[k] = NULL;
    }
    chg_event_share_clear(&w->share, keep ? w->ctx[0] : NULL);
}

/* Decide the event text under both policies: w->line[k] is each one's
 * comparable line (chg_decision_write_comparable) and w->st[k] its
 * chg_decide_json status: CHG_EINVAL when the input gave no decision (its
 * error line is the answer). The decisions are kept until release().
 * CHG_OK or CHG_ENOMEM. */
static int decide_both(const replay *r, rworker *w, const char *ev, size_t len, const chg_eval_input *in,
                       const char *where)
{
    int rc = CHG_OK;
    for (int k = 0; k < 2 && rc == CHG_OK; k++) {
        chg_buf_reset(&w->line[k]);
        chg_buf_reset(&w->errs);
        /* not a change under this policy (its intake or schema refuses it):
         * the error line is that policy's answer, compared like a decision */
        w->st[k] = chg_drv_decide_shared(w->ctx[k], r->b[k], ev, len, in, where, false, r->share ? &w->share : NULL,
                                         &w->dec[k], &w->ev[k], &w->line[k], &w->errs);
        if (w->st[k] == CHG_ENOMEM)
            rc = CHG_ENOMEM;
    }
    return rc;
}

/* The two lines of one record compared; a difference written to o->out.
 * Counting is emit's, in input order: o->meta gets "S\n" for a record
 * decided the same, "D<bytes>\t<old outcome>\t<new outcome>\t<old
 * risk>\t<new risk>\n" for one that differs (its text the next <bytes>
 * of o->out), "B\n" for a line that is not a record. */
static int compare(const replay *r, rworker *w, unsigned long lineno, chg_batch_out *o)
{
    /* the comparable lines the same: the decisions are, as JSON without
     * policy, version and source (what comparable() below makes of the
     * full lines); else the full lines are written and compared as JSON,
     * which decides (a member of an action's arguments named "source" is
     * dropped there and not by the writer) */
    if (w->line[0].len == w->line[1].len && !memcmp(w->line[0].data, w->line[1].data, w->line[0].len)) {
        release(w, true);
        chg_buf_puts(&o->meta, "S\n");
        return CHG_OK;
    }
    for (int k = 0; k < 2; k++)
        if (w->st[k] == CHG_OK) {
            chg_buf_reset(&w->line[k]);
            chg_decision_write(r->b[k], &w->dec[k], &w->line[k]);
        }
    release(w, true);
    trim_newline(&w->line[0]);
    trim_newline(&w->line[1]);
    if (w->line[0].oom || w->line[1].oom)
        return CHG_ENOMEM;
    int rc = CHG_OK;
    json_t *d[2] = {comparable(&w->line[0]), comparable(&w->line[1])};
    if (!d[0] || !d[1])
        rc = CHG_ENOMEM;
    else if (!json_equal(d[0], d[1])) {
        size_t before = o->out.len;
        write_difference(r, w, lineno, d[0], d[1], &o->out);
        chg_buf_printf(&o->meta, "D%zu\t%s\t%s\t%s\t%s\n", o->out.len - before, outcome_of(d[0]), outcome_of(d[1]),
                       risk_of(d[0]), risk_of(d[1]));
    } else
        chg_buf_puts(&o->meta, "S\n");
    json_decref(d[0]);
    json_decref(d[1]);
    return rc;
}

/* A record of the plain shape (plain_record), decided from its own bytes.
 * 1: declined, take the general path; else CHG_OK or CHG_ENOMEM. */
static int replay_plain(const replay *r, rworker *w, const char *text, size_t len, unsigned long lineno,
                        const char *where, chg_batch_out *o)
{
    mspan ev, at, facts;
    if (!plain_record(text, len, &ev, &at, &facts))
        return 1;
    chg_eval_input in = *r->o->base;
    if (at.p && chg_time_parse_iso(at.p + 1, at.n - 2, &in.now) != CHG_OK)
        return 1;
    if (!at.p && !r->o->has_now && (!chg_bundle_has_at(r->b[0]) || !chg_bundle_has_at(r->b[1])))
        return 1;
    chg_facts *own = NULL;
    if (facts.p) {
        char err[600];
        if (!(own = chg_facts_parse(facts.p, facts.n, err, sizeof err)))
            return strcmp(err, chg_strerror(CHG_ENOMEM)) ? 1 : CHG_ENOMEM;
        in.facts = own;
    }
    /* the event's own bytes, for the intakes' fast path too */
    int rc = decide_both(r, w, ev.p, ev.n, &in, where);
    chg_facts_free(own);
    if (rc != CHG_OK) {
        release(w, true);
        return rc;
    }
    /* an input that gave no decision: its error line is worded on the
     * general path, with the record's own columns */
    if (w->st[0] == CHG_EINVAL || w->st[1] == CHG_EINVAL) {
        release(w, true);
        return 1;
    }
    return compare(r, w, lineno, o);
}

/* One record: its event decided by both policies, compared. Returns CHG_OK,
 * CHG_EINVAL for a record that is not one (named in o->errs) or
 * CHG_ENOMEM. */
static int replay_record(const replay *r, rworker *w, const char *text, size_t len, unsigned long lineno,
                         chg_batch_out *o)
{
    char where[48], err[600];
    chg_drv_line_label(where, lineno);
    if (lineno == 1 && len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        text += 3; /* a byte order mark, as every JSON input here accepts */
        len -= 3;
    }
    int fast = replay_plain(r, w, text, len, lineno, where, o);
    if (fast != 1)
        return fast;
    json_error_t je;
    je.text[0] = 0;
    json_t *rec = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!rec && (je.text[0] == 0 || json_error_code(&je) == json_error_out_of_memory))
        return CHG_ENOMEM;
    const char *why = NULL;
    char whybuf[700];
    json_t *ev = rec ? json_object_get(rec, "event") : NULL;
    json_t *at = rec ? json_object_get(rec, "at") : NULL;
    json_t *facts = rec ? json_object_get(rec, "facts") : NULL;
    chg_eval_input in = *r->o->base;
    chg_facts *own_facts = NULL;
    if (!rec) {
        /* one place, as chgc eval --jsonl says it: "line 2, column 12: …" */
        snprintf(where, sizeof where, "line %lu, column %d", lineno, je.column < 1 ? 1 : je.column);
        why = je.text;
    } else if (!json_is_object(rec))
        why = "a record is a JSON object {\"event\": {…}, \"at\": …, \"facts\": …}";
    else if (!json_is_object(ev))
        why = "\"event\" must be the recorded event, a JSON object";
    else if (at && !(json_is_string(at) && chg_time_parse_iso(json_string_value(at), json_string_length(at),
                                                              &in.now) == CHG_OK))
        why = "\"at\" must be an RFC 3339 instant";
    else if (facts && !json_is_object(facts))
        why = "\"facts\" must be a JSON object (docs/facts.md)";
    else if (!at && !r->o->has_now && (!chg_bundle_has_at(r->b[0]) || !chg_bundle_has_at(r->b[1])))
        why = "no \"at\", and a policy without `at` needs one to judge the change (or give --at)";
    if (!why && facts) {
        char *ft = json_dumps(facts, JSON_COMPACT);
        own_facts = ft ? chg_facts_parse(ft, strlen(ft), err, sizeof err) : NULL;
        free(ft);
        if (!own_facts) {
            snprintf(whybuf, sizeof whybuf, "\"facts\": %s", err);
            why = whybuf;
        } else
            in.facts = own_facts;
    }
    if (why) {
        chg_buf line; /* jansson's "near '…'" quotes the input raw */
        chg_buf_init(&line);
        chg_buf_puts_visible(&line, why);
        chg_buf_printf(&o->errs, "%s: %s\n", where, line.oom ? chg_strerror(CHG_ENOMEM) : line.data ? line.data : "");
        chg_buf_free(&line);
        json_decref(rec);
        chg_buf_puts(&o->meta, "B\n");
        return CHG_EINVAL;
    }
    char *evtext = json_dumps(ev, JSON_COMPACT);
    json_decref(rec);
    if (!evtext) {
        chg_facts_free(own_facts);
        return CHG_ENOMEM;
    }
    int rc = decide_both(r, w, evtext, strlen(evtext), &in, where);
    free(evtext);
    chg_facts_free(own_facts);
    if (rc != CHG_OK) {
        release(w, true);
        return rc;
    }
    return compare(r, w, lineno, o);
}

/* ---- the work, on the batch pool (batch.h) ------------------------------------------ */

static void replay_worker_free(void *ud, void *ws)
{
    (void)ud;
    rworker *w = ws;
    release(w, false);
    for (int k = 0; k < 2; k++) {
        chg_ctx_free(w->ctx[k]);
        chg_buf_free(&w->line[k]);
    }
    chg_buf_free(&w->errs);
    chg_free(w);
}

static void *replay_worker_new(void *ud)
{
    const replay *r = ud;
    rworker *w = chg_calloc(1, sizeof *w);
    if (!w)
        return NULL;
    for (int k = 0; k < 2; k++) {
        chg_buf_init(&w->line[k]);
        w->ctx[k] = chg_ctx_new(r->b[k]);
    }
    chg_buf_init(&w->errs);
    if (!w->ctx[0] || !w->ctx[1]) {
        replay_worker_free(ud, w);
        return NULL;
    }
    return w;
}

static int replay_line(void *ud, void *ws, const char *s, size_t n, unsigned long lineno, bool too_long,
                       const char *too_long_msg, chg_batch_out *o)
{
    if (!ws)
        return CHG_ENOMEM;
    if (too_long) {
        chg_buf_printf(&o->errs, "line %lu: %s\n", lineno, too_long_msg);
        chg_buf_puts(&o->meta, "B\n");
        return CHG_EINVAL;
    }
    return replay_record(ud, ws, s, n, lineno, o);
}

/* A batch's answers written and counted, in input order. */
static void replay_emit(void *ud, const chg_batch_out *o, FILE *out, FILE *errs)
{
    replay *r = ud;
    fwrite(o->errs.data ? o->errs.data : "", 1, o->errs.len, errs);
    const char *m = o->meta.data, *end = m + o->meta.len, *text = o->out.data;
    while (m && m < end) {
        const char *nl = memchr(m, '\n', (size_t)(end - m));
        if (!nl)
            break;
        if (*m == 'B')
            r->bad++;
        else if (*m == 'S')
            r->records++;
        else if (*m == 'D') {
            char *p;
            size_t bytes = strtoul(m + 1, &p, 10);
            char names[4][128];
            for (int k = 0; k < 4; k++) {
                const char *e = k < 3 ? memchr(p + 1, '\t', (size_t)(nl - p - 1)) : nl;
                size_t len = e ? (size_t)(e - p - 1) : 0;
                snprintf(names[k], sizeof names[k], "%.*s", (int)len, p + 1);
                p = (char *)(e ? e : nl);
            }
            r->records++;
            if (r->o->format == CHG_REPLAY_JSON && r->differ)
                fputc(',', out);
            r->differ++;
            fwrite(text, 1, bytes, out);
            text += bytes;
            if (count(&r->outcomes, names[0], names[1]) != CHG_OK ||
                (strcmp(names[2], names[3]) && count(&r->risks, names[2], names[3]) != CHG_OK))
                r->oom = true;
        }
        m = nl + 1;
        chg_progress_tick(r->progress, r->records + r->bad);
    }
}

static int by_count(const void *a, const void *b)
{
    const transition *x = *(transition *const *)a, *y = *(transition *const *)b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->name, y->name);
}

static void write_transitions(replay *r, chg_vec *v, const char *title, FILE *out)
{
    if (v->len > 1)
        qsort(v->items, v->len, sizeof v->items[0], by_count);
    bool json = r->o->format == CHG_REPLAY_JSON;
    if (json)
        fprintf(out, ",\"%s\":{", title);
    else if (v->len)
        fprintf(out, "%s:\n", title);
    for (size_t i = 0; i < v->len; i++) {
        transition *t = v->items[i];
        if (json) {
            chg_buf k;
            chg_buf_init(&k);
            chg_buf_json_string(&k, t->name, strlen(t->name));
            fprintf(out, "%s%.*s:%zu", i ? "," : "", (int)k.len, k.data ? k.data : "", t->count);
            chg_buf_free(&k);
        } else
            fprintf(out, "  %s: %zu\n", t->name, t->count);
    }
    if (json)
        fputc('}', out);
}

static void free_transitions(chg_vec *v)
{
    for (size_t i = 0; i < v->len; i++) {
        transition *t = v->items[i];
        chg_free(t->name);
        chg_free(t);
    }
    chg_vec_free(v);
}

int chg_replay(const chg_bundle *old, const chg_bundle *new_, chg_lines *in, const chg_replay_options *o,
               FILE *out, FILE *msgs, chg_replay_summary *sum, char *err, size_t errlen)
{
    replay r = {.o = o, .b = {old, new_}, .share = chg_bundle_decode_same(old, new_)};
    memset(sum, 0, sizeof *sum);
    chg_vec_init(&r.outcomes);
    chg_vec_init(&r.risks);
    if (o->format == CHG_REPLAY_JSON)
        fputs("{\"differences\":[\n", out);
    r.progress = chg_progress_start(o->progress, "replay", "records");
    chg_batch_work w = {&r, replay_worker_new, replay_worker_free, replay_line, replay_emit};
    bool failed;
    int rc = chg_drv_batch_run(&w, o->threads, in, out, msgs, &failed, err, errlen);
    chg_progress_end(r.progress);
    if (rc == CHG_OK && r.oom) {
        snprintf(err, errlen, "%s", chg_strerror(CHG_ENOMEM));
        rc = CHG_ENOMEM;
    }
    if (rc == CHG_OK) {
        if (o->format == CHG_REPLAY_JSON)
            fprintf(out, "],\"records\":%zu,\"differ\":%zu,\"invalid\":%zu", r.records, r.differ, r.bad);
        else
            fprintf(out, "%zu of %zu decisions differ\n", r.differ, r.records);
        write_transitions(&r, &r.outcomes, "outcomes", out);
        write_transitions(&r, &r.risks, "risks", out);
        if (o->format == CHG_REPLAY_JSON)
            fputs("}\n", out);
        if (fflush(out) != 0 || ferror(out)) {
            snprintf(err, errlen, "cannot write the report");
            rc = CHG_EIO;
        }
    }
    sum->records = r.records;
    sum->differ = r.differ;
    sum->invalid = r.bad;
    free_transitions(&r.outcomes);
    free_transitions(&r.risks);
    return rc;
}
