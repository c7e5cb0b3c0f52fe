#!/usr/bin/env bash
# Read-side benchmark on PostgreSQL next to SQLite (issue 14): a 200-candle
# query (the latency a bot sees, whole process: connect, schema check,
# coverage, rows) and a 30-day 1m export of one market, on the same data.
# A 30-day collection from the simulator goes into SQLite, is copied into a
# throwaway PostgreSQL server (tests/pg_load.sh, unix socket, fsync off) and
# both are read. Prints figures; asserts nothing. Skips without the server.
#   REPS=runs of the 200-candle query (default 50)
#   MILLION=0 skips the covered query of a million candles (700 days of 1m)
set -u
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/pg_helpers.bash"
REPS=${REPS:-50}
CPQ="$ROOT/query/cp-query"
FROM=2026-09-01T00:00:00
TO=2026-10-01T00:00:00

[ -x "$CPQ" ] || { echo "query/cp-query is missing: run 'make' first"; exit 1; }
if ! why=$(pg_available); then
	echo "-- PostgreSQL read bench skipped: $why"
	exit 0
fi
BATS_FILE_TMPDIR=$BENCH_TMP # pg_helpers keeps its state file there
trap 'pg_stop; for p in "${BENCH_SIMS[@]}"; do kill $p 2>/dev/null; done; rm -rf "$BENCH_TMP"' EXIT

LITE="$BENCH_TMP/q.db"
echo "-- building: KRW-BTC 1m $FROM .. $TO from the simulator, copied into PostgreSQL"
bench_sim pgq --rate-limit 0
bench_collect "$LITE" --market KRW-BTC --timeframe 1m --from "$FROM" --to "$TO" --rate 0
N=$STORED
pg_start cpbench >/dev/null || { echo "  pg_start failed"; exit 1; }
"$ROOT/tests/pg_load.sh" "$LITE" "$PG_URI" >/dev/null
echo "  $N candles"

# many NAME DB: REPS runs of a 200-candle query, the mean wall time of one
many() {
	local t0 t1 i
	t0=$(now_s)
	for ((i = 0; i < REPS; i++)); do
		"$CPQ" query --db "$2" --market KRW-BTC --timeframe 1m --from 2026-09-15T00:00:00 \
			--to 2026-09-15T03:20:00 --format jsonl >/dev/null 2>&1
	done
	t1=$(now_s)
	printf '  %-44s %7.2f ms per query (%d runs)\n' "$1" \
		"$(awk -v a="$t0" -v b="$t1" -v n="$REPS" 'BEGIN { print (b - a) * 1000 / n }')" "$REPS"
}

# once NAME FORMAT DB: one 30-day export, candles/s and peak RSS
once() {
	local t0 t1 el rss=""
	t0=$(now_s)
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f %M -o "$BENCH_TMP/rss" "$CPQ" export --db "$3" --market KRW-BTC \
			--timeframe 1m --from "$FROM" --to "$TO" --format "$2" >/dev/null 2>&1
		rss=$(tail -1 "$BENCH_TMP/rss")
	else
		"$CPQ" export --db "$3" --market KRW-BTC --timeframe 1m --from "$FROM" --to "$TO" \
			--format "$2" >/dev/null 2>&1
	fi
	t1=$(now_s)
	el=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	printf '  %-44s %7d candles in %6.3f s: %8s candles/s%s\n' "$1" "$N" "$el" \
		"$(rate "$N" "$el")" "${rss:+, peak RSS $((rss / 1024)) MB}"
}

echo "-- a 200-candle query (jsonl), whole process"
many "SQLite" "$LITE"
many "PostgreSQL (unix socket)" "$PG_URI"
echo "-- a 30-day 1m export of one market"
for f in csv jsonl; do
	once "SQLite export --format $f" $f "$LITE"
	once "PostgreSQL export --format $f" $f "$PG_URI"
done

# a covered query of a million candles, each way (issue 14): candles/s and RSS
if [ "${MILLION:-1}" != 0 ]; then
	BIG="$BENCH_TMP/big.db"
	BFROM=2024-10-01T00:00:00 BTO=2026-09-01T00:00:00
	echo "-- building: KRW-BTC 1m $BFROM .. $BTO (700 days), copied into PostgreSQL"
	bench_collect "$BIG" --market KRW-BTC --timeframe 1m --from "$BFROM" --to "$BTO" --rate 0
	BN=$STORED
	BIG_URI=$(pg_createdb cpbig)
	"$ROOT/tests/pg_load.sh" "$BIG" "$BIG_URI" >/dev/null
	echo "  $BN candles"
	big() { # NAME DB: one covered query of every candle, csv
		local t0 t1 el rss
		t0=$(now_s)
		/usr/bin/time -f %M -o "$BENCH_TMP/rss" "$CPQ" query --db "$2" --market KRW-BTC \
			--timeframe 1m --from "$BFROM" --to "$BTO" --format csv >/dev/null 2>&1
		t1=$(now_s)
		rss=$(tail -1 "$BENCH_TMP/rss")
		el=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
		printf '  %-44s %7d candles in %6.3f s: %8s candles/s, peak RSS %d MB\n' "$1" "$BN" \
			"$el" "$(rate "$BN" "$el")" $((rss / 1024))
	}
	echo "-- a covered query of $BN candles (csv)"
	big "SQLite query" "$BIG"
	big "PostgreSQL query" "$BIG_URI"
fi
