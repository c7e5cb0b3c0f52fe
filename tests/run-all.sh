#!/usr/bin/env bash
# Runs every deterministic test: the C unit tests (cmocka) and the bats
# suites, and ends with one line "N passed, N failed" (totals of all suites).
# Exit status: 0 only if nothing failed. BATS_FILTER=regex narrows the bats
# files (e.g. BATS_FILTER=sim); UNIT_ONLY=1 skips bats.
set -u
cd "$(dirname "$0")/.."
pass=0 fail=0 skipped=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

for t in tests/unit/*_test; do
	[ -x "$t" ] || continue
	"$t" >"$log" 2>&1
	rc=$?
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	pass=$((pass + p)); fail=$((fail + f))
	if [ "$f" -ne 0 ]; then
		echo "FAIL $t"; cat "$log"
	else
		echo "ok   $t ($p tests)"
	fi
done

# a bats file's counts into the totals
tally() { # file log
	local b=$1 log=$2 p k f
	p=$(grep '^ok ' "$log" | grep -vc ' # skip')
	k=$(grep '^ok ' "$log" | grep -c ' # skip')
	f=$(grep -c '^not ok ' "$log")
	if ! grep -q '^1\.\.' "$log"; then f=$((f + 1)); fi
	skipped=$((skipped + k)); pass=$((pass + p)); fail=$((fail + f))
	if [ "$f" -ne 0 ]; then
		echo "FAIL $b"; cat "$log"
	else
		echo "ok   $b ($p tests)"
	fi
}

if [ "${UNIT_ONLY:-0}" != 1 ]; then
	# one crash-point build (CRASHPOINTS=1) for every suite that arms the
	# crash or failure hooks (crash_build in tests/pipeline_helpers.bash)
	if [ -z "${CP_CRASH_BUILD:-}" ]; then
		CP_CRASH_BUILD=$(mktemp -d /tmp/cp-crash-build.XXXXXX)
		trap 'rm -f "$log"; rm -rf "$CP_CRASH_BUILD"' EXIT
		export CP_CRASH_BUILD
		echo "building the crash-point tree in $CP_CRASH_BUILD"
		if ! tests/crash-build.sh "$CP_CRASH_BUILD"; then
			echo "FAIL crash-point build"; fail=$((fail + 1))
			CP_CRASH_BUILD=""
		fi
	fi
	# follow.bats mostly waits for the clock (three minutes of candles
	# closing): it runs alongside the others
	bg="tests/follow.bats"
	bglog=$(mktemp)
	bgpid=""
	if [ -e "$bg" ] && { [ -z "${BATS_FILTER:-}" ] || [[ "$bg" =~ ${BATS_FILTER} ]]; }; then
		bats --tap "$bg" >"$bglog" 2>&1 &
		bgpid=$!
	fi
	for b in tests/*.bats; do
		[ -e "$b" ] || continue
		[ "$b" != "$bg" ] || continue
		if [ -n "${BATS_FILTER:-}" ] && ! [[ "$b" =~ ${BATS_FILTER} ]]; then continue; fi
		bats --tap "$b" >"$log" 2>&1
		tally "$b" "$log"
	done
	if [ -n "$bgpid" ]; then
		wait "$bgpid"
		tally "$bg" "$bglog"
	fi
	rm -f "$bglog"
fi

if [ "$skipped" -gt 0 ]; then
	echo "$pass passed, $fail failed, $skipped skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
