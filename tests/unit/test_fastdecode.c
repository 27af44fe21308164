/*
 * test_fastdecode.c — the change decoder's fast path (vm/fastdecode.c over
 * vm/jsonwalk.cc) against the jansson path it stands in for:
 *
 *   - well-formed changes that fit are taken by the fast path, and decode
 *     to exactly the slots, lists, records and strings jansson's gives;
 *   - everything jansson refuses (duplicate keys anywhere, escapes, bad
 *     UTF-8, number grammar and range, literals, trailing bytes, ...) and
 *     everything that does not fit the schema is declined, in unread
 *     fields too, so the jansson path gives its exact message;
 *   - one decoder, and one context, keep no state from a refused change
 *     to the next (a mutated change between two good ones);
 *   - its allocations per change do not grow with the fields.
 */
#include "helpers.h"
#include "vm_helpers.h"

#include "alloc_count.h"
#include "jsonwalk.h"
#include "vm_int.h"

static const char typed[] =
    "schema change {\n"
    "  id: string\n"
    "  env: enum(\"dev\", \"prod\")\n"
    "  size: int\n"
    "  ratio: float?\n"
    "  ttl: duration = 1m\n"
    "  emergency: bool = false\n"
    "  requested_at: time\n"
    "  requester: { name: string, groups: [string], team: { lead: string? }? }\n"
    "  approvals: [{ by: string, group: string, at: time }]\n"
    "  tags: [string]?\n"
    "  note: string?\n"
    "}\n"
    "at change.requested_at\n"
    "risk low < high\n"
    "classify { high when change.env == \"prod\" and change.size > 10 default low }\n"
    "approvals {\n"
    "  low => none\n"
    "  high => 1 of group \"cab\"\n"
    "}\n"
    "rule r advisory: when change.note != null or len(change.requester.groups) > 2\n"
    "  warn \"{change.id} {change.requester.name} {change.ttl}\"\n"
    "rule q advisory: when change.ratio != null and change.ratio > 0.1 warn \"ratio\"\n"
    "rule t advisory: when change.tags != null and any t in change.tags: t == \"x\"\n"
    "  warn \"tagged {change.emergency}\"\n";

#define GOOD                                                                                                        \
    "{\"id\":\"c1\",\"env\":\"prod\",\"size\":12,\"requested_at\":\"2026-12-01T10:00:00Z\","                       \
    "\"requester\":{\"name\":\"ann\",\"groups\":[\"dev\",\"ops\",\"x\"]},"                                          \
    "\"approvals\":[{\"by\":\"bob\",\"group\":\"cab\",\"at\":\"2026-12-01T09:00:00Z\"}]}"

static const char untyped[] =
    "risk low < high\n"
    "classify { high when change.a.b == 1 default low }\n"
    "approvals {\n"
    "  low => none\n"
    "  high => 1 of group \"cab\"\n"
    "}\n"
    "rule r advisory: when any x in change.items: x.k.v == \"y\" or x.n > 2\n"
    "  warn \"{change.s} {change.f} {change.flag} {len(change.list)}\"\n"
    "rule s advisory: when any y in change.list: y == 3\n"
    "  warn \"three\"\n";

typedef struct fixture {
    chg_bundle *b;
    chg_fastdec *d;
} fixture;

static fixture make(const char *policy)
{
    fixture f;
    f.b = vm_build_load(policy);
    f.d = chg_vm_fastdec_new(f.b);
    assert_non_null(f.d);
    return f;
}

static void unmake(fixture *f)
{
    chg_vm_fastdec_free(f->d);
    chg_bundle_free(f->b);
}

/* Decode text both ways; the fast path must agree with jansson whenever
 * it takes the change. Returns what the fast path did. */
static int both(fixture *f, const char *text, size_t len)
{
    chg_event *fast = NULL;
    int rc = chg_vm_fastdec_decode(f->d, text, len, false, &fast);
    char err[512];
    chg_event *slow = chg_vm_event_decode_json(f->b, text, len, err, sizeof err);
    if (rc == CHG_OK) {
        if (!slow)
            fail_msg("the fast path took what jansson refuses (%s): %.*s", err, (int)len, text);
        if (!chg_vm_event_same(f->b, fast, slow))
            fail_msg("the fast path decoded differently: %.*s", (int)len, text);
    } else
        assert_int_equal(rc, CHG_JW_DECLINED);
    chg_event_free(fast);
    chg_event_free(slow);
    return rc;
}

static void taken(fixture *f, const char *text)
{
    if (both(f, text, strlen(text)) != CHG_OK)
        fail_msg("the fast path declined a change that fits: %s", text);
}

static void declined(fixture *f, const char *text, size_t len)
{
    if (both(f, text, len) != CHG_JW_DECLINED)
        fail_msg("the fast path took: %.*s", (int)len, text);
}

#define DECLINED(f, s) declined(f, s, sizeof s - 1)

static void test_fits_taken_and_same(void **state)
{
    (void)state;
    fixture f = make(typed);
    taken(&f, GOOD);
    /* optional, defaults given, nulls where allowed, escapes in read strings */
    taken(&f, "{\"id\":\"c\\u00e9\\n\\\"\",\"env\":\"dev\",\"size\":-0,\"ratio\":2,\"ttl\":7,\"emergency\":true,"
              "\"requested_at\":\"2026-12-01T10:00:00+02:00\",\"requester\":{\"name\":\"\\ud83d\\ude00\","
              "\"groups\":[],\"team\":{\"lead\":null}},\"approvals\":[],\"tags\":[\"x\",\"\\/y\"],\"note\":null}");
    taken(&f, "\xEF\xBB\xBF" GOOD);            /* a byte order mark, as chg_vm_json_parse */
    taken(&f, " \t\r\n" GOOD " \n");
    taken(&f, "{\"id\":\"c\",\"env\":\"prod\",\"size\":1,\"ratio\":1.5e-3,\"ttl\":null,\"requested_at\":"
              "\"2026-12-01T10:00:00Z\",\"requester\":{\"name\":\"a:b\",\"groups\":[\"\"],\"team\":null},"
              "\"approvals\":[{\"by\":\"x\",\"group\":\"y\",\"at\":\"2026-01-01T00:00:00Z\"},"
              "{\"at\":\"2026-01-02T00:00:00Z\",\"group\":\"g\",\"by\":\"z\"}],\"tags\":null}");
    unmake(&f);

    f = make(untyped);
    taken(&f, "{}");
    taken(&f, "{\"a\":{\"b\":1},\"s\":\"t\",\"f\":1e300,\"flag\":false,\"list\":[1,\"two\",3.5,null,true],"
              "\"items\":[{\"k\":{\"v\":\"y\"},\"n\":3},{\"n\":null},null,7,\"s\",[1]],\"other\":{\"deep\":[[{}]]}}");
    taken(&f, "{\"a\":\"not an object\",\"items\":[],\"list\":[]}");
    /* numbers converted as jansson does (simdjson 3.0's own double parser
     * reads the first as 5e-20; fuzz_decode found it) */
    taken(&f, "{\"f\":0.92233720368547758085,\"s\":\"x\",\"list\":[-9223372036854775808,9223372036854775807,"
              "123456789012345678901234567890e-10,18446744073709551616.5,1e-400,-0.0,0e3477580700]}");
    taken(&f, "{\"a\":{\"b\":\"1\"},\"items\":[{\"k\":1}]}");
    unmake(&f);
}

/* What jansson refuses anywhere in the document, read or not. */
static void test_invalid_json_declined(void **state)
{
    (void)state;
    fixture f = make(untyped);
    DECLINED(&f, "{\"s\":\"a\",\"s\":\"b\"}");
    DECLINED(&f, "{\"s\":\"a\",\"\\u0073\":\"b\"}");       /* the same key, escaped */
    DECLINED(&f, "{\"u\":{\"x\":1,\"x\":2}}");              /* in an unread object */
    DECLINED(&f, "{\"u\":[{\"x\":1},{\"y\":1,\"y\":1}]}");
    DECLINED(&f, "{\"u\":\"\\u0000\"}");
    DECLINED(&f, "{\"u\":\"\\ud800\"}");
    DECLINED(&f, "{\"u\":\"\\udc00\"}");
    DECLINED(&f, "{\"u\":\"\\ud800\\u0041\"}");
    DECLINED(&f, "{\"u\":\"\\x\"}");
    DECLINED(&f, "{\"u\":\"\\u12g4\"}");
    DECLINED(&f, "{\"u\":\"tab\there\"}");
    DECLINED(&f, "{\"u\":\"\xC0\x80\"}");                   /* overlong */
    DECLINED(&f, "{\"u\":\"\xED\xA0\x80\"}");               /* an encoded surrogate */
    DECLINED(&f, "{\"u\":\"\xF5\x80\x80\x80\"}");
    DECLINED(&f, "{\"u\":\"\xE2\x82\"}");                   /* cut short */
    DECLINED(&f, "{\"u\":01}");
    DECLINED(&f, "{\"u\":1.}");
    DECLINED(&f, "{\"u\":.5}");
    DECLINED(&f, "{\"u\":-}");
    DECLINED(&f, "{\"u\":1e}");
    DECLINED(&f, "{\"u\":+1}");
    DECLINED(&f, "{\"u\":9223372036854775808}");
    DECLINED(&f, "{\"u\":-9223372036854775809}");
    DECLINED(&f, "{\"u\":1e400}");
    DECLINED(&f, "{\"u\":tru}");
    DECLINED(&f, "{\"u\":nul}");
    DECLINED(&f, "{\"u\":nulll}");
    DECLINED(&f, "{\"u\":True}");
    DECLINED(&f, "{\"u\":1x}");
    DECLINED(&f, "{\"u\":[1,]}");
    DECLINED(&f, "{\"u\":[,1]}");
    DECLINED(&f, "{\"u\":{\"a\":1,}}");
    DECLINED(&f, "{\"u\":1,}");
    DECLINED(&f, "{\"u\":1 \"v\":2}");
    DECLINED(&f, "{\"u\" 1}");
    DECLINED(&f, "{\"u\":[1 2]}");
    DECLINED(&f, "{} x");
    DECLINED(&f, "{}{}");
    DECLINED(&f, "{}}");
    DECLINED(&f, "{\"u\":1");
    DECLINED(&f, "{\"u\":\"open}");
    DECLINED(&f, "[]");
    DECLINED(&f, "\"s\"");
    DECLINED(&f, "");
    DECLINED(&f, "  ");
    DECLINED(&f, "\xEF\xBB\xBF\xEF\xBB\xBF{}");
    DECLINED(&f, "{\"u\":1}\0");
    DECLINED(&f, "{\"a\":{\"b\":[1]}}");                   /* read whole: JSON, jansson's */
    DECLINED(&f, "{\"a\":{\"b\":{\"c\":1}}}");
    /* the 17th and later keys of an object are looked up by hash */
    char big[4096];
    int n = snprintf(big, sizeof big, "{\"u\":{");
    for (int i = 0; i < 40; i++)
        n += snprintf(big + n, sizeof big - (size_t)n, "%s\"k%d\":%d", i ? "," : "", i % 39, i);
    snprintf(big + n, sizeof big - (size_t)n, "}}");
    declined(&f, big, strlen(big));
    n = snprintf(big, sizeof big, "{\"u\":{");
    for (int i = 0; i < 40; i++)
        n += snprintf(big + n, sizeof big - (size_t)n, "%s\"k%d\":{\"k%d\":%d}", i ? "," : "", i, i, i);
    snprintf(big + n, sizeof big - (size_t)n, "},\"s\":\"x\"}");
    if (both(&f, big, strlen(big)) != CHG_OK)
        fail_msg("declined 40 distinct keys");
    /* nested deeper than the walker goes (jansson allows 2048) */
    char *deep = malloc(4000);
    n = sprintf(deep, "{\"u\":");
    for (int i = 0; i < 1500; i++)
        deep[n++] = '[';
    for (int i = 0; i < 1500; i++)
        deep[n++] = ']';
    deep[n++] = '}';
    declined(&f, deep, (size_t)n);
    free(deep);
    unmake(&f);
}

/* Values that do not fit the schema, or that it does not declare: the
 * jansson path writes the errors and warnings. */
static void test_schema_issues_declined(void **state)
{
    (void)state;
    fixture f = make(typed);
    const char *bad[] = {
        "{\"env\":\"prod\",\"size\":12,\"requested_at\":\"2026-12-01T10:00:00Z\",\"requester\":{\"name\":\"a\","
        "\"groups\":[]},\"approvals\":[]}",                                     /* id missing */
        "{\"id\":null,\"env\":\"prod\",\"size\":12,\"requested_at\":\"2026-12-01T10:00:00Z\",\"requester\":{"
        "\"name\":\"a\",\"groups\":[]},\"approvals\":[]}",                       /* id null */
        "{\"id\":\"c\",\"env\":\"qa\",\"size\":12,\"requested_at\":\"2026-12-01T10:00:00Z\",\"requester\":{"
        "\"name\":\"a\",\"groups\":[]},\"approvals\":[]}",                       /* not in the enum */
        "{\"id\":\"c\",\"env\":\"dev\",\"size\":1.0,\"requested_at\":\"2026-12-01T10:00:00Z\",\"requester\":{"
        "\"name\":\"a\",\"groups\":[]},\"approvals\":[]}",                       /* a float for an int */
        "{\"id\":\"c\",\"env\":\"dev\",\"size\":1,\"requested_at\":\"yesterday\",\"requester\":{"
        "\"name\":\"a\",\"groups\":[]},\"approvals\":[]}",
        "{\"id\":\"c\",\"env\":\"dev\",\"size\":1,\"requested_at\":\"0000-01-01T00:00:00+01:00\",\"requester\":{"
        "\"name\":\"a\",\"groups\":[]},\"approvals\":[]}",                       /* before year 0 */
        "{\"id\":\"c\",\"env\":\"dev\",\"size\":1,\"requested_at\":\"2026-12-01T10:00:00Z\",\"requester\":{"
        "\"name\":\"a\",\"groups\":[null]},\"approvals\":[]}",                   /* a null element */
        "{\"id\":\"c\",\"env\":\"dev\",\"size\":1,\"requested_at\":\"2026-12-01T10:00:00Z\",\"requester\":{"
        "\"name\":\"a\",\"groups\":[]},\"approvals\":[{\"by\":\"b\",\"group\":\"g\"}]}", /* at missing */
        "{\"id\":\"c\",\"env\":\"dev\",\"size\":1,\"requested_at\":\"2026-12-01T10:00:00Z\",\"requester\":{"
        "\"name\":\"a\",\"groups\":[]},\"approvals\":[],\"pipeline\":\"p\"}",     /* undeclared: a warning */
        "{\"id\":\"c\",\"env\":\"dev\",\"size\":1,\"requested_at\":\"2026-12-01T10:00:00Z\",\"requester\":{"
        "\"name\":\"a\",\"groups\":[],\"team\":{\"x\":1}},\"approvals\":[]}",     /* undeclared, nested */
        "{\"id\":\"c\",\"env\":\"dev\",\"size\":1,\"ttl\":\"2h\",\"requested_at\":\"2026-12-01T10:00:00Z\","
        "\"requester\":{\"name\":\"a\",\"groups\":[]},\"approvals\":[]}",
        "{\"id\":\"c\",\"env\":\"dev\",\"size\":1,\"requested_at\":\"2026-12-01T10:00:00Z\",\"requester\":[],"
        "\"approvals\":[]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        declined(&f, bad[i], strlen(bad[i]));
    unmake(&f);
}

/* One decoder and one context: a good change, a change mutated into what
 * jansson refuses (a duplicate among many keys of an unread object, so
 * the hash table is used), a change that does not fit, the good one
 * again. Nothing of the refused ones may show in the next: the messages
 * are jansson's, and the good change decides the same both times. */
static void test_mutated_between_good_on_one_context(void **state)
{
    (void)state;
    chg_bundle *b = vm_build_load(typed);
    chg_ctx *ctx = chg_ctx_new(b);
    char mutated[4096];
    int n = snprintf(mutated, sizeof mutated, "%.*s,\"note\":{", (int)strlen(GOOD) - 1, GOOD);
    (void)n;
    /* note is a string: an object there does not fit either, but the
     * duplicate makes it malformed first */
    char keys[2048];
    int k = 0;
    for (int i = 0; i < 30; i++)
        k += snprintf(keys + k, sizeof keys - (size_t)k, "%s\"n%d\":%d", i ? "," : "", i == 29 ? 3 : i, i);
    snprintf(mutated + strlen(mutated), sizeof mutated - strlen(mutated), "%s}}", keys);
    const char *unfit = "{\"id\":\"c1\",\"env\":\"prod\",\"size\":\"12\"}";
    char *first = NULL;
    for (int round = 0; round < 2; round++) {
        chg_eval_input in = {.now = 1796000000};
        char err[512], err2[512];
        chg_event *e = chg_event_intake(ctx, GOOD, strlen(GOOD), &in, NULL, err, sizeof err);
        assert_non_null(e);
        assert_null(e->json); /* self-contained: the fast path's */
        in.change = e;
        chg_decision d;
        assert_int_equal(chg_eval(ctx, &in, &d), CHG_OK);
        chg_buf out;
        chg_buf_init(&out);
        chg_decision_write(b, &d, &out);
        chg_event_free(e);
        if (!first)
            first = chg_buf_take(&out);
        else {
            assert_string_equal(out.data, first);
            chg_buf_free(&out);
        }
        /* refused, with jansson's words and position */
        assert_null(chg_event_intake(ctx, mutated, strlen(mutated), &in, NULL, err, sizeof err));
        chg_event *j = chg_vm_event_decode_json(b, mutated, strlen(mutated), err2, sizeof err2);
        assert_null(j);
        assert_string_equal(err, err2);
        assert_non_null(strstr(err, "duplicate object key"));
        /* does not fit: the decision is `error`, naming the path */
        e = chg_event_intake(ctx, unfit, strlen(unfit), &in, NULL, err, sizeof err);
        assert_non_null(e);
        in.change = e;
        assert_int_equal(chg_eval(ctx, &in, &d), CHG_OK);
        assert_int_equal(d.outcome, CHG_OUT_ERROR);
        chg_buf_init(&out);
        chg_decision_write(b, &d, &out);
        assert_non_null(strstr(out.data, "change.size: expected int, found a string"));
        chg_buf_free(&out);
        chg_event_free(e);
    }
    chg_free(first);
    chg_ctx_free(ctx);
    chg_bundle_free(b);
}

/* The work memory is the decoder's: what a change costs in allocations
 * does not grow with its fields, its lists or what nobody reads. */
static void test_allocations_do_not_grow_with_fields(void **state)
{
    (void)state;
    fixture f = make(typed);
    chg_event *e;
    assert_int_equal(chg_vm_fastdec_decode(f.d, GOOD, strlen(GOOD), false, &e), CHG_OK); /* warm */
    chg_event_free(e);
    unsigned long before = alloc_count_calls;
    assert_int_equal(chg_vm_fastdec_decode(f.d, GOOD, strlen(GOOD), false, &e), CHG_OK);
    chg_event_free(e);
    unsigned long small = alloc_count_calls - before;
    const char *bigger =
        "{\"id\":\"c1\",\"env\":\"prod\",\"size\":12,\"requested_at\":\"2026-12-01T10:00:00Z\","
        "\"requester\":{\"name\":\"ann\",\"groups\":[\"dev\",\"ops\",\"x\",\"y\",\"z\"]},\"tags\":[\"a\",\"b\"],"
        "\"approvals\":[{\"by\":\"bob\",\"group\":\"cab\",\"at\":\"2026-12-01T09:00:00Z\"},"
        "{\"by\":\"cy\",\"group\":\"cab\",\"at\":\"2026-12-01T09:00:00Z\"},"
        "{\"by\":\"di\",\"group\":\"sec\",\"at\":\"2026-12-01T09:00:00Z\"}],\"note\":\"n\",\"ratio\":0.5}";
    assert_int_equal(chg_vm_fastdec_decode(f.d, bigger, strlen(bigger), false, &e), CHG_OK); /* warm */
    chg_event_free(e);
    before = alloc_count_calls;
    assert_int_equal(chg_vm_fastdec_decode(f.d, bigger, strlen(bigger), false, &e), CHG_OK);
    chg_event_free(e);
    unsigned long large = alloc_count_calls - before;
    assert_true(small <= 2); /* the event and its arena's first block */
    assert_int_equal(small, large);
    unmake(&f);
}

/* The string scanner steps sixteen bytes at a time: a quote, a backslash
 * escape or a control byte at every place of strings up to 40 bytes long,
 * in a key and in a value, read and unread, must be judged as jansson
 * judges it; and duplicate keys are found whatever their signature. */
static void test_strings_at_every_offset(void **state)
{
    (void)state;
    fixture f = make(untyped);
    static const char *const specials[] = {"\\\"", "\\\\", "\\n", "\\u00e9", "\\ud83d\\ude00", "\x01", "\x1f",
                                           "\x7f", "\xc3\xa9", "\\", "\\x", "\\u12", "\\udc00", "\xc3", "\xff"};
    for (size_t k = 0; k < sizeof specials / sizeof *specials; k++)
        for (size_t len = 0; len <= 40; len++)
            for (size_t at = 0; at <= len; at++) {
                char body[128];
                size_t sl = strlen(specials[k]);
                memset(body, 'a', at);
                memcpy(body + at, specials[k], sl);
                memset(body + at + sl, 'b', len - at);
                body[len + sl] = 0;
                char text[512];
                /* read (s), unread (u), and as a key */
                int n = snprintf(text, sizeof text, "{\"s\":\"%s\",\"u\":\"%s\",\"%s\":1,\"list\":[\"%s\"]}", body,
                                 body, body, body);
                both(&f, text, (size_t)n);
                /* at the very end of the text: an unterminated string */
                n = snprintf(text, sizeof text, "{\"s\":\"%s", body);
                assert_int_equal(both(&f, text, (size_t)n), CHG_JW_DECLINED);
            }
    /* keys of one object, all distinct or one repeated, enough of them to
     * share signature bits and to pass to the hash table */
    for (int count = 1; count <= 40; count++)
        for (int dup = -1; dup < count; dup += 3) {
            char text[2048];
            size_t n = 0;
            n += (size_t)snprintf(text + n, sizeof text - n, "{");
            for (int i = 0; i < count; i++)
                n += (size_t)snprintf(text + n, sizeof text - n, "%s\"k%d\":%d", i ? "," : "", i, i);
            if (dup >= 0)
                n += (size_t)snprintf(text + n, sizeof text - n, ",\"k%d\":0", dup);
            n += (size_t)snprintf(text + n, sizeof text - n, "}");
            int rc = both(&f, text, n);
            assert_int_equal(rc, dup >= 0 ? CHG_JW_DECLINED : CHG_OK);
        }
    unmake(&f);
}

/* An event given back is filled again by the next decoding: nothing of
 * the change it held may survive into the next (a field the next one
 * lacks reads as missing, not as the last one's value). */
static void test_recycled_event_keeps_nothing(void **state)
{
    (void)state;
    fixture f = make(typed);
    static const char full[] =
        "{\"id\":\"c-long-identifier-to-fill-the-arena\",\"env\":\"prod\",\"size\":99,\"ratio\":0.5,\"ttl\":60,"
        "\"emergency\":true,\"requested_at\":\"2026-12-01T10:00:00Z\",\"requester\":{\"name\":\"zed\","
        "\"groups\":[\"a\",\"b\",\"c\",\"d\"],\"team\":{\"lead\":\"lee\"}},\"approvals\":[{\"by\":\"bob\","
        "\"group\":\"cab\",\"at\":\"2026-12-01T09:00:00Z\"},{\"by\":\"cy\",\"group\":\"sec\",\"at\":"
        "\"2026-12-01T08:00:00Z\"}],\"tags\":[\"x\",\"y\"],\"note\":\"a note\"}";
    chg_event *last = NULL;
    for (int round = 0; round < 3; round++) {
        chg_event *e = NULL;
        assert_int_equal(chg_vm_fastdec_decode(f.d, full, sizeof full - 1, false, &e), CHG_OK);
        if (last)
            assert_ptr_equal(e, last); /* the event given back was filled, not a new one */
        chg_vm_fastdec_recycle(f.d, e);
        chg_event *g = NULL;
        assert_int_equal(chg_vm_fastdec_decode(f.d, GOOD, sizeof GOOD - 1, false, &g), CHG_OK);
        assert_ptr_equal(g, e);
        char err[256];
        chg_event *slow = chg_vm_event_decode_json(f.b, GOOD, sizeof GOOD - 1, err, sizeof err);
        assert_non_null(slow);
        if (!chg_vm_event_same(f.b, g, slow))
            fail_msg("round %d: the recycled event still holds some of the last change", round);
        chg_event_free(slow);
        chg_vm_fastdec_recycle(f.d, g);
        /* a second one given back while one is kept is freed (ASan: no leak) */
        chg_event *extra = chg_vm_event_new(f.b, err, sizeof err);
        chg_vm_fastdec_recycle(f.d, extra);
        last = g;
    }
    unmake(&f); /* frees the kept one */
}

int main(void)
{
    alloc_count_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fits_taken_and_same),
        cmocka_unit_test(test_invalid_json_declined),
        cmocka_unit_test(test_strings_at_every_offset),
        cmocka_unit_test(test_schema_issues_declined),
        cmocka_unit_test(test_mutated_between_good_on_one_context),
        cmocka_unit_test(test_recycled_event_keeps_nothing),
        cmocka_unit_test(test_allocations_do_not_grow_with_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
