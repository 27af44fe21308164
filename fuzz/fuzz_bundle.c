/*
 * fuzz_bundle.c — libFuzzer target for the bundle loader and verifier. The
 * input is a bundle; its length and content hash are recomputed first, so
 * the fuzzer gets past the hash and exercises every check behind it (an
 * attacker can recompute a hash too). A bundle that loads is then run on
 * two different changes, one after the other on one context
 * (bundle_run.h): whatever the verifier accepts must evaluate without a
 * crash, a hang, a leak or a sanitizer report. fuzz_bundle_struct mutates
 * the same inputs field by field.
 *
 *   build-fuzz/fuzz/fuzz_bundle -max_total_time=600 fuzz/corpus-bundle-work fuzz/corpus/bundle
 */
#include "bundle_run.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    fuzz_bundle_seal(copy, size);
    fuzz_bundle_run(copy, size);
    free(copy);
    return 0;
}
