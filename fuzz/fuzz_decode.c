/*
 * fuzz_decode.c — libFuzzer target for the change decoder, differential:
 * the fast path (vm/fastdecode.c over vm/jsonwalk.cc, simdjson On-Demand)
 * against the jansson path it stands in for. The first byte picks a
 * policy (with a schema of records, lists, enums, times and defaults, or
 * without one); the rest is the change. Whenever the fast path takes a
 * change, jansson must take it too and decode the same slots, records and
 * strings, with no schema issue; and deciding it on one context twice,
 * between a decision on jansson's event, must give the same decision
 * every time. The fast path may decline anything (jansson then decides or
 * says what is wrong): that it declines what jansson refuses is what the
 * comparison checks, never the reverse.
 *
 *   build-fuzz/fuzz/fuzz_decode -max_total_time=600 -dict=fuzz/json.dict \
 *       fuzz/corpus-decode-work fuzz/corpus/decode
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chg_compiler.h"
#include "chg_vm.h"
#include "jsonwalk.h"
#include "vm_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const policies[] = {
    "policy \"typed\"\n"
    "schema change {\n"
    "  id: string\n"
    "  env: enum(\"dev\", \"prod\")\n"
    "  n: int\n"
    "  ratio: float?\n"
    "  ttl: duration = 1m\n"
    "  emergency: bool = false\n"
    "  at: time\n"
    "  who: { name: string, groups: [string], team: { lead: string? }? }\n"
    "  approvals: [{ by: string, group: string, at: time }]\n"
    "  tags: [string]?\n"
    "  note: string?\n"
    "}\n"
    "at change.at\n"
    "risk low < high\n"
    "classify { high when change.env == \"prod\" and change.n > 10 default low }\n"
    "approvals {\n"
    "  low => none\n"
    "  high => 1 of group \"cab\"\n"
    "  emergency => 1 of any\n"
    "}\n"
    "rule r advisory: when change.note != null or len(change.who.groups) > 2\n"
    "  warn \"{change.id} {change.who.name} {change.ttl}\"\n"
    "rule q advisory: when change.ratio != null and change.ratio > 0.1 warn \"ratio\"\n"
    "rule t advisory: when change.tags != null and any t in change.tags: t == \"x\"\n"
    "  warn \"tagged\"\n",

    "policy \"untyped\"\n"
    "risk low < high\n"
    "classify { high when change.a.b == 1 default low }\n"
    "approvals {\n"
    "  low => none\n"
    "  high => 1 of group \"cab\"\n"
    "}\n"
    "rule r advisory: when any x in change.items: x.k.v == \"y\" or x.n > 2\n"
    "  warn \"{change.s} {change.f} {change.flag} {len(change.list)}\"\n"
    "rule s advisory: when any y in change.list: y == 3\n"
    "  warn \"three\"\n",
};
#define NPOLICIES (sizeof policies / sizeof *policies)

static chg_bundle *bundles[NPOLICIES];
static chg_fastdec *decoders[NPOLICIES];
static chg_ctx *ctxs[NPOLICIES];

static void setup(void)
{
    for (size_t i = 0; i < NPOLICIES; i++) {
        chg_compiler *c = chg_compiler_new(NULL);
        chg_buf bytes;
        chg_buf_init(&bytes);
        if (!c || chg_compiler_add_source(c, "fuzz.chg", policies[i], strlen(policies[i])) != CHG_OK ||
            chg_compiler_check(c) != CHG_OK || chg_compiler_emit(c, &bytes) != CHG_OK) {
            fprintf(stderr, "fuzz_decode: policy %zu does not compile\n", i);
            abort();
        }
        char err[256];
        bundles[i] = chg_bundle_load(bytes.data, bytes.len, err, sizeof err);
        chg_buf_free(&bytes);
        chg_compiler_free(c);
        decoders[i] = bundles[i] ? chg_vm_fastdec_new(bundles[i]) : NULL;
        ctxs[i] = bundles[i] ? chg_ctx_new(bundles[i]) : NULL;
        if (!decoders[i] || !ctxs[i])
            abort();
    }
}

static char *decide(chg_bundle *b, chg_ctx *ctx, const chg_event *e)
{
    chg_eval_input in = {.change = e, .now = 1796000000};
    chg_decision d;
    if (chg_eval(ctx, &in, &d) != CHG_OK)
        abort();
    chg_buf out;
    chg_buf_init(&out);
    chg_decision_write(b, &d, &out);
    return chg_buf_take(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!bundles[0])
        setup();
    if (size < 1)
        return 0;
    size_t k = data[0] % NPOLICIES;
    const char *text = (const char *)data + 1;
    size--;
    chg_bundle *b = bundles[k];
    chg_event *fast = NULL;
    int rc = chg_vm_fastdec_decode(decoders[k], text, size, false, &fast);
    char err[512];
    chg_event *slow = chg_vm_event_decode_json(b, text, size, err, sizeof err);
    if (rc == CHG_OK) {
        if (!slow) {
            fprintf(stderr, "fuzz_decode: the fast path took what jansson refuses: %s\n", err);
            abort();
        }
        if (!chg_vm_event_same(b, fast, slow)) {
            fprintf(stderr, "fuzz_decode: the two decoders disagree\n");
            abort();
        }
        char *d1 = decide(b, ctxs[k], fast);
        char *d2 = decide(b, ctxs[k], slow);
        char *d3 = decide(b, ctxs[k], fast);
        if (strcmp(d1, d2) != 0 || strcmp(d1, d3) != 0) {
            fprintf(stderr, "fuzz_decode: decisions differ:\n%s\n%s\n%s\n", d1, d2, d3);
            abort();
        }
        chg_free(d1);
        chg_free(d2);
        chg_free(d3);
    } else if (rc != CHG_JW_DECLINED) {
        fprintf(stderr, "fuzz_decode: the fast path failed (%d)\n", rc);
        abort();
    } else if (slow) {
        /* declined, and jansson decides: the context still decides it */
        chg_free(decide(b, ctxs[k], slow));
    }
    /* the public entry (fast, else jansson) says what jansson says */
    char err2[512];
    chg_event *any = chg_vm_event_decode(decoders[k], b, text, size, err2, sizeof err2);
    if (!any != !slow || (!any && strcmp(err, err2) != 0)) {
        fprintf(stderr, "fuzz_decode: chg_vm_event_decode and jansson differ: %s / %s\n", err, err2);
        abort();
    }
    chg_event_free(any);
    chg_event_free(fast);
    chg_event_free(slow);
    return 0;
}
