/*
 * bundle_run.h — what the bundle fuzz targets do with a bundle: make its
 * length and hash consistent (an attacker can recompute a hash too), load
 * it, and if it loads, decide two different changes on one context, write
 * both decisions and disassemble it. Two changes on one context, because
 * state that survives a decision (registers are never cleared) is exactly
 * what a crafted bundle would use to read one change's data while deciding
 * another: whatever the verifier accepts must run both without a crash, a
 * hang, a leak or a sanitizer report. Shared by fuzz_bundle.c and
 * fuzz_bundle_struct.c; static, so each target has its own copy.
 */
#ifndef CHG_FUZZ_BUNDLE_RUN_H
#define CHG_FUZZ_BUNDLE_RUN_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "bundle_format.h"
#include "chg_vm.h"

/* Length and hash from the bytes as they are (the hash covers [64, len)). */
static void fuzz_bundle_seal(uint8_t *data, size_t size)
{
    if (size <= CHG_BUNDLE_HEADER)
        return;
    chg_wr32(data + 12, (uint32_t)size);
    unsigned int hl;
    EVP_Digest(data + CHG_BUNDLE_HEADER, size - CHG_BUNDLE_HEADER, data + 32, &hl, EVP_sha256(), NULL);
}

/* Two changes that differ in every field the policies here read: the
 * second has other strings, empty and longer lists, a rejecting approval
 * and an emergency, so a register left over from the first would show. */
static const char fuzz_change_a[] =
    "{\"id\":\"f\",\"env\":\"prod\",\"service\":\"payments\",\"type\":\"schema\",\"resources\":3,"
    "\"scope\":\"region\",\"requested_at\":\"2026-12-03T03:30:00Z\",\"requester\":{\"name\":\"ann\","
    "\"groups\":[\"dev\"]},\"approvals\":[{\"by\":\"bob\",\"group\":\"cab\",\"at\":\"2026-12-02T10:00:00Z\"}],"
    "\"tags\":[\"a\"],\"n\":1,\"when\":\"2026-12-03T03:30:00Z\",\"items\":[]}";
static const char fuzz_change_b[] =
    "{\"id\":\"second-change\",\"env\":\"dev\",\"service\":\"search\",\"type\":\"config\",\"resources\":75,"
    "\"scope\":\"global\",\"emergency\":true,\"requested_at\":\"2026-07-01T12:00:00Z\",\"requester\":{\"name\":"
    "\"carol\",\"groups\":[]},\"approvals\":[{\"by\":\"dave\",\"group\":\"ic\",\"at\":\"2026-07-01T11:00:00Z\","
    "\"decision\":\"reject\"},{\"by\":\"erin\",\"group\":\"cab\",\"at\":\"2026-06-30T11:00:00Z\"}],"
    "\"tags\":[],\"n\":40,\"when\":\"2026-07-01T12:00:00Z\",\"items\":[{\"name\":\"x\",\"size\":9},"
    "{\"name\":\"y\",\"size\":1}]}";

static void fuzz_bundle_decide(chg_bundle *b, chg_ctx *ctx, const chg_facts *facts, const char *change,
                               size_t len, int64_t now)
{
    char err[512];
    chg_event *e = chg_event_decode(b, change, len, err, sizeof err);
    if (!e)
        return;
    chg_eval_input in = {.change = e, .now = now, .facts = facts, .horizon = 30 * 86400};
    chg_decision d;
    chg_eval(ctx, &in, &d);
    chg_buf out;
    chg_buf_init(&out);
    chg_decision_write(b, &d, &out);
    chg_buf_free(&out);
    chg_event_free(e);
}

/* Load data (already sealed, or not: the loader judges), run it twice. */
static void fuzz_bundle_run(const uint8_t *data, size_t size)
{
    char err[512];
    chg_bundle *b = chg_bundle_load(data, size, err, sizeof err);
    if (!b)
        return;
    chg_ctx *ctx = chg_ctx_new(b);
    static const char facts_json[] =
        "{\"flags\":{\"incident-freeze\":false},\"queries\":[{\"call\":\"aws.cloudwatch.alarm_state\","
        "\"args\":[\"payments-5xx\"],\"result\":\"OK\"}]}";
    chg_facts *facts = chg_facts_parse(facts_json, sizeof facts_json - 1, err, sizeof err);
    if (ctx) {
        fuzz_bundle_decide(b, ctx, facts, fuzz_change_a, sizeof fuzz_change_a - 1, 1796268600);
        fuzz_bundle_decide(b, ctx, NULL, fuzz_change_b, sizeof fuzz_change_b - 1, 1782907200);
        chg_buf out;
        chg_buf_init(&out);
        chg_bundle_disasm(b, &out);
        chg_buf_free(&out);
    }
    chg_facts_free(facts);
    chg_ctx_free(ctx);
    chg_bundle_free(b);
}

#endif
