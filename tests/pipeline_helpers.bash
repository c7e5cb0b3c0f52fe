# tests/pipeline_helpers.bash: helpers for end-to-end suites.
#
#   collect ARGS...      ./run.sh collect with a private run dir, against $SIM_URL
#   db_dump DB M TF [FROM TO]  the stored candles of (M, TF) [in FROM..TO) as
#                        Upbit JSON lines, oldest first, byte for byte like
#                        `upbit-sim truth`
#   truth M TF FROM TO   the simulator's truth for [FROM, TO)
#   sim_stat JQ          a value from the simulator's /__sim/stats
#   wait_for CMD...      runs CMD every 0.1 s until it succeeds; fails after
#                        WAIT_FOR_S seconds (20): the way to wait for a log
#                        line, a file or a port, never a fixed sleep
#   crash_build          sets CPB to a tree built with CRASHPOINTS=1
#   chaos_test_setup SEED  a chaos test's setup (tests/chaos.bats,
#                        pg_chaos.bats): CHAOS_SEED (SEED unless set), the
#                        chaos library (tests/chaos.sh), CHAOS_LOG, RANDOM
#                        seeded; the seed printed
#   chaos_test_stop      teardown: nothing of $RUN_DIR stays frozen, the
#                        collect $CPID (if any) stopped
#   chaos_test_report    teardown: the chaos log and the collects' output

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
load sim_helpers

collect() {
	# fd 3 is bats' channel: children must not keep it open
	"$ROOT/run.sh" collect --api-url "$SIM_URL" --run-dir "$BATS_TEST_TMPDIR/run" "$@" 3>&-
}

db_dump() {
	"$ROOT/tests/db_dump.sh" "$@"
}

# check_range M TF FROM TO [collect options...]: collect [FROM, TO) of M TF
# into $DB and compare every field with the truth (DB_DUMP: the dump
# command, db_dump for SQLite, pg_db_dump for PostgreSQL)
check_range() {
	local m=$1 tf=$2 from=$3 to=$4
	shift 4
	run collect --market "$m" --timeframe "$tf" --from "$from" --to "$to" --db "$DB" --rate 0 --quiet "$@"
	echo "$output"
	[ "$status" -eq 0 ]
	truth "$m" "$tf" "$from" "$to" >"$BATS_TEST_TMPDIR/truth"
	local stored=${tf/#60m/1h}
	stored=${stored/#240m/4h}
	"${DB_DUMP:-db_dump}" "$DB" "$m" "$stored" "$from" "$to" >"$BATS_TEST_TMPDIR/db"
	[ -s "$BATS_TEST_TMPDIR/truth" ]
	diff "$BATS_TEST_TMPDIR/truth" "$BATS_TEST_TMPDIR/db"
}

truth() {
	"$ROOT/sim/upbit-sim" truth --market "$1" --timeframe "$2" --from "$3" --to "$4" ${SIM_SEED:+--seed "$SIM_SEED"}
}

sim_stat() {
	curl -s "$SIM_URL/__sim/stats" | jq -r "$1"
}

wait_for() {
	local i
	for ((i = 0; i < ${WAIT_FOR_S:-20} * 10; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	echo "wait_for: gave up after ${WAIT_FOR_S:-20} s on: $*" >&2
	return 1
}

# A UTC time N units before the current one, aligned: ago 3d, ago 90m
ago() {
	date -u -d "@$(( $(date +%s) - $1 ))" +%Y-%m-%dT%H:%M:%S
}

candle_requests() {
	curl -s "$SIM_URL/__sim/stats" |
		jq '[.by_route | to_entries[] | select(.key | startswith("candles")) | .value] | add'
}

# crash_build: sets CPB to a tree built with CRASHPOINTS=1 (the crash and
# failure hooks of common/crashpoint.h compiled in). Uses $CP_CRASH_BUILD
# when it holds one (tests/run-all.sh builds one per run, tests/coverage.sh
# points it at its own instrumented tree); else builds a copy of the sources
# in $BATS_FILE_TMPDIR/cpb. Callers must not modify the tree it names.
crash_build() {
	if [ -n "${CP_CRASH_BUILD:-}" ] && [ -x "$CP_CRASH_BUILD/writer/cp-writer" ]; then
		CPB=$CP_CRASH_BUILD
		return 0
	fi
	CPB="$BATS_FILE_TMPDIR/cpb"
	"$ROOT/tests/crash-build.sh" "$CPB"
}

chaos_test_setup() {
	# before chaos.sh, which would pick a random one
	CHAOS_SEED=${CHAOS_SEED:-$1}
	source "$ROOT/tests/chaos.sh"
	CHAOS_LOG="$BATS_TEST_TMPDIR/chaos.log"
	RANDOM=$CHAOS_SEED
	echo "# CHAOS_SEED=$CHAOS_SEED (log: $CHAOS_LOG)" >&3
}

chaos_test_stop() {
	chaos_resume_all "$RUN_DIR"
	[ -z "${CPID:-}" ] || { kill -TERM "$CPID" 2>/dev/null; wait "$CPID" 2>/dev/null; } || true
}

chaos_test_report() {
	echo "--- chaos log (seed $CHAOS_SEED)"; cat "$CHAOS_LOG" 2>/dev/null
	echo "--- collect output"; cat "$BATS_TEST_TMPDIR"/collect.*.out 2>/dev/null | tail -20
}

# The follow tests' clock (CP_CLOCK_OFFSET_MS moves the pipeline's and the
# simulator's "now"):
# clock_before PERIOD LEAD: sets the simulated clock LEAD s before the last
# multiple of PERIOD s that real time passed (so it runs in the past, where
# both the pipeline and the simulator are at home); CLOSE = that multiple
clock_before() {
	local now
	now=$(date +%s%3N)
	CLOSE=$((now / 1000 / $1 * $1))
	export CP_CLOCK_OFFSET_MS=$(((CLOSE - $2) * 1000 - now))
}
# sim_now: the simulated clock's epoch seconds; iso T: T as ISO 8601 UTC
sim_now() { echo $((($(date +%s%3N) + CP_CLOCK_OFFSET_MS) / 1000)); }
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%S; }
