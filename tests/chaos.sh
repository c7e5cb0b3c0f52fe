#!/usr/bin/env bash
# tests/chaos.sh: the long chaos run (`make chaos`), and the chaos library of
# tests/chaos.bats (sourced, it only defines the chaos_* functions).
#
#   tests/chaos.sh [--seconds N] [--seed S] [--victims LIST] [--keep] [--service]
#
# Starts an offline simulator (Upbit's 10 requests/s, 20 ms latency) and runs
# rounds of `./run.sh collect` into one database for N seconds (default
# $CHAOS_SECONDS or 300). During every collection a chaos loop picks a victim
# every 1-3 s among LIST (default planner,writer,fetcher) and either kills it
# (SIGKILL) or freezes it (SIGSTOP) for 2-4 s, sometimes for longer than the
# planner's lease (15 s + 1 s of slack), then resumes it (SIGCONT). run.sh
# restarts a dead writer, fetcher or planner (a round that still fails runs
# the same command again, with chaos, until it exits 0). The monkey kills
# far faster than any real crash loop, so run.sh's crash-loop tally is
# widened for it (CP_CRASH_LOOP=1000/60, unless set). After every collect,
# whatever its status:
#   - PRAGMA integrity_check is ok, no (market, timeframe, start) twice;
#   - every coverage row stores exactly the simulator's truth inside it
#     (coverage never claims what is not stored).
# After every round the requested range equals the truth byte for byte.
# Every action is logged with the seed ($CHAOS_SEED, default $RANDOM) to
# stdout and to chaos.log in the work directory; bash's RANDOM is seeded with
# it, so the same seed replays the same sequence of choices (the moments
# still depend on the machine). Exit 0 if every check held, 1 otherwise.
#
# --service: the same rounds against a service (./run.sh start --listen,
# victims planner,writer,fetcher,serve): each round submits two overlapping
# collects to it while HTTP clients ask cp-serve for 200-candle windows of
# a range stored before the round and of the ranges in flight; every 200
# answer must be the truth (an error is fine, a wrong candle is not).
#
# Library (tests/chaos.bats):
#   chaos_loop COLLECT_PID RUN_DIR VICTIMS [LONG_STOP_FETCHER]
#       until COLLECT_PID exits; LONG_STOP_FETCHER=1 makes the first action a
#       SIGSTOP of a fetcher past its lease.
#   chaos_check_db DB          integrity, duplicates, coverage vs truth
#   chaos_equal_truth DB M TF FROM TO
#   chaos_resume_all RUN_DIR   SIGCONT (then nothing else) everything of RUN_DIR
#   chaos_http_loop RUN_DIR OUT M FROM TO   (in the background) until
#       OUT.stop exists: GET /v1/candles/minutes/1?market=M&to=T&count=200
#       of cp-serve for random T in (FROM + 200 min, TO]; OUT.ok, OUT.err
#       count the 200 answers equal to the truth and the errors; OUT.wrong
#       holds every 200 answer that is not the truth
#   chaos_service_round DB RUN_DIR VICTIMS M1 M2 FROM TO
#       two overlapping collects (M1,M2 [FROM, TO) and M1 of its second
#       half onwards) submitted to the service of DB, with HTTP clients;
#       once both jobs are in flight the daemon is frozen past its clients'
#       answer timeout, resumed, and killed, then the chaos loop; reruns a collect that does not end 0 (retries may
#       run out under chaos), then checks both ranges against the truth.
#       Sets CHAOS_ROUND_FAILS and CHAOS_ACTIONS.
# Set CHAOS_SEED, CHAOS_LOG, CHAOS_SIM_SEED (the simulator's --seed) first.
export CP_CRASH_LOOP=${CP_CRASH_LOOP:-1000/60}

CHAOS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHAOS_LEASE_S=${CHAOS_LEASE_S:-16}   # planner: PLAN_LEASE_BASE_MS + 1 s slack
: "${CHAOS_LOG:=/dev/null}"
: "${CHAOS_SEED:=$RANDOM}"

chaos_now_ms() {
	local t=${EPOCHREALTIME/./}
	echo $((t / 1000))
}

chaos_log() {
	local line
	line="$(date -u +%H:%M:%S.%3N) chaos seed=$CHAOS_SEED $*"
	echo "$line" >>"$CHAOS_LOG"
	[ -z "${CHAOS_ECHO:-}" ] || echo "$line"
}

# chaos_pids KIND RUN_DIR: pids of cp-KIND processes of that run directory
# (not the control clients, cp-planner ctl, of collects through a service).
chaos_pids() {
	pgrep -af "^$CHAOS_ROOT/$1/cp-$1 .*$2/" | grep -v "^[0-9]* [^ ]* ctl " | cut -d' ' -f1 || true
}

# Signals pid only if it still is one of our binaries.
chaos_signal() { # SIG PID
	grep -qa "$CHAOS_ROOT/[a-z]*/cp-" "/proc/$2/cmdline" 2>/dev/null || return 1
	kill -s "$1" "$2" 2>/dev/null
}

chaos_resume_all() { # RUN_DIR
	local k p
	for k in planner writer fetcher serve; do
		for p in $(chaos_pids "$k" "$1"); do kill -CONT "$p" 2>/dev/null; done
	done
}

# chaos_loop COLLECT_PID RUN_DIR VICTIMS [LONG_STOP_FETCHER]
# Returns when COLLECT_PID is gone, with every frozen process resumed.
# Sets CHAOS_ACTIONS (count) and CHAOS_KINDS_HIT (victim kinds, space list).
chaos_loop() {
	local cpid=$1 run_dir=$2 victims=$3 long_first=${4:-0}
	local -a kinds pids excl
	local -A cont_at=() cont_name=() long_frozen=()
	local now next kind pid r hold action n first=1
	IFS=, read -r -a kinds <<<"$victims"
	CHAOS_ACTIONS=0
	CHAOS_KINDS_HIT=""
	next=$(( $(chaos_now_ms) + 1000 + RANDOM % 2001 ))
	while kill -0 "$cpid" 2>/dev/null; do
		now=$(chaos_now_ms)
		for pid in "${!cont_at[@]}"; do
			if [ "$now" -ge "${cont_at[$pid]}" ]; then
				chaos_signal CONT "$pid" && chaos_log "SIGCONT ${cont_name[$pid]} pid $pid"
				unset "cont_at[$pid]" "cont_name[$pid]" "long_frozen[$pid]"
			fi
		done
		if [ "$now" -ge "$next" ]; then
			r=$RANDOM
			if [ "$first" = 1 ] && [ "$long_first" = 1 ]; then
				kind=fetcher action=longstop
			else
				kind=${kinds[$((r % ${#kinds[@]}))]}
				r=$((RANDOM % 100))
				if [ "$r" -lt 55 ]; then action="kill"
				elif [ "$r" -lt 95 ] || [ -z "${CHAOS_LONG_STOPS:-}" ]; then action=stop
				else action=longstop
				fi
			fi
			first=0
			# a process frozen past its lease stays alive until resumed:
			# its late result is the point of freezing it
			excl=(-e "")
			for pid in "${!long_frozen[@]}"; do excl+=(-e "$pid"); done
			mapfile -t pids < <(chaos_pids "$kind" "$run_dir" | grep -vxF "${excl[@]}")
			n=${#pids[@]}
			r=$RANDOM
			if [ "$n" -gt 0 ]; then
				pid=${pids[$((r % n))]}
				case $action in
				kill)
					chaos_signal KILL "$pid" && chaos_log "SIGKILL $kind pid $pid"
					;;
				stop|longstop)
					if [ -n "${cont_at[$pid]:-}" ]; then
						chaos_log "skip: $kind pid $pid is already frozen"
					else
						if [ $action = stop ]; then
							hold=$((2000 + RANDOM % 2001))
						else
							hold=$((CHAOS_LEASE_S * 1000 + 1000 + RANDOM % 2001))
							long_frozen[$pid]=1
						fi
						if chaos_signal STOP "$pid"; then
							cont_at[$pid]=$((now + hold))
							cont_name[$pid]=$kind
							chaos_log "SIGSTOP $kind pid $pid for $hold ms"
						fi
					fi
					;;
				esac
				CHAOS_ACTIONS=$((CHAOS_ACTIONS + 1))
				[[ " $CHAOS_KINDS_HIT " == *" $kind "* ]] || CHAOS_KINDS_HIT="$CHAOS_KINDS_HIT $kind"
			else
				chaos_log "no $kind running (restarting?)"
			fi
			next=$((now + 1000 + RANDOM % 2001))
		fi
		sleep 0.1
	done
	for pid in "${!cont_at[@]}"; do
		chaos_signal CONT "$pid" && chaos_log "SIGCONT ${cont_name[$pid]} pid $pid (collect ended)"
	done
	return 0
}

chaos_truth() { # M TF FROM TO
	"$CHAOS_ROOT/sim/upbit-sim" truth --market "$1" --timeframe "$2" --from "$3" \
		--to "$4" ${CHAOS_SIM_SEED:+--seed "$CHAOS_SIM_SEED"}
}

# chaos_equal_truth DB M TF FROM TO: the stored candles of [FROM, TO) are the
# truth byte for byte (and the truth is not empty).
chaos_equal_truth() {
	local db=$1 m=$2 tf=$3 from=$4 to=$5 d
	d=$(mktemp -d)
	chaos_truth "$m" "$tf" "$from" "$to" >"$d/truth"
	"$CHAOS_ROOT/tests/db_dump.sh" "$db" "$m" "$tf" "$from" "$to" >"$d/db"
	if ! [ -s "$d/truth" ] || ! cmp -s "$d/truth" "$d/db"; then
		echo "chaos: $m $tf $from..$to differs from the truth" \
			"(truth $(wc -l <"$d/truth") lines, db $(wc -l <"$d/db") lines):"
		diff "$d/truth" "$d/db" | head -5
		rm -rf "$d"
		return 1
	fi
	rm -rf "$d"
}

# chaos_check_db DB: integrity ok, no duplicate key, every coverage row holds
# exactly the truth. Silent and 0 when all hold (a missing DB is fine).
chaos_check_db() {
	local db=$1 ic dups m tf from to rc=0
	[ -e "$db" ] || return 0
	ic=$(sqlite3 "$db" "PRAGMA integrity_check")
	if [ "$ic" != ok ]; then
		echo "chaos: integrity_check: $ic"
		return 1
	fi
	dups=$(sqlite3 "$db" "SELECT COUNT(*) FROM (SELECT 1 FROM candles_exact
		GROUP BY market, timeframe, candle_date_time_utc HAVING COUNT(*) > 1)")
	if [ "$dups" != 0 ]; then
		echo "chaos: $dups duplicate candles"
		return 1
	fi
	while IFS='|' read -r m tf from to; do
		[ -n "$m" ] || continue
		chaos_equal_truth "$db" "$m" "$tf" "$from" "$to" ||
			{ echo "chaos: coverage row $m $tf [$from, $to) claims what is not stored"; rc=1; }
	done < <(sqlite3 "$db" "SELECT market, timeframe, from_utc, to_utc FROM coverage")
	return $rc
}

# ---- chaos against the service ---------------------------------------------

# chaos_answer_ok ANSWER TRUTH: ANSWER (a JSON array, newest first) is the
# newest 200 lines of TRUTH (JSON lines, oldest first), every field equal
chaos_answer_ok() {
	python3 - "$1" "$2" <<'PY'
import json, sys
from decimal import Decimal
load = lambda s: json.loads(s, parse_float=Decimal)
got = load(open(sys.argv[1]).read())
want = [load(l) for l in open(sys.argv[2]) if l.strip()][-200:][::-1]
sys.exit(0 if isinstance(got, list) and got == want and len(got) == 200 else 1)
PY
}

chaos_http_loop() { # RUN_DIR OUT M FROM TO
	local run=$1 out=$2 m=$3 from to t code ok=0 errs=0 port
	from=$(date -u -d "$4" +%s) to=$(date -u -d "$5" +%s)
	: >"$out.wrong"
	while [ ! -e "$out.stop" ]; do
		t=$((from + 200 * 60 + (RANDOM * 32768 + RANDOM) % ((to - from) / 60 - 199) * 60))
		# none while cp-serve restarts (run.sh removes it first): an error
		port=$(cat "$run/server.port" 2>/dev/null) || port=""
		# a timeout under chaos is an error counted, not the loop's end
		code=$(curl -s -o "$out.body" -w '%{http_code}' --max-time 10 \
			"http://127.0.0.1:${port:-1}/v1/candles/minutes/1?market=$m&to=$(date -u -d "@$t" +%Y-%m-%dT%H:%M:%S)Z&count=200") ||
			code=000
		if [ "$code" = 200 ]; then
			chaos_truth "$m" 1m "$(date -u -d "@$((t - 2000 * 60))" +%Y-%m-%dT%H:%M:%S)" \
				"$(date -u -d "@$t" +%Y-%m-%dT%H:%M:%S)" >"$out.truth"
			if chaos_answer_ok "$out.body" "$out.truth"; then
				ok=$((ok + 1))
			else
				{ echo "WRONG $m to=$t:"; head -c 300 "$out.body"; echo; } >>"$out.wrong"
			fi
		else
			errs=$((errs + 1))
			sleep 0.1
		fi
		echo "$ok" >"$out.ok"
		echo "$errs" >"$out.err"
	done
}

# chaos_svc_collect N DB RUN_DIR ARGS...: collect ARGS through the service
# in the background ($! is run.sh), its output in $CHAOS_WORK/svc.N.out
chaos_svc_collect() {
	local n=$1 db=$2 run=$3
	shift 3
	"$CHAOS_ROOT/run.sh" collect --db "$db" --run-dir "$run" --quiet --skip-market-check "$@" \
		>"$CHAOS_WORK/svc.$n.out" 2>&1 3>&- &
}

# chaos_daemon_hits DB RUN_DIR: once both collects have submitted and
# candles are being stored, the daemon is frozen for 4 s (longer than its
# clients wait for an answer), resumed, then killed
chaos_daemon_hits() {
	local pid end=$((SECONDS + 60))
	# a deadline, not a count of polls: each poll is slow on a loaded machine
	while ((SECONDS < end)); do
		grep -q submitted "$CHAOS_WORK/svc.1.out" && grep -q submitted "$CHAOS_WORK/svc.2.out" &&
			[ "$(sqlite3 "$1" "SELECT COUNT(*) FROM candles_exact" 2>/dev/null || echo 0)" -gt 2880 ] && break
		sleep 0.1
	done
	pid=$(chaos_pids planner "$2")
	chaos_signal STOP "$pid" && chaos_log "SIGSTOP planner (the daemon) pid $pid for 4000 ms"
	sleep 4
	chaos_signal CONT "$pid" && chaos_log "SIGCONT planner pid $pid"
	sleep 1
	chaos_signal KILL "$pid" && chaos_log "SIGKILL planner (the daemon) pid $pid"
	return 0
}

chaos_service_round() { # DB RUN_DIR VICTIMS M1 M2 FROM TO
	local db=$1 run=$2 victims=$3 m1=$4 m2=$5 from=$6 to=$7 mid c1 c2 w h1 h2 rc1 rc2
	mid=$(date -u -d "@$((($(date -u -d "$from" +%s) + $(date -u -d "$to" +%s)) / 2 / 86400 * 86400))" +%Y-%m-%dT%H:%M:%S)
	CHAOS_ROUND_FAILS=0
	rm -f "$CHAOS_WORK"/http.*.stop
	# clients of a range stored before (the previous rounds') and of the
	# ranges in flight
	chaos_http_loop "$run" "$CHAOS_WORK/http.1" "$m1" "$CHAOS_STORED_FROM" "$CHAOS_STORED_TO" &
	h1=$!
	chaos_http_loop "$run" "$CHAOS_WORK/http.2" "$m1" "$from" "$to" &
	h2=$!
	chaos_svc_collect 1 "$db" "$run" --market "$m1,$m2" --timeframe 1m --from "$from" --to "$to"
	c1=$!
	chaos_svc_collect 2 "$db" "$run" --market "$m1" --timeframe 1m --from "$mid" --to "$to"
	c2=$!
	# the chaos loop lasts as long as either collect
	(while kill -0 "$c1" 2>/dev/null || kill -0 "$c2" 2>/dev/null; do sleep 0.1; done) &
	w=$!
	chaos_daemon_hits "$db" "$run"
	chaos_loop "$w" "$run" "$victims"
	# a collect that did not end 0 is run again below, not the caller's
	# end (under bats' set -e a bare failing wait would be)
	wait "$c1" && rc1=0 || rc1=$?
	wait "$c2" && rc2=0 || rc2=$?
	wait "$w"
	chaos_log "service round: collects exit $rc1 and $rc2 after $CHAOS_ACTIONS actions ($CHAOS_KINDS_HIT )"
	# retries may run out under chaos: the same command once more, calm
	for _ in 1 2; do
		[ "$rc1" -eq 0 ] || { chaos_svc_collect 3 "$db" "$run" --market "$m1,$m2" --timeframe 1m \
			--from "$from" --to "$to"; wait $! && rc1=0 || rc1=$?; }
		[ "$rc2" -eq 0 ] || { chaos_svc_collect 4 "$db" "$run" --market "$m1" --timeframe 1m \
			--from "$mid" --to "$to"; wait $! && rc2=0 || rc2=$?; }
	done
	touch "$CHAOS_WORK/http.1.stop" "$CHAOS_WORK/http.2.stop"
	wait "$h1" "$h2"
	chaos_log "http: $(cat "$CHAOS_WORK/http.1.ok") + $(cat "$CHAOS_WORK/http.2.ok") right answers," \
		"$(cat "$CHAOS_WORK/http.1.err") + $(cat "$CHAOS_WORK/http.2.err") errors," \
		"$(cat "$CHAOS_WORK"/http.*.wrong | grep -c '^WRONG') wrong"
	if [ "$rc1" -ne 0 ] || [ "$rc2" -ne 0 ]; then
		chaos_log "FAIL service round: a collect never exited 0 ($rc1, $rc2)"
		tail -3 "$CHAOS_WORK"/svc.*.out >>"$CHAOS_LOG"
		CHAOS_ROUND_FAILS=$((CHAOS_ROUND_FAILS + 1))
	fi
	if grep -q '^WRONG' "$CHAOS_WORK"/http.*.wrong; then
		chaos_log "FAIL service round: wrong HTTP answers"
		cat "$CHAOS_WORK"/http.*.wrong >>"$CHAOS_LOG"
		CHAOS_ROUND_FAILS=$((CHAOS_ROUND_FAILS + 1))
	fi
	chaos_check_db "$db" >>"$CHAOS_LOG" 2>&1 || CHAOS_ROUND_FAILS=$((CHAOS_ROUND_FAILS + 1))
	for m in "$m1" "$m2"; do
		chaos_equal_truth "$db" "$m" 1m "$from" "$to" >>"$CHAOS_LOG" 2>&1 ||
			{ chaos_log "FAIL service round: $m differs from the truth"; CHAOS_ROUND_FAILS=$((CHAOS_ROUND_FAILS + 1)); }
	done
	return 0
}

# chaos_service_start DB RUN_DIR API: a service with cp-serve on a free
# loopback port, and a range of KRW-BTC stored for the HTTP clients
# (CHAOS_STORED_FROM, CHAOS_STORED_TO)
chaos_service_start() {
	CHAOS_STORED_FROM=2026-07-01T00:00:00 CHAOS_STORED_TO=2026-07-03T00:00:00
	"$CHAOS_ROOT/run.sh" start --db "$1" --run-dir "$2" --api-url "$3" --fetchers 3 \
		--listen 127.0.0.1:0 >>"$CHAOS_LOG" 2>&1 3>&- || return 1
	"$CHAOS_ROOT/run.sh" collect --db "$1" --run-dir "$2" --quiet --skip-market-check \
		--market KRW-BTC --timeframe 1m --from "$CHAOS_STORED_FROM" --to "$CHAOS_STORED_TO" \
		>>"$CHAOS_LOG" 2>&1 3>&-
}

chaos_service_stop() { # DB RUN_DIR
	chaos_resume_all "$2"
	"$CHAOS_ROOT/run.sh" stop --db "$1" --run-dir "$2" >>"$CHAOS_LOG" 2>&1 3>&-
}

# ---- the long run ---------------------------------------------------------

# chaos_service_main WORK PORT SECONDS VICTIMS: the --service rounds; the
# number of failures in CHAOS_SVC_FAILS
chaos_service_main() {
	local work=$1 port=$2 end=$((SECONDS + $3)) victims=$4 db="$1/svc.db" run="$1/svc-run" fails=0 day m1
	local -a markets=(KRW-ETH KRW-ADA KRW-AVAX KRW-ZIL BTC-XRP KRW-MED)
	CHAOS_WORK=$work CHAOS_SVC_FAILS=1
	chaos_service_start "$db" "$run" "http://127.0.0.1:$port" || return 0
	while [ $SECONDS -lt "$end" ]; do
		day=$((1 + RANDOM % 20))
		m1=${markets[$((RANDOM % ${#markets[@]}))]}
		chaos_log "service round: KRW-BTC,$m1 1m from 2026-08-$(printf %02d "$day")"
		chaos_service_round "$db" "$run" "$victims" KRW-BTC "$m1" \
			"$(date -u -d "2026-08-01 + $day days" +%Y-%m-%dT00:00:00)" \
			"$(date -u -d "2026-08-01 + $((day + 5)) days" +%Y-%m-%dT00:00:00)"
		fails=$((fails + CHAOS_ROUND_FAILS))
	done
	chaos_service_stop "$db" "$run"
	CHAOS_SVC_FAILS=$fails
}

chaos_main() {
	local seconds=${CHAOS_SECONDS:-300} victims=planner,writer,fetcher keep=0 service=0
	while [ $# -gt 0 ]; do
		case $1 in
		--service) service=1; shift ;;
		--seconds) seconds=$2; shift 2 ;;
		--seed) CHAOS_SEED=$2; shift 2 ;;
		--victims) victims=$2; shift 2 ;;
		--keep) keep=1; shift ;;
		-h|--help) sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'; return 0 ;;
		*) echo "chaos.sh: unknown option '$1'" >&2; return 2 ;;
		esac
	done
	local work sim_pid port db run_dir end round=0 failures=0 reruns=0 actions=0
	work=$(mktemp -d /tmp/cp-chaos.XXXXXX)
	CHAOS_LOG="$work/chaos.log"
	CHAOS_ECHO=1
	CHAOS_LONG_STOPS=1
	CHAOS_SIM_SEED=$((CHAOS_SEED % 1000 + 1))
	RANDOM=$CHAOS_SEED
	db="$work/chaos.db"
	run_dir="$work/run"
	echo "chaos: seed $CHAOS_SEED, $seconds s, victims $victims, work dir $work"
	"$CHAOS_ROOT/sim/upbit-sim" --port 0 --port-file "$work/port" --latency-ms 20 \
		--seed "$CHAOS_SIM_SEED" >"$work/sim.out" 2>"$work/sim.log" &
	sim_pid=$!
	trap 'chaos_resume_all "$run_dir"; kill "$sim_pid" 2>/dev/null; exit 130' INT TERM
	for _ in $(seq 200); do [ -s "$work/port" ] && break; sleep 0.025; done
	port=$(cat "$work/port") || { echo "chaos: the simulator did not start"; return 1; }

	if [ "$service" = 1 ]; then
		[ "$victims" != planner,writer,fetcher ] || victims=planner,writer,fetcher,serve
		chaos_service_main "$work" "$port" "$seconds" "$victims"
		failures=$CHAOS_SVC_FAILS seconds=0
	fi
	local -a markets=(KRW-BTC KRW-ETH KRW-ADA KRW-AVAX KRW-ZIL BTC-XRP KRW-MED USDT-XRP)
	end=$((SECONDS + seconds))
	while [ $SECONDS -lt "$end" ]; do
		local m1 m2 day ndays from to rc attempt out cpid
		round=$((round + 1))
		m1=${markets[$((RANDOM % ${#markets[@]}))]}
		m2=${markets[$((RANDOM % ${#markets[@]}))]}
		[ "$m1" != "$m2" ] || m2=KRW-SOL
		day=$((1 + RANDOM % 20))
		ndays=$((5 + RANDOM % 10))
		from=$(date -u -d "2026-08-01 + $day days" +%Y-%m-%dT00:00:00)
		to=$(date -u -d "2026-08-01 + $((day + ndays)) days" +%Y-%m-%dT00:00:00)
		chaos_log "round $round: $m1,$m2 1m $from..$to"
		for ((attempt = 1; attempt <= 12; attempt++)); do
			out="$work/collect.$round.$attempt.out"
			"$CHAOS_ROOT/run.sh" collect --api-url "http://127.0.0.1:$port" --run-dir "$run_dir" \
				--db "$db" --market "$m1,$m2" --timeframe 1m --from "$from" --to "$to" \
				--fetchers 3 --quiet >"$out" 2>&1 &
			cpid=$!
			chaos_loop "$cpid" "$run_dir" "$victims"
			wait "$cpid"; rc=$?
			actions=$((actions + CHAOS_ACTIONS))
			chaos_log "round $round attempt $attempt: collect exit $rc after $CHAOS_ACTIONS actions ($CHAOS_KINDS_HIT )"
			if ! chaos_check_db "$db" >>"$CHAOS_LOG" 2>&1; then
				chaos_log "FAIL round $round attempt $attempt: the database breaks a promise (see above; replay: CHAOS_SEED=$CHAOS_SEED make chaos)"
				failures=$((failures + 1))
			fi
			[ "$rc" -eq 0 ] && break
			reruns=$((reruns + 1))
			grep -h "not covered\|run.sh:" "$out" | tail -3 | sed 's/^/    /' >>"$CHAOS_LOG"
		done
		if [ "$rc" -ne 0 ]; then
			chaos_log "FAIL round $round: collect never exited 0 (replay: CHAOS_SEED=$CHAOS_SEED make chaos)"
			failures=$((failures + 1))
		fi
		for m in "$m1" "$m2"; do
			if ! chaos_equal_truth "$db" "$m" 1m "$from" "$to" >>"$CHAOS_LOG" 2>&1; then
				chaos_log "FAIL round $round: $m differs from the truth (replay: CHAOS_SEED=$CHAOS_SEED make chaos)"
				failures=$((failures + 1))
			fi
		done
	done
	local stats
	stats=$(curl -s "http://127.0.0.1:$port/__sim/stats" |
		jq -c '.clients["127.0.0.1"] // {}' 2>/dev/null)
	kill "$sim_pid" 2>/dev/null
	wait "$sim_pid" 2>/dev/null
	chaos_log "done: $round rounds, $actions actions, $reruns reruns, $failures failures; simulator: ${stats:-?}"
	[ "$failures" -eq 0 ] || echo "chaos: $failures failures with seed $CHAOS_SEED (replay: CHAOS_SEED=$CHAOS_SEED make chaos)"
	if [ "$failures" -eq 0 ] && [ "$keep" = 0 ]; then
		rm -rf "$work"
	else
		echo "chaos: logs and database kept in $work"
	fi
	[ "$failures" -eq 0 ]
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	chaos_main "$@"
	exit $?
fi
