#!/usr/bin/env bash
# vm_bench.sh — the evaluator's figures: in-process decisions per second,
# end-to-end `chgc eval --jsonl` events per second and peak memory, each
# next to jq running the same policy (bench/policy.jq) on the same file in
# the same run. Prints figures; asserts nothing.
#
#   bench/vm_bench.sh [EVENTS]      (default 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
build=build-release
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target chgc bench_vm gen_events >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/bench/gen_events" "$n" > "$tmp/events.jsonl"
echo '{"flags":{"incident-freeze":false},"queries":[{"call":"aws.cloudwatch.alarm_state","args":["payments-5xx"],"result":"OK"}]}' > "$tmp/facts.json"
echo "== $n changes, $(wc -c < "$tmp/events.jsonl") bytes; policy policies/production.chg"
echo
"$build/bench/bench_vm" policies/production.chg "$tmp/events.jsonl" "$tmp/facts.json" 3
echo

secs() { python3 -c 'import sys; print(f"{float(sys.argv[1]):.2f}")' "$1"; }
run() { # run CMD...: wall seconds and peak KiB of the command
    /usr/bin/time -f "%e %M" -o "$tmp/time" "$@" > "$tmp/out" 2>/dev/null
    cat "$tmp/time"
}
read -r chg_s chg_kb < <(run "$build/chgc" eval policies/production.chg --jsonl --event "$tmp/events.jsonl" --facts "$tmp/facts.json")
chg_lines=$(wc -l < "$tmp/out")
read -r jq_s jq_kb < <(run jq -c --argjson facts "$(cat "$tmp/facts.json")" -f bench/policy.jq "$tmp/events.jsonl")
jq_lines=$(wc -l < "$tmp/out")
python3 - "$n" "$chg_s" "$chg_kb" "$chg_lines" "$jq_s" "$jq_kb" "$jq_lines" <<'PY'
import sys
n, cs, ck, cl, js, jk, jl = sys.argv[1:]
n, cs, ck, cl, js, jk, jl = int(n), float(cs), int(ck), int(cl), float(js), int(jk), int(jl)
cr, jr = n / max(cs, 1e-9), n / max(js, 1e-9)
print(f"(b) end to end, JSON lines in and out:")
print(f"    chgc eval --jsonl: {cr:,.0f} events/s ({cs:.2f} s, {cl} decisions)")
print(f"    jq (bench/policy.jq): {jr:,.0f} events/s ({js:.2f} s, {jl} decisions)")
print(f"    chgc / jq: {cr / jr:.1f}x")
print(f"(c) peak memory: chgc eval {ck / 1024:.1f} MiB, jq {jk / 1024:.1f} MiB")
PY
