/*
 * aws_int.h — what the files of the AWS client share: the service table,
 * the parsed config files, the credential cache, one HTTP exchange.
 */
#ifndef CHG_AWS_INT_H
#define CHG_AWS_INT_H

#include "chg_aws.h"

#include <pthread.h>

enum { AWS_JSON, AWS_QUERY };

typedef struct aws_service {
    const char *id, *prefix, *key;
    int protocol;
    const char *json_version, *target, *api_version;
} aws_service;

/* The service of that id, or NULL. */
const aws_service *chg_aws_service(const char *id);

/* An INI file as the AWS config and credentials files are written: each
 * entry is section, key (a sub-key of an indented block is "key.sub") and
 * value; later entries win. */
typedef struct aws_ini_entry {
    char *section, *key, *value;
} aws_ini_entry;
typedef struct aws_ini {
    aws_ini_entry *e;
    size_t n, cap;
} aws_ini;

const char *chg_aws_ini_get(const aws_ini *ini, const char *section, const char *key);

/* Credentials: owned strings; expires 0 means they do not expire. */
typedef struct aws_creds {
    char *akid, *secret, *token;
    int64_t expires;
    const char *source; /* "environment", "web-identity", … (docs/aws.md) */
} aws_creds;

void chg_aws_creds_clear(aws_creds *c);

struct chg_aws {
    const char *(*getenv)(void *ud, const char *name);
    void *getenv_ud;
    char *profile;
    char *region;
    long max_attempts;
    long connect_ms, timeout_ms;
    bool (*cancelled)(void *ud);
    void *cancel_ud;
    bool ignore_endpoints;
    aws_ini config, credentials;
    pthread_mutex_t mu;     /* the credential cache and the retry quota */
    aws_creds creds;
    bool have_creds;
    long quota;             /* the standard retry mode's token bucket */
    pthread_key_t curl_key; /* each thread's curl handle */
};

const char *chg_aws_env(const chg_aws *a, const char *name);
/* The profile's value of key in the config file (the [default] or
 * [profile NAME] section), or NULL. */
const char *chg_aws_profile_get(const chg_aws *a, const char *key);

/* One HTTP exchange on the calling thread's curl handle. sigv4 is NULL
 * for an unsigned request, else "aws:amz:REGION:SERVICE" with creds.
 * headers is NULL-terminated. *status is the HTTP status (0: none; err
 * then says why: RequestTimeout or ConnectionFailed). The body read is
 * appended to out, at most 8 MiB. */
int chg_aws_http(chg_aws *a, const char *method, const char *url, const char *const *headers, const char *body,
                 const char *sigv4, const aws_creds *creds, long timeout_ms, int *status, chg_buf *out,
                 chg_aws_error *err);

/* The credentials to sign with, copied into *out (refreshed first when
 * they expire within 15 minutes; old ones are kept while more than 10
 * minutes remain and a refresh fails). CHG_OK or CHG_EIO with err. */
int chg_aws_creds_get(chg_aws *a, aws_creds *out, chg_aws_error *err);

/* RFC 3339 / ISO-8601 UTC text ("2026-12-02T10:00:00Z", fractions and
 * offsets allowed) to seconds; false when it is not one. */
bool chg_aws_parse_time(const char *s, int64_t *out);

void chg_aws_seterr(chg_aws_error *err, int http, const char *code, const char *fmt, ...) CHG_PRINTF(4, 5);

/* The text of the first element named name in an XML document (any
 * depth, namespaces ignored), copied into out; false when absent or the
 * document is not XML. */
bool chg_aws_xml_text(const char *xml, size_t len, const char *const *path, chg_buf *out);

/* Wait before retry number attempt: rand() * min(2^(attempt-1), 20) s. */
void chg_aws_backoff(int attempt);


#endif
