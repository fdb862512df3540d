#!/usr/bin/env bash
# Started by the peer harness (EXT_UP_CMD) once per repetition: a one-node Warren cluster,
# a tunnel with two expose mappings and a connector, so that
#   client → :EXT_IPERF_PORT (node mapping listener) ══ mux over mutual-TLS WebSocket ══ connector → iperf3 server
#   client → :EXT_ECHO_PORT  (node mapping listener) ══ …                                ══ connector → echo server
# Stops everything with its process group.
set -euo pipefail
: "${WARREN_BIN:?}" "${HOST:?}" "${IPERF_PORT:?}" "${ECHO_PORT:?}" "${EXT_IPERF_PORT:?}" "${EXT_ECHO_PORT:?}"
work=$(mktemp -d /tmp/warren-tunnel-bench.XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT TERM INT
"$WARREN_BIN" pki init --out "$work/pki" --nodes n1 --hosts "$HOST" >/dev/null
# The node's own ports: WARREN_API_PORT / WARREN_PEER_PORT, else they follow the mapping
# ports, so runs with different port sets never collide.
api=${WARREN_API_PORT:-$((EXT_IPERF_PORT + 140))} peer=${WARREN_PEER_PORT:-$((EXT_IPERF_PORT + 150))}
# WARREN_BUSY_POLL_US (optional): the node's and the connector's busy polling, for A/B runs.
poll=${WARREN_BUSY_POLL_US:+\"busyPollMicros\": $WARREN_BUSY_POLL_US,}
cat >"$work/n1.json" <<JSON
{"id": "n1", $poll "listen": {"api": "$HOST:$api", "peer": "$HOST:$peer"}, "mappingHost": "$HOST",
 "members": [{"id": "n1", "api": "$HOST:$api", "peer": "$HOST:$peer"}]}
JSON
"$WARREN_BIN" node --config "$work/n1.json" --pki "$work/pki" --data-dir "$work/data" --log-level warn \
  2>"$work/node.log" & pids+=($!)
ctl() { "$WARREN_BIN" ctl --server "https://$HOST:$api" --pki "$work/pki" "$@"; }
for _ in $(seq 200); do ctl status >/dev/null 2>&1 && break; sleep 0.05; done
created=$(ctl tunnel create bench --duration 24h --json)
id=$(printf '%s' "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
url=$(printf '%s' "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["connectUrl"])')
ctl mapping add "$id" --expose "$HOST:$IPERF_PORT" --listen "$EXT_IPERF_PORT" >/dev/null
ctl mapping add "$id" --expose "$HOST:$ECHO_PORT" --listen "$EXT_ECHO_PORT" >/dev/null
"$WARREN_BIN" connector --url "$url" --state-dir "$work/connector" --log-level warn \
  ${WARREN_BUSY_POLL_US:+--busy-poll-us "$WARREN_BUSY_POLL_US"} 2>"$work/connector.log" & pids+=($!)
wait
