/*
 * hub.c: the event hub (hub.h): an XSUB socket the processes publish to and
 * an XPUB socket monitors subscribe at, forwarded both ways (subscriptions
 * up, events down) from the planner's poll loop, plus the planner's own
 * "progress" event.
 */
#include <errno.h>
#include <string.h>

#include <msgpack.h>

#include "events.h"
#include "hub.h"
#include "log.h"
#include "tf.h"

static void *sock_xsub, *sock_xpub;

void
hub_open(void *ctx, const char *events, const char *monitor, const struct net_curve *curve)
{
	sock_xsub = net_socket(ctx, ZMQ_XSUB, events, 1, curve);
	sock_xpub = net_socket(ctx, ZMQ_XPUB, monitor, 1, curve);
	if (sock_xsub == NULL || sock_xpub == NULL)
		fatalx(EXIT_TEMPFAIL, "cannot bind the event hub");
}

int
hub_poll_items(zmq_pollitem_t *items)
{
	if (sock_xsub == NULL)
		return 0;
	memset(items, 0, 2 * sizeof(*items));
	items[0].socket = sock_xsub;
	items[0].events = ZMQ_POLLIN;
	items[1].socket = sock_xpub;
	items[1].events = ZMQ_POLLIN;
	return 2;
}

/* Sends the frames of m to `to` in order; a frame that cannot be sent ends
 * the message there (the publisher's side drops it whole). */
static void
send_all(struct net_msg *m, void *to)
{
	for (int i = 0; i < m->n; i++) {
		int more = i + 1 < m->n ? ZMQ_SNDMORE : 0;

		if (zmq_msg_send(&m->f[i], to, more | ZMQ_DONTWAIT) == -1) {
			log_debug("event hub: frame %d of %d not forwarded: %s", i + 1, m->n,
			          zmq_strerror(zmq_errno()));
			return;
		}
	}
}

/* Forwards every whole message waiting on one side of the hub to the other. */
static void
forward(void *from, void *to)
{
	for (;;) {
		struct net_msg m;

		if (net_recv_next(from, &m, "event hub") == 0)
			return;
		send_all(&m, to);
		net_msg_close(&m);
	}
}

void
hub_forward(void)
{
	if (sock_xsub == NULL)
		return;
	forward(sock_xsub, sock_xpub);
	forward(sock_xpub, sock_xsub);
}

void
hub_publish(const char *topic, const void *data, size_t len)
{
	if (sock_xpub != NULL)
		net_event(sock_xpub, topic, data, len);
}

void
hub_close(void)
{
	if (sock_xsub == NULL)
		return;
	zmq_close(sock_xsub);
	zmq_close(sock_xpub);
	sock_xsub = sock_xpub = NULL;
}

static void
pack_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str_with_body(pk, s, strlen(s));
}

static void
pack_kv(msgpack_packer *pk, const char *k, int64_t v)
{
	pack_str(pk, k);
	msgpack_pack_int64(pk, v);
}

static void
pack_targets(msgpack_packer *pk, const struct plan *p)
{
	pack_str(pk, "targets");
	msgpack_pack_array(pk, (size_t)p->nt);
	for (int i = 0; i < p->nt; i++) {
		const struct target *t = &p->t[i];
		msgpack_pack_array(pk, 9);
		pack_str(pk, t->market);
		pack_str(pk, tf_name(t->tf));
		msgpack_pack_int64(pk, t->slots_total);
		msgpack_pack_int64(pk, t->slots_done);
		msgpack_pack_int64(pk, t->slots_hit);
		msgpack_pack_int64(pk, (int64_t)t->requests);
		msgpack_pack_int64(pk, (int64_t)t->received);
		msgpack_pack_int64(pk, t->failed || t->reason[0]);
		pack_str(pk, t->reason);
	}
}

static void
pack_sources(msgpack_packer *pk, const struct budget *budgets, int nb, int64_t now)
{
	pack_str(pk, "sources");
	msgpack_pack_array(pk, (size_t)nb);
	for (int i = 0; i < nb; i++) {
		const struct budget *b = &budgets[i];
		int64_t left = b->blocked_until_ms > now ? b->blocked_until_ms - now : 0;
		msgpack_pack_array(pk, 7);
		pack_str(pk, b->source);
		msgpack_pack_double(pk, budget_rate_now(b, now));
		msgpack_pack_int64(pk, left);
		msgpack_pack_int64(pk, (int64_t)b->sent);
		msgpack_pack_int64(pk, (int64_t)b->n429);
		msgpack_pack_int64(pk, (int64_t)b->n418);
		msgpack_pack_int64(pk, b->last_remaining);
	}
}

void
hub_progress(const struct plan *p, const struct run_stats *r, const struct budget *b, int nb,
             double rate_limit, int64_t now, int finished)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct totals s;

	if (sock_xpub == NULL)
		return;
	report_sum(p, &s);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, EV_PROGRESS_NKEYS);
	pack_kv(&pk, "v", EVENTS_VERSION);
	pack_kv(&pk, "run", p->run_id);
	pack_kv(&pk, "elapsed_ms", now - r->start_ms);
	pack_kv(&pk, "slots_total", s.slots_total);
	pack_kv(&pk, "slots_done", s.slots_done);
	pack_kv(&pk, "slots_hit", s.slots_hit);
	pack_kv(&pk, "requests", (int64_t)s.requests);
	pack_kv(&pk, "candles", (int64_t)s.received);
	pack_kv(&pk, "new_candles", (int64_t)s.new_candles);
	pack_kv(&pk, "retries", (int64_t)s.retries);
	pack_kv(&pk, "n429", (int64_t)r->n429);
	pack_kv(&pk, "n418", (int64_t)r->n418);
	pack_kv(&pk, "bytes", (int64_t)s.bytes);
	pack_kv(&pk, "finished", finished);
	pack_kv(&pk, "analysis_us", p->analysis_ns / 1000);
	pack_kv(&pk, "chunks_planned", (int64_t)p->planned);
	pack_targets(&pk, p);
	pack_sources(&pk, b, nb, now);
	pack_str(&pk, "rate_limit");
	msgpack_pack_double(&pk, rate_limit);
	hub_publish(EV_PROGRESS, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
}
