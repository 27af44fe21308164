/*
 * client.c — one signed AWS call: the request (JSON 1.0/1.1 with
 * X-Amz-Target, or Query: Action=…&Version=…), signed by libcurl's
 * CURLOPT_AWS_SIGV4 with explicit provider, region and service, sent on
 * the calling thread's curl handle (so connections are reused per
 * thread), AWS's error body mapped to its code, and the SDKs' standard
 * retry mode around it (botocore retries/standard.py): at most
 * max_attempts requests, a retry only for throttling, transient errors
 * (5xx, timeouts, failed connections), each after a full-jitter
 * exponential backoff min(rand() * 2^(attempt-1) s, 20 s), each paid from
 * a quota of 500 (5 a retry, 10 after a timeout; a success gives back 1,
 * or what its retries cost).
 */
#define _GNU_SOURCE
#include "aws_int.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BODY_MAX (8u << 20)
#define QUOTA_MAX 500
#define RETRY_COST 5
#define TIMEOUT_COST 10

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* The calling thread's handle, reset to defaults (curl_easy_reset keeps
 * its connection and DNS caches: the point of keeping it). */
static CURL *thread_curl(chg_aws *a)
{
    pthread_once(&global_once, global_init);
    CURL *h = pthread_getspecific(a->curl_key);
    if (h) {
        curl_easy_reset(h);
        return h;
    }
    h = curl_easy_init();
    if (h)
        pthread_setspecific(a->curl_key, h);
    return h;
}

typedef struct sink {
    chg_buf *out;
    bool over;
} sink;

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    sink *s = ud;
    if (s->out->len + n > BODY_MAX) {
        s->over = true;
        return 0; /* curl stops: an answer that large is no answer of ours */
    }
    chg_buf_append(s->out, p, n);
    return s->out->oom ? 0 : n;
}

/* curl asks while a transfer runs (about once a second while it waits):
 * a nonzero answer ends it. */
static int on_progress(void *ud, curl_off_t dlt, curl_off_t dln, curl_off_t ult, curl_off_t uln)
{
    (void)dlt, (void)dln, (void)ult, (void)uln;
    const chg_aws *a = ud;
    return a->cancelled(a->cancel_ud) ? 1 : 0;
}

int chg_aws_http(chg_aws *a, const char *method, const char *url, const char *const *headers, const char *body,
                 const char *sigv4, const aws_creds *creds, long timeout_ms, int *status, chg_buf *out,
                 chg_aws_error *err)
{
    *status = 0;
    CURL *h = thread_curl(a);
    if (!h) {
        chg_aws_seterr(err, 0, "ConnectionFailed", "cannot make a curl handle");
        return CHG_EIO;
    }
    struct curl_slist *hl = NULL;
    for (size_t i = 0; headers && headers[i]; i++) {
        struct curl_slist *t = curl_slist_append(hl, headers[i]);
        if (!t) {
            curl_slist_free_all(hl);
            chg_aws_seterr(err, 0, "ConnectionFailed", "out of memory");
            return CHG_ENOMEM;
        }
        hl = t;
    }
    sink s = {out, false};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, a->connect_ms < timeout_ms ? a->connect_ms : timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "chg/" CHG_VERSION_STRING);
    if (a->cancelled) {
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, a);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    }
    if (!strcmp(method, "POST")) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
    } else if (strcmp(method, "GET"))
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (sigv4) {
        curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4);
        curl_easy_setopt(h, CURLOPT_USERNAME, creds->akid);
        curl_easy_setopt(h, CURLOPT_PASSWORD, creds->secret);
    }
    CURLcode cc = curl_easy_perform(h);
    curl_slist_free_all(hl);
    /* the handle outlives this call: forget the credentials in it */
    curl_easy_setopt(h, CURLOPT_USERNAME, "");
    curl_easy_setopt(h, CURLOPT_PASSWORD, "");
    if (out->oom) {
        chg_aws_seterr(err, 0, "ConnectionFailed", "out of memory");
        return CHG_ENOMEM;
    }
    if (s.over) {
        chg_aws_seterr(err, 0, "MalformedResponse", "the answer is larger than %u bytes", BODY_MAX);
        return CHG_EIO;
    }
    if (cc != CURLE_OK) {
        /* curl's message names the host and the cause, never a header */
        const char *code = cc == CURLE_OPERATION_TIMEDOUT      ? "RequestTimeout"
                           : cc == CURLE_ABORTED_BY_CALLBACK ? "RequestAborted"
                                                             : "ConnectionFailed";
        chg_aws_seterr(err, 0, code, "%s", curl_easy_strerror(cc));
        return CHG_EIO;
    }
    long st = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
    *status = (int)st;
    return CHG_OK;
}

/* ---- AWS's errors -------------------------------------------------------------------------- */

/* Throttling codes and transient ones, as botocore's standard mode lists them. */
static const char *const throttling[] = {
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
    "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled",
    "SlowDown", "PriorRequestNotComplete", "EC2ThrottledException", NULL};
static const char *const transient[] = {"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete",
                                        "InternalError", "InternalFailure", "ServiceUnavailable",
                                        "ConnectionFailed", NULL};

static bool listed(const char *const *list, const char *code)
{
    for (size_t i = 0; list[i]; i++)
        if (!strcmp(list[i], code))
            return true;
    return false;
}

bool chg_aws_retryable(const chg_aws_error *e)
{
    return listed(throttling, e->code) || listed(transient, e->code) || e->http == 500 || e->http == 502 ||
           e->http == 503 || e->http == 504;
}

/* "com.amazon.coral.service#ThrottlingException" and
 * "ThrottlingException:http://internal.amazon.com/..." are both
 * ThrottlingException (botocore parsers.py). */
static void clean_code(const char *raw, char *code, size_t n)
{
    const char *hash = strrchr(raw, '#');
    const char *s = hash ? hash + 1 : raw;
    size_t len = strcspn(s, ":");
    size_t k = 0;
    for (size_t i = 0; i < len && k + 1 < n; i++)
        if ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
            s[i] == '.' || s[i] == '_')
            code[k++] = s[i];
    code[k] = 0;
}

/* The error an answer with status >= 300 carries: the code from the JSON
 * body's __type (or code), the x-amzn-ErrorType header having been folded
 * into the body by none of our services, or the Query XML's Error/Code;
 * the message escaped for a terminal. What is not an AWS error body is
 * "HttpError" with the status. */
static void parse_error(int proto, int status, const chg_buf *body, chg_aws_error *err)
{
    char raw[128] = "", msg[300] = "";
    if (proto == AWS_JSON) {
        json_error_t je;
        json_t *j = body->len ? json_loadb(body->data, body->len, 0, &je) : NULL;
        const char *t = json_string_value(json_object_get(j, "__type"));
        if (!t)
            t = json_string_value(json_object_get(j, "code"));
        const char *m = json_string_value(json_object_get(j, "message"));
        if (!m)
            m = json_string_value(json_object_get(j, "Message"));
        if (t)
            snprintf(raw, sizeof raw, "%s", t);
        if (m)
            snprintf(msg, sizeof msg, "%s", m);
        json_decref(j);
    } else {
        chg_buf t;
        chg_buf_init(&t);
        static const char *const code_path[] = {"Error", "Code", NULL};
        static const char *const msg_path[] = {"Error", "Message", NULL};
        if (chg_aws_xml_text(body->data, body->len, code_path, &t) && t.data)
            snprintf(raw, sizeof raw, "%s", t.data);
        chg_buf_reset(&t);
        if (chg_aws_xml_text(body->data, body->len, msg_path, &t) && t.data)
            snprintf(msg, sizeof msg, "%s", t.data);
        chg_buf_free(&t);
    }
    char code[64];
    clean_code(raw, code, sizeof code);
    chg_buf vis;
    chg_buf_init(&vis);
    chg_buf_put_visible(&vis, msg, strlen(msg));
    if (code[0])
        chg_aws_seterr(err, status, code, "%s", vis.data ? vis.data : "");
    else
        chg_aws_seterr(err, status, status >= 500 ? "ServiceUnavailable" : "HttpError", "HTTP %d", status);
    chg_buf_free(&vis);
}

/* ---- the call ---------------------------------------------------------------------------- */

/* The standard mode's wait before retry number `attempt` (1 for the
 * first): full jitter, rand() * min(2^(attempt-1), 20) seconds. */
void chg_aws_backoff(int attempt)
{
    double cap = (double)(1L << (attempt - 1 < 5 ? attempt - 1 : 5));
    double s = (double)arc4random() / 4294967296.0 * (cap < 20 ? cap : 20);
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Take the cost of one more attempt from the quota; false when it is spent. */
static bool quota_take(chg_aws *a, long cost)
{
    pthread_mutex_lock(&a->mu);
    bool ok = a->quota >= cost;
    if (ok)
        a->quota -= cost;
    pthread_mutex_unlock(&a->mu);
    return ok;
}

static void quota_give(chg_aws *a, long n)
{
    pthread_mutex_lock(&a->mu);
    a->quota = a->quota + n > QUOTA_MAX ? QUOTA_MAX : a->quota + n;
    pthread_mutex_unlock(&a->mu);
}

/* A credentials error from AWS means the cached ones are no good: the
 * next call looks them up again. */
static void forget_creds(chg_aws *a)
{
    pthread_mutex_lock(&a->mu);
    chg_aws_creds_clear(&a->creds);
    a->have_creds = false;
    pthread_mutex_unlock(&a->mu);
}

static int call(chg_aws *a, const aws_service *s, const char *op, const char *body, chg_buf *out,
                chg_aws_error *err)
{
    char url[1024];
    if (chg_aws_endpoint(a, s->id, url, sizeof url, err) != CHG_OK)
        return CHG_EINVAL;
    if (!a->region[0]) {
        /* SigV4 signs for a region: curl's guess from the host name is
         * wrong for every endpoint override */
        chg_aws_seterr(err, 0, "ConfigError",
                       "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, or region in the profile '%.64s')",
                       a->profile);
        return CHG_EINVAL;
    }
    char ctype[80], target[160], sigv4[160];
    if (s->protocol == AWS_JSON) {
        snprintf(ctype, sizeof ctype, "Content-Type: application/x-amz-json-%s", s->json_version);
        snprintf(target, sizeof target, "X-Amz-Target: %s.%s", s->target, op);
    } else
        snprintf(ctype, sizeof ctype, "Content-Type: application/x-www-form-urlencoded; charset=utf-8");
    snprintf(sigv4, sizeof sigv4, "aws:amz:%s:%s", a->region, s->prefix);
    long cost = 0; /* what the retries so far took from the quota */
    int rc = CHG_EIO;
    for (int attempt = 1;; attempt++) {
        aws_creds c = {0};
        memset(err, 0, sizeof *err);
        if ((rc = chg_aws_creds_get(a, &c, err)) != CHG_OK) {
            err->attempts = attempt - 1;
            return rc;
        }
        /* every header here is signed: curl signs all of CURLOPT_HTTPHEADER */
        chg_buf tok;
        chg_buf_init(&tok);
        if (c.token)
            chg_buf_printf(&tok, "X-Amz-Security-Token: %s", c.token);
        const char *headers[5];
        size_t nh = 0;
        headers[nh++] = ctype;
        if (s->protocol == AWS_JSON)
            headers[nh++] = target;
        if (c.token)
            headers[nh++] = tok.data;
        headers[nh] = NULL;
        int status = 0;
        chg_buf_reset(out);
        rc = tok.oom ? CHG_ENOMEM
                     : chg_aws_http(a, "POST", url, headers, body, sigv4, &c, a->timeout_ms, &status, out, err);
        chg_buf_free(&tok);
        chg_aws_creds_clear(&c);
        err->attempts = attempt;
        if (rc == CHG_ENOMEM)
            return rc;
        if (rc == CHG_OK && status >= 200 && status < 300) {
            quota_give(a, cost ? cost : 1);
            return CHG_OK;
        }
        if (rc == CHG_OK)
            parse_error(s->protocol, status, out, err);
        err->attempts = attempt;
        if (!strncmp(err->code, "ExpiredToken", 12) || !strcmp(err->code, "InvalidClientTokenId") ||
            !strcmp(err->code, "UnrecognizedClientException"))
            forget_creds(a);
        if (attempt >= a->max_attempts || !chg_aws_retryable(err))
            return CHG_EIO;
        long c2 = !strcmp(err->code, "RequestTimeout") ? TIMEOUT_COST : RETRY_COST;
        if (!quota_take(a, c2))
            return CHG_EIO; /* the quota is spent: fail fast, as the SDKs do */
        cost += c2;
        chg_aws_backoff(attempt);
    }
}

int chg_aws_json_call(chg_aws *a, const char *service, const char *op, const char *body, chg_buf *out,
                      chg_aws_error *err)
{
    const aws_service *s = chg_aws_service(service);
    if (!s || s->protocol != AWS_JSON) {
        chg_aws_seterr(err, 0, "ConfigError", "'%s' is no JSON-protocol service of the client", service);
        return CHG_EINVAL;
    }
    chg_buf tmp;
    chg_buf_init(&tmp);
    int rc = call(a, s, op, body, &tmp, err);
    if (rc == CHG_OK)
        chg_buf_append(out, tmp.data ? tmp.data : "", tmp.len);
    chg_buf_free(&tmp);
    return rc;
}

void chg_aws_urlencode(chg_buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
            *p == '_' || *p == '.' || *p == '~')
            chg_buf_putc(out, (char)*p);
        else {
            chg_buf_putc(out, '%');
            chg_buf_putc(out, hex[*p >> 4]);
            chg_buf_putc(out, hex[*p & 15]);
        }
    }
}

int chg_aws_query_call(chg_aws *a, const char *service, const char *op, const char *params, chg_buf *out,
                       chg_aws_error *err)
{
    const aws_service *s = chg_aws_service(service);
    if (!s || s->protocol != AWS_QUERY) {
        chg_aws_seterr(err, 0, "ConfigError", "'%s' is no Query-protocol service of the client", service);
        return CHG_EINVAL;
    }
    chg_buf body, tmp;
    chg_buf_init(&body);
    chg_buf_init(&tmp);
    chg_buf_puts(&body, "Action=");
    chg_aws_urlencode(&body, op);
    chg_buf_puts(&body, "&Version=");
    chg_aws_urlencode(&body, s->api_version);
    if (params && *params) {
        chg_buf_putc(&body, '&');
        chg_buf_puts(&body, params);
    }
    int rc = body.oom ? CHG_ENOMEM : call(a, s, op, body.data, &tmp, err);
    if (rc == CHG_OK)
        chg_buf_append(out, tmp.data ? tmp.data : "", tmp.len);
    chg_buf_free(&body);
    chg_buf_free(&tmp);
    return rc;
}
