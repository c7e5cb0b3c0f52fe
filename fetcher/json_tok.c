/*
 * json_tok.c: the JSON tokenizer of json_tok.h. One recursive-descent pass
 * over the body with a depth limit and a per-string size limit. The hot
 * path is a string's plain ASCII: copy_plain finds the whole run of plain
 * bytes (eight at a time) and copies it with one memcpy, instead of a
 * bounds-checked put per byte. Owns no state.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "json_tok.h"
#include "utf8.h"

int
jtok_fail(struct jtok *j, const char *fmt, ...)
{
	va_list ap;

	if (j->err != NULL && j->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(j->err, j->errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

size_t
jtok_pos(const struct jtok *j)
{
	return (size_t)(j->p - j->base);
}

/* A syntax error at the cursor. */
int
jtok_syntax(struct jtok *j, const char *want)
{
	unsigned char c;

	if (j->p >= j->end)
		return jtok_fail(j, "json: truncated at byte %zu (want %s)", jtok_pos(j), want);
	c = (unsigned char)*j->p;
	if (c >= 0x20 && c < 0x7f)
		return jtok_fail(j, "json: '%c' at byte %zu (want %s)", c, jtok_pos(j), want);
	return jtok_fail(j, "json: byte 0x%02x at %zu (want %s)", c, jtok_pos(j), want);
}

void
jtok_skip_ws(struct jtok *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
		j->p++;
}

/* Skips whitespace, then consumes c. 0 or -1. */
static int
expect(struct jtok *j, char c, const char *want)
{
	jtok_skip_ws(j);
	if (j->p >= j->end || *j->p != c)
		return jtok_syntax(j, want);
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
hex4(struct jtok *j, unsigned *out)
{
	unsigned v = 0;

	*out = 0;
	if (j->end - j->p < 4)
		return jtok_fail(j, "json: truncated \\u escape at byte %zu", jtok_pos(j));
	for (int i = 0; i < 4; i++) {
		int h = hexval((unsigned char)j->p[i]);
		if (h < 0)
			return jtok_fail(j, "json: bad \\u escape at byte %zu", jtok_pos(j));
		v = v << 4 | (unsigned)h;
	}
	j->p += 4;
	*out = v;
	return 0;
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
read_u_escape(struct jtok *j, unsigned *cp)
{
	unsigned lo;

	if (hex4(j, cp) == -1)
		return -1;
	if (*cp >= 0xdc00 && *cp <= 0xdfff)
		return jtok_fail(j, "json: lone low surrogate at byte %zu", jtok_pos(j));
	if (*cp < 0xd800 || *cp > 0xdbff)
		return 0;
	if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
		return jtok_fail(j, "json: lone high surrogate at byte %zu", jtok_pos(j));
	j->p += 2;
	if (hex4(j, &lo) == -1)
		return -1;
	if (lo < 0xdc00 || lo > 0xdfff)
		return jtok_fail(j, "json: bad surrogate pair at byte %zu", jtok_pos(j));
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
parse_escape(struct jtok *j, struct sbuf *b, int kept)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *e;
	char u8[4];
	unsigned cp;

	if (j->end - j->p < 2)
		return jtok_fail(j, "json: truncated escape at byte %zu", jtok_pos(j));
	j->p += 2;
	if (j->p[-1] == 'u') {
		if (read_u_escape(j, &cp) == -1)
			return -1;
		if (cp == 0 && kept)
			return jtok_fail(j, "json: \\u0000 in a kept string at byte %zu",
			                 jtok_pos(j));
		put(b, u8, utf8_encode(cp, u8));
		return 0;
	}
	if (j->p[-1] == '\0' || (e = strchr(from, j->p[-1])) == NULL) {
		j->p -= 1;
		return jtok_fail(j, "json: bad escape at byte %zu", jtok_pos(j));
	}
	put(b, &to[e - from], 1);
	return 0;
}

/* One character that is not plain ASCII: an escape or a UTF-8 sequence. */
static int
parse_special(struct jtok *j, struct sbuf *b, int kept)
{
	unsigned char c = (unsigned char)*j->p;
	size_t k;

	if (c < 0x20)
		return jtok_fail(j, "json: control character in string at byte %zu", jtok_pos(j));
	if (c == '\\')
		return parse_escape(j, b, kept);
	k = utf8_seq_len((const unsigned char *)j->p, (size_t)(j->end - j->p));
	if (k == 0)
		return jtok_fail(j, "json: invalid UTF-8 at byte %zu", jtok_pos(j));
	put(b, j->p, k);
	j->p += k;
	return 0;
}

/* Bytes of a plain run: printable ASCII but '"' and '\\'. */
static int
is_plain(unsigned char c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* Non-zero if one of the 8 bytes of w is not plain: a byte below 0x20, a
 * byte >= 0x80, or a zero byte in w ^ '"' or w ^ '\\' (the exact "has a
 * byte less than n" and "has a zero byte" tests of Bit Twiddling Hacks). */
static uint64_t
special_in(uint64_t w)
{
	uint64_t q = w ^ (ONES * '"'), bs = w ^ (ONES * '\\');

	return (((w - ONES * 0x20) & ~w) | ((q - ONES) & ~q) | ((bs - ONES) & ~bs) | w) & HIGHS;
}

/* The end of the run of plain bytes at s (before end). */
static const char *
plain_end(const char *s, const char *end)
{
	uint64_t w;

	while (end - s >= 8) {
		memcpy(&w, s, 8);
		if (special_in(w) != 0)
			break;
		s += 8;
	}
	while (s < end && is_plain((unsigned char)*s))
		s++;
	return s;
}

/* k plain ASCII bytes: each is a whole character, so the prefix that fits
 * is kept (put's all-or-none holds per character). */
static void
put_plain(struct sbuf *b, const char *s, size_t k)
{
	size_t room = 0, n = k;

	if (b->out != NULL && !b->overflow && b->cap > b->w + 1)
		room = b->cap - b->w - 1;
	if (n > room) {
		n = room;
		b->overflow = 1;
	}
	if (n > 0) {
		memcpy(b->out + b->w, s, n);
		b->w += n;
	}
	b->n += k;
}

/* Copies plain printable ASCII up to the next special character. */
static void
copy_plain(struct jtok *j, struct sbuf *b)
{
	const char *e = plain_end(j->p, j->end);

	if (e > j->p)
		put_plain(b, j->p, (size_t)(e - j->p));
	j->p = e;
}

/*
 * Reads the string at the cursor (which is at its '"'). Decoded text goes to
 * out (cap bytes with the NUL; out may be NULL to validate only); *len gets
 * the decoded length and *overflow is set if it did not fit (out then holds a
 * prefix). kept != 0 rejects \u0000 (the text becomes a C string).
 */
int
jtok_string(struct jtok *j, char *out, size_t cap, size_t *len, int *overflow, int kept)
{
	struct sbuf b = { out, cap, 0, 0, 0 };
	const char *start = j->p;

	*len = 0;
	*overflow = 0;
	j->p++;
	for (;;) {
		copy_plain(j, &b);
		if (b.n > JTOK_STRING_MAX_BYTES)
			return jtok_fail(j, "json: string at byte %zu longer than %d bytes",
			                 (size_t)(start - j->base), JTOK_STRING_MAX_BYTES);
		if (j->p >= j->end)
			return jtok_fail(j, "json: truncated string at byte %zu",
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
skip_digits(struct jtok *j)
{
	const char *s = j->p;

	while (j->p < j->end && jtok_is_digit(*j->p))
		j->p++;
	return j->p > s;
}

/* Checks the number at the cursor against the JSON grammar; *lex and *len
 * get its text. */
int
jtok_number(struct jtok *j, const char **lex, size_t *len)
{
	const char *s = j->p;

	*lex = s;
	*len = 0;
	if (jtok_at(j, '-'))
		j->p++;
	if (jtok_at(j, '0'))
		j->p++;
	else if (!skip_digits(j))
		return jtok_syntax(j, "a digit");
	if (jtok_at(j, '.')) {
		j->p++;
		if (!skip_digits(j))
			return jtok_syntax(j, "a fraction digit");
	}
	if (jtok_at(j, 'e') || jtok_at(j, 'E')) {
		j->p++;
		if (jtok_at(j, '+') || jtok_at(j, '-'))
			j->p++;
		if (!skip_digits(j))
			return jtok_syntax(j, "an exponent digit");
	}
	/* a number must not run into a letter ("1x", "2true") */
	if (j->p < j->end && (jtok_is_alpha(*j->p) || *j->p == '.'))
		return jtok_syntax(j, "the end of a number");
	*len = (size_t)(j->p - s);
	return 0;
}

int
jtok_literal(struct jtok *j, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
		return jtok_syntax(j, word);
	j->p += n;
	return 0;
}

/* An object key and its ':'; the cursor ends at the value. */
static int
read_key(struct jtok *j, char *key, size_t *klen)
{
	int ovf;

	jtok_skip_ws(j);
	if (!jtok_at(j, '"'))
		return jtok_syntax(j, "a key");
	if (jtok_string(j, key, JTOK_KEY_MAX, klen, &ovf, 0) == -1 || expect(j, ':', "':'") == -1)
		return -1;
	if (ovf) {
		key[0] = '\0';
		*klen = 0;
	}
	jtok_skip_ws(j);
	return 0;
}

/* The object (obj != 0) or array at the cursor: fn for each member or
 * element, the separators and the closing bracket checked here. */
int
jtok_container(struct jtok *j, int obj, jtok_item_fn fn, void *ctx)
{
	char close = obj ? '}' : ']', key[JTOK_KEY_MAX];
	size_t klen = 0;

	j->p++;
	jtok_skip_ws(j);
	if (jtok_at(j, close)) {
		j->p++;
		return 0;
	}
	for (;;) {
		if (obj && read_key(j, key, &klen) == -1)
			return -1;
		if (fn(j, obj ? key : NULL, klen, ctx) == -1)
			return -1;
		jtok_skip_ws(j);
		if (jtok_at(j, ',')) {
			j->p++;
			continue;
		}
		if (jtok_at(j, close)) {
			j->p++;
			return 0;
		}
		return jtok_syntax(j, obj ? "',' or '}'" : "',' or ']'");
	}
}

/* A member or element of a skipped container; ctx: its depth. */
static int
skip_item(struct jtok *j, const char *key, size_t klen, void *ctx)
{
	(void)key;
	(void)klen;
	return jtok_skip_value(j, *(const int *)ctx);
}

/* Skips one value of any type; containers entered here are at depth+1. */
int
jtok_skip_value(struct jtok *j, int depth)
{
	const char *lex;
	size_t len;
	int ovf, inner = depth + 1;

	jtok_skip_ws(j);
	if (j->p >= j->end)
		return jtok_syntax(j, "a value");
	switch (*j->p) {
	case '"': return jtok_string(j, NULL, 0, &len, &ovf, 0);
	case '{':
	case '[':
		if (inner > JTOK_DEPTH_MAX)
			return jtok_fail(j, "json: nesting deeper than %d at byte %zu",
			                 JTOK_DEPTH_MAX, jtok_pos(j));
		return jtok_container(j, *j->p == '{', skip_item, &inner);
	case 't': return jtok_literal(j, "true");
	case 'f': return jtok_literal(j, "false");
	case 'n': return jtok_literal(j, "null");
	default: return jtok_number(j, &lex, &len);
	}
}
