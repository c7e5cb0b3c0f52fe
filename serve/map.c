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

/* the statements: SQ_SERIES, SQ_BOUNDS, SQ_HIST and SQ_BUCKETS (sdb.c) */
struct map_q {
	struct sdb_st *series, *hist, *count;
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
	struct sdb_st *st;
	int64_t lo = 0, hi = 0;

	if ((f != NULL && time_parse(f, &q->from) == -1) ||
	    (t != NULL && time_parse(t, &q->to) == -1))
		return -1;
	if (f == NULL || t == NULL) {
		if ((st = sdb_stmt(SQ_BOUNDS)) == NULL)
			return -2;
		if (sdb_step(st) == 1) {
			(void)sdb_column_time(st, 0, &lo);
			(void)sdb_column_time(st, 1, &hi);
		}
		sdb_reset(st);
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
	struct sdb_st *st = q->count;
	int rc;

	memset(q->counts, 0, sizeof(long) * (size_t)q->buckets);
	sdb_reset(st);
	sdb_bind_text(st, 1, market);
	sdb_bind_text(st, 2, tf);
	sdb_bind_int(st, 3, q->from);
	sdb_bind_int(st, 4, q->width);
	sdb_bind_time(st, 5, q->from);
	sdb_bind_time(st, 6, q->to);
	while ((rc = sdb_step(st)) == 1) {
		int64_t i = sdb_col_int(st, 0);

		if (i >= 0 && i < q->buckets)
			q->counts[i] += (long)sdb_col_int(st, 1);
	}
	sdb_reset(st);
	return rc == 0 ? 0 : -1;
}

/* The end of one series: history start, counts, the closing brace. */
static int
series_end(struct map_q *q, struct buf *b, const char *market, const char *tf)
{
	struct sdb_st *h = q->hist;

	buf_puts(b, "],\"history_start\":");
	sdb_reset(h);
	sdb_bind_text(h, 1, market);
	sdb_bind_text(h, 2, tf);
	put_time_text(b, sdb_step(h) == 1 ? sdb_col_text(h, 0) : NULL);
	sdb_reset(h);
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

	while ((rc = sdb_step(q->series)) == 1) {
		const char *m = sdb_col_text(q->series, 0);
		const char *t = sdb_col_text(q->series, 1);
		const char *f = sdb_col_text(q->series, 2);

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
		put_time_text(b, sdb_col_text(q->series, 3));
		sv_buf_put(b, "]", 1);
	}
	if (rc != 0 || (n > 0 && series_end(q, b, market, tf) == -1))
		return -1;
	return 0;
}

static int
map_prepare(struct map_q *q)
{
	q->series = sdb_stmt(SQ_SERIES);
	q->hist = sdb_stmt(SQ_HIST);
	q->count = sdb_stmt(SQ_BUCKETS);
	return q->series != NULL && q->hist != NULL && q->count != NULL ? 0 : -1;
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
		sdb_reply_error(r);
	if (q.series != NULL)
		sdb_reset(q.series);
	(void)sdb_exec(SQ_COMMIT);
	free(q.counts);
}
