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

/* The median of the targets' slots per candle (each at least 1) into
 * out->spc; returns how many targets are sparse. */
static int
median_spc(const double *spc, int n, struct pattern_result *out)
{
	double v[PATTERN_TARGETS_MAX];
	int nsparse = 0;

	for (int i = 0; i < n; i++) {
		v[i] = spc[i] >= 1 ? spc[i] : 1;
		nsparse += v[i] >= PATTERN_SPARSE_SPC;
	}
	if (n > 0) {
		qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
		out->spc = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	}
	return nsparse;
}

/* sent / allowed, clamped to 0..1; 0 when the budget is unknown. */
static double
utilisation(const struct pattern_stats *s)
{
	double u;

	if (s->allowed_rate <= 0)
		return 0;
	u = s->sent_rate / s->allowed_rate;
	return u > 1 ? 1 : u < 0 ? 0 : u;
}

static enum pattern_kind
classify(int chunks, int n, int nsparse)
{
	if (chunks < PATTERN_MIN_CHUNKS || n == 0)
		return PATTERN_INSUFFICIENT;
	if (nsparse > 0 && nsparse < n)
		return PATTERN_MIXED;
	if (nsparse == n)
		return PATTERN_SPARSE;
	return n == 1 ? PATTERN_SEQUENTIAL : PATTERN_DENSE;
}

/* The one change most likely to help, in order of priority. */
static void
suggest(const struct pattern_stats *s, struct pattern_result *out)
{
	char *g = out->suggestion;
	size_t cap = sizeof(out->suggestion);

	if (s->n418 > 0)
		snprintf(g, cap, "418 seen: the source is blocked; lower --rate");
	else if (s->n429 > 0)
		snprintf(g, cap, "429s seen (%lld): lower --rate", (long long)s->n429);
	else if (s->finished || out->kind == PATTERN_INSUFFICIENT)
		/* NOLINTNEXTLINE(bugprone-branch-clone): the order of the tests is the priority */
		snprintf(g, cap, "none");
	else if (out->kind == PATTERN_SPARSE)
		snprintf(g, cap,
		         "the market is sparse: each request spans %.0f slots, "
		         "nothing to gain from more fetchers",
		         out->slots_per_request);
	else if (s->sent_rate <= 0)
		snprintf(g, cap, "no requests in the last 10 s: are the fetchers running?");
	else if (s->allowed_rate > 0 && out->utilisation >= PATTERN_FULL_UTIL)
		snprintf(g, cap,
		         "add a fetcher on another IP (--source-ip): the budget is full "
		         "(%.1f of %.1f req/s)",
		         s->sent_rate, s->allowed_rate);
	else if (s->allowed_rate > 0 && out->utilisation < PATTERN_IDLE_UTIL)
		snprintf(g, cap,
		         "the budget is %.0f%% used: latency-bound, raise --inflight "
		         "or --fetchers",
		         100 * out->utilisation);
	else if (out->kind == PATTERN_MIXED)
		snprintf(g, cap,
		         "markets of different density: sparse ones need few requests, "
		         "the dense ones set the time");
	else
		snprintf(g, cap, "none");
}

void
pattern_classify(const struct pattern_stats *s, struct pattern_result *out)
{
	int n = s->ntargets < 0                     ? 0
	        : s->ntargets > PATTERN_TARGETS_MAX ? PATTERN_TARGETS_MAX
	                                            : s->ntargets;
	double cpr = s->candles_per_request > 0 ? s->candles_per_request : 0;
	int nsparse;

	memset(out, 0, sizeof(*out));
	nsparse = median_spc(s->spc, n, out);
	out->slots_per_request = out->spc * cpr;
	out->utilisation = utilisation(s);
	out->efficiency = (cpr > 200 ? 1 : cpr / 200) * out->utilisation;
	out->kind = classify(s->chunks, n, nsparse);
	suggest(s, out);
}
