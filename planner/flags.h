/*
 * flags.h: feature flags for the planner's optimisations, and the guard
 * that turns one off when it makes things worse.
 */
#ifndef CP_FLAGS_H
#define CP_FLAGS_H

#include <stdint.h>

#include "fsm.h"

enum feature {
	FEAT_SPLIT,     /* parallel segments: split a busy range when a token idles */
	FEAT_HEDGE,     /* race a second copy of an overdue request */
	FEAT_LOOKAHEAD, /* lease ahead of the token, so requests leave on time */
	FEAT_COUNT
};

/* Sets defaults (all on). */
void features_init(void);
/* "name=on|off" (also true/false/1/0); 0 or -1 with a message on stderr. */
int features_set(const char *assignment);
/* Reads a file of "name = on|off" lines (# comments). 0 or -1. */
int features_load(const char *path);
int feature_on(enum feature f);

/* The guard: A/B epochs of epoch_ms each, one flag at a time, comparing the
 * slots proven per second with the flag on and off; a flag worse by more
 * than 20% is switched off for the rest of the run (logged). Its phases are
 * one [phase][event] table (guard_fsm), every change through one step. */
enum guard_phase {
	GUARD_IDLE, /* waiting for slots to be proven before an epoch */
	GUARD_ON,   /* the "on" epoch of the flag under test */
	GUARD_OFF,  /* its "off" epoch */
	GUARD_DONE, /* nothing (more) to test */
	GUARD_NPHASES
};
enum guard_event {
	GUARD_EV_SLOTS,       /* slots were proven: a fair epoch can start */
	GUARD_EV_EPOCH_END,   /* the "on" epoch is over */
	GUARD_EV_UNJUDGED,    /* the "off" epoch is over, too little proven to judge */
	GUARD_EV_JUDGED,      /* judged; another flag is next */
	GUARD_EV_JUDGED_LAST, /* judged; it was the last flag */
	GUARD_EV_STOP,        /* guard_stop */
	GUARD_NEVENTS
};
extern const struct fsm guard_fsm;

void guard_init(int enabled, int64_t epoch_ms, int64_t now_ms);
/* Called often with the slots proven so far; may toggle flags. Epochs that
 * proved (almost) nothing judge nothing. */
void guard_tick(int64_t now_ms, int64_t slots_done);
/* Ends the guard for good (follow mode: throughput is set by the clock,
 * not by the flags); a flag under test is restored. */
void guard_stop(void);
/* The guard's current phase, and the events it saw that cannot happen in
 * their phase (logged when they happen) since the process started. */
enum guard_phase guard_phase(void);
uint64_t guard_impossible(void);

#endif
