#!/usr/bin/env bats
# The fetcher's own failure handling: its command line, set-up failures of
# libcurl and ZeroMQ (failure points), HTTP outcomes the simulator does not
# produce (a proxy, tests/http_stub.py, answers some candle requests itself),
# and transfers that cannot start or FAILED messages that cannot be sent.
# Temporary faults are retried until the database equals the simulator's
# truth; permanent ones fail the range with a message naming the cause.

load pipeline_helpers

setup_file() {
	crash_build
	export CPB
}

setup() {
	DB="$BATS_TEST_TMPDIR/f.db"
	FETCHER="$CPB/fetcher/cp-fetcher"
	EP="ipc://$BATS_TEST_TMPDIR"
}

teardown() {
	stop_stub
	stop_all_sims
}

stop_stub() {
	[ -z "${STUB_PID:-}" ] || { kill "$STUB_PID" 2>/dev/null; wait "$STUB_PID" 2>/dev/null; } || true
	STUB_PID=
}

# start_stub ARGS...: tests/http_stub.py in front of the simulator; sets STUB_URL
start_stub() {
	local pf="$BATS_TEST_TMPDIR/stub.port"
	rm -f "$pf"
	python3 "$ROOT/tests/http_stub.py" --upstream "$SIM_URL" --port-file "$pf" "$@" 3>&- &
	STUB_PID=$!
	wait_for test -s "$pf"
	STUB_URL="http://127.0.0.1:$(<"$pf")"
}

# cp_collect [ENV=VALUE...] -- ARGS...: the crash-point build's run.sh
cp_collect() {
	local -a envs=()
	while [ "$1" != "--" ]; do envs+=("$1"); shift; done
	shift
	env "${envs[@]}" CP_RESTART_PAUSE=0.2 "$CPB/run.sh" collect --run-dir "$BATS_TEST_TMPDIR/run" \
		--skip-market-check --db "$DB" --quiet --rate 0 "$@" 3>&-
}

equal_truth() { # M TF FROM TO
	truth "$1" "$2" "$3" "$4" >"$BATS_TEST_TMPDIR/truth"
	db_dump "$DB" "$1" "$2" "$3" "$4" >"$BATS_TEST_TMPDIR/db"
	[ -s "$BATS_TEST_TMPDIR/truth" ]
	diff "$BATS_TEST_TMPDIR/truth" "$BATS_TEST_TMPDIR/db"
}

fetcher_logs() {
	cat "$BATS_TEST_TMPDIR"/run/fetcher*.log
}

@test "command line: each mistake exits 2 naming it" {
	run "$FETCHER" --work "$EP/w" --results "$EP/r" extra
	[ "$status" -eq 2 ]
	[[ "$output" == *"unexpected argument 'extra'"* ]]
	run "$FETCHER" --work "$EP/w"
	[ "$status" -eq 2 ]
	[[ "$output" == *"--work and --results are required"* ]]
	run "$FETCHER" --results "$EP/r"
	[ "$status" -eq 2 ]
	[[ "$output" == *"--work and --results are required"* ]]
	run "$FETCHER" --work "$EP/w" --results "$EP/r" --api-url ftp://example.com
	[ "$status" -eq 2 ]
	[[ "$output" == *"--api-url must start with http:// or https://"* ]]
	run "$FETCHER" --work "$EP/w" --results "$EP/r" --source-ip ''
	[ "$status" -eq 2 ]
	[[ "$output" == *"bad --source-ip ''"* ]]
	run "$FETCHER" --work "$EP/w" --results "$EP/r" --api-url "http://$(printf 'h%.0s' {1..300})"
	[ "$status" -eq 2 ]
	[[ "$output" == *"--api-url too long"* ]]
	run "$FETCHER" --work "$EP/w" --results "$EP/r" --source-ip 'a b'
	[ "$status" -eq 2 ]
	[[ "$output" == *"bad --source-ip 'a b'"* ]]
	run "$FETCHER" --work "$EP/w" --results "$EP/r" --max-inflight 65
	[ "$status" -eq 2 ]
	[[ "$output" == *"--max-inflight"* ]]
	run "$FETCHER" --bogus
	[ "$status" -eq 2 ]
	[[ "$output" == *"try 'cp-fetcher --help'"* ]]
}

@test "set-up failures of libcurl and ZeroMQ: exit 4 (restart me) with the cause" {
	local spec
	for spec in "fetcher_curl_multi:cannot set up libcurl" "fetcher_curl_easy:cannot set up libcurl" \
		"fetcher_curl_setopt:cannot set up libcurl" "fetcher_zmq_ctx:zmq_ctx_new" \
		"fetcher_zmq_fd:ZMQ_FD" "fetcher_curl_perform:curl_multi_perform" \
		"fetcher_curl_poll:curl_multi_poll" \
		"fetcher_curl_multi_setopt:curl_multi_setopt CURLMOPT_MAXCONNECTS"; do
		CP_FAIL="${spec%%:*}:1" run timeout 10 "$FETCHER" --work "$EP/w" --results "$EP/r" 3>&-
		echo "${spec%%:*}: $status $output"
		[ "$status" -eq 4 ]
		[[ "$output" == *"${spec#*:}"* ]]
	done
	# the curl option that failed is named, whichever it is (21 of them)
	local n names=""
	touch "$BATS_TEST_TMPDIR/ca.pem"
	for n in $(seq 1 21); do
		CP_FAIL="fetcher_curl_setopt:$n" run timeout 10 "$FETCHER" --work "$EP/w" \
			--results "$EP/r" --source-ip 127.0.0.1 --cacert "$BATS_TEST_TMPDIR/ca.pem" 3>&-
		[ "$status" -eq 4 ]
		[[ "$output" == *"cannot set up libcurl"* ]]
		names+="$(grep -o 'curl_easy_setopt CURLOPT_[A-Z_]*' <<<"$output") "
	done
	echo "$names"
	[ "$(tr ' ' '\n' <<<"$names" | grep -c CURLOPT_)" -eq 21 ]
	[ "$(tr ' ' '\n' <<<"$names" | grep CURLOPT_ | sort -u | wc -l)" -eq 21 ]
	[[ "$names" == *"CURLOPT_WRITEDATA"*"CURLOPT_SSLVERSION"*"CURLOPT_CAINFO"*"CURLOPT_INTERFACE"* ]]
}

@test "TLS: an untrusted server certificate ends the fetcher (exit 3) in one line naming the reason" {
	load tls_helpers
	make_certs "$BATS_TEST_TMPDIR/tls"
	start_sim --rate-limit 0 --tls-cert "$BATS_TEST_TMPDIR/tls/server.pem" \
		--tls-key "$BATS_TEST_TMPDIR/tls/server.key"
	local url="https://127.0.0.1:$SIM_PORT" ca
	for ca in other-ca.pem ""; do
		rm -rf "$DB"* "$BATS_TEST_TMPDIR/run"
		run cp_collect -- --api-url "$url" --fetchers 1 --market KRW-BTC --timeframe 1h \
			--from 2026-10-01 --to 2026-10-02 ${ca:+--cacert "$BATS_TEST_TMPDIR/tls/$ca"}
		echo "$output"
		# run.sh says "failed permanently" only for a fetcher's exit 3
		[[ "$output" == *"fetcher0 failed permanently"* ]]
		[ "$(grep -c 'fetcher0.* fatal: TLS: SSL certificate problem: unable to get local issuer certificate' \
			"$BATS_TEST_TMPDIR/run/fetcher0.log")" -eq 1 ]
		grep -q "fatal: TLS: .*retrying cannot fix this" "$BATS_TEST_TMPDIR/run/fetcher0.log"
	done
	# with the right CA the same fetcher collects
	rm -rf "$DB"* "$BATS_TEST_TMPDIR/run"
	run cp_collect -- --api-url "$url" --fetchers 1 --market KRW-BTC --timeframe 1h \
		--from 2026-10-01 --to 2026-10-02 --cacert "$BATS_TEST_TMPDIR/tls/ca.pem"
	[ "$status" -eq 0 ]
	equal_truth KRW-BTC 1h 2026-10-01 2026-10-02
	# a CA file that cannot be read: usage error before anything starts
	run "$FETCHER" --work "$EP/w" --results "$EP/r" --cacert "$BATS_TEST_TMPDIR/nope.pem"
	[ "$status" -eq 2 ]
	[[ "$output" == *"cannot read --cacert"*"nope.pem"* ]]
}

@test "an endpoint zmq cannot use: exit 4; an unusable event stream is only a warning" {
	run timeout 10 "$FETCHER" --work "bogus://x" --results "$EP/r" 3>&-
	[ "$status" -eq 4 ]
	[[ "$output" == *"cannot connect to the planner or the writer"* ]]
	run timeout 10 "$FETCHER" --work "$EP/w" --results "bogus://x" 3>&-
	[ "$status" -eq 4 ]
	[[ "$output" == *"cannot connect to the planner or the writer"* ]]
	CP_FAIL=fetcher_curl_perform:1 run timeout 10 "$FETCHER" --work "$EP/w" --results "$EP/r" \
		--events "bogus://x" --name f9 -v --source-ip 127.0.0.1 --api-url "http://127.0.0.1:1///" 3>&-
	[ "$status" -eq 4 ]
	[[ "$output" == *"no event stream (bogus://x); going on without"* ]]
	[[ "$output" == *"f9"*"start: api http://127.0.0.1:1, source 127.0.0.1"* ]]
	# the API address comes from $UPBIT_API_URL unless --api-url is given
	UPBIT_API_URL=https://upbit.example/ CP_FAIL=fetcher_curl_perform:1 run timeout 10 \
		"$FETCHER" --work "$EP/w" --results "$EP/r" 3>&-
	[ "$status" -eq 4 ]
	[[ "$output" == *"start: api https://upbit.example, source default"* ]]
}

@test "HTTP 400, or a 404 that is not Upbit's unknown market: the range fails at once with the message" {
	local spec
	start_sim --rate-limit 0
	for spec in '400|{"error":{"name":400,"message":"Invalid parameter: to"}}|HTTP 400: Invalid parameter: to' \
		'404|{}|HTTP 404: {}'; do
		IFS='|' read -r st body want <<<"$spec"
		rm -rf "$DB"* "$BATS_TEST_TMPDIR/run"
		start_stub --status "$st" --times -1 --body "$body"
		run cp_collect -- --api-url "$STUB_URL" --market KRW-BTC --timeframe 1h \
			--from 2026-09-01T00:00:00 --to 2026-09-02T00:00:00
		echo "$output"
		[ "$status" -eq 1 ]
		[[ "$output" == *"not covered: KRW-BTC 1h 2026-09-01T00:00:00..2026-09-02T00:00:00 ($want)"* ]]
		fetcher_logs | grep -q "perm_request: $want"
		# one request: a permanent failure is not retried
		[ "$(grep -c 'perm_request' <(fetcher_logs))" -eq 1 ]
		stop_stub
	done
}

@test "temporary HTTP outcomes (408, 302, 503 text, 500 error name, a body over the cap) are retried to the truth" {
	local spec
	start_sim --rate-limit 0
	for spec in "408|--body|" "302|--body|moved" "503|--body|<html> Service  Unavailable </html>" \
		'500|--body|{"error":{"name":"internal_error"}}' "200|--body-bytes|1100000"; do
		IFS='|' read -r st opt val <<<"$spec"
		rm -rf "$DB"* "$BATS_TEST_TMPDIR/run"
		start_stub --status "$st" "$opt" "$val" --times 2
		run cp_collect -- --api-url "$STUB_URL" --market KRW-ETH --timeframe 1h \
			--from 2026-09-01T00:00:00 --to 2026-09-20T00:00:00 --fetchers 1 --verbose
		echo "$st: $status $output"
		[ "$status" -eq 0 ]
		equal_truth KRW-ETH 1h 2026-09-01T00:00:00 2026-09-20T00:00:00
		case $st in
		408) fetcher_logs | grep -q "temp_http: HTTP 408: (no message)" ;;
		302) fetcher_logs | grep -q "temp_http: unexpected HTTP status 302" ;;
		503) fetcher_logs | grep -q "temp_http: HTTP 503: <html> Service Unavailable </html>" ;;
		500) fetcher_logs | grep -q "temp_http: HTTP 500: internal_error" ;;
		200) fetcher_logs | grep -q "temp_body: body larger than 1048576 bytes" ;;
		esac
		fetcher_logs | grep -q "candles, .* bytes, answered in"
		stop_stub
	done
}

@test "a transfer that cannot start or a FAILED that cannot be sent: retried to the truth" {
	local point
	start_sim --rate-limit 0
	# libcurl refusing the URL escape or the response code fails that
	# transfer; refusing to release a handle ends the fetcher (exit 4: run.sh
	# restarts it)
	for point in fetcher_http_start:2 fetcher_send_failed:1 fetcher_curl_escape:3 \
		fetcher_curl_getinfo:2 fetcher_curl_remove:3; do
		rm -rf "$DB"* "$BATS_TEST_TMPDIR/run"
		start_stub --status 502 --body "bad gateway" --times 1
		run cp_collect CP_FAIL="$point" -- --api-url "$STUB_URL" --market KRW-XRP \
			--timeframe 1h --from 2026-09-01T00:00:00 --to 2026-09-20T00:00:00 --fetchers 1
		echo "$point: $status $output"
		[ "$status" -eq 0 ]
		equal_truth KRW-XRP 1h 2026-09-01T00:00:00 2026-09-20T00:00:00
		case $point in
		fetcher_http_start*) fetcher_logs | grep -q "temp_net: the transfer could not start" ;;
		fetcher_send_failed*) fetcher_logs | grep -q "not sent (.*); the lease will expire" ;;
		fetcher_curl_escape*) fetcher_logs | grep -q "curl_easy_escape failed" ;;
		fetcher_curl_getinfo*) fetcher_logs | grep -q "curl_easy_getinfo CURLINFO_RESPONSE_CODE" ;;
		fetcher_curl_remove*) fetcher_logs | grep -q "curl_multi_remove_handle" ;;
		esac
		stop_stub
	done
}
