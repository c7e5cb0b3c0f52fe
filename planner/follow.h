/*
 * follow.h: follow mode. After the backfill the planner keeps every target
 * up to date, extending it by each candle that has closed (and settled),
 * and measures how long after its close each new candle was committed.
 */
#ifndef CP_FOLLOW_H
#define CP_FOLLOW_H

#include <stdint.h>

#include "plan.h"

/* Once the backfill is done, extends every target up to its newest candle
 * that closed at least delay_ms ago (close = open + the timeframe's length),
 * by the wall clock (time_now_ms). */
void follow_tick(struct plan *p, int64_t delay_ms);
/* The same at wall clock now_ms. */
void follow_tick_at(struct plan *p, int64_t delay_ms, int64_t now_ms);
/* The wall clock ms at which the next candle of any live target is due
 * (its close plus delay_ms), or INT64_MAX. */
int64_t follow_next_ms(const struct plan *p, int64_t delay_ms, int64_t now_ms);
/* 1 once the backfill is done and the targets are being followed. */
int follow_active(void);
/* A chunk was committed: notes the lag of its newest candle when following. */
void follow_note(const struct chunk_info *ci);
/* The "follow:" line of the final report (stdout). */
void follow_report(void);

#endif
