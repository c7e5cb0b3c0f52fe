/*
 * upbit_json.c: fail-closed readers of Upbit's answers, on the tokenizer of
 * json_tok.c: exact decimal text is kept, unknown fields of any type are
 * skipped. The candle reader validates each candle against what was asked (market,
 * timeframe grid, descending starts below `to`, at most `count`) and sane
 * values (OHLC order, positive prices, non-negative volumes). Owns no state.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "timeutil.h"
#include "json_tok.h"
#include "upbit_json.h"

#define KST_OFFSET_S (9 * 3600)
#define UTC_TEXT_LEN 19  /* "YYYY-MM-DDTHH:MM:SS" */
#define DATE_TEXT_LEN 10 /* "YYYY-MM-DD" */
#define UNIT_MAX 1440
#define BLOCK_MAX_S 86400
#define REMAINING_MAX 127

/* ---- candles ---- */

enum field {
	F_MARKET,
	F_UTC,
	F_KST,
	F_OPEN,
	F_HIGH,
	F_LOW,
	F_CLOSE,
	F_TIMESTAMP,
	F_ACC_PRICE,
	F_ACC_VOLUME,
	F_UNIT,
	F_PREV_CLOSE,
	F_CHANGE_PRICE,
	F_CHANGE_RATE,
	F_CONVERTED,
	F_FIRST_DAY,
	F_COUNT
};

#define REQUIRED_MASK                                                                         \
	((1u << F_MARKET) | (1u << F_UTC) | (1u << F_KST) | (1u << F_OPEN) | (1u << F_HIGH) | \
	 (1u << F_LOW) | (1u << F_CLOSE) | (1u << F_TIMESTAMP) | (1u << F_ACC_PRICE) |        \
	 (1u << F_ACC_VOLUME))

/* One candle being read: what was asked, where it goes, the fields seen. */
struct cread {
	int idx;
	const struct upbit_query *q;
	struct candle *c;
	int64_t kst;
	unsigned seen;
};

typedef int (*field_reader)(struct jtok *j, int f, struct cread *r);

static int read_market(struct jtok *j, int f, struct cread *r);
static int read_utc(struct jtok *j, int f, struct cread *r);
static int read_kst(struct jtok *j, int f, struct cread *r);
static int read_num(struct jtok *j, int f, struct cread *r);
static int read_timestamp(struct jtok *j, int f, struct cread *r);
static int read_unit(struct jtok *j, int f, struct cread *r);
static int read_date(struct jtok *j, int f, struct cread *r);

/* Upbit's candle fields, each with the reader of its type. */
static const struct {
	const char *name;
	unsigned char len;
	signed char num; /* enum candle_num, or -1 */
	field_reader read;
} fields[F_COUNT] = {
	[F_MARKET] = { "market", 6, -1, read_market },
	[F_UTC] = { "candle_date_time_utc", 20, -1, read_utc },
	[F_KST] = { "candle_date_time_kst", 20, -1, read_kst },
	[F_OPEN] = { "opening_price", 13, CN_OPEN, read_num },
	[F_HIGH] = { "high_price", 10, CN_HIGH, read_num },
	[F_LOW] = { "low_price", 9, CN_LOW, read_num },
	[F_CLOSE] = { "trade_price", 11, CN_CLOSE, read_num },
	[F_TIMESTAMP] = { "timestamp", 9, -1, read_timestamp },
	[F_ACC_PRICE] = { "candle_acc_trade_price", 22, CN_ACC_PRICE, read_num },
	[F_ACC_VOLUME] = { "candle_acc_trade_volume", 23, CN_ACC_VOLUME, read_num },
	[F_UNIT] = { "unit", 4, -1, read_unit },
	[F_PREV_CLOSE] = { "prev_closing_price", 18, CN_PREV_CLOSE, read_num },
	[F_CHANGE_PRICE] = { "change_price", 12, CN_CHANGE_PRICE, read_num },
	[F_CHANGE_RATE] = { "change_rate", 11, CN_CHANGE_RATE, read_num },
	[F_CONVERTED] = { "converted_trade_price", 21, CN_CONVERTED, read_num },
	[F_FIRST_DAY] = { "first_day_of_period", 19, -1, read_date },
};

static int
field_lookup(const char *key, size_t len)
{
	for (int f = 0; f < F_COUNT; f++)
		if (fields[f].len == len && memcmp(fields[f].name, key, len) == 0)
			return f;
	return -1;
}

/* Non-negative integer text (at most 18 digits) to int64; 0 or -1. */
static int
lex_int(const char *s, size_t len, int64_t *out)
{
	int64_t v = 0;

	if (len == 0 || len > 18)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!jtok_is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Prints at most 24 characters of untrusted text, non-printables as '?'. */
static void
printable(char *dst, size_t cap, const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < cap && i < 24; i++)
		dst[i] = (char)((s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?');
	dst[i] = '\0';
}

/* The text of string field f into buf (cap bytes). A value too long for
 * buf gets *len = cap, which no valid value has. */
static int
read_text(struct jtok *j, int f, const struct cread *r, char *buf, size_t cap, size_t *len)
{
	int ovf;

	buf[0] = '\0';
	if (!jtok_at(j, '"'))
		return jtok_fail(j, "candle %d: %s is not a string", r->idx, fields[f].name);
	if (jtok_string(j, buf, cap, len, &ovf, 1) == -1)
		return -1;
	if (ovf)
		*len = cap;
	return 0;
}

/* The rejection of a malformed string value. */
static int
bad_text(struct jtok *j, int f, const struct cread *r, const char *buf)
{
	char shown[32];

	printable(shown, sizeof(shown), buf);
	return jtok_fail(j, "candle %d: bad %s \"%s\"", r->idx, fields[f].name, shown);
}

static int
read_market(struct jtok *j, int f, struct cread *r)
{
	char buf[64], shown[32];
	size_t len = 0;

	if (read_text(j, f, r, buf, sizeof(buf), &len) == -1)
		return -1;
	if (len != strlen(r->q->market) || memcmp(buf, r->q->market, len) != 0) {
		printable(shown, sizeof(shown), buf);
		return jtok_fail(j, "candle %d: market %s, asked %s", r->idx, shown, r->q->market);
	}
	return 0;
}

/* Exactly "YYYY-MM-DDTHH:MM:SS" (Upbit's naive UTC/KST form). */
static int
read_naive_time(struct jtok *j, int f, struct cread *r, int64_t *out)
{
	char buf[64];
	size_t len = 0;

	if (read_text(j, f, r, buf, sizeof(buf), &len) == -1)
		return -1;
	if (len != UTC_TEXT_LEN || buf[10] != 'T' || time_parse(buf, out) == -1)
		return bad_text(j, f, r, buf);
	return 0;
}

static int
read_utc(struct jtok *j, int f, struct cread *r)
{
	return read_naive_time(j, f, r, &r->c->start);
}

static int
read_kst(struct jtok *j, int f, struct cread *r)
{
	return read_naive_time(j, f, r, &r->kst);
}

/* "YYYY-MM-DD" */
static int
read_date(struct jtok *j, int f, struct cread *r)
{
	char buf[64];
	size_t len = 0;
	int64_t v;

	if (read_text(j, f, r, buf, sizeof(buf), &len) == -1)
		return -1;
	if (len != DATE_TEXT_LEN || time_parse(buf, &v) == -1)
		return bad_text(j, f, r, buf);
	memcpy(r->c->first_day, buf, DATE_TEXT_LEN + 1);
	return 0;
}

/* The text of number field f. */
static int
read_lex(struct jtok *j, int f, const struct cread *r, const char **lex, size_t *len)
{
	if (!jtok_at_number(j))
		return jtok_fail(j, "candle %d: %s is not a number", r->idx, fields[f].name);
	return jtok_number(j, lex, len);
}

/* A decimal, kept as its exact text. */
static int
read_num(struct jtok *j, int f, struct cread *r)
{
	const char *lex = "";
	size_t len = 0;

	if (read_lex(j, f, r, &lex, &len) == -1)
		return -1;
	if (len >= CANDLE_NUM_MAX)
		return jtok_fail(j, "candle %d: %s longer than %d digits", r->idx, fields[f].name,
		                 CANDLE_NUM_MAX - 1);
	memcpy(r->c->num[fields[f].num], lex, len);
	r->c->num[fields[f].num][len] = '\0';
	return 0;
}

/* An integer field in 1..max. */
static int
read_int(struct jtok *j, int f, const struct cread *r, int64_t max, int64_t *v)
{
	const char *lex = "";
	size_t len = 0;

	if (read_lex(j, f, r, &lex, &len) == -1)
		return -1;
	if (lex_int(lex, len, v) == -1)
		return jtok_fail(j, "candle %d: %s is not a positive integer", r->idx,
		                 fields[f].name);
	if (*v < 1 || *v > max)
		return jtok_fail(j, "candle %d: %s %lld out of range", r->idx, fields[f].name,
		                 (long long)*v);
	return 0;
}

static int
read_timestamp(struct jtok *j, int f, struct cread *r)
{
	return read_int(j, f, r, INT64_MAX, &r->c->timestamp_ms);
}

static int
read_unit(struct jtok *j, int f, struct cread *r)
{
	int64_t v;

	if (read_int(j, f, r, UNIT_MAX, &v) == -1)
		return -1;
	r->c->unit = (int32_t)v;
	return 0;
}

/* One member of a candle object: a known field once, unknown ones skipped. */
static int
candle_member(struct jtok *j, const char *key, size_t klen, void *ctx)
{
	struct cread *r = ctx;
	int f = field_lookup(key, klen);

	if (f < 0)
		return jtok_skip_value(j, 2);
	if (r->seen & (1u << f))
		return jtok_fail(j, "candle %d: duplicate field %s", r->idx, fields[f].name);
	r->seen |= 1u << f;
	/* optional extras may be null: absent */
	if (f >= F_UNIT && jtok_at(j, 'n'))
		return jtok_literal(j, "null");
	return fields[f].read(j, f, r);
}

#define EXACT_MANTISSA_MAX (UINT64_C(1) << 53) /* every integer up to it is a double */
#define EXACT_POW10_MAX 22                     /* 1e22 is the largest exact power */

/* The digits of s ([-]int[.frac], no exponent) as m / 10^k, trailing
 * fraction zeros dropped; 0, or -1 for another form or more than 19 digits. */
static int
decimal_parts(const char *s, uint64_t *m, int *k)
{
	const char *dot = strchr(s, '.'), *end = s + strlen(s);

	if (dot != NULL) {
		while (end > dot + 1 && end[-1] == '0')
			end--;
		if (end == dot + 1)
			end = dot;
	}
	*k = dot != NULL && end > dot ? (int)(end - dot - 1) : 0;
	if (end - s - (dot != NULL && end > dot) > 19)
		return -1;
	*m = 0;
	for (; s < end; s++) {
		if (s == dot)
			continue;
		if (!jtok_is_digit(*s))
			return -1;
		*m = *m * 10 + (uint64_t)(*s - '0');
	}
	return 0;
}

/* The value of a kept decimal (the JSON grammar already holds), as strtod
 * would round it. Upbit's fixed-scale decimals take Clinger's fast path: a
 * mantissa below 2^53 and at most 22 fraction digits make one correctly
 * rounded division, which is what strtod returns; the rest go to strtod. */
static double
num_value(const struct candle *c, int n)
{
	static const double pow10[EXACT_POW10_MAX + 1] = { 1e0,  1e1,  1e2,  1e3,  1e4,  1e5,
		                                           1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
		                                           1e12, 1e13, 1e14, 1e15, 1e16, 1e17,
		                                           1e18, 1e19, 1e20, 1e21, 1e22 };
	const char *s = c->num[n];
	int neg = *s == '-', k;
	uint64_t m;
	double v;

	if (decimal_parts(s + neg, &m, &k) == -1 || m > EXACT_MANTISSA_MAX || k > EXACT_POW10_MAX)
		return strtod(s, NULL);
	v = (double)m / pow10[k];
	return neg ? -v : v;
}

/* A rejected candle, named by its start. */
static int
candle_fail(struct jtok *j, const struct cread *r, const char *what)
{
	char t[TIME_TEXT_LEN];

	time_format(r->c->start, t);
	return jtok_fail(j, "candle %d: %s (%s)", r->idx, what, t);
}

static int
check_present(struct jtok *j, const struct cread *r)
{
	for (int f = 0; f < F_COUNT; f++)
		if ((REQUIRED_MASK & (1u << f)) && !(r->seen & (1u << f)))
			return jtok_fail(j, "candle %d: missing %s", r->idx, fields[f].name);
	return 0;
}

/* The start: aligned, KST = UTC + 9 h, before `to`, older than prev (the
 * previous start, INT64_MAX for the first); the unit matches the timeframe. */
static int
check_start(struct jtok *j, const struct cread *r, int64_t prev)
{
	const struct candle *c = r->c;
	char t1[TIME_TEXT_LEN], t2[TIME_TEXT_LEN];
	enum tf tf = r->q->tf;

	if (c->start < 0)
		return candle_fail(j, r, "start before 1970");
	if (tf_floor(tf, c->start) != c->start) {
		time_format(c->start, t1);
		return jtok_fail(j, "candle %d: start %s not aligned to %s", r->idx, t1,
		                 tf_name(tf));
	}
	if (r->kst != c->start + KST_OFFSET_S)
		return candle_fail(j, r, "candle_date_time_kst is not utc+9h");
	if (c->start >= r->q->to) {
		time_format(c->start, t1);
		time_format(r->q->to, t2);
		return jtok_fail(j, "candle %d: start %s not before to %s", r->idx, t1, t2);
	}
	if (c->start == prev)
		return candle_fail(j, r, "duplicate start");
	if (c->start > prev)
		return candle_fail(j, r, "start not older than the one before");
	if ((r->seen & (1u << F_UNIT)) && tf >= TF_1M && tf <= TF_4H &&
	    c->unit != tf_fixed_seconds(tf) / 60)
		return jtok_fail(j, "candle %d: unit %d for timeframe %s", r->idx, (int)c->unit,
		                 tf_name(tf));
	return 0;
}

static int
price_ok(double v)
{
	return isfinite(v) && v > 0;
}

/* Prices > 0 with low <= open, close <= high. */
static int
check_prices(struct jtok *j, const struct cread *r)
{
	double o = num_value(r->c, CN_OPEN), h = num_value(r->c, CN_HIGH),
	       l = num_value(r->c, CN_LOW), cl = num_value(r->c, CN_CLOSE);

	if (!price_ok(o) || !price_ok(h) || !price_ok(l) || !price_ok(cl))
		return candle_fail(j, r, "a price is not > 0");
	if (l > o || l > cl)
		return candle_fail(j, r, "low_price above open or close");
	if (h < o || h < cl)
		return candle_fail(j, r, "high_price below open or close");
	return 0;
}

/* Volumes >= 0, the optional numbers finite. */
static int
check_amounts(struct jtok *j, const struct cread *r)
{
	static const char *const negative[] = { "candle_acc_trade_price is negative",
		                                "candle_acc_trade_volume is negative" };

	for (int n = CN_ACC_PRICE; n <= CN_ACC_VOLUME; n++) {
		double v = num_value(r->c, n);

		if (!isfinite(v) || v < 0)
			return candle_fail(j, r, negative[n - CN_ACC_PRICE]);
	}
	for (int n = CN_PREV_CLOSE; n < CN_COUNT; n++)
		if (r->c->num[n][0] != '\0' && !isfinite(num_value(r->c, n)))
			return candle_fail(j, r, "a number out of range");
	return 0;
}

static int
parse_candle(struct jtok *j, int idx, const struct upbit_query *q, struct candle *c, int64_t prev)
{
	struct cread r = { idx, q, c, 0, 0 };

	memset(c, 0, sizeof(*c));
	jtok_skip_ws(j);
	if (j->p >= j->end)
		return jtok_syntax(j, "a candle object");
	if (*j->p != '{')
		return jtok_fail(j, "candle %d: not an object (byte %zu)", idx, jtok_pos(j));
	if (jtok_container(j, 1, candle_member, &r) == -1 || check_present(j, &r) == -1 ||
	    check_start(j, &r, prev) == -1 || check_prices(j, &r) == -1 ||
	    check_amounts(j, &r) == -1)
		return -1;
	return 0;
}

/* The candle array being read. */
struct aread {
	const struct upbit_query *q;
	struct candle *out;
	size_t max;
	int n;
	int64_t prev;
};

static int
candle_item(struct jtok *j, const char *key, size_t klen, void *ctx)
{
	struct aread *a = ctx;

	(void)key;
	(void)klen;
	if ((size_t)a->n >= a->max)
		return jtok_fail(j, "more than %zu candles (count %u)", a->max, a->q->count);
	if (parse_candle(j, a->n, a->q, &a->out[a->n], a->prev) == -1)
		return -1;
	a->prev = a->out[a->n].start;
	a->n++;
	return 0;
}

int
upbit_parse_candles(const char *body, size_t len, const struct upbit_query *q, struct candle *out,
                    size_t cap, char *err, size_t errlen)
{
	struct jtok j = { body, body + len, body, err, errlen };
	struct aread a = { q, out, q->count < cap ? q->count : cap, 0, INT64_MAX };

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (body == NULL || len == 0)
		return jtok_fail(&j, "empty body");
	if (len > UPBIT_BODY_MAX_BYTES)
		return jtok_fail(&j, "body larger than %d bytes", UPBIT_BODY_MAX_BYTES);
	jtok_skip_ws(&j);
	if (j.p >= j.end)
		return jtok_syntax(&j, "'['");
	if (*j.p != '[')
		return jtok_fail(&j, "not a JSON array (byte %zu)", jtok_pos(&j));
	if (jtok_container(&j, 0, candle_item, &a) == -1)
		return -1;
	jtok_skip_ws(&j);
	if (j.p != j.end)
		return jtok_fail(&j, "json: trailing bytes after the array at byte %zu",
		                 jtok_pos(&j));
	return a.n;
}

/* ---- error envelope ---- */

/* Control characters become spaces (parse_string never cuts a UTF-8
 * sequence when the text is truncated: it keeps whole ones). */
static void
sanitize(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

/* The envelope being read; found: name or message seen. */
struct eread {
	struct upbit_error *e;
	int found;
};

static int
key_is(const char *key, size_t klen, const char *name)
{
	return klen == strlen(name) && memcmp(key, name, klen) == 0;
}

/* "name": 404 (the HTTP status as a number) */
static int
read_error_code(struct jtok *j, struct eread *er)
{
	struct upbit_error *e = er->e;
	const char *lex;
	size_t len;
	int64_t v;

	if (jtok_number(j, &lex, &len) == -1)
		return -1;
	if (len >= sizeof(e->name))
		len = sizeof(e->name) - 1;
	memcpy(e->name, lex, len);
	e->name[len] = '\0';
	if (lex_int(lex, len, &v) == 0) {
		e->has_code = 1;
		e->code = (long)v;
	}
	er->found = 1;
	return 0;
}

/* "name" or "message" as a string, truncated to cap. */
static int
read_error_text(struct jtok *j, struct eread *er, char *out, size_t cap)
{
	size_t len;
	int ovf;

	if (jtok_string(j, out, cap, &len, &ovf, 1) == -1)
		return -1;
	sanitize(out);
	er->found = 1;
	return 0;
}

/* A member of {"name":..., "message":...}; other members are skipped. */
static int
error_member(struct jtok *j, const char *key, size_t klen, void *ctx)
{
	struct eread *er = ctx;

	if (key_is(key, klen, "name") && jtok_at_number(j))
		return read_error_code(j, er);
	if (key_is(key, klen, "name") && jtok_at(j, '"'))
		return read_error_text(j, er, er->e->name, sizeof(er->e->name));
	if (key_is(key, klen, "message") && jtok_at(j, '"'))
		return read_error_text(j, er, er->e->message, sizeof(er->e->message));
	return jtok_skip_value(j, 2);
}

/* A member of the envelope: "error" is read, others are skipped. */
static int
envelope_member(struct jtok *j, const char *key, size_t klen, void *ctx)
{
	if (key_is(key, klen, "error") && jtok_at(j, '{'))
		return jtok_container(j, 1, error_member, ctx);
	return jtok_skip_value(j, 1);
}

int
upbit_parse_error(const char *body, size_t len, struct upbit_error *out)
{
	struct jtok j = { body, body + len, body, NULL, 0 };
	struct upbit_error e;
	struct eread er = { &e, 0 };

	if (body == NULL || len == 0 || len > UPBIT_BODY_MAX_BYTES)
		return -1;
	memset(&e, 0, sizeof(e));
	jtok_skip_ws(&j);
	if (!jtok_at(&j, '{') || jtok_container(&j, 1, envelope_member, &er) == -1)
		return -1;
	jtok_skip_ws(&j);
	if (j.p != j.end || !er.found)
		return -1;
	*out = e;
	return 0;
}

/* ---- 418 block time, Remaining-Req ---- */

static int
word_in(const char *w, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(w, *list) == 0)
			return 1;
	return 0;
}

/* Seconds per unit of the word at s (after blanks): 1 for seconds, 60 for
 * minutes, 0 if it is no unit word. */
static unsigned
unit_seconds(const char *s)
{
	static const char *const secs[] = { "s", "sec", "secs", "second", "seconds", NULL };
	static const char *const mins[] = { "m", "min", "mins", "minute", "minutes", NULL };
	char w[12];
	size_t wl = 0;

	while (*s == ' ')
		s++;
	while (jtok_is_alpha(*s) && wl + 1 < sizeof(w))
		w[wl++] = (char)(*s++ | 0x20);
	w[wl] = '\0';
	if (jtok_is_alpha(*s))
		return 0; /* a longer word: not a unit */
	if (word_in(w, secs))
		return 1;
	return word_in(w, mins) ? 60 : 0;
}

uint32_t
upbit_block_ms(const char *msg)
{
	const char *p = msg;

	if (msg == NULL)
		return 0;
	while (*p != '\0') {
		uint64_t v = 0;
		unsigned unit;

		if (!jtok_is_digit(*p)) {
			p++;
			continue;
		}
		for (; jtok_is_digit(*p); p++)
			if (v <= BLOCK_MAX_S * 60ULL)
				v = v * 10 + (uint64_t)(*p - '0');
		if ((unit = unit_seconds(p)) > 0) {
			v *= unit;
			return (uint32_t)(v > BLOCK_MAX_S ? BLOCK_MAX_S : v) * 1000u;
		}
	}
	return 0;
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The next ';'-separated token at *p (before end), blanks trimmed, as
 * [*tok, *tend); *p moves past it. */
static void
next_token(const char **p, const char *end, const char **tok, const char **tend)
{
	*tok = *p;
	while (*p < end && **p != ';')
		(*p)++;
	*tend = *p;
	if (*p < end)
		(*p)++;
	while (*tok < *tend && is_blank(**tok))
		(*tok)++;
	while (*tend > *tok && is_blank((*tend)[-1]))
		(*tend)--;
}

int
upbit_remaining_req(const char *value, size_t len)
{
	const char *p = value, *end, *tok, *tend, *eq;
	int group_ok = 0;
	long sec = -1;
	int64_t v;

	if (value == NULL)
		return -1;
	end = value + len;
	while (p < end) {
		next_token(&p, end, &tok, &tend);
		if ((eq = memchr(tok, '=', (size_t)(tend - tok))) == NULL)
			continue;
		if (eq - tok == 5 && strncasecmp(tok, "group", 5) == 0) {
			group_ok = tend - eq - 1 == 7 && strncasecmp(eq + 1, "candles", 7) == 0;
		} else if (eq - tok == 3 && strncasecmp(tok, "sec", 3) == 0) {
			if (lex_int(eq + 1, (size_t)(tend - eq - 1), &v) == -1)
				return -1;
			sec = v > REMAINING_MAX ? REMAINING_MAX : (long)v;
		}
	}
	return group_ok ? (int)sec : -1;
}
