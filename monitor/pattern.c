/*
 * pattern.c: classifies a collection from its chunk outcomes.
 *
 *   mixed       targets fall on both sides of the sparse line (some markets
 *               dense, some sparse): their requests behave differently
 *   sparse      the median target spans >= 2 slots per candle received: a
 *               request of 200 candles covers many slots
 *   sequential  one dense series (market, timeframe) walked through time
 *               in equal steps of 200 slots (the roadmap's constant gap;
 *               the planner splits it into segments side by side)
 *   dense       several dense series in parallel
 * ordered_frac is informational: the planner splits so eagerly that commit
 * order says little (measured: chunks rarely continue one another).
 *
 * Efficiency = candles per request / 200 (the API maximum) x utilisation of
 * the rate budget. The suggestion names the one change most likely to help.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pattern.h"

const char *const pattern_names[PATTERN_END] = {
	[PATTERN_INSUFFICIENT] = "insufficient_data",
	[PATTERN_SEQUENTIAL] = "sequential",
	[PATTERN_SPARSE] = "sparse",
	[PATTERN_DENSE] = "dense",
	[PATTERN_MIXED] = "mixed",
};

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

void
pattern_classify(const struct pattern_stats *s, struct pattern_result *out)
{
	double v[PATTERN_TARGETS_MAX];
	int n = s->ntargets, nsparse = 0;
	double cpr = s->candles_per_request > 0 ? s->candles_per_request : 0;

	memset(out, 0, sizeof(*out));
	if (n < 0)
		n = 0;
	if (n > PATTERN_TARGETS_MAX)
		n = PATTERN_TARGETS_MAX;
	for (int i = 0; i < n; i++) {
		v[i] = s->spc[i] >= 1 ? s->spc[i] : 1;
		nsparse += v[i] >= PATTERN_SPARSE_SPC;
	}
	if (n > 0) {
		qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
		out->spc = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	}
	out->slots_per_request = out->spc * cpr;
	if (s->allowed_rate > 0) {
		out->utilisation = s->sent_rate / s->allowed_rate;
		if (out->utilisation > 1)
			out->utilisation = 1;
		if (out->utilisation < 0)
			out->utilisation = 0;
	}
	out->efficiency = (cpr > 200 ? 1 : cpr / 200) * out->utilisation;

	if (s->chunks < PATTERN_MIN_CHUNKS || n == 0)
		out->kind = PATTERN_INSUFFICIENT;
	else if (nsparse > 0 && nsparse < n)
		out->kind = PATTERN_MIXED;
	else if (nsparse == n)
		out->kind = PATTERN_SPARSE;
	else if (n == 1)
		out->kind = PATTERN_SEQUENTIAL;
	else
		out->kind = PATTERN_DENSE;

	if (s->n418 > 0)
		snprintf(out->suggestion, sizeof(out->suggestion),
		         "418 seen: the source is blocked; lower --rate");
	else if (s->n429 > 0)
		snprintf(out->suggestion, sizeof(out->suggestion), "429s seen (%lld): lower --rate",
		         (long long)s->n429);
	else if (s->finished || out->kind == PATTERN_INSUFFICIENT)
		/* NOLINTNEXTLINE(bugprone-branch-clone): the order of the tests is the priority */
		snprintf(out->suggestion, sizeof(out->suggestion), "none");
	else if (out->kind == PATTERN_SPARSE)
		snprintf(out->suggestion, sizeof(out->suggestion),
		         "the market is sparse: each request spans %.0f slots, "
		         "nothing to gain from more fetchers",
		         out->slots_per_request);
	else if (s->sent_rate <= 0)
		snprintf(out->suggestion, sizeof(out->suggestion),
		         "no requests in the last 10 s: are the fetchers running?");
	else if (s->allowed_rate > 0 && out->utilisation >= PATTERN_FULL_UTIL)
		snprintf(out->suggestion, sizeof(out->suggestion),
		         "add a fetcher on another IP (--source-ip): the budget is full "
		         "(%.1f of %.1f req/s)",
		         s->sent_rate, s->allowed_rate);
	else if (s->allowed_rate > 0 && out->utilisation < PATTERN_IDLE_UTIL)
		snprintf(out->suggestion, sizeof(out->suggestion),
		         "the budget is %.0f%% used: latency-bound, raise --inflight "
		         "or --fetchers",
		         100 * out->utilisation);
	else if (out->kind == PATTERN_MIXED)
		snprintf(out->suggestion, sizeof(out->suggestion),
		         "markets of different density: sparse ones need few requests, "
		         "the dense ones set the time");
	else
		snprintf(out->suggestion, sizeof(out->suggestion), "none");
}
