/* ledger_test: range-list helpers, range_subtract golden cases, the
 * coverage reader against a temporary SQLite database, the schema rule
 * (which files are ours) and the read-only opens (common/ledger.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "capture.h"

#include "ledger.h"
#include "log.h"
#include "tf.h"

#define COVERAGE_SCHEMA                                                         \
	"CREATE TABLE coverage(market TEXT NOT NULL, timeframe TEXT NOT NULL, " \
	"from_utc TEXT NOT NULL, to_utc TEXT NOT NULL, "                        \
	"PRIMARY KEY(market, timeframe, from_utc)) WITHOUT ROWID"

static struct range_list
mk(int n, const int64_t *v)
{
	struct range_list l = { 0 };

	for (int i = 0; i < n; i++)
		assert_int_equal(range_list_push(&l, v[2 * i], v[2 * i + 1]), 0);
	return l;
}

static void
assert_ranges(const struct range_list *l, int n, const int64_t *v)
{
	if (l->n != (size_t)n) {
		for (size_t i = 0; i < l->n; i++)
			print_message("  [%lld, %lld)\n", (long long)l->v[i].from,
			              (long long)l->v[i].to);
		fail_msg("got %zu ranges, want %d", l->n, n);
	}
	for (int i = 0; i < n; i++) {
		assert_int_equal(l->v[i].from, v[2 * i]);
		assert_int_equal(l->v[i].to, v[2 * i + 1]);
	}
}

static void
test_push_free(void **state)
{
	struct range_list l = { 0 };

	(void)state;
	for (int i = 0; i < 1000; i++)
		assert_int_equal(range_list_push(&l, i, i + 1), 0);
	assert_int_equal(l.n, 1000);
	assert_true(l.cap >= 1000);
	assert_int_equal(l.v[999].from, 999);
	range_list_free(&l);
	assert_null(l.v);
	assert_int_equal(l.n, 0);
	assert_int_equal(l.cap, 0);
	range_list_free(&l); /* twice is fine */
}

struct sub_case {
	int nw, nh, nout;
	int64_t w[12], h[12], out[12];
};

static void
test_subtract(void **state)
{
	static const struct sub_case cases[] = {
		/* nothing covered */
		{ 1, 0, 1, { 0, 100 }, { 0 }, { 0, 100 } },
		/* nothing wanted */
		{ 0, 1, 0, { 0 }, { 0, 100 }, { 0 } },
		/* fully covered, exactly and by a larger range */
		{ 1, 1, 0, { 0, 100 }, { 0, 100 }, { 0 } },
		{ 1, 1, 0, { 10, 90 }, { 0, 100 }, { 0 } },
		/* covered at the start, at the end, in the middle */
		{ 1, 1, 1, { 0, 100 }, { 0, 40 }, { 40, 100 } },
		{ 1, 1, 1, { 0, 100 }, { 60, 100 }, { 0, 60 } },
		{ 1, 1, 2, { 0, 100 }, { 40, 60 }, { 0, 40, 60, 100 } },
		/* overhanging on both sides */
		{ 1, 1, 1, { 50, 100 }, { 0, 70 }, { 70, 100 } },
		{ 1, 1, 1, { 0, 50 }, { 30, 100 }, { 0, 30 } },
		/* touching ranges do not cut */
		{ 1, 2, 1, { 50, 100 }, { 0, 50, 100, 150 }, { 50, 100 } },
		/* several holes */
		{ 1,
		  3,
		  4,
		  { 0, 100 },
		  { 10, 20, 30, 40, 50, 60 },
		  { 0, 10, 20, 30, 40, 50, 60, 100 } },
		/* adjacent have ranges leave no gap */
		{ 1, 2, 2, { 0, 100 }, { 10, 50, 50, 90 }, { 0, 10, 90, 100 } },
		/* several wants, one have spanning them */
		{ 3, 1, 2, { 0, 10, 20, 30, 40, 50 }, { 5, 45 }, { 0, 5, 45, 50 } },
		/* several wants, several haves, some disjoint */
		{ 3,
		  3,
		  5,
		  { 0, 10, 20, 30, 40, 50 },
		  { 2, 4, 25, 26, 60, 70 },
		  { 0, 2, 4, 10, 20, 25, 26, 30, 40, 50 } },
		/* haves entirely before and after */
		{ 1, 2, 1, { 40, 60 }, { 0, 10, 90, 100 }, { 40, 60 } },
		/* empty want ranges are ignored */
		{ 2, 0, 1, { 5, 5, 10, 20 }, { 0 }, { 10, 20 } },
		/* negative times */
		{ 1, 1, 2, { -100, 100 }, { -10, 10 }, { -100, -10, 10, 100 } },
	};
	static const int64_t pre[] = { -5, -4 };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct sub_case *c = &cases[i];
		struct range_list w = mk(c->nw, c->w), h = mk(c->nh, c->h), out = { 0 };

		assert_int_equal(range_subtract(&w, &h, &out), 0);
		assert_ranges(&out, c->nout, c->out);
		/* out is appended to */
		range_list_free(&out);
		out = mk(1, pre);
		assert_int_equal(range_subtract(&w, &h, &out), 0);
		assert_int_equal(out.n, (size_t)c->nout + 1);
		assert_int_equal(out.v[0].from, -5);
		range_list_free(&w);
		range_list_free(&h);
		range_list_free(&out);
	}
}

/* Brute force against a bitmap on small random lists. */
static void
test_subtract_random(void **state)
{
	uint32_t seed = 7;

	(void)state;
	for (int iter = 0; iter < 2000; iter++) {
		struct range_list w = { 0 }, h = { 0 }, out = { 0 };
		unsigned char want[200] = { 0 }, have[200] = { 0 }, got[200] = { 0 };
		struct range_list *lists[2] = { &w, &h };
		unsigned char *maps[2] = { want, have };

		for (int li = 0; li < 2; li++) {
			int64_t pos = 0;

			for (;;) {
				seed = seed * 1103515245u + 12345u;
				pos += (seed >> 16) % 15;
				seed = seed * 1103515245u + 12345u;
				int64_t len = 1 + (seed >> 16) % 20;
				if (pos + len > 200)
					break;
				range_list_push(lists[li], pos, pos + len);
				memset(maps[li] + pos, 1, (size_t)len);
				pos += len + 1; /* strictly separated, sorted */
			}
		}
		assert_int_equal(range_subtract(&w, &h, &out), 0);
		for (size_t i = 0; i < out.n; i++) {
			assert_true(out.v[i].from < out.v[i].to);
			if (i > 0)
				assert_true(out.v[i - 1].to <= out.v[i].from);
			memset(got + out.v[i].from, 1, (size_t)(out.v[i].to - out.v[i].from));
		}
		for (int x = 0; x < 200; x++)
			assert_int_equal(got[x], want[x] && !have[x]);
		range_list_free(&w);
		range_list_free(&h);
		range_list_free(&out);
	}
}

static int64_t
T(int64_t y, unsigned mo, unsigned d, int h)
{
	return tf_days_from_civil(y, mo, d) * 86400 + h * 3600;
}

static void
exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
}

static char dbpath[64];

static int
setup_db(void **state)
{
	sqlite3 *db;
	int fd;

	snprintf(dbpath, sizeof(dbpath), "/tmp/ledger_test.XXXXXX");
	if ((fd = mkstemp(dbpath)) == -1)
		return -1;
	close(fd);
	if (sqlite3_open(dbpath, &db) != SQLITE_OK)
		return -1;
	exec(db, COVERAGE_SCHEMA);
	exec(db, "INSERT INTO coverage VALUES"
	         "('KRW-BTC','1h','2025-01-01T00:00:00','2025-01-02T00:00:00'),"
	         "('KRW-BTC','1h','2025-01-02T00:00:00','2025-01-03T00:00:00')," /* adjacent */
	         "('KRW-BTC','1h','2025-01-05T00:00:00','2025-01-06T00:00:00'),"
	         "('KRW-BTC','1h','2025-01-10T00:00:00','2025-01-20T00:00:00'),"
	         "('KRW-BTC','1d','2024-01-01T00:00:00','2025-01-01T00:00:00'),"
	         "('KRW-ETH','1h','2025-01-01T00:00:00','2025-02-01T00:00:00'),"
	         "('KRW-BTC','1M','2017-10-01T00:00:00','2025-06-01T00:00:00'),"
	         "('KRW-BTC','1m','2025-01-01T00:00:00','2025-01-01T01:00:00')");
	sqlite3_close(db);
	*state = dbpath;
	return 0;
}

static int
teardown_db(void **state)
{
	(void)state;
	unlink(dbpath);
	return 0;
}

static void
test_open_ro(void **state)
{
	int exists = -1;
	sqlite3 *db;

	(void)state;
	assert_null(ledger_open_ro("/nonexistent/dir/ledger.db", &exists));
	assert_int_equal(exists, 0);
	exists = -1;
	db = ledger_open_ro(dbpath, &exists);
	assert_non_null(db);
	assert_int_equal(exists, 1);
	/* read-only: writes fail */
	assert_int_not_equal(sqlite3_exec(db, "DELETE FROM coverage", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void
test_covered(void **state)
{
	struct range_list out = { 0 };
	int exists;
	sqlite3 *db;

	(void)state;
	db = ledger_open_ro(dbpath, &exists);
	assert_non_null(db);
	/* the whole of January: adjacent rows merged, sorted, clipped */
	{
		int64_t want[] = { T(2025, 1, 1, 0), T(2025, 1, 3, 0),  T(2025, 1, 5, 0),
			           T(2025, 1, 6, 0), T(2025, 1, 10, 0), T(2025, 1, 20, 0) };

		assert_int_equal(
		    ledger_covered(db, "KRW-BTC", "1h", T(2024, 12, 1, 0), T(2025, 2, 1, 0), &out),
		    0);
		assert_ranges(&out, 3, want);
		range_list_free(&out);
	}
	/* clipped on both sides */
	{
		int64_t want[] = { T(2025, 1, 1, 12), T(2025, 1, 3, 0),  T(2025, 1, 5, 0),
			           T(2025, 1, 6, 0),  T(2025, 1, 10, 0), T(2025, 1, 15, 6) };

		assert_int_equal(
		    ledger_covered(db, "KRW-BTC", "1h", T(2025, 1, 1, 12), T(2025, 1, 15, 6), &out),
		    0);
		assert_ranges(&out, 3, want);
		range_list_free(&out);
	}
	/* touching at the ends only: nothing intersects */
	assert_int_equal(
	    ledger_covered(db, "KRW-BTC", "1h", T(2025, 1, 3, 0), T(2025, 1, 5, 0), &out), 0);
	assert_int_equal(out.n, 0);
	assert_int_equal(
	    ledger_covered(db, "KRW-BTC", "1h", T(2024, 1, 1, 0), T(2025, 1, 1, 0), &out), 0);
	assert_int_equal(out.n, 0);
	/* inside one row */
	{
		int64_t want[] = { T(2025, 1, 12, 0), T(2025, 1, 13, 0) };

		assert_int_equal(
		    ledger_covered(db, "KRW-BTC", "1h", T(2025, 1, 12, 0), T(2025, 1, 13, 0), &out),
		    0);
		assert_ranges(&out, 1, want);
		range_list_free(&out);
	}
	/* other market / timeframe; "1m" and "1M" are distinct */
	{
		int64_t want_m[] = { T(2025, 1, 1, 0), T(2025, 1, 1, 1) };
		int64_t want_mo[] = { T(2025, 1, 1, 0), T(2025, 2, 1, 0) };

		assert_int_equal(
		    ledger_covered(db, "KRW-BTC", "1m", T(2025, 1, 1, 0), T(2025, 2, 1, 0), &out),
		    0);
		assert_ranges(&out, 1, want_m);
		range_list_free(&out);
		assert_int_equal(
		    ledger_covered(db, "KRW-BTC", "1M", T(2025, 1, 1, 0), T(2025, 2, 1, 0), &out),
		    0);
		assert_ranges(&out, 1, want_mo);
		range_list_free(&out);
	}
	assert_int_equal(ledger_covered(db, "KRW-XRP", "1h", 0, T(2030, 1, 1, 0), &out), 0);
	assert_int_equal(out.n, 0);
	/* empty and reversed windows */
	assert_int_equal(
	    ledger_covered(db, "KRW-BTC", "1h", T(2025, 1, 2, 0), T(2025, 1, 2, 0), &out), 0);
	assert_int_equal(out.n, 0);
	/* appends after what out held */
	assert_int_equal(range_list_push(&out, -2, -1), 0);
	assert_int_equal(
	    ledger_covered(db, "KRW-ETH", "1h", T(2025, 1, 15, 0), T(2025, 3, 1, 0), &out), 0);
	assert_int_equal(out.n, 2);
	assert_int_equal(out.v[0].from, -2);
	assert_int_equal(out.v[1].from, T(2025, 1, 15, 0));
	assert_int_equal(out.v[1].to, T(2025, 2, 1, 0));
	range_list_free(&out);
	/* huge bounds are fine */
	assert_int_equal(ledger_covered(db, "KRW-BTC", "1d", INT64_MIN / 2, INT64_MAX / 2, &out),
	                 0);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.v[0].from, T(2024, 1, 1, 0));
	range_list_free(&out);
	sqlite3_close(db);
}

static void
test_covered_memory_db(void **state)
{
	struct range_list out = { 0 };
	sqlite3 *db;

	(void)state;
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	/* no table yet: nothing covered, no error */
	assert_int_equal(ledger_covered(db, "KRW-BTC", "1h", 0, T(2030, 1, 1, 0), &out), 0);
	assert_int_equal(out.n, 0);
	exec(db, COVERAGE_SCHEMA);
	/* overlapping rows (not produced by the writer, but merged anyway) */
	exec(db, "INSERT INTO coverage VALUES"
	         "('M','1d','2025-01-01T00:00:00','2025-01-10T00:00:00'),"
	         "('M','1d','2025-01-05T00:00:00','2025-01-08T00:00:00'),"
	         "('M','1d','2025-01-09T00:00:00','2025-01-12T00:00:00')");
	{
		int64_t want[] = { T(2025, 1, 1, 0), T(2025, 1, 12, 0) };

		assert_int_equal(ledger_covered(db, "M", "1d", 0, T(2030, 1, 1, 0), &out), 0);
		assert_ranges(&out, 1, want);
		range_list_free(&out);
	}
	/* a corrupt row fails the read and leaves out as it was */
	exec(db, "INSERT INTO coverage VALUES ('M','1d','2025-02-01','garbage')");
	assert_int_equal(range_list_push(&out, 1, 2), 0);
	assert_int_equal(ledger_covered(db, "M", "1d", 0, T(2030, 1, 1, 0), &out), -1);
	assert_int_equal(out.n, 1);
	range_list_free(&out);
	sqlite3_close(db);
}

/* Paths that are not a ledger: an error, with a message, and *exists set
 * when something is there. */
static void
test_open_errors(void **state)
{
	char path[128];
	int exists = -1, fd;
	sqlite3 *db;
	struct range_list out = { 0 };

	(void)state;
	assert_null(ledger_open_ro(NULL, &exists));
	assert_int_equal(exists, 0);
	assert_null(ledger_open_ro("/nonexistent/ledger.db", NULL));
	/* a path through a file: not missing, broken */
	snprintf(path, sizeof(path), "%s/x.db", dbpath);
	errno = 0;
	db = ledger_open_ro(path, &exists);
	/* nothing logged: errno says why and the caller words it */
	assert_int_equal(errno, ENOTDIR);
	assert_null(db);
	assert_int_equal(exists, 1);
	/* a socket where the file should be: SQLite cannot open it */
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int s = socket(AF_UNIX, SOCK_STREAM, 0);

		snprintf(path, sizeof(path), "%s.sock", dbpath);
		assert_true(s >= 0);
		assert_true(strlen(path) < sizeof(sa.sun_path));
		memcpy(sa.sun_path, path, strlen(path) + 1);
		assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
		close(s);
		cap_begin();
		db = ledger_open_ro(path, &exists);
		assert_logged(cap_end(NULL), ".sock: unable to open database file");
		assert_null(db);
		assert_int_equal(exists, 1);
		unlink(path);
	}
	/* a file that is not SQLite opens, then every read fails */
	snprintf(path, sizeof(path), "/tmp/ledger_test.txt.XXXXXX");
	assert_true((fd = mkstemp(path)) >= 0);
	assert_int_equal(write(fd, "this is not a database, just some text.........\n", 49), 49);
	close(fd);
	assert_non_null(db = ledger_open_ro(path, NULL));
	cap_begin();
	assert_int_equal(ledger_covered(db, "KRW-BTC", "1h", 0, T(2030, 1, 1, 0), &out), -1);
	assert_logged(cap_end(NULL), "ledger: file is not a database");
	assert_int_equal(out.n, 0);
	sqlite3_close(db);
	unlink(path);
}

/* Databases that are not ours: a coverage table of another shape, rows
 * that do not parse, times with a suffix the writer never writes. */
static void
test_foreign_db(void **state)
{
	struct range_list out = { 0 };
	sqlite3 *db;

	(void)state;
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	exec(db, "CREATE TABLE coverage(market TEXT, timeframe TEXT, first TEXT, last TEXT)");
	cap_begin();
	assert_int_equal(ledger_covered(db, "M", "1d", 0, T(2030, 1, 1, 0), &out), -1);
	assert_logged(cap_end(NULL), "ledger: no such column: from_utc");
	sqlite3_close(db);
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	exec(db, "CREATE TABLE coverage(market TEXT, timeframe TEXT, from_utc, to_utc)");
	/* a blob sorts after any text, so it is selected, and is no time */
	exec(db, "INSERT INTO coverage VALUES ('M','1d','2025-01-01T00:00:00',X'7a7a')");
	cap_begin();
	assert_int_equal(ledger_covered(db, "M", "1d", 0, T(2030, 1, 1, 0), &out), -1);
	assert_logged(cap_end(NULL), "ledger: bad coverage row M 1d [2025-01-01T00:00:00, zz)");
	exec(db, "DELETE FROM coverage");
	exec(db, "INSERT INTO coverage VALUES ('M','1d','2025-13-01T00:00:00',"
	         "'2026-01-01T00:00:00')");
	cap_begin();
	assert_int_equal(ledger_covered(db, "M", "1d", 0, T(2030, 1, 1, 0), &out), -1);
	assert_logged(cap_end(NULL),
	              "ledger: bad coverage row M 1d [2025-13-01T00:00:00, 2026-01-01T00:00:00)");
	/* reversed and empty rows are corrupt too */
	exec(db, "DELETE FROM coverage");
	exec(db, "INSERT INTO coverage VALUES ('M','1d','2025-01-02T00:00:00',"
	         "'2025-01-01T00:00:00')");
	cap_begin();
	assert_int_equal(ledger_covered(db, "M", "1d", 0, T(2030, 1, 1, 0), &out), -1);
	assert_logged(cap_end(NULL),
	              "bad coverage row M 1d [2025-01-02T00:00:00, 2025-01-01T00:00:00)");
	assert_int_equal(out.n, 0);
	/* "...Z" sorts after the bare time: selected by text, empty once clipped */
	exec(db, "DELETE FROM coverage");
	exec(db, "INSERT INTO coverage VALUES ('M','1d','2025-01-01T00:00:00',"
	         "'2025-01-05T00:00:00Z')");
	assert_int_equal(ledger_covered(db, "M", "1d", T(2025, 1, 5, 0), T(2025, 1, 6, 0), &out),
	                 0);
	assert_int_equal(out.n, 0);
	sqlite3_close(db);
}

/* Another connection holding the write lock: the read fails at once
 * (this connection has no busy timeout), with SQLite's message. */
static void
test_locked(void **state)
{
	struct range_list out = { 0 };
	sqlite3 *db, *w;

	(void)state;
	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
	assert_int_equal(ledger_covered(db, "KRW-BTC", "1h", 0, T(2030, 1, 1, 0), &out), 0);
	assert_int_equal(out.n, 3);
	range_list_free(&out);
	assert_int_equal(sqlite3_open(dbpath, &w), SQLITE_OK);
	exec(w, "BEGIN EXCLUSIVE");
	exec(w, "INSERT INTO coverage VALUES ('KRW-BTC','1h','2026-01-01T00:00:00',"
	        "'2026-01-02T00:00:00')");
	cap_begin();
	assert_int_equal(ledger_covered(db, "KRW-BTC", "1h", 0, T(2030, 1, 1, 0), &out), -1);
	assert_logged(cap_end(NULL), "ledger: database is locked");
	assert_int_equal(out.n, 0);
	exec(w, "ROLLBACK");
	sqlite3_close(w);
	sqlite3_close(db);
}

/* A list that cannot grow: every append fails, the list is left as it
 * was, and the caller hears -1. */
static void
test_list_full(void **state)
{
	struct range_list full = { 0 }, want = { 0 }, have = { 0 };
	sqlite3 *db;

	(void)state;
	full.cap = full.n = SIZE_MAX / sizeof(struct range);
	assert_int_equal(range_list_push(&full, 1, 2), -1);
	assert_int_equal(full.n, SIZE_MAX / sizeof(struct range));
	assert_int_equal(range_list_push(&want, 0, 100), 0);
	/* the gap before a covered range, then the tail after the last one */
	assert_int_equal(range_list_push(&have, 10, 20), 0);
	assert_int_equal(range_subtract(&want, &have, &full), -1);
	assert_int_equal(full.n, SIZE_MAX / sizeof(struct range));
	have.v[0].from = 0;
	assert_int_equal(range_subtract(&want, &have, &full), -1);
	assert_int_equal(full.n, SIZE_MAX / sizeof(struct range));
	assert_non_null(db = ledger_open_ro(dbpath, NULL));
	cap_begin();
	assert_int_equal(ledger_covered(db, "KRW-BTC", "1h", 0, T(2030, 1, 1, 0), &full), -1);
	assert_logged(cap_end(NULL), "ledger: out of memory");
	assert_int_equal(full.n, SIZE_MAX / sizeof(struct range));
	sqlite3_close(db);
	range_list_free(&want);
	range_list_free(&have);
}

/* A database at path made by sql (NULL: an empty file). */
static void
make_db(const char *path, const char *sql)
{
	sqlite3 *db;

	unlink(path);
	if (sql == NULL) {
		FILE *f = fopen(path, "w");

		assert_non_null(f);
		fclose(f);
		return;
	}
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	exec(db, sql);
	sqlite3_close(db);
}

/* The schema rule: which files are ours, empty, newer or another's. */
static void
test_schema_kinds(void **state)
{
	static const struct {
		const char *sql;
		enum ledger_kind kind;
		const char *tables;
	} cases[] = {
		{ NULL, LEDGER_EMPTY, "" },
		{ "PRAGMA user_version = 0", LEDGER_EMPTY, "" },
		{ "PRAGMA application_id = 7", LEDGER_FOREIGN, "" },
		{ "CREATE VIEW v AS SELECT 1", LEDGER_FOREIGN, "" },
		{ "CREATE TABLE t(x)", LEDGER_FOREIGN, "t" },
		{ "CREATE TABLE candles(x)", LEDGER_FOREIGN, "candles" },
		{ "PRAGMA user_version = 4", LEDGER_NEWER, "" },
		{ "PRAGMA user_version = -2", LEDGER_FOREIGN, "" },
		{ "CREATE TABLE coverage(x); CREATE TABLE history_start(x);"
		  " CREATE TABLE candles_exact(x); PRAGMA user_version = 1",
		  LEDGER_OURS, LEDGER_TABLES_V1 },
		{ "CREATE TABLE coverage(x); CREATE TABLE history_start(x);"
		  " CREATE TABLE candles_exact(x); PRAGMA user_version = 2",
		  LEDGER_FOREIGN, LEDGER_TABLES_V1 },
		{ "CREATE TABLE coverage(x); CREATE TABLE history_start(x); CREATE TABLE markets(x);"
		  " CREATE TABLE candles_exact(x) ; CREATE INDEX i ON coverage(x); ANALYZE;"
		  " CREATE TABLE s(x INTEGER PRIMARY KEY AUTOINCREMENT); DROP TABLE s;"
		  " PRAGMA user_version = 2",
		  LEDGER_OURS, LEDGER_TABLES_V2 },
		{ "CREATE TABLE coverage(x); CREATE TABLE history_start(x); CREATE TABLE markets(x);"
		  " CREATE TABLE candles_exact(x); CREATE TABLE follows(x); PRAGMA user_version = 3",
		  LEDGER_OURS, LEDGER_TABLES_V3 },
		{ "CREATE TABLE coverage(x); CREATE TABLE history_start(x); CREATE TABLE markets(x);"
		  " CREATE TABLE candles_exact(x); PRAGMA user_version = 3",
		  LEDGER_FOREIGN, LEDGER_TABLES_V2 },
	};
	char path[128], why[LEDGER_WHY_MAX];
	struct ledger_schema sc;
	sqlite3 *db;
	int rc;

	(void)state;
	snprintf(path, sizeof(path), "%s.kind", dbpath);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		make_db(path, cases[i].sql);
		db = ledger_open_uri(path, 1, &rc, why, sizeof(why));
		assert_non_null(db);
		assert_int_equal(ledger_schema_read(db, &sc), SQLITE_OK);
		sqlite3_close(db);
		print_message("case %zu: kind %d, tables '%s'\n", i, sc.kind, sc.tables);
		assert_int_equal(sc.kind, cases[i].kind);
		assert_string_equal(sc.tables, cases[i].tables);
	}
	sc.kind = LEDGER_NEWER;
	sc.version = 9;
	ledger_schema_why(&sc, "x.db", why, sizeof(why));
	assert_string_equal(why, "x.db has schema version 9, this program knows versions 1 to 3;"
	                         " refusing to touch it");
	sc.kind = LEDGER_FOREIGN;
	sc.version = 0;
	sc.tables[0] = '\0';
	ledger_schema_why(&sc, "x.db", why, sizeof(why));
	assert_string_equal(why, "x.db is not a candlepipe database (user_version 0, tables: none);"
	                         " refusing to touch it");
	unlink(path);
}

/* The planner's open: missing is fine, ours and empty open, the rest is
 * permanent (3) or temporary (4). */
static void
test_open_checked(void **state)
{
	char path[128];
	int code = -1;
	sqlite3 *db;

	(void)state;
	snprintf(path, sizeof(path), "%s.chk", dbpath);
	unlink(path);
	assert_null(ledger_open_checked(path, &code));
	assert_int_equal(code, EXIT_OK);
	make_db(path, NULL);
	assert_non_null(db = ledger_open_checked(path, &code));
	sqlite3_close(db);
	make_db(path, "CREATE TABLE coverage(x); CREATE TABLE history_start(x);"
	              " CREATE TABLE candles_exact(x); PRAGMA user_version = 1");
	assert_non_null(db = ledger_open_checked(path, &code));
	sqlite3_close(db);
	make_db(path, "CREATE TABLE t(x)");
	cap_begin();
	assert_null(ledger_open_checked(path, &code));
	assert_logged(cap_end(NULL), "is not a candlepipe database (user_version 0, tables: t)");
	assert_int_equal(code, EXIT_PERMFAIL);
	make_db(path, "PRAGMA user_version = 5");
	cap_begin();
	assert_null(ledger_open_checked(path, &code));
	assert_logged(cap_end(NULL), "has schema version 5");
	assert_int_equal(code, EXIT_PERMFAIL);
	{
		FILE *f = fopen(path, "w");

		assert_non_null(f);
		fputs("this is not a database, just some text.........\n", f);
		fclose(f);
	}
	cap_begin();
	assert_null(ledger_open_checked(path, &code));
	assert_logged(cap_end(NULL), "file is not a database");
	assert_int_equal(code, EXIT_PERMFAIL);
	unlink(path);
	assert_int_equal(mkdir(path, 0755), 0);
	cap_begin();
	assert_null(ledger_open_checked(path, &code));
	assert_logged(cap_end(NULL), "chk is not a regular file");
	assert_int_equal(code, EXIT_PERMFAIL);
	rmdir(path);
	assert_int_equal(ledger_exit_code(SQLITE_BUSY), EXIT_TEMPFAIL);
	assert_int_equal(ledger_exit_code(SQLITE_IOERR_SHORT_READ), EXIT_TEMPFAIL);
	assert_int_equal(ledger_exit_code(SQLITE_NOTADB), EXIT_PERMFAIL);
	assert_int_equal(ledger_exit_code(SQLITE_READONLY), EXIT_PERMFAIL);
}

/* A path with characters a URI must escape opens as itself; immutable
 * and plain read-only opens create nothing beside a WAL-mode file. */
static void
test_open_uri(void **state)
{
	char path[96], side[128], why[LEDGER_WHY_MAX];
	sqlite3 *db;
	int rc;

	(void)state;
	snprintf(path, sizeof(path), "%s a?b%%c#d&e=f.db", dbpath);
	make_db(path, "PRAGMA journal_mode = WAL; CREATE TABLE t(x)");
	snprintf(side, sizeof(side), "%s-shm", path);
	assert_int_equal(access(side, F_OK), -1);
	assert_non_null(db = ledger_open_uri(path, 1, &rc, why, sizeof(why)));
	assert_int_equal(sqlite3_exec(db, "SELECT * FROM t", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(access(side, F_OK), -1);
	assert_int_equal(ledger_wal_exists(path), 0);
	assert_non_null(db = ledger_open_ro(path, NULL));
	assert_int_equal(sqlite3_exec(db, "SELECT * FROM t", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	unlink(path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-wal", path);
	unlink(side);
	assert_null(ledger_open_uri(path, 1, &rc, why, sizeof(why)));
	assert_int_equal(rc & 0xff, SQLITE_CANTOPEN);
	assert_string_equal(why, "unable to open database file");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_push_free),       cmocka_unit_test(test_subtract),
		cmocka_unit_test(test_subtract_random), cmocka_unit_test(test_open_ro),
		cmocka_unit_test(test_covered),         cmocka_unit_test(test_covered_memory_db),
		cmocka_unit_test(test_open_errors),     cmocka_unit_test(test_foreign_db),
		cmocka_unit_test(test_locked),          cmocka_unit_test(test_list_full),
		cmocka_unit_test(test_schema_kinds),    cmocka_unit_test(test_open_checked),
		cmocka_unit_test(test_open_uri),
	};

	return cmocka_run_group_tests(tests, setup_db, teardown_db);
}
