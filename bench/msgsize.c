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
 *   msgsize: committed_max_bytes N     the widest COMMITTED
 *   msgsize: failed_max_bytes N        the widest FAILED (the longest source
 *                                      and reason texts)
 *   msgsize: event_max_bytes N         the widest event body (leased, fetched
 *                                      or committed, with the timings that
 *                                      only the monitor reads)
 * "Widest" comes from the tables of proto_fields.h: every integer at the top
 * of its range, except the times (every I64: seconds, or milliseconds when
 * named _ms), which stop at the year 2100; every text at its longest.
 * Exit status 1 if an encoder fails.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "candle.h"
#include "proto.h"
#include "tf.h"

#define Y2100 INT64_C(4102444800) /* 2100-01-01T00:00:00Z: every time field at its widest */

/* A field at its widest (see above). */
#define WIDE_INT(m, n, hi) ((m)->n = (hi))
#define WIDE_U8 WIDE_INT
#define WIDE_U16 WIDE_INT
#define WIDE_U32 WIDE_INT
#define WIDE_U64 WIDE_INT
#define WIDE_I8 WIDE_INT
#define WIDE_I64(m, n, hi) ((m)->n = strstr(#n, "_ms") != NULL ? Y2100 * 1000 : Y2100)
#define WIDE_STR(m, n, hi) (memset((m)->n, 'X', (hi)-1), (m)->n[(hi)-1] = '\0')
#define WIDE_CI(m, n, hi) widest_chunk(&(m)->n)
#define WIDE_CANDLES(m, n, hi) ((m)->n = NULL)
#define WIDE_(kind, name, lo, hi, check, json) WIDE_##kind(m, name, hi);

static void
widest_chunk(struct chunk_info *m)
{
	memset(m, 0, sizeof(*m));
	CHUNK_INFO_FIELDS(WIDE_)
}

static void
widest_committed(struct msg_committed *m)
{
	MSG_COMMITTED_FIELDS(WIDE_)
}

static void
widest_failed(struct msg_failed *m)
{
	MSG_FAILED_FIELDS(WIDE_)
}

/* The event bodies, where the monitor's timings ride (events.h). */
static void
widest_leased_ev(struct msg_leased_ev *m)
{
	MSG_LEASED_EV_FIELDS(WIDE_)
}

static void
widest_fetched_ev(struct msg_fetched_ev *m)
{
	MSG_FETCHED_EV_FIELDS(WIDE_)
}

static void
widest_committed_ev(struct msg_committed_ev *m)
{
	MSG_COMMITTED_EV_FIELDS(WIDE_)
}

/* The widest of the three event bodies, or 0 if an encoder fails. */
static size_t
widest_event(struct buf *b)
{
	struct msg_leased_ev l;
	struct msg_fetched_ev f;
	struct msg_committed_ev c;
	size_t n;

	widest_leased_ev(&l);
	widest_fetched_ev(&f);
	widest_committed_ev(&c);
	b->len = 0;
	if (msg_encode_leased_ev(b, &l) == -1)
		return 0;
	n = b->len;
	b->len = 0;
	if (msg_encode_fetched_ev(b, &f) == -1)
		return 0;
	n = b->len > n ? b->len : n;
	b->len = 0;
	if (msg_encode_committed_ev(b, &c) == -1)
		return 0;
	return b->len > n ? b->len : n;
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
	struct buf b = { 0 };
	struct msg_result r;
	struct msg_committed c;
	struct msg_failed f;
	struct chunk_info ci;
	size_t lease, committed, failed, event;
	int i;

	widest_chunk(&ci);
	if (msg_encode_lease(&b, &ci) == -1)
		return 1;
	lease = b.len;
	widest_committed(&c);
	b.len = 0;
	if (msg_encode_committed(&b, &c) == -1)
		return 1;
	committed = b.len;
	widest_failed(&f);
	b.len = 0;
	if (msg_encode_failed(&b, &f) == -1)
		return 1;
	failed = b.len;
	if ((event = widest_event(&b)) == 0)
		return 1;
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
	printf("msgsize: committed_max_bytes %zu\n", committed);
	printf("msgsize: failed_max_bytes %zu\n", failed);
	printf("msgsize: event_max_bytes %zu\n", event);
	buf_free(&b);
	return 0;
}
