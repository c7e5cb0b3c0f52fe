#!/usr/bin/env bats
# The planner as a daemon (cp-planner --daemon --control EP): jobs submitted
# at runtime with `cp-planner ctl`, two overlapping jobs at once on one
# database, cancel, refusals, STATUS. The pipeline is started process by
# process (writer, 2 fetchers, the daemon), like run.sh does.

load pipeline_helpers

PLANNER="$ROOT/planner/cp-planner"

setup() {
	start_sim --rate-limit 0 --latency-ms 20
	RUN="$BATS_TEST_TMPDIR/run"
	DB="$BATS_TEST_TMPDIR/d.db"
	CTL="ipc://$RUN/control.sock"
	DPIDS=()
}

teardown() {
	local p
	# the planner first (its summary), then the others; only our own pids
	for p in "${DPIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${DPIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	stop_sim
}

# start_daemon [planner options...]: writer, the daemon, 2 fetchers
start_daemon() {
	local work="ipc://$RUN/work.sock" results="ipc://$RUN/results.sock" i
	mkdir -p "$RUN" && chmod 700 "$RUN"
	"$ROOT/writer/cp-writer" --db "$DB" --results "$results" --work "$work" \
		--ready-file "$RUN/writer.ready" 2>"$RUN/writer.log" 3>&- &
	DPIDS+=($!)
	wait_for test -e "$RUN/writer.ready"
	"$PLANNER" --daemon --control "$CTL" --db "$DB" --work "$work" --rate 0 --quiet "$@" \
		>"$RUN/planner.out" 2>"$RUN/planner.log" 3>&- &
	DAEMON=$!
	DPIDS=("$DAEMON" "${DPIDS[@]}")
	for i in 0 1; do
		"$ROOT/fetcher/cp-fetcher" --work "$work" --results "$results" --api-url "$SIM_URL" \
			--name "fetcher$i" 2>"$RUN/fetcher$i.log" 3>&- &
		DPIDS+=($!)
	done
	wait_for test -S "$RUN/control.sock"
}

ctl() {
	"$PLANNER" ctl --control "$CTL" "$@" 3>&-
}

equal_truth() { # M TF FROM TO
	truth "$1" "$2" "$3" "$4" >"$BATS_TEST_TMPDIR/truth"
	db_dump "$DB" "$1" "$2" "$3" "$4" >"$BATS_TEST_TMPDIR/db"
	[ -s "$BATS_TEST_TMPDIR/truth" ]
	diff "$BATS_TEST_TMPDIR/truth" "$BATS_TEST_TMPDIR/db"
}

@test "daemon: the run directory is owner-only, the control socket 0600" {
	start_daemon
	[ "$(stat -c %a "$RUN")" = 700 ]
	[ "$(stat -c %a "$RUN/control.sock")" = 600 ]
	run ctl status
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"daemon: up "* ]]
}

@test "daemon: a run directory open to others is refused (exit 3)" {
	mkdir -p "$RUN" && chmod 755 "$RUN"
	run "$PLANNER" --daemon --control "$CTL" --db "$DB" --work "ipc://$RUN/work.sock" 3>&-
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"owner-only"* ]]
}

@test "daemon: two overlapping jobs at once both succeed, equal the truth, no range twice" {
	# slow answers: the second job arrives while the first has its segments out
	stop_sim
	start_sim --rate-limit 0 --latency-ms 200
	start_daemon
	ctl submit --market KRW-BTC --timeframe 1m --from 2026-10-01T00:00:00 \
		--to 2026-10-01T10:00:00 --wait >"$BATS_TEST_TMPDIR/a.out" 2>&1 &
	local a=$!
	ctl submit --market KRW-BTC --timeframe 1m --from 2026-10-01T05:00:00 \
		--to 2026-10-01T15:00:00 --wait >"$BATS_TEST_TMPDIR/b.out" 2>&1 &
	local b=$!
	local ra=0 rb=0
	wait "$a" || ra=$?
	wait "$b" || rb=$?
	cat "$BATS_TEST_TMPDIR/a.out" "$BATS_TEST_TMPDIR/b.out"
	[ "$ra" -eq 0 ]
	[ "$rb" -eq 0 ]
	equal_truth KRW-BTC 1m 2026-10-01T00:00:00 2026-10-01T15:00:00
	# the union is 900 dense minutes: 5 requests of 200, each range once
	run ctl status
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"job 1 done"* ]]
	[[ "$output" == *"job 2 done"* ]]
	local sum
	sum=$(grep -E '^job [0-9]+ ' <<<"$output" | sed -E 's/.* ([0-9]+) requests.*/\1/' | paste -sd+ | bc)
	echo "requests: sim $(candle_requests), jobs $sum"
	[ "$(candle_requests)" -eq "$sum" ]
	[ "$(candle_requests)" -eq 5 ]
	# the one that came second waited on the first's segments
	[[ "$output" == *"waits on 1"* ]]
}

@test "daemon: a job overlapping a finished range costs only its new part" {
	start_daemon
	run ctl submit --market KRW-ETH --timeframe 1h --from 2026-08-01T00:00:00 --to 2026-08-05T00:00:00 --wait
	echo "$output"
	[ "$status" -eq 0 ]
	local before
	before=$(candle_requests)
	run ctl submit --market KRW-ETH --timeframe 1h --from 2026-08-01T00:00:00 --to 2026-08-10T00:00:00 --wait
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(( $(candle_requests) - before ))" -eq 1 ]
	equal_truth KRW-ETH 1h 2026-08-01T00:00:00 2026-08-10T00:00:00
}

@test "daemon: cancel ends a job (wait exits 1); the daemon keeps serving" {
	stop_sim
	start_sim --rate-limit 0 --latency-ms 300
	start_daemon
	run ctl submit --market KRW-BTC --timeframe 1m --from 2026-06-01T00:00:00 --to 2026-07-01T00:00:00
	echo "$output"
	[ "$status" -eq 0 ]
	local job=$output
	run ctl cancel "$job"
	[ "$status" -eq 0 ]
	run ctl wait "$job"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"cancelled"* ]]
	# a second cancel is refused
	run ctl cancel "$job"
	[ "$status" -eq 2 ]
	[[ "$output" == *"already cancelled"* ]]
	# the daemon still plans new jobs
	run ctl submit --market KRW-XRP --timeframe 1d --from 2026-09-01T00:00:00 --to 2026-09-10T00:00:00 --wait
	echo "$output"
	[ "$status" -eq 0 ]
	kill -0 "$DAEMON"
}

@test "daemon: Ctrl-C on submit --wait cancels the job it submitted" {
	stop_sim
	start_sim --rate-limit 0 --latency-ms 300
	start_daemon
	# the client itself, not a subshell, gets the signal
	"$PLANNER" ctl --control "$CTL" submit --market KRW-BTC --timeframe 1m \
		--from 2026-05-01T00:00:00 --to 2026-06-01T00:00:00 --wait >"$BATS_TEST_TMPDIR/w.out" 2>&1 3>&- &
	local w=$! rc=0
	wait_for grep -q submitted "$BATS_TEST_TMPDIR/w.out"
	kill -INT "$w"
	wait "$w" || rc=$?
	cat "$BATS_TEST_TMPDIR/w.out"
	[ "$rc" -eq 1 ]
	run ctl status 1
	echo "$output"
	[[ "$output" == *"job 1 cancelled"* ]]
}

@test "daemon: bad submits get a clear error and exit 2; the daemon keeps running" {
	start_daemon
	run ctl submit --market KRW-BTC --timeframe 2m --from 2026-10-01T00:00:00 --to 2026-10-02T00:00:00
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"unknown timeframe '2m'"* ]]
	run ctl submit --market KRW-BTC --timeframe 1m --from 2026-10-02T00:00:00 --to 2026-10-02T00:00:00
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"earlier than"* ]]
	run ctl submit --market krw-btc --timeframe 1m --from 2026-10-01T00:00:00
	[ "$status" -eq 2 ]
	[[ "$output" == *"bad market code"* ]]
	run ctl submit --market KRW-BTC --timeframe 1m --from 2099-01-01T00:00:00
	[ "$status" -eq 2 ]
	[[ "$output" == *"in the future"* ]]
	run ctl submit --market KRW-BTC --timeframe 1m --from yesterday
	[ "$status" -eq 2 ]
	run ctl wait 99
	[ "$status" -eq 2 ]
	[[ "$output" == *"no job 99"* ]]
	kill -0 "$DAEMON"
	run ctl status
	[ "$status" -eq 0 ]
	[[ "$output" != *"job 1"* ]]
}

@test "daemon: the command line's targets are job 1; STATUS shows it and the budget" {
	start_daemon --market KRW-BTC --timeframe 1h --from 2026-09-01T00:00:00 --to 2026-09-05T00:00:00
	run ctl wait 1
	echo "$output"
	[ "$status" -eq 0 ]
	run ctl status
	echo "$output"
	[[ "$output" == *"job 1 done: 96/96 slots"* ]]
	[[ "$output" == *"KRW-BTC 1h 2026-09-01T00:00:00Z .. 2026-09-05T00:00:00Z"* ]]
	[[ "$output" == *"budget: source"* ]]
	equal_truth KRW-BTC 1h 2026-09-01T00:00:00 2026-09-05T00:00:00
}

@test "daemon: stops on SIGTERM with exit 0; then ctl says the daemon went away (4)" {
	start_daemon
	kill -TERM "$DAEMON"
	local rc=0
	wait "$DAEMON" || rc=$?
	[ "$rc" -eq 0 ]
	run ctl --timeout-ms 300 status
	echo "$output"
	[ "$status" -eq 4 ]
}
