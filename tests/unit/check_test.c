/*
 * check_test.c: the writer's check of a RESULT's coverage proof
 * (writer/check.c): a result shaped as the fetcher makes it passes, full
 * or short (history ends), with candles or none; each broken rule is caught
 * by name; the refusal is a temporary FAILED naming the rule, with one log
 * line naming market, timeframe and range. Also the shared grid predicate
 * tf_aligned (common/tf.c) that the check and verify use.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "capture.h"
#include "check.h"
#include "log.h"
#include "result.h"
#include "tf.h"

#define MIN 60
#define T0 1704067200LL /* 2024-01-01T00:00:00Z, a Monday */

static struct candle cbuf[CANDLE_MAX_PER_RESPONSE];

/* n of count 1m candles before to, as the fetcher makes them (result.h). */
static void
make(struct msg_result *r, int64_t to, int n, int count)
{
	result_make(r, cbuf, to, n, count);
}

static enum check_rule
check(const struct msg_result *r)
{
	char why[REASON_MAX];
	enum check_rule rule = check_result(r, why, sizeof(why));

	assert_true(rule == CHECK_OK || why[0] != '\0');
	return rule;
}

static void
test_valid_results_pass(void **state)
{
	struct msg_result r;

	(void)state;
	make(&r, T0 + 200 * MIN, 200, 200); /* full */
	assert_int_equal(check(&r), CHECK_OK);
	make(&r, T0 + 200 * MIN, 3, 200); /* short: history ends */
	assert_int_equal(check(&r), CHECK_OK);
	make(&r, T0 + 200 * MIN, 0, 17); /* nothing at all before to */
	assert_int_equal(check(&r), CHECK_OK);
	/* a sparse market: Upbit skips slots without trades */
	make(&r, T0 + 200 * MIN, 2, 2);
	cbuf[1].start = T0 - 300 * MIN;
	r.ci.oldest = r.ci.effective_end = cbuf[1].start;
	assert_int_equal(check(&r), CHECK_OK);
	/* a month timeframe: calendar slots */
	make(&r, T0, 2, 2);
	r.ci.tf = TF_1MO;
	cbuf[0].start = T0 - 31 * 86400;        /* 2023-12-01 */
	cbuf[1].start = T0 - (31 + 30) * 86400; /* 2023-11-01 */
	r.ci.newest = cbuf[0].start;
	r.ci.oldest = r.ci.effective_end = cbuf[1].start;
	assert_int_equal(check(&r), CHECK_OK);
}

static void
test_timeframe_and_received(void **state)
{
	struct msg_result r;

	(void)state;
	make(&r, T0 + 10 * MIN, 3, 3);
	r.ci.tf = TF_COUNT;
	assert_int_equal(check(&r), CHECK_TIMEFRAME);
	make(&r, T0 + 10 * MIN, 3, 3);
	r.ci.received = 2; /* fewer claimed than carried */
	assert_int_equal(check(&r), CHECK_RECEIVED);
	make(&r, T0 + 10 * MIN, 3, 3);
	r.ncandles = 2; /* more claimed than carried */
	assert_int_equal(check(&r), CHECK_RECEIVED);
	make(&r, T0 + 10 * MIN, 3, 3);
	r.ci.count = 2; /* more than asked for */
	assert_int_equal(check(&r), CHECK_RECEIVED);
	make(&r, T0 + 10 * MIN, 3, 3);
	r.candles = NULL;
	assert_int_equal(check(&r), CHECK_RECEIVED);
}

static void
test_candles_in_range_on_grid_in_order(void **state)
{
	struct msg_result r;

	(void)state;
	make(&r, T0 + 10 * MIN, 3, 3);
	cbuf[0].start = T0 + 10 * MIN; /* at to: outside [0, to) */
	r.ci.newest = cbuf[0].start;
	assert_int_equal(check(&r), CHECK_RANGE);
	make(&r, T0 + 10 * MIN, 3, 3);
	cbuf[2].start = -MIN; /* before the epoch */
	r.ci.oldest = r.ci.effective_end = -MIN;
	assert_int_equal(check(&r), CHECK_RANGE);
	make(&r, T0 + 10 * MIN, 3, 3);
	cbuf[1].start += 30; /* half a slot off */
	assert_int_equal(check(&r), CHECK_GRID);
	make(&r, T0 + 10 * MIN, 3, 3);
	cbuf[1].start = cbuf[0].start; /* a duplicate */
	assert_int_equal(check(&r), CHECK_ORDER);
	make(&r, T0 + 10 * MIN, 3, 3);
	cbuf[0].start -= 3 * MIN; /* older than the candle after it */
	assert_int_equal(check(&r), CHECK_ORDER);
}

static void
test_summary_follows_the_candles(void **state)
{
	struct msg_result r;

	(void)state;
	make(&r, T0 + 10 * MIN, 3, 3);
	r.ci.newest -= MIN;
	assert_int_equal(check(&r), CHECK_ENDS);
	make(&r, T0 + 10 * MIN, 3, 3);
	r.ci.oldest -= MIN;
	r.ci.effective_end = r.ci.oldest;
	assert_int_equal(check(&r), CHECK_ENDS);
	make(&r, T0 + 10 * MIN, 0, 3);
	r.ci.oldest = T0; /* no candles, yet an oldest */
	assert_int_equal(check(&r), CHECK_ENDS);
	/* history ends with as many candles as asked: [0, to) proven by nothing */
	make(&r, T0 + 10 * MIN, 3, 3);
	r.ci.history_end = 1;
	r.ci.effective_end = 0;
	assert_int_equal(check(&r), CHECK_HISTORY_END);
	/* fewer came, yet no history end */
	make(&r, T0 + 10 * MIN, 2, 3);
	r.ci.history_end = 0;
	r.ci.effective_end = r.ci.oldest;
	assert_int_equal(check(&r), CHECK_HISTORY_END);
	/* none came and no history end: would prove [0, to) */
	make(&r, T0 + 10 * MIN, 0, 3);
	r.ci.history_end = 0;
	assert_int_equal(check(&r), CHECK_HISTORY_END);
	/* a proof reaching below the oldest candle */
	make(&r, T0 + 10 * MIN, 3, 3);
	r.ci.effective_end -= 100 * MIN;
	assert_int_equal(check(&r), CHECK_EFFECTIVE_END);
	/* or stopping above it (harmless, but not what the fetcher computes) */
	make(&r, T0 + 10 * MIN, 3, 3);
	r.ci.effective_end += MIN;
	assert_int_equal(check(&r), CHECK_EFFECTIVE_END);
	make(&r, T0 + 10 * MIN, 2, 3);
	r.ci.effective_end = r.ci.oldest; /* history ends: it is 0 */
	assert_int_equal(check(&r), CHECK_EFFECTIVE_END);
}

static void
test_refusal(void **state)
{
	struct msg_result r;
	struct msg_failed f;
	char why[REASON_MAX];
	const char *err;
	enum check_rule rule;

	(void)state;
	make(&r, T0 + 200 * MIN, 200, 200);
	r.ci.history_end = 1;
	r.ci.effective_end = 0;
	rule = check_result(&r, why, sizeof(why));
	assert_int_equal(rule, CHECK_HISTORY_END);
	cap_begin();
	check_refusal(&r, rule, why, &f);
	err = cap_end(NULL);
	assert_non_null(strstr(err, "KRW-BTC 1m [1970-01-01T00:00:00, 2024-01-01T03:20:00)"));
	assert_non_null(strstr(err, "rule history_end broken"));
	assert_non_null(strstr(err, "handed back to the planner as failed"));
	assert_int_equal(f.kind, FAIL_TEMP_BODY);
	assert_int_equal(f.ci.id, T0 + 200 * MIN);
	assert_int_equal(f.ci.to, T0 + 200 * MIN);
	assert_string_equal(f.source, "writer");
	assert_non_null(strstr(f.reason, "writer check: history_end: "));
	assert_string_equal(check_rule_names[CHECK_EFFECTIVE_END], "effective_end");
}

static void
test_tf_aligned(void **state)
{
	(void)state;
	assert_true(tf_aligned(TF_1M, T0));
	assert_false(tf_aligned(TF_1M, T0 + 1));
	assert_true(tf_aligned(TF_1W, T0));          /* a Monday */
	assert_false(tf_aligned(TF_1W, T0 + 86400)); /* a Tuesday */
	assert_true(tf_aligned(TF_1MO, T0 - 31 * 86400));
	assert_false(tf_aligned(TF_1MO, T0 - 30 * 86400));
	assert_true(tf_aligned(TF_1Y, T0));
	assert_false(tf_aligned(TF_1Y, T0 - 31 * 86400));
	assert_true(tf_aligned(TF_1S, T0 + 1));
	assert_false(tf_aligned(TF_COUNT, T0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_results_pass),
		cmocka_unit_test(test_timeframe_and_received),
		cmocka_unit_test(test_candles_in_range_on_grid_in_order),
		cmocka_unit_test(test_summary_follows_the_candles),
		cmocka_unit_test(test_refusal),
		cmocka_unit_test(test_tf_aligned),
	};

	log_init("check_test", 0);
	return cmocka_run_group_tests_name("check", tests, NULL, NULL);
}
