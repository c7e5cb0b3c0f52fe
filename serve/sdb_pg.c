/*
 * sdb_pg.c: cp-serve's reads from a PostgreSQL database (--db
 * postgresql://..., issue 14), behind sdb.c's functions. Owns the PostgreSQL
 * twin of every statement of enum sv_stmt (the same rows, as the same text:
 * times by to_char, numeric as stored, booleans as 0 or 1, text ordered by
 * bytes with COLLATE "C"), what cp-serve says when the database is not one
 * to serve (the check itself is pgdb_reader_schema's), and one thread's
 * connection: a session whose transactions are all REPEATABLE READ READ
 * ONLY (pgdb_read_only: one snapshot for a request's coverage and candles,
 * and nothing can ever be written, whatever the role may do), every statement
 * prepared once (PQprepare), executed with text parameters and text
 * results; BEGIN sent with a request's first statement (pipeline mode) and
 * COMMIT without waiting for it, so a request costs a round trip per
 * statement and no more; SQ_TIMES, which may have a row per slot of a long window, comes
 * row by row (single-row mode) so memory stays bounded. A failure that
 * means the connection is gone marks it lost: sdb.c reopens it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exitcodes.h"
#include "log.h"
#include "opts.h"
#include "pgdb.h"
#include "sdb.h"

#define SDB_PG_APP "cp-serve"
/* A timestamp column (or expression) as SQLite's time text. */
#define PG_TIME(x) "to_char(" x ", 'YYYY-MM-DD\"T\"HH24:MI:SS')"
#define PG_CANDLE_COLS                                                                          \
	PG_TIME("candle_date_time_utc")                                                         \
	", " PG_TIME("candle_date_time_kst") ", opening_price, high_price, low_price,"          \
	                                     " trade_price, timestamp, candle_acc_trade_price," \
	                                     " candle_acc_trade_volume, unit,"                  \
	                                     " prev_closing_price, change_price, change_rate,"  \
	                                     " converted_trade_price,"                          \
	                                     " to_char(first_day_of_period, 'YYYY-MM-DD')"
/* the rows of a series: market $1, timeframe $2 */
#define PG_SERIES " WHERE market = $1 AND timeframe = $2"
#define PG_IN_RANGE                                                                     \
	PG_SERIES " AND candle_date_time_utc >= $3::timestamp AND candle_date_time_utc" \
	          " < $4::timestamp"

static const struct {
	const char *sql;
	int nparams;
} pg_sql[SQ_COUNT] = {
	[SQ_BEGIN] = { "BEGIN", 0 },
	[SQ_COMMIT] = { "COMMIT", 0 },
	[SQ_KNOWN] = { "SELECT (EXISTS(SELECT 1 FROM candlepipe.markets WHERE market = $1)"
	               " OR EXISTS(SELECT 1 FROM candlepipe.coverage WHERE market = $1)"
	               " OR NOT EXISTS(SELECT 1 FROM candlepipe.markets))::int",
	               1 },
	[SQ_NEWEST] = { "SELECT " PG_CANDLE_COLS " FROM candlepipe.candles" PG_SERIES
	                " AND candle_date_time_utc < $3::timestamp"
	                " ORDER BY candle_date_time_utc DESC LIMIT $4::int",
	                4 },
	[SQ_RANGE] = { "SELECT " PG_CANDLE_COLS " FROM candlepipe.candles" PG_IN_RANGE
	               " ORDER BY candle_date_time_utc LIMIT $5::int",
	               5 },
	/* the row starting last at or before $3 (&& (, $3]: the gist index) */
	[SQ_COVER] = { "SELECT " PG_TIME("upper(span)") ", " PG_TIME(
	                   "lower(span)") " FROM candlepipe.coverage" PG_SERIES
	                                  " AND span && tsrange(NULL, $3::timestamp, '(]')"
	                                  " ORDER BY lower(span) DESC LIMIT 1",
	               3 },
	[SQ_HIST] = { "SELECT " PG_TIME("first_utc") " FROM candlepipe.history_start" PG_SERIES,
	              2 },
	/* caution as compact JSON text (its keys in jsonb's order) */
	[SQ_MARKETS] = { "SELECT market, korean_name, english_name, warning::int,"
	                 " CASE WHEN caution IS NOT NULL THEN coalesce((SELECT '{' ||"
	                 " string_agg(to_json(key)::text || ':' || value::text, ',') || '}'"
	                 " FROM jsonb_each(caution)), '{}') END"
	                 " FROM candlepipe.markets ORDER BY market COLLATE \"C\"",
	                 0 },
	[SQ_PING] = { "SELECT 1 FROM candlepipe.coverage LIMIT 1", 0 },
	[SQ_COUNT_IN] = { "SELECT count(*) FROM (SELECT 1 FROM candlepipe.candles" PG_IN_RANGE
	                  " LIMIT $5::int) x",
	                  5 },
	[SQ_OLDEST] = { "SELECT " PG_TIME(
	                    "min(candle_date_time_utc)") " FROM candlepipe.candles" PG_SERIES,
	                2 },
	[SQ_TIMES] = { "SELECT " PG_TIME(
	                   "candle_date_time_utc") " FROM candlepipe.candles" PG_IN_RANGE
	                                           " ORDER BY candle_date_time_utc",
	               4 },
	/* SQLite's order: text by bytes, NULL first */
	[SQ_SERIES] = { "SELECT m, t, f, u FROM (SELECT market AS m, timeframe AS t, " PG_TIME(
	                    "lower(span)") " AS f, " PG_TIME("upper(span)") " AS u"
	                                                                    " FROM candlepipe.coverage"
	                                                                    " UNION ALL SELECT market,"
	                                                                    " timeframe, NULL, NULL"
	                                                                    " FROM"
	                                                                    " candlepipe.history_start h"
	                                                                    " WHERE NOT EXISTS (SELECT 1"
	                                                                    " FROM candlepipe.coverage c"
	                                                                    " WHERE c.market = h.market"
	                                                                    " AND c.timeframe ="
	                                                                    " h.timeframe)) s"
	                                                                    " ORDER BY m COLLATE \"C\","
	                                                                    " t COLLATE \"C\", f NULLS"
	                                                                    " FIRST",
	                0 },
	[SQ_BOUNDS] = { "SELECT " PG_TIME(
	                    "min(greatest(lower(c.span), coalesce(h.first_utc,"
	                    " lower(c.span))))") ", " PG_TIME("max(upper(c.span))") " FROM candlepipe.coverage c"
	                                                                            " LEFT JOIN candlepipe.history_start h"
	                                                                            " ON h.market = c.market AND h.timeframe ="
	                                                                            " c.timeframe",
	                0 },
	/* integer division truncates toward zero, as SQLite's does */
	[SQ_BUCKETS] = { "SELECT (extract(epoch FROM candle_date_time_utc)::bigint - $3::bigint)"
	                 " / $4::bigint, count(*) FROM candlepipe.candles WHERE market = $1 AND"
	                 " timeframe = $2 AND candle_date_time_utc >= $5::timestamp AND"
	                 " candle_date_time_utc < $6::timestamp GROUP BY 1",
	                 6 },
};

/* The statement's name on the server. */
static void
stmt_name(enum sv_stmt which, char out[8])
{
	snprintf(out, 8, "sq%d", (int)which);
}

int
sdb_pg_check(const char *uri)
{
	char shown[PGDB_WHY_MAX], why[PGDB_LINE_MAX];
	int code = EXIT_PERMFAIL, empty, rc;
	PGconn *c = pgdb_connect(uri, SDB_PG_APP, &code);

	if (c == NULL) {
		fprintf(stderr, "cp-serve: cannot connect to the database %s\n",
		        pgdb_display(uri, shown, sizeof(shown)));
		return code;
	}
	rc = pgdb_reader_schema(c, uri, opts_launcher(), why, sizeof(why), &code, &empty);
	PQfinish(c);
	if (rc == 0)
		return 0;
	fprintf(stderr, "cp-serve: %s\n", why);
	return code;
}

/* Prepares every statement of c: 0 or -1 (logged). */
static int
prepare_all(struct sdb_conn *c)
{
	char name[8];

	for (int i = SQ_KNOWN; i < SQ_COUNT; i++) {
		PGresult *r;

		stmt_name((enum sv_stmt)i, name);
		r = PQprepare(c->pg, name, pg_sql[i].sql, 0, NULL);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			log_warnx("prepare %s: %s", name, pgdb_errmsg(c->pg, r));
			PQclear(r);
			return -1;
		}
		PQclear(r);
	}
	return 0;
}

int
sdb_pg_open(struct sdb_conn *c, const char *uri)
{
	char why[PGDB_WHY_MAX];
	int code;

	c->pg = pgdb_connect(uri, SDB_PG_APP, &code);
	if (c->pg == NULL)
		return -1;
	if (pgdb_read_only(c->pg, why, sizeof(why), &code) == -1)
		log_warnx("read-only session: %s", why);
	else if (prepare_all(c) == 0)
		return 0;
	PQfinish(c->pg);
	c->pg = NULL;
	return -1;
}

/* Discards the rest of a streamed statement's results. */
static void
drain(PGconn *c)
{
	PGresult *r;

	while ((r = PQgetResult(c)) != NULL)
		PQclear(r);
}

/* Forgets st's result (a stream left half-read: its rows still come),
 * keeping its parameters. */
static void
result_clear(struct sdb_st *st)
{
	PQclear(st->r);
	st->r = NULL;
	if (st->which == SQ_TIMES && st->ran && !st->done && st->conn->pg != NULL)
		drain(st->conn->pg);
	st->ran = st->done = 0;
	st->row = st->nrows = 0;
}

void
sdb_pg_close(struct sdb_conn *c)
{
	for (int i = 0; i < SQ_COUNT; i++)
		result_clear(&c->st[i]);
	PQfinish(c->pg);
	c->pg = NULL;
}

/* After a failure of r on c's connection: lost, temporary, both or none. */
static void
failed(struct sdb_conn *c, const PGresult *r, const char *what)
{
	log_warnx("%s: %s", what, pgdb_errmsg(c->pg, r));
	if (pgdb_conn_lost(c->pg, r))
		c->lost = 1;
	if (pgdb_exit_code(c->pg, r) == EXIT_TEMPFAIL)
		sdb_set_temporary();
}

int
sdb_pg_exec(struct sdb_conn *c, enum sv_stmt which)
{
	if (c->pg == NULL) {
		c->lost = 1;
		sdb_set_temporary();
		return -1;
	}
	/* BEGIN goes with the first statement, in one round trip */
	if (which == SQ_BEGIN) {
		c->begin_wanted = 1;
		c->reads = 0;
		return 0;
	}
	if (c->begin_wanted) { /* nothing was read: no transaction to end */
		c->begin_wanted = 0;
		return 0;
	}
	/* a read-only transaction's reads stand whatever its COMMIT says: it is
	 * sent, and its result read before the connection's next use */
	if (!PQsendQuery(c->pg, "COMMIT")) {
		failed(c, NULL, "COMMIT");
		return -1;
	}
	c->commit_sent = 1;
	return 0;
}

void
sdb_pg_settle(struct sdb_conn *c)
{
	PGresult *r;

	if (!c->commit_sent)
		return;
	c->commit_sent = 0;
	if (c->pg == NULL)
		return;
	while ((r = PQgetResult(c->pg)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			failed(c, r, "COMMIT");
		PQclear(r);
	}
}

/* A BEGIN still wanted, on its own (before a statement that cannot go with
 * it): 0 or -1. */
static int
begin_now(struct sdb_conn *c)
{
	PGresult *r;
	int ok;

	if (!c->begin_wanted)
		return 0;
	c->begin_wanted = 0;
	r = PQexec(c->pg, "BEGIN");
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		failed(c, r, "BEGIN");
	PQclear(r);
	return ok ? 0 : -1;
}

/* The results of a pipeline of BEGIN and one statement: the statement's,
 * or BEGIN's failure (NULL when the connection went). */
static PGresult *
pipeline_results(PGconn *pg)
{
	PGresult *got[2] = { NULL, NULL }, *x;
	int q = 0;

	/* BEGIN's result, NULL, the statement's, NULL, the sync */
	for (int i = 0; i < 16; i++) {
		if ((x = PQgetResult(pg)) == NULL) {
			if (PQstatus(pg) == CONNECTION_BAD || ++q > 2)
				break;
			continue;
		}
		if (PQresultStatus(x) == PGRES_PIPELINE_SYNC) {
			PQclear(x);
			break;
		}
		if (q < 2 && got[q] == NULL)
			got[q] = x;
		else
			PQclear(x);
	}
	if (got[0] != NULL && PQresultStatus(got[0]) == PGRES_COMMAND_OK) {
		PQclear(got[0]);
		return got[1];
	}
	PQclear(got[1]);
	return got[0];
}

/* Executes the prepared statement name with BEGIN in front when one is
 * wanted (pipeline mode: one round trip). Its result, or NULL. */
static PGresult *
exec_prepared(struct sdb_conn *c, const char *name, int n, const char *const *vals)
{
	PGresult *r = NULL;

	if (!c->begin_wanted)
		return PQexecPrepared(c->pg, name, n, vals, NULL, NULL, 0);
	c->begin_wanted = 0;
	if (!PQenterPipelineMode(c->pg))
		return NULL;
	if (PQsendQueryParams(c->pg, "BEGIN", 0, NULL, NULL, NULL, NULL, 0) &&
	    PQsendQueryPrepared(c->pg, name, n, vals, NULL, NULL, 0) && PQpipelineSync(c->pg))
		r = pipeline_results(c->pg);
	(void)PQexitPipelineMode(c->pg);
	return r;
}

void
sdb_pg_bind(struct sdb_st *st, int i, const char *v)
{
	size_t n;

	if (i < 1 || i > SDB_PARAMS)
		return;
	i--;
	free(st->heap[i]);
	st->heap[i] = NULL;
	if (v == NULL) {
		st->vals[i] = NULL;
		return;
	}
	n = strlen(v);
	if (n < SDB_PARAM_LEN) {
		memcpy(st->buf[i], v, n + 1);
		st->vals[i] = st->buf[i];
	} else {
		st->vals[i] = st->heap[i] = strdup(v); /* NULL: sent as SQL NULL */
	}
}

/* The next row of the streamed SQ_TIMES (single-row mode). */
static int
step_stream(struct sdb_st *st, PGconn *c, const char *name)
{
	ExecStatusType s;

	if (!st->ran) {
		st->ran = 1;
		if (begin_now(st->conn) == -1) {
			st->done = 1;
			return -1;
		}
		st->conn->reads++;
		if (!PQsendQueryPrepared(c, name, pg_sql[st->which].nparams, st->vals, NULL, NULL,
		                         0)) {
			st->done = 1;
			failed(st->conn, NULL, name);
			return -1;
		}
		(void)PQsetSingleRowMode(c);
	}
	if (st->done)
		return 0;
	PQclear(st->r);
	st->r = PQgetResult(c);
	s = PQresultStatus(st->r);
	st->row = 0;
	if (st->r != NULL && s == PGRES_SINGLE_TUPLE)
		return 1;
	st->done = 1;
	if (st->r == NULL || s == PGRES_TUPLES_OK) {
		drain(c);
		return 0;
	}
	failed(st->conn, st->r, name);
	drain(c);
	return -1;
}

int
sdb_pg_step(struct sdb_st *st)
{
	PGconn *c = st->conn->pg;
	char name[8];

	if (c == NULL) {
		sdb_set_temporary();
		return -1;
	}
	stmt_name(st->which, name);
	if (st->which == SQ_TIMES)
		return step_stream(st, c, name);
	if (st->ran)
		return ++st->row < st->nrows ? 1 : 0;
	st->ran = 1;
	st->r = exec_prepared(st->conn, name, pg_sql[st->which].nparams, st->vals);
	if (PQresultStatus(st->r) != PGRES_TUPLES_OK) {
		failed(st->conn, st->r, name);
		PQclear(st->r);
		st->r = NULL;
		st->nrows = 0;
		return -1;
	}
	st->conn->reads++;
	st->nrows = PQntuples(st->r);
	st->row = 0;
	return st->nrows > 0 ? 1 : 0;
}

void
sdb_pg_rerun(struct sdb_st *st)
{
	result_clear(st);
}

void
sdb_pg_reset(struct sdb_st *st)
{
	result_clear(st);
	for (int i = 0; i < SDB_PARAMS; i++) {
		free(st->heap[i]);
		st->heap[i] = NULL;
		st->vals[i] = NULL;
	}
}

int
sdb_pg_covered(struct sdb_conn *c, const char *market, enum tf tf, int64_t from, int64_t to,
               struct range_list *out)
{
	if (c->pg == NULL) {
		sdb_set_temporary();
		return -1;
	}
	if (begin_now(c) == -1)
		return -1;
	c->reads++;
	if (pgdb_covered(c->pg, market, tf_name(tf), from, to, out) == 0)
		return 0;
	if (pgdb_conn_lost(c->pg, NULL))
		c->lost = 1, sdb_set_temporary();
	return -1;
}
