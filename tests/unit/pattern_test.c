/*
 * pattern_test.c: the collection-pattern classifier (monitor/pattern.c) on
 * labelled scenarios: each names the stats a run of that shape produces and
 * the pattern and suggestion expected.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pattern.h"

struct scenario {
	const char *name;
	struct pattern_stats s;
	enum pattern_kind want;
	const char *suggestion; /* substring */
};

static const struct scenario scenarios[] = {
	{ "too early", { .chunks = 2, .ntargets = 1, .spc = { 1 } }, PATTERN_INSUFFICIENT, "none" },
	{ "one dense market, one chain, budget full",
	  { .chunks = 50,
	    .ntargets = 1,
	    .spc = { 1.0 },
	    .ordered_frac = 0.95,
	    .candles_per_request = 200,
	    .sent_rate = 9.8,
	    .allowed_rate = 10 },
	  PATTERN_SEQUENTIAL,
	  "another IP" },
	{ "three dense markets in parallel, budget full",
	  { .chunks = 200,
	    .ntargets = 3,
	    .spc = { 1.0, 1.01, 1.0 },
	    .ordered_frac = 0.3,
	    .candles_per_request = 198,
	    .sent_rate = 10,
	    .allowed_rate = 10 },
	  PATTERN_DENSE,
	  "budget is full" },
	{ "three dense series, each in order",
	  { .chunks = 90,
	    .ntargets = 3,
	    .spc = { 1, 1, 1 },
	    .ordered_frac = 0.97,
	    .candles_per_request = 200,
	    .sent_rate = 10,
	    .allowed_rate = 10 },
	  PATTERN_DENSE,
	  "budget is full" },
	{ "dense, latency-bound",
	  { .chunks = 40,
	    .ntargets = 2,
	    .spc = { 1.0, 1.0 },
	    .ordered_frac = 0.2,
	    .candles_per_request = 200,
	    .sent_rate = 2,
	    .allowed_rate = 10 },
	  PATTERN_DENSE,
	  "--inflight" },
	{ "very sparse markets",
	  { .chunks = 30,
	    .ntargets = 2,
	    .spc = { 12, 30 },
	    .ordered_frac = 0.4,
	    .candles_per_request = 190,
	    .sent_rate = 9,
	    .allowed_rate = 10 },
	  PATTERN_SPARSE,
	  "nothing to gain" },
	{ "dense and sparse together",
	  { .chunks = 60,
	    .ntargets = 2,
	    .spc = { 1.0, 8 },
	    .ordered_frac = 0.4,
	    .candles_per_request = 195,
	    .sent_rate = 9.9,
	    .allowed_rate = 10 },
	  PATTERN_MIXED,
	  "budget is full" },
	{ "429s",
	  { .chunks = 60,
	    .ntargets = 1,
	    .spc = { 1.0 },
	    .ordered_frac = 0.3,
	    .candles_per_request = 150,
	    .sent_rate = 12,
	    .allowed_rate = 10,
	    .n429 = 7 },
	  PATTERN_SEQUENTIAL,
	  "lower --rate" },
	{ "418",
	  { .chunks = 60, .ntargets = 1, .spc = { 3 }, .n418 = 1, .n429 = 3 },
	  PATTERN_SPARSE,
	  "418" },
	{ "finished",
	  { .chunks = 60,
	    .ntargets = 2,
	    .spc = { 1, 1 },
	    .finished = 1,
	    .sent_rate = 10,
	    .allowed_rate = 10,
	    .candles_per_request = 200 },
	  PATTERN_DENSE,
	  "none" },
};

static void
test_scenarios(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		struct pattern_result r;
		pattern_classify(&scenarios[i].s, &r);
		if (r.kind != scenarios[i].want ||
		    strstr(r.suggestion, scenarios[i].suggestion) == NULL)
			fail_msg("%s: got %s \"%s\", want %s \"%s\"", scenarios[i].name,
			         pattern_names[r.kind], r.suggestion,
			         pattern_names[scenarios[i].want], scenarios[i].suggestion);
	}
}

static void
test_efficiency(void **state)
{
	struct pattern_stats s = { .chunks = 10,
		                   .ntargets = 1,
		                   .spc = { 1 },
		                   .candles_per_request = 100,
		                   .sent_rate = 5,
		                   .allowed_rate = 10 };
	struct pattern_result r;

	(void)state;
	pattern_classify(&s, &r);
	assert_true(r.efficiency > 0.249 && r.efficiency < 0.251);
	s.sent_rate = 50; /* utilisation is capped at 1 */
	s.candles_per_request = 400;
	pattern_classify(&s, &r);
	assert_true(r.efficiency <= 1.0);
}

static void
test_hostile(void **state)
{
	struct pattern_stats s;
	struct pattern_result r;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.ntargets = 1000;
	s.chunks = 5;
	pattern_classify(&s, &r);
	s.ntargets = -3;
	pattern_classify(&s, &r);
	assert_int_equal(r.kind, PATTERN_INSUFFICIENT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scenarios),
		cmocka_unit_test(test_efficiency),
		cmocka_unit_test(test_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
