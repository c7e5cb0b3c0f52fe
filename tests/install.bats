#!/usr/bin/env bats
# make install / make uninstall (issue 15): the installed candlepipe runs a
# collection against the installed upbit-sim from another directory, with
# its programs from $DESTDIR$PREFIX/libexec/candlepipe and no file of the
# checkout; uninstall leaves nothing; the man pages are lint-clean and agree
# with --help and the README (tests/man-check.sh).

load pipeline_helpers

PREFIX=/usr/local

setup_file() {
	load pipeline_helpers
	DEST="$BATS_FILE_TMPDIR/dest"
	make -s -C "$ROOT" install DESTDIR="$DEST" PREFIX=/usr/local >"$BATS_FILE_TMPDIR/install.log" 2>&1 3>&- ||
		{ cat "$BATS_FILE_TMPDIR/install.log" >&2; return 1; }
}

teardown_file() {
	load sim_helpers
	stop_all_sims
}

setup() {
	DEST="$BATS_FILE_TMPDIR/dest"
	BIN="$DEST$PREFIX/bin"
	# the checkout is in no PATH and is not the working directory
	export PATH="$BIN:/usr/bin:/bin"
	WORK="$BATS_TEST_TMPDIR/work"
	mkdir -p "$WORK"
	cd "$WORK"
}

@test "install: the files go under PREFIX: bin, libexec/candlepipe, share/man, share/doc" {
	local f
	for f in bin/candlepipe bin/upbit-sim libexec/candlepipe/cp-planner libexec/candlepipe/cp-fetcher \
		libexec/candlepipe/cp-writer libexec/candlepipe/cp-monitor libexec/candlepipe/cp-query \
		libexec/candlepipe/cp-serve share/candlepipe/supervision.conf share/candlepipe/grafana/candlepipe.json \
		libexec/candlepipe/upbit-sim share/man/man1/candlepipe.1 share/man/man1/upbit-sim.1 \
		share/man/man7/candlepipe.7 share/doc/candlepipe/README.md libexec/candlepipe/cp-config \
		share/man/man5/candlepipe.conf.5 share/candlepipe/candlepipe.conf.example; do
		[ -f "$DEST$PREFIX/$f" ] || { echo "missing: $f"; return 1; }
	done
	[ -x "$BIN/candlepipe" ] && [ -x "$DEST$PREFIX/libexec/candlepipe/cp-writer" ]
	# nothing outside PREFIX
	[ "$(find "$DEST" -type f ! -path "$DEST$PREFIX/*" | wc -l)" -eq 0 ]
	# the installed command names no path of the checkout
	! grep -qF "$ROOT" "$BIN/candlepipe" || false
	# and calls itself candlepipe
	run candlepipe help
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "usage: candlepipe COMMAND [options]" ]]
	run candlepipe collect --no-such-option
	[ "$status" -eq 2 ]
	[[ "$output" == *"candlepipe: unknown option '--no-such-option'"* ]]
	[[ "$output" == *"try 'candlepipe collect --help'"* ]]
	# so do the programs' own usage texts and hints (CP_LAUNCHER)
	for c in query gaps export verify; do
		run candlepipe "$c" --help
		[ "$status" -eq 0 ]
		[[ "$output" == *"usage: candlepipe $c"* ]] && [[ "$output" != *"./run.sh"* ]] ||
			{ echo "$c: $output"; return 1; }
	done
	run candlepipe query --db "$BATS_TEST_TMPDIR/none.db" --market KRW-BTC --timeframe 1m --from 2026-01-01
	[[ "$output" == *"collect first: candlepipe collect"* ]]
	run candlepipe monitor --no-such-option
	[[ "$output" == *"try 'candlepipe monitor --help'"* ]]
}

@test "installed candlepipe collects from another directory, with only installed programs, equal to the truth" {
	SIM_BIN="$BIN/upbit-sim"
	start_sim --rate-limit 0
	# every pipeline process goes through the wrapper, which records its path
	cat >"$BATS_TEST_TMPDIR/wrap" <<-WRAP
		#!/bin/sh
		echo "\$1" >>"$BATS_TEST_TMPDIR/progs"
		exec "\$@"
	WRAP
	chmod +x "$BATS_TEST_TMPDIR/wrap"
	CP_EXEC_WRAPPER="$BATS_TEST_TMPDIR/wrap" run candlepipe collect --market KRW-BTC,KRW-ZIL --timeframe 1m \
		--from 2026-10-01T00:00:00 --to 2026-10-01T12:00:00 --api-url "$SIM_URL" --rate 0 --quiet \
		--run-dir "$BATS_TEST_TMPDIR/run" 3>&-
	echo "$output"
	[ "$status" -eq 0 ]
	# the default database is data/candles.db in the working directory
	[ -f "$WORK/data/candles.db" ]
	local m
	for m in KRW-BTC KRW-ZIL; do
		"$BIN/upbit-sim" truth --market $m --timeframe 1m --from 2026-10-01T00:00:00 \
			--to 2026-10-01T12:00:00 >"$BATS_TEST_TMPDIR/truth"
		db_dump "$WORK/data/candles.db" $m 1m 2026-10-01T00:00:00 2026-10-01T12:00:00 >"$BATS_TEST_TMPDIR/db"
		[ -s "$BATS_TEST_TMPDIR/truth" ]
		diff "$BATS_TEST_TMPDIR/truth" "$BATS_TEST_TMPDIR/db"
	done
	# writer, planner and two fetchers ran, all from libexec/candlepipe
	sort -u "$BATS_TEST_TMPDIR/progs"
	[ "$(sort -u "$BATS_TEST_TMPDIR/progs" | wc -l)" -eq 3 ]
	! grep -v "^$BIN/../libexec/candlepipe/cp-" "$BATS_TEST_TMPDIR/progs" || false
	# the read side from libexec too
	run candlepipe verify
	echo "$output"
	[ "$status" -eq 0 ]
	run candlepipe query --market KRW-BTC --timeframe 1m --from 2026-10-01T00:00:00 --to 2026-10-01T01:00:00 --format csv
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -ge 61 ]
}

@test "installed candlepipe through a symlink elsewhere finds its programs" {
	mkdir -p "$BATS_TEST_TMPDIR/elsewhere"
	ln -s "$BIN/candlepipe" "$BATS_TEST_TMPDIR/elsewhere/cp"
	SIM_BIN="$BIN/upbit-sim"
	start_sim --rate-limit 0
	run "$BATS_TEST_TMPDIR/elsewhere/cp" collect --market KRW-ETH --timeframe 1h --count 24 \
		--db "$WORK/c.db" --api-url "$SIM_URL" --rate 0 --quiet --run-dir "$BATS_TEST_TMPDIR/run" 3>&-
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(sqlite3 "$WORK/c.db" "SELECT COUNT(*) FROM candles WHERE market = 'KRW-ETH'")" -eq 24 ]
}

@test "installed candlepipe demo runs from another directory into ./data/demo.db" {
	run candlepipe demo 3>&-
	echo "$output" | tail -n 5
	[ "$status" -eq 0 ]
	[ "$(sqlite3 "$WORK/data/demo.db" "SELECT COUNT(DISTINCT market || timeframe) FROM candles")" -eq 6 ]
	[[ "$output" == *"candlepipe monitor --db data/demo.db"* ]]
}

@test "make uninstall with the same DESTDIR leaves no file behind" {
	local d="$BATS_TEST_TMPDIR/un"
	make -s -C "$ROOT" install DESTDIR="$d" PREFIX=/opt/cp 3>&-
	[ -x "$d/opt/cp/bin/candlepipe" ]
	make -s -C "$ROOT" uninstall DESTDIR="$d" PREFIX=/opt/cp 3>&-
	find "$d" -type f
	[ -z "$(find "$d" -type f -o -type l)" ]
	# candlepipe's own directories go, the shared ones (bin, share/man) stay
	[ ! -e "$d/opt/cp/libexec/candlepipe" ] && [ ! -e "$d/opt/cp/share/doc/candlepipe" ] &&
		[ ! -e "$d/opt/cp/share/candlepipe" ]
	# a second uninstall is harmless
	make -s -C "$ROOT" uninstall DESTDIR="$d" PREFIX=/opt/cp 3>&-
}

@test "mandoc -Tlint: every installed page is clean" {
	command -v mandoc >/dev/null || skip "mandoc is not installed (apt-get install mandoc)"
	local p
	for p in man1/candlepipe.1 man1/upbit-sim.1 man5/candlepipe.conf.5 man7/candlepipe.7; do
		run mandoc -Tlint -Wwarning "$DEST$PREFIX/share/man/$p"
		echo "$p: $output"
		[ "$status" -eq 0 ] && [ -z "$output" ]
	done
}

@test "man-check: --help, the README and the installed man pages list the same options" {
	mkdir -p "$BATS_TEST_TMPDIR/man"
	cp "$DEST$PREFIX"/share/man/man1/*.1 "$DEST$PREFIX"/share/man/man5/*.5 "$DEST$PREFIX"/share/man/man7/*.7 \
		"$BATS_TEST_TMPDIR/man"
	CP_RUN="$BIN/candlepipe" CP_SIM="$BIN/upbit-sim" CP_MANDIR="$BATS_TEST_TMPDIR/man" \
		CP_CFGPROG="$DEST$PREFIX/libexec/candlepipe/cp-config" run "$ROOT/tests/man-check.sh"
	echo "$output"
	[ "$status" -eq 0 ]
	# and it sees a disagreement either way: an option the page lost, one the
	# help does not have, a README row missing
	sed -i '/^\.It Fl -inflight/d' "$BATS_TEST_TMPDIR/man/candlepipe.1"
	sed -i 's/Fl -hang-ms/Fl -hang-for/g' "$BATS_TEST_TMPDIR/man/upbit-sim.1"
	grep -v '^| `--cacert' "$ROOT/README.md" >"$BATS_TEST_TMPDIR/README.md"
	# a key of the config file the page lost
	sed -i '/^\.It Ic backfill/d' "$BATS_TEST_TMPDIR/man/candlepipe.conf.5"
	CP_RUN="$BIN/candlepipe" CP_SIM="$BIN/upbit-sim" CP_MANDIR="$BATS_TEST_TMPDIR/man" \
		CP_CFGPROG="$DEST$PREFIX/libexec/candlepipe/cp-config" \
		CP_README="$BATS_TEST_TMPDIR/README.md" run "$ROOT/tests/man-check.sh"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"candlepipe collect: --inflight is in 'collect --help', not in candlepipe.1"* ]]
	[[ "$output" == *"upbit-sim: --hang-ms is in 'upbit-sim --help', not in upbit-sim.1"* ]]
	[[ "$output" == *"upbit-sim: --hang-for is in upbit-sim.1, not in 'upbit-sim --help'"* ]]
	[[ "$output" == *"README: --cacert is in 'collect --help', not in the README's option table"* ]]
	[[ "$output" == *"candlepipe.conf: follow.backfill is in 'cp-config --keys', not in candlepipe.conf.5"* ]]
}

@test "the installed systemd unit passes systemd-analyze verify, restarts on 4 and not on 2 or 3, and is hardened" {
	command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed"
	local p="$BATS_TEST_TMPDIR/prefix" u
	# no DESTDIR: ExecStart must name a file that exists for verify
	make -s -C "$ROOT" install PREFIX="$p" 3>&-
	u="$p/lib/systemd/system/candlepipe.service"
	[ -f "$u" ]
	grep -qx "ExecStart=$p/bin/candlepipe start --foreground --config /etc/candlepipe/candlepipe.conf --run-dir /run/candlepipe" "$u"
	run systemd-analyze verify "$u"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	grep -qx "Type=notify" "$u"
	grep -qx "Restart=on-failure" "$u"
	grep -qx "RestartPreventExitStatus=2 3" "$u"
	local k
	for k in ProtectSystem=strict NoNewPrivileges=yes PrivateTmp=yes StateDirectory=candlepipe \
		"RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK"; do
		grep -qx "$k" "$u" || { echo "missing: $k"; return 1; }
	done
	# a broken unit is caught (the check can fail)
	sed 's|^ExecStart=[^ ]*|ExecStart=/nonexistent/candlepipe|' "$u" >"$BATS_TEST_TMPDIR/candlepipe.service"
	run systemd-analyze verify "$BATS_TEST_TMPDIR/candlepipe.service"
	[ "$status" -ne 0 ]
	make -s -C "$ROOT" uninstall PREFIX="$p" 3>&-
	[ -z "$(find "$p" -type f)" ]
}
