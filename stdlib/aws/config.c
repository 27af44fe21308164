/*
 * config.c — the AWS client's configuration, found as the AWS SDKs find
 * it (botocore configprovider.py; the SDKs' reference guide,
 * https://docs.aws.amazon.com/sdkref/latest/guide/): the profile, the
 * region, the endpoint of each service and the retry budget, from the
 * environment and the shared config and credentials files.
 */
#include "aws_int.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const aws_service services[] = {
#define AWS_SERVICE(id, prefix, key, proto, jv, target, ver) {id, prefix, key, proto, jv, target, ver},
#include "services.def"
#undef AWS_SERVICE
};

const aws_service *chg_aws_service(const char *id)
{
    for (size_t i = 0; i < CHG_ARRAY_LEN(services); i++)
        if (strcmp(services[i].id, id) == 0)
            return &services[i];
    return NULL;
}

void chg_aws_seterr(chg_aws_error *err, int http, const char *code, const char *fmt, ...)
{
    if (!err)
        return;
    err->http = http;
    snprintf(err->code, sizeof err->code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

static const char *sys_getenv(void *ud, const char *name)
{
    (void)ud;
    return getenv(name);
}

const char *chg_aws_env(const chg_aws *a, const char *name)
{
    const char *v = a->getenv(a->getenv_ud, name);
    return v && *v ? v : NULL;
}

/* ---- INI files -------------------------------------------------------------------------- */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = 0;
    return s;
}

static int ini_add(aws_ini *ini, const char *section, const char *key, const char *value)
{
    if (ini->n == ini->cap) {
        size_t cap = ini->cap ? ini->cap * 2 : 16;
        aws_ini_entry *e = chg_realloc(ini->e, cap * sizeof *e);
        if (!e)
            return CHG_ENOMEM;
        ini->e = e;
        ini->cap = cap;
    }
    aws_ini_entry *e = &ini->e[ini->n];
    e->section = chg_strdup(section);
    e->key = chg_strdup(key);
    e->value = chg_strdup(value);
    if (!e->section || !e->key || !e->value) {
        chg_free(e->section), chg_free(e->key), chg_free(e->value);
        return CHG_ENOMEM;
    }
    ini->n++;
    return CHG_OK;
}

static void ini_free(aws_ini *ini)
{
    for (size_t i = 0; i < ini->n; i++)
        chg_free(ini->e[i].section), chg_free(ini->e[i].key), chg_free(ini->e[i].value);
    chg_free(ini->e);
    memset(ini, 0, sizeof *ini);
}

/* The format botocore's configloader reads: "[section]" lines, "key =
 * value" lines, '#' and ';' comment lines, and a key with an empty value
 * followed by indented "sub = value" lines (the services sections,
 * s3 = …). Keys are compared as written (the SDKs lower-case none of
 * ours). A line that is none of these is an error naming path:line. */
static int ini_parse(char *text, aws_ini *ini, const char *path, chg_aws_error *err)
{
    char section[256] = "", parent[128] = "";
    int lineno = 0;
    for (char *line = text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        lineno++;
        bool indented = *line == ' ' || *line == '\t';
        char *s = trim(line);
        if (!*s || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            char *end = strchr(s, ']');
            if (!end) {
                chg_aws_seterr(err, 0, "ConfigError", "%s:%d: a section header without ']'", path, lineno);
                return CHG_EINVAL;
            }
            *end = 0;
            snprintf(section, sizeof section, "%s", trim(s + 1));
            /* "[profile  dev]" is "profile dev" */
            char *sp = strchr(section, ' ');
            if (sp) {
                char *rest = sp;
                while (*rest == ' ')
                    rest++;
                memmove(sp + 1, rest, strlen(rest) + 1);
            }
            parent[0] = 0;
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq || !*section) {
            chg_aws_seterr(err, 0, "ConfigError", "%s:%d: expected 'key = value'%s", path, lineno,
                           *section ? "" : " inside a [section]");
            return CHG_EINVAL;
        }
        *eq = 0;
        char *key = trim(s), *value = trim(eq + 1);
        char full[300];
        if (indented && *parent)
            snprintf(full, sizeof full, "%s.%s", parent, key);
        else {
            snprintf(full, sizeof full, "%s", key);
            /* an empty value opens a block of indented sub-keys */
            snprintf(parent, sizeof parent, "%s", *value ? "" : key);
        }
        if (ini_add(ini, section, full, value) != CHG_OK) {
            chg_aws_seterr(err, 0, "ConfigError", "out of memory");
            return CHG_ENOMEM;
        }
    }
    return CHG_OK;
}

const char *chg_aws_ini_get(const aws_ini *ini, const char *section, const char *key)
{
    for (size_t i = ini->n; i-- > 0;)
        if (!strcmp(ini->e[i].section, section) && !strcmp(ini->e[i].key, key))
            return ini->e[i].value;
    return NULL;
}

/* A file that does not exist is no error (the SDKs run without them); one
 * that exists and cannot be read or parsed is. */
static int ini_load(const chg_aws *a, const char *env, const char *deflt, aws_ini *ini, chg_aws_error *err)
{
    char path[1024];
    const char *p = chg_aws_env(a, env);
    if (p && p[0] == '~' && p[1] == '/' && chg_aws_env(a, "HOME"))
        snprintf(path, sizeof path, "%s%s", chg_aws_env(a, "HOME"), p + 1);
    else if (p)
        snprintf(path, sizeof path, "%s", p);
    else if (chg_aws_env(a, "HOME"))
        snprintf(path, sizeof path, "%s/.aws/%s", chg_aws_env(a, "HOME"), deflt);
    else
        return CHG_OK;
    char *text;
    size_t len;
    int rc = chg_read_file_max(path, &text, &len, 1 << 20);
    if (rc == CHG_EIO && errno == ENOENT)
        return CHG_OK;
    if (rc != CHG_OK) {
        chg_aws_seterr(err, 0, "ConfigError", "%s: %s", path, rc == CHG_EIO ? strerror(errno) : chg_strerror(rc));
        return CHG_EINVAL;
    }
    rc = ini_parse(text, ini, path, err);
    chg_free(text);
    return rc == CHG_OK ? CHG_OK : CHG_EINVAL;
}

/* The config file names the default profile [default] and every other
 * [profile NAME]; the credentials file names each [NAME]. */
const char *chg_aws_profile_get(const chg_aws *a, const char *key)
{
    char section[300];
    if (!strcmp(a->profile, "default"))
        snprintf(section, sizeof section, "default");
    else
        snprintf(section, sizeof section, "profile %s", a->profile);
    return chg_aws_ini_get(&a->config, section, key);
}

/* ---- the client ------------------------------------------------------------------------- */

static void free_curl(void *h);

int chg_aws_new(const chg_aws_options *o, chg_aws **out, chg_aws_error *err)
{
    *out = NULL;
    memset(err, 0, sizeof *err);
    chg_aws *a = chg_calloc(1, sizeof *a);
    if (!a) {
        chg_aws_seterr(err, 0, "ConfigError", "out of memory");
        return CHG_ENOMEM;
    }
    a->getenv = o && o->getenv ? o->getenv : sys_getenv;
    a->getenv_ud = o ? o->getenv_ud : NULL;
    a->connect_ms = o && o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 3000;
    a->timeout_ms = o && o->timeout_ms > 0 ? o->timeout_ms : 10000;
    a->cancelled = o ? o->cancelled : NULL;
    a->cancel_ud = o ? o->cancel_ud : NULL;
    a->quota = 500;
    pthread_mutex_init(&a->mu, NULL);
    pthread_key_create(&a->curl_key, free_curl);
    const char *p = chg_aws_env(a, "AWS_PROFILE");
    if (!p)
        p = chg_aws_env(a, "AWS_DEFAULT_PROFILE");
    a->profile = chg_strdup(p ? p : "default");
    if (!a->profile || ini_load(a, "AWS_CONFIG_FILE", "config", &a->config, err) != CHG_OK ||
        ini_load(a, "AWS_SHARED_CREDENTIALS_FILE", "credentials", &a->credentials, err) != CHG_OK) {
        if (!err->code[0])
            chg_aws_seterr(err, 0, "ConfigError", "out of memory");
        chg_aws_free(a);
        return CHG_EINVAL;
    }
    /* region: AWS_REGION (the SDKs other than botocore), then
     * AWS_DEFAULT_REGION (botocore's), then the profile's region */
    const char *r = chg_aws_env(a, "AWS_REGION");
    if (!r)
        r = chg_aws_env(a, "AWS_DEFAULT_REGION");
    if (!r)
        r = chg_aws_profile_get(a, "region");
    a->region = chg_strdup(r ? r : "");
    for (const char *c = a->region; c && *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '-') {
            chg_aws_seterr(err, 0, "ConfigError", "the region '%.64s' is not a region name (letters, digits, '-')",
                           a->region);
            chg_aws_free(a);
            return CHG_EINVAL;
        }
    /* max attempts: AWS_MAX_ATTEMPTS, then the profile's max_attempts; 3 */
    const char *m = chg_aws_env(a, "AWS_MAX_ATTEMPTS");
    const char *mfrom = "AWS_MAX_ATTEMPTS";
    if (!m)
        m = chg_aws_profile_get(a, "max_attempts"), mfrom = "max_attempts";
    a->max_attempts = 3;
    if (m) {
        char *end;
        errno = 0;
        long v = strtol(m, &end, 10);
        if (*end || errno || v < 1 || v > 20) {
            chg_aws_seterr(err, 0, "ConfigError", "%s: '%.32s' is not a number of attempts from 1 to 20", mfrom, m);
            chg_aws_free(a);
            return CHG_EINVAL;
        }
        a->max_attempts = v;
    }
    if (o && o->max_attempts > 0)
        a->max_attempts = o->max_attempts;
    const char *ig = chg_aws_env(a, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    if (!ig)
        ig = chg_aws_profile_get(a, "ignore_configured_endpoint_urls");
    a->ignore_endpoints = ig && !strcasecmp(ig, "true");
    if (!a->region) {
        chg_aws_seterr(err, 0, "ConfigError", "out of memory");
        chg_aws_free(a);
        return CHG_ENOMEM;
    }
    *out = a;
    return CHG_OK;
}

void chg_aws_free(chg_aws *a)
{
    if (!a)
        return;
    /* this thread's handle; other threads free theirs as they exit */
    void *h = pthread_getspecific(a->curl_key);
    if (h) {
        free_curl(h);
        pthread_setspecific(a->curl_key, NULL);
    }
    pthread_key_delete(a->curl_key);
    pthread_mutex_destroy(&a->mu);
    chg_aws_creds_clear(&a->creds);
    ini_free(&a->config);
    ini_free(&a->credentials);
    chg_free(a->profile);
    chg_free(a->region);
    chg_free(a);
}

const char *chg_aws_region(const chg_aws *a)
{
    return a->region;
}

/* An endpoint override must be an http or https URL: anything else would
 * send signed requests somewhere nobody meant. */
static int endpoint_ok(const char *url, const char *from, chg_aws_error *err)
{
    if (strncmp(url, "https://", 8) && strncmp(url, "http://", 7)) {
        chg_aws_seterr(err, 0, "ConfigError", "%s: '%.200s' is not an http:// or https:// URL", from, url);
        return CHG_EINVAL;
    }
    return CHG_OK;
}

/* The SDKs' order: AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, the
 * profile's services section entry, the profile's endpoint_url; none of
 * them when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true; else the regional
 * endpoint https://PREFIX.REGION.amazonaws.com (.amazonaws.com.cn in
 * China). A trailing '/' is dropped. */
int chg_aws_endpoint(const chg_aws *a, const char *service, char *buf, size_t len, chg_aws_error *err)
{
    const aws_service *s = chg_aws_service(service);
    if (!s) {
        chg_aws_seterr(err, 0, "ConfigError", "no AWS service '%s' in the client", service);
        return CHG_EINVAL;
    }
    const char *url = NULL;
    char from[128] = "";
    if (!a->ignore_endpoints) {
        char env[96];
        snprintf(env, sizeof env, "AWS_ENDPOINT_URL_%s", s->key);
        for (char *c = env; *c; c++)
            *c = (char)toupper((unsigned char)*c);
        if ((url = chg_aws_env(a, env)))
            snprintf(from, sizeof from, "%s", env);
        else if ((url = chg_aws_env(a, "AWS_ENDPOINT_URL")))
            snprintf(from, sizeof from, "AWS_ENDPOINT_URL");
        else {
            const char *sect = chg_aws_profile_get(a, "services");
            if (sect) {
                char section[300], key[128];
                snprintf(section, sizeof section, "services %s", sect);
                snprintf(key, sizeof key, "%s.endpoint_url", s->key);
                if ((url = chg_aws_ini_get(&a->config, section, key)))
                    snprintf(from, sizeof from, "[services %.64s] %.32s", sect, s->key);
            }
            if (!url && (url = chg_aws_profile_get(a, "endpoint_url")))
                snprintf(from, sizeof from, "profile %.64s endpoint_url", a->profile);
        }
    }
    if (url) {
        if (endpoint_ok(url, from, err) != CHG_OK)
            return CHG_EINVAL;
        size_t n = strlen(url);
        while (n > 8 && url[n - 1] == '/')
            n--;
        if (n >= len) {
            chg_aws_seterr(err, 0, "ConfigError", "%s: the URL is too long", from);
            return CHG_EINVAL;
        }
        memcpy(buf, url, n);
        buf[n] = 0;
        return CHG_OK;
    }
    if (!a->region[0]) {
        chg_aws_seterr(err, 0, "ConfigError",
                       "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, or region in the profile '%.64s')",
                       a->profile);
        return CHG_EINVAL;
    }
    bool cn = !strncmp(a->region, "cn-", 3);
    snprintf(buf, len, "https://%s.%s.amazonaws.com%s", s->prefix, a->region, cn ? ".cn" : "");
    return CHG_OK;
}

static void free_curl(void *h)
{
    curl_easy_cleanup(h);
}
