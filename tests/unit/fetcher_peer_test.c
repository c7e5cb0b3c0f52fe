/* fetcher_peer_test: cp-fetcher (fetcher/cp-fetcher, run as a child) against
 * a hand-driven planner and writer (two ROUTER sockets) and the simulator:
 * what the fetcher does with messages a sane planner or writer never sends
 * (wrong types, garbage, multipart, undecodable leases, more leases than
 * slots), with leases that expire or whose rate token went stale while it
 * was frozen, with a writer that takes no results, and with a planner of
 * another protocol version (exit 3). Each case checks the
 * fetcher's log line, that it still serves the next good lease (a RESULT or
 * a FAILED arrives), and its exit code after SIGTERM. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <zmq.h>

#include "proto.h"
#include "tf.h"
#include "timeutil.h"

#define TO 1790812800 /* 2026-10-01T00:00:00Z */
#define WAIT_MS 8000

struct peer {
	char dir[64], work[96], results[96], log[96], api[64];
	void *ctx, *planner, *writer;
	pid_t fetcher, sim;
	char ident[256], wident[256]; /* the fetcher's identity at the planner, writer */
	size_t identlen, widentlen;
};

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static pid_t
spawn(char *const argv[], const char *log)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* The simulator on a free port, answering after latency_ms; p->api its URL. */
static void
start_sim(struct peer *p, const char *latency_ms)
{
	char pf[128], slog[128];
	char *argv[] = {
		"sim/upbit-sim", "--port",           "0", "--port-file", pf, "--rate-limit", "0",
		"--latency-ms",  (char *)latency_ms, NULL
	};

	snprintf(pf, sizeof(pf), "%s/port", p->dir);
	snprintf(slog, sizeof(slog), "%s/sim.log", p->dir);
	p->sim = spawn(argv, slog);
	for (int i = 0; i < WAIT_MS / 20; i++) {
		FILE *f = fopen(pf, "r");
		int port = 0;

		if (f != NULL && fscanf(f, "%d", &port) == 1 && port > 0) {
			fclose(f);
			snprintf(p->api, sizeof(p->api), "http://127.0.0.1:%d", port);
			return;
		}
		if (f != NULL)
			fclose(f);
		sleep_ms(20);
	}
	fail_msg("the simulator did not start");
}

static void *
router(struct peer *p, const char *ep)
{
	void *s = zmq_socket(p->ctx, ZMQ_ROUTER);
	int zero = 0;

	assert_non_null(s);
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	assert_int_equal(zmq_bind(s, ep), 0);
	return s;
}

/* Sockets bound (the writer's only if writer != 0), the fetcher started. */
static void
start(struct peer *p, const char *api, int writer, const char *inflight)
{
	char *argv[] = { "fetcher/cp-fetcher", "--work",    p->work,     "--results",
		         p->results,           "--api-url", (char *)api, "--max-inflight",
		         (char *)inflight,     "-v",        NULL };

	p->ctx = zmq_ctx_new();
	p->planner = router(p, p->work);
	p->writer = writer ? router(p, p->results) : NULL;
	p->fetcher = spawn(argv, p->log);
}

static int
setup(void **state)
{
	struct peer *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	snprintf(p->dir, sizeof(p->dir), "/tmp/fetcher_peer.XXXXXX");
	assert_non_null(mkdtemp(p->dir));
	snprintf(p->work, sizeof(p->work), "ipc://%s/work", p->dir);
	snprintf(p->results, sizeof(p->results), "ipc://%s/results", p->dir);
	snprintf(p->log, sizeof(p->log), "%s/fetcher.log", p->dir);
	p->sim = p->fetcher = -1;
	*state = p;
	return 0;
}

static int
teardown(void **state)
{
	struct peer *p = *state;
	char cmd[160];

	if (p->fetcher > 0 && kill(p->fetcher, SIGKILL) == 0)
		waitpid(p->fetcher, NULL, 0);
	if (p->sim > 0 && kill(p->sim, SIGTERM) == 0)
		waitpid(p->sim, NULL, 0);
	if (p->planner != NULL)
		zmq_close(p->planner);
	if (p->writer != NULL)
		zmq_close(p->writer);
	if (p->ctx != NULL)
		zmq_ctx_term(p->ctx);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", p->dir);
	free(p);
	return 0;
}

/* 1 once the fetcher's log holds text (within WAIT_MS), else 0. */
static int
log_has(const struct peer *p, const char *text)
{
	static char buf[1 << 16];

	for (int i = 0; i < WAIT_MS / 20; i++) {
		FILE *f = fopen(p->log, "r");
		size_t n = 0;

		if (f != NULL) {
			n = fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
		}
		buf[n] = '\0';
		if (strstr(buf, text) != NULL)
			return 1;
		sleep_ms(20);
	}
	fprintf(stderr, "no \"%s\" in the fetcher's log:\n%s", text, buf);
	return 0;
}

/* The next message on a ROUTER socket (its identity kept for the planner):
 * its type, or -1 after WAIT_MS. */
static int
recv_msg(struct peer *p, void *sock, zmq_msg_t *body)
{
	zmq_pollitem_t it = { sock, 0, ZMQ_POLLIN, 0 };
	zmq_msg_t id;

	if (zmq_poll(&it, 1, WAIT_MS) != 1)
		return -1;
	zmq_msg_init(&id);
	assert_true(zmq_msg_recv(&id, sock, 0) >= 0);
	if (sock == p->planner) {
		p->identlen = zmq_msg_size(&id);
		memcpy(p->ident, zmq_msg_data(&id), p->identlen);
	} else {
		p->widentlen = zmq_msg_size(&id);
		memcpy(p->wident, zmq_msg_data(&id), p->widentlen);
	}
	zmq_msg_close(&id);
	zmq_msg_init(body);
	assert_true(zmq_msg_recv(body, sock, 0) >= 0);
	return msg_peek_type(zmq_msg_data(body), zmq_msg_size(body));
}

/* Waits for a message of type want (others are dropped). */
static void
expect_msg(struct peer *p, void *sock, int want, zmq_msg_t *body)
{
	for (;;) {
		int t = recv_msg(p, sock, body);

		if (t == want)
			return;
		if (t == -1)
			fail_msg("no %s message", msg_type_names[want]);
		zmq_msg_close(body);
	}
}

/* Waits for a RESULT at the writer: its chunk id, candle count and newest
 * start. */
static uint64_t
expect_result(struct peer *p, uint16_t *ncandles, int64_t *newest)
{
	static struct candle cs[CANDLE_MAX_PER_RESPONSE];
	struct msg_result res;
	zmq_msg_t m;

	expect_msg(p, p->writer, MSG_RESULT, &m);
	res.candles = cs;
	assert_int_equal(msg_decode_result(zmq_msg_data(&m), zmq_msg_size(&m), &res), 0);
	zmq_msg_close(&m);
	assert_int_equal(res.ci.http_status, 200);
	*ncandles = res.ncandles;
	*newest = res.ncandles > 0 ? res.candles[0].start : 0;
	return res.ci.id;
}

static void
expect_ready(struct peer *p)
{
	zmq_msg_t m;

	expect_msg(p, p->planner, MSG_READY, &m);
	zmq_msg_close(&m);
}

/* Frames to the fetcher through the planner socket (the last one ends it). */
static void
send_frames(struct peer *p, int n, const void *const *data, const size_t *len)
{
	assert_int_equal(zmq_send(p->planner, p->ident, p->identlen, ZMQ_SNDMORE),
	                 (int)p->identlen);
	for (int i = 0; i < n; i++)
		assert_int_equal(zmq_send(p->planner, data[i], len[i], i + 1 < n ? ZMQ_SNDMORE : 0),
		                 (int)len[i]);
}

static void
send_one(struct peer *p, const void *data, size_t len)
{
	send_frames(p, 1, &data, &len);
}

static void
send_lease(struct peer *p, uint64_t id, uint32_t delay_ms, uint32_t lease_ms, size_t cut)
{
	struct chunk_info ci;
	struct buf b = { 0 };

	memset(&ci, 0, sizeof(ci));
	ci.id = id;
	ci.tf = TF_1M;
	snprintf(ci.market, sizeof(ci.market), "KRW-BTC");
	ci.to = TO;
	ci.count = 5;
	ci.seg_lo = TO - 5 * 60;
	ci.lease_ms = lease_ms;
	ci.delay_ms = delay_ms;
	ci.remaining_req = -1;
	assert_int_equal(msg_encode_lease(&b, &ci), 0);
	send_one(p, b.data, b.len - cut);
	buf_free(&b);
}

/* SIGTERM: the exit code. */
static int
stop(struct peer *p)
{
	int st = 0;

	kill(p->fetcher, SIGTERM);
	assert_int_equal(waitpid(p->fetcher, &st, 0), p->fetcher);
	p->fetcher = -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Messages no planner or writer sends are dropped with a warning; the next
 * good lease is served. */
static void
test_bad_messages(void **state)
{
	struct peer *p = *state;
	struct msg_ready r = { 3, 0, "x" };
	struct buf b = { 0 };
	const void *parts[2] = { "a", "b" };
	const size_t lens[2] = { 1, 1 };
	uint16_t n;
	int64_t newest;

	start_sim(p, "0");
	start(p, p->api, 1, "1");
	expect_ready(p);
	assert_int_equal(msg_encode_ready(&b, &r), 0);
	send_one(p, b.data, b.len);
	buf_free(&b);
	assert_true(log_has(p, "unexpected READY message from the planner dropped"));
	send_one(p, "\x01\x02\x03", 3);
	assert_true(log_has(p, "malformed message (3 bytes) from the planner dropped"));
	send_frames(p, 2, parts, lens);
	assert_true(log_has(p, "multipart message from the planner dropped"));
	send_lease(p, 1, 0, 5000, 3);
	assert_true(log_has(p, "undecodable LEASE"));

	send_lease(p, 2, 0, 5000, 0);
	assert_int_equal(expect_result(p, &n, &newest), 2);
	assert_int_equal(n, 5);
	assert_int_equal(newest, TO - 60);
	assert_true(log_has(p, "KRW-BTC 1m to 2026-10-01T00:00:00: 5 candles"));
	/* the writer never talks on this socket: dropped */
	assert_int_equal(zmq_send(p->writer, p->wident, p->widentlen, ZMQ_SNDMORE),
	                 (int)p->widentlen);
	assert_int_equal(zmq_send(p->writer, "x", 1, 0), 1);
	assert_true(log_has(p, "unexpected message (1 bytes) from the writer dropped"));
	assert_int_equal(stop(p), 0);
	assert_true(log_has(p, "exit: 1 requests, 1 results, 0 failures"));
}

/* A lease whose token comes after its end is dropped unsent; one more than
 * the slots is dropped; the next one is served (a FAILED: nobody listens
 * at the API address). */
static void
test_slots_and_expiry(void **state)
{
	struct peer *p = *state;
	struct msg_failed f;
	zmq_msg_t m;

	start(p, "http://127.0.0.1:1", 1, "1");
	expect_ready(p);
	send_lease(p, 3, 400, 100, 0);
	send_lease(p, 4, 0, 5000, 0);
	assert_true(log_has(p, "lease of chunk 4 beyond my 1 slots dropped"));
	assert_true(log_has(p, "lease of chunk 3 expired before its start; dropped"));
	send_lease(p, 5, 0, 5000, 0);
	expect_msg(p, p->planner, MSG_FAILED, &m);
	assert_int_equal(msg_decode_failed(zmq_msg_data(&m), zmq_msg_size(&m), &f), 0);
	zmq_msg_close(&m);
	assert_int_equal(f.ci.id, 5);
	assert_int_equal(f.kind, FAIL_TEMP_NET);
	assert_non_null(strstr(f.reason, "onnect"));
	assert_int_equal(stop(p), 0);
	assert_true(log_has(p, "exit: 1 requests, 0 results, 1 failures"));
}

/* Frozen past its rate token (by more than TOKEN_LATE_MAX_MS), the fetcher
 * does not send the request late: it gives the lease back unsent. */
static void
test_stale_token(void **state)
{
	struct peer *p = *state;
	struct msg_failed f;
	zmq_msg_t m;

	start(p, "http://127.0.0.1:1", 1, "2");
	expect_ready(p);
	send_lease(p, 7, 300, 10000, 0);
	sleep_ms(100);
	kill(p->fetcher, SIGSTOP);
	sleep_ms(400);
	kill(p->fetcher, SIGCONT);
	expect_msg(p, p->planner, MSG_FAILED, &m);
	assert_int_equal(msg_decode_failed(zmq_msg_data(&m), zmq_msg_size(&m), &f), 0);
	zmq_msg_close(&m);
	assert_int_equal(f.ci.id, 7);
	assert_int_equal(f.kind, FAIL_TOKEN_LATE);
	assert_non_null(strstr(f.reason, "ms late (at most 15); not sent"));
	assert_true(log_has(p, "info: KRW-BTC 1m to 2026-10-01T00:00:00: token_late: rate token"));
	assert_int_equal(stop(p), 0);
	assert_true(log_has(p, "exit: 0 requests, 0 results, 0 failures"));
	assert_true(log_has(p, "1 tokens too late, not sent"));
}

/* With no writer the result is held (no free slots announced) and dropped
 * when its lease ends; the planner re-issues it. */
static void
test_writer_gone(void **state)
{
	struct peer *p = *state;
	struct msg_ready r;
	zmq_msg_t m;
	int zero_seen = 0;

	start_sim(p, "0");
	start(p, p->api, 0, "1");
	expect_ready(p);
	send_lease(p, 9, 0, 1000, 0);
	assert_true(log_has(p, "the writer does not take results"));
	for (int i = 0; i < 5 && !zero_seen; i++) {
		expect_msg(p, p->planner, MSG_READY, &m);
		assert_int_equal(msg_decode_ready(zmq_msg_data(&m), zmq_msg_size(&m), &r), 0);
		zmq_msg_close(&m);
		zero_seen = r.free_slots == 0;
	}
	assert_true(zero_seen);
	assert_true(log_has(p, "the writer took no result for 1000 ms; dropped"));
	assert_int_equal(stop(p), 0);
	assert_true(log_has(p, "exit: 1 requests, 1 results, 0 failures, 1 results dropped"));
}

/* A stop lets the running transfer finish and deliver its result; leases
 * not started yet, or arriving during the stop, are not served. */
static void
test_stop_graceful(void **state)
{
	struct peer *p = *state;
	uint16_t n;
	int64_t newest;
	int st = 0;

	start_sim(p, "1200");
	start(p, p->api, 1, "3");
	expect_ready(p);
	send_lease(p, 11, 0, 10000, 0);
	send_lease(p, 12, 5000, 10000, 0);
	sleep_ms(300);
	kill(p->fetcher, SIGTERM);
	assert_true(log_has(p, "stopping on signal 15: 1 transfers running, 1 leases not started"));
	send_lease(p, 13, 0, 10000, 0);
	assert_true(log_has(p, "stopping: lease of chunk 13 not taken"));
	assert_int_equal(expect_result(p, &n, &newest), 11);
	assert_int_equal(n, 5);
	assert_int_equal(waitpid(p->fetcher, &st, 0), p->fetcher);
	p->fetcher = -1;
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_true(log_has(p, "exit: 1 requests, 1 results, 0 failures"));
}

/* The fetcher exits 3 (permanent: do not restart) at a message of
 * another protocol version, with one line naming both versions. */
static void
expect_version_exit(struct peer *p)
{
	char text[160];
	int st = 0;
	pid_t got = 0;

	for (int i = 0; i < WAIT_MS / 20 && got == 0; i++) {
		got = waitpid(p->fetcher, &st, WNOHANG);
		if (got == 0)
			sleep_ms(20);
	}
	assert_int_equal(got, p->fetcher); /* else it did not exit: teardown kills it */
	p->fetcher = -1;
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 3);
	snprintf(text, sizeof(text),
	         "the planner speaks protocol %d, this fetcher protocol %d: rebuild one of them",
	         PROTO_VERSION + 1, PROTO_VERSION);
	assert_true(log_has(p, text));
}

/* A LEASE of the next protocol version. */
static void
test_lease_other_version(void **state)
{
	struct peer *p = *state;
	struct chunk_info ci;
	struct buf b = { 0 };

	memset(&ci, 0, sizeof(ci));
	ci.tf = TF_1M;
	snprintf(ci.market, sizeof(ci.market), "KRW-BTC");
	ci.to = TO;
	ci.count = 5;
	ci.lease_ms = 5000;
	ci.remaining_req = -1;
	assert_int_equal(msg_encode_lease(&b, &ci), 0);
	assert_true((unsigned char)b.data[0] == 0xdc && b.data[3] == PROTO_VERSION); /* array16 */
	b.data[3] = PROTO_VERSION + 1;
	start(p, "http://127.0.0.1:9", 0, "1");
	expect_ready(p);
	send_one(p, b.data, b.len);
	buf_free(&b);
	expect_version_exit(p);
}

/* The planner's REFUSED of this fetcher's READY. */
static void
test_refused(void **state)
{
	struct peer *p = *state;
	struct msg_refused x = { PROTO_VERSION + 1, PROTO_VERSION, "planner" };
	struct buf b = { 0 };

	assert_int_equal(msg_encode_refused(&b, &x), 0);
	b.data[1] = PROTO_VERSION + 1; /* as a planner of that version sends it */
	start(p, "http://127.0.0.1:9", 0, "1");
	expect_ready(p);
	send_one(p, b.data, b.len);
	buf_free(&b);
	expect_version_exit(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bad_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slots_and_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_graceful, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lease_other_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
	};

	if (access("fetcher/cp-fetcher", X_OK) != 0 || access("sim/upbit-sim", X_OK) != 0) {
		printf("fetcher_peer_test: run from the top directory after make\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
