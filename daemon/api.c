/*
 * api.c — the routes of chgd's API (docs/daemon.md): one table of paths,
 * methods and scopes, and the checks every request passes in a fixed
 * order before its handler runs:
 *
 *   route (404) → method (405, Allow) → token (401 none or unknown,
 *   403 read token on a write route) → ready (503) → body size (413) →
 *   body depth (400) → the handler
 *
 * Every error is {"error": {"code": …, "message": …}} with a 4xx or 5xx
 * status (chgd_error); nothing a client sends is echoed beyond 200 bytes.
 */
#include "chgd.h"

#include "chg_time.h"

#include <inttypes.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_SEGMENTS = 5, MAX_ID = 256 };

typedef struct path {
    char *seg[MAX_SEGMENTS];
    int n;
    char buf[2048];
} path;

static int hex(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decode s[0..n) into out (NUL-terminated); false for a bad
 * escape, an encoded NUL or control character, or invalid UTF-8. */
static bool decode(const char *s, size_t n, bool plus, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k + 1 >= cap)
            return false;
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            int h = i + 2 < n ? hex(s[i + 1]) : -1, l = i + 2 < n ? hex(s[i + 2]) : -1;
            if (h < 0 || l < 0)
                return false;
            c = (unsigned char)(h * 16 + l);
            i += 2;
        } else if (c == '+' && plus)
            c = ' ';
        if (c < 0x20 || c == 0x7f)
            return false;
        out[k++] = (char)c;
    }
    out[k] = 0;
    return chg_utf8_validate((const unsigned char *)out, k) == k;
}

/* Split the path into decoded segments; false when it cannot be read. */
static bool split(const char *url, path *p)
{
    p->n = 0;
    if (url[0] != '/')
        return false;
    size_t used = 0;
    const char *s = url + 1;
    for (;;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (p->n == MAX_SEGMENTS)
            return false;
        if (!decode(s, n, false, p->buf + used, sizeof p->buf - used))
            return false;
        p->seg[p->n++] = p->buf + used;
        used += strlen(p->buf + used) + 1;
        if (!e)
            return true;
        s = e + 1;
    }
}

enum route_id {
    R_HEALTHZ, R_READYZ, R_METRICS, R_STATUS, R_EVENTS, R_EVALUATE, R_CHANGES, R_CHANGE, R_APPROVALS,
    R_FLAGS, R_FLAG, R_AUDIT, R_RELOAD, R_CLOCK, R_END
};

/* The routes: path shape ("*" is one segment of the caller's), then per
 * method the scope it needs (0 none, 1 read, 2 write). */
static const struct route {
    enum route_id id;
    const char *name;       /* for metrics */
    const char *shape[4];
    const char *methods[3];
    int scope[3];
    const char *allow;
} routes[] = {
    {R_HEALTHZ, "/healthz", {"healthz"}, {"GET"}, {0}, "GET"},
    {R_READYZ, "/readyz", {"readyz"}, {"GET"}, {0}, "GET"},
    {R_METRICS, "/metrics", {"metrics"}, {"GET"}, {0}, "GET"},
    {R_STATUS, "/v1/status", {"v1", "status"}, {"GET"}, {1}, "GET"},
    {R_EVENTS, "/v1/events", {"v1", "events"}, {"POST"}, {2}, "POST"},
    {R_EVALUATE, "/v1/evaluate", {"v1", "evaluate"}, {"POST"}, {1}, "POST"},
    {R_CHANGES, "/v1/changes", {"v1", "changes"}, {"GET"}, {1}, "GET"},
    {R_CHANGE, "/v1/changes/{id}", {"v1", "changes", "*"}, {"GET"}, {1}, "GET"},
    {R_APPROVALS, "/v1/changes/{id}/approvals", {"v1", "changes", "*", "approvals"}, {"POST"}, {2}, "POST"},
    {R_END, "/v1/changes/{id}/end", {"v1", "changes", "*", "end"}, {"POST"}, {2}, "POST"},
    {R_FLAGS, "/v1/flags", {"v1", "flags"}, {"GET"}, {1}, "GET"},
    {R_FLAG, "/v1/flags/{name}", {"v1", "flags", "*"}, {"PUT", "DELETE"}, {2, 2}, "PUT, DELETE"},
    {R_AUDIT, "/v1/audit", {"v1", "audit"}, {"GET"}, {1}, "GET"},
    {R_RELOAD, "/v1/reload", {"v1", "reload"}, {"POST"}, {2}, "POST"},
    {R_CLOCK, "/v1/clock", {"v1", "clock"}, {"PUT"}, {2}, "PUT"},
};

static const struct route *match(const path *p, const char **arg)
{
    for (size_t i = 0; i < CHG_ARRAY_LEN(routes); i++) {
        const struct route *r = &routes[i];
        int n = 0;
        while (n < 4 && r->shape[n])
            n++;
        if (n != p->n)
            continue;
        bool ok = true;
        *arg = NULL;
        for (int k = 0; k < n && ok; k++) {
            if (!strcmp(r->shape[k], "*"))
                *arg = p->seg[k];
            else
                ok = !strcmp(r->shape[k], p->seg[k]);
        }
        if (ok)
            return r;
    }
    return NULL;
}

/* A query argument, decoded into buf; NULL when absent. *bad is set for
 * one that cannot be decoded. */
static const char *query(struct MHD_Connection *c, const char *name, char *buf, size_t cap, bool *bad)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
    if (!v)
        return NULL;
    if (!decode(v, strlen(v), true, buf, cap)) {
        *bad = true;
        return NULL;
    }
    return buf;
}

static bool query_int(chgd_answer *a, struct MHD_Connection *c, const char *name, long lo, long hi, long *out)
{
    char buf[64];
    bool bad = false;
    const char *v = query(c, name, buf, sizeof buf, &bad);
    if (!v && !bad)
        return true;
    char *end;
    long n = v ? strtol(v, &end, 10) : 0;
    if (bad || !*v || *end || n < lo || n > hi) {
        chgd_error(a, 400, "bad_request", "'%s' must be an integer from %ld to %ld", name, lo, hi);
        return false;
    }
    *out = n;
    return true;
}

static bool valid_flag_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.'))
            return false;
    }
    return true;
}

static void status_json(chgd_answer *a)
{
    chg_store_conn *r = chg_store_reader(chgd_store);
    chg_store_counts n;
    if (!r || chg_store_counts_get(r, &n) != CHG_OK || chg_store_durable(chgd_store) != CHG_OK) {
        chgd_error(a, 503, "store_unavailable", "the store cannot be read");
        return;
    }
    chgd_bundle *b = chgd_bundle_acquire();
    char started[32], nowbuf[32];
    int64_t now = chgd_now();
    chg_buf *o = &a->body;
    chg_buf_puts(o, "{\"version\":\"" CHG_VERSION_STRING "\",\"bundle\":");
    chgd_bundle_json(o, b);
    chg_buf_puts(o, ",\"store\":{\"backend\":");
    chg_buf_json_string(o, chg_store_backend(chgd_store), strlen(chg_store_backend(chgd_store)));
    chg_buf_puts(o, ",\"path\":");
    chg_buf_json_string(o, chg_store_path(chgd_store), strlen(chg_store_path(chgd_store)));
    chg_buf_printf(o, "},\"started_at\":\"%s\",\"uptime_seconds\":%" PRId64 ",\"dry_run\":%s,\"fake_clock\":%s,\"now\":\"%s\",",
                   chgd_time_text(chgd_started, started), now - chgd_started, chgd_cfg->dry_run ? "true" : "false",
                   chgd_clock_is_fake() ? "true" : "false", chgd_time_text(now, nowbuf));
    chg_buf_printf(o, "\"counts\":{\"changes\":%" PRId64 ",\"decisions\":%" PRId64 ",\"approvals\":%" PRId64
                      ",\"flags\":%" PRId64 ",\"actions_queued\":%" PRId64 ",\"audit_seq\":%" PRId64 "}",
                   n.changes, n.decisions, n.approvals, n.flags, n.actions_queued, n.audit_seq);
    chg_buf_puts(o, ",\"sqs\":");
    chgd_sqs_json(o);
    chg_buf_putc(o, '}');
    chgd_bundle_release(b);
    a->status = 200;
}

/* The answer of a read: what was read is answered only once it is
 * durable (a reader may see a commit the syncer has not synced yet). */
static void read_answer(chgd_answer *a, int rc, const char *what)
{
    if (rc == CHG_OK && chg_store_durable(chgd_store) != CHG_OK) {
        chg_buf_reset(&a->body);
        rc = CHG_EIO;
    }
    if (rc == CHG_OK)
        a->status = 200;
    else if (rc == CHG_ENOTFOUND)
        chgd_error(a, 404, "not_found", "%s", what);
    else if (rc == CHG_ENOMEM)
        chgd_error(a, 503, "out_of_memory", "out of memory: try again");
    else
        chgd_error(a, 503, "store_unavailable", "the store cannot be read");
}

void chgd_api_handle(const chgd_request *rq, chgd_answer *a, const char **route)
{
    path p;
    const char *arg = NULL;
    const struct route *r = split(rq->path, &p) ? match(&p, &arg) : NULL;
    if (!r) {
        chgd_error(a, 404, "not_found", "no such endpoint: %.200s", rq->path);
        return;
    }
    *route = r->name;
    int m = -1;
    for (int i = 0; i < 3 && r->methods[i]; i++)
        if (!strcmp(rq->method, r->methods[i]))
            m = i;
    if (m < 0 && !strcmp(rq->method, "HEAD") && !strcmp(r->methods[0], "GET"))
        m = 0;
    if (m < 0) {
        chgd_error(a, 405, "method_not_allowed", "%.20s is not allowed on %s (allowed: %s)", rq->method, r->name,
                   r->allow);
        a->allow = r->allow;
        return;
    }
    int need = r->scope[m];
    if (need && (rq->bad_token || rq->scope == 0)) {
        chgd_error(a, 401, "unauthorized", "%s", rq->bad_token ? "the token is not valid (Authorization: Bearer TOKEN)"
                                                               : "a token is required (Authorization: Bearer TOKEN)");
        return;
    }
    if (need > rq->scope) {
        chgd_error(a, 403, "forbidden", "%s needs a write token", r->name);
        return;
    }
    if (r->id != R_HEALTHZ && r->id != R_METRICS && !chgd_engine_ready()) {
        chgd_error(a, 503, "not_ready", "chgd is starting or stopping");
        return;
    }
    if (rq->len == SIZE_MAX) {
        chgd_error(a, 413, "too_large", "the body is larger than the limit (%ld bytes)", chgd_cfg->max_body);
        return;
    }
    if (rq->len == SIZE_MAX - 1) {
        chgd_error(a, 400, "too_deep", "the body is nested deeper than the limit (%ld levels)", chgd_cfg->max_depth);
        return;
    }
    bool has_body = rq->len > 0;
    if (arg && (strlen(arg) == 0 || strlen(arg) > MAX_ID)) {
        chgd_error(a, 400, "bad_request", "an id must be 1 to %d bytes", MAX_ID);
        return;
    }
    chg_store_conn *reader = NULL;
    switch (r->id) {
    case R_HEALTHZ:
        a->status = 200;
        chg_buf_puts(&a->body, "{\"status\":\"ok\"}");
        return;
    case R_READYZ:
        a->status = 200;
        chg_buf_puts(&a->body, "{\"ready\":true");
        if (chgd_sqs_state())
            chg_buf_printf(&a->body, ",\"sqs\":\"%s\"", chgd_sqs_state());
        chg_buf_putc(&a->body, '}');
        return;
    case R_METRICS:
        a->status = 200;
        a->text = true;
        chgd_metrics_render(&a->body);
        return;
    case R_STATUS:
        status_json(a);
        return;
    case R_EVENTS:
        if (!has_body) {
            chgd_error(a, 400, "bad_request", "the body is empty: POST an event");
            return;
        }
        {
            const char *k = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "Idempotency-Key");
            if (k && (strlen(k) == 0 || strlen(k) > MAX_ID)) {
                chgd_error(a, 400, "bad_request", "Idempotency-Key must be 1 to %d bytes", MAX_ID);
                return;
            }
            chgd_event(rq->body, rq->len, k, a);
        }
        return;
    case R_EVALUATE: {
        const char *ct = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "Content-Type");
        bool ndjson = ct && !strncasecmp(ct, "application/x-ndjson", 20);
        if (!has_body) {
            chgd_error(a, 400, "bad_request", "the body is empty: POST a change");
            return;
        }
        chgd_evaluate(rq->body, rq->len, ndjson, a);
        return;
    }
    case R_APPROVALS:
        chgd_approve(arg, rq->body, rq->len, a);
        return;
    case R_END:
        chgd_end(arg, rq->body, rq->len, a);
        return;
    case R_FLAG:
        if (!valid_flag_name(arg)) {
            chgd_error(a, 400, "bad_request", "a flag name is 1 to 128 letters, digits, '-', '_' or '.'");
            return;
        }
        chgd_flag(arg, m == 0, rq->body, rq->len, a);
        return;
    case R_CLOCK:
        chgd_clock_put(rq->body, rq->len, a);
        return;
    case R_RELOAD: {
        char err[1024];
        if (chgd_reload(&a->body, err, sizeof err) == CHG_OK)
            a->status = 200;
        else
            chgd_error(a, 422, "reload_refused", "the new policy was refused, the old one keeps serving: %s", err);
        return;
    }
    default:
        break;
    }
    /* the reads */
    reader = chg_store_reader(chgd_store);
    if (!reader) {
        chgd_error(a, 503, "store_unavailable", "the store cannot be read");
        return;
    }
    switch (r->id) {
    case R_CHANGE: {
        int rc = chg_store_change_json(reader, arg, &a->body);
        if (rc == CHG_ENOTFOUND)
            chgd_error(a, 404, "not_found", "no change with id '%.200s'", arg);
        else
            read_answer(a, rc, "");
        return;
    }
    case R_CHANGES: {
        char ob[32], sb[64], since_utc[32];
        bool bad = false;
        const char *outcome = query(rq->conn, "outcome", ob, sizeof ob, &bad);
        const char *since = query(rq->conn, "since", sb, sizeof sb, &bad);
        long limit = 100, cursor = 0;
        if (!query_int(a, rq->conn, "limit", 1, 1000, &limit) || !query_int(a, rq->conn, "cursor", 0, INT64_MAX, &cursor))
            return;
        static const char *const outcomes[] = {"allow", "pending", "defer", "deny", "error"};
        bool known = !outcome;
        for (size_t i = 0; outcome && i < CHG_ARRAY_LEN(outcomes); i++)
            known |= !strcmp(outcome, outcomes[i]);
        int64_t t = 0;
        if (bad || !known) {
            chgd_error(a, 400, "bad_request", "'outcome' must be allow, pending, defer, deny or error");
            return;
        }
        if (since && chg_time_parse_iso(since, strlen(since), &t) != CHG_OK) {
            chgd_error(a, 400, "bad_request", "'since' must be an RFC 3339 instant, such as 2026-12-02T10:00:00Z");
            return;
        }
        read_answer(a, chg_store_changes_json(reader, outcome, since ? chgd_time_text(t, since_utc) : NULL, cursor,
                                              (int)limit, &a->body), "");
        return;
    }
    case R_FLAGS:
        read_answer(a, chg_store_flags_json(reader, &a->body), "");
        return;
    case R_AUDIT: {
        long since = 0, limit = 100;
        if (!query_int(a, rq->conn, "since", 0, INT64_MAX, &since) || !query_int(a, rq->conn, "limit", 1, 1000, &limit))
            return;
        read_answer(a, chg_store_audit_json(reader, (uint64_t)since, (int)limit, &a->body), "");
        return;
    }
    default:
        chgd_error(a, 500, "internal", "no handler for %s", r->name);
    }
}
