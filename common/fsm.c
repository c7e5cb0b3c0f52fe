/*
 * fsm.c: the one way through a lifecycle table (fsm.h): the cell lookup,
 * and the log line and count of an event that cannot happen in its state.
 * Owns nothing: each table and its count belong to the lifecycle's owner
 * (planner/plan.c's segments, planner/flags.c's guard, fetcher/lease.c's
 * leases).
 */
#include <stddef.h>

#include "fsm.h"
#include "log.h"

int
fsm_next(const struct fsm *m, int state, int event)
{
	if (state < 0 || state >= m->nstates || event < 0 || event >= m->nevents)
		return FSM_IMPOSSIBLE;
	return m->table[(size_t)state * (size_t)m->nevents + (size_t)event];
}

const char *
fsm_state_name(const struct fsm *m, int state)
{
	return state >= 0 && state < m->nstates ? m->state_names[state] : "?";
}

const char *
fsm_event_name(const struct fsm *m, int event)
{
	return event >= 0 && event < m->nevents ? m->event_names[event] : "?";
}

int
fsm_step(const struct fsm *m, int state, int event, uint64_t *impossible)
{
	int next = fsm_next(m, state, event);

	if (next != FSM_IMPOSSIBLE)
		return next;
	(*impossible)++;
	log_warnx("%s: event %s impossible in state %s (a bug; state kept, %llu so far)", m->name,
	          fsm_event_name(m, event), fsm_state_name(m, state),
	          (unsigned long long)*impossible);
	return FSM_IMPOSSIBLE;
}
