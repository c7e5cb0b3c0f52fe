#!/usr/bin/env bash
# tests/chaos.sh: the long chaos run (`make chaos`), and the chaos library of
# tests/chaos.bats (sourced, it only defines the chaos_* functions).
#
#   tests/chaos.sh [--seconds N] [--seed S] [--victims LIST] [--keep]
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
# Library (tests/chaos.bats):
#   chaos_loop COLLECT_PID RUN_DIR VICTIMS [LONG_STOP_FETCHER]
#       until COLLECT_PID exits; LONG_STOP_FETCHER=1 makes the first action a
#       SIGSTOP of a fetcher past its lease.
#   chaos_check_db DB          integrity, duplicates, coverage vs truth
#   chaos_equal_truth DB M TF FROM TO
#   chaos_resume_all RUN_DIR   SIGCONT (then nothing else) everything of RUN_DIR
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

# chaos_pids KIND RUN_DIR: pids of cp-KIND processes of that run directory.
chaos_pids() {
	pgrep -f "^$CHAOS_ROOT/$1/cp-$1 .*ipc://$2/" || true
}

# Signals pid only if it still is one of our binaries.
chaos_signal() { # SIG PID
	grep -qa "$CHAOS_ROOT/[a-z]*/cp-" "/proc/$2/cmdline" 2>/dev/null || return 1
	kill -s "$1" "$2" 2>/dev/null
}

chaos_resume_all() { # RUN_DIR
	local k p
	for k in planner writer fetcher; do
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

# ---- the long run ---------------------------------------------------------

chaos_main() {
	local seconds=${CHAOS_SECONDS:-300} victims=planner,writer,fetcher keep=0
	while [ $# -gt 0 ]; do
		case $1 in
		--seconds) seconds=$2; shift 2 ;;
		--seed) CHAOS_SEED=$2; shift 2 ;;
		--victims) victims=$2; shift 2 ;;
		--keep) keep=1; shift ;;
		-h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; return 0 ;;
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
