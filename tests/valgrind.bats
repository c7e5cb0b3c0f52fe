#!/usr/bin/env bats
# Every program under valgrind's memcheck: a small collection (planner,
# writer and two fetchers started by run.sh through CP_EXEC_WRAPPER), a
# monitor attached to it, then cp-query's query, gaps and export on the
# result. Each process must end with "ERROR SUMMARY: 0 errors": no invalid
# read or write, no use of uninitialised memory, no definite or indirect
# leak (--errors-for-leak-kinds=definite,indirect), and it must have exited
# by itself (a killed process writes no summary). The data must still equal
# the simulator's truth.

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
	command -v valgrind >/dev/null || skip "valgrind is not installed (apt-get install valgrind)"
	[ "${SANITIZE:-0}" != 1 ] || skip "valgrind and ASan do not mix (make test SANITIZE=1)"
	use_file_sim
	source "$ROOT/tests/chaos.sh"
	VG="valgrind --error-exitcode=97 --leak-check=full --errors-for-leak-kinds=definite,indirect"
	VG="$VG --show-leak-kinds=definite,indirect --track-fds=no --log-file=$BATS_TEST_TMPDIR/vg.%p.log"
}

# vg_clean N: exactly N valgrind logs, each with a clean summary
vg_clean() {
	local n=$1 f bad=0 logs=("$BATS_TEST_TMPDIR"/vg.*.log)
	[ -e "${logs[0]}" ] || { echo "no valgrind log"; return 1; }
	for f in "${logs[@]}"; do
		if ! grep -q "ERROR SUMMARY: 0 errors" "$f"; then
			echo "== $f"; grep -v '^==[0-9]*== *$' "$f" | head -60; bad=1
		fi
	done
	[ "${#logs[@]}" -eq "$n" ] || { echo "${#logs[@]} valgrind logs, want $n"; bad=1; }
	return $bad
}

@test "planner, writer, fetchers and monitor under memcheck: no error, no leak" {
	local db="$BATS_TEST_TMPDIR/v.db" rd="$BATS_TEST_TMPDIR/run"
	local from=2026-09-01T00:00:00 to=2026-09-02T00:00:00
	# the monitor attaches first and leaves when the run finishes
	$VG "$ROOT/monitor/cp-monitor" --endpoint "ipc://$rd/monitor.sock" --json \
		--exit-on-finish >"$BATS_TEST_TMPDIR/mon.json" 2>"$BATS_TEST_TMPDIR/mon.err" 3>&- &
	local mon=$!
	CP_EXEC_WRAPPER="$VG" collect --db "$db" --market KRW-BTC,KRW-ETH --timeframe 1m,1h \
		--from $from --to $to --rate 0 --fetchers 2 --quiet
	timeout 60 tail --pid=$mon -f /dev/null || kill -TERM $mon
	wait $mon
	vg_clean 5
	grep -q '"topic":"committed"' "$BATS_TEST_TMPDIR/mon.json"
	chaos_check_db "$db"
	local m tf
	for m in KRW-BTC KRW-ETH; do
		for tf in 1m 1h; do
			chaos_equal_truth "$db" $m $tf $from $to
		done
	done
}

@test "cp-query query, gaps and export under memcheck: no error, no leak" {
	local db="$BATS_TEST_TMPDIR/q.db"
	collect --db "$db" --market KRW-BTC --timeframe 1m --from 2026-09-01T00:00:00 \
		--to 2026-09-01T12:00:00 --rate 0 --quiet
	local q="$ROOT/query/cp-query"
	$VG "$q" query --db "$db" --market KRW-BTC --timeframe 1m --from 2026-09-01T00:00:00 \
		--to 2026-09-02T00:00:00 --format csv --fill forward >"$BATS_TEST_TMPDIR/q.csv"
	$VG "$q" gaps --db "$db" --market KRW-BTC --timeframe 1m >"$BATS_TEST_TMPDIR/gaps.txt"
	$VG "$q" export --db "$db" --market all --timeframe 1m --format jsonl --output "$BATS_TEST_TMPDIR/e.jsonl"
	vg_clean 3
	# 720 stored minutes in the csv (header + rows), and the export agrees
	[ "$(grep -c '^KRW-BTC' "$BATS_TEST_TMPDIR/q.csv")" -ge 700 ]
	[ "$(wc -l <"$BATS_TEST_TMPDIR/e.jsonl")" -eq "$(sqlite3 "$db" 'select count(*) from candles')" ]
}

@test "upbit-sim under memcheck: no error, no leak" {
	local w="$BATS_TEST_TMPDIR/sim-vg"
	printf '#!/bin/sh\nexec %s %s "$@"\n' "$VG" "$ROOT/sim/upbit-sim" >"$w"
	chmod +x "$w"
	SIM_BIN=$w start_sim --rate-limit 5 --fault-rate 0.2 --faults 500,502,truncate,garbage
	local u=$SIM_URL c
	curl -s "$u/v1/market/all" | jq -e 'length > 10'
	for c in "minutes/1?market=KRW-BTC&count=200" "days?market=KRW-ETH&count=5" \
		"weeks?market=KRW-BTC" "minutes/7?market=KRW-BTC" "minutes/1?market=NOPE" \
		"seconds?market=KRW-BTC&count=201" "months?market=KRW-BTC&to=garbage"; do
		curl -s -o /dev/null "$u/v1/candles/$c"
	done
	# enough at once to meet the rate limit (429)
	for c in 1 2 3 4 5 6 7 8 9 10 11 12; do
		curl -s -o /dev/null -w '%{http_code}\n' "$u/v1/candles/minutes/1?market=KRW-BTC"
	done | grep -q 429
	stop_sim "$SIM_PID"
	for c in $(seq 100); do kill -0 "$SIM_PID" 2>/dev/null || break; sleep 0.1; done
	vg_clean 1
}
