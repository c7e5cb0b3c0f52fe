#!/usr/bin/env bats
# The fetcher's Landlock sandbox (fetcher/sandbox.c): once started, a
# fetcher cannot open the database (or any file) for writing, nor create a
# file, yet still collects. CP_SANDBOX_PROBE=PATH makes the fetcher try
# open(PATH, O_WRONLY|O_CREAT) right after the sandbox is on and log the
# result. Skips, saying why, where the kernel has no Landlock.

load pipeline_helpers

# The kernel's Landlock ABI version, asked without the fetcher
# (landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)); empty
# and the reason on stderr if there is none.
landlock_abi() {
	python3 -c '
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
v = libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
if v < 1:
    sys.exit("no Landlock in this kernel: " + os.strerror(ctypes.get_errno()))
print(v)'
}

need_landlock() {
	local why
	[ "$(uname -m)" = x86_64 ] || skip "the Landlock check here knows only x86_64's syscall number"
	why=$(landlock_abi 2>&1 >/dev/null) || skip "$why (fetcher/sandbox.c only logs that)"
}

setup() {
	FETCHER="$ROOT/fetcher/cp-fetcher"
	EP="ipc://$BATS_TEST_TMPDIR"
}

teardown() {
	[ -z "${FPID:-}" ] || { kill "$FPID" 2>/dev/null; wait "$FPID" 2>/dev/null; } || true
	stop_all_sims
}

# probe PATH: a fetcher with CP_SANDBOX_PROBE=PATH; its log in $BATS_TEST_TMPDIR/f.log
# once the probe line is there, then stopped
probe() {
	CP_SANDBOX_PROBE=$1 "$FETCHER" --work "$EP/w" --results "$EP/r" \
		2>"$BATS_TEST_TMPDIR/f.log" 3>&- &
	FPID=$!
	wait_for grep -q "sandbox probe:" "$BATS_TEST_TMPDIR/f.log" || true
	kill "$FPID"
	wait "$FPID" || true
	FPID=
	cat "$BATS_TEST_TMPDIR/f.log"
}

@test "a started fetcher cannot open the database for writing, nor create a file" {
	need_landlock
	local db="$BATS_TEST_TMPDIR/c.db" sum
	sqlite3 "$db" "CREATE TABLE t(x); INSERT INTO t VALUES (1)"
	sum=$(md5sum <"$db")
	probe "$db"
	grep -q "sandbox: Landlock ABI [0-9]* on: no file writes" "$BATS_TEST_TMPDIR/f.log"
	grep -q "sandbox probe: $db refused (Permission denied)" "$BATS_TEST_TMPDIR/f.log"
	! grep -q "opened for writing" "$BATS_TEST_TMPDIR/f.log" || false
	[ "$(md5sum <"$db")" = "$sum" ]
	probe "$BATS_TEST_TMPDIR/new.file"
	grep -q "sandbox probe: $BATS_TEST_TMPDIR/new.file refused (Permission denied)" \
		"$BATS_TEST_TMPDIR/f.log"
	[ ! -e "$BATS_TEST_TMPDIR/new.file" ]
}

@test "sandboxed fetchers still collect to the truth while the writer holds the database" {
	need_landlock
	local db="$BATS_TEST_TMPDIR/s.db"
	start_sim --rate-limit 0
	CP_SANDBOX_PROBE="$db" run collect --db "$db" --market KRW-BTC --timeframe 1h \
		--from 2026-09-01T00:00:00 --to 2026-09-12T00:00:00 --rate 0 --fetchers 2 --quiet
	echo "$output"
	[ "$status" -eq 0 ]
	truth KRW-BTC 1h 2026-09-01T00:00:00 2026-09-12T00:00:00 >"$BATS_TEST_TMPDIR/truth"
	db_dump "$db" KRW-BTC 1h 2026-09-01T00:00:00 2026-09-12T00:00:00 >"$BATS_TEST_TMPDIR/db"
	[ -s "$BATS_TEST_TMPDIR/truth" ]
	diff "$BATS_TEST_TMPDIR/truth" "$BATS_TEST_TMPDIR/db"
	# both fetchers were sandboxed and refused the open
	[ "$(cat "$BATS_TEST_TMPDIR"/run/fetcher*.log | grep -c "sandbox probe: $db refused")" -ge 2 ]
}
