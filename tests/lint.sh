#!/usr/bin/env bash
# make lint: the formatter in check mode (clang-format, .clang-format),
# cppcheck (tests/cppcheck-suppressions.txt), clang-tidy (.clang-tidy) and
# the complexity budget (pmccabe: no function above 15 unless it is listed in
# tests/complexity-exceptions.txt). Prints the findings, then one summary
# line per tool; exits 1 if any tool has a finding.
# LINT_TOOLS="format cppcheck" runs a subset. Needs the Debian packages
# clang-format, cppcheck, clang-tidy, pmccabe (deploy/debian-packages.txt).
set -u
cd "$(dirname "$0")/.."
TOOLS=${LINT_TOOLS:-format cppcheck tidy complexity}
MAX_CCN=15
JOBS=${LINT_JOBS:-$(nproc 2>/dev/null || echo 2)}
# every C file we own (query/ included: it is checked even while in progress)
mapfile -t SRC < <(ls common/*.c planner/*.c fetcher/*.c writer/*.c monitor/*.c sim/*.c \
	query/*.c serve/*.c bench/*.c tests/unit/*.c tests/fuzz/*.c 2>/dev/null)
mapfile -t HDR < <(ls common/*.h planner/*.h fetcher/*.h writer/*.h monitor/*.h sim/*.h \
	query/*.h serve/*.h 2>/dev/null)
PKGS="libzmq msgpack libcurl sqlite3 libmicrohttpd libpq"
INC="-Icommon -Iplanner -Ifetcher -Iwriter -Imonitor -Isim -Iquery -Iserve"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
summary=()
failed=0

note() { # note TOOL COUNT [detail]
	local s="lint: $1: $2 finding(s)${3:+ ($3)}"
	summary+=("$s")
	[ "$2" -eq 0 ] || failed=1
}

need() {
	command -v "$1" >/dev/null && return 0
	echo "lint: $1 not installed (apt-get install $2)"
	summary+=("lint: $1: NOT INSTALLED"); failed=1
	return 1
}

for tool in $TOOLS; do
	case $tool in
	format)
		need clang-format clang-format || continue
		n=0
		for f in "${SRC[@]}" "${HDR[@]}"; do
			if ! clang-format --dry-run --Werror "$f" >"$out/fmt" 2>&1; then
				c=$(grep -c ': error: code should be clang-formatted' "$out/fmt")
				echo "format: $f: $c place(s) differ (fix: clang-format -i $f)"
				n=$((n + 1))
			fi
		done
		note clang-format "$n" "files not formatted, ${#SRC[@]} .c + ${#HDR[@]} .h checked"
		;;
	cppcheck)
		need cppcheck cppcheck || continue
		# whole program at once: unusedFunction needs every file
		cppcheck --std=c11 -D_GNU_SOURCE $INC --quiet --inline-suppr \
			--enable=warning,style,performance,portability,unusedFunction \
			--suppressions-list=tests/cppcheck-suppressions.txt \
			--template='{file}:{line}: {severity}/{id}: {message}' \
			"${SRC[@]}" >"$out/cppcheck" 2>&1
		cat "$out/cppcheck"
		note cppcheck "$(grep -c ': [a-z]*/[A-Za-z0-9_]*: ' "$out/cppcheck")"
		;;
	tidy)
		need clang-tidy clang-tidy || continue
		# flags after `--` instead of a compile_commands.json: the same
		# -std, defines and include paths as the Makefile
		# shellcheck disable=SC2086
		flags="-std=c11 -D_GNU_SOURCE $INC $(pkg-config --cflags $PKGS 2>/dev/null)"
		printf '%s\n' "${SRC[@]}" | xargs -P "$JOBS" -I{} \
			sh -c "clang-tidy --quiet {} -- $flags >'$out/tidy.\$\$.'\$(basename {}) 2>/dev/null"
		cat "$out"/tidy.* 2>/dev/null | grep -E ': (warning|error): ' | sort -u >"$out/tidy"
		cat "$out/tidy"
		note clang-tidy "$(wc -l <"$out/tidy")"
		;;
	complexity)
		need pmccabe pmccabe || continue
		# traditional McCabe (column 2): every case of a switch counts
		pmccabe "${SRC[@]}" 2>/dev/null |
			awk -v max=$MAX_CCN '$2 > max { f = $6; sub(/\(.*/, "", f); print $2, f ":" $7 }' |
			sort -k2 >"$out/ccn"
		grep -v '^#' tests/complexity-exceptions.txt | awk 'NF { print $1 }' | sort >"$out/exc"
		n=0 listed=0
		while read -r ccn fn; do
			if grep -qxF "$fn" "$out/exc"; then
				listed=$((listed + 1))
				echo "complexity: $fn $ccn (exception)"
			else
				echo "complexity: $fn: $ccn > $MAX_CCN, not in tests/complexity-exceptions.txt"
				n=$((n + 1))
			fi
		done <"$out/ccn"
		awk '{ print $2 }' "$out/ccn" | sort >"$out/over"
		for fn in $(comm -23 "$out/exc" "$out/over"); do
			echo "complexity: $fn is listed as an exception but is now within $MAX_CCN (or gone): remove the line"
		done
		note pmccabe "$n" "functions above $MAX_CCN: $((n + listed)), $listed of them listed exceptions"
		;;
	*) echo "lint: unknown tool $tool"; exit 2 ;;
	esac
done

echo "-- lint summary"
printf '%s\n' "${summary[@]}"
exit $failed
