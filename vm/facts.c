/*
 * facts.c — what a decision knows besides the change: runtime flags and
 * answers of external queries, in one JSON shape shared by every program
 * (docs/facts.md):
 *
 *   {"flags":   {"incident-freeze": true},
 *    "queries": [{"call": "aws.cloudwatch.alarm_state", "args": ["payments-5xx"],
 *                 "result": "OK"}]}
 *
 * This is the resolver for dry runs and tests; chgd supplies the same
 * shape from its state and from AWS.
 */
#include "vm_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Empty facts: no flags (every flag reads false) and no answers (every
 * query is unanswered, an `error` decision if the policy needs one). */
static chg_facts *facts_new(void)
{
    chg_facts *f = chg_calloc(1, sizeof *f);
    if (f)
        chg_arena_init(&f->arena);
    return f;
}

void chg_facts_free(chg_facts *f)
{
    if (!f)
        return;
    json_decref(f->json);
    chg_free(f->flag_names);
    chg_free(f->flag_values);
    chg_arena_free(&f->arena);
    chg_free(f);
}

/* The index of name among the sorted flags, or where it would go (*found
 * says which): a binary search, so a facts file of n flags loads in
 * O(n log n) and a lookup costs O(log n). */
static uint32_t flag_index(const chg_facts *f, const char *name, bool *found)
{
    uint32_t lo = 0, hi = f->nflags;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = strcmp(f->flag_names[mid], name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static int grow_flags(chg_facts *f)
{
    if (f->nflags < f->capflags)
        return CHG_OK;
    uint32_t cap = f->capflags ? f->capflags * 2 : 8;
    const char **n = chg_realloc(f->flag_names, cap * sizeof *n);
    if (!n)
        return CHG_ENOMEM;
    f->flag_names = n;
    bool *v = chg_realloc(f->flag_values, cap * sizeof *v);
    if (!v)
        return CHG_ENOMEM;
    f->flag_values = v;
    f->capflags = cap;
    return CHG_OK;
}

typedef struct flag_pair {
    const char *name;
    bool value;
} flag_pair;

static int by_flag_name(const void *a, const void *b)
{
    return strcmp(((const flag_pair *)a)->name, ((const flag_pair *)b)->name);
}

/* Sort the flags by name (the loader appends them in file order); a
 * temporary array of pairs keeps names and values together. False when
 * it cannot be had. */
static bool sort_flags(chg_facts *f)
{
    flag_pair *p = chg_calloc(f->nflags + 1, sizeof *p);
    if (!p)
        return false;
    for (uint32_t i = 0; i < f->nflags; i++)
        p[i] = (flag_pair){f->flag_names[i], f->flag_values[i]};
    qsort(p, f->nflags, sizeof *p, by_flag_name);
    for (uint32_t i = 0; i < f->nflags; i++) {
        f->flag_names[i] = p[i].name;
        f->flag_values[i] = p[i].value;
    }
    chg_free(p);
    return true;
}

/* Set or replace a flag; the caller's name is copied. On CHG_ENOMEM f is unchanged: the arrays grow
 * before the flag is added, and a grown array with the old count is still
 * consistent. One flag costs O(n) (the insertion); the loader adds a
 * whole file's flags at once instead (add_flags). */
int chg_facts_set_flag(chg_facts *f, const char *name, bool value)
{
    bool found;
    uint32_t at = flag_index(f, name, &found);
    if (found) {
        f->flag_values[at] = value;
        return CHG_OK;
    }
    const char *copy = grow_flags(f) == CHG_OK ? chg_arena_strdup(&f->arena, name) : NULL;
    if (!copy)
        return CHG_ENOMEM;
    memmove(f->flag_names + at + 1, f->flag_names + at, (f->nflags - at) * sizeof *f->flag_names);
    memmove(f->flag_values + at + 1, f->flag_values + at, (f->nflags - at) * sizeof *f->flag_values);
    f->flag_names[at] = copy;
    f->flag_values[at] = value;
    f->nflags++;
    return CHG_OK;
}

/* Whether the flag is set at all, its value in *value if so (*value is
 * untouched otherwise: callers start it false, since a flag that is not
 * set is false). f may be NULL (an evaluation without facts). */
bool chg_vm_facts_flag(const chg_facts *f, const char *name, bool *value)
{
    if (!f)
        return false;
    bool found;
    uint32_t at = flag_index(f, name, &found);
    if (found)
        *value = f->flag_values[at];
    return found;
}

bool chg_facts_flag(const chg_facts *f, const char *name)
{
    bool v = false;
    chg_vm_facts_flag(f, name, &v);
    return v;
}

/* A linear scan: facts files hold a handful of answers, and a query is
 * asked a few times per decision at most. Arguments compare as values
 * (chg_vm_value_equal), so 1 and 1.0, or an enum value and its string, match. */
const chg_value *chg_vm_facts_answer(const chg_facts *f, const char *call, const chg_value *args, uint32_t nargs)
{
    for (uint32_t i = 0; i < f->nqueries; i++) {
        const chg_fact_query *q = &f->queries[i];
        if (q->nargs != nargs || strcmp(q->call, call) != 0)
            continue;
        bool same = true;
        for (uint32_t k = 0; k < nargs && same; k++)
            same = chg_vm_value_equal(&q->args[k], &args[k]);
        if (same)
            return &q->result;
    }
    return NULL;
}

/* Not the file's fault: exactly "out of memory", with no JSON path, so
 * that callers can tell it from a mistake in the facts. */
static chg_facts *nomem(chg_facts *f, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", chg_strerror(CHG_ENOMEM));
    chg_facts_free(f);
    return NULL;
}

static chg_facts *bad(chg_facts *f, char *err, size_t errlen, const char *path, const char *why)
{
    snprintf(err, errlen, "facts: %s: %s", path, why);
    chg_facts_free(f);
    return NULL;
}

/* Strict: an unknown key, a flag that is not a bool or a query without a
 * result is an error naming its JSON path, because a misspelt facts file
 * would otherwise change decisions silently. Query names and string
 * arguments point into the parsed document, kept in f->json for that. */
chg_facts *chg_facts_parse(const char *text, size_t len, char *err, size_t errlen)
{
    chg_facts *f = facts_new();
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (!text)
        return f;
    /* duplicate keys are refused, as in changes: a flag given twice with
     * two values has no one meaning */
    json_t *doc = chg_vm_json_parse(text, len, JSON_REJECT_DUPLICATES, "facts", err, errlen);
    if (!doc) {
        chg_facts_free(f);
        return NULL;
    }
    f->json = doc;
    if (!json_is_object(doc))
        return bad(f, err, errlen, "the top level", "expected an object with \"flags\" and \"queries\"");
    const char *key;
    json_t *val;
    json_object_foreach(doc, key, val) {
        if (strcmp(key, "flags") != 0 && strcmp(key, "queries") != 0) {
            char path[300];
            snprintf(path, sizeof path, ".%s", key);
            return bad(f, err, errlen, path, "unknown key (expected \"flags\" or \"queries\")");
        }
    }
    json_t *flags = json_object_get(doc, "flags");
    if (flags) {
        if (!json_is_object(flags))
            return bad(f, err, errlen, ".flags", "expected an object of flag names to true or false");
        /* appended, then sorted once: loading n flags is O(n log n), where
         * a chg_facts_set_flag each would be O(n^2); the names point into
         * the document, kept in f->json (jansson refused duplicate keys) */
        json_object_foreach(flags, key, val) {
            if (!json_is_boolean(val)) {
                char path[300];
                snprintf(path, sizeof path, ".flags[\"%s\"]", key);
                return bad(f, err, errlen, path, "expected true or false");
            }
            if (grow_flags(f) != CHG_OK)
                return nomem(f, err, errlen);
            f->flag_names[f->nflags] = key;
            f->flag_values[f->nflags++] = json_is_true(val);
        }
        if (!sort_flags(f))
            return nomem(f, err, errlen);
    }
    json_t *qs = json_object_get(doc, "queries");
    if (qs) {
        if (!json_is_array(qs))
            return bad(f, err, errlen, ".queries", "expected a list of {call, args, result}");
        f->nqueries = (uint32_t)json_array_size(qs);
        f->queries = chg_arena_alloc(&f->arena, sizeof *f->queries * (f->nqueries + 1));
        if (!f->queries)
            return nomem(f, err, errlen);
        for (uint32_t i = 0; i < f->nqueries; i++) {
            json_t *q = json_array_get(qs, i);
            char path[64];
            snprintf(path, sizeof path, ".queries[%u]", i);
            if (!json_is_object(q))
                return bad(f, err, errlen, path, "expected an object {call, args, result}");
            json_t *call = json_object_get(q, "call"), *args = json_object_get(q, "args"),
                   *res = json_object_get(q, "result");
            json_object_foreach(q, key, val) {
                if (strcmp(key, "call") && strcmp(key, "args") && strcmp(key, "result")) {
                    char p2[300];
                    snprintf(p2, sizeof p2, "%s.%s", path, key);
                    return bad(f, err, errlen, p2, "unknown key (expected call, args, result)");
                }
            }
            if (!json_is_string(call)) {
                strncat(path, ".call", sizeof path - strlen(path) - 1);
                return bad(f, err, errlen, path, "expected the query's name, a string");
            }
            if (args && !json_is_array(args)) {
                strncat(path, ".args", sizeof path - strlen(path) - 1);
                return bad(f, err, errlen, path, "expected a list of arguments");
            }
            if (!res) {
                strncat(path, ".result", sizeof path - strlen(path) - 1);
                return bad(f, err, errlen, path, "missing: what the query answers");
            }
            /* args absent means no arguments; a query asked with arguments
             * does not match an answer listed without, since the count is
             * compared first */
            chg_fact_query *fq = &f->queries[i];
            fq->call = json_string_value(call);
            fq->nargs = args ? (uint32_t)json_array_size(args) : 0;
            fq->args = chg_arena_alloc(&f->arena, sizeof(chg_value) * (fq->nargs + 1));
            if (!fq->args)
                return nomem(f, err, errlen);
            for (uint32_t k = 0; k < fq->nargs; k++)
                chg_vm_value_from_json(json_array_get(args, k), &fq->args[k]);
            chg_vm_value_from_json(res, &fq->result);
        }
    }
    return f;
}

/* A flag or query answer in the facts that the policy never reads is a
 * typo more often than not (`incidnet`): the decision then goes as if the
 * flag were unset. One line each, with the closest name the policy reads. */
size_t chg_facts_unread(const chg_facts *f, const chg_bundle *b, chg_buf *out)
{
    const char *flags[64], *queries[64];
    size_t nf = 0, nq = 0;
    for (uint32_t i = 0; i < b->nflag_strs && nf < 64; i++)
        flags[nf++] = b->str[b->flag_strs[i]];
    for (uint32_t i = 0; i < b->nbuiltins && nq < 64; i++)
        if (b->builtin_info[i]->query)
            queries[nq++] = b->builtin_info[i]->name;
    size_t n = 0;
    for (uint32_t i = 0; f && i < f->nflags; i++) {
        if (chg_bundle_reads_flag(b, f->flag_names[i]))
            continue;
        const char *near = chg_closest_name(f->flag_names[i], flags, nf);
        /* names are the facts file's text: visible (chg_base.h), one line each */
        chg_buf_puts(out, "flag '");
        chg_buf_puts_visible(out, f->flag_names[i]);
        chg_buf_printf(out, "' is never read by the policy%s", near ? " (did you mean '" : "");
        if (near) {
            chg_buf_puts_visible(out, near);
            chg_buf_puts(out, "'?)");
        }
        chg_buf_putc(out, '\n');
        n++;
    }
    for (uint32_t i = 0; f && i < f->nqueries; i++) {
        if (chg_bundle_reads_query(b, f->queries[i].call))
            continue;
        const char *near = chg_closest_name(f->queries[i].call, queries, nq);
        chg_buf_puts(out, "query ");
        chg_buf_puts_visible(out, f->queries[i].call);
        chg_buf_printf(out, " is never asked by the policy%s", near ? " (did you mean " : "");
        if (near) {
            chg_buf_puts_visible(out, near);
            chg_buf_puts(out, "?)");
        }
        chg_buf_putc(out, '\n');
        n++;
    }
    return n;
}
