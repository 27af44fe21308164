#!/usr/bin/env python3
"""End-to-end tests of `chgc fmt`: the exact layout of a messy file,
--check and its diff (applied with patch(1) it gives the formatted file),
rewriting in place, files that do not parse, and over the whole corpus
(policies/, tests/lang, tests/golden): formatting is a fixed point and the
formatted policy checks to the same diagnostics.

    test_fmt.py CHGC REPO_ROOT
"""
import glob
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

CHGC = ROOT = None


def chgc(*args, cwd=None, stdin=None):
    p = subprocess.run([CHGC] + list(args), cwd=cwd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


class Fmt(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp(prefix="chg-fmt-")
        self.messy = read(os.path.join(ROOT, "tests", "fmt", "messy.chg"))
        self.expected = read(os.path.join(ROOT, "tests", "fmt", "messy.expected"))

    def tearDown(self):
        shutil.rmtree(self.d)

    def write(self, name, text):
        path = os.path.join(self.d, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def test_layout_of_a_messy_file(self):
        rc, out, err = chgc("fmt", "-", stdin=self.messy.encode())
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(out, self.expected)
        # formatted text is a fixed point
        rc, out, _ = chgc("fmt", "-", stdin=self.expected.encode())
        self.assertEqual((rc, out), (0, self.expected))

    def test_check_prints_a_diff_that_patch_applies(self):
        self.write("messy.chg", self.messy)
        rc, out, err = chgc("fmt", "--check", "messy.chg", cwd=self.d)
        self.assertEqual((rc, err), (1, ""))
        self.assertTrue(out.startswith("--- messy.chg\n+++ messy.chg (formatted)\n@@ -1,"), out[:80])
        self.assertEqual(read(os.path.join(self.d, "messy.chg")), self.messy)  # --check changes nothing
        self.write("fix.diff", out)
        p = subprocess.run(["patch", "-s", "messy.chg", "fix.diff"], cwd=self.d, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(read(os.path.join(self.d, "messy.chg")), self.expected)
        rc, out, err = chgc("fmt", "--check", "messy.chg", cwd=self.d)
        self.assertEqual((rc, out, err), (0, "", ""))

    def test_rewrites_in_place_keeping_the_mode(self):
        path = self.write("a.chg", self.messy)
        os.chmod(path, 0o640)
        self.write("b.chg", self.expected)
        rc, out, err = chgc("fmt", ".", cwd=self.d)
        self.assertEqual((rc, out, err), (0, "", "formatted ./a.chg\n"))
        self.assertEqual(read(path), self.expected)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o640)
        self.assertEqual(sorted(os.listdir(self.d)), ["a.chg", "b.chg"])  # no temporary left behind
        rc, out, err = chgc("fmt", ".", cwd=self.d)
        self.assertEqual((rc, out, err), (0, "", ""))

    def test_a_file_with_syntax_errors_is_left_alone(self):
        text = 'policy "p" version "1"\nrule r mandatory:\n  when (1 +\n  deny "x"\n'
        path = self.write("bad.chg", text)
        rc, out, err = chgc("fmt", "bad.chg", cwd=self.d)
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("bad.chg:4:3: error[E0013]", err)
        self.assertIn("chgc: fmt: bad.chg: not formatted: it has syntax errors\n", err)
        self.assertEqual(read(path), text)
        rc, _, err = chgc("fmt", "missing.chg", cwd=self.d)
        self.assertEqual(rc, 2)
        self.assertIn("missing.chg", err)
        rc, _, err = chgc("fmt", cwd=self.d)
        self.assertEqual(rc, 2)
        self.assertIn("no PATH given", err)

    def test_comments_and_blank_lines(self):
        text = ("# head\n\n\n\npolicy \"p\" version \"1\"   \n"
                "classify {\n  # before the arm\n      default low   # the only arm\n# before the end\n}\n"
                "risk low\n/* one */ /* two */\n\n\n")
        rc, out, _ = chgc("fmt", "-", stdin=text.encode())
        self.assertEqual(rc, 0)
        self.assertEqual(out, "# head\n\npolicy \"p\" version \"1\"\nclassify {\n  # before the arm\n"
                              "  default low  # the only arm\n  # before the end\n}\nrisk low\n/* one */ /* two */\n")

    def test_the_corpus_is_a_fixed_point_with_the_same_diagnostics(self):
        """Every file of the corpus that parses: fmt(fmt(x)) == fmt(x), and
        the formatted file checks to the same diagnostics (code and
        message; positions move)."""
        # copies, so that imports and calendars resolve beside each file
        for sub in ("policies", os.path.join("tests", "lang"), os.path.join("tests", "golden")):
            shutil.copytree(os.path.join(ROOT, sub), os.path.join(self.d, sub))
        files = sorted(glob.glob(os.path.join(self.d, "policies", "*.chg")) +
                       glob.glob(os.path.join(self.d, "tests", "lang", "*.chg")) +
                       glob.glob(os.path.join(self.d, "tests", "golden", "*", "*.chg")))
        formatted = 0
        for src in files:
            with open(src, "rb") as f:
                rc, once, err = chgc("fmt", "-", stdin=f.read())
            if rc == 1:
                continue  # syntax errors: not formatted
            self.assertEqual(rc, 0, src + ": " + err)
            rc, twice, _ = chgc("fmt", "-", stdin=once.encode())
            self.assertEqual(twice, once, src)
            if "/golden/" in src:
                continue
            diags = []
            for text in (None, once):
                if text is not None:
                    with open(src, "w", encoding="utf-8") as f:
                        f.write(text)
                _, out, _ = chgc("check", "--format", "json", os.path.basename(src), cwd=os.path.dirname(src))
                diags.append(sorted((d["code"], d["message"]) for d in json.loads(out)["diagnostics"]))
            self.assertEqual(diags[0], diags[1], src)
            formatted += 1
        self.assertGreater(formatted, 15)


if __name__ == "__main__":
    CHGC, ROOT = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    unittest.main(argv=sys.argv[:1])
