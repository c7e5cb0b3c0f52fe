#!/usr/bin/env bash
# crash-build.sh DIR: copies the sources of this tree (no .git, objects or
# binaries) to DIR and builds every binary there with CRASHPOINTS=1 (and
# the unit tests with failure-point cases), so the
# normal objects of the working tree stay untouched. Extra make variables
# (SANITIZE=1, WERROR=1) come from $CP_MAKEFLAGS. Prints the build log's
# tail and exits 1 if the build fails.
set -u
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
dir=$1
mkdir -p "$dir" || exit 1
(cd "$ROOT" && git ls-files -co --exclude-standard -z 2>/dev/null |
	tar --exclude='data' --exclude='tests/fuzz/crashers' --null -T - -cf -) | tar -xf - -C "$dir" || exit 1
# the binaries, and the unit tests that have failure-point cases
mapfile -t unit < <(cd "$dir" && grep -l CP_CRASHPOINTS tests/unit/*_test.c | sed 's/\.c$//')
# shellcheck disable=SC2086
if ! make -C "$dir" -j"$(nproc 2>/dev/null || echo 2)" CRASHPOINTS=1 ${CP_MAKEFLAGS:-} bins "${unit[@]}" \
	>"$dir/crash-build.log" 2>&1; then
	tail -20 "$dir/crash-build.log" >&2
	echo "crash-build: make CRASHPOINTS=1 failed in $dir" >&2
	exit 1
fi
