/*
 * input.c — reading what a driver is given: whole documents (a file or
 * standard input), JSON lines, facts files, and the .chg files a list of
 * paths names.
 *
 * Every reader has a limit, so no input can make the driver hold more
 * than the limit in memory: a document is refused when larger than its
 * limit, and a JSON line longer than its limit is skipped (reported as
 * that line's error) without being kept. Documents may come from a pipe
 * (`--event <(...)`); devices are refused, and a FIFO with no writer reads
 * as empty instead of blocking.
 */
#include "chg_driver.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Read fd to its end, at most max bytes. The limit is checked before each
 * append, so a pipe or a growing file costs at most max + 64 KiB; read
 * is restarted after a signal (EINTR), which a pipe from a shell may
 * deliver. The result is always NUL-terminated, even when empty. */
static int read_fd(int fd, const char *name, size_t max, char **data, size_t *len, char *err, size_t errlen)
{
    chg_buf b;
    chg_buf_init(&b);
    char tmp[65536];
    for (;;) {
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int saved = errno;
            chg_buf_free(&b);
            snprintf(err, errlen, "%s: %s", name, strerror(saved));
            return CHG_EIO;
        }
        if (n == 0)
            break;
        if (b.len + (size_t)n > max) {
            chg_buf_free(&b);
            snprintf(err, errlen, "%s: larger than the limit (%zu bytes)", name, max);
            return CHG_ERANGE;
        }
        chg_buf_append(&b, tmp, (size_t)n);
    }
    if (!b.data)
        chg_buf_puts(&b, "");
    if (b.oom) {
        chg_buf_free(&b);
        snprintf(err, errlen, "%s: out of memory", name);
        return CHG_ENOMEM;
    }
    *len = b.len;
    *data = chg_buf_take(&b);
    return CHG_OK;
}

/* Open, then decide by fstat what the path is, on the open descriptor
 * (not a stat of the name, which a rename could change in between). A
 * regular file larger than max is refused before reading anything; a
 * pipe's size is unknown, so read_fd enforces the limit as it reads.
 * O_NONBLOCK is cleared before reading so a pipe whose writer is slow is
 * waited for rather than read as empty. */
int chg_input_read(const char *path, size_t max, char **data, size_t *len, char *err, size_t errlen)
{
    if (!max)
        max = CHG_INPUT_MAX;
    *data = NULL;
    *len = 0;
    if (!strcmp(path, "-"))
        return read_fd(STDIN_FILENO, "-", max, data, len, err, errlen);
    /* O_NONBLOCK: opening a FIFO that no one writes must not hang. Once
     * open, a read of such a FIFO ends at once (no writer: end of file). */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return CHG_EIO;
    }
    struct stat st;
    int rc = CHG_OK;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        rc = CHG_EIO;
    } else if (S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: is a directory", path);
        rc = CHG_ENOTREG;
    } else if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
        /* a device such as /dev/zero would never end */
        snprintf(err, errlen, "%s: not a regular file or a pipe", path);
        rc = CHG_ENOTREG;
    } else if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max) {
        snprintf(err, errlen, "%s: larger than the limit (%zu bytes)", path, max);
        rc = CHG_ERANGE;
    } else if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        rc = CHG_EIO;
    } else
        rc = read_fd(fd, path, max, data, len, err, errlen); /* the limit holds if the file grows */
    close(fd);
    return rc;
}

/* ---- JSON lines -------------------------------------------------------------------- */

/* A buffered reader: lines are found with memchr in a 64 KiB buffer and
 * handed out in place when they lie in it whole, copied into `line` only
 * when they cross a refill. A line handed out in place is valid until the
 * next call (the buffer is refilled), which is all the callers need: the
 * batch reader copies it into its batch, the serial one decides it at
 * once. A line longer than `max` is read to its end and dropped, so a
 * multi-gigabyte line costs the buffer, not its size; its number is still
 * counted, so later lines keep their numbers. */
#define LINES_BUF 65536

struct chg_lines {
    FILE *f;
    bool owned;             /* fclose at the end (not stdin) */
    bool eof;
    const char *name;
    size_t max;
    unsigned long lineno;
    size_t pos, end;        /* unread bytes: buf[pos..end) */
    chg_buf line;
    char buf[LINES_BUF];
};

chg_lines *chg_lines_open(const char *path, size_t max_line, char *err, size_t errlen)
{
    FILE *f = stdin;
    if (strcmp(path, "-") != 0) {
        /* as chg_input_read: a FIFO nobody writes is empty, a device is
         * refused (a line of /dev/zero would never end) */
        int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        struct stat st;
        const char *why = NULL;
        if (fd < 0 || fstat(fd, &st) != 0)
            why = strerror(errno);
        else if (S_ISDIR(st.st_mode))
            why = "is a directory";
        else if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))
            why = "not a regular file or a pipe";
        else if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0 || !(f = fdopen(fd, "r")))
            why = strerror(errno);
        if (why) {
            snprintf(err, errlen, "%s: %s", path, why);
            if (fd >= 0)
                close(fd);
            return NULL;
        }
    }
    chg_lines *r = chg_malloc(sizeof *r);
    if (!r) {
        if (f != stdin)
            fclose(f);
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    memset(r, 0, offsetof(chg_lines, buf));
    r->f = f;
    r->owned = f != stdin;
    r->name = path;
    r->max = max_line ? max_line : CHG_INPUT_MAX_LINE;
    chg_buf_init(&r->line);
    return r;
}

/* The next non-blank line: 1 with *line, *len (without the line end), 0
 * at the end of input, CHG_ERANGE for a line over the limit (its number in
 * *lineno, its text dropped), CHG_EIO or CHG_ENOMEM. The outer loop skips
 * blank lines, which count as lines (numbers match an editor's). The inner
 * loop reads one line: from the buffer in place when it ends there, else
 * piece by piece into r->line across refills. The last line may lack its
 * newline; an empty read after the last byte is the end. */
int chg_lines_next(chg_lines *r, const char **line, size_t *len, unsigned long *lineno, char *err, size_t errlen)
{
    for (;;) {
        chg_buf_reset(&r->line);
        const char *text = NULL;
        size_t n = 0;
        bool too_long = false, any = false;
        for (;;) {
            if (r->pos == r->end) {
                if (r->eof)
                    break;
                r->pos = 0;
                r->end = fread(r->buf, 1, sizeof r->buf, r->f);
                if (!r->end) {
                    if (ferror(r->f)) {
                        snprintf(err, errlen, "%s: %s", strcmp(r->name, "-") ? r->name : "standard input",
                                 strerror(errno));
                        return CHG_EIO;
                    }
                    r->eof = true;
                    break;
                }
            }
            any = true;
            char *s = r->buf + r->pos;
            char *nl = memchr(s, '\n', r->end - r->pos);
            size_t take = nl ? (size_t)(nl - s) : r->end - r->pos;
            r->pos += take + (nl != NULL);
            if (nl && !too_long && !r->line.len && take <= r->max) {
                text = s; /* the whole line is in the buffer: no copy */
                n = take;
                break;
            }
            if (!too_long && r->line.len + take > r->max) {
                too_long = true; /* read on to the end of the line, keep nothing */
                chg_buf_reset(&r->line);
            }
            if (!too_long)
                chg_buf_append(&r->line, s, take);
            if (nl)
                break;
        }
        if (!any)
            return 0;
        *lineno = ++r->lineno;
        if (too_long)
            return CHG_ERANGE;
        if (!text) {
            if (r->line.oom) {
                snprintf(err, errlen, "line %lu: out of memory", r->lineno);
                return CHG_ENOMEM;
            }
            text = r->line.data ? r->line.data : "";
            n = r->line.len;
        }
        /* CRLF files: the \r belongs to the line end, not to the JSON */
        while (n && text[n - 1] == '\r')
            n--;
        size_t i = 0;
        while (i < n && (text[i] == ' ' || text[i] == '\t'))
            i++;
        if (i == n)
            continue; /* a blank line */
        *line = text;
        *len = n;
        return 1;
    }
}

size_t chg_lines_limit(const chg_lines *r) { return r->max; }

void chg_lines_close(chg_lines *r)
{
    if (!r)
        return;
    if (r->owned)
        fclose(r->f);
    chg_buf_free(&r->line);
    chg_free(r);
}

/* ---- facts -------------------------------------------------------------------------- */

/* A facts file is a document like an event (same limits, may be a pipe);
 * its parse errors are CHG_EINVAL with the path in front of the reason. */
int chg_facts_load(const char *path, chg_facts **out, char *err, size_t errlen)
{
    char *data;
    size_t len;
    *out = NULL;
    int rc = chg_input_read(path, 0, &data, &len, err, errlen);
    if (rc != CHG_OK)
        return rc;
    char why[512];
    *out = chg_facts_parse(data, len, why, sizeof why);
    chg_free(data);
    if (!*out) {
        snprintf(err, errlen, "%s: %s", path, why);
        return CHG_EINVAL;
    }
    return CHG_OK;
}

/* ---- collecting .chg files ---------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

bool chg_is_bundle_path(const char *path) { return has_suffix(path, ".chgb"); }

/* The .chg files under dir, depth first, each directory's entries in
 * byte order (strcmp, not the locale: the same list on every machine). A
 * dangling symbolic link is skipped; a directory reached twice through
 * links is walked twice, and a link cycle ends at the depth limit. */
static int walk(const char *dir, chg_vec *out, int depth, char *err, size_t errlen)
{
    if (depth > 64) {
        snprintf(err, errlen, "%s: directories nested too deeply", dir);
        return CHG_EIO;
    }
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return CHG_EIO;
    }
    /* Sorted, so the order of files (and of their diagnostics) does not
     * depend on the file system. */
    chg_vec names;
    chg_vec_init(&names);
    struct dirent *e;
    int rc = CHG_OK;
    while (rc == CHG_OK && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        /* a NULL in names would reach qsort and strlen */
        char *name = chg_strdup(e->d_name);
        if (!name || chg_vec_push(&names, name) != CHG_OK) {
            chg_free(name);
            rc = CHG_ENOMEM;
        }
    }
    closedir(d);
    if (rc == CHG_OK && names.len)
        qsort(names.items, names.len, sizeof(void *), cmp_str);
    size_t dl = strlen(dir);
    for (size_t i = 0; i < names.len && rc == CHG_OK; i++) {
        const char *name = names.items[i];
        size_t len = dl + strlen(name) + 2;
        char *path = chg_malloc(len);
        if (!path) {
            chg_free(path);
            rc = CHG_ENOMEM;
            break;
        }
        snprintf(path, len, "%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/", name);
        struct stat st;
        if (stat(path, &st) != 0) {
            chg_free(path); /* a dangling link: not ours to report */
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            rc = walk(path, out, depth + 1, err, errlen);
            chg_free(path);
        } else if (has_suffix(name, ".chg")) {
            if (chg_vec_push(out, path) != CHG_OK) {
                chg_free(path);
                rc = CHG_ENOMEM;
            }
        } else
            chg_free(path);
    }
    if (rc == CHG_ENOMEM)
        snprintf(err, errlen, "%s: out of memory", dir);
    chg_strings_free(&names);
    return rc;
}

/* Arguments keep their order; only what a directory holds is sorted. A
 * directory without .chg files is an error because it is most likely a
 * wrong path, and checking nothing must not look like a clean result. */
int chg_collect_files(char *const *paths, size_t n, chg_vec *out, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (strcmp(paths[i], "-") != 0 && stat(paths[i], &st) != 0) {
            snprintf(err, errlen, "%s: %s", paths[i], strerror(errno));
            return CHG_EIO;
        }
        if (strcmp(paths[i], "-") != 0 && S_ISDIR(st.st_mode)) {
            size_t before = out->len;
            int rc = walk(paths[i], out, 0, err, errlen);
            if (rc != CHG_OK)
                return rc;
            if (out->len == before) {
                snprintf(err, errlen, "%s: no .chg files in this directory", paths[i]);
                return CHG_EIO;
            }
            continue;
        }
        char *copy = chg_strdup(paths[i]);
        if (!copy || chg_vec_push(out, copy) != CHG_OK) {
            chg_free(copy);
            snprintf(err, errlen, "%s: out of memory", paths[i]);
            return CHG_ENOMEM;
        }
    }
    return CHG_OK;
}

void chg_strings_free(chg_vec *v)
{
    for (size_t i = 0; i < v->len; i++)
        chg_free(v->items[i]);
    chg_vec_free(v);
}
