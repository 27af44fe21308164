/*
 * alloc_fail.h — an allocator for chg_set_allocator that fails on purpose:
 * the fault-injection tests run a piece of work failing its first, second,
 * … allocation in turn (and, with and_after, every one after it as well)
 * and check that each run ends in CHG_ENOMEM or a correct result, never a
 * crash, a leak or a wrong "success". Header-only.
 */
#ifndef CHG_ALLOC_FAIL_H
#define CHG_ALLOC_FAIL_H

#include <stdbool.h>
#include <stdlib.h>

/* Fails the allocation numbered `fail_at` (1-based; 0: none) and counts
 * them all. Frees always succeed. */
typedef struct failing {
    unsigned long calls, fail_at;
    bool and_after;       /* every allocation from fail_at on fails */
} failing;

static inline void *failing_realloc(void *ud, void *ptr, size_t size)
{
    failing *f = ud;
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    ++f->calls;
    if (f->calls == f->fail_at || (f->and_after && f->fail_at && f->calls > f->fail_at))
        return NULL;
    return realloc(ptr, size);
}

#endif
