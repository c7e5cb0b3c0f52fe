/*
 * store.c: the writer's storage: the only read-write connection to the
 * database, its schema, the candle insert and the coverage ledger merge.
 * It owns the writer lock ("<db>.lock", flock) for as long as it is open.
 *
 * A result is written as its candles plus the range it proves, in the
 * caller's transaction, so coverage never exists without its candles
 * (reliability.md promise 3). Everything is idempotent: a repeated result
 * inserts nothing (the primary key absorbs it) and finds its range covered.
 *
 * Schema (PRAGMA user_version = 1, LEDGER_SCHEMA_VERSION). Times are TEXT
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
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "crashpoint.h"
#include "ledger.h"
#include "log.h"
#include "store.h"
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
    " PRIMARY KEY (market, timeframe)) WITHOUT ROWID;";

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
	sqlite3 *db;
	int lock_fd;
	sqlite3_stmt *st[ST_COUNT];
	char path[]; /* the database file */
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

/* SQLite failures that may pass on a restart; everything else is permanent. */
static const unsigned char sqlite_temporary[256] = {
	[SQLITE_BUSY] = 1, [SQLITE_LOCKED] = 1, [SQLITE_IOERR] = 1,
	[SQLITE_FULL] = 1, [SQLITE_NOMEM] = 1,  [SQLITE_INTERRUPT] = 1,
};

static int
sqlite_exit_code(int rc)
{
	return sqlite_temporary[rc & 0xff] ? EXIT_TEMPFAIL : EXIT_PERMFAIL;
}

/* mkdir -p of every directory above the last component of path (shorter
 * than PATH_LEN). 0 or -1 (errno set). */
static int
make_parent_dir(const char *path)
{
	char buf[PATH_LEN];
	char *p;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = strchr(buf + (buf[0] == '/'), '/'); p != NULL; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(buf, 0755) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return 0;
}

int
store_lock(const char *path, struct store_err *err)
{
	char lockpath[PATH_LEN];
	int fd;

	if (snprintf(lockpath, sizeof(lockpath), "%s.lock", path) >= (int)sizeof(lockpath)) {
		err_set(err, EXIT_PERMFAIL, "database path too long: %s", path);
		return -1;
	}
	if (make_parent_dir(path) == -1) {
		err_set(err, EXIT_PERMFAIL, "cannot create the directory of %s: %s", path,
		        strerror(errno));
		return -1;
	}
	fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd == -1) {
		err_set(err, EXIT_PERMFAIL, "cannot open %s: %s", lockpath, strerror(errno));
		return -1;
	}
	/* LOCK_NB: no EINTR to retry */
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK)
			err_set(err, EXIT_PERMFAIL,
			        "another writer is running on %s (lock %s held)", path, lockpath);
		else
			err_set(err, EXIT_PERMFAIL, "cannot lock %s: %s", lockpath,
			        strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* The rows of the PRAGMAs run at open time (exec_row). */
struct open_info {
	char journal_mode[16];
	long user_version;
};

/* sqlite3_exec callback: every PRAGMA row is one named column. */
static int
exec_row(void *arg, int ncol, char **val, char **name)
{
	struct open_info *oi = arg;

	(void)ncol;
	if (strcmp(name[0], "journal_mode") == 0)
		snprintf(oi->journal_mode, sizeof(oi->journal_mode), "%s", val[0]);
	else if (strcmp(name[0], "user_version") == 0)
		oi->user_version = strtol(val[0], NULL, 10);
	return 0;
}

/* Runs sql, PRAGMA rows into oi; 0 or -1 with err filled. */
static int
exec(struct store *s, const char *sql, struct open_info *oi, struct store_err *err)
{
	char *msg = NULL;
	int rc = sqlite3_exec(s->db, sql, exec_row, oi, &msg);

	if (rc != SQLITE_OK) {
		err_set(err, sqlite_exit_code(rc), "%s: %s", s->path,
		        msg != NULL ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int
open_db(struct store *s, struct store_err *err)
{
	int rc =
	    sqlite3_open_v2(s->path, &s->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);

	if (rc != SQLITE_OK) {
		/* s->db is NULL only when out of memory, and errmsg says so */
		err_set(err, sqlite_exit_code(rc), "cannot open %s: %s", s->path,
		        sqlite3_errmsg(s->db));
		return -1;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
	return 0;
}

/* Switches to WAL, tunes the connection, opens the schema transaction and
 * creates or verifies the schema in it. The caller commits once the
 * statements prepare; closing the connection rolls it back. */
static int
schema_setup(struct store *s, struct store_err *err)
{
	char sql[sizeof(schema_sql) + 64];
	struct open_info oi = { "", 0 };

	snprintf(sql, sizeof(sql),
	         "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-%d;"
	         " PRAGMA temp_store=MEMORY; PRAGMA wal_autocheckpoint=%d;"
	         " PRAGMA journal_size_limit=%lld; BEGIN IMMEDIATE; PRAGMA user_version",
	         CACHE_SIZE_KIB, WAL_AUTOCHECKPOINT_PAGES, WAL_SIZE_LIMIT_BYTES);
	if (exec(s, sql, &oi, err) == -1)
		return -1;
	if (strcmp(oi.journal_mode, "wal") != 0) {
		err_set(err, EXIT_PERMFAIL, "%s: cannot switch to WAL (journal_mode is %s)",
		        s->path, oi.journal_mode);
		return -1;
	}
	if (oi.user_version != 0 && oi.user_version != LEDGER_SCHEMA_VERSION) {
		err_set(err, EXIT_PERMFAIL,
		        "%s has schema version %ld, this writer knows version %d only;"
		        " refusing to touch it",
		        s->path, oi.user_version, LEDGER_SCHEMA_VERSION);
		return -1;
	}
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
	s->lock_fd = store_lock(path, err);
	if (s->lock_fd == -1 || open_db(s, err) == -1 || schema_setup(s, err) == -1 ||
	    prepare_all(s, err) == -1 || exec(s, "COMMIT", NULL, err) == -1)
		store_close(&s);
	return s;
}

void
store_close(struct store **sp)
{
	struct store *s = *sp;
	int i;

	if (s == NULL)
		return;
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
store_begin(struct store *s)
{
	if (FAILPOINT("writer_begin") || run(s->st[ST_BEGIN]) != SQLITE_OK) {
		log_warnx("BEGIN on %s: %s", s->path, sqlite3_errmsg(s->db));
		return -1;
	}
	return 0;
}

int
store_commit(struct store *s)
{
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
	if (!sqlite3_get_autocommit(s->db))
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
	int k;

	if (c->start < 0 || c->start >= to)
		return reject(why, whylen, "candle %zu starts at %lld, not before to %lld", i,
		              (long long)c->start, (long long)to);
	if (tf_floor(tf, c->start) != c->start)
		return reject(why, whylen, "candle %zu start %lld not aligned to %s", i,
		              (long long)c->start, tf_name(tf));
	if (c->start >= closed_before)
		return reject(why, whylen, "candle %zu at %lld is still forming", i,
		              (long long)c->start);
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
