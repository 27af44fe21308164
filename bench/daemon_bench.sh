#!/usr/bin/env bash
# daemon_bench.sh — chgd's throughput and latency with wrk on loopback
# (prints figures, asserts nothing), in one run:
#
#   1. POST /v1/evaluate against the ceiling, ../shared/bench/daemon-ceiling.c
#      (a bare libmicrohttpd + jansson server that parses the body and
#      answers a small JSON: what any daemon on these libraries can reach),
#      built here with the command in its header; the same body, threads
#      and connections as chgd's;
#   2. chgd POST /v1/evaluate (dry);
#   3. chgd POST /v1/events (durable: each event has its own
#      Idempotency-Key, so each is decided, written and fsynced; group
#      commit shares the commits, the syncer the fsyncs).
#
#   [THREADS=N] [CEILING_SRC=FILE] bench/daemon_bench.sh BUILD_DIR [DURATION] [CONNECTIONS]
#
# wrk (2 threads) and the servers share the machine's cores. Without the
# ceiling's source (CEILING_SRC, default ../shared/bench/daemon-ceiling.c
# beside the repository) step 1 is skipped, said so.
set -euo pipefail
build=${1:?usage: daemon_bench.sh BUILD_DIR [DURATION] [CONNECTIONS]}
dur=${2:-5}
conns=${3:-32}
threads=${THREADS:-4}
here=$(cd "$(dirname "$0")" && pwd)
ceiling_src=${CEILING_SRC:-$here/../../shared/bench/daemon-ceiling.c}
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

token=bench-token-0123456789abcdef
echo "write $token" > "$tmp/tokens"
"$build/chgd" --listen 127.0.0.1:0 --policy "$here/../tests/daemon/policy.chg" --store "$tmp/chgd.db" \
    --token-file "$tmp/tokens" --threads "$threads" --max-connections 1024 2> "$tmp/log" &
pids+=($!)
for _ in $(seq 100); do grep -q 'listening on' "$tmp/log" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/log")

change='{"id":"b1","env":"prod","requested_at":"2026-12-02T10:00:00Z","requester":{"name":"ann","groups":[]},"approvals":[{"by":"bob","group":"cab","at":"2026-12-02T09:00:00Z"}]}'
cat > "$tmp/evaluate.lua" <<LUA
wrk.method = "POST"
wrk.body = '$change'
wrk.headers["Authorization"] = "Bearer $token"
LUA
# Each wrk thread runs its own Lua state with the same random seed: the
# thread's number (setup) goes in the key, or the threads send the same
# keys and half the events are answered as replays, never written
cat > "$tmp/events.lua" <<LUA
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local n = 0
request = function()
  n = n + 1
  local id = string.format("%d-%d-%d", tid, math.random(1, 1000000000), n)
  return wrk.format("POST", "/v1/events", {["Authorization"] = "Bearer $token", ["Idempotency-Key"] = id},
    '{"id":"c' .. id .. '","env":"dev","requested_at":"2026-12-02T10:00:00Z","requester":{"name":"ann","groups":[]},"approvals":[]}')
end
LUA
measure() { # TITLE LUA URL
    echo "== $1: $dur s, $conns connections, $threads server threads"
    wrk -t2 -c"$conns" -d"${dur}s" --latency -s "$2" "$3" | grep -E 'Requests/sec|50%|99%|Non-2xx|Socket errors'
}

if [ -f "$ceiling_src" ]; then
    # shellcheck disable=SC2046 # pkg-config's flags are words
    cc -O2 -o "$tmp/daemon-ceiling" "$ceiling_src" $(pkg-config --cflags --libs libmicrohttpd jansson)
    cport=$(free_port)
    "$tmp/daemon-ceiling" "$cport" "$threads" &
    pids+=($!)
    for _ in $(seq 100); do curl -s -o /dev/null -X POST -d '{}' "http://127.0.0.1:$cport/v1/evaluate" && break; sleep 0.1; done
    measure "ceiling POST /v1/evaluate ($(basename "$ceiling_src"))" "$tmp/evaluate.lua" "http://127.0.0.1:$cport/v1/evaluate"
else
    echo "== ceiling: $ceiling_src not found (CEILING_SRC=FILE): skipped"
fi
measure "chgd POST /v1/evaluate (dry)" "$tmp/evaluate.lua" "http://127.0.0.1:$port/v1/evaluate"
# chgd's CPU (user + system, from /proc) over the store jobs of the events
# run: on two cores shared with wrk, what bounds durable events/s
chgd_pid=${pids[0]}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$chgd_pid/stat"; }
store_jobs() { curl -s "http://127.0.0.1:$port/metrics" | awk '/^chgd_store_jobs_total/ {print $2}'; }
ticks0=$(cpu_ticks) jobs0=$(store_jobs)
measure "chgd POST /v1/events (durable)" "$tmp/events.lua" "http://127.0.0.1:$port/v1/events"
ticks1=$(cpu_ticks) jobs1=$(store_jobs)
curl -s "http://127.0.0.1:$port/metrics" | grep -E '^chgd_store_(commits|jobs|syncs)_total'
awk -v t=$((ticks1 - ticks0)) -v hz="$(getconf CLK_TCK)" -v n=$((jobs1 - jobs0)) \
    -v dur="$dur" 'BEGIN { if (n > 0) printf "durable events written: %d (%.0f/s); chgd CPU per event: %.0f us (%.2f s)\n",
        n, n / dur, t / hz * 1e6 / n, t / hz }'
# Benchmarks print figures; they assert nothing about time.
