/*
 * creds.c — the credential chain, in the order of botocore's
 * create_credential_resolver (credentials.py), each provider tried only
 * when it is configured and, once configured, the answer (a provider that
 * is set up and fails is an error, not a reason to try the next one, as
 * in the SDKs: credentials silently taken from elsewhere would act as
 * someone else):
 *
 *   1. environment     AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 *                      AWS_SESSION_TOKEN (or AWS_SECURITY_TOKEN),
 *                      AWS_CREDENTIAL_EXPIRATION
 *   2. web identity    AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN (or the
 *                      profile's web_identity_token_file + role_arn), via
 *                      STS AssumeRoleWithWebIdentity (unsigned), as EKS IRSA
 *   3. credentials file the profile's aws_access_key_id, … (AWS_SHARED_CREDENTIALS_FILE)
 *   4. credential_process the profile's command, its JSON on stdout
 *   5. config file     the profile's aws_access_key_id, … (AWS_CONFIG_FILE)
 *   6. container       AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI,
 *                      Authorization from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
 *                      (or _TOKEN), as ECS and EKS Pod Identity
 *   7. IMDSv2          token PUT, then the role's credentials
 *
 * The answer is cached in the client under its lock and refreshed when
 * fewer than 15 minutes remain (botocore's advisory refresh); while more
 * than 10 minutes remain a failed refresh keeps the old ones (the
 * mandatory refresh). Secrets go nowhere but the cache and curl.
 */
#define _GNU_SOURCE
#include "aws_int.h"

#include "chg_time.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define ADVISORY 900
#define MANDATORY 600

/* Nothing configured for this provider: try the next. */
#define NONE 1

bool chg_aws_parse_time(const char *s, int64_t *out)
{
    return s && chg_time_parse_iso(s, strlen(s), out) == CHG_OK;
}

void chg_aws_creds_clear(aws_creds *c)
{
    /* wipe what was secret before the memory goes back */
    if (c->secret)
        explicit_bzero(c->secret, strlen(c->secret));
    if (c->token)
        explicit_bzero(c->token, strlen(c->token));
    chg_free(c->akid);
    chg_free(c->secret);
    chg_free(c->token);
    memset(c, 0, sizeof *c);
}

static int set(aws_creds *c, const char *akid, const char *secret, const char *token, const char *source,
               chg_aws_error *err)
{
    c->akid = chg_strdup(akid);
    c->secret = chg_strdup(secret);
    c->token = token && *token ? chg_strdup(token) : NULL;
    c->source = source;
    if (!c->akid || !c->secret || (token && *token && !c->token)) {
        chg_aws_creds_clear(c);
        chg_aws_seterr(err, 0, "CredentialsInvalid", "out of memory");
        return CHG_ENOMEM;
    }
    return CHG_OK;
}

/* An expiry as the providers write it; an unreadable one is an error
 * (credentials of unknown lifetime would be used after they lapse). */
static int expiry(const char *text, const char *source, aws_creds *c, chg_aws_error *err)
{
    if (!text)
        return CHG_OK;
    if (!chg_aws_parse_time(text, &c->expires)) {
        chg_aws_seterr(err, 0, "CredentialsInvalid", "%s: the expiration '%.40s' is not an ISO 8601 time", source,
                       text);
        return CHG_EIO;
    }
    return CHG_OK;
}

/* ---- 1. environment ------------------------------------------------------------------------ */

static int from_env(chg_aws *a, aws_creds *c, chg_aws_error *err)
{
    const char *id = chg_aws_env(a, "AWS_ACCESS_KEY_ID"), *sk = chg_aws_env(a, "AWS_SECRET_ACCESS_KEY");
    if (!id && !sk)
        return NONE;
    if (!id || !sk) {
        chg_aws_seterr(err, 0, "CredentialsInvalid", "environment: %s is set without %s",
                       id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                       id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
        return CHG_EIO;
    }
    const char *tok = chg_aws_env(a, "AWS_SESSION_TOKEN");
    if (!tok)
        tok = chg_aws_env(a, "AWS_SECURITY_TOKEN");
    int rc = set(c, id, sk, tok, "environment", err);
    return rc ? rc : expiry(chg_aws_env(a, "AWS_CREDENTIAL_EXPIRATION"), "environment", c, err);
}

/* ---- shared files (3 and 5) ---------------------------------------------------------------- */

static int from_ini(const char *id, const char *sk, const char *tok, const char *source, aws_creds *c,
                    chg_aws_error *err)
{
    if (!id && !sk)
        return NONE;
    if (!id || !sk) {
        chg_aws_seterr(err, 0, "CredentialsInvalid", "%s: aws_%s is set without aws_%s", source,
                       id ? "access_key_id" : "secret_access_key", id ? "secret_access_key" : "access_key_id");
        return CHG_EIO;
    }
    return set(c, id, sk, tok, source, err);
}

static int from_credentials_file(chg_aws *a, aws_creds *c, chg_aws_error *err)
{
    const aws_ini *f = &a->credentials;
    const char *p = a->profile;
    return from_ini(chg_aws_ini_get(f, p, "aws_access_key_id"), chg_aws_ini_get(f, p, "aws_secret_access_key"),
                    chg_aws_ini_get(f, p, "aws_session_token"), "credentials file", c, err);
}

static int from_config_file(chg_aws *a, aws_creds *c, chg_aws_error *err)
{
    return from_ini(chg_aws_profile_get(a, "aws_access_key_id"), chg_aws_profile_get(a, "aws_secret_access_key"),
                    chg_aws_profile_get(a, "aws_session_token"), "config file", c, err);
}

/* The JSON the container endpoint, IMDS and credential_process answer:
 * AccessKeyId, SecretAccessKey, Token (or SessionToken), Expiration. */
static int from_json(const char *text, size_t len, const char *source, aws_creds *c, chg_aws_error *err)
{
    json_error_t je;
    json_t *j = json_loadb(text, len, 0, &je);
    const char *id = json_string_value(json_object_get(j, "AccessKeyId"));
    const char *sk = json_string_value(json_object_get(j, "SecretAccessKey"));
    const char *tok = json_string_value(json_object_get(j, "Token"));
    if (!tok)
        tok = json_string_value(json_object_get(j, "SessionToken"));
    const char *exp = json_string_value(json_object_get(j, "Expiration"));
    int rc;
    if (!id || !sk) {
        chg_aws_seterr(err, 0, "CredentialsInvalid", "%s: the answer is not JSON with AccessKeyId and SecretAccessKey",
                       source);
        rc = CHG_EIO;
    } else if ((rc = set(c, id, sk, tok, source, err)) == CHG_OK)
        rc = expiry(exp, source, c, err);
    json_decref(j);
    return rc;
}

/* ---- 2. web identity ------------------------------------------------------------------------- */

static int from_web_identity(chg_aws *a, aws_creds *c, chg_aws_error *err)
{
    const char *file = chg_aws_env(a, "AWS_WEB_IDENTITY_TOKEN_FILE");
    const char *role = chg_aws_env(a, "AWS_ROLE_ARN");
    if (!file && !role) {
        file = chg_aws_profile_get(a, "web_identity_token_file");
        role = chg_aws_profile_get(a, "role_arn");
        if (!file)
            return NONE; /* role_arn alone is an assume-role profile: not ours */
    }
    if (!file || !role) {
        chg_aws_seterr(err, 0, "CredentialsInvalid", "web identity: %s is set without %s",
                       file ? "the token file" : "AWS_ROLE_ARN", file ? "AWS_ROLE_ARN" : "the token file");
        return CHG_EIO;
    }
    char *token;
    size_t tlen;
    if (chg_read_file_max(file, &token, &tlen, 64 * 1024) != CHG_OK) {
        chg_aws_seterr(err, 0, "CredentialsInvalid", "web identity: cannot read the token file %.200s: %s", file,
                       strerror(errno));
        return CHG_EIO;
    }
    while (tlen && (token[tlen - 1] == '\n' || token[tlen - 1] == '\r' || token[tlen - 1] == ' '))
        token[--tlen] = 0;
    const char *sn = chg_aws_env(a, "AWS_ROLE_SESSION_NAME");
    if (!sn)
        sn = chg_aws_profile_get(a, "role_session_name");
    char session[64];
    snprintf(session, sizeof session, "chgd-%lld", (long long)time(NULL));
    chg_buf body, out;
    chg_buf_init(&body);
    chg_buf_init(&out);
    chg_buf_puts(&body, "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=");
    chg_aws_urlencode(&body, role);
    chg_buf_puts(&body, "&RoleSessionName=");
    chg_aws_urlencode(&body, sn ? sn : session);
    chg_buf_puts(&body, "&WebIdentityToken=");
    chg_aws_urlencode(&body, token);
    explicit_bzero(token, tlen);
    chg_free(token);
    char url[1024];
    int status = 0, rc = chg_aws_endpoint(a, "sts", url, sizeof url, err);
    if (rc == CHG_OK) {
        const char *h[] = {"Content-Type: application/x-www-form-urlencoded; charset=utf-8", NULL};
        rc = body.oom ? CHG_ENOMEM : chg_aws_http(a, "POST", url, h, body.data, NULL, NULL, a->timeout_ms, &status, &out, err);
    }
    if (body.data)
        explicit_bzero(body.data, body.len);
    chg_buf_free(&body);
    if (rc == CHG_OK && (status < 200 || status >= 300)) {
        chg_buf code;
        chg_buf_init(&code);
        static const char *const cp[] = {"Error", "Code", NULL};
        bool has = chg_aws_xml_text(out.data, out.len, cp, &code) && code.data;
        chg_aws_seterr(err, status, has ? code.data : "HttpError",
                       "web identity: STS AssumeRoleWithWebIdentity answered HTTP %d%s%s", status, has ? ": " : "",
                       has ? code.data : "");
        chg_buf_free(&code);
        rc = CHG_EIO;
    }
    if (rc == CHG_OK) {
        static const char *const pid[] = {"Credentials", "AccessKeyId", NULL};
        static const char *const psk[] = {"Credentials", "SecretAccessKey", NULL};
        static const char *const ptk[] = {"Credentials", "SessionToken", NULL};
        static const char *const pex[] = {"Credentials", "Expiration", NULL};
        chg_buf id, sk, tk, ex;
        chg_buf_init(&id), chg_buf_init(&sk), chg_buf_init(&tk), chg_buf_init(&ex);
        if (chg_aws_xml_text(out.data, out.len, pid, &id) && chg_aws_xml_text(out.data, out.len, psk, &sk) &&
            chg_aws_xml_text(out.data, out.len, ptk, &tk) && chg_aws_xml_text(out.data, out.len, pex, &ex) &&
            id.data && sk.data && tk.data && ex.data) {
            if ((rc = set(c, id.data, sk.data, tk.data, "web-identity", err)) == CHG_OK)
                rc = expiry(ex.data, "web identity", c, err);
        } else {
            chg_aws_seterr(err, status, "MalformedResponse",
                           "web identity: STS's answer has no Credentials (AccessKeyId, SecretAccessKey, SessionToken, "
                           "Expiration)");
            rc = CHG_EIO;
        }
        if (sk.data)
            explicit_bzero(sk.data, sk.len);
        if (tk.data)
            explicit_bzero(tk.data, tk.len);
        chg_buf_free(&id), chg_buf_free(&sk), chg_buf_free(&tk), chg_buf_free(&ex);
    }
    if (out.data)
        explicit_bzero(out.data, out.len);
    chg_buf_free(&out);
    return rc;
}

/* ---- 4. credential_process ------------------------------------------------------------------ */

/* Split a command line as botocore does (shlex): blanks separate words,
 * single and double quotes group, a backslash escapes outside single
 * quotes. The words point into buf. */
static int split_words(char *buf, char **argv, int max)
{
    int n = 0;
    char *r = buf, *w = buf;
    while (*r) {
        while (*r == ' ' || *r == '\t')
            r++;
        if (!*r)
            break;
        if (n == max - 1)
            return -1;
        argv[n++] = w;
        char q = 0;
        while (*r && (q || (*r != ' ' && *r != '\t'))) {
            if (!q && (*r == '\'' || *r == '"'))
                q = *r++;
            else if (q && *r == q)
                q = 0, r++;
            else if (*r == '\\' && q != '\'' && r[1])
                *w++ = r[1], r += 2;
            else
                *w++ = *r++;
        }
        if (q)
            return -1;
        /* the word's end: w never passes r, so the text only shrinks */
        bool end = !*r;
        *w++ = 0;
        if (end)
            break;
        r++;
    }
    argv[n] = NULL;
    return n;
}

static int from_process(chg_aws *a, aws_creds *c, chg_aws_error *err)
{
    const char *cmd = chg_aws_profile_get(a, "credential_process");
    if (!cmd)
        return NONE;
    char buf[4096], *argv[64];
    snprintf(buf, sizeof buf, "%s", cmd);
    if (split_words(buf, argv, 64) <= 0) {
        chg_aws_seterr(err, 0, "CredentialsInvalid", "credential_process: cannot split the command into words");
        return CHG_EIO;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        chg_aws_seterr(err, 0, "CredentialsInvalid", "credential_process: pipe: %s", strerror(errno));
        return CHG_EIO;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    pid_t pid;
    int sr = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (sr != 0) {
        close(fds[0]);
        chg_aws_seterr(err, 0, "CredentialsInvalid", "credential_process: cannot run %.200s: %s", argv[0],
                       strerror(sr));
        return CHG_EIO;
    }
    /* read at most 64 KiB within the timeout, then reap it */
    chg_buf out;
    chg_buf_init(&out);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bool late = false;
    for (;;) {
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long left = a->timeout_ms - ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
        struct pollfd p = {fds[0], POLLIN, 0};
        if (left <= 0 || poll(&p, 1, (int)left) == 0) {
            late = true;
            break;
        }
        char tmp[4096];
        ssize_t n = read(fds[0], tmp, sizeof tmp);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || out.len + (size_t)n > 65536)
            break;
        chg_buf_append(&out, tmp, (size_t)n);
    }
    close(fds[0]);
    if (late)
        kill(pid, SIGKILL);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    int rc;
    if (late) {
        chg_aws_seterr(err, 0, "CredentialsInvalid", "credential_process: %.200s gave no answer within %ld ms",
                       argv[0], a->timeout_ms);
        rc = CHG_EIO;
    } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        chg_aws_seterr(err, 0, "CredentialsInvalid", "credential_process: %.200s exited with status %d", argv[0],
                       WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
        rc = CHG_EIO;
    } else {
        json_error_t je;
        json_t *j = json_loadb(out.data ? out.data : "", out.len, 0, &je);
        json_int_t v = json_integer_value(json_object_get(j, "Version"));
        json_decref(j);
        if (v != 1) {
            chg_aws_seterr(err, 0, "CredentialsInvalid", "credential_process: the answer is not JSON with \"Version\": 1");
            rc = CHG_EIO;
        } else
            rc = from_json(out.data, out.len, "credential_process", c, err);
    }
    if (out.data)
        explicit_bzero(out.data, out.len);
    chg_buf_free(&out);
    return rc;
}

/* ---- 6. container --------------------------------------------------------------------------- */

/* The hosts a full URI may name (botocore ContainerMetadataFetcher): the
 * ECS and EKS link-local addresses and loopback. */
static bool container_host_ok(const char *url)
{
    const char *h = strstr(url, "://");
    if (!h)
        return false;
    h += 3;
    if (!strncmp(url, "https://", 8))
        return true;
    static const char *const ok[] = {"169.254.170.2", "169.254.170.23", "[fd00:ec2::23]", "localhost", "127.", "[::1]",
                                     NULL};
    for (size_t i = 0; ok[i]; i++)
        if (!strncmp(h, ok[i], strlen(ok[i]))) {
            char next = h[strlen(ok[i])];
            if (ok[i][strlen(ok[i]) - 1] == '.' || next == ':' || next == '/' || next == 0)
                return true;
        }
    return false;
}

static int from_container(chg_aws *a, aws_creds *c, chg_aws_error *err)
{
    const char *rel = chg_aws_env(a, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = chg_aws_env(a, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if (!rel && !full)
        return NONE;
    char url[1024];
    if (rel)
        snprintf(url, sizeof url, "http://169.254.170.2%s", rel);
    else if (!container_host_ok(full)) {
        chg_aws_seterr(err, 0, "CredentialsInvalid",
                       "container: AWS_CONTAINER_CREDENTIALS_FULL_URI must be https or name loopback, 169.254.170.2 "
                       "or 169.254.170.23");
        return CHG_EIO;
    } else
        snprintf(url, sizeof url, "%s", full);
    char auth[8192] = "";
    const char *tf = chg_aws_env(a, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *tv = chg_aws_env(a, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
    if (tf) {
        /* read on every fetch: EKS rotates the file */
        char *t;
        size_t n;
        if (chg_read_file_max(tf, &t, &n, 4096) != CHG_OK) {
            chg_aws_seterr(err, 0, "CredentialsInvalid", "container: cannot read the token file %.200s: %s", tf,
                           strerror(errno));
            return CHG_EIO;
        }
        while (n && (t[n - 1] == '\n' || t[n - 1] == '\r'))
            t[--n] = 0;
        snprintf(auth, sizeof auth, "Authorization: %s", t);
        explicit_bzero(t, n);
        chg_free(t);
    } else if (tv)
        snprintf(auth, sizeof auth, "Authorization: %s", tv);
    if (strpbrk(auth, "\r\n")) {
        explicit_bzero(auth, sizeof auth);
        chg_aws_seterr(err, 0, "CredentialsInvalid", "container: the authorization token holds a line break");
        return CHG_EIO;
    }
    const char *h[] = {auth[0] ? auth : NULL, NULL};
    chg_buf out;
    chg_buf_init(&out);
    int rc = CHG_EIO, status = 0;
    /* 2 s, 3 attempts (botocore's ContainerMetadataFetcher) */
    for (int i = 0; i < 3; i++) {
        chg_buf_reset(&out);
        rc = chg_aws_http(a, "GET", url, h, NULL, NULL, NULL, 2000, &status, &out, err);
        if (rc == CHG_ENOMEM || (rc == CHG_OK && status < 500))
            break;
    }
    explicit_bzero(auth, sizeof auth);
    if (rc == CHG_OK && status != 200) {
        chg_aws_seterr(err, status, "CredentialsInvalid", "container: the credentials endpoint answered HTTP %d",
                       status);
        rc = CHG_EIO;
    } else if (rc == CHG_OK)
        rc = from_json(out.data, out.len, "container", c, err);
    else
        snprintf(err->message + strlen(err->message), sizeof err->message - strlen(err->message),
                 " (container credentials)");
    if (out.data)
        explicit_bzero(out.data, out.len);
    chg_buf_free(&out);
    return rc;
}

/* ---- 7. IMDSv2 ------------------------------------------------------------------------------- */

static int from_imds(chg_aws *a, aws_creds *c, chg_aws_error *err)
{
    const char *dis = chg_aws_env(a, "AWS_EC2_METADATA_DISABLED");
    if (dis && !strcasecmp(dis, "true"))
        return NONE;
    const char *base = chg_aws_env(a, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
    const char *mode = chg_aws_env(a, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
    if (!base)
        base = mode && !strcasecmp(mode, "IPv6") ? "http://[fd00:ec2::254]" : "http://169.254.169.254";
    const char *t = chg_aws_env(a, "AWS_METADATA_SERVICE_TIMEOUT");
    const char *na = chg_aws_env(a, "AWS_METADATA_SERVICE_NUM_ATTEMPTS");
    long timeout = t ? atol(t) * 1000 : 1000, attempts = na ? atol(na) : 1;
    if (timeout <= 0 || timeout > 60000)
        timeout = 1000;
    if (attempts < 1 || attempts > 10)
        attempts = 1;
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    char url[1024], tokhdr[512] = "";
    chg_buf out;
    chg_buf_init(&out);
    int rc = CHG_EIO, status = 0;
    /* the session token */
    snprintf(url, sizeof url, "%.*s/latest/api/token", (int)bl, base);
    const char *th[] = {"x-aws-ec2-metadata-token-ttl-seconds: 21600", NULL};
    for (long i = 0; i < attempts; i++) {
        chg_buf_reset(&out);
        rc = chg_aws_http(a, "PUT", url, th, NULL, NULL, NULL, timeout, &status, &out, err);
        if (rc == CHG_OK && status < 500)
            break;
    }
    if (rc != CHG_OK || status != 200 || !out.data || out.len > 400 || strpbrk(out.data, "\r\n")) {
        if (rc == CHG_OK)
            chg_aws_seterr(err, status, "CredentialsNotFound",
                           "IMDS: no session token (PUT /latest/api/token answered HTTP %d)", status);
        else
            snprintf(err->message + strlen(err->message), sizeof err->message - strlen(err->message),
                     " (IMDS at %.100s)", base);
        chg_buf_free(&out);
        return CHG_EIO;
    }
    snprintf(tokhdr, sizeof tokhdr, "x-aws-ec2-metadata-token: %s", out.data);
    const char *h[] = {tokhdr, NULL};
    /* the role's name, then its credentials */
    snprintf(url, sizeof url, "%.*s/latest/meta-data/iam/security-credentials/", (int)bl, base);
    chg_buf_reset(&out);
    rc = chg_aws_http(a, "GET", url, h, NULL, NULL, NULL, timeout, &status, &out, err);
    char role[256] = "";
    if (rc == CHG_OK && status == 200 && out.data)
        snprintf(role, sizeof role, "%.*s", (int)strcspn(out.data, "\r\n"), out.data);
    bool role_ok = role[0] && !strpbrk(role, "/?#% ");
    if (rc == CHG_OK && !role_ok) {
        chg_aws_seterr(err, status, "CredentialsNotFound", "IMDS: the instance has no IAM role (HTTP %d)", status);
        rc = CHG_EIO;
    }
    if (rc == CHG_OK) {
        snprintf(url, sizeof url, "%.*s/latest/meta-data/iam/security-credentials/%s", (int)bl, base, role);
        chg_buf_reset(&out);
        rc = chg_aws_http(a, "GET", url, h, NULL, NULL, NULL, timeout, &status, &out, err);
        if (rc == CHG_OK && status != 200) {
            chg_aws_seterr(err, status, "CredentialsInvalid", "IMDS: the role's credentials answered HTTP %d",
                           status);
            rc = CHG_EIO;
        } else if (rc == CHG_OK) {
            rc = from_json(out.data, out.len, "IMDS", c, err);
            if (rc == CHG_OK && !c->expires) {
                chg_aws_creds_clear(c);
                chg_aws_seterr(err, 0, "CredentialsInvalid", "IMDS: the role's credentials have no Expiration");
                rc = CHG_EIO;
            }
        }
    }
    explicit_bzero(tokhdr, sizeof tokhdr);
    if (out.data)
        explicit_bzero(out.data, out.len);
    chg_buf_free(&out);
    return rc;
}

/* ---- the chain and its cache ------------------------------------------------------------------ */

static int resolve(chg_aws *a, aws_creds *c, chg_aws_error *err)
{
    static int (*const chain[])(chg_aws *, aws_creds *, chg_aws_error *) = {
        from_env, from_web_identity, from_credentials_file, from_process, from_config_file, from_container,
        from_imds};
    for (size_t i = 0; i < CHG_ARRAY_LEN(chain); i++) {
        memset(err, 0, sizeof *err);
        int rc = chain[i](a, c, err);
        if (rc != NONE)
            return rc;
    }
    chg_aws_seterr(err, 0, "CredentialsNotFound",
                   "no AWS credentials: none in the environment, the web identity token file, the profile '%.64s' "
                   "of the shared files, the container or the instance metadata",
                   a->profile);
    return CHG_EIO;
}

static int copy(const aws_creds *from, aws_creds *to, chg_aws_error *err)
{
    int rc = set(to, from->akid, from->secret, from->token, from->source, err);
    to->expires = from->expires;
    return rc;
}

int chg_aws_creds_get(chg_aws *a, aws_creds *out, chg_aws_error *err)
{
    pthread_mutex_lock(&a->mu);
    int64_t now = time(NULL);
    int rc = CHG_OK;
    if (!a->have_creds || (a->creds.expires && a->creds.expires - now < ADVISORY)) {
        /* providers are slow (HTTP, a process): the lock keeps every other
         * thread from asking at once, which is what a refresh wants */
        aws_creds fresh = {0};
        rc = resolve(a, &fresh, err);
        if (rc == CHG_OK && fresh.expires && fresh.expires <= now) {
            chg_aws_seterr(err, 0, "CredentialsInvalid", "%s: the credentials have already expired", fresh.source);
            chg_aws_creds_clear(&fresh);
            rc = CHG_EIO;
        }
        if (rc == CHG_OK) {
            chg_aws_creds_clear(&a->creds);
            a->creds = fresh;
            a->have_creds = true;
        } else if (a->have_creds && a->creds.expires - now > MANDATORY)
            rc = CHG_OK; /* keep the old ones a while: AWS may be slow */
    }
    if (rc == CHG_OK)
        rc = copy(&a->creds, out, err);
    pthread_mutex_unlock(&a->mu);
    return rc;
}
