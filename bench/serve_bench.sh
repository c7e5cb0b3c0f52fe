#!/usr/bin/env bash
# cp-serve (serve/): covered 200-candle requests (/v1/candles/minutes/1,
# count=200, answered from SQLite) loaded with wrk: the latency at about
# 1,000 requests/s (10 connections, each waiting 10 ms between requests;
# Debian's wrk has no fixed-rate mode, so the achieved rate is printed) and
# the maximum covered requests/s (32 connections back to back). Both share
# the machine's cores with wrk itself. One URL over and over is the answer
# cache's best case (after the first request every answer is a cache hit), so
# the maximum is also measured with the cache off (--cache-mb 0): every
# answer built from SQLite, as for a window asked the first time. The
# "miss" figure: the time of a 200-candle request whose window nothing
# covers, through a service's daemon (read-through: the job of its gap, one
# upstream request, then the answer from SQLite), the median of
# SERVE_BENCH_MISSES distinct windows. Prints figures; asserts nothing.
set -u
. "$(dirname "$0")/lib.sh"
SERVE="$ROOT/serve/cp-serve"
[ -x "$SERVE" ] || { echo "  serve/cp-serve is missing: run 'make' first"; exit 1; }
SECS=${SERVE_BENCH_SECONDS:-5}
MISSES=${SERVE_BENCH_MISSES:-15}

# miss_figure: the median time of a 200-candle miss through a service
miss_figure() {
	local run="$BENCH_TMP/svc" db="$BENCH_TMP/miss.db" url i t cost0 bad=0
	bench_sim missim --rate-limit 0
	"$ROOT/run.sh" start --db "$db" --run-dir "$run" --api-url "$SIM_URL" --rate 0 \
		--listen 127.0.0.1:0 >"$BENCH_TMP/svc.out" 2>&1 ||
		{ echo "  miss: the service did not start: $(tail -n 1 "$BENCH_TMP/svc.out")"; return; }
	url="http://127.0.0.1:$(cat "$run/server.port")"
	cost0=$(sim_candle_requests)
	: >"$BENCH_TMP/miss.times"
	for ((i = 0; i < MISSES; i++)); do
		# a window of its own each time: 200 minutes ending at 06:00 of day i
		t=$(date -u -d "2026-08-01 + $i days" +%Y-%m-%dT06:00:00Z)
		curl -s -o "$BENCH_TMP/miss.json" -w '%{http_code} %{time_total}\n' \
			"$url/v1/candles/minutes/1?market=KRW-BTC&to=$t&count=200" >>"$BENCH_TMP/miss.times"
		[ "$(jq length "$BENCH_TMP/miss.json" 2>/dev/null)" = 200 ] || bad=$((bad + 1))
	done
	"$ROOT/run.sh" stop --db "$db" --run-dir "$run" >/dev/null 2>&1
	sort -k2 -g "$BENCH_TMP/miss.times" |
		awk -v n="$MISSES" -v req=$(($(sim_candle_requests) - cost0)) -v bad="$bad" '
		{ t[NR] = $2 * 1000 } END {
		m = n % 2 ? t[(n + 1) / 2] : (t[n / 2] + t[n / 2 + 1]) / 2
		printf "  miss: 200-candle request through the daemon (read-through), median of %d: %.1f ms (min %.1f, max %.1f), %d upstream requests%s\n",
			n, m, t[1], t[n], req, bad ? ", " bad " answers not 200 candles" : "" }'
}

miss_figure
command -v wrk >/dev/null || { echo "  wrk is not installed (apt-get install wrk); skipped"; exit 0; }

bench_sim svsim --rate-limit 0
bench_collect "$BENCH_TMP/sv.db" --market KRW-BTC,KRW-ETH --timeframe 1m \
	--from 2026-10-01T00:00:00 --to 2026-10-02T00:00:00 --rate 0
"$SERVE" --db "$BENCH_TMP/sv.db" --listen 127.0.0.1:0 --port-file "$BENCH_TMP/serve.port" \
	2>"$BENCH_TMP/serve.log" &
BENCH_SIMS+=("$!")
for _ in $(seq 200); do [ -s "$BENCH_TMP/serve.port" ] && break; sleep 0.025; done
URL="http://127.0.0.1:$(cat "$BENCH_TMP/serve.port")/v1/candles/minutes/1?market=KRW-BTC&to=2026-10-01T12:00:00Z&count=200"
n=$(curl -s "$URL" | jq length)
[ "$n" = 200 ] || { echo "  cp-serve did not answer 200 candles (got '$n')"; exit 1; }
echo 'function delay() return 10 end' >"$BENCH_TMP/paced.lua"

wrk -t1 -c10 -d"${SECS}s" --latency -s "$BENCH_TMP/paced.lua" "$URL" >"$BENCH_TMP/paced.out" 2>&1
echo "  covered 200-candle request, paced (~1,000/s): $(wrk_figures "$BENCH_TMP/paced.out")"
wrk -t1 -c32 -d"${SECS}s" --latency "$URL" >"$BENCH_TMP/max.out" 2>&1
echo "  covered 200-candle request, maximum (32 connections): $(wrk_figures "$BENCH_TMP/max.out")"
"$SERVE" --db "$BENCH_TMP/sv.db" --listen 127.0.0.1:0 --port-file "$BENCH_TMP/serve0.port" \
	--cache-mb 0 2>"$BENCH_TMP/serve0.log" &
BENCH_SIMS+=("$!")
for _ in $(seq 200); do [ -s "$BENCH_TMP/serve0.port" ] && break; sleep 0.025; done
URL0="http://127.0.0.1:$(cat "$BENCH_TMP/serve0.port")/${URL#http://127.0.0.1:*/}"
wrk -t1 -c32 -d"${SECS}s" --latency "$URL0" >"$BENCH_TMP/nocache.out" 2>&1
echo "  covered 200-candle request, maximum, cache off (--cache-mb 0): $(wrk_figures "$BENCH_TMP/nocache.out")"
echo "  simulator requests during the load: $(sim_candle_requests) (the collection's only)"
