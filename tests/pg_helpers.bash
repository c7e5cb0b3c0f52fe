# tests/pg_helpers.bash: a throwaway PostgreSQL server for the PostgreSQL
# suites (issue 14). Load with `load pg_helpers` (from tests/); also sourced
# by tests/run-all.sh for pg_available.
#
#   pg_available        0 when the server binaries ($PG_BIN, default
#                       /usr/lib/postgresql/15/bin) and psql are there (and,
#                       as root, the postgres user to run them); else 1 with
#                       the reason on stdout (a suite: `pg_skip_unless`)
#   pg_skip_unless      in setup_file/setup: `skip` with that one line
#   pg_start [DBNAME]   initdb into a short temp dir (as postgres when root),
#                       pg_ctl start on a unix socket only (-k DIR,
#                       listen_addresses='', fsync=off), creates DBNAME
#                       (default cp) and exports PG_DIR (the temp dir, also
#                       the socket dir), PGHOST, PGUSER (postgres), PG_URI
#                       (postgresql://postgres@/DBNAME?host=PG_DIR), PG_BIN
#   pg_createdb NAME    another empty database on the same server; prints
#                       its URI (the PG_URI form)
#   pg_psql URI ARGS... psql -X -q -v ON_ERROR_STOP=1 -At on URI
#   pg_restart          pg_ctl restart -m fast (the restart test)
#   pg_stop             stops the server (immediate) and removes PG_DIR,
#                       whatever state it is in; safe to call twice or when
#                       pg_start failed half-way (teardown_file)
#   pg_up / pg_down     starts the stopped server again (pg_start's
#                       settings) / stops it (fast), PG_DIR kept
#   pg_coverage_merged  0 when no two coverage rows of one (market,
#                       timeframe) of $DB overlap or touch
#   pg_candles_over N   0 when $DB stores more than N candles
#
# The set-up every PostgreSQL suite shares (tests/pg*.bats):
#   pg_suite_setup_file [--sim [UPBIT-SIM OPTIONS...]]
#                       setup_file: starts the server (pg_start cp) and,
#                       with --sim, one simulator for the file
#                       (start_file_sim); without the binaries it starts
#                       nothing and every test skips saying why, in one line
#                       (bats 1.8, Debian 12's, cannot skip in setup_file)
#   pg_suite_skipped    0 when the file is skipped: the rest of a
#                       setup_file returns early on it
#   pg_suite_teardown_file
#                       teardown_file: stops every simulator of the file and
#                       the server, whatever happened
#   pg_suite_setup [--no-db]
#                       setup: the file's simulator in SIM_URL (if it has
#                       one) and, unless --no-db, DB = a new database of its
#                       own (t<test number>)

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

_pg_statefile() {
	echo "${BATS_FILE_TMPDIR:-${TMPDIR:-/tmp}}/pg-helpers.dir"
}

# _pg_as CMD...: runs a server command as postgres when we are root (the
# server refuses to run as root), else as ourselves
_pg_as() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_available() {
	local b
	for b in initdb pg_ctl postgres; do
		if [ ! -x "$PG_BIN/$b" ]; then
			echo "PostgreSQL server binaries not found in $PG_BIN (apt-get install postgresql-15)"
			return 1
		fi
	done
	if ! command -v psql >/dev/null; then
		echo "psql not found (apt-get install postgresql-client-15)"
		return 1
	fi
	if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
		echo "no postgres user to run the server as (apt-get install postgresql-15)"
		return 1
	fi
	return 0
}

pg_skip_unless() {
	local why
	why=$(pg_available) || skip "$why"
}

pg_start() {
	local db=${1:-cp} dir
	# a short path: the socket path must fit in sun_path (108 bytes)
	dir=$(mktemp -d /tmp/cppg.XXXXXX) || return 1
	echo "$dir" >"$(_pg_statefile)"
	PG_DIR=$dir
	export PG_DIR
	chmod 755 "$dir"
	[ "$(id -u)" != 0 ] || chown postgres: "$dir"
	if ! _pg_as "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust \
		--no-sync -E UTF8 --locale=C >"$dir/initdb.log" 2>&1; then
		echo "pg_start: initdb failed:" >&2
		cat "$dir/initdb.log" >&2
		pg_stop
		return 1
	fi
	if ! pg_up; then
		echo "pg_start: pg_ctl start failed:" >&2
		cat "$dir/pg_ctl.log" "$dir/log" >&2
		pg_stop
		return 1
	fi
	PGHOST=$dir
	PGUSER=postgres
	export PGHOST PGUSER PG_BIN
	PG_URI=$(pg_createdb "$db") || {
		pg_stop
		return 1
	}
	export PG_URI
}

# pg_up: pg_ctl start of the server in PG_DIR (a unix socket only, no
# durability: a test server)
pg_up() {
	# fd 3 is bats' output channel: the server must not hold it
	_pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -t 60 \
		-o "-k $PG_DIR -c listen_addresses= -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
		start >>"$PG_DIR/pg_ctl.log" 2>&1 3>&-
}

pg_down() {
	_pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 60 stop >/dev/null 2>&1 3>&-
}

pg_createdb() {
	# FILE_COPY: its checkpoints cost nothing with fsync=off, and it is
	# about 100 ms faster a database than PostgreSQL 15's WAL_LOG
	psql -X -q -v ON_ERROR_STOP=1 -h "$PG_DIR" -U postgres -d postgres \
		-c "CREATE DATABASE \"$1\" STRATEGY FILE_COPY" >&2 || return 1
	echo "postgresql://postgres@/$1?host=$PG_DIR"
}

pg_psql() {
	local uri=$1
	shift
	psql -X -q -v ON_ERROR_STOP=1 -At -d "$uri" "$@"
}

pg_restart() {
	_pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -t 60 -m fast \
		restart >>"$PG_DIR/pg_ctl.log" 2>&1 3>&-
}

pg_stop() {
	local dir=${PG_DIR:-} f
	f=$(_pg_statefile)
	if [ -z "$dir" ] && [ -f "$f" ]; then dir=$(<"$f"); fi
	rm -f "$f"
	[ -n "$dir" ] && [ -d "$dir" ] || return 0
	case $dir in /tmp/cppg.*) ;; *) return 0 ;; esac
	if [ -f "$dir/data/postmaster.pid" ]; then
		_pg_as "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop \
			>/dev/null 2>&1 3>&- || true
	fi
	rm -rf "$dir"
	unset PG_DIR PG_URI
}

# pg_db_dump URI M TF [FROM TO]: the stored candles of (M, TF) [with FROM <=
# start < TO] as Upbit JSON lines, oldest first, byte for byte like
# `upbit-sim truth` (numeric keeps Upbit's scale); tests/db_dump.sh's twin
pg_db_dump() {
	pg_psql "$1" -v m="$2" -v tf="$3" -v f="${4:-1970-01-01}" -v t="${5:-9999-12-31}" <<'SQL'
SELECT '{"market":"' || market || '","candle_date_time_utc":"' ||
  to_char(candle_date_time_utc, 'YYYY-MM-DD"T"HH24:MI:SS') || '","candle_date_time_kst":"' ||
  to_char(candle_date_time_kst, 'YYYY-MM-DD"T"HH24:MI:SS') ||
  '","opening_price":' || opening_price || ',"high_price":' || high_price ||
  ',"low_price":' || low_price || ',"trade_price":' || trade_price ||
  ',"timestamp":' || timestamp || ',"candle_acc_trade_price":' ||
  candle_acc_trade_price || ',"candle_acc_trade_volume":' || candle_acc_trade_volume ||
  coalesce(',"unit":' || unit, '') ||
  coalesce(',"prev_closing_price":' || prev_closing_price, '') ||
  coalesce(',"change_price":' || change_price, '') ||
  coalesce(',"change_rate":' || change_rate, '') ||
  coalesce(',"converted_trade_price":' || converted_trade_price, '') ||
  coalesce(',"first_day_of_period":"' || first_day_of_period || '"', '') || '}'
  FROM candlepipe.candles WHERE market = :'m' AND timeframe = :'tf'
  AND candle_date_time_utc >= :'f'::timestamp AND candle_date_time_utc < :'t'::timestamp
  ORDER BY candle_date_time_utc
SQL
}

pg_coverage_merged() {
	[ "$(pg_psql "$DB" -c "SELECT count(*) FROM candlepipe.coverage a JOIN candlepipe.coverage b
		USING (market, timeframe) WHERE a.ctid <> b.ctid
		AND (a.span && b.span OR a.span -|- b.span)")" -eq 0 ]
}

pg_candles_over() {
	[ "$(pg_psql "$DB" -c "SELECT count(*) FROM candlepipe.candles" 2>/dev/null || echo 0)" -gt "$1" ]
}

# the simulator helpers, for a suite that has not loaded them
_pg_sim_helpers() {
	declare -F start_file_sim >/dev/null || source "${BASH_SOURCE[0]%/*}/sim_helpers.bash"
}

_pg_skipfile() {
	echo "$BATS_FILE_TMPDIR/pg-helpers.skip"
}

pg_suite_skipped() {
	[ -s "$(_pg_skipfile)" ]
}

pg_suite_setup_file() {
	local why
	if ! why=$(pg_available); then
		echo "$why" >"$(_pg_skipfile)"
		return 0
	fi
	pg_start cp || return 1
	[ "${1:-}" = --sim ] || return 0
	shift
	_pg_sim_helpers
	start_file_sim "$@"
}

pg_suite_teardown_file() {
	_pg_sim_helpers
	stop_all_sims
	pg_stop
}

pg_suite_setup() {
	! pg_suite_skipped || skip "$(<"$(_pg_skipfile)")"
	if [ -s "$BATS_FILE_TMPDIR/sim.port" ]; then
		_pg_sim_helpers
		use_file_sim
	fi
	[ "${1:-}" = --no-db ] || DB=$(pg_createdb "t$BATS_SUITE_TEST_NUMBER")
}
