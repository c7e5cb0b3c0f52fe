/* budget_test: the per-source rate budget (planner/budget.c): spacing that
 * keeps any one-second window at the limit, 429 slow-down, 418 blocks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "budget.h"

/* Takes n tokens as early as allowed; returns the time of the last. */
static int64_t
take_n(struct budget *b, int64_t now, int n, int64_t *times)
{
	int64_t t = now;
	for (int i = 0; i < n; i++) {
		t = budget_next(b, t);
		budget_take(b, t);
		if (times != NULL)
			times[i] = t;
	}
	return t;
}

static void
test_spacing_never_exceeds_the_window(void **state)
{
	struct budget b;
	int64_t t[200];
	(void)state;
	budget_init(&b, "default", 10);
	take_n(&b, 1000, 200, t);
	/* any 11 consecutive sends span more than one second: at most 10 in
	 * any window of 1000 ms, fixed or sliding */
	for (int i = 10; i < 200; i++)
		assert_true(t[i] - t[i - 10] >= 1000 + BUDGET_MARGIN_MS - 1);
	/* and the rate is within 2% of the limit */
	assert_true(t[199] - t[0] <= 199 * 1000 / 10 * 102 / 100);
}

static void
test_unlimited(void **state)
{
	struct budget b;
	(void)state;
	budget_init(&b, "x", 0);
	assert_int_equal(take_n(&b, 5, 100, NULL), 5);
}

static void
test_429_slows_down_then_recovers(void **state)
{
	struct budget b;
	double base;
	(void)state;
	budget_init(&b, "x", 10);
	base = b.interval_ms;
	budget_on_429(&b, 0);
	assert_true(b.interval_ms > base * 1.09 && b.interval_ms < base * 1.11);
	budget_on_429(&b, 10); /* repeated: the rate to two thirds */
	assert_true(b.interval_ms > base * 1.1 * 1.49 && b.interval_ms < base * 1.1 * 1.51);
	/* after the slow-down period the configured spacing returns */
	budget_take(&b, BUDGET_SLOW_MS + 100);
	assert_true(b.interval_ms == base);
	/* "unlimited" meeting a 429 takes Upbit's limit */
	budget_init(&b, "y", 0);
	budget_on_429(&b, 0);
	assert_true(b.rate == BUDGET_UPBIT_RATE);
}

static void
test_429s_in_a_row_never_go_below_one_per_second(void **state)
{
	struct budget b;
	(void)state;
	budget_init(&b, "x", 10000);
	for (int i = 0; i < 40; i++)
		budget_on_429(&b, i);
	assert_true(b.interval_ms == BUDGET_SLOWEST_MS);
	assert_true(budget_rate_now(&b, 40) > 0.99 && budget_rate_now(&b, 40) < 1.01);
	assert_int_equal(b.n429, 40);
}

static void
test_418_on_an_unlimited_source(void **state)
{
	struct budget b;
	(void)state;
	budget_init(&b, "x", 0);
	assert_int_equal(budget_on_418(&b, 0, 5000), 5000);
	/* blocked for the server's time, then at most Upbit's limit */
	assert_true(b.rate == BUDGET_UPBIT_RATE);
	assert_true(budget_next(&b, 0) >= 5000);
}

static void
test_418_blocks_and_caps(void **state)
{
	struct budget b;
	(void)state;
	budget_init(&b, "x", 300);
	assert_int_equal(budget_on_418(&b, 1000, 2000), 2000);
	/* nothing before the block is over */
	assert_true(budget_next(&b, 1500) >= 3000);
	/* never again above Upbit's limit, and still slow after the block */
	assert_true(b.rate == BUDGET_UPBIT_RATE);
	assert_true(b.slow_until_ms > b.blocked_until_ms);
	/* unknown block time: 30 s, doubling */
	budget_init(&b, "y", 10);
	assert_int_equal(budget_on_418(&b, 0, 0), 30000);
	assert_int_equal(budget_on_418(&b, 0, 0), 60000);
	assert_true(budget_rate_now(&b, 1000) == 0);
}

static void
test_a_65th_source_is_refused_not_shared(void **state)
{
	static struct budget v[BUDGET_SOURCES_MAX];
	char name[32];
	int n = 0;
	(void)state;
	for (int i = 0; i < BUDGET_SOURCES_MAX; i++) {
		snprintf(name, sizeof(name), "10.0.0.%d", i);
		assert_int_equal(budget_lookup(v, &n, name, 10), i);
	}
	assert_int_equal(budget_lookup(v, &n, "10.0.0.7", 10), 7); /* known */
	assert_int_equal(budget_lookup(v, &n, "10.0.1.0", 10), -1);
	assert_int_equal(n, BUDGET_SOURCES_MAX);
	assert_int_equal(budget_find(v, n, "10.0.1.0"), -1);
	assert_int_equal(budget_find(v, n, "10.0.0.63"), 63);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spacing_never_exceeds_the_window),
		cmocka_unit_test(test_unlimited),
		cmocka_unit_test(test_429_slows_down_then_recovers),
		cmocka_unit_test(test_429s_in_a_row_never_go_below_one_per_second),
		cmocka_unit_test(test_418_on_an_unlimited_source),
		cmocka_unit_test(test_418_blocks_and_caps),
		cmocka_unit_test(test_a_65th_source_is_refused_not_shared),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
