/*
 * fmtfile.c — `chgc fmt`: a file's canonical layout (chg_compiler_format),
 * the unified diff `--check` prints, and the in-place rewrite, which
 * never leaves a half-written policy behind (a temporary file in the same
 * directory, then rename(2)).
 */
#include "chg_driver.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int chg_format_file(const char *path, const chg_compile_options *opts, chg_buf *out, chg_compiler **cp,
                    const chg_source **original, char *err, size_t errlen)
{
    *original = NULL;
    *cp = chg_compiler_new(opts);
    if (!*cp)
        return CHG_ENOMEM;
    int rc;
    if (!strcmp(path, "-")) {
        char *data;
        size_t len;
        rc = chg_input_read("-", 0, &data, &len, err, errlen);
        if (rc != CHG_OK)
            return rc;
        rc = chg_compiler_add_source(*cp, "<stdin>", data, len);
        chg_free(data);
    } else {
        rc = chg_compiler_add_file(*cp, path);
        if (rc == CHG_EIO || rc == CHG_ENOTREG)
            snprintf(err, errlen, "%s: %s", path, rc == CHG_EIO ? strerror(errno) : "not a regular file");
    }
    if (rc == CHG_ERANGE)
        return CHG_EINVAL; /* E0012, a diagnostic */
    if (rc != CHG_OK)
        return rc;
    rc = chg_compiler_format(*cp, out, original);
    if (rc == CHG_EINTERNAL)
        snprintf(err, errlen, "%s: the formatted text is not the same tokens (a bug in chgc fmt; the file is left as it is)",
                 path);
    return rc;
}

/* ---- unified diff ------------------------------------------------------------------ */

typedef struct lines {
    const char **s;
    size_t *len;
    size_t n;
} lines;

static int split(const char *t, size_t n, lines *l)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += t[i] == '\n';
    count += n && t[n - 1] != '\n';
    l->s = chg_malloc((count + 1) * sizeof *l->s);
    l->len = chg_malloc((count + 1) * sizeof *l->len);
    l->n = 0;
    if (!l->s || !l->len)
        return CHG_ENOMEM;
    for (size_t i = 0; i < n;) {
        const char *nl = memchr(t + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - t) : n;
        l->s[l->n] = t + i;
        l->len[l->n++] = e - i;
        i = e + 1;
    }
    return CHG_OK;
}

static bool same(const lines *a, size_t i, const lines *b, size_t j)
{
    return a->len[i] == b->len[j] && memcmp(a->s[i], b->s[j], a->len[i]) == 0;
}

/* op per line of the edit script: ' ' kept, '-' old only, '+' new only,
 * with the index into its side */
typedef struct edit {
    char op;
    size_t i;
} edit;

/* The edit script from a to b: common prefix and suffix, and between them
 * a longest common subsequence when the table fits in 16 MiB (a formatter
 * changes few lines; past that the middle is replaced whole, still a
 * correct diff). */
static int script(const lines *a, const lines *b, edit **out, size_t *nout)
{
    size_t p = 0, sa = a->n, sb = b->n;
    while (p < sa && p < sb && same(a, p, b, p))
        p++;
    while (sa > p && sb > p && same(a, sa - 1, b, sb - 1))
        sa--, sb--;
    size_t n = sa - p, m = sb - p;
    edit *e = chg_malloc((a->n + b->n + 1) * sizeof *e);
    if (!e)
        return CHG_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < p; i++)
        e[k++] = (edit){' ', i};
    uint32_t *t = (n + 1) * (m + 1) <= ((size_t)4 << 20) ? chg_malloc((n + 1) * (m + 1) * sizeof *t) : NULL;
    if (t) {
        /* t[i][j]: LCS length of a[p+i..sa) and b[p+j..sb) */
        for (size_t i = n + 1; i-- > 0;)
            for (size_t j = m + 1; j-- > 0;) {
                uint32_t *c = &t[i * (m + 1) + j];
                if (i == n || j == m)
                    *c = 0;
                else if (same(a, p + i, b, p + j))
                    *c = t[(i + 1) * (m + 1) + j + 1] + 1;
                else {
                    uint32_t x = t[(i + 1) * (m + 1) + j], y = t[i * (m + 1) + j + 1];
                    *c = x > y ? x : y;
                }
            }
        size_t i = 0, j = 0;
        while (i < n || j < m) {
            if (i < n && j < m && same(a, p + i, b, p + j)) {
                e[k++] = (edit){' ', p + i};
                i++, j++;
            } else if (j == m || (i < n && t[(i + 1) * (m + 1) + j] >= t[i * (m + 1) + j + 1]))
                e[k++] = (edit){'-', p + i++};
            else
                e[k++] = (edit){'+', p + j++};
        }
        chg_free(t);
    } else {
        for (size_t i = 0; i < n; i++)
            e[k++] = (edit){'-', p + i};
        for (size_t j = 0; j < m; j++)
            e[k++] = (edit){'+', p + j};
    }
    for (size_t i = sa; i < a->n; i++)
        e[k++] = (edit){' ', i};
    *out = e;
    *nout = k;
    return CHG_OK;
}

int chg_diff_unified(const char *a, size_t alen, const char *b, size_t blen, const char *label_a,
                     const char *label_b, chg_buf *out)
{
    lines la = {0}, lb = {0};
    edit *e = NULL;
    size_t ne = 0;
    int rc = split(a, alen, &la);
    if (rc == CHG_OK)
        rc = split(b, blen, &lb);
    if (rc == CHG_OK)
        rc = script(&la, &lb, &e, &ne);
    if (rc == CHG_OK) {
        enum { CONTEXT = 3 };
        bool header = false;
        /* line numbers (0-based) on each side at each edit */
        size_t ai = 0, bi = 0;
        for (size_t k = 0; k < ne;) {
            if (e[k].op == ' ') {
                ai++, bi++, k++;
                continue;
            }
            /* a hunk: from CONTEXT lines before this change to CONTEXT
             * after the last change that is at most 2*CONTEXT further */
            size_t start = k >= CONTEXT ? k - CONTEXT : 0;
            size_t end = k, gap = 0;
            for (size_t q = k; q < ne; q++) {
                if (e[q].op == ' ') {
                    if (++gap > 2 * CONTEXT)
                        break;
                } else {
                    gap = 0;
                    end = q;
                }
            }
            end = end + CONTEXT + 1 < ne ? end + CONTEXT + 1 : ne;
            size_t a0 = ai - (k - start), b0 = bi - (k - start), an = 0, bn = 0;
            for (size_t q = start; q < end; q++) {
                an += e[q].op != '+';
                bn += e[q].op != '-';
            }
            if (!header) {
                chg_buf_printf(out, "--- %s\n+++ %s\n", label_a, label_b);
                header = true;
            }
            chg_buf_printf(out, "@@ -%zu,%zu +%zu,%zu @@\n", an ? a0 + 1 : a0, an, bn ? b0 + 1 : b0, bn);
            for (size_t q = start; q < end; q++) {
                const lines *l = e[q].op == '+' ? &lb : &la;
                chg_buf_putc(out, e[q].op);
                chg_buf_append(out, l->s[e[q].i], l->len[e[q].i]);
                chg_buf_putc(out, '\n');
            }
            for (size_t q = k; q < end; q++) {
                ai += e[q].op != '+';
                bi += e[q].op != '-';
            }
            k = end;
        }
    }
    chg_free(la.s);
    chg_free(la.len);
    chg_free(lb.s);
    chg_free(lb.len);
    chg_free(e);
    return rc == CHG_OK && out->oom ? CHG_ENOMEM : rc;
}

/* ---- rewriting in place ---------------------------------------------------------------- */

int chg_file_replace(const char *path, const char *data, size_t len, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return CHG_EIO;
    }
    size_t n = strlen(path) + 16;
    char *tmp = chg_malloc(n);
    if (!tmp)
        return CHG_ENOMEM;
    snprintf(tmp, n, "%s.fmtXXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot create a temporary file beside it: %s", path, strerror(errno));
        chg_free(tmp);
        return CHG_EIO;
    }
    bool ok = true;
    for (size_t off = 0; ok && off < len;) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        ok = w > 0;
        off += ok ? (size_t)w : 0;
    }
    /* the file keeps its permissions; its content reaches the disk
     * before the name points at it */
    ok = ok && fchmod(fd, st.st_mode & 07777) == 0 && fsync(fd) == 0;
    int saved = errno;
    ok = close(fd) == 0 && ok;
    if (ok && rename(tmp, path) != 0) {
        saved = errno;
        ok = false;
    }
    if (!ok) {
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(saved ? saved : errno));
        unlink(tmp);
    }
    chg_free(tmp);
    return ok ? CHG_OK : CHG_EIO;
}
