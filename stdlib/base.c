/*
 * base.c — allocation, arena, buffers, vectors, file reading, UTF-8 and
 * edit distance: the shared plumbing declared in chg_base.h.
 */
#include "chg_base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- allocation ------------------------------------------------------- */

/* The one piece of process-wide state of the library: tests swap the
 * allocator to count or fail allocations, so every allocation of every
 * module funnels through chg_realloc (chg_base.h). */
static chg_realloc_fn alloc_fn; /* NULL: libc */
static void *alloc_ud;

/* Not thread-safe, by design: set it once, before any other call (a test's
 * main, a fuzzer's init). Swapping it while memory from the old allocator
 * is live would hand those blocks to the wrong free. */
void chg_set_allocator(chg_realloc_fn fn, void *ud)
{
    alloc_fn = fn;
    alloc_ud = ud;
}

/* realloc with one definition of size 0: always a free that returns NULL
 * (C leaves realloc(p, 0) to the implementation, and C23 makes it
 * undefined), so a custom allocator sees the same three cases as here. */
void *chg_realloc(void *ptr, size_t size)
{
    if (alloc_fn)
        return alloc_fn(alloc_ud, ptr, size);
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, size);
}

/* Size 0 would be a free for chg_realloc: ask for one byte, so malloc(0)
 * is a real, freeable pointer and NULL always means failure. */
void *chg_malloc(size_t size) { return chg_realloc(NULL, size ? size : 1); }

/* The overflow test is the reason this is not chg_malloc(n * size): a
 * count from input (records in a bundle section) times a record size
 * must fail, not wrap to a small block that is then overrun. */
void *chg_calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    void *p = chg_malloc(n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

void chg_free(void *ptr)
{
    if (ptr)
        chg_realloc(ptr, 0);
}

char *chg_strndup(const char *s, size_t n)
{
    char *p = chg_malloc(n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *chg_strdup(const char *s) { return chg_strndup(s, strlen(s)); }

/* Short and lower-case, to follow "path: " in a message; every status of
 * chg_base.h has one, and an unknown number is not a crash. */
const char *chg_strerror(int status)
{
    switch (status) {
    case CHG_OK: return "success";
    case CHG_ENOMEM: return "out of memory";
    case CHG_EIO: return "input/output error";
    case CHG_EINVAL: return "malformed input";
    case CHG_ERANGE: return "too large";
    case CHG_ENOTFOUND: return "not found";
    case CHG_ENOTREG: return "not a regular file";
    case CHG_EINTERNAL: return "internal error";
    }
    return "unknown error";
}

/* For faults of chg itself only, never for input: abort() so a core dump
 * or a sanitizer's stack shows where the invariant broke. */
void chg_panic(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("chg: internal error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

/* ---- arena ------------------------------------------------------------ */

/* Small allocations (up to a quarter chunk) are carved from chunks on one
 * list, a->first .. a->last, in the order they were made; a->head is the
 * one being filled, and every chunk after it is empty. Big ones get a
 * block each, on a->big. chg_arena_reset empties the chunks up to head
 * (those after it are empty already) and keeps the big blocks of the
 * evaluation that just ended as spares for the next, so a warm arena (the
 * VM's scratch) that sees the same sizes again allocates nothing.
 *
 * Every allocation costs amortised constant time: a chunk that is too
 * small is passed once per reset and head never moves back, a big request
 * looks at one spare only, and a reset touches only what the evaluation
 * before it used. Memory stays bounded by what one evaluation used: a
 * spare more than four times what a request asks is given back, not kept
 * for it, and spares no evaluation took are freed at the next reset. */
struct chg_arena_chunk {
    chg_arena_chunk *next;
    size_t size;
    size_t used;
    _Alignas(16) unsigned char data[];
};

#define ARENA_CHUNK 65536

/* No memory until the first allocation: an arena that is never used (a
 * change with no strings to copy) costs nothing. */
void chg_arena_init(chg_arena *a)
{
    memset(a, 0, sizeof *a);
    a->next = 1024;
}

static void free_chunks(chg_arena_chunk *c)
{
    while (c) {
        chg_arena_chunk *n = c->next;
        chg_free(c);
        c = n;
    }
}

/* Frees every chunk and leaves a usable empty arena (with the same cap),
 * so an owner may free and reuse the same struct. */
void chg_arena_free(chg_arena *a)
{
    free_chunks(a->first);
    free_chunks(a->big);
    free_chunks(a->spare);
    size_t cap = a->cap;
    chg_arena_init(a);
    a->cap = cap;
}

/* Keep the chunks and mark them empty: the VM resets its scratch arena at
 * the start of each decision, and keeping the chunks is what makes a warm
 * decision allocation-free. failed and over_cap are cleared with the
 * contents they described. */
void chg_arena_reset(chg_arena *a)
{
    for (chg_arena_chunk *c = a->first; c; c = c->next) {
        c->used = 0;
        if (c == a->head)
            break; /* the chunks after head were not used */
    }
    a->head = a->first;
    free_chunks(a->spare); /* not needed by the evaluation that just ended */
    a->spare = a->big;
    a->big = NULL;
    a->used_total = 0;
    a->failed = false;
    a->over_cap = false;
}

static chg_arena_chunk *chunk_new(chg_arena *a, size_t size)
{
    chg_arena_chunk *n = NULL;
    if (size <= SIZE_MAX - sizeof(chg_arena_chunk))
        n = chg_malloc(sizeof(chg_arena_chunk) + size);
    if (!n) {
        a->failed = true;
        return NULL;
    }
    n->size = size;
    n->used = 0;
    n->next = NULL;
    return n;
}

/* A big request: the next spare when it fits without wasting more than
 * three times the request, else a block of exactly its size. */
static void *arena_big(chg_arena *a, size_t size)
{
    chg_arena_chunk *c = a->spare;
    if (c) {
        a->spare = c->next;
        if (c->size < size || c->size / 4 > size) {
            chg_free(c);
            c = NULL;
        }
    }
    if (!c && !(c = chunk_new(a, size)))
        return NULL;
    c->used = size;
    c->next = a->big;
    a->big = c;
    return c->data;
}

/* The chunk to take a small request from when head has no room: the next
 * chunk that has (after a reset; head moves past the ones too small, which
 * only the first few, under 16 KiB, can be), else a new one at the end. */
static chg_arena_chunk *arena_grow(chg_arena *a, size_t size)
{
    for (chg_arena_chunk *n = a->head ? a->head->next : a->first; n; n = n->next) {
        a->head = n;
        if (n->size - n->used >= size)
            return n;
    }
    /* chunks start at 1 KiB and double up to 64 KiB: a small arena (one
     * decoded change) stays small and contiguous */
    if (a->next < 1024 || a->next > ARENA_CHUNK)
        a->next = 1024;
    size_t want = a->next > size ? a->next : ARENA_CHUNK;
    if (a->next < ARENA_CHUNK)
        a->next *= 2;
    chg_arena_chunk *n = chunk_new(a, want);
    if (!n)
        return NULL;
    if (a->last)
        a->last->next = n;
    else
        a->first = n;
    a->last = n;
    a->head = n;
    return n;
}

/* Every block is a multiple of 16 bytes and 16-aligned (the chunk's data
 * is _Alignas(16)), enough for any scalar and for the VM's 16-byte values.
 * Size 0 still takes 16 bytes, so two allocations never share an address.
 * NULL sets a->failed, which callers that drop a NULL are checked by, or
 * a->over_cap when the reason is the cap rather than the allocator. */
void *chg_arena_alloc_raw(chg_arena *a, size_t size)
{
    if (size > SIZE_MAX - 15) {
        a->failed = true;
        return NULL;
    }
    size = (size + 15) & ~(size_t)15;
    if (size == 0)
        size = 16;
    if (CHG_UNLIKELY(a->cap) && (size > a->cap || a->used_total > a->cap - size)) {
        a->over_cap = true; /* a limit, not the allocator: failed stays */
        return NULL;
    }
    void *p;
    chg_arena_chunk *c = a->head;
    if (CHG_UNLIKELY(size > ARENA_CHUNK / 4)) {
        if (!(p = arena_big(a, size)))
            return NULL;
    } else {
        if (CHG_UNLIKELY(!c || c->size - c->used < size) && !(c = arena_grow(a, size)))
            return NULL;
        p = c->data + c->used;
        c->used += size;
    }
    a->used_total += size;
    return p;
}

/* Zeroed. The memset covers the rounded size, which is the block's real
 * extent, so no stale bytes from before a reset survive in padding. */
void *chg_arena_alloc(chg_arena *a, size_t size)
{
    void *p = chg_arena_alloc_raw(a, size);
    if (p)
        memset(p, 0, (size + 15) & ~(size_t)15);
    return p;
}

char *chg_arena_strndup(chg_arena *a, const char *s, size_t n)
{
    char *p = chg_arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *chg_arena_strdup(chg_arena *a, const char *s)
{
    return chg_arena_strndup(a, s, strlen(s));
}

/* Two passes of vsnprintf, one to measure and one to write, so the string
 * takes exactly its length in the arena; ap2 because a va_list cannot be
 * walked twice. */
char *chg_arena_printf(chg_arena *a, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = n < 0 ? NULL : chg_arena_alloc(a, (size_t)n + 1);
    if (p)
        vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

/* ---- buffer ----------------------------------------------------------- */

void chg_buf_init(chg_buf *b) { memset(b, 0, sizeof *b); }

void chg_buf_free(chg_buf *b)
{
    chg_free(b->data);
    memset(b, 0, sizeof *b);
}

/* Empty the buffer but keep its memory: a writer that renders one decision
 * after another into the same buffer stops allocating once warm. */
void chg_buf_reset(chg_buf *b)
{
    b->len = 0;
    b->oom = false; /* empty again: an earlier failure was for the caller to check before */
    if (b->data)
        b->data[0] = 0;
}

/* Room for extra bytes and the NUL. Once oom is set every later append is
 * dropped: the text is short but never garbled (no piece missing from the
 * middle), and the caller checks oom once at the end instead of after
 * every append. Doubling keeps appends amortised O(1). */
static bool buf_reserve(chg_buf *b, size_t extra)
{
    if (b->oom)
        return false;
    if (b->len + extra + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2) {
            b->oom = true;
            return false;
        }
        cap *= 2;
    }
    char *p = chg_realloc(b->data, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

/* data is always NUL-terminated once non-NULL, so a buffer can be passed
 * as a C string without a separate finish step. */
void chg_buf_append(chg_buf *b, const void *p, size_t n)
{
    if (!buf_reserve(b, n))
        return;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}

void chg_buf_puts(chg_buf *b, const char *s) { chg_buf_append(b, s, strlen(s)); }

void chg_buf_putc(chg_buf *b, char c) { chg_buf_append(b, &c, 1); }

/* Measure first, then format straight into the buffer: no temporary and
 * no truncated output for long texts. */
void chg_buf_vprintf(chg_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0 || !buf_reserve(b, (size_t)n))
        return;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void chg_buf_printf(chg_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    chg_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

/* Room for n more bytes (and the NUL) at b->data + b->len, for a writer
 * that fills them itself and then advances len; false once out of memory. */
bool chg_buf_reserve(chg_buf *b, size_t n) { return buf_reserve(b, n); }

/* The bytes a JSON string escapes: the quote, the backslash, controls and
 * DEL. 0 is plain; otherwise the character after the backslash, or 'u'
 * for \u00XX. */
static const char json_escape[256] = {
    ['\0'] = 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'b', 't', 'n', 'u', 'f', 'r', 'u', 'u',
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
    ['"'] = '"', ['\\'] = '\\', [0x7f] = 'u',
};

/* The length of the run of plain bytes at s[0..n): eight at a time while
 * no byte of a word is a quote, a backslash, a control or DEL (the word
 * tests are exact for bytes below 0x80 and let every byte of 0x80 and up
 * through, which is plain), then byte by byte. */
static size_t plain_run(const unsigned char *s, size_t n)
{
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        uint64_t ascii = ~w & high;                               /* bytes below 0x80 */
        uint64_t ctl = (w - ones * 0x20) & ascii;                 /* below 0x20 */
        uint64_t q = w ^ (ones * '"'), bs = w ^ (ones * '\\'), del = w ^ (ones * 0x7f);
        uint64_t hit = ctl | ((q - ones) & ~q & high) | ((bs - ones) & ~bs & high) | ((del - ones) & ~del & high);
        if (hit)
            break;
    }
    while (i < n && !json_escape[s[i]])
        i++;
    return i;
}

/* s as a JSON string literal (RFC 8259). Bytes are copied as they are, so
 * valid UTF-8 stays UTF-8 (the output is for humans too, and \u escapes
 * of every non-ASCII character would triple it); controls and DEL are
 * escaped so that no terminal sequence reaches a log. Written straight
 * into the buffer: room for the worst case (six bytes a byte) is made a
 * piece of at most 4 KiB at a time, so a long string does not ask for six
 * times its size at once, and runs of plain bytes are found a word at a
 * time and copied in one piece. */
void chg_buf_json_string(chg_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    if (!buf_reserve(b, (n < 4096 ? n : 4096) * 6 + 2))
        return;
    char *o = b->data + b->len;
    *o++ = '"';
    while (p < end) {
        size_t piece = (size_t)(end - p) < 4096 ? (size_t)(end - p) : 4096;
        *o = 0; /* out of memory here leaves the text so far, terminated */
        b->len = (size_t)(o - b->data);
        if (!buf_reserve(b, piece * 6 + 1))
            return;
        o = b->data + b->len;
        const unsigned char *stop = p + piece;
        while (p < stop) {
            size_t run = plain_run(p, (size_t)(stop - p));
            memcpy(o, p, run);
            o += run;
            p += run;
            if (p == stop)
                break;
            char e = json_escape[*p];
            *o++ = '\\';
            *o++ = e;
            if (e == 'u') {
                *o++ = '0';
                *o++ = '0';
                *o++ = hex[*p >> 4];
                *o++ = hex[*p & 15];
            }
            p++;
        }
    }
    *o++ = '"';
    *o = 0;
    b->len = (size_t)(o - b->data);
}

/* v in decimal, two digits at a time from a table of the hundred pairs;
 * the magnitude goes through uint64_t so INT64_MIN has one. */
size_t chg_int_format(int64_t v, char out[CHG_INT_TEXT])
{
    static const char pairs[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                   "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                   "8081828384858687888990919293949596979899";
    char tmp[CHG_INT_TEXT];
    char *p = tmp + sizeof tmp;
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    while (m >= 100) {
        unsigned k = (unsigned)(m % 100) * 2;
        m /= 100;
        *--p = pairs[k + 1];
        *--p = pairs[k];
    }
    if (m >= 10) {
        *--p = pairs[m * 2 + 1];
        *--p = pairs[m * 2];
    } else
        *--p = (char)('0' + m);
    if (v < 0)
        *--p = '-';
    size_t n = (size_t)(tmp + sizeof tmp - p);
    memcpy(out, p, n);
    out[n] = 0;
    return n;
}

/* Hand the text to the caller, who frees it with chg_free; the buffer is
 * empty again. NULL only when the empty string cannot be allocated. */
char *chg_buf_take(chg_buf *b)
{
    char *p = b->data;
    if (!p)
        p = chg_strdup("");
    memset(b, 0, sizeof *b);
    return p;
}

/* ---- vector ----------------------------------------------------------- */

void chg_vec_init(chg_vec *v) { memset(v, 0, sizeof *v); }

void chg_vec_free(chg_vec *v)
{
    chg_free(v->items);
    memset(v, 0, sizeof *v);
}

/* On CHG_ENOMEM the vector is unchanged and still owns its items; the
 * caller decides whether item is freed. */
int chg_vec_push(chg_vec *v, void *item)
{
    if (v->len == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        void **p = chg_realloc(v->items, cap * sizeof *p);
        if (!p)
            return CHG_ENOMEM;
        v->items = p;
        v->cap = cap;
    }
    v->items[v->len++] = item;
    return CHG_OK;
}

/* ---- files ------------------------------------------------------------ */

/* 256 MiB: the limit on a policy file (docs/internals.md). */
int chg_read_file(const char *path, char **data, size_t *len)
{
    return chg_read_file_max(path, data, len, (size_t)256 << 20);
}

/* A regular file's buffer is sized once from `size` (its fstat size),
 * with room for the NUL and one byte more, so that a file that grew since
 * fstat is noticed instead of cut at the stale size; a stream's buffer
 * (size 0) doubles, holding at most twice the limit for a moment before
 * the limit refuses it. The limit is checked as the data arrives, so a
 * file growing while it is read (or a /proc file of size 0) is bounded. */
int chg_read_fd(int fd, size_t size, size_t max, char **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    if (size > max) {
        errno = EFBIG;
        return CHG_ERANGE;
    }
    size_t cap = size ? size + 2 : 65536, used = 0;
    char *p = chg_malloc(cap);
    for (;;) {
        if (p && cap - used < (size ? 2 : 4096)) { /* a stream, or a file that grew */
            char *q = chg_realloc(p, cap * 2);
            if (!q)
                chg_free(p);
            p = q;
            cap *= 2;
        }
        if (!p) {
            errno = ENOMEM;
            return CHG_ENOMEM;
        }
        /* cap - used - 1: the last byte is kept for the terminating NUL */
        ssize_t n = read(fd, p + used, cap - used - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int saved = errno;
            chg_free(p);
            errno = saved;
            return CHG_EIO;
        }
        if (n == 0)
            break;
        used += (size_t)n;
        if (used > max) {
            chg_free(p);
            errno = EFBIG;
            return CHG_ERANGE;
        }
    }
    p[used] = 0;
    *data = p;
    *len = used;
    return CHG_OK;
}

/* Read a regular file of at most max bytes into a NUL-terminated buffer
 * the caller frees. The status says what went wrong and errno why (it is
 * set last on every failure). The file is opened without blocking, so a
 * FIFO nobody writes is refused instead of hanging the open. */
int chg_read_file_max(const char *path, char **data, size_t *len, size_t max)
{
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return CHG_EIO;
    struct stat st;
    int rc;
    if (fstat(fd, &st) != 0)
        rc = CHG_EIO;
    else if (!S_ISREG(st.st_mode)) {
        errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
        rc = CHG_ENOTREG;
    } else
        rc = chg_read_fd(fd, (size_t)st.st_size, max, data, len);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* ---- UTF-8 ------------------------------------------------------------ */

/* Decode the lead byte's length and payload, then check each continuation
 * byte (10xxxxxx) and the decoded value: below `min` is an overlong form
 * (C0 80 for NUL), D800..DFFF are UTF-16 surrogates, and nothing exceeds
 * U+10FFFF (RFC 3629). */
size_t chg_utf8_seq_len(const unsigned char *s, size_t n)
{
    if (n == 0)
        return 0;
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    uint32_t min, cp;
    if ((c & 0xe0) == 0xc0) { len = 2; min = 0x80; cp = c & 0x1f; }
    else if ((c & 0xf0) == 0xe0) { len = 3; min = 0x800; cp = c & 0x0f; }
    else if ((c & 0xf8) == 0xf0) { len = 4; min = 0x10000; cp = c & 0x07; }
    else return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* The offset of the first byte that does not start a valid sequence, or n
 * when all of s is valid: callers report the position of the first bad
 * byte. The ASCII test first keeps ordinary text out of the decoder. */
size_t chg_utf8_validate(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = chg_utf8_seq_len(s + i, n - i);
        if (!l)
            return i;
        i += l;
    }
    return n;
}

/* cp must be a scalar value (not a surrogate, at most U+10FFFF): callers
 * decode it from \u escapes they have already checked. out needs 4 bytes. */
size_t chg_utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* ---- edit distance ------------------------------------------------------ */

/* ---- visible text ------------------------------------------------------ */

/* Code points shown escaped besides the C0/C1 controls: the Unicode
 * bidirectional formatting characters (Trojan Source, CVE-2021-42574)
 * and the two separators some viewers break lines at. */
static bool invisible_cp(uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0x9F) || cp == 0x061C || cp == 0x200E || cp == 0x200F ||
           (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

static uint32_t utf8_decode(const unsigned char *s, size_t len)
{
    if (len == 1)
        return s[0];
    uint32_t cp = s[0] & (0x7Fu >> len);
    for (size_t i = 1; i < len; i++)
        cp = cp << 6 | (s[i] & 0x3Fu);
    return cp;
}

size_t chg_visible_char(chg_buf *b, const unsigned char *s, size_t n, bool keep_tab, size_t *shown)
{
    size_t len = chg_utf8_seq_len(s, n);
    size_t before = b->len;
    if (len == 0) {
        chg_buf_printf(b, "\\x%02X", s[0]);
        len = 1;
    } else if (len == 1) {
        unsigned char c = s[0];
        if (c == '\n')
            chg_buf_puts(b, "\\n");
        else if (c == '\t' && !keep_tab)
            chg_buf_puts(b, "\\t");
        else if (c == '\r')
            chg_buf_puts(b, "\\r");
        else if ((c < 0x20 && c != '\t') || c == 0x7F)
            chg_buf_printf(b, "\\x%02X", c);
        else
            chg_buf_putc(b, (char)c);
    } else {
        uint32_t cp = utf8_decode(s, len);
        if (invisible_cp(cp))
            chg_buf_printf(b, "\\u{%04X}", (unsigned)cp);
        else
            chg_buf_append(b, s, len);
    }
    if (shown) {
        size_t w = b->len - before;
        *shown = w == len ? 0 : w;
    }
    return len;
}

void chg_buf_put_visible(chg_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;)
        i += chg_visible_char(b, p + i, n - i, false, NULL);
}

void chg_buf_puts_visible(chg_buf *b, const char *s) { chg_buf_put_visible(b, s, strlen(s)); }

/* The textbook dynamic programme over a (la+1) x (lb+1) table on the
 * stack: d[i][j] is the distance between the first i bytes of a and the
 * first j of b; a transposition of two adjacent bytes costs 1 (optimal
 * string alignment: no substring is edited twice). Names longer than 64
 * bytes are never suggestions, which bounds the table; a length
 * difference above max is an early answer. Bytes, not characters: names
 * are ASCII identifiers. */
size_t chg_edit_distance(const char *a, const char *b, size_t max)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return max + 1;
    if ((la > lb ? la - lb : lb - la) > max)
        return max + 1;
    size_t d[65][65];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            char ca = a[i - 1], cb = b[j - 1];
            size_t cost = ca == cb ? 0 : 1;
            size_t v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && ca == b[j - 2] && a[i - 2] == cb &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    }
    return d[la][lb];
}

/*
 * How the suggestion is chosen: a case-only difference first; else the
 * candidate with the smallest Damerau-Levenshtein distance (a
 * transposition costs one, the commonest typo) within a third of the
 * name's length, at least 1 and at most 3, the first one on a tie, so
 * callers list the likelier names first. The cap of 3 keeps long names
 * from matching unrelated long names; the floor of 1 lets a two-letter
 * name be corrected at all. chg_edit_distance refuses without computing
 * when the lengths differ by more than the limit, so a list of hundreds
 * of names costs little. Failing that, an abbreviation is still a good
 * guess ("enviroment" for "env", "req" for "requester"). The name itself
 * is never a suggestion, even when it is among the candidates.
 */
const char *chg_closest_name(const char *name, const char *const *candidates, size_t n)
{
    size_t len = strlen(name);
    size_t max = len / 3;
    if (max < 1)
        max = 1;
    if (max > 3)
        max = 3;
    const char *best = NULL;
    size_t best_d = max + 1;
    for (size_t i = 0; i < n; i++) {
        const char *cand = candidates[i];
        if (!cand || strcmp(cand, name) == 0)
            continue;
        if (strcasecmp(cand, name) == 0)
            return cand;
        size_t dist = chg_edit_distance(name, cand, max);
        if (dist < best_d) {
            best_d = dist;
            best = cand;
        }
    }
    for (size_t i = 0; i < n && !best; i++) {
        const char *cand = candidates[i];
        size_t cl = cand ? strlen(cand) : 0;
        if (cl >= 3 && len >= 3 && strncmp(cand, name, cl < len ? cl : len) == 0)
            best = cand;
    }
    return best;
}
