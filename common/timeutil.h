/*
 * timeutil.h: parsing and formatting of the ISO 8601 times users and Upbit use.
 */
#ifndef CP_TIMEUTIL_H
#define CP_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

#define TIME_TEXT_LEN 20 /* "YYYY-MM-DDTHH:MM:SS" + NUL */

/* Parses "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS[.fff]]" with 'T' or ' ', then
 * optional "Z" or "+HH:MM"/"-HH:MM". Naive times are UTC. Fractions are
 * truncated to the second. Returns 0 and sets *out (epoch s) or -1. */
int time_parse(const char *s, int64_t *out);
/* The full form Upbit takes for `to` (and its simulator, sim/simtime.c):
 * "YYYY-MM-DD", 'T' or ' ', "HH:MM:SS", an optional fraction of 1 to 9
 * digits (kept to the millisecond, truncated) and an optional "Z" or
 * "+HH:MM"/"-HH:MM" (with the colon). Naive times are UTC. Returns 0 and
 * sets *out_ms (epoch ms) or -1. */
int time_parse_full_ms(const char *s, int64_t *out_ms);
/* Formats epoch seconds as "YYYY-MM-DDTHH:MM:SS" (naive, UTC). */
void time_format(int64_t t, char out[TIME_TEXT_LEN]);
/* Wall clock in ms and s. */
int64_t time_now_ms(void);
int64_t time_now(void);
/* The monotonic clock (CLOCK_MONOTONIC) in ns, us and ms: one clock, so
 * values of different units compare. */
int64_t time_mono_ns(void);
int64_t time_mono_us(void);
int64_t time_mono_ms(void);

#endif
