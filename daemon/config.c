/*
 * config.c — chgd's configuration: one table of keys drives the config
 * file, the command line and --help, so every key is also a flag and the
 * two cannot drift apart (Redis's config.c does the same).
 *
 * Order: defaults, then the config file (`key value` lines, `#` comments;
 * a bad line is fatal and named FILE:LINE with the line quoted), then the
 * flags, which override the file; then chgd_config_validate checks what
 * spans keys. Nothing is half-applied: the first error stops start-up.
 */
#include "chgd.h"

#include "chg_time.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_STR, K_LIST, K_SIZE, K_INT, K_CHOICE, K_BOOL };

static const char *const levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const formats[] = {"text", "json", NULL};

static const struct key {
    const char *name;
    enum kind kind;
    size_t off;
    const char *arg;
    const char *help;
    long lo, hi;
    const char *const *choices;
} keys[] = {
#define OFF(f) offsetof(chgd_config, f)
    {"listen", K_STR, OFF(listen), "ADDR:PORT", "where to listen (default 127.0.0.1:8181; port 0: any free port)", 0, 0, NULL},
    {"policy", K_LIST, OFF(policy), "FILE", "a policy's root file (repeatable; or --bundle)", 0, 0, NULL},
    {"bundle", K_STR, OFF(bundle), "FILE.chgb", "a compiled bundle (chgc build)", 0, 0, NULL},
    {"store", K_STR, OFF(store), "FILE", "the SQLite store (default chgd.db)", 0, 0, NULL},
    {"token-file", K_STR, OFF(token_file), "FILE", "API tokens, lines 'read TOKEN' / 'write TOKEN' (required)", 0, 0, NULL},
    {"facts", K_STR, OFF(facts), "FILE", "answers of external queries and default flags (docs/facts.md)", 0, 0, NULL},
    {"tls-cert", K_STR, OFF(tls_cert), "FILE", "serve HTTPS with this PEM certificate (chain)", 0, 0, NULL},
    {"tls-key", K_STR, OFF(tls_key), "FILE", "the certificate's PEM private key", 0, 0, NULL},
    {"max-body", K_SIZE, OFF(max_body), "BYTES", "largest request body, K/M suffixes (default 1M)", 1, 1L << 30, NULL},
    {"max-depth", K_INT, OFF(max_depth), "N", "deepest JSON nesting of a body (default 64)", 1, 1000, NULL},
    {"max-connections", K_INT, OFF(max_connections), "N", "connections at once (default 256)", 1, 100000, NULL},
    {"timeout", K_INT, OFF(timeout), "SECONDS", "idle time before a connection is closed (default 10)", 1, 3600, NULL},
    {"threads", K_INT, OFF(threads), "N", "HTTP worker threads (default 4)", 1, 256, NULL},
    {"horizon", K_INT, OFF(horizon), "SECONDS", "how far to look for next_open (default 366 days)", 1, 100L * 366 * 86400, NULL},
    {"in-flight-max", K_INT, OFF(in_flight_max), "SECONDS", "the longest a change allowed under a concurrency limit counts without an end (default 86400)", 1, 3660L * 86400, NULL},
    {"log-level", K_CHOICE, OFF(log_level), "LEVEL", "debug, info, warn or error (default info)", 0, 0, levels},
    {"log-format", K_CHOICE, OFF(log_format), "FORMAT", "text or json (default text)", 0, 0, formats},
    {"aws", K_BOOL, OFF(aws), NULL, "answer aws.* queries from AWS (credentials and endpoints as the AWS SDKs find them; docs/aws.md)", 0, 0, NULL},
    {"aws-cache-ttl", K_INT, OFF(aws_cache_ttl), "SECONDS", "how long an answer from AWS is reused (default 30; 0: never)", 0, 3600, NULL},
    {"aws-timeout", K_INT, OFF(aws_timeout), "MS", "the longest an AWS request may take, per attempt (default 10000)", 100, 600000, NULL},
    {"dry-run", K_BOOL, OFF(dry_run), NULL, "execute no action: record what would run", 0, 0, NULL},
    {"fake-clock", K_STR, OFF(fake_clock), "INSTANT", "tests: start the clock at this RFC 3339 instant; PUT /v1/clock moves it", 0, 0, NULL},
    {"webhook", K_LIST, OFF(webhooks), "NAME=URL", "a target of the webhook action (repeatable; http or https)", 0, 0, NULL},
    {"webhook-secret", K_LIST, OFF(webhook_secrets), "NAME=FILE", "the file holding a webhook's HMAC secret (one per webhook)", 0, 0, NULL},
    {"webhook-connect-timeout", K_INT, OFF(webhook_connect_timeout), "SECONDS", "a webhook's connection time (default 5)", 1, 600, NULL},
    {"webhook-timeout", K_INT, OFF(webhook_timeout), "SECONDS", "a webhook call's whole time (default 10)", 1, 3600, NULL},
    {"action-workers", K_INT, OFF(action_workers), "N", "threads executing actions (default 2)", 1, 64, NULL},
    {"action-attempts", K_INT, OFF(action_attempts), "N", "attempts of an action before it fails (default 8)", 1, 1000, NULL},
    {"action-backoff", K_INT, OFF(action_backoff), "MS", "the first retry's delay bound; doubles each retry (default 1000)", 1, 86400000, NULL},
    {"action-max-delay", K_INT, OFF(action_max_delay), "MS", "the largest delay bound between attempts (default 300000)", 1, 86400000, NULL},
    {"sqs-queue", K_LIST, OFF(sqs_queues), "URL", "take events from this SQS queue (repeatable; docs/aws.md)", 0, 0, NULL},
    {"sqs-wait", K_INT, OFF(sqs_wait), "SECONDS", "ReceiveMessage's long-poll wait (default 20)", 0, 20, NULL},
    {"sqs-visibility", K_INT, OFF(sqs_visibility), "SECONDS", "a received message's visibility timeout, extended while it is worked on (default 30)", 2, 43200, NULL},
    {"sqs-max-receives", K_INT, OFF(sqs_max_receives), "N", "receives of a message whose intake fails before it is poison (default 5)", 1, 1000, NULL},
    {"audit-key", K_STR, OFF(audit_key), "FILE", "sign digests of the audit chain with this PEM Ed25519 private key", 0, 0, NULL},
    {"audit-digest-records", K_INT, OFF(audit_digest_records), "N", "a signed digest after this many records (default 1000)", 1, 1000000000, NULL},
    {"audit-digest-seconds", K_INT, OFF(audit_digest_seconds), "SECONDS", "and at least this often while records come (default 300)", 1, 86400, NULL},
#undef OFF
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: chgd [--config FILE] [OPTIONS]\n"
               "\n"
               "chgd decides change events against a policy over an HTTP API, keeps their state\n"
               "and a hash-chained audit log (docs/daemon.md).\n"
               "\n"
               "Options (each is also a config file key, without the dashes):\n");
    for (size_t i = 0; i < CHG_ARRAY_LEN(keys); i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", keys[i].name, keys[i].arg ? " " : "", keys[i].arg ? keys[i].arg : "");
        fprintf(f, "  %-28s %s\n", left, keys[i].help);
    }
    fprintf(f, "  %-28s %s\n", "--config FILE", "read keys from FILE first ('key value' lines)");
    fprintf(f, "  %-28s %s\n", "--check-config", "check the configuration and the policy, then exit");
    fprintf(f, "  %-28s %s\n", "-h, --help", "show this help");
    fprintf(f, "  %-28s %s\n", "-V, --version", "show the version");
    fprintf(f, "\nSignals: SIGTERM/SIGINT finish the requests in flight and stop; SIGHUP reloads the policy.\n"
               "Exit status: 0 stopped cleanly or the configuration is valid, 2 configuration or start-up error.\n");
}

static const struct key *find(const char *name, size_t n)
{
    for (size_t i = 0; i < CHG_ARRAY_LEN(keys); i++)
        if (strlen(keys[i].name) == n && !strncmp(keys[i].name, name, n))
            return &keys[i];
    return NULL;
}

/* Apply value to key k; false with why on a bad value. */
static bool set(chgd_config *c, const struct key *k, const char *value, char *why, size_t len)
{
    void *p = (char *)c + k->off;
    switch (k->kind) {
    case K_STR: {
        char *s = chg_strdup(value);
        if (!s) {
            snprintf(why, len, "out of memory");
            return false;
        }
        chg_free(*(char **)p);
        *(char **)p = s;
        return true;
    }
    case K_LIST: {
        char *s = chg_strdup(value);
        if (!s || chg_vec_push(p, s) != CHG_OK) {
            chg_free(s);
            snprintf(why, len, "out of memory");
            return false;
        }
        return true;
    }
    case K_SIZE:
    case K_INT: {
        errno = 0;
        char *end;
        long v = strtol(value, &end, 10);
        long mul = 1;
        if (k->kind == K_SIZE && end != value && *end && !end[1]) {
            mul = *end == 'K' || *end == 'k' ? 1024 : *end == 'M' || *end == 'm' ? 1L << 20
                : *end == 'G' || *end == 'g' ? 1L << 30 : 0;
            if (mul)
                end++;
        }
        if (end == value || *end || errno || mul == 0 || v < k->lo || v > k->hi / mul) {
            snprintf(why, len, "%s: expected %s from %ld to %ld%s, not '%s'", k->name,
                     k->kind == K_SIZE ? "a size in bytes" : "an integer", k->lo, k->hi,
                     k->kind == K_SIZE ? " (K, M, G suffixes)" : "", value);
            return false;
        }
        *(long *)p = v * mul;
        return true;
    }
    case K_CHOICE:
        for (int i = 0; k->choices[i]; i++)
            if (!strcmp(value, k->choices[i])) {
                *(int *)p = i;
                return true;
            }
        snprintf(why, len, "%s: expected one of", k->name);
        for (int i = 0; k->choices[i]; i++)
            snprintf(why + strlen(why), len - strlen(why), "%s %s", i ? "," : "", k->choices[i]);
        snprintf(why + strlen(why), len - strlen(why), ", not '%s'", value);
        return false;
    case K_BOOL:
        if (!strcmp(value, "yes") || !strcmp(value, "true"))
            *(bool *)p = true;
        else if (!strcmp(value, "no") || !strcmp(value, "false"))
            *(bool *)p = false;
        else {
            snprintf(why, len, "%s: expected yes or no, not '%s'", k->name, value);
            return false;
        }
        return true;
    }
    return false;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = 0;
    return s;
}

/* The config file: every line `key value`; the first bad one is fatal. */
static int read_file(chgd_config *c, const char *path)
{
    char *data;
    size_t len;
    int rc = chg_read_file_max(path, &data, &len, 1 << 20);
    if (rc != CHG_OK) {
        fprintf(stderr, "chgd: %s: %s\n", path, rc == CHG_EIO ? strerror(errno) : chg_strerror(rc));
        return 2;
    }
    if (memchr(data, 0, len)) {
        fprintf(stderr, "chgd: %s: not a text file (it holds a NUL byte)\n", path);
        chg_free(data);
        return 2;
    }
    int status = 0;
    unsigned lineno = 0;
    for (char *line = data, *next; line && !status; line = next) {
        lineno++;
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        size_t n = strcspn(s, " \t");
        char *value = trim(s + n);
        const struct key *k = find(s, n);
        char why[512];
        if (!k)
            snprintf(why, sizeof why, "unknown key '%.*s'", (int)n, s);
        else if (!*value && k->kind != K_BOOL)
            snprintf(why, sizeof why, "%s: no value", k->name);
        else if (k->kind == K_LIST) {
            /* `policy a.chg b.chg`: each word a path */
            bool ok = true;
            for (char *w = strtok(value, " \t"); w && ok; w = strtok(NULL, " \t"))
                ok = set(c, k, w, why, sizeof why);
            if (ok)
                continue;
        } else if (set(c, k, *value ? value : "yes", why, sizeof why))
            continue;
        fprintf(stderr, "chgd: %s:%u: %s\n    %u | %s\n", path, lineno, why, lineno, s);
        status = 2;
    }
    chg_free(data);
    return status;
}

int chgd_config_load(chgd_config *c, int argc, char **argv, bool *check)
{
    memset(c, 0, sizeof *c);
    chg_vec_init(&c->policy);
    c->listen = chg_strdup("127.0.0.1:8181");
    c->store = chg_strdup("chgd.db");
    c->max_body = 1L << 20;
    c->max_depth = 64;
    c->max_connections = 256;
    c->timeout = 10;
    c->threads = 4;
    c->horizon = 366L * 86400;
    c->in_flight_max = 86400;
    c->aws_cache_ttl = 30;
    c->aws_timeout = 10000;
    c->log_level = LOG_INFO;
    c->log_format = LOG_TEXT;
    c->webhook_connect_timeout = 5;
    c->webhook_timeout = 10;
    c->action_workers = 2;
    c->action_attempts = 8;
    c->action_backoff = 1000;
    c->action_max_delay = 300000;
    c->sqs_wait = 20;
    c->sqs_visibility = 30;
    c->sqs_max_receives = 5;
    chg_vec_init(&c->sqs_queues);
    c->audit_digest_records = 1000;
    c->audit_digest_seconds = 300;
    chg_vec_init(&c->webhooks);
    chg_vec_init(&c->webhook_secrets);
    *check = false;
    /* --config first, wherever it is: flags override the file */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 1;
        }
        if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
            printf("chgd %s\n", CHG_VERSION_STRING);
            return 1;
        }
        const char *file = !strncmp(a, "--config=", 9) ? a + 9 : !strcmp(a, "--config") && i + 1 < argc ? argv[i + 1] : NULL;
        if (file) {
            chg_free(c->config_file);
            c->config_file = chg_strdup(file);
        }
    }
    if (c->config_file) {
        int st = read_file(c, c->config_file);
        if (st)
            return st;
    }
    bool replaced[CHG_ARRAY_LEN(keys)] = {false};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--check-config")) {
            *check = true;
            continue;
        }
        if (!strcmp(a, "--config")) {
            i++;
            continue;
        }
        if (!strncmp(a, "--config=", 9))
            continue;
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "chgd: unexpected argument '%s' (see chgd --help)\n", a);
            return 2;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        const struct key *k = find(name, eq ? (size_t)(eq - name) : strlen(name));
        if (!k) {
            fprintf(stderr, "chgd: unknown option '%s' (see chgd --help)\n", a);
            return 2;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (k->kind == K_BOOL && !value)
            value = "yes";
        if (!value) {
            if (i + 1 >= argc) {
                fprintf(stderr, "chgd: --%s needs a value (%s)\n", k->name, k->arg);
                return 2;
            }
            value = argv[++i];
        }
        if (k->kind == K_LIST && !replaced[k - keys]) {
            replaced[k - keys] = true; /* the flags' list replaces the file's */
            chg_vec *v = (chg_vec *)((char *)c + k->off);
            chg_strings_free(v);
            chg_vec_init(v);
        }
        char why[512];
        if (!set(c, k, value, why, sizeof why)) {
            fprintf(stderr, "chgd: --%s\n", why);
            return 2;
        }
    }
    return 0;
}

int chgd_config_validate(const chgd_config *c, char *err, size_t errlen)
{
    if (!c->policy.len == !c->bundle) {
        snprintf(err, errlen, "%s", c->bundle ? "give --policy or --bundle, not both" : "no policy: give --policy PATH or --bundle FILE.chgb");
        return CHG_EINVAL;
    }
    if (c->bundle && !chg_is_bundle_path(c->bundle)) {
        snprintf(err, errlen, "--bundle %s: a bundle's name ends in .chgb (for policy files use --policy)", c->bundle);
        return CHG_EINVAL;
    }
    int64_t t;
    if (c->fake_clock && chg_time_parse_iso(c->fake_clock, strlen(c->fake_clock), &t) != CHG_OK) {
        snprintf(err, errlen, "--fake-clock %s: expected an RFC 3339 instant, such as 2026-12-05T12:00:00Z", c->fake_clock);
        return CHG_EINVAL;
    }
    if (!c->tls_cert != !c->tls_key) {
        snprintf(err, errlen, "%s", c->tls_cert ? "--tls-cert needs --tls-key" : "--tls-key needs --tls-cert");
        return CHG_EINVAL;
    }
    if (!c->token_file) {
        /* fail closed: no API without tokens */
        snprintf(err, errlen, "no --token-file: every API call but /healthz, /readyz and /metrics needs a token");
        return CHG_EINVAL;
    }
    struct sockaddr_storage sa;
    socklen_t salen;
    int rc = chgd_listen_parse(c->listen, &sa, &salen, err, errlen);
    if (rc != CHG_OK)
        return rc;
    if (c->audit_key) {
        chg_audit_key *k;
        if ((rc = chg_audit_key_load(c->audit_key, true, &k, err, errlen)) != CHG_OK) {
            snprintf(err + strlen(err), errlen - strlen(err), " (--audit-key)");
            return rc;
        }
        chg_audit_key_free(k);
    }
    for (size_t i = 0; i < c->sqs_queues.len; i++) {
        const char *u = c->sqs_queues.items[i];
        if (strncmp(u, "https://", 8) && strncmp(u, "http://", 7)) {
            snprintf(err, errlen, "--sqs-queue %s: expected the queue's URL, such as "
                                  "https://sqs.eu-west-1.amazonaws.com/123456789012/changes", u);
            return CHG_EINVAL;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(u, c->sqs_queues.items[j])) {
                snprintf(err, errlen, "--sqs-queue %s: given twice", u);
                return CHG_EINVAL;
            }
    }
    if ((rc = chgd_webhooks_check(c, err, errlen)) != CHG_OK)
        return rc;
    if (c->facts) {
        chg_facts *f;
        if ((rc = chg_facts_load(c->facts, &f, err, errlen)) != CHG_OK)
            return rc;
        chg_facts_free(f);
    }
    return chgd_tokens_load(c->token_file, err, errlen);
}

/* ADDR:PORT: an IPv4 address or a bracketed IPv6 one, and a port. */
int chgd_listen_parse(const char *s, struct sockaddr_storage *sa, socklen_t *len, char *err, size_t errlen)
{
    memset(sa, 0, sizeof *sa);
    const char *colon = strrchr(s, ':');
    char host[64];
    char *end;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || colon[1] == 0 || *end || port < 0 || port > 65535 || (size_t)(colon - s) >= sizeof host) {
        snprintf(err, errlen, "--listen %s: expected ADDR:PORT, such as 127.0.0.1:8181 or [::1]:8181", s);
        return CHG_EINVAL;
    }
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)sa;
        host[strlen(host) - 1] = 0;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) == 1) {
            *len = sizeof *a;
            return CHG_OK;
        }
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)sa;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, host, &a->sin_addr) == 1) {
            *len = sizeof *a;
            return CHG_OK;
        }
    }
    snprintf(err, errlen, "--listen %s: '%s' is not an IP address (names are not resolved)", s, host);
    return CHG_EINVAL;
}

void chgd_config_free(chgd_config *c)
{
    chg_free(c->listen);
    chg_strings_free(&c->policy);
    chg_free(c->bundle);
    chg_free(c->store);
    chg_free(c->token_file);
    chg_free(c->facts);
    chg_free(c->fake_clock);
    chg_free(c->tls_cert);
    chg_free(c->tls_key);
    chg_free(c->config_file);
    chg_strings_free(&c->webhooks);
    chg_strings_free(&c->webhook_secrets);
    chg_free(c->audit_key);
    chg_strings_free(&c->sqs_queues);
}
