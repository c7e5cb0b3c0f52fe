/*
 * lease.h: the fetcher's lease table: at most max_inflight leases, each a
 * chunk the planner handed out, from its receipt to the moment its RESULT
 * is with zmq (or it is dropped). The lease lifecycle is one [state][event]
 * table (lease_fsm), every change through lease_step.
 */
#ifndef CP_LEASE_H
#define CP_LEASE_H

#include <stdint.h>

#include "fsm.h"
#include "proto.h"

enum lease_state {
	LEASE_FREE,    /* slot unused */
	LEASE_WAITING, /* leased, rate token not due yet */
	LEASE_RUNNING, /* the transfer runs */
	LEASE_HELD,    /* result encoded, the writer has not taken it yet */
	LEASE_NSTATES
};

enum lease_event {
	LEASE_EV_TAKE,     /* a LEASE arrived */
	LEASE_EV_START,    /* its rate token is due: the transfer starts */
	LEASE_EV_DROP,     /* not started: expired, a stale token, stopping, no transfer */
	LEASE_EV_ANSWERED, /* a valid answer, encoded as a RESULT */
	LEASE_EV_FAILED,   /* the transfer failed or the answer was bad (FAILED sent) */
	LEASE_EV_SENT,     /* zmq took the RESULT */
	LEASE_EV_EXPIRED,  /* the writer took no result for the lease's time */
	LEASE_NEVENTS
};

extern const struct fsm lease_fsm;

struct lease {
	enum lease_state state;
	struct chunk_info ci;
	int64_t due_us;    /* monotonic: start the transfer at this time */
	int64_t expire_us; /* monotonic: the lease ends here */
	int64_t held_since_us;
	int64_t sent_us, sent_ms; /* the request left: monotonic us, wall clock ms */
	struct buf out;           /* the encoded RESULT while held */
};

/* n free leases; 0, or -1 when out of memory. */
int lease_table_init(int n);
/* Frees the table and every held result. */
void lease_table_free(void);
/* The table's size, and lease i of it (0 <= i < lease_slots()). */
int lease_slots(void);
struct lease *lease_at(int i);
/* The one way a lease changes state: the table's cell for (l->state, ev).
 * Entering FREE empties its held result. An impossible event is logged and
 * counted (lease_impossible), the state kept: -1. Otherwise 0. */
int lease_step(struct lease *l, enum lease_event ev);
/* The first lease in state st, or NULL. */
struct lease *lease_find(enum lease_state st);
/* How many leases are not FREE. */
int lease_in_use(void);
/* 1 if a transfer runs or a result is held. */
int lease_busy(void);
/* The HELD lease held longest, or NULL. */
struct lease *lease_oldest_held(void);
/* The earliest rate token of a WAITING lease (monotonic us), or INT64_MAX. */
int64_t lease_next_due_us(void);
/* Events that could not happen in their lease's state, since the start. */
uint64_t lease_impossible(void);

#endif
