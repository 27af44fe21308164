/*
 * fuzz_bundle.c — libFuzzer target for the bundle loader and verifier. The
 * input is a bundle; its content hash is recomputed first, so the fuzzer
 * gets past the hash and exercises every check behind it (an attacker can
 * recompute a hash too). A bundle that loads is then run on a fixed change:
 * whatever the verifier accepts must evaluate without a crash, a hang or a
 * sanitizer report.
 *
 *   build-fuzz/fuzz/fuzz_bundle -max_total_time=600 fuzz/corpus-bundle-work fuzz/corpus/bundle
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "bundle_format.h"
#include "chg_vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    if (size > CHG_BUNDLE_HEADER) {
        unsigned int hl;
        EVP_Digest(copy + CHG_BUNDLE_HEADER, size - CHG_BUNDLE_HEADER, copy + 32, &hl, EVP_sha256(), NULL);
        if (size >= 16)
            chg_wr32(copy + 12, (uint32_t)size); /* and a consistent length */
    }
    char err[512];
    chg_bundle *b = chg_bundle_load(copy, size, err, sizeof err);
    free(copy);
    if (!b)
        return 0;
    static const char change[] =
        "{\"id\":\"f\",\"env\":\"prod\",\"service\":\"payments\",\"type\":\"schema\",\"resources\":3,"
        "\"scope\":\"region\",\"requested_at\":\"2026-12-03T03:30:00Z\",\"requester\":{\"name\":\"ann\","
        "\"groups\":[\"dev\"]},\"approvals\":[{\"by\":\"bob\",\"group\":\"cab\",\"at\":\"2026-12-02T10:00:00Z\"}],"
        "\"tags\":[\"a\"],\"n\":1,\"when\":\"2026-12-03T03:30:00Z\",\"items\":[]}";
    chg_event *e = chg_event_decode(b, change, sizeof change - 1, err, sizeof err);
    chg_ctx *ctx = chg_ctx_new(b);
    if (e && ctx) {
        static const char facts_json[] =
            "{\"flags\":{\"incident-freeze\":false},\"queries\":[{\"call\":\"aws.cloudwatch.alarm_state\","
            "\"args\":[\"payments-5xx\"],\"result\":\"OK\"}]}";
        chg_facts *facts = chg_facts_parse(facts_json, sizeof facts_json - 1, err, sizeof err);
        chg_eval_input in = {.change = e, .now = 1796268600, .facts = facts, .horizon = 30 * 86400};
        chg_decision d;
        chg_eval(ctx, &in, &d);
        chg_buf out;
        chg_buf_init(&out);
        chg_decision_write(b, &d, &out);
        chg_bundle_disasm(b, &out);
        chg_buf_free(&out);
        chg_facts_free(facts);
    }
    chg_ctx_free(ctx);
    chg_event_free(e);
    chg_bundle_free(b);
    return 0;
}
