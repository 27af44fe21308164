#!/usr/bin/env bash
# pathological.sh — compile and load time on inputs built to be slow
# (issue 10 point 3): each is run at size n and 2n and the ratio printed,
# so a linear cost shows about 2, a quadratic one about 4. Figures only;
# asserts nothing, but prints any run that fails (status above 1).
#
#   bench/pathological.sh [BUILD_DIR] [N]
#
#   imports  N files in one directory, each importing the next (a chain:
#            the reachability of every file is the rest of the chain)
#   importdir  the same chain checked as a directory (`chgc check DIR`)
#   flags    a facts file of 50·N flags, with `chgc eval`
#   refs     N windows, each `w_k = w_(k-1) or w_(k-1)` (shared, not
#            written out: the compiler must refuse past its node limit
#            with a span, in time linear in N)
#   calrefs  N/40 freezes naming one calendar (a monthly event to 2200),
#            all used: the time analysis compares every pair of freezes
#   rrules   one event with N/8 daily RRULE lines from 1900 (the
#            calendar's occurrence cap is reached early, not per rule)
#   exdates  a daily event with 25·N EXDATEs
#   overrides  a daily event with 25·N RECURRENCE-ID overrides
#   vtimezones  N/4 unused Outlook-style VTIMEZONEs (rules from 1601)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-release}
n=${2:-400}
if [ ! -x "$build/chgc" ]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" -j2 --target chgc >/dev/null
fi
chgc=$(realpath "$build/chgc")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# seconds one command takes (best of 3)
best() {
    local b=
    for _ in 1 2 3; do
        local s e
        s=$(date +%s%N)
        # a failure is printed, not hidden: a figure for a command that
        # failed is no figure (status 1, findings, is what some inputs mean)
        local rc=0
        "$@" >"$tmp/out" 2>&1 || rc=$?
        e=$(date +%s%N)
        if [ "$rc" -gt 1 ]; then
            echo "FAILED (status $rc): $*" >&2
            head -5 "$tmp/out" >&2
        fi
        local t=$(( (e - s) / 1000 ))
        if [ -z "$b" ] || [ "$t" -lt "$b" ]; then b=$t; fi
    done
    echo "$b"
}

gen_imports() { # dir n
    mkdir -p "$1"
    for ((i = 0; i < $2; i++)); do
        if ((i + 1 < $2)); then echo "import \"f$((i + 1)).chg\"" > "$1/f$i.chg"; else : > "$1/f$i.chg"; fi
        echo "let v$i = $i" >> "$1/f$i.chg"
    done
    echo "let _all = v0 + v$(($2 - 1))" >> "$1/f0.chg"
}

gen_flags() { # file n
    python3 - "$1" "$2" <<'PY'
import json, sys
n = int(sys.argv[2])
json.dump({"flags": {f"flag-{i:07d}": i % 2 == 0 for i in range(n)}}, open(sys.argv[1], "w"))
PY
}

gen_refs() { # file n
    {
        echo 'window w0 = weekly mon 09:00..10:00 in "UTC"'
        for ((i = 1; i < $2; i++)); do echo "window w$i = w$((i - 1)) or w$((i - 1))"; done
        echo "rule r:"
        echo "  require window w$(($2 - 1))"
    } > "$1"
}

printf '%-10s %10s %12s %12s %7s\n' input n "time(n) ms" "time(2n) ms" ratio
row() { # name n t1 t2
    printf '%-10s %10s %12.1f %12.1f %7.2f\n' "$1" "$2" "$(echo "$3/1000" | bc -l)" "$(echo "$4/1000" | bc -l)" \
        "$(echo "$4/($3+1)" | bc -l)"
}

gen_imports "$tmp/i1" "$n"; gen_imports "$tmp/i2" $((2 * n))
row imports "$n" "$(best "$chgc" check "$tmp/i1/f0.chg")" "$(best "$chgc" check "$tmp/i2/f0.chg")"
# the same chain as a directory: every file is named, and each but f0 is
# imported by another (checked once, in f0's compilation)
row importdir "$n" "$(best "$chgc" check "$tmp/i1")" "$(best "$chgc" check "$tmp/i2")"

echo '{"id": "c"}' > "$tmp/e.json"
echo 'freeze f = flag "flag-0000001"
rule r:
  deny during f "frozen"' > "$tmp/p.chg"
gen_flags "$tmp/f1.json" $((50 * n)); gen_flags "$tmp/f2.json" $((100 * n))
row flags $((50 * n)) "$(best "$chgc" eval "$tmp/p.chg" --event "$tmp/e.json" --facts "$tmp/f1.json")" \
    "$(best "$chgc" eval "$tmp/p.chg" --event "$tmp/e.json" --facts "$tmp/f2.json")"

gen_refs "$tmp/r1.chg" "$n"; gen_refs "$tmp/r2.chg" $((2 * n))
row refs "$n" "$(best "$chgc" check "$tmp/r1.chg")" "$(best "$chgc" check "$tmp/r2.chg")"

# The calendar inputs: one generator, the shape by name. Each is checked
# with `freeze f = calendar "c.ics"` (or, for calrefs, many such freezes).
gen_ics() { # file kind n
    python3 - "$@" <<'PY'
import sys
path, kind, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
L = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//chg//bench//EN"]
def ev(*props):
    L.extend(["BEGIN:VEVENT", *props, "END:VEVENT"])
if kind == "weekly":
    ev("UID:w@b", "DTSTART:20200106T090000Z", "DTEND:20200106T100000Z", "RRULE:FREQ=MONTHLY")
elif kind == "rrules":
    ev("UID:r@b", "DTSTART:19000101T090000Z", "DTEND:19000101T100000Z",
       *[f"RRULE:FREQ=DAILY;INTERVAL={1 + k % 3}" for k in range(n)])
elif kind == "exdates":
    ev("UID:x@b", "DTSTART:20200101T090000Z", "DTEND:20200101T100000Z", "RRULE:FREQ=DAILY",
       *[f"EXDATE:{2020 + k // 360:04d}{1 + k // 30 % 12:02d}{1 + k % 28:02d}T090000Z" for k in range(n)])
elif kind == "overrides":
    ev("UID:o@b", "DTSTART:20200101T090000Z", "DTEND:20200101T100000Z", "RRULE:FREQ=DAILY")
    for k in range(n):
        d = f"{2020 + k // 360:04d}{1 + k // 30 % 12:02d}{1 + k % 28:02d}"
        ev("UID:o@b", f"RECURRENCE-ID:{d}T090000Z", f"DTSTART:{d}T120000Z", f"DTEND:{d}T130000Z")
elif kind == "vtimezones":
    for k in range(n):
        L += [f"BEGIN:VTIMEZONE", f"TZID:Zone {k}",
              "BEGIN:STANDARD", "DTSTART:16011104T020000", "RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11",
              f"TZOFFSETFROM:-0400", "TZOFFSETTO:-0500", "END:STANDARD",
              "BEGIN:DAYLIGHT", "DTSTART:16010311T020000", "RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3",
              "TZOFFSETFROM:-0500", "TZOFFSETTO:-0400", "END:DAYLIGHT", "END:VTIMEZONE"]
    ev("UID:v@b", "DTSTART:20260101T090000Z", "DTEND:20260101T100000Z")
L.append("END:VCALENDAR")
open(path, "w").write("\r\n".join(L) + "\r\n")
PY
}

gen_calrefs() { # dir n
    mkdir -p "$1"
    gen_ics "$1/c.ics" weekly 0
    {
        # each also has a day of its own, so no freeze covers another and
        # the analysis compares every pair
        local mon=(jan feb mar apr may jun jul aug sep oct nov dec)
        for ((i = 0; i < $2; i++)); do
            echo "freeze f$i = calendar \"c.ics\" or yearly ${mon[i / 27 % 12]} $((i % 27 + 1)) .. ${mon[i / 27 % 12]} $((i % 27 + 2))"
        done
        echo "rule r:"
        printf '  deny during f0'
        for ((i = 1; i < $2; i++)); do printf ', f%d' "$i"; done
        echo ' "frozen"'
    } > "$1/p.chg"
}
gen_calrefs "$tmp/c1" $((n / 40)); gen_calrefs "$tmp/c2" $((n / 20))
row calrefs $((n / 40)) "$(best "$chgc" check "$tmp/c1/p.chg")" "$(best "$chgc" check "$tmp/c2/p.chg")"

cal_row() { # name kind n
    local d
    for k in 1 2; do
        d="$tmp/$1$k"
        mkdir -p "$d"
        gen_ics "$d/c.ics" "$2" $(($3 * k))
        printf 'freeze f = calendar "c.ics"\nrule r:\n  deny during f "frozen"\n' > "$d/p.chg"
    done
    row "$1" "$3" "$(best "$chgc" check "$tmp/${1}1/p.chg")" "$(best "$chgc" check "$tmp/${1}2/p.chg")"
}
cal_row rrules rrules $((n / 8))
cal_row exdates exdates $((25 * n))
cal_row overrides overrides $((25 * n))
cal_row vtimezones vtimezones $((n / 4))
