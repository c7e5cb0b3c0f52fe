/*
 * simtime.c - calendar arithmetic, ISO time parsing and timeframe slots for
 * the simulator.  Deliberately independent of common/ (the simulator is the
 * test oracle).  Civil-date conversions follow H. Hinnant's public-domain
 * days_from_civil / civil_from_days algorithms.  "Now" is CLOCK_REALTIME
 * plus the test hook CP_CLOCK_OFFSET_MS.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

int64_t
stime_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void
stime_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int64_t
stime_floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;
	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

static int
digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned
month_days(int64_t y, unsigned m)
{
	static const unsigned md[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return m == 2 && is_leap(y) ? 29 : md[m - 1];
}

/* "YYYY-MM-DD(T| )HH:MM:SS" into f[0..5] (y, mo, d, h, mi, se) and a
 * valid calendar date and time of day: 0, or -1. */
static int
parse_fields(const char *s, int f[6])
{
	static const struct {
		int at, len;
		const char *sep; /* the characters allowed after the field */
	} fld[6] = { { 0, 4, "-" },  { 5, 2, "-" },  { 8, 2, "T " },
		     { 11, 2, ":" }, { 14, 2, ":" }, { 17, 2, NULL } };

	if (strlen(s) < 19)
		return -1;
	for (int i = 0; i < 6; i++) {
		const char *end = s + fld[i].at + fld[i].len;

		if (digits(s + fld[i].at, fld[i].len, &f[i]) ||
		    (fld[i].sep != NULL && strchr(fld[i].sep, *end) == NULL))
			return -1;
	}
	if (f[1] < 1 || f[1] > 12 || f[2] < 1 || (unsigned)f[2] > month_days(f[0], (unsigned)f[1]))
		return -1;
	return f[3] > 23 || f[4] > 59 || f[5] > 59 ? -1 : 0;
}

/* An optional ".fraction" (1..9 digits) at *p: milliseconds, or -1. */
static int
parse_fraction(const char **p)
{
	const char *q = *p;
	int ms = 0, n = 0;

	if (*q != '.')
		return 0;
	for (q++; *q >= '0' && *q <= '9'; q++, n++)
		if (n < 3)
			ms = ms * 10 + (*q - '0');
	if (n == 0 || n > 9)
		return -1;
	for (; n < 3; n++)
		ms *= 10;
	*p = q;
	return ms;
}

/* An optional "Z" or "+HH:MM"/"-HH:MM" at *p: 0 and the offset in
 * seconds east of UTC, or -1. */
static int
parse_offset(const char **p, int *off_s)
{
	const char *q = *p;
	int oh, om;

	*off_s = 0;
	if (*q == 'Z') {
		*p = q + 1;
		return 0;
	}
	if (*q != '+' && *q != '-')
		return 0;
	if (digits(q + 1, 2, &oh) || q[3] != ':' || digits(q + 4, 2, &om) || oh > 23 || om > 59)
		return -1;
	*off_s = (oh * 3600 + om * 60) * (*q == '+' ? 1 : -1);
	*p = q + 6;
	return 0;
}

int
stime_parse(const char *s, int64_t *out_ms)
{
	int f[6], ms, off_s;
	const char *p;
	int64_t t;

	if (s == NULL || parse_fields(s, f) == -1)
		return -1;
	p = s + 19;
	if ((ms = parse_fraction(&p)) == -1 || parse_offset(&p, &off_s) == -1 || *p != '\0')
		return -1;
	t = stime_days_from_civil(f[0], (unsigned)f[1], (unsigned)f[2]) * 86400 + f[3] * 3600 +
	    f[4] * 60 + f[5] - off_s;
	*out_ms = t * 1000 + ms;
	return 0;
}

/* The test hook CP_CLOCK_OFFSET_MS (integer ms, read once; 0 when unset or
 * malformed), the same rule as the pipeline's, written here on its own. */
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
stime_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + clock_offset_ms();
}

static char *
put2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
	return p + 2;
}

char *
stime_put_date(char *p, int64_t t_s)
{
	int64_t y;
	unsigned m, d;
	stime_civil_from_days(stime_floordiv(t_s, 86400), &y, &m, &d);
	unsigned uy = (unsigned)(y < 0 ? 0 : y % 10000);
	p = put2(p, uy / 100);
	p = put2(p, uy % 100);
	*p++ = '-';
	p = put2(p, m);
	*p++ = '-';
	return put2(p, d);
}

char *
stime_put_iso(char *p, int64_t t_s)
{
	int64_t sod = t_s - stime_floordiv(t_s, 86400) * 86400;
	p = stime_put_date(p, t_s);
	*p++ = 'T';
	p = put2(p, (unsigned)(sod / 3600));
	*p++ = ':';
	p = put2(p, (unsigned)(sod / 60 % 60));
	*p++ = ':';
	return put2(p, (unsigned)(sod % 60));
}

/* ---- times as people write them (upbit-sim truth) ------------------- */

/* "HH:MM[:SS[.digits]]" at *p: 0 and the second of the day, or -1. */
static int
user_clock(const char **p, int *sod)
{
	const char *q = *p;
	int h, mi, se = 0;

	if (digits(q, 2, &h) || q[2] != ':' || digits(q + 3, 2, &mi))
		return -1;
	q += 5;
	if (*q == ':') {
		if (digits(q + 1, 2, &se))
			return -1;
		q += 3;
		if (*q == '.') {
			if (q[1] < '0' || q[1] > '9')
				return -1;
			for (q++; *q >= '0' && *q <= '9'; q++)
				;
		}
	}
	if (h > 23 || mi > 59 || se > 59)
		return -1;
	*sod = h * 3600 + mi * 60 + se;
	*p = q;
	return 0;
}

/* Nothing, "Z", "+HH:MM", "+HHMM" (or '-') at *p, then the end: 0 and the
 * offset in seconds east of UTC, or -1. */
static int
user_zone(const char *q, int *off_s)
{
	int oh, om, sign;

	*off_s = 0;
	if (*q == '\0' || (q[0] == 'Z' && q[1] == '\0'))
		return 0;
	if (*q != '+' && *q != '-')
		return -1;
	sign = *q++ == '+' ? 1 : -1;
	if (digits(q, 2, &oh))
		return -1;
	q += 2;
	if (*q == ':')
		q++;
	if (digits(q, 2, &om) || q[2] != '\0' || oh > 23 || om > 59)
		return -1;
	*off_s = sign * (oh * 3600 + om * 60);
	return 0;
}

/* "YYYY-MM-DD", a day that exists: 0 and the day number, or -1. */
static int
user_date(const char *s, int64_t *days)
{
	int y, mo, d;

	if (strlen(s) < 10 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) ||
	    s[7] != '-' || digits(s + 8, 2, &d))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || (unsigned)d > month_days(y, (unsigned)mo))
		return -1;
	*days = stime_days_from_civil(y, (unsigned)mo, (unsigned)d);
	return 0;
}

int
stime_parse_user(const char *s, int64_t *out_ms)
{
	int sod = 0, off_s = 0;
	int64_t days;
	const char *p;

	if (s == NULL || user_date(s, &days))
		return -1;
	p = s + 10;
	if (*p != '\0') {
		if (*p != 'T' && *p != ' ')
			return -1;
		p++;
		if (user_clock(&p, &sod) || user_zone(p, &off_s))
			return -1;
	}
	*out_ms = (days * 86400 + sod - off_s) * 1000;
	return 0;
}

int64_t
stime_months_back(int64_t t_s, int n)
{
	int64_t days = stime_floordiv(t_s, 86400), y, mi;
	int64_t sod = t_s - days * 86400;
	unsigned m, d, dim;

	stime_civil_from_days(days, &y, &m, &d);
	mi = y * 12 + (int64_t)m - 1 - n;
	y = stime_floordiv(mi, 12);
	m = (unsigned)(mi - y * 12) + 1;
	dim = month_days(y, m);
	return stime_days_from_civil(y, m, d < dim ? d : dim) * 86400 + sod;
}

/* ---- timeframes ----------------------------------------------------- */

static const struct {
	const char *name;
	int64_t fixed_s;
	int unit;
} tf_tab[STF_COUNT] = {
	[STF_1S] = { "1s", 1, 0 },         [STF_1M] = { "1m", 60, 1 },
	[STF_3M] = { "3m", 180, 3 },       [STF_5M] = { "5m", 300, 5 },
	[STF_10M] = { "10m", 600, 10 },    [STF_15M] = { "15m", 900, 15 },
	[STF_30M] = { "30m", 1800, 30 },   [STF_60M] = { "1h", 3600, 60 },
	[STF_240M] = { "4h", 14400, 240 }, [STF_1D] = { "1d", 86400, 0 },
	[STF_1W] = { "1w", 0, 0 },         [STF_1MO] = { "1M", 0, 0 },
	[STF_1Y] = { "1y", 0, 0 },
};

int
stf_parse(const char *name, enum stf *out)
{
	if (name == NULL)
		return -1;
	if (strcmp(name, "60m") == 0) {
		*out = STF_60M;
		return 0;
	}
	if (strcmp(name, "240m") == 0) {
		*out = STF_240M;
		return 0;
	}
	for (int i = 0; i < STF_COUNT; i++) {
		if (strcmp(name, tf_tab[i].name) == 0) {
			*out = (enum stf)i;
			return 0;
		}
	}
	return -1;
}

int64_t
stf_fixed_s(enum stf tf)
{
	return tf_tab[tf].fixed_s;
}

int
stf_unit(enum stf tf)
{
	return tf_tab[tf].unit;
}

int64_t
stf_floor(enum stf tf, int64_t t_s)
{
	int64_t y, days;
	unsigned m, d;

	if (tf_tab[tf].fixed_s)
		return stime_floordiv(t_s, tf_tab[tf].fixed_s) * tf_tab[tf].fixed_s;
	days = stime_floordiv(t_s, 86400);
	switch (tf) {
	case STF_1W:
		/* 1970-01-01 was a Thursday: Monday = days where (days + 3) % 7 == 0 */
		return (days - (((days + 3) % 7) + 7) % 7) * 86400;
	case STF_1MO:
		stime_civil_from_days(days, &y, &m, &d);
		return stime_days_from_civil(y, m, 1) * 86400;
	default:
		stime_civil_from_days(days, &y, &m, &d);
		return stime_days_from_civil(y, 1, 1) * 86400;
	}
}

int64_t
stf_next(enum stf tf, int64_t start_s)
{
	int64_t y;
	unsigned m, d;

	if (tf_tab[tf].fixed_s)
		return start_s + tf_tab[tf].fixed_s;
	switch (tf) {
	case STF_1W: return start_s + 7 * 86400;
	case STF_1MO:
		stime_civil_from_days(stime_floordiv(start_s, 86400), &y, &m, &d);
		return m == 12 ? stime_days_from_civil(y + 1, 1, 1) * 86400
		               : stime_days_from_civil(y, m + 1, 1) * 86400;
	default:
		stime_civil_from_days(stime_floordiv(start_s, 86400), &y, &m, &d);
		return stime_days_from_civil(y + 1, 1, 1) * 86400;
	}
}

int64_t
stf_prev(enum stf tf, int64_t start_s)
{
	if (tf_tab[tf].fixed_s)
		return start_s - tf_tab[tf].fixed_s;
	return stf_floor(tf, start_s - 1);
}
