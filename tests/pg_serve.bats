#!/usr/bin/env bats
# tests/pg_serve.bats: cp-serve and the whole service (./run.sh start
# --listen) on PostgreSQL (issues 13 and 14). One SQLite database collected
# from the simulator is copied into PostgreSQL (tests/pg_load.sh); a cp-serve
# on each must give the same status and body, byte for byte, for every
# route. Then: the read-only role serves; a lost server is a 503 until
# cp-serve has reconnected; a service started on a PostgreSQL database reads
# through (an uncovered request costs its gap's requests and equals the
# simulator). Runs on a throwaway server (tests/pg_helpers.bash) removed
# whatever happens; skips, saying so in one line, without the server
# binaries.

load pg_helpers
load pipeline_helpers
load serve_helpers
bats_require_minimum_version 1.5.0

# the collected seconds (setup_file): inside the simulator's seconds horizon
SEC_FROM=$(sv_minute_ago 7200) SEC_TO=$(sv_minute_ago 6600) SEC_MID=$(sv_minute_ago 6900)

setup_file() {
	pg_suite_setup_file --sim --rate-limit 0
	! pg_suite_skipped || return 0
	pg_suite_setup --no-db
	LITE="$BATS_FILE_TMPDIR/lite.db"
	local m tf from to
	while read -r m tf from to; do
		"$ROOT/run.sh" collect --api-url "$SIM_URL" --run-dir "$BATS_FILE_TMPDIR/run" \
			--db "$LITE" --market "$m" --timeframe "$tf" --from "$from" --to "$to" \
			--rate 0 --quiet 3>&- </dev/null || return 1
	done <<EOF
KRW-BTC,KRW-ETH 1m 2026-10-01T00:00:00 2026-10-01T12:00:00
KRW-BTC 1m,3m,5m,10m 2026-09-29T00:00:00 2026-10-01T00:00:00
KRW-BTC 15m,30m,1h,4h 2026-08-20T00:00:00 2026-10-01T00:00:00
KRW-ZIL 1m 2026-10-01T00:00:00 2026-10-01T06:00:00
KRW-ZIL 1m 2026-10-03T00:00:00 2026-10-03T06:00:00
KRW-BTC,USDT-BTC 1d 2026-03-01 2026-10-01
KRW-BTC 1w,1M 2025-01-01 2026-10-01
KRW-BTC 1y 2018-01-01 2026-01-01
KRW-BERA 1d,1h 2026-10-20 2026-11-03
KRW-BTC 1s $SEC_FROM $SEC_TO
EOF
	"$ROOT/tests/pg_load.sh" "$LITE" "$PG_URI" >/dev/null
	start_serve "$LITE"
	echo "$SV_URL" >"$BATS_FILE_TMPDIR/lite.url"
	start_serve "$PG_URI"
	echo "$SV_URL" >"$BATS_FILE_TMPDIR/pg.url"
	echo "$SV_LOG" >"$BATS_FILE_TMPDIR/pg.log"
}

teardown_file() {
	[ ! -s "$BATS_FILE_TMPDIR/svc.uri" ] ||
		"$ROOT/run.sh" stop --db "$(<"$BATS_FILE_TMPDIR/svc.uri")" \
			--run-dir "$BATS_FILE_TMPDIR/svc" >/dev/null 2>&1 3>&- || true
	stop_all_serves
	pg_suite_teardown_file
}

setup() {
	pg_suite_setup --no-db
	LITE="$BATS_FILE_TMPDIR/lite.db"
	LITE_URL=$(<"$BATS_FILE_TMPDIR/lite.url")
	PG_URL=$(<"$BATS_FILE_TMPDIR/pg.url")
	T=$BATS_TEST_TMPDIR
}

# same_on_both [-u URL] PATH...: the answer (body, then the status on its own
# line) of the PostgreSQL cp-serve (or URL) to each PATH equals the SQLite
# one's, byte for byte; answer i is in $T/pg.i
same_on_both() {
	local url=$PG_URL p i=0
	if [ "$1" = -u ]; then
		url=$2
		shift 2
	fi
	for p in "$@"; do
		curl -s -w '\n%{http_code}' "$LITE_URL$p" >"$T/lite.$i"
		curl -s -w '\n%{http_code}' "$url$p" >"$T/pg.$i"
		sv_cmp "$T/lite.$i" "$T/pg.$i" "$p" || return 1
		i=$((i + 1))
	done
}

status_of() { # I: the status of answer I
	tail -n 1 "$T/pg.$1"
}

candle_paths() {
	local u
	for u in 1 3 5 10 15 30 60 240; do
		echo "/v1/candles/minutes/$u?market=KRW-BTC&to=2026-09-30T12:00:00Z&count=200"
		echo "/v1/candles/minutes/$u?market=KRW-BTC&to=2026-09-30T12:07:31&count=7"
	done
	cat <<EOF
/v1/candles/minutes/1?market=KRW-BTC&to=2026-10-01T06:00:00Z&count=200
/v1/candles/minutes/1?market=KRW-ETH&to=2026-10-01T11:00:00.000Z&count=300
/v1/candles/minutes/1?market=KRW-BTC&to=2026-10-01T15:00:00%2B09:00&count=3
/v1/candles/minutes/1?market=KRW-ZIL&to=2026-10-01T06:00:00Z&count=200
/v1/candles/minutes/1?market=KRW-ZIL&to=2026-10-03T06:00:00Z&count=200
/v1/candles/days?market=KRW-BTC&to=2026-09-30T00:00:00Z&count=200
/v1/candles/days?market=USDT-BTC&to=2026-09-15T09:00:00%2B09:00&count=20
/v1/candles/days?market=KRW-BTC&to=2026-09-10T00:00:00&count=5&converting_price_unit=USD
/v1/candles/weeks?market=KRW-BTC&to=2026-09-28T00:00:00Z&count=60
/v1/candles/months?market=KRW-BTC&to=2026-09-01T00:00:00Z&count=20
/v1/candles/years?market=KRW-BTC&to=2026-01-01T00:00:00Z&count=8
/v1/candles/seconds?market=KRW-BTC&to=${SEC_MID}Z&count=200
/v1/candles/seconds?market=KRW-BTC&to=${SEC_TO}&count=30
/v1/candles/days?market=KRW-BERA&to=2026-11-03T00:00:00Z&count=200
/v1/candles/days?market=KRW-BERA&to=2026-10-25T00:00:00Z&count=10
/v1/candles/minutes/60?market=KRW-BERA&to=2026-11-01T05:00:00Z&count=200
/v1/candles/minutes/1?market=KRW-NOPE&to=2026-10-01T06:00:00Z
/v1/candles/minutes/1?market=KRW-BTC&to=2026-10-02T06:00:00Z&count=5
/v1/candles/minutes/1?market=KRW-BTC
/v1/candles/minutes/2?market=KRW-BTC&to=2026-10-01T06:00:00Z
/v1/market/all
/v1/market/all?isDetails=false
/v1/market/all?is_details=true
EOF
}

@test "pg_serve: every Upbit candle route and /v1/market/all answer on PostgreSQL as on SQLite" {
	local paths
	mapfile -t paths < <(candle_paths)
	same_on_both "${paths[@]}"
	# what was asked for, not two identical errors
	[ "$(head -n 1 "$T/pg.0" | jq length)" -eq 200 ]
	[ "$(status_of 16)" = 200 ]
	[ "$(head -n 1 "$T/pg.17" | jq length)" -eq 200 ]
	[ "$(head -n 1 "$T/pg.19" | jq length)" -eq 200 ]
	[ "$(head -n 1 "$T/pg.24" | jq -r '.[0].first_day_of_period')" = 2026-09-21 ]
	[ "$(head -n 1 "$T/pg.27" | jq length)" -eq 200 ]
	[ "$(status_of 32)" = 404 ]
	[ "$(status_of 33)" = 503 ]
	[ "$(status_of 35)" = 400 ]
	[ "$(status_of 36)" = 200 ]
	# the exact decimals: Upbit's scale kept (numeric read as text)
	head -n 1 "$T/pg.0" | grep -q '"trade_price":[0-9]*\.[0-9]*,'
	diff <(head -n 1 "$T/pg.36" | jq -S 'sort_by(.market)') \
		<(curl -s "$SIM_URL/v1/market/all" | jq -S 'sort_by(.market)')
}

@test "pg_serve: /v1/candles/range, /v1/coverage, /v1/gaps, the coverage map and /readyz as on SQLite" {
	same_on_both \
		"/v1/candles/range?market=KRW-BTC&timeframe=1m&from=2026-10-01T00:00:00Z&to=2026-10-01T12:00:00Z" \
		"/v1/candles/range?market=KRW-ZIL&timeframe=1m&from=2026-10-01T00:00:00Z&to=2026-10-01T06:00:00Z" \
		"/v1/candles/range?market=KRW-BTC&timeframe=1d&from=2026-03-01&to=2026-10-01" \
		"/v1/candles/range?market=KRW-BTC&timeframe=1m&from=2026-10-01T00:00:00Z&to=2026-10-01T13:00:00Z" \
		"/v1/coverage?market=KRW-ZIL&timeframe=1m&from=2026-09-30T00:00:00Z&to=2026-10-04T00:00:00Z" \
		"/v1/coverage?market=KRW-BERA&timeframe=1d&from=2026-10-01&to=2026-11-03" \
		"/v1/gaps?market=KRW-ZIL&timeframe=1m&from=2026-09-30T22:00:00Z&to=2026-10-03T08:00:00Z" \
		"/v1/gaps?market=KRW-ZIL&timeframe=1m&from=2026-10-01T00:00:00Z&to=2026-10-01T06:00:00Z&min_length=3" \
		"/v1/gaps?market=KRW-BERA&timeframe=1h&from=2026-10-25T00:00:00Z&to=2026-11-03T00:00:00Z" \
		"/v1/coverage" \
		"/v1/coverage?buckets=50" \
		"/v1/coverage?from=2026-09-01T00:00:00Z&to=2026-10-02T00:00:00Z&buckets=31" \
		"/readyz"
	# 720 candles of 12 hours, JSON lines
	[ "$(grep -c '^{"market":"KRW-BTC"' "$T/pg.0")" -eq 720 ]
	[ "$(status_of 3)" = 503 ]
	[ "$(head -n 1 "$T/pg.4" | jq '.missing | length')" -ge 1 ]
	[ "$(head -n 1 "$T/pg.6" | jq '.no_trade_stretches')" -gt 0 ]
	[ "$(head -n 1 "$T/pg.10" | jq '.series | length')" -ge 10 ]
	[ "$(status_of 12)" = 200 ]
}

@test "pg_serve: cp-serve with the read-only role answers as with the owner" {
	local ro
	pg_psql "$PG_URI" <<'SQL'
CREATE ROLE cp_read LOGIN;
GRANT USAGE ON SCHEMA candlepipe TO cp_read;
GRANT SELECT ON ALL TABLES IN SCHEMA candlepipe TO cp_read;
SQL
	ro="postgresql://cp_read@/cp?host=$PG_DIR"
	# the role may only read
	run ! pg_psql "$ro" -c "DELETE FROM candlepipe.coverage"
	start_serve "$ro"
	local paths
	mapfile -t paths < <(candle_paths)
	same_on_both -u "$SV_URL" "${paths[@]}" \
		"/v1/gaps?market=KRW-ZIL&timeframe=1m&from=2026-09-30T22:00:00Z&to=2026-10-03T08:00:00Z" \
		"/v1/coverage?buckets=50"
	[ "$(head -n 1 "$T/pg.0" | jq length)" -eq 200 ]
	stop_serve
	[ "$(pg_psql "$PG_URI" -c "SELECT count(*) FROM candlepipe.coverage")" -gt 0 ]
}

@test "pg_serve: a database without the schema is exit 3, a server that cannot be reached exit 4" {
	local empty
	empty=$(pg_createdb empty)
	run -3 "$SV_BIN" --db "$empty" --listen 127.0.0.1:0
	[[ "$output" == *"has no candlepipe schema yet"* ]]
	run -4 "$SV_BIN" --db "postgresql://postgres@/cp?host=$BATS_TEST_TMPDIR" --listen 127.0.0.1:0
	[[ "$output" == *"cannot connect"* ]]
}

answers_again() { # PATH...: the PostgreSQL cp-serve answers each PATH as
	# SQLite's, ten times over (every thread of its pool has reconnected)
	local i
	for ((i = 0; i < 10; i++)); do
		same_on_both -u "$SV_URL" "$@" >/dev/null || return 1
	done
}

@test "pg_serve: a lost PostgreSQL connection is a 503 for the requests meanwhile, then cp-serve reconnects" {
	local p="/v1/candles/minutes/1?market=KRW-BTC&to=2026-10-01T06:00:00Z&count=200"
	local c="/v1/coverage?market=KRW-ZIL&timeframe=1m&from=2026-09-30T00:00:00Z&to=2026-10-04T00:00:00Z"
	# no answer cache: every answer is read from the database
	start_serve "$PG_URI" --cache-mb 0
	same_on_both -u "$SV_URL" "$p" "$c"
	pg_down
	run sv_get "$p"
	[ "$(tail -n 1 <<<"$output")" = 503 ]
	head -n 1 <<<"$output" | jq -e '.error.name == 503 and (.error.message | test("try again"))'
	run sv_get "$c"
	[ "$(tail -n 1 <<<"$output")" = 503 ]
	run sv_get /readyz
	[ "$(tail -n 1 <<<"$output")" = 503 ]
	pg_up
	wait_for answers_again "$p" "$c" /readyz
	grep -q "reconnected" "$SV_LOG"
	# a restart (pg_ctl restart -m fast) under load: every answer is the
	# right one or a 503, none is wrong, and afterwards all are right
	local i ok=0 bad=0
	(for ((i = 0; i < 300; i++)); do
		curl -s -w '\n%{http_code}' "$SV_URL$p" >"$T/load.$i"
	done) &
	local loader=$!
	pg_restart
	wait "$loader"
	curl -s -w '\n%{http_code}' "$LITE_URL$p" >"$T/want"
	for ((i = 0; i < 300; i++)); do
		if cmp -s "$T/want" "$T/load.$i"; then
			ok=$((ok + 1))
		elif [ "$(tail -n 1 "$T/load.$i")" = 503 ]; then
			bad=$((bad + 1))
		else
			echo "answer $i is neither the right one nor a 503:"
			head -c 300 "$T/load.$i"
			return 1
		fi
	done
	echo "$ok right, $bad x 503"
	[ "$ok" -gt 0 ]
	wait_for answers_again "$p"
	stop_serve
}

svc_collect() { # ARGS...: ./run.sh collect submitted to the service on $SVC_DB
	"$ROOT/run.sh" collect --db "$SVC_DB" --run-dir "$BATS_FILE_TMPDIR/svc" --quiet "$@" 3>&-
}

@test "pg_serve: ./run.sh start --db postgresql://... --listen reads through the service" {
	local run="$BATS_FILE_TMPDIR/svc" url before p
	SVC_DB=$(pg_createdb svc)
	echo "$SVC_DB" >"$BATS_FILE_TMPDIR/svc.uri"
	"$ROOT/run.sh" start --db "$SVC_DB" --run-dir "$run" --api-url "$SIM_URL" --rate 0 \
		--listen 127.0.0.1:0 3>&- >"$T/start.out" 2>&1 ||
		{ cat "$T/start.out" "$run/service.log" >&2; return 1; }
	url="http://127.0.0.1:$(<"$run/server.port")"
	run "$ROOT/run.sh" status --db "$SVC_DB" --run-dir "$run" 3>&-
	[ "$status" -eq 0 ]
	[[ "$output" == *"http: http://127.0.0.1:"* ]]
	# covered: answered from PostgreSQL, the simulator sees nothing
	run svc_collect --market KRW-BTC --timeframe 1m --from 2026-09-01T00:00:00 \
		--to 2026-09-01T06:00:00
	[ "$status" -eq 0 ]
	p="/v1/candles/minutes/1?market=KRW-BTC&to=2026-09-01T05:00:00Z&count=200"
	before=$(candle_requests)
	curl -s -w '\n%{http_code}' "$url$p" >"$T/sv"
	[ "$(candle_requests)" -eq "$before" ]
	curl -s -w '\n%{http_code}' "$SIM_URL$p" | cmp - "$T/sv"
	[ "$(head -n 1 "$T/sv" | jq length)" -eq 200 ]
	# uncovered: the job of its gap (200 minutes: one request), then the
	# simulator's answer
	p="/v1/candles/minutes/1?market=KRW-BTC&to=2026-09-02T12:00:00Z&count=200"
	before=$(candle_requests)
	curl -s -m 60 -w '\n%{http_code}' "$url$p" >"$T/sv"
	[ "$(($(candle_requests) - before))" -eq 1 ]
	curl -s -w '\n%{http_code}' "$SIM_URL$p" | cmp - "$T/sv"
	[ "$(head -n 1 "$T/sv" | jq length)" -eq 200 ]
	# the gap is stored in PostgreSQL: asked again, nothing upstream
	before=$(candle_requests)
	curl -s -w '\n%{http_code}' "$url$p" | cmp - "$T/sv"
	[ "$(candle_requests)" -eq "$before" ]
	[ "$(pg_psql "$SVC_DB" -c "SELECT count(*) FROM candlepipe.candles WHERE candle_date_time_utc
		>= '2026-09-02T08:40:00' AND candle_date_time_utc < '2026-09-02T12:00:00'")" -eq 200 ]
	# /v1/candles/range and /v1/gaps read through too
	p="/v1/candles/range?market=KRW-ETH&timeframe=1m&from=2026-09-03T00:00:00Z&to=2026-09-03T02:00:00Z"
	curl -s -m 60 -w '\n%{http_code}' "$url$p" >"$T/range"
	[ "$(tail -n 1 "$T/range")" = 200 ]
	diff <(grep '^{' "$T/range") \
		<(truth KRW-ETH 1m 2026-09-03T00:00:00 2026-09-03T02:00:00)
	run "$ROOT/run.sh" stop --db "$SVC_DB" --run-dir "$run" 3>&-
	[ "$status" -eq 0 ]
}
