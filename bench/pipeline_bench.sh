#!/usr/bin/env bash
# Pipeline benchmarks against the simulator: API efficiency, raw throughput,
# throughput at Upbit's rate limit with latency, scale-out over source
# addresses, faults. Prints figures; judges nothing (see bench-check).
set -u
. "$(dirname "$0")/lib.sh"
DB="$BENCH_TMP/bench.db"
QUICK=${QUICK:-0}

echo "-- API efficiency: 30 days of 1m, simulator at 10 requests/s"
bench_sim eff
for m in KRW-BTC:dense KRW-ZIL:sparse; do
	sim_reset
	bench_collect "$DB" --market "${m%%:*}" --timeframe 1m --from 2026-09-01T00:00:00 --to 2026-10-01T00:00:00
	req=$(sim_candle_requests)
	ideal=$(( (STORED + 199) / 200 ))
	printf '  %-7s %-6s %6d candles, %4d requests, ideal %4d, ratio %.3f (limit 1.03), 429s %d\n' \
		"${m#*:}" "${m%%:*}" "$STORED" "$req" "$ideal" "$(awk -v a="$req" -v b="$ideal" 'BEGIN{print a/b}')" "$(sim_429)"
done

echo "-- raw throughput: rate limit off, no latency, 4 dense markets x 90 days of 1m"
bench_sim raw --rate-limit 0
sim_reset
bench_collect "$DB" --market KRW-BTC,KRW-ETH,KRW-XRP,KRW-SOL --timeframe 1m \
	--from 2026-07-01T00:00:00 --to 2026-09-29T00:00:00 --rate 0 --fetchers 2 --inflight 8
printf '  %d candles in %.2f s: %d candles/s end to end (planner: %s candles/s)\n' \
	"$STORED" "$ELAPSED" "$(rate "$STORED" "$ELAPSED")" "$(planner_cps)"
