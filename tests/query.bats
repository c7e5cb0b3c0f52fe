#!/usr/bin/env bats
# The read side: ./run.sh query, gaps and export (query/cp-query) against
# databases the pipeline collected from the simulator, compared with its truth.

load pipeline_helpers
bats_require_minimum_version 1.5.0

setup_file() {
	load pipeline_helpers
	start_file_sim --rate-limit 0
}

teardown_file() {
	load sim_helpers
	stop_all_sims
}

teardown() {
	if [ -n "${RO:-}" ]; then
		chmod -R u+w "$RO"
		rm -rf "$RO"
	fi
}

setup() {
	use_file_sim
	DB="$BATS_TEST_TMPDIR/q.db"
	CPQ="$ROOT/query/cp-query"
}

# col M TF FROM TO: collect [FROM, TO) of M TF into $DB
col() {
	run collect --market "$1" --timeframe "$2" --from "$3" --to "$4" --db "$DB" --rate 0 --quiet
	echo "$output"
	[ "$status" -eq 0 ]
}

query() { "$ROOT/run.sh" query --db "$DB" "$@" 3>&-; }

@test "query: a range assembled from many overlapping chunks equals the truth" {
	col KRW-BTC 1m 2026-10-01T00:00:00 2026-10-01T02:00:00
	col KRW-BTC 1m 2026-10-01T01:30:00 2026-10-01T04:10:00
	col KRW-BTC 1m 2026-10-01T03:00:00 2026-10-01T05:00:00
	col KRW-BTC 1m 2026-10-01T06:00:00 2026-10-01T08:00:00
	col KRW-BTC 1m 2026-10-01T04:30:00 2026-10-01T06:30:00
	[ "$(sqlite3 "$DB" "SELECT COUNT(*) FROM coverage")" -eq 1 ]
	truth KRW-BTC 1m 2026-10-01T00:00:00 2026-10-01T08:00:00 >"$BATS_TEST_TMPDIR/truth"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/truth")" -eq 480 ]
	query --market KRW-BTC --timeframe 1m --from 2026-10-01T00:00:00 --to 2026-10-01T08:00:00 \
		--format jsonl >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err"
	diff "$BATS_TEST_TMPDIR/truth" "$BATS_TEST_TMPDIR/out"
	# the same through the other formats
	query --market KRW-BTC --timeframe 1m --from 2026-10-01T00:00:00 --to 2026-10-01T08:00:00 \
		--format json 2>/dev/null >"$BATS_TEST_TMPDIR/json"
	jq -e 'length == 480' "$BATS_TEST_TMPDIR/json"
	sed '1d;$d;s/,$//' "$BATS_TEST_TMPDIR/json" | diff "$BATS_TEST_TMPDIR/truth" -
	query --market KRW-BTC --timeframe 1m --from 2026-10-01T00:00:00 --to 2026-10-01T08:00:00 \
		--format csv 2>/dev/null >"$BATS_TEST_TMPDIR/csv"
	[ "$(head -1 "$BATS_TEST_TMPDIR/csv" | cut -d, -f1-5)" = "market,timeframe,candle_date_time_utc,candle_date_time_kst,opening_price" ]
	[ "$(tail -n +2 "$BATS_TEST_TMPDIR/csv" | wc -l)" -eq 480 ]
	diff <(tail -n +2 "$BATS_TEST_TMPDIR/csv" | cut -d, -f8) \
		<(grep -o '"trade_price":[0-9.]*' "$BATS_TEST_TMPDIR/truth" | cut -d: -f2)
	query --market KRW-BTC --timeframe 1m --from 2026-10-01T00:00:00 --to 2026-10-01T08:00:00 \
		2>/dev/null >"$BATS_TEST_TMPDIR/table"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/table")" -eq 481 ]
	[[ "$(head -1 "$BATS_TEST_TMPDIR/table")" == "time (UTC)"*"close"*"volume"* ]]
	# a sub-range: from inclusive, to exclusive, unaligned bounds round up
	query --market KRW-BTC --timeframe 1m --from 2026-10-01T01:59:30 --to 2026-10-01T02:01:59 \
		--format jsonl 2>/dev/null >"$BATS_TEST_TMPDIR/sub"
	truth KRW-BTC 1m 2026-10-01T02:00:00 2026-10-01T02:02:00 | diff - "$BATS_TEST_TMPDIR/sub"
	# a KST offset means the same instant
	query --market KRW-BTC --timeframe 1m --from 2026-10-01T11:00:00+09:00 --to 2026-10-01T12:00:00+09:00 \
		--format jsonl 2>/dev/null | diff <(truth KRW-BTC 1m 2026-10-01T02:00:00 2026-10-01T03:00:00) -
}

@test "query: the coverage report is right for full, partial and no coverage" {
	col KRW-BTC 1h 2026-09-01T00:00:00 2026-09-03T00:00:00
	run --separate-stderr query --market KRW-BTC --timeframe 1h --from 2026-09-01 --to 2026-09-03
	[ "$status" -eq 0 ]
	echo "$stderr"
	[[ "$stderr" == *"48/48 slots covered (100.00%), strategy full"* ]]
	[[ "$stderr" != *"missing:"* ]]

	run --separate-stderr query --market KRW-BTC --timeframe 1h --from 2026-09-02 --to 2026-09-05 --format csv
	[ "$status" -eq 0 ]
	echo "$stderr"
	[[ "$stderr" == *"24/72 slots covered (33.33%), strategy partial"* ]]
	[[ "$stderr" == *"missing: [2026-09-03T00:00:00, 2026-09-05T00:00:00) 48 slots (2d)"* ]]
	[ "$(echo "$output" | tail -n +2 | wc -l)" -eq 24 ]

	run --separate-stderr query --market KRW-BTC --timeframe 1h --from 2026-08-31T20:00 --to 2026-09-01T02:00 --format jsonl
	[[ "$stderr" == *"2/6 slots covered (33.33%), strategy partial"* ]]
	[[ "$stderr" == *"missing: [2026-08-31T20:00:00, 2026-09-01T00:00:00) 4 slots (4h)"* ]]

	run --separate-stderr query --market KRW-ETH --timeframe 1h --from 2026-09-01 --to 2026-09-02 --format jsonl
	[ "$status" -eq 0 ]
	echo "$stderr"
	[[ "$stderr" == *"0/24 slots covered (0.00%), strategy none"* ]]
	[[ "$stderr" == *"missing: [2026-09-01T00:00:00, 2026-09-02T00:00:00) 24 slots (1d)"* ]]
	[ -z "$output" ]
}

@test "query --fill forward fills exactly the proven-empty slots of a sparse market" {
	# two covered stretches with a never-fetched day between them
	col KRW-ZIL 1m 2026-10-01T00:00:00 2026-10-01T06:00:00
	col KRW-ZIL 1m 2026-10-03T00:00:00 2026-10-03T06:00:00
	# and an hour proven (by hand) inside the never-fetched day: its slots are
	# empty but their previous close is unknown, so they stay out
	sqlite3 "$DB" "INSERT INTO coverage VALUES ('KRW-ZIL', '1m', '2026-10-02T00:00:00', '2026-10-02T01:00:00')"
	local from=2026-10-01T02:00:00 to=2026-10-03T04:00:00
	run --separate-stderr query --market KRW-ZIL --timeframe 1m --from $from --to $to --fill forward --format csv
	[ "$status" -eq 0 ]
	echo "$stderr"
	[[ "$stderr" == *"strategy partial"* ]]
	[[ "$stderr" == *"missing: [2026-10-01T"* ]]
	echo "$output" >"$BATS_TEST_TMPDIR/csv"
	[[ "$(head -1 "$BATS_TEST_TMPDIR/csv")" == *",first_day_of_period,filled" ]]

	# real rows are exactly the stored candles
	awk -F, 'NR > 1 && $18 == 0' "$BATS_TEST_TMPDIR/csv" | cut -d, -f3 >"$BATS_TEST_TMPDIR/real"
	sqlite3 "$DB" "SELECT candle_date_time_utc FROM candles_exact WHERE market = 'KRW-ZIL'
		AND candle_date_time_utc >= '$from' AND candle_date_time_utc < '$to' ORDER BY 1" |
		diff - "$BATS_TEST_TMPDIR/real"
	# every filled row is flat at the previous row's close, with zero volume
	# (the previous row is the previous slot: see the exact set below)
	awk -F, 'NR > 2 && $18 == 1 && ($5 != pc || $6 != pc || $7 != pc || $8 != pc ||
			$10 != "0" || $11 != "0") { print "bad fill: " $0 " after close " pc; bad = 1 }
		NR > 1 { pc = $8 }
		END { exit bad }' "$BATS_TEST_TMPDIR/csv"
	# the filled slots are exactly: covered, no candle, and since the last
	# real candle nothing unfetched (the previous close is proven)
	awk -F, 'NR > 1 && $18 == 1' "$BATS_TEST_TMPDIR/csv" | cut -d, -f3 >"$BATS_TEST_TMPDIR/filled"
	[ -s "$BATS_TEST_TMPDIR/filled" ]
	sqlite3 "$DB" "WITH RECURSIVE s(t) AS (
			SELECT unixepoch('2026-09-30T00:00:00') UNION ALL SELECT t + 60 FROM s
			WHERE t + 60 < unixepoch('$to')),
		g AS (SELECT strftime('%Y-%m-%dT%H:%M:%S', t, 'unixepoch') AS u FROM s),
		f AS (SELECT u,
			EXISTS(SELECT 1 FROM candles_exact WHERE market = 'KRW-ZIL' AND timeframe = '1m'
				AND candle_date_time_utc = g.u) AS c,
			EXISTS(SELECT 1 FROM coverage WHERE market = 'KRW-ZIL' AND timeframe = '1m'
				AND from_utc <= g.u AND to_utc > g.u) AS cov FROM g),
		w AS (SELECT u, c, cov,
			max(CASE WHEN c THEN u END) OVER (ORDER BY u ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS lc,
			max(CASE WHEN NOT cov AND NOT c THEN u END) OVER (ORDER BY u ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS lu
			FROM f)
		SELECT u FROM w WHERE u >= '$from' AND cov AND NOT c AND lc > coalesce(lu, '')
		ORDER BY u" | diff - "$BATS_TEST_TMPDIR/filled"
	# nothing in the never-fetched part
	local hole_from hole_to
	hole_from=$(sqlite3 "$DB" "SELECT to_utc FROM coverage WHERE market='KRW-ZIL' ORDER BY from_utc LIMIT 1")
	hole_to=$(sqlite3 "$DB" "SELECT from_utc FROM coverage WHERE market='KRW-ZIL' ORDER BY from_utc LIMIT 1 OFFSET 1")
	[ "$(awk -F, -v a="$hole_from" -v b="$hole_to" 'NR > 1 && $3 >= a && $3 < b' "$BATS_TEST_TMPDIR/csv" | wc -l)" -eq 0 ]
	# and the hand-proven hour after it stays out
	[[ "$stderr" == *"; 60 empty slots left out (no proven previous close)"* ]]
	[ "$(grep -c ',2026-10-02T00:' "$BATS_TEST_TMPDIR/csv")" -eq 0 ]
	# jsonl: the same rows with a "filled" field last
	query --market KRW-ZIL --timeframe 1m --from $from --to $to --fill forward --format jsonl 2>/dev/null |
		jq -r 'select(.filled == 1) | .candle_date_time_utc' | diff "$BATS_TEST_TMPDIR/filled" -
	query --market KRW-ZIL --timeframe 1m --from $from --to $to --fill forward --format jsonl 2>/dev/null |
		grep '"filled":0}$' | sed 's/,"filled":0}$/}/' |
		diff <(db_dump "$DB" KRW-ZIL 1m $from $to) -
}

@test "gaps: exactly the hole between two disjoint collections, and the no-trade stretches" {
	col KRW-BTC 1m 2026-10-01T00:00:00 2026-10-01T02:00:00
	col KRW-BTC 1m 2026-10-01T05:00:00 2026-10-01T07:00:00
	run "$ROOT/run.sh" gaps --market KRW-BTC --timeframe 1m --db "$DB" --format json
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -c '.missing')" = '[{"from":"2026-10-01T02:00:00","to":"2026-10-01T05:00:00","slots":180,"seconds":10800}]' ]
	[ "$(echo "$output" | jq -c '.no_trade')" = '[]' ]
	[ "$(echo "$output" | jq -r '.from + " " + .to')" = "2026-10-01T00:00:00 2026-10-01T07:00:00" ]
	# an explicit wider range adds the leading and trailing parts
	run "$ROOT/run.sh" gaps --market KRW-BTC --timeframe 1m --db "$DB" --from 2026-09-30T23:00 --to 2026-10-01T08:00 --format json
	[ "$(echo "$output" | jq -c '[.missing[] | [.from, .slots]]')" = '[["2026-09-30T23:00:00",60],["2026-10-01T02:00:00",180],["2026-10-01T07:00:00",60]]' ]
	run "$ROOT/run.sh" gaps --market KRW-BTC --timeframe 1m --db "$DB"
	echo "$output"
	[[ "$output" == *"missing         2026-10-01T02:00:00  2026-10-01T05:00:00           180  3h"* ]]
	[[ "$output" == *"summary: 1 missing range (180 slots), 0 no-trade stretches"* ]]

	# a sparse market: the stretches are the covered slots without a candle
	col KRW-MED 1m 2026-10-01T00:00:00 2026-10-02T00:00:00
	run "$ROOT/run.sh" gaps --market KRW-MED --timeframe 1m --db "$DB" --format json
	[ "$status" -eq 0 ]
	local covered candles
	covered=$(sqlite3 "$DB" "SELECT SUM((unixepoch(to_utc) - unixepoch(from_utc)) / 60) FROM coverage WHERE market='KRW-MED'")
	candles=$(sqlite3 "$DB" "SELECT COUNT(*) FROM candles_exact WHERE market='KRW-MED'")
	[ "$(echo "$output" | jq '.no_trade_slots')" -eq $((covered - candles)) ]
	[ "$(echo "$output" | jq '[.no_trade[].slots] | add')" -eq $((covered - candles)) ]
	[ "$(echo "$output" | jq '.missing_slots')" -eq 0 ]
	# maximal runs: no stretch touches the next one
	echo "$output" | jq -e '[.no_trade | range(1; length) as $i | select(.[$i - 1].to >= .[$i].from)] | length == 0'
	# a dead 3-hour block of a very sparse market shows as one long stretch
	echo "$output" | jq -e '.longest_no_trade_seconds >= 3600'
}

@test "gaps --min-length N lists only the no-trade stretches of N intervals or more" {
	# a thin market with one real hole: the hour after what was collected
	col KRW-MED 1m 2026-10-01T00:00:00 2026-10-01T12:00:00
	local all some r=(--from 2026-10-01T00:00 --to 2026-10-01T13:00)
	all=$("$ROOT/run.sh" gaps --market KRW-MED --timeframe 1m --db "$DB" "${r[@]}" --format json)
	some=$("$ROOT/run.sh" gaps --market KRW-MED --timeframe 1m --db "$DB" "${r[@]}" --format json --min-length 30)
	echo "$all" | jq -e '.no_trade | length > 50'
	echo "$all" | jq -e '.min_length == 1 and .no_trade_not_listed == 0'
	# only the long ones are listed; the totals still count every stretch
	echo "$some" | jq -e '[.no_trade[].slots] | all(. >= 30)'
	[ "$(echo "$some" | jq '.no_trade | length')" -eq "$(echo "$all" | jq '[.no_trade[] | select(.slots >= 30)] | length')" ]
	[ "$(echo "$some" | jq '.no_trade_not_listed')" -eq "$(echo "$all" | jq '[.no_trade[] | select(.slots < 30)] | length')" ]
	[ "$(echo "$some" | jq -c '[.no_trade_stretches, .no_trade_slots, .missing]')" = "$(echo "$all" | jq -c '[.no_trade_stretches, .no_trade_slots, .missing]')" ]
	# the table: the hole stands out, the summary says what was left out
	run "$ROOT/run.sh" gaps --market KRW-MED --timeframe 1m --db "$DB" "${r[@]}" --min-length 30
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"missing         2026-10-01T12:00:00  2026-10-01T13:00:00            60  1h"* ]]
	[ "$(grep -c '^no-trade' <<<"$output")" -eq "$(echo "$some" | jq '.no_trade | length')" ]
	[[ "$output" == *"shorter than 30 slots not listed"* ]]
	run "$ROOT/run.sh" gaps --help
	[[ "$output" == *"--min-length N   list only the no-trade stretches of at least N"*"intervals of TF"* ]]
	run "$ROOT/run.sh" gaps --market KRW-MED --timeframe 1m --db "$DB" --min-length 0
	[ "$status" -eq 2 ]
	[[ "$output" == *"--min-length must be a whole number from 1 to"* ]]
}

@test "query and gaps take one market: a list or 'all' is a usage error pointing at export" {
	col KRW-BTC 1m 2026-10-01T00:00:00 2026-10-01T00:10:00
	local m
	for m in KRW-BTC,KRW-ETH all; do
		run --separate-stderr query --market "$m" --timeframe 1m --from 2026-10-01 --to 2026-10-02
		[ "$status" -eq 2 ]; [ -z "$output" ]
		[ "$stderr" = "cp-query query: --market $m: query takes one market; for several, use export (--market all, or one at a time)"$'\n'"try './run.sh query --help'" ]
		run --separate-stderr "$ROOT/run.sh" gaps --db "$DB" --market "$m" --timeframe 1m
		[ "$status" -eq 2 ]
		[[ "$stderr" == "cp-query gaps: --market $m: gaps takes one market; run it once for each"* ]]
	done
	run --separate-stderr "$ROOT/run.sh" export --db "$DB" --market KRW-BTC,KRW-ETH --format csv
	[ "$status" -eq 2 ]
	[[ "$stderr" == "cp-query export: --market KRW-BTC,KRW-ETH: export takes one market or 'all'"* ]]
	run "$ROOT/run.sh" query --help
	[[ "$output" == *"M is one market"* ]]
}

@test "gaps: the part before the listing is before-history, not a gap" {
	col KRW-BERA 1m 2026-10-31T12:00:00 2026-11-01T12:00:00
	local hs
	hs=$(sqlite3 "$DB" "SELECT first_utc FROM history_start WHERE market='KRW-BERA'")
	[ -n "$hs" ]
	run "$ROOT/run.sh" gaps --market KRW-BERA --timeframe 1m --db "$DB" --from 2026-10-30T00:00 --to 2026-11-01T12:00 --format json
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r '.before_history[0].from + " " + .before_history[0].to')" = "2026-10-30T00:00:00 $hs" ]
	[ "$(echo "$output" | jq '.missing | length')" -eq 0 ]
	run "$ROOT/run.sh" gaps --market KRW-BERA --timeframe 1m --db "$DB"
	[[ "$output" != *"before-history"* ]]
	[[ "$output" == *"summary: 0 missing ranges"* ]]
	run --separate-stderr query --market KRW-BERA --timeframe 1m --from 2026-10-31 --to 2026-11-01T01:00 --format jsonl
	[[ "$stderr" == *"strategy full"* ]]
	[[ "$stderr" == *"before history"* ]]
}

@test "export: jsonl equals the truth; all markets; csv; --output" {
	col KRW-BTC 1d 2026-01-01T00:00:00 2026-10-01T00:00:00
	col KRW-ETH 1w 2025-01-06T00:00:00 2026-09-28T00:00:00
	col KRW-XRP 1m 2026-10-01T00:00:00 2026-10-01T03:00:00
	run "$ROOT/run.sh" export --market KRW-BTC --timeframe 1d --format jsonl --db "$DB"
	[ "$status" -eq 0 ]
	diff <(truth KRW-BTC 1d 2026-01-01T00:00:00 2026-10-01T00:00:00) <(echo "$output")
	"$ROOT/run.sh" export --market KRW-ETH --format jsonl --db "$DB" --from 2025-03-01 --to 2026-01-01 >"$BATS_TEST_TMPDIR/w"
	truth KRW-ETH 1w 2025-03-01T00:00:00 2026-01-01T00:00:00 | diff - "$BATS_TEST_TMPDIR/w"
	"$ROOT/run.sh" export --market all --timeframe all --format csv --db "$DB" --output "$BATS_TEST_TMPDIR/all.csv"
	[ ! -e "$BATS_TEST_TMPDIR/all.csv.part" ]
	[ "$(tail -n +2 "$BATS_TEST_TMPDIR/all.csv" | wc -l)" -eq "$(sqlite3 "$DB" "SELECT COUNT(*) FROM candles_exact")" ]
	[ "$(tail -n +2 "$BATS_TEST_TMPDIR/all.csv" | cut -d, -f1,2 | uniq | tr '\n' ' ')" = "KRW-BTC,1d KRW-ETH,1w KRW-XRP,1m " ]
	# exact decimal text, not a double's
	[ "$(tail -n +2 "$BATS_TEST_TMPDIR/all.csv" | cut -d, -f1-3,10 | grep '^KRW-BTC,1d,2026-05-05' | cut -d, -f4)" = \
		"$(truth KRW-BTC 1d 2026-05-05T00:00:00 2026-05-06T00:00:00 | grep -o '"candle_acc_trade_price":[0-9.]*' | cut -d: -f2)" ]
}

@test "export: a million candles stream with RSS under 20 MB" {
	[ "${SANITIZE:-0}" != 1 ] || skip "RSS is not meaningful under ASan (make test SANITIZE=1)"
	col KRW-BTC 1m 2026-10-01T00:00:00 2026-10-01T00:10:00
	sqlite3 "$DB" "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999999)
		INSERT INTO candles_exact SELECT 'KRW-BIG', '1m',
			strftime('%Y-%m-%dT%H:%M:%S', 1600000000 + 60 * i, 'unixepoch'),
			strftime('%Y-%m-%dT%H:%M:%S', 1600000000 + 60 * i + 32400, 'unixepoch'),
			'100.00000000', '101.00000000', '99.00000000', '100.50000000',
			(1600000000 + 60 * i) * 1000 + 59000, '1234567.12345678', '12345.67890000',
			1, NULL, NULL, NULL, NULL, NULL FROM n"
	[ "$(sqlite3 "$DB" "SELECT COUNT(*) FROM candles_exact WHERE market = 'KRW-BIG'")" -eq 1000000 ]
	local fmt rss lines
	for fmt in jsonl csv; do
		if [ -x /usr/bin/time ]; then
			/usr/bin/time -f %M -o "$BATS_TEST_TMPDIR/rss" "$CPQ" export --market all --format $fmt \
				--db "$DB" >"$BATS_TEST_TMPDIR/out" 3>&-
			rss=$(tail -1 "$BATS_TEST_TMPDIR/rss")
		else
			"$CPQ" export --market all --format $fmt --db "$DB" >"$BATS_TEST_TMPDIR/out" 3>&- &
			local pid=$! hwm=0 v
			while kill -0 $pid 2>/dev/null; do
				v=$(awk '/VmHWM/ { print $2 }' /proc/$pid/status 2>/dev/null)
				[ -n "$v" ] && [ "$v" -gt "$hwm" ] && hwm=$v
				sleep 0.01
			done
			wait $pid
			rss=$hwm
		fi
		lines=$(wc -l <"$BATS_TEST_TMPDIR/out")
		echo "# export $fmt: $lines lines, peak RSS $rss KiB" >&3
		[ "$lines" -ge 1000010 ]
		[ "$rss" -gt 0 ]
		[ "$rss" -lt 20480 ]
	done
}

@test "query --fetch-missing collects the missing parts, then answers" {
	col KRW-SOL 1m 2026-10-01T01:00:00 2026-10-01T02:00:00
	local before after
	run --separate-stderr "$ROOT/run.sh" query --db "$DB" --market KRW-SOL --timeframe 1m \
		--from 2026-10-01T00:00:00 --to 2026-10-01T03:00:00 --format jsonl --fetch-missing \
		--api-url "$SIM_URL" --rate 0 3>&-
	echo "$stderr"
	[ "$status" -eq 0 ]
	diff <(truth KRW-SOL 1m 2026-10-01T00:00:00 2026-10-01T03:00:00) <(echo "$output")
	[[ "$stderr" == *"180/180 slots covered (100.00%), strategy full"* ]]
	# nothing missing any more: no collection, no request
	before=$(candle_requests)
	run --separate-stderr "$ROOT/run.sh" query --db "$DB" --market KRW-SOL --timeframe 1m \
		--from 2026-10-01T00:00:00 --to 2026-10-01T03:00:00 --format jsonl --fetch-missing \
		--api-url "$SIM_URL" 3>&-
	[ "$status" -eq 0 ]
	[[ "$stderr" != *"fetch-missing:"* ]]
	after=$(candle_requests)
	[ "$before" -eq "$after" ]
	# a database that does not exist yet is created by the collection
	run --separate-stderr "$ROOT/run.sh" query --db "$BATS_TEST_TMPDIR/new.db" --market KRW-SOL \
		--timeframe 1h --from 2026-09-01 --to 2026-09-02 --format jsonl --fetch-missing \
		--api-url "$SIM_URL" --rate 0 3>&-
	[ "$status" -eq 0 ]
	diff <(truth KRW-SOL 1h 2026-09-01T00:00:00 2026-09-02T00:00:00) <(echo "$output")
}

@test "usage errors exit 2, a missing database exits 1, help exits 0, nothing is written" {
	run "$ROOT/run.sh" query --market KRW-BTC --timeframe 1m --from 2026-10-01 --db "$BATS_TEST_TMPDIR/none.db"
	[ "$status" -eq 1 ]; [[ "$output" == *"does not exist"* ]]
	run "$ROOT/run.sh" export --market all --format csv --db "$BATS_TEST_TMPDIR/none.db"
	[ "$status" -eq 1 ]
	run "$ROOT/run.sh" gaps --market KRW-BTC --timeframe 1m --db "$BATS_TEST_TMPDIR/none.db"
	[ "$status" -eq 1 ]
	[ ! -e "$BATS_TEST_TMPDIR/none.db" ]
	run "$ROOT/run.sh" query --market KRW-BTC --timeframe 2m --from 2026-10-01 --db "$DB"
	[ "$status" -eq 2 ]; [[ "$output" == *"unknown timeframe '2m'"* ]]; [ "${#lines[@]}" -eq 2 ]
	# one shape: the program and the command, the message, the help to read
	[ "${lines[0]}" = "cp-query query: unknown timeframe '2m' (1s 1m 3m 5m 10m 15m 30m 1h 4h 1d 1w 1M 1y)" ]
	[ "${lines[1]}" = "try './run.sh query --help'" ]
	run "$ROOT/run.sh" query --market KRW-BTC --timeframe 1m --from 2026-13-01 --db "$DB"
	[ "$status" -eq 2 ]; [[ "$output" == *"bad time"* ]]
	run "$ROOT/run.sh" query --market KRW-BTC --timeframe 1m --from 2026-10-02 --to 2026-10-01 --db "$DB"
	[ "$status" -eq 2 ]
	run "$ROOT/run.sh" query --timeframe 1m --from 2026-10-01 --db "$DB"
	[ "$status" -eq 2 ]; [[ "$output" == *"--market is required"* ]]
	run "$ROOT/run.sh" query --market KRW-BTC --timeframe 1m --from 2026-10-01 --format xml --db "$DB"
	[ "$status" -eq 2 ]; [[ "$output" == *"--format must be table, csv, json or jsonl, not 'xml'"* ]]
	run "$ROOT/run.sh" gaps --market KRW-BTC --db "$DB"
	[ "$status" -eq 2 ]; [[ "$output" == *"--timeframe is required"* ]]
	run "$ROOT/run.sh" query --market KRW-BTC --timeframe 1m --from 2026-10-01 --fill backward --db "$DB"
	[ "$status" -eq 2 ]
	run "$ROOT/run.sh" query --market KRW-BTC --timeframe 1m --from 2026-10-01 --bogus --db "$DB"
	[ "$status" -eq 2 ]; [[ "$output" == *"unrecognized option '--bogus'"* ]]; [ "${#lines[@]}" -eq 2 ]
	[ "${lines[1]}" = "try './run.sh query --help'" ]
	run "$ROOT/run.sh" query --market KRW-BTC --timeframe 1m --from
	[ "$status" -eq 2 ]; [[ "$output" == *"option '--from' requires an argument"* ]]
	run "$ROOT/run.sh" gaps --market KRW-BTC --timeframe 1m --format csv --db "$DB"
	[ "$status" -eq 2 ]
	run "$ROOT/run.sh" export --market all --db "$DB"
	[ "$status" -eq 2 ]; [[ "$output" == *"--format is required"* ]]
	run "$ROOT/run.sh" export --market all --format table --db "$DB"
	[ "$status" -eq 2 ]
	run "$ROOT/run.sh" export --market all --timeframe 7m --format csv --db "$DB"
	[ "$status" -eq 2 ]
	for c in query gaps export; do
		run "$ROOT/run.sh" $c --help
		[ "$status" -eq 0 ]; [[ "$output" == "usage: ./run.sh $c"* ]]
	done

	# read-only: the database and its WAL do not change (-shm holds readers' marks)
	col KRW-BTC 1m 2026-10-01T00:00:00 2026-10-01T01:00:00
	local sum1 sum2
	sum1=$(cat "$DB" "$DB-wal" 2>/dev/null | sha1sum)
	query --market KRW-BTC --timeframe 1m --from 2026-10-01 --to 2026-10-02 --fill forward >/dev/null 2>&1
	"$ROOT/run.sh" gaps --market KRW-BTC --timeframe 1m --db "$DB" >/dev/null
	"$ROOT/run.sh" export --market all --format jsonl --db "$DB" >/dev/null
	sum2=$(cat "$DB" "$DB-wal" 2>/dev/null | sha1sum)
	[ "$sum1" = "$sum2" ]
	# and it works on a read-only file
	chmod a-w "$DB"
	run "$ROOT/run.sh" export --market KRW-BTC --format jsonl --db "$DB"
	chmod u+w "$DB"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 60 ]
}

# tofull CMD...: CMD with its stdout on a full disk
tofull() { "$@" >/dev/full; }

# empty_db: $DB with the pipeline's schema and nothing in it
empty_db() {
	col KRW-BTC 1d 2026-01-01T00:00:00 2026-01-02T00:00:00 >/dev/null
	sqlite3 "$DB" "DELETE FROM candles_exact; DELETE FROM coverage; DELETE FROM history_start"
}

# candle M TF UTC CLOSE [CONVERTED [FIRST_DAY]]: a hand-made candle in $DB
candle() {
	sqlite3 "$DB" "INSERT INTO candles_exact VALUES ('$1', '$2', '$3',
		coalesce(strftime('%Y-%m-%dT%H:%M:%S', unixepoch('$3') + 32400, 'unixepoch'), '$3'),
		'1', '$4', '1', '$4', coalesce(unixepoch('$3') * 1000, 0), '10', '2',
		NULL, NULL, NULL, NULL, ${5:-NULL}, ${6:-NULL})"
}

@test "cp-query without a command, with help or an unknown one" {
	run --separate-stderr "$CPQ"
	[ "$status" -eq 2 ]
	[[ "$stderr" == "usage: cp-query COMMAND [options]"* ]]
	[ -z "$output" ]
	run --separate-stderr "$CPQ" help
	[ "$status" -eq 0 ]
	[[ "$output" == "usage: cp-query COMMAND [options]"* ]]
	[[ "$output" == *"  gaps    the ranges never fetched"* ]]
	run --separate-stderr "$CPQ" frob
	[ "$status" -eq 2 ]
	[ "$stderr" = "cp-query: unknown command 'frob' (query, gaps, export or verify)"$'\n'"try 'cp-query --help'" ]
}

@test "each command's own usage errors name the command and exit 2" {
	local see
	run --separate-stderr "$CPQ" query --market KRW-BTC --timeframe 1m --db "$DB"
	[ "$status" -eq 2 ]
	[ "$stderr" = "cp-query query: --from is required"$'\n'"try 'cp-query query --help'" ]
	run --separate-stderr env CP_USAGE_HINT="my-wrapper --help" "$CPQ" query --market KRW-BTC --timeframe 1m --db "$DB"
	[ "$stderr" = "cp-query query: --from is required"$'\n'"try 'my-wrapper --help'" ]
	run --separate-stderr "$CPQ" query --market KRW-BTC --timeframe 1m --from 2026-10-01 --rate 5 --db "$DB"
	[ "$status" -eq 2 ]
	[[ "$stderr" == "cp-query query: --api-url and --rate go with --fetch-missing"* ]]
	run --separate-stderr "$CPQ" query --market KRW-BTC --timeframe 1m --from 2026-10-01 --fill backward --db "$DB"
	[ "$status" -eq 2 ]
	[[ "$stderr" == "cp-query query: --fill must be none or forward, not 'backward'"* ]]
	run --separate-stderr "$CPQ" export --format csv --db "$DB"
	[ "$status" -eq 2 ]
	[[ "$stderr" == "cp-query export: --market is required (a market or 'all')"* ]]
	run --separate-stderr "$CPQ" export --market all --format csv --from 2026-10-02 --to 2026-10-01 --db "$DB"
	[ "$status" -eq 2 ]
	[[ "$stderr" == "cp-query export: --from is after --to"* ]]
	run --separate-stderr "$CPQ" export --market all --format csv --output "" --db "$DB"
	[ "$status" -eq 2 ]
	[[ "$stderr" == "cp-query export: --output needs a file name"* ]]
	run --separate-stderr "$CPQ" gaps --market KRW-BTC --timeframe 1m --to 2026-13-01 --db "$DB"
	[ "$status" -eq 2 ]
	[[ "$stderr" == "cp-query gaps: --to: bad time '2026-13-01'"* ]]
	# gaps checks the order of --from and --to against the database's range
	empty_db
	run --separate-stderr "$CPQ" gaps --market KRW-BTC --timeframe 1m --from 2026-10-02 --to 2026-10-01 --db "$DB"
	[ "$status" -eq 2 ]
	[[ "$stderr" == "cp-query gaps: --from is after --to"* ]]
	[ -z "$output" ]
}

@test "a file that is not our database: one line naming it, exit 3 (permanent), for every command" {
	local c args
	echo "not a database at all, just text that is long enough to be read" >"$BATS_TEST_TMPDIR/text.db"
	sqlite3 "$BATS_TEST_TMPDIR/other.db" "CREATE TABLE t(x); INSERT INTO t VALUES (1)"
	empty_db
	cp "$DB" "$BATS_TEST_TMPDIR/newer.db"
	sqlite3 "$BATS_TEST_TMPDIR/newer.db" "PRAGMA user_version = 7"
	for c in query gaps export; do
		case $c in
		query) args=(--market KRW-BTC --timeframe 1m --from 2026-10-01 --to 2026-10-02) ;;
		gaps) args=(--market KRW-BTC --timeframe 1m) ;;
		export) args=(--market all --format csv) ;;
		esac
		run --separate-stderr "$CPQ" $c "${args[@]}" --db "$BATS_TEST_TMPDIR/text.db"
		[ "$status" -eq 3 ]; [ -z "$output" ]
		[ "$stderr" = "cp-query $c: $BATS_TEST_TMPDIR/text.db: file is not a database" ]
		run --separate-stderr "$CPQ" $c "${args[@]}" --db "$BATS_TEST_TMPDIR/other.db"
		[ "$status" -eq 3 ]; [ -z "$output" ]
		[ "$stderr" = "cp-query $c: $BATS_TEST_TMPDIR/other.db is not a candlepipe database (no candles_exact/coverage/history_start tables)" ]
		run --separate-stderr "$CPQ" $c "${args[@]}" --db "$BATS_TEST_TMPDIR/newer.db"
		[ "$status" -eq 3 ]; [ -z "$output" ]
		[ "$stderr" = "cp-query $c: $BATS_TEST_TMPDIR/newer.db has schema version 7, this tool reads 1 to 3" ]
		# a path through a regular file exists in part: not "does not exist"
		run --separate-stderr "$CPQ" $c "${args[@]}" --db "$BATS_TEST_TMPDIR/text.db/x.db"
		[ "$status" -eq 3 ]; [ -z "$output" ]
		[ "$stderr" = "cp-query $c: cannot open database $BATS_TEST_TMPDIR/text.db/x.db: Not a directory" ]
		[[ "$stderr" != *"does not exist"* ]]
	done
}

@test "query --fill forward on 1d and 1w: the exact flat candles, seeded from before the range" {
	empty_db
	sqlite3 "$DB" "INSERT INTO coverage VALUES ('KRW-F', '1d', '2026-01-01T00:00:00', '2026-01-06T00:00:00')"
	candle KRW-F 1d 2026-01-01T00:00:00 100 "'100.5'"
	candle KRW-F 1d 2026-01-04T00:00:00 110
	candle KRW-F 1d 2026-01-05T00:00:00 120
	# seeded by the candle right before from, and by one two slots before
	# with the slot between covered; the range ends on a real candle
	local from filled rows
	for from in 2026-01-02:1100:4 2026-01-03:100:3; do
		IFS=: read -r from filled rows <<<"$from"
		run --separate-stderr query --market KRW-F --timeframe 1d --from $from --to 2026-01-06 \
			--fill forward --format jsonl
		[ "$status" -eq 0 ]
		[ "$(echo "$output" | jq -c 'select(.filled == 1) | [.candle_date_time_utc, .trade_price, .prev_closing_price, .change_price, .converted_trade_price, .candle_acc_trade_volume]' | tail -1)" = \
			'["2026-01-03T00:00:00",100,100,0,100.5,0]' ]
		[ "$(echo "$output" | jq -r '.filled' | tr -d '\n')" = "$filled" ]
		[[ "$stderr" == *"rows: $rows ("*" candles, $((rows - 2)) filled)"* ]]
	done
	# the table shows the filled column and widens to the filled close
	run --separate-stderr query --market KRW-F --timeframe 1d --from 2026-01-02 --to 2026-01-04 --fill forward
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "time (UTC)           open  high  low  close  volume  turnover  filled" ]
	[ "${lines[1]}" = "2026-01-02T00:00:00   100   100  100    100       0         0  filled" ]
	# a previous close behind a never-fetched slot is not proven
	sqlite3 "$DB" "UPDATE coverage SET from_utc = '2026-01-02T12:00:00'"
	run --separate-stderr query --market KRW-F --timeframe 1d --from 2026-01-03 --to 2026-01-04 --fill forward --format csv
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$stderr" == *"rows: 0 (0 candles, 0 filled); 1 empty slot left out (no proven previous close)"* ]]

	# weeks carry first_day_of_period
	sqlite3 "$DB" "INSERT INTO coverage VALUES ('KRW-F', '1w', '2026-01-05T00:00:00', '2026-01-26T00:00:00')"
	candle KRW-F 1w 2026-01-05T00:00:00 7 NULL "'2026-01-05'"
	run --separate-stderr query --market KRW-F --timeframe 1w --from 2026-01-05 --to 2026-01-19 --fill forward --format jsonl
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = '{"market":"KRW-F","candle_date_time_utc":"2026-01-12T00:00:00","candle_date_time_kst":"2026-01-12T09:00:00","opening_price":7,"high_price":7,"low_price":7,"trade_price":7,"timestamp":1768176000000,"candle_acc_trade_price":0,"candle_acc_trade_volume":0,"first_day_of_period":"2026-01-12","filled":1}' ]
}

@test "output formats: an empty result, text that needs quoting and escaping" {
	empty_db
	run --separate-stderr query --market KRW-NONE --timeframe 1m --from 2026-10-01 --to 2026-10-01T01:00
	[ "$status" -eq 0 ]
	[ "$output" = "time (UTC)           open  high  low  close  volume  turnover" ]
	run --separate-stderr query --market KRW-NONE --timeframe 1m --from 2026-10-01 --to 2026-10-01T01:00 --format json
	[ "$status" -eq 0 ]; [ "$output" = "[]" ]
	[[ "$stderr" == *"rows: 0 (0 candles, 0 filled)"* ]]
	run --separate-stderr query --market KRW-NONE --timeframe 1m --from 2026-10-01 --to 2026-10-01T01:00 --format csv
	[ "$status" -eq 0 ]; [ "${#lines[@]}" -eq 1 ]
	# an odd market name: csv quotes it, JSON escapes it
	candle 'a,"b\	c' 1m 2026-10-01T00:00:00 5
	run --separate-stderr "$CPQ" export --market all --format csv --db "$DB"
	[ "$status" -eq 0 ]
	[ "${lines[1]%%,1m,*}" = '"a,""b\	c"' ]
	run --separate-stderr "$CPQ" export --market all --format jsonl --db "$DB"
	[ "$status" -eq 0 ]
	[[ "$output" == '{"market":"a,\"b\\\u0009c","candle_date_time_utc":"2026-10-01T00:00:00",'* ]]
	[ "$(echo "$output" | jq -r .market)" = 'a,"b\	c' ]
}

@test "gaps: a market with nothing collected, an empty range, before-history rows" {
	empty_db
	run --separate-stderr "$CPQ" gaps --market KRW-NONE --timeframe 1h --db "$DB"
	[ "$status" -eq 1 ]; [ -z "$output" ]
	[ "$stderr" = "cp-query gaps: nothing collected for KRW-NONE 1h in $DB (give --from and --to to see the range as missing)" ]
	# with both bounds the whole range is missing
	run --separate-stderr "$CPQ" gaps --market KRW-NONE --timeframe 1h --from 2026-10-01 --to 2026-10-02 --db "$DB"
	[ "$status" -eq 0 ]
	[ "${lines[2]}" = "missing         2026-10-01T00:00:00  2026-10-02T00:00:00            24  1d" ]
	[ "${lines[3]}" = "summary: 1 missing range (24 slots), 0 no-trade stretches (0 slots, longest 0s)" ]
	# --from after everything collected: an empty range, nothing lacks
	sqlite3 "$DB" "INSERT INTO coverage VALUES ('KRW-G', '1h', '2026-10-01T00:00:00', '2026-10-01T05:00:00');
		INSERT INTO history_start VALUES ('KRW-G', '1h', '2026-10-01T02:00:00')"
	candle KRW-G 1h 2026-10-01T02:00:00 1
	candle KRW-G 1h 2026-10-01T04:00:00 1
	run --separate-stderr "$CPQ" gaps --market KRW-G --timeframe 1h --from 2026-11-01 --db "$DB" --format json
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -c '[.from, .to, .slots, .missing_slots, .no_trade_slots]')" = '["2026-10-01T05:00:00","2026-10-01T05:00:00",0,0,0]' ]
	# before the listing: its own rows in the table, one no-trade stretch after
	run --separate-stderr "$CPQ" gaps --market KRW-G --timeframe 1h --from 2026-09-30T22:00 --to 2026-10-01T05:00 --db "$DB"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "gaps of KRW-G 1h in [2026-09-30T22:00:00, 2026-10-01T05:00:00): 7 slots, history starts 2026-10-01T02:00:00" ]
	[ "${lines[2]}" = "before-history  2026-09-30T22:00:00  2026-10-01T02:00:00             4  4h" ]
	[ "${lines[3]}" = "no-trade        2026-10-01T03:00:00  2026-10-01T04:00:00             1  1h" ]
	[ "${lines[4]}" = "summary: 0 missing ranges (0 slots), 1 no-trade stretch (1 slot, longest 1h)" ]
	# a candle older than history_start (the 1s horizon moved on) moves the bound
	candle KRW-G 1h 2026-10-01T00:00:00 1
	run --separate-stderr "$CPQ" gaps --market KRW-G --timeframe 1h --from 2026-09-30T22:00 --to 2026-10-01T05:00 --db "$DB"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *", history starts 2026-10-01T00:00:00" ]]
	[ "${lines[2]}" = "before-history  2026-09-30T22:00:00  2026-10-01T00:00:00             2  2h" ]
}

@test "damaged rows in the database: one line naming the bad value, exit 1" {
	empty_db
	sqlite3 "$DB" "INSERT INTO coverage VALUES ('KRW-B', '1m', 'soon', 'later')"
	run --separate-stderr "$CPQ" gaps --market KRW-B --timeframe 1m --db "$DB"
	[ "$status" -eq 1 ]
	[ "$stderr" = "cp-query gaps: bad coverage row 'soon' 'later'" ]
	sqlite3 "$DB" "DELETE FROM coverage; INSERT INTO history_start VALUES ('KRW-B', '1m', 'yesterday')"
	run --separate-stderr "$CPQ" gaps --market KRW-B --timeframe 1m --db "$DB"
	[ "$status" -eq 1 ]
	[ "$stderr" = "cp-query gaps: bad time 'yesterday' in the database" ]
	run --separate-stderr query --market KRW-B --timeframe 1m --from 2026-10-01 --to 2026-10-02
	[ "$status" -eq 1 ]; [ -z "$output" ]
	[ "$stderr" = "cp-query query: bad time 'yesterday' in the database" ]
	sqlite3 "$DB" "DELETE FROM history_start;
		INSERT INTO coverage VALUES ('KRW-B', '1m', '2026-10-01T00:00:00', '2026-10-01T01:00:00')"
	candle KRW-B 1m 2026-10-01T00:10:00x 1
	run --separate-stderr "$CPQ" gaps --market KRW-B --timeframe 1m --db "$DB"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"cp-query gaps: bad candle time '2026-10-01T00:10:00x'" ]]
	run --separate-stderr query --market KRW-B --timeframe 1m --from 2026-10-01 --to 2026-10-01T01:00 --fill forward --format csv
	[ "$status" -eq 1 ]
	[[ "$stderr" == "cp-query query: bad candle time '2026-10-01T00:10:00x'" ]]
}

@test "a full disk on stdout: the error, exit 1, for every command" {
	col KRW-BTC 1m 2026-10-01T00:00:00 2026-10-01T12:00:00
	local c
	# small outputs fail at the final flush, big ones while streaming
	for c in "--to 2026-10-01T00:10" "--to 2026-10-01T12:00" "--to 2026-10-01T12:00 --fill forward"; do
		run --separate-stderr tofull "$CPQ" query --db "$DB" --market KRW-BTC --timeframe 1m --from 2026-10-01 $c --format csv
		[ "$status" -eq 1 ]
		[ "$stderr" = "cp-query query: stdout: No space left on device" ]
	done
	run --separate-stderr tofull "$CPQ" gaps --db "$DB" --market KRW-BTC --timeframe 1m
	[ "$status" -eq 1 ]
	[ "$stderr" = "cp-query gaps: stdout: write error" ]
	for c in "KRW-BTC --to 2026-10-01T00:10" "all"; do
		run --separate-stderr tofull "$CPQ" export --db "$DB" --format jsonl --market $c
		[ "$status" -eq 1 ]
		[ "$stderr" = "cp-query export: stdout: No space left on device" ]
	done
}

@test "export --output: complete or not at all when the file cannot be written" {
	col KRW-BTC 1m 2026-10-01T00:00:00 2026-10-01T10:00:00
	touch "$BATS_TEST_TMPDIR/file"
	run --separate-stderr "$CPQ" export --db "$DB" --market all --format csv --output "$BATS_TEST_TMPDIR/file/out.csv"
	[ "$status" -eq 1 ]; [ -z "$output" ]
	[ "$stderr" = "cp-query export: --output $BATS_TEST_TMPDIR/file/out.csv: Not a directory" ]
	run --separate-stderr "$CPQ" export --db "$DB" --market all --format csv --output "$BATS_TEST_TMPDIR/$(printf 'd%.0s' {1..4100})"
	[ "$status" -eq 1 ]
	[[ "$stderr" == "cp-query export: --output $BATS_TEST_TMPDIR/ddd"*"d: File name too long" ]]
	# a full disk (a file size limit): the old file stays, no temporary file
	echo old >"$BATS_TEST_TMPDIR/kept.csv"
	run --separate-stderr bash -c "trap '' XFSZ; ulimit -f 64; '$CPQ' export --db '$DB' --market all --format csv --output '$BATS_TEST_TMPDIR/kept.csv'"
	echo "$stderr"
	[ "$status" -eq 1 ]
	[ "$stderr" = "cp-query export: --output $BATS_TEST_TMPDIR/kept.csv: File too large" ]
	[ "$(cat "$BATS_TEST_TMPDIR/kept.csv")" = old ]
	[ -z "$(ls "$BATS_TEST_TMPDIR" | grep '\.tmp$')" ]
}

@test "export --output writes regular files only: a device, FIFO or directory is refused, a symlink leads to its file" {
	col KRW-BTC 1m 2026-10-01T00:00:00 2026-10-01T00:10:00
	local t="$BATS_TEST_TMPDIR" kind
	# /dev/full stays the device (as root, a rename would have replaced it)
	run --separate-stderr "$CPQ" export --db "$DB" --market all --format csv --output /dev/full
	[ "$status" -eq 2 ]; [ -z "$output" ]
	[ "$stderr" = "cp-query export: --output /dev/full: not a regular file (a character device)"$'\n'"try 'cp-query export --help'" ]
	[ -c /dev/full ]
	# under run.sh the help named is run.sh's
	run --separate-stderr "$ROOT/run.sh" export --db "$DB" --market all --format csv --output /dev/full
	[ "$status" -eq 2 ]
	[[ "$stderr" == *$'\n'"try './run.sh export --help'" ]]
	mkfifo "$t/fifo"
	run --separate-stderr timeout 10 "$CPQ" export --db "$DB" --market all --format csv --output "$t/fifo"
	[ "$status" -eq 2 ]
	[[ "$stderr" == "cp-query export: --output $t/fifo: not a regular file (a FIFO)"* ]]
	[ -p "$t/fifo" ]
	mkdir -p "$t/dir.csv/x"
	run --separate-stderr "$CPQ" export --db "$DB" --market all --format csv --output "$t/dir.csv"
	[ "$status" -eq 2 ]
	[[ "$stderr" == "cp-query export: --output $t/dir.csv: not a regular file (a directory)"* ]]
	[ -d "$t/dir.csv/x" ]
	# a symlink to a device is the device
	ln -s /dev/null "$t/null.csv"
	run --separate-stderr "$CPQ" export --db "$DB" --market all --format csv --output "$t/null.csv"
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"not a regular file (a character device)"* ]]
	# a symlink to a file: the file gets the data, the link stays a link
	mkdir "$t/real"
	: >"$t/real/target.csv"
	chmod 640 "$t/real/target.csv"
	ln -s real/target.csv "$t/link.csv"
	run --separate-stderr "$CPQ" export --db "$DB" --market all --format csv --output "$t/link.csv"
	[ "$status" -eq 0 ]
	[ "$stderr" = "export: 10 candles to $t/link.csv" ]
	[ -L "$t/link.csv" ]
	[ "$(readlink "$t/link.csv")" = real/target.csv ]
	[ "$(wc -l <"$t/real/target.csv")" -eq 11 ]
	[ "$(stat -c %a "$t/real/target.csv")" = 640 ]
	# a dangling symlink: the file it names is created
	ln -s real/new.csv "$t/new.csv"
	"$CPQ" export --db "$DB" --market KRW-BTC --format jsonl --output "$t/new.csv" --to 2026-10-01T00:01 2>/dev/null
	[ -L "$t/new.csv" ]
	[ "$(wc -l <"$t/real/new.csv")" -eq 1 ]
	[ -z "$(ls "$t" "$t/real" | grep '\.tmp$')" ]
}

@test "query --fetch-missing: run.sh found next to the binary, missing, failing or killed" {
	col KRW-SOL 1m 2026-10-01T00:00:00 2026-10-01T00:10:00
	local q=(query --db "$DB" --market KRW-SOL --timeframe 1m --from 2026-10-01T00:00 --to 2026-10-01T00:20 --format jsonl --fetch-missing)
	# without CP_RUN_SH: the run.sh of the binary's tree
	run --separate-stderr env -u CP_RUN_SH "$CPQ" "${q[@]}" --api-url "$SIM_URL" --rate 0 3>&-
	echo "$stderr"
	[ "$status" -eq 0 ]
	[[ "$stderr" == "fetch-missing: $ROOT/run.sh collect --market KRW-SOL --timeframe 1m --from 2026-10-01T00:00:00 --to 2026-10-01T00:20:00 --db $DB"* ]]
	[ "${#lines[@]}" -eq 20 ]
	# a collection that cannot run, fails or dies: the answer is what is stored
	mkdir -p "$BATS_TEST_TMPDIR/alone/query"
	cp "$CPQ" "$BATS_TEST_TMPDIR/alone/query/"
	run --separate-stderr env -u CP_RUN_SH "$BATS_TEST_TMPDIR/alone/query/cp-query" "${q[@]}" --to 2026-10-01T00:30 3>&-
	[ "$status" -eq 0 ]
	[[ "$stderr" == "cp-query query: --fetch-missing: run.sh not found (set CP_RUN_SH)"$'\n'"cp-query query: collect exited -1; answering from what is stored"* ]]
	[ "${#lines[@]}" -eq 20 ]
	run --separate-stderr env CP_RUN_SH="$BATS_TEST_TMPDIR/none.sh" "$CPQ" "${q[@]}" --to 2026-10-01T00:30 3>&-
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"cp-query query: $BATS_TEST_TMPDIR/none.sh: No such file or directory"$'\n'"cp-query query: collect exited 127; answering from what is stored"* ]]
	[[ "$stderr" == *"20/30 slots covered"* ]]
	printf '#!/bin/sh\nkill -TERM $$\n' >"$BATS_TEST_TMPDIR/die.sh"
	chmod +x "$BATS_TEST_TMPDIR/die.sh"
	run --separate-stderr env CP_RUN_SH="$BATS_TEST_TMPDIR/die.sh" "$CPQ" "${q[@]}" --to 2026-10-01T00:30 3>&-
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"cp-query query: collect exited 143; answering from what is stored"* ]]
	[ "${#lines[@]}" -eq 20 ]
}

# as_other CMD...: runs CMD as the unprivileged user nobody (not the owner)
as_other() {
	if command -v setpriv >/dev/null; then
		setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"
	else
		runuser -u nobody -- "$@"
	fi
}

# readers_agree DB [REF]: query, gaps and export of DB as nobody print what
# they print as the owner on REF (default DB), and exit 0
readers_agree() {
	local c args
	for c in query gaps export; do
		case $c in
		query) args=(--market KRW-BTC --timeframe 1m --from 2026-10-01 --to 2026-10-02 --format csv) ;;
		gaps) args=(--market KRW-BTC --timeframe 1m) ;;
		export) args=(--market all --format jsonl) ;;
		esac
		"$CPQ" $c "${args[@]}" --db "${2:-$1}" >"$RO/want" 2>"$RO/want.err"
		run as_other "$CPQ" $c "${args[@]}" --db "$1" 3>&-
		echo "$c: $output"
		[ "$status" -eq 0 ]
		[ "$output" = "$(cat "$RO/want" "$RO/want.err" | sed "s|${2:-$1}|$1|g")" ]
	done
}

@test "readers work on a database they may only read: a copy, while the collector writes, version 1" {
	command -v setpriv >/dev/null || command -v runuser >/dev/null ||
		skip "neither setpriv nor runuser to run cp-query as another user"
	[ "$(id -u)" -eq 0 ] || skip "needs root to run cp-query as another user"
	col KRW-BTC 1m 2026-10-01T00:00:00 2026-10-01T03:00:00
	# nobody must reach it: not under bats' private directory (removed by teardown)
	RO=$(mktemp -d /tmp/cp-query-ro.XXXXXX)
	chmod 755 "$RO"
	# a copy with no -wal and no -shm: mode 444, in a directory nobody can write
	mkdir "$RO/copy"
	cp "$DB" "$RO/copy/c.db"
	[ ! -e "$RO/copy/c.db-wal" ]
	chmod 444 "$RO/copy/c.db"
	chmod 555 "$RO/copy"
	readers_agree "$RO/copy/c.db" "$DB"
	# read as immutable: no -wal or -shm made (it could not be anyway)
	[ "$(ls -A "$RO/copy")" = c.db ]
	# the collector writing it: its -wal holds rows the file does not yet
	mkdir "$RO/live"
	cp "$DB" "$RO/live/c.db"
	chmod 444 "$RO/live/c.db"
	"$ROOT/writer/cp-writer" --db "$RO/live/c.db" --results "ipc://$RO/r" --work "ipc://$RO/w" \
		--ready-file "$RO/ready" 2>"$RO/wlog" 3>&- &
	local w=$!
	wait_for test -e "$RO/ready"
	chmod 555 "$RO/live"
	sqlite3 "$RO/live/c.db" "INSERT INTO coverage VALUES ('KRW-NEW', '1m', '2026-10-01T00:00:00', '2026-10-01T00:10:00')"
	[ -s "$RO/live/c.db-wal" ]
	readers_agree "$RO/live/c.db"
	run as_other "$CPQ" gaps --market KRW-NEW --timeframe 1m --db "$RO/live/c.db" 3>&-
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"2026-10-01T00:10:00"* ]]
	chmod 755 "$RO/live"
	kill -TERM "$w"
	wait "$w"
	# a version-1 database (before the markets table) reads the same
	chmod 755 "$RO/copy"
	chmod 644 "$RO/copy/c.db"
	sqlite3 "$RO/copy/c.db" "DROP TABLE markets; DROP TABLE follows; PRAGMA user_version = 1"
	chmod 444 "$RO/copy/c.db"
	chmod 555 "$RO/copy"
	readers_agree "$RO/copy/c.db" "$DB"
}
