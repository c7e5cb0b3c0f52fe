/* net_test: ZeroMQ socket setup (common/net.c) over ipc:// in a temporary
 * directory: plain and CURVE round trips, ROUTER_MANDATORY, stale ipc
 * files, bad key files and endpoints (with their messages), the
 * NULL-tolerant event publisher, the ZAP handler with allowed, refused and
 * malformed requests, and (CRASHPOINTS builds) every setsockopt failure. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "capture.h"
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

static void
write_file(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
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

static void
key_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

/* s.key (server pair, with comments, CRLF and trailing blanks), s.pub,
 * c.key and x.key (client pairs); *cpub gets c.key's public key. */
static void
make_key_files(char cpub[41])
{
	char spub[41], ssec[41], csec[41], xpub[41], xsec[41], text[512];

	assert_int_equal(zmq_curve_keypair(spub, ssec), 0);
	assert_int_equal(zmq_curve_keypair(cpub, csec), 0);
	assert_int_equal(zmq_curve_keypair(xpub, xsec), 0);
	snprintf(text, sizeof(text), "# server keys\r\n\npublic=%s \r\nsecret=%s\t\n", spub, ssec);
	write_file("s.key", text);
	snprintf(text, sizeof(text), "public=%s\n", spub);
	write_file("s.pub", text);
	snprintf(text, sizeof(text), "secret=%s\n", ssec);
	write_file("secret-only.key", text);
	snprintf(text, sizeof(text), "public=%s\nsecret=%s\n", cpub, csec);
	write_file("c.key", text);
	snprintf(text, sizeof(text), "public=%s\nsecret=%s\n", xpub, xsec);
	write_file("x.key", text);
	write_file("junk.key", "private=nothing-to-see\n");
}

static void
test_key_files(void **state)
{
	static const struct {
		const char *server, *client;
		int bind;
		const char *msg;
	} bad[] = {
		{ "big.key", NULL, 1, "big.key: unreadable or too large" },
		{ "junk.key", NULL, 1,
		  "junk.key: want lines public=<z85 key> and secret=<z85 key>" },
		{ "s.pub", NULL, 1, "s.pub: a server needs secret=" },
		{ "secret-only.key", "c.key", 0,
		  "secret-only.key: a client needs the server's public=" },
		{ "s.pub", NULL, 0, "CURVE client without a client key file" },
		{ "s.pub", "missing.key", 0, "missing.key: No such file or directory" },
		{ "missing.pub", "c.key", 0, "missing.pub: No such file or directory" },
		{ "s.pub", "s.pub", 0, "s.pub: a client needs public= and secret=" },
		{ "s.pub", "junk.key", 0, "junk.key: want lines public=" },
	};
	char cpub[41], ep[128], sk[128], ck[128], big[5000];
	void *r, *d;

	(void)state;
	if (!zmq_has("curve"))
		skip();
	make_key_files(cpub);
	memset(big, '#', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	write_file("big.key", big);
	/* comments, blank lines, CRLF and trailing blanks are accepted */
	key_path(sk, sizeof(sk), "s.key");
	key_path(ck, sizeof(ck), "c.key");
	endpoint(ep, sizeof(ep), "keys");
	{
		struct net_curve sc = { .server_key_file = sk };
		char spub_path[128];
		struct net_curve cc = { .server_key_file = spub_path, .client_key_file = ck };

		key_path(spub_path, sizeof(spub_path), "s.pub");
		assert_non_null(r = net_socket(ctx, ZMQ_ROUTER, ep, 1, &sc));
		assert_non_null(d = net_socket(ctx, ZMQ_DEALER, ep, 0, &cc));
		assert_int_equal(round_trip(r, d), 0);
		zmq_close(d);
		zmq_close(r);
	}
	/* each bad key file fails the socket with a message naming the problem */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char spath[128], cpath[128];
		struct net_curve c = { .server_key_file = spath,
			               .client_key_file = bad[i].client ? cpath : NULL };

		key_path(spath, sizeof(spath), bad[i].server);
		if (bad[i].client != NULL)
			key_path(cpath, sizeof(cpath), bad[i].client);
		cap_begin();
		r = net_socket(ctx, bad[i].bind ? ZMQ_ROUTER : ZMQ_DEALER, ep, bad[i].bind, &c);
		assert_logged(cap_end(NULL), bad[i].msg);
		assert_null(r);
	}
}

static void
test_endpoints(void **state)
{
	char ep[128];
	void *s;

	(void)state;
	cap_begin();
	s = net_socket(NULL, ZMQ_ROUTER, "inproc://x", 1, NULL);
	assert_logged(cap_end(NULL), "net_socket: no context or endpoint");
	assert_null(s);
	cap_begin();
	s = net_socket(ctx, 12345, "inproc://x", 1, NULL);
	assert_logged(cap_end(NULL), "zmq_socket: Invalid argument");
	assert_null(s);
	cap_begin();
	s = net_socket(ctx, ZMQ_DEALER, "nonsense://x", 0, NULL);
	assert_logged(cap_end(NULL), "connect nonsense://x: Protocol not supported");
	assert_null(s);
	cap_begin();
	s = net_events_open(ctx, "nonsense://x", NULL);
	assert_logged(cap_end(NULL), "connect nonsense://x: Protocol not supported");
	assert_null(s);
	/* tcp and abstract ipc endpoints have no file to clean up */
	assert_non_null(s = net_socket(ctx, ZMQ_ROUTER, "tcp://127.0.0.1:*", 1, NULL));
	zmq_close(s);
	snprintf(ep, sizeof(ep), "ipc://@net_test.%ld", (long)getpid());
	assert_non_null(s = net_socket(ctx, ZMQ_ROUTER, ep, 1, NULL));
	zmq_close(s);
}

/* An event that cannot be queued is dropped whole: no payload without its
 * topic reaches a later peer. */
static void
test_event_dropped(void **state)
{
	zmq_pollitem_t pi;
	char ep[128], buf[64];
	void *push, *pull;
	int more = 0;
	size_t ml = sizeof(more);

	(void)state;
	endpoint(ep, sizeof(ep), "push");
	/* PUSH without a peer: the send would block, so the event is lost */
	assert_non_null(push = net_socket(ctx, ZMQ_PUSH, ep, 1, NULL));
	net_event(push, "lost", "payload", 7);
	assert_non_null(pull = net_socket(ctx, ZMQ_PULL, ep, 0, NULL));
	pi = (zmq_pollitem_t){ .socket = pull, .events = ZMQ_POLLIN };
	for (int i = 0; i < 300 && zmq_poll(&pi, 1, 0) == 0; i++) {
		net_event(push, "kept", "payload", 7);
		usleep(10000);
	}
	assert_int_equal(zmq_poll(&pi, 1, 3000), 1);
	assert_int_equal(zmq_recv(pull, buf, sizeof(buf), 0), 4);
	assert_memory_equal(buf, "kept", 4);
	assert_int_equal(zmq_getsockopt(pull, ZMQ_RCVMORE, &more, &ml), 0);
	assert_int_equal(more, 1);
	zmq_close(pull);
	zmq_close(push);
}

/* Sends a raw ZAP request of n frames (frame 5 = mech, 6 = key) and checks
 * the reply's status and that the request id comes back. */
static void
zap_ask(void *req, int n, const char *mech, const uint8_t key[32], const char *status)
{
	const char *f[4] = { "1.0", "req-7", "", "127.0.0.1" };
	char buf[64];
	int len;

	for (int i = 0; i < n; i++) {
		int more = i < n - 1 ? ZMQ_SNDMORE : 0;

		if (i < 4)
			assert_true(zmq_send(req, f[i], strlen(f[i]), more) >= 0);
		else if (i == 5)
			assert_true(zmq_send(req, mech, strlen(mech), more) >= 0);
		else if (i == 6)
			assert_true(zmq_send(req, key, 32, more) >= 0);
		else
			assert_true(zmq_send(req, "", 0, more) >= 0);
	}
	assert_int_equal(zmq_recv(req, buf, sizeof(buf), 0), 3);
	assert_memory_equal(buf, "1.0", 3);
	len = zmq_recv(req, buf, sizeof(buf), 0);
	if (n > 1) {
		assert_int_equal(len, 5);
		assert_memory_equal(buf, "req-7", 5);
	} else {
		assert_int_equal(len, 0);
	}
	assert_int_equal(zmq_recv(req, buf, sizeof(buf), 0), 3);
	assert_memory_equal(buf, status, 3);
	for (int i = 0; i < 3; i++) /* status text, user id, metadata */
		assert_true(zmq_recv(req, buf, sizeof(buf), 0) >= 0);
}

static void
test_zap(void **state)
{
	char cpub[41], allow[1024], ep[128], sk[128], spub[128], ck[128], xk[128], path[128];
	uint8_t key[32], other[32] = { 0 };
	void *zctx, *r, *d, *x, *req;
	zmq_pollitem_t pi;
	const char *log;
	int rc;

	(void)state;
	if (!zmq_has("curve"))
		skip();
	make_key_files(cpub);
	assert_non_null(zctx = zmq_ctx_new());
	/* allow files that allow nobody */
	cap_begin();
	rc = net_zap_start(zctx, "/nonexistent/allow");
	assert_logged(cap_end(NULL), "/nonexistent/allow: No such file or directory");
	assert_int_equal(rc, -1);
	write_file("none.allow", "# nobody\npublic=short\n"
	                         "public=~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n");
	key_path(path, sizeof(path), "none.allow");
	cap_begin();
	rc = net_zap_start(zctx, path);
	assert_logged(cap_end(NULL), "none.allow: no public= key to allow");
	assert_int_equal(rc, -1);
	/* the client c.key is allowed, x.key is not */
	snprintf(allow, sizeof(allow), "# the fetchers\nsecret=ignored\npublic=%s\n", cpub);
	write_file("c.allow", allow);
	key_path(path, sizeof(path), "c.allow");
	assert_int_equal(net_zap_start(zctx, path), 0);
	/* one handler per context */
	cap_begin();
	rc = net_zap_start(zctx, path);
	assert_logged(cap_end(NULL), "ZAP handler: Address already in use");
	assert_int_equal(rc, -1);
	key_path(sk, sizeof(sk), "s.key");
	key_path(spub, sizeof(spub), "s.pub");
	key_path(ck, sizeof(ck), "c.key");
	key_path(xk, sizeof(xk), "x.key");
	endpoint(ep, sizeof(ep), "zap");
	{
		struct net_curve sc = { .server_key_file = sk };
		struct net_curve cc = { .server_key_file = spub, .client_key_file = ck };
		struct net_curve xc = { .server_key_file = spub, .client_key_file = xk };

		assert_non_null(r = net_socket(zctx, ZMQ_ROUTER, ep, 1, &sc));
		assert_non_null(d = net_socket(zctx, ZMQ_DEALER, ep, 0, &cc));
		assert_int_equal(round_trip(r, d), 0);
		/* the refused client's message never reaches the server */
		cap_begin();
		assert_non_null(x = net_socket(zctx, ZMQ_DEALER, ep, 0, &xc));
		(void)net_send(x, "intruder", 8, 0);
		pi = (zmq_pollitem_t){ .socket = r, .events = ZMQ_POLLIN };
		assert_int_equal(zmq_poll(&pi, 1, 500), 0);
		log = cap_end("refused");
		assert_logged(log, "CURVE client refused: its key is not in the allow list");
	}
	/* raw requests: allowed key, wrong mechanism, unknown key, too many
	 * frames (the extra ones are dropped), too few */
	assert_non_null(zmq_z85_decode(key, cpub));
	assert_non_null(req = zmq_socket(zctx, ZMQ_REQ));
	assert_int_equal(zmq_connect(req, "inproc://zeromq.zap.01"), 0);
	cap_begin();
	zap_ask(req, 7, "CURVE", key, "200");
	zap_ask(req, 7, "PLAIN", key, "400");
	zap_ask(req, 7, "CURVE", other, "400");
	zap_ask(req, 10, "CURVE", key, "400");
	zap_ask(req, 1, "CURVE", key, "400");
	zap_ask(req, 7, "CURVE", key, "200");
	(void)cap_end(NULL);
	zmq_close(req);
	zmq_close(x);
	zmq_close(d);
	zmq_close(r);
	net_zap_stop();
	net_zap_stop(); /* stopped: a no-op */
	assert_int_equal(zmq_ctx_term(zctx), 0);
}

#ifdef CP_CRASHPOINTS
/* Child side of test_setopt_failures: one socket set up in a fresh process
 * armed by CP_FAIL; exits 0 if it failed, 1 if it was created. */
static int
failcase(const char *kind)
{
	char sk[128], spub[128], ck[128], ep[128];
	struct net_tune tune = { .immediate = 1 };
	struct net_curve sc = { .server_key_file = sk };
	struct net_curve cc = { .server_key_file = spub, .client_key_file = ck };
	void *s;

	key_path(sk, sizeof(sk), "s.key");
	key_path(spub, sizeof(spub), "s.pub");
	key_path(ck, sizeof(ck), "c.key");
	endpoint(ep, sizeof(ep), "failcase");
	ctx = zmq_ctx_new();
	if (strcmp(kind, "server") == 0)
		s = net_socket_tuned(ctx, ZMQ_ROUTER, ep, 1, &sc, &tune);
	else if (strcmp(kind, "client") == 0)
		s = net_socket(ctx, ZMQ_DEALER, ep, 0, &cc);
	else
		s = net_events_open(ctx, ep, NULL);
	if (s != NULL)
		zmq_close(s);
	zmq_ctx_term(ctx);
	return s != NULL;
}

/* Fails the Nth setsockopt for N = 1, 2, ... until the socket is created:
 * each failure is logged under its option's name and yields no socket. */
static void
fail_each_setopt(const char *kind, int nopts, const char *const *opts)
{
	char log_path[128], cpfail[64];
	int st, n;

	key_path(log_path, sizeof(log_path), "failcase.log");
	for (n = 1; n <= nopts + 1; n++) {
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

			snprintf(cpfail, sizeof(cpfail), "net_setopt:%d", n);
			if (fd < 0 || dup2(fd, STDERR_FILENO) == -1 ||
			    setenv("CP_FAIL", cpfail, 1) == -1 ||
			    setenv("NET_TEST_DIR", dir, 1) == -1)
				_exit(3);
			execl("/proc/self/exe", "net_test", "--failcase", kind, (char *)NULL);
			_exit(3);
		}
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFEXITED(st));
		if (WEXITSTATUS(st) == 1)
			break;
		assert_int_equal(WEXITSTATUS(st), 0);
		snprintf(cap_path, sizeof(cap_path), "%s", log_path);
		cap_read();
		snprintf(cpfail, sizeof(cpfail), "failpoint net_setopt:%d hit", n);
		assert_logged(cap_text, cpfail);
		snprintf(cpfail, sizeof(cpfail), "zmq_setsockopt %s: ", opts[n - 1]);
		assert_logged(cap_text, cpfail);
	}
	assert_int_equal(n, nopts + 1); /* created once no option failed */
}
#endif

static void
test_setopt_failures(void **state)
{
#ifdef CP_CRASHPOINTS
	static const char *const server[] = { "SNDHWM",           "RCVHWM",
		                              "LINGER",           "IPV6",
		                              "ROUTER_MANDATORY", "MAXMSGSIZE",
		                              "IMMEDIATE",        "CURVE_SERVER",
		                              "CURVE_SECRETKEY",  "CURVE_PUBLICKEY" };
	/* a connecting socket also gets the reconnect interval and its cap */
	static const char *const client[] = { "SNDHWM",          "RCVHWM",
		                              "LINGER",          "IPV6",
		                              "MAXMSGSIZE",      "CURVE_SERVERKEY",
		                              "CURVE_PUBLICKEY", "CURVE_SECRETKEY",
		                              "RECONNECT_IVL",   "RECONNECT_IVL_MAX" };
	static const char *const events[] = { "SNDHWM", "RCVHWM",        "LINGER",
		                              "IPV6",   "RECONNECT_IVL", "RECONNECT_IVL_MAX",
		                              "SNDHWM", "LINGER" };
	char cpub[41];

	(void)state;
	if (!zmq_has("curve"))
		skip();
	make_key_files(cpub);
	fail_each_setopt("server", 10, server);
	fail_each_setopt("client", 10, client);
	fail_each_setopt("events", 8, events);
#else
	(void)state;
	skip(); /* needs a CRASHPOINTS=1 build */
#endif
}

/* Sends n frames "f0", "f1", ... as one message. */
static void
send_frames(void *s, int n)
{
	char f[16];

	for (int i = 0; i < n; i++) {
		snprintf(f, sizeof(f), "f%d", i);
		assert_true(zmq_send(s, f, strlen(f), i < n - 1 ? ZMQ_SNDMORE : 0) >= 0);
	}
}

/* net_recv_msg: nothing waiting, whole messages of 1 and 3 frames, one of
 * more frames than it keeps (dropped whole, the next one intact), and a
 * receive that fails (a context shut down). */
static void
test_recv_msg(void **state)
{
	struct net_msg m;
	void *c2 = zmq_ctx_new(), *push, *pull;
	const void *d;
	size_t len;

	(void)state;
	assert_non_null(c2);
	assert_non_null(pull = zmq_socket(c2, ZMQ_PULL));
	assert_int_equal(zmq_bind(pull, "inproc://recv_msg"), 0);
	assert_non_null(push = zmq_socket(c2, ZMQ_PUSH));
	assert_int_equal(zmq_connect(push, "inproc://recv_msg"), 0);

	assert_int_equal(net_recv_msg(pull, ZMQ_DONTWAIT, &m), 0);
	send_frames(push, 1);
	send_frames(push, 3);
	send_frames(push, NET_FRAMES_MAX + 3);
	send_frames(push, 2);
	assert_int_equal(net_recv_msg(pull, 0, &m), 1);
	d = net_frame(&m, 0, &len);
	assert_int_equal(len, 2);
	assert_memory_equal(d, "f0", 2);
	net_msg_close(&m);
	assert_int_equal(net_recv_msg(pull, 0, &m), 3);
	d = net_frame(&m, 2, &len);
	assert_memory_equal(d, "f2", 2);
	net_msg_close(&m);
	net_msg_close(&m); /* again: a no-op */
	assert_int_equal(net_recv_msg(pull, 0, &m), -1);
	assert_int_equal(m.err, EMSGSIZE);
	assert_string_equal(m.why, "a message of 11 frames (at most 8) dropped");
	assert_int_equal(m.n, NET_FRAMES_MAX); /* the first ones, for an answer */
	net_msg_close(&m);
	assert_int_equal(net_recv_msg(pull, ZMQ_DONTWAIT, &m), 2);
	d = net_frame(&m, 1, &len);
	assert_memory_equal(d, "f1", 2);
	net_msg_close(&m);
	assert_int_equal(net_recv_msg(pull, ZMQ_DONTWAIT, &m), 0);

	zmq_close(push);
	assert_int_equal(zmq_ctx_shutdown(c2), 0);
	assert_int_equal(net_recv_msg(pull, 0, &m), -1);
	assert_int_equal(m.err, ETERM);
	assert_int_equal(m.n, 0);
	assert_non_null(strstr(m.why, "receive: "));
	net_msg_close(&m);
	zmq_close(pull);
	assert_int_equal(zmq_ctx_term(c2), 0);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),     cmocka_unit_test(test_curve),
		cmocka_unit_test(test_events),    cmocka_unit_test(test_key_files),
		cmocka_unit_test(test_endpoints), cmocka_unit_test(test_event_dropped),
		cmocka_unit_test(test_zap),       cmocka_unit_test(test_setopt_failures),
		cmocka_unit_test(test_recv_msg),
	};

#ifdef CP_CRASHPOINTS
	if (argc == 3 && strcmp(argv[1], "--failcase") == 0 && getenv("NET_TEST_DIR") != NULL) {
		snprintf(dir, sizeof(dir), "%s", getenv("NET_TEST_DIR"));
		return failcase(argv[2]);
	}
#endif
	(void)argc;
	(void)argv;
	return cmocka_run_group_tests(tests, setup, teardown);
}
