#!/usr/bin/env bash
# check_bench.sh — how long `chgc check` takes on a generated 10,000-rule
# policy (target: at most 0.5 s on the 2-core reference machine). Prints
# figures; asserts nothing.
#
#   bench/check_bench.sh [BUILD_DIR] [RULES]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-release}
rules=${2:-10000}
if [ ! -x "$build/chgc" ]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" -j2 --target chgc >/dev/null
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 bench/gen_policy.py "$rules" > "$tmp/big.chg"
echo "policy: $rules rules, $(wc -l < "$tmp/big.chg") lines, $(wc -c < "$tmp/big.chg") bytes"
"$build/chgc" check "$tmp/big.chg" >/dev/null   # must be clean: fail loudly if not
if command -v hyperfine >/dev/null; then
    hyperfine --warmup 3 --runs 20 --style basic "$build/chgc check $tmp/big.chg"
else
    start=$(date +%s%N)
    for _ in $(seq 20); do "$build/chgc" check "$tmp/big.chg" >/dev/null; done
    end=$(date +%s%N)
    echo "mean: $(( (end - start) / 20 / 1000000 )) ms per check"
fi
/usr/bin/time -f "peak memory: %M KiB" "$build/chgc" check "$tmp/big.chg"
