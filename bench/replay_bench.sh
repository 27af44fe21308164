#!/usr/bin/env bash
# replay_bench.sh — how fast `chgc replay` decides recorded events under two
# policies and writes the differences (target: at least 500,000 events/s of
# decision work per policy, i.e. 100,000 records in at most 0.2 s, release
# build, on the 2-core reference machine). The old policy is
# policies/production.chg; the new one is the same with the threshold of
# high risk raised from 50 resources to 60, so some decisions differ and
# the diff is written. Each figure on 1 thread and on 2 (--threads; the
# reference machine has 2 cores; THREADS="1 2 4" asks for others). Prints
# figures; asserts nothing.
#
#   bench/replay_bench.sh [RECORDS] [BUILD_DIR]     (default 100000 build-release)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
build=${2:-build-release}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target chgc gen_events >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# the new policy sits beside the old one so its imports and calendars resolve
new=policies/.replay_bench_new.chg
trap 'rm -rf "$tmp" "$new"' EXIT
sed 's/change.resources >= 50/change.resources >= 60/' policies/production.chg > "$new"
"$build/bench/gen_events" "$n" | sed 's/^/{"event":/; s/$/}/' > "$tmp/records.jsonl"
facts=policies/examples/facts.json
args=(--old policies/production.chg --new "$new" --events "$tmp/records.jsonl" --facts "$facts")
for threads in ${THREADS:-1 2}; do
for fmt in text json; do
    runs=3
    best=
    for _ in $(seq $runs); do
        s=$(date +%s%N)
        "$build/chgc" replay "${args[@]}" --format $fmt --threads "$threads" > "$tmp/out.$fmt" || [ $? -eq 1 ]
        e=$(date +%s%N)
        t=$(( (e - s) / 1000 ))
        if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
    done
    differ=$(tail -c 20000 "$tmp/out.text" 2>/dev/null | grep -o '^[0-9]* of [0-9]* decisions differ' || true)
    python3 - "$n" "$best" "$fmt" "$differ" "$threads" <<'PY'
import sys
n, us, fmt, differ, threads = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
s = us / 1e6
print(f"replay --format {fmt} --threads {threads}: {n} records in {s:.3f} s (best of 3): {n / s:,.0f} records/s, "
      f"each decided under both policies ({differ})")
PY
done
done
# the policies' compilation is part of every run above; on its own:
s=$(date +%s%N)
: | "$build/chgc" replay "${args[@]:0:4}" --events - >/dev/null || true
e=$(date +%s%N)
echo "of which compiling both policies and starting: $(( (e - s) / 1000000 )) ms"
/usr/bin/time -f "peak memory: %M KiB" "$build/chgc" replay "${args[@]}" > /dev/null || true
