/*
 * sdb.c: cp-serve's read-only view of the database. Each thread of the
 * daemon's pool has its own connection and its own prepared statements;
 * nothing here ever writes. Owns the per-thread connection (opened on first
 * use; a lost PostgreSQL connection is reopened at the next statement
 * outside a read transaction), the dispatch between SQLite (here: the file
 * opened the way cp-query opens one, ledger_open_ro, immutable when no
 * writer is connected and no -shm can be made, so a 444 file in a read-only
 * directory works) and PostgreSQL (sdb_pg.c), and the candle row to Upbit
 * JSON conversion: every decimal is the stored exact text.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exitcodes.h"
#include "log.h"
#include "opts.h"
#include "pgdb.h"
#include "sdb.h"
#include "timeutil.h"

#define SDB_RETRY_MS 500 /* between two reconnects of one thread */

#define CANDLE_COLS                                                                         \
	"candle_date_time_utc, candle_date_time_kst, opening_price, high_price, low_price," \
	" trade_price, timestamp, candle_acc_trade_price, candle_acc_trade_volume, unit,"   \
	" prev_closing_price, change_price, change_rate, converted_trade_price,"            \
	" first_day_of_period"

static const char *const stmt_sql[SQ_COUNT] = {
	[SQ_BEGIN] = "BEGIN",
	[SQ_COMMIT] = "COMMIT",
	/* known: in the market list, collected, or no list to judge by */
	[SQ_KNOWN] = "SELECT EXISTS(SELECT 1 FROM markets WHERE market = ?1)"
	             " OR EXISTS(SELECT 1 FROM coverage WHERE market = ?1)"
	             " OR NOT EXISTS(SELECT 1 FROM markets)",
	[SQ_NEWEST] = "SELECT " CANDLE_COLS " FROM candles_exact WHERE market = ?1 AND"
	              " timeframe = ?2 AND candle_date_time_utc < ?3"
	              " ORDER BY candle_date_time_utc DESC LIMIT ?4",
	[SQ_RANGE] = "SELECT " CANDLE_COLS " FROM candles_exact WHERE market = ?1 AND"
	             " timeframe = ?2 AND candle_date_time_utc >= ?3 AND candle_date_time_utc < ?4"
	             " ORDER BY candle_date_time_utc LIMIT ?5",
	[SQ_COVER] = "SELECT to_utc, from_utc FROM coverage WHERE market = ?1 AND timeframe = ?2"
	             " AND from_utc <= ?3 ORDER BY from_utc DESC LIMIT 1",
	[SQ_HIST] = "SELECT first_utc FROM history_start WHERE market = ?1 AND timeframe = ?2",
	/* by market code: the same order on every backend */
	[SQ_MARKETS] = "SELECT market, korean_name, english_name, warning, caution FROM markets"
	               " ORDER BY market",
	[SQ_PING] = "SELECT 1 FROM coverage LIMIT 1",
	[SQ_COUNT_IN] = "SELECT count(*) FROM (SELECT 1 FROM candles_exact WHERE market = ?1 AND"
	                " timeframe = ?2 AND candle_date_time_utc >= ?3 AND"
	                " candle_date_time_utc < ?4 LIMIT ?5)",
	[SQ_OLDEST] = "SELECT MIN(candle_date_time_utc) FROM candles_exact WHERE market = ?1 AND"
	              " timeframe = ?2",
	[SQ_TIMES] = "SELECT candle_date_time_utc FROM candles_exact WHERE market = ?1 AND"
	             " timeframe = ?2 AND candle_date_time_utc >= ?3 AND candle_date_time_utc < ?4"
	             " ORDER BY candle_date_time_utc",
	[SQ_SERIES] = "SELECT market, timeframe, from_utc, to_utc FROM coverage"
	              " UNION ALL SELECT market, timeframe, NULL, NULL FROM history_start h"
	              " WHERE NOT EXISTS (SELECT 1 FROM coverage c WHERE c.market = h.market"
	              " AND c.timeframe = h.timeframe) ORDER BY 1, 2, 3",
	/* a coverage row of a market listed later starts at the epoch (nothing
	 * before the listing exists): the span starts at the history start then */
	[SQ_BOUNDS] = "SELECT min(max(c.from_utc, coalesce(h.first_utc, c.from_utc))),"
	              " max(c.to_utc) FROM coverage c LEFT JOIN history_start h"
	              " ON h.market = c.market AND h.timeframe = c.timeframe",
	/* ?3 the first bucket's start, ?4 the bucket's width (seconds) */
	[SQ_BUCKETS] = "SELECT (CAST(strftime('%s', candle_date_time_utc) AS INTEGER) - ?3) / ?4,"
	               " count(*) FROM candles_exact WHERE market = ?1 AND timeframe = ?2"
	               " AND candle_date_time_utc >= ?5 AND candle_date_time_utc < ?6 GROUP BY 1",
};
/* a version-1 database has no markets table */
static const char known_v1_sql[] = "SELECT EXISTS(SELECT 1 FROM coverage WHERE market = ?1) OR 1";
static const char markets_v1_sql[] = "SELECT NULL, NULL, NULL, NULL, NULL WHERE 0";

static const char *db_path;
static char db_shown[512];
static int db_pg; /* the database is PostgreSQL's */
static int db_version;
static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sdb_conn *conns;
static __thread struct sdb_conn *mine;
static __thread int temporary; /* the thread's last failure was temporary */

/* sdb_check on a SQLite file. */
static int
lite_check(const char *path)
{
	struct ledger_schema sc;
	char why[LEDGER_WHY_MAX];
	int code = EXIT_PERMFAIL, rc;
	sqlite3 *db = ledger_open_checked(path, &code);

	if (db == NULL) {
		if (code == 0) {
			fprintf(stderr,
			        "cp-serve: database %s does not exist (collect first: "
			        "%s collect ... --db %s)\n",
			        path, opts_launcher(), path);
			code = EXIT_PERMFAIL;
		}
		return code;
	}
	rc = ledger_schema_read(db, &sc);
	sqlite3_close(db);
	if (rc != SQLITE_OK)
		return ledger_exit_code(rc);
	if (sc.kind != LEDGER_OURS) {
		if (sc.kind == LEDGER_EMPTY)
			snprintf(why, sizeof(why), "%s is empty: not a candlepipe database yet",
			         path);
		else
			ledger_schema_why(&sc, path, why, sizeof(why));
		fprintf(stderr, "cp-serve: %s\n", why);
		return EXIT_PERMFAIL;
	}
	db_version = (int)sc.version;
	return 0;
}

int
sdb_check(const char *db)
{
	int code;

	db_pg = pgdb_is_uri(db);
	if (db_pg)
		pgdb_display(db, db_shown, sizeof(db_shown));
	else
		snprintf(db_shown, sizeof(db_shown), "%s", db);
	code = db_pg ? sdb_pg_check(db) : lite_check(db);
	if (code == 0)
		db_path = db;
	return code;
}

const char *
sdb_name(void)
{
	return db_shown;
}

static const char *
sql_of(enum sv_stmt which)
{
	if (db_version < 2 && which == SQ_KNOWN)
		return known_v1_sql;
	if (db_version < 2 && which == SQ_MARKETS)
		return markets_v1_sql;
	return stmt_sql[which];
}

static void
lite_close(struct sdb_conn *c)
{
	for (int i = 0; i < SQ_COUNT; i++)
		sqlite3_finalize(c->st[i].lite);
	sqlite3_close(c->lite);
}

/* Opens the SQLite file into c with every statement prepared: 0 or -1. */
static int
lite_open(struct sdb_conn *c)
{
	int exists;

	if ((c->lite = ledger_open_ro(db_path, &exists)) == NULL)
		return -1;
	sqlite3_busy_timeout(c->lite, 2000);
	for (int i = 0; i < SQ_COUNT; i++) {
		if (sqlite3_prepare_v3(c->lite, sql_of((enum sv_stmt)i), -1,
		                       SQLITE_PREPARE_PERSISTENT, &c->st[i].lite,
		                       NULL) != SQLITE_OK) {
			log_warnx("%s: %s", db_path, sqlite3_errmsg(c->lite));
			lite_close(c);
			return -1;
		}
	}
	return 0;
}

/* The thread's new connection (kept in the list even when a PostgreSQL
 * server cannot be reached now: it is marked lost and tried again), or
 * NULL. */
static struct sdb_conn *
conn_open(void)
{
	struct sdb_conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	for (int i = 0; i < SQ_COUNT; i++) {
		c->st[i].conn = c;
		c->st[i].which = (enum sv_stmt)i;
	}
	if (!db_pg && lite_open(c) == -1) {
		free(c);
		return NULL;
	}
	if (db_pg && sdb_pg_open(c, db_path) == -1) {
		c->lost = 1;
		c->retry_ms = time_mono_ms() + SDB_RETRY_MS;
	}
	pthread_mutex_lock(&conns_lock);
	c->next = conns;
	conns = c;
	pthread_mutex_unlock(&conns_lock);
	return c;
}

/* Reconnects a lost PostgreSQL connection (now: without waiting for its
 * retry time): 0, or -1 (still down; temporary). */
static int
conn_reopen(struct sdb_conn *c, int now)
{
	if (!now && time_mono_ms() < c->retry_ms) {
		sdb_set_temporary();
		return -1;
	}
	sdb_pg_close(c);
	if (sdb_pg_open(c, db_path) == -1) {
		c->retry_ms = time_mono_ms() + SDB_RETRY_MS;
		sdb_set_temporary();
		return -1;
	}
	c->lost = 0;
	log_info("%s: reconnected", db_shown);
	return 0;
}

/* The thread's usable connection, or NULL. Inside a read transaction a
 * lost connection stays lost: its snapshot is gone. */
static struct sdb_conn *
conn_get(void)
{
	if (mine == NULL && (mine = conn_open()) == NULL)
		return NULL;
	if (!mine->in_txn)
		temporary = 0;
	if (db_pg)
		sdb_pg_settle(mine);
	if (mine->lost && (mine->in_txn || conn_reopen(mine, 0) == -1)) {
		sdb_set_temporary();
		return NULL;
	}
	return mine;
}

void
sdb_set_temporary(void)
{
	temporary = 1;
}

void
sdb_reply_error(struct sv_reply *r)
{
	if (temporary)
		reply_error(r, 503, SV_ERROR,
		            "the database cannot be reached right now; try again");
	else
		reply_error(r, 500, SV_ERROR, "cannot read the database");
}

void
sdb_reset(struct sdb_st *st)
{
	if (st->lite != NULL)
		sqlite3_reset(st->lite);
	else
		sdb_pg_reset(st);
}

struct sdb_st *
sdb_stmt(enum sv_stmt which)
{
	struct sdb_conn *c = conn_get();
	struct sdb_st *st;

	if (c == NULL)
		return NULL;
	st = &c->st[which];
	if (st->lite != NULL) {
		sqlite3_reset(st->lite);
		sqlite3_clear_bindings(st->lite);
	} else {
		sdb_pg_reset(st);
	}
	return st;
}

/* BEGIN or COMMIT on SQLite: 0 or -1. */
static int
lite_exec(struct sdb_conn *c, enum sv_stmt which)
{
	sqlite3_stmt *st = c->st[which].lite;
	int rc;

	sqlite3_reset(st);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		log_warnx("%s: %s", db_path, sqlite3_errmsg(c->lite));
		/* a failed COMMIT of a read transaction: end it for the next one */
		if (which == SQ_COMMIT)
			sqlite3_exec(c->lite, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

int
sdb_exec(enum sv_stmt which)
{
	struct sdb_conn *c;
	int rc;

	if (which == SQ_COMMIT && mine != NULL && mine->in_txn) {
		mine->in_txn = 0;
		if (mine->lost)
			return -1; /* the transaction went with the connection */
		return db_pg ? sdb_pg_exec(mine, which) : lite_exec(mine, which);
	}
	if ((c = conn_get()) == NULL)
		return -1;
	if (!db_pg)
		rc = lite_exec(c, which);
	else if ((rc = sdb_pg_exec(c, which)) == -1 && c->lost && which == SQ_BEGIN &&
	         conn_reopen(c, 1) == 0)
		/* found lost by the first statement of a read: nothing was read */
		rc = sdb_pg_exec(c, which);
	c->in_txn = rc == 0 && which == SQ_BEGIN;
	return rc;
}

void
sdb_close_all(void)
{
	pthread_mutex_lock(&conns_lock);
	while (conns != NULL) {
		struct sdb_conn *c = conns;

		conns = c->next;
		if (db_pg)
			sdb_pg_close(c);
		else
			lite_close(c);
		free(c);
	}
	pthread_mutex_unlock(&conns_lock);
}

void
sdb_bind_text(struct sdb_st *st, int i, const char *v)
{
	if (st->lite != NULL)
		sqlite3_bind_text(st->lite, i, v, -1, SQLITE_TRANSIENT);
	else
		sdb_pg_bind(st, i, v);
}

void
sdb_bind_int(struct sdb_st *st, int i, int64_t v)
{
	char buf[24];

	if (st->lite != NULL) {
		sqlite3_bind_int64(st->lite, i, v);
		return;
	}
	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	sdb_pg_bind(st, i, buf);
}

void
sdb_bind_time(struct sdb_st *st, int i, int64_t t)
{
	char buf[TIME_TEXT_LEN];

	if (st->lite != NULL) {
		time_format(t, buf);
		sqlite3_bind_text(st->lite, i, buf, -1, SQLITE_TRANSIENT);
		return;
	}
	pgdb_time_param(t, buf);
	sdb_pg_bind(st, i, buf);
}

/* Whether a statement that failed on c may run again on a new connection:
 * it found the connection lost (after a server restart) and is a statement
 * of its own or the first of its read transaction, so nothing was read. */
static int
rerun_ok(const struct sdb_conn *c)
{
	return c->lost && (!c->in_txn || c->reads == 0);
}

/* st once more on a new connection (in a new transaction if it was in
 * one): as sdb_step. */
static int
rerun(struct sdb_st *st)
{
	struct sdb_conn *c = st->conn;

	if (conn_reopen(c, 1) == -1 || (c->in_txn && sdb_pg_exec(c, SQ_BEGIN) == -1))
		return -1;
	sdb_pg_rerun(st);
	return sdb_pg_step(st);
}

int
sdb_step(struct sdb_st *st)
{
	int rc;

	if (st->lite == NULL) {
		rc = sdb_pg_step(st);
		if (rc == -1 && rerun_ok(st->conn))
			rc = rerun(st);
		return rc;
	}
	rc = sqlite3_step(st->lite);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	log_warnx("%s: %s", db_path, sqlite3_errmsg(st->conn->lite));
	return -1;
}

const char *
sdb_col_text(const struct sdb_st *st, int col)
{
	if (st->lite != NULL)
		return (const char *)sqlite3_column_text(st->lite, col);
	return PQgetisnull(st->r, st->row, col) ? NULL : PQgetvalue(st->r, st->row, col);
}

size_t
sdb_col_bytes(const struct sdb_st *st, int col)
{
	if (st->lite != NULL)
		return (size_t)sqlite3_column_bytes(st->lite, col);
	return (size_t)PQgetlength(st->r, st->row, col);
}

int64_t
sdb_col_int(const struct sdb_st *st, int col)
{
	const char *v;

	if (st->lite != NULL)
		return sqlite3_column_int64(st->lite, col);
	v = sdb_col_text(st, col);
	return v != NULL ? strtoll(v, NULL, 10) : 0;
}

int
sdb_column_time(const struct sdb_st *st, int col, int64_t *t)
{
	const char *v = sdb_col_text(st, col);

	return v != NULL && time_parse(v, t) == 0 ? 0 : -1;
}

int
sdb_candle_json(struct buf *b, const char *market, const struct sdb_st *st, int convert)
{
	struct sv_cols c;
	char num[SV_CANDLE_NCOLS][SV_INT_TEXT];

	if (st->lite == NULL) { /* PostgreSQL: every column is text already */
		for (int i = 0; i < SV_CANDLE_NCOLS; i++) {
			c.v[i] = sdb_col_text(st, i);
			c.n[i] = c.v[i] != NULL ? sdb_col_bytes(st, i) : 0;
		}
		return sv_candle_json(b, market, &c, convert);
	}
	/* one API call per column (sqlite3_column_text and _bytes each lock the
	 * connection): this thread alone uses it, so the unprotected value is
	 * safe; an integer is written as SQLite would, without its conversion */
	for (int i = 0; i < SV_CANDLE_NCOLS; i++) {
		sqlite3_value *v = sqlite3_column_value(st->lite, i);

		if (sqlite3_value_type(v) == SQLITE_INTEGER) {
			c.n[i] = sv_int_text(num[i], sqlite3_value_int64(v));
			c.v[i] = num[i];
		} else {
			c.v[i] = (const char *)sqlite3_value_text(v);
			c.n[i] = (size_t)sqlite3_value_bytes(v);
		}
	}
	return sv_candle_json(b, market, &c, convert);
}

/* Binds (market, tf) at 1 and 2. */
static void
bind_series(struct sdb_st *st, const char *market, enum tf tf)
{
	sdb_bind_text(st, 1, market);
	sdb_bind_text(st, 2, tf_name(tf));
}

int
sdb_proven(const char *market, enum tf tf, int64_t from, int64_t to, int *yes)
{
	struct sdb_st *st = sdb_stmt(SQ_COVER);
	int64_t end;
	int rc;

	*yes = 0;
	if (st == NULL)
		return -1;
	bind_series(st, market, tf);
	sdb_bind_time(st, 3, from);
	rc = sdb_step(st);
	if (rc == 1)
		*yes = sdb_column_time(st, 0, &end) == 0 && end >= to;
	sdb_reset(st);
	return rc >= 0 ? 0 : -1;
}

int
sdb_history(const char *market, enum tf tf, int64_t *first, int *have)
{
	struct sdb_st *st = sdb_stmt(SQ_HIST);
	int rc;

	*have = 0;
	if (st == NULL)
		return -1;
	bind_series(st, market, tf);
	rc = sdb_step(st);
	if (rc == 1)
		*have = sdb_column_time(st, 0, first) == 0;
	sdb_reset(st);
	return rc >= 0 ? 0 : -1;
}

int
sdb_cover_at(const char *market, enum tf tf, int64_t t, int64_t *from, int64_t *to, int *have)
{
	struct sdb_st *st = sdb_stmt(SQ_COVER);
	int rc;

	*have = 0;
	if (st == NULL)
		return -1;
	bind_series(st, market, tf);
	sdb_bind_time(st, 3, t);
	rc = sdb_step(st);
	if (rc == 1)
		*have = sdb_column_time(st, 0, to) == 0 && sdb_column_time(st, 1, from) == 0;
	sdb_reset(st);
	return rc >= 0 ? 0 : -1;
}

int
sdb_count_in(const char *market, enum tf tf, int64_t from, int64_t to, int max, int *n)
{
	struct sdb_st *st = sdb_stmt(SQ_COUNT_IN);
	int rc;

	*n = 0;
	if (st == NULL)
		return -1;
	bind_series(st, market, tf);
	sdb_bind_time(st, 3, from);
	sdb_bind_time(st, 4, to);
	sdb_bind_int(st, 5, max);
	rc = sdb_step(st);
	if (rc == 1)
		*n = (int)sdb_col_int(st, 0);
	sdb_reset(st);
	return rc == 1 ? 0 : -1;
}

int
sdb_covered(const char *market, enum tf tf, int64_t from, int64_t to, struct range_list *out)
{
	struct sdb_conn *c = conn_get();

	if (c == NULL)
		return -1;
	if (db_pg)
		return sdb_pg_covered(c, market, tf, from, to, out);
	return ledger_covered(c->lite, market, tf_name(tf), from, to, out);
}
