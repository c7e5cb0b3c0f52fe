/*
 * timeutil.c: strict parsing and formatting of ISO 8601 UTC times (the
 * users' forms, and the full form Upbit takes for `to`, to the millisecond),
 * and the three clocks (wall ms, wall s, monotonic ms). Owns nothing else:
 * calendar arithmetic lives in tf.c.
 *
 * The wall clock is CLOCK_REALTIME plus CP_CLOCK_OFFSET_MS (a test hook,
 * read once; integer milliseconds, negative for the past): a test sets it
 * for every process, and the simulator reads the same variable, so that
 * follow mode can be tested a few seconds before a minute or a day closes.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <time.h>

#include "tf.h"
#include "timeutil.h"

#define DAY_S 86400
/* time_format's range: 0000-01-01T00:00:00 .. 9999-12-31T23:59:59 */
#define TIME_MIN_S (-62167219200LL)
#define TIME_MAX_S 253402300799LL

/* Reads exactly n digits at *p; advances *p. 0 or -1. */
static int
digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int y, int m)
{
	static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* The fields of one ISO 8601 time; offset_s is the zone's offset east of
 * UTC. The rest says which parts the text had, for the full form's check. */
struct iso_time {
	int y, mo, d, h, mi, sec;
	int ms;          /* the fraction, truncated to the millisecond */
	int frac_digits; /* how many digits the fraction had (0: none) */
	int has_sec;
	int zone_short; /* an offset without ':' between its hours and minutes */
	int offset_s;
};

/* Consumes c at *p; 0, or -1 if *p holds something else. */
static int
expect(const char **p, char c)
{
	if (**p != c)
		return -1;
	(*p)++;
	return 0;
}

/* "YYYY-MM-DD", a day that exists (leap years included). */
static int
parse_date(const char **p, struct iso_time *t)
{
	if (digits(p, 4, &t->y) == -1 || expect(p, '-') == -1 || digits(p, 2, &t->mo) == -1 ||
	    expect(p, '-') == -1 || digits(p, 2, &t->d) == -1)
		return -1;
	if (t->mo < 1 || t->mo > 12 || t->d < 1 || t->d > days_in_month(t->y, t->mo))
		return -1;
	return 0;
}

/* An optional ".digits" (at least one digit): its milliseconds, truncated. */
static int
parse_fraction(const char **p, struct iso_time *t)
{
	if (expect(p, '.') == -1)
		return 0;
	if (**p < '0' || **p > '9')
		return -1;
	for (; **p >= '0' && **p <= '9'; (*p)++, t->frac_digits++)
		if (t->frac_digits < 3)
			t->ms = t->ms * 10 + (**p - '0');
	for (int n = t->frac_digits; n < 3; n++)
		t->ms *= 10;
	return 0;
}

/* "HH:MM[:SS[.fraction]]" within 00:00:00 .. 23:59:59. */
static int
parse_clock(const char **p, struct iso_time *t)
{
	if (digits(p, 2, &t->h) == -1 || expect(p, ':') == -1 || digits(p, 2, &t->mi) == -1)
		return -1;
	t->has_sec = expect(p, ':') == 0;
	if (t->has_sec && (digits(p, 2, &t->sec) == -1 || parse_fraction(p, t) == -1))
		return -1;
	return t->h > 23 || t->mi > 59 || t->sec > 59 ? -1 : 0;
}

/* Nothing (UTC), "Z", or "+HH[:]MM" / "-HH[:]MM". */
static int
parse_zone(const char **p, struct iso_time *t)
{
	int sign, oh, om;

	if (expect(p, 'Z') == 0 || (**p != '+' && **p != '-'))
		return 0;
	sign = *(*p)++ == '+' ? 1 : -1;
	if (digits(p, 2, &oh) == -1)
		return -1;
	t->zone_short = expect(p, ':') == -1;
	if (digits(p, 2, &om) == -1 || oh > 23 || om > 59)
		return -1;
	t->offset_s = sign * (oh * 3600 + om * 60);
	return 0;
}

/* Any form time_parse takes into *t: 0 or -1. */
static int
parse_iso(const char *s, struct iso_time *t)
{
	const char *p = s;

	if (s == NULL || parse_date(&p, t) == -1)
		return -1;
	/* a date alone, or a date, 'T' or ' ', a clock and an optional zone */
	if (*p != '\0' && ((expect(&p, 'T') == -1 && expect(&p, ' ') == -1) ||
	                   parse_clock(&p, t) == -1 || parse_zone(&p, t) == -1 || *p != '\0'))
		return -1;
	return 0;
}

/* The epoch seconds of a parsed time. */
static int64_t
iso_epoch(const struct iso_time *t)
{
	return tf_days_from_civil(t->y, (unsigned)t->mo, (unsigned)t->d) * DAY_S + t->h * 3600 +
	       t->mi * 60 + t->sec - t->offset_s;
}

int
time_parse(const char *s, int64_t *out)
{
	struct iso_time t = { 0 };

	if (parse_iso(s, &t) == -1)
		return -1;
	*out = iso_epoch(&t);
	return 0;
}

int
time_parse_full_ms(const char *s, int64_t *out_ms)
{
	struct iso_time t = { 0 };

	if (parse_iso(s, &t) == -1 || !t.has_sec || t.frac_digits > 9 || t.zone_short)
		return -1;
	*out_ms = iso_epoch(&t) * 1000 + t.ms;
	return 0;
}

static void
put_digits(char *p, int n, int64_t v)
{
	for (int i = n - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

void
time_format(int64_t t, char out[TIME_TEXT_LEN])
{
	int64_t days, secs, y;
	unsigned m, d;

	/* Clamped, so the text always has the fixed, lexically sortable shape. */
	if (t < TIME_MIN_S)
		t = TIME_MIN_S;
	if (t > TIME_MAX_S)
		t = TIME_MAX_S;
	days = t / DAY_S;
	secs = t % DAY_S;
	if (secs < 0) {
		secs += DAY_S;
		days--;
	}
	tf_civil_from_days(days, &y, &m, &d);
	put_digits(out, 4, y);
	out[4] = '-';
	put_digits(out + 5, 2, m);
	out[7] = '-';
	put_digits(out + 8, 2, d);
	out[10] = 'T';
	put_digits(out + 11, 2, secs / 3600);
	out[13] = ':';
	put_digits(out + 14, 2, secs / 60 % 60);
	out[16] = ':';
	put_digits(out + 17, 2, secs % 60);
	out[19] = '\0';
}

static int64_t
clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* CP_CLOCK_OFFSET_MS, or 0 when unset or not a whole number. */
static int64_t clock_off;
static pthread_once_t clock_once = PTHREAD_ONCE_INIT;

static void
clock_offset_read(void)
{
	const char *v = getenv("CP_CLOCK_OFFSET_MS");
	char *end;
	long long x;

	if (v == NULL)
		return;
	errno = 0;
	x = strtoll(v, &end, 10);
	if (end != v && *end == '\0' && errno == 0)
		clock_off = (int64_t)x;
}

static int64_t
clock_offset_ms(void)
{
	pthread_once(&clock_once, clock_offset_read);
	return clock_off;
}

int64_t
time_now_ms(void)
{
	return clock_ms(CLOCK_REALTIME) + clock_offset_ms();
}

int64_t
time_now(void)
{
	int64_t ms = time_now_ms();

	return ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
}

/* The one reading of the monotonic clock: every other unit derives from it. */
int64_t
time_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
time_mono_us(void)
{
	return time_mono_ns() / 1000;
}

int64_t
time_mono_ms(void)
{
	return time_mono_ns() / 1000000;
}
