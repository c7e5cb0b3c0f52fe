/*
 * follow.c: follow mode (follow.h): the switch from backfill to following,
 * the extension of targets as candles close (claimed on PostgreSQL like a
 * backfill, claims.c, so that two followers of one market fetch each new
 * candle once), and the ring of commit lags behind the closing time that
 * the final report summarises.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claims.h"
#include "follow.h"
#include "log.h"
#include "tf.h"
#include "timeutil.h"

#define LAG_RING 1024

static int following; /* the backfill is done */
static int64_t lag_ms[LAG_RING];
static unsigned nlag;
static int64_t lag_worst_ms;

int
follow_active(void)
{
	return following;
}

void
follow_note(const struct chunk_info *ci)
{
	int64_t lag = time_now_ms() - ci->to * 1000;

	if (!following || ci->received == 0 || lag < 0)
		return;
	lag_ms[nlag++ % LAG_RING] = lag;
	if (lag > lag_worst_ms)
		lag_worst_ms = lag;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int64_t
lag_median(void)
{
	int64_t v[LAG_RING];
	unsigned n = nlag < LAG_RING ? nlag : LAG_RING;

	/* cppcheck-suppress knownConditionTrueFalse ; nlag grows in follow_note() */
	if (n == 0)
		return 0;
	memcpy(v, lag_ms, n * sizeof(v[0]));
	qsort(v, n, sizeof(v[0]), cmp_i64);
	return v[n / 2];
}

/* The newest slot boundary b of tf whose candle before it closed at least
 * delay_ms ago: b * 1000 + delay_ms <= now_ms. The candle [prev, b) is the
 * newest closed and settled one, whatever the timeframe's length against
 * the delay; the candle starting at b may still be forming. */
static int64_t
settled_to(enum tf tf, int64_t now_ms, int64_t delay_ms)
{
	int64_t t = now_ms - delay_ms;

	/* floor division: a clock before 1970 plus the delay stays on the grid */
	return tf_floor(tf, t >= 0 ? t / 1000 : -((-t + 999) / 1000));
}

void
follow_tick_at(struct plan *p, int64_t delay_ms, int64_t now_ms)
{
	if (!following && !p->follow_marked && plan_finished(p)) {
		following = 1;
		log_info("backfill done; following %d target%s", p->nt, p->nt == 1 ? "" : "s");
	}
	for (int i = 0; i < p->nt; i++) {
		struct target *t = &p->t[i];
		int64_t to;
		if (p->follow_marked && !t->follow)
			continue;
		to = settled_to(t->tf, now_ms, delay_ms);
		if (to > t->to && !t->failed)
			claims_extend(p, i, to);
	}
}

void
follow_tick(struct plan *p, int64_t delay_ms)
{
	follow_tick_at(p, delay_ms, time_now_ms());
}

int64_t
follow_next_ms(const struct plan *p, int64_t delay_ms, int64_t now_ms)
{
	int64_t next = INT64_MAX;

	for (int i = 0; i < p->nt; i++) {
		const struct target *t = &p->t[i];
		int64_t due =
		    tf_add(t->tf, settled_to(t->tf, now_ms, delay_ms), 1) * 1000 + delay_ms;
		if (!t->failed && (t->follow || !p->follow_marked) && due < next)
			next = due;
	}
	return next;
}

void
follow_report(void)
{
	printf("follow: %u %s after %s close: lag median %.1f s, worst %.1f s\n", nlag,
	       nlag == 1 ? "candle stored" : "candles stored", nlag == 1 ? "its" : "their",
	       (double)lag_median() / 1000.0, (double)lag_worst_ms / 1000.0);
	fflush(stdout);
}
