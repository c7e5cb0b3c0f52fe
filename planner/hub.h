/*
 * hub.h: the planner's event hub. Every process publishes its events to the
 * hub's XSUB endpoint (--events); monitors subscribe at its XPUB endpoint
 * (--monitor). The planner publishes its own events there, among them the
 * "progress" event (common/events.h).
 */
#ifndef CP_HUB_H
#define CP_HUB_H

#include <stddef.h>
#include <stdint.h>

#include <zmq.h>

#include "budget.h"
#include "net.h"
#include "plan.h"
#include "report.h"

/* Binds both endpoints (curve may be NULL); exits EXIT_TEMPFAIL if one
 * cannot be bound. */
void hub_open(void *ctx, const char *events, const char *monitor, const struct net_curve *curve);
/* Fills items[] with the hub's sockets to poll; returns how many (0 when
 * there is no hub). */
int hub_poll_items(zmq_pollitem_t *items);
/* Forwards whatever waits on either side to the other. */
void hub_forward(void);
/* Publishes topic + payload to the monitors (nothing without a hub). */
void hub_publish(const char *topic, const void *data, size_t len);
/* The "progress" event: the totals, each target and each source. */
void hub_progress(const struct plan *p, const struct run_stats *r, const struct budget *b, int nb,
                  double rate_limit, int64_t now, int finished);
void hub_close(void);

#endif
