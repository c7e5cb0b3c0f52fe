/*
 * serve.h: cp-serve, the HTTP API over a candlepipe database. One header for
 * the modules of serve/: the growable text buffer (buf.c), the per-thread
 * read-only database (sdb.c), the Upbit routes (upbit.c), the routes beyond
 * Upbit (extra.c), the request metrics (metrics.c) and the HTTP front
 * (http.c). Every answer is a struct sv_reply that http.c sends.
 */
#ifndef CP_SERVE_H
#define CP_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>
#include <sqlite3.h>

#include "buf.h"
#include "ledger.h"
#include "tf.h"

#define SV_MAX_COUNT 200 /* Upbit's count bound: more is served as 200 */
#define SV_CT_JSON "application/json;charset=UTF-8"
#define SV_CT_JSONL "application/x-ndjson;charset=UTF-8"
#define SV_CT_TEXT "text/plain; version=0.0.4; charset=utf-8"

/* Upbit's documented quotation error messages (upbit-api.md section 6). */
#define SV_MSG_MISSING "Missing request parameter error. Check the required parameters!"
#define SV_MSG_TYPE "Type mismatch error. Check the parameters type!"
#define SV_MSG_INVALID "Invalid parameter. Check the given value!"
#define SV_MSG_NOTFOUND "Code not found"
#define SV_MSG_UNIT "specified unit is not valid."

/* ---- buf.c: text on the tree's growable buffer (common/buf.h); a failed
 * append is sticky, so builders never check each write */
void sv_buf_put(struct buf *b, const char *s, size_t n);
/* s as a JSON string (quotes included, escaped) */
void sv_buf_json_str(struct buf *b, const char *s);
/* the n bytes of s as a JSON string (s need not end in NUL) */
void sv_buf_json_strn(struct buf *b, const char *s, size_t n);

/* ---- candle.c: one candle as Upbit's JSON object, from its row's column
 * texts in the order of sdb.c's CANDLE_COLS (any backend's: the bytes are
 * passed on as they are) */
#define SV_CANDLE_NCOLS 15
struct sv_cols {
	const char *v[SV_CANDLE_NCOLS]; /* NULL for SQL NULL */
	size_t n[SV_CANDLE_NCOLS];      /* the length of each text */
};
/* Appends the object to b; convert adds converted_trade_price. 0, or -1 if
 * convert is asked and the row has none. */
int sv_candle_json(struct buf *b, const char *market, const struct sv_cols *c, int convert);
/* v in decimal, as SQLite writes an integer column's text, into out
 * (no NUL); its length. */
#define SV_INT_TEXT 20
size_t sv_int_text(char out[SV_INT_TEXT], int64_t v);

/* ---- metrics.c: what /metrics reports */
enum sv_route {
	SV_R_CANDLES,
	SV_R_MARKET_ALL,
	SV_R_RANGE,
	SV_R_COVERAGE,
	SV_R_HEALTHZ,
	SV_R_READYZ,
	SV_R_METRICS,
	SV_R_GAPS,
	SV_R_WEB,    /* the page's static files (web.c) */
	SV_R_JOBS,   /* /v1/jobs, /v1/whoami, the coverage map (jobs.c, map.c) */
	SV_R_EVENTS, /* /v1/events (events.c) */
	SV_R_OTHER,
	SV_R_COUNT
};

enum sv_outcome {
	SV_HIT,   /* answered from the database */
	SV_MISS,  /* the window is not proven: 503 */
	SV_ERROR, /* a bad request, an unknown route, a failure */
	SV_OUTCOME_COUNT
};

void metrics_record(enum sv_route r, enum sv_outcome o, int64_t usec);
void metrics_render(struct buf *b);

/* ---- the answer one route gives */
#define SV_CKEY_MAX 256 /* a longer cache key (a long market name): not cached */
struct sv_reply {
	int status;
	const char *ctype;
	struct buf body;
	enum sv_outcome outcome;
	struct MHD_Response *stream; /* a streamed answer instead of body (range) */
	struct MHD_Response *shared; /* a cached answer: queued as it is, not destroyed */
	size_t ckey_len;             /* > 0: a proven answer, kept in the cache under ckey */
	unsigned char ckey[SV_CKEY_MAX];
	struct rt_req *rt; /* the request's read-through state (readthru.c), or NULL */
	int park;          /* 1: no answer yet, wait (readthru_park) and ask again */
};

/* {"error":{"name":status,"message":msg}} with its status; outcome as given */
void reply_error(struct sv_reply *r, int status, enum sv_outcome o, const char *msg);
/* 503: the range is not collected yet (why: what is missing) */
void reply_miss(struct sv_reply *r, const char *why);

/* The request's query parameters: a lookup function over the connection. */
typedef const char *(*sv_arg_fn)(void *ctx, const char *key);
struct sv_args {
	sv_arg_fn get;
	void *ctx;
};

static inline const char *
sv_arg(const struct sv_args *a, const char *key)
{
	return a->get(a->ctx, key);
}

/* ---- sdb.c: the calling thread's read-only connection to the database, a
 * SQLite file or (sdb_pg.c) a PostgreSQL database (--db postgresql://...,
 * pgdb_is_uri), with every statement below prepared once per connection.
 * Both dialects return the same text: times 'YYYY-MM-DDTHH:MM:SS', dates
 * 'YYYY-MM-DD', decimals as stored (numeric keeps Upbit's scale). */
enum sv_stmt {
	SQ_BEGIN,
	SQ_COMMIT,
	SQ_KNOWN,
	SQ_NEWEST,
	SQ_RANGE,
	SQ_COVER,
	SQ_HIST,
	SQ_MARKETS,
	SQ_PING,
	SQ_COUNT_IN,
	SQ_OLDEST,  /* gaps.c: the oldest stored candle of (market, tf) */
	SQ_TIMES,   /* gaps.c: the candle times of (market, tf) in [from, to) */
	SQ_SERIES,  /* map.c: every (market, tf) with its coverage rows */
	SQ_BOUNDS,  /* map.c: the ledger's earliest and latest times */
	SQ_BUCKETS, /* map.c: candle counts per bucket */
	SQ_COUNT
};

/* One prepared statement of the calling thread's connection: bound with
 * the sdb_bind_* functions (index 1..), stepped with sdb_step, its row read
 * with the sdb_col_* functions, and sdb_reset once done (before another
 * sdb_stmt of the same statement). */
struct sdb_st;

/* Opens db once to check it is a candlepipe database: 0, or the exit code
 * (EXIT_PERMFAIL: missing, not ours; EXIT_TEMPFAIL: busy, a server that
 * cannot be reached) after a message. Remembers db for the connections. */
int sdb_check(const char *db);
/* The database as messages name it (a URI without its password). */
const char *sdb_name(void);
/* The statement of the calling thread's connection (opened on first use,
 * reopened after a lost PostgreSQL connection outside a transaction), reset
 * and cleared; NULL if it cannot be had (logged). */
struct sdb_st *sdb_stmt(enum sv_stmt which);
/* Runs BEGIN or COMMIT on the thread's connection: 0 or -1. A read
 * transaction sees one snapshot (PostgreSQL: REPEATABLE READ READ ONLY);
 * BEGIN on a PostgreSQL connection found lost reconnects and tries again. */
int sdb_exec(enum sv_stmt which);
/* Closes every thread's connection (at exit, after the daemon stopped). */
void sdb_close_all(void);
void sdb_bind_text(struct sdb_st *st, int i, const char *v);
void sdb_bind_int(struct sdb_st *st, int i, int64_t v);
/* Binds time t as text at index i. */
void sdb_bind_time(struct sdb_st *st, int i, int64_t t);
/* The next row: 1, 0 when there are no more, -1 on failure (logged). */
int sdb_step(struct sdb_st *st);
void sdb_reset(struct sdb_st *st);
/* Column col of the current row as text (NULL for NULL), its length, as
 * an integer (0 for NULL). */
const char *sdb_col_text(const struct sdb_st *st, int col);
size_t sdb_col_bytes(const struct sdb_st *st, int col);
int64_t sdb_col_int(const struct sdb_st *st, int col);
/* Column col as a time: 0 or -1 (NULL or malformed). */
int sdb_column_time(const struct sdb_st *st, int col, int64_t *t);
/* The candle row of SQ_NEWEST/SQ_RANGE as Upbit's JSON object; convert adds
 * converted_trade_price. Returns 0, or -1 if convert is asked and the row has
 * none. */
int sdb_candle_json(struct buf *b, const char *market, const struct sdb_st *st, int convert);
/* Whether [from, to) lies inside one coverage row of (market, tf). */
int sdb_proven(const char *market, enum tf tf, int64_t from, int64_t to, int *yes);
/* history_start of (market, tf): *have 0 when unknown. 0 or -1. */
int sdb_history(const char *market, enum tf tf, int64_t *first, int *have);
/* The coverage row of (market, tf) starting last at or before t: [*from,
 * *to), *have 0 when none. 0 or -1. */
int sdb_cover_at(const char *market, enum tf tf, int64_t t, int64_t *from, int64_t *to, int *have);
/* How many candles of (market, tf) start in [from, to), counting up to max. */
int sdb_count_in(const char *market, enum tf tf, int64_t from, int64_t to, int max, int *n);
/* The covered ranges of (market, tf) in [from, to), as ledger_covered. */
int sdb_covered(const char *market, enum tf tf, int64_t from, int64_t to, struct range_list *out);
/* The error of a failed read: 503 when the failure is temporary (the
 * PostgreSQL connection was lost or cannot be had: ask again), else 500. */
void sdb_reply_error(struct sv_reply *r);

/* ---- upbit.c: the Upbit-compatible routes */
/* Which route url is; *tf for candle routes; *bad_unit for an unknown
 * minutes unit. SV_R_OTHER when none. */
enum sv_route upbit_route(const char *url, enum tf *tf, int *bad_unit);
void upbit_candles(const struct sv_args *a, enum tf tf, int bad_unit, struct sv_reply *r);
void upbit_market_all(const struct sv_args *a, struct sv_reply *r);

/* ---- extra.c: the routes beyond Upbit */
/* A checked market, timeframe, from and to. */
struct sv_span {
	const char *market;
	enum tf tf;
	int64_t from, to; /* aligned: tf_ceil of the given times */
};

/* market, timeframe, from, to into *s: 0, or -1 with the 400. */
int extra_span_args(const struct sv_args *a, struct sv_span *s, struct sv_reply *r);
void extra_coverage(const struct sv_args *a, struct sv_reply *r);
void extra_range(const struct sv_args *a, struct sv_reply *r);
void extra_readyz(struct sv_reply *r);

/* ---- readthru.c: a miss becomes a job of the planner daemon (--control),
 * identical misses share it; forming.c: the candle still forming, from
 * upstream. A route that cannot answer yet sets r->park; http.c then
 * suspends the connection and calls readthru_park; once the job (or the
 * upstream call) ends the connection is resumed and the route runs again,
 * finding the answer in the database (or the result in r->rt). */
struct rt_opts {
	const char *control; /* the daemon's control endpoint; NULL: no read-through */
	const char *api_url; /* upstream, for the forming candle */
	const char *cacert;  /* CA file for an https api_url, or NULL */
	int miss_timeout_ms; /* how long one request waits at most */
};

struct rt_req;

/* Starts the read-through threads: 0 or -1 (logged). */
int readthru_start(const struct rt_opts *o);
/* Ends every wait with an error (resumed) and stops the threads. */
void readthru_stop(void);
/* 1 when --control was given. */
int readthru_on(void);
/* The window [from, to) of (market, tf) is not proven: answers the error a
 * miss has come to (no daemon, a failed job, the timeout, no progress), or
 * the 503 miss why without --control, or sets r->park to wait on a job of
 * exactly that window. */
void readthru_miss(struct sv_reply *r, const char *why, const char *market, enum tf tf,
                   int64_t from, int64_t to);
/* Suspended conn waits on what r->rt asks (after MHD_suspend_connection). */
void readthru_park(struct rt_req *q, struct MHD_Connection *conn);
/* Whether the request waited on a job (its outcome is a miss). */
int readthru_waited(const struct rt_req *q);
/* When the request first arrived (monotonic microseconds), or -1. */
int64_t readthru_t0(const struct rt_req *q);
void readthru_free(struct rt_req *q);
/* The forming candle of (market, tf) whose slot starts at open: 1 with
 * the upstream object appended to out (nothing: no trade in it yet), 0
 * with r->park set (fetching), -1 with the error in r. */
int readthru_forming(struct sv_reply *r, const char *market, enum tf tf, int64_t open,
                     struct buf *out);
/* cp_serve_miss_jobs_total and the rest of the read-through's counters. */
void readthru_metrics(struct buf *b);
/* /v1/gaps (gaps.c) */
void gaps_route(const struct sv_args *a, struct sv_reply *r);

/* ---- web.c: the page (GET /, its script, style and chart library) */
/* The page's directory: dir, or (NULL) www/ next to the binary, else
 * ../../share/candlepipe/www from it (installed). 0, or -1 when none. */
int web_set_dir(const char *dir);
/* 1 when url is one of the page's files (answered into r), else 0. */
int web_static(const char *url, struct sv_reply *r);

/* ---- jobs.c: /v1/jobs and /v1/whoami over the daemon's control socket */
/* Connects to the control socket (NULL: no daemon; the job routes answer
 * 503). 0 or -1. */
int jobs_open(const char *control);
void jobs_close(void);
/* The jobs of STATUS as a JSON array into b: 0, or -1 (no daemon, no
 * answer). */
int jobs_list_json(struct buf *b);
/* The msgpack value in data as JSON into b (null when it does not decode). */
void jobs_msgpack_json(struct buf *b, const void *data, size_t len);
/* 1 when the request is one of the routes of the page's API (/v1/jobs...,
 * /v1/whoami, /v1/events, /v1/coverage without a market), answered into r
 * (*rt its route); else 0. can_write: POST and DELETE are allowed. */
int jobs_route(struct MHD_Connection *conn, const char *url, const char *method, int can_write,
               struct sv_reply *r, enum sv_route *rt);

/* ---- map.c: /v1/coverage without a market: every series at once */
void map_coverage(const struct sv_args *a, struct sv_reply *r);

/* ---- events.c: /v1/events, the event stream as server-sent events */
/* Subscribes to the hub's monitor endpoint (NULL: only the jobs, from the
 * control socket) and starts the thread that re-emits it. 0 or -1. */
int events_start(const char *endpoint);
/* Ends every event stream (before http_stop) and the thread. */
void events_stop(void);
/* The stream of one client into r. */
void events_answer(struct MHD_Connection *conn, struct sv_reply *r);

/* ---- http.c: the daemon */
struct sv_listen {
	int family; /* AF_INET or AF_INET6 */
	char host[64];
	uint16_t port;
	int loopback;
};

/* "ADDR:PORT" or "[ADDR6]:PORT" (numeric) into *out: 0 or -1. */
int http_parse_listen(const char *s, struct sv_listen *out);
/* Starts listening; token NULL: no authentication. 0, or -1 (logged).
 * *port is the bound port. */
int http_start(const struct sv_listen *l, const char *token, uint16_t *port);
/* The answer cache: bytes in all (split between the pool's threads); 0
 * turns it off. Before http_start. */
void http_set_cache(size_t bytes);
/* The calling thread's cached response of key, or NULL. */
struct MHD_Response *http_cached(const void *key, size_t klen);
void http_stop(void);

#endif
