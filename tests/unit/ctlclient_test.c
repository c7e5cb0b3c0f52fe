/* ctlclient_test: the one control client (common/ctlproto.c, struct
 * ctl_client) that cp-planner ctl, cp-serve's read-through and its /v1/jobs
 * share, against a scripted daemon (a ROUTER on an ipc socket in a thread):
 * an answer's verdict (ok, refused with its reason, another protocol
 * version), a request with no answer in time whose late answer is never
 * taken for the next request's, and a signal during the wait (SIGINT on a
 * collect that then cancels its job) that does not lose the answer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctlproto.h"

#define SLOW_MS 300    /* the scripted daemon's delay for op "slow" */
#define TIMEOUT_MS 100 /* the client's wait, shorter than SLOW_MS */

struct daemon {
	void *ctx, *sock;
	char endpoint[128];
	int requests; /* how many to answer before the thread ends */
	pthread_t th;
};

/* The answer to op: {v, ok, op} (v 2 for "alien"; a refusal for "refuse"). */
static void
pack_answer(msgpack_sbuffer *sb, const char *op)
{
	msgpack_packer pk;
	int refuse = strcmp(op, "refuse") == 0;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, refuse ? 4 : 3);
	ctl_pack_kv_i64(&pk, "v", strcmp(op, "alien") == 0 ? CTL_VERSION + 1 : CTL_VERSION);
	ctl_pack_key(&pk, "ok");
	if (refuse)
		msgpack_pack_false(&pk);
	else
		msgpack_pack_true(&pk);
	ctl_pack_kv_str(&pk, "op", op);
	if (refuse)
		ctl_pack_kv_str(&pk, "error", "no such market: KRW-NONE");
}

/* One request (identity frame, body) answered as its op says. */
static void
answer_one(struct daemon *d)
{
	zmq_msg_t id, body;
	msgpack_unpacked u;
	msgpack_sbuffer sb;
	char op[32] = "";
	size_t off = 0;

	zmq_msg_init(&id);
	zmq_msg_init(&body);
	if (zmq_msg_recv(&id, d->sock, 0) == -1 || zmq_msg_recv(&body, d->sock, 0) == -1)
		return;
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, zmq_msg_data(&body), zmq_msg_size(&body), &off) ==
	    MSGPACK_UNPACK_SUCCESS)
		(void)ctl_get_str(&u.data, "op", op, sizeof(op));
	msgpack_unpacked_destroy(&u);
	if (strcmp(op, "slow") == 0)
		usleep(SLOW_MS * 1000);
	msgpack_sbuffer_init(&sb);
	pack_answer(&sb, op);
	zmq_msg_send(&id, d->sock, ZMQ_SNDMORE);
	zmq_send(d->sock, sb.data, sb.size, 0);
	msgpack_sbuffer_destroy(&sb);
	zmq_msg_close(&body);
}

static void *
daemon_main(void *arg)
{
	struct daemon *d = arg;

	for (int i = 0; i < d->requests; i++)
		answer_one(d);
	return NULL;
}

static void
daemon_start(struct daemon *d, int requests)
{
	int linger = 0;

	memset(d, 0, sizeof(*d));
	snprintf(d->endpoint, sizeof(d->endpoint), "ipc:///tmp/ctlclient_test.%d.sock",
	         (int)getpid());
	d->requests = requests;
	assert_non_null(d->ctx = zmq_ctx_new());
	assert_non_null(d->sock = zmq_socket(d->ctx, ZMQ_ROUTER));
	zmq_setsockopt(d->sock, ZMQ_LINGER, &linger, sizeof(linger));
	assert_int_equal(zmq_bind(d->sock, d->endpoint), 0);
	assert_int_equal(pthread_create(&d->th, NULL, daemon_main, d), 0);
}

static void
daemon_stop(struct daemon *d)
{
	pthread_join(d->th, NULL);
	zmq_close(d->sock);
	zmq_ctx_term(d->ctx);
	unlink(d->endpoint + strlen("ipc://"));
}

/* ask: one {v, op} request through c; its verdict, why in why. */
static enum ctl_verdict
ask(struct ctl_client *c, const char *op, char *why, size_t len)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	enum ctl_verdict v;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	ctl_pack_kv_i64(&pk, "v", CTL_VERSION);
	ctl_pack_kv_str(&pk, "op", op);
	v = ctl_client_ask(c, &sb, why, len);
	msgpack_sbuffer_destroy(&sb);
	return v;
}

static void
test_ok_refused_alien(void **state)
{
	struct daemon d;
	struct ctl_client c;
	char why[CTL_ERR_MAX], op[32];

	(void)state;
	daemon_start(&d, 3);
	assert_int_equal(ctl_client_open(&c, d.endpoint, 3000, why, sizeof(why)), 0);
	assert_int_equal(ask(&c, "status", why, sizeof(why)), CTL_OK);
	assert_int_equal(ctl_get_str(&c.reply.data, "op", op, sizeof(op)), 0);
	assert_string_equal(op, "status");
	assert_int_equal(ask(&c, "refuse", why, sizeof(why)), CTL_REFUSED);
	assert_string_equal(why, "no such market: KRW-NONE");
	/* another version's answer is not taken, even with "ok": true */
	assert_int_equal(ask(&c, "alien", why, sizeof(why)), CTL_ALIEN);
	assert_non_null(strstr(why, "control protocol"));
	ctl_client_close(&c);
	daemon_stop(&d);
}

/* No answer within the timeout, then the late one must not be taken for
 * the next request's answer. */
static void
test_late_answer_dropped(void **state)
{
	struct daemon d;
	struct ctl_client c;
	char why[CTL_ERR_MAX], op[32] = "";

	(void)state;
	daemon_start(&d, 2);
	assert_int_equal(ctl_client_open(&c, d.endpoint, TIMEOUT_MS, why, sizeof(why)), 0);
	assert_int_equal(ask(&c, "slow", why, sizeof(why)), CTL_NOANSWER);
	assert_non_null(strstr(why, d.endpoint));
	usleep(2 * SLOW_MS * 1000); /* the late answer has come by now */
	c.timeout_ms = 3000;
	assert_int_equal(ask(&c, "status", why, sizeof(why)), CTL_OK);
	assert_int_equal(ctl_get_str(&c.reply.data, "op", op, sizeof(op)), 0);
	assert_string_equal(op, "status");
	ctl_client_close(&c);
	ctl_client_close(&c); /* a second close does nothing */
	daemon_stop(&d);
}

static volatile sig_atomic_t signalled;

static void
on_alarm(int sig)
{
	(void)sig;
	signalled++;
}

/* A signal (no SA_RESTART: zmq_poll fails with EINTR) in the middle of the
 * wait for a slow answer: the answer is still taken. */
static void
test_signal_during_wait(void **state)
{
	struct daemon d;
	struct ctl_client c;
	struct sigaction sa;
	struct itimerval at = { { 0, 0 }, { 0, SLOW_MS * 1000 / 3 } };
	char why[CTL_ERR_MAX], op[32] = "";

	(void)state;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
	daemon_start(&d, 1);
	assert_int_equal(ctl_client_open(&c, d.endpoint, 3000, why, sizeof(why)), 0);
	assert_int_equal(setitimer(ITIMER_REAL, &at, NULL), 0);
	assert_int_equal(ask(&c, "slow", why, sizeof(why)), CTL_OK);
	assert_int_equal(signalled, 1);
	assert_int_equal(ctl_get_str(&c.reply.data, "op", op, sizeof(op)), 0);
	assert_string_equal(op, "slow");
	ctl_client_close(&c);
	daemon_stop(&d);
	signal(SIGALRM, SIG_DFL);
}

static void
test_nobody_there(void **state)
{
	struct ctl_client c;
	char why[CTL_ERR_MAX];

	(void)state;
	assert_int_equal(ctl_client_open(&c, "ipc:///tmp/ctlclient_test.nobody.sock", TIMEOUT_MS,
	                                 why, sizeof(why)),
	                 0);
	assert_int_equal(ask(&c, "status", why, sizeof(why)), CTL_NOANSWER);
	ctl_client_close(&c);
	assert_int_equal(ctl_client_open(&c, "not an endpoint", TIMEOUT_MS, why, sizeof(why)), -1);
	ctl_client_close(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok_refused_alien),
		cmocka_unit_test(test_late_answer_dropped),
		cmocka_unit_test(test_signal_during_wait),
		cmocka_unit_test(test_nobody_there),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
