#!/usr/bin/env bash
# daemon_bench.sh — chgd's throughput and latency with wrk on loopback
# (prints figures, asserts nothing): POST /v1/evaluate (dry) and
# POST /v1/events (durable, group commit), each for DURATION seconds.
#
#   [THREADS=N] bench/daemon_bench.sh BUILD_DIR [DURATION] [CONNECTIONS]
#
# wrk and chgd share the machine's cores; every event carries its own
# Idempotency-Key, so each is a new decision written and fsynced.
set -euo pipefail
build=${1:?usage: daemon_bench.sh BUILD_DIR [DURATION] [CONNECTIONS]}
dur=${2:-5}
conns=${3:-32}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
token=bench-token-0123456789abcdef
echo "write $token" > "$tmp/tokens"
"$build/chgd" --listen 127.0.0.1:0 --policy "$here/../tests/daemon/policy.chg" --store "$tmp/chgd.db" \
    --token-file "$tmp/tokens" --threads "${THREADS:-4}" --max-connections 1024 2> "$tmp/log" &
pid=$!
for _ in $(seq 100); do grep -q 'listening on' "$tmp/log" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/log")
change='{"id":"b1","env":"prod","requested_at":"2026-12-02T10:00:00Z","requester":{"name":"ann","groups":[]},"approvals":[{"by":"bob","group":"cab","at":"2026-12-02T09:00:00Z"}]}'
cat > "$tmp/evaluate.lua" <<LUA
wrk.method = "POST"
wrk.body = '$change'
wrk.headers["Authorization"] = "Bearer $token"
LUA
cat > "$tmp/events.lua" <<LUA
local n = 0
request = function()
  n = n + 1
  local id = string.format("%d-%d", math.random(1, 1000000000), n)
  return wrk.format("POST", "/v1/events", {["Authorization"] = "Bearer $token", ["Idempotency-Key"] = id},
    '{"id":"c' .. id .. '","env":"dev","requested_at":"2026-12-02T10:00:00Z","requester":{"name":"ann","groups":[]},"approvals":[]}')
end
LUA
echo "== POST /v1/evaluate (dry), $dur s, $conns connections"
wrk -t2 -c"$conns" -d"${dur}s" --latency -s "$tmp/evaluate.lua" "http://127.0.0.1:$port/v1/evaluate" |
    grep -E 'Requests/sec|50%|99%|Non-2xx|Socket errors'
echo "== POST /v1/events (durable), $dur s, $conns connections"
wrk -t2 -c"$conns" -d"${dur}s" --latency -s "$tmp/events.lua" "http://127.0.0.1:$port/v1/events" |
    grep -E 'Requests/sec|50%|99%|Non-2xx|Socket errors'
curl -s "http://127.0.0.1:$port/metrics" | grep -E '^chgd_store_(commits|jobs)_total'
