/*
 * test_schema.c — the whole change checked against the schema before any
 * rule runs (vm/schema.c): decisions of `error` naming every offending
 * path, alternating with good changes on one context in both orders, no
 * allocation per decision either way, undeclared fields as warnings or
 * (strict) errors, bounded messages for hostile changes, and a loader that
 * refuses every malformed SCHEMA record.
 */
#include "helpers.h"
#include "vm_helpers.h"

#include <openssl/evp.h>

#include "alloc_count.h"
#include "bundle_format.h"
#include "chg_vm.h"
#include "vm_int.h"

/* The case: a prod change without `requester` must not be allowed
 * on an approval that may be the requester's own. */
static const char policy[] =
    "schema change {\n"
    "  id: string\n"
    "  env: enum(\"dev\", \"prod\")\n"
    "  requester: { name: string, groups: [string] }\n"
    "  approvals: [{ by: string, group: string, at: time }]\n"
    "  emergency: bool = false\n"
    "  note: string?\n"
    "}\n"
    "risk low < high\n"
    "classify { high when change.env == \"prod\" default low }\n"
    "approvals {\n"
    "  low => none\n"
    "  high => 1 of group \"cab\"\n"
    "}\n"
    "rule noted advisory: when change.note != null warn \"note: {change.note}\"\n";

#define APPROVED_BY(who) "\"approvals\":[{\"by\":\"" who "\",\"group\":\"cab\",\"at\":\"2026-12-01T10:00:00Z\"}]"

static const char no_requester[] = "{\"id\":\"c1\",\"env\":\"prod\"," APPROVED_BY("ann") "}";
static const char good[] =
    "{\"id\":\"c2\",\"env\":\"prod\",\"requester\":{\"name\":\"ann\",\"groups\":[]}," APPROVED_BY("bob") "}";
static const char own_approval[] =
    "{\"id\":\"c3\",\"env\":\"prod\",\"requester\":{\"name\":\"ann\",\"groups\":[]}," APPROVED_BY("ann") "}";
static const char mistyped[] =
    "{\"id\":\"c4\",\"env\":\"prdo\",\"requester\":{\"name\":42,\"groups\":[\"a\",null]},"
    "\"approvals\":[{\"by\":\"bob\",\"group\":\"cab\",\"at\":\"soon\"},{\"by\":\"cy\"}],\"note\":7}";
static const char extra[] =
    "{\"id\":\"c5\",\"env\":\"dev\",\"requester\":{\"name\":\"ann\",\"groups\":[],\"team\":\"x\"},\"approvals\":[],"
    "\"ticket\":\"T-1\",\"note\":\"hi\"}";

#define TAIL_NONE "\"approvals\":{\"required\":\"none\",\"satisfied\":[],\"missing\":[]},\"window\":null,\"freezes\":[]"
#define ERR(msg, src) "{\"rule\":null,\"level\":\"error\",\"message\":\"" msg "\",\"source\":\"t.chg:" src "\"}"

static const char want_no_requester[] =
    "{\"change\":\"c1\",\"policy\":\"t\",\"version\":\"\",\"at\":\"2026-12-02T00:00:00Z\",\"risk\":null,"
    "\"outcome\":\"error\",\"reasons\":[" ERR("change.requester is required but missing", "4:3") "]," TAIL_NONE
    ",\"warnings\":[],\"actions\":[],\"emergency\":false}";
static const char want_good[] =
    "{\"change\":\"c2\",\"policy\":\"t\",\"version\":\"\",\"at\":\"2026-12-02T00:00:00Z\",\"risk\":\"high\","
    "\"outcome\":\"allow\",\"reasons\":[],\"approvals\":{\"required\":\"1 of group cab\",\"satisfied\":[\"1 of group "
    "cab\"],\"missing\":[]},\"window\":null,\"freezes\":[],\"warnings\":[],\"actions\":[],\"emergency\":false}";
static const char want_own_approval[] =
    "{\"change\":\"c3\",\"policy\":\"t\",\"version\":\"\",\"at\":\"2026-12-02T00:00:00Z\",\"risk\":\"high\","
    "\"outcome\":\"pending\",\"reasons\":[],\"approvals\":{\"required\":\"1 of group cab\",\"satisfied\":[],"
    "\"missing\":[\"1 of group cab\"]},\"window\":null,\"freezes\":[],\"warnings\":[],\"actions\":[],"
    "\"emergency\":false}";
static const char want_mistyped[] =
    "{\"change\":\"c4\",\"policy\":\"t\",\"version\":\"\",\"at\":\"2026-12-02T00:00:00Z\",\"risk\":null,"
    "\"outcome\":\"error\",\"reasons\":["
    ERR("change.env: \\\"prdo\\\" is not one of \\\"dev\\\", \\\"prod\\\"", "3:3") ","
    ERR("change.requester.name: expected string, found an integer", "4:16") ","
    ERR("change.requester.groups[1]: expected string, found null", "4:30") ","
    ERR("change.approvals[0].at: \\\"soon\\\" is not an RFC 3339 instant in the years 0000-9999", "5:44") ","
    ERR("change.approvals[1].group is required but missing", "5:29") ","
    ERR("change.approvals[1].at is required but missing", "5:44") ","
    ERR("change.note: expected string, found an integer", "7:3") "]," TAIL_NONE
    ",\"warnings\":[],\"actions\":[],\"emergency\":false}";
static const char want_extra[] =
    "{\"change\":\"c5\",\"policy\":\"t\",\"version\":\"\",\"at\":\"2026-12-02T00:00:00Z\",\"risk\":\"low\","
    "\"outcome\":\"allow\",\"reasons\":[]," TAIL_NONE ",\"warnings\":["
    "{\"rule\":null,\"level\":\"advisory\",\"message\":\"change.requester.team is not declared in the schema\","
    "\"source\":\"t.chg:4:3\"},"
    "{\"rule\":null,\"level\":\"advisory\",\"message\":\"change.ticket is not declared in the schema\","
    "\"source\":\"t.chg:1:1\"},"
    "{\"rule\":\"noted\",\"level\":\"advisory\",\"message\":\"note: hi\",\"source\":\"t.chg:15:6\"}],"
    "\"actions\":[],\"emergency\":false}";

#define NOW (1796169600) /* 2026-12-02T00:00:00Z */

static void expect(chg_bundle *b, chg_ctx *ctx, const char *json, const char *want)
{
    char *got = vm_decide(b, ctx, json, NOW);
    assert_string_equal(got, want);
    chg_free(got);
}

/* Bad, good, bad, good… on one context, then the other way round, each
 * twice: nothing of one decision may leak into the next. */
static void test_schema_alternating_on_one_context(void **state)
{
    (void)state;
    chg_buf bytes = vm_build(policy);
    chg_bundle *b = vm_load(&bytes);
    chg_ctx *ctx = chg_ctx_new(b);
    const char *in[] = {no_requester, good, mistyped, own_approval, extra, no_requester, own_approval, mistyped};
    const char *want[] = {want_no_requester, want_good, want_mistyped, want_own_approval,
                          want_extra, want_no_requester, want_own_approval, want_mistyped};
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 8; i++) {
            int k = round ? 7 - i : i;
            expect(b, ctx, in[k], want[k]);
            expect(b, ctx, in[k], want[k]);
        }
    /* a fresh context agrees with the used one */
    chg_ctx *fresh = chg_ctx_new(b);
    expect(b, fresh, good, want_good);
    expect(b, fresh, no_requester, want_no_requester);
    chg_ctx_free(fresh);
    chg_ctx_free(ctx);
    chg_bundle_free(b);
    chg_buf_free(&bytes);
}

/* Decoding checks the schema once; deciding then allocates nothing, for
 * changes that fit, that do not, and that carry undeclared fields. */
static void test_schema_no_allocations_per_decision(void **state)
{
    (void)state;
    alloc_count_init();
    chg_buf bytes = vm_build(policy);
    chg_bundle *b = vm_load(&bytes);
    chg_ctx *ctx = chg_ctx_new(b);
    const char *in[] = {no_requester, good, mistyped, own_approval, extra};
    chg_event *ev[5];
    char err[256];
    for (int i = 0; i < 5; i++) {
        ev[i] = chg_event_decode(b, in[i], strlen(in[i]), err, sizeof err);
        assert_non_null(ev[i]);
    }
    chg_eval_input x = {.now = NOW};
    chg_decision d;
    for (int i = 0; i < 5; i++) {
        x.change = ev[i];
        chg_eval(ctx, &x, &d);
    }
    unsigned long before = alloc_count_calls;
    int outcomes[5] = {0};
    for (int k = 0; k < 2000; k++)
        for (int i = 0; i < 5; i++) {
            x.change = ev[i];
            chg_eval(ctx, &x, &d);
            outcomes[d.outcome]++;
        }
    assert_int_equal(alloc_count_calls - before, 0);
    assert_int_equal(outcomes[CHG_OUT_ERROR], 4000);
    assert_int_equal(outcomes[CHG_OUT_ALLOW], 4000);
    assert_int_equal(outcomes[CHG_OUT_PENDING], 2000);
    for (int i = 0; i < 5; i++)
        chg_event_free(ev[i]);
    chg_ctx_free(ctx);
    chg_bundle_free(b);
    chg_buf_free(&bytes);
}

/* `strict`: undeclared fields are errors, nested records included; a
 * modifier that is not `strict` is reported. */
static void test_schema_strict(void **state)
{
    (void)state;
    chg_buf bytes = vm_build("schema change strict { id: string, r: { name: string }, l: [{ a: int }] }\n");
    chg_bundle *b = vm_load(&bytes);
    chg_ctx *ctx = chg_ctx_new(b);
    char *got = vm_decide(b, ctx, "{\"id\":\"s1\",\"r\":{\"name\":\"x\",\"nick\":\"y\"},\"l\":[{\"a\":1,\"b\":2}],\"z\":0}", NOW);
    assert_non_null(strstr(got, "\"outcome\":\"error\",\"reasons\":["
                                ERR("change.r.nick is not declared in the schema", "1:36") ","
                                ERR("change.l[0].b is not declared in the schema", "1:57") ","
                                ERR("change.z is not declared in the schema", "1:1") "]"));
    assert_non_null(strstr(got, "\"warnings\":[]"));
    chg_free(got);
    got = vm_decide(b, ctx, "{\"id\":\"s2\",\"r\":{\"name\":\"x\"},\"l\":[]}", NOW);
    assert_non_null(strstr(got, "\"outcome\":\"allow\",\"reasons\":[]"));
    chg_free(got);
    chg_ctx_free(ctx);
    chg_bundle_free(b);
    chg_buf_free(&bytes);

    chg_compiler *c = compile_str("schema change loose { id: string }\n");
    assert_string_equal(diag_codes(c), "E0121@1:15");
    chg_compiler_free(c);
    /* `strict` is no keyword: a field may have the name */
    c = compile_str("schema change { strict: bool }\n");
    assert_string_equal(diag_codes(c), "");
    chg_compiler_free(c);
}

/* What a hostile change can add to its decision is bounded: 20 entries and
 * one that counts the rest, keys and strings quoted to 64 bytes. */
static void test_schema_bounded_messages(void **state)
{
    (void)state;
    chg_buf bytes = vm_build("schema change { id: string, n: [int], e: enum(\"a\") }\n");
    chg_bundle *b = vm_load(&bytes);
    chg_ctx *ctx = chg_ctx_new(b);
    chg_buf in;
    chg_buf_init(&in);
    chg_buf_puts(&in, "{\"id\":\"h\",\"n\":[");
    for (int i = 0; i < 1000; i++)
        chg_buf_printf(&in, "%s\"%d\"", i ? "," : "", i);
    chg_buf_puts(&in, "],\"e\":\"");
    for (int i = 0; i < 100; i++)
        chg_buf_puts(&in, "é");
    chg_buf_puts(&in, "\"");
    for (int i = 0; i < 500; i++)
        chg_buf_printf(&in, ",\"k%d\\\"\\n%0100d\":1", i, 0);
    chg_buf_puts(&in, "}");
    char *got = vm_decide(b, ctx, in.data, NOW);
    assert_non_null(strstr(got, ERR("change.n[19]: expected int, found a string", "1:29") ","
                                "{\"rule\":null,\"level\":\"error\",\"message\":\"and 981 more fields that do not fit the schema\","
                                "\"source\":null}]"));
    assert_null(strstr(got, "change.n[20]"));
    assert_null(strstr(got, "change.e")); /* the 1001st error, not listed */
    assert_non_null(strstr(got, "{\"rule\":null,\"level\":\"advisory\",\"message\":\"change[\\\"k0\\\\\\\"\\\\n000000000000"));
    assert_non_null(strstr(got, "00000\\\"…] is not declared in the schema\""));
    assert_non_null(strstr(got, "\"message\":\"and 480 more fields the schema does not declare\",\"source\":null}]"));
    assert_true(strlen(got) < 8000);
    chg_free(got);
    /* the enum string is quoted to 64 bytes, cut on a character boundary */
    chg_buf_free(&in);
    chg_buf_init(&in);
    chg_buf_puts(&in, "{\"id\":\"h\",\"n\":[],\"e\":\"");
    for (int i = 0; i < 100; i++)
        chg_buf_puts(&in, "é");
    chg_buf_puts(&in, "\"}");
    got = vm_decide(b, ctx, in.data, NOW);
    chg_buf want;
    chg_buf_init(&want);
    chg_buf_puts(&want, "\"message\":\"change.e: \\\"");
    for (int i = 0; i < 32; i++)
        chg_buf_puts(&want, "é");
    chg_buf_puts(&want, "\\\"… is not one of \\\"a\\\"\"");
    assert_non_null(strstr(got, want.data));
    chg_free(got);
    chg_buf_free(&want);
    chg_buf_free(&in);
    chg_ctx_free(ctx);
    chg_bundle_free(b);
    chg_buf_free(&bytes);
}

/* A schema nested as deep as the parser allows compiles, loads and checks. */
static void test_schema_deep(void **state)
{
    (void)state;
    chg_buf src, in;
    chg_buf_init(&src);
    chg_buf_init(&in);
    chg_buf_puts(&src, "schema change { a: ");
    chg_buf_puts(&in, "{\"a\":");
    for (int i = 0; i < 200; i++) {
        chg_buf_puts(&src, "[");
        chg_buf_puts(&in, "[");
    }
    chg_buf_puts(&src, "int");
    chg_buf_puts(&in, "\"x\"");
    for (int i = 0; i < 200; i++) {
        chg_buf_puts(&src, "]");
        chg_buf_puts(&in, "]");
    }
    chg_buf_puts(&src, " }\n");
    chg_buf_puts(&in, "}");
    chg_buf bytes = vm_build(src.data);
    chg_bundle *b = vm_load(&bytes);
    chg_ctx *ctx = chg_ctx_new(b);
    char *got = vm_decide(b, ctx, in.data, NOW);
    assert_non_null(strstr(got, "\"message\":\"change.a[0][0][0]"));
    assert_non_null(strstr(got, "[0]: expected int, found a string\""));
    chg_free(got);
    chg_ctx_free(ctx);
    chg_bundle_free(b);
    chg_buf_free(&bytes);
    chg_buf_free(&src);
    chg_buf_free(&in);
}

/* ---- the loader ------------------------------------------------------------------ */

static void rehash(uint8_t *data, size_t len)
{
    unsigned int hl = 0;
    EVP_Digest(data + CHG_BUNDLE_HEADER, len - CHG_BUNDLE_HEADER, data + 32, &hl, EVP_sha256(), NULL);
}

/* The first record of section id, and its record count. */
static uint8_t *section(chg_buf *bytes, uint32_t id, uint32_t *count)
{
    uint8_t *d = (uint8_t *)bytes->data;
    uint32_t nsec = chg_rd32(d + 64);
    for (uint32_t i = 0; i < nsec; i++)
        if (chg_rd32(d + 68 + 12 * i) == id) {
            uint32_t off = chg_rd32(d + 68 + 12 * i + 4);
            *count = chg_rd32(d + off);
            return d + off + 4;
        }
    fail_msg("no section %u", id);
    return NULL;
}

/* Patch `width` bytes at `at` to v, load, expect the message, restore. */
static void refuse(chg_buf *bytes, uint8_t *at, int width, uint32_t v, const char *want)
{
    uint8_t save[4];
    memcpy(save, at, 4);
    if (width == 1)
        at[0] = (uint8_t)v;
    else
        chg_wr32(at, v);
    rehash((uint8_t *)bytes->data, bytes->len);
    char err[512];
    chg_bundle *b = chg_bundle_load(bytes->data, bytes->len, err, sizeof err);
    if (b)
        fail_msg("loaded a bundle that should fail with '%s'", want);
    if (!strstr(err, want))
        fail_msg("got '%s', want '%s'", err, want);
    memcpy(at, save, 4);
    rehash((uint8_t *)bytes->data, bytes->len);
}

static void test_schema_loader_refuses_bad_records(void **state)
{
    (void)state;
    chg_buf bytes = vm_build(policy);
    uint32_t n = 0, nm = 0;
    uint8_t *s = section(&bytes, CHG_SEC_SCHEMA, &n);
    uint8_t *meta = section(&bytes, CHG_SEC_META, &nm);
    /* breadth first: 0 change; 1 id, 2 env, 3 requester, 4 approvals,
     * 5 emergency, 6 note; 7 name, 8 groups; 9 approval; 10 group elem;
     * 11 by, 12 group, 13 at */
    assert_int_equal(n, 14);
    assert_int_equal(chg_rd32(s + 12), 1);
    assert_int_equal(chg_rd32(s + 16), 6);
#define REC(i) (s + 24 * (i))
    assert_int_equal(REC(2)[0], CHG_PT_ENUM);
    assert_int_equal(REC(3)[0], CHG_PT_OBJECT);
    assert_int_equal(REC(4)[0], CHG_PT_LIST);
    chg_bundle_free(vm_load(&bytes)); /* as built, it loads */

    refuse(&bytes, REC(0) + 12, 4, 0, "SCHEMA[0].first: children 0..+6 out of range");
    refuse(&bytes, REC(3) + 12, 4, 2, "SCHEMA[3].first: children 2..+2 out of range");
    refuse(&bytes, REC(0) + 16, 4, 7, "SCHEMA[3].first: node 7 is a child of both 0 and 3");
    refuse(&bytes, REC(0) + 16, 4, 5, "SCHEMA[6].first: node 6 is no node's child");
    refuse(&bytes, REC(3) + 16, 4, 1000, "SCHEMA[3].first: SCHEMA 7..1007 out of range (14 records)");
    refuse(&bytes, REC(4) + 16, 4, 2, "SCHEMA[4].first: children 9..+2 out of range");
    refuse(&bytes, REC(1) + 16, 4, 1, "SCHEMA[1].first: children 0..+1 out of range");
    refuse(&bytes, REC(1), 1, CHG_PT_ANY, "SCHEMA[1].type: 0 is not in 1..9");
    refuse(&bytes, REC(1), 1, 99, "SCHEMA[1].type: 99 is not in 1..9");
    refuse(&bytes, REC(1) + 1, 1, 7, "SCHEMA[1].need: 7 is not in 0..2");
    refuse(&bytes, REC(1) + 2, 1, CHG_SF_STRICT, "SCHEMA[1].flags: flags on a node that is no object");
    refuse(&bytes, REC(3) + 2, 1, 2, "SCHEMA[3].flags: 2 is not in 0..1");
    refuse(&bytes, REC(0) + 1, 1, CHG_PR_OPTIONAL, "SCHEMA[0].type: the change must be a required object");
    refuse(&bytes, REC(0), 1, CHG_PT_LIST, "SCHEMA[0].type: the change must be a required object");
    refuse(&bytes, REC(10) + 1, 1, CHG_PR_DEFAULT, "SCHEMA[10].need: a list element has no default");
    refuse(&bytes, REC(1) + 4, 4, CHG_NONE32, "SCHEMA[1].name: a field needs its name");
    refuse(&bytes, REC(0) + 4, 4, chg_rd32(REC(1) + 4), "SCHEMA[0].name: only fields have names");
    refuse(&bytes, REC(10) + 4, 4, chg_rd32(REC(1) + 4), "SCHEMA[10].name: only fields have names");
    refuse(&bytes, REC(2) + 4, 4, chg_rd32(REC(1) + 4), "SCHEMA[0].first: node 0 declares field 'id' twice");
    refuse(&bytes, REC(2) + 8, 4, CHG_NONE32, "SCHEMA[2].enm: an enum without its values");
    refuse(&bytes, REC(2) + 8, 4, 0xfffffff, "SCHEMA[2].enm: constant 268435455 is not a list constant");
    refuse(&bytes, REC(1) + 8, 4, chg_rd32(REC(2) + 8), "SCHEMA[1].enm: enum values on a field that is no enum");
    refuse(&bytes, REC(1) + 20, 4, 0xfffffff, "SCHEMA[1].span: source position 268435455 out of range (22 positions)");
    refuse(&bytes, meta + 28, 4, chg_rd32(meta + 28) & ~1u, "a schema in a bundle whose META says it has none");
    chg_buf_free(&bytes);

    /* a bundle without a schema cannot claim one: nothing would be checked */
    bytes = vm_build("rule r: when change.n > 1 deny \"n\"\n");
    section(&bytes, CHG_SEC_SCHEMA, &n);
    assert_int_equal(n, 0);
    meta = section(&bytes, CHG_SEC_META, &nm);
    refuse(&bytes, meta + 28, 4, chg_rd32(meta + 28) | 1u,
           "META says the policy has a schema, but the SCHEMA section is empty");
    chg_buf_free(&bytes);
#undef REC
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_alternating_on_one_context),
        cmocka_unit_test(test_schema_no_allocations_per_decision),
        cmocka_unit_test(test_schema_strict),
        cmocka_unit_test(test_schema_bounded_messages),
        cmocka_unit_test(test_schema_deep),
        cmocka_unit_test(test_schema_loader_refuses_bad_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
