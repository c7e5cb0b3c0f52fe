#!/usr/bin/env bash
# The web page (issue 16): the first paint of the coverage map with 200
# markets, in Debian's headless Chromium (tests/web/check.py paint), and the
# page's answer to a click and a zoom on the loaded map. The database is a
# real collection on the simulator's 200 extra markets (upbit-sim
# --extra-markets 200: KRW-SIM001..200, dense to very sparse), two ranges of
# 1m each with a hole between them, served by cp-serve: first 200 series
# (200 markets x 1m), then 600 (the same markets with 1h and 1d added). The
# page reports performance.now() (milliseconds from the navigation start) at
# the map's first draw (window.cpMap.firstDrawMs: the ranges of every series,
# one /v1/coverage call) and at its first draw with the candle counts per
# bucket (fullDrawMs: a second call with buckets=N, which tells no-trade
# stretches apart); then a real mouse click on a row (until the stretch's
# detail is shown, and the next frame) and the zoom-in button (the
# redraw, the next frame, and the redraw with the new view's counts).
# Target: first paint under 1 s. Prints figures; asserts nothing.
# WEB_BENCH_RUNS (5) page loads per figure, WEB_BENCH_MARKETS (200),
# WEB_BENCH_SHOT a PNG of the last load.
set -u
. "$(dirname "$0")/lib.sh"
SERVE="$ROOT/serve/cp-serve"
[ -x "$SERVE" ] || { echo "  serve/cp-serve is missing: run 'make' first"; exit 1; }
{ [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; } ||
	{ echo "  no /usr/bin/chromium or chromedriver (apt-get install chromium chromium-driver); skipped"; exit 0; }
RUNS=${WEB_BENCH_RUNS:-5}
N=${WEB_BENCH_MARKETS:-200}

bench_sim websim --rate-limit 0 --extra-markets "$N"
markets=$(curl -s "$SIM_URL/v1/market/all" | jq -r '.[22:] | map(.market) | join(",")')
DB="$BENCH_TMP/web.db"

# more TF RUN FROM TO: one more collection into $DB, appended to the timing
more() {
	"$ROOT/run.sh" collect --db "$DB" --api-url "$SIM_URL" --quiet --run-dir "$BENCH_TMP/$2" \
		--market "$markets" --timeframe "$1" --from "$3" --to "$4" --rate 0 >/dev/null 2>&1 ||
		echo "  (collect $1 $3 .. $4 exited $?)"
}

# measure: the database's size, then the page's figures on a fresh cp-serve
measure() {
	local series n port url
	series=$(sqlite3 "$DB" "SELECT count(DISTINCT market || ' ' || timeframe) FROM coverage")
	n=$(sqlite3 "$DB" "SELECT count(DISTINCT market) FROM coverage")
	echo "  database: $n markets, $series series, $(sqlite3 "$DB" "SELECT count(*) FROM candles_exact") candles"
	port="$BENCH_TMP/serve.$series.port"
	"$SERVE" --db "$DB" --listen 127.0.0.1:0 --port-file "$port" 2>"$BENCH_TMP/serve.log" &
	BENCH_SIMS+=("$!")
	for _ in $(seq 200); do [ -s "$port" ] && break; sleep 0.025; done
	url="http://127.0.0.1:$(cat "$port")/"
	echo "  /v1/coverage: $(curl -s "${url}v1/coverage" | wc -c) bytes;" \
		"?buckets=600: $(curl -s "${url}v1/coverage?buckets=600" | wc -c) bytes"
	python3 "$ROOT/tests/web/check.py" paint --url "$url" --runs "$RUNS" \
		--shot "${WEB_BENCH_SHOT:-/dev/null}" | sed 's/^/  /'
	kill "${BENCH_SIMS[-1]}" 2>/dev/null
}

bench_collect "$DB" --market "$markets" --timeframe 1m \
	--from 2026-10-19T00:00:00 --to 2026-10-20T00:00:00 --rate 0
t1=$ELAPSED
more 1m run2 2026-10-21T12:00:00 2026-10-22T00:00:00
echo "  collected $N markets x 1m, two ranges (the first in ${t1} s)"
measure
more 1h,1d run3 2026-10-19T00:00:00 2026-10-20T00:00:00
more 1h,1d run4 2026-10-21T12:00:00 2026-10-22T00:00:00
echo "  added 1h and 1d, the same ranges"
measure
