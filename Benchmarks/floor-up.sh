#!/usr/bin/env bash
# Started by the peer harness (EXT_UP_CMD) for Benchmarks/floor-bench: two ideal-relay pairs,
#   client → :EXT_IPERF_PORT (enc) ══ AES-128-GCM records ══ (dec) → iperf3 server
#   client → :EXT_ECHO_PORT  (enc) ══ …                    ══ (dec) → echo server
set -euo pipefail
: "${IDEAL_RELAY:?}" "${HOST:?}" "${IPERF_PORT:?}" "${ECHO_PORT:?}" "${EXT_IPERF_PORT:?}" "${EXT_ECHO_PORT:?}"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null' EXIT TERM INT
hop_iperf=$((EXT_IPERF_PORT + 160)) hop_echo=$((EXT_IPERF_PORT + 161))
"$IDEAL_RELAY" dec "$hop_iperf" "$HOST" "$IPERF_PORT" & pids+=($!)
"$IDEAL_RELAY" dec "$hop_echo" "$HOST" "$ECHO_PORT" & pids+=($!)
"$IDEAL_RELAY" enc "$EXT_IPERF_PORT" "$HOST" "$hop_iperf" & pids+=($!)
"$IDEAL_RELAY" enc "$EXT_ECHO_PORT" "$HOST" "$hop_echo" & pids+=($!)
wait
