#!/usr/bin/env bash
# bench/stress_bench.sh: bounded memory over a long collection (promise 5).
#
#   bench/stress_bench.sh [--chunks N] [--fetchers N] [--keep]
#
# Collects about N chunks (default 10000 requests of 200 1m candles: 4 dense
# markets x 347 days = 2,000,000 candles) from an offline simulator without
# rate limit (--rate-limit 0, --rate 0), samples VmRSS of the planner, the
# writer and every fetcher from /proc twice a second, and prints for each
# process its RSS after warm-up (the first sample past 10 % of the slots),
# at the end (its last sample) and the growth in %. Also prints the
# run's summary line. (The LEASE size bound, CHUNK_INFO_WIRE_MAX = 128
# bytes, is asserted by tests/unit/proto_test, not here.) Exit status: the
# collection's; the figures are for bench/RESULTS.md, not asserted.
set -u
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
chunks=10000 fetchers=3 keep=0
while [ $# -gt 0 ]; do
	case $1 in
	--chunks) chunks=$2; shift 2 ;;
	--fetchers) fetchers=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	*) echo "usage: $0 [--chunks N] [--fetchers N] [--keep]" >&2; exit 2 ;;
	esac
done
for b in sim/upbit-sim planner/cp-planner fetcher/cp-fetcher writer/cp-writer; do
	[ -x "$ROOT/$b" ] || { echo "stress_bench: $b is missing: run 'make' first" >&2; exit 1; }
done

work=$(mktemp -d /tmp/cp-stress.XXXXXX)
run_dir="$work/run"
sim_pid=
cleanup() {
	[ -z "$sim_pid" ] || kill "$sim_pid" 2>/dev/null
	[ "$keep" = 1 ] && echo "stress_bench: kept $work" || rm -rf "$work"
}
trap cleanup EXIT
"$ROOT/sim/upbit-sim" --port 0 --port-file "$work/port" --rate-limit 0 \
	>"$work/sim.out" 2>"$work/sim.log" &
sim_pid=$!
for _ in $(seq 200); do [ -s "$work/port" ] && break; sleep 0.025; done
port=$(cat "$work/port") || { echo "stress_bench: no simulator" >&2; exit 1; }

# 4 dense markets; days so that markets x days x 1440 / 200 ~= chunks
days=$(( (chunks * 200 + 4 * 1440 - 1) / (4 * 1440) ))
from=$(date -u -d "2026-10-01 - $days days" +%Y-%m-%dT00:00:00)
to=2026-10-01T00:00:00
echo "stress_bench: 4 markets x $days days of 1m ($((4 * days * 1440 / 200)) chunks," \
	"$((4 * days * 1440)) candles), $fetchers fetchers, no rate limit"

start=$(date +%s.%N)
"$ROOT/run.sh" collect --api-url "http://127.0.0.1:$port" --run-dir "$run_dir" \
	--db "$work/stress.db" --market KRW-BTC,KRW-ETH,KRW-XRP,KRW-SOL --timeframe 1m \
	--from "$from" --to "$to" --rate 0 --fetchers "$fetchers" >"$work/collect.out" 2>&1 &
cpid=$!

declare -A warm=() last=() peak=()
pct=0
rss_of() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status" 2>/dev/null; }
while kill -0 "$cpid" 2>/dev/null; do
	p=$(grep -o '[0-9.]*% ' "$work/collect.out" 2>/dev/null | tail -1 | tr -d '% ')
	[ -n "$p" ] && pct=${p%.*}
	for pid in $(pgrep -f "^$ROOT/[a-z]*/cp-[a-z]* .*ipc://$run_dir/"); do
		cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || continue
		case $cmd in
		*cp-planner*) name=planner ;;
		*cp-writer*) name=writer ;;
		*cp-fetcher*) name=$(sed -n 's/.*--name \([^ ]*\).*/\1/p' <<<"$cmd") ;;
		*) continue ;;
		esac
		rss=$(rss_of "$pid")
		[ -n "$rss" ] || continue
		name="${name}[$pid]"
		if [ "$pct" -ge 10 ] && [ -z "${warm[$name]:-}" ]; then warm[$name]=$rss; fi
		last[$name]=$rss
		[ "$rss" -gt "${peak[$name]:-0}" ] && peak[$name]=$rss
	done
	sleep 0.5
done
wait "$cpid"; rc=$?
end=$(date +%s.%N)
grep '^summary' "$work/collect.out"
echo "collect exit $rc in $(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.1f", b - a}') s"
printf '%-22s %10s %10s %10s %8s\n' process "warm kB" "end kB" "peak kB" growth
for name in $(printf '%s\n' "${!warm[@]}" | sort); do
	w=${warm[$name]} e=${last[$name]:-}
	if [ -n "$e" ]; then
		g=$(awk -v w="$w" -v e="$e" 'BEGIN {printf "%+.1f%%", 100 * (e - w) / w}')
	else
		e="-" g="(restarted?)"
	fi
	printf '%-22s %10s %10s %10s %8s\n' "$name" "$w" "$e" "${peak[$name]}" "$g"
done
rows=$(sqlite3 "$work/stress.db" "SELECT COUNT(*) FROM candles_exact")
echo "stored candles: $rows"
exit $rc
