/*
 * sdb.c: cp-serve's read-only view of the database. Each thread of the
 * daemon's pool has its own connection (opened on first use the way
 * cp-query opens one: ledger_open_ro, immutable when no writer is connected
 * and no -shm can be made, so a 444 file in a read-only directory works) and
 * its own prepared statements; nothing here ever writes. Reads a candle
 * row's column texts for candle.c's Upbit JSON: every decimal is
 * candles_exact's exact text.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "serve.h"
#include "timeutil.h"

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
	[SQ_MARKETS] = "SELECT market, korean_name, english_name, warning, caution FROM markets",
	[SQ_PING] = "SELECT 1 FROM coverage LIMIT 1",
	[SQ_COUNT_IN] = "SELECT count(*) FROM (SELECT 1 FROM candles_exact WHERE market = ?1 AND"
	                " timeframe = ?2 AND candle_date_time_utc >= ?3 AND"
	                " candle_date_time_utc < ?4 LIMIT ?5)",
};
/* a version-1 database has no markets table */
static const char known_v1_sql[] = "SELECT EXISTS(SELECT 1 FROM coverage WHERE market = ?1) OR 1";
static const char markets_v1_sql[] = "SELECT NULL, NULL, NULL, NULL, NULL WHERE 0";

struct conn {
	sqlite3 *db;
	sqlite3_stmt *st[SQ_COUNT];
	struct conn *next;
};

static const char *db_path;
static int db_version;
static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static struct conn *conns;
static __thread struct conn *mine;

int
sdb_check(const char *path)
{
	struct ledger_schema sc;
	char why[LEDGER_WHY_MAX];
	int code = EXIT_PERMFAIL, rc;
	sqlite3 *db = ledger_open_checked(path, &code);

	if (db == NULL) {
		if (code == 0) {
			fprintf(stderr,
			        "cp-serve: database %s does not exist (collect first: "
			        "./run.sh collect ... --db %s)\n",
			        path, path);
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
	db_path = path;
	db_version = (int)sc.version;
	return 0;
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

static struct conn *
conn_open(void)
{
	struct conn *c = calloc(1, sizeof(*c));
	int exists;

	if (c == NULL)
		return NULL;
	if ((c->db = ledger_open_ro(db_path, &exists)) == NULL) {
		free(c);
		return NULL;
	}
	sqlite3_busy_timeout(c->db, 2000);
	for (int i = 0; i < SQ_COUNT; i++) {
		if (sqlite3_prepare_v3(c->db, sql_of((enum sv_stmt)i), -1,
		                       SQLITE_PREPARE_PERSISTENT, &c->st[i], NULL) != SQLITE_OK) {
			log_warnx("%s: %s", db_path, sqlite3_errmsg(c->db));
			for (int j = 0; j < i; j++)
				sqlite3_finalize(c->st[j]);
			sqlite3_close(c->db);
			free(c);
			return NULL;
		}
	}
	pthread_mutex_lock(&conns_lock);
	c->next = conns;
	conns = c;
	pthread_mutex_unlock(&conns_lock);
	return c;
}

sqlite3_stmt *
sdb_stmt(enum sv_stmt which)
{
	sqlite3_stmt *st;

	if (mine == NULL && (mine = conn_open()) == NULL)
		return NULL;
	st = mine->st[which];
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

sqlite3 *
sdb_handle(void)
{
	if (mine == NULL && (mine = conn_open()) == NULL)
		return NULL;
	return mine->db;
}

int
sdb_exec(enum sv_stmt which)
{
	sqlite3_stmt *st = sdb_stmt(which);
	int rc;

	if (st == NULL)
		return -1;
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		log_warnx("%s: %s", db_path, sqlite3_errmsg(mine->db));
		/* a failed COMMIT of a read transaction: end it for the next one */
		if (which == SQ_COMMIT)
			sqlite3_exec(mine->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

void
sdb_close_all(void)
{
	pthread_mutex_lock(&conns_lock);
	while (conns != NULL) {
		struct conn *c = conns;

		conns = c->next;
		for (int i = 0; i < SQ_COUNT; i++)
			sqlite3_finalize(c->st[i]);
		sqlite3_close(c->db);
		free(c);
	}
	pthread_mutex_unlock(&conns_lock);
}

void
sdb_bind_time(sqlite3_stmt *st, int i, int64_t t)
{
	char buf[TIME_TEXT_LEN];

	time_format(t, buf);
	sqlite3_bind_text(st, i, buf, -1, SQLITE_TRANSIENT);
}

int
sdb_column_time(sqlite3_stmt *st, int col, int64_t *t)
{
	const char *v = (const char *)sqlite3_column_text(st, col);

	return v != NULL && time_parse(v, t) == 0 ? 0 : -1;
}

int
sdb_candle_json(struct buf *b, const char *market, sqlite3_stmt *st, int convert)
{
	struct sv_cols c;
	char num[SV_CANDLE_NCOLS][SV_INT_TEXT];

	/* one API call per column (sqlite3_column_text and _bytes each lock the
	 * connection): this thread alone uses it, so the unprotected value is
	 * safe; an integer is written as SQLite would, without its conversion */
	for (int i = 0; i < SV_CANDLE_NCOLS; i++) {
		sqlite3_value *v = sqlite3_column_value(st, i);

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

int
sdb_proven(const char *market, enum tf tf, int64_t from, int64_t to, int *yes)
{
	sqlite3_stmt *st = sdb_stmt(SQ_COVER);
	int64_t end;
	int rc;

	*yes = 0;
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, market, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, tf_name(tf), -1, SQLITE_STATIC);
	sdb_bind_time(st, 3, from);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*yes = sdb_column_time(st, 0, &end) == 0 && end >= to;
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int
sdb_history(const char *market, enum tf tf, int64_t *first, int *have)
{
	sqlite3_stmt *st = sdb_stmt(SQ_HIST);
	int rc;

	*have = 0;
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, market, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, tf_name(tf), -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*have = sdb_column_time(st, 0, first) == 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int
sdb_cover_at(const char *market, enum tf tf, int64_t t, int64_t *from, int64_t *to, int *have)
{
	sqlite3_stmt *st = sdb_stmt(SQ_COVER);
	int rc;

	*have = 0;
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, market, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, tf_name(tf), -1, SQLITE_STATIC);
	sdb_bind_time(st, 3, t);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*have = sdb_column_time(st, 0, to) == 0 && sdb_column_time(st, 1, from) == 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int
sdb_count_in(const char *market, enum tf tf, int64_t from, int64_t to, int max, int *n)
{
	sqlite3_stmt *st = sdb_stmt(SQ_COUNT_IN);
	int rc;

	*n = 0;
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, market, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, tf_name(tf), -1, SQLITE_STATIC);
	sdb_bind_time(st, 3, from);
	sdb_bind_time(st, 4, to);
	sqlite3_bind_int(st, 5, max);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*n = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : -1;
}
