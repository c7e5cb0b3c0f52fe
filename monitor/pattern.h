/*
 * pattern.h: the collection-pattern classifier of the roadmap (sequential,
 * sparse, dense, mixed), an efficiency score and one concrete suggestion.
 * A pure function over a small stats struct, so it is unit-testable.
 */
#ifndef CP_MON_PATTERN_H
#define CP_MON_PATTERN_H

#include <stdint.h>

#define PATTERN_TARGETS_MAX 64
#define PATTERN_MIN_CHUNKS 3
#define PATTERN_SPARSE_SPC 2.0      /* slots per candle at or above: sparse */
#define PATTERN_SEQUENTIAL_FRAC 0.8 /* chunks continuing the previous one */
#define PATTERN_FULL_UTIL 0.85      /* sent/allowed at or above: budget full */
#define PATTERN_IDLE_UTIL 0.5       /* below: the budget is not used */

enum pattern_kind {
	PATTERN_INSUFFICIENT,
	PATTERN_SEQUENTIAL,
	PATTERN_SPARSE,
	PATTERN_DENSE,
	PATTERN_MIXED,
	PATTERN_END
};

struct pattern_stats {
	int chunks;                      /* chunk outcomes seen (with candles) */
	int ntargets;                    /* targets with a density estimate */
	double spc[PATTERN_TARGETS_MAX]; /* slots spanned per candle received (>= 1) */
	double ordered_frac;             /* chunks whose range continued an earlier
	                             committed chunk of the same target, 0..1 */
	double candles_per_request;
	double sent_rate;    /* requests/s over the recent window */
	double allowed_rate; /* requests/s the budget allows (sum of sources) */
	int64_t n429, n418;
	int finished;
};

struct pattern_result {
	enum pattern_kind kind;
	double spc;               /* median slots per candle */
	double slots_per_request; /* spc * candles per request */
	double utilisation;       /* sent / allowed, 0..1 (0 if unknown) */
	double efficiency;        /* candles per request / 200 * utilisation */
	char suggestion[192];
};

extern const char *const pattern_names[PATTERN_END];

/* Classifies s into *out (always filled). */
void pattern_classify(const struct pattern_stats *s, struct pattern_result *out);

#endif
