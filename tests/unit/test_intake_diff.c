/*
 * test_intake_diff.c — the intakes' fast path against the jansson path,
 * on every event we have and on mutations of each (fuzz/intake_diff.h
 * says what is compared: decision and explanation, or the exact error,
 * and the intake used; each way twice on one context).
 *
 * The events: AWS's published samples (policies/events, and the rest of
 * /work/shared/events copied into tests/fixtures/events, provenance in
 * its SOURCES.md), every golden decision's event (tests/decisions) and the
 * event fuzzer's corpus. The mutations, each of every event: truncated at
 * a dozen places, wrapped, prefixed and followed by junk; every value
 * replaced by values of other types, huge and malformed numbers, strings
 * of bad UTF-8 and lone surrogates, deep nesting; every member removed;
 * every object given a duplicate key, an escaped key and a key of bad
 * UTF-8; the objects of the first two levels emptied, and cut to each
 * one of their members. The policies: every one with intakes, and one without (the
 * change decoder's fast path behind chg_event_intake); each event under
 * all of them, each mutant under two, in turn; each also through the
 * share of a twin (the same policy loaded again), as chgc replay's
 * second policy judges it.
 *
 * One context per policy serves every input in turn, so what one input
 * leaves in it is there when the next is judged.
 */
#include "helpers.h"

#include <dirent.h>
#include <jansson.h>

#include "intake_diff.h"

static const char *const policy_files[] = {
    "policies/aws-delivery.chg", "policies/production.chg", "tests/lang/intake.chg", "tests/lang/schema.chg",
    "tests/daemon/policy.chg",   "tests/aws/sqs_policy.chg", "policies/itil-changes.chg",
};
#define NPOLICIES (sizeof policy_files / sizeof *policy_files)

/* ---- the inputs ---------------------------------------------------------------------- */

typedef struct input {
    char *name;
    char *text;
    size_t len;
} input;

typedef struct inputs {
    input *v;
    size_t n, cap;
} inputs;

static void add(inputs *in, const char *name, const char *text, size_t len)
{
    if (in->n == in->cap) {
        in->cap = in->cap ? in->cap * 2 : 256;
        in->v = realloc(in->v, in->cap * sizeof *in->v);
        assert_non_null(in->v);
    }
    input *x = &in->v[in->n++];
    x->name = strdup(name);
    x->text = malloc(len + 1);
    assert_non_null(x->name);
    assert_non_null(x->text);
    memcpy(x->text, text, len);
    x->text[len] = 0;
    x->len = len;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    chg_buf b;
    chg_buf_init(&b);
    char tmp[8192];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        chg_buf_append(&b, tmp, n);
    fclose(f);
    *len = b.len;
    return b.data ? chg_buf_take(&b) : chg_strdup("");
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files of dir (recursively), sorted; with `event_member`, each is a
 * golden decision case and its "event" is the input. */
static void add_dir(inputs *in, const char *dir, bool event_member)
{
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("cannot open %s", dir);
    char *names[512];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.' && !strstr(de->d_name, ".md") && n < 512)
            names[n++] = strdup(de->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        DIR *sub = opendir(path);
        if (sub) {
            closedir(sub);
            add_dir(in, path, event_member);
        } else if (!event_member || strstr(names[i], ".json")) {
            size_t len;
            char *text = slurp(path, &len);
            if (!event_member)
                add(in, path, text, len);
            else {
                json_t *c = json_loadb(text, len, 0, NULL);
                json_t *ev = json_object_get(c, "event");
                char *s = ev ? json_dumps(ev, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
                if (s)
                    add(in, path, s, strlen(s));
                free(s);
                json_decref(c);
            }
            chg_free(text);
        }
        free(names[i]);
    }
}

/* ---- mutations ----------------------------------------------------------------------- */

/* What a value is replaced by: other types, number edges, strings that are
 * not UTF-8 or not Unicode, nesting past every limit. */
static const char *const values[] = {
    "1", "-1", "0.5", "\"x\"", "\"\"", "null", "true", "false", "[]", "{}", "[1,\"a\",null,{}]", "{\"a\":1}",
    "1e400", "-1e400", "123456789012345678901234567890", "9223372036854775807", "9223372036854775808",
    "-9223372036854775809", "1.0e-400", "-0", "01", "1.", "+1", "NaN", "\"\xff\"", "\"\xc0\xaf\"",
    "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\\ud800\"", "\"\\udc00\\ud800\"", "\"\\ud83d\\ude00\"",
    "\"a\\u0000b\"", "\"\x01\"", "\"\\x\"", "\"2026-12-01T10:00:00Z\"", "\"2026-13-01T10:00:00Z\"", "\"prod\"",
    "\"{\\\"id\\\":\\\"c\\\"}\"", "DEEP[64", "DEEP[65", "DEEP[1100", "DEEP[3000", "DEEP{64", "DEEP{3000",
};
#define NVALUES (sizeof values / sizeof *values)

#define MARK "@@chg-mutation@@"

/* values[v] as text (DEEP[n: n nested arrays; DEEP{n: n nested objects). */
static void value_text(size_t v, chg_buf *out)
{
    const char *s = values[v];
    if (strncmp(s, "DEEP", 4) != 0) {
        chg_buf_puts(out, s);
        return;
    }
    int n = atoi(s + 5);
    for (int i = 0; i < n; i++)
        chg_buf_puts(out, s[4] == '[' ? "[" : "{\"a\":");
    chg_buf_putc(out, '1');
    for (int i = 0; i < n; i++)
        chg_buf_putc(out, s[4] == '[' ? ']' : '}');
}

/* Every mutation of one event, each handed to fn. */
typedef void (*mutant_fn)(void *ud, const char *what, const char *text, size_t len);

/* The n-th value of a tree in depth-first order, with where it sits. */
typedef struct where {
    json_t *parent;
    const char *key;
    size_t index;
    json_t *node;
    int depth;
} where;

static bool find(json_t *j, json_t *parent, const char *key, size_t index, int depth, int *count, int target,
                 where *w)
{
    if ((*count)++ == target) {
        *w = (where){parent, key, index, j, depth};
        return true;
    }
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_object(j)) {
        json_object_foreach(j, k, v) if (find(v, j, k, 0, depth + 1, count, target, w)) return true;
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v) if (find(v, j, NULL, i, depth + 1, count, target, w)) return true;
    }
    return false;
}

static void dump_spliced(json_t *root, const char *with, size_t withlen, chg_buf *out);

/* An object of the event's first two levels reduced to each one of its
 * members in turn, and to none: what is left may lack every field a
 * change needs, or have only optional ones. */
static void only_mutations(json_t *root, json_t *obj, mutant_fn fn, void *ud, chg_buf *b)
{
    json_t *keep = json_deep_copy(obj);
    const char *k;
    json_t *v;
    json_object_clear(obj);
    dump_spliced(root, "", 0, b);
    fn(ud, "emptied", b->data, b->len);
    json_object_foreach(keep, k, v) {
        json_object_set(obj, k, v);
        dump_spliced(root, "", 0, b);
        fn(ud, "only one member", b->data, b->len);
        json_object_del(obj, k);
    }
    json_object_update(obj, keep);
    json_decref(keep);
}

static void set_at(const where *w, json_t *v)
{
    if (json_is_object(w->parent))
        json_object_set_new(w->parent, w->key, v);
    else
        json_array_set_new(w->parent, w->index, v);
}

/* The tree as text, the first "MARK" (a string or a key) replaced by
 * `with`. */
static void dump_spliced(json_t *root, const char *with, size_t withlen, chg_buf *out)
{
    char *s = json_dumps(root, JSON_COMPACT | JSON_ENCODE_ANY);
    assert_non_null(s);
    char *m = strstr(s, "\"" MARK "\"");
    chg_buf_reset(out);
    if (!m)
        chg_buf_puts(out, s);
    else {
        chg_buf_append(out, s, (size_t)(m - s));
        chg_buf_append(out, with, withlen);
        chg_buf_puts(out, m + strlen(MARK) + 2);
    }
    free(s);
}


static void text_mutations(const input *x, mutant_fn fn, void *ud)
{
    chg_buf b;
    chg_buf_init(&b);
    fn(ud, "as is", x->text, x->len);
    for (size_t k = 0; k < 12; k++) {
        size_t at = x->len * k / 12;
        fn(ud, "truncated", x->text, at);
    }
    if (x->len)
        fn(ud, "truncated", x->text, x->len - 1);
    static const char *const wraps[][2] = {
        {"", "x"}, {"", "}"}, {"", " {}"}, {"\xEF\xBB\xBF", ""}, {" \n\t", " \n"}, {"[", "]"}, {"{\"event\":", "}"},
        {"", "\n{}"}, {"\xEF\xBB", ""},
    };
    for (size_t k = 0; k < sizeof wraps / sizeof *wraps; k++) {
        chg_buf_reset(&b);
        chg_buf_puts(&b, wraps[k][0]);
        chg_buf_append(&b, x->text, x->len);
        chg_buf_puts(&b, wraps[k][1]);
        fn(ud, "wrapped", b.data, b.len);
    }
    /* a NUL byte in the middle */
    chg_buf_reset(&b);
    chg_buf_append(&b, x->text, x->len / 2);
    chg_buf_putc(&b, 0);
    chg_buf_append(&b, x->text + x->len / 2, x->len - x->len / 2);
    fn(ud, "NUL inside", b.data, b.len);
    chg_buf_free(&b);
}

/* One object's key-level mutations: a duplicate of its first key (the
 * same value, and another), the first key escaped, a key of bad UTF-8. */
static void key_mutations(json_t *root, json_t *obj, mutant_fn fn, void *ud, chg_buf *b, chg_buf *with)
{
    void *it = json_object_iter(obj);
    if (!it)
        return;
    const char *k = json_object_iter_key(it);
    json_t *v = json_incref(json_object_iter_value(it));
    json_t *ks = json_string(k);
    char *kq = json_dumps(ks, JSON_ENCODE_ANY);
    json_decref(ks);
    char *vq = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_object_set_new(obj, MARK, json_null());
    for (int variant = 0; variant < 3; variant++) {
        chg_buf_reset(with);
        if (variant < 2) /* the marker's member, value and all, is replaced */
            chg_buf_printf(with, "%s:%s", kq, variant == 0 ? vq : "\"dup\"");
        else
            chg_buf_puts(with, "\"\xff\\u00e9\":1");
        char *s = json_dumps(root, JSON_COMPACT | JSON_ENCODE_ANY);
        char *m = strstr(s, "\"" MARK "\":null");
        chg_buf_reset(b);
        chg_buf_append(b, s, (size_t)(m - s));
        chg_buf_append(b, with->data, with->len);
        chg_buf_puts(b, m + strlen(MARK) + 7);
        free(s);
        fn(ud, variant == 0 ? "duplicate key" : variant == 1 ? "duplicate key, other value" : "bad UTF-8 key",
           b->data, b->len);
    }
    json_object_del(obj, MARK);
    /* the first key with its first character escaped (moved last) */
    if (k[0] && (unsigned char)k[0] < 0x80 && k[0] != '"' && k[0] != '\\') {
        char key[256];
        snprintf(key, sizeof key, "%s", k);
        json_object_del(obj, key);
        json_object_set(obj, MARK, v);
        chg_buf_reset(with);
        chg_buf_printf(with, "\"\\u%04x%s\"", (unsigned char)key[0], key + 1);
        dump_spliced(root, with->data, with->len, b);
        fn(ud, "escaped key", b->data, b->len);
        json_object_del(obj, MARK);
        json_object_set(obj, key, v);
    }
    json_decref(v);
    free(kq);
    free(vq);
}

static void tree_mutations(const input *x, mutant_fn fn, void *ud)
{
    json_t *root = json_loadb(x->text, x->len, 0, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return;
    }
    chg_buf b, with;
    chg_buf_init(&b);
    chg_buf_init(&with);
    for (int target = 0;; target++) {
        json_t *copy = json_deep_copy(root);
        int count = 0;
        where w;
        if (!find(copy, NULL, NULL, 0, 0, &count, target, &w)) {
            json_decref(copy);
            break;
        }
        if (json_is_object(w.node))
            key_mutations(copy, w.node, fn, ud, &b, &with);
        if (json_is_object(w.node) && w.depth < 2)
            only_mutations(copy, w.node, fn, ud, &b);
        if (w.parent) {
            /* every value for the envelope's first members; further in, a
             * rotating eighth of them (each value still meets many
             * places, and each place many values) */
            for (size_t v = 0; v < NVALUES; v++) {
                if (target >= 12 && (target + v) % 10)
                    continue;
                json_t *orig = json_incref(w.node);
                set_at(&w, json_string(MARK));
                chg_buf_reset(&with);
                value_text(v, &with);
                dump_spliced(copy, with.data, with.len, &b);
                fn(ud, values[v], b.data, b.len);
                set_at(&w, orig);
                w.node = orig;
            }
            if (json_is_object(w.parent))
                json_object_del(w.parent, w.key);
            else
                json_array_remove(w.parent, w.index);
            dump_spliced(copy, "", 0, &b);
            fn(ud, "removed", b.data, b.len);
        }
        json_decref(copy);
    }
    chg_buf_free(&b);
    chg_buf_free(&with);
    json_decref(root);
}

/* ---- the comparison ------------------------------------------------------------------ */

typedef struct run {
    chg_bundle *b[NPOLICIES], *tw[NPOLICIES]; /* each policy and its twin */
    chg_ctx *ctx[NPOLICIES], *tctx[NPOLICIES];
    chg_facts *facts;
    const input *x;
    bool mutate;
    size_t mutants, checked, failed;
} run;

static void check_mutant(void *ud, const char *what, const char *text, size_t len)
{
    run *r = ud;
    chg_eval_input in = {.now = 1796268600, .facts = r->facts, .horizon = 30 * 86400};
    /* an event as recorded under every policy; its mutants, two policies
     * each, in turn (under ASan every mutant under every policy takes
     * minutes) */
    size_t m = r->mutants++;
    for (size_t p = 0; p < NPOLICIES; p++) {
        if (r->mutate && p != m % NPOLICIES && p != (m + 3) % NPOLICIES)
            continue;
        char *diff = intake_diff_check(r->ctx[p], r->b[p], text, len, &in, r->tctx[p], r->tw[p]);
        r->checked++;
        if (!diff)
            continue;
        if (r->failed++ < 3)
            print_error("%s under %s, %s (%zu bytes): %.*s\n%s\n", r->x->name, policy_files[p], what, len,
                        (int)(len < 600 ? len : 600), text, diff);
        chg_free(diff);
    }
}

static chg_bundle *build_file(const char *path)
{
    chg_compiler *c = chg_compiler_new(NULL);
    assert_non_null(c);
    assert_int_equal(chg_compiler_add_file(c, path), CHG_OK);
    chg_compiler_check(c); /* warnings are fine; an error fails the emit */
    chg_buf bytes;
    chg_buf_init(&bytes);
    if (chg_compiler_emit(c, &bytes) != CHG_OK)
        fail_msg("%s does not compile: %s", path, diag_codes(c));
    chg_compiler_free(c);
    char err[256];
    chg_bundle *b = chg_bundle_load(bytes.data, bytes.len, err, sizeof err);
    if (!b)
        fail_msg("%s: %s", path, err);
    chg_buf_free(&bytes);
    return b;
}

static void run_all(const inputs *in, bool mutate)
{
    run r;
    memset(&r, 0, sizeof r);
    r.mutate = mutate;
    for (size_t p = 0; p < NPOLICIES; p++) {
        r.b[p] = build_file(policy_files[p]);
        r.ctx[p] = chg_ctx_new(r.b[p]);
        assert_non_null(r.ctx[p]);
        /* its twin: the same policy loaded again, its own memory (enum
         * values decoded by it point into it, not into r.b[p]) */
        r.tw[p] = build_file(policy_files[p]);
        r.tctx[p] = chg_ctx_new(r.tw[p]);
        assert_non_null(r.tctx[p]);
        assert_true(chg_bundle_decode_same(r.b[p], r.tw[p]));
        assert_true(p == 0 || !chg_bundle_decode_same(r.b[p], r.b[0]));
    }
    size_t flen;
    char *ftext = slurp("policies/examples/facts.json", &flen);
    char err[256];
    r.facts = chg_facts_parse(ftext, flen, err, sizeof err);
    chg_free(ftext);
    assert_non_null(r.facts);
    for (size_t i = 0; i < in->n; i++) {
        r.x = &in->v[i];
        if (!mutate)
            check_mutant(&r, "as is", r.x->text, r.x->len);
        else {
            text_mutations(r.x, check_mutant, &r);
            tree_mutations(r.x, check_mutant, &r);
        }
    }
    print_message("%zu inputs, %zu comparisons, %zu differ\n", in->n, r.checked, r.failed);
    for (size_t p = 0; p < NPOLICIES; p++) {
        chg_ctx_free(r.ctx[p]);
        chg_bundle_free(r.b[p]);
        chg_ctx_free(r.tctx[p]);
        chg_bundle_free(r.tw[p]);
    }
    chg_facts_free(r.facts);
    if (r.failed)
        fail_msg("the fast path and the jansson path differ on %zu of %zu", r.failed, r.checked);
}

static inputs corpus(void)
{
    inputs in = {0};
    add_dir(&in, "policies/events", false);
    add_dir(&in, "tests/fixtures/events", false);
    add_dir(&in, "fuzz/corpus/event", false);
    add_dir(&in, "fuzz/corpus/intake", false);
    add_dir(&in, "tests/decisions", true);
    return in;
}

static void free_inputs(inputs *in)
{
    for (size_t i = 0; i < in->n; i++) {
        free(in->v[i].name);
        free(in->v[i].text);
    }
    free(in->v);
}

/* The corpus as it is: each event both ways. */
static void test_events_as_recorded(void **state)
{
    (void)state;
    inputs in = corpus();
    assert_true(in.n >= 60); /* the corpus is there: an empty one passes anything */
    run_all(&in, false);
    free_inputs(&in);
}

/* Every mutation of every event both ways. */
static void test_mutated_events(void **state)
{
    (void)state;
    inputs in = corpus();
    run_all(&in, true);
    free_inputs(&in);
}

/* ---- which bundles decode alike ---------------------------------------------------- */

static const char *const decode_base =
    "policy \"p\" version \"1\"\n"
    "schema change {\n"
    "  id:   string\n"
    "  env:  enum(\"dev\", \"prod\") = \"dev\"\n"
    "  size: int = 1\n"
    "  team: string = \"x\"\n"
    "  approvals: [{ by: string, group: string, at: time }] = []\n"
    "}\n"
    "risk low < high\n"
    "classify {\n"
    "  high    when change.env == \"prod\" and change.size >= 10\n"
    "  default low\n"
    "}\n"
    "rule big mandatory:\n"
    "  when change.size > 100\n"
    "  deny \"too big\"\n";

/* decode_base with `from` replaced by `to` (the first time), built. */
static chg_bundle *variant(const char *from, const char *to)
{
    const char *at = strstr(decode_base, from);
    assert_non_null(at);
    chg_buf text;
    chg_buf_init(&text);
    chg_buf_append(&text, decode_base, (size_t)(at - decode_base));
    chg_buf_puts(&text, to);
    chg_buf_puts(&text, at + strlen(from));
    chg_compiler *c = compile_str(text.data);
    chg_buf bytes;
    chg_buf_init(&bytes);
    if (chg_compiler_emit(c, &bytes) != CHG_OK)
        fail_msg("the variant does not compile: %s\n%s", diag_codes(c), text.data);
    chg_compiler_free(c);
    chg_buf_free(&text);
    char err[256];
    chg_bundle *b = chg_bundle_load(bytes.data, bytes.len, err, sizeof err);
    if (!b)
        fail_msg("%s", err);
    chg_buf_free(&bytes);
    return b;
}

/* What two policies decode alike means: the same fields read and
 * declared, the same types, defaults and enum values; rules, thresholds,
 * messages, names and versions do not matter, nor where things are. */
static void test_decode_same(void **state)
{
    (void)state;
    static const struct {
        const char *from, *to;
        bool same;
    } cases[] = {
        {"size >= 10", "size >= 5", true},
        {"\"too big\"", "\"far too big\"", true},
        {"version \"1\"", "version \"2\"", true},
        {"policy \"p\"", "# a comment moves every line\npolicy \"q\"", true},
        {"rule big mandatory", "rule huge mandatory", true},
        {"\"dev\", \"prod\")", "\"dev\", \"staging\", \"prod\")", false}, /* an enum value more */
        {"\"dev\", \"prod\")", "\"prod\", \"dev\")", false},                /* in another order */
        {"= \"dev\"", "= \"prod\"", false},                                  /* another default */
        {"size: int = 1", "size: int = 2", false},
        {"size: int = 1", "size: float = 1.0", false}, /* another type */
        {"size: int = 1", "size: int", false},         /* required now */
        {"  id:   string\n", "  id:   string\n  owner: string = \"x\"\n", false}, /* a field more */
        {"change.size > 100", "change.size > 100 or change.team == \"y\"", false}, /* a path more read */
        {"group: string", "team: string", false},                                  /* a record field renamed */
    };
    chg_bundle *base = variant("policy", "policy");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        chg_bundle *v = variant(cases[i].from, cases[i].to);
        if (chg_bundle_decode_same(base, v) != cases[i].same || chg_bundle_decode_same(v, base) != cases[i].same)
            fail_msg("%s -> %s: decode alike should be %d", cases[i].from, cases[i].to, cases[i].same);
        chg_bundle_free(v);
    }
    assert_true(chg_bundle_decode_same(base, base));
    chg_bundle_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_same),
        cmocka_unit_test(test_events_as_recorded),
        cmocka_unit_test(test_mutated_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
