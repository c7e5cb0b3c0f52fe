#!/usr/bin/env bats
# deploy/supervisord.conf: the pipeline as a service (follow mode) under
# supervisord; a killed fetcher is restarted and the data stays right.

load pipeline_helpers

setup() {
	command -v supervisord >/dev/null || skip "supervisord is not installed"
	start_sim --rate-limit 0
	export CP_HOME="$ROOT" CP_DB="$BATS_TEST_TMPDIR/s.db" CP_MARKETS=KRW-BTC,KRW-ETH
	export CP_TIMEFRAMES=1h CP_FROM=2026-10-01 CP_RUN="$BATS_TEST_TMPDIR/run" UPBIT_API_URL="$SIM_URL"
	mkdir -p "$CP_RUN"
	supervisord -c "$ROOT/deploy/supervisord.conf" >/dev/null 2>&1 3>&- &
	SV=$!
}

teardown() {
	[ -z "${SV:-}" ] || { kill -TERM "$SV" 2>/dev/null; wait "$SV" 2>/dev/null || true; }
	stop_all_sims
}

ctl() { supervisorctl -c "$ROOT/deploy/supervisord.conf" "$@"; }

@test "supervisord runs the pipeline, restarts a killed fetcher, the data equals the truth" {
	local i pid new
	# both markets backfilled from CP_FROM
	for i in $(seq 300); do
		[ "$(sqlite3 "$CP_DB" "SELECT COUNT(DISTINCT market) FROM coverage
			WHERE from_utc <= '2026-10-01T00:00:00'" 2>/dev/null || echo 0)" -ge 2 ] && break
		sleep 0.1
	done
	ctl status | grep -q "planner.*RUNNING"
	pid=$(ctl pid fetcher:fetcher0)
	kill -KILL "$pid"
	for i in $(seq 50); do
		new=$(ctl pid fetcher:fetcher0)
		[ "$new" != 0 ] && [ "$new" != "$pid" ] && break
		sleep 0.2
	done
	[ "$new" != "$pid" ] && [ "$new" != 0 ]
	local to
	to=$(sqlite3 "$CP_DB" "SELECT MIN(to_utc) FROM coverage WHERE market = 'KRW-ETH'")
	[ -n "$to" ]
	diff <(truth KRW-ETH 1h 2026-10-01T00:00:00 "$to") <(db_dump "$CP_DB" KRW-ETH 1h 2026-10-01T00:00:00 "$to")
}
