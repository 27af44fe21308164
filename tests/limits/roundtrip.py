#!/usr/bin/env python3
"""check -> build -> load over the corpus: `check` accepts exactly what
`build` builds, and what `build` writes loads and verifies.

For every .chg file under tests/golden, tests/lang, tests/decisions and
policies (each on its own, with the options its '# flags:' line gives):

  check clean (exit 0)   build exits 0 and writes a bundle, and
                         `chgc check OUT.chgb` loads and verifies it
  check with errors      build exits 1 too, with the same first error

Neither may ever say "internal error" (a bundle that does not verify after
a clean check, a code generator failing without a diagnostic).

    roundtrip.py CHGC ROOT
"""
import concurrent.futures
import os
import subprocess
import sys
import tempfile

DIRS = ["tests/golden", "tests/lang", "tests/decisions", "policies"]
AT = "2026-11-26T00:00:00Z"


def flags(path):
    with open(path, "rb") as f:
        for line in f.read().split(b"\n"):
            if line.startswith(b"# flags:"):
                return line[len(b"# flags:"):].decode().split()
    return []


def first_error(out):
    return next((l for l in out.split("\n") if ": error[" in l), None)


def one(chgc, tmp, top, path):
    # run from the top directory, as the golden runner does ('--allow-path lib')
    env = dict(os.environ, NO_COLOR="1")
    cwd = top
    name = os.path.relpath(path, top)
    extra = flags(path)

    def run(*args):
        p = subprocess.run([chgc] + list(args), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env, timeout=300)
        return p.returncode, (p.stdout + p.stderr).decode(errors="replace")

    out = os.path.join(tmp, path.replace("/", "_") + ".chgb")
    crc, cout = run("check", "--color", "never", "--at", AT, *extra, name)
    brc, bout = run("build", "-o", out, *extra, name)
    for text in (cout, bout):
        if "internal error" in text:
            return "internal error: " + text.strip()[:400]
    if crc == 0:
        if brc != 0:
            return "checks clean but build fails (exit %d): %s" % (brc, bout.strip()[:400])
        lrc, lout = run("check", "--color", "never", out)
        if lrc != 0 or "a verified bundle" not in lout:
            return "the bundle does not load (exit %d): %s" % (lrc, lout.strip()[:400])
        return None
    if crc != 1:
        return "check exits %d: %s" % (crc, cout.strip()[:400])
    if brc != 1 or first_error(bout) != first_error(cout):
        return "check fails but build (exit %d) says otherwise:\n    check: %s\n    build: %s" % (
            brc, first_error(cout), first_error(bout))
    return None


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    chgc, root = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    files = []
    for d in DIRS:
        for top, _, names in os.walk(os.path.join(root, d)):
            files += [(os.path.join(root, d), os.path.join(top, n)) for n in names if n.endswith(".chg")]
    files.sort()
    failed = clean = 0
    with tempfile.TemporaryDirectory() as tmp, concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda f: one(chgc, tmp, f[0], f[1]), files))
    for (_, path), err in zip(files, results):
        rel = os.path.relpath(path, root)
        if err:
            failed += 1
            print("FAIL %s\n  %s" % (rel, err))
    print("%d files: %d agree on check, build and load" % (len(files), len(files) - failed))
    return 1 if failed or not files else 0


if __name__ == "__main__":
    sys.exit(main())
