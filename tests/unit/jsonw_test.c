/*
 * jsonw_test.c: the monitor's JSON writer (monitor/jsonw.c): the exact text
 * of objects, arrays and scalars, the escapes of every control character,
 * and U+FFFD for each kind of invalid UTF-8 a hostile payload may carry;
 * numbers as the shortest decimal that reads back the same, ids as strings.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jsonw.h"

/* The JSON text of one string value. */
static void
assert_escaped(const char *in, size_t n, const char *want)
{
	struct jw w = { { NULL, 0, 0, 0 }, 0 };

	jw_strn(&w, NULL, in, n);
	assert_false(w.b.err);
	assert_string_equal(w.b.data, want);
	buf_free(&w.b);
}

static void
test_structure(void **state)
{
	struct jw w = { { NULL, 0, 0, 0 }, 0 };

	(void)state;
	jw_obj(&w, NULL);
	jw_str(&w, "topic", "summary");
	jw_int(&w, "n", -42);
	jw_num(&w, "x", 0.125);
	jw_num(&w, "nan", NAN);
	jw_num(&w, "inf", INFINITY);
	jw_bool(&w, "yes", 1);
	jw_bool(&w, "no", 0);
	jw_arr(&w, "list");
	jw_int(&w, NULL, 1);
	jw_obj(&w, NULL);
	jw_obj_end(&w);
	jw_arr(&w, NULL);
	jw_arr_end(&w);
	jw_arr_end(&w);
	jw_obj(&w, "o\"k");
	jw_obj_end(&w);
	jw_obj_end(&w);
	assert_string_equal(w.b.data, "{\"topic\":\"summary\",\"n\":-42,\"x\":0.125,\"nan\":null,"
	                              "\"inf\":null,\"yes\":true,\"no\":false,\"list\":[1,{},[]],"
	                              "\"o\\\"k\":{}}");
	buf_free(&w.b);
	assert_null(w.b.data);
}

static void
test_escapes(void **state)
{
	(void)state;
	assert_escaped("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
	assert_escaped("l1\nl2\tx\r", 8, "\"l1\\nl2\\tx\\r\"");
	assert_escaped("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\\u007f\"");
	/* a NUL inside a counted string is a control character, not the end */
	assert_escaped("a\0b", 3, "\"a\\u0000b\"");
	assert_escaped("", 0, "\"\"");
}

static void
test_utf8(void **state)
{
	(void)state;
	/* valid sequences of 2, 3 and 4 bytes pass through */
	assert_escaped("\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\x88", 11,
	               "\"\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\x88\"");
	/* a lone continuation byte, a byte that starts nothing */
	assert_escaped("a\x80z", 3, "\"a\\ufffdz\"");
	assert_escaped("\xff", 1, "\"\\ufffd\"");
	/* truncated at the end, and cut by an ASCII byte */
	assert_escaped("\xe2\x82", 2, "\"\\ufffd\\ufffd\"");
	assert_escaped("\xe2(x", 3, "\"\\ufffd(x\"");
	/* overlong forms of 2, 3 and 4 bytes */
	assert_escaped("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");
	assert_escaped("\xe0\x80\xaf", 3, "\"\\ufffd\\ufffd\\ufffd\"");
	assert_escaped("\xf0\x80\x80\xaf", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	/* a UTF-16 surrogate and a code point above U+10FFFF */
	assert_escaped("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"");
	assert_escaped("\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
}

static void
test_buffer(void **state)
{
	struct buf b = { NULL, 0, 0, 0 };
	char big[1000];

	(void)state;
	buf_reset(&b); /* an empty buffer can be reset */
	assert_int_equal(b.len, 0);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_puts(&b, "<");
	buf_printf(&b, "%s|%d", big, 7); /* grows past the first 256 bytes */
	buf_puts(&b, ">");
	assert_int_equal(b.len, 1 + 999 + 2 + 1);
	assert_int_equal(b.data[0], '<');
	assert_memory_equal(b.data + 1000, "|7>", 4);
	assert_true(b.cap >= b.len + 1);
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	/* after an allocation failure every append is a no-op until reset */
	b.err = 1;
	buf_puts(&b, "lost");
	buf_printf(&b, "%d", 1);
	assert_int_equal(b.len, 0);
	buf_reset(&b);
	buf_puts(&b, "kept");
	assert_string_equal(b.data, "kept");
	buf_free(&b);
}

/* tb_double's text of v. */
static void
assert_double(double v, const char *want)
{
	struct buf b = { NULL, 0, 0, 0 };

	tb_double(&b, v);
	assert_string_equal(b.data, want);
	assert_true(strtod(b.data, NULL) == v);
	buf_free(&b);
}

static void
test_shortest_numbers(void **state)
{
	struct jw w = { { NULL, 0, 0, 0 }, 0 };

	(void)state;
	assert_double(39.601, "39.601"); /* %.17g: 39.600999999999999 */
	assert_double(0.1, "0.1");
	assert_double(10, "10");
	assert_double(-2.5, "-2.5");
	assert_double(1.0 / 3, "0.3333333333333333");          /* 16 digits */
	assert_double(0.1 + 0.2, "0.30000000000000004");       /* 17 digits */
	assert_double(123456789.125, "123456789.125");         /* %.6g: 1.23457e+08 */
	assert_double(9007199254740993.0, "9007199254740992"); /* 2^53 + 1 rounds */
	assert_double(5e-324, "4.94065645841247e-324");
	assert_double(1e300, "1e+300");
	/* JSON numbers are the same text */
	jw_num(&w, NULL, 123456.789);
	jw_num(&w, "x", 39.601);
	/* ids are strings: exact past 2^53 */
	jw_id(&w, "id", (1ULL << 53) + 1);
	jw_id(&w, "max", UINT64_MAX);
	assert_string_equal(w.b.data, "123456.789,\"x\":39.601,\"id\":\"9007199254740993\","
	                              "\"max\":\"18446744073709551615\"");
	buf_free(&w.b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_buffer),
		cmocka_unit_test(test_shortest_numbers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
