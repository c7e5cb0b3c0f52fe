#!/usr/bin/env bats
# End to end: ./run.sh collect against the simulator, compared with its truth.

load pipeline_helpers

setup_file() {
	load pipeline_helpers
	start_file_sim --rate-limit 0
}

teardown_file() {
	load sim_helpers
	stop_all_sims
}

setup() {
	use_file_sim
	DB="$BATS_TEST_TMPDIR/c.db"
}

@test "1m: a day of a dense market equals the truth" {
	check_range KRW-BTC 1m 2026-10-01T00:00:00 2026-10-02T00:00:00
}

@test "1s: the last 40 minutes equal the truth" {
	local to from
	to=$(ago 600); from=$(ago 3000)
	check_range KRW-ETH 1s "${from:0:16}:00" "${to:0:16}:00"
}

@test "3m 5m 10m 15m 30m: three days each equal the truth" {
	for tf in 3m 5m 10m 15m 30m; do
		check_range KRW-XRP $tf 2026-09-01T00:00:00 2026-09-04T00:00:00
	done
}

@test "1h and 4h (60m, 240m aliases) equal the truth" {
	check_range KRW-SOL 60m 2026-08-01T00:00:00 2026-09-15T00:00:00
	check_range KRW-SOL 240m 2026-05-01T00:00:00 2026-09-15T00:00:00
	[ "$(sqlite3 "$DB" "SELECT group_concat(DISTINCT timeframe) FROM candles ORDER BY 1")" = "1h,4h" ]
}

@test "1d, 1w, 1M, 1y across the listing equal the truth" {
	check_range KRW-BTC 1d 2025-01-01T00:00:00 2026-11-01T00:00:00
	check_range KRW-BTC 1w 2017-01-02T00:00:00 2026-11-02T00:00:00
	check_range KRW-BTC 1M 2016-01-01T00:00:00 2026-11-01T00:00:00
	check_range KRW-BTC 1y 2015-01-01T00:00:00 2026-01-01T00:00:00
	# months are not minutes: distinct names, one table
	[ "$(sqlite3 "$DB" "SELECT COUNT(*) FROM candles WHERE timeframe = '1M'")" -gt 90 ]
	[ "$(sqlite3 "$DB" "SELECT first_utc FROM history_start WHERE market='KRW-BTC' AND timeframe='1M'")" = "2017-10-01T00:00:00" ]
}

@test "running the same collection again makes zero candle requests" {
	check_range KRW-ETH 1m 2026-10-05T00:00:00 2026-10-06T00:00:00
	local before after
	before=$(candle_requests)
	run collect --market KRW-ETH --timeframe 1m --from 2026-10-05T00:00:00 --to 2026-10-06T00:00:00 --db "$DB" --rate 0 --quiet
	[ "$status" -eq 0 ]
	after=$(candle_requests)
	[ "$before" -eq "$after" ]
}

@test "random fragments already stored: only the missing parts are requested" {
	local i h before after
	for i in 1 2 3 4 5; do
		h=$(( (RANDOM % 22) + 1 ))
		run collect --market KRW-ADA --timeframe 1m --from "2026-10-10T$(printf %02d $h):07:00" \
			--to "2026-10-10T$(printf %02d $h):$(printf %02d $((20 + RANDOM % 30))):00" --db "$DB" --rate 0 --quiet
		[ "$status" -eq 0 ]
	done
	local stored_before
	stored_before=$(sqlite3 "$DB" "SELECT COUNT(*) FROM candles")
	before=$(candle_requests)
	# at the default budget (no parallel segments are needed at this latency)
	run collect --market KRW-ADA --timeframe 1m --from 2026-10-10T00:00:00 --to 2026-10-11T00:00:00 --db "$DB" --quiet
	[ "$status" -eq 0 ]
	truth KRW-ADA 1m 2026-10-10T00:00:00 2026-10-11T00:00:00 | diff - <(db_dump "$DB" KRW-ADA 1m 2026-10-10T00:00:00 2026-10-11T00:00:00)
	after=$(candle_requests)
	local new=$(( $(sqlite3 "$DB" "SELECT COUNT(*) FROM candles") - stored_before ))
	# ideal: ceil(new / 200) plus at most one request per missing range (<= 6)
	echo "requests $((after - before)) for $new new candles"
	[ $((after - before)) -le $(( (new + 199) / 200 + 6 )) ]
}

@test "a sparse and a very sparse market come out right" {
	check_range KRW-ZIL 1m 2026-10-01T00:00:00 2026-10-03T00:00:00
	check_range KRW-MED 1m 2026-10-01T00:00:00 2026-10-03T00:00:00
	# gaps are real: fewer candles than minutes, and no placeholder rows
	[ "$(sqlite3 "$DB" "SELECT COUNT(*) FROM candles WHERE market='KRW-ZIL'")" -lt 2880 ]
	[ "$(sqlite3 "$DB" "SELECT COUNT(*) FROM coverage WHERE market='KRW-MED' AND from_utc <= '2026-10-01T00:00:00' AND to_utc >= '2026-10-03T00:00:00'")" -eq 1 ]
}

@test "a market listed inside the range: nothing before the listing, history proven" {
	check_range KRW-BERA 1m 2026-10-31T12:00:00 2026-11-01T12:00:00
	[ "$(sqlite3 "$DB" "SELECT MIN(candle_date_time_utc) FROM candles WHERE market='KRW-BERA'")" \> "2026-10-31T23:59:59" ]
	[ "$(sqlite3 "$DB" "SELECT first_utc FROM history_start WHERE market='KRW-BERA'")" \> "2026-10-31T23:59:59" ]
}

@test "an unknown market is named before anything starts; a 404 later fails its range" {
	run collect --market KRW-BTC,KRW-NOPE,KRW-NADA --timeframe 1m --from 2026-10-01T00:00:00 --to 2026-10-01T06:00:00 --db "$DB" --rate 0 --quiet
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"unknown market(s): KRW-NOPE, KRW-NADA"* ]]
	[ ! -e "$DB" ]
	# without the check, Upbit's 404 fails the range with a clear reason
	run collect --market KRW-NOPE --timeframe 1m --from 2026-10-01T00:00:00 --to 2026-10-01T06:00:00 --db "$DB" --rate 0 --quiet --skip-market-check
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"not covered: KRW-NOPE 1m 2026-10-01T00:00:00..2026-10-01T06:00:00"* ]]
	[[ "$output" == *"unknown market KRW-NOPE"* ]]
	[ "$(sqlite3 "$DB" "SELECT COUNT(*) FROM candles_exact") $(sqlite3 "$DB" "SELECT COUNT(*) FROM coverage")" = "0 0" ]
}

@test "--quote KRW collects every KRW market of the simulator; several timeframes at once" {
	run collect --quote KRW --timeframe 1h,1d --from 2026-10-01T00:00:00 --to 2026-10-03T00:00:00 --db "$DB" --rate 0 --quiet
	echo "$output"
	[ "$status" -eq 0 ]
	local want got
	want=$(curl -s "$SIM_URL/v1/market/all" | jq -r '.[].market' | grep '^KRW-' | sort | paste -sd, -)
	got=$(sqlite3 "$DB" "SELECT group_concat(market) FROM (SELECT DISTINCT market FROM coverage WHERE timeframe = '1d' ORDER BY 1)")
	[ "$want" = "$got" ]
	[ "$(sqlite3 "$DB" "SELECT COUNT(DISTINCT timeframe) FROM coverage")" -eq 2 ]
	# --market all is every market
	run collect --market all --timeframe 1d --from 2026-10-01T00:00:00 --to 2026-10-02T00:00:00 --db "$DB" --rate 0 --quiet
	[ "$status" -eq 0 ]
	[ "$(sqlite3 "$DB" "SELECT COUNT(DISTINCT market) FROM coverage")" -eq "$(curl -s "$SIM_URL/v1/market/all" | jq length)" ]
}

@test "usage errors exit 2 before anything starts" {
	run collect --market KRW-BTC --timeframe 2m --count 10 --db "$DB"
	[ "$status" -eq 2 ]; [[ "$output" == *"unknown timeframe '2m'"* ]]
	run collect --market KRW-BTC --timeframe 1m --from 2026-13-01 --db "$DB"
	[ "$status" -eq 2 ]; [[ "$output" == *"bad --from"* ]]
	run collect --market KRW-BTC --timeframe 1m --from 2026-10-01 --count 5 --db "$DB"
	[ "$status" -eq 2 ]; [[ "$output" == *"cannot be combined"* ]]
	run collect --market KRW-BTC --timeframe 1m --from 2026-10-02 --to 2026-10-01 --db "$DB"
	[ "$status" -eq 2 ]; [[ "$output" == *"earlier than --to"* ]]
	run collect --market KRW-BTC --timeframe 1m --db "$DB"
	[ "$status" -eq 2 ]
	run collect --timeframe 1m --count 3 --db "$DB"
	[ "$status" -eq 2 ]
	run collect --market KRW-BTC --timeframe 1m --count 3 --fetchers 0 --db "$DB"
	[ "$status" -eq 2 ]
	run collect --market KRW-BTC --timeframe 1m --count 3 --bogus --db "$DB"
	[ "$status" -eq 2 ]
	[ ! -e "$DB" ]
}

@test "--count N collects the N latest closed intervals, never the forming one" {
	run collect --market KRW-BTC --timeframe 1m --count 30 --db "$DB" --rate 0 --quiet
	[ "$status" -eq 0 ]
	local open
	open=$(date -u +%Y-%m-%dT%H:%M:00)
	[ "$(sqlite3 "$DB" "SELECT COUNT(*) FROM candles WHERE candle_date_time_utc >= '$open'")" -eq 0 ]
	[ "$(sqlite3 "$DB" "SELECT COUNT(*) FROM candles")" -ge 29 ]
}

# collect_one [options...]: a five-candle collection into $DB
collect_one() {
	run collect --market KRW-BTC --timeframe 1m --count 5 --rate 0 --quiet "$@"
	echo "$output"
}

@test "a permanent failure of the writer exits 3 with its reason, not 1 (run it again)" {
	local d="$BATS_TEST_TMPDIR"
	echo "not a database" >"$d/junk.db"
	collect_one --db "$d/junk.db"
	[ "$status" -eq 3 ]
	[[ "$output" == "run.sh: the writer failed permanently (exit 3): "*"$d/junk.db: file is not a database"* ]]
	[[ "$output" == *"try './run.sh collect --help'"* ]]
	[ "$(cat "$d/junk.db")" = "not a database" ]
	mkdir "$d/dir.db"
	collect_one --db "$d/dir.db"
	[ "$status" -eq 3 ]
	[[ "$output" == *"run.sh: the writer failed permanently (exit 3): $d/dir.db is a directory"* ]]
	# a newer schema
	collect_one --db "$DB"
	[ "$status" -eq 0 ]
	sqlite3 "$DB" "PRAGMA user_version = 99"
	collect_one --db "$DB"
	[ "$status" -eq 3 ]
	[[ "$output" == *"run.sh: the writer failed permanently (exit 3): $DB has schema version 99"* ]]
}

@test "a permission error is permanent (exit 3)" {
	# a database only its owner may touch, collected by someone else
	local p
	p=$(mktemp -d /tmp/cp-perm.XXXXXX)
	chmod 755 "$p"
	: >"$p/x.db"
	chmod 600 "$p/x.db"
	mkdir -m 777 "$p/run"
	local -a as=()
	[ "$(id -u)" -ne 0 ] || as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	[ "$(id -u)" -eq 0 ] || chmod 000 "$p/x.db"
	run "${as[@]}" "$ROOT/run.sh" collect --api-url "$SIM_URL" --run-dir "$p/run" --market KRW-BTC \
		--timeframe 1m --count 5 --rate 0 --quiet --db "$p/x.db" 3>&-
	echo "$output"
	rm -rf "$p"
	[ "$status" -eq 3 ]
	[[ "$output" == "run.sh: the writer failed permanently (exit 3): "*"Permission denied"* ]]
}

@test "another writer holding the database (another run dir): exit 3 naming it" {
	local d="$BATS_TEST_TMPDIR"
	"$ROOT/writer/cp-writer" --db "$DB" --results "ipc://$d/r.sock" --work "ipc://$d/w.sock" \
		--ready-file "$d/ready" 2>/dev/null 3>&- &
	local w=$!
	wait_for test -e "$d/ready"
	collect_one --db "$DB"
	kill -TERM "$w"; wait "$w" || true
	[ "$status" -eq 3 ]
	[[ "$output" == *"run.sh: the writer failed permanently (exit 3): another writer is running on $DB"* ]]
}

@test "a second collection on the same database: exit 3 naming the first's pid, its own messages" {
	start_sim --rate-limit 0 --latency-ms 300
	local run="$BATS_TEST_TMPDIR/run"
	"$ROOT/run.sh" collect --api-url "$SIM_URL" --run-dir "$run" --market KRW-BTC --timeframe 1m \
		--from 2026-06-01 --to 2026-10-01 --fetchers 1 --inflight 1 --rate 0 --quiet --db "$DB" \
		>/dev/null 2>&1 3>&- &
	local first=$!
	# the writer says it is ready (run.sh is told through --notify-fd)
	wait_for grep -q ' ready: ' "$run/writer.log"
	collect_one --db "$DB"
	kill -TERM "$first"; wait "$first" || true
	[ "$status" -eq 3 ]
	[[ "$output" == "run.sh: a collection is already running on $DB (pid $first, run dir $run)"* ]]
	[[ "$output" != *": ready: "* ]]
	[[ "$output" != *writer* ]]
	# the first run is stopped: its pid file is stale and not believed, and
	# the next run's log holds only its own lines
	grep -qx "$first" "$run/collect.pid"
	collect_one --db "$DB"
	[ "$status" -eq 0 ]
	[ "$(grep -c ': ready: ' "$run/writer.log")" -eq 1 ]
	[ "$(head -n 1 "$run/collect.pid")" != "$first" ]
}

@test "the planner or a fetcher exiting 3 later: run.sh exits 3, saying which" {
	# a wrapper makes one program fail permanently after the writer is up
	local w="$BATS_TEST_TMPDIR/wrap"
	cat >"$w" <<'WRAP'
#!/bin/sh
case "$1" in *"$CP_FAIL_PROG") echo "2026-01-01T00:00:00.000Z x[1] fatal: told to fail" >&2; exit 3 ;; esac
exec "$@"
WRAP
	chmod +x "$w"
	CP_EXEC_WRAPPER="$w" CP_FAIL_PROG=cp-fetcher collect_one --db "$DB"
	[ "$status" -eq 3 ]
	[[ "$output" == *"run.sh: the fetcher0 failed permanently (exit 3): told to fail"* ]] ||
		[[ "$output" == *"run.sh: the fetcher1 failed permanently (exit 3): told to fail"* ]]
	CP_EXEC_WRAPPER="$w" CP_FAIL_PROG=cp-planner collect_one --db "$DB"
	[ "$status" -eq 3 ]
	[[ "$output" == *"run.sh: the planner failed permanently (exit 3)"* ]]
}

@test "a market list the server cannot give: exit 1 with curl's reason; skipping helps named markets only" {
	start_sim --rate-limit 0 --fault-rate 1 --faults 500
	collect_one --db "$DB"
	[ "$status" -eq 1 ]
	[[ "$output" == "run.sh: cannot read the market list from $SIM_URL/v1/market/all: The requested URL returned error: 500 (--skip-market-check collects named markets without it)"* ]]
	run collect --quote KRW --timeframe 1m --count 5 --db "$DB"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"returned error: 500"* ]]
	[[ "$output" != *skip-market-check* ]]
	stop_sim
	start_sim --rate-limit 0 --fault-rate 1 --faults garbage
	collect_one --db "$DB"
	[ "$status" -eq 1 ]
	[[ "$output" == *"market/all: the answer is not a list of markets"* ]]
	[ ! -e "$DB" ]
}

@test "the market list is kept in the run dir (markets.json); not with --skip-market-check" {
	local run="$BATS_TEST_TMPDIR/run"
	collect_one --db "$DB"
	[ "$status" -eq 0 ]
	diff <(curl -s "$SIM_URL/v1/market/all" | jq -S .) <(jq -S . "$run/markets.json")
	collect_one --db "$DB" --skip-market-check
	[ "$status" -eq 0 ]
	[ ! -e "$run/markets.json" ]
}

@test "the writer gets --markets-file: the markets table holds what /v1/market/all said" {
	local w="$BATS_TEST_TMPDIR/wrap"
	printf '#!/bin/sh\necho "$*" >>"%s/argv"\nexec "$@"\n' "$BATS_TEST_TMPDIR" >"$w"
	chmod +x "$w"
	CP_EXEC_WRAPPER="$w" collect_one --db "$DB"
	[ "$status" -eq 0 ]
	local wargv
	wargv=$(grep cp-writer "$BATS_TEST_TMPDIR/argv")
	[[ "$wargv" == *"--markets-file $BATS_TEST_TMPDIR/run/markets.json"* ]]
	[ "$(sqlite3 "$DB" "SELECT COUNT(*) FROM markets")" -eq "$(jq length "$BATS_TEST_TMPDIR/run/markets.json")" ]
	[ "$(sqlite3 "$DB" "SELECT COUNT(*) FROM markets WHERE market = 'KRW-BTC'")" -eq 1 ]
}

@test "--db in a directory that does not exist is refused; data/ alone is made" {
	collect_one --db "$BATS_TEST_TMPDIR/nope/c.db"
	[ "$status" -eq 2 ]
	[ "${lines[0]}" = "run.sh: --db $BATS_TEST_TMPDIR/nope/c.db: the directory $BATS_TEST_TMPDIR/nope does not exist (create it first)" ]
	[ "${lines[1]}" = "try './run.sh collect --help'" ]
	[ ! -e "$BATS_TEST_TMPDIR/nope" ]
	cd "$BATS_TEST_TMPDIR"
	collect_one
	[ "$status" -eq 0 ]
	[ "$(sqlite3 data/candles.db "SELECT COUNT(*) FROM candles")" -eq 5 ]
}
