/*
 * sqs.c — SQS intake (--sqs-queue URL, repeatable): one thread per queue
 * long-polls ReceiveMessage and hands each message's body to chgd_event,
 * the path of POST /v1/events. A message is therefore the same event as
 * the same body posted: an EventBridge-to-SQS body is the envelope, an
 * SNS-to-SQS body is the SNS notification (the intake unwraps it, as for
 * SNS's HTTP delivery), and the idempotency key is the same (an
 * envelope's id), so an event that arrives by HTTP and by SQS, or twice
 * by SQS, is decided once and its actions run once.
 *
 * Durable before deleted: chgd_event returns once the decision (or, for
 * a redelivery, the recorded one) is committed, and only then is the
 * message deleted. A crash in between loses nothing: the message comes
 * back when its visibility timeout ends and is answered as replayed.
 * While a message is worked on, a keeper thread extends its visibility
 * (ChangeMessageVisibility) whenever less than half of it is left, so
 * slow work (an AWS query being retried) does not hand it to a second
 * consumer.
 *
 * Poison: a body that is not an event at all (not JSON, not an object,
 * too large or too deep) at once, and one whose intake failed (no intake
 * takes it, the store could not record it) from its --sqs-max-receives'th
 * receive on, is recorded in the audit log (kind "sqs_poison") and left
 * on the queue, for the queue's redrive policy to move to its dead-letter
 * queue: chgd never deletes what it did not decide.
 *
 * The wire: SQS's JSON 1.0 protocol (X-Amz-Target: AmazonSQS.*), through
 * the AWS client (include/chg_aws.h) configured as the SDKs are
 * (AWS_ENDPOINT_URL_SQS, the credential chain). docs/aws.md, "SQS intake".
 */
#include "chgd.h"

#include "chg_aws.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 10 /* MaxNumberOfMessages: SQS's largest */

typedef struct inflight {
    char *id, *receipt;
    double deadline;        /* monotonic: when its visibility ends */
} inflight;

typedef struct poller {
    const char *url;        /* the configuration's */
    pthread_t thread;
    bool started;
    /* under mu */
    const char *state;      /* "starting", "polling", "failing", "stopped" */
    char error[400];
    int64_t last_receive;   /* seconds, 0: never */
    uint64_t received, deleted, replayed, poison, failed;
    uint64_t receive_errors, delete_errors, extend_errors, extended;
    inflight fl[BATCH];
    size_t nfl;
} poller;

static chg_aws *rx;  /* long polls: a timeout past the wait, ended at stop */
static chg_aws *ctl; /* DeleteMessage, ChangeMessageVisibility: finish even while stopping */
static poller *pollers;
static size_t npollers;
static long wait_s, visibility, max_receives;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static atomic_bool stopping;
static bool keeper_stop, keeper_started;
static pthread_t keeper;
static struct due *keeper_list;

static double mono(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static bool cancelled(void *ud)
{
    (void)ud;
    return atomic_load(&stopping);
}

/* Sleep secs, or less when chgd stops. */
static void pause_for(double secs)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    long ns = until.tv_nsec + (long)((secs - (double)(long)secs) * 1e9);
    until.tv_sec += (time_t)secs + ns / 1000000000L;
    until.tv_nsec = ns % 1000000000L;
    pthread_mutex_lock(&mu);
    while (!atomic_load(&stopping) && pthread_cond_timedwait(&cv, &mu, &until) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&mu);
}

static void set_state(poller *p, const char *state, const char *error)
{
    pthread_mutex_lock(&mu);
    p->state = state;
    snprintf(p->error, sizeof p->error, "%s", error ? error : "");
    pthread_mutex_unlock(&mu);
}

/* One SQS operation: body is built by json_pack's fmt; the answer's JSON
 * in *answer (NULL when it is not wanted). */
static int sqs_call(chg_aws *a, const char *op, json_t *req, json_t **answer, chg_aws_error *e)
{
    if (answer)
        *answer = NULL;
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body) {
        memset(e, 0, sizeof *e);
        snprintf(e->code, sizeof e->code, "ConfigError");
        snprintf(e->message, sizeof e->message, "SQS %s: out of memory", op);
        return CHG_ENOMEM;
    }
    chg_buf out;
    chg_buf_init(&out);
    int rc = chg_aws_json_call(a, "sqs", op, body, &out, e);
    free(body);
    if (rc == CHG_OK && answer) {
        json_error_t je;
        *answer = out.data ? json_loadb(out.data, out.len, 0, &je) : NULL;
        if (!json_is_object(*answer)) {
            json_decref(*answer);
            *answer = NULL;
            memset(e, 0, sizeof *e);
            snprintf(e->code, sizeof e->code, "MalformedResponse");
            snprintf(e->message, sizeof e->message, "the answer is not a JSON object");
            rc = CHG_EIO;
        }
    }
    chg_buf_free(&out);
    if (rc != CHG_OK) {
        char op_name[64];
        snprintf(op_name, sizeof op_name, "SQS %s", op);
        chg_aws_name_error(e, op_name);
    }
    return rc;
}

/* ---- the audit record of a poison message ---------------------------------------------------------- */

static int poison_run(chg_store_conn *w, void *ud)
{
    char now[32];
    return chg_store_audit_append(w, "sqs_poison", NULL, ud, chgd_time_text(chgd_now(), now), NULL);
}

/* Recorded, not deleted: the queue's redrive policy moves it on. The
 * record names the message and why, and holds the body's digest, not the
 * body (it is in the queue, or its dead-letter queue). */
static void poison(poller *p, const char *id, long count, const char *body, size_t len, const char *why)
{
    char sha[65];
    chgd_sha256_hex(body, len, sha);
    json_t *j = json_pack("{s:s, s:s, s:I, s:I, s:s, s:I, s:s}", "queue", p->url, "message_id", id, "receive_count",
                          (json_int_t)count, "max_receives", (json_int_t)max_receives, "reason", why, "body_bytes",
                          (json_int_t)len, "body_sha256", sha);
    chg_buf data;
    chg_buf_init(&data);
    if (j)
        chgd_json_dump(j, &data);
    json_decref(j);
    int rc = !j || data.oom ? CHG_ENOMEM : chg_store_run(chgd_store, poison_run, data.data);
    chg_buf_free(&data);
    pthread_mutex_lock(&mu);
    p->poison++;
    pthread_mutex_unlock(&mu);
    chgd_log(LOG_WARN, "sqs: %s: message %s is poison (receive %ld): %s; %s, left to the queue's redrive policy",
             p->url, id, count, why, rc == CHG_OK ? "recorded in the audit log" : "NOT recorded (the store failed)");
}

/* ---- one message ------------------------------------------------------------------------------------ */

static bool delete_message(poller *p, const char *id, const char *receipt)
{
    chg_aws_error e;
    int rc = sqs_call(ctl, "DeleteMessage", json_pack("{s:s, s:s}", "QueueUrl", p->url, "ReceiptHandle", receipt),
                      NULL, &e);
    pthread_mutex_lock(&mu);
    if (rc == CHG_OK)
        p->deleted++;
    else
        p->delete_errors++;
    pthread_mutex_unlock(&mu);
    if (rc != CHG_OK)
        chgd_log(LOG_WARN, "sqs: %s: message %s decided but not deleted (%s): it comes back and is answered as "
                           "replayed", p->url, id, e.message);
    return rc == CHG_OK;
}

/* The error message of an answer's {"error":{"message":…}} body. */
static void answer_error(const chgd_answer *a, char *out, size_t len)
{
    json_t *j = a->body.data ? json_loadb(a->body.data, a->body.len, 0, NULL) : NULL;
    const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    snprintf(out, len, "%s", m ? m : "no answer");
    json_decref(j);
}

static void handle(poller *p, const char *id, const char *receipt, const char *body, size_t len, long count)
{
    char why[600] = "";
    if ((long)len > chgd_cfg->max_body)
        snprintf(why, sizeof why, "the body is larger than max-body (%ld bytes)", chgd_cfg->max_body);
    else if (chgd_json_too_deep(body, len, chgd_cfg->max_depth))
        snprintf(why, sizeof why, "the body is nested deeper than max-depth (%ld levels)", chgd_cfg->max_depth);
    if (why[0]) {
        poison(p, id, count, body, len, why);
        return;
    }
    chgd_answer a = {0};
    chg_buf_init(&a.body);
    chgd_event(body, len, NULL, &a); /* returns once the decision is durable */
    if (a.status == 200) {
        json_t *d = json_loadb(a.body.data, a.body.len, 0, NULL);
        const char *change = json_string_value(json_object_get(d, "change"));
        const char *outcome = json_string_value(json_object_get(d, "outcome"));
        pthread_mutex_lock(&mu);
        p->replayed += a.replayed;
        pthread_mutex_unlock(&mu);
        chgd_log(LOG_INFO, "sqs: %s: message %s: change %s %s%s", p->url, id, change ? change : "(no id)",
                 outcome ? outcome : "?", a.replayed ? " (replayed: decided before)" : "");
        json_decref(d);
        delete_message(p, id, receipt);
    } else {
        char msg[400];
        answer_error(&a, msg, sizeof msg);
        if (a.status == 400) /* not JSON, not an object: no receive will make it an event */
            snprintf(why, sizeof why, "%s", msg);
        else if (count >= max_receives)
            snprintf(why, sizeof why, "intake failed on %ld receives (HTTP %d): %s", count, a.status, msg);
        if (why[0])
            poison(p, id, count, body, len, why);
        else {
            pthread_mutex_lock(&mu);
            p->failed++;
            pthread_mutex_unlock(&mu);
            chgd_log(LOG_WARN, "sqs: %s: message %s (receive %ld of %ld): %s; left for another receive", p->url, id,
                     count, max_receives, msg);
        }
    }
    chg_buf_free(&a.body);
}

/* ---- the in-flight table the keeper extends ------------------------------------------------------------ */

static void inflight_add(poller *p, const char *id, const char *receipt, double deadline)
{
    pthread_mutex_lock(&mu);
    if (p->nfl < BATCH) {
        inflight *f = &p->fl[p->nfl];
        f->id = chg_strdup(id);
        f->receipt = chg_strdup(receipt);
        f->deadline = deadline;
        if (f->id && f->receipt)
            p->nfl++;
        else {
            chg_free(f->id);
            chg_free(f->receipt);
        }
    }
    pthread_mutex_unlock(&mu);
}

static void inflight_remove(poller *p, const char *id)
{
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < p->nfl; i++)
        if (!strcmp(p->fl[i].id, id)) {
            chg_free(p->fl[i].id);
            chg_free(p->fl[i].receipt);
            p->fl[i] = p->fl[--p->nfl];
            break;
        }
    pthread_mutex_unlock(&mu);
}

/* Every quarter second: each message in flight with less than half its
 * visibility left gets a whole visibility timeout more. The calls are
 * made with the table unlocked (the pollers go on), from copies. */
typedef struct due {
    poller *p;
    char *id, *receipt;
} due;

static void extend(const due *d)
{
    double t0 = mono();
    chg_aws_error e;
    int rc = sqs_call(ctl, "ChangeMessageVisibility",
                      json_pack("{s:s, s:s, s:i}", "QueueUrl", d->p->url, "ReceiptHandle", d->receipt,
                                "VisibilityTimeout", (int)visibility),
                      NULL, &e);
    if (rc != CHG_OK)
        chgd_log(LOG_WARN, "sqs: %s: message %s: visibility not extended (%s)", d->p->url, d->id,
                 rc == CHG_ENOMEM ? "out of memory" : e.message);
    pthread_mutex_lock(&mu);
    for (size_t j = 0; j < d->p->nfl; j++) /* still in flight? */
        if (!strcmp(d->p->fl[j].id, d->id)) {
            /* a failure is tried again next round, not at once */
            d->p->fl[j].deadline = rc == CHG_OK ? t0 + (double)visibility : mono() + (double)visibility / 2 + 0.25;
            break;
        }
    d->p->extended += rc == CHG_OK;
    d->p->extend_errors += rc != CHG_OK;
    pthread_mutex_unlock(&mu);
}

static void *keeper_main(void *arg)
{
    due *list = arg; /* npollers * BATCH */
    pthread_mutex_lock(&mu);
    while (!keeper_stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 250000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&cv, &mu, &until);
        size_t n = 0;
        double now = mono();
        for (size_t k = 0; k < npollers; k++)
            for (size_t i = 0; i < pollers[k].nfl; i++)
                if (pollers[k].fl[i].deadline - now < (double)visibility / 2) {
                    list[n].p = &pollers[k];
                    list[n].id = chg_strdup(pollers[k].fl[i].id);
                    list[n].receipt = chg_strdup(pollers[k].fl[i].receipt);
                    if (list[n].id && list[n].receipt)
                        n++;
                    else {
                        chg_free(list[n].id);
                        chg_free(list[n].receipt);
                    }
                }
        pthread_mutex_unlock(&mu);
        for (size_t i = 0; i < n; i++) {
            extend(&list[i]);
            chg_free(list[i].id);
            chg_free(list[i].receipt);
        }
        pthread_mutex_lock(&mu);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

/* ---- the poller -------------------------------------------------------------------------------------------- */

static void batch(poller *p, json_t *msgs, double received_at)
{
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        const char *id = json_string_value(json_object_get(m, "MessageId"));
        const char *receipt = json_string_value(json_object_get(m, "ReceiptHandle"));
        if (id && receipt)
            inflight_add(p, id, receipt, received_at + (double)visibility);
    }
    json_array_foreach(msgs, i, m) {
        const char *id = json_string_value(json_object_get(m, "MessageId"));
        const char *receipt = json_string_value(json_object_get(m, "ReceiptHandle"));
        json_t *body = json_object_get(m, "Body");
        const char *count_text = json_string_value(json_object_get(json_object_get(m, "Attributes"),
                                                                   "ApproximateReceiveCount"));
        long count = count_text ? strtol(count_text, NULL, 10) : 1;
        pthread_mutex_lock(&mu);
        p->received++;
        pthread_mutex_unlock(&mu);
        if (!id || !receipt) { /* nothing to delete it by: SQS gives it again */
            chgd_log(LOG_WARN, "sqs: %s: a message without MessageId or ReceiptHandle, ignored", p->url);
            continue;
        }
        if (!json_is_string(body))
            poison(p, id, count, "", 0, "the message has no Body");
        else
            handle(p, id, receipt, json_string_value(body), json_string_length(body), count);
        inflight_remove(p, id);
    }
}

static void *poller_main(void *arg)
{
    poller *p = arg;
    double backoff = 0;
    while (!atomic_load(&stopping)) {
        chg_aws_error e;
        json_t *ans;
        int rc = sqs_call(rx, "ReceiveMessage",
                          json_pack("{s:s, s:i, s:i, s:i, s:[s]}", "QueueUrl", p->url, "MaxNumberOfMessages", BATCH,
                                    "WaitTimeSeconds", (int)wait_s, "VisibilityTimeout", (int)visibility,
                                    "AttributeNames", "ApproximateReceiveCount"),
                          &ans, &e);
        double received_at = mono();
        if (rc != CHG_OK) {
            if (atomic_load(&stopping))
                break; /* the long poll was ended by the stop */
            pthread_mutex_lock(&mu);
            p->receive_errors++;
            pthread_mutex_unlock(&mu);
            set_state(p, "failing", e.message);
            backoff = backoff ? (backoff * 2 > 60 ? 60 : backoff * 2) : 1;
            chgd_log(LOG_WARN, "sqs: %s: %s; polling again in %.0fs", p->url, e.message, backoff);
            pause_for(backoff);
            continue;
        }
        backoff = 0;
        set_state(p, "polling", NULL);
        pthread_mutex_lock(&mu);
        p->last_receive = chgd_now();
        pthread_mutex_unlock(&mu);
        /* received before a stop: in flight, so finished */
        batch(p, json_object_get(ans, "Messages"), received_at);
        json_decref(ans);
    }
    set_state(p, "stopped", NULL);
    return NULL;
}

/* ---- start, stop, state ---------------------------------------------------------------------------------------- */

int chgd_sqs_start(const chgd_config *c, char *err, size_t errlen)
{
    if (!c->sqs_queues.len)
        return CHG_OK;
    wait_s = c->sqs_wait;
    visibility = c->sqs_visibility;
    max_receives = c->sqs_max_receives;
    chg_aws_options o = {.timeout_ms = c->sqs_wait * 1000 + c->aws_timeout, .cancelled = cancelled};
    chg_aws_error e;
    int rc = chg_aws_new(&o, &rx, &e);
    chg_aws_options o2 = {.timeout_ms = c->aws_timeout};
    if (rc == CHG_OK)
        rc = chg_aws_new(&o2, &ctl, &e);
    if (rc != CHG_OK) {
        snprintf(err, errlen, "--sqs-queue: %s", e.message);
        return rc;
    }
    if (!chg_aws_region(rx)[0]) { /* every call would fail: say so now */
        snprintf(err, errlen, "--sqs-queue: no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, or region in "
                              "the profile)");
        return CHG_EINVAL;
    }
    pollers = chg_calloc(c->sqs_queues.len, sizeof *pollers);
    if (!pollers) {
        snprintf(err, errlen, "out of memory");
        return CHG_ENOMEM;
    }
    npollers = c->sqs_queues.len;
    for (size_t i = 0; i < npollers; i++) {
        pollers[i].url = c->sqs_queues.items[i];
        pollers[i].state = "starting";
    }
    keeper_list = chg_calloc(npollers * BATCH, sizeof *keeper_list);
    keeper_started = keeper_list && pthread_create(&keeper, NULL, keeper_main, keeper_list) == 0;
    for (size_t i = 0; i < npollers && keeper_started; i++) {
        if (pthread_create(&pollers[i].thread, NULL, poller_main, &pollers[i]) != 0) {
            snprintf(err, errlen, "sqs: cannot start a thread");
            return CHG_EIO;
        }
        pollers[i].started = true;
        chgd_log(LOG_INFO, "sqs: polling %s (wait %lds, visibility %lds, poison after %ld receives)", pollers[i].url,
                 wait_s, visibility, max_receives);
    }
    if (!keeper_started) {
        snprintf(err, errlen, "sqs: cannot start a thread");
        return CHG_EIO;
    }
    return CHG_OK;
}

void chgd_sqs_stop(void)
{
    if (!npollers)
        return;
    atomic_store(&stopping, true); /* ends the long polls in flight */
    pthread_mutex_lock(&mu);
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    for (size_t i = 0; i < npollers; i++)
        if (pollers[i].started) /* it finishes the messages it holds */
            pthread_join(pollers[i].thread, NULL);
    if (keeper_started) {
        pthread_mutex_lock(&mu);
        keeper_stop = true;
        pthread_cond_broadcast(&cv);
        pthread_mutex_unlock(&mu);
        pthread_join(keeper, NULL);
    }
    chg_free(keeper_list);
    keeper_list = NULL;
    /* the HTTP server still answers /v1/status: it reads the table under mu */
    pthread_mutex_lock(&mu);
    poller *old = pollers;
    size_t n = npollers;
    pollers = NULL;
    npollers = 0;
    pthread_mutex_unlock(&mu);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < old[i].nfl; j++) {
            chg_free(old[i].fl[j].id);
            chg_free(old[i].fl[j].receipt);
        }
    chg_free(old);
    chg_aws_free(rx);
    chg_aws_free(ctl);
    rx = ctl = NULL;
}

const char *chgd_sqs_state(void)
{
    pthread_mutex_lock(&mu);
    const char *s = npollers ? "polling" : NULL;
    for (size_t i = 0; i < npollers; i++)
        if (strcmp(pollers[i].state, "polling"))
            s = pollers[i].state; /* the one not polling says it */
    pthread_mutex_unlock(&mu);
    return s && atomic_load(&stopping) ? "stopping" : s;
}

void chgd_sqs_json(chg_buf *out)
{
    chg_buf_putc(out, '[');
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < npollers; i++) {
        poller *p = &pollers[i];
        char at[32];
        chg_buf_puts(out, i ? ",{\"queue\":" : "{\"queue\":");
        chg_buf_json_string(out, p->url, strlen(p->url));
        chg_buf_printf(out, ",\"state\":\"%s\",\"error\":", p->state);
        if (p->error[0])
            chg_buf_json_string(out, p->error, strlen(p->error));
        else
            chg_buf_puts(out, "null");
        chg_buf_puts(out, ",\"last_receive_at\":");
        if (p->last_receive)
            chg_buf_printf(out, "\"%s\"", chgd_time_text(p->last_receive, at));
        else
            chg_buf_puts(out, "null");
        chg_buf_printf(out, ",\"in_flight\":%zu,\"received\":%llu,\"deleted\":%llu,\"replayed\":%llu,\"poison\":%llu,"
                            "\"failed\":%llu}", p->nfl, (unsigned long long)p->received,
                       (unsigned long long)p->deleted, (unsigned long long)p->replayed,
                       (unsigned long long)p->poison, (unsigned long long)p->failed);
    }
    pthread_mutex_unlock(&mu);
    chg_buf_putc(out, ']');
}

void chgd_sqs_metrics(chg_buf *o)
{
    static const char *const results[] = {"received", "deleted", "replayed", "poison", "failed"};
    static const char *const calls[] = {"ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility"};
    pthread_mutex_lock(&mu);
    if (!npollers) {
        pthread_mutex_unlock(&mu);
        return;
    }
    chg_buf_puts(o, "# HELP chgd_sqs_messages_total SQS messages received, deleted (decided and durable), replayed "
                    "(decided before), poison (recorded, left to the redrive policy), failed (left for another "
                    "receive).\n# TYPE chgd_sqs_messages_total counter\n");
    for (size_t i = 0; i < npollers; i++) {
        poller *p = &pollers[i];
        uint64_t n[] = {p->received, p->deleted, p->replayed, p->poison, p->failed};
        for (size_t k = 0; k < CHG_ARRAY_LEN(results); k++) {
            chg_buf_puts(o, "chgd_sqs_messages_total{queue=\"");
            chgd_metrics_label(o, p->url);
            chg_buf_printf(o, "\",result=\"%s\"} %llu\n", results[k], (unsigned long long)n[k]);
        }
    }
    chg_buf_puts(o, "# HELP chgd_sqs_errors_total SQS calls that failed, by queue and operation.\n"
                    "# TYPE chgd_sqs_errors_total counter\n");
    for (size_t i = 0; i < npollers; i++) {
        poller *p = &pollers[i];
        uint64_t n[] = {p->receive_errors, p->delete_errors, p->extend_errors};
        for (size_t k = 0; k < CHG_ARRAY_LEN(calls); k++) {
            chg_buf_puts(o, "chgd_sqs_errors_total{queue=\"");
            chgd_metrics_label(o, p->url);
            chg_buf_printf(o, "\",call=\"%s\"} %llu\n", calls[k], (unsigned long long)n[k]);
        }
    }
    chg_buf_puts(o, "# HELP chgd_sqs_visibility_extended_total Visibility timeouts extended for slow work.\n"
                    "# TYPE chgd_sqs_visibility_extended_total counter\n");
    for (size_t i = 0; i < npollers; i++) {
        chg_buf_puts(o, "chgd_sqs_visibility_extended_total{queue=\"");
        chgd_metrics_label(o, pollers[i].url);
        chg_buf_printf(o, "\"} %llu\n", (unsigned long long)pollers[i].extended);
    }
    chg_buf_puts(o, "# HELP chgd_sqs_polling 1 while the queue's last ReceiveMessage succeeded.\n"
                    "# TYPE chgd_sqs_polling gauge\n");
    for (size_t i = 0; i < npollers; i++) {
        chg_buf_puts(o, "chgd_sqs_polling{queue=\"");
        chgd_metrics_label(o, pollers[i].url);
        chg_buf_printf(o, "\"} %d\n", !strcmp(pollers[i].state, "polling"));
    }
    pthread_mutex_unlock(&mu);
}
