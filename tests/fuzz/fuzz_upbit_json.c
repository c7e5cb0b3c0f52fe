/*
 * fuzz_upbit_json: libFuzzer entry point for the fetcher's Upbit answer
 * reader (fetcher/upbit_json.c). The first two bytes of an input choose the
 * query (byte 0: timeframe, byte 1: count - 1; `to` is always
 * 2026-10-01T00:00:00Z), the rest is the response body. Every body goes
 * through upbit_parse_candles with that query (and once more with a small
 * output capacity), upbit_parse_error, upbit_block_ms and
 * upbit_remaining_req. Besides never crashing (ASan/UBSan), an accepted
 * candle array must keep the promises of the validation: at most
 * min(count, cap) candles, strictly descending starts, each aligned to the
 * timeframe and before `to`, prices > 0 with low <= open, close <= high,
 * volumes >= 0. A rejected body must leave a reason. Violations abort().
 *
 *   make fuzz FUZZ_SECONDS=60       (builds and runs both fuzzers)
 *   tests/fuzz/fuzz_upbit_json -max_len=65536 tests/fuzz/corpus_json
 * Seed corpus: tests/fuzz/corpus_json (bodies captured from the simulator,
 * with their two query bytes; error envelopes; a 418 body).
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tf.h"
#include "upbit_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_TO 1790812800 /* 2026-10-01T00:00:00Z */

static struct candle out[CANDLE_MAX_PER_RESPONSE];
static char text[UPBIT_BODY_MAX_BYTES + 1];

/* open, high, low, close positive and finite, low and high around the rest */
static int
prices_ok(const struct candle *c)
{
	double o = strtod(c->num[CN_OPEN], NULL);
	double h = strtod(c->num[CN_HIGH], NULL);
	double l = strtod(c->num[CN_LOW], NULL);
	double cl = strtod(c->num[CN_CLOSE], NULL);

	return o > 0 && h > 0 && l > 0 && cl > 0 && isfinite(h) && l <= o && l <= cl && h >= o &&
	       h >= cl;
}

/* one accepted candle: inside the query, aligned, prices sane, fields ended */
static void
check_candle(const struct upbit_query *q, const struct candle *c)
{
	if (c->start < 0 || c->start >= q->to || tf_floor(q->tf, c->start) != c->start)
		abort();
	if (!prices_ok(c) || !(strtod(c->num[CN_ACC_PRICE], NULL) >= 0) ||
	    !(strtod(c->num[CN_ACC_VOLUME], NULL) >= 0) || c->timestamp_ms <= 0)
		abort();
	for (int k = 0; k < CN_COUNT; k++)
		if (memchr(c->num[k], '\0', CANDLE_NUM_MAX) == NULL)
			abort();
}

/* every property of an accepted answer: its size, each candle, newest first */
static void
check_accepted(const struct upbit_query *q, const struct candle *c, int n, size_t cap)
{
	if (n < 0 || (unsigned)n > q->count || (size_t)n > cap)
		abort();
	for (int i = 0; i < n; i++) {
		check_candle(q, &c[i]);
		if (i > 0 && c[i].start >= c[i - 1].start)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct upbit_query q;
	struct upbit_error e;
	char err[128];
	const char *body;
	size_t len;
	int n;

	if (size < 2)
		return 0;
	q.market = "KRW-BTC";
	q.tf = (enum tf)(data[0] % TF_COUNT);
	q.to = FUZZ_TO;
	q.count = (unsigned)data[1] % CANDLE_MAX_PER_RESPONSE + 1;
	body = (const char *)data + 2;
	len = size - 2;

	n = upbit_parse_candles(body, len, &q, out, CANDLE_MAX_PER_RESPONSE, err, sizeof(err));
	if (n >= 0)
		check_accepted(&q, out, n, CANDLE_MAX_PER_RESPONSE);
	else if (err[0] == '\0' || memchr(err, '\0', sizeof(err)) == NULL)
		abort();
	/* a small buffer: never written past */
	n = upbit_parse_candles(body, len, &q, out, 3, err, sizeof(err));
	if (n >= 0)
		check_accepted(&q, out, n, 3);

	memset(&e, 0xA5, sizeof(e));
	if (upbit_parse_error(body, len, &e) == 0) {
		if (memchr(e.name, '\0', sizeof(e.name)) == NULL ||
		    memchr(e.message, '\0', sizeof(e.message)) == NULL)
			abort();
		(void)upbit_block_ms(e.message);
	} else {
		for (size_t i = 0; i < sizeof(e); i++)
			if (((const unsigned char *)&e)[i] != 0xA5)
				abort();
	}
	if (len < sizeof(text)) {
		memcpy(text, body, len);
		text[len] = '\0';
		if (upbit_block_ms(text) > 86400u * 1000u)
			abort();
	}
	n = upbit_remaining_req(body, len);
	if (n < -1 || n > 127)
		abort();
	return 0;
}
