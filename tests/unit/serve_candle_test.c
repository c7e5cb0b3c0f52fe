/* serve_candle_test: cp-serve's candle object (serve/candle.c) from a row's
 * column texts: the keys in Upbit's order, quoted and unquoted values
 * passed on byte for byte, NULL columns left out, converted_trade_price
 * only when asked (and -1 when asked and absent), a market that needs
 * escaping, many objects in one buffer; and sv_int_text against printf's
 * %lld (SQLite writes an integer column's text the same way). */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "serve.h"

/* A full row of KRW-BTC 1m, the texts as candles_exact stores them. */
static void
row(struct sv_cols *c)
{
	static const char *const v[SV_CANDLE_NCOLS] = {
		"2026-10-01T11:59:00",
		"2026-10-01T20:59:00",
		"90123000.0",
		"90150000",
		"90100000.00",
		"90140000",
		"1790855999123",
		"12345678.12345678",
		"0.13690000",
		"1",
		"90120000",
		"20000",
		"0.0002219263",
		"90140000.0",
		NULL,
	};

	for (int i = 0; i < SV_CANDLE_NCOLS; i++) {
		c->v[i] = v[i];
		c->n[i] = v[i] != NULL ? strlen(v[i]) : 0;
	}
}

static const char want_head[] =
    "{\"market\":\"KRW-BTC\",\"candle_date_time_utc\":\"2026-10-01T11:59:00\","
    "\"candle_date_time_kst\":\"2026-10-01T20:59:00\",\"opening_price\":90123000.0,"
    "\"high_price\":90150000,\"low_price\":90100000.00,\"trade_price\":90140000,"
    "\"timestamp\":1790855999123,\"candle_acc_trade_price\":12345678.12345678,"
    "\"candle_acc_trade_volume\":0.13690000,\"unit\":1,\"prev_closing_price\":90120000,"
    "\"change_price\":20000,\"change_rate\":0.0002219263";

static void
test_minute_row(void **state)
{
	struct buf b = { 0 };
	struct sv_cols c;
	char want[1024];

	(void)state;
	row(&c);
	assert_int_equal(sv_candle_json(&b, "KRW-BTC", &c, 0), 0);
	snprintf(want, sizeof(want), "%s}", want_head);
	assert_string_equal(b.data, want);
	assert_int_equal(b.len, strlen(want));
	buf_free(&b);
}

static void
test_convert_and_period(void **state)
{
	struct buf b = { 0 };
	struct sv_cols c;
	char want[1024];

	(void)state;
	row(&c);
	c.v[14] = "2026-09-28";
	c.n[14] = strlen(c.v[14]);
	assert_int_equal(sv_candle_json(&b, "KRW-BTC", &c, 1), 0);
	snprintf(want, sizeof(want),
	         "%s,\"converted_trade_price\":90140000.0,\"first_day_of_period\":\"2026-09-28\"}",
	         want_head);
	assert_string_equal(b.data, want);
	/* asked but absent: -1 and nothing written */
	buf_reset(&b);
	c.v[13] = NULL;
	assert_int_equal(sv_candle_json(&b, "KRW-BTC", &c, 1), -1);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

/* NULL columns (a seconds candle has no unit, prev_closing_price...) are
 * left out, key and all; the text need not end in a NUL. */
static void
test_nulls_and_lengths(void **state)
{
	struct buf b = { 0 };
	struct sv_cols c;

	(void)state;
	row(&c);
	for (int i = 9; i <= 13; i++)
		c.v[i] = NULL;
	c.v[6] = "1790855999123XXXX";
	c.n[6] = 13;
	assert_int_equal(sv_candle_json(&b, "KRW-BTC", &c, 0), 0);
	assert_null(strstr(b.data, "unit"));
	assert_null(strstr(b.data, "prev_closing_price"));
	assert_null(strstr(b.data, "XXXX"));
	assert_non_null(strstr(b.data, "\"timestamp\":1790855999123,\"candle_acc_trade_price\""));
	assert_int_equal(b.data[b.len - 1], '}');
	buf_free(&b);
}

static void
test_market_escaped_and_appended(void **state)
{
	struct buf b = { 0 };
	struct sv_cols c;

	(void)state;
	row(&c);
	sv_buf_put(&b, "[", 1);
	for (int i = 0; i < 300; i++) {
		if (i > 0)
			sv_buf_put(&b, ",", 1);
		assert_int_equal(sv_candle_json(&b, i == 7 ? "KRW-\"X\\" : "KRW-BTC", &c, 0), 0);
	}
	sv_buf_put(&b, "]", 1);
	assert_int_equal(b.err, 0);
	assert_non_null(strstr(b.data, "{\"market\":\"KRW-\\\"X\\\\\",\"candle_date_time_utc\""));
	assert_int_equal(strlen(b.data), b.len);
	buf_free(&b);
}

static void
test_int_text(void **state)
{
	static const int64_t vals[] = {
		0, 1, -1, 9, 10, -10, 1790855999123, 240, INT64_MAX, INT64_MIN, INT64_MIN + 1
	};
	char out[SV_INT_TEXT + 1], want[32];

	(void)state;
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		size_t n = sv_int_text(out, vals[i]);

		out[n] = '\0';
		snprintf(want, sizeof(want), "%" PRId64, vals[i]);
		assert_string_equal(out, want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minute_row),
		cmocka_unit_test(test_convert_and_period),
		cmocka_unit_test(test_nulls_and_lengths),
		cmocka_unit_test(test_market_escaped_and_appended),
		cmocka_unit_test(test_int_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
