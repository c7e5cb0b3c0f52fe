#!/usr/bin/env bats
# tests/sim.bats - behaviour of the offline Upbit simulator (sim/upbit-sim):
# routes, parameters, `to` semantics, JSON format, data properties, rate
# limits (429/418/origin), faults, stats, truth and the command line.
# The main simulator runs with the rate limit off; tests of limits and
# faults start their own simulators.  Only 127.0.0.0/8 is contacted.

load sim_helpers

SEED=7

setup_file() {
	start_sim --seed "$SEED" --rate-limit 0
	export MAIN_URL=$SIM_URL MAIN_PID=$SIM_PID
	# a second simulator with Upbit's limits and short 418 blocks
	start_sim --seed "$SEED" --rate-limit 10 --block-seconds 2
	export RL_URL=$SIM_URL RL_PID=$SIM_PID
}

teardown_file() {
	stop_all_sims
}

setup() {
	SIM_URL=$MAIN_URL
}

get() { curl -sS "$SIM_URL$1"; }
code() { curl -s -o /dev/null -w '%{http_code}' "$SIM_URL$1"; }
# split a candle array into one object per line, bytes untouched
objs() { sed -e 's/^\[//' -e 's/\]$//' -e 's/},{/}\n{/g' | sed '/^$/d'; }
truth() { "$SIM_BIN" truth --seed "$SEED" "$@"; }

E_MISSING='{"error":{"name":400,"message":"Missing request parameter error. Check the required parameters!"}}'
E_TYPE='{"error":{"name":400,"message":"Type mismatch error. Check the parameters type!"}}'
E_INVALID='{"error":{"name":400,"message":"Invalid parameter. Check the given value!"}}'
E_NOTFOUND='{"error":{"name":404,"message":"Code not found"}}'
E_UNIT='{"error":{"name":400,"message":"specified unit is not valid."}}'

# ---- routes and headers ---------------------------------------------------

@test "every candle route answers 200 with a JSON array" {
	for p in seconds minutes/1 minutes/3 minutes/5 minutes/10 minutes/15 minutes/30 \
		minutes/60 minutes/240 days weeks months years; do
		run get "/v1/candles/$p?market=KRW-BTC&count=2"
		[ "$status" -eq 0 ]
		[ "$(jq 'length' <<<"$output")" -eq 2 ] || { echo "$p: $output"; false; }
	done
}

@test "headers: content type, Remaining-Req, limit-by-ip" {
	run curl -sS -D - -o /dev/null "$SIM_URL/v1/candles/minutes/1?market=KRW-BTC"
	[[ "$output" == *$'Content-Type: application/json;charset=UTF-8\r'* ]]
	[[ "$output" =~ Remaining-Req:\ group=candles\;\ min=600\;\ sec=[0-9]+ ]]
	[[ "$output" == *$'limit-by-ip: Yes\r'* ]]
	run curl -sS -D - -o /dev/null "$SIM_URL/v1/market/all"
	[[ "$output" =~ Remaining-Req:\ group=market\;\ min=600\;\ sec=[0-9]+ ]]
}

@test "keep-alive: two requests reuse one connection" {
	run curl -sv -o /dev/null -o /dev/null "$SIM_URL/v1/candles/days?market=KRW-BTC" \
		"$SIM_URL/v1/candles/days?market=KRW-ETH"
	[[ "$output" == *"Re-using existing connection"* ]]
}

@test "invalid minute unit gives 400 with Upbit's body" {
	for u in 2 7 120 480 abc 0; do
		run curl -sS -w ' %{http_code}' "$SIM_URL/v1/candles/minutes/$u?market=KRW-BTC"
		[ "$output" = "$E_UNIT 400" ] || { echo "$u: $output"; false; }
	done
}

@test "unknown routes give 404" {
	for p in /v1/candles/hours /v1/candles/minutes /v1/foo / /v1/candles/days/extra /v1/market; do
		[ "$(code "$p?market=KRW-BTC")" = 404 ] || { echo "$p"; false; }
	done
}

@test "market missing 400, unknown 404" {
	run get "/v1/candles/minutes/1"
	[ "$output" = "$E_MISSING" ]
	[ "$(code /v1/candles/days)" = 400 ]
	run get "/v1/candles/days?market=KRW-NOPE"
	[ "$output" = "$E_NOTFOUND" ]
	[ "$(code '/v1/candles/days?market=KRW-NOPE')" = 404 ]
	[ "$(code '/v1/candles/seconds?market=krw-btc')" = 404 ]
}

# ---- count -------------------------------------------------------------

@test "count: default 1, 1, 200, 201 clamps, 0/-1 invalid, abc type mismatch" {
	q="/v1/candles/minutes/1?market=KRW-BTC&to=2026-08-03T10:40:00Z"
	[ "$(get "$q" | jq length)" -eq 1 ]
	[ "$(get "$q&count=1" | jq length)" -eq 1 ]
	[ "$(get "$q&count=200" | jq length)" -eq 200 ]
	[ "$(get "$q&count=201" | jq length)" -eq 200 ]
	[ "$(get "$q&count=100000" | jq length)" -eq 200 ]
	run curl -sS -w ' %{http_code}' "$SIM_URL$q&count=0"
	[ "$output" = "$E_INVALID 400" ]
	run get "$q&count=-1"
	[ "$output" = "$E_INVALID" ]
	run curl -sS -w ' %{http_code}' "$SIM_URL$q&count=abc"
	[ "$output" = "$E_TYPE 400" ]
	run get "$q&count=1.5"
	[ "$output" = "$E_TYPE" ]
}

# ---- to -------------------------------------------------------------------

@test "to: aligned value excludes the candle that starts at to" {
	run get "/v1/candles/minutes/5?market=KRW-BTC&count=3&to=2026-08-03T10:40:00Z"
	[ "$(jq -r '.[0].candle_date_time_utc' <<<"$output")" = 2026-08-03T10:35:00 ]
	[ "$(jq -r '.[2].candle_date_time_utc' <<<"$output")" = 2026-08-03T10:25:00 ]
	run get "/v1/candles/minutes/1?market=KRW-BTC&to=2026-10-01T00:00:00Z"
	[ "$(jq -r '.[0].candle_date_time_utc' <<<"$output")" = 2026-09-30T23:59:00 ]
}

@test "to: every accepted form gives identical bytes" {
	base="/v1/candles/minutes/5?market=KRW-ETH&count=50&to="
	ref=$(get "${base}2026-08-03T10:40:00Z")
	[ "$(jq length <<<"$ref")" -eq 50 ]
	for t in 2026-08-03T19:40:00%2B09:00 2026-08-03T10:40:00 2026-08-03%2010:40:00 \
		2026-08-03T10:40:00.000Z 2026-08-03T10%3A40%3A00Z 2026-08-03T05:40:00-05:00; do
		[ "$(get "$base$t")" = "$ref" ] || { echo "form $t differs"; false; }
	done
}

@test "to: unaligned value returns the straddling candle whole" {
	# the official example: days, to = 2025-07-30T00:00:00+09:00 = 07-29T15:00Z
	run get "/v1/candles/days?market=KRW-BTC&count=2&to=2025-07-30T00:00:00%2B09:00"
	[ "$(jq -r '.[0].candle_date_time_utc' <<<"$output")" = 2025-07-29T00:00:00 ]
	[ "$(jq -r '.[1].candle_date_time_utc' <<<"$output")" = 2025-07-28T00:00:00 ]
	whole=$(get "/v1/candles/days?market=KRW-BTC&count=2&to=2025-07-30T00:00:00Z")
	[ "$output" = "$whole" ]
	ts=$(jq '.[0].timestamp' <<<"$output")
	[ "$ts" -gt 1753801200000 ] # after 07-29T15:00Z: the candle is not cut at `to`
	a=$(get "/v1/candles/minutes/1?market=KRW-BTC&count=3&to=2026-08-03T10:40:30Z")
	b=$(get "/v1/candles/minutes/1?market=KRW-BTC&count=3&to=2026-08-03T10:41:00Z")
	[ "$a" = "$b" ]
	[ "$(jq -r '.[0].candle_date_time_utc' <<<"$a")" = 2026-08-03T10:40:00 ]
	c=$(get "/v1/candles/minutes/1?market=KRW-BTC&count=1&to=2026-08-03T10:40:00.001Z")
	[ "$(jq -r '.[0].candle_date_time_utc' <<<"$c")" = 2026-08-03T10:40:00 ]
}

@test "to: invalid values give 400 Invalid parameter" {
	for t in 'abc' '2026-13-01T00:00:00Z' '2026-02-30T00:00:00' '2026-08-03T10:40:00+09:00' \
		'2026-08-03T25:00:00' '2026-08-03' '2026-08-03T10:40:00ZZ' '1785000000'; do
		run curl -sS -w ' %{http_code}' -G "$SIM_URL/v1/candles/minutes/1" \
			--data-urlencode "market=KRW-BTC" --data "to=$t"
		[ "$output" = "$E_INVALID 400" ] || { echo "to=$t: $output"; false; }
	done
}

@test "to: future value behaves like now; omitted to includes the forming candle" {
	for i in 1 2 3; do
		a=$(get "/v1/candles/days?market=KRW-BTC&count=3")
		b=$(get "/v1/candles/days?market=KRW-BTC&count=3&to=2099-01-01T00:00:00Z")
		[ "$(jq -r '.[0].candle_date_time_utc' <<<"$a")" = \
			"$(jq -r '.[0].candle_date_time_utc' <<<"$b")" ] && break
	done
	today=$(date -u +%Y-%m-%dT00:00:00)
	[ "$(jq -r '.[0].candle_date_time_utc' <<<"$b")" = "$today" ] ||
		[ "$(jq -r '.[0].candle_date_time_utc' <<<"$b")" = "$(date -u -d '-1 min' +%Y-%m-%dT00:00:00)" ]
	# closed candles identical
	[ "$(jq -c '.[1:]' <<<"$a")" = "$(jq -c '.[1:]' <<<"$b")" ]
}

@test "results are newest first" {
	run get "/v1/candles/minutes/1?market=KRW-ZIL&count=200&to=2026-08-03T10:40:00Z"
	sorted=$(jq -r '.[].candle_date_time_utc' <<<"$output" | sort -r)
	[ "$(jq -r '.[].candle_date_time_utc' <<<"$output")" = "$sorted" ]
	[ "$(jq -r '.[].candle_date_time_utc' <<<"$output" | sort -u | wc -l)" -eq 200 ]
}

# ---- JSON format ------------------------------------------------------------

N8='-?[0-9]+\.[0-9]{8}'
HEAD='\{"market":"[A-Z]+-[A-Z]+","candle_date_time_utc":"[0-9-]{10}T[0-9:]{8}","candle_date_time_kst":"[0-9-]{10}T[0-9:]{8}","opening_price":'$N8',"high_price":'$N8',"low_price":'$N8',"trade_price":'$N8',"timestamp":[0-9]+,"candle_acc_trade_price":'$N8',"candle_acc_trade_volume":'$N8

@test "JSON: field order and fixed scale for every endpoint" {
	to="to=2026-08-03T10:40:00Z"
	while read -r line; do
		[[ "$line" =~ ^$HEAD,\"unit\":3\}$ ]] || { echo "minutes: $line"; false; }
	done < <(get "/v1/candles/minutes/3?market=BTC-ETH&count=20&$to" | objs)
	while read -r line; do
		[[ "$line" =~ ^$HEAD\}$ ]] || { echo "seconds: $line"; false; }
	done < <(get "/v1/candles/seconds?market=KRW-XRP&count=20" | objs)
	while read -r line; do
		[[ "$line" =~ ^$HEAD,\"prev_closing_price\":$N8,\"change_price\":$N8,\"change_rate\":-?[0-9]+\.[0-9]{10}\}$ ]] ||
			{ echo "days: $line"; false; }
	done < <(get "/v1/candles/days?market=KRW-DOGE&count=20&$to" | objs)
	for p in weeks months years; do
		while read -r line; do
			[[ "$line" =~ ^$HEAD,\"first_day_of_period\":\"[0-9]{4}-[0-9]{2}-[0-9]{2}\"\}$ ]] ||
				{ echo "$p: $line"; false; }
		done < <(get "/v1/candles/$p?market=USDT-BTC&count=5&$to" | objs)
	done
	run get "/v1/candles/minutes/1?market=KRW-BTC&$to"
	[[ "$output" != *" "* ]]
}

@test "JSON: days extras, change arithmetic and converted_trade_price" {
	run get "/v1/candles/days?market=BTC-ETH&count=10&to=2026-08-03T00:00:00Z&converting_price_unit=KRW"
	[[ "$output" =~ \"change_rate\":-?[0-9]+\.[0-9]{10},\"converted_trade_price\":[0-9]+\.[0-9]{8}\} ]]
	# prev_closing_price = close of the previous day; change = close - prev
	jq -e '. as $a | all(range(0; length-1); $a[.].prev_closing_price == $a[.+1].trade_price)' <<<"$output"
	jq -e 'all(.[]; ((.trade_price - .prev_closing_price) - .change_price | fabs) < 1e-9)' <<<"$output"
	jq -e 'all(.[]; ((.change_price / .prev_closing_price) - .change_rate | fabs) < 1e-9)' <<<"$output"
	jq -e 'all(.[]; ((.trade_price * 140000000) - .converted_trade_price | fabs) < 1e-3)' <<<"$output"
	run get "/v1/candles/days?market=KRW-BTC&count=2&to=2026-08-03T00:00:00Z&converting_price_unit=KRW"
	jq -e 'all(.[]; .converted_trade_price == .trade_price)' <<<"$output"
	run get "/v1/candles/days?market=KRW-BTC&count=2&to=2026-08-03T00:00:00Z"
	[[ "$output" != *converted_trade_price* ]]
}

@test "data: OHLC consistency, ticks, KST and timestamp inside the candle" {
	for q in "minutes/1?market=KRW-BTC" "minutes/60?market=KRW-SHIB" "days?market=BTC-XRP" \
		"seconds?market=KRW-DOGE" "weeks?market=USDT-ETH" "minutes/240?market=KRW-MED"; do
		run get "/v1/candles/$q&count=200"
		jq -e 'length > 0 and all(.[];
			.low_price <= ([.opening_price, .trade_price] | min) and
			([.opening_price, .trade_price] | max) <= .high_price and
			.candle_acc_trade_volume > 0 and .candle_acc_trade_price > 0 and
			(.timestamp / 1000) >= (.candle_date_time_utc + "Z" | fromdate) and
			((.candle_date_time_kst + "Z" | fromdate) - (.candle_date_time_utc + "Z" | fromdate)) == 32400)' \
			<<<"$output" || { echo "$q"; false; }
	done
	# KRW-BTC: 1000 KRW tick around 1e8
	run get "/v1/candles/minutes/1?market=KRW-BTC&count=50&to=2026-08-03T00:00:00Z"
	jq -e 'all(.[]; (.trade_price % 1000) == 0 and .trade_price > 5e7 and .trade_price < 3e8)' <<<"$output"
	# closed candles: timestamp < end
	run get "/v1/candles/minutes/5?market=KRW-ETH&count=50&to=2026-08-03T00:00:00Z"
	jq -e 'all(.[]; (.timestamp / 1000) < ((.candle_date_time_utc + "Z" | fromdate) + 300))' <<<"$output"
}

@test "weeks start on Monday, months and years on the 1st" {
	run get "/v1/candles/weeks?market=KRW-BTC&count=60"
	while read -r utc first; do
		[ "$utc" = "${first}T00:00:00" ]
		[ "$(date -u -d "$first" +%u)" = 1 ] || { echo "$first is not a Monday"; false; }
	done < <(jq -r '.[] | "\(.candle_date_time_utc) \(.first_day_of_period)"' <<<"$output")
	run get "/v1/candles/months?market=KRW-BTC&count=30"
	jq -e 'all(.[]; (.first_day_of_period | endswith("-01")) and .candle_date_time_utc == .first_day_of_period + "T00:00:00")' <<<"$output"
	[ "$(jq -r '.[0].first_day_of_period' <<<"$output")" = "$(date -u +%Y-%m-01)" ]
	run get "/v1/candles/years?market=KRW-BTC&count=30"
	jq -e 'all(.[]; (.first_day_of_period | endswith("-01-01")))' <<<"$output"
	[ "$(jq -r '.[-1].first_day_of_period' <<<"$output")" = 2017-01-01 ]
	run get "/v1/candles/days?market=KRW-BTC&count=3&to=2025-07-29T12:00:00Z"
	[ "$(jq -r '.[0].candle_date_time_kst' <<<"$output")" = 2025-07-29T09:00:00 ]
}

# ---- data properties ------------------------------------------------------

@test "dense market has every minute, sparse market has gaps" {
	run get "/v1/candles/minutes/1?market=KRW-BTC&count=200&to=2026-08-03T10:40:00Z"
	[ "$(jq -r '.[-1].candle_date_time_utc' <<<"$output")" = 2026-08-03T07:20:00 ]
	run get "/v1/candles/minutes/1?market=KRW-ZIL&count=200&to=2026-08-03T10:40:00Z"
	[ "$(jq length <<<"$output")" -eq 200 ]
	oldest=$(jq -r '.[-1].candle_date_time_utc + "Z" | fromdate' <<<"$output")
	span=$(((1785753600 - oldest) / 60)) # minutes back from 10:40Z
	[ "$span" -gt 300 ] && [ "$span" -lt 600 ]   # about half the minutes are empty
	# bigger slots are empty much less often
	run get "/v1/candles/minutes/60?market=KRW-ZIL&count=200&to=2026-08-03T10:00:00Z"
	[ "$(jq -r '.[-1].candle_date_time_utc' <<<"$output")" = 2026-07-26T02:00:00 ]
}

@test "very sparse market has hours-long dead stretches" {
	truth --market KRW-MED --timeframe 1m --from 2026-08-01T00:00:00Z --to 2026-08-08T00:00:00Z \
		>"$BATS_TEST_TMPDIR/med"
	n=$(wc -l <"$BATS_TEST_TMPDIR/med")
	[ "$n" -gt 500 ]
	maxgap=$(jq -s '[.[].candle_date_time_utc + "Z" | fromdate] as $t |
		[range(1; $t | length) | $t[.] - $t[. - 1]] | max' "$BATS_TEST_TMPDIR/med")
	[ "$maxgap" -ge 10800 ]
}

@test "recently listed market: nothing before the listing instant" {
	run "$SIM_BIN" markets
	[[ "$output" =~ KRW-BERA\ +medium\ +2026-11-01T00:00:00 ]]
	run get "/v1/candles/minutes/1?market=KRW-BERA&count=200&to=2026-11-01T00:00:00Z"
	[ "$output" = "[]" ]
	run get "/v1/candles/days?market=KRW-BERA&count=200&to=2026-10-15T00:00:00Z"
	[ "$output" = "[]" ]
	run get "/v1/candles/minutes/1?market=KRW-BERA&count=200&to=2026-11-01T00:10:00Z"
	jq -e 'length > 0 and all(.[]; .candle_date_time_utc >= "2026-11-01T00:00:00")' <<<"$output"
	run get "/v1/candles/days?market=KRW-BERA&count=200"
	[ "$(jq -r '.[-1].candle_date_time_utc' <<<"$output")" = 2026-11-01T00:00:00 ]
	# the week containing the listing is served with its period start, trades after listing
	run get "/v1/candles/weeks?market=KRW-BERA&count=200"
	[ "$(jq -r '.[-1].first_day_of_period' <<<"$output")" = 2026-10-26 ]
	[ "$(jq '.[-1].timestamp' <<<"$output")" -ge 1793491200000 ]
	# --listed-at moves it
	run truth --market KRW-BERA --timeframe 1d --from 2026-10-01T00:00:00Z \
		--to 2026-10-20T00:00:00Z --listed-at 2026-10-10T12:00:00Z
	[ "$(head -1 <<<"$output" | cut -d'"' -f8)" = 2026-10-10T00:00:00 ]
	[ "$(wc -l <<<"$output")" -eq 10 ]
}

@test "seconds candles only for the last 3 calendar months, not 90 days" {
	# 3 months back may be 89..92 days: 4 days more is always outside, and
	# 12 hours after the 3-month point is always inside (older than 90 days
	# whenever the 3 months are longer than 90.5 days)
	old=$(date -u -d '-3 months -4 days' +%Y-%m-%dT%H:%M:%SZ)
	recent=$(date -u -d '-3 months +12 hours' +%Y-%m-%dT%H:%M:%SZ)
	run get "/v1/candles/seconds?market=KRW-BTC&count=5&to=$old"
	[ "$output" = "[]" ]
	run get "/v1/candles/seconds?market=KRW-BTC&count=5&to=$recent"
	[ "$(jq length <<<"$output")" -eq 5 ]
	# minutes are not limited
	run get "/v1/candles/minutes/1?market=KRW-BTC&count=5&to=$old"
	[ "$(jq length <<<"$output")" -eq 5 ]
}

@test "seconds horizon: truth starts no earlier than now - 3 months either" {
	# the same rule in truth: nothing before now - 3 months (no candle older)
	from=$(date -u -d '-4 months' +%Y-%m-%dT%H:%M:%SZ)
	to=$(date -u -d '-3 months +30 seconds' +%Y-%m-%dT%H:%M:%SZ)
	run truth --market KRW-BTC --timeframe 1s --from "$from" --to "$to"
	[ "$status" -eq 0 ]
	first=$(head -1 <<<"$output" | jq -r .candle_date_time_utc)
	[ "$(date -u -d "${first}Z" +%s)" -ge "$(date -u -d '-3 months -5 seconds' +%s)" ]
}

@test "the still-forming candle changes while it is open, closed ones do not" {
	for i in 1 2 3; do
		a=$(get "/v1/candles/days?market=KRW-BTC&count=2")
		sleep 1.2
		b=$(get "/v1/candles/days?market=KRW-BTC&count=2")
		[ "$(jq -r '.[0].candle_date_time_utc' <<<"$a")" = "$(jq -r '.[0].candle_date_time_utc' <<<"$b")" ] && break
	done
	[ "$(jq -c '.[0]' <<<"$a")" != "$(jq -c '.[0]' <<<"$b")" ]
	[ "$(jq '.[0].timestamp' <<<"$b")" -gt "$(jq '.[0].timestamp' <<<"$a")" ]
	[ "$(jq -c '.[1]' <<<"$a")" = "$(jq -c '.[1]' <<<"$b")" ]
}

@test "data is a pure function of the seed" {
	q="/v1/candles/minutes/1?market=KRW-ADA&count=200&to=2026-08-03T10:40:00Z"
	a=$(get "$q")
	[ "$(get "$q")" = "$a" ]
	start_sim --seed 8 --rate-limit 0
	[ "$(get "$q")" != "$a" ]
	stop_sim
}

# ---- truth ------------------------------------------------------------------

check_truth() { # tf path market to [truth options]
	local tf=$1 path=$2 market=$3 to=$4 page oldest
	page=$(get "/v1/candles/$path?market=$market&count=200&to=$to")
	[ "$(jq length <<<"$page")" -gt 0 ] || { echo "empty page $path $market"; return 1; }
	oldest=$(jq -r '.[-1].candle_date_time_utc' <<<"$page")Z
	diff <(objs <<<"$page" | tac) <(truth --market "$market" --timeframe "$tf" --from "$oldest" --to "$to" "${@:5}") ||
		{ echo "truth differs for $tf $market"; return 1; }
}

@test "truth agrees byte for byte with the routes" {
	check_truth 1m minutes/1 KRW-ZIL 2026-08-03T10:40:00Z
	check_truth 3m minutes/3 BTC-DOGE 2026-08-03T10:40:00Z
	check_truth 60m minutes/60 KRW-BTC 2026-08-03T10:40:00Z
	check_truth 4h minutes/240 KRW-MED 2026-08-03T10:40:00Z
	check_truth 1d days USDT-XRP 2026-08-03T10:40:00Z
	check_truth 1w weeks KRW-SOL 2026-08-03T10:40:00Z
	check_truth 1M months BTC-ETH 2026-08-03T10:40:00Z
	check_truth 1y years KRW-BTC 2026-01-01T00:00:00Z
	check_truth 1s seconds KRW-ORBS "$(date -u -d '-2 hours' +%Y-%m-%dT%H:%M:%S.000Z)"
	check_truth 1d days KRW-BERA 2026-11-20T00:00:00Z
	# truth prints closed candles only and oldest first
	run truth --market KRW-BTC --timeframe 1d --from 2026-01-01T00:00:00Z --to 2099-01-01T00:00:00Z
	[[ "$(tail -1 <<<"$output")" != *"\"candle_date_time_utc\":\"$(date -u +%Y-%m-%d)T"* ]]
	[[ "$(head -1 <<<"$output")" == *'"candle_date_time_utc":"2026-01-01T00:00:00"'* ]]
}

@test "truth accepts the time forms of collect" {
	want=$(truth --market KRW-ZIL --timeframe 1h --from 2026-01-31T00:00:00Z --to 2026-02-01T09:00:00Z)
	[ "$(wc -l <<<"$want")" -gt 10 ]
	for pair in "2026-01-31|2026-02-01T09:00:00Z" "2026-01-31T09:00:00+09:00|2026-02-01T18:00:00+09:00" \
		"2026-01-31T00:00:00.750Z|2026-02-01T09:00:00.999Z" "2026-01-31T00:00:00|2026-02-01 09:00:00" \
		"2026-01-31T00:00|2026-02-01T09:00" "2026-01-30T20:00:00-04:00|2026-02-01T18:00:00+0900"; do
		run truth --market KRW-ZIL --timeframe 1h --from "${pair%|*}" --to "${pair#*|}"
		[ "$status" -eq 0 ] && [ "$output" = "$want" ] || { echo "$pair: $status"; false; }
	done
	for bad in 2026-02-30 2026-01-31T25:00 2026-01-31T09:00:00+9 2026-01-31Tx 31.01.2026; do
		run truth --market KRW-ZIL --timeframe 1h --from "$bad" --to 2026-02-01
		[ "$status" -eq 2 ] || { echo "$bad: $status"; false; }
	done
}

@test "late timestamps: a few hourly candles end their last trade 0..54 ms after the candle" {
	run get "/v1/candles/minutes/60?market=KRW-BTC&count=200&to=2026-11-01T00:00:00Z"
	late=$(jq '[.[] | ((((.candle_date_time_utc + "Z") | fromdate) + 3600) * 1000) as $e |
		select(.timestamp >= $e) | .timestamp - $e]' <<<"$output")
	[ "$(jq length <<<"$late")" -ge 1 ]
	[ "$(jq length <<<"$late")" -le 15 ]
	jq -e 'all(.[]; . >= 0 and . <= 54)' <<<"$late"
	# seeded: the same candles for the same seed, and truth prints them too
	[ "$output" = "$(get "/v1/candles/minutes/60?market=KRW-BTC&count=200&to=2026-11-01T00:00:00Z")" ]
	check_truth 60m minutes/60 KRW-BTC 2026-11-01T00:00:00Z
	# other timeframes keep the last trade inside the candle
	run get "/v1/candles/minutes/1?market=KRW-BTC&count=200&to=2026-11-01T00:00:00Z"
	jq -e 'all(.[]; .timestamp < ((.candle_date_time_utc + "Z" | fromdate) + 60) * 1000)' <<<"$output"
}

# ---- market list --------------------------------------------------------------

@test "/v1/market/all with and without details" {
	run get "/v1/market/all"
	jq -e 'length >= 20 and all(.[]; keys_unsorted == ["market","korean_name","english_name"])' <<<"$output"
	jq -e '[.[].market] | index("KRW-BTC") and index("BTC-ETH") and index("USDT-BTC")' <<<"$output"
	for q in is_details=true isDetails=true; do
		run get "/v1/market/all?$q"
		jq -e 'all(.[]; keys_unsorted == ["market","korean_name","english_name","market_event"] and
			(.market_event.warning | type) == "boolean" and
			(.market_event.caution | keys_unsorted) == ["PRICE_FLUCTUATIONS","TRADING_VOLUME_SOARING","DEPOSIT_AMOUNT_SOARING","GLOBAL_PRICE_DIFFERENCES","CONCENTRATION_OF_SMALL_ACCOUNTS"])' <<<"$output"
	done
	run get "/v1/market/all?is_details=false"
	[[ "$output" != *market_event* ]]
	[ "$(code '/v1/market/all?is_details=maybe')" = 400 ]
}

@test "/v1/market/all: market_event is the shape, market_warning is gone" {
	run get "/v1/market/all?is_details=true"
	jq -e 'all(.[]; has("market_warning") | not) and
		all(.[]; .market_event.caution | [.[]] | all(type == "boolean"))' <<<"$output"
	jq -e '[.[] | select(.market_event.warning)] | length > 0' <<<"$output"
}

@test "--delist M@T: from T on 404 Code not found on every candle route, gone from /v1/market/all" {
	at=$(date -u -d '+4 seconds' +%Y-%m-%dT%H:%M:%SZ)
	start_sim --seed "$SEED" --rate-limit 0 --delist KRW-ORBS@2026-01-01T00:00:00Z --delist "KRW-ZIL@$at"
	# already delisted
	for p in seconds minutes/1 minutes/60 days weeks months years; do
		run curl -sS -w ' %{http_code}' "$SIM_URL/v1/candles/$p?market=KRW-ORBS&to=2025-06-01T00:00:00Z"
		[ "$output" = "$E_NOTFOUND 404" ] || { echo "$p: $output"; false; }
	done
	for q in "" "?is_details=true"; do
		run get "/v1/market/all$q"
		jq -e '[.[].market] | (index("KRW-ORBS") | not) and index("KRW-BTC")' <<<"$output"
	done
	# other markets carry on; history up to the delisting is the same data
	[ "$(code "/v1/candles/days?market=KRW-BTC")" = 200 ]
	if [ "$(date +%s)" -lt "$(($(date -d "$at" +%s) - 1))" ]; then
		[ "$(code "/v1/candles/days?market=KRW-ZIL")" = 200 ]
		get "/v1/market/all" | jq -e '[.[].market] | index("KRW-ZIL")'
	fi
	while [ "$(date +%s)" -le "$(date -d "$at" +%s)" ]; do sleep 0.2; done
	run curl -sS -w ' %{http_code}' "$SIM_URL/v1/candles/minutes/1?market=KRW-ZIL"
	[ "$output" = "$E_NOTFOUND 404" ]
	get "/v1/market/all" | jq -e '[.[].market] | index("KRW-ZIL") | not'
	stop_sim
	# bad values
	for d in KRW-NOPE@2026-01-01 KRW-ZIL KRW-ZIL@never @2026-01-01; do
		run "$SIM_BIN" --port 0 --delist "$d"
		[ "$status" -eq 2 ] && [[ "$output" == *"--delist"* ]] || { echo "$d: $status $output"; false; }
	done
}

@test "--port-file writes only regular files: a symlink is written through, others are refused" {
	d=$BATS_TEST_TMPDIR
	mkfifo "$d/fifo"
	mkdir "$d/dir"
	ln -s fifo "$d/link-to-fifo"
	for f in "$d/fifo" "$d/dir" /dev/null "$d/link-to-fifo"; do
		run timeout 5 "$SIM_BIN" --port 0 --port-file "$f"
		[ "$status" -eq 2 ] || { echo "$f: $status"; false; }
		[[ "$output" == *"refused"*"only regular files are written"* ]]
		[ "$(wc -l <<<"$output")" -eq 1 ]
	done
	[ -p "$d/fifo" ] && [ -d "$d/dir" ] && [ -c /dev/null ]
	echo old >"$d/target"
	mkdir "$d/sub"
	ln -s ../target "$d/sub/link"
	"$SIM_BIN" --port 0 --port-file "$d/sub/link" 2>/dev/null 3>&- &
	pid=$!
	sim_register "$pid"
	for i in $(seq 100); do [ "$(cat "$d/target")" != old ] && break; sleep 0.05; done
	[ -L "$d/sub/link" ]
	[[ "$(cat "$d/target")" =~ ^[0-9]+$ ]]
	curl -s -o /dev/null "http://127.0.0.1:$(cat "$d/target")/v1/market/all"
	stop_sim "$pid"
	# no temporary file is left behind
	[ "$(ls -A "$d/sub")" = link ]
	[ -z "$(ls -A "$d" | grep '^\.')" ]
}

@test "markets command lists liquidity classes and listing instants" {
	run "$SIM_BIN" markets --json
	[ "$status" -eq 0 ]
	jq -e '[.[].liquidity] | (index("dense") and index("sparse") and index("very_sparse"))' <<<"$output"
	jq -e '.[] | select(.market == "KRW-BERA") | .recent and .listed_at == "2026-11-01T00:00:00Z"' <<<"$output"
	run "$SIM_BIN" markets --listed-at 2026-10-05T00:00:00Z
	[[ "$output" =~ KRW-BERA\ +medium\ +2026-10-05T00:00:00 ]]
}

# ---- extra markets ---------------------------------------------------------------

FIXED_MARKETS="KRW-BTC KRW-ETH KRW-XRP KRW-SOL KRW-DOGE KRW-ADA KRW-AVAX KRW-LINK KRW-SHIB
	KRW-ZIL KRW-ORBS KRW-MED KRW-GRS KRW-BERA BTC-ETH BTC-XRP BTC-SOL BTC-DOGE USDT-BTC USDT-ETH
	USDT-XRP USDT-SOL"

# fixed_pages: 30 candles of minutes/1, minutes/60, days, weeks and months
# before 2026-11-20 of every fixed market from $SIM_URL, one answer a line
fixed_pages() {
	local args=() m p
	for m in $FIXED_MARKETS; do
		for p in minutes/1 minutes/60 days weeks months; do
			args+=(-o - "$SIM_URL/v1/candles/$p?market=$m&count=30&to=2026-11-20T00:00:00Z")
		done
	done
	curl -sS -w '\n' "${args[@]}"
}

@test "--extra-markets N: /v1/market/all lists 22 + N, KRW-SIM001.. after the fixed ones" {
	fixed=$(get "/v1/market/all?is_details=true")
	start_sim --seed "$SEED" --rate-limit 0 --extra-markets 200
	run get "/v1/market/all"
	[ "$(jq length <<<"$output")" -eq 222 ]
	[ "$(jq -r '[.[22:][].market] | join(" ")' <<<"$output")" = "$(printf 'KRW-SIM%03d\n' $(seq 200) | paste -sd' ')" ]
	# each with a Korean (Hangul) and an English name
	jq -e 'all(.[22:][]; (.korean_name | test("^[가-힣]+$")) and (.english_name | test("^[A-Z][a-z]+$")))' <<<"$output"
	run get "/v1/market/all?is_details=true"
	[ "$(jq -c '.[:22]' <<<"$output")" = "$fixed" ]
	jq -e 'all(.[]; keys_unsorted == ["market","korean_name","english_name","market_event"])' <<<"$output"
	stop_sim
	# markets and truth take it too: listed long ago, several price levels,
	# dense and sparse ones, all from the seed
	run "$SIM_BIN" markets --json --seed "$SEED" --extra-markets 200
	jq -e '.[22:] | length == 200 and all(.[]; .listed_at < "2025-01-01" and (.recent | not)) and
		([.[].tick] | unique | length >= 5) and
		([.[].liquidity] | index("dense") and index("medium") and index("sparse") and index("very_sparse"))' <<<"$output"
	[ "$("$SIM_BIN" markets --json --seed "$SEED" --extra-markets 200)" = "$output" ]
	[ "$("$SIM_BIN" markets --json --seed 8 --extra-markets 200 | jq -c '.[22:]')" != "$(jq -c '.[22:]' <<<"$output")" ]
	run "$SIM_BIN" markets --seed "$SEED" --extra-markets 3
	[ "$(wc -l <<<"$output")" -eq 26 ]
	[[ "${lines[25]}" =~ ^KRW-SIM003\  ]]
}

@test "--extra-markets N: the candle routes of an extra market are what truth prints for it" {
	start_sim --seed "$SEED" --rate-limit 0 --extra-markets 200
	x=(--extra-markets 200)
	for m in KRW-SIM001 KRW-SIM077 KRW-SIM200; do
		check_truth 1m minutes/1 "$m" 2026-08-03T10:40:00Z "${x[@]}"
		check_truth 60m minutes/60 "$m" 2026-08-03T10:40:00Z "${x[@]}"
		check_truth 1d days "$m" 2026-08-03T10:40:00Z "${x[@]}"
		check_truth 1w weeks "$m" 2026-08-03T10:40:00Z "${x[@]}"
	done
	check_truth 1s seconds KRW-SIM002 "$(date -u -d '-2 hours' +%Y-%m-%dT%H:%M:%S.000Z)" "${x[@]}"
	# every route serves them; beyond N there is no such market
	for p in seconds minutes/1 minutes/3 minutes/240 days weeks months years; do
		[ "$(get "/v1/candles/$p?market=KRW-SIM150&count=2" | jq length)" -eq 2 ] || { echo "$p"; false; }
	done
	run curl -sS -w ' %{http_code}' "$SIM_URL/v1/candles/days?market=KRW-SIM201"
	[ "$output" = "$E_NOTFOUND 404" ]
	stop_sim
	SIM_URL=$MAIN_URL
	[ "$(code "/v1/candles/days?market=KRW-SIM001")" = 404 ]
	run truth --market KRW-SIM001 --timeframe 1d --from 2026-01-01 --to 2026-01-02
	[ "$status" -eq 2 ]
}

@test "--extra-markets 0 (the default) and N > 0 leave the fixed markets' answers byte-identical" {
	# sha256 of the answers of the simulator before --extra-markets existed
	# (seed 7); a change to the fixed data must update them on purpose
	pages=6c7100dbac11a3cb9d99896f0ed1dae2898e4107509ad73a5e7c733ede1136e0
	list=272fb9bf3f45075475c32d949fe014e8bbd0ae573a27eadb715cf23b37657415
	details=51b1dfca916fac1a5484a2a692afacca7a585d4758688b1e31024b21ece3bdfe
	table=3e7a8ca22810c2ab5ff2431cd529c24bdef24ab77d6e8b4ecceba05f0fb72963
	[ "$SEED" = 7 ]
	[ "$(fixed_pages | sha256sum | cut -d' ' -f1)" = "$pages" ]
	[ "$(get /v1/market/all | sha256sum | cut -d' ' -f1)" = "$list" ]
	[ "$(get '/v1/market/all?is_details=true' | sha256sum | cut -d' ' -f1)" = "$details" ]
	[ "$("$SIM_BIN" markets --json --seed 7 | sha256sum | cut -d' ' -f1)" = "$table" ]
	start_sim --seed "$SEED" --rate-limit 0 --extra-markets 0
	[ "$(fixed_pages | sha256sum | cut -d' ' -f1)" = "$pages" ]
	[ "$(get /v1/market/all | sha256sum | cut -d' ' -f1)" = "$list" ]
	[ "$(get '/v1/market/all?is_details=true' | sha256sum | cut -d' ' -f1)" = "$details" ]
	[ "$("$SIM_BIN" markets --json --seed 7 --extra-markets 0 | sha256sum | cut -d' ' -f1)" = "$table" ]
	stop_sim
	start_sim --seed "$SEED" --rate-limit 0 --extra-markets 1000
	[ "$(fixed_pages | sha256sum | cut -d' ' -f1)" = "$pages" ]
	[ "$(get /v1/market/all | jq length)" -eq 1022 ]
	stop_sim
}

@test "--extra-markets: a bad N exits 2 naming the option" {
	for args in "--extra-markets -1" "--extra-markets 1001" "--extra-markets x" "--extra-markets" \
		"--extra-markets 2.5" "markets --extra-markets 100000" \
		"truth --extra-markets -3 --market KRW-BTC --timeframe 1d --from 2026-01-01 --to 2026-01-02"; do
		# shellcheck disable=SC2086
		run "$SIM_BIN" $args --port-file /dev/null
		[ "$status" -eq 2 ] || { echo "$args -> $status"; false; }
		[[ "$output" == *extra-markets* ]] || { echo "$args: $output"; false; }
	done
	run "$SIM_BIN" markets --extra-markets 1000
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1023 ]
	run "$SIM_BIN" --help
	[[ "$output" == *"--extra-markets N"* ]]
}

# ---- rate limits ---------------------------------------------------------------

# fire N requests over one keep-alive connection from source address $1
burst() { # ip n path
	local ip=$1 n=$2 path=$3 args=() i
	for ((i = 0; i < n; i++)); do args+=(-o /dev/null "$RL_URL$path"); done
	curl -s --interface "$ip" -w '%{http_code} %header{remaining-req}\n' "${args[@]}"
}

@test "rate limit: 10 per second per IP, the 11th gets 429" {
	t0=$(date +%s%N)
	run burst 127.0.0.1 11 "/v1/candles/minutes/1?market=KRW-BTC"
	t1=$(date +%s%N)
	(((t1 - t0) < 900000000)) || skip "burst took longer than one window"
	[ "$(grep -c '^200 ' <<<"$output")" -eq 10 ]
	[ "$(sed -n 1p <<<"$output")" = "200 group=candles; min=600; sec=9" ]
	[ "$(sed -n 10p <<<"$output")" = "200 group=candles; min=600; sec=0" ]
	[ "$(sed -n 11p <<<"$output")" = "429 group=candles; min=600; sec=0" ]
	run curl -s --interface 127.0.0.1 -D "$BATS_TEST_TMPDIR/h" "$RL_URL/v1/candles/days?market=KRW-BTC"
	if grep -q '^HTTP/1.1 429' "$BATS_TEST_TMPDIR/h"; then
		[ "$output" = "Too many API requests." ]
		grep -qi '^content-type: text/plain' "$BATS_TEST_TMPDIR/h"
	fi
	# other groups and other IPs have their own budget
	run curl -s --interface 127.0.0.1 -o /dev/null -w '%{http_code} %header{remaining-req}' "$RL_URL/v1/market/all"
	[ "$output" = "200 group=market; min=600; sec=9" ]
	run curl -s --interface 127.0.0.2 -o /dev/null -w '%{http_code} %header{remaining-req}' "$RL_URL/v1/candles/days?market=KRW-BTC"
	[ "$output" = "200 group=candles; min=600; sec=9" ]
	# a new window after one second
	sleep 1.1
	run curl -s --interface 127.0.0.1 -o /dev/null -w '%{http_code} %header{remaining-req}' "$RL_URL/v1/candles/days?market=KRW-BTC"
	[ "$output" = "200 group=candles; min=600; sec=9" ]
}

@test "rate limit: persistent abuse gets 418 with a doubling block" {
	ip=127.0.0.3
	run burst "$ip" 40 "/v1/candles/minutes/1?market=KRW-BTC"
	[ "$(grep -c '^418 ' <<<"$output")" -gt 0 ]
	[ "$(grep -c '^429 ' <<<"$output")" -eq 10 ]
	run curl -s --interface "$ip" -w ' %{http_code}' "$RL_URL/v1/candles/days?market=KRW-BTC"
	[[ "$output" =~ ^\{\"error\":\{\"name\":418,\"message\":\"Too\ many\ requests\.\ You\ are\ blocked\ for\ [12]\ seconds\.\"\}\}\ 418$ ]]
	# blocked IP only; another IP is fine
	[ "$(curl -s --interface 127.0.0.4 -o /dev/null -w '%{http_code}' "$RL_URL/v1/candles/days?market=KRW-BTC")" = 200 ]
	sleep 2.1
	[ "$(curl -s --interface "$ip" -o /dev/null -w '%{http_code}' "$RL_URL/v1/candles/days?market=KRW-BTC")" = 200 ]
	run burst "$ip" 40 "/v1/candles/minutes/1?market=KRW-BTC"
	run curl -s --interface "$ip" "$RL_URL/v1/candles/days?market=KRW-BTC"
	[[ "$output" == *"blocked for "[34]" seconds."* ]]
	run curl -s "$RL_URL/__sim/stats"
	jq -e '.clients["127.0.0.3"].r418 > 0 and .clients["127.0.0.3"].r429 >= 20' <<<"$output"
}

@test "rate limit: Origin header uses the origin group, 1 per 10 s" {
	ip=127.0.0.5
	run curl -s --interface "$ip" -H 'Origin: https://example.test' -o /dev/null \
		-w '%{http_code} %header{remaining-req}\n' "$RL_URL/v1/candles/days?market=KRW-BTC" \
		-o /dev/null "$RL_URL/v1/candles/days?market=KRW-BTC"
	[ "$(sed -n 1p <<<"$output")" = "200 group=origin; min=6; sec=0" ]
	[ "$(sed -n 2p <<<"$output")" = "429 group=origin; min=6; sec=0" ]
	# without Origin the candles budget is untouched
	run curl -s --interface "$ip" -o /dev/null -w '%{http_code} %header{remaining-req}' "$RL_URL/v1/candles/days?market=KRW-BTC"
	[ "$output" = "200 group=candles; min=600; sec=9" ]
}

# ---- stats ------------------------------------------------------------------------

@test "/__sim/stats counts requests, statuses, routes, candles and peaks; reset zeroes" {
	start_sim --rate-limit 0
	[ "$(curl -s -X POST "$SIM_URL/__sim/reset")" = '{"reset":true}' ]
	get "/v1/candles/minutes/1?market=KRW-BTC&count=5&to=2026-08-03T00:00:00Z" >/dev/null
	get "/v1/candles/days?market=KRW-BTC&count=7&to=2026-08-03T00:00:00Z" >/dev/null
	get "/v1/candles/days?count=7" >/dev/null
	get "/v1/nothing" >/dev/null
	curl -s --interface 127.0.0.2 "$SIM_URL/v1/market/all" >/dev/null
	run get /__sim/stats
	jq -e '.requests == 5 and .by_status["200"] == 3 and .by_status["400"] == 1 and .by_status["404"] == 1' <<<"$output"
	jq -e '.by_route["candles/minutes"] == 1 and .by_route["candles/days"] == 2 and .by_route["market/all"] == 1 and .by_route.other == 1' <<<"$output"
	jq -e '.candles_served == 12 and (.faults | keys | length) == 6' <<<"$output"
	jq -e '.clients["127.0.0.1"].requests == 4 and .clients["127.0.0.1"].peak_per_sec >= 1 and .clients["127.0.0.2"].requests == 1' <<<"$output"
	jq -e '.clients["127.0.0.1"] | has("r429") and has("r418")' <<<"$output"
	get /__sim/reset >/dev/null
	run get /__sim/stats
	jq -e '.requests == 0 and .candles_served == 0 and (.clients | length) == 0' <<<"$output"
	stop_sim
}

# ---- faults ------------------------------------------------------------------------

@test "fault 500: JSON error body" {
	start_sim --fault-rate 1 --faults 500
	run curl -s -w ' %{http_code}' "$SIM_URL/v1/candles/days?market=KRW-BTC"
	[ "$output" = '{"error":{"name":500,"message":"Internal Server Error"}} 500' ]
	[ "$(get /__sim/stats | jq '.faults["500"]')" -eq 1 ]
	stop_sim
}

@test "fault 502: HTML body" {
	start_sim --fault-rate 1 --faults 502
	run curl -s -w ' %{http_code} %{content_type}' "$SIM_URL/v1/candles/days?market=KRW-BTC"
	[[ "$output" == *"<html>"*"502 Bad Gateway"*" 502 text/html"* ]]
	stop_sim
}

@test "fault reset: connection closed without an answer" {
	start_sim --fault-rate 1 --faults reset
	run curl -s "$SIM_URL/v1/candles/days?market=KRW-BTC"
	[ "$status" -eq 52 ]
	stop_sim
}

@test "fault truncate: a 200 whose body is cut" {
	start_sim --fault-rate 1 --faults truncate
	run curl -s -o "$BATS_TEST_TMPDIR/body" -w '%{http_code}' "$SIM_URL/v1/candles/minutes/1?market=KRW-BTC&count=50"
	[ "$status" -eq 18 ]
	[ "$output" = 200 ]
	run jq . "$BATS_TEST_TMPDIR/body"
	[ "$status" -ne 0 ]
	stop_sim
}

@test "fault garbage: a 200 with a non-JSON body" {
	start_sim --fault-rate 1 --faults garbage
	run curl -s -o "$BATS_TEST_TMPDIR/body" -w '%{http_code}' "$SIM_URL/v1/candles/days?market=KRW-BTC"
	[ "$status" -eq 0 ]
	[ "$output" = 200 ]
	run jq . "$BATS_TEST_TMPDIR/body"
	[ "$status" -ne 0 ]
	stop_sim
}

@test "fault hang: no answer, other connections and SIGTERM unaffected" {
	start_sim --fault-rate 1 --faults hang
	run curl -s --max-time 1 "$SIM_URL/v1/candles/days?market=KRW-BTC"
	[ "$status" -eq 28 ]
	# faults never touch /__sim/
	curl -s --max-time 5 "$SIM_URL/__sim/stats" | jq -e '.faults.hang == 1'
	curl -s --max-time 30 "$SIM_URL/v1/candles/days?market=KRW-BTC" >/dev/null 3>&- &
	sleep 0.3
	t0=$(date +%s%N)
	kill -TERM "$SIM_PID"
	wait "$SIM_PID"
	rc=$?
	t1=$(date +%s%N)
	[ "$rc" -eq 0 ]
	(((t1 - t0) < 1500000000))
}

@test "faults: a fault rate below 1 is deterministic for a seed" {
	start_sim --fault-rate 0.5 --faults 500,502 --seed 3 --rate-limit 0
	a=$(for i in $(seq 20); do code "/v1/candles/days?market=KRW-BTC"; echo; done)
	stop_sim
	start_sim --fault-rate 0.5 --faults 500,502 --seed 3 --rate-limit 0
	b=$(for i in $(seq 20); do code "/v1/candles/days?market=KRW-BTC"; echo; done)
	stop_sim
	[ "$a" = "$b" ]
	grep -q 200 <<<"$a"
	grep -qE '50[02]' <<<"$a"
}

@test "latency: per-request delay with jitter, independent per connection" {
	start_sim --latency-ms 400 --rate-limit 0
	run curl -s -o /dev/null -w '%{time_total}' "$SIM_URL/v1/candles/days?market=KRW-BTC"
	awk -v t="$output" 'BEGIN { exit !(t >= 0.35 && t < 1.0) }'
	t0=$(date +%s%N)
	curl -s --parallel --parallel-immediate -o /dev/null -o /dev/null -o /dev/null \
		"$SIM_URL/v1/candles/days?market=KRW-BTC" "$SIM_URL/v1/candles/days?market=KRW-ETH" \
		"$SIM_URL/v1/candles/days?market=KRW-XRP"
	t1=$(date +%s%N)
	(((t1 - t0) < 1000000000))
	stop_sim
}

# ---- command line ------------------------------------------------------------------

@test "bad options exit 2 with a message; --help exits 0" {
	for args in "--port abc" "--port 70000" "--fault-rate 2" "--fault-rate x" "--faults foo" \
		"--rate-limit -1" "--bogus" "--seed x" "--listed-at yesterday" "--latency-ms -5" \
		"--block-seconds 0" "--port" "extra" "serve extra" "markets --port 1" "--seed -1" \
		"truth --market KRW-BTC" "truth --market KRW-BTC --timeframe 2m --from 2026-01-01T00:00:00Z --to 2026-01-02T00:00:00Z" \
		"truth --market KRW-NOPE --timeframe 1m --from 2026-01-01T00:00:00Z --to 2026-01-02T00:00:00Z" \
		"truth --market KRW-BTC --timeframe 1m --from x --to 2026-01-02T00:00:00Z" \
		"truth --market KRW-BTC --timeframe 1m --from 2026-01-01T00:00:00Z --to x"; do
		# shellcheck disable=SC2086
		run "$SIM_BIN" $args
		[ "$status" -eq 2 ] || { echo "$args -> $status"; false; }
		[ -n "$output" ]
	done
	run "$SIM_BIN" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *--port-file* ]]
	run "$SIM_BIN" truth -h
	[ "$status" -eq 0 ]
	[[ "$output" == usage:* ]]
	# an option of another command names itself
	run "$SIM_BIN" markets --port 1
	[[ "$output" == *"option --port not valid here"* ]]
	# a port in use is a runtime failure (exit 1), not a second listener
	port=${MAIN_URL##*:}
	run timeout 5 "$SIM_BIN" --port "$port"
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot listen"* ]]
}

@test "SIGTERM and SIGINT stop it cleanly with exit 0" {
	for sig in TERM INT; do
		"$SIM_BIN" --port 0 --port-file "$BATS_TEST_TMPDIR/p.$sig" 2>/dev/null 3>&- &
		pid=$!
		sim_register "$pid"
		for i in $(seq 100); do [ -s "$BATS_TEST_TMPDIR/p.$sig" ] && break; sleep 0.05; done
		curl -s "http://127.0.0.1:$(cat "$BATS_TEST_TMPDIR/p.$sig")/v1/candles/days?market=KRW-BTC" >/dev/null
		kill -"$sig" "$pid"
		wait "$pid"
	done
}
