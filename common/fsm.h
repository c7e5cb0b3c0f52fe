/*
 * fsm.h: a lifecycle as a [state][event] table (as OpenBGPD's session FSM
 * or s6-supervise's actions[][]). Each cell holds the state an event leads
 * to, or FSM_IMPOSSIBLE: that event cannot happen in that state, so it is a
 * bug somewhere, logged (one line naming the machine, the state and the
 * event) and counted, and the state stays as it was. Every state change of
 * a lifecycle goes through fsm_step; the side effects of a change (what
 * entering or leaving a state means) belong to the owner's own step
 * function around it.
 */
#ifndef CP_FSM_H
#define CP_FSM_H

#include <stdint.h>

#define FSM_IMPOSSIBLE (-1)

struct fsm {
	const char *name; /* "segment", "lease", "guard": the log line's first word */
	int nstates, nevents;
	const char *const *state_names; /* [nstates] */
	const char *const *event_names; /* [nevents] */
	const signed char *table;       /* [nstates * nevents]: next state or FSM_IMPOSSIBLE */
};

/* The cell of (state, event): the next state, or FSM_IMPOSSIBLE (also for a
 * state or event outside the table). Logs nothing. */
int fsm_next(const struct fsm *m, int state, int event);
/* The state after event in state. An impossible event logs "NAME: event E
 * impossible in state S", adds one to *impossible and returns
 * FSM_IMPOSSIBLE; the caller keeps its state. */
int fsm_step(const struct fsm *m, int state, int event, uint64_t *impossible);
/* The name of a state or an event, "?" outside the table. */
const char *fsm_state_name(const struct fsm *m, int state);
const char *fsm_event_name(const struct fsm *m, int event);

#endif
