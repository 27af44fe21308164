#!/usr/bin/env python3
"""End-to-end tests of the chgc driver: usage, exit codes, output formats,
colour, directories and imports, standard input, and hostile input (a
50 MB file, 10,000-deep nesting).

    test_cli.py CHGC REPO_ROOT
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

CHGC = ROOT = None


def chgc(*args, cwd=None, env=None, stdin=None, timeout=300):
    e = dict(os.environ)
    e.pop("NO_COLOR", None)
    if env:
        e.update(env)
    p = subprocess.run([CHGC] + list(args), cwd=cwd, env=e, input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


class Usage(unittest.TestCase):
    def test_help_and_version(self):
        rc, out, err = chgc("--help")
        self.assertEqual(rc, 0)
        self.assertIn("Usage: chgc COMMAND", out)
        self.assertIn("check", out)
        rc, out, _ = chgc("check", "--help")
        self.assertEqual(rc, 0)
        self.assertIn("Usage: chgc check [OPTIONS] PATH...", out)
        rc, out, _ = chgc("--version")
        self.assertEqual((rc, out), (0, "chgc 0.1.0\n"))

    def test_usage_errors_exit_2(self):
        self.assertEqual(chgc()[0], 2)
        rc, _, err = chgc("frobnicate")
        self.assertEqual(rc, 2)
        self.assertIn("unknown command 'frobnicate'", err)
        rc, _, err = chgc("check")
        self.assertEqual(rc, 2)
        self.assertIn("no PATH given", err)
        rc, _, err = chgc("check", "--format", "xml", "x.chg")
        self.assertEqual(rc, 2)
        self.assertIn("--format: unknown value 'xml' (text, json, sarif or github)", err)
        rc, _, err = chgc("check", "--bogus", "x.chg")
        self.assertEqual(rc, 2)

    def test_horizon_is_bounded(self):
        # ten years at most: 100000d used to be accepted and ran for minutes
        for cmd in (["eval", "policies/production.chg", "--event", "-"], ["check", "policies/production.chg"]):
            rc, out, err = chgc(*cmd, "--horizon", "100000d", cwd=ROOT, stdin=b"{}")
            self.assertEqual((rc, out), (2, ""), err)
            self.assertEqual(err, "chgc: --horizon: '100000d' is longer than the longest horizon, 3660d (ten years)\n")
        rc, _, err = chgc("check", "--horizon", "3660d", "--at", "2026-12-01T00:00:00Z", "policies/production.chg",
                          cwd=ROOT)
        self.assertEqual(rc, 0, err)

    def test_missing_file_is_an_io_error(self):
        rc, out, err = chgc("check", "no/such/file.chg")
        self.assertEqual(rc, 2)
        self.assertEqual(out, "")
        self.assertEqual(err, "chgc: no/such/file.chg: No such file or directory\n")

    def test_directory_without_policies(self):
        with tempfile.TemporaryDirectory() as d:
            rc, _, err = chgc("check", d)
            self.assertEqual(rc, 2)
            self.assertIn("no .chg files", err)


class Check(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.dir)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def test_exit_codes(self):
        clean = self.write("clean.chg", "let _a = 1\nwindow w = daily 01:00..02:00 in \"UTC\"\nrule r: require window w\n")
        warn = self.write("warn.chg", "let a = 1\n")
        bad = self.write("bad.chg", "let a = b\n")
        self.assertEqual(chgc("check", clean), (0, "", ""))
        rc, out, _ = chgc("check", warn)
        self.assertEqual(rc, 0)
        self.assertIn("warning[W0001]", out)
        rc, out, _ = chgc("check", "--werror", warn)
        self.assertEqual(rc, 1)
        self.assertIn("error[W0001]", out)
        self.assertEqual(chgc("check", "--no-lint", warn), (0, "", ""))
        self.assertEqual(chgc("check", bad)[0], 1)
        # findings in one file make the whole run fail
        self.assertEqual(chgc("check", clean, bad)[0], 1)

    def test_formats(self):
        bad = self.write("bad.chg", "schema change { env: string }\nlet _x = change.enviroment\n")
        rc, out, _ = chgc("check", "--format", "json", bad)
        self.assertEqual(rc, 1)
        j = json.loads(out)
        self.assertEqual(j["errors"], 1)
        self.assertEqual(j["diagnostics"][0]["code"], "E0104")
        rc, out, _ = chgc("check", "-f", "sarif", bad)
        s = json.loads(out)
        self.assertEqual(s["version"], "2.1.0")
        self.assertEqual(s["runs"][0]["results"][0]["ruleId"], "E0104")
        rc, out, _ = chgc("check", "--format=github", bad)
        self.assertTrue(out.startswith("::error file=" + bad + ",line=2,col=17,"), out)

    def test_colour_only_on_a_terminal_and_never_with_no_color(self):
        bad = self.write("bad.chg", "let a = b\n")
        self.assertNotIn("\033[", chgc("check", bad)[1])
        self.assertIn("\033[", chgc("check", "--color", "always", bad)[1])
        script = shutil.which("script")
        if not script:
            self.skipTest("script(1) not installed")
        def on_tty(env):
            e = dict(os.environ)
            e.pop("NO_COLOR", None)
            e.update(env)
            p = subprocess.run([script, "-qec", f"{CHGC} check {bad}", "/dev/null"], env=e,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
            return p.stdout.decode("utf-8", "replace")
        self.assertIn("\033[", on_tty({}))
        self.assertNotIn("\033[", on_tty({"NO_COLOR": "1"}))

    def test_directory_checks_each_policy_once(self):
        self.write("p/main.chg", 'policy "main"\nimport "lib/common.chg"\nlet _x = limit\n')
        self.write("p/lib/common.chg", "let limit = 1\nlet y = nope\n")
        self.write("p/other.chg", "let z = 1\n")
        rc, out, _ = chgc("check", "--color", "never", os.path.join(self.dir, "p"))
        self.assertEqual(rc, 1)
        # the import's error once, in the context of its importer; other.chg's warning
        self.assertEqual(out.count("E0101"), 1)
        self.assertIn("lib/common.chg:2:9: error[E0101]: unknown name 'nope'", out)
        self.assertIn("other.chg:1:5: warning[W0001]", out)

    def test_a_directory_holding_a_chain_of_imports_is_checked_once(self):
        # f0 imports f1, which imports f2 ... f399 (an error): every file is
        # named, and each but f0 is checked in f0's compilation. Compiling
        # each as its own root re-read the chain below it (cubic: issue 10
        # point 3); this finishes in well under a second.
        n = 400
        for i in range(n - 1):
            head = 'policy "chain"\n' if i == 0 else ""
            self.write(f"chain/f{i}.chg", f'{head}import "f{i + 1}.chg"\nlet v{i} = v{i + 1}\n')
        self.write(f"chain/f{n - 1}.chg", f"let v{n - 1} = nope\n")
        with open(os.path.join(self.dir, "chain/f0.chg"), "a") as f:
            f.write("let _all = v0\n")
        rc, out, err = chgc("check", "--color", "never", "chain", cwd=self.dir, timeout=60)
        self.assertEqual((rc, err), (1, ""))
        self.assertEqual(out, "chain/f399.chg:1:12: error[E0101]: unknown name 'nope'\n"
                              "    1 | let v399 = nope\n"
                              "      |            ^~~~\n"
                              "1 error\n")

    def test_a_policy_beside_its_test_file_is_reported_once(self):
        # `chgc check .` names the policy ./pol.chg; the test file imports it
        # as pol.chg: one file, one name, its error once
        d = os.path.join(self.dir, "tdup")
        self.write("tdup/pol.chg", 'policy "p" version "1"\nrule r:\n  when nope\n  deny "x"\n')
        self.write("tdup/pol_test.chg", 'import "pol.chg"\ntest "t" {\n  change { id: "c" }\n  expect deny\n}\n')
        rc, out, _ = chgc("check", "--color", "never", ".", cwd=d)
        self.assertEqual(rc, 1)
        self.assertEqual(out, "pol.chg:3:8: error[E0101]: unknown name 'nope'\n"
                              "    3 |   when nope\n      |        ^~~~\n1 error\n")

    def test_a_test_file_holds_only_tests(self):
        # a rule in the test file would make its tests run against a policy
        # that `chgc build` does not build
        d = os.path.join(self.dir, "tonly")
        self.write("tonly/pol.chg", 'policy "p" version "1"\n')
        self.write("tonly/pol_test.chg", 'import "pol.chg"\nlet l = 1\nrule extra:\n  deny "x"\n'
                   'test "t" {\n  change { id: "c" }\n  expect deny\n}\n')
        for cmd in ("check", "test"):
            rc, out, err = chgc(cmd, "--color", "never", ".", cwd=d)
            out += err  # `chgc test` prints the diagnostics on stderr
            self.assertEqual(rc, 1, cmd)
            self.assertIn("pol_test.chg:2:1: error[E0021]: 'let' in a test file: a file named *_test.chg holds "
                          "only imports and tests\n", out)
            self.assertIn("pol_test.chg:3:1: error[E0021]: 'rule' in a test file", out)
            self.assertIn("2 errors\n", out)

    def test_test_dir_runs_the_tests_beside_the_policy(self):
        d = os.path.join(self.dir, "tgood")
        self.write("tgood/pol.chg", 'policy "p" version "1"\nrule r:\n  deny "x"\n'
                   'test "own" {\n  change { id: "c" }\n  expect deny\n}\n')
        self.write("tgood/pol_test.chg", 'import "pol.chg"\ntest "beside" {\n  change { id: "c" }\n  expect deny\n}\n'
                   'test "beside, failing" {\n  change { id: "d" }\n  expect allow\n}\n')
        rc, out, _ = chgc("test", "--color", "never", ".", cwd=d)
        self.assertEqual(rc, 1)
        self.assertIn("./pol_test.chg\n  ok    beside\n", out)
        self.assertIn("3 tests: 2 passed, 1 failed", out)

    def test_files_that_import_each_other_are_checked(self):
        # a cycle: each imports the other; dropping both as "imported" would pass silently
        a = self.write("c/a.chg", 'policy "a"\nimport "b.chg"\nlet x = nope_a\n')
        b = self.write("c/b.chg", 'import "a.chg"\nlet y = nope_b\n')
        for args in ([a, b], [b, a], [os.path.join(self.dir, "c")]):
            rc, out, _ = chgc("check", "--color", "never", *args)
            self.assertEqual(rc, 1, args)
            self.assertIn("unknown name 'nope_a'", out)
            self.assertIn("unknown name 'nope_b'", out)

    def test_an_import_through_a_link_is_found_where_the_importer_really_is(self):
        # pol -> real/pol; a.chg imports ../shared/b.chg, which imports c.chg:
        # c is real/shared/c.chg (with errors), not the decoy ./shared/c.chg
        self.write("real/pol/a.chg", 'policy "a"\nimport "../shared/b.chg"\nlet x = from_b\n')
        self.write("real/shared/b.chg", 'import "c.chg"\nlet from_b = from_c\n')
        self.write("real/shared/c.chg", "let from_c = nope1 + nope2\n")
        self.write("shared/c.chg", "let from_c = 1\n")
        os.symlink(os.path.join(self.dir, "real", "pol"), os.path.join(self.dir, "pol"))
        for args in (["pol/a.chg"], ["pol/a.chg", "real/shared/b.chg", "real/shared/c.chg"]):
            # real/shared is outside pol's directory (E0307) unless allowed
            rc, out, _ = chgc("check", "--color", "never", "--allow-path", "real", *args, cwd=self.dir)
            self.assertEqual(rc, 1, (args, out))
            self.assertIn("unknown name 'nope1'", out)
        rc, out, _ = chgc("check", "--color", "never", "pol/a.chg", cwd=self.dir)
        self.assertEqual(rc, 1, out)
        self.assertIn("error[E0307]: '../shared/b.chg' is outside the directories this policy may read", out)

    def test_links_to_directories_are_not_followed(self):
        self.write("l/p.chg", "let a = 1\n")
        os.symlink("..", os.path.join(self.dir, "l", "up"))
        os.symlink("/", os.path.join(self.dir, "l", "root"))
        rc, out, err = chgc("check", "--color", "never", os.path.join(self.dir, "l"), timeout=30)
        self.assertEqual((rc, err), (0, ""))
        self.assertIn("p.chg:1:5: warning[W0001]", out)

    def test_output_that_cannot_be_written_is_an_error(self):
        p = self.write("p.chg", "let a = b\n")
        with open("/dev/full", "wb") as full:
            for args in (["check", p], ["build", "-o", "-", os.path.join(ROOT, "policies/production.chg")],
                         ["eval", os.path.join(ROOT, "policies/production.chg"), "--event",
                          os.path.join(ROOT, "policies/examples/schema-change.json")],
                         ["eval", os.path.join(ROOT, "policies/production.chg"), "--jsonl", "--event",
                          os.path.join(ROOT, "policies/examples/schema-change.json")]):
                r = subprocess.run([CHGC] + args, stdout=full, stderr=subprocess.PIPE, timeout=60)
                self.assertEqual(r.returncode, 2, args)
                self.assertIn(b"cannot write", r.stderr)

    def test_stdin(self):
        rc, out, _ = chgc("check", "-", stdin=b"let a = b\n")
        self.assertEqual(rc, 1)
        self.assertIn("<stdin>:1:9: error[E0101]: unknown name 'b'", out)

    def test_bundled_policies_check_clean(self):
        rc, out, err = chgc("check", "--at", "2026-11-26T00:00:00Z", os.path.join(ROOT, "policies"))
        self.assertEqual((rc, err), (0, ""))
        self.assertNotIn("error[", out)
        # the time analysis: sunday_am's 02:00 does not exist on the spring-forward Sunday
        self.assertIn("warning[W0013]: time set 'sunday_am': local time 02:00 on 2027-03-28", out)


class Files(unittest.TestCase):
    """What a policy may read, and how files written by other tools are read."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, name, data):
        path = os.path.join(self.dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        return path

    def test_a_calendar_cut_at_2200_is_said_when_the_horizon_reaches_it(self):
        # W0026 (docs/errors.md): the golden runner's fixed --at cannot reach 2200
        self.write("slots.ics", "BEGIN:VCALENDAR\r\nPRODID:-//AWS//Change Calendar 1.0//EN\r\nVERSION:2.0\r\n"
                   "X-CALENDAR-TYPE:DEFAULT_CLOSED\r\nBEGIN:VEVENT\r\nUID:slot@ops.example\r\n"
                   "DTSTAMP:20261101T120000Z\r\nDTSTART:20261201T080000Z\r\nDTEND:20261201T120000Z\r\n"
                   "RRULE:FREQ=WEEKLY;BYDAY=TU\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
        p = self.write("p.chg", 'window slots = not calendar "slots.ics"\nrule r:\n  require window slots\n')
        rc, out, _ = chgc("check", "--color", "never", "--at", "2199-11-01T00:00:00Z", p)
        self.assertEqual(rc, 0)
        self.assertEqual(out.replace(self.dir + "/", ""), (
            "p.chg:1:29: warning[W0026]: calendar 'slots.ics' recurs past 2200-01-01, where chg stops expanding "
            "calendars: it is CLOSED from then on (DEFAULT_CLOSED)\n"
            "    1 | window slots = not calendar \"slots.ics\"\n"
            "      |                             ^~~~~~~~~~~\n"
            "      = help: decisions past 2200-01-01 do not see the calendar's events; see docs/time.md\n"
            "1 warning\n"))
        # before 2200 is in reach the calendar is just a weekly slot
        rc, out, _ = chgc("check", "--color", "never", "--at", "2026-11-26T00:00:00Z", p)
        self.assertEqual((rc, out), (0, ""))

    def test_byte_order_marks_are_accepted_in_every_input(self):
        bom = b"\xef\xbb\xbf"
        p = self.write("p.chg", bom + b'policy "b" version "1"\nfreeze f = calendar "h.ics"\nrule r:\n'
                       b'  deny during f "frozen"\ntest "t" {\n  change "e.json"\n  at 2026-12-25T00:00:00Z\n'
                       b'  expect deny\n}\n')
        self.write("h.ics", bom + b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\nBEGIN:VEVENT\r\n"
                   b"UID:1@x\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20261224T000000Z\r\n"
                   b"DTEND:20261227T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
        e = self.write("e.json", bom + b'{"id": "c1"}')
        f = self.write("f.json", bom + b'{"flags": {}}')
        self.assertEqual(chgc("check", p)[0], 0)
        self.assertEqual(chgc("test", p)[0], 0)
        for args in (["--event", e, "--facts", f], ["--jsonl", "--event", e]):
            rc, out, err = chgc("eval", p, "--at", "2026-12-25T00:00:00Z", *args)
            self.assertEqual((rc, err), (0, ""), args)
            self.assertEqual(json.loads(out)["outcome"], "deny", args)

    def test_files_outside_the_policy_are_refused_unless_allowed(self):
        p = self.write("pol/p.chg", 'import "../lib/l.chg"\npolicy "p" version "1"\nlet x = shared\n'
                       'test "t" {\n  change { id: "c" }\n  expect allow\n}\n')
        self.write("lib/l.chg", "let shared = 1\n")
        rc, out, _ = chgc("check", "--color", "never", p)
        self.assertEqual(rc, 1)
        self.assertIn("error[E0307]: '../lib/l.chg' is outside the directories this policy may read", out)
        for cmd in (["check"], ["build", "-o", os.devnull], ["test"], ["disasm"],
                    ["windows", "--from", "2026-12-01T00:00:00Z", "--to", "2026-12-02T00:00:00Z"]):
            rc, out, err = chgc(*cmd, "--allow-path", os.path.join(self.dir, "lib"), p)
            self.assertEqual(rc, 0, (cmd, out, err))
        rc, _, err = chgc("check", "--allow-path", os.path.join(self.dir, "nope"), p)
        self.assertEqual(rc, 2)
        self.assertIn("--allow-path '%s': No such file or directory" % os.path.join(self.dir, "nope"), err)
        rc, _, err = chgc("check", "--allow-path", p, p)
        self.assertEqual((rc, err.strip()), (2, "chgc: --allow-path '%s': not a directory" % p))

    def test_control_characters_cannot_forge_output_lines(self):
        p = self.write("p.chg", 'window w = weekly mon 09:00..10:00 in "X\\n::error file=a::forged\\u{1b}[2J"\n')
        for fmt in ("text", "github"):
            rc, out, _ = chgc("check", "--color", "never", "--format", fmt, p)
            self.assertEqual(rc, 1)
            self.assertNotIn("\x1b", out, fmt)
            self.assertFalse(any(l.startswith("::error file=a") for l in out.splitlines()), (fmt, out))
            self.assertIn("unknown time zone 'X\\n::error file=a::forged\\x1B[2J'", out, fmt)

    def test_sarif_rules_describe_and_link_every_code(self):
        # GitHub's heading anchors (github-slugger): lower case, drop what is
        # not a word character, '-' or ' ', then spaces to hyphens
        doc = open(os.path.join(ROOT, "docs/errors.md"), encoding="utf-8").read()
        anchors = {}
        for line in doc.splitlines():
            if line.startswith("### "):
                head = line[4:]
                slug = "".join(ch for ch in head.lower() if ch.isalnum() or ch in "-_ ").replace(" ", "-")
                anchors[head.split(":")[0]] = slug
        p = self.write("p.chg", "let a = 1\n")
        rc, out, _ = chgc("check", "--format", "sarif", p)
        rules = json.loads(out)["runs"][0]["tool"]["driver"]["rules"]
        self.assertEqual(len(rules), len(anchors))
        for r in rules:
            self.assertNotIn("%s", r["shortDescription"]["text"], r["id"])
            self.assertNotIn("%s", r["fullDescription"]["text"], r["id"])
            self.assertEqual(r["helpUri"].split("#")[1], anchors[r["id"]], r["id"])

    def test_facts_that_the_policy_never_reads_are_warned_about(self):
        p = self.write("p.chg", 'policy "p" version "1"\nfreeze f = flag "incident"\nrule r:\n  deny during f "x"\n'
                       'rule q:\n  when aws.cloudwatch.alarm_state("a") == "ALARM"\n  deny "alarm"\n')
        f = self.write("f.json", '{"flags": {"incidnet": true, "incident": false}, "queries": [{"call": '
                       '"aws.cloudwatch.alarm_stat", "args": ["a"], "result": "OK"}]}')
        e = self.write("e.json", '{"id": "c"}')
        rc, out, err = chgc("eval", p, "--event", e, "--facts", f)
        self.assertEqual(rc, 0)
        self.assertEqual(err.splitlines(), [
            "chgc: %s: warning: flag 'incidnet' is never read by the policy (did you mean 'incident'?)" % f,
            "chgc: %s: warning: query aws.cloudwatch.alarm_stat is never asked by the policy "
            "(did you mean aws.cloudwatch.alarm_state?)" % f])

    def test_a_calendar_many_freezes_name_is_expanded_once_per_build_and_load(self):
        # 10,001 occurrences, named by 101 freezes: expanded once per set
        # that would be 1,010,101, past the 1,000,000 a compilation and a
        # load may expand (docs/time.md)
        self.write("c.ics", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\nBEGIN:VEVENT\r\nUID:1@x\r\n"
                   "DTSTART:20261224T000000Z\r\nDTEND:20261224T010000Z\r\nRRULE:FREQ=DAILY;COUNT=10000\r\n"
                   "END:VEVENT\r\nEND:VCALENDAR\r\n")
        names = ["f%d" % i for i in range(101)]
        p = self.write("p.chg", 'policy "p" version "1"\n' + "".join('freeze %s = calendar "c.ics"\n' % n for n in names)
                       + "rule r:\n  deny during %s \"frozen\"\n" % ", ".join(names))
        b = os.path.join(self.dir, "p.chgb")
        rc, out, err = chgc("build", "-o", b, p)
        self.assertEqual(rc, 0, out + err)
        e = self.write("e.json", '{"id": "c"}')
        for at, outcome in (("2026-12-24T00:30:00Z", "deny"), ("2026-12-24T01:30:00Z", "allow")):
            rc, out, err = chgc("eval", b, "--event", e, "--at", at)
            self.assertEqual((rc, err), (0, ""), at)
            self.assertEqual(json.loads(out)["outcome"], outcome, at)

    def test_a_bundle_where_source_is_expected_is_one_error(self):
        b = os.path.join(self.dir, "p.chgb")
        self.assertEqual(chgc("build", "-o", b, os.path.join(ROOT, "policies/production.chg"))[0], 0)
        p = self.write("q.chg", 'import "p.chgb"\n')
        rc, out, _ = chgc("check", "--color", "never", p)
        self.assertEqual(rc, 1)
        self.assertEqual(out.count("error["), 1, out)
        self.assertIn("error[E0017]: this is a compiled bundle (.chgb), not policy source", out)


class Windows(unittest.TestCase):
    POLICY = ('window nights = daily 22:00..06:00 in "Europe/Berlin"\n'
              'freeze xmas = 2026-12-24T00:00Z .. 2026-12-27T00:00Z\n'
              'freeze incident = flag "incident-freeze"\n'
              'rule r: require window nights\nrule s: deny during xmas, incident "frozen"\n')

    def run_windows(self, *args):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "p.chg")
            open(p, "w").write(self.POLICY)
            return chgc("windows", "--from", "2026-12-24T20:00:00Z", "--to", "2026-12-26T00:00:00Z", *args, p)

    def test_text(self):
        rc, out, err = self.run_windows()
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(out,
            "from 2026-12-24T20:00:00Z to 2026-12-26T00:00:00Z\n\n"
            "window nights = daily 22:00..06:00 in \"Europe/Berlin\"\n"
            "  2026-12-24T21:00:00Z .. 2026-12-25T05:00:00Z      8h00m  "
            "(Thu 2026-12-24 22:00 .. Fri 2026-12-25 06:00 Europe/Berlin)\n"
            "  2026-12-25T21:00:00Z .. 2026-12-26T00:00:00Z      3h00m  "
            "(Fri 2026-12-25 22:00 .. Sat 2026-12-26 01:00 Europe/Berlin)\n\n"
            "freeze xmas = 2026-12-24T00:00Z .. 2026-12-27T00:00Z\n"
            "  2026-12-24T20:00:00Z .. 2026-12-26T00:00:00Z     28h00m\n\n"
            "freeze incident = flag \"incident-freeze\"\n"
            "  (never in this range)\n")

    def test_json_flags_and_ics(self):
        rc, out, _ = self.run_windows("--format", "json", "--flag", "incident-freeze")
        self.assertEqual(rc, 0)
        j = json.loads(out)
        self.assertEqual([s["name"] for s in j["sets"]], ["nights", "xmas", "incident"])
        self.assertEqual(j["sets"][2]["intervals"], [{"start": "2026-12-24T20:00:00Z", "end": "2026-12-26T00:00:00Z"}])
        rc, out, _ = self.run_windows("--format", "ics")
        self.assertEqual(rc, 0)
        self.assertTrue(out.startswith("BEGIN:VCALENDAR\r\n"))
        self.assertEqual(out.count("BEGIN:VEVENT"), 3)
        self.assertIn("DTSTART:20261225T210000Z\r\nDTEND:20261226T000000Z\r\nSUMMARY:window nights\r\n", out)

    def test_usage(self):
        self.assertEqual(chgc("windows", "--from", "x", "p.chg")[0], 2)
        self.assertEqual(self.run_windows("--format", "xml")[0], 2)

    def test_a_bundle_lists_the_same_as_its_source(self):
        with tempfile.TemporaryDirectory() as d:
            p, b = os.path.join(d, "p.chg"), os.path.join(d, "p.chgb")
            open(p, "w").write(self.POLICY)
            self.assertEqual(chgc("build", "-o", b, p)[0], 0)
            for fmt in ("text", "json", "ics"):
                args = ["windows", "--from", "2026-12-24T20:00:00Z", "--to", "2026-12-26T00:00:00Z",
                        "--flag", "incident-freeze", "--format", fmt]
                from_source, from_bundle = chgc(*args, p), chgc(*args, b)
                self.assertEqual(from_source[0], 0)
                self.assertEqual(from_source, from_bundle, fmt)
            # the set written inside the rule is not a declaration: not listed
            self.assertNotIn("s#1", chgc("windows", b)[1])


class Effective(unittest.TestCase):
    """chgc windows --effective: per risk class, from source and bundle alike."""
    POLICY = ('risk low < high\n'
              'classify { high when change.env == "prod" default low }\n'
              'window nights = daily 22:00..06:00 in "Europe/Berlin"\n'
              'freeze xmas = 2026-12-24T00:00Z .. 2026-12-27T00:00Z\n'
              'freeze incident = flag "incident-freeze"\n'
              'rule r: when risk >= high require window nights\n'
              'rule s: when change.service == "payments" deny during xmas, incident "frozen"\n')
    RANGE = ("--from", "2026-12-26T00:00:00Z", "--to", "2026-12-28T00:00:00Z")

    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.p, self.b = os.path.join(self.dir, "p.chg"), os.path.join(self.dir, "p.chgb")
        with open(self.p, "w") as f:
            f.write(self.POLICY)
        self.assertEqual(chgc("build", "-o", self.b, self.p)[0], 0)

    def tearDown(self):
        shutil.rmtree(self.dir)

    def test_json(self):
        rc, out, err = chgc("windows", "--effective", "--format", "json", *self.RANGE, self.p)
        self.assertEqual((rc, err), (0, ""))
        j = json.loads(out)
        self.assertEqual([c["class"] for c in j["classes"]], ["low", "high"])
        high = j["classes"][1]
        self.assertEqual(high["windows"], [{"name": "nights", "rules": [
            {"rule": "r", "source": self.p + ":6:6", "applies": "always"}]}])
        self.assertEqual([f["name"] for f in high["freezes"]], ["xmas", "incident"])
        self.assertEqual(high["freezes"][0]["rules"][0]["applies"], "sometimes")
        self.assertEqual(high["intervals"], [
            {"start": "2026-12-27T00:00:00Z", "end": "2026-12-27T05:00:00Z", "opened_by": ["xmas"],
             "closed_by": ["nights"]},
            {"start": "2026-12-27T21:00:00Z", "end": "2026-12-28T00:00:00Z", "opened_by": ["nights"],
             "closed_by": []}])
        self.assertEqual(j["diagnostics"], [])
        # the incident flag set: a freeze over the whole range, W0030 for both classes
        rc, out, err = chgc("windows", "--effective", "--format", "json", "--flag", "incident-freeze",
                            *self.RANGE, self.p)
        j = json.loads(out)
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual([c["intervals"] for c in j["classes"]], [[], []])
        self.assertEqual([(d["code"], d["line"], d["column"]) for d in j["diagnostics"]],
                         [("W0030", 1, 6), ("W0030", 1, 12)])
        self.assertIn("freezes xmas, incident cover the whole range (assuming rules that apply to some of "
                      "them apply: s)", j["diagnostics"][0]["message"])

    def test_a_bundle_lists_the_same_as_its_source(self):
        for fmt in ("text", "json", "ics"):
            args = ["windows", "--effective", "--flag", "incident-freeze", "--format", fmt, *self.RANGE]
            from_source, from_bundle = chgc(*args, self.p), chgc(*args, self.b)
            self.assertEqual(from_source[0], 0)
            self.assertEqual(from_source, from_bundle, fmt)
        rc, out, _ = chgc("windows", "--effective", "--format", "ics", "--risk", "high", *self.RANGE, self.b)
        self.assertEqual(out.count("BEGIN:VEVENT"), 2)
        self.assertIn("DTSTART:20261227T000000Z\r\nDTEND:20261227T050000Z\r\nSUMMARY:effective high\r\n", out)

    def test_text_warning_on_stderr(self):
        rc, out, err = chgc("windows", "--effective", "--risk", "high", "--flag", "incident-freeze",
                            *self.RANGE, self.b)
        self.assertEqual(rc, 0)
        self.assertIn("\nrisk class high\n", out)
        self.assertNotIn("risk class low", out)
        self.assertIn("  (no slot in this range)\n", out)
        self.assertEqual(err, self.p + ":1:12: warning[W0030]: changes of risk class 'high' can never go between "
                         "2026-12-26T00:00:00Z and 2026-12-28T00:00:00Z: they need window nights, never open "
                         "outside freezes xmas, incident (assuming rules that apply to some of them apply: s)\n")

    def test_usage(self):
        self.assertEqual(chgc("windows", "--risk", "high", self.p)[:3:2],
                         (2, "chgc: --risk: only with --effective\n"))
        self.assertEqual(chgc("windows", "--effective", "--risk", "urgent", self.p)[:3:2],
                         (2, "chgc: --risk: unknown risk class 'urgent' (the classes are low and high)\n"))
        q = os.path.join(self.dir, "q.chg")
        with open(q, "w") as f:
            f.write('window w = daily 01:00..02:00 in "UTC"\nrule r: require window w\n')
        self.assertEqual(chgc("windows", "--effective", "--risk", "high", q)[:3:2],
                         (2, "chgc: --risk: the policy declares no risk classes\n"))
        rc, out, _ = chgc("windows", "--effective", "--from", "2026-12-01T00:00:00Z", "--to",
                          "2026-12-02T00:00:00Z", q)
        self.assertEqual(rc, 0)
        self.assertIn("\nall changes\n  window w: rule r (" + q + ":2:6)\n"
                      "  2026-12-01T01:00:00Z .. 2026-12-01T02:00:00Z      1h00m  w opens .. w closes\n", out)


class Bundles(unittest.TestCase):
    """Every command that takes a policy takes a .chgb, verified on load."""

    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.bundle = os.path.join(self.dir, "production.chgb")
        rc, _, err = chgc("build", "-o", self.bundle, os.path.join(ROOT, "policies/production.chg"))
        self.assertEqual((rc, err), (0, ""))

    def tearDown(self):
        shutil.rmtree(self.dir)

    def test_eval_disasm_and_build_take_a_bundle(self):
        args = ["--event", "policies/examples/schema-change.json", "--facts", "policies/examples/facts.json"]
        src = chgc("eval", "policies/production.chg", *args, cwd=ROOT)
        self.assertEqual(src[0], 0)
        self.assertEqual(chgc("eval", self.bundle, *args, cwd=ROOT), src)
        self.assertEqual(chgc("disasm", self.bundle), chgc("disasm", os.path.join(ROOT, "policies/production.chg")))
        # build re-verifies a bundle and writes the same bytes
        copy = os.path.join(self.dir, "copy.chgb")
        self.assertEqual(chgc("build", "-o", copy, self.bundle)[0], 0)
        self.assertEqual(open(copy, "rb").read(), open(self.bundle, "rb").read())

    def test_a_damaged_bundle_is_refused_by_every_command(self):
        data = bytearray(open(self.bundle, "rb").read())
        data[len(data) // 2] ^= 0x40
        bad = os.path.join(self.dir, "bad.chgb")
        open(bad, "wb").write(bytes(data))
        for cmd in (["eval", bad, "--event", "-"], ["disasm", bad], ["windows", bad],
                    ["build", "-o", os.path.join(self.dir, "x.chgb"), bad]):
            rc, out, err = chgc(*cmd, stdin=b"{}")
            self.assertEqual(rc, 2, cmd)
            self.assertEqual(out, "")
            self.assertTrue(err.startswith("chgc: " + bad + ": "), err)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "x.chgb")))

    def test_check_verifies_a_bundle_and_test_refuses_one(self):
        rc, out, err = chgc("check", self.bundle)
        self.assertEqual((rc, err), (0, ""))
        self.assertRegex(out, r"production.chgb: a verified bundle: policy production-changes version 2026.11, "
                              r"sha256 [0-9a-f]{64}\n")
        data = bytearray(open(self.bundle, "rb").read())
        data[100] ^= 1
        bad = os.path.join(self.dir, "bad.chgb")
        open(bad, "wb").write(bytes(data))
        rc, out, err = chgc("check", bad)
        self.assertEqual((rc, out), (1, ""))
        self.assertTrue(err.startswith("chgc: " + bad + ": "), err)
        rc, _, err = chgc("test", self.bundle)
        self.assertEqual(rc, 2)
        self.assertIn("a bundle holds no tests", err)

    def test_policy_and_event_cannot_both_be_stdin(self):
        rc, _, err = chgc("eval", "-", "--event", "-", stdin=b"")
        self.assertEqual(rc, 2)
        self.assertIn("only one of the policy, --event and --facts can be standard input", err)
        rc, _, err = chgc("eval", "p.chg", "--facts", "-", "--event", "-", stdin=b"")
        self.assertEqual(rc, 2)

    def test_one_file_named_twice_is_checked_once(self):
        p = os.path.join(self.dir, "p.chg")
        open(p, "w").write("let a = b\n")
        rc, out, _ = chgc("check", "--color", "never", p, os.path.join(self.dir, ".", "p.chg"))
        self.assertEqual(rc, 1)
        self.assertEqual(out.count("E0101"), 1)


class Streams(unittest.TestCase):
    """chgc eval --jsonl answers each line as it comes, on one thread and on several."""

    def test_a_decision_comes_back_before_the_input_ends(self):
        for threads in ("1", "2"):
            p = subprocess.Popen([CHGC, "eval", "policies/production.chg", "--jsonl", "--event", "-",
                                  "--threads", threads], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
            try:
                change = open(os.path.join(ROOT, "policies/examples/schema-change.json"), "rb").read()
                p.stdin.write(change.replace(b"\n", b" ") + b"\n")
                p.stdin.flush()
                import select
                ready, _, _ = select.select([p.stdout], [], [], 20)
                self.assertTrue(ready, "no decision while the input is still open (threads %s)" % threads)
                line = p.stdout.readline()
                self.assertTrue(line.startswith(b'{"change":"c1"'), line)
                # half a line: what was decided before it is not held back
                p.stdin.write(change.replace(b"\n", b" ") + b"\n" + b'{"id": "half')
                p.stdin.flush()
                ready, _, _ = select.select([p.stdout], [], [], 20)
                self.assertTrue(ready, "a decision held while a line is half written (threads %s)" % threads)
                self.assertTrue(p.stdout.readline().startswith(b'{"change":"c1"'))
                p.stdin.write(b'"}\nnot json\n')
                p.stdin.close()
                rest = p.stdout.read()
                self.assertTrue(rest.startswith(b'{"change":"half"'), rest)
                self.assertIn(b'{"error":"line 4, column 3: ', rest)
                self.assertEqual(p.wait(timeout=20), 1)
            finally:
                if p.poll() is None:
                    p.kill()
                p.stdout.close()
                p.stderr.close()


class HostileInput(unittest.TestCase):
    def test_time_sets_that_double_at_each_level_are_refused_at_once(self):
        # 60 levels of w(k) = w(k+1) or w(k+1): 2^60 nodes written out. Check
        # and build used to hang; the bound is the checker's (E0410).
        lines = ["window w60 = daily 01:00..02:00"] + ["window w%d = w%d or w%d" % (i, i + 1, i + 1)
                                                      for i in range(59, -1, -1)]
        src = "\n".join(lines) + "\nrule r:\n  require window w0\n"
        for cmd in (["check", "--color", "never", "-"], ["build", "-o", "/dev/null", "-"]):
            rc, out, err = chgc(*cmd, stdin=src.encode(), timeout=30)
            self.assertEqual(rc, 1, cmd)
            self.assertIn("error[E0410]: time set 'w0' is too large once the sets it names are written out: "
                          "more than 4096 nodes", out + err)
        # a set written inside a rule is counted too: check fails as build would
        lines = ["window w11 = daily 01:00..02:00"] + ["window w%d = w%d or w%d" % (i, i + 1, i + 1)
                                                      for i in range(10, -1, -1)]  # w0: 4095 nodes, allowed
        src = "\n".join(lines) + '\nrule r:\n  require window w0\nrule s:\n  deny during w0 or w0 "x"\n'
        rc, out, _ = chgc("check", "--color", "never", "-", stdin=src.encode(), timeout=30)
        self.assertEqual(rc, 1)
        self.assertIn("error[E0410]: time set 's#1' is too large once the sets it names are written out: "
                      "more than 4096 nodes", out)
        self.assertNotIn("'w0' is too large", out)
        # small but deep: each level adds two operators. Up to the time
        # library's 200 levels, check and build both accept it; one more
        # level and check refuses it as build would
        def deep(levels):
            n = (levels - 1) // 2
            lines = ["freeze w%d = daily 01:00..02:00" % n] + [
                "freeze w%d = (w%d or daily 03:00..04:00) or daily 05:00..06:00" % (i, i + 1)
                for i in range(n - 1, -1, -1)]
            return ("\n".join(lines) + '\nrule r:\n  deny during w0 "x"\n').encode()
        for cmd in (["check", "--color", "never", "-"], ["build", "-o", "/dev/null", "-"]):
            rc, out, err = chgc(*cmd, stdin=deep(199), timeout=30)
            self.assertEqual(rc, 0, (cmd, out, err))
            rc, out, err = chgc(*cmd, stdin=deep(201), timeout=30)
            self.assertEqual(rc, 1, (cmd, out, err))
            self.assertIn("too large once the sets it names are written out: nested more than 200 deep", out + err)

    def test_devices_on_standard_input_are_refused(self):
        with open("/dev/zero", "rb") as zero:
            for extra in ([], ["--jsonl"]):
                r = subprocess.run([CHGC, "eval", "policies/production.chg", "--event", "-"] + extra, cwd=ROOT,
                                   stdin=zero, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
                self.assertEqual(r.returncode, 2, extra)
                self.assertEqual(r.stderr, b"chgc: standard input: not a regular file or a pipe\n")

    def test_fifo_and_device_are_refused_not_waited_for(self):
        with tempfile.TemporaryDirectory() as d:
            fifo = os.path.join(d, "p.chg")
            os.mkfifo(fifo)  # nobody writes it: opening must not block
            rc, out, err = chgc("check", fifo, timeout=20)
            self.assertEqual((rc, out, err), (2, "", "chgc: %s: not a regular file\n" % fifo))
            rc, _, err = chgc("eval", "/dev/zero", "--event", fifo, timeout=20)
            self.assertEqual(rc, 2)
            rc, _, err = chgc("eval", os.path.join(ROOT, "policies/production.chg"), "--event", "/dev/zero",
                              timeout=20)
            self.assertEqual((rc, err), (2, "chgc: /dev/zero: not a regular file or a pipe\n"))

    def test_fifty_megabyte_file(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "big.chg")
            with open(path, "w") as f:
                line = "let v%07d = %d + 1 # padding padding padding padding padding\n"
                n = 0
                size = 0
                while size < 50 * 1024 * 1024:
                    s = line % (n, n)
                    f.write(s)
                    size += len(s)
                    n += 1
                f.write("let broken = (1 +\n")
            t = time.monotonic()
            rc, out, _ = chgc("check", "--no-lint", path)
            elapsed = time.monotonic() - t
            self.assertEqual(rc, 1)
            self.assertIn("error[E0013]: unexpected end of file", out)
            print(f"\n50 MB file, {n} declarations: checked in {elapsed:.2f} s", file=sys.stderr)

    def test_ten_thousand_deep(self):
        for unit in ("(", "[", "{", "not ", "- ", "a + "):
            src = "let x = " + unit * 10000 + "1\n"
            rc, out, _ = chgc("check", "-", stdin=src.encode())
            self.assertEqual(rc, 1, unit)
            # the report names what nests: a bracket, or an expression's operators
            what = "bracket" if unit in "([{" else "expression"
            self.assertIn(f"error[E0011]: this {what} nests too deep (more than 256 levels)", out, unit)

    def test_calendar_libical_would_complain_about(self):
        # libical prints "Encountered END before BEGIN" to stderr by itself;
        # chg reports it as a diagnostic first, and stderr stays clean
        with tempfile.TemporaryDirectory() as d:
            open(os.path.join(d, "bad.ics"), "w").write("END:VEVENT\r\nBEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
            open(os.path.join(d, "p.chg"), "w").write('freeze f = calendar "bad.ics"\nrule r:\n  deny during f "x"\n')
            rc, out, err = chgc("check", "--color", "never", "p.chg", cwd=d)
            self.assertEqual((rc, err), (1, ""))
            self.assertIn("error[E0405]: invalid calendar 'bad.ics': line 1: 'END:VEVENT' comes before its BEGIN", out)

    def test_binary_garbage(self):
        data = bytes(range(256)) * 64
        rc, out, err = chgc("check", "-", stdin=data)
        self.assertEqual(rc, 1)
        self.assertEqual(err, "")
        self.assertIn("E0002", out)

TESTED = """\
schema change { id: string, env: enum("dev", "prod"), requested_at: time,
                requester: { name: string, groups: [string] },
                approvals: [{ by: string, group: string, at: time }] }
at change.requested_at
risk low < high
classify {
  high    when change.env == "prod"
  default low
}
approvals {
  low  => none
  high => 1 of group "cab"
}
rule quiet advisory:
  when change.id == "never"
  warn "never"

test "dev is low" {
  change { id: "d1", env: "dev", requested_at: 2026-12-01T10:00Z, requester: { name: "a", groups: [] }, approvals: [] }
  expect allow risk low
}

test "prod wants the cab" {
  change { id: "p1", env: "prod", requested_at: 2026-12-01T10:00Z, requester: { name: "a", groups: [] }, approvals: [] }
  expect allow risk low
}
"""


class Test(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.path = os.path.join(self.dir, "p.chg")
        open(self.path, "w").write(TESTED)

    def tearDown(self):
        shutil.rmtree(self.dir)

    def test_text_shows_want_got_and_place(self):
        rc, out, err = chgc("test", "--color", "never", "p.chg", cwd=self.dir)
        self.assertEqual(rc, 1)
        self.assertEqual(err, "")
        lines = out.splitlines()
        self.assertEqual(lines[0], "p.chg")
        self.assertEqual(lines[1], "  ok    dev is low")
        self.assertEqual(lines[2], "  FAIL  prod wants the cab (p.chg:23:1)")
        self.assertEqual(lines[3], '        p.chg:25:10: expect outcome: want "allow", got "pending"')
        self.assertEqual(lines[4], '        p.chg:25:16: expect risk: want "low", got "high"')
        self.assertTrue(lines[5].startswith('        decision: {"change":"p1",'))
        self.assertEqual(lines[-1], "2 tests: 1 passed, 1 failed")

    def test_formats(self):
        rc, out, _ = chgc("test", "-f", "tap", "p.chg", cwd=self.dir)
        self.assertEqual(rc, 1)
        self.assertTrue(out.startswith("TAP version 13\n1..2\nok 1 - p.chg: dev is low\nnot ok 2 - p.chg: prod wants the cab\n"))
        rc, out, _ = chgc("test", "-f", "junit", "p.chg", cwd=self.dir)
        import xml.etree.ElementTree as ET
        root = ET.fromstring(out)
        self.assertEqual((root.get("tests"), root.get("failures")), ("2", "1"))
        self.assertEqual(len(root.findall(".//failure")), 1)
        rc, out, _ = chgc("test", "-f", "json", "--coverage", "p.chg", cwd=self.dir)
        d = json.loads(out)
        self.assertEqual((d["passed"], d["failed"]), (1, 1))
        cov = d["suites"][0]["coverage"]
        self.assertEqual(cov["rules"], [{"rule": "quiet", "source": "p.chg:14:6", "exercised": False}])
        self.assertEqual(cov["percent"], 66.7)

    def test_run_filter_and_threshold(self):
        rc, out, _ = chgc("test", "--run", "^dev", "p.chg", cwd=self.dir)
        self.assertEqual(rc, 0)
        self.assertIn("1 tests: 1 passed, 0 failed", out)
        rc, out, err = chgc("test", "--run", "^dev", "--threshold", "90", "p.chg", cwd=self.dir)
        self.assertEqual(rc, 1)
        self.assertIn("not exercised: rule quiet at p.chg:14:6", out)
        self.assertIn("coverage 33.3% is below the threshold 90.0%", err)
        rc, _, err = chgc("test", "--run", "(", "p.chg", cwd=self.dir)
        self.assertEqual(rc, 2)
        self.assertIn("--run: at offset 1: missing closing parenthesis", err)
        rc, _, err = chgc("test", "--run", "nothing-matches", "p.chg", cwd=self.dir)
        self.assertEqual(rc, 1)
        self.assertIn("no tests found matching --run", err)

    def test_expect_error_on_input_not_taken_checks_nothing_else(self):
        open(self.path, "a").write('test "odd input" {\n  event { source: "aws.health", "detail-type": "AWS Health Event", detail: {} }\n  expect error reasons [\"quiet\"]\n}\n')
        rc, out, _ = chgc("test", "--color", "never", "--run", "odd input", "p.chg", cwd=self.dir)
        self.assertEqual(rc, 1, out)
        self.assertIn("expect reasons: the event was not taken", out)

    def test_policy_with_errors_is_not_run(self):
        open(self.path, "a").write("rule broken:\n  when change.nope\n  warn \"x\"\n")
        rc, out, err = chgc("test", "p.chg", cwd=self.dir)
        self.assertEqual(rc, 1)
        self.assertIn("error[E0104]: unknown field 'nope'", err)
        self.assertIn("p.chg: the policy has errors; its tests were not run", err)

    def test_budgets_show_the_most_a_decision_used(self):
        rc, out, _ = chgc("test", "--run", "^dev", "--budgets", "p.chg", cwd=self.dir)
        self.assertEqual(rc, 0, out)
        line = [l for l in out.splitlines() if l.startswith("budgets: ")]
        self.assertEqual(len(line), 1, out)
        self.assertRegex(line[0], r"^budgets: p\.chg: at most [1-9][0-9]* of 10000000 steps and [0-9]+ of 16777216 "
                                  r"bytes of scratch in one decision; regex 1000000 steps per match$")
        open(self.path, "a").write("limits { steps: 5000, scratch: 65536 }\n")
        rc, out, _ = chgc("test", "--run", "^dev", "--budgets", "p.chg", cwd=self.dir)
        self.assertIn(" of 5000 steps and ", out)
        self.assertIn(" of 65536 bytes of scratch", out)

    def test_library_passes(self):
        rc, out, err = chgc("test", "--coverage", "--threshold", "90", "policies", cwd=ROOT)
        self.assertEqual((rc, err), (0, ""), out)


class SchemaValidation(unittest.TestCase):
    """The whole change is checked against the schema before any rule runs,
    on every path: a document, a stream of lines on several threads, an
    explanation (tests/decisions and tests/lang have the rest)."""
    POLICY = "tests/lang/schema.chg"
    GOOD = {"id": "g", "env": "dev", "service": "search", "size": 3, "ratio": 1.5, "dry_run": False,
            "requested_at": "2026-12-01T10:00:00Z", "lead_time": 60, "requester": {"name": "ann", "groups": []},
            "approvals": []}

    def bad(self, i):
        c = dict(self.GOOD, id=f"b{i}", service="paymnets")
        c["requester"] = {"name": i, "groups": []}
        return c

    def test_jsonl_alternating_bad_and_good_lines(self):
        lines = [self.bad(i) if i % 2 else dict(self.GOOD, id=f"g{i}") for i in range(400)]
        stdin = "".join(json.dumps(x) + "\n" for x in lines).encode()
        outs = []
        for threads in ("1", "2"):
            rc, out, err = chgc("eval", self.POLICY, "--jsonl", "--event", "-", "--threads", threads,
                                stdin=stdin, cwd=ROOT)
            self.assertEqual((rc, err), (0, ""))
            outs.append(out)
        self.assertEqual(outs[0], outs[1])
        decisions = [json.loads(x) for x in outs[0].splitlines()]
        self.assertEqual(len(decisions), 400)
        for i, d in enumerate(decisions):
            if i % 2:
                self.assertEqual((d["change"], d["outcome"], d["risk"]), (f"b{i}", "error", None))
                self.assertEqual([r["message"] for r in d["reasons"]],
                                 ['change.service: "paymnets" is not one of "payments", "search"',
                                  "change.requester.name: expected string, found an integer"])
            else:
                self.assertEqual((d["change"], d["outcome"], d["reasons"]), (f"g{i}", "allow", []))

    def test_an_integer_beyond_int64_is_refused_as_input(self):
        text = json.dumps(self.GOOD).replace('"size": 3', '"size": 9223372036854775808')
        rc, out, err = chgc("eval", self.POLICY, "--event", "-", stdin=text.encode(), cwd=ROOT)
        self.assertEqual(rc, 1)
        self.assertIn("too big integer", err)
        rc, out, err = chgc("eval", self.POLICY, "--jsonl", "--event", "-",
                            stdin=(text + "\n" + json.dumps(self.GOOD) + "\n").encode(), cwd=ROOT)
        first, second = out.splitlines()
        self.assertIn("too big integer", json.loads(first)["error"])
        self.assertEqual(json.loads(second)["outcome"], "allow")

    def test_explain_lists_every_offending_path(self):
        rc, out, _ = chgc("eval", self.POLICY, "--event", "-", "--explain", stdin=json.dumps(self.bad(1)).encode(),
                          cwd=ROOT)
        self.assertEqual(rc, 0)
        self.assertIn("the change does not fit the schema:\n"
                      "  error at tests/lang/schema.chg:14:3: change.service: \"paymnets\" is not one of "
                      "\"payments\", \"search\"\n"
                      "  error at tests/lang/schema.chg:20:19: change.requester.name: expected string, "
                      "found an integer\n", out)
        rc, out, _ = chgc("eval", self.POLICY, "--event", "-", "--explain",
                          stdin=json.dumps(dict(self.GOOD, extra=1)).encode(), cwd=ROOT)
        self.assertIn("warning (schema): change.extra is not declared in the schema\n", out)


class VisibleText(unittest.TestCase):
    """User text printed where a terminal or a CI log reads it (file names,
    source lines, messages, change ids, parser quotes, flag and test names)
    is visible text (\\n, \\xNN, \\u{NNNN} for controls and bidi marks), so no
    output line can be forged and no escape sequence reaches the terminal."""

    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)

    def write(self, name, text):
        with open(os.path.join(self.dir, name), "w", encoding="utf-8") as f:
            f.write(text)
        return name

    def test_file_names_in_text_and_github_formats(self):
        name = self.write("evil\n::error file=x::forged\x1b[2J\u202e.chg", 'policy "p" version "1"\nlet y = nope\n')
        rc, out, _ = chgc("check", "--color", "never", name, cwd=self.dir)
        self.assertEqual(rc, 1)
        self.assertEqual(out, "evil\\n::error file=x::forged\\x1B[2J\\u{202E}.chg:2:9: error[E0101]: unknown name "
                         "'nope'\n    2 | let y = nope\n      |         ^~~~\n1 error\n")
        rc, out, _ = chgc("check", "--format", "github", name, cwd=self.dir)
        self.assertEqual(out, "::error file=evil\\n%3A%3Aerror file=x%3A%3Aforged\\x1B[2J\\u{202E}.chg,line=2,col=9,"
                         "endLine=2,endColumn=13,title=E0101::unknown name 'nope'\n")
        # the JSON formats keep the name as it is, JSON-escaped
        rc, out, _ = chgc("check", "--format", "json", name, cwd=self.dir)
        self.assertIn('"file":"evil\\n::error file=x::forged\\u001b[2J\u202e.chg"', out)

    def test_explain_messages_and_change_ids(self):
        self.write("p.chg", 'policy "p" version "1"\nrule r:\n'
                   '  deny "bad\\n::error::forged\\u{1b}[2J\\u{202E}x {change.id}"\n')
        self.write("e.json", '{"id": "c\\n::error::x\\u001b[2J"}')
        rc, out, _ = chgc("eval", "p.chg", "--event", "e.json", "--at", "2026-12-02T00:00:00Z", "--explain",
                          cwd=self.dir)
        self.assertEqual(rc, 0)
        lines = out.splitlines()
        self.assertEqual(lines[0], "change c\\n::error::x\\x1B[2J under p 1 at 2026-12-02T00:00:00Z: deny")
        self.assertEqual(lines[4], "      -> bad\\n::error::forged\\x1B[2J\\u{202E}x c\\n::error::x\\x1B[2J")
        self.assertNotIn("\x1b", out)
        self.assertFalse(any(l.startswith("::") for l in lines), out)
        # the decision line is JSON, escaped as JSON, content unchanged
        d = json.loads(lines[-1][len("decision: "):])
        self.assertEqual(d["reasons"][0]["message"], "bad\n::error::forged\x1b[2J\u202ex c\n::error::x\x1b[2J")

    def test_eval_stderr_quotes_of_the_input(self):
        self.write("p.chg", 'policy "p" version "1"\nrule r:\n  deny "x"\n')
        with open(os.path.join(self.dir, "s.jsonl"), "wb") as f:
            f.write(b'{"id":"a"}\n\x1b[2J\xe2\x80\xae\n')
        rc, out, err = chgc("eval", "p.chg", "--jsonl", "--event", "s.jsonl", "--at", "2026-12-02T00:00:00Z",
                            cwd=self.dir)
        self.assertEqual((rc, err), (1, "chgc: line 2, column 1: '[' or '{' expected near '\\x1B'\n"))
        self.assertEqual(json.loads(out.splitlines()[1]), {"error": "line 2, column 1: '[' or '{' expected near '\x1b'"})
        with open(os.path.join(self.dir, "d.json"), "wb") as f:
            f.write(b'\x1b[2J')
        rc, out, err = chgc("eval", "p.chg", "--event", "d.json", cwd=self.dir)
        self.assertEqual((rc, err), (1, "chgc: d.json: line 1, column 1: '[' or '{' expected near '\\x1B'\n"))
        self.write("f.json", '{"flags": {"a\\u001b[2J\\n::error::x": true}}')
        self.write("e.json", '{"id": "c"}')
        rc, out, err = chgc("eval", "p.chg", "--event", "e.json", "--facts", "f.json", cwd=self.dir)
        self.assertEqual((rc, err), (0, "chgc: f.json: warning: flag 'a\\x1B[2J\\n::error::x' is never read by the "
                                        "policy\n"))
        # a file name in chgc's own errors
        rc, out, err = chgc("eval", "p.chg", "--event", "no\n::error::such\x1b.json", cwd=self.dir)
        self.assertEqual((rc, err), (2, "chgc: no\\n::error::such\\x1B.json: No such file or directory\n"))

    def test_test_names_in_text_and_tap(self):
        self.write("t.chg", 'policy "p" version "1"\nrule r:\n  deny "x"\n'
                   'test "t1\\nok 5 - forged\\n::error::forged\\u{1b}[2J\\u{202E}" {\n'
                   '  change { id: "c" }\n  expect deny\n}\n')
        rc, out, _ = chgc("test", "t.chg", cwd=self.dir)
        self.assertEqual((rc, out), (0, "t.chg\n  ok    t1\\nok 5 - forged\\n::error::forged\\x1B[2J\\u{202E}\n"
                                        "1 tests: 1 passed, 0 failed\n"))
        rc, out, _ = chgc("test", "--format", "tap", "t.chg", cwd=self.dir)
        self.assertEqual((rc, out), (0, "TAP version 13\n1..1\n"
                                        "ok 1 - t.chg: t1\\nok 5 - forged\\n::error::forged\\x1B[2J\\u{202E}\n"))

    def test_fifo_as_import_calendar_or_test_input_is_refused_at_once(self):
        for name in ("imp.chg", "cal.ics", "inp.json"):
            os.mkfifo(os.path.join(self.dir, name))  # nobody writes them: opening must not block
        self.write("a.chg", 'policy "p" version "1"\nimport "imp.chg"\n')
        self.write("b.chg", 'policy "p" version "1"\nwindow w = calendar "cal.ics"\nrule r:\n  require window w\n')
        self.write("c.chg", 'policy "p" version "1"\nrule r:\n  deny "x"\n'
                   'test "t" {\n  change "inp.json"\n  expect deny\n}\n')
        for cmd, f, line in (("check", "a.chg", "a.chg:2:8: error[E0301]: cannot read imported file 'imp.chg': "
                                                "it is not a regular file"),
                             ("check", "b.chg", "b.chg:2:21: error[E0304]: cannot read calendar 'cal.ics': "
                                                "it is not a regular file"),
                             ("test", "c.chg", "c.chg:5:10: error[E0305]: cannot read test input 'inp.json': "
                                               "it is not a regular file")):
            t = time.monotonic()
            rc, out, err = chgc(cmd, "--color", "never", f, cwd=self.dir, timeout=20)
            self.assertLess(time.monotonic() - t, 10, f)
            self.assertEqual(rc, 1, f)
            self.assertEqual((out + err).splitlines()[0], line)

    def test_read_error_in_the_middle_of_a_stream_exits_2(self):
        # read() fails with EIO after 4,000 bytes of the stream: a shim
        # preloaded into chgc, compiled here (the only way to make a real
        # file fail mid-read without root)
        cc = shutil.which("cc") or shutil.which("gcc")
        if not cc:
            self.skipTest("no C compiler")
        src = os.path.join(self.dir, "failread.c")
        with open(src, "w") as f:
            f.write("""#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
static long total;
ssize_t read(int fd, void *buf, size_t n)
{
    static ssize_t (*real)(int, void *, size_t);
    if (!real)
        real = (ssize_t (*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
    char link[64], target[256];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t k = readlink(link, target, sizeof target - 1);
    target[k > 0 ? k : 0] = 0;
    if (k <= 0 || !strstr(target, "stream.jsonl"))
        return real(fd, buf, n);
    if (total >= 4000) {
        errno = EIO;
        return -1;
    }
    ssize_t r = real(fd, buf, n > 64 ? 64 : n);
    if (r > 0)
        total += r;
    return r;
}
""")
        so = os.path.join(self.dir, "failread.so")
        subprocess.run([cc, "-shared", "-fPIC", "-include", "stdio.h", "-o", so, src, "-ldl"], check=True)
        self.write("p.chg", 'policy "p" version "1"\nrule r:\n  when change.x == 1\n  deny "x"\n')
        with open(os.path.join(self.dir, "stream.jsonl"), "w") as f:
            for i in range(2000):
                f.write('{"id": "c%d", "x": 1}\n' % i)
        env = {"LD_PRELOAD": so, "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}
        for threads in ("1", "4"):
            rc, out, err = chgc("eval", "p.chg", "--jsonl", "--event", "stream.jsonl", "--threads", threads,
                                "--at", "2026-12-02T00:00:00Z", cwd=self.dir, env=env)
            self.assertEqual((rc, err), (2, "chgc: stream.jsonl: Input/output error\n"), threads)
            n = len(out.splitlines())
            self.assertTrue(0 < n < 2000, (threads, n))


class Explain(unittest.TestCase):
    def test_explain_says_which_approvals_were_discarded_and_names_the_flag(self):
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d)
        with open(os.path.join(d, "p.chg"), "w") as f:
            f.write('policy "p" version "1"\n'
                    'schema change { id: string, requester: { name: string }, '
                    'approvals: [{ by: string, group: string, at: time }] }\n'
                    'risk high\nclassify {\n  default high\n}\n'
                    'approvals {\n  high => 2 of group "cab" within 72h and 1 of group "sec"\n}\n'
                    'freeze incident = flag "incident"\nrule r:\n  deny during incident "an incident is open"\n')
        with open(os.path.join(d, "e.json"), "w") as f:
            json.dump({"id": "c1", "requester": {"name": "ann"}, "approvals": [
                {"by": "ann", "group": "cab", "at": "2026-12-01T10:00:00Z"},
                {"by": "bob", "group": "cab", "at": "2026-11-01T10:00:00Z"},
                {"by": "cy", "group": "cab", "at": "2026-12-01T11:00:00Z"},
                {"by": "cy", "group": "cab", "at": "2026-12-01T12:00:00Z"},
                {"by": "dan", "group": "sec", "at": "2026-12-09T10:00:00Z"},
                {"by": "eve", "group": "web", "at": "2026-12-01T09:00:00Z"}]}, f)
        with open(os.path.join(d, "f.json"), "w") as f:
            f.write('{"flags": {"incident": true}}')
        rc, out, _ = chgc("eval", "p.chg", "--event", "e.json", "--facts", "f.json", "--at", "2026-12-02T00:00:00Z",
                          "--explain", cwd=d)
        self.assertEqual(rc, 0, out)
        self.assertIn("""  missing: 1 of group cab within 72h
  missing: 1 of group sec
  not counted: ann at 2026-12-01T10:00:00Z: the requester's own approval (only terms 'including requester' count it)
  not counted: bob at 2026-11-01T10:00:00Z: older than 2 of group cab within 72h
  not counted: cy at 2026-12-01T12:00:00Z: a second approval by the same person counts once
  not counted: dan at 2026-12-09T10:00:00Z: given after now
  not counted: eve at 2026-12-01T09:00:00Z: no requirement in force asks for group web or for eve
""", out)
        self.assertIn("  - freeze incident does not end; it ends now if flag 'incident' is cleared\n", out)

    def test_explain_says_when_a_calendar_freeze_ends_past_the_horizon(self):
        # a calendar has no horizon (docs/time.md): its two-year event ends
        # 730 days on, past the default horizon of 366 days
        rc, out, _ = chgc("eval", "tests/lang/calendar_far.chg", "--event", "-", "--explain",
                          stdin=b'{"id": "f1", "kind": "freeze", "requested_at": "2026-12-02T00:00:00Z"}', cwd=ROOT)
        self.assertEqual(rc, 0, out)
        self.assertIn('"next_open":"2028-12-01T00:00:00Z"', out)
        self.assertIn("  - freeze migration ends at 2028-12-01T00:00:00Z\n", out)

    def test_explain_agrees_with_the_count_after_a_stale_approval(self):
        # bob's stale approval, then a fresh one: the count takes the fresh
        # one (met by bob and cy), so only the stale one is "not counted"
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d)
        with open(os.path.join(d, "q.chg"), "w") as f:
            f.write('policy "q" version "1"\n'
                    'schema change { id: string, requester: { name: string }, '
                    'approvals: [{ by: string, group: string, at: time }] }\n'
                    'risk high\nclassify {\n  default high\n}\n'
                    'approvals {\n  high => 2 of group "cab" within 72h\n}\n')
        with open(os.path.join(d, "e.json"), "w") as f:
            json.dump({"id": "c1", "requester": {"name": "ann"}, "approvals": [
                {"by": "bob", "group": "cab", "at": "2026-11-01T10:00:00Z"},
                {"by": "bob", "group": "cab", "at": "2026-12-01T10:00:00Z"},
                {"by": "cy", "group": "cab", "at": "2026-12-01T11:00:00Z"},
                {"by": "cy", "group": "cab", "at": "2026-12-01T12:00:00Z"}]}, f)
        rc, out, _ = chgc("eval", "q.chg", "--event", "e.json", "--at", "2026-12-02T00:00:00Z", "--explain", cwd=d)
        self.assertEqual(rc, 0, out)
        self.assertIn("""approvals: 2 of group cab within 72h
  met:     2 of group cab within 72h
  not counted: bob at 2026-11-01T10:00:00Z: older than 2 of group cab within 72h
  not counted: cy at 2026-12-01T12:00:00Z: a second approval by the same person counts once

decision: """, out)
        self.assertIn('"outcome":"allow"', out)

    def test_explain_names_exactly_the_flags_whose_change_alone_would_change_the_outcome(self):
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d)
        with open(os.path.join(d, "p.chg"), "w") as f:
            f.write('policy "p" version "1"\n'
                    'freeze two = flag "a" or flag "b"\nfreeze both = flag "c" and flag "d"\n'
                    'freeze ff = flag "e" and weekly mon-sun 00:00..23:59 in "UTC"\nfreeze nf = not flag "g"\n'
                    'rule r:\n  deny during two, both, ff, nf "frozen {freeze}"\n')
        with open(os.path.join(d, "f.json"), "w") as f:
            f.write('{"flags": {"a": true, "b": true, "c": true, "d": true, "e": true, "g": false}}')
        with open(os.path.join(d, "w.chg"), "w") as f:
            f.write('policy "w" version "1"\n'
                    'window w = weekly mon-sun 00:00..23:59 in "UTC" and not flag "maint"\n'
                    'window w2 = flag "open-now"\nwindow w3 = flag "x" or flag "y"\n'
                    'rule r:\n  require window w\nrule r2:\n  require window w2\nrule r3:\n  require window w3\n')
        with open(os.path.join(d, "f2.json"), "w") as f:
            f.write('{"flags": {"maint": true, "open-now": false}}')
        with open(os.path.join(d, "e.json"), "w") as f:
            f.write('{"id": "c1"}')
        rc, out, _ = chgc("eval", "p.chg", "--event", "e.json", "--facts", "f.json", "--at", "2026-12-02T00:00:00Z",
                          "--explain", cwd=d)
        self.assertEqual(rc, 0, out)
        self.assertIn("""what would change the outcome:
  - freeze two does not end; no one flag alone ends it (it reads flag 'a', flag 'b')
  - freeze both does not end; it ends now if flag 'c' is cleared, or if flag 'd' is cleared
  - freeze ff ends at 2026-12-02T23:59:00Z; it ends now if flag 'e' is cleared
  - freeze nf does not end; it ends now if flag 'g' is set
  - no instant within the horizon has every window open and no freeze
""", out)
        rc, out, _ = chgc("eval", "w.chg", "--event", "e.json", "--facts", "f2.json", "--at", "2026-12-02T00:00:00Z",
                          "--explain", cwd=d)
        self.assertEqual(rc, 0, out)
        self.assertIn("""what would change the outcome:
  - window w is closed; it opens now if flag 'maint' is cleared
  - window w2 is closed; it opens now if flag 'open-now' is set
  - window w3 is closed; it opens now if flag 'x' is set, or if flag 'y' is set
  - no instant within the horizon has every window open and no freeze
""", out)

    def test_explain_names_rules_values_and_what_would_change(self):
        rc, out, _ = chgc("eval", "policies/production.chg", "--event", "policies/examples/schema-change.json",
                          "--facts", "policies/examples/facts.json", "--explain", cwd=ROOT)
        self.assertEqual(rc, 0)
        self.assertIn("change c1 under production-changes 2026.11 at 2026-12-03T03:30:00Z: pending (risk critical)", out)
        self.assertIn("  critical  holds     policies/production.chg:30:3\n      prod = true, change.type = \"schema\"", out)
        self.assertIn('aws.cloudwatch.alarm_state("payments-5xx") = "OK"', out)
        self.assertIn("what would change the outcome:\n  - approvals: 1 of group security", out)
        last = out.splitlines()[-1]
        self.assertTrue(last.startswith("decision: {"))
        json.loads(last[len("decision: "):])

    def test_unknown_event_names_source_and_detail_type(self):
        rc, out, err = chgc("eval", "policies/production.chg", "--event",
                            "policies/events/codedeploy-instance-state-change.json", cwd=ROOT)
        self.assertEqual(rc, 1)
        self.assertIn('source "aws.codedeploy", detail-type "CodeDeploy Instance State-change Notification"', err)



if __name__ == "__main__":
    CHGC, ROOT = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    unittest.main(argv=[sys.argv[0], "-v"] + sys.argv[3:])
