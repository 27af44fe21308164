/*
 * input.c — reading what a driver is given: whole documents (a file or
 * standard input), JSON lines, facts files, and the .chg files a list of
 * paths names.
 *
 * Every reader has a limit, so no input can make the driver hold more
 * than the limit in memory: a document is refused when larger than its
 * limit, and a JSON line longer than its limit is skipped (reported as
 * that line's error) without being kept. Inputs may come from a pipe
 * (`--event <(...)`); devices other than a terminal are refused, and a
 * FIFO that nobody writes is an error after a bounded wait, never a hang
 * and never "no input".
 */
#include "chg_driver.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* How long an open FIFO may stay silent before its first byte: a FIFO that
 * no process writes would otherwise read as empty (and a stream of no
 * changes is "every change decided") or block for ever. */
#define FIFO_WAIT_MS 10000

/* Check what fd is before reading it: a regular file, a pipe or FIFO (for a
 * FIFO, wait for its writer), or a terminal; never a directory or another
 * device (/dev/zero would never end). Leaves fd blocking. *size is the
 * size of a regular file, else 0. */
static int open_checks(int fd, const char *name, bool wait_fifo, size_t *size, bool *regular, char *err,
                       size_t errlen)
{
    struct stat st;
    *size = 0;
    *regular = false;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: %s", name, strerror(errno));
        return CHG_EIO;
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: is a directory", name);
        return CHG_ENOTREG;
    }
    if (S_ISREG(st.st_mode)) {
        *size = (size_t)st.st_size;
        *regular = true;
    } else if (S_ISFIFO(st.st_mode) && wait_fifo) {
        /* A writer that has not written yet and no writer at all look the
         * same; wait a bounded time for either data or the end of a writer
         * (POLLHUP). */
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int n;
        while ((n = poll(&pfd, 1, FIFO_WAIT_MS)) < 0 && errno == EINTR)
            ;
        if (n == 0) {
            snprintf(err, errlen, "%s: nothing was written to this pipe within %d s", name, FIFO_WAIT_MS / 1000);
            return CHG_EIO;
        }
    } else if (!S_ISFIFO(st.st_mode) && !(S_ISCHR(st.st_mode) && isatty(fd))) {
        snprintf(err, errlen, "%s: not a regular file or a pipe", name);
        return CHG_ENOTREG;
    }
    /* open_input opened with O_NONBLOCK so that open(2) of a FIFO returns
     * at once; the readers below expect read(2) to wait for data, and a
     * non-blocking descriptor would give EAGAIN, read as an I/O error. */
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || ((fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0)) {
        snprintf(err, errlen, "%s: %s", name, strerror(errno));
        return CHG_EIO;
    }
    return CHG_OK;
}

/* Open path, or take standard input for "-", and check it. Opening does
 * not block (a FIFO nobody writes would hang open(2)). */
static int open_input(const char *path, int *fd, const char **name, size_t *size, bool *regular, char *err,
                      size_t errlen)
{
    *name = strcmp(path, "-") ? path : "standard input";
    *fd = strcmp(path, "-") ? open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC) : STDIN_FILENO;
    if (*fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return CHG_EIO;
    }
    /* standard input is the shell's: a pipe there has its writer */
    int rc = open_checks(*fd, *name, *fd != STDIN_FILENO, size, regular, err, errlen);
    if (rc != CHG_OK && *fd != STDIN_FILENO)
        close(*fd);
    return rc;
}

/* Read a whole document from path ("-" is standard input) into a new
 * NUL-terminated buffer the caller frees. max 0 means CHG_INPUT_MAX.
 * On failure *data is NULL and err names the input; CHG_ERANGE means
 * larger than the limit, CHG_ENOTREG a directory or device. */
int chg_input_read(const char *path, size_t max, char **data, size_t *len, char *err, size_t errlen)
{
    *data = NULL;
    *len = 0;
    int fd;
    const char *name;
    size_t size;
    bool regular;
    int rc = open_input(path, &fd, &name, &size, &regular, err, errlen);
    if (rc != CHG_OK)
        return rc;
    if (!max)
        max = CHG_INPUT_MAX;
    rc = chg_read_fd(fd, size, max, data, len);
    int saved = errno; /* the read's, for CHG_EIO */
    if (rc == CHG_ERANGE)
        snprintf(err, errlen, "%s: larger than the limit (%zu bytes)", name, max);
    else if (rc != CHG_OK)
        snprintf(err, errlen, "%s: %s", name, rc == CHG_EIO ? strerror(saved) : chg_strerror(rc));
    if (fd != STDIN_FILENO)
        close(fd);
    return rc;
}

/* ---- JSON lines -------------------------------------------------------------------- */

/* A buffered reader over a descriptor, or over memory: lines are found
 * with memchr and handed out in place when they lie whole in the buffer,
 * copied into `line` only when they cross a refill. Reads are read(2)s of
 * what is there, not fread's fill-the-buffer, so a line is handed out as
 * soon as it arrives (a pipe from a slow producer, a terminal). */
#define LINES_BUF 65536

struct chg_lines {
    int fd;                 /* -1: reading memory */
    bool owned;             /* close fd at the end (not stdin) */
    bool eof;
    const char *name;
    size_t max;
    unsigned long lineno;
    bool regular;           /* a regular file: a read never waits for a writer */
    void (*on_wait)(void *);/* called before a read that would wait */
    void *on_wait_ud;
    const char *data;       /* the unread bytes are data[pos..end) */
    size_t pos, end;
    chg_buf line;
    char buf[LINES_BUF];
};

/* Only the header is cleared: the 64 KiB buffer is written before it is
 * read, and clearing it would cost a page fault per page for nothing. */
static chg_lines *lines_new(int fd, const char *name, size_t max_line)
{
    chg_lines *r = chg_malloc(sizeof *r);
    if (!r)
        return NULL;
    memset(r, 0, offsetof(chg_lines, buf));
    r->fd = fd;
    r->name = name;
    r->max = max_line ? max_line : CHG_INPUT_MAX_LINE;
    r->data = r->buf;
    chg_buf_init(&r->line);
    return r;
}

chg_lines *chg_lines_open(const char *path, size_t max_line, char *err, size_t errlen)
{
    int fd;
    const char *name;
    size_t size;
    bool regular;
    if (open_input(path, &fd, &name, &size, &regular, err, errlen) != CHG_OK)
        return NULL;
    chg_lines *r = lines_new(fd, name, max_line);
    if (!r) {
        if (fd != STDIN_FILENO)
            close(fd);
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    r->owned = fd != STDIN_FILENO;
    r->regular = regular;
    return r;
}

/* Lines over a caller's buffer, which must outlive the reader: data is
 * read in place and never copied (only lines are, never here, since a
 * line cannot cross a refill when there is none). */
chg_lines *chg_lines_memory(const char *data, size_t len, const char *name, size_t max_line)
{
    chg_lines *r = lines_new(-1, name, max_line);
    if (r) {
        r->data = data;
        r->end = len;
        r->eof = true; /* nothing to read beyond it */
    }
    return r;
}

/* Whether chg_lines_next can return without waiting for a producer: a
 * whole line (or the end) is buffered, or the input is a regular file.
 * The threaded --jsonl reader hands out a partial batch when not, so the
 * on-wait hook, which writes every batch handed out, can answer it. */
bool chg_lines_buffered(const chg_lines *r)
{
    return r->regular || r->eof || memchr(r->data + r->pos, '\n', r->end - r->pos) != NULL;
}

void chg_lines_on_wait(chg_lines *r, void (*fn)(void *ud), void *ud)
{
    r->on_wait = fn;
    r->on_wait_ud = ud;
}

/* Would a read now wait? Only a pipe, FIFO or terminal can make it. */
static bool would_wait(chg_lines *r)
{
    if (r->regular || r->fd < 0)
        return false;
    struct pollfd pfd = {.fd = r->fd, .events = POLLIN};
    return poll(&pfd, 1, 0) == 0; /* data, an end or an error: read answers at once */
}

/* The next non-blank line, without its '\n' and trailing '\r's (CRLF
 * files): 1 with *line valid until the next call, 0 at the end, or a
 * status. A line over the limit is CHG_ERANGE with its number and the
 * reader positioned after it, so the caller reports that line and goes
 * on: one bad line does not end a stream. Blank lines count in *lineno
 * but are not returned, so numbers match an editor's. */
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
                /* Before waiting for a slow producer, let the consumer
                 * write what it has decided (also mid-line: a producer may
                 * pause half way through one). */
                if (r->on_wait && would_wait(r))
                    r->on_wait(r->on_wait_ud);
                ssize_t got = read(r->fd, r->buf, sizeof r->buf);
                if (got < 0 && errno == EINTR)
                    continue;
                if (got < 0) {
                    snprintf(err, errlen, "%s: %s", r->name, strerror(errno));
                    return CHG_EIO;
                }
                r->pos = 0;
                r->end = (size_t)got;
                if (!got) {
                    r->eof = true;
                    break;
                }
            }
            any = true;
            const char *s = r->data + r->pos;
            const char *nl = memchr(s, '\n', r->end - r->pos);
            size_t take = nl ? (size_t)(nl - s) : r->end - r->pos;
            r->pos += take + (nl != NULL);
            /* The common case: nothing carried over from an earlier refill
             * and the newline is in the buffer, so the line is handed out
             * where it lies. Otherwise pieces accumulate in r->line. */
            if (nl && !too_long && !r->line.len && take <= r->max) {
                text = s; /* the whole line is in the buffer: no copy */
                n = take;
                break;
            }
            /* Once over the limit the text is dropped, not kept: a stream
             * of one endless line must not grow memory past max. */
            if (!too_long && r->line.len + take > r->max) {
                too_long = true; /* read on to the end of the line, keep nothing */
                chg_buf_free(&r->line);
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
                chg_buf_free(&r->line);
                snprintf(err, errlen, "line %lu: out of memory", r->lineno);
                return CHG_ENOMEM;
            }
            text = r->line.data ? r->line.data : "";
            n = r->line.len;
        }
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
        close(r->fd);
    chg_buf_free(&r->line);
    chg_free(r);
}

/* ---- facts -------------------------------------------------------------------------- */

/* Read and parse a facts file (--facts): the same limits as any document,
 * and a parse error is CHG_EINVAL prefixed with the path. */
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

/* Append to out every .chg file under dir, depth first in name order.
 * Hidden entries (".git", editors' ".#x.chg") are skipped. The depth
 * limit is a backstop: links to directories are not followed, so only a
 * real tree 64 levels deep reaches it. */
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
        /* a name that cannot be copied is out of memory, not a NULL to sort */
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
        struct stat st, lst;
        if (stat(path, &st) != 0 || lstat(path, &lst) != 0) {
            chg_free(path); /* a dangling link: not ours to report */
            continue;
        }
        if (S_ISDIR(st.st_mode) && S_ISLNK(lst.st_mode)) {
            chg_free(path); /* links to directories are not followed: `..`, `/` */
        } else if (S_ISDIR(st.st_mode)) {
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

/* Expand the command line's paths: a directory becomes its .chg files (an
 * empty one is an error, since checking nothing would pass), a path that
 * does not exist is an error here, and anything else ("-", a file, a
 * pipe) is kept as given for its reader to accept or refuse. */
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
