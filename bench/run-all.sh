#!/usr/bin/env bash
# make bench: every benchmark, each printing its figures.
cd "$(dirname "$0")"
for b in sim_bench.sh pipeline_bench.sh; do
	[ -x "$b" ] || continue
	echo "== $b"
	./"$b" || echo "($b failed: $?)"
done
