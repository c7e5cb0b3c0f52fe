/* ctlclient_test: the one control client (common/ctlproto.c, struct
 * ctl_client) that cp-planner ctl, cp-serve's read-through and its /v1/jobs
 * share, against a scripted daemon (a ROUTER on an ipc socket in a thread):
 * an answer's verdict (ok, refused with its reason, another protocol
 * version), a request with no answer in time whose late answer is never
 * taken for the next request's, a malformed answer, a signal during the
 * wait (SIGINT on a collect that then cancels its job) that does not lose
 * the answer, the daemon's instance (a restart seen), and the patient
 * request that outlives a daemon restarted on the same endpoint. */
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
	int requests;     /* how many to answer before the thread ends */
	int drop;         /* how many to take first and not answer */
	int64_t instance; /* in each answer (0: none); op "bump" adds 1 first */
	pthread_t th;
};

/* The answer to op: {v, ok, op, [instance]} (v 2 for "alien"; a refusal
 * for "refuse"). */
static void
pack_answer(msgpack_sbuffer *sb, const char *op, int64_t instance)
{
	msgpack_packer pk;
	int refuse = strcmp(op, "refuse") == 0;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3 + refuse + (instance != 0));
	if (instance != 0)
		ctl_pack_kv_i64(&pk, "instance", instance);
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

/* One request (identity frame, body) answered as its op says (or dropped
 * while d->drop lasts): 1 answered, 0 dropped, -1 none came. */
static int
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
		return -1;
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, zmq_msg_data(&body), zmq_msg_size(&body), &off) ==
	    MSGPACK_UNPACK_SUCCESS)
		(void)ctl_get_str(&u.data, "op", op, sizeof(op));
	msgpack_unpacked_destroy(&u);
	if (strcmp(op, "slow") == 0)
		usleep(SLOW_MS * 1000);
	d->instance += strcmp(op, "bump") == 0;
	msgpack_sbuffer_init(&sb);
	pack_answer(&sb, op, d->instance);
	if (d->drop == 0 && zmq_msg_send(&id, d->sock, ZMQ_SNDMORE) != -1)
		zmq_send(d->sock, sb.data, strcmp(op, "empty") == 0 ? 0 : sb.size, 0);
	else
		zmq_msg_close(&id); /* not sent: still ours */
	msgpack_sbuffer_destroy(&sb);
	zmq_msg_close(&body);
	return d->drop > 0 ? (d->drop--, 0) : 1;
}

static void *
daemon_main(void *arg)
{
	struct daemon *d = arg;

	for (int n = 0, r; n < d->requests && (r = answer_one(d)) != -1;)
		n += r;
	return NULL;
}

/* A daemon that takes requests (the first drop of them unanswered), its
 * answers of instance. */
static void
daemon_start(struct daemon *d, int requests, int64_t instance, int drop)
{
	int linger = 0;

	memset(d, 0, sizeof(*d));
	snprintf(d->endpoint, sizeof(d->endpoint), "ipc:///tmp/ctlclient_test.%d.sock",
	         (int)getpid());
	d->requests = requests;
	d->instance = instance;
	d->drop = drop;
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

/* One {v, op} request through c (patient with p, unless NULL); its
 * verdict, why in why. */
static enum ctl_verdict
ask_with(struct ctl_client *c, const char *op, const struct ctl_patience *p, char *why, size_t len)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	enum ctl_verdict v;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	ctl_pack_kv_i64(&pk, "v", CTL_VERSION);
	ctl_pack_kv_str(&pk, "op", op);
	v = p != NULL ? ctl_client_ask_patient(c, &sb, p, why, len)
	              : ctl_client_ask(c, &sb, why, len);
	msgpack_sbuffer_destroy(&sb);
	return v;
}

static enum ctl_verdict
ask(struct ctl_client *c, const char *op, char *why, size_t len)
{
	return ask_with(c, op, NULL, why, len);
}

static void
test_ok_refused_alien(void **state)
{
	struct daemon d;
	struct ctl_client c;
	char why[CTL_ERR_MAX], op[32];

	(void)state;
	daemon_start(&d, 3, 0, 0);
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
	daemon_start(&d, 3, 0, 0);
	assert_int_equal(ctl_client_open(&c, d.endpoint, TIMEOUT_MS, why, sizeof(why)), 0);
	assert_int_equal(ask(&c, "slow", why, sizeof(why)), CTL_NOANSWER);
	assert_non_null(strstr(why, d.endpoint));
	usleep(2 * SLOW_MS * 1000); /* the late answer has come by now */
	c.timeout_ms = 3000;
	assert_int_equal(ask(&c, "status", why, sizeof(why)), CTL_OK);
	assert_int_equal(ctl_get_str(&c.reply.data, "op", op, sizeof(op)), 0);
	assert_string_equal(op, "status");
	/* an answer that is no msgpack is said so, and not taken */
	assert_int_equal(ask(&c, "empty", why, sizeof(why)), CTL_NOANSWER);
	assert_non_null(strstr(why, "malformed"));
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
	daemon_start(&d, 1, 0, 0);
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

/* The first answer's instance is noted; another one is a restart (once),
 * and an answer with none changes nothing. */
static void
test_instance_change(void **state)
{
	struct daemon d;
	struct ctl_client c;
	char why[CTL_ERR_MAX];

	(void)state;
	daemon_start(&d, 4, 7, 0);
	assert_int_equal(ctl_client_open(&c, d.endpoint, 3000, why, sizeof(why)), 0);
	assert_int_equal(ask(&c, "status", why, sizeof(why)), CTL_OK);
	assert_int_equal(c.instance, 7);
	assert_false(c.restarted);
	assert_int_equal(ask(&c, "status", why, sizeof(why)), CTL_OK);
	assert_false(c.restarted);
	assert_int_equal(ask(&c, "bump", why, sizeof(why)), CTL_OK);
	assert_true(c.restarted);
	assert_int_equal(c.instance, 8);
	assert_int_equal(ask(&c, "status", why, sizeof(why)), CTL_OK);
	assert_false(c.restarted);
	ctl_client_close(&c);
	daemon_stop(&d);
}

static int waited;

static void
on_waiting(const struct ctl_client *c)
{
	(void)c;
	waited++;
}

/* The daemon restarted on the same endpoint, its first request taken and
 * not answered: the patient request is asked again, said once, and its
 * answer is of the new instance. */
static void
test_patient_survives_restart(void **state)
{
	struct daemon d;
	struct ctl_client c;
	struct ctl_patience p = { 60000, NULL, on_waiting };
	char why[CTL_ERR_MAX];

	(void)state;
	daemon_start(&d, 1, 7, 0);
	assert_int_equal(ctl_client_open(&c, d.endpoint, TIMEOUT_MS, why, sizeof(why)), 0);
	c.timeout_ms = 3000;
	assert_int_equal(ask(&c, "status", why, sizeof(why)), CTL_OK);
	daemon_stop(&d);
	daemon_start(&d, 1, 9, 2); /* the first two it takes are not answered */
	c.timeout_ms = TIMEOUT_MS;
	waited = 0;
	assert_int_equal(ask_with(&c, "status", &p, why, sizeof(why)), CTL_OK);
	assert_int_equal(waited, 1);
	assert_true(c.restarted);
	assert_int_equal(c.instance, 9);
	ctl_client_close(&c);
	daemon_stop(&d);
}

/* Nobody there: the patient request gives up after gone_ms, or at once
 * once stop is set, saying for how long there was no answer. */
static void
test_patient_gives_up(void **state)
{
	static volatile sig_atomic_t stop = 1;
	struct ctl_client c;
	struct ctl_patience p = { 3 * TIMEOUT_MS, NULL, on_waiting };
	char why[CTL_ERR_MAX];

	(void)state;
	assert_int_equal(ctl_client_open(&c, "ipc:///tmp/ctlclient_test.nobody.sock", TIMEOUT_MS,
	                                 why, sizeof(why)),
	                 0);
	waited = 0;
	assert_int_equal(ask_with(&c, "status", &p, why, sizeof(why)), CTL_NOANSWER);
	assert_int_equal(waited, 1);
	assert_non_null(strstr(why, "no answer from the daemon at ipc:///tmp/ctlclient_test."));
	assert_non_null(strstr(why, " for "));
	p.stop = &stop;
	waited = 0;
	assert_int_equal(ask_with(&c, "status", &p, why, sizeof(why)), CTL_NOANSWER);
	assert_int_equal(waited, 0);
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
		cmocka_unit_test(test_instance_change),
		cmocka_unit_test(test_patient_survives_restart),
		cmocka_unit_test(test_patient_gives_up),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
