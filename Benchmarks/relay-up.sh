#!/usr/bin/env bash
# Started by the peer harness (EXT_UP_CMD) once per repetition: two `warren relay` pairs,
#   client → :EXT_IPERF_PORT (plain→TLS) → :EXT_IPERF_PORT+100 (TLS→plain) → iperf3 server
#   client → :EXT_ECHO_PORT  (plain→TLS) → :EXT_ECHO_PORT+100  (TLS→plain) → echo server
# mutual TLS 1.3 with the cluster PKI in $WARREN_PKI. WARREN_RELAY_MUX=1 runs both relays with
# --mux (every connection a stream over long-lived TLS links). Stops with its process group.
set -euo pipefail
: "${WARREN_BIN:?}" "${WARREN_PKI:?}" "${HOST:?}" "${IPERF_PORT:?}" "${ECHO_PORT:?}"
: "${EXT_IPERF_PORT:?}" "${EXT_ECHO_PORT:?}"
pki=$WARREN_PKI
mux=()
[ "${WARREN_RELAY_MUX:-0}" = 1 ] && mux=(--mux)
# WARREN_BUSY_POLL_US (optional): the relays' --busy-poll-us, for A/B runs.
poll=(${WARREN_BUSY_POLL_US:+--busy-poll-us "$WARREN_BUSY_POLL_US"})
server_flags=(--tls-server --ca "$pki/ca.pem" --cert "$pki/n1.pem" --key "$pki/n1-key.pem" ${WARREN_RESUME:+--resume} "${mux[@]}" "${poll[@]}")
client_flags=(--tls-client --ca "$pki/ca.pem" --cert "$pki/n2.pem" --key "$pki/n2-key.pem" ${WARREN_RESUME:+--resume} "${mux[@]}" "${poll[@]}")
pids=()
for pair in "$EXT_IPERF_PORT:$IPERF_PORT" "$EXT_ECHO_PORT:$ECHO_PORT"; do
  front=${pair%%:*} target=${pair##*:} back=$(( ${pair%%:*} + 100 ))
  "$WARREN_BIN" relay "${server_flags[@]}" --listen "$HOST:$back" --to "$HOST:$target" ${WARREN_LOOPS:+--loops $WARREN_LOOPS} &
  pids+=($!)
  "$WARREN_BIN" relay "${client_flags[@]}" --listen "$HOST:$front" --to "$HOST:$back" ${WARREN_LOOPS:+--loops $WARREN_LOOPS} &
  pids+=($!)
done
trap 'kill "${pids[@]}" 2>/dev/null' EXIT TERM INT
wait
