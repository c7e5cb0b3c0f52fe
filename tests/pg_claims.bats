#!/usr/bin/env bats
# tests/pg_claims.bats: the daemon's jobs claim their ranges on PostgreSQL
# (issue 14, "Several collectors, one database"): two services, or a
# service and an embedded collect, with overlapping work on one database
# each fetch what the other does not hold (the truth, requests <= 1.05 x
# the ideal), one service's overlapping jobs wait on each other and never
# on their own claims, and a cancelled job's claims are deleted, so the
# other collector then fetches that range; two followers of one market
# share its live tail (each new candle fetched once), and one whose peer
# died holding new candles fetches them once their claims lapse (about a
# minute: CLAIMS_TTL_S). One throwaway server for the file
# (tests/pg_helpers.bash), one database per test. Skips, saying so in one
# line, without the server binaries.

load pg_helpers
load pipeline_helpers

setup_file() {
	load pg_helpers
	pg_suite_setup_file
}

teardown_file() {
	load pg_helpers
	pg_suite_teardown_file
}

setup() {
	FOLLOWERS=()
	RA="$BATS_TEST_TMPDIR/ra"
	RB="$BATS_TEST_TMPDIR/rb"
	pg_suite_setup
	start_sim --rate-limit 0 --latency-ms 5
}

teardown() {
	local r pid
	for pid in "${FOLLOWERS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${FOLLOWERS[@]}"; do wait "$pid" 2>/dev/null || true; done
	for r in "$RA" "$RB"; do
		"$ROOT/run.sh" stop --db "$DB" --run-dir "$r" >/dev/null 2>&1 3>&- || true
	done
	stop_all_sims
}

q() { pg_psql "$DB" -c "$1"; }
# start_svc RUNDIR SOURCE RATE: a service on $DB sending from SOURCE
start_svc() {
	"$ROOT/run.sh" start --db "$DB" --run-dir "$1" --api-url "$SIM_URL" --source-ip "$2" \
		--rate "$3" 3>&-
}
# svc_collect RUNDIR M FROM TO: a collect of M 1m submitted to RUNDIR's service
svc_collect() {
	"$ROOT/run.sh" collect --db "$DB" --run-dir "$1" --market "$2" --timeframe 1m \
		--from "$3" --to "$4" --quiet 3>&-
}
# embedded_collect RUNDIR SOURCE M FROM TO: a collect with its own pipeline
embedded_collect() {
	"$ROOT/run.sh" collect --api-url "$SIM_URL" --db "$DB" --run-dir "$1" --source-ip "$2" \
		--market "$3" --timeframe 1m --from "$4" --to "$5" --rate 20 --quiet 3>&-
}
# daemon_claims RUNDIR: how many claims the service of RUNDIR holds (its
# owner is named by its control socket)
daemon_claims() {
	q "SELECT count(*) FROM candlepipe.claims WHERE owner LIKE '%$1/control.sock'"
}

# overlap_once "A B" M FROM_A TO_A FROM_B TO_B: runs A and B (shell functions
# taking M FROM TO) at once; both exit 0, the database equals the truth
# over the union, its coverage is one row, no claim is left, and the
# simulator's candle requests stay within 1.05 x the ideal
overlap_once() {
	local m=$2 before after ideal got a b rc1=0 rc2=0 lo=$3 hi=$4
	local -a run=($1)
	before=$(candle_requests)
	"${run[0]}" "$m" "$3" "$4" >"$BATS_TEST_TMPDIR/$m.a" 2>&1 &
	a=$!
	"${run[1]}" "$m" "$5" "$6" >"$BATS_TEST_TMPDIR/$m.b" 2>&1 &
	b=$!
	wait $a || rc1=$?
	wait $b || rc2=$?
	cat "$BATS_TEST_TMPDIR/$m.a" "$BATS_TEST_TMPDIR/$m.b"
	[ "$rc1" -eq 0 ] && [ "$rc2" -eq 0 ]
	after=$(candle_requests)
	[[ "$5" > "$lo" ]] || lo=$5
	[[ "$6" < "$hi" ]] || hi=$6
	truth "$m" 1m "${lo}T00:00:00" "${hi}T00:00:00" >"$BATS_TEST_TMPDIR/truth"
	[ -s "$BATS_TEST_TMPDIR/truth" ]
	pg_db_dump "$DB" "$m" 1m "${lo}T00:00:00" "${hi}T00:00:00" | diff "$BATS_TEST_TMPDIR/truth" -
	[ "$(q "SELECT count(*) FROM candlepipe.coverage WHERE market = '$m'")" -eq 1 ]
	# every claim let go: the jobs' ranges are done
	wait_for eval '[ "$(q "SELECT count(*) FROM candlepipe.claims")" -eq 0 ]'
	ideal=$((($(q "SELECT count(*) FROM candlepipe.candles WHERE market = '$m'") + 199) / 200))
	got=$((after - before))
	echo "$m: $got requests, ideal $ideal" >&3
	[ $((got * 100)) -le $((ideal * 105)) ]
}

svc_a() { svc_collect "$RA" "$@"; }
svc_b() { svc_collect "$RB" "$@"; }
emb_b() { embedded_collect "$RB" 127.0.0.3 "$@"; }

@test "pg claims: two services, overlapping jobs: the truth, requests <= 1.05 x ideal" {
	start_svc "$RA" 127.0.0.2 20
	start_svc "$RB" 127.0.0.3 20
	overlap_once "svc_a svc_b" KRW-BTC 2026-03-01 2026-03-11 2026-03-06 2026-03-16
	overlap_once "svc_a svc_b" KRW-ETH 2026-03-01 2026-03-11 2026-03-03 2026-03-09
	overlap_once "svc_a svc_b" KRW-XRP 2026-03-05 2026-03-15 2026-03-01 2026-03-19
	# a job that waited on the other service's claims says so in its log
	cat "$RA/planner.log" "$RB/planner.log" | grep -q "held by another collector; planned around"
}

@test "pg claims: a service and an embedded collect, overlapping: the truth, requests <= 1.05 x ideal" {
	start_svc "$RA" 127.0.0.2 20
	overlap_once "svc_a emb_b" KRW-BTC 2026-03-01 2026-03-11 2026-03-06 2026-03-16
	overlap_once "emb_b svc_a" KRW-ETH 2026-03-01 2026-03-11 2026-03-03 2026-03-09
	overlap_once "svc_a emb_b" KRW-XRP 2026-03-05 2026-03-15 2026-03-01 2026-03-19
}

@test "pg claims: one service, overlapping jobs: they wait on each other, not on their own claims" {
	start_svc "$RA" 127.0.0.2 20
	overlap_once "svc_a svc_a" KRW-BTC 2026-03-01 2026-03-11 2026-03-06 2026-03-16
	overlap_once "svc_a svc_a" KRW-ETH 2026-03-01 2026-03-11 2026-03-03 2026-03-09
	# its own claims are never another collector's
	run grep -c "held by another collector" "$RA/planner.log"
	[ "$output" = 0 ]
}

@test "pg claims: a job waiting on another collector says so; the other's job cancelled, its claims are gone and the range is fetched" {
	local from=2026-03-01 to=2026-03-06 a b rc=0 before after ideal got
	# A fetches slowly (1 request/s): its claim on the range stays for the test
	start_svc "$RA" 127.0.0.2 1
	start_svc "$RB" 127.0.0.3 20
	before=$(candle_requests)
	svc_collect "$RA" KRW-BTC $from $to >"$BATS_TEST_TMPDIR/a" 2>&1 &
	a=$!
	wait_for eval '[ "$(daemon_claims "$RA")" -ge 1 ]'
	svc_collect "$RB" KRW-BTC $from $to >"$BATS_TEST_TMPDIR/b" 2>&1 &
	b=$!
	# B's job plans around A's claim: fetching, and its status says why
	wait_for grep -q "held by another collector; planned around" "$RB/planner.log"
	run "$ROOT/run.sh" status --db "$DB" --run-dir "$RB" 3>&-
	echo "$output"
	[[ "$output" == *"job 1 fetching"* ]]
	[[ "$output" == *"not covered: KRW-BTC 1m "*"(waits on another collector)"* ]]
	[ "$(daemon_claims "$RB")" -eq 0 ]
	# A's job cancelled: exactly its claims are deleted
	"$ROOT/run.sh" cancel 1 --db "$DB" --run-dir "$RA" 3>&-
	wait $a || rc=$?
	cat "$BATS_TEST_TMPDIR/a"
	[ "$rc" -eq 1 ]
	wait_for eval '[ "$(daemon_claims "$RA")" -eq 0 ]'
	# B then fetches what A left
	rc=0
	wait $b || rc=$?
	cat "$BATS_TEST_TMPDIR/b"
	[ "$rc" -eq 0 ]
	grep -q "free again; fetching" "$RB/planner.log"
	truth KRW-BTC 1m "${from}T00:00:00" "${to}T00:00:00" |
		diff - <(pg_db_dump "$DB" KRW-BTC 1m "${from}T00:00:00" "${to}T00:00:00")
	wait_for eval '[ "$(q "SELECT count(*) FROM candlepipe.claims")" -eq 0 ]'
	# nothing was fetched twice but what A had in flight when cancelled
	after=$(candle_requests)
	ideal=$(((7200 + 199) / 200))
	got=$((after - before))
	echo "cancel: $got requests, ideal $ideal" >&3
	[ "$got" -le $((ideal + 2)) ]
}

# follower RUNDIR SOURCE: collect --follow of KRW-BTC 1s on $DB in the
# background (its output in RUNDIR.out), its pid appended to FOLLOWERS
follower() {
	"$ROOT/run.sh" collect --follow --api-url "$SIM_URL" --db "$DB" --run-dir "$1" \
		--source-ip "$2" --market KRW-BTC --timeframe 1s --count 5 --rate 0 \
		--hedge-after-ms 10000 --quiet \
		>"$1.out" 2>&1 3>&- &
	FOLLOWERS+=($!)
}
# following RUNDIR: its backfill is done, it follows
following() { grep -q "backfill done; following" "$1.out"; }
# second_requests: the simulator's 1s candle requests so far
second_requests() { sim_stat '.by_route["candles/seconds"]'; }
# half_second: waits until the wall clock is half-way through a second,
# when no follower's tail request is due (each candle is fetched 1 s after
# its close, on the second); prints that second
half_second() {
	local ms
	while ms=$(date +%s%3N); [ $((ms % 1000)) -lt 400 ] || [ $((ms % 1000)) -gt 600 ]; do
		sleep 0.05
	done
	echo $((ms / 1000))
}
# stop_followers: SIGTERM to each; each must exit 0 (a clean stop)
stop_followers() {
	local pid rc
	for pid in "${FOLLOWERS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${FOLLOWERS[@]}"; do
		rc=0
		wait "$pid" || rc=$?
		[ "$rc" -eq 0 ] || { echo "follower $pid exited $rc"; return 1; }
	done
	FOLLOWERS=()
}

# tail_shared: N seconds (default 20) of the live tail of KRW-BTC 1s that
# two followers share: one follower alone fetches each new candle with one
# request, N in all (a late tick that takes two at once makes it fewer);
# two that do not share the tail make 2 x N. The requests must stay within
# 1.05 x N. Sets T1, the end of the window.
tail_shared() {
	local n=${1:-20} t0 before after
	t0=$(half_second)
	before=$(second_requests)
	while [ "$(date +%s)" -lt $((t0 + n)) ]; do sleep 0.1; done
	T1=$(half_second)
	after=$(second_requests)
	echo "live tail: $((after - before)) requests in $((T1 - t0)) s" >&3
	[ $(((after - before) * 100)) -le $(((T1 - t0) * 105)) ]
}
# tail_truth: the database equals the truth over what the followers stored
# (one coverage row, reaching T1 - 2), and no claim is left
tail_truth() {
	[ "$(q "SELECT count(*) FROM candlepipe.coverage WHERE market = 'KRW-BTC'")" -eq 1 ]
	coverage_is_truth
	[ "$(date -u -d "$COV_TO" +%s)" -ge $((T1 - 2)) ]
	wait_for eval '[ "$(q "SELECT count(*) FROM candlepipe.claims")" -eq 0 ]'
}
# coverage_is_truth: the KRW-BTC 1s candles over the one coverage row equal
# the truth (not empty); sets COV_TO, the row's end
coverage_is_truth() {
	local from
	from=$(q "SELECT to_char(lower(span), 'YYYY-MM-DD\"T\"HH24:MI:SS') FROM candlepipe.coverage")
	COV_TO=$(q "SELECT to_char(upper(span), 'YYYY-MM-DD\"T\"HH24:MI:SS') FROM candlepipe.coverage")
	truth KRW-BTC 1s "$from" "$COV_TO" >"$BATS_TEST_TMPDIR/truth"
	[ -s "$BATS_TEST_TMPDIR/truth" ]
	pg_db_dump "$DB" KRW-BTC 1s "$from" "$COV_TO" | diff "$BATS_TEST_TMPDIR/truth" -
}

@test "pg claims: two followers of one market and timeframe: the truth, the live tail fetched once (requests <= 1.05 x one follower's)" {
	follower "$RA" 127.0.0.2
	follower "$RB" 127.0.0.3
	wait_for following "$RA"
	wait_for following "$RB"
	tail_shared
	stop_followers || { cat "$RA.out" "$RB.out"; false; }
	cat "$RA.out" "$RB.out"
	tail_truth
}

# svc_following RUNDIR: its service follows KRW-BTC 1s (the backfill done)
svc_following() {
	"$ROOT/run.sh" follow --list --db "$DB" --run-dir "$1" 3>&- |
		grep -q "follow KRW-BTC 1s: job [0-9]* following"
}

@test "pg claims: two services with the same standing follow: the truth, the live tail fetched once (requests <= 1.05 x one follower's)" {
	local r
	start_svc "$RA" 127.0.0.2 0
	"$ROOT/run.sh" follow --db "$DB" --run-dir "$RA" --market KRW-BTC --timeframe 1s \
		--backfill 5 3>&-
	wait_for svc_following "$RA"
	# the second service follows what the database's follows table holds
	start_svc "$RB" 127.0.0.3 0
	wait_for svc_following "$RB"
	tail_shared
	for r in "$RA" "$RB"; do "$ROOT/run.sh" stop --db "$DB" --run-dir "$r" 3>&-; done
	tail_truth
}

# pids_of KIND RUNDIR: the cp-KIND processes of the collect in RUNDIR
pids_of() { pgrep -f "^$ROOT/$1/cp-$1 .*$2/" || true; }
# b_caught_up: one coverage row, reaching a candle closed at most 3 s ago
b_caught_up() {
	[ "$(q "SELECT count(*) FROM candlepipe.coverage")" -eq 1 ] &&
		[ "$(q "SELECT extract(epoch FROM upper(span))::bigint FROM candlepipe.coverage")" -ge \
			$(($(date +%s) - 3)) ]
}

@test "pg claims: a follower whose peer dies holding new candles fetches them once its claims lapse" {
	local apid stopped
	follower "$RA" 127.0.0.2
	follower "$RB" 127.0.0.3
	wait_for following "$RA"
	wait_for following "$RB"
	# A's fetchers frozen: the new candles A claims stay claimed, unfetched
	apid=$(pids_of planner "$RA")
	[ -n "$apid" ]
	kill -STOP $(pids_of fetcher "$RA")
	# a claim of a candle that opened after the stop: no fetcher of A can
	# have its answer (one claimed before may still be committed and released)
	stopped=$(($(date +%s) + 1))
	wait_for eval '[ "$(q "SELECT count(*) FROM candlepipe.claims WHERE owner LIKE '"'%/$apid/%'"' AND extract(epoch FROM lower(span)) >= $stopped")" -ge 1 ]'
	# then A dies at once, all of it: its claims stay until they lapse
	kill -KILL "${FOLLOWERS[0]}" $(pids_of planner "$RA") $(pids_of writer "$RA") \
		$(pids_of fetcher "$RA")
	wait "${FOLLOWERS[0]}" || true
	FOLLOWERS=("${FOLLOWERS[1]}")
	[ "$(q "SELECT count(*) FROM candlepipe.claims WHERE owner LIKE '%/$apid/%'")" -ge 1 ]
	# B follows on, and once A's claims lapse (CLAIMS_TTL_S, 60 s) it
	# fetches the candles it had deferred to A: no gap is left
	WAIT_FOR_S=100 wait_for grep -q "free again; fetching" "$RB.out"
	wait_for b_caught_up
	[ "$(q "SELECT count(*) FROM candlepipe.claims WHERE owner LIKE '%/$apid/%'")" -eq 0 ]
	stop_followers || { cat "$RB.out"; false; }
	cat "$RB.out"
	coverage_is_truth
	[ "$(q "SELECT count(*) FROM candlepipe.claims")" -eq 0 ]
}
