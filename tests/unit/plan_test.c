/* plan_test: the segment planner's rarer states (planner/plan.c): stale and
 * duplicate commits, retries until the attempts run out, expired leases,
 * hedging, seams proven from above, the end of history and follow-mode
 * extension, delisting, the source of each lease and follow mode's choice of
 * the newest closed candle for every timeframe. Each case checks what the user ends up with: the ranges
 * proven, the reason a range stays uncovered, whether the run is done. And
 * every cell of the segment's [state][event] table; no case above meets an
 * impossible event. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "capture.h"
#include "follow.h"
#include "fsm_walk.h"
#include "plan.h"
#include "tf.h"

#define M 60 /* one minute */

static struct plan p;

static int
setup(void **state)
{
	struct range_list none = { 0 };
	(void)state;
	plan_init(&p, 3);
	plan_add_target(&p, "KRW-BTC", TF_1M, 0, 2000 * M, &none);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	assert_int_equal(p.impossible, 0); /* real flows meet no impossible event */
	plan_free(&p);
	return 0;
}

static struct msg_committed
result(const struct chunk_info *ci, uint16_t received, int64_t oldest, int history_end)
{
	struct msg_committed m;
	memset(&m, 0, sizeof(m));
	m.ci = *ci;
	m.ci.received = received;
	m.ci.oldest = oldest;
	m.ci.history_end = (uint8_t)history_end;
	m.ci.effective_end = history_end ? 0 : oldest;
	m.new_candles = received;
	return m;
}

static struct msg_failed
failure(const struct chunk_info *ci, enum fail_kind kind, const char *reason)
{
	struct msg_failed f;
	memset(&f, 0, sizeof(f));
	f.ci = *ci;
	f.kind = kind;
	snprintf(f.reason, sizeof(f.reason), "%s", reason);
	return f;
}

static void
test_stale_commits_change_nothing(void **state)
{
	struct chunk_info *ci = plan_lease(&p, plan_next_ready(&p, 0), 0, 0, 0);
	struct chunk_info old = *ci;
	struct msg_committed m = result(ci, 200, 1800 * M, 0);
	(void)state;
	m.ci.id = 12345; /* not ours (an earlier run's) */
	assert_int_equal(plan_on_committed(&p, &m), 0);
	m = result(&old, 200, 1800 * M, 0);
	assert_int_equal(plan_on_committed(&p, &m), 1);
	/* a twin (a hedge's answer) before the next lease: counted once */
	assert_int_equal(plan_on_committed(&p, &m), 0);
	assert_int_equal(p.t[0].requests, 1);
	assert_int_equal(p.t[0].received, 200);
	/* the next chunk is out: a late twin of the first changes nothing */
	plan_lease(&p, plan_next_ready(&p, 0), 0, 0, 0);
	assert_int_equal(plan_on_committed(&p, &m), 0);
	assert_int_equal(p.t[0].slots_done, 200);
	assert_int_equal(p.t[0].requests, 1);
	assert_int_equal(p.committed, 4);
	/* nor does a commit for a segment that is done */
	p.s[0].st = SEG_DONE;
	m = result(&p.s[0].ci, 200, 1600 * M, 0);
	assert_int_equal(plan_on_committed(&p, &m), 0);
	assert_int_equal(p.t[0].slots_done, 200);
	/* a failure for a chunk no longer out is ignored too */
	struct msg_failed f = failure(&old, FAIL_TEMP_HTTP, "HTTP 502");
	assert_int_equal(plan_on_failed(&p, &f, 0, 0), FA_IGNORED);
}

static void
test_rate_limits_retry_until_they_give_up(void **state)
{
	struct chunk_info *ci;
	struct msg_failed f;
	int i;
	(void)state;
	for (i = 0; i < PLAN_RATE_ATTEMPTS_MAX; i++) {
		ci = plan_lease(&p, plan_next_ready(&p, 0), 0, 0, 0);
		f = failure(ci, i % 2 ? FAIL_BLOCKED_418 : FAIL_RATE_429, "HTTP 429");
		assert_int_equal(plan_on_failed(&p, &f, 0, 0), FA_RETRY);
		assert_int_equal(p.s[0].st, SEG_READY); /* no back-off: the budget waits */
	}
	ci = plan_lease(&p, plan_next_ready(&p, 0), 0, 0, 0);
	f = failure(ci, FAIL_RATE_429, "HTTP 429");
	assert_int_equal(plan_on_failed(&p, &f, 0, 0), FA_GAVE_UP);
	assert_string_equal(p.t[0].reason, "gave up after 31 attempts: HTTP 429");
	assert_true(plan_finished(&p));
	assert_int_equal(p.t[0].retries, PLAN_RATE_ATTEMPTS_MAX);
}

/* A lease the fetcher reached too late comes back unsent: leased again at
 * once with a new token, and it is neither a request nor a retry nor an
 * attempt, however often it happens. */
static void
test_late_tokens_lease_again(void **state)
{
	struct chunk_info *ci;
	struct msg_failed f;
	(void)state;
	for (int i = 0; i < 3 * PLAN_RATE_ATTEMPTS_MAX; i++) {
		ci = plan_lease(&p, plan_next_ready(&p, 0), 0, 0, 0);
		f = failure(ci, FAIL_TOKEN_LATE, "rate token 40.0 ms late (at most 15); not sent");
		assert_int_equal(plan_on_failed(&p, &f, 0, 0), FA_RELEASED);
		assert_int_equal(p.s[0].st, SEG_READY);
	}
	assert_int_equal(p.late_tokens, 3 * PLAN_RATE_ATTEMPTS_MAX);
	assert_int_equal(p.t[0].requests, 0);
	assert_int_equal(p.t[0].retries, 0);
	assert_int_equal(p.retries, 0);
	assert_false(plan_finished(&p));
	/* a late answer for the chunk that went again is ignored */
	assert_int_equal(plan_on_failed(&p, &f, 0, 0), FA_IGNORED);
}

static void
test_temporary_failures_back_off_then_give_up(void **state)
{
	struct chunk_info *ci;
	struct msg_failed f;
	int64_t now = 0;
	(void)state;
	for (int i = 1; i < PLAN_TEMP_ATTEMPTS_MAX; i++) {
		ci = plan_lease(&p, 0, now, 0, 0);
		f = failure(ci, FAIL_TEMP_NET, "connection reset");
		assert_int_equal(plan_on_failed(&p, &f, now, 500), FA_RETRY);
		/* 150 ms doubling (jitter 500 of 1000: none) */
		assert_int_equal(p.s[0].until_ms - now, 150LL << (i - 1));
		assert_int_equal(plan_next_wake(&p), p.s[0].until_ms);
		assert_int_equal(plan_next_ready(&p, now), -1);
		now = p.s[0].until_ms;
		assert_int_equal(plan_next_ready(&p, now), 0);
	}
	ci = plan_lease(&p, 0, now, 0, 0);
	f = failure(ci, FAIL_TEMP_NET, "connection reset");
	assert_int_equal(plan_on_failed(&p, &f, now, 0), FA_GAVE_UP);
	assert_string_equal(p.t[0].reason, "gave up after 6 attempts: connection reset");
	assert_int_equal(plan_next_wake(&p), INT64_MAX);
	assert_true(plan_finished(&p));
}

static void
test_expired_leases_give_up(void **state)
{
	int64_t now = 0;
	(void)state;
	for (int i = 0; i < PLAN_TEMP_ATTEMPTS_MAX; i++) {
		assert_int_equal(plan_next_ready(&p, now), 0);
		plan_lease(&p, 0, now, 0, 0);
		now = p.s[0].until_ms;
		assert_int_equal(plan_expire(&p, now), 1);
	}
	assert_int_equal(p.s[0].st, SEG_FAILED);
	assert_string_equal(p.t[0].reason, "gave up after 6 expired leases");
	assert_true(plan_finished(&p));
	/* a permanent failure later keeps the first reason */
	struct chunk_info *ci = &p.s[0].ci;
	p.s[0].st = SEG_LEASED;
	struct msg_failed f = failure(ci, FAIL_PERM_REQUEST, "HTTP 400");
	assert_int_equal(plan_on_failed(&p, &f, now, 0), FA_PERMANENT);
	assert_string_equal(p.t[0].reason, "gave up after 6 expired leases");
}

static void
test_hedge_an_overdue_request(void **state)
{
	struct chunk_info *ci = plan_lease(&p, 0, 0, 0, 100);
	uint64_t id = ci->id;
	struct msg_committed m;
	(void)state;
	/* overdue after the token's delay plus PLAN_HEDGE_FLOOR_MS */
	assert_int_equal(plan_hedge(&p, 100 + PLAN_HEDGE_FLOOR_MS - 1, -1), -1);
	assert_int_equal(plan_hedge(&p, 100 + PLAN_HEDGE_FLOOR_MS, -1), 0);
	assert_int_equal(plan_hedge(&p, 150, 50), 0); /* an explicit threshold */
	ci = plan_lease(&p, 0, 700, 0, 0);
	assert_int_equal(ci->id, id);
	assert_int_equal(ci->attempt, 1);
	assert_int_equal(p.hedges, 1);
	assert_int_equal(plan_hedge(&p, 100000, -1), -1); /* one twin only */
	/* the answer took 2 s: overdue is now four times that */
	m = result(ci, 200, 1800 * M, 0);
	m.ci.api_ms = 2000;
	assert_int_equal(plan_on_committed(&p, &m), 1);
	assert_non_null(plan_lease(&p, plan_next_ready(&p, 0), 10000, 0, 0));
	assert_int_equal(plan_hedge(&p, 10000 + 7999, -1), -1);
	assert_int_equal(plan_hedge(&p, 10000 + 8000, -1), 0);
	assert_true(p.api_ms > 1999 && p.api_ms < 2001);
}

static void
test_a_seam_proven_from_above(void **state)
{
	struct chunk_info *ci = plan_lease(&p, 0, 0, 0, 0);
	struct msg_committed m;
	int lower = plan_split(&p);
	(void)state;
	assert_int_equal(lower, 1);
	assert_int_equal(p.s[1].cursor, 1000 * M);
	/* a sparse answer reaches through the seam and below the lower part's
	 * cursor: the lower segment starts where the proof ends */
	m = result(ci, 200, 900 * M, 0);
	assert_int_equal(plan_on_committed(&p, &m), 1);
	assert_int_equal(p.s[0].st, SEG_DONE);
	assert_int_equal(plan_next_ready(&p, 0), 1);
	assert_int_equal(p.s[1].cursor, 900 * M);
	/* the lower part's answer ends history: the target is proven */
	ci = plan_lease(&p, 1, 0, 0, 0);
	m = result(ci, 10, 890 * M, 1);
	assert_int_equal(plan_on_committed(&p, &m), 1);
	assert_true(plan_finished(&p));
	assert_int_equal(p.t[0].slots_done, 2000);
}

static void
test_history_end_finishes_lower_segments(void **state)
{
	struct chunk_info *ci = plan_lease(&p, 0, 0, 0, 0);
	struct msg_committed m;
	(void)state;
	assert_int_equal(plan_split(&p), 1);
	/* the upper part's answer is short: nothing exists below it */
	m = result(ci, 50, 1950 * M, 1);
	assert_int_equal(plan_on_committed(&p, &m), 1);
	assert_int_equal(p.s[1].st, SEG_DONE);
	assert_true(plan_finished(&p));
	assert_int_equal(p.t[0].slots_done, 2000);
}

static void
test_a_whole_segment_proven_by_another(void **state)
{
	struct range_list none = { 0 };
	struct chunk_info *ci;
	struct msg_committed m;
	(void)state;
	plan_free(&p);
	plan_init(&p, 4);
	plan_add_target(&p, "KRW-ETH", TF_1M, 0, 2000 * M, &none);
	ci = plan_lease(&p, 0, 0, 0, 0);
	assert_int_equal(plan_split(&p), 1);
	/* very sparse: 200 candles span the whole range, yet history goes on */
	m = result(ci, 200, 0, 0);
	m.ci.effective_end = -5 * M; /* clipped to the target's start */
	assert_int_equal(plan_on_committed(&p, &m), 1);
	assert_int_equal(plan_next_ready(&p, 0), -1);
	assert_true(plan_finished(&p));
	assert_int_equal(p.t[0].slots_done, 2000);
}

static void
test_follow_extends_and_reuses_entries(void **state)
{
	struct chunk_info *ci = plan_lease(&p, 0, 0, 0, 0);
	struct msg_committed m = result(ci, 100, 1900 * M, 1);
	int ns;
	(void)state;
	assert_int_equal(plan_on_committed(&p, &m), 1);
	assert_true(plan_finished(&p));
	ns = p.ns;
	plan_extend(&p, 0, 2000 * M); /* not later: nothing to do */
	assert_true(plan_finished(&p));
	plan_extend(&p, 0, 2001 * M);
	assert_int_equal(p.ns, ns); /* the finished entry is reused */
	assert_int_equal(p.t[0].to, 2001 * M);
	assert_int_equal(p.t[0].slots_total, 2001);
	assert_int_equal(plan_next_ready(&p, 0), 0);
	ci = plan_lease(&p, 0, 0, 0, 0);
	assert_int_equal(ci->to, 2001 * M);
	assert_int_equal(ci->count, 1);
}

static void
test_an_expired_hedged_lease_can_be_hedged_again(void **state)
{
	(void)state;
	plan_lease(&p, 0, 0, 0, 0);
	assert_int_equal(plan_hedge(&p, PLAN_HEDGE_FLOOR_MS, -1), 0);
	plan_lease(&p, 0, PLAN_HEDGE_FLOOR_MS, 0, 0); /* the twin */
	assert_int_equal(p.s[0].hedged, 1);
	/* both copies vanish: the lease expires and is issued again */
	assert_int_equal(plan_expire(&p, p.s[0].until_ms), 1);
	assert_int_equal(plan_next_ready(&p, p.s[0].until_ms), 0);
	plan_lease(&p, 0, 100000, 0, 0);
	/* the re-issued lease is overdue in its turn: it may be raced again */
	assert_int_equal(plan_hedge(&p, 100000 + PLAN_HEDGE_FLOOR_MS, -1), 0);
}

static void
test_a_delisted_market_fails_all_its_ranges_once(void **state)
{
	struct range_list none = { 0 };
	struct chunk_info *ci;
	struct msg_committed m;
	struct msg_failed f;
	int eth, btc1s;
	(void)state;
	btc1s = plan_add_target(&p, "KRW-BTC", TF_1S, 0, 5000, &none);
	eth = plan_add_target(&p, "KRW-ETH", TF_1M, 0, 2000 * M, &none);
	/* KRW-BTC answers once, then is delisted */
	ci = plan_lease(&p, 0, 0, 0, 0);
	m = result(ci, 200, 1800 * M, 0);
	assert_int_equal(plan_on_committed(&p, &m), 1);
	ci = plan_lease(&p, 0, 0, 0, 0);
	f = failure(ci, FAIL_PERM_MARKET, "unknown market KRW-BTC (404 Code not found)");
	plan_lease(&p, 1, 0, 0, 0); /* the 1s target has a chunk out too */
	assert_int_equal(plan_on_failed(&p, &f, 0, 0), FA_DELISTED);
	assert_string_equal(p.t[0].reason, PLAN_DELISTED);
	assert_string_equal(p.t[btc1s].reason, PLAN_DELISTED);
	assert_true(p.t[0].failed && p.t[btc1s].failed && !p.t[eth].failed);
	/* its other chunk's 404 is not reported again */
	f = failure(&p.s[1].ci, FAIL_PERM_MARKET, "unknown market KRW-BTC (404 Code not found)");
	assert_int_equal(plan_on_failed(&p, &f, 0, 0), FA_IGNORED);
	/* what was proven stays; the other market carries on */
	assert_int_equal(p.t[0].slots_done, 200);
	assert_int_equal(p.s[plan_next_ready(&p, 0)].target, eth);
	/* a market that never answered is unknown, not delisted */
	ci = plan_lease(&p, 2, 0, 0, 0);
	f = failure(ci, FAIL_PERM_MARKET, "unknown market KRW-ETH (404 Code not found)");
	assert_int_equal(plan_on_failed(&p, &f, 0, 0), FA_PERMANENT);
	assert_string_equal(p.t[eth].reason, "unknown market KRW-ETH (404 Code not found)");
	assert_true(plan_finished(&p));
}

static void
test_a_market_in_the_ledger_is_delisted_at_its_first_404(void **state)
{
	struct range_list cov = { 0 };
	struct chunk_info *ci;
	struct msg_failed f;
	int t;
	(void)state;
	range_list_push(&cov, 0, 100 * M);
	t = plan_add_target(&p, "KRW-XRP", TF_1M, 0, 2000 * M, &cov);
	range_list_free(&cov);
	ci = plan_lease(&p, 1, 0, 0, 0);
	assert_int_equal(p.s[1].target, t);
	f = failure(ci, FAIL_PERM_MARKET, "unknown market KRW-XRP (404 Code not found)");
	assert_int_equal(plan_on_failed(&p, &f, 0, 0), FA_DELISTED);
	assert_string_equal(p.t[t].reason, PLAN_DELISTED);
}

static void
test_each_answer_belongs_to_the_source_it_was_leased_to(void **state)
{
	struct chunk_info first, *ci = plan_lease(&p, 0, 0, 0, 0);
	(void)state;
	assert_int_equal(plan_source_of(&p, ci), -1);
	plan_note_source(&p, 0, 2);
	first = *ci;
	assert_int_equal(plan_source_of(&p, &first), 2);
	/* a hedge's twin goes to source 5: each copy's answer is its own */
	ci = plan_lease(&p, 0, 5000, 0, 0);
	plan_note_source(&p, 0, 5);
	assert_int_equal(plan_source_of(&p, ci), 5);
	assert_int_equal(plan_source_of(&p, &first), 2);
	first.id++;
	assert_int_equal(plan_source_of(&p, &first), -1);
}

/* Follow mode at wall clock now_ms: where the target of tf ends. */
static int64_t
followed_to(enum tf tf, int64_t to, int64_t now_ms, int64_t delay_ms)
{
	struct range_list all = { 0 };
	struct plan q;
	int64_t end;

	range_list_push(&all, 0, to);
	plan_init(&q, 4);
	plan_add_target(&q, "KRW-BTC", tf, 0, to, &all);
	range_list_free(&all);
	follow_tick_at(&q, delay_ms, now_ms);
	end = q.t[0].to;
	plan_free(&q);
	return end;
}

static void
test_follow_targets_the_newest_closed_candle_of_every_timeframe(void **state)
{
	const int64_t day = 20000 * 86400LL; /* a UTC midnight */
	(void)state;
	/* 1s with a 1 s delay: the second [t-1, t) closes at t, due at t + 1 */
	assert_int_equal(followed_to(TF_1S, day, (day + 1) * 1000 + 999, 1000), day);
	assert_int_equal(followed_to(TF_1S, day, (day + 2) * 1000, 1000), day + 1);
	assert_int_equal(followed_to(TF_1S, day, (day + 9) * 1000 + 500, 1000), day + 8);
	/* a timeframe shorter than the delay */
	assert_int_equal(followed_to(TF_1S, day, (day + 9) * 1000, 3000), day + 6);
	/* 1m: never the minute still forming, fetched delay after its close */
	assert_int_equal(followed_to(TF_1M, day, (day + 60) * 1000 + 999, 1000), day);
	assert_int_equal(followed_to(TF_1M, day, (day + 61) * 1000, 1000), day + 60);
	assert_int_equal(followed_to(TF_1M, day, (day + 119) * 1000, 1000), day + 60);
	/* 1d: the day is due one delay after midnight */
	assert_int_equal(followed_to(TF_1D, day, (day + 86400) * 1000 + 999, 1000), day);
	assert_int_equal(followed_to(TF_1D, day, (day + 86401) * 1000, 1000), day + 86400);
	/* the next due time: the next close plus the delay */
	{
		struct range_list all = { 0 };
		struct plan q;
		range_list_push(&all, 0, day);
		plan_init(&q, 5);
		plan_add_target(&q, "KRW-BTC", TF_1M, 0, day, &all);
		plan_add_target(&q, "KRW-BTC", TF_1D, 0, day, &all);
		range_list_free(&all);
		assert_int_equal(follow_next_ms(&q, 1000, day * 1000 + 5000),
		                 (day + 60) * 1000 + 1000);
		q.t[0].failed = 1; /* a dropped target is not waited for */
		assert_int_equal(follow_next_ms(&q, 1000, day * 1000 + 5000),
		                 (day + 86400) * 1000 + 1000);
		plan_free(&q);
	}
}

static void
walk_set(int st)
{
	p.s[0].st = (enum seg_state)st;
	p.s[0].hedged = 1;
}

static int
walk_step(int ev)
{
	return plan_seg_step(&p, &p.s[0], (enum seg_event)ev);
}

static int
walk_get(void)
{
	return (int)p.s[0].st;
}

static uint64_t
walk_impossible(void)
{
	return p.impossible;
}

/* `hedged` holds only while LEASED: a lease that expired, failed or was
 * answered can be hedged again when it goes out anew. */
static void
walk_check(int from, int to)
{
	(void)from;
	assert_int_equal(p.s[0].hedged, to == SEG_LEASED);
}

static void
test_every_cell_of_the_segment_table(void **state)
{
	/* clang-format off */
	static const char *const want[SEG_NSTATES * SEG_NEVENTS] = {
		/*            lease     wake     committed exhausted history_end
		 *            retry     backoff  give_up   expire    target_failed */
		/* READY */  "LEASED", "-",     "READY",  "DONE",   "DONE",
		             "-",      "-",     "-",      "-",      "FAILED",
		/* LEASED */ "LEASED", "-",     "READY",  "-",      "DONE",
		             "READY",  "WAIT",  "FAILED", "READY",  "FAILED",
		/* WAIT */   "-",      "READY", "READY",  "DONE",   "DONE",
		             "-",      "-",     "-",      "-",      "FAILED",
		/* DONE */   "-",      "-",     "-",      "-",      "DONE",
		             "-",      "-",     "-",      "-",      "DONE",
		/* FAILED */ "-",      "-",     "-",      "-",      "FAILED",
		             "-",      "-",     "-",      "-",      "FAILED",
	};
	/* clang-format on */
	const struct fsm_walk w = { &plan_seg_fsm,   want,      walk_set, walk_step, walk_get,
		                    walk_impossible, walk_check };
	(void)state;
	assert_int_equal(fsm_walk(&w), SEG_NSTATES * SEG_NEVENTS);
	assert_int_equal(p.impossible, 28);
	p.impossible = 0;
}

/* A lease of a finished segment is a caller's bug: counted, logged, and the
 * segment stays DONE. */
static void
test_a_lease_of_a_done_segment_is_impossible(void **state)
{
	(void)state;
	p.s[0].st = SEG_DONE;
	cap_begin();
	plan_lease(&p, 0, 0, 0, 0);
	assert_logged(cap_end(NULL), "segment: event lease impossible in state DONE");
	assert_int_equal(p.s[0].st, SEG_DONE);
	assert_int_equal(p.impossible, 1);
	p.impossible = 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stale_commits_change_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_limits_retry_until_they_give_up, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_late_tokens_lease_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_temporary_failures_back_off_then_give_up,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_expired_leases_give_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hedge_an_overdue_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_seam_proven_from_above, setup, teardown),
		cmocka_unit_test_setup_teardown(test_history_end_finishes_lower_segments, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_a_whole_segment_proven_by_another, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_follow_extends_and_reuses_entries, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_an_expired_hedged_lease_can_be_hedged_again,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_delisted_market_fails_all_its_ranges_once,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_market_in_the_ledger_is_delisted_at_its_first_404, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_each_answer_belongs_to_the_source_it_was_leased_to, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_follow_targets_the_newest_closed_candle_of_every_timeframe, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_every_cell_of_the_segment_table, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_a_lease_of_a_done_segment_is_impossible, setup,
		                                teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
