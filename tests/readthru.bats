#!/usr/bin/env bats
# cp-serve's read-through (issue 13): a service (./run.sh start --listen)
# over the simulator, cp-serve given the daemon's control socket. A covered
# request costs the simulator nothing; an uncovered one becomes a job of
# exactly its gap and is then answered as the simulator answers; identical
# concurrent misses share one job; the forming candle comes from upstream
# and is never stored; /v1/gaps is `./run.sh gaps`; a daemon that does not
# answer, or a job slower than --miss-timeout-ms, is an error, not a hang.

load pipeline_helpers
load serve_helpers
bats_require_minimum_version 1.5.0

setup_file() {
	load pipeline_helpers
	# the latency keeps a job running while the concurrent misses arrive
	start_file_sim --rate-limit 0 --latency-ms 150
	RUN="$BATS_FILE_TMPDIR/run" DB="$BATS_FILE_TMPDIR/r.db"
	"$ROOT/run.sh" start --db "$DB" --run-dir "$RUN" --api-url "$SIM_URL" --rate 0 \
		--listen 127.0.0.1:0 3>&- >"$BATS_FILE_TMPDIR/start.out" 2>&1 ||
		{ cat "$BATS_FILE_TMPDIR/start.out" "$RUN/service.log" >&2; return 1; }
}

teardown_file() {
	load sim_helpers
	load serve_helpers
	"$ROOT/run.sh" stop --db "$BATS_FILE_TMPDIR/r.db" --run-dir "$BATS_FILE_TMPDIR/run" \
		>/dev/null 2>&1 3>&- || true
	stop_all_serves
	stop_all_sims
}

setup() {
	use_file_sim
	RUN="$BATS_FILE_TMPDIR/run" DB="$BATS_FILE_TMPDIR/r.db"
	SV_URL="http://127.0.0.1:$(<"$RUN/server.port")"
}

svc_collect() { # ARGS...: ./run.sh collect submitted to the service
	"$ROOT/run.sh" collect --db "$DB" --run-dir "$RUN" --quiet "$@" 3>&-
}

metric() { # NAME: its value in cp-serve's /metrics
	curl -s "$SV_URL/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}

# same_answer PATH: cp-serve's answer (status and body) equals the
# simulator's for PATH, byte for byte; the cp-serve answer is in $T/sv,
# the candle requests it cost the simulator in $COST (the simulator's own
# answer, asked after it, is not counted)
same_answer() {
	local b
	T=$BATS_TEST_TMPDIR
	b=$(candle_requests)
	curl -s -m 60 -w '\n%{http_code}' "$SV_URL$1" >"$T/sv"
	COST=$(($(candle_requests) - b))
	curl -s -w '\n%{http_code}' "$SIM_URL$1" >"$T/sim"
	if ! cmp -s "$T/sim" "$T/sv"; then
		echo "differs: $1"
		diff <(head -c 600 "$T/sim") <(head -c 600 "$T/sv") || true
		return 1
	fi
}

@test "readthru: a covered request is answered from the database and costs the simulator nothing" {
	run svc_collect --market KRW-BTC --timeframe 1m --from 2026-09-01T00:00:00 --to 2026-09-01T06:00:00
	[ "$status" -eq 0 ]
	local before jobs
	before=$(candle_requests)
	jobs=$(metric cp_serve_miss_jobs_total)
	local p="/v1/candles/minutes/1?market=KRW-BTC&to=2026-09-01T05:00:00Z&count=200"
	curl -s -w '\n%{http_code}' "$SV_URL$p" >"$BATS_TEST_TMPDIR/sv"
	[ "$(candle_requests)" -eq "$before" ]
	[ "$(metric cp_serve_miss_jobs_total)" -eq "$jobs" ]
	curl -s -w '\n%{http_code}' "$SIM_URL$p" | cmp - "$BATS_TEST_TMPDIR/sv"
	[ "$(head -n 1 "$BATS_TEST_TMPDIR/sv" | jq length)" -eq 200 ]
}

@test "readthru: an uncovered request costs exactly the requests of its gap, then equals the simulator" {
	local before jobs p
	# nothing collected: the 200 slots below `to`, one request
	p="/v1/candles/minutes/1?market=KRW-ETH&to=2026-09-02T12:00:00Z&count=200"
	jobs=$(metric cp_serve_miss_jobs_total)
	same_answer "$p"
	[ "$COST" -eq 1 ]
	[ "$(metric cp_serve_miss_jobs_total)" -eq $((jobs + 1)) ]
	[ "$(head -n 1 "$T/sv" | jq length)" -eq 200 ]
	# asked again: covered now, nothing more
	same_answer "$p"
	[ "$COST" -eq 0 ]
	# the top already covered ([10:00, 12:00) of another day): only the 80
	# slots below it are the gap, one request for them
	run svc_collect --market KRW-ETH --timeframe 5m --from 2026-09-03T10:00:00 --to 2026-09-03T12:00:00
	[ "$status" -eq 0 ]
	same_answer "/v1/candles/minutes/5?market=KRW-ETH&to=2026-09-03T12:00:00Z&count=104"
	[ "$COST" -eq 1 ]
	[ "$(head -n 1 "$T/sv" | jq length)" -eq 104 ]
	run "$ROOT/run.sh" gaps --db "$DB" --market KRW-ETH --timeframe 5m \
		--from 2026-09-03T00:00:00 --to 2026-09-03T12:00:00 --format json
	# exactly the window was collected: 00:00..03:20 stays missing
	jq -e '.missing == [{"from":"2026-09-03T00:00:00","to":"2026-09-03T03:20:00","slots":40,"seconds":12000}]' <<<"$output"
}

@test "readthru: /v1/candles/range reads an uncovered range through, then streams the truth" {
	local b
	b=$(candle_requests)
	curl -s -m 60 "$SV_URL/v1/candles/range?market=KRW-ETH&timeframe=1h&from=2026-09-10T00:00:00&to=2026-09-12T00:00:00" \
		>"$BATS_TEST_TMPDIR/range"
	[ "$(candle_requests)" -eq $((b + 1)) ]
	diff <(truth KRW-ETH 1h 2026-09-10T00:00:00 2026-09-12T00:00:00) "$BATS_TEST_TMPDIR/range"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/range")" -eq 48 ]
}

@test "readthru: 50 concurrent identical misses cost the simulator the requests of one" {
	local p="/v1/candles/minutes/3?market=KRW-BTC&to=2026-09-05T00:00:00Z&count=200"
	local before jobs co urls=() i
	before=$(candle_requests)
	jobs=$(metric cp_serve_miss_jobs_total)
	co=$(metric cp_serve_coalesced_total)
	for ((i = 0; i < 50; i++)); do
		urls+=("$SV_URL$p" -o "$BATS_TEST_TMPDIR/c.$i")
	done
	curl -s -m 60 --parallel --parallel-immediate --parallel-max 50 "${urls[@]}"
	[ "$(candle_requests)" -eq $((before + 1)) ]
	[ "$(metric cp_serve_miss_jobs_total)" -eq $((jobs + 1)) ]
	echo "coalesced: $(( $(metric cp_serve_coalesced_total) - co ))"
	curl -s "$SIM_URL$p" >"$BATS_TEST_TMPDIR/sim"
	[ "$(jq length "$BATS_TEST_TMPDIR/sim")" -eq 200 ]
	for ((i = 0; i < 50; i++)); do
		cmp "$BATS_TEST_TMPDIR/sim" "$BATS_TEST_TMPDIR/c.$i"
	done
}

@test "readthru: the forming candle is in the answer, from upstream, and never stored" {
	local today up p="/v1/candles/days?market=KRW-BTC&count=4"
	today=$(date -u +%Y-%m-%dT00:00:00)
	up=$(metric cp_serve_upstream_requests_total)
	curl -s -m 60 -w '\n%{http_code}' "$SV_URL$p" >"$BATS_TEST_TMPDIR/sv"
	curl -s "$SIM_URL$p" >"$BATS_TEST_TMPDIR/sim"
	[ "$(tail -n 1 "$BATS_TEST_TMPDIR/sv")" = 200 ]
	head -n 1 "$BATS_TEST_TMPDIR/sv" >"$BATS_TEST_TMPDIR/sv.json"
	[ "$(jq length "$BATS_TEST_TMPDIR/sv.json")" -eq 4 ]
	[ "$(jq -r '.[0].candle_date_time_utc' "$BATS_TEST_TMPDIR/sv.json")" = "$today" ]
	# the forming one as upstream has it (its price moves; its slot and open do not)
	[ "$(jq -c '.[0] | [.market, .candle_date_time_utc, .opening_price]' "$BATS_TEST_TMPDIR/sv.json")" = \
		"$(jq -c '.[0] | [.market, .candle_date_time_utc, .opening_price]' "$BATS_TEST_TMPDIR/sim")" ]
	# the closed ones field for field
	[ "$(jq -c '.[1:]' "$BATS_TEST_TMPDIR/sv.json")" = "$(jq -c '.[1:]' "$BATS_TEST_TMPDIR/sim")" ]
	[ "$(metric cp_serve_upstream_requests_total)" -gt "$up" ]
	# the closed days were collected, the forming one is not in the database
	[ "$(sqlite3 "$DB" "SELECT count(*) FROM candles_exact WHERE market = 'KRW-BTC' AND timeframe = '1d' AND candle_date_time_utc >= '$today'")" -eq 0 ]
	[ "$(sqlite3 "$DB" "SELECT count(*) FROM candles_exact WHERE market = 'KRW-BTC' AND timeframe = '1d' AND candle_date_time_utc < '$today'")" -ge 3 ]
	# count=1 is the forming candle alone
	run curl -s "$SV_URL/v1/candles/days?market=KRW-BTC"
	[ "$(jq -r 'length, .[0].candle_date_time_utc' <<<"$output" | paste -sd' ')" = "1 $today" ]
}

@test "readthru: the forming candle over https needs --cacert, as the fetcher does" {
	load tls_helpers
	make_certs "$BATS_FILE_TMPDIR/tls"
	local plain=$SIM_URL
	start_sim --rate-limit 0 --tls-cert "$BATS_FILE_TMPDIR/tls/server.pem" \
		--tls-key "$BATS_FILE_TMPDIR/tls/server.key"
	local tls="https://127.0.0.1:$SIM_PORT" today p="/v1/candles/minutes/240?market=KRW-ETH&count=2"
	today=$(date -u +%Y-%m-%d)
	start_serve "$DB" --control "ipc://$RUN/control.sock" --api-url "$tls" \
		--cacert "$BATS_FILE_TMPDIR/tls/ca.pem"
	run curl -s -m 60 -w '\n%{http_code}' "$SV_URL$p"
	[ "$(tail -n 1 <<<"$output")" = 200 ]
	head -n 1 <<<"$output" | jq -e --arg d "$today" 'length == 2 and (.[0].candle_date_time_utc | startswith($d))'
	stop_serve
	# the test CA not given: upstream is not trusted, an error and no answer
	start_serve "$DB" --control "ipc://$RUN/control.sock" --api-url "$tls"
	run curl -s -m 60 -w '\n%{http_code}' "$SV_URL$p"
	[ "$(tail -n 1 <<<"$output")" = 503 ]
	head -n 1 <<<"$output" | jq -e '.error.name == 503 and (.error.message | test("forming candle"))'
	stop_serve
	stop_sim
	SIM_URL=$plain
}

@test "readthru: a window before the listing ends in [] (the job proves it), no loop" {
	same_answer "/v1/candles/days?market=KRW-BERA&to=2026-10-25T00:00:00Z&count=10"
	[ "$(head -n 1 "$T/sv")" = "[]" ]
	[ "$COST" -eq 1 ]
	# the listing inside the window: the candles after it, fewer than count
	same_answer "/v1/candles/minutes/60?market=KRW-BERA&to=2026-11-01T05:00:00Z&count=200"
	[ "$(head -n 1 "$T/sv" | jq length)" -eq 5 ]
}

@test "readthru: /v1/gaps equals ./run.sh gaps --format json for the same range" {
	run svc_collect --market KRW-MED --timeframe 1m --from 2026-10-01T00:00:00 --to 2026-10-01T06:00:00
	[ "$status" -eq 0 ]
	run svc_collect --market KRW-BERA --timeframe 1h --from 2026-10-30T00:00:00 --to 2026-11-02T00:00:00
	[ "$status" -eq 0 ]
	local q
	for q in "KRW-MED 1m 2026-09-30T22:00:00 2026-10-01T08:00:00" \
		"KRW-MED 1m 2026-10-01T01:00:00 2026-10-01T03:00:00 5" \
		"KRW-BERA 1h 2026-10-29T00:00:00 2026-11-02T12:00:00" \
		"KRW-BTC 1m 2026-08-31T23:00:00 2026-09-01T07:00:00" \
		"KRW-NONE 1d 2026-01-01T00:00:00 2026-02-01T00:00:00"; do
		set -- $q
		run "$ROOT/run.sh" gaps --db "$DB" --market "$1" --timeframe "$2" --from "$3" \
			--to "$4" --format json ${5:+--min-length "$5"}
		[ "$status" -eq 0 ]
		echo "$output" >"$BATS_TEST_TMPDIR/cli"
		run curl -s -w '\n%{http_code}' "$SV_URL/v1/gaps?market=$1&timeframe=$2&from=$3&to=$4${5:+&min_length=$5}"
		[ "$(tail -n 1 <<<"$output")" = 200 ]
		diff <(jq -S . "$BATS_TEST_TMPDIR/cli") <(head -n 1 <<<"$output" | jq -S .)
	done
	# the sparse market has no-trade stretches, BERA a part before its listing
	run curl -s "$SV_URL/v1/gaps?market=KRW-MED&timeframe=1m&from=2026-10-01T00:00:00&to=2026-10-01T06:00:00"
	jq -e '.no_trade_stretches > 0 and .missing == []' <<<"$output"
	run curl -s "$SV_URL/v1/gaps?market=KRW-MED&timeframe=1m&from=2026-10-01&to=2026-10-02&min_length=0"
	jq -e '.error.name == 400' <<<"$output"
}

@test "readthru: with no daemon answering a miss is a 503 in Upbit's shape, not a hang" {
	start_serve "$DB" --control "ipc://$BATS_TEST_TMPDIR/nobody/control.sock" --miss-timeout-ms 1500
	local before
	before=$(candle_requests)
	run curl -s -m 20 -w '\n%{http_code}' "$SV_URL/v1/candles/minutes/1?market=KRW-BTC&to=2026-09-07T00:00:00Z&count=5"
	echo "$output"
	[ "$(tail -n 1 <<<"$output")" = 503 ]
	head -n 1 <<<"$output" | jq -e '.error.name == 503 and (.error.message | test("does not answer"))'
	[ "$(candle_requests)" -eq "$before" ]
	# the server still answers what is covered
	run curl -s -m 20 -w '\n%{http_code}' "$SV_URL/v1/candles/minutes/1?market=KRW-BTC&to=2026-09-01T05:00:00Z&count=5"
	[ "$(tail -n 1 <<<"$output")" = 200 ]
	stop_serve
}

@test "readthru: a job slower than --miss-timeout-ms is a 504 in Upbit's shape; the job goes on" {
	start_serve "$DB" --control "ipc://$RUN/control.sock" --miss-timeout-ms 50
	local p="/v1/candles/minutes/10?market=KRW-BTC&to=2026-09-08T00:00:00Z&count=100"
	run curl -s -m 20 -w '\n%{http_code}' "$SV_URL$p"
	echo "$output"
	[ "$(tail -n 1 <<<"$output")" = 504 ]
	head -n 1 <<<"$output" | jq -e '.error.name == 504 and (.error.message | test("miss-timeout"))'
	stop_serve
	# the job was not cancelled: it ends and the window is then covered
	SV_URL="http://127.0.0.1:$(<"$RUN/server.port")"
	wait_for bash -c "curl -s '$SV_URL/v1/coverage?market=KRW-BTC&timeframe=10m&from=2026-09-07T07:20:00&to=2026-09-08T00:00:00' | jq -e '.ratio == 1' >/dev/null"
	same_answer "$p"
	[ "$COST" -eq 0 ]
}

@test "readthru: without --control a miss stays a 503 and nothing is sent upstream" {
	start_serve "$DB"
	local before
	before=$(candle_requests)
	run curl -s -m 20 -w '\n%{http_code}' "$SV_URL/v1/candles/minutes/1?market=KRW-BTC&to=2026-09-09T00:00:00Z&count=5"
	[ "$(tail -n 1 <<<"$output")" = 503 ]
	head -n 1 <<<"$output" | jq -e '.error.message | test("not collected")'
	run curl -s -m 20 -w '\n%{http_code}' "$SV_URL/v1/candles/days?market=KRW-BTC"
	[ "$(tail -n 1 <<<"$output")" = 503 ]
	[ "$(candle_requests)" -eq "$before" ]
	stop_serve
}

# last: it freezes and kills the service's planner (the supervisor starts it again)
@test "readthru: a miss whose daemon is killed (SIGKILL) mid-job (frozen first) is waited for and submitted again, then equals the truth" {
	local r="$BATS_TEST_TMPDIR/range" old rc=0
	local q="market=KRW-XRP&timeframe=1m&from=2026-09-20T00:00:00&to=2026-09-24T00:00:00"
	start_serve "$DB" --control "ipc://$RUN/control.sock" --miss-timeout-ms 60000
	curl -s -m 90 -w '%{http_code}\n' "$SV_URL/v1/candles/range?$q" >"$r" &
	local c=$!
	# once some of the window is stored, the daemon stops answering (longer
	# than a request's 3 s wait), then dies; the supervisor starts it again,
	# and its job ids start again at 1, so the old id is nobody's (or another
	# job's)
	wait_for eval '[ "$(sqlite3 "$DB" "SELECT COUNT(*) FROM candles_exact WHERE market = '"'KRW-XRP'"'" 2>/dev/null || echo 0)" -gt 0 ]'
	old=$(awk '$1 == "planner" { print $2 }' "$RUN/service.procs")
	kill -STOP "$old"
	sleep 4
	kill -KILL "$old"
	wait "$c" || rc=$?
	[ "$rc" -eq 0 ]
	tail -n 1 "$r"
	[ "$(tail -n 1 "$r")" = 200 ]
	diff <(truth KRW-XRP 1m 2026-09-20T00:00:00 2026-09-24T00:00:00) <(sed '$d' "$r")
	grep "the daemon restarted: job .* is gone; submitting it again" "$SV_LOG"
	stop_serve
}
