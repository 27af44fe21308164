/*
 * test_driver.c — the driver layer as chgc and chgd use it: the JSON-lines
 * reader (limits, line ends, lines across its buffer), the error line,
 * deciding a stream on one thread and on several with the same bytes out,
 * policies from source and from a bundle, and chgc check's de-duplication
 * of imported roots.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc_fail.h"

#include "chg_driver.h"

static char tmpdir[] = "/tmp/chg-test-driver-XXXXXX";

static char *path_in_tmp(const char *name)
{
    static char buf[4][512];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    return p;
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* ---- the lines reader ------------------------------------------------------------ */

static void test_lines_ends_blanks_and_numbers(void **state)
{
    (void)state;
    const char text[] = "a\r\n\n   \t\nbb\n\r\nc";
    char *p = path_in_tmp("lines.jsonl");
    write_file(p, text, sizeof text - 1);
    char err[256];
    chg_lines *r = chg_lines_open(p, 0, err, sizeof err);
    assert_non_null(r);
    const char *line;
    size_t len;
    unsigned long no;
    assert_int_equal(chg_lines_next(r, &line, &len, &no, err, sizeof err), 1);
    assert_int_equal(len, 1);
    assert_memory_equal(line, "a", 1);
    assert_int_equal(no, 1);
    assert_int_equal(chg_lines_next(r, &line, &len, &no, err, sizeof err), 1);
    assert_memory_equal(line, "bb", 2);
    assert_int_equal(no, 4); /* blank lines are counted, not returned */
    assert_int_equal(chg_lines_next(r, &line, &len, &no, err, sizeof err), 1);
    assert_int_equal(len, 1); /* the last line needs no newline */
    assert_memory_equal(line, "c", 1);
    assert_int_equal(no, 6);
    assert_int_equal(chg_lines_next(r, &line, &len, &no, err, sizeof err), 0);
    assert_int_equal(chg_lines_next(r, &line, &len, &no, err, sizeof err), 0);
    chg_lines_close(r);
}

/* Lines that cross the reader's 64 KiB buffer, and one over the limit
 * that is skipped without being kept while reading goes on. */
static void test_lines_limit_and_buffer_edges(void **state)
{
    (void)state;
    size_t n = 300000;
    char *text = malloc(n);
    size_t at = 0;
    int lines = 0;
    /* lines of 1..~1000 bytes: many cross a buffer edge */
    for (int k = 1; at + 2100 < 200000; k++, lines++) {
        size_t len = (size_t)(k * 37 % 1000) + 1;
        memset(text + at, 'a' + k % 26, len);
        at += len;
        text[at++] = '\n';
    }
    /* one line of 5000 bytes: over the limit of 4096 */
    memset(text + at, 'z', 5000);
    at += 5000;
    text[at++] = '\n';
    memcpy(text + at, "after\n", 6);
    at += 6;
    char *p = path_in_tmp("long.jsonl");
    write_file(p, text, at);

    char err[256];
    chg_lines *r = chg_lines_open(p, 4096, err, sizeof err);
    assert_non_null(r);
    assert_int_equal(chg_lines_limit(r), 4096);
    const char *line;
    size_t len, seen = 0;
    unsigned long no;
    for (int k = 1; k <= lines; k++) {
        assert_int_equal(chg_lines_next(r, &line, &len, &no, err, sizeof err), 1);
        assert_int_equal(len, (size_t)(k * 37 % 1000) + 1);
        assert_int_equal(no, (unsigned long)k);
        for (size_t i = 0; i < len; i++)
            assert_int_equal(line[i], 'a' + k % 26);
        seen += len + 1;
    }
    assert_int_equal(seen, at - 5001 - 6); /* every byte before the long line, read as lines */
    assert_int_equal(chg_lines_next(r, &line, &len, &no, err, sizeof err), CHG_ERANGE);
    assert_int_equal(no, (unsigned long)lines + 1);
    assert_int_equal(chg_lines_next(r, &line, &len, &no, err, sizeof err), 1);
    assert_int_equal(len, 5);
    assert_memory_equal(line, "after", 5);
    assert_int_equal(no, (unsigned long)lines + 2);
    assert_int_equal(chg_lines_next(r, &line, &len, &no, err, sizeof err), 0);
    chg_lines_close(r);
    free(text);
}

static void test_lines_open_errors(void **state)
{
    (void)state;
    char err[256];
    assert_null(chg_lines_open(tmpdir, 0, err, sizeof err));
    assert_true(strstr(err, ": is a directory") != NULL);
    assert_null(chg_lines_open("/no/such/file.jsonl", 0, err, sizeof err));
    assert_string_equal(err, "/no/such/file.jsonl: No such file or directory");
}

static void test_input_read_refuses_what_is_not_a_file(void **state)
{
    (void)state;
    char err[256], *data;
    size_t len;
    assert_int_equal(chg_input_read(tmpdir, 0, &data, &len, err, sizeof err), CHG_ENOTREG);
    assert_true(strstr(err, ": is a directory") != NULL);
    char *p = path_in_tmp("big.json");
    write_file(p, "0123456789", 10);
    assert_int_equal(chg_input_read(p, 9, &data, &len, err, sizeof err), CHG_ERANGE);
    assert_int_equal(chg_input_read(p, 10, &data, &len, err, sizeof err), CHG_OK);
    assert_int_equal(len, 10);
    chg_free(data);
}

/* A FIFO nobody writes reads as empty at once (no hang); one with a writer
 * reads what was written; a device is refused, not read forever. */
static void *fifo_writer(void *path)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("{\"id\":\"p\"}\n", f);
        fclose(f);
    }
    return NULL;
}

static void *late_writer(void *path)
{
    usleep(300 * 1000); /* the reader is already waiting */
    return fifo_writer(path);
}

static void test_fifos_and_devices(void **state)
{
    (void)state;
    char *fifo = path_in_tmp("fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    char err[256], *data;
    size_t len;
    /* a writer that comes late is waited for */
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, late_writer, fifo), 0);
    assert_int_equal(chg_input_read(fifo, 0, &data, &len, err, sizeof err), CHG_OK);
    pthread_join(t, NULL);
    assert_string_equal(data, "{\"id\":\"p\"}\n");
    chg_free(data);
    assert_int_equal(pthread_create(&t, NULL, late_writer, fifo), 0);
    chg_lines *r = chg_lines_open(fifo, 0, err, sizeof err);
    assert_non_null(r);
    const char *line;
    unsigned long no;
    assert_int_equal(chg_lines_next(r, &line, &len, &no, err, sizeof err), 1);
    assert_memory_equal(line, "{\"id\":\"p\"}", len);
    assert_int_equal(chg_lines_next(r, &line, &len, &no, err, sizeof err), 0);
    chg_lines_close(r);
    pthread_join(t, NULL);

    /* nobody writes: an error after a bounded wait, not a hang and not an
     * empty input that would decide nothing and succeed */
    assert_int_equal(chg_input_read(fifo, 0, &data, &len, err, sizeof err), CHG_EIO);
    assert_non_null(strstr(err, "nothing was written to this pipe within 10 s"));

    assert_int_equal(chg_input_read("/dev/zero", 0, &data, &len, err, sizeof err), CHG_ENOTREG);
    assert_string_equal(err, "/dev/zero: not a regular file or a pipe");
    assert_null(chg_lines_open("/dev/zero", 0, err, sizeof err));
    assert_string_equal(err, "/dev/zero: not a regular file or a pipe");
}

/* A request body in memory: lines in place, the last without a newline. */
static void test_lines_from_memory(void **state)
{
    (void)state;
    static const char body[] = "{\"a\":1}\r\n\n{\"b\":2}";
    chg_lines *r = chg_lines_memory(body, sizeof body - 1, "body", 0);
    assert_non_null(r);
    assert_true(chg_lines_buffered(r));
    const char *line;
    size_t len;
    unsigned long no;
    char err[64];
    assert_int_equal(chg_lines_next(r, &line, &len, &no, err, sizeof err), 1);
    assert_ptr_equal(line, body); /* not copied */
    assert_int_equal(len, 7);
    assert_int_equal(chg_lines_next(r, &line, &len, &no, err, sizeof err), 1);
    assert_int_equal(no, 3);
    assert_memory_equal(line, "{\"b\":2}", 7);
    assert_int_equal(chg_lines_next(r, &line, &len, &no, err, sizeof err), 0);
    chg_lines_close(r);
}

/* ---- decisions ------------------------------------------------------------------- */

static void test_error_line(void **state)
{
    (void)state;
    chg_buf b;
    chg_buf_init(&b);
    chg_error_line_write(&b, "line 3", "expected \"}\"\tnear\n");
    assert_string_equal(b.data, "{\"error\":\"line 3: expected \\\"}\\\"\\tnear\\n\"}\n");
    chg_buf_free(&b);
}

static const char policy[] =
    "policy \"d\" version \"1\"\n"
    "schema change { id: string, env: enum(\"dev\", \"prod\"), n: int }\n"
    "risk low < high\n"
    "classify { high when change.env == \"prod\" default low }\n"
    "rule big: when change.n > 10 deny \"too big: {change.n}\"\n";

static void open_policy(chg_policy *p, const char *name, const char *text)
{
    char *path = path_in_tmp(name);
    write_file(path, text, strlen(text));
    char err[512];
    char *paths[1] = {path};
    int rc = chg_policy_open(p, paths, 1, NULL, err, sizeof err);
    if (rc != CHG_OK)
        fail_msg("open %s: %d %s", path, rc, err);
}

static char *slurp(FILE *f)
{
    fflush(f);
    long n = ftell(f);
    rewind(f);
    char *s = calloc(1, (size_t)n + 1);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    return s;
}

/* The same stream on 1 and on 3 threads: the same bytes, in input order,
 * good and bad lines mixed (a bad line must not shift the others). */
static void test_decide_lines_threads_agree(void **state)
{
    (void)state;
    chg_policy p;
    open_policy(&p, "d.chg", policy);
    chg_buf in;
    chg_buf_init(&in);
    for (int i = 0; i < 3000; i++) {
        if (i % 97 == 5)
            chg_buf_printf(&in, "{not json %d\n", i);
        else if (i % 89 == 3)
            chg_buf_puts(&in, "\n");
        else
            chg_buf_printf(&in, "{\"id\":\"c%d\",\"env\":\"%s\",\"n\":%d}\n", i, i % 2 ? "prod" : "dev", i % 20);
    }
    char *path = path_in_tmp("stream.jsonl");
    write_file(path, in.data, in.len);
    chg_buf_free(&in);

    char *outs[4], *errs[4];
    int threads[4] = {1, 2, 3, 8};
    for (int k = 0; k < 4; k++) {
        char err[256];
        FILE *out = tmpfile(), *es = tmpfile();
        bool failed = false;
        chg_eval_input base = {.now = 1796000000};
        chg_decide_options o = {.threads = threads[k], .label = "chgc"};
        assert_int_equal(chg_decide_lines(p.bundle, &base, path, &o, out, es, &failed, err, sizeof err), CHG_OK);
        assert_true(failed);
        outs[k] = slurp(out);
        errs[k] = slurp(es);
        fclose(out);
        fclose(es);
    }
    for (int k = 1; k < 4; k++) {
        assert_string_equal(outs[0], outs[k]);
        assert_string_equal(errs[0], errs[k]);
    }
    /* line 6 is the first bad one; its error line stands in its place */
    const char *first_err = strstr(outs[0], "{\"error\":\"line 6");
    assert_non_null(first_err);
    size_t before = 0;
    for (const char *s = outs[0]; s < first_err; s++)
        before += *s == '\n';
    assert_int_equal(before, 4); /* lines 1, 2, 3 and 5: line 4 is blank */
    assert_non_null(strstr(errs[0], "chgc: line 6, column "));
    for (int k = 0; k < 4; k++) {
        free(outs[k]);
        free(errs[k]);
    }
    chg_policy_free(&p);
}

/* Out of memory in the middle of a --jsonl stream is the run's error,
 * said once: not also a per-line "line 2: out of memory" on errs before
 * the same text as the run's error. Each allocation fails in turn (alone,
 * or with all after it), on one thread and on two; a run that ends in CHG_ENOMEM says "out of memory"
 * exactly once in errs and err together, and no run says it twice. */
static void test_decide_lines_out_of_memory_said_once(void **state)
{
    (void)state;
    chg_policy p;
    open_policy(&p, "oom.chg", policy);
    const char stream[] = "{\"id\":\"a\",\"env\":\"dev\",\"n\":1}\n{\"id\":\"b\",\"env\":\"prod\",\"n\":20}\n"
                          "{not json\n{\"id\":\"c\",\"env\":\"dev\",\"n\":3}\n";
    char *path = path_in_tmp("oom.jsonl");
    write_file(path, stream, sizeof stream - 1);
    for (int mode = 0; mode < 4; mode++) {
        int threads = 1 + mode % 2;
        bool and_after = mode >= 2; /* one allocation fails, or it and every later one */
        failing f = {0, 0, false};
        unsigned long total = 0;
        for (unsigned long k = 0; k == 0 || k <= total + 1; k++) {
            char err[256] = "";
            FILE *out = tmpfile(), *es = tmpfile();
            bool failed = false;
            chg_eval_input base = {.now = 1796000000};
            chg_decide_options o = {.threads = threads, .label = "chgc"};
            f = (failing){0, k, and_after};
            chg_set_allocator(failing_realloc, &f);
            int rc = chg_decide_lines(p.bundle, &base, path, &o, out, es, &failed, err, sizeof err);
            chg_set_allocator(NULL, NULL);
            if (k == 0)
                total = f.calls;
            char *e = slurp(es);
            size_t said = 0;
            for (const char *x = e; (x = strstr(x, "out of memory")) != NULL; x++)
                said++;
            for (const char *x = err; (x = strstr(x, "out of memory")) != NULL; x++)
                said++;
            if ((rc == CHG_ENOMEM && said != 1) || said > 1 || (said && rc == CHG_OK))
                fail_msg("threads %d, allocation %lu: status %d, 'out of memory' said %zu times: errs [%s] err [%s]",
                         threads, k, rc, said, e, err);
            free(e);
            fclose(out);
            fclose(es);
        }
    }
    chg_policy_free(&p);
}

/* A policy compiled here and the same policy read back from its bundle
 * decide alike. */
static void test_policy_from_source_and_bundle(void **state)
{
    (void)state;
    chg_policy src, bin;
    open_policy(&src, "s.chg", policy);
    char *bpath = path_in_tmp("s.chgb");
    write_file(bpath, src.bytes.data, src.bytes.len);
    char err[512];
    char *paths[1] = {bpath};
    assert_int_equal(chg_policy_open(&bin, paths, 1, NULL, err, sizeof err), CHG_OK);
    assert_null(bin.compiler);
    assert_int_equal(bin.bytes.len, src.bytes.len);
    assert_string_equal(chg_bundle_hash(bin.bundle), chg_bundle_hash(src.bundle));
    const char *change = "{\"id\":\"x\",\"env\":\"prod\",\"n\":11}";
    chg_buf o[2], e[2];
    chg_policy *ps[2] = {&src, &bin};
    for (int k = 0; k < 2; k++) {
        chg_buf_init(&o[k]);
        chg_buf_init(&e[k]);
        chg_ctx *ctx = chg_ctx_new(ps[k]->bundle);
        chg_eval_input base = {.now = 1796000000};
        /* twice on one context: nothing of the first decision may leak */
        for (int twice = 0; twice < 2; twice++)
            assert_int_equal(
                chg_decide_json(ctx, ps[k]->bundle, change, strlen(change), &base, "x", false, &o[k], &e[k]), CHG_OK);
        chg_ctx_free(ctx);
    }
    assert_string_equal(o[0].data, o[1].data);
    assert_non_null(strstr(o[0].data, "\"outcome\":\"deny\""));
    size_t half = o[0].len / 2;
    assert_memory_equal(o[0].data, o[0].data + half, half);
    for (int k = 0; k < 2; k++) {
        chg_buf_free(&o[k]);
        chg_buf_free(&e[k]);
    }
    chg_policy_free(&src);
    chg_policy_free(&bin);

    /* a damaged bundle: refused, with the path */
    write_file(bpath, "CHGB\r\n\x1a\n", 8);
    assert_int_not_equal(chg_policy_open(&bin, paths, 1, NULL, err, sizeof err), CHG_OK);
    assert_null(bin.bundle);
    assert_memory_equal(err, bpath, strlen(bpath));
    chg_policy_free(&bin);
}

static void test_policy_errors_are_diagnostics(void **state)
{
    (void)state;
    char *path = path_in_tmp("bad.chg");
    write_file(path, "let a = b\n", 10);
    chg_policy p;
    char err[512] = "";
    char *paths[1] = {path};
    assert_int_equal(chg_policy_open(&p, paths, 1, NULL, err, sizeof err), CHG_EINVAL);
    assert_non_null(p.compiler);
    assert_null(p.bundle);
    assert_int_equal(chg_compiler_count(p.compiler, CHG_ERROR), 1);
    assert_string_equal(err, ""); /* the diagnostics say it */
    chg_policy_free(&p);
    paths[0] = "/no/such.chg";
    assert_int_equal(chg_policy_open(&p, paths, 1, NULL, err, sizeof err), CHG_EIO);
    assert_string_equal(err, "/no/such.chg: No such file or directory");
    chg_policy_free(&p);
}

/* ---- chgc check: imported roots are dropped ------------------------------------------ */

static void test_check_drops_imported_roots(void **state)
{
    (void)state;
    write_file(path_in_tmp("lib.chg"), "let limit = 1\n", 14);
    const char main_text[] = "policy \"m\"\nimport \"lib.chg\"\nlet x = limit\n";
    write_file(path_in_tmp("main.chg"), main_text, sizeof main_text - 1);
    write_file(path_in_tmp("other.chg"), "let z = 1\n", 10);
    char *files[4];
    files[0] = strdup(path_in_tmp("lib.chg"));
    files[1] = strdup(path_in_tmp("main.chg"));
    files[2] = strdup(path_in_tmp("other.chg"));
    char again[600];
    snprintf(again, sizeof again, "%s/./main.chg", tmpdir); /* main.chg by another name */
    files[3] = again;
    chg_compiler **cs;
    size_t n;
    char err[256];
    chg_compile_options co = {.lints = true};
    assert_int_equal(chg_check_files(files, 4, &co, &cs, &n, err, sizeof err), CHG_OK);
    assert_int_equal(n, 2); /* main (with lib) and other */
    assert_true(strstr(chg_compiler_source(cs[0], 1)->path, "main.chg") != NULL);
    assert_true(strstr(chg_compiler_source(cs[1], 1)->path, "other.chg") != NULL);
    for (size_t i = 0; i < n; i++)
        chg_compiler_free(cs[i]);
    chg_free(cs);
    for (int i = 0; i < 3; i++)
        free(files[i]);
}

static void test_collect_files_sorted(void **state)
{
    (void)state;
    char dir[600], sub[700], empty[600];
    snprintf(dir, sizeof dir, "%s/tree", tmpdir);
    snprintf(sub, sizeof sub, "%s/sub", dir);
    snprintf(empty, sizeof empty, "%s/empty", tmpdir);
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(mkdir(empty, 0700), 0);
    const char *names[] = {"tree/b.chg", "tree/a.chg", "tree/.hidden.chg", "tree/sub/c.chg", "tree/x.txt"};
    for (size_t i = 0; i < 5; i++)
        write_file(path_in_tmp(names[i]), "", 0);
    chg_vec v;
    chg_vec_init(&v);
    char err[256];
    char *args[2] = {dir, "-"};
    assert_int_equal(chg_collect_files(args, 2, &v, err, sizeof err), CHG_OK);
    assert_int_equal(v.len, 4);
    assert_string_equal(v.items[0], path_in_tmp("tree/a.chg"));
    assert_string_equal(v.items[1], path_in_tmp("tree/b.chg"));
    assert_string_equal(v.items[2], path_in_tmp("tree/sub/c.chg"));
    assert_string_equal(v.items[3], "-");
    chg_strings_free(&v);
    chg_vec_init(&v);
    args[0] = empty;
    assert_int_equal(chg_collect_files(args, 1, &v, err, sizeof err), CHG_EIO);
    assert_true(strstr(err, "empty: no .chg files in this directory") != NULL);
    chg_strings_free(&v);

    /* each allocation failing in turn: out of memory, never a crash (a
     * name that could not be copied used to reach qsort as NULL) */
    failing f = {0, 0, false};
    chg_set_allocator(failing_realloc, &f);
    args[0] = dir;
    chg_vec_init(&v);
    assert_int_equal(chg_collect_files(args, 2, &v, err, sizeof err), CHG_OK);
    chg_strings_free(&v);
    unsigned long total = f.calls;
    for (unsigned long k = 1; k <= total + 1; k++) {
        f = (failing){0, k, false};
        chg_vec_init(&v);
        int rc = chg_collect_files(args, 2, &v, err, sizeof err);
        chg_strings_free(&v);
        if (rc != CHG_OK && rc != CHG_ENOMEM) {
            chg_set_allocator(NULL, NULL);
            fail_msg("allocation %lu of %lu failed: status %d (%s)", k, total, rc, err);
        }
    }
    chg_set_allocator(NULL, NULL);
}

/* ---- concurrency limits ---------------------------------------------------------- */

static const char concurrency_policy[] =
    "risk low < medium < high\n"
    "classify {\n  default low\n}\n"
    "approvals {\n  low => none\n  medium => none\n  high => none\n}\n"
    "concurrency cab  = 2 of risk >= high\n"
    "concurrency svc  = 1 of any per change.service\n"
    "concurrency team = 1 of risk >= medium per change.owner.team\n";

#define H(h, m) (1796256000 + (h) * 3600 + (m) * 60) /* 2026-12-03T(h):(m)Z */
#define CH(json) json, sizeof json - 1

/* Each limit once: a third high change while two are in flight (the
 * unclassified one counted, the low one not), a change that starts as
 * another of its service ends (no overlap) and one that starts while
 * it is in flight, a nested field; sorted by limit, then start. */
static void test_concurrency_limits(void **state)
{
    (void)state;
    chg_policy p = {0};
    open_policy(&p, "concurrency.chg", concurrency_policy);
    assert_int_equal(chg_bundle_nconcurrency(p.bundle), 3);
    chg_concurrency_info info;
    chg_bundle_concurrency(p.bundle, 2, &info);
    assert_string_equal(info.name, "team");
    assert_int_equal(info.max, 1);
    assert_int_equal(info.min_risk, 1);
    assert_string_equal(info.per, "owner.team");
    const chg_inflight c[] = {
        {"c1", H(10, 0), H(12, 0), 2, CH("{\"service\": \"payments\", \"owner\": {\"team\": \"pay\"}}")},
        {"c2", H(11, 0), H(13, 0), 2, CH("{\"service\": \"search\", \"owner\": {\"team\": \"pay\"}}")},
        {"c3", H(12, 0), H(13, 0), 0, CH("{\"service\": \"payments\"}")},
        {"c4", H(11, 30), H(12, 30), 2, CH("{\"service\": \"web\"}")},
        {"c5", H(12, 30), H(14, 0), 1, CH("{\"service\": \"payments\", \"owner\": null}")},
        {"c6", H(9, 0), H(10, 30), -1, NULL, 0},
    };
    chg_concurrency_violation *v;
    size_t n;
    char err[256];
    assert_int_equal(chg_concurrency_check(p.bundle, c, 6, &v, &n, err, sizeof err), CHG_OK);
    assert_int_equal(n, 3);
    assert_int_equal(v[0].limit, 0);
    assert_int_equal(v[0].change, 3);
    assert_int_equal(v[0].ninflight, 2);
    assert_int_equal(v[0].nlisted, 2);
    assert_int_equal(v[0].inflight[0], 0);
    assert_int_equal(v[0].inflight[1], 1);
    assert_null(v[0].value);
    assert_int_equal(v[1].limit, 1);
    assert_int_equal(v[1].change, 4);
    assert_int_equal(v[1].ninflight, 1);
    assert_int_equal(v[1].inflight[0], 2);
    assert_string_equal(v[1].value, "\"payments\"");
    assert_int_equal(v[2].limit, 2);
    assert_int_equal(v[2].change, 1);
    assert_int_equal(v[2].inflight[0], 0);
    assert_string_equal(v[2].value, "\"pay\"");
    chg_buf t;
    chg_buf_init(&t);
    chg_concurrency_violation_text(p.bundle, c, &v[0], &t);
    chg_buf_putc(&t, '\n');
    chg_concurrency_violation_text(p.bundle, c, &v[1], &t);
    chg_buf_putc(&t, 0);
    assert_string_equal(t.data,
                        "change \"c4\" starts at 2026-12-03T11:30:00Z while 2 changes are in flight (\"c1\", \"c2\"): "
                        "concurrency cab allows 2 of risk >= high\n"
                        "change \"c5\" starts at 2026-12-03T12:30:00Z while 1 change is in flight with "
                        "change.service = \"payments\" (\"c3\"): concurrency svc allows 1 of any per change.service");
    chg_buf_free(&t);
    chg_concurrency_violations_free(v, n);

    /* unclassified changes count under every limit: c6 with c1 and c2 */
    chg_inflight d[3];
    memcpy(d, c, sizeof d);
    d[2] = (chg_inflight){"c7", H(11, 0), H(11, 30), -1, NULL, 0};
    d[1].start = H(10, 30);
    assert_int_equal(chg_concurrency_check(p.bundle, d, 3, &v, &n, err, sizeof err), CHG_OK);
    assert_int_equal(n, 2); /* cab: c7 while c1, c2; team: c2 while c1 */
    assert_int_equal(v[0].change, 2);
    assert_int_equal(v[0].ninflight, 2);
    assert_int_equal(v[1].limit, 2);
    chg_concurrency_violations_free(v, n);

    /* what is not an interval, a class or a change is an error naming it */
    chg_inflight bad = c[0];
    bad.end = bad.start;
    assert_int_equal(chg_concurrency_check(p.bundle, &bad, 1, &v, &n, err, sizeof err), CHG_EINVAL);
    assert_string_equal(err, "change 0 (c1): it ends before it starts");
    bad = c[0];
    bad.risk = 3;
    assert_int_equal(chg_concurrency_check(p.bundle, &bad, 1, &v, &n, err, sizeof err), CHG_EINVAL);
    assert_string_equal(err, "change 0 (c1): risk class 3 is not one of the policy's");
    bad = (chg_inflight){"c9", H(1, 0), H(2, 0), 0, CH("[1]")};
    assert_int_equal(chg_concurrency_check(p.bundle, &bad, 1, &v, &n, err, sizeof err), CHG_EINVAL);
    assert_string_equal(err, "change 0 (c9): not a JSON object");
    assert_null(v);
    chg_policy_free(&p);
}

/* A change that leaves out (or sends null for) the field a limit groups
 * by is in the group of the schema's default, as its decision reads the
 * field: c2 and c3 (no region, null region) are in "us-east-1" with c1,
 * at any depth (a team left out or null), and a field without a
 * default keeps the group of changes without it. Before this, c2 and c3
 * went uncounted beside c1 (red-team finding r4). */
static const char default_group_policy[] =
    "schema change { id: string, region: string = \"us-east-1\", owner: { team: string = \"core\" },"
    " ticket: string? }\n"
    "risk low < high\n"
    "classify {\n  default low\n}\n"
    "approvals {\n  low => none\n  high => none\n}\n"
    "concurrency region = 1 of any per change.region\n"
    "concurrency team = 1 of any per change.owner.team\n"
    "concurrency ticket = 1 of any per change.ticket\n";

static void test_concurrency_groups_by_default(void **state)
{
    (void)state;
    chg_policy p = {0};
    open_policy(&p, "defaults.chg", default_group_policy);
    chg_buf t;
    chg_buf_init(&t);
    assert_true(chg_bundle_concurrency_default(p.bundle, 0, &t));
    assert_string_equal(t.data, "\"us-east-1\"");
    chg_buf_reset(&t);
    assert_true(chg_bundle_concurrency_default(p.bundle, 1, &t));
    assert_string_equal(t.data, "\"core\"");
    chg_buf_reset(&t);
    assert_false(chg_bundle_concurrency_default(p.bundle, 2, &t));
    assert_int_equal(t.len, 0);
    chg_buf_free(&t);
    const chg_inflight c[] = {
        {"c1", H(10, 0), H(12, 0), 0, CH("{\"id\": \"c1\", \"region\": \"us-east-1\", \"owner\": {\"team\": \"core\"}, \"ticket\": \"T-1\"}")},
        {"c2", H(10, 30), H(11, 0), 0, CH("{\"id\": \"c2\", \"owner\": {}, \"ticket\": \"T-2\"}")},
        {"c3", H(11, 0), H(11, 30), 0, CH("{\"id\": \"c3\", \"region\": null, \"owner\": {\"team\": null}, \"ticket\": \"T-3\"}")},
        {"c4", H(10, 0), H(12, 0), 0, CH("{\"id\": \"c4\", \"region\": \"eu-west-1\", \"owner\": {\"team\": \"web\"}}")},
        {"c5", H(10, 30), H(11, 0), 0, CH("{\"id\": \"c5\", \"region\": \"eu-west-2\", \"owner\": {\"team\": \"db\"}}")},
    };
    chg_concurrency_violation *v;
    size_t n;
    char err[256];
    assert_int_equal(chg_concurrency_check(p.bundle, c, 5, &v, &n, err, sizeof err), CHG_OK);
    assert_int_equal(n, 5);
    /* region: c2 and c3 while c1, in the default's group */
    assert_int_equal(v[0].limit, 0);
    assert_int_equal(v[0].change, 1);
    assert_string_equal(v[0].value, "\"us-east-1\"");
    assert_int_equal(v[1].limit, 0);
    assert_int_equal(v[1].change, 2);
    /* team: the same, one level down */
    assert_int_equal(v[2].limit, 1);
    assert_int_equal(v[2].change, 1);
    assert_string_equal(v[2].value, "\"core\"");
    assert_int_equal(v[3].limit, 1);
    assert_int_equal(v[3].change, 2);
    /* ticket, no default: c5 without one while c4 without one */
    assert_int_equal(v[4].limit, 2);
    assert_int_equal(v[4].change, 4);
    assert_string_equal(v[4].value, "null");
    chg_concurrency_violations_free(v, n);
    chg_policy_free(&p);
}

/* A limit that holds an allowed decision (chg_decision_hold, what chgd
 * does with a full limit): defer, the limit's reason with its place,
 * next_open, and the actions of defer with the limit's message as
 * `reason`; a second limit adds its reason and keeps the later instant;
 * anything but an allow is refused unchanged. */
static const char hold_policy[] =
    "policy \"h\" version \"1\"\n"
    "schema change { id: string, env: enum(\"dev\", \"prod\") }\n"
    "risk low < high\n"
    "classify {\n  high when change.env == \"prod\"\n  default low\n}\n"
    "concurrency svc = 1 of any\n"
    "concurrency prod = 1 of risk >= high\n"
    "rule no_prod: when change.env == \"prod\" deny \"not today\"\n"
    "on allow\n  do aws.sns.publish(\"arn:aws:sns:us-east-1:111122223333:go\", summary)\n"
    "on defer\n  do aws.sns.publish(\"arn:aws:sns:us-east-1:111122223333:held\", reason)\n";

static char *hold_write(chg_policy *p, chg_ctx *ctx, const char *change, bool hold, int *rc)
{
    char err[256];
    chg_event *ev = chg_event_decode(p->bundle, change, strlen(change), err, sizeof err);
    assert_non_null(ev);
    chg_eval_input in = {.change = ev, .now = H(10, 0)};
    chg_decision d;
    assert_int_equal(chg_eval(ctx, &in, &d), CHG_OK);
    static const char m1[] = "svc is full", m2[] = "prod is full";
    *rc = CHG_OK;
    if (hold) {
        *rc = chg_decision_hold(ctx, &d, 0, m1, sizeof m1 - 1, H(11, 0));
        if (*rc == CHG_OK)
            assert_int_equal(chg_decision_hold(ctx, &d, 1, m2, sizeof m2 - 1, H(12, 0)), CHG_OK);
    }
    chg_buf out;
    chg_buf_init(&out);
    chg_decision_write(p->bundle, &d, &out);
    chg_buf_putc(&out, 0);
    chg_event_free(ev);
    return out.data;
}

static void test_decision_hold(void **state)
{
    (void)state;
    chg_policy p = {0};
    open_policy(&p, "hold.chg", hold_policy);
    chg_ctx *ctx = chg_ctx_new(p.bundle);
    assert_non_null(ctx);
    int rc;
    char *json = hold_write(&p, ctx, "{\"id\": \"c1\", \"env\": \"dev\"}", true, &rc);
    assert_non_null(strstr(json, "hold.chg:8:13\"")); /* the limit's place */
    const char *want =
        "\"risk\":\"low\",\"outcome\":\"defer\",\"reasons\":["
        "{\"rule\":null,\"limit\":\"svc\",\"level\":\"mandatory\",\"message\":\"svc is full\",";
    assert_non_null(strstr(json, want));
    assert_non_null(strstr(json, "{\"rule\":null,\"limit\":\"prod\",\"level\":\"mandatory\",\"message\":\"prod is full\","));
    assert_non_null(strstr(json, "\"window\":{\"required\":null,\"open\":null,\"next_open\":\"2026-12-03T12:00:00Z\","
                                 "\"closes_at\":null}"));
    assert_non_null(strstr(json, "\"actions\":[{\"call\":\"aws.sns.publish\",\"args\":{\"topic_arn\":"
                                 "\"arn:aws:sns:us-east-1:111122223333:held\",\"message\":\"svc is full\""));
    assert_null(strstr(json, ":go\""));
    free(json);
    /* a deny stays a deny */
    json = hold_write(&p, ctx, "{\"id\": \"c2\", \"env\": \"prod\"}", true, &rc);
    assert_int_equal(rc, CHG_EINVAL);
    assert_non_null(strstr(json, "\"outcome\":\"deny\""));
    assert_null(strstr(json, "\"limit\""));
    free(json);
    /* and an allow not held is the allow, with its actions */
    json = hold_write(&p, ctx, "{\"id\": \"c3\", \"env\": \"dev\"}", false, &rc);
    assert_non_null(strstr(json, "\"outcome\":\"allow\""));
    assert_non_null(strstr(json, ":go\""));
    free(json);
    chg_ctx_free(ctx);
    chg_policy_free(&p);
}

/* Everything at once: the report lists CHG_CONCURRENCY_LISTED changes in
 * flight and counts the rest, so it stays linear in the violations. */
static void test_concurrency_all_overlapping(void **state)
{
    (void)state;
    chg_policy p = {0};
    open_policy(&p, "concurrency2.chg", concurrency_policy);
    enum { N = 2000 };
    chg_inflight *c = calloc(N, sizeof *c);
    assert_non_null(c);
    for (size_t i = 0; i < N; i++)
        c[i] = (chg_inflight){"x", H(0, 0) + (int64_t)i, H(0, 0) + N + 10, 2, NULL, 0};
    chg_concurrency_violation *v;
    size_t n;
    char err[256];
    assert_int_equal(chg_concurrency_check(p.bundle, c, N, &v, &n, err, sizeof err), CHG_OK);
    /* cab: every change from the third; svc: every from the second (all
     * in the null group); team: the same */
    assert_int_equal(n, (N - 2) + (N - 1) + (N - 1));
    assert_int_equal(v[N - 3].ninflight, N - 1);
    assert_int_equal(v[N - 3].nlisted, CHG_CONCURRENCY_LISTED);
    assert_int_equal(v[N - 3].inflight[CHG_CONCURRENCY_LISTED - 1], CHG_CONCURRENCY_LISTED - 1);
    chg_concurrency_violations_free(v, n);
    free(c);
    chg_policy_free(&p);
}

int main(void)
{
    if (!mkdtemp(tmpdir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_ends_blanks_and_numbers),
        cmocka_unit_test(test_lines_limit_and_buffer_edges),
        cmocka_unit_test(test_lines_open_errors),
        cmocka_unit_test(test_input_read_refuses_what_is_not_a_file),
        cmocka_unit_test(test_fifos_and_devices),
        cmocka_unit_test(test_lines_from_memory),
        cmocka_unit_test(test_error_line),
        cmocka_unit_test(test_decide_lines_threads_agree),
        cmocka_unit_test(test_decide_lines_out_of_memory_said_once),
        cmocka_unit_test(test_policy_from_source_and_bundle),
        cmocka_unit_test(test_policy_errors_are_diagnostics),
        cmocka_unit_test(test_check_drops_imported_roots),
        cmocka_unit_test(test_collect_files_sorted),
        cmocka_unit_test(test_concurrency_limits),
        cmocka_unit_test(test_concurrency_groups_by_default),
        cmocka_unit_test(test_concurrency_all_overlapping),
        cmocka_unit_test(test_decision_hold),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
