/* tf_test: timeframe names and routes, floor/ceil/add/count for every
 * timeframe (month and year ends, leap years, Monday weeks, negative times
 * and negative n) and the civil-date conversions (common/tf.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tf.h"

#define D 86400

/* Epoch seconds of a UTC civil time. */
static int64_t
T(int64_t y, unsigned mo, unsigned d, int h, int mi, int s)
{
	return tf_days_from_civil(y, mo, d) * D + h * 3600 + mi * 60 + s;
}

static void
test_names(void **state)
{
	static const char *names[TF_COUNT] = { "1s", "1m", "3m", "5m", "10m", "15m", "30m",
		                               "1h", "4h", "1d", "1w", "1M",  "1y" };
	static const char *routes[TF_COUNT] = { "seconds",    "minutes/1",  "minutes/3",
		                                "minutes/5",  "minutes/10", "minutes/15",
		                                "minutes/30", "minutes/60", "minutes/240",
		                                "days",       "weeks",      "months",
		                                "years" };
	static const char *bad[] = { "2m",   "1H",   "",    "1mo", "1D", "60", "m1", "1m ", " 1m",
		                     "1d\n", "240M", "60M", "1W",  "1Y", "1S", "0m", "120m" };
	enum tf tf;

	(void)state;
	for (int i = 0; i < TF_COUNT; i++) {
		assert_string_equal(tf_name((enum tf)i), names[i]);
		assert_string_equal(tf_route((enum tf)i), routes[i]);
		assert_int_equal(tf_parse(names[i], &tf), 0);
		assert_int_equal(tf, i);
	}
	assert_int_equal(tf_parse("60m", &tf), 0);
	assert_int_equal(tf, TF_1H);
	assert_int_equal(tf_parse("240m", &tf), 0);
	assert_int_equal(tf, TF_4H);
	/* "1m" is a minute and "1M" a month */
	assert_int_equal(tf_parse("1m", &tf), 0);
	assert_int_equal(tf, TF_1M);
	assert_int_equal(tf_parse("1M", &tf), 0);
	assert_int_equal(tf, TF_1MO);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tf = TF_1D;
		assert_int_equal(tf_parse(bad[i], &tf), -1);
		assert_int_equal(tf, TF_1D);
	}
	assert_int_equal(tf_parse(NULL, &tf), -1);
}

static void
test_fixed_seconds(void **state)
{
	static const int64_t want[TF_COUNT] = { 1,    60,    180, 300,   600, 900, 1800,
		                                3600, 14400, D,   7 * D, 0,   0 };

	(void)state;
	for (int i = 0; i < TF_COUNT; i++)
		assert_int_equal(tf_fixed_seconds((enum tf)i), want[i]);
}

static void
test_civil(void **state)
{
	int64_t y;
	unsigned m, d;

	(void)state;
	assert_int_equal(tf_days_from_civil(1970, 1, 1), 0);
	assert_int_equal(tf_days_from_civil(2000, 3, 1), 11017);
	assert_int_equal(tf_days_from_civil(1969, 12, 31), -1);
	assert_int_equal(tf_days_from_civil(0, 1, 1), -719528);
	/* leap years: 2024 and 2000 are, 2100 and 1900 are not */
	assert_int_equal(tf_days_from_civil(2024, 3, 1) - tf_days_from_civil(2024, 2, 28), 2);
	assert_int_equal(tf_days_from_civil(2000, 3, 1) - tf_days_from_civil(2000, 2, 28), 2);
	assert_int_equal(tf_days_from_civil(2100, 3, 1) - tf_days_from_civil(2100, 2, 28), 1);
	assert_int_equal(tf_days_from_civil(1900, 3, 1) - tf_days_from_civil(1900, 2, 28), 1);
	tf_civil_from_days(tf_days_from_civil(2024, 2, 29), &y, &m, &d);
	assert_true(y == 2024 && m == 2 && d == 29);
	tf_civil_from_days(tf_days_from_civil(2100, 2, 28) + 1, &y, &m, &d);
	assert_true(y == 2100 && m == 3 && d == 1);
	tf_civil_from_days(-1, &y, &m, &d);
	assert_true(y == 1969 && m == 12 && d == 31);
	/* round trip over ~5500 years around the epoch, both signs */
	for (int64_t days = -1000000; days <= 1000000; days += 7) {
		tf_civil_from_days(days, &y, &m, &d);
		assert_true(m >= 1 && m <= 12 && d >= 1 && d <= 31);
		assert_int_equal(tf_days_from_civil(y, m, d), days);
	}
}

/* Golden floors of 2025-07-06 23:59:30 (a Sunday). */
static void
test_floor_golden(void **state)
{
	int64_t t = T(2025, 7, 6, 23, 59, 30);
	int64_t want[TF_COUNT] = {
		[TF_1S] = t,
		[TF_1M] = T(2025, 7, 6, 23, 59, 0),
		[TF_3M] = T(2025, 7, 6, 23, 57, 0),
		[TF_5M] = T(2025, 7, 6, 23, 55, 0),
		[TF_10M] = T(2025, 7, 6, 23, 50, 0),
		[TF_15M] = T(2025, 7, 6, 23, 45, 0),
		[TF_30M] = T(2025, 7, 6, 23, 30, 0),
		[TF_1H] = T(2025, 7, 6, 23, 0, 0),
		[TF_4H] = T(2025, 7, 6, 20, 0, 0),
		[TF_1D] = T(2025, 7, 6, 0, 0, 0),
		[TF_1W] = T(2025, 6, 30, 0, 0, 0), /* Monday */
		[TF_1MO] = T(2025, 7, 1, 0, 0, 0),
		[TF_1Y] = T(2025, 1, 1, 0, 0, 0),
	};

	(void)state;
	for (int i = 0; i < TF_COUNT; i++) {
		assert_int_equal(tf_floor((enum tf)i, t), want[i]);
		assert_int_equal(tf_floor((enum tf)i, want[i]), want[i]);
	}
	/* Monday 00:00 is its own week; Sunday 23:59:59 the previous one */
	assert_int_equal(tf_floor(TF_1W, T(2025, 6, 30, 0, 0, 0)), T(2025, 6, 30, 0, 0, 0));
	assert_int_equal(tf_floor(TF_1W, T(2025, 6, 29, 23, 59, 59)), T(2025, 6, 23, 0, 0, 0));
	assert_int_equal(tf_floor(TF_1W, T(2025, 7, 7, 0, 0, 0)), T(2025, 7, 7, 0, 0, 0));
	/* month and year ends */
	assert_int_equal(tf_floor(TF_1MO, T(2024, 2, 29, 23, 59, 59)), T(2024, 2, 1, 0, 0, 0));
	assert_int_equal(tf_floor(TF_1MO, T(2024, 3, 1, 0, 0, 0)), T(2024, 3, 1, 0, 0, 0));
	assert_int_equal(tf_floor(TF_1MO, T(2024, 12, 31, 23, 59, 59)), T(2024, 12, 1, 0, 0, 0));
	assert_int_equal(tf_floor(TF_1Y, T(2024, 12, 31, 23, 59, 59)), T(2024, 1, 1, 0, 0, 0));
	assert_int_equal(tf_floor(TF_1Y, T(2025, 1, 1, 0, 0, 0)), T(2025, 1, 1, 0, 0, 0));
	assert_int_equal(tf_floor(TF_1D, T(2100, 2, 28, 12, 0, 0)), T(2100, 2, 28, 0, 0, 0));
	assert_int_equal(tf_floor(TF_4H, T(2025, 1, 1, 3, 59, 59)), T(2025, 1, 1, 0, 0, 0));
	assert_int_equal(tf_floor(TF_4H, T(2025, 1, 1, 4, 0, 0)), T(2025, 1, 1, 4, 0, 0));
}

static void
test_floor_negative(void **state)
{
	(void)state;
	assert_int_equal(tf_floor(TF_1S, -1), -1);
	assert_int_equal(tf_floor(TF_1M, -1), -60);
	assert_int_equal(tf_floor(TF_3M, -1), -180);
	assert_int_equal(tf_floor(TF_1H, -3601), -7200);
	assert_int_equal(tf_floor(TF_1D, -1), -D);
	assert_int_equal(tf_floor(TF_1D, -D), -D);
	assert_int_equal(tf_floor(TF_1W, -1), T(1969, 12, 29, 0, 0, 0));
	assert_int_equal(tf_floor(TF_1W, 0), T(1969, 12, 29, 0, 0, 0));
	assert_int_equal(tf_floor(TF_1W, 4 * D), 4 * D); /* 1970-01-05, Monday */
	assert_int_equal(tf_floor(TF_1MO, -1), T(1969, 12, 1, 0, 0, 0));
	assert_int_equal(tf_floor(TF_1Y, -1), T(1969, 1, 1, 0, 0, 0));
	assert_int_equal(tf_floor(TF_1MO, T(1600, 2, 29, 5, 0, 0)), T(1600, 2, 1, 0, 0, 0));
}

/* Properties for every timeframe over many times, both signs. */
static void
test_floor_ceil_props(void **state)
{
	(void)state;
	for (int i = 0; i < TF_COUNT; i++) {
		enum tf tf = (enum tf)i;

		for (int64_t t = -3 * 366 * (int64_t)D; t < 3 * 366 * (int64_t)D;
		     t += 7919 * 13 + 1) {
			int64_t f = tf_floor(tf, t), c = tf_ceil(tf, t);

			assert_true(f <= t);
			assert_true(t < tf_add(tf, f, 1));
			assert_int_equal(tf_floor(tf, f), f);
			assert_int_equal(tf_add(tf, tf_add(tf, f, 1), -1), f);
			if (f == t)
				assert_int_equal(c, t);
			else
				assert_int_equal(c, tf_add(tf, f, 1));
			assert_true(c >= t);
			assert_int_equal(tf_floor(tf, c), c);
		}
	}
}

static void
test_ceil(void **state)
{
	int64_t a = T(2025, 7, 1, 0, 0, 0);

	(void)state;
	for (int i = 0; i < TF_COUNT; i++)
		if (i != TF_1W)
			assert_int_equal(tf_ceil((enum tf)i, tf_floor((enum tf)i, a)),
			                 tf_floor((enum tf)i, a));
	assert_int_equal(tf_ceil(TF_1M, a + 1), a + 60);
	assert_int_equal(tf_ceil(TF_1D, a + 1), a + D);
	assert_int_equal(tf_ceil(TF_1W, a), T(2025, 7, 7, 0, 0, 0));
	assert_int_equal(tf_ceil(TF_1MO, a + 1), T(2025, 8, 1, 0, 0, 0));
	assert_int_equal(tf_ceil(TF_1MO, T(2024, 12, 15, 0, 0, 0)), T(2025, 1, 1, 0, 0, 0));
	assert_int_equal(tf_ceil(TF_1Y, a), T(2026, 1, 1, 0, 0, 0));
	assert_int_equal(tf_ceil(TF_1Y, T(2026, 1, 1, 0, 0, 0)), T(2026, 1, 1, 0, 0, 0));
	assert_int_equal(tf_ceil(TF_1D, -1), 0);
	assert_int_equal(tf_ceil(TF_1MO, -1), 0);
}

static void
test_add(void **state)
{
	int64_t a = T(2024, 1, 1, 0, 0, 0);

	(void)state;
	assert_int_equal(tf_add(TF_1S, a, -5), a - 5);
	assert_int_equal(tf_add(TF_1M, a, 200), a + 200 * 60);
	assert_int_equal(tf_add(TF_4H, a, -6), a - D);
	assert_int_equal(tf_add(TF_1D, T(2024, 2, 28, 0, 0, 0), 1), T(2024, 2, 29, 0, 0, 0));
	assert_int_equal(tf_add(TF_1D, T(2100, 2, 28, 0, 0, 0), 1), T(2100, 3, 1, 0, 0, 0));
	assert_int_equal(tf_add(TF_1W, T(2025, 6, 30, 0, 0, 0), 1), T(2025, 7, 7, 0, 0, 0));
	assert_int_equal(tf_add(TF_1W, T(2025, 6, 30, 0, 0, 0), -26), T(2024, 12, 30, 0, 0, 0));
	/* months: calendar arithmetic across year ends, both directions */
	assert_int_equal(tf_add(TF_1MO, a, 1), T(2024, 2, 1, 0, 0, 0));
	assert_int_equal(tf_add(TF_1MO, T(2024, 2, 1, 0, 0, 0), 1), T(2024, 3, 1, 0, 0, 0));
	assert_int_equal(tf_add(TF_1MO, T(2024, 12, 1, 0, 0, 0), 1), T(2025, 1, 1, 0, 0, 0));
	assert_int_equal(tf_add(TF_1MO, a, -1), T(2023, 12, 1, 0, 0, 0));
	assert_int_equal(tf_add(TF_1MO, a, -13), T(2022, 12, 1, 0, 0, 0));
	assert_int_equal(tf_add(TF_1MO, a, 25), T(2026, 2, 1, 0, 0, 0));
	assert_int_equal(tf_add(TF_1MO, a, 0), a);
	assert_int_equal(tf_add(TF_1MO, 0, -1), T(1969, 12, 1, 0, 0, 0));
	assert_int_equal(tf_add(TF_1MO, 0, 12000), T(2970, 1, 1, 0, 0, 0));
	assert_int_equal(tf_add(TF_1MO, 0, -12 * 1970), T(0, 1, 1, 0, 0, 0));
	assert_int_equal(tf_add(TF_1MO, 0, -12 * 1970 - 1), T(-1, 12, 1, 0, 0, 0));
	/* years */
	assert_int_equal(tf_add(TF_1Y, a, 1), T(2025, 1, 1, 0, 0, 0));
	assert_int_equal(tf_add(TF_1Y, a, -30), T(1994, 1, 1, 0, 0, 0));
	assert_int_equal(tf_add(TF_1Y, a, 76), T(2100, 1, 1, 0, 0, 0));
	assert_int_equal(tf_add(TF_1Y, a, -2024), T(0, 1, 1, 0, 0, 0));
	assert_int_equal(tf_add(TF_1Y, T(2100, 1, 1, 0, 0, 0), 1) - T(2100, 1, 1, 0, 0, 0),
	                 365 * D);
	assert_int_equal(tf_add(TF_1Y, T(2000, 1, 1, 0, 0, 0), 1) - T(2000, 1, 1, 0, 0, 0),
	                 366 * D);
}

static void
test_count(void **state)
{
	(void)state;
	assert_int_equal(tf_count(TF_1S, 0, D), D);
	assert_int_equal(tf_count(TF_1M, 0, D), 1440);
	assert_int_equal(tf_count(TF_3M, 0, D), 480);
	assert_int_equal(tf_count(TF_4H, 0, D), 6);
	assert_int_equal(tf_count(TF_1D, T(2024, 1, 1, 0, 0, 0), T(2025, 1, 1, 0, 0, 0)), 366);
	assert_int_equal(tf_count(TF_1D, T(2100, 1, 1, 0, 0, 0), T(2101, 1, 1, 0, 0, 0)), 365);
	assert_int_equal(tf_count(TF_1D, T(2000, 2, 1, 0, 0, 0), T(2000, 3, 1, 0, 0, 0)), 29);
	assert_int_equal(tf_count(TF_1D, T(2100, 2, 1, 0, 0, 0), T(2100, 3, 1, 0, 0, 0)), 28);
	assert_int_equal(tf_count(TF_1W, T(2025, 6, 30, 0, 0, 0), T(2025, 7, 14, 0, 0, 0)), 2);
	assert_int_equal(tf_count(TF_1MO, T(2024, 1, 1, 0, 0, 0), T(2025, 1, 1, 0, 0, 0)), 12);
	assert_int_equal(tf_count(TF_1MO, T(2023, 11, 1, 0, 0, 0), T(2024, 3, 1, 0, 0, 0)), 4);
	assert_int_equal(tf_count(TF_1MO, T(1969, 12, 1, 0, 0, 0), T(1970, 2, 1, 0, 0, 0)), 2);
	assert_int_equal(tf_count(TF_1MO, 0, T(2970, 1, 1, 0, 0, 0)), 12000);
	assert_int_equal(tf_count(TF_1Y, T(2017, 1, 1, 0, 0, 0), T(2026, 1, 1, 0, 0, 0)), 9);
	assert_int_equal(tf_count(TF_1Y, T(1900, 1, 1, 0, 0, 0), T(2100, 1, 1, 0, 0, 0)), 200);
	/* empty and reversed ranges */
	for (int i = 0; i < TF_COUNT; i++) {
		assert_int_equal(tf_count((enum tf)i, 1000, 1000), 0);
		assert_int_equal(tf_count((enum tf)i, 2000, 1000), 0);
	}
	/* count(from, add(from, n)) == n for every timeframe */
	for (int i = 0; i < TF_COUNT; i++) {
		enum tf tf = (enum tf)i;
		int64_t starts[] = { T(2024, 2, 29, 13, 7, 9), T(1969, 12, 31, 23, 59, 59),
			             T(2099, 12, 31, 0, 0, 0), T(1601, 3, 1, 0, 0, 0) };

		for (size_t s = 0; s < sizeof(starts) / sizeof(starts[0]); s++) {
			int64_t from = tf_floor(tf, starts[s]);

			for (int64_t n = 0; n < 1000; n += 37)
				assert_int_equal(tf_count(tf, from, tf_add(tf, from, n)), n);
			assert_int_equal(tf_count(tf, tf_add(tf, from, -500), from), 500);
		}
	}
}

/* Out-of-range timeframes leave times alone; a window too short to hold
 * a slot start counts none. */
static void
test_edges(void **state)
{
	(void)state;
	assert_int_equal(tf_floor((enum tf)TF_COUNT, 12345), 12345);
	assert_int_equal(tf_add((enum tf)TF_COUNT, 12345, 3), 12345);
	assert_int_equal(tf_count((enum tf)TF_COUNT, 0, 86400), 0);
	assert_int_equal(tf_count(TF_1H, 10, 20), 0);
	assert_int_equal(tf_count(TF_1H, 10, 3601), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),          cmocka_unit_test(test_fixed_seconds),
		cmocka_unit_test(test_civil),          cmocka_unit_test(test_floor_golden),
		cmocka_unit_test(test_floor_negative), cmocka_unit_test(test_floor_ceil_props),
		cmocka_unit_test(test_ceil),           cmocka_unit_test(test_add),
		cmocka_unit_test(test_count),          cmocka_unit_test(test_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
