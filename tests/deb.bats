#!/usr/bin/env bats
# The Debian package (issue 15): debian/ builds a binary .deb with
# dpkg-buildpackage -b -us -uc (debhelper), lintian finds no error, and
# the package installed with apt-get runs a short collection with the
# installed candlepipe against the installed upbit-sim, equal to the truth;
# its config (/etc/candlepipe/candlepipe.conf, a conffile) is valid; a purge
# leaves nothing of the package but the data. It installs a system
# package, so it runs only where asked: CP_DEB_TEST=1 as root (.ci/run sets
# it on its fresh machine); elsewhere it skips, saying so.

load pipeline_helpers

setup_file() {
	[ "${CP_DEB_TEST:-0}" = 1 ] && [ "$(id -u)" = 0 ] || return 0
	command -v dpkg-buildpackage >/dev/null && [ -d /usr/share/perl5/Debian/Debhelper ] || return 0
	local src="$BATS_FILE_TMPDIR/src"
	mkdir -p "$src"
	# a copy of the sources: the build writes debian/candlepipe and ../*.deb
	(cd "$ROOT" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) | tar -xf - -C "$src"
	make -s -C "$src" clean >/dev/null 2>&1
	(cd "$src" && dpkg-buildpackage -b -us -uc) >"$BATS_FILE_TMPDIR/build.log" 2>&1 3>&- ||
		{ tail -30 "$BATS_FILE_TMPDIR/build.log" >&2; return 1; }
}

setup() {
	[ "${CP_DEB_TEST:-0}" = 1 ] || skip "installs a system package: set CP_DEB_TEST=1 (as root; .ci/run does)"
	[ "$(id -u)" = 0 ] || skip "needs root (apt-get install)"
	command -v dpkg-buildpackage >/dev/null && [ -d /usr/share/perl5/Debian/Debhelper ] ||
		skip "debhelper is not installed"
	DEB=$(ls "$BATS_FILE_TMPDIR"/candlepipe_*_*.deb)
}

teardown_file() {
	load sim_helpers
	stop_all_sims
	[ "${CP_DEB_TEST:-0}" = 1 ] && dpkg -s candlepipe >/dev/null 2>&1 &&
		apt-get purge -y candlepipe >/dev/null 2>&1 3>&- || true
}

@test "deb: dpkg-buildpackage made one binary package, its dependencies from the libraries it links" {
	[ -f "$DEB" ]
	local dep
	dep=$(dpkg-deb -f "$DEB" Depends)
	echo "$dep"
	[[ "$dep" == *libzmq5* && "$dep" == *libsqlite3-0* && "$dep" == *libcurl4* && "$dep" == *libmicrohttpd12* ]]
	dpkg-deb -c "$DEB" | grep -q ' ./usr/bin/candlepipe$'
	dpkg-deb -c "$DEB" | grep -q ' ./usr/lib/systemd/system/candlepipe.service$'
	# the example config is /etc/candlepipe/candlepipe.conf, a conffile
	dpkg-deb -c "$DEB" | grep -q ' ./etc/candlepipe/candlepipe.conf$'
	dpkg-deb -I "$DEB" conffiles | grep -qx /etc/candlepipe/candlepipe.conf
	dpkg-deb -c "$DEB" | grep -q ' ./usr/share/man/man5/candlepipe.conf.5.gz$'
}

@test "deb: lintian finds no error" {
	command -v lintian >/dev/null || skip "lintian is not installed"
	run lintian --fail-on error "$DEB"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" != *"E: "* ]]
}

@test "deb: installed with apt-get, it collects to the truth; a purge leaves only the data" {
	run apt-get install -y "$DEB" 3>&-
	echo "$output" | tail -5
	[ "$status" -eq 0 ]
	getent passwd candlepipe
	[ "$(command -v candlepipe)" = /usr/bin/candlepipe ]
	# the installed config is the default of every command, and valid
	run candlepipe check-config
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "/etc/candlepipe/candlepipe.conf: valid (0 follow subscriptions)" ]
	SIM_BIN=/usr/bin/upbit-sim
	start_sim --rate-limit 0
	local w="$BATS_TEST_TMPDIR/work"
	mkdir -p "$w"
	# --db: the config's database is the service's
	(cd "$w" && PATH=/usr/bin:/bin candlepipe collect --db data/candles.db --market KRW-BTC --timeframe 1h \
		--from 2026-09-01 --to 2026-09-20 --api-url "$SIM_URL" --rate 0 --quiet \
		--run-dir "$BATS_TEST_TMPDIR/run") 3>&-
	/usr/bin/upbit-sim truth --market KRW-BTC --timeframe 1h --from 2026-09-01 --to 2026-09-20 \
		>"$BATS_TEST_TMPDIR/truth"
	[ -s "$BATS_TEST_TMPDIR/truth" ]
	diff "$BATS_TEST_TMPDIR/truth" <(db_dump "$w/data/candles.db" KRW-BTC 1h 2026-09-01 2026-09-20)
	stop_sim
	# what the package installed, then the purge
	dpkg -L candlepipe | while read -r f; do [ -d "$f" ] || echo "$f"; done >"$BATS_TEST_TMPDIR/files"
	[ -s "$BATS_TEST_TMPDIR/files" ]
	run apt-get purge -y candlepipe 3>&-
	[ "$status" -eq 0 ]
	! dpkg -s candlepipe >/dev/null 2>&1
	local f left=0
	while read -r f; do
		[ ! -e "$f" ] || { echo "left: $f"; left=1; }
	done <"$BATS_TEST_TMPDIR/files"
	[ "$left" = 0 ]
	! getent passwd candlepipe
	[ ! -e /etc/candlepipe ]
	# the data stays: it is the user's
	[ -f "$w/data/candles.db" ]
}
