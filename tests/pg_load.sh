#!/usr/bin/env bash
# tests/pg_load.sh SQLITE_DB URI: test-only loader (issue 14) that copies a
# SQLite candlepipe database into an empty PostgreSQL database, so the
# readers can be compared on the same data before the PostgreSQL writer
# exists. Creates the schema of common/pgschema.h (PGSCHEMA_SQL, printed by
# a tiny C program compiled here), then copies every table with
# `sqlite3 -csv` | psql \copy: decimals keep their exact text (numeric),
# coverage rows become tsrange '[from,to)'. Not the product's copy command
# (./run.sh copy): no idempotence, no checks beyond ON_ERROR_STOP.
set -euo pipefail
[ $# -eq 2 ] || {
	echo "usage: $0 SQLITE_DB URI" >&2
	exit 2
}
db=$1 uri=$2
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/cppgload.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

printf '#include <stdio.h>\n#include "pgschema.h"\nint main(void) { return fputs(PGSCHEMA_SQL, stdout) < 0; }\n' |
	${CC:-cc} -I"$root/common" -x c -o "$tmp/pgschema" -
psql() { command psql -X -q -v ON_ERROR_STOP=1 -d "$uri" "$@"; }
"$tmp/pgschema" | psql -1 -f -

# copy TABLE(COLUMNS) SELECT...: the rows of the SQLite SELECT into TABLE
copy() {
	sqlite3 -csv "$db" "$2" >"$tmp/rows.csv"
	psql -c "\\copy candlepipe.$1 FROM '$tmp/rows.csv' WITH (FORMAT csv)"
}
copy candles "SELECT market, timeframe, candle_date_time_utc, candle_date_time_kst,
	opening_price, high_price, low_price, trade_price, timestamp, candle_acc_trade_price,
	candle_acc_trade_volume, unit, prev_closing_price, change_price, change_rate,
	converted_trade_price, first_day_of_period FROM candles_exact"
copy "coverage(market, timeframe, span)" \
	"SELECT market, timeframe, '[' || from_utc || ',' || to_utc || ')' FROM coverage"
copy history_start "SELECT market, timeframe, first_utc FROM history_start"
if [ "$(sqlite3 "$db" "SELECT COUNT(*) FROM sqlite_master WHERE name = 'markets'")" = 1 ]; then
	copy markets "SELECT market, korean_name, english_name, warning, caution, updated_utc
		FROM markets"
fi
psql -c "ANALYZE"
