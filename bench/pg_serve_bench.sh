#!/usr/bin/env bash
# cp-serve on PostgreSQL next to SQLite (issues 13 and 14): covered
# 200-candle requests (/v1/candles/minutes/1, count=200) loaded with wrk, as
# bench/serve_bench.sh does, on the same data: a day of KRW-BTC and KRW-ETH
# 1m collected from the simulator into SQLite and copied into a throwaway
# PostgreSQL server (tests/pg_load.sh, unix socket, fsync off). For each
# database: the latency at about 1,000 requests/s (10 connections, 10 ms
# between requests) and the maximum (32 connections), both with the answer
# cache off (--cache-mb 0: every answer read from the database, a connection
# and its prepared statements per server thread), and the maximum with the
# cache (one URL: every answer after the first is a cache hit, whatever the
# database). The server, wrk and PostgreSQL share the machine's cores.
# Prints figures; asserts nothing. Skips without wrk or the server.
#   PG_SERVE_BENCH_SECONDS: seconds per wrk run (default 5)
set -u
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/pg_helpers.bash"
SERVE="$ROOT/serve/cp-serve"
SECS=${PG_SERVE_BENCH_SECONDS:-5}
PATH_200="/v1/candles/minutes/1?market=KRW-BTC&to=2026-10-01T12:00:00Z&count=200"

[ -x "$SERVE" ] || { echo "  serve/cp-serve is missing: run 'make' first"; exit 1; }
command -v wrk >/dev/null || { echo "  wrk is not installed (apt-get install wrk); skipped"; exit 0; }
if ! why=$(pg_available); then
	echo "-- cp-serve PostgreSQL bench skipped: $why"
	exit 0
fi
BATS_FILE_TMPDIR=$BENCH_TMP # pg_helpers keeps its state file there
trap 'pg_stop; for p in "${BENCH_SIMS[@]}"; do kill $p 2>/dev/null; done; rm -rf "$BENCH_TMP"' EXIT

LITE="$BENCH_TMP/sv.db"
bench_sim pgsv --rate-limit 0
bench_collect "$LITE" --market KRW-BTC,KRW-ETH --timeframe 1m \
	--from 2026-10-01T00:00:00 --to 2026-10-02T00:00:00 --rate 0
pg_start cpbench >/dev/null || { echo "  pg_start failed"; exit 1; }
"$ROOT/tests/pg_load.sh" "$LITE" "$PG_URI" >/dev/null
echo 'function delay() return 10 end' >"$BENCH_TMP/paced.lua"

# serve NAME DB [cp-serve options]: starts cp-serve on DB, sets URL
serve() {
	local name=$1 db=$2
	shift 2
	"$SERVE" --db "$db" --listen 127.0.0.1:0 --port-file "$BENCH_TMP/$name.port" "$@" \
		2>"$BENCH_TMP/$name.log" &
	BENCH_SIMS+=("$!")
	for _ in $(seq 200); do [ -s "$BENCH_TMP/$name.port" ] && break; sleep 0.025; done
	URL="http://127.0.0.1:$(cat "$BENCH_TMP/$name.port")$PATH_200"
}

# figures LABEL DB: the three wrk runs on DB
figures() {
	local n
	serve "$1-nocache" "$2" --cache-mb 0
	n=$(curl -s "$URL" | jq length)
	[ "$n" = 200 ] || { echo "  $1: cp-serve did not answer 200 candles (got '$n')"; return; }
	wrk -t1 -c10 -d"${SECS}s" --latency -s "$BENCH_TMP/paced.lua" "$URL" >"$BENCH_TMP/w.out" 2>&1
	echo "  $1, cache off, paced (~1,000/s): $(wrk_figures "$BENCH_TMP/w.out")"
	wrk -t1 -c32 -d"${SECS}s" --latency "$URL" >"$BENCH_TMP/w.out" 2>&1
	echo "  $1, cache off, maximum (32 connections): $(wrk_figures "$BENCH_TMP/w.out")"
	serve "$1-cache" "$2"
	wrk -t1 -c32 -d"${SECS}s" --latency "$URL" >"$BENCH_TMP/w.out" 2>&1
	echo "  $1, cache on, maximum (32 connections): $(wrk_figures "$BENCH_TMP/w.out")"
}

echo "-- covered 200-candle request, $STORED candles stored"
figures SQLite "$LITE"
figures "PostgreSQL (unix socket)" "$PG_URI"
