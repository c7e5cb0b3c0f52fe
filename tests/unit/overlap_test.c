/* overlap_test: every overlap status on golden inputs, and the segment
 * planner's cursor walk, seams and failures (planner/overlap.c, plan.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "overlap.h"
#include "plan.h"
#include "tf.h"

#define M 60 /* one minute */

static struct range_list
ranges(int n, const int64_t *v)
{
	struct range_list l = { 0 };
	for (int i = 0; i < n; i++)
		range_list_push(&l, v[2 * i], v[2 * i + 1]);
	return l;
}

static void
check(int n, const int64_t *cov, int64_t wf, int64_t wt, enum overlap want, int64_t cf, int64_t ct)
{
	struct range_list l = ranges(n, cov);
	struct range r;
	enum overlap got = overlap_analyze(&l, wf, wt, &r);
	assert_string_equal(overlap_names[got], overlap_names[want]);
	assert_int_equal(r.from, cf);
	assert_int_equal(r.to, ct);
	range_list_free(&l);
}

static void
test_statuses(void **state)
{
	(void)state;
	/* window [1000, 2000) */
	check(0, NULL, 1000, 2000, OV_NO_OVERLAP, 1000, 1000);
	check(1, (int64_t[]){ 0, 500 }, 1000, 2000, OV_NO_OVERLAP, 1000, 1000);
	check(1, (int64_t[]){ 2000, 3000 }, 1000, 2000, OV_NO_OVERLAP, 1000, 1000);
	check(1, (int64_t[]){ 0, 3000 }, 1000, 2000, OV_COMPLETE_OVERLAP, 1000, 2000);
	check(1, (int64_t[]){ 1000, 2000 }, 1000, 2000, OV_COMPLETE_OVERLAP, 1000, 2000);
	check(1, (int64_t[]){ 1500, 2500 }, 1000, 2000, OV_PARTIAL_START, 1500, 2000);
	check(2, (int64_t[]){ 1100, 1200, 1500, 2500 }, 1000, 2000, OV_PARTIAL_START, 1500, 2000);
	check(1, (int64_t[]){ 500, 1500 }, 1000, 2000, OV_PARTIAL_MIDDLE_CONTINUOUS, 1000, 1500);
	check(1, (int64_t[]){ 1200, 1500 }, 1000, 2000, OV_PARTIAL_MIDDLE_FRAGMENT, 1200, 1500);
	check(2, (int64_t[]){ 1000, 1100, 1200, 1500 }, 1000, 2000, OV_PARTIAL_MIDDLE_FRAGMENT,
	      1200, 1500);
	/* the original's edge case: COMPLETE_OVERLAP with no end in the DB is
	 * an empty window here, and still reports a real range */
	check(0, NULL, 1000, 1000, OV_COMPLETE_OVERLAP, 1000, 1000);
}

static void
test_missing_only(void **state)
{
	struct plan p;
	struct range_list cov = ranges(2, (int64_t[]){ 100 * M, 200 * M, 300 * M, 400 * M });
	(void)state;
	plan_init(&p, 7);
	plan_add_target(&p, "KRW-BTC", TF_1M, 0, 500 * M, &cov);
	/* three holes: [400,500), [200,300), [0,100), newest first */
	assert_int_equal(p.ns, 3);
	assert_int_equal(p.s[0].cursor, 500 * M);
	assert_int_equal(p.s[0].lo, 400 * M);
	assert_int_equal(p.s[1].cursor, 300 * M);
	assert_int_equal(p.s[2].lo, 0);
	assert_int_equal(p.t[0].slots_total, 500);
	assert_int_equal(p.t[0].slots_hit, 200);
	range_list_free(&cov);
	plan_free(&p);
}

static void
commit(struct plan *p, const struct chunk_info *ci, uint16_t received, int64_t oldest,
       int history_end)
{
	struct msg_committed m;
	memset(&m, 0, sizeof(m));
	m.ci = *ci;
	m.ci.received = received;
	m.ci.oldest = oldest;
	m.ci.history_end = (uint8_t)history_end;
	m.ci.effective_end = history_end ? 0 : oldest;
	m.new_candles = received;
	assert_int_equal(plan_on_committed(p, &m), 1);
}

static void
test_cursor_walk_sparse(void **state)
{
	struct plan p;
	struct range_list none = { 0 };
	struct chunk_info *ci;
	int s;
	(void)state;
	plan_init(&p, 1);
	plan_add_target(&p, "KRW-BTC", TF_1M, 0, 1000 * M, &none);
	s = plan_next_ready(&p, 0);
	assert_int_equal(s, 0);
	ci = plan_lease(&p, s, 0, 0, 0);
	assert_int_equal(ci->to, 1000 * M);
	assert_int_equal(ci->count, 200);
	assert_string_equal(overlap_names[ci->overlap], "NO_OVERLAP");
	/* half the minutes empty: 200 candles span 400 slots */
	commit(&p, ci, 200, 600 * M, 0);
	assert_int_equal(p.s[0].cursor, 600 * M);
	assert_int_equal(p.t[0].slots_done, 400);
	ci = plan_lease(&p, plan_next_ready(&p, 0), 0, 0, 0);
	assert_int_equal(ci->to, 600 * M);
	commit(&p, ci, 200, 200 * M, 0);
	ci = plan_lease(&p, plan_next_ready(&p, 0), 0, 0, 0);
	assert_int_equal(ci->to, 200 * M);
	assert_int_equal(ci->count, 200);
	/* the market was listed at 150: a short answer ends history */
	commit(&p, ci, 25, 150 * M, 1);
	assert_true(plan_finished(&p));
	assert_int_equal(p.t[0].slots_done, 1000);
	range_list_free(&none);
	plan_free(&p);
}

static void
test_split_and_failures(void **state)
{
	struct plan p;
	struct range_list none = { 0 };
	struct chunk_info *ci;
	struct msg_failed f;
	int n;
	(void)state;
	plan_init(&p, 1);
	plan_add_target(&p, "KRW-ETH", TF_1M, 0, 2000 * M, &none);
	ci = plan_lease(&p, plan_next_ready(&p, 0), 0, 0, 0);
	assert_int_equal(plan_next_ready(&p, 0), -1);
	n = plan_split(&p);
	assert_int_equal(n, 1);
	/* the upper part keeps whole requests: 800 slots below the chunk out */
	assert_int_equal(p.s[0].lo, 1000 * M);
	assert_int_equal(p.s[1].cursor, 1000 * M);
	assert_int_equal(p.s[1].lo, 0);
	/* a temporary failure waits, then goes again with the same id */
	memset(&f, 0, sizeof(f));
	f.ci = *ci;
	f.kind = FAIL_TEMP_HTTP;
	strcpy(f.reason, "HTTP 502");
	uint64_t id = ci->id;
	assert_int_equal(plan_on_failed(&p, &f, 0, 0), FA_RETRY);
	assert_int_equal(p.s[0].st, SEG_WAIT);
	assert_int_equal(plan_next_ready(&p, 0), 1); /* the other one is ready */
	assert_int_equal(plan_next_ready(&p, 100000), 0);
	ci = plan_lease(&p, 0, 100000, 0, 0);
	assert_int_equal(ci->id, id);
	assert_int_equal(ci->attempt, 1);
	/* a stale failure is ignored; a permanent one fails the target */
	f.kind = FAIL_PERM_MARKET;
	strcpy(f.reason, "unknown market KRW-ETH (404 Code not found)");
	f.ci = *ci;
	assert_int_equal(plan_on_failed(&p, &f, 0, 0), FA_PERMANENT);
	assert_true(p.t[0].failed);
	assert_true(plan_finished(&p));
	range_list_free(&none);
	plan_free(&p);
}

static void
test_lease_expiry(void **state)
{
	struct plan p;
	struct range_list none = { 0 };
	(void)state;
	plan_init(&p, 1);
	plan_add_target(&p, "KRW-XRP", TF_1D, 0, 10 * 86400, &none);
	plan_lease(&p, plan_next_ready(&p, 0), 0, 0, 0);
	assert_int_equal(plan_expire(&p, 1000), 0);
	assert_int_equal(plan_expire(&p, PLAN_LEASE_BASE_MS + 1001), 1);
	assert_int_equal(p.s[0].st, SEG_READY);
	range_list_free(&none);
	plan_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_statuses),
		cmocka_unit_test(test_missing_only),
		cmocka_unit_test(test_cursor_walk_sparse),
		cmocka_unit_test(test_split_and_failures),
		cmocka_unit_test(test_lease_expiry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
