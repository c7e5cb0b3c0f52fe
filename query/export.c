/*
 * export.c: `export`, stored candles of whole markets or ranges as CSV or
 * as Upbit's JSON lines (byte for byte what the API serves, from the exact
 * decimal text). It streams: one statement stepped row by row in primary
 * key order (no sort), each row written at once through a fixed stdio
 * buffer, so memory stays constant whatever the row count.
 */
#include <errno.h>
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
	struct qargs a;
	const char *output;
	int all_markets, all_tfs;
	enum tf tf;
	int64_t from, to;
	enum out_format fmt;
};

/* Where the rows go: stdout, or FILE.part renamed to FILE once complete
 * (complete or not at all). */
struct sink {
	FILE *f;
	const char *name; /* in messages: "stdout" or the .part file */
	char tmp[PATH_MAX];
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
	const struct opt own[] = {
		{ "output", 'o', OPT_STR, &o->output, 0, 0, 0, NULL },
		{ .kind = OPT_END },
	};
	const struct qargs *a = &o->a;

	memset(o, 0, sizeof(*o));
	qargs_parse(&o->a, "export", argc, argv, own, usage);
	o->fmt = qargs_format(a, (1u << FMT_CSV) | (1u << FMT_JSONL), "csv or jsonl", FMT_CSV);
	if (a->market == NULL || *a->market == '\0')
		query_usage_error("export", "--market is required (a market or 'all')");
	if (a->format == NULL)
		query_usage_error("export", "--format is required (csv or jsonl)");
	o->all_markets = strcmp(a->market, "all") == 0;
	o->all_tfs = a->timeframe == NULL || strcmp(a->timeframe, "all") == 0;
	if (!o->all_tfs)
		o->tf = query_parse_tf("export", a->timeframe);
	o->from = a->from ? query_parse_time("export", "--from", a->from) : 0;
	o->to = a->to ? query_parse_time("export", "--to", a->to) : INT64_MAX;
	if (a->from && a->to && o->from > o->to)
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
	         o->a.from ? " AND candle_date_time_utc >= :from" : "",
	         o->a.to ? " AND candle_date_time_utc < :to" : "");
	if ((st = qdb_prepare(db, sql)) == NULL)
		return NULL;
	time_format(o->from, tfrom);
	time_format(o->a.to ? o->to : 0, tto);
	bind_named(st, ":m", o->a.market);
	bind_named(st, ":tf", o->all_tfs ? "" : tf_name(o->tf));
	bind_named(st, ":from", tfrom);
	bind_named(st, ":to", tto);
	return st;
}

/* Opens the sink of output (NULL: stdout). 0, or -1 after a message. */
static int
sink_open(struct sink *k, const char *output)
{
	k->f = stdout;
	k->name = "stdout";
	if (output == NULL)
		return 0;
	if (snprintf(k->tmp, sizeof(k->tmp), "%s.part", output) >= (int)sizeof(k->tmp)) {
		fprintf(stderr, "cp-query export: --output: name too long\n");
		return -1;
	}
	if ((k->f = fopen(k->tmp, "w")) == NULL) {
		fprintf(stderr, "cp-query export: %s: %s\n", k->tmp, strerror(errno));
		k->f = stdout;
		return -1;
	}
	k->name = k->tmp;
	return 0;
}

/* Closes the sink: a complete file (ok) takes its name, an incomplete one
 * is removed. 0, or -1 if not ok or the file could not be completed. */
static int
sink_close(struct sink *k, const char *output, int ok)
{
	int c;

	if (k->f == stdout)
		return ok ? 0 : -1;
	c = fclose(k->f);
	k->f = stdout;
	if (ok && (c == EOF || rename(k->tmp, output) == -1)) {
		fprintf(stderr, "cp-query export: %s: %s\n", output, strerror(errno));
		ok = 0;
	}
	if (!ok)
		unlink(k->tmp);
	return ok ? 0 : -1;
}

/* Every row of st to out, then flushed. 0, or -1 after a message. */
static int
stream_rows(sqlite3 *db, sqlite3_stmt *st, struct row_out *out, const char *name)
{
	struct candle_row r;
	int rc;

	out_begin(out);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		out_row_from_stmt(st, &r);
		r.filled = -1;
		if (out_row(out, &r) == -1)
			goto write_error;
	}
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "cp-query export: %s\n", sqlite3_errmsg(db));
		return -1;
	}
	out_end(out);
	if (fflush(out->f) == EOF || ferror(out->f))
		goto write_error;
	return 0;
write_error:
	fprintf(stderr, "cp-query export: %s: %s\n", name, strerror(errno));
	return -1;
}

int
export_run(int argc, char **argv)
{
	static char buf[OUT_BUF_BYTES];
	struct export_opts o;
	struct row_out out = { 0 };
	struct sink k;
	sqlite3 *db;
	sqlite3_stmt *st;
	int missing_db, ret = 1;

	parse_args(argc, argv, &o);
	if ((db = qdb_open(o.a.db, &missing_db)) == NULL)
		return 1;
	if ((st = prepare_select(db, &o)) != NULL && sink_open(&k, o.output) == 0) {
		setvbuf(k.f, buf, _IOFBF, sizeof(buf));
		out.f = k.f;
		out.fmt = o.fmt;
		ret = sink_close(&k, o.output, stream_rows(db, st, &out, k.name) == 0) == 0 ? 0 : 1;
		if (ret == 0 && o.output != NULL)
			fprintf(stderr, "export: %llu candles to %s\n", out.rows, o.output);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ret;
}
