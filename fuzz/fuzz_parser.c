/*
 * fuzz_parser.c — libFuzzer target for the front end: the bytes are a .chg
 * file; it is scanned, parsed, resolved, type-checked and linted, and its
 * diagnostics rendered in every format. File access is off (imports and
 * calendars fail cleanly), so the fuzzer sees only the compiler.
 *
 *   CC=clang cmake -B build-fuzz -DCHG_FUZZ=ON && cmake --build build-fuzz --target fuzz_parser
 *   build-fuzz/fuzz/fuzz_parser -max_total_time=600 fuzz/corpus/parser tests/golden policies
 */
#include <stddef.h>
#include <stdint.h>

#include "chg_compiler.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    chg_compile_options o = {.max_errors = 20, .max_file_size = 1 << 20, .lints = true, .no_files = true};
    chg_compiler *c = chg_compiler_new(&o);
    if (!c)
        return 0;
    chg_compiler_add_source(c, "fuzz.chg", (const char *)data, size);
    chg_compiler_check(c);
    static const chg_report_format formats[] = {CHG_REPORT_TEXT, CHG_REPORT_JSON, CHG_REPORT_SARIF,
                                                CHG_REPORT_GITHUB};
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        chg_report r = {formats[i], i == 0, false, true};
        chg_buf out;
        chg_buf_init(&out);
        chg_report_render(&r, &c, 1, &out);
        chg_buf_free(&out);
    }
    chg_compiler_free(c);
    return 0;
}
