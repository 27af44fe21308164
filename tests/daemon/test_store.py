#!/usr/bin/env python3
"""chgd's store: a decision is stored once (in its audit record), and a
store of schema 1 is migrated at open with every answer kept.

    test_store.py CHGD CHGC REPO_ROOT [TEST...]

The schema-1 fixture (store_v1/: chgd.db, the answers a schema-1 chgd
gave, its policy) is made by store_v1/make.py.
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_chgd import CHGC, Daemon, change, eq, is_decision, is_error  # noqa: E402
from test_chgd import main as run_tests  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
V1 = os.path.join(HERE, "store_v1")


def texts(store):
    """Every text value of every table but audit, as (table, column, value)."""
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    out = []
    for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'audit'"):
        cols = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
        for row in db.execute(f"SELECT * FROM {table}"):
            out += [(table, c, v) for c, v in zip(cols, row) if isinstance(v, str)]
    db.close()
    return out


def verify(store):
    r = subprocess.run([CHGC, "audit", "verify", store], capture_output=True, text=True)
    eq((r.returncode, r.stderr), (0, ""), f"chgc audit verify {store}: {r.stdout}")


def test_decision_stored_once(tmp):
    d = Daemon(tmp, "--dry-run")
    try:  # a deny: its reason's message is what no other record says
        eq(d.request("PUT", "/v1/flags/incident-freeze", {"by": "ops", "why": "test"})[0], 200, "flag set")
        s, _, first = d.request("POST", "/v1/events", change("o1"), headers={"Idempotency-Key": "o1"})
        is_decision(first, "deny")
        s, h, again = d.request("POST", "/v1/events", change("o1"), headers={"Idempotency-Key": "o1"})
        eq((s, h.get("idempotent-replayed"), again), (200, "true", first), "the redelivery's answer")
        eq(d.request("GET", "/v1/changes/o1")[2]["decisions"], [first], "the change's decisions")
    finally:
        d.stop()
    # the decision's text is in the audit log and nowhere else: its
    # reason's source (what no other record says) and its "outcome"
    reason = first["reasons"][0]["source"]
    db = sqlite3.connect(f"file:{d.store}?mode=ro", uri=True)
    eq(db.execute("SELECT count(*) FROM audit WHERE kind = 'decision' AND instr(data, ?)", (reason,)).fetchone(),
       (1,), "in its audit record")
    db.close()
    eq([t for t in texts(d.store) if reason in t[2] or '"outcome"' in t[2]], [], "a copy outside the audit log")
    verify(d.store)


def test_schema_1_migrated(tmp):
    store = os.path.join(tmp, "chgd.db")
    shutil.copy(os.path.join(V1, "chgd.db"), store)
    with open(os.path.join(V1, "answers.json"), encoding="utf-8") as f:
        want = json.load(f)
    d = Daemon(tmp, "--dry-run", policy=os.path.join(V1, "policy.chg"), store=store)
    try:
        for cid, body in want["changes"].items():
            eq(d.request("GET", f"/v1/changes/{cid}")[2], body, f"GET /v1/changes/{cid} after the migration")
        eq(d.request("GET", "/v1/changes")[2], want["list"], "GET /v1/changes")
        old = want["audit"]["records"]
        eq(d.request("GET", "/v1/audit?limit=1000")[2]["records"][:len(old)], old, "the audit records")
        for e in want["events"]:  # every delivery answered as it was, as a replay
            s, h, b = d.request("POST", "/v1/events", e["body"],
                                headers={"Idempotency-Key": e["key"]} if e["key"] else None)
            eq((s, h.get("idempotent-replayed"), b), (200, "true", e["answer"]), f"redelivery of {e['key']}")
        # the migrated changes go on: a new revision of c1, an approval on c2
        s, _, b = d.request("POST", "/v1/events", change("c1", pipeline="p9"), headers={"Idempotency-Key": "n1"})
        is_decision(b, "allow")
        eq(b["revision"], 2, "c1's next revision")
        s, _, b = d.request("POST", "/v1/changes/c2/approvals",
                            {"by": "eve", "group": "cab", "at": "2026-12-02T09:30:00Z", "decision": "reject"})
        eq(s, 200, "an approval on a migrated change")
        c = d.request("GET", "/v1/changes/c2")[2]
        eq(len(c["decisions"]), len(want["changes"]["c2"]["decisions"]) + 1, "c2's decisions")
        eq(c["decisions"][1:], want["changes"]["c2"]["decisions"], "c2's history")
        eq(d.request("GET", "/v1/changes/c1")[2]["decisions"][1:], want["changes"]["c1"]["decisions"], "c1's history")
    finally:
        d.stop()
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    eq(db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone(), ("2",), "the schema version")
    db.close()
    verify(store)


def test_schema_1_refused_when_it_does_not_hold(tmp):
    """A decision whose text is not in its audit record has no place in
    schema 2: chgd refuses the store and leaves it as it was."""
    store = os.path.join(tmp, "chgd.db")
    shutil.copy(os.path.join(V1, "chgd.db"), store)
    db = sqlite3.connect(store)
    db.execute("UPDATE decisions SET decision = '{\"outcome\":\"allow\"}' WHERE id = 1")
    db.commit()
    db.close()
    try:
        Daemon(tmp, policy=os.path.join(V1, "policy.chg"), store=store).stop()
        raise AssertionError("chgd started on a store it cannot migrate")
    except AssertionError as e:
        if "cannot migrate the store from schema 1 to 2" not in str(e):
            raise
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    eq(db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone(), ("1",), "the schema version")
    eq("decision" in [r[1] for r in db.execute("PRAGMA table_info(decisions)")], True, "the old decisions table")
    db.close()



def test_decision_without_its_record_is_an_error(tmp):
    """A decision row whose audit record is not there is a store that does
    not hold together: the change is not answered (503), rather than
    answered with its history a decision short."""
    d = Daemon(tmp, "--dry-run")
    try:
        is_decision(d.request("POST", "/v1/events", change("o1"))[2], "allow")
    finally:
        d.stop()
    db = sqlite3.connect(d.store)
    db.execute("UPDATE decisions SET seq = 999999 WHERE id = (SELECT max(id) FROM decisions)")
    db.commit()
    db.close()
    d = Daemon(tmp, "--dry-run", store=d.store)
    try:
        s, _, b = d.request("GET", "/v1/changes/o1")
        is_error(s, b, "store_unavailable", 503)
    finally:
        d.stop()


def test_verify_checks_the_decisions_rows(tmp):
    """chgc audit verify holds the decisions rows to the records they point
    into: an edit beside the chain (an outcome, a pointer) is found."""
    d = Daemon(tmp, "--dry-run")
    try:
        is_decision(d.request("POST", "/v1/events", change("o1"))[2], "allow")
    finally:
        d.stop()
    verify(d.store)
    for edit, why in [("outcome = 'deny'", "its outcome, bundle, cause, change or revision is not its audit record's"),
                      ("doff = doff + 1", "it does not point at its audit record's decision"),
                      ("dlen = 100000", "its place in its audit record is out of range"),
                      ("seq = 1", "its audit record is not a decision"),
                      ("seq = 999999", "its audit record is missing")]:
        store = os.path.join(tmp, "edited.db")
        shutil.copy(d.store, store)
        db = sqlite3.connect(store)
        seq = db.execute("SELECT seq FROM decisions WHERE id = 1").fetchone()[0]
        db.execute(f"UPDATE decisions SET {edit} WHERE id = 1")
        db.commit()
        db.close()
        r = subprocess.run([CHGC, "audit", "verify", store], capture_output=True, text=True)
        eq((r.returncode, r.stdout), (1, ""), f"verify after {edit}")
        if f"decision 1 (audit record {seq if 'seq' not in edit else edit.split()[-1]}): {why}" not in r.stderr:
            raise AssertionError(f"after {edit}: {r.stderr!r}")
        os.remove(store)

if __name__ == "__main__":
    sys.exit(run_tests(globals(), prefix="chgd-store-test-"))
