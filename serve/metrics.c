/*
 * metrics.c: cp-serve's own request counts and latency histogram, by route
 * and outcome (hit: answered from the database; miss: the window is not
 * proven; error: bad request, unknown route, failure), in Prometheus text
 * format at /metrics. Counters are relaxed atomics: any thread of the pool
 * records, /metrics reads a near-consistent snapshot.
 */
#include <stdint.h>

#include "serve.h"

#define NBUCKETS 12

static const double bucket_le[NBUCKETS] = { 0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005,
	                                    0.01,   0.025,   0.05,   0.1,   0.5,   1.0 };
static const char *const route_name[SV_R_COUNT] = {
	[SV_R_CANDLES] = "candles", [SV_R_MARKET_ALL] = "market_all",
	[SV_R_RANGE] = "range",     [SV_R_COVERAGE] = "coverage",
	[SV_R_HEALTHZ] = "healthz", [SV_R_READYZ] = "readyz",
	[SV_R_METRICS] = "metrics", [SV_R_WEB] = "web",
	[SV_R_JOBS] = "jobs",       [SV_R_EVENTS] = "events",
	[SV_R_GAPS] = "gaps",       [SV_R_OTHER] = "other",
};
static const char *const outcome_name[SV_OUTCOME_COUNT] = {
	[SV_HIT] = "hit",
	[SV_MISS] = "miss",
	[SV_ERROR] = "error",
};

struct cell {
	uint64_t count, sum_usec;
	uint64_t bucket[NBUCKETS]; /* not cumulative: the first bucket that holds it */
};

static struct cell cells[SV_R_COUNT][SV_OUTCOME_COUNT];

void
metrics_record(enum sv_route r, enum sv_outcome o, int64_t usec)
{
	struct cell *c = &cells[r][o];
	double s = (double)usec / 1e6;
	int i = 0;

	if (usec < 0)
		usec = 0;
	while (i < NBUCKETS && s > bucket_le[i])
		i++;
	__atomic_fetch_add(&c->count, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&c->sum_usec, (uint64_t)usec, __ATOMIC_RELAXED);
	if (i < NBUCKETS)
		__atomic_fetch_add(&c->bucket[i], 1, __ATOMIC_RELAXED);
}

static uint64_t
load(const uint64_t *v)
{
	return __atomic_load_n(v, __ATOMIC_RELAXED);
}

static void
render_hist(struct buf *b, int r, int o, const struct cell *c)
{
	const char *lab = "route=\"%s\",outcome=\"%s\"";
	uint64_t cum = 0;

	for (int i = 0; i < NBUCKETS; i++) {
		cum += load(&c->bucket[i]);
		buf_puts(b, "cp_serve_request_duration_seconds_bucket{");
		buf_printf(b, lab, route_name[r], outcome_name[o]);
		buf_printf(b, ",le=\"%g\"} %llu\n", bucket_le[i], (unsigned long long)cum);
	}
	buf_puts(b, "cp_serve_request_duration_seconds_bucket{");
	buf_printf(b, lab, route_name[r], outcome_name[o]);
	buf_printf(b, ",le=\"+Inf\"} %llu\n", (unsigned long long)load(&c->count));
	buf_puts(b, "cp_serve_request_duration_seconds_sum{");
	buf_printf(b, lab, route_name[r], outcome_name[o]);
	buf_printf(b, "} %.6f\n", (double)load(&c->sum_usec) / 1e6);
	buf_puts(b, "cp_serve_request_duration_seconds_count{");
	buf_printf(b, lab, route_name[r], outcome_name[o]);
	buf_printf(b, "} %llu\n", (unsigned long long)load(&c->count));
}

void
metrics_render(struct buf *b)
{
	buf_puts(b, "# HELP cp_serve_requests_total HTTP requests answered, by route and "
	            "outcome (hit: from the database, miss: not collected yet, error)\n"
	            "# TYPE cp_serve_requests_total counter\n");
	for (int r = 0; r < SV_R_COUNT; r++)
		for (int o = 0; o < SV_OUTCOME_COUNT; o++)
			buf_printf(b, "cp_serve_requests_total{route=\"%s\",outcome=\"%s\"} %llu\n",
			           route_name[r], outcome_name[o],
			           (unsigned long long)load(&cells[r][o].count));
	buf_puts(b, "# HELP cp_serve_request_duration_seconds time from the request to its "
	            "answer being queued\n"
	            "# TYPE cp_serve_request_duration_seconds histogram\n");
	for (int r = 0; r < SV_R_COUNT; r++)
		for (int o = 0; o < SV_OUTCOME_COUNT; o++)
			render_hist(b, r, o, &cells[r][o]);
	readthru_metrics(b);
}
