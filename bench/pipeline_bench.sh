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

echo "-- at Upbit's limit: simulator at 10 requests/s per IP, 7 days of 1m"
for lat in 150 300; do
	bench_sim "lat$lat" --latency-ms "$lat"
	for m in KRW-BTC:dense KRW-ZIL:sparse; do
		sim_reset
		bench_collect "$DB" --market "${m%%:*}" --timeframe 1m --from 2026-09-01T00:00:00 --to 2026-09-08T00:00:00
		printf '  %3d ms  %-6s %6d candles: %5s candles/s (fetch phase), %d requests, %d x 429\n' \
			"$lat" "${m#*:}" "$STORED" "$(planner_cps)" "$(sim_candle_requests)" "$(sim_429)"
	done
done

echo "-- scale-out: three fetchers on 127.0.0.2, .3, .4, 150 ms, 3 dense markets x 7 days"
bench_sim ips --latency-ms 150
sim_reset
bench_collect "$DB" --market KRW-BTC,KRW-ETH,KRW-XRP --timeframe 1m --from 2026-09-01T00:00:00 \
	--to 2026-09-08T00:00:00 --fetchers 3 --source-ip 127.0.0.2,127.0.0.3,127.0.0.4
printf '  %d candles: %s candles/s (fetch phase), %d x 429, peak requests/s per IP: %s\n' \
	"$STORED" "$(planner_cps)" "$(sim_429)" \
	"$(curl -s "$SIM_URL/__sim/stats" | jq -r '[.clients | to_entries[] | "\(.key)=\(.value.peak_per_sec)"] | join(" ")')"

echo "-- faults: 10% of responses faulty (500, 502, reset, hang, truncate, garbage), 150 ms, 3 seeds"
sum=0
for seed in 11 12 13; do
	bench_sim "faults$seed" --latency-ms 150 --fault-rate 0.1 --seed "$seed"
	bench_collect "$DB" --market KRW-BTC --timeframe 1m --from 2026-09-01T00:00:00 --to 2026-09-08T00:00:00
	if diff -q <("$ROOT/sim/upbit-sim" truth --seed "$seed" --market KRW-BTC --timeframe 1m \
		--from 2026-09-01T00:00:00 --to 2026-09-08T00:00:00) \
		<("$ROOT/tests/db_dump.sh" "$DB" KRW-BTC 1m 2026-09-01T00:00:00 2026-09-08T00:00:00) >/dev/null; then
		eq="equal to the truth"
	else
		eq="NOT equal to the truth"
	fi
	cps=$(planner_cps)
	sum=$((sum + cps))
	printf '  seed %d: %d candles: %s candles/s (fetch phase), %d requests, faults %s; database %s\n' \
		"$seed" "$STORED" "$cps" "$(sim_candle_requests)" "$(curl -s "$SIM_URL/__sim/stats" | jq -c .faults)" "$eq"
done
printf '  mean: %d candles/s\n' $((sum / 3))
