/*
 * fuzz_intake.c — libFuzzer target for the intakes' fast path,
 * differential: the raw event through chg_event_intake_change (the
 * one-pass decoder, vm/fastdecode.c's chg_vm_fastdec_event, the intakes'
 * `when`s on its slots, the change built and decoded fast) and through
 * the jansson path it stands in for (chg_vm_intake_jansson), under every
 * policy of the library that has intakes and one that has none. They
 * must give the same decision and explanation, or the same error, and
 * the same intake, each way twice on one context, and through the share
 * of a twin (the same bundle loaded again: chgc replay's second policy's
 * way, fuzz/intake_diff.h); any difference aborts. The contexts live from input to input, so what
 * one leaves behind meets the next.
 *
 *   build-fuzz/fuzz/fuzz_intake -max_total_time=600 -dict=fuzz/json.dict -timeout=10 \
 *       fuzz/corpus-intake-work fuzz/corpus/intake policies/events tests/fixtures/events
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chg_compiler.h"
#include "chg_vm.h"
#include "intake_diff.h"

#ifndef CHG_SOURCE_DIR
#define CHG_SOURCE_DIR "."
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const policy_files[] = {
    "policies/aws-delivery.chg", "policies/production.chg", "tests/lang/intake.chg", "tests/lang/schema.chg",
    "tests/daemon/policy.chg",   "tests/aws/sqs_policy.chg", "policies/itil-changes.chg",
};
#define NPOLICIES (sizeof policy_files / sizeof *policy_files)

static chg_bundle *bundles[NPOLICIES], *twins[NPOLICIES]; /* a twin: the same bytes loaded again */
static chg_ctx *ctxs[NPOLICIES], *tctxs[NPOLICIES];
static chg_facts *facts;

static void setup(void)
{
    for (size_t i = 0; i < NPOLICIES; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", CHG_SOURCE_DIR, policy_files[i]);
        chg_compiler *c = chg_compiler_new(NULL);
        chg_buf bytes;
        chg_buf_init(&bytes);
        if (!c || chg_compiler_add_file(c, path) != CHG_OK || chg_compiler_check(c) != CHG_OK ||
            chg_compiler_emit(c, &bytes) != CHG_OK) {
            fprintf(stderr, "fuzz_intake: cannot compile %s\n", path);
            abort();
        }
        char err[256];
        bundles[i] = chg_bundle_load(bytes.data, bytes.len, err, sizeof err);
        twins[i] = chg_bundle_load(bytes.data, bytes.len, err, sizeof err);
        chg_buf_free(&bytes);
        chg_compiler_free(c);
        ctxs[i] = bundles[i] ? chg_ctx_new(bundles[i]) : NULL;
        tctxs[i] = twins[i] ? chg_ctx_new(twins[i]) : NULL;
        if (!ctxs[i] || !tctxs[i] || !chg_bundle_decode_same(bundles[i], twins[i]))
            abort();
    }
    /* the flags and query answers of policies/examples/facts.json, so the
     * policies' queries are answered */
    char path[1024];
    snprintf(path, sizeof path, "%s/policies/examples/facts.json", CHG_SOURCE_DIR);
    FILE *f = fopen(path, "rb");
    char text[65536];
    size_t n = f ? fread(text, 1, sizeof text, f) : 0;
    if (f)
        fclose(f);
    char err[256];
    facts = chg_facts_parse(text, n, err, sizeof err);
    if (!facts) {
        fprintf(stderr, "fuzz_intake: %s: %s\n", path, err);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!bundles[0])
        setup();
    chg_eval_input in = {.now = 1796268600, .facts = facts, .horizon = 30 * 86400};
    for (size_t i = 0; i < NPOLICIES; i++) {
        char *diff = intake_diff_check(ctxs[i], bundles[i], (const char *)data, size, &in, tctxs[i], twins[i]);
        if (diff) {
            fprintf(stderr, "fuzz_intake: under %s, the fast path and the jansson path differ:\n%s\n",
                    policy_files[i], diff);
            abort();
        }
    }
    return 0;
}
