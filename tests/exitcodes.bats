#!/usr/bin/env bats
# One exit-code taxonomy (common/exitcodes.h): every program returns the
# same code for the same cause. 0 done, 1 not all covered, 2 usage,
# 3 permanent, 4 temporary.

ROOT="$(cd "$(dirname "$BATS_TEST_FILENAME")/.." && pwd)"

setup() {
	D="$BATS_TEST_TMPDIR"
	echo "not a database at all, just text that is long enough to be read" >"$D/junk.db"
}

@test "an unknown option exits 2 for every program and for run.sh" {
	local p
	for p in planner/cp-planner fetcher/cp-fetcher writer/cp-writer monitor/cp-monitor query/cp-query; do
		run "$ROOT/$p" --no-such-option
		echo "$p: $status"
		[ "$status" -eq 2 ]
	done
	for c in query gaps export verify; do
		run "$ROOT/query/cp-query" $c --no-such-option
		[ "$status" -eq 2 ]
	done
	run "$ROOT/run.sh" collect --no-such-option
	[ "$status" -eq 2 ]
}

@test "a --notify-fd that is not a descriptor number exits 2" {
	run "$ROOT/writer/cp-writer" --db "$D/w.db" --results "ipc://$D/r" --work "ipc://$D/w" --notify-fd 1
	[ "$status" -eq 2 ]
	[[ "$output" == *"--notify-fd must be a whole number from 3 to 1023, not '1'"* ]]
	run "$ROOT/planner/cp-planner" --notify-fd x --db "$D/p.db" --market KRW-BTC --timeframe 1m --count 1 --work "ipc://$D/w"
	[ "$status" -eq 2 ]
}

@test "a database that is not ours exits 3 for writer, planner, query, gaps, export and verify" {
	run "$ROOT/writer/cp-writer" --db "$D/junk.db" --results "ipc://$D/r" --work "ipc://$D/w"
	[ "$status" -eq 3 ]
	run timeout 10 "$ROOT/planner/cp-planner" --db "$D/junk.db" --market KRW-BTC --timeframe 1m --count 5 --work "ipc://$D/pw" --quiet
	[ "$status" -eq 3 ]
	run "$ROOT/query/cp-query" query --db "$D/junk.db" --market KRW-BTC --timeframe 1m --from 2026-01-01 --to 2026-01-02
	[ "$status" -eq 3 ]
	run "$ROOT/query/cp-query" gaps --db "$D/junk.db" --market KRW-BTC --timeframe 1m
	[ "$status" -eq 3 ]
	run "$ROOT/query/cp-query" export --db "$D/junk.db" --market all --format csv
	[ "$status" -eq 3 ]
	run "$ROOT/query/cp-query" verify --db "$D/junk.db"
	[ "$status" -eq 3 ]
}

@test "run.sh and the header agree on the numbers" {
	local n
	for n in OK:0 FAILED:1 USAGE:2 PERMFAIL:3 TEMPFAIL:4; do
		grep -Eq "^#define EXIT_${n%:*} ${n#*:}( |$)" "$ROOT/common/exitcodes.h"
		grep -Eq "(^| )EXIT_${n%:*}=${n#*:}( |$)" "$ROOT/run.sh"
	done
	# and every main.c takes them from the header
	for p in planner fetcher writer monitor query; do
		grep -q '#include "exitcodes.h"' "$ROOT/$p/main.c"
	done
	! grep -rq 'exitcodes.h' "$ROOT/sim"
}
