/*
 * store_sqlite.c — the SQLite backend of store.h: one database file in
 * WAL mode, one writer thread that commits batches of jobs (group
 * commit), one syncer thread that makes them durable, and a read
 * connection per thread.
 *
 * Why a writer thread rather than a lock around a shared connection: the
 * cost of a durable commit is an fsync (~0.4 ms here), and a writer that
 * takes every job queued while the previous fsync ran commits them with
 * one, so N concurrent events cost one fsync, not N.
 *
 * Why a syncer beside it: the writer commits with synchronous=NORMAL
 * (the transaction is in the WAL, in the page cache, not yet on disk) and
 * hands the batch on; the syncer fdatasyncs the WAL and only then tells
 * the batch's jobs (resumes their connections, wakes their callers). So
 * the writer commits batch N+1 while N is being synced, instead of
 * waiting for the disk, and one fdatasync covers every batch committed
 * before it: the WAL is written in order, and a crash keeps a prefix of
 * it (SQLite's recovery stops at the first frame that does not check).
 * A reader may see a committed batch before it is durable; what it
 * answers outside waits for chg_store_durable first.
 *
 * The audit chain's head (the last seq and hash) lives in memory on the
 * writer thread and is read from the table at open; a job that fails
 * rolls back its savepoint and the head with it, and a failed commit
 * restores the head of the batch's start.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include "store.h"

#include "chg_driver.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SCHEMA_VERSION "2"
#define BATCH_MAX 512

enum { NSTMT = 64 };

struct chg_store_conn {
    sqlite3 *db;
    bool writer;
    struct chg_store *store;     /* the writer's: the chain's head is there */
    struct {
        const char *sql; /* a static string: compared by address */
        sqlite3_stmt *st;
    } cache[NSTMT];
    int ncache;
    struct chg_store_conn *next; /* every reader, for close */
};

typedef struct job {
    chg_store_job fn;
    void *ud;
    int rc;
    bool done;              /* chg_store_run's: its caller waits for this */
    chg_store_done notify;  /* chg_store_submit's: called instead, then the job freed */
    void *notify_ud;
    struct job *next;
} job;

struct chg_store {
    char *path;
    chg_store_conn *w;
    /* the audit chain's head: the writer thread's alone once it runs */
    uint64_t seq;
    char hash[65];
    /* signed digests: every `every` records (0: none), by sign(); the
     * last digest's seq, read again when a rollback undid it */
    uint64_t every, digest_seq;
    chg_store_signer sign;
    void *sign_ud;
    pthread_t thread, syncer;
    pthread_mutex_t mu;
    pthread_cond_t work, done, sync;
    job *head, *tail;
    bool stopping, sync_stopping;
    /* the syncer's queue: the jobs of batches committed (or failed) and
     * not yet synced, in commit order; under mu */
    job *sync_head, *sync_tail;
    /* batches taken by the writer (a reader can see one from then on),
     * handed to the syncer, and synced: chg_store_durable waits for synced
     * to reach what begun was */
    uint64_t begun, handed, synced;
    int wal_fd;             /* the WAL, for fdatasync */
    bool broken;            /* an fdatasync failed: nothing is durable any more */
    uint64_t commits, jobs, syncs; /* under mu */
    /* readers */
    pthread_key_t key;
    chg_store_conn *readers;
};

/* Schema 2. Each decision's §3 text is stored once, in its audit record:
 * `decisions` holds where it lies in that record's data (doff, dlen:
 * bytes), and an event's idempotency answer is its decision's id, the
 * body rebuilt by chg_store_decision_body — the bytes first answered. A
 * change has an integer cid assigned in order, which keys its revisions
 * and its decisions' index, so a new change appends to those B-trees
 * instead of dirtying a leaf at a random place; `changes` also holds the
 * latest revision's SHA-256, so the state an event is judged on is one
 * row. idempotency is WITHOUT ROWID: one B-tree, keyed by the key. */
static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);\n"
    "CREATE TABLE IF NOT EXISTS changes (cid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,\n"
    "  revision INTEGER NOT NULL, sha256 TEXT NOT NULL, outcome TEXT NOT NULL, updated_at TEXT NOT NULL,\n"
    "  last_seq INTEGER NOT NULL);\n"
    "CREATE INDEX IF NOT EXISTS changes_by_seq ON changes(last_seq);\n"
    "CREATE TABLE IF NOT EXISTS revisions (cid INTEGER NOT NULL, revision INTEGER NOT NULL,\n"
    "  content TEXT NOT NULL, received_at TEXT NOT NULL, PRIMARY KEY (cid, revision)) WITHOUT ROWID;\n"
    "CREATE TABLE IF NOT EXISTS decisions (id INTEGER PRIMARY KEY, cid INTEGER, revision INTEGER,\n"
    "  cause TEXT NOT NULL, outcome TEXT NOT NULL, bundle TEXT NOT NULL, seq INTEGER NOT NULL,\n"
    "  doff INTEGER NOT NULL, dlen INTEGER NOT NULL);\n"
    "CREATE INDEX IF NOT EXISTS decisions_by_change ON decisions(cid, id);\n"
    "CREATE TABLE IF NOT EXISTS approvals (id INTEGER PRIMARY KEY, change_id TEXT NOT NULL,\n"
    "  by TEXT NOT NULL, grp TEXT, at TEXT NOT NULL, decision TEXT NOT NULL, recorded_at TEXT NOT NULL);\n"
    "CREATE INDEX IF NOT EXISTS approvals_by_change ON approvals(change_id, id);\n"
    "CREATE TABLE IF NOT EXISTS flags (name TEXT PRIMARY KEY, by TEXT NOT NULL, why TEXT NOT NULL,\n"
    "  set_at TEXT NOT NULL);\n"
    "CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, status INTEGER NOT NULL,\n"
    "  decision_id INTEGER, response TEXT, created_at TEXT NOT NULL) WITHOUT ROWID;\n"
    "CREATE TABLE IF NOT EXISTS actions (id INTEGER PRIMARY KEY, decision_id INTEGER NOT NULL,\n"
    "  idx INTEGER NOT NULL, call TEXT NOT NULL, args TEXT NOT NULL, state TEXT NOT NULL,\n"
    "  key TEXT NOT NULL UNIQUE, attempts INTEGER NOT NULL DEFAULT 0, next_at TEXT);\n"
    "CREATE INDEX IF NOT EXISTS actions_by_state ON actions(state, next_at);\n"
    "CREATE TABLE IF NOT EXISTS timers (change_id TEXT PRIMARY KEY, due TEXT NOT NULL);\n"
    /* live changes (concurrency limits): added tables, so a store of
     * schema 1 from before them opens and gains them empty */
    "CREATE TABLE IF NOT EXISTS inflight (change_id TEXT PRIMARY KEY, revision INTEGER NOT NULL,\n"
    "  since TEXT NOT NULL, until TEXT NOT NULL, bound TEXT NOT NULL, risk TEXT, content TEXT NOT NULL,\n"
    "  ended_at TEXT, result TEXT, ended_by TEXT);\n"
    "CREATE INDEX IF NOT EXISTS inflight_active ON inflight(ended_at, until);\n"
    "CREATE TABLE IF NOT EXISTS held (seq INTEGER PRIMARY KEY AUTOINCREMENT, change_id TEXT NOT NULL UNIQUE);\n";

/* Schema 1 to 2, in one transaction at open: the tables whose shape
 * changed are rebuilt. A decision's place in its audit record is found by
 * its bytes (record() in engine.c wrote them there verbatim, at the
 * decision's instant); the idempotency answers keep their stored text. */
static const char migrate_1_2_sql[] =
    "CREATE TABLE changes_v2 (cid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,\n"
    "  revision INTEGER NOT NULL, sha256 TEXT NOT NULL, outcome TEXT NOT NULL, updated_at TEXT NOT NULL,\n"
    "  last_seq INTEGER NOT NULL);\n"
    "INSERT INTO changes_v2 (id, revision, sha256, outcome, updated_at, last_seq)\n"
    "  SELECT c.id, c.revision, (SELECT r.sha256 FROM revisions r WHERE r.change_id = c.id\n"
    "    AND r.revision = c.revision), c.outcome, c.updated_at, c.last_seq FROM changes c ORDER BY c.rowid;\n"
    "CREATE TABLE revisions_v2 (cid INTEGER NOT NULL, revision INTEGER NOT NULL,\n"
    "  content TEXT NOT NULL, received_at TEXT NOT NULL, PRIMARY KEY (cid, revision)) WITHOUT ROWID;\n"
    "INSERT INTO revisions_v2 SELECT c.cid, r.revision, r.content, r.received_at\n"
    "  FROM revisions r JOIN changes_v2 c ON c.id = r.change_id;\n"
    "CREATE TABLE decisions_v2 (id INTEGER PRIMARY KEY, cid INTEGER, revision INTEGER,\n"
    "  cause TEXT NOT NULL, outcome TEXT NOT NULL, bundle TEXT NOT NULL, seq INTEGER NOT NULL,\n"
    "  doff INTEGER NOT NULL, dlen INTEGER NOT NULL);\n"
    "INSERT INTO decisions_v2 SELECT d.id, c.cid, d.revision, d.cause, d.outcome, d.bundle, d.seq,\n"
    "  instr(CAST(a.data AS BLOB), CAST(d.decision AS BLOB)) - 1, length(CAST(d.decision AS BLOB))\n"
    "  FROM decisions d LEFT JOIN changes_v2 c ON c.id = d.change_id JOIN audit a ON a.seq = d.seq\n"
    "  WHERE a.kind = 'decision' AND a.at = d.decided_at AND (d.change_id IS NULL) = (c.cid IS NULL)\n"
    "    AND instr(CAST(a.data AS BLOB), CAST(d.decision AS BLOB)) > 0;\n"
    "CREATE TABLE idempotency_v2 (key TEXT PRIMARY KEY, status INTEGER NOT NULL,\n"
    "  decision_id INTEGER, response TEXT, created_at TEXT NOT NULL) WITHOUT ROWID;\n"
    "INSERT INTO idempotency_v2 SELECT key, status, NULL, response, created_at FROM idempotency;\n";

/* What the rebuilt tables must hold for the migration to commit: every
 * row of the old ones (a decision not found in its audit record, a
 * revision or decision of a change without a row, is not dropped
 * quietly: the store is refused). */
static const char migrate_1_2_check_sql[] =
    "SELECT (SELECT count(*) FROM changes) = (SELECT count(*) FROM changes_v2)\n"
    "  AND (SELECT count(*) FROM changes_v2 WHERE sha256 IS NULL) = 0\n"
    "  AND (SELECT count(*) FROM revisions) = (SELECT count(*) FROM revisions_v2)\n"
    "  AND (SELECT count(*) FROM decisions) = (SELECT count(*) FROM decisions_v2)\n"
    "  AND (SELECT count(*) FROM idempotency) = (SELECT count(*) FROM idempotency_v2)";

static const char migrate_1_2_swap_sql[] =
    "DROP TABLE changes; DROP TABLE revisions; DROP TABLE decisions; DROP TABLE idempotency;\n"
    "ALTER TABLE changes_v2 RENAME TO changes; ALTER TABLE revisions_v2 RENAME TO revisions;\n"
    "ALTER TABLE decisions_v2 RENAME TO decisions; ALTER TABLE idempotency_v2 RENAME TO idempotency;\n"
    "UPDATE meta SET value = '2' WHERE key = 'schema';\n";

const char *chg_store_backend(const chg_store *s)
{
    (void)s;
    return "sqlite";
}

const char *chg_store_path(const chg_store *s)
{
    return s->path;
}

const char *chg_store_error(chg_store_conn *c)
{
    return c ? sqlite3_errmsg(c->db) : "no connection";
}

/* A prepared statement for sql, reset and unbound, from the connection's
 * cache (NULL on failure). */
static sqlite3_stmt *stmt(chg_store_conn *c, const char *sql)
{
    for (int i = 0; i < c->ncache; i++)
        if (c->cache[i].sql == sql) {
            sqlite3_reset(c->cache[i].st);
            sqlite3_clear_bindings(c->cache[i].st);
            return c->cache[i].st;
        }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK)
        return NULL;
    if (c->ncache < NSTMT) {
        c->cache[c->ncache].sql = sql;
        c->cache[c->ncache++].st = st;
    } else
        chg_panic("store: more than %d statements: raise NSTMT", NSTMT);
    return st;
}

static void text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static const char *col(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

/* Step a statement that returns no row. */
static int run(sqlite3_stmt *st)
{
    if (!st)
        return CHG_EIO;
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? CHG_OK : CHG_EIO;
}

static int exec(chg_store_conn *c, const char *sql)
{
    return sqlite3_exec(c->db, sql, NULL, NULL, NULL) == SQLITE_OK ? CHG_OK : CHG_EIO;
}

static void conn_close(chg_store_conn *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->ncache; i++)
        sqlite3_finalize(c->cache[i].st);
    sqlite3_close(c->db);
    chg_free(c);
}

static chg_store_conn *conn_open(const char *path, bool writer, char *err, size_t errlen)
{
    chg_store_conn *c = chg_calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int flags = writer ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
    int rc = sqlite3_open_v2(path, &c->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        conn_close(c);
        return NULL;
    }
    c->writer = writer;
    sqlite3_busy_timeout(c->db, 10000);
    /* NORMAL: a commit writes the WAL and does not wait for the disk; the
     * syncer's fdatasync makes it durable before anyone is told */
    /* temp_store=MEMORY: each job's savepoint journal (the pages it
     * touched, as they were) stays in memory and is dropped at RELEASE;
     * on disk it grew over the batch and cost a pwrite a page */
    if (exec(c, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;") != CHG_OK) {
        snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(c->db));
        conn_close(c);
        return NULL;
    }
    return c;
}

/* ---- the writer and the syncer ------------------------------------------------------ */

/* Tell the jobs of a synced list: the submitted ones first, outside the
 * lock (each resumes a connection, nothing more), then the waiting
 * callers, whose jobs live on their stacks: not touched once marked done. */
static void jobs_tell(chg_store *s, job *list)
{
    job *waiting = NULL;
    for (job *j = list, *next; j; j = next) {
        next = j->next;
        if (j->notify) {
            j->notify(j->rc, j->notify_ud);
            chg_free(j);
        } else {
            j->next = waiting;
            waiting = j;
        }
    }
    pthread_mutex_lock(&s->mu);
    for (job *j = waiting, *next; j; j = next) {
        next = j->next;
        j->done = true;
    }
    pthread_cond_broadcast(&s->done);
    pthread_mutex_unlock(&s->mu);
}

static const char sql_begin[] = "BEGIN IMMEDIATE", sql_commit[] = "COMMIT", sql_savepoint[] = "SAVEPOINT job",
                  sql_release[] = "RELEASE job", sql_rollback_to[] = "ROLLBACK TO job";

/* A statement of the transaction's frame, prepared once (a job costs a
 * savepoint and its release: not parsed again for each). */
static int frame(chg_store_conn *w, const char *sql)
{
    return run(stmt(w, sql));
}

/* Run a batch's jobs in one transaction and commit it, without waiting
 * for the disk (synchronous=NORMAL). Each job's rc says how it went;
 * false when the transaction did not commit. */
static bool batch_commit(chg_store *s, job *batch)
{
    uint64_t seq0 = s->seq;
    char hash0[65];
    memcpy(hash0, s->hash, sizeof hash0);
    bool began = frame(s->w, sql_begin) == CHG_OK;
    for (job *j = batch; j; j = j->next) {
        if (!began) {
            j->rc = CHG_EIO;
            continue;
        }
        uint64_t seq = s->seq;
        char hash[65];
        memcpy(hash, s->hash, sizeof hash);
        if (frame(s->w, sql_savepoint) != CHG_OK) {
            j->rc = CHG_EIO;
            continue;
        }
        j->rc = j->fn(s->w, j->ud);
        if (j->rc != CHG_OK) {
            frame(s->w, sql_rollback_to);
            s->seq = seq;
            memcpy(s->hash, hash, sizeof hash);
        }
        frame(s->w, sql_release);
    }
    if (began && frame(s->w, sql_commit) != CHG_OK) {
        exec(s->w, "ROLLBACK");
        began = false;
    }
    if (!began) {
        s->seq = seq0;
        memcpy(s->hash, hash0, sizeof hash0);
        for (job *j = batch; j; j = j->next)
            if (j->rc == CHG_OK)
                j->rc = CHG_EIO;
    }
    return began;
}

static void *writer_main(void *arg)
{
    chg_store *s = arg;
    pthread_setname_np(pthread_self(), "chgd-writer"); /* for top -H and perf */
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->head && !s->stopping)
            pthread_cond_wait(&s->work, &s->mu);
        if (!s->head) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        job *batch = s->head, *last = batch;
        int n = 1;
        while (last->next && n < BATCH_MAX) {
            last = last->next;
            n++;
        }
        s->head = last->next;
        if (!s->head)
            s->tail = NULL;
        last->next = NULL;
        /* from here a reader may see the batch: chg_store_durable waits for it */
        s->begun++;
        bool broken = s->broken;
        pthread_mutex_unlock(&s->mu);

        if (broken) /* the store stopped being durable: nothing more is written */
            for (job *j = batch; j; j = j->next)
                j->rc = CHG_EIO;
        bool committed = !broken && batch_commit(s, batch);
        /* to the syncer, even a failed batch: its jobs are told in order,
         * and its number counts as synced once the batches before it are */
        pthread_mutex_lock(&s->mu);
        if (committed) {
            s->commits++;
            s->jobs += (uint64_t)n;
        }
        if (s->sync_tail)
            s->sync_tail->next = batch;
        else
            s->sync_head = batch;
        s->sync_tail = last;
        s->handed++;
        pthread_cond_signal(&s->sync);
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

/* Sync the WAL for every batch committed so far, then tell their jobs.
 * An fdatasync that fails leaves nothing known to be durable (the kernel
 * may have dropped the pages it could not write): those jobs fail, and so
 * does every later write — fail closed, never an answer for a decision
 * that may be lost. */
static void *syncer_main(void *arg)
{
    chg_store *s = arg;
    pthread_setname_np(pthread_self(), "chgd-syncer");
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->sync_head && !s->sync_stopping)
            pthread_cond_wait(&s->sync, &s->mu);
        if (!s->sync_head)
            break;
        job *list = s->sync_head;
        uint64_t upto = s->handed; /* the batches this sync covers */
        s->sync_head = s->sync_tail = NULL;
        pthread_mutex_unlock(&s->mu);
        int rc = fdatasync(s->wal_fd);
        int err = errno;
        pthread_mutex_lock(&s->mu);
        s->syncs++;
        if (rc != 0 && !s->broken) {
            s->broken = true;
            fprintf(stderr, "chgd: %s-wal: fdatasync failed (%s): the store takes no more writes\n", s->path,
                    strerror(err));
        }
        s->synced = upto;
        pthread_mutex_unlock(&s->mu);
        for (job *j = list; j; j = j->next)
            if (rc != 0 && j->rc == CHG_OK)
                j->rc = CHG_EIO;
        jobs_tell(s, list);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Append j to the queue; false when the store is stopping. Under mu. */
static bool enqueue(chg_store *s, job *j)
{
    if (s->stopping)
        return false;
    if (s->tail)
        s->tail->next = j;
    else
        s->head = j;
    s->tail = j;
    pthread_cond_signal(&s->work);
    return true;
}

int chg_store_run(chg_store *s, chg_store_job fn, void *ud)
{
    job j = {.fn = fn, .ud = ud};
    pthread_mutex_lock(&s->mu);
    if (!enqueue(s, &j)) {
        pthread_mutex_unlock(&s->mu);
        return CHG_EIO;
    }
    while (!j.done)
        pthread_cond_wait(&s->done, &s->mu);
    pthread_mutex_unlock(&s->mu);
    return j.rc;
}

int chg_store_submit(chg_store *s, chg_store_job fn, void *ud, chg_store_done done, void *done_ud)
{
    job *j = chg_calloc(1, sizeof *j);
    if (!j)
        return CHG_ENOMEM;
    *j = (job){.fn = fn, .ud = ud, .notify = done, .notify_ud = done_ud};
    pthread_mutex_lock(&s->mu);
    bool queued = enqueue(s, j);
    pthread_mutex_unlock(&s->mu);
    if (!queued)
        chg_free(j);
    return queued ? CHG_OK : CHG_EIO;
}

int chg_store_durable(chg_store *s)
{
    pthread_mutex_lock(&s->mu);
    uint64_t target = s->begun;
    while (s->synced < target && !s->broken)
        pthread_cond_wait(&s->done, &s->mu);
    bool broken = s->broken;
    pthread_mutex_unlock(&s->mu);
    return broken ? CHG_EIO : CHG_OK;
}

/* ---- open and close ------------------------------------------------------------------ */

/* The seq of the last digest record (0: none). From the end backwards: a
 * digest is at most `every` records away when chgd signs. */
static int last_digest(chg_store_conn *w, uint64_t *seq)
{
    sqlite3_stmt *st = stmt(w, "SELECT seq FROM audit WHERE kind = 'digest' ORDER BY seq DESC LIMIT 1");
    if (!st)
        return CHG_EIO;
    *seq = 0;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *seq = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? CHG_OK : CHG_EIO;
}

static int load_head(chg_store *s, char *err, size_t errlen)
{
    sqlite3_stmt *st = stmt(s->w, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1");
    if (!st) {
        snprintf(err, errlen, "%s: %s", s->path, sqlite3_errmsg(s->w->db));
        return CHG_EIO;
    }
    s->seq = 0;
    memcpy(s->hash, CHG_AUDIT_GENESIS, sizeof s->hash);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        s->seq = (uint64_t)sqlite3_column_int64(st, 0);
        snprintf(s->hash, sizeof s->hash, "%s", col(st, 1));
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return CHG_EIO;
    return last_digest(s->w, &s->digest_seq);
}

/* The WAL's file, opened for the syncer's fdatasync, and its directory
 * synced once so that the file itself survives a crash (SQLite created
 * it; with synchronous=NORMAL nothing else syncs its directory entry).
 * The WAL keeps its inode while the writer's connection is open: SQLite
 * deletes it only when the last connection closes, and truncates it in
 * place. */
static int wal_open(chg_store *s, char *err, size_t errlen)
{
    chg_buf p;
    chg_buf_init(&p);
    chg_buf_puts(&p, s->path);
    chg_buf_puts(&p, "-wal");
    if (p.oom) {
        snprintf(err, errlen, "out of memory");
        return CHG_ENOMEM;
    }
    s->wal_fd = open(p.data, O_RDONLY | O_CLOEXEC);
    chg_buf_free(&p);
    if (s->wal_fd < 0) {
        snprintf(err, errlen, "%s-wal: cannot open the write-ahead log: %s", s->path, strerror(errno));
        return CHG_EIO;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", s->path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0) {
        snprintf(err, errlen, "%s: cannot sync the store's directory: %s", dir, strerror(errno));
        if (dfd >= 0)
            close(dfd);
        close(s->wal_fd);
        return CHG_EIO;
    }
    close(dfd);
    return CHG_OK;
}

static void syncer_stop(chg_store *s)
{
    pthread_mutex_lock(&s->mu);
    s->sync_stopping = true;
    pthread_cond_signal(&s->sync);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->syncer, NULL);
}

/* A store of schema 1 is migrated to 2 (migrate_1_2_sql) in one
 * transaction: all of it or, when a check fails, none of it and the store
 * refused. Any other version is left for the check after. */
static int migrate(chg_store_conn *w, const char *spec, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    bool v1 = false;
    if (sqlite3_prepare_v2(w->db, "SELECT value FROM meta WHERE key = 'schema'", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v1 = !strcmp(col(st, 0), "1");
    sqlite3_finalize(st); /* no meta table: a new store */
    if (!v1)
        return CHG_OK;
    char *msg = NULL;
    bool ok = sqlite3_exec(w->db, "BEGIN IMMEDIATE", NULL, NULL, &msg) == SQLITE_OK &&
              sqlite3_exec(w->db, migrate_1_2_sql, NULL, NULL, &msg) == SQLITE_OK;
    bool holds = false;
    if (ok && sqlite3_prepare_v2(w->db, migrate_1_2_check_sql, -1, &st, NULL) == SQLITE_OK) {
        holds = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 1;
        sqlite3_finalize(st);
    }
    ok = ok && holds && sqlite3_exec(w->db, migrate_1_2_swap_sql, NULL, NULL, &msg) == SQLITE_OK &&
         sqlite3_exec(w->db, "COMMIT", NULL, NULL, &msg) == SQLITE_OK;
    if (!ok) {
        snprintf(err, errlen, "%s: cannot migrate the store from schema 1 to 2: %s", spec,
                 msg ? msg : "a row of the old tables has no place in the new ones");
        sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
    }
    sqlite3_free(msg);
    return ok ? CHG_OK : CHG_EINVAL;
}

int chg_store_open(const char *spec, chg_store **out, char *err, size_t errlen)
{
    *out = NULL;
    chg_store *s = chg_calloc(1, sizeof *s);
    if (!s || !(s->path = chg_strdup(spec))) {
        chg_free(s);
        snprintf(err, errlen, "out of memory");
        return CHG_ENOMEM;
    }
    s->w = conn_open(spec, true, err, errlen);
    if (!s->w) {
        chg_free(s->path);
        chg_free(s);
        return CHG_EIO;
    }
    s->w->store = s;
    char *msg = NULL;
    int rc = CHG_OK;
    /* WAL: readers never block the writer nor it them; the answer says
     * whether the file system allowed it */
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->w->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW || strcmp(col(st, 0), "wal") != 0) {
        snprintf(err, errlen, "%s: cannot use write-ahead logging (journal_mode=WAL): %s", spec,
                 sqlite3_errmsg(s->w->db));
        rc = CHG_EIO;
    }
    sqlite3_finalize(st);
    if (rc == CHG_OK)
        rc = migrate(s->w, spec, err, errlen);
    if (rc == CHG_OK && (sqlite3_exec(s->w->db, schema_sql, NULL, NULL, &msg) != SQLITE_OK ||
                         sqlite3_exec(s->w->db, chg_audit_schema_sql, NULL, NULL, &msg) != SQLITE_OK)) {
        snprintf(err, errlen, "%s: cannot create the tables: %s", spec, msg ? msg : sqlite3_errmsg(s->w->db));
        rc = CHG_EIO;
    }
    sqlite3_free(msg);
    if (rc == CHG_OK) {
        /* a store of another schema version is refused, not migrated blindly */
        exec(s->w, "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', '" SCHEMA_VERSION "')");
        st = stmt(s->w, "SELECT value FROM meta WHERE key = 'schema'");
        if (!st || sqlite3_step(st) != SQLITE_ROW || strcmp(col(st, 0), SCHEMA_VERSION) != 0) {
            snprintf(err, errlen, "%s: not a chgd store of schema version %s", spec, SCHEMA_VERSION);
            rc = CHG_EINVAL;
        }
        if (st)
            sqlite3_reset(st);
    }
    if (rc == CHG_OK)
        rc = load_head(s, err, errlen);
    if (rc == CHG_OK)
        rc = wal_open(s, err, errlen);
    if (rc != CHG_OK) {
        conn_close(s->w);
        chg_free(s->path);
        chg_free(s);
        return rc;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work, NULL);
    pthread_cond_init(&s->done, NULL);
    pthread_cond_init(&s->sync, NULL);
    pthread_key_create(&s->key, NULL);
    if (pthread_create(&s->syncer, NULL, syncer_main, s) != 0) {
        snprintf(err, errlen, "cannot start the store's syncer thread");
        close(s->wal_fd);
        conn_close(s->w);
        chg_free(s->path);
        chg_free(s);
        return CHG_EIO;
    }
    if (pthread_create(&s->thread, NULL, writer_main, s) != 0) {
        snprintf(err, errlen, "cannot start the store's writer thread");
        syncer_stop(s);
        close(s->wal_fd);
        conn_close(s->w);
        chg_free(s->path);
        chg_free(s);
        return CHG_EIO;
    }
    *out = s;
    return CHG_OK;
}

void chg_store_close(chg_store *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    syncer_stop(s); /* after the writer: it syncs and tells the last batches */
    close(s->wal_fd);
    for (chg_store_conn *c = s->readers, *next; c; c = next) {
        next = c->next;
        conn_close(c);
    }
    /* fold the WAL into the database: the file alone is then the store */
    exec(s->w, "PRAGMA wal_checkpoint(TRUNCATE)");
    conn_close(s->w);
    pthread_key_delete(s->key);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->work);
    pthread_cond_destroy(&s->done);
    pthread_cond_destroy(&s->sync);
    chg_free(s->path);
    chg_free(s);
}

void chg_store_stats_get(chg_store *s, chg_store_stats *out)
{
    pthread_mutex_lock(&s->mu);
    out->commits = s->commits;
    out->jobs = s->jobs;
    out->syncs = s->syncs;
    pthread_mutex_unlock(&s->mu);
}

chg_store_conn *chg_store_reader(chg_store *s)
{
    chg_store_conn *c = pthread_getspecific(s->key);
    if (c)
        return c;
    char err[256];
    c = conn_open(s->path, false, err, sizeof err);
    if (!c)
        return NULL;
    pthread_setspecific(s->key, c);
    pthread_mutex_lock(&s->mu);
    c->next = s->readers;
    s->readers = c;
    pthread_mutex_unlock(&s->mu);
    return c;
}

/* ---- idempotency ---------------------------------------------------------------------- */

/* A decision's §3 text: the bytes [doff, doff + dlen) of its audit
 * record's data (column i of st; doff, dlen columns i + 1, i + 2). NULL
 * when they do not lie inside it: a store that does not hold together is
 * an error, not a short answer. */
static const char *decision_text(sqlite3_stmt *st, int i, size_t *len)
{
    const char *data = (const char *)sqlite3_column_blob(st, i);
    int64_t n = sqlite3_column_bytes(st, i);
    int64_t off = sqlite3_column_int64(st, i + 1), dlen = sqlite3_column_int64(st, i + 2);
    if (!data || off < 0 || dlen <= 0 || off > n || dlen > n - off)
        return NULL;
    *len = (size_t)dlen;
    return data + off;
}

/* The columns a decision is answered from (chg_store_decision_body),
 * with d the decisions row and a its audit record: 0 data, 1 doff, 2
 * dlen, 3 seq, 4 at, 5 bundle, 6 revision, 7 cause. */
#define DECISION_COLS "a.data, d.doff, d.dlen, d.seq, a.at, d.bundle, d.revision, d.cause"

/* Append the decision of the row at column base of st, as answered. */
static int decision_answer(sqlite3_stmt *st, int base, chg_buf *out)
{
    size_t n;
    const char *d = decision_text(st, base, &n);
    if (!d)
        return CHG_EIO;
    chg_store_decision_body(out, d, n, (uint64_t)sqlite3_column_int64(st, base + 3), col(st, base + 4),
                            col(st, base + 5), sqlite3_column_int64(st, base + 6), col(st, base + 7));
    return out->oom ? CHG_ENOMEM : CHG_OK;
}

int chg_store_idem_get(chg_store_conn *c, const char *key, int *status, chg_buf *out)
{
    sqlite3_stmt *st = stmt(c, "SELECT i.status, i.response, i.decision_id, " DECISION_COLS " FROM idempotency i "
                               "LEFT JOIN decisions d ON d.id = i.decision_id LEFT JOIN audit a ON a.seq = d.seq "
                               "WHERE i.key = ?");
    if (!st)
        return CHG_EIO;
    text(st, 1, key);
    int rc = sqlite3_step(st), r = CHG_EIO;
    if (rc == SQLITE_ROW) {
        *status = sqlite3_column_int(st, 0);
        if (sqlite3_column_type(st, 2) == SQLITE_NULL) {
            chg_buf_puts(out, col(st, 1));
            r = out->oom ? CHG_ENOMEM : CHG_OK;
        } else
            r = decision_answer(st, 3, out);
    } else if (rc == SQLITE_DONE)
        r = CHG_ENOTFOUND;
    sqlite3_reset(st);
    return r;
}

int chg_store_idem_put(chg_store_conn *w, const char *key, int status, int64_t decision_id, const char *response,
                       const char *at)
{
    sqlite3_stmt *st = stmt(w, "INSERT INTO idempotency (key, status, decision_id, response, created_at) "
                               "VALUES (?, ?, ?, ?, ?)");
    if (!st)
        return CHG_EIO;
    text(st, 1, key);
    sqlite3_bind_int(st, 2, status);
    if (decision_id > 0)
        sqlite3_bind_int64(st, 3, decision_id);
    else
        sqlite3_bind_null(st, 3);
    text(st, 4, decision_id > 0 ? NULL : response);
    text(st, 5, at);
    return run(st);
}

/* ---- changes -------------------------------------------------------------------------------- */

int chg_store_change_latest(chg_store_conn *c, const char *id, int64_t *revision, chg_buf *content, chg_buf *sha)
{
    sqlite3_stmt *st = stmt(c, "SELECT c.revision, r.content, c.sha256 FROM changes c "
                               "JOIN revisions r ON r.cid = c.cid AND r.revision = c.revision WHERE c.id = ?");
    if (!st)
        return CHG_EIO;
    text(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *revision = sqlite3_column_int64(st, 0);
        chg_buf_puts(content, col(st, 1));
        chg_buf_puts(sha, col(st, 2));
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return content->oom || sha->oom ? CHG_ENOMEM : CHG_OK;
    return rc == SQLITE_DONE ? CHG_ENOTFOUND : CHG_EIO;
}

int chg_store_change_head(chg_store_conn *c, const char *id, uint64_t *seq, int64_t *revision, char sha[65])
{
    sqlite3_stmt *st = stmt(c, "SELECT last_seq, revision, sha256 FROM changes WHERE id = ?");
    if (!st)
        return CHG_EIO;
    text(st, 1, id);
    *seq = 0;
    *revision = 0;
    sha[0] = '\0';
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *seq = (uint64_t)sqlite3_column_int64(st, 0);
        *revision = sqlite3_column_int64(st, 1);
        snprintf(sha, 65, "%s", col(st, 2));
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? CHG_OK : rc == SQLITE_DONE ? CHG_ENOTFOUND : CHG_EIO;
}

int chg_store_change_seq(chg_store_conn *c, const char *id, uint64_t *seq)
{
    int64_t revision;
    char sha[65];
    return chg_store_change_head(c, id, seq, &revision, sha);
}

int chg_store_revision_put(chg_store_conn *w, const char *id, int64_t revision, const char *content,
                           const char *sha, const char *at)
{
    /* the change's row first (its cid keys the revision): new, with the
     * outcome and seq its decision, written in the same job, sets */
    sqlite3_stmt *st = stmt(w, "INSERT INTO changes (id, revision, sha256, outcome, updated_at, last_seq) "
                               "VALUES (?1, ?2, ?3, '', ?4, 0) ON CONFLICT (id) DO UPDATE SET "
                               "revision = excluded.revision, sha256 = excluded.sha256 RETURNING cid");
    if (!st)
        return CHG_EIO;
    text(st, 1, id);
    sqlite3_bind_int64(st, 2, revision);
    text(st, 3, sha);
    text(st, 4, at);
    int64_t cid = 0;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        cid = sqlite3_column_int64(st, 0);
        rc = sqlite3_step(st);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE || cid <= 0)
        return CHG_EIO;
    st = stmt(w, "INSERT INTO revisions (cid, revision, content, received_at) VALUES (?, ?, ?, ?)");
    if (!st)
        return CHG_EIO;
    sqlite3_bind_int64(st, 1, cid);
    sqlite3_bind_int64(st, 2, revision);
    text(st, 3, content);
    text(st, 4, at);
    return run(st);
}

static void approval_json(chg_buf *out, sqlite3_stmt *st, int base)
{
    chg_buf_puts(out, "{\"by\":");
    chg_buf_json_string(out, col(st, base), strlen(col(st, base)));
    if (sqlite3_column_type(st, base + 1) != SQLITE_NULL) {
        chg_buf_puts(out, ",\"group\":");
        chg_buf_json_string(out, col(st, base + 1), strlen(col(st, base + 1)));
    }
    chg_buf_puts(out, ",\"at\":");
    chg_buf_json_string(out, col(st, base + 2), strlen(col(st, base + 2)));
    chg_buf_puts(out, ",\"decision\":");
    chg_buf_json_string(out, col(st, base + 3), strlen(col(st, base + 3)));
    chg_buf_putc(out, '}');
}

int chg_store_approvals_json(chg_store_conn *c, const char *id, chg_buf *out)
{
    sqlite3_stmt *st = stmt(c, "SELECT by, grp, at, decision FROM approvals WHERE change_id = ? ORDER BY id");
    if (!st)
        return CHG_EIO;
    text(st, 1, id);
    chg_buf_putc(out, '[');
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n++)
            chg_buf_putc(out, ',');
        approval_json(out, st, 0);
    }
    sqlite3_reset(st);
    chg_buf_putc(out, ']');
    return rc != SQLITE_DONE ? CHG_EIO : out->oom ? CHG_ENOMEM : CHG_OK;
}

int chg_store_approval_put(chg_store_conn *w, const char *id, const char *by, const char *group,
                           const char *at, const char *decision, const char *recorded_at)
{
    sqlite3_stmt *st = stmt(w, "INSERT INTO approvals (change_id, by, grp, at, decision, recorded_at) "
                               "VALUES (?, ?, ?, ?, ?, ?)");
    if (!st)
        return CHG_EIO;
    text(st, 1, id);
    text(st, 2, by);
    text(st, 3, group);
    text(st, 4, at);
    text(st, 5, decision);
    text(st, 6, recorded_at);
    return run(st);
}

int chg_store_decision_put(chg_store_conn *w, const chg_store_decision *d, int64_t *decision_id)
{
    sqlite3_stmt *st;
    int64_t cid = 0;
    if (d->change_id) { /* its revision made the row: the decision moves it */
        st = stmt(w, "UPDATE changes SET revision = ?, outcome = ?, updated_at = ?, last_seq = ? WHERE id = ? "
                     "RETURNING cid");
        if (!st)
            return CHG_EIO;
        sqlite3_bind_int64(st, 1, d->revision);
        text(st, 2, d->outcome);
        text(st, 3, d->decided_at);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)d->seq);
        text(st, 5, d->change_id);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            cid = sqlite3_column_int64(st, 0);
            rc = sqlite3_step(st);
        }
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return CHG_EIO;
        if (cid <= 0)
            return CHG_EINTERNAL; /* a decision about a change never received */
    }
    st = stmt(w, "INSERT INTO decisions (cid, revision, cause, outcome, bundle, seq, doff, dlen) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st)
        return CHG_EIO;
    if (cid)
        sqlite3_bind_int64(st, 1, cid);
    else
        sqlite3_bind_null(st, 1);
    sqlite3_bind_int64(st, 2, d->revision);
    text(st, 3, d->cause);
    text(st, 4, d->outcome);
    text(st, 5, d->bundle);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)d->seq);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)d->in_record);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)strlen(d->decision));
    int rc = run(st);
    if (rc == CHG_OK)
        *decision_id = sqlite3_last_insert_rowid(w->db);
    return rc;
}

int chg_store_decision_latest(chg_store_conn *c, const char *id, chg_buf *decision)
{
    sqlite3_stmt *st = stmt(c, "SELECT " DECISION_COLS " FROM changes c JOIN decisions d ON d.cid = c.cid "
                               "LEFT JOIN audit a ON a.seq = d.seq WHERE c.id = ? ORDER BY d.id DESC LIMIT 1");
    if (!st)
        return CHG_EIO;
    text(st, 1, id);
    int rc = sqlite3_step(st), r = rc == SQLITE_DONE ? CHG_ENOTFOUND : CHG_EIO;
    size_t n;
    const char *d = rc == SQLITE_ROW ? decision_text(st, 0, &n) : NULL;
    if (d) {
        chg_buf_append(decision, d, n);
        r = decision->oom ? CHG_ENOMEM : CHG_OK;
    }
    sqlite3_reset(st);
    return r;
}

void chg_store_decision_body(chg_buf *out, const char *d, size_t n, uint64_t seq, const char *decided_at,
                             const char *bundle, int64_t revision, const char *cause)
{
    while (n && d[n - 1] != '}')
        n--;
    chg_buf_append(out, d, n ? n - 1 : 0);
    chg_buf_printf(out, ",\"seq\":%" PRIu64 ",\"decided_at\":", seq);
    chg_buf_json_string(out, decided_at, strlen(decided_at));
    chg_buf_puts(out, ",\"bundle\":");
    chg_buf_json_string(out, bundle, strlen(bundle));
    if (revision > 0)
        chg_buf_printf(out, ",\"revision\":%" PRId64, revision);
    else
        chg_buf_puts(out, ",\"revision\":null");
    chg_buf_puts(out, ",\"cause\":");
    chg_buf_json_string(out, cause, strlen(cause));
    chg_buf_putc(out, '}');
}

int chg_store_change_json(chg_store_conn *c, const char *id, chg_buf *out)
{
    sqlite3_stmt *st = stmt(c, "SELECT revision, outcome, updated_at FROM changes WHERE id = ?");
    if (!st)
        return CHG_EIO;
    text(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? CHG_ENOTFOUND : CHG_EIO;
    }
    int64_t revision = sqlite3_column_int64(st, 0);
    chg_buf_puts(out, "{\"id\":");
    chg_buf_json_string(out, id, strlen(id));
    chg_buf_printf(out, ",\"revision\":%" PRId64 ",\"outcome\":", revision);
    chg_buf_json_string(out, col(st, 1), strlen(col(st, 1)));
    chg_buf_puts(out, ",\"updated_at\":");
    chg_buf_json_string(out, col(st, 2), strlen(col(st, 2)));
    sqlite3_reset(st);
    chg_buf content, sha;
    chg_buf_init(&content);
    chg_buf_init(&sha);
    int64_t rev;
    rc = chg_store_change_latest(c, id, &rev, &content, &sha);
    chg_buf_puts(out, ",\"change\":");
    chg_buf_puts(out, rc == CHG_OK ? content.data : "null");
    chg_buf_free(&content);
    chg_buf_free(&sha);
    if (rc != CHG_OK && rc != CHG_ENOTFOUND)
        return rc;
    chg_buf_puts(out, ",\"approvals\":");
    if ((rc = chg_store_approvals_json(c, id, out)) != CHG_OK)
        return rc;
    chg_buf_puts(out, ",\"decisions\":[");
    st = stmt(c, "SELECT " DECISION_COLS " FROM changes c JOIN decisions d ON d.cid = c.cid "
                 "LEFT JOIN audit a ON a.seq = d.seq WHERE c.id = ? ORDER BY d.id DESC");
    if (!st)
        return CHG_EIO;
    text(st, 1, id);
    int n = 0, r = CHG_OK;
    while (r == CHG_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n++)
            chg_buf_putc(out, ',');
        r = decision_answer(st, 0, out);
    }
    sqlite3_reset(st);
    if (r != CHG_OK)
        return r;
    if (rc != SQLITE_DONE)
        return CHG_EIO;
    chg_buf_puts(out, "],\"in_flight\":");
    if ((rc = chg_store_inflight_json(c, id, out)) != CHG_OK)
        return rc;
    chg_buf_putc(out, '}');
    return out->oom ? CHG_ENOMEM : CHG_OK;
}

int chg_store_changes_json(chg_store_conn *c, const char *outcome, const char *since, int64_t cursor,
                           int limit, chg_buf *out)
{
    sqlite3_stmt *st = stmt(c, "SELECT id, revision, outcome, updated_at, last_seq FROM changes "
                               "WHERE last_seq > ? AND (?2 IS NULL OR outcome = ?2) AND (?3 IS NULL OR updated_at >= ?3) "
                               "ORDER BY last_seq LIMIT ?4");
    if (!st)
        return CHG_EIO;
    sqlite3_bind_int64(st, 1, cursor);
    text(st, 2, outcome);
    text(st, 3, since);
    sqlite3_bind_int(st, 4, limit + 1); /* one more: is there a next page? */
    chg_buf_puts(out, "{\"changes\":[");
    int rc, n = 0;
    int64_t last = 0;
    bool more = false;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == limit) {
            more = true;
            break;
        }
        if (n++)
            chg_buf_putc(out, ',');
        chg_buf_puts(out, "{\"id\":");
        chg_buf_json_string(out, col(st, 0), strlen(col(st, 0)));
        chg_buf_printf(out, ",\"revision\":%" PRId64 ",\"outcome\":", (int64_t)sqlite3_column_int64(st, 1));
        chg_buf_json_string(out, col(st, 2), strlen(col(st, 2)));
        chg_buf_puts(out, ",\"updated_at\":");
        chg_buf_json_string(out, col(st, 3), strlen(col(st, 3)));
        last = sqlite3_column_int64(st, 4);
        chg_buf_printf(out, ",\"seq\":%" PRId64 "}", last);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return CHG_EIO;
    if (more)
        chg_buf_printf(out, "],\"next_cursor\":\"%" PRId64 "\"}", last);
    else
        chg_buf_puts(out, "],\"next_cursor\":null}");
    return out->oom ? CHG_ENOMEM : CHG_OK;
}

static int strings(sqlite3_stmt *st, chg_vec *v)
{
    if (!st)
        return CHG_EIO;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char *s = chg_strdup(col(st, 0));
        if (!s || chg_vec_push(v, s) != CHG_OK) {
            chg_free(s);
            sqlite3_reset(st);
            return CHG_ENOMEM;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? CHG_OK : CHG_EIO;
}

int chg_store_change_ids(chg_store_conn *c, chg_vec *ids)
{
    return strings(stmt(c, "SELECT id FROM changes ORDER BY last_seq"), ids);
}

/* ---- actions, timers ------------------------------------------------------------------------ */

int chg_store_action_put(chg_store_conn *w, int64_t decision_id, int idx, const char *call, const char *args,
                         const char *state, const char *key)
{
    sqlite3_stmt *st = stmt(w, "INSERT INTO actions (decision_id, idx, call, args, state, key) "
                               "VALUES (?, ?, ?, ?, ?, ?)");
    if (!st)
        return CHG_EIO;
    sqlite3_bind_int64(st, 1, decision_id);
    sqlite3_bind_int(st, 2, idx);
    text(st, 3, call);
    text(st, 4, args);
    text(st, 5, state);
    text(st, 6, key);
    return run(st);
}

void chg_store_action_free(chg_store_action *a)
{
    if (!a)
        return;
    chg_free(a->change_id);
    chg_free(a->call);
    chg_free(a->args);
    chg_free(a->key);
    chg_free(a);
}

void chg_store_actions_free(chg_vec *v)
{
    for (size_t i = 0; i < v->len; i++)
        chg_store_action_free(v->items[i]);
    chg_vec_free(v);
}

int chg_store_actions_due(chg_store_conn *c, const char *now, int limit, chg_vec *out)
{
    /* next_at is RFC 3339 UTC with milliseconds, one length: text order is time order */
    sqlite3_stmt *st = stmt(c, "SELECT a.id, a.call, a.args, a.key, a.attempts, c.id FROM actions a "
                               "LEFT JOIN decisions d ON d.id = a.decision_id LEFT JOIN changes c ON c.cid = d.cid "
                               "WHERE a.state = 'queued' "
                               "AND (a.next_at IS NULL OR a.next_at <= ?) ORDER BY a.id LIMIT ?");
    if (!st)
        return CHG_EIO;
    text(st, 1, now);
    sqlite3_bind_int(st, 2, limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        chg_store_action *a = chg_calloc(1, sizeof *a);
        if (a) {
            a->id = sqlite3_column_int64(st, 0);
            a->call = chg_strdup(col(st, 1));
            a->args = chg_strdup(col(st, 2));
            a->key = chg_strdup(col(st, 3));
            a->attempts = sqlite3_column_int(st, 4);
            a->change_id = chg_strdup(col(st, 5));
        }
        if (!a || !a->call || !a->args || !a->key || !a->change_id || chg_vec_push(out, a) != CHG_OK) {
            chg_store_action_free(a);
            sqlite3_reset(st);
            return CHG_ENOMEM;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? CHG_OK : CHG_EIO;
}

int chg_store_actions_next(chg_store_conn *c, chg_buf *at)
{
    sqlite3_stmt *st = stmt(c, "SELECT coalesce(min(coalesce(next_at, '')), '-') FROM actions WHERE state = 'queued'");
    if (!st)
        return CHG_EIO;
    int rc = sqlite3_step(st);
    bool none = rc == SQLITE_ROW && !strcmp(col(st, 0), "-");
    if (rc == SQLITE_ROW && !none)
        chg_buf_puts(at, col(st, 0));
    sqlite3_reset(st);
    return rc != SQLITE_ROW ? CHG_EIO : none ? CHG_ENOTFOUND : at->oom ? CHG_ENOMEM : CHG_OK;
}

int chg_store_action_update(chg_store_conn *w, int64_t id, const char *state, int attempts, const char *next_at)
{
    sqlite3_stmt *st = stmt(w, "UPDATE actions SET state = ?, attempts = ?, next_at = ? WHERE id = ?");
    if (!st)
        return CHG_EIO;
    text(st, 1, state);
    sqlite3_bind_int(st, 2, attempts);
    text(st, 3, next_at);
    sqlite3_bind_int64(st, 4, id);
    int rc = run(st);
    return rc == CHG_OK && sqlite3_changes(w->db) == 0 ? CHG_ENOTFOUND : rc;
}

int chg_store_timer_set(chg_store_conn *w, const char *id, const char *due)
{
    sqlite3_stmt *st = due ? stmt(w, "INSERT INTO timers (change_id, due) VALUES (?, ?) "
                                     "ON CONFLICT (change_id) DO UPDATE SET due = excluded.due")
                           : stmt(w, "DELETE FROM timers WHERE change_id = ?");
    if (!st)
        return CHG_EIO;
    text(st, 1, id);
    if (due)
        text(st, 2, due);
    return run(st);
}

int chg_store_timers_due(chg_store_conn *c, const char *now, chg_vec *ids)
{
    /* instants are stored as RFC 3339 UTC of one length: text order is time order */
    sqlite3_stmt *st = stmt(c, "SELECT change_id FROM timers WHERE due <= ? ORDER BY due, change_id");
    if (!st)
        return CHG_EIO;
    text(st, 1, now);
    return strings(st, ids);
}

/* ---- changes in flight ---------------------------------------------------------------------- */

void chg_store_inflight_free(chg_store_inflight *f)
{
    if (!f)
        return;
    chg_free(f->id);
    chg_free(f->since);
    chg_free(f->until);
    chg_free(f->bound);
    chg_free(f->risk);
    chg_free(f->content);
    chg_free(f->ended_at);
    chg_free(f->result);
    chg_free(f->ended_by);
    memset(f, 0, sizeof *f);
}

void chg_store_inflights_free(chg_vec *v)
{
    for (size_t i = 0; i < v->len; i++) {
        chg_store_inflight_free(v->items[i]);
        chg_free(v->items[i]);
    }
    chg_vec_free(v);
}

int chg_store_inflight_put(chg_store_conn *w, const chg_store_inflight *f)
{
    /* a new period replaces the ended one: the row is the latest */
    sqlite3_stmt *st = stmt(w, "INSERT OR REPLACE INTO inflight (change_id, revision, since, until, bound, risk, "
                               "content) VALUES (?, ?, ?, ?, ?, ?, ?)");
    if (!st)
        return CHG_EIO;
    text(st, 1, f->id);
    sqlite3_bind_int64(st, 2, f->revision);
    text(st, 3, f->since);
    text(st, 4, f->until);
    text(st, 5, f->bound);
    text(st, 6, f->risk);
    text(st, 7, f->content);
    return run(st);
}

#define INFLIGHT_COLS "change_id, revision, since, until, bound, risk, content, ended_at, result, ended_by"

/* A column that may be NULL, copied (NULL for NULL); *bad on no memory. */
static char *opt(sqlite3_stmt *st, int i, bool *bad)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return NULL;
    char *s = chg_strdup(col(st, i));
    *bad |= !s;
    return s;
}

static int inflight_row(sqlite3_stmt *st, chg_store_inflight *f)
{
    bool bad = false;
    memset(f, 0, sizeof *f);
    f->id = opt(st, 0, &bad);
    f->revision = sqlite3_column_int64(st, 1);
    f->since = opt(st, 2, &bad);
    f->until = opt(st, 3, &bad);
    f->bound = opt(st, 4, &bad);
    f->risk = opt(st, 5, &bad);
    f->content = opt(st, 6, &bad);
    f->ended_at = opt(st, 7, &bad);
    f->result = opt(st, 8, &bad);
    f->ended_by = opt(st, 9, &bad);
    if (bad)
        chg_store_inflight_free(f);
    return bad ? CHG_ENOMEM : CHG_OK;
}

int chg_store_inflight_get(chg_store_conn *c, const char *id, chg_store_inflight *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = stmt(c, "SELECT " INFLIGHT_COLS " FROM inflight WHERE change_id = ?");
    if (!st)
        return CHG_EIO;
    text(st, 1, id);
    int rc = sqlite3_step(st);
    int r = rc == SQLITE_ROW ? inflight_row(st, out) : rc == SQLITE_DONE ? CHG_ENOTFOUND : CHG_EIO;
    sqlite3_reset(st);
    return r;
}

int chg_store_inflight_active(chg_store_conn *c, chg_vec *out)
{
    sqlite3_stmt *st = stmt(c, "SELECT " INFLIGHT_COLS " FROM inflight WHERE ended_at IS NULL ORDER BY since, change_id");
    if (!st)
        return CHG_EIO;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        chg_store_inflight *f = chg_calloc(1, sizeof *f);
        if (!f || inflight_row(st, f) != CHG_OK || chg_vec_push(out, f) != CHG_OK) {
            if (f)
                chg_store_inflight_free(f);
            chg_free(f);
            sqlite3_reset(st);
            return CHG_ENOMEM;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? CHG_OK : CHG_EIO;
}

int chg_store_inflight_expired(chg_store_conn *c, const char *now, chg_vec *ids)
{
    /* RFC 3339 UTC of one length: text order is time order */
    sqlite3_stmt *st = stmt(c, "SELECT change_id FROM inflight WHERE ended_at IS NULL AND until <= ? "
                               "ORDER BY until, change_id");
    if (!st)
        return CHG_EIO;
    text(st, 1, now);
    return strings(st, ids);
}

int chg_store_inflight_end(chg_store_conn *w, const char *id, const char *ended_at, const char *result,
                           const char *by)
{
    sqlite3_stmt *st = stmt(w, "UPDATE inflight SET ended_at = ?, result = ?, ended_by = ? "
                               "WHERE change_id = ? AND ended_at IS NULL");
    if (!st)
        return CHG_EIO;
    text(st, 1, ended_at);
    text(st, 2, result);
    text(st, 3, by);
    text(st, 4, id);
    int rc = run(st);
    return rc == CHG_OK && sqlite3_changes(w->db) == 0 ? CHG_ENOTFOUND : rc;
}

int chg_store_inflight_count(chg_store_conn *c, int64_t *n)
{
    *n = 0;
    sqlite3_stmt *st = stmt(c, "SELECT count(*) FROM inflight WHERE ended_at IS NULL");
    if (!st)
        return CHG_EIO;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? CHG_OK : CHG_EIO;
}

static void opt_json(chg_buf *out, const char *s)
{
    if (s)
        chg_buf_json_string(out, s, strlen(s));
    else
        chg_buf_puts(out, "null");
}

int chg_store_inflight_json(chg_store_conn *c, const char *id, chg_buf *out)
{
    chg_store_inflight f;
    int rc = chg_store_inflight_get(c, id, &f);
    if (rc == CHG_ENOTFOUND) {
        chg_buf_puts(out, "null");
        return CHG_OK;
    }
    if (rc != CHG_OK)
        return rc;
    chg_buf_printf(out, "{\"active\":%s,\"revision\":%" PRId64 ",\"since\":", f.ended_at ? "false" : "true",
                   f.revision);
    opt_json(out, f.since);
    chg_buf_puts(out, ",\"until\":");
    opt_json(out, f.until);
    chg_buf_puts(out, ",\"bound\":");
    opt_json(out, f.bound);
    chg_buf_puts(out, ",\"ended_at\":");
    opt_json(out, f.ended_at);
    chg_buf_puts(out, ",\"result\":");
    opt_json(out, f.result);
    chg_buf_puts(out, ",\"ended_by\":");
    opt_json(out, f.ended_by);
    chg_buf_putc(out, '}');
    chg_store_inflight_free(&f);
    return out->oom ? CHG_ENOMEM : CHG_OK;
}

int chg_store_held_set(chg_store_conn *w, const char *id, bool held)
{
    /* held again keeps its place: the order is that of first arrival */
    sqlite3_stmt *st = held ? stmt(w, "INSERT OR IGNORE INTO held (change_id) VALUES (?)")
                            : stmt(w, "DELETE FROM held WHERE change_id = ?");
    if (!st)
        return CHG_EIO;
    text(st, 1, id);
    return run(st);
}

int chg_store_held_ids(chg_store_conn *c, chg_vec *ids)
{
    return strings(stmt(c, "SELECT change_id FROM held ORDER BY seq"), ids);
}

/* ---- flags ---------------------------------------------------------------------------------- */

int chg_store_flag_put(chg_store_conn *w, const char *name, const char *by, const char *why, const char *at)
{
    sqlite3_stmt *st = stmt(w, "INSERT INTO flags (name, by, why, set_at) VALUES (?, ?, ?, ?) "
                               "ON CONFLICT (name) DO UPDATE SET by = excluded.by, why = excluded.why, "
                               "set_at = excluded.set_at");
    if (!st)
        return CHG_EIO;
    text(st, 1, name);
    text(st, 2, by);
    text(st, 3, why);
    text(st, 4, at);
    return run(st);
}

int chg_store_flag_delete(chg_store_conn *w, const char *name)
{
    sqlite3_stmt *st = stmt(w, "DELETE FROM flags WHERE name = ?");
    if (!st)
        return CHG_EIO;
    text(st, 1, name);
    int rc = run(st);
    if (rc != CHG_OK)
        return rc;
    return sqlite3_changes(w->db) ? CHG_OK : CHG_ENOTFOUND;
}

int chg_store_flags_json(chg_store_conn *c, chg_buf *out)
{
    sqlite3_stmt *st = stmt(c, "SELECT name, by, why, set_at FROM flags ORDER BY name");
    if (!st)
        return CHG_EIO;
    chg_buf_puts(out, "{\"flags\":[");
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        static const char *const keys[] = {"name", "by", "why", "set_at"};
        chg_buf_puts(out, n++ ? ",{" : "{");
        for (int i = 0; i < 4; i++) {
            chg_buf_printf(out, "%s\"%s\":", i ? "," : "", keys[i]);
            chg_buf_json_string(out, col(st, i), strlen(col(st, i)));
        }
        chg_buf_putc(out, '}');
    }
    sqlite3_reset(st);
    chg_buf_puts(out, "]}");
    return rc != SQLITE_DONE ? CHG_EIO : out->oom ? CHG_ENOMEM : CHG_OK;
}

int chg_store_flag_names(chg_store_conn *c, chg_vec *names)
{
    return strings(stmt(c, "SELECT name FROM flags ORDER BY name"), names);
}

/* ---- audit ---------------------------------------------------------------------------------- */

static int audit_put(chg_store_conn *w, const char *kind, const char *subject, const char *data,
                     const char *at, uint64_t *seq)
{
    chg_store *s = w->store;
    CHG_ASSERT(w->writer && s && s->w == w);
    chg_audit_record r = {.seq = s->seq + 1, .prev = s->hash, .at = at, .kind = kind,
                          .subject = subject ? subject : "", .data = data};
    char hash[65];
    chg_audit_hash(&r, hash);
    sqlite3_stmt *st = stmt(w, "INSERT INTO audit (seq, prev, hash, at, kind, subject, data) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?)");
    if (!st)
        return CHG_EIO;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)r.seq);
    text(st, 2, r.prev);
    text(st, 3, hash);
    text(st, 4, at);
    text(st, 5, kind);
    text(st, 6, r.subject);
    text(st, 7, data);
    int rc = run(st);
    if (rc != CHG_OK)
        return rc;
    s->seq = r.seq;
    memcpy(s->hash, hash, sizeof hash);
    if (seq)
        *seq = r.seq;
    return CHG_OK;
}

void chg_store_audit_head(chg_store_conn *w, uint64_t *seq, char hash[65])
{
    CHG_ASSERT(w->writer && w->store);
    *seq = w->store->seq;
    memcpy(hash, w->store->hash, 65);
}

/* A digest record of the head: {"covers","every","head", the signer's
 * members}. */
static int digest_put(chg_store_conn *w, const char *at)
{
    chg_store *s = w->store;
    chg_buf data;
    chg_buf_init(&data);
    chg_buf_printf(&data, "{\"covers\":%" PRIu64 ",\"every\":%" PRIu64 ",\"head\":\"%s\",", s->seq, s->every,
                   s->hash);
    int rc = s->sign(s->seq, s->hash, &data, s->sign_ud);
    chg_buf_putc(&data, '}');
    uint64_t seq;
    if (rc == CHG_OK)
        rc = data.oom ? CHG_ENOMEM : audit_put(w, "digest", NULL, data.data, at, &seq);
    if (rc == CHG_OK)
        s->digest_seq = seq;
    chg_buf_free(&data);
    return rc;
}

int chg_store_audit_append(chg_store_conn *w, const char *kind, const char *subject, const char *data,
                           const char *at, uint64_t *seq)
{
    chg_store *s = w->store;
    int rc = audit_put(w, kind, subject, data, at, seq);
    if (rc != CHG_OK || !s->every)
        return rc;
    /* a rollback undid the last digest: find the one before it */
    if (s->digest_seq > s->seq - 1 && (rc = last_digest(w, &s->digest_seq)) != CHG_OK)
        return rc;
    return s->seq - s->digest_seq >= s->every ? digest_put(w, at) : CHG_OK;
}

void chg_store_digest_setup(chg_store *s, uint64_t every, chg_store_signer sign, void *ud)
{
    s->every = every;
    s->sign = sign;
    s->sign_ud = ud;
}

typedef struct digest_job {
    const char *at;
    bool written;
} digest_job;

static int digest_run(chg_store_conn *w, void *ud)
{
    digest_job *j = ud;
    chg_store *s = w->store;
    int rc = s->digest_seq > s->seq ? last_digest(w, &s->digest_seq) : CHG_OK;
    if (rc != CHG_OK || s->seq == s->digest_seq)
        return rc;
    j->written = true;
    return digest_put(w, j->at);
}

int chg_store_digest_now(chg_store *s, const char *at, bool *written)
{
    digest_job j = {.at = at};
    *written = false;
    if (!s->sign)
        return CHG_OK;
    int rc = chg_store_run(s, digest_run, &j);
    *written = rc == CHG_OK && j.written;
    return rc;
}

int chg_store_audit_json(chg_store_conn *c, uint64_t since, int limit, chg_buf *out)
{
    sqlite3_stmt *st = stmt(c, "SELECT seq, prev, hash, at, kind, subject, data FROM audit WHERE seq > ? "
                               "ORDER BY seq LIMIT ?");
    if (!st)
        return CHG_EIO;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)(since > INT64_MAX ? INT64_MAX : since));
    sqlite3_bind_int(st, 2, limit + 1);
    chg_buf_puts(out, "{\"records\":[");
    int rc, n = 0;
    uint64_t last = 0;
    bool more = false;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == limit) {
            more = true;
            break;
        }
        chg_audit_record r = {.seq = (uint64_t)sqlite3_column_int64(st, 0), .prev = col(st, 1), .hash = col(st, 2),
                              .at = col(st, 3), .kind = col(st, 4), .subject = col(st, 5), .data = col(st, 6)};
        if (n++)
            chg_buf_putc(out, ',');
        chg_audit_record_json(&r, out);
        last = r.seq;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return CHG_EIO;
    if (more)
        chg_buf_printf(out, "],\"next_since\":%" PRIu64 "}", last);
    else
        chg_buf_puts(out, "],\"next_since\":null}");
    return out->oom ? CHG_ENOMEM : CHG_OK;
}

int chg_store_counts_get(chg_store_conn *c, chg_store_counts *out)
{
    sqlite3_stmt *st = stmt(c, "SELECT (SELECT count(*) FROM changes), (SELECT count(*) FROM decisions), "
                               "(SELECT count(*) FROM approvals), (SELECT count(*) FROM flags), "
                               "(SELECT count(*) FROM actions WHERE state = 'queued'), "
                               "(SELECT coalesce(max(seq), 0) FROM audit), "
                               "(SELECT count(*) FROM actions WHERE state = 'done'), "
                               "(SELECT count(*) FROM actions WHERE state = 'failed'), "
                               "(SELECT count(*) FROM actions WHERE state = 'dry-run')");
    if (!st)
        return CHG_EIO;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->changes = sqlite3_column_int64(st, 0);
        out->decisions = sqlite3_column_int64(st, 1);
        out->approvals = sqlite3_column_int64(st, 2);
        out->flags = sqlite3_column_int64(st, 3);
        out->actions_queued = sqlite3_column_int64(st, 4);
        out->audit_seq = sqlite3_column_int64(st, 5);
        out->actions_done = sqlite3_column_int64(st, 6);
        out->actions_failed = sqlite3_column_int64(st, 7);
        out->actions_dry_run = sqlite3_column_int64(st, 8);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? CHG_OK : CHG_EIO;
}
