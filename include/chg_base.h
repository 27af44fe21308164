/*
 * chg_base.h — the few things every module of chg shares: status codes,
 * the one allocation entry point, an arena for compilation-lifetime data,
 * a growable byte buffer and a growable pointer vector.
 *
 * Conventions (see docs/internals.md, "Reporting errors"):
 *   - functions return int status: CHG_OK (0) or a negative CHG_E… code,
 *     each with one meaning (below); the details of an error go to the
 *     compiler's diagnostics or to the caller's `char *err, size_t errlen`;
 *   - every heap allocation of the project goes through chg_realloc(), so a
 *     test can count or fail allocations (chg_set_allocator());
 *   - things that live as long as a compilation live in a chg_arena and are
 *     freed all at once.
 */
#ifndef CHG_BASE_H
#define CHG_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    CHG_OK = 0,
    /* An allocation failed. Whatever else was reported may be incomplete:
     * a compilation that ran out of memory never returns CHG_OK. */
    CHG_ENOMEM = -1,
    /* The system failed to open, read or write a file; errno, set by the
     * failing call and kept until the function returns, says why (read it
     * before any other call). */
    CHG_EIO = -2,
    /* The input is malformed: a policy with errors, a bad time or calendar,
     * a bad bundle. The details are in the diagnostics or the caller's
     * message buffer. */
    CHG_EINVAL = -3,
    /* A size or value is beyond a limit: a file larger than allowed, a
     * program larger than the bundle format. */
    CHG_ERANGE = -4,
    /* A named thing (a zone, a field) does not exist. (No function of the
     * library returns it yet: a missing file is CHG_EIO with ENOENT.) */
    CHG_ENOTFOUND = -5,
    /* The path names something other than a regular file (a directory, a
     * device, a pipe), which is never read. */
    CHG_ENOTREG = -6,
    /* chg caught a fault of its own at a boundary it checks (a bundle it
     * has just compiled fails its own verifier): a bug to report, never
     * the user's input. The message buffer says what. */
    CHG_EINTERNAL = -7
};

/* The largest bundle (.chgb) the compiler writes (E0608) and the driver
 * reads: 2 GiB. */
#define CHG_BUNDLE_MAX ((size_t)1 << 31)

/* A short message for a status ("out of memory"); for CHG_EIO prefer
 * strerror(errno), which says what the system reported. */
const char *chg_strerror(int status);

#define CHG_VERSION_STRING "0.1.0"

#define CHG_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define CHG_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define CHG_NORETURN __attribute__((noreturn))
#define CHG_LIKELY(x) __builtin_expect(!!(x), 1)
#define CHG_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define CHG_PRINTF(f, a)
#define CHG_NORETURN
#define CHG_LIKELY(x) (x)
#define CHG_UNLIKELY(x) (x)
#endif

/* ---- allocation ------------------------------------------------------- */

/* The one allocation function: behaves like realloc(ptr, size), and like
 * free(ptr) when size is 0 (returning NULL). Returns NULL on failure. */
void *chg_realloc(void *ptr, size_t size);
void *chg_malloc(size_t size);
void *chg_calloc(size_t n, size_t size);
void chg_free(void *ptr);
char *chg_strndup(const char *s, size_t n);
char *chg_strdup(const char *s);

/* Replace the allocator (tests: counting, failure injection). Passing NULL
 * restores the default (libc realloc/free). Not thread-safe; call it before
 * starting threads. */
typedef void *(*chg_realloc_fn)(void *ud, void *ptr, size_t size);
void chg_set_allocator(chg_realloc_fn fn, void *ud);

/* Abort with a message: only for broken invariants, never for bad input. */
CHG_NORETURN void chg_panic(const char *fmt, ...) CHG_PRINTF(1, 2);

/* CHG_ASSERT(cond): an invariant the code relies on — mostly one the bundle
 * verifier proved, so that a failure means a verifier gap, not bad input.
 * Checked when CHG_DEBUG_ASSERTS is defined (CMake defines it for Debug
 * and sanitizer builds): a failure panics with the place and the
 * expression. Otherwise it costs nothing, but cond still has to compile. */
#ifdef CHG_DEBUG_ASSERTS
#define CHG_ASSERT(cond) \
    ((cond) ? (void)0 : chg_panic("%s:%d: assertion failed: %s", __FILE__, __LINE__, #cond))
#else
#define CHG_ASSERT(cond) ((void)sizeof(!(cond)))
#endif

/* ---- arena ------------------------------------------------------------ */

/* A bump allocator: many small allocations, one free; each allocation
 * costs amortised constant time, however many there are. Memory is 16-byte
 * aligned. An allocation failure returns NULL, leaves the arena usable and
 * sets `failed`, so an owner that checks once at the end (the compiler)
 * learns of a failure whose NULL some caller dropped. A zeroed struct is
 * an empty arena, as after chg_arena_init. */
typedef struct chg_arena_chunk chg_arena_chunk;
typedef struct chg_arena {
    chg_arena_chunk *head;  /* the chunk being filled */
    chg_arena_chunk *first; /* the chunks of small allocations, in order */
    chg_arena_chunk *last;
    chg_arena_chunk *big;   /* blocks of big allocations since the reset */
    chg_arena_chunk *spare; /* big blocks kept from before it */
    size_t used_total;      /* bytes handed out since init or reset */
    size_t next;            /* size of the next chunk: starts small, doubles */
    size_t cap;             /* 0, or the most used_total may reach: an
                               allocation past it fails (over_cap) */
    bool failed;            /* an allocation failed since init or reset */
    bool over_cap;          /* one was refused by cap (failed is not set:
                               memory did not run out) */
} chg_arena;

void chg_arena_init(chg_arena *a);
void chg_arena_free(chg_arena *a);
/* Forget every allocation but keep the chunks: the same allocations after
 * a reset reuse them, so a warm arena (the VM's per-decision scratch)
 * calls the allocator no more. */
void chg_arena_reset(chg_arena *a);
void *chg_arena_alloc(chg_arena *a, size_t size);     /* zeroed */
void *chg_arena_alloc_raw(chg_arena *a, size_t size); /* not zeroed */
char *chg_arena_strndup(chg_arena *a, const char *s, size_t n);
char *chg_arena_strdup(chg_arena *a, const char *s);
char *chg_arena_printf(chg_arena *a, const char *fmt, ...) CHG_PRINTF(2, 3);

/* ---- byte buffer ------------------------------------------------------ */

/* A growable, always NUL-terminated byte string. On allocation failure the
 * buffer sets `oom` and ignores further appends; check it once at the end. */
typedef struct chg_buf {
    char *data;
    size_t len;
    size_t cap;
    bool oom;
} chg_buf;

void chg_buf_init(chg_buf *b);
void chg_buf_free(chg_buf *b);
void chg_buf_reset(chg_buf *b); /* empties it, oom included: check oom first */
void chg_buf_append(chg_buf *b, const void *p, size_t n);
void chg_buf_puts(chg_buf *b, const char *s);
void chg_buf_putc(chg_buf *b, char c);
void chg_buf_printf(chg_buf *b, const char *fmt, ...) CHG_PRINTF(2, 3);
void chg_buf_vprintf(chg_buf *b, const char *fmt, va_list ap);
/* Append s as a JSON string literal (quotes and escapes included). */
void chg_buf_json_string(chg_buf *b, const char *s, size_t n);
/* Make room for n more bytes (and the NUL) at data + len, which the
 * caller writes and then adds to len; false (oom set) out of memory. */
bool chg_buf_reserve(chg_buf *b, size_t n);

/* v in decimal into out, NUL-terminated; returns its length (at most 20:
 * "-9223372036854775808"), as printf's %lld writes it, without a printf. */
#define CHG_INT_TEXT 21
size_t chg_int_format(int64_t v, char out[CHG_INT_TEXT]);
/* Detach the contents (caller frees with chg_free); the buffer is reset. */
char *chg_buf_take(chg_buf *b);

/* ---- pointer vector --------------------------------------------------- */

typedef struct chg_vec {
    void **items;
    size_t len;
    size_t cap;
} chg_vec;

void chg_vec_init(chg_vec *v);
void chg_vec_free(chg_vec *v);
int chg_vec_push(chg_vec *v, void *item);

/* ---- files ------------------------------------------------------------ */

/* Read a whole regular file of at most max bytes. On success *data is
 * chg_malloc'd and NUL-terminated (the NUL is not counted in *len). Errors:
 * CHG_EIO (errno says why), CHG_ENOTREG (a directory, device or pipe: never
 * read, so /dev/zero cannot exhaust memory; errno EISDIR or EINVAL),
 * CHG_ERANGE (larger than max; errno EFBIG), CHG_ENOMEM (errno ENOMEM). */
int chg_read_file_max(const char *path, char **data, size_t *len, size_t max);
/* Read an open descriptor to its end, at most max bytes, into a
 * NUL-terminated buffer the caller frees; size is the file's size when it
 * is a regular file (sizes the buffer once), else 0. Statuses as
 * chg_read_file_max: CHG_EIO (errno), CHG_ERANGE, CHG_ENOMEM. */
int chg_read_fd(int fd, size_t size, size_t max, char **data, size_t *len);
/* chg_read_file_max with a limit of 256 MiB. */
int chg_read_file(const char *path, char **data, size_t *len);

/* ---- UTF-8 ------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if s[0..n) does not
 * start with one (overlong forms, surrogates and > U+10FFFF are invalid). */
size_t chg_utf8_seq_len(const unsigned char *s, size_t n);
/* Offset of the first invalid byte in s[0..n), or n if all is valid. */
size_t chg_utf8_validate(const unsigned char *s, size_t n);
/* Encode cp as UTF-8 into out (4 bytes room); returns bytes written. */
size_t chg_utf8_encode(uint32_t cp, char *out);

/* ---- visible text ------------------------------------------------------ */

/* The one definition of "visible text": user text (a file name, a zone
 * name, a message, a test name, a parser's quote of the input) written
 * where a terminal or a CI log reads it, with what they would act on made
 * visible. C0 controls and DEL become \n, \t, \r or \xNN; C1 controls
 * (U+0080..U+009F), the bidirectional marks, embeddings, overrides and
 * isolates (U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069) and
 * the line and paragraph separators (U+2028, U+2029) become \u{NNNN};
 * a byte that is not valid UTF-8 becomes \xNN. Everything else is
 * copied. A newline in a name therefore never starts a forged line, and
 * text never reads differently than it is.
 *
 * chg_visible_char appends the visible form of the one character at
 * s[0..n) (n >= 1) and returns the bytes it read; *shown is how many
 * columns were written when it was escaped, 0 when copied as is (one
 * code point, one column). keep_tab copies a tab (a source excerpt keeps
 * tabs so its underline lines up). */
size_t chg_visible_char(chg_buf *b, const unsigned char *s, size_t n, bool keep_tab, size_t *shown);
/* s[0..n) as visible text. */
void chg_buf_put_visible(chg_buf *b, const char *s, size_t n);
/* A NUL-terminated string as visible text. */
void chg_buf_puts_visible(chg_buf *b, const char *s);

/* ---- edit distance ----------------------------------------------------- */

/* Damerau-Levenshtein (optimal string alignment) distance between a and b,
 * or a value > max when it is known to exceed max. Used by "did you mean". */
size_t chg_edit_distance(const char *a, const char *b, size_t max);

/* The "did you mean" of every diagnostic and warning: the candidate
 * closest to name as a plausible typo, or NULL (base.c says the rule). */
const char *chg_closest_name(const char *name, const char *const *candidates, size_t n);

#endif
