/*
 * sim.h - internal interfaces of the offline Upbit API simulator.
 *
 * The simulator is the independent test oracle of candlepipe: it shares no
 * code with common/.  Everything here (calendar arithmetic, time parsing,
 * the market table, candle generation and JSON formatting) is private to
 * sim/.  Times are int64 epoch milliseconds (suffix _ms) or seconds (_s),
 * always UTC.
 */
#ifndef SIM_H
#define SIM_H

#include <stddef.h>
#include <stdint.h>

/* ---- time (simtime.c) ---------------------------------------------- */

/* Days since 1970-01-01 for a proleptic Gregorian date. */
int64_t stime_days_from_civil(int64_t y, unsigned m, unsigned d);
/* Inverse of stime_days_from_civil. */
void stime_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);
/*
 * Parse an Upbit `to` value: YYYY-MM-DD('T'|' ')HH:MM:SS[.frac][Z|+HH:MM|-HH:MM].
 * Values without an offset are UTC.  Returns 0 and stores epoch ms, or -1.
 */
int stime_parse(const char *s, int64_t *out_ms);
/* a / b rounded toward minus infinity (b != 0). */
int64_t stime_floordiv(int64_t a, int64_t b);
/* Current wall clock in epoch ms. */
int64_t stime_now_ms(void);
/* Write "YYYY-MM-DDTHH:MM:SS" (19 chars, no NUL) for epoch second t. */
char *stime_put_iso(char *p, int64_t t_s);
/* Write "YYYY-MM-DD" (10 chars, no NUL). */
char *stime_put_date(char *p, int64_t t_s);
/*
 * Parse a time as a person gives it (the forms `collect` takes):
 * YYYY-MM-DD, or YYYY-MM-DD('T'|' ')HH:MM[:SS[.frac]] then optional Z,
 * +HH:MM, +HHMM (or -).  No offset = UTC; fractions are truncated to the
 * second.  Returns 0 and stores epoch ms (a whole second), or -1.
 */
int stime_parse_user(const char *s, int64_t *out_ms);
/* Epoch second t_s moved back by n calendar months (the day clamped to the
 * length of the month reached, the time of day kept). */
int64_t stime_months_back(int64_t t_s, int n);

/* ---- timeframes (simtime.c) ---------------------------------------- */

enum stf {
	STF_1S,
	STF_1M,
	STF_3M,
	STF_5M,
	STF_10M,
	STF_15M,
	STF_30M,
	STF_60M,
	STF_240M,
	STF_1D,
	STF_1W,
	STF_1MO,
	STF_1Y,
	STF_COUNT
};

/* Parse a timeframe name (1s 1m 3m 5m 10m 15m 30m 1h 60m 4h 240m 1d 1w 1M 1y). */
int stf_parse(const char *name, enum stf *out);
/* Fixed slot length in seconds, or 0 for weeks/months/years. */
int64_t stf_fixed_s(enum stf tf);
/* Minutes of a minute timeframe (the `unit` field), 0 otherwise. */
int stf_unit(enum stf tf);
/* Start of the slot containing t_s. */
int64_t stf_floor(enum stf tf, int64_t t_s);
/* Start of the slot after the slot starting at start_s. */
int64_t stf_next(enum stf tf, int64_t start_s);
/* Start of the slot before the slot starting at start_s. */
int64_t stf_prev(enum stf tf, int64_t start_s);

/* ---- markets and candles (gen.c) ----------------------------------- */

enum sliq { SLIQ_DENSE, SLIQ_MEDIUM, SLIQ_SPARSE, SLIQ_VERY_SPARSE };

struct smarket {
	const char *code; /* "KRW-BTC" */
	const char *korean_name;
	const char *english_name;
	enum sliq liq;
	int recent;         /* listed at the configurable instant */
	const char *listed; /* ISO listing instant unless recent */
	int64_t tick_e8;    /* tick size in units of 1e-8 quote */
	int64_t base_ticks; /* typical price in ticks */
	int64_t vol_min_e8; /* typical volume per minute, 1e-8 base */
	/* filled in by sgen_init */
	int64_t listed_ms;
	int idx;
};

struct sgen_config {
	uint64_t seed;
	int64_t recent_listed_ms; /* listing instant of the recent market(s) */
	int extra_markets;        /* synthetic KRW-SIM001.. after the fixed ones */
};

#define SIM_DEFAULT_LISTED_AT "2026-11-01T00:00:00Z"
#define SIM_SECONDS_HORIZON_MONTHS 3 /* calendar months back from now */
#define SIM_MAX_COUNT 200
#define SIM_EXTRA_MARKETS_MAX 1000 /* --extra-markets N: 0..this */

void sgen_init(const struct sgen_config *cfg);
int sgen_market_count(void);
const struct smarket *sgen_market(int i);
const struct smarket *sgen_find_market(const char *code);
const char *sliq_name(enum sliq l);
/* Fill m with extra market k (1..SIM_EXTRA_MARKETS_MAX): KRW-SIM%03d, its
 * names, liquidity, tick, price, volume and listing instant, all from
 * (seed, k) (extra.c).  idx is left to the caller. */
void sextra_market(uint64_t seed, int k, struct smarket *m);
uint64_t sgen_hash(uint64_t a, uint64_t b, uint64_t c, uint64_t d);
uint64_t sgen_seed(void);
/* Delist market code at at_ms: 0, or -1 if there is no such market. */
int sgen_delist(const char *code, int64_t at_ms);
/* True when m is delisted at now_ms (404 on candles, absent from the list). */
int sgen_delisted(const struct smarket *m, int64_t now_ms);

struct scandle {
	int64_t start_s;
	int64_t open_t, high_t, low_t, close_t; /* prices in ticks */
	int64_t ts_ms;                          /* last trade */
	__int128 vol_e8, turnover_e8;
};

/*
 * True when the slot [start_s, next) of market m has at least one trade
 * at or before now_ms.  Pure function of (seed, market, tf, start) except
 * that trades after now_ms do not exist yet.
 */
int sgen_nonempty(const struct smarket *m, enum stf tf, int64_t start_s, int64_t now_ms);
/* Build the candle for a nonempty slot; forming if now_ms < slot end. */
void sgen_candle(const struct smarket *m, enum stf tf, int64_t start_s, int64_t now_ms,
                 struct scandle *c);
/* Earliest slot start that can hold a candle (listing, seconds horizon). */
int64_t sgen_lower_bound(const struct smarket *m, enum stf tf, int64_t now_ms);

/*
 * Collect up to `count` candles with start < before_s (exclusive bound on
 * the slot start in seconds, i.e. newest candidate = floor(before_s - 1)),
 * newest first, into out[].  Returns the number found.
 */
int sgen_collect(const struct smarket *m, enum stf tf, int64_t newest_start_s, int64_t now_ms,
                 int count, int64_t *out_starts);

/*
 * Format one candle as Upbit JSON (no trailing newline).  `convert` adds
 * converted_trade_price for days.  Returns the number of bytes written;
 * buf must hold SGEN_JSON_MAX bytes.
 */
#define SGEN_JSON_MAX 1024
size_t sgen_format(const struct smarket *m, enum stf tf, int64_t start_s, int64_t now_ms,
                   int convert, char *buf);

/* Put a decimal integer / fixed-scale number; return the end pointer. */
char *sfmt_i64(char *p, int64_t v);
char *sfmt_fixed(char *p, __int128 v, int scale);

/* ---- HTTP server (server.c) ----------------------------------------- */

enum sfault {
	SFAULT_500,
	SFAULT_502,
	SFAULT_RESET,
	SFAULT_HANG,
	SFAULT_TRUNCATE,
	SFAULT_GARBAGE,
	SFAULT_COUNT
};

struct ssrv_config {
	const char *bind;      /* numeric IPv4 or IPv6 address */
	int port;              /* 0 = pick a free port */
	const char *port_file; /* written atomically once listening, or NULL */
	char *tls_cert_pem;    /* PEM certificate chain: serve HTTPS (TLS 1.2+) */
	char *tls_key_pem;     /* PEM private key, with tls_cert_pem */
	uint64_t seed;
	int rate_limit;    /* requests per second per (IP, group); 0 = off */
	int latency_ms;    /* added to each API request, +-10% jitter */
	double fault_rate; /* 0..1 */
	unsigned faults;   /* bit mask of enum sfault */
	int block_seconds; /* first 418 block length */
	int hang_ms;       /* how long a `hang` fault holds the connection */
};

/* ---- files (files.c) ------------------------------------------------ */

/*
 * The file a port file may be written to: path itself, or the regular file a
 * symlink at path leads to, in out.  A path that is (or leads to) a device,
 * FIFO, socket or directory is refused.  0, or -1 with a message on stderr.
 */
int sfile_target(const char *path, char *out, size_t cap);
/* Replace the regular file at target with text: a temporary file in its
 * directory, fsync, rename.  0, or -1 with errno set. */
int sfile_replace(const char *target, const char *text);
/* The whole file at path, NUL-terminated, malloc'd; NULL with errno set. */
char *sfile_read(const char *path, size_t max);

const char *sfault_name(enum sfault f);
/* Serve until SIGTERM/SIGINT.  Returns the process exit code. */
int ssrv_run(const struct ssrv_config *cfg);

#endif /* SIM_H */
