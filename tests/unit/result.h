/*
 * result.h: a KRW-BTC 1m RESULT shaped as the fetcher makes it, for the
 * tests that feed the writer (writer_test, check_test, result_peer): n of
 * count candles before to, one slot apart, newest first, with the summary
 * the fetcher computes from them (fetcher/main.c, handle_ok). Callers that
 * forge a result change fields afterwards. Header-only: each test is one
 * translation unit.
 */
#ifndef CP_TEST_RESULT_H
#define CP_TEST_RESULT_H

#include <stdio.h>
#include <string.h>

#include "proto.h"
#include "tf.h"
#include "timeutil.h"

/* Fills *r, its candles in buf (room for n). */
static inline void
result_make(struct msg_result *r, struct candle *buf, int64_t to, int n, int count)
{
	memset(r, 0, sizeof(*r));
	r->ci.id = (uint64_t)to;
	r->ci.tf = TF_1M;
	snprintf(r->ci.market, sizeof(r->ci.market), "KRW-BTC");
	r->ci.to = to;
	r->ci.count = (uint16_t)count;
	r->ncandles = (uint16_t)n;
	r->candles = buf;
	for (int i = 0; i < n; i++) {
		memset(&buf[i], 0, sizeof(buf[i]));
		buf[i].start = to - (i + 1) * 60;
		buf[i].timestamp_ms = buf[i].start * 1000;
		for (int k = CN_OPEN; k <= CN_ACC_VOLUME; k++)
			snprintf(buf[i].num[k], CANDLE_NUM_MAX, "%d.5", 100 + i);
	}
	r->ci.received = (uint16_t)n;
	r->ci.newest = n > 0 ? buf[0].start : 0;
	r->ci.oldest = n > 0 ? buf[n - 1].start : 0;
	r->ci.history_end = n < count;
	r->ci.effective_end = r->ci.history_end ? 0 : r->ci.oldest;
}

#endif
