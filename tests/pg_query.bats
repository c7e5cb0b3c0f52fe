#!/usr/bin/env bats
# tests/pg_query.bats: the readers (cp-query: query, gaps, export, verify)
# on PostgreSQL (issue 14). One SQLite database collected from the simulator
# is copied into PostgreSQL (tests/pg_load.sh); every command must then give
# byte for byte the same output and exit code on both. Runs on a throwaway
# server (tests/pg_helpers.bash) removed whatever happens; skips, saying so
# in one line, without the server binaries.

load pg_helpers
load pipeline_helpers
bats_require_minimum_version 1.5.0

# fix M TF FROM TO: collect [FROM, TO) of M TF into the fixture
fix() {
	"$ROOT/run.sh" collect --api-url "$SIM_URL" --run-dir "$BATS_FILE_TMPDIR/run" \
		--market "$1" --timeframe "$2" --from "$3" --to "$4" --db "$LITE" --rate 0 --quiet 3>&-
}

setup_file() {
	pg_suite_setup_file --sim --rate-limit 0
	! pg_suite_skipped || return 0
	pg_suite_setup --no-db
	LITE="$BATS_FILE_TMPDIR/lite.db"
	fix KRW-BTC 1m 2026-10-01T00:00:00 2026-10-01T04:00:00
	fix KRW-BTC 1m 2026-10-01T06:00:00 2026-10-01T08:00:00
	fix KRW-BTC 1d 2026-01-01T00:00:00 2026-10-01T00:00:00
	fix KRW-BTC 1M 2025-01-01T00:00:00 2026-10-01T00:00:00
	fix KRW-ETH 1w 2025-01-06T00:00:00 2026-09-28T00:00:00
	fix KRW-ZIL 1m 2026-10-01T00:00:00 2026-10-01T06:00:00
	fix KRW-ZIL 1m 2026-10-03T00:00:00 2026-10-03T06:00:00
	fix KRW-BERA 1m 2026-10-31T12:00:00 2026-11-01T12:00:00
	"$ROOT/tests/pg_load.sh" "$LITE" "$PG_URI"
}

teardown_file() { pg_suite_teardown_file; }

setup() {
	pg_suite_setup --no-db
	LITE="$BATS_FILE_TMPDIR/lite.db"
	CPQ="$ROOT/query/cp-query"
}

# same DB_PG CMD ARGS...: runs cp-query CMD on the SQLite fixture and on
# DB_PG; stdout, stderr (the database's name made "DB") and the exit code
# must be equal
same() {
	local pg=$1 shown
	shift
	shown=${pg%%\?*}
	"$CPQ" "$@" --db "$LITE" >"$BATS_TEST_TMPDIR/lite.out" 2>"$BATS_TEST_TMPDIR/lite.err" 3>&- &&
		lrc=0 || lrc=$?
	"$CPQ" "$@" --db "$pg" >"$BATS_TEST_TMPDIR/pg.out" 2>"$BATS_TEST_TMPDIR/pg.err" 3>&- &&
		prc=0 || prc=$?
	sed -i "s|$LITE|DB|g" "$BATS_TEST_TMPDIR/lite.out" "$BATS_TEST_TMPDIR/lite.err"
	sed -i "s|$shown[^ :]*|DB|g" "$BATS_TEST_TMPDIR/pg.out" "$BATS_TEST_TMPDIR/pg.err"
	echo "cp-query $*: exit $lrc (SQLite), $prc (PostgreSQL)"
	diff "$BATS_TEST_TMPDIR/lite.out" "$BATS_TEST_TMPDIR/pg.out"
	diff "$BATS_TEST_TMPDIR/lite.err" "$BATS_TEST_TMPDIR/pg.err"
	[ "$lrc" = "$prc" ]
	[ -s "$BATS_TEST_TMPDIR/lite.out" ] || [ -s "$BATS_TEST_TMPDIR/lite.err" ]
}

# every_reader URI: every command of the reader, in every format, the same
# on URI as on the SQLite fixture
every_reader() {
	local uri=$1 f fill
	for f in table csv json jsonl; do
		for fill in none forward; do
			same "$uri" query --market KRW-BTC --timeframe 1m --from 2026-10-01T03:00:00 \
				--to 2026-10-01T07:00:00 --format $f --fill $fill
			same "$uri" query --market KRW-ZIL --timeframe 1m --from 2026-09-30T23:00:00 \
				--to 2026-10-03T05:00:00 --format $f --fill $fill
		done
		same "$uri" query --market KRW-BTC --timeframe 1d --from 2026-03-01 --to 2026-05-01 \
			--format $f --fill forward
		same "$uri" query --market KRW-ETH --timeframe 1w --from 2025-06-01 --to 2026-01-01 --format $f
		same "$uri" query --market KRW-BERA --timeframe 1m --from 2026-10-31 --to 2026-11-01T01:00 \
			--format $f
		same "$uri" query --market KRW-XRP --timeframe 1m --from 2026-10-01 --to 2026-10-02 --format $f
	done
	for f in table json; do
		same "$uri" gaps --market KRW-BTC --timeframe 1m --format $f
		same "$uri" gaps --market KRW-ZIL --timeframe 1m --format $f --min-length 5
		same "$uri" gaps --market KRW-ZIL --timeframe 1m --from 2026-09-30 --to 2026-10-04 --format $f
		same "$uri" gaps --market KRW-BERA --timeframe 1m --from 2026-10-30 --to 2026-11-01T12:00 --format $f
		same "$uri" gaps --market KRW-XRP --timeframe 1m --format $f
	done
	for f in csv jsonl; do
		same "$uri" export --market all --format $f
		same "$uri" export --market KRW-BTC --timeframe all --format $f --from 2026-05-01 --to 2026-10-01T02:00
		same "$uri" export --market KRW-ETH --timeframe 1w --format $f --from 2025-03-01
	done
	same "$uri" verify
}

@test "pg readers: query, gaps, export and verify give the same bytes and exit codes on PostgreSQL as on SQLite" {
	every_reader "$PG_URI"
	# the export is really everything, in SQLite's order
	"$CPQ" export --market all --format csv --db "$PG_URI" | tail -n +2 | cut -d, -f1,2 | uniq |
		tr '\n' ' ' | grep -qx "KRW-BERA,1m KRW-BTC,1M KRW-BTC,1d KRW-BTC,1m KRW-ETH,1w KRW-ZIL,1m "
	[ "$("$CPQ" export --market all --format csv --db "$PG_URI" | tail -n +2 | wc -l)" -eq \
		"$(sqlite3 "$LITE" "SELECT COUNT(*) FROM candles_exact")" ]
	# and the answers are the truth
	"$CPQ" query --db "$PG_URI" --market KRW-BTC --timeframe 1d --from 2026-01-01 --to 2026-10-01 \
		--format jsonl 2>/dev/null | diff <(truth KRW-BTC 1d 2026-01-01T00:00:00 2026-10-01T00:00:00) -
}

@test "pg readers: a database that sorts text otherwise (ICU) still exports and verifies in SQLite's order" {
	psql -X -q -v ON_ERROR_STOP=1 -d "$PG_URI" -c "CREATE DATABASE icu TEMPLATE template0
		LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'" ||
		skip "no ICU collations in this PostgreSQL"
	local uri=${PG_URI/\/cp\?/\/icu?}
	"$ROOT/tests/pg_load.sh" "$LITE" "$uri"
	# ICU puts 1d before 1M: the readers must not
	[ "$(pg_psql "$uri" -c "SELECT string_agg(t, ' ' ORDER BY t) FROM (VALUES ('1M'), ('1d')) v(t)")" = "1d 1M" ]
	same "$uri" export --market all --format csv
	same "$uri" export --market KRW-BTC --format jsonl
	same "$uri" verify
}

@test "pg readers: the same problems found by verify on both" {
	local uri
	uri=$(pg_createdb damaged)
	cp "$LITE" "$BATS_TEST_TMPDIR/damaged.db"
	sqlite3 "$BATS_TEST_TMPDIR/damaged.db" "
		INSERT INTO coverage VALUES ('KRW-BTC', '1m', '2026-10-01T04:00:00', '2026-10-01T05:00:00');
		UPDATE candles_exact SET candle_date_time_kst = '2026-10-01T09:00:00'
			WHERE market = 'KRW-BTC' AND timeframe = '1m' AND candle_date_time_utc = '2026-10-01T01:00:00';
		UPDATE candles_exact SET candle_date_time_utc = '2026-10-01T06:30:30'
			WHERE market = 'KRW-BTC' AND timeframe = '1m' AND candle_date_time_utc = '2026-10-01T06:30:00';
		UPDATE history_start SET first_utc = '2026-11-01T12:00:00' WHERE market = 'KRW-BERA'"
	"$ROOT/tests/pg_load.sh" "$BATS_TEST_TMPDIR/damaged.db" "$uri"
	LITE="$BATS_TEST_TMPDIR/damaged.db"
	run same "$uri" verify
	echo "$output"
	cat "$BATS_TEST_TMPDIR/pg.out"
	[ "$status" -eq 0 ]
	grep -q "coverage: coverage row \[2026-10-01T04:00:00, 2026-10-01T05:00:00) touches" "$BATS_TEST_TMPDIR/pg.out"
	grep -q " kst: " "$BATS_TEST_TMPDIR/pg.out"
	grep -q "off-grid: " "$BATS_TEST_TMPDIR/pg.out"
	grep -q "KRW-BERA 1m .* history: " "$BATS_TEST_TMPDIR/pg.out"
	grep -q "^verify: DB: 5 problems" "$BATS_TEST_TMPDIR/pg.out"
}

# codes_of DB: the exit code of each command on DB, one line
codes_of() {
	local c codes=""
	for c in "query --market KRW-BTC --timeframe 1m --from 2026-10-01 --to 2026-10-02" \
		"gaps --market KRW-BTC --timeframe 1m" "export --market all --format csv" "verify"; do
		# shellcheck disable=SC2086
		"$CPQ" $c --db "$1" >/dev/null 2>&1 3>&- && codes+="0 " || codes+="$? "
	done
	echo "$codes"
}

@test "pg readers: exit codes as for a missing file when the server is down, the database or its schema does not exist" {
	local want
	want=$(codes_of "$BATS_TEST_TMPDIR/none.db")
	[ "$want" = "1 1 1 3 " ]
	[ "$(codes_of "postgresql://postgres@/nosuch?host=$PG_DIR")" = "$want" ]
	[ "$(codes_of "postgresql://postgres@/cp?host=$PG_DIR/none")" = "$want" ]
	[ "$(codes_of "$(pg_createdb empty)")" = "$want" ]
	run "$CPQ" query --market KRW-BTC --timeframe 1m --from 2026-10-01 --db "postgresql://postgres@/nosuch?host=$PG_DIR"
	[ "$status" -eq 1 ]
	[[ "$output" == *"does not exist or cannot be reached"* ]]
	# a password is never shown
	run "$CPQ" gaps --market KRW-BTC --timeframe 1m --db "postgresql://postgres:s3cret@/nosuch?host=$PG_DIR"
	[ "$status" -eq 1 ]
	[[ "$output" != *s3cret* ]]
}

# dump NAME: the database NAME as SQL, without pg_dump's random \restrict key
dump() {
	pg_dump -h "$PG_DIR" -U postgres "$1" | grep -v '^\\\(un\)\?restrict '
}

@test "pg readers: a foreign \"candlepipe\" schema and a newer schema version exit 3, nothing written" {
	local foreign newer before
	foreign=$(pg_createdb foreign)
	pg_psql "$foreign" -c "CREATE SCHEMA candlepipe; CREATE TABLE candlepipe.candles(x int);
		INSERT INTO candlepipe.candles VALUES (1)"
	before=$(dump foreign)
	[ "$(codes_of "$foreign")" = "3 3 3 3 " ]
	[ "$(dump foreign)" = "$before" ]
	run "$CPQ" export --market all --format csv --db "$foreign"
	[[ "$output" == *"not candlepipe's"* ]]
	# a SQLite file of another program is 3 too
	sqlite3 "$BATS_TEST_TMPDIR/other.db" "CREATE TABLE t(x)"
	[ "$(codes_of "$BATS_TEST_TMPDIR/other.db")" = "3 3 3 3 " ]

	newer=$(pg_createdb newer)
	"$ROOT/tests/pg_load.sh" "$LITE" "$newer"
	pg_psql "$newer" -c "UPDATE candlepipe.meta SET value = '3' WHERE key = 'schema_version'"
	before=$(dump newer)
	[ "$(codes_of "$newer")" = "3 3 3 3 " ]
	[ "$(dump newer)" = "$before" ]
	run "$CPQ" verify --db "$newer"
	[[ "$output" == *"schema version 3"* ]]
}

@test "pg readers: a role that may only read runs every reader; the readers never write" {
	pg_psql "$PG_URI" -c "DROP ROLE IF EXISTS candlepipe_read; CREATE ROLE candlepipe_read LOGIN;
		GRANT USAGE ON SCHEMA candlepipe TO candlepipe_read;
		GRANT SELECT ON ALL TABLES IN SCHEMA candlepipe TO candlepipe_read"
	local ro="postgresql://candlepipe_read@/cp?host=$PG_DIR"
	# it really cannot write
	run pg_psql "$ro" -c "INSERT INTO candlepipe.history_start VALUES ('X', '1m', now())"
	[ "$status" -ne 0 ]
	[[ "$output" == *"permission denied"* ]]
	# nor create a temporary table: the readers need none
	pg_psql "$PG_URI" -c "REVOKE TEMPORARY ON DATABASE cp FROM PUBLIC"
	run pg_psql "$ro" -c "CREATE TEMPORARY TABLE t(x int)"
	[ "$status" -ne 0 ]
	every_reader "$ro"
}
