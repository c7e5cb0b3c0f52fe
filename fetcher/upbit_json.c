/*
 * upbit_json.c: a small hand-written, fail-closed JSON reader for Upbit's
 * answers. One recursive-descent pass over the body with a depth limit and a
 * per-string size limit; strings are fully unescaped (\uXXXX with surrogate
 * pairs, UTF-8 checked); numbers are checked against the JSON grammar and
 * their exact text is kept. Unknown fields of any type are skipped. The
 * candle reader validates each candle against what was asked (market,
 * timeframe grid, descending starts below `to`, at most `count`) and sane
 * values (OHLC order, positive prices, non-negative volumes). Owns no state.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "timeutil.h"
#include "upbit_json.h"
#include "utf8.h"

#define KST_OFFSET_S (9 * 3600)
#define KEY_MAX 32       /* longer keys are unknown by definition */
#define UTC_TEXT_LEN 19  /* "YYYY-MM-DDTHH:MM:SS" */
#define DATE_TEXT_LEN 10 /* "YYYY-MM-DD" */
#define UNIT_MAX 1440
#define BLOCK_MAX_S 86400
#define REMAINING_MAX 127

/* Reader state: the cursor, and where the first error goes. */
struct jp {
	const char *p, *end, *base;
	char *err;
	size_t errlen;
};

static int jfail(struct jp *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
jfail(struct jp *j, const char *fmt, ...)
{
	va_list ap;

	if (j->err != NULL && j->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(j->err, j->errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static size_t
jpos(const struct jp *j)
{
	return (size_t)(j->p - j->base);
}

/* A syntax error at the cursor. */
static int
jsyntax(struct jp *j, const char *want)
{
	unsigned char c;

	if (j->p >= j->end)
		return jfail(j, "json: truncated at byte %zu (want %s)", jpos(j), want);
	c = (unsigned char)*j->p;
	if (c >= 0x20 && c < 0x7f)
		return jfail(j, "json: '%c' at byte %zu (want %s)", c, jpos(j), want);
	return jfail(j, "json: byte 0x%02x at %zu (want %s)", c, jpos(j), want);
}

static void
skip_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
		j->p++;
}

/* Skips whitespace, then consumes c. 0 or -1. */
static int
expect(struct jp *j, char c, const char *want)
{
	skip_ws(j);
	if (j->p >= j->end || *j->p != c)
		return jsyntax(j, want);
	j->p++;
	return 0;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Reads 4 hex digits at the cursor. */
static int
hex4(struct jp *j, unsigned *out)
{
	unsigned v = 0;

	if (j->end - j->p < 4)
		return jfail(j, "json: truncated \\u escape at byte %zu", jpos(j));
	for (int i = 0; i < 4; i++) {
		int h = hexval((unsigned char)j->p[i]);
		if (h < 0)
			return jfail(j, "json: bad \\u escape at byte %zu", jpos(j));
		v = v << 4 | (unsigned)h;
	}
	j->p += 4;
	*out = v;
	return 0;
}

/* Appends k bytes to out while they fit (cap includes the NUL) and nothing
 * was dropped before; *w counts bytes written, *n all bytes. */
static void
put(char *out, size_t cap, size_t *w, size_t *n, const char *s, size_t k, int *overflow)
{
	if (out != NULL && !*overflow && *w + k < cap) {
		memcpy(out + *w, s, k);
		*w += k;
	} else {
		*overflow = 1;
	}
	*n += k;
}

/*
 * Reads the string at the cursor (which is at its '"'). Decoded text goes to
 * out (cap bytes with the NUL; out may be NULL to validate only); *len gets
 * the decoded length and *overflow is set if it did not fit (out then holds a
 * prefix). kept != 0 rejects \u0000 (the text becomes a C string).
 */
static int
parse_string(struct jp *j, char *out, size_t cap, size_t *len, int *overflow, int kept)
{
	size_t n = 0, w = 0;
	const char *start = j->p;

	*overflow = 0;
	j->p++;
	for (;;) {
		/* fast path: plain ASCII */
		while (j->p < j->end) {
			unsigned char c = (unsigned char)*j->p;
			if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80)
				break;
			if (out != NULL && !*overflow && w + 1 < cap)
				out[w++] = (char)c;
			else
				*overflow = 1;
			n++;
			j->p++;
		}
		if (n > UPBIT_STRING_MAX_BYTES)
			return jfail(j, "json: string at byte %zu longer than %d bytes",
			             (size_t)(start - j->base), UPBIT_STRING_MAX_BYTES);
		if (j->p >= j->end)
			return jfail(j, "json: truncated string at byte %zu",
			             (size_t)(start - j->base));
		unsigned char c = (unsigned char)*j->p;
		if (c == '"') {
			j->p++;
			break;
		}
		if (c < 0x20)
			return jfail(j, "json: control character in string at byte %zu", jpos(j));
		if (c >= 0x80) {
			size_t k =
			    utf8_seq_len((const unsigned char *)j->p, (size_t)(j->end - j->p));
			if (k == 0)
				return jfail(j, "json: invalid UTF-8 at byte %zu", jpos(j));
			put(out, cap, &w, &n, j->p, k, overflow);
			j->p += k;
			continue;
		}
		/* an escape */
		if (j->end - j->p < 2)
			return jfail(j, "json: truncated escape at byte %zu", jpos(j));
		char e = j->p[1], ch;
		j->p += 2;
		switch (e) {
		case '"': ch = '"'; break;
		case '\\': ch = '\\'; break;
		case '/': ch = '/'; break;
		case 'b': ch = '\b'; break;
		case 'f': ch = '\f'; break;
		case 'n': ch = '\n'; break;
		case 'r': ch = '\r'; break;
		case 't': ch = '\t'; break;
		case 'u': {
			unsigned cp, lo;
			char u8[4];
			size_t k;

			if (hex4(j, &cp) == -1)
				return -1;
			/* NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult): hex4 sets cp or fails */
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return jfail(j, "json: lone low surrogate at byte %zu", jpos(j));
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
					return jfail(j, "json: lone high surrogate at byte %zu",
					             jpos(j));
				j->p += 2;
				if (hex4(j, &lo) == -1)
					return -1;
				if (lo < 0xdc00 || lo > 0xdfff)
					return jfail(j, "json: bad surrogate pair at byte %zu",
					             jpos(j));
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			if (cp == 0 && kept)
				return jfail(j, "json: \\u0000 in a kept string at byte %zu",
				             jpos(j));
			if (cp < 0x80) {
				u8[0] = (char)cp;
				k = 1;
			} else if (cp < 0x800) {
				u8[0] = (char)(0xc0 | cp >> 6);
				u8[1] = (char)(0x80 | (cp & 0x3f));
				k = 2;
			} else if (cp < 0x10000) {
				u8[0] = (char)(0xe0 | cp >> 12);
				u8[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
				u8[2] = (char)(0x80 | (cp & 0x3f));
				k = 3;
			} else {
				u8[0] = (char)(0xf0 | cp >> 18);
				u8[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
				u8[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
				u8[3] = (char)(0x80 | (cp & 0x3f));
				k = 4;
			}
			put(out, cap, &w, &n, u8, k, overflow);
			continue;
		}
		default: j->p -= 1; return jfail(j, "json: bad escape at byte %zu", jpos(j));
		}
		put(out, cap, &w, &n, &ch, 1, overflow);
	}
	if (n > UPBIT_STRING_MAX_BYTES)
		return jfail(j, "json: string at byte %zu longer than %d bytes",
		             (size_t)(start - j->base), UPBIT_STRING_MAX_BYTES);
	if (out != NULL && cap > 0)
		out[w] = '\0';
	*len = n;
	return 0;
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Checks the number at the cursor against the JSON grammar; *lex and *len
 * get its text. */
static int
parse_number(struct jp *j, const char **lex, size_t *len)
{
	const char *s = j->p;

	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p >= j->end)
		return jsyntax(j, "a digit");
	if (*j->p == '0') {
		j->p++;
	} else if (*j->p >= '1' && *j->p <= '9') {
		while (j->p < j->end && is_digit(*j->p))
			j->p++;
	} else {
		return jsyntax(j, "a digit");
	}
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (j->p >= j->end || !is_digit(*j->p))
			return jsyntax(j, "a fraction digit");
		while (j->p < j->end && is_digit(*j->p))
			j->p++;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (j->p >= j->end || !is_digit(*j->p))
			return jsyntax(j, "an exponent digit");
		while (j->p < j->end && is_digit(*j->p))
			j->p++;
	}
	/* a number must not run into a letter ("1x", "2true") */
	if (j->p < j->end &&
	    ((*j->p >= 'a' && *j->p <= 'z') || (*j->p >= 'A' && *j->p <= 'Z') || *j->p == '.'))
		return jsyntax(j, "the end of a number");
	*lex = s;
	*len = (size_t)(j->p - s);
	return 0;
}

static int
parse_literal(struct jp *j, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
		return jsyntax(j, word);
	j->p += n;
	return 0;
}

/* Skips one value of any type; containers entered here are at depth+1. */
static int
skip_value(struct jp *j, int depth)
{
	const char *lex;
	size_t len;
	int ovf;

	skip_ws(j);
	if (j->p >= j->end)
		return jsyntax(j, "a value");
	switch (*j->p) {
	case '"': return parse_string(j, NULL, 0, &len, &ovf, 0);
	case '{':
	case '[': {
		char close = *j->p == '{' ? '}' : ']';
		int obj = close == '}';

		if (depth + 1 > UPBIT_DEPTH_MAX)
			return jfail(j, "json: nesting deeper than %d at byte %zu", UPBIT_DEPTH_MAX,
			             jpos(j));
		j->p++;
		skip_ws(j);
		if (j->p < j->end && *j->p == close) {
			j->p++;
			return 0;
		}
		for (;;) {
			if (obj) {
				skip_ws(j);
				if (j->p >= j->end || *j->p != '"')
					return jsyntax(j, "a key");
				if (parse_string(j, NULL, 0, &len, &ovf, 0) == -1 ||
				    expect(j, ':', "':'") == -1)
					return -1;
			}
			if (skip_value(j, depth + 1) == -1)
				return -1;
			skip_ws(j);
			if (j->p < j->end && *j->p == ',') {
				j->p++;
				continue;
			}
			if (j->p < j->end && *j->p == close) {
				j->p++;
				return 0;
			}
			return jsyntax(j, obj ? "',' or '}'" : "',' or ']'");
		}
	}
	case 't': return parse_literal(j, "true");
	case 'f': return parse_literal(j, "false");
	case 'n': return parse_literal(j, "null");
	default: return parse_number(j, &lex, &len);
	}
}

/* ---- candles ---- */

enum fkind { K_MARKET, K_TIME, K_NUM, K_INT, K_DATE };

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

static const struct {
	const char *name;
	unsigned char len;
	unsigned char kind;
	signed char num; /* enum candle_num, or -1 */
} fields[F_COUNT] = {
	[F_MARKET] = { "market", 6, K_MARKET, -1 },
	[F_UTC] = { "candle_date_time_utc", 20, K_TIME, -1 },
	[F_KST] = { "candle_date_time_kst", 20, K_TIME, -1 },
	[F_OPEN] = { "opening_price", 13, K_NUM, CN_OPEN },
	[F_HIGH] = { "high_price", 10, K_NUM, CN_HIGH },
	[F_LOW] = { "low_price", 9, K_NUM, CN_LOW },
	[F_CLOSE] = { "trade_price", 11, K_NUM, CN_CLOSE },
	[F_TIMESTAMP] = { "timestamp", 9, K_INT, -1 },
	[F_ACC_PRICE] = { "candle_acc_trade_price", 22, K_NUM, CN_ACC_PRICE },
	[F_ACC_VOLUME] = { "candle_acc_trade_volume", 23, K_NUM, CN_ACC_VOLUME },
	[F_UNIT] = { "unit", 4, K_INT, -1 },
	[F_PREV_CLOSE] = { "prev_closing_price", 18, K_NUM, CN_PREV_CLOSE },
	[F_CHANGE_PRICE] = { "change_price", 12, K_NUM, CN_CHANGE_PRICE },
	[F_CHANGE_RATE] = { "change_rate", 11, K_NUM, CN_CHANGE_RATE },
	[F_CONVERTED] = { "converted_trade_price", 21, K_NUM, CN_CONVERTED },
	[F_FIRST_DAY] = { "first_day_of_period", 19, K_DATE, -1 },
};

#define REQUIRED_MASK                                                                         \
	((1u << F_MARKET) | (1u << F_UTC) | (1u << F_KST) | (1u << F_OPEN) | (1u << F_HIGH) | \
	 (1u << F_LOW) | (1u << F_CLOSE) | (1u << F_TIMESTAMP) | (1u << F_ACC_PRICE) |        \
	 (1u << F_ACC_VOLUME))

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
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Exactly "YYYY-MM-DDTHH:MM:SS" (Upbit's naive UTC/KST form). */
static int
parse_naive_time(const char *s, size_t len, int64_t *out)
{
	if (len != UTC_TEXT_LEN || s[10] != 'T')
		return -1;
	return time_parse(s, out);
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

struct cstate {
	int64_t kst;
	unsigned seen;
};

/* Reads one value of a known field into c. */
static int
read_field(struct jp *j, int f, int idx, const struct upbit_query *q, struct candle *c,
           struct cstate *st)
{
	char buf[64], shown[32];
	const char *lex;
	size_t len;
	int ovf;
	int64_t v;

	/* optional extras may be null: absent */
	if (f >= F_UNIT && j->p < j->end && *j->p == 'n')
		return parse_literal(j, "null");
	switch (fields[f].kind) {
	case K_MARKET:
		if (j->p >= j->end || *j->p != '"')
			return jfail(j, "candle %d: market is not a string", idx);
		if (parse_string(j, buf, sizeof(buf), &len, &ovf, 1) == -1)
			return -1;
		if (ovf || len != strlen(q->market) || memcmp(buf, q->market, len) != 0) {
			printable(shown, sizeof(shown), buf);
			return jfail(j, "candle %d: market %s, asked %s", idx, shown, q->market);
		}
		return 0;
	case K_TIME:
		if (j->p >= j->end || *j->p != '"')
			return jfail(j, "candle %d: %s is not a string", idx, fields[f].name);
		if (parse_string(j, buf, sizeof(buf), &len, &ovf, 1) == -1)
			return -1;
		if (ovf || parse_naive_time(buf, len, &v) == -1) {
			printable(shown, sizeof(shown), buf);
			return jfail(j, "candle %d: bad %s \"%s\"", idx, fields[f].name, shown);
		}
		if (f == F_UTC)
			c->start = v;
		else
			st->kst = v;
		return 0;
	case K_DATE:
		if (j->p >= j->end || *j->p != '"')
			return jfail(j, "candle %d: %s is not a string", idx, fields[f].name);
		if (parse_string(j, buf, sizeof(buf), &len, &ovf, 1) == -1)
			return -1;
		if (ovf || len != DATE_TEXT_LEN || time_parse(buf, &v) == -1) {
			printable(shown, sizeof(shown), buf);
			return jfail(j, "candle %d: bad %s \"%s\"", idx, fields[f].name, shown);
		}
		memcpy(c->first_day, buf, DATE_TEXT_LEN + 1);
		return 0;
	case K_NUM:
		if (j->p >= j->end || !(*j->p == '-' || is_digit(*j->p)))
			return jfail(j, "candle %d: %s is not a number", idx, fields[f].name);
		if (parse_number(j, &lex, &len) == -1)
			return -1;
		if (len >= CANDLE_NUM_MAX)
			return jfail(j, "candle %d: %s longer than %d digits", idx, fields[f].name,
			             CANDLE_NUM_MAX - 1);
		memcpy(c->num[fields[f].num], lex, len);
		c->num[fields[f].num][len] = '\0';
		return 0;
	case K_INT:
		if (j->p >= j->end || !(*j->p == '-' || is_digit(*j->p)))
			return jfail(j, "candle %d: %s is not a number", idx, fields[f].name);
		if (parse_number(j, &lex, &len) == -1)
			return -1;
		if (lex_int(lex, len, &v) == -1)
			return jfail(j, "candle %d: %s is not a positive integer", idx,
			             fields[f].name);
		if (f == F_TIMESTAMP) {
			if (v <= 0)
				return jfail(j, "candle %d: timestamp is not > 0", idx);
			c->timestamp_ms = v;
		} else {
			if (v < 1 || v > UNIT_MAX)
				return jfail(j, "candle %d: unit %lld out of range", idx,
				             (long long)v);
			c->unit = (int32_t)v;
		}
		return 0;
	}
	return jfail(j, "candle %d: internal: unknown field kind", idx);
}

/* strtod of a kept decimal (the JSON grammar already holds). */
static double
num_value(const struct candle *c, int n)
{
	return strtod(c->num[n], NULL);
}

/* The checks that need the whole candle; prev is the previous start or
 * INT64_MAX for the first. Times are formatted only for a reason. */
static int
check_candle(struct jp *j, int idx, const struct upbit_query *q, const struct candle *c,
             const struct cstate *st, int64_t prev)
{
	char t1[TIME_TEXT_LEN], t2[TIME_TEXT_LEN];
	const char *what;
	double o, h, l, cl;

	if ((st->seen & REQUIRED_MASK) != REQUIRED_MASK) {
		for (int f = 0; f < F_COUNT; f++)
			if ((REQUIRED_MASK & (1u << f)) && !(st->seen & (1u << f)))
				return jfail(j, "candle %d: missing %s", idx, fields[f].name);
	}
	if (c->start < 0) {
		what = "start before 1970";
		goto fail;
	}
	if (tf_floor(q->tf, c->start) != c->start) {
		time_format(c->start, t1);
		return jfail(j, "candle %d: start %s not aligned to %s", idx, t1, tf_name(q->tf));
	}
	if (st->kst != c->start + KST_OFFSET_S) {
		what = "candle_date_time_kst is not utc+9h";
		goto fail;
	}
	if (c->start >= q->to) {
		time_format(c->start, t1);
		time_format(q->to, t2);
		return jfail(j, "candle %d: start %s not before to %s", idx, t1, t2);
	}
	if (c->start == prev) {
		what = "duplicate start";
		goto fail;
	}
	if (c->start > prev) {
		what = "start not older than the one before";
		goto fail;
	}
	if ((st->seen & (1u << F_UNIT)) && q->tf >= TF_1M && q->tf <= TF_4H &&
	    c->unit != tf_fixed_seconds(q->tf) / 60)
		return jfail(j, "candle %d: unit %d for timeframe %s", idx, (int)c->unit,
		             tf_name(q->tf));
	o = num_value(c, CN_OPEN);
	h = num_value(c, CN_HIGH);
	l = num_value(c, CN_LOW);
	cl = num_value(c, CN_CLOSE);
	if (!(isfinite(o) && o > 0) || !(isfinite(h) && h > 0) || !(isfinite(l) && l > 0) ||
	    !(isfinite(cl) && cl > 0)) {
		what = "a price is not > 0";
		goto fail;
	}
	if (l > o || l > cl) {
		what = "low_price above open or close";
		goto fail;
	}
	if (h < o || h < cl) {
		what = "high_price below open or close";
		goto fail;
	}
	for (int n = CN_ACC_PRICE; n <= CN_ACC_VOLUME; n++) {
		double v = num_value(c, n);

		if (!isfinite(v) || v < 0) {
			what = n == CN_ACC_PRICE ? "candle_acc_trade_price is negative"
			                         : "candle_acc_trade_volume is negative";
			goto fail;
		}
	}
	for (int n = CN_PREV_CLOSE; n < CN_COUNT; n++) {
		if (c->num[n][0] != '\0' && !isfinite(num_value(c, n))) {
			what = "a number out of range";
			goto fail;
		}
	}
	return 0;
fail:
	time_format(c->start, t1);
	return jfail(j, "candle %d: %s (%s)", idx, what, t1);
}

static int
parse_candle(struct jp *j, int idx, const struct upbit_query *q, struct candle *c, int64_t prev)
{
	struct cstate st = { 0, 0 };
	char key[KEY_MAX];
	size_t klen;
	int ovf, f;

	memset(c, 0, sizeof(*c));
	skip_ws(j);
	if (j->p >= j->end)
		return jsyntax(j, "a candle object");
	if (*j->p != '{')
		return jfail(j, "candle %d: not an object (byte %zu)", idx, jpos(j));
	j->p++;
	skip_ws(j);
	if (j->p < j->end && *j->p == '}') {
		j->p++;
		return check_candle(j, idx, q, c, &st, prev);
	}
	for (;;) {
		skip_ws(j);
		if (j->p >= j->end || *j->p != '"')
			return jsyntax(j, "a key");
		if (parse_string(j, key, sizeof(key), &klen, &ovf, 0) == -1 ||
		    expect(j, ':', "':'") == -1)
			return -1;
		skip_ws(j);
		f = ovf ? -1 : field_lookup(key, klen);
		if (f < 0) {
			if (skip_value(j, 2) == -1)
				return -1;
		} else {
			if (st.seen & (1u << f))
				return jfail(j, "candle %d: duplicate field %s", idx,
				             fields[f].name);
			st.seen |= 1u << f;
			if (read_field(j, f, idx, q, c, &st) == -1)
				return -1;
		}
		skip_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == '}') {
			j->p++;
			break;
		}
		return jsyntax(j, "',' or '}'");
	}
	return check_candle(j, idx, q, c, &st, prev);
}

int
upbit_parse_candles(const char *body, size_t len, const struct upbit_query *q, struct candle *out,
                    size_t cap, char *err, size_t errlen)
{
	struct jp j = { body, body + len, body, err, errlen };
	int64_t prev = INT64_MAX;
	size_t max = q->count < cap ? q->count : cap;
	int n = 0;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (body == NULL || len == 0)
		return jfail(&j, "empty body");
	if (len > UPBIT_BODY_MAX_BYTES)
		return jfail(&j, "body larger than %d bytes", UPBIT_BODY_MAX_BYTES);
	skip_ws(&j);
	if (j.p < j.end && *j.p != '[')
		return jfail(&j, "not a JSON array (byte %zu)", jpos(&j));
	if (expect(&j, '[', "'['") == -1)
		return -1;
	skip_ws(&j);
	if (j.p < j.end && *j.p == ']') {
		j.p++;
	} else {
		for (;;) {
			if ((size_t)n >= max)
				return jfail(&j, "more than %zu candles (count %u)", max, q->count);
			if (parse_candle(&j, n, q, &out[n], prev) == -1)
				return -1;
			prev = out[n].start;
			n++;
			skip_ws(&j);
			if (j.p < j.end && *j.p == ',') {
				j.p++;
				continue;
			}
			if (j.p < j.end && *j.p == ']') {
				j.p++;
				break;
			}
			return jsyntax(&j, "',' or ']'");
		}
	}
	skip_ws(&j);
	if (j.p != j.end)
		return jfail(&j, "json: trailing bytes after the array at byte %zu", jpos(&j));
	return n;
}

/* ---- error envelope ---- */

/* Control characters become spaces; a UTF-8 sequence cut by truncation is
 * removed. */
static void
sanitize(char *s)
{
	size_t n = strlen(s), i = n;

	for (size_t k = 0; k < n; k++)
		if ((unsigned char)s[k] < 0x20 || s[k] == 0x7f)
			s[k] = ' ';
	/* back up over a trailing incomplete sequence */
	while (i > 0 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
		i--;
	if (i > 0 && (unsigned char)s[i - 1] >= 0xc0 &&
	    utf8_seq_len((const unsigned char *)s + i - 1, n - (i - 1)) != n - (i - 1))
		s[i - 1] = '\0';
}

static int
parse_error_inner(struct jp *j, struct upbit_error *e, int *found)
{
	char key[KEY_MAX];
	size_t klen, len;
	const char *lex;
	int ovf;
	int64_t v;

	j->p++; /* '{' */
	skip_ws(j);
	if (j->p < j->end && *j->p == '}') {
		j->p++;
		return 0;
	}
	for (;;) {
		skip_ws(j);
		if (j->p >= j->end || *j->p != '"')
			return jsyntax(j, "a key");
		if (parse_string(j, key, sizeof(key), &klen, &ovf, 0) == -1 ||
		    expect(j, ':', "':'") == -1)
			return -1;
		skip_ws(j);
		if (!ovf && klen == 4 && memcmp(key, "name", 4) == 0 && j->p < j->end &&
		    (*j->p == '-' || is_digit(*j->p))) {
			if (parse_number(j, &lex, &len) == -1)
				return -1;
			if (len >= sizeof(e->name))
				len = sizeof(e->name) - 1;
			memcpy(e->name, lex, len);
			e->name[len] = '\0';
			if (lex_int(lex, len, &v) == 0) {
				e->has_code = 1;
				e->code = (long)v;
			}
			*found = 1;
		} else if (!ovf && klen == 4 && memcmp(key, "name", 4) == 0 && j->p < j->end &&
		           *j->p == '"') {
			if (parse_string(j, e->name, sizeof(e->name), &len, &ovf, 1) == -1)
				return -1;
			sanitize(e->name);
			*found = 1;
		} else if (!ovf && klen == 7 && memcmp(key, "message", 7) == 0 && j->p < j->end &&
		           *j->p == '"') {
			if (parse_string(j, e->message, sizeof(e->message), &len, &ovf, 1) == -1)
				return -1;
			sanitize(e->message);
			*found = 1;
		} else if (skip_value(j, 2) == -1) {
			return -1;
		}
		skip_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == '}') {
			j->p++;
			return 0;
		}
		return jsyntax(j, "',' or '}'");
	}
}

int
upbit_parse_error(const char *body, size_t len, struct upbit_error *out)
{
	struct jp j = { body, body + len, body, NULL, 0 };
	struct upbit_error e;
	char key[KEY_MAX];
	size_t klen;
	int ovf, found = 0;

	if (body == NULL || len == 0 || len > UPBIT_BODY_MAX_BYTES)
		return -1;
	memset(&e, 0, sizeof(e));
	if (expect(&j, '{', "'{'") == -1)
		return -1;
	skip_ws(&j);
	if (j.p < j.end && *j.p == '}') {
		j.p++;
		goto done;
	}
	for (;;) {
		skip_ws(&j);
		if (j.p >= j.end || *j.p != '"')
			return -1;
		if (parse_string(&j, key, sizeof(key), &klen, &ovf, 0) == -1 ||
		    expect(&j, ':', "':'") == -1)
			return -1;
		skip_ws(&j);
		/* NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult): parse_string sets klen or fails */
		if (!ovf && klen == 5 && memcmp(key, "error", 5) == 0 && j.p < j.end &&
		    *j.p == '{') {
			if (parse_error_inner(&j, &e, &found) == -1)
				return -1;
		} else if (skip_value(&j, 1) == -1) {
			return -1;
		}
		skip_ws(&j);
		if (j.p < j.end && *j.p == ',') {
			j.p++;
			continue;
		}
		if (j.p < j.end && *j.p == '}') {
			j.p++;
			break;
		}
		return -1;
	}
done:
	skip_ws(&j);
	if (j.p != j.end || !found)
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

uint32_t
upbit_block_ms(const char *msg)
{
	static const char *const secs[] = { "s", "sec", "secs", "second", "seconds", NULL };
	static const char *const mins[] = { "m", "min", "mins", "minute", "minutes", NULL };
	const char *p = msg;

	if (msg == NULL)
		return 0;
	while (*p != '\0') {
		if (!is_digit(*p) || (p > msg && is_digit(p[-1]))) {
			p++;
			continue;
		}
		uint64_t v = 0;
		char w[12];
		size_t wl = 0;

		while (is_digit(*p)) {
			if (v <= BLOCK_MAX_S * 60ULL)
				v = v * 10 + (uint64_t)(*p - '0');
			p++;
		}
		const char *q = p;
		while (*q == ' ')
			q++;
		while (((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z')) &&
		       wl + 1 < sizeof(w)) {
			w[wl++] = (char)(*q | 0x20);
			q++;
		}
		w[wl] = '\0';
		if ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z'))
			continue; /* a longer word: not a unit */
		if (word_in(w, secs))
			return (uint32_t)(v > BLOCK_MAX_S ? BLOCK_MAX_S : v) * 1000u;
		if (word_in(w, mins)) {
			v *= 60;
			return (uint32_t)(v > BLOCK_MAX_S ? BLOCK_MAX_S : v) * 1000u;
		}
	}
	return 0;
}

int
upbit_remaining_req(const char *value, size_t len)
{
	const char *p = value, *end;
	int group_ok = 0;
	long sec = -1;

	if (value == NULL)
		return -1;
	end = value + len;
	while (p < end) {
		const char *tok = p, *tend, *eq;

		while (p < end && *p != ';')
			p++;
		tend = p;
		if (p < end)
			p++;
		while (tok < tend && (*tok == ' ' || *tok == '\t'))
			tok++;
		while (tend > tok && (tend[-1] == ' ' || tend[-1] == '\t' || tend[-1] == '\r' ||
		                      tend[-1] == '\n'))
			tend--;
		if ((eq = memchr(tok, '=', (size_t)(tend - tok))) == NULL)
			continue;
		if (eq - tok == 5 && strncasecmp(tok, "group", 5) == 0) {
			group_ok = tend - eq - 1 == 7 && strncasecmp(eq + 1, "candles", 7) == 0;
		} else if (eq - tok == 3 && strncasecmp(tok, "sec", 3) == 0) {
			int64_t v;
			if (lex_int(eq + 1, (size_t)(tend - eq - 1), &v) == -1)
				return -1;
			sec = v > REMAINING_MAX ? REMAINING_MAX : (long)v;
		}
	}
	return group_ok ? (int)sec : -1;
}
