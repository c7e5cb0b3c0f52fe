#!/usr/bin/env bats
# The candle service (./run.sh start|stop|status|cancel): one pipeline per
# database in the background, the planner a daemon with a control socket;
# ./run.sh collect submits to it when it runs. Every test starts its own
# simulator and service in a private run directory and stops both.

load pipeline_helpers

PLANNER="$ROOT/planner/cp-planner"

setup() {
	start_sim --rate-limit 0 --latency-ms 20
	RUN="$BATS_TEST_TMPDIR/run"
	DB="$BATS_TEST_TMPDIR/d.db"
}

teardown() {
	local p
	# the service (its own processes stop with it), then what a test started
	"$ROOT/run.sh" stop --db "$DB" --run-dir "$RUN" >/dev/null 2>&1 3>&- || true
	for p in ${OWN_PIDS:-}; do
		kill -TERM "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	stop_sim
}

svc() { # COMMAND ARGS...: a run.sh service command on $DB, $RUN
	local c=$1
	shift
	"$ROOT/run.sh" "$c" --db "$DB" --run-dir "$RUN" "$@" 3>&-
}

start_svc() {
	svc start --api-url "$SIM_URL" --rate 0 "$@"
}

equal_truth() { # M TF FROM TO
	truth "$1" "$2" "$3" "$4" >"$BATS_TEST_TMPDIR/truth"
	db_dump "$DB" "$1" "$2" "$3" "$4" >"$BATS_TEST_TMPDIR/db"
	[ -s "$BATS_TEST_TMPDIR/truth" ]
	diff "$BATS_TEST_TMPDIR/truth" "$BATS_TEST_TMPDIR/db"
}

@test "service: the planner daemon with no work says it is ready (--notify-fd)" {
	mkdir -p "$RUN" && chmod 700 "$RUN"
	"$PLANNER" --daemon --control "ipc://$RUN/control.sock" --db "$DB" \
		--work "ipc://$RUN/work.sock" --quiet --notify-fd 5 5>"$BATS_TEST_TMPDIR/ready" \
		2>"$BATS_TEST_TMPDIR/planner.log" 3>&- &
	OWN_PIDS=$!
	wait_for test -s "$BATS_TEST_TMPDIR/ready"
	[ "$(cat "$BATS_TEST_TMPDIR/ready")" = "" ]
	[ "$(wc -l <"$BATS_TEST_TMPDIR/ready")" -eq 1 ]
	[ -S "$RUN/control.sock" ]
}
