#!/bin/sh
# bench/sim_bench.sh - throughput of upbit-sim: starts a simulator with the
# rate limit off on a free loopback port, runs bench/simload against it and
# prints "sim: N candles/s (R requests/s, C connections)".
# usage: bench/sim_bench.sh [seconds] [connections]
set -eu
cd "$(dirname "$0")/.."
SECONDS_RUN=${1:-3}
CONNS=${2:-4}
if [ ! -x sim/upbit-sim ] || [ ! -x bench/simload ]; then
	make sim/upbit-sim bench/simload >/dev/null
fi
TMP=$(mktemp -d)
sim/upbit-sim --port 0 --port-file "$TMP/port" --rate-limit 0 2>"$TMP/sim.log" &
SIM_PID=$!
trap 'kill "$SIM_PID" 2>/dev/null; wait "$SIM_PID" 2>/dev/null; rm -rf "$TMP"' EXIT INT TERM
i=0
while [ ! -s "$TMP/port" ]; do
	i=$((i + 1))
	if [ "$i" -gt 100 ]; then
		echo "sim_bench: simulator did not start" >&2
		cat "$TMP/sim.log" >&2
		exit 1
	fi
	sleep 0.05
done
bench/simload --port "$(cat "$TMP/port")" --conns "$CONNS" --seconds "$SECONDS_RUN"
