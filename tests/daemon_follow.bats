#!/usr/bin/env bats
# The service's standing follow jobs (./run.sh follow, collect --follow
# through a service): kept in the database's follows table, listed with
# their progress, removed; each command's errors; and a daemon killed with
# SIGKILL follows them again once the supervisor restarts it. Time-bound
# tests run in simulated time (CP_CLOCK_OFFSET_MS, as tests/follow.bats), a
# few seconds before a minute closes.

load pipeline_helpers

setup() {
	RUN="$BATS_TEST_TMPDIR/run" DB="$BATS_TEST_TMPDIR/d.db"
}

teardown() {
	"$ROOT/run.sh" stop --db "$DB" --run-dir "$RUN" >/dev/null 2>&1 3>&- || true
	[ -z "${PID:-}" ] || kill -TERM "$PID" 2>/dev/null || true
	stop_all_sims
}

svc() { # COMMAND ARGS...: a run.sh service command on $DB, $RUN
	local c=$1
	shift
	"$ROOT/run.sh" "$c" --db "$DB" --run-dir "$RUN" "$@" 3>&-
}

start_svc() {
	start_sim --rate-limit 0 --latency-ms 10
	svc start --api-url "$SIM_URL" --rate 0
}

q() { sqlite3 "$DB" "$1" 2>/dev/null || echo 0; }
following() { svc follow --list | grep -q "follow $1 $2: job [0-9]* following"; }

@test "follow: add, list and remove standing follows; kept in the follows table" {
	start_svc
	run svc follow --market KRW-BTC,KRW-ETH --timeframe 1m --backfill 30
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"added 2 follows"* ]]
	[ "$(q "SELECT market || ' ' || timeframe || ' ' || backfill FROM follows ORDER BY 1" | paste -sd,)" = \
		"KRW-BTC 1m 30,KRW-ETH 1m 30" ]
	wait_for following KRW-BTC 1m
	wait_for following KRW-ETH 1m
	# the backfill is stored: the 30 closed minutes before it was added
	[ "$(q "SELECT COUNT(*) FROM candles WHERE market = 'KRW-BTC' AND timeframe = '1m'")" -ge 30 ]
	# adding it again adds nothing
	run svc follow --market KRW-BTC --timeframe 1m
	[ "$status" -eq 0 ]
	[[ "$output" == *"added 0 follows"* ]]
	[[ "$output" == *"follow KRW-BTC 1m: job 1 following, backfill 30"* ]]
	[ "$(q "SELECT COUNT(*) FROM follows")" -eq 2 ]
	# status shows the follow jobs among the jobs
	run svc status
	[[ "$output" == *"job 1 following"* ]]
	run svc follow --remove --market KRW-ETH --timeframe 1m
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"removed 1 follow"* ]]
	[ "$(q "SELECT market FROM follows")" = KRW-BTC ]
	run svc follow --list
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" == "follow KRW-BTC 1m: job 1 following"* ]]
	svc follow --remove --market KRW-BTC --timeframe 1m
	run svc follow --list
	[ "$output" = "follows: none" ]
	[ "$(q "SELECT COUNT(*) FROM follows")" -eq 0 ]
}

@test "follow: no service (3), bad market, unknown timeframe, remove of a missing follow, usage (2)" {
	run svc follow --market KRW-BTC --timeframe 1m
	[ "$status" -eq 3 ]
	[[ "$output" == *"no service running for $DB: follows are standing jobs of a service; start one with ./run.sh start --db $DB"* ]]
	run svc follow --list
	[ "$status" -eq 3 ]
	start_svc
	run svc follow --market KRW-NOPE --timeframe 1m
	[ "$status" -eq 2 ]
	[[ "$output" == *"unknown market(s): KRW-NOPE"* ]]
	run svc follow --market KRW-BTC --timeframe 2m
	[ "$status" -eq 2 ]
	[[ "$output" == *"unknown timeframe '2m'"* ]]
	run svc follow --remove --market KRW-BTC --timeframe 1m
	[ "$status" -eq 2 ]
	[[ "$output" == *"KRW-BTC 1m is not followed"* ]]
	run svc follow --remove --market bad --timeframe 1m
	[ "$status" -eq 2 ]
	[[ "$output" == *"bad market code 'bad'"* ]]
	run svc follow --market KRW-BTC
	[ "$status" -eq 2 ]
	run svc follow --market KRW-BTC --timeframe 1m --backfill x
	[ "$status" -eq 2 ]
	[[ "$output" == *"--backfill wants a number of candles, not 'x'"* ]]
	run svc follow --list --market KRW-BTC
	[ "$status" -eq 2 ]
	# nothing refused was stored
	[ "$(q "SELECT COUNT(*) FROM follows")" -eq 0 ]
}

@test "collect --follow through a service: a standing follow; SIGTERM ends the watching (0), not the follow" {
	start_svc
	local out="$BATS_TEST_TMPDIR/out"
	"$ROOT/run.sh" collect --follow --db "$DB" --run-dir "$RUN" --api-url "$SIM_URL" \
		--market KRW-BTC --timeframe 1m,1h --count 20 >"$out" 2>&1 3>&- &
	PID=$!
	wait_for grep -q "follow KRW-BTC 1h: job [0-9]* following" "$out"
	grep -q "does NOT remove them" "$out"
	kill -TERM "$PID"
	local rc=0
	wait "$PID" || rc=$?
	PID=
	cat "$out"
	[ "$rc" -eq 0 ]
	grep -q "stopped watching; the follow subscriptions stay" "$out"
	[ "$(q "SELECT group_concat(timeframe || ':' || backfill) FROM (SELECT * FROM follows ORDER BY 2)")" = "1h:20,1m:20" ]
	following KRW-BTC 1m
	following KRW-BTC 1h
}

@test "follow: a daemon killed with SIGKILL is restarted and follows again; new candles appear" {
	clock_before 60 6
	start_svc
	svc follow --market KRW-BTC --timeframe 1m --backfill 5
	wait_for following KRW-BTC 1m
	local old new
	old=$(awk '$1 == "planner" { print $2 }' "$RUN/service.procs")
	kill -KILL "$old"
	# the supervisor restarts it, and it reads the follows table again
	wait_for eval '[ "$(awk '\''$1 == "planner" { print $2 }'\'' "$RUN/service.procs")" != "$old" ] &&
		[ "$(awk '\''$1 == "planner" { print $2 }'\'' "$RUN/service.procs")" != - ]'
	new=$(awk '$1 == "planner" { print $2 }' "$RUN/service.procs")
	[ "$new" != "$old" ]
	wait_for following KRW-BTC 1m
	grep -q "job 1 follows KRW-BTC 1m (backfill 5)" "$RUN/planner.log"
	# the minute that closes after the restart is stored within a few s
	while [ "$(sim_now)" -lt $((CLOSE + 4)) ]; do sleep 0.2; done
	WAIT_FOR_S=10 wait_for eval '[ "$(q "SELECT COUNT(*) FROM candles WHERE market = '\''KRW-BTC'\'' AND timeframe = '\''1m'\'' AND candle_date_time_utc = '\''$(iso $((CLOSE - 60)))'\''")" -eq 1 ]'
	[ "$(q "SELECT MAX(to_utc) FROM coverage WHERE market = 'KRW-BTC' AND timeframe = '1m'")" = "$(iso "$CLOSE")" ]
	# nothing missing from the backfill to the close, and equal to the truth
	local from
	from=$(q "SELECT MIN(from_utc) FROM coverage WHERE market = 'KRW-BTC' AND timeframe = '1m'")
	[ "$(q "SELECT COUNT(*) FROM coverage WHERE market = 'KRW-BTC' AND timeframe = '1m'")" -eq 1 ]
	diff <(truth KRW-BTC 1m "$from" "$(iso "$CLOSE")") <(db_dump "$DB" KRW-BTC 1m "$from" "$(iso "$CLOSE")")
}
