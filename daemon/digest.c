/*
 * digest.c — signed digests of the audit chain (--audit-key), as
 * CloudTrail's log file integrity validation signs digests of its logs:
 * a record of kind "digest" whose signature (Ed25519, through OpenSSL:
 * chg_audit_sign) covers the chain's head — the hash of the record before
 * it, which covers every record before that. Whoever rewrites history
 * and recomputes the hashes cannot sign the new head without the key;
 * `chgc audit verify DB --pubkey FILE` checks them.
 *
 * When: right after start (the start record is signed at once), once
 * audit-digest-records records follow the last digest (the store writes
 * it in the transaction of the record that made them that many, so the
 * bound holds under any load), every audit-digest-seconds seconds while
 * records come, and at stop.
 */
#include "chgd.h"

#include <pthread.h>
#include <time.h>

static chg_audit_key *key;
static pthread_t thread;
static bool started, stop;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long every_seconds;

static int sign(uint64_t seq, const char *hash, chg_buf *out, void *ud)
{
    return chg_audit_sign(ud, seq, hash, (uint64_t)chgd_cfg->audit_digest_records, out);
}

static void digest_now(const char *why)
{
    char at[32];
    bool written;
    if (chg_store_digest_now(chgd_store, chgd_time_text(chgd_now(), at), &written) != CHG_OK)
        chgd_log(LOG_ERROR, "audit: the %s digest could not be written", why);
    else if (written)
        chgd_log(LOG_DEBUG, "audit: %s digest signed", why);
}

static void *digest_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    while (!stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += every_seconds;
        while (!stop && pthread_cond_timedwait(&cv, &mu, &until) == 0)
            ;
        if (stop)
            break;
        pthread_mutex_unlock(&mu);
        digest_now("periodic");
        pthread_mutex_lock(&mu);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

int chgd_digests_start(const chgd_config *c, char *err, size_t errlen)
{
    if (!c->audit_key)
        return CHG_OK;
    int rc = chg_audit_key_load(c->audit_key, true, &key, err, errlen);
    if (rc != CHG_OK)
        return rc;
    chg_store_digest_setup(chgd_store, (uint64_t)c->audit_digest_records, sign, key);
    digest_now("start");
    every_seconds = c->audit_digest_seconds;
    started = pthread_create(&thread, NULL, digest_main, NULL) == 0;
    if (!started) {
        snprintf(err, errlen, "cannot start the audit digest thread");
        return CHG_EIO;
    }
    chgd_log(LOG_INFO, "audit: signed digests every %ld records or %ld s", c->audit_digest_records,
             c->audit_digest_seconds);
    return CHG_OK;
}

void chgd_digests_stop(void)
{
    if (!key)
        return;
    if (started) {
        pthread_mutex_lock(&mu);
        stop = true;
        pthread_cond_signal(&cv);
        pthread_mutex_unlock(&mu);
        pthread_join(thread, NULL);
        started = false;
    }
    digest_now("final");
    /* the store keeps the signer until it closes: the key goes after it */
}

void chgd_digests_free(void)
{
    chg_audit_key_free(key);
    key = NULL;
}
