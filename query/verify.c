/*
 * verify.c: `verify`, an fsck for a candlepipe database. It opens the file
 * read-only (qdb_open: SQLITE_OPEN_READONLY, the file is never changed) and
 * checks what every reader trusts:
 *   integrity   SQLite's own PRAGMA integrity_check
 *   coverage    rows of one market and timeframe that overlap or touch
 *               (the writer keeps them merged), or are empty
 *   off-grid    candles that do not start on their timeframe's grid
 *   kst         candle_date_time_kst other than UTC + 9 h
 *   decimal     exact text (candles_exact) that is not a decimal
 *   view        the REAL view `candles` disagreeing with the exact text
 *   history     a history start after a stored candle (not for 1s, whose
 *               3-month horizon moves forward over stored candles)
 *   time, timeframe, schema: text that is not what the writer stores
 * Each problem is one line on stdout, "MARKET TF TIME KIND: detail" (TIME
 * ISO 8601 in UTC, "-" where there is none), then one summary line. Tables
 * it does not know are ignored. It owns nothing durable.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "opts.h"
#include "query.h"
#include "timeutil.h"

#define VIEW_REL_TOLERANCE 1e-12 /* text to double: a few ulps, whoever converts */
#define SQL_MAX 4096

enum vkind {
	VK_INTEGRITY,
	VK_SCHEMA,
	VK_TIME,
	VK_TIMEFRAME,
	VK_COVERAGE,
	VK_GRID,
	VK_KST,
	VK_DECIMAL,
	VK_VIEW,
	VK_HISTORY,
	VK_COUNT
};

static const char *const vkind_names[VK_COUNT] = {
	[VK_INTEGRITY] = "integrity",
	[VK_SCHEMA] = "schema",
	[VK_TIME] = "time",
	[VK_TIMEFRAME] = "timeframe",
	[VK_COVERAGE] = "coverage",
	[VK_GRID] = "off-grid",
	[VK_KST] = "kst",
	[VK_DECIMAL] = "decimal",
	[VK_VIEW] = "view",
	[VK_HISTORY] = "history",
};

/* The decimal columns of candles_exact (and of the view, as REAL). */
static const char *const decimal_cols[] = {
	"opening_price",
	"high_price",
	"low_price",
	"trade_price",
	"candle_acc_trade_price",
	"candle_acc_trade_volume",
	"prev_closing_price",
	"change_price",
	"change_rate",
	"converted_trade_price",
};
#define NDEC (sizeof(decimal_cols) / sizeof(decimal_cols[0]))

/* Columns of the candle scan: the key and KST, whether the view has the
 * row, then (exact text, view value) per decimal column. */
enum { SC_MARKET, SC_TF, SC_UTC, SC_KST, SC_IN_VIEW, SC_DEC0 };

struct verify {
	struct qdb *db;
	const char *path;
	int has_view;
	unsigned long long found[VK_COUNT], problems;
	unsigned long long candles, coverage_rows, history_rows;
};

/* One row of a scan, as text: key, times and the timeframe. */
struct where {
	const char *market, *tf, *utc;
};

static void
usage(FILE *f)
{
	opts_fputs("usage: ./run.sh verify [--db PATH]\n"
	           "\n"
	           "Checks a database the way fsck checks a file system, read-only (the\n"
	           "file is never changed, so it may run beside a collection):\n"
	           "  integrity  SQLite's own PRAGMA integrity_check\n"
	           "  coverage   coverage rows of one market and timeframe that overlap\n"
	           "             or touch (they are kept merged), or are empty\n"
	           "  off-grid   candles not starting on their timeframe's grid\n"
	           "  kst        candle_date_time_kst not equal to UTC + 9 h\n"
	           "  decimal    exact decimal text that does not parse as a decimal\n"
	           "  view       the REAL view `candles` disagreeing with the exact text\n"
	           "  history    a history start after a stored candle (not for 1s: its\n"
	           "             3-month horizon moves forward over stored candles)\n"
	           "  time, timeframe, schema: values not as the writer stores them\n"
	           "Prints each problem on one line, 'MARKET TF TIME KIND: detail' (TIME\n"
	           "in UTC, ISO 8601), then a summary line.\n"
	           "options:\n"
	           "  --db PATH|URI    database: a SQLite file (default " QUERY_DEFAULT_DB "),\n"
	           "                   or postgresql://USER@HOST/DBNAME (read-only)\n"
	           "exit: 0 no problem, 1 problems found, 2 usage error, 3 not a\n"
	           "candlepipe database (missing, not SQLite, another schema).\n",
	           f);
}

static void problem(struct verify *v, enum vkind k, const struct where *w, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Prints one problem line and counts it. w may be NULL (database-wide). */
static void
problem(struct verify *v, enum vkind k, const struct where *w, const char *fmt, ...)
{
	va_list ap;
	int has_utc = w != NULL && w->utc != NULL;

	printf("%s %s %s%s %s: ", w && w->market ? w->market : "-", w && w->tf ? w->tf : "-",
	       has_utc ? w->utc : "-", has_utc ? "Z" : "", vkind_names[k]);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	v->found[k]++;
	v->problems++;
}

/* A stored time: exactly "YYYY-MM-DDTHH:MM:SS" as the writer formats it. */
static int
stored_time(const char *s, int64_t *t)
{
	char back[TIME_TEXT_LEN];

	if (s == NULL || strlen(s) != TIME_TEXT_LEN - 1 || time_parse(s, t) == -1)
		return -1;
	time_format(*t, back);
	return strcmp(back, s) == 0 ? 0 : -1;
}

/* A stored timeframe: one of the canonical names. */
static int
stored_tf(const char *s, enum tf *tf)
{
	return s != NULL && tf_parse(s, tf) == 0 && strcmp(tf_name(*tf), s) == 0 ? 0 : -1;
}

/* Digits: the length of the run at s, at least one, or 0. */
static size_t
digits(const char *s)
{
	return strspn(s, "0123456789");
}

/* The grammar the protocol admits for a decimal (and so all the writer
 * stores): [+-]digits[.digits][(e|E)[+-]digits]. */
static int
decimal_text_ok(const char *s)
{
	size_t n;

	s += *s == '+' || *s == '-';
	if ((n = digits(s)) == 0)
		return 0;
	s += n;
	if (*s == '.') {
		if ((n = digits(++s)) == 0)
			return 0;
		s += n;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		s += *s == '+' || *s == '-';
		if ((n = digits(s)) == 0)
			return 0;
		s += n;
	}
	return *s == '\0';
}

/* Steps st to its end, handing each row to fn; a read error mid-way is an
 * integrity problem (the rest of the table is not checked). */
static void
scan(struct verify *v, struct qcur *st, const char *what,
     void (*fn)(struct verify *, struct qcur *, void *), void *arg)
{
	int rc;

	while ((rc = qcur_step(st)) == 1)
		fn(v, st, arg);
	if (rc == -1)
		problem(v, VK_INTEGRITY, NULL, "reading %s stopped: %s", what, qdb_errmsg(v->db));
	qcur_close(st);
}

/* Prepares sql; a failure is a schema problem (NULL). */
static struct qcur *
prepare(struct verify *v, const char *sql, const char *what)
{
	struct qcur *st = qcur_open(v->db, sql, 0, NULL);

	if (st == NULL)
		problem(v, VK_SCHEMA, NULL, "cannot read %s: %s", what, qdb_errmsg(v->db));
	return st;
}

/* sql in the dialect of v's database; the PostgreSQL one may name the
 * collation of its ORDER BY twice (%s: db->collate). */
static struct qcur *
prepare2(struct verify *v, const struct qsql *sql, const char *what)
{
	char pg[SQL_MAX];

	if (v->db->pg == NULL)
		return prepare(v, sql->lite, what);
	snprintf(pg, sizeof(pg), sql->pg, v->db->collate, v->db->collate);
	return prepare(v, pg, what);
}

static const char *
col_text(const struct qcur *st, int i)
{
	return qcur_text(st, i);
}

/* ---- integrity ---- */

static void
integrity_row(struct verify *v, struct qcur *st, void *arg)
{
	const char *msg = col_text(st, 0);

	(void)arg;
	if (msg == NULL) {
		problem(v, VK_INTEGRITY, NULL, "(null)");
		return;
	}
	if (strcmp(msg, "ok") == 0)
		return;
	/* one row may hold several problems, a line each */
	for (const char *nl; *msg != '\0'; msg = *nl ? nl + 1 : nl) {
		nl = msg + strcspn(msg, "\n");
		if (nl > msg)
			problem(v, VK_INTEGRITY, NULL, "%.*s", (int)(nl - msg), msg);
	}
}

/* SQLite's own check of its file; PostgreSQL checks its pages itself. */
static void
check_integrity(struct verify *v)
{
	struct qcur *st;

	if (v->db->pg != NULL)
		return;
	st = prepare(v, "PRAGMA integrity_check", "PRAGMA integrity_check");

	if (st != NULL)
		scan(v, st, "PRAGMA integrity_check", integrity_row, NULL);
}

/* ---- coverage ---- */

/* The previous coverage row of the walk: its key and end. */
struct cov_prev {
	char market[64], tf[16]; /* copies for the comparison; longer ones are cut */
	int64_t to;
	int have;
};

/* 1 if w is of the market and timeframe of the previous row; remembers w's. */
static int
same_key(struct cov_prev *p, const struct where *w)
{
	int same = p->have && w->market != NULL && w->tf != NULL &&
	           strcmp(p->market, w->market) == 0 && strcmp(p->tf, w->tf) == 0;

	snprintf(p->market, sizeof(p->market), "%s", w->market ? w->market : "");
	snprintf(p->tf, sizeof(p->tf), "%s", w->tf ? w->tf : "");
	p->have = 1;
	return same;
}

static void
coverage_row(struct verify *v, struct qcur *st, void *arg)
{
	struct cov_prev *p = arg;
	struct where w = { col_text(st, 0), col_text(st, 1), col_text(st, 2) };
	const char *to_text = col_text(st, 3);
	int64_t from, to;
	enum tf tf;
	int same;

	v->coverage_rows++;
	if (stored_tf(w.tf, &tf) == -1)
		problem(v, VK_TIMEFRAME, &w, "coverage row of an unknown timeframe");
	if (stored_time(w.utc, &from) == -1 || stored_time(to_text, &to) == -1) {
		problem(v, VK_TIME, &w, "coverage row [%s, %s) is not two stored times",
		        w.utc ? w.utc : "NULL", to_text ? to_text : "NULL");
		return;
	}
	if (from >= to)
		problem(v, VK_COVERAGE, &w, "empty coverage row [%s, %s)", w.utc, to_text);
	same = same_key(p, &w);
	if (same && from <= p->to)
		problem(v, VK_COVERAGE, &w, "coverage row [%s, %s) %s the one before it", w.utc,
		        to_text, from < p->to ? "overlaps" : "touches (not merged with)");
	/* the end so far of this market and timeframe: a row inside an
	 * earlier one is reported once, and the next is compared with both */
	if (!same || to > p->to)
		p->to = to;
}

static void
check_coverage(struct verify *v)
{
	static const struct qsql sql = {
		"SELECT market, timeframe, from_utc, to_utc FROM coverage"
		" ORDER BY market, timeframe, from_utc",
		"SELECT market, timeframe, " QDB_PG_TIME("lower(span)") ", " QDB_PG_TIME(
		    "upper(span)") " FROM candlepipe.coverage"
		                   " ORDER BY market%s, timeframe%s, lower(span)",
	};
	struct cov_prev prev = { "", "", 0, 0 };
	struct qcur *st = prepare2(v, &sql, "coverage");

	if (st != NULL)
		scan(v, st, "coverage", coverage_row, &prev);
}

/* ---- candles ---- */

/* Decimal column k of the current row: text and view value agree. */
static void
candle_decimal(struct verify *v, struct qcur *st, const struct where *w, size_t k)
{
	int tc = SC_DEC0 + 2 * (int)k, vc = tc + 1;
	const char *text = col_text(st, tc);
	double exact, real = 0;
	int kind;

	if (text == NULL) {
		if (v->has_view && qcur_real(st, vc, &real) != 0)
			problem(v, VK_VIEW, w, "%s is NULL, the view says %.17g", decimal_cols[k],
			        real);
		return;
	}
	if (!decimal_text_ok(text)) {
		problem(v, VK_DECIMAL, w, "%s '%s' is not a decimal", decimal_cols[k], text);
		return;
	}
	if (!v->has_view)
		return;
	exact = strtod(text, NULL);
	kind = qcur_real(st, vc, &real);
	if (kind != 1 || !(exact == real || fabs(exact - real) <= VIEW_REL_TOLERANCE * fabs(exact)))
		problem(v, VK_VIEW, w, "%s '%s', the view says %s", decimal_cols[k], text,
		        col_text(st, vc) ? col_text(st, vc) : "NULL");
}

/* The start, timeframe, grid and KST of the current row. */
static void
candle_times(struct verify *v, struct qcur *st, const struct where *w)
{
	const char *kst = col_text(st, SC_KST);
	char want[TIME_TEXT_LEN];
	int64_t t;
	enum tf tf;

	if (stored_time(w->utc, &t) == -1) {
		problem(v, VK_TIME, w, "candle_date_time_utc '%s' is not a stored time",
		        w->utc ? w->utc : "NULL");
		return;
	}
	if (stored_tf(w->tf, &tf) == -1)
		problem(v, VK_TIMEFRAME, w, "candle of an unknown timeframe");
	else if (!tf_aligned(tf, t))
		problem(v, VK_GRID, w, "not a %s slot start", w->tf);
	time_format(t + KST_OFFSET_S, want);
	if (kst == NULL || strcmp(kst, want) != 0)
		problem(v, VK_KST, w, "candle_date_time_kst '%s', not UTC + 9 h = %s",
		        kst ? kst : "NULL", want);
}

static void
candle_row(struct verify *v, struct qcur *st, void *arg)
{
	struct where w = { col_text(st, SC_MARKET), col_text(st, SC_TF), col_text(st, SC_UTC) };

	(void)arg;
	v->candles++;
	candle_times(v, st, &w);
	if (v->has_view && !qcur_int(st, SC_IN_VIEW))
		problem(v, VK_VIEW, &w, "the row is missing from the view");
	for (size_t k = 0; k < NDEC; k++)
		candle_decimal(v, st, &w, k);
}

/* The candle scan over candles_exact, joined with the view named rel. */
static void
candle_sql(char *sql, size_t cap, const char *rel)
{
	size_t n = (size_t)snprintf(sql, cap,
	                            "SELECT e.market, e.timeframe, e.candle_date_time_utc,"
	                            " e.candle_date_time_kst, v.market IS NOT NULL");

	for (size_t k = 0; k < NDEC && n < cap; k++)
		n += (size_t)snprintf(sql + n, cap - n, ", e.%s, v.%s", decimal_cols[k],
		                      decimal_cols[k]);
	if (n < cap)
		snprintf(sql + n, cap - n,
		         " FROM candles_exact e LEFT JOIN %s v ON v.market = e.market"
		         " AND v.timeframe = e.timeframe"
		         " AND v.candle_date_time_utc = e.candle_date_time_utc",
		         rel);
}

/* Without a usable view: the same columns, none of them from a view. */
static void
no_view_rel(char *rel, size_t cap)
{
	size_t n = (size_t)snprintf(rel, cap, "(SELECT market, timeframe, candle_date_time_utc");

	for (size_t k = 0; k < NDEC && n < cap; k++)
		n += (size_t)snprintf(rel + n, cap - n, ", NULL AS %s", decimal_cols[k]);
	if (n < cap)
		snprintf(rel + n, cap - n, " FROM candles_exact WHERE 0)");
}

/* PostgreSQL: the same columns in SQLite's text, no view (numeric is the
 * exact decimal itself), in SQLite's primary key order. */
static void
candle_sql_pg(char *sql, size_t cap, const char *collate)
{
	static const char head[] = "SELECT market, timeframe, " QDB_PG_TIME(
	    "candle_date_time_utc") ", " QDB_PG_TIME("candle_date_time_kst") ", false";
	size_t n = (size_t)snprintf(sql, cap, "%s", head);

	for (size_t k = 0; k < NDEC && n < cap; k++)
		n += (size_t)snprintf(sql + n, cap - n, ", %s, NULL", decimal_cols[k]);
	if (n < cap)
		snprintf(sql + n, cap - n,
		         " FROM candlepipe.candles ORDER BY market%s, timeframe%s,"
		         " candle_date_time_utc",
		         collate, collate);
}

static void
check_candles(struct verify *v)
{
	char sql[SQL_MAX], rel[SQL_MAX / 2];
	struct qcur *st = NULL;

	if (v->db->pg != NULL) {
		candle_sql_pg(sql, sizeof(sql), v->db->collate);
		if ((st = prepare(v, sql, "candlepipe.candles")) != NULL)
			scan(v, st, "candlepipe.candles", candle_row, NULL);
		return;
	}
	candle_sql(sql, sizeof(sql), "candles");
	st = qcur_open(v->db, sql, 0, NULL);
	v->has_view = st != NULL;
	if (!v->has_view) {
		problem(v, VK_SCHEMA, NULL, "the view candles is unusable: %s", qdb_errmsg(v->db));
		no_view_rel(rel, sizeof(rel));
		candle_sql(sql, sizeof(sql), rel);
		if ((st = prepare(v, sql, "candles_exact")) == NULL)
			return;
	}
	scan(v, st, "candles_exact", candle_row, NULL);
}

/* ---- history starts ---- */

static void
history_row(struct verify *v, struct qcur *st, void *arg)
{
	struct where w = { col_text(st, 0), col_text(st, 1), col_text(st, 3) };
	const char *first = col_text(st, 2);
	int64_t t;

	(void)arg;
	v->history_rows++;
	if (stored_time(first, &t) == -1) {
		w.utc = NULL;
		problem(v, VK_TIME, &w, "history start '%s' is not a stored time",
		        first ? first : "NULL");
		return;
	}
	if (w.utc != NULL && strcmp(w.utc, first) < 0 && (w.tf == NULL || strcmp(w.tf, "1s") != 0))
		problem(v, VK_HISTORY, &w, "history starts at %sZ, after this stored candle",
		        first);
}

static void
check_history(struct verify *v)
{
	static const struct qsql sql = {
		"SELECT h.market, h.timeframe, h.first_utc,"
		" (SELECT MIN(c.candle_date_time_utc) FROM candles_exact c"
		"  WHERE c.market = h.market AND c.timeframe = h.timeframe)"
		" FROM history_start h ORDER BY h.market, h.timeframe",
		"SELECT h.market, h.timeframe, " QDB_PG_TIME(
		    "h.first_utc") ","
		                   " (SELECT " QDB_PG_TIME(
		                       "MIN(c.candle_date_time_utc)") " FROM candlepipe.candles c"
		                                                      "  WHERE c.market = h.market AND c.timeframe = h.timeframe)"
		                                                      " FROM candlepipe.history_start h ORDER BY h.market%s, h.timeframe%s",
	};
	struct qcur *st = prepare2(v, &sql, "history_start");

	if (st != NULL)
		scan(v, st, "history_start", history_row, NULL);
}

static void
summary(const struct verify *v)
{
	printf("verify: %s: %llu problem%s", v->db->name, v->problems, v->problems == 1 ? "" : "s");
	for (int k = 0, first = 1; k < VK_COUNT; k++) {
		if (v->found[k] == 0)
			continue;
		printf("%s%llu %s", first ? " (" : ", ", v->found[k], vkind_names[k]);
		first = 0;
	}
	printf("%s in %llu candles, %llu coverage rows, %llu history starts\n",
	       v->problems ? ")" : "", v->candles, v->coverage_rows, v->history_rows);
}

int
verify_run(int argc, char **argv)
{
	static char prog[] = "cp-query verify";
	struct verify v;
	int missing;
	const struct opt table[] = {
		{ .name = "db", .kind = OPT_STR, .dest = &v.path },
		{ .name = "help", .short_name = 'h', .kind = OPT_HELP },
		{ .kind = OPT_END },
	};

	memset(&v, 0, sizeof(v));
	v.path = QUERY_DEFAULT_DB;
	argv[0] = prog; /* getopt names argv[0] in its messages */
	if (opts_parse(prog, argc, argv, table, usage) == -1)
		return EXIT_USAGE;
	v.db = qdb_open(v.path, &missing);
	if (v.db == NULL) {
		/* qdb_open said why (not always naming the file) */
		if (!missing)
			fprintf(stderr, "cp-query verify: %s is not a candlepipe database\n",
			        v.path);
		return EXIT_PERMFAIL;
	}
	check_integrity(&v);
	check_coverage(&v);
	check_candles(&v);
	check_history(&v);
	summary(&v);
	qdb_close(v.db);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "cp-query verify: cannot write the report\n");
		return EXIT_FAILED;
	}
	return v.problems > 0 ? EXIT_FAILED : EXIT_OK;
}
