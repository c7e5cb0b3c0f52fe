# bench/lib.sh: shared pieces of the benchmark scripts (sourced).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH_TMP=$(mktemp -d /tmp/cp-bench.XXXXXX)
BENCH_SIMS=()
trap 'for p in "${BENCH_SIMS[@]}"; do kill $p 2>/dev/null; done; rm -rf "$BENCH_TMP"' EXIT

# bench_sim NAME [sim options]: starts a simulator, sets SIM_URL
bench_sim() {
	local name=$1; shift
	"$ROOT/sim/upbit-sim" --port 0 --port-file "$BENCH_TMP/$name.port" "$@" \
		>"$BENCH_TMP/$name.log" 2>&1 &
	BENCH_SIMS+=("$!")
	for _ in $(seq 200); do [ -s "$BENCH_TMP/$name.port" ] && break; sleep 0.025; done
	SIM_URL="http://127.0.0.1:$(cat "$BENCH_TMP/$name.port")"
}

sim_reset() { curl -s "$SIM_URL/__sim/reset" >/dev/null; }
sim_candle_requests() {
	curl -s "$SIM_URL/__sim/stats" |
		jq '[.by_route | to_entries[] | select(.key | startswith("candles")) | .value] | add'
}
sim_429() { curl -s "$SIM_URL/__sim/stats" | jq '.by_status["429"] // 0'; }
sim_418() { curl -s "$SIM_URL/__sim/stats" | jq '.by_status["418"] // 0'; }

now_s() { date +%s.%N; }

# bench_collect DB ARGS...: runs a collection, sets ELAPSED (s) and STORED
bench_collect() {
	local db=$1; shift
	local t0 t1
	rm -f "$db" "$db-wal" "$db-shm"
	t0=$(now_s)
	"$ROOT/run.sh" collect --db "$db" --api-url "$SIM_URL" --quiet \
		--run-dir "$BENCH_TMP/run.$$" "$@" >"$BENCH_TMP/collect.out" 2>&1
	BENCH_RC=$?
	t1=$(now_s)
	ELAPSED=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	STORED=$(sqlite3 "$db" "SELECT COUNT(*) FROM candles_exact")
	if [ $BENCH_RC -ne 0 ]; then
		echo "  (collect exited $BENCH_RC)"; tail -n 3 "$BENCH_TMP/collect.out"
	fi
}

rate() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b > 0 ? a / b : 0) }'; }
# candles/s as the planner measured it (first lease to last commit)
planner_cps() { sed -n 's/.* \([0-9]*\) candles\/s (fetch phase.*/\1/p' "$BENCH_TMP/collect.out" | tail -1; }
planner_requests() { sed -n 's/.* \([0-9]*\) requests (.*/\1/p' "$BENCH_TMP/collect.out" | tail -1; }

# wrk_figures OUT: "R requests/s, p50 X ms, p99 Y ms" from wrk --latency output
wrk_figures() {
	awk '
	function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
	$1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
	$1 == "Requests/sec:" { r = $2 }
	/Non-2xx/ { bad = $NF }
	END { printf "%.0f requests/s, p50 %.2f ms, p99 %.2f ms%s\n", r, p50, p99, bad ? ", " bad " non-2xx" : "" }' "$1"
}
