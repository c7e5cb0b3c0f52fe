#!/usr/bin/env bash
# Follow mode: how soon after its close each new candle is stored. Five
# markets of 1m followed for FOLLOW_SECONDS (default 150) against the
# simulator at Upbit's rate limit with 30 ms latency; prints the planner's
# lag figures (median and worst seconds after close).
set -u
. "$(dirname "$0")/lib.sh"
secs=${FOLLOW_SECONDS:-150}
bench_sim follow --latency-ms 30
db="$BENCH_TMP/follow.db"
"$ROOT/run.sh" collect --market KRW-BTC,KRW-ETH,KRW-XRP,KRW-ZIL,KRW-MED --timeframe 1m \
	--count 60 --follow --db "$db" --api-url "$SIM_URL" --run-dir "$BENCH_TMP/run.follow" \
	--quiet >"$BENCH_TMP/follow.out" 2>&1 &
pid=$!
sleep "$secs"
kill -TERM "$pid"
wait "$pid"
echo "  $(grep '^follow:' "$BENCH_TMP/follow.out") (5 markets of 1m, ${secs} s)"
