/*
 * ledger.h: the coverage ledger and the database schema, shared by the writer
 * (the only read-write connection) and the readers (planner, query tools).
 *
 * Schema (PRAGMA user_version = LEDGER_SCHEMA_VERSION):
 *   candles_exact  one row per real candle; decimals as Upbit's exact text
 *   candles        view of candles_exact with decimals as REAL
 *   coverage       [from_utc, to_utc) ranges proven complete, merged
 *   history_start  first slot Upbit serves (listing or horizon), when proven
 * Times are TEXT "YYYY-MM-DDTHH:MM:SS" (UTC), so they sort and compare
 * lexically.
 */
#ifndef CP_LEDGER_H
#define CP_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#define LEDGER_SCHEMA_VERSION 1

struct range {
	int64_t from, to; /* [from, to) */
};

struct range_list {
	struct range *v;
	size_t n, cap;
};

int range_list_push(struct range_list *l, int64_t from, int64_t to);
void range_list_free(struct range_list *l);
/* out = want minus have (both sorted, non-overlapping); out is appended to. */
int range_subtract(const struct range_list *want, const struct range_list *have,
                   struct range_list *out);

/* Opens the database read-only; returns NULL (and *exists=0) if the file is
 * missing, NULL with *exists=1 on error. */
sqlite3 *ledger_open_ro(const char *path, int *exists);
/* Appends the covered ranges of (market, tf) that intersect [from, to),
 * clipped to it, sorted. 0 or -1. */
int ledger_covered(sqlite3 *db, const char *market, const char *tf, int64_t from, int64_t to,
                   struct range_list *out);

#endif
