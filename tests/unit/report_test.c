/* report_test: the request rate the planner shows (planner/report.c). It is
 * counted from the sends' scheduled times, so it never shows more than the
 * budget let through: "n/a" until a second has passed, then the sends of
 * the last second, and at the end the sends per one-second window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "report.h"

static struct run_stats r;

static const char *
rate(int64_t now, int final)
{
	static char buf[32];
	report_rate_text(&r, now, final, buf, sizeof(buf));
	return buf;
}

static void
test_one_request_is_not_a_rate(void **state)
{
	(void)state;
	memset(&r, 0, sizeof(r));
	assert_string_equal(rate(0, 0), "n/a");
	report_note_send(&r, 5000);
	/* 95 ms after the one request: not "10.5 req/s" */
	assert_string_equal(rate(5095, 0), "n/a");
	assert_string_equal(rate(5095, 1), "n/a");
	assert_string_equal(rate(6000, 0), "0"); /* none in the last second */
	assert_string_equal(rate(6000, 1), "1.0");
}

static void
test_the_rate_never_exceeds_the_budget(void **state)
{
	(void)state;
	memset(&r, 0, sizeof(r));
	/* the budget's even spacing at 10 req/s: 101.5 ms */
	for (int i = 0; i < 31; i++)
		report_note_send(&r, 1000 + (int64_t)(i * 101.5));
	/* 11 requests within 1.015 s: the average would say 10.8 */
	for (int64_t now = 2015; now <= 5000; now += 7) {
		int live = atoi(rate(now, 0));
		assert_true(live <= 10);
	}
	assert_string_equal(rate(5000, 1), "7.8"); /* 31 sends in 4 windows of 1 s */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_request_is_not_a_rate),
		cmocka_unit_test(test_the_rate_never_exceeds_the_budget),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
