/*
 * gen.c - the simulator's market table and its deterministic candle data.
 *
 * Every candle is a pure function of (seed, market, timeframe, slot start);
 * only the still-forming candle (start <= now < end) also depends on the
 * clock.  Emptiness is decided per 1-minute slot from a hash (with the
 * market's density) and inherited upwards: a slot of any timeframe has a
 * candle iff one of its minutes (for seconds: its minute and its own hash)
 * had a trade, so P(empty) for a slot of s seconds = P1m_empty^(s/60).
 * Very sparse markets also have dead 3-hour blocks.  Prices are integer
 * ticks; amounts are integers in units of 1e-8, printed with fixed scale.
 */
#include <math.h>
#include <string.h>

#include "sim.h"

/* hash purposes */
enum {
	H_PRICE_LONG = 1,
	H_PRICE_DAY,
	H_PRICE_HOUR,
	H_PRICE_MIN,
	H_MIN,
	H_SEC,
	H_DEAD,
	H_CANDLE,
	H_EVENT,
	H_LATE
};

#define DEAD_BLOCK_S 10800 /* very sparse markets: dead stretches of 3 hours */

static const struct smarket fixed_markets[] = {
	/* code, korean, english, liquidity, recent, listed, tick_e8, base_ticks, vol/min e8 */
	{ "KRW-BTC", "비트코인", "Bitcoin", SLIQ_DENSE, 0, "2017-10-24T00:00:00Z", 100000000000LL,
	  140000, 200000000LL, 0, 0 },
	{ "KRW-ETH", "이더리움", "Ethereum", SLIQ_DENSE, 0, "2017-10-24T00:00:00Z", 100000000000LL,
	  5000, 4000000000LL, 0, 0 },
	{ "KRW-XRP", "엑스알피(리플)", "XRP", SLIQ_DENSE, 0, "2017-10-24T00:00:00Z", 100000000LL,
	  3200, 30000000000000LL, 0, 0 },
	{ "KRW-SOL", "솔라나", "Solana", SLIQ_DENSE, 0, "2021-10-13T00:00:00Z", 5000000000LL, 5000,
	  80000000000LL, 0, 0 },
	{ "KRW-DOGE", "도지코인", "Dogecoin", SLIQ_DENSE, 0, "2021-02-24T00:00:00Z", 10000000LL,
	  3300, 200000000000000LL, 0, 0 },
	{ "KRW-ADA", "에이다", "Cardano", SLIQ_MEDIUM, 0, "2017-10-24T00:00:00Z", 100000000LL, 1000,
	  10000000000000LL, 0, 0 },
	{ "KRW-AVAX", "아발란체", "Avalanche", SLIQ_MEDIUM, 0, "2022-02-09T00:00:00Z", 1000000000LL,
	  4000, 50000000000LL, 0, 0 },
	{ "KRW-LINK", "체인링크", "Chainlink", SLIQ_MEDIUM, 0, "2020-09-04T00:00:00Z", 1000000000LL,
	  2500, 80000000000LL, 0, 0 },
	{ "KRW-SHIB", "시바이누", "Shiba Inu", SLIQ_MEDIUM, 0, "2023-09-14T00:00:00Z", 1000LL, 3000,
	  50000000000000000LL, 0, 0 },
	{ "KRW-ZIL", "질리카", "Zilliqa", SLIQ_SPARSE, 0, "2018-06-26T00:00:00Z", 1000000LL, 2500,
	  5000000000000LL, 0, 0 },
	{ "KRW-ORBS", "오브스", "Orbs", SLIQ_SPARSE, 0, "2020-04-29T00:00:00Z", 100000000LL, 30,
	  1000000000000LL, 0, 0 },
	{ "KRW-MED", "메디블록", "Medibloc", SLIQ_VERY_SPARSE, 0, "2019-03-07T00:00:00Z",
	  10000000LL, 120, 500000000000LL, 0, 0 },
	{ "KRW-GRS", "그로스톨코인", "Groestlcoin", SLIQ_VERY_SPARSE, 0, "2018-03-20T00:00:00Z",
	  100000000LL, 450, 20000000000LL, 0, 0 },
	{ "KRW-BERA", "베라체인", "Berachain", SLIQ_MEDIUM, 1, NULL, 1000000000LL, 900,
	  60000000000LL, 0, 0 },
	{ "BTC-ETH", "이더리움", "Ethereum", SLIQ_MEDIUM, 0, "2017-10-24T00:00:00Z", 1LL, 3600000,
	  300000000LL, 0, 0 },
	{ "BTC-XRP", "엑스알피(리플)", "XRP", SLIQ_SPARSE, 0, "2017-10-24T00:00:00Z", 1LL, 2300,
	  300000000000LL, 0, 0 },
	{ "BTC-SOL", "솔라나", "Solana", SLIQ_SPARSE, 0, "2021-10-13T00:00:00Z", 1LL, 180000,
	  2000000000LL, 0, 0 },
	{ "BTC-DOGE", "도지코인", "Dogecoin", SLIQ_VERY_SPARSE, 0, "2021-02-24T00:00:00Z", 1LL, 240,
	  1000000000000LL, 0, 0 },
	{ "USDT-BTC", "비트코인", "Bitcoin", SLIQ_MEDIUM, 0, "2019-01-08T00:00:00Z", 1000000LL,
	  9700000, 5000000LL, 0, 0 },
	{ "USDT-ETH", "이더리움", "Ethereum", SLIQ_SPARSE, 0, "2019-01-08T00:00:00Z", 1000000LL,
	  340000, 100000000LL, 0, 0 },
	{ "USDT-XRP", "엑스알피(리플)", "XRP", SLIQ_VERY_SPARSE, 0, "2019-01-08T00:00:00Z", 10000LL,
	  23000, 100000000000LL, 0, 0 },
	{ "USDT-SOL", "솔라나", "Solana", SLIQ_SPARSE, 0, "2021-10-13T00:00:00Z", 1000000LL, 18000,
	  2000000000LL, 0, 0 },
};

#define N_FIXED ((int)(sizeof(fixed_markets) / sizeof(fixed_markets[0])))
#define N_ALL (N_FIXED + SIM_EXTRA_MARKETS_MAX)

/* The served table: the fixed markets, then --extra-markets synthetic ones. */
static struct smarket markets[N_ALL];
static int n_markets;

/* --delist: from this instant on the market is gone (INT64_MAX: never). */
static int64_t delisted_ms[N_ALL];

/* P(1-minute slot empty), P(second empty | its minute traded), P(3h block dead) */
static const double liq_p_min[] = { 0.0, 0.1, 0.5, 0.6 };
static const double liq_p_sec[] = { 0.0, 0.3, 0.7, 0.8 };
static const double liq_p_dead[] = { 0.0, 0.0, 0.0, 0.45 };
static const int64_t liq_ts_div[] = { 20, 8, 3, 2 };

static uint64_t g_seed;
static uint64_t thr_min[4], thr_sec[4], thr_dead[4];
static int64_t vol_ppm[STF_COUNT];

static inline uint64_t
mix64(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t
sgen_hash(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
	return mix64(mix64(mix64(mix64(a) ^ b) ^ c) ^ d);
}

/* hash keyed by the seed, market and purpose */
static inline uint64_t
mh(const struct smarket *m, unsigned purpose, uint64_t a, uint64_t b)
{
	return sgen_hash(g_seed, ((uint64_t)m->idx << 8) | purpose, a, b);
}

static uint64_t
prob_thr(double p)
{
	if (p <= 0.0)
		return 0;
	if (p >= 1.0)
		return UINT64_MAX;
	return (uint64_t)(p * 18446744073709551616.0);
}

void
sgen_init(const struct sgen_config *cfg)
{
	g_seed = mix64(cfg->seed ^ 0x5155u);
	for (int i = 0; i < 4; i++) {
		thr_min[i] = prob_thr(liq_p_min[i]);
		thr_sec[i] = prob_thr(liq_p_sec[i]);
		thr_dead[i] = prob_thr(liq_p_dead[i]);
	}
	for (int tf = 0; tf < STF_COUNT; tf++) {
		double s = (double)stf_fixed_s((enum stf)tf);
		if (tf == STF_1W)
			s = 7 * 86400.0;
		else if (tf == STF_1MO)
			s = 30 * 86400.0;
		else if (tf == STF_1Y)
			s = 365 * 86400.0;
		vol_ppm[tf] = (int64_t)(300.0 * sqrt(s / 60.0));
	}
	n_markets = N_FIXED + cfg->extra_markets;
	for (int i = 0; i < n_markets; i++) {
		if (i < N_FIXED)
			markets[i] = fixed_markets[i];
		else
			sextra_market(cfg->seed, i - N_FIXED + 1, &markets[i]);
		markets[i].idx = i;
		delisted_ms[i] = INT64_MAX;
		if (markets[i].recent)
			markets[i].listed_ms = cfg->recent_listed_ms;
		else if (i < N_FIXED && stime_parse(markets[i].listed, &markets[i].listed_ms) != 0)
			markets[i].listed_ms = 0;
	}
}

uint64_t
sgen_seed(void)
{
	return g_seed;
}

int
sgen_market_count(void)
{
	return n_markets;
}

const struct smarket *
sgen_market(int i)
{
	return i >= 0 && i < n_markets ? &markets[i] : NULL;
}

const struct smarket *
sgen_find_market(const char *code)
{
	for (int i = 0; i < n_markets; i++)
		if (strcmp(markets[i].code, code) == 0)
			return &markets[i];
	return NULL;
}

int
sgen_delist(const char *code, int64_t at_ms)
{
	for (int i = 0; i < n_markets; i++) {
		if (strcmp(markets[i].code, code) == 0) {
			delisted_ms[i] = at_ms;
			return 0;
		}
	}
	return -1;
}

int
sgen_delisted(const struct smarket *m, int64_t now_ms)
{
	return now_ms >= delisted_ms[m->idx];
}

const char *
sliq_name(enum sliq l)
{
	static const char *names[] = { "dense", "medium", "sparse", "very_sparse" };
	return names[l];
}

/* ---- emptiness ------------------------------------------------------ */

static int
block_dead(const struct smarket *m, int64_t t_s)
{
	if (thr_dead[m->liq] == 0)
		return 0;
	return mh(m, H_DEAD, (uint64_t)stime_floordiv(t_s, DEAD_BLOCK_S), 0) < thr_dead[m->liq];
}

/* Minute starting at t_s (aligned) has a trade at or before now_ms. */
static int
minute_nonempty(const struct smarket *m, int64_t t_s, int64_t now_ms)
{
	int64_t start_ms = t_s * 1000;
	if (start_ms + 60000 <= m->listed_ms)
		return 0;
	if ((start_ms > m->listed_ms ? start_ms : m->listed_ms) > now_ms)
		return 0;
	if (block_dead(m, t_s))
		return 0;
	if (thr_min[m->liq] && mh(m, H_MIN, (uint64_t)t_s, 0) < thr_min[m->liq])
		return 0;
	return 1;
}

static int
second_nonempty(const struct smarket *m, int64_t t_s, int64_t now_ms)
{
	int64_t start_ms = t_s * 1000;
	if (start_ms + 1000 <= m->listed_ms)
		return 0;
	if ((start_ms > m->listed_ms ? start_ms : m->listed_ms) > now_ms)
		return 0;
	if (!minute_nonempty(m, stime_floordiv(t_s, 60) * 60, now_ms))
		return 0;
	if (thr_sec[m->liq] && mh(m, H_SEC, (uint64_t)t_s, 0) < thr_sec[m->liq])
		return 0;
	return 1;
}

/* Any traded minute in [from_s, to_s) at or before now. */
static int
range_nonempty(const struct smarket *m, int64_t from_s, int64_t to_s, int64_t now_ms)
{
	int64_t listed_min = stime_floordiv(stime_floordiv(m->listed_ms, 1000), 60) * 60;
	if (from_s < listed_min)
		from_s = listed_min;
	for (int64_t t = from_s; t < to_s && t * 1000 <= now_ms;) {
		if (thr_dead[m->liq] && block_dead(m, t)) {
			t = (stime_floordiv(t, DEAD_BLOCK_S) + 1) * DEAD_BLOCK_S;
			continue;
		}
		if (minute_nonempty(m, t, now_ms))
			return 1;
		t += 60;
	}
	return 0;
}

int
sgen_nonempty(const struct smarket *m, enum stf tf, int64_t start_s, int64_t now_ms)
{
	int64_t end_s = stf_next(tf, start_s);
	if (end_s * 1000 <= m->listed_ms || start_s * 1000 > now_ms)
		return 0;
	if (tf == STF_1S)
		return second_nonempty(m, start_s, now_ms);
	if (m->liq == SLIQ_DENSE)
		return (start_s * 1000 > m->listed_ms ? start_s * 1000 : m->listed_ms) <= now_ms;
	if (tf == STF_1M)
		return minute_nonempty(m, start_s, now_ms);
	if (tf <= STF_1D)
		return range_nonempty(m, start_s, end_s, now_ms);
	/* weeks, months, years: any traded day */
	int64_t listed_day = stime_floordiv(stime_floordiv(m->listed_ms, 1000), 86400) * 86400;
	for (int64_t d = start_s > listed_day ? start_s : listed_day;
	     d < end_s && d * 1000 <= now_ms; d += 86400)
		if (range_nonempty(m, d, d + 86400, now_ms))
			return 1;
	return 0;
}

int64_t
sgen_lower_bound(const struct smarket *m, enum stf tf, int64_t now_ms)
{
	int64_t lb = stf_floor(tf, stime_floordiv(m->listed_ms, 1000));
	if (tf == STF_1S) {
		int64_t h =
		    stime_months_back(stime_floordiv(now_ms, 1000), SIM_SECONDS_HORIZON_MONTHS);
		if (h > lb)
			lb = h;
	}
	return lb;
}

int
sgen_collect(const struct smarket *m, enum stf tf, int64_t newest, int64_t now_ms, int count,
             int64_t *out)
{
	int64_t lb = sgen_lower_bound(m, tf, now_ms);
	int64_t fixed = stf_fixed_s(tf);
	int n = 0;

	for (int64_t s = newest; n < count && s >= lb;) {
		if (tf == STF_1S && m->liq != SLIQ_DENSE) {
			int64_t mstart = stime_floordiv(s, 60) * 60;
			if (!minute_nonempty(m, mstart, now_ms)) {
				s = mstart - 1;
				continue;
			}
		}
		if (fixed && fixed <= 3600 && thr_dead[m->liq] && block_dead(m, s)) {
			s = stf_floor(tf, stime_floordiv(s, DEAD_BLOCK_S) * DEAD_BLOCK_S - 1);
			continue;
		}
		if (sgen_nonempty(m, tf, s, now_ms))
			out[n++] = s;
		s = stf_prev(tf, s);
	}
	return n;
}

/* ---- prices and candles --------------------------------------------- */

static int64_t
component(const struct smarket *m, unsigned purpose, int64_t period_ms, int64_t amp, int64_t t_ms)
{
	int64_t k = stime_floordiv(t_ms, period_ms);
	int64_t f = t_ms - k * period_ms;
	int64_t v0 = (int64_t)(mh(m, purpose, (uint64_t)k, 0) % (uint64_t)(2 * amp + 1)) - amp;
	int64_t v1 =
	    (int64_t)(mh(m, purpose, (uint64_t)(k + 1), 0) % (uint64_t)(2 * amp + 1)) - amp;
	return v0 + (v1 - v0) * f / period_ms;
}

/* Reference price in ticks at t_ms: base times a smooth multi-scale curve. */
static int64_t
ref_price(const struct smarket *m, int64_t t_ms)
{
	int64_t ppm = 1000000;
	ppm += component(m, H_PRICE_LONG, 30LL * 86400000, 200000, t_ms);
	ppm += component(m, H_PRICE_DAY, 86400000LL, 40000, t_ms);
	ppm += component(m, H_PRICE_HOUR, 3600000LL, 8000, t_ms);
	ppm += component(m, H_PRICE_MIN, 300000LL, 1500, t_ms);
	int64_t p = m->base_ticks * ppm / 1000000;
	return p < 1 ? 1 : p;
}

static int64_t
sym(uint64_t u, int64_t a)
{
	if (a <= 0)
		return 0;
	return (int64_t)(u % (uint64_t)(2 * a + 1)) - a;
}

/*
 * The last trade of a closed candle.  Like the real API, about one hourly
 * candle in 40 has its `timestamp` 0..54 ms after the candle's end (seeded;
 * only once that instant has passed, so no trade lies in the future).
 */
static int64_t
closed_ts(const struct smarket *m, enum stf tf, int64_t start_s, int64_t span, int64_t now_ms)
{
	int64_t end_ms = stf_next(tf, start_s) * 1000;
	uint64_t h = mh(m, H_CANDLE, (uint64_t)tf, (uint64_t)start_s);
	uint64_t late = mh(m, H_LATE, (uint64_t)start_s, 0);
	int64_t lag = (int64_t)((late >> 8) % 55);

	if (tf == STF_60M && late % 40 == 0 && end_ms + lag <= now_ms)
		return end_ms + lag;
	return end_ms - 1 - (int64_t)(h % (uint64_t)(span > 0 ? span : 1));
}

void
sgen_candle(const struct smarket *m, enum stf tf, int64_t start_s, int64_t now_ms,
            struct scandle *c)
{
	int64_t start_ms = start_s * 1000;
	int64_t end_ms = stf_next(tf, start_s) * 1000;
	int64_t dur = end_ms - start_ms;
	int64_t tstart = start_ms > m->listed_ms ? start_ms : m->listed_ms;
	uint64_t h = mh(m, H_CANDLE, (uint64_t)tf, (uint64_t)start_s);
	uint64_t u1 = mix64(h + 1), u2 = mix64(h + 2), u3 = mix64(h + 3), u4 = mix64(h + 4);
	uint64_t u5 = mix64(h + 5);
	int64_t ts;

	if (now_ms >= end_ms) {
		ts = closed_ts(m, tf, start_s, (end_ms - tstart) / liq_ts_div[m->liq], now_ms);
	} else {
		int64_t el = now_ms - tstart;
		if (el < 0)
			el = 0;
		ts = now_ms - (int64_t)(h % (uint64_t)((el < 500 ? el : 500) + 1));
	}
	int64_t p0 = ref_price(m, tstart), p1 = ref_price(m, ts);
	int64_t o = p0 + sym(u1, p0 * vol_ppm[tf] / 4000000);
	int64_t cl = p1 + sym(u2, p1 * vol_ppm[tf] / 4000000);
	if (o < 1)
		o = 1;
	if (cl < 1)
		cl = 1;
	int64_t done = ts - tstart + 1; /* ms of trading so far */
	int64_t ext = (p0 > p1 ? p0 : p1) * vol_ppm[tf] / 1000000;
	ext = (int64_t)((__int128)ext * done / dur);
	int64_t hi = (o > cl ? o : cl) + (int64_t)(u3 % (uint64_t)(ext + 1));
	int64_t lo = (o < cl ? o : cl) - (int64_t)(u4 % (uint64_t)(ext + 1));
	if (lo < 1)
		lo = 1;

	__int128 vol = (__int128)m->vol_min_e8 * dur / 60000;
	vol = vol * (int64_t)(200000 + u5 % 1600001) / 1000000;
	vol = vol * done / dur;
	if (vol < 1)
		vol = 1;

	c->start_s = start_s;
	c->open_t = o;
	c->high_t = hi;
	c->low_t = lo;
	c->close_t = cl;
	c->ts_ms = ts;
	c->vol_e8 = vol;
	c->turnover_e8 = vol * m->tick_e8 * (o + hi + lo + cl) / 400000000;
}

/* ---- formatting ------------------------------------------------------ */

char *
sfmt_i64(char *p, int64_t v)
{
	char tmp[24];
	int n = 0;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	if (v < 0)
		*p++ = '-';
	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	while (n)
		*p++ = tmp[--n];
	return p;
}

char *
sfmt_fixed(char *p, __int128 v, int scale)
{
	char tmp[48];
	int n = 0;
	unsigned __int128 u =
	    v < 0 ? (unsigned __int128)0 - (unsigned __int128)v : (unsigned __int128)v;
	if (v < 0)
		*p++ = '-';
	/* 64-bit fast path for the common case */
	if (u <= UINT64_MAX) {
		uint64_t w = (uint64_t)u;
		do {
			tmp[n++] = (char)('0' + w % 10);
			w /= 10;
		} while (w || n <= scale);
	} else {
		do {
			tmp[n++] = (char)('0' + (int)(u % 10));
			u /= 10;
		} while (u || n <= scale);
	}
	while (n > scale)
		*p++ = tmp[--n];
	*p++ = '.';
	while (n)
		*p++ = tmp[--n];
	return p;
}

#define PUT(lit) (memcpy(p, lit, sizeof(lit) - 1), p += sizeof(lit) - 1)

/* Close of the previous existing day candle, or -1 if there is none. */
static int64_t
prev_day_close(const struct smarket *m, int64_t start_s, int64_t now_ms)
{
	int64_t lb = sgen_lower_bound(m, STF_1D, now_ms);
	for (int64_t s = start_s - 86400; s >= lb; s -= 86400) {
		if (sgen_nonempty(m, STF_1D, s, now_ms)) {
			struct scandle pc;
			sgen_candle(m, STF_1D, s, now_ms, &pc);
			return pc.close_t;
		}
	}
	return -1;
}

static const int64_t krw_rate_btc = 140000000; /* KRW per BTC */
static const int64_t krw_rate_usdt = 1400;     /* KRW per USDT */

size_t
sgen_format(const struct smarket *m, enum stf tf, int64_t start_s, int64_t now_ms, int convert,
            char *buf)
{
	struct scandle c;
	char *p = buf;
	int64_t tick = m->tick_e8;

	sgen_candle(m, tf, start_s, now_ms, &c);
	PUT("{\"market\":\"");
	size_t cl = strlen(m->code);
	memcpy(p, m->code, cl);
	p += cl;
	PUT("\",\"candle_date_time_utc\":\"");
	p = stime_put_iso(p, start_s);
	PUT("\",\"candle_date_time_kst\":\"");
	p = stime_put_iso(p, start_s + 9 * 3600);
	PUT("\",\"opening_price\":");
	p = sfmt_fixed(p, (__int128)c.open_t * tick, 8);
	PUT(",\"high_price\":");
	p = sfmt_fixed(p, (__int128)c.high_t * tick, 8);
	PUT(",\"low_price\":");
	p = sfmt_fixed(p, (__int128)c.low_t * tick, 8);
	PUT(",\"trade_price\":");
	p = sfmt_fixed(p, (__int128)c.close_t * tick, 8);
	PUT(",\"timestamp\":");
	p = sfmt_i64(p, c.ts_ms);
	PUT(",\"candle_acc_trade_price\":");
	p = sfmt_fixed(p, c.turnover_e8, 8);
	PUT(",\"candle_acc_trade_volume\":");
	p = sfmt_fixed(p, c.vol_e8, 8);
	if (stf_unit(tf)) {
		PUT(",\"unit\":");
		p = sfmt_i64(p, stf_unit(tf));
	} else if (tf == STF_1D) {
		int64_t prev = prev_day_close(m, start_s, now_ms);
		if (prev < 0)
			prev = c.open_t;
		int64_t chg = c.close_t - prev;
		__int128 a = chg < 0 ? -(__int128)chg : chg;
		__int128 rate = (a * 20000000000LL + prev) / (2 * (__int128)prev);
		PUT(",\"prev_closing_price\":");
		p = sfmt_fixed(p, (__int128)prev * tick, 8);
		PUT(",\"change_price\":");
		p = sfmt_fixed(p, (__int128)chg * tick, 8);
		PUT(",\"change_rate\":");
		p = sfmt_fixed(p, chg < 0 ? -rate : rate, 10);
		if (convert) {
			__int128 conv = (__int128)c.close_t * tick;
			if (strncmp(m->code, "BTC-", 4) == 0)
				conv *= krw_rate_btc;
			else if (strncmp(m->code, "USDT-", 5) == 0)
				conv *= krw_rate_usdt;
			PUT(",\"converted_trade_price\":");
			p = sfmt_fixed(p, conv, 8);
		}
	} else if (tf != STF_1S) {
		PUT(",\"first_day_of_period\":\"");
		p = stime_put_date(p, start_s);
		*p++ = '"';
	}
	*p++ = '}';
	return (size_t)(p - buf);
}
