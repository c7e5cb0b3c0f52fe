/*
 * claims.h: the ranges this collection is fetching, claimed in a
 * PostgreSQL database (candlepipe.claims, pgschema.h) so that another
 * collector on the same database plans around them (claims.c). Nothing
 * here does anything for a SQLite --db.
 */
#ifndef CP_PLANNER_CLAIMS_H
#define CP_PLANNER_CLAIMS_H

#include <stdint.h>

#include "ledger.h"
#include "plan.h"

#define CLAIMS_TTL_S 60       /* a claim lapses this long after its last renewal */
#define CLAIMS_RENEW_MS 20000 /* ours are renewed this often */
#define CLAIMS_RETRY_MS 1000  /* ranges another holds are looked at again this often */

/* Opens the claims connection when db is a PostgreSQL database; owner is a
 * unique collector id. 0 (also for SQLite: claims stay off). */
int claims_open(const char *db, uint32_t run_id);
/* Claims missing (sorted ranges of market, tf) for us: the ranges another
 * collector holds (its unexpired claims) go to theirs, the rest is ours
 * now. Without claims (SQLite, or they failed: logged) nothing is theirs. */
void claims_take(const char *market, const char *tf, const struct range_list *missing,
                 struct range_list *theirs);
/* Remembers theirs (of target) to be looked at again. */
void claims_defer(int target, const struct range_list *theirs);
/* 1 while deferred ranges wait (the collection is not finished). */
int claims_waiting(void);
/* The periodic work: renews our claims, and looks at deferred ranges
 * again: what is covered meanwhile is done, what nobody holds becomes
 * ours and a new segment of its target. */
void claims_tick(struct plan *p, int64_t now_ms);
/* Deletes our claims and closes the connection. */
void claims_close(void);

#endif
