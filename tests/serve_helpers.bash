# tests/serve_helpers.bash: start/stop cp-serve for the bats suites (load
# sim_helpers too: stop_serve is its stop_own).
#
#   start_serve DB [cp-serve options...]
#       starts serve/cp-serve on a free loopback port (--listen 127.0.0.1:0
#       --port-file), waits until it listens (WAIT_FOR_S seconds at most,
#       20), sets SV_PID, SV_URL, SV_LOG
#   stop_serve [pid]
#       SIGTERM (default: $SV_PID), wait up to 5 s, then SIGKILL; only a
#       process that is still our cp-serve is signalled
#   sv_get PATH [curl options...]
#       GET $SV_URL$PATH: the body, then the status on its own last line
#   sv_cmp A B WHAT
#       0 when files A and B are equal; else says WHAT differs, shows the
#       start of both, and returns 1
#   sv_minute_ago S
#       the UTC time S seconds before the current minute began
#       (YYYY-MM-DDTHH:MM:SS), for a seconds window the simulator has

SV_BIN=${SV_BIN:-"$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/serve/cp-serve"}

start_serve() {
	local db=$1 dir end
	shift
	dir=$(mktemp -d "${BATS_FILE_TMPDIR:-${TMPDIR:-/tmp}}/serve.XXXXXX")
	"$SV_BIN" --db "$db" --listen 127.0.0.1:0 --port-file "$dir/port" "$@" \
		>"$dir/out" 2>"$dir/log" 3>&- &
	SV_PID=$!
	SV_LOG=$dir/log
	echo "$SV_PID" >>"${BATS_FILE_TMPDIR:-/tmp}/serve-helpers.pids"
	# a deadline, not a count of sleeps: a loaded machine starts it slowly
	end=$((SECONDS + ${WAIT_FOR_S:-20}))
	while ((SECONDS <= end)); do
		[[ -s "$dir/port" ]] && break
		if ! kill -0 "$SV_PID" 2>/dev/null; then
			echo "start_serve: cp-serve exited early:" >&2
			cat "$dir/log" >&2
			return 1
		fi
		sleep 0.025
	done
	[[ -s "$dir/port" ]] || { echo "start_serve: no port file" >&2; cat "$dir/log" >&2; return 1; }
	SV_URL="http://127.0.0.1:$(<"$dir/port")"
	export SV_PID SV_URL SV_LOG
}

stop_serve() { stop_own "${1:-$SV_PID}" cp-serve; }

stop_all_serves() {
	local f=${BATS_FILE_TMPDIR:-/tmp}/serve-helpers.pids pid
	[[ -f "$f" ]] || return 0
	while read -r pid; do
		stop_serve "$pid"
	done <"$f"
	rm -f "$f"
}

sv_get() {
	local path=$1
	shift
	curl -s -w '\n%{http_code}' "$@" "$SV_URL$path"
}

sv_minute_ago() {
	local now
	now=$(date +%s)
	date -u -d "@$((now - now % 60 - $1))" +%Y-%m-%dT%H:%M:%S
}

sv_cmp() {
	cmp -s "$1" "$2" && return 0
	echo "differs: $3"
	diff <(head -c 800 "$1") <(head -c 800 "$2") || true
	return 1
}
