/*
 * pgcopy.h: candles in PostgreSQL's binary COPY format (pgcopy.c), the
 * writer's fast path into candlepipe.candles (store_pg.c). The values go
 * in the server's own binary forms, so the server parses no text: numeric
 * from Upbit's exact decimal text (same value and scale as numeric_in
 * would give), timestamp and date from epoch seconds.
 *
 * Use:
 *   pgcopy_header(&b);
 *   pgcopy_candle(&b, "KRW-BTC", "1m", &candle);   // per candle, or -1
 *   pgcopy_trailer(&b);
 *   // b.data, b.len: the COPY ... FROM STDIN (FORMAT binary) stream
 * The columns are PGCOPY_COLUMNS, in that order.
 */
#ifndef CP_WRITER_PGCOPY_H
#define CP_WRITER_PGCOPY_H

#include <stdint.h>

#include "buf.h"
#include "candle.h"

#define PGCOPY_COLUMNS                                                                   \
	"market, timeframe, candle_date_time_utc, candle_date_time_kst, opening_price,"  \
	" high_price, low_price, trade_price, timestamp, candle_acc_trade_price,"        \
	" candle_acc_trade_volume, unit, prev_closing_price, change_price, change_rate," \
	" converted_trade_price, first_day_of_period"

/* 1 if text is a plain decimal numeric_in reads ([-]digits[.digits], at
 * least one digit, at most CANDLE_NUM_MAX - 1 characters): the only form
 * pgcopy_numeric encodes. */
int pgcopy_decimal_ok(const char *text);
/* 1 if every decimal of c is "" or pgcopy_decimal_ok and its first_day is
 * "" or a date: pgcopy_candle can write it. */
int pgcopy_candle_ok(const struct candle *c);
/* Appends the binary numeric of text (pgcopy_decimal_ok) to b, without the
 * length word: ndigits, weight, sign, dscale, base-10000 digits. 0 or -1. */
int pgcopy_numeric(struct buf *b, const char *text);
void pgcopy_header(struct buf *b);
/* Appends one row of c (pgcopy_candle_ok) of (market, tf): 0, or -1 when
 * c cannot be written (nothing appended). */
int pgcopy_candle(struct buf *b, const char *market, const char *tf, const struct candle *c);
void pgcopy_trailer(struct buf *b);

#endif
