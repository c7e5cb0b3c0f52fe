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

/* The covered row that could contain a range starting at ?3. */
static const char cov_find_sql[] =
    "SELECT to_utc FROM coverage WHERE market = ?1 AND timeframe = ?2"
    " AND from_utc <= ?3 ORDER BY from_utc DESC LIMIT 1";
/* Rows starting at or before ?3, newest first: the merge walks them while
 * they reach the new range (rows are disjoint, so it stops early). */
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

struct store {
	sqlite3 *db;
	int lock_fd;
	int in_txn;
	char *path;
	sqlite3_stmt *begin, *commit, *rollback;
	sqlite3_stmt *insert, *cov_find, *cov_scan, *cov_del, *cov_ins, *hist;
};

static void err_set(struct store_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
err_set(struct store_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

/* SQLite failures that may pass on a restart; everything else is permanent. */
static int
sqlite_exit_code(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_IOERR:
	case SQLITE_FULL:
	case SQLITE_NOMEM:
	case SQLITE_INTERRUPT: return EXIT_TEMPFAIL;
	default: return EXIT_PERMFAIL;
	}
}

/* mkdir -p of the directory holding path. 0 or -1 (errno set). */
static int
make_parent_dir(const char *path)
{
	char buf[4096];
	char *slash, *p;
	size_t n = strlen(path);

	if (n >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, n + 1);
	slash = strrchr(buf, '/');
	if (slash == NULL || slash == buf)
		return 0;
	*slash = '\0';
	for (p = buf + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;

			*p = '\0';
			if (mkdir(buf, 0755) == -1 && errno != EEXIST)
				return -1;
			*p = c;
			if (c == '\0')
				break;
		}
	}
	return 0;
}

int
store_lock(const char *path, struct store_err *err)
{
	char lockpath[4096 + 8];
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
	while (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EINTR)
			continue;
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

static int
prepare(struct store *s, const char *sql, sqlite3_stmt **st, struct store_err *err)
{
	int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);

	if (rc != SQLITE_OK) {
		err_set(err, EXIT_PERMFAIL, "schema of %s does not match this writer: %s", s->path,
		        sqlite3_errmsg(s->db));
		return -1;
	}
	return 0;
}

/* Runs sql (no result rows wanted); 0 or -1 with err filled. */
static int
exec(struct store *s, const char *sql, struct store_err *err)
{
	char *msg = NULL;
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		err_set(err, sqlite_exit_code(rc), "%s: %s", s->path,
		        msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* Runs a one-row PRAGMA and copies its first column as text. */
static int
pragma_text(struct store *s, const char *sql, char *out, size_t outlen, struct store_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	out[0] = '\0';
	rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			const unsigned char *t = sqlite3_column_text(st, 0);

			snprintf(out, outlen, "%s", t ? (const char *)t : "");
			rc = SQLITE_OK;
		} else if (rc == SQLITE_DONE) {
			rc = SQLITE_OK;
		}
	}
	if (rc != SQLITE_OK)
		err_set(err, sqlite_exit_code(rc), "%s: %s: %s", s->path, sql,
		        sqlite3_errmsg(s->db));
	sqlite3_finalize(st);
	return rc == SQLITE_OK ? 0 : -1;
}

/* Creates or verifies the schema in one transaction. */
static int
schema_setup(struct store *s, struct store_err *err)
{
	char buf[64], sql[64];
	long version;

	if (exec(s, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	if (pragma_text(s, "PRAGMA user_version", buf, sizeof(buf), err) == -1)
		goto fail;
	version = strtol(buf, NULL, 10);
	if (version != 0 && version != LEDGER_SCHEMA_VERSION) {
		err_set(err, EXIT_PERMFAIL,
		        "%s has schema version %ld, this writer knows version %d only;"
		        " refusing to touch it",
		        s->path, version, LEDGER_SCHEMA_VERSION);
		goto fail;
	}
	if (exec(s, schema_sql, err) == -1)
		goto fail;
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", LEDGER_SCHEMA_VERSION);
	if (exec(s, sql, err) == -1)
		goto fail;
	if (exec(s, "COMMIT", err) == -1)
		goto fail;
	return 0;
fail:
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

struct store *
store_open(const char *path, struct store_err *err)
{
	struct store *s;
	char mode[32];
	int rc;

	if (err != NULL) {
		err->code = 0;
		err->msg[0] = '\0';
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL || (s->path = strdup(path)) == NULL) {
		err_set(err, EXIT_TEMPFAIL, "out of memory");
		free(s);
		return NULL;
	}
	s->lock_fd = -1;
	s->lock_fd = store_lock(path, err);
	if (s->lock_fd == -1)
		goto fail;

	rc = sqlite3_open_v2(
	    path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		err_set(err, sqlite_exit_code(rc), "cannot open %s: %s", path,
		        s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
	if (pragma_text(s, "PRAGMA journal_mode=WAL", mode, sizeof(mode), err) == -1)
		goto fail;
	if (strcmp(mode, "wal") != 0) {
		err_set(err, EXIT_PERMFAIL, "%s: cannot switch to WAL (journal_mode is %s)", path,
		        mode);
		goto fail;
	}
	if (exec(s, "PRAGMA synchronous=NORMAL", err) == -1)
		goto fail;
	{
		char sql[64];

		snprintf(sql, sizeof(sql), "PRAGMA cache_size=-%d", CACHE_SIZE_KIB);
		if (exec(s, sql, err) == -1 || exec(s, "PRAGMA temp_store=MEMORY", err) == -1)
			goto fail;
		snprintf(sql, sizeof(sql), "PRAGMA wal_autocheckpoint=%d",
		         WAL_AUTOCHECKPOINT_PAGES);
		if (exec(s, sql, err) == -1)
			goto fail;
		snprintf(sql, sizeof(sql), "PRAGMA journal_size_limit=%lld", WAL_SIZE_LIMIT_BYTES);
		if (pragma_text(s, sql, mode, sizeof(mode), err) == -1)
			goto fail;
	}
	if (schema_setup(s, err) == -1)
		goto fail;

	if (prepare(s, "BEGIN IMMEDIATE", &s->begin, err) == -1 ||
	    prepare(s, "COMMIT", &s->commit, err) == -1 ||
	    prepare(s, "ROLLBACK", &s->rollback, err) == -1 ||
	    prepare(s, insert_sql, &s->insert, err) == -1 ||
	    prepare(s, cov_find_sql, &s->cov_find, err) == -1 ||
	    prepare(s, cov_scan_sql, &s->cov_scan, err) == -1 ||
	    prepare(s, cov_del_sql, &s->cov_del, err) == -1 ||
	    prepare(s, cov_ins_sql, &s->cov_ins, err) == -1 ||
	    prepare(s, hist_sql, &s->hist, err) == -1)
		goto fail;
	return s;
fail:
	store_close(&s);
	return NULL;
}

void
store_close(struct store **sp)
{
	struct store *s = *sp;

	if (s == NULL)
		return;
	if (s->in_txn)
		store_rollback(s);
	sqlite3_finalize(s->begin);
	sqlite3_finalize(s->commit);
	sqlite3_finalize(s->rollback);
	sqlite3_finalize(s->insert);
	sqlite3_finalize(s->cov_find);
	sqlite3_finalize(s->cov_scan);
	sqlite3_finalize(s->cov_del);
	sqlite3_finalize(s->cov_ins);
	sqlite3_finalize(s->hist);
	if (s->db != NULL && sqlite3_close(s->db) != SQLITE_OK)
		log_warnx("closing %s: %s", s->path, sqlite3_errmsg(s->db));
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	free(s->path);
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
	int rc = run(s->begin);

	if (rc != SQLITE_OK) {
		log_warnx("BEGIN on %s: %s", s->path, sqlite3_errmsg(s->db));
		return -1;
	}
	s->in_txn = 1;
	return 0;
}

int
store_commit(struct store *s)
{
	int rc = run(s->commit);

	if (rc != SQLITE_OK) {
		log_warnx("COMMIT on %s: %s", s->path, sqlite3_errmsg(s->db));
		return -1;
	}
	s->in_txn = 0;
	return 0;
}

void
store_rollback(struct store *s)
{
	/* After some errors SQLite has already rolled back by itself. */
	if (!sqlite3_get_autocommit(s->db)) {
		int rc = run(s->rollback);

		if (rc != SQLITE_OK)
			log_warnx("ROLLBACK on %s: %s", s->path, sqlite3_errmsg(s->db));
	}
	s->in_txn = 0;
}

int
store_check_result(const struct msg_result *r, int64_t now, char *why, size_t whylen)
{
	const struct chunk_info *ci = &r->ci;
	enum tf tf = (enum tf)ci->tf;
	int64_t closed_before;
	size_t i;
	int k;

	if (ci->tf >= TF_COUNT) {
		snprintf(why, whylen, "unknown timeframe %u", ci->tf);
		return -1;
	}
	if (memchr(ci->market, '\0', sizeof(ci->market)) == NULL || ci->market[0] == '\0') {
		snprintf(why, whylen, "bad market");
		return -1;
	}
	if (ci->to <= 0 || ci->to > TIME_MAX_S) {
		snprintf(why, whylen, "to %lld out of range", (long long)ci->to);
		return -1;
	}
	if (ci->effective_end < 0 || ci->effective_end > ci->to) {
		snprintf(why, whylen, "effective_end %lld not in [0, to %lld]",
		         (long long)ci->effective_end, (long long)ci->to);
		return -1;
	}
	if (ci->history_end && ci->received && (ci->oldest < 0 || ci->oldest >= ci->to)) {
		snprintf(why, whylen, "history ends at oldest %lld, not before to %lld",
		         (long long)ci->oldest, (long long)ci->to);
		return -1;
	}
	if (r->ncandles > CANDLE_MAX_PER_RESPONSE || (r->ncandles > 0 && r->candles == NULL)) {
		snprintf(why, whylen, "%u candles", r->ncandles);
		return -1;
	}
	/* A slot is closed when start + one slot <= now; for an aligned start
	 * that is "start < start of the slot holding now" (no calendar step). */
	closed_before = tf_floor(tf, now);
	for (i = 0; i < r->ncandles; i++) {
		const struct candle *c = &r->candles[i];

		if (c->start < 0 || c->start >= ci->to) {
			snprintf(why, whylen, "candle %zu starts at %lld, not before to %lld", i,
			         (long long)c->start, (long long)ci->to);
			return -1;
		}
		if (tf_floor(tf, c->start) != c->start) {
			snprintf(why, whylen, "candle %zu start %lld not aligned to %s", i,
			         (long long)c->start, tf_name(tf));
			return -1;
		}
		if (c->start >= closed_before) {
			snprintf(why, whylen, "candle %zu at %lld is still forming (now %lld)", i,
			         (long long)c->start, (long long)now);
			return -1;
		}
		if (memchr(c->first_day, '\0', sizeof(c->first_day)) == NULL) {
			snprintf(why, whylen, "candle %zu first_day unterminated", i);
			return -1;
		}
		for (k = 0; k < CN_COUNT; k++) {
			if (memchr(c->num[k], '\0', CANDLE_NUM_MAX) == NULL ||
			    (num_required[k] && c->num[k][0] == '\0')) {
				snprintf(why, whylen,
				         "candle %zu decimal %d missing or unterminated", i, k);
				return -1;
			}
		}
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
	sqlite3_stmt *st = s->insert;
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

/* Records [from, to) as covered, merging with overlapping or adjacent rows.
 * *duplicate = 1 if one row already held all of it. 0 or -1 (logged). */
static int
cover(struct store *s, const char *market, const char *tfname, int64_t from, int64_t to,
      uint8_t *duplicate)
{
	char new_from[TIME_TEXT_LEN], new_to[TIME_TEXT_LEN];
	char lo[TIME_TEXT_LEN], hi[TIME_TEXT_LEN], del_lo[TIME_TEXT_LEN];
	char rfrom[TIME_TEXT_LEN], rto[TIME_TEXT_LEN];
	int rc, merged = 0;

	time_format(from, new_from);
	time_format(to, new_to);
	*duplicate = 0;

	/* Already covered? The only row that can hold new_from is the last one
	 * starting at or before it. */
	bind_key(s->cov_find, market, tfname);
	sqlite3_bind_text(s->cov_find, 3, new_from, -1, SQLITE_STATIC);
	rc = sqlite3_step(s->cov_find);
	if (rc == SQLITE_ROW) {
		if (column_time(s->cov_find, 0, rto) == 0 && strcmp(rto, new_to) >= 0)
			*duplicate = 1;
		rc = SQLITE_DONE;
	}
	sqlite3_reset(s->cov_find);
	if (rc != SQLITE_DONE)
		goto sqlfail;
	if (*duplicate)
		return 0;

	/* Merge: walk rows starting at or before new_to, newest first, while
	 * they reach new_from (overlapping or adjacent). */
	memcpy(lo, new_from, TIME_TEXT_LEN);
	memcpy(hi, new_to, TIME_TEXT_LEN);
	bind_key(s->cov_scan, market, tfname);
	sqlite3_bind_text(s->cov_scan, 3, new_to, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s->cov_scan)) == SQLITE_ROW) {
		if (column_time(s->cov_scan, 0, rfrom) == -1 ||
		    column_time(s->cov_scan, 1, rto) == -1) {
			log_warnx("%s: malformed coverage row of %s %s skipped", s->path, market,
			          tfname);
			continue;
		}
		if (strcmp(rto, new_from) < 0)
			break;
		if (strcmp(rfrom, lo) < 0)
			memcpy(lo, rfrom, TIME_TEXT_LEN);
		if (strcmp(rto, hi) > 0)
			memcpy(hi, rto, TIME_TEXT_LEN);
		memcpy(del_lo, rfrom, TIME_TEXT_LEN);
		merged++;
	}
	sqlite3_reset(s->cov_scan);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto sqlfail;

	if (merged > 0) {
		bind_key(s->cov_del, market, tfname);
		sqlite3_bind_text(s->cov_del, 3, del_lo, -1, SQLITE_STATIC);
		sqlite3_bind_text(s->cov_del, 4, new_to, -1, SQLITE_STATIC);
		if (run(s->cov_del) != SQLITE_OK)
			goto sqlfail;
	}
	bind_key(s->cov_ins, market, tfname);
	sqlite3_bind_text(s->cov_ins, 3, lo, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->cov_ins, 4, hi, -1, SQLITE_STATIC);
	if (run(s->cov_ins) != SQLITE_OK)
		goto sqlfail;
	return 0;
sqlfail:
	log_warnx("coverage of %s %s in %s: %s", market, tfname, s->path, sqlite3_errmsg(s->db));
	return -1;
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
		bind_key(s->hist, ci->market, tfname);
		sqlite3_bind_text(s->hist, 3, first, -1, SQLITE_STATIC);
		if (run(s->hist) != SQLITE_OK) {
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
