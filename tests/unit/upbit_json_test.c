/* upbit_json_test: the fetcher's Upbit answer reader (fetcher/upbit_json.c):
 * valid bodies of every endpoint kind with exact decimal text kept, and the
 * rejection of truncated, malformed and semantically wrong bodies; the error
 * envelope, the 418 block time and the Remaining-Req header. Ends with a
 * parse-speed figure (printed, not asserted). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "tf.h"
#include "timeutil.h"
#include "upbit_json.h"

#define D 86400
#define BODY_MAX (256 * 1024)

static struct candle out[CANDLE_MAX_PER_RESPONSE + 8];
static char err[256];

static int64_t
T(int64_t y, unsigned mo, unsigned d, int h, int mi, int s)
{
	return tf_days_from_civil(y, mo, d) * D + h * 3600 + mi * 60 + s;
}

/* One candle of a generated body; NULL strings take the defaults. */
struct spec {
	const char *market;
	int64_t start;
	int64_t kst_delta; /* added to start + 9 h */
	const char *open, *high, *low, *close, *ts, *vol;
	const char *extra; /* appended inside the object, with its comma */
};

static size_t
build(char *buf, size_t cap, const struct spec *s, int n, int unit)
{
	size_t len = 0;

	len += (size_t)snprintf(buf + len, cap - len, "[");
	for (int i = 0; i < n; i++) {
		char utc[TIME_TEXT_LEN], kst[TIME_TEXT_LEN], u[32] = "";

		time_format(s[i].start, utc);
		time_format(s[i].start + 9 * 3600 + s[i].kst_delta, kst);
		if (unit > 0)
			snprintf(u, sizeof(u), ",\"unit\":%d", unit);
		len += (size_t)snprintf(
		    buf + len, cap - len,
		    "%s{\"market\":\"%s\",\"candle_date_time_utc\":\"%s\","
		    "\"candle_date_time_kst\":\"%s\",\"opening_price\":%s,"
		    "\"high_price\":%s,\"low_price\":%s,\"trade_price\":%s,"
		    "\"timestamp\":%s,\"candle_acc_trade_price\":242634976840.02426000,"
		    "\"candle_acc_trade_volume\":%s%s%s}",
		    i ? "," : "", s[i].market ? s[i].market : "KRW-BTC", utc, kst,
		    s[i].open ? s[i].open : "162483000.00000000",
		    s[i].high ? s[i].high : "163800000.00000000",
		    s[i].low ? s[i].low : "162034000.00000000",
		    s[i].close ? s[i].close : "163158000.00000000",
		    s[i].ts ? s[i].ts : "1753833599704", s[i].vol ? s[i].vol : "1487.53432374", u,
		    s[i].extra ? s[i].extra : "");
		assert_true(len < cap);
	}
	len += (size_t)snprintf(buf + len, cap - len, "]");
	assert_true(len < cap);
	return len;
}

/* n descending minute candles below to (step = tf length). */
static void
specs_desc(struct spec *s, int n, enum tf tf, int64_t to)
{
	memset(s, 0, sizeof(*s) * (size_t)n);
	for (int i = 0; i < n; i++)
		s[i].start = tf_add(tf, tf_floor(tf, to - 1), -i);
}

static int
parse(const char *body, size_t len, const char *market, enum tf tf, int64_t to, unsigned count)
{
	struct upbit_query q = { market, tf, to, count };

	return upbit_parse_candles(body, len, &q, out, CANDLE_MAX_PER_RESPONSE, err, sizeof(err));
}

static int
parse_s(const char *body, enum tf tf, int64_t to, unsigned count)
{
	return parse(body, strlen(body), "KRW-BTC", tf, to, count);
}

/* Expects a rejection whose reason contains what; len SIZE_MAX: strlen. */
static void
reject(const char *body, size_t len, enum tf tf, int64_t to, unsigned count, const char *what)
{
	int n;

	if (len == SIZE_MAX)
		len = strlen(body);
	n = parse(body, len, "KRW-BTC", tf, to, count);
	if (n != -1 || strstr(err, what) == NULL)
		fail_msg("want rejection with \"%s\", got %d \"%s\" for %.*s", what, n, err,
		         (int)(len > 300 ? 300 : len), body);
}

static void
test_minutes_valid(void **state)
{
	static char body[BODY_MAX];
	struct spec s[200];
	int64_t to = T(2026, 11, 20, 10, 40, 0);
	size_t len;

	(void)state;
	specs_desc(s, 200, TF_5M, to);
	len = build(body, sizeof(body), s, 200, 5);
	assert_int_equal(parse(body, len, "KRW-BTC", TF_5M, to, 200), 200);
	assert_int_equal(out[0].start, T(2026, 11, 20, 10, 35, 0));
	assert_int_equal(out[199].start, to - 200 * 300);
	assert_int_equal(out[0].unit, 5);
	assert_int_equal(out[0].timestamp_ms, 1753833599704LL);
	assert_string_equal(out[0].num[CN_OPEN], "162483000.00000000");
	assert_string_equal(out[0].num[CN_ACC_PRICE], "242634976840.02426000");
	assert_string_equal(out[0].num[CN_ACC_VOLUME], "1487.53432374");
	assert_string_equal(out[0].num[CN_PREV_CLOSE], "");
	assert_string_equal(out[0].first_day, "");
	/* fewer than count is fine (history start or sparse market) */
	assert_int_equal(parse(body, len, "KRW-BTC", TF_5M, to, 200), 200);
	assert_int_equal(parse_s("[]", TF_1M, to, 200), 0);
	assert_int_equal(parse_s(" \r\n[ ]\t\n", TF_1M, to, 200), 0);
	/* unaligned to: the straddling candle is returned whole */
	specs_desc(s, 2, TF_5M, to);
	len = build(body, sizeof(body), s, 2, 5);
	assert_int_equal(parse(body, len, "KRW-BTC", TF_5M, to + 17, 200), 2);
}

static void
test_days_valid(void **state)
{
	/* The official docs' transcript, plus a second candle, a null extra
	 * and unknown fields of every type. */
	static const char body[] =
	    "[{\"market\":\"KRW-BTC\",\"candle_date_time_utc\":\"2025-07-29T00:00:00\","
	    "\"candle_date_time_kst\":\"2025-07-29T09:00:00\","
	    "\"opening_price\":162483000.00000000,\"high_price\":163800000.00000000,"
	    "\"low_price\":162034000.00000000,\"trade_price\":163158000.00000000,"
	    "\"timestamp\":1753833599704,\"candle_acc_trade_price\":242634976840.02426000,"
	    "\"candle_acc_trade_volume\":1487.53432374,"
	    "\"prev_closing_price\":162483000.00000000,"
	    "\"change_price\":675000.00000000,\"change_rate\":0.0041542808,"
	    "\"converted_trade_price\":null},\n"
	    " {\"market\":\"KRW\\u002dBTC\",\"candle_date_time_utc\":\"2025-07-28T00:00:00\","
	    "\"candle_date_time_kst\":\"2025-07-28T09:00:00\","
	    "\"opening_price\":161000000,\"high_price\":1.63e8,"
	    "\"low_price\":160000000.5,\"trade_price\":162483000.00000000,"
	    "\"timestamp\":1753747199000,\"candle_acc_trade_price\":0,"
	    "\"candle_acc_trade_volume\":0,\"prev_closing_price\":161000000.00000000,"
	    "\"change_price\":-1483000.00000000,\"change_rate\":-0.0091,"
	    "\"converted_trade_price\":162483000.0,"
	    "\"x_obj\":{\"a\":[1,2,{\"b\":null}],\"c\":\"\\ud83d\\ude00 \\\"q\\\" \\n\"},"
	    "\"x_true\":true,\"x_false\":false,\"x_neg\":-0.5e-3,\"x_arr\":[],"
	    "\"x_kr\":\"\xeb\xb9\x84\xed\x8a\xb8\xec\xbd\x94\xec\x9d\xb8\"}]";

	(void)state;
	assert_int_equal(parse_s(body, TF_1D, T(2025, 7, 30, 0, 0, 0) - 9 * 3600, 2), 2);
	assert_int_equal(out[0].start, T(2025, 7, 29, 0, 0, 0));
	assert_string_equal(out[0].num[CN_PREV_CLOSE], "162483000.00000000");
	assert_string_equal(out[0].num[CN_CHANGE_PRICE], "675000.00000000");
	assert_string_equal(out[0].num[CN_CHANGE_RATE], "0.0041542808");
	assert_string_equal(out[0].num[CN_CONVERTED], "");
	assert_int_equal(out[0].unit, 0);
	assert_int_equal(out[1].start, T(2025, 7, 28, 0, 0, 0));
	assert_string_equal(out[1].num[CN_HIGH], "1.63e8");
	assert_string_equal(out[1].num[CN_ACC_VOLUME], "0");
	assert_string_equal(out[1].num[CN_CHANGE_PRICE], "-1483000.00000000");
	assert_string_equal(out[1].num[CN_CONVERTED], "162483000.0");
}

static void
test_weeks_seconds_valid(void **state)
{
	static char body[8192];
	struct spec s[3];
	int64_t to = T(2026, 11, 26, 0, 0, 0); /* a Thursday */
	size_t len;

	(void)state;
	specs_desc(s, 3, TF_1W, to);
	s[0].extra = ",\"first_day_of_period\":\"2026-11-23\"";
	s[1].extra = ",\"first_day_of_period\":\"2026-11-16\"";
	s[2].extra = ",\"first_day_of_period\":\"2026-11-09\"";
	len = build(body, sizeof(body), s, 3, 0);
	assert_int_equal(parse(body, len, "KRW-BTC", TF_1W, to, 200), 3);
	assert_int_equal(out[0].start, T(2026, 11, 23, 0, 0, 0));
	assert_string_equal(out[0].first_day, "2026-11-23");
	assert_string_equal(out[2].first_day, "2026-11-09");

	to = T(2026, 11, 20, 10, 40, 7);
	specs_desc(s, 3, TF_1S, to);
	len = build(body, sizeof(body), s, 3, 0);
	assert_int_equal(parse(body, len, "KRW-BTC", TF_1S, to, 3), 3);
	assert_int_equal(out[0].start, to - 1);
	assert_int_equal(out[2].start, to - 3);

	/* months and years */
	to = T(2026, 11, 1, 0, 0, 0);
	specs_desc(s, 2, TF_1MO, to);
	len = build(body, sizeof(body), s, 2, 0);
	assert_int_equal(parse(body, len, "KRW-BTC", TF_1MO, to, 2), 2);
	assert_int_equal(out[1].start, T(2026, 9, 1, 0, 0, 0));
}

/* Every proper prefix of a valid body is rejected, never accepted. */
/* Real hourly candles carry a `timestamp` (last trade) up to 54 ms after
 * the candle's end: accepted, kept as sent, filed under its own start. */
static void
test_late_timestamp(void **state)
{
	static char body[BODY_MAX];
	struct spec s[3];
	char late[3][32];
	int64_t to = T(2026, 11, 20, 10, 0, 0);
	size_t len;

	(void)state;
	specs_desc(s, 3, TF_1H, to);
	for (int i = 0; i < 3; i++) {
		/* 0, 1 and 54 ms after the end: exactly the next candle's start too */
		static const int lag[3] = { 54, 0, 1 };

		snprintf(late[i], sizeof(late[i]), "%lld",
		         (long long)(s[i].start + 3600) * 1000 + lag[i]);
		s[i].ts = late[i];
	}
	len = build(body, sizeof(body), s, 3, 60);
	assert_int_equal(parse(body, len, "KRW-BTC", TF_1H, to, 200), 3);
	assert_int_equal(out[0].start, T(2026, 11, 20, 9, 0, 0));
	assert_int_equal(out[0].timestamp_ms, T(2026, 11, 20, 10, 0, 0) * 1000 + 54);
	assert_int_equal(out[1].start, T(2026, 11, 20, 8, 0, 0));
	assert_int_equal(out[1].timestamp_ms, T(2026, 11, 20, 9, 0, 0) * 1000);
	assert_int_equal(out[2].timestamp_ms, T(2026, 11, 20, 8, 0, 0) * 1000 + 1);
	/* the newest candle ends at `to`: its late timestamp lies past `to` */
	assert_true(out[0].timestamp_ms > to * 1000);
}

static void
test_truncated(void **state)
{
	static char body[BODY_MAX];
	struct spec s[3];
	int64_t to = T(2026, 11, 20, 10, 40, 0);
	size_t len;

	(void)state;
	specs_desc(s, 3, TF_1M, to);
	s[1].extra = ",\"x\":{\"k\":[\"\\u00e9\\ud83d\\ude00\",true,null,-1.5e+3]}";
	s[2].extra = ",\"prev_closing_price\":1.0,\"first_day_of_period\":\"2026-11-20\"";
	len = build(body, sizeof(body), s, 3, 1);
	assert_int_equal(parse(body, len, "KRW-BTC", TF_1M, to, 200), 3);
	for (size_t cut = 0; cut < len; cut++) {
		char *copy = malloc(cut + 1); /* exact size: ASan sees overreads */

		assert_non_null(copy);
		memcpy(copy, body, cut);
		assert_int_equal(parse(copy, cut, "KRW-BTC", TF_1M, to, 200), -1);
		assert_true(err[0] != '\0');
		free(copy);
	}
}

static void
test_garbage(void **state)
{
	static const char *bad[] = {
		"<html><body>502 Bad Gateway</body></html>",
		"null",
		"{}",
		"[1]",
		"[{}]",
		"[[]]",
		"[\"x\"]",
		"[]x",
		"[] []",
		"[],",
		"[,]",
		"[{},]",
		"Too many API requests.",
		"{\"error\":{\"name\":404,\"message\":\"Code not found\"}}",
		"[{\"market\":\"KRW-BTC\"",
		"[{\"market\" \"KRW-BTC\"}]",
		"[{\"market\":'KRW-BTC'}]",
		"[{\"market\":\"KRW-BTC\\x\"}]",
		"[{\"market\":\"KRW-\\ud800BTC\"}]",
		"[{\"market\":\"KRW-\\udc00\"}]",
		"[{\"market\":\"KRW-\xff\"}]",
		"[{\"market\":\"KRW-\xc0\xaf\"}]",
		"[{\"market\":\"KRW\tBTC\"}]",
		"[{\"x\":01}]",
		"[{\"x\":1.}]",
		"[{\"x\":.5}]",
		"[{\"x\":1e}]",
		"[{\"x\":-}]",
		"[{\"x\":+1}]",
		"[{\"x\":NaN}]",
		"[{\"x\":Infinity}]",
		"[{\"x\":tru}]",
		"[{\"x\":nulll}]",
		"[{\"x\":1x}]",
		"[{\"x\":0x10}]",
		"\xef\xbb\xbf[]",
		"",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse_s(bad[i], TF_1M, T(2026, 1, 1, 0, 0, 0), 200) != -1)
			fail_msg("accepted garbage #%zu: %s", i, bad[i]);
		assert_true(err[0] != '\0');
	}
	/* NUL bytes inside */
	assert_int_equal(parse("[\0]", 3, "KRW-BTC", TF_1M, 100000, 200), -1);
	/* random bytes never crash */
	srand(7);
	for (int round = 0; round < 2000; round++) {
		char buf[64];
		size_t n = (size_t)(rand() % (int)sizeof(buf));

		for (size_t i = 0; i < n; i++)
			buf[i] =
			    (char)(rand() % 4 ? "[]{},:\"0123456789.-e tnul"[rand() % 26] : rand());
		(void)parse(buf, n, "KRW-BTC", TF_1M, 100000, 200);
	}
}

/* One valid 3-candle 1m body, then one defect at a time. */
static void
test_semantic(void **state)
{
	static char body[BODY_MAX];
	struct spec s[5];
	int64_t to = T(2026, 11, 20, 10, 40, 0);
	size_t len;

#define CASE(mutate, count, what)                          \
	do {                                               \
		specs_desc(s, 3, TF_1M, to);               \
		mutate;                                    \
		len = build(body, sizeof(body), s, 3, 1);  \
		reject(body, len, TF_1M, to, count, what); \
	} while (0)

	(void)state;
	specs_desc(s, 3, TF_1M, to);
	len = build(body, sizeof(body), s, 3, 1);
	assert_int_equal(parse(body, len, "KRW-BTC", TF_1M, to, 3), 3);

	CASE(s[1].market = "KRW-ETH", 200, "market KRW-ETH, asked KRW-BTC");
	CASE(s[0].market = "KRW-BTCX", 200, "market");
	CASE(s[0].market = "krw-btc", 200, "market");
	CASE(s[1].start += 30, 200, "not aligned to 1m");
	CASE((s[0].start = s[1].start, s[1].start = to - 60), 200, "not older");
	CASE(s[2].start = s[1].start, 200, "duplicate start");
	CASE((s[0].start = to, s[1].start = to - 60, s[2].start = to - 120), 200, "not before to");
	CASE((void)0, 2, "more than 2 candles");
	CASE(s[1].low = "162483000.01", 200, "low_price above");
	CASE((s[1].open = "163500000", s[1].low = "163158000.5"), 200, "low_price above");
	CASE(s[2].high = "163000000", 200, "high_price below");
	CASE(s[0].open = "0", 200, "not > 0");
	CASE((s[0].low = "-1", s[0].open = "-1"), 200, "not > 0");
	CASE(s[1].kst_delta = 3600, 200, "candle_date_time_kst");
	CASE(s[1].vol = "-0.00000001", 200, "candle_acc_trade_volume is negative");
	CASE(s[0].ts = "1753833599704.5", 200, "timestamp");
	CASE(s[0].ts = "1.7e12", 200, "timestamp");
	CASE(s[0].ts = "\"1753833599704\"", 200, "timestamp");
	CASE(s[0].ts = "0", 200, "timestamp");
	CASE(s[0].ts = "-5", 200, "timestamp");
	CASE(s[0].open = "\"162483000\"", 200, "opening_price is not a number");
	CASE(s[0].open = "null", 200, "opening_price is not a number");
	CASE(s[0].open = "1e999", 200, "not > 0");
	CASE(s[0].high = "1234567890123456789012345678901234567890.0", 200, "longer than");
	CASE(s[2].extra = ",\"market\":\"KRW-BTC\"", 200, "duplicate field market");
	CASE(s[2].extra = ",\"unit\":3", 200, "duplicate field unit");
	CASE(s[2].extra = ",\"first_day_of_period\":\"2026-13-01\"", 200, "first_day_of_period");
	CASE(s[2].extra = ",\"first_day_of_period\":\"2026-11-01T00:00:00\"", 200,
	     "first_day_of_period");
	CASE(s[2].extra = ",\"change_rate\":true", 200, "change_rate is not a number");
	CASE(s[0].start = T(1969, 12, 31, 23, 59, 0), 200, "before 1970");

	/* the wrong unit for the timeframe */
	specs_desc(s, 3, TF_1M, to);
	len = build(body, sizeof(body), s, 3, 5);
	reject(body, len, TF_1M, to, 200, "unit 5 for timeframe 1m");

	/* a missing field */
	reject("[{\"market\":\"KRW-BTC\",\"candle_date_time_utc\":\"2026-11-20T10:39:00\","
	       "\"candle_date_time_kst\":\"2026-11-20T19:39:00\",\"opening_price\":1,"
	       "\"high_price\":1,\"low_price\":1,\"trade_price\":1,\"timestamp\":1,"
	       "\"candle_acc_trade_price\":1}]",
	       SIZE_MAX, TF_1M, to, 200, "missing candle_acc_trade_volume");
	/* time text shapes other than Upbit's */
	specs_desc(s, 1, TF_1M, to);
	len = build(body, sizeof(body), s, 1, 1);
	{
		char *p = strstr(body, "2026-11-20T10:39:00");

		assert_non_null(p);
		p[10] = ' ';
		reject(body, len, TF_1M, to, 200, "bad candle_date_time_utc");
	}
#undef CASE
}

static void
test_limits(void **state)
{
	static char body[BODY_MAX];
	struct spec s[1];
	int64_t to = T(2026, 11, 20, 10, 40, 0);
	char *deep, *huge;
	size_t len;

	(void)state;
	/* nesting inside an unknown field: 15 levels in all pass, more fail */
	deep = calloc(1, 4096);
	huge = calloc(1, 16384);
	assert_non_null(deep);
	assert_non_null(huge);
	for (int depth = 1; depth <= 20; depth++) {
		size_t n = (size_t)snprintf(deep, 4096, ",\"x\":");

		for (int i = 0; i < depth; i++)
			n += (size_t)snprintf(deep + n, 4096 - n, "%s", i % 2 ? "[" : "{\"k\":");
		n += (size_t)snprintf(deep + n, 4096 - n, "1");
		for (int i = depth - 1; i >= 0; i--)
			deep[n++] = i % 2 ? ']' : '}';
		deep[n] = '\0';
		specs_desc(s, 1, TF_1M, to);
		s[0].extra = deep;
		len = build(body, sizeof(body), s, 1, 1);
		if (depth <= UPBIT_DEPTH_MAX - 2)
			assert_int_equal(parse(body, len, "KRW-BTC", TF_1M, to, 200), 1);
		else
			reject(body, len, TF_1M, to, 200, "nesting deeper");
	}
	/* a string just within the limit passes, a longer one fails */
	for (int k = 0; k < 2; k++) {
		size_t n = (size_t)snprintf(huge, 16384, ",\"note\":\"");

		for (int i = 0; i < UPBIT_STRING_MAX_BYTES + k; i++)
			huge[n++] = 'a';
		huge[n++] = '"';
		huge[n] = '\0';
		specs_desc(s, 1, TF_1M, to);
		s[0].extra = huge;
		len = build(body, sizeof(body), s, 1, 1);
		if (k == 0)
			assert_int_equal(parse(body, len, "KRW-BTC", TF_1M, to, 200), 1);
		else
			reject(body, len, TF_1M, to, 200, "longer than 4096 bytes");
	}
	/* a long key is simply unknown */
	huge[0] = ',';
	huge[1] = '"';
	memset(huge + 2, 'k', 300);
	snprintf(huge + 302, 16, "\":1");
	specs_desc(s, 1, TF_1M, to);
	s[0].extra = huge;
	len = build(body, sizeof(body), s, 1, 1);
	assert_int_equal(parse(body, len, "KRW-BTC", TF_1M, to, 200), 1);
	/* the whole body is capped */
	assert_int_equal(parse(body, UPBIT_BODY_MAX_BYTES + 1, "KRW-BTC", TF_1M, to, 200), -1);
	assert_non_null(strstr(err, "larger than"));
	free(deep);
	free(huge);
}

static void
test_error_envelope(void **state)
{
	struct upbit_error e;
	static const char num[] = "{\"error\":{\"name\":404,\"message\":\"Code not found\"}}";
	static const char str[] =
	    " {\"error\" : {\"message\":\"Too many API requests.\",\"name\":\"too_many_requests\"} }\n";
	static const char kr[] =
	    "{\"error\":{\"name\":400,\"message\":\"\\uc798\\ubabb\\ub41c \\\"param\\\"\\n\"},\"x\":[1]}";

	(void)state;
	memset(&e, 0, sizeof(e));
	assert_int_equal(upbit_parse_error(num, strlen(num), &e), 0);
	assert_true(e.has_code);
	assert_int_equal(e.code, 404);
	assert_string_equal(e.name, "404");
	assert_string_equal(e.message, "Code not found");

	assert_int_equal(upbit_parse_error(str, strlen(str), &e), 0);
	assert_false(e.has_code);
	assert_string_equal(e.name, "too_many_requests");
	assert_string_equal(e.message, "Too many API requests.");

	assert_int_equal(upbit_parse_error(kr, strlen(kr), &e), 0);
	assert_int_equal(e.code, 400);
	assert_string_equal(e.message, "\xec\x9e\x98\xeb\xaa\xbb\xeb\x90\x9c \"param\" ");

	/* not envelopes: *out untouched */
	static const char *bad[] = { "Too many API requests.",
		                     "[]",
		                     "{}",
		                     "{\"error\":{}}",
		                     "{\"error\":\"x\"}",
		                     "{\"error\":{\"name\":404}",
		                     "{\"error\":{\"name\":404}} x",
		                     "",
		                     "<html>418</html>",
		                     "{\"error\":{\"name\":404,\"message\":\"Code not fo" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&e, 0x5a, sizeof(e));
		assert_int_equal(upbit_parse_error(bad[i], strlen(bad[i]), &e), -1);
		assert_int_equal(e.has_code, 0x5a5a5a5a);
	}
	/* every prefix of a valid envelope is rejected */
	for (size_t cut = 0; cut < strlen(num); cut++)
		assert_int_equal(upbit_parse_error(num, cut, &e), -1);
	/* a long message is truncated, not rejected */
	{
		char big[1024];
		int n = snprintf(big, sizeof(big), "{\"error\":{\"name\":418,\"message\":\"");

		memset(big + n, 'm', 500);
		snprintf(big + n + 500, sizeof(big) - (size_t)n - 500, "\"}}");
		assert_int_equal(upbit_parse_error(big, strlen(big), &e), 0);
		assert_int_equal(strlen(e.message), UPBIT_ERR_MESSAGE_MAX - 1);
		assert_int_equal(strspn(e.message, "m"), UPBIT_ERR_MESSAGE_MAX - 1);
	}
}

/* The tokenizer copies plain ASCII eight bytes at a time: a special byte (an
 * escape, a UTF-8 sequence, a quote, a control byte) at every offset of a
 * word is still found, decoded or rejected. */
static void
test_plain_runs(void **state)
{
	static const char *const raw[] = { "\\n", "\xc3\xa9", "\\\"", "\\u00e9", "\x7f" };
	static const char *const dec[] = { "\n", "\xc3\xa9", "\"", "\xc3\xa9", "\x7f" };
	struct upbit_error e;
	char body[256], want[64];

	(void)state;
	for (int k = 0; k < 20; k++) {
		for (size_t s = 0; s < sizeof(raw) / sizeof(raw[0]); s++) {
			int n = snprintf(
			    body, sizeof(body),
			    "{\"error\":{\"name\":\"x\",\"message\":\"%.*s%sbbbbbbbbbbb\"}}", k,
			    "aaaaaaaaaaaaaaaaaaaaaaaa", raw[s]);

			snprintf(want, sizeof(want), "%.*s%sbbbbbbbbbbb", k,
			         "aaaaaaaaaaaaaaaaaaaaaaaa", dec[s]);
			if (want[k] == '\n' || want[k] == '\x7f')
				want[k] = ' '; /* control characters become spaces */
			assert_int_equal(upbit_parse_error(body, (size_t)n, &e), 0);
			assert_string_equal(e.message, want);
		}
		/* a raw control byte at offset k is rejected */
		snprintf(body, sizeof(body),
		         "{\"error\":{\"message\":\"%.*s\x01"
		         "bbbbbbbbbbb\"}}",
		         k, "aaaaaaaaaaaaaaaaaaaaaaaa");
		assert_int_equal(upbit_parse_error(body, strlen(body), &e), -1);
	}
}

/* Unusual but valid or invalid JSON: every escape, surrogate pairs in
 * upper-case hex, \u0000 (skipped strings only), out-of-range extras, the
 * error envelope's odd shapes. */
static void
test_unusual_json(void **state)
{
	static char body[BODY_MAX];
	struct spec s[1];
	struct upbit_error e;
	int64_t to = T(2026, 11, 20, 10, 40, 0);
	size_t len;

	(void)state;
	specs_desc(s, 1, TF_1M, to);
	s[0].extra = ",\"x\":\"\\\\ \\/ \\b \\f \\r \\t \\uD83D\\uDE00 \\u00E9 \\u0000\"";
	len = build(body, sizeof(body), s, 1, 1);
	assert_int_equal(parse(body, len, "KRW-BTC", TF_1M, to, 200), 1);
	/* a kept string must not hold \u0000 */
	reject("[{\"market\":\"KRW\\u0000BTC\"}]", SIZE_MAX, TF_1M, to, 200, "\\u0000 in a kept");
	/* a high surrogate followed by something other than a low one */
	reject("[{\"x\":\"\\ud83d\\u0041\"}]", SIZE_MAX, TF_1M, to, 200, "bad surrogate pair");
	reject("[{\"x\":\"\\ud83d\\u00\"}]", SIZE_MAX, TF_1M, to, 200, "\\u escape");
	reject("[{\"x\":\"\\uDFFF\"}]", SIZE_MAX, TF_1M, to, 200, "lone low surrogate");
	reject("[{\"x\":\"\\ud83d\\n\"}]", SIZE_MAX, TF_1M, to, 200, "lone high surrogate");
	reject("[{\"x\":\"\\ud83d", SIZE_MAX, TF_1M, to, 200, "lone high surrogate");
	reject("[{\"x\":\"\\ud83d\\ue000\"}]", SIZE_MAX, TF_1M, to, 200, "bad surrogate pair");
	reject("[{\"x\":\"\\\0\"}]", 11, TF_1M, to, 200, "bad escape");
	/* a market with a control character is shown with '?' */
	reject("[{\"market\":\"KRW-\\u0001\"}]", SIZE_MAX, TF_1M, to, 200, "market KRW-?, asked");
	/* a timestamp of 19 digits */
	specs_desc(s, 1, TF_1M, to);
	s[0].ts = "1234567890123456789";
	len = build(body, sizeof(body), s, 1, 1);
	reject(body, len, TF_1M, to, 200, "timestamp is not a positive integer");
	/* the unit is checked for minute timeframes only */
	specs_desc(s, 1, TF_1D, to);
	len = build(body, sizeof(body), s, 1, 7);
	assert_int_equal(parse(body, len, "KRW-BTC", TF_1D, to, 200), 1);
	specs_desc(s, 1, TF_1S, to);
	len = build(body, sizeof(body), s, 1, 7);
	assert_int_equal(parse(body, len, "KRW-BTC", TF_1S, to, 200), 1);
	/* no error buffer: only the result */
	{
		struct upbit_query q = { "KRW-BTC", TF_1M, to, 200 };

		assert_int_equal(upbit_parse_candles("[x", 2, &q, out, 200, NULL, 0), -1);
		assert_int_equal(upbit_parse_candles(NULL, 0, &q, out, 200, err, sizeof(err)), -1);
		assert_string_equal(err, "empty body");
	}
	/* an optional number too large for a double */
	specs_desc(s, 1, TF_1M, to);
	s[0].extra = ",\"prev_closing_price\":1e999";
	len = build(body, sizeof(body), s, 1, 1);
	reject(body, len, TF_1M, to, 200, "a number out of range");
	/* unit out of range, a market longer than any */
	specs_desc(s, 1, TF_1M, to);
	s[0].extra = ",\"unit\":1441";
	len = build(body, sizeof(body), s, 1, 0);
	reject(body, len, TF_1M, to, 200, "unit 1441 out of range");
	specs_desc(s, 1, TF_1M, to);
	s[0].market = "KRW-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	len = build(body, sizeof(body), s, 1, 1);
	reject(body, len, TF_1M, to, 200, "market KRW-AAAAAAAAAAAAAAAAAAAA");
	/* a body that is only blanks */
	reject(" \n", SIZE_MAX, TF_1M, to, 200, "truncated");

	/* error envelopes: a long numeric name is cut, a name that is not a
	 * plain integer has no code, a character that does not fit is left out whole */
	{
		static const char big[] =
		    "{\"error\":{\"name\":123456789012345678901234567890123456789"
		    "012345678901234567890,\"message\":\"m\"}}";
		static const char neg[] = "{\"error\":{\"name\":-1.5}}";
		static const char bad[] = "{\"error\":{\"name\":\"x\\q\"}}";
		char cut[256];
		int n = snprintf(cut, sizeof(cut), "{\"error\":{\"message\":\"");

		assert_int_equal(upbit_parse_error(big, strlen(big), &e), 0);
		assert_int_equal(strlen(e.name), UPBIT_ERR_NAME_MAX - 1);
		assert_int_equal(upbit_parse_error(neg, strlen(neg), &e), 0);
		assert_false(e.has_code);
		assert_string_equal(e.name, "-1.5");
		assert_int_equal(upbit_parse_error(bad, strlen(bad), &e), -1);
		assert_int_equal(upbit_parse_error(NULL, 0, &e), -1);
		assert_int_equal(upbit_parse_error(big, UPBIT_BODY_MAX_BYTES + 1, &e), -1);
		/* 118 ASCII bytes then a 3-byte sequence: one byte fits, none is kept */
		memset(cut + n, 'a', UPBIT_ERR_MESSAGE_MAX - 2);
		n += UPBIT_ERR_MESSAGE_MAX - 2;
		n += snprintf(cut + n, sizeof(cut) - (size_t)n, "\xec\x9e\x98\"}}");
		assert_int_equal(upbit_parse_error(cut, (size_t)n, &e), 0);
		assert_int_equal(strlen(e.message), UPBIT_ERR_MESSAGE_MAX - 2);
	}
}

static void
test_block_time(void **state)
{
	(void)state;
	assert_int_equal(upbit_block_ms("Too many requests. You are blocked for 30 seconds."),
	                 30000);
	assert_int_equal(upbit_block_ms("blocked for 1 second"), 1000);
	assert_int_equal(upbit_block_ms("418: blocked 15s"), 15000);
	assert_int_equal(upbit_block_ms("Error 418. Retry after 45 sec."), 45000);
	assert_int_equal(upbit_block_ms("blocked for 2 minutes"), 120000);
	assert_int_equal(upbit_block_ms("blocked for 600 SECONDS"), 600000);
	assert_int_equal(upbit_block_ms("blocked for 99999999 seconds"), 86400000);
	assert_int_equal(upbit_block_ms("Too many requests 418."), 0);
	assert_int_equal(upbit_block_ms("code 7 status"), 0);
	assert_int_equal(upbit_block_ms("blocked"), 0);
	assert_int_equal(upbit_block_ms("retry in 5 secondsx, or 7 min"), 420000);
	assert_int_equal(upbit_block_ms("wait 5 secondsssssssss or 2 s"), 2000);
	assert_int_equal(upbit_block_ms(""), 0);
	assert_int_equal(upbit_block_ms(NULL), 0);
}

static void
test_remaining_req(void **state)
{
	static const char *h[] = {
		" group=candles; min=600; sec=9\r\n",
		"group=candles; min=600; sec=0",
		"GROUP=Candles;min=600;sec=12",
		"group=candles; min=600; sec=500",
		"group=origin; min=6; sec=0",
		"group=candles; min=600",
		"group=candles; min=600; sec=x",
		"",
		"sec=5",
		"group=candles; sec=-1",
		"group=candles; junk; sec=3",
		"\tgroup=candles;\tsec=4\t",
		"group=candlez; sec=4",
		"group=candles; abcde=1; xyz=2; sec=5",
	};
	static const int want[] = { 9, 0, 12, 127, -1, -1, -1, -1, -1, -1, 3, 4, -1, 5 };

	(void)state;
	for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++)
		if (upbit_remaining_req(h[i], strlen(h[i])) != want[i])
			fail_msg("\"%s\": want %d", h[i], want[i]);
	assert_int_equal(upbit_remaining_req(NULL, 0), -1);
}

static void
test_speed(void **state)
{
	static char body[BODY_MAX];
	struct spec s[200];
	int64_t to = T(2026, 11, 20, 10, 40, 0);
	struct timespec a, b;
	size_t len;
	int rounds = 2000;
	double secs;

	(void)state;
	specs_desc(s, 200, TF_1M, to);
	len = build(body, sizeof(body), s, 200, 1);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < rounds; i++)
		assert_int_equal(parse(body, len, "KRW-BTC", TF_1M, to, 200), 200);
	clock_gettime(CLOCK_MONOTONIC, &b);
	secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	printf("upbit_parse_candles: %.0f candles/s (%zu-byte body of 200 1m candles,"
	       " %.1f us per body, %.0f MB/s)\n",
	       rounds * 200 / secs, len, secs / rounds * 1e6, (double)len * rounds / secs / 1e6);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minutes_valid),
		cmocka_unit_test(test_days_valid),
		cmocka_unit_test(test_weeks_seconds_valid),
		cmocka_unit_test(test_late_timestamp),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_semantic),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_error_envelope),
		cmocka_unit_test(test_plain_runs),
		cmocka_unit_test(test_unusual_json),
		cmocka_unit_test(test_block_time),
		cmocka_unit_test(test_remaining_req),
		cmocka_unit_test(test_speed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
