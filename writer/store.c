/*
 * store.c: the writer's storage: the only read-write connection to the
 * database, its schema, the candle insert and the coverage ledger merge.
 * It owns the writer lock ("<db>.lock", flock, holding the writer's pid)
 * for as long as it is open, and the markets table (store_load_markets).
 *
 * Opening never writes to a file that is not ours: the path must be a
 * regular file (a symlink is followed), or missing in an existing
 * directory; the lock is taken; then the schema is read through a
 * read-only connection (immutable when no -wal exists, so not even a -shm
 * appears) and judged by ledger_schema_read (ledger.h: the exact tables of
 * each version). Only an empty file or one of ours is opened read-write,
 * switched to WAL and given the current schema; a version-1 or -2
 * database is upgraded in place (the markets and follows tables added). A refused file is left byte
 * for byte as it was, and the lock file is removed if we created it.
 *
 * A result is written as its candles plus the range it proves, in the
 * caller's transaction, so coverage never exists without its candles
 * (reliability.md promise 3). Everything is idempotent: a repeated result
 * inserts nothing (the primary key absorbs it) and finds its range covered.
 *
 * Schema (PRAGMA user_version = 3, LEDGER_SCHEMA_VERSION). Times are TEXT
 * 'YYYY-MM-DDTHH:MM:SS' in UTC (no zone, no fraction), so they sort and
 * compare lexically; decimals keep Upbit's exact text, '' becomes NULL.
 *
 *   CREATE TABLE candles_exact(
 *     market TEXT NOT NULL,                 -- 'KRW-BTC'
 *     timeframe TEXT NOT NULL,              -- '1s' '1m' ... '1d' '1w' '1M' '1y'
 *     candle_date_time_utc TEXT NOT NULL,   -- candle start, UTC
 *     candle_date_time_kst TEXT NOT NULL,   -- candle start + 9 h
 *     opening_price TEXT NOT NULL, high_price TEXT NOT NULL,
 *     low_price TEXT NOT NULL, trade_price TEXT NOT NULL,
 *     timestamp INTEGER NOT NULL,           -- ms of the last trade
 *     candle_acc_trade_price TEXT NOT NULL, candle_acc_trade_volume TEXT NOT NULL,
 *     unit INTEGER,                         -- minutes candles only
 *     prev_closing_price TEXT, change_price TEXT, change_rate TEXT,
 *     converted_trade_price TEXT,
 *     first_day_of_period TEXT,             -- 'YYYY-MM-DD', weeks and up
 *     PRIMARY KEY (market, timeframe, candle_date_time_utc)) WITHOUT ROWID;
 *
 *   CREATE VIEW candles AS SELECT market, timeframe, candle_date_time_utc,
 *     candle_date_time_kst, <every decimal column CAST AS REAL, NULL stays
 *     NULL>, timestamp, unit, first_day_of_period FROM candles_exact;
 *     -- same column names and order as candles_exact
 *
 *   CREATE TABLE coverage(
 *     market TEXT NOT NULL, timeframe TEXT NOT NULL,
 *     from_utc TEXT NOT NULL, to_utc TEXT NOT NULL,   -- [from_utc, to_utc)
 *     PRIMARY KEY (market, timeframe, from_utc)) WITHOUT ROWID;
 *     -- ranges proven complete (every candle Upbit has in them is stored,
 *     -- missing slots are intervals without trades); kept merged: rows of
 *     -- one (market, timeframe) never overlap nor touch
 *
 *   CREATE TABLE history_start(
 *     market TEXT NOT NULL, timeframe TEXT NOT NULL,
 *     first_utc TEXT NOT NULL,              -- Upbit serves nothing before it
 *     PRIMARY KEY (market, timeframe)) WITHOUT ROWID;
 *
 *   CREATE TABLE markets(                   -- version 2: /v1/market/all
 *     market TEXT NOT NULL PRIMARY KEY,     -- 'KRW-BTC'
 *     korean_name TEXT NOT NULL, english_name TEXT NOT NULL,
 *     warning INTEGER,                      -- market_event.warning 0/1, NULL: not given
 *     caution TEXT,                         -- market_event.caution as JSON, NULL: not given
 *     updated_utc TEXT NOT NULL) WITHOUT ROWID; -- when a list last named it
 *
 *   CREATE TABLE follows(                   -- version 3: standing follow jobs
 *     market TEXT NOT NULL, timeframe TEXT NOT NULL,
 *     backfill INTEGER NOT NULL,            -- candles before added_utc to fetch too
 *     added_utc TEXT NOT NULL,              -- when it was subscribed
 *     PRIMARY KEY (market, timeframe)) WITHOUT ROWID;
 *     -- written by the planner daemon (its own short transaction, the only
 *     -- table it writes; see planner/subs.c), read by it when it starts
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "crashpoint.h"
#include "fsutil.h"
#include "ledger.h"
#include "log.h"
#include "pgdb.h"
#include "store.h"
#include "store_pg.h"
#include "tf.h"
#include "timeutil.h"

#define KST_OFFSET_S (9 * 3600)
#define TIME_MAX_S 253402300799LL /* 9999-12-31T23:59:59, the text format's end */
#define CACHE_SIZE_KIB 32768      /* page cache bound: RSS stays flat */
/* Commits in WAL mode with synchronous=NORMAL do not sync; checkpoints do
 * (WAL, then the database). At SQLite's default of 1000 pages a checkpoint
 * and its two fdatasyncs came every ~20k candles, and on a busy disk those
 * syncs, not the inserts, bounded the rate. A larger WAL syncs 16x less
 * often; journal_size_limit truncates it back after each checkpoint. */
#define WAL_AUTOCHECKPOINT_PAGES 16384
#define WAL_SIZE_LIMIT_BYTES (64LL * 1024 * 1024)
#define PATH_LEN 4096 /* database paths, with room for ".lock" */

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS candles_exact("
    " market TEXT NOT NULL, timeframe TEXT NOT NULL,"
    " candle_date_time_utc TEXT NOT NULL, candle_date_time_kst TEXT NOT NULL,"
    " opening_price TEXT NOT NULL, high_price TEXT NOT NULL,"
    " low_price TEXT NOT NULL, trade_price TEXT NOT NULL,"
    " timestamp INTEGER NOT NULL,"
    " candle_acc_trade_price TEXT NOT NULL, candle_acc_trade_volume TEXT NOT NULL,"
    " unit INTEGER, prev_closing_price TEXT, change_price TEXT, change_rate TEXT,"
    " converted_trade_price TEXT, first_day_of_period TEXT,"
    " PRIMARY KEY (market, timeframe, candle_date_time_utc)) WITHOUT ROWID;"
    "CREATE VIEW IF NOT EXISTS candles AS SELECT market, timeframe,"
    " candle_date_time_utc, candle_date_time_kst,"
    " CAST(opening_price AS REAL) AS opening_price,"
    " CAST(high_price AS REAL) AS high_price,"
    " CAST(low_price AS REAL) AS low_price,"
    " CAST(trade_price AS REAL) AS trade_price,"
    " timestamp,"
    " CAST(candle_acc_trade_price AS REAL) AS candle_acc_trade_price,"
    " CAST(candle_acc_trade_volume AS REAL) AS candle_acc_trade_volume,"
    " unit,"
    " CAST(prev_closing_price AS REAL) AS prev_closing_price,"
    " CAST(change_price AS REAL) AS change_price,"
    " CAST(change_rate AS REAL) AS change_rate,"
    " CAST(converted_trade_price AS REAL) AS converted_trade_price,"
    " first_day_of_period FROM candles_exact;"
    "CREATE TABLE IF NOT EXISTS coverage("
    " market TEXT NOT NULL, timeframe TEXT NOT NULL,"
    " from_utc TEXT NOT NULL, to_utc TEXT NOT NULL,"
    " PRIMARY KEY (market, timeframe, from_utc)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS history_start("
    " market TEXT NOT NULL, timeframe TEXT NOT NULL, first_utc TEXT NOT NULL,"
    " PRIMARY KEY (market, timeframe)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS markets("
    " market TEXT NOT NULL PRIMARY KEY, korean_name TEXT NOT NULL,"
    " english_name TEXT NOT NULL, warning INTEGER, caution TEXT,"
    " updated_utc TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS follows("
    " market TEXT NOT NULL, timeframe TEXT NOT NULL, backfill INTEGER NOT NULL,"
    " added_utc TEXT NOT NULL, PRIMARY KEY (market, timeframe)) WITHOUT ROWID;";

static const char insert_sql[] =
    "INSERT INTO candles_exact(market, timeframe, candle_date_time_utc,"
    " candle_date_time_kst, opening_price, high_price, low_price, trade_price,"
    " timestamp, candle_acc_trade_price, candle_acc_trade_volume, unit,"
    " prev_closing_price, change_price, change_rate, converted_trade_price,"
    " first_day_of_period)"
    " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17)"
    " ON CONFLICT DO NOTHING";

/* Rows starting at or before ?3, newest first: the merge walks them while
 * they reach the new range (rows are disjoint, so it stops early), and the
 * one that could hold the whole range is among them. */
static const char cov_scan_sql[] =
    "SELECT from_utc, to_utc FROM coverage WHERE market = ?1 AND timeframe = ?2"
    " AND from_utc <= ?3 ORDER BY from_utc DESC";
static const char cov_del_sql[] = "DELETE FROM coverage WHERE market = ?1 AND timeframe = ?2"
                                  " AND from_utc >= ?3 AND from_utc <= ?4";
static const char cov_ins_sql[] =
    "INSERT INTO coverage(market, timeframe, from_utc, to_utc) VALUES(?1,?2,?3,?4)";
static const char hist_sql[] =
    "INSERT INTO history_start(market, timeframe, first_utc) VALUES(?1,?2,?3)"
    " ON CONFLICT(market, timeframe) DO UPDATE SET first_utc = excluded.first_utc";

/* Parameter index of each decimal in insert_sql, by enum candle_num. */
static const int num_param[CN_COUNT] = {
	[CN_OPEN] = 5,         [CN_HIGH] = 6,        [CN_LOW] = 7,         [CN_CLOSE] = 8,
	[CN_ACC_PRICE] = 10,   [CN_ACC_VOLUME] = 11, [CN_PREV_CLOSE] = 13, [CN_CHANGE_PRICE] = 14,
	[CN_CHANGE_RATE] = 15, [CN_CONVERTED] = 16,
};
/* Decimals the schema requires (NOT NULL). */
static const int num_required[CN_COUNT] = {
	[CN_OPEN] = 1,  [CN_HIGH] = 1,      [CN_LOW] = 1,
	[CN_CLOSE] = 1, [CN_ACC_PRICE] = 1, [CN_ACC_VOLUME] = 1,
};

/* The prepared statements, by their index in struct store. */
enum stmt {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_INSERT,
	ST_COV_SCAN,
	ST_COV_DEL,
	ST_COV_INS,
	ST_HIST,
	ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE", [ST_COMMIT] = "COMMIT",       [ST_ROLLBACK] = "ROLLBACK",
	[ST_INSERT] = insert_sql,       [ST_COV_SCAN] = cov_scan_sql, [ST_COV_DEL] = cov_del_sql,
	[ST_COV_INS] = cov_ins_sql,     [ST_HIST] = hist_sql,
};

struct store {
	struct store_pg *pg; /* a PostgreSQL --db (store_pg.c): everything goes there */
	sqlite3 *db;
	int lock_fd;
	int lock_created;            /* we made the lock file: removed if refused */
	int is_new;                  /* the database file did not exist */
	char real[PATH_LEN];         /* the file opened: symlinks resolved */
	char lockpath[PATH_LEN + 8]; /* real + ".lock" */
	sqlite3_stmt *st[ST_COUNT];
	char path[]; /* the database as given, for messages */
};

static void err_set(struct store_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
err_set(struct store_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

/* A database to be created at path: its directory must exist and be
 * writable; s->real becomes the directory's real path plus the name. */
static int
check_new(struct store *s, const char *path, struct store_err *err)
{
	char dir[PATH_LEN], rdir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	const char *name = slash != NULL ? slash + 1 : path;
	struct stat st;

	if (lstat(path, &st) == 0) {
		err_set(err, EXIT_PERMFAIL, "%s is a symbolic link to nothing", path);
		return -1;
	}
	snprintf(dir, sizeof(dir), "%.*s",
	         slash == NULL ? 1 : (int)(slash - path + (slash == path)),
	         slash == NULL ? "." : path);
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		err_set(err, EXIT_PERMFAIL,
		        "the directory %s of %s does not exist (create it first)", dir, path);
		return -1;
	}
	if (access(dir, W_OK | X_OK) == -1 || realpath(dir, rdir) == NULL) {
		err_set(err, EXIT_PERMFAIL, "cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	if (*name == '\0' ||
	    snprintf(s->real, sizeof(s->real), "%s/%s", strcmp(rdir, "/") == 0 ? "" : rdir, name) >=
	        (int)sizeof(s->real) - 16) {
		err_set(err, EXIT_PERMFAIL, "not a database file name: %s", path);
		return -1;
	}
	s->is_new = 1;
	return 0;
}

/* Resolves the database path into s->real: a regular file we may read and
 * write (symlinks followed), or a new file in an existing directory.
 * Nothing is created. 0, or -1 with err filled (always permanent). */
static int
resolve_path(struct store *s, struct store_err *err)
{
	char real[PATH_MAX];
	struct stat st;

	if (strlen(s->path) >= PATH_LEN - 16) {
		err_set(err, EXIT_PERMFAIL, "database path too long: %s", s->path);
		return -1;
	}
	if (stat(s->path, &st) == -1) {
		if (errno == ENOENT)
			return check_new(s, s->path, err);
		err_set(err, EXIT_PERMFAIL, "cannot use %s: %s", s->path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set(err, EXIT_PERMFAIL, "%s is %s, not a database file", s->path,
		        fs_type_name(st.st_mode));
		return -1;
	}
	if (access(s->path, R_OK | W_OK) == -1 || realpath(s->path, real) == NULL ||
	    snprintf(s->real, sizeof(s->real), "%s", real) >= (int)sizeof(s->real) - 16) {
		err_set(err, EXIT_PERMFAIL, "cannot read and write %s: %s", s->path,
		        strerror(errno));
		return -1;
	}
	return 0;
}

/* The pid another writer wrote into its lock file, or 0. */
static long
holder_pid(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

/* fd is still the file at lockpath (not one a refusing writer unlinked). */
static int
same_file(int fd, const char *lockpath)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && stat(lockpath, &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

/* Opens lockpath, creating it if missing (*created = 1). fd or -1. */
static int
open_lock(const char *lockpath, int *created)
{
	int fd = open(lockpath, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);

	*created = fd != -1;
	if (fd == -1 && errno == EEXIST)
		fd = open(lockpath, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	return fd;
}

/* Reports the holder of a lock held by another writer. */
static void
lock_held(int fd, const char *path, const char *lockpath, struct store_err *err)
{
	long pid = holder_pid(fd);

	if (pid > 0)
		err_set(err, EXIT_PERMFAIL,
		        "another writer is running on %s (pid %ld, lock %s held)", path, pid,
		        lockpath);
	else
		err_set(err, EXIT_PERMFAIL, "another writer is running on %s (lock %s held)", path,
		        lockpath);
}

int
store_lock(const char *path, int *created, struct store_err *err)
{
	char lockpath[PATH_LEN], pid[32];
	int fd, tries;

	*created = 0;
	if (snprintf(lockpath, sizeof(lockpath), "%s.lock", path) >= (int)sizeof(lockpath)) {
		err_set(err, EXIT_PERMFAIL, "database path too long: %s", path);
		return -1;
	}
	for (tries = 0; tries < 3; tries++) {
		if ((fd = open_lock(lockpath, created)) == -1) {
			err_set(err, EXIT_PERMFAIL, "cannot open %s: %s", lockpath,
			        strerror(errno));
			return -1;
		}
		/* LOCK_NB: no EINTR to retry */
		if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
			if (errno == EWOULDBLOCK)
				lock_held(fd, path, lockpath, err);
			else
				err_set(err, EXIT_PERMFAIL, "cannot lock %s: %s", lockpath,
				        strerror(errno));
			close(fd);
			return -1;
		}
		if (same_file(fd, lockpath))
			break;
		close(fd);
		fd = -1;
	}
	if (fd == -1) {
		err_set(err, EXIT_TEMPFAIL, "cannot hold %s: it keeps being replaced", lockpath);
		return -1;
	}
	/* the pid names us to a second writer; without it the message has none */
	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, strlen(pid), 0) == -1)
		log_debug("%s: %s", lockpath, strerror(errno));
	return fd;
}

/* The rows of the PRAGMAs run at open time (exec_row). */
struct open_info {
	char journal_mode[16];
};

/* sqlite3_exec callback: every PRAGMA row is one named column. */
static int
exec_row(void *arg, int ncol, char **val, char **name)
{
	struct open_info *oi = arg;

	(void)ncol;
	if (strcmp(name[0], "journal_mode") == 0)
		snprintf(oi->journal_mode, sizeof(oi->journal_mode), "%s", val[0]);
	return 0;
}

/* Runs sql, PRAGMA rows into oi; 0 or -1 with err filled. */
static int
exec(struct store *s, const char *sql, struct open_info *oi, struct store_err *err)
{
	char *msg = NULL;
	int rc = sqlite3_exec(s->db, sql, exec_row, oi, &msg);

	if (rc != SQLITE_OK) {
		err_set(err, ledger_exit_code(rc), "%s: %s", s->path,
		        msg != NULL ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* Judges a schema: 0 if it may be opened read-write, else -1 (err). */
static int
schema_accept(const struct store *s, const struct ledger_schema *sc, struct store_err *err)
{
	char why[LEDGER_WHY_MAX];

	if (sc->kind == LEDGER_EMPTY || sc->kind == LEDGER_OURS)
		return 0;
	ledger_schema_why(sc, s->path, why, sizeof(why));
	err_set(err, EXIT_PERMFAIL, "%s", why);
	return -1;
}

/* Reads the schema of an existing file without writing anything (no WAL
 * switch, no -shm, no hot-journal rollback) and judges it. 0 or -1. */
static int
precheck(struct store *s, struct store_err *err)
{
	char journal[PATH_LEN + 16], why[LEDGER_WHY_MAX];
	struct ledger_schema sc;
	struct stat st;
	sqlite3 *db;
	int rc;

	/* made by a writer that held the lock before us: judge it too */
	if (s->is_new && lstat(s->real, &st) == -1)
		return 0;
	s->is_new = 0;
	snprintf(journal, sizeof(journal), "%s-journal", s->real);
	if (lstat(journal, &st) == 0) {
		err_set(err, EXIT_PERMFAIL,
		        "%s has a rollback journal (%s): another program is writing it;"
		        " refusing to touch it",
		        s->path, journal);
		return -1;
	}
	db = ledger_open_uri(s->real, !ledger_wal_exists(s->real), &rc, why, sizeof(why));
	if (db == NULL) {
		err_set(err, ledger_exit_code(rc), "cannot open %s: %s", s->path, why);
		return -1;
	}
	rc = ledger_schema_read(db, &sc);
	if (rc != SQLITE_OK)
		err_set(err, ledger_exit_code(rc), "cannot read the schema of %s: %s", s->path,
		        sqlite3_errmsg(db));
	sqlite3_close(db);
	return rc == SQLITE_OK ? schema_accept(s, &sc, err) : -1;
}

static int
open_db(struct store *s, struct store_err *err)
{
	int flags =
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (s->is_new ? SQLITE_OPEN_CREATE : 0);
	int rc = sqlite3_open_v2(s->real, &s->db, flags, NULL);

	if (rc != SQLITE_OK) {
		/* s->db is NULL only when out of memory, and errmsg says so */
		err_set(err, ledger_exit_code(rc), "cannot open %s: %s", s->path,
		        sqlite3_errmsg(s->db));
		return -1;
	}
	if (sqlite3_db_readonly(s->db, "main") == 1) {
		err_set(err, EXIT_PERMFAIL, "cannot write %s: permission denied", s->path);
		return -1;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
	return 0;
}

/* Switches to WAL, tunes the connection, opens the schema transaction,
 * judges the schema again inside it (nothing can change it now) and
 * creates, upgrades or completes it. The caller commits once the
 * statements prepare; closing the connection rolls it back. */
static int
schema_setup(struct store *s, struct store_err *err)
{
	char sql[sizeof(schema_sql) + 256];
	struct open_info oi = { "" };
	struct ledger_schema sc;
	int rc;

	snprintf(sql, sizeof(sql),
	         "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-%d;"
	         " PRAGMA temp_store=MEMORY; PRAGMA wal_autocheckpoint=%d;"
	         " PRAGMA journal_size_limit=%lld; BEGIN IMMEDIATE",
	         CACHE_SIZE_KIB, WAL_AUTOCHECKPOINT_PAGES, WAL_SIZE_LIMIT_BYTES);
	if (exec(s, sql, &oi, err) == -1)
		return -1;
	if (strcmp(oi.journal_mode, "wal") != 0) {
		err_set(err, EXIT_PERMFAIL, "%s: cannot switch to WAL (journal_mode is %s)",
		        s->path, oi.journal_mode);
		return -1;
	}
	if ((rc = ledger_schema_read(s->db, &sc)) != SQLITE_OK) {
		err_set(err, ledger_exit_code(rc), "%s: %s", s->path, sqlite3_errmsg(s->db));
		return -1;
	}
	if (schema_accept(s, &sc, err) == -1)
		return -1;
	if (sc.kind == LEDGER_OURS && sc.version < LEDGER_SCHEMA_VERSION)
		log_info("%s: upgrading schema version %ld to %d", s->path, sc.version,
		         LEDGER_SCHEMA_VERSION);
	snprintf(sql, sizeof(sql), "%sPRAGMA user_version = %d", schema_sql, LEDGER_SCHEMA_VERSION);
	return exec(s, sql, &oi, err);
}

static int
prepare_all(struct store *s, struct store_err *err)
{
	int i;

	for (i = 0; i < ST_COUNT; i++) {
		if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
		                       NULL) != SQLITE_OK) {
			err_set(err, EXIT_PERMFAIL, "schema of %s does not match this writer: %s",
			        s->path, sqlite3_errmsg(s->db));
			return -1;
		}
	}
	return 0;
}

/* Takes the lock beside the real file. 0 or -1. */
static int
take_lock(struct store *s, struct store_err *err)
{
	s->lock_fd = store_lock(s->real, &s->lock_created, err);
	snprintf(s->lockpath, sizeof(s->lockpath), "%s.lock", s->real);
	return s->lock_fd == -1 ? -1 : 0;
}

struct store *
store_open(const char *path, struct store_err *err)
{
	struct store *s = calloc(1, sizeof(*s) + strlen(path) + 1);

	err->code = 0;
	err->msg[0] = '\0';
	if (s == NULL) {
		err_set(err, EXIT_TEMPFAIL, "out of memory");
		return NULL;
	}
	strcpy(s->path, path);
	s->lock_fd = -1;
	if (pgdb_is_uri(path)) {
		/* no path, no lock file: several writers may share the server */
		if ((s->pg = store_pg_open(path, err)) == NULL)
			store_close(&s);
		return s;
	}
	if (resolve_path(s, err) == -1 || take_lock(s, err) == -1 || precheck(s, err) == -1 ||
	    open_db(s, err) == -1 || schema_setup(s, err) == -1 || prepare_all(s, err) == -1 ||
	    exec(s, "COMMIT", NULL, err) == -1) {
		/* a refused file keeps no lock file of ours beside it */
		if (s->lock_created)
			unlink(s->lockpath);
		store_close(&s);
	}
	return s;
}

void
store_close(struct store **sp)
{
	struct store *s = *sp;
	int i;

	if (s == NULL)
		return;
	store_pg_close(&s->pg);
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	/* Cannot be busy once every statement is finalized; an open
	 * transaction is rolled back. */
	sqlite3_close(s->db);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	free(s);
	*sp = NULL;
}

/* Steps a statement that returns no rows, then resets it. SQLite code. */
static int
run(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int
store_conn_lost(const struct store *s)
{
	return s->pg != NULL && store_pg_lost(s->pg);
}

int
store_reconnect(struct store *s, struct store_err *err)
{
	if (s->pg == NULL) {
		err->code = EXIT_TEMPFAIL;
		snprintf(err->msg, sizeof(err->msg), "%s: no connection to restore", s->path);
		return -1;
	}
	return store_pg_reconnect(s->pg, err);
}

int
store_begin(struct store *s)
{
	if (s->pg != NULL)
		return store_pg_begin(s->pg);
	if (FAILPOINT("writer_begin") || run(s->st[ST_BEGIN]) != SQLITE_OK) {
		log_warnx("BEGIN on %s: %s", s->path, sqlite3_errmsg(s->db));
		return -1;
	}
	return 0;
}

int
store_commit(struct store *s)
{
	if (s->pg != NULL)
		return store_pg_commit(s->pg);
	if (run(s->st[ST_COMMIT]) != SQLITE_OK) {
		log_warnx("COMMIT on %s: %s", s->path, sqlite3_errmsg(s->db));
		return -1;
	}
	return 0;
}

void
store_rollback(struct store *s)
{
	/* After some errors SQLite has already rolled back by itself. ROLLBACK
	 * of a WAL transaction only drops pages from the cache: it cannot fail. */
	if (s->pg != NULL)
		store_pg_rollback(s->pg);
	else if (!sqlite3_get_autocommit(s->db))
		run(s->st[ST_ROLLBACK]);
}

static int reject(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Puts the reason for a rejection in why; returns -1. */
static int
reject(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -1;
}

/* The chunk fields of a result: 0, or -1 with the reason in why. */
static int
check_chunk(const struct msg_result *r, char *why, size_t whylen)
{
	const struct chunk_info *ci = &r->ci;

	if (ci->tf >= TF_COUNT)
		return reject(why, whylen, "unknown timeframe %u", ci->tf);
	if (memchr(ci->market, '\0', sizeof(ci->market)) == NULL || ci->market[0] == '\0')
		return reject(why, whylen, "bad market");
	if (ci->to <= 0 || ci->to > TIME_MAX_S)
		return reject(why, whylen, "to %lld out of range", (long long)ci->to);
	if (ci->effective_end < 0 || ci->effective_end > ci->to)
		return reject(why, whylen, "effective_end %lld not in [0, to %lld]",
		              (long long)ci->effective_end, (long long)ci->to);
	if (ci->history_end && ci->received && (ci->oldest < 0 || ci->oldest >= ci->to))
		return reject(why, whylen, "history ends at oldest %lld, not before to %lld",
		              (long long)ci->oldest, (long long)ci->to);
	if (r->ncandles > CANDLE_MAX_PER_RESPONSE || (r->ncandles > 0 && r->candles == NULL))
		return reject(why, whylen, "%u candles", r->ncandles);
	return 0;
}

/* Candle i of a result asking for to: 0, or -1 with the reason in why. A
 * slot is closed when start + one slot <= now; for an aligned start that is
 * "start < closed_before", the start of the slot holding now. */
static int
check_candle(const struct candle *c, size_t i, enum tf tf, int64_t to, int64_t closed_before,
             char *why, size_t whylen)
{
	char a[TIME_TEXT_LEN], b[TIME_TEXT_LEN];
	int k;

	time_format(c->start, a);
	time_format(to, b);
	if (c->start < 0 || c->start >= to)
		return reject(why, whylen, "candle %zu starts at %sZ, not before to %sZ", i, a, b);
	if (!tf_aligned(tf, c->start))
		return reject(why, whylen, "candle %zu start %sZ not aligned to %s", i, a,
		              tf_name(tf));
	if (c->start >= closed_before)
		return reject(why, whylen, "candle %zu at %sZ is still forming", i, a);
	if (memchr(c->first_day, '\0', sizeof(c->first_day)) == NULL)
		return reject(why, whylen, "candle %zu first_day unterminated", i);
	for (k = 0; k < CN_COUNT; k++) {
		if (memchr(c->num[k], '\0', CANDLE_NUM_MAX) == NULL ||
		    (num_required[k] && c->num[k][0] == '\0'))
			return reject(why, whylen, "candle %zu decimal %d missing or unterminated",
			              i, k);
	}
	return 0;
}

int
store_check_result(const struct msg_result *r, int64_t now, char *why, size_t whylen)
{
	enum tf tf = (enum tf)r->ci.tf;
	int64_t closed_before;
	size_t i;

	if (check_chunk(r, why, whylen) == -1)
		return -1;
	closed_before = tf_floor(tf, now);
	for (i = 0; i < r->ncandles; i++) {
		if (check_candle(&r->candles[i], i, tf, r->ci.to, closed_before, why, whylen) == -1)
			return -1;
	}
	return 0;
}

void
store_proven_range(const struct chunk_info *ci, int64_t now, int64_t *from, int64_t *to)
{
	int64_t limit = tf_floor((enum tf)ci->tf, now);

	*from = ci->history_end ? 0 : ci->effective_end;
	*to = ci->to < limit ? ci->to : limit;
	if (*from > *to)
		*from = *to;
}

static int
insert_candles(struct store *s, const struct msg_result *r, const char *tfname,
               uint16_t *new_candles)
{
	sqlite3_stmt *st = s->st[ST_INSERT];
	const struct chunk_info *ci = &r->ci;
	char utc[TIME_TEXT_LEN], kst[TIME_TEXT_LEN];
	unsigned n = 0;
	size_t i;
	int k, rc = SQLITE_OK;

	/* Bindings survive sqlite3_reset: bind the per-result ones once. */
	sqlite3_bind_text(st, 1, ci->market, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, tfname, -1, SQLITE_STATIC);
	/* Upbit lists newest first; inserting oldest first appends inside a
	 * page instead of splitting it, so pages stay full (a third less file
	 * and WAL traffic in the benchmark). */
	for (i = 0; i < r->ncandles; i++) {
		const struct candle *c = &r->candles[r->ncandles - 1 - i];

		time_format(c->start, utc);
		time_format(c->start + KST_OFFSET_S, kst);
		sqlite3_bind_text(st, 3, utc, TIME_TEXT_LEN - 1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, kst, TIME_TEXT_LEN - 1, SQLITE_STATIC);
		for (k = 0; k < CN_COUNT; k++) {
			if (c->num[k][0] == '\0')
				sqlite3_bind_null(st, num_param[k]);
			else
				sqlite3_bind_text(st, num_param[k], c->num[k], -1, SQLITE_STATIC);
		}
		sqlite3_bind_int64(st, 9, c->timestamp_ms);
		if (c->unit != 0)
			sqlite3_bind_int(st, 12, c->unit);
		else
			sqlite3_bind_null(st, 12);
		if (c->first_day[0] != '\0')
			sqlite3_bind_text(st, 17, c->first_day, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 17);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			break;
		rc = SQLITE_OK;
		n += (unsigned)sqlite3_changes(s->db);
	}
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_OK) {
		log_warnx("insert into %s: %s", s->path, sqlite3_errmsg(s->db));
		return -1;
	}
	*new_candles = (uint16_t)n;
	return 0;
}

static void
bind_key(sqlite3_stmt *st, const char *market, const char *tfname)
{
	sqlite3_bind_text(st, 1, market, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, tfname, -1, SQLITE_STATIC);
}

/* Copies a time text column into out; 0, or -1 if it is not one. */
static int
column_time(sqlite3_stmt *st, int col, char out[TIME_TEXT_LEN])
{
	const unsigned char *t = sqlite3_column_text(st, col);

	if (t == NULL || sqlite3_column_bytes(st, col) != TIME_TEXT_LEN - 1)
		return -1;
	memcpy(out, t, TIME_TEXT_LEN);
	return 0;
}

/* A range [from, to) being recorded: its merge with the coverage rows it
 * overlaps or touches is [lo, hi), replacing rows starting in [del_lo, to]. */
struct merge {
	char from[TIME_TEXT_LEN], to[TIME_TEXT_LEN];
	char lo[TIME_TEXT_LEN], hi[TIME_TEXT_LEN], del_lo[TIME_TEXT_LEN];
	int rows;      /* rows merged */
	int duplicate; /* one row already holds all of [from, to) */
};

/* Walks the rows starting at or before m->to, newest first, while they
 * reach m->from (overlapping or adjacent). 0, or -1 if SQLite failed. */
static int
cov_scan(struct store *s, const char *market, const char *tfname, struct merge *m)
{
	sqlite3_stmt *st = s->st[ST_COV_SCAN];
	char rfrom[TIME_TEXT_LEN], rto[TIME_TEXT_LEN];
	int rc;

	bind_key(st, market, tfname);
	sqlite3_bind_text(st, 3, m->to, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (column_time(st, 0, rfrom) == -1 || column_time(st, 1, rto) == -1) {
			log_warnx("%s: malformed coverage row of %s %s skipped", s->path, market,
			          tfname);
			continue;
		}
		if (strcmp(rto, m->from) < 0)
			break;
		/* a row that holds it all (the rows reached before it only touch
		 * it, at its `to`): nothing to write */
		if (strcmp(rfrom, m->from) <= 0 && strcmp(rto, m->to) >= 0) {
			m->duplicate = 1;
			break;
		}
		if (strcmp(rfrom, m->lo) < 0)
			memcpy(m->lo, rfrom, TIME_TEXT_LEN);
		if (strcmp(rto, m->hi) > 0)
			memcpy(m->hi, rto, TIME_TEXT_LEN);
		memcpy(m->del_lo, rfrom, TIME_TEXT_LEN);
		m->rows++;
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* Replaces the merged rows by [lo, hi). 0, or -1 if SQLite failed. */
static int
cov_replace(struct store *s, const char *market, const char *tfname, const struct merge *m)
{
	sqlite3_stmt *del = s->st[ST_COV_DEL], *ins = s->st[ST_COV_INS];

	if (m->rows > 0) {
		bind_key(del, market, tfname);
		sqlite3_bind_text(del, 3, m->del_lo, -1, SQLITE_STATIC);
		sqlite3_bind_text(del, 4, m->to, -1, SQLITE_STATIC);
		if (run(del) != SQLITE_OK)
			return -1;
	}
	bind_key(ins, market, tfname);
	sqlite3_bind_text(ins, 3, m->lo, -1, SQLITE_STATIC);
	sqlite3_bind_text(ins, 4, m->hi, -1, SQLITE_STATIC);
	return run(ins) == SQLITE_OK ? 0 : -1;
}

/* Records [from, to) as covered, merging with overlapping or adjacent rows.
 * *duplicate = 1 if one row already held all of it. 0 or -1 (logged). */
static int
cover(struct store *s, const char *market, const char *tfname, int64_t from, int64_t to,
      uint8_t *duplicate)
{
	struct merge m;

	memset(&m, 0, sizeof(m));
	time_format(from, m.from);
	time_format(to, m.to);
	memcpy(m.lo, m.from, TIME_TEXT_LEN);
	memcpy(m.hi, m.to, TIME_TEXT_LEN);
	if (cov_scan(s, market, tfname, &m) == -1 ||
	    (!m.duplicate && cov_replace(s, market, tfname, &m) == -1)) {
		log_warnx("coverage of %s %s in %s: %s", market, tfname, s->path,
		          sqlite3_errmsg(s->db));
		return -1;
	}
	*duplicate = (uint8_t)m.duplicate;
	return 0;
}

enum store_status
store_put_result(struct store *s, const struct msg_result *r, int64_t now,
                 struct store_outcome *out)
{
	const struct chunk_info *ci = &r->ci;
	const char *tfname;
	char why[160], first[TIME_TEXT_LEN];
	int64_t from, to;
	uint16_t new_candles = 0;
	uint8_t duplicate = 0;

	if (s->pg != NULL)
		return store_pg_put_result(s->pg, r, now, out);
	if (store_check_result(r, now, why, sizeof(why)) == -1) {
		log_warnx("result of chunk %llu (%.*s %s) rejected: %s", (unsigned long long)ci->id,
		          MARKET_MAX, ci->market,
		          ci->tf < TF_COUNT ? tf_name((enum tf)ci->tf) : "?", why);
		return STORE_REJECTED;
	}
	tfname = tf_name((enum tf)ci->tf);
	if (insert_candles(s, r, tfname, &new_candles) == -1)
		return STORE_ERROR;

	store_proven_range(ci, now, &from, &to);
	if (from < to && cover(s, ci->market, tfname, from, to, &duplicate) == -1)
		return STORE_ERROR;

	if (ci->history_end) {
		time_format(ci->received ? ci->oldest : ci->to, first);
		bind_key(s->st[ST_HIST], ci->market, tfname);
		sqlite3_bind_text(s->st[ST_HIST], 3, first, -1, SQLITE_STATIC);
		if (run(s->st[ST_HIST]) != SQLITE_OK) {
			log_warnx("history_start of %s %s in %s: %s", ci->market, tfname, s->path,
			          sqlite3_errmsg(s->db));
			return STORE_ERROR;
		}
	}
	out->new_candles = new_candles;
	out->duplicate = duplicate;
	out->cov_from = from;
	out->cov_to = to;
	return STORE_OK;
}

#define MARKETS_FILE_MAX (64L * 1024 * 1024)

/* The whole of file into a malloc'd buffer (*len bytes). 0 or -1 (err). */
static int
read_file(const char *file, char **buf, long *len, struct store_err *err)
{
	FILE *f = fopen(file, "rb");
	struct stat st;

	*buf = NULL;
	if (f == NULL || fstat(fileno(f), &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > MARKETS_FILE_MAX) {
		err_set(err, EXIT_PERMFAIL, "--markets-file %s: %s", file,
		        f == NULL                       ? strerror(errno)
		        : st.st_size > MARKETS_FILE_MAX ? "larger than 64 MiB"
		                                        : "not a regular file");
		goto fail;
	}
	*len = (long)st.st_size;
	if ((*buf = malloc((size_t)*len + 1)) == NULL ||
	    fread(*buf, 1, (size_t)*len, f) != (size_t)*len) {
		err_set(err, *buf == NULL ? EXIT_TEMPFAIL : EXIT_PERMFAIL,
		        "--markets-file %s: cannot read it", file);
		goto fail;
	}
	(*buf)[*len] = '\0';
	fclose(f);
	return 0;
fail:
	free(*buf);
	*buf = NULL;
	if (f != NULL)
		fclose(f);
	return -1;
}

/* The first thing wrong with the JSON text, as a reason; NULL if none. */
static const char markets_check_sql[] =
    "SELECT CASE WHEN NOT json_valid(?1) THEN 'is not valid JSON'"
    " WHEN json_type(?1) != 'array' THEN 'is not a JSON array' END";
static const char markets_elem_sql[] =
    "SELECT key, CASE WHEN type = 'object' THEN ifnull(json_extract(value, '$.market'), '?')"
    " ELSE '?' END, CASE"
    " WHEN type != 'object' THEN 'is not an object'"
    " WHEN json_type(value, '$.market') IS NOT 'text' OR json_extract(value, '$.market') = ''"
    "  THEN 'has no market code'"
    " WHEN json_type(value, '$.korean_name') IS NOT 'text' THEN 'has no text korean_name'"
    " WHEN json_type(value, '$.english_name') IS NOT 'text' THEN 'has no text english_name'"
    " WHEN ifnull(json_type(value, '$.market_event'), 'object') != 'object'"
    "  THEN 'has a market_event that is not an object'"
    " WHEN ifnull(json_type(value, '$.market_event.warning'), 'true') NOT IN ('true', 'false')"
    "  THEN 'has a market_event.warning that is not true or false'"
    " WHEN ifnull(json_type(value, '$.market_event.caution'), 'object') != 'object'"
    "  THEN 'has a market_event.caution that is not an object'"
    " END AS why FROM json_each(?1) WHERE why IS NOT NULL LIMIT 1";
static const char markets_upsert_sql[] =
    "INSERT INTO markets(market, korean_name, english_name, warning, caution, updated_utc)"
    " SELECT json_extract(value, '$.market'), json_extract(value, '$.korean_name'),"
    " json_extract(value, '$.english_name'), json_extract(value, '$.market_event.warning'),"
    " json_extract(value, '$.market_event.caution'), ?2 FROM json_each(?1) WHERE true"
    " ON CONFLICT(market) DO UPDATE SET korean_name = excluded.korean_name,"
    " english_name = excluded.english_name, warning = excluded.warning,"
    " caution = excluded.caution, updated_utc = excluded.updated_utc";

/* Steps sql bound to (json, now): SQLITE_ROW, SQLITE_DONE or an error;
 * on a row, the reason (column 0 or 2) goes to why. */
static int
markets_step(struct store *s, const char *sql, const char *json, long len, const char *now,
             char *why, size_t whylen)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);

	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, json, (int)len, SQLITE_STATIC);
		if (sqlite3_bind_parameter_count(st) >= 2)
			sqlite3_bind_text(st, 2, now, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
	}
	if (rc == SQLITE_ROW && sqlite3_column_count(st) == 3)
		snprintf(why, whylen, "element %lld (%s) %s", sqlite3_column_int64(st, 0),
		         (const char *)sqlite3_column_text(st, 1),
		         (const char *)sqlite3_column_text(st, 2));
	else if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		snprintf(why, whylen, "%s", (const char *)sqlite3_column_text(st, 0));
	else if (rc == SQLITE_ROW)
		rc = SQLITE_DONE; /* no reason: fine */
	else if (rc != SQLITE_DONE)
		snprintf(why, whylen, "%s", sqlite3_errmsg(s->db));
	sqlite3_finalize(st);
	return rc;
}

long
store_load_markets(struct store *s, const char *file, int64_t now, struct store_err *err)
{
	char *json = NULL, why[STORE_ERR_MAX / 2], tnow[TIME_TEXT_LEN];
	long len = 0, n = -1;
	int rc;

	if (read_file(file, &json, &len, err) == -1)
		return -1;
	if (s->pg != NULL) {
		n = store_pg_load_markets(s->pg, json, len, now, file, err);
		goto done;
	}
	time_format(now, tnow);
	if ((rc = markets_step(s, markets_check_sql, json, len, tnow, why, sizeof(why))) !=
	        SQLITE_DONE ||
	    (rc = markets_step(s, markets_elem_sql, json, len, tnow, why, sizeof(why))) !=
	        SQLITE_DONE) {
		err_set(err, rc == SQLITE_ROW ? EXIT_PERMFAIL : ledger_exit_code(rc),
		        "--markets-file %s %s", file, why);
		goto done;
	}
	if (store_begin(s) == -1 || (rc = markets_step(s, markets_upsert_sql, json, len, tnow, why,
	                                               sizeof(why))) != SQLITE_DONE) {
		err_set(err, ledger_exit_code(rc == SQLITE_DONE ? SQLITE_BUSY : rc),
		        "markets of %s into %s: %s", file, s->path, why);
		store_rollback(s);
		goto done;
	}
	n = (long)sqlite3_changes(s->db);
	if (store_commit(s) == -1) {
		store_rollback(s);
		err_set(err, EXIT_TEMPFAIL, "markets of %s into %s: COMMIT failed", file, s->path);
		n = -1;
	}
done:
	free(json);
	return n;
}

/* Copy mode: runs sql once with the text parameters v[0..n) (NULL binds
 * NULL); *changed = 1 if it changed a row. 0 or -1 (logged). */
static int
run_once(struct store *s, const char *sql, const char *const *v, int n, int *changed)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);

	for (int i = 0; rc == SQLITE_OK && i < n; i++)
		rc = v[i] != NULL ? sqlite3_bind_text(st, i + 1, v[i], -1, SQLITE_STATIC)
		                  : sqlite3_bind_null(st, i + 1);
	if (rc == SQLITE_OK)
		rc = run(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_OK) {
		log_warnx("%s: %s", s->path, sqlite3_errmsg(s->db));
		return -1;
	}
	*changed = sqlite3_changes(s->db) > 0;
	return 0;
}

int
store_put_history(struct store *s, const char *market, const char *tf, int64_t first, int *changed)
{
	char t[TIME_TEXT_LEN];
	const char *v[3] = { market, tf, t };

	if (s->pg != NULL)
		return store_pg_put_history(s->pg, market, tf, first, changed);
	time_format(first, t);
	return run_once(
	    s,
	    "INSERT INTO history_start(market, timeframe, first_utc) VALUES (?1, ?2, ?3)"
	    " ON CONFLICT(market, timeframe) DO UPDATE SET first_utc = excluded.first_utc"
	    " WHERE first_utc IS NOT excluded.first_utc",
	    v, 3, changed);
}

int
store_put_market(struct store *s, const struct store_market *m, int *changed)
{
	const char *v[6] = { m->market,  m->korean_name, m->english_name,
		             m->warning, m->caution,     m->updated_utc };

	if (s->pg != NULL)
		return store_pg_put_market(s->pg, m, changed);
	/* json(): the compact text store_load_markets keeps */
	return run_once(s,
	                "INSERT INTO markets(market, korean_name, english_name, warning, caution,"
	                " updated_utc) VALUES (?1, ?2, ?3, CAST(?4 AS INTEGER), json(?5), ?6)"
	                " ON CONFLICT(market) DO UPDATE SET korean_name = excluded.korean_name,"
	                " english_name = excluded.english_name, warning = excluded.warning,"
	                " caution = excluded.caution, updated_utc = excluded.updated_utc"
	                " WHERE korean_name IS NOT excluded.korean_name"
	                " OR english_name IS NOT excluded.english_name"
	                " OR warning IS NOT excluded.warning OR caution IS NOT excluded.caution"
	                " OR updated_utc IS NOT excluded.updated_utc",
	                v, 6, changed);
}
