#!/usr/bin/env bash
# Monitor benchmark: the completion prediction against the actual end of a
# steady run (simulator with its rate limit on and 150 ms latency), and the
# pipeline's throughput with and without a monitor attached (the same
# workload twice). Prints figures; asserts nothing.
#   COUNT=N   slots per market (default 30000: ~45 s at 10 requests/s)
set -u
. "$(dirname "$0")/lib.sh"
DB="$BENCH_TMP/mon.db"
COUNT=${COUNT:-30000}
MARKETS=${MARKETS:-KRW-BTC,KRW-ETH,KRW-XRP}
WORK=(--market "$MARKETS" --timeframe 1m --count "$COUNT")
RUN="$BENCH_TMP/run.mon"
# candles/s (lib.sh's rate() has `b > 0` inside printf, which awk takes as a redirection)
cps() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b > 0) ? a / b : 0 }'; }

bench_sim mon --latency-ms 150

echo "-- without a monitor: $MARKETS x $COUNT slots of 1m, 10 requests/s, 150 ms latency"
sim_reset
bench_collect "$DB" "${WORK[@]}"
base_elapsed=$ELAPSED base_stored=$STORED
printf '  %d candles in %.2f s: %s candles/s\n' "$base_stored" "$base_elapsed" \
	"$(cps "$base_stored" "$base_elapsed")"

echo "-- with a monitor (--json --prometheus) attached, same workload"
sim_reset
rm -f "$DB" "$DB-wal" "$DB-shm"
rm -rf "$RUN"
t0=$(now_s)
"$ROOT/run.sh" collect --db "$DB" --api-url "$SIM_URL" --quiet --run-dir "$RUN" \
	"${WORK[@]}" >"$BENCH_TMP/collect.out" 2>&1 &
cpid=$!
"$ROOT/monitor/cp-monitor" --endpoint "ipc://$RUN/monitor.sock" --json --exit-on-finish \
	--prometheus 127.0.0.1:0 >"$BENCH_TMP/mon.json" 2>"$BENCH_TMP/mon.err" &
mpid=$!
# scrape /metrics now and then, like a Prometheus server would
for _ in $(seq 200); do [ -s "$BENCH_TMP/mon.err" ] && break; sleep 0.05; done
mport=$(sed -n 's/.*serving http:\/\/[^:]*:\([0-9]*\)\/metrics.*/\1/p' "$BENCH_TMP/mon.err" | head -1)
while kill -0 "$cpid" 2>/dev/null; do
	[ -n "$mport" ] && curl -s "http://127.0.0.1:$mport/metrics" >/dev/null
	sleep 1
done
wait "$cpid"
t1=$(now_s)
wait "$mpid" 2>/dev/null
mon_elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
mon_stored=$(sqlite3 "$DB" "SELECT COUNT(*) FROM candles_exact")
printf '  %d candles in %.2f s: %s candles/s\n' "$mon_stored" "$mon_elapsed" \
	"$(cps "$mon_stored" "$mon_elapsed")"
awk -v a="$base_elapsed" -v b="$mon_elapsed" \
	'BEGIN { printf "  monitor cost: %+.1f%% run time (noise of a rate-limited run is about +-2%%)\n", 100 * (b - a) / a }'
ps_cpu=$(grep -c . "$BENCH_TMP/mon.json")
echo "  monitor wrote $ps_cpu JSON lines"

echo "-- completion prediction (planner's elapsed time; actual = finished event)"
jq -r -s '
	. as $all
	| ([.[] | select(.topic == "summary" and .finished)] | last | .elapsed_s) as $actual
	| if $actual == null then "  no finished summary (monitor missed the end?)" else
	  "  actual total: \($actual | . * 10 | round / 10) s",
	  (0.10, 0.25, 0.50, 0.75 | . as $p
	   | ([$all[] | select(.topic == "summary" and .prediction.available and (.finished | not)
	                    and .progress >= $p)] | first) as $s
	   | if $s == null then "  at \($p * 100)%: no prediction"
	     else "  at \($p * 100 | round)% (t=\($s.elapsed_s | . * 10 | round / 10) s): predicted total \($s.prediction.total_s | . * 10 | round / 10) s, error \((($s.prediction.total_s - $actual) / $actual * 1000 | round) / 10)%"
	     end)
	  end' "$BENCH_TMP/mon.json"
jq -r -s '[.[] | select(.topic == "summary")] | last |
	"  pattern: \(.pattern.type), efficiency \(.pattern.efficiency_score), suggestion: \(.pattern.suggestion)"' \
	"$BENCH_TMP/mon.json"
