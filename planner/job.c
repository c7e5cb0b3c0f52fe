/*
 * job.c: the jobs of the planner daemon: their lifecycle table, the
 * targets each job owns and waits on (the overlap rule), when a job is
 * finished, and cancelling. The plan owns targets and segments; this file
 * only records which job they belong to.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "claims.h"
#include "job.h"
#include "log.h"

const char *const job_state_names[JOB_STATES] = {
	"queued", "planning", "fetching", "following", "done", "failed", "cancelled",
};
const char *const job_event_names[JOB_EVENTS] = {
	"plan", "planned", "finished", "error", "cancel", "caught-up",
};

#define NO (-1)
/* [state][event] -> the next state, or NO (impossible) */
static const int job_table[JOB_STATES][JOB_EVENTS] = {
	/*                 PLAN       PLANNED     FINISHED  ERROR   CANCEL   CAUGHT_UP */
	[JOB_QUEUED] = { JOB_PLANNING, NO, NO, JOB_FAILED, JOB_CANCELLED, NO },
	[JOB_PLANNING] = { NO, JOB_FETCHING, NO, JOB_FAILED, JOB_CANCELLED, NO },
	[JOB_FETCHING] = { NO, NO, JOB_DONE, JOB_FAILED, JOB_CANCELLED, JOB_FOLLOWING },
	[JOB_FOLLOWING] = { NO, NO, NO, JOB_FAILED, JOB_CANCELLED, NO },
	[JOB_DONE] = { NO, NO, NO, NO, NO, NO },
	[JOB_FAILED] = { NO, NO, NO, NO, NO, NO },
	[JOB_CANCELLED] = { NO, NO, NO, NO, NO, NO },
};

static int64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
jobs_init(struct jobs *js)
{
	memset(js, 0, sizeof(*js));
	js->next_id = 1;
	js->building = -1;
}

void
jobs_free(struct jobs *js)
{
	for (int i = 0; i < js->n; i++) {
		free(js->v[i].own);
		free(js->v[i].wait);
	}
	free(js->v);
	free(js->owner);
	free(js->live);
	memset(js, 0, sizeof(*js));
	js->building = -1;
}

int
job_next_state(enum job_state st, enum job_event ev)
{
	if ((int)st < 0 || st >= JOB_STATES || (int)ev < 0 || ev >= JOB_EVENTS)
		return NO;
	return job_table[st][ev];
}

int
job_terminal(enum job_state st)
{
	return st == JOB_DONE || st == JOB_FAILED || st == JOB_CANCELLED;
}

int
job_fire(struct jobs *js, struct job *j, enum job_event ev)
{
	int next = job_next_state(j->st, ev);

	if (next == NO) {
		js->impossible++;
		log_warnx("job %u: impossible event %s in state %s (ignored)", j->id,
		          (int)ev >= 0 && ev < JOB_EVENTS ? job_event_names[ev] : "?",
		          job_state_names[j->st]);
		return -1;
	}
	log_info("job %u: %s -> %s", j->id, job_state_names[j->st], job_state_names[next]);
	j->st = (enum job_state)next;
	if (j->st == JOB_FETCHING)
		j->planned_us = mono_us();
	return 0;
}

struct job *
job_new(struct jobs *js, int64_t now_ms)
{
	struct job *v = realloc(js->v, (size_t)(js->n + 1) * sizeof(*v)), *j;

	if (v == NULL)
		fatalx(EXIT_TEMPFAIL, "out of memory");
	js->v = v;
	j = &js->v[js->n++];
	memset(j, 0, sizeof(*j));
	j->id = js->next_id++;
	j->st = JOB_QUEUED;
	j->submitted_ms = now_ms;
	j->first_lease_us = -1;
	return j;
}

struct job *
job_find(struct jobs *js, uint32_t id)
{
	for (int i = 0; i < js->n; i++)
		if (js->v[i].id == id)
			return &js->v[i];
	return NULL;
}

void
job_building(struct jobs *js, uint32_t id)
{
	js->building = -1;
	for (int i = 0; id != 0 && i < js->n; i++)
		if (js->v[i].id == id)
			js->building = i;
}

static void
push_int(int **v, int *n, int x)
{
	int *nv;

	for (int i = 0; i < *n; i++)
		if ((*v)[i] == x)
			return;
	nv = realloc(*v, (size_t)(*n + 1) * sizeof(*nv));
	if (nv == NULL)
		fatalx(EXIT_TEMPFAIL, "out of memory");
	*v = nv;
	/* cppcheck-suppress nullPointerRedundantCheck ; fatalx does not return */
	(*v)[(*n)++] = x;
}

static int
cmp_range(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->from < y->from ? -1 : x->from > y->from;
}

/* Sorts l and merges its touching and overlapping ranges, in place. */
static void
sort_merge(struct range_list *l)
{
	size_t k = 0;

	if (l->n == 0)
		return;
	qsort(l->v, l->n, sizeof(l->v[0]), cmp_range);
	for (size_t i = 1; i < l->n; i++) {
		if (l->v[i].from <= l->v[k].to) {
			if (l->v[i].to > l->v[k].to)
				l->v[k].to = l->v[i].to;
		} else {
			l->v[++k] = l->v[i];
		}
	}
	l->n = k + 1;
}

static int
seg_live(const struct segment *s)
{
	return s->st == SEG_READY || s->st == SEG_LEASED || s->st == SEG_WAIT;
}

static uint32_t
owner_of(const struct jobs *js, int target)
{
	return target >= 0 && target < js->nowner ? js->owner[target] : 0;
}

static void
set_owner(struct jobs *js, int target, uint32_t id)
{
	if (target >= js->nowner) {
		uint32_t *v = realloc(js->owner, (size_t)(target + 1) * sizeof(*v));
		if (v == NULL)
			fatalx(EXIT_TEMPFAIL, "out of memory");
		memset(&v[js->nowner], 0, (size_t)(target + 1 - js->nowner) * sizeof(*v));
		js->owner = v;
		js->nowner = target + 1;
	}
	js->owner[target] = id;
}

/* The ranges of [from, to) that live segments of other jobs' targets of
 * (market, tf) have, into claimed (sorted, merged); their targets into
 * j's wait list. */
static void
claimed_ranges(struct jobs *js, const struct plan *p, struct job *j, const char *market, enum tf tf,
               int64_t from, int64_t to, struct range_list *claimed)
{
	for (int i = 0; i < p->ns; i++) {
		const struct segment *s = &p->s[i];
		const struct target *t = &p->t[s->target];
		int64_t lo = s->lo > from ? s->lo : from, hi = s->cursor < to ? s->cursor : to;

		if (!seg_live(s) || t->tf != tf || strcmp(t->market, market) != 0 || lo >= hi ||
		    owner_of(js, s->target) == j->id)
			continue;
		if (range_list_push(claimed, lo, hi) == -1)
			fatalx(EXIT_TEMPFAIL, "out of memory");
		push_int(&j->wait, &j->nwait, s->target);
	}
	sort_merge(claimed);
}

int
job_add_target(struct jobs *js, struct plan *p, const char *market, enum tf tf, int64_t from,
               int64_t to, const struct range_list *covered)
{
	struct range_list claimed = { 0 };
	struct job *j;
	int idx;

	if (js->building < 0)
		return plan_add_target(p, market, tf, from, to, covered);
	j = &js->v[js->building];
	claimed_ranges(js, p, j, market, tf, from, to, &claimed);
	idx = claims_add_target(p, market, tf, from, to, covered, &claimed);
	range_list_free(&claimed);
	set_owner(js, idx, j->id);
	push_int(&j->own, &j->nown, idx);
	return idx;
}

void
job_note_lease(struct jobs *js, int target)
{
	struct job *j = job_find(js, owner_of(js, target));

	if (j != NULL && j->first_lease_us < 0)
		j->first_lease_us = mono_us() - j->planned_us;
}

/* Marks in js->live the targets that have a live segment. */
static void
mark_live(struct jobs *js, const struct plan *p)
{
	if (p->nt > js->cap_live) {
		char *v = realloc(js->live, (size_t)p->nt);
		if (v == NULL)
			fatalx(EXIT_TEMPFAIL, "out of memory");
		js->live = v;
		js->cap_live = p->nt;
	}
	if (p->nt > 0)
		memset(js->live, 0, (size_t)p->nt);
	for (int i = 0; i < p->ns; i++)
		if (seg_live(&p->s[i]))
			js->live[p->s[i].target] = 1;
}

/* 1 when j's own and waited-on targets have no live segment (after
 * mark_live), and no range of its own is deferred (another collector has
 * it: claims.c). */
static int
finished_marked(const struct jobs *js, const struct job *j)
{
	for (int i = 0; i < j->nown; i++)
		if (js->live[j->own[i]] || claims_deferred(j->own[i], INT64_MIN, INT64_MAX))
			return 0;
	for (int i = 0; i < j->nwait; i++)
		if (js->live[j->wait[i]])
			return 0;
	return 1;
}

/* A follow job whose every own target failed for good: failed too, with
 * the first target's reason. */
static void
follow_failed(struct jobs *js, struct job *j, const struct plan *p)
{
	for (int i = 0; i < j->nown; i++)
		if (!p->t[j->own[i]].failed)
			return;
	snprintf(j->reason, sizeof(j->reason), "%.*s", (int)sizeof(j->reason) - 1,
	         j->nown > 0 ? p->t[j->own[0]].reason : "nothing to follow");
	job_fire(js, j, JEV_ERROR);
}

void
jobs_tick(struct jobs *js, const struct plan *p)
{
	int marked = 0;

	for (int i = 0; i < js->n; i++) {
		struct job *j = &js->v[i];
		if (j->follow && (j->st == JOB_FETCHING || j->st == JOB_FOLLOWING))
			follow_failed(js, j, p);
		if (j->st != JOB_FETCHING)
			continue;
		if (!marked) {
			mark_live(js, p);
			marked = 1;
		}
		if (finished_marked(js, j))
			job_fire(js, j, j->follow ? JEV_CAUGHT_UP : JEV_FINISHED);
	}
}

struct job *
job_find_follow(struct jobs *js, const struct plan *p, const char *market, enum tf tf)
{
	for (int i = 0; i < js->n; i++) {
		struct job *j = &js->v[i];
		const struct target *t;
		if (!j->follow || j->nown == 0 || j->st == JOB_CANCELLED)
			continue;
		t = &p->t[j->own[0]];
		if (t->tf == tf && strcmp(t->market, market) == 0)
			return j;
	}
	return NULL;
}

/* 1 if a job that is not final waits on target. */
static int
waited_on(const struct jobs *js, int target)
{
	for (int i = 0; i < js->n; i++) {
		const struct job *j = &js->v[i];
		if (job_terminal(j->st))
			continue;
		for (int k = 0; k < j->nwait; k++)
			if (j->wait[k] == target)
				return 1;
	}
	return 0;
}

/* Drops the live segments of every cancelled job's target that no live
 * job waits on (a lease in flight may still be committed by the writer). */
static void
drop_orphans(struct jobs *js, struct plan *p)
{
	mark_live(js, p);
	for (int t = 0; t < p->nt; t++) {
		const struct job *o = job_find(js, owner_of(js, t));
		if (o == NULL || o->st != JOB_CANCELLED || !js->live[t] || waited_on(js, t))
			continue;
		plan_drop_target(p, t, "cancelled");
	}
}

int
job_cancel(struct jobs *js, struct plan *p, uint32_t id, char *err, size_t errlen)
{
	struct job *j = job_find(js, id);

	if (j == NULL) {
		snprintf(err, errlen, "no job %u", id);
		return -1;
	}
	/* a client's late cancel is its error, not an impossible event */
	if (job_terminal(j->st) || job_fire(js, j, JEV_CANCEL) == -1) {
		snprintf(err, errlen, "job %u is already %s", id, job_state_names[j->st]);
		return -1;
	}
	snprintf(j->reason, sizeof(j->reason), "cancelled");
	for (int i = 0; i < j->nown; i++) {
		p->t[j->own[i]].follow = 0;
		claims_forget(j->own[i]);
	}
	drop_orphans(js, p);
	return 0;
}

/* Appends the ranges of src inside [from, to) to out. */
static int
push_clipped(struct range_list *out, const struct range_list *src, int64_t from, int64_t to)
{
	for (size_t i = 0; i < src->n; i++) {
		int64_t lo = src->v[i].from > from ? src->v[i].from : from;
		int64_t hi = src->v[i].to < to ? src->v[i].to : to;
		if (lo < hi && range_list_push(out, lo, hi) == -1)
			return -1;
	}
	return 0;
}

int
job_covered(const struct job *j, const struct plan *p, int ti, struct range_list *out)
{
	const struct target *t = &p->t[j->own[ti]];

	if (push_clipped(out, &t->done, t->from, t->to) == -1)
		return -1;
	for (int k = 0; k < j->nwait; k++) {
		const struct target *w = &p->t[j->wait[k]];
		if (w->tf == t->tf && strcmp(w->market, t->market) == 0 &&
		    push_clipped(out, &w->done, t->from, t->to) == -1)
			return -1;
	}
	sort_merge(out);
	return 0;
}
