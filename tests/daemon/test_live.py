#!/usr/bin/env python3
"""chgd's concurrency limits against its live changes, on a real process
with a fake clock (docs/daemon.md, "Live changes"): a held change and the
reason naming the limit, an end that lets it go, an end by the change's
duration and by --in-flight-max, a race for the last place, a restart.

    test_live.py CHGD CHGC REPO_ROOT [TEST...]
"""
import json
import os
import re
import shutil
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_chgd import ROOT, Daemon, at_once, audit_rows, eq, is_decision, is_error, metric, run_curls  # noqa: E402
from test_chgd import main as run_tests  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
START = "2026-12-02T10:00:00Z"


def live(tmp, *extra, store=None):
    policy = os.path.join(tmp, "live.chg")
    if not os.path.exists(policy):
        shutil.copy(os.path.join(HERE, "live_policy.chg"), policy)
    return Daemon(tmp, "--fake-clock", START, "--dry-run", "--in-flight-max", "7200", *extra, policy=policy,
                  store=store)


def ch(cid, service, env="dev", **kw):
    c = {"id": cid, "service": service, "env": env}
    c.update(kw)
    return c


def limit_reasons(b):
    return [r for r in b["reasons"] if "limit" in r]


def in_flight(d, cid):
    s, _, c = d.request("GET", f"/v1/changes/{cid}", token="r")
    eq(s, 200, f"GET {cid}")
    return c["in_flight"]


def active_rows(store):
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    n = db.execute("SELECT count(*) FROM inflight WHERE ended_at IS NULL").fetchone()[0]
    db.close()
    return n


def queued(store, cid):
    """The topics of the actions queued (here: recorded, --dry-run) for a change."""
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    rows = db.execute("SELECT a.args FROM actions a JOIN decisions d ON d.id = a.decision_id "
                      "JOIN changes c ON c.cid = d.cid WHERE c.id = ? ORDER BY a.id", (cid,)).fetchall()
    db.close()
    return [json.loads(r[0])["topic_arn"].rsplit(":", 1)[1] for r in rows]


def test_held_then_ended(tmp):
    """A limit of 1 per service: the second change of a service is
    deferred with the limit's reason; once the first is reported ended,
    the second is allowed by the time the end call returns."""
    d = live(tmp)
    try:
        s, _, a1 = d.request("POST", "/v1/events", ch("a1", "web"))
        is_decision(a1, "allow")
        eq(in_flight(d, "a1"), {"active": True, "revision": 1, "since": START, "until": "2026-12-02T12:00:00Z",
                                "bound": "max", "ended_at": None, "result": None, "ended_by": None}, "a1 in flight")
        s, _, a2 = d.request("POST", "/v1/events", ch("a2", "web"))
        is_decision(a2, "defer")
        eq(limit_reasons(a2), [{
            "rule": None, "limit": "one_per_service", "level": "mandatory",
            "message": 'change "a2" starts at 2026-12-02T10:00:00Z while 1 change is in flight with '
                       'change.service = "web" ("a1"): concurrency one_per_service allows 1 of any per change.service',
            "source": os.path.join(tmp, "live.chg") + ":19:13"}], "the reason names the limit and a1")
        eq(a2["window"], {"required": None, "open": None, "next_open": "2026-12-02T12:00:00Z", "closes_at": None},
           "next_open: a1's bound")
        eq([(x["call"], x["args"]["topic_arn"].rsplit(":", 1)[1]) for x in a2["actions"]],
           [("aws.sns.publish", "held")], "the actions of defer, not allow's")
        eq(a2["actions"][0]["args"]["message"], limit_reasons(a2)[0]["message"], "`reason` is the limit's")
        eq(in_flight(d, "a2"), None, "a held change is not in flight")
        # another service is not held by it
        s, _, b1 = d.request("POST", "/v1/events", ch("b1", "api"))
        is_decision(b1, "allow")
        eq(metric(d, "chgd_changes_in_flight"), 2.0, "gauge")
        # the dry evaluation knows nothing of live changes
        s, _, e = d.request("POST", "/v1/evaluate", ch("a3", "web"), token="r")
        eq((s, e["outcome"]), (200, "allow"), "evaluate is stateless")
        # a1 ends: a2 takes its place before the call returns
        s, _, b = d.request("POST", "/v1/changes/a1/end", {"by": "ci", "result": "succeeded"})
        eq((s, b["change"], b["reevaluated"], b["changed"]), (200, "a1", 1, 1), "end answer")
        eq(b["in_flight"], {"active": False, "revision": 1, "since": START, "until": "2026-12-02T12:00:00Z",
                            "bound": "max", "ended_at": START, "result": "succeeded", "ended_by": "ci"}, "a1 ended")
        s, _, c = d.request("GET", "/v1/changes/a2", token="r")
        eq([(x["outcome"], x["cause"]) for x in c["decisions"]], [("allow", "end"), ("defer", "event")], "a2 allowed")
        eq([x["args"]["topic_arn"].rsplit(":", 1)[1] for x in c["decisions"][0]["actions"]], ["changes"],
           "allow's actions now")
        eq((c["in_flight"]["active"], c["in_flight"]["since"]), (True, START), "a2 in flight")
        eq(metric(d, "chgd_changes_in_flight"), 2.0, "gauge after the end")
        # its end was audited; a second end is refused
        ends = [r[2] for r in audit_rows(d.store, "end")]
        eq(ends, [{"at": START, "bound": "max", "by": "ci", "change_id": "a1", "result": "succeeded", "revision": 1,
                   "since": START, "until": "2026-12-02T12:00:00Z"}], "the end record")
        s, _, b = d.request("POST", "/v1/changes/a1/end", {"by": "ci", "result": "failed"})
        is_error(s, b, "not_in_flight", 409)
        # an ended change decided again (an approval) is done, not held by a2 in its place
        s, _, b = d.request("POST", "/v1/changes/a1/approvals", {"by": "bob"})
        eq((s, b["outcome"]), (200, "allow"), "a1 decided again after its end")
        eq(in_flight(d, "a1")["active"], False, "and not in flight again")
        # a new revision of it is a new change to run: held, as a2 holds the place
        s, _, b = d.request("POST", "/v1/events", ch("a1", "web", duration=60))
        eq((b["revision"], b["outcome"]), (2, "defer"), "a1's new revision waits for a2")
        s, _, b = d.request("POST", "/v1/changes/a2/end", {"by": "ci", "result": "failed", "at": "2026-12-02T09:00:00Z"})
        is_error(s, b, "bad_request", 400)
        # a risk limit counts only its classes, and every limit broken is a reason
        for cid, svc in (("p1", "s1"), ("p2", "s2")):
            s, _, b = d.request("POST", "/v1/events", ch(cid, svc, "prod"))
            is_decision(b, "allow")
        s, _, p3 = d.request("POST", "/v1/events", ch("p3", "s1", "prod"))
        is_decision(p3, "defer")
        eq([r["limit"] for r in limit_reasons(p3)], ["one_per_service", "prod_load"], "both limits")
        eq(limit_reasons(p3)[1]["message"],
           'change "p3" starts at 2026-12-02T10:00:00Z while 2 changes are in flight ("p1", "p2"): '
           'concurrency prod_load allows 2 of risk >= high', "the global limit's reason")
        s, _, b = d.request("POST", "/v1/events", ch("d1", "s3", "dev"))
        is_decision(b, "allow")
        # ending p2 frees prod_load only: p3 stays held, by one limit now
        s, _, b = d.request("POST", "/v1/changes/p2/end", {"by": "ci", "result": "cancelled"})
        eq((b["reevaluated"], b["changed"]), (2, 1), "p3 (and a1, still held by a2) decided again")
        s, _, c = d.request("GET", "/v1/changes/p3", token="r")
        eq((c["outcome"], [r["limit"] for r in limit_reasons(c["decisions"][0])]), ("defer", ["one_per_service"]),
           "p3 still held by its service")
        eq(queued(d.store, "p3"), ["held"], "held again: defer's actions are not queued twice")
        s, _, b = d.request("POST", "/v1/changes/p1/end", {"by": "ci", "result": "succeeded"})
        s, _, c = d.request("GET", "/v1/changes/p3", token="r")
        eq(c["outcome"], "allow", "p3 allowed once p1 ended")
        eq(queued(d.store, "p3"), ["held", "changes"], "then allow's")
    finally:
        d.stop()


def test_end_by_time(tmp):
    """A change in flight ends by its declared duration, else by
    --in-flight-max, as the fake clock passes them; what they held is
    decided again then, in the order it was first held."""
    d = live(tmp)
    try:
        s, _, b = d.request("POST", "/v1/events", ch("c1", "web", duration=1800))
        is_decision(b, "allow")
        eq((in_flight(d, "c1")["until"], in_flight(d, "c1")["bound"]), ("2026-12-02T10:30:00Z", "duration"), "bound")
        s, _, c2 = d.request("POST", "/v1/events", ch("c2", "web"))
        s, _, c3 = d.request("POST", "/v1/events", ch("c3", "web"))
        eq([(x["outcome"], x["window"]["next_open"]) for x in (c2, c3)], [("defer", "2026-12-02T10:30:00Z")] * 2,
           "held until c1's end")
        s, _, b = d.request("PUT", "/v1/clock", {"now": "2026-12-02T10:29:59Z"})
        eq(b["timers_run"], 0, "nothing due before the end")
        s, _, b = d.request("PUT", "/v1/clock", {"now": "2026-12-02T10:30:00Z"})
        eq(s, 200, "clock")
        f = in_flight(d, "c1")
        eq((f["active"], f["ended_at"], f["result"], f["ended_by"]), (False, "2026-12-02T10:30:00Z", "elapsed", None),
           "c1 ended by its duration")
        outcomes = {cid: d.request("GET", f"/v1/changes/{cid}", token="r")[2]["decisions"][0] for cid in ("c2", "c3")}
        eq((outcomes["c2"]["outcome"], outcomes["c2"]["cause"]), ("allow", "timer"), "c2, first held, goes first")
        eq(outcomes["c3"]["outcome"], "defer", "c3 waits for c2")
        eq(outcomes["c3"]["window"]["next_open"], "2026-12-02T12:30:00Z", "c2's bound is --in-flight-max")
        eq(in_flight(d, "c2")["bound"], "max", "no duration: the maximum")
        s, _, b = d.request("PUT", "/v1/clock", {"now": "2026-12-02T12:30:00Z"})
        eq((in_flight(d, "c2")["result"], in_flight(d, "c2")["ended_at"]), ("elapsed", "2026-12-02T12:30:00Z"),
           "c2 ended by the maximum")
        s, _, c = d.request("GET", "/v1/changes/c3", token="r")
        eq(c["outcome"], "allow", "c3 allowed")
        eq([r[2]["result"] for r in audit_rows(d.store, "end")], ["elapsed", "elapsed"], "audited")
        # a duration longer than the maximum is cut to it
        s, _, b = d.request("POST", "/v1/events", ch("c4", "api", duration=86400))
        eq((in_flight(d, "c4")["until"], in_flight(d, "c4")["bound"]), ("2026-12-02T14:30:00Z", "max"), "capped")
    finally:
        d.stop()


def test_live_race(tmp):
    """Many events for one service at once, limit 1: exactly one allow,
    however they are judged on the HTTP threads."""
    d = live(tmp, "--threads", "8")
    try:
        n = 24
        got = at_once(n, lambda i: d.request("POST", "/v1/events", ch(f"r{i}", "db")))
        eq(sorted(s for s, _, _ in got), [200] * n, "statuses")
        outcomes = sorted(b["outcome"] for _, _, b in got)
        eq(outcomes, ["allow"] + ["defer"] * (n - 1), "one allow")
        eq(active_rows(d.store), 1, "one in flight")
        winner = next(b["change"] for _, _, b in got if b["outcome"] == "allow")
        # the end lets exactly one more go
        s, _, b = d.request("POST", f"/v1/changes/{winner}/end", {"by": "ci", "result": "succeeded"})
        eq((b["reevaluated"], b["changed"] >= 1), (n - 1, True), "all held decided again")
        s, _, l = d.request("GET", "/v1/changes?outcome=allow&limit=1000", token="r")
        eq(len(l["changes"]), 2, "two allowed in all")
        eq(active_rows(d.store), 1, "still one in flight")
    finally:
        d.stop()


def test_live_restart(tmp):
    """The changes in flight and those held survive a restart."""
    d = live(tmp)
    try:
        s, _, b = d.request("POST", "/v1/events", ch("k1", "web"))
        is_decision(b, "allow")
        s, _, b = d.request("POST", "/v1/events", ch("k2", "web"))
        is_decision(b, "defer")
    finally:
        d.stop()
    d = live(tmp, store=d.store)
    try:
        eq(in_flight(d, "k1")["active"], True, "k1 still in flight")
        eq(metric(d, "chgd_changes_in_flight"), 1.0, "gauge after the restart")
        s, _, b = d.request("POST", "/v1/events", ch("k3", "web"))
        is_decision(b, "defer")
        eq(limit_reasons(b)[0]["message"].split(" (")[1].split(")")[0], '"k1"', "k1 counted after the restart")
        s, _, b = d.request("POST", "/v1/changes/k1/end", {"by": "ci", "result": "failed", "at": START})
        eq((s, b["changed"]), (200, 2), "k2 and k3 decided again")
        outcomes = [d.request("GET", f"/v1/changes/{c}", token="r")[2]["outcome"] for c in ("k2", "k3")]
        eq(outcomes, ["allow", "defer"], "k2, first held, goes")
    finally:
        d.stop()


EMERGENCY_POLICY = """policy "live-emergency" version "1"
schema change {
  id:        string
  service:   string
  emergency: bool = false
  approvals: [{ by: string, group: string, at: time }]
}
risk high
classify { default high }
approvals {
  high      => none
  emergency => 1 of group "incident-commander"
}
concurrency one_per_service = 1 of any per change.service
"""


def test_emergency_not_held(tmp):
    """An approved emergency is not held by a full limit, but counts while
    in flight."""
    policy = os.path.join(tmp, "emergency.chg")
    with open(policy, "w") as f:
        f.write(EMERGENCY_POLICY)
    d = Daemon(tmp, "--fake-clock", START, "--dry-run", policy=policy)
    ic = [{"by": "ivy", "group": "incident-commander", "at": "2026-12-02T09:59:00Z"}]
    try:
        s, _, b = d.request("POST", "/v1/events", {"id": "n1", "service": "web", "approvals": []})
        is_decision(b, "allow")
        s, _, b = d.request("POST", "/v1/events", {"id": "e1", "service": "web", "emergency": True, "approvals": ic})
        is_decision(b, "allow")
        eq((b["emergency"], limit_reasons(b)), (True, []), "break-glass goes")
        eq(in_flight(d, "e1")["active"], True, "and counts")
        s, _, b = d.request("POST", "/v1/events", {"id": "n2", "service": "web", "approvals": []})
        is_decision(b, "defer")
        eq(limit_reasons(b)[0]["message"].split(" (")[1].split(")")[0], '"e1", "n1"', "both in flight")
    finally:
        d.stop()


def test_reload_unknown_class(tmp):
    """A change in flight whose class a reloaded policy does not have
    counts under every limit, as the highest class."""
    policy = os.path.join(tmp, "classes.chg")
    text = ('policy "live-classes" version "1"\n'
            'schema change { id: string, env: enum("dev", "prod") }\n'
            'risk LOW < HIGH\nclassify {\n  HIGH when change.env == "prod"\n  default LOW\n}\n'
            'concurrency prod_load = 1 of risk >= HIGH\n')
    with open(policy, "w") as f:
        f.write(text.replace("LOW", "low").replace("HIGH", "high"))
    d = Daemon(tmp, "--fake-clock", START, "--dry-run", policy=policy)
    try:
        s, _, b = d.request("POST", "/v1/events", {"id": "x1", "env": "dev"})
        is_decision(b, "allow")
        eq(in_flight(d, "x1")["active"], True, "a low change in flight")
        s, _, b = d.request("POST", "/v1/events", {"id": "x2", "env": "prod"})
        is_decision(b, "allow")  # low is below the limit's class
        s, _, b = d.request("POST", "/v1/changes/x2/end", {"by": "ci", "result": "succeeded"})
        with open(policy, "w") as f:
            f.write(text.replace("LOW", "minor").replace("HIGH", "major"))
        s, _, b = d.request("POST", "/v1/reload")
        eq((s, b["ok"]), (200, True), "reload")
        s, _, b = d.request("POST", "/v1/events", {"id": "x3", "env": "prod"})
        is_decision(b, "defer")
        eq(limit_reasons(b)[0]["message"].split(" (")[1].split(")")[0], '"x1"', "x1, of no class now, counts")
    finally:
        d.stop()


def write_policy(tmp, text):
    path = os.path.join(tmp, "live.chg")
    with open(path, "w") as f:
        f.write(text)
    return path


def outcome_of(d, cid):
    s, _, c = d.request("GET", f"/v1/changes/{cid}", token="r")
    eq(s, 200, f"GET {cid}")
    return [(x["outcome"], x["cause"]) for x in c["decisions"]]


def test_revision_takes_period_over(tmp):
    """A new revision of a change in flight is counted by its new content
    and class from its first since (red-team r1), and one that does not
    fit there is held (its first revision keeps the place)."""
    d = live(tmp)
    try:
        def post(c):
            return d.request("POST", "/v1/events", c)[2]
        is_decision(post(ch("a", "payments")), "allow")
        a2 = post(ch("a", "search", "prod"))
        eq((a2["revision"], a2["outcome"]), (2, "allow"), "a rev 2 fits")
        eq((in_flight(d, "a")["revision"], in_flight(d, "a")["since"]), (2, START),
           "the period is revision 2's, from revision 1's since")
        b = post(ch("b", "search"))
        eq((b["outcome"], [r["limit"] for r in limit_reasons(b)]), ("defer", ["one_per_service"]),
           "b is held: a runs on search now")
        is_decision(post(ch("p1", "s1", "prod")), "allow")
        p2 = post(ch("p2", "s2", "prod"))
        eq((p2["outcome"], [r["limit"] for r in limit_reasons(p2)]), ("defer", ["prod_load"]),
           "a (prod now) and p1 take prod_load's 2 places")
        # a revision that does not fit is held; revision 2 keeps its place
        a3 = post(ch("a", "s1"))
        eq((a3["revision"], a3["outcome"], [r["limit"] for r in limit_reasons(a3)]), (3, "defer", ["one_per_service"]),
           "a rev 3 onto p1's service is held")
        eq((in_flight(d, "a")["revision"], in_flight(d, "a")["active"]), (2, True), "revision 2 still in flight")
    finally:
        d.stop()


def test_revised_then_ended_stays_ended(tmp):
    """A change revised in flight, then ended: a later re-decision (an
    approval) neither holds it nor flies it again (red-team r8)."""
    d = live(tmp)
    try:
        d.request("POST", "/v1/events", ch("a", "web"))
        d.request("POST", "/v1/events", ch("a", "web", duration=600))
        d.request("POST", "/v1/changes/a/end", {"by": "ci", "result": "succeeded"})
        is_decision(d.request("POST", "/v1/events", ch("b", "web"))[2], "allow")
        s, _, ap = d.request("POST", "/v1/changes/a/approvals", {"by": "bob"})
        eq(ap["outcome"], "allow", "a stays allowed and done")
        eq(in_flight(d, "a")["active"], False, "a is not in flight again")
        eq(queued(d.store, "a"), ["changes", "changes"], "allow's actions of revisions 1 and 2 only")
    finally:
        d.stop()


def test_in_flight_counted_whatever_since(tmp):
    """A change in flight with a since later than the new change's start
    counts (red-team r2b: a clock stepped back; r2: a slow judgment)."""
    write_policy(tmp, 'policy "p" version "1"\nschema change { id: string, service: string }\n'
                      'concurrency one_per_service = 1 of any per change.service\n')
    d = live(tmp)
    try:
        is_decision(d.request("POST", "/v1/events", {"id": "a", "service": "web"})[2], "allow")
    finally:
        d.stop()
    d = Daemon(tmp, "--fake-clock", "2026-12-02T09:59:59Z", "--dry-run", policy=os.path.join(tmp, "live.chg"),
               store=d.store)
    try:
        s, _, b = d.request("POST", "/v1/events", {"id": "b", "service": "web"})
        eq((b["outcome"], [r["limit"] for r in limit_reasons(b)]), ("defer", ["one_per_service"]),
           "b is held behind a, in flight since a second later")
    finally:
        d.stop()


def test_integer_id_and_no_id(tmp):
    """An integer id is followed by its decimal text; under limits a
    change without a usable id is refused, not let through (red-team r7)."""
    write_policy(tmp, 'policy "p" version "1"\nschema change { id: int?, service: string }\n'
                      'concurrency one_per_service = 1 of any per change.service\n')
    d = live(tmp)
    try:
        outs = [d.request("POST", "/v1/events", {"id": i, "service": "web"})[2]["outcome"] for i in (101, 102)]
        eq(outs, ["allow", "defer"], "the second numeric id of web is held")
        eq(in_flight(d, "101")["active"], True, "followed as \"101\"")
        s, _, b = d.request("POST", "/v1/changes/101/end", {"by": "ci", "result": "succeeded"})
        eq((s, b["changed"]), (200, 1), "102 let go by 101's end")
        eq(outcome_of(d, "102")[0], ("allow", "end"), "102 allowed")
        s, _, e = d.request("POST", "/v1/events", {"service": "web"})
        is_error(s, e, "no_change_id", 422)
        eq(metric(d, "chgd_changes_in_flight"), 1.0, "nothing else in flight")
    finally:
        d.stop()


def test_change_id_shapes(tmp):
    """The change id an event is followed by (its audit record's
    change_id), read from the change's text without parsing it into a
    tree: a string as it is (escapes, UTF-8, nested objects with their own
    "id" before it in key order, keys beside "id"), an integer by its
    decimal text, anything else none."""
    write_policy(tmp, 'policy "p" version "1"\n')
    d = Daemon(tmp, policy=os.path.join(tmp, "live.chg"))
    cases = [({"id": 'q"b\\s\u0001'}, 'q"b\\s\u0001'), ({"id": "\u00e9t\u00e9 \U0001f680"}, "\u00e9t\u00e9 \U0001f680"),
             ({"a": {"id": "inner", "l": [{"id": 1}, "}", "]"]}, "i": 2, "id": "outer", "idx": "x"}, "outer"),
             ({"id": ""}, ""), ({"id": 7}, "7"), ({"id": -12}, "-12"), ({"id": 9007199254740993}, "9007199254740993"),
             ({"id": 1.5}, None), ({"id": 1e3}, None), ({"id": True}, None), ({"id": None}, None),
             ({"id": {"id": "x"}}, None), ({"id": ["x"]}, None), ({"a\\": 1, "id": "after an escaped key"},
                                                                  "after an escaped key"), ({"x": 1}, None), ({}, None)]
    try:
        for i, (change, _) in enumerate(cases):
            s, _, b = d.request("POST", "/v1/events", change, headers={"Idempotency-Key": f"shape-{i}"})
            eq(s, 200, f"event {change!r}")
        got = [data["change_id"] for _, _, data in audit_rows(d.store, "event")]
        eq(got, [want for _, want in cases], "each event's change id")
    finally:
        d.stop()

def test_ended_delivered_again(tmp):
    """An ended change delivered again (same content, a new delivery) is
    checked against the limits and starts a new period (red-team r5)."""
    d = live(tmp)
    try:
        d.request("POST", "/v1/events", ch("a", "web"))
        d.request("POST", "/v1/changes/a/end", {"by": "ci", "result": "failed"})
        is_decision(d.request("POST", "/v1/events", ch("b", "web"))[2], "allow")
        s, _, a2 = d.request("POST", "/v1/events", ch("a", "web"), headers={"Idempotency-Key": "retry-1"})
        eq((a2["revision"], a2["outcome"], [r["limit"] for r in limit_reasons(a2)]), (1, "defer", ["one_per_service"]),
           "a retried while b runs is held")
        d.request("POST", "/v1/changes/b/end", {"by": "ci", "result": "succeeded"})
        eq(outcome_of(d, "a")[0], ("allow", "end"), "a allowed again")
        f = in_flight(d, "a")
        eq((f["active"], f["revision"]), (True, 1), "a new period of revision 1")
    finally:
        d.stop()


UNTRACKED = '''policy "p" version "1"
schema change { id: string, service: string }
freeze incident = flag "incident-freeze"
on allow
  do aws.sns.publish("arn:aws:sns:us-east-1:111122223333:changes", summary)
on defer
  do aws.sns.publish("arn:aws:sns:us-east-1:111122223333:held", reason)
'''


def test_untracked_allow_not_restarted(tmp):
    """A change allowed before the policy had limits is not made a new
    start by a later re-decision (red-team r3)."""
    write_policy(tmp, UNTRACKED)
    d = live(tmp)
    try:
        is_decision(d.request("POST", "/v1/events", {"id": "old", "service": "web"})[2], "allow")
        write_policy(tmp, UNTRACKED + "concurrency one_per_service = 1 of any per change.service\n")
        eq(d.request("POST", "/v1/reload")[2]["ok"], True, "reload adds the limit")
        is_decision(d.request("POST", "/v1/events", {"id": "new", "service": "web"})[2], "allow")
        d.request("PUT", "/v1/flags/incident-freeze", {"by": "ops", "why": "incident"})
        d.request("DELETE", "/v1/flags/incident-freeze", {"by": "ops", "why": "over"})
        eq(outcome_of(d, "old")[0][0], "allow", "old stays allowed")
        eq(in_flight(d, "old"), None, "and not in flight")
        d.request("POST", "/v1/changes/new/end", {"by": "ci", "result": "succeeded"})
        eq(in_flight(d, "old"), None, "not put in flight by new's end")
        eq(queued(d.store, "old"), ["changes"], "allow's actions once")
    finally:
        d.stop()


def test_reload_lets_held_go(tmp):
    """A reload that raises a limit decides the held changes again at
    once (red-team r6)."""
    base = 'policy "p" version "1"\nschema change { id: string, service: string }\n' \
           'concurrency one_per_service = %d of any per change.service\n'
    write_policy(tmp, base % 1)
    d = live(tmp)
    try:
        d.request("POST", "/v1/events", {"id": "a", "service": "web"})
        is_decision(d.request("POST", "/v1/events", {"id": "h", "service": "web"})[2], "defer")
        write_policy(tmp, base % 3)
        eq(d.request("POST", "/v1/reload")[2]["ok"], True, "reload: 1 -> 3")
        eq(outcome_of(d, "h")[0], ("allow", "reload"), "h allowed by the reload")
        eq(in_flight(d, "h")["active"], True, "h in flight")
    finally:
        d.stop()


def test_docs_live(tmp):
    """The curl examples of docs/daemon.md's "Live changes" run, in order,
    against a chgd on the policy that section shows."""
    doc = open(os.path.join(ROOT, "docs", "daemon.md"), encoding="utf-8").read()
    section = re.search(r"^## Live changes.*?^(?=## )", doc, re.M | re.S).group(0)
    policy = re.search(r"^```chg file=live.chg\n(.*?)^```", section, re.M | re.S).group(1)
    with open(os.path.join(tmp, "live.chg"), "w") as f:
        f.write(policy)
    curls = [b for b in re.findall(r"^```sh\n(.*?)^```", section, re.M | re.S) if "curl " in b]
    if not any("/end\"" in b for b in curls):
        raise AssertionError("no curl example of the end call")
    d = Daemon(tmp, "--fake-clock", START, "--dry-run", policy=os.path.join(tmp, "live.chg"))
    try:
        outs = run_curls(d, curls)
    finally:
        d.stop()
    # the answer shown is the answer given
    end = next(o for b, o in zip(curls, outs) if "/end\"" in b)
    shown = re.search(r"^```json\n(\{\"change\":\"chg-2001\".*?)\n```", section, re.M | re.S).group(1)
    eq(json.loads(end.strip().splitlines()[-1]), json.loads(shown), "the end call's answer as docs/daemon.md shows it")


if __name__ == "__main__":
    sys.exit(run_tests(globals(), "chgd-live-"))
