/*
 * export.c: `export`, stored candles of whole markets or ranges as CSV or
 * as Upbit's JSON lines (byte for byte what the API serves, from the exact
 * decimal text). It streams: one statement stepped row by row in primary
 * key order (no sort), each row written at once through a fixed stdio
 * buffer, so memory stays constant whatever the row count.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "query.h"
#include "timeutil.h"

#define OUT_BUF_BYTES (64 * 1024)

struct export_opts {
	const char *market, *db, *output;
	const char *from_s, *to_s;
	int all_markets, all_tfs;
	enum tf tf;
	int64_t from, to;
	enum out_format fmt;
	int have_fmt;
};

static void
usage(FILE *f)
{
	fputs("usage: ./run.sh export --market M|all [--timeframe TF|all] [--from T] [--to T]\n"
	      "                       --format csv|jsonl [--db PATH] [--output FILE]\n"
	      "\n"
	      "Streams the stored candles, ordered by market, timeframe and time, in\n"
	      "constant memory:\n"
	      "  csv    a header, then every column of candles_exact (market,\n"
	      "         timeframe, times, exact decimals; empty = NULL)\n"
	      "  jsonl  one object per line, byte for byte Upbit's (market,\n"
	      "         candle_date_time_utc, ..., then unit, prev_closing_price,\n"
	      "         change_price, change_rate, converted_trade_price,\n"
	      "         first_day_of_period where present). The objects carry no\n"
	      "         timeframe: export one timeframe per file, or use csv.\n"
	      "  --timeframe defaults to all; --from/--to select candle starts in\n"
	      "  [from, to) (ISO 8601, no offset = UTC).\n"
	      "options:\n"
	      "  --db PATH        database (default " QUERY_DEFAULT_DB ")\n"
	      "  --output FILE    write FILE (complete or not at all) instead of stdout\n"
	      "exit: 0 exported, 1 database missing or a write error, 2 usage error.\n",
	      f);
}

static void
parse_args(int argc, char **argv, struct export_opts *o)
{
	static const struct option longopts[] = {
		{ "market", required_argument, NULL, 'm' },
		{ "timeframe", required_argument, NULL, 't' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 'T' },
		{ "db", required_argument, NULL, 'd' },
		{ "format", required_argument, NULL, 'F' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *tf_s = NULL;
	int c;

	memset(o, 0, sizeof(*o));
	o->db = QUERY_DEFAULT_DB;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":m:t:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': o->market = optarg; break;
		case 't': tf_s = optarg; break;
		case 'f': o->from_s = optarg; break;
		case 'T': o->to_s = optarg; break;
		case 'd': o->db = optarg; break;
		case 'o': o->output = optarg; break;
		case 'F':
			if (out_parse_format(optarg, (1u << FMT_CSV) | (1u << FMT_JSONL),
			                     &o->fmt) == -1)
				query_usage_error("export",
				                  "--format must be csv or jsonl, "
				                  "not '%s'",
				                  optarg);
			o->have_fmt = 1;
			break;
		case 'h': usage(stdout); exit(EXIT_OK);
		case ':': query_usage_error("export", "%s needs a value", argv[optind - 1]);
		default: query_usage_error("export", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc)
		query_usage_error("export", "unexpected argument '%s'", argv[optind]);
	if (o->market == NULL || *o->market == '\0')
		query_usage_error("export", "--market is required (a market or 'all')");
	if (!o->have_fmt)
		query_usage_error("export", "--format is required (csv or jsonl)");
	o->all_markets = strcmp(o->market, "all") == 0;
	o->all_tfs = tf_s == NULL || strcmp(tf_s, "all") == 0;
	if (!o->all_tfs)
		o->tf = query_parse_tf("export", tf_s);
	o->from = o->from_s ? query_parse_time("export", "--from", o->from_s) : 0;
	o->to = o->to_s ? query_parse_time("export", "--to", o->to_s) : INT64_MAX;
	if (o->from_s && o->to_s && o->from > o->to)
		query_usage_error("export", "--from is after --to");
	if (o->output != NULL && *o->output == '\0')
		query_usage_error("export", "--output needs a file name");
}

static void
bind_named(sqlite3_stmt *st, const char *name, const char *value)
{
	int i = sqlite3_bind_parameter_index(st, name);

	if (i > 0)
		sqlite3_bind_text(st, i, value, -1, SQLITE_TRANSIENT);
}

/* The statement of the selection, in primary key order. */
static sqlite3_stmt *
prepare_select(sqlite3 *db, const struct export_opts *o)
{
	char sql[1024], tfrom[TIME_TEXT_LEN], tto[TIME_TEXT_LEN];
	sqlite3_stmt *st;

	snprintf(sql, sizeof(sql),
	         "SELECT %s FROM candles_exact WHERE 1%s%s%s%s"
	         " ORDER BY market, timeframe, candle_date_time_utc",
	         query_columns_sql, o->all_markets ? "" : " AND market = :m",
	         o->all_tfs ? "" : " AND timeframe = :tf",
	         o->from_s ? " AND candle_date_time_utc >= :from" : "",
	         o->to_s ? " AND candle_date_time_utc < :to" : "");
	if ((st = qdb_prepare(db, sql)) == NULL)
		return NULL;
	time_format(o->from, tfrom);
	time_format(o->to_s ? o->to : 0, tto);
	bind_named(st, ":m", o->market);
	bind_named(st, ":tf", o->all_tfs ? "" : tf_name(o->tf));
	bind_named(st, ":from", tfrom);
	bind_named(st, ":to", tto);
	return st;
}

int
export_run(int argc, char **argv)
{
	static char buf[OUT_BUF_BYTES];
	struct export_opts o;
	struct row_out out;
	struct candle_row r;
	char tmp[PATH_MAX];
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	FILE *f = stdout;
	int missing_db, rc, ret = 1;

	parse_args(argc, argv, &o);
	if ((db = qdb_open(o.db, &missing_db)) == NULL)
		return 1;
	if ((st = prepare_select(db, &o)) == NULL)
		goto done;
	if (o.output != NULL) {
		/* complete or not at all: write aside, rename at the end */
		if (snprintf(tmp, sizeof(tmp), "%s.part", o.output) >= (int)sizeof(tmp)) {
			fprintf(stderr, "cp-query export: --output: name too long\n");
			goto done;
		}
		if ((f = fopen(tmp, "w")) == NULL) {
			fprintf(stderr, "cp-query export: %s: %s\n", tmp, strerror(errno));
			goto done;
		}
	}
	setvbuf(f, buf, _IOFBF, sizeof(buf));
	memset(&out, 0, sizeof(out));
	out.f = f;
	out.fmt = o.fmt;
	out_begin(&out);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		out_row_from_stmt(st, &r);
		r.filled = -1;
		if (out_row(&out, &r) == -1) {
			fprintf(stderr, "cp-query export: %s: %s\n", o.output ? tmp : "stdout",
			        strerror(errno));
			goto done;
		}
	}
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "cp-query export: %s\n", sqlite3_errmsg(db));
		goto done;
	}
	out_end(&out);
	if (fflush(f) == EOF || ferror(f)) {
		fprintf(stderr, "cp-query export: %s: %s\n", o.output ? tmp : "stdout",
		        strerror(errno));
		goto done;
	}
	if (o.output != NULL) {
		int c = fclose(f);

		f = stdout;
		if (c == EOF || rename(tmp, o.output) == -1) {
			fprintf(stderr, "cp-query export: %s: %s\n", o.output, strerror(errno));
			unlink(tmp);
			goto done;
		}
		fprintf(stderr, "export: %llu candles to %s\n", out.rows, o.output);
	}
	ret = 0;
done:
	if (f != stdout) {
		fclose(f);
		unlink(tmp);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ret;
}
