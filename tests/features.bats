#!/usr/bin/env bats
# Feature flags: set from options and files; the guard switches off a flag
# that makes things worse (here: hedging every request at once).

load pipeline_helpers

teardown() {
	stop_all_sims
}

@test "flags from options and a file; bad ones are usage errors" {
	start_sim --rate-limit 0
	local db="$BATS_TEST_TMPDIR/f.db" file="$BATS_TEST_TMPDIR/flags"
	printf '# optimisations\nsplit = off\nhedge=on\n' >"$file"
	run collect --market KRW-BTC --timeframe 1h --count 500 --db "$db" --rate 0 --quiet --features "$file" --feature lookahead=off
	[ "$status" -eq 0 ]
	run collect --market KRW-BTC --timeframe 1h --count 5 --db "$db" --feature turbo=on
	[ "$status" -eq 2 ]; [[ "$output" == *"unknown feature 'turbo'"* ]]
	run collect --market KRW-BTC --timeframe 1h --count 5 --db "$db" --feature split=maybe
	[ "$status" -eq 2 ]
	printf 'split\n' >"$file"
	run collect --market KRW-BTC --timeframe 1h --count 5 --db "$db" --features "$file"
	[ "$status" -eq 2 ]
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
