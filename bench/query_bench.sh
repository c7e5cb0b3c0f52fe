#!/usr/bin/env bash
# Read-side benchmark: query, gaps and export speed on a 10-million-candle
# database. The database is built once (a small collection creates the
# schema, then a recursive CTE inserts the rows and their coverage) and kept
# under /tmp for the next run. Prints figures; asserts nothing.
#   N=rows (default 10000000)   QUERY_BENCH_DB=path (default /tmp/cp-query-bench-$N.db)
set -u
. "$(dirname "$0")/lib.sh"
N=${N:-10000000}
DB=${QUERY_BENCH_DB:-/tmp/cp-query-bench-$N.db}
CPQ="$ROOT/query/cp-query"
T0=1500000000 # 2017-07-14T02:40:00Z, a minute boundary
FROM=$(date -u -d "@$T0" +%Y-%m-%dT%H:%M:%S)
TO=$(date -u -d "@$((T0 + 60 * N))" +%Y-%m-%dT%H:%M:%S)
cps() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b > 0) ? a / b : 0 }'; }

[ -x "$CPQ" ] || { echo "query/cp-query is missing: run 'make' first"; exit 1; }

have=$(sqlite3 "$DB" "SELECT COUNT(*) FROM coverage WHERE market = 'KRW-BENCH'
	AND from_utc = '$FROM' AND to_utc = '$TO'" 2>/dev/null || echo 0)
if [ "$have" != 1 ]; then
	echo "-- building $DB ($N candles of KRW-BENCH 1m)"
	rm -f "$DB" "$DB-wal" "$DB-shm" "$DB.lock"
	bench_sim qb --rate-limit 0
	bench_collect "$DB" --market KRW-BTC --timeframe 1m --from 2026-10-01T00:00:00 \
		--to 2026-10-01T00:10:00 --rate 0
	t0=$(now_s)
	sqlite3 "$DB" "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
		WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $N - 1)
		INSERT INTO candles_exact SELECT 'KRW-BENCH', '1m',
			strftime('%Y-%m-%dT%H:%M:%S', $T0 + 60 * i, 'unixepoch'),
			strftime('%Y-%m-%dT%H:%M:%S', $T0 + 60 * i + 32400, 'unixepoch'),
			printf('%d.00000000', 100000 + i % 977), printf('%d.00000000', 100100 + i % 977),
			printf('%d.00000000', 99900 + i % 977), printf('%d.00000000', 100050 + i % 977),
			($T0 + 60 * i) * 1000 + 59000, printf('%d.12345678', 1000000 + i % 100003),
			printf('%d.87654321', 10 + i % 101), 1, NULL, NULL, NULL, NULL, NULL FROM n;
		INSERT INTO coverage VALUES ('KRW-BENCH', '1m', '$FROM', '$TO');
		PRAGMA journal_mode = WAL;" >/dev/null
	t1=$(now_s)
	printf '  built in %.1f s, %s MB\n' "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
		"$(( $(stat -c %s "$DB") / 1048576 ))"
else
	echo "-- reusing $DB ($N candles of KRW-BENCH 1m)"
fi

# run NAME ROWS cmd...: wall time and peak RSS of one run, output discarded
run() {
	local name=$1 rows=$2 t0 t1 el rss=""
	shift 2
	t0=$(now_s)
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f %M -o "$BENCH_TMP/rss" "$@" >/dev/null 2>"$BENCH_TMP/err"
		rss=$(tail -1 "$BENCH_TMP/rss")
	else
		"$@" >/dev/null 2>"$BENCH_TMP/err"
	fi
	t1=$(now_s)
	el=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	printf '  %-34s %9d candles in %7.2f s: %9s candles/s%s\n' "$name" "$rows" "$el" \
		"$(cps "$rows" "$el")" "${rss:+, peak RSS $((rss / 1024)) MB}"
}

echo "-- read speed"
run "query --format csv" "$N" "$CPQ" query --db "$DB" --market KRW-BENCH --timeframe 1m \
	--from "$FROM" --to "$TO" --format csv
run "query --format jsonl" "$N" "$CPQ" query --db "$DB" --market KRW-BENCH --timeframe 1m \
	--from "$FROM" --to "$TO" --format jsonl
run "query --format csv --fill forward" "$N" "$CPQ" query --db "$DB" --market KRW-BENCH \
	--timeframe 1m --from "$FROM" --to "$TO" --format csv --fill forward
run "gaps (walk)" "$N" "$CPQ" gaps --db "$DB" --market KRW-BENCH --timeframe 1m
total=$(( N + $(sqlite3 "$DB" "SELECT COUNT(*) FROM candles_exact WHERE market <> 'KRW-BENCH'") ))
run "export --market all --format csv" "$total" "$CPQ" export --db "$DB" --market all --format csv
run "export --market all --format jsonl" "$total" "$CPQ" export --db "$DB" --market all --format jsonl
