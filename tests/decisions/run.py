#!/usr/bin/env python3
"""Golden decisions: each tests/decisions/**/*.json case holds a policy
path (relative to the repository), an event, optional facts and --at, and
the exact decision `chgc eval` must print for it. "event_file" names a
fixture (relative to the repository) instead of an inline "event"; "exit"
the exit status expected (default 0).

    run.py CHGC REPO_ROOT [--update] [CASE...]

--update rewrites the expectations from the actual output (review the diff).
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    chgc, root = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    update = "--update" in sys.argv[3:]
    cases = [os.path.abspath(a) for a in sys.argv[3:] if a != "--update"]
    if not cases:
        for d, _, names in os.walk(HERE):
            cases += [os.path.join(d, n) for n in names if n.endswith(".json")]
    cases.sort()
    failed = 0
    for path in cases:
        case = json.load(open(path, encoding="utf-8"))
        with tempfile.TemporaryDirectory() as tmp:
            stdin = None
            if "event_file" in case:  # a fixture, relative to the repository
                ev = case["event_file"]
            else:
                ev, stdin = "-", json.dumps(case["event"]).encode()
            args = [chgc, "eval", case["policy"], "--event", ev]
            if "facts" in case:
                fp = os.path.join(tmp, "facts.json")
                json.dump(case["facts"], open(fp, "w"))
                args += ["--facts", fp]
            if "at" in case:
                args += ["--at", case["at"]]
            p = subprocess.run(args, cwd=root, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=60)
        got = p.stdout.decode("utf-8").rstrip("\n")
        want = json.dumps(case.get("expect"), separators=(",", ":"), ensure_ascii=False)
        name = os.path.relpath(path, HERE)
        if p.returncode != case.get("exit", 0) or got != want:
            if update and p.returncode == case.get("exit", 0):
                case["expect"] = json.loads(got)
                with open(path, "w", encoding="utf-8") as f:
                    json.dump(case, f, indent=2, ensure_ascii=False)
                    f.write("\n")
                print(f"UPDATED {name}")
                continue
            failed += 1
            print(f"FAIL {name} (exit {p.returncode})\n  got:  {got}\n  want: {want}")
            if p.stderr:
                print("  stderr: " + p.stderr.decode())
    print(f"{len(cases) - failed}/{len(cases)} golden decisions pass")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
