#!/usr/bin/env python3
"""Make the schema-1 store fixture that test_store.py migrates: run a
chgd whose store is schema 1 (commit d202502 and before), send it a few
events, an approval, a flag set and cleared, a replay; stop it and keep
its store (chgd.db) and every answer (answers.json).

    make.py CHGD_OF_SCHEMA_1 CHGC REPO_ROOT

Decisions are judged at each change's requested_at (the policy's `at`),
and nothing is deferred (no timer a later clock could fire), so what the
store answers does not depend on the day the test runs.
"""
import json
import os
import shutil
import sqlite3
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from test_chgd import Daemon, change, eq  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

# (idempotency key or None, body): keys the header, else the envelope id or the body's SHA-256
EVENTS = [
    ("k1", change("c1")),
    ("k2", change("c2", env="prod")),  # pending: one of cab
    ("k3", change("c2", env="prod", pipeline="p2")),  # a new revision, with the approval given
    ("k4", {"env": "dev", "requested_at": "2026-12-02T10:00:00Z"}),  # no id: decided error, no change row
    (None, {"version": "0", "id": "ev-1", "detail-type": "Deploy Requested", "source": "com.example.deploys",
            "account": "111122223333", "time": "2026-12-02T11:00:00Z", "region": "us-east-1", "resources": [],
            "detail": {"deploy_id": "d1", "stage": "dev", "user": "Zoë"}}),  # not ASCII: bytes, not characters
    (None, change("c3", requester={"name": "Jürgen ✓", "groups": []})),
]


def main():
    tmp = tempfile.mkdtemp(prefix="chgd-store-v1-")
    shutil.copy(os.path.join(HERE, "policy.chg"), os.path.join(tmp, "policy.chg"))
    d = Daemon(tmp, "--dry-run")
    answers = {"events": [], "changes": {}}
    try:
        def event(key, body):  # body: the text sent, kept as it is (a key may be its SHA-256)
            s, h, b = d.request("POST", "/v1/events", body, headers={"Idempotency-Key": key} if key else None)
            eq(s, 200, f"event {key}")
            return b
        for key, body in EVENTS[:2]:
            text = json.dumps(body)
            answers["events"].append({"key": key, "body": text, "answer": event(key, text)})
        s, _, _ = d.request("POST", "/v1/changes/c2/approvals",
                            {"by": "bob", "group": "cab", "at": "2026-12-02T09:00:00Z", "decision": "approve"})
        eq(s, 200, "approval")
        for key, body in EVENTS[2:]:
            text = json.dumps(body)
            answers["events"].append({"key": key, "body": text, "answer": event(key, text)})
        eq(d.request("PUT", "/v1/flags/incident-freeze", {"by": "ops", "why": "incident"})[0], 200, "flag set")
        eq(d.request("DELETE", "/v1/flags/incident-freeze", {"by": "ops", "why": "over"})[0], 200, "flag cleared")
        for cid in ("c1", "c2", "c3", "d1"):
            s, _, b = d.request("GET", f"/v1/changes/{cid}")
            eq(s, 200, f"GET {cid}")
            answers["changes"][cid] = b
        answers["list"] = d.request("GET", "/v1/changes")[2]
        answers["audit"] = d.request("GET", "/v1/audit?limit=1000")[2]
    finally:
        d.stop()
    db = sqlite3.connect(os.path.join(tmp, "chgd.db"))
    eq(db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone(), ("1",), "a schema-1 store")
    db.execute("VACUUM")
    db.close()
    shutil.copy(os.path.join(tmp, "chgd.db"), os.path.join(HERE, "chgd.db"))
    with open(os.path.join(HERE, "answers.json"), "w") as f:
        json.dump(answers, f, indent=1, ensure_ascii=False, sort_keys=True)
        f.write("\n")
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
