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
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "query.h"
#include "timeutil.h"

struct gaps_opts {
	const char *market, *db, *from_s, *to_s;
	enum tf tf;
	enum out_format fmt;
};

/* The writer of the report: missing ranges are known up front and merged
 * into the stream of no-trade stretches by time (table), or printed as
 * their own array (json). */
struct gaps_out {
	enum tf tf;
	enum out_format fmt;
	const struct range_list *missing;
	size_t mi;
	unsigned long long stretches;
	int64_t stretch_slots, longest;
};

static void
usage(FILE *f)
{
	fputs("usage: ./run.sh gaps --market M --timeframe TF [--from T --to T] [options]\n"
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
	      "  --db PATH        database (default " QUERY_DEFAULT_DB ")\n"
	      "  --format F       table (default) or json (one object)\n"
	      "exit: 0 listed, 1 database missing or nothing collected, 2 usage error.\n",
	      f);
}

static void
parse_args(int argc, char **argv, struct gaps_opts *o)
{
	static const struct option longopts[] = {
		{ "market", required_argument, NULL, 'm' },
		{ "timeframe", required_argument, NULL, 't' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 'T' },
		{ "db", required_argument, NULL, 'd' },
		{ "format", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *tf_s = NULL;
	int c;

	memset(o, 0, sizeof(*o));
	o->db = QUERY_DEFAULT_DB;
	o->fmt = FMT_TABLE;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":m:t:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': o->market = optarg; break;
		case 't': tf_s = optarg; break;
		case 'f': o->from_s = optarg; break;
		case 'T': o->to_s = optarg; break;
		case 'd': o->db = optarg; break;
		case 'F':
			if (out_parse_format(optarg, (1u << FMT_TABLE) | (1u << FMT_JSON),
			                     &o->fmt) == -1)
				query_usage_error("gaps",
				                  "--format must be table or json, "
				                  "not '%s'",
				                  optarg);
			break;
		case 'h': usage(stdout); exit(EXIT_OK);
		case ':': query_usage_error("gaps", "%s needs a value", argv[optind - 1]);
		default: query_usage_error("gaps", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc)
		query_usage_error("gaps", "unexpected argument '%s'", argv[optind]);
	if (o->market == NULL || *o->market == '\0')
		query_usage_error("gaps", "--market is required");
	if (tf_s == NULL)
		query_usage_error("gaps", "--timeframe is required");
	o->tf = query_parse_tf("gaps", tf_s);
	/* parse early so a bad time is a usage error even without a database */
	if (o->from_s)
		(void)query_parse_time("gaps", "--from", o->from_s);
	if (o->to_s)
		(void)query_parse_time("gaps", "--to", o->to_s);
}

/* The extent of the coverage rows of (market, tf); *have = 0 if none. */
static int
coverage_extent(sqlite3 *db, const struct gaps_opts *o, int64_t *from, int64_t *to, int *have)
{
	sqlite3_stmt *st;
	const char *a, *b;
	int rc = -1;

	*have = 0;
	st = qdb_prepare(db, "SELECT MIN(from_utc), MAX(to_utc) FROM coverage"
	                     " WHERE market = ?1 AND timeframe = ?2");
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, o->market, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, tf_name(o->tf), -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		fprintf(stderr, "cp-query: %s\n", sqlite3_errmsg(db));
		goto done;
	}
	a = (const char *)sqlite3_column_text(st, 0);
	b = (const char *)sqlite3_column_text(st, 1);
	if (a != NULL && b != NULL) {
		if (time_parse(a, from) == -1 || time_parse(b, to) == -1) {
			fprintf(stderr, "cp-query: bad coverage row '%s' '%s'\n", a, b);
			goto done;
		}
		*have = 1;
	}
	rc = 0;
done:
	sqlite3_finalize(st);
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

	if (n <= 0)
		return;
	if (g->fmt == FMT_JSON) {
		json_range(from, to, g->tf, g->stretches == 0);
	} else {
		flush_missing(g, from);
		table_range("no-trade", from, to, g->tf);
	}
	g->stretches++;
	g->stretch_slots += n;
	if (to - from > g->longest)
		g->longest = to - from;
}

/* Slots [a, b) hold no candle: the covered parts are no-trade stretches. */
static void
span(struct gaps_out *g, const struct range_list *cov, size_t *ci, int64_t a, int64_t b)
{
	while (*ci < cov->n && cov->v[*ci].to <= a)
		(*ci)++;
	for (size_t k = *ci; k < cov->n && cov->v[k].from < b; k++) {
		int64_t f = cov->v[k].from > a ? cov->v[k].from : a;
		int64_t t = cov->v[k].to < b ? cov->v[k].to : b;

		if (f < t)
			emit_stretch(g, f, t);
	}
}

/* One pass over the candles of [from, to) in time order. */
static int
walk(sqlite3 *db, const struct gaps_opts *o, int64_t from, int64_t to, const struct range_list *cov,
     struct gaps_out *g)
{
	char tfrom[TIME_TEXT_LEN], tto[TIME_TEXT_LEN];
	sqlite3_stmt *st;
	size_t ci = 0;
	int64_t next = from, s;
	int rc;

	if (from >= to)
		return 0;
	st = qdb_prepare(db, "SELECT candle_date_time_utc FROM candles_exact"
	                     " WHERE market = ?1 AND timeframe = ?2"
	                     " AND candle_date_time_utc >= ?3 AND candle_date_time_utc < ?4"
	                     " ORDER BY candle_date_time_utc");
	if (st == NULL)
		return -1;
	time_format(from, tfrom);
	time_format(to, tto);
	sqlite3_bind_text(st, 1, o->market, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, tf_name(o->tf), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, tfrom, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, tto, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);

		if (t == NULL || time_parse(t, &s) == -1) {
			fprintf(stderr, "cp-query: bad candle time '%s'\n", t ? t : "NULL");
			sqlite3_finalize(st);
			return -1;
		}
		s = tf_floor(o->tf, s);
		if (s > next)
			span(g, cov, &ci, next, s);
		if (s >= next)
			next = tf_add(o->tf, s, 1);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "cp-query: %s\n", sqlite3_errmsg(db));
		return -1;
	}
	span(g, cov, &ci, next, to);
	return 0;
}

int
gaps_run(int argc, char **argv)
{
	struct gaps_opts o;
	struct range_list cov = { 0 }, missing = { 0 }, before = { 0 };
	struct gaps_out g;
	char a[TIME_TEXT_LEN], b[TIME_TEXT_LEN], hs[TIME_TEXT_LEN], d[64];
	sqlite3 *db;
	int64_t from = 0, to = 0, cfrom = 0, cto = 0, bound = 0, lo;
	int have_cov, have_bound, missing_db, rc = 1;

	parse_args(argc, argv, &o);
	if ((db = qdb_open(o.db, &missing_db)) == NULL)
		return 1;
	if (qdb_history_bound(db, o.market, tf_name(o.tf), &bound, &have_bound) == -1 ||
	    coverage_extent(db, &o, &cfrom, &cto, &have_cov) == -1)
		goto done;
	if ((!o.from_s || !o.to_s) && !have_cov) {
		fprintf(stderr,
		        "cp-query gaps: nothing collected for %s %s in %s "
		        "(give --from and --to to see the range as missing)\n",
		        o.market, tf_name(o.tf), o.db);
		goto done;
	}
	from = o.from_s ? query_parse_time("gaps", "--from", o.from_s) : have_bound ? bound : cfrom;
	to = o.to_s ? query_parse_time("gaps", "--to", o.to_s) : cto;
	from = tf_ceil(o.tf, from);
	to = tf_ceil(o.tf, to);
	if (from > to) {
		if (o.from_s && o.to_s)
			query_usage_error("gaps", "--from is after --to");
		from = to;
	}
	if (qdb_covered(db, o.market, o.tf, from, to, &cov) == -1 ||
	    qdb_split_missing(from, to, &cov, bound, have_bound, &missing, &before) == -1)
		goto done;

	memset(&g, 0, sizeof(g));
	g.tf = o.tf;
	g.fmt = o.fmt;
	g.missing = &missing;
	lo = have_bound && bound > from ? (bound < to ? bound : to) : from;
	time_format(from, a);
	time_format(to, b);
	time_format(bound, hs);
	if (o.fmt == FMT_JSON) {
		fputs("{\"market\":", stdout);
		out_json_string(stdout, o.market);
		printf(",\"timeframe\":\"%s\",\"from\":\"%s\",\"to\":\"%s\","
		       "\"history_start\":",
		       tf_name(o.tf), a, b);
		if (have_bound)
			printf("\"%s\"", hs);
		else
			fputs("null", stdout);
		printf(",\"slots\":%lld,\"before_history\":[", (long long)tf_count(o.tf, from, to));
		for (size_t i = 0; i < before.n; i++)
			json_range(before.v[i].from, before.v[i].to, o.tf, i == 0);
		printf("],\"missing\":[");
		for (size_t i = 0; i < missing.n; i++)
			json_range(missing.v[i].from, missing.v[i].to, o.tf, i == 0);
		printf("],\"no_trade\":[");
	} else {
		printf("gaps of %s %s in [%s, %s): %lld slots%s%s\n", o.market, tf_name(o.tf), a, b,
		       (long long)tf_count(o.tf, from, to), have_bound ? ", history starts " : "",
		       have_bound ? hs : "");
		printf("%-14s  %-19s  %-19s  %12s  %s\n", "kind", "from", "to (excl.)", "slots",
		       "duration");
		for (size_t i = 0; i < before.n; i++)
			table_range("before-history", before.v[i].from, before.v[i].to, o.tf);
	}
	if (walk(db, &o, lo, to, &cov, &g) == -1)
		goto done;
	query_fmt_duration(g.longest, d, sizeof(d));
	if (o.fmt == FMT_JSON) {
		printf("],\"missing_ranges\":%zu,\"missing_slots\":%lld,"
		       "\"no_trade_stretches\":%llu,\"no_trade_slots\":%lld,"
		       "\"longest_no_trade_seconds\":%lld}\n",
		       missing.n, (long long)qdb_slots(o.tf, &missing), g.stretches,
		       (long long)g.stretch_slots, (long long)g.longest);
	} else {
		flush_missing(&g, INT64_MAX);
		printf("summary: %zu missing range%s (%lld slots), %llu no-trade "
		       "stretch%s (%lld slots, longest %s)\n",
		       missing.n, missing.n == 1 ? "" : "s", (long long)qdb_slots(o.tf, &missing),
		       g.stretches, g.stretches == 1 ? "" : "es", (long long)g.stretch_slots, d);
	}
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "cp-query: stdout: write error\n");
		goto done;
	}
	rc = 0;
done:
	sqlite3_close(db);
	range_list_free(&cov);
	range_list_free(&missing);
	range_list_free(&before);
	return rc;
}
