/*
 * subs.h: the daemon's standing follow subscriptions in the database's
 * follows table (SQLite schema version 3, or candlepipe.follows of the
 * PostgreSQL schema version 2, created by the writer): read when the
 * daemon starts, added and removed by its control requests.
 */
#ifndef CP_SUBS_H
#define CP_SUBS_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define SUBS_BUSY_TIMEOUT_MS 5000

/* One row of follows. */
struct sub {
	char market[MARKET_MAX];
	char tf[8];
	int64_t backfill;
	int64_t added; /* epoch s */
};

/* Called for each row by subs_load. */
typedef void (*subs_fn)(const struct sub *s, void *arg);

/* Reads every row of db's follows table (a database without one, or no
 * file yet, has none). 0, or -1 with the reason in err. */
int subs_load(const char *db, subs_fn fn, void *arg, char *err, size_t errlen);
/* Adds s unless (market, timeframe) is there already: 1 added, 0 there
 * already (*s then holds the stored row), -1 with the reason in err. */
int subs_add(const char *db, struct sub *s, char *err, size_t errlen);
/* Removes (market, tf): 1 removed, 0 none, -1 with the reason in err. */
int subs_remove(const char *db, const char *market, const char *tf, char *err, size_t errlen);

#endif
