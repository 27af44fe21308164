#!/usr/bin/env python3
"""End-to-end tests of `chgc simulate`: the worked example of
docs/simulate.md run as written, a schedule on the policy library's
production.chg with hand-checked answers (a change straddling the night
the clocks go back, a freeze boundary, a window too short, conflicts on
one service and through a dependency), bad input, the two calendars read
back with libical, and the page in headless chromium.

    test_simulate.py CHGC REPO_ROOT ICS_PARSE ARTIFACT_DIR

The page test writes its screenshot to ARTIFACT_DIR/simulate.png.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

CHGC = ROOT = ICS_PARSE = ARTIFACTS = None

POLICY = """policy "p" version "1"
schema change {
  id:        string
  service:   string
  env:       enum("dev", "prod")
  approvals: [{ by: string, group: string, at: time }] = []
}
risk low < high
classify {
  high    when change.env == "prod"
  default low
}
window nights = daily 22:00..02:00 in "UTC"
freeze holidays = 2026-12-24T00:00 .. 2026-12-27T00:00 in "UTC"
approvals {
  low  => none
  high => 1 of group "lead"
}
rule at_night mandatory:
  when risk >= high
  require window nights
rule no_holidays overridable:
  when change.env == "prod"
  deny during holidays "frozen: {freeze}"
"""

RANGE = ["--from", "2026-12-01T00:00:00Z", "--to", "2027-01-01T00:00:00Z"]


def chgc(*args, cwd=None, stdin=None):
    p = subprocess.run([CHGC] + list(args), cwd=cwd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8")


def prod(id, service="web", approved="2026-11-30T00:00:00Z"):
    c = {"id": id, "service": service, "env": "prod"}
    if approved:
        c["approvals"] = [{"by": "al", "group": "lead", "at": approved}]
    return c


class Base(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp(prefix="chg-simulate-")
        self.write("p.chg", POLICY)

    def tearDown(self):
        shutil.rmtree(self.d)

    def write(self, name, text):
        with open(os.path.join(self.d, name), "w", encoding="utf-8") as f:
            f.write(text if isinstance(text, str) else json.dumps(text))
        return name

    def simulate(self, *args, stdin=None):
        return chgc("simulate", *args, cwd=self.d, stdin=stdin)

    def report(self, plan, *args):
        self.write("plan.json", plan)
        rc, out, err = self.simulate("p.chg", "--changes", "plan.json", "-f", "json", *RANGE, *args)
        self.assertIn(rc, (0, 1), err)
        self.assertEqual(err, "")
        r = json.loads(out)
        return rc, r, {c["id"]: c for c in r["changes"]}


class Docs(Base):
    def test_docs_example(self):
        """Every `file=` block of docs/simulate.md is written, and every
        `command=` block is the exact output of its command."""
        with open(os.path.join(ROOT, "docs", "simulate.md"), encoding="utf-8") as f:
            text = f.read()
        blocks = re.findall(r"^```(\w+) ([^\n]*)\n(.*?)^```", text, re.M | re.S)
        ran = 0
        for _, words, body in blocks:
            m = re.match(r'file=(\S+)', words)
            if m:
                self.write(m.group(1), body)
                continue
            m = re.match(r'command="chgc ([^"]*)" status=(\d)', words)
            if m:
                rc, out, err = chgc(*m.group(1).split(), cwd=self.d)
                self.assertEqual((out, err, rc), (body, "", int(m.group(2))), m.group(1))
                ran += 1
        self.assertEqual(ran, 2)


class PolicyLibrary(unittest.TestCase):
    """production.chg of policies/ with tests/fixtures/simulate/production_plan.json,
    October 12 to November 12, 2026. Every answer below was worked out by
    hand from the policy's windows (weeknights 22:00 New York for 6h,
    Sundays 02:00-06:00 Berlin), its freezes (the ops calendar's DR test
    on Oct 15, 08:00-20:00 New York; month-end for the ledger) and its
    approvals (high: 2 of cab within 72h; medium: 1 team lead)."""

    @classmethod
    def setUpClass(cls):
        cls.d = tempfile.mkdtemp(prefix="chg-simulate-lib-")
        cls.plan = os.path.join(ROOT, "tests", "fixtures", "simulate", "production_plan.json")
        cls.args = [os.path.join(ROOT, "policies", "production.chg"), "--changes", cls.plan, "--facts",
                    os.path.join(ROOT, "policies", "examples", "facts.json"), "--from", "2026-10-12T00:00:00Z",
                    "--to", "2026-11-12T00:00:00Z"]
        rc, out, err = chgc("simulate", *cls.args, "-f", "json", cwd=cls.d)
        assert rc == 1 and err == "", (rc, err)
        cls.r = json.loads(out)
        cls.c = {c["id"]: c for c in cls.r["changes"]}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.d)

    def test_dst_night_is_five_hours(self):
        """Sunday Oct 25: Berlin's 02:00-06:00 runs 00:00Z-05:00Z, five
        hours, as the clocks go back at 03:00; a 4h30m change fits. A week
        later the window is 01:00Z-05:00Z again and the same change runs
        past it: its earliest slot is Monday's weeknight in New York,
        22:00 EST = Nov 3 03:00Z (New York left DST on Nov 1)."""
        a, b = self.c["dst-fits"], self.c["dst-after"]
        self.assertEqual((a["outcome"], a["fits"], a["conflicts"]), ("allow", True, []))
        # approved Oct 23 12:00Z: the first slot after is Friday 22:00 New York
        self.assertEqual(a["earliest"], "2026-10-24T02:00:00Z")
        self.assertEqual((b["outcome"], b["fits"], b["earliest"]), ("allow", False, "2026-11-03T03:00:00Z"))
        self.assertEqual(b["windows"], ["any_slot"])
        self.assertEqual([(k["kind"], k["rule"]) for k in b["conflicts"]],
                         [("window", "its window closes at 2026-11-01T05:00:00Z, before it ends: "
                                     "window any_slot is closed (rule prod_windows)")])

    def test_freeze_boundary(self):
        """The DR test freezes production from Oct 15 12:00Z to Oct 16
        00:00Z. A change planned inside it, approved inside it, goes at
        the freeze's last instant + 1s: exactly 00:00Z. One planned to
        run into it can go as soon as it is approved (Oct 14 09:00Z)."""
        e, i = self.c["dr-edge"], self.c["dr-into"]
        self.assertEqual((e["outcome"], e["fits"], e["earliest"], e["freezes"]),
                         ("deny", False, "2026-10-16T00:00:00Z", ["ops_calendar"]))
        self.assertEqual([k["rule"] for k in e["conflicts"]],
                         ["planned inside freeze ops_calendar (rule no_prod_in_freeze)"])
        self.assertEqual((i["outcome"], i["fits"], i["earliest"]), ("allow", False, "2026-10-14T09:00:00Z"))
        self.assertEqual([k["rule"] for k in i["conflicts"]],
                         ["runs into freeze ops_calendar at 2026-10-15T12:00:00Z (rule no_prod_in_freeze)"])
        self.assertEqual(self.r["freezes"][1], {"name": "ops_calendar", "start": "2026-10-15T12:00:00Z",
                                                "end": "2026-10-16T00:00:00Z"})

    def test_window_too_short(self):
        """7h never fits a 6h weeknight or a 4h Sunday. With its own
        approvals (72h old by Oct 16) it runs out of approvals first;
        given a day's lead for approvals, it runs out of windows."""
        t = self.c["too-long"]
        self.assertEqual((t["fits"], t["earliest"]), (False, None))
        self.assertEqual(t["no_slot"], "it needs approvals it does not have (2 of group cab within 72h)")
        rc, out, err = chgc("simulate", *self.args, "-f", "json", "--approval-lead", "1d", cwd=self.d)
        t = {c["id"]: c for c in json.loads(out)["changes"]}["too-long"]
        self.assertEqual((t["earliest"], t["no_slot"]), (None, "no slot of 7h in the range: where it may go, its "
                                                               "windows are shorter or a freeze starts sooner"))

    def test_approval_lead(self):
        """Given a day for what they still need, changes may go from
        Oct 13 00:00Z on: dst-after (approved only on Oct 31) takes the
        first 6h weeknight after that, Oct 13 02:00Z."""
        rc, out, err = chgc("simulate", *self.args, "-f", "json", "--approval-lead", "1d", cwd=self.d)
        c = {c["id"]: c for c in json.loads(out)["changes"]}
        self.assertEqual((c["dst-after"]["earliest"], c["dst-after"]["earliest_needs_lead"]),
                         ("2026-10-13T02:00:00Z", True))
        self.assertEqual((c["dr-into"]["earliest"], c["dr-into"]["earliest_needs_lead"]),
                         ("2026-10-13T00:00:00Z", True))

    def test_conflicts(self):
        """web-a and web-b overlap on web from 15:00 to 16:00; checkout
        depends on payments, which depends on ledger: every pair of
        pay-1, chk-1 and led-1 overlaps, each through its dependency."""
        got = [(k["kind"], k["changes"], k["rule"], k["start"], k["end"]) for k in self.r["conflicts"]
               if k["kind"] in ("service", "dependency")]
        self.assertEqual(got, [
            ("service", ["web-a", "web-b"], "both change service web", "2026-10-20T15:00:00Z", "2026-10-20T16:00:00Z"),
            ("dependency", ["pay-1", "chk-1"], "checkout depends on payments", "2026-10-21T11:00:00Z",
             "2026-10-21T12:00:00Z"),
            ("dependency", ["pay-1", "led-1"], "payments depends on ledger", "2026-10-21T11:30:00Z",
             "2026-10-21T12:00:00Z"),
            ("dependency", ["chk-1", "led-1"], "checkout depends on ledger through payments", "2026-10-21T11:30:00Z",
             "2026-10-21T12:30:00Z"),
        ])
        self.assertEqual(self.r["count"], {"changes": 10, "fit": 6, "no_slot": 1, "conflicts": 8})

    def test_decision_is_the_evaluators(self):
        """The decision at the planned instant is chgc eval's, byte for byte."""
        with open(self.plan) as f:
            plan = json.load(f)
        item = plan[2]
        path = os.path.join(self.d, "one.json")
        with open(path, "w") as f:
            json.dump(item["change"], f)
        rc, out, err = chgc("eval", os.path.join(ROOT, "policies", "production.chg"), "--event", path, "--facts",
                            os.path.join(ROOT, "policies", "examples", "facts.json"), cwd=self.d)
        self.assertEqual(json.loads(out), self.c["dr-edge"]["decision"])


class Semantics(Base):
    def test_fits_and_exit_status(self):
        rc, r, c = self.report([{"change": prod("c1"), "at": "2026-12-02T22:00:00Z", "duration": "2h"}])
        self.assertEqual(rc, 0)
        self.assertEqual((c["c1"]["fits"], c["c1"]["earliest"], c["c1"]["end"]),
                         (True, "2026-12-01T00:00:00Z", "2026-12-03T00:00:00Z"))

    def test_duration_past_the_window(self):
        """22:00-02:00 holds 4h; 4h01m fits nowhere; planned at 23:00 for
        4h it must wait for 22:00 the next night."""
        rc, r, c = self.report([
            {"change": prod("long"), "at": "2026-12-02T22:00:00Z", "duration": "4h1m"},
            {"change": prod("late", service="db"), "at": "2026-12-02T23:00:00Z", "duration": "4h"},
        ])
        self.assertEqual(rc, 1)
        self.assertEqual(c["long"]["earliest"], None)
        self.assertEqual(c["late"]["earliest"], "2026-12-01T22:00:00Z")

    def test_freeze_never_straddled(self):
        """A slot must not run into a freeze: on Dec 23 the window is cut
        at midnight by the freeze (2h), on Dec 26 the freeze ends at
        midnight, inside the window (2h again): the first 3h slot is the
        night of Dec 27."""
        rc, r, c = self.report([{"change": prod("c"), "at": "2026-12-24T22:00:00Z", "duration": "3h"}],
                               "--from", "2026-12-23T00:00:00Z")
        self.assertEqual(c["c"]["earliest"], "2026-12-27T22:00:00Z")
        self.assertEqual((c["c"]["windows"], c["c"]["freezes"]), (["nights"], ["holidays"]))

    def test_pending_without_lead(self):
        rc, r, c = self.report([{"change": prod("c", approved=None), "at": "2026-12-02T22:00:00Z"}])
        self.assertEqual((c["c"]["outcome"], c["c"]["earliest"], c["c"]["needs"]),
                         ("pending", None, ["1 of group lead"]))
        self.assertEqual(c["c"]["no_slot"], "it needs approvals it does not have (1 of group lead)")
        rc, r, c = self.report([{"change": prod("c", approved=None), "at": "2026-12-02T22:00:00Z"}],
                               "--approval-lead", "36h")
        self.assertEqual((c["c"]["earliest"], c["c"]["earliest_needs_lead"]), ("2026-12-02T22:00:00Z", True))

    def test_approval_later_than_range_start(self):
        """Approved at 23:30 on Dec 1: the first slot is then, not the
        night before or the planned one."""
        rc, r, c = self.report([{"change": prod("c", approved="2026-12-01T23:30:00Z"), "at": "2026-12-05T22:00:00Z"}])
        self.assertEqual(c["c"]["earliest"], "2026-12-01T23:30:00Z")

    def test_bare_changes_take_the_policys_at(self):
        self.write("p.chg", POLICY.replace('  approvals: [{', '  requested_at: time\n  approvals: [{') +
                   "at change.requested_at\n")
        bare = dict(prod("c"), requested_at="2026-12-03T23:00:00Z")
        rc, r, c = self.report([bare], "--duration", "2h")
        self.assertEqual((c["c"]["at"], c["c"]["end"], c["c"]["fits"]),
                         ("2026-12-03T23:00:00Z", "2026-12-04T01:00:00Z", True))
        # "at" of the wrapper is the planned instant even so
        rc, r, c = self.report([{"change": bare, "at": "2026-12-03T12:00:00Z"}])
        self.assertEqual((c["c"]["at"], c["c"]["outcome"]), ("2026-12-03T12:00:00Z", "defer"))

    def test_concurrency_limit_hit(self):
        """Issue 13 point 8, a concurrency limit hit. Limits: 1 change of
        any risk per service, 2 high-risk changes in all. a (web, 22:00 for
        2h), c (api, 22:30 for 1h) and b (web, 23:00 for 30m) are high: b
        starts with a in flight on web (one_per_service) and with a and c
        in flight (cab_load), one conflict with each, over 23:00..23:30.
        d is low risk (dev): not counted by cab_load, alone on db. e (api,
        23:30) starts as b and c end, [start, end): only a is in flight,
        under both limits."""
        self.write("p.chg", POLICY + "concurrency one_per_service = 1 of any per change.service\n"
                                     "concurrency cab_load        = 2 of risk >= high\n")
        day = "2026-12-02T"
        plan = [{"change": prod("a"), "at": day + "22:00:00Z", "duration": "2h"},
                {"change": prod("b"), "at": day + "23:00:00Z", "duration": "30m"},
                {"change": prod("c", service="api"), "at": day + "22:30:00Z", "duration": "1h"},
                {"change": {"id": "d", "service": "db", "env": "dev"}, "at": day + "23:10:00Z", "duration": "10m"},
                {"change": prod("e", service="api"), "at": day + "23:30:00Z", "duration": "20m"}]
        rc, r, c = self.report(plan)
        b_starts = 'change "b" starts at 2026-12-02T23:00:00Z while '
        one = b_starts + ('1 change is in flight with change.service = "web" ("a"): '
                          'concurrency one_per_service allows 1 of any per change.service')
        cab = b_starts + '2 changes are in flight ("a", "c"): concurrency cab_load allows 2 of risk >= high'
        span = (day + "23:00:00Z", day + "23:30:00Z")
        got = [(k["kind"], k["changes"], k["rule"], k["start"], k["end"]) for k in r["conflicts"]]
        self.assertEqual(got, [
            ("service", ["a", "b"], "both change service web", *span),
            ("concurrency", ["a", "b"], one, *span),
            ("concurrency", ["a", "b"], cab, *span),
            ("concurrency", ["c", "b"], cab, *span),
        ])
        self.assertEqual({i: len(c[i]["conflicts"]) for i in c}, {"a": 3, "b": 4, "c": 1, "d": 0, "e": 0})
        self.assertEqual((rc, r["count"]["conflicts"]), (1, 4))
        # the same report on a terminal, each conflict named on both changes
        rc, out, err = self.simulate("p.chg", "--changes", "plan.json", *RANGE)
        self.assertIn("                      conflict (concurrency): with c, " + cab + "\n", out)
        self.assertEqual(out.count("conflict (concurrency): with b, " + cab), 2)

    def test_jsonl_equals_array(self):
        plan = [{"change": prod("a"), "at": "2026-12-02T22:00:00Z"}, {"change": prod("b"), "at": "2026-12-02T22:30:00Z"}]
        self.write("plan.json", plan)
        self.write("plan.jsonl", "\n".join(json.dumps(x) for x in plan) + "\n\n")
        a = self.simulate("p.chg", "--changes", "plan.json", *RANGE)
        b = self.simulate("p.chg", "--changes", "plan.jsonl", *RANGE)
        self.assertEqual(a, b)
        self.assertIn("conflict (service): with b, both change service web", a[1])

    def test_deterministic(self):
        plan = [{"change": prod(str(i), service="s%d" % (i % 3)), "at": "2026-12-%02dT22:00:00Z" % (1 + i % 28)}
                for i in range(60)]
        self.write("plan.json", plan)
        outs = set()
        for f in ("text", "json", "html"):
            x = self.simulate("p.chg", "--changes", "plan.json", *RANGE, "-f", f)
            y = self.simulate("p.chg", "--changes", "plan.json", *RANGE, "-f", f)
            self.assertEqual(x, y)
            outs.add(x[1])
        self.assertEqual(len(outs), 3)

    def test_default_range(self):
        self.write("plan.json", [{"change": prod("c"), "at": "2026-12-02T22:00:00Z"}])
        rc, out, err = self.simulate("p.chg", "--changes", "plan.json", "-f", "json")
        r = json.loads(out)
        self.assertEqual((r["from"], r["to"]), ("2026-12-02T22:00:00Z", "2027-01-01T23:00:00Z"))

    def test_progress_on_a_terminal_only(self):
        """Progress is written to standard error when it is a terminal,
        and cleared at the end; never with --quiet."""
        import pty
        plan = [{"change": prod(str(i), service="s%d" % i), "at": "2026-12-%02dT23:00:00Z" % (1 + i % 20),
                 "duration": "1h"} for i in range(1000)]
        self.write("plan.json", plan)
        for quiet in (False, True):
            master, slave = pty.openpty()
            p = subprocess.Popen([CHGC, "simulate", "p.chg", "--changes", "plan.json", *RANGE, "-f", "json"]
                                 + (["--quiet"] if quiet else []), cwd=self.d, stdout=subprocess.DEVNULL,
                                 stderr=slave)
            os.close(slave)
            seen = b""
            while True:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
            os.close(master)
            self.assertEqual(p.wait(timeout=120), 0)
            if quiet:
                self.assertEqual(seen, b"")
            else:
                self.assertRegex(seen.decode(), r"\rsimulate: \d+ changes\x1b\[K")
                self.assertTrue(seen.endswith(b"\r\x1b[K"), seen[-40:])

    def test_no_progress_when_not_a_terminal(self):
        plan = [{"change": prod(str(i)), "at": "2026-12-02T22:00:00Z"} for i in range(300)]
        self.write("plan.json", plan)
        rc, out, err = self.simulate("p.chg", "--changes", "plan.json", *RANGE)
        self.assertEqual(err, "")


class BadInput(Base):
    def bad(self, text, *args):
        self.write("plan.json", text)
        rc, out, err = self.simulate("p.chg", "--changes", "plan.json", *RANGE, *args)
        self.assertEqual((rc, out), (2, ""), err)
        return err

    def test_paths(self):
        err = self.bad(json.dumps([
            {"change": prod("a"), "at": "tomorrow"},
            {"change": prod("b"), "at": "2026-12-02T22:00:00Z", "duration": "2 hours"},
            {"change": prod("c"), "at": "2026-12-02T22:00:00Z", "durations": "2h"},
            {"change": prod("d"), "at": "2026-12-02T22:00:00Z", "depends_on": ["db", 3]},
            {"change": "e"},
            17,
            {"change": prod("g"), "at": "2026-12-02T22:00:00Z", "duration": "0s"},
            prod("h"),
        ]))
        self.assertEqual(err, (
            "plan.json: [0]: .at: must be an RFC 3339 instant\n"
            "plan.json: [1]: .duration: must be a duration of at least 1s, as a policy writes it (\"2h\", \"1h30m\")\n"
            "plan.json: [2]: .durations: not a member of a planned change (change, at, duration, depends_on)\n"
            "plan.json: [3]: .depends_on[1]: must be a service name (a non-empty string)\n"
            "plan.json: [4]: .change: must be the change, a JSON object\n"
            "plan.json: [5]: a planned change is a JSON object: a change, or {\"change\": {…}, \"at\": …, "
            "\"duration\": …}\n"
            "plan.json: [6]: .duration: must be a duration of at least 1s, as a policy writes it (\"2h\", \"1h30m\")\n"
            "plan.json: [7]: no \"at\", and the policy has no `at` to plan the change at: give {\"change\": {…}, "
            "\"at\": \"RFC 3339\"}\n"))

    def test_lines(self):
        err = self.bad('{"change": {"id": "a"}, "at": "2026-12-02T22:00:00Z"}\n{"change": \n[1]\n')
        self.assertEqual(err, "plan.json: line 2, column 11: unexpected token near end of file\n"
                              "plan.json: line 3: a planned change is a JSON object: a change, or {\"change\": "
                              "{…}, \"at\": …, \"duration\": …}\n")

    def test_malformed_array(self):
        err = self.bad('[{"change": {"id": "a"},\n "at": 2026}, ]')
        self.assertEqual(err, "plan.json: line 2, column 15: unexpected token near ']'\n")

    def test_twice(self):
        err = self.bad(json.dumps([{"change": prod("a"), "at": "2026-12-02T22:00:00Z"}] * 2))
        self.assertEqual(err, "plan.json: [1]: change a is planned twice (also [0]); each planned change needs "
                              "its own id\n")

    def test_usage(self):
        self.write("plan.json", "[]")
        self.assertEqual(self.simulate("p.chg", "--changes", "plan.json", "-f", "ics")[0], 2)
        rc, out, err = self.simulate("p.chg", "--changes", "plan.json")
        self.assertEqual((rc, err), (2, "plan.json: no planned changes, and no --from and --to to show a range of\n"))
        rc, out, err = self.simulate("p.chg", "--changes", "plan.json", *RANGE)
        self.assertEqual(rc, 0)
        self.assertIn("0 planned changes", out)
        rc, out, err = self.simulate("p.chg", *RANGE)
        self.assertEqual(rc, 2)
        self.write("bad.chg", "policy \"x\"\nrule r mandatory: when nope deny \"x\"\n")
        rc, out, err = self.simulate("bad.chg", "--changes", "plan.json", *RANGE)
        self.assertEqual((rc, out), (2, ""))


class Calendars(Base):
    PLAN = [{"change": prod("c1"), "at": "2026-12-02T22:00:00Z", "duration": "2h"},
            {"change": prod("c2"), "at": "2026-12-02T23:00:00Z", "duration": "2h"},
            {"change": prod("c3;x,y", service="db"), "at": "2026-12-24T22:00:00Z", "duration": "2h"}]

    def test_ics_read_back_with_libical(self):
        self.write("plan.json", self.PLAN)
        os.mkdir(os.path.join(self.d, "cal"))
        rc, out, err = self.simulate("p.chg", "--changes", "plan.json", *RANGE, "-f", "ics", "-o", "cal")
        self.assertEqual((rc, out, err), (1, "", ""))
        p = subprocess.run([ICS_PARSE, "cal/changes.ics", "cal/freezes.ics"], cwd=self.d, stdout=subprocess.PIPE)
        self.assertEqual(p.stdout.decode(), """\
cal/changes.ics: 3 events
20261202T220000Z 20261203T000000Z change-c1@chg c1 (allow)
  risk high
  conflict (service): with c2, both change service web
20261202T230000Z 20261203T010000Z change-c2@chg c2 (allow)
  risk high
  conflict (service): with c1, both change service web
20261224T220000Z 20261225T000000Z change-c3;x,y@chg c3;x,y (deny, does not fit)
  risk high
  no_holidays: frozen: holidays
  earliest: 2026-12-01T00:00:00Z
  conflict (freeze): planned inside freeze holidays (rule no_holidays)
cal/freezes.ics: 1 event
20261224T000000Z 20261227T000000Z holidays-20261224T000000Z@chg freeze holidays
""")
        self.assertEqual(p.returncode, 0)
        for name in ("changes.ics", "freezes.ics"):
            with open(os.path.join(self.d, "cal", name), "rb") as f:
                lines = f.read().split(b"\r\n")
            for line in lines:
                self.assertLessEqual(len(line), 75)

    def test_ics_parser_catches_a_broken_calendar(self):
        """The check above can fail: libical's errors are seen."""
        self.write("broken.ics", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\n"
                                 "DTSTART:2026-12-01\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
        p = subprocess.run([ICS_PARSE, "broken.ics"], cwd=self.d, stdout=subprocess.PIPE)
        self.assertEqual(p.returncode, 1, p.stdout)

    def test_ics_needs_a_directory(self):
        self.write("plan.json", self.PLAN)
        rc, out, err = self.simulate("p.chg", "--changes", "plan.json", *RANGE, "-f", "ics", "-o", "plan.json")
        self.assertEqual((rc, err), (2, "chgc: plan.json: --format ics writes two calendars into a directory, and "
                                        "this is not one\n"))


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


def browse(page, *extra):
    """Load a page in headless chromium: (DOM after scripts ran, console
    messages). --enable-logging=stderr shows every console message as
    INFO:CONSOLE, errors included."""
    p = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                        "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", "--window-size=1280,900",
                        *extra, "file://" + page], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    console = [l for l in p.stderr.decode("utf-8", "replace").splitlines() if ":CONSOLE" in l]
    return p.stdout.decode("utf-8", "replace"), console


class Page(Base):
    def test_page_in_chromium(self):
        """The page loads with no console message, draws every planned
        change (the count the script writes into the DOM, and one element
        per change), asks for nothing outside itself, and a screenshot is
        kept as the test's artifact."""
        self.assertIsNotNone(chromium(), "chromium is needed for this test (scripts/bootstrap installs it)")
        plan = [{"change": prod("c%d" % i, service="s%d" % (i % 4)), "at": "2026-12-%02dT%02d:00:00Z" % (1 + i, 20 + i % 4),
                 "duration": "90m"} for i in range(25)]
        plan.append({"change": prod("x</script><b>", service="db"), "at": "2026-12-24T22:00:00Z"})
        self.write("plan.json", plan)
        rc, out, err = self.simulate("p.chg", "--changes", "plan.json", *RANGE, "-f", "html", "-o", "page.html")
        self.assertEqual((rc, err), (1, ""))
        page = os.path.join(self.d, "page.html")
        with open(page, encoding="utf-8") as f:
            html = f.read()
        self.assertNotIn("</script><b>", html)
        self.assertIsNone(re.search(r'(src|href)\s*=\s*"(https?:)?//', html), "an external asset")
        dom, console = browse(page, "--dump-dom")
        self.assertEqual(console, [])
        self.assertTrue('<body data-drawn="26">' in dom)
        self.assertEqual(len(re.findall(r'data-change="', dom)), 26)
        self.assertTrue('data-change="x&lt;/script&gt;&lt;b&gt;"' in dom)
        rc, out, err = self.simulate("p.chg", "--changes", "plan.json", *RANGE, "-f", "json")
        n = json.loads(out)["count"]
        self.assertEqual(n["changes"], 26)
        summary = "%d planned changes, %d fit as planned, %d without a slot, %d conflicts" % (
            n["changes"], n["fit"], n["no_slot"], n["conflicts"])
        self.assertTrue(summary in dom, summary)
        os.makedirs(ARTIFACTS, exist_ok=True)
        shot = os.path.join(ARTIFACTS, "simulate.png")
        if os.path.exists(shot):
            os.remove(shot)
        browse(page, "--screenshot=" + shot)
        self.assertGreater(os.path.getsize(shot), 10000)

    def test_console_errors_are_seen(self):
        """The check above can fail: a page with a script error is caught."""
        self.assertIsNotNone(chromium())
        bad = os.path.join(self.d, "bad.html")
        self.write("bad.html", "<html><body><script>nosuchfunction();</script></body></html>")
        dom, console = browse(bad, "--dump-dom")
        self.assertEqual(len(console), 1, console)
        self.assertIn("nosuchfunction is not defined", console[0])


if __name__ == "__main__":
    CHGC, ROOT, ICS_PARSE, ARTIFACTS = (os.path.abspath(a) for a in sys.argv[1:5])
    del sys.argv[1:5]
    unittest.main(verbosity=1)
