/*
 * forming.c: the candle still forming, passed through from upstream
 * (--api-url, libcurl, --cacert as the fetcher has it) for the newest
 * candles of a request without `to` (or with a future one), and never
 * stored. These calls are outside the planner's budget, so they are
 * bounded here: one thread makes them, one at a time (so at most one in
 * flight per (market, timeframe), and in all), requests for the same
 * (market, timeframe, slot) while one runs wait on it, and an answer is
 * kept FORMING_CACHE_MS for the requests after it. Owns that thread, its
 * curl handle and the cache; waits are flights of readthru.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "log.h"
#include "readthru.h"
#include "timeutil.h"

#define FORMING_CACHE_MS 1000
#define FORMING_CACHE_N 64
#define FORMING_TIMEOUT_MS 5000
#define FORMING_CONNECT_MS 2000
#define FORMING_BODY_MAX (256 * 1024)
#define FORMING_URL_MAX 1024

struct fcache {
	char market[RT_MARKET_MAX];
	enum tf tf;
	int64_t open, at_ms; /* at_ms 0: unused */
	struct buf json;     /* the object, or empty: no trade in the slot yet */
};

static struct fcache cache[FORMING_CACHE_N];
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_t thread;
static int running;
static CURL *easy;
static uint64_t n_calls, n_errors, n_cached;

void
forming_wake(void)
{
	pthread_cond_signal(&wake);
}

/* The fresh cache entry of (market, tf, open), or NULL. Under rt_lock. */
static struct fcache *
cache_find(const char *market, enum tf tf, int64_t open)
{
	int64_t now = time_mono_ms();

	for (int i = 0; i < FORMING_CACHE_N; i++) {
		struct fcache *c = &cache[i];

		if (c->at_ms != 0 && now - c->at_ms < FORMING_CACHE_MS && c->tf == tf &&
		    c->open == open && strcmp(c->market, market) == 0)
			return c;
	}
	return NULL;
}

/* Keeps an answer, in the entry of (market, tf) or the oldest. */
static void
cache_put(const char *market, enum tf tf, int64_t open, const char *json, size_t len)
{
	struct fcache *c = &cache[0];

	for (int i = 0; i < FORMING_CACHE_N; i++) {
		if (cache[i].tf == tf && strcmp(cache[i].market, market) == 0) {
			c = &cache[i];
			break;
		}
		if (cache[i].at_ms < c->at_ms)
			c = &cache[i];
	}
	snprintf(c->market, sizeof(c->market), "%s", market);
	c->tf = tf;
	c->open = open;
	c->at_ms = time_mono_ms();
	buf_reset(&c->json);
	(void)buf_add(&c->json, json, len, BUF_NO_MAX);
}

int
readthru_forming(struct sv_reply *r, const char *market, enum tf tf, int64_t open, struct buf *out)
{
	const struct rt_req *q = r->rt;
	struct fcache *c;

	if (q != NULL && q->have_forming && q->forming_open == open && q->res == RT_DONE) {
		(void)buf_add(out, q->forming.data != NULL ? q->forming.data : "", q->forming.len,
		              BUF_NO_MAX);
		return 1;
	}
	if (strlen(market) >= RT_MARKET_MAX) {
		reply_error(r, 400, SV_ERROR, SV_MSG_INVALID);
		return -1;
	}
	pthread_mutex_lock(&rt_lock);
	if ((c = cache_find(market, tf, open)) != NULL)
		(void)buf_add(out, c->json.data != NULL ? c->json.data : "", c->json.len,
		              BUF_NO_MAX);
	pthread_mutex_unlock(&rt_lock);
	if (c != NULL) {
		__atomic_fetch_add(&n_cached, 1, __ATOMIC_RELAXED);
		return 1;
	}
	return rt_forming_park(r, market, tf, open) == 0 ? 0 : -1;
}

/* ---- upstream ------------------------------------------------------------------ */

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;

	return buf_add(b, p, size * n, FORMING_BODY_MAX) == 0 ? size * n : 0;
}

/* GET api/v1/candles/ROUTE?market=M&count=1 into body: 0, or -1 (why). */
static int
fetch(const char *market, enum tf tf, struct buf *body, char *why, size_t len)
{
	char url[FORMING_URL_MAX];
	char *m = curl_easy_escape(easy, market, 0);
	long code = 0;
	CURLcode rc;

	if (m == NULL)
		return -1;
	snprintf(url, sizeof(url), "%s/v1/candles/%s?market=%s&count=1", rt_opt.api_url,
	         tf_route(tf), m);
	curl_free(m);
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, body);
	__atomic_fetch_add(&n_calls, 1, __ATOMIC_RELAXED);
	rc = curl_easy_perform(easy);
	if (rc == CURLE_OK)
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	if (rc == CURLE_OK && code == 200)
		return 0;
	__atomic_fetch_add(&n_errors, 1, __ATOMIC_RELAXED);
	if (rc != CURLE_OK)
		snprintf(why, len, "the forming candle: upstream %s: %s", rt_opt.api_url,
		         curl_easy_strerror(rc));
	else
		snprintf(why, len, "the forming candle: upstream %s answered %ld", rt_opt.api_url,
		         code);
	return -1;
}

/* The end of the JSON object starting at p (a '{'), or NULL. */
static const char *
object_end(const char *p, const char *end)
{
	int depth = 0, in_str = 0;

	for (; p < end; p++) {
		if (in_str) {
			if (*p == '\\')
				p++;
			else if (*p == '"')
				in_str = 0;
		} else if (*p == '"') {
			in_str = 1;
		} else if (*p == '{' || *p == '[') {
			depth++;
		} else if ((*p == '}' || *p == ']') && --depth == 0) {
			return p + 1;
		}
	}
	return NULL;
}

static const char *
skip_space(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

/* The start time of the candle object [p, e): 0 or -1. */
static int
object_time(const char *p, const char *e, int64_t *start)
{
	static const char key[] = "\"candle_date_time_utc\":\"";
	const char *k = memmem(p, (size_t)(e - p), key, sizeof(key) - 1);
	char t[TIME_TEXT_LEN];

	if (k == NULL || e - (k + sizeof(key) - 1) < TIME_TEXT_LEN - 1)
		return -1;
	memcpy(t, k + sizeof(key) - 1, TIME_TEXT_LEN - 1);
	t[TIME_TEXT_LEN - 1] = '\0';
	return time_parse(t, start);
}

/* The newest candle of upstream's answer when it starts in the slot open:
 * [*obj, *obj + *olen); *olen 0 when the newest is an older, closed one (no
 * trade in the slot yet) or there is none. 0, or -1 (why). */
static int
pick_forming(const struct buf *body, enum tf tf, int64_t open, const char **obj, size_t *olen,
             char *why, size_t len)
{
	const char *p = body->data != NULL ? body->data : "", *end = p + body->len, *e;
	int64_t start;

	*olen = 0;
	p = skip_space(p, end);
	if (p < end && *p == '[')
		p = skip_space(p + 1, end);
	if (p < end && *p == ']')
		return 0;
	if (p >= end || *p != '{' || (e = object_end(p, end)) == NULL ||
	    object_time(p, e, &start) == -1) {
		snprintf(why, len, "the forming candle: a malformed answer from upstream");
		return -1;
	}
	if (tf_floor(tf, start) == open) {
		*obj = p;
		*olen = (size_t)(e - p);
	}
	return 0;
}

/* Gives the candle to fl's waiters and ends it. Under rt_lock. */
static void
deliver(struct flight *fl, const char *obj, size_t olen, struct rt_req **resume)
{
	for (struct rt_req *q = fl->waiters; q != NULL; q = q->next) {
		buf_reset(&q->forming);
		(void)buf_add(&q->forming, obj, olen, BUF_NO_MAX);
		q->have_forming = !q->forming.err;
		q->forming_open = fl->from;
	}
	cache_put(fl->market, fl->tf, fl->from, obj, olen);
	rt_finish(fl, RT_DONE, 200, "", resume);
}

/* Fetches the forming candle of fl and ends it. Under rt_lock, released
 * during the call (only this thread frees forming flights). */
static void
fetch_flight(struct flight *fl)
{
	struct flight copy = *fl;
	struct buf body = { 0 };
	struct rt_req *resume = NULL;
	char why[CTL_ERR_MAX] = "";
	const char *obj = "";
	size_t olen = 0;
	int rc;

	fl->busy = 1;
	pthread_mutex_unlock(&rt_lock);
	rc = fetch(copy.market, copy.tf, &body, why, sizeof(why));
	if (rc == 0)
		rc = pick_forming(&body, copy.tf, copy.from, &obj, &olen, why, sizeof(why));
	pthread_mutex_lock(&rt_lock);
	if (rt_stopping) /* readthru_stop ended the flight */
		;
	else if (rc == 0)
		deliver(fl, obj, olen, &resume);
	else
		rt_finish(fl, RT_FAILED, 503, why, &resume);
	pthread_mutex_unlock(&rt_lock);
	buf_free(&body);
	rt_resume(resume);
	pthread_mutex_lock(&rt_lock);
}

static struct flight *
first_unfetched(void)
{
	for (struct flight *fl = rt_flights; fl != NULL; fl = fl->next)
		if (fl->kind == FL_FORMING && !fl->busy)
			return fl;
	return NULL;
}

static void *
forming_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&rt_lock);
	while (!rt_stopping) {
		struct flight *fl = first_unfetched();

		if (fl == NULL)
			pthread_cond_wait(&wake, &rt_lock);
		else
			fetch_flight(fl);
	}
	pthread_mutex_unlock(&rt_lock);
	return NULL;
}

int
forming_start(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || (easy = curl_easy_init()) == NULL)
		return -1;
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long)FORMING_CONNECT_MS);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)FORMING_TIMEOUT_MS);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "candlepipe-serve/0.1");
	curl_easy_setopt(easy, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (rt_opt.cacert != NULL)
		curl_easy_setopt(easy, CURLOPT_CAINFO, rt_opt.cacert);
	if (pthread_create(&thread, NULL, forming_main, NULL) != 0)
		return -1;
	running = 1;
	return 0;
}

void
forming_stop(void)
{
	pthread_mutex_lock(&rt_lock);
	pthread_cond_broadcast(&wake);
	pthread_mutex_unlock(&rt_lock);
	if (running)
		pthread_join(thread, NULL);
	running = 0;
	if (easy != NULL)
		curl_easy_cleanup(easy);
	easy = NULL;
	for (int i = 0; i < FORMING_CACHE_N; i++)
		buf_free(&cache[i].json);
}

void
forming_metrics(struct buf *b)
{
	buf_printf(b,
	           "# HELP cp_serve_upstream_requests_total calls upstream for the forming "
	           "candle (outside the planner's budget)\n"
	           "# TYPE cp_serve_upstream_requests_total counter\n"
	           "cp_serve_upstream_requests_total %llu\n"
	           "# HELP cp_serve_upstream_errors_total of them, the ones that failed\n"
	           "# TYPE cp_serve_upstream_errors_total counter\n"
	           "cp_serve_upstream_errors_total %llu\n"
	           "# HELP cp_serve_forming_cached_total forming candles served from the %d ms "
	           "cache\n"
	           "# TYPE cp_serve_forming_cached_total counter\n"
	           "cp_serve_forming_cached_total %llu\n",
	           (unsigned long long)rt_count(&n_calls), (unsigned long long)rt_count(&n_errors),
	           FORMING_CACHE_MS, (unsigned long long)rt_count(&n_cached));
}
