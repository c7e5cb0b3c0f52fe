/*
 * http.c: concurrent GETs on one libcurl multi handle. Owns the multi handle
 * (its connection cache gives keep-alive across requests), one easy handle
 * per slot (reused, so options are set once) and each slot's body buffer
 * (grown on demand, never beyond body_max). The caller owns scheduling: a
 * transfer starts when http_start is called and is reported once through
 * http_next_done.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "buf.h"
#include "crashpoint.h"
#include "http.h"
#include "log.h"
#include "upbit_json.h"

#define HTTP_CONNECT_TIMEOUT_MS 3000L
#define HTTP_TIMEOUT_MS 10000L
#define HTTP_LOW_SPEED_BYTES 1L  /* below this many bytes/s ... */
#define HTTP_LOW_SPEED_TIME_S 5L /* ... for this long: stalled */
#define HTTP_IFACE_MAX 80

enum slot_state { S_IDLE, S_RUNNING, S_DONE };

struct xfer {
	struct http *h;
	CURL *easy;
	enum slot_state state;
	void *user;
	struct buf body; /* never beyond body_max */
	int too_big;
	int remaining_req;
	char errbuf[CURL_ERROR_SIZE];
};

struct http {
	CURLM *multi;
	struct xfer *x;
	int n;
	int running;
	size_t body_max;
	struct curl_slist *headers;
	char iface[HTTP_IFACE_MAX];
};

static int curl_inited;

static size_t
on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;

	if (buf_add(&x->body, ptr, n, x->h->body_max) == 0)
		return n;
	if (x->body.err == EMSGSIZE)
		x->too_big = 1;
	else
		snprintf(x->errbuf, sizeof(x->errbuf), "out of memory for the body");
	return 0; /* aborts with CURLE_WRITE_ERROR */
}

static size_t
on_header(char *line, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;
	static const char name[] = "remaining-req:";

	/* a new status line starts a new header block (after 1xx) */
	if (n >= 5 && memcmp(line, "HTTP/", 5) == 0)
		x->remaining_req = -1;
	else if (n > sizeof(name) - 1 && strncasecmp(line, name, sizeof(name) - 1) == 0)
		x->remaining_req =
		    upbit_remaining_req(line + sizeof(name) - 1, n - (sizeof(name) - 1));
	return n;
}

/* 1 (logged) if a curl_easy_setopt call failed. */
static int
setopt_failed(CURLcode rc, const char *name)
{
	if (FAILPOINT("fetcher_curl_setopt"))
		rc = CURLE_UNKNOWN_OPTION;
	if (rc == CURLE_OK)
		return 0;
	log_warnx("curl_easy_setopt %s: %s", name, curl_easy_strerror(rc));
	return 1;
}

#define SETOPT(e, opt, val)                                                   \
	do {                                                                  \
		if (setopt_failed(curl_easy_setopt((e), (opt), (val)), #opt)) \
			return -1;                                            \
	} while (0)

static int
easy_setup(struct http *h, struct xfer *x, const struct http_config *cfg)
{
	CURL *e = x->easy;

	SETOPT(e, CURLOPT_PRIVATE, x);
	SETOPT(e, CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(e, CURLOPT_WRITEDATA, x);
	SETOPT(e, CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(e, CURLOPT_HEADERDATA, x);
	SETOPT(e, CURLOPT_ERRORBUFFER, x->errbuf);
	SETOPT(e, CURLOPT_NOSIGNAL, 1L);
	SETOPT(e, CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(e, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(e, CURLOPT_ACCEPT_ENCODING, ""); /* every encoding libcurl has */
	SETOPT(e, CURLOPT_CONNECTTIMEOUT_MS, HTTP_CONNECT_TIMEOUT_MS);
	SETOPT(e, CURLOPT_TIMEOUT_MS, HTTP_TIMEOUT_MS);
	SETOPT(e, CURLOPT_LOW_SPEED_LIMIT, HTTP_LOW_SPEED_BYTES);
	SETOPT(e, CURLOPT_LOW_SPEED_TIME, HTTP_LOW_SPEED_TIME_S);
	SETOPT(e, CURLOPT_TCP_KEEPALIVE, 1L);
	SETOPT(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)h->body_max);
	SETOPT(e, CURLOPT_USERAGENT, cfg->user_agent ? cfg->user_agent : "candlepipe/0.1");
	/* Only these headers: never an Origin (a 1-per-10-s browser budget). */
	SETOPT(e, CURLOPT_HTTPHEADER, h->headers);
	SETOPT(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2); /* 1.2 or newer */
	if (cfg->cacert != NULL)
		SETOPT(e, CURLOPT_CAINFO, cfg->cacert);
	if (h->iface[0] != '\0')
		SETOPT(e, CURLOPT_INTERFACE, h->iface);
	return 0;
}

/* The handle and its slot table, nothing of libcurl yet. */
static struct http *
http_alloc(const struct http_config *cfg)
{
	struct http *h;

	if ((h = calloc(1, sizeof(*h))) == NULL ||
	    (h->x = calloc((size_t)cfg->max_inflight, sizeof(*h->x))) == NULL) {
		log_warn("http_new");
		free(h);
		return NULL;
	}
	h->n = cfg->max_inflight;
	h->body_max = cfg->body_max;
	return h;
}

/* One easy handle per slot, options set once. */
static int
slots_init(struct http *h, const struct http_config *cfg)
{
	for (int i = 0; i < h->n; i++) {
		struct xfer *x = &h->x[i];

		x->h = h;
		x->remaining_req = -1;
		if (FAILPOINT("fetcher_curl_easy") || (x->easy = curl_easy_init()) == NULL) {
			log_warnx("curl_easy_init failed");
			return -1;
		}
		if (easy_setup(h, x, cfg) == -1)
			return -1;
	}
	return 0;
}

struct http *
http_new(const struct http_config *cfg)
{
	CURLMcode mc = CURLM_INTERNAL_ERROR; /* what a failure point stands for */
	struct http *h;

	if (cfg->max_inflight < 1 || cfg->body_max < 1) {
		log_warnx("http_new: bad configuration");
		return NULL;
	}
	if (!curl_inited) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			log_warnx("curl_global_init failed");
			return NULL;
		}
		curl_inited = 1;
	}
	if ((h = http_alloc(cfg)) == NULL)
		return NULL;
	if (cfg->source_ip != NULL && cfg->source_ip[0] != '\0' &&
	    (size_t)snprintf(h->iface, sizeof(h->iface), "host!%s", cfg->source_ip) >=
	        sizeof(h->iface)) {
		log_warnx("source address too long: %s", cfg->source_ip);
		goto fail;
	}
	if ((h->headers = curl_slist_append(NULL, "Accept: application/json")) == NULL) {
		log_warnx("curl_slist_append failed");
		goto fail;
	}
	if (FAILPOINT("fetcher_curl_multi") || (h->multi = curl_multi_init()) == NULL) {
		log_warnx("curl_multi_init failed");
		goto fail;
	}
	if (FAILPOINT("fetcher_curl_multi_setopt") ||
	    (mc = curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)h->n)) != CURLM_OK) {
		log_warnx("curl_multi_setopt CURLMOPT_MAXCONNECTS: %s", curl_multi_strerror(mc));
		goto fail;
	}
	if (slots_init(h, cfg) == -1)
		goto fail;
	return h;
fail:
	http_free(&h);
	return NULL;
}

/* Takes x's easy handle off the multi handle; 0, or -1 (logged). */
static int
remove_handle(struct http *h, struct xfer *x)
{
	CURLMcode mc = curl_multi_remove_handle(h->multi, x->easy);

	if (FAILPOINT("fetcher_curl_remove"))
		mc = CURLM_INTERNAL_ERROR;
	if (mc == CURLM_OK)
		return 0;
	log_warnx("curl_multi_remove_handle: %s", curl_multi_strerror(mc));
	return -1;
}

void
http_free(struct http **hp)
{
	struct http *h = *hp;
	CURLMcode mc;

	if (h == NULL)
		return;
	for (int i = 0; i < h->n; i++) {
		struct xfer *x = &h->x[i];

		if (x->easy != NULL) {
			if (x->state == S_RUNNING && h->multi != NULL)
				remove_handle(h, x);
			curl_easy_cleanup(x->easy);
		}
		buf_free(&x->body);
	}
	if (h->multi != NULL && (mc = curl_multi_cleanup(h->multi)) != CURLM_OK)
		log_warnx("curl_multi_cleanup: %s", curl_multi_strerror(mc));
	curl_slist_free_all(h->headers);
	free(h->x);
	free(h);
	*hp = NULL;
}

int
http_running(const struct http *h)
{
	return h->running;
}

int
http_start(struct http *h, const char *url, void *user)
{
	struct xfer *x = NULL;
	CURLMcode mc = CURLM_INTERNAL_ERROR; /* what a failure point stands for */

	for (int i = 0; i < h->n; i++) {
		if (h->x[i].state == S_IDLE) {
			x = &h->x[i];
			break;
		}
	}
	if (x == NULL) {
		log_warnx("http_start: no free transfer slot");
		return -1;
	}
	buf_reset(&x->body);
	x->too_big = 0;
	x->remaining_req = -1;
	x->errbuf[0] = '\0';
	x->user = user;
	if (setopt_failed(curl_easy_setopt(x->easy, CURLOPT_URL, url), "CURLOPT_URL"))
		return -1;
	if (FAILPOINT("fetcher_http_start") ||
	    (mc = curl_multi_add_handle(h->multi, x->easy)) != CURLM_OK) {
		log_warnx("curl_multi_add_handle: %s", curl_multi_strerror(mc));
		return -1;
	}
	x->state = S_RUNNING;
	h->running++;
	/* Connect or write the request now, not at the next wake-up. */
	return http_perform(h);
}

int
http_wait(struct http *h, int extra_fd, int timeout_ms)
{
	struct curl_waitfd wfd;
	CURLMcode mc;

	memset(&wfd, 0, sizeof(wfd));
	wfd.fd = extra_fd;
	wfd.events = CURL_WAIT_POLLIN;
	mc = curl_multi_poll(h->multi, extra_fd >= 0 ? &wfd : NULL, extra_fd >= 0 ? 1 : 0,
	                     timeout_ms < 0 ? 0 : timeout_ms, NULL);
	if (FAILPOINT("fetcher_curl_poll") || mc != CURLM_OK) {
		log_warnx("curl_multi_poll: %s", curl_multi_strerror(mc));
		return -1;
	}
	return 0;
}

int
http_perform(struct http *h)
{
	int still;
	CURLMcode mc = curl_multi_perform(h->multi, &still);

	if (FAILPOINT("fetcher_curl_perform") || mc != CURLM_OK) {
		log_warnx("curl_multi_perform: %s", curl_multi_strerror(mc));
		return -1;
	}
	return 0;
}

/* 1 for a TLS failure that the same request would meet again: the server's
 * certificate is not trusted or does not fit, or our CA file is unusable. A
 * handshake cut short (CURLE_SSL_CONNECT_ERROR) may be transient: 0. */
static int
tls_fatal(CURLcode res)
{
	switch (res) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_CRL_BADFILE: return 1;
	default: return 0;
	}
}

/* The running slot of a finished easy handle; NULL if none. */
static struct xfer *
running_slot(struct http *h, const CURL *easy)
{
	for (int i = 0; i < h->n; i++)
		if (h->x[i].easy == easy && h->x[i].state == S_RUNNING)
			return &h->x[i];
	return NULL;
}

/* A transport failure of d: the libcurl text of res, or why (what). */
static void
done_failed(struct http_done *d, const struct xfer *x, CURLcode res, const char *what)
{
	d->failed = 1;
	if (what != NULL)
		snprintf(d->error, sizeof(d->error), "%s", what);
	else
		snprintf(d->error, sizeof(d->error), "%s",
		         x->errbuf[0] != '\0' ? x->errbuf : curl_easy_strerror(res));
}

/* *d for the finished transfer x (result res). A status libcurl refuses
 * is a transport failure of that transfer. */
static void
fill_done(struct http *h, struct xfer *x, CURLcode res, struct http_done *d)
{
	CURLcode ic;
	long status = 0;

	memset(d, 0, sizeof(*d));
	ic = curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	if (FAILPOINT("fetcher_curl_getinfo"))
		ic = CURLE_BAD_FUNCTION_ARGUMENT;
	if (ic != CURLE_OK) {
		log_warnx("curl_easy_getinfo CURLINFO_RESPONSE_CODE: %s", curl_easy_strerror(ic));
		done_failed(d, x, res, "curl_easy_getinfo: no response code");
		status = 0;
	}
	x->state = S_DONE;
	h->running--;
	d->user = x->user;
	d->slot = (int)(x - h->x);
	d->status = status;
	d->remaining_req = x->remaining_req;
	d->too_big = x->too_big || res == CURLE_FILESIZE_EXCEEDED;
	d->truncated = res == CURLE_PARTIAL_FILE;
	d->tls_fatal = tls_fatal(res);
	if (res != CURLE_OK && !d->failed)
		done_failed(d, x, res, NULL);
	/* buf keeps a NUL after the bytes */
	d->body = x->body.data != NULL ? x->body.data : "";
	d->len = x->body.len;
}

int
http_next_done(struct http *h, struct http_done *d)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
		struct xfer *x;

		if (m->msg != CURLMSG_DONE || (x = running_slot(h, m->easy_handle)) == NULL)
			continue;
		/* a handle libcurl will not let go of would block its slot forever */
		if (remove_handle(h, x) == -1)
			return -1;
		fill_done(h, x, m->data.result, d);
		return 1;
	}
	return 0;
}

int
http_escape(char *out, size_t cap, const char *s)
{
	char *e = NULL;
	size_t n;

	out[0] = '\0';
	/* libcurl 7.82 and later ignore the handle argument */
	if (FAILPOINT("fetcher_curl_escape") || (e = curl_easy_escape(NULL, s, 0)) == NULL) {
		log_warnx("curl_easy_escape failed");
		return -1;
	}
	if ((n = strlen(e)) >= cap) {
		log_warnx("curl_easy_escape: %zu bytes do not fit in %zu", n, cap - 1);
		curl_free(e);
		return -1;
	}
	memcpy(out, e, n + 1);
	curl_free(e);
	return 0;
}

void
http_release(struct http *h, struct http_done *d)
{
	if (d->slot >= 0 && d->slot < h->n && h->x[d->slot].state == S_DONE)
		h->x[d->slot].state = S_IDLE;
	d->body = NULL;
	d->slot = -1;
}
