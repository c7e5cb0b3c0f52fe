#!/usr/bin/env bats
# cp-serve (serve/, issue 13): the Upbit-compatible HTTP API over a database
# the pipeline collected from the simulator, compared with the simulator's
# own answer to the same request (status and body, byte for byte: every
# field, the exact decimals, the error bodies); a covered request costs the
# simulator nothing, an uncovered one is a 503.

load pipeline_helpers
load serve_helpers
bats_require_minimum_version 1.5.0

# the collected ranges (setup_file); requests below stay inside them
SEC_FROM=$(date -u -d "@$(( $(date +%s) / 60 * 60 - 7200 ))" +%Y-%m-%dT%H:%M:%S)
SEC_TO=$(date -u -d "@$(( $(date +%s) / 60 * 60 - 6600 ))" +%Y-%m-%dT%H:%M:%S)
SEC_MID=$(date -u -d "@$(( $(date +%s) / 60 * 60 - 6900 ))" +%Y-%m-%dT%H:%M:%S)

setup_file() {
	load pipeline_helpers
	load serve_helpers
	start_file_sim --rate-limit 0
	DB="$BATS_FILE_TMPDIR/s.db"
	local c
	for c in "KRW-BTC,KRW-ETH 1m 2026-10-01T00:00:00 2026-10-01T12:00:00" \
		"KRW-BTC 1m,3m,5m,10m 2026-09-29T00:00:00 2026-10-01T00:00:00" \
		"KRW-BTC 15m,30m,1h,4h 2026-08-20T00:00:00 2026-10-01T00:00:00" \
		"KRW-MED 1m 2026-10-01T00:00:00 2026-10-02T00:00:00" \
		"KRW-BTC,USDT-BTC 1d 2026-03-01 2026-10-01" \
		"KRW-BTC 1w,1M 2025-01-01 2026-10-01" \
		"KRW-BTC 1y 2018-01-01 2026-01-01" \
		"KRW-BERA 1d,1h 2026-10-20 2026-11-03" \
		"KRW-BTC 1s $SEC_FROM $SEC_TO"; do
		set -- $c
		"$ROOT/run.sh" collect --api-url "http://127.0.0.1:$(<"$BATS_FILE_TMPDIR/sim.port")" \
			--run-dir "$BATS_FILE_TMPDIR/run" --db "$DB" --market "$1" --timeframe "$2" \
			--from "$3" --to "$4" --rate 0 --quiet 3>&- || return 1
	done
	start_serve "$DB"
	echo "$SV_URL" >"$BATS_FILE_TMPDIR/sv.url"
}

teardown_file() {
	load sim_helpers
	load serve_helpers
	stop_all_serves
	stop_all_sims
}

setup() {
	use_file_sim
	DB="$BATS_FILE_TMPDIR/s.db"
	SV_URL=$(<"$BATS_FILE_TMPDIR/sv.url")
}

# same_as_sim PATH...: each answer of cp-serve equals the simulator's, status
# and body byte for byte; the serve answers are all taken first, and the
# simulator must not have seen a candle request meanwhile
same_as_sim() {
	local p i=0 before after
	before=$(curl -s "$SIM_URL/__sim/stats" | jq .requests)
	for p in "$@"; do
		sv_get "$p" >"$BATS_TEST_TMPDIR/sv.$i"
		i=$((i + 1))
	done
	after=$(curl -s "$SIM_URL/__sim/stats" | jq .requests)
	# the stats request itself is not counted in requests
	[ "$before" -eq "$after" ] || { echo "the simulator saw $((after - before)) requests"; return 1; }
	i=0
	for p in "$@"; do
		curl -s -w '\n%{http_code}' "$SIM_URL$p" >"$BATS_TEST_TMPDIR/sim.$i"
		if ! cmp -s "$BATS_TEST_TMPDIR/sim.$i" "$BATS_TEST_TMPDIR/sv.$i"; then
			echo "differs: $p"
			diff <(head -c 600 "$BATS_TEST_TMPDIR/sim.$i") <(head -c 600 "$BATS_TEST_TMPDIR/sv.$i") || true
			return 1
		fi
		i=$((i + 1))
	done
}

@test "serve: every candle route with market, to and count equals the simulator" {
	local paths=() u
	for u in 1 3 5 10 15 30 60 240; do
		paths+=("/v1/candles/minutes/$u?market=KRW-BTC&to=2026-09-30T12:00:00Z&count=200")
		paths+=("/v1/candles/minutes/$u?market=KRW-BTC&to=2026-09-30T12:07:31&count=7")
	done
	paths+=(
		"/v1/candles/minutes/1?market=KRW-BTC&to=2026-10-01T06:00:00Z&count=200"
		"/v1/candles/minutes/1?market=KRW-ETH&to=2026-10-01T11:00:00.000Z&count=300"
		"/v1/candles/minutes/1?market=KRW-BTC&to=2026-10-01T06:00:00.500Z"
		"/v1/candles/minutes/1?market=KRW-BTC&to=2026-10-01%2006:00:00&count=2"
		"/v1/candles/minutes/1?market=KRW-BTC&to=2026-10-01T15:00:00%2B09:00&count=3"
		"/v1/candles/minutes/1?market=KRW-BTC&to=2026-10-01T05:30:00-01:00&count=+4"
		"/v1/candles/minutes/1?market=KRW-MED&to=2026-10-01T23:00:00Z&count=200"
		"/v1/candles/minutes/1?market=KRW-MED&to=2026-10-01T03:00:00Z&count=50"
		"/v1/candles/days?market=KRW-BTC&to=2026-09-30T00:00:00Z&count=200"
		"/v1/candles/days?market=USDT-BTC&to=2026-09-15T09:00:00%2B09:00&count=20"
		"/v1/candles/days?market=KRW-BTC&to=2026-09-10T00:00:00&count=5&converting_price_unit=USD"
		"/v1/candles/weeks?market=KRW-BTC&to=2026-09-28T00:00:00Z&count=60"
		"/v1/candles/months?market=KRW-BTC&to=2026-09-01T00:00:00Z&count=20"
		"/v1/candles/years?market=KRW-BTC&to=2026-01-01T00:00:00Z&count=8"
		"/v1/candles/seconds?market=KRW-BTC&to=${SEC_MID}Z&count=200"
		"/v1/candles/seconds?market=KRW-BTC&to=${SEC_TO}&count=30"
		# a recent listing: fewer than count, then nothing before it
		"/v1/candles/days?market=KRW-BERA&to=2026-11-03T00:00:00Z&count=200"
		"/v1/candles/days?market=KRW-BERA&to=2026-10-25T00:00:00Z&count=10"
		"/v1/candles/minutes/60?market=KRW-BERA&to=2026-11-01T05:00:00Z&count=200"
	)
	same_as_sim "${paths[@]}"
	# the answers hold what was asked for, not two identical errors
	[ "$(head -n 1 "$BATS_TEST_TMPDIR/sv.0" | jq length)" -eq 200 ]
	[ "$(head -n 1 "$BATS_TEST_TMPDIR/sv.17" | jq length)" -eq 200 ]
	[ "$(head -n 1 "$BATS_TEST_TMPDIR/sv.27" | jq -r '.[0].first_day_of_period')" = 2026-09-21 ]
	[ "$(head -n 1 "$BATS_TEST_TMPDIR/sv.32" | jq length)" -eq 2 ]
	[ "$(head -n 1 "$BATS_TEST_TMPDIR/sv.33")" = "[]" ]
	[ "$(tail -n 1 "$BATS_TEST_TMPDIR/sv.33")" = 200 ]
}

@test "serve: bad parameters and unknown routes get the simulator's error bodies" {
	same_as_sim \
		"/v1/candles/minutes/2?market=KRW-BTC&to=2026-10-01T06:00:00Z" \
		"/v1/candles/minutes/120?count=abc" \
		"/v1/candles/minutes/1?to=2026-10-01T06:00:00Z" \
		"/v1/candles/minutes/1?market=&to=2026-10-01T06:00:00Z" \
		"/v1/candles/minutes/1?market=KRW-BTC&count=abc&to=2026-10-01T06:00:00Z" \
		"/v1/candles/minutes/1?market=KRW-BTC&count=&to=2026-10-01T06:00:00Z" \
		"/v1/candles/minutes/1?market=KRW-BTC&count=0&to=2026-10-01T06:00:00Z" \
		"/v1/candles/minutes/1?market=KRW-BTC&count=-5&to=2026-10-01T06:00:00Z" \
		"/v1/candles/minutes/1?market=KRW-BTC&count=1.5&to=2026-10-01T06:00:00Z" \
		"/v1/candles/minutes/1?market=KRW-BTC&to=2026-10-01" \
		"/v1/candles/minutes/1?market=KRW-BTC&to=2026-10-01T06:00:00+09:00" \
		"/v1/candles/minutes/1?market=KRW-BTC&to=2026-13-01T06:00:00Z" \
		"/v1/candles/minutes/1?market=KRW-BTC&to=2026-10-01T06:00:00.Z" \
		"/v1/candles/minutes/1?market=KRW-BTC&to=yesterday" \
		"/v1/candles/days?market=KRW-NOPE&to=2026-09-01T00:00:00Z" \
		"/v1/candles/minutes" "/v1/candles/minutes/1/2?market=KRW-BTC" "/v1/candles" \
		"/v1/ticker?markets=KRW-BTC" "/favicon.ico" "/v2/candles/days?market=KRW-BTC" \
		"/v1/market/all?is_details=maybe"
	grep -q '"name":400,"message":"specified unit is not valid."' "$BATS_TEST_TMPDIR/sv.0"
	grep -q '"name":404,"message":"Code not found"' "$BATS_TEST_TMPDIR/sv.14"
}

@test "serve: /v1/market/all is the collected market list" {
	run sv_get /v1/market/all
	[ "$(tail -n 1 <<<"$output")" = 200 ]
	diff <(head -n 1 <<<"$output" | jq -S 'sort_by(.market)') \
		<(curl -s "$SIM_URL/v1/market/all" | jq -S 'sort_by(.market)')
	run sv_get "/v1/market/all?isDetails=false"
	diff <(head -n 1 <<<"$output" | jq -S 'sort_by(.market)') \
		<(curl -s "$SIM_URL/v1/market/all" | jq -S 'sort_by(.market)')
	# the collector does not ask for the details: not collected, said so
	run sv_get "/v1/market/all?is_details=true"
	[ "$(tail -n 1 <<<"$output")" = 503 ]
	head -n 1 <<<"$output" | jq -e '.error.name == 503 and (.error.message | test("not collected"))'
}

@test "serve: a window the ledger does not prove is a 503 and costs the simulator nothing" {
	local before p
	before=$(curl -s "$SIM_URL/__sim/stats" | jq .requests)
	for p in \
		"/v1/candles/minutes/1?market=KRW-BTC" \
		"/v1/candles/minutes/1?market=KRW-BTC&count=5" \
		"/v1/candles/minutes/1?market=KRW-BTC&to=2099-01-01T00:00:00Z" \
		"/v1/candles/minutes/1?market=KRW-BTC&to=2026-10-01T12:00:01Z&count=5" \
		"/v1/candles/minutes/1?market=KRW-ETH&to=2026-10-01T00:30:00Z&count=31" \
		"/v1/candles/minutes/1?market=KRW-BTC&to=2026-09-01T00:00:00Z" \
		"/v1/candles/minutes/1?market=KRW-XRP&to=2026-10-01T06:00:00Z" \
		"/v1/candles/days?market=KRW-BTC&to=2026-03-05T00:00:00Z&count=10" \
		"/v1/candles/days?market=KRW-BTC&to=2026-09-10T00:00:00Z&count=2&converting_price_unit=KRW"; do
		run sv_get "$p"
		echo "$p: $output"
		[ "$(tail -n 1 <<<"$output")" = 503 ]
		head -n 1 <<<"$output" | jq -e '.error.name == 503 and (.error.message | test("not collected|forming"))'
	done
	# a window that ends exactly where the coverage starts is still proven
	run sv_get "/v1/candles/minutes/1?market=KRW-ETH&to=2026-10-01T00:30:00Z&count=30"
	[ "$(tail -n 1 <<<"$output")" = 200 ]
	[ "$(curl -s "$SIM_URL/__sim/stats" | jq .requests)" -eq "$before" ]
}

@test "serve: /v1/candles/range streams a covered range as the truth, else 503" {
	run curl -s -o "$BATS_TEST_TMPDIR/med" -w '%{http_code} %{content_type}' \
		"$SV_URL/v1/candles/range?market=KRW-MED&timeframe=1m&from=2026-10-01T00:00:00&to=2026-10-02T00:00:00"
	[[ "$output" == "200 application/x-ndjson"* ]]
	diff <(truth KRW-MED 1m 2026-10-01T00:00:00 2026-10-02T00:00:00) "$BATS_TEST_TMPDIR/med"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/med")" -lt 1440 ] # sparse: gaps are real
	# longer than one page, unaligned bounds round up, a KST offset
	curl -s "$SV_URL/v1/candles/range?market=KRW-BTC&timeframe=1m&from=2026-10-01T08:59:30%2B09:00&to=2026-10-01T11:00:00Z" \
		>"$BATS_TEST_TMPDIR/r"
	diff <(truth KRW-BTC 1m 2026-10-01T00:00:00 2026-10-01T11:00:00) "$BATS_TEST_TMPDIR/r"
	curl -s "$SV_URL/v1/candles/range?market=KRW-BTC&timeframe=1w&from=2025-01-06&to=2026-09-28" \
		| diff <(truth KRW-BTC 1w 2025-01-06 2026-09-28) -
	run sv_get "/v1/candles/range?market=KRW-BTC&timeframe=1m&from=2026-10-01T11:00:00&to=2026-10-01T13:00:00"
	[ "$(tail -n 1 <<<"$output")" = 503 ]
	run sv_get "/v1/candles/range?market=KRW-BTC&timeframe=7m&from=2026-10-01&to=2026-10-02"
	[ "$(tail -n 1 <<<"$output")" = 400 ]
	head -n 1 <<<"$output" | jq -e '.error.message | test("timeframe")'
	run sv_get "/v1/candles/range?market=KRW-BTC&timeframe=1m&from=2026-10-01"
	[ "$(tail -n 1 <<<"$output")" = 400 ]
}

@test "serve: /v1/coverage gives the ratio and the missing ranges" {
	run sv_get "/v1/coverage?market=KRW-ETH&timeframe=1m&from=2026-09-30T23:00:00Z&to=2026-10-01T13:00:00Z"
	[ "$(tail -n 1 <<<"$output")" = 200 ]
	head -n 1 <<<"$output" | jq -e '.slots == 840 and .covered_slots == 720 and .missing_slots == 120'
	head -n 1 <<<"$output" | jq -e '.missing == [
		{"from":"2026-09-30T23:00:00","to":"2026-10-01T00:00:00","slots":60},
		{"from":"2026-10-01T12:00:00","to":"2026-10-01T13:00:00","slots":60}]'
	head -n 1 <<<"$output" | jq -e '(.ratio * 1000 | floor) == 857'
	run sv_get "/v1/coverage?market=KRW-BTC&timeframe=1m&from=2026-10-01T01:00:00&to=2026-10-01T02:00:00"
	head -n 1 <<<"$output" | jq -e '.ratio == 1 and .missing == []'
	# before the listing nothing is missing
	run sv_get "/v1/coverage?market=KRW-BERA&timeframe=1d&from=2026-10-01&to=2026-11-03"
	head -n 1 <<<"$output" | jq -e '.ratio == 1 and .history_start == "2026-11-01T00:00:00" and .before_history_slots == 31'
	run sv_get "/v1/coverage?market=KRW-BTC&timeframe=1m&from=nope&to=2026-10-01"
	[ "$(tail -n 1 <<<"$output")" = 400 ]
}

@test "serve: healthz, readyz, metrics by route and outcome, 405 for other methods" {
	run sv_get /healthz
	[ "$(tail -n 1 <<<"$output")" = 200 ]
	run sv_get /readyz
	[ "$(tail -n 1 <<<"$output")" = 200 ]
	local m0 m1
	m0=$(curl -s "$SV_URL/metrics")
	curl -s "$SV_URL/v1/candles/minutes/1?market=KRW-BTC&to=2026-10-01T06:00:00Z" >/dev/null
	curl -s "$SV_URL/v1/candles/minutes/1?market=KRW-BTC" >/dev/null
	curl -s "$SV_URL/v1/candles/minutes/1?count=3" >/dev/null
	m1=$(curl -s "$SV_URL/metrics")
	for o in hit miss error; do
		a=$(grep "^cp_serve_requests_total{route=\"candles\",outcome=\"$o\"}" <<<"$m0" | cut -d' ' -f2)
		b=$(grep "^cp_serve_requests_total{route=\"candles\",outcome=\"$o\"}" <<<"$m1" | cut -d' ' -f2)
		[ "$b" -eq $((a + 1)) ]
	done
	grep -q '^cp_serve_request_duration_seconds_bucket{route="candles",outcome="hit",le="+Inf"}' <<<"$m1"
	grep -q '^# TYPE cp_serve_request_duration_seconds histogram' <<<"$m1"
	run sv_get /v1/market/all -X POST -d 'x=1'
	[ "$(tail -n 1 <<<"$output")" = 405 ]
	head -n 1 <<<"$output" | jq -e '.error.name == 405'
	run curl -s -o /dev/null -w '%{http_code}' -X DELETE "$SV_URL/v1/candles/days"
	[ "$output" = 405 ]
}

@test "serve: an oversized request or a slow client gets an error and never stalls the server" {
	local big
	big=$(head -c 40000 /dev/zero | tr '\0' a)
	run curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $big" "$SV_URL/healthz"
	[ "$output" -ge 400 ]
	run curl -s -o "$BATS_TEST_TMPDIR/long" -w '%{http_code}' "$SV_URL/v1/candles/days?market=$(head -c 3000 /dev/zero | tr '\0' b)"
	[ "$output" = 414 ]
	jq -e '.error.name == 414' "$BATS_TEST_TMPDIR/long"
	# three clients that send half a request and wait
	local port=${SV_URL##*:} i
	for i in 1 2 3; do
		exec {fd}<>"/dev/tcp/127.0.0.1/$port"
		printf 'GET /v1/candles/days?market=KRW-BTC HTTP/1.1\r\nHost: x\r\n' >&"$fd"
		eval "fd$i=$fd"
	done
	run curl -s -m 5 -o /dev/null -w '%{http_code}' "$SV_URL/v1/candles/days?market=KRW-BTC&to=2026-09-10T00:00:00Z"
	[ "$output" = 200 ]
	exec {fd1}>&- {fd2}>&- {fd3}>&-
}

@test "serve: a non-loopback listen needs a token; with one every route but healthz wants it" {
	run -2 "$SV_BIN" --db "$DB" --listen 0.0.0.0:0
	[[ "$output" == *"not a loopback address"*"--token-file"* ]]
	run -2 "$SV_BIN" --db "$DB" --listen "[::]:0"
	run -2 "$SV_BIN" --db "$DB" --listen 10.1.2.3:8765
	echo "" >"$BATS_TEST_TMPDIR/empty"
	run -2 "$SV_BIN" --db "$DB" --listen 127.0.0.1:0 --token-file "$BATS_TEST_TMPDIR/empty"
	run -2 "$SV_BIN" --db "$DB" --listen 127.0.0.1:0 --token-file "$BATS_TEST_TMPDIR/none"
	echo "s3cret-token-for-tests" >"$BATS_TEST_TMPDIR/tok"
	start_serve "$DB" --token-file "$BATS_TEST_TMPDIR/tok"
	local p="/v1/candles/days?market=KRW-BTC&to=2026-09-10T00:00:00Z&count=3"
	run sv_get "$p"
	[ "$(tail -n 1 <<<"$output")" = 401 ]
	head -n 1 <<<"$output" | jq -e '.error.name == 401'
	run sv_get "$p" -H "Authorization: Bearer wrong-token-for-tests!"
	[ "$(tail -n 1 <<<"$output")" = 401 ]
	run sv_get "$p" -H "Authorization: Bearer s3cret-token-for-tests"
	[ "$(tail -n 1 <<<"$output")" = 200 ]
	[ "$(head -n 1 <<<"$output")" = "$(curl -s "$SIM_URL$p")" ]
	run sv_get /healthz
	[ "$(tail -n 1 <<<"$output")" = 200 ]
	run sv_get /metrics
	[ "$(tail -n 1 <<<"$output")" = 401 ]
	stop_serve
}

@test "serve: usage errors exit 2, a database that is not candlepipe's exits 3" {
	run -2 "$SV_BIN"
	[[ "$output" == *"--db"* ]]
	run -2 "$SV_BIN" --db "$DB" --listen nonsense
	run -2 "$SV_BIN" --db "$DB" --listen 127.0.0.1:99999
	run -2 "$SV_BIN" --db "$DB" --bogus
	run -2 "$SV_BIN" --db "$DB" --port-file /dev/null
	run -0 "$SV_BIN" --help
	[[ "$output" == *"usage: cp-serve"* ]]
	run -3 "$SV_BIN" --db "$BATS_TEST_TMPDIR/missing.db" --listen 127.0.0.1:0
	[[ "$output" == *"does not exist"* ]]
	sqlite3 "$BATS_TEST_TMPDIR/other.db" "CREATE TABLE t(x)"
	run -3 "$SV_BIN" --db "$BATS_TEST_TMPDIR/other.db" --listen 127.0.0.1:0
	cmp <(sqlite3 "$BATS_TEST_TMPDIR/other.db" .dump) <(echo 'PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE t(x);
COMMIT;')
	echo "not sqlite" >"$BATS_TEST_TMPDIR/text.db"
	run -3 "$SV_BIN" --db "$BATS_TEST_TMPDIR/text.db" --listen 127.0.0.1:0
}

@test "serve: a 444 database in a read-only directory is served, and never written" {
	RO="$BATS_TEST_TMPDIR/ro"
	mkdir "$RO"
	sqlite3 "$DB" "VACUUM INTO '$RO/c.db'"
	chmod 444 "$RO/c.db"
	chmod 555 "$RO"
	local sum
	sum=$(md5sum <"$RO/c.db")
	start_serve "$RO/c.db"
	run sv_get "/v1/candles/minutes/1?market=KRW-BTC&to=2026-10-01T06:00:00Z&count=200"
	chmod 755 "$RO"
	[ "$(tail -n 1 <<<"$output")" = 200 ]
	[ "$(head -n 1 <<<"$output")" = "$(curl -s "$SIM_URL/v1/candles/minutes/1?market=KRW-BTC&to=2026-10-01T06:00:00Z&count=200")" ]
	stop_serve
	[ "$(md5sum <"$RO/c.db")" = "$sum" ]
	[ "$(ls -a "$RO" | tr '\n' ' ')" = ". .. c.db " ]
}

@test "serve: ccxt fetchOHLCV through cp-serve equals ccxt against the simulator" {
	local dir=${CCXT_DIR:-/tmp/candlepipe-ccxt}
	[ -d "$dir/node_modules/ccxt" ] || skip "ccxt is not installed in $dir/node_modules (bench/ccxt_bench.sh installs it; needs npm)"
	command -v node >/dev/null || skip "node is not installed"
	cat >"$BATS_TEST_TMPDIR/c.js" <<'JS'
const ccxt = require(require.resolve('ccxt', { paths: [process.argv[2]] }));
(async () => {
	const ex = new ccxt.upbit({ enableRateLimit: false,
		urls: { api: { public: process.argv[3], private: process.argv[3] } } });
	let out = [], since = Date.UTC(2026, 9, 1, 0, 0, 0);
	const end = Date.UTC(2026, 9, 1, 10, 0, 0);
	while (since < end) {
		const page = await ex.fetchOHLCV('BTC/KRW', '1m', since, 200);
		out = out.concat(page);
		since += 200 * 60000;
	}
	console.log(JSON.stringify(out.filter((c) => c[0] < end)));
})().catch((e) => { console.error(String(e)); process.exit(1); });
JS
	node "$BATS_TEST_TMPDIR/c.js" "$dir" "$SIM_URL" >"$BATS_TEST_TMPDIR/direct"
	node "$BATS_TEST_TMPDIR/c.js" "$dir" "$SV_URL" >"$BATS_TEST_TMPDIR/served"
	[ "$(jq length "$BATS_TEST_TMPDIR/direct")" -eq 600 ]
	cmp "$BATS_TEST_TMPDIR/direct" "$BATS_TEST_TMPDIR/served"
}

# The answer cache (serve/cache.c) keeps the finished answer of a proven
# window of `count` candles; nothing else may come from it.
@test "serve: the answer cache never keeps a 503: a window collected while serving is then answered with its candles" {
	local db="$BATS_TEST_TMPDIR/grow.db" p q i
	"$ROOT/run.sh" collect --api-url "$SIM_URL" --run-dir "$BATS_TEST_TMPDIR/run" --db "$db" \
		--market KRW-ETH --timeframe 1m --from 2026-10-05T00:00:00 --to 2026-10-05T06:00:00 \
		--rate 0 --quiet 3>&-
	start_serve "$db"
	# past the coverage's end, and across it: 503, asked twice each
	p="/v1/candles/minutes/1?market=KRW-ETH&to=2026-10-05T09:00:00Z&count=200"
	q="/v1/candles/minutes/1?market=KRW-ETH&to=2026-10-05T06:30:00Z&count=60"
	for i in 1 2; do
		run sv_get "$p"
		[ "$(tail -n 1 <<<"$output")" = 503 ]
		run sv_get "$q"
		[ "$(tail -n 1 <<<"$output")" = 503 ]
	done
	# a proven window, asked before the collection too
	run sv_get "/v1/candles/minutes/1?market=KRW-ETH&to=2026-10-05T05:00:00Z&count=200"
	[ "$(tail -n 1 <<<"$output")" = 200 ]
	"$ROOT/run.sh" collect --api-url "$SIM_URL" --run-dir "$BATS_TEST_TMPDIR/run" --db "$db" \
		--market KRW-ETH --timeframe 1m --from 2026-10-05T06:00:00 --to 2026-10-05T12:00:00 \
		--rate 0 --quiet 3>&-
	# now proven: the simulator's answer, byte for byte, every time
	for i in 1 2 3; do
		same_as_sim "$p" "$q" "/v1/candles/minutes/1?market=KRW-ETH&to=2026-10-05T05:00:00Z&count=200"
	done
	stop_serve
}

@test "serve: cached answers (repeated, HEAD, other spellings of one to) equal an uncached server's byte for byte" {
	local paths=(
		"/v1/candles/minutes/1?market=KRW-BTC&to=2026-10-01T12:00:00Z&count=200"
		"/v1/candles/minutes/1?market=KRW-BTC&to=2026-10-01T21:00:00%2B09:00&count=200"
		"/v1/candles/minutes/1?market=KRW-BTC&to=2026-10-01T11:59:59.500Z&count=200"
		"/v1/candles/minutes/1?market=KRW-BTC&to=2026-10-01T12:00:00Z&count=199"
		"/v1/candles/minutes/1?market=KRW-ETH&to=2026-10-01T12:00:00Z&count=200"
		"/v1/candles/minutes/10?market=KRW-BTC&to=2026-10-01T00:00:00Z&count=200"
		"/v1/candles/days?market=KRW-BTC&to=2026-09-10T00:00:00Z&count=5"
		"/v1/candles/days?market=KRW-BTC&to=2026-09-10T00:00:00Z&count=5&converting_price_unit=KRW"
		"/v1/candles/minutes/1?market=KRW-ETH&to=2026-10-01T00:30:00Z&count=31"
		"/v1/candles/minutes/1?market=KRW-ETH&to=2026-10-01T00:30:00Z&count=30"
	) cached=$SV_URL p i round
	start_serve "$DB" --cache-mb 0
	i=0
	for p in "${paths[@]}"; do
		curl -s -w '\n%{http_code}' "$SV_URL$p" >"$BATS_TEST_TMPDIR/plain.$i"
		curl -s -I "$SV_URL$p" | grep -iv '^date:' >"$BATS_TEST_TMPDIR/plainh.$i"
		i=$((i + 1))
	done
	stop_serve
	for round in 1 2 3; do
		i=0
		for p in "${paths[@]}"; do
			# a HEAD first: it may be what fills the cache
			curl -s -I "$cached$p" | grep -iv '^date:' >"$BATS_TEST_TMPDIR/ch"
			cmp "$BATS_TEST_TMPDIR/plainh.$i" "$BATS_TEST_TMPDIR/ch" || { echo "HEAD differs ($round): $p"; return 1; }
			curl -s -w '\n%{http_code}' "$cached$p" >"$BATS_TEST_TMPDIR/c"
			cmp "$BATS_TEST_TMPDIR/plain.$i" "$BATS_TEST_TMPDIR/c" || { echo "differs ($round): $p"; return 1; }
			i=$((i + 1))
		done
	done
	# the ones that are 200 with count candles are the simulator's too
	SV_URL=$cached
	same_as_sim "${paths[0]}" "${paths[4]}" "${paths[5]}"
}
