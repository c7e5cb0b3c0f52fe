/*
 * gaps.c: /v1/gaps?market&timeframe&from&to[&min_length=N], what a (market,
 * timeframe) lacks in [from, to), meant as `cp-query gaps` means it and in
 * the same JSON object as `./run.sh gaps --format json`: the ranges never
 * fetched (the window minus the ledger's coverage, from the history bound
 * on), the no-trade stretches (maximal runs of covered slots without a
 * candle, which the ledger proves empty) and the part before the history
 * bound (history_start, or an older stored candle: nothing exists there).
 * Reads through the ledger (common/ledger.h) on the thread's read-only
 * connection, in one read transaction; one pass over the candles.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"
#include "timeutil.h"

#define MIN_LENGTH_MAX 1000000000000000LL

/* What the report is about, and what it found. */
struct greport {
	struct sv_span s;
	int64_t bound, min_len;
	int have_bound;
	struct range_list cov, missing, before;
	struct buf stretches; /* the listed no-trade ranges, as JSON */
	unsigned long long n, listed, hidden;
	int64_t slots, longest;
};

static void
range_json(struct buf *b, enum tf tf, int64_t from, int64_t to, int first)
{
	char f[TIME_TEXT_LEN], t[TIME_TEXT_LEN];

	time_format(from, f);
	time_format(to, t);
	buf_printf(b, "%s{\"from\":\"%s\",\"to\":\"%s\",\"slots\":%lld,\"seconds\":%lld}",
	           first ? "" : ",", f, t, (long long)tf_count(tf, from, to),
	           (long long)(to - from));
}

static void
list_json(struct buf *b, const char *key, enum tf tf, const struct range_list *l)
{
	buf_printf(b, "\"%s\":[", key);
	for (size_t i = 0; i < l->n; i++)
		range_json(b, tf, l->v[i].from, l->v[i].to, i == 0);
	buf_puts(b, "]");
}

/* Statement which bound to (market, tf[, from, to]); NULL on error. */
static struct sdb_st *
prepare(enum sv_stmt which, const struct sv_span *s, int64_t from, int64_t to)
{
	struct sdb_st *st = sdb_stmt(which);

	if (st == NULL)
		return NULL;
	sdb_bind_text(st, 1, s->market);
	sdb_bind_text(st, 2, tf_name(s->tf));
	if (which == SQ_TIMES) {
		sdb_bind_time(st, 3, from);
		sdb_bind_time(st, 4, to);
	}
	return st;
}

/* The history bound: history_start, or an older stored candle (the
 * seconds horizon moves on, older candles stay). 0 or -1. */
static int
history_bound(struct greport *g)
{
	struct sdb_st *st;
	int64_t first;
	int rc;

	if (sdb_history(g->s.market, g->s.tf, &g->bound, &g->have_bound) == -1)
		return -1;
	if (!g->have_bound)
		return 0;
	if ((st = prepare(SQ_OLDEST, &g->s, 0, 0)) == NULL)
		return -1;
	rc = sdb_step(st);
	if (rc == 1 && sdb_column_time(st, 0, &first) == 0 && first < g->bound)
		g->bound = first;
	sdb_reset(st);
	return rc == 1 ? 0 : -1;
}

/* The coverage of the window in whole slots (a range proven up to the
 * history's end starts at the epoch, not on a week's grid). 0 or -1. */
static int
covered_slots(struct greport *g)
{
	struct range_list raw = { 0 };
	int rc = sdb_covered(g->s.market, g->s.tf, g->s.from, g->s.to, &raw);

	for (size_t i = 0; rc == 0 && i < raw.n; i++) {
		int64_t a = tf_ceil(g->s.tf, raw.v[i].from), b = tf_ceil(g->s.tf, raw.v[i].to);

		if (a < b)
			rc = range_list_push(&g->cov, a, b);
	}
	range_list_free(&raw);
	return rc;
}

/* Coverage, missing and before-history ranges. */
static int
split(struct greport *g)
{
	struct range_list want = { 0 }, all = { 0 };
	int rc = -1;

	if (covered_slots(g) == -1)
		goto done;
	if (range_list_push(&want, g->s.from, g->s.to) == -1 ||
	    range_subtract(&want, &g->cov, &all) == -1)
		goto done;
	if (g->have_bound && g->s.from < g->bound &&
	    range_list_push(&g->before, g->s.from, g->s.to < g->bound ? g->s.to : g->bound) == -1)
		goto done;
	for (size_t i = 0; i < all.n; i++) {
		int64_t a = all.v[i].from, b = all.v[i].to;

		if (g->have_bound && a < g->bound)
			a = b < g->bound ? b : g->bound;
		if (a < b && range_list_push(&g->missing, a, b) == -1)
			goto done;
	}
	rc = 0;
done:
	range_list_free(&want);
	range_list_free(&all);
	return rc;
}

/* [a, b) of covered slots holds no candle: one no-trade stretch. */
static void
stretch(struct greport *g, int64_t a, int64_t b)
{
	int64_t n = tf_count(g->s.tf, a, b);

	if (n < g->min_len)
		g->hidden++;
	else
		range_json(&g->stretches, g->s.tf, a, b, g->listed++ == 0);
	g->n++;
	g->slots += n;
	if (b - a > g->longest)
		g->longest = b - a;
}

/* Slots [a, b) hold no candle: their covered parts are stretches. */
static void
empty_span(struct greport *g, size_t *ci, int64_t a, int64_t b)
{
	const struct range_list *cov = &g->cov;

	while (*ci < cov->n && cov->v[*ci].to <= a)
		(*ci)++;
	for (size_t k = *ci; k < cov->n && cov->v[k].from < b; k++)
		stretch(g, cov->v[k].from > a ? cov->v[k].from : a,
		        cov->v[k].to < b ? cov->v[k].to : b);
}

/* The one pass over the candles of [lo, to). */
static int
walk(struct greport *g, int64_t lo)
{
	struct sdb_st *st;
	int64_t next = lo, t;
	size_t ci = 0;
	int rc;

	if (lo >= g->s.to)
		return 0;
	if ((st = prepare(SQ_TIMES, &g->s, lo, g->s.to)) == NULL)
		return -1;
	while ((rc = sdb_step(st)) == 1) {
		if (sdb_column_time(st, 0, &t) == -1)
			break;
		t = tf_floor(g->s.tf, t);
		if (t > next)
			empty_span(g, &ci, next, t);
		if (t >= next)
			next = tf_add(g->s.tf, t, 1);
	}
	sdb_reset(st);
	if (rc != 0)
		return -1;
	empty_span(g, &ci, next, g->s.to);
	return 0;
}

static void
report_json(const struct greport *g, struct buf *b)
{
	char f[TIME_TEXT_LEN], t[TIME_TEXT_LEN], h[TIME_TEXT_LEN];
	int64_t missing = 0;

	for (size_t i = 0; i < g->missing.n; i++)
		missing += tf_count(g->s.tf, g->missing.v[i].from, g->missing.v[i].to);
	time_format(g->s.from, f);
	time_format(g->s.to, t);
	time_format(g->bound, h);
	buf_puts(b, "{\"market\":");
	sv_buf_json_str(b, g->s.market);
	buf_printf(b, ",\"timeframe\":\"%s\",\"from\":\"%s\",\"to\":\"%s\",\"history_start\":",
	           tf_name(g->s.tf), f, t);
	buf_printf(b, g->have_bound ? "\"%s\"" : "null", h);
	buf_printf(b, ",\"slots\":%lld,", (long long)tf_count(g->s.tf, g->s.from, g->s.to));
	list_json(b, "before_history", g->s.tf, &g->before);
	buf_puts(b, ",");
	list_json(b, "missing", g->s.tf, &g->missing);
	buf_puts(b, ",\"no_trade\":[");
	if (g->stretches.len > 0)
		sv_buf_put(b, g->stretches.data, g->stretches.len);
	buf_printf(b,
	           "],\"missing_ranges\":%zu,\"missing_slots\":%lld,\"no_trade_stretches\":%llu,"
	           "\"no_trade_slots\":%lld,\"longest_no_trade_seconds\":%lld,\"min_length\":%lld,"
	           "\"no_trade_not_listed\":%llu}\n",
	           g->missing.n, (long long)missing, g->n, (long long)g->slots,
	           (long long)g->longest, (long long)g->min_len, g->hidden);
}

/* min_length: 1.. (default 1): 0, or -1 with the 400. */
static int
min_length_arg(const struct sv_args *a, int64_t *out, struct sv_reply *r)
{
	const char *v = sv_arg(a, "min_length");
	char *end;
	long long n;

	*out = 1;
	if (v == NULL)
		return 0;
	n = strtoll(v, &end, 10);
	if (*v == '\0' || *end != '\0' || n < 1 || n > MIN_LENGTH_MAX) {
		reply_error(r, 400, SV_ERROR, "Invalid parameter: min_length must be 1 or more");
		return -1;
	}
	*out = n;
	return 0;
}

void
gaps_route(const struct sv_args *a, struct sv_reply *r)
{
	struct greport g = { 0 };
	int rc = -1;

	if (extra_span_args(a, &g.s, r) == -1 || min_length_arg(a, &g.min_len, r) == -1)
		return;
	if (sdb_exec(SQ_BEGIN) == -1) {
		sdb_reply_error(r);
		return;
	}
	if (history_bound(&g) == 0 && split(&g) == 0)
		rc = walk(&g, g.have_bound && g.bound > g.s.from
		                  ? (g.bound < g.s.to ? g.bound : g.s.to)
		                  : g.s.from);
	if (sdb_exec(SQ_COMMIT) == -1 || rc == -1 || g.stretches.err) {
		sdb_reply_error(r);
	} else {
		report_json(&g, &r->body);
		r->status = 200;
	}
	range_list_free(&g.cov);
	range_list_free(&g.missing);
	range_list_free(&g.before);
	buf_free(&g.stretches);
}
