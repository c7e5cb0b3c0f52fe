#!/usr/bin/env bash
# run.sh: starts and supervises candlepipe's processes.
#
#   ./run.sh collect --market M[,M...] --timeframe TF[,TF...] [range] [options]
#   ./run.sh start --db PATH [pipeline options] [--listen ADDR:PORT]
#   ./run.sh stop|status --db PATH,  ./run.sh cancel --db PATH JOB
#   ./run.sh follow --db PATH --market M --timeframe TF [--backfill N] [--remove] [--list]
#   ./run.sh demo                 the simulator + a small collection, with progress
#   ./run.sh sim [sim options]    the offline Upbit simulator on its own
#   ./run.sh help
#
# collect starts the writer, the planner and N fetchers as separate processes
# connected by ZeroMQ (ipc sockets in a run directory), restarts any of them
# that dies (unless it exits with the "permanent" code 3), waits until
# the planner reports the requested ranges covered, stops everything and
# exits: 0 all covered, 1 not all covered or a temporary failure (run it
# again), 2 usage error (nothing started), 3 permanent failure (running
# again will not help). One collection per run directory (collect.pid, held
# with flock).
#
# start runs the same processes as a service in the background (the planner
# a daemon taking jobs on ipc://RUN_DIR/control.sock, see README "The
# candle service"); collect against a database whose service runs submits
# its job to it instead of starting a pipeline.
set -u

# Where the programs are: in a checkout next to this script (planner/
# cp-planner, ...); installed as $PREFIX/bin/candlepipe (make install sets
# CP_INSTALLED=1 below), in $PREFIX/libexec/candlepipe, found from this
# script's real path, so a copy staged under DESTDIR or a symlink works too.
CP_INSTALLED=0
SELF="$(realpath "${BASH_SOURCE[0]}")"
HERE="$(dirname "$SELF")"
cp_prog() { # DIR/NAME as in the checkout
	if [ "$CP_INSTALLED" = 1 ]; then echo "$HERE/../libexec/candlepipe/${1##*/}"; else echo "$HERE/$1"; fi
}
cp_data() { # DIR/NAME as in the checkout, a data file (share/candlepipe)
	if [ "$CP_INSTALLED" = 1 ]; then echo "$HERE/../share/candlepipe/${1##*/}"; else echo "$HERE/$1"; fi
}
PLANNER="$(cp_prog planner/cp-planner)"
FETCHER="$(cp_prog fetcher/cp-fetcher)"
WRITER="$(cp_prog writer/cp-writer)"
MONITOR="$(cp_prog monitor/cp-monitor)"
SIM="$(cp_prog sim/upbit-sim)"
QUERY="$(cp_prog query/cp-query)"
SERVE="$(cp_prog serve/cp-serve)"

# the exit codes of every process, run.sh's own included (common/exitcodes.h)
# shellcheck disable=SC2034 # the whole set, though run.sh names only some
EXIT_OK=0 EXIT_FAILED=1 EXIT_USAGE=2 EXIT_PERMFAIL=3 EXIT_TEMPFAIL=4
# children get SIGTERM if this script is killed (see common/proc.h)
export CP_DIE_WITH_PARENT=1
# the help an error names: the command the user typed
USAGE_HINT="./run.sh help"

# Every error has one shape: "run.sh: WHAT", then the help to read.
err() { echo "run.sh: $*" >&2; echo "try '$USAGE_HINT'" >&2; }
die() { local code=$1; shift; err "$@"; exit "$code"; }
die_usage() { die $EXIT_USAGE "$@"; }

usage() {
	cat <<'USAGE'
usage: ./run.sh COMMAND [options]

commands:
  collect   collect candles into SQLite (see below; ./run.sh collect --help);
            with a service running on the database, a job submitted to it
  start     start the pipeline as a service in the background (./run.sh start --help)
  stop      stop the service of a database (--db PATH)
  status    the service's jobs, their progress, the budget and its uptime (--db PATH)
  cancel    cancel a job of the service (--db PATH JOB)
  follow    add, remove or list the service's standing follow jobs (./run.sh follow --help)
  demo      start the bundled simulator and collect a few markets into data/demo.db
  query     candles of a range from the database, with a coverage report
            (--format table|csv|json|jsonl, --fill forward, --fetch-missing)
  gaps      never-fetched ranges and no-trade stretches of a market
  export    stream whole markets or ranges as csv or jsonl
  verify    check a database read-only, as fsck does (exit 0 clean, 1 problems)
  copy      copy a database into another, SQLite or PostgreSQL either way
            (--from SRC --to DST; ./run.sh copy --help)
  monitor   attach to a running collection: live view, --json, --prometheus
  serve     answer Upbit's candle API from the database (./run.sh serve --help)
  sim       run the offline Upbit simulator (./run.sh sim --help)
  check-config  check a config file: every error with its line
            (./run.sh check-config --help)
  help      this text

Every command but help, sim and demo reads the config file that --config
FILE or $CP_CONFIG names (installed: /etc/candlepipe/candlepipe.conf if it
exists; see candlepipe.conf(5)); the options given on the command line win.

USAGE
	usage_collect
}

usage_collect() {
	cat <<'USAGE'
usage: ./run.sh collect --market M[,M...]|all | --quote Q  --timeframe TF[,TF...]
                        RANGE [options]
  --market M[,M...]  Upbit market codes (KRW-BTC, BTC-ETH), or all
  --quote Q          every market quoted in KRW, BTC or USDT
  --market all and --quote expand from /v1/market/all; named markets are
  checked against it first (--skip-market-check skips that request).
  --timeframe TF[,TF...]  1s 1m 3m 5m 10m 15m 30m 1h 4h 1d 1w 1M 1y
                     (60m, 240m are aliases)
  RANGE is one of:
    --from T [--to T]     candles starting in [from, to); --to defaults to now
    --count N [--to T]    the N most recent closed intervals before --to (or now)
    --follow [--from T | --count N]  backfill, then keep every market and
                          timeframe up to date until stopped (SIGTERM, Ctrl-C)
  T is ISO 8601: 2026-01-31, 2026-01-31T09:00:00Z, 2026-01-31T18:00:00+09:00;
  a time without Z or an offset is UTC. The candle still forming is never
  collected; a range wholly in the future is refused.
options:
  --config FILE      options from a config file (candlepipe.conf(5)): those
                     given on the command line win
  --db PATH          database (default data/candles.db); its directory must
                     exist (only the default data/ is created)
  --fetchers N       fetcher processes (default 2)
  --source-ip A[,B]  fetcher i sends from address i (round robin); the rate
                     budget is per source address
  --api-url URL      Upbit base URL (default $UPBIT_API_URL or https://api.upbit.com)
  --cacert FILE      trust the CA certificates (PEM) in FILE for an https API
                     instead of the system's (a certificate refused: exit 3)
  --skip-market-check  collect named markets without asking /v1/market/all
  --rate N           candle requests/s per source address (default 10; 0 = unlimited)
  --inflight N       concurrent transfers per fetcher (default 4)
  --follow-delay-ms N  with --follow, fetch each candle N ms after it closes
                     (default 1000)
  --quiet, -q        no progress line
  --feature NAME=on|off  switch an optimisation (split, hedge, lookahead)
  --features FILE    the same as 'name = on|off' lines in a file
  --hedge-after-ms N a request is overdue after N ms and is raced by a second
                     copy (default: from the usual answer time)
  --guard-epoch-ms N the guard measures each optimisation on and off for N ms
                     and keeps it off when it is >20% worse (10000; 0 = no guard)
  --guard-after-ms N start the guard after N ms (30000)
  --run-dir DIR      where the ipc sockets, logs and pid file go
                     (default: /tmp/cp-<hash of db>)
  --tcp HOST:PORT    tcp endpoints on PORT..PORT+3 (work, results, events,
                     monitor) instead of ipc, so fetchers on other hosts can
                     join: cp-fetcher --work tcp://HOST:PORT --results
                     tcp://HOST:PORT+1 --events tcp://HOST:PORT+2
  --curve DIR        CURVE-encrypt and authenticate every socket; keys are
                     made in DIR on first use (server.key, client.key); give
                     remote fetchers server.key.pub and a client key
  -v, --verbose      verbose logs
  -h, --help         this text
exit status:
  0  every requested range is proven complete in the database
  1  not all covered, or a temporary failure (no network, a server error):
     run the same command again
  2  usage error: nothing was started
  3  permanent failure (the database is not ours, unreadable or from a newer
     version; another collection is running on it; a refused certificate):
     running again will not help
  130, 143  stopped by SIGINT, SIGTERM (with --follow a clean stop is 0)
USAGE
}

usage_service() {
	cat <<'USAGE'
usage: ./run.sh start [--config FILE] --db PATH [--fetchers N] [--rate N] [--api-url URL]
                      [--cacert FILE] [--inflight N] [--source-ip A[,B]]
                      [--listen ADDR:PORT [--token-file F]] [--run-dir DIR]
                      [--feature NAME=on|off] [--features FILE]
                      [-v] [--foreground [--notify-fd N]]
       ./run.sh stop --db PATH [--run-dir DIR] [--timeout S]
       ./run.sh status --db PATH [--run-dir DIR]
       ./run.sh cancel --db PATH [--run-dir DIR] JOB
       ./run.sh follow --db PATH --market M[,M...] --timeframe TF[,TF...]
                       [--backfill N] [--remove] [--list] [--run-dir DIR]

start runs the writer, the fetchers and the planner as a daemon (jobs on
ipc://RUN_DIR/control.sock), and with --listen the HTTP API (cp-serve), under
run.sh's supervision in the background (log: RUN_DIR/service.log, pid:
RUN_DIR/service.pid), and returns once they are ready. ./run.sh collect on the
same database then submits its job to the service. The options are collect's;
--listen ADDR:PORT (port 0: any, see status) and --token-file F are
cp-serve's. --foreground runs the service in this process (for a
supervisor); --notify-fd N writes a newline to fd N once it is ready.
follow adds a standing follow job for each market and timeframe: it fetches
the N candles before now (--backfill N, default 0), then each candle once it
closes, for as long as the service runs. It is kept in the database (the
follows table), so a restarted service follows it again, fetching only what
is missing. --remove drops it, --list shows each with its progress.
collect --follow on a database with a running service adds the same (the
backfill: its --count N, or its --from) and shows its progress until
Ctrl-C, which stops the showing, not the follow.
exit status:
  start   0 ready; 2 usage; 3 permanent (a service or a collection already
          runs on the database, a process failed permanently); 1 or 4
          temporary (not ready in time, a process did not start): run it again
  stop    0 stopped (every process gone); 1 no service was running;
          4 still running after --timeout S (30)
  status  0 shown; 3 no service running; 4 the service does not answer
  cancel  0 cancelled; 2 refused (no such job, already ended); 3 no service
  follow  0 added (or followed already), removed, listed; 2 usage or refused
          (an unknown market or timeframe, --remove of a follow there is not);
          3 no service; 4 the service does not answer
  --timeout S        stop: give up after S seconds (default 30), exit 4
  --market M[,M...], --timeframe TF[,TF...]  follow: the markets and timeframes
  --backfill N       follow: also fetch the N candles before now (default 0)
  --remove           follow: remove the follow jobs instead
  --list             follow: list every follow job, its state and progress
  -v, --verbose      verbose logs (RUN_DIR/writer.log, planner.log, ...)
  -h, --help         this text
USAGE
}

usage_demo() {
	cat <<'USAGE'
usage: ./run.sh demo

Starts the bundled simulator (an offline Upbit: 10 requests/s per IP, 30 ms
latency) on a free port, collects the latest 2880 candles of 1m and 1h for
KRW-BTC, KRW-ETH and KRW-ZIL into data/demo.db with live progress, then
prints a summary and an example sqlite3 query. Exits like collect.
  -h, --help         this text
USAGE
}

# --- collect --------------------------------------------------------------

# The supervision policy: deploy/supervision.conf, one section a program
# (its arguments, readiness, which exits are done, permanent or restarted,
# the back-off and the death tally). POLICY[program.key] = value.
declare -A POLICY=()
load_policy() { # FILE
	local line sec="" key val
	while IFS= read -r line || [ -n "$line" ]; do
		case $line in
		'' | '#'*) ;;
		'['*']') sec=${line:1:${#line}-2} ;;
		*=*)
			key=${line%%=*} val=${line#*=}
			POLICY[$sec.${key%% *}]=${val# } ;;
		esac
	done <"$1"
}

# One entry per supervised process (index i): its name (writer, planner,
# fetcher0...), program (its policy section), command (printf %q words),
# log ("-": our own stdout and stderr), pid ("" while not running), the
# times of its recent deaths (ms) and when a restart is due (ms).
declare -a PIDS=() NAMES=() PROGS=() CMDS=() LOGS=() DEATHS=()
declare -A DUE=()
RUN_DIR=""
READY_TIMEOUT=${CP_READY_TIMEOUT:-20}
STOP_GRACE=6
TIMER="" TIMER_AT=""
FOLLOW=0
SERVICE=0 # 1: this run.sh is a service (start), not one collection

now_ms() { NOW=${EPOCHREALTIME/[.,]/}; NOW=$((NOW / 1000)); }
in_list() { [[ ",$2," == *",$1,"* ]]; } # CODE LIST

# policy_argv PROG: PROG's args into ARGV: $X is the value of V_X, @X the
# words of the array L_X, anything else literal.
policy_argv() {
	local w ref
	local -a words
	ARGV=()
	read -r -a words <<<"${POLICY[$1.args]}"
	for w in "${words[@]}"; do
		case $w in
		'$'*) ref=V_${w:1}; ARGV+=("${!ref}") ;;
		'@'*) ref="L_${w:1}[@]"; ARGV+=("${!ref}") ;;
		*) ARGV+=("$w") ;;
		esac
	done
}

# add_proc PROG NAME LOG EXTRA...: one more process, not started yet
add_proc() {
	local prog=$1 name=$2 log=$3 cmd
	shift 3
	# shellcheck disable=SC2034 # @EXTRA and $NAME of the policy's args
	local -a L_EXTRA=("$@")
	# shellcheck disable=SC2034
	V_NAME=$name
	policy_argv "$prog"
	printf -v cmd '%q ' "$(cp_prog "${POLICY[$prog.binary]}")" "${ARGV[@]}"
	NAMES+=("$name"); PROGS+=("$prog"); LOGS+=("$log"); CMDS+=("$cmd")
	PIDS+=(""); DEATHS+=("")
}

# launch I CMD...: CMD in the background as process I; $! is CMD itself.
# CP_EXEC_WRAPPER="valgrind ..." runs every pipeline process under a
# wrapper (tests/valgrind.bats); word-split on purpose.
launch() {
	local i=$1
	shift
	# shellcheck disable=SC2206
	[ -z "${CP_EXEC_WRAPPER:-}" ] || set -- $CP_EXEC_WRAPPER "$@"
	if [ "${LOGS[$i]}" = - ]; then
		"$@" {RUN_LOCK_FD}>&- &
	else
		"$@" >>"${LOGS[$i]}" 2>&1 {RUN_LOCK_FD}>&- &
	fi
	PIDS[$i]=$!
}

# spawn I: starts process I. A program with "ready = notify" gets the
# write end of a pipe as --notify-fd and is waited for: 0 ready (or
# started), 1 it exited first (EOF; its status in SPAWN_RC), 2 not ready
# within READY_TIMEOUT s.
spawn() {
	local i=$1 t nr nw rc=0
	local -a cmd
	eval "cmd=(${CMDS[$i]})"
	case ${POLICY[${PROGS[$i]}.ready]} in
	notify) ;;
	port-file) spawn_port_file "$i" "${cmd[@]}"; return ;;
	*) launch "$i" "${cmd[@]}"; return 0 ;;
	esac
	# a pipe: a process substitution's, reopened as a read and a write end
	exec {t}< <(:)
	exec {nr}</dev/fd/$t {nw}>/dev/fd/$t {t}<&-
	launch "$i" "${cmd[@]}" --notify-fd "$nw"
	exec {nw}>&-
	if read -r -t "$READY_TIMEOUT" -u "$nr" _; then
		rc=0
	elif [ $? -gt 128 ]; then
		rc=2
	else
		wait "${PIDS[$i]}"; SPAWN_RC=$?
		PIDS[$i]=""
		rc=1
	fi
	exec {nr}<&-
	return $rc
}

# spawn_port_file I CMD...: spawn for "ready = port-file": CMD gets
# --port-file RUN_DIR/NAME.port and is ready once it wrote the port there
spawn_port_file() {
	local i=$1 pf="$RUN_DIR/${NAMES[$1]}.port" n
	shift
	rm -f "$pf"
	launch "$i" "$@" --port-file "$pf"
	for ((n = 0; n < READY_TIMEOUT * 20; n++)); do
		[ ! -s "$pf" ] || return 0
		if ! kill -0 "${PIDS[$i]}" 2>/dev/null; then
			wait "${PIDS[$i]}"; SPAWN_RC=$?
			PIDS[$i]=""
			return 1
		fi
		sleep 0.05
	done
	return 2
}

kill_timer() {
	[ -n "$TIMER" ] || return 0
	kill "$TIMER" 2>/dev/null; wait "$TIMER" 2>/dev/null
	TIMER="" TIMER_AT=""
}

# arm_timer AT: a sleep that ends at AT (ms), so that the loop's wait -n
# wakes for the restart due then
arm_timer() {
	local at=$1 d
	[ "$at" != "$TIMER_AT" ] || return 0
	kill_timer
	now_ms
	d=$((at > NOW ? at - NOW : 0))
	printf -v d '%d.%03d' $((d / 1000)) $((d % 1000))
	sleep "$d" &
	TIMER=$! TIMER_AT=$at
}

stop_all() {
	local p wd who
	local -a live=() left
	kill_timer
	for p in "${PIDS[@]}"; do
		[ -n "$p" ] && kill -TERM "$p" 2>/dev/null && live+=("$p")
	done
	[ ${#live[@]} -gt 0 ] || return 0
	sleep "$STOP_GRACE" &
	wd=$!
	while [ ${#live[@]} -gt 0 ]; do
		left=()
		for p in "${live[@]}"; do
			if kill -0 "$p" 2>/dev/null; then left+=("$p"); else wait "$p" 2>/dev/null; fi
		done
		live=("${left[@]}")
		[ ${#live[@]} -gt 0 ] || break
		who=""
		wait -n -p who "${live[@]}" "$wd" 2>/dev/null
		if [ "$who" = "$wd" ]; then
			for p in "${live[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
			wd=""
			break
		fi
	done
	[ -z "$wd" ] || { kill "$wd" 2>/dev/null; wait "$wd" 2>/dev/null; }
	PIDS=()
}

is_planner() { [ "${PROGS[$1]}" = planner ] || [ "${PROGS[$1]}" = daemon ]; } # I

# stop_planner_first: the planner prints its summary (what is not
# covered) before the rest stops
stop_planner_first() {
	local i
	for i in "${!NAMES[@]}"; do
		is_planner "$i" && [ -n "${PIDS[$i]}" ] || continue
		kill -TERM "${PIDS[$i]}" 2>/dev/null
		wait "${PIDS[$i]}" 2>/dev/null
		PIDS[$i]=""
	done
	stop_all
}

# Ctrl-C or SIGTERM: the planner stops first (it prints its summary and
# says what is not covered), then the rest. A follower that stops cleanly
# exits 0; an interrupted collection exits 130/143.
on_stop_signal() {
	local code=$1 prc=1 i
	for i in "${!NAMES[@]}"; do
		is_planner "$i" && [ -n "${PIDS[$i]}" ] || continue
		kill -TERM "${PIDS[$i]}" 2>/dev/null
		wait "${PIDS[$i]}" 2>/dev/null; prc=$?
		PIDS[$i]=""
	done
	stop_all
	if [ "$FOLLOW" = 1 ] && [ "$prc" -eq 0 ]; then exit 0; fi
	[ "$SERVICE" = 0 ] || { echo "run.sh: the service stopped (signal $((code - 128)))"; exit 0; }
	exit "$code"
}

# curl options for every request run.sh makes itself (the market list)
declare -a CURL_OPTS=()

# market_names FILE: MARKET_NAMES = the "market" of every element of the
# JSON array in FILE, one a line; 1 if FILE is not a non-empty array of
# objects that each have a string "market". One sqlite3 (its JSON
# functions, as the writer's): a few ms, where jq takes 20.
MARKET_NAMES=""
market_names() {
	local f=${1//\'/\'\'}
	MARKET_NAMES=$(sqlite3 -batch -noheader :memory: "SELECT CASE WHEN json_valid(b)
		AND json_type(b) = 'array' AND json_array_length(b) > 0 AND NOT EXISTS (SELECT 1
		FROM json_each(b) WHERE json_type(value, '$.market') IS NOT 'text') THEN (SELECT
		group_concat(json_extract(value, '$.market'), char(10)) FROM json_each(b)) END
		FROM (SELECT CAST(readfile('$f') AS TEXT) AS b)" 2>/dev/null) && [ -n "$MARKET_NAMES" ]
}

# fetch_market_list API: the body of API/v1/market/all into
# $RUN_DIR/markets.json, tried three times. On failure says why in one line
# with curl's own reason, and returns 1 (temporary: no network, a server
# error, a body that is not a market list) or 3 (a refused certificate:
# trying again will not help). $1 named: 1 when the markets were named, so
# --skip-market-check would help with a server that answers badly.
fetch_market_list() {
	local api=$1 named=$2 out=${MARKETS_FILE:-$RUN_DIR/markets.json} why="" rc try
	for try in 1 2 3; do
		[ "$try" = 1 ] || sleep $((try - 1))
		why=$(curl -sS --fail --max-time 5 -H 'Accept: application/json' "${CURL_OPTS[@]}" \
			-o "$out.tmp" "$api/v1/market/all" 2>&1)
		rc=$?
		why=${why#curl: (*) }
		case $rc in
		0)
			if market_names "$out.tmp"; then
				mv -f "$out.tmp" "$out"; return 0
			fi
			why="the answer is not a list of markets" ;;
		58|60|77|83|90|91) # the certificate: permanent
			rm -f "$out.tmp"
			err "cannot reach $api: $why"; return $EXIT_PERMFAIL ;;
		esac
	done
	rm -f "$out.tmp"
	case $rc in
	5|6|7|28) err "cannot reach $api: $why" ;; # no network: the check cannot be skipped around
	*)
		if [ "$named" = 1 ]; then
			err "cannot read the market list from $api/v1/market/all: $why" \
				"(--skip-market-check collects named markets without it)"
		else
			err "cannot read the market list from $api/v1/market/all: $why"
		fi ;;
	esac
	return 1
}

# resolve_markets API MARKETS QUOTE CHECK: prints the market list to collect.
# "all" and --quote expand from /v1/market/all; named markets are checked
# against it (unless CHECK=0), so unknown ones fail in one clear line before
# anything starts. The list is kept in $RUN_DIR/markets.json for the writer.
resolve_markets() {
	local api=$1 markets=$2 quote=$3 check=$4 list unknown m named=1
	CURL_OPTS=()
	[ -z "${CACERT:-}" ] || CURL_OPTS=(--cacert "$CACERT")
	if [ "$check" = 0 ] && [ -z "$quote" ] && [ "$markets" != all ]; then
		echo "$markets"; return 0
	fi
	[ -z "$quote" ] && [ "$markets" != all ] || named=0
	fetch_market_list "$api" "$named" || return $?
	list=$MARKET_NAMES
	if [ -n "$quote" ]; then
		quote=${quote^^}
		list=$(grep "^$quote-" <<<"$list" | sort | paste -sd, -)
		[ -n "$list" ] || { err "no market is quoted in '$quote' (try KRW, BTC or USDT)"; return $EXIT_USAGE; }
		echo "$list"; return 0
	fi
	if [ "$markets" = all ]; then
		sort <<<"$list" | paste -sd, -; return 0
	fi
	unknown=""
	for m in ${markets//,/ }; do
		[[ $'\n'$list$'\n' == *$'\n'"$m"$'\n'* ]] || unknown="$unknown${unknown:+, }$m"
	done
	if [ -n "$unknown" ]; then
		err "unknown market(s): $unknown (not listed by $api/v1/market/all)"
		return $EXIT_USAGE
	fi
	echo "$markets"
}

run_dir_for() { # db path: named in one place, common/rundir.c
	"$MONITOR" --print-run-dir --db "$1"
}

# is_pg_db DB: --db names a PostgreSQL database (common/pgdb.c,
# pgdb_is_uri): a postgresql:// or postgres:// URI or libpq keywords
is_pg_db() {
	case $1 in postgresql://* | postgres://* | *dbname=* | *host=*) return 0 ;; esac
	return 1
}

# db_key DB: the database as the pid files name it: a file made absolute,
# a PostgreSQL URI as given
db_key() {
	if is_pg_db "$1"; then echo "$1"; else realpath -m "$1"; fi
}

# check_db_dir DB: the directory of --db must exist; only data/ (that of
# the default data/candles.db and of the demo) is made. A PostgreSQL
# database has none.
check_db_dir() {
	local dir=.
	! is_pg_db "$1" || return 0
	case $1 in */*) dir=${1%/*}; dir=${dir:-/} ;; esac
	[ -d "$dir" ] && return 0
	if [ "$dir" = data ] && [ ! -e "$dir" ]; then
		mkdir -p "$dir" || die $EXIT_PERMFAIL "cannot create $dir for the database"
		return 0
	fi
	[ -e "$dir" ] && die_usage "--db $1: $dir is not a directory"
	die_usage "--db $1: the directory $dir does not exist (create it first)"
}

# lock_holder FILE: HOLDER_PID and HOLDER_DB, the pid and database that the
# holder of FILE's lock (collect.pid, service.pid) writes into it just after
# taking it. Until it has, FILE is empty or still names a run that died,
# whose pid may be anybody's by now: a pid is believed only while that
# process has FILE open. Read again for up to 5 s; then 1, HOLDER_PID ""
# (not known: never to be signalled) and HOLDER_DB as read.
HOLDER_PID="" HOLDER_DB=""
lock_holder() {
	local f=$1 pid db fd n
	HOLDER_PID=""
	for ((n = 0; n < 50; n++)); do
		pid="" db=""
		{ read -r pid; read -r db; } <"$f" 2>/dev/null
		HOLDER_DB=$db
		if [[ $pid =~ ^[0-9]+$ ]] && [ -n "$db" ]; then
			for fd in /proc/"$pid"/fd/*; do
				[ "$fd" -ef "$f" ] || continue
				HOLDER_PID=$pid
				return 0
			done
		fi
		sleep 0.1
	done
	return 1
}

# take_run_lock DB: one collection per run directory. The pid file is held
# with flock(1) for as long as this script runs, so the pid in a stale file
# (a run that died) is not believed. A second collection is refused (exit 3)
# until the pipeline accepts jobs while it runs. The lock taken, this run's
# logs start empty: nothing a previous run wrote is quoted as ours.
RUN_LOCK_FD=""
take_run_lock() {
	local pidf="$RUN_DIR/collect.pid" holder="" hdb="" f
	{ exec {RUN_LOCK_FD}<>"$pidf"; } 2>/dev/null ||
		die $EXIT_PERMFAIL "cannot open $pidf for writing (another user's run directory? see --run-dir)"
	if ! flock -n "$RUN_LOCK_FD"; then
		lock_holder "$pidf"
		holder=$HOLDER_PID hdb=$HOLDER_DB
		die $EXIT_PERMFAIL "a collection is already running on ${hdb:-$1} (pid ${holder:-unknown}," \
			"run dir $RUN_DIR): wait for it to finish, or stop it with kill -TERM ${holder:-PID}"
	fi
	printf '%s\n%s\n' "$$" "$(db_key "$1")" >"$pidf"
	for f in "$RUN_DIR"/*.log; do
		[ ! -f "$f" ] || : >"$f"
	done
	rm -f "$RUN_DIR/markets.json" "$RUN_DIR/writer.ready"
}

# log_reason I: the message of the last warning or fatal line of process
# I's log (what it said before it exited), else its last line.
log_reason() {
	local line log=${LOGS[$1]}
	[ "$log" != - ] || { echo "see its message above"; return 0; }
	line=$(grep -E '^[^ ]+ [a-z0-9]+\[[0-9]+\] (warn|fatal): ' "$log" 2>/dev/null | tail -n 1)
	[ -n "$line" ] || line=$(grep -v "^try '" "$log" 2>/dev/null | tail -n 1)
	line=${line#* * warn: }
	line=${line#* * fatal: }
	echo "${line:-see $log}"
}

# proc_failed I RC: process I exited before it was ready, or with one of
# its permanent codes: 3 for those (running again will not help), else 1
# (temporary: run it again).
proc_failed() {
	local i=$1 rc=$2 prog=${PROGS[$1]}
	if in_list "$rc" "${POLICY[$prog.permanent]}"; then
		err "the ${NAMES[$i]} failed permanently (exit $rc): $(log_reason "$i")"
		return $EXIT_PERMFAIL
	fi
	err "the ${NAMES[$i]} did not start (exit $rc): $(log_reason "$i"); run it again"
	return 1
}

# spawn_or_fail I: spawn, and at the first start a process that is not
# ready ends the collection
spawn_or_fail() {
	spawn "$1"
	case $? in
	0) return 0 ;;
	1) stop_planner_first; proc_failed "$1" "$SPAWN_RC"; exit $? ;;
	esac
	not_ready "$1"
}

not_ready() { # I
	err "the ${NAMES[$1]} is not ready after $READY_TIMEOUT s (see ${LOGS[$1]})"
	stop_planner_first
	exit 1
}

# tally I: counts a death of process I within its window; prints nothing,
# sets DELAY (ms) to the back-off, or returns 1 for a crash loop.
tally() {
	local i=$1 prog=${PROGS[$1]} t n=0 first cap
	# CP_CRASH_LOOP=N/T replaces every program's tally (the chaos tests,
	# whose kills come far faster than any real crash loop)
	local tl=${CP_CRASH_LOOP:-${POLICY[$prog.tally]}}
	local max=${tl%/*} window=${tl#*/}
	local -a kept=()
	now_ms
	for t in ${DEATHS[$i]}; do
		[ $((NOW - t)) -ge $((window * 1000)) ] || kept+=("$t")
	done
	kept+=("$NOW")
	DEATHS[$i]=${kept[*]}
	n=${#kept[@]}
	[ "$n" -lt "$max" ] || return 1
	first=${POLICY[$prog.backoff]%..*} cap=${POLICY[$prog.backoff]#*..}
	# CP_RESTART_PAUSE (seconds) replaces the first pause (the tests' 0.2)
	if [ -n "${CP_RESTART_PAUSE:-}" ]; then
		first=$(awk -v s="$CP_RESTART_PAUSE" 'BEGIN { printf "%d", s * 1000 }')
	fi
	DELAY=$((first << (n - 1)))
	[ "$DELAY" -le "$cap" ] || DELAY=$cap
}

# on_death I RC: process I exited by itself with RC; its policy decides.
on_death() {
	local i=$1 rc=$2 prog=${PROGS[$1]} name=${NAMES[$1]} j
	PIDS[$i]=""
	if in_list "$rc" "${POLICY[$prog.done]}"; then
		case $prog in
		planner) finish "$rc" ;;
		writer)
			stop_planner_first
			err "the writer stopped (exit $rc) before the collection ended; run it again"
			exit 1 ;;
		esac
		echo "run.sh: the $name stopped (exit $rc); not restarted" >&2
		for j in "${!PROGS[@]}"; do
			[ "${PROGS[$j]}" != "$prog" ] || [ -z "${PIDS[$j]}${DUE[$j]:-}" ] || return 0
		done
		stop_planner_first
		err "no ${prog} is left (the last stopped with exit $rc); run it again"
		exit 1
	fi
	if in_list "$rc" "${POLICY[$prog.permanent]}"; then
		stop_planner_first
		proc_failed "$i" "$rc"
		exit $?
	fi
	if ! tally "$i"; then
		stop_planner_first
		local tl=${CP_CRASH_LOOP:-${POLICY[$prog.tally]}}
		err "the $name died ${tl%/*} times within ${tl#*/} s" \
			"(last exit $rc: $(log_reason "$i")): a crash loop, not restarted"
		exit $EXIT_PERMFAIL
	fi
	printf 'run.sh: the %s exited (%s); restarting in %d.%03ds\n' "$name" "$rc" \
		$((DELAY / 1000)) $((DELAY % 1000)) >&2
	now_ms
	DUE[$i]=$((NOW + DELAY))
}

# restart_due: starts every process whose back-off is over, and arms the
# timer for the next one
restart_due() {
	local i next=""
	now_ms
	for i in "${!DUE[@]}"; do
		if [ "${DUE[$i]}" -gt "$NOW" ]; then
			[ -n "$next" ] && [ "$next" -le "${DUE[$i]}" ] || next=${DUE[$i]}
			continue
		fi
		unset "DUE[$i]"
		spawn "$i"
		case $? in
		1) on_death "$i" "$SPAWN_RC"; restart_due; return ;;
		2) not_ready "$i" ;;
		esac
	done
	[ -z "$next" ] || arm_timer "$next"
	[ "$SERVICE" = 0 ] || write_procs
}

# supervise: until the planner is done (finish exits)
supervise() {
	local i rc
	while :; do
		for i in "${!PIDS[@]}"; do
			[ -n "${PIDS[$i]}" ] && ! kill -0 "${PIDS[$i]}" 2>/dev/null || continue
			wait "${PIDS[$i]}"; rc=$?
			on_death "$i" "$rc"
		done
		restart_due
		wait -n 2>/dev/null
	done
}

# finish RC: the planner is done: everything stops, run.sh exits RC
finish() {
	stop_all
	trap - INT TERM
	exit "$1"
}

# check_pipeline_opts FETCHERS INFLIGHT API_URL: the pipeline options of
# collect and start (and --cacert in CACERT), and that the programs are built
check_pipeline_opts() {
	local b
	[[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le 64 ] ||
		die_usage "--fetchers must be 1..64, not '$1'"
	[[ "$2" =~ ^[0-9]+$ ]] && [ "$2" -ge 1 ] && [ "$2" -le 64 ] ||
		die_usage "--inflight must be 1..64, not '$2'"
	[[ "$3" =~ ^https?:// ]] || die_usage "--api-url must start with http:// or https://"
	[ -z "${CACERT:-}" ] || [ -r "$CACERT" ] || die_usage "cannot read --cacert '$CACERT'"
	for b in "$PLANNER" "$FETCHER" "$WRITER"; do
		[ -x "$b" ] || die 1 "$b is missing: run 'make' first"
	done
}

# set_run_dir DB DIR: RUN_DIR = DIR, or the database's (common/rundir.c),
# created
set_run_dir() {
	local why dir=$2
	[ -n "$dir" ] || dir="$(run_dir_for "$1")" || die $EXIT_PERMFAIL "no run directory for --db $1"
	RUN_DIR=$dir
	why=$(mkdir -p "$RUN_DIR" 2>&1) || die $EXIT_PERMFAIL "cannot create the run directory: ${why#mkdir: }"
}

# add_fetchers N API INFLIGHT SOURCES VERBOSE KEYS...: fetcher0..N-1;
# fetcher i sends from the i-th of SOURCES (a,b,...; round robin)
add_fetchers() {
	local n=$1 api=$2 inflight=$3 sources=$4 verbose=$5 i
	shift 5
	local -a srcs=() fextra
	[ -n "$sources" ] && IFS=, read -r -a srcs <<<"$sources"
	for ((i = 0; i < n; i++)); do
		fextra=(--api-url "$api" --max-inflight "$inflight" "$@" ${CACERT:+--cacert "$CACERT"})
		[ ${#srcs[@]} -eq 0 ] || fextra+=(--source-ip "${srcs[$((i % ${#srcs[@]}))]}")
		add_proc fetcher "fetcher$i" "$RUN_DIR/fetcher$i.log" "${fextra[@]}" $verbose
	done
}

# validate_collect ARGS...: the planner checks every option and range before
# anything starts; its messages are shown as run.sh's own.
validate_collect() {
	local out
	out=$(CP_USAGE_HINT="$USAGE_HINT" "$PLANNER" --validate "$@" 2>&1 >/dev/null) && return 0
	grep -v "^try '" <<<"$out" | sed 's/^cp-planner: /run.sh: /' >&2
	echo "try '$USAGE_HINT'" >&2
	exit $EXIT_USAGE
}

cmd_collect() {
	local db="data/candles.db" fetchers=2 api_url="${UPBIT_API_URL:-https://api.upbit.com}"
	local rate=10 inflight=4 quiet="" verbose="" sources="" run_dir=""
	local markets="" quote="" check_markets=1 tcp="" curve_dir="" CACERT=""
	local -a popts=()
	USAGE_HINT="./run.sh collect --help"
	while [ $# -gt 0 ]; do
		case "$1" in
		--timeframe|--from|--to|--count|--feature|--features|--hedge-after-ms|--guard-epoch-ms|--guard-after-ms|--follow-delay-ms)
			[ $# -ge 2 ] || die_usage "$1 needs a value"
			popts+=("$1" "$2"); shift 2 ;;
		--market) [ $# -ge 2 ] || die_usage "--market needs a value"; markets=$2; shift 2 ;;
		--market=*) markets=${1#*=}; shift ;;
		--quote) [ $# -ge 2 ] || die_usage "--quote needs a value"; quote=$2; shift 2 ;;
		--skip-market-check) check_markets=0; shift ;;
		--follow) popts+=(--follow); FOLLOW=1; shift ;;
		--timeframe=*|--from=*|--to=*|--count=*|--feature=*|--features=*)
			popts+=("${1%%=*}" "${1#*=}"); shift ;;
		--db) [ $# -ge 2 ] || die_usage "--db needs a value"; db=$2; shift 2 ;;
		--fetchers) [ $# -ge 2 ] || die_usage "--fetchers needs a value"; fetchers=$2; shift 2 ;;
		--api-url) [ $# -ge 2 ] || die_usage "--api-url needs a value"; api_url=$2; shift 2 ;;
		--cacert) [ $# -ge 2 ] || die_usage "--cacert needs a file"; CACERT=$2; shift 2 ;;
		--rate) [ $# -ge 2 ] || die_usage "--rate needs a value"; rate=$2; shift 2 ;;
		--inflight) [ $# -ge 2 ] || die_usage "--inflight needs a value"; inflight=$2; shift 2 ;;
		--source-ip) [ $# -ge 2 ] || die_usage "--source-ip needs a value"; sources=$2; shift 2 ;;
		--run-dir) [ $# -ge 2 ] || die_usage "--run-dir needs a value"; run_dir=$2; shift 2 ;;
		--tcp) [ $# -ge 2 ] || die_usage "--tcp needs HOST:PORT"; tcp=$2; shift 2 ;;
		--curve) [ $# -ge 2 ] || die_usage "--curve needs a directory"; curve_dir=$2; shift 2 ;;
		--quiet|-q) quiet=--quiet; shift ;;
		-v|--verbose) verbose=-v; shift ;;
		-h|--help) usage_collect; exit 0 ;;
		*) die_usage "unknown option '$1'" ;;
		esac
	done
	check_pipeline_opts "$fetchers" "$inflight" "$api_url"
	[ -z "$tcp" ] || [[ "$tcp" =~ ^[^:]+:[0-9]+$ ]] || die_usage "--tcp wants HOST:PORT, not '$tcp'"
	[ -n "$markets" ] || [ -n "$quote" ] || die_usage "give --market M[,M...] (or all) or --quote KRW|BTC|USDT"
	[ -z "$markets" ] || [ -z "$quote" ] || die_usage "--market and --quote cannot be combined"
	# --validate checks everything else before anything starts (or is fetched)
	local vm=$markets
	[ -n "$vm" ] && [ "$vm" != all ] || vm=KRW-BTC
	validate_collect "${popts[@]}" --market "$vm" --rate "$rate"
	check_db_dir "$db"

	set_run_dir "$db" "$run_dir"
	# a service runs on the database: the collection is a job of it
	if service_pid; then
		collect_via_service "$db" "$markets" "$quote" "$check_markets" "$quiet" "${popts[@]}"
	fi
	take_run_lock "$db"
	markets=$(resolve_markets "$api_url" "$markets" "$quote" "$check_markets") || exit $?
	popts+=(--market "$markets")

	local work="ipc://$RUN_DIR/work.sock" results="ipc://$RUN_DIR/results.sock"
	local events="ipc://$RUN_DIR/events.sock" monitor="ipc://$RUN_DIR/monitor.sock"
	if [ -n "$tcp" ]; then
		# four consecutive ports: work, results, events, monitor
		[[ "$tcp" =~ ^([^:]+):([0-9]+)$ ]] || die_usage "--tcp wants HOST:PORT, not '$tcp'"
		local host=${BASH_REMATCH[1]} port=${BASH_REMATCH[2]}
		work="tcp://$host:$port" results="tcp://$host:$((port + 1))"
		events="tcp://$host:$((port + 2))" monitor="tcp://$host:$((port + 3))"
	fi
	local -a ckeys=() skeys=()
	if [ -n "$curve_dir" ]; then
		mkdir -p "$curve_dir" && chmod 700 "$curve_dir" || exit 1
		[ -e "$curve_dir/server.key" ] || "$PLANNER" --keygen "$curve_dir/server.key" || exit 1
		[ -e "$curve_dir/client.key" ] || "$PLANNER" --keygen "$curve_dir/client.key" || exit 1
		skeys=(--curve-server "$curve_dir/server.key" --curve-allow "$curve_dir/client.key.pub")
		ckeys=(--curve-server "$curve_dir/server.key.pub" --curve-client "$curve_dir/client.key")
	fi
	put_lines "$RUN_DIR/monitor.endpoint" "$monitor"

	trap 'on_stop_signal 130' INT
	trap 'on_stop_signal 143' TERM

	# the processes and their arguments (deploy/supervision.conf)
	load_policy "$(cp_data deploy/supervision.conf)"
	# shellcheck disable=SC2034 # read by policy_argv ($DB, @RANGE...)
	V_DB=$db V_WORK=$work V_RESULTS=$results V_EVENTS=$events V_MONITOR=$monitor
	# shellcheck disable=SC2034
	local -a L_RANGE=("${popts[@]}") wextra=()
	[ ! -s "$RUN_DIR/markets.json" ] || wextra=(--markets-file "$RUN_DIR/markets.json")
	[ -z "$curve_dir" ] || wextra+=(--curve-server "$curve_dir/server.key"
		--curve-client "$curve_dir/client.key" --curve-allow "$curve_dir/client.key.pub")
	add_proc writer writer "$RUN_DIR/writer.log" $verbose "${wextra[@]}"
	# the planner's stdout (progress, summary) goes to ours, its log to stderr
	add_proc planner planner - --rate "$rate" $quiet $verbose "${skeys[@]}"
	add_fetchers "$fetchers" "$api_url" "$inflight" "$sources" "$verbose" "${ckeys[@]}"

	# The writer first (it makes the schema), then the planner: it binds
	# the sockets the fetchers connect to, and says it is ready only when
	# there is something to fetch. One that exits first (a covered rerun)
	# ends the collection before any fetcher starts.
	spawn_or_fail 0
	spawn 1
	case $? in
	1) on_death 1 "$SPAWN_RC" ;;
	2) not_ready 1 ;;
	esac
	for ((i = 2; i < ${#NAMES[@]}; i++)); do spawn "$i"; done
	supervise
}

# --- the service: start, stop, status, cancel ------------------------------

# service_pid: 0 when a service holds RUN_DIR/service.pid (flock), with its
# pid and database in SERVICE_PID and SERVICE_DB; 1 when none runs (a file
# left by one that died is not believed).
SERVICE_PID="" SERVICE_DB=""
service_pid() {
	local pidf="$RUN_DIR/service.pid" fd
	[ -f "$pidf" ] || return 1
	{ exec {fd}<"$pidf"; } 2>/dev/null || return 1
	if flock -n "$fd"; then
		exec {fd}<&-
		return 1
	fi
	exec {fd}<&-
	lock_holder "$pidf"
	SERVICE_PID=$HOLDER_PID SERVICE_DB=$HOLDER_DB
	return 0
}

die_running() { # DB
	die $EXIT_PERMFAIL "a service is already running on ${SERVICE_DB:-$1} (pid ${SERVICE_PID:-unknown}," \
		"run dir $RUN_DIR): stop it with ./run.sh stop --db $1"
}

# take_service_lock DB: RUN_DIR/service.pid, held with flock for as long as
# the service runs. Its processes inherit the lock, so it is free only once
# they are all gone too (what stop waits for).
SERVICE_LOCK_FD=""
take_service_lock() {
	local pidf="$RUN_DIR/service.pid"
	{ exec {SERVICE_LOCK_FD}<>"$pidf"; } 2>/dev/null ||
		die $EXIT_PERMFAIL "cannot open $pidf for writing (another user's run directory? see --run-dir)"
	if ! flock -n "$SERVICE_LOCK_FD"; then
		exec {SERVICE_LOCK_FD}<&-
		service_pid || true
		die_running "$1"
	fi
	printf '%s\n%s\n' "$$" "$(db_key "$1")" >"$pidf"
}

# put_lines FILE LINE...: FILE holds the LINEs, replaced whole (written to
# FILE.new, renamed into place), so that a reader never sees it half written
put_lines() {
	local f="$1"
	shift
	printf '%s\n' "$@" >"$f.new" && mv -f "$f.new" "$f"
}

# write_procs: RUN_DIR/service.procs, "NAME PID" a line ("-": restarting)
write_procs() {
	local i lines=()
	for i in "${!NAMES[@]}"; do
		lines+=("${NAMES[$i]} ${PIDS[$i]:--}")
	done
	put_lines "$RUN_DIR/service.procs" "${lines[@]}"
}

# parse_start ARGS...: start's options into the caller's locals
parse_start() {
	while [ $# -gt 0 ]; do
		case "$1" in
		--db | --fetchers | --rate | --api-url | --cacert | --inflight | --source-ip | --run-dir | \
			--listen | --token-file | --notify-fd | --feature | --features)
			[ $# -ge 2 ] || die_usage "$1 needs a value" ;;&
		--feature | --features) feats+=("$1" "$2") ;;
		--db) db=$2 ;;
		--fetchers) fetchers=$2 ;;
		--rate) rate=$2 ;;
		--api-url) api_url=$2 ;;
		--cacert) CACERT=$2 ;;
		--inflight) inflight=$2 ;;
		--source-ip) sources=$2 ;;
		--run-dir) run_dir=$2 ;;
		--listen) listen=$2 ;;
		--token-file) token=$2 ;;
		--notify-fd) nfd=$2 ;;
		--foreground) fg=1; shift; continue ;;
		-v | --verbose) verbose=-v; shift; continue ;;
		-h | --help) usage_service; exit 0 ;;
		*) die_usage "unknown option '$1'" ;;
		esac
		shift 2
	done
}

cmd_start() {
	local db="data/candles.db" fetchers=2 api_url="${UPBIT_API_URL:-https://api.upbit.com}"
	local rate=10 inflight=4 verbose="" sources="" run_dir="" listen="" token="" fg=0 nfd=""
	local CACERT="" out
	local -a feats=() # --feature/--features: the daemon's
	USAGE_HINT="./run.sh start --help"
	parse_start "$@"
	check_pipeline_opts "$fetchers" "$inflight" "$api_url"
	out=$("$PLANNER" --validate --daemon --control ipc://x --db "$db" --work ipc://x \
		--rate "$rate" "${feats[@]}" 2>&1) || die_usage "$(head -n 1 <<<"${out#cp-planner: }")"
	[ -z "$listen" ] || [[ "$listen" =~ ^.+:[0-9]+$ ]] || die_usage "--listen wants ADDR:PORT, not '$listen'"
	[ -z "$token" ] || [ -n "$listen" ] || die_usage "--token-file goes with --listen"
	[ -z "$listen" ] || [ -x "$SERVE" ] || die 1 "$SERVE is missing: run 'make' first"
	[[ "$nfd" =~ ^[0-9]*$ ]] || die_usage "--notify-fd wants a file descriptor, not '$nfd'"
	check_db_dir "$db"
	set_run_dir "$db" "$run_dir"
	! service_pid || die_running "$db"
	[ "$fg" = 1 ] || start_detached "$@"
	service_main
}

# start_detached ARGS...: start ARGS --foreground in a session of its own,
# detached (stdin /dev/null, output to RUN_DIR/service.log); exits once it
# says it is ready (a newline on a pipe: 0) or has died (EOF: its reason in
# one line, its exit code)
start_detached() {
	local log="$RUN_DIR/service.log" t nr nw pid rc why
	: >"$log"
	exec {t}< <(:)
	exec {nr}</dev/fd/$t {nw}>/dev/fd/$t {t}<&-
	setsid "$SELF" start --foreground --notify-fd "$nw" "$@" </dev/null >>"$log" 2>&1 {nr}<&- &
	pid=$!
	exec {nw}>&-
	# the service waits for each of its processes in turn
	if read -r -t $((READY_TIMEOUT * 3 + 5)) -u "$nr" _; then
		echo "run.sh: the service of $db is ready (pid $pid, run dir $RUN_DIR, log $log)"
		exit 0
	fi
	rc=$?
	if [ "$rc" -gt 128 ]; then
		kill -TERM "$pid" 2>/dev/null
		die 1 "the service is not ready after $((READY_TIMEOUT * 3 + 5)) s (see $log); it is stopped"
	fi
	wait "$pid"
	rc=$?
	why=$(grep '^run.sh: ' "$log" | tail -n 1)
	echo "${why:-run.sh: the service exited ($rc) before it was ready: see $log}" >&2
	case $rc in 1 | 2 | 3 | 4) exit "$rc" ;; esac
	exit 1
}

# service_main: the service itself (start --foreground): the processes of
# deploy/supervision.conf's writer, daemon, fetcher (and serve with
# --listen), supervised until SIGTERM or SIGINT (then exit 0)
service_main() {
	SERVICE=1
	take_service_lock "$db"
	take_run_lock "$db" # no embedded collection meanwhile
	chmod 700 "$RUN_DIR" || die $EXIT_PERMFAIL "cannot make $RUN_DIR owner-only"
	rm -f "$RUN_DIR/server.port"
	put_lines "$RUN_DIR/service.conf" "$api_url" "$CACERT" "$listen"
	put_lines "$RUN_DIR/monitor.endpoint" "ipc://$RUN_DIR/monitor.sock"
	load_policy "$(cp_data deploy/supervision.conf)"
	# shellcheck disable=SC2034 # read by policy_argv ($DB, $CONTROL...)
	V_DB=$db V_WORK="ipc://$RUN_DIR/work.sock" V_RESULTS="ipc://$RUN_DIR/results.sock"
	# shellcheck disable=SC2034
	V_EVENTS="ipc://$RUN_DIR/events.sock" V_MONITOR="ipc://$RUN_DIR/monitor.sock"
	# shellcheck disable=SC2034
	V_CONTROL="ipc://$RUN_DIR/control.sock" V_LISTEN=$listen
	add_proc writer writer "$RUN_DIR/writer.log" $verbose
	add_proc daemon planner "$RUN_DIR/planner.log" --rate "$rate" "${feats[@]}" --quiet $verbose
	add_fetchers "$fetchers" "$api_url" "$inflight" "$sources" "$verbose"
	[ -z "$listen" ] || add_proc serve server "$RUN_DIR/server.log" ${token:+--token-file "$token"} \
		--api-url "$api_url" ${CACERT:+--cacert "$CACERT"} $verbose
	trap 'on_stop_signal 130' INT
	trap 'on_stop_signal 143' TERM
	local i
	spawn_or_fail 0
	spawn_or_fail 1
	for ((i = 2; i < ${#NAMES[@]}; i++)); do
		if [ "${PROGS[$i]}" = serve ]; then spawn_or_fail "$i"; else spawn "$i"; fi
	done
	write_procs
	echo "run.sh: the service of $db is ready (pid $$, control $V_CONTROL)"
	if [ -n "$nfd" ]; then
		echo >&"$nfd"
		exec {nfd}>&-
	fi
	# under systemd (Type=notify, NotifyAccess=all): READY=1 on its socket
	if [ -n "${NOTIFY_SOCKET:-}" ]; then
		systemd-notify --ready --pid=$$ --status="serving $db" ||
			echo "run.sh: systemd-notify failed: systemd will not see the service ready" >&2
	fi
	cfg_submit_follows
	supervise
}

# parse_svc ARGS...: --db, --run-dir, --timeout S and one JOB into the
# caller's db, run_dir, timeout, job
parse_svc() {
	while [ $# -gt 0 ]; do
		case "$1" in
		--db | --run-dir | --timeout) [ $# -ge 2 ] || die_usage "$1 needs a value" ;;&
		--db) db=$2; shift 2 ;;
		--run-dir) run_dir=$2; shift 2 ;;
		--timeout) timeout=$2; shift 2 ;;
		-h | --help) usage_service; exit 0 ;;
		-*) die_usage "unknown option '$1'" ;;
		*) [ -z "$job" ] || die_usage "one JOB, not '$job' and '$1'"; job=$1; shift ;;
		esac
	done
	[[ "$timeout" =~ ^[0-9]+$ ]] || die_usage "--timeout wants seconds, not '$timeout'"
	[ -n "$run_dir" ] || run_dir="$(run_dir_for "$db")" || die $EXIT_PERMFAIL "no run directory for --db $db"
	RUN_DIR=$run_dir
}

# svc_ctl ARGS...: cp-planner ctl on the service's control socket
svc_ctl() {
	"$PLANNER" ctl --control "ipc://$RUN_DIR/control.sock" "$@"
}

cmd_stop() {
	local db="data/candles.db" run_dir="" timeout=30 job="" fd
	USAGE_HINT="./run.sh stop --help"
	parse_svc "$@"
	[ -z "$job" ] || die_usage "stop takes no JOB ('$job')"
	if ! service_pid; then
		echo "run.sh: no service running for $db" >&2
		exit 1
	fi
	# no pid known (the holder never wrote its own): nothing is signalled,
	# the lock may still be freed (processes whose run.sh died follow it)
	[ -z "$SERVICE_PID" ] || kill -TERM "$SERVICE_PID" 2>/dev/null
	# the lock is free once the service and every process of it are gone
	exec {fd}<"$RUN_DIR/service.pid"
	if ! flock -w "$timeout" "$fd"; then
		die $EXIT_TEMPFAIL "the service of $db (pid ${SERVICE_PID:-unknown}) is still running after $timeout s;" \
			"its processes: $(paste -sd, "$RUN_DIR/service.procs" 2>/dev/null); see $RUN_DIR/service.log"
	fi
	echo "run.sh: the service of $db (pid ${SERVICE_PID:-unknown}) stopped"
}

# human_s S: seconds as 3h02m05s
human_s() {
	local s=${1%.*}
	if [ "$s" -ge 3600 ]; then
		printf '%dh%02dm%02ds' $((s / 3600)) $((s % 3600 / 60)) $((s % 60))
	elif [ "$s" -ge 60 ]; then
		printf '%dm%02ds' $((s / 60)) $((s % 60))
	else
		printf '%ss' "$1"
	fi
}

cmd_status() {
	local db="data/candles.db" run_dir="" timeout=0 job="" out rc listen="" port up
	USAGE_HINT="./run.sh status --help"
	parse_svc "$@"
	if ! service_pid; then
		echo "run.sh: no service running for $db" >&2
		exit $EXIT_PERMFAIL
	fi
	out=$(svc_ctl status ${job:+"$job"} 2>&1)
	rc=$?
	echo "service: pid ${SERVICE_PID:-unknown}, database $SERVICE_DB, run dir $RUN_DIR"
	echo "processes: $(sed 's/ /=/' "$RUN_DIR/service.procs" 2>/dev/null | paste -sd' ' -)"
	{ read -r _; read -r _; read -r listen; } <"$RUN_DIR/service.conf" 2>/dev/null
	if [ -n "$listen" ]; then
		port=$(cat "$RUN_DIR/server.port" 2>/dev/null)
		echo "http: http://${listen%:*}:${port:-?} (cp-serve)"
	fi
	if [ "$rc" -ne 0 ]; then
		echo "run.sh: the service does not answer on ipc://$RUN_DIR/control.sock: ${out#cp-planner ctl: }" >&2
		exit "$rc"
	fi
	up=$(sed -n 's/^daemon: up \([0-9.]*\) s.*/\1/p' <<<"$out")
	echo "uptime: $(human_s "${up:-0}")"
	grep '^budget: ' <<<"$out"
	grep -q '^job ' <<<"$out" || echo "jobs: none"
	# each job's progress as a percentage too
	grep -v -e '^daemon: ' -e '^budget: ' <<<"$out" |
		awk '/^job / && match($0, /[0-9]+\/[0-9]+ slots/) {
			split(substr($0, RSTART, RLENGTH), a, /[\/ ]/)
			sub(/ slots/, sprintf(" slots (%.1f%%)", a[2] > 0 ? 100 * a[1] / a[2] : 100))
		} { print }'
}

cmd_cancel() {
	local db="data/candles.db" run_dir="" timeout=0 job=""
	USAGE_HINT="./run.sh cancel --help"
	parse_svc "$@"
	[ -n "$job" ] || die_usage "cancel wants a JOB (its id: ./run.sh status --db $db)"
	if ! service_pid; then
		echo "run.sh: no service running for $db" >&2
		exit $EXIT_PERMFAIL
	fi
	svc_ctl cancel "$job" || exit $?
	echo "run.sh: job $job cancelled"
}

# --- follow: the service's standing follow jobs -----------------------------

# parse_follow ARGS...: follow's options into the caller's locals
parse_follow() {
	while [ $# -gt 0 ]; do
		case "$1" in
		--db | --run-dir | --market | --timeframe | --backfill)
			[ $# -ge 2 ] || die_usage "$1 needs a value" ;;&
		--db) db=$2 ;;
		--run-dir) run_dir=$2 ;;
		--market) markets=$2 ;;
		--timeframe) tfs=$2 ;;
		--backfill) backfill=$2 ;;
		--remove) remove=1; shift; continue ;;
		--list) list=1; shift; continue ;;
		-h | --help) usage_service; exit 0 ;;
		*) die_usage "unknown option '$1'" ;;
		esac
		shift 2
	done
	if [ "$list" = 1 ]; then
		[ -z "$markets$tfs$backfill" ] && [ "$remove" = 0 ] || die_usage "--list takes only --db (and --run-dir)"
		return 0
	fi
	[ -n "$markets" ] && [ -n "$tfs" ] || die_usage "give --market M[,M...] and --timeframe TF[,TF...] (or --list)"
	[ -z "$backfill" ] || [ "$remove" = 0 ] || die_usage "--remove takes no --backfill"
	[[ "$backfill" =~ ^[0-9]*$ ]] || die_usage "--backfill wants a number of candles, not '$backfill'"
}

# cmd_follow: ./run.sh follow (the interface a config file's follows use)
cmd_follow() {
	local db="data/candles.db" run_dir="" markets="" tfs="" backfill="" remove=0 list=0 api r
	USAGE_HINT="./run.sh follow --help"
	parse_follow "$@"
	[ -n "$run_dir" ] || run_dir="$(run_dir_for "$db")" || die $EXIT_PERMFAIL "no run directory for --db $db"
	RUN_DIR=$run_dir
	service_pid || die $EXIT_PERMFAIL "no service running for $db: follows are standing jobs" \
		"of a service; start one with ./run.sh start --db $db"
	[ "$list" = 0 ] || { svc_ctl follows; exit $?; }
	[ "$remove" = 0 ] || { svc_ctl unfollow --market "$markets" --timeframe "$tfs"; exit $?; }
	{ read -r api; read -r CACERT; } <"$RUN_DIR/service.conf"
	MARKETS_FILE="$RUN_DIR/markets.$$.json"
	markets=$(resolve_markets "$api" "$markets" "" 1) || { r=$?; rm -f "$MARKETS_FILE"; exit $r; }
	rm -f "$MARKETS_FILE"
	svc_ctl follow --market "$markets" --timeframe "$tfs" ${backfill:+--backfill "$backfill"}
}

# --- collect through a running service ---------------------------------------

# tf_floor TF T: the start of the TF slot holding T (epoch s), as
# common/tf.c; tf_add TF SLOT N: N slots later (earlier if negative)
tf_seconds() {
	case $1 in
	1s) echo 1 ;; 1m) echo 60 ;; 3m) echo 180 ;; 5m) echo 300 ;; 10m) echo 600 ;;
	15m) echo 900 ;; 30m) echo 1800 ;; 1h | 60m) echo 3600 ;; 4h | 240m) echo 14400 ;;
	1d) echo 86400 ;; 1w) echo 604800 ;; *) echo 0 ;;
	esac
}
tf_floor() {
	local u
	case $1 in
	1M) TZ=UTC0 date -d "$(TZ=UTC0 date -d "@$2" +%Y-%m-01)" +%s ;;
	1y) TZ=UTC0 date -d "$(TZ=UTC0 date -d "@$2" +%Y-01-01)" +%s ;;
	1w) echo $((($2 - 345600) / 604800 * 604800 + 345600)) ;; # weeks start on Monday
	*) u=$(tf_seconds "$1"); echo $(($2 / u * u)) ;;
	esac
}
tf_add() {
	case $1 in
	1M) TZ=UTC0 date -d "$(TZ=UTC0 date -d "@$2" +%F) $3 months" +%s ;;
	1y) TZ=UTC0 date -d "$(TZ=UTC0 date -d "@$2" +%F) $3 years" +%s ;;
	*) echo $(($2 + $3 * $(tf_seconds "$1"))) ;;
	esac
}

# count_range TF N TO: "FROM TO" (epoch s) of the N most recent closed
# intervals of TF before TO (empty: now), as the planner's resolve_range
count_range() {
	local tf=$1 n=$2 t open to from
	open=$(tf_floor "$tf" "$(date +%s)")
	to=$open
	if [ -n "$3" ]; then
		t=$(TZ=UTC0 date -d "$3" +%s) || return 1
		to=$(tf_floor "$tf" "$t")
		[ "$to" -eq "$t" ] || to=$(tf_add "$tf" "$to" 1)
		[ "$to" -le "$open" ] || to=$open
	fi
	from=$(tf_add "$tf" "$to" "-$n")
	[ "$from" -ge 0 ] || from=0
	echo "$from $to"
}

# ctl_job ARGS...: cp-planner ctl ARGS in the background, so that a signal
# reaches this script at once: SIGINT and SIGTERM are passed to it as
# SIGINT (submit --wait cancels the job, follow --watch stops watching).
# Returns its exit code.
CTL_PID="" CTL_SIG=""
on_collect_signal() {
	CTL_SIG=$1
	[ -z "$CTL_PID" ] || kill -INT "$CTL_PID" 2>/dev/null
}
ctl_job() {
	local rc
	# the client itself in the background, not a function's subshell: the
	# signal is for it
	"$PLANNER" ctl --control "ipc://$RUN_DIR/control.sock" "$@" &
	CTL_PID=$!
	wait "$CTL_PID"
	rc=$?
	while [ -n "$CTL_SIG" ] && kill -0 "$CTL_PID" 2>/dev/null; do
		wait "$CTL_PID"
		rc=$?
	done
	CTL_PID=""
	return $rc
}
submit_job() { ctl_job submit --wait "$@"; }

# follow_via_service DB MARKETS QUIET: collect --follow through the service:
# standing follow jobs (kept in the database), watched until a signal,
# which ends the watching (0), not the follows
follow_via_service() {
	local rc=0
	[ -n "$3" ] || echo "run.sh: following through the service: standing follow jobs kept in" \
		"the database. Ctrl-C stops showing their progress and does NOT remove them" \
		"(./run.sh follow --db $1 --remove --market $2 --timeframe ${tfs} does)" >&2
	ctl_job follow --market "$2" --timeframe "$tfs" ${count:+--backfill "$count"} \
		${from:+--from "$from"} --watch || rc=$?
	[ -z "$CTL_SIG" ] || exit 0 # a clean stop of a follower
	[ "$rc" -ne $EXIT_TEMPFAIL ] || { err "the service on $1 stopped answering; run it again"; exit 1; }
	exit "$rc"
}

# collect_via_service DB MARKETS QUOTE CHECK QUIET POPTS...: the collection
# as a job of the service on DB (one per timeframe with --count): its
# progress, Ctrl-C cancels it; exits with collect's codes. The pipeline
# options are the service's (those of start).
collect_via_service() {
	local db=$1 markets=$2 quote=$3 check=$4 quiet=$5 tfs="" from="" to="" count="" rc=0 r tf api
	local follow=0
	local -a range
	shift 5
	while [ $# -gt 0 ]; do
		case $1 in
		--follow) follow=1; shift; continue ;;
		--timeframe) tfs=${tfs:+$tfs,}$2 ;;
		--from) from=$2 ;;
		--to) to=$2 ;;
		--count) count=$2 ;;
		esac
		shift 2
	done
	{ read -r api; read -r CACERT; } <"$RUN_DIR/service.conf"
	MARKETS_FILE="$RUN_DIR/markets.$$.json"
	markets=$(resolve_markets "$api" "$markets" "$quote" "$check") || { r=$?; rm -f "$MARKETS_FILE"; exit $r; }
	rm -f "$MARKETS_FILE"
	[ -n "$quiet" ] || echo "run.sh: a service runs on $db (pid $SERVICE_PID): submitting the collection to it" >&2
	trap 'on_collect_signal 130' INT
	trap 'on_collect_signal 143' TERM
	[ "$follow" = 0 ] || follow_via_service "$db" "$markets" "$quiet"
	if [ -z "$count" ]; then
		submit_job --market "$markets" --timeframe "$tfs" --from "$from" ${to:+--to "$to"} || rc=$?
	else
		for tf in ${tfs//,/ }; do
			[ -z "$CTL_SIG" ] || break
			read -r -a range <<<"$(count_range "$tf" "$count" "$to")"
			r=0
			submit_job --market "$markets" --timeframe "$tf" --from "${range[0]}" --to "${range[1]}" || r=$?
			[ "$r" -le "$rc" ] || rc=$r
		done
	fi
	[ -z "$CTL_SIG" ] || exit "$CTL_SIG"
	if [ "$rc" -eq $EXIT_TEMPFAIL ]; then
		err "the service on $db stopped answering; run it again"
		exit 1
	fi
	exit "$rc"
}

# --- demo -----------------------------------------------------------------

DEMO_SIM=""
DEMO_TMP=""

demo_cleanup() {
	[ -z "$DEMO_SIM" ] || kill "$DEMO_SIM" 2>/dev/null
	[ -z "$DEMO_TMP" ] || rm -rf "$DEMO_TMP"
}

cmd_demo() {
	local db="data/demo.db" port
	USAGE_HINT="./run.sh demo --help"
	case "${1:-}" in
	"") ;;
	-h|--help) usage_demo; exit 0 ;;
	*) die_usage "demo takes no options, not '$1'" ;;
	esac
	for b in "$SIM" "$PLANNER" "$FETCHER" "$WRITER"; do
		[ -x "$b" ] || die 1 "$b is missing: run 'make' first"
	done
	DEMO_TMP="$(mktemp -d)"
	trap demo_cleanup EXIT
	"$SIM" --port 0 --port-file "$DEMO_TMP/port" --latency-ms 30 >"$DEMO_TMP/sim.log" 2>&1 &
	DEMO_SIM=$!
	for _ in $(seq 100); do [ -s "$DEMO_TMP/port" ] && break; sleep 0.05; done
	port=$(cat "$DEMO_TMP/port" 2>/dev/null) || die 1 "the simulator did not start: $(tail -n 1 "$DEMO_TMP/sim.log")"
	echo "demo: simulator on http://127.0.0.1:$port (an offline Upbit: 10 requests/s per IP, 30 ms latency)"
	echo "demo: collecting the latest 2880 candles of 1m and 1h for KRW-BTC, KRW-ETH, KRW-ZIL into $db"
	echo "demo: (watch it from another terminal with: ./run.sh monitor --db $db)"
	"$0" collect --market KRW-BTC,KRW-ETH,KRW-ZIL --timeframe 1m,1h --count 2880 \
		--db "$db" --api-url "http://127.0.0.1:$port" || exit $?
	echo
	echo "demo: the data is plain SQLite. For example:"
	local q="SELECT market, timeframe, COUNT(*) AS candles, MIN(candle_date_time_utc) AS first, MAX(candle_date_time_utc) AS last FROM candles GROUP BY 1, 2;"
	echo "  sqlite3 -header -column $db \"$q\""
	sqlite3 -header -column "$db" "$q" 2>/dev/null || echo "  (install sqlite3 to run it)"
	echo
	echo "demo: ./run.sh gaps --db $db --market KRW-ZIL --timeframe 1m   shows the no-trade stretches"
}

# --- the config file (candlepipe.conf(5), config/cp-config) ------------------

# The file is chosen once, before the command runs: --config FILE (or
# --config=FILE) anywhere in its options, else $CP_CONFIG, else, installed,
# $CP_SYSCONFDIR/candlepipe/candlepipe.conf (CP_SYSCONFDIR: /etc) if it
# exists. cp-config checks it and prints its values as single-quoted
# assignments; they are read here with a pattern, never eval'd, into
# CFG[key]. Each command gets the options its keys map to (CFG_OPTS) in
# front of its own, so that an option given on the command line, coming
# later, wins. The chosen file is exported as CP_CONFIG: the service started
# in the background and the commands it runs read the same one.
CONFIG="$(cp_prog config/cp-config)"
CFG_FILE=""
declare -A CFG=()
declare -a CFG_ARGV=() CFG_REST=()
# KEY OPTION COMMANDS: the option a key of the file gives each command
CFG_OPTS=(
	"db --db collect,start,stop,status,cancel,follow,query,gaps,export,verify,monitor,serve"
	"api_url --api-url collect,start"
	"cacert --cacert collect,start"
	"fetchers --fetchers collect,start"
	"inflight --inflight collect,start"
	"source_ip --source-ip collect,start"
	"rate --rate collect,start"
	"run_dir --run-dir collect,start,stop,status,cancel,follow"
	"listen --listen start,serve"
	"token_file --token-file start,serve"
)

# cfg_pick ARGS...: CFG_FILE (see above) and CFG_REST, ARGS without --config
cfg_pick() {
	local explicit="" sys="${CP_SYSCONFDIR:-/etc}/candlepipe/candlepipe.conf"
	CFG_REST=()
	while [ $# -gt 0 ]; do
		case $1 in
		--config) [ $# -ge 2 ] || die_usage "--config needs a file"; explicit=$2; shift 2 ;;
		--config=*) explicit=${1#*=}; shift ;;
		*) CFG_REST+=("$1"); shift ;;
		esac
	done
	CFG_FILE=${explicit:-${CP_CONFIG:-}}
	if [ -z "$CFG_FILE" ] && [ "$CP_INSTALLED" = 1 ] && [ -e "$sys" ]; then
		CFG_FILE=$sys
	fi
	[ -n "$CFG_FILE" ] || return 0
	CP_CONFIG=$(realpath -m "$CFG_FILE")
	export CP_CONFIG
}

# cfg_read FILE: FILE's values into CFG; an invalid file (cp-config printed
# each error and its line) exits 2, an unreadable one 3
cfg_read() {
	local out rc line v
	[ -x "$CONFIG" ] || die 1 "$CONFIG is missing: run 'make' first"
	out=$("$CONFIG" --shell "$1")
	rc=$?
	case $rc in
	0) ;;
	3) die $EXIT_PERMFAIL "cannot read the config file $1" ;;
	*) die $EXIT_USAGE "$1 is not a valid config file (each error above; ./run.sh check-config $1)" ;;
	esac
	while IFS= read -r line; do
		[[ $line =~ ^CP_CFG_([a-z0-9_]+)=\'(.*)\'$ ]] || die $EXIT_PERMFAIL "cp-config printed '$line'"
		v=${BASH_REMATCH[2]}
		# the only quote inside is an escaped one, '\''
		[[ ${v//"'\\''"/} != *"'"* ]] || die $EXIT_PERMFAIL "cp-config printed '$line'"
		CFG[${BASH_REMATCH[1]}]=${v//"'\\''"/"'"}
	done <<<"$out"
}

cfg_has_db() { # the command line (CFG_REST) names a database
	local a
	for a in "${CFG_REST[@]}"; do
		case $a in --db | --db=*) return 0 ;; esac
	done
	return 1
}

# cfg_args CMD: CFG_ARGV = the options CFG gives CMD (with [features], collect
# and start get --feature NAME=on|off)
cfg_args() {
	local cmd=$1 e key opt cmds k
	CFG_ARGV=()
	for e in "${CFG_OPTS[@]}"; do
		read -r key opt cmds <<<"$e"
		in_list "$cmd" "$cmds" && [ -n "${CFG[$key]+set}" ] || continue
		# run_dir is the file's database's: not for a --db of the command line
		[ "$key" != run_dir ] || ! cfg_has_db || continue
		CFG_ARGV+=("$opt" "${CFG[$key]}")
	done
	[ "$cmd" = collect ] || [ "$cmd" = start ] || return 0
	for k in "${!CFG[@]}"; do
		[[ $k != feature_* ]] || CFG_ARGV+=(--feature "${k#feature_}=${CFG[$k]}")
	done
}

# cfg_apply ARGS...: CFG_ARGV = the command line to run: the command, the
# options of the config file, then the command's own (without --config).
# help, sim, demo and any --help run without the file.
cfg_apply() {
	local a
	local -a pre=()
	# ./run.sh --config FILE COMMAND ... as well
	while [ "${1:-}" = --config ] || [[ ${1:-} == --config=* ]]; do
		if [ "$1" = --config ]; then
			[ $# -ge 2 ] || die_usage "--config needs a file"
			pre+=("$1" "$2")
			shift
		else
			pre+=("$1")
		fi
		shift
	done
	local cmd=${1:-help}
	[ $# -eq 0 ] || shift
	set -- "$cmd" "$@" "${pre[@]}"
	CFG_ARGV=("$@")
	case $cmd in
	collect | start | stop | status | cancel | follow | query | gaps | export | verify | monitor | serve) ;;
	check-config) shift; cfg_pick "$@"; CFG_ARGV=(check-config "${CFG_REST[@]}"); return 0 ;;
	*) return 0 ;;
	esac
	shift
	cfg_pick "$@"
	CFG_ARGV=()
	for a in "$@"; do
		case $a in -h | --help) CFG_FILE="" ;; esac
	done
	[ -z "$CFG_FILE" ] || cfg_read "$CFG_FILE"
	[ -z "$CFG_FILE" ] || cfg_args "$cmd"
	CFG_ARGV=("$cmd" "${CFG_ARGV[@]}" "${CFG_REST[@]}")
}

usage_copy() {
	cat <<'USAGE'
usage: ./run.sh copy --from SRC --to DST [-v]

Copies the candles, coverage, history starts and markets of SRC into DST,
each a SQLite file or a PostgreSQL database (postgresql://USER@HOST/DB or
libpq keywords), either way. SRC is only read. DST is written by the writer
(cp-writer --copy-from), with the same checks and the same coverage merge
as a collection: what DST already holds stays, the coverage of both is
merged. A DST that is another program's or a newer candlepipe's is refused
and left unchanged. Copying again changes nothing and says so. Progress
goes to stderr, one summary line to stdout.
exit status: 0 copied, 2 usage, 3 permanent (SRC missing, not candlepipe's
or newer; DST refused; the SQLite DST held by a writer), 4 temporary (run
it again to complete it: nothing is copied twice)
  --from SRC         the database to copy
  --to DST           the database to copy into (a missing SQLite file is
                     created; its directory must exist)
  -v, --verbose      verbose logs
  -h, --help         this text
USAGE
}

# copy --from SRC --to DST: the writer's copy mode, its exit code
cmd_copy() {
	local from="" to="" verbose=""
	USAGE_HINT="./run.sh copy --help"
	while [ $# -gt 0 ]; do
		case $1 in
		-h | --help) usage_copy; exit 0 ;;
		--from | --to) [ $# -ge 2 ] || die_usage "$1 needs a database"
			if [ "$1" = --from ]; then from=$2; else to=$2; fi
			shift 2 ;;
		--from=*) from=${1#--from=}; shift ;;
		--to=*) to=${1#--to=}; shift ;;
		-v | --verbose) verbose=-v; shift ;;
		*) die_usage "unknown argument '$1'" ;;
		esac
	done
	[ -n "$from" ] && [ -n "$to" ] || die_usage "copy needs --from SRC and --to DST"
	[ -x "$WRITER" ] || die 1 "$WRITER is missing: run 'make' first"
	exec "$WRITER" --db "$to" --copy-from "$from" $verbose
}

usage_check_config() {
	cat <<'USAGE'
usage: ./run.sh check-config [FILE]

Checks a config file (candlepipe.conf(5)): FILE, else the one --config or
$CP_CONFIG names, else (installed) /etc/candlepipe/candlepipe.conf. Each
error is one line, FILE:LINE: message, all of them.
exit status: 0 valid, 2 invalid (or a usage error), 3 unreadable
  -h, --help         this text
USAGE
}

# check-config [FILE]: cp-config --check, its exit code
cmd_check_config() {
	local file=""
	USAGE_HINT="./run.sh check-config --help"
	while [ $# -gt 0 ]; do
		case $1 in
		-h | --help) usage_check_config; exit 0 ;;
		-*) die_usage "unknown option '$1'" ;;
		*) [ -z "$file" ] || die_usage "one FILE, not '$file' and '$1'"; file=$1; shift ;;
		esac
	done
	file=${file:-$CFG_FILE}
	[ -n "$file" ] || die_usage "no config file: give FILE (or --config FILE, or set CP_CONFIG)"
	[ -x "$CONFIG" ] || die 1 "$CONFIG is missing: run 'make' first"
	"$CONFIG" --check "$file"
}

# cfg_submit_follows: the service is ready: each [follow] of the config
# file becomes a standing subscription of it (./run.sh follow; quote = Q
# and market = all expand from /v1/market/all first). Uses service_main's
# db, api_url and RUN_DIR. A failure is logged; the service keeps running.
cfg_submit_follows() {
	local n=${CFG[follows]:-0} i p m q bf
	[ "$n" -gt 0 ] 2>/dev/null || return 0
	if ! "$SELF" follow --help >/dev/null 2>&1; then
		echo "run.sh: the config file's $n follow subscription(s) are not submitted:" \
			"this version has no 'follow' command" >&2
		return 0
	fi
	for ((i = 1; i <= n; i++)); do
		p=follow_${i}_
		m=${CFG[${p}market]:-} q=${CFG[${p}quote]:-} bf=${CFG[${p}backfill]:-}
		if [ -n "$q" ] || [ "$m" = all ]; then
			MARKETS_FILE="$RUN_DIR/markets.$$.json"
			m=$(resolve_markets "$api_url" "$m" "$q" 1) || m=""
			rm -f "$MARKETS_FILE"
		fi
		if [ -z "$m" ] || ! "$SELF" follow --db "$db" --run-dir "$RUN_DIR" --market "$m" \
			--timeframe "${CFG[${p}timeframe]}" ${bf:+--backfill "$bf"} </dev/null; then
			echo "run.sh: the follow subscription of $CP_CONFIG line ${CFG[${p}line]} was not submitted" >&2
			continue
		fi
		echo "run.sh: following $m ${CFG[${p}timeframe]} (config line ${CFG[${p}line]})"
	done
}

# installed, the help and the messages name the command: candlepipe
if [ "$CP_INSTALLED" = 1 ]; then
	eval "$(declare -f | sed 's#\./run\.sh#candlepipe#g; s#run\.sh: #candlepipe: #g')"
	USAGE_HINT="candlepipe help"
	CP_LAUNCHER=candlepipe
fi
# the command the programs' own usage texts and hints name (common/opts.h)
export CP_LAUNCHER="${CP_LAUNCHER:-./run.sh}"

cfg_apply "$@"
set -- "${CFG_ARGV[@]}"
case "${1:-help}" in
check-config) shift; cmd_check_config "$@"; exit $? ;;
copy) shift; cmd_copy "$@" ;;
collect) shift; cmd_collect "$@"; exit $? ;;
start) shift; cmd_start "$@" ;;
stop) shift; cmd_stop "$@" ;;
status) shift; cmd_status "$@" ;;
cancel) shift; cmd_cancel "$@" ;;
follow) shift; cmd_follow "$@" ;;
demo) shift; cmd_demo "$@" ;;
sim) shift; exec "$SIM" "$@" ;;
monitor) shift; [ -x "$MONITOR" ] || { echo "run.sh: monitor is not built" >&2; exit 1; }; CP_USAGE_HINT="$CP_LAUNCHER monitor --help" exec "$MONITOR" "$@" ;;
# --- query, gaps, export: the read side (query/cp-query, read-only) --------
query|gaps|export|verify)
	[ -x "$QUERY" ] || { echo "run.sh: $QUERY is missing: run 'make' first" >&2; exit 1; }
	CP_RUN_SH="$SELF" exec "$QUERY" "$@" ;;
serve) shift; [ -x "$SERVE" ] || { echo "run.sh: $SERVE is missing: run 'make' first" >&2; exit 1; }
	exec "$SERVE" "$@" ;; # the HTTP API (README: HTTP API (cp-serve))
help|-h|--help) usage ;;
*) die_usage "unknown command '$1'" ;;
esac
