/*
 * plan.h: what the planner knows about one collection: the targets (market,
 * timeframe, requested range), the segments that walk the missing ranges
 * with their own cursors, and the chunk each segment has out.
 */
#ifndef CP_PLAN_H
#define CP_PLAN_H

#include <stdint.h>

#include "fsm.h"
#include "ledger.h"
#include "proto.h"
#include "tf.h"

#define PLAN_SEGMENTS_PER_TARGET_MAX 32
#define PLAN_TEMP_ATTEMPTS_MAX 6
#define PLAN_RATE_ATTEMPTS_MAX 30
#define PLAN_LEASE_BASE_MS 15000
#define PLAN_HEDGE_FACTOR 4     /* overdue: this many times the usual API time */
#define PLAN_HEDGE_FLOOR_MS 600 /* never hedge a request younger than this */

struct target {
	char market[MARKET_MAX];
	enum tf tf;
	int64_t from, to;           /* requested [from, to) */
	struct range_list covered0; /* ledger at start, clipped: for overlap analysis */
	struct range_list done;     /* proven so far (ledger at start + commits) */
	int64_t slots_total, slots_hit, slots_done;
	double spc; /* slots per candle seen in responses (>= 1) */
	int nseg;
	int failed;                   /* a permanent failure: no more requests */
	int answered;                 /* a result of this target was committed */
	int follow;                   /* extended as candles close (see follow_marked) */
	char reason[REASON_MAX + 48]; /* first failure */
	uint64_t requests, received, new_candles, retries, bytes;
};

/* The segment lifecycle: one [state][event] table (plan.c, plan_seg_fsm),
 * every change through plan_seg_step. A new segment starts READY. */
enum seg_state { SEG_READY, SEG_LEASED, SEG_WAIT, SEG_DONE, SEG_FAILED, SEG_NSTATES };

enum seg_event {
	SEG_EV_LEASE,         /* its chunk goes out (again: a re-issue or a hedge) */
	SEG_EV_WAKE,          /* the back-off is over */
	SEG_EV_COMMITTED,     /* a result of its chunk is durable */
	SEG_EV_EXHAUSTED,     /* nothing is left below the cursor */
	SEG_EV_HISTORY_END,   /* its target's history ends above the cursor */
	SEG_EV_RETRY,         /* 429 or 418: the chunk goes again at once */
	SEG_EV_BACKOFF,       /* a temporary failure: the chunk goes again later */
	SEG_EV_GIVE_UP,       /* out of attempts */
	SEG_EV_EXPIRE,        /* the lease ran out without an answer */
	SEG_EV_TARGET_FAILED, /* its target failed for good */
	SEG_NEVENTS
};

extern const struct fsm plan_seg_fsm;

struct segment {
	int target;
	int64_t lo;     /* lowest slot of the segment (inclusive) */
	int64_t cursor; /* next `to` (exclusive) */
	enum seg_state st;
	struct chunk_info ci; /* the chunk out (or last out) */
	int64_t until_ms;     /* LEASED: lease deadline; WAIT: retry time */
	int temp_attempts, rate_attempts;
	int64_t leased_at_ms; /* when the chunk out was (last) leased */
	int64_t planned_ms;   /* wall clock: the chunk's first lease (the monitor's queue) */
	int hedged;           /* a second copy of the chunk is out (LEASED only) */
	int source;           /* who the chunk out was last leased to, or -1 */
	int prev_source;      /* and the lease before (a hedge's twin), or -1 */
};

struct plan {
	struct target *t;
	int nt;
	struct segment *s;
	int ns, cap_s;
	uint32_t run_id;
	uint32_t seq;
	int rr; /* round-robin position */
	uint64_t leases, retries, committed, failed_chunks, hedges;
	uint64_t late_tokens; /* leases that came back unsent (FAIL_TOKEN_LATE) */
	double api_ms;        /* moving average of the API call time */
	int64_t analysis_ns;  /* time spent in overlap analysis */
	uint64_t planned;     /* chunks planned (new, not re-issued) */
	uint64_t impossible;  /* segment events that cannot happen in their state */
	int follow_marked;    /* follow mode extends only targets with follow set
	                         (the daemon); 0: every target (--follow) */
};

/* The reason given for the ranges of a market that answered before and now
 * answers 404 Code not found. */
#define PLAN_DELISTED "delisted (404 Code not found)"

/* What plan_on_failed decided. FA_DELISTED: every target of the market
 * failed with PLAN_DELISTED (once; its later failures are FA_IGNORED).
 * FA_RELEASED: the lease came back unsent (FAIL_TOKEN_LATE): leased again. */
enum fail_action { FA_IGNORED, FA_RETRY, FA_GAVE_UP, FA_PERMANENT, FA_DELISTED, FA_RELEASED };

/* The one way a segment changes state: the table's cell for (s->st, ev).
 * Leaving LEASED clears `hedged` (the next lease may be raced again). An
 * impossible event is logged and counted in p->impossible, the state kept:
 * -1. Otherwise 0. */
int plan_seg_step(struct plan *p, struct segment *s, enum seg_event ev);

void plan_init(struct plan *p, uint32_t run_id);
void plan_free(struct plan *p);
/* Adds a target; covered = the ledger's ranges inside [from, to), sorted
 * and merged. Creates one segment per missing range. Returns its index. */
int plan_add_target(struct plan *p, const char *market, enum tf tf, int64_t from, int64_t to,
                    const struct range_list *covered);
/* plan_add_target that also leaves out the ranges of except (sorted and
 * merged, NULL: none): they stay uncovered in this target (another one has
 * them). */
int plan_add_target_except(struct plan *p, const char *market, enum tf tf, int64_t from, int64_t to,
                           const struct range_list *covered, const struct range_list *except);
/* Drops the target: every segment not done fails with reason (a lease in
 * flight may still commit; its answer is then stale). */
void plan_drop_target(struct plan *p, int target, const char *reason);
/* Follow mode: the target now ends at `to` (a later slot): the new slots
 * become a segment (reusing a finished segment's entry, so memory stays
 * flat however long it runs). */
void plan_extend(struct plan *p, int target, int64_t to);
/* plan_extend without the segment: the target now ends at `to`, its new
 * slots not yet planned (claims.c adds what it claimed of them). */
void plan_grow(struct plan *p, int target, int64_t to);
/* A new segment of target over [from, to) (a range another collector held
 * and let go, claims.c), inside the target's range and not yet proven. */
void plan_add_range(struct plan *p, int target, int64_t from, int64_t to);
/* [from, to) of target (clipped to its range) is proven: another collector
 * committed it (claims.c). */
void plan_add_done(struct plan *p, int target, int64_t from, int64_t to);
/* A segment ready for a lease now (round robin), or -1. */
int plan_next_ready(struct plan *p, int64_t now_ms);
/* Splits the lower half off the busiest leased segment whose unexplored
 * part is worth at least two requests; returns the new (ready) segment or -1. */
int plan_split(struct plan *p);
/* A leased segment whose answer is overdue (a hung or stalled request):
 * leasing it again races a second copy against the first, the first result
 * to commit wins. Returns the segment or -1. */
int plan_hedge(struct plan *p, int64_t now_ms, int64_t after_ms);
/* Fills the segment's chunk for a lease and marks it leased. */
struct chunk_info *plan_lease(struct plan *p, int seg, int64_t now_ms, int64_t wall_ms,
                              uint32_t delay_ms);
/* Notes who (a source index of the caller's) the lease just made of seg
 * went to. */
void plan_note_source(struct plan *p, int seg, int source);
/* The source that the chunk ci (as answered: its id and attempt) was leased
 * to, or -1 if unknown. Ask before plan_on_committed. */
int plan_source_of(const struct plan *p, const struct chunk_info *ci);
/* A result is durable. Returns 1 if it advanced a segment, 0 if stale. */
int plan_on_committed(struct plan *p, const struct msg_committed *m);
enum fail_action plan_on_failed(struct plan *p, const struct msg_failed *m, int64_t now_ms,
                                uint32_t jitter);
/* Leases past their deadline go back to READY (and may be hedged again).
 * Returns how many. */
int plan_expire(struct plan *p, int64_t now_ms);
/* 1 when every segment is done or failed. */
int plan_finished(const struct plan *p);
/* Earliest WAIT deadline (for the poll timeout), or INT64_MAX. */
int64_t plan_next_wake(const struct plan *p);

#endif
