/*
 * test_rng.h — the randomised tests' numbers: xorshift64 from a fixed seed,
 * so a failure reproduces. Define TEST_RNG_SEED before including it.
 */
#ifndef CHG_TEST_RNG_H
#define CHG_TEST_RNG_H

#include <stdint.h>

static uint64_t rng = TEST_RNG_SEED;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int64_t rnd_range(int64_t lo, int64_t hi) /* [lo, hi) */
{
    return lo + (int64_t)(rnd() % (uint64_t)(hi - lo));
}

#endif
