/*
 * candles.c: `query`, the candles of one (market, timeframe) in [from, to),
 * oldest first, from whatever chunks hold them (one indexed range scan: the
 * database has no notion of chunks, only of rows and proven ranges), with a
 * coverage report on stderr (the CandleCache idea: ratio of slots proven,
 * the never-fetched ranges, strategy full/partial/none).
 *
 * Fill-forward: a slot inside a covered range without a candle is a proven
 * no-trade interval; it becomes a flat candle at the previous close with
 * zero volume (filled = 1) only when that previous close is proven too: the
 * previous real candle and every slot after it are covered. Slots never
 * fetched, and empty slots whose previous close is unknown (before the first
 * candle, or right after a never-fetched range), stay out and are counted.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "opts.h"
#include "pgdb.h"
#include "query.h"
#include "timeutil.h"

#define DECIMAL_MAX 96 /* longest decimal text a filled row can copy */
#define OUT_BUF_BYTES (64 * 1024)

struct query_opts {
	struct qargs a;
	const char *market, *db, *api_url, *rate;
	enum tf tf;
	int64_t from, to;
	enum out_format fmt;
	int fill, fetch_missing;
};

/* Fill-forward state: the previous proven close and where the walk is in
 * the covered ranges. */
struct filler {
	const struct query_opts *o;
	const struct range_list *cov;
	size_t ci;
	struct row_out *out;
	int have_prev; /* prev is the proven close of the slot before the cursor */
	int have_conv;
	int have_bound;
	int64_t bound; /* before it is "before history", not left out */
	char prev[DECIMAL_MAX], conv[DECIMAL_MAX];
	unsigned long long filled, unfillable;
};

static void
usage(FILE *f)
{
	opts_fputs("usage: ./run.sh query --market M --timeframe TF --from T [--to T] [options]\n"
	           "\n"
	           "Prints the stored candles of M TF starting in [from, to), oldest first,\n"
	           "to stdout, and a coverage report to stderr: the ratio of slots proven\n"
	           "complete, the ranges never fetched and the strategy (full: everything\n"
	           "covered, partial: some, none: nothing).\n"
	           "  T is ISO 8601 (2026-01-31, 2026-01-31T09:00:00Z, ...+09:00); a time\n"
	           "  without Z or an offset is UTC. --to defaults to the start of the\n"
	           "  candle still forming.\n"
	           "  M is one market (KRW-BTC): a list or 'all' is refused; export streams\n"
	           "  several (./run.sh export --market all).\n"
	           "  TF: 1s 1m 3m 5m 10m 15m 30m 1h 4h 1d 1w 1M 1y (60m, 240m are aliases)\n"
	           "options:\n"
	           "  --db PATH|URI         database: a SQLite file (default " QUERY_DEFAULT_DB
	           "),\n"
	           "                        or postgresql://USER@HOST/DBNAME (read-only)\n"
	           "  --format F            table (default), csv (with a header), json (one\n"
	           "                        array) or jsonl (one Upbit JSON object per line)\n"
	           "  --fill none|forward   forward: add the proven no-trade intervals as flat\n"
	           "                        candles at the previous close with zero volume;\n"
	           "                        every row gets a `filled` 1/0 column/field\n"
	           "  --fetch-missing       first run './run.sh collect' for the range (it\n"
	           "                        fetches only what is missing), then answer\n"
	           "  --api-url URL         passed to collect (with --fetch-missing)\n"
	           "  --rate N              passed to collect (with --fetch-missing)\n"
	           "exit: 0 answered (whatever the coverage), 1 database missing,\n"
	           "2 usage error, 3 not a candlepipe database (or unreadable).\n",
	           f);
}

static void
parse_args(int argc, char **argv, struct query_opts *o)
{
	const char *fill = NULL;
	const struct opt own[] = {
		{ "fill", 0, OPT_STR, &fill, 0, 0, 0, NULL },
		{ "fetch-missing", 0, OPT_SET, &o->fetch_missing, 0, 0, 1, NULL },
		{ "api-url", 0, OPT_STR, &o->api_url, 0, 0, 0, NULL },
		{ "rate", 0, OPT_STR, &o->rate, 0, 0, 0, NULL },
		{ .kind = OPT_END },
	};
	const struct qargs *a = &o->a;

	memset(o, 0, sizeof(*o));
	qargs_parse(&o->a, "query", argc, argv, own, usage);
	o->fmt = qargs_format(a, 0xf, "table, csv, json or jsonl", FMT_TABLE);
	o->fill = fill != NULL && strcmp(fill, "forward") == 0;
	if (fill != NULL && !o->fill && strcmp(fill, "none") != 0)
		query_usage_error("query", "--fill must be none or forward, not '%s'", fill);
	o->tf = qargs_market_tf(a);
	if (a->from == NULL)
		query_usage_error("query", "--from is required");
	if ((o->api_url || o->rate) && !o->fetch_missing)
		query_usage_error("query", "--api-url and --rate go with --fetch-missing");
	o->market = a->market;
	o->db = a->db;
	o->from = tf_ceil(o->tf, query_parse_time("query", "--from", a->from));
	o->to = a->to ? tf_ceil(o->tf, query_parse_time("query", "--to", a->to))
	              : tf_floor(o->tf, time_now());
	if (o->from > o->to)
		query_usage_error("query", "--from is after --to");
}

/* The run.sh next to our folder, or $CP_RUN_SH. NULL if not found. */
static const char *
find_run_sh(char *buf, size_t len)
{
	const char *env = getenv("CP_RUN_SH");
	ssize_t n;
	char *slash;

	if (env != NULL && *env != '\0')
		return env;
	n = readlink("/proc/self/exe", buf, len - 1);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	/* <root>/query/cp-query -> <root>/run.sh */
	for (int up = 0; up < 2; up++) {
		if ((slash = strrchr(buf, '/')) == NULL)
			return NULL;
		*slash = '\0';
	}
	if (strlen(buf) + sizeof("/run.sh") > len)
		return NULL;
	strcat(buf, "/run.sh");
	return access(buf, X_OK) == 0 ? buf : NULL;
}

/* Runs `run.sh collect` for the range, its stdout on our stderr (ours is
 * the answer). Returns its exit status, or -1 if it could not run. */
static int
run_collect(const struct query_opts *o)
{
	char pathbuf[PATH_MAX], tfrom[TIME_TEXT_LEN], tto[TIME_TEXT_LEN];
	const char *argv[24];
	const char *path;
	int n = 0, status;
	pid_t pid;

	if ((path = find_run_sh(pathbuf, sizeof(pathbuf))) == NULL) {
		query_error("--fetch-missing: run.sh not found (set CP_RUN_SH)");
		return -1;
	}
	time_format(o->from, tfrom);
	time_format(o->to, tto);
	argv[n++] = path;
	argv[n++] = "collect";
	argv[n++] = "--market";
	argv[n++] = o->market;
	argv[n++] = "--timeframe";
	argv[n++] = tf_name(o->tf);
	argv[n++] = "--from";
	argv[n++] = tfrom;
	argv[n++] = "--to";
	argv[n++] = tto;
	argv[n++] = "--db";
	argv[n++] = o->db;
	if (o->api_url) {
		argv[n++] = "--api-url";
		argv[n++] = o->api_url;
	}
	if (o->rate) {
		argv[n++] = "--rate";
		argv[n++] = o->rate;
	}
	if (!isatty(STDERR_FILENO))
		argv[n++] = "--quiet";
	argv[n] = NULL;
	fprintf(stderr,
	        "fetch-missing: %s collect --market %s --timeframe %s "
	        "--from %s --to %s --db %s\n",
	        path, o->market, tf_name(o->tf), tfrom, tto, o->db);
	fflush(NULL);
	if ((pid = fork()) == -1) {
		log_warn("fork");
		return -1;
	}
	if (pid == 0) {
		dup2(STDERR_FILENO, STDOUT_FILENO);
		execv(path, (char *const *)argv);
		query_error("%s: %s", path, strerror(errno));
		_exit(127);
	}
	/* no signal handler here: waitpid is never interrupted */
	if (waitpid(pid, &status, 0) == -1) {
		log_warn("waitpid");
		return -1;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static void
report_ranges(const char *what, enum tf tf, const struct range_list *l)
{
	char a[TIME_TEXT_LEN], b[TIME_TEXT_LEN], d[64];

	for (size_t i = 0; i < l->n; i++) {
		time_format(l->v[i].from, a);
		time_format(l->v[i].to, b);
		query_fmt_duration(l->v[i].to - l->v[i].from, d, sizeof(d));
		int64_t n = tf_count(tf, l->v[i].from, l->v[i].to);

		fprintf(stderr, "%s: [%s, %s) %lld slot%s (%s)\n", what, a, b, (long long)n,
		        n == 1 ? "" : "s", d);
	}
}

static void
report_coverage(const struct query_opts *o, const struct range_list *missing,
                const struct range_list *before)
{
	char a[TIME_TEXT_LEN], b[TIME_TEXT_LEN];
	int64_t want = tf_count(o->tf, o->from, o->to);
	int64_t proven = want - qdb_slots(o->tf, missing);
	const char *strategy = proven == want ? "full" : proven > 0 ? "partial" : "none";

	time_format(o->from, a);
	time_format(o->to, b);
	fprintf(stderr,
	        "coverage: %s %s [%s, %s): %lld/%lld slots covered (%.2f%%), "
	        "strategy %s\n",
	        o->market, tf_name(o->tf), a, b, (long long)proven, (long long)want,
	        want > 0 ? 100.0 * (double)proven / (double)want : 100.0, strategy);
	report_ranges("missing", o->tf, missing);
	report_ranges("before history (nothing is served there)", o->tf, before);
}

/* The candle before the range (?3 = from): its close, time and conversion. */
static const struct qsql last_before_sql = {
	"SELECT trade_price, candle_date_time_utc, converted_trade_price FROM candles_exact"
	" WHERE market = ?1 AND timeframe = ?2 AND candle_date_time_utc < ?3"
	" ORDER BY candle_date_time_utc DESC LIMIT 1",
	"SELECT trade_price, " QDB_PG_TIME(
	    "candle_date_time_utc") ", converted_trade_price"
	                            " FROM candlepipe.candles WHERE market = $1 AND timeframe = $2"
	                            " AND candle_date_time_utc < $3::timestamp ORDER BY candle_date_time_utc DESC LIMIT 1",
};

/* The longest text of each column the table shows, in the range. */
static const struct qsql widths_sql = {
	"SELECT max(length(opening_price)), max(length(high_price)),"
	" max(length(low_price)), max(length(trade_price)),"
	" max(length(candle_acc_trade_volume)), max(length(candle_acc_trade_price))"
	" FROM candles_exact WHERE market = ?1 AND timeframe = ?2"
	" AND candle_date_time_utc >= ?3 AND candle_date_time_utc < ?4",
	"SELECT max(length(opening_price::text)), max(length(high_price::text)),"
	" max(length(low_price::text)), max(length(trade_price::text)),"
	" max(length(candle_acc_trade_volume::text)), max(length(candle_acc_trade_price::text))"
	" FROM candlepipe.candles WHERE market = $1 AND timeframe = $2"
	" AND candle_date_time_utc >= $3::timestamp AND candle_date_time_utc < $4::timestamp",
};

/* sql bound to the range of o. */
static struct qcur *
prepare_for(struct qdb *db, const struct query_opts *o, const struct qsql *sql)
{
	return qdb_range(db, sql, o->market, o->tf, o->from, o->to);
}

static int
copy_decimal(char *dst, const char *src)
{
	size_t n = src ? strlen(src) : 0;

	if (src == NULL || n >= DECIMAL_MAX)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

/* Emits the flat candle of slot s at the previous close. */
static int
emit_filled(struct filler *fl, int64_t s)
{
	char utc[TIME_TEXT_LEN], kst[TIME_TEXT_LEN], ts[24], unit[24], day[11];
	struct candle_row r;
	enum tf tf = fl->o->tf;
	int64_t fixed = tf_fixed_seconds(tf);

	memset(&r, 0, sizeof(r));
	time_format(s, utc);
	time_format(s + KST_OFFSET_S, kst);
	snprintf(ts, sizeof(ts), "%lld", (long long)s * 1000);
	r.col[CC_MARKET] = fl->o->market;
	r.col[CC_TIMEFRAME] = tf_name(tf);
	r.col[CC_UTC] = utc;
	r.col[CC_KST] = kst;
	r.col[CC_OPEN] = r.col[CC_HIGH] = r.col[CC_LOW] = r.col[CC_CLOSE] = fl->prev;
	r.col[CC_TIMESTAMP] = ts;
	r.col[CC_ACC_PRICE] = r.col[CC_ACC_VOLUME] = "0";
	if (tf >= TF_1M && tf <= TF_4H) {
		snprintf(unit, sizeof(unit), "%lld", (long long)(fixed / 60));
		r.col[CC_UNIT] = unit;
	}
	if (tf == TF_1D) {
		r.col[CC_PREV_CLOSE] = fl->prev;
		r.col[CC_CHANGE_PRICE] = r.col[CC_CHANGE_RATE] = "0";
		r.col[CC_CONVERTED] = fl->have_conv ? fl->conv : NULL;
	}
	if (tf == TF_1W || tf == TF_1MO || tf == TF_1Y) {
		memcpy(day, utc, 10);
		day[10] = '\0';
		r.col[CC_FIRST_DAY] = day;
	}
	r.filled = 1;
	fl->filled++;
	return out_row(fl->out, &r);
}

/* Slots [a, b) hold no candle: fills the covered ones whose previous close
 * is proven; an uncovered slot breaks the chain of proof. */
static int
fill_span(struct filler *fl, int64_t a, int64_t b)
{
	const struct range_list *cov = fl->cov;
	enum tf tf = fl->o->tf;
	int64_t cur = a;

	if (a >= b)
		return 0;
	while (fl->ci < cov->n && cov->v[fl->ci].to <= cur)
		fl->ci++;
	for (size_t k = fl->ci; k < cov->n && cov->v[k].from < b; k++) {
		int64_t e = cov->v[k].to < b ? cov->v[k].to : b;

		if (cov->v[k].from > cur) {
			fl->have_prev = 0; /* never fetched: anything may have traded */
			cur = cov->v[k].from;
		}
		if (!fl->have_prev) {
			int64_t f = fl->have_bound && fl->bound > cur ? fl->bound : cur;

			fl->unfillable += (unsigned long long)tf_count(tf, f, e);
		} else {
			for (int64_t s = cur; s < e; s = tf_add(tf, s, 1))
				if (emit_filled(fl, s) == -1)
					return -1;
		}
		cur = e;
	}
	if (cur < b)
		fl->have_prev = 0;
	return 0;
}

/* Seeds the fill with the last candle before from, if every slot between
 * it and from is covered (so it is the previous close of from). */
static int
seed_fill(struct qdb *db, struct filler *fl)
{
	const struct query_opts *o = fl->o;
	struct range_list between = { 0 };
	struct qcur *c;
	int64_t s;
	int rc;

	if ((c = prepare_for(db, o, &last_before_sql)) == NULL)
		return -1;
	rc = qcur_step(c);
	if (rc == 1) {
		const char *t = qcur_text(c, 1);

		if (t != NULL && time_parse(t, &s) == 0 &&
		    copy_decimal(fl->prev, qcur_text(c, 0)) == 0) {
			int64_t next = tf_add(o->tf, tf_floor(o->tf, s), 1);

			fl->have_conv = copy_decimal(fl->conv, qcur_text(c, 2)) == 0;
			if (next >= o->from) {
				fl->have_prev = 1;
			} else if (qdb_covered(db, o->market, o->tf, next, o->from, &between) ==
			           0) {
				fl->have_prev = between.n == 1 && between.v[0].from == next &&
				                between.v[0].to == o->from;
			}
		}
	} else if (rc == -1) {
		query_error("%s", qdb_errmsg(db));
		qcur_close(c);
		return -1;
	}
	qcur_close(c);
	range_list_free(&between);
	return 0;
}

/* Table widths: the longest text of each shown column in the range. */
static int
table_widths(struct qdb *db, const struct query_opts *o, const struct filler *fl,
             struct table_widths *tw)
{
	static const enum candle_col cols[] = {
		CC_OPEN, CC_HIGH, CC_LOW, CC_CLOSE, CC_ACC_VOLUME, CC_ACC_PRICE,
	};
	struct qcur *c;

	memset(tw, 0, sizeof(*tw));
	tw->w[CC_UTC] = TIME_TEXT_LEN - 1;
	if ((c = prepare_for(db, o, &widths_sql)) == NULL)
		return -1;
	if (qcur_step(c) != 1) {
		query_error("%s", qdb_errmsg(db));
		qcur_close(c);
		return -1;
	}
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
		tw->w[cols[i]] = qcur_int(c, (int)i);
	qcur_close(c);
	if (fl->have_prev) {
		int n = (int)strlen(fl->prev);

		for (int i = CC_OPEN; i <= CC_CLOSE; i++)
			if (tw->w[i] < n)
				tw->w[i] = n;
	}
	return 0;
}

static int
stdout_error(void)
{
	query_error("stdout: %s", strerror(errno));
	return -1;
}

/* Fill-forward before the real row r: the empty slots since the previous
 * row, then r's close becomes the previous close. 0, or -1 after a message. */
static int
fill_before(struct filler *fl, const struct candle_row *r, int64_t *next)
{
	enum tf tf = fl->o->tf;
	int64_t s;

	if (r->col[CC_UTC] == NULL || time_parse(r->col[CC_UTC], &s) == -1) {
		query_error("bad candle time '%s'", r->col[CC_UTC] ? r->col[CC_UTC] : "NULL");
		return -1;
	}
	s = tf_floor(tf, s);
	if (s > *next && fill_span(fl, *next, s) == -1)
		return stdout_error();
	fl->have_prev = copy_decimal(fl->prev, r->col[CC_CLOSE]) == 0;
	fl->have_conv = copy_decimal(fl->conv, r->col[CC_CONVERTED]) == 0;
	*next = tf_add(tf, s, 1);
	return 0;
}

/* The rows of c, with the fills between and after them, to fl->out. */
static int
stream_rows(struct qdb *db, struct qcur *c, struct filler *fl)
{
	const struct query_opts *o = fl->o;
	struct candle_row r;
	int64_t next = o->from;
	int rc;

	out_begin(fl->out);
	while ((rc = qcur_step(c)) == 1) {
		out_row_from_cur(c, &r);
		r.filled = 0;
		if (o->fill && fill_before(fl, &r, &next) == -1)
			return -1;
		if (out_row(fl->out, &r) == -1)
			return stdout_error();
	}
	if (rc == -1) {
		query_error("%s", qdb_errmsg(db));
		return -1;
	}
	if (o->fill && fill_span(fl, next, o->to) == -1)
		return stdout_error();
	out_end(fl->out);
	return 0;
}

/* The range's candles, oldest first. */
static struct qcur *
prepare_rows(struct qdb *db, const struct query_opts *o)
{
	char lite[1024], pg[1024];
	const struct qsql sql = { lite, pg };

	snprintf(lite, sizeof(lite),
	         "SELECT %s FROM candles_exact WHERE market = ?1"
	         " AND timeframe = ?2 AND candle_date_time_utc >= ?3"
	         " AND candle_date_time_utc < ?4 ORDER BY candle_date_time_utc",
	         query_columns_sql);
	snprintf(pg, sizeof(pg),
	         "SELECT %s FROM candlepipe.candles WHERE market = $1"
	         " AND timeframe = $2 AND candle_date_time_utc >= $3::timestamp"
	         " AND candle_date_time_utc < $4::timestamp ORDER BY candle_date_time_utc",
	         query_columns_pg);
	return prepare_for(db, o, &sql);
}

/* Streams the candles of the range (and the fills) to stdout. */
static int
print_candles(struct qdb *db, const struct query_opts *o, const struct range_list *cov,
              struct filler *fl)
{
	static char buf[OUT_BUF_BYTES];
	struct row_out out = { .f = stdout, .fmt = o->fmt, .with_filled = o->fill };
	struct qcur *st = NULL;
	int rc = -1;

	setvbuf(stdout, buf, _IOFBF, sizeof(buf));
	fl->out = &out;
	fl->cov = cov;
	if ((!o->fill || seed_fill(db, fl) == 0) &&
	    (o->fmt != FMT_TABLE || table_widths(db, o, fl, &out.tw) == 0) &&
	    (st = prepare_rows(db, o)) != NULL)
		rc = stream_rows(db, st, fl);
	qcur_close(st);
	fl->out = NULL; /* out lives on this stack */
	if (rc == -1)
		return -1;
	if (fflush(stdout) == EOF || ferror(stdout))
		return stdout_error();
	fprintf(stderr, "rows: %llu (%llu candle%s, %llu filled)", out.rows, out.rows - fl->filled,
	        out.rows - fl->filled == 1 ? "" : "s", fl->filled);
	if (fl->unfillable)
		fprintf(stderr, "; %llu empty slot%s left out (no proven previous close)",
		        fl->unfillable, fl->unfillable == 1 ? "" : "s");
	fputc('\n', stderr);
	return 0;
}

/* Whether the range still lacks something a collection could fetch. */
static int
needs_fetch(const struct query_opts *o)
{
	struct range_list cov = { 0 }, missing = { 0 }, before = { 0 };
	struct qdb *db;
	int64_t bound;
	int have_bound, missing_db, need = 1;

	if (o->from >= o->to)
		return 0;
	if (!pgdb_is_uri(o->db) && access(o->db, F_OK) == -1)
		return 1;
	if ((db = qdb_open(o->db, &missing_db)) == NULL)
		return 1;
	if (qdb_covered(db, o->market, o->tf, o->from, o->to, &cov) == 0 &&
	    qdb_history_bound(db, o->market, o->tf, &bound, &have_bound) == 0 &&
	    qdb_split_missing(o->from, o->to, &cov, bound, have_bound, &missing, &before) == 0)
		need = missing.n > 0;
	qdb_close(db);
	range_list_free(&cov);
	range_list_free(&missing);
	range_list_free(&before);
	return need;
}

int
query_run(int argc, char **argv)
{
	struct query_opts o;
	struct range_list cov = { 0 }, missing = { 0 }, before = { 0 };
	struct filler fl;
	struct qdb *db = NULL;
	int64_t bound = 0;
	int have_bound = 0, missing_db, rc = 1;

	parse_args(argc, argv, &o);
	if (o.fetch_missing && needs_fetch(&o)) {
		int crc = run_collect(&o);

		if (crc != 0)
			query_error("collect exited %d; answering from what is stored", crc);
	}
	if ((db = qdb_open(o.db, &missing_db)) == NULL)
		return missing_db ? EXIT_FAILED : EXIT_PERMFAIL; /* not ours: 3 */
	memset(&fl, 0, sizeof(fl));
	fl.o = &o;
	if (qdb_covered(db, o.market, o.tf, o.from, o.to, &cov) == -1 ||
	    qdb_history_bound(db, o.market, o.tf, &bound, &have_bound) == -1 ||
	    qdb_split_missing(o.from, o.to, &cov, bound, have_bound, &missing, &before) == -1)
		goto done;
	fl.bound = bound;
	fl.have_bound = have_bound;
	if (print_candles(db, &o, &cov, &fl) == -1)
		goto done;
	report_coverage(&o, &missing, &before);
	rc = 0;
done:
	qdb_close(db);
	range_list_free(&cov);
	range_list_free(&missing);
	range_list_free(&before);
	return rc;
}
