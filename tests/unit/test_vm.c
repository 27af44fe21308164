/*
 * test_vm.c — bundles and the evaluator: a bundle survives the round trip,
 * every corrupted, truncated or foreign byte string is rejected or runs
 * harmlessly, decisions allocate nothing once warm, are byte-for-byte
 * deterministic and thread-safe with a shared bundle, and run-time errors
 * name their rule and place.
 */
#include "helpers.h"
#include "vm_helpers.h"

#include <pthread.h>
#include <time.h>

#include <openssl/evp.h>

#include "alloc_count.h"
#include "bundle_format.h"
#include "chg_time.h"
#include "chg_vm.h"
#include "vm_int.h"

static const char policy[] =
    "policy \"t\" version \"1\"\n"
    "schema change { id: string, env: enum(\"dev\", \"prod\"), n: int, tags: [string], when: time,\n"
    "  items: [{ name: string, size: int }], note: string? }\n"
    "at change.when\n"
    "risk low < high\n"
    "let prod = change.env == \"prod\"\n"
    "classify { high when prod and change.n > 10 default low }\n"
    "window nights = daily 22:00..06:00 in \"Europe/Berlin\"\n"
    "freeze holidays = yearly dec 24 .. dec 27 in \"UTC\"\n"
    "rule nights mandatory: when risk >= high require window nights\n"
    "rule holidays overridable: when prod deny during holidays \"frozen: {freeze}\"\n"
    "rule big advisory: when any i in change.items: i.size > 5 warn \"big item in {change.id}\"\n"
    "rule tagged: when \"blocked\" in change.tags and (change.note ?? \"\") matches r\"^x\" deny \"tagged {len(change.tags)}\"\n"
    "rule label advisory: when change.note != null warn \"{lower(change.note)}-{change.n * 2}\"\n";

static const char event_json[] =
    "{\"id\":\"e1\",\"env\":\"prod\",\"n\":12,\"tags\":[\"a\",\"blocked\"],\"when\":\"2026-12-25T10:00:00Z\","
    "\"items\":[{\"name\":\"x\",\"size\":9}],\"note\":\"xNote\"}";

/* Another change, different in every field event_json has: its strings,
 * an empty list where that one has items, a missing optional field. */
static const char other_json[] =
    "{\"id\":\"second\",\"env\":\"dev\",\"n\":3,\"tags\":[],\"when\":\"2026-06-01T03:00:00Z\","
    "\"items\":[]}";

static void test_vm_decision(void **state)
{
    (void)state;
    chg_buf bytes = vm_build(policy);
    chg_bundle *b = vm_load(&bytes);
    chg_ctx *ctx = chg_ctx_new(b);
    char *json = vm_decide(b, ctx, event_json, 0);
    assert_string_equal(json,
                        "{\"change\":\"e1\",\"policy\":\"t\",\"version\":\"1\",\"at\":\"2026-12-25T10:00:00Z\","
                        "\"risk\":\"high\",\"outcome\":\"deny\",\"reasons\":["
                        "{\"rule\":\"nights\",\"level\":\"mandatory\",\"message\":\"window nights is closed\","
                        "\"source\":\"t.chg:10:6\"},"
                        "{\"rule\":\"holidays\",\"level\":\"overridable\",\"message\":\"frozen: holidays\","
                        "\"source\":\"t.chg:11:6\"},"
                        "{\"rule\":\"tagged\",\"level\":\"mandatory\",\"message\":\"tagged 2\","
                        "\"source\":\"t.chg:13:6\"}],"
                        "\"approvals\":{\"required\":\"none\",\"satisfied\":[],\"missing\":[]},"
                        "\"window\":{\"required\":\"nights\",\"open\":false,\"next_open\":null,\"closes_at\":null},"
                        "\"freezes\":[\"holidays\"],\"warnings\":["
                        "{\"rule\":\"big\",\"level\":\"advisory\",\"message\":\"big item in e1\",\"source\":\"t.chg:12:6\"},"
                        "{\"rule\":\"label\",\"level\":\"advisory\",\"message\":\"xnote-24\",\"source\":\"t.chg:14:6\"}],"
                        "\"actions\":[],\"emergency\":false}");
    chg_free(json);
    chg_ctx_free(ctx);
    chg_bundle_free(b);
    chg_buf_free(&bytes);
}

/* chg_eval_batch: every decision byte for byte chg_eval's, in order,
 * with its status, and no allocation once warm. */
typedef struct batch_seen {
    const chg_bundle *b;
    chg_buf out;
    size_t next;
    int statuses;
} batch_seen;

static void batch_collect(void *ud, size_t i, const chg_decision *d, int status)
{
    batch_seen *s = ud;
    assert_int_equal(i, s->next++);
    s->statuses |= status != CHG_OK;
    chg_decision_write(s->b, d, &s->out);
    chg_buf_putc(&s->out, '\n');
}

static void test_vm_eval_batch(void **state)
{
    (void)state;
    alloc_count_init();
    chg_buf bytes = vm_build(policy);
    chg_bundle *b = vm_load(&bytes);
    chg_ctx *ctx = chg_ctx_new(b);
    char err[256];
    const char *texts[] = {event_json, other_json,
                           "{\"id\":\"e4\",\"env\":\"prod\",\"tags\":[],\"when\":\"2026-07-01T02:00:00Z\",\"items\":[]}"};
    enum { N = 11 }; /* longer than the prefetch distances, not a multiple of 3 */
    const chg_event *ev[N];
    chg_event *owned[3];
    for (int i = 0; i < 3; i++) {
        owned[i] = chg_event_decode(b, texts[i], strlen(texts[i]), err, sizeof err);
        assert_non_null(owned[i]);
    }
    for (int i = 0; i < N; i++)
        ev[i] = owned[(i * 7) % 3];
    chg_eval_input in = {.now = 1798761600};
    chg_buf want;
    chg_buf_init(&want);
    chg_decision d;
    for (int i = 0; i < N; i++) {
        in.change = ev[i];
        assert_int_equal(chg_eval(ctx, &in, &d), CHG_OK);
        chg_decision_write(b, &d, &want);
        chg_buf_putc(&want, '\n');
    }
    batch_seen s = {.b = b};
    chg_buf_init(&s.out);
    in.change = NULL; /* not read */
    assert_int_equal(chg_eval_batch(ctx, &in, ev, N, batch_collect, &s), CHG_OK);
    assert_int_equal(s.next, N);
    assert_int_equal(s.statuses, 0);
    assert_int_equal(s.out.len, want.len);
    assert_memory_equal(s.out.data, want.data, want.len);
    /* warm: a batch allocates nothing, and no callback is needed */
    unsigned long before = alloc_count_calls;
    for (int k = 0; k < 100; k++)
        assert_int_equal(chg_eval_batch(ctx, &in, ev, N, NULL, NULL), CHG_OK);
    assert_int_equal(alloc_count_calls - before, 0);
    assert_int_equal(chg_eval_batch(ctx, &in, ev, 0, batch_collect, &s), CHG_OK);
    assert_int_equal(s.next, N);
    chg_buf_free(&s.out);
    chg_buf_free(&want);
    for (int i = 0; i < 3; i++)
        chg_event_free(owned[i]);
    chg_ctx_free(ctx);
    chg_bundle_free(b);
    chg_buf_free(&bytes);
}

static void test_vm_no_allocations_per_decision(void **state)
{
    (void)state;
    alloc_count_init();
    chg_buf bytes = vm_build(policy);
    chg_bundle *b = vm_load(&bytes);
    chg_ctx *ctx = chg_ctx_new(b);
    char err[256];
    const char *events[] = {
        event_json,
        "{\"id\":\"e2\",\"env\":\"dev\",\"n\":1,\"tags\":[],\"when\":\"2026-03-01T23:00:00Z\",\"items\":[]}",
        "{\"id\":\"e3\",\"env\":\"prod\",\"n\":50,\"tags\":[\"q\"],\"when\":\"2026-07-01T02:00:00Z\","
        "\"items\":[{\"name\":\"a\",\"size\":1},{\"name\":\"b\",\"size\":7}],\"note\":\"Zed\"}",
        "{\"id\":\"e4\",\"env\":\"prod\",\"tags\":[],\"when\":\"2026-07-01T02:00:00Z\",\"items\":[]}", /* error */
    };
    chg_event *ev[4];
    for (int i = 0; i < 4; i++) {
        ev[i] = chg_event_decode(b, events[i], strlen(events[i]), err, sizeof err);
        assert_non_null(ev[i]);
    }
    chg_decision d;
    chg_eval_input in = {0};
    for (int i = 0; i < 4; i++) { /* warm up */
        in.change = ev[i];
        chg_eval(ctx, &in, &d);
    }
    unsigned long before = alloc_count_calls;
    int outcomes[5] = {0};
    for (int k = 0; k < 2500; k++)
        for (int i = 0; i < 4; i++) {
            in.change = ev[i];
            chg_eval(ctx, &in, &d);
            outcomes[d.outcome]++;
        }
    unsigned long allocs = alloc_count_calls - before;
    assert_int_equal(allocs, 0);
    assert_int_equal(outcomes[CHG_OUT_ERROR], 2500);
    assert_int_equal(outcomes[CHG_OUT_DENY], 2500);
    for (int i = 0; i < 4; i++)
        chg_event_free(ev[i]);
    chg_ctx_free(ctx);
    chg_bundle_free(b);
    chg_buf_free(&bytes);
}

static void test_vm_runtime_error_names_rule_and_place(void **state)
{
    (void)state;
    chg_buf bytes = vm_build(policy);
    chg_bundle *b = vm_load(&bytes);
    chg_ctx *ctx = chg_ctx_new(b);
    /* with a schema, a change that does not fit it fails before any
     * rule, naming every field (test_schema.c has the rest) */
    char *json = vm_decide(b, ctx, "{\"id\":\"e\",\"env\":\"prod\",\"when\":\"2026-01-01T00:00:00Z\"}", 0);
    assert_non_null(strstr(json, "\"risk\":null,\"outcome\":\"error\",\"reasons\":["
                                 "{\"rule\":null,\"level\":\"error\",\"message\":\"change.n is required but missing\","
                                 "\"source\":\"t.chg:2:55\"},"
                                 "{\"rule\":null,\"level\":\"error\",\"message\":\"change.tags is required but missing\","
                                 "\"source\":\"t.chg:2:63\"},"
                                 "{\"rule\":null,\"level\":\"error\",\"message\":\"change.items is required but missing\","
                                 "\"source\":\"t.chg:3:3\"}]"));
    chg_free(json);
    chg_ctx_free(ctx);
    chg_bundle_free(b);
    chg_buf_free(&bytes);
    /* without one, a field is checked where it is read: the error names
     * the rule and the place */
    bytes = vm_build("rule big: when change.n > 10 deny \"big\"\n"
                  "rule tagged: when \"blocked\" in change.tags deny \"tagged\"\n");
    b = vm_load(&bytes);
    ctx = chg_ctx_new(b);
    json = vm_decide(b, ctx, "{\"id\":\"e\",\"n\":\"x\"}", 0);
    assert_non_null(strstr(json, "{\"rule\":\"big\",\"level\":\"error\",\"message\":\"cannot compare int with string\","
                                 "\"source\":\"t.chg:1:16\"}"));
    chg_free(json);
    json = vm_decide(b, ctx, "{\"id\":\"e\",\"n\":1,\"tags\":7}", 0);
    assert_non_null(strstr(json, "{\"rule\":\"tagged\",\"level\":\"error\",\"message\":\"cannot look for string in "
                                 "int\",\"source\":\"t.chg:2:19\"}"));
    chg_free(json);
    chg_ctx_free(ctx);
    chg_bundle_free(b);
    chg_buf_free(&bytes);
}

static void test_vm_deterministic(void **state)
{
    (void)state;
    chg_buf bytes = vm_build(policy);
    chg_bundle *b1 = vm_load(&bytes), *b2 = vm_load(&bytes);
    chg_ctx *c1 = chg_ctx_new(b1), *c2 = chg_ctx_new(b2);
    char *first = vm_decide(b1, c1, event_json, 0);
    for (int i = 0; i < 20; i++) {
        char *again = vm_decide(i % 2 ? b1 : b2, i % 2 ? c1 : c2, event_json, 0);
        assert_string_equal(first, again);
        chg_free(again);
    }
    chg_free(first);
    /* the same source gives the same bundle */
    chg_buf again = vm_build(policy);
    assert_int_equal(again.len, bytes.len);
    assert_memory_equal(again.data, bytes.data, bytes.len);
    chg_buf_free(&again);
    chg_ctx_free(c1);
    chg_ctx_free(c2);
    chg_bundle_free(b1);
    chg_bundle_free(b2);
    chg_buf_free(&bytes);
}

typedef struct thread_arg {
    chg_bundle *b;
    const char *want;
    int mismatches;
} thread_arg;

static void *thread_main(void *p)
{
    thread_arg *a = p;
    chg_ctx *ctx = chg_ctx_new(a->b);
    for (int i = 0; i < 300; i++) {
        char *got = vm_decide(a->b, ctx, event_json, 0);
        if (strcmp(got, a->want) != 0)
            a->mismatches++;
        chg_free(got);
    }
    chg_ctx_free(ctx);
    return NULL;
}

static void test_vm_threads_share_a_bundle(void **state)
{
    (void)state;
    chg_buf bytes = vm_build(policy);
    chg_bundle *b = vm_load(&bytes);
    chg_ctx *ctx = chg_ctx_new(b);
    char *want = vm_decide(b, ctx, event_json, 0);
    pthread_t t[4];
    thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (thread_arg){b, want, 0};
        pthread_create(&t[i], NULL, thread_main, &args[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(args[i].mismatches, 0);
    }
    chg_free(want);
    chg_ctx_free(ctx);
    chg_bundle_free(b);
    chg_buf_free(&bytes);
}

static void rehash(uint8_t *data, size_t len)
{
    unsigned int hl;
    EVP_Digest(data + CHG_BUNDLE_HEADER, len - CHG_BUNDLE_HEADER, data + 32, &hl, EVP_sha256(), NULL);
}

/* Every byte of a bundle, flipped: the hash rejects it. Flipped and
 * re-hashed (as an attacker would): the verifier rejects it or it runs
 * without harm (ASan and UBSan watch), twice on one context. */
static void test_vm_flip_every_byte(void **state)
{
    (void)state;
    chg_buf bytes = vm_build(policy);
    uint8_t *copy = malloc(bytes.len);
    char err[512];
    int rejected = 0, harmless = 0, hash_caught = 0;
    for (size_t i = 0; i < bytes.len; i++) {
        memcpy(copy, bytes.data, bytes.len);
        copy[i] ^= 0xff;
        chg_bundle *b = chg_bundle_load(copy, bytes.len, err, sizeof err);
        if (i >= 32)
            assert_null(b); /* the hash covers everything after it */
        if (!b)
            hash_caught++;
        chg_bundle_free(b);
        if (i >= 32 && i < 64)
            continue; /* the hash itself */
        rehash(copy, bytes.len);
        b = chg_bundle_load(copy, bytes.len, err, sizeof err);
        if (!b) {
            assert_true(strncmp(err, "corrupt bundle: ", 16) == 0 && strstr(err, " at offset "));
            rejected++;
            continue;
        }
        harmless++;
        /* two different changes on one context: registers survive a
         * decision, so a mutant that reads one before writing it would
         * read the first change's values (freed) in the second */
        chg_ctx *ctx = chg_ctx_new(b);
        const char *changes[2] = {event_json, other_json};
        for (int k = 0; k < 2 && ctx; k++) {
            chg_event *e = chg_event_decode(b, changes[k], strlen(changes[k]), err, sizeof err);
            if (!e)
                continue;
            chg_eval_input in = {.change = e};
            chg_decision d;
            chg_eval(ctx, &in, &d);
            chg_buf out;
            chg_buf_init(&out);
            chg_decision_write(b, &d, &out);
            chg_buf_free(&out);
            chg_event_free(e);
        }
        chg_ctx_free(ctx);
        chg_bundle_free(b);
    }
    print_message("bundle of %zu bytes: %d flips caught by the hash; re-hashed, %d rejected by the verifier, "
                  "%d loaded and ran harmlessly\n",
                  bytes.len, hash_caught, rejected, harmless);
    assert_true(rejected > 0);
    free(copy);
    chg_buf_free(&bytes);
}

static void test_vm_truncated_and_foreign(void **state)
{
    (void)state;
    chg_buf bytes = vm_build(policy);
    char err[512];
    for (size_t n = 0; n < bytes.len; n++) {
        chg_bundle *b = chg_bundle_load(bytes.data, n, err, sizeof err);
        assert_null(b);
        assert_true(strstr(err, "truncated") || strstr(err, "corrupt"));
    }
    assert_null(chg_bundle_load("policy \"x\"\n", 11, err, sizeof err));
    assert_string_equal(err, "corrupt bundle: truncated: 11 bytes is shorter than the header at offset 0");
    char text[200];
    memset(text, 'x', sizeof text);
    assert_null(chg_bundle_load(text, sizeof text, err, sizeof err));
    assert_string_equal(err, "corrupt bundle: not a chg bundle (bad magic) at offset 0");
    /* a newer format */
    uint8_t *copy = malloc(bytes.len);
    memcpy(copy, bytes.data, bytes.len);
    chg_wr32(copy + 8, CHG_BUNDLE_VERSION + 1);
    assert_null(chg_bundle_load(copy, bytes.len, err, sizeof err));
    char want[200];
    snprintf(want, sizeof want, "corrupt bundle: bundle format version %d is not supported (this chgc reads version %d) at offset 8",
             CHG_BUNDLE_VERSION + 1, CHG_BUNDLE_VERSION);
    assert_string_equal(err, want);
    /* trailing bytes */
    uint8_t *longer = malloc(bytes.len + 3);
    memcpy(longer, bytes.data, bytes.len);
    assert_null(chg_bundle_load(longer, bytes.len + 3, err, sizeof err));
    assert_non_null(strstr(err, "trailing bytes"));
    free(longer);
    free(copy);
    chg_buf_free(&bytes);
}

/* A verifier check that the hash cannot hide: a backward jump that is not
 * a loop, and a loop whose body writes its counter. */
static void test_vm_verifier_rejects_unbounded_loops(void **state)
{
    (void)state;
    chg_buf bytes = vm_build("let x = any i in [1, 2, 3]: i > 1\nrule r: when x deny \"d\"\n");
    char err[512];
    /* find the backward JMP of the loop and retarget it at itself */
    const uint8_t *d = (const uint8_t *)bytes.data;
    uint32_t nsec = chg_rd32(d + 64), code = 0, ncode = 0;
    for (uint32_t i = 0; i < nsec; i++)
        if (chg_rd32(d + 68 + 12 * i) == CHG_SEC_CODE) {
            code = chg_rd32(d + 68 + 12 * i + 4) + 4;
            ncode = chg_rd32(d + code - 4);
        }
    int patched = 0;
    for (uint32_t i = 0; i < ncode; i++) {
        uint8_t *ins = (uint8_t *)bytes.data + code + 8 * i;
        uint32_t target = chg_rd16(ins + 4) | (uint32_t)chg_rd16(ins + 6) << 16;
        if (ins[0] == CHG_OP_JMP && target < i) {
            uint8_t save[8];
            memcpy(save, ins, 8);
            chg_wr16(ins + 4, (uint16_t)i); /* jump to itself: an endless loop */
            chg_wr16(ins + 6, 0);
            rehash((uint8_t *)bytes.data, bytes.len);
            assert_null(chg_bundle_load(bytes.data, bytes.len, err, sizeof err));
            assert_non_null(strstr(err, "a backward jump must go to a FORNEXT"));
            memcpy(ins, save, 8);
            /* the loop body writes the loop's index register */
            uint8_t *head = (uint8_t *)bytes.data + code + 8 * target;
            uint8_t *body = (uint8_t *)bytes.data + code + 8 * (target + 1);
            uint16_t body_save = chg_rd16(body + 2);
            chg_wr16(body + 2, (uint16_t)(chg_rd16(head + 2) + 1));
            rehash((uint8_t *)bytes.data, bytes.len);
            assert_null(chg_bundle_load(bytes.data, bytes.len, err, sizeof err));
            assert_non_null(strstr(err, "writes the loop registers"));
            chg_wr16(body + 2, body_save);
            patched++;
        }
    }
    assert_int_equal(patched, 1);
    chg_buf_free(&bytes);
}

/* Crafted loops the verifier must reject: FORNEXT reads its index without
 * a check, so every way into a loop that skips its FORPREP would leave the
 * index whatever the register held (-5 reads the list at 2^32 - 4; a large
 * int overflows), and a FORNEXT that exits into its own body loops forever. */
static void test_vm_verifier_rejects_loops_entered_past_forprep(void **state)
{
    (void)state;
    /* 0 LOADK r1; 1 FORPREP r1; 2 FORNEXT r1 ->8; 3..6 body; 7 JMP ->2; 8 … */
    chg_buf bytes = vm_build("let x = any i in [1, 2, 3]: i > 1\nrule r: when x deny \"d\"\n");
    uint8_t *d = (uint8_t *)bytes.data;
    uint32_t nsec = chg_rd32(d + 64), code = 0, ncode = 0;
    for (uint32_t i = 0; i < nsec; i++)
        if (chg_rd32(d + 68 + 12 * i) == CHG_SEC_CODE) {
            code = chg_rd32(d + 68 + 12 * i + 4) + 4;
            ncode = chg_rd32(d + code - 4);
        }
    uint32_t prep = 0;
    while (prep < ncode && d[code + 8 * prep] != CHG_OP_FORPREP)
        prep++;
    assert_true(prep >= 1 && prep + 1 < ncode);
    uint8_t *ins_prep = d + code + 8 * prep, *ins_next = ins_prep + 8, *ins_before = ins_prep - 8;
    assert_int_equal(ins_next[0], CHG_OP_FORNEXT);
    uint16_t reg = chg_rd16(ins_prep + 2);
    uint32_t body = prep + 2;
    struct {
        uint8_t *ins;
        uint8_t op;
        uint16_t a, b; /* c = 0 */
        const char *msg;
    } cases[] = {
        /* FORPREP replaced by "index = -5" */
        {ins_prep, CHG_OP_LOADI, (uint16_t)(reg + 1), 0xfffb, "not preceded by the FORPREP"},
        /* the loop's exit goes to the first instruction of its body */
        {ins_next, CHG_OP_FORNEXT, reg, (uint16_t)body, "exits into its own loop"},
        /* a jump from before the loop into its body, or to its FORNEXT */
        {ins_before, CHG_OP_JMP, 0, (uint16_t)body, "jumps into the loop"},
        {ins_before, CHG_OP_JMP, 0, (uint16_t)(prep + 1), "jumps into the loop"},
    };
    char err[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t save[8];
        memcpy(save, cases[i].ins, 8);
        memset(cases[i].ins, 0, 8);
        cases[i].ins[0] = cases[i].op;
        chg_wr16(cases[i].ins + 2, cases[i].a);
        chg_wr16(cases[i].ins + 4, cases[i].b);
        if (cases[i].op == CHG_OP_LOADI)
            chg_wr16(cases[i].ins + 6, 0xffff);
        rehash(d, bytes.len);
        chg_bundle *b = chg_bundle_load(bytes.data, bytes.len, err, sizeof err);
        if (b) {
            chg_bundle_free(b);
            fail_msg("case %zu: the verifier accepted it", i);
        }
        if (!strstr(err, cases[i].msg))
            fail_msg("case %zu: %s", i, err);
        memcpy(cases[i].ins, save, 8);
    }
    /* untouched, it loads */
    rehash(d, bytes.len);
    chg_bundle_free(vm_load(&bytes));
    chg_buf_free(&bytes);
}

/* An enum field whose values are missing: the decoder would read them
 * through an index of "none"; the verifier rejects the bundle instead. */
static void test_vm_verifier_rejects_enum_without_values(void **state)
{
    (void)state;
    chg_buf bytes = vm_build(policy);
    char err[512];
    uint8_t *d = (uint8_t *)bytes.data;
    uint32_t nsec = chg_rd32(d + 64), paths = 0, npaths = 0;
    for (uint32_t i = 0; i < nsec; i++)
        if (chg_rd32(d + 68 + 12 * i) == CHG_SEC_PATHS) {
            paths = chg_rd32(d + 68 + 12 * i + 4) + 4;
            npaths = chg_rd32(d + paths - 4);
        }
    int patched = 0;
    for (uint32_t i = 0; i < npaths; i++) {
        uint8_t *r = d + paths + 32 * i;
        if (r[1] != CHG_PT_ENUM)
            continue;
        uint32_t save = chg_rd32(r + 16);
        chg_wr32(r + 16, CHG_NONE32);
        rehash(d, bytes.len);
        assert_null(chg_bundle_load(bytes.data, bytes.len, err, sizeof err));
        assert_non_null(strstr(err, "an enum without its values"));
        chg_wr32(r + 16, save);
        patched++;
    }
    assert_int_equal(patched, 1); /* change.env */
    chg_buf_free(&bytes);
}

/* The first record of section id in a built bundle, and its count. */
static uint32_t section(const chg_buf *bytes, uint32_t id, uint32_t *count)
{
    const uint8_t *d = (const uint8_t *)bytes->data;
    uint32_t nsec = chg_rd32(d + 64);
    for (uint32_t i = 0; i < nsec; i++)
        if (chg_rd32(d + 68 + 12 * i) == id) {
            uint32_t off = chg_rd32(d + 68 + 12 * i + 4);
            *count = chg_rd32(d + off);
            return off + 4;
        }
    fail_msg("no section %u", id);
    return 0;
}

/* Instruction pc (a bundle's code is instructions 0.., 8 bytes each). */
static uint8_t *ins_at(chg_buf *bytes, uint32_t pc)
{
    uint32_t n;
    uint32_t code = section(bytes, CHG_SEC_CODE, &n);
    assert_true(pc < n);
    return (uint8_t *)bytes->data + code + 8 * pc;
}

static void set_ins(uint8_t *ins, uint8_t op, uint16_t a, uint16_t b)
{
    memset(ins, 0, 8);
    ins[0] = op;
    chg_wr16(ins + 2, a);
    chg_wr16(ins + 4, b);
}

/* The mutant, re-hashed as an attacker would, must be refused with
 * exactly this message ("%u" in want: the offset). */
static void refused(chg_buf *bytes, const char *want_fmt, uint32_t offset)
{
    char want[512], err[512];
    snprintf(want, sizeof want, want_fmt, offset);
    rehash((uint8_t *)bytes->data, bytes->len);
    chg_bundle *b = chg_bundle_load(bytes->data, bytes->len, err, sizeof err);
    if (b) {
        chg_bundle_free(b);
        fail_msg("the verifier accepted it (want: %s)", want);
    }
    assert_string_equal(err, want);
}

/* Registers are not cleared between decisions: a block that reads one
 * before writing it would read the previous change's values (strings in
 * a scratch arena since reset). Every such read is refused at load, on
 * any path: straight-line, after a join, and around loops. */
static void test_vm_verifier_rejects_read_before_write(void **state)
{
    (void)state;
    /* block 0:  0 CHANGE r0 ok; 1 JMPF r0 ->5; 2 LOADI r1 1; 3 CHANGE r2 n; 4 LT r0 r1 r2; 5 RET r0
     * block 2:  8 CHANGE r1 items; 9 FORPREP r1; 10 FORNEXT r1 ->16; 11..14 body; 15 JMP ->10;
     *          16 LOADBOOL r0 false; 17 JMP ->19; 18 LOADBOOL r0 true; 19 RET r0 */
    const char *text = "schema change { ok: bool, n: int, items: [{ name: string, size: int }] }\n"
                       "rule r: when change.ok and change.n > 1 deny \"d\"\n"
                       "rule q: when any i in change.items: i.size > 1 deny \"e\"\n";
    chg_buf bytes = vm_build(text);
    uint32_t n, code = section(&bytes, CHG_SEC_CODE, &n);
    assert_int_equal(ins_at(&bytes, 5)[0], CHG_OP_RET);
    assert_int_equal(ins_at(&bytes, 10)[0], CHG_OP_FORNEXT);
    uint8_t save[8];
    /* r2 is written only when change.ok holds: the JMPF path skips it */
    memcpy(save, ins_at(&bytes, 5), 8);
    set_ins(ins_at(&bytes, 5), CHG_OP_RET, 2, 0);
    refused(&bytes, "corrupt bundle: instruction 5 (RET): register 2 is read before it is written on some path at offset %u",
            code + 8 * 5);
    memcpy(ins_at(&bytes, 5), save, 8);
    /* the loop's element r3 after its exit: an empty list never wrote it */
    memcpy(save, ins_at(&bytes, 16), 8);
    set_ins(ins_at(&bytes, 16), CHG_OP_MOVE, 0, 3);
    refused(&bytes, "corrupt bundle: instruction 16 (MOVE): register 3 is read before it is written on some "
            "path at offset %u", code + 8 * 16);
    memcpy(ins_at(&bytes, 16), save, 8);
    /* a loop over a list register nothing wrote: the last change's list */
    memcpy(save, ins_at(&bytes, 8), 8);
    ins_at(&bytes, 8)[2] = 4; /* CHANGE r4 items: r1 is never written */
    refused(&bytes, "corrupt bundle: instruction 9 (FORPREP): register 1 is read before it is written on some "
            "path at offset %u", code + 8 * 9);
    memcpy(ins_at(&bytes, 8), save, 8);
    /* untouched, it loads and decides */
    rehash((uint8_t *)bytes.data, bytes.len);
    chg_bundle_free(vm_load(&bytes));
    chg_buf_free(&bytes);
}

/* A bundle made by hand: one block of the n instructions code[] with a
 * window of nregs registers, the two path roots, one string, every other
 * section empty. For checks no compiled policy can reach. */
static chg_buf handmade(const chg_ins *code, uint32_t n, uint16_t nregs)
{
    uint32_t size[CHG_SEC__MAX];
    for (int s = 1; s < CHG_SEC__MAX; s++)
        size[s] = chg_sections()[s].size;
    uint32_t count[CHG_SEC__MAX] = {0};
    count[CHG_SEC_META] = 1;
    count[CHG_SEC_STRINGS] = 1;
    count[CHG_SEC_CODE] = count[CHG_SEC_INSSPAN] = n;
    count[CHG_SEC_BLOCKS] = 1;
    count[CHG_SEC_PATHS] = 2;
    uint32_t nsec = CHG_SEC__MAX - 1, at = 64 + 4 + 12 * nsec, len[CHG_SEC__MAX], off[CHG_SEC__MAX];
    for (uint32_t id = 1; id <= nsec; id++) {
        off[id] = at;
        len[id] = 4 + count[id] * size[id] + (id == CHG_SEC_STRINGS ? 2 : 0); /* the blob: "t\0" */
        at += len[id];
    }
    uint8_t *d = calloc(1, at);
    memcpy(d, CHG_BUNDLE_MAGIC, 8);
    chg_wr32(d + 8, CHG_BUNDLE_VERSION);
    chg_wr32(d + 12, at);
    chg_wr32(d + 64, nsec);
    for (uint32_t id = 1; id <= nsec; id++) {
        uint8_t *e = d + 68 + 12 * (id - 1);
        chg_wr32(e, id);
        chg_wr32(e + 4, off[id]);
        chg_wr32(e + 8, len[id]);
        chg_wr32(d + off[id], count[id]);
    }
    uint8_t *m = d + off[CHG_SEC_META] + 4; /* name and version string 0, no at block, nregs */
    memset(m + 8, 0xff, 4);
    chg_wr32(m + 12, nregs);
    memset(m + 24, 0xff, 4);
    memset(m + 32, 0xff, 16);
    uint8_t *str = d + off[CHG_SEC_STRINGS] + 4;
    chg_wr32(str + 4, 1);
    str[8] = 't';
    for (int i = 0; i < 2; i++) { /* the roots: change, event */
        uint8_t *r = d + off[CHG_SEC_PATHS] + 4 + 32 * i;
        r[0] = (uint8_t)i;
        memset(r + 4, 0xff, 16);
        memset(r + 20, 0xff, 4);
    }
    uint8_t *k = d + off[CHG_SEC_BLOCKS] + 4;
    chg_wr32(k + 4, n);
    chg_wr16(k + 10, nregs);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t *r = d + off[CHG_SEC_CODE] + 4 + 8 * i;
        r[0] = code[i].op;
        r[1] = code[i].x;
        chg_wr16(r + 2, code[i].a);
        chg_wr16(r + 4, code[i].b);
        chg_wr16(r + 6, code[i].c);
    }
    rehash(d, at);
    chg_buf out;
    chg_buf_init(&out);
    chg_buf_append(&out, d, at);
    free(d);
    return out;
}

/* The data-flow pass costs n instructions times the words of the
 * registers written (64 a word): a block of 65,535 writes to 4,096
 * registers and a RET is 2^22 instruction visits, the most there may be,
 * and loads; 4,464 instructions more and it is refused, so a hostile
 * bundle cannot make loading slow. */
static void test_vm_verifier_bounds_its_work(void **state)
{
    (void)state;
    uint32_t n = 70000;
    chg_ins *code = calloc(n, sizeof *code);
    for (uint32_t i = 0; i < n; i++) {
        code[i].op = CHG_OP_LOADNULL;
        code[i].a = (uint16_t)(i % 4096);
    }
    code[65535].op = CHG_OP_RET; /* reads r0, written first */
    code[65535].a = 0;
    chg_buf bytes = handmade(code, 65536, 4096);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    chg_bundle_free(vm_load(&bytes));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    print_message("a block at the bound (65,536 instructions writing 4,096 registers) loads in %.0f ms\n",
                  (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    chg_buf_free(&bytes);
    code[65535].op = CHG_OP_LOADNULL;
    code[n - 1].op = CHG_OP_RET;
    code[n - 1].a = 0;
    bytes = handmade(code, n, 4096);
    uint32_t nb, blocks = section(&bytes, CHG_SEC_BLOCKS, &nb);
    char err[512], want[200];
    assert_null(chg_bundle_load(bytes.data, bytes.len, err, sizeof err));
    snprintf(want, sizeof want, "corrupt bundle: BLOCKS[0].len: 70000 instructions writing 4096 registers are too "
             "many to verify at offset %u", blocks + 4);
    assert_string_equal(err, want);
    chg_buf_free(&bytes);
    free(code);
}

/* The attack itself: rule b's message returns r1, which only rule a's
 * message writes (change.name). Deciding a change whose rule a fires and
 * then one whose rule a does not, on one context, made b's message the
 * first change's name, read from that change's event after it was freed
 * (ASan: heap-use-after-free), the other change's data in this decision.
 * The verifier refuses the bundle. */
static void test_vm_registers_do_not_carry_over_between_decisions(void **state)
{
    (void)state;
    /* block 1 (a: message): 2 CHANGE r1 name; 3 CONCAT r0 r1 n=1; 4 RET r0
     * block 2 (b: message): 5 LOADK r0 "b"; 6 RET r0 */
    chg_buf bytes = vm_build("schema change { ok: bool, name: string }\n"
                          "rule a: when change.ok deny \"{change.name}\"\n"
                          "rule b: deny \"b\"\n");
    uint32_t nb, blocks = section(&bytes, CHG_SEC_BLOCKS, &nb), n, code = section(&bytes, CHG_SEC_CODE, &n);
    uint8_t *d = (uint8_t *)bytes.data;
    assert_int_equal(nb, 3);
    assert_int_equal(ins_at(&bytes, 2)[0], CHG_OP_CHANGE);
    chg_wr16(d + blocks + 16 * 2 + 10, 2); /* block 2's window r0..r1 */
    set_ins(ins_at(&bytes, 5), CHG_OP_JMP, 0, 6);
    set_ins(ins_at(&bytes, 6), CHG_OP_RET, 1, 0);
    rehash(d, bytes.len);
    char err[512];
    chg_bundle *b = chg_bundle_load(bytes.data, bytes.len, err, sizeof err);
    if (b) { /* what the old verifier let through */
        chg_ctx *ctx = chg_ctx_new(b);
        char *first = vm_decide(b, ctx, "{\"ok\":true,\"name\":\"alice-secret\"}", 0);
        char *second = vm_decide(b, ctx, "{\"ok\":false,\"name\":\"bob\"}", 0);
        print_message("second decision: %s\n", second);
        chg_free(first);
        chg_free(second);
        chg_ctx_free(ctx);
        chg_bundle_free(b);
        fail_msg("the verifier accepted a block that reads r1 before writing it");
    }
    char want[200];
    snprintf(want, sizeof want, "corrupt bundle: instruction 6 (RET): register 1 is read before it is written "
             "on some path at offset %u", code + 8 * 6);
    assert_string_equal(err, want);
    chg_buf_free(&bytes);
}

/* Two lets of one block (found by fuzz_bundle_struct): a takes b's block,
 * which asks for a, so LET ran the block inside itself, over its own
 * registers (a CHG_ASSERT of the interpreter fired). */
static void test_vm_verifier_rejects_shared_let_block(void **state)
{
    (void)state;
    chg_buf bytes = vm_build("let a = 1\nlet b = a + 1\nrule r: when b > 1 deny \"d\"\n");
    uint32_t n, lets = section(&bytes, CHG_SEC_LETS, &n);
    assert_int_equal(n, 2);
    uint8_t *d = (uint8_t *)bytes.data;
    uint32_t save = chg_rd32(d + lets + 4), blk1 = chg_rd32(d + lets + 8 + 4);
    chg_wr32(d + lets + 4, blk1);
    char want[200];
    snprintf(want, sizeof want, "corrupt bundle: LETS[1].block: block %u is already the block of let 0 at offset %%u", blk1);
    refused(&bytes, want, lets + 8 + 4);
    chg_wr32(d + lets + 4, save);
    rehash(d, bytes.len);
    chg_bundle_free(vm_load(&bytes));
    chg_buf_free(&bytes);
}

/* A time set whose nodes share an operand is a graph, not a tree: its
 * membership test visits shared nodes once per path, exponential in the
 * depth. And two time sets sharing nodes would make building them all
 * cost more than the bundle's size. */
static void test_vm_verifier_rejects_shared_timeset_nodes(void **state)
{
    (void)state;
    chg_buf bytes = vm_build("freeze year_end = yearly dec 20 .. jan 03 in \"UTC\"\n"
                          "window office = weekly mon-fri 09:00..17:00 in \"UTC\"\n"
                          "freeze quiet = year_end and not office\n"
                          "rule f: deny during quiet \"frozen: {freeze}\"\n");
    uint32_t nn, tsn = section(&bytes, CHG_SEC_TSNODES, &nn);
    uint32_t nsets, sets = section(&bytes, CHG_SEC_TIMESETS, &nsets);
    uint8_t *d = (uint8_t *)bytes.data;
    uint32_t and_node = CHG_NONE32;
    for (uint32_t i = 0; i < nn; i++)
        if (d[tsn + 88 * i] == CHG_TS_AND)
            and_node = i;
    assert_true(and_node != CHG_NONE32);
    /* year_end and year_end: node a used twice */
    uint8_t *r = d + tsn + 88 * and_node;
    uint32_t save = chg_rd32(r + 16);
    chg_wr32(r + 16, chg_rd32(r + 12));
    char want[200];
    snprintf(want, sizeof want, "corrupt bundle: TSNODES[%u].b: node %u is already an operand (a time set "
             "must be a tree) at offset %%u", and_node, and_node - 3);
    refused(&bytes, want, tsn + 88 * and_node + 16);
    chg_wr32(r + 16, save);
    /* the set after the first starts inside it */
    assert_true(nsets >= 2);
    uint8_t *s1 = d + sets + 20 * 1;
    save = chg_rd32(s1 + 8);
    chg_wr32(s1 + 8, chg_rd32(d + sets + 8));
    refused(&bytes, "corrupt bundle: TIMESETS[1].first: node 0 belongs to the time set before at offset %u", sets + 20 + 8);
    chg_wr32(s1 + 8, save);
    rehash(d, bytes.len);
    chg_bundle_free(vm_load(&bytes));
    chg_buf_free(&bytes);
}

/* Decoding a list of records decodes each field's node for each element;
 * a node that is the field of two layouts, or a layout two lists share,
 * would be decoded many times over (nested, exponentially). */
static void test_vm_verifier_rejects_decoding_fan_out(void **state)
{
    (void)state;
    chg_buf bytes = vm_build("schema change { items: [{ name: string, size: int }], more: [{ size: int }] }\n"
                          "rule a: when any i in change.items: i.size > 1 and i.name == \"x\" deny \"a\"\n"
                          "rule b: when any m in change.more: m.size > 2 deny \"b\"\n");
    uint8_t *d = (uint8_t *)bytes.data;
    uint32_t nf, lf = section(&bytes, CHG_SEC_LFIELDS, &nf);
    assert_true(nf >= 2);
    uint32_t node0 = chg_rd32(d + lf + 4), save = chg_rd32(d + lf + 8 + 4);
    assert_true(node0 != CHG_NONE32 && save != CHG_NONE32);
    chg_wr32(d + lf + 8 + 4, node0);
    char want[200];
    snprintf(want, sizeof want, "corrupt bundle: LFIELDS[1].node: path node %u is already a field (decoding "
             "would fan out) at offset %%u", node0);
    refused(&bytes, want, lf + 8 + 4);
    chg_wr32(d + lf + 8 + 4, save);
    /* the second list node with a layout takes the first one's */
    uint32_t np, paths = section(&bytes, CHG_SEC_PATHS, &np);
    uint32_t first = CHG_NONE32, second = CHG_NONE32;
    for (uint32_t i = 0; i < np; i++)
        if (chg_rd16(d + paths + 32 * i + 22) != CHG_NONE16) {
            if (first == CHG_NONE32)
                first = i;
            else if (second == CHG_NONE32)
                second = i;
        }
    assert_true(second != CHG_NONE32);
    uint16_t lsave = chg_rd16(d + paths + 32 * second + 22), l0 = chg_rd16(d + paths + 32 * first + 22);
    chg_wr16(d + paths + 32 * second + 22, l0);
    snprintf(want, sizeof want, "corrupt bundle: PATHS[%u].layout: layout %u already belongs to a list (decoding "
             "would fan out) at offset %%u", second, l0);
    refused(&bytes, want, paths + 32 * second + 22);
    chg_wr16(d + paths + 32 * second + 22, lsave);
    rehash(d, bytes.len);
    chg_bundle_free(vm_load(&bytes));
    chg_buf_free(&bytes);
}

/* Load a mutant and, if it loads, decide two different changes on one
 * context; 1 when it loaded. */
static int load_and_run_twice(const uint8_t *data, size_t len)
{
    char err[512];
    chg_bundle *b = chg_bundle_load(data, len, err, sizeof err);
    if (!b) {
        assert_true(strncmp(err, "corrupt bundle: ", 16) == 0);
        return 0;
    }
    chg_ctx *ctx = chg_ctx_new(b);
    const char *changes[2] = {event_json, other_json};
    for (int k = 0; k < 2 && ctx; k++) {
        chg_event *e = chg_event_decode(b, changes[k], strlen(changes[k]), err, sizeof err);
        if (!e)
            continue;
        chg_eval_input in = {.change = e, .now = k ? 1780000000 : 0};
        chg_decision d;
        chg_eval(ctx, &in, &d);
        chg_buf out;
        chg_buf_init(&out);
        chg_decision_write(b, &d, &out);
        chg_buf_free(&out);
        chg_event_free(e);
    }
    chg_ctx_free(ctx);
    chg_bundle_free(b);
    return 1;
}

/* The structure-aware walk (fuzz_bundle_struct's mutations, every one of
 * them, deterministically): every field of every record of every section
 * — for code, the opcode and each operand of each instruction — set in
 * turn to each boundary value (0, 1, a section's count - 1 and count,
 * NONE, the largest signed value, the old value plus and minus one), the
 * hash recomputed; each mutant is refused with a message or loads and
 * decides two changes on one context without harm (ASan and UBSan). */
static void test_vm_walk_every_field(void **state)
{
    (void)state;
    chg_buf bytes = vm_build(policy);
    uint8_t *d = malloc(bytes.len);
    memcpy(d, bytes.data, bytes.len);
    uint32_t size[CHG_SEC__MAX];
    for (int s = 1; s < CHG_SEC__MAX; s++)
        size[s] = chg_sections()[s].size;
    uint32_t nsec = chg_rd32(d + 64), off[CHG_SEC__MAX] = {0}, count[CHG_SEC__MAX] = {0};
    for (uint32_t i = 0; i < nsec; i++) {
        uint32_t id = chg_rd32(d + 68 + 12 * i);
        off[id] = chg_rd32(d + 68 + 12 * i + 4) + 4;
        count[id] = chg_rd32(d + off[id] - 4);
    }
    /* the counts an index may be compared with */
    uint32_t counts[2 * CHG_SEC__MAX], ncounts = 0;
    for (int s = 1; s < CHG_SEC__MAX; s++)
        if (count[s]) {
            counts[ncounts++] = count[s] - 1;
            counts[ncounts++] = count[s];
        }
    int mutants = 0, loaded = 0;
    for (int s = 1; s < CHG_SEC__MAX; s++) {
        for (uint32_t i = 0; i < count[s]; i++) {
            uint32_t rec = off[s] + i * size[s];
            /* code: op and x bytes, a b c halves; others: 32-bit words */
            uint32_t nfields = s == CHG_SEC_CODE ? 5 : size[s] / 4;
            for (uint32_t f = 0; f < nfields; f++) {
                uint32_t at = s != CHG_SEC_CODE ? rec + 4 * f : f < 2 ? rec + f : rec + 2 * (f - 1);
                unsigned w = s != CHG_SEC_CODE ? 4 : f < 2 ? 1 : 2;
                uint32_t mask = w == 4 ? 0xffffffffu : (1u << (8 * w)) - 1;
                uint32_t old = w == 4 ? chg_rd32(d + at) : w == 2 ? chg_rd16(d + at) : d[at];
                uint32_t vals[16 + 2 * CHG_SEC__MAX];
                uint32_t nv = 0;
                vals[nv++] = 0;
                vals[nv++] = 1;
                vals[nv++] = mask;
                vals[nv++] = mask >> 1;
                vals[nv++] = (old + 1) & mask;
                vals[nv++] = (old - 1) & mask;
                if (s == CHG_SEC_CODE && f == 0) { /* opcodes: the last, one past it, control */
                    vals[nv++] = CHG_OP__COUNT - 1;
                    vals[nv++] = CHG_OP__COUNT;
                    vals[nv++] = CHG_OP_JMP;
                    vals[nv++] = CHG_OP_FORNEXT;
                    vals[nv++] = CHG_OP_RET;
                } else
                    for (uint32_t c = 0; c < ncounts; c++)
                        vals[nv++] = counts[c] & mask;
                for (uint32_t k = 0; k < nv; k++) {
                    bool seen = vals[k] == old;
                    for (uint32_t j = 0; j < k && !seen; j++)
                        seen = vals[j] == vals[k];
                    if (seen)
                        continue;
                    for (unsigned q = 0; q < w; q++)
                        d[at + q] = (uint8_t)(vals[k] >> (8 * q));
                    rehash(d, bytes.len);
                    loaded += load_and_run_twice(d, bytes.len);
                    mutants++;
                    for (unsigned q = 0; q < w; q++)
                        d[at + q] = (uint8_t)(old >> (8 * q));
                }
            }
        }
    }
    print_message("%d mutants of one field each: %d refused, %d loaded and decided twice harmlessly\n", mutants,
                  mutants - loaded, loaded);
    assert_true(mutants > 1000 && loaded > 0 && loaded < mutants);
    free(d);
    chg_buf_free(&bytes);
}

/* A policy whose bundle has records in every section, with every kind of
 * reference in use: an enum, a default, lists of records, approvals with
 * groups, people, `within`, `or`; time sets with operators; a regex, a
 * zone, built-ins, a let, an action, an intake and budgets. */
static const char all_sections_policy[] =
    "policy \"refs\" version \"1\"\n"
    "schema change {\n"
    "  id: string, env: enum(\"dev\", \"prod\"), n: int = 3, tags: [string], emergency: bool = false,\n"
    "  when: time, requester: { name: string, groups: [string] },\n"
    "  approvals: [{ by: string, group: string, at: time }], note: string?\n"
    "}\n"
    "at change.when\n"
    "limits { steps: 100000 }\n"
    "risk low < high\n"
    "let prod = change.env == \"prod\"\n"
    "classify { high when prod and change.n > 10 default low }\n"
    "window nights = daily 22:00..06:00 in \"Europe/Berlin\"\n"
    "freeze holidays = yearly dec 24 .. dec 27 in \"UTC\" or flag \"stop\"\n"
    "approvals {\n"
    "  low => none\n"
    "  high => 1 of group \"cab\" within 72h or 2 of [\"ann\", \"bob\"] including requester\n"
    "  emergency => 1 of any\n"
    "}\n"
    "rule nights mandatory: when risk >= high require window nights\n"
    "rule holidays overridable: when prod deny during holidays \"frozen: {freeze}\"\n"
    "rule tagged: when (change.note ?? \"\") matches r\"^x\" and any t in change.tags: t == \"x\"\n"
    "  deny \"tagged {lower(change.id)}\"\n"
    "rule sec: when prod and hour(change.when, \"Europe/Berlin\") > 3 require 1 of group \"sec\"\n"
    "concurrency prod_load = 2 of risk >= high per change.env\n"
    "on deny when prod do aws.sns.publish(\"arn:aws:sns:us-east-1:111122223333:x\", summary)\n"
    "intake hook when event.source == \"x\" {\n"
    "  id: event.id, env: \"prod\", tags: [], when: event.time,\n"
    "  requester: { name: \"hook\", groups: [] }, approvals: []\n"
    "}\n";

/* Where section id's records start in bundle d, and how many it has. */
static uint32_t section_at(const uint8_t *d, int id, uint32_t *count)
{
    uint32_t nsec = chg_rd32(d + CHG_HDR_NSECTIONS);
    for (uint32_t i = 0; i < nsec; i++) {
        const uint8_t *e = d + CHG_HDR_TABLE + CHG_SECTAB_ENTRY * i;
        if (chg_rd32(e + CHG_SECTAB_ID) == (uint32_t)id) {
            uint32_t off = chg_rd32(e + CHG_SECTAB_OFF);
            *count = chg_rd32(d + off);
            return off + 4;
        }
    }
    fail_msg("section %d missing", id);
    return 0;
}

/* Set field f of record i of bundle copy (hash recomputed) to v: the load
 * must fail with "corrupt bundle: SEC[i].field: … at offset N", N the
 * field's offset. */
static void expect_field_rejected(const chg_buf *bytes, int field, uint32_t i, uint64_t v)
{
    const chg_field *f = &chg_fields()[field];
    const chg_section *s = &chg_sections()[f->sec];
    uint8_t *copy = malloc(bytes->len);
    memcpy(copy, bytes->data, bytes->len);
    uint32_t n, at = section_at(copy, f->sec, &n) + i * s->size;
    assert_true(i < n);
    chg_wire_set(f, copy + at, v);
    rehash(copy, bytes->len);
    char err[512], want_start[128], want_end[64];
    snprintf(want_start, sizeof want_start, "corrupt bundle: %s[%u].%s: ", s->name, i, f->name);
    snprintf(want_end, sizeof want_end, " at offset %u", at + f->off);
    chg_bundle *b = chg_bundle_load(copy, bytes->len, err, sizeof err);
    if (b)
        fail_msg("%s[%u].%s = %llu: loaded", s->name, i, f->name, (unsigned long long)v);
    size_t el = strlen(err), wl = strlen(want_end);
    if (strncmp(err, want_start, strlen(want_start)) != 0 || el < wl || strcmp(err + el - wl, want_end) != 0)
        fail_msg("%s[%u].%s = %llu: got \"%s\", want \"%s…%s\"", s->name, i, f->name, (unsigned long long)v, err,
                 want_start, want_end);
    free(copy);
}

/* The record of field f's section to corrupt: one where the field is in
 * use (not NONE; for a run, the longest), else the first. */
static uint32_t record_in_use(const chg_buf *bytes, const chg_field *f)
{
    uint32_t n, at = section_at((const uint8_t *)bytes->data, f->sec, &n);
    uint32_t size = chg_sections()[f->sec].size, best = 0;
    uint64_t none = f->width == 8 ? UINT64_MAX : ((uint64_t)1 << (8 * f->width)) - 1, longest = 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *p = (const uint8_t *)bytes->data + at + i * size;
        if (f->ref == CHG_R_RUN) {
            if (chg_wire_get(f + 1, p) > longest)
                longest = chg_wire_get(f + 1, p), best = i;
        } else if (chg_wire_get(f, p) != none && (f->ref != CHG_R_EARLIER || i > 0))
            return i;
    }
    return best;
}

/* Every field that refers to something, pointed one past the end of what
 * it refers to; every range one past its end; every reserved byte set:
 * the loader names the field and its offset. Then the references the
 * field table cannot state (checked in code): a slot past its root's
 * slots, a time-set operand that is not before its node, a string
 * constant's string, a string's place in the blob. */
static void test_vm_reference_past_the_end(void **state)
{
    (void)state;
    chg_buf bytes = vm_build(all_sections_policy);
    chg_bundle_free(vm_load(&bytes)); /* untouched, it loads */
    const uint8_t *d = (const uint8_t *)bytes.data;
    uint32_t count[CHG_SEC__MAX];
    for (int s = 1; s < CHG_SEC__MAX; s++) {
        section_at(d, s, &count[s]);
        if (count[s] == 0)
            fail_msg("section %s is empty: the policy must use it", chg_sections()[s].name);
    }
    uint32_t nmeta;
    chg_rec_META meta;
    const uint8_t *m = d + section_at(d, CHG_SEC_META, &nmeta);
    for (int k = CHG_FIRST_META; k <= CHG_LAST_META; k++)
        chg_rec_set(&chg_fields()[k], &meta, chg_wire_get(&chg_fields()[k], m));
    int refs = 0, ranges = 0, reserved = 0;
    for (int k = 0; k < CHG_F__COUNT; k++) {
        const chg_field *f = &chg_fields()[k];
        uint32_t i = record_in_use(&bytes, f);
        const uint8_t *p = d + section_at(d, f->sec, &(uint32_t){0}) + i * chg_sections()[f->sec].size;
        switch ((chg_ref)f->ref) {
        case CHG_R_IDX:
        case CHG_R_LISTK:
        case CHG_R_BLOCK:
        case CHG_R_SPAN: expect_field_rejected(&bytes, k, i, count[f->target]), refs++; break;
        case CHG_R_EARLIER: expect_field_rejected(&bytes, k, i, i), refs++; break;
        case CHG_R_RUN:
            expect_field_rejected(&bytes, k, i, count[f->target] + 1 - chg_wire_get(f + 1, p)), refs++;
            break;
        case CHG_R_CSLOT: expect_field_rejected(&bytes, k, i, meta.nslots_change), refs++; break;
        case CHG_R_NUM:
            if (k > 0 && f[-1].ref == CHG_R_RUN)
                break; /* a run's count past its range is a run past its section */
            if (f->hi < (f->width == 8 ? INT64_MAX : (int64_t)1 << (8 * f->width - f->is_signed)) - 1)
                expect_field_rejected(&bytes, k, i, (uint64_t)(f->hi + 1)), ranges++;
            if (f->lo > 0)
                expect_field_rejected(&bytes, k, i, (uint64_t)(f->lo - 1)), ranges++;
            break;
        case CHG_R_ZERO: expect_field_rejected(&bytes, k, i, 1), reserved++; break;
        case CHG_R_ANY: break;
        }
    }
    print_message("%d references, %d ranges, %d reserved fields rejected by name\n", refs, ranges, reserved);
    assert_true(refs >= 40 && ranges >= 15 && reserved >= 10);

    /* the references checked in code */
    uint32_t n, paths = section_at(d, CHG_SEC_PATHS, &n), slotted = 0;
    for (uint32_t i = 2; i < n && !slotted; i++) {
        const uint8_t *p = d + paths + i * CHG_RECSIZE_PATHS;
        if (chg_rd16(p + CHG_OFF(PATHS, slot)) != CHG_NONE16 && chg_rd32(p + CHG_OFF(PATHS, parent)) == 0)
            slotted = i; /* a child of the change root */
    }
    assert_true(slotted > 0);
    expect_field_rejected(&bytes, CHG_F_PATHS_slot, slotted, meta.nslots_change);
    uint32_t ts = section_at(d, CHG_SEC_TIMESETS, &n), nodes = section_at(d, CHG_SEC_TSNODES, &n), ops = 0;
    for (uint32_t t = 0; t < count[CHG_SEC_TIMESETS]; t++) {
        uint32_t first = chg_rd32(d + ts + t * CHG_RECSIZE_TIMESETS + CHG_OFF(TIMESETS, first));
        uint32_t nn = chg_rd32(d + ts + t * CHG_RECSIZE_TIMESETS + CHG_OFF(TIMESETS, count));
        for (uint32_t k = 0; k < nn; k++)
            if (d[nodes + (first + k) * CHG_RECSIZE_TSNODES + CHG_OFF(TSNODES, op)] == CHG_TS_OR) {
                expect_field_rejected(&bytes, CHG_F_TSNODES_a, first + k, k);
                expect_field_rejected(&bytes, CHG_F_TSNODES_b, first + k, k);
                ops++;
            }
    }
    assert_int_equal(ops, 1); /* holidays: yearly or flag */
    uint32_t consts = section_at(d, CHG_SEC_CONSTS, &n), strs = 0;
    for (uint32_t i = 0; i < n && !strs; i++)
        if (d[consts + i * CHG_RECSIZE_CONSTS + CHG_OFF(CONSTS, tag)] == CHG_K_STR) {
            expect_field_rejected(&bytes, CHG_F_CONSTS_a, i, count[CHG_SEC_STRINGS]);
            strs++;
        }
    assert_int_equal(strs, 1);
    uint32_t strings = section_at(d, CHG_SEC_STRINGS, &n), bloblen = 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *r = d + strings + i * CHG_RECSIZE_STRINGS;
        uint32_t end = chg_rd32(r + CHG_OFF(STRINGS, off)) + chg_rd32(r + CHG_OFF(STRINGS, len)) + 1;
        bloblen = end > bloblen ? end : bloblen;
    }
    expect_field_rejected(&bytes, CHG_F_STRINGS_off, n - 1, bloblen);
    /* a concurrency limit's field path with an empty name: the empty
     * string of the pool (`?? ""`) */
    uint32_t empty = n;
    for (uint32_t i = 0; i < n && empty == n; i++)
        if (chg_rd32(d + strings + i * CHG_RECSIZE_STRINGS + CHG_OFF(STRINGS, len)) == 0)
            empty = i;
    assert_true(empty < n);
    expect_field_rejected(&bytes, CHG_F_CONCUR_per, 0, empty);
    chg_buf_free(&bytes);
}

/* To which risk classes each rule applies, as the compiler proved it and
 * the bundle carries it (APPLIES): risk comparisons either way round,
 * `in`, `not`, `if` and lets decided by the risk; anything else read
 * makes "sometimes"; `false and x` is false whatever x. And the loader
 * refuses runs that do not say one thing of every class. */
static void test_vm_rule_applies(void **state)
{
    (void)state;
    const char *text = "risk low < medium < high < critical\n"
                       "classify { critical when change.x == \"c\" high when change.x == \"h\"\n"
                       "  medium when change.x == \"m\" default low }\n"
                       "let big = risk >= high\n"
                       "rule a: deny \"a\"\n"
                       "rule b: when risk == medium deny \"b\"\n"
                       "rule c: when risk in [low, critical] deny \"c\"\n"
                       "rule d: when big and change.x == \"y\" deny \"d\"\n"
                       "rule e: when change.x == \"y\" or risk < medium deny \"e\"\n"
                       "rule f: when not (medium >= risk) deny \"f\"\n"
                       "rule g: when if risk > low then true else false deny \"g\"\n"
                       "rule h: when change.x == \"y\" and low > high deny \"h\"\n";
    static const char *const want[] = {"AAAA", "NANN", "ANNA", "NNSS", "ASSS", "NNAA", "NAAA", "NNNN"};
    chg_buf bytes = vm_build(text);
    chg_bundle *b = vm_load(&bytes);
    assert_int_equal(chg_bundle_nrules(b), 8);
    assert_int_equal(chg_bundle_nrisks(b), 4);
    for (uint32_t r = 0; r < 8; r++) {
        char got[5] = "";
        for (uint32_t k = 0; k < 4; k++)
            got[k] = "NSA"[chg_bundle_rule_applies(b, r, k)];
        assert_string_equal(got, want[r]);
    }
    chg_bundle_free(b);
    /* one run per change of answer: 1 + 3 + 3 + 2 + 2 + 2 + 2 + 1 */
    uint32_t n, applies = section(&bytes, CHG_SEC_APPLIES, &n);
    assert_int_equal(n, 16);
    uint32_t nr, rules = section(&bytes, CHG_SEC_RULES, &nr);
    uint8_t *d = (uint8_t *)bytes.data;
    struct {
        uint32_t at, v;
        int width;
        const char *want;
    } bad[] = {
        /* rule b's second run starting where its first does */
        {applies + 2 * CHG_RECSIZE_APPLIES + CHG_OFF(APPLIES, from_class), 0, 4, "APPLIES[2].from_class: not a run after"},
        /* two runs in a row saying the same */
        {applies + 2 * CHG_RECSIZE_APPLIES + CHG_OFF(APPLIES, how), CHG_APPLIES_NEVER, 1, "APPLIES[2].from_class: not a run after"},
        {applies + 3 * CHG_RECSIZE_APPLIES + CHG_OFF(APPLIES, from_class), 4, 4, "APPLIES[3].from_class: no such risk class"},
        {applies + 1 * CHG_RECSIZE_APPLIES + CHG_OFF(APPLIES, from_class), 1, 4, "APPLIES[1].from_class: not a run after"},
        {rules + CHG_OFF(RULES, applies_count), 0, 4, "RULES[0].applies_count: a rule without runs"},
        {rules + CHG_RECSIZE_RULES + CHG_OFF(RULES, applies_first), 0, 4, "RULES[1].applies_first: runs that do not follow"},
        {rules + 7 * CHG_RECSIZE_RULES + CHG_OFF(RULES, applies_count), 0, 4, "RULES[7].applies_count: a rule without runs"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        uint8_t save[4];
        memcpy(save, d + bad[i].at, 4);
        if (bad[i].width == 1)
            d[bad[i].at] = (uint8_t)bad[i].v;
        else
            chg_wr32(d + bad[i].at, bad[i].v);
        rehash(d, bytes.len);
        char err[512];
        chg_bundle *m = chg_bundle_load(bytes.data, bytes.len, err, sizeof err);
        if (m) {
            chg_bundle_free(m);
            fail_msg("mutant %zu loaded (want: %s)", i, bad[i].want);
        }
        if (!strstr(err, bad[i].want))
            fail_msg("mutant %zu: got '%s', want '%s'", i, err, bad[i].want);
        memcpy(d + bad[i].at, save, 4);
    }
    rehash(d, bytes.len);
    chg_bundle_free(vm_load(&bytes));
    chg_buf_free(&bytes);
}

static void test_vm_disasm_and_opcodes(void **state)
{
    (void)state;
    chg_buf bytes = vm_build(policy);
    chg_bundle *b = vm_load(&bytes);
    chg_buf out;
    chg_buf_init(&out);
    chg_bundle_disasm(b, &out);
    assert_non_null(strstr(out.data, "; policy t version 1"));
    assert_non_null(strstr(out.data, "(let prod)"));
    assert_non_null(strstr(out.data, "CHANGE    r"));
    assert_non_null(strstr(out.data, "; t.chg:6:12"));
    assert_non_null(strstr(out.data, "FORNEXT"));
    chg_buf_free(&out);
    chg_buf_init(&out);
    chg_opcodes_markdown(&out);
    assert_non_null(strstr(out.data, "| `FORNEXT` | `-RJJ` |"));
    chg_buf_free(&out);
    chg_bundle_free(b);
    chg_buf_free(&bytes);
}


/* Approvals, emergencies and actions allocate nothing either. */
static void test_vm_no_allocations_with_approvals(void **state)
{
    (void)state;
    alloc_count_init();
    chg_buf bytes = vm_build(
        "schema change { id: string, emergency: bool = false, requester: { name: string, groups: [string] },\n"
        "  approvals: [{ by: string, group: string, at: time, decision: string? }] }\n"
        "risk high\nclassify { default high }\n"
        "approvals { high => 2 of group \"cab\" within 72h and 1 of [\"sec1\", \"sec2\"] or 3 of any\n"
        "  emergency => 1 of group \"ic\" }\n"
        "freeze always = daily 00:00..24:00 in \"UTC\"\n"
        "rule f overridable: deny during always \"frozen: {freeze}\"\n"
        "on deny do aws.sns.publish(\"arn:aws:sns:us-east-1:111122223333:t\", summary, reason)\n"
        "on emergency do aws.sns.publish(\"arn:aws:sns:us-east-1:111122223333:t\", summary)\n");
    chg_bundle *b = vm_load(&bytes);
    chg_ctx *ctx = chg_ctx_new(b);
    char err[256];
    const char *events[] = {
        "{\"id\":\"a\",\"requester\":{\"name\":\"x\",\"groups\":[]},\"approvals\":[{\"by\":\"b\",\"group\":\"cab\","
        "\"at\":\"1970-01-01T00:00:00Z\"},{\"by\":\"sec1\",\"group\":\"s\",\"at\":\"1970-01-01T00:00:00Z\"}]}",
        "{\"id\":\"b\",\"emergency\":true,\"requester\":{\"name\":\"x\",\"groups\":[]},\"approvals\":[{\"by\":\"i\","
        "\"group\":\"ic\",\"at\":\"1970-01-01T00:00:00Z\"}]}",
        "{\"id\":\"c\",\"requester\":{\"name\":\"x\",\"groups\":[]},\"approvals\":[{\"by\":\"b\",\"group\":\"cab\","
        "\"at\":\"1970-01-01T00:00:00Z\",\"decision\":\"reject\"}]}",
    };
    chg_event *ev[3];
    for (int i = 0; i < 3; i++) {
        ev[i] = chg_event_decode(b, events[i], strlen(events[i]), err, sizeof err);
        assert_non_null(ev[i]);
    }
    chg_decision d;
    chg_eval_input in = {.now = 3600};
    for (int i = 0; i < 3; i++) {
        in.change = ev[i];
        chg_eval(ctx, &in, &d);
    }
    unsigned long before = alloc_count_calls;
    int outcomes[5] = {0}, emergencies = 0, actions = 0;
    for (int k = 0; k < 1000; k++)
        for (int i = 0; i < 3; i++) {
            in.change = ev[i];
            chg_eval(ctx, &in, &d);
            outcomes[d.outcome]++;
            emergencies += d.emergency;
            actions += (int)d.nactions;
        }
    assert_int_equal(alloc_count_calls - before, 0);
    assert_int_equal(outcomes[CHG_OUT_DENY], 2000);
    assert_int_equal(outcomes[CHG_OUT_ALLOW], 1000);
    assert_int_equal(emergencies, 1000);
    assert_int_equal(actions, 3000);
    for (int i = 0; i < 3; i++)
        chg_event_free(ev[i]);
    chg_ctx_free(ctx);
    chg_bundle_free(b);
    chg_buf_free(&bytes);
}

/* External queries go through one resolver: it sees the call's name and
 * argument values; its answer decides; no answer is an error naming the
 * call. The facts are not consulted when there is a resolver. */
typedef struct resolver_log {
    int calls;
    char last[128];
    const char *answer; /* NULL: no answer */
    const char *why;    /* and the resolver's reason */
} resolver_log;

static int resolver(void *ud, const char *call, const chg_value *args, uint32_t nargs, chg_value *out,
                    char *err, size_t errlen)
{
    resolver_log *log = ud;
    log->calls++;
    snprintf(log->last, sizeof log->last, "%s/%u/%.*s", call, nargs, nargs ? (int)args[0].len : 0,
             nargs && args[0].tag == CHG_V_STR ? args[0].u.s : "");
    if (!log->answer) {
        if (log->why)
            snprintf(err, errlen, "%s", log->why);
        return -1;
    }
    memset(out, 0, sizeof *out);
    out->tag = CHG_V_STR;
    out->u.s = log->answer;
    out->len = (uint32_t)strlen(log->answer);
    return 0;
}

static void test_vm_resolver(void **state)
{
    (void)state;
    chg_buf bytes = vm_build("schema change { id: string, service: string }\n"
                          "rule gate:\n"
                          "  when aws.cloudwatch.alarm_state(\"{change.service}-5xx\") == \"ALARM\"\n"
                          "  deny \"alarm\"\n");
    chg_bundle *b = vm_load(&bytes);
    chg_ctx *ctx = chg_ctx_new(b);
    char err[256];
    static const char change[] = "{\"id\":\"c1\",\"service\":\"pay\"}";
    chg_event *e = chg_event_decode(b, change, sizeof change - 1, err, sizeof err);
    static const char facts_json[] =
        "{\"queries\":[{\"call\":\"aws.cloudwatch.alarm_state\",\"args\":[\"pay-5xx\"],\"result\":\"ALARM\"}]}";
    chg_facts *facts = chg_facts_parse(facts_json, sizeof facts_json - 1, err, sizeof err);
    resolver_log log = {0, "", "OK", NULL};
    chg_eval_input in = {.change = e, .now = 0, .facts = facts, .resolver = resolver, .resolver_ud = &log};
    chg_decision d;
    chg_eval(ctx, &in, &d);
    assert_int_equal(d.outcome, CHG_OUT_ALLOW); /* the resolver's OK, not the facts' ALARM */
    assert_int_equal(log.calls, 1);
    assert_string_equal(log.last, "aws.cloudwatch.alarm_state/1/pay-5xx");
    log.answer = "ALARM";
    chg_eval(ctx, &in, &d);
    assert_int_equal(d.outcome, CHG_OUT_DENY);
    log.answer = NULL;
    chg_eval(ctx, &in, &d);
    assert_int_equal(d.outcome, CHG_OUT_ERROR);
    assert_non_null(strstr(d.reasons[0].message, "no answer for aws.cloudwatch.alarm_state(\"pay-5xx\")"));
    /* the resolver's reason is the decision's: the call and AWS's error code */
    log.why = "CloudWatch DescribeAlarms: ThrottlingException (HTTP 400, 3 attempts): Rate exceeded";
    chg_eval(ctx, &in, &d);
    assert_int_equal(d.outcome, CHG_OUT_ERROR);
    static const char expect[] = "no answer for aws.cloudwatch.alarm_state(\"pay-5xx\"): CloudWatch "
                                 "DescribeAlarms: ThrottlingException (HTTP 400, 3 attempts): Rate exceeded";
    assert_int_equal(d.reasons[0].message_len, sizeof expect - 1);
    assert_memory_equal(d.reasons[0].message, expect, sizeof expect - 1);
    /* without a resolver the facts answer */
    in.resolver = NULL;
    chg_eval(ctx, &in, &d);
    assert_int_equal(d.outcome, CHG_OUT_DENY);
    chg_facts_free(facts);
    chg_event_free(e);
    chg_ctx_free(ctx);
    chg_bundle_free(b);
    chg_buf_free(&bytes);
}

/* builtins.def is the one list of built-ins: the checker's table and the
 * VM's implementations are both expanded from it. Check that the two
 * expansions agree both ways, and that each implementation takes the
 * parameter kinds the checker gives it: every argument of the declared
 * kind gets past the implementation's own checks, and one of another
 * kind is refused, so a signature edited without its function (or the
 * reverse) fails here. */
static chg_value sample(chg_param p, bool good)
{
    chg_value v;
    memset(&v, 0, sizeof v);
    bool stringish = p == P_STRING || p == P_ZONE || p == P_STRING_OR_LIST;
    if (good ? stringish : !stringish) {
        v.tag = CHG_V_STR;
        v.u.s = p == P_ZONE && good ? "UTC" : "2026-01-01T00:00:00Z";
        v.len = (uint32_t)strlen(v.u.s);
        return v;
    }
    v.tag = !good ? CHG_V_INT : p == P_TIME ? CHG_V_TIME : p == P_DURATION ? CHG_V_DUR
                                            : p == P_BOOL ? CHG_V_BOOL : CHG_V_INT;
    v.u.i = 60;
    return v;
}

static void test_vm_builtins_match_checker(void **state)
{
    (void)state;
    for (size_t i = 0; i < chg_c_nbuiltins; i++) {
        const chg_builtin *c = &chg_c_builtins[i];
        const chg_builtin_impl *v = chg_vm_builtin_impl_find(c->name);
        if (c->kind == BI_ACTION) {
            if (v)
                fail_msg("action %s has a VM implementation", c->name);
            continue;
        }
        if (!v)
            fail_msg("%s: the checker knows it, the VM does not", c->name);
        if (v->query != (c->kind == BI_QUERY) || (v->fn != NULL) != (c->kind == BI_FUNCTION))
            fail_msg("%s: a function for one, a query for the other", c->name);
        if (v->min_args != c->min_args || v->max_args != c->max_args)
            fail_msg("%s: arity %u..%u in the checker, %u..%u in the VM", c->name, c->min_args, c->max_args,
                     v->min_args, v->max_args);
    }
    for (size_t i = 0; i < chg_vm_nbuiltin_impls; i++) {
        const chg_builtin_impl *v = &chg_vm_builtin_impls[i];
        const chg_builtin *c = chg_c_builtin_find(v->name);
        if (!c || c->kind == BI_ACTION)
            fail_msg("%s: the VM implements it, the checker does not know it", v->name);
        assert_ptr_equal(chg_vm_builtin_impl_find(v->name), v); /* no second entry */
    }

    chg_buf bytes = vm_build("schema change { when: time }\n"
                          "rule r advisory: when hour(change.when, \"UTC\") > 25 warn \"x\"\n");
    chg_bundle *b = vm_load(&bytes);
    chg_ctx *ctx = chg_ctx_new(b);
    assert_non_null(ctx);
    for (size_t i = 0; i < chg_c_nbuiltins; i++) {
        const chg_builtin *c = &chg_c_builtins[i];
        if (c->kind != BI_FUNCTION)
            continue;
        chg_builtin_fn fn = chg_vm_builtin_impl_find(c->name)->fn;
        /* functions are not told their argument count (vm_int.h) */
        assert_int_equal(c->min_args, c->max_args);
        uint32_t n = c->min_args;
        chg_value args[8], out;
        for (uint32_t k = 0; k < n; k++)
            args[k] = sample(chg_c_builtin_param(c, k), true);
        ctx->failed = false;
        if (fn(ctx, args, &out) < 0 && (strstr(ctx->err_msg, "must be") || strstr(ctx->err_msg, "cannot")))
            fail_msg("%s refuses the kinds the checker allows: %s", c->name, ctx->err_msg);
        for (uint32_t k = 0; k < n; k++) {
            chg_param p = chg_c_builtin_param(c, k);
            if (p == P_ANY)
                continue;
            chg_value saved = args[k];
            args[k] = sample(p, false);
            ctx->failed = false;
            if (fn(ctx, args, &out) == 0)
                fail_msg("%s accepts a %s as argument %u, which the checker refuses", c->name,
                         chg_vm_vtag_name(args[k].tag), k + 1);
            args[k] = saved;
        }
    }
    chg_ctx_free(ctx);
    chg_bundle_free(b);
    chg_buf_free(&bytes);
}

/* ---- the decision's time answers (docs/language.md, Decisions) ---------------------- */

static int64_t at_utc(const char *iso)
{
    int64_t t;
    if (chg_time_parse_iso(iso, strlen(iso), &t) != CHG_OK)
        fail_msg("bad instant %s", iso);
    return t;
}

/* The decision's "window" object for a change at `now` with `horizon`. */
static const char *window_of(chg_bundle *b, chg_ctx *ctx, const char *now, int64_t horizon)
{
    static char out[512];
    char err[256];
    const char *json = "{\"id\":\"c\"}";
    chg_event *e = chg_event_decode(b, json, strlen(json), err, sizeof err);
    if (!e)
        fail_msg("decode: %s", err);
    chg_eval_input in = {.change = e, .now = at_utc(now), .horizon = horizon};
    chg_decision d;
    assert_int_equal(chg_eval(ctx, &in, &d), CHG_OK);
    chg_buf buf;
    chg_buf_init(&buf);
    chg_decision_write(b, &d, &buf);
    chg_event_free(e);
    const char *w = strstr(buf.data, "\"window\":");
    const char *f = strstr(buf.data, ",\"freezes\"");
    assert_non_null(w);
    assert_non_null(f);
    snprintf(out, sizeof out, "%.*s", (int)(f - w), w);
    chg_buf_free(&buf);
    return out;
}

/* Several required windows: the decision describes their intersection
 * (it described the first window alone). */
/* The shortcuts of blocks decided by a let (`prod and …` false when prod
 * is, `prod or …` true when prod is): every decision and its step count
 * the same as with the blocks run as code. */
static void test_vm_let_shortcuts_agree(void **state)
{
    (void)state;
    chg_bundle *b = vm_build_load("schema change { id: string, env: enum(\"dev\", \"prod\"), n: int,\n"
                                  "  kind: enum(\"a\", \"b\") }\n"
                                  "risk low < medium < high < critical\n"
                                  "let prod = change.env == \"prod\"\n"
                                  "let big = 100 / change.n > 10\n"
                                  "classify {\n"
                                  "  critical when prod and change.kind == \"b\"\n"
                                  "  high     when big and prod\n"
                                  "  medium   when prod or change.n >= 100\n"
                                  "  default  low\n"
                                  "}\n"
                                  "rule r1:\n  when prod and change.n > 5\n  deny \"no\"\n"
                                  "rule r2:\n  when big or change.kind == \"a\"\n  warn \"w\"\n");
    int found[2] = {0, 0};
    for (uint32_t i = 0; i < b->nblocks; i++)
        if (b->shortcuts[i].kind == CHG_SC_LET_FALSE || b->shortcuts[i].kind == CHG_SC_LET_TRUE)
            found[b->shortcuts[i].kind == CHG_SC_LET_TRUE]++;
    assert_true(found[0] >= 2 && found[1] >= 1);
    const char *events[] = {
        "{\"id\":\"1\",\"env\":\"prod\",\"n\":1,\"kind\":\"b\"}",
        "{\"id\":\"2\",\"env\":\"dev\",\"n\":1,\"kind\":\"b\"}",
        "{\"id\":\"3\",\"env\":\"prod\",\"n\":200,\"kind\":\"a\"}",
        "{\"id\":\"4\",\"env\":\"dev\",\"n\":200,\"kind\":\"a\"}",
        "{\"id\":\"5\",\"env\":\"dev\",\"n\":0,\"kind\":\"a\"}",  /* big fails: division by zero */
        "{\"id\":\"6\",\"env\":\"prod\",\"n\":0,\"kind\":\"a\"}",
        "{\"id\":\"7\",\"env\":\"prod\",\"n\":7,\"kind\":\"a\"}",
    };
    chg_vm_shortcut *saved = malloc(sizeof *saved * b->nblocks);
    memcpy(saved, b->shortcuts, sizeof *saved * b->nblocks);
    chg_ctx *ctx = chg_ctx_new(b);
    for (size_t e = 0; e < sizeof events / sizeof *events; e++) {
        char *with = vm_decide(b, ctx, events[e], 1798761600);
        chg_usage u_with;
        chg_ctx_usage(ctx, &u_with);
        for (uint32_t i = 0; i < b->nblocks; i++)
            if (b->shortcuts[i].kind >= CHG_SC_LET_FALSE)
                b->shortcuts[i].kind = CHG_SC_NONE;
        char *without = vm_decide(b, ctx, events[e], 1798761600);
        chg_usage u_without;
        chg_ctx_usage(ctx, &u_without);
        memcpy(b->shortcuts, saved, sizeof *saved * b->nblocks);
        assert_string_equal(with, without);
        assert_int_equal(u_with.steps, u_without.steps);
        free(with);
        free(without);
    }
    free(saved);
    chg_ctx_free(ctx);
    chg_bundle_free(b);
}

static void test_vm_window_of_several_rules(void **state)
{
    (void)state;
    chg_bundle *b = vm_build_load("schema change { id: string }\n"
                                  "window office = daily 09:00..18:00 in \"UTC\"\n"
                                  "window afternoons = daily 12:00..17:00 in \"UTC\"\n"
                                  "rule a:\n  require window office\n"
                                  "rule b:\n  require window afternoons\n"
                                  "rule c:\n  require window office\n");
    chg_ctx *ctx = chg_ctx_new(b);
    assert_string_equal(window_of(b, ctx, "2026-12-07T10:00:00Z", 0),
                        "\"window\":{\"required\":\"office and afternoons\",\"open\":false,"
                        "\"next_open\":\"2026-12-07T12:00:00Z\",\"closes_at\":null}");
    assert_string_equal(window_of(b, ctx, "2026-12-07T13:00:00Z", 0),
                        "\"window\":{\"required\":\"office and afternoons\",\"open\":true,"
                        "\"next_open\":null,\"closes_at\":\"2026-12-07T17:00:00Z\"}");
    chg_ctx_free(ctx);
    chg_bundle_free(b);
}

/* closes_at is the first instant the change stops being admissible: a
 * freeze that starts while the window is open ends it early; one that
 * holds now does not count (it is in the decision's freezes). */
static void test_vm_closes_at_stops_at_a_freeze(void **state)
{
    (void)state;
    chg_bundle *b = vm_build_load("schema change { id: string }\n"
                                  "window office = daily 09:00..17:00 in \"UTC\"\n"
                                  "freeze deploy_stop = 2026-12-07T15:00Z .. 2026-12-07T16:00Z\n"
                                  "rule a:\n  require window office\n"
                                  "rule b:\n  deny during deploy_stop \"stop\"\n");
    chg_ctx *ctx = chg_ctx_new(b);
    assert_string_equal(window_of(b, ctx, "2026-12-07T10:00:00Z", 0),
                        "\"window\":{\"required\":\"office\",\"open\":true,\"next_open\":null,"
                        "\"closes_at\":\"2026-12-07T15:00:00Z\"}");
    assert_string_equal(window_of(b, ctx, "2026-12-07T15:30:00Z", 0),
                        "\"window\":{\"required\":\"office\",\"open\":true,"
                        "\"next_open\":\"2026-12-07T16:00:00Z\",\"closes_at\":\"2026-12-07T17:00:00Z\"}");
    chg_ctx_free(ctx);
    chg_bundle_free(b);
}

/* What chgc simulate asks after a decision: when the change stops being
 * admissible even with no window required (a freeze of an applying
 * deny-during rule starting), when the next approval it carries is given,
 * and the decision at an instant other than the policy's `at`. */
static void test_vm_simulation_questions(void **state)
{
    (void)state;
    chg_bundle *b = vm_build_load("schema change { id: string, t: time, approvals: [{ by: string, group: string, "
                                  "at: time }] = [] }\n"
                                  "at change.t\n"
                                  "risk low < high\nclassify {\n  low when change.id == \"x\"\n  default high\n}\n"
                                  "approvals { low => none\n high => 1 of group \"cab\" }\n"
                                  "freeze stop = 2026-12-07T15:00Z .. 2026-12-07T16:00Z\n"
                                  "rule b:\n  deny during stop \"stop\"\n");
    chg_ctx *ctx = chg_ctx_new(b);
    const char *json = "{\"id\":\"c\",\"t\":\"2026-12-07T09:00:00Z\",\"approvals\":["
                       "{\"by\":\"a\",\"group\":\"cab\",\"at\":\"2026-12-07T08:00:00Z\"},"
                       "{\"by\":\"z\",\"group\":\"x\",\"at\":\"2026-12-07T12:00:00Z\"}]}";
    char err[256];
    chg_event *e = chg_event_decode(b, json, strlen(json), err, sizeof err);
    assert_non_null(e);
    chg_decision d;
    /* the policy's `at`: 09:00, whatever now says */
    chg_eval_input in = {.change = e, .now = at_utc("2026-12-07T07:00:00Z")};
    assert_int_equal(chg_eval(ctx, &in, &d), CHG_OK);
    assert_int_equal(d.at, at_utc("2026-12-07T09:00:00Z"));
    assert_int_equal(d.outcome, CHG_OUT_ALLOW);
    assert_int_equal(d.closes_at, INT64_MIN); /* no window: the decision has none */
    assert_int_equal(chg_ctx_admissible_until(ctx, &d, 6 * 3600), at_utc("2026-12-07T15:00:00Z"));
    assert_int_equal(chg_ctx_admissible_until(ctx, &d, 6 * 3600 - 1), INT64_MAX); /* past the horizon */
    assert_int_equal(chg_ctx_next_approval(ctx), at_utc("2026-12-07T12:00:00Z"));
    /* ignore_at: judged at now, 07:00, before the approval: pending */
    in.ignore_at = true;
    assert_int_equal(chg_eval(ctx, &in, &d), CHG_OK);
    assert_int_equal(d.at, at_utc("2026-12-07T07:00:00Z"));
    assert_int_equal(d.outcome, CHG_OUT_PENDING);
    assert_int_equal(chg_ctx_next_approval(ctx), at_utc("2026-12-07T08:00:00Z"));
    /* inside the freeze: it already holds, so it does not count */
    in.now = at_utc("2026-12-07T15:30:00Z");
    assert_int_equal(chg_eval(ctx, &in, &d), CHG_OK);
    assert_int_equal(d.outcome, CHG_OUT_DENY);
    assert_int_equal(chg_ctx_next_approval(ctx), INT64_MAX);
    chg_event_free(e);
    chg_ctx_free(ctx);
    chg_bundle_free(b);
}

/* The horizon includes its end, for closes_at and next_open alike, and the
 * answer does not depend on what the context judged before. */
static void test_vm_horizon_edge(void **state)
{
    (void)state;
    chg_bundle *b = vm_build_load("schema change { id: string }\n"
                                  "window office = daily 09:00..17:00 in \"UTC\"\n"
                                  "rule a:\n  require window office\n");
    chg_ctx *ctx = chg_ctx_new(b);
    const char *open8 = "\"window\":{\"required\":\"office\",\"open\":true,\"next_open\":null,"
                        "\"closes_at\":\"2026-12-07T17:00:00Z\"}";
    const char *open_none = "\"window\":{\"required\":\"office\",\"open\":true,\"next_open\":null,"
                            "\"closes_at\":null}";
    for (int round = 0; round < 3; round++) {
        /* another year, then the edge: what the context judged before
         * changes nothing */
        if (round == 1)
            (void)window_of(b, ctx, "2031-06-01T10:00:00Z", 0);
        if (round == 2)
            (void)window_of(b, ctx, "2026-12-31T23:00:00Z", 400 * 86400LL);
        assert_string_equal(window_of(b, ctx, "2026-12-07T09:00:00Z", 8 * 3600), open8);
        assert_string_equal(window_of(b, ctx, "2026-12-07T09:00:00Z", 8 * 3600 - 1), open_none);
        assert_string_equal(window_of(b, ctx, "2026-12-07T17:00:00Z", 16 * 3600),
                            "\"window\":{\"required\":\"office\",\"open\":false,"
                            "\"next_open\":\"2026-12-08T09:00:00Z\",\"closes_at\":null}");
        assert_string_equal(window_of(b, ctx, "2026-12-07T17:00:00Z", 16 * 3600 - 1),
                            "\"window\":{\"required\":\"office\",\"open\":false,"
                            "\"next_open\":null,\"closes_at\":null}");
    }
    /* a horizon past CHG_HORIZON_MAX is CHG_HORIZON_MAX */
    chg_bundle *never = vm_build_load("schema change { id: string }\n"
                                      "window feb30 = cron \"0 0 30 2 ? *\" for 1h\n"
                                      "rule a:\n  require window feb30\n");
    chg_ctx *c2 = chg_ctx_new(never);
    assert_string_equal(window_of(never, c2, "2026-12-07T09:00:00Z", INT64_MAX / 4),
                        "\"window\":{\"required\":\"feb30\",\"open\":false,\"next_open\":null,"
                        "\"closes_at\":null}");
    chg_ctx_free(c2);
    chg_bundle_free(never);
    chg_ctx_free(ctx);
    chg_bundle_free(b);
}

/* Weekly, daily and yearly schedules hold in the local years 0000, 0001,
 * 9998 and 9999 too (they were never open there). */
static void test_vm_schedules_at_the_year_ends(void **state)
{
    (void)state;
    chg_bundle *b = vm_build_load("schema change { id: string }\n"
                                  "window office = daily 09:00..17:00 in \"UTC\"\n"
                                  "freeze year_end = yearly dec 20 .. jan 03 in \"UTC\"\n"
                                  "rule a:\n  require window office\n"
                                  "rule b:\n  deny during year_end \"frozen\"\n");
    chg_ctx *ctx = chg_ctx_new(b);
    assert_string_equal(window_of(b, ctx, "0000-01-05T10:00:00Z", 0),
                        "\"window\":{\"required\":\"office\",\"open\":true,\"next_open\":null,"
                        "\"closes_at\":\"0000-01-05T17:00:00Z\"}");
    assert_string_equal(window_of(b, ctx, "0001-06-01T08:00:00Z", 0),
                        "\"window\":{\"required\":\"office\",\"open\":false,"
                        "\"next_open\":\"0001-06-01T09:00:00Z\",\"closes_at\":null}");
    assert_string_equal(window_of(b, ctx, "9998-06-01T10:00:00Z", 0),
                        "\"window\":{\"required\":\"office\",\"open\":true,\"next_open\":null,"
                        "\"closes_at\":\"9998-06-01T17:00:00Z\"}");
    /* frozen from 9999-12-20 to the end of time: no next_open */
    assert_string_equal(window_of(b, ctx, "9999-12-22T10:00:00Z", 0),
                        "\"window\":{\"required\":\"office\",\"open\":true,\"next_open\":null,"
                        "\"closes_at\":\"9999-12-22T17:00:00Z\"}");
    assert_string_equal(window_of(b, ctx, "9999-12-10T18:00:00Z", 0),
                        "\"window\":{\"required\":\"office\",\"open\":false,"
                        "\"next_open\":\"9999-12-11T09:00:00Z\",\"closes_at\":null}");
    chg_ctx_free(ctx);
    chg_bundle_free(b);
}

/* weekday() and the checker's day and month names are the table's. */
static void test_vm_calendar_names(void **state)
{
    (void)state;
    for (int i = 0; i < 7; i++) {
        assert_int_equal(chg_c_day_index(chg_weekday_names[i].abbr), i);
        assert_int_equal(chg_c_day_index(chg_weekday_names[i].full), i);
    }
    for (int i = 0; i < 12; i++) {
        assert_int_equal(chg_c_month_index(chg_month_names[i].abbr), i + 1);
        assert_int_equal(chg_c_month_index(chg_month_names[i].full), i + 1);
    }
    assert_int_equal(chg_c_day_index("Mon"), -1);
    assert_int_equal(chg_c_month_index("sept"), -1);

    chg_buf bytes = vm_build("schema change { when: time }\n"
                          "rule r advisory: when weekday(change.when, \"UTC\") == \"x\" warn \"x\"\n");
    chg_bundle *b = vm_load(&bytes);
    chg_ctx *ctx = chg_ctx_new(b);
    const chg_builtin_impl *wd = chg_vm_builtin_impl_find("weekday");
    for (int64_t day = 20454; day < 20454 + 7; day++) {
        chg_value args[2], out;
        memset(args, 0, sizeof args);
        args[0].tag = CHG_V_TIME;
        args[0].u.i = day * 86400 + 43200;
        args[1].tag = CHG_V_STR;
        args[1].u.s = "UTC";
        args[1].len = 3;
        assert_int_equal(wd->fn(ctx, args, &out), 0);
        assert_int_equal(out.tag, CHG_V_STR);
        assert_string_equal(out.u.s, chg_weekday_names[chg_weekday_from_days(day)].abbr);
    }
    chg_ctx_free(ctx);
    chg_bundle_free(b);
    chg_buf_free(&bytes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vm_decision),
        cmocka_unit_test(test_vm_resolver),
        cmocka_unit_test(test_vm_no_allocations_with_approvals),
        cmocka_unit_test(test_vm_no_allocations_per_decision),
        cmocka_unit_test(test_vm_let_shortcuts_agree),
        cmocka_unit_test(test_vm_eval_batch),
        cmocka_unit_test(test_vm_runtime_error_names_rule_and_place),
        cmocka_unit_test(test_vm_deterministic),
        cmocka_unit_test(test_vm_threads_share_a_bundle),
        cmocka_unit_test(test_vm_flip_every_byte),
        cmocka_unit_test(test_vm_walk_every_field),
        cmocka_unit_test(test_vm_truncated_and_foreign),
        cmocka_unit_test(test_vm_verifier_rejects_unbounded_loops),
        cmocka_unit_test(test_vm_verifier_rejects_loops_entered_past_forprep),
        cmocka_unit_test(test_vm_verifier_rejects_enum_without_values),
        cmocka_unit_test(test_vm_verifier_rejects_read_before_write),
        cmocka_unit_test(test_vm_registers_do_not_carry_over_between_decisions),
        cmocka_unit_test(test_vm_verifier_bounds_its_work),
        cmocka_unit_test(test_vm_verifier_rejects_shared_let_block),
        cmocka_unit_test(test_vm_verifier_rejects_shared_timeset_nodes),
        cmocka_unit_test(test_vm_verifier_rejects_decoding_fan_out),
        cmocka_unit_test(test_vm_reference_past_the_end),
        cmocka_unit_test(test_vm_rule_applies),
        cmocka_unit_test(test_vm_disasm_and_opcodes),
        cmocka_unit_test(test_vm_builtins_match_checker),
        cmocka_unit_test(test_vm_calendar_names),
        cmocka_unit_test(test_vm_window_of_several_rules),
        cmocka_unit_test(test_vm_closes_at_stops_at_a_freeze),
        cmocka_unit_test(test_vm_simulation_questions),
        cmocka_unit_test(test_vm_horizon_edge),
        cmocka_unit_test(test_vm_schedules_at_the_year_ends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
