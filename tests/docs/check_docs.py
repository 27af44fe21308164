#!/usr/bin/env python3
"""Check the examples in the docs: every ```chg block must pass `chgc check`
without errors (warnings are fine: examples are often fragments of a
policy), and a block with `test` blocks must pass `chgc test`.

    check_docs.py CHGC DOC.md...

Info-string words: `no-check` skips a block (use sparingly), `needs=F`
creates an empty file F next to the example (for imports), `file=F`
writes the block as F for later blocks of the same page (and checks it),
`with=F` checks the block appended to F (a policy's tests shown after
it), `in=DIR` runs the block inside a copy of the repository's DIR (to
import the policy library) and `as=NAME` names the block's file (for
`_test.chg` files). errors.md has its own checker (check_errors_md.py).

A ```console block whose info string has `run` shows a command and what
it prints: its first line is `$ chgc ARGS` (run in the directory of the
page's file= blocks), the rest must be its standard output followed by
its standard error, exactly.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EMPTY_ICS = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//chg docs//EN\r\nBEGIN:VEVENT\r\n"
             "UID:doc@example.com\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20261224T000000Z\r\n"
             "DTEND:20261227T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


def provide_calendars(text, d):
    """Calendars an example names: the repository's copy if there is one
    (policies/, tests/fixtures/calendars/), else a small valid calendar."""
    for path in re.findall(r'calendar\s+"([^"]+)"', text):
        dest = os.path.join(d, path)
        if os.path.exists(dest):
            continue
        os.makedirs(os.path.dirname(dest) or d, exist_ok=True)
        for cand in (os.path.join(ROOT, "policies", path),
                     os.path.join(ROOT, "tests", "fixtures", "calendars", os.path.basename(path))):
            if os.path.exists(cand):
                shutil.copy(cand, dest)
                break
        else:
            open(dest, "w").write(EMPTY_ICS)


def main():
    chgc = os.path.abspath(sys.argv[1])
    failed = checked = tested = 0
    for doc in [a for a in sys.argv[2:] if not a.startswith("--")]:
        text = open(doc, encoding="utf-8").read()
        with tempfile.TemporaryDirectory() as d:
            for m in re.finditer(r"^```chg([^\n]*)\n(.*?)^```", text, re.M | re.S):
                words = m.group(1).split()
                line = text[:m.start()].count("\n") + 1
                if "no-check" in words:
                    continue
                files = [w[5:] for w in words if w.startswith("file=")]
                if files:
                    open(os.path.join(d, files[0]), "w").write(m.group(2))
                for w in words:
                    if w.startswith("needs="):
                        open(os.path.join(d, w[6:]), "a").close()
                body = m.group(2)
                for w in words:
                    if w.startswith("with="):  # the block continues a file= block
                        body = open(os.path.join(d, w[5:]), encoding="utf-8").read() + "\n" + body
                wd, name = d, "example.chg"
                for w in words:
                    if w.startswith("in="):  # inside a copy of a repository directory
                        wd = os.path.join(d, "in-" + w[3:].replace("/", "-"))
                        if not os.path.isdir(wd):
                            shutil.copytree(os.path.join(ROOT, w[3:]), wd)
                    elif w.startswith("as="):
                        name = w[3:]
                provide_calendars(body, wd)
                path = os.path.join(wd, name)
                open(path, "w", encoding="utf-8").write(body)
                p = subprocess.run([chgc, "check", "--format", "json", name], cwd=wd,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
                checked += 1
                out = json.loads(p.stdout) if p.stdout else {"errors": -1, "diagnostics": []}
                if p.returncode != 0 or out["errors"]:
                    failed += 1
                    print(f"FAIL {doc}:{line}: example does not check")
                    for x in out["diagnostics"]:
                        print(f"  {x.get('line')}:{x.get('column')} {x['code']} {x['message']}")
                    if p.stderr:
                        print("  " + p.stderr.decode())
                    continue
                # an example with tests must pass them: the docs show what really happens
                if re.search(r'^\s*test\s+"', body, re.M):
                    p = subprocess.run([chgc, "test", "--color", "never", name], cwd=wd,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
                    tested += 1
                    if p.returncode != 0:
                        failed += 1
                        print(f"FAIL {doc}:{line}: example's tests fail\n" + p.stdout.decode() + p.stderr.decode())
            for m in re.finditer(r"^```console([^\n]*)\n(.*?)^```", text, re.M | re.S):
                if "run" not in m.group(1).split():
                    continue
                line = text[:m.start()].count("\n") + 1
                first, _, want = m.group(2).partition("\n")
                if not first.startswith("$ chgc "):
                    failed += 1
                    print(f"FAIL {doc}:{line}: a run block starts with '$ chgc …'")
                    continue
                p = subprocess.run([chgc] + first[len("$ chgc "):].split(), cwd=d,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
                checked += 1
                got = (p.stdout + p.stderr).decode("utf-8", "replace")
                if got != want:
                    failed += 1
                    print(f"FAIL {doc}:{line}: '{first}' prints otherwise:")
                    import difflib
                    for l in difflib.unified_diff(want.split("\n"), got.split("\n"), "doc", "chgc", lineterm=""):
                        print("  " + l)
    print(f"{checked} doc examples checked ({tested} with tests run), {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
