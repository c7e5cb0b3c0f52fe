/*
 * tf.h: Upbit timeframes and UTC calendar arithmetic.
 *
 * Every time in candlepipe is an int64 count of seconds since the Unix epoch,
 * UTC. A candle is keyed by the start of its interval ("slot"). Minute and
 * hour slots align to the hour grid, days to 00:00 UTC, weeks to Monday
 * 00:00 UTC, months to the 1st and years to January 1st.
 */
#ifndef CP_TF_H
#define CP_TF_H

#include <stdint.h>

enum tf {
	TF_1S,
	TF_1M,
	TF_3M,
	TF_5M,
	TF_10M,
	TF_15M,
	TF_30M,
	TF_1H,
	TF_4H,
	TF_1D,
	TF_1W,
	TF_1MO,
	TF_1Y,
	TF_COUNT
};

/* Parses "1s 1m 3m 5m 10m 15m 30m 1h 4h 1d 1w 1M 1y" (and "60m", "240m").
 * Returns 0 and sets *out, or -1 for anything else. */
int tf_parse(const char *name, enum tf *out);
/* Canonical name as stored in the database ("1M" for months). */
const char *tf_name(enum tf tf);
/* Upbit route below /v1/candles, e.g. "minutes/5", "days". */
const char *tf_route(enum tf tf);
/* Fixed length in seconds, or 0 for months and years (calendar lengths). */
int64_t tf_fixed_seconds(enum tf tf);

/* Start of the slot containing t. */
int64_t tf_floor(enum tf tf, int64_t t);
/* 1 if t is a slot start of tf (on its grid), else 0 (also for an unknown
 * tf). The one grid predicate: the writer's result check and verify use it. */
int tf_aligned(enum tf tf, int64_t t);
/* Start of the first slot starting at or after t. */
int64_t tf_ceil(enum tf tf, int64_t t);
/* Moves an aligned slot start by n slots (negative = older). */
int64_t tf_add(enum tf tf, int64_t slot, int64_t n);
/* Number of slots in [from, to) for aligned from <= to; 0 if from >= to. */
int64_t tf_count(enum tf tf, int64_t from, int64_t to);

/* Civil date helpers (proleptic Gregorian, UTC). */
int64_t tf_days_from_civil(int64_t y, unsigned m, unsigned d);
void tf_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

#endif
