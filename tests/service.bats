#!/usr/bin/env bats
# The candle service (./run.sh start|stop|status|cancel): one pipeline per
# database in the background, the planner a daemon with a control socket;
# ./run.sh collect submits to it when it runs. Every test starts its own
# simulator and service in a private run directory and stops both.

load pipeline_helpers

PLANNER="$ROOT/planner/cp-planner"

setup() {
	RUN="$BATS_TEST_TMPDIR/run" DB="$BATS_TEST_TMPDIR/d.db"
	start_sim --rate-limit 0 --latency-ms 20
}

teardown() {
	local p
	# the service (its own processes stop with it), then what a test started
	"$ROOT/run.sh" stop --db "$DB" --run-dir "$RUN" >/dev/null 2>&1 3>&- || true
	for p in ${OWN_PIDS:-}; do
		kill -TERM "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	stop_sim
}

svc() { # COMMAND ARGS...: a run.sh service command on $DB, $RUN
	local c=$1
	shift
	"$ROOT/run.sh" "$c" --db "$DB" --run-dir "$RUN" "$@" 3>&-
}

start_svc() {
	svc start --api-url "$SIM_URL" --rate 0 "$@"
}

slow_svc() { # MS: the service over a simulator that answers in MS ms
	stop_sim
	start_sim --rate-limit 0 --latency-ms "$1"
	start_svc
}

equal_truth() { # M TF FROM TO: the database holds the simulator's truth
	local t="$BATS_TEST_TMPDIR/truth"
	truth "$@" >"$t" && [ -s "$t" ] && diff "$t" <(db_dump "$DB" "$@")
}

@test "service: the planner daemon with no work says it is ready (--notify-fd)" {
	mkdir -p "$RUN" && chmod 700 "$RUN"
	"$PLANNER" --daemon --control "ipc://$RUN/control.sock" --db "$DB" \
		--work "ipc://$RUN/work.sock" --quiet --notify-fd 5 5>"$BATS_TEST_TMPDIR/ready" \
		2>"$BATS_TEST_TMPDIR/planner.log" 3>&- &
	OWN_PIDS=$!
	wait_for test -s "$BATS_TEST_TMPDIR/ready"
	[ "$(cat "$BATS_TEST_TMPDIR/ready")" = "" ]
	[ "$(wc -l <"$BATS_TEST_TMPDIR/ready")" -eq 1 ]
	[ -S "$RUN/control.sock" ]
}

# signal_cancels PID SIG CODE JOB OUT: SIG to the collect PID once it has
# submitted JOB (its output in OUT): it exits CODE and JOB is cancelled
signal_cancels() {
	local rc=0
	wait_for grep -q "job $4 submitted" "$5"
	kill "-$2" "$1"
	wait "$1" || rc=$?
	cat "$5"
	[ "$rc" -eq "$3" ]
	run svc status "$4"
	echo "$output"
	[[ "$output" == *"job $4 cancelled"* ]]
}

# gone PID: no such process, or one that has exited and waits to be
# reaped (a zombie: the service's parent is init, which may be slow to reap
# on a loaded machine; its lock and files are released already)
gone() {
	! kill -0 "$1" 2>/dev/null || [[ "$(ps -o stat= -p "$1")" == Z* ]]
}

# svc_pids: the service's pid and its processes' (from its run directory)
svc_pids() {
	head -n 1 "$RUN/service.pid"
	awk '$2 != "-" { print $2 }' "$RUN/service.procs"
}

@test "service: start returns once ready; status shows it; stop leaves no process; then none runs" {
	run start_svc
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"the service of $DB is ready (pid "* ]]
	[ -S "$RUN/control.sock" ]
	[ "$(stat -c %a "$RUN")" = 700 ]
	local -a pids
	mapfile -t pids < <(svc_pids)
	[ "${#pids[@]}" -eq 5 ] # the service, the writer, the planner, 2 fetchers
	# the budget of a source appears once its fetcher has said hello
	wait_for eval 'svc status 2>&1 | grep -q "^budget: source "'
	run svc status
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"service: pid ${pids[0]}, database $DB"* ]]
	[[ "$output" == *"processes: writer="*" planner="*" fetcher0="* ]]
	[[ "$output" == *"uptime: "* ]]
	[[ "$output" == *"budget: source "* ]]
	[[ "$output" == *"jobs: none"* ]]
	run svc stop
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"stopped"* ]]
	local p
	for p in "${pids[@]}"; do
		gone "$p"
	done
	run svc stop
	[ "$status" -eq 1 ]
	[[ "$output" == "run.sh: no service running for $DB" ]]
	run svc status
	[ "$status" -eq 3 ]
	[[ "$output" == "run.sh: no service running for $DB" ]]
	run svc cancel 1
	[ "$status" -eq 3 ]
	# no service: collect is the embedded pipeline, as before
	run collect --db "$DB" --market KRW-BTC --timeframe 1h --from 2026-09-01 --to 2026-09-02
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" != *"submitting"* ]]
}

@test "service: a second start on the database says a service runs (pid) and exits 3" {
	start_svc --fetchers 1
	local pid
	pid=$(head -n 1 "$RUN/service.pid")
	run start_svc
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "${lines[0]}" == "run.sh: a service is already running on $DB (pid $pid,"* ]]
	kill -0 "$pid"
	run svc status
	[ "$status" -eq 0 ]
}

@test "service: a start that fails says why in one line with the code (3: not our database)" {
	echo "not a database" >"$DB"
	run start_svc
	echo "$output"
	[ "$status" -eq 3 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == "run.sh: the writer failed permanently (exit 3): "*"not a database"* ]]
	run svc status
	[ "$status" -eq 3 ]
	run start_svc --rate fast
	[ "$status" -eq 2 ]
	[[ "${lines[0]}" == "run.sh: --rate must be a number"* ]]
}

@test "service: collect submits to it, equals the truth, costs the ideal requests; a rerun none" {
	start_svc
	run collect --db "$DB" --market KRW-BTC --timeframe 1m --from 2026-10-01T00:00:00 --to 2026-10-01T15:00:00
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"submitting the collection to it"* ]]
	[[ "$output" == *"job 1 submitted"* ]]
	equal_truth KRW-BTC 1m 2026-10-01T00:00:00 2026-10-01T15:00:00
	[ "$(candle_requests)" -eq 5 ] # 900 dense minutes
	# --count: the same window as an embedded collection's
	run collect --db "$DB" --market KRW-BTC --timeframe 1m --count 900 --to 2026-10-01T15:00:00
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(candle_requests)" -eq 5 ]
	run svc status 2
	echo "$output"
	[[ "$output" == *"job 2 done: 900/900 slots (100.0%), 0 requests"* ]]
	[[ "$output" == *"KRW-BTC 1m 2026-10-01T00:00:00Z .. 2026-10-01T15:00:00Z"* ]]
	# an unknown market is refused with its code (2), not 0
	run collect --db "$DB" --market KRW-NOPE --timeframe 1m --count 10
	[ "$status" -eq 2 ]
	[[ "$output" == *"unknown market(s): KRW-NOPE"* ]]
}

@test "service: a collect whose daemon is killed (SIGKILL) mid-job submits it again and ends 0, equal to the truth" {
	slow_svc 150
	local out="$BATS_TEST_TMPDIR/c.out" rc=0 old
	collect --db "$DB" --market KRW-BTC --timeframe 1m --from 2026-10-01T00:00:00 \
		--to 2026-10-05T00:00:00 >"$out" 2>&1 &
	local pid=$!
	wait_for grep -q "job 1 submitted" "$out"
	# once some of it is stored, the daemon dies; the supervisor restarts it
	wait_for eval '[ "$(sqlite3 "$DB" "SELECT COUNT(*) FROM candles_exact" 2>/dev/null || echo 0)" -gt 0 ]'
	old=$(awk '$1 == "planner" { print $2 }' "$RUN/service.procs")
	kill -KILL "$old"
	wait "$pid" || rc=$?
	cat "$out"
	[ "$rc" -eq 0 ]
	grep -q "the daemon restarted: job 1 is gone; submitted again as job" "$out"
	grep -q "job 1 done: 5760/5760 slots" "$out"
	equal_truth KRW-BTC 1m 2026-10-01T00:00:00 2026-10-05T00:00:00
}

@test "service: two collects at once both succeed, and no range is fetched twice" {
	# slow answers: the second job arrives while the first has its segments out
	slow_svc 200
	local h p rc
	local -a pids=()
	# 00:00-10:00 and 05:00-15:00, from two "terminals" at once
	for h in 00 05; do
		collect --db "$DB" --market KRW-BTC --timeframe 1m --from "2026-10-01T$h:00:00" \
			--to "2026-10-01T$((10#$h + 10)):00:00" >"$BATS_TEST_TMPDIR/$h.out" 2>&1 &
		pids+=($!)
	done
	for p in "${pids[@]}"; do
		rc=0
		wait "$p" || rc=$?
		echo "collect $p: exit $rc"
		[ "$rc" -eq 0 ]
	done
	cat "$BATS_TEST_TMPDIR/"*.out
	grep -q "submitting the collection" "$BATS_TEST_TMPDIR/05.out"
	equal_truth KRW-BTC 1m 2026-10-01T00:00:00 2026-10-01T15:00:00
	# the union is 900 dense minutes: 5 requests of 200, each range once
	[ "$(candle_requests)" -eq 5 ]
}

@test "service: cancel ends a collect's job (it exits 1); SIGTERM on collect cancels its job" {
	slow_svc 300
	collect --db "$DB" --market KRW-BTC --timeframe 1m --from 2026-06-01 --to 2026-07-01 \
		>"$BATS_TEST_TMPDIR/c.out" 2>&1 &
	local c=$! rc=0
	wait_for grep -q "job 1 submitted" "$BATS_TEST_TMPDIR/c.out"
	run svc cancel 1
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == "run.sh: job 1 cancelled" ]]
	wait "$c" || rc=$?
	cat "$BATS_TEST_TMPDIR/c.out"
	[ "$rc" -eq 1 ]
	run svc cancel 1
	[ "$status" -eq 2 ]
	[[ "$output" == *"already cancelled"* ]]
	# a stopped collect cancels the job it submitted (run.sh itself signalled)
	"$ROOT/run.sh" collect --api-url "$SIM_URL" --run-dir "$RUN" --db "$DB" --market KRW-ETH --timeframe 1m --from 2026-06-01 --to 2026-07-01 \
		>"$BATS_TEST_TMPDIR/d.out" 2>&1 3>&- &
	signal_cancels $! TERM 143 2 "$BATS_TEST_TMPDIR/d.out"
}

@test "service: Ctrl-C on a collect cancels its job (exit 130)" {
	slow_svc 300
	# a background job ignores SIGINT: give run.sh the default, as a terminal does
	python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])' "$ROOT/run.sh" collect --api-url "$SIM_URL" --run-dir "$RUN" \
		--db "$DB" --market KRW-BTC --timeframe 1m --from 2026-05-01 --to 2026-06-01 \
		>"$BATS_TEST_TMPDIR/i.out" 2>&1 3>&- &
	signal_cancels $! INT 130 1 "$BATS_TEST_TMPDIR/i.out"
}

@test "service: --listen starts cp-serve; a covered request is answered from it, not upstream" {
	start_svc --listen 127.0.0.1:0
	run collect --db "$DB" --market KRW-BTC --timeframe 1m --from 2026-10-01T00:00:00 --to 2026-10-01T05:00:00
	[ "$status" -eq 0 ]
	run svc status
	echo "$output"
	[[ "$output" == *"http: http://127.0.0.1:$(cat "$RUN/server.port") (cp-serve)"* ]]
	[[ "$output" == *"server="* ]]
	local q="/v1/candles/minutes/1?market=KRW-BTC&to=2026-10-01T04:00:00Z&count=200"
	curl -sf "$SIM_URL$q" >"$BATS_TEST_TMPDIR/sim.json"
	local before
	before=$(candle_requests)
	curl -sf "http://127.0.0.1:$(cat "$RUN/server.port")$q" >"$BATS_TEST_TMPDIR/serve.json"
	[ "$(jq length "$BATS_TEST_TMPDIR/serve.json")" -eq 200 ]
	cmp "$BATS_TEST_TMPDIR/sim.json" "$BATS_TEST_TMPDIR/serve.json"
	[ "$(candle_requests)" -eq "$before" ]
	local spid
	spid=$(awk '$1 == "server" { print $2 }' "$RUN/service.procs")
	run svc stop
	[ "$status" -eq 0 ]
	gone "$spid"
}

@test "service: planner --validate --daemon without targets checks and exits 0 (start uses it)" {
	run "$PLANNER" --validate --daemon --control "ipc://$RUN/control.sock" --db "$DB" \
		--work "ipc://$RUN/work.sock" --rate 5
	echo "$output"
	[ "$status" -eq 0 ]
	run "$PLANNER" --validate --daemon --control "ipc://$RUN/control.sock" --db "$DB" \
		--work "ipc://$RUN/work.sock" --rate -1
	[ "$status" -eq 2 ]
	[ ! -e "$RUN" ]
}

@test "service: under systemd (NOTIFY_SOCKET) start --foreground says READY=1 once ready, and SIGTERM is exit 0" {
	command -v systemd-notify >/dev/null || skip "systemd-notify is not installed"
	local sock="$BATS_TEST_TMPDIR/notify.sock" got="$BATS_TEST_TMPDIR/notify.got"
	# systemd's side: a datagram socket that writes what it receives
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
while True:
    d = s.recv(4096).decode()
    with open(sys.argv[2], "a") as f:
        f.write(d + "\n")
    if "READY=1" in d:
        break
' "$sock" "$got" 3>&- &
	OWN_PIDS=$!
	wait_for test -S "$sock"
	NOTIFY_SOCKET=$sock "$ROOT/run.sh" start --foreground --db "$DB" --run-dir "$RUN" \
		--api-url "$SIM_URL" --rate 0 >"$BATS_TEST_TMPDIR/fg.out" 2>&1 3>&- &
	local fg=$!
	OWN_PIDS="$OWN_PIDS $fg"
	wait_for grep -q "READY=1" "$got"
	# ready means ready: the service answers and its processes run
	grep -q "is ready" "$BATS_TEST_TMPDIR/fg.out"
	grep -q "MAINPID=$fg" "$got"
	svc status >"$BATS_TEST_TMPDIR/status"
	kill -TERM "$fg"
	local rc=0
	wait "$fg" || rc=$?
	[ "$rc" -eq 0 ]
	[[ "$(cat "$BATS_TEST_TMPDIR/fg.out")" == *"the service stopped"* ]]
}

@test "service: --feature and a config file's [features] reach the daemon; a bad one is a usage error" {
	start_svc --feature hedge=off
	procs=$(cat "$RUN/service.procs")
	pid=$(awk '$1 == "planner" { print $2 }' <<<"$procs")
	[ -n "$pid" ]
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "--feature hedge=off"
	svc stop
	printf '[features]\nlookahead = off\n' >"$BATS_TEST_TMPDIR/c.conf"
	"$ROOT/run.sh" --config "$BATS_TEST_TMPDIR/c.conf" start --db "$DB" --run-dir "$RUN" \
		--api-url "$SIM_URL" --rate 0 3>&-
	pid=$(awk '$1 == "planner" { print $2 }' "$RUN/service.procs")
	[ -n "$pid" ]
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "--feature lookahead=off"
	svc stop
	run svc start --api-url "$SIM_URL" --feature bogus=on
	[ "$status" -eq 2 ]
	[[ "$output" == *"unknown feature 'bogus'"* ]]
}

@test "service: stop signals the pid the lock holder wrote, never a dead run's left in service.pid" {
	# service.pid is locked first and written just after: until then it may
	# still hold a run that died, whose pid is anybody's by now (a decoy here)
	mkdir -p "$RUN" && chmod 700 "$RUN"
	sleep 60 3>&- &
	local decoy=$! holder rc=0
	OWN_PIDS=$decoy
	printf '%s\n%s\n' "$decoy" "$DB" >"$RUN/service.pid"
	# the holder takes the lock, is slow to write (a loaded machine), then
	# writes its own pid and waits to be stopped
	bash -c 'exec {fd}<>"$1"; flock "$fd" || exit 9; sleep 1.5
		printf "%s\n%s\n" "$$" "$2" >"$1"; exec sleep 60' _ "$RUN/service.pid" "$DB" 3>&- &
	holder=$!
	OWN_PIDS="$OWN_PIDS $holder"
	wait_for eval '! flock -n "$RUN/service.pid" true'
	run svc stop --timeout 20
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == "run.sh: the service of $DB (pid $holder) stopped" ]]
	kill -0 "$decoy"
	wait "$holder" || rc=$?
	[ "$rc" -eq 143 ]
}
