#!/usr/bin/env bats
# Every program: --help, and clear exit-2 errors for bad command lines; the
# writer's permanent refusals (exit 3).

load pipeline_helpers

@test "every binary answers --help with exit 0" {
	local b
	for b in planner/cp-planner fetcher/cp-fetcher writer/cp-writer monitor/cp-monitor sim/upbit-sim; do
		run "$ROOT/$b" --help
		echo "$b: $status"
		[ "$status" -eq 0 ]
		[[ "$output" == *usage* ]]
	done
	run "$ROOT/run.sh" help
	[ "$status" -eq 0 ]
}

@test "bad command lines exit 2 with one clear line" {
	local p="$ROOT/planner/cp-planner"
	run "$p" --bogus; [ "$status" -eq 2 ]
	run "$p" --validate --market KRW-BTC --timeframe 1m --count 0; [ "$status" -eq 2 ]
	[[ "$output" == *"--count must be"* ]]
	run "$p" --validate --market KRW-BTC --timeframe 1m --count 5 --rate -1; [ "$status" -eq 2 ]
	run "$p" --validate --market btc --timeframe 1m --count 5; [ "$status" -eq 2 ]
	[[ "$output" == *"bad market code"* ]]
	run "$p" --validate --market KRW-BTC --timeframe 1m --count 5 --follow --to 2026-01-01; [ "$status" -eq 2 ]
	run "$p" --validate --market KRW-BTC --timeframe 1m --count 5 --hedge-after-ms x; [ "$status" -eq 2 ]
	run "$p" --validate --market KRW-BTC --timeframe 1m --from 1969-01-01 --to 1969-02-01; [ "$status" -eq 2 ]
	run "$p" --validate --market KRW-BTC --timeframe 1m --count 5; [ "$status" -eq 0 ]
	run "$p" --market KRW-BTC --timeframe 1m --count 5; [ "$status" -eq 2 ]
	[[ "$output" == *"--db and --work are required"* ]]
	run "$ROOT/fetcher/cp-fetcher" --max-inflight 0 --work ipc:///x --results ipc:///y; [ "$status" -eq 2 ]
	run "$ROOT/fetcher/cp-fetcher" --work ipc:///x --results ipc:///y --api-url ftp://x; [ "$status" -eq 2 ]
	run "$ROOT/fetcher/cp-fetcher" --bogus; [ "$status" -eq 2 ]
	run "$ROOT/writer/cp-writer" --bogus; [ "$status" -eq 2 ]
	run "$ROOT/writer/cp-writer" --db "$BATS_TEST_TMPDIR/w.db"; [ "$status" -eq 2 ]
	run "$ROOT/monitor/cp-monitor" --bogus; [ "$status" -eq 2 ]
	run "$ROOT/sim/upbit-sim" --port notaport; [ "$status" -eq 2 ]
	run "$ROOT/run.sh" collect --market KRW-BTC --timeframe 1m --count 5 --tcp nohost; [ "$status" -eq 2 ]
	# a bad value through run.sh: the planner's message, and run.sh's help named
	run "$ROOT/run.sh" collect --market KRW-BTC --timeframe 1m --count abc --skip-market-check
	[ "$status" -eq 2 ]
	[[ "$output" == *"--count must be a whole number from 1 to 100000000, not 'abc'"* ]]
	[[ "$output" == *"try './run.sh collect --help'"* ]]
	run "$ROOT/run.sh" collect --market KRW-BTC --quote KRW --timeframe 1m --count 5; [ "$status" -eq 2 ]
}

@test "the writer refuses a file that is not its database, and a second writer" {
	local d="$BATS_TEST_TMPDIR"
	echo "not a database" >"$d/junk.db"
	run "$ROOT/writer/cp-writer" --db "$d/junk.db" --results "ipc://$d/r1.sock" --work "ipc://$d/w1.sock"
	echo "$output"
	[ "$status" -eq 3 ]
	"$ROOT/writer/cp-writer" --db "$d/ok.db" --results "ipc://$d/r2.sock" --work "ipc://$d/w2.sock" \
		--ready-file "$d/ready" 2>/dev/null 3>&- &
	local w=$!
	for _ in $(seq 100); do [ -e "$d/ready" ] && break; sleep 0.05; done
	run "$ROOT/writer/cp-writer" --db "$d/ok.db" --results "ipc://$d/r3.sock" --work "ipc://$d/w3.sock"
	kill -TERM "$w"; wait "$w" || true
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"another writer is running on"* ]]
	# a schema from the future is refused, the file left alone
	sqlite3 "$d/ok.db" "PRAGMA user_version = 99"
	run "$ROOT/writer/cp-writer" --db "$d/ok.db" --results "ipc://$d/r4.sock" --work "ipc://$d/w4.sock"
	[ "$status" -eq 3 ]
	[ "$(sqlite3 "$d/ok.db" "PRAGMA user_version")" -eq 99 ]
}
