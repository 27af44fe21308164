/*
 * concurrency.c — the policy's concurrency limits applied to a set of
 * changes in flight (chg_concurrency_check, chg_driver.h).
 *
 * A limit (`concurrency NAME = N of any|risk >= CLASS [per change.F]`,
 * docs/language.md) is about several changes at once, so no decision
 * reads it: the planner hands this function every change with its
 * interval and risk class, and gets back each change that starts while N
 * counted changes of its group are already in flight.
 *
 * Per limit: the counted changes (risk at least the limit's class, or
 * unknown: fail closed, an unclassified change counts everywhere) sorted
 * by group, start and input index; one sweep per group keeps the changes
 * still in flight in start order. Work is O(n log n) plus the in-flight
 * set per start, memory O(n) plus CHG_CONCURRENCY_LISTED per violation,
 * so a plan where everything overlaps cannot make the report quadratic.
 */
#include "chg_driver.h"
#include "chg_time.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One counted change of one limit, for sorting. */
typedef struct entry {
    const char *key; /* its group: the field's value as JSON, "" globally */
    int64_t start, end;
    size_t idx;
} entry;

static int cmp_entry(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    int k = strcmp(x->key, y->key);
    if (k)
        return k;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int cmp_violation(const void *a, const void *b)
{
    const chg_concurrency_violation *x = a, *y = b;
    if (x->limit != y->limit)
        return x->limit < y->limit ? -1 : 1;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return x->change < y->change ? -1 : x->change > y->change;
}

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

/* The value of the dotted path `per` below the change, as compact JSON,
 * read as the decoder reads it: a field that is missing (at any step, or
 * below a value that is not an object) or null takes the schema's
 * default `dflt` (NULL: none), else it is "null". NULL when out of
 * memory. */
static char *group_of(json_t *change, const char *per, json_t *dflt)
{
    json_t *v = change;
    const char *p = per;
    while (v && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        v = json_is_object(v) ? json_object_getn(v, p, n) : NULL;
        p += n + (dot ? 1 : 0);
    }
    if (!v || json_is_null(v))
        v = dflt;
    if (!v || json_is_null(v)) {
        char *s = malloc(5);
        if (s)
            memcpy(s, "null", 5);
        return s;
    }
    return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
}

/* Limit l's default group value as a jansson value, *out NULL when none. */
static int default_of(const chg_bundle *b, uint32_t l, json_t **out)
{
    *out = NULL;
    chg_buf t;
    chg_buf_init(&t);
    int rc = CHG_OK;
    if (chg_bundle_concurrency_default(b, l, &t)) {
        json_error_t je;
        *out = t.data ? json_loadb(t.data, t.len, JSON_DECODE_ANY, &je) : NULL;
        if (!*out)
            rc = CHG_ENOMEM; /* the VM writes valid JSON: only memory fails */
    }
    chg_buf_free(&t);
    return rc;
}

void chg_concurrency_violations_free(chg_concurrency_violation *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].value);
        free(v[i].inflight);
    }
    free(v);
}

/* Append one violation: `change` starts while active[0..nactive) are in
 * flight. */
static int add_violation(chg_concurrency_violation **out, size_t *n, size_t *cap, uint32_t limit, size_t change,
                         int64_t at, const size_t *active, size_t nactive, const char *key, bool per)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        chg_concurrency_violation *v = realloc(*out, c * sizeof *v);
        if (!v)
            return CHG_ENOMEM;
        *out = v;
        *cap = c;
    }
    chg_concurrency_violation *v = &(*out)[*n];
    memset(v, 0, sizeof *v);
    v->limit = limit;
    v->change = change;
    v->at = at;
    v->ninflight = nactive;
    v->nlisted = nactive < CHG_CONCURRENCY_LISTED ? nactive : CHG_CONCURRENCY_LISTED;
    v->inflight = malloc((v->nlisted ? v->nlisted : 1) * sizeof *v->inflight);
    v->value = per ? strdup(key) : NULL;
    if (!v->inflight || (per && !v->value)) {
        free(v->inflight);
        free(v->value);
        return CHG_ENOMEM;
    }
    memcpy(v->inflight, active, v->nlisted * sizeof *active);
    (*n)++;
    return CHG_OK;
}

/* One limit over the entries e[0..m), sorted by group and start. */
static int sweep(uint32_t limit, uint32_t max, bool per, const entry *e, size_t m, size_t *active,
                 chg_concurrency_violation **out, size_t *n, size_t *cap)
{
    size_t g = 0;
    while (g < m) {
        size_t end = g;
        while (end < m && strcmp(e[end].key, e[g].key) == 0)
            end++;
        size_t nactive = 0; /* indexes into e, in start order */
        for (size_t i = g; i < end; i++) {
            size_t keep = 0;
            for (size_t k = 0; k < nactive; k++)
                if (e[active[k]].end > e[i].start)
                    active[keep++] = active[k];
            nactive = keep;
            if (nactive >= max) {
                size_t listed[CHG_CONCURRENCY_LISTED];
                size_t nl = nactive < CHG_CONCURRENCY_LISTED ? nactive : CHG_CONCURRENCY_LISTED;
                for (size_t k = 0; k < nl; k++)
                    listed[k] = e[active[k]].idx;
                int rc = add_violation(out, n, cap, limit, e[i].idx, e[i].start, listed, nactive, e[i].key, per);
                if (rc != CHG_OK)
                    return rc;
            }
            active[nactive++] = i;
        }
        g = end;
    }
    return CHG_OK;
}

int chg_concurrency_check(const chg_bundle *b, const chg_inflight *changes, size_t n,
                          chg_concurrency_violation **out, size_t *nout, char *err, size_t errlen)
{
    *out = NULL;
    *nout = 0;
    uint32_t nlimits = chg_bundle_nconcurrency(b);
    int nrisks = 0;
    while (chg_bundle_risk_name(b, nrisks))
        nrisks++;
    for (size_t i = 0; i < n; i++) {
        const char *id = changes[i].id ? changes[i].id : "";
        if (changes[i].end <= changes[i].start)
            return fail(err, errlen, CHG_EINVAL, "change %zu (%s): it ends before it starts", i, id);
        if (changes[i].risk < -1 || changes[i].risk >= nrisks)
            return fail(err, errlen, CHG_EINVAL, "change %zu (%s): risk class %d is not one of the policy's", i, id,
                        changes[i].risk);
    }
    bool any_per = false;
    for (uint32_t l = 0; l < nlimits; l++) {
        chg_concurrency_info info;
        chg_bundle_concurrency(b, l, &info);
        any_per |= info.per != NULL;
    }
    if (nlimits == 0 || n == 0)
        return CHG_OK;

    int rc = CHG_OK;
    json_t **docs = any_per ? calloc(n, sizeof *docs) : NULL;
    char **keys = any_per ? calloc(n, sizeof *keys) : NULL;
    entry *e = malloc(n * sizeof *e);
    size_t *active = malloc(n * sizeof *active);
    chg_concurrency_violation *v = NULL;
    size_t nv = 0, cap = 0;
    if ((any_per && (!docs || !keys)) || !e || !active) {
        rc = fail(err, errlen, CHG_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; any_per && i < n; i++) {
        if (!changes[i].change)
            continue; /* no fields: every group value is null */
        json_error_t je;
        docs[i] = json_loadb(changes[i].change, changes[i].len, JSON_REJECT_DUPLICATES, &je);
        if (!docs[i] || !json_is_object(docs[i])) {
            rc = fail(err, errlen, CHG_EINVAL, "change %zu (%s): not a JSON object%s%s", i,
                      changes[i].id ? changes[i].id : "", docs[i] ? "" : ": ", docs[i] ? "" : je.text);
            goto done;
        }
    }
    for (uint32_t l = 0; l < nlimits && rc == CHG_OK; l++) {
        chg_concurrency_info info;
        chg_bundle_concurrency(b, l, &info);
        json_t *dflt = NULL;
        if (info.per && default_of(b, l, &dflt) != CHG_OK) {
            rc = fail(err, errlen, CHG_ENOMEM, "out of memory");
            goto done;
        }
        for (size_t i = 0; info.per && i < n; i++) {
            free(keys[i]);
            keys[i] = group_of(docs[i], info.per, dflt);
            if (!keys[i]) {
                json_decref(dflt);
                rc = fail(err, errlen, CHG_ENOMEM, "out of memory");
                goto done;
            }
        }
        json_decref(dflt);
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            int r = changes[i].risk;
            if (info.min_risk >= 0 && r >= 0 && r < info.min_risk)
                continue; /* below the limit's class; unknown counts */
            e[m++] = (entry){info.per ? keys[i] : "", changes[i].start, changes[i].end, i};
        }
        qsort(e, m, sizeof *e, cmp_entry);
        if (sweep(l, info.max, info.per != NULL, e, m, active, &v, &nv, &cap) != CHG_OK)
            rc = fail(err, errlen, CHG_ENOMEM, "out of memory");
    }
done:
    for (size_t i = 0; docs && i < n; i++)
        json_decref(docs[i]);
    for (size_t i = 0; keys && i < n; i++)
        free(keys[i]);
    free(docs);
    free(keys);
    free(e);
    free(active);
    if (rc != CHG_OK) {
        chg_concurrency_violations_free(v, nv);
        return rc;
    }
    if (nv)
        qsort(v, nv, sizeof *v, cmp_violation);
    *out = v;
    *nout = nv;
    return CHG_OK;
}

static void put_id(chg_buf *out, const chg_inflight *c)
{
    chg_buf_putc(out, '"');
    const char *id = c->id ? c->id : "";
    chg_buf_put_visible(out, id, strlen(id));
    chg_buf_putc(out, '"');
}

void chg_concurrency_violation_text(const chg_bundle *b, const chg_inflight *changes,
                                    const chg_concurrency_violation *v, chg_buf *out)
{
    chg_concurrency_info info;
    chg_bundle_concurrency(b, v->limit, &info);
    char at[32];
    chg_time_format_utc(changes[v->change].start, at);
    chg_buf_puts(out, "change ");
    put_id(out, &changes[v->change]);
    chg_buf_printf(out, " starts at %s while %zu %s in flight", at, v->ninflight,
                   v->ninflight == 1 ? "change is" : "changes are");
    if (info.per) {
        chg_buf_printf(out, " with change.%s = ", info.per);
        chg_buf_put_visible(out, v->value, strlen(v->value));
    }
    chg_buf_puts(out, " (");
    for (size_t k = 0; k < v->nlisted; k++) {
        if (k)
            chg_buf_puts(out, ", ");
        put_id(out, &changes[v->inflight[k]]);
    }
    if (v->ninflight > v->nlisted)
        chg_buf_printf(out, " and %zu more", v->ninflight - v->nlisted);
    chg_buf_printf(out, "): concurrency %s allows %u of ", info.name, info.max);
    if (info.min_risk < 0)
        chg_buf_puts(out, "any");
    else
        chg_buf_printf(out, "risk >= %s", chg_bundle_risk_name(b, info.min_risk));
    if (info.per)
        chg_buf_printf(out, " per change.%s", info.per);
}
