#!/usr/bin/env bash
# bench/startup_bench.sh: the start-up cost of ./run.sh collect (issue 18):
# a one-request collection (10 candles of 1h, a fresh database) and the
# covered rerun of the same command, against the simulator at zero latency,
# STARTUP_RUNS times each (default 9); prints the median and the worst.
# Target: the first within 0.1 s plus its round trips, the rerun in 0.1 s.
. "$(dirname "$0")/lib.sh"
RUNS=${STARTUP_RUNS:-9}
bench_sim startup --rate-limit 0 --latency-ms 0

# stats NAME TIMES...: "median X s, worst Y s over N runs"
stats() {
	local name=$1; shift
	printf '%s\n' "$@" | sort -n | awk -v n="$name" '{ a[NR] = $1 }
		END { printf "  startup: %s: median %.3f s, worst %.3f s over %d runs\n", n, a[int((NR + 1) / 2)], a[NR], NR }'
}

first=() rerun=()
for ((i = 0; i < RUNS; i++)); do
	bench_collect "$BENCH_TMP/s.db" --market KRW-BTC --timeframe 1h --count 10 --fetchers 2
	first+=("$ELAPSED")
	t0=$(now_s)
	"$ROOT/run.sh" collect --db "$BENCH_TMP/s.db" --api-url "$SIM_URL" --quiet --run-dir "$BENCH_TMP/run.$$" \
		--market KRW-BTC --timeframe 1h --count 10 --fetchers 2 >"$BENCH_TMP/rerun.out" 2>&1 ||
		{ echo "  (rerun exited $?)"; tail -n 3 "$BENCH_TMP/rerun.out"; }
	t1=$(now_s)
	rerun+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')")
done
stats "one-request collect (1 market list + 1 candle request)" "${first[@]}"
stats "covered rerun (1 market list request)" "${rerun[@]}"
