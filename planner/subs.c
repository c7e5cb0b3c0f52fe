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
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "subs.h"
#include "timeutil.h"

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
	sqlite3 *h = open_db(db, 1, err, errlen);
	int n;

	if (h == NULL)
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
	sqlite3 *h = open_db(db, 1, err, errlen);
	struct sub s = { .added = 0 };
	int n;

	if (h == NULL)
		return -1;
	snprintf(s.market, sizeof(s.market), "%s", market);
	snprintf(s.tf, sizeof(s.tf), "%s", tf);
	n = run_stmt(h, db, "DELETE FROM follows WHERE market = ?1 AND timeframe = ?2", &s, err,
	             errlen);
	sqlite3_close(h);
	return n < 0 ? -1 : n > 0;
}
