#!/usr/bin/env bash
# The web page (issue 16): the first paint of the coverage map with 200+
# series, in Debian's headless Chromium (tests/web/check.py paint). The
# database is a real collection on the simulator (its 22 markets x 10
# timeframes = 220 series, two ranges each with a hole between them), served
# by cp-serve; the page reports performance.now() (milliseconds from the
# navigation start) at the map's first draw (window.cpMap.firstDrawMs: the
# ranges of every series, one /v1/coverage call) and at its first draw with
# the candle counts per bucket (fullDrawMs: a second call with buckets=N,
# which tells no-trade stretches apart). Target: under 1 s. Prints figures;
# asserts nothing.
set -u
. "$(dirname "$0")/lib.sh"
SERVE="$ROOT/serve/cp-serve"
[ -x "$SERVE" ] || { echo "  serve/cp-serve is missing: run 'make' first"; exit 1; }
{ [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; } ||
	{ echo "  no /usr/bin/chromium or chromedriver (apt-get install chromium chromium-driver); skipped"; exit 0; }
RUNS=${WEB_BENCH_RUNS:-5}

bench_sim websim --rate-limit 0
markets=$(curl -s "$SIM_URL/v1/market/all" | jq -r 'map(.market) | join(",")')
DB="$BENCH_TMP/web.db"
bench_collect "$DB" --market "$markets" --timeframe 1m,3m,5m,10m,15m,30m,1h,4h,1d,1w \
	--from 2026-10-19T00:00:00 --to 2026-10-20T00:00:00 --rate 0
t1=$ELAPSED
"$ROOT/run.sh" collect --db "$DB" --api-url "$SIM_URL" --quiet --run-dir "$BENCH_TMP/run2" \
	--market "$markets" --timeframe 1m,3m,5m,10m,15m,30m,1h,4h,1d,1w \
	--from 2026-10-21T12:00:00 --to 2026-10-22T00:00:00 --rate 0 >/dev/null 2>&1
series=$(sqlite3 "$DB" "SELECT count(DISTINCT market || ' ' || timeframe) FROM coverage")
echo "  database: $series series (collected in ${t1} s + the second range)"
"$SERVE" --db "$DB" --listen 127.0.0.1:0 --port-file "$BENCH_TMP/serve.port" \
	2>"$BENCH_TMP/serve.log" &
BENCH_SIMS+=("$!")
for _ in $(seq 200); do [ -s "$BENCH_TMP/serve.port" ] && break; sleep 0.025; done
URL="http://127.0.0.1:$(cat "$BENCH_TMP/serve.port")/"
bytes=$(curl -s "${URL}v1/coverage?buckets=600" | wc -c)
echo "  /v1/coverage?buckets=600: $bytes bytes"
python3 "$ROOT/tests/web/check.py" paint --url "$URL" --runs "$RUNS" --shot "${WEB_BENCH_SHOT:-/dev/null}" | sed 's/^/  /'
