/*
 * alloc_count.h — counts every heap allocation in the process (ours, and
 * jansson's, pcre2's, libc's), for the test and benchmark that show a
 * decision allocates nothing. Include in exactly one file of an executable.
 *
 * Under AddressSanitizer the sanitizer owns malloc, so we ask it to call us
 * back (__sanitizer_install_malloc_and_free_hooks); otherwise this file
 * defines malloc & co. on top of glibc's __libc_ functions, which wins over
 * the C library for every shared library of the process.
 */
#ifndef CHG_ALLOC_COUNT_H
#define CHG_ALLOC_COUNT_H

#include <stddef.h>

static volatile unsigned long alloc_count_calls;

#if defined(__SANITIZE_ADDRESS__) || defined(__has_feature)
#if defined(__SANITIZE_ADDRESS__)
#define CHG_ALLOC_COUNT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CHG_ALLOC_COUNT_ASAN 1
#endif
#endif
#endif

#ifdef CHG_ALLOC_COUNT_ASAN
/* from <sanitizer/allocator_interface.h>, which gcc does not install */
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));

static void alloc_count_hook(const volatile void *p, size_t n)
{
    (void)p;
    (void)n;
    alloc_count_calls++;
}

static void alloc_count_free_hook(const volatile void *p) { (void)p; }

static void alloc_count_init(void)
{
    __sanitizer_install_malloc_and_free_hooks(alloc_count_hook, alloc_count_free_hook);
}
#else
void *__libc_malloc(size_t);
void *__libc_calloc(size_t, size_t);
void *__libc_realloc(void *, size_t);
void __libc_free(void *);
void *__libc_memalign(size_t, size_t);

void *malloc(size_t n);
void *calloc(size_t n, size_t m);
void *realloc(void *p, size_t n);
void free(void *p);
int posix_memalign(void **p, size_t a, size_t n);
void *aligned_alloc(size_t a, size_t n);

void *malloc(size_t n)
{
    alloc_count_calls++;
    return __libc_malloc(n);
}
void *calloc(size_t n, size_t m)
{
    alloc_count_calls++;
    return __libc_calloc(n, m);
}
void *realloc(void *p, size_t n)
{
    alloc_count_calls++;
    return __libc_realloc(p, n);
}
void free(void *p) { __libc_free(p); }
int posix_memalign(void **p, size_t a, size_t n)
{
    alloc_count_calls++;
    *p = __libc_memalign(a, n);
    return *p ? 0 : 12;
}
void *aligned_alloc(size_t a, size_t n)
{
    alloc_count_calls++;
    return __libc_memalign(a, n);
}

static void alloc_count_init(void) {}
#endif

#endif
