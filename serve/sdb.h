/*
 * sdb.h: what sdb.c (the per-thread connection, the dispatch, the SQLite
 * side) and sdb_pg.c (the PostgreSQL side) share; the rest of serve/ sees
 * only the sdb_* functions of serve.h.
 */
#ifndef CP_SERVE_SDB_H
#define CP_SERVE_SDB_H

#include <libpq-fe.h>
#include <sqlite3.h>

#include "serve.h"

#define SDB_PARAMS 8     /* the most parameters a statement has */
#define SDB_PARAM_LEN 96 /* a longer text parameter is copied to the heap */

struct sdb_conn;

struct sdb_st {
	sqlite3_stmt *lite; /* SQLite: the statement; NULL on PostgreSQL */
	struct sdb_conn *conn;
	enum sv_stmt which;
	/* PostgreSQL: the parameters as text (NULL: SQL NULL), the result */
	const char *vals[SDB_PARAMS];
	char buf[SDB_PARAMS][SDB_PARAM_LEN];
	char *heap[SDB_PARAMS];
	PGresult *r;
	int row, nrows;
	int ran;  /* executed since the last reset */
	int done; /* a streamed statement's last row was read */
};

/* One thread's connection with its statements. */
struct sdb_conn {
	sqlite3 *lite;    /* NULL on PostgreSQL */
	PGconn *pg;       /* NULL on SQLite, and while a lost connection is down */
	int in_txn;       /* between a BEGIN and its COMMIT */
	int reads;        /* PostgreSQL: statements run since the BEGIN */
	int begin_wanted; /* PostgreSQL: BEGIN goes with the next statement */
	int commit_sent;  /* PostgreSQL: a COMMIT's result is still to be read */
	int lost;         /* PostgreSQL: the connection failed; reopened at the next chance */
	int64_t retry_ms; /* PostgreSQL: no reconnect before this (monotonic ms) */
	struct sdb_st st[SQ_COUNT];
	struct sdb_conn *next;
};

/* Marks the calling thread's last failure as temporary (sdb_reply_error). */
void sdb_set_temporary(void);

/* ---- sdb_pg.c */
/* sdb_check for a PostgreSQL database: 0 or the exit code (said why). */
int sdb_pg_check(const char *uri);
/* Connects c to uri (a read-only session, every statement prepared): 0, or
 * -1 (logged; temporary when the server cannot be reached). */
int sdb_pg_open(struct sdb_conn *c, const char *uri);
void sdb_pg_close(struct sdb_conn *c);
/* BEGIN or COMMIT: 0 or -1 (c->lost set when the connection is gone). The
 * BEGIN is sent with the next statement, the COMMIT without waiting. */
int sdb_pg_exec(struct sdb_conn *c, enum sv_stmt which);
/* Reads the result of a COMMIT sent before (c->lost if it failed so). */
void sdb_pg_settle(struct sdb_conn *c);
void sdb_pg_bind(struct sdb_st *st, int i, const char *v);
int sdb_pg_step(struct sdb_st *st);
void sdb_pg_reset(struct sdb_st *st);
/* Makes st, which failed, run again at its next step (same parameters). */
void sdb_pg_rerun(struct sdb_st *st);
int sdb_pg_covered(struct sdb_conn *c, const char *market, enum tf tf, int64_t from, int64_t to,
                   struct range_list *out);

#endif
