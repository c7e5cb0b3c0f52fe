/*
 * check.h: the writer's check of a RESULT's coverage proof against the
 * candles it carries, before anything is written. The fetcher derives the
 * proof from the candles (fetcher/main.c, handle_ok):
 *   received      = the number of candles
 *   newest/oldest = the first/last candle's start (0 when there is none)
 *   history_end   = received < count
 *   effective_end = history_end ? 0 : oldest
 * and the writer records [effective_end, to), or [0, to) when history ends
 * (store.c). A result whose fields do not follow from its candles would
 * record a range nobody proved, so it is refused: check_result names the
 * first broken rule, check_refusal turns it into the FAILED message that
 * hands the chunk back to the planner.
 */
#ifndef CP_WRITER_CHECK_H
#define CP_WRITER_CHECK_H

#include <stddef.h>

#include "proto.h"

/* The rules, in the order they are checked. */
enum check_rule {
	CHECK_OK,
	CHECK_TIMEFRAME,     /* tf is a known timeframe */
	CHECK_RECEIVED,      /* ncandles == received <= count */
	CHECK_RANGE,         /* every candle starts in the leased range [0, to) */
	CHECK_GRID,          /* every candle starts on the timeframe's grid */
	CHECK_ORDER,         /* starts strictly descending (newest first) */
	CHECK_ENDS,          /* newest/oldest are the first/last start, 0 if none */
	CHECK_HISTORY_END,   /* history_end == (received < count) */
	CHECK_EFFECTIVE_END, /* effective_end == (history_end ? 0 : oldest) */
	CHECK_RULE_END
};

/* A short name of each rule, for logs and tests ("effective_end"). */
extern const char *const check_rule_names[CHECK_RULE_END];

/* Checks r (r->candles holds r->ncandles candles): CHECK_OK, or the first
 * rule it breaks with one line saying how in why (whylen bytes, always
 * terminated). Needs no clock and no database. */
enum check_rule check_result(const struct msg_result *r, char *why, size_t whylen);

/* Fills *f as the FAILED of a refused result: a temporary body failure
 * (FAIL_TEMP_BODY: the planner retries with back-off, then gives up), source
 * "writer", and a reason naming the rule and why. Logs one warning line
 * naming market, timeframe, the range the result claimed and the rule. */
void check_refusal(const struct msg_result *r, enum check_rule rule, const char *why,
                   struct msg_failed *f);

#endif
