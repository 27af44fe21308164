/*
 * store.h — chgd's state behind one interface: changes and their
 * revisions, decisions, approvals, flags, idempotency keys, the action
 * queue, timers, and the hash-chained audit log (driver/audit.c).
 *
 * The one backend today is SQLite in WAL mode (store_sqlite.c); a
 * PostgreSQL backend implements the same functions, and callers do not
 * change. What a backend must give:
 *
 *   - Group commit. Every write goes through chg_store_run (or
 *     chg_store_submit): the caller's job runs on the store's one writer
 *     thread, inside a transaction that batches the jobs queued meanwhile,
 *     each job in a savepoint of its own (a failing job undoes only
 *     itself). chg_store_run returns (chg_store_submit's callback runs)
 *     only once the transaction is durable (on disk: fsynced), so nothing
 *     is acknowledged and then lost, and concurrent writers share one
 *     fsync.
 *   - Readers. chg_store_reader gives the calling thread a connection of
 *     its own that sees committed data only — committed, perhaps not yet
 *     durable: whatever a reader read leaves chgd (an answer) only after
 *     chg_store_durable.
 *
 * Every function returns CHG_OK or a negative status: CHG_ENOTFOUND for
 * a key that is not there, CHG_EIO (message in the store's last error,
 * logged by the caller) when the database failed, CHG_ENOMEM. JSON that
 * a function appends to a chg_buf is in the API's shapes (docs/daemon.md).
 */
#ifndef CHGD_STORE_H
#define CHGD_STORE_H

#include "chg_base.h"

typedef struct chg_store chg_store;
/* A connection: a reader (any thread, its own), or the writer's, passed
 * to a job. The write functions below take only the writer's. */
typedef struct chg_store_conn chg_store_conn;

/* Open (creating if need be) the store named by spec (a file path for
 * SQLite), check its schema version, start the writer thread. */
int chg_store_open(const char *spec, chg_store **out, char *err, size_t errlen);
/* Finish the queued jobs, commit, checkpoint and close. */
void chg_store_close(chg_store *s);
const char *chg_store_backend(const chg_store *s); /* "sqlite" */
const char *chg_store_path(const chg_store *s);

/* Run job(conn, ud) on the writer thread in the current batch's
 * transaction and wait until that transaction is durable. Returns the
 * job's status; if the job succeeded but the commit failed, CHG_EIO (and
 * the job's effects are gone). */
typedef int (*chg_store_job)(chg_store_conn *w, void *ud);
int chg_store_run(chg_store *s, chg_store_job job, void *ud);
/* The same without waiting, for a caller that must not hold a thread
 * while the commit runs (an HTTP request suspended meanwhile): done(rc,
 * done_ud) is called on the writer thread once the transaction is
 * durable, with what chg_store_run would have returned; it must be quick
 * and must not wait for the store. Returns CHG_OK when the job is queued;
 * otherwise (CHG_EIO: the store is closing, CHG_ENOMEM) done is never
 * called. */
typedef void (*chg_store_done)(int rc, void *done_ud);
int chg_store_submit(chg_store *s, chg_store_job job, void *ud, chg_store_done done, void *done_ud);

/* Wait until every transaction a reader of this process can see is
 * durable: called after reading, before answering what was read. Quick
 * when nothing is being synced. CHG_EIO when the store can no longer make
 * anything durable (an fsync failed). */
int chg_store_durable(chg_store *s);

/* Group commit at work: transactions committed, jobs they carried, and
 * the fsyncs that made them durable (one may cover several commits). */
typedef struct chg_store_stats {
    uint64_t commits, jobs, syncs;
} chg_store_stats;
void chg_store_stats_get(chg_store *s, chg_store_stats *out);

/* The calling thread's read connection (NULL: out of memory or the
 * database cannot be opened). */
chg_store_conn *chg_store_reader(chg_store *s);

/* ---- idempotency ----------------------------------------------------------------- */

/* The response recorded for key: *status and the body appended to out. */
int chg_store_idem_get(chg_store_conn *c, const char *key, int *status, chg_buf *out);
/* The response to key: decision decision_id as every endpoint answers it
 * (chg_store_decision_body; a backend may keep the reference alone), or,
 * with decision_id 0, the body response. */
int chg_store_idem_put(chg_store_conn *w, const char *key, int status, int64_t decision_id, const char *response,
                       const char *at);

/* ---- changes ------------------------------------------------------------------------ */

/* The latest revision of change id: *revision, its content (JSON text)
 * appended to content and its SHA-256 (hex) to sha. */
int chg_store_change_latest(chg_store_conn *c, const char *id, int64_t *revision, chg_buf *content, chg_buf *sha);
/* The audit seq of change id's latest decision (changes.last_seq), 0 and
 * CHG_ENOTFOUND for a change not seen. Every write about a change (a
 * revision, an approval, a decision) comes with a decision, so a seq that
 * did not move says that nothing a decision of it reads has changed. */
int chg_store_change_seq(chg_store_conn *c, const char *id, uint64_t *seq);
/* What an event about change id is judged on, read at once: the audit
 * seq of its latest decision, its latest revision and that revision's
 * SHA-256 (hex); CHG_ENOTFOUND (seq and revision 0) for a change not
 * seen. */
int chg_store_change_head(chg_store_conn *c, const char *id, uint64_t *seq, int64_t *revision, char sha[65]);
int chg_store_revision_put(chg_store_conn *w, const char *id, int64_t revision, const char *content,
                           const char *sha, const char *at);
/* The approvals recorded through the API for change id, as a JSON array
 * of {"by","group","at","decision"} in the order recorded. */
int chg_store_approvals_json(chg_store_conn *c, const char *id, chg_buf *out);
int chg_store_approval_put(chg_store_conn *w, const char *id, const char *by, const char *group,
                           const char *at, const char *decision, const char *recorded_at);

/* A decision: stored, and the change's latest outcome (when id is not
 * NULL). *decision_id is the new decision's key. */
typedef struct chg_store_decision {
    const char *change_id;  /* NULL: a change without an id (kept only in the audit log) */
    int64_t revision;
    const char *cause;      /* "event", "approval", "flag" */
    const char *outcome;
    const char *decision;   /* the §3 object, JSON text */
    const char *bundle;     /* the bundle's SHA-256 */
    const char *decided_at;
    uint64_t seq;           /* the audit record of the decision */
    size_t in_record;       /* where decision's bytes start in that record's data: a backend may keep the
                             * reference instead of a copy */
} chg_store_decision;
int chg_store_decision_put(chg_store_conn *w, const chg_store_decision *d, int64_t *decision_id);
/* The latest decision of change id, as stored (the §3 text). */
int chg_store_decision_latest(chg_store_conn *c, const char *id, chg_buf *decision);
/* GET /v1/changes/{id}: {"id","revision","outcome","updated_at","change",
 * "approvals","decisions":[…latest first],"in_flight"}. */
int chg_store_change_json(chg_store_conn *c, const char *id, chg_buf *out);
/* GET /v1/changes: {"changes":[…],"next_cursor":…}, ordered by their
 * latest decision; outcome and since (RFC 3339) may be NULL; cursor 0 is
 * the start. */
int chg_store_changes_json(chg_store_conn *c, const char *outcome, const char *since, int64_t cursor,
                           int limit, chg_buf *out);
/* Every change's id, in the order of their latest decision (chg_vec of
 * chg_malloc'd strings). */
int chg_store_change_ids(chg_store_conn *c, chg_vec *ids);

/* ---- actions and timers ------------------------------------------------------------- */

/* Queue action idx of decision_id: state "queued", or "dry-run" (recorded,
 * never executed). key is the action's idempotency key. */
int chg_store_action_put(chg_store_conn *w, int64_t decision_id, int idx, const char *call, const char *args,
                         const char *state, const char *key);
/* An action as the worker (daemon/actions.c) takes it from the queue. */
typedef struct chg_store_action {
    int64_t id;
    char *call, *args, *key; /* chg_malloc'd; args is JSON text */
    char *change_id;         /* the change its decision is about ("" for none) */
    int attempts;            /* made so far */
} chg_store_action;
/* The queued actions due at `now` (next_at NULL or <= now, an instant in
 * the form actions use: RFC 3339 UTC with milliseconds), oldest first, at
 * most limit, appended to out (a chg_vec of chg_malloc'd chg_store_action;
 * chg_store_actions_free lets go of them). */
int chg_store_actions_due(chg_store_conn *c, const char *now, int limit, chg_vec *out);
void chg_store_actions_free(chg_vec *v);
void chg_store_action_free(chg_store_action *a);
/* The earliest next_at of a queued action ("" when one is due now), or
 * CHG_ENOTFOUND when none is queued. */
int chg_store_actions_next(chg_store_conn *c, chg_buf *at);
/* After an attempt: the action's state ("queued" again, "done", "failed"),
 * the attempts made and when to try next (NULL: not again). */
int chg_store_action_update(chg_store_conn *w, int64_t id, const char *state, int attempts, const char *next_at);
/* The instant (RFC 3339 UTC) a change is to be decided again, or none (due NULL). */
int chg_store_timer_set(chg_store_conn *w, const char *id, const char *due);
/* The changes whose timer is due at `now` (due <= now), earliest first. */
int chg_store_timers_due(chg_store_conn *c, const char *now, chg_vec *ids);

/* ---- changes in flight (concurrency limits, docs/daemon.md "Live changes") ------------- */

/* A change in flight, or the last one that was: its revision when it was
 * allowed, since/until (RFC 3339 UTC; until is its bound), what set the
 * bound ("duration", "max"), its risk class's name (NULL: unknown), the
 * change as it was allowed (JSON text: the limits' groups read it), and,
 * once it ended, when, how ("succeeded", "failed", "cancelled",
 * "elapsed") and by whom (NULL for "elapsed"). Strings chg_malloc'd. */
typedef struct chg_store_inflight {
    char *id;
    int64_t revision;
    char *since, *until, *bound, *risk, *content;
    char *ended_at, *result, *ended_by;
} chg_store_inflight;
void chg_store_inflight_free(chg_store_inflight *f); /* its strings */
void chg_store_inflights_free(chg_vec *v);           /* a chg_vec of them */
/* The change goes in flight (a new period replaces an ended one). */
int chg_store_inflight_put(chg_store_conn *w, const chg_store_inflight *f);
/* The change's latest period, ended or not; CHG_ENOTFOUND: none. */
int chg_store_inflight_get(chg_store_conn *c, const char *id, chg_store_inflight *out);
/* Every change in flight (not ended), by since: a chg_vec of chg_malloc'd
 * chg_store_inflight (chg_store_inflights_free). */
int chg_store_inflight_active(chg_store_conn *c, chg_vec *out);
/* The changes in flight whose until is at or before now, earliest first. */
int chg_store_inflight_expired(chg_store_conn *c, const char *now, chg_vec *ids);
/* End the change's period; CHG_ENOTFOUND when it is not in flight. */
int chg_store_inflight_end(chg_store_conn *w, const char *id, const char *ended_at, const char *result,
                           const char *by);
int chg_store_inflight_count(chg_store_conn *c, int64_t *n);
/* The "in_flight" member of GET /v1/changes/{id}: the latest period as
 * {"active","revision","since","until","bound","ended_at","result",
 * "ended_by"}, or null. */
int chg_store_inflight_json(chg_store_conn *c, const char *id, chg_buf *out);
/* The changes a limit holds (deferred by it), in the order they were
 * first held: re-decided in that order when a change ends. */
int chg_store_held_set(chg_store_conn *w, const char *id, bool held);
int chg_store_held_ids(chg_store_conn *c, chg_vec *ids);

/* ---- flags ---------------------------------------------------------------------------- */

int chg_store_flag_put(chg_store_conn *w, const char *name, const char *by, const char *why, const char *at);
/* CHG_ENOTFOUND when the flag was not set. */
int chg_store_flag_delete(chg_store_conn *w, const char *name);
/* {"flags":[{"name","by","why","set_at"}…]} */
int chg_store_flags_json(chg_store_conn *c, chg_buf *out);
/* The names of the flags set (chg_vec of chg_malloc'd strings). */
int chg_store_flag_names(chg_store_conn *c, chg_vec *names);

/* ---- the audit log ---------------------------------------------------------------------- */

/* Append a record (chg_audit_record): the store assigns seq and prev and
 * computes the hash. *seq may be NULL. */
int chg_store_audit_append(chg_store_conn *w, const char *kind, const char *subject, const char *data,
                           const char *at, uint64_t *seq);
/* The chain's head: the last record's seq and hash (writer only; inside
 * a job, the head as the job's own records left it). */
void chg_store_audit_head(chg_store_conn *w, uint64_t *seq, char hash[65]);
/* Signed digests (--audit-key): with every > 0, once `every` records
 * follow the last digest, chg_store_audit_append writes a digest record
 * (kind "digest") after the one that made them `every`: sign() is given
 * the message chg_audit_digest_message makes of the head and appends its
 * signature's data (JSON members) to out. Called before the first job. */
typedef int (*chg_store_signer)(uint64_t seq, const char *hash, chg_buf *out, void *ud);
void chg_store_digest_setup(chg_store *s, uint64_t every, chg_store_signer sign, void *ud);
/* Write a digest now if a record follows the last one (any thread: it is
 * a job of its own); *written says whether one was. */
int chg_store_digest_now(chg_store *s, const char *at, bool *written);
/* {"records":[…],"next_since":N|null}: records after since, at most limit. */
int chg_store_audit_json(chg_store_conn *c, uint64_t since, int limit, chg_buf *out);

/* ---- status --------------------------------------------------------------------------- */

typedef struct chg_store_counts {
    int64_t changes, decisions, approvals, flags, actions_queued, audit_seq;
    int64_t actions_done, actions_failed, actions_dry_run; /* actions by state */
} chg_store_counts;
int chg_store_counts_get(chg_store_conn *c, chg_store_counts *out);

/* A stored decision as every endpoint answers it: the §3 object with
 * extra fields beside its own (docs/daemon.md): decision text d (n
 * bytes) without its closing brace, then ,"seq":…,"decided_at":…,
 * "bundle":…,"revision":…,"cause":…}. The one place this shape is written. */
void chg_store_decision_body(chg_buf *out, const char *d, size_t n, uint64_t seq, const char *decided_at,
                             const char *bundle, int64_t revision, const char *cause);

/* The last database error of a connection, for the log. */
const char *chg_store_error(chg_store_conn *c);

#endif
