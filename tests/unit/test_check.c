/*
 * test_check.c — the type checker: inferred types, narrowing of optional
 * values, enums, risk, built-in signatures, where names are allowed, and
 * dynamic typing without a schema.
 */
#include "helpers.h"
#include "alloc_fail.h"

#include "chg_vm.h"

static const char schema[] =
    "schema change {\n"
    "  id: string\n"
    "  env: enum(\"dev\", \"staging\", \"prod\")\n"
    "  resources: int\n"
    "  pipeline: string?\n"
    "  emergency: bool = false\n"
    "  requested_at: time\n"
    "  requester: { name: string, groups: [string] }\n"
    "  approvals: [{ by: string, group: string, at: time, note: string? }]\n"
    "}\n"
    "risk low < high\n"
    "classify { high when change.env == \"prod\" default low }\n";

static chg_compiler *with_schema(const char *rest)
{
    static char buf[8192];
    snprintf(buf, sizeof buf, "%s%s", schema, rest);
    return compile_str(buf);
}

static void test_check_inferred_types(void **state)
{
    (void)state;
    chg_compiler *c;
    c = with_schema(
        "let a = 1 + 2\nlet b = 1 + 2.5\nlet s = \"a\" + change.id\nlet t = now + 2h\n"
        "let d = now - change.requested_at\nlet m = 2h * 3\nlet r = 6h / 1h\n"
        "let p = change.pipeline ?? \"none\"\nlet l = [1, 2]\nlet e = []\nlet n = [null, 1]\n"
        "let o = if change.emergency then 1 else null\nlet q = count(x in change.approvals where x.group == \"cab\")\n"
        "let g = change.requester.groups\nlet w = weekday(now, \"UTC\")\nlet k = risk\n"
        "let ap = change.approvals[0]\n");
    assert_string_equal(let_type(c, "a"), "int");
    assert_string_equal(let_type(c, "b"), "float");
    assert_string_equal(let_type(c, "s"), "string");
    assert_string_equal(let_type(c, "t"), "time");
    assert_string_equal(let_type(c, "d"), "duration");
    assert_string_equal(let_type(c, "m"), "duration");
    assert_string_equal(let_type(c, "r"), "int");
    assert_string_equal(let_type(c, "p"), "string");
    assert_string_equal(let_type(c, "l"), "[int]");
    assert_string_equal(let_type(c, "e"), "[any]");
    assert_string_equal(let_type(c, "n"), "[int?]");
    assert_string_equal(let_type(c, "o"), "int?");
    assert_string_equal(let_type(c, "q"), "int");
    assert_string_equal(let_type(c, "g"), "[string]");
    assert_string_equal(let_type(c, "w"), "string");
    assert_string_equal(let_type(c, "k"), "risk");
    assert_string_equal(let_type(c, "ap"), "{ by: string, group: string, at: time, note: string? }?");
    chg_compiler_free(c);
}

static void test_check_without_schema_is_dynamic(void **state)
{
    (void)state;
    chg_compiler *c = compile_str("let a = change.anything.deep[\"x\"]\nlet b = lower(change.name) == \"x\"\n"
                                  "let _c = a + b\n");
    assert_string_equal(diag_codes(c), "");
    assert_string_equal(let_type(c, "a"), "any");
    assert_string_equal(let_type(c, "b"), "bool");
    chg_compiler_free(c);
}

static void test_check_narrowing(void **state)
{
    (void)state;
    chg_compiler *c = with_schema(
        "let _a = change.pipeline != null and lower(change.pipeline) == \"x\"\n"
        "let _b = change.pipeline == null or lower(change.pipeline) == \"x\"\n"
        "let _c = if change.pipeline == null then \"\" else lower(change.pipeline)\n"
        "let _d = not (change.pipeline == null) and len(change.pipeline) > 1\n"
        "let _e = any a in change.approvals: a.note != null and len(a.note) > 3\n"
        "rule r:\n  when change.pipeline != null\n  warn \"pipeline {lower(change.pipeline)}\"\n"
        "on deny when change.pipeline != null do aws.codepipeline.disable_transition(change.pipeline, \"Prod\", reason)\n");
    assert_string_equal(diag_codes(c), "");
    chg_compiler_free(c);
}

static void test_check_narrowing_does_not_leak(void **state)
{
    (void)state;
    chg_compiler *c = with_schema(
        "let _a = (change.pipeline != null or change.emergency) and lower(change.pipeline) == \"x\"\n"
        "let _b = change.pipeline != null\nlet _c = lower(change.pipeline)\n"
        "let _d = change.pipeline == null and lower(change.pipeline) == \"x\"\n"
        "let _e = any a in change.approvals: len(a.note) > 3\n");
    assert_string_equal(diag_codes(c), "E0206@13:66 E0206@15:16 E0206@16:44 E0206@17:41");
    chg_compiler_free(c);
}

static void test_check_enums(void **state)
{
    (void)state;
    chg_compiler *c = with_schema("let _a = change.env == \"prod\" or change.env in [\"dev\", \"staging\"]\n"
                                  "let _b = change.env == change.id\nlet _c = \"pord\" == change.env\n");
    assert_string_equal(diag_codes(c), "E0202@15:10");
    assert_string_equal(first_help(c), "did you mean 'prod'?");
    chg_compiler_free(c);
}

static void test_check_risk_only_against_classes(void **state)
{
    (void)state;
    chg_compiler *c = with_schema("rule a: when risk >= high deny \"a\"\nrule b: when risk == 1 deny \"b\"\n"
                                  "rule c: when change.resources > high deny \"c\"\n");
    assert_string_equal(diag_codes(c), "E0204@14:22 E0204@15:14");
    chg_compiler_free(c);
}

static void test_check_builtin_signatures(void **state)
{
    (void)state;
    chg_compiler *c = with_schema("let _a = hour(now)\nlet _b = len(1)\nlet _c = startswith(change.id, 2)\n"
                                  "let _d = lower(change.env)\nlet _e = hour(now, change.id)\n"
                                  "let _f = aws.cloudwatch.alarm_state(\"x\") == \"ALARM\"\n");
    assert_string_equal(diag_codes(c), "E0207@13:10 E0201@14:14 E0201@15:32 E0510@17:20");
    assert_string_equal(first_message(c), "'hour' takes 2 arguments, but 1 was given");
    chg_compiler_free(c);
}

static void test_check_where_names_are_allowed(void **state)
{
    (void)state;
    chg_compiler *c = with_schema(
        "intake i when event.source == \"x\" {\n  id: change.id\n}\n"
        "at now\n"
        "rule r: when event.x == 1 deny \"{reason}\"\n"
        "on allow do aws.sns.publish(\"arn:aws:sns:us-east-1:111122223333:t\", summary + reason)\n");
    assert_string_equal(diag_codes(c), "E0119@16:4 E0119@14:7 E0120@13:8 E0119@17:14 E0119@17:34");
    chg_compiler_free(c);
}

static void test_check_intake_against_schema(void **state)
{
    (void)state;
    chg_compiler *c = with_schema(
        "intake i when event.source == \"x\" {\n"
        "  id: event.id\n  env: if event.stage == \"Prod\" then \"prod\" else \"stging\"\n  resources: \"1\"\n"
        "  requested_at: event.time\n  requester: { name: \"x\", groups: [] }\n  approvals: []\n  pipeline: null\n}\n");
    assert_string_equal(diag_codes(c), "E0202@15:50 E0201@16:14");
    chg_compiler_free(c);
}

static void test_check_test_blocks(void **state)
{
    (void)state;
    chg_compiler *c = with_schema(
        "test \"t\" {\n  change { id: \"c\", env: \"prod\", resources: 1, requested_at: 2026-12-03T03:30Z,\n"
        "           requester: { name: \"a\", groups: [] }, approvals: [] }\n"
        "  at 2026-12-03T03:30Z\n  given aws.cloudwatch.alarm_state(\"p\") = \"OK\"\n  given flag \"f\" = true\n"
        "  expect pending risk high missing [\"1 of group security\"] next_open null\n}\n");
    /* the policy reads neither: W0016 says the test's answers are unused */
    assert_string_equal(diag_codes(c), "W0016@17:9 W0016@18:14");
    chg_compiler_free(c);
    c = with_schema("test \"t\" {\n  change { id: \"c\", env: \"qa\" }\n  given aws.cloudwatch.alarm_state(\"p\") = 3\n"
                    "  expect allow risk hihg\n}\n");
    assert_string_equal(diag_codes(c), "E0202@14:26 E0120@14:10 E0201@15:43 E0103@16:21");
    chg_compiler_free(c);
}

static void test_check_policy_example_is_clean(void **state)
{
    (void)state;
    chg_compiler *c = chg_compiler_new(NULL);
    assert_int_equal(chg_compiler_add_file(c, "../../policies/production.chg"), CHG_OK);
    assert_int_equal(chg_compiler_check(c), CHG_OK);
    assert_string_equal(diag_codes(c), "");
    chg_compiler_free(c);
}

/* ---- allocation failures ------------------------------------------------ */

/* A policy with a syntax error, type errors, an unknown name with a "did
 * you mean" and a note: every part of the diagnostics engine allocates. */
static const char erroneous[] =
    "policy \"p\" version \"1\"\n"
    "schema change { env: enum(\"dev\", \"prod\"), n: int, who: string? }\n"
    "risk low < high\n"
    "classify { high when change.env == \"prod\" default low }\n"
    "let big = change.n > 10 and change.who == \"x\"\n"
    "let bad = change.n + \"s\"\n"
    "let typo = change.evn == \"dev\"\n"
    "window office = weekly mon-fri 09:00..17:00 in \"Europe/Berlin\"\n"
    "rule r1: when big require window office\n"
    "rule r2: when lenn(change.who) > 2 deny \"no {change.n}\"\n"
    "let broken = (1 +\n"
    "test \"t\" { change { env: \"dev\", n: 1 } expect allow }\n";

static void test_check_allocation_failures(void **state)
{
    (void)state;
    failing f = {0, 0, false};
    chg_set_allocator(failing_realloc, &f);
    chg_compiler *c = chg_compiler_new(NULL);
    assert_non_null(c);
    assert_int_equal(chg_compiler_add_source(c, "t.chg", erroneous, strlen(erroneous)), CHG_OK);
    assert_int_equal(chg_compiler_check(c), CHG_EINVAL);
    chg_compiler_free(c);
    unsigned long total = f.calls;
    assert_true(total > 10);

    /* Fail each allocation in turn, alone and with every later one: the
     * compilation must end in CHG_ENOMEM or in its errors, never in
     * "CHG_OK, no errors", and never crash. */
    for (unsigned long i = 0; i < 2 * (total + 1); i++) {
        unsigned long n = i / 2 + 1;
        f = (failing){0, n, i % 2 == 1};
        c = chg_compiler_new(NULL);
        if (!c)
            continue;
        int rc = chg_compiler_add_source(c, "t.chg", erroneous, strlen(erroneous));
        if (rc == CHG_OK)
            rc = chg_compiler_check(c);
        else
            assert_int_equal(rc, CHG_ENOMEM);
        if (rc != CHG_ENOMEM) {
            assert_int_equal(rc, CHG_EINVAL);
            assert_true(chg_compiler_count(c, CHG_ERROR) > 0);
        }
        chg_compiler_free(c);
    }
    chg_set_allocator(NULL, NULL);
}

/* "let a0 = a1 + 1 … let a<n> = 1": a chain of n + 1 lets, each defined
 * through the next. */
static chg_compiler *let_chain(int n)
{
    chg_buf b;
    chg_buf_init(&b);
    for (int i = 0; i < n; i++)
        chg_buf_printf(&b, "let a%d = a%d + 1\n", i, i + 1);
    chg_buf_printf(&b, "let a%d = 1\nrule r advisory: when a0 > 1 warn \"x\"\n", n);
    assert_false(b.oom);
    chg_compiler *c = compile_str(b.data);
    chg_buf_free(&b);
    return c;
}

/* Checking a let inside the let that names it (a window inside the window
 * that names it) is recursion no parse limit bounds: a long chain
 * overflowed the C stack. It is cut at the nesting limit, with one error. */
static void test_check_let_chains_are_bounded(void **state)
{
    (void)state;
    chg_compiler *c = let_chain(200);
    assert_string_equal(diag_codes(c), "");
    chg_compiler_free(c);
    c = let_chain(100000);
    assert_string_equal(diag_codes(c), "E0011@257:5");
    chg_compiler_free(c);

    /* windows through windows recurse the same way */
    chg_buf b;
    chg_buf_init(&b);
    for (int i = 0; i < 100000; i++)
        chg_buf_printf(&b, "window w%d = w%d\n", i, i + 1);
    chg_buf_puts(&b, "window w100000 = daily 09:00..10:00 in \"UTC\"\n"
                     "rule r mandatory: when true require window w0\n");
    assert_false(b.oom);
    c = compile_str(b.data);
    chg_buf_free(&b);
    assert_string_equal(diag_codes(c), "E0011@257:8");
    chg_compiler_free(c);
}

/* A clean policy that exercises every part of codegen: paths on the change
 * and on list elements, lets, windows and freezes (named, inline, with
 * algebra), approvals with an emergency, rules of every action, actions
 * and an intake. */
static const char clean[] =
    "policy \"p\" version \"1\"\n"
    "schema change {\n"
    "  id: string\n"
    "  env: enum(\"dev\", \"prod\")\n"
    "  n: int\n"
    "  emergency: bool = false\n"
    "  requested_at: time\n"
    "  requester: { name: string, groups: [string] }\n"
    "  approvals: [{ by: string, group: string, at: time }]\n"
    "  pipeline: string?\n"
    "}\n"
    "at change.requested_at\n"
    "risk low < high\n"
    "let prod = change.env == \"prod\"\n"
    "let cabs = count(a in change.approvals where a.group == \"cab\")\n"
    "let tags = [\"a\", \"b\"]\n"
    "classify { high when prod and change.n > 10 default low }\n"
    "window nights = cron \"0 22 ? * MON-FRI *\" for 6h in \"America/New_York\"\n"
    "window sunday = weekly sun 02:00..06:00 in \"Europe/Berlin\"\n"
    "window slot = nights or sunday\n"
    "freeze year_end = yearly dec 20 .. jan 03 in \"UTC\"\n"
    "freeze bf = 2026-11-25T00:00 .. 2026-12-01T00:00 in \"UTC\"\n"
    "freeze incident = flag \"incident-freeze\"\n"
    "approvals {\n"
    "  low => none\n"
    "  high => 2 of group \"cab\" within 72h\n"
    "  emergency => 1 of group \"ic\" or 1 of any\n"
    "}\n"
    "rule w mandatory: when risk >= high and prod require window slot\n"
    "rule f overridable: when prod deny during year_end, bf, incident, weekly sat 00:00..23:59 in \"UTC\"\n"
    "  \"frozen: {freeze}\"\n"
    "rule a mandatory: when cabs < 1 and change.id in tags and \"dev\" in change.requester.groups require 1 of group \"lead\"\n"
    "rule big advisory: when change.n > 100 or (any g in change.requester.groups: g == \"x\")\n"
    "  warn \"large ({change.n}): {lower(change.id)} at {change.requested_at + 1h}\"\n"
    "on deny when change.pipeline != null do aws.codepipeline.disable_transition(change.pipeline, \"Prod\", reason)\n"
    "on emergency do aws.sns.publish(\"arn:aws:sns:us-east-1:111122223333:x\", summary)\n"
    "intake hook when event.source == \"ci\" {\n"
    "  id: event.detail[\"id\"]\n"
    "  env: if event.detail.stage == \"Prod\" then \"prod\" else \"dev\"\n"
    "  n: 1\n"
    "  requested_at: event.time\n"
    "  requester: { name: \"ci\", groups: [] }\n"
    "  approvals: []\n"
    "}\n";

static int check_and_emit(chg_buf *out)
{
    chg_compile_options opts = {0};
    opts.analysis_from = 1798761600; /* 2027-01-01: the time analysis runs too */
    chg_compiler *c = chg_compiler_new(&opts);
    if (!c)
        return CHG_ENOMEM;
    int rc = chg_compiler_add_source(c, "clean.chg", clean, strlen(clean));
    if (rc == CHG_OK)
        rc = chg_compiler_check(c);
    if (rc == CHG_OK)
        rc = chg_compiler_emit(c, out);
    chg_compiler_free(c);
    return rc;
}

static void test_check_emit_allocation_failures(void **state)
{
    (void)state;
    failing f = {0, 0, false};
    chg_set_allocator(failing_realloc, &f);
    chg_buf out;
    chg_buf_init(&out);
    assert_int_equal(check_and_emit(&out), CHG_OK);
    unsigned long total = f.calls;
    chg_set_allocator(NULL, NULL);
    char err[256];
    chg_bundle *b = chg_bundle_load(out.data, out.len, err, sizeof err);
    if (!b)
        fail_msg("the clean policy's bundle does not load: %s", err);
    chg_bundle_free(b);
    chg_buf_free(&out);
    assert_true(total > 100);

    /* Fail each allocation in turn, through the check and the code
     * generator, once alone and once with every later one: each run gives
     * CHG_ENOMEM, or CHG_OK with a bundle that loads, never another status,
     * a crash or a leak. (Most of the compiler's allocations come from
     * arena chunks, so about 170 calls cover every place one can fail.) */
    unsigned long ok = 0;
    for (unsigned long i = 0; i < 2 * (total + 1); i++) {
        unsigned long n = i / 2 + 1;
        f = (failing){0, n, i % 2 == 1};
        chg_set_allocator(failing_realloc, &f);
        chg_buf_init(&out);
        int rc = check_and_emit(&out);
        chg_set_allocator(NULL, NULL);
        if (rc == CHG_OK) {
            ok++;
            b = chg_bundle_load(out.data, out.len, err, sizeof err);
            if (!b)
                fail_msg("allocation %lu failed: CHG_OK but the bundle does not load: %s", n, err);
            chg_bundle_free(b);
        } else if (rc != CHG_ENOMEM)
            fail_msg("allocation %lu failed: status %d", n, rc);
        chg_buf_free(&out);
    }
    /* Only the runs past the last allocation succeed for certain. */
    assert_true(ok >= 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_inferred_types),
        cmocka_unit_test(test_check_without_schema_is_dynamic),
        cmocka_unit_test(test_check_narrowing),
        cmocka_unit_test(test_check_narrowing_does_not_leak),
        cmocka_unit_test(test_check_enums),
        cmocka_unit_test(test_check_risk_only_against_classes),
        cmocka_unit_test(test_check_builtin_signatures),
        cmocka_unit_test(test_check_where_names_are_allowed),
        cmocka_unit_test(test_check_intake_against_schema),
        cmocka_unit_test(test_check_test_blocks),
        cmocka_unit_test(test_check_policy_example_is_clean),
        cmocka_unit_test(test_check_let_chains_are_bounded),
        cmocka_unit_test(test_check_allocation_failures),
        cmocka_unit_test(test_check_emit_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
