#!/usr/bin/env python3
"""chgd's actions and signed audit digests against a real process: the
webhook executor against a receiver on loopback (HMAC checked, 503 then
200 retried, 400 failed for good, a target down until attempts run out),
a call no executor claims, --dry-run, kill -9 with actions queued, and
`chgc audit verify --pubkey` on a store signed with --audit-key, then
tampered with.

    test_actions.py CHGD CHGC REPO_ROOT [TEST...]
"""
import http.server
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_chgd import CHGC, CHGD, ROOT, Daemon, eq, is_decision, record_hash  # noqa: E402
from test_chgd import main as run_tests  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
POLICY = os.path.join(HERE, "actions_policy.chg")
SECRET = b"webhook-secret-0123456789"


def doc_block(lang, needle):
    """The ```lang block of docs/daemon.md that holds needle: the examples
    the page shows are the code the tests run."""
    doc = open(os.path.join(ROOT, "docs", "daemon.md"), encoding="utf-8").read()
    for b in re.findall(rf"^```{lang}\n(.*?)^```", doc, re.M | re.S):
        if needle in b:
            return b
    raise AssertionError(f"docs/daemon.md has no {lang} block with {needle!r}")


# the receiver checks signatures with the function docs/daemon.md gives receivers
_ns = {}
exec(doc_block("python", "X-Chg-Signature"), _ns)  # noqa: S102
signed_by_chgd = _ns["signed_by_chgd"]


class Receiver:
    """A webhook target on a free loopback port: each path answers its
    plan (a list of statuses, the last repeated), and every delivery is
    kept: (path, Idempotency-Key, X-Chg-Attempt, signature ok, body)."""

    def __init__(self, plans):
        self.plans = {p: list(v) for p, v in plans.items()}
        self.deliveries = []
        self.done = {}  # key -> body, the first 2xx: what a receiver that honours the key executes
        self.lock = threading.Lock()
        self.delay = 0.0
        rec = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                ok = signed_by_chgd(SECRET, body, self.headers.get("X-Chg-Signature", ""))
                with rec.lock:
                    plan = rec.plans.get(self.path, [404])
                    code = plan.pop(0) if len(plan) > 1 else plan[0]
                    key = self.headers.get("Idempotency-Key")
                    rec.deliveries.append((self.path, key, self.headers.get("X-Chg-Attempt"), ok, body))
                    if not ok:
                        code = 401
                    elif 200 <= code < 300:
                        rec.done.setdefault(key, body)
                if rec.delay:
                    time.sleep(rec.delay)
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def webhook_args(tmp, rec, names=("ok", "flaky", "bad", "down", "slow")):
    secret = os.path.join(tmp, "webhook.secret")
    with open(secret, "wb") as f:
        f.write(SECRET + b"\n")  # a final newline is not part of the secret
    args = []
    for n in names:
        args += ["--webhook", f"{n}={rec.url('/' + n)}", "--webhook-secret", f"{n}={secret}"]
    return args


def new_daemon(tmp, *extra, store=None):
    policy = os.path.join(tmp, "actions.chg")
    if not os.path.exists(policy):
        shutil.copy(POLICY, policy)
    return Daemon(tmp, *extra, policy=policy, store=store)


def records(d, kind=None):
    out, since = [], 0
    while True:
        _, _, a = d.request("GET", f"/v1/audit?since={since}&limit=500", token="r")
        out += a["records"]
        if not a["next_since"]:
            break
        since = a["next_since"]
    return [r for r in out if kind is None or r["kind"] == kind]


def action_rows(store):
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    rows = db.execute("SELECT a.key, a.call, a.state, a.attempts, c.id FROM actions a "
                      "JOIN decisions d ON d.id = a.decision_id JOIN changes c ON c.cid = d.cid "
                      "ORDER BY a.id").fetchall()
    db.close()
    return rows


def wait_for(what, pred, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def metric(d, name):
    _, _, text = d.request("GET", "/metrics", token=None)
    m = re.search(rf"^{re.escape(name)} (\d+)$", text.decode(), re.M)
    if not m:
        raise AssertionError(f"no metric {name}")
    return int(m.group(1))


def settled(d, n):
    """n actions, none still queued."""
    rows = action_rows(d.store)
    return len(rows) == n and all(r[2] != "queued" for r in rows) and rows


# ---- the tests ---------------------------------------------------------------------------------

def test_webhook(tmp):
    """Signed POSTs; 503, 503, 200 retried with one key; 400 fails for good;
    a target down fails after the attempts; an unknown target and an
    unclaimed call fail with a record saying why."""
    rec = Receiver({"/ok": [200], "/flaky": [503, 503, 200], "/bad": [400], "/down": [503]})
    d = new_daemon(tmp, *webhook_args(tmp, rec), "--action-backoff", "20", "--action-max-delay", "100",
                   "--action-attempts", "4")
    try:
        s, h, b = d.request("POST", "/v1/events", {"id": "w-ok", "target": "ok"})
        is_decision(b, "allow")
        eq(b["actions"], [{"call": "webhook", "args": {"target": "ok", "payload": {
            "change": "w-ok", "summary": b["actions"][0]["args"]["payload"]["summary"]}}}], "the action record")
        for cid, target in [("w-flaky", "flaky"), ("w-bad", "bad"), ("w-down", "down"), ("w-none", "nowhere")]:
            d.request("POST", "/v1/events", {"id": cid, "target": target})
        d.request("PUT", "/v1/flags/stop", {"by": "ops", "why": "test"})
        s, h, b = d.request("POST", "/v1/events", {"id": "w-sns", "target": "ok"})
        is_decision(b, "deny")
        # the flag denied the five changes decided before it too: their
        # deny actions (aws.sns.publish) are queued with the rest
        rows = wait_for("every action settled", lambda: settled(d, 11))
        by_change = {}
        for key, call, state, attempts, cid in rows:
            by_change.setdefault(cid, []).append((call, state, attempts))
        eq(by_change["w-ok"][0], ("webhook", "done", 1), "ok")
        eq(by_change["w-flaky"][0], ("webhook", "done", 3), "503, 503, then 200")
        eq(by_change["w-bad"][0], ("webhook", "failed", 1), "400: no retry")
        eq(by_change["w-down"][0], ("webhook", "failed", 4), "503 until the attempts ran out")
        eq(by_change["w-none"][0], ("webhook", "failed", 1), "an unknown target")
        eq(by_change["w-sns"], [("aws.sns.publish", "failed", 1)], "no executor claims aws.*")
        eq(len({r[0] for r in rows}), 11, "one key per action")
        # what the receiver saw: every delivery signed, one key per action on all its attempts
        with rec.lock:
            deliveries = list(rec.deliveries)
        eq(all(ok for _, _, _, ok, _ in deliveries), True, "every delivery signed with the secret")
        keys = {cid: key for key, call, _, _, cid in rows if call == "webhook"}
        flaky = [(att, key) for path, key, att, _, _ in deliveries if path == "/flaky"]
        eq(flaky, [("1", keys["w-flaky"]), ("2", keys["w-flaky"]), ("3", keys["w-flaky"])], "flaky attempts")
        eq(len([x for x in deliveries if x[0] == "/down"]), 4, "down: four attempts")
        eq(len([x for x in deliveries if x[0] == "/bad"]), 1, "bad: one attempt")
        body = rec.done[keys["w-ok"]]
        eq(json.loads(body)["change"], "w-ok", "the payload is the body")
        eq(body, json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode(), "compact, sorted")
        # the audit log: each attempt and its result
        hooks = [r for r in records(d, "action") if r["data"]["call"] == "webhook"]
        acts = [r for r in hooks if r["subject"] == "w-flaky"]
        eq([(r["data"]["attempt"], r["data"]["status"]) for r in acts],
           [(1, "started"), (1, "retry"), (2, "started"), (2, "retry"), (3, "started"), (3, "ok")], "flaky's records")
        eq(acts[1]["data"]["message"], "webhook flaky: HTTP 503", "the retry says why")
        eq(bool(acts[1]["data"]["next_at"]), True, "a retry says when")
        eq({r["data"]["key"] for r in acts}, {keys["w-flaky"]}, "the key in every record")
        bad = [r["data"] for r in hooks if r["subject"] == "w-bad"]
        eq((bad[-1]["status"], bad[-1]["message"]), ("failed", "webhook bad: HTTP 400"), "bad's result")
        down = [r["data"] for r in hooks if r["subject"] == "w-down"]
        eq(down[-1]["message"], "webhook down: HTTP 503 (attempt 4 of 4: no more)", "down's result")
        none = [r["data"] for r in hooks if r["subject"] == "w-none"]
        eq([(x["status"], x["message"]) for x in none],
           [("started", None), ("failed", "no webhook target 'nowhere' (configured: ok, flaky, bad, down, slow)")],
           "unknown target")
        sns = [r["data"] for r in records(d, "action") if r["subject"] == "w-sns"]
        eq([(x["status"], x["executor"], x["message"]) for x in sns],
           [("failed", None, "no executor claims 'aws.sns.publish'")], "unclaimed")
        # metrics: actions by state, and the alert
        eq(metric(d, 'chgd_actions{state="done"}'), 2, "done in the store")
        eq(metric(d, 'chgd_actions{state="failed"}'), 9, "failed in the store")
        eq(metric(d, "chgd_actions_failed_total"), 9, "the alert metric")
        eq(metric(d, 'chgd_actions_total{state="retried"}'), 2 + 3, "attempts to be retried")
        # a redelivered event executes nothing again
        n = len(rec.deliveries)
        s, h, b = d.request("POST", "/v1/events", {"id": "w-ok", "target": "ok"})
        eq(h.get("idempotent-replayed"), "true", "replayed")
        time.sleep(1.5)
        eq(len(rec.deliveries), n, "no delivery for a redelivered event")
        log = d.logtext()
    finally:
        d.stop()
        rec.close()
    if SECRET.decode() in log or SECRET.decode() in open(d.store, "rb").read().decode("latin-1"):
        raise AssertionError("the webhook secret is in the log or the store")
    p = subprocess.run([CHGC, "audit", "verify", d.store], capture_output=True, text=True)
    eq(p.returncode, 0, "the chain with action records: " + p.stderr)


def test_webhook_timeout(tmp):
    """A target slower than webhook-timeout is retried, then fails."""
    rec = Receiver({"/slow": [200]})
    rec.delay = 3
    d = new_daemon(tmp, *webhook_args(tmp, rec), "--webhook-timeout", "1", "--action-attempts", "2",
                   "--action-backoff", "10")
    try:
        d.request("POST", "/v1/events", {"id": "t1", "target": "slow"})
        rows = wait_for("the action settled", lambda: settled(d, 1))
        eq([(r[2], r[3]) for r in rows], [("failed", 2)], "two attempts, then failed")
        results = [r["data"] for r in records(d, "action") if r["data"]["status"] != "started"]
        eq([(x["status"], x["message"]) for x in results],
           [("retry", "webhook slow: Timeout was reached"),
            ("failed", "webhook slow: Timeout was reached (attempt 2 of 2: no more)")], "timeouts")
    finally:
        d.stop()
        rec.close()


class RawTarget:
    """A webhook target that records each delivery (path, signature, body)
    and answers 200; on /stall, a 200 with a Content-Length it never
    completes."""

    def __init__(self):
        self.got = []
        tgt = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                tgt.got.append((self.path, self.headers["X-Chg-Signature"], body))
                self.send_response(200)
                if self.path == "/stall":
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(3)
                    return
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_webhook_secret_bytes(tmp):
    """The secret is the file's bytes minus one final newline: a final
    "\r" of a binary secret, or a second "\n", is part of it."""
    tgt = RawTarget()
    files = {"cr": b"k3y\r", "lf": b"k3y\n\n", "crlf": b"k3y\r\n"}
    want = {"cr": b"k3y\r", "lf": b"k3y\n", "crlf": b"k3y"}
    args = []
    for n, data in files.items():
        path = os.path.join(tmp, n + ".secret")
        open(path, "wb").write(data)
        args += ["--webhook", f"{n}={tgt.url}/{n}", "--webhook-secret", f"{n}={path}"]
    d = new_daemon(tmp, *args)
    try:
        for n in files:
            d.request("POST", "/v1/events", {"id": "s-" + n, "target": n})
        wait_for("three deliveries", lambda: len(tgt.got) == 3 and settled(d, 3))
        for path, sig, body in sorted(tgt.got):
            n = path[1:]
            eq(signed_by_chgd(want[n], body, sig), True, f"{n}: signed with the file's bytes minus one newline")
    finally:
        d.stop()
        tgt.close()


def test_webhook_2xx_then_stall(tmp):
    """A 2xx status line means the target took the delivery: a body that
    then times out is not delivered again."""
    tgt = RawTarget()
    secret = os.path.join(tmp, "s.secret")
    open(secret, "wb").write(SECRET + b"\n")
    d = new_daemon(tmp, "--webhook", f"stall={tgt.url}/stall", "--webhook-secret", f"stall={secret}",
                   "--webhook-timeout", "1", "--action-attempts", "3", "--action-backoff", "10")
    try:
        d.request("POST", "/v1/events", {"id": "st1", "target": "stall"})
        rows = wait_for("the action settled", lambda: settled(d, 1))
        eq([(r[2], r[3]) for r in rows], [("done", 1)], "one attempt, done")
        time.sleep(1)
        eq(len(tgt.got), 1, "one delivery")
        results = [r["data"] for r in records(d, "action") if r["data"]["status"] != "started"]
        eq([(x["status"], x["message"]) for x in results],
           [("ok", "webhook stall: HTTP 200 (then: Timeout was reached)")], "the record says what happened")
    finally:
        d.stop()
        tgt.close()


FLAG_POLICY = """policy "flag-actions" version "1"
schema change {
  id:     string
  target: string
}
freeze stop = flag "stop"
rule stopped mandatory:
  when change.target == "down"
  deny during stop "stopped: {freeze}"
on allow
  do webhook(change.target, { change: change.id })
"""

APPROVAL_POLICY = """policy "approval-actions" version "1"
schema change {
  id:        string
  target:    string
  approvals: [{ by: string, group: string?, at: time, decision: enum("approve", "reject")? }] = []
}
risk low < high
classify {
  default high
}
approvals {
  low  => none
  high => 1 of group "cab"
}
on allow
  do webhook(change.target, { change: change.id })
"""


def decisions_of(d, id):
    _, _, c = d.request("GET", f"/v1/changes/{id}", token="r")
    return [(x["outcome"], x["cause"]) for x in c["decisions"]]


def test_flag_runs_no_action_again(tmp):
    """A flag decides every change again, but a change whose outcome stays
    allow (only its instant moved) stores no decision and runs its action
    no second time; one it freezes gets its deny, and its allow again
    when the flag is cleared, with the action run then."""
    open(os.path.join(tmp, "actions.chg"), "w").write(FLAG_POLICY)
    rec = Receiver({"/ok": [200], "/down": [200]})
    d = new_daemon(tmp, *webhook_args(tmp, rec), "--fake-clock", "2026-12-07T09:00:00Z")
    try:
        eq(d.request("POST", "/v1/events", {"id": "f1", "target": "ok"})[2]["outcome"], "allow", "f1")
        eq(d.request("POST", "/v1/events", {"id": "f2", "target": "down"})[2]["outcome"], "allow", "f2")
        wait_for("two deliveries", lambda: settled(d, 2))
        d.request("PUT", "/v1/clock", {"now": "2026-12-07T09:05:00Z"})
        _, _, b = d.request("PUT", "/v1/flags/stop", {"by": "ops", "why": "INC-1"})
        eq((b["reevaluated"], b["changed"]), (2, 1), "set: f2 frozen, f1 the same")
        d.request("PUT", "/v1/clock", {"now": "2026-12-07T09:10:00Z"})
        _, _, b = d.request("DELETE", "/v1/flags/stop", {"by": "ops", "why": "over"})
        eq((b["reevaluated"], b["changed"]), (2, 1), "cleared: f2 allowed again, f1 the same")
        rows = wait_for("three actions", lambda: settled(d, 3))
        eq(decisions_of(d, "f1"), [("allow", "event")], "f1: nothing stored after its event")
        eq(decisions_of(d, "f2"), [("allow", "flag"), ("deny", "flag"), ("allow", "event")], "f2")
        eq(sorted((r[4], r[2]) for r in rows), [("f1", "done"), ("f2", "done"), ("f2", "done")], "actions")
        time.sleep(0.5)
        eq(sorted(x[0] for x in rec.deliveries), ["/down", "/down", "/ok"], "one delivery per allow")
    finally:
        d.stop()
        rec.close()


def test_approval_runs_no_action_again(tmp):
    """The approval that turns pending into allow runs the action; one
    more approval, or the same one again, runs nothing, and a duplicate
    stores nothing new: its answer is the latest recorded decision."""
    open(os.path.join(tmp, "actions.chg"), "w").write(APPROVAL_POLICY)
    rec = Receiver({"/ok": [200]})
    d = new_daemon(tmp, *webhook_args(tmp, rec), "--fake-clock", "2026-12-07T09:00:00Z")
    try:
        eq(d.request("POST", "/v1/events", {"id": "a1", "target": "ok"})[2]["outcome"], "pending", "event")
        ann = {"by": "ann", "group": "cab", "at": "2026-12-07T09:00:00Z"}
        s, _, first = d.request("POST", "/v1/changes/a1/approvals", ann)
        eq((s, first["outcome"], first["cause"]), (200, "allow", "approval"), "ann")
        d.request("PUT", "/v1/clock", {"now": "2026-12-07T09:05:00Z"})
        s, _, again = d.request("POST", "/v1/changes/a1/approvals", ann)
        eq((s, again), (200, first), "the same approval again: the latest decision, nothing new")
        eq(decisions_of(d, "a1"), [("allow", "approval"), ("pending", "event")], "decisions")
        s, _, bob = d.request("POST", "/v1/changes/a1/approvals", {"by": "bob", "group": "cab"})
        eq((s, bob["outcome"]), (200, "allow"), "bob")
        rows = wait_for("the action settled", lambda: settled(d, 1))
        time.sleep(0.5)
        eq((len(action_rows(d.store)), [r[2] for r in rows]), (1, ["done"]), "one action")
        eq([x[0] for x in rec.deliveries], ["/ok"], "one delivery")
    finally:
        d.stop()
        rec.close()


def test_dry_run(tmp):
    """--dry-run executes nothing and records what would run."""
    rec = Receiver({"/ok": [200]})
    d = new_daemon(tmp, *webhook_args(tmp, rec), "--dry-run")
    try:
        for i in range(3):
            s, h, b = d.request("POST", "/v1/events", {"id": f"d{i}", "target": "ok"})
            is_decision(b, "allow")
        time.sleep(1.5)
        eq(rec.deliveries, [], "no delivery")
        eq([(r[1], r[2], r[3]) for r in action_rows(d.store)], [("webhook", "dry-run", 0)] * 3, "recorded dry-run")
        eq(records(d, "action"), [], "no attempt")
        eq(metric(d, 'chgd_actions{state="dry-run"}'), 3, "dry-run in the store")
    finally:
        d.stop()
        rec.close()


def test_resume_after_kill(tmp):
    """kill -9 with actions queued and one in flight: a restart executes
    each, with the key it had, so the receiver does each once."""
    rec = Receiver({"/slow": [200]})
    rec.delay = 0.5
    args = [*webhook_args(tmp, rec), "--action-workers", "1", "--webhook-timeout", "30"]
    d = new_daemon(tmp, *args)
    for i in range(6):
        d.request("POST", "/v1/events", {"id": f"r{i}", "target": "slow"})
    wait_for("a first delivery", lambda: len(rec.deliveries) >= 2)
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    d.errf.close()
    before = len(rec.deliveries)
    rows = action_rows(d.store)
    eq(len(rows), 6, "six actions queued with their decisions")
    if all(r[2] == "done" for r in rows):
        raise AssertionError("every action done before the kill: the test proves nothing")
    d2 = new_daemon(tmp, *args, store=d.store)
    try:
        rows = wait_for("every action done after the restart",
                        lambda: (lambda r: all(x[2] == "done" for x in r) and r)(action_rows(d.store)))
        keys = [r[0] for r in rows]
        eq(sorted(rec.done), sorted(keys), "each action executed, under its own key")
        with rec.lock:
            per_key = {}
            for _, key, _, _, _ in rec.deliveries:
                per_key[key] = per_key.get(key, 0) + 1
        # only an action in flight at the kill is delivered twice
        twice = [k for k, n in per_key.items() if n > 1]
        if len(twice) > 1 or any(n > 2 for n in per_key.values()):
            raise AssertionError(f"deliveries per key: {per_key}")
        for k in twice:  # the attempt cut short counts: the next is attempt 2
            eq([att for _, key, att, _, _ in rec.deliveries if key == k], ["1", "2"], "attempts of the redelivered")
        print(f"     resumed: {before} deliveries before the kill, {len(rec.deliveries) - before} after; "
              f"{len(twice)} redelivered with its key")
        n = len(rec.deliveries)
    finally:
        d2.stop()
    # done stays done
    d3 = new_daemon(tmp, *args, store=d.store)
    try:
        time.sleep(1.5)
        eq(len(rec.deliveries), n, "nothing sent again after a clean restart")
    finally:
        d3.stop()
        rec.close()


def test_attempts_cut_short(tmp):
    """An attempt a kill cut short counts: with one attempt allowed, the
    restart fails the action instead of trying it forever."""
    rec = Receiver({"/slow": [200]})
    rec.delay = 3
    args = [*webhook_args(tmp, rec), "--action-attempts", "1", "--webhook-timeout", "30"]
    d = new_daemon(tmp, *args)
    d.request("POST", "/v1/events", {"id": "x1", "target": "slow"})
    wait_for("the attempt in flight", lambda: rec.deliveries)
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    d.errf.close()
    d2 = new_daemon(tmp, *args, store=d.store)
    try:
        rows = wait_for("the action settled", lambda: settled(d2, 1))
        eq([(r[2], r[3]) for r in rows], [("failed", 1)], "failed, one attempt")
        last = records(d2, "action")[-1]["data"]
        eq((last["status"], last["message"]), ("failed", "no attempt left: 1 made, the last without a result"),
           "the record")
        eq(len(rec.deliveries), 1, "not sent again")
    finally:
        d2.stop()
        rec.close()


def keygen(tmp):
    """The key pair, made by the commands docs/daemon.md gives."""
    p = subprocess.run(["sh", "-ec", doc_block("sh", "openssl genpkey")], capture_output=True, text=True, cwd=tmp)
    eq(p.returncode, 0, "the doc's key commands: " + p.stderr)
    return os.path.join(tmp, "audit-key.pem"), os.path.join(tmp, "audit-key.pub")


def verify(store, pub, *extra):
    return subprocess.run([CHGC, "audit", "verify", store, "--pubkey", pub, *extra], capture_output=True, text=True)


def test_digests(tmp):
    """--audit-key signs the chain every N records; verify --pubkey holds,
    and names the record when a record, a signature or a digest is wrong."""
    key, pub = keygen(tmp)
    d = new_daemon(tmp, "--dry-run", "--audit-key", key, "--audit-digest-records", "4")
    try:
        for i in range(5):
            d.request("POST", "/v1/events", {"id": f"s{i}", "target": "ok"})
        recs = records(d)
        digests = [r for r in recs if r["kind"] == "digest"]
        eq(digests[0]["seq"], 2, "a digest right after the start record")
        for r in digests:
            eq((r["data"]["covers"], r["data"]["head"], r["data"]["every"]), (r["seq"] - 1, r["prev"], 4), "covers")
        gaps = [b["seq"] - a["seq"] for a, b in zip(digests, digests[1:])]
        eq(set(gaps), {5}, "one digest after every 4 records")
        # verify while chgd runs
        p = verify(d.store, pub)
        eq(p.returncode, 0, "verify on the live store: " + p.stderr)
    finally:
        d.stop()
    n = len(records_of(d.store))
    p = verify(d.store, pub)
    eq((p.returncode, p.stdout.strip()),
       (0, f"{d.store}: the chain holds: {n} records, {n_digests(d.store)} signed digests, "
           "0 records after the last one"), "verify after stop: the last digest is the last record")
    # the docs' command
    env = dict(os.environ, PATH=os.path.dirname(CHGC) + os.pathsep + os.environ["PATH"])
    eq(d.store, os.path.join(tmp, "chgd.db"), "the store the doc's command names")
    p = subprocess.run(["sh", "-ec", doc_block("sh", "--pubkey audit-key.pub")], capture_output=True, text=True,
                       cwd=tmp, env=env)
    eq(p.returncode, 0, "the doc's verify command: " + p.stdout + p.stderr)

    def tampered(name, fn):
        copy = os.path.join(tmp, f"tampered-{name}.db")
        shutil.copy(d.store, copy)
        t = sqlite3.connect(copy)
        t.execute("DROP TRIGGER audit_append_only_update")
        t.execute("DROP TRIGGER audit_append_only_delete")
        fn(t)
        t.commit()
        t.close()
        return copy

    # one record's content: the chain names it
    copy = tampered("content", lambda t: t.execute("UPDATE audit SET data = replace(data, 'allow', 'deny') WHERE seq = 4"))
    p = verify(copy, pub)
    eq((p.returncode, p.stderr.strip()),
       (1, f"chgc: audit verify: {copy}: record 4: its hash does not match its content"), "tampered content")

    # a record rewritten with every hash after it recomputed: the chain
    # holds, the next digest's signature does not
    def rehash(t):
        rows = t.execute("SELECT seq, prev, hash, at, kind, subject, data FROM audit ORDER BY seq").fetchall()
        prev = "0" * 64
        for seq, p_, h, at, kind, subject, data in rows:
            if seq == 4:
                data = data.replace("allow", "deny")
                if kind == "decision":  # and the decisions row kept in step, as a thorough forger would
                    i = data.index('"decision":') + len('"decision":')
                    dec, end = json.JSONDecoder().raw_decode(data, i)
                    t.execute("UPDATE decisions SET doff = ?, dlen = ?, outcome = ? WHERE seq = ?",
                              (len(data[:i].encode()), len(data[i:end].encode()), dec["outcome"], seq))
            if kind == "digest":
                dd = json.loads(data)
                dd["head"] = prev
                data = json.dumps(dd, separators=(",", ":"))
            h = record_hash(seq, prev, at, kind, subject, data)
            t.execute("UPDATE audit SET prev = ?, hash = ?, data = ? WHERE seq = ?", (prev, h, data, seq))
            prev = h
    copy = tampered("rehashed", rehash)
    p = subprocess.run([CHGC, "audit", "verify", copy], capture_output=True, text=True)
    eq(p.returncode, 0, "without the key, a rewritten chain holds")
    first_after = [x for x in digest_seqs(d.store) if x > 4][0]
    p = verify(copy, pub)
    eq((p.returncode, p.stderr.strip()),
       (1, f"chgc: audit verify: {copy}: record {first_after}: the digest's signature does not verify with the key: "
           f"records 3 to {first_after - 1} are not proven"), "rewritten and rehashed")
    # another key
    other = os.path.join(tmp, "other")
    os.mkdir(other)
    _, other_pub = keygen(other)
    p = verify(d.store, other_pub)
    eq((p.returncode, p.stderr.strip()),
       (1, f"chgc: audit verify: {d.store}: record 2: the digest's signature does not verify with the key "
           "(it names another public key): records 1 to 1 are not proven"), "another key")
    # not a key
    p = verify(d.store, os.path.join(tmp, "chgd.db"))
    eq(p.returncode, 2, "a --pubkey that is not a key: " + p.stderr)
    if "not a PEM Ed25519 public key" not in p.stderr:
        raise AssertionError(p.stderr)
    # records chgd wrote without its key: a gap longer than the digests' bound
    d = new_daemon(tmp, "--dry-run", store=d.store)
    try:
        for i in range(5):
            d.request("POST", "/v1/events", {"id": f"u{i}", "target": "ok"})
    finally:
        d.stop()
    last = digest_seqs(d.store)[-1]
    p = verify(d.store, pub)
    eq((p.returncode, p.stderr.strip()),
       (1, f"chgc: audit verify: {d.store}: record {last + 5}: more than 4 records after the digest at record "
           f"{last} without a signed digest"), "unsigned records")
    # a store never signed
    plain = os.path.join(tmp, "plain")
    os.mkdir(plain)
    d = new_daemon(plain, "--dry-run")
    d.stop()
    p = verify(d.store, pub)
    eq((p.returncode, p.stderr.strip()),
       (1, f"chgc: audit verify: {d.store}: record 1: no signed digest covers it (was chgd run with --audit-key?)"),
       "never signed")


def test_digest_interval(tmp):
    """audit-digest-seconds: a digest while records come, without N records."""
    key, pub = keygen(tmp)
    d = new_daemon(tmp, "--dry-run", "--audit-key", key, "--audit-digest-records", "1000",
                   "--audit-digest-seconds", "1")
    try:
        d.request("POST", "/v1/events", {"id": "i1", "target": "ok"})
        wait_for("a periodic digest", lambda: [r for r in records(d, "digest") if r["seq"] > 2], timeout=10)
        p = verify(d.store, pub)
        eq(p.returncode, 0, "verify: " + p.stderr)
    finally:
        d.stop()


def records_of(store):
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    rows = db.execute("SELECT seq FROM audit ORDER BY seq").fetchall()
    db.close()
    return rows


def digest_seqs(store):
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    rows = [r[0] for r in db.execute("SELECT seq FROM audit WHERE kind = 'digest' ORDER BY seq")]
    db.close()
    return rows


def n_digests(store):
    return len(digest_seqs(store))


def test_config(tmp):
    """Bad webhook and key settings stop start-up, naming the key."""
    secret = os.path.join(tmp, "s")
    open(secret, "w").write("x\n")
    empty = os.path.join(tmp, "empty")
    open(empty, "w").write("\n")
    tokens = os.path.join(tmp, "tokens")
    open(tokens, "w").write("write write-token-0123456789abcdef\n")
    base = [CHGD, "--policy", POLICY, "--token-file", tokens, "--store", os.path.join(tmp, "c.db"), "--check-config"]
    for args, want in [
            (["--webhook", "ops=http://127.0.0.1:1/x"], "chgd: --webhook ops: no --webhook-secret ops=FILE"),
            (["--webhook", "ops=ftp://h/x", "--webhook-secret", f"ops={secret}"],
             "chgd: --webhook ops: the URL must be http:// or https://"),
            (["--webhook", "o ps=http://h/"], "chgd: --webhook o ps=http://h/: expected NAME=URL (a name of letters, digits, '_', '-', '.')"),
            (["--webhook", "ops=http://h/", "--webhook-secret", f"ops={empty}"], f"chgd: --webhook-secret: {empty} is empty"),
            (["--webhook-secret", f"ops={secret}"], "chgd: --webhook-secret ops: no --webhook of that name"),
            (["--webhook", "a=http://h/", "--webhook", "a=http://i/", "--webhook-secret", f"a={secret}"],
             "chgd: --webhook a: given twice"),
            (["--audit-key", secret],
             f"chgd: {secret}: not a PEM Ed25519 private key (make one with openssl genpkey -algorithm ed25519) (--audit-key)"),
            (["--action-attempts", "0"], "chgd: --action-attempts: expected an integer from 1 to 1000, not '0'")]:
        p = subprocess.run(base + args, capture_output=True, text=True)
        eq((p.returncode, p.stderr.strip()), (2, want), f"{args}")
    # the config file's form, as docs/daemon.md shows it
    conf = os.path.join(tmp, "chgd.conf")
    block = doc_block("conf", "webhook-secret")
    open(conf, "w").write(block.replace("/etc/chgd/", tmp + "/"))
    open(os.path.join(tmp, "ops.secret"), "w").write("s\n")
    open(os.path.join(tmp, "chat.secret"), "w").write("t\n")
    p = subprocess.run(base + ["--config", conf], capture_output=True, text=True)
    eq(p.returncode, 0, "the doc's config: " + p.stderr)


if __name__ == "__main__":
    sys.exit(run_tests(globals(), "chgd-actions-"))
