/*
 * job.h: the jobs of a planner daemon. A job is one submitted collection
 * (markets x timeframes over a range); its targets live in the one plan,
 * so every job shares the ledger and the budget per source address. Its
 * lifecycle is the [state][event] table of job.c, and every change goes
 * through job_fire.
 *
 * The overlap rule: a new target does not plan what a live segment of
 * another job already has (planned or in flight) for the same market and
 * timeframe; the job waits on that target instead, and is finished when its
 * own targets and the ones it waits on are. On PostgreSQL a new target's
 * missing ranges are also claimed (claims.c): what another collector
 * holds is deferred, and the job is not finished while a range of its own
 * is deferred.
 *
 * A follow job (a standing subscription of one market and timeframe, kept
 * in the database's follows table) never finishes: once its backfill is
 * done it is FOLLOWING, its target extended as candles close, until it is
 * removed (cancelled) or its market fails for good.
 */
#ifndef CP_JOB_H
#define CP_JOB_H

#include <stdint.h>

#include "ledger.h"
#include "plan.h"
#include "tf.h"

#define JOB_REASON_MAX 200

enum job_state {
	JOB_QUEUED,    /* accepted, not yet planned */
	JOB_PLANNING,  /* reading the ledger, adding targets */
	JOB_FETCHING,  /* its segments (or the ones it waits on) are out */
	JOB_FOLLOWING, /* a follow job whose backfill is done: it keeps up */
	JOB_DONE,      /* every range it asked for is finished (covered or not) */
	JOB_FAILED,    /* could not be planned (the database, ...) */
	JOB_CANCELLED, /* cancelled by a client */
	JOB_STATES
};

enum job_event {
	JEV_PLAN,      /* the planner takes it up */
	JEV_PLANNED,   /* its targets are in the plan */
	JEV_FINISHED,  /* its own and waited-on segments are done or failed */
	JEV_ERROR,     /* it cannot go on */
	JEV_CANCEL,    /* a client cancels it (or removes the follow) */
	JEV_CAUGHT_UP, /* a follow job's backfill is done */
	JOB_EVENTS
};

extern const char *const job_state_names[JOB_STATES];
extern const char *const job_event_names[JOB_EVENTS];

struct job {
	uint32_t id;
	enum job_state st;
	int *own, nown;   /* plan targets it planned */
	int *wait, nwait; /* other jobs' targets it waits on */
	char reason[JOB_REASON_MAX];
	int64_t submitted_ms;   /* monotonic */
	int64_t planned_us;     /* monotonic: when its targets were in the plan */
	int64_t first_lease_us; /* after planned_us, -1 before its first lease */
	int follow;             /* a standing follow job (one market, one timeframe) */
	int64_t backfill;       /* follow: the candles before added it fetches too */
	int64_t added;          /* follow: when it was subscribed (epoch s) */
};

struct jobs {
	struct job *v;
	int n;
	uint32_t next_id;
	uint64_t impossible; /* events the table refused */
	uint32_t *owner;     /* plan target -> job id (0: none) */
	int nowner;
	int building; /* index of the job job_add_target adds to, or -1 */
	char *live;   /* scratch: plan target -> has a live segment */
	int cap_live;
};

void jobs_init(struct jobs *js);
void jobs_free(struct jobs *js);
/* The state event ev leads to from st, or -1 when it is impossible. */
int job_next_state(enum job_state st, enum job_event ev);
/* Applies ev to j: 0, or -1 (logged and counted in js->impossible, the
 * state unchanged) when the table has no such transition. */
int job_fire(struct jobs *js, struct job *j, enum job_event ev);
/* A new QUEUED job; the pointer is valid until the next job_new. */
struct job *job_new(struct jobs *js, int64_t now_ms);
struct job *job_find(struct jobs *js, uint32_t id);
/* Targets added by job_add_target go to job id (0: to no job). */
void job_building(struct jobs *js, uint32_t id);
/* claims_add_target for the job being built, with the overlap rule: the
 * part of [from, to) a live segment of another job has is not planned
 * again, and that segment's target is waited on. Without a job being built
 * it is plan_add_target. Returns the target's index. */
int job_add_target(struct jobs *js, struct plan *p, const char *market, enum tf tf, int64_t from,
                   int64_t to, const struct range_list *covered);
/* A lease of target went out: the first one of its job is noted. */
void job_note_lease(struct jobs *js, int target);
/* Fires JEV_FINISHED (a follow job: JEV_CAUGHT_UP) for every fetching job
 * whose own and waited-on targets have no live segment left, and JEV_ERROR
 * for a follow job whose targets all failed for good. */
void jobs_tick(struct jobs *js, const struct plan *p);
/* Cancels job id (a follow job's targets are followed no more) and drops
 * the segments of cancelled jobs that no live job waits on. 0, or -1 with
 * the reason in err. */
int job_cancel(struct jobs *js, struct plan *p, uint32_t id, char *err, size_t errlen);
/* What is proven of j's own target index ti (an index into j->own): the
 * target's own results and the waited-on targets' inside its range,
 * sorted and merged, appended to out. 0 or -1. */
int job_covered(const struct job *j, const struct plan *p, int ti, struct range_list *out);
/* The follow job of (market, tf) that is not cancelled (it may have
 * failed), or NULL. */
struct job *job_find_follow(struct jobs *js, const struct plan *p, const char *market, enum tf tf);
/* 1 if the state is final. */
int job_terminal(enum job_state st);

#endif
