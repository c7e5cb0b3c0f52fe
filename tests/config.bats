#!/usr/bin/env bats
# The config file (issue 15, candlepipe.conf(5)): config/cp-config checks it
# (every error with its line, exit 0 valid, 2 invalid, 3 unreadable) and
# prints it as single-quoted shell assignments; run.sh reads it with
# --config FILE, $CP_CONFIG or, installed, $CP_SYSCONFDIR/candlepipe/
# candlepipe.conf; the command line wins over the file; check-config; a
# collection driven by a config against the simulator equals the truth;
# start submits the config's follow subscriptions.

bats_require_minimum_version 1.5.0
load pipeline_helpers

CPC="$ROOT/config/cp-config"

setup() {
	CFG="$BATS_TEST_TMPDIR/candlepipe.conf"
	RUN="$BATS_TEST_TMPDIR/run"
}

teardown() {
	if [ -n "${SVC_DB:-}" ]; then
		"$ROOT/run.sh" stop --db "$SVC_DB" --run-dir "$RUN" >/dev/null 2>&1 3>&- || true
	fi
	stop_sim
}

teardown_file() {
	load sim_helpers
	stop_all_sims
}

@test "config: a valid file with every section passes --check and --shell prints every key" {
	cat >"$CFG" <<-'EOF'
		# every section
		[collector]
		db = /var/lib/candlepipe/candles.db
		api_url = https://api.upbit.com
		cacert = /etc/ssl/certs/ca-certificates.crt
		fetchers = 3
		inflight = 8
		source_ip = 127.0.0.1, ::1
		rate = 9.5

		[service]
		listen = [::1]:8765
		token_file = /etc/candlepipe/token
		run_dir = /run/candlepipe

		[features]
		hedge = off
		split = on

		[follow "btc"]
		market = KRW-BTC, KRW-ETH
		timeframe = 1m, 60m
		backfill = 1440

		[follow]
		quote = krw
		timeframe = 1d
	EOF
	run "$CPC" --check "$CFG"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "$CFG: valid (2 follow subscriptions)" ]
	run "$CPC" --shell "$CFG"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"CP_CFG_db='/var/lib/candlepipe/candles.db'"* ]]
	[[ "$output" == *"CP_CFG_source_ip='127.0.0.1,::1'"* ]]
	[[ "$output" == *"CP_CFG_listen='[::1]:8765'"* ]]
	[[ "$output" == *"CP_CFG_feature_hedge='off'"* ]]
	[[ "$output" == *"CP_CFG_follows='2'"* ]]
	# lists normalised, aliases to their names, quotes upper case
	[[ "$output" == *"CP_CFG_follow_1_market='KRW-BTC,KRW-ETH'"* ]]
	[[ "$output" == *"CP_CFG_follow_1_timeframe='1m,1h'"* ]]
	[[ "$output" == *"CP_CFG_follow_1_name='btc'"* ]]
	[[ "$output" == *"CP_CFG_follow_1_line='20'"* ]]
	[[ "$output" == *"CP_CFG_follow_2_quote='KRW'"* ]]
	# 10 keys + 2 features + follows + 2 x (line, name) + 3 + 2 follow keys
	[ "${#lines[@]}" -eq 22 ]
	# an empty file is valid too
	: >"$BATS_TEST_TMPDIR/empty.conf"
	run "$CPC" --shell "$BATS_TEST_TMPDIR/empty.conf"
	[ "$status" -eq 0 ]
	[ "$output" = "CP_CFG_follows='0'" ]
}

@test "config: every kind of error is reported with its line, all of them, exit 2" {
	printf '%s\n' 'db = outside' '[collector]' 'fetchers = 0' 'fetchers = 2' 'api_url = ftp://x' \
		'rate = fast' 'source_ip = 1.2.3' 'this is not ini' '[nope]' 'foo = bar' '[features]' \
		'split = maybe' 'turbo = on' '[follow "a"]' 'market = krw-btc' 'timeframe = 2m' \
		'[follow "a"]' '[follow]' 'market = KRW-BTC' 'quote = KRW' '[service]' \
		'listen = localhost:80' 'colour = blue' 'token_file =' "db = $(printf 'x%.0s' {1..300})" \
		'[follow "bad name]' 'inflight = 65' >"$CFG"
	run "$CPC" --check "$CFG"
	echo "$output"
	[ "$status" -eq 2 ]
	local want=(
		"1: db: outside a section"
		"3: fetchers: must be a whole number from 1 to 64, not '0'"
		"4: fetchers is given twice (first on line 3)"
		"5: api_url: must be an http:// or https:// URL with a host, not 'ftp://x'"
		"6: rate: must be a number from 0 to 10000, not 'fast'"
		"7: source_ip: '1.2.3' is not a numeric IPv4 or IPv6 address"
		"8: not a 'key = value' line, a [section] or a comment"
		"9: unknown section [nope]"
		"12: split: must be on or off, not 'maybe'"
		"13: unknown key 'turbo' in [features]"
		"15: market: bad market code 'krw-btc'"
		"16: timeframe: unknown timeframe '2m'"
		"17: [follow \"a\"] is given twice (first on line 14)"
		"18: [follow] needs timeframe = TF[,TF...]"
		"20: quote and market (line 19) cannot be combined"
		"22: listen: must be a numeric ADDR:PORT"
		"23: unknown key 'colour' in [service]"
		"24: token_file: has no value"
		"25: longer than 198 characters"
		"26: bad section [follow \"bad name]"
	)
	local w i=0
	for w in "${want[@]}"; do
		[[ "${lines[$i]}" == "$CFG:$w"* ]] || { echo "line $i: want $CFG:$w"; return 1; }
		i=$((i + 1))
	done
	# the keys after a section that was refused are not reported again
	[ "${lines[$i]}" = "$CFG: 20 errors" ]
	[ "${#lines[@]}" -eq $((i + 1)) ]
	# --shell prints nothing for an invalid file
	run --separate-stderr "$CPC" --shell "$CFG"
	[ "$status" -eq 2 ]
	[ -z "$output" ]
}

@test "config: unreadable is 3, a usage error 2, --keys lists what the man page documents" {
	run "$CPC" --check "$BATS_TEST_TMPDIR/none.conf"
	[ "$status" -eq 3 ]
	[[ "$output" == *"none.conf: cannot read: No such file or directory"* ]]
	run "$CPC" --check "$BATS_TEST_TMPDIR"
	[ "$status" -eq 3 ]
	[[ "$output" == *"cannot read: Is a directory"* ]]
	run "$CPC" --frobnicate
	[ "$status" -eq 2 ]
	run "$CPC" --keys
	[ "$status" -eq 0 ]
	[[ "$output" == *"collector.db"* && "$output" == *"follow.backfill"* ]]
	# [features] holds exactly the planner's flags
	diff <(grep '^features\.' <<<"$output" | cut -d. -f2 | sort) \
		<(sed -n 's/.*names\[FEAT_COUNT\] = {\(.*\)};/\1/p' "$ROOT/planner/flags.c" | tr -d '" ' | tr , '\n' | sort)
}

@test "config: values with quotes, \$(...), backticks and spaces reach run.sh as they are, nothing runs" {
	local odd="$BATS_TEST_TMPDIR/it's \$(touch $BATS_TEST_TMPDIR/pwned) \`touch $BATS_TEST_TMPDIR/pwned2\` \"x\"\\y dir"
	mkdir -p "$odd"
	printf '[collector]\ndb = %s/c.db\n' "$odd" >"$CFG"
	run "$CPC" --shell "$CFG"
	[ "$status" -eq 0 ]
	# what cp-config prints is a shell assignment of exactly the value
	local CP_CFG_db=""
	eval "$output"
	[ "$CP_CFG_db" = "$odd/c.db" ]
	# run.sh reads it without eval: status names the database of the file
	run "$ROOT/run.sh" status --config "$CFG" --run-dir "$RUN" 3>&-
	echo "$output"
	[ "$status" -eq 3 ]
	[ "$output" = "run.sh: no service running for $odd/c.db" ]
	[ ! -e "$BATS_TEST_TMPDIR/pwned" ] && [ ! -e "$BATS_TEST_TMPDIR/pwned2" ]
}

@test "config: check-config FILE, --config, CP_CONFIG; exit 0, 2, 3" {
	printf '[collector]\nfetchers = 2\n' >"$CFG"
	run "$ROOT/run.sh" check-config "$CFG"
	[ "$status" -eq 0 ]
	[ "$output" = "$CFG: valid (0 follow subscriptions)" ]
	run "$ROOT/run.sh" check-config --config "$CFG"
	[ "$status" -eq 0 ]
	CP_CONFIG="$CFG" run "$ROOT/run.sh" check-config
	[ "$status" -eq 0 ]
	printf '[collector]\nfetchers = many\n' >"$BATS_TEST_TMPDIR/bad.conf"
	run "$ROOT/run.sh" check-config "$BATS_TEST_TMPDIR/bad.conf"
	[ "$status" -eq 2 ]
	[[ "$output" == *"bad.conf:2: fetchers: must be a whole number from 1 to 64, not 'many'"* ]]
	run "$ROOT/run.sh" check-config "$BATS_TEST_TMPDIR/none.conf"
	[ "$status" -eq 3 ]
	# no file at all (not installed: no /etc default)
	CP_CONFIG="" run "$ROOT/run.sh" check-config
	[ "$status" -eq 2 ]
	[[ "$output" == *"no config file"* ]]
	# a command with an invalid or unreadable file starts nothing
	run "$ROOT/run.sh" collect --config "$BATS_TEST_TMPDIR/bad.conf" --market KRW-BTC --timeframe 1m --count 1
	[ "$status" -eq 2 ]
	[[ "$output" == *"bad.conf:2: fetchers"* && "$output" == *"is not a valid config file"* ]]
	run "$ROOT/run.sh" --config "$BATS_TEST_TMPDIR/none.conf" status
	[ "$status" -eq 3 ]
	[[ "$output" == *"cannot read the config file"* ]]
	# --help needs no file
	run "$ROOT/run.sh" collect --config "$BATS_TEST_TMPDIR/none.conf" --help
	[ "$status" -eq 0 ]
}

@test "config: a collection driven by a config file equals the truth; the command line wins over it" {
	start_sim --rate-limit 0
	local db="$BATS_TEST_TMPDIR/cfg.db" other="$BATS_TEST_TMPDIR/cli.db"
	cat >"$CFG" <<-EOF
		[collector]
		db = $db
		api_url = $SIM_URL
		fetchers = 1
		rate = 0
		[service]
		run_dir = $RUN
		[features]
		hedge = off
	EOF
	run "$ROOT/run.sh" collect --config "$CFG" --market KRW-BTC,KRW-ZIL --timeframe 1m \
		--from 2026-10-01T00:00:00 --to 2026-10-01T06:00:00 --quiet 3>&-
	echo "$output"
	[ "$status" -eq 0 ]
	local m
	for m in KRW-BTC KRW-ZIL; do
		truth $m 1m 2026-10-01T00:00:00 2026-10-01T06:00:00 >"$BATS_TEST_TMPDIR/truth"
		[ -s "$BATS_TEST_TMPDIR/truth" ]
		diff "$BATS_TEST_TMPDIR/truth" <(db_dump "$db" $m 1m 2026-10-01T00:00:00 2026-10-01T06:00:00)
	done
	# the file's fetchers = 1 and run_dir were used
	[ -f "$RUN/fetcher0.log" ] && [ ! -f "$RUN/fetcher1.log" ]
	# the command line wins: --db and --fetchers given, the file's ignored
	rm -rf "$RUN"
	CP_CONFIG="$CFG" run "$ROOT/run.sh" collect --market KRW-ETH --timeframe 1h --count 24 \
		--db "$other" --fetchers 2 --quiet 3>&-
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(sqlite3 "$other" "SELECT COUNT(*) FROM candles WHERE market = 'KRW-ETH'")" -eq 24 ]
	[ "$(sqlite3 "$db" "SELECT COUNT(*) FROM candles WHERE market = 'KRW-ETH'")" -eq 0 ]
	# two fetchers; and the file's run_dir is its database's, not --db's
	local own
	own=$("$ROOT/monitor/cp-monitor" --print-run-dir --db "$other")
	[ -f "$own/fetcher1.log" ] && [ ! -e "$RUN" ]
	rm -rf "$own"
	# --config after the command line options is the same file, still losing to them
	run "$ROOT/run.sh" collect --market KRW-ETH --timeframe 1h --count 24 --db "$other" --quiet \
		--config "$CFG" 3>&-
	[ "$status" -eq 0 ]
}

@test "config: installed, /etc/candlepipe/candlepipe.conf (CP_SYSCONFDIR) is the default" {
	local dest="$BATS_TEST_TMPDIR/dest" etc="$BATS_TEST_TMPDIR/etc"
	make -s -C "$ROOT" install DESTDIR="$dest" PREFIX=/usr 3>&- >/dev/null
	local cp="$dest/usr/bin/candlepipe"
	# without the file: the built-in defaults
	CP_SYSCONFDIR="$etc" run "$cp" status --run-dir "$RUN" 3>&-
	[ "$status" -eq 3 ]
	[ "$output" = "candlepipe: no service running for data/candles.db" ]
	mkdir -p "$etc/candlepipe"
	printf '[collector]\ndb = /srv/cp/candles.db\n' >"$etc/candlepipe/candlepipe.conf"
	CP_SYSCONFDIR="$etc" run "$cp" status --run-dir "$RUN" 3>&-
	[ "$status" -eq 3 ]
	[ "$output" = "candlepipe: no service running for /srv/cp/candles.db" ]
	CP_SYSCONFDIR="$etc" run "$cp" check-config
	[ "$status" -eq 0 ]
	[ "$output" = "$etc/candlepipe/candlepipe.conf: valid (0 follow subscriptions)" ]
	# --config wins over the default; the checkout's run.sh never reads /etc
	printf '[collector]\ndb = /srv/other.db\n' >"$BATS_TEST_TMPDIR/o.conf"
	CP_SYSCONFDIR="$etc" run "$cp" status --config "$BATS_TEST_TMPDIR/o.conf" --run-dir "$RUN" 3>&-
	[ "$output" = "candlepipe: no service running for /srv/other.db" ]
	CP_SYSCONFDIR="$etc" run "$ROOT/run.sh" status --run-dir "$RUN" 3>&-
	[ "$output" = "run.sh: no service running for data/candles.db" ]
	# the example config installed is valid
	[ -f "$dest/usr/share/candlepipe/candlepipe.conf.example" ]
	run "$cp" check-config "$dest/usr/share/candlepipe/candlepipe.conf.example"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "config: start without a follow command says the subscriptions are not submitted" {
	! "$ROOT/run.sh" follow --help >/dev/null 2>&1 || skip "run.sh has a follow command (see the next test)"
	start_sim --rate-limit 0
	SVC_DB="$BATS_TEST_TMPDIR/s.db"
	printf '[collector]\ndb = %s\napi_url = %s\nrate = 0\n[service]\nrun_dir = %s\n[follow]\nmarket = KRW-BTC\ntimeframe = 1m\n' \
		"$SVC_DB" "$SIM_URL" "$RUN" >"$CFG"
	run "$ROOT/run.sh" start --config "$CFG" 3>&-
	echo "$output"
	[ "$status" -eq 0 ]
	wait_for grep -q "follow subscription(s) are not submitted" "$RUN/service.log"
	grep "this version has no 'follow' command" "$RUN/service.log"
}

@test "config: start submits the config's follow subscriptions (./run.sh follow)" {
	"$ROOT/run.sh" follow --help >/dev/null 2>&1 || skip "./run.sh follow is not there yet (wt-daemon)"
	start_sim --rate-limit 0
	SVC_DB="$BATS_TEST_TMPDIR/s.db"
	cat >"$CFG" <<-EOF
		[collector]
		db = $SVC_DB
		api_url = $SIM_URL
		rate = 0
		[service]
		run_dir = $RUN
		[follow "majors"]
		market = KRW-BTC, KRW-ETH
		timeframe = 1h
		backfill = 24
	EOF
	run "$ROOT/run.sh" start --config "$CFG" 3>&-
	echo "$output"
	[ "$status" -eq 0 ]
	wait_for grep -q "following KRW-BTC,KRW-ETH 1h" "$RUN/service.log"
	run "$ROOT/run.sh" follow --config "$CFG" --list 3>&-
	echo "$output"
	[[ "$output" == *KRW-BTC* && "$output" == *KRW-ETH* ]]
	# the backfill arrives
	WAIT_FOR_S=60 wait_for test "$(sqlite3 "$SVC_DB" "SELECT COUNT(*) FROM candles WHERE market = 'KRW-ETH' AND timeframe = '1h'" 2>/dev/null)" -ge 24
}
