/*
 * lease.c: the fetcher's lease table (lease.h). Owns the array of leases,
 * their held results, the lease lifecycle table and its count of
 * impossible events. A lease goes FREE -> WAITING (a LEASE arrived) ->
 * RUNNING (its token is due) -> HELD (a RESULT is encoded) -> FREE (zmq
 * took it); every other way back to FREE drops it, and the planner
 * re-issues the chunk when its lease expires there.
 */
#include <stdint.h>
#include <stdlib.h>

#include "lease.h"

/* [state][event]: the state an event leads to, X where it cannot happen. */
#define X FSM_IMPOSSIBLE
#define F LEASE_FREE
#define W LEASE_WAITING
#define R LEASE_RUNNING
#define H LEASE_HELD
/* clang-format off */
static const signed char lease_table[LEASE_NSTATES][LEASE_NEVENTS] = {
	/*                take start drop answered failed sent expired */
	[LEASE_FREE]    = { W,   X,    X,   X,       X,     X,   X },
	[LEASE_WAITING] = { X,   R,    F,   X,       X,     X,   X },
	[LEASE_RUNNING] = { X,   X,    X,   H,       F,     X,   X },
	[LEASE_HELD]    = { X,   X,    X,   X,       X,     F,   F },
};
/* clang-format on */
#undef X
#undef F
#undef W
#undef R
#undef H

static const char *const state_names[LEASE_NSTATES] = { "FREE", "WAITING", "RUNNING", "HELD" };
static const char *const event_names[LEASE_NEVENTS] = {
	"take", "start", "drop", "answered", "failed", "sent", "expired",
};

const struct fsm lease_fsm = {
	"lease", LEASE_NSTATES, LEASE_NEVENTS, state_names, event_names, &lease_table[0][0],
};

static struct lease *leases;
static int nleases;
static uint64_t impossible;

int
lease_table_init(int n)
{
	if ((leases = calloc((size_t)n, sizeof(*leases))) == NULL)
		return -1;
	nleases = n;
	return 0;
}

void
lease_table_free(void)
{
	for (int i = 0; i < nleases; i++)
		buf_free(&leases[i].out);
	free(leases);
	leases = NULL;
	nleases = 0;
}

int
lease_slots(void)
{
	return nleases;
}

struct lease *
lease_at(int i)
{
	return &leases[i];
}

int
lease_step(struct lease *l, enum lease_event ev)
{
	int next = fsm_step(&lease_fsm, (int)l->state, (int)ev, &impossible);

	if (next == FSM_IMPOSSIBLE)
		return -1;
	if (next == LEASE_FREE)
		l->out.len = 0;
	l->state = (enum lease_state)next;
	return 0;
}

struct lease *
lease_find(enum lease_state st)
{
	for (int i = 0; i < nleases; i++)
		if (leases[i].state == st)
			return &leases[i];
	return NULL;
}

int
lease_in_use(void)
{
	int n = 0;

	for (int i = 0; i < nleases; i++)
		n += leases[i].state != LEASE_FREE;
	return n;
}

int
lease_busy(void)
{
	for (int i = 0; i < nleases; i++)
		if (leases[i].state == LEASE_RUNNING || leases[i].state == LEASE_HELD)
			return 1;
	return 0;
}

struct lease *
lease_oldest_held(void)
{
	struct lease *l = NULL;

	for (int i = 0; i < nleases; i++)
		if (leases[i].state == LEASE_HELD &&
		    (l == NULL || leases[i].held_since_us < l->held_since_us))
			l = &leases[i];
	return l;
}

int64_t
lease_next_due_us(void)
{
	int64_t t = INT64_MAX;

	for (int i = 0; i < nleases; i++)
		if (leases[i].state == LEASE_WAITING && leases[i].due_us < t)
			t = leases[i].due_us;
	return t;
}

uint64_t
lease_impossible(void)
{
	return impossible;
}
