/*
 * budget.h: the request budget of one source address, shared by every
 * fetcher that sends from it. The planner hands out send times ("tokens")
 * with the leases, so the whole fleet stays under Upbit's per-IP limit.
 */
#ifndef CP_BUDGET_H
#define CP_BUDGET_H

#include <stdint.h>

#include "proto.h"

#define BUDGET_MARGIN_MS TOKEN_LATE_MAX_MS /* slack per 1 s window (proto.h) */
#define BUDGET_SLOW_MS 10000               /* how long a 429 slows the source down */
#define BUDGET_BLOCK_FIRST_MS 30000
#define BUDGET_UPBIT_RATE 10   /* candle requests/s per IP that Upbit documents */
#define BUDGET_SLOWEST_MS 1000 /* 429s never slow a source below 1/s */
#define BUDGET_SOURCES_MAX 64  /* source addresses one planner budgets */

struct budget {
	char source[SOURCE_MAX];
	double rate;              /* requests per second, 0 = unlimited */
	double interval_ms;       /* current spacing between sends */
	double next_ms;           /* monotonic: earliest next send (fractional) */
	int64_t slow_until_ms;    /* 429 slow-down in force until */
	int64_t blocked_until_ms; /* 418: nothing leaves before this */
	int blocks;               /* 418s seen (exponential back-off) */
	uint64_t sent, n429, n418;
	int last_remaining; /* last Remaining-Req sec, -1 unknown */
};

void budget_init(struct budget *b, const char *source, double rate);
/* The index of source's budget in v[0..*n), added (at rate) when new.
 * -1 when it is new and the table already holds BUDGET_SOURCES_MAX: the
 * caller refuses its fetcher rather than share another source's budget. */
int budget_lookup(struct budget *v, int *n, const char *source, double rate);
/* The index of source's budget in v[0..n), or -1. */
int budget_find(const struct budget *v, int n, const char *source);
/* Earliest monotonic time a send may be scheduled. */
int64_t budget_next(const struct budget *b, int64_t now_ms);
/* Takes the token at time t (>= budget_next). */
void budget_take(struct budget *b, int64_t t_ms);
/* A 429 was seen: slow down for BUDGET_SLOW_MS. */
void budget_on_429(struct budget *b, int64_t now_ms);
/* A 418 was seen: block for retry_after_ms, or back off exponentially from
 * 30 s when the block time is unknown (0). Returns the block length in ms. */
int64_t budget_on_418(struct budget *b, int64_t now_ms, uint32_t retry_after_ms);
/* A Remaining-Req sec value was reported. */
void budget_on_remaining(struct budget *b, int remaining);
/* Current requests per second allowed (for the monitor). */
double budget_rate_now(const struct budget *b, int64_t now_ms);

#endif
