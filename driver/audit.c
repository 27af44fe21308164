/*
 * audit.c — the audit log's chain, written once for the daemon that
 * appends to it and for `chgc audit` that checks and exports it.
 *
 * Every record carries its sequence number, the SHA-256 of the record
 * before it (`prev`; the first record's is 64 zeros) and the SHA-256 of
 * its own canonical content (`hash`), which includes `prev`: changing,
 * inserting or removing any record breaks the chain at that record or the
 * next. The canonical content is each field, in a fixed order, as its
 * length in decimal, a colon, its bytes and a newline:
 *
 *     chg-audit-1 seq prev at kind subject data
 *
 * so no choice of field values can make two records hash alike (a change
 * id with a newline in it cannot shift a field boundary). `data` is
 * hashed as the bytes stored, which the daemon writes deterministically.
 *
 * The table (chg_audit_schema_sql) refuses UPDATE and DELETE, so only a
 * writer that drops its triggers can rewrite history — and the chain
 * then says where.
 */
#include "chg_driver.h"

#include <errno.h>
#include <jansson.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

const char chg_audit_schema_sql[] =
    "CREATE TABLE IF NOT EXISTS audit (\n"
    "  seq INTEGER PRIMARY KEY,\n"
    "  prev TEXT NOT NULL,\n"
    "  hash TEXT NOT NULL,\n"
    "  at TEXT NOT NULL,\n"
    "  kind TEXT NOT NULL,\n"
    "  subject TEXT NOT NULL,\n"
    "  data TEXT NOT NULL);\n"
    "CREATE TRIGGER IF NOT EXISTS audit_append_only_update BEFORE UPDATE ON audit\n"
    "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;\n"
    "CREATE TRIGGER IF NOT EXISTS audit_append_only_delete BEFORE DELETE ON audit\n"
    "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;\n";

static void field(EVP_MD_CTX *md, const char *s, size_t n)
{
    char len[32];
    int k = snprintf(len, sizeof len, "%zu:", n);
    EVP_DigestUpdate(md, len, (size_t)k);
    EVP_DigestUpdate(md, s, n);
    EVP_DigestUpdate(md, "\n", 1);
}

void chg_audit_hash(const chg_audit_record *r, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char d[32];
    unsigned int dl = 0;
    char seq[32];
    int n = snprintf(seq, sizeof seq, "%" PRIu64, r->seq);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
        chg_panic("audit: SHA-256 is not available");
    field(md, "chg-audit-1", 11);
    field(md, seq, (size_t)n);
    field(md, r->prev, strlen(r->prev));
    field(md, r->at, strlen(r->at));
    field(md, r->kind, strlen(r->kind));
    field(md, r->subject, strlen(r->subject));
    field(md, r->data, strlen(r->data));
    EVP_DigestFinal_ex(md, d, &dl);
    EVP_MD_CTX_free(md);
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[64] = 0;
}

/* {"seq":N,"prev":…,"hash":…,"at":…,"kind":…,"subject":…,"data":{…}}:
 * data is stored JSON and is embedded as it is. */
void chg_audit_record_json(const chg_audit_record *r, chg_buf *out)
{
    chg_buf_printf(out, "{\"seq\":%" PRIu64 ",\"prev\":\"%s\",\"hash\":\"%s\",\"at\":", r->seq, r->prev, r->hash);
    chg_buf_json_string(out, r->at, strlen(r->at));
    chg_buf_puts(out, ",\"kind\":");
    chg_buf_json_string(out, r->kind, strlen(r->kind));
    chg_buf_puts(out, ",\"subject\":");
    chg_buf_json_string(out, r->subject, strlen(r->subject));
    chg_buf_puts(out, ",\"data\":");
    chg_buf_puts(out, r->data);
    chg_buf_putc(out, '}');
}

static const char *col(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

static int open_db(const char *path, sqlite3 **db, char *err, size_t errlen)
{
    /* read-only, and never create: a mistyped path is an error, not an
     * empty log that verifies */
    int rc = sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, *db ? sqlite3_errmsg(*db) : sqlite3_errstr(rc));
        sqlite3_close(*db);
        *db = NULL;
        return CHG_EIO;
    }
    sqlite3_busy_timeout(*db, 5000);
    return CHG_OK;
}

/* Call fn on every record after since, in order, in one read transaction
 * (a daemon appending meanwhile cannot make a half-read record), until it
 * returns something other than CHG_OK; fn writes err for what it returns. */
typedef int (*record_fn)(const chg_audit_record *r, void *ud, char *err, size_t errlen);

static int each_record(const char *path, uint64_t since, record_fn fn, void *ud, char *err, size_t errlen)
{
    sqlite3 *db;
    int rc = open_db(path, &db, err, errlen);
    if (rc != CHG_OK)
        return rc;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT seq, prev, hash, at, kind, subject, data FROM audit WHERE seq > ? ORDER BY seq",
                           -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: not a chgd store: %s", path, sqlite3_errmsg(db));
        rc = CHG_EINVAL;
    } else
        sqlite3_bind_int64(st, 1, (sqlite3_int64)(since > INT64_MAX ? INT64_MAX : since));
    while (rc == CHG_OK) {
        int s = sqlite3_step(st);
        if (s == SQLITE_DONE)
            break;
        if (s != SQLITE_ROW) {
            snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
            rc = CHG_EIO;
            break;
        }
        chg_audit_record r = {.seq = (uint64_t)sqlite3_column_int64(st, 0), .prev = col(st, 1), .hash = col(st, 2),
                              .at = col(st, 3), .kind = col(st, 4), .subject = col(st, 5), .data = col(st, 6)};
        rc = fn(&r, ud, err, errlen);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}

typedef struct verifier {
    char prev[65];
    uint64_t expect;
} verifier;

static int verify_one(const chg_audit_record *r, void *ud, char *err, size_t errlen)
{
    verifier *v = ud;
    char h[65];
    chg_audit_hash(r, h);
    if (r->seq != v->expect) {
        snprintf(err, errlen, "record %" PRIu64 ": expected sequence number %" PRIu64 " (a record is missing)", r->seq,
                 v->expect);
        return CHG_EINVAL;
    }
    if (strcmp(r->prev, v->prev) != 0) {
        snprintf(err, errlen, "record %" PRIu64 ": its prev is not the hash of the record before it", r->seq);
        return CHG_EINVAL;
    }
    if (strcmp(r->hash, h) != 0) {
        snprintf(err, errlen, "record %" PRIu64 ": its hash does not match its content", r->seq);
        return CHG_EINVAL;
    }
    memcpy(v->prev, h, sizeof v->prev);
    v->expect++;
    return CHG_OK;
}

/* A text column and a member of a record agree: both absent (SQL NULL,
 * JSON null or no member) or the same string. */
static bool same_text(sqlite3_stmt *st, int i, const json_t *rec, const char *key)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    const json_t *m = json_object_get(rec, key);
    if (!t || !m || json_is_null(m))
        return !t && (!m || json_is_null(m));
    return json_is_string(m) && strcmp((const char *)t, json_string_value(m)) == 0;
}

/* Schema 2 keeps each decision once, in its audit record, and the
 * decisions rows that GET /v1/changes answers from point into it (seq,
 * offset, length) beside copies of its bundle, cause, revision and
 * outcome. The chain vouches for the record, not for the row: a row
 * edited beside the chain would change an answer that the chain still
 * covers. So every row must point at a decision record, at the bytes of
 * its decision, and agree with it. A store of schema 1 (the decision's
 * text in the row) has nothing to point at and is not checked. */
static int verify_decisions(const char *path, char *err, size_t errlen)
{
    sqlite3 *db;
    int rc = open_db(path, &db, err, errlen);
    if (rc != CHG_OK)
        return rc;
    sqlite3_stmt *st = NULL;
    bool v2 = sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema'", -1, &st, NULL) == SQLITE_OK &&
              sqlite3_step(st) == SQLITE_ROW && strcmp(col(st, 0), "2") == 0;
    sqlite3_finalize(st);
    st = NULL;
    if (v2 && sqlite3_prepare_v2(db,
                                 "SELECT d.id, d.seq, d.doff, d.dlen, d.outcome, d.bundle, d.revision, d.cause, "
                                 "c.id, a.kind, a.data FROM decisions d LEFT JOIN changes c ON c.cid = d.cid "
                                 "LEFT JOIN audit a ON a.seq = d.seq ORDER BY d.id",
                                 -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: not a chgd store of schema 2: %s", path, sqlite3_errmsg(db));
        rc = CHG_EINVAL;
    }
    while (v2 && rc == CHG_OK) {
        int s = sqlite3_step(st);
        if (s == SQLITE_DONE)
            break;
        if (s != SQLITE_ROW) {
            snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
            rc = CHG_EIO;
            break;
        }
        int64_t id = sqlite3_column_int64(st, 0), seq = sqlite3_column_int64(st, 1);
        int64_t off = sqlite3_column_int64(st, 2), len = sqlite3_column_int64(st, 3);
        const char *data = (const char *)sqlite3_column_blob(st, 10);
        int64_t n = sqlite3_column_bytes(st, 10);
        const char *why = NULL;
        json_t *rec = NULL, *dec = NULL;
        if (sqlite3_column_type(st, 9) == SQLITE_NULL)
            why = "its audit record is missing";
        else if (strcmp(col(st, 9), "decision") != 0)
            why = "its audit record is not a decision";
        else if (!data || off < 0 || len <= 0 || off > n || len > n - off)
            why = "its place in its audit record is out of range";
        else if (!(rec = json_loadb(data, (size_t)n, 0, NULL)) || !json_is_object(rec) ||
                 !(dec = json_loadb(data + off, (size_t)len, 0, NULL)) ||
                 !json_equal(dec, json_object_get(rec, "decision")))
            why = "it does not point at its audit record's decision";
        else if (!same_text(st, 4, dec, "outcome") || !same_text(st, 5, rec, "bundle") ||
                 !same_text(st, 7, rec, "cause") || !same_text(st, 8, rec, "change_id") ||
                 (sqlite3_column_type(st, 6) == SQLITE_NULL
                      ? json_is_integer(json_object_get(rec, "revision"))
                      : !json_is_integer(json_object_get(rec, "revision")) ||
                            json_integer_value(json_object_get(rec, "revision")) != sqlite3_column_int64(st, 6)))
            why = "its outcome, bundle, cause, change or revision is not its audit record's";
        json_decref(rec);
        json_decref(dec);
        if (why) {
            snprintf(err, errlen, "decision %" PRId64 " (audit record %" PRId64 "): %s", id, seq, why);
            rc = CHG_EINVAL;
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}

int chg_audit_verify(const char *path, uint64_t *nrecords, char *err, size_t errlen)
{
    verifier v = {CHG_AUDIT_GENESIS, 1};
    int rc = each_record(path, 0, verify_one, &v, err, errlen);
    *nrecords = v.expect - 1;
    return rc == CHG_OK ? verify_decisions(path, err, errlen) : rc;
}

/* ---- signed digests ------------------------------------------------------------------ */

struct chg_audit_key {
    EVP_PKEY *pkey;
    char public_hex[65];
};

static void hex_of(const unsigned char *d, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[2 * n] = 0;
}

static bool unhex(const char *s, unsigned char *out, size_t n)
{
    if (strlen(s) != 2 * n)
        return false;
    for (size_t i = 0; i < 2 * n; i++) {
        char c = s[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0)
            return false;
        out[i / 2] = (unsigned char)(i % 2 ? out[i / 2] | v : v << 4);
    }
    return true;
}

int chg_audit_key_load(const char *path, bool private_key, chg_audit_key **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return CHG_EIO;
    }
    EVP_PKEY *k = private_key ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    unsigned char raw[32];
    size_t rawlen = sizeof raw;
    if (!k || EVP_PKEY_get_id(k) != EVP_PKEY_ED25519 || EVP_PKEY_get_raw_public_key(k, raw, &rawlen) != 1 ||
        rawlen != sizeof raw) {
        /* never the key's bytes in a message: only what it is not */
        snprintf(err, errlen, "%s: not a PEM Ed25519 %s key (make one with %s)", path,
                 private_key ? "private" : "public",
                 private_key ? "openssl genpkey -algorithm ed25519" : "openssl pkey -in KEY -pubout");
        EVP_PKEY_free(k);
        return CHG_EINVAL;
    }
    chg_audit_key *a = chg_calloc(1, sizeof *a);
    if (!a) {
        EVP_PKEY_free(k);
        snprintf(err, errlen, "%s", chg_strerror(CHG_ENOMEM));
        return CHG_ENOMEM;
    }
    a->pkey = k;
    hex_of(raw, sizeof raw, a->public_hex);
    *out = a;
    return CHG_OK;
}

void chg_audit_key_free(chg_audit_key *k)
{
    if (k) {
        EVP_PKEY_free(k->pkey);
        chg_free(k);
    }
}

/* What a digest signs: one definition for the signer and the verifier. */
static int digest_message(uint64_t seq, const char *hash, uint64_t every, char *out, size_t len)
{
    return snprintf(out, len, "chg-audit-digest-1\n%" PRIu64 "\n%s\n%" PRIu64 "\n", seq, hash, every);
}

int chg_audit_sign(const chg_audit_key *k, uint64_t seq, const char *hash, uint64_t every, chg_buf *out)
{
    char msg[160];
    int n = digest_message(seq, hash, every, msg, sizeof msg);
    unsigned char sig[64];
    size_t siglen = sizeof sig;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md && EVP_DigestSignInit(md, NULL, NULL, NULL, k->pkey) == 1 &&
              EVP_DigestSign(md, sig, &siglen, (const unsigned char *)msg, (size_t)n) == 1 && siglen == sizeof sig;
    EVP_MD_CTX_free(md);
    if (!ok)
        return CHG_EINTERNAL;
    char hex[129];
    hex_of(sig, sizeof sig, hex);
    chg_buf_printf(out, "\"public_key\":\"%s\",\"signature\":\"%s\"", k->public_hex, hex);
    return out->oom ? CHG_ENOMEM : CHG_OK;
}

typedef struct signed_verifier {
    verifier chain;
    const chg_audit_key *key;
    uint64_t last_digest, every, ndigests;
} signed_verifier;

static int check_digest(const chg_audit_record *r, signed_verifier *v, char *err, size_t errlen)
{
    json_error_t je;
    json_t *d = json_loads(r->data, 0, &je);
    json_t *covers = json_object_get(d, "covers"), *every = json_object_get(d, "every");
    const char *head = json_string_value(json_object_get(d, "head"));
    const char *sig = json_string_value(json_object_get(d, "signature"));
    const char *pub = json_string_value(json_object_get(d, "public_key"));
    unsigned char raw[64];
    int rc = CHG_OK;
    if (!json_is_integer(covers) || !json_is_integer(every) || json_integer_value(every) < 1 || !head || !sig ||
        !unhex(sig, raw, sizeof raw)) {
        snprintf(err, errlen, "record %" PRIu64 ": a digest without covers, every, head and signature", r->seq);
        rc = CHG_EINVAL;
    } else if ((uint64_t)json_integer_value(covers) != r->seq - 1 || strcmp(head, r->prev) != 0) {
        snprintf(err, errlen,
                 "record %" PRIu64 ": the digest does not cover the record before it: records %" PRIu64 " to %" PRIu64
                 " are not proven",
                 r->seq, v->last_digest + 1, r->seq - 1);
        rc = CHG_EINVAL;
    } else {
        char msg[160];
        int n = digest_message(r->seq - 1, head, (uint64_t)json_integer_value(every), msg, sizeof msg);
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        bool ok = md && EVP_DigestVerifyInit(md, NULL, NULL, NULL, v->key->pkey) == 1 &&
                  EVP_DigestVerify(md, raw, sizeof raw, (const unsigned char *)msg, (size_t)n) == 1;
        EVP_MD_CTX_free(md);
        if (!ok) {
            bool other = pub && strcmp(pub, v->key->public_hex) != 0;
            snprintf(err, errlen,
                     "record %" PRIu64 ": the digest's signature does not verify with the key%s: records %" PRIu64
                     " to %" PRIu64 " are not proven",
                     r->seq, other ? " (it names another public key)" : "", v->last_digest + 1, r->seq - 1);
            rc = CHG_EINVAL;
        } else {
            v->last_digest = r->seq;
            v->every = (uint64_t)json_integer_value(every);
            v->ndigests++;
        }
    }
    json_decref(d);
    return rc;
}

static int verify_signed_one(const chg_audit_record *r, void *ud, char *err, size_t errlen)
{
    signed_verifier *v = ud;
    int rc = verify_one(r, &v->chain, err, errlen);
    if (rc != CHG_OK)
        return rc;
    if (!strcmp(r->kind, "digest"))
        return check_digest(r, v, err, errlen);
    /* records before the first digest are covered by it; after one, the
     * next must come within its `every` records */
    if (v->last_digest && r->seq - v->last_digest > v->every) {
        snprintf(err, errlen,
                 "record %" PRIu64 ": more than %" PRIu64 " records after the digest at record %" PRIu64
                 " without a signed digest",
                 r->seq, v->every, v->last_digest);
        return CHG_EINVAL;
    }
    return CHG_OK;
}

int chg_audit_verify_signed(const char *path, const char *pubkey, uint64_t *nrecords, uint64_t *ndigests,
                            uint64_t *unsigned_tail, char *err, size_t errlen)
{
    *nrecords = *ndigests = *unsigned_tail = 0;
    chg_audit_key *k;
    int rc = chg_audit_key_load(pubkey, false, &k, err, errlen);
    if (rc != CHG_OK)
        return rc == CHG_EINVAL ? CHG_EIO : rc; /* a usage error, not a finding about the log */
    signed_verifier v = {.chain = {CHG_AUDIT_GENESIS, 1}, .key = k};
    rc = each_record(path, 0, verify_signed_one, &v, err, errlen);
    *nrecords = v.chain.expect - 1;
    *ndigests = v.ndigests;
    if (rc == CHG_OK && *nrecords && !v.ndigests) {
        snprintf(err, errlen, "record 1: no signed digest covers it (was chgd run with --audit-key?)");
        rc = CHG_EINVAL;
    }
    if (rc == CHG_OK)
        *unsigned_tail = *nrecords - v.last_digest;
    chg_audit_key_free(k);
    return rc == CHG_OK ? verify_decisions(path, err, errlen) : rc;
}

/* An event record as a record of `chgc replay` (docs/replay.md): the event
 * as it arrived, the instant it was judged at, and its facts — the --facts
 * file of the last start record before it, with the flags set then. NULL
 * for a record that is not an event. */
static json_t *replay_record(const chg_audit_record *r, const json_t *start_facts)
{
    json_error_t je;
    json_t *d = strcmp(r->kind, "event") ? NULL : json_loads(r->data, 0, &je);
    json_t *ev = json_object_get(d, "event"), *flags = json_object_get(d, "flags");
    if (!ev || !json_is_array(flags)) {
        json_decref(d);
        return NULL;
    }
    json_t *facts = json_is_object(start_facts) ? json_deep_copy(start_facts) : json_object();
    json_t *f = json_object_get(facts, "flags");
    if (!json_is_object(f)) {
        f = json_object();
        json_object_set_new(facts, "flags", f);
    }
    size_t i;
    json_t *name;
    json_array_foreach(flags, i, name)
        if (json_is_string(name))
            json_object_set(f, json_string_value(name), json_true());
    json_t *out = json_pack("{sI s s sO so}", "seq", (json_int_t)r->seq, "at", r->at, "event", ev, "facts", facts);
    json_decref(d);
    return out;
}

static int dump_line(const char *buffer, size_t size, void *data)
{
    chg_buf_append(data, buffer, size);
    return 0;
}

typedef struct exporter {
    uint64_t since, n;
    bool events;
    json_t *start_facts;    /* --events: the facts of the last start record */
    json_t *pending;        /* --events: the last event's replay record, not yet written */
    FILE *out;
    chg_buf line;
} exporter;

static int write_line(exporter *x, char *err, size_t errlen);

/* Write the pending event record. */
static int flush_pending(exporter *x, char *err, size_t errlen)
{
    if (!x->pending)
        return CHG_OK;
    chg_buf_reset(&x->line);
    if (json_dump_callback(x->pending, dump_line, &x->line, JSON_COMPACT) != 0)
        x->line.oom = true;
    json_decref(x->pending);
    x->pending = NULL;
    return write_line(x, err, errlen);
}

/* The answers of external queries (chgd --aws) that the event's decision
 * saw — the "queries" of the decision record right after the event,
 * caused by it — join the replay record's facts, so that replay decides
 * with what the daemon saw rather than asking again. */
static void add_queries(exporter *x, const chg_audit_record *r)
{
    json_error_t je;
    json_t *d = x->pending && !strcmp(r->kind, "decision") ? json_loads(r->data, 0, &je) : NULL;
    json_t *q = json_object_get(d, "queries");
    const char *cause = json_string_value(json_object_get(d, "cause"));
    if (json_is_array(q) && cause && !strcmp(cause, "event"))
        json_object_set(json_object_get(x->pending, "facts"), "queries", q);
    json_decref(d);
}

static int export_one(const chg_audit_record *r, void *ud, char *err, size_t errlen)
{
    exporter *x = ud;
    chg_buf_reset(&x->line);
    if (x->events) {
        if (!strcmp(r->kind, "start")) {
            json_error_t je;
            json_t *d = json_loads(r->data, 0, &je);
            json_decref(x->start_facts);
            x->start_facts = json_incref(json_object_get(d, "facts"));
            json_decref(d);
        }
        if (!strcmp(r->kind, "decision")) {
            add_queries(x, r);
            return flush_pending(x, err, errlen);
        }
        json_t *rec = r->seq > x->since ? replay_record(r, x->start_facts) : NULL;
        if (!rec)
            return CHG_OK;
        int rc = flush_pending(x, err, errlen);
        x->pending = rec;
        return rc;
    }
    chg_audit_record_json(r, &x->line);
    return write_line(x, err, errlen);
}

static int write_line(exporter *x, char *err, size_t errlen)
{
    chg_buf_putc(&x->line, '\n');
    if (x->line.oom) {
        snprintf(err, errlen, "%s", chg_strerror(CHG_ENOMEM));
        return CHG_ENOMEM;
    }
    if (fwrite(x->line.data, 1, x->line.len, x->out) != x->line.len) {
        snprintf(err, errlen, "cannot write the export: %s", strerror(errno));
        return CHG_EIO;
    }
    x->n++;
    return CHG_OK;
}

int chg_audit_export(const char *path, uint64_t since, bool events, FILE *out, uint64_t *nrecords, char *err,
                     size_t errlen)
{
    exporter x = {.since = since, .events = events, .out = out};
    chg_buf_init(&x.line);
    /* --events reads from the start: an event's facts are in the start
     * record before it */
    int rc = each_record(path, events ? 0 : since, export_one, &x, err, errlen);
    if (rc == CHG_OK)
        rc = flush_pending(&x, err, errlen);
    json_decref(x.pending);
    json_decref(x.start_facts);
    chg_buf_free(&x.line);
    *nrecords = x.n;
    return rc;
}
