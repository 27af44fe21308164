#!/usr/bin/env python3
"""Golden diagnostics runner.

Each tests/golden/**/*.chg file carries the exact output `chgc check` must
print for it, inline, in a comment block:

    # expect:
    # bad.chg:3:8: error[E0104]: unknown field 'enviroment' on change
    #     3 |   when change.enviroment == "prod"
    #       |               ^~~~~~~~~~
    #       = help: did you mean 'env'?
    # 1 error

The block runs from the line '# expect:' to the first line that does not
start with '#'. An empty block (just '# expect:') means the file checks
clean and prints nothing. The runner compares the whole text: codes,
positions, source lines and underlines. The exit status must be 1 when an
error is expected, else 0.

    run.py CHGC [--update] [FILE...]

A line '# flags: OPTIONS' adds options to the command (the files under
imports/ and names/ read tests/golden/lib with '--allow-path lib'). In the
output the absolute path of tests/golden reads $GOLDEN.

A line '# command: ARGS' runs `chgc ARGS FILE` instead of check (`chgc
windows --effective …`): the block is then its standard output followed by
its standard error, and the exit status is the one a '# exit: N' line
gives (default 0). '# target: PATH' (relative to tests/golden) puts PATH
in place of FILE, for listings of the policy library.

--update rewrites the blocks from the actual output (review the diff!).
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def expected_block(data):
    lines = data.split(b"\n")
    for i, line in enumerate(lines):
        if line.rstrip(b"\r") == b"# expect:":
            out = []
            for l in lines[i + 1:]:
                if not l.startswith(b"#"):
                    break
                out.append(l[2:] if l.startswith(b"# ") else l[1:])
            return i, len(out), out
    return None, 0, None


def flags(data):
    """Extra chgc options from a '# flags: …' line (e.g. --allow-path lib)."""
    for line in data.split(b"\n"):
        if line.startswith(b"# flags:"):
            return line[len(b"# flags:"):].decode().split()
    return []


def line_value(data, key):
    """The words of a '# KEY: …' line, or None."""
    for line in data.split(b"\n"):
        if line.startswith(b"# " + key + b":"):
            return line[len(key) + 3:].decode().split()
    return None


def run(chgc, path, extra, command=None, target=None):
    rel = target[0] if target else os.path.relpath(path, HERE)
    env = dict(os.environ, NO_COLOR="1")
    # a fixed start for the time analysis keeps the output the same every day
    args = command if command else ["check", "--color", "never", "--at", "2026-11-26T00:00:00Z"] + extra
    p = subprocess.run([chgc] + args + [rel], cwd=HERE,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=120)
    # absolute paths (E0307 names where a file resolves) differ per checkout
    real = os.path.realpath(HERE).encode()
    return p.returncode, p.stdout.replace(real, b"$GOLDEN"), p.stderr.replace(real, b"$GOLDEN")


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__)
        return 2
    chgc = os.path.abspath(args[0])
    update = "--update" in args
    files = [os.path.abspath(a) for a in args[1:] if a != "--update"]
    if not files:
        for root, _, names in os.walk(HERE):
            files += [os.path.join(root, n) for n in names if n.endswith(".chg")]
    files.sort()
    failed = 0
    for path in files:
        data = open(path, "rb").read()
        start, n, want = expected_block(data)
        if want is None:
            if os.path.basename(os.path.dirname(path)) == "lib":
                continue  # imported helper files carry no expectations
            print(f"FAIL {os.path.relpath(path, HERE)}: no '# expect:' block")
            failed += 1
            continue
        command = line_value(data, b"command")
        rc, out, err = run(chgc, path, flags(data), command, line_value(data, b"target"))
        if command:
            out, err = out + err, b""
            want_rc = int((line_value(data, b"exit") or ["0"])[0])
        got = out.rstrip(b"\n").split(b"\n") if out.strip() else []
        if not command:
            want_rc = 1 if any(b": error[" in l for l in want) else 0
        ok = got == want and rc == want_rc and not err
        if update and not ok:
            lines = data.split(b"\n")
            block = [(b"# " + l).rstrip() if l else b"#" for l in got]
            lines[start + 1:start + 1 + n] = block
            open(path, "wb").write(b"\n".join(lines))
            print(f"UPDATED {os.path.relpath(path, HERE)}")
            continue
        if not ok:
            failed += 1
            print(f"FAIL {os.path.relpath(path, HERE)} (exit {rc})")
            if err:
                print("  stderr: " + err.decode("utf-8", "replace"))
            import difflib
            for l in difflib.unified_diff([w.decode("utf-8", "replace") for w in want],
                                          [g.decode("utf-8", "replace") for g in got],
                                          "expected", "actual", lineterm=""):
                print("  " + l)
    print(f"{len(files) - failed}/{len(files)} golden files pass")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
