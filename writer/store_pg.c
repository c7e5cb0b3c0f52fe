/*
 * store_pg.c: the writer's PostgreSQL store (issue 14), behind the store.h
 * API (store.c dispatches here for a PostgreSQL --db). It owns the
 * writer's one connection to the database, its prepared statements, and
 * every write of candles, coverage, history starts and markets into the
 * schema of pgschema.h (created here when the database is empty; a NEWER
 * or FOREIGN database is refused without a write, see pgdb.h).
 *
 * A batch of results is one transaction, written at store_pg_commit (the
 * outcomes are filled in once COMMIT has answered), in three round trips:
 * 1. one simple query: BEGIN, the advisory lock of every (market,
 *    timeframe) of the batch (pg_advisory_xact_lock, held to COMMIT, in
 *    the order of their names), taken before anything reads or writes
 *    what they guard, so two writers on one database merge one after the
 *    other; then COPY ... FROM STDIN (FORMAT binary) of the batch's candles
 *    (pgcopy.c: the server parses no text, and COPY inserts rows in bulk,
 *    far cheaper for the server than INSERT ... ON CONFLICT);
 * 2. the stream of candles, answered with the COPY's outcome;
 * 3. one pipeline: per result its coverage merge (one statement that
 *    leaves a range already covered alone, a duplicate, or replaces every
 *    row overlapping or touching it by their union) and history_start,
 *    then COMMIT, and one sync.
 * Coverage therefore never exists without its candles, and the EXCLUDE
 * constraint on coverage is the backstop.
 *
 * COPY has no ON CONFLICT: a candle already stored fails it with a unique
 * violation, which aborts the transaction. Under the advisory lock nobody
 * else adds candles of that (market, timeframe), so that happens only when
 * the rows were already there (a re-sent result, a retried COMMIT, a copy
 * into a filled database). The batch is then written again with every
 * result's candles as unnest arrays in an INSERT ... ON CONFLICT DO
 * NOTHING, and so are the next SAFE_BATCHES batches; a result whose
 * candles overlap those of one of the last RECENT_MAX results sent (a
 * hedge's twin, a re-issued lease), or that the binary form cannot carry,
 * takes that path at once. Everything is idempotent: a transaction retried
 * after a connection lost during COMMIT (it may have committed) inserts
 * nothing and finds its ranges covered. The server's answers to the
 * pipeline are a few hundred bytes a result, far below a socket buffer, so
 * sending it whole before reading cannot deadlock.
 *
 * There is no lock file: several writers (collectors on several hosts) may
 * share the database; the advisory locks serialise what must be.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "crashpoint.h"
#include "exitcodes.h"
#include "log.h"
#include "pgcopy.h"
#include "pgdb.h"
#include "store_pg.h"
#include "tf.h"
#include "timeutil.h"

#define KST_OFFSET_S (9 * 3600)
/* The arrays of the candle insert: $3..$16. */
#define ARR_COUNT 14
/* Batches written with ON CONFLICT DO NOTHING after one hit a conflict. */
#define SAFE_BATCHES 2
/* The candle spans of the last results sent, remembered to spot a re-sent
 * result (a hedge's twin, a re-issued lease) before it conflicts. */
#define RECENT_MAX 1024

enum arr {
	A_UTC,
	A_OPEN,
	A_HIGH,
	A_LOW,
	A_CLOSE,
	A_TS,
	A_ACC_PRICE,
	A_ACC_VOLUME,
	A_UNIT,
	A_PREV,
	A_CHG_PRICE,
	A_CHG_RATE,
	A_CONV,
	A_FIRST
};

/* The array holding each decimal, by enum candle_num. */
static const enum arr num_arr[CN_COUNT] = {
	[CN_OPEN] = A_OPEN,
	[CN_HIGH] = A_HIGH,
	[CN_LOW] = A_LOW,
	[CN_CLOSE] = A_CLOSE,
	[CN_ACC_PRICE] = A_ACC_PRICE,
	[CN_ACC_VOLUME] = A_ACC_VOLUME,
	[CN_PREV_CLOSE] = A_PREV,
	[CN_CHANGE_PRICE] = A_CHG_PRICE,
	[CN_CHANGE_RATE] = A_CHG_RATE,
	[CN_CONVERTED] = A_CONV,
};

#define INSERT_SQL                                                                                  \
	"INSERT INTO candlepipe.candles(market, timeframe, candle_date_time_utc,"                   \
	" candle_date_time_kst, opening_price, high_price, low_price, trade_price, timestamp,"      \
	" candle_acc_trade_price, candle_acc_trade_volume, unit, prev_closing_price,"               \
	" change_price, change_rate, converted_trade_price, first_day_of_period)"                   \
	" SELECT $1, $2, u, u + interval '9 hours', o, h, l, c, ts, ap, av, un, pc, cp, cr, cv, fd" \
	" FROM unnest($3::timestamp[], $4::numeric[], $5::numeric[], $6::numeric[],"                \
	" $7::numeric[], $8::bigint[], $9::numeric[], $10::numeric[], $11::smallint[],"             \
	" $12::numeric[], $13::numeric[], $14::numeric[], $15::numeric[], $16::date[])"             \
	" AS t(u, o, h, l, c, ts, ap, av, un, pc, cp, cr, cv, fd)"
static const char insert_safe_sql[] = INSERT_SQL " ON CONFLICT DO NOTHING";

/* The fast path (see the top): candles nobody has stored, streamed. */
static const char copy_sql[] =
    "COPY candlepipe.candles(" PGCOPY_COLUMNS ") FROM STDIN (FORMAT binary)";

/* [$3, $4) merged into the coverage of ($1, $2): nothing when one row holds
 * it all (the duplicate), else the rows overlapping or touching it are
 * replaced by their union with it. The aggregate reads every deleted row
 * before the insert, and rows this statement deleted do not conflict. */
static const char cover_sql[] =
    "WITH r AS (SELECT tsrange($3::timestamp, $4::timestamp) AS r),"
    " dup AS (SELECT 1 FROM candlepipe.coverage c, r"
    "  WHERE c.market = $1 AND c.timeframe = $2 AND c.span @> r.r),"
    " d AS (DELETE FROM candlepipe.coverage c USING r"
    "  WHERE c.market = $1 AND c.timeframe = $2 AND (c.span && r.r OR c.span -|- r.r)"
    "  AND NOT EXISTS (SELECT 1 FROM dup) RETURNING c.span),"
    " ins AS (INSERT INTO candlepipe.coverage(market, timeframe, span)"
    "  SELECT $1, $2, tsrange(least($3::timestamp, min(lower(d.span))),"
    "   greatest($4::timestamp, max(upper(d.span)))) FROM d"
    "  HAVING NOT EXISTS (SELECT 1 FROM dup) RETURNING 1)"
    " SELECT EXISTS (SELECT 1 FROM dup), (SELECT count(*) FROM ins)";

static const char hist_sql[] = "INSERT INTO candlepipe.history_start(market, timeframe, first_utc)"
                               " VALUES ($1, $2, $3::timestamp) ON CONFLICT (market, timeframe)"
                               " DO UPDATE SET first_utc = excluded.first_utc";

/* The first thing wrong with a market list, or NULL. */
static const char markets_check_sql[] =
    "SELECT CASE WHEN jsonb_typeof($1::jsonb) <> 'array' THEN 'is not a JSON array' ELSE"
    " (SELECT 'element ' || (i - 1) || ' (' || coalesce(e->>'market', '?') || ') ' || why"
    "  FROM (SELECT e, i, CASE"
    "   WHEN jsonb_typeof(e) <> 'object' THEN 'is not an object'"
    "   WHEN jsonb_typeof(e->'market') IS DISTINCT FROM 'string' OR e->>'market' = ''"
    "    THEN 'has no market code'"
    "   WHEN jsonb_typeof(e->'korean_name') IS DISTINCT FROM 'string'"
    "    THEN 'has no text korean_name'"
    "   WHEN jsonb_typeof(e->'english_name') IS DISTINCT FROM 'string'"
    "    THEN 'has no text english_name'"
    "   WHEN coalesce(jsonb_typeof(e->'market_event'), 'object') <> 'object'"
    "    THEN 'has a market_event that is not an object'"
    "   WHEN coalesce(jsonb_typeof(e->'market_event'->'warning'), 'boolean') <> 'boolean'"
    "    THEN 'has a market_event.warning that is not true or false'"
    "   WHEN coalesce(jsonb_typeof(e->'market_event'->'caution'), 'object') <> 'object'"
    "    THEN 'has a market_event.caution that is not an object' END AS why"
    "   FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(e, i)) x"
    "  WHERE why IS NOT NULL ORDER BY i LIMIT 1) END";
/* The last entry of a market wins, as in SQLite. */
static const char markets_upsert_sql[] =
    "INSERT INTO candlepipe.markets(market, korean_name, english_name, warning, caution,"
    " updated_utc) SELECT DISTINCT ON (e->>'market') e->>'market', e->>'korean_name',"
    " e->>'english_name', (e->'market_event'->>'warning')::boolean,"
    " e->'market_event'->'caution', $2::timestamp"
    " FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(e, i)"
    " ORDER BY e->>'market', i DESC"
    " ON CONFLICT (market) DO UPDATE SET korean_name = excluded.korean_name,"
    " english_name = excluded.english_name, warning = excluded.warning,"
    " caution = excluded.caution, updated_utc = excluded.updated_utc";

enum stmt { PS_INSERT_SAFE, PS_COVER, PS_HIST, PS_COUNT };

static const struct {
	const char *name, *sql;
	int nparams;
	ExecStatusType want; /* what a success answers */
} stmts[PS_COUNT] = {
	[PS_INSERT_SAFE] = { "cp_insert_safe", insert_safe_sql, 16, PGRES_COMMAND_OK },
	[PS_COVER] = { "cp_cover", cover_sql, 4, PGRES_TUPLES_OK },
	[PS_HIST] = { "cp_hist", hist_sql, 3, PGRES_COMMAND_OK },
};

/* One result of the open transaction, sent, its outcome due at COMMIT. */
struct pending {
	const struct msg_result *r;
	struct store_outcome *out;
	int64_t now, from, to; /* the proven range [from, to) */
	int64_t lo, hi;        /* its oldest and newest candle */
	uint8_t safe;          /* written with ON CONFLICT DO NOTHING */
};

/* The candles [lo, hi] of a result sent, of (market, tf). */
struct span {
	char market[MARKET_MAX];
	uint8_t tf;
	int64_t lo, hi;
};

struct store_pg {
	PGconn *conn;
	int lost;      /* the last failure lost the connection */
	int conflict;  /* the last batch hit a unique violation */
	int safe_left; /* batches still written with ON CONFLICT */
	struct pending *pend;
	size_t npend, cap;
	PGresult **res; /* a batch's answers, in the order sent */
	size_t nres, rescap;
	struct span recent[RECENT_MAX]; /* a ring, next at nrecent % RECENT_MAX */
	size_t nrecent;
	struct buf arr[ARR_COUNT]; /* the candle arrays, reused */
	struct buf copy, sql;      /* the COPY stream, the locks' text */
	char shown[PGDB_WHY_MAX];  /* conninfo without its password, for messages */
	char conninfo[];
};

static void pg_err(struct store_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
pg_err(struct store_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

/* Records a failed command (r may be NULL): logged, lost noted. */
static void
failed(struct store_pg *p, const PGresult *r, const char *what)
{
	p->lost = pgdb_conn_lost(p->conn, r);
	log_warnx("%s on %s: %s", what, p->shown, pgdb_errmsg(p->conn, r));
}

static int
prepare_all(struct store_pg *p, struct store_err *err)
{
	for (int i = 0; i < PS_COUNT; i++) {
		PGresult *r =
		    PQprepare(p->conn, stmts[i].name, stmts[i].sql, stmts[i].nparams, NULL);

		if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
			pg_err(err, pgdb_exit_code(p->conn, r), "%s: cannot prepare %s: %s",
			       p->shown, stmts[i].name, pgdb_errmsg(p->conn, r));
			PQclear(r);
			return -1;
		}
		PQclear(r);
	}
	return 0;
}

/* Connects, judges and creates the schema, prepares. 0 or -1 (err). */
static int
connect_all(struct store_pg *p, struct store_err *err)
{
	struct ledger_schema sc;
	int code = EXIT_TEMPFAIL;

	PQfinish(p->conn);
	p->lost = 0;
	p->conn = pgdb_connect(p->conninfo, "cp-writer", &code);
	if (p->conn == NULL) {
		pg_err(err, code, "cannot connect to %s", p->shown);
		return -1;
	}
	memset(&sc, 0, sizeof(sc));
	if (pgdb_create(p->conn, p->conninfo, &sc, &code) == -1) {
		pg_err(err, code, "cannot set up %s (see above)", p->shown);
		if (sc.kind == LEDGER_NEWER || sc.kind == LEDGER_FOREIGN)
			pgdb_schema_why(&sc, p->conninfo, err->msg, sizeof(err->msg));
		return -1;
	}
	return prepare_all(p, err);
}

struct store_pg *
store_pg_open(const char *conninfo, struct store_err *err)
{
	struct store_pg *p = calloc(1, sizeof(*p) + strlen(conninfo) + 1);

	if (p == NULL) {
		pg_err(err, EXIT_TEMPFAIL, "out of memory");
		return NULL;
	}
	strcpy(p->conninfo, conninfo);
	pgdb_display(conninfo, p->shown, sizeof(p->shown));
	if (connect_all(p, err) == -1)
		store_pg_close(&p);
	return p;
}

static void
res_clear(struct store_pg *p)
{
	for (size_t i = 0; i < p->nres; i++)
		PQclear(p->res[i]);
	p->nres = 0;
}

void
store_pg_close(struct store_pg **pp)
{
	struct store_pg *p = *pp;

	if (p == NULL)
		return;
	PQfinish(p->conn);
	res_clear(p);
	free(p->res);
	free(p->pend);
	for (int i = 0; i < ARR_COUNT; i++)
		buf_free(&p->arr[i]);
	buf_free(&p->copy);
	buf_free(&p->sql);
	free(p);
	*pp = NULL;
}

int
store_pg_lost(const struct store_pg *p)
{
	return p->lost;
}

int
store_pg_reconnect(struct store_pg *p, struct store_err *err)
{
	if (connect_all(p, err) == -1) {
		p->lost = 1;
		return -1;
	}
	log_info("reconnected to %s", p->shown);
	return 0;
}

/* Sends a command with no parameters into the pipeline; 0 or -1 (logged). */
static int
send_plain(struct store_pg *p, const char *sql)
{
	if (PQsendQueryParams(p->conn, sql, 0, NULL, NULL, NULL, NULL, 0) == 1)
		return 0;
	failed(p, NULL, sql);
	return -1;
}

/* Sends prepared statement i with params into the pipeline; 0 or -1. */
static int
send_stmt(struct store_pg *p, enum stmt i, const char *const *params)
{
	if (PQsendQueryPrepared(p->conn, stmts[i].name, stmts[i].nparams, params, NULL, NULL, 0) ==
	    1)
		return 0;
	failed(p, NULL, stmts[i].name);
	return -1;
}

/* Starts a pipeline. 0 or -1 (logged). */
static int
pipeline_begin(struct store_pg *p)
{
	if (PQpipelineStatus(p->conn) == PQ_PIPELINE_OFF && PQenterPipelineMode(p->conn) != 1) {
		failed(p, NULL, "pipeline mode");
		return -1;
	}
	return 0;
}

/* Reads what is left of a simple query (a COPY in progress is ended). */
static void
drain(struct store_pg *p)
{
	PGresult *r;

	while (PQstatus(p->conn) == CONNECTION_OK && (r = PQgetResult(p->conn)) != NULL) {
		if (PQresultStatus(r) == PGRES_COPY_IN)
			(void)PQputCopyEnd(p->conn, "rolled back");
		PQclear(r);
	}
}

/* Keeps r as the next answer of the batch; 0 or -1 (memory). */
static int
res_push(struct store_pg *p, PGresult *r)
{
	if (p->nres == p->rescap) {
		size_t cap = p->rescap != 0 ? p->rescap * 2 : 256;
		PGresult **n = realloc(p->res, cap * sizeof(PGresult *));

		if (n == NULL) {
			PQclear(r);
			return -1;
		}
		p->res = n;
		p->rescap = cap;
	}
	p->res[p->nres++] = r;
	return 0;
}

/* Sends the sync and reads every answer up to it into p->res, then leaves
 * pipeline mode. 0, or -1 when the connection failed (logged). Each
 * command's answer ends with a NULL; two in a row mean nothing is left. */
static int
pipeline_sync(struct store_pg *p)
{
	int nulls = 0;

	res_clear(p);
	if (PQpipelineSync(p->conn) != 1) {
		failed(p, NULL, "pipeline sync");
		return -1;
	}
	while (nulls < 2 && PQstatus(p->conn) == CONNECTION_OK) {
		PGresult *r = PQgetResult(p->conn);

		nulls = r == NULL ? nulls + 1 : 0;
		if (r != NULL && PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			return PQexitPipelineMode(p->conn) == 1 ? 0 : -1;
		}
		if (r != NULL && res_push(p, r) == -1)
			break;
	}
	failed(p, p->nres > 0 ? p->res[p->nres - 1] : NULL, "pipeline");
	return -1;
}

/* The transaction starts at COMMIT time (store_pg_commit), when every
 * result of the batch is known. */
int
store_pg_begin(struct store_pg *p)
{
	p->npend = 0;
	p->conflict = 0;
	if (FAILPOINT("writer_begin")) {
		log_warnx("BEGIN on %s: failpoint", p->shown);
		return -1;
	}
	return 0;
}

void
store_pg_rollback(struct store_pg *p)
{
	if (PQstatus(p->conn) != CONNECTION_OK)
		return;
	if (PQpipelineStatus(p->conn) != PQ_PIPELINE_OFF)
		(void)pipeline_sync(p);
	res_clear(p);
	drain(p);
	if (PQtransactionStatus(p->conn) != PQTRANS_IDLE)
		PQclear(PQexec(p->conn, "ROLLBACK"));
}

/* Appends one element (NULL when s is "") to an array literal. */
static void
arr_add(struct buf *b, const char *s)
{
	buf_puts(b, b->len > 1 ? "," : "");
	buf_puts(b, *s != '\0' ? s : "NULL");
}

/* Appends candle c to the arrays. */
static void
arrays_add(struct store_pg *p, const struct candle *c)
{
	char utc[TIME_TEXT_LEN], n[24];

	time_format(c->start, utc);
	arr_add(&p->arr[A_UTC], utc);
	for (int k = 0; k < CN_COUNT; k++)
		arr_add(&p->arr[num_arr[k]], c->num[k]);
	snprintf(n, sizeof(n), "%lld", (long long)c->timestamp_ms);
	arr_add(&p->arr[A_TS], n);
	snprintf(n, sizeof(n), "%d", (int)c->unit);
	arr_add(&p->arr[A_UNIT], c->unit != 0 ? n : "");
	arr_add(&p->arr[A_FIRST], c->first_day);
}

/* The candle arrays of r as text literals in p->arr; 0 or -1 (memory). */
static int
arrays_build(struct store_pg *p, const struct msg_result *r)
{
	int i, err = 0;

	for (i = 0; i < ARR_COUNT; i++) {
		buf_reset(&p->arr[i]);
		buf_puts(&p->arr[i], "{");
	}
	/* oldest first, as the SQLite store */
	for (size_t k = 0; k < r->ncandles; k++)
		arrays_add(p, &r->candles[r->ncandles - 1 - k]);
	for (i = 0; i < ARR_COUNT; i++) {
		buf_puts(&p->arr[i], "}");
		err |= p->arr[i].err;
	}
	return err != 0 ? -1 : 0;
}

static int
send_candles(struct store_pg *p, const struct pending *e, const char *tfname)
{
	const char *params[2 + ARR_COUNT] = { e->r->ci.market, tfname };

	if (arrays_build(p, e->r) == -1) {
		log_warnx("insert into %s: out of memory", p->shown);
		return -1;
	}
	for (int i = 0; i < ARR_COUNT; i++)
		params[2 + i] = p->arr[i].data;
	return send_stmt(p, PS_INSERT_SAFE, params);
}

static int
send_cover(struct store_pg *p, const struct pending *e, const char *tfname)
{
	char tfrom[TIME_TEXT_LEN], tto[TIME_TEXT_LEN];
	const char *params[4] = { e->r->ci.market, tfname, tfrom, tto };

	time_format(e->from, tfrom);
	time_format(e->to, tto);
	return send_stmt(p, PS_COVER, params);
}

/* history_start of a result that reached the start of history. */
static int
send_history(struct store_pg *p, const struct chunk_info *ci, const char *tfname)
{
	char first[TIME_TEXT_LEN];
	const char *params[3] = { ci->market, tfname, first };

	time_format(ci->received ? ci->oldest : ci->to, first);
	return send_stmt(p, PS_HIST, params);
}

/* 1 if e's candles may already be stored: one of the last RECENT_MAX
 * results sent had candles of its (market, timeframe) in [lo, hi]. Then
 * remembers e's. */
static int
seen_recently(struct store_pg *p, const struct pending *e)
{
	size_t n = p->nrecent < RECENT_MAX ? p->nrecent : RECENT_MAX;
	struct span *x;
	int seen = 0;

	if (e->r->ncandles == 0)
		return 0;
	for (x = p->recent; x < p->recent + n && !seen; x++)
		seen = x->tf == e->r->ci.tf && x->lo <= e->hi && e->lo <= x->hi &&
		       strncmp(x->market, e->r->ci.market, MARKET_MAX) == 0;
	x = &p->recent[p->nrecent++ % RECENT_MAX];
	memcpy(x->market, e->r->ci.market, MARKET_MAX);
	x->tf = e->r->ci.tf;
	x->lo = e->lo;
	x->hi = e->hi;
	return seen;
}

/* Sends e's commands after the locks and the COPY: its candles unless
 * they were in the COPY, its coverage and history_start. */
static int
send_result(struct store_pg *p, const struct pending *e)
{
	const struct chunk_info *ci = &e->r->ci;
	const char *params[1] = { tf_name((enum tf)ci->tf) };

	if (e->safe && e->r->ncandles > 0 && send_candles(p, e, params[0]) == -1)
		return -1;
	if (e->from < e->to && send_cover(p, e, params[0]) == -1)
		return -1;
	if (ci->history_end && send_history(p, ci, params[0]) == -1)
		return -1;
	return 0;
}

/* 1 if every candle of r can go in the binary COPY. */
static int
copyable(const struct msg_result *r)
{
	for (size_t i = 0; i < r->ncandles; i++) {
		if (!pgcopy_candle_ok(&r->candles[i]))
			return 0;
	}
	return 1;
}

/* A new pending entry for r; NULL when out of memory. */
static struct pending *
pending_add(struct store_pg *p, const struct msg_result *r, int64_t now, struct store_outcome *out)
{
	struct pending *e;

	if (p->npend == p->cap) {
		size_t cap = p->cap != 0 ? p->cap * 2 : 64;
		struct pending *n = realloc(p->pend, cap * sizeof(*n));

		if (n == NULL)
			return NULL;
		p->pend = n;
		p->cap = cap;
	}
	e = &p->pend[p->npend++];
	memset(e, 0, sizeof(*e));
	e->r = r;
	e->out = out;
	e->now = now;
	store_proven_range(&r->ci, now, &e->from, &e->to);
	if (r->ncandles > 0) {
		e->lo = r->candles[r->ncandles - 1].start;
		e->hi = r->candles[0].start;
	}
	e->safe = seen_recently(p, e) || p->safe_left > 0 || !copyable(r);
	return e;
}

enum store_status
store_pg_put_result(struct store_pg *p, const struct msg_result *r, int64_t now,
                    struct store_outcome *out)
{
	const struct chunk_info *ci = &r->ci;
	char why[160];

	if (store_check_result(r, now, why, sizeof(why)) == -1) {
		log_warnx("result of chunk %llu (%.*s %s) rejected: %s", (unsigned long long)ci->id,
		          MARKET_MAX, ci->market,
		          ci->tf < TF_COUNT ? tf_name((enum tf)ci->tf) : "?", why);
		return STORE_REJECTED;
	}
	if (pending_add(p, r, now, out) == NULL) {
		log_warnx("result of chunk %llu: out of memory", (unsigned long long)ci->id);
		return STORE_ERROR;
	}
	return STORE_OK;
}

/* The next answer of the batch, if it has status want; else NULL with the
 * failure recorded (a unique violation is the expected conflict). */
static PGresult *
answer(struct store_pg *p, size_t *k, enum stmt i)
{
	PGresult *r = *k < p->nres ? p->res[*k] : NULL;
	const char *state;

	(*k)++;
	if (r != NULL && PQresultStatus(r) == stmts[i].want)
		return r;
	state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	if (state != NULL && strcmp(state, "23505") == 0) {
		p->conflict = 1;
		log_debug("candles already stored on %s: the batch again with ON CONFLICT",
		          p->shown);
	} else {
		failed(p, r, stmts[i].name);
	}
	return NULL;
}

/* Fills e's outcome from the answers at *k. 0 or -1 (recorded). */
static int
read_result(struct store_pg *p, struct pending *e, size_t *k)
{
	PGresult *r;

	memset(e->out, 0, sizeof(*e->out));
	/* in a COPY that succeeded every candle was new */
	e->out->new_candles = e->r->ncandles;
	if (e->safe && e->r->ncandles > 0) {
		if ((r = answer(p, k, PS_INSERT_SAFE)) == NULL)
			return -1;
		e->out->new_candles = (uint16_t)strtoul(PQcmdTuples(r), NULL, 10);
	}
	if (e->from < e->to) {
		if ((r = answer(p, k, PS_COVER)) == NULL)
			return -1;
		e->out->duplicate = PQgetvalue(r, 0, 0)[0] == 't';
	}
	if (e->r->ci.history_end && answer(p, k, PS_HIST) == NULL)
		return -1;
	e->out->cov_from = e->from;
	e->out->cov_to = e->to;
	return 0;
}

/* The rest of the transaction in one pipeline: every result's commands
 * and COMMIT, then one sync; 0 once COMMIT succeeded, the outcomes filled. */
static int
pipeline_commit(struct store_pg *p)
{
	size_t k = 0;
	int rc = -1;

	if (pipeline_begin(p) == -1)
		goto fail;
	for (size_t i = 0; i < p->npend; i++) {
		if (send_result(p, &p->pend[i]) == -1)
			goto fail;
	}
	if (send_plain(p, "COMMIT") == -1 || pipeline_sync(p) == -1)
		goto fail;
	for (size_t i = 0; i < p->npend; i++) {
		if (read_result(p, &p->pend[i], &k) == -1)
			goto fail;
	}
	/* a lost COMMIT may have committed: the retry is a duplicate */
	if (k >= p->nres || PQresultStatus(p->res[k]) != PGRES_COMMAND_OK) {
		failed(p, k < p->nres ? p->res[k] : NULL, "COMMIT");
		goto fail;
	}
	rc = 0;
fail:
	res_clear(p);
	return rc;
}

static int
key_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* "BEGIN;" and the advisory lock of every (market, timeframe) of the batch,
 * in the order of their names (two writers never wait on each other in a
 * cycle), as text in p->sql; 0 or -1 (memory). The key is the text
 * 'market/timeframe', as every writer's. */
static int
locks_sql(struct store_pg *p)
{
	char(*keys)[MARKET_MAX + 8] = malloc((p->npend + 1) * sizeof(*keys));
	size_t n = 0;

	if (keys == NULL)
		return -1;
	for (size_t i = 0; i < p->npend; i++)
		snprintf(keys[i], sizeof(keys[i]), "%.*s/%s", MARKET_MAX, p->pend[i].r->ci.market,
		         tf_name((enum tf)p->pend[i].r->ci.tf));
	qsort(keys, p->npend, sizeof(*keys), key_cmp);
	buf_reset(&p->sql);
	buf_puts(&p->sql, "BEGIN;");
	for (size_t i = 0; i < p->npend; i++) {
		char *lit;

		if (n > 0 && strcmp(keys[i], keys[n - 1]) == 0)
			continue;
		memmove(keys[n++], keys[i], sizeof(keys[i]));
		if ((lit = PQescapeLiteral(p->conn, keys[i], strlen(keys[i]))) == NULL)
			p->sql.err = 1;
		else
			buf_printf(&p->sql, "SELECT pg_advisory_xact_lock(hashtext(%s));", lit);
		PQfreemem(lit);
	}
	free(keys);
	return p->sql.err != 0 ? -1 : 0;
}

/* The COPY stream of the candles of every result not marked safe into
 * p->copy; the number of candles in it, or -1 (memory). */
static long
copy_build(struct store_pg *p)
{
	long n = 0;

	buf_reset(&p->copy);
	pgcopy_header(&p->copy);
	for (size_t i = 0; i < p->npend; i++) {
		const struct msg_result *r = p->pend[i].r;
		const char *tf = tf_name((enum tf)r->ci.tf);

		/* oldest first, as the SQLite store */
		for (size_t k = 0; !p->pend[i].safe && k < r->ncandles; k++, n++) {
			if (pgcopy_candle(&p->copy, r->ci.market, tf,
			                  &r->candles[r->ncandles - 1 - k]) == -1)
				return -1;
		}
	}
	pgcopy_trailer(&p->copy);
	return p->copy.err != 0 ? -1 : n;
}

/* Records the failure of r of the simple query (a unique violation is the
 * conflict); 0 if r succeeded. */
static int
simple_failed(struct store_pg *p, const PGresult *r)
{
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	ExecStatusType st = PQresultStatus(r);

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_COPY_IN)
		return 0;
	if (state != NULL && strcmp(state, "23505") == 0) {
		p->conflict = 1;
		log_debug("candles already stored on %s: the batch again with ON CONFLICT",
		          p->shown);
	} else {
		failed(p, r, "BEGIN, locks and COPY");
	}
	return -1;
}

/* BEGIN, the locks (before anything reads or writes what they guard) and
 * the COPY of the candles nobody has stored, in one simple query. 0, or -1
 * (recorded: p->conflict for a unique violation). */
static int
locks_and_copy(struct store_pg *p)
{
	long ncopy = copy_build(p);
	PGresult *r;
	int rc = 0;

	if (ncopy == -1 || locks_sql(p) == -1) {
		log_warnx("batch for %s: out of memory", p->shown);
		return -1;
	}
	if (ncopy > 0)
		buf_puts(&p->sql, copy_sql);
	if (p->sql.err != 0 || PQsendQuery(p->conn, p->sql.data) != 1) {
		failed(p, NULL, "BEGIN");
		return -1;
	}
	while ((r = PQgetResult(p->conn)) != NULL) {
		int ok = simple_failed(p, r) == 0;

		/* the COPY's data goes when the server asks for it */
		if (ok && PQresultStatus(r) == PGRES_COPY_IN)
			ok = PQputCopyData(p->conn, p->copy.data, (int)p->copy.len) == 1 &&
			     PQputCopyEnd(p->conn, NULL) == 1;
		rc = ok ? rc : -1;
		PQclear(r);
		if (PQstatus(p->conn) != CONNECTION_OK)
			break;
	}
	if (rc == 0 && PQstatus(p->conn) != CONNECTION_OK) {
		failed(p, NULL, "COPY");
		rc = -1;
	}
	return rc;
}

static int
write_all(struct store_pg *p)
{
	p->conflict = 0;
	if (locks_and_copy(p) == -1)
		return -1;
	return pipeline_commit(p);
}

int
store_pg_commit(struct store_pg *p)
{
	int rc = write_all(p);

	/* a unique violation aborted it: again, every insert ON CONFLICT
	 * DO NOTHING (and the next SAFE_BATCHES batches too) */
	if (rc == -1 && p->conflict && !p->lost) {
		store_pg_rollback(p);
		p->safe_left = SAFE_BATCHES + 1;
		for (size_t i = 0; i < p->npend; i++)
			p->pend[i].safe = 1;
		rc = write_all(p);
	}
	if (p->safe_left > 0)
		p->safe_left--;
	return rc;
}

/* Runs a markets statement on (json, now): the result or NULL (err). */
static PGresult *
markets_run(struct store_pg *p, const char *sql, const char *json, const char *now,
            ExecStatusType want, const char *file, struct store_err *err)
{
	const char *params[2] = { json, now };
	PGresult *r = PQexecParams(p->conn, sql, now != NULL ? 2 : 1, NULL, params, NULL, NULL, 0);
	const char *state;

	if (r != NULL && PQresultStatus(r) == want)
		return r;
	state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	if (state != NULL && strcmp(state, "22P02") == 0)
		pg_err(err, EXIT_PERMFAIL, "--markets-file %s is not valid JSON", file);
	else
		pg_err(err, pgdb_exit_code(p->conn, r), "markets of %s into %s: %s", file, p->shown,
		       pgdb_errmsg(p->conn, r));
	PQclear(r);
	return NULL;
}

long
store_pg_load_markets(struct store_pg *p, const char *json, long len, int64_t now, const char *file,
                      struct store_err *err)
{
	char tnow[TIME_TEXT_LEN];
	PGresult *r;
	long n;

	(void)len; /* json is NUL-terminated */
	if ((r = markets_run(p, markets_check_sql, json, NULL, PGRES_TUPLES_OK, file, err)) == NULL)
		return -1;
	if (!PQgetisnull(r, 0, 0)) {
		pg_err(err, EXIT_PERMFAIL, "--markets-file %s %s", file, PQgetvalue(r, 0, 0));
		PQclear(r);
		return -1;
	}
	PQclear(r);
	time_format(now, tnow);
	/* one statement: its own transaction */
	if ((r = markets_run(p, markets_upsert_sql, json, tnow, PGRES_COMMAND_OK, file, err)) ==
	    NULL)
		return -1;
	n = strtol(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return n;
}

/* Copy mode: runs sql with the text parameters v[0..n) (NULL is NULL) as
 * its own transaction; *changed = 1 if it changed a row. 0 or -1. */
static int
exec_once(struct store_pg *p, const char *sql, const char *const *v, int n, int *changed)
{
	PGresult *r = PQexecParams(p->conn, sql, n, NULL, v, NULL, NULL, 0);
	int rc = r != NULL && PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;

	if (rc == 0)
		*changed = strtol(PQcmdTuples(r), NULL, 10) > 0;
	else
		failed(p, r, "copy");
	PQclear(r);
	return rc;
}

int
store_pg_put_history(struct store_pg *p, const char *market, const char *tf, int64_t first,
                     int *changed)
{
	char t[TIME_TEXT_LEN];
	const char *v[3] = { market, tf, t };

	time_format(first, t);
	return exec_once(p,
	                 "INSERT INTO candlepipe.history_start AS h(market, timeframe, first_utc)"
	                 " VALUES ($1, $2, $3::timestamp) ON CONFLICT (market, timeframe)"
	                 " DO UPDATE SET first_utc = excluded.first_utc"
	                 " WHERE h.first_utc IS DISTINCT FROM excluded.first_utc",
	                 v, 3, changed);
}

int
store_pg_put_market(struct store_pg *p, const struct store_market *m, int *changed)
{
	const char *v[6] = { m->market,  m->korean_name, m->english_name,
		             m->warning, m->caution,     m->updated_utc };

	return exec_once(
	    p,
	    "INSERT INTO candlepipe.markets AS m(market, korean_name, english_name,"
	    " warning, caution, updated_utc) VALUES ($1, $2, $3, $4::int::boolean,"
	    " $5::jsonb, $6::timestamp) ON CONFLICT (market) DO UPDATE SET"
	    " korean_name = excluded.korean_name, english_name = excluded.english_name,"
	    " warning = excluded.warning, caution = excluded.caution,"
	    " updated_utc = excluded.updated_utc"
	    " WHERE (m.korean_name, m.english_name, m.warning, m.caution, m.updated_utc)"
	    " IS DISTINCT FROM (excluded.korean_name, excluded.english_name,"
	    " excluded.warning, excluded.caution, excluded.updated_utc)",
	    v, 6, changed);
}
