/*
 * metrics.c — GET /metrics in the Prometheus text format: requests by
 * route and status, decisions by outcome, request and evaluation latency
 * histograms, actions by state, the audit sequence and the bundle as
 * labels. Counters are updated under one mutex: a request costs one lock
 * of a few nanoseconds, far below the cost of answering it.
 */
#include "chgd.h"

#include <inttypes.h>
#include <pthread.h>
#include <string.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

enum { NPAIRS = 128, NBUCKETS = 12 };
static const double bounds[NBUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                        0.01,   0.025,   0.05,   0.1,   0.5,    2.5};

typedef struct histogram {
    uint64_t counts[NBUCKETS + 1];
    double sum;
    uint64_t n;
} histogram;

static struct {
    const char *route;      /* a static string */
    int status;
    uint64_t n;
} pairs[NPAIRS];
static int npairs;
static histogram requests, evaluations;
static const char *const outcomes[] = {"allow", "pending", "defer", "deny", "error"};
static uint64_t decisions[5];
/* what happened to actions in this process: queued or recorded dry-run
 * by a decision, then done, retried (an attempt that will be tried again)
 * or failed (for good: the alert) by the workers */
static const char *const states[] = {"queued", "dry-run", "done", "retried", "failed"};
enum { NSTATES = CHG_ARRAY_LEN(states) };
static uint64_t actions[NSTATES];

static void observe(histogram *h, double v)
{
    int i = 0;
    while (i < NBUCKETS && v > bounds[i])
        i++;
    h->counts[i]++;
    h->sum += v;
    h->n++;
}

void chgd_metrics_request(const char *route, int status, double seconds)
{
    pthread_mutex_lock(&mu);
    int i = 0;
    while (i < npairs && (pairs[i].route != route || pairs[i].status != status))
        i++;
    if (i == npairs && npairs < NPAIRS) {
        pairs[i].route = route;
        pairs[i].status = status;
        npairs++;
    }
    if (i < npairs)
        pairs[i].n++;
    observe(&requests, seconds);
    pthread_mutex_unlock(&mu);
}

void chgd_metrics_decision(const char *outcome, double seconds)
{
    pthread_mutex_lock(&mu);
    for (int i = 0; i < 5; i++)
        if (!strcmp(outcome, outcomes[i]))
            decisions[i]++;
    observe(&evaluations, seconds);
    pthread_mutex_unlock(&mu);
}

void chgd_metrics_action(const char *state)
{
    pthread_mutex_lock(&mu);
    for (int i = 0; i < NSTATES; i++)
        if (!strcmp(state, states[i]))
            actions[i]++;
    pthread_mutex_unlock(&mu);
}

static void histogram_render(chg_buf *o, const char *name, const char *help, const histogram *h)
{
    chg_buf_printf(o, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (int i = 0; i < NBUCKETS; i++) {
        cum += h->counts[i];
        chg_buf_printf(o, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, bounds[i], cum);
    }
    cum += h->counts[NBUCKETS];
    chg_buf_printf(o, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n%s_sum %.9f\n%s_count %" PRIu64 "\n", name, cum, name,
                   h->sum, name, h->n);
}

/* A label value: backslash, quote and newline escaped. */
void chgd_metrics_label(chg_buf *o, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '\\' || *s == '"')
            chg_buf_putc(o, '\\');
        if (*s == '\n')
            chg_buf_puts(o, "\\n");
        else
            chg_buf_putc(o, *s);
    }
}

void chgd_metrics_render(chg_buf *o)
{
    chg_store_counts n = {0};
    chg_store_conn *r = chg_store_reader(chgd_store);
    bool counted = r && chg_store_counts_get(r, &n) == CHG_OK;
    chgd_bundle *b = chgd_bundle_acquire();
    pthread_mutex_lock(&mu);
    chg_buf_puts(o, "# HELP chgd_requests_total HTTP requests answered, by route and status.\n"
                    "# TYPE chgd_requests_total counter\n");
    for (int i = 0; i < npairs; i++)
        chg_buf_printf(o, "chgd_requests_total{route=\"%s\",code=\"%d\"} %" PRIu64 "\n", pairs[i].route,
                       pairs[i].status, pairs[i].n);
    chg_buf_puts(o, "# HELP chgd_decisions_total Decisions made, by outcome.\n# TYPE chgd_decisions_total counter\n");
    for (int i = 0; i < 5; i++)
        chg_buf_printf(o, "chgd_decisions_total{outcome=\"%s\"} %" PRIu64 "\n", outcomes[i], decisions[i]);
    chg_buf_puts(o, "# HELP chgd_actions_total Actions queued, recorded dry-run, done, retried or failed, since start.\n"
                    "# TYPE chgd_actions_total counter\n");
    for (int i = 0; i < NSTATES; i++)
        chg_buf_printf(o, "chgd_actions_total{state=\"%s\"} %" PRIu64 "\n", states[i], actions[i]);
    chg_buf_printf(o, "# HELP chgd_actions_failed_total Actions that failed for good since start (alert on its rate).\n"
                      "# TYPE chgd_actions_failed_total counter\nchgd_actions_failed_total %" PRIu64 "\n",
                   actions[NSTATES - 1]);
    histogram_render(o, "chgd_request_seconds", "Time to answer a request.", &requests);
    histogram_render(o, "chgd_evaluation_seconds", "Time to evaluate one change.", &evaluations);
    pthread_mutex_unlock(&mu);
    chg_buf_puts(o, "# HELP chgd_in_flight_requests Requests being answered.\n# TYPE chgd_in_flight_requests gauge\n");
    chg_buf_printf(o, "chgd_in_flight_requests %d\n", atomic_load(&chgd_inflight));
    if (counted) {
        chg_buf_puts(o, "# HELP chgd_audit_sequence The last audit record's sequence number.\n"
                        "# TYPE chgd_audit_sequence gauge\n");
        chg_buf_printf(o, "chgd_audit_sequence %" PRId64 "\n", n.audit_seq);
        chg_buf_puts(o, "# HELP chgd_actions_queued Actions waiting for an executor.\n# TYPE chgd_actions_queued gauge\n");
        chg_buf_printf(o, "chgd_actions_queued %" PRId64 "\n", n.actions_queued);
        int64_t flying;
        if (chg_store_inflight_count(r, &flying) == CHG_OK)
            chg_buf_printf(o, "# HELP chgd_changes_in_flight Changes in flight (allowed, not ended), under concurrency limits.\n"
                              "# TYPE chgd_changes_in_flight gauge\nchgd_changes_in_flight %" PRId64 "\n", flying);
        chg_buf_puts(o, "# HELP chgd_actions The store's actions, by state.\n# TYPE chgd_actions gauge\n");
        chg_buf_printf(o, "chgd_actions{state=\"queued\"} %" PRId64 "\nchgd_actions{state=\"done\"} %" PRId64
                          "\nchgd_actions{state=\"failed\"} %" PRId64 "\nchgd_actions{state=\"dry-run\"} %" PRId64 "\n",
                       n.actions_queued, n.actions_done, n.actions_failed, n.actions_dry_run);
    }
    chg_store_stats ss;
    chg_store_stats_get(chgd_store, &ss);
    chg_buf_printf(o, "# HELP chgd_store_commits_total Transactions committed (group commit: one carries many jobs).\n"
                      "# TYPE chgd_store_commits_total counter\nchgd_store_commits_total %" PRIu64 "\n"
                      "# HELP chgd_store_jobs_total Writes committed.\n# TYPE chgd_store_jobs_total counter\n"
                      "chgd_store_jobs_total %" PRIu64 "\n"
                      "# HELP chgd_store_syncs_total WAL fsyncs (each makes every commit before it durable).\n"
                      "# TYPE chgd_store_syncs_total counter\nchgd_store_syncs_total %" PRIu64 "\n",
                   ss.commits, ss.jobs, ss.syncs);
    if (b) {
        chg_buf_puts(o, "# HELP chgd_bundle_info The loaded bundle.\n# TYPE chgd_bundle_info gauge\n"
                        "chgd_bundle_info{policy=\"");
        chgd_metrics_label(o, chg_bundle_policy_name(b->b));
        chg_buf_puts(o, "\",version=\"");
        chgd_metrics_label(o, chg_bundle_policy_version(b->b));
        chg_buf_printf(o, "\",sha256=\"%s\",loaded_at=\"%s\"} 1\n", chg_bundle_hash(b->b), b->loaded_at);
    }
    chgd_bundle_release(b);
    chgd_sqs_metrics(o);
}
