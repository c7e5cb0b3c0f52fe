/* timeutil_test: every accepted ISO 8601 form, strict rejections, and
 * formatting (common/timeutil.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tf.h"
#include "timeutil.h"

static int64_t
T(int64_t y, unsigned mo, unsigned d, int h, int mi, int s)
{
	return tf_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

static void
accepts(const char *s, int64_t want)
{
	int64_t t = -12345;

	if (time_parse(s, &t) != 0)
		fail_msg("rejected \"%s\"", s);
	if (t != want)
		fail_msg("\"%s\": got %lld, want %lld", s, (long long)t, (long long)want);
}

static void
rejects(const char *s)
{
	int64_t t = -12345;

	if (time_parse(s, &t) != -1)
		fail_msg("accepted \"%s\"", s);
	assert_int_equal(t, -12345);
}

static void
test_accepts(void **state)
{
	int64_t base = T(2025, 6, 30, 8, 5, 9);

	(void)state;
	accepts("2025-06-30", T(2025, 6, 30, 0, 0, 0));
	accepts("1970-01-01", 0);
	accepts("2025-06-30T08:05", T(2025, 6, 30, 8, 5, 0));
	accepts("2025-06-30 08:05", T(2025, 6, 30, 8, 5, 0));
	accepts("2025-06-30T08:05:09", base);
	accepts("2025-06-30 08:05:09", base);
	accepts("2025-06-30T08:05:09.1", base);
	accepts("2025-06-30T08:05:09.999999999", base);
	accepts("2025-06-30T08:05:09Z", base);
	accepts("2025-06-30T08:05:09.5Z", base);
	accepts("2025-06-30T08:05Z", T(2025, 6, 30, 8, 5, 0));
	accepts("2025-06-30T17:05:09+09:00", base);
	accepts("2025-06-30T17:05:09+0900", base);
	accepts("2025-06-30T17:05:09.123+09:00", base);
	accepts("2025-06-30T03:05:09-05:00", base);
	accepts("2025-06-30T03:05:09-0500", base);
	accepts("2025-06-30T08:05:09+00:00", base);
	accepts("2025-06-30T08:05:09-00:00", base);
	accepts("2025-07-01T00:35:09+16:30", base);
	accepts("2025-07-01T02:00:00+09:00", T(2025, 6, 30, 17, 0, 0));
	accepts("2024-02-29T23:59:59", T(2024, 2, 29, 23, 59, 59));
	accepts("2000-02-29", T(2000, 2, 29, 0, 0, 0));
	accepts("1969-12-31T23:59:59", -1);
	accepts("0000-01-01", T(0, 1, 1, 0, 0, 0));
	accepts("9999-12-31T23:59:59", T(9999, 12, 31, 23, 59, 59));
}

static void
test_rejects(void **state)
{
	static const char *bad[] = {
		"",
		"2025",
		"2025-06",
		"2025-6-30",
		"25-06-30",
		"2025/06/30",
		"2025-13-01",
		"2025-00-10",
		"2025-06-00",
		"2025-06-31",
		"2025-02-29",
		"2100-02-29",
		"2024-02-30",
		"2025-06-30T",
		"2025-06-30T08",
		"2025-06-30T8:05",
		"2025-06-30T08:5",
		"2025-06-30T24:00",
		"2025-06-30T23:60",
		"2025-06-30T23:59:60",
		"2025-06-30T08:05:9",
		"2025-06-30T08:05:09.",
		"2025-06-30T08:05:09.x",
		"2025-06-30T08:05:09Zx",
		"2025-06-30T08:05:09 ",
		" 2025-06-30",
		"2025-06-30x",
		"2025-06-30t08:05",
		"2025-06-30_08:05",
		"2025-06-30T08:05:09z",
		"2025-06-30T08:05:09+9",
		"2025-06-30T08:05:09+09",
		"2025-06-30T08:05:09+09:0",
		"2025-06-30T08:05:09+24:00",
		"2025-06-30T08:05:09+09:60",
		"2025-06-30T08:05:09+09:00Z",
		"2025-06-30T08:05:09+09:00:00",
		"2025-06-30T08:05.5",
		"2025-06-30Z",
		"2025-06-30+09:00",
		"2025-06-30T08:05:09UTC",
		"+2025-06-30",
		"-2025-06-30",
		"20250630",
		"2025-06-30T0805",
		"2025-06-30T08:05:09\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		rejects(bad[i]);
	rejects(NULL);
}

static void
test_format(void **state)
{
	char buf[TIME_TEXT_LEN];
	int64_t t;

	(void)state;
	time_format(0, buf);
	assert_string_equal(buf, "1970-01-01T00:00:00");
	time_format(-1, buf);
	assert_string_equal(buf, "1969-12-31T23:59:59");
	time_format(T(2024, 2, 29, 13, 7, 9), buf);
	assert_string_equal(buf, "2024-02-29T13:07:09");
	time_format(T(9999, 12, 31, 23, 59, 59), buf);
	assert_string_equal(buf, "9999-12-31T23:59:59");
	time_format(T(0, 1, 1, 0, 0, 0), buf);
	assert_string_equal(buf, "0000-01-01T00:00:00");
	/* clamped outside years 0000..9999 */
	time_format(INT64_MAX, buf);
	assert_string_equal(buf, "9999-12-31T23:59:59");
	time_format(INT64_MIN, buf);
	assert_string_equal(buf, "0000-01-01T00:00:00");
	/* round trip */
	for (t = -86400LL * 800; t < 86400LL * 365 * 60; t += 86400 * 3 + 3607) {
		int64_t back;

		time_format(t, buf);
		assert_int_equal(strlen(buf), TIME_TEXT_LEN - 1);
		assert_int_equal(time_parse(buf, &back), 0);
		assert_int_equal(back, t);
	}
}

static void
test_clocks(void **state)
{
	int64_t ms = time_now_ms(), s = time_now(), m1 = time_mono_ms(), m2;

	(void)state;
	assert_true(ms > T(2020, 1, 1, 0, 0, 0) * 1000);
	assert_true(s - ms / 1000 >= -1 && s - ms / 1000 <= 1);
	m2 = time_mono_ms();
	assert_true(m2 >= m1);
}

/* The three units read one clock: read one after the other, each is no
 * earlier than the one before, whatever its unit. */
static void
test_mono_units(void **state)
{
	int64_t ms, us, ns, ms2;

	(void)state;
	ms = time_mono_ms();
	us = time_mono_us();
	ns = time_mono_ns();
	ms2 = time_mono_ms();
	assert_true(ms * 1000 <= us);
	assert_true(us * 1000 <= ns);
	assert_true(ns / 1000000 <= ms2);
}

/* ---- time_parse_full_ms: the forms Upbit takes for `to` ------------------ */

static void
full_accepts(const char *s, int64_t want_ms)
{
	int64_t t = -12345;

	if (time_parse_full_ms(s, &t) != 0)
		fail_msg("rejected \"%s\"", s);
	if (t != want_ms)
		fail_msg("\"%s\": got %lld ms, want %lld", s, (long long)t, (long long)want_ms);
}

static void
full_rejects(const char *s)
{
	int64_t t = -12345;

	if (time_parse_full_ms(s, &t) != -1)
		fail_msg("accepted \"%s\"", s);
	assert_int_equal(t, -12345);
}

#define MS(y, mo, d, h, mi, s) (T(y, mo, d, h, mi, s) * 1000)

static void
test_full_naive_t(void **state)
{
	(void)state;
	full_accepts("2024-01-01T00:00:00", MS(2024, 1, 1, 0, 0, 0));
	full_accepts("2024-02-29T23:59:59", MS(2024, 2, 29, 23, 59, 59));
	full_accepts("1970-01-01T00:00:00", 0);
	full_accepts("1969-12-31T23:59:59", -1000);
}

static void
test_full_naive_space(void **state)
{
	(void)state;
	full_accepts("2024-01-01 00:00:00", MS(2024, 1, 1, 0, 0, 0));
	full_accepts("2024-01-01 12:34:56Z", MS(2024, 1, 1, 12, 34, 56));
}

static void
test_full_z(void **state)
{
	(void)state;
	full_accepts("2024-01-01T00:00:00Z", MS(2024, 1, 1, 0, 0, 0));
}

static void
test_full_offset(void **state)
{
	(void)state;
	full_accepts("2024-01-01T09:00:00+09:00", MS(2024, 1, 1, 0, 0, 0));
	full_accepts("2023-12-31T19:00:00-05:00", MS(2024, 1, 1, 0, 0, 0));
	full_accepts("2024-01-01T00:00:00+00:00", MS(2024, 1, 1, 0, 0, 0));
	full_accepts("2024-01-01T00:00:00-00:00", MS(2024, 1, 1, 0, 0, 0));
	full_accepts("2024-01-01 09:00:00+09:00", MS(2024, 1, 1, 0, 0, 0));
}

static void
test_full_millis(void **state)
{
	(void)state;
	full_accepts("2024-01-01T00:00:00.5", MS(2024, 1, 1, 0, 0, 0) + 500);
	full_accepts("2024-01-01T00:00:00.05", MS(2024, 1, 1, 0, 0, 0) + 50);
	full_accepts("2024-01-01T00:00:00.123", MS(2024, 1, 1, 0, 0, 0) + 123);
	/* more digits are truncated to the millisecond, up to nine */
	full_accepts("2024-01-01T00:00:00.123999", MS(2024, 1, 1, 0, 0, 0) + 123);
	full_accepts("2024-01-01T00:00:00.999999999", MS(2024, 1, 1, 0, 0, 0) + 999);
	full_accepts("2024-01-01T00:00:00.000Z", MS(2024, 1, 1, 0, 0, 0));
	full_accepts("2024-01-01T09:00:00.250+09:00", MS(2024, 1, 1, 0, 0, 0) + 250);
	full_accepts("2024-01-01 00:00:00.001", MS(2024, 1, 1, 0, 0, 0) + 1);
}

/* What time_parse takes but Upbit's `to` does not, and what neither takes. */
static void
test_full_refused(void **state)
{
	static const char *bad[] = {
		"2024-01-01",                     /* a date alone */
		"2024-01-01T00:00",               /* no seconds */
		"2024-01-01T00:00Z",              /* no seconds, with a zone */
		"2024-01-01T00:00:00.1234567890", /* ten fraction digits */
		"2024-01-01T09:00:00+0900",       /* an offset without its colon */
		"2024-01-01T00:00:00+0000",       /* the same, a zero offset */
		"2024-01-01T00:00:00.",           /* a dot without digits */
		"2024-01-01T00:00:00+09",         /* an offset without minutes */
		"2024-01-01T00:00:00+24:00",      /* an offset out of range */
		"2024-01-01T00:00:00z",           /* a lowercase zone */
		"2024-01-01t00:00:00",            /* a lowercase separator */
		"2024-01-01T24:00:00",            /* no hour 24 */
		"2024-01-01T00:00:60",            /* no leap second */
		"2023-02-29T00:00:00",            /* no such day */
		"2024-1-01T00:00:00",             /* one-digit month */
		"2024-01-01T00:00:00 ",           /* trailing space */
		"2024-01-01T00:00:00Z+09:00",     /* two zones */
		"2024-01-01T00:00:00.5.5",        /* two fractions */
		"1704067200",                     /* epoch seconds */
		"",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		full_rejects(bad[i]);
	full_rejects(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts),          cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_format),           cmocka_unit_test(test_clocks),
		cmocka_unit_test(test_mono_units),       cmocka_unit_test(test_full_naive_t),
		cmocka_unit_test(test_full_naive_space), cmocka_unit_test(test_full_z),
		cmocka_unit_test(test_full_offset),      cmocka_unit_test(test_full_millis),
		cmocka_unit_test(test_full_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
