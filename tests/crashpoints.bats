#!/usr/bin/env bats
# Crash points: a crash-point build (make CRASHPOINTS=1, crash_build in
# pipeline_helpers.bash, so the normal objects stay untouched) exits with _exit(99) at the Nth
# pass of a named point (CP_CRASH=name:N). For every point and N = 1, 2, 3 a
# small collection runs with the point armed, then the promises are checked:
#   - a fetcher or writer crash: run.sh restarts it and collect exits 0;
#   - a planner crash: collect exits non-zero, the same command run again
#     (not armed) resumes from the database and exits 0;
#   - after every run, whatever its status: PRAGMA integrity_check is ok, no
#     duplicate key, every coverage row holds exactly the truth; at the end
#     the range equals the simulator's truth byte for byte.
# run.sh hands its environment to every process it starts or restarts, so a
# restarted process would be armed again. "Once" runs arm only the first
# process of the victim's kind (a wrapper disarms the later ones); "re-armed"
# runs let every restart crash again at its Nth pass, for the N where that
# still makes progress (N >= 2: each instance gets N - 1 passes of work done);
# they take minutes, so they run only with CP_REARMED=1.
# Re-armed N = 1 is degenerate (no instance ever acknowledges anything: the
# planner gives up after 6 expired leases, exit 1, ~100 s; a disarmed rerun
# completes), so it is not part of `make test`.

load pipeline_helpers

CP_POINTS="writer_after_begin writer_after_commit fetcher_after_http fetcher_after_send planner_after_lease"

setup_file() {
	load pipeline_helpers
	local cp="$BATS_FILE_TMPDIR/cp"
	# the shared crash-point build, copied: the wrappers below replace its
	# binaries
	crash_build
	mkdir -p "$cp"
	cp -a "$CPB/." "$cp/"
	# "once" wrappers: the first process of a kind to start in a run keeps
	# CP_CRASH, later ones (restarts, other fetchers) run disarmed
	local k
	for k in planner fetcher writer; do
		mv "$cp/$k/cp-$k" "$cp/$k/cp-$k.real"
		cat >"$cp/$k/cp-$k" <<-EOF
		#!/bin/sh
		case " \$* " in *" --validate "*) exec "$cp/$k/cp-$k.real" "\$@" ;; esac
		if [ -n "\${CP_CRASH_ONCE:-}" ] && ! mkdir "\$CP_CRASH_ONCE/$k" 2>/dev/null; then
			CP_CRASH=
			export CP_CRASH
		fi
		exec "$cp/$k/cp-$k.real" "\$@"
		EOF
		chmod +x "$cp/$k/cp-$k"
	done
	start_file_sim --rate-limit 0 --latency-ms 30
}

teardown_file() {
	load sim_helpers
	stop_all_sims
}

setup() {
	use_file_sim
	CP="$BATS_FILE_TMPDIR/cp"
	source "$ROOT/tests/chaos.sh"
	export CP_RESTART_PAUSE=0.2
}

M=KRW-BTC
FROM=2026-09-01T00:00:00
TO=2026-09-05T00:00:00   # 5760 slots: 29 requests

# crash_run DB RUNDIR OUT [env...]: one collection with the crash-point build
crash_run() {
	local db=$1 rd=$2 out=$3; shift 3
	env "$@" "$CP/run.sh" collect --api-url "$SIM_URL" --run-dir "$rd" --db "$db" \
		--market $M --timeframe 1m --from $FROM --to $TO --rate 0 \
		--fetchers 2 --inflight 2 --quiet >"$out" 2>&1 3>&-
}

# walk MODE POINT N: one armed run, checks, and a clean rerun if needed
walk() {
	local mode=$1 point=$2 n=$3 tag="$1.$2.$3" rc rc2 db rd
	db="$BATS_TEST_TMPDIR/$tag.db"
	rd="$BATS_TEST_TMPDIR/$tag.run"
	mkdir -p "$BATS_TEST_TMPDIR/$tag.once"
	if [ "$mode" = once ]; then
		crash_run "$db" "$rd" "$rd.out" CP_CRASH="$point:$n" \
			CP_CRASH_ONCE="$BATS_TEST_TMPDIR/$tag.once" && rc=0 || rc=$?
	else
		crash_run "$db" "$rd" "$rd.out" CP_CRASH="$point:$n" && rc=0 || rc=$?
	fi
	# the point was reached (else the run proves nothing)
	if ! cat "$rd"/*.log "$rd.out" 2>/dev/null | grep -q "crashpoint $point:$n reached"; then
		echo "$tag: crashpoint never reached (exit $rc)"; cat "$rd.out"; return 1
	fi
	chaos_check_db "$db" || { echo "$tag: after the crashed run"; return 1; }
	if [ "${point%%_*}" = planner ]; then
		# run.sh restarts a crashed planner (deploy/supervision.conf), which
		# plans again from the ledger: exit 0, or an error; either way a
		# rerun then completes
		crash_run "$db" "$rd" "$rd.out2" && rc2=0 || rc2=$?
		[ "$rc2" -eq 0 ] || { echo "$tag: the rerun exited $rc2"; cat "$rd.out2"; return 1; }
	elif [ "$rc" -ne 0 ]; then
		echo "$tag: collect exited $rc"; tail -5 "$rd.out"; return 1
	fi
	chaos_check_db "$db" || { echo "$tag: at the end"; return 1; }
	chaos_equal_truth "$db" $M 1m $FROM $TO || { echo "$tag"; return 1; }
	echo "$tag: ok (first exit $rc, $(grep -c 'crashpoint .* reached' "$rd"/*.log "$rd.out" |
		awk -F: '{s += $NF} END {print s}') crash(es))"
}

@test "every crash point, N = 1, 2, 3, armed once: the promises hold" {
	local p n
	for p in $CP_POINTS; do
		for n in 1 2 3; do
			walk once "$p" "$n"
		done
	done
}

@test "fetcher and writer crash points re-armed at every restart, N = 2, 3: the run converges" {
	# slow: every lost result costs up to a lease (16 s): 20-100 s per walk
	[ "${CP_REARMED:-0}" = 1 ] || skip "set CP_REARMED=1 (takes about 10 minutes)"
	local p n
	for p in writer_after_begin writer_after_commit fetcher_after_http fetcher_after_send; do
		for n in 2 3; do
			walk rearmed "$p" "$n"
		done
	done
}
