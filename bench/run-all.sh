#!/usr/bin/env bash
# make bench: every benchmark, each printing its figures.
cd "$(dirname "$0")"
for b in sim_bench.sh startup_bench.sh pipeline_bench.sh ccxt_bench.sh follow_bench.sh monitor_bench.sh query_bench.sh serve_bench.sh stress_bench.sh daemon_bench.sh web_bench.sh pg_bench.sh pg_query_bench.sh pg_serve_bench.sh; do
	[ -x "$b" ] || continue
	echo "== $b"
	./"$b" || echo "($b failed: $?)"
done
echo "== msgsize"
./msgsize || echo "(msgsize failed: $?)"
echo "== json_bench"
./json_bench || echo "(json_bench failed: $?)"
