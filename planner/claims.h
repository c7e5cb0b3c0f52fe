/*
 * claims.h: the ranges this collector is fetching, claimed in a
 * PostgreSQL database (candlepipe.claims, pgschema.h) so that another
 * collector on the same database plans around them (claims.c), for an
 * embedded collection and for the daemon's jobs alike. Nothing here does
 * anything for a SQLite --db.
 */
#ifndef CP_PLANNER_CLAIMS_H
#define CP_PLANNER_CLAIMS_H

#include <stdint.h>

#include "ledger.h"
#include "plan.h"
#include "tf.h"

#define CLAIMS_TTL_S 60       /* a claim lapses this long after its last renewal */
#define CLAIMS_RENEW_MS 20000 /* ours are renewed this often */
#define CLAIMS_RETRY_MS 1000  /* ranges another holds are looked at again this often */
#define CLAIMS_TICK_MS 200    /* claims whose ranges are finished are deleted this often */

/* Opens the claims connection when db is a PostgreSQL database. The owner
 * of our claims is this host and name (a daemon: one name per daemon, so
 * that a restarted one deletes what its previous run left), or without a
 * name this host, pid and run_id. 0 (also for SQLite: claims stay off). */
int claims_open(const char *db, uint32_t run_id, const char *name);
/* plan_add_target_except with claims: the missing ranges of [from, to)
 * (less covered and except) are claimed first; what another collector
 * holds is planned around and deferred (looked at again by claims_tick),
 * what was committed meanwhile is proven, the rest becomes segments.
 * Without claims (SQLite, or they failed: logged) it is
 * plan_add_target_except. Returns the target's index. */
int claims_add_target(struct plan *p, const char *market, enum tf tf, int64_t from, int64_t to,
                      const struct range_list *covered, const struct range_list *except);
/* plan_extend with claims (follow mode's tail): the target now ends at
 * `to`, and its new slots are claimed like claims_add_target's missing
 * ranges: what another collector holds is deferred (looked at again by
 * claims_tick), what it committed is proven, the rest becomes a segment.
 * Without claims it is plan_extend. */
void claims_extend(struct plan *p, int target, int64_t to);
/* 1 while deferred ranges wait (the collection is not finished). */
int claims_waiting(void);
/* 1 if a deferred range of target overlaps [from, to): another collector
 * has it, and the target waits on it. */
int claims_deferred(int target, int64_t from, int64_t to);
/* The deferred ranges of target are wanted no more (its job is cancelled). */
void claims_forget(int target);
/* The periodic work: deletes our claims whose ranges nothing fetches any
 * more (done, failed or dropped), renews the others, and looks at deferred
 * ranges again: what is covered meanwhile is proven, what nobody holds
 * becomes ours and a new segment of its target. */
void claims_tick(struct plan *p, int64_t now_ms);
/* Deletes our claims and closes the connection. */
void claims_close(void);

#endif
