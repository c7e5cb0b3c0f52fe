/*
 * http.h: the fetcher's HTTP client: a fixed number of concurrent GET
 * transfers on one libcurl multi handle (keep-alive connection cache, gzip,
 * timeouts, stall detection, capped bodies, the Remaining-Req header).
 */
#ifndef CP_HTTP_H
#define CP_HTTP_H

#include <stddef.h>

#define HTTP_ERROR_MAX 256 /* = CURL_ERROR_SIZE */

struct http;

struct http_config {
	int max_inflight;      /* concurrent transfers (slots) */
	size_t body_max;       /* larger bodies abort the transfer (too_big) */
	const char *source_ip; /* NULL: the default route */
	const char *user_agent;
	const char *cacert; /* PEM CA bundle to verify the server with; NULL: the system's */
};

/* One finished transfer. body/len stay valid until http_release. */
struct http_done {
	void *user; /* as given to http_start */
	int slot;
	long status;   /* HTTP status; 0 if no response */
	int failed;    /* transport error: error holds the text */
	int too_big;   /* the body exceeded body_max */
	int truncated; /* the body ended before its announced length */
	int tls_fatal; /* a TLS failure retrying cannot fix (certificate, CA file) */
	char error[HTTP_ERROR_MAX];
	const char *body; /* NUL-terminated for convenience */
	size_t len;
	int remaining_req; /* Remaining-Req sec=, -1 unknown */
};

/* NULL on failure (logged). */
struct http *http_new(const struct http_config *cfg);
/* Frees everything, aborting running transfers; nulls *hp. */
void http_free(struct http **hp);
/* Transfers added and not yet finished. */
int http_running(const struct http *h);
/* Adds a GET of url and drives it at once (the request leaves now).
 * 0, or -1 if no slot is free or libcurl refused (logged). */
int http_start(struct http *h, const char *url, void *user);
/* Waits at most timeout_ms for transfer activity or input on extra_fd
 * (-1: none). 0 or -1 (logged). */
int http_wait(struct http *h, int extra_fd, int timeout_ms);
/* Drives the transfers without blocking. 0 or -1 (logged). */
int http_perform(struct http *h);
/* 1 and *d filled for the next finished transfer, 0 if none, -1 (logged)
 * if libcurl failed to release a finished transfer (the client is broken). */
int http_next_done(struct http *h, struct http_done *d);
/* s percent-encoded by libcurl (everything but RFC 3986's unreserved
 * characters) into out (cap bytes with the NUL). 0, or -1 (logged) when
 * libcurl fails or the result does not fit (out then holds ""). */
int http_escape(char *out, size_t cap, const char *s);
/* Gives the slot of a finished transfer back. */
void http_release(struct http *h, struct http_done *d);

#endif
