/*
 * store.h: the writer's read-write side of the database (see the schema at
 * the top of store.c). One struct store owns the single read-write SQLite
 * connection, the prepared statements and the writer lock file.
 *
 * Use:
 *   struct store_err e;
 *   struct store *s = store_open(path, &e);       // NULL: e.code, e.msg
 *   store_load_markets(s, file, now, &e);          // optional, at start
 *   store_begin(s);
 *   store_put_result(s, &result, now, &out);       // per result
 *   store_commit(s);                               // or store_rollback(s)
 *   store_close(&s);
 * No function here touches ZeroMQ, so tests drive it directly.
 * A PostgreSQL --db (pgdb_is_uri) goes to store_pg.c behind the same calls:
 * no lock file there, and a lost connection is retried (store_conn_lost).
 */
#ifndef CP_WRITER_STORE_H
#define CP_WRITER_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define STORE_ERR_MAX 512
#define STORE_BUSY_TIMEOUT_MS 5000

struct store;

/* Why store_open failed: code is EXIT_PERMFAIL (lock held, another
 * program's or a newer schema, not a database, not a regular file, no such
 * directory, permission denied) or EXIT_TEMPFAIL (busy, I/O, disk full);
 * msg says it in one line. */
struct store_err {
	int code;
	char msg[STORE_ERR_MAX];
};

/* What store_put_result did with one accepted result. */
struct store_outcome {
	uint16_t new_candles; /* rows actually inserted */
	uint8_t duplicate;    /* the proven range was already covered */
	int64_t cov_from;     /* proven range recorded: [cov_from, cov_to), */
	int64_t cov_to;       /* equal if nothing was provable (clipped away) */
};

enum store_status {
	STORE_OK,       /* written (inside the open transaction) */
	STORE_REJECTED, /* failed the sanity check: nothing written, why logged */
	STORE_ERROR     /* SQLite failed: roll the whole transaction back */
};

/* Takes the writer lock on "<path>.lock" (path: the database's real
 * path): returns the open descriptor (keep it open for the process
 * lifetime, close it to release), with our pid written into the file and
 * *created = 1 if the file was made here; or -1 with a one-line reason in
 * err (err->code EXIT_PERMFAIL when another writer holds it: the message
 * names its pid when the file holds one). Creates no directory. */
int store_lock(const char *path, int *created, struct store_err *err);

/* Resolves path (a regular file, symlinks followed, or a new file in an
 * existing directory; anything else is refused), locks it (store_lock),
 * judges its schema read-only (see store.c), and only then opens it
 * read-write in WAL mode, creates or upgrades the schema and prepares the
 * statements. Returns the store, or NULL with err filled (nothing left
 * open, the file untouched, no lock file of ours left behind). */
struct store *store_open(const char *path, struct store_err *err);
/* Closes the database and releases the lock; *sp becomes NULL. */
void store_close(struct store **sp);

/* Upserts every market of file, the JSON body of Upbit's /v1/market/all
 * (an array of objects with text market, korean_name, english_name and an
 * optional market_event {warning: bool, caution: {...}}), into the markets
 * table in one transaction, updated_utc = now. Markets the file does not
 * name keep their rows. Returns the number of markets, or -1 with err
 * filled (EXIT_PERMFAIL for a bad file; nothing written). */
long store_load_markets(struct store *s, const char *file, int64_t now, struct store_err *err);

/* 1 if the last failure lost the connection to a PostgreSQL database (or
 * its server is restarting): store_reconnect, then retry the whole
 * transaction (its writes are idempotent). Always 0 for SQLite. */
int store_conn_lost(const struct store *s);
/* One attempt to connect to the PostgreSQL database again: 0, or -1 with
 * err filled (EXIT_TEMPFAIL: try again later; EXIT_PERMFAIL: give up). */
int store_reconnect(struct store *s, struct store_err *err);

/* BEGIN IMMEDIATE (BEGIN on PostgreSQL). 0 or -1 (logged). */
int store_begin(struct store *s);
/* COMMIT. 0, or -1 (logged) after which the caller must store_rollback. */
int store_commit(struct store *s);
/* ROLLBACK if a transaction is open; never fails. */
void store_rollback(struct store *s);

/* Checks one result (see store_check_result), then inserts its candles and
 * records the range it proves, inside the open transaction. now is the wall
 * clock in epoch seconds. Fills *out on STORE_OK; on PostgreSQL the batch
 * is written at store_commit, so r and out must stay valid until then and
 * *out is filled when it returns 0. */
enum store_status store_put_result(struct store *s, const struct msg_result *r, int64_t now,
                                   struct store_outcome *out);

/* A markets row as a database holds it (copy mode, copy.c): the text of
 * each column, NULL for an absent warning ("1" or "0") or caution (JSON). */
struct store_market {
	const char *market, *korean_name, *english_name, *warning, *caution;
	const char *updated_utc; /* "YYYY-MM-DDTHH:MM:SS" */
};

/* Copy mode, outside store_begin/store_commit (each its own transaction):
 * history_start of (market, tf) set to first, and one markets row upserted
 * as given (updated_utc kept). *changed = 1 when the row was missing or
 * differed. 0 or -1 (logged). */
int store_put_history(struct store *s, const char *market, const char *tf, int64_t first,
                      int *changed);
int store_put_market(struct store *s, const struct store_market *m, int *changed);

/* The sanity re-check, no database needed: 0 if r may be written at time now,
 * else -1 with the reason in why. Every candle aligned, before ci.to and
 * closed (start + one slot <= now), effective_end <= to, required prices
 * present. */
int store_check_result(const struct msg_result *r, int64_t now, char *why, size_t whylen);

/* The range [*from, *to) the result proves at time now (to clipped to the
 * slot still forming); *from >= *to when nothing is provable. */
void store_proven_range(const struct chunk_info *ci, int64_t now, int64_t *from, int64_t *to);

#endif
