/* job_test: the daemon's jobs (planner/job.c): every cell of the
 * [state][event] table (one test per transition, and every impossible
 * event refused and counted), and the overlap rule: a job does not plan
 * what another live job has, waits on it, and a cancelled job's segments
 * are dropped only when nobody waits on them. A follow job is FOLLOWING
 * once its backfill is done, never done, and only its target is extended
 * as candles close. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "follow.h"
#include "job.h"
#include "plan.h"
#include "tf.h"

#define M 60 /* one minute */

static struct plan p;
static struct jobs js;

static int
setup(void **state)
{
	(void)state;
	plan_init(&p, 7);
	jobs_init(&js);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	plan_free(&p);
	jobs_free(&js);
	return 0;
}

/* A job in state st (reached through the table). */
static struct job *
job_in(enum job_state st)
{
	struct job *j = job_new(&js, 0);

	if (st == JOB_QUEUED)
		return j;
	if (st == JOB_FAILED || st == JOB_CANCELLED) {
		assert_int_equal(job_fire(&js, j, st == JOB_FAILED ? JEV_ERROR : JEV_CANCEL), 0);
		return j;
	}
	assert_int_equal(job_fire(&js, j, JEV_PLAN), 0);
	if (st == JOB_PLANNING)
		return j;
	assert_int_equal(job_fire(&js, j, JEV_PLANNED), 0);
	if (st == JOB_FETCHING)
		return j;
	assert_int_equal(job_fire(&js, j, st == JOB_FOLLOWING ? JEV_CAUGHT_UP : JEV_FINISHED), 0);
	return j;
}

static void
check_transition(enum job_state from, enum job_event ev, enum job_state to)
{
	struct job *j = job_in(from);
	uint64_t before = js.impossible;

	assert_int_equal(job_fire(&js, j, ev), 0);
	assert_int_equal(j->st, to);
	assert_int_equal(js.impossible, before);
}

#define TRANSITION(name, from, ev, to)          \
	static void name(void **state)          \
	{                                       \
		(void)state;                    \
		check_transition(from, ev, to); \
	}
TRANSITION(queued_plan, JOB_QUEUED, JEV_PLAN, JOB_PLANNING)
TRANSITION(queued_error, JOB_QUEUED, JEV_ERROR, JOB_FAILED)
TRANSITION(queued_cancel, JOB_QUEUED, JEV_CANCEL, JOB_CANCELLED)
TRANSITION(planning_planned, JOB_PLANNING, JEV_PLANNED, JOB_FETCHING)
TRANSITION(planning_error, JOB_PLANNING, JEV_ERROR, JOB_FAILED)
TRANSITION(planning_cancel, JOB_PLANNING, JEV_CANCEL, JOB_CANCELLED)
TRANSITION(fetching_finished, JOB_FETCHING, JEV_FINISHED, JOB_DONE)
TRANSITION(fetching_error, JOB_FETCHING, JEV_ERROR, JOB_FAILED)
TRANSITION(fetching_cancel, JOB_FETCHING, JEV_CANCEL, JOB_CANCELLED)
TRANSITION(fetching_caught_up, JOB_FETCHING, JEV_CAUGHT_UP, JOB_FOLLOWING)
TRANSITION(following_error, JOB_FOLLOWING, JEV_ERROR, JOB_FAILED)
TRANSITION(following_cancel, JOB_FOLLOWING, JEV_CANCEL, JOB_CANCELLED)

/* The 12 transitions above are the only ones: every other cell leaves the
 * state alone and is counted. */
static void
every_other_cell_is_impossible(void **state)
{
	int allowed = 0;

	(void)state;
	for (int s = 0; s < JOB_STATES; s++) {
		for (int e = 0; e < JOB_EVENTS; e++) {
			struct job *j;
			uint64_t before = js.impossible;
			if (job_next_state((enum job_state)s, (enum job_event)e) != -1) {
				allowed++;
				continue;
			}
			j = job_in((enum job_state)s);
			assert_int_equal(job_fire(&js, j, (enum job_event)e), -1);
			assert_int_equal(j->st, s);
			assert_int_equal(js.impossible, before + 1);
		}
	}
	assert_int_equal(allowed, 12);
	assert_int_equal(job_next_state(JOB_STATES, JEV_PLAN), -1);
	assert_int_equal(job_next_state(JOB_QUEUED, JOB_EVENTS), -1);
}

/* A planned job of one target [from, to) of KRW-BTC 1m (tf given). */
static uint32_t
submit(enum tf tf, int64_t from, int64_t to)
{
	struct range_list none = { 0 };
	struct job *j = job_new(&js, 0);
	uint32_t id = j->id;

	job_fire(&js, j, JEV_PLAN);
	job_building(&js, id);
	job_add_target(&js, &p, "KRW-BTC", tf, from, to, &none);
	job_building(&js, 0);
	job_fire(&js, job_find(&js, id), JEV_PLANNED);
	return id;
}

/* The union of the live segments of target t. */
static int64_t
live_slots(int t)
{
	int64_t n = 0;

	for (int i = 0; i < p.ns; i++)
		if (p.s[i].target == t && (p.s[i].st == SEG_READY || p.s[i].st == SEG_LEASED))
			n += tf_count(p.t[t].tf, p.s[i].lo, p.s[i].cursor);
	return n;
}

static void
finish_target(int t)
{
	for (int i = 0; i < p.ns; i++)
		if (p.s[i].target == t)
			p.s[i].st = SEG_DONE;
}

static void
overlap_is_not_planned_again(void **state)
{
	uint32_t a, b;
	struct job *jb;

	(void)state;
	a = submit(TF_1M, 0, 1000 * M);
	b = submit(TF_1M, 500 * M, 1500 * M);
	jb = job_find(&js, b);
	assert_int_equal(jb->nown, 1);
	assert_int_equal(jb->nwait, 1);
	assert_int_equal(jb->wait[0], job_find(&js, a)->own[0]);
	assert_int_equal(live_slots(0), 1000);
	assert_int_equal(live_slots(1), 500); /* only [1000, 1500) is B's */
	for (int i = 0; i < p.ns; i++)
		if (p.s[i].target == 1)
			assert_true(p.s[i].lo >= 1000 * M);
}

static void
other_timeframe_or_done_range_is_not_waited_on(void **state)
{
	uint32_t b, c;

	(void)state;
	submit(TF_1M, 0, 1000 * M);
	b = submit(TF_1H, 0, 1000 * M);
	assert_int_equal(job_find(&js, b)->nwait, 0);
	finish_target(0);
	c = submit(TF_1M, 0, 1000 * M); /* nothing of it is live elsewhere */
	assert_int_equal(job_find(&js, c)->nwait, 0);
	assert_int_equal(live_slots(2), 1000);
}

static void
a_job_waits_for_the_segments_it_waits_on(void **state)
{
	uint32_t a, b;

	(void)state;
	a = submit(TF_1M, 0, 1000 * M);
	b = submit(TF_1M, 500 * M, 1500 * M);
	finish_target(1); /* B's own part is done, A's is not */
	jobs_tick(&js, &p);
	assert_int_equal(job_find(&js, b)->st, JOB_FETCHING);
	finish_target(0);
	jobs_tick(&js, &p);
	assert_int_equal(job_find(&js, a)->st, JOB_DONE);
	assert_int_equal(job_find(&js, b)->st, JOB_DONE);
}

static void
coverage_counts_the_waited_on_results(void **state)
{
	uint32_t b;
	struct range_list cov = { 0 };

	(void)state;
	submit(TF_1M, 0, 1000 * M);
	b = submit(TF_1M, 500 * M, 1500 * M);
	/* A proves [0, 1000) */
	if (range_list_push(&p.t[0].done, 0, 1000 * M) == -1)
		fail();
	assert_int_equal(job_covered(job_find(&js, b), &p, 0, &cov), 0);
	assert_int_equal(cov.n, 1);
	assert_int_equal(cov.v[0].from, 500 * M);
	assert_int_equal(cov.v[0].to, 1000 * M);
	range_list_free(&cov);
}

static void
cancel_keeps_what_another_job_waits_on(void **state)
{
	uint32_t a, b;
	char err[128];

	(void)state;
	a = submit(TF_1M, 0, 1000 * M);
	b = submit(TF_1M, 500 * M, 1500 * M);
	assert_int_equal(job_cancel(&js, &p, a, err, sizeof(err)), 0);
	assert_int_equal(job_find(&js, a)->st, JOB_CANCELLED);
	assert_int_equal(live_slots(0), 1000); /* B waits on it */
	assert_int_equal(job_cancel(&js, &p, b, err, sizeof(err)), 0);
	assert_int_equal(live_slots(0), 0); /* now nobody does */
	assert_int_equal(live_slots(1), 0);
	assert_string_equal(p.t[0].reason, "cancelled");
	assert_int_equal(job_cancel(&js, &p, b, err, sizeof(err)), -1);
	assert_string_equal(err, "job 2 is already cancelled");
	assert_int_equal(job_cancel(&js, &p, 99, err, sizeof(err)), -1);
	assert_string_equal(err, "no job 99");
}

static void
cancel_of_the_waiter_leaves_the_other_job_alone(void **state)
{
	uint32_t a, b;
	char err[128];

	(void)state;
	a = submit(TF_1M, 0, 1000 * M);
	b = submit(TF_1M, 500 * M, 1500 * M);
	assert_int_equal(job_cancel(&js, &p, b, err, sizeof(err)), 0);
	assert_int_equal(live_slots(0), 1000);
	assert_int_equal(live_slots(1), 0);
	assert_int_equal(job_find(&js, a)->st, JOB_FETCHING);
}

static void
no_job_being_built_is_plan_add_target(void **state)
{
	struct range_list none = { 0 };

	(void)state;
	submit(TF_1M, 0, 1000 * M);
	/* the embedded planner (no job): plans everything */
	assert_int_equal(job_add_target(&js, &p, "KRW-BTC", TF_1M, 0, 1000 * M, &none), 1);
	assert_int_equal(live_slots(1), 1000);
}

static void
first_lease_is_noted_for_the_owner_only(void **state)
{
	uint32_t a, b;

	(void)state;
	a = submit(TF_1M, 0, 1000 * M);
	b = submit(TF_1H, 0, 1000 * M);
	assert_true(job_find(&js, a)->first_lease_us < 0);
	job_note_lease(&js, 0);
	assert_true(job_find(&js, a)->first_lease_us >= 0);
	assert_true(job_find(&js, b)->first_lease_us < 0);
	job_note_lease(&js, 5); /* no such target, no job: ignored */
}

/* A follow job of KRW-BTC 1m from `from` (as the daemon makes one). */
static uint32_t
follow_job(int64_t from, int64_t to)
{
	uint32_t id = submit(TF_1M, from, to);
	struct job *j = job_find(&js, id);

	j->follow = 1;
	p.t[j->own[0]].follow = 1;
	return id;
}

static void
a_follow_job_follows_and_never_finishes(void **state)
{
	uint32_t f, o;
	char err[128];

	(void)state;
	p.follow_marked = 1;
	f = follow_job(0, 10 * M);
	o = submit(TF_1H, 0, 10 * 3600); /* a one-shot job beside it */
	finish_target(0);
	finish_target(1);
	jobs_tick(&js, &p);
	assert_int_equal(job_find(&js, f)->st, JOB_FOLLOWING);
	assert_int_equal(job_find(&js, o)->st, JOB_DONE);
	/* 20 minutes later (+ the delay): only the follow target grows */
	follow_tick_at(&p, 1000, 30 * M * 1000 + 1000);
	assert_int_equal(p.t[0].to, 30 * M);
	assert_int_equal(p.t[1].to, 10 * 3600);
	assert_int_equal(live_slots(0), 20);
	finish_target(0);
	jobs_tick(&js, &p);
	assert_int_equal(job_find(&js, f)->st, JOB_FOLLOWING);
	/* removed: cancelled, and its target is extended no more */
	assert_int_equal(job_cancel(&js, &p, f, err, sizeof(err)), 0);
	assert_int_equal(job_find(&js, f)->st, JOB_CANCELLED);
	assert_null(job_find_follow(&js, &p, "KRW-BTC", TF_1M));
	follow_tick_at(&p, 1000, 60 * M * 1000 + 1000);
	assert_int_equal(p.t[0].to, 30 * M);
	assert_int_equal(js.impossible, 0);
}

static void
a_follow_job_whose_market_fails_fails(void **state)
{
	uint32_t f;

	(void)state;
	p.follow_marked = 1;
	f = follow_job(0, 10 * M);
	assert_non_null(job_find_follow(&js, &p, "KRW-BTC", TF_1M));
	assert_null(job_find_follow(&js, &p, "KRW-BTC", TF_1H));
	plan_drop_target(&p, 0, "delisted (404 Code not found)");
	jobs_tick(&js, &p);
	assert_int_equal(job_find(&js, f)->st, JOB_FAILED);
	assert_string_equal(job_find(&js, f)->reason, "delisted (404 Code not found)");
	/* still a subscription (until removed), so still found */
	assert_non_null(job_find_follow(&js, &p, "KRW-BTC", TF_1M));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(queued_plan),
		T(queued_error),
		T(queued_cancel),
		T(planning_planned),
		T(planning_error),
		T(planning_cancel),
		T(fetching_finished),
		T(fetching_error),
		T(fetching_cancel),
		T(fetching_caught_up),
		T(following_error),
		T(following_cancel),
		T(a_follow_job_follows_and_never_finishes),
		T(a_follow_job_whose_market_fails_fails),
		T(every_other_cell_is_impossible),
		T(overlap_is_not_planned_again),
		T(other_timeframe_or_done_range_is_not_waited_on),
		T(a_job_waits_for_the_segments_it_waits_on),
		T(coverage_counts_the_waited_on_results),
		T(cancel_keeps_what_another_job_waits_on),
		T(cancel_of_the_waiter_leaves_the_other_job_alone),
		T(no_job_being_built_is_plan_add_target),
		T(first_lease_is_noted_for_the_owner_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
