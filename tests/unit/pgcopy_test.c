/*
 * pgcopy_test.c: the binary COPY encoding of candles (writer/pgcopy.c):
 * which decimals it takes; numeric as PostgreSQL's numeric_send would send
 * the value numeric_in reads from the same text (digits, weight, sign and
 * the scale kept, zero groups stripped); zero; the stream's header and
 * trailer; one row's fields (times since 2000, NULLs, a date); a candle it
 * cannot carry appends nothing. The server's own reading of it is tested
 * by tests/pg.bats (every timeframe equals the truth field for field).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pgcopy.h"

/* The 16-bit words of b from byte at. */
static int
word(const struct buf *b, size_t at)
{
	const unsigned char *p = (const unsigned char *)b->data + at;

	return (int16_t)(uint16_t)(p[0] << 8 | p[1]);
}

static int32_t
word32(const struct buf *b, size_t at)
{
	const unsigned char *p = (const unsigned char *)b->data + at;

	return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}

/* Encodes text and compares with the words want (ndigits, weight, sign,
 * dscale, digits...). */
static void
numeric_is(const char *text, const int *want, size_t n)
{
	struct buf b = { 0 };

	assert_int_equal(pgcopy_numeric(&b, text), 0);
	assert_int_equal(b.len, n * 2);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(word(&b, i * 2), want[i]);
	buf_free(&b);
}

static void
test_decimal_ok(void **state)
{
	(void)state;
	assert_true(pgcopy_decimal_ok("0"));
	assert_true(pgcopy_decimal_ok("162483000.00000000"));
	assert_true(pgcopy_decimal_ok("-0.0012"));
	assert_false(pgcopy_decimal_ok(""));
	assert_false(pgcopy_decimal_ok("-"));
	assert_false(pgcopy_decimal_ok(".5"));
	assert_false(pgcopy_decimal_ok("5."));
	assert_false(pgcopy_decimal_ok("1e-05"));
	assert_false(pgcopy_decimal_ok("+1"));
	assert_false(pgcopy_decimal_ok("1.2.3"));
	assert_false(pgcopy_decimal_ok("NaN"));
	assert_false(pgcopy_decimal_ok("1234567890123456789012345678901234567890"));
}

static void
test_numeric(void **state)
{
	/* 162483000 = 1 * 10000^2 + 6248 * 10000 + 3000, scale 8 */
	static const int btc[] = { 3, 2, 0x0000, 8, 1, 6248, 3000 };
	static const int rate[] = { 1, -1, 0x4000, 4, 12 };         /* -0.0012 */
	static const int tiny[] = { 1, -2, 0x0000, 5, 1000 };       /* 0.00001 */
	static const int mixed[] = { 2, 0, 0x0000, 3, 1234, 5000 }; /* 1234.5 (scale 3) */
	static const int big[] = { 1, 1, 0x0000, 0, 1 };            /* 10000 */
	static const int lead[] = { 1, 0, 0x0000, 2, 7 };           /* 007.00 */

	(void)state;
	numeric_is("162483000.00000000", btc, 7);
	numeric_is("-0.0012", rate, 5);
	numeric_is("0.00001", tiny, 5);
	numeric_is("1234.500", mixed, 6);
	numeric_is("10000", big, 5);
	numeric_is("007.00", lead, 5);
}

static void
test_zero(void **state)
{
	/* no digits, positive, weight 0, the scale kept; "-0" too */
	static const int zero[] = { 0, 0, 0x0000, 8 };
	static const int bare[] = { 0, 0, 0x0000, 0 };

	(void)state;
	numeric_is("0.00000000", zero, 4);
	numeric_is("-0.00000000", zero, 4);
	numeric_is("0", bare, 4);
}

static void
test_stream(void **state)
{
	struct buf b = { 0 };

	(void)state;
	pgcopy_header(&b);
	assert_int_equal(b.len, 19);
	assert_memory_equal(b.data, "PGCOPY\n\377\r\n\0", 11);
	assert_int_equal(word32(&b, 11), 0);
	assert_int_equal(word32(&b, 15), 0);
	pgcopy_trailer(&b);
	assert_int_equal(b.len, 21);
	assert_int_equal(word(&b, 19), -1);
	buf_free(&b);
}

static void
test_row(void **state)
{
	struct candle c;
	struct buf b = { 0 };
	size_t at;
	int k;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.start = 946684800 + 60; /* 2000-01-01T00:01:00 */
	c.timestamp_ms = 5;
	strcpy(c.first_day, "2000-01-03");
	for (k = 0; k < CN_ACC_VOLUME + 1; k++)
		strcpy(c.num[k], "1");
	assert_int_equal(pgcopy_candle(&b, "KRW-BTC", "1w", &c), 0);
	assert_int_equal(word(&b, 0), 17);
	assert_int_equal(word32(&b, 2), 7);
	assert_memory_equal(b.data + 6, "KRW-BTC", 7);
	assert_int_equal(word32(&b, 13), 2);
	at = 13 + 4 + 2;
	/* utc: 60 s after 2000 in microseconds; kst 9 h later */
	assert_int_equal(word32(&b, at), 8);
	assert_int_equal(word32(&b, at + 8), 60000000);
	assert_int_equal(word32(&b, at + 12), 8);
	assert_int_equal(word32(&b, at + 20), (int32_t)((60 + 9 * 3600) * 1000000LL & 0xffffffff));
	/* the last field: the date, 2 days after 2000-01-01; before it four
	 * NULL decimals and a NULL unit */
	assert_int_equal(word32(&b, b.len - 8), 4);
	assert_int_equal(word32(&b, b.len - 4), 2);
	for (k = 1; k <= 5; k++)
		assert_int_equal(word32(&b, b.len - 8 - 4 * (size_t)k), -1);
	buf_free(&b);
}

static void
test_refused(void **state)
{
	struct candle c;
	struct buf b = { 0 };

	(void)state;
	memset(&c, 0, sizeof(c));
	strcpy(c.num[CN_OPEN], "1.5e3");
	assert_false(pgcopy_candle_ok(&c));
	assert_int_equal(pgcopy_candle(&b, "KRW-BTC", "1m", &c), -1);
	assert_int_equal(b.len, 0);
	strcpy(c.num[CN_OPEN], "1.5");
	strcpy(c.first_day, "2024-13-01");
	assert_false(pgcopy_candle_ok(&c));
	strcpy(c.first_day, "2024-02-01");
	assert_true(pgcopy_candle_ok(&c));
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decimal_ok), cmocka_unit_test(test_numeric),
		cmocka_unit_test(test_zero),       cmocka_unit_test(test_stream),
		cmocka_unit_test(test_row),        cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
