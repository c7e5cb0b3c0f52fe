/*
 * candle.c: one candle as Upbit's JSON object, from the texts of its row's
 * columns (struct sv_cols, in the order of sdb.c's CANDLE_COLS), whatever
 * database they were read from: every decimal is passed on as the stored
 * text, byte for byte. Owns the object's shape (the keys, their order,
 * which are quoted, which are left out when NULL) and nothing else.
 *
 * It is the inner loop of every candle answer (200 objects of 15 fields
 * for a covered request), so it reserves one object's room at once and
 * writes keys and values with plain copies of known lengths.
 */
#include <string.h>

#include "serve.h"

/* A key with what comes before and after its value: ,"name": or ,"name":" */
#define KEY(name) ",\"" name "\":"
#define QKEY(name) ",\"" name "\":\""

static const struct {
	const char *key; /* with its comma, colon and (quoted) opening quote */
	size_t len;
	int col, quoted;
} fields[] = {
	{ QKEY("candle_date_time_utc"), sizeof(QKEY("candle_date_time_utc")) - 1, 0, 1 },
	{ QKEY("candle_date_time_kst"), sizeof(QKEY("candle_date_time_kst")) - 1, 1, 1 },
	{ KEY("opening_price"), sizeof(KEY("opening_price")) - 1, 2, 0 },
	{ KEY("high_price"), sizeof(KEY("high_price")) - 1, 3, 0 },
	{ KEY("low_price"), sizeof(KEY("low_price")) - 1, 4, 0 },
	{ KEY("trade_price"), sizeof(KEY("trade_price")) - 1, 5, 0 },
	{ KEY("timestamp"), sizeof(KEY("timestamp")) - 1, 6, 0 },
	{ KEY("candle_acc_trade_price"), sizeof(KEY("candle_acc_trade_price")) - 1, 7, 0 },
	{ KEY("candle_acc_trade_volume"), sizeof(KEY("candle_acc_trade_volume")) - 1, 8, 0 },
	{ KEY("unit"), sizeof(KEY("unit")) - 1, 9, 0 },
	{ KEY("prev_closing_price"), sizeof(KEY("prev_closing_price")) - 1, 10, 0 },
	{ KEY("change_price"), sizeof(KEY("change_price")) - 1, 11, 0 },
	{ KEY("change_rate"), sizeof(KEY("change_rate")) - 1, 12, 0 },
	/* only with convert */
	{ KEY("converted_trade_price"), sizeof(KEY("converted_trade_price")) - 1, 13, 0 },
	{ QKEY("first_day_of_period"), sizeof(QKEY("first_day_of_period")) - 1, 14, 1 },
};
#define FIELDS (sizeof(fields) / sizeof(fields[0]))
#define CONVERTED 13 /* the index in fields of converted_trade_price */
#define MARKET_KEY "{\"market\":"

/* Whether s can go between quotes as it is (no '"', '\\' or control). */
static int
plain(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == '"' || s[i] == '\\' || (unsigned char)s[i] < 0x20)
			return 0;
	return 1;
}

/* {"market":"M" into b. */
static void
put_market(struct buf *b, const char *market)
{
	size_t n = strlen(market);
	char *p;

	if (!plain(market, n) || buf_reserve(b, sizeof(MARKET_KEY) + n + 2, BUF_NO_MAX) == -1) {
		sv_buf_put(b, MARKET_KEY, sizeof(MARKET_KEY) - 1);
		sv_buf_json_strn(b, market, n); /* escaped (or the sticky error) */
		return;
	}
	p = b->data + b->len;
	memcpy(p, MARKET_KEY, sizeof(MARKET_KEY) - 1);
	p += sizeof(MARKET_KEY) - 1;
	*p++ = '"';
	memcpy(p, market, n);
	p += n;
	*p++ = '"';
	*p = '\0';
	b->len = (size_t)(p - b->data);
}

/* Whether field i is written (its column not NULL, converted only if asked). */
static int
wanted(const struct sv_cols *c, size_t i, int convert)
{
	return c->v[fields[i].col] != NULL && (i != CONVERTED || convert);
}

int
sv_candle_json(struct buf *b, const char *market, const struct sv_cols *c, int convert)
{
	size_t need = 2;
	char *p;

	if (convert && c->v[fields[CONVERTED].col] == NULL)
		return -1;
	put_market(b, market);
	for (size_t i = 0; i < FIELDS; i++)
		if (wanted(c, i, convert))
			need += fields[i].len + c->n[fields[i].col] + 1;
	if (buf_reserve(b, need, BUF_NO_MAX) == -1)
		return 0; /* the sticky error: the sender answers 500 */
	p = b->data + b->len;
	for (size_t i = 0; i < FIELDS; i++) {
		int col = fields[i].col;

		if (!wanted(c, i, convert))
			continue;
		memcpy(p, fields[i].key, fields[i].len);
		p += fields[i].len;
		memcpy(p, c->v[col], c->n[col]);
		p += c->n[col];
		if (fields[i].quoted)
			*p++ = '"';
	}
	*p++ = '}';
	*p = '\0';
	b->len = (size_t)(p - b->data);
	return 0;
}

size_t
sv_int_text(char out[SV_INT_TEXT], int64_t v)
{
	/* the magnitude as unsigned, so that INT64_MIN has one too */
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	char tmp[SV_INT_TEXT];
	size_t n = 0, len;

	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	len = n + (v < 0);
	if (v < 0)
		out[0] = '-';
	for (size_t i = 0; i < n; i++)
		out[len - 1 - i] = tmp[i];
	return len;
}
