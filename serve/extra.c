/*
 * extra.c: the routes of cp-serve beyond Upbit: /v1/coverage (what the
 * ledger proves of a range: ratio and missing ranges), /v1/candles/range (a
 * covered range of any length, oldest first, streamed as JSON lines in
 * pages so that no long read stays open) and /readyz (the database answers).
 * An unproven range is read through as a candle window is (readthru.c).
 * Their parameters: market, timeframe (1s 1m 3m 5m 10m 15m 30m 1h 4h 1d 1w
 * 1M 1y), from and to (the times ./run.sh collect takes; unaligned bounds
 * round up to the next slot, from inclusive, to exclusive).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"
#include "timeutil.h"

#define RANGE_PAGE_ROWS 500
#define STREAM_BLOCK_BYTES (64 * 1024)
#define MARKET_MAX 64

/* market, timeframe, from, to into *s: 0, or -1 with the 400. */
int
extra_span_args(const struct sv_args *a, struct sv_span *s, struct sv_reply *r)
{
	const char *tf = sv_arg(a, "timeframe"), *from = sv_arg(a, "from"), *to = sv_arg(a, "to");
	const char *err = NULL;

	s->market = sv_arg(a, "market");
	if (s->market == NULL || *s->market == '\0' || tf == NULL || from == NULL || to == NULL)
		err =
		    "Missing request parameter error: market, timeframe, from and to are required";
	else if (strlen(s->market) >= MARKET_MAX)
		err = "Invalid parameter: market is too long";
	else if (tf_parse(tf, &s->tf) == -1)
		err = "Invalid parameter: timeframe must be one of 1s 1m 3m 5m 10m 15m 30m 1h 4h "
		      "1d 1w 1M 1y";
	else if (time_parse(from, &s->from) == -1 || time_parse(to, &s->to) == -1)
		err = "Invalid parameter: from and to must be times like 2026-10-01T00:00:00Z";
	if (err != NULL) {
		reply_error(r, 400, SV_ERROR, err);
		return -1;
	}
	s->from = tf_ceil(s->tf, s->from);
	s->to = tf_ceil(s->tf, s->to);
	if (s->to < s->from)
		s->to = s->from;
	return 0;
}

/* ---- /v1/coverage ------------------------------------------------------- */

static void
put_range(struct buf *b, enum tf tf, int64_t from, int64_t to)
{
	char f[TIME_TEXT_LEN], t[TIME_TEXT_LEN];

	time_format(from, f);
	time_format(to, t);
	buf_printf(b, "{\"from\":\"%s\",\"to\":\"%s\",\"slots\":%lld}", f, t,
	           (long long)tf_count(tf, from, to));
}

/* The missing ranges of s: want minus covered (aligned), from the history
 * start on. 0 or -1. */
static int
missing_of(const struct sv_span *s, int64_t first, int have, struct range_list *miss)
{
	struct range_list raw = { 0 }, cov = { 0 }, want = { 0 }, all = { 0 };
	int rc = -1;

	if (sdb_exec(SQ_BEGIN) == -1)
		return -1;
	if (sdb_covered(s->market, s->tf, s->from, s->to, &raw) == -1)
		goto done;
	for (size_t i = 0; i < raw.n; i++) {
		int64_t a = tf_ceil(s->tf, raw.v[i].from), b = tf_ceil(s->tf, raw.v[i].to);

		if (a < b && range_list_push(&cov, a, b) == -1)
			goto done;
	}
	if (range_list_push(&want, have && first > s->from ? first : s->from, s->to) == -1)
		goto done;
	if (want.v[0].from < want.v[0].to && range_subtract(&want, &cov, &all) == -1)
		goto done;
	for (size_t i = 0; i < all.n; i++)
		if (range_list_push(miss, all.v[i].from, all.v[i].to) == -1)
			goto done;
	rc = 0;
done:
	if (sdb_exec(SQ_COMMIT) == -1)
		rc = -1;
	range_list_free(&raw);
	range_list_free(&cov);
	range_list_free(&want);
	range_list_free(&all);
	return rc;
}

static void
coverage_json(struct buf *b, const struct sv_span *s, int64_t first, int have,
              const struct range_list *miss)
{
	int64_t slots = tf_count(s->tf, s->from, s->to), missing = 0, before = 0;
	char f[TIME_TEXT_LEN], t[TIME_TEXT_LEN], h[TIME_TEXT_LEN];

	for (size_t i = 0; i < miss->n; i++)
		missing += tf_count(s->tf, miss->v[i].from, miss->v[i].to);
	if (have && first > s->from)
		before = tf_count(s->tf, s->from, first < s->to ? first : s->to);
	time_format(s->from, f);
	time_format(s->to, t);
	buf_puts(b, "{\"market\":");
	sv_buf_json_str(b, s->market);
	buf_printf(b, ",\"timeframe\":\"%s\",\"from\":\"%s\",\"to\":\"%s\",\"slots\":%lld,",
	           tf_name(s->tf), f, t, (long long)slots);
	buf_printf(b,
	           "\"covered_slots\":%lld,\"missing_slots\":%lld,\"before_history_slots\":%lld,",
	           (long long)(slots - missing - before), (long long)missing, (long long)before);
	buf_printf(b, "\"ratio\":%.6f,",
	           slots > 0 ? (double)(slots - missing) / (double)slots : 1.0);
	if (have) {
		time_format(first, h);
		buf_printf(b, "\"history_start\":\"%s\",", h);
	} else {
		buf_puts(b, "\"history_start\":null,");
	}
	buf_puts(b, "\"missing\":[");
	for (size_t i = 0; i < miss->n; i++) {
		if (i > 0)
			sv_buf_put(b, ",", 1);
		put_range(b, s->tf, miss->v[i].from, miss->v[i].to);
	}
	buf_puts(b, "]}\n");
}

void
extra_coverage(const struct sv_args *a, struct sv_reply *r)
{
	struct range_list miss = { 0 };
	struct sv_span s;
	int64_t first = 0;
	int have = 0;

	if (extra_span_args(a, &s, r) == -1)
		return;
	if (sdb_history(s.market, s.tf, &first, &have) == -1 ||
	    missing_of(&s, first, have, &miss) == -1) {
		sdb_reply_error(r);
	} else {
		coverage_json(&r->body, &s, first, have, &miss);
		r->status = 200;
	}
	range_list_free(&miss);
}

/* ---- /v1/candles/range ------------------------------------------------------ */

struct stream {
	char market[MARKET_MAX];
	enum tf tf;
	int64_t next, to; /* the next page starts at next */
	int done;
	struct buf page;
	size_t off;
};

/* The next page of candles into st->page: 0 or -1. */
static int
stream_fill(struct stream *s)
{
	struct sdb_st *st = sdb_stmt(SQ_RANGE);
	int rc, n = 0;
	int64_t last = s->next;

	buf_reset(&s->page);
	s->off = 0;
	if (st == NULL)
		return -1;
	sdb_bind_text(st, 1, s->market);
	sdb_bind_text(st, 2, tf_name(s->tf));
	sdb_bind_time(st, 3, s->next);
	sdb_bind_time(st, 4, s->to);
	sdb_bind_int(st, 5, RANGE_PAGE_ROWS);
	while ((rc = sdb_step(st)) == 1) {
		sdb_candle_json(&s->page, s->market, st, 0);
		sv_buf_put(&s->page, "\n", 1);
		if (sdb_column_time(st, 0, &last) == -1)
			break;
		n++;
	}
	sdb_reset(st);
	if (rc != 0 || s->page.err)
		return -1;
	s->next = last + 1;
	s->done = n < RANGE_PAGE_ROWS;
	return 0;
}

static ssize_t
stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct stream *s = cls;
	size_t n;

	(void)pos;
	if (s->off == s->page.len) {
		if (s->done)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (stream_fill(s) == -1)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		if (s->page.len == 0)
			return MHD_CONTENT_READER_END_OF_STREAM;
	}
	n = s->page.len - s->off;
	if (n > max)
		n = max;
	memcpy(out, s->page.data + s->off, n);
	s->off += n;
	return (ssize_t)n;
}

static void
stream_free(void *cls)
{
	struct stream *s = cls;

	buf_free(&s->page);
	free(s);
}

/* Whether the ledger proves [from, to) of s (from the history start on). */
static int
span_proven(const struct sv_span *s, int *yes)
{
	int64_t first = 0, lo = s->from;
	int have = 0, rc = -1;

	*yes = 0;
	if (sdb_exec(SQ_BEGIN) == -1)
		return -1;
	if (sdb_history(s->market, s->tf, &first, &have) == 0) {
		if (have && first > lo)
			lo = first;
		if (lo >= s->to)
			*yes = 1, rc = 0;
		else
			rc = sdb_proven(s->market, s->tf, lo, s->to, yes);
	}
	if (sdb_exec(SQ_COMMIT) == -1)
		rc = -1;
	return rc;
}

/* An unproven range: the 503, or (read-through) a wait on the job of the
 * span from its first missing slot to its last. */
static void
range_miss(const struct sv_span *s, struct sv_reply *r)
{
	static const char why[] =
	    "this range is not collected yet (see /v1/coverage for what is missing)";
	struct range_list miss = { 0 };
	int64_t first = 0;
	int have = 0;

	if (readthru_on() && (sdb_history(s->market, s->tf, &first, &have) == -1 ||
	                      missing_of(s, first, have, &miss) == -1))
		sdb_reply_error(r);
	else if (!readthru_on() || miss.n == 0)
		reply_miss(r, why);
	else
		readthru_miss(r, why, s->market, s->tf, miss.v[0].from, miss.v[miss.n - 1].to);
	range_list_free(&miss);
}

void
extra_range(const struct sv_args *a, struct sv_reply *r)
{
	struct stream *st;
	struct sv_span s;
	int yes;

	if (extra_span_args(a, &s, r) == -1)
		return;
	if (span_proven(&s, &yes) == -1) {
		sdb_reply_error(r);
		return;
	}
	if (!yes) {
		range_miss(&s, r);
		return;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		reply_error(r, 500, SV_ERROR, "out of memory");
		return;
	}
	snprintf(st->market, sizeof(st->market), "%s", s.market);
	st->tf = s.tf;
	st->next = s.from;
	st->to = s.to;
	st->done = s.from >= s.to;
	r->stream = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK_BYTES,
	                                              stream_read, st, stream_free);
	if (r->stream == NULL) {
		stream_free(st);
		reply_error(r, 500, SV_ERROR, "out of memory");
		return;
	}
	r->status = 200;
	r->ctype = SV_CT_JSONL;
}

/* ---- /readyz -------------------------------------------------------------- */

void
extra_readyz(struct sv_reply *r)
{
	struct sdb_st *st = sdb_stmt(SQ_PING);
	int rc = st != NULL ? sdb_step(st) : -1;

	if (st != NULL)
		sdb_reset(st);
	if (rc >= 0) {
		buf_puts(&r->body, "{\"ready\":true}\n");
		r->status = 200;
	} else {
		reply_error(r, 503, SV_ERROR, "the database cannot be read");
	}
}
