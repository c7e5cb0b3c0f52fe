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

	*out = 0;
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

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* The cursor is at c. */
static int
at(const struct jp *j, char c)
{
	return j->p < j->end && *j->p == c;
}

/* The cursor is at the start of a number. */
static int
at_number(const struct jp *j)
{
	return j->p < j->end && (*j->p == '-' || is_digit(*j->p));
}

/* ---- strings ---- */

/* A string's decoded text: bytes go to out (cap with the NUL; out NULL:
 * validate only) while they fit and nothing was dropped before, a
 * character's bytes all or none; w counts the bytes written, n all bytes. */
struct sbuf {
	char *out;
	size_t cap, w, n;
	int overflow;
};

static void
put(struct sbuf *b, const char *s, size_t k)
{
	if (b->out != NULL && !b->overflow && b->w + k < b->cap) {
		memcpy(b->out + b->w, s, k);
		b->w += k;
	} else {
		b->overflow = 1;
	}
	b->n += k;
}

/* The code point of a \u escape (the cursor is after its "\u"), joining a
 * surrogate pair. */
static int
read_u_escape(struct jp *j, unsigned *cp)
{
	unsigned lo;

	if (hex4(j, cp) == -1)
		return -1;
	if (*cp >= 0xdc00 && *cp <= 0xdfff)
		return jfail(j, "json: lone low surrogate at byte %zu", jpos(j));
	if (*cp < 0xd800 || *cp > 0xdbff)
		return 0;
	if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
		return jfail(j, "json: lone high surrogate at byte %zu", jpos(j));
	j->p += 2;
	if (hex4(j, &lo) == -1)
		return -1;
	if (lo < 0xdc00 || lo > 0xdfff)
		return jfail(j, "json: bad surrogate pair at byte %zu", jpos(j));
	*cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
	return 0;
}

/* The UTF-8 encoding of a code point (at most 0x10ffff); its length. */
static size_t
utf8_encode(unsigned cp, char *u8)
{
	if (cp < 0x80) {
		u8[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		u8[0] = (char)(0xc0 | cp >> 6);
		u8[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		u8[0] = (char)(0xe0 | cp >> 12);
		u8[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u8[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	u8[0] = (char)(0xf0 | cp >> 18);
	u8[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	u8[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	u8[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* One escape (the cursor is at its backslash). kept != 0 rejects \u0000. */
static int
parse_escape(struct jp *j, struct sbuf *b, int kept)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *e;
	char u8[4];
	unsigned cp;

	if (j->end - j->p < 2)
		return jfail(j, "json: truncated escape at byte %zu", jpos(j));
	j->p += 2;
	if (j->p[-1] == 'u') {
		if (read_u_escape(j, &cp) == -1)
			return -1;
		if (cp == 0 && kept)
			return jfail(j, "json: \\u0000 in a kept string at byte %zu", jpos(j));
		put(b, u8, utf8_encode(cp, u8));
		return 0;
	}
	if (j->p[-1] == '\0' || (e = strchr(from, j->p[-1])) == NULL) {
		j->p -= 1;
		return jfail(j, "json: bad escape at byte %zu", jpos(j));
	}
	put(b, &to[e - from], 1);
	return 0;
}

/* One character that is not plain ASCII: an escape or a UTF-8 sequence. */
static int
parse_special(struct jp *j, struct sbuf *b, int kept)
{
	unsigned char c = (unsigned char)*j->p;
	size_t k;

	if (c < 0x20)
		return jfail(j, "json: control character in string at byte %zu", jpos(j));
	if (c == '\\')
		return parse_escape(j, b, kept);
	k = utf8_seq_len((const unsigned char *)j->p, (size_t)(j->end - j->p));
	if (k == 0)
		return jfail(j, "json: invalid UTF-8 at byte %zu", jpos(j));
	put(b, j->p, k);
	j->p += k;
	return 0;
}

/* Copies plain printable ASCII up to the next special character. */
static void
copy_plain(struct jp *j, struct sbuf *b)
{
	while (j->p < j->end) {
		unsigned char c = (unsigned char)*j->p;

		if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80)
			return;
		put(b, j->p, 1);
		j->p++;
	}
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
	struct sbuf b = { out, cap, 0, 0, 0 };
	const char *start = j->p;

	*len = 0;
	*overflow = 0;
	j->p++;
	for (;;) {
		copy_plain(j, &b);
		if (b.n > UPBIT_STRING_MAX_BYTES)
			return jfail(j, "json: string at byte %zu longer than %d bytes",
			             (size_t)(start - j->base), UPBIT_STRING_MAX_BYTES);
		if (j->p >= j->end)
			return jfail(j, "json: truncated string at byte %zu",
			             (size_t)(start - j->base));
		if (*j->p == '"')
			break;
		if (parse_special(j, &b, kept) == -1)
			return -1;
	}
	j->p++;
	if (out != NULL && cap > 0)
		out[b.w] = '\0';
	*len = b.n;
	*overflow = b.overflow;
	return 0;
}

/* ---- numbers, literals, containers ---- */

/* Skips digits; 0 if there was none. */
static int
skip_digits(struct jp *j)
{
	const char *s = j->p;

	while (j->p < j->end && is_digit(*j->p))
		j->p++;
	return j->p > s;
}

/* Checks the number at the cursor against the JSON grammar; *lex and *len
 * get its text. */
static int
parse_number(struct jp *j, const char **lex, size_t *len)
{
	const char *s = j->p;

	*lex = s;
	*len = 0;
	if (at(j, '-'))
		j->p++;
	if (at(j, '0'))
		j->p++;
	else if (!skip_digits(j))
		return jsyntax(j, "a digit");
	if (at(j, '.')) {
		j->p++;
		if (!skip_digits(j))
			return jsyntax(j, "a fraction digit");
	}
	if (at(j, 'e') || at(j, 'E')) {
		j->p++;
		if (at(j, '+') || at(j, '-'))
			j->p++;
		if (!skip_digits(j))
			return jsyntax(j, "an exponent digit");
	}
	/* a number must not run into a letter ("1x", "2true") */
	if (j->p < j->end && (is_alpha(*j->p) || *j->p == '.'))
		return jsyntax(j, "the end of a number");
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

/* One member of an object (key: its name, klen 0 if longer than KEY_MAX - 1)
 * or one element of an array (key NULL), the cursor at its value. */
typedef int (*item_fn)(struct jp *j, const char *key, size_t klen, void *ctx);

/* An object key and its ':'; the cursor ends at the value. */
static int
read_key(struct jp *j, char *key, size_t *klen)
{
	int ovf;

	skip_ws(j);
	if (!at(j, '"'))
		return jsyntax(j, "a key");
	if (parse_string(j, key, KEY_MAX, klen, &ovf, 0) == -1 || expect(j, ':', "':'") == -1)
		return -1;
	if (ovf) {
		key[0] = '\0';
		*klen = 0;
	}
	skip_ws(j);
	return 0;
}

/* The object (obj != 0) or array at the cursor: fn for each member or
 * element, the separators and the closing bracket checked here. */
static int
parse_container(struct jp *j, int obj, item_fn fn, void *ctx)
{
	char close = obj ? '}' : ']', key[KEY_MAX];
	size_t klen = 0;

	j->p++;
	skip_ws(j);
	if (at(j, close)) {
		j->p++;
		return 0;
	}
	for (;;) {
		if (obj && read_key(j, key, &klen) == -1)
			return -1;
		if (fn(j, obj ? key : NULL, klen, ctx) == -1)
			return -1;
		skip_ws(j);
		if (at(j, ',')) {
			j->p++;
			continue;
		}
		if (at(j, close)) {
			j->p++;
			return 0;
		}
		return jsyntax(j, obj ? "',' or '}'" : "',' or ']'");
	}
}

static int skip_value(struct jp *j, int depth);

/* A member or element of a skipped container; ctx: its depth. */
static int
skip_item(struct jp *j, const char *key, size_t klen, void *ctx)
{
	(void)key;
	(void)klen;
	return skip_value(j, *(const int *)ctx);
}

/* Skips one value of any type; containers entered here are at depth+1. */
static int
skip_value(struct jp *j, int depth)
{
	const char *lex;
	size_t len;
	int ovf, inner = depth + 1;

	skip_ws(j);
	if (j->p >= j->end)
		return jsyntax(j, "a value");
	switch (*j->p) {
	case '"': return parse_string(j, NULL, 0, &len, &ovf, 0);
	case '{':
	case '[':
		if (inner > UPBIT_DEPTH_MAX)
			return jfail(j, "json: nesting deeper than %d at byte %zu", UPBIT_DEPTH_MAX,
			             jpos(j));
		return parse_container(j, *j->p == '{', skip_item, &inner);
	case 't': return parse_literal(j, "true");
	case 'f': return parse_literal(j, "false");
	case 'n': return parse_literal(j, "null");
	default: return parse_number(j, &lex, &len);
	}
}

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

typedef int (*field_reader)(struct jp *j, int f, struct cread *r);

static int read_market(struct jp *j, int f, struct cread *r);
static int read_utc(struct jp *j, int f, struct cread *r);
static int read_kst(struct jp *j, int f, struct cread *r);
static int read_num(struct jp *j, int f, struct cread *r);
static int read_timestamp(struct jp *j, int f, struct cread *r);
static int read_unit(struct jp *j, int f, struct cread *r);
static int read_date(struct jp *j, int f, struct cread *r);

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
		if (!is_digit(s[i]))
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
read_text(struct jp *j, int f, const struct cread *r, char *buf, size_t cap, size_t *len)
{
	int ovf;

	buf[0] = '\0';
	if (!at(j, '"'))
		return jfail(j, "candle %d: %s is not a string", r->idx, fields[f].name);
	if (parse_string(j, buf, cap, len, &ovf, 1) == -1)
		return -1;
	if (ovf)
		*len = cap;
	return 0;
}

/* The rejection of a malformed string value. */
static int
bad_text(struct jp *j, int f, const struct cread *r, const char *buf)
{
	char shown[32];

	printable(shown, sizeof(shown), buf);
	return jfail(j, "candle %d: bad %s \"%s\"", r->idx, fields[f].name, shown);
}

static int
read_market(struct jp *j, int f, struct cread *r)
{
	char buf[64], shown[32];
	size_t len = 0;

	if (read_text(j, f, r, buf, sizeof(buf), &len) == -1)
		return -1;
	if (len != strlen(r->q->market) || memcmp(buf, r->q->market, len) != 0) {
		printable(shown, sizeof(shown), buf);
		return jfail(j, "candle %d: market %s, asked %s", r->idx, shown, r->q->market);
	}
	return 0;
}

/* Exactly "YYYY-MM-DDTHH:MM:SS" (Upbit's naive UTC/KST form). */
static int
read_naive_time(struct jp *j, int f, struct cread *r, int64_t *out)
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
read_utc(struct jp *j, int f, struct cread *r)
{
	return read_naive_time(j, f, r, &r->c->start);
}

static int
read_kst(struct jp *j, int f, struct cread *r)
{
	return read_naive_time(j, f, r, &r->kst);
}

/* "YYYY-MM-DD" */
static int
read_date(struct jp *j, int f, struct cread *r)
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
read_lex(struct jp *j, int f, const struct cread *r, const char **lex, size_t *len)
{
	if (!at_number(j))
		return jfail(j, "candle %d: %s is not a number", r->idx, fields[f].name);
	return parse_number(j, lex, len);
}

/* A decimal, kept as its exact text. */
static int
read_num(struct jp *j, int f, struct cread *r)
{
	const char *lex = "";
	size_t len = 0;

	if (read_lex(j, f, r, &lex, &len) == -1)
		return -1;
	if (len >= CANDLE_NUM_MAX)
		return jfail(j, "candle %d: %s longer than %d digits", r->idx, fields[f].name,
		             CANDLE_NUM_MAX - 1);
	memcpy(r->c->num[fields[f].num], lex, len);
	r->c->num[fields[f].num][len] = '\0';
	return 0;
}

/* An integer field in 1..max. */
static int
read_int(struct jp *j, int f, const struct cread *r, int64_t max, int64_t *v)
{
	const char *lex = "";
	size_t len = 0;

	if (read_lex(j, f, r, &lex, &len) == -1)
		return -1;
	if (lex_int(lex, len, v) == -1)
		return jfail(j, "candle %d: %s is not a positive integer", r->idx, fields[f].name);
	if (*v < 1 || *v > max)
		return jfail(j, "candle %d: %s %lld out of range", r->idx, fields[f].name,
		             (long long)*v);
	return 0;
}

static int
read_timestamp(struct jp *j, int f, struct cread *r)
{
	return read_int(j, f, r, INT64_MAX, &r->c->timestamp_ms);
}

static int
read_unit(struct jp *j, int f, struct cread *r)
{
	int64_t v;

	if (read_int(j, f, r, UNIT_MAX, &v) == -1)
		return -1;
	r->c->unit = (int32_t)v;
	return 0;
}

/* One member of a candle object: a known field once, unknown ones skipped. */
static int
candle_member(struct jp *j, const char *key, size_t klen, void *ctx)
{
	struct cread *r = ctx;
	int f = field_lookup(key, klen);

	if (f < 0)
		return skip_value(j, 2);
	if (r->seen & (1u << f))
		return jfail(j, "candle %d: duplicate field %s", r->idx, fields[f].name);
	r->seen |= 1u << f;
	/* optional extras may be null: absent */
	if (f >= F_UNIT && at(j, 'n'))
		return parse_literal(j, "null");
	return fields[f].read(j, f, r);
}

/* strtod of a kept decimal (the JSON grammar already holds). */
static double
num_value(const struct candle *c, int n)
{
	return strtod(c->num[n], NULL);
}

/* A rejected candle, named by its start. */
static int
candle_fail(struct jp *j, const struct cread *r, const char *what)
{
	char t[TIME_TEXT_LEN];

	time_format(r->c->start, t);
	return jfail(j, "candle %d: %s (%s)", r->idx, what, t);
}

static int
check_present(struct jp *j, const struct cread *r)
{
	for (int f = 0; f < F_COUNT; f++)
		if ((REQUIRED_MASK & (1u << f)) && !(r->seen & (1u << f)))
			return jfail(j, "candle %d: missing %s", r->idx, fields[f].name);
	return 0;
}

/* The start: aligned, KST = UTC + 9 h, before `to`, older than prev (the
 * previous start, INT64_MAX for the first); the unit matches the timeframe. */
static int
check_start(struct jp *j, const struct cread *r, int64_t prev)
{
	const struct candle *c = r->c;
	char t1[TIME_TEXT_LEN], t2[TIME_TEXT_LEN];
	enum tf tf = r->q->tf;

	if (c->start < 0)
		return candle_fail(j, r, "start before 1970");
	if (tf_floor(tf, c->start) != c->start) {
		time_format(c->start, t1);
		return jfail(j, "candle %d: start %s not aligned to %s", r->idx, t1, tf_name(tf));
	}
	if (r->kst != c->start + KST_OFFSET_S)
		return candle_fail(j, r, "candle_date_time_kst is not utc+9h");
	if (c->start >= r->q->to) {
		time_format(c->start, t1);
		time_format(r->q->to, t2);
		return jfail(j, "candle %d: start %s not before to %s", r->idx, t1, t2);
	}
	if (c->start == prev)
		return candle_fail(j, r, "duplicate start");
	if (c->start > prev)
		return candle_fail(j, r, "start not older than the one before");
	if ((r->seen & (1u << F_UNIT)) && tf >= TF_1M && tf <= TF_4H &&
	    c->unit != tf_fixed_seconds(tf) / 60)
		return jfail(j, "candle %d: unit %d for timeframe %s", r->idx, (int)c->unit,
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
check_prices(struct jp *j, const struct cread *r)
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
check_amounts(struct jp *j, const struct cread *r)
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
parse_candle(struct jp *j, int idx, const struct upbit_query *q, struct candle *c, int64_t prev)
{
	struct cread r = { idx, q, c, 0, 0 };

	memset(c, 0, sizeof(*c));
	skip_ws(j);
	if (j->p >= j->end)
		return jsyntax(j, "a candle object");
	if (*j->p != '{')
		return jfail(j, "candle %d: not an object (byte %zu)", idx, jpos(j));
	if (parse_container(j, 1, candle_member, &r) == -1 || check_present(j, &r) == -1 ||
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
candle_item(struct jp *j, const char *key, size_t klen, void *ctx)
{
	struct aread *a = ctx;

	(void)key;
	(void)klen;
	if ((size_t)a->n >= a->max)
		return jfail(j, "more than %zu candles (count %u)", a->max, a->q->count);
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
	struct jp j = { body, body + len, body, err, errlen };
	struct aread a = { q, out, q->count < cap ? q->count : cap, 0, INT64_MAX };

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (body == NULL || len == 0)
		return jfail(&j, "empty body");
	if (len > UPBIT_BODY_MAX_BYTES)
		return jfail(&j, "body larger than %d bytes", UPBIT_BODY_MAX_BYTES);
	skip_ws(&j);
	if (j.p >= j.end)
		return jsyntax(&j, "'['");
	if (*j.p != '[')
		return jfail(&j, "not a JSON array (byte %zu)", jpos(&j));
	if (parse_container(&j, 0, candle_item, &a) == -1)
		return -1;
	skip_ws(&j);
	if (j.p != j.end)
		return jfail(&j, "json: trailing bytes after the array at byte %zu", jpos(&j));
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
read_error_code(struct jp *j, struct eread *er)
{
	struct upbit_error *e = er->e;
	const char *lex;
	size_t len;
	int64_t v;

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
	er->found = 1;
	return 0;
}

/* "name" or "message" as a string, truncated to cap. */
static int
read_error_text(struct jp *j, struct eread *er, char *out, size_t cap)
{
	size_t len;
	int ovf;

	if (parse_string(j, out, cap, &len, &ovf, 1) == -1)
		return -1;
	sanitize(out);
	er->found = 1;
	return 0;
}

/* A member of {"name":..., "message":...}; other members are skipped. */
static int
error_member(struct jp *j, const char *key, size_t klen, void *ctx)
{
	struct eread *er = ctx;

	if (key_is(key, klen, "name") && at_number(j))
		return read_error_code(j, er);
	if (key_is(key, klen, "name") && at(j, '"'))
		return read_error_text(j, er, er->e->name, sizeof(er->e->name));
	if (key_is(key, klen, "message") && at(j, '"'))
		return read_error_text(j, er, er->e->message, sizeof(er->e->message));
	return skip_value(j, 2);
}

/* A member of the envelope: "error" is read, others are skipped. */
static int
envelope_member(struct jp *j, const char *key, size_t klen, void *ctx)
{
	if (key_is(key, klen, "error") && at(j, '{'))
		return parse_container(j, 1, error_member, ctx);
	return skip_value(j, 1);
}

int
upbit_parse_error(const char *body, size_t len, struct upbit_error *out)
{
	struct jp j = { body, body + len, body, NULL, 0 };
	struct upbit_error e;
	struct eread er = { &e, 0 };

	if (body == NULL || len == 0 || len > UPBIT_BODY_MAX_BYTES)
		return -1;
	memset(&e, 0, sizeof(e));
	skip_ws(&j);
	if (!at(&j, '{') || parse_container(&j, 1, envelope_member, &er) == -1)
		return -1;
	skip_ws(&j);
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
	while (is_alpha(*s) && wl + 1 < sizeof(w))
		w[wl++] = (char)(*s++ | 0x20);
	w[wl] = '\0';
	if (is_alpha(*s))
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

		if (!is_digit(*p)) {
			p++;
			continue;
		}
		for (; is_digit(*p); p++)
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
