#!/usr/bin/env bats
# tests/pg_chaos.bats: chaos on PostgreSQL (issue 14), short. A collection
# into PostgreSQL under supervision while random writer and fetcher
# processes are killed (SIGKILL) or frozen (SIGSTOP for 2-4 s) and resumed
# (the chaos library of tests/chaos.sh), and the server itself restarted
# (pg_ctl restart -m fast) once in the middle. The database must end equal
# to the simulator's truth, with no two coverage rows of one market and
# timeframe overlapping or touching, and every coverage row holding exactly
# the truth. The seed is fixed (CHAOS_TEST_SEED), printed, and CHAOS_SEED=N
# overrides it. On a throwaway server (tests/pg_helpers.bash); skips, saying
# so, without the server binaries. The SQLite chaos is tests/chaos.bats.

load pg_helpers
load pipeline_helpers

CHAOS_TEST_SEED=4343

# Upbit's own limit (10 requests/s) and a little latency: about 20 s
setup_file() { pg_suite_setup_file --sim --latency-ms 20; }
teardown_file() { pg_suite_teardown_file; }

setup() {
	pg_suite_setup
	RUN_DIR="$BATS_TEST_TMPDIR/run"
	chaos_test_setup "$CHAOS_TEST_SEED"
}

teardown() {
	chaos_test_stop
	[ -z "${RPID:-}" ] || { kill "$RPID" 2>/dev/null; wait "$RPID" 2>/dev/null; } || true
	chaos_test_report
	echo "--- writer log"; grep -v ' debug: ' "$RUN_DIR/writer.log" 2>/dev/null | tail -20
}

q() { # SQL: one value from the test's database
	pg_psql "$DB" -c "$1"
}

# pg_check_db: no two coverage rows of one (market, timeframe) overlap or
# touch, and every coverage row holds exactly the truth
pg_check_db() {
	local m tf from to rc=0
	pg_coverage_merged || { echo "chaos: coverage rows overlap or touch"; return 1; }
	while IFS='|' read -r m tf from to; do
		[ -n "$m" ] || continue
		diff <(chaos_truth "$m" "$tf" "$from" "$to") <(pg_db_dump "$DB" "$m" "$tf" "$from" "$to") >/dev/null ||
			{ echo "chaos: coverage row $m $tf [$from, $to) claims what is not stored"; rc=1; }
	done < <(q "SELECT market, timeframe, to_char(lower(span), 'YYYY-MM-DD\"T\"HH24:MI:SS'),
		to_char(upper(span), 'YYYY-MM-DD\"T\"HH24:MI:SS') FROM candlepipe.coverage")
	return $rc
}

@test "pg chaos: writer and fetchers killed and frozen, and pg_ctl restart -m fast, mid-collection: the truth, coverage merged" {
	local from=2026-09-01T00:00:00 to=2026-09-11T00:00:00 m
	"$ROOT/run.sh" collect --api-url "$SIM_URL" --run-dir "$RUN_DIR" --db "$DB" --quiet \
		--market KRW-BTC,KRW-ADA --timeframe 1m --from $from --to $to --fetchers 3 \
		>"$BATS_TEST_TMPDIR/collect.1.out" 2>&1 3>&- &
	CPID=$!
	# the server goes away once, some results in
	(WAIT_FOR_S=40 wait_for pg_candles_over 6000 && pg_restart &&
		chaos_log "pg_ctl restart -m fast") 3>&- &
	RPID=$!
	chaos_loop "$CPID" "$RUN_DIR" writer,fetcher 0
	wait "$CPID" && RC=0 || RC=$?
	CPID=
	wait "$RPID"
	RPID=
	chaos_log "collect 1: exit $RC after $CHAOS_ACTIONS actions ($CHAOS_KINDS_HIT )"
	[ "$CHAOS_ACTIONS" -ge 3 ]
	grep -q "pg_ctl restart" "$CHAOS_LOG"
	pg_check_db
	# retries may run out under chaos: the same command once more finishes
	if [ "$RC" -ne 0 ]; then
		run collect --db "$DB" --quiet --market KRW-BTC,KRW-ADA --timeframe 1m \
			--from $from --to $to --fetchers 3
		echo "$output" >"$BATS_TEST_TMPDIR/collect.2.out"
		RC=$status
	fi
	[ "$RC" -eq 0 ]
	pg_check_db
	for m in KRW-BTC KRW-ADA; do
		chaos_truth $m 1m $from $to | diff - <(pg_db_dump "$DB" $m 1m $from $to)
	done
	[ "$(q "SELECT count(*) FROM candlepipe.coverage")" -eq 2 ]
	[ "$(q "SELECT count(*) FROM (SELECT 1 FROM candlepipe.candles
		GROUP BY market, timeframe, candle_date_time_utc HAVING count(*) > 1) d")" -eq 0 ]
}
