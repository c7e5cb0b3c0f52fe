/*
 * writer_test.c: the writer process (writer/cp-writer, run from the tree's
 * root as `make unit` does) against a fake fetcher and a fake planner:
 * what it drops (wrong frames, foreign or broken messages), rejects and
 * acknowledges; that a COMMITTED it cannot hand to the planner is counted,
 * not lost; that a full disk loses nothing (no acknowledgement, and the
 * re-sent result is written once by the next writer); and, in CRASHPOINTS
 * builds, that 20 failed batches in a row end it with exit 4.
 */
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <zmq.h>

#include "log.h"
#include "proto.h"
#include "result.h"
#include "tf.h"
#include "timeutil.h"

#define WRITER "writer/cp-writer"
#define MIN 60
#define T0 1704067200LL /* 2024-01-01T00:00:00Z */

static char dir[256], db[512], results_ep[512], work_ep[512], ready[512], logpath[512];
static void *ctx, *fetcher, *planner;
static pid_t writer;
static struct candle cbuf[CANDLE_MAX_PER_RESPONSE];

/* Starts the writer; fsize > 0 limits the files it writes (SIGXFSZ
 * ignored, so a write past it fails as on a full disk); fail arms CP_FAIL. */
static void
start_writer(rlim_t fsize, const char *fail)
{
	int i;

	unlink(ready); /* left by a writer that failed */
	writer = fork();
	assert_true(writer >= 0);
	if (writer == 0) {
		struct rlimit rl = { fsize, RLIM_INFINITY };

		if (freopen(logpath, "a", stderr) == NULL)
			_exit(126);
		signal(SIGXFSZ, SIG_IGN);
		if (fsize > 0)
			setrlimit(RLIMIT_FSIZE, &rl);
		if (fail != NULL)
			setenv("CP_FAIL", fail, 1);
		execl(WRITER, WRITER, "--db", db, "--results", results_ep, "--work", work_ep,
		      "--ready-file", ready, "-v", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200 && access(ready, F_OK) != 0; i++)
		usleep(25000);
	assert_int_equal(access(ready, F_OK), 0);
}

/* Waits up to ms for the writer to exit; its exit status, or -1. */
static int
wait_writer(int ms)
{
	int st, i;

	for (i = 0; i < ms / 10; i++) {
		if (waitpid(writer, &st, WNOHANG) == writer)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		usleep(10000);
	}
	return -1;
}

static int
stop_writer(void)
{
	kill(writer, SIGTERM);
	return wait_writer(5000);
}

static int
log_has(const char *want)
{
	char line[4096];
	FILE *f = fopen(logpath, "r");
	int found = 0;

	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strstr(line, want) != NULL;
	fclose(f);
	return found;
}

static int
setup(void **state)
{
	const char *base = getenv("TMPDIR");

	(void)state;
	snprintf(dir, sizeof(dir), "%s/writer_test.XXXXXX", base ? base : "/tmp");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(db, sizeof(db), "%s/c.db", dir);
	snprintf(results_ep, sizeof(results_ep), "ipc://%s/results", dir);
	snprintf(work_ep, sizeof(work_ep), "ipc://%s/work", dir);
	snprintf(ready, sizeof(ready), "%s/ready", dir);
	snprintf(logpath, sizeof(logpath), "%s/writer.log", dir);
	ctx = zmq_ctx_new();
	fetcher = zmq_socket(ctx, ZMQ_DEALER);
	planner = zmq_socket(ctx, ZMQ_ROUTER);
	if (zmq_connect(fetcher, results_ep) == -1 || zmq_bind(planner, work_ep) == -1)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	char cmd[600];
	int zero = 0;

	(void)state;
	if (wait_writer(10) == -1)
		stop_writer();
	zmq_setsockopt(fetcher, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(planner, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_close(fetcher);
	zmq_close(planner);
	zmq_ctx_term(ctx);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A KRW-BTC 1m result for [to - n slots, to) with n of n candles, proving
 * [to - n slots, to) (result.h). */
static void
make_result(struct msg_result *r, int64_t to, int n)
{
	result_make(r, cbuf, to, n, n);
}

/* Sends the frames (NULL-terminated, "" an empty frame), then msg. */
static void
send_frames(const struct buf *msg, const char *const *frames)
{
	for (; *frames != NULL; frames++)
		assert_true(zmq_send(fetcher, *frames, strlen(*frames), ZMQ_SNDMORE) >= 0);
	assert_true(zmq_send(fetcher, msg->data, msg->len, 0) >= 0);
}

static const char *const no_frames[] = { NULL };

static void
send_result(const struct msg_result *r)
{
	struct buf b = { 0 };

	assert_int_equal(msg_encode_result(&b, r), 0);
	send_frames(&b, no_frames);
	buf_free(&b);
}

/* Receives one COMMITTED within ms: 0, or -1 if none came. Keeps the
 * writer's identity in id for a reply. */
static int
recv_committed(int ms, struct msg_committed *c, zmq_msg_t *id)
{
	zmq_pollitem_t it = { planner, 0, ZMQ_POLLIN, 0 };
	zmq_msg_t payload;
	int rc;

	memset(c, 0, sizeof(*c));
	if (zmq_poll(&it, 1, ms) != 1)
		return -1;
	zmq_msg_init(&payload);
	assert_true(zmq_msg_recv(id, planner, 0) >= 0);
	assert_true(zmq_msg_more(id));
	assert_true(zmq_msg_recv(&payload, planner, 0) >= 0);
	rc = msg_decode_committed(zmq_msg_data(&payload), zmq_msg_size(&payload), c);
	zmq_msg_close(&payload);
	assert_int_equal(rc, 0);
	return 0;
}

static long long
db_count(const char *sql)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	long long n = -1;

	assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return n;
}

static void
test_drops_rejects_acks(void **state)
{
	struct buf b = { 0 };
	struct msg_ready rd;
	struct msg_result r;
	struct msg_committed c;
	zmq_msg_t id;
	int64_t now = time_now();

	(void)state;
	zmq_msg_init(&id);
	start_writer(0, NULL);
	/* not even an envelope; a non-empty delimiter; five frames */
	b.data = (char *)"xyz";
	b.len = 3;
	send_frames(&b, no_frames);
	send_frames(&b, (const char *const[]){ "a", NULL });
	send_frames(&b, (const char *const[]){ "", "", "", NULL });
	/* a fetcher's READY sent to the wrong socket */
	b.data = NULL;
	b.len = 0;
	memset(&rd, 0, sizeof(rd));
	assert_int_equal(msg_encode_ready(&b, &rd), 0);
	send_frames(&b, no_frames);
	/* a RESULT cut short */
	b.len = 0;
	make_result(&r, T0 + 10 * MIN, 3);
	assert_int_equal(msg_encode_result(&b, &r), 0);
	b.len--;
	send_frames(&b, no_frames);
	buf_free(&b);
	/* a candle still forming: rejected, never acknowledged */
	make_result(&r, tf_floor(TF_1M, now) + MIN, 1);
	send_result(&r);
	/* a good one, REQ-style: acknowledged */
	make_result(&r, T0 + 10 * MIN, 3);
	assert_int_equal(msg_encode_result(&b, &r), 0);
	send_frames(&b, (const char *const[]){ "", NULL });
	buf_free(&b);
	assert_int_equal(recv_committed(5000, &c, &id), 0);
	assert_int_equal(c.ci.id, (uint64_t)(T0 + 10 * MIN));
	assert_int_equal(c.new_candles, 3);
	/* again: a duplicate */
	send_result(&r);
	assert_int_equal(recv_committed(5000, &c, &id), 0);
	assert_int_equal(c.duplicate, 1);
	/* the planner talking to the writer is ignored */
	assert_true(zmq_msg_send(&id, planner, ZMQ_SNDMORE) >= 0);
	assert_true(zmq_send(planner, "hi", 2, 0) == 2);
	assert_int_equal(recv_committed(300, &c, &id), -1);

	assert_int_equal(stop_writer(), EXIT_OK);
	assert_int_equal(access(ready, F_OK), -1);
	assert_true(log_has("malformed message (3 bytes"));
	assert_true(log_has("message of 3 frames on the results socket dropped"));
	assert_true(log_has("message of 5 frames on the results socket dropped"));
	assert_true(log_has("unexpected READY message on the results socket dropped"));
	assert_true(log_has("malformed RESULT"));
	assert_true(log_has("is still forming"));
	assert_true(log_has("ignoring a 2-byte frame from the planner"));
	assert_true(log_has("2 results committed (1 duplicates), 3 new candles, 1 rejected, "
	                    "5 dropped, 0 unacked, 0 failed batches"));
	assert_int_equal(db_count("SELECT count(*) FROM candles_exact"), 3);
	zmq_msg_close(&id);
}

/* With nobody reading the planner's pipe it fills: the writer counts the
 * COMMITTED it cannot send and goes on writing. */
static void
test_unacked(void **state)
{
	struct msg_result r;
	int i, n = 1200;

	(void)state;
	snprintf(work_ep, sizeof(work_ep), "ipc://%s/nobody", dir);
	start_writer(0, NULL);
	for (i = 0; i < n; i++) {
		make_result(&r, T0 + (2 * i + 1) * MIN, 1); /* disjoint ranges */
		send_result(&r);
	}
	for (i = 0; i < 500 && db_count("SELECT count(*) FROM coverage") < n; i++)
		usleep(20000);
	assert_int_equal(stop_writer(), EXIT_OK);
	assert_int_equal(db_count("SELECT count(*) FROM coverage"), n);
	assert_true(log_has("not sent to the planner"));
	assert_true(log_has("1200 results committed"));
}

/* A full disk: COMMIT fails, nothing is acknowledged; the next writer gets
 * the re-sent result and stores it once. */
static void
test_disk_full(void **state)
{
	struct msg_result r;
	struct msg_committed c;
	zmq_msg_t id;

	(void)state;
	zmq_msg_init(&id);
	start_writer(0, NULL); /* creates the database */
	assert_int_equal(stop_writer(), EXIT_OK);
	start_writer(40960, NULL); /* the -shm file needs 32 KiB */
	make_result(&r, T0 + 200 * MIN, 200);
	send_result(&r);
	assert_int_equal(recv_committed(1500, &c, &id), -1);
	assert_int_equal(stop_writer(), EXIT_OK);
	assert_true(log_has("batch of 1 results not committed"));

	start_writer(0, NULL);
	send_result(&r);
	assert_int_equal(recv_committed(5000, &c, &id), 0);
	assert_int_equal(c.new_candles, 200);
	assert_int_equal(stop_writer(), EXIT_OK);
	assert_int_equal(db_count("SELECT count(*) FROM candles_exact"), 200);
	assert_int_equal(db_count("SELECT count(*) FROM coverage"), 1);
	zmq_msg_close(&id);
}

/* BEGIN failing every time: after 20 failed batches in a row the writer
 * exits 4 (restart me); restarted, it writes. */
static void
test_failed_batches_exit(void **state)
{
	struct msg_result r;
	struct msg_committed c;
	zmq_msg_t id;
	int i, rc = -1;

	(void)state;
#ifndef CP_CRASHPOINTS
	skip();
#endif
	zmq_msg_init(&id);
	start_writer(0, "writer_begin:1+");
	make_result(&r, T0 + 10 * MIN, 3);
	for (i = 0; i < 100 && rc == -1; i++) {
		send_result(&r);
		rc = wait_writer(50);
	}
	assert_int_equal(rc, EXIT_TEMPFAIL);
	assert_true(log_has("20 batches in a row failed to commit"));
	assert_int_equal(recv_committed(0, &c, &id), -1);

	start_writer(0, NULL);
	send_result(&r);
	assert_int_equal(recv_committed(5000, &c, &id), 0);
	assert_int_equal(c.new_candles, 3);
	assert_int_equal(stop_writer(), EXIT_OK);
	zmq_msg_close(&id);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_drops_rejects_acks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unacked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_batches_exit, setup, teardown),
	};

	log_init("writer_test", 0);
	return cmocka_run_group_tests_name("writer", tests, NULL, NULL);
}
