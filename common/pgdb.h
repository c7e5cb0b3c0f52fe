/*
 * pgdb.h: a PostgreSQL database as candlepipe's store (issue 14), shared by
 * the writer, the planner and the readers: which --db values name one, the
 * connection (timeout, application_name, keepalives), which databases are
 * ours (the twin of ledger_schema_read, on the schema of pgschema.h), the
 * schema's creation, the coverage read, the exit code a failure calls
 * for, and the steps of a reader's opening (pgdb_reader_*).
 *
 * A database is judged by its "candlepipe" schema alone: none is EMPTY (it
 * may become ours: pgdb_create); one whose candlepipe.meta says application
 * 'candlepipe' and schema_version 1..PGSCHEMA_VERSION with exactly the
 * tables of that version (PGSCHEMA_TABLES_V1, PGSCHEMA_TABLES) is OURS; a higher version is NEWER; anything else
 * (no meta, another application, other tables) is FOREIGN. NEWER and
 * FOREIGN are refused without a write. Other schemas are never looked at.
 */
#ifndef CP_PGDB_H
#define CP_PGDB_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "ledger.h" /* enum ledger_kind, struct ledger_schema, struct range_list */

#define PGDB_CONNECT_TIMEOUT_S 10
#define PGDB_WHY_MAX 512
/* One line that says why a database is refused (pgdb_schema_why,
 * pgdb_reader_schema): the name shown in it and the words around it. */
#define PGDB_LINE_MAX (PGDB_WHY_MAX + 160)

/* 1 if db names a PostgreSQL database rather than a SQLite file: a
 * postgresql:// or postgres:// URI, or a libpq keyword string (it contains
 * "dbname=" or "host="). */
int pgdb_is_uri(const char *db);
/* Connects to conninfo (a URI or keyword string; the PG* environment fills
 * in the rest) with connect_timeout PGDB_CONNECT_TIMEOUT_S unless it or
 * PGCONNECT_TIMEOUT says otherwise, application_name app unless it says
 * otherwise, TCP keepalives, and a UTC session time zone. Returns the
 * connection, or NULL with *code EXIT_TEMPFAIL (refused, timed out, the
 * server starting or stopping) or EXIT_PERMFAIL (a malformed string,
 * authentication, no such database or role, no permission), the reason
 * logged. */
PGconn *pgdb_connect(const char *conninfo, const char *app, int *code);
/* The conninfo with any password left out, for messages (in buf). */
const char *pgdb_display(const char *conninfo, char *buf, size_t len);
/* Classifies the database (see above) into *out (tables: the tables of the
 * candlepipe schema, as in PGSCHEMA_TABLES), writing nothing. 0, or -1
 * with *code set (pgdb_exit_code) and the reason logged. */
int pgdb_schema_read(PGconn *c, struct ledger_schema *out, int *code);
/* One line saying why a NEWER or FOREIGN database named name is refused. */
void pgdb_schema_why(const struct ledger_schema *sc, const char *name, char *buf, size_t len);
/* Connects and classifies for a reader: an OURS or EMPTY database's
 * connection, or NULL with *code EXIT_PERMFAIL or EXIT_TEMPFAIL (logged). */
PGconn *pgdb_open_checked(const char *conninfo, const char *app, int *code);
/* Runs sql (one command string, no rows wanted): 0, or -1 with the
 * failure's message (pgdb_errmsg) in why and *code (pgdb_exit_code);
 * nothing logged. */
int pgdb_run(PGconn *c, const char *sql, char *why, size_t len, int *code);
/* A reader's opening (cp-serve, cp-query), one function per step; each
 * program prints the outcome in its own words.
 * 1. pgdb_connect; on failure *missing says whether there is no database
 * to read: the server cannot be reached (EXIT_TEMPFAIL) or says it has no
 * such database. */
PGconn *pgdb_reader_connect(const char *conninfo, const char *app, int *code, int *missing);
/* 2. Every transaction of c's session REPEATABLE READ READ ONLY (one
 * snapshot each; nothing written whatever the role may do): as pgdb_run. */
int pgdb_read_only(PGconn *c, char *why, size_t len, int *code);
/* 3. 0 when c's database (name: its --db) is OURS; else -1 and one line in
 * why (len PGDB_LINE_MAX): "NAME: cannot read the schema" (*code
 * pgdb_schema_read's), or "database NAME has no candlepipe schema yet
 * (collect first: LAUNCHER collect ... --db URI)" (*missing 1) or
 * pgdb_schema_why's, both EXIT_PERMFAIL. */
int pgdb_reader_schema(PGconn *c, const char *name, const char *launcher, char *why, size_t len,
                       int *code, int *missing);
/* Creates the schema of PGSCHEMA_VERSION when the database is EMPTY, or
 * upgrades an OURS one of an older version in place (pgschema.h), in one
 * transaction serialised by an advisory lock (two writers starting at once
 * create or upgrade it once), and classifies it again into *out. 0 when it is OURS
 * afterwards; -1 with *code set (EXIT_PERMFAIL for NEWER or FOREIGN, its
 * reason logged). */
int pgdb_create(PGconn *c, const char *name, struct ledger_schema *out, int *code);
/* Appends the covered ranges of (market, tf) that intersect [from, to),
 * clipped to it, merged and sorted, like ledger_covered. A database without
 * the schema yet covers nothing. 0 or -1 (logged). */
int pgdb_covered(PGconn *c, const char *market, const char *tf, int64_t from, int64_t to,
                 struct range_list *out);
/* The exit code a failed command (r, may be NULL) on c calls for:
 * EXIT_TEMPFAIL when the connection is lost or the server is shutting
 * down, starting, out of resources, or a serialization failure or
 * deadlock; EXIT_PERMFAIL for the rest (permission, syntax, data). */
int pgdb_exit_code(PGconn *c, const PGresult *r);
/* 1 if the failure of r (may be NULL) on c means the connection is gone or
 * the server restarting: reconnect and retry the transaction. */
int pgdb_conn_lost(PGconn *c, const PGresult *r);
/* One line of the failure of r (may be NULL) on c: the server's message,
 * or libpq's. */
const char *pgdb_errmsg(PGconn *c, const PGresult *r);
/* Runs sql (no parameters) and wants status (PGRES_COMMAND_OK or
 * PGRES_TUPLES_OK): the result, or NULL with the failure logged as
 * "what: message" and *code set (pgdb_exit_code; code may be NULL). */
PGresult *pgdb_exec(PGconn *c, const char *sql, ExecStatusType want, const char *what, int *code);
/* Time text of epoch seconds for a timestamp parameter, clamped to
 * 1970..9999 (years PostgreSQL and time_format both take). */
void pgdb_time_param(int64_t t, char out[20]);

#endif
