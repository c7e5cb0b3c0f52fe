/*
 * map.c: GET /v1/coverage without a market, the web page's coverage map in
 * one call (issue 16): every (market, timeframe) of the ledger with its
 * history start and its covered ranges, and with buckets=N the number of
 * stored candles in each of N equal buckets of [from, to), which is how a
 * proven stretch with no candles (no trade) is told from one with candles.
 * from and to are optional (default: the ledger's earliest and latest
 * times, from the history start on). Owns these queries, on the thread's
 * read-only connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"
#include "timeutil.h"

#define MAP_BUCKETS_MAX 4000

static const char series_sql[] =
    "SELECT market, timeframe, from_utc, to_utc FROM coverage"
    " UNION ALL SELECT market, timeframe, NULL, NULL FROM history_start h"
    " WHERE NOT EXISTS (SELECT 1 FROM coverage c WHERE c.market = h.market"
    " AND c.timeframe = h.timeframe) ORDER BY 1, 2, 3";
/* a coverage row of a market listed later starts at the epoch (nothing
 * before the listing exists): the span starts at the history start then */
static const char bounds_sql[] =
    "SELECT min(max(c.from_utc, coalesce(h.first_utc, c.from_utc))), max(c.to_utc)"
    " FROM coverage c LEFT JOIN history_start h"
    " ON h.market = c.market AND h.timeframe = c.timeframe";
static const char hist_sql[] =
    "SELECT first_utc FROM history_start WHERE market = ?1 AND timeframe = ?2";
static const char count_sql[] =
    "SELECT (CAST(strftime('%s', candle_date_time_utc) AS INTEGER) - ?3) / ?5, count(*)"
    " FROM candles_exact WHERE market = ?1 AND timeframe = ?2"
    " AND candle_date_time_utc >= ?6 AND candle_date_time_utc < ?7 GROUP BY 1";

struct map_q {
	sqlite3 *db;
	sqlite3_stmt *series, *hist, *count;
	int64_t from, to, width;
	long buckets;
	long *counts;
};

static void
put_time_text(struct buf *b, const char *t)
{
	if (t == NULL) {
		buf_puts(b, "null");
		return;
	}
	sv_buf_put(b, "\"", 1);
	buf_puts(b, t);
	sv_buf_put(b, "Z\"", 2);
}

/* The ledger's earliest and latest times where from or to are not given. */
static int
map_bounds(struct map_q *q, const struct sv_args *a)
{
	const char *f = sv_arg(a, "from"), *t = sv_arg(a, "to");
	sqlite3_stmt *st = NULL;
	int64_t lo = 0, hi = 0;

	if ((f != NULL && time_parse(f, &q->from) == -1) ||
	    (t != NULL && time_parse(t, &q->to) == -1))
		return -1;
	if (f == NULL || t == NULL) {
		if (sqlite3_prepare_v2(q->db, bounds_sql, -1, &st, NULL) != SQLITE_OK)
			return -2;
		if (sqlite3_step(st) == SQLITE_ROW) {
			(void)sdb_column_time(st, 0, &lo);
			(void)sdb_column_time(st, 1, &hi);
		}
		sqlite3_finalize(st);
		if (f == NULL)
			q->from = lo;
		if (t == NULL)
			q->to = hi;
	}
	if (q->to < q->from)
		q->to = q->from;
	return 0;
}

/* The candle counts of (market, tf) per bucket into q->counts. */
static int
map_counts(struct map_q *q, const char *market, const char *tf)
{
	sqlite3_stmt *st = q->count;
	int rc;

	memset(q->counts, 0, sizeof(long) * (size_t)q->buckets);
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, market, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, tf, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, q->from);
	sqlite3_bind_int64(st, 5, q->width);
	sdb_bind_time(st, 6, q->from);
	sdb_bind_time(st, 7, q->to);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		sqlite3_int64 i = sqlite3_column_int64(st, 0);

		if (i >= 0 && i < q->buckets)
			q->counts[i] += (long)sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The end of one series: history start, counts, the closing brace. */
static int
series_end(struct map_q *q, struct buf *b, const char *market, const char *tf)
{
	sqlite3_stmt *h = q->hist;

	buf_puts(b, "],\"history_start\":");
	sqlite3_reset(h);
	sqlite3_bind_text(h, 1, market, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(h, 2, tf, -1, SQLITE_TRANSIENT);
	put_time_text(b, sqlite3_step(h) == SQLITE_ROW ? (const char *)sqlite3_column_text(h, 0)
	                                               : NULL);
	sqlite3_reset(h);
	if (q->buckets > 0) {
		if (map_counts(q, market, tf) == -1)
			return -1;
		buf_puts(b, ",\"counts\":[");
		for (long i = 0; i < q->buckets; i++)
			buf_printf(b, "%s%ld", i > 0 ? "," : "", q->counts[i]);
		sv_buf_put(b, "]", 1);
	}
	sv_buf_put(b, "}", 1);
	return 0;
}

static void
series_start(struct buf *b, int first, const char *market, const char *tf)
{
	buf_puts(b, first ? "{\"market\":" : ",{\"market\":");
	sv_buf_json_str(b, market);
	buf_puts(b, ",\"timeframe\":");
	sv_buf_json_str(b, tf);
	buf_puts(b, ",\"covered\":[");
}

/* Every series of the ledger into b. */
static int
map_series(struct map_q *q, struct buf *b)
{
	char market[64] = "", tf[8] = "";
	int n = 0, rc, in_range = 0;

	while ((rc = sqlite3_step(q->series)) == SQLITE_ROW) {
		const char *m = (const char *)sqlite3_column_text(q->series, 0);
		const char *t = (const char *)sqlite3_column_text(q->series, 1);
		const char *f = (const char *)sqlite3_column_text(q->series, 2);

		if (m == NULL || t == NULL || strlen(m) >= sizeof(market) ||
		    strlen(t) >= sizeof(tf))
			continue;
		if (strcmp(m, market) != 0 || strcmp(t, tf) != 0) {
			if (n > 0 && series_end(q, b, market, tf) == -1)
				return -1;
			snprintf(market, sizeof(market), "%s", m);
			snprintf(tf, sizeof(tf), "%s", t);
			series_start(b, n++ == 0, m, t);
			in_range = 0;
		}
		if (f == NULL)
			continue;
		buf_puts(b, in_range++ ? ",[" : "[");
		put_time_text(b, f);
		sv_buf_put(b, ",", 1);
		put_time_text(b, (const char *)sqlite3_column_text(q->series, 3));
		sv_buf_put(b, "]", 1);
	}
	if (rc != SQLITE_DONE || (n > 0 && series_end(q, b, market, tf) == -1))
		return -1;
	return 0;
}

static int
map_prepare(struct map_q *q)
{
	if ((q->db = sdb_handle()) == NULL)
		return -1;
	return sqlite3_prepare_v2(q->db, series_sql, -1, &q->series, NULL) == SQLITE_OK &&
	               sqlite3_prepare_v2(q->db, hist_sql, -1, &q->hist, NULL) == SQLITE_OK &&
	               sqlite3_prepare_v2(q->db, count_sql, -1, &q->count, NULL) == SQLITE_OK
	           ? 0
	           : -1;
}

/* The answer's head and series into r: 0, or -1 (the database failed). */
static int
map_build(struct map_q *q, const struct sv_args *a, struct sv_reply *r)
{
	char f[TIME_TEXT_LEN], t[TIME_TEXT_LEN];
	int rc;

	if ((rc = map_bounds(q, a)) != 0) {
		if (rc == -1)
			reply_error(r, 400, SV_ERROR,
			            "Invalid parameter: from and to must be times like "
			            "2026-10-01T00:00:00Z");
		return rc == -1 ? 0 : -1;
	}
	q->width = q->buckets > 0 ? (q->to - q->from + q->buckets - 1) / q->buckets : 0;
	if (q->width <= 0)
		q->width = 1;
	time_format(q->from, f);
	time_format(q->to, t);
	buf_printf(&r->body, "{\"from\":\"%sZ\",\"to\":\"%sZ\",\"buckets\":%ld,", f, t, q->buckets);
	buf_printf(&r->body, "\"bucket_seconds\":%lld,\"series\":[", (long long)q->width);
	if (map_series(q, &r->body) == -1)
		return -1;
	buf_puts(&r->body, "]}\n");
	r->status = 200;
	return 0;
}

void
map_coverage(const struct sv_args *a, struct sv_reply *r)
{
	struct map_q q = { 0 };
	const char *nb = sv_arg(a, "buckets");
	char *end = NULL;

	if (nb != NULL) {
		q.buckets = strtol(nb, &end, 10);
		if (*nb == '\0' || *end != '\0' || q.buckets < 0 || q.buckets > MAP_BUCKETS_MAX) {
			reply_error(r, 400, SV_ERROR,
			            "Invalid parameter: buckets is a number from 0 to 4000");
			return;
		}
	}
	if (q.buckets > 0 && (q.counts = calloc((size_t)q.buckets, sizeof(long))) == NULL) {
		reply_error(r, 500, SV_ERROR, "out of memory");
		return;
	}
	if (sdb_exec(SQ_BEGIN) == -1 || map_prepare(&q) == -1 || map_build(&q, a, r) == -1)
		reply_error(r, 500, SV_ERROR, "cannot read the database");
	sqlite3_finalize(q.series);
	sqlite3_finalize(q.hist);
	sqlite3_finalize(q.count);
	(void)sdb_exec(SQ_COMMIT);
	free(q.counts);
}
