/*
 * pgcopy.c: the binary COPY stream of candles (see pgcopy.h). It owns the
 * encoding of one candle row in PostgreSQL's binary forms: every integer
 * big-endian, text as its bytes, timestamp as microseconds and date as
 * days since 2000-01-01, numeric as base-10000 digits with the decimal
 * scale of the text kept (dscale), stripped of zero digit groups at either
 * end as the server stores it. Only plain decimals are encoded; anything
 * else (an exponent, say) is left to the caller's text path.
 */
#include <string.h>

#include "pgcopy.h"
#include "timeutil.h"

#define PG_EPOCH_S 946684800LL /* 2000-01-01T00:00:00Z */
#define KST_OFFSET_S (9 * 3600)
#define NUMERIC_POS 0x0000
#define NUMERIC_NEG 0x4000
#define DEC_DIGITS 4 /* decimal digits per base-10000 digit */
#define GROUPS_MAX (CANDLE_NUM_MAX / DEC_DIGITS + 2)
#define COLUMNS 17

static const char signature[11] = "PGCOPY\n\377\r\n";

static void
put16(struct buf *b, int v)
{
	unsigned char x[2] = { (unsigned char)((unsigned)v >> 8), (unsigned char)v };

	buf_add(b, x, sizeof(x), BUF_NO_MAX);
}

static void
put32(struct buf *b, int32_t v)
{
	uint32_t u = (uint32_t)v;
	unsigned char x[4] = { (unsigned char)(u >> 24), (unsigned char)(u >> 16),
		               (unsigned char)(u >> 8), (unsigned char)u };

	buf_add(b, x, sizeof(x), BUF_NO_MAX);
}

static void
put64(struct buf *b, int64_t v)
{
	put32(b, (int32_t)(uint32_t)((uint64_t)v >> 32));
	put32(b, (int32_t)(uint32_t)(uint64_t)v);
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int
pgcopy_decimal_ok(const char *text)
{
	const char *s = text + (*text == '-');
	size_t n = strspn(s, "0123456789");

	if (n == 0 || strlen(text) >= CANDLE_NUM_MAX)
		return 0;
	s += n;
	if (*s == '.') {
		n = strspn(++s, "0123456789");
		if (n == 0)
			return 0;
		s += n;
	}
	return *s == '\0';
}

/* 1 if day is "YYYY-MM-DD" (*days: since 2000-01-01), else 0. */
static int
date_days(const char *day, int32_t *days)
{
	int64_t t;

	if (strlen(day) != 10 || !is_digit(day[0]) || day[4] != '-' || day[7] != '-' ||
	    time_parse(day, &t) == -1)
		return 0;
	*days = (int32_t)((t - PG_EPOCH_S) / 86400);
	return 1;
}

int
pgcopy_candle_ok(const struct candle *c)
{
	int32_t days;

	for (int k = 0; k < CN_COUNT; k++) {
		if (c->num[k][0] != '\0' && !pgcopy_decimal_ok(c->num[k]))
			return 0;
	}
	return c->first_day[0] == '\0' || date_days(c->first_day, &days);
}

/* The base-10000 digits of the decimal digits int_part (nint of them, no
 * leading zero) and frac (nfrac): into g, their count returned, *weight
 * the power of 10000 of g[0]. */
static int
groups(const char *int_part, size_t nint, const char *frac, size_t nfrac, int *g, int *weight)
{
	char d[GROUPS_MAX * DEC_DIGITS];
	size_t lpad = (DEC_DIGITS - nint % DEC_DIGITS) % DEC_DIGITS, len = lpad;
	int n = 0;

	memset(d, '0', sizeof(d));
	memcpy(d + len, int_part, nint);
	len += nint;
	*weight = (int)(len / DEC_DIGITS) - 1;
	memcpy(d + len, frac, nfrac);
	len += nfrac;
	for (size_t i = 0; i < len; i += DEC_DIGITS, n++)
		g[n] = (d[i] - '0') * 1000 + (d[i + 1] - '0') * 100 + (d[i + 2] - '0') * 10 +
		       (d[i + 3] - '0');
	return n;
}

int
pgcopy_numeric(struct buf *b, const char *text)
{
	const char *s = text, *dot;
	int g[GROUPS_MAX], n, first = 0, weight, neg = *text == '-';
	size_t nint, nfrac;

	if (!pgcopy_decimal_ok(text))
		return -1;
	s += neg;
	dot = strchr(s, '.');
	nint = dot != NULL ? (size_t)(dot - s) : strlen(s);
	nfrac = dot != NULL ? strlen(dot + 1) : 0;
	while (nint > 0 && *s == '0') {
		s++;
		nint--;
	}
	n = groups(s, nint, dot != NULL ? dot + 1 : "", nfrac, g, &weight);
	while (first < n && g[first] == 0) {
		first++;
		weight--;
	}
	while (n > first && g[n - 1] == 0)
		n--;
	if (n == first) /* zero: no digits, positive, weight 0 */
		weight = neg = 0;
	put16(b, n - first);
	put16(b, weight);
	put16(b, neg ? NUMERIC_NEG : NUMERIC_POS);
	put16(b, (int)nfrac);
	for (int i = first; i < n; i++)
		put16(b, g[i]);
	return b->err != 0 ? -1 : 0;
}

void
pgcopy_header(struct buf *b)
{
	buf_add(b, signature, sizeof(signature), BUF_NO_MAX);
	put32(b, 0); /* flags */
	put32(b, 0); /* header extension length */
}

void
pgcopy_trailer(struct buf *b)
{
	put16(b, -1);
}

static void
field_text(struct buf *b, const char *s)
{
	size_t n = strlen(s);

	put32(b, (int32_t)n);
	buf_add(b, s, n, BUF_NO_MAX);
}

static void
field_time(struct buf *b, int64_t t)
{
	put32(b, 8);
	put64(b, (t - PG_EPOCH_S) * 1000000);
}

/* A numeric field, NULL when text is "": its length word patched in. */
static void
field_numeric(struct buf *b, const char *text)
{
	size_t at = b->len;

	if (*text == '\0') {
		put32(b, -1);
		return;
	}
	put32(b, 0);
	if (pgcopy_numeric(b, text) == 0) {
		uint32_t n = (uint32_t)(b->len - at - 4);
		unsigned char *p = (unsigned char *)b->data + at;

		p[0] = (unsigned char)(n >> 24);
		p[1] = (unsigned char)(n >> 16);
		p[2] = (unsigned char)(n >> 8);
		p[3] = (unsigned char)n;
	}
}

int
pgcopy_candle(struct buf *b, const char *market, const char *tf, const struct candle *c)
{
	static const enum candle_num first4[] = { CN_OPEN, CN_HIGH, CN_LOW, CN_CLOSE };
	static const enum candle_num last4[] = { CN_PREV_CLOSE, CN_CHANGE_PRICE, CN_CHANGE_RATE,
		                                 CN_CONVERTED };
	int32_t days = 0;

	if (!pgcopy_candle_ok(c))
		return -1;
	put16(b, COLUMNS);
	field_text(b, market);
	field_text(b, tf);
	field_time(b, c->start);
	field_time(b, c->start + KST_OFFSET_S);
	for (int k = 0; k < 4; k++)
		field_numeric(b, c->num[first4[k]]);
	put32(b, 8);
	put64(b, c->timestamp_ms);
	field_numeric(b, c->num[CN_ACC_PRICE]);
	field_numeric(b, c->num[CN_ACC_VOLUME]);
	if (c->unit != 0) {
		put32(b, 2);
		put16(b, (int)c->unit);
	} else {
		put32(b, -1);
	}
	for (int k = 0; k < 4; k++)
		field_numeric(b, c->num[last4[k]]);
	if (c->first_day[0] != '\0' && date_days(c->first_day, &days)) {
		put32(b, 4);
		put32(b, days);
	} else {
		put32(b, -1);
	}
	return b->err != 0 ? -1 : 0;
}
