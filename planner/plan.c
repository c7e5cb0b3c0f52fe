/*
 * plan.c: segment cursors over the missing ranges of each target.
 *
 * Upbit answers `to=T, count=C` with the C newest candles before T, skipping
 * intervals without trades. A segment [lo, cursor) is walked from the top:
 * each response proves [oldest returned, T) complete, and the next `to` is
 * the oldest start returned, so a sparse market costs no extra requests. A
 * response shorter than C proves everything before T (history starts there).
 *
 * Parallelism comes from several segments: when a fetcher could send now but
 * every segment has its chunk out, the biggest unexplored remainder is split
 * in two (plan_split), at a point chosen so that the upper part ends on a
 * whole number of full requests. Only idle rate budget causes splits, so a
 * seam (at most one partly duplicate request) is paid only where it buys
 * throughput.
 *
 * A segment's lifecycle (READY LEASED WAIT DONE FAILED) is the table
 * seg_table below: every change goes through plan_seg_step.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "overlap.h"
#include "plan.h"
#include "timeutil.h"

/* [state][event]: the state an event leads to, X where it cannot happen.
 * A commit of a READY or WAIT segment is the late answer of an expired
 * lease or of a hedge's twin; stale answers (another chunk, or a segment
 * already DONE or FAILED) are filtered before the table (is_stale,
 * plan_on_failed). HISTORY_END and TARGET_FAILED leave a finished segment
 * as it is. */
#define X FSM_IMPOSSIBLE
#define R SEG_READY
#define L SEG_LEASED
#define W SEG_WAIT
#define D SEG_DONE
#define F SEG_FAILED
/* clang-format off */
static const signed char seg_table[SEG_NSTATES][SEG_NEVENTS] = {
	/*            lease wake commit exhaust hist_end retry backoff give_up expire tgt_fail */
	[SEG_READY]  = { L,    X,   R,     D,      D,       X,    X,      X,      X,     F },
	[SEG_LEASED] = { L,    X,   R,     X,      D,       R,    W,      F,      R,     F },
	[SEG_WAIT]   = { X,    R,   R,     D,      D,       X,    X,      X,      X,     F },
	[SEG_DONE]   = { X,    X,   X,     X,      D,       X,    X,      X,      X,     D },
	[SEG_FAILED] = { X,    X,   X,     X,      F,       X,    X,      X,      X,     F },
};
/* clang-format on */
#undef X
#undef R
#undef L
#undef W
#undef D
#undef F

static const char *const seg_state_names[SEG_NSTATES] = { "READY", "LEASED", "WAIT", "DONE",
	                                                  "FAILED" };
static const char *const seg_event_names[SEG_NEVENTS] = {
	"lease", "wake",    "committed", "exhausted", "history_end",
	"retry", "backoff", "give_up",   "expire",    "target_failed",
};

const struct fsm plan_seg_fsm = {
	"segment", SEG_NSTATES, SEG_NEVENTS, seg_state_names, seg_event_names, &seg_table[0][0],
};

int
plan_seg_step(struct plan *p, struct segment *s, enum seg_event ev)
{
	int next = fsm_step(&plan_seg_fsm, (int)s->st, (int)ev, &p->impossible);

	if (next == FSM_IMPOSSIBLE)
		return -1;
	if (next != SEG_LEASED)
		s->hedged = 0; /* a hedge races a lease that is out, not the next one */
	s->st = (enum seg_state)next;
	return 0;
}

/* Inserts [from, to) into a sorted, merged list. */
static int
add_merged(struct range_list *l, int64_t from, int64_t to)
{
	size_t i = 0, j;

	if (from >= to)
		return 0;
	while (i < l->n && l->v[i].to < from)
		i++;
	j = i;
	while (j < l->n && l->v[j].from <= to) {
		if (l->v[j].from < from)
			from = l->v[j].from;
		if (l->v[j].to > to)
			to = l->v[j].to;
		j++;
	}
	if (j == i) {
		if (range_list_push(l, 0, 0) == -1)
			return -1;
		memmove(&l->v[i + 1], &l->v[i], (l->n - 1 - i) * sizeof(l->v[0]));
	} else if (j > i + 1) {
		memmove(&l->v[i + 1], &l->v[j], (l->n - j) * sizeof(l->v[0]));
		l->n -= j - i - 1;
	}
	l->v[i].from = from;
	l->v[i].to = to;
	return 0;
}

static int64_t
slots_in(enum tf tf, const struct range_list *l)
{
	int64_t n = 0;
	for (size_t i = 0; i < l->n; i++)
		n += tf_count(tf, l->v[i].from, l->v[i].to);
	return n;
}

/* Lowest x such that [x, to) is proven, or to itself. */
static int64_t
proven_down_to(const struct range_list *l, int64_t to)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].from < to && l->v[i].to >= to)
			return l->v[i].from;
	return to;
}

static int
new_segment(struct plan *p, int target, int64_t lo, int64_t cursor)
{
	struct segment *s;
	int i;

	/* reuse a finished entry: chunk ids stay unique, the array stays small */
	for (i = 0; i < p->ns; i++)
		if (p->s[i].st == SEG_DONE)
			break;
	if (i < p->ns) {
		p->t[p->s[i].target].nseg--;
	} else {
		if (p->ns == p->cap_s) {
			int cap = p->cap_s ? p->cap_s * 2 : 64;
			struct segment *v = realloc(p->s, (size_t)cap * sizeof(*v));
			if (v == NULL)
				fatalx(EXIT_TEMPFAIL, "out of memory");
			p->s = v;
			p->cap_s = cap;
		}
		i = p->ns++;
	}
	s = &p->s[i];
	memset(s, 0, sizeof(*s));
	s->target = target;
	s->lo = lo;
	s->cursor = cursor;
	s->st = SEG_READY; /* its first state, not a change */
	s->source = s->prev_source = -1;
	p->t[target].nseg++;
	return i;
}

void
plan_init(struct plan *p, uint32_t run_id)
{
	memset(p, 0, sizeof(*p));
	p->run_id = run_id;
}

void
plan_free(struct plan *p)
{
	for (int i = 0; i < p->nt; i++) {
		range_list_free(&p->t[i].covered0);
		range_list_free(&p->t[i].done);
	}
	free(p->t);
	free(p->s);
	memset(p, 0, sizeof(*p));
}

int
plan_add_target(struct plan *p, const char *market, enum tf tf, int64_t from, int64_t to,
                const struct range_list *covered)
{
	return plan_add_target_except(p, market, tf, from, to, covered, NULL);
}

int
plan_add_target_except(struct plan *p, const char *market, enum tf tf, int64_t from, int64_t to,
                       const struct range_list *covered, const struct range_list *except)
{
	struct target *t;
	static const struct range_list none = { 0 };
	struct range_list want = { 0 }, missing = { 0 }, rest = { 0 };
	int idx = p->nt;

	t = realloc(p->t, (size_t)(p->nt + 1) * sizeof(*t));
	if (t == NULL)
		fatalx(EXIT_TEMPFAIL, "out of memory");
	p->t = t;
	t = &p->t[p->nt++];
	memset(t, 0, sizeof(*t));
	strncpy(t->market, market, sizeof(t->market) - 1);
	t->tf = tf;
	t->from = from;
	t->to = to;
	t->spc = 1.0;
	for (size_t i = 0; i < covered->n; i++) {
		if (add_merged(&t->covered0, covered->v[i].from, covered->v[i].to) == -1 ||
		    add_merged(&t->done, covered->v[i].from, covered->v[i].to) == -1)
			fatalx(EXIT_TEMPFAIL, "out of memory");
	}
	t->slots_total = tf_count(tf, from, to);
	t->slots_hit = t->slots_done = slots_in(tf, &t->done);
	if (range_list_push(&want, from, to) == -1 ||
	    range_subtract(&want, &t->done, &rest) == -1 ||
	    range_subtract(&rest, except != NULL ? except : &none, &missing) == -1)
		fatalx(EXIT_TEMPFAIL, "out of memory");
	/* newest first, so the most recent data arrives first */
	for (size_t i = missing.n; i-- > 0;)
		new_segment(p, idx, missing.v[i].from, missing.v[i].to);
	range_list_free(&want);
	range_list_free(&rest);
	range_list_free(&missing);
	return idx;
}

void
plan_grow(struct plan *p, int target, int64_t to)
{
	struct target *t = &p->t[target];

	if (to <= t->to)
		return;
	t->slots_total += tf_count(t->tf, t->to, to);
	t->to = to;
}

void
plan_extend(struct plan *p, int target, int64_t to)
{
	int64_t from = p->t[target].to;

	if (to <= from)
		return;
	new_segment(p, target, from, to);
	plan_grow(p, target, to);
}

void
plan_add_range(struct plan *p, int target, int64_t from, int64_t to)
{
	if (from < to)
		new_segment(p, target, from, to);
}

void
plan_add_done(struct plan *p, int target, int64_t from, int64_t to)
{
	struct target *t = &p->t[target];

	if (add_merged(&t->done, from > t->from ? from : t->from, to < t->to ? to : t->to) == -1)
		fatalx(EXIT_TEMPFAIL, "out of memory");
	t->slots_done = slots_in(t->tf, &t->done);
}

/* Drops the proven top of a segment; marks it done when nothing is left. */
static void
trim(struct plan *p, struct segment *s)
{
	const struct target *t = &p->t[s->target];

	if (s->st != SEG_READY && s->st != SEG_WAIT)
		return;
	s->cursor = proven_down_to(&t->done, s->cursor);
	if (s->cursor <= s->lo)
		plan_seg_step(p, s, SEG_EV_EXHAUSTED);
}

int
plan_next_ready(struct plan *p, int64_t now_ms)
{
	for (int k = 0; k < p->ns; k++) {
		int i = (p->rr + k) % p->ns;
		struct segment *s = &p->s[i];

		if (s->st == SEG_WAIT && s->until_ms <= now_ms)
			plan_seg_step(p, s, SEG_EV_WAKE);
		trim(p, s);
		if (s->st == SEG_READY) {
			p->rr = (i + 1) % p->ns;
			return i;
		}
	}
	return -1;
}

int
plan_hedge(struct plan *p, int64_t now_ms, int64_t min_ms)
{
	/* overdue: min_ms, or when that is negative, PLAN_HEDGE_FACTOR times
	 * the usual API time and at least PLAN_HEDGE_FLOOR_MS */
	int64_t after = min_ms;

	if (after < 0) {
		after = (int64_t)(PLAN_HEDGE_FACTOR * p->api_ms);
		if (after < PLAN_HEDGE_FLOOR_MS)
			after = PLAN_HEDGE_FLOOR_MS;
	}
	for (int i = 0; i < p->ns; i++) {
		struct segment *s = &p->s[i];
		/* the lease's delay (rate token) is waiting, not hanging */
		if (s->st == SEG_LEASED && !s->hedged &&
		    now_ms - s->leased_at_ms - (int64_t)s->ci.delay_ms >= after)
			return i;
	}
	return -1;
}

int
plan_split(struct plan *p)
{
	int best = -1;
	double best_est = 0;
	int64_t best_mid = 0;

	for (int i = 0; i < p->ns; i++) {
		struct segment *s = &p->s[i];
		struct target *t = &p->t[s->target];
		int64_t below, slots, upper;
		double est, k;

		if (s->st != SEG_LEASED || t->nseg >= PLAN_SEGMENTS_PER_TARGET_MAX)
			continue;
		/* the chunk out covers at least `count` slots below its `to` */
		below = tf_add(t->tf, s->ci.to, -(int64_t)s->ci.count);
		if (below <= s->lo)
			continue;
		slots = tf_count(t->tf, s->lo, below);
		est = (double)slots / t->spc;
		if (est < 2.0 * CANDLE_MAX_PER_RESPONSE || est <= best_est)
			continue;
		/* the upper part keeps k >= 1 whole requests, at most half the
		 * rest: 1 <= upper < slots */
		k = (double)(int64_t)(est / 2 / CANDLE_MAX_PER_RESPONSE);
		upper = (int64_t)(k * CANDLE_MAX_PER_RESPONSE * t->spc + 0.5);
		best = i;
		best_est = est;
		best_mid = tf_add(t->tf, below, -upper);
	}
	if (best == -1)
		return -1;
	{
		int64_t lo = p->s[best].lo;
		int n;
		p->s[best].lo = best_mid;
		n = new_segment(p, p->s[best].target, lo, best_mid);
		char at[TIME_TEXT_LEN];
		time_format(best_mid, at);
		log_debug("split segment %d at %s", best, at);
		return n;
	}
}

struct chunk_info *
plan_lease(struct plan *p, int seg, int64_t now_ms, int64_t wall_ms, uint32_t delay_ms)
{
	struct segment *s = &p->s[seg];
	struct target *t = &p->t[s->target];
	struct chunk_info *ci = &s->ci;
	int64_t slots;
	struct range cov;

	if (ci->to != s->cursor || ci->id == 0) {
		/* a new chunk at the cursor; a re-issue keeps id and counts attempts */
		int64_t wfrom = tf_add(t->tf, s->cursor, -CANDLE_MAX_PER_RESPONSE);
		memset(ci, 0, sizeof(*ci));
		ci->id = ((uint64_t)p->run_id << 32) | ++p->seq;
		ci->tf = (uint8_t)t->tf;
		memcpy(ci->market, t->market, sizeof(ci->market));
		ci->to = s->cursor;
		slots = tf_count(t->tf, s->lo, s->cursor);
		ci->count =
		    (uint16_t)(slots < CANDLE_MAX_PER_RESPONSE ? slots : CANDLE_MAX_PER_RESPONSE);
		ci->seg_lo = s->lo;
		if (wfrom < t->from)
			wfrom = t->from;
		{
			int64_t a = time_mono_ns();
			ci->overlap = (uint8_t)overlap_analyze(&t->covered0, wfrom, ci->to, &cov);
			p->analysis_ns += time_mono_ns() - a;
			p->planned++;
		}
		ci->cov_from = cov.from;
		ci->cov_to = cov.to;
		s->planned_ms = wall_ms;
	} else {
		ci->attempt++;
		if (s->st == SEG_LEASED) {
			s->hedged = 1;
			p->hedges++;
		}
	}
	ci->remaining_req = -1;
	ci->delay_ms = delay_ms;
	ci->lease_ms = delay_ms + PLAN_LEASE_BASE_MS;
	plan_seg_step(p, s, SEG_EV_LEASE);
	s->leased_at_ms = now_ms;
	/* one second of slack for the trip to the fetcher and back */
	s->until_ms = now_ms + ci->lease_ms + 1000;
	p->leases++;
	return ci;
}

static struct segment *
find(const struct plan *p, uint64_t id)
{
	for (int i = 0; i < p->ns; i++)
		if (p->s[i].ci.id == id)
			return &p->s[i];
	return NULL;
}

void
plan_note_source(struct plan *p, int seg, int source)
{
	struct segment *s = &p->s[seg];

	s->prev_source = s->ci.attempt > 0 ? s->source : -1;
	s->source = source;
}

int
plan_source_of(const struct plan *p, const struct chunk_info *ci)
{
	const struct segment *s = find(p, ci->id);

	if (s == NULL)
		return -1;
	if (ci->attempt == s->ci.attempt)
		return s->source;
	return ci->attempt + 1 == s->ci.attempt ? s->prev_source : -1;
}

/* A commit for a chunk that is no longer out (already re-leased further,
 * finished or failed) changes nothing. */
static int
is_stale(const struct segment *s, const struct chunk_info *ci)
{
	/* a segment's cursor moves off its chunk's `to` when that chunk is
	 * committed (a lease always starts at the cursor): a twin of a chunk
	 * already counted (a hedge's answer before the next lease) is stale */
	return s == NULL || s->ci.to != ci->to || s->ci.to != s->cursor || s->st == SEG_DONE ||
	       s->st == SEG_FAILED;
}

/* Adds a result to its target: counters, proven range, slots per candle. */
static void
count_result(struct target *t, const struct msg_committed *m)
{
	const struct chunk_info *ci = &m->ci;
	int64_t lo = ci->history_end ? t->from : ci->effective_end;

	t->requests++;
	t->answered = 1;
	t->received += ci->received;
	t->new_candles += m->new_candles;
	t->bytes += m->bytes;
	if (lo < t->from)
		lo = t->from;
	if (add_merged(&t->done, lo, ci->to < t->to ? ci->to : t->to) == -1)
		fatalx(EXIT_TEMPFAIL, "out of memory");
	t->slots_done = slots_in(t->tf, &t->done);
	if (!ci->history_end && ci->received > 0) {
		double spc = (double)tf_count(t->tf, ci->oldest, ci->to) / ci->received;
		t->spc = 0.7 * t->spc + 0.3 * (spc < 1 ? 1 : spc);
	}
}

/* The moving average of the API call time, for hedging. */
static void
note_api_time(struct plan *p, const struct chunk_info *ci)
{
	double api = (double)ci->api_ms;

	p->api_ms = p->api_ms > 0 ? 0.8 * p->api_ms + 0.2 * api : api;
}

/* The end of history: everything below `to` is proven, in this and every
 * lower segment of the target (s itself: its cursor is `to`). */
static void
end_history(struct plan *p, const struct segment *s, int64_t to)
{
	for (int i = 0; i < p->ns; i++)
		if (p->s[i].target == s->target && p->s[i].cursor <= to)
			plan_seg_step(p, &p->s[i], SEG_EV_HISTORY_END);
}

int
plan_on_committed(struct plan *p, const struct msg_committed *m)
{
	const struct chunk_info *ci = &m->ci;
	struct segment *s = find(p, ci->id);

	p->committed++;
	if (is_stale(s, ci))
		return 0;
	count_result(&p->t[s->target], m);
	note_api_time(p, ci);
	s->ci = *ci;
	if (ci->history_end) {
		end_history(p, s, ci->to);
		return 1;
	}
	s->cursor = ci->oldest;
	plan_seg_step(p, s, SEG_EV_COMMITTED);
	s->temp_attempts = 0;
	trim(p, s); /* DONE when nothing is left below the new cursor */
	return 1;
}

static void
fail_target(struct plan *p, int target, const char *reason)
{
	struct target *t = &p->t[target];

	t->failed = 1;
	if (t->reason[0] == '\0')
		snprintf(t->reason, sizeof(t->reason), "%.*s", REASON_MAX - 1, reason);
	for (int i = 0; i < p->ns; i++)
		if (p->s[i].target == target)
			plan_seg_step(p, &p->s[i], SEG_EV_TARGET_FAILED);
}

void
plan_drop_target(struct plan *p, int target, const char *reason)
{
	fail_target(p, target, reason);
}

/* 1 if the market answered before: in this run, or in the ledger. */
static int
market_known(const struct plan *p, const char *market)
{
	for (int i = 0; i < p->nt; i++)
		if (strcmp(p->t[i].market, market) == 0 &&
		    (p->t[i].answered || p->t[i].covered0.n > 0))
			return 1;
	return 0;
}

/* A permanent failure of one request. A known market that now answers 404
 * Code not found was delisted: every range of it left fails at once. */
static enum fail_action
on_permanent(struct plan *p, int target, const struct msg_failed *m)
{
	const char *market = p->t[target].market;

	if (m->kind != FAIL_PERM_MARKET || !market_known(p, market)) {
		fail_target(p, target, m->reason);
		return FA_PERMANENT;
	}
	for (int i = 0; i < p->nt; i++)
		if (strcmp(p->t[i].market, market) == 0 && !p->t[i].failed)
			fail_target(p, i, PLAN_DELISTED);
	return FA_DELISTED;
}

enum fail_action
plan_on_failed(struct plan *p, const struct msg_failed *m, int64_t now_ms, uint32_t jitter)
{
	struct segment *s = find(p, m->ci.id);
	struct target *t;
	int64_t backoff;

	if (s == NULL || s->st != SEG_LEASED || s->ci.to != m->ci.to)
		return FA_IGNORED;
	t = &p->t[s->target];
	s->hedged = 0; /* also when it stays LEASED (its target failed already) */
	if (m->kind == FAIL_TOKEN_LATE) {
		/* never sent: no request, no retry; it goes again with a new token */
		plan_seg_step(p, s, SEG_EV_RETRY);
		p->late_tokens++;
		return FA_RELEASED;
	}
	t->requests++;
	switch (m->kind) {
	case FAIL_PERM_MARKET:
	case FAIL_PERM_REQUEST: p->failed_chunks++; return on_permanent(p, s->target, m);
	case FAIL_RATE_429:
	case FAIL_BLOCKED_418:
		/* the budget holds everyone back; the chunk just goes again */
		if (++s->rate_attempts > PLAN_RATE_ATTEMPTS_MAX)
			break;
		plan_seg_step(p, s, SEG_EV_RETRY);
		t->retries++;
		p->retries++;
		return FA_RETRY;
	default:
		if (++s->temp_attempts >= PLAN_TEMP_ATTEMPTS_MAX)
			break;
		/* exponential back-off from 150 ms with +-25% jitter, at most 8 s */
		backoff = 150LL << (s->temp_attempts - 1);
		if (backoff > 8000)
			backoff = 8000;
		backoff += (int64_t)(jitter % 1000) * backoff / 2000 - backoff / 4;
		plan_seg_step(p, s, SEG_EV_BACKOFF);
		s->until_ms = now_ms + backoff;
		t->retries++;
		p->retries++;
		return FA_RETRY;
	}
	/* out of attempts: this segment's range stays uncovered */
	plan_seg_step(p, s, SEG_EV_GIVE_UP);
	if (t->reason[0] == '\0')
		snprintf(t->reason, sizeof(t->reason), "gave up after %d attempts: %.*s",
		         s->temp_attempts + s->rate_attempts, REASON_MAX - 1, m->reason);
	p->failed_chunks++;
	return FA_GAVE_UP;
}

int
plan_expire(struct plan *p, int64_t now_ms)
{
	int n = 0;

	for (int i = 0; i < p->ns; i++) {
		struct segment *s = &p->s[i];
		if (s->st != SEG_LEASED || s->until_ms > now_ms)
			continue;
		n++;
		if (++s->temp_attempts >= PLAN_TEMP_ATTEMPTS_MAX) {
			struct target *t = &p->t[s->target];
			plan_seg_step(p, s, SEG_EV_GIVE_UP);
			if (t->reason[0] == '\0')
				snprintf(t->reason, sizeof(t->reason),
				         "gave up after %d expired leases", s->temp_attempts);
			continue;
		}
		/* READY clears `hedged`: the new lease may be hedged again */
		plan_seg_step(p, s, SEG_EV_EXPIRE);
		p->retries++;
	}
	return n;
}

int
plan_finished(const struct plan *p)
{
	for (int i = 0; i < p->ns; i++)
		if (p->s[i].st != SEG_DONE && p->s[i].st != SEG_FAILED)
			return 0;
	return 1;
}

int64_t
plan_next_wake(const struct plan *p)
{
	int64_t t = INT64_MAX;
	for (int i = 0; i < p->ns; i++)
		if ((p->s[i].st == SEG_WAIT || p->s[i].st == SEG_LEASED) && p->s[i].until_ms < t)
			t = p->s[i].until_ms;
	return t;
}
