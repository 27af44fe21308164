#!/usr/bin/env python3
"""The limits of the bundle format, at the limit and one past it.

For every limit the compiler reports (docs/internals.md, "Limits"), a small
generator writes a policy exactly at the limit and one just past it:

  at the limit   `chgc check` is clean, `chgc build` writes a bundle, and
                 the bundle loads and verifies (`chgc check OUT.chgb`);
                 where the case says so, a decision shows the policy works
  past it        `chgc check` and `chgc build` both fail with exactly the
                 diagnostic given (its first line: code, place, numbers)

so `check` accepts exactly what `build` builds, and nothing past a limit is
cut or refused later by the loader (issue 10, point 2).

    run.py CHGC [NAME...]
"""
import json
import os
import subprocess
import sys
import tempfile

HEAD = 'policy "p" version "1"\nrisk low\nclassify { default low }\n'


def csv(items):
    return ", ".join(items)


# ---- the generators: n is the count being limited -----------------------------

def list_items(n):
    # a list with a computed item is built by LIST, whose count is a u8
    return HEAD + "rule r mandatory:\n  when change.x in [" + csv("change.a%d" % i for i in range(n)) + ']\n  deny "x"\n'


def literal_list(n):
    # a list of plain literals is one constant: no count limit of its own
    # (its items are constants of the pool, which E0607 bounds)
    return HEAD + "rule r mandatory:\n  when change.x in [" + csv('"v%d"' % i for i in range(n)) + ']\n  deny "listed"\n'


def interp_parts(n):
    parts = "".join("{change.a%d}" % i for i in range(n))
    return HEAD + 'rule r mandatory:\n  when true\n  deny "' + parts + '"\n'


def object_fields(n):
    return (HEAD + "let o = {" + csv("f%d: change.a%d" % (i, i) for i in range(n)) + "}\n"
            "rule r mandatory:\n  when o.f0 == 1\n  deny \"x\"\n")


def record_fields(n):
    # fields read on the elements of one list share its record layout;
    # 85 to a let keeps each `or` chain well inside the nesting limit
    lets, rules = [], []
    for k in range(0, n, 85):
        terms = " or ".join("e.f%d == 1" % i for i in range(k, min(n, k + 85)))
        lets.append("let l%d = any e in change.l: %s\n" % (k, terms))
        rules.append("rule r%d mandatory:\n  when l%d\n  deny \"x\"\n" % (k, k))
    return HEAD + "".join(lets) + "".join(rules)


def enum_values(n):
    return (HEAD + "schema change {\n  id: string\n  e: enum(" + csv('"v%d"' % i for i in range(n)) + ")\n}\n"
            "rule r mandatory:\n  when change.e == \"v%d\"\n  deny \"last\"\n" % (n - 1))


def registers(n):
    # each let has its own register window, as wide as the let needs (a
    # list of k computed items: k + 1); the rule's condition needs 2 after
    # them all. n is the total.
    need, lets = n - 2, []
    while need > 0:
        k = min(254, need - 1)
        lets.append("let l%d = [%s]\n" % (len(lets), csv("change.a%d" % i for i in range(k))))
        need -= k + 1
    return HEAD + "".join(lets) + "rule r mandatory:\n  when change.x == 1\n  deny \"x\"\n"


def verify_work(depth):
    # lists nested `depth` deep, 200 items a level: the block has some
    # 200 * depth instructions over as many registers, and the verifier
    # takes instructions x 64-register words of them
    expr = "[" + csv("change.a%d" % i for i in range(200)) + "]"
    for _ in range(depth - 1):
        expr = "[" + csv("change.a%d" % i for i in range(199)) + ", " + expr + "]"
    return HEAD + "let l = " + expr + "\nrule r mandatory:\n  when l == []\n  deny\n"


def chains(n, term):
    # n terms in `or` chains of 200, 250 chains to a list, lists in lets:
    # registers stay few, and only the terms add constants or slots
    lets, chain, items = [], [], []
    for i in range(n):
        chain.append(term(i))
        if len(chain) == 200 or i == n - 1:
            items.append(" or ".join(chain))
            chain = []
        if len(items) == 250 or i == n - 1:
            lets.append("let l%d = [%s]\n" % (len(lets), csv(items)))
            items = []
    return HEAD + "".join(lets) + "rule r mandatory:\n  when true\n  deny\n"


def constants(n):
    return chains(n, lambda i: 'change.x == "s%d"' % i)


def change_fields(n):
    return chains(n, lambda i: "change.f%d" % i)


def approvals_clauses(n):
    # the class's entry and every approval rule are joined at run time:
    # two-way `or`s multiply the ways to satisfy them (n is a power of 2)
    rules, k = [], 1
    while (1 << k) <= n:
        rules.append('rule r%d mandatory:\n  when change.x == %d\n  require 1 of group "a%d" or 1 of group "b%d"\n'
                     % (k, k, k, k))
        k += 1
    return ("policy \"p\" version \"1\"\nrisk low < high\nclassify {\n  high when change.big == true\n  default low\n}\n"
            "approvals {\n  low => none\n  high => 1 of group \"a\" or 1 of group \"b\"\n}\n" + "".join(rules[1:]))


def approvals_slots(n):
    # approvers needed at once: 16 from the entry, the rest in rules of 16
    rules, left, k = [], n - 16, 0
    while left > 0:
        rules.append('rule r%d mandatory:\n  when change.x == %d\n  require %d of group "g%d"\n'
                     % (k, k, min(16, left), k))
        left -= 16
        k += 1
    return ("policy \"p\" version \"1\"\nrisk low\nclassify { default low }\n"
            "approvals {\n  low => 16 of group \"cab\"\n}\n" + "".join(rules))


# ---- the cases: (name, generator, at the limit, past it, the report past it, a decision at the limit)

CASES = [
    ("list_items", list_items, 255, 256,
     "{f}:5:20: error[E0601]: list literal has 256 items, not all of them constants; the limit is 255", None),
    # its 65534 items, the list and the message are the 65536 constants
    # instructions can name; one more item and the message is past them
    ("literal_list", literal_list, 65534, 65535,
     "{f}:6:8: error[E0607]: the policy has more constants than an instruction can name; the limit is 65536",
     ({"id": "c", "x": "v65533"}, "deny", "listed")),
    ("interp_parts", interp_parts, 255, 256,
     "{f}:6:8: error[E0602]: interpolated string has 256 parts; the limit is 255", None),
    ("object_fields", object_fields, 255, 256,
     "{f}:4:9: error[E0603]: object literal has 256 fields; the limit is 255", None),
    ("record_fields", record_fields, 255, 256,
     "{f}:7:31: error[E0604]: the elements of change.l are read at 256 fields; the limit is 255", None),
    ("enum_values", enum_values, 300, None, None, ({"id": "c", "e": "v299"}, "deny", "last")),
    ("registers", registers, 65535, 65536,
     "{f}:262:8: error[E0605]: this expression needs registers up to 65536; the limit is 65535", None),
    ("verify_work", verify_work, 81, 82,
     "{f}:4:9: error[E0606]: this expression compiles to 16402 instructions over 16401 registers: "
     "4215314 units of verification work; the limit is 4194304", None),
    ("constants", constants, 65536, 65537,
     "{f}:5:372721: error[E0607]: the policy has more constants than an instruction can name; the limit is 65536", None),
    ("change_fields", change_fields, 65534, 65535,
     "{f}:5:263935: error[E0607]: the policy has more change fields read than an instruction can name; "
     "the limit is 65535", None),
    ("approvals_clauses", approvals_clauses, 32, 64,
     "{f}:25:11: error[E0609]: the requirement of rule 'r6', with the entry for 'high' and the 4 approval rules "
     "before it, is too large: 64 ways to satisfy it (the limit is 32)", None),
    ("approvals_slots", approvals_slots, 64, 65,
     "{f}:18:11: error[E0609]: the requirement of rule 'r3', with the entry for 'low' and the 3 approval rules "
     "before it, is too large: 65 approvers needed at once (the limit is 64)", None),
]


def run(cmd, **kw):
    env = dict(os.environ, NO_COLOR="1")
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=600, **kw)


def at_limit(chgc, d, name, text, decision):
    src = os.path.join(d, name + ".chg")
    out = os.path.join(d, name + ".chgb")
    with open(src, "w") as f:
        f.write(text)
    p = run([chgc, "check", "--no-lint", "--color", "never", src])
    if p.returncode != 0 or p.stdout or p.stderr:
        return "check at the limit is not clean (exit %d): %s" % (p.returncode, (p.stdout + p.stderr)[:400])
    p = run([chgc, "build", "-o", out, src])
    if p.returncode != 0:
        return "build at the limit failed (exit %d): %s" % (p.returncode, (p.stdout + p.stderr)[:400])
    p = run([chgc, "check", "--color", "never", out])
    if p.returncode != 0 or b"a verified bundle" not in p.stdout:
        return "the bundle at the limit does not load (exit %d): %s" % (p.returncode, (p.stdout + p.stderr)[:400])
    if decision:
        change, outcome, message = decision
        p = run([chgc, "eval", out, "--event", "-", "--at", "2026-12-01T00:00:00Z"],
                input=json.dumps(change).encode())
        try:
            got = json.loads(p.stdout)
        except ValueError:
            return "eval printed no decision: %s" % (p.stdout + p.stderr)[:400]
        reasons = [r["message"] for r in got.get("reasons", [])]
        if got.get("outcome") != outcome or reasons != [message]:
            return "decision: %s %s, expected %s [%s]" % (got.get("outcome"), reasons, outcome, message)
    return None


def past_limit(chgc, d, name, text, expected):
    src = os.path.join(d, name + "_over.chg")
    with open(src, "w") as f:
        f.write(text)
    want = expected.format(f=src)
    for cmd in (["check", "--no-lint", "--color", "never", src], ["build", "-o", os.path.join(d, "x.chgb"), src]):
        p = run([chgc] + cmd)
        # the first error (build also prints the lints' warnings)
        lines = (p.stdout + p.stderr).decode(errors="replace").split("\n")
        first = next((l for l in lines if ": error[" in l), lines[0])
        if p.returncode != 1 or first != want:
            return "%s past the limit (exit %d):\n    got      %s\n    expected %s" % (cmd[0], p.returncode,
                                                                                     first, want)
    return None


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    chgc = os.path.abspath(sys.argv[1])
    only = set(sys.argv[2:])
    failed = 0
    with tempfile.TemporaryDirectory() as d:
        for name, gen, ok_n, bad_n, expected, decision in CASES:
            if only and name not in only:
                continue
            err = at_limit(chgc, d, name, gen(ok_n), decision)
            if not err and bad_n is not None:
                err = past_limit(chgc, d, name, gen(bad_n), expected)
            print("%s %s" % ("FAIL" if err else "ok  ", name), flush=True)
            if err:
                print("  " + err)
                failed += 1
    print("%d/%d limits hold" % (len([c for c in CASES if not only or c[0] in only]) - failed,
                                 len([c for c in CASES if not only or c[0] in only])))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
