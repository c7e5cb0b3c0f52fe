#!/usr/bin/env bats
# tests/pg_daemon.bats: the service (daemon) on a PostgreSQL --db (issues
# 13, 14): standing follows kept in candlepipe.follows (schema version 2),
# followed again by a daemon the supervisor restarts after SIGKILL; the
# writer upgrades a version 1 schema in place and refuses a version 3 one
# unchanged. One throwaway server for the file (tests/pg_helpers.bash),
# one database per test. Skips, saying so in one line, without the server
# binaries.

load pg_helpers
load pipeline_helpers

setup_file() { pg_suite_setup_file; }
teardown_file() { pg_suite_teardown_file; }

setup() {
	RUN="$BATS_TEST_TMPDIR/run"
	pg_suite_setup
}

teardown() {
	"$ROOT/run.sh" stop --db "$DB" --run-dir "$RUN" >/dev/null 2>&1 3>&- || true
	stop_all_sims
}

q() { pg_psql "$DB" -c "$1"; }
svc() { # COMMAND ARGS...: a run.sh service command on $DB, $RUN
	local c=$1
	shift
	"$ROOT/run.sh" "$c" --db "$DB" --run-dir "$RUN" "$@" 3>&-
}
start_svc() {
	start_sim --rate-limit 0 --latency-ms 10
	svc start --api-url "$SIM_URL" --rate 0 "$@"
}
following() { svc follow --list | grep -q "follow $1 $2: job [0-9]* following"; }
planner_pid() { awk '$1 == "planner" { print $2 }' "$RUN/service.procs"; }

@test "pg daemon: follow, --list, --remove kept in candlepipe.follows" {
	start_svc
	[ "$(q "SELECT value FROM candlepipe.meta WHERE key = 'schema_version'")" = 2 ]
	run svc follow --market KRW-BTC,KRW-ETH --timeframe 1m --backfill 30
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"added 2 follows"* ]]
	[ "$(q "SELECT string_agg(market || ' ' || timeframe || ' ' || backfill, ',' ORDER BY market) FROM candlepipe.follows")" = \
		"KRW-BTC 1m 30,KRW-ETH 1m 30" ]
	wait_for following KRW-BTC 1m
	wait_for following KRW-ETH 1m
	[ "$(q "SELECT count(*) FROM candlepipe.candles WHERE market = 'KRW-BTC' AND timeframe = '1m'")" -ge 30 ]
	run svc follow --market KRW-BTC --timeframe 1m
	[ "$status" -eq 0 ]
	[[ "$output" == *"added 0 follows"* ]]
	[[ "$output" == *"follow KRW-BTC 1m: job 1 following, backfill 30"* ]]
	[ "$(q "SELECT count(*) FROM candlepipe.follows")" -eq 2 ]
	run svc follow --remove --market KRW-ETH --timeframe 1m
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"removed 1 follow"* ]]
	[ "$(q "SELECT market FROM candlepipe.follows")" = KRW-BTC ]
	run svc follow --list
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" == "follow KRW-BTC 1m: job 1 following"* ]]
	svc follow --remove --market KRW-BTC --timeframe 1m
	run svc follow --list
	[ "$output" = "follows: none" ]
	[ "$(q "SELECT count(*) FROM candlepipe.follows")" -eq 0 ]
}

@test "pg daemon: SIGKILLed, restarted by the supervisor, it follows again; the new minute is stored" {
	clock_before 60 6
	start_svc
	svc follow --market KRW-BTC --timeframe 1m --backfill 5
	wait_for following KRW-BTC 1m
	local old new
	old=$(planner_pid)
	kill -KILL "$old"
	wait_for eval '[ "$(planner_pid)" != "$old" ] && [ "$(planner_pid)" != - ]'
	new=$(planner_pid)
	[ "$new" != "$old" ]
	wait_for following KRW-BTC 1m
	grep -q "job 1 follows KRW-BTC 1m (backfill 5)" "$RUN/planner.log"
	while [ "$(sim_now)" -lt $((CLOSE + 4)) ]; do sleep 0.2; done
	WAIT_FOR_S=10 wait_for eval '[ "$(q "SELECT count(*) FROM candlepipe.candles WHERE market = '\''KRW-BTC'\'' AND timeframe = '\''1m'\'' AND candle_date_time_utc = '\''$(iso $((CLOSE - 60)))'\''")" -eq 1 ]'
	local from
	from=$(q "SELECT to_char(min(lower(span)), 'YYYY-MM-DD\"T\"HH24:MI:SS') FROM candlepipe.coverage WHERE market = 'KRW-BTC' AND timeframe = '1m'")
	[ "$(q "SELECT count(*) FROM candlepipe.coverage WHERE market = 'KRW-BTC' AND timeframe = '1m'")" -eq 1 ]
	diff <(truth KRW-BTC 1m "$from" "$(iso "$CLOSE")") <(pg_db_dump "$DB" KRW-BTC 1m "$from" "$(iso "$CLOSE")")
}

# every table of the candlepipe schema and its rows, as text (markets
# without updated_utc, which each collect's market list refreshes)
schema_dump() {
	q "SELECT relname FROM pg_class WHERE relnamespace = 'candlepipe'::regnamespace AND relkind = 'r' ORDER BY 1" |
		while read -r t; do
			echo "== $t"
			if [ "$t" = markets ]; then
				q "SELECT market, korean_name, english_name, warning, caution FROM candlepipe.markets ORDER BY 1"
			else
				q "SELECT * FROM candlepipe.$t ORDER BY 1, 2"
			fi
		done
}

@test "pg: the writer upgrades a version 1 schema to 2 in place (the follows table, nothing else); a version 3 is refused unchanged" {
	start_file_sim --rate-limit 0
	use_file_sim
	collect --market KRW-BTC --timeframe 1m --from 2026-10-01T00:00:00 --to 2026-10-01T06:00:00 \
		--db "$DB" --rate 0 --quiet
	# back to version 1: no follows table, meta says 1
	q "DROP TABLE candlepipe.follows; UPDATE candlepipe.meta SET value = '1' WHERE key = 'schema_version'"
	# a reader reads version 1 as it is
	run "$ROOT/run.sh" query --db "$DB" --market KRW-BTC --timeframe 1m \
		--from 2026-10-01T00:00:00 --to 2026-10-01T01:00:00 --format csv
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(q "SELECT value FROM candlepipe.meta WHERE key = 'schema_version'")" = 1 ]
	schema_dump >"$BATS_TEST_TMPDIR/v1"
	# the writer (a rerun: everything covered) upgrades it
	run collect --market KRW-BTC --timeframe 1m --from 2026-10-01T00:00:00 --to 2026-10-01T06:00:00 \
		--db "$DB" --rate 0
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q "candlepipe schema upgraded from version 1 to 2" "$BATS_TEST_TMPDIR/run/writer.log"
	[ "$(q "SELECT value FROM candlepipe.meta WHERE key = 'schema_version'")" = 2 ]
	[ "$(q "SELECT count(*) FROM candlepipe.follows")" -eq 0 ]
	[ "$(q "SELECT string_agg(attname || ':' || format_type(atttypid, atttypmod), ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'candlepipe.follows'::regclass AND attnum > 0")" = \
		"market:text,timeframe:text,backfill:bigint,added_utc:timestamp without time zone" ]
	# nothing else changed
	schema_dump | grep -v "^== follows$" | sed 's/^schema_version|2$/schema_version|1/' >"$BATS_TEST_TMPDIR/v2"
	diff "$BATS_TEST_TMPDIR/v1" "$BATS_TEST_TMPDIR/v2"
	# a version 3 is refused, and left as it was
	q "UPDATE candlepipe.meta SET value = '3' WHERE key = 'schema_version'"
	schema_dump >"$BATS_TEST_TMPDIR/v3"
	run collect --market KRW-BTC --timeframe 1m --from 2026-10-01T00:00:00 --to 2026-10-02T00:00:00 \
		--db "$DB" --rate 0 --quiet
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"schema version 3, this program knows versions 1 to 2"* ]]
	schema_dump | diff "$BATS_TEST_TMPDIR/v3" -
}
