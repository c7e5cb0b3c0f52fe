/*
 * copy.c: the writer's copy mode (cp-writer --db DST --copy-from SRC, see
 * copy.h). It owns the reading of a source database, SQLite or PostgreSQL,
 * read-only and judged like any reader's (ledger_src_open), and its
 * translation into the writes a collection makes.
 *
 * Per (market, timeframe) of the source (any with candles, coverage or a
 * history start), the time line is cut at the source's coverage rows. A
 * covered row [a, b) becomes results of at most 200 candles, oldest first,
 * each proving [its start, the next one's start), the last up to b: the
 * store merges them back into [a, b) beside whatever the destination
 * already covers. Candles outside every row (none in a database of ours,
 * but copied all the same) become results that prove nothing. Each batch
 * of results is one transaction (store_begin ... store_commit), so a
 * copy stopped anywhere leaves whole results behind and a rerun completes
 * it. History starts and markets follow, each row as the source holds it.
 * Decimals stay the exact text of the source (numeric's text keeps its
 * scale), so SQLite -> PostgreSQL -> SQLite gives back the same bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "copy.h"
#include "exitcodes.h"
#include "ledger.h"
#include "log.h"
#include "pgdb.h"
#include "tf.h"
#include "timeutil.h"

#define BATCH 64 /* results per transaction */
#define PAGE CANDLE_MAX_PER_RESPONSE
#define PROGRESS_EVERY_MS 2000
#define TIME_END 253402300799LL /* 9999-12-31T23:59:59: no upper bound */
#define RETRIES 8               /* a lost connection: attempts before exit 4 */
#define COLS 14                 /* the columns of a page query */

/* The source's queries, SQLite and PostgreSQL, the same columns in the
 * same order: every value as text. */
static const char pairs_sq[] =
    "SELECT market, timeframe FROM candles_exact UNION SELECT market, timeframe FROM coverage"
    " UNION SELECT market, timeframe FROM history_start ORDER BY 1, 2";
static const char pairs_pg[] =
    "SELECT market, timeframe FROM candlepipe.candles UNION SELECT market, timeframe"
    " FROM candlepipe.coverage UNION SELECT market, timeframe FROM candlepipe.history_start"
    " ORDER BY 1, 2";
static const char page_sq[] =
    "SELECT candle_date_time_utc, opening_price, high_price, low_price, trade_price,"
    " timestamp, candle_acc_trade_price, candle_acc_trade_volume, unit, prev_closing_price,"
    " change_price, change_rate, converted_trade_price, first_day_of_period"
    " FROM candles_exact WHERE market = ?1 AND timeframe = ?2"
    " AND candle_date_time_utc >= ?3 AND candle_date_time_utc < ?4"
    " ORDER BY candle_date_time_utc LIMIT 200";
static const char page_pg[] =
    "SELECT to_char(candle_date_time_utc, 'YYYY-MM-DD\"T\"HH24:MI:SS'), opening_price,"
    " high_price, low_price, trade_price, timestamp, candle_acc_trade_price,"
    " candle_acc_trade_volume, unit, prev_closing_price, change_price, change_rate,"
    " converted_trade_price, first_day_of_period"
    " FROM candlepipe.candles WHERE market = $1 AND timeframe = $2"
    " AND candle_date_time_utc >= $3::timestamp AND candle_date_time_utc < $4::timestamp"
    " ORDER BY candle_date_time_utc LIMIT 200";
static const char hist_sq[] =
    "SELECT first_utc FROM history_start WHERE market = ?1 AND timeframe = ?2";
static const char hist_pg[] =
    "SELECT to_char(first_utc, 'YYYY-MM-DD\"T\"HH24:MI:SS') FROM candlepipe.history_start"
    " WHERE market = $1 AND timeframe = $2";
static const char markets_sq[] =
    "SELECT market, korean_name, english_name, warning, caution, updated_utc FROM markets"
    " ORDER BY market";
static const char markets_pg[] =
    "SELECT market, korean_name, english_name, CASE WHEN warning THEN '1' WHEN NOT warning"
    " THEN '0' END, caution::text, to_char(updated_utc, 'YYYY-MM-DD\"T\"HH24:MI:SS')"
    " FROM candlepipe.markets ORDER BY market";

/* The column of each decimal in a page row. */
static const int num_col[CN_COUNT] = {
	[CN_OPEN] = 1,         [CN_HIGH] = 2,       [CN_LOW] = 3,        [CN_CLOSE] = 4,
	[CN_ACC_PRICE] = 6,    [CN_ACC_VOLUME] = 7, [CN_PREV_CLOSE] = 9, [CN_CHANGE_PRICE] = 10,
	[CN_CHANGE_RATE] = 11, [CN_CONVERTED] = 12,
};

/* A query's rows over either source: every value as text, NULL for NULL. */
struct rows {
	sqlite3_stmt *st; /* SQLite: stepped */
	PGresult *res;    /* PostgreSQL: all rows at once */
	int row, n;       /* PostgreSQL: the current row, the count */
};

struct copy {
	struct store *dst;
	const char *dst_name, *src_name;
	struct ledger_src src;
	volatile const sig_atomic_t *stop;
	struct msg_result res[BATCH];
	struct store_outcome out[BATCH];
	struct candle cand[BATCH][PAGE];
	int n;            /* results in the batch */
	int perm;         /* the failure was permanent (exit 3) */
	uint64_t next_id; /* the results' chunk ids */
	int64_t next_progress;
	/* the tally */
	uint64_t candles, fresh, rows, ranges, dup_ranges, hist, hist_changed, markets,
	    markets_changed;
	size_t pair;
	char market[MARKET_MAX];
	enum tf tf;
};

/* Runs sql on the source with the text parameters v[0..n); rows_next
 * then yields its rows. 0 or -1 (logged). */
static int
rows_open(struct copy *c, struct rows *q, const char *sq, const char *pg, const char *const *v,
          int n)
{
	memset(q, 0, sizeof(*q));
	q->row = -1;
	if (c->src.pg != NULL) {
		q->res = PQexecParams(c->src.pg, pg, n, NULL, v, NULL, NULL, 0);
		if (PQresultStatus(q->res) == PGRES_TUPLES_OK) {
			q->n = PQntuples(q->res);
			return 0;
		}
		log_warnx("reading %s: %s", c->src_name, pgdb_errmsg(c->src.pg, q->res));
		PQclear(q->res);
		q->res = NULL;
		return -1;
	}
	if (sqlite3_prepare_v2(c->src.db, sq, -1, &q->st, NULL) != SQLITE_OK) {
		log_warnx("reading %s: %s", c->src_name, sqlite3_errmsg(c->src.db));
		return -1;
	}
	for (int i = 0; i < n; i++)
		sqlite3_bind_text(q->st, i + 1, v[i], -1, SQLITE_STATIC);
	return 0;
}

/* 1 with the next row current, 0 at the end, -1 on failure (logged). */
static int
rows_next(struct copy *c, struct rows *q)
{
	int rc;

	if (q->res != NULL)
		return ++q->row < q->n ? 1 : 0;
	rc = sqlite3_step(q->st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	log_warnx("reading %s: %s", c->src_name, sqlite3_errmsg(c->src.db));
	return -1;
}

/* Column i of the current row as text, NULL for NULL. */
static const char *
rows_text(const struct rows *q, int i)
{
	if (q->res != NULL)
		return PQgetisnull(q->res, q->row, i) ? NULL : PQgetvalue(q->res, q->row, i);
	return (const char *)sqlite3_column_text(q->st, i);
}

static void
rows_close(struct rows *q)
{
	sqlite3_finalize(q->st);
	PQclear(q->res);
	memset(q, 0, sizeof(*q));
}

/* 1 if the source has the tables of a candlepipe database (an empty one
 * has nothing to copy), 0 if not, -1 on failure. */
static int
src_has_schema(struct copy *c, const char *table)
{
	struct rows q;
	int rc;
	const char *v[1] = { table };

	if (c->src.pg == NULL && c->src.db == NULL)
		return 0;
	if (rows_open(c, &q, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
	              "SELECT 1 WHERE to_regclass('candlepipe.' || $1) IS NOT NULL", v, 1) == -1)
		return -1;
	rc = rows_next(c, &q);
	rows_close(&q);
	return rc;
}

static void
progress(struct copy *c, int force)
{
	int64_t now = time_mono_ms();

	if (!force && now < c->next_progress)
		return;
	c->next_progress = now + PROGRESS_EVERY_MS;
	log_info("copy: market/timeframe %zu (%s %s), %llu candles read, %llu new", c->pair,
	         c->market, tf_name(c->tf), (unsigned long long)c->candles,
	         (unsigned long long)c->fresh);
}

/* Commits the batch, reconnecting after a lost connection (the retry of a
 * committed batch changes nothing). 0 or -1 (logged). */
static int
commit_batch(struct copy *c)
{
	struct store_err err;
	int64_t now = time_now();

	for (int attempt = 0; attempt < RETRIES; attempt++) {
		enum store_status st = store_begin(c->dst) == 0 ? STORE_OK : STORE_ERROR;
		long ms = 250L << (attempt < 4 ? attempt : 4);
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

		for (int i = 0; st == STORE_OK && i < c->n; i++)
			st = store_put_result(c->dst, &c->res[i], now, &c->out[i]);
		if (st == STORE_OK && store_commit(c->dst) == 0)
			return 0;
		store_rollback(c->dst);
		c->perm = st == STORE_REJECTED;
		if (c->perm || !store_conn_lost(c->dst))
			return -1;
		nanosleep(&ts, NULL);
		if (store_reconnect(c->dst, &err) == -1)
			log_warnx("%s", err.msg);
	}
	return -1;
}

/* Writes the batch and tallies it. 0 or -1. */
static int
flush(struct copy *c)
{
	if (c->n == 0)
		return 0;
	if (commit_batch(c) == -1)
		return -1;
	for (int i = 0; i < c->n; i++) {
		c->fresh += c->out[i].new_candles;
		if (c->out[i].cov_from < c->out[i].cov_to) {
			c->ranges++;
			c->dup_ranges += c->out[i].duplicate;
		}
	}
	c->n = 0;
	progress(c, 0);
	return 0;
}

/* Fills candle k of the page from the current row. 0 or -1 (logged). */
static int
row_candle(struct copy *c, const struct rows *q, struct candle *k)
{
	const char *utc = rows_text(q, 0), *ts = rows_text(q, 5), *unit = rows_text(q, 8);
	const char *fd = rows_text(q, 13);

	memset(k, 0, sizeof(*k));
	c->perm = 1; /* until the row is read */
	if (utc == NULL || time_parse(utc, &k->start) == -1 || ts == NULL) {
		log_warnx("%s: %s %s: a candle at %s cannot be read", c->src_name, c->market,
		          tf_name(c->tf), utc != NULL ? utc : "NULL");
		return -1;
	}
	k->timestamp_ms = strtoll(ts, NULL, 10);
	k->unit = unit != NULL ? (int32_t)strtol(unit, NULL, 10) : 0;
	if (fd != NULL)
		snprintf(k->first_day, sizeof(k->first_day), "%s", fd);
	for (int i = 0; i < CN_COUNT; i++) {
		const char *v = rows_text(q, num_col[i]);

		if (v != NULL && strlen(v) >= CANDLE_NUM_MAX) {
			log_warnx("%s: %s %s at %s: decimal %s longer than %d characters",
			          c->src_name, c->market, tf_name(c->tf), utc, v,
			          CANDLE_NUM_MAX - 1);
			return -1;
		}
		snprintf(k->num[i], CANDLE_NUM_MAX, "%s", v != NULL ? v : "");
	}
	c->perm = 0;
	return 0;
}

/* Reads the candles of [lo, hi), at most PAGE, oldest first, into buf.
 * The count, or -1. */
static int
read_page(struct copy *c, int64_t lo, int64_t hi, struct candle *buf)
{
	char tlo[20], thi[20];
	const char *v[4] = { c->market, tf_name(c->tf), tlo, thi };
	struct rows q;
	int n = 0, rc;

	pgdb_time_param(lo, tlo);
	pgdb_time_param(hi, thi);
	if (rows_open(c, &q, page_sq, page_pg, v, 4) == -1)
		return -1;
	while ((rc = rows_next(c, &q)) == 1 && n < PAGE) {
		if (row_candle(c, &q, &buf[n]) == -1) {
			rc = -1;
			break;
		}
		n++;
	}
	rows_close(&q);
	return rc == -1 ? -1 : n;
}

/* Turns page[0..n) (oldest first) into the next result of the batch,
 * proving [from, to) (from == to: nothing), newest first as Upbit lists. */
static void
add_result(struct copy *c, const struct candle *page, int n, int64_t from, int64_t to)
{
	struct msg_result *r = &c->res[c->n];
	struct chunk_info *ci = &r->ci;

	memset(r, 0, sizeof(*r));
	r->candles = c->cand[c->n];
	for (int i = 0; i < n; i++)
		r->candles[i] = page[n - 1 - i];
	r->ncandles = (uint16_t)n;
	ci->id = ++c->next_id;
	ci->tf = (uint8_t)c->tf;
	memcpy(ci->market, c->market, MARKET_MAX);
	ci->to = to;
	ci->count = PAGE;
	ci->received = (uint16_t)n;
	ci->effective_end = from;
	if (n > 0) {
		ci->oldest = page[0].start;
		ci->newest = page[n - 1].start;
	}
	c->n++;
	c->candles += (uint64_t)n;
}

/* Copies [a, b) of the current pair: covered (each result proves its part)
 * or not (candles only). 0 or -1. */
static int
copy_span(struct copy *c, int64_t a, int64_t b, int covered)
{
	struct candle page[PAGE];
	int64_t lo = a;

	while (lo < b || (covered && lo == a)) {
		int n = read_page(c, lo, b, page);
		int64_t to;

		if (n == -1)
			return -1;
		if (n == 0 && !covered)
			return 0;
		/* a full page ends at the slot after its newest candle */
		to = n == PAGE ? tf_add(c->tf, page[n - 1].start, 1) : b;
		if (to > b || to <= lo)
			to = b;
		add_result(c, page, n, covered ? lo : to, to);
		if (c->n == BATCH && flush(c) == -1)
			return -1;
		if (*c->stop)
			return -1;
		lo = to;
	}
	return 0;
}

/* The history start of the current pair, if the source has one. */
static int
copy_history(struct copy *c)
{
	const char *v[2] = { c->market, tf_name(c->tf) };
	struct rows q;
	int64_t first;
	int rc, changed = 0;

	if (rows_open(c, &q, hist_sq, hist_pg, v, 2) == -1)
		return -1;
	rc = rows_next(c, &q);
	if (rc == 1 && (rows_text(&q, 0) == NULL || time_parse(rows_text(&q, 0), &first) == -1))
		rc = -1;
	rows_close(&q);
	if (rc != 1)
		return rc;
	if (store_put_history(c->dst, c->market, tf_name(c->tf), first, &changed) == -1)
		return -1;
	c->hist++;
	c->hist_changed += (uint64_t)changed;
	return 0;
}

/* Every candle, range and the history start of (market, tf). */
static int
copy_pair(struct copy *c)
{
	struct range_list cov = { 0 };
	int64_t at = 0;
	int rc = -1;

	if (ledger_src_covered(&c->src, c->market, tf_name(c->tf), 0, TIME_END, &cov) == -1)
		goto fail;
	c->rows += cov.n;
	for (size_t i = 0; i < cov.n; i++) {
		if (copy_span(c, at, cov.v[i].from, 0) == -1 ||
		    copy_span(c, cov.v[i].from, cov.v[i].to, 1) == -1)
			goto fail;
		at = cov.v[i].to;
	}
	if (copy_span(c, at, TIME_END, 0) == -1 || flush(c) == -1)
		goto fail;
	rc = copy_history(c);
fail:
	range_list_free(&cov);
	return rc;
}

/* Every (market, timeframe) of the source, one after the other. */
static int
copy_pairs(struct copy *c)
{
	struct rows q;
	int rc;

	if (rows_open(c, &q, pairs_sq, pairs_pg, NULL, 0) == -1)
		return -1;
	while ((rc = rows_next(c, &q)) == 1) {
		const char *m = rows_text(&q, 0), *tf = rows_text(&q, 1);

		c->pair++;
		if (m == NULL || tf == NULL || strlen(m) >= MARKET_MAX ||
		    tf_parse(tf, &c->tf) == -1) {
			log_warnx("%s: market %s timeframe %s skipped: not one of ours",
			          c->src_name, m != NULL ? m : "NULL", tf != NULL ? tf : "NULL");
			continue;
		}
		snprintf(c->market, sizeof(c->market), "%s", m);
		if ((rc = copy_pair(c)) == -1)
			break;
	}
	rows_close(&q);
	return rc;
}

/* Every markets row of the source (a version-1 SQLite file has none). */
static int
copy_markets(struct copy *c)
{
	struct rows q;
	int rc, has = src_has_schema(c, "markets");

	if (has != 1)
		return has;
	if (rows_open(c, &q, markets_sq, markets_pg, NULL, 0) == -1)
		return -1;
	while ((rc = rows_next(c, &q)) == 1) {
		struct store_market m = { rows_text(&q, 0), rows_text(&q, 1), rows_text(&q, 2),
			                  rows_text(&q, 3), rows_text(&q, 4), rows_text(&q, 5) };
		int changed = 0;

		if ((rc = store_put_market(c->dst, &m, &changed)) == -1)
			break;
		c->markets++;
		c->markets_changed += (uint64_t)changed;
	}
	rows_close(&q);
	return rc;
}

static void
summary(const struct copy *c)
{
	printf("copied %s into %s: %llu candles (%llu new), %llu coverage rows in %llu pieces"
	       " (%llu already covered), %llu history starts (%llu changed), %llu markets"
	       " (%llu changed)\n",
	       c->src_name, c->dst_name, (unsigned long long)c->candles,
	       (unsigned long long)c->fresh, (unsigned long long)c->rows,
	       (unsigned long long)c->ranges, (unsigned long long)c->dup_ranges,
	       (unsigned long long)c->hist, (unsigned long long)c->hist_changed,
	       (unsigned long long)c->markets, (unsigned long long)c->markets_changed);
	if (c->fresh == 0 && c->dup_ranges == c->ranges && c->hist_changed == 0 &&
	    c->markets_changed == 0)
		printf("nothing changed: %s already held everything of %s\n", c->dst_name,
		       c->src_name);
}

/* Opens the destination (store_open: refused unchanged when not ours). */
static int
open_dst(struct copy *c)
{
	struct store_err err;

	if ((c->dst = store_open(c->dst_name, &err)) != NULL)
		return 0;
	log_warnx("%s", err.msg);
	return err.code;
}

int
copy_run(const char *dst, const char *src, volatile const sig_atomic_t *stop)
{
	static struct copy c; /* its candle buffers: 5 MB */
	int code = EXIT_OK, has;

	memset(&c, 0, sizeof(c));
	c.dst_name = dst;
	c.src_name = src;
	c.stop = stop;
	if (ledger_src_open(src, "cp-writer copy", &c.src, &code) == -1)
		return code;
	if (c.src.db == NULL && c.src.pg == NULL) {
		log_warnx("--copy-from %s: no such file", src);
		return EXIT_PERMFAIL;
	}
	/* the source first: a bad one leaves the destination untouched */
	has = src_has_schema(&c, c.src.pg != NULL ? "candles" : "candles_exact");
	if (has != -1 && (code = open_dst(&c)) != EXIT_OK) {
		ledger_src_close(&c.src);
		return code;
	}
	if (has == -1 || (has == 1 && (copy_pairs(&c) == -1 || copy_markets(&c) == -1)))
		code = c.perm ? EXIT_PERMFAIL : EXIT_TEMPFAIL;
	progress(&c, 1);
	if (code == EXIT_OK)
		summary(&c);
	else
		log_warnx("copy of %s into %s stopped; run it again to complete it (nothing is"
		          " copied twice)",
		          src, dst);
	store_close(&c.dst);
	ledger_src_close(&c.src);
	return code;
}
