/*
 * follow.c: follow mode (follow.h): the switch from backfill to following,
 * the extension of targets as candles close, and the ring of commit lags
 * behind the closing time that the final report summarises.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void
follow_tick(struct plan *p, int64_t delay_ms)
{
	int64_t now_ms = time_now_ms();

	if (!following && plan_finished(p)) {
		following = 1;
		log_info("backfill done; following %d target%s", p->nt, p->nt == 1 ? "" : "s");
	}
	for (int i = 0; i < p->nt; i++) {
		struct target *t = &p->t[i];
		int64_t open = tf_floor(t->tf, now_ms / 1000);
		if (open > t->to && now_ms >= open * 1000 + delay_ms && !t->failed)
			plan_extend(p, i, open);
	}
}

void
follow_report(void)
{
	printf("follow: %u candles stored after their close: lag median %.1f s, "
	       "worst %.1f s\n",
	       nlag, (double)lag_median() / 1000.0, (double)lag_worst_ms / 1000.0);
	fflush(stdout);
}
