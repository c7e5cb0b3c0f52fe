/*
 * store_test.c: the writer's storage (writer/store.c) against temporary
 * database files: schema and version, exact and REAL read-back, idempotence,
 * every coverage merge case, history start, the forming-candle guard, the
 * writer lock, the refusals at open time (foreign, unreachable or full
 * files), SQLite failing inside a transaction (triggers, a corrupt page, a
 * full disk: nothing half written, the same result then written whole),
 * and an insert-rate measurement (printed, never asserted).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <signal.h>
#include <sqlite3.h>

#include "ledger.h"
#include "log.h"
#include "proto.h"
#include "store.h"
#include "tf.h"
#include "timeutil.h"

#define MIN 60
/* 2024-01-01T00:00:00Z: a fixed, aligned base far from "now". */
#define T0 1704067200LL

static char tmpdir[256];
static char dbpath[512];
static struct candle cbuf[CANDLE_MAX_PER_RESPONSE];

static int
setup(void **state)
{
	const char *base = getenv("TMPDIR");
	static int seq;

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/store_test.XXXXXX", base ? base : "/tmp");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(dbpath, sizeof(dbpath), "%s/t%d.db", tmpdir, seq++);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[600];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static sqlite3 *
ro(void)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	return db;
}

/* First column of the first row of sql as text ("" for none, "NULL"). */
static void
q(sqlite3 *db, const char *sql, char *out, size_t outlen)
{
	sqlite3_stmt *st = NULL;
	int rc;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	rc = sqlite3_step(st);
	out[0] = '\0';
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);

		snprintf(out, outlen, "%s", t ? (const char *)t : "NULL");
	} else {
		assert_int_equal(rc, SQLITE_DONE);
	}
	sqlite3_finalize(st);
}

static long long
qint(sqlite3 *db, const char *sql)
{
	char buf[64];

	q(db, sql, buf, sizeof(buf));
	return strtoll(buf, NULL, 10);
}

/* Coverage rows of (market, tf) as "from..to;" text. */
static void
coverage_dump(const char *market, const char *tf, char *out, size_t outlen)
{
	sqlite3 *db = ro();
	sqlite3_stmt *st = NULL;
	size_t n = 0;

	out[0] = '\0';
	assert_int_equal(
	    sqlite3_prepare_v2(
	        db,
	        "SELECT from_utc, to_utc FROM coverage WHERE market = ?1 AND timeframe = ?2"
	        " ORDER BY from_utc",
	        -1, &st, NULL),
	    SQLITE_OK);
	sqlite3_bind_text(st, 1, market, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, tf, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW)
		n += (size_t)snprintf(out + n, outlen - n, "%s..%s;",
		                      (const char *)sqlite3_column_text(st, 0),
		                      (const char *)sqlite3_column_text(st, 1));
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void
fill_candle(struct candle *c, int64_t start, int i)
{
	memset(c, 0, sizeof(*c));
	c->start = start;
	c->timestamp_ms = start * 1000 + 59123;
	c->unit = 1;
	snprintf(c->num[CN_OPEN], CANDLE_NUM_MAX, "%d.00000000", 162483000 + i);
	snprintf(c->num[CN_HIGH], CANDLE_NUM_MAX, "%d.00000000", 162500000 + i);
	snprintf(c->num[CN_LOW], CANDLE_NUM_MAX, "%d.00000000", 162400000 + i);
	snprintf(c->num[CN_CLOSE], CANDLE_NUM_MAX, "%d.00000000", 162450000 + i);
	snprintf(c->num[CN_ACC_PRICE], CANDLE_NUM_MAX, "123456789.12345678");
	snprintf(c->num[CN_ACC_VOLUME], CANDLE_NUM_MAX, "0.75964122");
}

/* A result for KRW-BTC 1m asking to=to: n candles at to-1, to-2, ... slots,
 * proving [effective_end, to). */
static void
make_result(struct msg_result *r, const char *market, enum tf tf, int64_t to, int n,
            int64_t effective_end)
{
	int i;

	memset(r, 0, sizeof(*r));
	r->ci.id = (uint64_t)to;
	r->ci.tf = (uint8_t)tf;
	snprintf(r->ci.market, sizeof(r->ci.market), "%s", market);
	r->ci.to = to;
	r->ci.count = 200;
	r->ci.received = (uint16_t)n;
	r->ci.effective_end = effective_end;
	r->ci.newest = n ? tf_add(tf, to, -1) : 0;
	r->ci.oldest = n ? tf_add(tf, to, -n) : 0;
	r->bytes = 1000;
	r->ncandles = (uint16_t)n;
	r->candles = cbuf;
	for (i = 0; i < n; i++)
		fill_candle(&cbuf[i], tf_add(tf, to, -(i + 1)), i);
}

/* Puts r in its own transaction; returns the status. */
static enum store_status
put1(struct store *s, const struct msg_result *r, struct store_outcome *out)
{
	enum store_status st;

	assert_int_equal(store_begin(s), 0);
	st = store_put_result(s, r, time_now(), out);
	if (st == STORE_ERROR) {
		store_rollback(s);
		return st;
	}
	assert_int_equal(store_commit(s), 0);
	return st;
}

/* Records [from, to) of KRW-BTC 1m with an empty response body. */
static struct store_outcome
cover(struct store *s, int64_t from, int64_t to)
{
	struct msg_result r;
	struct store_outcome out;

	make_result(&r, "KRW-BTC", TF_1M, to, 0, from);
	memset(&out, 0, sizeof(out));
	assert_int_equal(put1(s, &r, &out), STORE_OK);
	return out;
}

static struct store *
open_ok(void)
{
	struct store_err err;
	struct store *s = store_open(dbpath, &err);

	if (s == NULL)
		fail_msg("store_open: %s", err.msg);
	return s;
}

static void
test_schema(void **state)
{
	struct store *s;
	sqlite3 *db;
	char buf[64];

	(void)state;
	s = open_ok();
	db = ro();
	assert_int_equal(qint(db, "PRAGMA user_version"), LEDGER_SCHEMA_VERSION);
	q(db, "PRAGMA journal_mode", buf, sizeof(buf));
	assert_string_equal(buf, "wal");
	assert_int_equal(qint(db,
	                      "SELECT count(*) FROM sqlite_master WHERE name IN"
	                      " ('candles_exact','candles','coverage','history_start','markets')"),
	                 5);
	q(db, "SELECT type FROM sqlite_master WHERE name = 'candles'", buf, sizeof(buf));
	assert_string_equal(buf, "view");
	sqlite3_close(db);
	store_close(&s);
	assert_null(s);
	/* Reopening an existing database verifies and keeps it. */
	s = open_ok();
	store_close(&s);
}

static void
test_insert_read_back(void **state)
{
	struct store *s;
	struct msg_result r;
	struct store_outcome out;
	sqlite3 *db;
	char buf[128];
	int64_t to = T0 + 10 * MIN;

	(void)state;
	s = open_ok();
	make_result(&r, "KRW-BTC", TF_1M, to, 3, T0 + 7 * MIN);
	snprintf(cbuf[0].num[CN_CHANGE_RATE], CANDLE_NUM_MAX, "0.0012345678");
	assert_int_equal(put1(s, &r, &out), STORE_OK);
	assert_int_equal(out.new_candles, 3);
	assert_int_equal(out.duplicate, 0);
	store_close(&s);

	db = ro();
	assert_int_equal(qint(db, "SELECT count(*) FROM candles_exact"), 3);
	/* Exact text. */
	q(db,
	  "SELECT opening_price FROM candles_exact WHERE candle_date_time_utc ="
	  " '2024-01-01T00:09:00'",
	  buf, sizeof(buf));
	assert_string_equal(buf, "162483000.00000000");
	q(db, "SELECT candle_acc_trade_price FROM candles_exact LIMIT 1", buf, sizeof(buf));
	assert_string_equal(buf, "123456789.12345678");
	q(db,
	  "SELECT candle_date_time_kst FROM candles_exact WHERE candle_date_time_utc ="
	  " '2024-01-01T00:09:00'",
	  buf, sizeof(buf));
	assert_string_equal(buf, "2024-01-01T09:09:00");
	q(db,
	  "SELECT market || ' ' || timeframe || ' ' || timestamp || ' ' || unit"
	  " FROM candles_exact WHERE candle_date_time_utc = '2024-01-01T00:09:00'",
	  buf, sizeof(buf));
	assert_string_equal(buf, "KRW-BTC 1m 1704067799123 1");
	/* "" became NULL. */
	assert_int_equal(qint(db, "SELECT count(*) FROM candles_exact WHERE"
	                          " prev_closing_price IS NULL AND first_day_of_period IS NULL"),
	                 3);
	q(db,
	  "SELECT change_rate FROM candles_exact WHERE candle_date_time_utc ="
	  " '2024-01-01T00:09:00'",
	  buf, sizeof(buf));
	assert_string_equal(buf, "0.0012345678");
	/* The view: REAL numbers, NULL stays NULL. */
	q(db,
	  "SELECT typeof(opening_price) || typeof(candle_acc_trade_volume) ||"
	  " typeof(prev_closing_price) || typeof(timestamp) FROM candles LIMIT 1",
	  buf, sizeof(buf));
	assert_string_equal(buf, "realrealnullinteger");
	q(db,
	  "SELECT opening_price FROM candles WHERE candle_date_time_utc ="
	  " '2024-01-01T00:08:00'",
	  buf, sizeof(buf));
	assert_string_equal(buf, "162483001.0");
	q(db,
	  "SELECT change_rate * 10000 FROM candles WHERE candle_date_time_utc ="
	  " '2024-01-01T00:09:00'",
	  buf, sizeof(buf));
	assert_true(strtod(buf, NULL) > 12.34 && strtod(buf, NULL) < 12.35);
	sqlite3_close(db);

	coverage_dump("KRW-BTC", "1m", buf, sizeof(buf));
	assert_string_equal(buf, "2024-01-01T00:07:00..2024-01-01T00:10:00;");
}

static void
test_duplicate(void **state)
{
	struct store *s;
	struct msg_result r;
	struct store_outcome out;
	sqlite3 *db;
	char before[256], after[256];

	(void)state;
	s = open_ok();
	make_result(&r, "KRW-ETH", TF_5M, T0 + 200 * 5 * MIN, 200, T0);
	assert_int_equal(put1(s, &r, &out), STORE_OK);
	assert_int_equal(out.new_candles, 200);
	assert_int_equal(out.duplicate, 0);
	coverage_dump("KRW-ETH", "5m", before, sizeof(before));

	assert_int_equal(put1(s, &r, &out), STORE_OK);
	assert_int_equal(out.new_candles, 0);
	assert_int_equal(out.duplicate, 1);
	/* Twice in one transaction too. */
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_put_result(s, &r, time_now(), &out), STORE_OK);
	assert_int_equal(out.duplicate, 1);
	assert_int_equal(store_put_result(s, &r, time_now(), &out), STORE_OK);
	assert_int_equal(out.new_candles, 0);
	assert_int_equal(out.duplicate, 1);
	assert_int_equal(store_commit(s), 0);
	store_close(&s);

	coverage_dump("KRW-ETH", "5m", after, sizeof(after));
	assert_string_equal(before, after);
	assert_string_equal(after, "2024-01-01T00:00:00..2024-01-01T16:40:00;");
	db = ro();
	assert_int_equal(qint(db, "SELECT count(*) FROM candles_exact"), 200);
	assert_int_equal(qint(db, "SELECT count(*) FROM coverage"), 1);
	sqlite3_close(db);
}

#define M(k) (T0 + (k)*MIN)

/* runs sql on a connection of its own, as another program would */
static void
sql_exec(const char *sql)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void
test_coverage_merge(void **state)
{
	struct store *s;
	struct store_outcome o;
	struct msg_result r;
	char buf[512];

	(void)state;
	s = open_ok();
	/* disjoint */
	o = cover(s, M(10), M(20));
	assert_int_equal(o.duplicate, 0);
	o = cover(s, M(30), M(40));
	assert_int_equal(o.duplicate, 0);
	coverage_dump("KRW-BTC", "1m", buf, sizeof(buf));
	assert_string_equal(buf, "2024-01-01T00:10:00..2024-01-01T00:20:00;"
	                         "2024-01-01T00:30:00..2024-01-01T00:40:00;");
	/* adjacent below the lower row: merges with it only */
	o = cover(s, M(5), M(10));
	assert_int_equal(o.duplicate, 0);
	coverage_dump("KRW-BTC", "1m", buf, sizeof(buf));
	assert_string_equal(buf, "2024-01-01T00:05:00..2024-01-01T00:20:00;"
	                         "2024-01-01T00:30:00..2024-01-01T00:40:00;");
	/* adjacent on both sides: bridges the gap */
	o = cover(s, M(20), M(30));
	assert_int_equal(o.duplicate, 0);
	coverage_dump("KRW-BTC", "1m", buf, sizeof(buf));
	assert_string_equal(buf, "2024-01-01T00:05:00..2024-01-01T00:40:00;");
	/* contained: a duplicate, nothing changes */
	o = cover(s, M(15), M(25));
	assert_int_equal(o.duplicate, 1);
	o = cover(s, M(5), M(40));
	assert_int_equal(o.duplicate, 1);
	coverage_dump("KRW-BTC", "1m", buf, sizeof(buf));
	assert_string_equal(buf, "2024-01-01T00:05:00..2024-01-01T00:40:00;");
	/* overlapping the top */
	o = cover(s, M(35), M(50));
	assert_int_equal(o.duplicate, 0);
	coverage_dump("KRW-BTC", "1m", buf, sizeof(buf));
	assert_string_equal(buf, "2024-01-01T00:05:00..2024-01-01T00:50:00;");
	/* disjoint rows, then one range swallowing two and overlapping a third */
	cover(s, M(60), M(70));
	cover(s, M(80), M(90));
	cover(s, M(100), M(110));
	o = cover(s, M(55), M(105));
	assert_int_equal(o.duplicate, 0);
	coverage_dump("KRW-BTC", "1m", buf, sizeof(buf));
	assert_string_equal(buf, "2024-01-01T00:05:00..2024-01-01T00:50:00;"
	                         "2024-01-01T00:55:00..2024-01-01T01:50:00;");
	/* overlapping the bottom of a row and containing another row */
	o = cover(s, M(0), M(52));
	coverage_dump("KRW-BTC", "1m", buf, sizeof(buf));
	assert_string_equal(buf, "2024-01-01T00:00:00..2024-01-01T00:52:00;"
	                         "2024-01-01T00:55:00..2024-01-01T01:50:00;");
	/* other keys are separate */
	make_result(&r, "KRW-BTC", TF_3M, M(30), 0, M(21));
	assert_int_equal(put1(s, &r, &o), STORE_OK);
	make_result(&r, "KRW-ETH", TF_1M, M(30), 0, M(20));
	assert_int_equal(put1(s, &r, &o), STORE_OK);
	assert_int_equal(o.duplicate, 0);
	coverage_dump("KRW-BTC", "1m", buf, sizeof(buf));
	assert_string_equal(buf, "2024-01-01T00:00:00..2024-01-01T00:52:00;"
	                         "2024-01-01T00:55:00..2024-01-01T01:50:00;");
	coverage_dump("KRW-BTC", "3m", buf, sizeof(buf));
	assert_string_equal(buf, "2024-01-01T00:21:00..2024-01-01T00:30:00;");
	coverage_dump("KRW-ETH", "1m", buf, sizeof(buf));
	assert_string_equal(buf, "2024-01-01T00:20:00..2024-01-01T00:30:00;");
	/* touching rows (written by another program; the writer merges them):
	 * a range inside the lower one that ends where the upper one starts is
	 * a duplicate, and both rows stay as they are */
	sql_exec("INSERT INTO coverage VALUES ('KRW-BTC', '1m', '2024-01-01T05:00:00', "
	         "'2024-01-01T05:10:00'), ('KRW-BTC', '1m', '2024-01-01T05:10:00', "
	         "'2024-01-01T05:20:00')");
	o = cover(s, M(305), M(310));
	assert_int_equal(o.duplicate, 1);
	coverage_dump("KRW-BTC", "1m", buf, sizeof(buf));
	assert_string_equal(buf, "2024-01-01T00:00:00..2024-01-01T00:52:00;"
	                         "2024-01-01T00:55:00..2024-01-01T01:50:00;"
	                         "2024-01-01T05:00:00..2024-01-01T05:10:00;"
	                         "2024-01-01T05:10:00..2024-01-01T05:20:00;");
	sql_exec("DELETE FROM coverage WHERE from_utc >= '2024-01-01T05:00:00'");
	/* an empty proven range records nothing and is not a duplicate */
	o = cover(s, M(200), M(200));
	assert_int_equal(o.duplicate, 0);
	coverage_dump("KRW-BTC", "1m", buf, sizeof(buf));
	assert_string_equal(buf, "2024-01-01T00:00:00..2024-01-01T00:52:00;"
	                         "2024-01-01T00:55:00..2024-01-01T01:50:00;");
	store_close(&s);
}

static void
test_coverage_clipped_at_now(void **state)
{
	struct store *s;
	struct msg_result r;
	struct store_outcome o;
	int64_t now = time_now(), slot = tf_floor(TF_1H, now);
	int64_t from, to;

	(void)state;
	s = open_ok();
	/* to two hours ahead: the proof stops at the slot still forming */
	make_result(&r, "KRW-BTC", TF_1H, slot + 7200, 0, slot - 3 * 3600);
	store_proven_range(&r.ci, now, &from, &to);
	assert_int_equal(from, slot - 3 * 3600);
	assert_int_equal(to, slot);
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_put_result(s, &r, now, &o), STORE_OK);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(o.cov_to, slot);
	store_close(&s);
}

static void
test_history_end(void **state)
{
	struct store *s;
	struct msg_result r;
	struct store_outcome o;
	sqlite3 *db;
	char buf[256];

	(void)state;
	s = open_ok();
	/* 5 of 200 returned: history starts at the oldest one */
	make_result(&r, "KRW-NEW", TF_1D, T0 + 10 * 86400, 5, T0 + 5 * 86400);
	r.ci.history_end = 1;
	assert_int_equal(put1(s, &r, &o), STORE_OK);
	assert_int_equal(o.new_candles, 5);
	coverage_dump("KRW-NEW", "1d", buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00..2024-01-11T00:00:00;");
	db = ro();
	q(db,
	  "SELECT first_utc FROM history_start WHERE market = 'KRW-NEW'"
	  " AND timeframe = '1d'",
	  buf, sizeof(buf));
	assert_string_equal(buf, "2024-01-06T00:00:00");
	sqlite3_close(db);

	/* nothing returned: nothing before to */
	make_result(&r, "KRW-OLD", TF_1MO, T0, 0, 0);
	r.ci.history_end = 1;
	assert_int_equal(put1(s, &r, &o), STORE_OK);
	coverage_dump("KRW-OLD", "1M", buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00..2024-01-01T00:00:00;");
	db = ro();
	q(db,
	  "SELECT first_utc FROM history_start WHERE market = 'KRW-OLD'"
	  " AND timeframe = '1M'",
	  buf, sizeof(buf));
	assert_string_equal(buf, "2024-01-01T00:00:00");
	assert_int_equal(qint(db, "SELECT count(*) FROM history_start"), 2);
	sqlite3_close(db);

	/* again: idempotent */
	assert_int_equal(put1(s, &r, &o), STORE_OK);
	assert_int_equal(o.duplicate, 1);
	store_close(&s);
	db = ro();
	assert_int_equal(qint(db, "SELECT count(*) FROM history_start"), 2);
	sqlite3_close(db);
}

static void
assert_nothing_written(void)
{
	sqlite3 *db = ro();

	assert_int_equal(qint(db, "SELECT count(*) FROM candles_exact"), 0);
	assert_int_equal(qint(db, "SELECT count(*) FROM coverage"), 0);
	assert_int_equal(qint(db, "SELECT count(*) FROM history_start"), 0);
	sqlite3_close(db);
}

static void
test_rejects(void **state)
{
	struct store *s;
	struct msg_result r;
	struct store_outcome o;
	int64_t now = time_now(), slot = tf_floor(TF_1M, now);
	char why[160];

	(void)state;
	s = open_ok();

	/* the candle still forming: the whole result is refused */
	make_result(&r, "KRW-BTC", TF_1M, slot + MIN, 3, slot - 2 * MIN);
	assert_int_equal(store_check_result(&r, now, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "forming"));
	assert_int_equal(put1(s, &r, &o), STORE_REJECTED);
	/* ... and accepted once it has closed */
	assert_int_equal(store_check_result(&r, slot + MIN, why, sizeof(why)), 0);
	/* a day still forming */
	make_result(&r, "KRW-BTC", TF_1D, tf_floor(TF_1D, now) + 86400, 1, 0);
	assert_int_equal(store_check_result(&r, now, why, sizeof(why)), -1);
	/* a month still forming (calendar slot) */
	make_result(&r, "KRW-BTC", TF_1MO, tf_add(TF_1MO, tf_floor(TF_1MO, now), 1), 1, 0);
	assert_int_equal(store_check_result(&r, now, why, sizeof(why)), -1);

	/* a candle at or after to */
	make_result(&r, "KRW-BTC", TF_1M, M(10), 3, M(7));
	cbuf[1].start = M(10);
	assert_int_equal(put1(s, &r, &o), STORE_REJECTED);
	/* unaligned */
	make_result(&r, "KRW-BTC", TF_1M, M(10), 3, M(7));
	cbuf[2].start += 1;
	assert_int_equal(put1(s, &r, &o), STORE_REJECTED);
	/* effective_end above to */
	make_result(&r, "KRW-BTC", TF_1M, M(10), 3, M(11));
	assert_int_equal(put1(s, &r, &o), STORE_REJECTED);
	/* a required price missing */
	make_result(&r, "KRW-BTC", TF_1M, M(10), 3, M(7));
	cbuf[0].num[CN_LOW][0] = '\0';
	assert_int_equal(put1(s, &r, &o), STORE_REJECTED);
	/* unknown timeframe */
	make_result(&r, "KRW-BTC", TF_1M, M(10), 3, M(7));
	r.ci.tf = TF_COUNT;
	assert_int_equal(put1(s, &r, &o), STORE_REJECTED);
	/* unterminated market */
	make_result(&r, "KRW-BTC", TF_1M, M(10), 3, M(7));
	memset(r.ci.market, 'A', sizeof(r.ci.market));
	assert_int_equal(put1(s, &r, &o), STORE_REJECTED);
	/* empty market, to outside the text format, a history end after to */
	make_result(&r, "", TF_1M, M(10), 3, M(7));
	assert_int_equal(put1(s, &r, &o), STORE_REJECTED);
	make_result(&r, "KRW-BTC", TF_1M, 0, 0, 0);
	assert_int_equal(put1(s, &r, &o), STORE_REJECTED);
	make_result(&r, "KRW-BTC", TF_1M, 253402300800LL, 0, 0);
	assert_int_equal(put1(s, &r, &o), STORE_REJECTED);
	make_result(&r, "KRW-BTC", TF_1M, M(10), 3, M(7));
	r.ci.history_end = 1;
	r.ci.oldest = M(10);
	assert_int_equal(put1(s, &r, &o), STORE_REJECTED);
	/* more candles than a response holds, or none behind the count */
	make_result(&r, "KRW-BTC", TF_1M, M(10), 3, M(7));
	r.ncandles = CANDLE_MAX_PER_RESPONSE + 1;
	assert_int_equal(put1(s, &r, &o), STORE_REJECTED);
	r.ncandles = 3;
	r.candles = NULL;
	assert_int_equal(put1(s, &r, &o), STORE_REJECTED);
	/* a negative start, unterminated first_day and decimal */
	make_result(&r, "KRW-BTC", TF_1M, M(10), 3, M(7));
	cbuf[2].start = -MIN;
	assert_int_equal(put1(s, &r, &o), STORE_REJECTED);
	make_result(&r, "KRW-BTC", TF_1M, M(10), 3, M(7));
	memset(cbuf[1].first_day, '1', sizeof(cbuf[1].first_day));
	assert_int_equal(put1(s, &r, &o), STORE_REJECTED);
	make_result(&r, "KRW-BTC", TF_1M, M(10), 3, M(7));
	memset(cbuf[1].num[CN_CONVERTED], '1', CANDLE_NUM_MAX);
	assert_int_equal(put1(s, &r, &o), STORE_REJECTED);

	store_close(&s);
	assert_nothing_written();
}

static void
test_lock(void **state)
{
	struct store *s, *s2;
	struct store_err err;
	char want[1200];
	int fd, created;

	(void)state;
	s = open_ok();
	snprintf(want, sizeof(want), "another writer is running on %s (pid %ld, lock %s.lock held)",
	         dbpath, (long)getpid(), dbpath);

	memset(&err, 0, sizeof(err));
	assert_int_equal(store_lock(dbpath, &created, &err), -1);
	assert_int_equal(created, 0);
	assert_int_equal(err.code, EXIT_PERMFAIL);
	assert_string_equal(err.msg, want);

	memset(&err, 0, sizeof(err));
	s2 = store_open(dbpath, &err);
	assert_null(s2);
	assert_int_equal(err.code, EXIT_PERMFAIL);
	assert_string_equal(err.msg, want);

	/* released on close */
	store_close(&s);
	fd = store_lock(dbpath, &created, &err);
	assert_true(fd >= 0);
	assert_int_equal(created, 0); /* the file stays between runs */
	close(fd);
	s = open_ok();
	store_close(&s);
}

static void
test_wrong_version(void **state)
{
	struct store *s;
	struct store_err err;
	sqlite3 *db = NULL;

	(void)state;
	s = open_ok();
	store_close(&s);
	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 7", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	memset(&err, 0, sizeof(err));
	s = store_open(dbpath, &err);
	assert_null(s);
	assert_int_equal(err.code, EXIT_PERMFAIL);
	assert_non_null(strstr(err.msg, "schema version 7"));
	/* the lock is released again */
	memset(&err, 0, sizeof(err));
	{
		int created, fd = store_lock(dbpath, &created, &err);

		assert_true(fd >= 0);
		close(fd);
	}
	/* untouched */
	db = ro();
	assert_int_equal(qint(db, "PRAGMA user_version"), 7);
	sqlite3_close(db);
}

static void
test_not_a_database(void **state)
{
	struct store *s;
	struct store_err err;
	FILE *f;

	(void)state;
	s = open_ok();
	store_close(&s);
	unlink(dbpath);
	f = fopen(dbpath, "w");
	assert_non_null(f);
	fputs("this is not an SQLite database, not even close; padding padding padding\n", f);
	fclose(f);
	s = store_open(dbpath, &err);
	assert_null(s);
	assert_int_equal(err.code, EXIT_PERMFAIL);
	print_message("refused as expected: %s\n", err.msg);
}

/* Runs sql on the database through a connection of its own. */
/* store_open of path fails with code and a message containing want. */
static void
open_fails(const char *path, int code, const char *want)
{
	struct store_err err;
	struct store *s = store_open(path, &err);

	assert_null(s);
	print_message("refused as expected: %s\n", err.msg);
	assert_int_equal(err.code, code);
	assert_non_null(strstr(err.msg, want));
}

static void
test_open_refusals(void **state)
{
	char path[5000], cwd[512];
	struct store *s;
	FILE *f;

	(void)state;
	memset(path, 'a', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	open_fails(path, EXIT_PERMFAIL, "database path too long");
	/* a file where a directory should be */
	snprintf(path, sizeof(path), "%s/file", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/file/sub/x.db", tmpdir);
	open_fails(path, EXIT_PERMFAIL, "Not a directory");
	/* no mkdir -p: a missing directory is an error */
	snprintf(path, sizeof(path), "%s/no/such/x.db", tmpdir);
	open_fails(path, EXIT_PERMFAIL, "does not exist (create it first)");
	snprintf(path, sizeof(path), "%s/no", tmpdir);
	assert_int_equal(access(path, F_OK), -1);
	/* the lock file cannot be opened */
	snprintf(path, sizeof(path), "%s/d.db.lock", tmpdir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/d.db", tmpdir);
	open_fails(path, EXIT_PERMFAIL, "cannot open");
	/* the database is a directory */
	snprintf(path, sizeof(path), "%s/e.db", tmpdir);
	assert_int_equal(mkdir(path, 0755), 0);
	open_fails(path, EXIT_PERMFAIL, "is a directory, not a database file");
	snprintf(path, sizeof(path), "%s/e.db.lock", tmpdir);
	assert_int_equal(access(path, F_OK), -1);
	open_fails("/dev/null", EXIT_PERMFAIL,
	           "/dev/null is a character device, not a database file");
	/* ":memory:" is a file name like any other, in the current directory */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(tmpdir), 0);
	s = store_open(":memory:", &(struct store_err){ 0 });
	assert_non_null(s);
	store_close(&s);
	assert_int_equal(access(":memory:", F_OK), 0);
	assert_int_equal(chdir(cwd), 0);
}

/* The whole of path into buf; its length. */
static size_t
file_bytes(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, cap, f);
	assert_true(n < cap);
	fclose(f);
	return n;
}

/* A refused file: store_open exits 3 with want, and the file is byte for
 * byte what it was, with no lock, -wal or -shm beside it. */
static void
refused_untouched(const char *want)
{
	static char before[1 << 16], after[1 << 16];
	char side[600];
	size_t n = file_bytes(dbpath, before, sizeof(before));
	static const char *const suffix[] = { ".lock", "-wal", "-shm", "-journal" };
	assert_int_equal(file_bytes(dbpath, after, sizeof(after)), n);
	assert_memory_equal(before, after, n);
	int had_lock;

	snprintf(side, sizeof(side), "%s.lock", dbpath);
	had_lock = access(side, F_OK) == 0;
	open_fails(dbpath, EXIT_PERMFAIL, want);
	assert_int_equal(file_bytes(dbpath, after, sizeof(after)), n);
	assert_memory_equal(before, after, n);
	/* a lock file that was there before stays: it is not ours to remove */
	for (size_t i = had_lock; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(side, sizeof(side), "%s%s", dbpath, suffix[i]);
		assert_int_equal(access(side, F_OK), -1);
	}
	unlink(dbpath);
}

static void
test_foreign_untouched(void **state)
{
	(void)state;
	/* tables of its own, user_version 0 */
	sql_exec("CREATE TABLE t(x); INSERT INTO t VALUES (1)");
	refused_untouched("is not a candlepipe database (user_version 0, tables: t)");
	/* its own candles table */
	sql_exec("CREATE TABLE candles(market TEXT, close REAL)");
	refused_untouched("is not a candlepipe database (user_version 0, tables: candles)");
	/* its own coverage table */
	sql_exec("CREATE TABLE coverage(market TEXT, timeframe TEXT, since TEXT)");
	refused_untouched("(user_version 0, tables: coverage)");
	/* another user_version, no tables */
	sql_exec("PRAGMA user_version = 7");
	refused_untouched("has schema version 7, this program knows versions 1 to 3");
	sql_exec("PRAGMA user_version = -1");
	refused_untouched("(user_version -1, tables: none)");
	sql_exec("PRAGMA application_id = 42");
	refused_untouched("(user_version 0, tables: none)");
	/* in WAL mode, with no -wal: read as immutable, no -shm made */
	sql_exec("PRAGMA journal_mode = WAL; CREATE TABLE t(x)");
	refused_untouched("tables: t");
	/* our tables at version 1 plus one of its own */
	sql_exec("CREATE TABLE candles_exact(x); CREATE TABLE coverage(x);"
	         " CREATE TABLE history_start(x); CREATE TABLE mine(x); PRAGMA user_version = 1");
	refused_untouched("tables: candles_exact,coverage,history_start,mine");
}

static void
test_upgrade_v1(void **state)
{
	struct store *s;
	struct msg_result r;
	struct store_outcome o;
	sqlite3 *db;

	(void)state;
	s = open_ok();
	make_result(&r, "KRW-BTC", TF_1M, T0 + 10 * MIN, 3, T0 + 7 * MIN);
	assert_int_equal(put1(s, &r, &o), STORE_OK);
	store_close(&s);
	sql_exec("DROP TABLE markets; DROP TABLE follows; PRAGMA user_version = 1");
	s = open_ok();
	store_close(&s);
	db = ro();
	assert_int_equal(qint(db, "PRAGMA user_version"), 3);
	assert_int_equal(qint(db, "SELECT count(*) FROM follows"), 0);
	assert_int_equal(qint(db, "SELECT count(*) FROM markets"), 0);
	assert_int_equal(qint(db, "SELECT count(*) FROM candles_exact"), 3);
	sqlite3_close(db);
	/* a version-1 file missing one of its tables is not ours */
	sql_exec("DROP TABLE markets; DROP TABLE follows; DROP TABLE history_start;"
	         " PRAGMA user_version = 1");
	refused_untouched("(user_version 1, tables: candles_exact,coverage)");
}

/* Writes a market list file with text. */
static void
markets_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
test_markets(void **state)
{
	static const struct {
		const char *json, *want;
	} bad[] = {
		{ "", "is not valid JSON" },
		{ "{}", "is not a JSON array" },
		{ "[1]", "element 0 (?) is not an object" },
		{ "[{\"market\":\"KRW-A\",\"korean_name\":\"a\"}]",
		  "element 0 (KRW-A) has no text english_name" },
	};
	char path[600], buf[256];
	struct store_err err;
	struct store *s;
	sqlite3 *db;

	(void)state;
	snprintf(path, sizeof(path), "%s/m.json", tmpdir);
	s = open_ok();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		markets_file(path, bad[i].json);
		assert_int_equal(store_load_markets(s, path, T0, &err), -1);
		print_message("refused as expected: %s\n", err.msg);
		assert_int_equal(err.code, EXIT_PERMFAIL);
		assert_non_null(strstr(err.msg, bad[i].want));
	}
	assert_int_equal(store_load_markets(s, "/nonexistent/m.json", T0, &err), -1);
	assert_int_equal(err.code, EXIT_PERMFAIL);
	markets_file(path,
	             "[{\"market\":\"KRW-A\",\"korean_name\":\"에이\",\"english_name\":\"A\","
	             "\"market_event\":{\"warning\":true,\"caution\":{\"X\":false}}},"
	             "{\"market\":\"KRW-A\",\"korean_name\":\"에이\",\"english_name\":\"A2\"}]");
	/* a repeated market: the last one wins */
	assert_int_equal(store_load_markets(s, path, T0, &err), 2);
	store_close(&s);
	db = ro();
	q(db, "SELECT english_name || quote(warning) || quote(caution) || updated_utc FROM markets",
	  buf, sizeof(buf));
	assert_string_equal(buf, "A2NULLNULL2024-01-01T00:00:00");
	assert_int_equal(qint(db, "SELECT count(*) FROM markets"), 1);
	sqlite3_close(db);
}

/* One result of n 1m candles ending at M(10), written or failing whole. */
static enum store_status
put_ten(struct store *s, int n, int64_t effective_end)
{
	struct msg_result r;
	struct store_outcome o;

	make_result(&r, "KRW-BTC", TF_1M, T0 + 10 * MIN, n, effective_end);
	return put1(s, &r, &o);
}

static void
assert_counts(long long candles, long long coverage, long long history)
{
	sqlite3 *db = ro();
	char buf[64];

	assert_int_equal(qint(db, "SELECT count(*) FROM candles_exact"), candles);
	assert_int_equal(qint(db, "SELECT count(*) FROM coverage"), coverage);
	assert_int_equal(qint(db, "SELECT count(*) FROM history_start"), history);
	q(db, "PRAGMA integrity_check", buf, sizeof(buf));
	assert_string_equal(buf, "ok");
	sqlite3_close(db);
}

static void
test_sql_failures(void **state)
{
	static const struct {
		const char *trigger;
		int history_end;
	} cases[] = {
		{ "BEFORE INSERT ON candles_exact", 0 },
		{ "BEFORE INSERT ON coverage", 0 },
		{ "BEFORE DELETE ON coverage", 0 }, /* merging with the row below */
		{ "BEFORE INSERT ON history_start", 1 },
	};
	struct store *s;
	struct msg_result r;
	struct store_outcome o;
	char sql[256];
	size_t i;

	(void)state;
	s = open_ok();
	assert_int_equal(put_ten(s, 0, T0 - 5 * MIN), STORE_OK); /* [-5, 10) */
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(sql, sizeof(sql),
		         "CREATE TRIGGER no %s BEGIN SELECT RAISE(ABORT, 'no'); END",
		         cases[i].trigger);
		sql_exec(sql);
		make_result(&r, "KRW-BTC", TF_1M, T0 + 20 * MIN, 10, T0 + 10 * MIN);
		r.ci.history_end = (uint8_t)cases[i].history_end;
		assert_int_equal(put1(s, &r, &o), STORE_ERROR);
		assert_counts(0, 1, 0);
		sql_exec("DROP TRIGGER no");
	}
	/* the same result once SQLite lets it through: written whole, once */
	assert_int_equal(put1(s, &r, &o), STORE_OK);
	assert_int_equal(o.new_candles, 10);
	assert_int_equal(put1(s, &r, &o), STORE_OK);
	assert_int_equal(o.duplicate, 1);
	store_close(&s);
	assert_counts(10, 1, 1);
}

static void
test_corrupt_coverage(void **state)
{
	struct store *s;
	char buf[64];
	long long root;
	sqlite3 *db;
	FILE *f;
	int i;

	(void)state;
	s = open_ok();
	assert_int_equal(put_ten(s, 0, T0), STORE_OK);
	store_close(&s); /* checkpointed: the WAL is gone */
	db = ro();
	root = qint(db, "SELECT rootpage FROM sqlite_master WHERE name = 'coverage'");
	sqlite3_close(db);
	f = fopen(dbpath, "r+");
	assert_non_null(f);
	assert_int_equal(fseek(f, (root - 1) * 4096, SEEK_SET), 0);
	for (i = 0; i < 4096; i++)
		fputc(0xa5, f);
	fclose(f);

	s = open_ok();
	assert_int_equal(put_ten(s, 3, T0 + 7 * MIN), STORE_ERROR);
	store_close(&s);
	db = ro();
	assert_int_equal(qint(db, "SELECT count(*) FROM candles_exact"), 0);
	q(db, "PRAGMA integrity_check", buf, sizeof(buf));
	assert_string_not_equal(buf, "ok");
	sqlite3_close(db);
}

/* Writes beyond limit bytes fail (EFBIG: SIGXFSZ ignored). */
static void
file_size_limit(rlim_t limit)
{
	struct rlimit rl = { limit, RLIM_INFINITY };

	assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

static void
test_disk_full(void **state)
{
	struct store *s;

	(void)state;
	signal(SIGXFSZ, SIG_IGN);
	/* a new database cannot get its schema: temporary */
	file_size_limit(1024);
	open_fails(dbpath, EXIT_TEMPFAIL, dbpath);
	file_size_limit(RLIM_INFINITY);
	s = open_ok();
	assert_int_equal(put_ten(s, 0, T0), STORE_OK);
	/* COMMIT cannot write the WAL: nothing of the result is stored */
	file_size_limit(16384);
	assert_int_equal(store_begin(s), 0);
	{
		struct msg_result r;
		struct store_outcome o;

		make_result(&r, "KRW-BTC", TF_1M, T0 + 210 * MIN, 200, T0 + 10 * MIN);
		assert_int_equal(store_put_result(s, &r, time_now(), &o), STORE_OK);
		assert_int_equal(store_commit(s), -1);
		store_rollback(s);
		file_size_limit(RLIM_INFINITY);
		assert_counts(0, 1, 0);
		/* the retry after the disk has room writes it once */
		assert_int_equal(put1(s, &r, &o), STORE_OK);
		assert_int_equal(o.new_candles, 200);
	}
	store_close(&s);
	signal(SIGXFSZ, SIG_DFL);
	assert_counts(200, 1, 0);
}

static void
test_close_in_transaction(void **state)
{
	struct store *s;
	struct msg_result r;
	struct store_outcome o;

	(void)state;
	s = open_ok();
	make_result(&r, "KRW-BTC", TF_1M, T0 + 10 * MIN, 3, T0 + 7 * MIN);
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_put_result(s, &r, time_now(), &o), STORE_OK);
	store_close(&s); /* a crash before COMMIT, as far as the file knows */
	assert_nothing_written();
}

/* Insert rate for 200-candle results, 64 results per transaction, like the
 * writer's batches. Prints the figure; asserts only correctness. */
static void
test_insert_rate(void **state)
{
	static struct candle bufs[64][CANDLE_MAX_PER_RESPONSE];
	const char *env = getenv("STORE_BENCH_RESULTS");
	long nresults = env ? atol(env) : 1000;
	struct store *s;
	struct msg_result r[64];
	struct store_outcome o;
	int64_t t_start, t_end, to = T0;
	long done = 0, candles = 0;
	int i, j, b;
	sqlite3 *db;

	(void)state;
	s = open_ok();
	/* The decimals are filled once: only the store is timed. */
	for (i = 0; i < 64; i++)
		for (j = 0; j < 200; j++)
			fill_candle(&bufs[i][j], 0, j);
	t_start = time_mono_ms();
	while (done < nresults) {
		b = nresults - done < 64 ? (int)(nresults - done) : 64;
		for (i = 0; i < b; i++) {
			/* consecutive chunks walking back in time, like a segment cursor */
			memset(&r[i], 0, sizeof(r[i]));
			r[i].ci.id = (uint64_t)(done + i);
			r[i].ci.tf = TF_1M;
			snprintf(r[i].ci.market, MARKET_MAX, "KRW-BTC");
			r[i].ci.to = to;
			r[i].ci.count = 200;
			r[i].ci.received = 200;
			r[i].ci.effective_end = to - 200 * MIN;
			r[i].ncandles = 200;
			r[i].candles = bufs[i];
			for (j = 0; j < 200; j++) {
				bufs[i][j].start = to - (j + 1) * MIN;
				bufs[i][j].timestamp_ms = bufs[i][j].start * 1000 + 59123;
			}
			to -= 200 * MIN;
		}
		assert_int_equal(store_begin(s), 0);
		for (i = 0; i < b; i++) {
			assert_int_equal(store_put_result(s, &r[i], time_now(), &o), STORE_OK);
			candles += o.new_candles;
		}
		assert_int_equal(store_commit(s), 0);
		done += b;
	}
	t_end = time_mono_ms();
	store_close(&s);
	assert_int_equal(candles, nresults * 200);
	print_message("store insert rate: %ld candles in %ld results, %lld ms: %.0f candles/s\n",
	              candles, nresults, (long long)(t_end - t_start),
	              (double)candles * 1000.0 /
	                  (double)(t_end - t_start > 0 ? t_end - t_start : 1));
	db = ro();
	assert_int_equal(qint(db, "SELECT count(*) FROM coverage"), 1);
	sqlite3_close(db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_insert_read_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_coverage_merge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_coverage_clipped_at_now, setup, teardown),
		cmocka_unit_test_setup_teardown(test_history_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rejects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_database, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_untouched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_markets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sql_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_coverage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_in_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_insert_rate, setup, teardown),
	};

	log_init("store_test", 0);
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
