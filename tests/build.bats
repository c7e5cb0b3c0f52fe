#!/usr/bin/env bats
# The build's header dependencies (issue 18, "Small things with big
# effects"): touching any header of the tree makes `make` rebuild every
# object that includes it, directly or through another header. The touch is
# make's own what-if (`make -n -W HEADER`), so no file of the tree changes.

ROOT="$(cd "$(dirname "$BATS_TEST_FILENAME")/.." && pwd)"
HEADER_DIRS=(common planner fetcher writer monitor query sim)

setup_file() {
	# the baseline: everything built, so that whatever make -n lists was
	# caused by the touched header
	local units
	units=$(cd "$ROOT" && ls tests/unit/*_test.c tests/unit/*_peer.c | sed 's/\.c$//')
	# shellcheck disable=SC2086
	make -C "$ROOT" -s -j2 bins $units >/dev/null 3>&-
}

# the sources and headers that include header H ("name.h", by basename; a
# file in H's own directory or any other when the name is unique), and the
# files that include those headers in turn. A source that is empty outside
# the crash-point build (its first directive is #ifdef CP_CRASHPOINTS)
# includes nothing in this build.
includers() {
	local h=$1 todo=("$1") seen=" " cur base f
	while [ ${#todo[@]} -gt 0 ]; do
		cur=${todo[0]}
		todo=("${todo[@]:1}")
		base=$(basename "$cur")
		while IFS= read -r f; do
			f=${f#./}
			case "$seen" in *" $f "*) continue ;; esac
			seen="$seen$f "
			case "$f" in
			*.h) todo+=("$f") ;;
			*.c) crashpoint_only "$f" || echo "$f" ;;
			esac
		done < <(cd "$ROOT" && grep -rlE "#include +\"$base\"" --include='*.c' --include='*.h' \
			"${HEADER_DIRS[@]}" bench tests/unit)
	done
	: "$h"
}

crashpoint_only() {
	awk '/^#/ { print; exit }' "$ROOT/$1" | grep -q '^#ifdef CP_CRASHPOINTS'
}

# the make target built from source S
target_of() {
	case "$1" in
	tests/unit/*_test.c | tests/unit/*_peer.c) echo "${1%.c}" ;;
	bench/simload.c) echo bench/simload ;;
	*) echo "${1%.c}.o" ;;
	esac
}

@test "touching any header rebuilds every object that includes it" {
	local h src t targets out missing=0 checked=0
	while IFS= read -r h; do
		targets=()
		while IFS= read -r src; do targets+=("$(target_of "$src")"); done < <(includers "$h")
		[ ${#targets[@]} -gt 0 ] || continue
		# nothing to do before the touch, or the check below proves nothing
		out=$(make -C "$ROOT" -n "${targets[@]}" 2>&1)
		for t in "${targets[@]}"; do
			if grep -qE -- "-o $t( |\$)" <<<"$out"; then
				echo "$t is out of date before $h is touched"
				return 1
			fi
		done
		out=$(make -C "$ROOT" -n -W "$h" "${targets[@]}" 2>&1)
		for t in "${targets[@]}"; do
			checked=$((checked + 1))
			grep -qE -- "-o $t( |\$)" <<<"$out" || {
				echo "touching $h does not rebuild $t"
				missing=$((missing + 1))
			}
		done
	done < <(cd "$ROOT" && find "${HEADER_DIRS[@]}" -name '*.h' | sort)
	echo "$checked header/object pairs checked, $missing not rebuilt"
	[ "$checked" -gt 100 ]
	[ "$missing" -eq 0 ]
}

@test "the includer search finds direct and indirect includers" {
	# planner/plan.c includes plan.h; common/tf.h reaches planner/plan.c through
	# plan.h or directly; a header nobody includes has no includer
	run includers planner/plan.h
	[[ "$output" == *planner/plan.c* ]]
	[[ "$output" == *tests/unit/plan_test.c* ]]
	run includers writer/store.h
	[[ "$output" == *writer/store.c* ]]
	[[ "$output" != *planner/* ]]
	run target_of tests/unit/plan_test.c
	[ "$output" = tests/unit/plan_test ]
}

@test "make clean removes the dependency files, and git ignores them" {
	run make -C "$ROOT" -n clean
	[ "$status" -eq 0 ]
	[[ "$output" == *'*/*.d'* ]]
	[[ "$output" == *'*/*/*.d'* ]]
	run git -C "$ROOT" check-ignore -q planner/plan.d
	[ "$status" -eq 0 ]
	[ -f "$ROOT/planner/plan.d" ]
	grep -q 'planner/plan.h' "$ROOT/planner/plan.d"
}

@test "every event of events.h is published by its publisher, and only those are published" {
	local line id pub n=0 calls
	while IFS= read -r line; do
		id=$(sed -E 's/^[[:space:]]*X\(([A-Z]+),.*/\1/' <<<"$line")
		pub=$(sed -E 's/^[^"]*"[^"]*", "([a-z]+)".*/\1/' <<<"$line")
		n=$((n + 1))
		grep -qE "(hub_publish|net_event)\(.*EV_$id\b|EV_$id : EV_|\? EV_$id\b" "$ROOT/$pub"/*.c || {
			echo "EV_$id is declared but $pub/ does not publish it"
			return 1
		}
	done < <(grep -E '^[[:space:]]*X\([A-Z]+, "' "$ROOT/common/events.h")
	[ "$n" -ge 7 ]
	# every publishing call names a topic of the table, never a literal
	calls=$(cd "$ROOT" && grep -nE '(hub_publish|net_event)\(' planner/*.c fetcher/*.c writer/*.c |
		grep -vE '^[^:]+:[0-9]+:(void|[a-z_]+\()|net_event\(sock_xpub, topic' || true)
	echo "$calls"
	[ -n "$calls" ]
	! grep -E '(hub_publish|net_event)\([^,]*, *"' <<<"$calls" || false
	! grep -vE 'EV_[A-Z]+' <<<"$calls"
}
