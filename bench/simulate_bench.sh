#!/usr/bin/env bash
# simulate_bench.sh — how long `chgc simulate` takes on 10,000 planned
# changes over one year under policies/production.chg (target: at most
# 1 s on the 2-core reference machine, release build). Prints figures;
# asserts nothing.
#
#   bench/simulate_bench.sh [BUILD_DIR] [CHANGES]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-release}
n=${2:-10000}
if [ ! -x "$build/chgc" ]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" -j2 --target chgc >/dev/null
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 bench/gen_plan.py "$n" > "$tmp/plan.json"
"$build/chgc" build -o "$tmp/p.chgb" policies/production.chg
args=("$tmp/p.chgb" --changes "$tmp/plan.json" --facts policies/examples/facts.json
      --from 2027-01-01T00:00:00Z --to 2028-01-01T00:00:00Z --format json -o "$tmp/out.json")
"$build/chgc" simulate "${args[@]}" || [ $? -eq 1 ]   # 1: some conflict, as expected
python3 -c "import json,sys; c=json.load(open(sys.argv[1]))['count']; print('planned %(changes)d, fit %(fit)d, no slot %(no_slot)d, conflicts %(conflicts)d' % c)" "$tmp/out.json"
runs=5
start=$(date +%s%N)
for _ in $(seq $runs); do "$build/chgc" simulate "${args[@]}" || [ $? -eq 1 ]; done
end=$(date +%s%N)
echo "mean: $(( (end - start) / runs / 1000000 )) ms per simulation of $n changes over 2027"
/usr/bin/time -f "peak memory: %M KiB" "$build/chgc" simulate "${args[@]}" || true
