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
	[ "${lines[0]}" = "usage: ./run.sh COMMAND [options]" ]
	[[ "$output" == *"usage: ./run.sh collect --market"* ]]
	[[ "$output" == *"exit status:"* ]]
}

@test "bad command lines exit 2 with one clear line" {
	local p="$ROOT/planner/cp-planner"
	run "$p" --bogus; [ "$status" -eq 2 ]
	[ "${lines[0]}" = "cp-planner: unrecognized option '--bogus'" ]
	[ "${lines[1]}" = "try 'cp-planner --help'" ]
	run "$p" --validate --market KRW-BTC --timeframe 1m --count 0; [ "$status" -eq 2 ]
	[[ "$output" == *"--count must be"* ]]
	run "$p" --validate --market KRW-BTC --timeframe 1m --count 5 --rate -1; [ "$status" -eq 2 ]
	[ "${lines[0]}" = "cp-planner: --rate must be a number from 0 to 10000, not '-1'" ]
	run "$p" --validate --market btc --timeframe 1m --count 5; [ "$status" -eq 2 ]
	[[ "$output" == *"bad market code"* ]]
	run "$p" --validate --market KRW-BTC --timeframe 1m --count 5 --follow --to 2026-01-01; [ "$status" -eq 2 ]
	[ "${lines[0]}" = "cp-planner: --follow keeps collecting up to now: it takes no --to" ]
	run "$p" --validate --market KRW-BTC --timeframe 1m --count 5 --hedge-after-ms x; [ "$status" -eq 2 ]
	[ "${lines[0]}" = "cp-planner: --hedge-after-ms must be a whole number from 0 to 86400000, not 'x'" ]
	run "$p" --validate --market KRW-BTC --timeframe 1m --from 1969-01-01 --to 1969-02-01; [ "$status" -eq 2 ]
	[ "${lines[0]}" = "cp-planner: --from before 1970 is not supported" ]
	run "$p" --validate --market KRW-BTC --timeframe 1m --count 5; [ "$status" -eq 0 ]
	[ -z "$output" ]
	run "$p" --market KRW-BTC --timeframe 1m --count 5; [ "$status" -eq 2 ]
	[[ "$output" == *"--db and --work are required"* ]]
	run "$ROOT/fetcher/cp-fetcher" --max-inflight 0 --work ipc:///x --results ipc:///y; [ "$status" -eq 2 ]
	[ "${lines[0]}" = "cp-fetcher: --max-inflight must be a whole number from 1 to 64, not '0'" ]
	run "$ROOT/fetcher/cp-fetcher" --work ipc:///x --results ipc:///y --api-url ftp://x; [ "$status" -eq 2 ]
	[ "${lines[0]}" = "cp-fetcher: --api-url must start with http:// or https://" ]
	run "$ROOT/fetcher/cp-fetcher" --bogus; [ "$status" -eq 2 ]
	[ "${lines[0]}" = "cp-fetcher: unrecognized option '--bogus'" ]
	run "$ROOT/writer/cp-writer" --bogus; [ "$status" -eq 2 ]
	[ "${lines[0]}" = "cp-writer: unrecognized option '--bogus'" ]
	run "$ROOT/writer/cp-writer" --db "$BATS_TEST_TMPDIR/w.db"; [ "$status" -eq 2 ]
	[ "${lines[0]}" = "cp-writer: --db, --results and --work are required" ]
	[ ! -e "$BATS_TEST_TMPDIR/w.db" ]
	run "$ROOT/monitor/cp-monitor" --bogus; [ "$status" -eq 2 ]
	[ "${lines[0]}" = "cp-monitor: unrecognized option '--bogus'" ]
	run "$ROOT/sim/upbit-sim" --port notaport; [ "$status" -eq 2 ]
	[ "${lines[0]}" = "upbit-sim: invalid --port 'notaport': expected 0..65535" ]
	run "$ROOT/run.sh" collect --market KRW-BTC --timeframe 1m --count 5 --tcp nohost; [ "$status" -eq 2 ]
	[ "${lines[0]}" = "run.sh: --tcp wants HOST:PORT, not 'nohost'" ]
	# a bad value through run.sh: the planner's message, and run.sh's help named
	run "$ROOT/run.sh" collect --market KRW-BTC --timeframe 1m --count abc --skip-market-check
	[ "$status" -eq 2 ]
	[[ "$output" == *"--count must be a whole number from 1 to 100000000, not 'abc'"* ]]
	[[ "$output" == *"try './run.sh collect --help'"* ]]
	run "$ROOT/run.sh" collect --market KRW-BTC --quote KRW --timeframe 1m --count 5; [ "$status" -eq 2 ]
	[ "${lines[0]}" = "run.sh: --market and --quote cannot be combined" ]
}

@test "the writer refuses a file that is not its database, and a second writer" {
	local d="$BATS_TEST_TMPDIR"
	echo "not a database" >"$d/junk.db"
	run "$ROOT/writer/cp-writer" --db "$d/junk.db" --results "ipc://$d/r1.sock" --work "ipc://$d/w1.sock"
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"cannot open $d/junk.db: file is not a database"* ]]
	[ "$(cat "$d/junk.db")" = "not a database" ]
	"$ROOT/writer/cp-writer" --db "$d/ok.db" --results "ipc://$d/r2.sock" --work "ipc://$d/w2.sock" \
		--ready-file "$d/ready" 2>/dev/null 3>&- &
	local w=$!
	wait_for test -e "$d/ready"
	run "$ROOT/writer/cp-writer" --db "$d/ok.db" --results "ipc://$d/r3.sock" --work "ipc://$d/w3.sock"
	kill -TERM "$w"; wait "$w" || true
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"another writer is running on"* ]]
	# a schema from the future is refused, the file left alone
	sqlite3 "$d/ok.db" "PRAGMA user_version = 99"
	run "$ROOT/writer/cp-writer" --db "$d/ok.db" --results "ipc://$d/r4.sock" --work "ipc://$d/w4.sock"
	[ "$status" -eq 3 ]
	[[ "$output" == *"$d/ok.db has schema version 99, this program knows versions 1 to "*"; refusing to touch it"* ]]
	[ "$(sqlite3 "$d/ok.db" "PRAGMA user_version")" -eq 99 ]
}

@test "collect --help and demo --help print their own help and run nothing" {
	cd "$BATS_TEST_TMPDIR"
	run timeout 30 "$ROOT/run.sh" demo --help 3>&-
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "usage: ./run.sh demo" ]
	[[ "$output" != *"demo: simulator on"* ]]
	[ ! -e data ]
	run "$ROOT/run.sh" collect --help
	[ "$status" -eq 0 ]
	[ "${lines[0]:0:30}" = "usage: ./run.sh collect --mark" ]
	[[ "$output" != *"commands:"* ]]
	[[ "$output" != *cp-planner* ]]
	run "$ROOT/run.sh" demo --bogus
	[ "$status" -eq 2 ]
	[ "${lines[0]}" = "run.sh: demo takes no options, not '--bogus'" ]
	[ "${lines[1]}" = "try './run.sh demo --help'" ]
}

@test "every option collect accepts is in ./run.sh help and ./run.sh collect --help" {
	# the options of cmd_collect's parser: its case patterns
	local opts o
	opts=$(sed -n '/^cmd_collect() {/,/^		esac/p' "$ROOT/run.sh" |
		sed -nE 's/^[[:space:]]+(-[-|a-zA-Z=*]+)\).*/\1/p' | tr '|' '\n' | sed 's/=\*$//' | sort -u)
	echo "$opts"
	[ "$(wc -l <<<"$opts")" -ge 25 ]
	run "$ROOT/run.sh" help
	local all=$output
	run "$ROOT/run.sh" collect --help
	local one=$output
	while read -r o; do
		echo "checking $o"
		grep -qE -- "(^|[^a-zA-Z-])$o([^a-zA-Z-]|\$)" <<<"$all"
		grep -qE -- "(^|[^a-zA-Z-])$o([^a-zA-Z-]|\$)" <<<"$one"
	done <<<"$opts"
}

@test "every command of run.sh is in ./run.sh help; start's options in ./run.sh start --help" {
	# the commands: the patterns of run.sh's last case, the dispatch
	local cmds c opts o
	cmds=$(sed -n '/^case "${1:-help}" in/,/^esac/p' "$ROOT/run.sh" |
		sed -nE 's/^([a-z|]+)\).*/\1/p' | tr '|' '\n' | sort -u)
	echo "$cmds"
	[ "$(wc -l <<<"$cmds")" -ge 13 ]
	run "$ROOT/run.sh" help
	for c in $cmds; do
		echo "checking $c"
		grep -qE "^  $c " <<<"$output"
	done
	# the options of start, stop, status and cancel: parse_start's and parse_svc's
	opts=$(sed -n '/^parse_start() {/,/^}/p; /^parse_svc() {/,/^}/p' "$ROOT/run.sh" |
		sed -nE 's/^[[:space:]]+(-[-|a-zA-Z \\]+)\).*/\1/p' | tr -d ' \\' | tr '|' '\n' | sort -u)
	echo "$opts"
	[ "$(wc -l <<<"$opts")" -ge 16 ]
	run "$ROOT/run.sh" start --help
	[ "$status" -eq 0 ]
	while read -r o; do
		echo "checking $o"
		grep -qE -- "(^|[^a-zA-Z-])$o([^a-zA-Z-]|\$)" <<<"$output"
	done <<<"$opts"
}

@test "run.sh errors: one shape, run.sh first, the help of the command typed" {
	run "$ROOT/run.sh" collect --market KRW-BTC --timeframe 1m --count 5 --bogus
	[ "$status" -eq 2 ]
	[ "${lines[0]}" = "run.sh: unknown option '--bogus'" ]
	[ "${lines[1]}" = "try './run.sh collect --help'" ]
	# the planner's checks read as run.sh's own
	run "$ROOT/run.sh" collect --market KRW-BTC --timeframe 2m --count 5 --skip-market-check
	[ "$status" -eq 2 ]
	[[ "${lines[0]}" == "run.sh: unknown timeframe '2m'"* ]]
	[ "${lines[1]}" = "try './run.sh collect --help'" ]
	[ "${#lines[@]}" -eq 2 ]
	run "$ROOT/run.sh" bogus
	[ "$status" -eq 2 ]
	[ "${lines[0]}" = "run.sh: unknown command 'bogus'" ]
	[ "${lines[1]}" = "try './run.sh help'" ]
}

@test "a range wholly in the future is a usage error (exit 2)" {
	local p="$ROOT/planner/cp-planner" soon
	run "$p" --validate --market KRW-BTC --timeframe 1m --from 2099-01-01
	[ "$status" -eq 2 ]
	[[ "$output" == "cp-planner: --from 2099-01-01 is in the future (now is "*"Z): nothing to collect" ]]
	run "$p" --validate --market KRW-BTC --timeframe 1m --from 2099-01-01 --to 2099-02-01
	[ "$status" -eq 2 ]
	[[ "$output" == *"is in the future"* ]]
	run "$p" --validate --market KRW-BTC --timeframe 1m,1d --count 5 --to 2099-01-01
	[ "$status" -eq 2 ]
	[[ "$output" == "cp-planner: the 5 1m intervals before --to 2099-01-01 all start after now"* ]]
	# a --to in the future with a window that reaches now means now
	soon=$(date -u -d '+10 min' +%Y-%m-%dT%H:%M:%S)
	run "$p" --validate --market KRW-BTC --timeframe 1m --count 30 --to "$soon"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run "$p" --validate --market KRW-BTC --timeframe 1m --count 1 --to "$soon"
	[ "$status" -eq 2 ]
	[[ "$output" == "cp-planner: the 1m interval before --to $soon starts after now"* ]]
	# through run.sh: before anything is fetched or made
	run "$ROOT/run.sh" collect --market KRW-BTC --timeframe 1m --from 2099-01-01 \
		--db "$BATS_TEST_TMPDIR/f.db" --api-url http://nonexistent.invalid
	[ "$status" -eq 2 ]
	[[ "${lines[0]}" == "run.sh: --from 2099-01-01 is in the future"* ]]
	[ "${lines[1]}" = "try './run.sh collect --help'" ]
	[ ! -e "$BATS_TEST_TMPDIR/f.db" ]
}

@test "no network: one line with curl's reason, no --skip-market-check advice" {
	load sim_helpers
	# a port nothing listens on: a simulator's, once it has stopped
	start_sim
	local port=$SIM_PORT
	stop_sim
	run "$ROOT/run.sh" collect --market KRW-BTC --timeframe 1m --count 5 --db "$BATS_TEST_TMPDIR/n.db" \
		--run-dir "$BATS_TEST_TMPDIR/run" --api-url "http://127.0.0.1:$port" 3>&-
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "${lines[0]}" == "run.sh: cannot reach http://127.0.0.1:$port: Failed to connect to 127.0.0.1 port $port"* ]]
	[[ "$output" != *skip-market-check* ]]
	[ "${#lines[@]}" -eq 2 ]
	run "$ROOT/run.sh" collect --market KRW-BTC --timeframe 1m --count 5 --db "$BATS_TEST_TMPDIR/n.db" \
		--run-dir "$BATS_TEST_TMPDIR/run" --api-url http://nonexistent.invalid 3>&-
	echo "$output"
	[ "$status" -eq 1 ]
	[ "${lines[0]}" = "run.sh: cannot reach http://nonexistent.invalid: Could not resolve host: nonexistent.invalid" ]
	[[ "$output" != *skip-market-check* ]]
	[ ! -e "$BATS_TEST_TMPDIR/n.db" ]
}
