#!/usr/bin/env bats
# Feature flags: set from options and files; the guard switches off a flag
# that makes things worse (here: hedging every request at once), and
# judges nothing in follow mode, where the clock sets the pace.

load pipeline_helpers

teardown() {
	stop_all_sims
}

@test "flags from options and a file; bad ones are usage errors" {
	start_sim --rate-limit 0
	local db="$BATS_TEST_TMPDIR/f.db" file="$BATS_TEST_TMPDIR/flags"
	printf '# optimisations\nsplit = off\nhedge=on\n' >"$file"
	run collect --market KRW-BTC --timeframe 1h --count 500 --db "$db" --rate 0 --quiet --features "$file" --feature lookahead=off -v
	[ "$status" -eq 0 ]
	# split off: one segment walks the range, so no split is ever logged
	[[ "$output" != *"split segment"* ]]
	local from to
	from=$(sqlite3 "$db" "SELECT MIN(from_utc) FROM coverage")
	to=$(sqlite3 "$db" "SELECT MAX(to_utc) FROM coverage")
	[ "$(sqlite3 "$db" "SELECT COUNT(*) FROM candles")" -gt 0 ]
	diff <(truth KRW-BTC 1h "$from" "$to") <(db_dump "$db" KRW-BTC 1h "$from" "$to")
	run collect --market KRW-BTC --timeframe 1h --count 5 --db "$db" --feature turbo=on
	[ "$status" -eq 2 ]; [[ "$output" == *"unknown feature 'turbo'"* ]]
	run collect --market KRW-BTC --timeframe 1h --count 5 --db "$db" --feature split=maybe
	[ "$status" -eq 2 ]; [[ "$output" == *"feature split: want on or off, not 'maybe'"* ]]
	printf 'split\n' >"$file"
	run collect --market KRW-BTC --timeframe 1h --count 5 --db "$db" --features "$file"
	[ "$status" -eq 2 ]
	[[ "$output" == *"feature: want NAME=on|off, not 'split'"* ]]
	[[ "$output" == *"$file:1: bad line"* ]]
	# a refused command line changed nothing: the database is the first run's
	diff <(truth KRW-BTC 1h "$from" "$to") <(db_dump "$db" KRW-BTC 1h "$from" "$to")
	[ "$(sqlite3 "$db" "SELECT MIN(from_utc) || ' ' || MAX(to_utc) FROM coverage")" = "$from $to" ]
}

@test "the guard switches off a flag that makes throughput worse" {
	start_sim --latency-ms 300
	local db="$BATS_TEST_TMPDIR/g.db"
	run collect --market KRW-BTC --timeframe 1m --from 2026-08-01T00:00:00 --to 2026-08-15T00:00:00 \
		--db "$db" --quiet --hedge-after-ms 0 --guard-epoch-ms 2000 --guard-after-ms 0
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"guard: feature 'hedge' switched off:"*"more than 20% worse"* ]]
	diff <(truth KRW-BTC 1m 2026-08-01T00:00:00 2026-08-15T00:00:00) \
		<(db_dump "$db" KRW-BTC 1m 2026-08-01T00:00:00 2026-08-15T00:00:00)
}

@test "the guard judges nothing once following: no flag is switched off for want of slots" {
	start_sim --rate-limit 0
	local db="$BATS_TEST_TMPDIR/w.db" out="$BATS_TEST_TMPDIR/w.out"
	"$ROOT/run.sh" collect --market KRW-BTC --timeframe 1m --count 5 --follow --db "$db" \
		--api-url "$SIM_URL" --run-dir "$BATS_TEST_TMPDIR/run" --quiet \
		--guard-epoch-ms 200 --guard-after-ms 0 >"$out" 2>&1 3>&- &
	local pid=$!
	wait_for grep -q "backfill done" "$out"
	sleep 2 # an observation window: ten guard epochs, in which following proves no slot
	kill -TERM "$pid"
	wait "$pid"
	cat "$out"
	! sed -n '/backfill done/,$p' "$out" | grep -q "guard: feature" || false
	grep -q "follow: .* lag median" "$out"
	# what it collected is the truth: the backfill and any candle followed
	local from to
	from=$(sqlite3 "$db" "SELECT MIN(from_utc) FROM coverage")
	to=$(sqlite3 "$db" "SELECT MAX(to_utc) FROM coverage")
	[ "$(sqlite3 "$db" "SELECT COUNT(*) FROM candles")" -gt 0 ]
	diff <(truth KRW-BTC 1m "$from" "$to") <(db_dump "$db" KRW-BTC 1m "$from" "$to")
}
