/*
 * testrun.c — runs `test` blocks against a bundle and reports them in
 * text, TAP 13, JUnit XML or JSON. Expectations are compared with the
 * decision as the one decision writer prints it, so a test sees exactly
 * what `chgc eval` and chgd would.
 *
 * Lists (missing, reasons, warnings, actions, freezes) compare as
 * multisets: a test says what must be there, not in which order the
 * evaluator found it. Output holds no timings, so it is deterministic.
 */
#include "chg_driver.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "chg_time.h"

/* --run: a PCRE2 pattern searched anywhere in a test's name (not
 * anchored: `--run deny` selects every test with "deny" in its name, as
 * `go test -run` does), compiled once per session. A pattern that does
 * not compile is CHG_EINVAL with PCRE2's message and offset in err. */
typedef struct selector {
    pcre2_code *re;         /* NULL: every test */
    pcre2_match_data *md;
} selector;

static int selector_compile(selector *sel, const char *run, char *err, size_t errlen)
{
    sel->re = NULL;
    sel->md = NULL;
    if (!run)
        return CHG_OK;
    int code;
    PCRE2_SIZE off;
    sel->re = pcre2_compile((PCRE2_SPTR)run, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &code, &off, NULL);
    if (!sel->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        snprintf(err, errlen, "at offset %zu: %s", (size_t)off, (const char *)msg);
        return CHG_EINVAL;
    }
    sel->md = pcre2_match_data_create_from_pattern(sel->re, NULL);
    if (!sel->md) { /* not "no test matches" */
        pcre2_code_free(sel->re);
        sel->re = NULL;
        snprintf(err, errlen, "out of memory");
        return CHG_ENOMEM;
    }
    return CHG_OK;
}

static void selector_free(selector *sel)
{
    pcre2_match_data_free(sel->md);
    pcre2_code_free(sel->re);
}

/* Mark in keep[] (n entries) the cases the selector takes. */
static void select_cases(const selector *sel, const chg_test_case *cases, size_t n, bool *keep)
{
    for (size_t i = 0; i < n; i++)
        keep[i] = !sel->re ||
                  pcre2_match(sel->re, (PCRE2_SPTR)cases[i].name, strlen(cases[i].name), 0, 0, sel->md, NULL) >= 0;
}

/* ---- comparing --------------------------------------------------------------------- */

/* The names a decision list holds: strings as they are, objects by key. */
static json_t *names_of(const json_t *list, const char *key)
{
    json_t *out = json_array();
    size_t i;
    const json_t *v;
    json_array_foreach(list, i, v)
    {
        const json_t *s = key ? json_object_get(v, key) : v;
        if (json_is_string(s))
            json_array_append_new(out, json_string(json_string_value(s)));
    }
    return out;
}

/* a and b hold the same items, each as often, in any order. Greedy
 * matching is exact here: equality is an equivalence, so any unused equal
 * partner is as good as another. Quadratic, for the few items a test
 * lists; past 256 (no real test) the order has to agree as well. */
static bool same_multiset(const json_t *a, const json_t *b)
{
    if (json_array_size(a) != json_array_size(b))
        return false;
    size_t n = json_array_size(a);
    bool used[256] = {false};
    if (n > 256)
        return json_equal(a, b);
    for (size_t i = 0; i < n; i++) {
        bool found = false;
        for (size_t k = 0; k < n && !found; k++)
            if (!used[k] && json_equal(json_array_get(a, i), json_array_get(b, k)))
                used[k] = found = true;
        if (!found)
            return false;
    }
    return true;
}

/* A failure message shows values as compact JSON, the form the test
 * wrote them in; JSON_ENCODE_ANY because want/got may be scalars. */
static void dump(chg_buf *out, const json_t *j)
{
    char *s = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
    chg_buf_puts(out, s ? s : "null");
    free(s);
}

/* Compare one expectation; on failure append a line to fail. The decision
 * is read back from the JSON the decision writer produced (not from the C
 * struct), so an expectation means what a consumer of `chgc eval` sees:
 * list keys compare the names the lists hold (rules, calls, approvers),
 * next_open, closes_at and cutoff_at are looked up inside "window", and a key the
 * decision lacks compares as null. */
static void compare(const chg_test_expect *x, const json_t *d, chg_buf *fail)
{
    /* The compiler stored the expected value as JSON text it produced
     * itself, so it parses; want is NULL only when out of memory, and then
     * json_equal fails and the expectation is reported, never passed. */
    json_t *want = json_loads(x->value, JSON_DECODE_ANY, NULL);
    json_t *got = NULL;
    bool ok;
    const char *k = x->key;
    const json_t *window = json_object_get(d, "window");
    if (!strcmp(k, "missing"))
        got = names_of(json_object_get(json_object_get(d, "approvals"), "missing"), NULL);
    else if (!strcmp(k, "reasons") || !strcmp(k, "warnings"))
        got = names_of(json_object_get(d, k), "rule");
    else if (!strcmp(k, "actions"))
        got = names_of(json_object_get(d, "actions"), "call");
    else if (!strcmp(k, "freezes"))
        got = names_of(json_object_get(d, "freezes"), NULL);
    else if (!strcmp(k, "next_open") || !strcmp(k, "closes_at") || !strcmp(k, "cutoff_at")) {
        got = json_is_object(window) ? json_incref(json_object_get(window, k)) : NULL;
        if (!got)
            got = json_null();
    } else {
        got = json_incref(json_object_get(d, k));
        if (!got)
            got = json_null();
    }
    /* A list on the expecting side compares as a multiset; a scalar (or an
     * object, such as `approvals`) must equal exactly. */
    if (json_is_array(want))
        ok = json_is_array(got) && same_multiset(want, got);
    else
        ok = json_equal(want, got);
    if (!ok) {
        chg_buf_printf(fail, "%s: expect %s: want ", x->source, k);
        dump(fail, want);
        chg_buf_puts(fail, ", got ");
        dump(fail, got);
        chg_buf_putc(fail, '\n');
    }
    json_decref(want);
    json_decref(got);
}

/* ---- running --------------------------------------------------------------------- */

/* A buffer's text, never NULL: an empty buffer has no data yet, and the
 * reports print failures and decisions as strings without a NULL test. */
static char *take(chg_buf *b)
{
    if (!b->data)
        chg_buf_puts(b, "");
    return chg_buf_take(b);
}

static bool is_nomem(const char *err) { return strcmp(err, chg_strerror(CHG_ENOMEM)) == 0; }

/* Every case runs on one context, as a stream of decisions would, so the
 * tests also exercise the context's reuse. Coverage: a rule counts as hit
 * when its condition held and it acted in some test (chg_ctx_rule_applied),
 * a classify arm when it chose the risk. On CHG_ENOMEM the suite holds
 * what was done so far; the caller frees it either way. */
int chg_test_run(const chg_bundle *b, const char *policy, const chg_test_case *cases, size_t n, const bool *keep,
                 int64_t default_now, chg_test_suite *s)
{
    memset(s, 0, sizeof *s);
    s->policy = chg_strdup(policy);
    s->results = chg_calloc(n + 1, sizeof *s->results);
    s->nrules = chg_bundle_nrules(b);
    s->narms = chg_bundle_narms(b);
    s->rule_hit = chg_calloc(s->nrules + 1, 1);
    s->arm_hit = chg_calloc(s->narms + 1, 1);
    s->rule_names = chg_calloc(s->nrules + 1, sizeof(char *));
    s->rule_sources = chg_calloc(s->nrules + 1, sizeof(char *));
    s->arm_names = chg_calloc(s->narms + 1, sizeof(char *));
    s->arm_sources = chg_calloc(s->narms + 1, sizeof(char *));
    /* One allocation test for all. Partial allocations stay in s for
     * the caller's chg_test_suite_free, which tolerates NULL arrays; the
     * per-name loops below fill the arrays in order, so a NULL entry
     * stops both the run and the free at the same place. */
    chg_ctx *ctx = chg_ctx_new(b);
    if (!s->policy || !s->results || !s->rule_hit || !s->arm_hit || !s->rule_names || !s->rule_sources ||
        !s->arm_names || !s->arm_sources || !ctx) {
        chg_ctx_free(ctx);
        return CHG_ENOMEM;
    }
    /* Names and source positions are copied out of the bundle so that the
     * suite outlives it: chg_test_files frees each bundle as soon as its
     * file's tests ran, and the report is rendered after all files. */
    char src[512];
    for (uint32_t i = 0; i < s->nrules; i++) {
        s->rule_names[i] = chg_strdup(chg_bundle_rule_name(b, i));
        s->rule_sources[i] = chg_strdup(chg_bundle_rule_source(b, i, src, sizeof src));
        if (!s->rule_names[i] || !s->rule_sources[i]) {
            chg_ctx_free(ctx);
            return CHG_ENOMEM;
        }
    }
    for (uint32_t i = 0; i < s->narms; i++) {
        char label[256];
        snprintf(label, sizeof label, chg_bundle_arm_is_default(b, i) ? "default %s" : "%s", chg_bundle_arm_class(b, i));
        s->arm_names[i] = chg_strdup(label);
        s->arm_sources[i] = chg_strdup(chg_bundle_arm_source(b, i, src, sizeof src));
        if (!s->arm_names[i] || !s->arm_sources[i]) {
            chg_ctx_free(ctx);
            return CHG_ENOMEM;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (keep && !keep[i])
            continue;
        const chg_test_case *t = &cases[i];
        chg_test_result *r = &s->results[s->n++];
        r->name = chg_strdup(t->name);
        r->file = chg_strdup(t->file);
        r->source = chg_strdup(t->source);
        if (!r->name || !r->file || !r->source) {
            chg_ctx_free(ctx);
            return CHG_ENOMEM;
        }
        chg_buf fail;
        chg_buf_init(&fail);
        char err[1024];
        /* The test's `given` lines were turned into a facts document by the
         * compiler ({"flags":…, "queries":…}); if the VM's reader refuses
         * it, the test must fail rather than run silently without them. */
        chg_facts *facts = chg_facts_parse(t->facts, strlen(t->facts), err, sizeof err);
        /* Out of memory anywhere in a case ends the run (CHG_ENOMEM): a
         * test must never pass or fail for want of memory. */
        bool nomem = !facts && is_nomem(err), decided = false;
        chg_eval_input in = {.now = t->has_at ? t->at : default_now, .facts = facts};
        chg_event *ev = NULL;
        if (!facts)
            chg_buf_printf(&fail, "%s: the test's given lines do not make valid facts: %s\n", t->source, err);
        else if (t->is_event) /* raw events go through the intakes */
            ev = chg_event_intake(ctx, t->input, strlen(t->input), &in, NULL, err, sizeof err);
        else
            ev = chg_event_decode(b, t->input, strlen(t->input), err, sizeof err);
        /* a test that expects `error` first may have an input that is
         * refused (a missing field): that refusal is the expected error */
        bool expects_error = t->nexpects && !strcmp(t->expects[0].key, "outcome") &&
                             !strcmp(t->expects[0].value, "\"error\"");
        if (!ev && facts && is_nomem(err))
            nomem = true;
        else if (!ev) {
            if (facts && !expects_error)
                chg_buf_printf(&fail, "%s: the test's %s was not taken: %s\n", t->source,
                               t->is_event ? "event" : "change", err);
            /* `expect error` passes on input that is not taken, but what
             * else it expects cannot hold: there is no decision to show it */
            for (uint32_t k = 1; facts && expects_error && k < t->nexpects; k++)
                chg_buf_printf(&fail, "%s: expect %s: the %s was not taken (%s), so no decision shows it\n",
                               t->expects[k].source, t->expects[k].key, t->is_event ? "event" : "change", err);
        } else {
            in.change = ev;
            chg_decision d;
            if (chg_eval(ctx, &in, &d) == CHG_ENOMEM)
                nomem = true;
            chg_usage u;
            chg_ctx_usage(ctx, &u);
            if (u.steps > s->max_steps)
                s->max_steps = u.steps;
            if (u.scratch > s->max_scratch)
                s->max_scratch = u.scratch;
            s->steps_limit = u.steps_limit;
            s->regex_steps_limit = u.regex_steps_limit;
            s->scratch_limit = u.scratch_limit;
            chg_buf dj;
            chg_buf_init(&dj);
            /* Coverage is read before the next case reuses the context:
             * chg_ctx_rule_applied answers for the last decision only. */
            chg_decision_write(b, &d, &dj);
            for (uint32_t k = 0; k < s->nrules; k++)
                if (chg_ctx_rule_applied(ctx, k))
                    s->rule_hit[k] = true;
            if (d.arm >= 0 && (uint32_t)d.arm < s->narms)
                s->arm_hit[d.arm] = true;
            json_t *dec = dj.oom ? NULL : json_loadb(dj.data, dj.len, 0, NULL);
            if (!dec) /* the writer's own JSON: only memory can fail it */
                nomem = true;
            for (uint32_t k = 0; k < t->nexpects && dec; k++)
                compare(&t->expects[k], dec, &fail);
            /* A test that fails on a decision of outcome `error` most
             * often failed because the policy did (a missing field), not
             * because the expectation is wrong: name the run-time error. */
            if (fail.len && d.outcome == CHG_OUT_ERROR && d.nreasons)
                chg_buf_printf(&fail, "%s: the evaluation failed: %.*s\n",
                               chg_bundle_source(b, d.reasons[0].span, src, sizeof src),
                               (int)d.reasons[0].message_len, d.reasons[0].message);
            json_decref(dec);
            r->decision = take(&dj);
            decided = true;
            chg_event_free(ev);
        }
        chg_facts_free(facts);
        if (fail.oom) /* its lines would be cut short */
            nomem = true;
        r->passed = fail.len == 0;
        r->failures = take(&fail);
        if (nomem || !r->failures || (decided && !r->decision)) {
            chg_ctx_free(ctx);
            return CHG_ENOMEM;
        }
    }
    chg_ctx_free(ctx);
    return CHG_OK;
}

/* Frees whatever chg_test_run managed to allocate, complete or not (the
 * arrays may be NULL after an allocation failure), and zeroes the suite so
 * that a second free is harmless. */
void chg_test_suite_free(chg_test_suite *s)
{
    for (size_t i = 0; i < s->n; i++) {
        chg_free(s->results[i].failures);
        chg_free(s->results[i].name);
        chg_free(s->results[i].file);
        chg_free(s->results[i].source);
        chg_free(s->results[i].decision);
    }
    for (uint32_t i = 0; i < s->nrules; i++) {
        chg_free(s->rule_names ? s->rule_names[i] : NULL);
        chg_free(s->rule_sources ? s->rule_sources[i] : NULL);
    }
    for (uint32_t i = 0; i < s->narms; i++) {
        chg_free(s->arm_names ? s->arm_names[i] : NULL);
        chg_free(s->arm_sources ? s->arm_sources[i] : NULL);
    }
    chg_free(s->rule_names);
    chg_free(s->rule_sources);
    chg_free(s->arm_names);
    chg_free(s->arm_sources);
    chg_free(s->rule_hit);
    chg_free(s->arm_hit);
    chg_free(s->results);
    chg_free(s->policy);
    memset(s, 0, sizeof *s);
}

/* Rules and classify arms count alike; a policy with neither is fully
 * covered (100 %), so --threshold never fails an empty policy. */
double chg_test_coverage(const chg_test_suite *s)
{
    uint32_t total = s->nrules + s->narms, hit = 0;
    for (uint32_t i = 0; i < s->nrules; i++)
        hit += s->rule_hit[i];
    for (uint32_t i = 0; i < s->narms; i++)
        hit += s->arm_hit[i];
    return total ? 100.0 * hit / total : 100.0;
}

/* ---- reporting ----------------------------------------------------------------------- */

/* Text for an XML attribute or element. Control characters other than
 * tab and newline cannot appear in XML 1.0 even as references, so they
 * become '?' (a failure message quoting a string with a raw ESC stays a
 * well-formed report). */
static void xml(chg_buf *out, const char *s)
{
    for (; *s; s++)
        switch (*s) {
        case '<': chg_buf_puts(out, "&lt;"); break;
        case '>': chg_buf_puts(out, "&gt;"); break;
        case '&': chg_buf_puts(out, "&amp;"); break;
        case '"': chg_buf_puts(out, "&quot;"); break;
        default:
            if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
                chg_buf_putc(out, '?'); /* XML 1.0 has no way to write these */
            else
                chg_buf_putc(out, *s);
        }
}

/* A NUL-terminated string as a JSON string literal (escaped). */
static void jstr(chg_buf *out, const char *s) { chg_buf_json_string(out, s, strlen(s)); }

/* User text (file names, test names, failure lines) in the text and TAP
 * reports, which terminals and CI logs read: visible text (chg_base.h),
 * so a test named "t\nok 5 - forged" stays on its own line. */
static void vis(chg_buf *out, const char *s) { chg_buf_puts_visible(out, s ? s : ""); }

/* One line per arm and rule no test exercised, arms first because they
 * decide the risk the rules then see; prefix makes the same lines TAP
 * comments ("# ") or indented text. */
static void uncovered(const chg_test_suite *s, const char *prefix, chg_buf *out)
{
    for (uint32_t i = 0; i < s->narms; i++)
        if (!s->arm_hit[i]) {
            chg_buf_printf(out, "%snot exercised: classify arm '", prefix);
            vis(out, s->arm_names[i]);
            chg_buf_puts(out, "' at ");
            vis(out, s->arm_sources[i]);
            chg_buf_putc(out, '\n');
        }
    for (uint32_t i = 0; i < s->nrules; i++)
        if (!s->rule_hit[i]) {
            chg_buf_printf(out, "%snot exercised: rule ", prefix);
            vis(out, s->rule_names[i]);
            chg_buf_puts(out, " at ");
            vis(out, s->rule_sources[i]);
            chg_buf_putc(out, '\n');
        }
}

/* The human report: per policy file, ok/FAIL per test with the failure
 * lines indented under it and the decision that failed (so a reader sees
 * what the policy did without rerunning `chgc eval`), then a total line.
 * Colour only when the caller says the output is a terminal. */
static void render_text(const chg_test_suite *suites, size_t n, bool coverage, bool color, chg_buf *out)
{
    const char *red = color ? "\033[31m" : "", *green = color ? "\033[32m" : "", *off = color ? "\033[0m" : "";
    size_t passed = 0, failed = 0;
    for (size_t k = 0; k < n; k++) {
        const chg_test_suite *s = &suites[k];
        vis(out, s->policy);
        chg_buf_putc(out, '\n');
        for (size_t i = 0; i < s->n; i++) {
            const chg_test_result *r = &s->results[i];
            if (r->passed) {
                passed++;
                chg_buf_printf(out, "  %sok%s    ", green, off);
                vis(out, r->name);
                chg_buf_putc(out, '\n');
                continue;
            }
            failed++;
            chg_buf_printf(out, "  %sFAIL%s  ", red, off);
            vis(out, r->name);
            chg_buf_puts(out, " (");
            vis(out, r->source);
            chg_buf_puts(out, ")\n");
            for (const char *p = r->failures; *p;) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t)(nl - p) : strlen(p);
                chg_buf_puts(out, "        ");
                chg_buf_put_visible(out, p, len);
                chg_buf_putc(out, '\n');
                p += len + (nl ? 1 : 0);
            }
            if (r->decision) {
                chg_buf_puts(out, "        decision: ");
                vis(out, r->decision);
                chg_buf_putc(out, '\n');
            }
        }
        if (!s->n)
            chg_buf_puts(out, "  (no tests)\n");
        if (coverage) {
            uint32_t hit = 0;
            for (uint32_t i = 0; i < s->nrules; i++)
                hit += s->rule_hit[i];
            for (uint32_t i = 0; i < s->narms; i++)
                hit += s->arm_hit[i];
            chg_buf_printf(out, "  coverage: %u of %u rules and classify arms exercised (%.1f%%)\n", hit,
                           s->nrules + s->narms, chg_test_coverage(s));
            uncovered(s, "    ", out);
        }
    }
    chg_buf_printf(out, "%zu tests: %s%zu passed%s, %s%zu failed%s\n", passed + failed, passed ? green : "", passed,
                   passed ? off : "", failed ? red : "", failed, failed ? off : "");
}

/* A TAP description: one line of visible text, and a '#' would start a
 * directive. */
static void tap_text(chg_buf *out, const char *s)
{
    chg_buf v;
    chg_buf_init(&v);
    vis(&v, s);
    for (size_t i = 0; i < v.len; i++)
        if (v.data[i] == '#')
            chg_buf_puts(out, "\\#");
        else
            chg_buf_putc(out, v.data[i]);
    out->oom |= v.oom;
    chg_buf_free(&v);
}

/* TAP 13: the plan first (the total is known: every test ran before
 * rendering), one point per test numbered across all files, and for a
 * failure a YAML block with its position, failures and decision.
 * Coverage goes into comment lines, which TAP consumers ignore. */
static void render_tap(const chg_test_suite *suites, size_t n, bool coverage, chg_buf *out)
{
    size_t total = 0, num = 0;
    for (size_t k = 0; k < n; k++)
        total += suites[k].n;
    chg_buf_printf(out, "TAP version 13\n1..%zu\n", total);
    for (size_t k = 0; k < n; k++) {
        const chg_test_suite *s = &suites[k];
        for (size_t i = 0; i < s->n; i++) {
            const chg_test_result *r = &s->results[i];
            chg_buf_printf(out, "%sok %zu - ", r->passed ? "" : "not ", ++num);
            tap_text(out, s->policy);
            chg_buf_puts(out, ": ");
            tap_text(out, r->name);
            chg_buf_putc(out, '\n');
            if (r->passed)
                continue;
            chg_buf_puts(out, "  ---\n  at: ");
            jstr(out, r->source); /* a JSON string is a YAML scalar, as below */
            chg_buf_puts(out, "\n  failures:\n");
            for (const char *p = r->failures; *p;) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t)(nl - p) : strlen(p);
                chg_buf_puts(out, "    - ");
                /* a JSON string is a valid YAML double-quoted scalar, so
                 * any failure text survives the YAML block of TAP 13 */
                chg_buf_json_string(out, p, len);
                chg_buf_putc(out, '\n');
                p += len + (nl ? 1 : 0);
            }
            if (r->decision) {
                chg_buf_puts(out, "  decision: ");
                jstr(out, r->decision);
                chg_buf_putc(out, '\n');
            }
            chg_buf_puts(out, "  ...\n");
        }
        if (coverage) {
            chg_buf_puts(out, "# coverage ");
            vis(out, s->policy);
            chg_buf_printf(out, ": %.1f%%\n", chg_test_coverage(s));
            uncovered(s, "# ", out);
        }
    }
}

/* JUnit XML as CI servers (Jenkins, GitLab, GitHub actions that read it)
 * expect: one <testsuite> per policy file, classname and file set to the
 * file so tests group by it. JUnit has no notion of coverage, so none. */
static void render_junit(const chg_test_suite *suites, size_t n, chg_buf *out)
{
    size_t total = 0, failures = 0;
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < suites[k].n; i++) {
            total++;
            failures += !suites[k].results[i].passed;
        }
    chg_buf_printf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"chgc test\" tests=\"%zu\" "
                        "failures=\"%zu\">\n", total, failures);
    for (size_t k = 0; k < n; k++) {
        const chg_test_suite *s = &suites[k];
        size_t f = 0;
        for (size_t i = 0; i < s->n; i++)
            f += !s->results[i].passed;
        chg_buf_puts(out, "  <testsuite name=\"");
        xml(out, s->policy);
        chg_buf_printf(out, "\" tests=\"%zu\" failures=\"%zu\">\n", s->n, f);
        for (size_t i = 0; i < s->n; i++) {
            const chg_test_result *r = &s->results[i];
            chg_buf_puts(out, "    <testcase name=\"");
            xml(out, r->name);
            chg_buf_puts(out, "\" classname=\"");
            xml(out, r->file);
            chg_buf_puts(out, "\" file=\"");
            xml(out, r->file);
            chg_buf_puts(out, r->passed ? "\"/>\n" : "\">\n");
            if (r->passed)
                continue;
            /* CI tools show the message attribute as the headline: the
             * first failure; the element's text has them all */
            const char *nl = strchr(r->failures, '\n');
            chg_buf_puts(out, "      <failure message=\"");
            char first[1024];
            snprintf(first, sizeof first, "%.*s", nl ? (int)(nl - r->failures) : (int)strlen(r->failures),
                     r->failures);
            xml(out, first);
            chg_buf_puts(out, "\">");
            xml(out, r->failures);
            if (r->decision) {
                chg_buf_puts(out, "decision: ");
                xml(out, r->decision);
                chg_buf_putc(out, '\n');
            }
            chg_buf_puts(out, "</failure>\n    </testcase>\n");
        }
        chg_buf_puts(out, "  </testsuite>\n");
    }
    chg_buf_puts(out, "</testsuites>\n");
}

/* [{"KEY": name, "source": …, "exercised": bool}, …] */
static void coverage_json(chg_buf *out, const char *key, char *const *names, char *const *sources, const bool *hit,
                          uint32_t n)
{
    chg_buf_putc(out, '[');
    for (uint32_t i = 0; i < n; i++) {
        chg_buf_printf(out, "%s{\"%s\":", i ? "," : "", key);
        jstr(out, names[i]);
        chg_buf_puts(out, ",\"source\":");
        jstr(out, sources[i]);
        chg_buf_printf(out, ",\"exercised\":%s}", hit[i] ? "true" : "false");
    }
    chg_buf_putc(out, ']');
}

/* The decision is embedded as the JSON the decision writer produced (it
 * is one already), so tools read the same shape as `chgc eval` prints. */
static void render_json(const chg_test_suite *suites, size_t n, bool coverage, chg_buf *out)
{
    size_t passed = 0, failed = 0;
    chg_buf_puts(out, "{\"suites\":[");
    for (size_t k = 0; k < n; k++) {
        const chg_test_suite *s = &suites[k];
        chg_buf_puts(out, k ? ",{\"policy\":" : "{\"policy\":");
        jstr(out, s->policy);
        chg_buf_puts(out, ",\"tests\":[");
        for (size_t i = 0; i < s->n; i++) {
            const chg_test_result *r = &s->results[i];
            passed += r->passed;
            failed += !r->passed;
            chg_buf_puts(out, i ? ",{\"name\":" : "{\"name\":");
            jstr(out, r->name);
            chg_buf_puts(out, ",\"source\":");
            jstr(out, r->source);
            chg_buf_printf(out, ",\"passed\":%s,\"failures\":[", r->passed ? "true" : "false");
            bool first = true;
            for (const char *p = r->failures; *p;) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t)(nl - p) : strlen(p);
                if (!first)
                    chg_buf_putc(out, ',');
                first = false;
                chg_buf_json_string(out, p, len);
                p += len + (nl ? 1 : 0);
            }
            chg_buf_puts(out, "],\"decision\":");
            chg_buf_puts(out, r->decision ? r->decision : "null");
            chg_buf_putc(out, '}');
        }
        chg_buf_putc(out, ']');
        if (coverage) {
            chg_buf_printf(out, ",\"coverage\":{\"percent\":%.1f,\"rules\":", chg_test_coverage(s));
            coverage_json(out, "rule", s->rule_names, s->rule_sources, s->rule_hit, s->nrules);
            chg_buf_puts(out, ",\"arms\":");
            coverage_json(out, "class", s->arm_names, s->arm_sources, s->arm_hit, s->narms);
            chg_buf_putc(out, '}');
        }
        chg_buf_putc(out, '}');
    }
    chg_buf_printf(out, "],\"passed\":%zu,\"failed\":%zu}\n", passed, failed);
}

/* Render every suite in one format into out. The renderers only append
 * to out and never fail half-way: chg_buf records an allocation failure in
 * its oom flag and drops further text, so a report is whole or short. */
void chg_test_render(const chg_test_suite *suites, size_t n, chg_test_format f, bool coverage, bool color,
                     chg_buf *out)
{
    switch (f) {
    case CHG_TEST_TAP: render_tap(suites, n, coverage, out); break;
    case CHG_TEST_JUNIT: render_junit(suites, n, out); break;
    case CHG_TEST_JSON: render_json(suites, n, coverage, out); break;
    default: render_text(suites, n, coverage, color, out); break;
    }
}

/* ---- chgc test over files ---------------------------------------------------------- */

/* Frees the compilers kept for BROKEN files (their diagnostics were needed
 * until the command printed them) and every suite. */
void chg_test_session_free(chg_test_session *s)
{
    for (size_t i = 0; i < s->nfiles; i++)
        chg_compiler_free(s->files[i].compiler);
    for (size_t i = 0; i < s->nsuites; i++)
        chg_test_suite_free(&s->suites[i]);
    chg_free(s->files);
    chg_free(s->suites);
    memset(s, 0, sizeof *s);
}

/* Compile one file; run its tests into the session when it has any. A
 * file without tests costs a check and no bundle; a file with errors is
 * BROKEN and keeps its compiler, whose diagnostics the command prints
 * (its tests cannot run, and that is a failure, not a skip). Only a
 * failure of the machine (memory, reading) stops the session. */
static int test_file(chg_test_session *s, const char *path, const selector *sel, int64_t now,
                     const chg_compile_options *opts, char *err, size_t errlen)
{
    chg_test_file *f = &s->files[s->nfiles++];
    f->path = path;
    f->state = CHG_TF_NO_TESTS;
    chg_compile_options co = {.lints = false};
    if (opts) {
        co.allow_paths = opts->allow_paths;
        co.nallow_paths = opts->nallow_paths;
    }
    chg_policy p;
    char *const paths[1] = {(char *)path};
    /* Lints are off: `chgc test` answers whether the tests pass, and a lint
     * warning is `chgc check`'s business. CHG_EINVAL is a policy with
     * errors, which this file reports as BROKEN below; any other failure
     * is the machine's and ends the session. */
    int rc = chg_policy_compile(&p, paths, 1, &co, err, errlen);
    if (rc != CHG_OK && rc != CHG_EINVAL) {
        chg_policy_free(&p);
        return rc;
    }
    if (rc == CHG_OK && chg_compiler_ntests(p.compiler) == 0) {
        chg_policy_free(&p); /* a file without tests: nothing to run */
        return CHG_OK;
    }
    if (rc == CHG_OK)
        rc = chg_policy_emit(&p, err, errlen);
    if (rc == CHG_EINVAL) {
        f->state = CHG_TF_BROKEN;
        f->compiler = p.compiler;
        p.compiler = NULL;
        chg_policy_free(&p);
        return CHG_OK;
    }
    if (rc != CHG_OK) {
        chg_policy_free(&p);
        return rc;
    }
    const chg_test_case *cases = NULL;
    size_t n = 0;
    rc = chg_compiler_tests(p.compiler, &cases, &n); /* CHG_ENOMEM: no cases, not "no tests" */
    bool *keep = rc == CHG_OK ? chg_calloc(n + 1, sizeof *keep) : NULL;
    if (rc == CHG_OK && !keep)
        rc = CHG_ENOMEM;
    if (rc == CHG_OK) {
        select_cases(sel, cases, n, keep);
        chg_test_suite *suite = &s->suites[s->nsuites];
        rc = chg_test_run(p.bundle, path, cases, n, keep, now, suite);
        if (rc != CHG_OK)
            chg_test_suite_free(suite);
        else {
            s->nsuites++;
            f->state = CHG_TF_RAN;
            s->ntests += suite->n;
            for (size_t k = 0; k < suite->n; k++)
                s->nfailed += !suite->results[k].passed;
        }
    }
    if (rc == CHG_ENOMEM)
        snprintf(err, errlen, "out of memory");
    chg_free(keep);
    chg_policy_free(&p);
    return rc;
}

/* Do two suites judge the same policy: the same rules and classify arms,
 * declared at the same places? (A test file that imports its policy
 * compiles to the policy's tables.) */
static bool same_tables(const chg_test_suite *a, const chg_test_suite *b)
{
    if (a->nrules != b->nrules || a->narms != b->narms)
        return false;
    for (uint32_t i = 0; i < a->nrules; i++)
        if (strcmp(a->rule_names[i], b->rule_names[i]) || strcmp(a->rule_sources[i], b->rule_sources[i]))
            return false;
    for (uint32_t i = 0; i < a->narms; i++)
        if (strcmp(a->arm_sources[i], b->arm_sources[i]))
            return false;
    return true;
}

/* Coverage is the policy's, whoever tests it: the tests of a `_test.chg`
 * file and of the policy it imports count together, in both suites, so
 * --threshold judges the policy by all its tests. */
static void share_coverage(chg_test_session *s)
{
    /* twice: two test files of one policy each see the other's hits */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < s->nsuites; i++) {
            if (!chg_is_test_file(s->suites[i].policy))
                continue;
            for (size_t j = 0; j < s->nsuites; j++) {
                chg_test_suite *a = &s->suites[i], *b = &s->suites[j];
                if (j == i || !same_tables(a, b))
                    continue;
                for (uint32_t k = 0; k < a->nrules; k++)
                    a->rule_hit[k] = b->rule_hit[k] = a->rule_hit[k] || b->rule_hit[k];
                for (uint32_t k = 0; k < a->narms; k++)
                    a->arm_hit[k] = b->arm_hit[k] = a->arm_hit[k] || b->arm_hit[k];
            }
        }
    }
}

/* `chgc test`: compile and run every file separately, as a unit of its
 * own (each file's tests see only what that file imports). now is the
 * instant a test without `at` decides at. Returns the first machine
 * failure; failing tests and broken files are results, not statuses. */
int chg_test_files(char *const *files, size_t n, const char *run, int64_t now, const chg_compile_options *opts,
                   chg_test_session *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    /* at most one file entry and one suite per path, allocated once: the
     * arrays never move, so files[i].suite can point into suites */
    out->files = chg_calloc(n + 1, sizeof *out->files);
    out->suites = chg_calloc(n + 1, sizeof *out->suites);
    if (!out->files || !out->suites) {
        snprintf(err, errlen, "out of memory");
        return CHG_ENOMEM;
    }
    /* compiled before any file: a bad --run is an error even when no file
     * has tests */
    selector sel;
    int rc = selector_compile(&sel, run, err, errlen);
    for (size_t i = 0; i < n && rc == CHG_OK; i++)
        rc = test_file(out, files[i], &sel, now, opts, err, errlen);
    selector_free(&sel);
    /* Point each file that ran at its suite (the array no longer moves). */
    for (size_t i = 0, k = 0; i < out->nfiles; i++)
        if (out->files[i].state == CHG_TF_RAN)
            out->files[i].suite = &out->suites[k++];
    if (rc == CHG_OK)
        share_coverage(out);
    return rc;
}
