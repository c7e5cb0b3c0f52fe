/*
 * flags.c: feature flags and their guard.
 *
 * Each optimisation the planner makes can be switched off (`--feature
 * name=off`, or a `--features FILE` of `name = on|off` lines). The guard
 * measures each enabled flag in two epochs, first with it on, then off, by
 * the one figure every optimisation exists to raise: slots proven per
 * second. If "on" is more than 20% worse than "off", the flag stays off and
 * a log line says why; otherwise it is restored. Flags are judged one after
 * another, so two flags never blur each other's measurement. A pair of
 * epochs that proved fewer than GUARD_MIN_SLOTS slots together (nothing to
 * fetch, as in follow mode) judges nothing: the flag is restored and
 * measured again once slots are proven. The guard's phases are the table
 * guard_table below: every change goes through guard_step.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "flags.h"
#include "log.h"

#define GUARD_WORSE 0.20
#define GUARD_MIN_SLOTS 10 /* proven in both epochs together, to judge */

static const char *const names[FEAT_COUNT] = { "split", "hedge", "lookahead" };
static int on[FEAT_COUNT];

/* [phase][event]: the phase an event leads to, X where it cannot happen.
 * The end of an "off" epoch is judged: UNJUDGED, JUDGED or JUDGED_LAST. */
#define X FSM_IMPOSSIBLE
/* clang-format off */
static const signed char guard_table[GUARD_NPHASES][GUARD_NEVENTS] = {
	/*              slots     epoch_end  unjudged    judged    judged_last stop */
	[GUARD_IDLE] = { GUARD_ON, X,         X,          X,        X,          GUARD_DONE },
	[GUARD_ON]   = { X,        GUARD_OFF, X,          X,        X,          GUARD_DONE },
	[GUARD_OFF]  = { X,        X,         GUARD_IDLE, GUARD_ON, GUARD_DONE, GUARD_DONE },
	[GUARD_DONE] = { X,        X,         X,          X,        X,          GUARD_DONE },
};
/* clang-format on */
#undef X

static const char *const guard_phase_names[GUARD_NPHASES] = { "IDLE", "ON", "OFF", "DONE" };
static const char *const guard_event_names[GUARD_NEVENTS] = {
	"slots", "epoch_end", "unjudged", "judged", "judged_last", "stop",
};

const struct fsm guard_fsm = {
	"guard",           GUARD_NPHASES,     GUARD_NEVENTS,
	guard_phase_names, guard_event_names, &guard_table[0][0],
};

static uint64_t impossible; /* since the process started: guard_init keeps it */

static struct {
	int enabled;
	int64_t epoch_ms;
	int flag; /* the flag under test */
	enum guard_phase phase;
	int64_t t0, s0; /* start of the epoch: time and slots */
	double rate_on;
	int64_t slots_on; /* slots proven in the "on" epoch */
} g;

/* The one way the guard changes phase (an impossible event is logged and
 * counted, the phase kept). */
static void
guard_step(enum guard_event ev)
{
	int next = fsm_step(&guard_fsm, (int)g.phase, (int)ev, &impossible);

	if (next != FSM_IMPOSSIBLE)
		g.phase = (enum guard_phase)next;
}

enum guard_phase
guard_phase(void)
{
	return g.phase;
}

uint64_t
guard_impossible(void)
{
	return impossible;
}

void
features_init(void)
{
	for (int i = 0; i < FEAT_COUNT; i++)
		on[i] = 1;
}

int
feature_on(enum feature f)
{
	return on[f];
}

static int
parse_bool(const char *v, int *out)
{
	if (!strcasecmp(v, "on") || !strcasecmp(v, "true") || !strcmp(v, "1") ||
	    !strcasecmp(v, "yes")) {
		*out = 1;
		return 0;
	}
	if (!strcasecmp(v, "off") || !strcasecmp(v, "false") || !strcmp(v, "0") ||
	    !strcasecmp(v, "no")) {
		*out = 0;
		return 0;
	}
	return -1;
}

int
features_set(const char *assignment)
{
	char name[32], value[16];
	const char *eq = strchr(assignment, '=');
	size_t n;
	int b;

	if (eq == NULL || (n = (size_t)(eq - assignment)) == 0 || n >= sizeof(name) ||
	    strlen(eq + 1) >= sizeof(value)) {
		fprintf(stderr, "feature: want NAME=on|off, not '%s'\n", assignment);
		return -1;
	}
	memcpy(name, assignment, n);
	name[n] = '\0';
	strcpy(value, eq + 1);
	for (int i = 0; i < FEAT_COUNT; i++) {
		if (strcmp(name, names[i]) != 0)
			continue;
		if (parse_bool(value, &b) == -1) {
			fprintf(stderr, "feature %s: want on or off, not '%s'\n", name, value);
			return -1;
		}
		on[i] = b;
		return 0;
	}
	fprintf(stderr, "unknown feature '%s' (split, hedge, lookahead)\n", name);
	return -1;
}

int
features_load(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[256], buf[256];
	int lineno = 0, rc = 0;

	if (f == NULL) {
		fprintf(stderr, "cannot read feature file %s\n", path);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = line, *q = buf;
		lineno++;
		/* drop comments and blanks: "name = on" -> "name=on" */
		for (; *p && *p != '#' && *p != '\n'; p++)
			if (*p != ' ' && *p != '\t')
				*q++ = *p;
		*q = '\0';
		if (buf[0] == '\0')
			continue;
		if (features_set(buf) == -1) {
			fprintf(stderr, "%s:%d: bad line\n", path, lineno);
			rc = -1;
		}
	}
	fclose(f);
	return rc;
}

static int
next_flag(int from)
{
	for (int i = from; i < FEAT_COUNT; i++)
		if (on[i])
			return i;
	return -1;
}

void
guard_init(int enabled, int64_t epoch_ms, int64_t now_ms)
{
	memset(&g, 0, sizeof(g));
	g.enabled = enabled;
	g.epoch_ms = epoch_ms;
	g.flag = next_flag(0);
	/* its first phase, not a change */
	g.phase = g.flag < 0 || !enabled ? GUARD_DONE : GUARD_IDLE;
	g.t0 = now_ms;
}

/* The end of the "off" epoch: keeps the flag off if it made things worse. */
static void
judge(double rate_off, int64_t slots_off)
{
	if (g.slots_on + slots_off < GUARD_MIN_SLOTS) {
		/* too little to compare: restored, measured again later */
		on[g.flag] = 1;
		log_debug("guard: feature '%s' not judged (%lld slots proven with it, %lld "
		          "without)",
		          names[g.flag], (long long)g.slots_on, (long long)slots_off);
		guard_step(GUARD_EV_UNJUDGED);
		return;
	}
	if (g.rate_on < rate_off * (1.0 - GUARD_WORSE)) {
		log_warnx("guard: feature '%s' switched off: %.1f slots/s with it, "
		          "%.1f without (more than %.0f%% worse)",
		          names[g.flag], g.rate_on, rate_off, GUARD_WORSE * 100);
	} else {
		on[g.flag] = 1;
		log_info("guard: feature '%s' stays on (%.1f slots/s with it, %.1f without)",
		         names[g.flag], g.rate_on, rate_off);
	}
	g.flag = next_flag(g.flag + 1);
	guard_step(g.flag < 0 ? GUARD_EV_JUDGED_LAST : GUARD_EV_JUDGED);
}

void
guard_tick(int64_t now_ms, int64_t slots_done)
{
	double rate;

	if (g.phase == GUARD_DONE)
		return;
	if (g.phase == GUARD_IDLE) {
		/* wait for slots: start-up (or an idle spell) is no fair measurement */
		if (slots_done <= g.s0)
			return;
		guard_step(GUARD_EV_SLOTS);
		g.t0 = now_ms;
		g.s0 = slots_done;
		return;
	}
	if (now_ms - g.t0 < g.epoch_ms)
		return;
	rate = (double)(slots_done - g.s0) * 1000.0 / (double)(now_ms - g.t0);
	if (g.phase == GUARD_ON) {
		g.rate_on = rate;
		g.slots_on = slots_done - g.s0;
		on[g.flag] = 0;
		guard_step(GUARD_EV_EPOCH_END);
	} else {
		judge(rate, slots_done - g.s0);
	}
	g.t0 = now_ms;
	g.s0 = slots_done;
}

void
guard_stop(void)
{
	if (g.phase == GUARD_OFF)
		on[g.flag] = 1; /* not judged: restored */
	guard_step(GUARD_EV_STOP);
}
