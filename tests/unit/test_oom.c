/*
 * test_oom.c — out of memory, everywhere: every policy of the library
 * (every .chg of policies/) and of the language tests (of tests/lang/) is
 * compiled, emitted, loaded and its tests evaluated with the k-th
 * allocation failing, for every k of each stage. The library's policy
 * (docs/internals.md, "Out of memory") is that a failed allocation
 * returns CHG_ENOMEM to the caller: every run must end either in exactly
 * the result of a run without failures or in a clean "out of memory" —
 * never a crash, a leak (ASan's leak checker runs at exit), another error
 * in its place, or a wrong answer.
 *
 * pcre2's allocations go through chg_realloc by way of the bundle's
 * general context, so they are failed too. Two libraries are left out:
 * libical 3.0 has no allocator hook, and jansson 2.14 does not survive
 * one (failing its allocations in turn crashes inside json_loadb, and a
 * failed append to its token buffer is reported as a syntax error):
 * their allocations use malloc and are never failed here. The one thing
 * jansson reliably does on a failed allocation — NULL with an empty error
 * text — the library reads as "out of memory" (vm/json.c).
 *
 * The stages are failed separately, each from a state built without
 * failures, so the cost is the sum of the stages' allocation counts, not
 * their product.
 */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>

#include "alloc_fail.h"
#include "chg_driver.h"

static failing F; /* fail_at 0: count only */

/* Tests without an instant run at 2026-06-01T12:00:00Z. */
#define NOW INT64_C(1780315200)

/* Each stage runs twice: the k-th allocation failing alone (a transient
 * failure: the code after it must recover), then it and every one after
 * it (memory is gone: the cleanup paths must not need any). */
static bool persist;

static void arm(unsigned long k)
{
    F.calls = 0;
    F.fail_at = k;
    F.and_after = persist && k;
}

/* What a run without failures produced: the bundle's hash, and per test
 * whether it passed and its decision. */
typedef struct reference {
    char hash[80];
    size_t n;
    bool *passed;
    char **decisions;
} reference;

static void reference_free(reference *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->decisions[i]);
    free(r->decisions);
    free(r->passed);
}

static bool suite_matches(const chg_test_suite *s, const reference *r)
{
    if (s->n != r->n)
        return false;
    for (size_t i = 0; i < s->n; i++) {
        const char *d = s->results[i].decision ? s->results[i].decision : "";
        if (s->results[i].passed != r->passed[i] || strcmp(d, r->decisions[i]) != 0)
            return false;
    }
    return true;
}

static bool says_oom(const char *err) { return strstr(err, "out of memory") != NULL; }

/* Stage 1: compile, emit and load, from the file. */
static unsigned long stage_open(const char *path, const reference *r)
{
    char *paths[] = {(char *)path};
    chg_compile_options opts = {0};
    char err[512];
    unsigned long k = 1;
    for (;; k++) {
        arm(k);
        chg_policy p = {0};
        err[0] = 0;
        int rc = chg_policy_open(&p, paths, 1, &opts, err, sizeof err);
        bool failed = F.calls >= k;
        arm(0);
        if (rc == CHG_OK) {
            if (strcmp(chg_bundle_hash(p.bundle), r->hash) != 0)
                fail_msg("%s: allocation %lu failed: a different bundle", path, k);
        } else if (rc != CHG_ENOMEM) {
            if (p.compiler && chg_compiler_ndiags(p.compiler))
                snprintf(err, sizeof err, "%s %s", chg_diag_table[chg_compiler_diag(p.compiler, 0)->id].code,
                         chg_compiler_diag(p.compiler, 0)->message);
            fail_msg("%s: allocation %lu failed: status %d (%s), not out of memory", path, k, rc, err);
        }
        chg_policy_free(&p);
        if (!failed)
            return k - 1;
    }
}

/* Stage 2: load the bundle's bytes. */
static unsigned long stage_load(const char *path, const chg_buf *bytes, const reference *r)
{
    char err[512];
    unsigned long k = 1;
    for (;; k++) {
        arm(k);
        err[0] = 0;
        chg_bundle *b = chg_bundle_load(bytes->data, bytes->len, err, sizeof err);
        bool failed = F.calls >= k;
        arm(0);
        if (b && strcmp(chg_bundle_hash(b), r->hash) != 0)
            fail_msg("%s: allocation %lu failed: a different bundle", path, k);
        if (!b && !says_oom(err))
            fail_msg("%s: allocation %lu failed: \"%s\", not out of memory", path, k, err);
        chg_bundle_free(b);
        if (!failed)
            return k - 1;
    }
}

/* Stage 3: run the tests (a context, decoding, evaluation, the decision
 * writer, the runner's own records). */
static unsigned long stage_run(const char *path, const chg_bundle *b, const chg_test_case *cases, size_t n,
                               const reference *r)
{
    unsigned long k = 1;
    for (;; k++) {
        arm(k);
        chg_test_suite s = {0};
        int rc = chg_test_run(b, path, cases, n, NULL, NOW, &s);
        bool failed = F.calls >= k;
        arm(0);
        if (rc == CHG_OK && !suite_matches(&s, r)) {
            for (size_t i = 0; i < s.n && i < r->n; i++)
                if (s.results[i].passed != r->passed[i])
                    print_message("# test %s: %s\n", s.results[i].name, s.results[i].failures);
                else if (strcmp(s.results[i].decision ? s.results[i].decision : "", r->decisions[i]))
                    print_message("# test %s: decided\n#   %s\n# not\n#   %s\n", s.results[i].name,
                                  s.results[i].decision, r->decisions[i]);
            fail_msg("%s: allocation %lu failed: a different test result", path, k);
        }
        if (rc != CHG_OK && rc != CHG_ENOMEM)
            fail_msg("%s: allocation %lu failed: status %d", path, k, rc);
        chg_test_suite_free(&s);
        if (!failed)
            return k - 1;
    }
}

/* Stage 4: one warm context deciding every test's input, the k-th
 * allocation failing, then deciding them all again without failures: the
 * second round must give exactly the first clean round's decisions (what
 * a failed decision left behind must not reach the next one). */
static void decide_all(chg_ctx *ctx, const chg_bundle *b, const chg_test_case *cases, size_t n, chg_facts **facts,
                       chg_buf *out, int *worst)
{
    for (size_t i = 0; i < n; i++) {
        chg_eval_input base = {.now = cases[i].has_at ? cases[i].at : NOW, .facts = facts[i]};
        chg_buf errs;
        chg_buf_init(&errs);
        int rc = chg_decide_json(ctx, b, cases[i].input, strlen(cases[i].input), &base, cases[i].name, false,
                                 out, &errs);
        if (rc != CHG_OK && *worst != CHG_ENOMEM)
            *worst = rc;
        chg_buf_free(&errs);
    }
}

/* Each decision line of got is the one of want or says "out of memory"
 * (an error decision, or the error line of an input that could not be
 * decoded); lines may be missing only where the buffer itself ran out,
 * so got may end early but never hold a line want does not. */
static bool lines_match(const chg_buf *got, const chg_buf *want)
{
    const char *g = got->data ? got->data : "", *ge = g + got->len;
    const char *w = want->data ? want->data : "", *we = w + want->len;
    while (g < ge) {
        const char *gn = memchr(g, '\n', (size_t)(ge - g)), *wn = memchr(w, '\n', (size_t)(we - w));
        if (!gn) /* a line cut short: only where got itself ran out */
            return got->oom;
        if (!wn)
            return false;
        size_t gl = (size_t)(gn - g), wl = (size_t)(wn - w);
        bool same = gl == wl && memcmp(g, w, gl) == 0;
        if (!same && !memmem(g, gl, "out of memory", 13)) {
            print_message("# got:  %.*s\n# want: %.*s\n", (int)gl, g, (int)wl, w);
            return false;
        }
        g = gn + 1;
        w = wn + 1;
    }
    return true;
}

static unsigned long stage_decide(const char *path, const chg_bundle *b, const chg_test_case *cases, size_t n)
{
    chg_facts **facts = calloc(n ? n : 1, sizeof *facts);
    assert_non_null(facts);
    char err[256];
    for (size_t i = 0; i < n; i++)
        if (cases[i].facts && !(facts[i] = chg_facts_parse(cases[i].facts, strlen(cases[i].facts), err, sizeof err)))
            fail_msg("%s: facts of test %s: %s", path, cases[i].name, err);
    chg_ctx *ctx = chg_ctx_new(b);
    assert_non_null(ctx);
    chg_buf want;
    chg_buf_init(&want);
    int worst = CHG_OK;
    decide_all(ctx, b, cases, n, facts, &want, &worst);
    unsigned long k = 1;
    for (;; k++) {
        chg_buf got;
        chg_buf_init(&got);
        arm(k);
        int rc = CHG_OK;
        decide_all(ctx, b, cases, n, facts, &got, &rc);
        bool failed = F.calls >= k;
        arm(0);
        if (rc != CHG_OK && rc != CHG_ENOMEM && rc != worst)
            fail_msg("%s: allocation %lu failed: status %d", path, k, rc);
        if (!lines_match(&got, &want))
            fail_msg("%s: allocation %lu failed: a decision neither right nor \"out of memory\"", path, k);
        chg_buf_reset(&got);
        int again = CHG_OK;
        decide_all(ctx, b, cases, n, facts, &got, &again);
        if (again != worst || got.len != want.len || (got.len && memcmp(got.data, want.data, got.len) != 0))
            fail_msg("%s: after allocation %lu failed, the same context decides differently", path, k);
        chg_buf_free(&got);
        if (!failed)
            break;
    }
    chg_buf_free(&want);
    chg_ctx_free(ctx);
    for (size_t i = 0; i < n; i++)
        chg_facts_free(facts[i]);
    free(facts);
    return k - 1;
}

static void one_policy(const char *path)
{
    char *paths[] = {(char *)path};
    chg_compile_options opts = {0};
    char err[512];
    chg_policy p = {0};
    if (chg_policy_open(&p, paths, 1, &opts, err, sizeof err) != CHG_OK)
        fail_msg("%s: does not compile: %s", path, err);
    reference r = {0};
    snprintf(r.hash, sizeof r.hash, "%s", chg_bundle_hash(p.bundle));
    const chg_test_case *cases;
    size_t n;
    assert_int_equal(chg_compiler_tests(p.compiler, &cases, &n), CHG_OK);
    chg_test_suite s = {0};
    assert_int_equal(chg_test_run(p.bundle, path, cases, n, NULL, NOW, &s), CHG_OK);
    r.n = s.n;
    r.passed = calloc(s.n + 1, sizeof *r.passed);
    r.decisions = calloc(s.n + 1, sizeof *r.decisions);
    for (size_t i = 0; i < s.n; i++) {
        r.passed[i] = s.results[i].passed;
        r.decisions[i] = strdup(s.results[i].decision ? s.results[i].decision : "");
    }
    chg_test_suite_free(&s);

    unsigned long a = 0, l = 0, t = 0, d = 0;
    for (int mode = 0; mode < 2; mode++) {
        persist = mode == 1;
        a = stage_open(path, &r);
        l = stage_load(path, &p.bytes, &r);
        t = stage_run(path, p.bundle, cases, n, &r);
        d = stage_decide(path, p.bundle, cases, n);
    }
    persist = false;
    printf("# %s: %lu allocations to open, %lu to load, %lu to run %zu tests, %lu to decide them again\n", path,
           a, l, t, n, d);
    reference_free(&r);
    chg_policy_free(&p);
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every .chg in dir that has tests (policies/common.chg is imported, not
 * a root: it is covered through its importers). */
static void every_policy(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    char *names[64];
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".chg") == 0 && n < 64) {
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            names[n++] = strdup(path);
        }
    }
    closedir(d);
    assert_true(n > 0);
    qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        one_policy(names[i]);
        free(names[i]);
    }
}

static void test_oom_policy_library(void **state)
{
    (void)state;
    every_policy(CHG_SOURCE_DIR "/policies");
}

static void test_oom_language_tests(void **state)
{
    (void)state;
    every_policy(CHG_SOURCE_DIR "/tests/lang");
}

int main(void)
{
    chg_set_allocator(failing_realloc, &F);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oom_policy_library),
        cmocka_unit_test(test_oom_language_tests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
