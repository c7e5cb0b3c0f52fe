#!/usr/bin/env bash
# Side by side against the same simulator (10 requests/s, 150 ms latency):
# ccxt's fetchOHLCV loop (npm ccxt, rate limiter on, into SQLite) and
# candlepipe, 7 days of 1m on a dense and a sparse market. ccxt is
# installed into a scratch folder (not a runtime dependency).
set -u
. "$(dirname "$0")/lib.sh"
SCRATCH=${CCXT_DIR:-/tmp/candlepipe-ccxt}
mkdir -p "$SCRATCH"
if [ ! -d "$SCRATCH/node_modules/ccxt" ] || [ ! -d "$SCRATCH/node_modules/better-sqlite3" ]; then
	(cd "$SCRATCH" && npm install --no-audit --no-fund ccxt better-sqlite3@12 >npm.log 2>&1) || {
		echo "  ccxt: npm install failed (see $SCRATCH/npm.log); skipped"; exit 0; }
fi
cp "$ROOT/bench/ccxt_collect.js" "$SCRATCH/"
bench_sim ccxt --latency-ms 150
for m in KRW-BTC:BTC/KRW:dense KRW-ZIL:ZIL/KRW:sparse; do
	IFS=: read -r market symbol kind <<<"$m"
	sim_reset
	out=$(cd "$SCRATCH" && node ccxt_collect.js "$SIM_URL" "$BENCH_TMP/ccxt.db" "$symbol" 1m \
		2026-09-01T00:00:00Z 2026-09-08T00:00:00Z) || { echo "  ccxt failed: $out"; continue; }
	ccps=$(jq -r '.cps | floor' <<<"$out")
	creq=$(sim_candle_requests)
	sim_reset
	bench_collect "$BENCH_TMP/cp.db" --market "$market" --timeframe 1m --from 2026-09-01T00:00:00 --to 2026-09-08T00:00:00
	cps=$(planner_cps)
	printf '  %-6s ccxt %5d candles/s (%d requests, %d candles) | candlepipe %5d candles/s (%d requests) | ratio %.2fx\n' \
		"$kind" "$ccps" "$creq" "$(jq .candles <<<"$out")" "$cps" "$(sim_candle_requests)" \
		"$(awk -v a="$cps" -v b="$ccps" 'BEGIN { print (b > 0 ? a / b : 0) }')"
done
