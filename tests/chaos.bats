#!/usr/bin/env bats
# Chaos, short: a collection under supervision while random writer and
# fetcher processes are killed (SIGKILL) or frozen (SIGSTOP, once past the
# planner's lease) and resumed; then a planner killed mid-run and the same
# command run again. The database must end equal to the simulator's truth,
# with integrity ok, no duplicates and no coverage claiming what is not
# stored. The seed is fixed (CHAOS_TEST_SEED below), so every `make test`
# makes the same choices; it is printed in the TAP output and in every line
# of the chaos log, and CHAOS_SEED=N overrides it. Random seeds belong to the
# long run, `make chaos`, which prints the seed of any failure. The last
# test does the same to a service (./run.sh start --listen) with two
# overlapping jobs and HTTP clients in flight.

load pipeline_helpers

# the fixed seed of the short runs inside make test
CHAOS_TEST_SEED=4242

setup_file() {
	load pipeline_helpers
	# Upbit's own limit (10 requests/s) and a little latency: the run below
	# lasts about 20 s, long enough for several actions and one long freeze
	start_file_sim --latency-ms 20
}

teardown_file() {
	load sim_helpers
	stop_all_sims
}

setup() {
	use_file_sim
	DB="$BATS_TEST_TMPDIR/chaos.db"
	RUN_DIR="$BATS_TEST_TMPDIR/run"
	chaos_test_setup "$CHAOS_TEST_SEED"
}

teardown() {
	# nothing of ours stays frozen or running, whatever happened
	chaos_test_stop
	touch "$BATS_TEST_TMPDIR/http.1.stop" "$BATS_TEST_TMPDIR/http.2.stop"
	"$ROOT/run.sh" stop --db "$DB" --run-dir "$RUN_DIR" >/dev/null 2>&1 3>&- || true
	chaos_test_report
}

# collect in the background, $! being run.sh itself (not a subshell)
bg_collect() {
	"$ROOT/run.sh" collect --api-url "$SIM_URL" --run-dir "$RUN_DIR" "$@" 3>&- &
}

# stored_some: the collection has committed candles (the run is under way)
stored_some() {
	[ "$(sqlite3 "$DB" "SELECT COUNT(*) FROM candles_exact" 2>/dev/null || echo 0)" -gt 0 ]
}

# Runs collect in the background with the chaos loop over VICTIMS; sets RC.
chaos_collect() { # N VICTIMS LONG_STOP collect-args...
	local n=$1 victims=$2 long=$3; shift 3
	bg_collect --db "$DB" --quiet "$@" >"$BATS_TEST_TMPDIR/collect.$n.out" 2>&1
	CPID=$!
	chaos_loop "$CPID" "$RUN_DIR" "$victims" "$long"
	# an exit that is not 0 is RC, not the test's end (bats' set -e)
	wait "$CPID" && RC=0 || RC=$?
	CPID=
	chaos_log "collect $n: exit $RC after $CHAOS_ACTIONS actions ($CHAOS_KINDS_HIT )"
}

@test "chaos: writer and fetchers killed and frozen at random; the data equals the truth" {
	local from=2026-09-01T00:00:00 to=2026-09-15T00:00:00 n=1
	chaos_collect 1 writer,fetcher 1 --market KRW-BTC,KRW-ADA --timeframe 1m \
		--from $from --to $to --fetchers 3
	[ "$CHAOS_ACTIONS" -ge 3 ]
	chaos_log "writer: $(cat "$RUN_DIR"/writer.log | sed -n 's/.* committed (\([0-9]*\) duplicates).*/\1/p' |
		awk '{s += $1} END {print s + 0}') duplicate results acked"
	chaos_check_db "$DB"
	# retries may run out under chaos (every lost lease costs one attempt):
	# then the same command, once more, must finish the job
	if [ "$RC" -ne 0 ]; then
		grep -q "gave up after" "$BATS_TEST_TMPDIR/collect.1.out"
		n=2
		run collect --db "$DB" --quiet --market KRW-BTC,KRW-ADA --timeframe 1m \
			--from $from --to $to --fetchers 3
		echo "$output" >"$BATS_TEST_TMPDIR/collect.2.out"
		RC=$status
	fi
	[ "$RC" -eq 0 ]
	chaos_check_db "$DB"
	chaos_equal_truth "$DB" KRW-BTC 1m $from $to
	chaos_equal_truth "$DB" KRW-ADA 1m $from $to
	# the late result of the long-frozen fetcher changed nothing
	[ "$(sqlite3 "$DB" "SELECT COUNT(*) FROM coverage")" -eq 2 ]
}

@test "chaos: the planner killed mid-run is restarted and resumes from the database" {
	local from=2026-10-01T00:00:00 to=2026-10-07T00:00:00 pid
	bg_collect --db "$DB" --quiet --market KRW-ETH,KRW-ADA --timeframe 1m \
		--from $from --to $to --fetchers 2 >"$BATS_TEST_TMPDIR/collect.1.out" 2>&1
	CPID=$!
	# mid-run: once something is stored (a loaded machine starts slowly)
	wait_for stored_some
	sleep $((1 + RANDOM % 3))
	pid=$(chaos_pids planner "$RUN_DIR")
	[ -n "$pid" ]
	chaos_signal KILL "$pid"
	chaos_log "SIGKILL planner pid $pid"
	wait "$CPID" && RC=0 || RC=$?
	CPID=
	cat "$BATS_TEST_TMPDIR/collect.1.out"
	[ "$RC" -eq 0 ]
	grep -q "the planner exited (137); restarting" "$BATS_TEST_TMPDIR/collect.1.out"
	# the new planner started from what the database already proved
	grep -q "slots already covered" "$BATS_TEST_TMPDIR/collect.1.out"
	chaos_check_db "$DB"
	chaos_equal_truth "$DB" KRW-ETH 1m $from $to
	chaos_equal_truth "$DB" KRW-ADA 1m $from $to
}

@test "chaos: run.sh itself killed leaves no process behind; the same command resumes" {
	local from=2026-10-01T00:00:00 to=2026-10-07T00:00:00 i
	bg_collect --db "$DB" --quiet --market KRW-XRP --timeframe 1m \
		--from $from --to $to --fetchers 2 >"$BATS_TEST_TMPDIR/collect.1.out" 2>&1
	CPID=$!
	wait_for stored_some
	sleep $((1 + RANDOM % 2))
	kill -KILL "$CPID"
	chaos_log "SIGKILL run.sh pid $CPID"
	wait "$CPID" || true
	CPID=
	# its children follow it (they are told when their parent dies)
	for i in $(seq 50); do
		[ -z "$(pgrep -f "cp-(writer|planner|fetcher).*$RUN_DIR")" ] && break
		sleep 0.1
	done
	[ -z "$(pgrep -f "cp-(writer|planner|fetcher).*$RUN_DIR")" ]
	run collect --db "$DB" --quiet --market KRW-XRP --timeframe 1m --from $from --to $to --fetchers 2
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"slots already covered"* ]]
	[[ "$output" != *" 0 of "* ]]
	chaos_check_db "$DB"
	chaos_equal_truth "$DB" KRW-XRP 1m $from $to
}

@test "chaos: a collect that does not end 0 is chaos_collect's RC (the rerun path), not the test's end" {
	# a usage error: run.sh exits 2 at once
	chaos_collect 1 writer 0 --market KRW-BTC --timeframe 7m --count 10
	[ "$RC" -eq 2 ]
}

@test "chaos: an HTTP client loop counts a missing server.port (cp-serve restarting) as an error and goes on" {
	# run.sh removes the port file before it starts cp-serve again: under
	# bats' set -e a failing read ended the loop, and its wait failed the test
	local out="$BATS_TEST_TMPDIR/http.1" h
	mkdir -p "$RUN_DIR"
	chaos_http_loop "$RUN_DIR" "$out" KRW-BTC 2026-07-01T00:00:00 2026-07-03T00:00:00 &
	h=$!
	wait_for eval '[ "$(cat "$out.err" 2>/dev/null || echo 0)" -ge 3 ]'
	touch "$out.stop"
	wait "$h"
	[ "$(cat "$out.ok")" -eq 0 ]
}

@test "chaos: a service with two overlapping jobs and HTTP clients in flight, its processes killed and frozen" {
	local from=2026-09-01T00:00:00 to=2026-09-11T00:00:00
	CHAOS_WORK=$BATS_TEST_TMPDIR
	chaos_service_start "$DB" "$RUN_DIR" "$SIM_URL"
	chaos_service_round "$DB" "$RUN_DIR" planner,writer,fetcher,serve KRW-BTC KRW-ADA "$from" "$to"
	echo "--- service collects"; tail -n 4 "$BATS_TEST_TMPDIR"/svc.*.out
	[ "$CHAOS_ACTIONS" -ge 3 ]
	grep -q "SIGKILL planner (the daemon)" "$CHAOS_LOG"
	grep -q "the daemon restarted: job . is gone; submitted again" "$BATS_TEST_TMPDIR/svc.1.out"
	# the HTTP clients were answered right, some of them at least
	[ "$(cat "$BATS_TEST_TMPDIR/http.1.ok")" -gt 0 ]
	! grep -q '^WRONG' "$BATS_TEST_TMPDIR"/http.*.wrong || false
	[ "$CHAOS_ROUND_FAILS" -eq 0 ]
	chaos_equal_truth "$DB" KRW-BTC 1m "$from" "$to"
	chaos_equal_truth "$DB" KRW-ADA 1m "$from" "$to"
	chaos_service_stop "$DB" "$RUN_DIR"
}
