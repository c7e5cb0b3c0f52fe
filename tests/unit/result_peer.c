/*
 * result_peer.c: a hand-driven fetcher and planner for tests/writer.bats.
 * It binds the planner's ROUTER at WORK, connects a fetcher's DEALER to
 * RESULTS, and for each CASE sends one KRW-BTC 1m RESULT to the writer and
 * prints the writer's answer on one line:
 *   CASE committed new=N            a COMMITTED came
 *   CASE failed KIND REASON         a FAILED came
 *   CASE none                       nothing within 5 s
 * Cases ("good" is the result as the fetcher makes it; each other one
 * breaks one rule of writer/check.c, at its own `to`, so that each would
 * prove a range of its own):
 *   good           3 of 3 candles before 2024-01-01T01:00:00
 *   history_end    200 of 200 candles before 02:00, history_end set:
 *                  would prove everything before 02:00
 *   effective_end  3 of 3 candles before 03:00, effective_end a day lower
 *   grid           3 of 3 candles before 04:00, one 30 s off the grid
 * Usage: result_peer RESULTS WORK CASE...   Exit: 0, 2 usage, 1 on error.
 */
#include <stdio.h>
#include <string.h>

#include <zmq.h>

#include "proto.h"
#include "result.h"

#define MIN 60
#define T0 1704067200LL /* 2024-01-01T00:00:00Z */
#define WAIT_MS 5000

static struct candle cbuf[CANDLE_MAX_PER_RESPONSE];

/* n of n candles before to, as the fetcher makes them (result.h). */
static void
make(struct msg_result *r, int64_t to, int n)
{
	result_make(r, cbuf, to, n, n);
}

/* The RESULT of a case: 0, or -1 for an unknown case. */
static int
forge(const char *name, struct msg_result *r)
{
	if (strcmp(name, "good") == 0) {
		make(r, T0 + 60 * MIN, 3);
	} else if (strcmp(name, "history_end") == 0) {
		make(r, T0 + 120 * MIN, 200);
		r->ci.history_end = 1;
		r->ci.effective_end = 0;
	} else if (strcmp(name, "effective_end") == 0) {
		make(r, T0 + 180 * MIN, 3);
		r->ci.effective_end -= 1440 * MIN;
	} else if (strcmp(name, "grid") == 0) {
		make(r, T0 + 240 * MIN, 3);
		cbuf[1].start += 30;
	} else {
		return -1;
	}
	return 0;
}

/* Waits for the writer's answer on the planner socket and prints it. */
static int
answer(void *planner, const char *name)
{
	zmq_pollitem_t it = { planner, 0, ZMQ_POLLIN, 0 };
	char buf[MSG_MAX_BYTES];
	struct msg_committed c;
	struct msg_failed f;
	int n;

	if (zmq_poll(&it, 1, WAIT_MS) != 1) {
		printf("%s none\n", name);
		return 0;
	}
	if (zmq_recv(planner, buf, sizeof(buf), 0) == -1 ||
	    (n = zmq_recv(planner, buf, sizeof(buf), 0)) == -1 || n > (int)sizeof(buf))
		return -1;
	if (msg_decode_committed(buf, (size_t)n, &c) == 0)
		printf("%s committed new=%u\n", name, c.new_candles);
	else if (msg_decode_failed(buf, (size_t)n, &f) == 0)
		printf("%s failed %s %s\n", name, fail_kind_names[f.kind], f.reason);
	else
		return -1;
	return 0;
}

static int
run(void *fetcher, void *planner, int ncases, char **cases)
{
	struct msg_result r;
	struct buf b = { 0 };
	int rc = 0;

	for (int i = 0; i < ncases && rc == 0; i++) {
		if (forge(cases[i], &r) == -1) {
			fprintf(stderr, "result_peer: unknown case '%s'\n", cases[i]);
			rc = 2;
			break;
		}
		b.len = 0;
		if (msg_encode_result(&b, &r) == -1 || zmq_send(fetcher, b.data, b.len, 0) == -1 ||
		    answer(planner, cases[i]) == -1)
			rc = 1;
	}
	buf_free(&b);
	return rc;
}

int
main(int argc, char **argv)
{
	void *ctx, *fetcher, *planner;
	int zero = 0, rc;

	if (argc < 4) {
		fprintf(stderr, "usage: result_peer RESULTS WORK CASE...\n");
		return 2;
	}
	ctx = zmq_ctx_new();
	fetcher = zmq_socket(ctx, ZMQ_DEALER);
	planner = zmq_socket(ctx, ZMQ_ROUTER);
	if (zmq_bind(planner, argv[2]) == -1 || zmq_connect(fetcher, argv[1]) == -1) {
		fprintf(stderr, "result_peer: %s\n", zmq_strerror(zmq_errno()));
		rc = 1;
	} else {
		rc = run(fetcher, planner, argc - 3, argv + 3);
	}
	zmq_setsockopt(fetcher, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(planner, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_close(fetcher);
	zmq_close(planner);
	zmq_ctx_term(ctx);
	return rc;
}
