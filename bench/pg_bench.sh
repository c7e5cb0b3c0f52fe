#!/usr/bin/env bash
# PostgreSQL against SQLite (issue 14): candles/s of a 14-day 1m collection
# into each at the same simulator latency, and with no rate limit and no
# latency (the writer's ceiling); then four collectors into one database at
# once (their total checked against the truth). Starts its own throwaway
# PostgreSQL server (tests/pg_helpers.bash) and removes it. Prints figures;
# judges nothing. Skips, saying so, without the server binaries.
# PG_BENCH_BEFORE=PATH also runs the writer's ceiling with the cp-writer at
# PATH (an older build, e.g. of main) and prints both: before and after.
set -u
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/pg_helpers.bash
. "$ROOT/tests/pg_helpers.bash"
if ! why=$(pg_available); then
	echo "-- PostgreSQL: skipped: $why"
	exit 0
fi
trap 'pg_stop; for p in "${BENCH_SIMS[@]}"; do kill $p 2>/dev/null; done; rm -rf "$BENCH_TMP"' EXIT
pg_start bench >/dev/null || exit 1
DB="$BENCH_TMP/bench.db"
N=0

# pg_collect ARGS...: bench_collect into a fresh PostgreSQL database
pg_collect() {
	local uri t0 t1
	N=$((N + 1))
	uri=$(pg_createdb "b$N" 2>/dev/null)
	t0=$(now_s)
	"$ROOT/run.sh" collect --db "$uri" --api-url "$SIM_URL" --quiet \
		--run-dir "$BENCH_TMP/run.pg$N" "$@" >"$BENCH_TMP/collect.out" 2>&1
	BENCH_RC=$?
	t1=$(now_s)
	ELAPSED=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	STORED=$(pg_psql "$uri" -c "SELECT count(*) FROM candlepipe.candles")
	[ $BENCH_RC -eq 0 ] || { echo "  (collect exited $BENCH_RC)"; tail -n 3 "$BENCH_TMP/collect.out"; }
}

line() { # STORE
	printf '  %-10s %6d candles in %6.2f s: %6d candles/s end to end (planner: %s candles/s)\n' \
		"$1" "$STORED" "$ELAPSED" "$(rate "$STORED" "$ELAPSED")" "$(planner_cps)"
}

RANGE=(--market KRW-BTC --timeframe 1m --from 2026-09-01T00:00:00 --to 2026-09-15T00:00:00)
echo "-- 14 days of 1m, simulator latency 30 ms, no rate limit, 2 fetchers x 8 in flight"
bench_sim lat --latency-ms 30 --rate-limit 0
bench_collect "$DB" "${RANGE[@]}" --rate 0 --fetchers 2 --inflight 8
line sqlite; sq=$(rate "$STORED" "$ELAPSED")
pg_collect "${RANGE[@]}" --rate 0 --fetchers 2 --inflight 8
line postgresql; pq=$(rate "$STORED" "$ELAPSED")
printf '  ratio postgresql/sqlite: %.2f\n' "$(awk -v a="$pq" -v b="$sq" 'BEGIN { print (b > 0 ? a / b : 0) }')"

# 90 days, as bench/pipeline_bench.sh's 4 x 90 days for SQLite: a run of a
# few seconds, so that the pipeline's start (a fixed ~0.3 s) does not
# dominate the figure, as it does in a run under a second
echo "-- the writer's ceiling: no rate limit, no latency, 4 dense markets x 90 days of 1m"
bench_sim raw --rate-limit 0
RAW=(--market KRW-BTC,KRW-ETH,KRW-XRP,KRW-SOL --timeframe 1m --from 2026-07-01T00:00:00
	--to 2026-09-29T00:00:00 --rate 0 --fetchers 2 --inflight 8)
bench_collect "$DB" "${RAW[@]}"
line sqlite; sq=$(rate "$STORED" "$ELAPSED")
if [ -n "${PG_BENCH_BEFORE:-}" ]; then
	# the same run with another writer binary (an older build), in place of
	# ours through run.sh's CP_EXEC_WRAPPER
	printf '#!/bin/sh\ncase "$1" in */cp-writer) shift; exec "%s" "$@" ;; esac\nexec "$@"\n' \
		"$PG_BENCH_BEFORE" >"$BENCH_TMP/before.sh"
	chmod +x "$BENCH_TMP/before.sh"
	CP_EXEC_WRAPPER="$BENCH_TMP/before.sh" pg_collect "${RAW[@]}"
	line "pg before"; pb=$(rate "$STORED" "$ELAPSED")
fi
pg_collect "${RAW[@]}"
line postgresql; pq=$(rate "$STORED" "$ELAPSED")
printf '  ratio postgresql/sqlite: %.2f\n' "$(awk -v a="$pq" -v b="$sq" 'BEGIN { print (b > 0 ? a / b : 0) }')"
[ -z "${pb:-}" ] || printf '  before: %d candles/s (ratio %.2f), now %.2f x that\n' "$pb" \
	"$(awk -v a="$pb" -v b="$sq" 'BEGIN { print (b > 0 ? a / b : 0) }')" \
	"$(awk -v a="$pq" -v b="$pb" 'BEGIN { print (b > 0 ? a / b : 0) }')"
awk -v a="$pq" 'BEGIN { printf "  target >= 100000 candles/s end to end: %s\n", (a >= 100000 ? "met" : "not met") }'

echo "-- four collectors into one PostgreSQL database at once (own run dirs and"
echo "   source addresses, the same 4 markets x 14 days of 1m: claims share the work)"
uri=$(pg_createdb four 2>/dev/null)
t0=$(now_s)
pids=()
for i in 1 2 3 4; do
	"$ROOT/run.sh" collect --db "$uri" --api-url "$SIM_URL" --quiet --source-ip "127.0.0.$((i + 1))" \
		--run-dir "$BENCH_TMP/run.four$i" "${RAW[@]}" >"$BENCH_TMP/four$i.out" 2>&1 &
	pids+=("$!")
done
rcs=""
for p in "${pids[@]}"; do wait "$p"; rcs="$rcs $?"; done
t1=$(now_s)
ELAPSED=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
STORED=$(pg_psql "$uri" -c "SELECT count(*) FROM candlepipe.candles")
truth_ok=yes
for m in KRW-BTC KRW-ETH KRW-XRP KRW-SOL; do
	"$ROOT/sim/upbit-sim" truth --market "$m" --timeframe 1m --from 2026-09-01T00:00:00 \
		--to 2026-09-15T00:00:00 >"$BENCH_TMP/truth" 2>/dev/null
	pg_db_dump "$uri" "$m" 1m >"$BENCH_TMP/db"
	cmp -s "$BENCH_TMP/truth" "$BENCH_TMP/db" || truth_ok="NO ($m differs)"
done
[ "$(pg_psql "$uri" -c "SELECT count(*) FROM candlepipe.coverage")" = 4 ] || truth_ok="NO (coverage not merged)"
printf '  4 collectors (exits%s): %d candles in %.2f s: %d candles/s in total; equal to the truth: %s\n' \
	"$rcs" "$STORED" "$ELAPSED" "$(rate "$STORED" "$ELAPSED")" "$truth_ok"
