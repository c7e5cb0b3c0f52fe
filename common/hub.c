/*
 * hub.c: the event hub (hub.h): an XSUB socket the processes publish to and
 * an XPUB socket monitors subscribe at, forwarded both ways (subscriptions
 * up, events down) from its owner's poll loop (today the planner's), and
 * the owner's own events published straight to the monitors. One hub per
 * process: the two sockets are this module's.
 */
#include <string.h>

#include "hub.h"
#include "log.h"

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

int
hub_enabled(void)
{
	return sock_xpub != NULL;
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
