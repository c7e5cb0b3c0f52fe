/*
 * hub.h: the event hub. Every process publishes its events to the hub's
 * XSUB endpoint (--events); monitors subscribe at its XPUB endpoint
 * (--monitor). The process that owns the hub (the planner) publishes its
 * own events there, among them the "progress" event (common/events.h).
 */
#ifndef CP_HUB_H
#define CP_HUB_H

#include <stddef.h>

#include <zmq.h>

#include "net.h"

/* Binds both endpoints (curve may be NULL); exits EXIT_TEMPFAIL if one
 * cannot be bound. */
void hub_open(void *ctx, const char *events, const char *monitor, const struct net_curve *curve);
/* Fills items[] with the hub's sockets to poll; returns how many (0 when
 * there is no hub). */
int hub_poll_items(zmq_pollitem_t *items);
/* Forwards whatever waits on either side to the other. */
void hub_forward(void);
/* 1 when the hub is open (an event published now can reach a monitor). */
int hub_enabled(void);
/* Publishes topic + payload to the monitors (nothing without a hub). */
void hub_publish(const char *topic, const void *data, size_t len);
void hub_close(void);

#endif
