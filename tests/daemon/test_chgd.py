#!/usr/bin/env python3
"""chgd against a real process: every endpoint, idempotent redelivery,
approvals, flags, reload, the audit chain, a corpus of hostile requests,
SIGTERM, and a kill -9 in the middle of a burst.

    test_chgd.py CHGD CHGC REPO_ROOT [TEST...]

Each daemon listens on 127.0.0.1:0 (a free port the kernel picks; the
port is read from its "listening on" log line), with its store and tokens
in a temporary directory.
"""
import concurrent.futures
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback

CHGD, CHGC, ROOT = (os.path.abspath(a) for a in sys.argv[1:4])
ONLY = sys.argv[4:]
HERE = os.path.dirname(os.path.abspath(__file__))
POLICY = os.path.join(HERE, "policy.chg")
WTOKEN = "write-token-0123456789abcdef"
RTOKEN = "read-token-0123456789abcdef"
START_TIMEOUT = 60  # seconds: ASan builds start slowly on a loaded machine


class Daemon:
    def __init__(self, tmp, *extra, policy=None, store=None, source=True, env=None):
        self.tmp = tmp
        self.policy = policy or os.path.join(tmp, "policy.chg")
        if not os.path.exists(self.policy):
            shutil.copy(POLICY, self.policy)
        self.tokens = os.path.join(tmp, "tokens")
        with open(self.tokens, "w") as f:
            f.write(f"# test tokens\nwrite {WTOKEN}\nread {RTOKEN}\n")
        self.store = store or os.path.join(tmp, "chgd.db")
        self.log = os.path.join(tmp, f"chgd-{time.time_ns()}.log")
        self.args = [CHGD, "--listen", "127.0.0.1:0", *(["--policy", self.policy] if source else []),
                     "--store", self.store, "--token-file", self.tokens, "--log-level", "debug", *extra]
        self.errf = open(self.log, "wb")
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=self.errf, cwd=tmp,
                                     env=dict(os.environ, **(env or {})))
        deadline = time.time() + START_TIMEOUT
        self.port = None
        while time.time() < deadline and self.port is None:
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", self.logtext())
            if m:
                self.port = int(m.group(1))
            elif self.proc.poll() is not None:
                raise AssertionError(f"chgd exited {self.proc.returncode}:\n{self.logtext()}")
            else:
                time.sleep(0.05)
        if self.port is None:
            self.proc.kill()
            raise AssertionError("chgd did not start:\n" + self.logtext())

    def logtext(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def request(self, method, path, body=None, token="w", headers=None, timeout=30):
        h = dict(headers or {})
        if token == "w":
            h["Authorization"] = f"Bearer {WTOKEN}"
        elif token == "r":
            h["Authorization"] = f"Bearer {RTOKEN}"
        elif token:
            h["Authorization"] = token
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        if body is not None and len(body) > (1 << 20):
            return self.raw_request(method, path, body, h, timeout)
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        ctype = r.getheader("Content-Type", "")
        parsed = None
        if ctype.startswith("application/json"):
            parsed = json.loads(data)
        return r.status, {k.lower(): v for k, v in r.getheaders()}, parsed if parsed is not None else data

    def raw_request(self, method, path, body, headers, timeout):
        """A body over the limit: chgd answers 413 from the headers alone and
        closes, so send them and what fits, then read the answer."""
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        sock.sendall(head.encode())
        try:
            sock.sendall(body[:65536])
        except OSError:
            pass
        r = http.client.HTTPResponse(sock)
        r.begin()
        data = r.read()
        sock.close()
        parsed = json.loads(data) if r.getheader("Content-Type", "").startswith("application/json") else data
        return r.status, {k.lower(): v for k, v in r.getheaders()}, parsed

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("chgd did not stop on SIGTERM")
        self.errf.close()
        log = self.logtext()
        if "Sanitizer" in log or "runtime error" in log:
            raise AssertionError("the sanitizers found something:\n" + log)
        if sig == signal.SIGTERM and self.proc.returncode != 0:
            raise AssertionError(f"chgd exited {self.proc.returncode} on SIGTERM:\n{log}")
        return self.proc.returncode


def change(cid, env="dev", at="2026-12-02T10:00:00Z", approvals=None, **kw):
    c = {"id": cid, "env": env, "requested_at": at, "requester": {"name": "ann", "groups": []},
         "approvals": approvals or []}
    c.update(kw)
    return c


def eq(a, b, what=""):
    if a != b:
        raise AssertionError(f"{what}: expected {b!r}, got {a!r}")


def is_error(status, body, code, want_status):
    eq(status, want_status, f"status for {code}")
    if not isinstance(body, dict) or set(body) != {"error"} or set(body["error"]) != {"code", "message"}:
        raise AssertionError(f"not an error body: {body!r}")
    eq(body["error"]["code"], code, "error code")
    if not body["error"]["message"]:
        raise AssertionError("an empty error message")


DECISION_KEYS = ["change", "policy", "version", "at", "risk", "outcome", "reasons", "approvals", "window",
                 "freezes", "warnings", "actions", "emergency"]


def is_decision(body, outcome, cause="event"):
    if not isinstance(body, dict):
        raise AssertionError(f"not a decision: {body!r}")
    for k in DECISION_KEYS:
        if k not in body:
            raise AssertionError(f"decision without '{k}': {body}")
    eq(body["outcome"], outcome, f"outcome of {body.get('change')}")
    for k in ("seq", "decided_at", "bundle", "revision", "cause"):
        if k not in body:
            raise AssertionError(f"decision without '{k}': {body}")
    eq(body["cause"], cause, "cause")


def record_hash(seq, prev, at, kind, subject, data):
    """A record's hash, computed here independently of driver/audit.c."""
    h = hashlib.sha256()
    for f in ("chg-audit-1", str(seq), prev, at, kind, subject, data):
        b = f.encode()
        h.update(f"{len(b)}:".encode() + b + b"\n")
    return h.hexdigest()


def chain_ok(store, records):
    """The chain of the store's rows, and the API's records are those rows."""
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    rows = db.execute("SELECT seq, prev, hash, at, kind, subject, data FROM audit ORDER BY seq").fetchall()
    db.close()
    prev = "0" * 64
    for seq, p, h, at, kind, subject, data in rows:
        eq(p, prev, f"prev of record {seq}")
        eq(h, record_hash(seq, p, at, kind, subject, data), f"hash of record {seq}")
        prev = h
    served = [{"seq": r[0], "prev": r[1], "hash": r[2], "at": r[3], "kind": r[4], "subject": r[5],
               "data": json.loads(r[6])} for r in rows]
    eq(records, served[:len(records)], "GET /v1/audit serves the stored records")


# ---- the tests ---------------------------------------------------------------------------------

def test_probes_and_status(tmp):
    d = Daemon(tmp)
    try:
        s, h, b = d.request("GET", "/healthz", token=None)
        eq((s, b), (200, {"status": "ok"}), "healthz")
        s, h, b = d.request("GET", "/readyz", token=None)
        eq((s, b), (200, {"ready": True}), "readyz")
        s, h, b = d.request("GET", "/v1/status", token="r")
        eq(s, 200, "status")
        eq(b["bundle"]["policy"], "daemon-test", "policy name")
        eq(b["bundle"]["version"], "1", "policy version")
        eq(len(b["bundle"]["sha256"]), 64, "bundle hash")
        eq(b["store"], {"backend": "sqlite", "path": d.store}, "store")
        eq(b["counts"]["audit_seq"], 1, "the start record")
        # the status names the same bundle chgc builds from the policy
        out = os.path.join(tmp, "p.chgb")
        subprocess.run([CHGC, "build", d.policy, "-o", out], check=True, capture_output=True)
        d2 = Daemon(tmp, "--bundle", out, store=os.path.join(tmp, "b.db"), source=False)
        _, _, b2 = d2.request("GET", "/v1/status", token="r")
        d2.stop()
        eq(b2["bundle"]["sha256"], b["bundle"]["sha256"], "the bundle chgc built is the one chgd compiled")
        s, h, text = d.request("GET", "/metrics", token=None)
        eq(s, 200, "metrics")
        text = text.decode()
        for needle in ('chgd_requests_total{route="/healthz",code="200"} 1', "chgd_request_seconds_bucket",
                       "chgd_evaluation_seconds_count", 'chgd_bundle_info{policy="daemon-test",version="1"',
                       "chgd_audit_sequence 1", 'chgd_decisions_total{outcome="allow"}'):
            if needle not in text:
                raise AssertionError(f"metrics lack {needle!r}:\n{text}")
    finally:
        eq(d.stop(), 0, "exit status after SIGTERM")
    if "stopped" not in d.logtext():
        raise AssertionError("no 'stopped' line:\n" + d.logtext())


def test_events_and_redelivery(tmp):
    d = Daemon(tmp)
    try:
        s, h, b = d.request("POST", "/v1/events", change("c1"))
        eq(s, 200, "event")
        is_decision(b, "allow")
        eq((b["change"], b["revision"]), ("c1", 1), "change and revision")
        if "idempotent-replayed" in h:
            raise AssertionError("a first delivery answered as replayed")
        # the same body again: the recorded answer, byte for byte, and nothing new in the audit log
        s0, _, st0 = d.request("GET", "/v1/status", token="r")
        s2, h2, b2 = d.request("POST", "/v1/events", change("c1"))
        eq((s2, h2.get("idempotent-replayed"), b2), (200, "true", b), "redelivery")
        _, _, st1 = d.request("GET", "/v1/status", token="r")
        eq(st1["counts"], st0["counts"], "a redelivery writes nothing")
        # the Idempotency-Key header wins over the body: new content, same key, same answer
        s, h, k1 = d.request("POST", "/v1/events", change("c2"), headers={"Idempotency-Key": "k-1"})
        is_decision(k1, "allow")
        s, h, k2 = d.request("POST", "/v1/events", change("c2", env="prod"), headers={"Idempotency-Key": "k-1"})
        eq((h.get("idempotent-replayed"), k2), ("true", k1), "the header is the key")
        # a change id seen with new content: a new revision, decided again
        s, h, r2 = d.request("POST", "/v1/events", change("c1", env="prod"))
        is_decision(r2, "pending")
        eq(r2["revision"], 2, "new revision")
        eq(r2["approvals"]["missing"], ["1 of group cab"], "missing")
        s, h, c = d.request("GET", "/v1/changes/c1", token="r")
        eq(s, 200, "GET change")
        eq((c["id"], c["revision"], c["outcome"]), ("c1", 2, "pending"), "merged state")
        eq([x["outcome"] for x in c["decisions"]], ["pending", "allow"], "every decision, latest first")
        eq(c["change"]["env"], "prod", "the latest revision")
        # an EventBridge envelope no intake takes, whose detail is a change: decided on its detail;
        # its id is the key, so a redelivery with another body is the same event
        env = {"version": "0", "id": "0d1f-envelope-1", "detail-type": "Change Record", "source": "com.example.changes",
               "account": "111122223333", "time": "2026-12-02T10:00:00Z", "region": "us-east-1", "resources": [],
               "detail": change("c3")}
        s, h, e1 = d.request("POST", "/v1/events", env)
        is_decision(e1, "allow")
        eq(e1["change"], "c3", "decided on the detail")
        env["region"] = "eu-west-1"
        s, h, e2 = d.request("POST", "/v1/events", env)
        eq((h.get("idempotent-replayed"), e2), ("true", e1), "the envelope id is the key")
        # an intake's event
        ev = {"version": "0", "id": "deploy-ev-1", "detail-type": "Deploy Requested", "source": "com.example.deploys",
              "account": "111122223333", "time": "2026-12-02T11:00:00Z", "region": "us-east-1",
              "detail": {"deploy_id": "c4", "stage": "prod", "user": "bob"}}
        s, h, i1 = d.request("POST", "/v1/events", ev)
        is_decision(i1, "pending")
        eq(i1["change"], "c4", "built by the intake")
        # an SNS notification carrying an envelope
        sns = {"Type": "Notification", "MessageId": "sns-msg-1", "TopicArn": "arn:aws:sns:us-east-1:111122223333:t",
               "Message": json.dumps(dict(ev, id="deploy-ev-2", detail=dict(ev["detail"], deploy_id="c5")))}
        s, h, n1 = d.request("POST", "/v1/events", sns)
        is_decision(n1, "pending")
        eq(n1["change"], "c5", "SNS unwrapped")
        # a change that fails the schema: decided `error`, never judged by a rule
        s, h, bad = d.request("POST", "/v1/events", change("c6", env="staging"))
        is_decision(bad, "error")
        if any(r["rule"] for r in bad["reasons"]):
            raise AssertionError(f"a rule judged a change that does not fit the schema: {bad}")
        # a mistyped field is named
        if "change.env" not in bad["reasons"][0]["message"]:
            raise AssertionError(bad)
        # a deny queues its action (here: no flag; use an envelope without intake and not a change → 422)
        s, h, b = d.request("POST", "/v1/events", {"source": "aws.codedeploy", "detail-type": "X", "detail": {"a": 1}})
        is_error(s, b, "not_a_change", 422)
        # lists and pagination
        s, h, l = d.request("GET", "/v1/changes?limit=2", token="r")
        eq(len(l["changes"]), 2, "page size")
        cur = l["next_cursor"]
        seen = [x["id"] for x in l["changes"]]
        while cur:
            s, h, l = d.request("GET", f"/v1/changes?limit=2&cursor={cur}", token="r")
            seen += [x["id"] for x in l["changes"]]
            cur = l["next_cursor"]
        eq(sorted(seen), ["c1", "c2", "c3", "c4", "c5", "c6"], "every change, once")
        s, h, l = d.request("GET", "/v1/changes?outcome=pending", token="r")
        eq(sorted(x["id"] for x in l["changes"]), ["c1", "c4", "c5"], "by outcome")
        s, h, l = d.request("GET", "/v1/changes?since=2999-01-01T00:00:00Z", token="r")
        eq(l, {"changes": [], "next_cursor": None}, "since the future")
    finally:
        d.stop()
    # chgc eval decides the same envelope on its detail (the shared intake)
    p = subprocess.run([CHGC, "eval", POLICY, "--event", "-"], input=json.dumps(env).encode(), capture_output=True)
    eq(p.returncode, 0, "chgc eval exit " + p.stderr.decode())
    eq(json.loads(p.stdout)["change"], "c3", "chgc eval on the detail")


def test_approvals_and_flags(tmp):
    d = Daemon(tmp, "--dry-run")
    try:
        s, h, b = d.request("POST", "/v1/events", change("p1", env="prod"))
        is_decision(b, "pending")
        s, h, b = d.request("POST", "/v1/changes/p1/approvals", {"by": "bob", "group": "cab", "at": "2026-12-02T09:00:00+00:00"})
        eq(s, 200, "approval")
        is_decision(b, "allow", cause="approval")
        eq(b["approvals"]["satisfied"], ["1 of group cab"], "satisfied")
        # the requester's own approval does not count: unchanged rules hold on merged approvals
        s, h, c = d.request("GET", "/v1/changes/p1", token="r")
        eq(c["approvals"], [{"by": "bob", "group": "cab", "at": "2026-12-02T09:00:00Z", "decision": "approve"}], "approvals")
        eq([x["outcome"] for x in c["decisions"]], ["allow", "pending"], "history")
        # a rejection denies, and the deny's action is recorded (dry run: never executed)
        s, h, b = d.request("POST", "/v1/changes/p1/approvals", {"by": "cy", "group": "cab", "decision": "reject",
                                                               "at": "2026-12-02T09:30:00Z"})
        is_decision(b, "deny", cause="approval")
        eq([a["call"] for a in b["actions"]], ["aws.sns.publish"], "the deny's action")
        # an approval through the API on a policy whose schema has no `decision`: no warning
        plain = os.path.join(tmp, "plain.chg")
        open(plain, "w").write(open(d.policy).read().replace(', decision: enum("approve", "reject")?', ""))
        d2 = Daemon(tmp, store=os.path.join(tmp, "plain.db"), policy=plain)
        try:
            d2.request("POST", "/v1/events", change("p2", env="prod"))
            s, h, b = d2.request("POST", "/v1/changes/p2/approvals", {"by": "bob", "group": "cab", "at": "2026-12-02T09:00:00Z"})
            is_decision(b, "allow", cause="approval")
            eq(b["warnings"], [], "no warning for the approval's decision")
        finally:
            d2.stop()
        s, h, b = d.request("POST", "/v1/changes/nope/approvals", {"by": "bob"})
        is_error(s, b, "not_found", 404)
        # a flag turns allow into deny, and back
        s, h, b = d.request("POST", "/v1/events", change("f1"))
        is_decision(b, "allow")
        s, h, b = d.request("PUT", "/v1/flags/incident-freeze", {"by": "ops", "why": "incident 42"})
        eq(s, 200, "PUT flag")
        eq((b["flag"], b["set"], b["read_by_policy"], b["reevaluated"]), ("incident-freeze", True, True, 2), "flag answer")
        s, h, c = d.request("GET", "/v1/changes/f1", token="r")
        eq((c["outcome"], c["decisions"][0]["cause"]), ("deny", "flag"), "frozen by the flag")
        eq(c["decisions"][0]["reasons"][0]["rule"], "incident_freeze", "the freeze's rule")
        s, h, b = d.request("GET", "/v1/flags", token="r")
        eq([(f["name"], f["by"], f["why"]) for f in b["flags"]], [("incident-freeze", "ops", "incident 42")], "flags")
        # while the flag is set, a new event is denied; a dry evaluation sees the flag too
        s, h, b = d.request("POST", "/v1/events", change("f2"))
        is_decision(b, "deny")
        s, h, b = d.request("POST", "/v1/evaluate", change("f3"), token="r")
        eq((s, b["outcome"]), (200, "deny"), "dry evaluation with the flag")
        s, h, b = d.request("DELETE", "/v1/flags/incident-freeze", {"by": "ops", "why": "resolved"})
        eq((s, b["set"]), (200, False), "DELETE flag")
        s, h, c = d.request("GET", "/v1/changes/f1", token="r")
        eq([x["outcome"] for x in c["decisions"]], ["allow", "deny", "allow"], "allow, deny, allow")
        s, h, b = d.request("DELETE", "/v1/flags/incident-freeze")
        is_error(s, b, "not_found", 404)
        # a flag the policy never reads re-evaluates nothing
        s, h, b = d.request("PUT", "/v1/flags/launch-freeze", {"by": "ops", "why": "x"})
        eq((b["read_by_policy"], b["reevaluated"]), (False, 0), "an unread flag")
        # the action queue holds the deny's actions, marked dry-run
        db = sqlite3.connect(f"file:{d.store}?mode=ro", uri=True)
        states = db.execute("SELECT DISTINCT state FROM actions").fetchall()
        eq(states, [("dry-run",)], "dry-run actions")
        keys = db.execute("SELECT count(DISTINCT key), count(*) FROM actions").fetchone()
        eq(keys[0], keys[1], "one idempotency key per action")
        db.close()
        # a deferred change leaves a timer at its next_open
        s, h, b = d.request("POST", "/v1/events", change("n1", env="prod", at="2099-12-02T22:00:00Z",
                                                         approvals=[{"by": "bob", "group": "cab", "at": "2099-12-02T21:00:00Z"}]))
        is_decision(b, "defer")
        eq(b["window"]["next_open"], "2099-12-03T06:00:00Z", "next_open")
        db = sqlite3.connect(f"file:{d.store}?mode=ro", uri=True)
        eq(db.execute("SELECT due FROM timers WHERE change_id = 'n1'").fetchall(), [("2099-12-03T06:00:00Z",)], "timer")
        db.close()
    finally:
        d.stop()


def test_evaluate(tmp):
    d = Daemon(tmp)
    try:
        _, _, st0 = d.request("GET", "/v1/status", token="r")
        s, h, b = d.request("POST", "/v1/evaluate", change("e1", env="prod"), token="r")
        eq((s, b["outcome"], b["change"]), (200, "pending", "e1"), "dry decision")
        eq(b["bundle"], st0["bundle"]["sha256"], "the bundle beside it")
        lines = "\n".join([json.dumps(change("e2")), "{not json", json.dumps(change("e3", env="prod")),
                           json.dumps({"hello": "world"})]) + "\n"
        s, h, out = d.request("POST", "/v1/evaluate", lines, token="r", headers={"Content-Type": "application/x-ndjson"})
        eq((s, h["content-type"]), (200, "application/x-ndjson"), "batch")
        got = [json.loads(x) for x in out.decode().splitlines()]
        eq(len(got), 4, "one answer per line")
        eq((got[0]["outcome"], got[2]["outcome"]), ("allow", "pending"), "batch decisions")
        eq(got[1]["error"]["code"], "bad_json", "line 2")
        if not got[1]["error"]["message"].startswith("line 2"):
            raise AssertionError(got[1])
        eq(got[3]["error"]["code"], "not_a_change", "line 4")
        _, _, st1 = d.request("GET", "/v1/status", token="r")
        eq(st1["counts"], st0["counts"], "dry: no state, no audit")
    finally:
        d.stop()


def test_reload(tmp):
    d = Daemon(tmp)
    try:
        _, _, st = d.request("GET", "/v1/status", token="r")
        old = st["bundle"]["sha256"]
        good = open(d.policy).read()
        # a broken policy is refused and the old one keeps serving
        open(d.policy, "w").write(good.replace('rule in_hours mandatory:', 'rule in_hours mandatory'))
        s, h, b = d.request("POST", "/v1/reload")
        is_error(s, b, "reload_refused", 422)
        if "policy.chg" not in b["error"]["message"]:
            raise AssertionError(b)
        _, _, st = d.request("GET", "/v1/status", token="r")
        eq(st["bundle"]["sha256"], old, "the old bundle serves")
        s, h, b = d.request("POST", "/v1/events", change("r1"))
        is_decision(b, "allow")
        s, h, b = d.request("POST", "/v1/reload", token="r")
        is_error(s, b, "forbidden", 403)
        # a good one replaces it, with requests running meanwhile: none fails
        open(d.policy, "w").write(good.replace('version "1"', 'version "2"'))
        stop = threading.Event()
        failures = []

        def load():
            i = 0
            while not stop.is_set():
                i += 1
                s, h, b = d.request("POST", "/v1/evaluate", change(f"l{i}"), token="r")
                if s != 200:
                    failures.append((s, b))
        threads = [threading.Thread(target=load) for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(0.2)
        s, h, b = d.request("POST", "/v1/reload")
        eq((s, b["ok"], b["previous"]), (200, True, old), "reload")
        time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join()
        eq(failures, [], "requests during the reload")
        _, _, st = d.request("GET", "/v1/status", token="r")
        eq(st["bundle"]["version"], "2", "the new policy")
        s, h, b = d.request("POST", "/v1/events", change("r2"))
        eq(b["version"], "2", "decided by the new bundle")
        # SIGHUP reloads too
        open(d.policy, "w").write(good.replace('version "1"', 'version "3"'))
        d.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 30
        while time.time() < deadline:
            _, _, st = d.request("GET", "/v1/status", token="r")
            if st["bundle"]["version"] == "3":
                break
            time.sleep(0.05)
        eq(st["bundle"]["version"], "3", "SIGHUP reload")
        while time.time() < deadline:  # the SIGHUP's record follows the swap
            s, h, a = d.request("GET", "/v1/audit?since=0&limit=1000", token="r")
            kinds = [r["kind"] for r in a["records"]]
            if kinds.count("reload") == 3:
                break
            time.sleep(0.05)
        eq(kinds.count("reload"), 3, "every reload audited, the refused one too")
        eq([r["data"]["ok"] for r in a["records"] if r["kind"] == "reload"], [False, True, True], "reload records")
        # an event taken by an intake that a reload then removes: its redelivery is refused by intake now,
        # and still answered as recorded (the HTTP thread looks its key up only when it refuses an event)
        ev = {"version": "0", "id": "deploy-reload-1", "detail-type": "Deploy Requested",
              "source": "com.example.deploys", "account": "111122223333", "time": "2026-12-02T11:00:00Z",
              "region": "us-east-1", "detail": {"deploy_id": "r3", "stage": "prod", "user": "bob"}}
        s, h, first = d.request("POST", "/v1/events", ev)
        is_decision(first, "pending")
        start = good.index("intake deploys")
        end = good.index("\n}\n", start) + 3
        open(d.policy, "w").write(good[:start].replace('version "1"', 'version "4"') + good[end:])
        s, h, b = d.request("POST", "/v1/reload")
        eq((s, b["ok"]), (200, True), "reload without the intake")
        s, h, b = d.request("POST", "/v1/events", dict(ev, id="deploy-reload-2"))
        is_error(s, b, "not_a_change", 422)
        s, h, b = d.request("POST", "/v1/events", ev)
        eq((s, h.get("idempotent-replayed"), b), (200, "true", first), "a refused redelivery answers as recorded")
    finally:
        d.stop()


def test_audit(tmp):
    d = Daemon(tmp, "--dry-run")  # no action records racing the counts below
    try:
        for i in range(5):
            d.request("POST", "/v1/events", change(f"a{i}", env="prod" if i % 2 else "dev"))
        d.request("POST", "/v1/changes/a1/approvals", {"by": "bob", "group": "cab", "at": "2026-12-02T09:00:00Z"})
        d.request("PUT", "/v1/flags/incident-freeze", {"by": "ops", "why": "drill"})
        s, h, frozen = d.request("POST", "/v1/events", change("a9"))
        is_decision(frozen, "deny")
        s, h, a = d.request("GET", "/v1/audit?since=0&limit=4", token="r")
        eq(len(a["records"]), 4, "limit")
        recs = a["records"]
        while a["next_since"]:
            s, h, a = d.request("GET", f"/v1/audit?since={a['next_since']}&limit=4", token="r")
            recs += a["records"]
        eq([r["seq"] for r in recs], list(range(1, len(recs) + 1)), "seq without gaps")
        chain_ok(d.store, recs)
        kinds = {r["kind"] for r in recs}
        eq(kinds, {"start", "event", "decision", "approval", "flag"}, "record kinds")
        eq(recs[0]["data"]["facts"], None, "no --facts file")
        # the audit needs a token
        s, h, b = d.request("GET", "/v1/audit", token=None)
        is_error(s, b, "unauthorized", 401)
        # chgc verifies the live store (WAL: the daemon keeps writing meanwhile)
        p = subprocess.run([CHGC, "audit", "verify", d.store], capture_output=True, text=True)
        eq((p.returncode, p.stdout.strip()), (0, f"{d.store}: the chain holds: {len(recs)} records"), "verify")
        p = subprocess.run([CHGC, "audit", "export", d.store, "--since", "3"], capture_output=True, text=True)
        eq(p.returncode, 0, "export")
        exported = [json.loads(x) for x in p.stdout.splitlines()]
        eq(exported, recs[3:], "export --since 3 is the records after 3")
        # --events: the records chgc replay reads, with the flags each event met
        events = os.path.join(tmp, "events.jsonl")
        p = subprocess.run([CHGC, "audit", "export", d.store, "--events"], capture_output=True, text=True)
        eq(p.returncode, 0, "export --events")
        open(events, "w").write(p.stdout)
        got = [json.loads(x) for x in p.stdout.splitlines()]
        eq([r["event"]["id"] for r in got], ["a0", "a1", "a2", "a3", "a4", "a9"], "every event")
        eq(got[-1]["facts"], {"flags": {"incident-freeze": True}}, "the flags then")
        eq(got[0]["facts"], {"flags": {}}, "no flag then")
        p = subprocess.run([CHGC, "replay", "--old", d.policy, "--new", d.policy, "--events", events],
                           capture_output=True, text=True)
        eq(p.returncode, 0, "replay under the same policy: " + p.stdout + p.stderr)
        stricter = os.path.join(tmp, "stricter.chg")
        open(stricter, "w").write(open(d.policy).read().replace('low  => none', 'low  => 1 of group "cab"'))
        p = subprocess.run([CHGC, "replay", "--old", d.policy, "--new", stricter, "--events", events, "--format", "json"],
                           capture_output=True, text=True)
        eq(p.returncode, 1, "replay under a stricter policy: " + p.stderr)
        if "allow" not in p.stdout or "pending" not in p.stdout:
            raise AssertionError(p.stdout)
    finally:
        d.stop()
    # tampering: the triggers refuse an UPDATE; a writer that drops them is caught by the chain
    db = sqlite3.connect(d.store)
    try:
        db.execute("UPDATE audit SET data = '{}' WHERE seq = 3")
        raise AssertionError("the audit log took an UPDATE")
    except sqlite3.DatabaseError as e:
        if "append-only" not in str(e):
            raise
    for name, sql, want in [
            ("content", "UPDATE audit SET data = replace(data, 'allow', 'deny') WHERE seq = 3",
             "record 3: its hash does not match its content"),
            ("relinked", None, "record 4: its prev is not the hash of the record before it"),
            ("removed", "DELETE FROM audit WHERE seq = 5", "record 6: expected sequence number 5 (a record is missing)")]:
        copy = os.path.join(tmp, f"tampered-{name}.db")
        shutil.copy(d.store, copy)
        t = sqlite3.connect(copy)
        t.execute("DROP TRIGGER audit_append_only_update")
        t.execute("DROP TRIGGER audit_append_only_delete")
        if name == "relinked":  # record 3 rewritten with a hash that matches its new content
            r = t.execute("SELECT seq, prev, at, kind, subject, data FROM audit WHERE seq = 3").fetchone()
            data = r[5].replace("allow", "deny")
            t.execute("UPDATE audit SET data = ?, hash = ? WHERE seq = 3",
                      (data, record_hash(r[0], r[1], r[2], r[3], r[4], data)))
        else:
            t.execute(sql)
        t.commit()
        t.close()
        p = subprocess.run([CHGC, "audit", "verify", copy], capture_output=True, text=True)
        eq((p.returncode, p.stderr.strip()), (1, f"chgc: audit verify: {copy}: {want}"), f"tampered {name}")
    p = subprocess.run([CHGC, "audit", "verify", os.path.join(tmp, "missing.db")], capture_output=True, text=True)
    eq(p.returncode, 2, "a missing store")


def hostile_corpus():
    """(name, method, path, headers, body, token, status, code)"""
    big = b'{"id":"' + b"x" * (2 << 20) + b'"}'
    deep = b"[" * 100 + b"]" * 100
    deep_obj = b'{"a":' * 80 + b"1" + b"}" * 80
    cases = [
        ("no token", "POST", "/v1/events", {}, change("h1"), None, 401, "unauthorized"),
        ("wrong token", "POST", "/v1/events", {}, change("h1"), "Bearer nope-nope-nope-nope-nope", 401, "unauthorized"),
        ("not bearer", "POST", "/v1/events", {}, change("h1"), f"Basic {WTOKEN}", 401, "unauthorized"),
        ("token with prefix", "POST", "/v1/events", {}, change("h1"), f"Bearer x{WTOKEN}", 401, "unauthorized"),
        ("truncated token", "POST", "/v1/events", {}, change("h1"), f"Bearer {WTOKEN[:-1]}", 401, "unauthorized"),
        ("empty bearer", "POST", "/v1/events", {}, change("h1"), "Bearer ", 401, "unauthorized"),
        ("read token on events", "POST", "/v1/events", {}, change("h1"), "r", 403, "forbidden"),
        ("read token on approvals", "POST", "/v1/changes/x/approvals", {}, {"by": "a"}, "r", 403, "forbidden"),
        ("read token on flag PUT", "PUT", "/v1/flags/f", {}, {"by": "a", "why": "b"}, "r", 403, "forbidden"),
        ("read token on flag DELETE", "DELETE", "/v1/flags/f", {}, None, "r", 403, "forbidden"),
        ("read token on reload", "POST", "/v1/reload", {}, None, "r", 403, "forbidden"),
        ("no token on status", "GET", "/v1/status", {}, None, None, 401, "unauthorized"),
        ("no token on changes", "GET", "/v1/changes", {}, None, None, 401, "unauthorized"),
        ("no token on change", "GET", "/v1/changes/c1", {}, None, None, 401, "unauthorized"),
        ("no token on flags", "GET", "/v1/flags", {}, None, None, 401, "unauthorized"),
        ("no token on audit", "GET", "/v1/audit", {}, None, None, 401, "unauthorized"),
        ("no token on evaluate", "POST", "/v1/evaluate", {}, change("h1"), None, 401, "unauthorized"),
        ("GET events", "GET", "/v1/events", {}, None, "w", 405, "method_not_allowed"),
        ("PUT events", "PUT", "/v1/events", {}, change("h1"), "w", 405, "method_not_allowed"),
        ("DELETE change", "DELETE", "/v1/changes/c1", {}, None, "w", 405, "method_not_allowed"),
        ("POST status", "POST", "/v1/status", {}, None, "w", 405, "method_not_allowed"),
        ("GET reload", "GET", "/v1/reload", {}, None, "w", 405, "method_not_allowed"),
        ("POST flags", "POST", "/v1/flags", {}, None, "w", 405, "method_not_allowed"),
        ("GET flag", "GET", "/v1/flags/x", {}, None, "w", 405, "method_not_allowed"),
        ("PATCH healthz", "PATCH", "/healthz", {}, None, None, 405, "method_not_allowed"),
        ("GET approvals", "GET", "/v1/changes/c1/approvals", {}, None, "w", 405, "method_not_allowed"),
        ("unknown path", "GET", "/v2/events", {}, None, "w", 404, "not_found"),
        ("root", "GET", "/", {}, None, "w", 404, "not_found"),
        ("trailing slash", "GET", "/v1/status/", {}, None, "w", 404, "not_found"),
        ("traversal", "GET", "/v1/changes/../../etc/passwd", {}, None, "w", 404, "not_found"),
        ("encoded traversal", "GET", "/v1/changes/..%2F..%2Fetc%2Fpasswd", {}, None, "w", 404, "not_found"),
        ("dot id", "GET", "/v1/changes/..", {}, None, "w", 404, "not_found"),
        ("encoded NUL", "GET", "/v1/changes/a%00b", {}, None, "w", 404, "not_found"),
        ("bad escape", "GET", "/v1/changes/a%zz", {}, None, "w", 404, "not_found"),
        ("control char", "GET", "/v1/changes/a%0Ab", {}, None, "w", 404, "not_found"),
        ("invalid UTF-8", "GET", "/v1/changes/%ff%fe", {}, None, "w", 404, "not_found"),
        ("unknown change", "GET", "/v1/changes/no-such-change", {}, None, "r", 404, "not_found"),
        ("id too long", "GET", "/v1/changes/" + "a" * 300, {}, None, "r", 400, "bad_request"),
        ("deep path", "GET", "/v1/changes/a/b/c/d/e/f", {}, None, "w", 404, "not_found"),
        ("empty event", "POST", "/v1/events", {}, None, "w", 400, "bad_request"),
        ("bad JSON", "POST", "/v1/events", {}, "{not json", "w", 400, "bad_json"),
        ("trailing garbage", "POST", "/v1/events", {}, '{"id":"x"} xyz', "w", 400, "bad_json"),
        ("duplicate key", "POST", "/v1/events", {}, '{"id":"x","id":"y"}', "w", 400, "bad_json"),
        ("huge integer", "POST", "/v1/events", {}, '{"id":"x","n":123456789012345678901234567890}', "w", 400, "bad_json"),
        ("invalid UTF-8 body", "POST", "/v1/events", {}, b'{"id":"\xff"}', "w", 400, "bad_json"),
        ("array event", "POST", "/v1/events", {}, "[1,2]", "w", 400, "bad_request"),
        ("string event", "POST", "/v1/events", {}, '"x"', "w", 400, "bad_request"),
        ("not a change", "POST", "/v1/events", {}, {"hello": "world"}, "w", 422, "not_a_change"),
        ("envelope of nobody", "POST", "/v1/events", {}, {"source": "aws.x", "detail-type": "Y", "detail": {}}, "w", 422, "not_a_change"),
        ("huge body", "POST", "/v1/events", {}, big, "w", 413, "too_large"),
        ("huge body unauthenticated", "POST", "/v1/events", {}, big, None, 401, "unauthorized"),
        ("huge evaluate", "POST", "/v1/evaluate", {}, big, "r", 413, "too_large"),
        ("deep array", "POST", "/v1/events", {}, deep, "w", 400, "too_deep"),
        ("deep object", "POST", "/v1/evaluate", {}, deep_obj, "r", 400, "too_deep"),
        ("deep approval", "POST", "/v1/changes/c1/approvals", {}, deep, "w", 400, "too_deep"),
        ("empty idempotency key", "POST", "/v1/events", {"Idempotency-Key": ""}, change("h1"), "w", 400, "bad_request"),
        ("long idempotency key", "POST", "/v1/events", {"Idempotency-Key": "k" * 300}, change("h1"), "w", 400, "bad_request"),
        ("approval not an object", "POST", "/v1/changes/c1/approvals", {}, "[]", "w", 400, "bad_request"),
        ("approval without by", "POST", "/v1/changes/c1/approvals", {}, {"group": "cab"}, "w", 400, "bad_request"),
        ("approval by a number", "POST", "/v1/changes/c1/approvals", {}, {"by": 7}, "w", 400, "bad_request"),
        ("approval empty by", "POST", "/v1/changes/c1/approvals", {}, {"by": ""}, "w", 400, "bad_request"),
        ("approval bad at", "POST", "/v1/changes/c1/approvals", {}, {"by": "a", "at": "yesterday"}, "w", 400, "bad_request"),
        ("approval bad decision", "POST", "/v1/changes/c1/approvals", {}, {"by": "a", "decision": "maybe"}, "w", 400, "bad_request"),
        ("approval unknown field", "POST", "/v1/changes/c1/approvals", {}, {"by": "a", "gruop": "cab"}, "w", 400, "bad_request"),
        ("approval group null", "POST", "/v1/changes/c1/approvals", {}, {"by": "a", "group": None}, "w", 400, "bad_request"),
        ("approval NUL in by", "POST", "/v1/changes/c1/approvals", {}, '{"by":"a\\u0000b"}', "w", 400, "bad_json"),
        ("approval of unknown change", "POST", "/v1/changes/zzz/approvals", {}, {"by": "a"}, "w", 404, "not_found"),
        ("flag without body", "PUT", "/v1/flags/f", {}, None, "w", 400, "bad_json"),
        ("flag without why", "PUT", "/v1/flags/f", {}, {"by": "a"}, "w", 400, "bad_request"),
        ("flag bad name", "PUT", "/v1/flags/a%20b", {}, {"by": "a", "why": "b"}, "w", 400, "bad_request"),
        ("flag name too long", "PUT", "/v1/flags/" + "f" * 200, {}, {"by": "a", "why": "b"}, "w", 400, "bad_request"),
        ("flag by list", "PUT", "/v1/flags/f", {}, {"by": ["a"], "why": "b"}, "w", 400, "bad_request"),
        ("flag unknown field", "PUT", "/v1/flags/f", {}, {"by": "a", "why": "b", "value": False}, "w", 400, "bad_request"),
        ("clear unset flag", "DELETE", "/v1/flags/never-set", {}, None, "w", 404, "not_found"),
        ("changes bad outcome", "GET", "/v1/changes?outcome=maybe", {}, None, "r", 400, "bad_request"),
        ("changes bad since", "GET", "/v1/changes?since=yesterday", {}, None, "r", 400, "bad_request"),
        ("changes bad limit", "GET", "/v1/changes?limit=0", {}, None, "r", 400, "bad_request"),
        ("changes huge limit", "GET", "/v1/changes?limit=100000", {}, None, "r", 400, "bad_request"),
        ("changes bad cursor", "GET", "/v1/changes?cursor=-1", {}, None, "r", 400, "bad_request"),
        ("audit bad since", "GET", "/v1/audit?since=abc", {}, None, "r", 400, "bad_request"),
        ("audit negative since", "GET", "/v1/audit?since=-5", {}, None, "r", 400, "bad_request"),
        ("audit bad limit", "GET", "/v1/audit?limit=1e3", {}, None, "r", 400, "bad_request"),
        ("evaluate empty", "POST", "/v1/evaluate", {}, None, "r", 400, "bad_request"),
        ("evaluate bad JSON", "POST", "/v1/evaluate", {}, "{", "r", 400, "bad_json"),
        ("evaluate not a change", "POST", "/v1/evaluate", {}, {"a": 1}, "r", 422, "not_a_change"),
        # POST /v1/changes/{id}/end (live changes, docs/daemon.md)
        ("read token on end", "POST", "/v1/changes/c1/end", {}, {"by": "a", "result": "succeeded"}, "r", 403, "forbidden"),
        ("no token on end", "POST", "/v1/changes/c1/end", {}, {"by": "a", "result": "succeeded"}, None, 401, "unauthorized"),
        ("GET end", "GET", "/v1/changes/c1/end", {}, None, "w", 405, "method_not_allowed"),
        ("end without body", "POST", "/v1/changes/c1/end", {}, None, "w", 400, "bad_json"),
        ("end bad JSON", "POST", "/v1/changes/c1/end", {}, '{"by":', "w", 400, "bad_json"),
        ("end not an object", "POST", "/v1/changes/c1/end", {}, "[]", "w", 400, "bad_request"),
        ("end without by", "POST", "/v1/changes/c1/end", {}, {"result": "succeeded"}, "w", 400, "bad_request"),
        ("end without result", "POST", "/v1/changes/c1/end", {}, {"by": "a"}, "w", 400, "bad_request"),
        ("end bad result", "POST", "/v1/changes/c1/end", {}, {"by": "a", "result": "done"}, "w", 400, "bad_request"),
        ("end result a number", "POST", "/v1/changes/c1/end", {}, {"by": "a", "result": 1}, "w", 400, "bad_request"),
        ("end bad at", "POST", "/v1/changes/c1/end", {}, {"by": "a", "result": "failed", "at": "soon"}, "w", 400, "bad_request"),
        ("end in the future", "POST", "/v1/changes/c1/end", {}, {"by": "a", "result": "failed", "at": "2999-01-01T00:00:00Z"}, "w", 400, "bad_request"),
        ("end unknown field", "POST", "/v1/changes/c1/end", {}, {"by": "a", "result": "failed", "why": "x"}, "w", 400, "bad_request"),
        ("end deep body", "POST", "/v1/changes/c1/end", {}, deep, "w", 400, "too_deep"),
        ("end of unknown change", "POST", "/v1/changes/zzz/end", {}, {"by": "a", "result": "succeeded"}, "w", 404, "not_found"),
        ("end of a change not in flight", "POST", "/v1/changes/c1/end", {}, {"by": "a", "result": "succeeded"}, "w", 409, "not_in_flight"),
        ("end id too long", "POST", "/v1/changes/" + "a" * 300 + "/end", {}, {"by": "a", "result": "failed"}, "w", 400, "bad_request"),
    ]
    return cases


def test_hostile(tmp):
    d = Daemon(tmp, "--max-body", "1M", "--max-depth", "64", "--timeout", "2")
    try:
        d.request("POST", "/v1/events", change("c1"))
        cases = hostile_corpus()
        if len(cases) < 60:
            raise AssertionError(f"only {len(cases)} hostile requests")
        failures = []
        for name, method, path, headers, body, token, status, code in cases:
            try:
                s, h, b = d.request(method, path, body=body, token=token, headers=headers)
                is_error(s, b, code, status)
                if status == 401 and "www-authenticate" not in h:
                    raise AssertionError("401 without WWW-Authenticate")
                if status == 405 and "allow" not in h:
                    raise AssertionError("405 without Allow")
            except Exception as e:  # noqa: BLE001 - collect them all
                failures.append(f"{name}: {e}")
        # slowloris: a request that never ends is cut off after the timeout, and others are served meanwhile
        sl = socket.create_connection(("127.0.0.1", d.port))
        sl.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"id\"")
        t0 = time.time()
        s, h, b = d.request("GET", "/healthz", token=None)
        eq(s, 200, "healthz during slowloris")
        sl.settimeout(30)
        try:
            got = sl.recv(100)
        except ConnectionResetError:
            got = b""
        waited = time.time() - t0
        if got or waited > 15:
            failures.append(f"slowloris: not cut off ({got!r} after {waited:.1f}s)")
        sl.close()
        # half a header line, never finished
        sl = socket.create_connection(("127.0.0.1", d.port))
        sl.sendall(b"GET /healthz HTTP/1.1\r\nHost")
        sl.settimeout(30)
        try:
            got = sl.recv(100)
        except ConnectionResetError:
            got = b""
        if got:
            failures.append(f"slow headers answered: {got!r}")
        sl.close()
        # chunked body beyond the limit
        c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
        c.putrequest("POST", "/v1/events")
        c.putheader("Authorization", f"Bearer {WTOKEN}")
        c.putheader("Transfer-Encoding", "chunked")
        c.endheaders()
        chunk = b"x" * 65536
        for _ in range(20):
            c.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        c.send(b"0\r\n\r\n")
        r = c.getresponse()
        try:
            is_error(r.status, json.loads(r.read()), "too_large", 413)
        except Exception as e:  # noqa: BLE001
            failures.append(f"chunked: {e}")
        c.close()
        if failures:
            raise AssertionError("\n".join(failures))
        s, h, b = d.request("GET", "/healthz", token=None)
        eq(s, 200, "healthy after the corpus")
        s, h, b = d.request("POST", "/v1/events", change("after"))
        is_decision(b, "allow")
        # nothing an unauthorised client sent was recorded
        s, h, l = d.request("GET", "/v1/changes", token="r")
        eq(sorted(x["id"] for x in l["changes"]), ["after", "c1"], "no change from the corpus")
    finally:
        d.stop()
    # no secret in any log line
    log = d.logtext()
    if WTOKEN in log or RTOKEN in log:
        raise AssertionError("a token in the log")
    for line in log.splitlines():
        if not re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info|warn|error) ", line):
            raise AssertionError(f"a log line without time and level: {line!r}")


def test_config(tmp):
    shutil.copy(POLICY, os.path.join(tmp, "policy.chg"))
    with open(os.path.join(tmp, "tokens"), "w") as f:
        f.write(f"write {WTOKEN}\n")
    conf = os.path.join(tmp, "chgd.conf")

    def run(*args):
        return subprocess.run([CHGD, *args], capture_output=True, text=True, cwd=tmp, timeout=120)
    with open(conf, "w") as f:
        f.write("# chgd\nlisten 127.0.0.1:0\npolicy policy.chg\ntoken-file tokens\nmax-body 64K\nlog-format json\n")
    p = run("--config", conf, "--check-config")
    eq(p.returncode, 0, "valid config: " + p.stderr)
    if not p.stdout.startswith("chgd: the configuration is valid (policy daemon-test, bundle "):
        raise AssertionError(p.stdout)
    with open(conf, "a") as f:
        f.write("max-body lots\n")
    p = run("--config", conf, "--check-config")
    eq((p.returncode, p.stderr.splitlines()[0]),
       (2, f"chgd: {conf}:7: max-body: expected a size in bytes from 1 to 1073741824 (K, M, G suffixes), not 'lots'"),
       "a bad line names file:line")
    with open(conf, "w") as f:
        f.write("listen 127.0.0.1:0\nplicy policy.chg\n")
    p = run("--config", conf, "--check-config")
    eq((p.returncode, p.stderr.splitlines()[0]), (2, f"chgd: {conf}:2: unknown key 'plicy'"), "unknown key")
    # flags override the file
    with open(conf, "w") as f:
        f.write("policy missing.chg\ntoken-file tokens\n")
    p = run("--config", conf, "--policy", "policy.chg", "--check-config")
    eq(p.returncode, 0, "a flag overrides the file: " + p.stderr)
    for args, want in [
            (["--policy", "policy.chg", "--check-config"], "chgd: no --token-file: every API call but /healthz, /readyz and /metrics needs a token"),
            (["--token-file", "tokens", "--check-config"], "chgd: no policy: give --policy PATH or --bundle FILE.chgb"),
            (["--policy", "policy.chg", "--token-file", "tokens", "--listen", "localhost:80", "--check-config"],
             "chgd: --listen localhost:80: 'localhost' is not an IP address (names are not resolved)"),
            (["--policy", "policy.chg", "--token-file", "tokens", "--log-level", "loud"],
             "chgd: --log-level: expected one of debug, info, warn, error, not 'loud'"),
            (["--polciy", "x"], "chgd: unknown option '--polciy' (see chgd --help)"),
            (["--policy", "nope.chg", "--token-file", "tokens", "--check-config"], "chgd: nope.chg: No such file or directory")]:
        p = run(*args)
        eq((p.returncode, p.stderr.strip().splitlines()[0] if p.stderr.strip() else ""), (2, want), " ".join(args))
    with open(os.path.join(tmp, "badtokens"), "w") as f:
        f.write("admin supersecret-0123456789\n")
    p = run("--policy", "policy.chg", "--token-file", "badtokens", "--check-config")
    eq(p.returncode, 2, "a bad token line")
    if "supersecret" in p.stderr or "badtokens:1:" not in p.stderr:
        raise AssertionError(p.stderr)
    p = run("--help")
    eq(p.returncode, 0, "help")
    for key in ("--listen", "--policy", "--bundle", "--store", "--token-file", "--max-body", "--max-depth",
                "--max-connections", "--timeout", "--log-level", "--log-format", "--dry-run", "--check-config"):
        if key not in p.stdout:
            raise AssertionError(f"--help lacks {key}")
    # a bundle instead of policy files
    out = os.path.join(tmp, "p.chgb")
    subprocess.run([CHGC, "build", os.path.join(tmp, "policy.chg"), "-o", out], check=True, capture_output=True)
    d = Daemon(tmp, "--bundle", out, "--log-format", "json", source=False)
    try:
        s, h, b = d.request("POST", "/v1/events", change("b1"))
        is_decision(b, "allow")
    finally:
        d.stop()
    for line in d.logtext().splitlines():
        j = json.loads(line)
        eq(sorted(j), ["level", "msg", "time"], "json log line")


def test_crash(tmp):
    """kill -9 during a burst: every acknowledged decision survives."""
    d = Daemon(tmp, "--threads", "8")
    acked = {}
    lock = threading.Lock()
    stop = threading.Event()

    def send(i):
        if stop.is_set():
            return
        body = json.dumps(change(f"k{i}", env="prod" if i % 3 == 0 else "dev")).encode()
        try:
            s, h, b = d.request("POST", "/v1/events", body, timeout=10)
        except (OSError, http.client.HTTPException):
            return
        if s == 200:
            with lock:
                acked[i] = (body, b)
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        futs = [pool.submit(send, i) for i in range(600)]
        while True:
            with lock:
                if len(acked) >= 150:
                    break
            time.sleep(0.01)
        d.proc.send_signal(signal.SIGKILL)
        stop.set()
        for f in futs:
            f.result()
    d.proc.wait()
    d.errf.close()
    if not 150 <= len(acked) < 600:
        raise AssertionError(f"{len(acked)} acknowledged: the kill was not in the middle of the burst")
    p = subprocess.run([CHGC, "audit", "verify", d.store], capture_output=True, text=True)
    eq(p.returncode, 0, "the chain after kill -9: " + p.stderr)
    d2 = Daemon(tmp, store=d.store)
    try:
        for i, (body, answer) in sorted(acked.items()):
            s, h, b = d2.request("POST", "/v1/events", body)
            eq((s, h.get("idempotent-replayed"), b), (200, "true", answer), f"redelivery of k{i}")
            s, h, c = d2.request("GET", f"/v1/changes/k{i}", token="r")
            eq((s, c["decisions"][0]["seq"]), (200, answer["seq"]), f"k{i} in the store")
    finally:
        d2.stop()
    p = subprocess.run([CHGC, "audit", "verify", d.store], capture_output=True, text=True)
    eq(p.returncode, 0, "the chain after the restart: " + p.stderr)


def test_durable_after_sync(tmp):
    """Nothing is answered between a commit and the fsync of the WAL that
    makes it durable: the event, a redelivery of it, a read of it, an
    approval all wait while the shim holds every sync of the store's WAL."""
    shim = os.environ.get("CHG_FSYNC_HOLD")
    if not shim or not os.path.exists(shim):
        raise AssertionError("CHG_FSYNC_HOLD must name the fsync_hold shim (tests/CMakeLists.txt sets it)")
    hold = os.path.join(tmp, "hold")
    asan = os.environ.get("ASAN_OPTIONS", "")
    d = Daemon(tmp, "--threads", "4", env={"LD_PRELOAD": shim, "CHG_FSYNC_HOLD_FILE": hold,
                                           "ASAN_OPTIONS": (asan + ":" if asan else "") + "verify_asan_link_order=0"})
    try:
        s, _, first = d.request("POST", "/v1/events", change("h0", env="prod"))
        is_decision(first, "pending")
        open(hold, "w").close()
        got = {}

        def call(name, *args, **kw):
            def run():
                try:
                    got[name] = d.request(*args, timeout=60, **kw)
                except Exception as e:  # noqa: BLE001
                    got[name] = e
            t = threading.Thread(target=run)
            t.start()
            return t
        threads = [call("event", "POST", "/v1/events", change("h1", env="prod"), headers={"Idempotency-Key": "h1"})]
        time.sleep(0.5)  # committed by now, its sync held
        threads += [call("again", "POST", "/v1/events", change("h1", env="prod"), headers={"Idempotency-Key": "h1"}),
                    call("read", "GET", "/v1/changes/h1", token="r"),
                    call("approval", "POST", "/v1/changes/h0/approvals", {"by": "carl", "group": "cab"})]
        time.sleep(1.0)
        early = {k: v for k, v in got.items() if not (k == "read" and not isinstance(v, Exception) and v[0] == 404)}
        eq(early, {}, "answered while the WAL's sync was held")
        os.unlink(hold)
        for t in threads:
            t.join(60)
        s, h, b = got["event"]
        eq(s, 200, "the event once synced")
        is_decision(b, "pending")
        s, h, b2 = got["again"]
        eq((s, h.get("idempotent-replayed"), b2), (200, "true", b), "the redelivery once synced")
        if got["read"][0] != 404:
            eq((got["read"][0], got["read"][2]["decisions"][0]["seq"]), (200, b["seq"]), "the read once synced")
        eq(got["approval"][0], 200, "the approval once synced")
    finally:
        if os.path.exists(hold):
            os.unlink(hold)
        d.stop()


def metric(d, name):
    _, _, text = d.request("GET", "/metrics", token=None)
    m = re.search(rf"^{re.escape(name)} (\d+)$", text.decode(), re.M)
    return int(m.group(1))


def test_group_commit_and_sigterm(tmp):
    """Concurrent events share commits; SIGTERM in a burst answers what it took."""
    d = Daemon(tmp, "--threads", "8")
    c0, j0 = metric(d, "chgd_store_commits_total"), metric(d, "chgd_store_jobs_total")
    answers = {}
    lock = threading.Lock()

    def send(i):
        body = json.dumps(change(f"g{i}")).encode()
        try:
            s, h, b = d.request("POST", "/v1/events", body, timeout=30)
        except (OSError, http.client.HTTPException):
            return
        with lock:
            answers[i] = (s, body, b)
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(send, range(200)))
    eq(sorted(s for s, _, _ in answers.values()), [200] * 200, "every event decided")
    commits = metric(d, "chgd_store_commits_total") - c0
    jobs = metric(d, "chgd_store_jobs_total") - j0
    eq(jobs, 200, "one job an event")
    if not commits < jobs:
        raise AssertionError(f"{commits} commits for {jobs} concurrent events: no group commit")
    print(f"     group commit: 200 concurrent events in {commits} transactions")
    # SIGTERM in the middle of a burst: each request is answered whole, or refused
    answers.clear()
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        futs = [pool.submit(send, 1000 + i) for i in range(400)]
        while True:
            with lock:
                if len(answers) >= 50:
                    break
            time.sleep(0.005)
        d.proc.send_signal(signal.SIGTERM)
        for f in futs:
            f.result()
    eq(d.stop(), 0, "exit status")
    for i, (s, body, b) in answers.items():
        if s == 200:
            is_decision(b, "allow")
        elif s != 503:
            raise AssertionError(f"g{i}: {s} {b}")
    d2 = Daemon(tmp, store=d.store)
    try:
        for i, (s, body, b) in answers.items():
            if s == 200:
                s2, h, b2 = d2.request("POST", "/v1/events", body)
                eq((h.get("idempotent-replayed"), b2), ("true", b), f"g{i} after SIGTERM")
    finally:
        d2.stop()


def at_once(n, fn):
    """fn(i) for i < n on n threads released together; their results in order."""
    gate = threading.Barrier(n)

    def run(i):
        gate.wait()
        return fn(i)
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def audit_rows(store, kind):
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    rows = db.execute("SELECT seq, subject, data FROM audit WHERE kind = ? ORDER BY seq", (kind,)).fetchall()
    db.close()
    return [(seq, subject, json.loads(data)) for seq, subject, data in rows]


def test_races(tmp):
    """Events are judged on the HTTP threads and written by the one writer,
    which checks that what each was judged on still holds: concurrent
    writes about one change come out as if they had been made one by one."""
    d = Daemon(tmp, "--threads", "4")
    try:
        # the same Idempotency-Key twice (and more) at once: one decision, the others replay it
        body = json.dumps(change("dup")).encode()
        got = at_once(12, lambda i: d.request("POST", "/v1/events", body, headers={"Idempotency-Key": "same-key"}))
        eq(sorted(s for s, _, _ in got), [200] * 12, "statuses")
        eq(sum(h.get("idempotent-replayed") != "true" for _, h, _ in got), 1, "answers not replayed")
        eq([b for _, _, b in got], [got[0][2]] * 12, "one answer")
        eq(len([r for r in audit_rows(d.store, "event") if r[2]["key"] == "header:same-key"]), 1, "events recorded")
        # concurrent events about one change, each with new content: revisions 1..n, each once, in commit order
        n = 12
        got = at_once(n, lambda i: d.request("POST", "/v1/events", change("rev", pipeline=f"p{i}")))
        eq(sorted(s for s, _, _ in got), [200] * n, "statuses")
        eq(sorted(b["revision"] for _, _, b in got), list(range(1, n + 1)), "revisions")
        s, _, c = d.request("GET", "/v1/changes/rev", token="r")
        eq([x["revision"] for x in c["decisions"]], list(range(n, 0, -1)), "decisions, latest first")
        seqs = [x["seq"] for x in c["decisions"]]
        eq(seqs, sorted(seqs, reverse=True), "decisions in the order of the chain")
        events = [r[2] for r in audit_rows(d.store, "event") if r[1] == "rev"]
        eq([e["revision"] for e in events], list(range(1, n + 1)), "event records in revision order")
        eq(c["change"]["pipeline"], events[-1]["change"]["pipeline"], "the latest revision is the last written")
        # the same content under other keys at once: one revision, decided each time
        got = at_once(8, lambda i: d.request("POST", "/v1/events", change("same", env="prod"),
                                             headers={"Idempotency-Key": f"same-{i}"}))
        eq([(s, b["revision"]) for s, _, b in got], [(200, 1)] * 8, "one revision")
        s, _, c = d.request("GET", "/v1/changes/same", token="r")
        eq(len(c["decisions"]), 8, "decided each time")
        # an approval racing a new revision: whichever is written last, the latest decision counts the
        # approval and is about the latest revision
        ids = [f"ap{i}" for i in range(16)]
        for cid in ids:
            s, _, b = d.request("POST", "/v1/events", change(cid, env="prod"))
            is_decision(b, "pending")

        def race(i):
            cid = ids[i // 2]
            if i % 2:
                # given before the instant judged (the change's requested_at): an approval's `at`
                # defaults to the real now, which passed 2026-12-02T10:00Z and stopped counting
                return d.request("POST", f"/v1/changes/{cid}/approvals",
                                 {"by": "bob", "group": "cab", "at": "2026-12-02T09:00:00Z"})
            return d.request("POST", "/v1/events", change(cid, env="prod", pipeline="again"))
        got = at_once(2 * len(ids), race)
        eq(sorted(s for s, _, _ in got), [200] * (2 * len(ids)), "statuses")
        for cid in ids:
            s, _, c = d.request("GET", f"/v1/changes/{cid}", token="r")
            latest = c["decisions"][0]
            eq((latest["revision"], latest["outcome"], c["outcome"]), (2, "allow", "allow"), f"{cid} after the race")
        # a flag racing events: every event decision written after the flag's record meets it
        def flagged(i):
            if i == 0:
                return d.request("PUT", "/v1/flags/incident-freeze", {"by": "ops", "why": "race"})
            return d.request("POST", "/v1/events", change(f"fl{i}"))
        got = at_once(24, flagged)
        eq(sorted(s for s, _, _ in got), [200] * 24, "statuses")
        flag_seq = audit_rows(d.store, "flag")[0][0]
        after = [r for r in audit_rows(d.store, "decision") if r[0] > flag_seq and r[1].startswith("fl")]
        eq([r[2]["decision"]["outcome"] for r in after], ["deny"] * len(after), "decisions after the flag")
        events = {r[1]: r[2] for r in audit_rows(d.store, "event") if r[1].startswith("fl")}
        for seq, cid, data in audit_rows(d.store, "decision"):
            if cid.startswith("fl") and data["cause"] == "event":
                eq(events[cid]["flags"] == ["incident-freeze"], seq > flag_seq, f"{cid}'s event record names the flags")
        p = subprocess.run([CHGC, "audit", "verify", d.store], capture_output=True, text=True)
        eq(p.returncode, 0, "the chain: " + p.stderr)
    finally:
        d.stop()


def test_connection_limit(tmp):
    """Over max-connections, a connection waits in the kernel's backlog,
    unserved, until one of the others closes."""
    d = Daemon(tmp, "--max-connections", "4", "--threads", "1", "--timeout", "5")
    try:
        held = [socket.create_connection(("127.0.0.1", d.port)) for _ in range(4)]
        time.sleep(0.3)
        extra = socket.create_connection(("127.0.0.1", d.port))
        extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        extra.settimeout(1.5)
        try:
            got = extra.recv(100)
        except socket.timeout:
            got = None
        eq(got, None, "a connection over the limit is not served")
        for h in held:
            h.close()
        extra.settimeout(10)
        got = extra.recv(100)
        if not got.startswith(b"HTTP/1.1 200"):
            raise AssertionError(f"not served once the others closed: {got!r}")
        extra.close()
    finally:
        d.stop()


def test_tls(tmp):
    """HTTPS with a self-signed certificate, checked by curl against it."""
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    d = Daemon(tmp, "--tls-cert", cert, "--tls-key", key)
    try:
        url = f"https://127.0.0.1:{d.port}"
        p = subprocess.run(["curl", "-sf", "--cacert", cert, f"{url}/healthz"], capture_output=True, text=True)
        eq((p.returncode, p.stdout), (0, '{"status":"ok"}'), "curl over TLS")
        body = json.dumps(change("t1"))
        p = subprocess.run(["curl", "-sf", "--cacert", cert, "-X", "POST", f"{url}/v1/events", "-H",
                            f"Authorization: Bearer {WTOKEN}", "-d", body], capture_output=True, text=True)
        eq(p.returncode, 0, "an event over TLS: " + p.stderr)
        is_decision(json.loads(p.stdout), "allow")
        # a client that does not trust the certificate is refused by curl; plain HTTP gets no answer
        p = subprocess.run(["curl", "-sf", f"{url}/healthz"], capture_output=True, text=True)
        eq(p.returncode, 60, "an unknown certificate")
        p = subprocess.run(["curl", "-s", "--max-time", "5", f"http://127.0.0.1:{d.port}/healthz"],
                           capture_output=True, text=True)
        if p.returncode == 0 and p.stdout.startswith('{"status"'):
            raise AssertionError("plain HTTP answered on the TLS port")
    finally:
        d.stop()
    if "TLS" not in d.logtext():
        raise AssertionError("the listening line does not say TLS")
    p = subprocess.run([CHGD, "--policy", POLICY, "--token-file", d.tokens, "--tls-cert", cert, "--check-config"],
                       capture_output=True, text=True)
    eq((p.returncode, p.stderr.strip()), (2, "chgd: --tls-cert needs --tls-key"), "a certificate without its key")


def test_timers(tmp):
    """A deferred change is decided again when the fake clock reaches its
    window; the timer survives a restart."""
    policy = os.path.join(tmp, "timers.chg")
    shutil.copy(os.path.join(HERE, "timer_policy.chg"), policy)
    d = Daemon(tmp, "--fake-clock", "2026-12-05T12:00:00Z", policy=policy)
    try:
        s, h, st = d.request("GET", "/v1/status", token="r")
        eq((st["fake_clock"], st["now"]), (True, "2026-12-05T12:00:00Z"), "status")
        s, h, b = d.request("POST", "/v1/events", {"id": "w1", "env": "prod"})
        is_decision(b, "defer")
        eq(b["window"]["next_open"], "2026-12-07T09:00:00Z", "next_open")
        s, h, b = d.request("POST", "/v1/events", {"id": "w2", "env": "dev"})
        is_decision(b, "allow")
        s, h, b = d.request("PUT", "/v1/clock", {"now": "2026-12-06T23:00:00Z"})
        eq(b, {"now": "2026-12-06T23:00:00Z", "timers_run": 0, "changed": 0}, "nothing due yet")
        s, h, b = d.request("PUT", "/v1/clock", {"now": "2026-12-06T00:00:00Z"})
        is_error(s, b, "bad_request", 400)
        s, h, b = d.request("PUT", "/v1/clock", {"now": "2026-12-07T10:00:00Z"}, token="r")
        is_error(s, b, "forbidden", 403)
    finally:
        d.stop()
    d = Daemon(tmp, "--fake-clock", "2026-12-06T23:00:00Z", policy=policy)
    try:
        s, h, b = d.request("PUT", "/v1/clock", {"now": "2026-12-07T09:00:00Z"})
        eq(b, {"now": "2026-12-07T09:00:00Z", "timers_run": 1, "changed": 1}, "the timer, after a restart")
        s, h, c = d.request("GET", "/v1/changes/w1", token="r")
        eq([(x["outcome"], x["cause"]) for x in c["decisions"]], [("allow", "timer"), ("defer", "event")], "allowed at 09:00")
        eq([a["call"] for a in c["decisions"][0]["actions"]], ["aws.sns.publish"], "the new decision's actions")
        s, h, b = d.request("PUT", "/v1/clock", {"now": "2026-12-07T10:00:00Z"})
        eq(b["timers_run"], 0, "a timer runs once")
    finally:
        d.stop()
    d = Daemon(tmp, policy=policy)
    try:
        s, h, b = d.request("PUT", "/v1/clock", {"now": "2026-12-07T10:00:00Z"})
        is_error(s, b, "no_fake_clock", 409)
    finally:
        d.stop()


def run_curls(d, curls):
    """Run doc examples (sh blocks) in order against daemon d; their outputs."""
    env = dict(os.environ, CHGD=f"http://127.0.0.1:{d.port}", WRITE_TOKEN=WTOKEN, READ_TOKEN=RTOKEN)
    outs = []
    for b in curls:
        p = subprocess.run(["sh", "-ec", b], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
        if p.returncode != 0:
            raise AssertionError(f"doc example failed ({p.returncode}):\n{b}\n{p.stdout}\n{p.stderr}")
        outs.append(p.stdout)
    return outs


def test_docs(tmp):
    """Every curl example of docs/daemon.md runs against a real chgd."""
    doc = open(os.path.join(ROOT, "docs", "daemon.md"), encoding="utf-8").read()
    # the live changes' examples run on their own policy (test_live.py)
    doc = re.sub(r"^## Live changes.*?^(?=## )", "", doc, flags=re.M | re.S)
    blocks = re.findall(r"^```sh\n(.*?)^```", doc, re.M | re.S)
    curls = [b for b in blocks if "curl " in b]
    if len(curls) < 12:
        raise AssertionError(f"only {len(curls)} curl examples in docs/daemon.md")
    # every route has an example, and every key of --help a row in the table
    for route in ("/healthz", "/readyz", "/metrics", "/v1/status", "/v1/events", "/v1/evaluate", "/v1/changes?",
                  "/v1/changes/chg-1001\"", "/approvals", "/v1/flags\"", "-X PUT \"$CHGD/v1/flags/",
                  "-X DELETE \"$CHGD/v1/flags/", "/v1/audit", "/v1/reload", "/v1/clock"):
        if not any(route in b for b in curls):
            raise AssertionError(f"no curl example for {route}")
    helptext = subprocess.run([CHGD, "--help"], capture_output=True, text=True).stdout
    for key in re.findall(r"^  --([a-z-]+)", helptext, re.M):
        if key in ("config", "check-config", "help", "version"):
            continue
        if f"| `{key}` |" not in doc:
            raise AssertionError(f"docs/daemon.md has no row for the key {key}")
    d = Daemon(tmp)
    try:
        run_curls(d, curls)
    finally:
        d.stop()
    # the systemd unit's command line is one chgd takes
    unit = re.search(r"^```ini\n(.*?)^```", doc, re.M | re.S).group(1)
    if "ExecStart=/usr/local/bin/chgd --config /etc/chgd/chgd.conf" not in unit:
        raise AssertionError("the systemd unit")


def main(scope=None, prefix="chgd-test-"):
    """Run the test_* functions of scope (a module's globals; default this
    one's), each in a temporary directory kept when it fails."""
    tests = [v for k, v in sorted((scope or globals()).items()) if k.startswith("test_")]
    failed = 0
    for t in tests:
        if ONLY and t.__name__ not in ONLY:
            continue
        tmp = tempfile.mkdtemp(prefix=prefix)
        t0 = time.time()
        try:
            t(tmp)
            print(f"ok   {t.__name__} ({time.time() - t0:.1f}s)")
            shutil.rmtree(tmp, ignore_errors=True)
        except Exception:  # noqa: BLE001
            failed += 1
            print(f"FAIL {t.__name__} (kept {tmp})")
            traceback.print_exc()
    print(f"{failed} failed" if failed else "all passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
