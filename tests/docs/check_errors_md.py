#!/usr/bin/env python3
"""Check docs/errors.md against the diagnostics table and the compiler.

    check_errors_md.py CHGC REPO_ROOT

- every code in include/chg_diag.def has a section '### CODE: title' and no
  section names a code the table lacks;
- each section's heading is '### CODE: title' with the table's title (the
  SARIF report links to its GitHub anchor) and its 'Message:' line equals
  the table's template;
- each section has a 'chg bad' and a 'chg fixed' example, or an HTML
  comment '<!-- no example: why -->';
- `chgc check --format json` on the bad example reports the code; on the
  fixed example it reports no error and not the code. Blocks with
  'file=NAME' are written next to the example first ('chgb file=NAME'
  holds policy source, built into that bundle). 'check-args=A,B' passes
  extra arguments. 'cmd=effective' runs `chgc windows --effective --format
  json` instead of check (codes it reports: W0030), reading the document's
  "diagnostics".
"""
import json
import os
import re
import subprocess
import sys
import tempfile


def table(root):
    codes = {}
    src = open(os.path.join(root, "include/chg_diag.def"), encoding="utf-8").read()
    for m in re.finditer(r'^CHG_DIAG\((\w+),\s*(\w+),\s*(\w+),\s*"((?:[^"\\]|\\.)*)",\s*"((?:[^"\\]|\\.)*)"\)',
                         src, re.M):
        title = re.sub(r"\\(.)", r"\1", m.group(4))
        msg = re.sub(r"\\(.)", r"\1", m.group(5))  # C escapes: \" \? \\
        codes[m.group(1)] = (title, msg)
    return codes


def sections(doc):
    parts = re.split(r"^### ", doc, flags=re.M)
    out = {}
    for p in parts[1:]:
        head, _, body = p.partition("\n")
        code = head.split(":")[0].strip()
        out[code] = body
    return out


def blocks(body):
    return [(m.group(1).split(), m.group(2)) for m in re.finditer(r"^```(\w[^\n]*)\n(.*?)^```", body, re.M | re.S)]


def run(chgc, workdir, text, args, effective=False):
    path = os.path.join(workdir, "example.chg")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    cmd = (["windows", "--effective", "--format", "json", "--from", "2026-11-26T00:00:00Z"] if effective else
           ["check", "--format", "json", "--at", "2026-11-26T00:00:00Z"])
    p = subprocess.run([chgc] + cmd + args + ["example.chg"],
                       cwd=workdir,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if p.returncode == 2 or p.stderr:
        raise RuntimeError(p.stderr.decode())
    return json.loads(p.stdout)


def main():
    chgc, root = os.path.abspath(sys.argv[1]), sys.argv[2]
    codes = table(root)
    doc = open(os.path.join(root, "docs/errors.md"), encoding="utf-8").read()
    secs = sections(doc)
    problems = []
    for code in codes:
        if code not in secs:
            problems.append(f"{code}: no section in docs/errors.md")
    for code in secs:
        if code not in codes:
            problems.append(f"{code}: section for a code the table does not have")
    examples = 0
    for code, body in secs.items():
        if code not in codes:
            continue
        title, msg = codes[code]
        m = re.search(r"^Message: `(.*)`$", body, re.M)
        if not m or m.group(1) != msg:
            problems.append(f"{code}: Message line {m.group(1) if m else None!r} != table {msg!r}")
        # the heading is the table's title: SARIF links to its GitHub anchor
        if f"\n### {code}: {title}\n" not in doc:
            problems.append(f"{code}: heading is not '### {code}: {title}' (the table's title)")
        if not title.isascii():
            problems.append(f"{code}: title {title!r} is not ASCII (the anchor rule in report.c assumes it)")
        bs = blocks(body)
        bad = [b for b in bs if b[0][:2] == ["chg", "bad"]]
        fixed = [b for b in bs if b[0][:2] == ["chg", "fixed"]]
        if not bad or not fixed:
            if "<!-- no example:" not in body:
                problems.append(f"{code}: needs a 'chg bad' and a 'chg fixed' example")
            continue
        with tempfile.TemporaryDirectory() as d:
            for info, text in bs:
                for word in info:
                    if word.startswith("file=") and info[0] == "chgb":
                        # policy source, compiled into the named bundle
                        src = os.path.join(d, word[5:] + ".src.chg")
                        with open(src, "w", encoding="utf-8") as f:
                            f.write(text)
                        subprocess.run([chgc, "build", "-o", os.path.join(d, word[5:]), src], check=True,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
                    elif word.startswith("file="):
                        with open(os.path.join(d, word[5:]), "w", encoding="utf-8") as f:
                            f.write(text)
            for (info, text), want in ((bad[0], True), (fixed[0], False)):
                args = []
                for word in info:
                    if word.startswith("check-args="):
                        args += word[len("check-args="):].split(",")
                try:
                    out = run(chgc, d, text, args, "cmd=effective" in info)
                except Exception as e:  # noqa: BLE001 - report and go on
                    problems.append(f"{code}: {info[1]} example: chgc failed: {e}")
                    continue
                examples += 1
                got = [x["code"] for x in out["diagnostics"]]
                if want and code not in got:
                    problems.append(f"{code}: bad example reports {got}, not {code}")
                if not want and (out.get("errors") or code in got):
                    problems.append(f"{code}: fixed example still reports {got}")
    for p in problems:
        print("FAIL " + p)
    print(f"{len(codes)} codes, {len(secs)} sections, {examples} examples run, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
