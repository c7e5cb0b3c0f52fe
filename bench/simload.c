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

int
main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *kind = "minutes";
	int port = 0, nconns = 4;
	double seconds = 3.0;

	for (int i = 1; i < argc; i++) {
		if (i + 1 < argc && strcmp(argv[i], "--port") == 0)
			port = atoi(argv[++i]);
		else if (i + 1 < argc && strcmp(argv[i], "--host") == 0)
			host = argv[++i];
		else if (i + 1 < argc && strcmp(argv[i], "--conns") == 0)
			nconns = atoi(argv[++i]);
		else if (i + 1 < argc && strcmp(argv[i], "--seconds") == 0)
			seconds = atof(argv[++i]);
		else if (i + 1 < argc && strcmp(argv[i], "--path-kind") == 0)
			kind = argv[++i];
		else {
			fprintf(stderr,
			        "usage: simload --port P [--host H] [--conns C] [--seconds S] "
			        "[--path-kind minutes|days|seconds]\n");
			return 2;
		}
	}
	if (port <= 0 || port > 65535 || nconns < 1 || nconns > MAX_CONNS || seconds <= 0 ||
	    seconds > 60) {
		fprintf(stderr, "simload: bad arguments\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURLM *multi = curl_multi_init();
	curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)nconns);
	static struct conn conns[MAX_CONNS];
	unsigned long k = 0, done = 0, failed = 0;
	long candles = 0;
	for (int i = 0; i < nconns; i++) {
		struct conn *c = &conns[i];
		c->h = curl_easy_init();
		curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_data);
		curl_easy_setopt(c->h, CURLOPT_WRITEDATA, c);
		curl_easy_setopt(c->h, CURLOPT_PRIVATE, c);
		curl_easy_setopt(c->h, CURLOPT_TCP_NODELAY, 1L);
		curl_easy_setopt(c->h, CURLOPT_TIMEOUT, 10L);
		prepare(c, host, port, kind, k++);
		curl_multi_add_handle(multi, c->h);
	}
	double t0 = now_s(), deadline = t0 + seconds;
	int running = nconns;
	while (running > 0) {
		curl_multi_perform(multi, &running);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct conn *c;
			long code = 0;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
			curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
			if (msg->data.result != CURLE_OK || code != 200)
				failed++;
			done++;
			candles += c->candles;
			c->candles = 0;
			curl_multi_remove_handle(multi, c->h);
			if (now_s() < deadline) {
				prepare(c, host, port, kind, k++);
				curl_multi_add_handle(multi, c->h);
				running++;
			}
		}
		if (running > 0)
			curl_multi_poll(multi, NULL, 0, 100, NULL);
	}
	double el = now_s() - t0;
	printf("sim: %.0f candles/s (%.0f requests/s, %d connections)\n", (double)candles / el,
	       (double)done / el, nconns);
	fprintf(stderr, "simload: %lu requests, %ld candles, %lu failed, %.2f s\n", done, candles,
	        failed, el);
	for (int i = 0; i < nconns; i++)
		curl_easy_cleanup(conns[i].h);
	curl_multi_cleanup(multi);
	curl_global_cleanup();
	return failed ? 1 : 0;
}
