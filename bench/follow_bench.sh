#!/usr/bin/env bash
# Follow mode: how soon after its close each new candle is stored. Five
# markets of 1m followed for FOLLOW_SECONDS (default 150), then five markets
# of 1s for FOLLOW_1S_SECONDS (default 30), against the simulator at Upbit's
# rate limit with 30 ms latency; prints the planner's lag figures (median
# and worst seconds after close) of each.
set -u
. "$(dirname "$0")/lib.sh"
secs=${FOLLOW_SECONDS:-150}
secs1s=${FOLLOW_1S_SECONDS:-30}
markets=KRW-BTC,KRW-ETH,KRW-XRP,KRW-ZIL,KRW-MED
bench_sim follow --latency-ms 30

# follow_lag TF COUNT SECONDS: follows the markets of TF, prints the lag line
follow_lag() {
	local db="$BENCH_TMP/follow.$1.db" out="$BENCH_TMP/follow.$1.out" pid
	"$ROOT/run.sh" collect --market "$markets" --timeframe "$1" --count "$2" --follow \
		--db "$db" --api-url "$SIM_URL" --run-dir "$BENCH_TMP/run.follow.$1" \
		--quiet >"$out" 2>&1 &
	pid=$!
	sleep "$3"
	kill -TERM "$pid"
	wait "$pid"
	echo "  $(grep '^follow:' "$out") (5 markets of $1, $3 s)"
}

follow_lag 1m 60 "$secs"
follow_lag 1s 600 "$secs1s"
