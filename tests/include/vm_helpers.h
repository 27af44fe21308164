/*
 * vm_helpers.h — what the VM's cmocka tests share: compile a policy text
 * to bundle bytes, load them, decide a change to its decision JSON. Needs
 * helpers.h (compile_str, diag_codes) first. Header-only.
 */
#ifndef CHG_VM_HELPERS_H
#define CHG_VM_HELPERS_H

#include "chg_vm.h"

/* The bundle bytes of a policy that must compile cleanly. */
static inline chg_buf vm_build(const char *text)
{
    chg_compiler *c = compile_str(text);
    assert_string_equal(diag_codes(c), "");
    chg_buf out;
    chg_buf_init(&out);
    assert_int_equal(chg_compiler_emit(c, &out), CHG_OK);
    chg_compiler_free(c);
    return out;
}

static inline chg_bundle *vm_load(const chg_buf *bytes)
{
    char err[512];
    chg_bundle *b = chg_bundle_load(bytes->data, bytes->len, err, sizeof err);
    if (!b)
        fail_msg("load: %s", err);
    return b;
}

static inline chg_bundle *vm_build_load(const char *text)
{
    chg_buf out = vm_build(text);
    chg_bundle *b = vm_load(&out);
    chg_buf_free(&out);
    return b;
}

/* The decision as JSON (heap), for change `json` at `now`. */
static inline char *vm_decide(chg_bundle *b, chg_ctx *ctx, const char *json, int64_t now)
{
    char err[256];
    chg_event *e = chg_event_decode(b, json, strlen(json), err, sizeof err);
    if (!e)
        fail_msg("decode: %s", err);
    chg_eval_input in = {.change = e, .now = now};
    chg_decision d;
    assert_int_equal(chg_eval(ctx, &in, &d), CHG_OK);
    chg_buf out;
    chg_buf_init(&out);
    chg_decision_write(b, &d, &out);
    chg_event_free(e);
    return chg_buf_take(&out);
}

#endif
