#!/usr/bin/env bash
# peers_bench.sh — chg side by side with the peers of ../shared/bench/peers
# (plain JavaScript on node, jq) on the same policy (bench/peers/policy.chg,
# the chg version of the peers' policy.md) and the same 100,000 generated
# events, unsorted and sorted by time, in one run:
#
#   - in process: decisions/s on events decoded beforehand (chg: bench_vm;
#     plain JS: run.mjs eval, after its JIT warm-up);
#   - end to end: JSON lines in, one decision per line out, events/s of the
#     whole process (chg writes full JSON decisions, the peers a TSV line);
#   - min / median / max over REPEATS interleaved runs (round-robin, one
#     process each), and the peak RSS of each;
#   - a check that chg's decisions agree with plain JS's on every event but
#     the documented distinct-approver cases (peers/README.md: one person
#     approving for both cab and security fills one slot in chg).
#
# Prints figures; asserts nothing. Not part of ctest or CI (it needs node
# and minutes of a quiet machine).
#
#   bench/peers_bench.sh [EVENTS] [REPEATS]     (default 100000 5)
#   PEERS_DIR=/path/to/bench/peers              (default ../shared/bench/peers)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
n=${1:-100000}
repeats=${2:-5}
peers_src=${PEERS_DIR:-$root/../shared/bench/peers}
[ -d "$peers_src" ] || peers_src=/work/shared/bench/peers
build=build-release
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target chgc bench_vm >/dev/null

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# the peers' folder is read-only: run a copy (plain JS needs no npm packages)
mkdir -p "$tmp/peers"
(cd "$peers_src" && cp -r adapters lib run.mjs gen-events.mjs policies package.json "$tmp/peers/")
node "$tmp/peers/gen-events.mjs" "$n" > "$tmp/gen.jsonl"
# chg counts an approval only with an `at` no later than the instant judged:
# every approval gets requested_at minus one hour (the peers ignore it, as
# their README says), in the one file all engines read; and a copy sorted
# by time
node - "$tmp/gen.jsonl" "$tmp/events.jsonl" "$tmp/sorted.jsonl" <<'JS'
const fs = require('fs');
const [src, out, sorted] = process.argv.slice(2);
const iso = (ms) => new Date(ms).toISOString().replace('.000Z', 'Z');
const evs = fs.readFileSync(src, 'utf8').split('\n').filter(Boolean).map((l) => {
  const e = JSON.parse(l);
  const at = iso(Date.parse(e.requested_at) - 3600e3);
  for (const a of e.approvals) a.at = at;
  return e;
});
fs.writeFileSync(out, evs.map((e) => JSON.stringify(e) + '\n').join(''));
evs.sort((a, b) => Date.parse(a.requested_at) - Date.parse(b.requested_at));
fs.writeFileSync(sorted, evs.map((e) => JSON.stringify(e) + '\n').join(''));
JS
policy=bench/peers/policy.chg
echo "== $n events ($(wc -c < "$tmp/events.jsonl") bytes), $repeats interleaved runs each; policy $policy"
echo "   $(nproc) CPUs, $(node --version), $(jq --version), $(date -u +%Y-%m-%dT%H:%MZ)"

# one figure per line in $tmp/fig: CONFIG RATE PEAK_KIB
timed() { # timed CONFIG CMD...: events/s of the whole process, peak RSS
    local cfg=$1
    shift
    /usr/bin/time -f "%e %M" -o "$tmp/time" "$@" > "$tmp/out.$cfg" 2> "$tmp/err"
    read -r s kb < "$tmp/time"
    python3 -c 'import sys; print(sys.argv[1], int(sys.argv[2]) / max(float(sys.argv[3]), 1e-3), sys.argv[4])' \
        "$cfg" "$n" "$s" "$kb" >> "$tmp/fig"
}
inproc_chg() { # bench_vm's in-process rate, one second of decisions
    local cfg=$1 file=$2
    /usr/bin/time -f "%M" -o "$tmp/time" "$build/bench/bench_vm" "$policy" "$file" - 1 > "$tmp/bvm" 2>&1
    python3 - "$cfg" "$tmp/bvm" "$(cat "$tmp/time")" >> "$tmp/fig" <<'PY'
import re, sys
cfg, path, kb = sys.argv[1:]
text = open(path).read()
rate = float(re.search(r"in-process: ([0-9.]+) million", text).group(1)) * 1e6
print(cfg, rate, kb)
PY
    grep -o 'heap allocations during the timed decisions: .*' "$tmp/bvm" > "$tmp/allocs.$cfg" || true
}
inproc_js() {
    local cfg=$1 file=$2
    /usr/bin/time -f "%M" -o "$tmp/time" node "$tmp/peers/run.mjs" js eval "$file" > /dev/null 2> "$tmp/err"
    python3 - "$cfg" "$tmp/err" "$(cat "$tmp/time")" >> "$tmp/fig" <<'PY'
import json, sys
cfg, path, kb = sys.argv[1:]
m = next(json.loads(l[8:]) for l in open(path) if l.startswith("METRICS "))
print(cfg, m["loopPerSec"], kb)
PY
}
: > "$tmp/fig"
for r in $(seq "$repeats"); do
    for order in unsorted sorted; do
        f=$tmp/events.jsonl
        [ "$order" = sorted ] && f=$tmp/sorted.jsonl
        inproc_chg "inproc.chg.$order" "$f"
        inproc_js "inproc.js.$order" "$f"
        timed "e2e.chg1.$order" "$build/chgc" eval "$policy" --jsonl --threads 1 --event "$f"
        timed "e2e.chg2.$order" "$build/chgc" eval "$policy" --jsonl --threads 2 --event "$f"
        timed "e2e.js.$order" node "$tmp/peers/run.mjs" js e2e "$f"
        timed "e2e.jq.$order" jq -r -n -f "$tmp/peers/policies/policy.jq" "$f"
    done
    echo "   run $r of $repeats done" >&2
done

python3 - "$tmp/fig" <<'PY'
import statistics, sys
figs = {}
for line in open(sys.argv[1]):
    cfg, rate, kb = line.split()
    figs.setdefault(cfg, []).append((float(rate), int(kb)))
def row(cfg, label):
    if cfg not in figs:
        return None
    rates = sorted(r for r, _ in figs[cfg])
    kb = max(k for _, k in figs[cfg])
    med = statistics.median(rates)
    print(f"    {label:<34} {rates[0]:>12,.0f} {med:>12,.0f} {rates[-1]:>12,.0f} {kb / 1024:>9.1f}")
    return med
for order in ("unsorted", "sorted"):
    print(f"\n-- events {order} ({'as generated' if order == 'unsorted' else 'by requested_at'})")
    print(f"    {'':<34} {'min':>12} {'median':>12} {'max':>12} {'peak MiB':>9}")
    print("    in process, decisions/s:")
    ic = row(f"inproc.chg.{order}", "chg (bench_vm, decoded events)")
    ij = row(f"inproc.js.{order}", "plain JS (node, parsed events)")
    print("    end to end, events/s (whole process):")
    c1 = row(f"e2e.chg1.{order}", "chgc eval --jsonl --threads 1")
    c2 = row(f"e2e.chg2.{order}", "chgc eval --jsonl --threads 2")
    j = row(f"e2e.js.{order}", "plain JS (node run.mjs js e2e)")
    q = row(f"e2e.jq.{order}", "jq 1.6 (policies/policy.jq)")
    print(f"    ratios of medians: in process chg/JS {ic / ij:.2f}x;"
          f" end to end chg(1 thread)/JS {c1 / j:.2f}x, chg(1)/jq {c1 / q:.2f}x,"
          f" threads 2/1 {c2 / c1:.2f}x")
PY
echo
echo "-- heap allocations (chg, in process): $(cat "$tmp/allocs.inproc.chg.unsorted")"

# agreement: chg's decisions against plain JS's, event by event
agree() {
    local order=$1
    python3 bench/peers/to_tsv.py < "$tmp/out.e2e.chg1.$order" > "$tmp/chg.tsv"
    python3 - "$tmp/chg.tsv" "$tmp/out.e2e.js.$order" "$tmp/out.e2e.jq.$order" "$2" "$order" <<'PY'
import json, sys
chg_p, js_p, jq_p, events_p, order = sys.argv[1:]
chg = [l.rstrip("\n").split("\t") for l in open(chg_p)]
js = [l.rstrip("\n").split("\t") for l in open(js_p)]
jq = [l.rstrip("\n").split("\t") for l in open(jq_p)]
events = [json.loads(l) for l in open(events_p)]
assert len(chg) == len(js) == len(jq) == len(events), (len(chg), len(js), len(jq), len(events))
peer_mismatch = sum(a != b for a, b in zip(js, jq))
explained, unexplained = 0, []
for c, j, e in zip(chg, js, events):
    if c == j:
        continue
    # the documented difference: a critical change where one person
    # approved for both cab and security
    cab = {a["by"] for a in e["approvals"] if a["group"] == "cab"}
    sec = {a["by"] for a in e["approvals"] if a["group"] == "security"}
    critical = e["env"] == "prod" and e["type"] == "schema" and not e["emergency"]
    if critical and cab & sec and c[1].startswith("pending:") and j[1] in ("allow", "pending:cab", "pending:security"):
        explained += 1
    else:
        unexplained.append((e["id"], j[1], c[1]))
print(f"-- agreement ({order}): {len(chg)} events; chg differs from plain JS on {explained + len(unexplained)}: "
      f"{explained} distinct-approver cases (documented), {len(unexplained)} others"
      f"{': ' + repr(unexplained[:5]) if unexplained else ''}; plain JS vs jq: {peer_mismatch} differ")
PY
}
agree unsorted "$tmp/events.jsonl"
agree sorted "$tmp/sorted.jsonl"
