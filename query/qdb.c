/*
 * qdb.c: cp-query's read-only view of the database (open and schema check,
 * the coverage ledger aligned to slots, the history bound). It never needs
 * to write: ledger_open_ro reads a database the user may only read, while
 * the collector writes it (its -wal and -shm) or not (immutable).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "opts.h"
#include "query.h"
#include "timeutil.h"

sqlite3_stmt *
qdb_prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		query_error("%s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

sqlite3_stmt *
qdb_prepare_range(sqlite3 *db, const char *sql, const char *market, enum tf tf, int64_t from,
                  int64_t to)
{
	sqlite3_stmt *st = qdb_prepare(db, sql);
	int n = st != NULL ? sqlite3_bind_parameter_count(st) : 0;
	char t[TIME_TEXT_LEN];

	if (n >= 2) {
		sqlite3_bind_text(st, 1, market, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, tf_name(tf), -1, SQLITE_STATIC);
	}
	if (n >= 3) {
		time_format(from, t);
		sqlite3_bind_text(st, 3, t, -1, SQLITE_TRANSIENT);
	}
	if (n >= 4) {
		time_format(to, t);
		sqlite3_bind_text(st, 4, t, -1, SQLITE_TRANSIENT);
	}
	return st;
}

sqlite3 *
qdb_open(const char *path, int *missing)
{
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	int exists, rc, version = -1, tables = 0;

	*missing = 0;
	errno = 0;
	db = ledger_open_ro(path, &exists);
	if (db == NULL) {
		if (!exists) {
			*missing = 1;
			query_error("database %s does not exist "
			            "(collect first: %s collect ... --db %s)",
			            path, opts_launcher(), path);
		} else {
			query_error("cannot open database %s: %s", path, strerror(errno));
		}
		return NULL;
	}
	if (sqlite3_prepare_v2(db,
	                       "SELECT (SELECT user_version FROM pragma_user_version),"
	                       " (SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'"
	                       " AND name IN ('candles_exact', 'coverage', 'history_start'))",
	                       -1, &st, NULL) != SQLITE_OK) {
		query_error("%s: %s", path, sqlite3_errmsg(db));
		goto fail;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		version = sqlite3_column_int(st, 0);
		tables = sqlite3_column_int(st, 1);
	} else {
		query_error("%s: %s", path, sqlite3_errmsg(db));
		goto fail;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (tables != 3) {
		query_error("%s is not a candlepipe database "
		            "(no candles_exact/coverage/history_start tables)",
		            path);
		goto fail;
	}
	/* every version's tables hold what the readers read */
	if (version < 1 || version > LEDGER_SCHEMA_VERSION) {
		query_error("%s has schema version %d, this tool reads 1 to %d", path, version,
		            LEDGER_SCHEMA_VERSION);
		goto fail;
	}
	return db;
fail:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return NULL;
}

/* The single text value of a one-row, one-column SELECT bound to
 * (market, tf), copied to out; *have = 0 if there is no row or it is NULL. */
static int
select_time(sqlite3 *db, const char *sql, const char *market, const char *tf, int64_t *out,
            int *have)
{
	sqlite3_stmt *st;
	const char *v;
	int rc;

	*have = 0;
	if ((st = qdb_prepare(db, sql)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, market, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, tf, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		v = (const char *)sqlite3_column_text(st, 0);
		if (v != NULL) {
			if (time_parse(v, out) == -1) {
				query_error("bad time '%s' in the database", v);
				sqlite3_finalize(st);
				return -1;
			}
			*have = 1;
		}
	} else if (rc != SQLITE_DONE) {
		query_error("%s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

int
qdb_history_bound(sqlite3 *db, const char *market, const char *tf, int64_t *bound, int *have)
{
	int64_t first;
	int have_first;

	if (select_time(db,
	                "SELECT first_utc FROM history_start"
	                " WHERE market = ?1 AND timeframe = ?2",
	                market, tf, bound, have) == -1)
		return -1;
	if (!*have)
		return 0;
	/* The seconds horizon moves forward: older candles stay stored. */
	if (select_time(db,
	                "SELECT MIN(candle_date_time_utc) FROM candles_exact"
	                " WHERE market = ?1 AND timeframe = ?2",
	                market, tf, &first, &have_first) == -1)
		return -1;
	if (have_first && first < *bound)
		*bound = first;
	return 0;
}

int
qdb_covered(sqlite3 *db, const char *market, enum tf tf, int64_t from, int64_t to,
            struct range_list *out)
{
	struct range_list raw = { 0 };
	int rc = -1;

	if (ledger_covered(db, market, tf_name(tf), from, to, &raw) == -1) {
		query_error("cannot read the coverage of %s %s", market, tf_name(tf));
		goto done;
	}
	/* A range proven up to history's end starts at the epoch, which is not a
	 * week boundary: count in whole slots. */
	for (size_t i = 0; i < raw.n; i++) {
		int64_t a = tf_ceil(tf, raw.v[i].from), b = tf_ceil(tf, raw.v[i].to);

		if (a < b && range_list_push(out, a, b) == -1) {
			query_error("out of memory");
			goto done;
		}
	}
	rc = 0;
done:
	range_list_free(&raw);
	return rc;
}

int
qdb_split_missing(int64_t from, int64_t to, const struct range_list *cov, int64_t bound,
                  int have_bound, struct range_list *missing, struct range_list *before)
{
	struct range_list want = { 0 }, all = { 0 };
	int rc = -1;

	if (range_list_push(&want, from, to) == -1 || range_subtract(&want, cov, &all) == -1)
		goto done;
	if (have_bound && from < bound &&
	    range_list_push(before, from, to < bound ? to : bound) == -1)
		goto done;
	for (size_t i = 0; i < all.n; i++) {
		int64_t a = all.v[i].from, b = all.v[i].to;

		if (have_bound && a < bound)
			a = b < bound ? b : bound;
		if (a < b && range_list_push(missing, a, b) == -1)
			goto done;
	}
	rc = 0;
done:
	if (rc == -1)
		query_error("out of memory");
	range_list_free(&want);
	range_list_free(&all);
	return rc;
}

int64_t
qdb_slots(enum tf tf, const struct range_list *l)
{
	int64_t n = 0;

	for (size_t i = 0; i < l->n; i++)
		n += tf_count(tf, l->v[i].from, l->v[i].to);
	return n;
}

void
query_fmt_duration(int64_t s, char *buf, size_t len)
{
	static const struct {
		int64_t s;
		char unit;
	} units[] = {
		{ 86400, 'd' },
		{ 3600, 'h' },
		{ 60, 'm' },
		{ 1, 's' },
	};
	size_t n = 0;

	buf[0] = '\0';
	if (s <= 0) {
		snprintf(buf, len, "0s");
		return;
	}
	for (size_t i = 0; i < 4 && n < len; i++) {
		int64_t q = s / units[i].s;

		if (q == 0)
			continue;
		s -= q * units[i].s;
		n += (size_t)snprintf(buf + n, len - n, "%s%lld%c", n ? " " : "", (long long)q,
		                      units[i].unit);
	}
}
