# tests/sim_helpers.bash - start/stop helpers for the Upbit simulator, shared
# by the bats suites.  Load with `load sim_helpers` (from tests/).
#
#   start_sim [upbit-sim options...]
#       starts sim/upbit-sim on a free loopback port (--port 0 --port-file),
#       waits until it listens (WAIT_FOR_S seconds at most, 20) and sets SIM_PID, SIM_PORT, SIM_URL, SIM_DIR
#       (its temp dir; its stderr is in $SIM_DIR/log).  Every started
#       simulator is remembered so stop_all_sims can clean up.
#   stop_sim [pid]
#       SIGTERM (default: $SIM_PID), wait up to 5 s, then SIGKILL.
#   sim_register PID
#       remember a simulator started by other means for stop_all_sims.
#   stop_all_sims
#       stop every simulator started by start_sim in this file (teardown_file).
#   start_file_sim [upbit-sim options...]
#       start_sim for every test of a file (in setup_file); use_file_sim in
#       setup() then sets SIM_PORT and SIM_URL for the test.

SIM_BIN=${SIM_BIN:-"$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/sim/upbit-sim"}

_sim_pidfile() {
	echo "${BATS_FILE_TMPDIR:-${TMPDIR:-/tmp}}/sim-helpers.pids"
}

start_sim() {
	local dir end
	dir=$(mktemp -d "${BATS_FILE_TMPDIR:-${TMPDIR:-/tmp}}/sim.XXXXXX")
	# fd 3 is bats' output channel: a background child must not hold it
	"$SIM_BIN" --port 0 --port-file "$dir/port" "$@" >"$dir/out" 2>"$dir/log" 3>&- &
	SIM_PID=$!
	sim_register "$SIM_PID"
	# a deadline, not a count of sleeps: a loaded machine starts it slowly
	end=$((SECONDS + ${WAIT_FOR_S:-20}))
	while ((SECONDS <= end)); do
		[[ -s "$dir/port" ]] && break
		if ! kill -0 "$SIM_PID" 2>/dev/null; then
			echo "start_sim: upbit-sim exited early:" >&2
			cat "$dir/log" >&2
			return 1
		fi
		sleep 0.025
	done
	if [[ ! -s "$dir/port" ]]; then
		echo "start_sim: no port file after ${WAIT_FOR_S:-20} s" >&2
		cat "$dir/log" >&2
		return 1
	fi
	SIM_PORT=$(<"$dir/port")
	SIM_URL="http://127.0.0.1:$SIM_PORT"
	SIM_DIR=$dir
	export SIM_PID SIM_PORT SIM_URL SIM_DIR
}

# sim_register PID: remember a simulator started by hand so stop_all_sims stops it
sim_register() {
	echo "$1" >>"$(_sim_pidfile)"
}

# stop_own PID NAME: SIGTERM to PID if it is NAME (only ever our own
# process, never a recycled pid), SIGKILL if it has not ended after 5 s
stop_own() {
	local pid=$1 i
	[[ -n "$pid" ]] || return 0
	grep -qa "$2" "/proc/$pid/cmdline" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 200; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.025
	done
	kill -KILL "$pid" 2>/dev/null || true
}

stop_sim() { stop_own "${1:-$SIM_PID}" upbit-sim; }

stop_all_sims() {
	local f pid
	f=$(_sim_pidfile)
	[[ -f "$f" ]] || return 0
	while read -r pid; do
		stop_sim "$pid"
	done <"$f"
	rm -f "$f"
}

start_file_sim() {
	start_sim "$@" && echo "$SIM_PORT" >"$BATS_FILE_TMPDIR/sim.port"
}

use_file_sim() {
	SIM_PORT=$(<"$BATS_FILE_TMPDIR/sim.port")
	SIM_URL="http://127.0.0.1:$SIM_PORT"
}
