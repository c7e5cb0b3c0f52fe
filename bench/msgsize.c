/*
 * bench/msgsize.c: the wire size of the pipeline's messages, encoded by
 * common/proto.c exactly as the processes send them (a count, so `make
 * bench-check` judges it). Prints
 *   msgsize: lease_max_bytes N         the largest LEASE (every field at its
 *                                      widest value until the year 2100, the
 *                                      longest market code)
 *   msgsize: result_bytes_per_candle X a full RESULT (200 KRW-BTC-like 1m
 *                                      candles with Upbit's fixed-scale
 *                                      decimals) divided by its 200 candles
 *   msgsize: result_200_bytes N        that RESULT's total
 * Exit status 1 if an encoder fails.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "candle.h"
#include "proto.h"
#include "tf.h"

#define Y2100 INT64_C(4102444800) /* 2100-01-01T00:00:00Z: every time field at its widest */

static void
widest_chunk(struct chunk_info *ci)
{
	memset(ci, 0, sizeof(*ci));
	ci->id = UINT64_MAX;
	ci->attempt = UINT8_MAX;
	ci->tf = TF_1M;
	memset(ci->market, 'X', MARKET_MAX - 1);
	ci->to = Y2100;
	ci->count = CANDLE_MAX_PER_RESPONSE;
	ci->seg_lo = Y2100;
	ci->cov_from = Y2100;
	ci->cov_to = Y2100;
	ci->overlap = OV_END - 1;
	ci->received = CANDLE_MAX_PER_RESPONSE;
	ci->newest = ci->oldest = ci->effective_end = Y2100;
	ci->history_end = 1;
	ci->http_status = 599;
	ci->remaining_req = INT8_MAX;
	ci->lease_ms = UINT32_MAX;
	ci->delay_ms = UINT32_MAX;
	ci->planned_ms = Y2100 * 1000;
	ci->t_leased = ci->t_sent = ci->t_answered = ci->t_parsed = ci->t_committed = UINT32_MAX;
}

/* a 1m KRW-BTC candle as Upbit prints it, slot i of the chunk */
static void
typical_candle(struct candle *c, int i)
{
	static const char *const num[CN_COUNT] = { "162483000.00000000",
		                                   "162512000.00000000",
		                                   "162450000.00000000",
		                                   "162500000.00000000",
		                                   "203517689.08251000",
		                                   "1.25270941",
		                                   "",
		                                   "",
		                                   "",
		                                   "" };
	int k;

	memset(c, 0, sizeof(*c));
	c->start = 1788220800 - 60 * (int64_t)i;
	c->timestamp_ms = c->start * 1000 + 59871;
	c->unit = 1;
	for (k = 0; k < CN_COUNT; k++)
		snprintf(c->num[k], sizeof(c->num[k]), "%s", num[k]);
}

int
main(void)
{
	static struct candle candles[CANDLE_MAX_PER_RESPONSE];
	struct msgbuf b = { 0 };
	struct msg_result r;
	struct chunk_info ci;
	size_t lease;
	int i;

	widest_chunk(&ci);
	if (msg_encode_lease(&b, &ci) == -1)
		return 1;
	lease = b.len;
	memset(&r, 0, sizeof(r));
	r.ci = ci;
	snprintf(r.ci.market, sizeof(r.ci.market), "KRW-BTC");
	r.ci.received = CANDLE_MAX_PER_RESPONSE;
	r.bytes = 40000;
	r.ncandles = CANDLE_MAX_PER_RESPONSE;
	r.candles = candles;
	for (i = 0; i < CANDLE_MAX_PER_RESPONSE; i++)
		typical_candle(&candles[i], i);
	b.len = 0;
	if (msg_encode_result(&b, &r) == -1)
		return 1;
	printf("msgsize: lease_max_bytes %zu\n", lease);
	printf("msgsize: result_bytes_per_candle %.1f\n", (double)b.len / CANDLE_MAX_PER_RESPONSE);
	printf("msgsize: result_200_bytes %zu\n", b.len);
	msgbuf_free(&b);
	return 0;
}
