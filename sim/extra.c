/*
 * extra.c - the synthetic markets of `upbit-sim --extra-markets N`.
 *
 * Market k (1..N) is KRW-SIM%03d; everything else about it is a pure
 * function of (seed, k): its Korean and English names (made of the same
 * syllables, in Hangul and in Latin letters), its liquidity class (a mix of
 * dense and sparse), its price level (a tick of 10^(d-5) KRW, d = 0..8, and
 * a typical price of 1,000..9,999 ticks), its volume (a turnover of 0.1 to
 * 900 million KRW a minute) and its listing instant (a whole hour between
 * 2018-01-01 and 2024-06-30).  This file only fills the table entries; the
 * candles of an extra market are made by gen.c exactly like the fixed ones.
 */
#include <stdio.h>
#include <string.h>

#include "sim.h"

/* hash purposes of the extra markets (kept apart from gen.c's) */
enum { X_NAME = 0x5e10, X_LIQ, X_PRICE, X_VOL, X_LISTED };

/* A syllable in Latin letters and in Hangul (UTF-8). */
static const struct {
	const char *latin, *hangul;
} syl[] = {
	{ "ka", "카" }, { "lo", "로" }, { "mi", "미" }, { "ne", "네" }, { "ra", "라" },
	{ "su", "수" }, { "to", "토" }, { "vi", "비" }, { "ze", "제" }, { "bo", "보" },
	{ "da", "다" }, { "ri", "리" }, { "no", "노" }, { "pa", "파" }, { "hu", "후" },
	{ "gi", "기" }, { "mo", "모" }, { "te", "테" }, { "si", "시" }, { "ru", "루" },
};
#define N_SYL ((unsigned)(sizeof(syl) / sizeof(syl[0])))

/* Storage of the names (the table holds pointers into it). */
static struct xname {
	char code[16];
	char korean[32];
	char english[16];
} names[SIM_EXTRA_MARKETS_MAX];

static uint64_t
xh(uint64_t seed, unsigned purpose, int k)
{
	return sgen_hash(seed, purpose, (uint64_t)k, 0x5157);
}

/* Two or three syllables: "Kalomi" and "카로미". */
static void
make_names(uint64_t seed, int k, struct xname *n)
{
	uint64_t h = xh(seed, X_NAME, k);
	unsigned len = 2 + (unsigned)(h % 2);
	size_t el = 0, kl = 0;

	h /= 2;
	for (unsigned i = 0; i < len; i++, h /= N_SYL) {
		unsigned s = (unsigned)(h % N_SYL);
		size_t hl = strlen(syl[s].hangul);

		memcpy(n->english + el, syl[s].latin, 2);
		memcpy(n->korean + kl, syl[s].hangul, hl);
		el += 2;
		kl += hl;
	}
	n->english[el] = '\0';
	n->korean[kl] = '\0';
	n->english[0] = (char)(n->english[0] - 'a' + 'A');
	snprintf(n->code, sizeof(n->code), "KRW-SIM%03d", k);
}

/* The liquidity mix: a quarter dense, a third medium, the rest sparse. */
static enum sliq
liquidity(uint64_t seed, int k)
{
	unsigned r = (unsigned)(xh(seed, X_LIQ, k) % 20);

	if (r < 5)
		return SLIQ_DENSE;
	if (r < 12)
		return SLIQ_MEDIUM;
	return r < 17 ? SLIQ_SPARSE : SLIQ_VERY_SPARSE;
}

/* The price level and the volume a minute (a turnover in KRW / the price). */
static void
price_and_volume(uint64_t seed, int k, struct smarket *m)
{
	uint64_t hp = xh(seed, X_PRICE, k), hv = xh(seed, X_VOL, k);
	int64_t tick = 1000; /* 1e-5 KRW in units of 1e-8 */
	__int128 turnover = 100000 * (int64_t)(1 + hv % 9);

	for (unsigned d = (unsigned)(hp % 9); d > 0; d--)
		tick *= 10;
	for (unsigned e = (unsigned)(hv / 9 % 3); e > 0; e--)
		turnover *= 10;
	m->tick_e8 = tick;
	m->base_ticks = 1000 + (int64_t)(hp / 9 % 9000);
	m->vol_min_e8 = (int64_t)(turnover * 10000000000000000LL / (m->base_ticks * tick));
}

void
sextra_market(uint64_t seed, int k, struct smarket *m)
{
	/* 2018-01-01 .. 2024-06-30: 2373 days, a whole hour of the day */
	static const int64_t first_day = 17532, days = 2373;
	uint64_t hl = xh(seed, X_LISTED, k);
	struct xname *n = &names[k - 1];

	make_names(seed, k, n);
	memset(m, 0, sizeof(*m));
	m->code = n->code;
	m->korean_name = n->korean;
	m->english_name = n->english;
	m->liq = liquidity(seed, k);
	price_and_volume(seed, k, m);
	m->listed_ms = ((first_day + (int64_t)(hl % (uint64_t)days)) * 86400 +
	                (int64_t)(hl / (uint64_t)days % 24) * 3600) *
	               1000;
}
