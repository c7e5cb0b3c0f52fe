#!/usr/bin/env bats
# End to end over HTTPS: ./run.sh collect against the simulator serving TLS
# (a certificate made here by tests/tls_helpers.bash) with gzip, compared
# with the truth; and a server certificate the collector must not trust.

load pipeline_helpers
load tls_helpers

setup_file() {
	load pipeline_helpers
	load tls_helpers
	make_certs "$BATS_FILE_TMPDIR/tls"
	start_file_sim --rate-limit 0 --tls-cert "$BATS_FILE_TMPDIR/tls/server.pem" \
		--tls-key "$BATS_FILE_TMPDIR/tls/server.key"
}

teardown_file() {
	load sim_helpers
	stop_all_sims
}

setup() {
	use_file_sim
	SIM_URL="https://127.0.0.1:$SIM_PORT"
	CERTS="$BATS_FILE_TMPDIR/tls"
	DB="$BATS_TEST_TMPDIR/t.db"
}

@test "HTTPS with gzip: 40 days of 1h equal the truth, late timestamps included" {
	curl -s --cacert "$CERTS/ca.pem" "$SIM_URL/__sim/reset" >/dev/null
	run collect --market KRW-BTC --timeframe 1h --from 2026-10-01 --to 2026-11-10 \
		--cacert "$CERTS/ca.pem" --db "$DB" --rate 0 --quiet
	echo "$output"
	[ "$status" -eq 0 ]
	gz=$(curl -s --cacert "$CERTS/ca.pem" "$SIM_URL/__sim/stats" | jq .gzip_responses)
	[ "$gz" -gt 0 ]
	truth KRW-BTC 1h 2026-10-01 2026-11-10 >"$BATS_TEST_TMPDIR/truth"
	db_dump "$DB" KRW-BTC 1h 2026-10-01 2026-11-10 >"$BATS_TEST_TMPDIR/db"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/truth")" -eq 960 ]
	diff "$BATS_TEST_TMPDIR/truth" "$BATS_TEST_TMPDIR/db"
	# the range holds candles whose last trade is stamped after their end
	late=$(jq -s '[.[] | select(.timestamp >= ((.candle_date_time_utc + "Z" | fromdate) + 3600) * 1000)] | length' \
		"$BATS_TEST_TMPDIR/db")
	[ "$late" -gt 0 ]
}

# exit 3 once run.sh maps a permanent failure to 3 (issue 12, another
# change); until then run.sh says "failed permanently" and exits 1
perm_exit() { [ "$1" -eq 3 ] || [ "$1" -eq 1 ]; }

@test "a certificate from another CA, or no --cacert: refused in one line naming the TLS reason" {
	for ca in "--cacert $CERTS/other-ca.pem" ""; do
		# shellcheck disable=SC2086
		run collect --market KRW-BTC --timeframe 1h --from 2026-10-01 --to 2026-10-02 \
			--skip-market-check $ca --db "$DB" --rate 0 --quiet
		echo "$output"
		perm_exit "$status"
		[[ "$output" == *"fetcher0 failed permanently"* || "$output" == *"fetcher1 failed permanently"* ]]
		[ "$(grep -c 'TLS: SSL certificate problem' <<<"$output")" -eq 1 ]
		[[ "$output" != *"restarting"* ]]
	done
}

@test "--cacert: a file that cannot be read is a usage error" {
	run collect --market KRW-BTC --timeframe 1h --from 2026-10-01 --to 2026-10-02 \
		--cacert "$BATS_TEST_TMPDIR/nope.pem" --db "$DB"
	[ "$status" -eq 2 ]
	[[ "$output" == *"cannot read --cacert"* ]]
	run "$ROOT/run.sh" help
	[[ "$output" == *"--cacert FILE"* ]]
}

@test "the simulator speaks TLS 1.2 and newer only, and gzip only when asked" {
	run curl -sS --cacert "$CERTS/ca.pem" --tlsv1.1 --tls-max 1.1 "$SIM_URL/v1/market/all"
	[ "$status" -ne 0 ]
	run curl -sS --cacert "$CERTS/ca.pem" --tlsv1.2 --tls-max 1.2 -o /dev/null -w '%{http_code}' "$SIM_URL/v1/market/all"
	[ "$output" = 200 ]
	run curl -sS --cacert "$CERTS/ca.pem" -D - -o /dev/null -H 'Accept-Encoding: gzip' \
		"$SIM_URL/v1/candles/days?market=KRW-BTC&to=2026-11-01T00:00:00Z&count=5"
	[[ "$output" == *$'Content-Encoding: gzip\r'* ]]
	[[ "$output" == *$'Vary: Accept-Encoding\r'* ]]
	plain=$(curl -sS --cacert "$CERTS/ca.pem" "$SIM_URL/v1/candles/days?market=KRW-BTC&to=2026-11-01T00:00:00Z&count=5")
	zipped=$(curl -sS --cacert "$CERTS/ca.pem" -H 'Accept-Encoding: gzip' \
		"$SIM_URL/v1/candles/days?market=KRW-BTC&to=2026-11-01T00:00:00Z&count=5" | gzip -dc)
	[ "$plain" = "$zipped" ]
	for ae in identity 'gzip;q=0' 'br, deflate'; do
		run curl -sS --cacert "$CERTS/ca.pem" -D - -o /dev/null -H "Accept-Encoding: $ae" "$SIM_URL/v1/market/all"
		[[ "$output" != *Content-Encoding* ]] || { echo "$ae"; false; }
	done
}
