#!/usr/bin/env bats
# The rate budget and failure handling against a misbehaving simulator:
# 429 bursts, 418 blocks, every temporary fault kind, permanent errors, and
# retries that run out.

load pipeline_helpers

# the simulator's faults hit /v1/market/all too; these tests are about
# candle requests, so the market check is skipped
collect() {
	"$ROOT/run.sh" collect --api-url "$SIM_URL" --run-dir "$BATS_TEST_TMPDIR/run" --skip-market-check "$@" 3>&-
}

setup() {
	DB="$BATS_TEST_TMPDIR/f.db"
}

teardown() {
	stop_all_sims
}

equal_truth() { # M TF FROM TO
	truth "$1" "$2" "$3" "$4" >"$BATS_TEST_TMPDIR/truth"
	db_dump "$DB" "$1" "$2" "$3" "$4" >"$BATS_TEST_TMPDIR/db"
	[ -s "$BATS_TEST_TMPDIR/truth" ]
	diff "$BATS_TEST_TMPDIR/truth" "$BATS_TEST_TMPDIR/db"
}

client() { # jq path inside the stats of client 127.0.0.1
	curl -s "$SIM_URL/__sim/stats" | jq -r ".clients[\"127.0.0.1\"].$1 // 0"
}

@test "at the default budget: no 429, never more than 10 requests in any second" {
	start_sim
	run collect --market KRW-BTC --timeframe 1m --from 2026-10-01T00:00:00 --to 2026-10-03T00:00:00 --db "$DB" --quiet --fetchers 3
	echo "$output"
	[ "$status" -eq 0 ]
	equal_truth KRW-BTC 1m 2026-10-01T00:00:00 2026-10-03T00:00:00
	[ "$(client r429)" -eq 0 ]
	[ "$(client peak_per_sec)" -le 10 ]
}

@test "429 burst: everyone slows down, the run completes without a 418" {
	start_sim --block-seconds 2
	run collect --market KRW-ETH --timeframe 1m --from 2026-10-01T00:00:00 --to 2026-10-03T00:00:00 --db "$DB" --quiet --rate 14 --fetchers 2
	echo "$output"
	[ "$status" -eq 0 ]
	equal_truth KRW-ETH 1m 2026-10-01T00:00:00 2026-10-03T00:00:00
	[ "$(client r429)" -ge 1 ]
	[ "$(client r418)" -eq 0 ]
}

@test "418: no request leaves the address until the block is over" {
	start_sim --block-seconds 2
	run collect --market KRW-XRP --timeframe 1m --from 2026-10-01T00:00:00 --to 2026-10-04T00:00:00 --db "$DB" --quiet --rate 200 --fetchers 1 --inflight 2
	echo "$output"
	[ "$status" -eq 0 ]
	equal_truth KRW-XRP 1m 2026-10-01T00:00:00 2026-10-04T00:00:00
	# only requests already in flight when the first 418 came back may
	# meet the block; nothing is sent into it afterwards
	[ "$(client r418)" -ge 1 ]
	[ "$(client r418)" -le 2 ]
	grep -q "418 from source" "$BATS_TEST_TMPDIR/run/planner.log" 2>/dev/null || [[ "$output" == *"418 from source"* ]]
}

@test "every temporary fault kind is retried until the data equals the truth" {
	local kind
	for kind in 500 502 reset truncate garbage; do
		start_sim --rate-limit 0 --fault-rate 0.3 --faults $kind --seed 7
		rm -f "$DB"*
		run collect --market KRW-SOL --timeframe 1m --from 2026-10-01T00:00:00 --to 2026-10-02T00:00:00 --db "$DB" --quiet --rate 0
		echo "$kind: $output"
		[ "$status" -eq 0 ]
		SIM_SEED=7 equal_truth KRW-SOL 1m 2026-10-01T00:00:00 2026-10-02T00:00:00
		[ "$(curl -s "$SIM_URL/__sim/stats" | jq ".faults[\"$kind\"]")" -ge 1 ]
		stop_sim
	done
}

@test "a hanging server: the request times out and is retried" {
	start_sim --rate-limit 0 --fault-rate 0.2 --faults hang --hang-ms 12000 --seed 3
	run collect --market KRW-DOGE --timeframe 1m --from 2026-10-01T00:00:00 --to 2026-10-01T12:00:00 --db "$DB" --quiet --rate 0
	echo "$output"
	[ "$status" -eq 0 ]
	SIM_SEED=3 equal_truth KRW-DOGE 1m 2026-10-01T00:00:00 2026-10-01T12:00:00
	[ "$(curl -s "$SIM_URL/__sim/stats" | jq '.faults.hang')" -ge 1 ]
}

@test "retries run out: exit 1 naming the ranges; the next run fetches only them" {
	start_sim --rate-limit 0
	run collect --market KRW-LINK --timeframe 1h --from 2026-09-01T00:00:00 --to 2026-10-01T00:00:00 --db "$DB" --quiet --rate 0
	[ "$status" -eq 0 ]
	stop_sim
	start_sim --rate-limit 0 --fault-rate 1 --faults 502
	run collect --market KRW-LINK --timeframe 1h --from 2026-08-01T00:00:00 --to 2026-10-01T00:00:00 --db "$DB" --quiet --rate 0
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"not covered: KRW-LINK 1h 2026-08-01T00:00:00..2026-09-01T00:00:00 (gave up after"* ]]
	[[ "$output" == *"HTTP 502"* ]]
	stop_sim
	start_sim --rate-limit 0
	run collect --market KRW-LINK --timeframe 1h --from 2026-08-01T00:00:00 --to 2026-10-01T00:00:00 --db "$DB" --quiet --fetchers 1 --inflight 1
	[ "$status" -eq 0 ]
	# August is 744 hours: 4 requests of at most 200 candles
	[ "$(curl -s "$SIM_URL/__sim/stats" | jq '.by_route["candles/minutes"]')" -eq 4 ]
	equal_truth KRW-LINK 1h 2026-08-01T00:00:00 2026-10-01T00:00:00
}
