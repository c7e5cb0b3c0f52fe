#!/usr/bin/env bash
# Runs every deterministic test: the C unit tests (cmocka) and the bats
# suites, and ends with one line "N passed, N failed" (totals of all suites).
# Exit status: 0 only if nothing failed. BATS_FILTER=regex narrows the bats
# files (e.g. BATS_FILTER=sim); UNIT_ONLY=1 skips bats.
set -u
cd "$(dirname "$0")/.."
pass=0 fail=0 skipped=0
log=$(mktemp)
CLEAN=("$log") # removed at exit
trap 'rm -rf "${CLEAN[@]}"' EXIT

# one crash-point build (CRASHPOINTS=1) for every test that arms the crash
# or failure hooks (crash_build in tests/pipeline_helpers.bash)
if [ "${UNIT_ONLY:-0}" != 1 ]; then
	if [ -z "${CP_CRASH_BUILD:-}" ]; then
		CP_CRASH_BUILD=$(mktemp -d /tmp/cp-crash-build.XXXXXX)
		CLEAN+=("$CP_CRASH_BUILD")
		export CP_CRASH_BUILD
		echo "building the crash-point tree in $CP_CRASH_BUILD"
		if ! tests/crash-build.sh "$CP_CRASH_BUILD"; then
			echo "FAIL crash-point build"; fail=$((fail + 1))
			CP_CRASH_BUILD=""
		fi
	fi
fi

# unit DIR TEST: runs DIR/TEST from DIR and adds its counts to the totals
unit() {
	local dir=$1 t=$2 rc p f k
	(cd "$dir" && "./$t") >"$log" 2>&1
	rc=$?
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	k=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	pass=$((pass + p)); fail=$((fail + f)); skipped=$((skipped + k))
	if [ "$f" -ne 0 ]; then
		echo "FAIL $t${3:+ $3}"; cat "$log"
	else
		echo "ok   $t${3:+ $3} ($p tests$([ "$k" -eq 0 ] || echo ", $k skipped"))"
	fi
}

# tests with failure-point cases run from the crash-point build when there
# is one (they skip those cases in a normal build)
for t in tests/unit/*_test; do
	[ -x "$t" ] || continue
	if [ -n "${CP_CRASH_BUILD:-}" ] && [ -x "$CP_CRASH_BUILD/$t" ] &&
		grep -q CP_CRASHPOINTS "$t.c"; then
		unit "$CP_CRASH_BUILD" "$t" "(crash-point build)"
	else
		unit . "$t"
	fi
done

# Bats files run CP_TEST_JOBS at a time (default 2): most of their time is
# spent waiting (rate limits, simulated latency, clocks), not computing.
# Every test starts its own simulator and pipeline on ports it picks, in
# its own directories, so suites do not share anything.
JOBS=${CP_TEST_JOBS:-2}
case $JOBS in '' | *[!0-9]* | 0) echo "CP_TEST_JOBS must be a positive number, not '$JOBS'"; exit 2 ;; esac
SLOW_FIRST="tests/chaos.bats tests/monitor.bats tests/web.bats tests/pg.bats
tests/deb.bats tests/pg_chaos.bats tests/faults.bats tests/planner.bats tests/fetcher.bats"

# run_one FILE OUT: bats on FILE, its TAP output in OUT.log, its seconds in
# OUT.sec (written last: the file is then complete)
run_one() {
	local t0=$SECONDS
	bats --tap "$1" >"$2.log" 2>&1
	echo $((SECONDS - t0)) >"$2.sec.tmp" && mv "$2.sec.tmp" "$2.sec"
}

# worker Q: takes the next file of the queue (the index in Q/next, under a
# lock) until none is left
worker() {
	local i
	while :; do
		i=$({ flock 9; n=$(cat "$1/next"); echo $((n + 1)) >"$1/next"; echo "$n"; } 9>"$1/lock")
		[ "$i" -lt "${#files[@]}" ] || return 0
		run_one "${files[$i]}" "$1/$i"
	done
}

# a bats file's counts into the totals
tally() { # file log seconds
	local b=$1 log=$2 p k f
	p=$(grep '^ok ' "$log" | grep -vc ' # skip')
	k=$(grep '^ok ' "$log" | grep -c ' # skip')
	f=$(grep -c '^not ok ' "$log")
	if ! grep -q '^1\.\.' "$log"; then f=$((f + 1)); fi
	skipped=$((skipped + k)); pass=$((pass + p)); fail=$((fail + f))
	if [ "$f" -ne 0 ]; then
		echo "FAIL $b"; cat "$log"
	else
		echo "ok   $b ($p tests, ${3}s)"
	fi
}

if [ "${UNIT_ONLY:-0}" != 1 ]; then
	# the PostgreSQL suites (those that load pg_helpers) skip without a
	# server to start: one line says so here
	# shellcheck source=tests/pg_helpers.bash
	. tests/pg_helpers.bash
	if ! pgwhy=$(pg_available); then
		pgs=$(grep -l '^load pg_helpers' tests/*.bats 2>/dev/null |
			grep -E "${BATS_FILTER:-.}" | tr '\n' ' ')
		[ -z "$pgs" ] || echo "skip ${pgs% }: $pgwhy"
	fi
	# the files to run, the long ones first (so that the workers end
	# together), then the rest in name order
	files=()
	for b in $SLOW_FIRST tests/*.bats; do
		[ -e "$b" ] || continue
		if [ -n "${BATS_FILTER:-}" ] && ! [[ "$b" =~ ${BATS_FILTER} ]]; then continue; fi
		[[ " ${files[*]} " == *" $b "* ]] || files+=("$b")
	done
	q=$(mktemp -d)
	CLEAN+=("$q")
	echo 0 >"$q/next"
	echo "bats: ${#files[@]} files, $JOBS at once (CP_TEST_JOBS)"
	for ((w = 0; w < JOBS; w++)); do worker "$q" & done
	# each file's result in the order they were taken, as soon as it is in
	for ((i = 0; i < ${#files[@]}; i++)); do
		until [ -e "$q/$i.sec" ]; do sleep 0.2; done
		tally "${files[$i]}" "$q/$i.log" "$(cat "$q/$i.sec")"
	done
	wait
fi

echo "(${SECONDS}s in all)"
if [ "$skipped" -gt 0 ]; then
	echo "$pass passed, $fail failed, $skipped skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
