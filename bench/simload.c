/*
 * simload.c - load generator for upbit-sim: libcurl multi with keep-alive,
 * C connections each issuing candle requests back to back (count=200,
 * walking `to` back in time across a few markets) for a fixed duration.
 * Prints "sim: N candles/s (R requests/s, C connections)".
 *
 * usage: simload --port P [--host 127.0.0.1] [--conns C] [--seconds S]
 *                [--path-kind minutes|days|seconds]
 * Exit 0 on success, 1 if any request failed, 2 on usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#define MAX_CONNS 64

struct conn {
	CURL *h;
	char url[512];
	size_t bytes;
	long candles; /* counted as '{' at depth 1 */
	int depth;
	unsigned long n;
};

static const char *markets[] = { "KRW-BTC",  "KRW-ETH", "KRW-XRP",  "KRW-SOL",
	                         "KRW-DOGE", "KRW-ADA", "USDT-BTC", "BTC-ETH" };

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t
on_data(char *p, size_t sz, size_t nm, void *ud)
{
	struct conn *c = ud;
	size_t n = sz * nm;
	/* count top-level objects: candles contain no nested braces */
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '{') {
			if (c->depth++ == 0)
				c->candles++;
		} else if (p[i] == '}') {
			c->depth--;
		}
	}
	c->bytes += n;
	return n;
}

static void
prepare(struct conn *c, const char *host, int port, const char *kind, unsigned long k)
{
	const char *mk = markets[k % (sizeof(markets) / sizeof(markets[0]))];
	/* walk back in time from 2026-10-01 so pages differ */
	int days = strcmp(kind, "days") == 0;
	long back = (long)(k % (days ? 15 : 5000));
	time_t to = (time_t)1790812800 - (time_t)back * (days ? 86400 * 200 : 12000);
	struct tm tm;
	char when[32];
	gmtime_r(&to, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (strcmp(kind, "minutes") == 0)
		snprintf(c->url, sizeof(c->url),
		         "http://%s:%d/v1/candles/minutes/1?market=%s&count=200&to=%s", host, port,
		         mk, when);
	else
		snprintf(c->url, sizeof(c->url),
		         "http://%s:%d/v1/candles/%s?market=%s&count=200%s%s", host, port, kind, mk,
		         strcmp(kind, "seconds") == 0 ? "" : "&to=",
		         strcmp(kind, "seconds") == 0 ? "" : when);
	c->depth = 0;
	curl_easy_setopt(c->h, CURLOPT_URL, c->url);
}

/* What to run and what it did. */
struct load {
	const char *host, *kind;
	int port, nconns;
	double seconds;
	CURLM *multi;
	unsigned long k, done, failed;
	long candles;
};

/* Sets option a to v: 0, or -1 if a is not an option. */
static int
set_arg(struct load *l, const char *a, const char *v)
{
	if (strcmp(a, "--port") == 0)
		l->port = atoi(v);
	else if (strcmp(a, "--host") == 0)
		l->host = v;
	else if (strcmp(a, "--conns") == 0)
		l->nconns = atoi(v);
	else if (strcmp(a, "--seconds") == 0)
		l->seconds = atof(v);
	else if (strcmp(a, "--path-kind") == 0)
		l->kind = v;
	else
		return -1;
	return 0;
}

/* 0, or 2 after a usage message. */
static int
parse_args(int argc, char **argv, struct load *l)
{
	for (int i = 1; i < argc; i += 2) {
		if (i + 1 >= argc || set_arg(l, argv[i], argv[i + 1]) == -1) {
			fprintf(stderr,
			        "usage: simload --port P [--host H] [--conns C] [--seconds S] "
			        "[--path-kind minutes|days|seconds]\n");
			return 2;
		}
	}
	if (l->port <= 0 || l->port > 65535 || l->nconns < 1 || l->nconns > MAX_CONNS ||
	    l->seconds <= 0 || l->seconds > 60) {
		fprintf(stderr, "simload: bad arguments\n");
		return 2;
	}
	return 0;
}

/* Starts the next request on c. */
static void
submit(struct load *l, struct conn *c)
{
	prepare(c, l->host, l->port, l->kind, l->k++);
	curl_multi_add_handle(l->multi, c->h);
}

/* Counts the finished transfer of msg; 1 if its connection goes on. */
static int
finish(struct load *l, CURLMsg *msg, double deadline)
{
	struct conn *c;
	long code = 0;

	curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
	curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
	if (msg->data.result != CURLE_OK || code != 200)
		l->failed++;
	l->done++;
	l->candles += c->candles;
	c->candles = 0;
	curl_multi_remove_handle(l->multi, c->h);
	if (now_s() >= deadline)
		return 0;
	submit(l, c);
	return 1;
}

/* Runs the requests back to back until the deadline; the elapsed time. */
static double
run(struct load *l, struct conn *conns)
{
	double t0 = now_s(), deadline = t0 + l->seconds;
	int running = l->nconns;

	for (int i = 0; i < l->nconns; i++) {
		struct conn *c = &conns[i];

		c->h = curl_easy_init();
		curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_data);
		curl_easy_setopt(c->h, CURLOPT_WRITEDATA, c);
		curl_easy_setopt(c->h, CURLOPT_PRIVATE, c);
		curl_easy_setopt(c->h, CURLOPT_TCP_NODELAY, 1L);
		curl_easy_setopt(c->h, CURLOPT_TIMEOUT, 10L);
		submit(l, c);
	}
	while (running > 0) {
		CURLMsg *msg;
		int left;

		curl_multi_perform(l->multi, &running);
		while ((msg = curl_multi_info_read(l->multi, &left)) != NULL)
			if (msg->msg == CURLMSG_DONE)
				running += finish(l, msg, deadline);
		if (running > 0)
			curl_multi_poll(l->multi, NULL, 0, 100, NULL);
	}
	return now_s() - t0;
}

int
main(int argc, char **argv)
{
	static struct conn conns[MAX_CONNS];
	struct load l = { .host = "127.0.0.1", .kind = "minutes", .nconns = 4, .seconds = 3.0 };
	double el;

	if (parse_args(argc, argv, &l) != 0)
		return 2;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	l.multi = curl_multi_init();
	curl_multi_setopt(l.multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)l.nconns);
	el = run(&l, conns);
	printf("sim: %.0f candles/s (%.0f requests/s, %d connections)\n", (double)l.candles / el,
	       (double)l.done / el, l.nconns);
	fprintf(stderr, "simload: %lu requests, %ld candles, %lu failed, %.2f s\n", l.done,
	        l.candles, l.failed, el);
	for (int i = 0; i < l.nconns; i++)
		curl_easy_cleanup(conns[i].h);
	curl_multi_cleanup(l.multi);
	curl_global_cleanup();
	return l.failed ? 1 : 0;
}
