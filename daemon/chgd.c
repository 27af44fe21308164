/*
 * chgd.c — the daemon's start-up, signals and shut-down, in a fixed
 * order (as Redis's server.c):
 *
 *   defaults → config file → flags → validate (keys, tokens, listen
 *   address) → open the store → load and verify the policy → start the
 *   engine (audit "start") → listen → poll the SQS queues → wait for
 *   signals → stop polling, finish the messages in hand → stop listening,
 *   finish the requests in flight → close the store (flushed) → exit
 *
 * Signals are blocked in every thread and taken by the main thread with
 * sigwait, so no handler ever runs inside a worker: SIGHUP reloads the
 * policy, SIGTERM and SIGINT stop.
 */
#include "chgd.h"

#include "chg_time.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* inherited by every thread made after this */
    signal(SIGPIPE, SIG_IGN);               /* a client gone mid-answer is an error, not death */

    chgd_config cfg;
    bool check;
    int st = chgd_config_load(&cfg, argc, argv, &check);
    if (st) {
        chgd_config_free(&cfg);
        return st == 1 ? 0 : 2;
    }
    chgd_log_init(cfg.log_level, cfg.log_format);
    char err[1024] = "";
    if (chgd_config_validate(&cfg, err, sizeof err) != CHG_OK) {
        fprintf(stderr, "chgd: %s\n", err);
        chgd_config_free(&cfg);
        return 2;
    }
    chgd_cfg = &cfg;
    if (check) {
        /* the policy too: a configuration that names a broken policy is
         * not valid */
        chgd_bundle *b;
        if (chgd_bundle_open(&cfg, &b, err, sizeof err) != CHG_OK) {
            fprintf(stderr, "chgd: %s\n", err);
            chgd_config_free(&cfg);
            return 2;
        }
        printf("chgd: the configuration is valid (policy %s, bundle %s)\n", chg_bundle_policy_name(b->b),
               chg_bundle_hash(b->b));
        chgd_bundle_release(b);
        chgd_config_free(&cfg);
        return 0;
    }
    chgd_log(LOG_INFO, "chgd %s starting%s%s", CHG_VERSION_STRING, cfg.config_file ? ", config " : "",
             cfg.config_file ? cfg.config_file : "");
    if (cfg.fake_clock) { /* before anything reads the clock */
        int64_t t = 0;
        chg_time_parse_iso(cfg.fake_clock, strlen(cfg.fake_clock), &t);
        chgd_clock_fake(t);
        chgd_log(LOG_WARN, "fake clock at %s: time moves only by PUT /v1/clock", cfg.fake_clock);
    }
    chg_store *store;
    if (chg_store_open(cfg.store, &store, err, sizeof err) != CHG_OK) {
        chgd_log(LOG_ERROR, "store: %s", err);
        chgd_config_free(&cfg);
        return 2;
    }
    chgd_log(LOG_INFO, "store %s open (%s, WAL)", cfg.store, chg_store_backend(store));
    chgd_bundle *b;
    if (chgd_bundle_open(&cfg, &b, err, sizeof err) != CHG_OK) {
        chgd_log(LOG_ERROR, "policy: %s", err);
        chg_store_close(store);
        chgd_config_free(&cfg);
        return 2;
    }
    chgd_log(LOG_INFO, "policy %s version %s loaded, bundle %s", chg_bundle_policy_name(b->b),
             chg_bundle_policy_version(b->b) ? chg_bundle_policy_version(b->b) : "none", chg_bundle_hash(b->b));
    int status = 0;
    if (chgd_aws_start(&cfg, err, sizeof err) != CHG_OK) {
        chgd_log(LOG_ERROR, "%s", err);
        status = 2;
    } else if (chgd_engine_start(&cfg, store, b, err, sizeof err) != CHG_OK) {
        chgd_log(LOG_ERROR, "%s", err);
        status = 2;
    } else if (chgd_digests_start(&cfg, err, sizeof err) != CHG_OK ||
               chgd_actions_start(&cfg, err, sizeof err) != CHG_OK) {
        chgd_log(LOG_ERROR, "%s", err);
        status = 2;
    } else if (chgd_http_start(&cfg, err, sizeof err) != CHG_OK) {
        chgd_log(LOG_ERROR, "%s", err);
        status = 2;
    } else {
        if (cfg.dry_run)
            chgd_log(LOG_INFO, "dry run: actions are recorded, never executed");
        chgd_timers_start();
        if (chgd_sqs_start(&cfg, err, sizeof err) != CHG_OK) {
            chgd_log(LOG_ERROR, "%s", err);
            status = 2;
        }
        while (status == 0) {
            int sig;
            if (sigwait(&set, &sig) != 0)
                continue;
            if (sig == SIGHUP) {
                chgd_log(LOG_INFO, "SIGHUP: reloading the policy");
                chg_buf out;
                chg_buf_init(&out);
                chgd_reload(&out, err, sizeof err);
                chg_buf_free(&out);
                continue;
            }
            chgd_log(LOG_INFO, "%s: finishing the requests in flight", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            break;
        }
        chgd_sqs_stop(); /* polling first; the messages in hand are finished */
        chgd_http_stop(10);
        chgd_timers_stop();
    }
    chgd_actions_stop();
    chgd_digests_stop(); /* the last digest covers the last record */
    chg_store_close(store); /* the writer finishes its queue and commits */
    chgd_digests_free();
    chgd_engine_stop();
    chgd_aws_stop();
    chgd_log(LOG_INFO, "stopped");
    chgd_config_free(&cfg);
    return status;
}
