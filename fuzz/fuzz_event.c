/*
 * fuzz_event.c — libFuzzer target for what chgd receives from the outside:
 * raw event bytes through the intakes of policies/aws-delivery.chg (JSON
 * parsing, the string-`detail` unwrap, event slots, every intake's `when`
 * and fields, the change decoder), then a decision and its JSON. Any input
 * must give a decision or a clear error, never a crash.
 *
 *   build-fuzz/fuzz/fuzz_event -max_total_time=600 fuzz/corpus-event-work policies/events
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chg_compiler.h"
#include "chg_vm.h"

#ifndef CHG_SOURCE_DIR
#define CHG_SOURCE_DIR "."
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static chg_bundle *bundle;
static chg_ctx *ctx;
static chg_facts *facts;

static void setup(void)
{
    chg_compiler *c = chg_compiler_new(NULL);
    chg_buf bytes;
    chg_buf_init(&bytes);
    if (!c || chg_compiler_add_file(c, CHG_SOURCE_DIR "/policies/aws-delivery.chg") != CHG_OK ||
        chg_compiler_check(c) != CHG_OK || chg_compiler_emit(c, &bytes) != CHG_OK) {
        fprintf(stderr, "fuzz_event: cannot compile policies/aws-delivery.chg\n");
        abort();
    }
    char err[256];
    bundle = chg_bundle_load(bytes.data, bytes.len, err, sizeof err);
    chg_buf_free(&bytes);
    chg_compiler_free(c);
    ctx = bundle ? chg_ctx_new(bundle) : NULL;
    static const char f[] = "{\"flags\":{},\"queries\":[]}";
    facts = chg_facts_parse(f, sizeof f - 1, err, sizeof err);
    if (!ctx || !facts)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!bundle)
        setup();
    char err[1024];
    chg_eval_input in = {.now = 1796268600, .facts = facts, .horizon = 30 * 86400};
    chg_event *e = chg_event_intake(ctx, (const char *)data, size, &in, NULL, err, sizeof err);
    if (!e)
        return 0;
    in.change = e;
    chg_decision d;
    chg_buf out;
    chg_buf_init(&out);
    chg_explain(ctx, &in, &d, &out);
    chg_decision_write(bundle, &d, &out);
    chg_buf_free(&out);
    chg_event_free(e);
    return 0;
}
