/*
 * subs.c: the follows table (subs.h): the daemon's standing follow
 * subscriptions, one row per (market, timeframe).
 *
 * Who writes it: the writer stays the only connection that writes candles,
 * coverage and markets; this one table is written by the daemon itself, in
 * one short autocommit statement on a connection of its own (busy_timeout
 * SUBS_BUSY_TIMEOUT_MS, then closed). A control message to the writer would
 * have needed a new message type, a reply path on a socket that today only
 * carries results one way, and the writer answering the daemon before the
 * control client could be told "added": a second protocol for a few rows
 * written when a person types a command. WAL lets the two connections take
 * turns; the table holds no coverage, so nothing the writer proves depends
 * on it. The writer creates the table (schema version 3) before the daemon
 * starts; this file never creates or upgrades a schema.
 *
 * On a PostgreSQL --db (pgdb_is_uri) the rows are candlepipe.follows
 * (pgschema.h, version 2, created or upgraded to by the writer), written
 * the same way: one short autocommit statement on a connection of the
 * daemon's own, then closed. A database without the table yet (a version
 * 1 schema no writer has upgraded, or no schema) has no follows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "pgdb.h"
#include "subs.h"
#include "timeutil.h"

#define SUBS_PG_APP "cp-planner follows"

/* A PostgreSQL connection for the follows of db; NULL with err. */
static PGconn *
pg_open(const char *db, char *err, size_t errlen)
{
	char shown[PGDB_WHY_MAX];
	int code;
	PGconn *c = pgdb_connect(db, SUBS_PG_APP, &code);

	if (c == NULL)
		snprintf(err, errlen, "cannot connect to %s (see the log)",
		         pgdb_display(db, shown, sizeof(shown)));
	return c;
}

/* Runs sql with s's market and timeframe at $1 and $2 (and, with four
 * parameters, its backfill and added at $3 and $4). The result, or NULL
 * with err; *missing (may be NULL) is set when the table is not there. */
static PGresult *
pg_run(PGconn *c, const char *sql, int n, const struct sub *s, int *missing, char *err,
       size_t errlen)
{
	char backfill[24], added[TIME_TEXT_LEN];
	const char *v[4] = { s->market, s->tf, backfill, added };
	PGresult *r;
	const char *state;

	snprintf(backfill, sizeof(backfill), "%lld", (long long)s->backfill);
	pgdb_time_param(s->added, added);
	r = PQexecParams(c, sql, n, NULL, v, NULL, NULL, 0);
	if (r != NULL &&
	    (PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK))
		return r;
	state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	/* 42P01, 3F000: no table or no schema yet */
	if (missing != NULL && state != NULL &&
	    (strcmp(state, "42P01") == 0 || strcmp(state, "3F000") == 0))
		*missing = 1;
	snprintf(err, errlen, "cannot use the follows table: %s", pgdb_errmsg(c, r));
	PQclear(r);
	return NULL;
}

/* Row i of r (market, timeframe, backfill, added epoch s) into *s. */
static void
pg_row(const PGresult *r, int i, struct sub *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->market, sizeof(s->market), "%s", PQgetvalue(r, i, 0));
	snprintf(s->tf, sizeof(s->tf), "%s", PQgetvalue(r, i, 1));
	s->backfill = strtoll(PQgetvalue(r, i, 2), NULL, 10);
	s->added = strtoll(PQgetvalue(r, i, 3), NULL, 10);
}

#define PG_SELECT                                                                   \
	"SELECT market, timeframe, backfill, extract(epoch FROM added_utc)::bigint" \
	" FROM candlepipe.follows"

static int
pg_load(const char *db, subs_fn fn, void *arg, char *err, size_t errlen)
{
	struct sub key = { .added = 0 }, s;
	PGconn *c = pg_open(db, err, errlen);
	PGresult *r;
	int missing = 0;

	if (c == NULL)
		return -1;
	r = pg_run(c, PG_SELECT " ORDER BY added_utc, market, timeframe", 0, &key, &missing, err,
	           errlen);
	for (int i = 0; r != NULL && i < PQntuples(r); i++) {
		pg_row(r, i, &s);
		fn(&s, arg);
	}
	PQclear(r);
	PQfinish(c);
	return r != NULL || missing ? 0 : -1;
}

static int
pg_add(const char *db, struct sub *s, char *err, size_t errlen)
{
	PGconn *c = pg_open(db, err, errlen);
	PGresult *r;
	int n = -1;

	if (c == NULL)
		return -1;
	r = pg_run(c,
	           "INSERT INTO candlepipe.follows(market, timeframe, backfill, added_utc)"
	           " VALUES($1, $2, $3::bigint, $4::timestamp) ON CONFLICT DO NOTHING",
	           4, s, NULL, err, errlen);
	if (r != NULL)
		n = (int)strtol(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	if (n == 0) {
		r = pg_run(c, PG_SELECT " WHERE market = $1 AND timeframe = $2", 2, s, NULL, err,
		           errlen);
		if (r != NULL && PQntuples(r) == 1)
			pg_row(r, 0, s);
		else
			n = -1;
		PQclear(r);
	}
	PQfinish(c);
	return n < 0 ? -1 : n > 0;
}

static int
pg_remove(const char *db, const struct sub *s, char *err, size_t errlen)
{
	PGconn *c = pg_open(db, err, errlen);
	PGresult *r;
	int n = -1;

	if (c == NULL)
		return -1;
	r = pg_run(c, "DELETE FROM candlepipe.follows WHERE market = $1 AND timeframe = $2", 2, s,
	           NULL, err, errlen);
	if (r != NULL)
		n = (int)strtol(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	PQfinish(c);
	return n < 0 ? -1 : n > 0;
}

/* Opens db for the follows table: read-write (never created), or
 * read-only. NULL with err. */
static sqlite3 *
open_db(const char *db, int rw, char *err, size_t errlen)
{
	sqlite3 *h = NULL;
	int flags = (rw ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY) | SQLITE_OPEN_NOMUTEX;

	if (sqlite3_open_v2(db, &h, flags, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", db,
		         h != NULL ? sqlite3_errmsg(h) : "out of memory");
		sqlite3_close(h);
		return NULL;
	}
	sqlite3_busy_timeout(h, SUBS_BUSY_TIMEOUT_MS);
	return h;
}

static void
row_of(sqlite3_stmt *st, struct sub *s)
{
	const unsigned char *m = sqlite3_column_text(st, 0), *tf = sqlite3_column_text(st, 1);
	const unsigned char *added = sqlite3_column_text(st, 3);

	memset(s, 0, sizeof(*s));
	snprintf(s->market, sizeof(s->market), "%s", m != NULL ? (const char *)m : "");
	snprintf(s->tf, sizeof(s->tf), "%s", tf != NULL ? (const char *)tf : "");
	s->backfill = sqlite3_column_int64(st, 2);
	if (added == NULL || time_parse((const char *)added, &s->added) == -1)
		s->added = time_now();
}

/* 1 if db has a follows table. */
static int
has_table(sqlite3 *h)
{
	sqlite3_stmt *st = NULL;
	int yes = 0;

	if (sqlite3_prepare_v2(
	        h, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'follows'", -1, &st,
	        NULL) == SQLITE_OK)
		yes = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return yes;
}

int
subs_load(const char *db, subs_fn fn, void *arg, char *err, size_t errlen)
{
	sqlite3 *h;
	sqlite3_stmt *st = NULL;
	struct sub s;
	int rc;

	if (pgdb_is_uri(db))
		return pg_load(db, fn, arg, err, errlen);
	if (access(db, F_OK) == -1)
		return 0;
	if ((h = open_db(db, 0, err, errlen)) == NULL)
		return -1;
	if (!has_table(h)) {
		sqlite3_close(h);
		return 0;
	}
	rc = sqlite3_prepare_v2(h,
	                        "SELECT market, timeframe, backfill, added_utc FROM follows"
	                        " ORDER BY added_utc, market, timeframe",
	                        -1, &st, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		row_of(st, &s);
		fn(&s, arg);
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_OK)
		snprintf(err, errlen, "cannot read the follows of %s: %s", db, sqlite3_errmsg(h));
	sqlite3_finalize(st);
	sqlite3_close(h);
	return rc == SQLITE_DONE || rc == SQLITE_OK ? 0 : -1;
}

/* Runs sql with s's market and timeframe at ?1 and ?2 (and, when sql has
 * four parameters, its backfill and added at ?3 and ?4). Returns the rows
 * changed, or -1 with err. */
static int
run_stmt(sqlite3 *h, const char *db, const char *sql, const struct sub *s, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char added[TIME_TEXT_LEN];
	int rc = sqlite3_prepare_v2(h, sql, -1, &st, NULL);

	time_format(s->added, added);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, s->market, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, s->tf, -1, SQLITE_STATIC);
		if (sqlite3_bind_parameter_count(st) >= 4) {
			sqlite3_bind_int64(st, 3, s->backfill);
			sqlite3_bind_text(st, 4, added, -1, SQLITE_TRANSIENT);
		}
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "cannot write the follows of %s: %s", db, sqlite3_errmsg(h));
		return -1;
	}
	return sqlite3_changes(h);
}

/* The stored row of (s->market, s->tf) into *s; 0 or -1. */
static int
read_row(sqlite3 *h, struct sub *s)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(h,
	                            "SELECT market, timeframe, backfill, added_utc FROM follows"
	                            " WHERE market = ?1 AND timeframe = ?2",
	                            -1, &st, NULL);
	struct sub key = *s;

	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, key.market, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, key.tf, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			row_of(st, s);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

int
subs_add(const char *db, struct sub *s, char *err, size_t errlen)
{
	sqlite3 *h;
	int n;

	if (pgdb_is_uri(db))
		return pg_add(db, s, err, errlen);
	if ((h = open_db(db, 1, err, errlen)) == NULL)
		return -1;
	n = run_stmt(h, db,
	             "INSERT INTO follows(market, timeframe, backfill, added_utc)"
	             " VALUES(?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
	             s, err, errlen);
	if (n == 0 && read_row(h, s) == -1) {
		snprintf(err, errlen, "cannot read the follow of %s %s back", s->market, s->tf);
		n = -1;
	}
	sqlite3_close(h);
	return n < 0 ? -1 : n > 0;
}

int
subs_remove(const char *db, const char *market, const char *tf, char *err, size_t errlen)
{
	sqlite3 *h;
	struct sub s = { .added = 0 };
	int n;

	snprintf(s.market, sizeof(s.market), "%s", market);
	snprintf(s.tf, sizeof(s.tf), "%s", tf);
	if (pgdb_is_uri(db))
		return pg_remove(db, &s, err, errlen);
	if ((h = open_db(db, 1, err, errlen)) == NULL)
		return -1;
	n = run_stmt(h, db, "DELETE FROM follows WHERE market = ?1 AND timeframe = ?2", &s, err,
	             errlen);
	sqlite3_close(h);
	return n < 0 ? -1 : n > 0;
}
