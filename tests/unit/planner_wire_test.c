/* planner_wire_test: cp-planner against a scripted fetcher on its work
 * socket. Malformed, unknown and multi-frame messages are dropped with a
 * warning and the run goes on; a fetcher whose identity is too long is
 * ignored; a READY of another protocol version is answered with a REFUSED
 * naming both versions; 429, 418 and network failures are retried; a permanent failure
 * ends the run with exit 1 and the range named as not covered. Runs
 * ./planner/cp-planner (from the top of the tree, like `make unit`). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "log.h"
#include "proto.h"

static char dir[] = "/tmp/planner_wire.XXXXXX";
static char endpoint[128], logpath[128], dbpath[128];
static void *ctx;
static struct buf mb;
static pid_t pid;

static pid_t
start_planner(void)
{
	pid_t child = fork();

	assert_true(child != -1);
	if (child == 0) {
		FILE *f = freopen(logpath, "w", stderr);
		(void)f;
		execl("./planner/cp-planner", "cp-planner", "--db", dbpath, "--work", endpoint,
		      "--market", "KRW-BTC", "--timeframe", "1d", "--count", "3", "--quiet", "-v",
		      "--rate", "0", (char *)NULL);
		_exit(127);
	}
	return child;
}

static void *
fetcher(const char *ident, size_t len)
{
	void *s = zmq_socket(ctx, ZMQ_DEALER);
	int linger = 0;

	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(s, ZMQ_ROUTING_ID, ident, len);
	assert_int_equal(zmq_connect(s, endpoint), 0);
	return s;
}

static void
send_frames(void *s, const void *a, size_t alen, const void *b, size_t blen)
{
	if (zmq_send(s, a, alen, b != NULL ? ZMQ_SNDMORE : 0) < 0)
		fail_msg("send: %s", zmq_strerror(zmq_errno()));
	if (b != NULL)
		assert_true(zmq_send(s, b, blen, 0) >= 0);
}

static void
send_ready(void *s, uint32_t seen)
{
	struct msg_ready r = { .free_slots = 1, .leases_seen = seen, .source = "10.0.0.1" };
	mb.len = 0;
	assert_int_equal(msg_encode_ready(&mb, &r), 0);
	send_frames(s, mb.data, mb.len, NULL, 0);
}

static struct chunk_info
recv_lease(void *s)
{
	char buf[4096];
	int timeout = 5000, n;
	struct chunk_info ci;

	zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
	n = zmq_recv(s, buf, sizeof(buf), 0);
	assert_true(n > 0);
	assert_int_equal(msg_decode_lease(buf, (size_t)n, &ci), 0);
	return ci;
}

static void
send_failed(void *s, const struct chunk_info *ci, enum fail_kind kind, const char *reason)
{
	struct msg_failed f;
	memset(&f, 0, sizeof(f));
	f.ci = *ci;
	f.kind = (uint8_t)kind;
	f.retry_after_ms = kind == FAIL_BLOCKED_418 ? 10 : 0;
	strcpy(f.source, "10.0.0.1");
	snprintf(f.reason, sizeof(f.reason), "%s", reason);
	mb.len = 0;
	assert_int_equal(msg_encode_failed(&mb, &f), 0);
	send_frames(s, mb.data, mb.len, NULL, 0);
}

/* Sends a valid message of each kind cut short by one byte, a stale
 * commit, junk and a message with an extra frame. */
static void
send_malformed(void *s)
{
	struct msg_ready r = { .free_slots = 1, .source = "x" };
	struct msg_failed f;
	struct msg_committed c;

	memset(&f, 0, sizeof(f));
	memset(&c, 0, sizeof(c));
	strcpy(c.ci.market, "KRW-BTC");
	c.ci.count = 1;
	c.ci.id = 42; /* an earlier run's chunk */
	c.ci.remaining_req = 5;
	f.ci = c.ci;
	f.kind = FAIL_TEMP_HTTP;
	strcpy(f.source, "x");
	mb.len = 0;
	assert_int_equal(msg_encode_ready(&mb, &r), 0);
	send_frames(s, mb.data, mb.len - 1, NULL, 0);
	mb.len = 0;
	assert_int_equal(msg_encode_failed(&mb, &f), 0);
	send_frames(s, mb.data, mb.len - 1, NULL, 0);
	mb.len = 0;
	assert_int_equal(msg_encode_committed(&mb, &c), 0);
	send_frames(s, mb.data, mb.len - 1, NULL, 0);
	send_frames(s, mb.data, mb.len, NULL, 0);
	send_frames(s, "junk", 4, NULL, 0);
	send_frames(s, mb.data, mb.len, "extra", 5);
}

static int
log_has(const char *what)
{
	char line[1024];
	FILE *f = fopen(logpath, "r");
	int found = 0;

	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strstr(line, what) != NULL;
	fclose(f);
	return found;
}

/* A READY of the next protocol version gets a REFUSED naming both. */
static void
check_refusal(void *s)
{
	struct msg_ready r = { .free_slots = 4, .source = "10.0.0.9" };
	struct msg_refused x;
	char buf[256], text[200];
	int timeout = 5000, n;

	mb.len = 0;
	assert_int_equal(msg_encode_ready(&mb, &r), 0);
	assert_true(mb.data[1] == PROTO_VERSION); /* [version, ...] in a fixarray */
	mb.data[1] = PROTO_VERSION + 1;
	send_frames(s, mb.data, mb.len, NULL, 0);
	zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
	n = zmq_recv(s, buf, sizeof(buf), 0);
	assert_true(n > 0);
	assert_int_equal(msg_decode_refused(buf, (size_t)n, &x), 0);
	assert_int_equal(x.speaks, PROTO_VERSION);
	assert_int_equal(x.heard, PROTO_VERSION + 1);
	assert_string_equal(x.who, "planner");
	snprintf(
	    text, sizeof(text),
	    "the peer speaks protocol %d, this planner protocol %d: rebuild one of them: refused",
	    PROTO_VERSION + 1, PROTO_VERSION);
	assert_true(log_has(text));
}

static void
test_scripted_fetcher(void **state)
{
	void *f, *big, *other;
	char long_ident[100], sockpath[128];
	struct chunk_info ci;
	int status;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(endpoint, sizeof(endpoint), "ipc://%s/work", dir);
	snprintf(logpath, sizeof(logpath), "%s/planner.log", dir);
	snprintf(dbpath, sizeof(dbpath), "%s/x.db", dir);
	ctx = zmq_ctx_new();
	pid = start_planner();
	snprintf(sockpath, sizeof(sockpath), "%s/work", dir);
	for (int i = 0; i < 100 && access(sockpath, F_OK) != 0; i++)
		usleep(50000); /* until the planner has bound */
	f = fetcher("f1", 2);
	memset(long_ident, 'L', sizeof(long_ident));
	big = fetcher(long_ident, sizeof(long_ident));
	send_malformed(f);
	send_ready(big, 0);
	other = fetcher("f2", 2);
	check_refusal(other);
	zmq_close(other);
	/* the run goes on: a lease, then failures that are retried */
	send_ready(f, 0);
	ci = recv_lease(f);
	assert_string_equal(ci.market, "KRW-BTC");
	send_failed(f, &ci, FAIL_RATE_429, "HTTP 429");
	send_ready(f, 1);
	ci = recv_lease(f);
	assert_int_equal(ci.attempt, 1);
	send_failed(f, &ci, FAIL_BLOCKED_418, "HTTP 418");
	send_ready(f, 2);
	ci = recv_lease(f);
	send_failed(f, &ci, FAIL_TEMP_NET, "connection reset");
	send_ready(f, 3);
	ci = recv_lease(f);
	assert_int_equal(ci.attempt, 3);
	send_failed(f, &ci, FAIL_PERM_MARKET, "unknown market KRW-BTC");
	assert_int_equal(waitpid(pid, &status, 0), pid);
	pid = 0;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), EXIT_FAILED);
	assert_true(log_has("malformed READY dropped"));
	assert_true(log_has("malformed FAILED dropped"));
	assert_true(log_has("malformed COMMITTED dropped"));
	assert_true(log_has("unexpected message (type -1, 4 bytes) dropped"));
	assert_true(log_has("message with extra frames dropped"));
	assert_true(log_has("too many fetchers; ignoring one"));
	assert_true(log_has("429 from source 10.0.0.1: slowing down"));
	assert_true(log_has("418 from source 10.0.0.1: blocked"));
	assert_true(log_has("retrying (temp_net)"));
	assert_true(log_has("collect: not covered: KRW-BTC 1d "));
	assert_true(log_has("(unknown market KRW-BTC)"));
	zmq_close(f);
	zmq_close(big);
	zmq_ctx_term(ctx);
	buf_free(&mb);
	unlink(logpath);
	rmdir(dir);
}

/* a failed assertion leaves the planner running: stop it */
static int
teardown(void **state)
{
	(void)state;
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_scripted_fetcher, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
