/*
 * qdb_pg.c: cp-query's reads from a PostgreSQL database (--db
 * postgresql://..., issue 14), behind qdb.c's functions. Owns the reader's
 * connection: one REPEATABLE READ READ ONLY transaction per command (one
 * snapshot for the coverage and the candles it answers from, and the
 * session is read-only too, so nothing can ever be written: no temporary
 * table, no lock but ACCESS SHARE), what cp-query says when a database
 * cannot be read (the opening's steps and the rule of which failures mean
 * "no database", to exit as for a missing SQLite file, are pgdb.c's
 * pgdb_reader_*), the collation check, and the cursors that stream rows in
 * batches so memory stays bounded. The statements themselves are the
 * callers' (struct qsql).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exitcodes.h"
#include "log.h"
#include "opts.h"
#include "pgdb.h"
#include "query.h"

#define QDB_PG_BATCH 4096 /* rows per FETCH */
#define QDB_PG_APP "cp-query"

/* Saves the failure of r (may be NULL) on db's connection as db->err. */
static void
save_error(struct qdb *db, const PGresult *r)
{
	snprintf(db->err, sizeof(db->err), "%s", pgdb_errmsg(db->pg, r));
}

/* rc, after one line saying db->err when it is -1. */
static int
told(struct qdb *db, int rc)
{
	if (rc == -1)
		query_error("%s: %s", db->name, db->err);
	return rc;
}

/* Whether the database sorts text by bytes (libc's collation C or POSIX),
 * as SQLite does: if not, every ORDER BY on text says COLLATE "C" (which
 * a C database's primary key index serves without a sort).
 * datlocprovider (ICU or libc) is new in PostgreSQL 15: libc before. */
static int
check_collation(struct qdb *db)
{
	PGresult *r = PQexec(db->pg, "SELECT datcollate IN ('C', 'POSIX') AND"
	                             " coalesce(to_jsonb(d)->>'datlocprovider', 'c') = 'c'"
	                             " FROM pg_database d WHERE datname = current_database()");

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		save_error(db, r);
		PQclear(r);
		return told(db, -1);
	}
	db->collate = PQgetvalue(r, 0, 0)[0] == 't' ? "" : " COLLATE \"C\"";
	PQclear(r);
	return 0;
}

int
qdb_pg_open(struct qdb *db, const char *uri, int *missing)
{
	char why[PGDB_LINE_MAX];
	int code;

	db->pg = pgdb_reader_connect(uri, QDB_PG_APP, &code, missing);
	if (db->pg == NULL && *missing)
		query_error("database %s does not exist or cannot be reached "
		            "(collect first: %s collect ... --db URI)",
		            db->name, opts_launcher());
	else if (db->pg == NULL)
		query_error("cannot open database %s", db->name);
	if (db->pg == NULL)
		return -1;
	/* the session, and so its one transaction, is read-only: a reader
	 * never writes, whatever its role may do */
	if (told(db, pgdb_read_only(db->pg, db->err, sizeof(db->err), &code)) == -1 ||
	    told(db, pgdb_run(db->pg, "BEGIN", db->err, sizeof(db->err), &code)) == -1)
		return -1;
	if (pgdb_reader_schema(db->pg, db->name, opts_launcher(), why, sizeof(why), &code,
	                       missing) == -1) {
		query_error("%s", why);
		return -1;
	}
	return check_collation(db);
}

void
qdb_pg_close(struct qdb *db)
{
	/* a read-only transaction: COMMIT and ROLLBACK end it alike */
	PQclear(PQexec(db->pg, "COMMIT"));
	PQfinish(db->pg);
	db->pg = NULL;
}

int
qdb_pg_cursor(struct qcur *c, const char *sql, int n, const char *const *vals)
{
	struct qdb *db = c->db;
	size_t len = strlen(sql) + 64;
	char *decl = malloc(len);
	PGresult *r;
	int rc = -1;

	if (decl == NULL) {
		snprintf(db->err, sizeof(db->err), "out of memory");
		return -1;
	}
	snprintf(c->name, sizeof(c->name), "qc%u", db->cursors++);
	snprintf(decl, len, "DECLARE %s NO SCROLL CURSOR FOR %s", c->name, sql);
	r = PQexecParams(db->pg, decl, n, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_COMMAND_OK)
		rc = 0;
	else
		save_error(db, r);
	PQclear(r);
	free(decl);
	if (rc == -1)
		c->name[0] = '\0'; /* nothing to close */
	return rc;
}

int
qdb_pg_step(struct qcur *c)
{
	char sql[64];

	if (c->r != NULL && c->row + 1 < c->nrows) {
		c->row++;
		return 1;
	}
	if (c->last)
		return 0;
	PQclear(c->r);
	snprintf(sql, sizeof(sql), "FETCH %d FROM %s", QDB_PG_BATCH, c->name);
	c->r = PQexec(c->db->pg, sql);
	if (PQresultStatus(c->r) != PGRES_TUPLES_OK) {
		save_error(c->db, c->r);
		PQclear(c->r);
		c->r = NULL;
		c->last = 1;
		return -1;
	}
	c->nrows = PQntuples(c->r);
	c->row = 0;
	c->last = c->nrows < QDB_PG_BATCH;
	return c->nrows > 0 ? 1 : 0;
}

void
qdb_pg_cursor_close(struct qcur *c)
{
	char sql[32];

	PQclear(c->r);
	c->r = NULL;
	if (c->name[0] == '\0' || c->db->pg == NULL)
		return;
	snprintf(sql, sizeof(sql), "CLOSE %s", c->name);
	PQclear(PQexec(c->db->pg, sql));
}
