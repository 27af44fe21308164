/*
 * fuzz_lines.c — libFuzzer target for the driver's JSON-lines reader
 * (driver/input.c, over memory as chgd reads a request body), differential: the lines it hands out, their numbers
 * and the over-long ones it skips must be exactly what a plain split of
 * the same bytes on '\n' gives (trailing '\r's dropped, blank lines
 * skipped). The limit is small (the first byte picks 1..64), so the
 * over-long path is taken often; then each line is decided against a
 * small policy, twice on one context, and the two decisions must match.
 */
#include "chg_driver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static chg_policy policy;
static bool ready;

static void load(void)
{
    static const char text[] = "policy \"f\"\n"
                               "schema change { id: string, n: int, env: enum(\"dev\", \"prod\")? }\n"
                               "rule big: when change.n > 3 deny \"big {change.n}\"\n"
                               "rule prod advisory: when change.env == \"prod\" warn \"prod\"\n";
    char path[] = "/tmp/fuzz-lines-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        abort();
    char err[512];
    char *paths[1] = {path};
    if (chg_policy_open(&policy, paths, 1, NULL, err, sizeof err) != CHG_OK)
        abort();
    remove(path);
    ready = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready)
        load();
    if (size < 1)
        return 0;
    size_t max = 1 + data[0] % 64;
    data++, size--;
    chg_lines *r = chg_lines_memory((const char *)data, size, "fuzz", max);
    if (!r)
        abort();
    chg_ctx *ctx = chg_ctx_new(policy.bundle);
    chg_eval_input base = {.now = 1796000000};
    chg_buf a, b, errs;
    chg_buf_init(&a);
    chg_buf_init(&b);
    chg_buf_init(&errs);

    size_t at = 0;
    unsigned long want_no = 0;
    for (;;) {
        /* the reference: the next line of the plain split that is not blank */
        const uint8_t *s = NULL;
        size_t n = 0;
        bool found = false, over = false;
        while (at < size) {
            const uint8_t *nl = memchr(data + at, '\n', size - at);
            size_t end = nl ? (size_t)(nl - data) : size;
            s = data + at;
            n = end - at;
            at = end + 1;
            want_no++;
            if (n > max) {
                found = over = true; /* over the limit, before any trimming */
                break;
            }
            while (n && s[n - 1] == '\r')
                n--;
            size_t i = 0;
            while (i < n && (s[i] == ' ' || s[i] == '\t'))
                i++;
            if (i < n) {
                found = true;
                break;
            }
        }
        const char *line;
        size_t len;
        unsigned long no;
        char err[256];
        int rc = chg_lines_next(r, &line, &len, &no, err, sizeof err);
        if (!found) {
            if (rc != 0)
                abort();
            break;
        }
        if (no != want_no)
            abort();
        if (over ? rc != CHG_ERANGE : (rc != 1 || len != n || memcmp(line, s, n) != 0))
            abort();
        if (rc == 1 && ctx) { /* state must not survive a decision */
            chg_buf_reset(&a);
            chg_buf_reset(&b);
            chg_decide_json(ctx, policy.bundle, line, len, &base, "x", false, &a, &errs);
            chg_decide_json(ctx, policy.bundle, line, len, &base, "x", false, &b, &errs);
            if (a.len != b.len || (a.len && memcmp(a.data, b.data, a.len) != 0))
                abort();
        }
    }
    chg_buf_free(&a);
    chg_buf_free(&b);
    chg_buf_free(&errs);
    chg_ctx_free(ctx);
    chg_lines_close(r);
    return 0;
}
