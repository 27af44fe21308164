/*
 * replay.c — `chgc replay`: decide recorded events under two policies and
 * report the decisions that differ, so a policy change can be judged by
 * what it would have done to real traffic before it is merged.
 *
 * A record is one JSON line {"event": {…}, "at": "RFC 3339", "facts": {…}}
 * (`at` and `facts` optional; other members, such as the audit export's
 * `seq`, ignored). Each record is decided by the same code as `chgc eval`
 * (chg_decide_json: intake, validation, the decision writer) once per
 * policy, and the two lines are compared as JSON with what naturally
 * differs between two versions of one policy left out: `policy`,
 * `version` and every `source` position (an edit above a rule moves it).
 *
 * Everything is deterministic: one thread, records in input order, no
 * clock (a record without `at` takes --at, and with neither a policy that
 * has no `at` of its own cannot judge it: that record is an input error),
 * transitions sorted by count, then by name.
 */
#include "chg_driver.h"
#include "chg_time.h"

#include <jansson.h>
#include <string.h>

/* One transition "allow → pending" and how often it happened. */
typedef struct transition {
    char *name;
    size_t count;
} transition;

typedef struct replay {
    const chg_replay_options *o;
    chg_ctx *ctx[2];
    const chg_bundle *b[2];
    chg_buf line[2], errs;
    chg_vec outcomes, risks; /* transition * */
    size_t records, differ, bad;
    FILE *out, *msgs;
} replay;

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

/* Write one difference: text "line N: change ID: old → new …" with both
 * decisions under it, or one JSON object of the "differences" array. */
static void write_difference(replay *r, unsigned long lineno, const json_t *a, const json_t *b)
{
    chg_buf w;
    chg_buf_init(&w);
    trim_newline(&r->line[0]);
    trim_newline(&r->line[1]);
    const char *id = change_id(a, b);
    if (r->o->format == CHG_REPLAY_JSON) {
        chg_buf_printf(&w, "%s{\"line\":%lu,\"change\":", r->differ > 1 ? "," : "", lineno);
        chg_buf_json_string(&w, id, strlen(id));
        chg_buf_puts(&w, ",\"changed\":[");
        changed_members(a, b, &w, true);
        chg_buf_printf(&w, "],\"old\":%.*s,\"new\":%.*s}\n", (int)r->line[0].len, r->line[0].data,
                       (int)r->line[1].len, r->line[1].data);
    } else {
        chg_buf_printf(&w, "line %lu: change %s: %s \u2192 %s", lineno, id, outcome_of(a), outcome_of(b));
        if (strcmp(risk_of(a), risk_of(b)))
            chg_buf_printf(&w, ", risk %s \u2192 %s", risk_of(a), risk_of(b));
        chg_buf_puts(&w, " (");
        changed_members(a, b, &w, false);
        chg_buf_printf(&w, ")\n  old: %.*s\n  new: %.*s\n", (int)r->line[0].len, r->line[0].data,
                       (int)r->line[1].len, r->line[1].data);
    }
    fwrite(w.data, 1, w.len, r->out);
    chg_buf_free(&w);
}

/* One record: its event decided by both policies, compared. Returns CHG_OK,
 * CHG_EINVAL for a record that is not one (named in msgs) or CHG_ENOMEM. */
static int replay_record(replay *r, const char *text, size_t len, unsigned long lineno)
{
    char where[48], err[600];
    snprintf(where, sizeof where, "line %lu", lineno);
    if (lineno == 1 && len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        text += 3; /* a byte order mark, as every JSON input here accepts */
        len -= 3;
    }
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
        fprintf(r->msgs, "%s: %s\n", where, line.oom ? chg_strerror(CHG_ENOMEM) : line.data ? line.data : "");
        chg_buf_free(&line);
        json_decref(rec);
        r->bad++;
        return CHG_EINVAL;
    }
    char *evtext = json_dumps(ev, JSON_COMPACT);
    json_decref(rec);
    if (!evtext) {
        chg_facts_free(own_facts);
        return CHG_ENOMEM;
    }
    int rc = CHG_OK;
    json_t *d[2] = {NULL, NULL};
    for (int k = 0; k < 2 && rc == CHG_OK; k++) {
        chg_buf_reset(&r->line[k]);
        chg_buf_reset(&r->errs);
        /* not a change under this policy (its intake or schema refuses it):
         * the error line is that policy's answer, compared like a decision */
        if (chg_decide_json(r->ctx[k], r->b[k], evtext, strlen(evtext), &in, where, false, &r->line[k],
                            &r->errs) == CHG_ENOMEM ||
            !(d[k] = comparable(&r->line[k])))
            rc = CHG_ENOMEM;
    }
    free(evtext);
    chg_facts_free(own_facts);
    r->records++;
    if (rc == CHG_OK && !json_equal(d[0], d[1])) {
        r->differ++;
        if (count(&r->outcomes, outcome_of(d[0]), outcome_of(d[1])) != CHG_OK ||
            (strcmp(risk_of(d[0]), risk_of(d[1])) && count(&r->risks, risk_of(d[0]), risk_of(d[1])) != CHG_OK))
            rc = CHG_ENOMEM;
        else
            write_difference(r, lineno, d[0], d[1]);
    }
    json_decref(d[0]);
    json_decref(d[1]);
    return rc;
}

static int by_count(const void *a, const void *b)
{
    const transition *x = *(transition *const *)a, *y = *(transition *const *)b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->name, y->name);
}

static void write_transitions(replay *r, chg_vec *v, const char *title)
{
    if (v->len > 1)
        qsort(v->items, v->len, sizeof v->items[0], by_count);
    bool json = r->o->format == CHG_REPLAY_JSON;
    if (json)
        fprintf(r->out, ",\"%s\":{", title);
    else if (v->len)
        fprintf(r->out, "%s:\n", title);
    for (size_t i = 0; i < v->len; i++) {
        transition *t = v->items[i];
        if (json) {
            chg_buf k;
            chg_buf_init(&k);
            chg_buf_json_string(&k, t->name, strlen(t->name));
            fprintf(r->out, "%s%.*s:%zu", i ? "," : "", (int)k.len, k.data ? k.data : "", t->count);
            chg_buf_free(&k);
        } else
            fprintf(r->out, "  %s: %zu\n", t->name, t->count);
    }
    if (json)
        fputc('}', r->out);
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
    replay r = {.o = o, .b = {old, new_}, .out = out, .msgs = msgs};
    memset(sum, 0, sizeof *sum);
    for (int k = 0; k < 2; k++)
        chg_buf_init(&r.line[k]);
    chg_buf_init(&r.errs);
    chg_vec_init(&r.outcomes);
    chg_vec_init(&r.risks);
    int rc = CHG_OK;
    r.ctx[0] = chg_ctx_new(old);
    r.ctx[1] = chg_ctx_new(new_);
    if (!r.ctx[0] || !r.ctx[1])
        rc = CHG_ENOMEM;
    if (rc == CHG_OK && o->format == CHG_REPLAY_JSON)
        fputs("{\"differences\":[\n", out);
    chg_progress *progress = chg_progress_start(o->progress, "replay", "records");
    while (rc == CHG_OK) {
        const char *line;
        size_t len;
        unsigned long lineno;
        int n = chg_lines_next(in, &line, &len, &lineno, err, errlen);
        if (n == 0)
            break;
        if (n == CHG_ERANGE) {
            fprintf(msgs, "line %lu: the line is longer than the limit (%zu bytes)\n", lineno, chg_lines_limit(in));
            r.bad++;
            continue;
        }
        if (n < 0) {
            rc = n;
            break;
        }
        int k = replay_record(&r, line, len, lineno);
        if (k == CHG_ENOMEM)
            rc = k;
        chg_progress_tick(progress, r.records + r.bad);
    }
    chg_progress_end(progress);
    if (rc == CHG_ENOMEM)
        snprintf(err, errlen, "%s", chg_strerror(CHG_ENOMEM));
    if (rc == CHG_OK) {
        if (o->format == CHG_REPLAY_JSON)
            fprintf(out, "],\"records\":%zu,\"differ\":%zu,\"invalid\":%zu", r.records, r.differ, r.bad);
        else
            fprintf(out, "%zu of %zu decisions differ\n", r.differ, r.records);
        write_transitions(&r, &r.outcomes, "outcomes");
        write_transitions(&r, &r.risks, "risks");
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
    chg_ctx_free(r.ctx[0]);
    chg_ctx_free(r.ctx[1]);
    for (int k = 0; k < 2; k++)
        chg_buf_free(&r.line[k]);
    chg_buf_free(&r.errs);
    return rc;
}
