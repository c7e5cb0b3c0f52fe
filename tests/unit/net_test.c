/* net_test: ZeroMQ socket setup (common/net.c) over ipc:// in a temporary
 * directory: plain and CURVE round trips, ROUTER_MANDATORY, stale ipc
 * files, bad key files, and the NULL-tolerant event publisher. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "net.h"

static char dir[64];
static void *ctx;

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/net_test.XXXXXX");
	if (mkdtemp(dir) == NULL || (ctx = zmq_ctx_new()) == NULL)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	zmq_ctx_term(ctx);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
endpoint(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "ipc://%s/%s", dir, name);
}

/* DEALER -> ROUTER -> DEALER round trip; 0 or -1. */
static int
round_trip(void *router, void *dealer)
{
	zmq_pollitem_t pi = { .socket = router, .events = ZMQ_POLLIN };
	char id[256], buf[64];
	int idlen, n;

	if (net_send(dealer, "hello", 5, 0) == -1)
		return -1;
	if (zmq_poll(&pi, 1, 3000) != 1)
		return -1;
	if ((idlen = zmq_recv(router, id, sizeof(id), 0)) <= 0)
		return -1;
	if (zmq_recv(router, buf, sizeof(buf), 0) != 5 || memcmp(buf, "hello", 5) != 0)
		return -1;
	if (net_send(router, id, (size_t)idlen, 1) == -1 || net_send(router, "back", 4, 0) == -1)
		return -1;
	pi.socket = dealer;
	if (zmq_poll(&pi, 1, 3000) != 1)
		return -1;
	n = zmq_recv(dealer, buf, sizeof(buf), 0);
	return n == 4 && memcmp(buf, "back", 4) == 0 ? 0 : -1;
}

static void
test_plain(void **state)
{
	char ep[128], path[128];
	void *r, *d;
	int v = 0;
	size_t vl = sizeof(v);

	(void)state;
	endpoint(ep, sizeof(ep), "work");
	r = net_socket(ctx, ZMQ_ROUTER, ep, 1, NULL);
	assert_non_null(r);
	d = net_socket(ctx, ZMQ_DEALER, ep, 0, NULL);
	assert_non_null(d);
	assert_int_equal(zmq_getsockopt(r, ZMQ_SNDHWM, &v, &vl), 0);
	assert_int_equal(v, NET_HWM);
	assert_int_equal(zmq_getsockopt(d, ZMQ_LINGER, &v, &vl), 0);
	assert_int_equal(v, NET_LINGER_MS);
	assert_int_equal(round_trip(r, d), 0);
	/* ROUTER_MANDATORY: an unknown peer is an error, not a silent drop */
	assert_int_equal(net_send(r, "nobody", 6, 1), -1);
	zmq_close(d);
	zmq_close(r);
	/* a stale socket file left by a crashed run does not block bind */
	endpoint(ep, sizeof(ep), "stale");
	snprintf(path, sizeof(path), "%s/stale", dir);
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);

		assert_true(fd >= 0);
		strcpy(sa.sun_path, path);
		assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		close(fd); /* the file stays */
	}
	assert_int_equal(access(path, F_OK), 0);
	r = net_socket(ctx, ZMQ_ROUTER, ep, 1, NULL);
	assert_non_null(r);
	zmq_close(r);
	/* bad endpoints */
	assert_null(net_socket(ctx, ZMQ_ROUTER, "nonsense://x", 1, NULL));
	assert_null(net_socket(ctx, ZMQ_ROUTER, NULL, 1, NULL));
}

static void
write_keys(const char *name, const char *pub, const char *sec)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	if (pub != NULL)
		fprintf(f, "public=%s\n", pub);
	if (sec != NULL)
		fprintf(f, "secret=%s\n", sec);
	fclose(f);
}

static void
test_curve(void **state)
{
	char spub[41], ssec[41], cpub[41], csec[41], ep[128];
	char skey[128], spubkey[128], ckey[128], bad[128];
	void *r, *d;

	(void)state;
	if (!zmq_has("curve"))
		skip();
	assert_int_equal(zmq_curve_keypair(spub, ssec), 0);
	assert_int_equal(zmq_curve_keypair(cpub, csec), 0);
	write_keys("server.key", spub, ssec);
	write_keys("server.pub", spub, NULL);
	write_keys("client.key", cpub, csec);
	write_keys("bad.key", "tooshort", NULL);
	snprintf(skey, sizeof(skey), "%s/server.key", dir);
	snprintf(spubkey, sizeof(spubkey), "%s/server.pub", dir);
	snprintf(ckey, sizeof(ckey), "%s/client.key", dir);
	snprintf(bad, sizeof(bad), "%s/bad.key", dir);
	endpoint(ep, sizeof(ep), "curve");
	{
		struct net_curve sc = { .server_key_file = skey };
		struct net_curve cc = { .server_key_file = spubkey, .client_key_file = ckey };

		r = net_socket(ctx, ZMQ_ROUTER, ep, 1, &sc);
		assert_non_null(r);
		d = net_socket(ctx, ZMQ_DEALER, ep, 0, &cc);
		assert_non_null(d);
		assert_int_equal(round_trip(r, d), 0);
		zmq_close(d);
		zmq_close(r);
	}
	{
		struct net_curve s_nosecret = { .server_key_file = spubkey };
		struct net_curve c_nokey = { .server_key_file = spubkey };
		struct net_curve s_bad = { .server_key_file = bad };
		struct net_curve s_missing = { .server_key_file = "/nonexistent/key" };

		endpoint(ep, sizeof(ep), "curve2");
		assert_null(net_socket(ctx, ZMQ_ROUTER, ep, 1, &s_nosecret));
		assert_null(net_socket(ctx, ZMQ_DEALER, ep, 0, &c_nokey));
		assert_null(net_socket(ctx, ZMQ_ROUTER, ep, 1, &s_bad));
		assert_null(net_socket(ctx, ZMQ_ROUTER, ep, 1, &s_missing));
	}
}

static void
test_events(void **state)
{
	char ep[128], buf[64];
	void *sub, *pub;
	zmq_pollitem_t pi;
	int got = 0;

	(void)state;
	assert_null(net_events_open(ctx, NULL, NULL));
	net_event(NULL, "topic", "x", 1); /* no-op */
	endpoint(ep, sizeof(ep), "events");
	/* nobody listening yet: publishing never blocks */
	pub = net_events_open(ctx, ep, NULL);
	assert_non_null(pub);
	for (int i = 0; i < 5000; i++)
		net_event(pub, "leased", "payload", 7);
	sub = net_socket(ctx, ZMQ_SUB, ep, 1, NULL);
	assert_non_null(sub);
	assert_int_equal(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0), 0);
	pi = (zmq_pollitem_t){ .socket = sub, .events = ZMQ_POLLIN };
	/* the subscription takes a moment to propagate: publish until seen */
	for (int i = 0; i < 300 && !got; i++) {
		net_event(pub, "leased", "payload", 7);
		if (zmq_poll(&pi, 1, 10) == 1) {
			int n = zmq_recv(sub, buf, sizeof(buf), 0), more = 0;
			size_t ml = sizeof(more);

			assert_int_equal(n, 6);
			assert_memory_equal(buf, "leased", 6);
			assert_int_equal(zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &ml), 0);
			assert_int_equal(more, 1);
			assert_int_equal(zmq_recv(sub, buf, sizeof(buf), 0), 7);
			got = 1;
		}
	}
	assert_true(got);
	zmq_close(pub);
	zmq_close(sub);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_curve),
		cmocka_unit_test(test_events),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
