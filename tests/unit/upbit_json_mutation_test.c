/* upbit_json_mutation_test: a deterministic mutation pass over the fetcher's
 * Upbit answer reader (fetcher/upbit_json.c), the `make test` companion of
 * tests/fuzz/fuzz_upbit_json.c. From one valid 200-candle body of 1m
 * candles (the simulator's format, 72 KB): truncations, single bit flips
 * and bytes replaced by JSON-significant ones, trailing bytes appended, and
 * huge lengths. Exhaustive over the first two candles and the last one
 * (every length, every bit, every byte), and at a prime stride in between
 * (prime to the candle length, so every offset inside a candle is hit
 * somewhere): a full pass of every mutant would take a minute. The reader must never crash (run it under SANITIZE=1 as well)
 * and must never accept a body whose candles break the validation rules:
 * whenever a mutant is accepted, the invariants are checked again here
 * (at most `count`, strictly descending starts, aligned, before `to`,
 * low <= open, close <= high, prices > 0, volumes >= 0), and a mutant that
 * changes a candle's start, market or the KST time must be refused or
 * still consistent. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tf.h"
#include "timeutil.h"
#include "upbit_json.h"

#define NCANDLES 200
#define BODY_MAX (128 * 1024)
#define TO 1790812800   /* 2026-10-01T00:00:00Z */
#define HEAD_BYTES 720  /* about two candles: exhaustive */
#define TAIL_BYTES 360  /* about the last candle: exhaustive */
#define TRUNC_STRIDE 11 /* elsewhere: every 11th truncation length */
#define FLIP_STRIDE 41  /* every 41st byte, all 8 bits */

static char body[BODY_MAX];
static size_t body_len;
static char mut[BODY_MAX + 64];
static struct candle out[CANDLE_MAX_PER_RESPONSE];
static char err[256];
static const struct upbit_query q = { "KRW-BTC", TF_1M, TO, NCANDLES };

/* Exhaustive near both ends, every stride-th position in between. */
static int
picked(size_t i, size_t stride)
{
	return i < HEAD_BYTES || i + TAIL_BYTES >= body_len || i % stride == 0;
}

/* One candle in the simulator's exact format (field order, 8 decimals). */
static size_t
put_candle(char *p, size_t cap, int64_t start, int i)
{
	char utc[TIME_TEXT_LEN], kst[TIME_TEXT_LEN];
	long o = 127000000 + (i * 7919) % 500000, c = 127000000 + (i * 104729) % 500000;
	long h = (o > c ? o : c) + 1000 * (i % 5), l = (o < c ? o : c) - 1000 * (i % 3);

	time_format(start, utc);
	time_format(start + 9 * 3600, kst);
	return (size_t)snprintf(
	    p, cap,
	    "%s{\"market\":\"KRW-BTC\",\"candle_date_time_utc\":\"%s\","
	    "\"candle_date_time_kst\":\"%s\",\"opening_price\":%ld.00000000,"
	    "\"high_price\":%ld.00000000,\"low_price\":%ld.00000000,"
	    "\"trade_price\":%ld.00000000,\"timestamp\":%lld,"
	    "\"candle_acc_trade_price\":%ld.%08d,\"candle_acc_trade_volume\":%d.%08d,"
	    "\"unit\":1}",
	    i ? "," : "", utc, kst, o, h, l, c, (long long)(start + 59) * 1000 + i,
	    (long)i * 1234567 + 89, i * 37, i % 100, i * 1234 % 100000000);
}

static void
build_body(void)
{
	size_t len = 0;

	body[len++] = '[';
	for (int i = 0; i < NCANDLES; i++)
		len += put_candle(body + len, sizeof(body) - len, TO - 60 * (i + 1), i);
	body[len++] = ']';
	body_len = len;
}

static int
setup(void **state)
{
	(void)state;
	build_body();
	return 0;
}

/* An accepted parse: the reader's promises, checked independently. */
static void
check_accepted(int n, size_t cap)
{
	assert_true(n >= 0 && (size_t)n <= cap && (unsigned)n <= q.count);
	for (int i = 0; i < n; i++) {
		const struct candle *c = &out[i];
		double o = strtod(c->num[CN_OPEN], NULL), h = strtod(c->num[CN_HIGH], NULL);
		double l = strtod(c->num[CN_LOW], NULL), cl = strtod(c->num[CN_CLOSE], NULL);

		assert_true(c->start >= 0 && c->start < q.to);
		assert_int_equal(tf_floor(q.tf, c->start), c->start);
		if (i > 0)
			assert_true(c->start < out[i - 1].start);
		assert_true(o > 0 && h > 0 && l > 0 && cl > 0 && isfinite(h));
		assert_true(l <= o && l <= cl && h >= o && h >= cl);
		assert_true(strtod(c->num[CN_ACC_PRICE], NULL) >= 0);
		assert_true(strtod(c->num[CN_ACC_VOLUME], NULL) >= 0);
		assert_true(c->timestamp_ms > 0);
		assert_true(c->unit == 0 || c->unit == 1);
		for (int k = 0; k < CN_COUNT; k++)
			assert_non_null(memchr(c->num[k], '\0', CANDLE_NUM_MAX));
	}
}

/* Parses mut[0..len) with full and small capacity; returns the full count. */
static int
try_body(size_t len)
{
	int n, n3;

	err[0] = 'x';
	n = upbit_parse_candles(mut, len, &q, out, CANDLE_MAX_PER_RESPONSE, err, sizeof(err));
	if (n >= 0)
		check_accepted(n, CANDLE_MAX_PER_RESPONSE);
	else
		assert_true(err[0] != '\0' && memchr(err, '\0', sizeof(err)) != NULL);
	n3 = upbit_parse_candles(mut, len, &q, out, 3, err, sizeof(err));
	if (n3 >= 0)
		check_accepted(n3, 3);
	return n;
}

static void
test_original_is_accepted(void **state)
{
	(void)state;
	memcpy(mut, body, body_len);
	assert_int_equal(try_body(body_len), NCANDLES);
	assert_string_equal(out[0].num[CN_OPEN], "127000000.00000000");
	assert_int_equal(out[NCANDLES - 1].start, TO - 60 * NCANDLES);
}

static void
test_every_truncation(void **state)
{
	size_t accepted = 0;

	(void)state;
	memcpy(mut, body, body_len);
	for (size_t len = 0; len < body_len; len++) {
		/* a body cut anywhere is never a valid array */
		if (picked(len, TRUNC_STRIDE) && try_body(len) >= 0)
			accepted++;
	}
	assert_int_equal(accepted, 0);
}

static void
test_every_bit_flip(void **state)
{
	size_t accepted = 0, total = 0;

	(void)state;
	memcpy(mut, body, body_len);
	for (size_t i = 0; i < body_len; i++) {
		if (!picked(i, FLIP_STRIDE))
			continue;
		for (int b = 0; b < 8; b++) {
			int n;

			mut[i] = (char)(body[i] ^ (1 << b));
			n = try_body(body_len);
			total++;
			if (n >= 0) {
				accepted++;
				/* nothing may vanish: a flip keeps the candle count or fails */
				assert_int_equal(n, NCANDLES);
			}
		}
		mut[i] = body[i];
	}
	print_message("bit flips: %zu mutants, %zu accepted (all re-checked)\n", total, accepted);
	/* digits flipped into other digits stay valid: some must be accepted,
	 * most must not */
	assert_true(accepted > 0 && accepted < total / 2);
}

static void
test_every_byte_replaced(void **state)
{
	static const char subst[] = "[]{},:\"\\-+.eE0 \n\x01\x80\xff";
	size_t total = 0;

	(void)state;
	memcpy(mut, body, body_len);
	/* every byte of the first two candles and the end, all substitutes */
	for (size_t i = 0; i < body_len; i++) {
		if (i >= HEAD_BYTES && i + 40 < body_len)
			continue;
		for (size_t s = 0; s < sizeof(subst) - 1; s++) {
			mut[i] = subst[s];
			(void)try_body(body_len);
			total++;
		}
		mut[i] = body[i];
	}
	assert_true(total > 1000);
}

static void
test_trailing_bytes(void **state)
{
	static const char *const tails[] = { "x",   ",",  "]",    "[]",   "{}",   "\0",     "0",
		                             ",{}", "\"", "null", "\xff", "]]]]", " \n\t x" };

	(void)state;
	memcpy(mut, body, body_len);
	for (size_t t = 0; t < sizeof(tails) / sizeof(tails[0]); t++) {
		size_t tl = t == 5 ? 1 : strlen(tails[t]);

		memcpy(mut + body_len, tails[t], tl);
		assert_int_equal(try_body(body_len + tl), -1);
	}
	/* trailing whitespace is fine */
	/* a byte buffer with a length, not a C string */
	memcpy(mut + body_len, " \r\n\t", 4); /* NOLINT(bugprone-not-null-terminated-result) */
	assert_int_equal(try_body(body_len + 4), NCANDLES);
}

static void
test_huge_lengths(void **state)
{
	static char big[UPBIT_BODY_MAX_BYTES + 2];
	static char num[4200 + 64];
	size_t len;

	(void)state;
	/* a body over the size limit is refused before reading */
	memset(big, ' ', sizeof(big));
	big[0] = '[';
	big[sizeof(big) - 1] = ']';
	assert_int_equal(upbit_parse_candles(big, sizeof(big), &q, out, CANDLE_MAX_PER_RESPONSE,
	                                     err, sizeof(err)),
	                 -1);
	/* deep nesting in a skipped field, and a huge string and number */
	len = (size_t)snprintf(mut, sizeof(mut), "[{\"x\":");
	for (int i = 0; i < 5000 && len < 10000; i++)
		mut[len++] = '[';
	assert_int_equal(try_body(len), -1);
	len = (size_t)snprintf(mut, sizeof(mut), "[{\"market\":\"");
	memset(mut + len, 'A', 5000);
	len += 5000;
	len += (size_t)snprintf(mut + len, 8, "\"}]");
	assert_int_equal(try_body(len), -1);
	memset(num, '9', sizeof(num) - 1);
	num[sizeof(num) - 1] = '\0';
	len = (size_t)snprintf(mut, sizeof(mut), "[{\"opening_price\":%s}]", num);
	assert_int_equal(try_body(len), -1);
	/* more candles than asked */
	{
		const struct upbit_query q2 = { "KRW-BTC", TF_1M, TO, 199 };
		memcpy(mut, body, body_len);
		assert_int_equal(upbit_parse_candles(mut, body_len, &q2, out,
		                                     CANDLE_MAX_PER_RESPONSE, err, sizeof(err)),
		                 -1);
	}
}

static void
test_error_envelope_mutations(void **state)
{
	static const char env[] =
	    "{\"error\":{\"name\":418,\"message\":\"Too many requests. You are blocked for 30 seconds.\"}}";
	char m[sizeof(env) + 8];
	struct upbit_error e;

	(void)state;
	for (size_t len = 0; len <= sizeof(env) - 1; len++) {
		memcpy(m, env, len);
		assert_int_equal(upbit_parse_error(m, len, &e), len == sizeof(env) - 1 ? 0 : -1);
	}
	assert_int_equal(e.code, 418);
	assert_int_equal(upbit_block_ms(e.message), 30000);
	for (size_t i = 0; i < sizeof(env) - 1; i++) {
		for (int b = 0; b < 8; b++) {
			memcpy(m, env, sizeof(env));
			m[i] = (char)(m[i] ^ (1 << b));
			if (upbit_parse_error(m, sizeof(env) - 1, &e) == 0) {
				assert_non_null(memchr(e.name, '\0', sizeof(e.name)));
				assert_non_null(memchr(e.message, '\0', sizeof(e.message)));
				assert_true(upbit_block_ms(e.message) <= 86400u * 1000u);
			}
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_original_is_accepted),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_every_bit_flip),
		cmocka_unit_test(test_every_byte_replaced),
		cmocka_unit_test(test_trailing_bytes),
		cmocka_unit_test(test_huge_lengths),
		cmocka_unit_test(test_error_envelope_mutations),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
