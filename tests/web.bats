#!/usr/bin/env bats
# The web page and its API (issue 16, /v1/jobs of issue 13): cp-serve's
# /v1/jobs, /v1/whoami, /v1/coverage without a market, /v1/events, and the
# page itself in a real headless Chromium (Debian's chromium driven through
# chromedriver by tests/web/check.py, python3's standard library only).
# Every test starts its own simulator and service (./run.sh start --listen
# 127.0.0.1:0) and collects two markets with a hole made on purpose
# (00:00-06:00 and 09:00-12:00 of 2026-11-01, 1m), then stops both. The
# browser tests save a screenshot in $BATS_TEST_TMPDIR and tests/artifacts/.

load pipeline_helpers
load serve_helpers

DAY=2026-11-01
HOLE_FROM=${DAY}T06:00:00Z HOLE_TO=${DAY}T09:00:00Z

setup() {
	RUN="$BATS_TEST_TMPDIR/run" DB="$BATS_TEST_TMPDIR/d.db"
}

teardown() {
	"$ROOT/run.sh" stop --db "$DB" --run-dir "$RUN" >/dev/null 2>&1 3>&- || true
	stop_all_serves
	stop_sim
}

svc() { # COMMAND ARGS...: a run.sh service command on $DB, $RUN
	local c=$1
	shift
	"$ROOT/run.sh" "$c" --db "$DB" --run-dir "$RUN" "$@" 3>&-
}

need_browser() {
	[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] ||
		skip "no /usr/bin/chromium or /usr/bin/chromedriver (apt-get install chromium chromium-driver)"
}

# with_hole [upbit-sim options]: simulator, service, and KRW-BTC and KRW-ETH
# 1m collected with the hole [HOLE_FROM, HOLE_TO)
with_hole() {
	start_sim --rate-limit 0 "$@"
	svc start --api-url "$SIM_URL" --rate 0 --listen 127.0.0.1:0 >/dev/null
	URL="http://127.0.0.1:$(cat "$RUN/server.port")"
	svc collect --market KRW-BTC,KRW-ETH --timeframe 1m --from "${DAY}T00:00:00Z" \
		--to "$HOLE_FROM" >/dev/null 2>&1
	svc collect --market KRW-BTC,KRW-ETH --timeframe 1m --from "$HOLE_TO" \
		--to "${DAY}T12:00:00Z" >/dev/null 2>&1
}

# browser CHECK ARGS...: tests/web/check.py CHECK on the page, its
# screenshot kept; status and output as bats' run
browser() {
	local what=$1 shot="$BATS_TEST_TMPDIR/web-$1.png"
	shift
	run timeout 300 python3 "$ROOT/tests/web/check.py" "$what" --url "$URL/" --shot "$shot" "$@" 3>&-
	echo "$output"
	mkdir -p "$ROOT/tests/artifacts"
	[ ! -f "$shot" ] || cp "$shot" "$ROOT/tests/artifacts/"
}

covered() { # M: the coverage rows of M 1m, one line
	sqlite3 "$DB" "SELECT group_concat(from_utc || '..' || to_utc, ' ') FROM coverage
		WHERE market = '$1' AND timeframe = '1m'"
}

@test "web: /v1/coverage without a market lists every series with its ranges and per-bucket candle counts" {
	with_hole
	run curl -sf "$URL/v1/coverage?buckets=4&from=${DAY}T00:00:00Z&to=${DAY}T12:00:00Z"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(jq -r '.series | map(.market + " " + .timeframe) | join(",")' <<<"$output")" = "KRW-BTC 1m,KRW-ETH 1m" ]
	[ "$(jq -c '.series[0].covered' <<<"$output")" = "[[\"${DAY}T00:00:00Z\",\"$HOLE_FROM\"],[\"$HOLE_TO\",\"${DAY}T12:00:00Z\"]]" ]
	# 3-hour buckets: the third is the hole, the others hold one candle a minute
	# only where the simulator has trades
	[ "$(jq '.bucket_seconds' <<<"$output")" -eq 10800 ]
	[ "$(jq '.series[0].counts[2]' <<<"$output")" -eq 0 ]
	n=$(sqlite3 "$DB" "SELECT count(*) FROM candles_exact WHERE market = 'KRW-BTC'
		AND candle_date_time_utc >= '${DAY}T09:00:00' AND candle_date_time_utc < '${DAY}T12:00:00'")
	[ "$(jq '.series[0].counts[3]' <<<"$output")" -eq "$n" ]
	run curl -s "$URL/v1/coverage?buckets=x"
	[[ "$output" == '{"error":{"name":400,"message":"Invalid parameter: buckets'* ]]
}

@test "web: the map's span starts at the history start of a market listed later, not at 1970" {
	start_sim --rate-limit 0
	# KRW-BERA is listed during this day: its coverage row starts at the epoch
	collect --db "$DB" --market KRW-BERA,KRW-BTC --timeframe 1m --from 2026-10-19T00:00:00Z \
		--to 2026-10-20T00:00:00Z
	start_serve "$DB"
	hist=$(sqlite3 "$DB" "SELECT first_utc FROM history_start WHERE market = 'KRW-BERA'")
	[[ "$hist" > 2026-10-19T00:00:00 ]]
	[ "$(sqlite3 "$DB" "SELECT min(from_utc) FROM coverage")" = 1970-01-01T00:00:00 ]
	run curl -s "$SV_URL/v1/coverage"
	echo "$output"
	[ "$(jq -r .from <<<"$output")" = 2026-10-19T00:00:00Z ]
	[ "$(jq -r '.series[] | select(.market == "KRW-BERA") | .history_start' <<<"$output")" = "${hist}Z" ]
}

@test "web: POST /v1/jobs submits a job that fills the hole; GET lists it; DELETE of an ended job is refused" {
	with_hole
	run curl -s -w '\n%{http_code}' -X POST \
		"$URL/v1/jobs?market=KRW-BTC&timeframe=1m&from=$HOLE_FROM&to=$HOLE_TO"
	echo "$output"
	[ "${lines[1]}" = 202 ]
	id=$(jq .id <<<"${lines[0]}")
	[ "$(jq -r .state <<<"${lines[0]}")" = queued ]
	wait_for sh -c "curl -s '$URL/v1/jobs' | jq -e '.jobs[] | select(.id == $id and .state == \"done\")'"
	run curl -s "$URL/v1/jobs"
	[ "$(jq -c ".jobs[] | select(.id == $id) | [.slots_done, .slots_total, .targets[0].market]" <<<"$output")" = '[180,180,"KRW-BTC"]' ]
	[ "$(covered KRW-BTC)" = "${DAY}T00:00:00..${DAY}T12:00:00" ]
	run curl -s -w '\n%{http_code}' -X DELETE "$URL/v1/jobs/$id"
	[ "${lines[1]}" = 400 ]
	[[ "${lines[0]}" == *"already done"* ]]
	run curl -s -X POST "$URL/v1/jobs?market=KRW-BTC&timeframe=7m&from=$HOLE_FROM"
	[[ "$output" == '{"error":{"name":400,"message":"Invalid parameter: timeframe'* ]]
	run curl -s -w ' %{http_code}' -X PUT "$URL/v1/jobs"
	[[ "$output" == *' 405' ]]
	[ "$(curl -s "$URL/v1/whoami" | jq -c .)" = '{"can_write":true,"control":true,"events":true}' ]
}

@test "web: without --control, /v1/jobs answers 503 in Upbit's shape" {
	start_sim --rate-limit 0
	collect --db "$DB" --market KRW-BTC --timeframe 1m --from "${DAY}T00:00:00Z" --to "${DAY}T01:00:00Z"
	start_serve "$DB"
	run curl -s -w ' %{http_code}' "$SV_URL/v1/jobs"
	[[ "$output" == '{"error":{"name":503,"message":"no collection daemon: cp-serve runs without --control"}} 503' ]]
	[ "$(curl -s "$SV_URL/v1/whoami" | jq .control)" = false ]
}

@test "web: /v1/events pushes the planner's progress with the jobs as server-sent events" {
	with_hole --latency-ms 200
	svc collect --market KRW-BTC --timeframe 1m --from 2026-10-25T00:00:00Z \
		--to 2026-10-27T00:00:00Z >/dev/null 2>&1 &
	cpid=$!
	# an idle daemon may publish nothing: while the collection runs it does
	run timeout 8 curl -sN "$URL/v1/events"
	wait "$cpid"
	echo "${output:0:600}"
	[[ "$output" == "retry: 2000"* ]]
	# the first message is the newest before the client came; then each new
	# one: one of them has the running third job
	data=$(grep -A1 '^event: progress$' <<<"$output" | sed -n 's/^data: //p' |
		jq -c 'select(.progress.slots_total > 0 and (.jobs | length) == 3)' | head -n 1)
	[ -n "$data" ]
	[ "$(jq -r '.jobs[0].state' <<<"$data")" = done ]
	[ "$(jq '.jobs[2].targets[0].slots_total' <<<"$data")" -eq 2880 ]
}

@test "web: the page's files are served without a token; the API needs it" {
	start_sim --rate-limit 0
	collect --db "$DB" --market KRW-BTC --timeframe 1m --from "${DAY}T00:00:00Z" --to "${DAY}T01:00:00Z"
	echo s3cret >"$BATS_TEST_TMPDIR/token"
	start_serve "$DB" --token-file "$BATS_TEST_TMPDIR/token"
	[ "$(curl -s -o /dev/null -w '%{http_code} %{content_type}' "$SV_URL/")" = "200 text/html; charset=utf-8" ]
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$SV_URL/app.js")" = 200 ]
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$SV_URL/v1/coverage")" = 401 ]
	[ "$(curl -s -H 'Authorization: Bearer s3cret' "$SV_URL/v1/whoami" | jq .can_write)" = true ]
}

@test "web (browser): the coverage map shows the hole at its place" {
	need_browser
	with_hole
	browser map --market KRW-ETH --timeframe 1m --hole-from "$HOLE_FROM" --hole-to "$HOLE_TO"
	[ "$status" -eq 0 ]
}

@test "web (browser): the map with 200 markets has and draws a row for every one" {
	need_browser
	start_sim --rate-limit 0 --extra-markets 200
	markets=$(curl -s "$SIM_URL/v1/market/all" | jq -r '.[22:] | map(.market) | join(",")')
	collect --db "$DB" --market "$markets" --timeframe 1m --from "${DAY}T00:00:00Z" \
		--to "${DAY}T01:00:00Z" --rate 0 >/dev/null 2>&1
	[ "$(sqlite3 "$DB" "SELECT count(DISTINCT market) FROM coverage")" -eq 200 ]
	start_serve "$DB"
	URL=$SV_URL
	browser rows --markets 200
	[ "$status" -eq 0 ]
	[[ "$output" == "rows: 200 markets, 200 series, every row drawn"* ]]
}

@test "web (browser): the chart's last candle is the database's last candle" {
	need_browser
	with_hole
	last=$(sqlite3 "$DB" "SELECT candle_date_time_utc || ' ' || trade_price FROM candles_exact
		WHERE market = 'KRW-BTC' AND timeframe = '1m' ORDER BY candle_date_time_utc DESC LIMIT 1")
	browser chart --last-utc "${last% *}" --last-close "${last#* }"
	[ "$status" -ne 77 ] || skip "the chart library is not installed (npm ci in serve/www)"
	[ "$status" -eq 0 ]
}

@test "web (browser): without the chart library the page says so and the map still draws" {
	need_browser
	start_sim --rate-limit 0
	collect --db "$DB" --market KRW-BTC --timeframe 1m --from "${DAY}T00:00:00Z" --to "${DAY}T01:00:00Z"
	mkdir "$BATS_TEST_TMPDIR/www"
	cp "$ROOT"/serve/www/{index.html,app.js,style.css} "$BATS_TEST_TMPDIR/www/"
	start_serve "$DB" --www "$BATS_TEST_TMPDIR/www"
	URL=$SV_URL
	browser chart --last-utc x --last-close 0
	[ "$status" -eq 77 ]
	[[ "$output" == "skip: the chart library is not installed"* ]]
	[ "$(curl -s -w ' %{http_code}' "$URL/vendor/lightweight-charts.js")" = '{"error":{"name":404,"message":"the chart library is not installed (npm ci in serve/www)"}} 404' ]
}

@test "web (browser): clicking Fetch on the hole fills it" {
	need_browser
	with_hole
	[ "$(covered KRW-BTC)" = "${DAY}T00:00:00..${DAY}T06:00:00 ${DAY}T09:00:00..${DAY}T12:00:00" ]
	browser fetch --market KRW-BTC --timeframe 1m --hole-from "$HOLE_FROM" --hole-to "$HOLE_TO"
	[ "$status" -eq 0 ]
	[ "$(covered KRW-BTC)" = "${DAY}T00:00:00..${DAY}T12:00:00" ]
	[ "$(covered KRW-ETH)" = "${DAY}T00:00:00..${DAY}T06:00:00 ${DAY}T09:00:00..${DAY}T12:00:00" ]
}

@test "web (browser): the progress view updates while a collection runs" {
	need_browser
	with_hole --latency-ms 300
	# 7 days of 1m at 300 ms an answer: seconds of fetching, started by
	# check.py once the page is up
	browser progress --start "'$ROOT/run.sh' collect --db '$DB' --run-dir '$RUN' \
		--market KRW-BTC,KRW-ETH --timeframe 1m --from 2026-10-20T00:00:00Z \
		--to 2026-10-27T00:00:00Z >'$BATS_TEST_TMPDIR/collect.out' 2>&1"
	cat "$BATS_TEST_TMPDIR/collect.out"
	[ "$status" -eq 0 ]
	grep -q 'done: 20160/20160 slots' "$BATS_TEST_TMPDIR/collect.out"
}
