/*
 * budget.c: spacing of requests per source address.
 *
 * Sends are spaced evenly at (1000 + BUDGET_MARGIN_MS) / rate ms: any window
 * of one second then holds at most `rate` requests, whether Upbit counts in
 * fixed windows anchored at the first request or in sliding ones, and a
 * fetcher that starts up to BUDGET_MARGIN_MS late cannot push two requests
 * into one window. Even spacing (no bursts) also keeps the number of
 * requests in flight, and so the number of segment seams, minimal.
 *
 * A 429 widens the spacing by 10% (the rate to 1/1.1, about 91%), each
 * further 429 within the slow-down by 1.5 times (the rate to two thirds),
 * for BUDGET_SLOW_MS (never below one request a second); a 418 doubles it
 * and stops the source until its block time is over.
 */
#include <string.h>

#include "budget.h"

static double
base_interval(double rate)
{
	return rate > 0 ? (1000.0 + BUDGET_MARGIN_MS) / rate : 0;
}

void
budget_init(struct budget *b, const char *source, double rate)
{
	memset(b, 0, sizeof(*b));
	strncpy(b->source, source, sizeof(b->source) - 1);
	b->rate = rate;
	b->interval_ms = base_interval(rate);
	b->last_remaining = -1;
}

int
budget_find(const struct budget *v, int n, const char *source)
{
	for (int i = 0; i < n; i++)
		if (strcmp(v[i].source, source) == 0)
			return i;
	return -1;
}

int
budget_lookup(struct budget *v, int *n, const char *source, double rate)
{
	int i = budget_find(v, *n, source);

	if (i >= 0 || *n >= BUDGET_SOURCES_MAX)
		return i;
	budget_init(&v[*n], source, rate);
	return (*n)++;
}

int64_t
budget_next(const struct budget *b, int64_t now_ms)
{
	int64_t next = (int64_t)(b->next_ms + 0.999);
	int64_t t = next > now_ms ? next : now_ms;
	if (b->blocked_until_ms > t)
		t = b->blocked_until_ms;
	return t;
}

void
budget_take(struct budget *b, int64_t t_ms)
{
	double iv = b->interval_ms;

	if (t_ms >= b->slow_until_ms && b->slow_until_ms != 0) {
		/* the slow-down is over: back to the configured spacing */
		b->slow_until_ms = 0;
		b->interval_ms = iv = base_interval(b->rate);
	}
	/* keep the fraction: rounding every step up would lose ~1% of rate */
	if (b->next_ms < (double)t_ms - 1.0)
		b->next_ms = (double)t_ms;
	b->next_ms += iv;
	b->sent++;
}

/* Spacing after a rejection: factor times wider, at most one request per
 * second, so even a --rate far above what the server allows converges. */
static void
widen(struct budget *b, int64_t now_ms, double factor)
{
	if (b->rate <= 0)
		return;
	b->interval_ms *= factor;
	if (b->interval_ms > BUDGET_SLOWEST_MS)
		b->interval_ms = BUDGET_SLOWEST_MS;
	b->slow_until_ms = now_ms + BUDGET_SLOW_MS;
	if (b->next_ms < (double)now_ms + b->interval_ms)
		b->next_ms = (double)now_ms + b->interval_ms;
}

void
budget_on_429(struct budget *b, int64_t now_ms)
{
	/* an isolated 429 (a request libcurl silently re-sent on a fresh
	 * connection after a reset, a jittery network) costs a little; 429s
	 * in a row mean the spacing is wrong and back off hard */
	int repeated = b->slow_until_ms > now_ms;

	b->n429++;
	if (b->rate <= 0) {
		/* "unlimited" met a server that limits: take Upbit's limit */
		b->rate = BUDGET_UPBIT_RATE;
		b->interval_ms = base_interval(b->rate);
	}
	widen(b, now_ms, repeated ? 1.5 : 1.1);
}

int64_t
budget_on_418(struct budget *b, int64_t now_ms, uint32_t retry_after_ms)
{
	int64_t len = retry_after_ms;

	b->n418++;
	if (len == 0) {
		len = BUDGET_BLOCK_FIRST_MS;
		for (int i = 0; i < b->blocks && len < 3600 * 1000; i++)
			len *= 2;
	}
	b->blocks++;
	widen(b, now_ms, 2.0);
	/* blocked: whatever --rate said, this source never again goes faster
	 * than Upbit's documented candle limit in this run */
	if (b->rate <= 0 || b->rate > BUDGET_UPBIT_RATE)
		b->rate = BUDGET_UPBIT_RATE;
	if (b->interval_ms < base_interval(b->rate))
		b->interval_ms = base_interval(b->rate);
	/* a little slack so the first request after the block is not early */
	if (b->blocked_until_ms < now_ms + len + 250)
		b->blocked_until_ms = now_ms + len + 250;
	/* the slow-down outlasts the block */
	b->slow_until_ms = b->blocked_until_ms + BUDGET_SLOW_MS;
	return len;
}

void
budget_on_remaining(struct budget *b, int remaining)
{
	/* With even spacing the last request of every window legitimately sees
	 * sec=0, so the value is shown to the monitor, not acted upon; 429s
	 * are the signal that the spacing is too tight. */
	b->last_remaining = remaining;
}

double
budget_rate_now(const struct budget *b, int64_t now_ms)
{
	if (b->blocked_until_ms > now_ms)
		return 0;
	return b->interval_ms > 0 ? 1000.0 / b->interval_ms : 0;
}
