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

#include "fsutil.h"
#include "log.h"
#include "opts.h"
#include "pgdb.h"
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

/* Where the rows go: stdout, or a temporary file next to FILE renamed to
 * FILE once complete (common/fsutil: complete or not at all). */
struct sink {
	FILE *f;
	const char *name; /* in messages: "stdout" or "--output FILE" */
	char label[PATH_MAX + 16];
	struct fs_atomic at;
};

static void
usage(FILE *f)
{
	opts_fputs(
	    "usage: ./run.sh export --market M|all [--timeframe TF|all] [--from T] [--to T]\n"
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
	    "  --db PATH|URI    database: a SQLite file (default " QUERY_DEFAULT_DB "),\n"
	    "                   or postgresql://USER@HOST/DBNAME (read-only)\n"
	    "  --output FILE    write FILE (complete or not at all) instead of stdout:\n"
	    "                   a regular file, or a symlink to one (the file it\n"
	    "                   points at is replaced); a device, FIFO, socket or\n"
	    "                   directory is refused\n"
	    "exit: 0 exported, 1 database missing or a write error, 2 usage error\n"
	    "(an --output that is not a regular file included), 3 not a candlepipe\n"
	    "database (or unreadable).\n",
	    f);
}

/* A device, FIFO, socket or directory as --output is a usage error. */
static void
check_output(const char *output)
{
	char target[PATH_MAX], err[FS_ERR_MAX];

	if (fs_check_output(output, target, err, sizeof(err)) == FS_NOT_REGULAR)
		query_usage_error("export", "--output %s: %s", output, err);
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
	if (strchr(a->market, ',') != NULL)
		query_usage_error("export", "--market %s: export takes one market or 'all'",
		                  a->market);
	o->all_tfs = a->timeframe == NULL || strcmp(a->timeframe, "all") == 0;
	if (!o->all_tfs)
		o->tf = query_parse_tf("export", a->timeframe);
	o->from = a->from ? query_parse_time("export", "--from", a->from) : 0;
	o->to = a->to ? query_parse_time("export", "--to", a->to) : INT64_MAX;
	if (a->from && a->to && o->from > o->to)
		query_usage_error("export", "--from is after --to");
	if (o->output != NULL && *o->output == '\0')
		query_usage_error("export", "--output needs a file name");
	if (o->output != NULL)
		check_output(o->output);
}

/* Appends " AND col op PARAM" to sql (PARAM: ?k or $k, k the next
 * parameter, value v) when on. */
static void
where(char *sql, size_t cap, const struct qdb *db, int on, const char *cond, const char *v,
      const char **vals, int *n)
{
	size_t len = strlen(sql);

	if (!on)
		return;
	vals[*n] = v;
	(*n)++;
	snprintf(sql + len, cap - len, " AND %s %s%d%s", cond, db->pg != NULL ? "$" : "?", *n,
	         db->pg != NULL && strncmp(cond, "candle", 6) == 0 ? "::timestamp" : "");
}

/* The cursor of the selection, in primary key order (SQLite's text order:
 * db->collate on PostgreSQL). */
static struct qcur *
prepare_select(struct qdb *db, const struct export_opts *o)
{
	char sql[2048], tfrom[TIME_TEXT_LEN], tto[TIME_TEXT_LEN];
	const char *vals[4];
	struct qcur *c;
	int n = 0;

	snprintf(sql, sizeof(sql), "SELECT %s FROM %s WHERE 1 = 1",
	         db->pg != NULL ? query_columns_pg : query_columns_sql,
	         db->pg != NULL ? "candlepipe.candles" : "candles_exact");
	if (db->pg != NULL) {
		pgdb_time_param(o->from, tfrom);
		pgdb_time_param(o->a.to ? o->to : 0, tto);
	} else {
		time_format(o->from, tfrom);
		time_format(o->a.to ? o->to : 0, tto);
	}
	where(sql, sizeof(sql), db, !o->all_markets, "market =", o->a.market, vals, &n);
	where(sql, sizeof(sql), db, !o->all_tfs, "timeframe =", o->all_tfs ? "" : tf_name(o->tf),
	      vals, &n);
	where(sql, sizeof(sql), db, o->a.from != NULL, "candle_date_time_utc >=", tfrom, vals, &n);
	where(sql, sizeof(sql), db, o->a.to != NULL, "candle_date_time_utc <", tto, vals, &n);
	snprintf(sql + strlen(sql), sizeof(sql) - strlen(sql),
	         " ORDER BY market%s, timeframe%s, candle_date_time_utc", db->collate, db->collate);
	if ((c = qcur_open(db, sql, n, vals)) == NULL)
		query_error("%s", qdb_errmsg(db));
	return c;
}

/* Opens the sink of output (NULL: stdout). 0, or -1 after a message. */
static int
sink_open(struct sink *k, const char *output)
{
	char err[FS_ERR_MAX];

	k->f = stdout;
	k->name = "stdout";
	if (output == NULL)
		return 0;
	snprintf(k->label, sizeof(k->label), "--output %s", output);
	if (fs_atomic_open(&k->at, output, 0666, 0, err, sizeof(err)) != FS_OK) {
		query_error("%s: %s", k->label, err);
		return -1;
	}
	k->f = k->at.f;
	k->name = k->label;
	return 0;
}

/* Closes the sink: a complete file (ok) takes its name, an incomplete one
 * is removed. 0, or -1 if not ok or the file could not be completed. */
static int
sink_close(struct sink *k, int ok)
{
	char err[FS_ERR_MAX];

	if (k->f == stdout)
		return ok ? 0 : -1;
	k->f = stdout;
	if (!ok) {
		fs_atomic_abort(&k->at);
		return -1;
	}
	if (fs_atomic_commit(&k->at, err, sizeof(err)) != FS_OK) {
		query_error("%s: %s", k->label, err);
		return -1;
	}
	return 0;
}

/* Every row of st to out, then flushed. 0, or -1 after a message. */
static int
stream_rows(struct qdb *db, struct qcur *st, struct row_out *out, const char *name)
{
	struct candle_row r;
	int rc;

	out_begin(out);
	while ((rc = qcur_step(st)) == 1) {
		out_row_from_cur(st, &r);
		r.filled = -1;
		if (out_row(out, &r) == -1)
			goto write_error;
	}
	if (rc == -1) {
		query_error("%s", qdb_errmsg(db));
		return -1;
	}
	out_end(out);
	if (fflush(out->f) == EOF || ferror(out->f))
		goto write_error;
	return 0;
write_error:
	query_error("%s: %s", name, strerror(errno));
	return -1;
}

int
export_run(int argc, char **argv)
{
	static char buf[OUT_BUF_BYTES];
	struct export_opts o;
	struct row_out out = { 0 };
	struct sink k;
	struct qdb *db;
	struct qcur *st;
	int missing_db, ret = 1;

	parse_args(argc, argv, &o);
	if ((db = qdb_open(o.a.db, &missing_db)) == NULL)
		return missing_db ? EXIT_FAILED : EXIT_PERMFAIL; /* not ours: 3 */
	if ((st = prepare_select(db, &o)) != NULL && sink_open(&k, o.output) == 0) {
		setvbuf(k.f, buf, _IOFBF, sizeof(buf));
		out.f = k.f;
		out.fmt = o.fmt;
		ret = sink_close(&k, stream_rows(db, st, &out, k.name) == 0) == 0 ? 0 : 1;
		if (ret == 0 && o.output != NULL)
			fprintf(stderr, "export: %llu candle%s to %s\n", out.rows,
			        out.rows == 1 ? "" : "s", o.output);
	}
	qcur_close(st);
	qdb_close(db);
	return ret;
}
