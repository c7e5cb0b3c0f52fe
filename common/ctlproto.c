/*
 * ctlproto.c: the control protocol's encode/decode helpers (ctlproto.h):
 * looking values up in a decoded msgpack map, the version check, packing
 * keys and values, and the one-target SUBMIT that cp-serve and the client
 * both send; and the one control client (struct ctl_client): connect, one
 * request and its answer within a timeout, the answer's version and
 * verdict, the daemon's instance (a restart seen), and a patient request
 * that waits out a restart. Owns the client's socket, and no other state.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "ctlproto.h"
#include "timeutil.h"

const msgpack_object *
ctl_get(const msgpack_object *map, const char *key)
{
	size_t len = strlen(key);

	if (map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];
		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == len &&
		    memcmp(kv->key.via.str.ptr, key, len) == 0)
			return &kv->val;
	}
	return NULL;
}

int
ctl_get_i64(const msgpack_object *map, const char *key, int64_t *out)
{
	const msgpack_object *o = ctl_get(map, key);

	if (o != NULL && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) {
		*out = (int64_t)o->via.u64;
		return 0;
	}
	if (o != NULL && o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*out = o->via.i64;
		return 0;
	}
	return -1;
}

int
ctl_str_copy(const msgpack_object *o, char *buf, size_t cap)
{
	if (o == NULL || o->type != MSGPACK_OBJECT_STR || o->via.str.size >= cap)
		return -1;
	memcpy(buf, o->via.str.ptr, o->via.str.size);
	buf[o->via.str.size] = '\0';
	return 0;
}

int
ctl_get_str(const msgpack_object *map, const char *key, char *buf, size_t cap)
{
	return ctl_str_copy(ctl_get(map, key), buf, cap);
}

int
ctl_check_version(const msgpack_object *o, char *err, size_t errlen)
{
	int64_t v;

	if (o->type != MSGPACK_OBJECT_MAP || ctl_get_i64(o, "v", &v) == -1) {
		snprintf(err, errlen, "not a control message (a map with \"v\" wanted)");
		return -1;
	}
	if (v != CTL_VERSION) {
		snprintf(err, errlen, "this daemon speaks control protocol %d, the request %lld",
		         CTL_VERSION, (long long)v);
		return -1;
	}
	return 0;
}

void
ctl_pack_key(msgpack_packer *pk, const char *key)
{
	size_t n = strlen(key);

	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, key, n);
}

void
ctl_pack_kv_str(msgpack_packer *pk, const char *key, const char *val)
{
	ctl_pack_key(pk, key);
	ctl_pack_key(pk, val);
}

void
ctl_pack_kv_i64(msgpack_packer *pk, const char *key, int64_t val)
{
	ctl_pack_key(pk, key);
	msgpack_pack_int64(pk, val);
}

void
ctl_pack_list(msgpack_packer *pk, const char *list)
{
	size_t n = 1;

	for (const char *p = list; *p != '\0'; p++)
		n += *p == ',';
	msgpack_pack_array(pk, n);
	for (const char *p = list;; p++) {
		size_t k = strcspn(p, ",");

		msgpack_pack_str_with_body(pk, p, k);
		p += k;
		if (*p == '\0')
			break;
	}
}

void
ctl_pack_submit1(msgpack_packer *pk, const char *market, const char *tf, int64_t from, int64_t to)
{
	msgpack_pack_map(pk, 6);
	ctl_pack_kv_i64(pk, "v", CTL_VERSION);
	ctl_pack_kv_str(pk, "op", "submit");
	ctl_pack_key(pk, "markets");
	msgpack_pack_array(pk, 1);
	ctl_pack_key(pk, market);
	ctl_pack_key(pk, "timeframes");
	msgpack_pack_array(pk, 1);
	ctl_pack_key(pk, tf);
	ctl_pack_kv_i64(pk, "from", from);
	ctl_pack_kv_i64(pk, "to", to);
}

int
ctl_state_final(const char *s)
{
	return strcmp(s, "done") == 0 || strcmp(s, "failed") == 0 || strcmp(s, "cancelled") == 0;
}

/* ---- the client ---------------------------------------------------------- */

/* A new DEALER socket on c->endpoint: 0 or -1 with why. */
static int
client_connect(struct ctl_client *c, char *why, size_t len)
{
	int linger = 0;

	if ((c->sock = zmq_socket(c->ctx, ZMQ_DEALER)) == NULL) {
		snprintf(why, len, "control socket: %s", zmq_strerror(errno));
		return -1;
	}
	(void)zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_connect(c->sock, c->endpoint) == -1) {
		snprintf(why, len, "cannot connect to %s: %s", c->endpoint, zmq_strerror(errno));
		zmq_close(c->sock);
		c->sock = NULL;
		return -1;
	}
	return 0;
}

int
ctl_client_open(struct ctl_client *c, const char *endpoint, int timeout_ms, char *why, size_t len)
{
	memset(c, 0, sizeof(*c));
	msgpack_unpacked_init(&c->reply);
	zmq_msg_init(&c->raw);
	c->live = 1;
	c->timeout_ms = timeout_ms;
	if (snprintf(c->endpoint, sizeof(c->endpoint), "%s", endpoint) >=
	    (int)sizeof(c->endpoint)) {
		snprintf(why, len, "the control endpoint is too long");
		return -1;
	}
	if ((c->ctx = zmq_ctx_new()) == NULL) {
		snprintf(why, len, "control socket: %s", zmq_strerror(errno));
		return -1;
	}
	return client_connect(c, why, len);
}

void
ctl_client_close(struct ctl_client *c)
{
	if (!c->live)
		return;
	c->live = 0;
	if (c->sock != NULL)
		zmq_close(c->sock);
	if (c->ctx != NULL)
		zmq_ctx_term(c->ctx);
	c->sock = c->ctx = NULL;
	msgpack_unpacked_destroy(&c->reply);
	zmq_msg_close(&c->raw);
}

int
ctl_poll_in(void *sock, long timeout_ms)
{
	zmq_pollitem_t it = { sock, 0, ZMQ_POLLIN, 0 };
	int64_t end = time_mono_ms() + timeout_ms;

	for (;;) {
		int64_t left = end - time_mono_ms();
		int n = zmq_poll(&it, 1, left > 0 ? (long)left : 0);

		if (n >= 0)
			return n > 0;
		if (zmq_errno() != EINTR)
			return -1;
		if (left <= 0)
			return 0;
	}
}

/* Notes the instance of the answer in c->reply: c->restarted when it is
 * not the one of the answers before. */
static void
note_instance(struct ctl_client *c)
{
	int64_t inst = 0;

	(void)ctl_get_i64(&c->reply.data, "instance", &inst);
	c->restarted = c->instance != 0 && inst != 0 && inst != c->instance;
	if (c->instance == 0 || c->restarted)
		c->instance = inst;
}

/* Sends sb and decodes the one answer into c->reply: 0, or -1 with why
 * when none (or a malformed one) came in time; the socket is then made
 * anew. */
static int
client_call(struct ctl_client *c, const msgpack_sbuffer *sb, char *why, size_t len)
{
	char ignored[CTL_ERR_MAX];
	size_t off = 0;
	int got = 0;

	msgpack_unpacked_destroy(&c->reply);
	msgpack_unpacked_init(&c->reply);
	zmq_msg_close(&c->raw);
	zmq_msg_init(&c->raw);
	c->restarted = 0;
	if (c->sock != NULL && zmq_send(c->sock, sb->data, sb->size, ZMQ_DONTWAIT) != -1 &&
	    ctl_poll_in(c->sock, c->timeout_ms) == 1 && zmq_msg_recv(&c->raw, c->sock, 0) != -1) {
		got = 1;
		if (msgpack_unpack_next(&c->reply, zmq_msg_data(&c->raw), zmq_msg_size(&c->raw),
		                        &off) == MSGPACK_UNPACK_SUCCESS) {
			note_instance(c);
			return 0;
		}
	}
	snprintf(why, len, "%s %s",
	         got ? "a malformed answer from" : "no answer from the daemon at", c->endpoint);
	if (c->sock != NULL)
		zmq_close(c->sock);
	c->sock = NULL;
	(void)client_connect(c, ignored, sizeof(ignored));
	return -1;
}

enum ctl_verdict
ctl_client_ask(struct ctl_client *c, const msgpack_sbuffer *sb, char *why, size_t len)
{
	const msgpack_object *o = &c->reply.data, *ok;

	if (client_call(c, sb, why, len) == -1)
		return CTL_NOANSWER;
	if (ctl_check_version(o, why, len) == -1)
		return CTL_ALIEN;
	ok = ctl_get(o, "ok");
	if (ok != NULL && ok->type == MSGPACK_OBJECT_BOOLEAN && ok->via.boolean)
		return CTL_OK;
	if (ctl_get_str(o, "error", why, len) == -1)
		snprintf(why, len, "refused by the daemon (no reason given)");
	return CTL_REFUSED;
}

enum ctl_verdict
ctl_client_ask_patient(struct ctl_client *c, const msgpack_sbuffer *sb,
                       const struct ctl_patience *p, char *why, size_t len)
{
	int64_t start = time_mono_ms(), waited;
	enum ctl_verdict v;

	for (int said = 0; (v = ctl_client_ask(c, sb, why, len)) == CTL_NOANSWER; said = 1) {
		waited = time_mono_ms() - start;
		if (waited >= p->gone_ms || (p->stop != NULL && *p->stop) || c->sock == NULL) {
			snprintf(why, len, "no answer from the daemon at %s for %d s", c->endpoint,
			         (int)(waited / 1000));
			break;
		}
		if (!said && p->waiting != NULL)
			p->waiting(c);
	}
	return v;
}
