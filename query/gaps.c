/*
 * gaps.c: `gaps`, what a (market, timeframe) lacks in a range: the ranges
 * never fetched (requested minus coverage), the no-trade stretches inside
 * covered ranges (maximal runs of slots without a candle, which the ledger
 * proves empty) and the part before history_start (nothing exists there).
 *
 * Big ranges cost one pass over the candles in time order with a single
 * prepared statement; slots are never materialised: a stretch is the
 * distance between two consecutive candles, clipped to the covered ranges.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "opts.h"
#include "query.h"
#include "timeutil.h"

struct gaps_opts {
	struct qargs a;
	enum tf tf;
	enum out_format fmt;
	int64_t min_len; /* --min-length: shorter no-trade stretches are not listed */
};

/* What the report covers: [from, to), the history bound and the ledger. */
struct gaps_range {
	int64_t from, to, bound;
	int have_bound;
	struct range_list cov, missing, before;
};

/* The writer of the report: missing ranges are known up front and merged
 * into the stream of no-trade stretches by time (table), or printed as
 * their own array (json). */
struct gaps_out {
	enum tf tf;
	enum out_format fmt;
	const struct range_list *missing;
	size_t mi;
	int64_t min_len;
	unsigned long long stretches, listed, hidden;
	int64_t stretch_slots, longest;
};

static void
usage(FILE *f)
{
	opts_fputs("usage: ./run.sh gaps --market M --timeframe TF [--from T --to T] [options]\n"
	           "\n"
	           "Lists what M TF lacks, in time order:\n"
	           "  missing         ranges never fetched (requested minus coverage)\n"
	           "  no-trade        maximal runs of empty slots inside covered ranges\n"
	           "                  (proven: Upbit has no candle there)\n"
	           "  before-history  the part before the listing (or the 1s horizon):\n"
	           "                  nothing exists there, it is not a gap\n"
	           "Without --from/--to: from history_start (or the first covered range)\n"
	           "to the end of the last covered range, i.e. the holes between what was\n"
	           "collected. Times as for query (ISO 8601, no offset = UTC).\n"
	           "options:\n"
	           "  --db PATH|URI    database: a SQLite file (default " QUERY_DEFAULT_DB "),\n"
	           "                   or postgresql://USER@HOST/DBNAME (read-only)\n"
	           "  --format F       table (default) or json (one object)\n"
	           "  --min-length N   list only the no-trade stretches of at least N\n"
	           "                   intervals of TF (N = 60 with 1m: an hour or more);\n"
	           "                   the shorter ones are counted, not listed (default 1)\n"
	           "exit: 0 listed, 1 database missing or nothing collected, 2 usage error,\n"
	           "3 not a candlepipe database (or unreadable).\n",
	           f);
}

static void
parse_args(int argc, char **argv, struct gaps_opts *o)
{
	const struct opt own[] = {
		{ "min-length", 0, OPT_I64, &o->min_len, 1, 1e15, 0, NULL },
		{ .kind = OPT_END },
	};

	o->min_len = 1;
	qargs_parse(&o->a, "gaps", argc, argv, own, usage);
	o->fmt =
	    qargs_format(&o->a, (1u << FMT_TABLE) | (1u << FMT_JSON), "table or json", FMT_TABLE);
	o->tf = qargs_market_tf(&o->a);
	/* parse early so a bad time is a usage error even without a database */
	if (o->a.from)
		(void)query_parse_time("gaps", "--from", o->a.from);
	if (o->a.to)
		(void)query_parse_time("gaps", "--to", o->a.to);
}

/* The extent of the coverage rows of (market, tf); *have = 0 if none. */
static int
coverage_extent(struct qdb *db, const struct gaps_opts *o, int64_t *from, int64_t *to, int *have)
{
	static const struct qsql sql = {
		"SELECT MIN(from_utc), MAX(to_utc) FROM coverage"
		" WHERE market = ?1 AND timeframe = ?2",
		"SELECT " QDB_PG_TIME("MIN(lower(span))") ", " QDB_PG_TIME(
		    "MAX(upper(span))") " FROM candlepipe.coverage WHERE market = $1 AND timeframe = $2",
	};
	struct qcur *st;
	const char *a, *b;
	int rc = -1;

	*have = 0;
	st = qdb_range(db, &sql, o->a.market, o->tf, 0, 0);
	if (st == NULL)
		return -1;
	if (qcur_step(st) != 1) {
		query_error("%s", qdb_errmsg(db));
		goto done;
	}
	a = qcur_text(st, 0);
	b = qcur_text(st, 1);
	if (a != NULL && b != NULL) {
		if (time_parse(a, from) == -1 || time_parse(b, to) == -1) {
			query_error("bad coverage row '%s' '%s'", a, b);
			goto done;
		}
		*have = 1;
	}
	rc = 0;
done:
	qcur_close(st);
	return rc;
}

static void
json_range(int64_t from, int64_t to, enum tf tf, int first)
{
	char a[TIME_TEXT_LEN], b[TIME_TEXT_LEN];

	time_format(from, a);
	time_format(to, b);
	printf("%s{\"from\":\"%s\",\"to\":\"%s\",\"slots\":%lld,\"seconds\":%lld}",
	       first ? "" : ",", a, b, (long long)tf_count(tf, from, to), (long long)(to - from));
}

static void
table_range(const char *kind, int64_t from, int64_t to, enum tf tf)
{
	char a[TIME_TEXT_LEN], b[TIME_TEXT_LEN], d[64];

	time_format(from, a);
	time_format(to, b);
	query_fmt_duration(to - from, d, sizeof(d));
	printf("%-14s  %s  %s  %12lld  %s\n", kind, a, b, (long long)tf_count(tf, from, to), d);
}

/* Table: the missing ranges that start before t (in time order). */
static void
flush_missing(struct gaps_out *g, int64_t t)
{
	while (g->mi < g->missing->n && g->missing->v[g->mi].from < t) {
		table_range("missing", g->missing->v[g->mi].from, g->missing->v[g->mi].to, g->tf);
		g->mi++;
	}
}

static void
emit_stretch(struct gaps_out *g, int64_t from, int64_t to)
{
	int64_t n = tf_count(g->tf, from, to);

	if (n < g->min_len) {
		g->hidden++;
	} else if (g->fmt == FMT_JSON) {
		json_range(from, to, g->tf, g->listed++ == 0);
	} else {
		flush_missing(g, from);
		table_range("no-trade", from, to, g->tf);
		g->listed++;
	}
	g->stretches++;
	g->stretch_slots += n;
	if (to - from > g->longest)
		g->longest = to - from;
}

/* Slots [a, b) hold no candle: the covered parts are no-trade stretches
 * (never empty: the ranges are slot-aligned, each overlaps [a, b)). */
static void
span(struct gaps_out *g, const struct range_list *cov, size_t *ci, int64_t a, int64_t b)
{
	while (*ci < cov->n && cov->v[*ci].to <= a)
		(*ci)++;
	for (size_t k = *ci; k < cov->n && cov->v[k].from < b; k++) {
		int64_t f = cov->v[k].from > a ? cov->v[k].from : a;
		int64_t t = cov->v[k].to < b ? cov->v[k].to : b;

		emit_stretch(g, f, t);
	}
}

/* One pass over the candles of [from, to) in time order. */
static int
walk(struct qdb *db, const struct gaps_opts *o, int64_t from, int64_t to,
     const struct range_list *cov, struct gaps_out *g)
{
	static const struct qsql sql = {
		"SELECT candle_date_time_utc FROM candles_exact"
		" WHERE market = ?1 AND timeframe = ?2"
		" AND candle_date_time_utc >= ?3 AND candle_date_time_utc < ?4"
		" ORDER BY candle_date_time_utc",
		"SELECT " QDB_PG_TIME(
		    "candle_date_time_utc") " FROM candlepipe.candles"
		                            " WHERE market = $1 AND timeframe = $2 AND candle_date_time_utc >= $3::timestamp"
		                            " AND candle_date_time_utc < $4::timestamp ORDER BY candle_date_time_utc",
	};
	struct qcur *st;
	size_t ci = 0;
	int64_t next = from, s;
	int rc;

	if (from >= to)
		return 0;
	st = qdb_range(db, &sql, o->a.market, o->tf, from, to);
	if (st == NULL)
		return -1;
	while ((rc = qcur_step(st)) == 1) {
		const char *t = qcur_text(st, 0);

		if (t == NULL || time_parse(t, &s) == -1) {
			query_error("bad candle time '%s'", t ? t : "NULL");
			qcur_close(st);
			return -1;
		}
		s = tf_floor(o->tf, s);
		if (s > next)
			span(g, cov, &ci, next, s);
		if (s >= next)
			next = tf_add(o->tf, s, 1);
	}
	if (rc == -1)
		query_error("%s", qdb_errmsg(db));
	qcur_close(st);
	if (rc == -1)
		return -1;
	span(g, cov, &ci, next, to);
	return 0;
}

/* The range of the report: --from/--to, else from history_start (or the
 * first covered range) to the end of the last covered range; and its
 * coverage. 0, or -1 after a message. */
static int
gaps_range(struct qdb *db, const struct gaps_opts *o, struct gaps_range *r)
{
	int64_t cfrom = 0, cto = 0;
	int have_cov;

	if (qdb_history_bound(db, o->a.market, o->tf, &r->bound, &r->have_bound) == -1 ||
	    coverage_extent(db, o, &cfrom, &cto, &have_cov) == -1)
		return -1;
	if ((!o->a.from || !o->a.to) && !have_cov) {
		query_error("nothing collected for %s %s in %s "
		            "(give --from and --to to see the range as missing)",
		            o->a.market, tf_name(o->tf), db->name);
		return -1;
	}
	r->from = o->a.from       ? query_parse_time("gaps", "--from", o->a.from)
	          : r->have_bound ? r->bound
	                          : cfrom;
	r->to = o->a.to ? query_parse_time("gaps", "--to", o->a.to) : cto;
	r->from = tf_ceil(o->tf, r->from);
	r->to = tf_ceil(o->tf, r->to);
	if (r->from > r->to) {
		if (o->a.from && o->a.to)
			query_usage_error("gaps", "--from is after --to");
		r->from = r->to;
	}
	if (qdb_covered(db, o->a.market, o->tf, r->from, r->to, &r->cov) == -1)
		return -1;
	return qdb_split_missing(r->from, r->to, &r->cov, r->bound, r->have_bound, &r->missing,
	                         &r->before);
}

static void
json_ranges(const char *key, const struct range_list *l, enum tf tf)
{
	printf("\"%s\":[", key);
	for (size_t i = 0; i < l->n; i++)
		json_range(l->v[i].from, l->v[i].to, tf, i == 0);
	putchar(']');
}

/* Everything before the no-trade stretches. */
static void
print_head(const struct gaps_opts *o, const struct gaps_range *r)
{
	char a[TIME_TEXT_LEN], b[TIME_TEXT_LEN], hs[TIME_TEXT_LEN];
	long long slots = (long long)tf_count(o->tf, r->from, r->to);

	time_format(r->from, a);
	time_format(r->to, b);
	time_format(r->bound, hs);
	if (o->fmt != FMT_JSON) {
		printf("gaps of %s %s in [%s, %s): %lld slot%s%s%s\n", o->a.market, tf_name(o->tf),
		       a, b, slots, slots == 1 ? "" : "s", r->have_bound ? ", history starts " : "",
		       r->have_bound ? hs : "");
		printf("%-14s  %-19s  %-19s  %12s  %s\n", "kind", "from", "to (excl.)", "slots",
		       "duration");
		for (size_t i = 0; i < r->before.n; i++)
			table_range("before-history", r->before.v[i].from, r->before.v[i].to,
			            o->tf);
		return;
	}
	fputs("{\"market\":", stdout);
	out_json_string(stdout, o->a.market);
	printf(",\"timeframe\":\"%s\",\"from\":\"%s\",\"to\":\"%s\",\"history_start\":",
	       tf_name(o->tf), a, b);
	if (r->have_bound)
		printf("\"%s\"", hs);
	else
		fputs("null", stdout);
	printf(",\"slots\":%lld,", slots);
	json_ranges("before_history", &r->before, o->tf);
	putchar(',');
	json_ranges("missing", &r->missing, o->tf);
	fputs(",\"no_trade\":[", stdout);
}

/* Everything after the no-trade stretches: the summary. */
static void
print_tail(const struct gaps_opts *o, const struct gaps_range *r, struct gaps_out *g)
{
	const struct range_list *m = &r->missing;
	char d[64];

	if (o->fmt == FMT_JSON) {
		printf("],\"missing_ranges\":%zu,\"missing_slots\":%lld,"
		       "\"no_trade_stretches\":%llu,\"no_trade_slots\":%lld,"
		       "\"longest_no_trade_seconds\":%lld,\"min_length\":%lld,"
		       "\"no_trade_not_listed\":%llu}\n",
		       m->n, (long long)qdb_slots(o->tf, m), g->stretches,
		       (long long)g->stretch_slots, (long long)g->longest, (long long)o->min_len,
		       g->hidden);
		return;
	}
	flush_missing(g, INT64_MAX);
	query_fmt_duration(g->longest, d, sizeof(d));
	printf("summary: %zu missing range%s (%lld slot%s), %llu no-trade "
	       "stretch%s (%lld slot%s, longest %s)",
	       m->n, m->n == 1 ? "" : "s", (long long)qdb_slots(o->tf, m),
	       qdb_slots(o->tf, m) == 1 ? "" : "s", g->stretches, g->stretches == 1 ? "" : "es",
	       (long long)g->stretch_slots, g->stretch_slots == 1 ? "" : "s", d);
	if (g->hidden > 0)
		printf("; %llu shorter than %lld slot%s not listed", g->hidden,
		       (long long)o->min_len, o->min_len == 1 ? "" : "s");
	putchar('\n');
}

int
gaps_run(int argc, char **argv)
{
	struct gaps_opts o;
	struct gaps_range r = { 0 };
	struct gaps_out g = { 0 };
	struct qdb *db;
	int64_t lo;
	int missing_db, rc = 1;

	parse_args(argc, argv, &o);
	if ((db = qdb_open(o.a.db, &missing_db)) == NULL)
		return missing_db ? EXIT_FAILED : EXIT_PERMFAIL; /* not ours: 3 */
	if (gaps_range(db, &o, &r) == -1)
		goto done;
	g.tf = o.tf;
	g.fmt = o.fmt;
	g.min_len = o.min_len;
	g.missing = &r.missing;
	lo = r.have_bound && r.bound > r.from ? (r.bound < r.to ? r.bound : r.to) : r.from;
	print_head(&o, &r);
	if (walk(db, &o, lo, r.to, &r.cov, &g) == -1)
		goto done;
	print_tail(&o, &r, &g);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		query_error("stdout: write error");
		goto done;
	}
	rc = 0;
done:
	qdb_close(db);
	range_list_free(&r.cov);
	range_list_free(&r.missing);
	range_list_free(&r.before);
	return rc;
}
