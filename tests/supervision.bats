#!/usr/bin/env bats
# The supervision policy (deploy/supervision.conf): run.sh follows it,
# deploy/supervisord.conf is generated from it. A wrapper
# (CP_EXEC_WRAPPER) makes one program exit with a chosen code, always or
# only the first time.

load pipeline_helpers

setup() {
	start_sim --rate-limit 0
	DB="$BATS_TEST_TMPDIR/s.db"
	W="$BATS_TEST_TMPDIR/wrap"
	cat >"$W" <<'WRAP'
#!/bin/sh
# CP_FAIL_PROG exits CP_FAIL_CODE (once only, with CP_FAIL_ONCE=DIR)
case "$1" in *"$CP_FAIL_PROG")
	if [ -z "${CP_FAIL_ONCE:-}" ] || mkdir "$CP_FAIL_ONCE" 2>/dev/null; then
		echo "2026-01-01T00:00:00.000Z x[1] warn: told to exit $CP_FAIL_CODE" >&2
		exit "$CP_FAIL_CODE"
	fi ;;
esac
exec "$@"
WRAP
	chmod +x "$W"
}

teardown() { stop_all_sims; }

one() { # ENV... : a short collection under the wrapper, bounded
	run env CP_EXEC_WRAPPER="$W" CP_RESTART_PAUSE=0.05 "$@" timeout 60 "$ROOT/run.sh" collect \
		--api-url "$SIM_URL" --run-dir "$BATS_TEST_TMPDIR/run" --market KRW-BTC --timeframe 1m \
		--count 5 --rate 0 --quiet --db "$DB" --fetchers 2 3>&-
	echo "$output"
}

@test "deploy/supervisord.conf is what deploy/gen-supervisord.sh makes of the policy" {
	run "$ROOT/deploy/gen-supervisord.sh"
	[ "$status" -eq 0 ]
	diff <(echo "$output") "$ROOT/deploy/supervisord.conf"
	# and it says what the table says: done + permanent are not restarted
	grep -qx 'exitcodes=0,1,2,3' <(sed -n '/program:planner/,/^$/p' "$ROOT/deploy/supervisord.conf")
	grep -qx 'exitcodes=0,2,3' <(sed -n '/program:fetcher/,/^$/p' "$ROOT/deploy/supervisord.conf")
}

@test "a fetcher that exits 4 every time: restarted with a doubling back-off, then a crash loop (exit 3)" {
	one CP_FAIL_PROG=cp-fetcher CP_FAIL_CODE=4
	[ "$status" -eq 3 ]
	[[ "$output" == *"the fetcher0 exited (4); restarting in 0.050s"* ]]
	[[ "$output" == *"the fetcher0 exited (4); restarting in 0.100s"* ]]
	[[ "$output" == *"the fetcher0 exited (4); restarting in 0.200s"* ]]
	[[ "$output" == *"died 6 times within 60 s (last exit 4: told to exit 4): a crash loop, not restarted"* ]]
	[ "$(grep -c 'the fetcher0 exited (4)' <<<"$output")" -eq 5 ]
}

@test "a fetcher that exits 0 is not restarted; with none left run.sh exits 1" {
	one CP_FAIL_PROG=cp-fetcher CP_FAIL_CODE=0
	[ "$status" -eq 1 ]
	[[ "$output" == *"the fetcher0 stopped (exit 0); not restarted"* ]]
	[[ "$output" == *"no fetcher is left"* ]]
	[[ "$output" != *restarting* ]]
}

@test "exit 2 (usage) is permanent for every program: not restarted, run.sh exits 3" {
	local p
	for p in cp-fetcher cp-planner; do
		one CP_FAIL_PROG=$p CP_FAIL_CODE=2
		[ "$status" -eq 3 ]
		[[ "$output" == *"failed permanently (exit 2)"* ]]
		[[ "$output" != *restarting* ]]
	done
}

@test "a planner that exits 4 (temporary) is restarted after the back-off and the run completes" {
	one CP_FAIL_PROG=cp-planner CP_FAIL_CODE=4 CP_FAIL_ONCE="$BATS_TEST_TMPDIR/once"
	[ "$status" -eq 0 ]
	[[ "$output" == *"the planner exited (4); restarting in 0.050s"* ]]
	[ "$(sqlite3 "$DB" "SELECT COUNT(*) FROM candles_exact")" -eq 5 ]
}

@test "readiness is pushed: a covered rerun starts no fetcher, and no ready file is written" {
	one CP_FAIL_PROG=none CP_FAIL_CODE=0
	[ "$status" -eq 0 ]
	: >"$BATS_TEST_TMPDIR/run/fetcher0.log"
	one CP_FAIL_PROG=none CP_FAIL_CODE=0
	[ "$status" -eq 0 ]
	[[ "$output" == *"10 of 10 slots already covered"* || "$output" == *"5 of 5 slots already covered"* ]]
	[ ! -s "$BATS_TEST_TMPDIR/run/fetcher0.log" ]
	[ ! -e "$BATS_TEST_TMPDIR/run/writer.ready" ]
}
