/*
 * test_limits.c — decisions at their limits: the per-decision budgets
 * (steps, regex, scratch) stop a decision with an `error` naming the budget,
 * on the same context as the decisions before and after it, and `now` at
 * the ends of int64 and of the years 0000-9999 gives an exact answer or an
 * error (UBSan is the judge of "never undefined"). The scratch arena's cap
 * and its reuse of big blocks are tested on the arena itself.
 */
#include "helpers.h"
#include "vm_helpers.h"

#include <openssl/evp.h>

#include "alloc_count.h"
#include "chg_time.h"
#include "chg_vm.h"
#include "bundle_format.h"
#include "vm_int.h"

static void assert_contains(const char *s, const char *part)
{
    if (!strstr(s, part))
        fail_msg("expected %s in %s", part, s);
}

/* A policy's `limits` reach the context through the bundle's LIMITS
 * section; the loader refuses a crafted record with a budget of 0 or past
 * its maximum, with the offset of the bad field. */
static void test_limits_bundle_section(void **state)
{
    (void)state;
    chg_compiler *c = compile_str("policy \"t\" version \"1\"\n"
                                  "limits { steps: 777, scratch: 65536 }\n"
                                  "rule r advisory: when true warn \"w\"\n");
    assert_string_equal(diag_codes(c), "");
    chg_buf out;
    chg_buf_init(&out);
    assert_int_equal(chg_compiler_emit(c, &out), CHG_OK);
    chg_compiler_free(c);
    uint8_t *d = (uint8_t *)out.data;
    /* the section table: count, then {id, offset, length} */
    uint32_t nsec = chg_rd32(d + CHG_BUNDLE_HEADER), rec = 0;
    for (uint32_t i = 0; i < nsec; i++) {
        const uint8_t *e = d + CHG_BUNDLE_HEADER + 4 + 12 * i;
        if (chg_rd32(e) == CHG_SEC_LIMITS) {
            assert_int_equal(chg_rd32(d + chg_rd32(e + 4)), 1); /* one record */
            rec = chg_rd32(e + 4) + 4;
        }
    }
    assert_true(rec > 0);
    assert_int_equal(chg_rd64(d + rec), 777);
    assert_int_equal(chg_rd64(d + rec + 8), CHG_DEFAULT_REGEX_STEPS);
    assert_int_equal(chg_rd64(d + rec + 16), 65536);
    char err[512];
    chg_bundle *b = chg_bundle_load(out.data, out.len, err, sizeof err);
    assert_non_null(b);
    chg_ctx *ctx = chg_ctx_new(b);
    char *j = vm_decide(b, ctx, "{}", 0);
    free(j);
    chg_usage u;
    chg_ctx_usage(ctx, &u);
    assert_int_equal(u.steps_limit, 777);
    assert_int_equal(u.scratch_limit, 65536);
    chg_ctx_free(ctx);
    chg_bundle_free(b);
    static const struct {
        int field;
        uint64_t value;
        const char *msg;
    } bad[] = {
        {0, 0, "LIMITS[0].steps: 0 is not in 1..1099511627776"},
        {1, 1ULL << 32, "LIMITS[0].regex_steps: 4294967296 is not in 1..4294967295"},
        {2, 0, "LIMITS[0].scratch: 0 is not in 1..17179869184"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        uint8_t *copy = malloc(out.len);
        memcpy(copy, out.data, out.len);
        chg_wr64(copy + rec + 8 * bad[i].field, bad[i].value);
        unsigned int hl;
        EVP_Digest(copy + CHG_BUNDLE_HEADER, out.len - CHG_BUNDLE_HEADER, copy + 32, &hl, EVP_sha256(), NULL);
        assert_null(chg_bundle_load(copy, out.len, err, sizeof err));
        char want[200];
        snprintf(want, sizeof want, "corrupt bundle: %s at offset %u", bad[i].msg, (unsigned)(rec + 8 * bad[i].field));
        assert_string_equal(err, want);
        free(copy);
    }
    chg_buf_free(&out);
}

/* `now` is the caller's: at the ends of int64 it is an error decision with
 * no RFC 3339 "at" (null), and at the ends of 0000-9999 the local fields
 * are exact, however far the zone's offset takes the local date. */
static void test_limits_now_at_the_edges(void **state)
{
    (void)state;
    chg_bundle *b = vm_build_load("policy \"t\" version \"1\"\n"
                               "rule r advisory: when true warn \"{year(now, \"Asia/Tokyo\")} "
                               "{hour(now, \"Asia/Tokyo\")} {weekday(now, \"America/New_York\")} "
                               "{year(now, \"America/New_York\")} {now}\"\n");
    chg_ctx *ctx = chg_ctx_new(b);
    assert_non_null(ctx);
    static const int64_t bad[] = {INT64_MAX, INT64_MIN, CHG_TIME_MAX + 1, CHG_TIME_MIN - 1, INT64_MAX - 3600};
    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
            char *j = vm_decide(b, ctx, "{}", bad[i]);
            assert_contains(j, "\"at\":null");
            assert_contains(j, "\"outcome\":\"error\"");
            assert_contains(j, "is outside the years 0000 to 9999");
            free(j);
            /* the context is as good as new after it */
            j = vm_decide(b, ctx, "{}", CHG_TIME_MAX);
            assert_contains(j, "\"at\":\"9999-12-31T23:59:59Z\"");
            assert_contains(j, "\"message\":\"10000 8 fri 9999 9999-12-31T23:59:59Z\"");
            free(j);
            j = vm_decide(b, ctx, "{}", CHG_TIME_MIN);
            assert_contains(j, "\"at\":\"0000-01-01T00:00:00Z\"");
            /* Tokyo's and New York's local mean time in year 0 */
            assert_contains(j, "\"message\":\"0 9 fri -1 0000-01-01T00:00:00Z\"");
            free(j);
        }
    chg_ctx_free(ctx);
    chg_bundle_free(b);
}

/* A budget spent by one decision is whole again for the next, on the same
 * context; chg_ctx_usage reports what each took. */
static void test_limits_budget_per_decision(void **state)
{
    (void)state;
    chg_bundle *b = vm_build_load("policy \"t\" version \"1\"\n"
                               "schema change { l: [int] }\n"
                               "rule loops advisory: when count(x in change.l where any y in change.l: "
                               "any z in change.l: x + y + z == 1) > 0 warn \"looped\"\n");
    chg_ctx *ctx = chg_ctx_new(b);
    assert_non_null(ctx);
    chg_buf big;
    chg_buf_init(&big);
    chg_buf_puts(&big, "{\"l\":[0");
    for (int i = 1; i < 250; i++)
        chg_buf_puts(&big, ",0");
    chg_buf_puts(&big, "]}");
    chg_usage u;
    for (int round = 0; round < 2; round++) {
        char *j = vm_decide(b, ctx, big.data, 0);
        assert_contains(j, "\"outcome\":\"error\"");
        assert_contains(j, "\"rule\":\"loops\",\"level\":\"error\",\"message\":\"step budget exceeded: the decision "
                           "needs more than 10000000 steps");
        free(j);
        chg_ctx_usage(ctx, &u);
        assert_int_equal(u.steps, u.steps_limit);
        assert_int_equal(u.steps_limit, CHG_DEFAULT_STEPS);
        j = vm_decide(b, ctx, "{\"l\":[0, 1, 0]}", 0);
        assert_contains(j, "\"outcome\":\"allow\"");
        assert_contains(j, "\"message\":\"looped\"");
        free(j);
        chg_ctx_usage(ctx, &u);
        assert_true(u.steps > 27 && u.steps < 1000);
        assert_int_equal(u.regex_steps_limit, CHG_DEFAULT_REGEX_STEPS);
        assert_int_equal(u.scratch_limit, CHG_DEFAULT_SCRATCH);
    }
    chg_buf_free(&big);
    chg_ctx_free(ctx);
    chg_bundle_free(b);
}

/* Comparing JSON values the schema does not describe walks them whole:
 * every pair of 300 equal objects of 300 members is 27 million nodes,
 * though the loops run only 90,000 iterations. The nodes are charged. */
static void test_limits_json_equality_is_charged(void **state)
{
    (void)state;
    chg_bundle *b = vm_build_load("policy \"t\" version \"1\"\n"
                               "rule same advisory: when count(x in change.l where count(y in change.l where x == y) > 1) > 0 "
                               "warn \"same\"\n");
    chg_ctx *ctx = chg_ctx_new(b);
    assert_non_null(ctx);
    chg_buf obj, doc;
    chg_buf_init(&obj);
    chg_buf_init(&doc);
    chg_buf_putc(&obj, '{');
    for (int i = 0; i < 300; i++)
        chg_buf_printf(&obj, "%s\"k%d\":%d", i ? "," : "", i, i);
    chg_buf_putc(&obj, '}');
    chg_buf_puts(&doc, "{\"l\":[");
    for (int i = 0; i < 300; i++) {
        if (i)
            chg_buf_putc(&doc, ',');
        chg_buf_append(&doc, obj.data, obj.len);
    }
    chg_buf_puts(&doc, "]}");
    for (int round = 0; round < 2; round++) {
        char *j = vm_decide(b, ctx, doc.data, 0);
        assert_contains(j, "\"rule\":\"same\",\"level\":\"error\",\"message\":\"step budget exceeded");
        free(j);
        j = vm_decide(b, ctx, "{\"l\":[{\"a\":1},{\"a\":1}]}", 0);
        assert_contains(j, "\"message\":\"same\"");
        free(j);
    }
    chg_buf_free(&obj);
    chg_buf_free(&doc);
    chg_ctx_free(ctx);
    chg_bundle_free(b);
}

/* A group repeated over a long subject needs more JIT stack than pcre2's
 * 32 KiB default: it matches, and a warm context matches without
 * allocating (the match context and JIT stack are the context's). */
static void test_limits_regex_jit_stack(void **state)
{
    (void)state;
    chg_bundle *b = vm_build_load("policy \"t\" version \"1\"\n"
                               "schema change { s: string }\n"
                               "rule ab advisory: when change.s matches r\"^(a|b)*$\" warn \"ab\"\n");
    chg_ctx *ctx = chg_ctx_new(b);
    assert_non_null(ctx);
    char *s = malloc(20000 + 16);
    strcpy(s, "{\"s\":\"");
    for (int i = 0; i < 20000; i++)
        s[6 + i] = i % 2 ? 'a' : 'b';
    strcpy(s + 6 + 20000, "\"}");
    char err[256];
    chg_event *e = chg_event_decode(b, s, strlen(s), err, sizeof err);
    assert_non_null(e);
    chg_eval_input in = {.change = e, .now = 0};
    chg_decision d;
    for (int i = 0; i < 3; i++) {
        unsigned long before = alloc_count_calls;
        assert_int_equal(chg_eval(ctx, &in, &d), CHG_OK);
        assert_int_equal(d.outcome, CHG_OUT_ALLOW);
        assert_int_equal(d.nwarnings, 1);
        if (i > 0)
            assert_int_equal(alloc_count_calls - before, 0);
    }
    chg_event_free(e);
    free(s);
    chg_ctx_free(ctx);
    chg_bundle_free(b);
}

/* The cap: an allocation past it fails with over_cap, a reset makes room
 * again; a warm arena reuses its big blocks without calling the allocator,
 * and gives back a spare far larger than what is asked of it. */
static void test_limits_arena_cap_and_reuse(void **state)
{
    (void)state;
    chg_arena a;
    chg_arena_init(&a);
    a.cap = 1 << 20;
    for (int round = 0; round < 3; round++) {
        unsigned long before = alloc_count_calls;
        size_t got = 0;
        void *p;
        while ((p = chg_arena_alloc_raw(&a, round == 1 ? 20000 : 96)) != NULL)
            got += round == 1 ? 20000 : 96;
        assert_true(a.over_cap && !a.failed);
        assert_true(got <= a.cap && got > a.cap - 20016);
        if (round == 2)
            assert_int_equal(alloc_count_calls - before, 0); /* warm: round 0's chunks again */
        chg_arena_reset(&a);
        assert_false(a.over_cap || a.failed);
    }
    /* the same big sizes again: no allocation */
    for (int k = 0; k < 2; k++) {
        unsigned long before = alloc_count_calls;
        for (int i = 0; i < 10; i++)
            assert_non_null(chg_arena_alloc_raw(&a, 30000));
        if (k == 1)
            assert_int_equal(alloc_count_calls - before, 0);
        chg_arena_reset(&a);
    }
    /* a spare more than four times a request is replaced, not kept: a
     * decision's few small big requests after a huge one do not pin it */
    assert_non_null(chg_arena_alloc_raw(&a, 900000));
    chg_arena_reset(&a);
    unsigned long before = alloc_count_calls;
    assert_non_null(chg_arena_alloc_raw(&a, 20000));
    assert_true(alloc_count_calls - before >= 1);
    chg_arena_free(&a);
    assert_int_equal(a.cap, 1 << 20); /* free keeps the cap: the owner's setting */
    chg_arena_free(&a);
}

int main(void)
{
    alloc_count_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits_bundle_section),
        cmocka_unit_test(test_limits_now_at_the_edges),
        cmocka_unit_test(test_limits_budget_per_decision),
        cmocka_unit_test(test_limits_json_equality_is_charged),
        cmocka_unit_test(test_limits_regex_jit_stack),
        cmocka_unit_test(test_limits_arena_cap_and_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
