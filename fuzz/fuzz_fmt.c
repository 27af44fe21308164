/*
 * fuzz_fmt.c — libFuzzer target for `chgc fmt`: for any bytes that parse
 * without a syntax error, formatting must succeed (the formatter's own
 * check that the output is the same tokens must never fail: that would be
 * CHG_EINTERNAL, and this target aborts on it), and formatting the output
 * again must change nothing.
 *
 *   CC=clang cmake -B build-fuzz -DCHG_FUZZ=ON && cmake --build build-fuzz --target fuzz_fmt
 *   build-fuzz/fuzz/fuzz_fmt -max_total_time=600 -dict=fuzz/chg.dict tests/lang policies tests/golden
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chg_compiler.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Format text; CHG_OK with out, or the status. */
static int format(const char *text, size_t len, chg_buf *out)
{
    chg_compile_options o = {.max_errors = 20, .max_file_size = 1 << 20, .no_files = true};
    chg_compiler *c = chg_compiler_new(&o);
    if (!c)
        return CHG_ENOMEM;
    int rc = chg_compiler_add_source(c, "fuzz.chg", text, len);
    const chg_source *src;
    if (rc == CHG_OK)
        rc = chg_compiler_format(c, out, &src);
    chg_compiler_free(c);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    chg_buf a, b;
    chg_buf_init(&a);
    chg_buf_init(&b);
    int rc = format((const char *)data, size, &a);
    if (rc == CHG_EINTERNAL)
        abort(); /* the output was not the input's tokens */
    if (rc == CHG_OK) {
        rc = format(a.data ? a.data : "", a.len, &b);
        /* formatted text parses (it is the same tokens) and is a fixed point */
        if (rc == CHG_EINTERNAL || rc == CHG_EINVAL || (rc == CHG_OK && (a.len != b.len || memcmp(a.data, b.data, a.len))))
            abort();
    }
    chg_buf_free(&a);
    chg_buf_free(&b);
    return 0;
}
