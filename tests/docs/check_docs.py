#!/usr/bin/env python3
"""Check the examples in the docs: every ```chg block must pass `chgc check`
without errors (warnings are fine: examples are often fragments of a
policy).

    check_docs.py CHGC DOC.md...

Info-string words: `no-check` skips a block (use sparingly), `needs=F`
creates an empty file F next to the example (for imports), `file=F`
writes the block as F for later blocks of the same page instead of
checking it. errors.md has its own checker (check_errors_md.py).
"""
import json
import os
import re
import subprocess
import sys
import tempfile


def main():
    chgc = os.path.abspath(sys.argv[1])
    failed = checked = 0
    for doc in sys.argv[2:]:
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
                    continue
                for w in words:
                    if w.startswith("needs="):
                        open(os.path.join(d, w[6:]), "a").close()
                path = os.path.join(d, "example.chg")
                open(path, "w", encoding="utf-8").write(m.group(2))
                p = subprocess.run([chgc, "check", "--format", "json", "example.chg"], cwd=d,
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
    print(f"{checked} doc examples checked, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
