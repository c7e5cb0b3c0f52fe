/*
 * bench/json_bench.c: the speed of the fetcher's Upbit reader
 * (fetcher/upbit_json.c on fetcher/json_tok.c) on a realistic answer: a
 * 200-candle KRW-BTC minute body shaped like Upbit's (and the simulator's),
 * parsed and validated ITERATIONS times (argument 1, default 5000). Prints
 *   json_bench: N MB/s, N ns/candle (B-byte body, I iterations)
 * A figure to read, not a gate: it depends on the machine and its load.
 * Exit status 1 if the body does not parse.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tf.h"
#include "timeutil.h"
#include "upbit_json.h"

#define BENCH_CANDLES 200
#define BODY_CAP (BENCH_CANDLES * 512)
#define TO_S 1788220800LL /* 2026-09-01T00:00:00Z */

static char body[BODY_CAP];
static struct candle out[BENCH_CANDLES];

/* One candle i minutes before TO_S, prices drifting by i. */
static size_t
one_candle(char *p, size_t cap, int i)
{
	char utc[TIME_TEXT_LEN], kst[TIME_TEXT_LEN];
	long base = 125600000L + (long)(i % 97) * 1000L;
	int64_t start = TO_S - 60LL * (i + 1);

	time_format(start, utc);
	time_format(start + 9 * 3600, kst);
	return (size_t)snprintf(
	    p, cap,
	    "%s{\"market\":\"KRW-BTC\",\"candle_date_time_utc\":\"%s\","
	    "\"candle_date_time_kst\":\"%s\",\"opening_price\":%ld.00000000,"
	    "\"high_price\":%ld.00000000,\"low_price\":%ld.00000000,"
	    "\"trade_price\":%ld.00000000,\"timestamp\":%lld,"
	    "\"candle_acc_trade_price\":%ld.%08d,\"candle_acc_trade_volume\":1.%08d,\"unit\":1}",
	    i ? "," : "", utc, kst, base + 66000L, base + 97000L, base, base + 39000L,
	    (long long)start * 1000 + 59918, 163060409L + i, 20596000 + i, 29769374 + i);
}

static size_t
build_body(void)
{
	size_t len = 0;

	body[len++] = '[';
	for (int i = 0; i < BENCH_CANDLES; i++)
		len += one_candle(body + len, sizeof(body) - len - 2, i);
	body[len++] = ']';
	body[len] = '\0';
	return len;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	struct upbit_query q = { "KRW-BTC", TF_1M, TO_S, BENCH_CANDLES };
	long iters = argc > 1 ? strtol(argv[1], NULL, 10) : 5000;
	size_t len = build_body();
	char err[256];
	double t0, dt;

	if (iters < 1)
		iters = 1;
	if (upbit_parse_candles(body, len, &q, out, BENCH_CANDLES, err, sizeof(err)) !=
	    BENCH_CANDLES) {
		fprintf(stderr, "json_bench: the body does not parse: %s\n", err);
		return 1;
	}
	t0 = now_s();
	for (long i = 0; i < iters; i++)
		if (upbit_parse_candles(body, len, &q, out, BENCH_CANDLES, err, sizeof(err)) !=
		    BENCH_CANDLES)
			return 1;
	dt = now_s() - t0;
	printf("json_bench: %.0f MB/s, %.0f ns/candle (%zu-byte body, %ld iterations)\n",
	       (double)len * (double)iters / dt / 1e6, dt * 1e9 / ((double)iters * BENCH_CANDLES),
	       len, iters);
	return 0;
}
