/*
 * server.c - the simulator's HTTP side: libmicrohttpd daemon (one thread per
 * connection, so latency and hangs only block their own connection), routing,
 * Upbit parameter validation, per-(IP, group) rate limiting with 429/418,
 * deterministic fault injection, gzip when the client accepts it, HTTPS
 * (GnuTLS through libmicrohttpd, TLS 1.2 or newer) and the /__sim/ stats and
 * reset routes.  Owns all server state (client table, counters); one mutex
 * guards it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <zlib.h>

#include "sim.h"

enum group { G_NONE = -1, G_CANDLES = 0, G_MARKET, G_ORIGIN, G_COUNT };
static const char *group_name[G_COUNT] = { "candles", "market", "origin" };

enum route {
	R_SECONDS,
	R_MINUTES,
	R_DAYS,
	R_WEEKS,
	R_MONTHS,
	R_YEARS,
	R_MARKET_ALL,
	R_OTHER,
	R_COUNT
};
static const char *route_name[R_COUNT] = { "candles/seconds", "candles/minutes",
	                                   "candles/days",    "candles/weeks",
	                                   "candles/months",  "candles/years",
	                                   "market/all",      "other" };

static const char *fault_names[SFAULT_COUNT] = { "500",  "502",      "reset",
	                                         "hang", "truncate", "garbage" };

#define PEAK_RING 1024
#define ABUSE_429_COUNT 10
#define ABUSE_WINDOW_MS 10000
#define ORIGIN_WINDOW_MS 10000

struct client {
	char addr[INET6_ADDRSTRLEN];
	struct {
		int64_t start_ms;
		int count;
	} win[G_COUNT];
	int64_t r429[ABUSE_429_COUNT]; /* ring of recent 429 times */
	int r429_pos, r429_len;
	int64_t block_until_ms;
	int64_t next_block_s;
	uint64_t requests, n429, n418;
	int64_t ring[PEAK_RING]; /* arrival times for the sliding 1 s peak */
	int ring_head, ring_len, peak;
	struct client *next;
};

#define CLIENT_BUCKETS 256

static struct {
	struct ssrv_config cfg;
	pthread_mutex_t lock;
	struct client *clients[CLIENT_BUCKETS];
	uint64_t seq;
	uint64_t requests;
	uint64_t by_status[600];
	uint64_t by_route[R_COUNT];
	uint64_t candles;
	uint64_t gzip; /* answers sent with Content-Encoding: gzip */
	uint64_t faults[SFAULT_COUNT];
	/* interruptible sleeps */
	pthread_mutex_t sleep_lock;
	pthread_cond_t sleep_cond;
	int stopping;
} S = { .lock = PTHREAD_MUTEX_INITIALIZER, .sleep_lock = PTHREAD_MUTEX_INITIALIZER };

static int conn_marker;

const char *
sfault_name(enum sfault f)
{
	return fault_names[f];
}

static void logx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
logx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("upbit-sim: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int64_t
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep up to ms; returns early (nonzero) when the server is stopping. */
static int
sleep_ms(int64_t ms)
{
	struct timespec ts;
	int stop;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&S.sleep_lock);
	while (!S.stopping)
		if (pthread_cond_timedwait(&S.sleep_cond, &S.sleep_lock, &ts) == ETIMEDOUT)
			break;
	stop = S.stopping;
	pthread_mutex_unlock(&S.sleep_lock);
	return stop;
}

/* ---- growable string for stats ------------------------------------------ */

struct sbuf {
	char *p;
	size_t len, cap;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		size_t room = b->cap - b->len;
		va_start(ap, fmt);
		int n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t ncap = (b->cap ? b->cap * 2 : 4096) + (size_t)n;
		char *np = realloc(b->p, ncap);
		if (np == NULL)
			return;
		b->p = np;
		b->cap = ncap;
	}
}

/* ---- clients and rate limits (call with S.lock held) --------------------- */

static struct client *
client_get(const char *addr)
{
	uint64_t h = 1469598103934665603ULL;
	for (const char *p = addr; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	struct client **bucket = &S.clients[h % CLIENT_BUCKETS];
	for (struct client *c = *bucket; c; c = c->next)
		if (strcmp(c->addr, addr) == 0)
			return c;
	struct client *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	snprintf(c->addr, sizeof(c->addr), "%s", addr);
	c->next_block_s = S.cfg.block_seconds;
	c->next = *bucket;
	*bucket = c;
	return c;
}

static void
client_arrival(struct client *c, int64_t now)
{
	c->requests++;
	while (c->ring_len && c->ring[c->ring_head] <= now - 1000) {
		c->ring_head = (c->ring_head + 1) % PEAK_RING;
		c->ring_len--;
	}
	if (c->ring_len == PEAK_RING) { /* saturated: drop the oldest */
		c->ring_head = (c->ring_head + 1) % PEAK_RING;
		c->ring_len--;
	}
	c->ring[(c->ring_head + c->ring_len) % PEAK_RING] = now;
	c->ring_len++;
	if (c->ring_len > c->peak)
		c->peak = c->ring_len;
}

enum verdict { V_OK, V_429, V_418 };

/*
 * Apply the per-(IP, group) fixed window.  Stores the remaining budget in
 * *remaining and, for 418, the remaining block seconds in *block_s.
 */
static enum verdict
rate_check(struct client *c, enum group g, int64_t now, int *remaining, int64_t *block_s)
{
	int limit = g == G_ORIGIN ? 1 : S.cfg.rate_limit;
	int64_t window = g == G_ORIGIN ? ORIGIN_WINDOW_MS : 1000;

	if (S.cfg.rate_limit == 0) {
		*remaining = g == G_ORIGIN ? 0 : 9;
		return V_OK;
	}
	if (c->block_until_ms > now) {
		*remaining = 0;
		*block_s = (c->block_until_ms - now + 999) / 1000;
		c->n418++;
		return V_418;
	}
	if (c->win[g].count == 0 || now - c->win[g].start_ms >= window) {
		c->win[g].start_ms = now;
		c->win[g].count = 0;
	}
	if (c->win[g].count < limit) {
		c->win[g].count++;
		*remaining = limit - c->win[g].count;
		return V_OK;
	}
	*remaining = 0;
	c->n429++;
	c->r429[c->r429_pos] = now;
	c->r429_pos = (c->r429_pos + 1) % ABUSE_429_COUNT;
	if (c->r429_len < ABUSE_429_COUNT)
		c->r429_len++;
	/* r429_pos now points at the oldest of the last ten */
	if (c->r429_len == ABUSE_429_COUNT && now - c->r429[c->r429_pos] < ABUSE_WINDOW_MS) {
		c->block_until_ms = now + c->next_block_s * 1000;
		logx("blocking %s for %lld s", c->addr, (long long)c->next_block_s);
		c->next_block_s *= 2;
		c->r429_len = 0;
	}
	return V_429;
}

/* ---- responses ------------------------------------------------------------ */

struct reply {
	int status;
	const char *ctype;
	char *body; /* malloc'd */
	size_t len;
};

static void
reply_set(struct reply *r, int status, const char *ctype, const char *body, size_t len)
{
	r->status = status;
	r->ctype = ctype;
	r->body = malloc(len ? len : 1);
	if (r->body != NULL)
		memcpy(r->body, body, len);
	r->len = r->body ? len : 0;
}

#define CT_JSON "application/json;charset=UTF-8"
#define CT_TEXT "text/plain;charset=UTF-8"
#define CT_HTML "text/html;charset=UTF-8"

static void
reply_error(struct reply *r, int status, const char *msg)
{
	char buf[256];
	int n =
	    snprintf(buf, sizeof(buf), "{\"error\":{\"name\":%d,\"message\":\"%s\"}}", status, msg);
	reply_set(r, status, CT_JSON, buf, (size_t)n);
}

#define MSG_MISSING "Missing request parameter error. Check the required parameters!"
#define MSG_TYPE "Type mismatch error. Check the parameters type!"
#define MSG_INVALID "Invalid parameter. Check the given value!"
#define MSG_NOTFOUND "Code not found"
#define MSG_UNIT "specified unit is not valid."

static const char *
qarg(struct MHD_Connection *conn, const char *key)
{
	return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, key);
}

static __thread char body_buf[2 + SIM_MAX_COUNT * (SGEN_JSON_MAX + 1)];

/* Upbit's `count`: digits with an optional sign, 1.., clamped to 200.
 * NULL and stores it, or the error message. */
static const char *
parse_count(const char *s, int *count)
{
	const char *p = s;
	long long v = 0;
	int neg = 0;

	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (*p == '\0')
		return MSG_TYPE;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return MSG_TYPE;
		if (v < 1000000)
			v = v * 10 + (*p - '0');
	}
	if (neg || v < 1)
		return MSG_INVALID;
	*count = v > SIM_MAX_COUNT ? SIM_MAX_COUNT : (int)v;
	return NULL;
}

/* The newest slot start a request may return: before `to` (exclusive),
 * never after the slot forming now. */
static int64_t
newest_start(enum stf tf, int have_to, int64_t to_ms, int64_t now_ms)
{
	int64_t lim;

	if (!have_to || to_ms > now_ms)
		return stf_floor(tf, now_ms / 1000);
	/* start_s * 1000 < to_ms  <=>  start_s <= ceil(to_ms / 1000) - 1 */
	lim = to_ms >= 0 ? (to_ms + 999) / 1000 : -((-to_ms) / 1000);
	return stf_floor(tf, lim - 1);
}

/* Days only: converting_price_unit=KRW (either spelling) adds the field. */
static int
wants_convert(struct MHD_Connection *conn, enum stf tf)
{
	const char *cv;

	if (tf != STF_1D)
		return 0;
	if ((cv = qarg(conn, "converting_price_unit")) == NULL)
		cv = qarg(conn, "convertingPriceUnit");
	return cv != NULL && strcmp(cv, "KRW") == 0;
}

/* The JSON array of the candles starting at starts[0..n). */
static void
reply_candles(struct reply *r, const struct smarket *m, enum stf tf, const int64_t *starts, int n,
              int64_t now_ms, int convert)
{
	char *p = body_buf;

	*p++ = '[';
	for (int i = 0; i < n; i++) {
		if (i)
			*p++ = ',';
		p += sgen_format(m, tf, starts[i], now_ms, convert, p);
	}
	*p++ = ']';
	reply_set(r, 200, CT_JSON, body_buf, (size_t)(p - body_buf));
}

static uint64_t
handle_candles(struct MHD_Connection *conn, enum stf tf, int64_t now_ms, struct reply *r)
{
	const char *market = qarg(conn, "market");
	const char *count_s = qarg(conn, "count");
	const char *to_s = qarg(conn, "to");
	const char *err = NULL;
	const struct smarket *m;
	int64_t starts[SIM_MAX_COUNT], to_ms = 0;
	int count = 1, have_to = to_s != NULL && *to_s != '\0', n;

	if (market == NULL || *market == '\0')
		err = MSG_MISSING;
	else if (count_s != NULL)
		err = parse_count(count_s, &count);
	if (err == NULL && have_to && stime_parse(to_s, &to_ms) != 0)
		err = MSG_INVALID;
	if (err != NULL) {
		reply_error(r, 400, err);
		return 0;
	}
	if ((m = sgen_find_market(market)) == NULL || sgen_delisted(m, now_ms)) {
		reply_error(r, 404, MSG_NOTFOUND);
		return 0;
	}
	n = sgen_collect(m, tf, newest_start(tf, have_to, to_ms, now_ms), now_ms, count, starts);
	reply_candles(r, m, tf, starts, n, now_ms, wants_convert(conn, tf));
	return (uint64_t)n;
}

static void
handle_market_all(struct MHD_Connection *conn, int64_t now_ms, struct reply *r)
{
	const char *d = qarg(conn, "is_details");
	int details = 0;
	if (d == NULL)
		d = qarg(conn, "isDetails");
	if (d != NULL) {
		if (strcasecmp(d, "true") == 0) {
			details = 1;
		} else if (strcasecmp(d, "false") != 0) {
			reply_error(r, 400, MSG_TYPE);
			return;
		}
	}
	struct sbuf b = { 0 };
	int listed = 0;
	sb_printf(&b, "[");
	for (int i = 0; i < sgen_market_count(); i++) {
		const struct smarket *m = sgen_market(i);
		if (sgen_delisted(m, now_ms))
			continue;
		sb_printf(&b, "%s{\"market\":\"%s\",\"korean_name\":\"%s\",\"english_name\":\"%s\"",
		          listed++ ? "," : "", m->code, m->korean_name, m->english_name);
		if (details) {
			uint64_t h = sgen_hash(sgen_seed(), 0xe7e7, (uint64_t)i, 0);
			/* very sparse markets carry the warning; caution flags are rare */
			int warn = m->liq == SLIQ_VERY_SPARSE;
			sb_printf(&b,
			          ",\"market_event\":{\"warning\":%s,\"caution\":{"
			          "\"PRICE_FLUCTUATIONS\":%s,\"TRADING_VOLUME_SOARING\":%s,"
			          "\"DEPOSIT_AMOUNT_SOARING\":%s,\"GLOBAL_PRICE_DIFFERENCES\":%s,"
			          "\"CONCENTRATION_OF_SMALL_ACCOUNTS\":%s}}",
			          warn ? "true" : "false", (h & 0x7) == 1 ? "true" : "false",
			          (h >> 3 & 0x7) == 1 ? "true" : "false",
			          (h >> 6 & 0x7) == 1 ? "true" : "false",
			          (h >> 9 & 0x7) == 1 ? "true" : "false",
			          (h >> 12 & 0x7) == 1 ? "true" : "false");
		}
		sb_printf(&b, "}");
	}
	sb_printf(&b, "]");
	r->status = 200;
	r->ctype = CT_JSON;
	r->body = b.p;
	r->len = b.len;
}

/* Map a URL to its route, group and (for candles) timeframe; -1 unit error. */
static enum route
route_of(const char *url, enum stf *tf, int *bad_unit)
{
	static const struct {
		const char *path;
		enum route r;
		enum stf tf;
	} fixed[] = {
		{ "/v1/candles/seconds", R_SECONDS, STF_1S },
		{ "/v1/candles/days", R_DAYS, STF_1D },
		{ "/v1/candles/weeks", R_WEEKS, STF_1W },
		{ "/v1/candles/months", R_MONTHS, STF_1MO },
		{ "/v1/candles/years", R_YEARS, STF_1Y },
		{ "/v1/market/all", R_MARKET_ALL, STF_1D },
	};
	*bad_unit = 0;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if (strcmp(url, fixed[i].path) == 0) {
			*tf = fixed[i].tf;
			return fixed[i].r;
		}
	}
	static const char pre[] = "/v1/candles/minutes/";
	if (strncmp(url, pre, sizeof(pre) - 1) == 0) {
		const char *u = url + sizeof(pre) - 1;
		static const struct {
			const char *s;
			enum stf tf;
		} units[] = { { "1", STF_1M },   { "3", STF_3M },    { "5", STF_5M },
			      { "10", STF_10M }, { "15", STF_15M },  { "30", STF_30M },
			      { "60", STF_60M }, { "240", STF_240M } };
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			if (strcmp(u, units[i].s) == 0) {
				*tf = units[i].tf;
				return R_MINUTES;
			}
		}
		if (strchr(u, '/') == NULL) {
			*bad_unit = 1;
			return R_MINUTES;
		}
	}
	return R_OTHER;
}

/* ---- faults ---------------------------------------------------------------- */

struct trunc_body {
	char *body;
	size_t len, cut;
};

static ssize_t
trunc_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct trunc_body *t = cls;
	if (pos >= t->cut)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	size_t n = t->cut - (size_t)pos;
	if (n > max)
		n = max;
	memcpy(buf, t->body + pos, n);
	return (ssize_t)n;
}

static void
trunc_free(void *cls)
{
	struct trunc_body *t = cls;
	free(t->body);
	free(t);
}

static int
pick_fault(uint64_t seq, enum sfault *out)
{
	if (S.cfg.fault_rate <= 0.0 || S.cfg.faults == 0)
		return 0;
	uint64_t h = sgen_hash(S.cfg.seed, 0xfa17, seq, 0);
	double u = (double)(h >> 11) / 9007199254740992.0;
	if (u >= S.cfg.fault_rate)
		return 0;
	enum sfault list[SFAULT_COUNT];
	int n = 0;
	for (int i = 0; i < SFAULT_COUNT; i++)
		if (S.cfg.faults & (1u << i))
			list[n++] = (enum sfault)i;
	if (n == 0) /* only bits beyond the known faults: none to inject */
		return 0;
	*out = list[sgen_hash(S.cfg.seed, 0xfa18, seq, 0) % (uint64_t)n];
	return 1;
}

/* ---- stats ---------------------------------------------------------------- */

static void
stats_reply(struct reply *r)
{
	struct sbuf b = { 0 };
	pthread_mutex_lock(&S.lock);
	sb_printf(&b, "{\"requests\":%llu,\"by_status\":{", (unsigned long long)S.requests);
	int first = 1;
	for (int i = 0; i < 600; i++) {
		if (S.by_status[i]) {
			sb_printf(&b, "%s\"%d\":%llu", first ? "" : ",", i,
			          (unsigned long long)S.by_status[i]);
			first = 0;
		}
	}
	sb_printf(&b, "},\"by_route\":{");
	for (int i = 0; i < R_COUNT; i++)
		sb_printf(&b, "%s\"%s\":%llu", i ? "," : "", route_name[i],
		          (unsigned long long)S.by_route[i]);
	sb_printf(&b, "},\"candles_served\":%llu,\"gzip_responses\":%llu,\"faults\":{",
	          (unsigned long long)S.candles, (unsigned long long)S.gzip);
	for (int i = 0; i < SFAULT_COUNT; i++)
		sb_printf(&b, "%s\"%s\":%llu", i ? "," : "", fault_names[i],
		          (unsigned long long)S.faults[i]);
	sb_printf(&b, "},\"clients\":{");
	first = 1;
	for (int i = 0; i < CLIENT_BUCKETS; i++) {
		for (struct client *c = S.clients[i]; c; c = c->next) {
			sb_printf(&b,
			          "%s\"%s\":{\"requests\":%llu,\"peak_per_sec\":%d,\"r429\":%llu,"
			          "\"r418\":%llu}",
			          first ? "" : ",", c->addr, (unsigned long long)c->requests,
			          c->peak, (unsigned long long)c->n429,
			          (unsigned long long)c->n418);
			first = 0;
		}
	}
	sb_printf(&b, "}}");
	pthread_mutex_unlock(&S.lock);
	r->status = 200;
	r->ctype = CT_JSON;
	r->body = b.p;
	r->len = b.len;
}

static void
stats_reset(void)
{
	pthread_mutex_lock(&S.lock);
	S.requests = 0;
	memset(S.by_status, 0, sizeof(S.by_status));
	memset(S.by_route, 0, sizeof(S.by_route));
	memset(S.faults, 0, sizeof(S.faults));
	S.candles = 0;
	S.gzip = 0;
	for (int i = 0; i < CLIENT_BUCKETS; i++) {
		struct client *c = S.clients[i];
		while (c) {
			struct client *n = c->next;
			free(c);
			c = n;
		}
		S.clients[i] = NULL;
	}
	pthread_mutex_unlock(&S.lock);
}

/* ---- the handler ---------------------------------------------------------- */

/* Upbit's rate limit headers on every answer of a limited group. */
static void
add_limit_headers(struct MHD_Response *resp, enum group g, int remaining)
{
	char hdr[96];

	if (g == G_NONE)
		return;
	snprintf(hdr, sizeof(hdr), "group=%s; min=%d; sec=%d", group_name[g],
	         g == G_ORIGIN ? 6 : 600, remaining);
	MHD_add_response_header(resp, "Remaining-Req", hdr);
	MHD_add_response_header(resp, "limit-by-ip", "Yes");
}

static enum MHD_Result
queue(struct MHD_Connection *conn, int status, struct MHD_Response *resp, const char *ctype,
      enum group g, int remaining)
{
	enum MHD_Result ret;

	MHD_add_response_header(resp, "Content-Type", ctype);
	MHD_add_response_header(resp, "Vary", "Accept-Encoding");
	add_limit_headers(resp, g, remaining);
	ret = MHD_queue_response(conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* 1 if one "name[;q=V]" element of Accept-Encoding is gzip with q > 0. */
static int
gzip_element(const char *e, size_t len)
{
	const char *q;

	while (len > 0 && (*e == ' ' || *e == '\t'))
		e++, len--;
	if (!((len >= 4 && strncasecmp(e, "gzip", 4) == 0 &&
	       (len == 4 || e[4] == ';' || e[4] == ' ')) ||
	      (len >= 6 && strncasecmp(e, "x-gzip", 6) == 0)))
		return 0;
	q = memchr(e, '=', len);
	return q == NULL || strtod(q + 1, NULL) > 0.0;
}

/* The client takes gzip (its Accept-Encoding names gzip, q > 0). */
static int
accepts_gzip(struct MHD_Connection *conn)
{
	const char *ae = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept-Encoding");

	while (ae != NULL && *ae != '\0') {
		size_t n = strcspn(ae, ",");

		if (gzip_element(ae, n))
			return 1;
		ae += n + (ae[n] == ',');
	}
	return 0;
}

/* Replaces r's body by its gzip encoding: 0, or -1 (body unchanged). */
static int
gzip_reply(struct reply *r)
{
	z_stream zs;
	uLong cap;
	unsigned char *out;
	int rc;

	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
	    Z_OK)
		return -1;
	cap = deflateBound(&zs, (uLong)r->len) + 32;
	if ((out = malloc(cap)) == NULL) {
		deflateEnd(&zs);
		return -1;
	}
	zs.next_in = (Bytef *)r->body;
	zs.avail_in = (uInt)r->len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	rc = deflate(&zs, Z_FINISH);
	deflateEnd(&zs);
	if (rc != Z_STREAM_END) {
		free(out);
		return -1;
	}
	free(r->body);
	r->body = (char *)out;
	r->len = zs.total_out;
	return 0;
}

static enum MHD_Result
send_reply(struct MHD_Connection *conn, struct reply *r, enum group g, int remaining)
{
	struct MHD_Response *resp;
	int gz = 0;

	if (r->body == NULL)
		reply_set(r, 500, CT_TEXT, "out of memory", 13);
	if (r->body != NULL && accepts_gzip(conn))
		gz = gzip_reply(r) == 0;
	resp = MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(r->body);
		return MHD_NO;
	}
	if (gz) {
		MHD_add_response_header(resp, "Content-Encoding", "gzip");
		pthread_mutex_lock(&S.lock);
		S.gzip++;
		pthread_mutex_unlock(&S.lock);
	}
	return queue(conn, r->status, resp, r->ctype, g, remaining);
}

/* The truncate fault: a 200 whose body stops halfway (the connection
 * closes with an error after len / 2 bytes). */
static enum MHD_Result
send_truncated(struct MHD_Connection *conn, struct reply *r, enum group g, int remaining)
{
	struct trunc_body *t = malloc(sizeof(*t));
	struct MHD_Response *resp;

	if (t == NULL) {
		free(r->body);
		return MHD_NO;
	}
	t->body = r->body;
	t->len = r->len;
	t->cut = r->len / 2;
	resp = MHD_create_response_from_callback(r->len, 4096, trunc_reader, t, trunc_free);
	if (resp == NULL) {
		trunc_free(t);
		return MHD_NO;
	}
	return queue(conn, 200, resp, CT_JSON, g, remaining);
}

/* Counts an answer (and the candles it carries) in the stats. */
static void
count_reply(int status, uint64_t ncandles)
{
	pthread_mutex_lock(&S.lock);
	if (status >= 0 && status < 600)
		S.by_status[status]++;
	S.candles += ncandles;
	pthread_mutex_unlock(&S.lock);
}

static enum MHD_Result
handle_sim(struct MHD_Connection *conn, const char *url, const char *method)
{
	struct reply r = { 0 };
	if (strcmp(url, "/__sim/stats") == 0 && strcmp(method, "GET") == 0) {
		stats_reply(&r);
	} else if (strcmp(url, "/__sim/reset") == 0 &&
	           (strcmp(method, "GET") == 0 || strcmp(method, "POST") == 0)) {
		stats_reset();
		reply_set(&r, 200, CT_JSON, "{\"reset\":true}", 14);
	} else {
		reply_error(&r, 404, "Not found");
	}
	return send_reply(conn, &r, G_NONE, 0);
}

/* One API request as the handler sees it. */
struct request {
	struct MHD_Connection *conn;
	int64_t now_ms; /* the wall clock at arrival: what exists */
	enum route rt;
	enum stf tf;
	int bad_unit;
	enum group g;
	int remaining;
	int64_t block_s;
	enum verdict v;
	uint64_t seq;
};

/* The client's numeric address, or "unknown". */
static void
client_address(struct MHD_Connection *conn, char *addr, size_t len)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;

	snprintf(addr, len, "unknown");
	if (sa != NULL && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, addr,
		          (socklen_t)len);
	else if (sa != NULL && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		          addr, (socklen_t)len);
}

/* Route, group, the client's rate limit verdict and the request number. */
static void
admit(struct request *q, const char *url)
{
	char addr[INET6_ADDRSTRLEN];
	int64_t now_mono = mono_ms();
	struct client *c;

	q->now_ms = stime_now_ms();
	q->tf = STF_1M;
	q->rt = route_of(url, &q->tf, &q->bad_unit);
	q->g = q->rt == R_OTHER ? G_NONE : q->rt == R_MARKET_ALL ? G_MARKET : G_CANDLES;
	if (q->g != G_NONE &&
	    MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Origin") != NULL)
		q->g = G_ORIGIN;
	client_address(q->conn, addr, sizeof(addr));
	pthread_mutex_lock(&S.lock);
	if ((c = client_get(addr)) != NULL) {
		client_arrival(c, now_mono);
		if (q->g != G_NONE)
			q->v = rate_check(c, q->g, now_mono, &q->remaining, &q->block_s);
	}
	q->seq = S.seq++;
	S.requests++;
	S.by_route[q->rt]++;
	pthread_mutex_unlock(&S.lock);
}

/* --latency-ms with +-10% jitter; nonzero if the server stopped meanwhile. */
static int
delay(uint64_t seq)
{
	uint64_t h;
	int64_t base = S.cfg.latency_ms, jit = base / 10;

	if (base <= 0)
		return 0;
	h = sgen_hash(S.cfg.seed, 0x1a7e, seq, 0);
	return sleep_ms(base - jit + (int64_t)(h % (uint64_t)(2 * jit + 1)));
}

/* 418 while blocked, 429 over the limit. */
static enum MHD_Result
send_limited(const struct request *q)
{
	struct reply r = { 0 };

	if (q->v == V_418) {
		char msg[96];

		snprintf(msg, sizeof(msg), "Too many requests. You are blocked for %lld seconds.",
		         (long long)q->block_s);
		reply_error(&r, 418, msg);
	} else {
		reply_set(&r, 429, CT_TEXT, "Too many API requests.", 22);
	}
	count_reply(r.status, 0);
	return send_reply(q->conn, &r, q->g, 0);
}

/* A fault that replaces the answer: reset, hang, 500, 502, garbage. */
static enum MHD_Result
send_fault(const struct request *q, enum sfault f)
{
	static const char html[] =
	    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
	    "<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n";
	static const char junk[] = "\x1f\x8b<!-- upbit-sim garbage -->\x01\x02 not json {[";
	struct reply r = { 0 };

	switch (f) {
	case SFAULT_HANG: sleep_ms(S.cfg.hang_ms); return MHD_NO;
	case SFAULT_500: reply_error(&r, 500, "Internal Server Error"); break;
	case SFAULT_502: reply_set(&r, 502, CT_HTML, html, sizeof(html) - 1); break;
	case SFAULT_GARBAGE: reply_set(&r, 200, CT_JSON, junk, sizeof(junk) - 1); break;
	default: return MHD_NO; /* reset */
	}
	count_reply(r.status, 0);
	return send_reply(q->conn, &r, q->g, q->remaining);
}

/* The real answer of the route. */
static uint64_t
answer(const struct request *q, struct reply *r)
{
	if (q->rt == R_OTHER)
		reply_error(r, 404, "Not found");
	else if (q->bad_unit)
		reply_error(r, 400, MSG_UNIT);
	else if (q->rt == R_MARKET_ALL)
		handle_market_all(q->conn, q->now_ms, r);
	else
		return handle_candles(q->conn, q->tf, q->now_ms, r);
	return 0;
}

static enum MHD_Result
handle_api(struct MHD_Connection *conn, const char *url)
{
	struct request q = { .conn = conn, .v = V_OK };
	struct reply r = { 0 };
	enum sfault f = SFAULT_COUNT;
	uint64_t ncandles;

	admit(&q, url);
	if (delay(q.seq))
		return MHD_NO;
	if (q.v != V_OK)
		return send_limited(&q);
	if (pick_fault(q.seq, &f)) {
		pthread_mutex_lock(&S.lock);
		S.faults[f]++;
		pthread_mutex_unlock(&S.lock);
		if (f != SFAULT_TRUNCATE)
			return send_fault(&q, f);
	}
	ncandles = answer(&q, &r);
	if (f == SFAULT_TRUNCATE && r.body != NULL) {
		count_reply(200, 0);
		return send_truncated(conn, &r, q.g, q.remaining);
	}
	count_reply(r.status, ncandles);
	return send_reply(conn, &r, q.g, q.remaining);
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
        const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	(void)cls;
	(void)version;
	(void)upload_data;

	/* answer on the final call: an early answer would cost the keep-alive */
	if (*con_cls == NULL) {
		*con_cls = &conn_marker;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (strncmp(url, "/__sim/", 7) == 0)
		return handle_sim(conn, url, method);
	return handle_api(conn, url);
}

/* ---- lifecycle ------------------------------------------------------------- */

static int
write_port_file(const char *path, unsigned port)
{
	char text[16];

	snprintf(text, sizeof(text), "%u\n", port);
	return sfile_replace(path, text);
}

/* TLS 1.2 and 1.3 only, as the real API. */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

static struct MHD_Daemon *
start_daemon(const struct ssrv_config *cfg, unsigned flags, const struct sockaddr *sa)
{
	if (cfg->tls_cert_pem == NULL)
		return MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, handler, NULL,
		                        MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_CONNECTION_TIMEOUT,
		                        (unsigned)120, MHD_OPTION_END);
	return MHD_start_daemon(flags | MHD_USE_TLS, (uint16_t)cfg->port, NULL, NULL, handler, NULL,
	                        MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_CONNECTION_TIMEOUT,
	                        (unsigned)120, MHD_OPTION_HTTPS_MEM_CERT, cfg->tls_cert_pem,
	                        MHD_OPTION_HTTPS_MEM_KEY, cfg->tls_key_pem,
	                        MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES, MHD_OPTION_END);
}

int
ssrv_run(const struct ssrv_config *cfg)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	const struct sockaddr *sa;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	                 MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
	pthread_condattr_t ca;
	sigset_t set;
	int sig;

	S.cfg = *cfg;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&S.sleep_cond, &ca);
	pthread_condattr_destroy(&ca);

	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	if (inet_pton(AF_INET, cfg->bind, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)cfg->port);
		sa = (const struct sockaddr *)&sin;
	} else if (inet_pton(AF_INET6, cfg->bind, &sin6.sin6_addr) == 1) {
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons((uint16_t)cfg->port);
		sa = (const struct sockaddr *)&sin6;
		flags |= MHD_USE_IPv6;
	} else {
		logx("invalid --bind address '%s' (numeric IPv4/IPv6 expected)", cfg->bind);
		return 2;
	}

	/* signals are taken synchronously by this thread; workers inherit the mask */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct MHD_Daemon *d = start_daemon(cfg, flags, sa);
	if (d == NULL) {
		logx("cannot listen on %s:%d%s: %s", cfg->bind, cfg->port,
		     cfg->tls_cert_pem ? " with TLS (is the certificate and key PEM?)" : "",
		     strerror(errno));
		return 1;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	unsigned port = di != NULL ? di->port : (unsigned)cfg->port;
	if (cfg->port_file != NULL && write_port_file(cfg->port_file, port) != 0) {
		logx("cannot write port file %s: %s", cfg->port_file, strerror(errno));
		MHD_stop_daemon(d);
		return 1;
	}
	logx("listening on %s:%u%s (seed %llu, rate limit %d/s, latency %d ms, fault rate %g)",
	     cfg->bind, port, cfg->tls_cert_pem ? " with TLS" : "", (unsigned long long)cfg->seed,
	     cfg->rate_limit, cfg->latency_ms, cfg->fault_rate);

	while (sigwait(&set, &sig) != 0)
		;
	logx("signal %d, stopping", sig);
	pthread_mutex_lock(&S.sleep_lock);
	S.stopping = 1;
	pthread_cond_broadcast(&S.sleep_cond);
	pthread_mutex_unlock(&S.sleep_lock);
	MHD_stop_daemon(d);
	stats_reset();
	logx("stopped");
	return 0;
}
