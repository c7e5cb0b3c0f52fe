/*
 * candle.h: one Upbit candle as it travels from the fetcher to the writer.
 *
 * Decimal fields keep the exact text Upbit printed (fixed scale, e.g.
 * "162483000.00000000"), so nothing is lost to binary floating point; an
 * empty string means "absent" (NULL in the database).
 */
#ifndef CP_CANDLE_H
#define CP_CANDLE_H

#include <stdint.h>

#define CANDLE_NUM_MAX 40 /* longest decimal text kept, NUL included */
#define CANDLE_MAX_PER_RESPONSE 200

enum candle_num {
	CN_OPEN,
	CN_HIGH,
	CN_LOW,
	CN_CLOSE,
	CN_ACC_PRICE,
	CN_ACC_VOLUME,
	CN_PREV_CLOSE,
	CN_CHANGE_PRICE,
	CN_CHANGE_RATE,
	CN_CONVERTED,
	CN_COUNT
};

struct candle {
	int64_t start;        /* candle_date_time_utc as epoch seconds */
	int64_t timestamp_ms; /* ms of the last trade inside the candle */
	int32_t unit;         /* minutes endpoint only; 0 = absent */
	char first_day[11];   /* "YYYY-MM-DD" for weeks/months/years; "" = absent */
	char num[CN_COUNT][CANDLE_NUM_MAX];
};

#endif
