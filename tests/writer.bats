#!/usr/bin/env bats
# The writer's start-up refusals, one per step, each with the exit code a
# supervisor acts on (2 usage, 3 permanent: do not restart, 4 temporary)
# and a message naming the cause; after each, a good start on the same
# database still works and the database is intact. The message-level error
# paths (dropped, rejected, unacked, full disk, failed batches) are in
# tests/unit/writer_test.c.

load pipeline_helpers

W="$ROOT/writer/cp-writer"

# writer ARGS...: runs the writer on $D/c.db with fresh endpoints
writer() {
	run "$W" --db "$D/c.db" --results "ipc://$D/r" --work "ipc://$D/w" "$@" 3>&-
}

# starts and stops a good writer: the database opens and is intact
good_start() {
	"$W" --db "$D/c.db" --results "ipc://$D/r" --work "ipc://$D/w" --ready-file "$D/ok" \
		2>/dev/null 3>&- &
	local w=$!
	for _ in $(seq 100); do [ -e "$D/ok" ] && break; sleep 0.05; done
	[ -e "$D/ok" ]
	kill -TERM "$w"
	wait "$w"
	[ ! -e "$D/ok" ]
	[ "$(sqlite3 "$D/c.db" "PRAGMA integrity_check")" = ok ]
}

setup() {
	D="$BATS_TEST_TMPDIR"
}

@test "writer: a stray operand and a bad option are usage errors (2)" {
	writer extra
	[ "$status" -eq 2 ]
	[[ "$output" == *"cp-writer: unexpected argument 'extra'"* ]]
	writer --curve-client
	[ "$status" -eq 2 ]
	[ ! -e "$D/c.db" ]
}

@test "writer: a ready file it cannot write is permanent (3)" {
	writer --ready-file "$D/no/such/dir/ready"
	[ "$status" -eq 3 ]
	[[ "$output" == *"cannot write the ready file (No such file or directory): $D/no/such/dir/ready"* ]]
	mkdir -p "$D/rdir/x"
	writer --ready-file "$D/rdir"
	[ "$status" -eq 3 ]
	[[ "$output" == *"(not a regular file (a directory)): $D/rdir"* ]]
	[ -z "$(ls "$D" | grep '\.tmp$')" ]
	writer --ready-file "$D/$(printf 'r%.0s' $(seq 4100))"
	[ "$status" -eq 3 ]
	[[ "$output" == *"cannot write the ready file (File name too long)"* ]]
	good_start
}

@test "writer: CURVE without an allow list is permanent (3)" {
	writer --curve-server "$D/keys"
	[ "$status" -eq 3 ]
	[[ "$output" == *"CURVE needs a usable --curve-allow file"* ]]
	good_start
}

@test "writer: endpoints it cannot use: results 4 (may pass), planner 3, events only warned" {
	writer --results "ipc://$D/no/such/dir/r"
	[ "$status" -eq 4 ]
	writer --work "bogus://x"
	[ "$status" -eq 3 ]
	# a bad event hub disables events, the writer still serves
	"$W" --db "$D/c.db" --results "ipc://$D/r" --work "ipc://$D/w" --events "bogus://x" \
		--ready-file "$D/ok" 2>"$D/log" 3>&- &
	local w=$!
	for _ in $(seq 100); do [ -e "$D/ok" ] && break; sleep 0.05; done
	kill -TERM "$w"
	wait "$w"
	grep -q "events to bogus://x disabled" "$D/log"
	good_start
}
