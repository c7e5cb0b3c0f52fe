/*
 * store_pg.h: the writer's PostgreSQL store (store_pg.c), behind the
 * store.h API: store.c dispatches here when --db is a PostgreSQL URI
 * (pgdb_is_uri). The same calls and promises as the SQLite store, plus
 * store_pg_lost/store_pg_reconnect: a connection lost in a transaction
 * (COMMIT included) is reconnected and the whole transaction retried,
 * which changes nothing when it had committed (every write is idempotent).
 */
#ifndef CP_WRITER_STORE_PG_H
#define CP_WRITER_STORE_PG_H

#include <stdint.h>

#include "proto.h"
#include "store.h"

struct store_pg;

/* Connects, judges the database (pgdb.h) and creates the schema when it is
 * empty; never writes to a NEWER or FOREIGN one. NULL with err filled. */
struct store_pg *store_pg_open(const char *conninfo, struct store_err *err);
void store_pg_close(struct store_pg **pp);
/* Upserts the markets of json (the /v1/market/all body, len bytes) in one
 * transaction; the number of markets or -1 (err). */
long store_pg_load_markets(struct store_pg *p, const char *json, long len, int64_t now,
                           const char *file, struct store_err *err);
int store_pg_begin(struct store_pg *p);
int store_pg_commit(struct store_pg *p);
void store_pg_rollback(struct store_pg *p);
/* store_put_result on PostgreSQL: checks r and queues it; r and out must
 * stay valid until store_pg_commit, which writes the whole batch (the
 * advisory locks of its (market, timeframe)s first, the candles, then the
 * coverage merges and history_start) and fills every out once COMMIT has
 * succeeded (store_pg.c). */
enum store_status store_pg_put_result(struct store_pg *p, const struct msg_result *r, int64_t now,
                                      struct store_outcome *out);
/* store_put_history and store_put_market on PostgreSQL (store.h). */
int store_pg_put_history(struct store_pg *p, const char *market, const char *tf, int64_t first,
                         int *changed);
int store_pg_put_market(struct store_pg *p, const struct store_market *m, int *changed);
/* 1 if the last failure lost the connection (or the server is restarting). */
int store_pg_lost(const struct store_pg *p);
/* One attempt to connect again (and prepare the statements): 0, or -1 with
 * err filled (EXIT_TEMPFAIL: try again later). */
int store_pg_reconnect(struct store_pg *p, struct store_err *err);

#endif
