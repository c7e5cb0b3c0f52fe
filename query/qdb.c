/*
 * qdb.c: cp-query's read-only view of the database (open and schema check,
 * statements stepped row by row, the coverage ledger aligned to slots, the
 * history bound), over a SQLite file or a PostgreSQL database: it owns the
 * dispatch (pgdb_is_uri) and the SQLite side; qdb_pg.c the PostgreSQL one.
 * It never needs to write: ledger_open_ro reads a database the user may
 * only read, while the collector writes it (its -wal and -shm) or not
 * (immutable).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "opts.h"
#include "pgdb.h"
#include "query.h"
#include "timeutil.h"

/* The highest parameter number ($1..$4) sql uses: PostgreSQL wants
 * exactly the parameters a statement has. */
static int
pg_params(const char *sql)
{
	char tok[4];

	for (int n = 4; n > 0; n--) {
		snprintf(tok, sizeof(tok), "$%d", n);
		if (strstr(sql, tok) != NULL)
			return n;
	}
	return 0;
}

struct qcur *
qdb_range(struct qdb *db, const struct qsql *sql, const char *market, enum tf tf, int64_t from,
          int64_t to)
{
	char tfrom[TIME_TEXT_LEN], tto[TIME_TEXT_LEN];
	const char *vals[4] = { market, tf_name(tf), tfrom, tto };
	struct qcur *c;
	int n;

	if (db->pg != NULL) {
		pgdb_time_param(from, tfrom);
		pgdb_time_param(to, tto);
		n = pg_params(sql->pg);
	} else {
		time_format(from, tfrom);
		time_format(to, tto);
		n = 4; /* qcur_open binds what the statement has */
	}
	c = qcur_open(db, db->pg != NULL ? sql->pg : sql->lite, n, vals);
	if (c == NULL)
		query_error("%s", qdb_errmsg(db));
	return c;
}

const char *
qdb_errmsg(const struct qdb *db)
{
	return db->pg != NULL ? db->err : sqlite3_errmsg(db->lite);
}

struct qcur *
qcur_open(struct qdb *db, const char *sql, int n, const char *const *vals)
{
	struct qcur *c = calloc(1, sizeof(*c));
	int have;

	if (c == NULL) {
		snprintf(db->err, sizeof(db->err), "out of memory");
		return NULL;
	}
	c->db = db;
	if (db->pg != NULL) {
		if (qdb_pg_cursor(c, sql, n, vals) == 0)
			return c;
		free(c);
		return NULL;
	}
	if (sqlite3_prepare_v2(db->lite, sql, -1, &c->st, NULL) != SQLITE_OK) {
		sqlite3_finalize(c->st);
		free(c);
		return NULL;
	}
	have = sqlite3_bind_parameter_count(c->st);
	for (int i = 0; i < n && i < have; i++)
		sqlite3_bind_text(c->st, i + 1, vals[i], -1, SQLITE_TRANSIENT);
	return c;
}

int
qcur_step(struct qcur *c)
{
	int rc;

	if (c->db->pg != NULL)
		return qdb_pg_step(c);
	rc = sqlite3_step(c->st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

const char *
qcur_text(const struct qcur *c, int i)
{
	if (c->st != NULL)
		return (const char *)sqlite3_column_text(c->st, i);
	return PQgetisnull(c->r, c->row, i) ? NULL : PQgetvalue(c->r, c->row, i);
}

int
qcur_int(const struct qcur *c, int i)
{
	const char *v;

	if (c->st != NULL)
		return sqlite3_column_int(c->st, i);
	v = qcur_text(c, i);
	return v != NULL ? (int)strtol(v, NULL, 10) : 0;
}

int
qcur_real(const struct qcur *c, int i, double *out)
{
	const char *v;
	char *end;

	if (c->st != NULL) {
		*out = sqlite3_column_double(c->st, i);
		if (sqlite3_column_type(c->st, i) == SQLITE_NULL)
			return 0;
		return sqlite3_column_type(c->st, i) == SQLITE_FLOAT ? 1 : -1;
	}
	if ((v = qcur_text(c, i)) == NULL)
		return 0;
	*out = strtod(v, &end);
	return *end == '\0' && end != v ? 1 : -1;
}

void
qcur_close(struct qcur *c)
{
	if (c == NULL)
		return;
	if (c->st != NULL)
		sqlite3_finalize(c->st);
	else
		qdb_pg_cursor_close(c);
	free(c);
}

/* Opens the SQLite file path into db; 0, or -1 after one line. */
static int
lite_open(struct qdb *db, const char *path, int *missing)
{
	struct qcur *c;
	int exists, version = -1, tables = 0;

	errno = 0;
	db->lite = ledger_open_ro(path, &exists);
	if (db->lite == NULL) {
		if (!exists) {
			*missing = 1;
			query_error("database %s does not exist "
			            "(collect first: %s collect ... --db %s)",
			            path, opts_launcher(), path);
		} else {
			query_error("cannot open database %s: %s", path, strerror(errno));
		}
		return -1;
	}
	c = qcur_open(db,
	              "SELECT (SELECT user_version FROM pragma_user_version),"
	              " (SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'"
	              " AND name IN ('candles_exact', 'coverage', 'history_start'))",
	              0, NULL);
	if (c == NULL || qcur_step(c) != 1) {
		query_error("%s: %s", path, sqlite3_errmsg(db->lite));
		qcur_close(c);
		return -1;
	}
	version = qcur_int(c, 0);
	tables = qcur_int(c, 1);
	qcur_close(c);
	if (tables != 3) {
		query_error("%s is not a candlepipe database "
		            "(no candles_exact/coverage/history_start tables)",
		            path);
		return -1;
	}
	/* every version's tables hold what the readers read */
	if (version < 1 || version > LEDGER_SCHEMA_VERSION) {
		query_error("%s has schema version %d, this tool reads 1 to %d", path, version,
		            LEDGER_SCHEMA_VERSION);
		return -1;
	}
	return 0;
}

struct qdb *
qdb_open(const char *path, int *missing)
{
	struct qdb *db = calloc(1, sizeof(*db));
	int rc;

	*missing = 0;
	if (db == NULL) {
		query_error("out of memory");
		return NULL;
	}
	db->collate = "";
	if (pgdb_is_uri(path)) {
		pgdb_display(path, db->name, sizeof(db->name));
		rc = qdb_pg_open(db, path, missing);
	} else {
		snprintf(db->name, sizeof(db->name), "%s", path);
		rc = lite_open(db, path, missing);
	}
	if (rc == 0)
		return db;
	qdb_close(db);
	return NULL;
}

void
qdb_close(struct qdb *db)
{
	if (db == NULL)
		return;
	if (db->pg != NULL)
		qdb_pg_close(db);
	sqlite3_close(db->lite);
	free(db);
}

/* The single text value of a one-row, one-column SELECT bound to
 * (market, tf), copied to out; *have = 0 if there is no row or it is NULL. */
static int
select_time(struct qdb *db, const struct qsql *sql, const char *market, enum tf tf, int64_t *out,
            int *have)
{
	struct qcur *c;
	const char *v;
	int rc = -1, step;

	*have = 0;
	if ((c = qdb_range(db, sql, market, tf, 0, 0)) == NULL)
		return -1;
	step = qcur_step(c);
	if (step == 1 && (v = qcur_text(c, 0)) != NULL) {
		if (time_parse(v, out) == -1) {
			query_error("bad time '%s' in the database", v);
			goto done;
		}
		*have = 1;
	} else if (step == -1) {
		query_error("%s", qdb_errmsg(db));
		goto done;
	}
	rc = 0;
done:
	qcur_close(c);
	return rc;
}

int
qdb_history_bound(struct qdb *db, const char *market, enum tf tf, int64_t *bound, int *have)
{
	static const struct qsql first_sql = {
		"SELECT first_utc FROM history_start WHERE market = ?1 AND timeframe = ?2",
		"SELECT " QDB_PG_TIME("first_utc") " FROM candlepipe.history_start"
		                                   " WHERE market = $1 AND timeframe = $2",
	};
	static const struct qsql oldest_sql = {
		"SELECT MIN(candle_date_time_utc) FROM candles_exact"
		" WHERE market = ?1 AND timeframe = ?2",
		"SELECT " QDB_PG_TIME(
		    "MIN(candle_date_time_utc)") " FROM candlepipe.candles"
		                                 " WHERE market = $1 AND timeframe = $2",
	};
	int64_t first;
	int have_first;

	if (select_time(db, &first_sql, market, tf, bound, have) == -1)
		return -1;
	if (!*have)
		return 0;
	/* The seconds horizon moves forward: older candles stay stored. */
	if (select_time(db, &oldest_sql, market, tf, &first, &have_first) == -1)
		return -1;
	if (have_first && first < *bound)
		*bound = first;
	return 0;
}

int
qdb_covered(struct qdb *db, const char *market, enum tf tf, int64_t from, int64_t to,
            struct range_list *out)
{
	struct range_list raw = { 0 };
	int rc = -1;

	if ((db->pg != NULL
	         ? pgdb_covered(db->pg, market, tf_name(tf), from, to, &raw)
	         : ledger_covered(db->lite, market, tf_name(tf), from, to, &raw)) == -1) {
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
