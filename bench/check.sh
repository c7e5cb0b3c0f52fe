#!/usr/bin/env bash
# make bench-check: runs the benchmarks whose figures are ratios or counts
# (machine-independent), compares each with the figure recorded in
# bench/RESULTS.md and reports any that is more than 20% worse as
#   REGRESSION NAME: was X, now Y (reproduce: COMMAND)
# Absolute times and candles/s are printed, never judged.
#
# The recorded figures are lines of bench/RESULTS.md of the form
#   check: NAME VALUE higher|lower [TOLERANCE%]
# ("higher": higher is better; TOLERANCE defaults to 20). Anything else in
# the file is free text. `bench/check.sh --record` runs the benchmarks and
# prints fresh check: lines to paste into bench/RESULTS.md.
# 429 counts are printed by the benchmarks but not judged: they are small
# and noisy, and their cost shows in the request counts.
# BENCH_CHECK_SAVE=DIR keeps the raw outputs; BENCH_CHECK_REUSE=DIR judges
# them again without running the benchmarks.
# Exit status: 0 no regression, 1 a regression (or a benchmark failed to give
# a figure), 2 usage.
# Figures:
#   eff_{dense,sparse}_ratio     requests / ideal requests (200 candles each), 30 days of 1m
#   raw_vs_sim                   end-to-end candles/s, rate limit off, divided by
#                                the simulator's own capacity (bench/simload, best of
#                                three) in the same run
#   limit{150,300}_dense_util    fetch-phase candles/s at 10 requests/s over the
#                                ideal 2000 candles/s (10 x 200)
#   limit{150,300}_{dense,sparse}_requests   requests for 7 days of 1m
#   scaleout_util                three fetchers on three IPs: candles/s over 3 x 2000
#   faults_truth                 1 if the database equals the truth under 10% faults
#   rss_end_over_warm_max        bench/stress_bench.sh (10,000 chunks): the largest
#                                ratio of a process's RSS at the end to its RSS after
#                                warm-up (1.000 = flat; a leak makes it grow)
#   lease_max_bytes              bench/msgsize: the widest LEASE on the wire
#   result_bytes_per_candle      bench/msgsize: a full RESULT's bytes per candle
set -u
cd "$(dirname "$0")/.."
RESULTS=${BENCH_RESULTS:-bench/RESULTS.md}
mode=check
case ${1:-} in
--record) mode=record ;;
"") ;;
*) echo "usage: bench/check.sh [--record]" >&2; exit 2 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ -n "${BENCH_CHECK_REUSE:-}" ]; then
	# judge a saved run: a directory with sim.out, pipe.out, stress.out, msg.out
	for f in sim pipe stress msg; do
		cp "$BENCH_CHECK_REUSE/$f.out" "$tmp/" 2>/dev/null || : >"$tmp/$f.out"
	done
	cat "$tmp/sim.out" "$tmp/pipe.out" "$tmp/stress.out" "$tmp/msg.out"
else
	# the simulator's own figure varies by up to 60% from run to run on this
	# VM (1.05 to 1.75 M candles/s): the best of three is the baseline
	echo "-- bench/sim_bench.sh x 3 (same-run baseline: the best)"
	for i in 1 2 3; do bench/sim_bench.sh 3 4; done | tee "$tmp/sim.out"
	echo "-- bench/pipeline_bench.sh"
	bench/pipeline_bench.sh | tee "$tmp/pipe.out"
	echo "-- bench/stress_bench.sh (memory over 10,000 chunks)"
	bench/stress_bench.sh | tee "$tmp/stress.out"
	echo "-- bench/msgsize (message sizes)"
	bench/msgsize | tee "$tmp/msg.out"
	if [ -n "${BENCH_CHECK_SAVE:-}" ]; then
		mkdir -p "$BENCH_CHECK_SAVE" &&
			cp "$tmp/sim.out" "$tmp/pipe.out" "$tmp/stress.out" "$tmp/msg.out" "$BENCH_CHECK_SAVE/"
	fi
fi

# NAME VALUE higher|lower REPRODUCE
awk '
function out(n, v, d, r) { printf "%s %s %s %s\n", n, v, d, r }
FILENAME ~ /sim.out$/ && /^sim: / && $2 > sim { sim = $2 }
# process warm-kB end-kB peak-kB growth
FILENAME ~ /stress.out$/ && $1 ~ /\[[0-9]+\]$/ && $2 > 0 {
	r = $3 / $2
	if (!rseen || r > rmax)
		rmax = r
	rseen = 1
}
FILENAME ~ /msg.out$/ && /^msgsize: (lease_max_bytes|result_bytes_per_candle) / {
	out($2, $3, "lower", "make bench/msgsize && bench/msgsize")
}
FILENAME ~ /pipe.out$/ {
	if (/^-- API efficiency/) sec = "eff"
	else if (/^-- raw throughput/) sec = "raw"
	else if (/^-- at Upbit/) sec = "limit"
	else if (/^-- scale-out/) sec = "scale"
	else if (/^-- faults/) sec = "faults"
	else if (sec == "eff" && / ratio /) {
		match($0, /ratio [0-9.]+/); r = substr($0, RSTART + 6, RLENGTH - 6)
		out("eff_" $1 "_ratio", r, "lower", "bench/pipeline_bench.sh (API efficiency)")
	} else if (sec == "raw" && /end to end/) {
		match($0, /: [0-9]+ candles\/s end/); s = substr($0, RSTART, RLENGTH)
		gsub(/[^0-9]/, "", s); raw = s + 0
	} else if (sec == "limit" && / ms /) {
		lat = $1; kind = $3
		match($0, /candles: +[0-9]+ candles\/s/); s = substr($0, RSTART, RLENGTH)
		gsub(/[^0-9]/, "", s)
		match($0, /, [0-9]+ requests/); q = substr($0, RSTART + 2, RLENGTH - 11)
		if (kind == "dense")
			out("limit" lat "_dense_util", sprintf("%.3f", s / 2000), "higher",
			    "bench/pipeline_bench.sh (at Upbit'"'"'s limit)")
		out("limit" lat "_" kind "_requests", q, "lower", "bench/pipeline_bench.sh (at Upbit'"'"'s limit)")
	} else if (sec == "scale" && /candles\/s/) {
		match($0, /: [0-9]+ candles\/s/); s = substr($0, RSTART, RLENGTH)
		gsub(/[^0-9]/, "", s)
		out("scaleout_util", sprintf("%.3f", s / 6000), "higher", "bench/pipeline_bench.sh (scale-out)")
	} else if (sec == "faults" && /database/) {
		fseen = 1
		if (/NOT equal/)
			fbad = 1
	}
}
END {
	if (rseen)
		out("rss_end_over_warm_max", sprintf("%.3f", rmax), "lower", "bench/stress_bench.sh")
	if (fseen)
		out("faults_truth", fbad ? 0 : 1, "higher", "bench/pipeline_bench.sh (faults)")
	if (sim > 0 && raw > 0)
		out("raw_vs_sim", sprintf("%.3f", raw / sim), "higher",
		    "bench/sim_bench.sh 3 4; bench/pipeline_bench.sh (raw throughput)")
}' "$tmp/sim.out" "$tmp/pipe.out" "$tmp/stress.out" "$tmp/msg.out" >"$tmp/now"

if [ "$mode" = record ]; then
	echo "-- check: lines for $RESULTS"
	awk '{ print "check: " $1, $2, $3 }' "$tmp/now"
	exit 0
fi

echo "-- bench-check against $RESULTS (more than 20% worse = regression; times not judged)"
[ -f "$RESULTS" ] || { echo "bench-check: $RESULTS is missing (bench/check.sh --record prints its check: lines)"; exit 1; }
bad=0 n=0
while read -r _ name was dir tol; do
	n=$((n + 1))
	tol=${tol:-20}; tol=${tol%\%}
	line=$(awk -v n="$name" '$1 == n' "$tmp/now")
	if [ -z "$line" ]; then
		echo "MISSING $name: was $was, no figure this run (reproduce: bench/check.sh)"
		bad=1; continue
	fi
	now=$(echo "$line" | awk '{ print $2 }')
	repro=$(echo "$line" | cut -d' ' -f4-)
	# worse by more than tol% of the recorded figure (of 1 if it was 0)
	verdict=$(awk -v was="$was" -v now="$now" -v dir="$dir" -v tol="$tol" 'BEGIN {
		base = (was < 0 ? -was : was); if (base == 0) base = 1
		worse = (dir == "higher") ? was - now : now - was
		printf "%s %+.1f%%", (worse > base * tol / 100) ? "REGRESSION" : "ok", \
			100 * (now - was) / base }')
	if [ "${verdict%% *}" = REGRESSION ]; then
		echo "REGRESSION $name: was $was, now $now (reproduce: $repro)"
		bad=1
	else
		printf '  ok %-28s was %-8s now %-8s %s (%s is better)\n' "$name" "$was" "$now" "${verdict#* }" "$dir"
	fi
done < <(grep -E '^check: ' "$RESULTS")
while read -r name now _; do
	grep -qE "^check: $name " "$RESULTS" || echo "  new $name $now (not in $RESULTS yet)"
done <"$tmp/now"
echo "bench-check: $n figures compared, $([ $bad = 0 ] && echo "no regression" || echo "REGRESSION(S) above")"
exit $bad
