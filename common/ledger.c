/*
 * ledger.c: the read side of the coverage ledger and the range-list helpers
 * the planner builds on. Owns range_list memory (push/free), the set
 * difference of sorted half-open range lists, and read-only access to the
 * coverage table. The writer owns the schema and every write.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ledger.h"
#include "log.h"
#include "timeutil.h"

#define LEDGER_BUSY_TIMEOUT_MS 5000

int
range_list_push(struct range_list *l, int64_t from, int64_t to)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct range *v;

		if (cap > SIZE_MAX / sizeof(*v) || (v = realloc(l->v, cap * sizeof(*v))) == NULL)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n].from = from;
	l->v[l->n].to = to;
	l->n++;
	return 0;
}

void
range_list_free(struct range_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

int
range_subtract(const struct range_list *want, const struct range_list *have, struct range_list *out)
{
	size_t j = 0, n0 = out->n;

	for (size_t i = 0; i < want->n; i++) {
		int64_t cur = want->v[i].from, end = want->v[i].to;

		if (cur >= end)
			continue;
		/* have ranges ending at or before cur cannot cut later wants */
		while (j < have->n && have->v[j].to <= cur)
			j++;
		for (size_t k = j; k < have->n && have->v[k].from < end; k++) {
			if (have->v[k].from > cur &&
			    range_list_push(out, cur, have->v[k].from) == -1)
				goto fail;
			if (have->v[k].to > cur)
				cur = have->v[k].to;
			if (cur >= end)
				break;
		}
		if (cur < end && range_list_push(out, cur, end) == -1)
			goto fail;
	}
	return 0;
fail:
	out->n = n0;
	return -1;
}

sqlite3 *
ledger_open_ro(const char *path, int *exists)
{
	struct stat st;
	sqlite3 *db = NULL;

	if (exists != NULL)
		*exists = 0;
	if (path == NULL)
		return NULL;
	if (stat(path, &st) == -1) {
		if (errno == ENOENT)
			return NULL;
		log_warn("%s", path);
		if (exists != NULL)
			*exists = 1;
		return NULL;
	}
	if (exists != NULL)
		*exists = 1;
	/* sqlite3_errmsg(NULL) is "out of memory", the one reason for no handle */
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_busy_timeout(db, LEDGER_BUSY_TIMEOUT_MS) != SQLITE_OK) {
		log_warnx("%s: %s", path, sqlite3_errmsg(db));
		goto fail;
	}
	return db;
fail:
	sqlite3_close(db);
	return NULL;
}

/* 1 if the coverage table exists, 0 if not, -1 on error. */
static int
coverage_exists(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db,
	                       "SELECT 1 FROM sqlite_master WHERE type = 'table' "
	                       "AND name = 'coverage'",
	                       -1, &st, NULL) != SQLITE_OK) {
		log_warnx("ledger: %s", sqlite3_errmsg(db));
		return -1;
	}
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	log_warnx("ledger: %s", sqlite3_errmsg(db));
	return -1;
}

/* The coverage rows of (market, tf) that intersect [from, to), sorted:
 * a prepared statement, or NULL (logged). */
static sqlite3_stmt *
covered_query(sqlite3 *db, const char *market, const char *tf, int64_t from, int64_t to)
{
	char tfrom[TIME_TEXT_LEN], tto[TIME_TEXT_LEN];
	sqlite3_stmt *st = NULL;

	/* time_format clamps to years 0000..9999, where text order is time order */
	time_format(from, tfrom);
	time_format(to, tto);
	if (sqlite3_prepare_v2(db,
	                       "SELECT from_utc, to_utc FROM coverage "
	                       "WHERE market = ?1 AND timeframe = ?2 "
	                       "AND to_utc > ?3 AND from_utc < ?4 ORDER BY from_utc",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, market, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, tf, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 3, tfrom, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
	    sqlite3_bind_text(st, 4, tto, -1, SQLITE_TRANSIENT) != SQLITE_OK) {
		log_warnx("ledger: %s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

/* The current row as a range [*f, *t); 0, or -1 (logged) if malformed. */
static int
covered_row(sqlite3_stmt *st, const char *market, const char *tf, int64_t *f, int64_t *t)
{
	const char *a = (const char *)sqlite3_column_text(st, 0);
	const char *b = (const char *)sqlite3_column_text(st, 1);

	/* time_parse rejects NULL (a value SQLite could not turn into text) */
	if (time_parse(a, f) == 0 && time_parse(b, t) == 0 && *f < *t)
		return 0;
	log_warnx("ledger: bad coverage row %s %s [%s, %s)", market, tf, a ? a : "NULL",
	          b ? b : "NULL");
	return -1;
}

/* Appends [f, t) to out, merged into the last range of out past n0 when
 * adjacent or overlapping. 0 or -1 (logged). */
static int
covered_append(struct range_list *out, size_t n0, int64_t f, int64_t t)
{
	struct range *last = out->n > n0 ? &out->v[out->n - 1] : NULL;

	if (last != NULL && last->to >= f) {
		if (last->to < t)
			last->to = t;
		return 0;
	}
	if (range_list_push(out, f, t) == -1) {
		log_warnx("ledger: out of memory");
		return -1;
	}
	return 0;
}

int
ledger_covered(sqlite3 *db, const char *market, const char *tf, int64_t from, int64_t to,
               struct range_list *out)
{
	sqlite3_stmt *st;
	size_t n0 = out->n;
	int64_t f, t;
	int rc, ex;

	if (from >= to)
		return 0;
	if ((ex = coverage_exists(db)) != 1)
		return ex; /* a ledger without the table yet covers nothing */
	if ((st = covered_query(db, market, tf, from, to)) == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (covered_row(st, market, tf, &f, &t) == -1)
			goto fail;
		/* clipped to [from, to) */
		f = f < from ? from : f;
		t = t > to ? to : t;
		if (f < t && covered_append(out, n0, f, t) == -1)
			goto fail;
	}
	if (rc != SQLITE_DONE) {
		log_warnx("ledger: %s", sqlite3_errmsg(db));
		goto fail;
	}
	sqlite3_finalize(st);
	return 0;
fail:
	sqlite3_finalize(st);
	out->n = n0;
	return -1;
}
