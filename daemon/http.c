/*
 * http.c — chgd's HTTP server on libmicrohttpd: one internal polling
 * thread on epoll hands connections to a pool of worker threads; each
 * worker runs requests to completion (api.c), evaluating on its own
 * context (engine.c). Here: reading bodies within the limits, bearer
 * tokens, and turning an answer into a response.
 *
 * Limits, so that no client can hold the daemon: a body larger than
 * max-body is not kept (413, read and dropped), a JSON body nested deeper
 * than max-depth is refused before any parser sees it (400), at most
 * max-connections at once, and a connection idle for `timeout` seconds
 * (a slow client, slowloris) is closed.
 */
#include "chgd.h"

#include <errno.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct MHD_Daemon *daemon_;
static char *tls_cert, *tls_key;
static size_t tls_key_len;
atomic_int chgd_inflight;

/* ---- tokens -------------------------------------------------------------------------- */

/* Tokens are kept as their SHA-256: compared digest to digest in constant
 * time, against every token (no early exit), so timing tells nothing of
 * how much of a guess was right nor which token matched. */
typedef struct token {
    unsigned char digest[32];
    int scope; /* 1 read, 2 write */
} token;
static token *tokens;
static size_t ntokens;

static void digest(const char *s, size_t n, unsigned char out[32])
{
    unsigned int len = 0;
    EVP_Digest(s, n, out, &len, EVP_sha256(), NULL);
}

int chgd_tokens_load(const char *path, char *err, size_t errlen)
{
    char *data;
    size_t len;
    int rc = chg_read_file_max(path, &data, &len, 1 << 20);
    if (rc != CHG_OK) {
        snprintf(err, errlen, "--token-file %s: %s", path, rc == CHG_EIO ? strerror(errno) : chg_strerror(rc));
        return rc;
    }
    token *list = NULL;
    size_t n = 0;
    unsigned lineno = 0;
    rc = CHG_OK;
    for (char *line = data, *next; line && rc == CHG_OK; line = next) {
        lineno++;
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\r' || line[l - 1] == ' ' || line[l - 1] == '\t'))
            line[--l] = 0;
        while (*line == ' ' || *line == '\t')
            line++;
        if (!*line || *line == '#')
            continue;
        int scope = !strncmp(line, "read ", 5) ? 1 : !strncmp(line, "write ", 6) ? 2 : 0;
        const char *t = scope ? line + (scope == 1 ? 5 : 6) : NULL;
        while (t && *t == ' ')
            t++;
        bool printable = t != NULL;
        for (const char *p = t; p && *p; p++)
            printable &= *p > 0x20 && *p < 0x7f;
        /* the message never quotes the line: it holds a secret */
        if (!scope || !printable)
            snprintf(err, errlen, "%s:%u: expected 'read TOKEN' or 'write TOKEN' (a token of printable characters, no blanks)", path, lineno);
        else if (strlen(t) < 16)
            snprintf(err, errlen, "%s:%u: a token must be at least 16 characters long", path, lineno);
        else {
            token *g = chg_realloc(list, (n + 1) * sizeof *list);
            if (!g) {
                snprintf(err, errlen, "out of memory");
                rc = CHG_ENOMEM;
                break;
            }
            list = g;
            digest(t, strlen(t), list[n].digest);
            list[n++].scope = scope;
            continue;
        }
        rc = CHG_EINVAL;
    }
    OPENSSL_cleanse(data, len);
    chg_free(data);
    if (rc == CHG_OK && n == 0) {
        snprintf(err, errlen, "%s: no token (lines 'read TOKEN' or 'write TOKEN')", path);
        rc = CHG_EINVAL;
    }
    if (rc != CHG_OK) {
        chg_free(list);
        return rc;
    }
    chg_free(tokens);
    tokens = list;
    ntokens = n;
    return CHG_OK;
}

/* The scope of an Authorization header: 0 none given, -1 malformed or
 * unknown, else the token's (write grants read). */
static int scope_of(const char *auth)
{
    if (!auth)
        return 0;
    if (strncasecmp(auth, "Bearer ", 7) != 0)
        return -1;
    const char *t = auth + 7;
    while (*t == ' ')
        t++;
    unsigned char d[32];
    digest(t, strlen(t), d);
    int scope = 0;
    for (size_t i = 0; i < ntokens; i++) {
        int same = CRYPTO_memcmp(d, tokens[i].digest, 32) == 0;
        int s = tokens[i].scope * same;
        scope = s > scope ? s : scope;
    }
    return scope ? scope : -1;
}

/* ---- requests ---------------------------------------------------------------------------- */

typedef struct req_state {
    chg_buf body;
    bool too_big;
    bool answered;          /* handled: the response is queued, or waited for */
    bool waiting;           /* suspended until the engine's answer is complete */
    struct timespec t0;
    struct MHD_Connection *conn;
    chgd_answer a;
    chgd_later later;
    const char *route;
} req_state;

/* Requests suspended while the store commits: MHD_stop_daemon must not
 * run while one is. */
static atomic_int suspended;

static double since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Deeper than max? A scan of brackets outside strings, before any parser
 * (a parser's recursion is what a hostile body aims at). */
bool chgd_json_too_deep(const char *s, size_t n, long max)
{
    long depth = 0;
    bool str = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                str = false;
        } else if (c == '"')
            str = true;
        else if (c == '[' || c == '{') {
            if (++depth > max)
                return true;
        } else if (c == ']' || c == '}')
            depth--;
    }
    return false;
}

static enum MHD_Result respond(struct MHD_Connection *conn, chgd_answer *a)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(a->body.len, a->body.data ? a->body.data : (void *)"", MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", a->text ? "text/plain; version=0.0.4; charset=utf-8"
                                               : a->ndjson ? "application/x-ndjson" : "application/json");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (a->replayed)
        MHD_add_response_header(r, "Idempotent-Replayed", "true");
    if (a->status == 401)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"chgd\"");
    if (a->status == 405 && a->allow)
        MHD_add_response_header(r, "Allow", a->allow);
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)a->status, r);
    MHD_destroy_response(r);
    return rc;
}

/* Queue the response of a handled request, count and log it. */
static enum MHD_Result reply(req_state *st, struct MHD_Connection *conn, const char *url, const char *method)
{
    chgd_answer *a = &st->a;
    if (a->body.oom) {
        chg_buf_free(&a->body);
        chg_buf_init(&a->body);
        chgd_error(a, 503, "out_of_memory", "out of memory: try again");
    }
    double secs = since(&st->t0);
    chgd_metrics_request(st->route, a->status, secs);
    chgd_log(a->status >= 500 ? LOG_ERROR : LOG_DEBUG, "%s %.200s %d %.1f ms%s", method, url, a->status,
             secs * 1e3, a->replayed ? " (replayed)" : "");
    enum MHD_Result rc = respond(conn, a);
    chg_buf_free(&a->body);
    return rc;
}

/* A handler that waits for the store suspends the connection (this
 * thread serves its others meanwhile) and the writer's callback resumes
 * it: libmicrohttpd then calls handler() again, which replies. */
static void later_suspend(void *ud)
{
    req_state *st = ud;
    st->waiting = true;
    atomic_fetch_add(&suspended, 1);
    MHD_suspend_connection(st->conn);
}

static void later_resume(void *ud)
{
    req_state *st = ud;
    /* once resumed, st and the connection are libmicrohttpd's again (and
     * may be gone): only the counter is touched after */
    MHD_resume_connection(st->conn);
    atomic_fetch_sub(&suspended, 1);
}

/* Answer the request: run its checks and its handler (api.c) and queue
 * the response, unless the handler answers later. */
static enum MHD_Result finish(req_state *st, struct MHD_Connection *conn, const char *url, const char *method)
{
    st->answered = true;
    st->conn = conn;
    st->later = (chgd_later){later_suspend, later_resume, st};
    chgd_answer *a = &st->a;
    *a = (chgd_answer){.later = &st->later};
    chg_buf_init(&a->body);
    st->route = "unmatched";
    int scope = scope_of(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization"));
    chgd_request r = {.method = method, .path = url, .conn = conn, .body = st->body.data ? st->body.data : "",
                      .len = st->body.len, .scope = scope < 0 ? 0 : scope, .bad_token = scope < 0};
    if (st->body.oom)
        chgd_error(a, 503, "out_of_memory", "out of memory: try again");
    else if (st->too_big)
        r.len = SIZE_MAX; /* api.c answers 413 once the route and the token are checked */
    else if (st->body.len && chgd_json_too_deep(st->body.data, st->body.len, chgd_cfg->max_depth))
        r.len = SIZE_MAX - 1; /* api.c: 400 too_deep, after the same checks */
    if (!a->status)
        chgd_api_handle(&r, a, &st->route);
    /* pending: the writer completes *a and resumes the connection, maybe
     * already: nothing here touches it again */
    return a->pending ? MHD_YES : reply(st, conn, url, method);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    req_state *st = *con_cls;
    if (!st) {
        st = chg_calloc(1, sizeof *st);
        if (!st)
            return MHD_NO;
        clock_gettime(CLOCK_MONOTONIC, &st->t0);
        chg_buf_init(&st->body);
        atomic_fetch_add(&chgd_inflight, 1);
        *con_cls = st;
        /* a body announced larger than the limit is answered at once,
         * before a byte of it is read; the connection is then closed */
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > (unsigned long long)chgd_cfg->max_body) {
            st->too_big = true;
            return finish(st, conn, url, method);
        }
        return MHD_YES;
    }
    if (st->waiting) { /* resumed: the answer is complete */
        st->waiting = false;
        return reply(st, conn, url, method);
    }
    if (st->answered) { /* the rest of a body already refused */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!st->too_big && st->body.len + *upload_size > (size_t)chgd_cfg->max_body) {
            st->too_big = true;
            chg_buf_free(&st->body);
            chg_buf_init(&st->body);
        }
        if (!st->too_big)
            chg_buf_append(&st->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    return finish(st, conn, url, method);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    req_state *st = *con_cls;
    if (!st)
        return;
    chg_buf_free(&st->body);
    chg_free(st);
    *con_cls = NULL;
    atomic_fetch_sub(&chgd_inflight, 1);
}

/* URLs reach the handlers undecoded: api.c splits the path into segments
 * first and decodes each, so an id holding "%2F" stays one segment. */
static size_t unescape_none(void *cls, struct MHD_Connection *c, char *s)
{
    return strlen(s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = 0;
    chgd_log(LOG_WARN, "http: %s", msg);
}

int chgd_http_start(const chgd_config *c, char *err, size_t errlen)
{
    struct sockaddr_storage sa;
    socklen_t salen;
    int rc = chgd_listen_parse(c->listen, &sa, &salen, err, errlen);
    if (rc != CHG_OK)
        return rc;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME;
    if (sa.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* TLS: the PEM files are read here, held in memory for the daemon's
     * life (libmicrohttpd keeps pointers to them), and the key wiped at
     * stop */
    if (c->tls_cert) {
        size_t len;
        rc = chg_read_file_max(c->tls_cert, &tls_cert, &len, 1 << 20);
        if (rc == CHG_OK)
            rc = chg_read_file_max(c->tls_key, &tls_key, &tls_key_len, 1 << 20);
        if (rc != CHG_OK) {
            snprintf(err, errlen, "%s: %s", tls_key ? c->tls_key : c->tls_cert,
                     rc == CHG_EIO ? strerror(errno) : chg_strerror(rc));
            return rc;
        }
        flags |= MHD_USE_TLS;
        if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
            snprintf(err, errlen, "--tls-cert: this libmicrohttpd was built without TLS");
            return CHG_EINVAL;
        }
    }
    /* HTTPS options only with MHD_USE_TLS (libmicrohttpd refuses them without) */
    struct MHD_OptionItem tls[] = {{MHD_OPTION_HTTPS_MEM_CERT, 0, tls_cert},
                                   {MHD_OPTION_HTTPS_MEM_KEY, 0, tls_key},
                                   {MHD_OPTION_END, 0, NULL}};
    daemon_ = MHD_start_daemon(flags, 0, NULL, NULL, handler, NULL, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                               MHD_OPTION_ARRAY, tls_cert ? tls : tls + 2, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                               MHD_OPTION_THREAD_POOL_SIZE, (unsigned)c->threads, MHD_OPTION_CONNECTION_LIMIT,
                               (unsigned)c->max_connections, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)c->timeout,
                               MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_UNESCAPE_CALLBACK,
                               unescape_none, NULL, MHD_OPTION_END);
    if (!daemon_) {
        snprintf(err, errlen, "cannot listen on %s: %s", c->listen, strerror(errno));
        return CHG_EIO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
    char host[64];
    snprintf(host, sizeof host, "%.*s", (int)(strrchr(c->listen, ':') - c->listen), c->listen);
    chgd_log(LOG_INFO, "listening on %s:%u (%ld threads%s)", host, info ? (unsigned)info->port : 0, c->threads,
             tls_cert ? ", TLS" : "");
    return CHG_OK;
}

void chgd_http_stop(int grace)
{
    if (!daemon_)
        return;
    /* no new connections; the requests in flight finish and are answered */
    MHD_socket s = MHD_quiesce_daemon(daemon_);
    if (s != MHD_INVALID_SOCKET)
        close(s);
    for (int i = 0; i < grace * 100 && atomic_load(&chgd_inflight) > 0; i++)
        usleep(10000);
    if (atomic_load(&chgd_inflight) > 0)
        chgd_log(LOG_WARN, "stopping with %d requests still open", atomic_load(&chgd_inflight));
    /* a request suspended for its commit is resumed by the store's writer,
     * which runs until the store is closed, after this: wait for it */
    while (atomic_load(&suspended) > 0)
        usleep(1000);
    MHD_stop_daemon(daemon_);
    daemon_ = NULL;
    if (tls_key)
        OPENSSL_cleanse(tls_key, tls_key_len);
    chg_free(tls_key);
    chg_free(tls_cert);
    tls_key = tls_cert = NULL;
    chg_free(tokens);
    tokens = NULL;
    ntokens = 0;
}
