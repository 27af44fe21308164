#!/usr/bin/env bash
# pathological.sh — compile and load time on inputs built to be slow
# (issue 10 point 3): each is run at size n and 2n and the ratio printed,
# so a linear cost shows about 2, a quadratic one about 4. Figures only;
# asserts nothing.
#
#   bench/pathological.sh [BUILD_DIR] [N]
#
#   imports  N files in one directory, each importing the next (a chain:
#            the reachability of every file is the rest of the chain)
#   flags    a facts file of 50·N flags, with `chgc eval`
#   refs     N windows, each `w_k = w_(k-1) or w_(k-1)` (shared, not
#            written out: the compiler must refuse past its node limit
#            with a span, in time linear in N)
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
        "$@" >/dev/null 2>&1 || true
        e=$(date +%s%N)
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

printf '%-8s %10s %12s %12s %7s\n' input n "time(n) ms" "time(2n) ms" ratio
row() { # name n t1 t2
    printf '%-8s %10s %12.1f %12.1f %7.2f\n' "$1" "$2" "$(echo "$3/1000" | bc -l)" "$(echo "$4/1000" | bc -l)" \
        "$(echo "$4/($3+1)" | bc -l)"
}

gen_imports "$tmp/i1" "$n"; gen_imports "$tmp/i2" $((2 * n))
row imports "$n" "$(best "$chgc" check "$tmp/i1/f0.chg")" "$(best "$chgc" check "$tmp/i2/f0.chg")"

echo '{"id": "c"}' > "$tmp/e.json"
echo 'freeze f = flag "flag-0000001"
rule r:
  deny during f "frozen"' > "$tmp/p.chg"
gen_flags "$tmp/f1.json" $((50 * n)); gen_flags "$tmp/f2.json" $((100 * n))
row flags $((50 * n)) "$(best "$chgc" eval "$tmp/p.chg" --event "$tmp/e.json" --facts "$tmp/f1.json")" \
    "$(best "$chgc" eval "$tmp/p.chg" --event "$tmp/e.json" --facts "$tmp/f2.json")"

gen_refs "$tmp/r1.chg" "$n"; gen_refs "$tmp/r2.chg" $((2 * n))
row refs "$n" "$(best "$chgc" check "$tmp/r1.chg")" "$(best "$chgc" check "$tmp/r2.chg")"
