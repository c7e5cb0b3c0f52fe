#!/usr/bin/env bash
# tests/man-check.sh: one command to show that the help, the README and the
# man pages agree (issue 15). It prints every disagreement, one a line, and
# exits 1 if there is any, 0 if none.
#
#   - each command of candlepipe(1) (a `.Ss NAME` subsection: collect, demo,
#     query, gaps, export, verify, monitor): the options of its `--help` and
#     the `Fl` macros of its subsection, both ways;
#   - the commands `run.sh help` lists and the `.It Cm` list of candlepipe(1);
#   - upbit-sim(1): the options of `upbit-sim --help` and the page's `Fl`s;
#   - the README's collect option table and `collect --help`, the option
#     table of sim/README.md and `upbit-sim --help`;
#   - candlepipe.conf(5): the keys `cp-config --keys` knows (section.key)
#     and the `.It Ic KEY` items under each `.Ss [section]` of the page.
#
# An option of a help text is a word starting with - in the option part of
# a line that starts with an option, a [, "usage:" or the program's name
# (the text before the first run of two spaces), so prose that names other
# programs' options (cp-fetcher --work) is not counted.
# CP_RUN (default ./run.sh), CP_SIM (sim/upbit-sim), CP_CFGPROG
# (config/cp-config), CP_MANDIR (man/) and CP_README (README.md) choose what
# is compared, e.g. an installed copy.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN=${CP_RUN:-$ROOT/run.sh}
SIM=${CP_SIM:-$ROOT/sim/upbit-sim}
CFGPROG=${CP_CFGPROG:-$ROOT/config/cp-config}
MANDIR=${CP_MANDIR:-$ROOT/man}
README=${CP_README:-$ROOT/README.md}
SIM_README=${CP_SIM_README:-$ROOT/sim/README.md}
BAD=0

# help_opts: the options a help text on stdin lists, one a line, sorted
help_opts() {
	sed -nE '/^[[:space:]]*(-|\[|usage:|upbit-sim |cp-[a-z]+ )/{s/^[[:space:]]*//; s/  .*//; p}' |
		grep -oE '(^|[][ ,|/(])--?[A-Za-z][A-Za-z0-9-]*' | sed -E 's/^[][ ,|/(]//' | sort -u
}

# man_opts FILE [SUBSECTION]: the Fl options of a page (or of one .Ss)
man_opts() {
	local file=$1 ss=${2:-}
	if [ -n "$ss" ]; then
		awk -v ss="$ss" '/^\.S[sh] /{ on = ($0 == ".Ss " ss) } on' "$file"
	else
		cat "$file"
	fi | grep '^\.' | grep -v '^\.\\"' | grep -oE '(^\.| )Fl [^ ]+' | sed -E 's/^.?Fl /-/' | sort -u
}

# readme_opts FILE: the options in the first column of the first table
# whose header starts with "| option |"
readme_opts() {
	awk '/^\| option \|/{ on = 1; next } on && !/^\|/{ exit } on' "$1" |
		sed 's/\\|/ /g' | cut -d'|' -f2 | grep -oE '`--?[A-Za-z][A-Za-z0-9-]*' | tr -d '`' | sort -u
}

# compare NAME_A A NAME_B B WHAT: every option of A is in B and back
compare() {
	local na=$1 a=$2 nb=$3 b=$4 what=$5 o
	for o in $(comm -23 <(echo "$a") <(echo "$b")); do
		echo "$what: $o is in $na, not in $nb"; BAD=1
	done
	for o in $(comm -13 <(echo "$a") <(echo "$b")); do
		echo "$what: $o is in $nb, not in $na"; BAD=1
	done
}

page=$MANDIR/candlepipe.1
for cmd in collect demo query gaps export verify monitor start serve; do
	help=$("$RUN" "$cmd" --help 2>&1 | help_opts)
	compare "'$cmd --help'" "$help" "candlepipe.1" "$(man_opts "$page" "$cmd")" "candlepipe $cmd"
done

listed=$("$RUN" help | awk '/^commands:/{ on = 1; next } on && /^$/{ exit } on && /^  [a-z]/{ print $1 }' | sort -u)
documented=$(grep -A1 '^\.It Cm ' "$page" | awk '$1 == ".It" && $2 == "Cm" && NF == 3 { print $3 }' | sort -u)
compare "'help'" "$listed" "candlepipe.1" "$documented" "candlepipe commands"

sim_help=$("$SIM" --help 2>&1 | help_opts)
compare "'upbit-sim --help'" "$sim_help" "upbit-sim.1" "$(man_opts "$MANDIR/upbit-sim.1")" "upbit-sim"

collect_help=$("$RUN" collect --help 2>&1 | help_opts)
compare "'collect --help'" "$collect_help" "the README's option table" "$(readme_opts "$README")" "README"
if [ -f "$SIM_README" ]; then
	sim_serve=$(comm -23 <(echo "$sim_help") <(printf '%s\n' --from --json --market --timeframe --to))
	compare "'upbit-sim --help' (serve)" "$sim_serve" "sim/README.md's option table" \
		"$(readme_opts "$SIM_README")" "sim/README.md"
fi

# conf_keys FILE: section.key of every .It Ic under a .Ss [section] of the page
conf_keys() {
	awk '/^\.S[sh] /{ sec = ""; if ($1 == ".Ss" && $2 ~ /^\[[a-z]+\]$/) sec = substr($2, 2, length($2) - 2) }
		sec != "" && $1 == ".It" && $2 == "Ic" { print sec "." $3 }' "$1" | sort -u
}
compare "'cp-config --keys'" "$("$CFGPROG" --keys | sort -u)" "candlepipe.conf.5" \
	"$(conf_keys "$MANDIR/candlepipe.conf.5")" "candlepipe.conf"

[ "$BAD" = 0 ] && echo "man-check: the help, the README and the man pages agree"
exit "$BAD"
