#!/usr/bin/env bash
# run.sh: starts and supervises candlepipe's processes.
#
#   ./run.sh collect --market M[,M...] --timeframe TF[,TF...] [range] [options]
#   ./run.sh demo                 the simulator + a small collection, with progress
#   ./run.sh sim [sim options]    the offline Upbit simulator on its own
#   ./run.sh help
#
# collect starts the writer, the planner and N fetchers as separate processes
# connected by ZeroMQ (ipc sockets in a run directory), restarts any of them
# that dies (unless it exits with the "permanent" code 3), waits until
# the planner reports the requested ranges covered, stops everything and
# exits with the planner's status: 0 all covered, 1 some ranges not covered,
# 2 usage error.
set -u

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PLANNER="$HERE/planner/cp-planner"
FETCHER="$HERE/fetcher/cp-fetcher"
WRITER="$HERE/writer/cp-writer"
MONITOR="$HERE/monitor/cp-monitor"
SIM="$HERE/sim/upbit-sim"

EXIT_USAGE=2
# children get SIGTERM if this script is killed (see common/proc.h)
export CP_DIE_WITH_PARENT=1
EXIT_PERMFAIL=3
RESTART_PAUSE=${CP_RESTART_PAUSE:-1}

die_usage() { echo "run.sh: $*" >&2; echo "try './run.sh help'" >&2; exit $EXIT_USAGE; }

usage() {
	cat <<'USAGE'
usage: ./run.sh COMMAND [options]

commands:
  collect   collect candles into SQLite (see below)
  demo      start the bundled simulator and collect a few markets into data/demo.db
  query     candles of a range from the database, with a coverage report
            (--format table|csv|json|jsonl, --fill forward, --fetch-missing)
  gaps      never-fetched ranges and no-trade stretches of a market
  export    stream whole markets or ranges as csv or jsonl
  verify    check a database read-only, as fsck does (exit 0 clean, 1 problems)
  monitor   attach to a running collection: live view, --json, --prometheus
  sim       run the offline Upbit simulator (sim/upbit-sim --help)
  help      this text

collect --market M[,M...]|all | --quote Q  --timeframe TF[,TF...] RANGE [options]
  RANGE is one of:
    --from T [--to T]     candles starting in [from, to); --to defaults to now
    --count N [--to T]    the N most recent closed intervals before --to (or now)
    --follow [--from T | --count N]  backfill, then keep every market and
                          timeframe up to date until stopped (SIGTERM, Ctrl-C)
  --market all or --quote KRW expand from /v1/market/all; named markets are
  checked against it first (--skip-market-check skips that request).
  T is ISO 8601: 2026-01-31, 2026-01-31T09:00:00Z, 2026-01-31T18:00:00+09:00;
  a time without Z or an offset is UTC. The candle still forming is never
  collected.
  TF: 1s 1m 3m 5m 10m 15m 30m 1h 4h 1d 1w 1M 1y (60m, 240m are aliases)
options:
  --db PATH          database (default data/candles.db)
  --fetchers N       fetcher processes (default 2)
  --source-ip A[,B]  fetcher i sends from address i (round robin); the rate
                     budget is per source address
  --api-url URL      Upbit base URL (default $UPBIT_API_URL or https://api.upbit.com)
  --cacert FILE      trust the CA certificates (PEM) in FILE for an https API
                     instead of the system's (a certificate refused: exit 3)
  --rate N           candle requests/s per source address (default 10)
  --inflight N       concurrent transfers per fetcher (default 4)
  --quiet            no progress line
  --feature NAME=on|off  switch an optimisation (split, hedge, lookahead)
  --features FILE    the same as 'name = on|off' lines in a file
  --hedge-after-ms N, --guard-epoch-ms N, --guard-after-ms N: see
                     planner/cp-planner --help
  --run-dir DIR      where the ipc sockets and logs go (default: /tmp/cp-<hash of db>)
  --tcp HOST:PORT    tcp endpoints on PORT..PORT+3 (work, results, events,
                     monitor) instead of ipc, so fetchers on other hosts can
                     join: cp-fetcher --work tcp://HOST:PORT --results
                     tcp://HOST:PORT+1 --events tcp://HOST:PORT+2
  --curve DIR        CURVE-encrypt and authenticate every socket; keys are
                     made in DIR on first use (server.key, client.key); give
                     remote fetchers server.key.pub and a client key
  -v                 verbose logs
USAGE
}

# --- collect --------------------------------------------------------------

declare -a PIDS=() NAMES=() CMDS=()
RUN_DIR=""
STOPPING=0

# CP_EXEC_WRAPPER="valgrind ..." runs every pipeline process under a wrapper
# (tests/valgrind.bats); word-split on purpose
start_proc() { # name logfile cmd...
	local name=$1 log=$2; shift 2
	# shellcheck disable=SC2206
	[ -z "${CP_EXEC_WRAPPER:-}" ] || set -- $CP_EXEC_WRAPPER "$@"
	"$@" >>"$log" 2>&1 &
	PIDS+=("$!"); NAMES+=("$name"); CMDS+=("$(printf '%q ' "$@")")
}

restart_proc() { # index
	local i=$1 log="$RUN_DIR/${NAMES[$1]}.log"
	# exec: $! must be the process itself, not a subshell that stop_all would
	# kill while the restarted process lives on (holding the writer lock)
	eval "exec ${CMDS[$i]}" >>"$log" 2>&1 &
	PIDS[$i]=$!
}

PLANNER_PID=""
FOLLOW=0

# Ctrl-C or SIGTERM: the planner stops first (it prints its summary and
# says what is not covered), then the rest. A follower that stops cleanly
# exits 0; an interrupted collection exits 130/143.
on_stop_signal() {
	local code=$1 prc=1
	if [ -n "$PLANNER_PID" ]; then
		kill -TERM "$PLANNER_PID" 2>/dev/null
		wait "$PLANNER_PID" 2>/dev/null; prc=$?
	fi
	stop_all
	if [ "$FOLLOW" = 1 ] && [ "$prc" -eq 0 ]; then exit 0; fi
	exit "$code"
}

stop_all() {
	STOPPING=1
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	local deadline=$((SECONDS + 6))
	for p in "${PIDS[@]}"; do
		while kill -0 "$p" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
}

# resolve_markets API MARKETS QUOTE CHECK: prints the market list to collect.
# "all" and --quote expand from /v1/market/all; named markets are checked
# against it (unless CHECK=0), so unknown ones fail in one clear line before
# anything starts.
resolve_markets() {
	local api=$1 markets=$2 quote=$3 check=$4 list unknown m
	local -a tls=()
	[ -z "${CACERT:-}" ] || tls=(--cacert "$CACERT")
	if [ "$check" = 0 ] && [ -z "$quote" ] && [ "$markets" != all ]; then
		echo "$markets"; return 0
	fi
	local body="" try
	for try in 1 2 3; do
		body=$(curl -sS --fail --max-time 5 "${tls[@]}" -H 'Accept: application/json' \
			"$api/v1/market/all" 2>/dev/null) && list=$(jq -r '.[].market' <<<"$body" 2>/dev/null) &&
			[ -n "$list" ] && break
		list=""
		sleep "$try"
	done
	if [ -z "$list" ]; then
		echo "run.sh: cannot read the market list from $api/v1/market/all" \
			"(use --skip-market-check to collect named markets without it)" >&2
		return 1
	fi
	if [ -n "$quote" ]; then
		quote=${quote^^}
		list=$(grep "^$quote-" <<<"$list" | sort | paste -sd, -)
		[ -n "$list" ] || { echo "run.sh: no market is quoted in '$quote' (try KRW, BTC or USDT)" >&2; return $EXIT_USAGE; }
		echo "$list"; return 0
	fi
	if [ "$markets" = all ]; then
		sort <<<"$list" | paste -sd, -; return 0
	fi
	unknown=""
	for m in ${markets//,/ }; do
		grep -qx -- "$m" <<<"$list" || unknown="$unknown${unknown:+, }$m"
	done
	if [ -n "$unknown" ]; then
		echo "run.sh: unknown market(s): $unknown (not listed by $api/v1/market/all)" >&2
		return $EXIT_USAGE
	fi
	echo "$markets"
}

run_dir_for() { # db path
	local abs
	abs="$(realpath -m "$1")"
	echo "/tmp/cp-$(printf '%s' "$abs" | sha1sum | cut -c1-12)"
}

cmd_collect() {
	local db="data/candles.db" fetchers=2 api_url="${UPBIT_API_URL:-https://api.upbit.com}"
	local rate=10 inflight=4 quiet="" verbose="" sources="" run_dir=""
	local markets="" quote="" check_markets=1 tcp="" curve_dir="" CACERT=""
	local -a popts=()
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
		-h|--help) usage; exit 0 ;;
		*) die_usage "unknown option '$1'" ;;
		esac
	done
	[[ "$fetchers" =~ ^[0-9]+$ ]] && [ "$fetchers" -ge 1 ] && [ "$fetchers" -le 64 ] ||
		die_usage "--fetchers must be 1..64, not '$fetchers'"
	[[ "$inflight" =~ ^[0-9]+$ ]] && [ "$inflight" -ge 1 ] && [ "$inflight" -le 64 ] ||
		die_usage "--inflight must be 1..64, not '$inflight'"
	[[ "$api_url" =~ ^https?:// ]] || die_usage "--api-url must start with http:// or https://"
	[ -z "${CACERT:-}" ] || [ -r "$CACERT" ] || die_usage "cannot read --cacert '$CACERT'"
	[ -z "$tcp" ] || [[ "$tcp" =~ ^[^:]+:[0-9]+$ ]] || die_usage "--tcp wants HOST:PORT, not '$tcp'"
	for b in "$PLANNER" "$FETCHER" "$WRITER"; do
		[ -x "$b" ] || { echo "run.sh: $b is missing: run 'make' first" >&2; exit 1; }
	done
	[ -n "$markets" ] || [ -n "$quote" ] || die_usage "give --market M[,M...] (or all) or --quote KRW|BTC|USDT"
	[ -z "$markets" ] || [ -z "$quote" ] || die_usage "--market and --quote cannot be combined"
	# --validate checks everything else before anything starts (or is fetched)
	local vm=$markets
	[ -n "$vm" ] && [ "$vm" != all ] || vm=KRW-BTC
	CP_USAGE_HINT="./run.sh collect --help" "$PLANNER" --validate "${popts[@]}" --market "$vm" \
		--rate "$rate" || exit $EXIT_USAGE
	markets=$(resolve_markets "$api_url" "$markets" "$quote" "$check_markets") || exit $?
	popts+=(--market "$markets")

	[ -n "$run_dir" ] || run_dir="$(run_dir_for "$db")"
	RUN_DIR="$run_dir"
	mkdir -p "$RUN_DIR" "$(dirname "$db")" || exit 1
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
	printf '%s\n' "$monitor" >"$RUN_DIR/monitor.endpoint"

	trap 'on_stop_signal 130' INT
	trap 'on_stop_signal 143' TERM

	rm -f "$RUN_DIR/writer.ready"
	start_proc writer "$RUN_DIR/writer.log" "$WRITER" --db "$db" --results "$results" \
		--work "$work" --events "$events" --ready-file "$RUN_DIR/writer.ready" $verbose \
		${curve_dir:+--curve-server "$curve_dir/server.key" --curve-client "$curve_dir/client.key" --curve-allow "$curve_dir/client.key.pub"}
	local t=0
	while [ ! -e "$RUN_DIR/writer.ready" ]; do
		if ! kill -0 "${PIDS[0]}" 2>/dev/null; then
			wait "${PIDS[0]}"; local wrc=$?
			echo "run.sh: the writer did not start (exit $wrc):" >&2
			tail -n 3 "$RUN_DIR/writer.log" >&2
			exit 1
		fi
		sleep 0.05; t=$((t + 1))
		[ $t -lt 400 ] || { echo "run.sh: the writer is not ready after 20 s" >&2; stop_all; exit 1; }
	done

	# The planner binds the sockets the fetchers connect to, so it starts
	# first. Its stdout (progress, summary) goes to ours, its log to stderr.
	# shellcheck disable=SC2206
	local -a pcmd=(${CP_EXEC_WRAPPER:-} "$PLANNER" "${popts[@]}" --db "$db" --work "$work" --events "$events"
		--monitor "$monitor" --rate "$rate" $quiet $verbose "${skeys[@]}")
	"${pcmd[@]}" &
	local planner=$!
	PLANNER_PID=$planner
	local i src
	local -a srcs=()
	[ -n "$sources" ] && IFS=, read -r -a srcs <<<"$sources"
	for ((i = 0; i < fetchers; i++)); do
		local -a fo=(--work "$work" --results "$results" --events "$events" --api-url "$api_url"
			--max-inflight "$inflight" --name "fetcher$i" "${ckeys[@]}"
			${CACERT:+--cacert "$CACERT"})
		if [ ${#srcs[@]} -gt 0 ]; then
			src=${srcs[$((i % ${#srcs[@]}))]}
			fo+=(--source-ip "$src")
		fi
		start_proc "fetcher$i" "$RUN_DIR/fetcher$i.log" "$FETCHER" "${fo[@]}" $verbose
	done


	local rc
	while :; do
		wait -n 2>/dev/null
		if ! kill -0 "$planner" 2>/dev/null; then
			wait "$planner"; rc=$?
			# killed by a signal or "restart me": a new planner resumes
			# from the database; anything else is the collection's end
			if [ $rc -ge 128 ] || [ $rc -eq 4 ]; then
				echo "run.sh: the planner exited ($rc); restarting in ${RESTART_PAUSE}s" >&2
				sleep "$RESTART_PAUSE"
				"${pcmd[@]}" &
				planner=$!
				PLANNER_PID=$planner
				continue
			fi
			break
		fi
		for i in "${!PIDS[@]}"; do
			if ! kill -0 "${PIDS[$i]}" 2>/dev/null; then
				wait "${PIDS[$i]}"; local prc=$?
				if [ $prc -eq $EXIT_PERMFAIL ]; then
					echo "run.sh: ${NAMES[$i]} failed permanently:" >&2
					tail -n 2 "$RUN_DIR/${NAMES[$i]}.log" >&2
					kill -TERM "$planner" 2>/dev/null; wait "$planner"
					stop_all; exit 1
				fi
				echo "run.sh: ${NAMES[$i]} exited ($prc); restarting in ${RESTART_PAUSE}s" >&2
				sleep "$RESTART_PAUSE"
				restart_proc "$i"
			fi
		done
	done
	stop_all
	trap - INT TERM
	return $rc
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
	for b in "$SIM" "$PLANNER" "$FETCHER" "$WRITER"; do
		[ -x "$b" ] || { echo "run.sh: $b is missing: run 'make' first" >&2; exit 1; }
	done
	DEMO_TMP="$(mktemp -d)"
	trap demo_cleanup EXIT
	"$SIM" --port 0 --port-file "$DEMO_TMP/port" --latency-ms 30 >"$DEMO_TMP/sim.log" 2>&1 &
	DEMO_SIM=$!
	for _ in $(seq 100); do [ -s "$DEMO_TMP/port" ] && break; sleep 0.05; done
	port=$(cat "$DEMO_TMP/port" 2>/dev/null) || { echo "run.sh: the simulator did not start" >&2; exit 1; }
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

case "${1:-help}" in
collect) shift; cmd_collect "$@"; exit $? ;;
demo) shift; cmd_demo "$@" ;;
sim) shift; exec "$SIM" "$@" ;;
monitor) shift; [ -x "$MONITOR" ] || { echo "run.sh: monitor is not built" >&2; exit 1; }; CP_USAGE_HINT="./run.sh monitor --help" exec "$MONITOR" "$@" ;;
# --- query, gaps, export: the read side (query/cp-query, read-only) --------
query|gaps|export|verify)
	[ -x "$HERE/query/cp-query" ] || { echo "run.sh: $HERE/query/cp-query is missing: run 'make' first" >&2; exit 1; }
	CP_RUN_SH="$HERE/run.sh" exec "$HERE/query/cp-query" "$@" ;;
help|-h|--help) usage ;;
*) die_usage "unknown command '$1'" ;;
esac
