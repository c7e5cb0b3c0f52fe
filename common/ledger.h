/*
 * ledger.h: the coverage ledger and the database schema, shared by the writer
 * (the only read-write connection) and the readers (planner, query tools).
 *
 * Schema (PRAGMA user_version = LEDGER_SCHEMA_VERSION):
 *   candles_exact  one row per real candle; decimals as Upbit's exact text
 *   candles        view of candles_exact with decimals as REAL
 *   coverage       [from_utc, to_utc) ranges proven complete, merged
 *   history_start  first slot Upbit serves (listing or horizon), when proven
 *   markets        what /v1/market/all says of each market (version 2)
 *   follows        the daemon's standing follow subscriptions (version 3)
 * Times are TEXT "YYYY-MM-DDTHH:MM:SS" (UTC), so they sort and compare
 * lexically.
 *
 * A file is a candlepipe database when its user_version is 1, 2 or 3 and
 * its tables (sqlite_master rows of type 'table', SQLite's own sqlite_*
 * left out) are exactly LEDGER_TABLES_V1, _V2 or _V3 for that version.
 * Views, indexes and triggers a user adds do not matter. A file with no
 * schema object at all, user_version 0 and application_id 0 is empty (it
 * may become one); anything else is another program's, never written.
 */
#ifndef CP_LEDGER_H
#define CP_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#define LEDGER_SCHEMA_VERSION 3
/* The tables of each version, sorted by name, comma-separated. */
#define LEDGER_TABLES_V1 "candles_exact,coverage,history_start"
#define LEDGER_TABLES_V2 "candles_exact,coverage,history_start,markets"
#define LEDGER_TABLES_V3 "candles_exact,coverage,follows,history_start,markets"
#define LEDGER_WHY_MAX 512

/* What a database file holds, judged from its schema alone. */
enum ledger_kind {
	LEDGER_EMPTY,   /* no schema, user_version 0: may become ours */
	LEDGER_OURS,    /* a candlepipe database of version 1..LEDGER_SCHEMA_VERSION */
	LEDGER_NEWER,   /* user_version above ours: refused */
	LEDGER_FOREIGN, /* another program's: refused */
};

struct ledger_schema {
	enum ledger_kind kind;
	long version;     /* PRAGMA user_version */
	char tables[200]; /* its tables as in LEDGER_TABLES_V*, cut if longer */
};

struct range {
	int64_t from, to; /* [from, to) */
};

struct range_list {
	struct range *v;
	size_t n, cap;
};

int range_list_push(struct range_list *l, int64_t from, int64_t to);
void range_list_free(struct range_list *l);
/* out = want minus have (both sorted, non-overlapping); out is appended to. */
int range_subtract(const struct range_list *want, const struct range_list *have,
                   struct range_list *out);

/* Opens path read-only through a "file:" URI (immutable=1 when immutable:
 * no lock, no -shm; only for a file no writer uses) and reads its schema
 * once. Returns the handle, or NULL with the SQLite code in *rc and its
 * message in why (NULL: not wanted). Nothing is ever created or written. */
sqlite3 *ledger_open_uri(const char *path, int immutable, int *rc, char *why, size_t whylen);
/* 1 if "<path>-wal" exists (a writer is connected, or one crashed). */
int ledger_wal_exists(const char *path);
/* Opens the database read-only for a reader. A database whose -shm cannot
 * be created (a directory the reader cannot write) and which has no -wal
 * (no writer connected) is opened immutable. Returns NULL (and *exists=0)
 * if the file is missing, NULL with *exists=1 on error (logged). A file
 * that is not a database opens; its first read fails. */
sqlite3 *ledger_open_ro(const char *path, int *exists);
/* ledger_open_ro, then the schema check: the handle of an empty or
 * candlepipe database; NULL with *code 0 if the file is missing; NULL with
 * *code EXIT_PERMFAIL (not a database, another program's or a newer
 * schema) or EXIT_TEMPFAIL (busy, I/O), the reason logged. */
sqlite3 *ledger_open_checked(const char *path, int *code);
/* Reads user_version, application_id and the tables of db, writing
 * nothing, and classifies them into *out. SQLITE_OK or the SQLite code. */
int ledger_schema_read(sqlite3 *db, struct ledger_schema *out);
/* One line saying why a NEWER or FOREIGN file at path is refused. */
void ledger_schema_why(const struct ledger_schema *sc, const char *path, char *buf, size_t len);
/* The exit code a SQLite failure calls for: EXIT_TEMPFAIL for busy, locked,
 * I/O, full, out of memory, interrupted; EXIT_PERMFAIL for the rest. */
int ledger_exit_code(int sqlite_rc);
/* Appends the covered ranges of (market, tf) that intersect [from, to),
 * clipped to it, sorted. 0 or -1. */
int ledger_covered(sqlite3 *db, const char *market, const char *tf, int64_t from, int64_t to,
                   struct range_list *out);

/* A coverage reader over either store: a SQLite file or a PostgreSQL
 * connection (pgdb.h; libpq's PGconn is struct pg_conn). */
struct pg_conn;
struct ledger_src {
	sqlite3 *db;        /* a SQLite database, or NULL */
	struct pg_conn *pg; /* a PostgreSQL database, or NULL */
};
/* Opens db (a path, or a PostgreSQL URI or keyword string: pgdb_is_uri) to
 * read coverage, judged like ledger_open_checked (app names the connection
 * on the server): 0 with *src set (both NULL: the file does not exist
 * yet), or -1 with *code EXIT_PERMFAIL or EXIT_TEMPFAIL, logged. */
int ledger_src_open(const char *db, const char *app, struct ledger_src *src, int *code);
/* ledger_covered or pgdb_covered; a src with neither covers nothing. */
int ledger_src_covered(const struct ledger_src *src, const char *market, const char *tf,
                       int64_t from, int64_t to, struct range_list *out);
void ledger_src_close(struct ledger_src *src);

#endif
