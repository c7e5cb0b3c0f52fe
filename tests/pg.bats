#!/usr/bin/env bats
# tests/pg.bats: PostgreSQL as the database (issue 14), on a throwaway
# server this file starts (tests/pg_helpers.bash) and removes whatever
# happens; every test has its own database. The same truth checks as
# tests/collect.bats makes on SQLite. Skips, saying so in one line, without
# the server binaries.

load pg_helpers
load pipeline_helpers
DB_DUMP=pg_db_dump # check_range's

setup_file() { pg_suite_setup_file --sim --rate-limit 0; }
teardown_file() { pg_suite_teardown_file; }
setup() { pg_suite_setup; }

teardown() {
	local p
	for p in "${BG[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${BG[@]}"; do wait "$p" 2>/dev/null || true; done
	tmux kill-session -t "pgmon$$" 2>/dev/null || true
	# the run directory named from the URI (common/rundir.c), ours alone
	[[ "${MON_RUN:-}" != /tmp/cp-* ]] || rm -rf "$MON_RUN"
}

q() { # SQL: one value from the test's database
	pg_psql "$DB" -c "$1"
}

@test "pgdb: the schema rule on real databases; a foreign candlepipe schema is refused and left unchanged" {
	CP_PG_ADMIN_URI=$PG_URI run "$ROOT/tests/unit/pgdb_test"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" != *SKIPPED* ]]
	[[ "$output" == *"[  PASSED  ] 8 test(s)."* ]]
}

@test "pg: 1m and 1s equal the truth field for field" {
	check_range KRW-BTC 1m 2026-10-01T00:00:00 2026-10-02T00:00:00
	local to from
	to=$(ago 600); from=$(ago 3000)
	check_range KRW-ETH 1s "${from:0:16}:00" "${to:0:16}:00"
	# exact decimals: numeric keeps Upbit's scale
	[ "$(q "SELECT opening_price::text FROM candlepipe.candles WHERE timeframe = '1m' LIMIT 1")" != "" ]
	[[ "$(q "SELECT opening_price::text FROM candlepipe.candles WHERE timeframe = '1m' LIMIT 1")" == *.00000000 ]]
	pg_coverage_merged
}

@test "pg: 3m 5m 10m 15m 30m 1h 4h equal the truth" {
	for tf in 3m 5m 10m 15m 30m; do
		check_range KRW-XRP $tf 2026-09-01T00:00:00 2026-09-04T00:00:00
	done
	check_range KRW-SOL 60m 2026-08-01T00:00:00 2026-09-15T00:00:00
	check_range KRW-SOL 240m 2026-05-01T00:00:00 2026-09-15T00:00:00
	[ "$(q "SELECT string_agg(DISTINCT timeframe, ',') FROM candlepipe.candles WHERE market = 'KRW-SOL'")" = "1h,4h" ]
}

@test "pg: 1d, 1w, 1M, 1y across the listing equal the truth; history_start proven" {
	check_range KRW-BTC 1d 2025-01-01T00:00:00 2026-11-01T00:00:00
	check_range KRW-BTC 1w 2017-01-02T00:00:00 2026-11-02T00:00:00
	check_range KRW-BTC 1M 2016-01-01T00:00:00 2026-11-01T00:00:00
	check_range KRW-BTC 1y 2015-01-01T00:00:00 2026-01-01T00:00:00
	[ "$(q "SELECT first_utc FROM candlepipe.history_start WHERE market='KRW-BTC' AND timeframe='1M'")" = "2017-10-01 00:00:00" ]
}

@test "pg: running the same collection again makes zero candle requests" {
	check_range KRW-ETH 1m 2026-10-05T00:00:00 2026-10-06T00:00:00
	local before after
	before=$(candle_requests)
	run collect --market KRW-ETH --timeframe 1m --from 2026-10-05T00:00:00 --to 2026-10-06T00:00:00 --db "$DB" --rate 0 --quiet
	[ "$status" -eq 0 ]
	after=$(candle_requests)
	[ "$before" -eq "$after" ]
}

@test "pg: random fragments already stored: only the missing parts are requested" {
	local i h before after stored_before new
	for i in 1 2 3 4 5; do
		h=$(( (RANDOM % 22) + 1 ))
		run collect --market KRW-ADA --timeframe 1m --from "2026-10-10T$(printf %02d $h):07:00" \
			--to "2026-10-10T$(printf %02d $h):$(printf %02d $((20 + RANDOM % 30))):00" --db "$DB" --rate 0 --quiet
		[ "$status" -eq 0 ]
	done
	stored_before=$(q "SELECT count(*) FROM candlepipe.candles")
	before=$(candle_requests)
	run collect --market KRW-ADA --timeframe 1m --from 2026-10-10T00:00:00 --to 2026-10-11T00:00:00 --db "$DB" --quiet
	[ "$status" -eq 0 ]
	truth KRW-ADA 1m 2026-10-10T00:00:00 2026-10-11T00:00:00 | diff - <(pg_db_dump "$DB" KRW-ADA 1m 2026-10-10T00:00:00 2026-10-11T00:00:00)
	after=$(candle_requests)
	new=$(( $(q "SELECT count(*) FROM candlepipe.candles") - stored_before ))
	echo "requests $((after - before)) for $new new candles"
	[ $((after - before)) -le $(( (new + 199) / 200 + 6 )) ]
	pg_coverage_merged
	[ "$(q "SELECT count(*) FROM candlepipe.coverage WHERE market = 'KRW-ADA'")" -eq 1 ]
}

@test "pg: a sparse, a very sparse and a newly listed market come out right" {
	check_range KRW-ZIL 1m 2026-10-01T00:00:00 2026-10-03T00:00:00
	check_range KRW-MED 1m 2026-10-01T00:00:00 2026-10-03T00:00:00
	[ "$(q "SELECT count(*) FROM candlepipe.candles WHERE market='KRW-ZIL'")" -lt 2880 ]
	[ "$(q "SELECT count(*) FROM candlepipe.coverage WHERE market='KRW-MED'
		AND span @> tsrange('2026-10-01', '2026-10-03')")" -eq 1 ]
	check_range KRW-BERA 1m 2026-10-31T12:00:00 2026-11-01T12:00:00
	[ "$(q "SELECT min(candle_date_time_utc) > '2026-10-31T23:59:59' FROM candlepipe.candles WHERE market='KRW-BERA'")" = t ]
	[ "$(q "SELECT first_utc > '2026-10-31T23:59:59' FROM candlepipe.history_start WHERE market='KRW-BERA'")" = t ]
}

@test "pg: the markets table holds what /v1/market/all said" {
	check_range KRW-BTC 1h 2026-10-01T00:00:00 2026-10-02T00:00:00
	[ "$(q "SELECT count(*) FROM candlepipe.markets")" -gt 5 ]
	[ "$(q "SELECT english_name FROM candlepipe.markets WHERE market = 'KRW-BTC'")" = Bitcoin ]
}

@test "pg: a database with another program's candlepipe schema is refused (exit 3) and left unchanged" {
	q "CREATE SCHEMA candlepipe; CREATE TABLE candlepipe.candles(x int); INSERT INTO candlepipe.candles VALUES (7)"
	local before
	before=$(pg_psql "$DB" -c "SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class WHERE relnamespace = 'candlepipe'::regnamespace")
	run collect --market KRW-BTC --timeframe 1m --from 2026-10-01T00:00:00 --to 2026-10-01T06:00:00 --db "$DB" --rate 0 --quiet
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"not candlepipe's"*"refusing to touch it"* ]]
	[ "$(pg_psql "$DB" -c "SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class WHERE relnamespace = 'candlepipe'::regnamespace")" = "$before" ]
	[ "$(q "SELECT x FROM candlepipe.candles")" = 7 ]
	[ "$(q "SELECT count(*) FROM pg_extension WHERE extname = 'btree_gist'")" = 0 ]
}

@test "pg: a server that is not there: the writer exits 4 (temporary) naming it" {
	run collect --market KRW-BTC --timeframe 1m --from 2026-10-01T00:00:00 --to 2026-10-01T06:00:00 \
		--db "postgresql://postgres@/cp?host=$BATS_TEST_TMPDIR/nosock" --rate 0 --quiet
	echo "$output"
	# as for a busy SQLite file: the writer exits 4, run.sh says run it again
	[ "$status" -eq 1 ]
	[[ "$output" == *"the writer did not start (exit 4): cannot connect to postgresql://postgres@/cp?host="*"; run it again"* ]]
}

@test "pg: pg_ctl restart -m fast in the middle of a collection: it completes, equal to the truth" {
	local from=2026-06-01T00:00:00 to=2026-07-01T00:00:00
	collect --market KRW-BTC --timeframe 1m --from $from --to $to --db "$DB" --rate 15 --quiet \
		>"$BATS_TEST_TMPDIR/out" 2>&1 &
	local pid=$!
	# some results committed first, then the server goes away and comes back
	WAIT_FOR_S=60 wait_for pg_candles_over 2000
	pg_restart
	local rc=0
	wait "$pid" || rc=$?
	cat "$BATS_TEST_TMPDIR/out"
	[ "$rc" -eq 0 ]
	grep -q "reconnected to" "$BATS_TEST_TMPDIR/run/writer.log"
	truth KRW-BTC 1m $from $to | diff - <(pg_db_dump "$DB" KRW-BTC 1m $from $to)
	pg_coverage_merged
	[ "$(q "SELECT count(*) FROM candlepipe.coverage")" -eq 1 ]
}

@test "pg: the read-only role reads (psql and the planner's coverage) and cannot write" {
	check_range KRW-BTC 1h 2026-10-01T00:00:00 2026-10-03T00:00:00
	pg_psql "$PG_URI" -c "DO \$\$ BEGIN CREATE ROLE candlepipe_read LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END \$\$"
	q "GRANT USAGE ON SCHEMA candlepipe TO candlepipe_read; GRANT SELECT ON ALL TABLES IN SCHEMA candlepipe TO candlepipe_read"
	local ro=${DB/postgres@/candlepipe_read@}
	[ "$(pg_psql "$ro" -c "SELECT count(*) FROM candlepipe.candles")" -eq 48 ]
	run pg_psql "$ro" -c "DELETE FROM candlepipe.candles"
	[ "$status" -ne 0 ]
	[[ "$output" == *"permission denied"* ]]
	# the planner plans over what the read-only role sees: nothing to fetch
	run "$ROOT/planner/cp-planner" --db "$ro" --market KRW-BTC --timeframe 1h \
		--from 2026-10-01T00:00:00 --to 2026-10-03T00:00:00 --work "ipc://$BATS_TEST_TMPDIR/w.sock" --rate 0
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"0 segments to fetch"* ]]
	[[ "$output" == *"48 of 48 slots already covered"* ]]
}

# two collectors (own run dirs, own source addresses) at once on one database
collect_as() { # RUNDIR SOURCE FROM TO
	"$ROOT/run.sh" collect --api-url "$SIM_URL" --run-dir "$1" --source-ip "$2" \
		--market KRW-BTC --timeframe 1m --from "$3" --to "$4" --db "$DB" --rate 20 --quiet 3>&-
}

@test "pg: two collectors at once with overlapping ranges: the truth, and requests <= 1.05 x ideal" {
	local a b before after ideal got rc1 rc2 i
	local -a A_FROM=(2026-03-01 2026-03-01 2026-03-05) A_TO=(2026-03-11 2026-03-11 2026-03-15)
	local -a B_FROM=(2026-03-06 2026-03-03 2026-03-01) B_TO=(2026-03-16 2026-03-09 2026-03-19)
	for i in 0 1 2; do
		DB=$(pg_createdb "t${BATS_SUITE_TEST_NUMBER}_$i")
		before=$(candle_requests)
		collect_as "$BATS_TEST_TMPDIR/ra$i" 127.0.0.2 "${A_FROM[$i]}" "${A_TO[$i]}" >"$BATS_TEST_TMPDIR/a$i" 2>&1 &
		a=$!
		collect_as "$BATS_TEST_TMPDIR/rb$i" 127.0.0.3 "${B_FROM[$i]}" "${B_TO[$i]}" >"$BATS_TEST_TMPDIR/b$i" 2>&1 &
		b=$!
		rc1=0 rc2=0
		wait $a || rc1=$?
		wait $b || rc2=$?
		cat "$BATS_TEST_TMPDIR/a$i" "$BATS_TEST_TMPDIR/b$i"
		[ "$rc1" -eq 0 ] && [ "$rc2" -eq 0 ]
		after=$(candle_requests)
		local lo=${A_FROM[$i]} hi=${A_TO[$i]}
		[[ "${B_FROM[$i]}" > "$lo" ]] || lo=${B_FROM[$i]}
		[[ "${B_TO[$i]}" < "$hi" ]] || hi=${B_TO[$i]}
		truth KRW-BTC 1m "${lo}T00:00:00" "${hi}T00:00:00" | diff - <(pg_db_dump "$DB" KRW-BTC 1m "${lo}T00:00:00" "${hi}T00:00:00")
		pg_coverage_merged
		[ "$(q "SELECT count(*) FROM candlepipe.coverage")" -eq 1 ]
		# every claim let go
		[ "$(q "SELECT count(*) FROM candlepipe.claims")" -eq 0 ]
		ideal=$(( ($(q "SELECT count(*) FROM candlepipe.candles") + 199) / 200 ))
		got=$((after - before))
		echo "overlap $i: $got requests, ideal $ideal" >&3
		[ $((got * 100)) -le $((ideal * 105)) ]
	done
}

@test "pg: candles already stored without their coverage: the writer's COPY conflicts, the batch is written again ON CONFLICT, equal to the truth" {
	local from=2026-10-01T00:00:00 to=2026-10-03T00:00:00
	check_range KRW-BTC 1m $from $to
	# the candles stay, some go, the coverage goes: every result of the rerun
	# meets stored candles (a re-sent result, a retried COMMIT)
	q "DELETE FROM candlepipe.coverage; DELETE FROM candlepipe.candles WHERE extract(minute FROM candle_date_time_utc) = 7"
	[ "$(q "SELECT count(*) FROM candlepipe.candles")" -eq $((2880 - 48)) ]
	check_range KRW-BTC 1m $from $to -v
	grep -q "candles already stored on .*: the batch again with ON CONFLICT" "$BATS_TEST_TMPDIR/run/writer.log"
	grep -q " 0 failed batches" "$BATS_TEST_TMPDIR/run/writer.log"
	grep -q "48 new candles" "$BATS_TEST_TMPDIR/run/writer.log"
	[ "$(q "SELECT count(*) FROM candlepipe.coverage")" -eq 1 ]
	pg_coverage_merged
}

@test "pg: ./run.sh monitor --db URI (--json, and the terminal view) follows the collection on that database and exits when it ends" {
	local from=2026-10-01T00:00:00 to=2026-10-05T00:00:00 j=$BATS_TEST_TMPDIR/mon.json pane=$BATS_TEST_TMPDIR/pane
	BG=()
	MON_RUN=$("$ROOT/monitor/cp-monitor" --print-run-dir --db "$DB")
	[[ "$MON_RUN" == /tmp/cp-* ]] && [ ! -e "$MON_RUN" ]
	# started first, the JSON monitor waits for the collection
	"$ROOT/run.sh" monitor --db "$DB" --json --exit-on-finish >"$j" 2>"$BATS_TEST_TMPDIR/mon.err" 3>&- &
	local mon=$!
	BG+=("$mon")
	wait_for grep -qF "waiting for $MON_RUN/monitor.endpoint" "$BATS_TEST_TMPDIR/mon.err"
	# the collection in its default run directory, the one named from the URI
	"$ROOT/run.sh" collect --api-url "$SIM_URL" --db "$DB" --market KRW-BTC,KRW-ETH --timeframe 1m \
		--from $from --to $to --rate 10 --quiet >"$BATS_TEST_TMPDIR/collect.out" 2>&1 3>&- &
	local cpid=$!
	BG+=("$cpid")
	# the terminal view attaches to it running
	wait_for test -S "$MON_RUN/monitor.sock"
	tmux new-session -d -s "pgmon$$" -x 150 -y 45 "'$ROOT/run.sh' monitor --db '$DB' 2>/dev/null"
	wait_for sh -c "tmux capture-pane -p -t pgmon$$ >'$pane'; grep -q 'KRW-ETH *1m *\[#' '$pane'"
	cat "$pane"
	grep -q 'KRW-BTC *1m *\[' "$pane"
	grep -q 'requests/s of' "$pane"
	wait "$cpid"
	# the JSON monitor leaves by itself, with 0, once the collection is done
	WAIT_FOR_S=60 wait_for eval '! kill -0 "$mon" 2>/dev/null'
	wait "$mon"
	cat "$BATS_TEST_TMPDIR/mon.err"
	grep -qF "hub endpoint ipc://$MON_RUN/monitor.sock (from $MON_RUN/monitor.endpoint)" "$BATS_TEST_TMPDIR/mon.err"
	jq -e . "$j" >/dev/null
	[ "$(grep -c '"topic":"progress"' "$j")" -ge 2 ]
	jq -e -s '[.[] | select(.topic == "committed")] | length > 0' "$j"
	jq -e -s '[.[] | select(.topic == "summary")] | last |
		.finished and .slots_done == .slots_total and .slots_total == 11520 and .requests > 0' "$j"
	# the terminal view shows the end, and waits for the next run
	wait_for sh -c "tmux capture-pane -p -t pgmon$$ >'$pane'; grep -q finished '$pane'"
	grep -q 'waiting for the next run' "$pane"
	truth KRW-BTC 1m $from $to | diff - <(pg_db_dump "$DB" KRW-BTC 1m $from $to)
}

# every table of a SQLite database, rows sorted, as text (candles by
# tests/db_dump.sh, byte for byte like the truth)
sqlite_tables() { # DB
	local m tf
	while IFS='|' read -r m tf; do
		db_dump "$1" "$m" "$tf"
	done < <(sqlite3 "$1" "SELECT DISTINCT market, timeframe FROM candles_exact ORDER BY 1, 2")
	sqlite3 "$1" "SELECT * FROM coverage ORDER BY 1, 2, 3; SELECT * FROM history_start ORDER BY 1, 2;
		SELECT market, korean_name, english_name, warning, updated_utc FROM markets ORDER BY 1"
}

# a SQLite database with several timeframes, a history start and a sparse market
sqlite_source() { # DB
	local c=(--api-url "$SIM_URL" --run-dir "$BATS_TEST_TMPDIR/run.src" --db "$1" --rate 0 --quiet)
	"$ROOT/run.sh" collect "${c[@]}" --market KRW-BTC,KRW-ETH --timeframe 1m,1h \
		--from 2026-10-01T00:00:00 --to 2026-10-02T00:00:00 3>&- &&
		"$ROOT/run.sh" collect "${c[@]}" --market KRW-BTC,KRW-ETH --timeframe 1m \
			--from 2026-10-03T00:00:00 --to 2026-10-03T12:00:00 3>&- &&
		"$ROOT/run.sh" collect "${c[@]}" --market KRW-BTC --timeframe 1w,1M \
			--from 2015-01-01T00:00:00 --to 2026-10-01T00:00:00 3>&- &&
		"$ROOT/run.sh" collect "${c[@]}" --market KRW-MED,KRW-BERA --timeframe 1m \
			--from 2026-10-31T12:00:00 --to 2026-11-01T12:00:00 3>&-
}

@test "copy: SQLite -> PostgreSQL -> SQLite gives back every table byte for byte; a second copy changes nothing and says so" {
	sqlite_source "$BATS_TEST_TMPDIR/a.db"
	[ "$(sqlite3 "$BATS_TEST_TMPDIR/a.db" "SELECT count(*) FROM history_start")" -ge 1 ]
	[ "$(sqlite3 "$BATS_TEST_TMPDIR/a.db" "SELECT count(DISTINCT market || timeframe) FROM coverage")" -ge 6 ]
	run "$ROOT/run.sh" copy --from "$BATS_TEST_TMPDIR/a.db" --to "$DB"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"copied $BATS_TEST_TMPDIR/a.db into $DB: "*" new)"* ]]
	[[ "$output" == *"writer"*"copy: market/timeframe "* ]]
	[[ "$output" != *"nothing changed"* ]]
	# PostgreSQL holds the same candles (numeric keeps the scale)
	local m tf
	while IFS='|' read -r m tf; do
		diff <(db_dump "$BATS_TEST_TMPDIR/a.db" "$m" "$tf") <(pg_db_dump "$DB" "$m" "$tf")
	done < <(sqlite3 "$BATS_TEST_TMPDIR/a.db" "SELECT DISTINCT market, timeframe FROM candles_exact")
	[ "$(q "SELECT count(*) FROM candlepipe.coverage")" -eq "$(sqlite3 "$BATS_TEST_TMPDIR/a.db" "SELECT count(*) FROM coverage")" ]
	pg_coverage_merged
	# again: nothing changes, and it says so
	local before
	before=$(pg_psql "$DB" -c "SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM
		(SELECT c::text t FROM candlepipe.candles c UNION ALL SELECT v::text FROM candlepipe.coverage v
		 UNION ALL SELECT h::text FROM candlepipe.history_start h UNION ALL SELECT m::text FROM candlepipe.markets m) x")
	run "$ROOT/run.sh" copy --from "$BATS_TEST_TMPDIR/a.db" --to "$DB"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"(0 new)"*"nothing changed: $DB already held everything of $BATS_TEST_TMPDIR/a.db"* ]]
	[ "$(pg_psql "$DB" -c "SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM
		(SELECT c::text t FROM candlepipe.candles c UNION ALL SELECT v::text FROM candlepipe.coverage v
		 UNION ALL SELECT h::text FROM candlepipe.history_start h UNION ALL SELECT m::text FROM candlepipe.markets m) x")" = "$before" ]
	# and back into a new SQLite file: every table as the original
	run "$ROOT/run.sh" copy --from "$DB" --to "$BATS_TEST_TMPDIR/b.db"
	echo "$output"
	[ "$status" -eq 0 ]
	diff <(sqlite_tables "$BATS_TEST_TMPDIR/a.db") <(sqlite_tables "$BATS_TEST_TMPDIR/b.db")
	# SQLite -> SQLite too, again nothing the second time
	run "$ROOT/run.sh" copy --from "$BATS_TEST_TMPDIR/b.db" --to "$BATS_TEST_TMPDIR/c.db"
	[ "$status" -eq 0 ]
	diff <(sqlite_tables "$BATS_TEST_TMPDIR/a.db") <(sqlite_tables "$BATS_TEST_TMPDIR/c.db")
	run "$ROOT/run.sh" copy --from "$BATS_TEST_TMPDIR/b.db" --to "$BATS_TEST_TMPDIR/c.db"
	[ "$status" -eq 0 ]
	[[ "$output" == *"nothing changed"* ]]
}

@test "copy: into a database that holds part of it already: coverage merged with what was there, every candle once" {
	local a=$BATS_TEST_TMPDIR/a.db
	# the source: 1m of Oct 1 06:00..18:00; the destination: 00:00..08:00 and 16:00..20:00
	collect --market KRW-BTC --timeframe 1m --from 2026-10-01T06:00:00 --to 2026-10-01T18:00:00 --db "$a" --rate 0 --quiet
	collect --market KRW-BTC --timeframe 1m --from 2026-10-01T00:00:00 --to 2026-10-01T08:00:00 --db "$DB" --rate 0 --quiet
	collect --market KRW-BTC --timeframe 1m --from 2026-10-01T16:00:00 --to 2026-10-01T20:00:00 --db "$DB" --rate 0 --quiet
	[ "$(q "SELECT count(*) FROM candlepipe.coverage")" -eq 2 ]
	run "$ROOT/run.sh" copy --from "$a" --to "$DB"
	echo "$output"
	[ "$status" -eq 0 ]
	# 8:00..16:00 was new: 480 candles
	[[ "$output" == *"720 candles (480 new)"* ]]
	[ "$(q "SELECT count(*) FROM candlepipe.coverage")" -eq 1 ]
	[ "$(q "SELECT span FROM candlepipe.coverage")" = '["2026-10-01 00:00:00","2026-10-01 20:00:00")' ]
	pg_coverage_merged
	truth KRW-BTC 1m 2026-10-01T00:00:00 2026-10-01T20:00:00 | diff - <(pg_db_dump "$DB" KRW-BTC 1m)
	# the other way: the SQLite file gains the rest, one coverage row
	run "$ROOT/run.sh" copy --from "$DB" --to "$a"
	[ "$status" -eq 0 ]
	[[ "$output" == *"1200 candles (480 new)"* ]]
	[ "$(sqlite3 "$a" "SELECT from_utc, to_utc FROM coverage")" = "2026-10-01T00:00:00|2026-10-01T20:00:00" ]
	truth KRW-BTC 1m 2026-10-01T00:00:00 2026-10-01T20:00:00 | diff - <(db_dump "$a" KRW-BTC 1m)
}

@test "copy: a destination that is another program's is refused (exit 3) and left unchanged; a missing source too; no server: exit 4" {
	local a=$BATS_TEST_TMPDIR/a.db
	collect --market KRW-BTC --timeframe 1h --from 2026-10-01T00:00:00 --to 2026-10-02T00:00:00 --db "$a" --rate 0 --quiet
	q "CREATE SCHEMA candlepipe; CREATE TABLE candlepipe.candles(x int); INSERT INTO candlepipe.candles VALUES (7)"
	run "$ROOT/run.sh" copy --from "$a" --to "$DB"
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"not candlepipe's"*"refusing to touch it"* ]]
	[ "$(pg_psql "$DB" -c "SELECT string_agg(relname, ',') FROM pg_class WHERE relnamespace = 'candlepipe'::regnamespace")" = candles ]
	[ "$(q "SELECT x FROM candlepipe.candles")" = 7 ]
	# a foreign SQLite file
	sqlite3 "$BATS_TEST_TMPDIR/f.db" "CREATE TABLE t(x); INSERT INTO t VALUES (1)"
	local sum
	sum=$(md5sum <"$BATS_TEST_TMPDIR/f.db")
	run "$ROOT/run.sh" copy --from "$a" --to "$BATS_TEST_TMPDIR/f.db"
	echo "$output"
	[ "$status" -eq 3 ]
	[ "$(md5sum <"$BATS_TEST_TMPDIR/f.db")" = "$sum" ]
	# a source that is not there, or another program's: exit 3, nothing created
	run "$ROOT/run.sh" copy --from "$BATS_TEST_TMPDIR/none.db" --to "$BATS_TEST_TMPDIR/new.db"
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"no such file"* ]]
	run "$ROOT/run.sh" copy --from "$BATS_TEST_TMPDIR/f.db" --to "$BATS_TEST_TMPDIR/new.db"
	[ "$status" -eq 3 ]
	[ ! -e "$BATS_TEST_TMPDIR/new.db" ]
	run "$ROOT/run.sh" copy --from "$a"
	[ "$status" -eq 2 ]
	# a server that is not there: temporary, run it again
	run "$ROOT/run.sh" copy --from "$a" --to "postgresql://postgres@/cp?host=$BATS_TEST_TMPDIR/nosock"
	echo "$output"
	[ "$status" -eq 4 ]
	[[ "$output" == *"cannot connect to postgresql://postgres@/cp?host="* ]]
}

@test "pg: the writer under memcheck (COPY, the batch again ON CONFLICT, copy mode both ways): no error, no leak" {
	command -v valgrind >/dev/null || skip "valgrind is not installed (apt-get install valgrind)"
	[ "${SANITIZE:-0}" != 1 ] || skip "valgrind and ASan do not mix (make test SANITIZE=1)"
	local vg="valgrind --error-exitcode=97 --leak-check=full --errors-for-leak-kinds=definite,indirect"
	vg="$vg --show-leak-kinds=definite,indirect --track-fds=no --log-file=$BATS_TEST_TMPDIR/vg.%p.log"
	local from=2026-10-01T00:00:00 to=2026-10-02T00:00:00 f bad=0
	# only the writer runs under valgrind
	mkdir "$BATS_TEST_TMPDIR/bin"
	printf '#!/bin/sh\ncase "$1" in */cp-writer) exec %s "$@" ;; esac\nexec "$@"\n' "$vg" >"$BATS_TEST_TMPDIR/bin/wrap"
	chmod +x "$BATS_TEST_TMPDIR/bin/wrap"
	CP_EXEC_WRAPPER="$BATS_TEST_TMPDIR/bin/wrap" check_range KRW-BTC 1m $from $to --fetchers 2
	q "DELETE FROM candlepipe.coverage; DELETE FROM candlepipe.candles WHERE extract(minute FROM candle_date_time_utc) = 7"
	CP_EXEC_WRAPPER="$BATS_TEST_TMPDIR/bin/wrap" check_range KRW-BTC 1m $from $to --fetchers 2
	$vg "$ROOT/writer/cp-writer" --db "$BATS_TEST_TMPDIR/a.db" --copy-from "$DB"
	$vg "$ROOT/writer/cp-writer" --db "$DB" --copy-from "$BATS_TEST_TMPDIR/a.db"
	for f in "$BATS_TEST_TMPDIR"/vg.*.log; do
		grep -q "ERROR SUMMARY: 0 errors" "$f" || { echo "== $f"; head -60 "$f"; bad=1; }
	done
	[ "$(ls "$BATS_TEST_TMPDIR"/vg.*.log | wc -l)" -eq 4 ]
	[ "$bad" = 0 ]
}
