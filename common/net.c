/*
 * net.c: ZeroMQ sockets configured the same way in every process: explicit
 * high-water marks, a short linger, ROUTER_MANDATORY on routers, a message
 * size cap on every socket that receives, IPv4 only, optional CURVE keys
 * read from key files, the lossy event publisher, and the protocol version
 * hello (a refusal of another version, answered and logged, or fatal on the
 * side that is refused). Owns no state but the last version it refused:
 * every socket belongs to its caller.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>

#include "crashpoint.h"
#include "log.h"
#include "net.h"
#include "proto.h"

#define NET_MAXMSGSIZE_BYTES (1024 * 1024)
#define NET_EVENTS_HWM 1000
#define NET_KEY_FILE_MAX 4096
#define Z85_KEY_LEN 40

struct keypair {
	char pub[Z85_KEY_LEN + 1], sec[Z85_KEY_LEN + 1]; /* "" if absent */
};

/* zmq_setsockopt, logged on failure under the option's name. 0 or -1. */
static int
setopt(void *sock, int opt, const void *val, size_t len, const char *what)
{
	if (FAILPOINT("net_setopt") || zmq_setsockopt(sock, opt, val, len) == -1) {
		log_warnx("zmq_setsockopt %s: %s", what, zmq_strerror(zmq_errno()));
		return -1;
	}
	return 0;
}

static int
setopt_int(void *sock, int opt, int val, const char *what)
{
	return setopt(sock, opt, &val, sizeof(val), what);
}

static int
setopt_str(void *sock, int opt, const char *val, const char *what)
{
	/* Z85 keys are passed as 41 bytes: 40 characters and the NUL. */
	return setopt(sock, opt, val, strlen(val) + 1, what);
}

/* A Z85 key: exactly 40 characters that decode to 32 bytes. */
static int
key_ok(const char *z85)
{
	uint8_t bin[32];

	return strlen(z85) == Z85_KEY_LEN && zmq_z85_decode(bin, z85) != NULL;
}

/* Reads "public=<z85>" and "secret=<z85>" lines; other lines starting with
 * '#' or empty are ignored, anything else is an error. 0 or -1 (logged). */
static int
key_file_read(const char *path, struct keypair *kp)
{
	char buf[NET_KEY_FILE_MAX + 1], *line, *save = NULL;
	size_t n;
	FILE *f;

	memset(kp, 0, sizeof(*kp));
	if ((f = fopen(path, "r")) == NULL) {
		log_warn("%s", path);
		return -1;
	}
	n = fread(buf, 1, NET_KEY_FILE_MAX + 1, f);
	if (ferror(f) || n > NET_KEY_FILE_MAX) {
		log_warnx("%s: unreadable or too large", path);
		fclose(f);
		return -1;
	}
	fclose(f);
	buf[n] = '\0';
	for (line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		size_t len = strlen(line);
		char *dst;

		while (len > 0 &&
		       (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		if (strncmp(line, "public=", 7) == 0)
			dst = kp->pub;
		else if (strncmp(line, "secret=", 7) == 0)
			dst = kp->sec;
		else
			goto bad;
		if (!key_ok(line + 7))
			goto bad;
		memcpy(dst, line + 7, Z85_KEY_LEN + 1);
	}
	return 0;
bad:
	log_warnx("%s: want lines public=<z85 key> and secret=<z85 key>", path);
	memset(buf, 0, sizeof(buf));
	return -1;
}

/* Server (binding side): server_key_file holds our own pair. */
static int
curve_server(void *sock, const char *server_key_file)
{
	struct keypair server;
	int rc = -1;

	if (key_file_read(server_key_file, &server) == -1)
		goto fail;
	if (server.sec[0] == '\0') {
		log_warnx("%s: a server needs secret=", server_key_file);
		goto fail;
	}
	if (setopt_int(sock, ZMQ_CURVE_SERVER, 1, "CURVE_SERVER") == -1 ||
	    setopt_str(sock, ZMQ_CURVE_SECRETKEY, server.sec, "CURVE_SECRETKEY") == -1)
		goto fail;
	if (server.pub[0] != '\0' &&
	    setopt_str(sock, ZMQ_CURVE_PUBLICKEY, server.pub, "CURVE_PUBLICKEY") == -1)
		goto fail;
	rc = 0;
fail:
	memset(&server, 0, sizeof(server));
	return rc;
}

/* Client (connecting side): server_key_file holds the server's public key
 * and client_key_file our own pair. */
static int
curve_client(void *sock, const struct net_curve *curve)
{
	struct keypair server, client;
	int rc = -1;

	memset(&client, 0, sizeof(client));
	if (key_file_read(curve->server_key_file, &server) == -1)
		goto fail;
	if (server.pub[0] == '\0') {
		log_warnx("%s: a client needs the server's public=", curve->server_key_file);
		goto fail;
	}
	if (curve->client_key_file == NULL) {
		log_warnx("CURVE client without a client key file");
		goto fail;
	}
	if (key_file_read(curve->client_key_file, &client) == -1)
		goto fail;
	if (client.pub[0] == '\0' || client.sec[0] == '\0') {
		log_warnx("%s: a client needs public= and secret=", curve->client_key_file);
		goto fail;
	}
	if (setopt_str(sock, ZMQ_CURVE_SERVERKEY, server.pub, "CURVE_SERVERKEY") == -1 ||
	    setopt_str(sock, ZMQ_CURVE_PUBLICKEY, client.pub, "CURVE_PUBLICKEY") == -1 ||
	    setopt_str(sock, ZMQ_CURVE_SECRETKEY, client.sec, "CURVE_SECRETKEY") == -1)
		goto fail;
	rc = 0;
fail:
	memset(&server, 0, sizeof(server));
	memset(&client, 0, sizeof(client));
	return rc;
}

/* CURVE keys on a socket, if curve names key files. 0 or -1 (logged). */
static int
curve_apply(void *sock, int bind, const struct net_curve *curve)
{
	if (curve == NULL || curve->server_key_file == NULL)
		return 0;
	if (!zmq_has("curve")) {
		log_warnx("CURVE keys given but libzmq lacks CURVE support");
		return -1;
	}
	return bind ? curve_server(sock, curve->server_key_file) : curve_client(sock, curve);
}

/* A stale ipc socket file from a crashed run makes bind fail: remove it. */
static void
ipc_unlink_stale(const char *endpoint)
{
	const char *path;
	struct stat st;

	if (strncmp(endpoint, "ipc://", 6) != 0)
		return;
	path = endpoint + 6;
	if (path[0] == '@' || path[0] == '\0') /* abstract namespace: no file */
		return;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && unlink(path) == -1)
		log_warn("unlink %s", path);
}

int
net_recv_next(void *sock, struct net_msg *m, const char *from)
{
	for (;;) {
		int n = net_recv_msg(sock, ZMQ_DONTWAIT, m);

		if (n >= 0)
			return n;
		log_warnx("%s: %s", from, m->why);
		net_msg_close(m);
		if (m->err != EMSGSIZE)
			return 0;
	}
}

void *
net_ctx_new(void)
{
	void *ctx = zmq_ctx_new();

	if (ctx == NULL)
		log_warnx("zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
	return ctx;
}

void
net_ctx_term(void *ctx)
{
	if (ctx == NULL)
		return;
	while (zmq_ctx_term(ctx) == -1) {
		if (zmq_errno() != EINTR) {
			log_warnx("zmq_ctx_term: %s", zmq_strerror(zmq_errno()));
			return;
		}
	}
}

void *
net_socket(void *ctx, int type, const char *endpoint, int bind, const struct net_curve *curve)
{
	return net_socket_tuned(ctx, type, endpoint, bind, curve, NULL);
}

/* The options every socket gets, by type and tuning. 0 or -1 (logged). */
static int
socket_options(void *sock, int type, const struct net_tune *tune)
{
	int64_t maxmsg = NET_MAXMSGSIZE_BYTES;
	int hwm = tune != NULL && tune->hwm > 0 ? tune->hwm : NET_HWM;

	if (setopt_int(sock, ZMQ_SNDHWM, hwm, "SNDHWM") == -1 ||
	    setopt_int(sock, ZMQ_RCVHWM, hwm, "RCVHWM") == -1 ||
	    setopt_int(sock, ZMQ_LINGER, NET_LINGER_MS, "LINGER") == -1 ||
	    setopt_int(sock, ZMQ_IPV6, 0, "IPV6") == -1)
		return -1;
	if (type == ZMQ_ROUTER &&
	    setopt_int(sock, ZMQ_ROUTER_MANDATORY, 1, "ROUTER_MANDATORY") == -1)
		return -1;
	/* every socket that receives gets the size cap */
	if (type != ZMQ_PUB && type != ZMQ_PUSH &&
	    setopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg), "MAXMSGSIZE") == -1)
		return -1;
	if (tune != NULL && tune->immediate &&
	    setopt_int(sock, ZMQ_IMMEDIATE, 1, "IMMEDIATE") == -1)
		return -1;
	return 0;
}

/* Binds or connects sock to endpoint. 0 or -1 (logged). */
static int
socket_attach(void *sock, const char *endpoint, int bind)
{
	if (bind) {
		ipc_unlink_stale(endpoint);
		if (zmq_bind(sock, endpoint) == -1) {
			log_warnx("bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
			return -1;
		}
	} else if (setopt_int(sock, ZMQ_RECONNECT_IVL, NET_RECONNECT_MS, "RECONNECT_IVL") == -1 ||
	           setopt_int(sock, ZMQ_RECONNECT_IVL_MAX, NET_RECONNECT_MAX_MS,
	                      "RECONNECT_IVL_MAX") == -1) {
		return -1;
	} else if (zmq_connect(sock, endpoint) == -1) {
		log_warnx("connect %s: %s", endpoint, zmq_strerror(zmq_errno()));
		return -1;
	}
	return 0;
}

void *
net_socket_tuned(void *ctx, int type, const char *endpoint, int bind, const struct net_curve *curve,
                 const struct net_tune *tune)
{
	void *sock;

	if (ctx == NULL || endpoint == NULL) {
		log_warnx("net_socket: no context or endpoint");
		return NULL;
	}
	if ((sock = zmq_socket(ctx, type)) == NULL) {
		log_warnx("zmq_socket: %s", zmq_strerror(zmq_errno()));
		return NULL;
	}
	if (socket_options(sock, type, tune) == -1 || curve_apply(sock, bind, curve) == -1 ||
	    socket_attach(sock, endpoint, bind) == -1) {
		zmq_close(sock);
		return NULL;
	}
	return sock;
}

int
net_send(void *sock, const void *data, size_t len, int more)
{
	int flags = ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0);

	return zmq_send(sock, data, len, flags) == -1 ? -1 : 0;
}

void
net_msg_close(struct net_msg *m)
{
	for (int i = 0; i < m->n; i++)
		zmq_msg_close(&m->f[i]);
	m->n = 0;
}

const void *
net_frame(const struct net_msg *m, int i, size_t *len)
{
	/* zmq_msg_data/size do not change the message; they just lack const */
	zmq_msg_t *f = (zmq_msg_t *)&m->f[i];

	*len = zmq_msg_size(f);
	return zmq_msg_data(f);
}

/* A failed receive of frame k (0: the first): -1 with the reason in m. */
static int
recv_failed(struct net_msg *m, int k, int err)
{
	net_msg_close(m);
	m->err = err;
	if (k == 0)
		snprintf(m->why, sizeof(m->why), "receive: %s", zmq_strerror(err));
	else
		snprintf(m->why, sizeof(m->why), "receive of frame %d of a message: %s", k + 1,
		         zmq_strerror(err));
	return -1;
}

/* Receives one frame into f; 1 if more follow, 0 if it was the last, -1
 * with *err set. */
static int
recv_frame(void *sock, zmq_msg_t *f, int flags, int *err)
{
	zmq_msg_init(f);
	if (zmq_msg_recv(f, sock, flags) == -1) {
		*err = zmq_errno();
		zmq_msg_close(f);
		return -1;
	}
	return zmq_msg_more(f) ? 1 : 0;
}

int
net_recv_msg(void *sock, int flags, struct net_msg *m)
{
	int more = 1, total = 0, err = 0;

	m->n = 0;
	m->err = 0;
	m->why[0] = '\0';
	/* ZeroMQ delivers the frames of a message together: once the first is
	 * here, so are the others, and flags never makes a later one wait */
	while (more) {
		zmq_msg_t extra, *f = m->n < NET_FRAMES_MAX ? &m->f[m->n] : &extra;

		if ((more = recv_frame(sock, f, flags, &err)) == -1) {
			if (total == 0 && err == EAGAIN)
				return 0;
			return recv_failed(m, total, err);
		}
		total++;
		if (f == &extra)
			zmq_msg_close(f); /* beyond what we keep: drained */
		else
			m->n++;
	}
	if (total > NET_FRAMES_MAX) { /* the first frames stay for the caller's answer */
		m->err = EMSGSIZE;
		snprintf(m->why, sizeof(m->why), "a message of %d frames (at most %d) dropped",
		         total, NET_FRAMES_MAX);
		return -1;
	}
	return m->n;
}

void *
net_events_open(void *ctx, const char *endpoint, const struct net_curve *curve)
{
	void *pub;

	if (endpoint == NULL)
		return NULL;
	if ((pub = net_socket(ctx, ZMQ_PUB, endpoint, 0, curve)) == NULL)
		return NULL;
	/* events are lossy by design: never hold up exit for them */
	if (setopt_int(pub, ZMQ_SNDHWM, NET_EVENTS_HWM, "SNDHWM") == -1 ||
	    setopt_int(pub, ZMQ_LINGER, 0, "LINGER") == -1) {
		zmq_close(pub);
		return NULL;
	}
	return pub;
}

void
net_event(void *pub, const char *topic, const void *data, size_t len)
{
	if (pub == NULL || topic == NULL)
		return;
	/* PUB drops at the high-water mark; a failure here loses one event. */
	if (zmq_send(pub, topic, strlen(topic), ZMQ_DONTWAIT | ZMQ_SNDMORE) == -1)
		return;
	(void)zmq_send(pub, data, len, ZMQ_DONTWAIT);
}

/*
 * ZAP (ZeroMQ RFC 27): libzmq asks inproc://zeromq.zap.01 whether a CURVE
 * client may connect. The handler answers 200 only for the public keys in
 * the allow file, so a peer that merely knows the server's public key can
 * neither inject nor read messages.
 */
#define ZAP_KEYS_MAX 64

static struct {
	pthread_t thread;
	void *ctx;
	int running;
	int nkeys;
	uint8_t keys[ZAP_KEYS_MAX][32];
} zap;

/* A ZAP request has 7 frames: version, request id, domain, address,
 * identity, mechanism, key. */
#define ZAP_FRAMES 7

/* 1 if q is a well-formed CURVE request whose key is allowed. */
static int
zap_allowed(const struct net_msg *q)
{
	size_t mlen, klen;
	const void *mech, *key;

	if (q->n != ZAP_FRAMES)
		return 0;
	mech = net_frame(q, 5, &mlen);
	key = net_frame(q, 6, &klen);
	if (mlen != 5 || memcmp(mech, "CURVE", 5) != 0 || klen != 32)
		return 0;
	for (int i = 0; i < zap.nkeys; i++)
		if (memcmp(zap.keys[i], key, 32) == 0)
			return 1;
	return 0;
}

/* The six frames of a reply; a reply that cannot be sent is logged (libzmq
 * then refuses the client: no answer is no access). */
static void
zap_reply(void *rep, const struct net_msg *q, int ok)
{
	size_t idlen = 0;
	const void *id = q->n > 1 ? net_frame(q, 1, &idlen) : "";

	if (zmq_send(rep, "1.0", 3, ZMQ_SNDMORE) == -1 ||
	    zmq_send(rep, id, idlen, ZMQ_SNDMORE) == -1 ||
	    zmq_send(rep, ok ? "200" : "400", 3, ZMQ_SNDMORE) == -1 ||
	    zmq_send(rep, ok ? "OK" : "unknown key", ok ? 2 : 11, ZMQ_SNDMORE) == -1 ||
	    zmq_send(rep, "", 0, ZMQ_SNDMORE) == -1 || zmq_send(rep, "", 0, 0) == -1)
		log_warnx("ZAP reply not sent: %s", zmq_strerror(zmq_errno()));
}

static void *
zap_main(void *arg)
{
	struct net_msg q;
	void *rep = arg;

	/* a request of too many frames is answered (REP wants a reply) and
	 * refused; any other failure is the context shutting down */
	while (net_recv_msg(rep, 0, &q) > 0 || q.err == EMSGSIZE) {
		int ok = zap_allowed(&q);

		if (!ok)
			log_warnx("CURVE client refused: %s",
			          q.err == EMSGSIZE ? q.why : "its key is not in the allow list");
		zap_reply(rep, &q, ok);
		net_msg_close(&q);
	}
	zmq_close(rep);
	return NULL;
}

int
net_zap_start(void *ctx, const char *allow_file)
{
	char buf[NET_KEY_FILE_MAX + 1], *line, *save = NULL;
	FILE *f;
	size_t n;
	void *rep;

	if ((f = fopen(allow_file, "r")) == NULL) {
		log_warn("%s", allow_file);
		return -1;
	}
	n = fread(buf, 1, NET_KEY_FILE_MAX, f);
	fclose(f);
	buf[n] = '\0';
	zap.nkeys = 0;
	for (line = strtok_r(buf, "\n", &save); line != NULL && zap.nkeys < ZAP_KEYS_MAX;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "public=", 7) != 0 || strlen(line) < 47)
			continue;
		line[47] = '\0';
		if (zmq_z85_decode(zap.keys[zap.nkeys], line + 7) != NULL)
			zap.nkeys++;
	}
	if (zap.nkeys == 0) {
		log_warnx("%s: no public= key to allow", allow_file);
		return -1;
	}
	if ((rep = zmq_socket(ctx, ZMQ_REP)) == NULL ||
	    zmq_bind(rep, "inproc://zeromq.zap.01") == -1) {
		log_warnx("ZAP handler: %s", zmq_strerror(zmq_errno()));
		if (rep != NULL)
			zmq_close(rep);
		return -1;
	}
	if (pthread_create(&zap.thread, NULL, zap_main, rep) != 0) {
		zmq_close(rep);
		return -1;
	}
	zap.ctx = ctx;
	zap.running = 1;
	return 0;
}

void
net_zap_stop(void)
{
	/* zmq_ctx_shutdown makes the handler's recv fail with ETERM */
	if (!zap.running)
		return;
	if (zmq_ctx_shutdown(zap.ctx) == -1)
		log_warnx("zmq_ctx_shutdown: %s", zmq_strerror(zmq_errno()));
	pthread_join(zap.thread, NULL);
	zap.running = 0;
}

/* ---- the protocol version hello ---- */

int
net_refuse_other_version(void *router, const void *ident, size_t ilen, const void *data, size_t len,
                         const char *self)
{
	static int64_t last_logged = -1;
	struct msg_refused r = { PROTO_VERSION, 0, "" };
	struct buf b = { 0 };
	int64_t v = msg_peek_version(data, len);
	char text[REASON_MAX];

	if (v < 0 || v == PROTO_VERSION)
		return 0;
	msg_refusal_text(text, sizeof(text), "peer", v, self);
	if (v != last_logged)
		log_warnx("%s: refused", text);
	last_logged = v;
	r.heard = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
	snprintf(r.who, sizeof(r.who), "%s", self);
	if (msg_encode_refused(&b, &r) == 0 &&
	    (net_send(router, ident, ilen, 1) == -1 || net_send(router, b.data, b.len, 0) == -1))
		log_debug("REFUSED not sent: %s", zmq_strerror(zmq_errno()));
	buf_free(&b);
	return 1;
}

void
net_require_version(const void *data, size_t len, const char *peer, const char *self)
{
	int64_t v = msg_peek_version(data, len);
	char text[REASON_MAX];

	if (v < 0 || v == PROTO_VERSION)
		return;
	msg_refusal_text(text, sizeof(text), peer, v, self);
	fatalx(EXIT_PERMFAIL, "%s", text);
}
