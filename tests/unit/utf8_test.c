/* utf8_test.c: the shared UTF-8 validator (common/utf8.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "utf8.h"

static size_t
len_of(const char *s, size_t n)
{
	return utf8_seq_len((const unsigned char *)s, n);
}

static void
t_valid(void **state)
{
	(void)state;
	assert_int_equal(len_of("A", 1), 1);
	assert_int_equal(len_of("\x7f", 1), 1);
	assert_int_equal(len_of("\xc2\x80", 2), 2);         /* U+0080, the first 2-byte */
	assert_int_equal(len_of("\xdf\xbf", 2), 2);         /* U+07FF */
	assert_int_equal(len_of("\xe0\xa0\x80", 3), 3);     /* U+0800 */
	assert_int_equal(len_of("\xed\x9f\xbf", 3), 3);     /* U+D7FF, below the surrogates */
	assert_int_equal(len_of("\xee\x80\x80", 3), 3);     /* U+E000, above them */
	assert_int_equal(len_of("\xea\xb0\x80", 3), 3);     /* U+AC00, Hangul */
	assert_int_equal(len_of("\xf0\x90\x80\x80", 4), 4); /* U+10000 */
	assert_int_equal(len_of("\xf4\x8f\xbf\xbf", 4), 4); /* U+10FFFF, the last */
	assert_int_equal(len_of("\xc3\xa9xyz", 5), 2);      /* only the sequence at s */
}

static void
t_invalid(void **state)
{
	(void)state;
	assert_int_equal(len_of("", 0), 0);
	assert_int_equal(len_of("\x80", 1), 0);             /* continuation as lead */
	assert_int_equal(len_of("\xc0\x80", 2), 0);         /* overlong NUL */
	assert_int_equal(len_of("\xc1\xbf", 2), 0);         /* overlong */
	assert_int_equal(len_of("\xe0\x9f\xbf", 3), 0);     /* overlong 3-byte */
	assert_int_equal(len_of("\xf0\x8f\xbf\xbf", 4), 0); /* overlong 4-byte */
	assert_int_equal(len_of("\xed\xa0\x80", 3), 0);     /* U+D800 surrogate */
	assert_int_equal(len_of("\xed\xbf\xbf", 3), 0);     /* U+DFFF surrogate */
	assert_int_equal(len_of("\xf4\x90\x80\x80", 4), 0); /* U+110000 */
	assert_int_equal(len_of("\xf5\x80\x80\x80", 4), 0); /* never a lead */
	assert_int_equal(len_of("\xff", 1), 0);
	assert_int_equal(len_of("\xc3", 1), 0);             /* truncated */
	assert_int_equal(len_of("\xe2\x82", 2), 0);         /* truncated */
	assert_int_equal(len_of("\xe2\x28\xa1", 3), 0);     /* bad continuation */
	assert_int_equal(len_of("\xf0\x90\x80\x41", 4), 0); /* bad last continuation */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_valid),
		cmocka_unit_test(t_invalid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
