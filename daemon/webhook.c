/*
 * webhook.c — the `webhook(target, payload)` action: POST the payload as
 * JSON to a target the operator configured (`--webhook NAME=URL`), signed
 * with that target's secret (`--webhook-secret NAME=FILE`):
 *
 *     X-Chg-Signature: sha256=HEX(HMAC-SHA256(secret, body))
 *
 * as ITSM and chat tools verify a sender (GitHub's X-Hub-Signature-256 is
 * the same construction). The body is the payload exactly as the decision
 * holds it (compact JSON, keys sorted), so a receiver can check the bytes
 * it got. Idempotency-Key carries the action's key: the same on every
 * attempt.
 *
 * Why a policy names a target and never a URL: where chgd may send data,
 * and with which secret, is the operator's decision, not the policy
 * author's — a policy cannot make chgd post to an address nobody
 * configured (no SSRF through a policy or an event), and a URL or secret
 * can change without recompiling the policy.
 *
 * Outcomes: 2xx ok; 408, 429, 5xx, a timeout or a failed connection
 * retryable; any other status (other 4xx, a redirect, which is not
 * followed) permanent; an unknown target permanent.
 */
#include "chgd.h"
#include "executor.h"

#include <curl/curl.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

typedef struct target {
    char *name, *url;
    unsigned char *secret;
    size_t secret_len;
} target;

typedef struct webhooks {
    target *t;
    size_t n;
    long connect_timeout, timeout;
} webhooks;

static webhooks hooks;

/* "NAME=VALUE": the name's length, or 0 when the form is wrong. */
static size_t name_len(const char *s)
{
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.");
    return n && s[n] == '=' && s[n + 1] ? n : 0;
}

static const char *find_value(const chg_vec *v, const char *name, size_t n)
{
    for (size_t i = 0; i < v->len; i++) {
        const char *s = v->items[i];
        if (name_len(s) == n && !strncmp(s, name, n))
            return s + n + 1;
    }
    return NULL;
}

/* The secret: the file's bytes without one final newline ("\n" or
 * "\r\n", as an editor writes it); any other byte, a "\r" or a second
 * newline included, is part of it. Never empty. */
static int read_secret(const char *path, unsigned char **out, size_t *len, char *err, size_t errlen)
{
    char *data;
    size_t n;
    if (chg_read_file_max(path, &data, &n, 64 * 1024) != CHG_OK) {
        snprintf(err, errlen, "--webhook-secret: cannot read %s", path);
        return CHG_EINVAL;
    }
    if (n && data[n - 1] == '\n')
        n -= n >= 2 && data[n - 2] == '\r' ? 2 : 1;
    if (!n) {
        chg_free(data);
        snprintf(err, errlen, "--webhook-secret: %s is empty", path);
        return CHG_EINVAL;
    }
    *out = (unsigned char *)data;
    *len = n;
    return CHG_OK;
}

int chgd_webhooks_check(const chgd_config *c, char *err, size_t errlen)
{
    for (size_t i = 0; i < c->webhooks.len; i++) {
        const char *s = c->webhooks.items[i];
        size_t n = name_len(s);
        if (!n) {
            snprintf(err, errlen, "--webhook %s: expected NAME=URL (a name of letters, digits, '_', '-', '.')", s);
            return CHG_EINVAL;
        }
        const char *url = s + n + 1;
        if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
            snprintf(err, errlen, "--webhook %.*s: the URL must be http:// or https://", (int)n, s);
            return CHG_EINVAL;
        }
        if (find_value(&c->webhooks, s, n) != url) {
            snprintf(err, errlen, "--webhook %.*s: given twice", (int)n, s);
            return CHG_EINVAL;
        }
        /* fail closed: an unsigned webhook could be sent by anyone */
        const char *file = find_value(&c->webhook_secrets, s, n);
        if (!file) {
            snprintf(err, errlen, "--webhook %.*s: no --webhook-secret %.*s=FILE", (int)n, s, (int)n, s);
            return CHG_EINVAL;
        }
        unsigned char *secret;
        size_t len;
        if (read_secret(file, &secret, &len, err, errlen) != CHG_OK)
            return CHG_EINVAL;
        OPENSSL_cleanse(secret, len);
        chg_free(secret);
    }
    for (size_t i = 0; i < c->webhook_secrets.len; i++) {
        const char *s = c->webhook_secrets.items[i];
        size_t n = name_len(s);
        if (!n || !find_value(&c->webhooks, s, n)) {
            snprintf(err, errlen, "--webhook-secret %.*s: %s", n ? (int)n : (int)strcspn(s, "="), s,
                     n ? "no --webhook of that name" : "expected NAME=FILE");
            return CHG_EINVAL;
        }
    }
    return CHG_OK;
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n; /* the answer's body is not needed: its status says it all */
}

static const target *find_target(const char *name)
{
    for (size_t i = 0; name && i < hooks.n; i++)
        if (!strcmp(hooks.t[i].name, name))
            return &hooks.t[i];
    return NULL;
}

static void signature(const target *t, const char *body, size_t len, char out[80])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char mac[32];
    unsigned int n = 0;
    HMAC(EVP_sha256(), t->secret, (int)t->secret_len, (const unsigned char *)body, len, mac, &n);
    memcpy(out, "sha256=", 7);
    for (unsigned i = 0; i < 32; i++) {
        out[7 + 2 * i] = hex[mac[i] >> 4];
        out[8 + 2 * i] = hex[mac[i] & 15];
    }
    out[71] = 0;
}

static chgd_exec_status post(const target *t, const char *body, size_t len, const chgd_action_call *a, char *msg,
                             size_t msglen)
{
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(msg, msglen, "webhook %s: cannot make an HTTP client", t->name);
        return CHGD_EXEC_RETRY;
    }
    char sig[80], hdr[3][256];
    signature(t, body, len, sig);
    snprintf(hdr[0], sizeof hdr[0], "X-Chg-Signature: %s", sig);
    snprintf(hdr[1], sizeof hdr[1], "Idempotency-Key: %s", a->key);
    snprintf(hdr[2], sizeof hdr[2], "X-Chg-Attempt: %d", a->attempt);
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    for (int i = 0; i < 3; i++)
        headers = curl_slist_append(headers, hdr[i]);
    headers = curl_slist_append(headers, "Expect:"); /* no 100-continue round trip */
    curl_easy_setopt(h, CURLOPT_URL, t->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for timeouts */
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, hooks.connect_timeout);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, hooks.timeout);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "chgd/" CHG_VERSION_STRING);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    /* the URL is configuration, not a secret, but may carry a token in its
     * query: messages name the target, never the URL */
    /* A 2xx status line means the target took the delivery and runs the
     * action: a body that stalls or breaks after it is not a reason to
     * deliver again (the target would act twice). */
    if (rc != CURLE_OK && status >= 200 && status < 300) {
        snprintf(msg, msglen, "webhook %s: HTTP %ld (then: %s)", t->name, status, curl_easy_strerror(rc));
        return CHGD_EXEC_OK;
    }
    if (rc != CURLE_OK) {
        bool later = rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
                     rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING ||
                     rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_PARTIAL_FILE;
        snprintf(msg, msglen, "webhook %s: %s", t->name, curl_easy_strerror(rc));
        return later ? CHGD_EXEC_RETRY : CHGD_EXEC_FAIL;
    }
    snprintf(msg, msglen, "webhook %s: HTTP %ld", t->name, status);
    if (status >= 200 && status < 300)
        return CHGD_EXEC_OK;
    if (status == 408 || status == 429 || status >= 500)
        return CHGD_EXEC_RETRY;
    if (status >= 300 && status < 400)
        snprintf(msg + strlen(msg), msglen - strlen(msg), " (a redirect: not followed)");
    return CHGD_EXEC_FAIL;
}

static chgd_exec_status execute(void *ud, const chgd_action_call *a, char *msg, size_t msglen)
{
    (void)ud;
    const char *name = json_string_value(json_object_get(a->args, "target"));
    const target *t = find_target(name);
    if (!t) {
        chg_buf names;
        chg_buf_init(&names);
        for (size_t i = 0; i < hooks.n; i++)
            chg_buf_printf(&names, "%s%s", i ? ", " : "", hooks.t[i].name);
        snprintf(msg, msglen, "no webhook target '%.64s' (configured: %s)", name ? name : "",
                 hooks.n ? names.data : "none");
        chg_buf_free(&names);
        return CHGD_EXEC_FAIL;
    }
    chg_buf body;
    chg_buf_init(&body);
    const json_t *payload = json_object_get(a->args, "payload");
    chgd_json_dump(payload ? payload : json_null(), &body);
    if (body.oom) {
        chg_buf_free(&body);
        snprintf(msg, msglen, "webhook %s: out of memory", t->name);
        return CHGD_EXEC_RETRY;
    }
    chgd_exec_status st = post(t, body.data, body.len, a, msg, msglen);
    chg_buf_free(&body);
    return st;
}

static void stop(void *ud)
{
    (void)ud;
    for (size_t i = 0; i < hooks.n; i++) {
        OPENSSL_cleanse(hooks.t[i].secret, hooks.t[i].secret_len);
        chg_free(hooks.t[i].secret);
        chg_free(hooks.t[i].name);
        chg_free(hooks.t[i].url);
    }
    chg_free(hooks.t);
    memset(&hooks, 0, sizeof hooks);
    curl_global_cleanup();
}

int chgd_webhook_register(const chgd_config *c, char *err, size_t errlen)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        snprintf(err, errlen, "webhook: libcurl cannot start");
        return CHG_EIO;
    }
    hooks.connect_timeout = c->webhook_connect_timeout;
    hooks.timeout = c->webhook_timeout;
    hooks.t = c->webhooks.len ? chg_calloc(c->webhooks.len, sizeof *hooks.t) : NULL;
    if (c->webhooks.len && !hooks.t) {
        snprintf(err, errlen, "out of memory");
        return CHG_ENOMEM;
    }
    for (size_t i = 0; i < c->webhooks.len; i++) {
        const char *s = c->webhooks.items[i];
        size_t n = name_len(s);
        target *t = &hooks.t[hooks.n++];
        t->name = chg_strndup(s, n);
        t->url = chg_strdup(s + n + 1);
        if (!t->name || !t->url ||
            read_secret(find_value(&c->webhook_secrets, s, n), &t->secret, &t->secret_len, err, errlen) != CHG_OK) {
            if (!*err)
                snprintf(err, errlen, "out of memory");
            stop(NULL);
            return CHG_EINVAL;
        }
    }
    chgd_executor e = {.name = "webhook", .prefix = "webhook", .execute = execute, .stop = stop};
    int rc = chgd_executor_register(&e);
    if (rc != CHG_OK) {
        snprintf(err, errlen, "webhook: cannot register the executor");
        stop(NULL);
    }
    return rc;
}
