#!/usr/bin/env bats
# ./run.sh verify (cp-query verify): an fsck of a database. One clean
# database is collected from the simulator; each test damages a copy of it
# with sqlite3 and checks that verify names the damage (market, timeframe,
# time, kind) and exits 1, and that it never changes the file it checks.

load pipeline_helpers
bats_require_minimum_version 1.5.0

setup_file() {
	load pipeline_helpers
	start_file_sim --rate-limit 0
	CLEAN="$BATS_FILE_TMPDIR/clean.db"
	local r
	for r in "KRW-BTC 1m 2026-10-01T00:00:00 2026-10-01T02:00:00" \
		"KRW-BTC 1m 2026-10-01T04:00:00 2026-10-01T06:00:00" \
		"KRW-ZIL 1m 2026-10-01T00:00:00 2026-10-01T06:00:00" \
		"KRW-BTC 1w 2025-01-06T00:00:00 2026-11-02T00:00:00" \
		"KRW-BTC 1M 2016-01-01T00:00:00 2026-11-01T00:00:00"; do
		set -- $r
		"$ROOT/run.sh" collect --api-url "$SIM_URL" --run-dir "$BATS_FILE_TMPDIR/run" \
			--market "$1" --timeframe "$2" --from "$3" --to "$4" --db "$CLEAN" \
			--rate 0 --quiet 3>&- || return 1
	done
}

teardown_file() {
	load sim_helpers
	stop_all_sims
}

setup() {
	CLEAN="$BATS_FILE_TMPDIR/clean.db"
	DB="$BATS_TEST_TMPDIR/v.db"
	cp "$CLEAN" "$DB"
}

# damage SQL: applies SQL to the copy
damage() {
	sqlite3 "$DB" "$1"
}

# verify_db: runs verify on the copy; its checksum must not change
verify_db() {
	local before
	before=$(sha256sum <"$DB")
	run "$ROOT/run.sh" verify --db "$DB" "$@" 3>&-
	echo "$output"
	[ "$(sha256sum <"$DB")" = "$before" ]
}

# The oldest KRW-BTC 1m candle of the clean database.
FIRST="(SELECT MIN(candle_date_time_utc) FROM candles_exact WHERE market = 'KRW-BTC' AND timeframe = '1m')"

@test "verify: a clean database is silent but for the summary (exit 0), and unchanged" {
	[ "$(sqlite3 "$DB" "SELECT COUNT(*) FROM coverage WHERE market = 'KRW-BTC' AND timeframe = '1m'")" -eq 2 ]
	[ "$(sqlite3 "$DB" "SELECT COUNT(*) FROM history_start")" -ge 1 ]
	verify_db
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" =~ ^verify:\ $DB:\ 0\ problems\ in\ [1-9][0-9]*\ candles,\ 5\ coverage\ rows,\ [1-9][0-9]*\ history\ starts$ ]]
	# the same through cp-query, and the original is unchanged too
	before=$(sha256sum <"$CLEAN")
	run "$ROOT/query/cp-query" verify --db "$CLEAN"
	[ "$status" -eq 0 ]
	[ "$(sha256sum <"$CLEAN")" = "$before" ]
}

@test "verify: coverage rows that overlap or touch" {
	damage "UPDATE coverage SET to_utc = '2026-10-01T05:00:00' WHERE market = 'KRW-BTC'
		AND timeframe = '1m' AND from_utc = '2026-10-01T00:00:00'"
	verify_db
	[ "$status" -eq 1 ]
	[ "${lines[0]}" = "KRW-BTC 1m 2026-10-01T04:00:00Z coverage: coverage row [2026-10-01T04:00:00, 2026-10-01T06:00:00) overlaps the one before it" ]
	[ "${lines[1]}" = "verify: $DB: 1 problem (1 coverage) in $(sqlite3 "$DB" "SELECT COUNT(*) FROM candles_exact") candles, 5 coverage rows, $(sqlite3 "$DB" "SELECT COUNT(*) FROM history_start") history starts" ]
	damage "UPDATE coverage SET to_utc = '2026-10-01T04:00:00' WHERE market = 'KRW-BTC'
		AND timeframe = '1m' AND from_utc = '2026-10-01T00:00:00'"
	verify_db
	[ "$status" -eq 1 ]
	[ "${lines[0]}" = "KRW-BTC 1m 2026-10-01T04:00:00Z coverage: coverage row [2026-10-01T04:00:00, 2026-10-01T06:00:00) touches (not merged with) the one before it" ]
	[ "${#lines[@]}" -eq 2 ]
}

@test "verify: a candle off the grid" {
	damage "UPDATE candles_exact SET candle_date_time_utc = '2026-10-01T00:00:30',
		candle_date_time_kst = '2026-10-01T09:00:30'
		WHERE market = 'KRW-BTC' AND timeframe = '1m' AND candle_date_time_utc = $FIRST"
	verify_db
	[ "$status" -eq 1 ]
	[ "${lines[0]}" = "KRW-BTC 1m 2026-10-01T00:00:30Z off-grid: not a 1m slot start" ]
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[1]}" == *": 1 problem (1 off-grid) in "* ]]
}

@test "verify: candle_date_time_kst not UTC + 9 h" {
	t=$(sqlite3 "$DB" "SELECT $FIRST")
	damage "UPDATE candles_exact SET candle_date_time_kst = candle_date_time_utc
		WHERE market = 'KRW-BTC' AND timeframe = '1m' AND candle_date_time_utc = '$t'"
	verify_db
	[ "$status" -eq 1 ]
	[[ "${lines[0]}" == "KRW-BTC 1m ${t}Z kst: candle_date_time_kst '$t', not UTC + 9 h = "* ]]
	[ "${#lines[@]}" -eq 2 ]
}

@test "verify: exact decimal text that does not parse, and a view that disagrees" {
	t=$(sqlite3 "$DB" "SELECT $FIRST")
	damage "UPDATE candles_exact SET trade_price = '12.3.4'
		WHERE market = 'KRW-BTC' AND timeframe = '1m' AND candle_date_time_utc = '$t'"
	verify_db
	[ "$status" -eq 1 ]
	[ "${lines[0]}" = "KRW-BTC 1m ${t}Z decimal: trade_price '12.3.4' is not a decimal" ]
	[ "${#lines[@]}" -eq 2 ]
	# the REAL view made to read another column for one of them
	cp "$CLEAN" "$DB"
	sql=$(sqlite3 "$DB" "SELECT sql FROM sqlite_master WHERE name = 'candles'")
	damage "DROP VIEW candles; ${sql/CAST(high_price AS REAL) AS high_price/CAST(low_price AS REAL) AS high_price}"
	verify_db
	[ "$status" -eq 1 ]
	[[ "$output" == *"KRW-BTC 1m ${t}Z view: high_price '"*"', the view says "* ]]
	! grep -v ' view: high_price ' <<<"$output" | grep -v '^verify: ' || false
	# a view without some rows, and no view at all
	cp "$CLEAN" "$DB"
	where="WHERE market <> 'KRW-ZIL'"
	damage "DROP VIEW candles; ${sql/FROM candles_exact/FROM candles_exact $where}"
	verify_db
	[ "$status" -eq 1 ]
	[[ "${lines[0]}" == "KRW-ZIL 1m "*"Z view: the row is missing from the view" ]]
	damage "DROP VIEW candles"
	verify_db
	[ "$status" -eq 1 ]
	[[ "${lines[0]}" == "- - - schema: the view candles is unusable: no such table: candles" ]]
	[ "${#lines[@]}" -eq 2 ]
}

@test "verify: a history start after a stored candle (not for 1s, whose horizon moves)" {
	[ "$(sqlite3 "$DB" "SELECT first_utc FROM history_start WHERE market = 'KRW-BTC' AND timeframe = '1M'")" = "2017-10-01T00:00:00" ]
	damage "UPDATE history_start SET first_utc = '2018-01-01T00:00:00'
		WHERE market = 'KRW-BTC' AND timeframe = '1M'"
	verify_db
	[ "$status" -eq 1 ]
	[ "${lines[0]}" = "KRW-BTC 1M 2017-10-01T00:00:00Z history: history starts at 2018-01-01T00:00:00Z, after this stored candle" ]
	[ "${#lines[@]}" -eq 2 ]
	# seconds candles older than the horizon stay stored: not a problem
	cp "$CLEAN" "$DB"
	damage "INSERT INTO candles_exact SELECT market, '1s', candle_date_time_utc,
		candle_date_time_kst, opening_price, high_price, low_price, trade_price, timestamp,
		candle_acc_trade_price, candle_acc_trade_volume, NULL, prev_closing_price,
		change_price, change_rate, converted_trade_price, first_day_of_period
		FROM candles_exact WHERE market = 'KRW-BTC' AND timeframe = '1m' LIMIT 5;
		INSERT INTO history_start VALUES('KRW-BTC', '1s', '2026-10-01T03:00:00')"
	verify_db
	[ "$status" -eq 0 ]
}

@test "verify: damaged pages fail SQLite's integrity check" {
	pages=$(sqlite3 "$DB" "PRAGMA page_count")
	size=$(sqlite3 "$DB" "PRAGMA page_size")
	[ "$pages" -gt 4 ]
	# fixed garbage over the second half of the file (page 1, the header, stays)
	yes "candlepipe damaged page" | head -c $(( (pages / 2) * size )) |
		dd of="$DB" bs="$size" seek=$(( pages - pages / 2 )) conv=notrunc 2>/dev/null
	verify_db
	[ "$status" -eq 1 ]
	[[ "${lines[0]}" == "- - - integrity: "* ]]
	# every line is one problem or the summary
	! grep -v -e '^- - - integrity: ' -e '^verify: ' <<<"$output" || false
	[[ "${lines[-1]}" == "verify: $DB: "*" integrity"* ]]
}

@test "verify: not a candlepipe database is exit 3; tables it does not know are ignored" {
	echo "hello" >"$BATS_TEST_TMPDIR/text"
	run -3 "$ROOT/run.sh" verify --db "$BATS_TEST_TMPDIR/text" 3>&-
	[[ "$output" == *"$BATS_TEST_TMPDIR/text"* ]]
	sqlite3 "$BATS_TEST_TMPDIR/other.db" "CREATE TABLE t(x)"
	run -3 "$ROOT/run.sh" verify --db "$BATS_TEST_TMPDIR/other.db" 3>&-
	[[ "$output" == *"is not a candlepipe database"* ]]
	run -3 "$ROOT/run.sh" verify --db "$BATS_TEST_TMPDIR/missing.db" 3>&-
	[[ "$output" == *"does not exist"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/missing.db" ]
	damage "INSERT OR REPLACE INTO markets(market, korean_name, english_name, updated_utc)
		VALUES('KRW-BTC', 'a', 'b', 'not a time')"
	verify_db
	[ "$status" -eq 0 ]
}

@test "verify: usage errors are exit 2; --help describes it" {
	run -2 "$ROOT/run.sh" verify extra 3>&-
	[[ "$output" == *"cp-query verify: unexpected argument 'extra'"* ]]
	run -2 "$ROOT/run.sh" verify --market KRW-BTC 3>&-
	run -2 "$ROOT/run.sh" verify --db 3>&-
	run -0 "$ROOT/run.sh" verify --help 3>&-
	[[ "$output" == "usage: ./run.sh verify [--db PATH]"* ]]
	[[ "$output" == *"exit: 0 no problem, 1 problems found, 2 usage error, 3 not a"* ]]
	run -0 "$ROOT/run.sh" help 3>&-
	[[ "$output" == *"verify    check a database read-only"* ]]
}
