/*
 * tf.c: Upbit timeframes (names, routes, fixed lengths) and the UTC calendar
 * arithmetic on slot starts: floor, ceil, add and count. Owns the timeframe
 * table and the civil-date conversions (Howard Hinnant's algorithms,
 * proleptic Gregorian). Everything is O(1): no loops over slots or months.
 */
#include <stddef.h>
#include <string.h>

#include "tf.h"

#define DAY_S 86400
#define WEEK_S (7 * DAY_S)
/* 1970-01-05 was the first Monday after the epoch (a Thursday). */
#define MONDAY_OFFSET_S (4 * DAY_S)

static const struct {
	const char *name;
	const char *route;
	int64_t seconds; /* 0 for calendar lengths */
} tf_table[TF_COUNT] = {
	[TF_1S] = { "1s", "seconds", 1 },         [TF_1M] = { "1m", "minutes/1", 60 },
	[TF_3M] = { "3m", "minutes/3", 180 },     [TF_5M] = { "5m", "minutes/5", 300 },
	[TF_10M] = { "10m", "minutes/10", 600 },  [TF_15M] = { "15m", "minutes/15", 900 },
	[TF_30M] = { "30m", "minutes/30", 1800 }, [TF_1H] = { "1h", "minutes/60", 3600 },
	[TF_4H] = { "4h", "minutes/240", 14400 }, [TF_1D] = { "1d", "days", DAY_S },
	[TF_1W] = { "1w", "weeks", WEEK_S },      [TF_1MO] = { "1M", "months", 0 },
	[TF_1Y] = { "1y", "years", 0 },
};

static int64_t
floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

static int
tf_valid(enum tf tf)
{
	return (unsigned)tf < TF_COUNT;
}

int
tf_parse(const char *name, enum tf *out)
{
	if (name == NULL)
		return -1;
	for (int i = 0; i < TF_COUNT; i++) {
		if (strcmp(name, tf_table[i].name) == 0) {
			*out = (enum tf)i;
			return 0;
		}
	}
	if (strcmp(name, "60m") == 0) {
		*out = TF_1H;
		return 0;
	}
	if (strcmp(name, "240m") == 0) {
		*out = TF_4H;
		return 0;
	}
	return -1;
}

const char *
tf_name(enum tf tf)
{
	return tf_valid(tf) ? tf_table[tf].name : "?";
}

const char *
tf_route(enum tf tf)
{
	return tf_valid(tf) ? tf_table[tf].route : "?";
}

int64_t
tf_fixed_seconds(enum tf tf)
{
	return tf_valid(tf) ? tf_table[tf].seconds : 0;
}

int64_t
tf_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void
tf_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t z = days + 719468, era, yy;
	unsigned doe, yoe, doy, mp, mm;

	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	yy = (int64_t)yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	mm = mp < 10 ? mp + 3 : mp - 9;
	*m = mm;
	*y = yy + (mm <= 2);
}

/* Month index (year * 12 + month - 1) of the month containing t. */
static int64_t
month_index(int64_t t)
{
	int64_t y;
	unsigned m, d;

	tf_civil_from_days(floordiv(t, DAY_S), &y, &m, &d);
	return y * 12 + (int64_t)m - 1;
}

static int64_t
month_start(int64_t idx)
{
	int64_t y = floordiv(idx, 12);

	return tf_days_from_civil(y, (unsigned)(idx - y * 12) + 1, 1) * DAY_S;
}

static int64_t
year_of(int64_t t)
{
	int64_t y;
	unsigned m, d;

	tf_civil_from_days(floordiv(t, DAY_S), &y, &m, &d);
	return y;
}

int64_t
tf_floor(enum tf tf, int64_t t)
{
	int64_t s = tf_fixed_seconds(tf);

	if (!tf_valid(tf))
		return t;
	if (tf == TF_1W)
		return floordiv(t - MONDAY_OFFSET_S, WEEK_S) * WEEK_S + MONDAY_OFFSET_S;
	if (tf == TF_1MO)
		return month_start(month_index(t));
	if (tf == TF_1Y)
		return tf_days_from_civil(year_of(t), 1, 1) * DAY_S;
	return floordiv(t, s) * s;
}

int
tf_aligned(enum tf tf, int64_t t)
{
	return tf_valid(tf) && tf_floor(tf, t) == t;
}

int64_t
tf_ceil(enum tf tf, int64_t t)
{
	int64_t f = tf_floor(tf, t);

	return f == t ? t : tf_add(tf, f, 1);
}

int64_t
tf_add(enum tf tf, int64_t slot, int64_t n)
{
	if (!tf_valid(tf))
		return slot;
	if (tf == TF_1MO)
		return month_start(month_index(slot) + n);
	if (tf == TF_1Y)
		return tf_days_from_civil(year_of(slot) + n, 1, 1) * DAY_S;
	return slot + n * tf_table[tf].seconds;
}

int64_t
tf_count(enum tf tf, int64_t from, int64_t to)
{
	int64_t a, s;

	if (!tf_valid(tf) || from >= to)
		return 0;
	/* Count slot starts in [from, to); exact for unaligned bounds too. */
	a = tf_ceil(tf, from);
	if (a >= to)
		return 0;
	if (tf == TF_1MO)
		return month_index(to - 1) - month_index(a) + 1;
	if (tf == TF_1Y)
		return year_of(to - 1) - year_of(a) + 1;
	s = tf_table[tf].seconds;
	return (to - 1 - a) / s + 1;
}
