#!/usr/bin/env python3
"""End-to-end tests of `chgc replay`: the worked example of docs/replay.md
run as written (its commands, exact output and exit status), what counts
as a difference, records that are not records, instants and facts per
record, intakes, determinism and usage.

    test_replay.py CHGC REPO_ROOT
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

CHGC = ROOT = None

POLICY = """policy "p" version "1"
schema change {
  id:    string
  env:   enum("dev", "prod")
  size:  int
}
risk low < high
classify {
  high    when change.env == "prod" and change.size >= 10
  default low
}
freeze incident = flag "incident"
rule frozen mandatory:
  when change.env == "prod"
  deny during incident "frozen: {freeze}"
rule late mandatory:
  when change.env == "prod" and now > 2026-12-24T00:00:00Z
  deny "too close to the holidays"
"""


def chgc(*args, cwd=None, stdin=None):
    p = subprocess.run([CHGC] + list(args), cwd=cwd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8")


class Replay(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp(prefix="chg-replay-")

    def tearDown(self):
        shutil.rmtree(self.d)

    def write(self, name, text):
        with open(os.path.join(self.d, name), "w", encoding="utf-8") as f:
            f.write(text)
        return name

    def replay(self, *args, stdin=None):
        return chgc("replay", *args, cwd=self.d, stdin=stdin)

    def test_docs_example(self):
        """Every `file=` block of docs/replay.md is written, and every
        `command=` block is the exact output of its command."""
        with open(os.path.join(ROOT, "docs", "replay.md"), encoding="utf-8") as f:
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

    def test_same_policy_moved_sources_no_difference(self):
        """Source positions, policy name and version are not differences:
        a comment above every rule changes nothing."""
        self.write("old.chg", POLICY)
        self.write("new.chg", "# reviewed\n\n" + POLICY.replace('version "1"', 'version "2"'))
        self.write("r.jsonl", '{"event": {"id": "a", "env": "prod", "size": 1}, "at": "2026-12-30T00:00:00Z"}\n'
                              '\n   \n'
                              '{"event": {"id": "b", "env": "dev", "size": 1}, "at": "2026-12-30T00:00:00Z"}\n')
        rc, out, err = self.replay("--old", "old.chg", "--new", "new.chg", "--events", "r.jsonl")
        self.assertEqual((rc, out, err), (0, "0 of 2 decisions differ\n", ""))

    def test_progress_only_on_a_terminal(self):
        """Point 7: with stderr a terminal the progress line is written and
        cleared; with --quiet, or stderr a pipe, nothing."""
        import pty
        self.write("old.chg", POLICY)
        self.write("r.jsonl", '{"event": {"id": "a", "env": "dev", "size": 1}, "at": "2026-12-30T00:00:00Z"}\n' * 3)
        args = [CHGC, "replay", "--old", "old.chg", "--new", "old.chg", "--events", "r.jsonl"]

        def on_tty(extra):
            master, slave = pty.openpty()
            p = subprocess.run(args + extra, cwd=self.d, stdout=subprocess.PIPE, stderr=slave, timeout=120)
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
            return p.returncode, p.stdout.decode(), seen.decode()

        rc, out, tty = on_tty([])
        self.assertEqual((rc, out, tty), (0, "0 of 3 decisions differ\n", "\rreplay: 1 records\x1b[K\r\x1b[K"))
        self.assertEqual(on_tty(["--quiet"]), (0, "0 of 3 decisions differ\n", ""))
        rc, out, err = self.replay("--old", "old.chg", "--new", "old.chg", "--events", "r.jsonl")
        self.assertEqual((rc, out, err), (0, "0 of 3 decisions differ\n", ""))

    def test_message_text_is_a_difference(self):
        self.write("old.chg", POLICY)
        self.write("new.chg", POLICY.replace("too close to the holidays", "holiday freeze"))
        self.write("r.jsonl", '{"event": {"id": "a", "env": "prod", "size": 1}, "at": "2026-12-30T00:00:00Z"}\n')
        rc, out, _ = self.replay("--old", "old.chg", "--new", "new.chg", "--events", "r.jsonl")
        self.assertEqual(rc, 1)
        self.assertTrue(out.startswith("line 1: change a: deny \u2192 deny (reasons)\n"), out)
        self.assertIn("outcomes:\n  deny \u2192 deny: 1\n", out)
        self.assertNotIn("risks:", out)

    def test_facts_per_record_and_default(self):
        """A record's own facts are used, and only them; records without
        take --facts."""
        self.write("old.chg", POLICY)
        self.write("new.chg", POLICY.replace('when change.env == "prod"\n  deny during', 'when true\n  deny during'))
        self.write("facts.json", '{"flags": {"incident": true}}')
        self.write("r.jsonl",
                   '{"event": {"id": "a", "env": "dev", "size": 1}, "at": "2026-12-01T00:00:00Z"}\n'
                   '{"event": {"id": "b", "env": "dev", "size": 1}, "at": "2026-12-01T00:00:00Z",'
                   ' "facts": {"flags": {"incident": false}}}\n')
        rc, out, _ = self.replay("--old", "old.chg", "--new", "new.chg", "--events", "r.jsonl")
        self.assertEqual((rc, out), (0, "0 of 2 decisions differ\n"))
        rc, out, _ = self.replay("--old", "old.chg", "--new", "new.chg", "--events", "r.jsonl",
                                 "--facts", "facts.json")
        self.assertEqual(rc, 1)
        self.assertTrue(out.startswith("line 1: change a: allow \u2192 deny (outcome, reasons, window, freezes)\n"), out)
        self.assertNotIn("change b", out)
        self.assertIn("1 of 2 decisions differ\n", out)

    def test_instant_from_record_or_at(self):
        self.write("p.chg", POLICY)
        self.write("q.chg", POLICY.replace("2026-12-24", "2026-12-26"))
        self.write("r.jsonl", '{"event": {"id": "a", "env": "prod", "size": 1}}\n')
        rc, out, err = self.replay("--old", "p.chg", "--new", "q.chg", "--events", "r.jsonl")
        self.assertEqual(rc, 2)
        self.assertEqual(err, 'line 1: no "at", and a policy without `at` needs one to judge the change '
                              '(or give --at)\nchgc: replay: 1 line of r.jsonl is not a record\n')
        rc, out, _ = self.replay("--old", "p.chg", "--new", "q.chg", "--events", "r.jsonl",
                                 "--at", "2026-12-25T00:00:00Z")
        self.assertEqual(rc, 1)
        self.assertIn("line 1: change a: deny \u2192 allow (outcome, reasons)\n", out)
        rc, out, _ = self.replay("--old", "p.chg", "--new", "q.chg", "--events", "r.jsonl",
                                 "--at", "2026-12-01T00:00:00Z")
        self.assertEqual((rc, out), (0, "0 of 1 decisions differ\n"))

    def test_lines_that_are_not_records(self):
        """Each bad line is named, the others are still compared, and the
        exit status is 2: the gate does not pass on unreadable data."""
        self.write("p.chg", POLICY)
        self.write("r.jsonl", "\ufeff" + '{"event": {"id": "a", "env": "prod", "size": 1}, "at": "2026-12-01T00:00:00Z"}\n'
                   'not json\n'
                   '{"event": 3}\n'
                   '[1]\n'
                   '{"event": {}, "at": "2026-13-01T00:00:00Z"}\n'
                   '{"event": {}, "at": "2026-12-01T00:00:00Z", "facts": []}\n'
                   '{"event": {}, "at": "2026-12-01T00:00:00Z", "facts": {"flags": 3}}\n'
                   '{"event": {}, "event": {}}\n')
        rc, out, err = self.replay("--old", "p.chg", "--new", "p.chg", "--events", "r.jsonl")
        self.assertEqual(rc, 2)
        self.assertEqual(out, "0 of 1 decisions differ\n")
        lines = err.splitlines()
        self.assertEqual(lines[0], "line 2, column 3: '[' or '{' expected near 'not'")
        self.assertEqual(lines[1], 'line 3: "event" must be the recorded event, a JSON object')
        self.assertEqual(lines[2], 'line 4: a record is a JSON object {"event": {\u2026}, "at": \u2026, "facts": \u2026}')
        self.assertEqual(lines[3], 'line 5: "at" must be an RFC 3339 instant')
        self.assertEqual(lines[4], 'line 6: "facts" must be a JSON object (docs/facts.md)')
        self.assertTrue(lines[5].startswith('line 7: "facts": '), lines[5])
        self.assertTrue(lines[6].startswith("line 8, column "), lines[6])
        self.assertIn("duplicate", lines[6])
        self.assertEqual(lines[7], "chgc: replay: 7 lines of r.jsonl are not a record")

    def test_intake_in_one_policy_only(self):
        """A raw event one policy's intake reads and the other cannot is a
        difference: without the intake it is judged as a change, and the
        schema refuses it."""
        self.write("old.chg", POLICY)
        self.write("new.chg", POLICY + """
intake deploy when event.source == "ci" {
  id: event.id
  env: "prod"
  size: 1
}
""")
        self.write("r.jsonl", '{"event": {"source": "ci", "id": "e1"}, "at": "2026-12-01T00:00:00Z"}\n')
        rc, out, err = self.replay("--old", "old.chg", "--new", "new.chg", "--events", "r.jsonl", "--format", "json")
        self.assertEqual(rc, 1, err)
        self.assertIn('"change":"e1","changed":[', out)
        self.assertIn('"outcomes":{"error \u2192 allow":1},"risks":{"none \u2192 low":1}}', out)
        self.assertIn('"message":"change.env is required but missing"', out)

    def test_bundles_stdin_and_determinism(self):
        self.write("old.chg", POLICY)
        self.write("new.chg", POLICY.replace("size >= 10", "size >= 2"))
        rc, _, err = chgc("build", "-o", "old.chgb", "old.chg", cwd=self.d)
        self.assertEqual(rc, 0, err)
        records = "".join('{"event": {"id": "c%d", "env": "%s", "size": %d}, "at": "2026-12-%02dT00:00:00Z"}\n'
                          % (i, "prod" if i % 3 else "dev", i % 13, 1 + i % 28) for i in range(300))
        runs = [self.replay("--old", "old.chgb", "--new", "new.chg", "--events", "-", stdin=records.encode())
                for _ in range(2)]
        self.assertEqual(runs[0], runs[1])
        rc, out, _ = runs[0]
        self.assertEqual(rc, 1)
        self.assertIn("decisions differ\noutcomes:\n", out)
        self.assertIn("risks:\n  low \u2192 high: ", out)

    def test_plain_records_decide_as_the_general_path(self):
        # A record of the plain shape (scalar members, the event, at, facts)
        # is read without a JSON tree and its event decided from its own
        # bytes, once parsed for both policies' intakes; a record with a
        # member holding an array takes the general path. Both must give
        # the same bytes: decisions, differences, counts, messages.
        pol = os.path.join(self.d, "policies")
        shutil.copytree(os.path.join(ROOT, "policies"), pol)
        with open(os.path.join(pol, "production.chg"), encoding="utf-8") as f:
            text = f.read()
        self.write("policies/new.chg", text.replace('version "2026.11"', 'version "2026.12"')
                   .replace("change.resources >= 50", "change.resources >= 5"))
        events = [json.dumps(json.load(open(os.path.join(pol, "events", n), encoding="utf-8")))
                  for n in sorted(os.listdir(os.path.join(pol, "events")))]
        change = ('{"id":"c%d","env":"prod","service":"ledger","type":"deploy","resources":%d,"scope":"region",'
                  '"emergency":false,"requested_at":"2026-11-30T%02d:00:00Z","requester":{"name":"ann","groups":["dev"]},'
                  '"approvals":[{"by":"bob","group":"team-lead","at":"2026-11-29T10:00:00Z"}]}')
        records = []
        for i in range(12):
            records.append('{"seq":%d,"event":%s}' % (i, change % (i, i * 4, i * 2)))
            records.append('{ "event" : %s , "at":"2026-12-2%dT10:00:00Z", "seq":%d, "ok":true, "n":null,'
                           ' "s":"h\\u00e9\\n", "facts":{"flags":{"incident-freeze":%s}} }'
                           % (change % (100 + i, 60, 9), i % 8, i, "true" if i % 2 else "false"))
        for i, ev in enumerate(events):
            records.append('{"event":%s,"at":"2026-11-1%dT12:00:00Z"}' % (ev, i % 10))
        general = [r[:-1] + ',"_":[0]}' for r in records]
        self.write("plain.jsonl", "\n".join(records) + "\n")
        self.write("general.jsonl", "\n".join(general) + "\n")
        for fmt in ("text", "json"):
            a = self.replay("--old", "policies/production.chg", "--new", "policies/new.chg", "--events", "plain.jsonl",
                            "--facts", "policies/examples/facts.json", "--format", fmt)
            b = self.replay("--old", "policies/production.chg", "--new", "policies/new.chg", "--events",
                            "general.jsonl", "--facts", "policies/examples/facts.json", "--format", fmt)
            self.assertEqual(a[0], 1, a[2])
            self.assertEqual(a, b)
            if fmt == "text":
                m = re.search(r"^(\d+) of (\d+) decisions differ$", a[1], re.M)
                self.assertEqual(int(m.group(2)), len(records))
                self.assertGreater(int(m.group(1)), 0)  # differences were written, on both paths alike

    def test_bad_events_worded_as_the_general_path(self):
        """A record whose event is not valid JSON (or not a change) is found
        by its brackets alone, its bytes left to the decoders; what is said
        of it is what the general path says (a record with a member holding
        an array takes that path), line, column and words."""
        self.write("old.chg", POLICY)
        self.write("new.chg", POLICY.replace("size >= 10", "size >= 4"))
        ok = '{"id": "c%d", "env": "prod", "size": 5}'
        bad = [
            '{"id": "c1\x01", "env": "prod", "size": 5}',           # a control character
            '{"id": "c2\udcff", "env": "prod", "size": 5}',         # a byte that is not UTF-8
            '{"id": "c3\\x", "env": "prod", "size": 5}',            # a bad escape
            '{"id": "c4\\ud800", "env": "prod", "size": 5}',        # a lone surrogate
            '{"id": "c5", "id": "c5", "env": "prod", "size": 5}',  # a duplicate key
            '{"id": "c6", "env": "prod", "size": 05}',            # a bad number
            '{"id": "c7", "env": "prod", "size": tru}',           # a bad literal
            '{"id": "c8", "env": "prod", "size": 5, "x": %s}' % ("[" * 70 + "]" * 70),  # deep, and valid
            '{"id": "c9", "env": "prod", "size": 5, "x": [}]}',   # brackets that do not match
            '{"id": "c10", "env": "prod", "size": 5, "x": "}"]}',  # a bracket in a string, then one more
            '{"id": "c11", "env": "prod", "size": "5"}',          # not a change: the schema says so
            '{"id": "c12", "env": "prod", "size": 5,}',           # a trailing comma
        ]
        records = []
        for i, ev in enumerate(bad):
            records.append('{"event": %s, "at": "2026-12-01T00:00:00Z"}' % ev)
            records.append('{"event": %s, "at": "2026-12-01T00:00:00Z"}' % (ok % i))
        general = [r[:-1] + ', "_": [0]}' for r in records]
        for name, lines in (("plain.jsonl", records), ("general.jsonl", general)):
            with open(os.path.join(self.d, name), "wb") as f:
                f.write(("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))
        for fmt in ("text", "json"):
            a = self.replay("--old", "old.chg", "--new", "new.chg", "--events", "plain.jsonl", "--format", fmt)
            b = self.replay("--old", "old.chg", "--new", "new.chg", "--events", "general.jsonl", "--format", fmt)
            self.assertEqual(a[0], 2, a[2])
            self.assertEqual(a[1], b[1])
            self.assertEqual(a[2].replace("plain.jsonl", "general.jsonl"), b[2])
            named = [int(n) for n in re.findall(r"^line (\d+), column \d+: ", a[2], re.M)]
            # every bad line but the deep one and the one the schema refuses (decisions both)
            self.assertEqual(named, [2 * i + 1 for i in range(len(bad)) if i not in (7, 10)])
            if fmt == "text":
                self.assertIn("of %d decisions differ" % (len(bad) + 2), a[1])

    def test_differences_are_evals_decisions(self):
        """Each difference shows `chgc eval`'s two decisions of its event,
        byte for byte, and the records that differ are exactly those whose
        decisions differ once policy, version and source are left out (the
        counts too): both when the two policies decode alike, so that one
        decoding of each event serves both (a threshold and a message
        changed), and when they do not (the new schema declares a field
        more), and whichever policy is old."""
        pol = os.path.join(self.d, "policies")
        shutil.copytree(os.path.join(ROOT, "policies"), pol)
        with open(os.path.join(pol, "production.chg"), encoding="utf-8") as f:
            text = f.read()
        alike = (text.replace('version "2026.11"', 'version "2026.12"')
                 .replace("change.resources >= 50", "change.resources >= 20"))
        self.assertNotEqual(alike, text)
        self.write("policies/alike.chg", alike)
        unlike = alike.replace("  pipeline:     string?\n", "  pipeline:     string?\n  ticket:       string?\n")
        self.assertNotEqual(unlike, alike)
        self.write("policies/unlike.chg", unlike)
        change = ('{"id":"c%d","env":"%s","service":"ledger","type":"%s","resources":%d,"scope":"region",'
                  '"emergency":%s,"requested_at":"2026-%02d-%02dT%02d:00:00Z","requester":{"name":"ann","groups":["dev"]},'
                  '"approvals":[%s]}')
        events = []
        for i in range(240):
            approvals = ['{"by":"bob","group":"team-lead","at":"2026-11-29T10:00:00Z"}',
                         '{"by":"cy","group":"cab","at":"2026-11-29T10:00:00Z"}'][:i % 3]
            events.append(change % (i, ("dev", "staging", "prod")[i % 3], ("config", "deploy", "schema")[i % 3 == 1],
                                    (i * 7) % 90, "true" if i % 17 == 0 else "false", 1 + i % 12, 1 + i % 28, i % 24,
                                    ",".join(approvals)))
        at, facts = "2026-12-01T10:00:00Z", "policies/examples/facts.json"
        # and the recorded raw events that production's intakes take
        raw = []
        for n in sorted(os.listdir(os.path.join(pol, "events"))):
            with open(os.path.join(pol, "events", n), encoding="utf-8") as f:
                raw.append(json.dumps(json.load(f)))
        self.write("raw.jsonl", "\n".join(raw) + "\n")
        _, out, _ = chgc("eval", "policies/production.chg", "--event", "raw.jsonl", "--jsonl", "--at", at, cwd=self.d)
        taken = [e for e, d in zip(raw, out.splitlines()) if not d.startswith('{"error"')]
        self.assertGreater(len(taken), 3)
        events += taken
        self.write("events.jsonl", "\n".join(events) + "\n")
        self.write("records.jsonl", "".join('{"event":%s}\n' % e for e in events))

        def decisions(policy):
            rc, out, err = chgc("eval", policy, "--event", "events.jsonl", "--jsonl", "--at", at, "--facts", facts,
                                cwd=self.d)
            self.assertEqual(rc, 0, err)
            lines = out.splitlines()
            self.assertEqual(len(lines), len(events))
            return lines

        def comparable(line):
            def drop(j, depth):
                if depth > 16:
                    return j
                if isinstance(j, dict):
                    return {k: drop(v, depth + 1) for k, v in j.items() if k != "source"}
                if isinstance(j, list):
                    return [drop(v, depth + 1) for v in j]
                return j
            j = json.loads(line)
            j.pop("policy", None)
            j.pop("version", None)
            return drop(j, 0)

        ran = set()
        # (unlike and alike decide alike, and are not decoded alike)
        for old, new in (("production", "alike"), ("alike", "production"), ("production", "unlike"),
                         ("unlike", "production"), ("unlike", "alike")):
            a, b = decisions("policies/%s.chg" % old), decisions("policies/%s.chg" % new)
            want = [i + 1 for i in range(len(events)) if comparable(a[i]) != comparable(b[i])]
            self.assertEqual(len(want) > 0, "production" in (old, new))
            self.assertLess(len(want), len(events))
            rc, out, err = self.replay("--old", "policies/%s.chg" % old, "--new", "policies/%s.chg" % new, "--events",
                                       "records.jsonl", "--at", at, "--facts", facts, "--format", "json")
            self.assertEqual((rc, err), (1 if want else 0, ""))
            got = json.loads(out)
            self.assertEqual([d["line"] for d in got["differences"]], want, (old, new))
            shown = [l.lstrip(",") for l in out.splitlines() if l.lstrip(",").startswith('{"line":')]
            self.assertEqual(len(shown), len(want))
            for i, l in zip(want, shown):  # the decisions' bytes, as eval wrote them
                self.assertTrue(l.endswith(',"old":%s,"new":%s}' % (a[i - 1], b[i - 1])), (old, new, i, l))
            outcomes = {}
            for i in want:
                k = "%s \u2192 %s" % (json.loads(a[i - 1]).get("outcome"), json.loads(b[i - 1]).get("outcome"))
                outcomes[k] = outcomes.get(k, 0) + 1
            self.assertEqual(got["outcomes"], outcomes)
            self.assertEqual((got["records"], got["differ"], got["invalid"]), (len(events), len(want), 0))
            ran.add(old + new)
        self.assertEqual(len(ran), 5)

    def test_threads_give_the_bytes_of_one(self):
        """--threads N decides records on N workers; the output (the
        differences, in input order, and the counts), the messages and the
        exit status are the bytes of --threads 1, over many batches of
        records that differ, agree, take either path, or are not records."""
        self.write("old.chg", POLICY)
        self.write("new.chg", POLICY.replace("size >= 10", "size >= 4").replace('"too close', '"far too close'))
        lines = []
        for i in range(3000):
            env = "prod" if i % 3 else "dev"
            rec = '{"event": {"id": "c%d", "env": "%s", "size": %d}, "at": "2026-12-%02dT00:00:00Z"' % (
                i, env, i % 13, 1 + i % 28)
            if i % 7 == 0:
                rec += ', "facts": {"flags": {"incident": %s}}' % ("true" if i % 2 else "false")
            if i % 11 == 0:
                rec += ', "tags": ["general path"]'
            lines.append(rec + "}")
            if i % 401 == 0:
                lines.append("not a record %d" % i)
        records = "\n".join(lines) + "\n"
        self.write("r.jsonl", records)
        for fmt in ("text", "json"):
            one = self.replay("--old", "old.chg", "--new", "new.chg", "--events", "r.jsonl", "--format", fmt,
                              "--threads", "1")
            self.assertEqual(one[0], 2, one[2])  # some lines are not records
            self.assertIn("line 404, column 3: ", one[2])
            if fmt == "text":
                self.assertRegex(one[1], r"\n[1-9]\d* of 3000 decisions differ\n")
            for n in ("2", "3"):
                self.assertEqual(self.replay("--old", "old.chg", "--new", "new.chg", "--events", "r.jsonl",
                                             "--format", fmt, "--threads", n), one, (fmt, n))
                rc, out, err = self.replay("--old", "old.chg", "--new", "new.chg", "--events", "-", "--format", fmt,
                                           "--threads", n, stdin=records.encode())
                self.assertEqual((rc, out, err.replace("lines of -", "lines of r.jsonl")), one, (fmt, n))
        rc, _, err = self.replay("--old", "old.chg", "--new", "new.chg", "--events", "r.jsonl", "--threads", "0")
        self.assertEqual(rc, 2)
        self.assertIn("threads", err)

    def test_usage(self):
        self.write("p.chg", POLICY)
        rc, out, _ = self.replay("--help")
        self.assertEqual(rc, 0)
        self.assertIn("Usage: chgc replay --old PATH... --new PATH... --events FILE", out)
        for args, msg in ((["--new", "p.chg", "--events", "x"], "no --old policy given"),
                          (["--old", "p.chg", "--events", "x"], "no --new policy given"),
                          (["--old", "p.chg", "--new", "p.chg"], "no --events given"),
                          (["p.chg", "--old", "p.chg"], "'p.chg': a policy path goes after --old or --new"),
                          (["--old", "-", "--new", "p.chg", "--events", "-"], "only one of the policies")):
            rc, _, err = self.replay(*args)
            self.assertEqual(rc, 2, args)
            self.assertIn(msg, err)
        self.write("bad.chg", 'policy "b" version "1"\nrule r mandatory:\n  when nope\n  deny "x"\n')
        self.write("r.jsonl", "")
        rc, out, err = self.replay("--old", "p.chg", "--new", "bad.chg", "--events", "r.jsonl")
        self.assertEqual((rc, out), (2, ""))
        self.assertIn("bad.chg:3:8: error[E0101]", err)
        self.assertIn("chgc: replay: the new policy cannot be used", err)
        rc, _, err = self.replay("--old", "p.chg", "--new", "p.chg", "--events", "missing.jsonl")
        self.assertEqual(rc, 2)
        self.assertIn("missing.jsonl", err)


if __name__ == "__main__":
    CHGC, ROOT = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    unittest.main(argv=sys.argv[:1])
