/*
 * fsm_walk.h: walks every cell of a lifecycle table (common/fsm.h) through
 * the owner's own step function, against a grid the test writes out by hand
 * (state names, "-" for an impossible event). For each (state, event): the
 * machine is put in the state, the event stepped; a possible event must
 * lead to the grid's state and count nothing, an impossible one must keep
 * the state, count one and log one line naming the machine, state and
 * event. Header-only, after cmocka.h and capture.h.
 */
#ifndef CP_TEST_FSM_WALK_H
#define CP_TEST_FSM_WALK_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fsm.h"

struct fsm_walk {
	const struct fsm *m;
	const char *const *want;         /* [nstates * nevents]: a state name or "-" */
	void (*set)(int state);          /* puts the machine in state */
	int (*step)(int event);          /* the owner's step: 0, or -1 when impossible */
	int (*get)(void);                /* the machine's state */
	uint64_t (*impossible)(void);    /* the owner's count */
	void (*check)(int from, int to); /* more checks of a possible cell, or NULL */
};

static inline void
fsm_walk_cell(const struct fsm_walk *w, int s, int e)
{
	const char *want = w->want[s * w->m->nevents + e];
	uint64_t before;
	char line[160];
	int rc;

	w->set(s);
	before = w->impossible();
	cap_begin();
	rc = w->step(e);
	cap_end(NULL);
	if (strcmp(want, "-") == 0) {
		snprintf(line, sizeof(line), "%s: event %s impossible in state %s", w->m->name,
		         fsm_event_name(w->m, e), fsm_state_name(w->m, s));
		if (rc != -1 || w->get() != s || w->impossible() != before + 1)
			fail_msg("%s impossible: state %s now %s, count %llu -> %llu", line,
			         fsm_state_name(w->m, s), fsm_state_name(w->m, w->get()),
			         (unsigned long long)before, (unsigned long long)w->impossible());
		assert_logged(cap_text, line);
		assert_null(strchr(strchr(cap_text, '\n') + 1, '\n')); /* one line */
		return;
	}
	if (rc != 0 || strcmp(fsm_state_name(w->m, w->get()), want) != 0 ||
	    w->impossible() != before)
		fail_msg("%s: %s + %s: want %s, got %s (rc %d)", w->m->name,
		         fsm_state_name(w->m, s), fsm_event_name(w->m, e), want,
		         fsm_state_name(w->m, w->get()), rc);
	assert_int_equal(cap_len, 0); /* a possible event logs nothing */
	if (w->check != NULL)
		w->check(s, w->get());
}

/* Every cell; returns how many were walked. */
static inline int
fsm_walk(const struct fsm_walk *w)
{
	int n = 0;

	for (int s = 0; s < w->m->nstates; s++)
		for (int e = 0; e < w->m->nevents; e++, n++)
			fsm_walk_cell(w, s, e);
	return n;
}

#endif
