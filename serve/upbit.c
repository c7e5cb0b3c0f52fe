/*
 * upbit.c: the Upbit-compatible routes of cp-serve: the six candle routes
 * and /v1/market/all, with Upbit's parameters (market, to, count,
 * converting_price_unit, is_details), its rules (newest first, `to`
 * exclusive, count 1.., more than 200 served as 200) and its error bodies,
 * checked in Upbit's order (unit, market, count, to, then an unknown market).
 *
 * A candle answer comes from SQLite only when the ledger proves it: the N
 * newest stored candles before `to` are the whole truth when one coverage
 * range runs from the N-th newest candle's start (or from the history start
 * when fewer than N exist) to the end of the slot that holds `to`. The read
 * and the proof share one read transaction, so the writer cannot slip a
 * candle in between. Anything else is a miss: without --control a 503;
 * with it, the window that is missing (the slots below the covered top of
 * the window that can still hold the count candles asked for) becomes a job
 * of the daemon (readthru.c) and the request is asked again once it ended.
 * The newest candles (no `to`, or a future one) are the closed ones from
 * the database, the forming one from upstream on top (forming in
 * readthru.c), never cached.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "serve.h"
#include "timeutil.h"

#define MS_PER_S 1000
#define CANDLE_JSON_GUESS 400 /* bytes of one candle's JSON, a little more than most */

/* One candle request, checked. */
struct creq {
	const char *market;
	enum tf tf;
	int count;
	int have_to;
	int64_t to_ms;
	int convert;
};

enum sv_route
upbit_route(const char *url, enum tf *tf, int *bad_unit)
{
	static const struct {
		const char *path;
		enum tf tf;
	} fixed[] = {
		{ "/v1/candles/seconds", TF_1S }, { "/v1/candles/days", TF_1D },
		{ "/v1/candles/weeks", TF_1W },   { "/v1/candles/months", TF_1MO },
		{ "/v1/candles/years", TF_1Y },
	};
	static const struct {
		const char *unit;
		enum tf tf;
	} units[] = { { "1", TF_1M },   { "3", TF_3M },   { "5", TF_5M },  { "10", TF_10M },
		      { "15", TF_15M }, { "30", TF_30M }, { "60", TF_1H }, { "240", TF_4H } };
	static const char pre[] = "/v1/candles/minutes/";
	const char *u = url + sizeof(pre) - 1;

	*bad_unit = 0;
	if (strcmp(url, "/v1/market/all") == 0)
		return SV_R_MARKET_ALL;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (strcmp(url, fixed[i].path) == 0) {
			*tf = fixed[i].tf;
			return SV_R_CANDLES;
		}
	if (strncmp(url, pre, sizeof(pre) - 1) != 0 || strchr(u, '/') != NULL)
		return SV_R_OTHER;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(u, units[i].unit) == 0) {
			*tf = units[i].tf;
			return SV_R_CANDLES;
		}
	*bad_unit = 1;
	return SV_R_CANDLES;
}

/* ---- the candle routes ----------------------------------------------------- */

/* Upbit's count: an optional sign and digits, 1 or more, above 200 served as
 * 200. NULL, or the error message. */
static const char *
parse_count(const char *s, int *count)
{
	const char *p = s;
	long long v = 0;
	int neg = 0;

	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (*p == '\0')
		return SV_MSG_TYPE;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return SV_MSG_TYPE;
		if (v < 1000000)
			v = v * 10 + (*p - '0');
	}
	if (neg || v < 1)
		return SV_MSG_INVALID;
	*count = v > SV_MAX_COUNT ? SV_MAX_COUNT : (int)v;
	return NULL;
}

/* Days only: converting_price_unit=KRW (or the older camelCase name). */
static int
wants_convert(const struct sv_args *a, enum tf tf)
{
	const char *cv = sv_arg(a, "converting_price_unit");

	if (cv == NULL)
		cv = sv_arg(a, "convertingPriceUnit");
	return tf == TF_1D && cv != NULL && strcmp(cv, "KRW") == 0;
}

/* The parameters into *q in Upbit's order of checks: 0, or -1 with the 400. */
static int
candle_args(const struct sv_args *a, enum tf tf, int bad_unit, struct creq *q, struct sv_reply *r)
{
	const char *count = sv_arg(a, "count"), *to = sv_arg(a, "to"), *err = NULL;

	q->market = sv_arg(a, "market");
	q->tf = tf;
	q->count = 1;
	q->have_to = to != NULL && *to != '\0';
	q->convert = wants_convert(a, tf);
	if (bad_unit)
		err = SV_MSG_UNIT;
	else if (q->market == NULL || *q->market == '\0')
		err = SV_MSG_MISSING;
	else if (count != NULL)
		err = parse_count(count, &q->count);
	if (err == NULL && q->have_to && time_parse_full_ms(to, &q->to_ms) == -1)
		err = SV_MSG_INVALID;
	if (err == NULL)
		return 0;
	reply_error(r, 400, SV_ERROR, err);
	return -1;
}

/* Whether the market is one we know: 1, 0, or -1 on a database error. */
static int
market_known(const char *market)
{
	struct sdb_st *st = sdb_stmt(SQ_KNOWN);
	int known = -1;

	if (st == NULL)
		return -1;
	sdb_bind_text(st, 1, market);
	if (sdb_step(st) == 1)
		known = sdb_col_int(st, 0) != 0;
	sdb_reset(st);
	return known;
}

/* What the newest-first read found. */
struct found {
	int n;
	int64_t oldest;
	int no_convert; /* a row without converted_trade_price */
	size_t cut;     /* where the text of the oldest (with its comma) starts */
};

/* The stored candles starting before end_s, newest first, into b. */
static int
read_newest(const struct creq *q, int64_t end_s, struct buf *b, struct found *f)
{
	struct sdb_st *st = sdb_stmt(SQ_NEWEST);
	int rc;

	memset(f, 0, sizeof(*f));
	if (st == NULL)
		return -1;
	sdb_bind_text(st, 1, q->market);
	sdb_bind_text(st, 2, tf_name(q->tf));
	sdb_bind_time(st, 3, end_s);
	sdb_bind_int(st, 4, q->count);
	/* one allocation for the whole answer: regrowing was a tenth of it */
	(void)buf_reserve(b, (size_t)q->count * CANDLE_JSON_GUESS, BUF_NO_MAX);
	sv_buf_put(b, "[", 1);
	while ((rc = sdb_step(st)) == 1) {
		f->cut = b->len;
		if (f->n > 0)
			sv_buf_put(b, ",", 1);
		if (sdb_candle_json(b, q->market, st, q->convert) == -1)
			f->no_convert = 1;
		if (sdb_column_time(st, 0, &f->oldest) == -1)
			rc = -1;
		f->n++;
		if (rc != 1)
			break;
	}
	sdb_reset(st);
	sv_buf_put(b, "]", 1);
	return rc == 0 ? 0 : -1;
}

/* Whether the ledger proves the answer: every candle Upbit has in
 * [lo, tf_ceil(end_s)) is stored, lo being the oldest returned start when
 * count were found, else the history start. 0 or -1. */
static int
window_proven(const struct creq *q, int64_t end_s, const struct found *f, int *yes)
{
	int64_t hi = tf_ceil(q->tf, end_s), lo = f->oldest, first = 0;
	int have = 0;

	*yes = 0;
	if (f->n < q->count) {
		if (sdb_history(q->market, q->tf, &first, &have) == -1)
			return -1;
		/* no history start known: only a range proven from the epoch */
		lo = have ? first : 0;
		if (f->n > 0 && f->oldest < lo)
			lo = f->oldest;
	}
	if (have && lo >= hi) {
		*yes = 1; /* before the listing: Upbit has nothing */
		return 0;
	}
	return sdb_proven(q->market, q->tf, lo, hi, yes);
}

/* The window a job must collect so that the request can be proven: below
 * the covered top of [.., tf_ceil(end_s)) as many slots as candles are
 * still wanted, never before the history start. 0 with [*from, *to)
 * (possibly empty), or -1. */
static int
missing_window(const struct creq *q, int64_t end_s, int64_t *from, int64_t *to)
{
	int64_t hi = tf_ceil(q->tf, end_s), cfrom = 0, cto = 0, first = 0;
	int have = 0, hist = 0, k = 0;

	if (sdb_cover_at(q->market, q->tf, tf_add(q->tf, hi, -1), &cfrom, &cto, &have) == -1 ||
	    sdb_history(q->market, q->tf, &first, &hist) == -1)
		return -1;
	*to = have && cto >= hi ? tf_ceil(q->tf, cfrom) : hi;
	if (*to < hi && sdb_count_in(q->market, q->tf, *to, end_s, q->count, &k) == -1)
		return -1;
	*from = tf_add(q->tf, *to, -(int64_t)(q->count > k ? q->count - k : 1));
	if (hist && *from < first)
		*from = first;
	if (*from < 0)
		*from = 0;
	return 0;
}

/* An unproven request: today's 503, or a wait on the job of its window. */
static void
candles_miss(const struct creq *q, int64_t end_s, struct sv_reply *r)
{
	static const char why[] = "this range is not collected yet (the ledger does not prove it)";
	int64_t from = 0, to = 0;

	if (readthru_on() && missing_window(q, end_s, &from, &to) == -1)
		sdb_reply_error(r);
	else if (!readthru_on() || from >= to)
		reply_miss(r, why);
	else
		readthru_miss(r, why, q->market, q->tf, from, to);
}

/* The answer of a checked request inside the read transaction: 1 when it is
 * a proven answer of count candles, which no later write can change (the
 * stored candles of a proven window are final and coverage only grows), so
 * it may be cached; 0 otherwise (fewer candles hang on the history start,
 * which a collection may move; misses and errors are never kept). */
static int
candles_in_txn(const struct creq *q, int64_t end_s, struct sv_reply *r, struct found *fo)
{
	struct found f;
	int known, yes;

	if ((known = market_known(q->market)) != 1) {
		if (known == 0)
			reply_error(r, 404, SV_ERROR, SV_MSG_NOTFOUND);
		else
			sdb_reply_error(r);
		return 0;
	}
	if (read_newest(q, end_s, &r->body, &f) == -1 || window_proven(q, end_s, &f, &yes) == -1) {
		sdb_reply_error(r);
		return 0;
	}
	*fo = f;
	if (!yes)
		candles_miss(q, end_s, r);
	else if (f.no_convert)
		reply_miss(r, "converted_trade_price is not collected (the collector does not "
		              "ask for converting_price_unit)");
	else
		r->status = 200;
	return r->status == 200 && f.n == q->count;
}

/* The cache key of a checked request into r->ckey (r->ckey_len stays 0 when
 * it does not fit): everything the answer depends on. */
static void
cache_key(const struct creq *q, int64_t end_s, struct sv_reply *r)
{
	unsigned char head[2 + sizeof(int) + sizeof(int64_t)];
	size_t mlen = strlen(q->market);

	r->ckey_len = 0;
	if (mlen > sizeof(r->ckey) - sizeof(head))
		return;
	head[0] = (unsigned char)q->tf;
	head[1] = (unsigned char)q->convert;
	memcpy(head + 2, &q->count, sizeof(int));
	memcpy(head + 2 + sizeof(int), &end_s, sizeof(int64_t));
	memcpy(r->ckey, head, sizeof(head));
	memcpy(r->ckey + sizeof(head), q->market, mlen);
	r->ckey_len = sizeof(head) + mlen;
}

/* candles_in_txn in its read transaction: its stable flag, or 0. */
static int
candles_read(const struct creq *q, int64_t end_s, struct sv_reply *r, struct found *f)
{
	int stable;

	memset(f, 0, sizeof(*f));
	if (sdb_exec(SQ_BEGIN) == -1) {
		sdb_reply_error(r);
		return 0;
	}
	stable = candles_in_txn(q, end_s, r, f);
	if (sdb_exec(SQ_COMMIT) == -1 && r->status == 200) {
		sdb_reply_error(r);
		return 0;
	}
	return stable;
}

/* b holds "[" and the forming candle's object: it becomes r's body, the
 * closed candles (newest first) after it, the oldest left out when count
 * were read. */
static void
put_forming(const struct creq *q, const struct found *f, struct buf *b, struct sv_reply *r)
{
	/* the kept objects are body[1, end): without the oldest, or all */
	size_t end = f->n == q->count ? f->cut : r->body.len - 1;

	if (end > 1) {
		sv_buf_put(b, ",", 1);
		sv_buf_put(b, r->body.data + 1, end - 1);
	}
	sv_buf_put(b, "]", 1);
	buf_free(&r->body);
	r->body = *b;
}

/* The newest candles: the closed ones before the open slot (read-through
 * like any window), then the forming one from upstream. */
static void
newest_candles(const struct creq *q, struct sv_reply *r)
{
	int64_t open = tf_floor(q->tf, time_now_ms() / MS_PER_S);
	struct buf b = { 0 };
	struct found f;

	(void)candles_read(q, open, r, &f);
	if (r->status != 200 || r->park)
		return;
	sv_buf_put(&b, "[", 1);
	if (readthru_forming(r, q->market, q->tf, open, &b) == 1 && b.len > 1)
		put_forming(q, &f, &b, r); /* takes b */
	else
		buf_free(&b);
}

void
upbit_candles(const struct sv_args *a, enum tf tf, int bad_unit, struct sv_reply *r)
{
	struct creq q;
	struct found f;
	int64_t end_s;
	size_t klen;
	int stable;

	if (candle_args(a, tf, bad_unit, &q, r) == -1)
		return;
	if ((!q.have_to || q.to_ms > time_now_ms()) && readthru_on()) {
		newest_candles(&q, r);
		return;
	}
	if (!q.have_to || q.to_ms > time_now_ms()) {
		reply_miss(r, "the newest candles (no `to`, or a `to` in the future) include the "
		              "candle still forming, which is never stored; give a past `to`");
		return;
	}
	/* start * 1000 < to_ms  <=>  start < ceil(to_ms / 1000) */
	end_s = q.to_ms > 0 ? (q.to_ms + MS_PER_S - 1) / MS_PER_S : 0;
	cache_key(&q, end_s, r);
	if (r->ckey_len > 0 && (r->shared = http_cached(r->ckey, r->ckey_len)) != NULL) {
		r->status = 200;
		return;
	}
	klen = r->ckey_len;
	r->ckey_len = 0; /* kept only once proven below */
	stable = candles_read(&q, end_s, r, &f);
	if (stable && r->status == 200)
		r->ckey_len = klen;
}

/* ---- /v1/market/all -------------------------------------------------------- */

/* One market row as Upbit's object; -1 when details are asked and the row
 * has none. */
static int
market_json(struct buf *b, const struct sdb_st *st, int details)
{
	static const char *const keys[3] = { "market", "korean_name", "english_name" };
	const char *caution = sdb_col_text(st, 4);

	for (int i = 0; i < 3; i++) {
		const char *v = sdb_col_text(st, i);

		buf_puts(b, i == 0 ? "{\"" : ",\"");
		buf_puts(b, keys[i]);
		buf_puts(b, "\":");
		sv_buf_json_str(b, v != NULL ? v : "");
	}
	if (details) {
		if (sdb_col_text(st, 3) == NULL || caution == NULL)
			return -1;
		buf_printf(b, ",\"market_event\":{\"warning\":%s,\"caution\":%s}",
		           sdb_col_int(st, 3) ? "true" : "false", caution);
	}
	sv_buf_put(b, "}", 1);
	return 0;
}

void
upbit_market_all(const struct sv_args *a, struct sv_reply *r)
{
	const char *d = sv_arg(a, "is_details");
	struct sdb_st *st;
	int details = 0, n = 0, rc, lacking = 0;

	if (d == NULL)
		d = sv_arg(a, "isDetails");
	if (d != NULL && strcasecmp(d, "true") != 0 && strcasecmp(d, "false") != 0) {
		reply_error(r, 400, SV_ERROR, SV_MSG_TYPE);
		return;
	}
	details = d != NULL && strcasecmp(d, "true") == 0;
	if ((st = sdb_stmt(SQ_MARKETS)) == NULL) {
		sdb_reply_error(r);
		return;
	}
	sv_buf_put(&r->body, "[", 1);
	while ((rc = sdb_step(st)) == 1) {
		if (n++ > 0)
			sv_buf_put(&r->body, ",", 1);
		lacking |= market_json(&r->body, st, details) == -1;
	}
	sdb_reset(st);
	sv_buf_put(&r->body, "]", 1);
	if (rc != 0)
		sdb_reply_error(r);
	else if (n == 0)
		reply_miss(r, "the market list is not collected yet");
	else if (lacking)
		reply_miss(r, "the market details (is_details=true) are not collected");
	else
		r->status = 200;
}
