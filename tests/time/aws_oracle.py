#!/usr/bin/env python3
"""The differential test of AWS schedules: random `cron aws` expressions
(with offsets, cutoffs and both DST modes) and rate schedules, in zones
with DST (and odd offsets), over ranges that straddle DST changes, are
listed by `chgc windows --format json` and compared minute by minute with
an evaluator written here from the documentation alone:

  - the AWS references: EventBridge "Cron expressions reference" (6 fields,
    1 = Sunday, ? L W #), SSM "Reference: Cron and rate expressions"
    (rate units, ScheduleOffset), EventBridge Scheduler "Schedule types"
    (a time in a gap is skipped, a repeated time runs once; a rate counts
    elapsed time);
  - docs/time.md for chg's own default DST rule (a fixed time in a gap
    happens when the gap ends, a repeated one once; wildcard schedules
    follow the clock, both passes).

It shares no code with chg: Python's zoneinfo for the zones, datetime and
calendar for the civil arithmetic, its own cron matcher.

    aws_oracle.py CHGC [--rounds N] [--seed S]

Prints the number of compared instants (a window at a minute). CI runs the
default rounds (a few seconds); `--rounds 40` is the long run.
"""
import calendar
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
from zoneinfo import ZoneInfo

ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kathmandu",
         "America/Santiago", "Europe/London"]
# each round is a range around one of these days, most of its schedules in
# the zone whose clocks change that day (None: a plain day, any zone)
EDGES = [("2026-03-08", "America/New_York"), ("2026-11-01", "America/New_York"),
         ("2026-03-29", "Europe/Berlin"), ("2026-10-25", "Europe/Berlin"),
         ("2026-03-29", "Europe/London"), ("2026-10-25", "Europe/London"),
         ("2026-04-05", "Australia/Lord_Howe"), ("2026-10-04", "Australia/Lord_Howe"),
         ("2026-04-05", "America/Santiago"), ("2026-09-06", "America/Santiago"),
         ("2026-06-15", None), ("2026-12-20", None), ("2028-02-27", None)]
DAYS = 6  # length of each range
UTC = dt.timezone.utc


# ---- the cron matcher (EventBridge's reference) ------------------------------------------


def parse_list(field, lo, hi, names=None):
    """A field of values, ranges, a-b/s and */s (no wrapping: cron aws refuses it)."""
    vals = set()
    for item in field.split(","):
        step = 1
        if "/" in item:
            item, s = item.split("/")
            step = int(s)
        if item == "*":
            a, b = lo, hi
        elif "-" in item:
            a, b = (int(names.get(x, x)) if names else int(x) for x in item.split("-"))
        else:
            a = int(names.get(item, item)) if names else int(item)
            b = hi if step != 1 else a
        vals.update(range(a, b + 1, step))
    return vals


DOW_NAMES = {n: str(i + 1) for i, n in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}


class Cron:
    def __init__(self, expr):
        f = expr.split()
        assert len(f) == 6
        self.minute = parse_list(f[0], 0, 59)
        self.hour = parse_list(f[1], 0, 23)
        self.dom, self.month, self.dow = f[2], parse_list(f[3], 1, 12), f[4]
        self.wild = f[0].startswith("*") or f[1].startswith("*")

    def day_ok(self, d):
        """d: a date. AWS: one of the day fields is '?', the other decides."""
        dim = calendar.monthrange(d.year, d.month)[1]
        wd = (d.weekday() + 1) % 7 + 1  # AWS numbering: 1 = Sunday
        if self.dom != "?":
            f = self.dom
            if f == "L":
                return d.day == dim
            if f.endswith("W"):
                n = int(f[:-1])
                if n > dim:
                    return False
                t = d.replace(day=n)
                # nearest weekday within the month
                if t.weekday() == 5:
                    t = t - dt.timedelta(days=1) if n > 1 else t + dt.timedelta(days=2)
                elif t.weekday() == 6:
                    t = t + dt.timedelta(days=1) if n < dim else t - dt.timedelta(days=2)
                return d == t
            return d.day in parse_list(f, 1, 31)
        f = self.dow
        if "#" in f:
            a, k = f.split("#")
            return wd == int(DOW_NAMES.get(a, a)) and (d.day - 1) // 7 + 1 == int(k)
        if f.endswith("L") and len(f) > 1:
            a = f[:-1]
            return wd == int(DOW_NAMES.get(a, a)) and d.day + 7 > dim
        if f == "L":
            return wd == 7
        return wd in parse_list(f, 1, 7, DOW_NAMES)

    def matches(self, wall):
        return (wall.minute in self.minute and wall.hour in self.hour and wall.month in self.month
                and self.day_ok(wall.date()) and wall.second == 0)


# ---- runs in a zone ---------------------------------------------------------------------


def wall_of(u, zone):
    """(naive wall time, fold) of UTC second u."""
    loc = dt.datetime.fromtimestamp(u, zone)
    return loc.replace(tzinfo=None), loc.fold


def offset(u, zone):
    return int(dt.datetime.fromtimestamp(u, zone).utcoffset().total_seconds())


def cron_runs(w, zone, a, b):
    """Run starts (UTC seconds, whole minutes) in [a, b)."""
    c = Cron(w["cron"])
    shift = dt.timedelta(days=w["offset"])
    eb = w["dst"] == "eventbridge"
    out = []
    for u in range(a, b, 60):
        wall, fold = wall_of(u, zone)
        if fold and (eb or not c.wild):
            continue  # a repeated time happens once (both rules, fixed times)
        if c.matches(wall - shift):
            out.append(u)
            continue
        # chg's rule: fixed times skipped by a gap happen as it ends
        if not eb and not c.wild:
            before = offset(u - 1, zone)
            now = offset(u, zone)
            if now > before:
                gap = dt.timedelta(seconds=now - before)
                g = wall - gap
                while g < wall:
                    if c.matches(g - shift):
                        out.append(u)
                        break
                    g += dt.timedelta(minutes=1)
    return out


def rate_runs(w, a, b):
    first, p = w["first"], w["period"]
    k = max(0, -((first - a) // p))
    out = []
    r = first + k * p
    while r < b:
        if r >= first:
            out.append(r)
        r += p
    return out


# ---- random schedules -------------------------------------------------------------------


def rnd_field(rng, lo, hi, dense, steps=True):
    k = rng.randrange(5)
    if k == 3 and not steps:
        k = 4
    if k == 0:
        return "*" if dense else str(rng.randint(lo, hi))
    if k == 1:
        return ",".join(str(x) for x in sorted(rng.sample(range(lo, hi + 1), rng.randint(1, 3))))
    if k == 2:
        x = rng.randint(lo, hi)
        return f"{x}-{rng.randint(x, hi)}"
    if k == 3:
        return f"{rng.randint(lo, lo + 5)}/{rng.randint(5, 30) if hi == 59 else rng.randint(2, 8)}"
    return str(rng.randint(lo, hi))


def rnd_cron(rng):
    minute = rnd_field(rng, 0, 59, rng.random() < 0.1)
    if rng.random() < 0.15:
        minute = "*/" + str(rng.choice([10, 15, 20, 30]))
    hour = rnd_field(rng, 0, 23, rng.random() < 0.3)
    if rng.random() < 0.5:
        hour = rng.choice(["0", "1", "2", "3", "1-2", "0-3", "*"])  # the hours DST changes touch
    if rng.random() < 0.1:
        hour = "*"
    if rng.random() < 0.5:
        dom = rng.choice(["*", "L", f"{rng.randint(1, 28)}W", rnd_field(rng, 1, 31, False)])
        dow = "?"
    else:
        dom = "?"
        names = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
        dow = rng.choice(["*", "MON-FRI", f"{rng.randint(1, 7)}#{rng.randint(1, 5)}",
                          f"{rng.randint(1, 7)}L", rng.choice(names), "L",
                          f"{rng.choice(names)}-SAT", rnd_field(rng, 1, 7, False, steps=False)])
    month = "*" if rng.random() < 0.8 else rnd_field(rng, 1, 12, False)
    return f"{minute} {hour} {dom} {month} {dow} *"


def rnd_window(rng, k, a, edge_zone):
    zone = edge_zone if edge_zone and rng.random() < 0.7 else rng.choice(ZONES)
    dur = rng.choice([1, 10, 30, 60, 90, 240, 1440])
    cut = rng.choice([0, 0, 0, rng.randrange(dur)]) if dur > 1 else 0
    w = {"name": f"w{k}", "zone": zone, "dur": dur * 60, "cut": cut * 60}
    if rng.random() < 0.2:
        unit, n = rng.choice([("minute", rng.choice([1, 5, 7])), ("hour", rng.choice([1, 2, 5])),
                              ("day", rng.choice([1, 2]))])
        period = n * {"minute": 60, "hour": 3600, "day": 86400}[unit]
        first = a - rng.randrange(0, 3 * 86400, 60)
        w.update(kind="rate", period=period, first=first,
                 text=f"{n} {unit}{'s' if n != 1 else ''}")
        return w
    w.update(kind="cron", cron=rnd_cron(rng), offset=rng.choice([0, 0, 0, 1, 2, 6]),
             dst=rng.choice(["chg", "eventbridge"]))
    return w


def decl(w):
    z = f' in "{w["zone"]}"'
    cut = f" cutoff {w['cut'] // 60}m" if w["cut"] else ""
    if w["kind"] == "rate":
        first = dt.datetime.fromtimestamp(w["first"], UTC).strftime("%Y-%m-%dT%H:%MZ")
        return f'window {w["name"]} = rate "{w["text"]}" from {first} for {w["dur"] // 60}m{cut}{z}'
    off = f" offset {w['offset']}d" if w["offset"] else ""
    dst = " dst eventbridge" if w["dst"] == "eventbridge" else ""
    return f'window {w["name"]} = cron aws "{w["cron"]}"{off} for {w["dur"] // 60}m{cut}{dst}{z}'


def iso(u):
    return dt.datetime.fromtimestamp(u, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(s):
    return int(dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


def main():
    chgc = sys.argv[1]
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 3
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 14
    rng = random.Random(seed)
    compared = failures = 0
    for rnd in range(rounds):
        edge, edge_zone = rng.choice(EDGES)
        day = dt.datetime.strptime(edge, "%Y-%m-%d").replace(tzinfo=UTC)
        a = int(day.timestamp()) - 2 * 86400 + 60 * rng.randrange(0, 1440)
        b = a + DAYS * 86400
        ws = [rnd_window(rng, k, a, edge_zone) for k in range(12)]
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "p.chg")
            with open(path, "w") as f:
                f.write("\n".join(decl(w) for w in ws) + "\n")
            p = subprocess.run([chgc, "windows", path, "--from", iso(a), "--to", iso(b), "--format", "json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
            if p.returncode != 0:
                print(open(path).read())
                print(p.stderr.decode())
                return 1
        got = {s["name"]: [(parse_iso(i["start"]), parse_iso(i["end"])) for i in s["intervals"]]
               for s in json.loads(p.stdout)["sets"]}
        for w in ws:
            zone = ZoneInfo(w["zone"])
            lo = a - w["dur"] - 8 * 86400  # runs before a reaching into it, and offsets
            runs = cron_runs(w, zone, lo, b) if w["kind"] == "cron" else rate_runs(w, lo, b)
            open_for = w["dur"] - w["cut"]
            want = bytearray((b - a) // 60)
            for r in runs:
                for m in range(max(r, a), min(r + open_for, b), 60):
                    want[(m - a) // 60] = 1
            have = bytearray((b - a) // 60)
            for s, e in got[w["name"]]:
                for m in range(s, e, 60):
                    have[(m - a) // 60] = 1
            compared += len(want)
            if want != have:
                failures += 1
                i = next(k for k in range(len(want)) if want[k] != have[k])
                print(f"MISMATCH {decl(w)}\n  at {iso(a + 60 * i)}: oracle {want[i]}, chg {have[i]}")
    print(f"{rounds} rounds, {rounds * 12} schedules, {compared} instants compared, {failures} mismatches")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
