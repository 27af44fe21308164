#!/usr/bin/env python3
"""tz_oracle.py — differential test of chg's time-zone code against Python's
zoneinfo (the standard library; an independent TZif and POSIX-rule reader).

Usage: tz_oracle.py PATH/TO/tz_query [SEED]

For every zone zoneinfo knows, it asks tz_query (chg's code) and zoneinfo the
same questions and compares the answers:
  - the UTC offset at random instants from 1900 to 2400 (past the transition
    tables, where the footer's POSIX rule decides), and at and around every
    transition found;
  - the next transition after random instants (checked: the offset changes
    exactly there and not before);
  - local time -> instant for both folds, at random local times and around
    transitions (gaps and repeated hours), where chg answers the end of a gap
    and Python's fold=0/fold=1 bracket it.
Prints the number of cases; exits 1 listing the first mismatches.
"""
import random
import subprocess
import sys
import zoneinfo
from datetime import datetime, timedelta, timezone

EPOCH = datetime(1970, 1, 1)
T_MIN = int(datetime(1900, 1, 1, tzinfo=timezone.utc).timestamp())
T_MAX = int(datetime(2400, 1, 1, tzinfo=timezone.utc).timestamp())
N_UTC = 45000        # random instants
N_NEXT = 10000       # next-transition questions (each adds probes around it)
N_LOCAL = 30000      # random local times (x2 folds)


def offset(zi, t):
    return int(datetime.fromtimestamp(t, timezone.utc).astimezone(zi).utcoffset().total_seconds())


def expected_local(zi, local, fold):
    """(instant, in_gap) for a wall-clock time, by chg's rules."""
    naive = EPOCH + timedelta(seconds=local)
    u0 = int(naive.replace(tzinfo=zi, fold=0).timestamp())
    u1 = int(naive.replace(tzinfo=zi, fold=1).timestamp())
    exists = [u for u in (u0, u1)
              if datetime.fromtimestamp(u, zi).replace(tzinfo=None) == naive]
    if exists:
        return (max(exists) if fold else min(exists)), 0
    # a gap: fold=0 reads it with the offset before, fold=1 with the one
    # after; the gap ends at the transition between them
    lo, hi = min(u0, u1), max(u0, u1)
    after = offset(zi, hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if offset(zi, mid) == after:
            hi = mid
        else:
            lo = mid
    return hi, 1


def main():
    tool = sys.argv[1]
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 20261203
    rnd = random.Random(seed)
    names = sorted(z for z in zoneinfo.available_timezones()
                   if not z.startswith(("right/", "posix/")) and z not in ("Factory", "localtime"))
    zis = {}
    for z in names:
        try:
            zis[z] = zoneinfo.ZoneInfo(z)
        except Exception:
            pass
    names = sorted(zis)

    # phase 1: next transitions, and random offsets
    queries = []
    for _ in range(N_NEXT):
        z = rnd.choice(names)
        queries.append(("N", z, rnd.randrange(T_MIN, T_MAX)))
    for _ in range(N_UTC):
        z = rnd.choice(names)
        queries.append(("U", z, rnd.randrange(T_MIN, T_MAX)))
    answers = ask(tool, queries)

    failures = []
    cases = 0
    transitions = []
    for (op, z, t), ans in zip(queries, answers):
        zi = zis[z]
        cases += 1
        if ans.startswith("ERR"):
            failures.append(f"{op} {z} {t}: chg says {ans}")
            continue
        if op == "U":
            exp = offset(zi, t)
            if int(ans) != exp:
                failures.append(f"offset {z} at {t}: chg {ans}, zoneinfo {exp}")
        else:
            if ans == "none":
                # no change within the next 50 years (sampled monthly)
                o = offset(zi, t)
                for k in range(1, 600):
                    if offset(zi, t + k * 2629800) != o:
                        failures.append(f"next {z} after {t}: chg none, zoneinfo changes "
                                        f"before {t + k * 2629800}")
                        break
                continue
            T = int(ans)
            o0 = offset(zi, t)
            if not (T > t and offset(zi, T - 1) == o0 and offset(zi, T) != o0):
                failures.append(f"next {z} after {t}: chg {T}, but zoneinfo offsets "
                                f"{offset(zi, T - 1)} -> {offset(zi, T)} (at t {o0})")
                continue
            for _ in range(6):  # no change in between
                x = rnd.randrange(t, T)
                if offset(zi, x) != o0:
                    failures.append(f"next {z} after {t}: chg {T}, but the offset "
                                    f"already changes by {x}")
                    break
            transitions.append((z, T))

    # phase 2: around each transition (offsets), and local times there
    queries = []
    for z, T in transitions:
        for d in (-86400, -3601, -1, 0, 1, 3599, 86400):
            queries.append(("U", z, T + d))
        zi = zis[z]
        before, after = offset(zi, T - 1), offset(zi, T)
        for _ in range(3):
            local = T + before + rnd.randrange(-7200, 7200 + abs(after - before))
            queries.append(("L", z, local, 0))
            queries.append(("L", z, local, 1))
        for edge in (T + before, T + after, T + min(before, after), T + max(before, after) - 1):
            queries.append(("L", z, edge, 0))
            queries.append(("L", z, edge, 1))
    for _ in range(N_LOCAL):
        z = rnd.choice(names)
        local = rnd.randrange(T_MIN, T_MAX)
        queries.append(("L", z, local, 0))
        queries.append(("L", z, local, 1))
    answers = ask(tool, queries)
    n_local = 0
    for q, ans in zip(queries, answers):
        cases += 1
        z = q[1]
        zi = zis[z]
        if ans.startswith("ERR"):
            failures.append(f"{q}: chg says {ans}")
            continue
        if q[0] == "U":
            exp = offset(zi, q[2])
            if int(ans) != exp:
                failures.append(f"offset {z} at {q[2]}: chg {ans}, zoneinfo {exp}")
            continue
        n_local += 1
        local, fold = q[2], q[3]
        u, gap = (int(x) for x in ans.split())
        eu, egap = expected_local(zi, local, fold)
        if (u, gap) != (eu, egap):
            failures.append(f"local {z} {EPOCH + timedelta(seconds=local)} fold {fold}: "
                            f"chg {u} gap {gap}, zoneinfo {eu} gap {egap}")

    print(f"tz oracle: {cases} cases ({n_local} local->UTC) in {len(names)} zones, "
          f"seed {seed}, {len(failures)} mismatches")
    for f in failures[:25]:
        print("  " + f)
    return 1 if failures else 0


def ask(tool, queries):
    text = "".join(" ".join(str(x) for x in q) + "\n" for q in queries)
    out = subprocess.run([tool], input=text, capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    if len(lines) != len(queries):
        raise SystemExit(f"tz_query answered {len(lines)} of {len(queries)} questions")
    return lines


if __name__ == "__main__":
    sys.exit(main())
