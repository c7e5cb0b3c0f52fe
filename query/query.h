/*
 * query.h: the read side of candlepipe (cp-query): the `query`, `gaps` and
 * `export` commands, `verify` (an fsck of the database) and the pieces they share (read-only database access,
 * candle rows and their output formats). Everything here reads; nothing
 * ever writes to the database: a SQLite file is opened SQLITE_OPEN_READONLY,
 * a PostgreSQL database (--db postgresql://...) is read in one READ ONLY
 * transaction (query/qdb_pg.c).
 */
#ifndef CP_QUERY_H
#define CP_QUERY_H

#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "ledger.h"
#include "opts.h"
#include "tf.h"

#define QUERY_DEFAULT_DB "data/candles.db"
#define KST_OFFSET_S (9 * 3600)

/* The columns of candles_exact, in table order (the order every SELECT
 * here uses, so column i of a statement is enum candle_col i). */
enum candle_col {
	CC_MARKET,
	CC_TIMEFRAME,
	CC_UTC,
	CC_KST,
	CC_OPEN,
	CC_HIGH,
	CC_LOW,
	CC_CLOSE,
	CC_TIMESTAMP,
	CC_ACC_PRICE,
	CC_ACC_VOLUME,
	CC_UNIT,
	CC_PREV_CLOSE,
	CC_CHANGE_PRICE,
	CC_CHANGE_RATE,
	CC_CONVERTED,
	CC_FIRST_DAY,
	CC_COUNT
};

/* "market, timeframe, ... first_day_of_period": the SELECT list. */
extern const char query_columns_sql[];
/* The same list on PostgreSQL, every value as the SQLite text: times
 * 'YYYY-MM-DDTHH:MM:SS', dates 'YYYY-MM-DD', numeric as stored. */
extern const char query_columns_pg[];
/* A PostgreSQL timestamp column (or expression) as SQLite's time text. */
#define QDB_PG_TIME(x) "to_char(" x ", 'YYYY-MM-DD\"T\"HH24:MI:SS')"

/* A database open for reading: a SQLite file or a PostgreSQL database. */
struct qdb {
	sqlite3 *lite;  /* NULL on PostgreSQL */
	PGconn *pg;     /* NULL on SQLite */
	char name[512]; /* --db as given, any password left out */
	/* PostgreSQL: ' COLLATE "C"' unless the database sorts text by bytes
	 * already, so that every ORDER BY on text is SQLite's order */
	const char *collate;
	unsigned cursors; /* PostgreSQL: cursors declared, for their names */
	char err[512];    /* PostgreSQL: the last failure */
};

/* The rows of one statement: stepped row by row (PostgreSQL: a cursor
 * fetched in batches, so memory stays bounded whatever the row count). */
struct qcur {
	struct qdb *db;
	sqlite3_stmt *st;
	PGresult *r;
	int row, nrows, last; /* PostgreSQL: current row, rows of r, r was the last batch */
	char name[16];
};

/* One statement in both dialects: SQLite with ?1..?4, PostgreSQL with
 * $1..$4 (times as $3::timestamp) returning SQLite's text. */
struct qsql {
	const char *lite, *pg;
};

enum out_format { FMT_TABLE, FMT_CSV, FMT_JSON, FMT_JSONL };

/* One candle as text: col[i] is NULL where the database has NULL. filled is
 * 1 for a fill-forward row, 0 for a real one, -1 when the output has no
 * `filled` field at all. The strings are borrowed (valid until the next
 * sqlite3_step or the next fill). */
struct candle_row {
	const char *col[CC_COUNT];
	int filled;
};

/* Table layout: column widths of the `query` table output. */
struct table_widths {
	int w[CC_COUNT];
};

/* A row writer: a format, a stream and the running count. */
struct row_out {
	FILE *f;
	enum out_format fmt;
	int with_filled; /* print the `filled` column/field */
	unsigned long long rows;
	struct table_widths tw; /* FMT_TABLE only */
};

/* Fills r->col from the current row of c (a SELECT of query_columns_sql). */
void out_row_from_cur(const struct qcur *c, struct candle_row *r);
/* Writes what goes before the first row (csv header, table header, '['). */
void out_begin(struct row_out *o);
/* Writes one row; 0, or -1 on a write error (errno set). */
int out_row(struct row_out *o, const struct candle_row *r);
/* Writes what goes after the last row (']'). */
void out_end(struct row_out *o);
/* Writes r as Upbit's JSON object (no newline), with "filled" if >= 0. */
void out_json_object(FILE *f, const struct candle_row *r);
/* Writes s as a JSON string (quoted, escaped). */
void out_json_string(FILE *f, const char *s);
/* Parses "table|csv|json|jsonl"; allowed is a bit mask of (1 << fmt). */
int out_parse_format(const char *s, unsigned allowed, enum out_format *out);

/* Opens the database (a SQLite path or a PostgreSQL URI, pgdb_is_uri)
 * read-only and checks it is a candlepipe database. Returns NULL after
 * printing one line: *missing is set when the file does not exist (on
 * PostgreSQL: the server cannot be reached, the database does not exist or
 * has no candlepipe schema yet). */
struct qdb *qdb_open(const char *path, int *missing);
void qdb_close(struct qdb *db);
/* The message of the last failure on db. */
const char *qdb_errmsg(const struct qdb *db);
/* A cursor over sql (db's dialect: ?N or $N) with the n text parameters
 * vals (NULL: SQL NULL); NULL on failure (qdb_errmsg says why, nothing
 * printed). */
struct qcur *qcur_open(struct qdb *db, const char *sql, int n, const char *const *vals);
/* 1: a row is current; 0: no more rows; -1: failed (qdb_errmsg). */
int qcur_step(struct qcur *c);
/* Column i of the current row as text, NULL for NULL. */
const char *qcur_text(const struct qcur *c, int i);
/* Column i as an integer (0 for NULL). */
int qcur_int(const struct qcur *c, int i);
/* Column i as a floating-point value: 1 and *out if it is one (SQLite:
 * REAL; PostgreSQL: any number), 0 for NULL, -1 for anything else. */
int qcur_real(const struct qcur *c, int i, double *out);
void qcur_close(struct qcur *c);
/* Opens sql bound to what it has of ?1/$1 market, ?2/$2 tf's name, ?3/$3
 * from and ?4/$4 to (times as text); NULL after printing the error. */
struct qcur *qdb_range(struct qdb *db, const struct qsql *sql, const char *market, enum tf tf,
                       int64_t from, int64_t to);
/* query/qdb_pg.c, the PostgreSQL side of the above (qdb.c dispatches). */
/* Connects to uri read-only into db and checks the schema; 0, or -1 after
 * printing one line (*missing as for qdb_open). */
int qdb_pg_open(struct qdb *db, const char *uri, int *missing);
void qdb_pg_close(struct qdb *db);
/* Declares c's cursor; 0 or -1 (db->err). */
int qdb_pg_cursor(struct qcur *c, const char *sql, int n, const char *const *vals);
/* As qcur_step. */
int qdb_pg_step(struct qcur *c);
void qdb_pg_cursor_close(struct qcur *c);

/* The first slot of (market, tf) with something in it: the earlier of
 * history_start and the oldest stored candle, if history_start is known.
 * Slots before it are "before listing/history". *have = 0 if unknown.
 * 0 or -1. */
int qdb_history_bound(struct qdb *db, const char *market, enum tf tf, int64_t *bound, int *have);
/* The covered ranges of (market, tf) in [from, to), aligned to tf's slots. */
int qdb_covered(struct qdb *db, const char *market, enum tf tf, int64_t from, int64_t to,
                struct range_list *out);
/* [from, to) minus the covered ranges cov, split at the history bound:
 * *before gets [from, bound) (nothing exists there, covered or not),
 * *missing the uncovered ranges at or after it (never fetched). 0 or -1. */
int qdb_split_missing(int64_t from, int64_t to, const struct range_list *cov, int64_t bound,
                      int have_bound, struct range_list *missing, struct range_list *before);
/* Number of slots in the ranges of l. */
int64_t qdb_slots(enum tf tf, const struct range_list *l);

/* "3d 4h 5m", "45s", "0s": a duration in seconds, for people. */
void query_fmt_duration(int64_t s, char *buf, size_t len);
/* The options every command takes, as given (NULL = absent; db defaults to
 * QUERY_DEFAULT_DB). */
struct qargs {
	const char *cmd; /* "query", "gaps", "export": names it in messages */
	const char *market, *timeframe, *from, *to, *db, *format;
};

/* Parses cmd's command line (argv[0] is the command): the common options
 * into a, own (ended by OPT_END, or NULL) as the command declares them.
 * Exits EXIT_USAGE after one line on a bad one, EXIT_OK after --help. */
void qargs_parse(struct qargs *a, const char *cmd, int argc, char **argv, const struct opt *own,
                 void (*usage)(FILE *));
/* The --format given, one of allowed (a mask of 1 << fmt, spelled names in
 * the message), or dflt if none was; exits EXIT_USAGE if not allowed. */
enum out_format qargs_format(const struct qargs *a, unsigned allowed, const char *names,
                             enum out_format dflt);
/* --market (one market: a list or 'all' is a usage error) and --timeframe,
 * both required: the timeframe, or exits. */
enum tf qargs_market_tf(const struct qargs *a);
/* One error line on stderr: "cp-query CMD: " (the command being run, once
 * qargs_parse has seen it), then the message. */
void query_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The second line of every usage error: "try 'HELP'", the help of what the
 * user ran: $CP_USAGE_HINT if set, "./run.sh WHAT" under run.sh (which sets
 * CP_RUN_SH), else "cp-query WHAT"; what NULL: the top-level help. */
void query_try_help(const char *what);
/* Usage error: prints "cp-query CMD: msg", then query_try_help's line, and
 * exits EXIT_USAGE. */
void query_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), __noreturn__));
/* Parses an ISO time or exits EXIT_USAGE naming the option. */
int64_t query_parse_time(const char *cmd, const char *opt, const char *s);
/* Parses a timeframe or exits EXIT_USAGE. */
enum tf query_parse_tf(const char *cmd, const char *s);

int query_run(int argc, char **argv);
int gaps_run(int argc, char **argv);
int export_run(int argc, char **argv);
int verify_run(int argc, char **argv);

#endif
