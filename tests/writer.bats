#!/usr/bin/env bats
# The writer's start-up refusals, one per step, each with the exit code a
# supervisor acts on (2 usage, 3 permanent: do not restart, 4 temporary)
# and a message naming the cause; after each, a good start on the same
# database still works and the database is intact. The message-level error
# paths (dropped, rejected, unacked, full disk, failed batches) are in
# tests/unit/writer_test.c.

load pipeline_helpers

W="$ROOT/writer/cp-writer"

# writer ARGS...: runs the writer on $D/c.db with fresh endpoints
writer() {
	run "$W" --db "$D/c.db" --results "ipc://$D/r" --work "ipc://$D/w" "$@" 3>&-
}

# starts and stops a good writer: the database opens and is intact
good_start() {
	"$W" --db "$D/c.db" --results "ipc://$D/r" --work "ipc://$D/w" --ready-file "$D/ok" \
		2>/dev/null 3>&- &
	local w=$!
	wait_for test -e "$D/ok"
	kill -TERM "$w"
	wait "$w"
	[ ! -e "$D/ok" ]
	[ "$(sqlite3 "$D/c.db" "PRAGMA integrity_check")" = ok ]
}

setup() {
	D="$BATS_TEST_TMPDIR"
}

@test "writer: a stray operand and a bad option are usage errors (2)" {
	writer extra
	[ "$status" -eq 2 ]
	[[ "$output" == *"cp-writer: unexpected argument 'extra'"* ]]
	writer --curve-client
	[ "$status" -eq 2 ]
	[ ! -e "$D/c.db" ]
}

@test "writer: a ready file it cannot write is permanent (3)" {
	writer --ready-file "$D/no/such/dir/ready"
	[ "$status" -eq 3 ]
	[[ "$output" == *"cannot write the ready file (No such file or directory): $D/no/such/dir/ready"* ]]
	mkdir -p "$D/rdir/x"
	writer --ready-file "$D/rdir"
	[ "$status" -eq 3 ]
	[[ "$output" == *"(not a regular file (a directory)): $D/rdir"* ]]
	[ -z "$(ls "$D" | grep '\.tmp$')" ]
	writer --ready-file "$D/$(printf 'r%.0s' $(seq 4100))"
	[ "$status" -eq 3 ]
	[[ "$output" == *"cannot write the ready file (File name too long)"* ]]
	good_start
}

@test "writer: CURVE without an allow list is permanent (3)" {
	writer --curve-server "$D/keys"
	[ "$status" -eq 3 ]
	[[ "$output" == *"CURVE needs a usable --curve-allow file"* ]]
	good_start
}

@test "writer: endpoints it cannot use: results 4 (may pass), planner 3, events only warned" {
	writer --results "ipc://$D/no/such/dir/r"
	[ "$status" -eq 4 ]
	writer --work "bogus://x"
	[ "$status" -eq 3 ]
	# a bad event hub disables events, the writer still serves
	"$W" --db "$D/c.db" --results "ipc://$D/r" --work "ipc://$D/w" --events "bogus://x" \
		--ready-file "$D/ok" 2>"$D/log" 3>&- &
	local w=$!
	wait_for test -e "$D/ok"
	kill -TERM "$w"
	wait "$w"
	grep -q "events to bogus://x disabled" "$D/log"
	good_start
}

# start_writer DB [ARGS...]: a writer serving DB in the background ($WPID),
# ready; stop_writer stops it (exit 0)
start_writer() {
	rm -f "$D/ok"
	"$W" --db "$1" --results "ipc://$D/r" --work "ipc://$D/w" --ready-file "$D/ok" "${@:2}" \
		2>>"$D/wlog" 3>&- &
	WPID=$!
	wait_for test -e "$D/ok"
}
stop_writer() {
	kill -TERM "$WPID"
	wait "$WPID"
}

# refused DB WANT: the writer exits 3 on DB naming WANT, DB stays byte for
# byte what it was, and no lock (unless one was there before), -wal, -shm or
# -journal appears beside it
refused() {
	local before had_lock=0
	before=$(sha256sum <"$1")
	[ -e "$1.lock" ] && had_lock=1
	# a writer that accepted the file would serve: the timeout ends it (124)
	run timeout 20 "$W" --db "$1" --results "ipc://$D/r" --work "ipc://$D/w" 3>&-
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"$2"* ]]
	[ "$(sha256sum <"$1")" = "$before" ]
	[ "$had_lock" -eq 1 ] || [ ! -e "$1.lock" ]
	[ ! -e "$1-wal" ] && [ ! -e "$1-shm" ] && [ ! -e "$1-journal" ]
}

@test "writer: another program's SQLite file is refused (3), byte for byte unchanged, no lock left" {
	sqlite3 "$D/own.db" "CREATE TABLE t(x); INSERT INTO t VALUES (1)"
	refused "$D/own.db" "$D/own.db is not a candlepipe database (user_version 0, tables: t); refusing to touch it"
	sqlite3 "$D/candles.db" "CREATE TABLE candles(market, close); INSERT INTO candles VALUES ('KRW-BTC', 1)"
	refused "$D/candles.db" "is not a candlepipe database (user_version 0, tables: candles)"
	sqlite3 "$D/v7.db" "PRAGMA user_version = 7"
	refused "$D/v7.db" "$D/v7.db has schema version 7, this program knows versions 1 to 3; refusing to touch it"
	sqlite3 "$D/v1own.db" "CREATE TABLE t(x); PRAGMA user_version = 1"
	refused "$D/v1own.db" "is not a candlepipe database (user_version 1, tables: t)"
	# no tables but a view of its own: a schema that is not ours
	sqlite3 "$D/view.db" "CREATE VIEW v AS SELECT 1"
	refused "$D/view.db" "(user_version 0, tables: none)"
	# WAL mode and not even a -shm: read as immutable
	sqlite3 "$D/wal.db" "PRAGMA journal_mode = WAL; CREATE TABLE t(x)" >/dev/null
	refused "$D/wal.db" "tables: t"
	# a rollback journal beside it: another program is writing it
	sqlite3 "$D/j.db" "CREATE TABLE t(x)"
	echo x >"$D/j.db-journal"
	run "$W" --db "$D/j.db" --results "ipc://$D/r" --work "ipc://$D/w" 3>&-
	[ "$status" -eq 3 ]
	[[ "$output" == *"has a rollback journal"* ]]
	[ ! -e "$D/j.db.lock" ]
	echo "not an SQLite database, just text long enough to be a header and more" >"$D/text.db"
	refused "$D/text.db" "cannot open $D/text.db: file is not a database"
	# a lock file that was there before is not ours to remove
	: >"$D/own.db.lock"
	run "$W" --db "$D/own.db" --results "ipc://$D/r" --work "ipc://$D/w" 3>&-
	[ "$status" -eq 3 ]
	[ -e "$D/own.db.lock" ]
}

@test "writer: an empty file, a schema-less SQLite file and a missing file become databases" {
	: >"$D/c.db"
	good_start
	[ "$(sqlite3 "$D/c.db" "PRAGMA user_version")" -eq 3 ]
	sqlite3 "$D/e.db" "PRAGMA page_size = 1024; VACUUM"
	start_writer "$D/e.db"; stop_writer
	[ "$(sqlite3 "$D/e.db" "SELECT group_concat(name) FROM (SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1)")" = "candles_exact,coverage,follows,history_start,markets" ]
	start_writer "$D/n.db"; stop_writer
	[ "$(sqlite3 "$D/n.db" "PRAGMA journal_mode")" = wal ]
	# ours, with an index and a view the user added: still ours
	sqlite3 "$D/n.db" "CREATE INDEX mine ON candles_exact(timestamp); CREATE VIEW v AS SELECT 1; ANALYZE"
	start_writer "$D/n.db"; stop_writer
	# ours plus a table of the user's: not ours any more
	sqlite3 "$D/n.db" "CREATE TABLE extra(x)"
	refused "$D/n.db" "tables: candles_exact,coverage,extra,follows,history_start,markets"
}

@test "writer: a version-1 database is upgraded to version 3 in place, every row kept" {
	start_writer "$D/c.db"; stop_writer
	sqlite3 "$D/c.db" "DROP TABLE markets; DROP TABLE follows; PRAGMA user_version = 1;
		INSERT INTO coverage VALUES ('KRW-BTC', '1m', '2026-01-01T00:00:00', '2026-01-02T00:00:00');
		INSERT INTO history_start VALUES ('KRW-BTC', '1m', '2017-09-25T00:00:00')"
	start_writer "$D/c.db"; stop_writer
	grep -q "upgrading schema version 1 to 3" "$D/wlog"
	[ "$(sqlite3 "$D/c.db" "PRAGMA user_version")" -eq 3 ]
	[ "$(sqlite3 "$D/c.db" "SELECT count(*) FROM markets")" -eq 0 ]
	[ "$(sqlite3 "$D/c.db" "SELECT to_utc FROM coverage")" = 2026-01-02T00:00:00 ]
	[ "$(sqlite3 "$D/c.db" "SELECT first_utc FROM history_start")" = 2017-09-25T00:00:00 ]
	[ "$(sqlite3 "$D/c.db" "PRAGMA integrity_check")" = ok ]
	# a newer candlepipe schema is refused, untouched
	sqlite3 "$D/c.db" "PRAGMA user_version = 4"
	refused "$D/c.db" "has schema version 4, this program knows versions 1 to 3"
}

@test "writer: a version-2 database is upgraded to version 3 in place (the follows table), a v4 refused" {
	start_writer "$D/c.db"; stop_writer
	sqlite3 "$D/c.db" "DROP TABLE follows; PRAGMA user_version = 2;
		INSERT INTO coverage VALUES ('KRW-BTC', '1m', '2026-01-01T00:00:00', '2026-01-02T00:00:00');
		INSERT INTO markets VALUES ('KRW-BTC', 'b', 'Bitcoin', 0, NULL, '2026-01-01T00:00:00')"
	start_writer "$D/c.db"; stop_writer
	grep -q "upgrading schema version 2 to 3" "$D/wlog"
	[ "$(sqlite3 "$D/c.db" "PRAGMA user_version")" -eq 3 ]
	[ "$(sqlite3 "$D/c.db" "SELECT count(*) FROM follows")" -eq 0 ]
	[ "$(sqlite3 "$D/c.db" "SELECT sql FROM sqlite_master WHERE name = 'follows'")" = \
		"CREATE TABLE follows( market TEXT NOT NULL, timeframe TEXT NOT NULL, backfill INTEGER NOT NULL, added_utc TEXT NOT NULL, PRIMARY KEY (market, timeframe)) WITHOUT ROWID" ]
	[ "$(sqlite3 "$D/c.db" "SELECT to_utc FROM coverage")" = 2026-01-02T00:00:00 ]
	[ "$(sqlite3 "$D/c.db" "SELECT english_name FROM markets")" = Bitcoin ]
	[ "$(sqlite3 "$D/c.db" "PRAGMA integrity_check")" = ok ]
	sqlite3 "$D/c.db" "PRAGMA user_version = 4"
	refused "$D/c.db" "has schema version 4, this program knows versions 1 to 3"
}

@test "writer: --db that is no regular file, or in a missing directory: refused (3), nothing created" {
	run "$W" --db "$D/no/such/dir/c.db" --results "ipc://$D/r" --work "ipc://$D/w" 3>&-
	[ "$status" -eq 3 ]
	[[ "$output" == *"the directory $D/no/such/dir of $D/no/such/dir/c.db does not exist (create it first)"* ]]
	[ ! -e "$D/no" ]
	mkdir "$D/dir.db"
	run "$W" --db "$D/dir.db" --results "ipc://$D/r" --work "ipc://$D/w" 3>&-
	[ "$status" -eq 3 ]
	[[ "$output" == *"$D/dir.db is a directory, not a database file"* ]]
	[ ! -e "$D/dir.db.lock" ] && [ -z "$(ls -A "$D/dir.db")" ]
	run "$W" --db /dev/null --results "ipc://$D/r" --work "ipc://$D/w" 3>&-
	[ "$status" -eq 3 ]
	[[ "$output" == *"/dev/null is a character device, not a database file"* ]]
	[ ! -e /dev/null.lock ] && [ ! -e /dev/null-wal ]
	mkfifo "$D/fifo.db"
	run timeout 10 "$W" --db "$D/fifo.db" --results "ipc://$D/r" --work "ipc://$D/w" 3>&-
	[ "$status" -eq 3 ]
	[[ "$output" == *"$D/fifo.db is a FIFO, not a database file"* ]]
	[ ! -e "$D/fifo.db.lock" ]
	python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$D/sock.db"
	run "$W" --db "$D/sock.db" --results "ipc://$D/r" --work "ipc://$D/w" 3>&-
	[ "$status" -eq 3 ]
	[[ "$output" == *"$D/sock.db is a socket, not a database file"* ]]
	[ ! -e "$D/sock.db.lock" ]
	ln -s "$D/nothing.db" "$D/dangling.db"
	run "$W" --db "$D/dangling.db" --results "ipc://$D/r" --work "ipc://$D/w" 3>&-
	[ "$status" -eq 3 ]
	[[ "$output" == *"$D/dangling.db is a symbolic link to nothing"* ]]
	[ ! -e "$D/nothing.db" ] && [ ! -e "$D/dangling.db.lock" ]
}

@test "writer: a symlink to a database is followed, and locked beside its target" {
	mkdir "$D/real"
	start_writer "$D/real/c.db"; stop_writer
	ln -s real/c.db "$D/link.db"
	start_writer "$D/link.db"
	[ -L "$D/link.db" ] && [ -e "$D/real/c.db.lock" ] && [ ! -e "$D/link.db.lock" ]
	[ "$(cat "$D/real/c.db.lock")" -eq "$WPID" ]
	# the same file by its own name is held by the same lock
	run "$W" --db "$D/real/c.db" --results "ipc://$D/r2" --work "ipc://$D/w2" 3>&-
	stop_writer
	[ "$status" -eq 3 ]
	[[ "$output" == *"another writer is running on $D/real/c.db (pid $WPID, lock $D/real/c.db.lock held)"* ]]
	[ "$(sqlite3 "$D/real/c.db" "PRAGMA user_version")" -eq 3 ]
}

@test "writer: a second writer is refused (3) with the holder's pid" {
	start_writer "$D/c.db"
	run "$W" --db "$D/c.db" --results "ipc://$D/r2" --work "ipc://$D/w2" 3>&-
	stop_writer
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"another writer is running on $D/c.db (pid $WPID, lock $D/c.db.lock held)"* ]]
	# the refused one did not remove the holder's lock file
	[ -e "$D/c.db.lock" ]
}

# as_nobody CMD...: runs CMD as the unprivileged user nobody
as_nobody() {
	if command -v setpriv >/dev/null; then
		setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"
	else
		runuser -u nobody -- "$@"
	fi
}

@test "writer: a database it may not write or read is refused (3)" {
	command -v setpriv >/dev/null || command -v runuser >/dev/null ||
		skip "neither setpriv nor runuser to run the writer as another user"
	[ "$(id -u)" -eq 0 ] || skip "needs root to run the writer as another user"
	local p
	p=$(mktemp -d /tmp/cp-writer-perm.XXXXXX)
	chmod 1777 "$p"
	start_writer "$p/c.db"; stop_writer
	run as_nobody "$W" --db "$p/c.db" --results "ipc://$p/r" --work "ipc://$p/w" 3>&-
	[ "$status" -eq 3 ]
	[[ "$output" == *"cannot read and write $p/c.db: Permission denied"* ]]
	chmod 666 "$p/c.db"
	chmod 755 "$p"
	run as_nobody "$W" --db "$p/c.db" --results "ipc://$D/r" --work "ipc://$D/w" 3>&-
	[ "$status" -eq 3 ]
	[[ "$output" == *"cannot open $p/c.db.lock: Permission denied"* ]]
	run as_nobody "$W" --db "$p/new.db" --results "ipc://$D/r" --work "ipc://$D/w" 3>&-
	[ "$status" -eq 3 ]
	[[ "$output" == *"cannot create $p/new.db: Permission denied"* ]]
	[ ! -e "$p/new.db" ]
	rm -rf "$p"
}

# markets JSON: a market list file $D/m.json
markets() { printf '%s\n' "$1" >"$D/m.json"; }

@test "writer: --markets-file upserts every market into the markets table in one go" {
	markets '[{"market":"KRW-BTC","korean_name":"비트코인","english_name":"Bitcoin",
		"market_event":{"warning":false,"caution":{"PRICE_FLUCTUATIONS":false,"TRADING_VOLUME_SOARING":true}}},
		{"market":"BTC-ETH","korean_name":"이더리움","english_name":"Ethereum",
		"market_event":{"warning":true,"caution":{}}},
		{"market":"KRW-OLD","korean_name":"옛","english_name":"Old"}]'
	start_writer "$D/c.db" --markets-file "$D/m.json"; stop_writer
	grep -q "3 markets from $D/m.json" "$D/wlog"
	run sqlite3 -separator '|' "$D/c.db" "SELECT market, korean_name, english_name, quote(warning), quote(caution),
		updated_utc GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]'
		FROM markets ORDER BY market"
	echo "$output"
	[ "${lines[0]}" = "BTC-ETH|이더리움|Ethereum|1|'{}'|1" ]
	[ "${lines[1]}" = "KRW-BTC|비트코인|Bitcoin|0|'{\"PRICE_FLUCTUATIONS\":false,\"TRADING_VOLUME_SOARING\":true}'|1" ]
	[ "${lines[2]}" = "KRW-OLD|옛|Old|NULL|NULL|1" ]
	[ "$(sqlite3 "$D/c.db" "SELECT json_extract(caution, '\$.TRADING_VOLUME_SOARING') FROM markets WHERE market = 'KRW-BTC'")" -eq 1 ]
	# a later list updates what it names and keeps what it does not
	sqlite3 "$D/c.db" "UPDATE markets SET updated_utc = '2000-01-01T00:00:00'"
	markets '[{"market":"KRW-BTC","korean_name":"비트코인","english_name":"Bitcoin",
		"market_event":{"warning":true,"caution":{"PRICE_FLUCTUATIONS":true}}}]'
	start_writer "$D/c.db" --markets-file "$D/m.json"; stop_writer
	[ "$(sqlite3 "$D/c.db" "SELECT count(*) FROM markets")" -eq 3 ]
	[ "$(sqlite3 "$D/c.db" "SELECT warning || caution FROM markets WHERE market = 'KRW-BTC'")" = '1{"PRICE_FLUCTUATIONS":true}' ]
	[ "$(sqlite3 "$D/c.db" "SELECT updated_utc FROM markets WHERE market = 'KRW-OLD'")" = 2000-01-01T00:00:00 ]
	[ "$(sqlite3 "$D/c.db" "SELECT updated_utc > '2000-01-01T00:00:00' FROM markets WHERE market = 'KRW-BTC'")" -eq 1 ]
	# an empty list changes nothing
	markets '[]'
	start_writer "$D/c.db" --markets-file "$D/m.json"; stop_writer
	[ "$(sqlite3 "$D/c.db" "SELECT count(*) FROM markets")" -eq 3 ]
}

@test "writer: a bad --markets-file is permanent (3), with the reason, and writes no market" {
	local bad want
	start_writer "$D/c.db"; stop_writer
	bad_markets() {
		run "$W" --db "$D/c.db" --results "ipc://$D/r" --work "ipc://$D/w" --markets-file "$1" 3>&-
		echo "$output"
		[ "$status" -eq 3 ]
		[[ "$output" == *"--markets-file $1${2:+ $2}"* ]]
		[ "$(sqlite3 "$D/c.db" "SELECT count(*) FROM markets")" -eq 0 ]
	}
	bad_markets "$D/none.json" ""
	[[ "$output" == *"--markets-file $D/none.json: No such file or directory"* ]]
	bad_markets "$D" ""
	[[ "$output" == *"--markets-file $D: not a regular file"* ]]
	while IFS='|' read -r bad want; do
		markets "$bad"
		bad_markets "$D/m.json" "$want"
	done <<'CASES'
|is not valid JSON
[{"market":"KRW-BTC"|is not valid JSON
{"market":"KRW-BTC","korean_name":"a","english_name":"b"}|is not a JSON array
[{"market":"KRW-A","korean_name":"a","english_name":"a"},"KRW-BTC"]|element 1 (?) is not an object
[{"korean_name":"a","english_name":"b"}]|element 0 (?) has no market code
[{"market":"","korean_name":"a","english_name":"b"}]|element 0 () has no market code
[{"market":"KRW-BTC","english_name":"b"}]|element 0 (KRW-BTC) has no text korean_name
[{"market":"KRW-BTC","korean_name":"a","english_name":5}]|element 0 (KRW-BTC) has no text english_name
[{"market":"KRW-BTC","korean_name":"a","english_name":"b","market_event":"x"}]|element 0 (KRW-BTC) has a market_event that is not an object
[{"market":"KRW-BTC","korean_name":"a","english_name":"b","market_event":{"warning":"NONE"}}]|element 0 (KRW-BTC) has a market_event.warning that is not true or false
[{"market":"KRW-BTC","korean_name":"a","english_name":"b","market_event":{"caution":true}}]|element 0 (KRW-BTC) has a market_event.caution that is not an object
CASES
}

@test "writer: a forged RESULT is refused: FAILED to the planner, one log line, no coverage" {
	local peer="$ROOT/tests/unit/result_peer"
	[ -x "$peer" ] || make -s -C "$ROOT" tests/unit/result_peer >/dev/null
	"$W" --db "$D/c.db" --results "ipc://$D/r" --work "ipc://$D/w" --ready-file "$D/ok" \
		2>"$D/log" 3>&- &
	local w=$!
	wait_for test -e "$D/ok"
	run "$peer" "ipc://$D/r" "ipc://$D/w" good history_end effective_end grid
	kill -TERM "$w"
	wait "$w"
	echo "$output"
	cat "$D/log"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "good committed new=3" ]
	[[ "${lines[1]}" == "history_end failed temp_body writer check: history_end: "* ]]
	[[ "${lines[2]}" == "effective_end failed temp_body writer check: effective_end: "* ]]
	[[ "${lines[3]}" == "grid failed temp_body writer check: grid: "* ]]
	# only the good result's candles and range were written
	[ "$(sqlite3 "$D/c.db" "SELECT from_utc, to_utc FROM coverage")" = \
		"2024-01-01T00:57:00|2024-01-01T01:00:00" ]
	[ "$(sqlite3 "$D/c.db" "SELECT COUNT(*) FROM candles_exact")" -eq 3 ]
	[ "$(sqlite3 "$D/c.db" "SELECT COUNT(*) FROM history_start")" -eq 0 ]
	# one line per refusal, naming market, timeframe, the claimed range and the rule
	[ "$(grep -c 'RESULT of chunk .* refused' "$D/log")" -eq 3 ]
	grep -q 'KRW-BTC 1m \[1970-01-01T00:00:00, 2024-01-01T02:00:00): RESULT of chunk [0-9]* refused, rule history_end broken' "$D/log"
	grep -q 'KRW-BTC 1m \[2023-12-31T02:57:00, 2024-01-01T03:00:00): .* rule effective_end broken' "$D/log"
	grep -q 'rule grid broken: candle 1 starts at [0-9]*, off the 1m grid' "$D/log"
	grep -q '1 results committed .* 3 refused' "$D/log"
}
