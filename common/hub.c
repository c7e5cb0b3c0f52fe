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

/* Forwards everything waiting on one side of the hub to the other. */
static void
forward(void *from, void *to)
{
	for (;;) {
		zmq_msg_t m;
		int more;
		size_t sz = sizeof(more);
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, from, ZMQ_DONTWAIT) == -1) {
			zmq_msg_close(&m);
			return;
		}
		zmq_getsockopt(from, ZMQ_RCVMORE, &more, &sz);
		if (zmq_msg_send(&m, to, (more ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) == -1)
			zmq_msg_close(&m);
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
