/*
 * http.c: cp-serve's HTTP front on libmicrohttpd: the daemon and its limits,
 * authentication, the dispatch of a URL to its route, and the sending of
 * every answer (struct sv_reply) with its metrics. Only GET and HEAD exist
 * (405 otherwise), but for POST /v1/jobs and DELETE /v1/jobs/N (jobs.c),
 * allowed from loopback or with the token (403 otherwise); the page's files
 * (web.c) need no token; unknown routes are 404; every error body has Upbit's
 * shape {"error":{"name":STATUS,"message":"..."}}.
 *
 * Answers of proven windows are kept per pool thread (serve/cache.c, an
 * LRU bounded by --cache-mb) and queued again as the same MHD response.
 *
 * Limits (none of them lets one client stall the others): an internal pool
 * of HTTP_THREADS threads on epoll; at most HTTP_CONN_LIMIT connections, of
 * which HTTP_PER_IP_LIMIT from one address; a connection idle for
 * HTTP_TIMEOUT_S seconds is closed (a slow client cannot hold a thread: the
 * threads never block on one client); HTTP_MEMORY_LIMIT bytes per
 * connection for the request line and headers (more: libmicrohttpd answers
 * 414 or 431 itself) and URLs of at most HTTP_URL_MAX bytes (else 414).
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "cache.h"
#include "log.h"
#include "serve.h"

#define HTTP_THREADS 2
#define HTTP_CONN_LIMIT 1024
#define HTTP_PER_IP_LIMIT 256
#define HTTP_TIMEOUT_S 10
#define HTTP_MEMORY_LIMIT (32 * 1024)
#define HTTP_URL_MAX 2048
#define HTTP_BACKLOG 1024
#define HTTP_CACHE_DEFAULT ((size_t)64 << 20) /* bytes, all threads together */
#define HTTP_CACHE_ENTRIES 4096               /* per thread */

static struct MHD_Daemon *daemon_h;
static const char *auth_token; /* NULL: no authentication */
static int conn_marker;

void
reply_error(struct sv_reply *r, int status, enum sv_outcome o, const char *msg)
{
	buf_reset(&r->body);
	r->status = status;
	r->outcome = o;
	r->ctype = SV_CT_JSON;
	buf_printf(&r->body, "{\"error\":{\"name\":%d,\"message\":", status);
	sv_buf_json_str(&r->body, msg);
	buf_puts(&r->body, "}}");
}

void
reply_miss(struct sv_reply *r, const char *why)
{
	reply_error(r, 503, SV_MISS, why);
}

int
http_parse_listen(const char *s, struct sv_listen *out)
{
	const char *colon = strrchr(s, ':');
	unsigned char a[sizeof(struct in6_addr)];
	size_t hlen;
	char *end;
	long port;

	memset(out, 0, sizeof(*out));
	if (colon == NULL || colon == s)
		return -1;
	hlen = (size_t)(colon - s);
	if (s[0] == '[' && colon[-1] == ']') {
		s++;
		hlen -= 2;
		out->family = AF_INET6;
	} else {
		out->family = AF_INET;
	}
	if (hlen == 0 || hlen >= sizeof(out->host))
		return -1;
	memcpy(out->host, s, hlen);
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || port < 0 || port > 65535 ||
	    inet_pton(out->family, out->host, a) != 1)
		return -1;
	out->port = (uint16_t)port;
	out->loopback =
	    out->family == AF_INET ? a[0] == 127 : memcmp(a, &in6addr_loopback, sizeof(a)) == 0;
	return 0;
}

static const char *
get_arg(void *ctx, const char *key)
{
	return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, key);
}

/* 1 if the request carries "Authorization: Bearer <token>" (or none is
 * needed); the comparison takes the same time wherever it differs. */
static int
authorized(struct MHD_Connection *conn)
{
	const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	size_t n, i;
	unsigned diff = 0;

	if (auth_token == NULL)
		return 1;
	if (h == NULL || strncmp(h, "Bearer ", 7) != 0)
		return 0;
	h += 7;
	n = strlen(auth_token);
	if (strlen(h) != n)
		return 0;
	for (i = 0; i < n; i++)
		diff |= (unsigned)(h[i] ^ auth_token[i]);
	return diff == 0;
}

/* The route of url, answered into r. */
static enum sv_route
dispatch(struct MHD_Connection *conn, const char *url, struct sv_reply *r)
{
	struct sv_args a = { get_arg, conn };
	enum tf tf = TF_1M;
	int bad_unit = 0;
	enum sv_route rt = upbit_route(url, &tf, &bad_unit);

	if (rt == SV_R_CANDLES)
		upbit_candles(&a, tf, bad_unit, r);
	else if (rt == SV_R_MARKET_ALL)
		upbit_market_all(&a, r);
	else if (strcmp(url, "/v1/candles/range") == 0)
		extra_range(&a, r), rt = SV_R_RANGE;
	else if (strcmp(url, "/v1/coverage") == 0)
		extra_coverage(&a, r), rt = SV_R_COVERAGE;
	else if (strcmp(url, "/readyz") == 0)
		extra_readyz(r), rt = SV_R_READYZ;
	else if (strcmp(url, "/metrics") == 0)
		metrics_render(&r->body), r->status = 200, r->ctype = SV_CT_TEXT, rt = SV_R_METRICS;
	else if (strcmp(url, "/v1/gaps") == 0)
		gaps_route(&a, r), rt = SV_R_GAPS;
	else
		reply_error(r, 404, SV_ERROR, "Not found");
	return rt;
}

/* ---- the answer cache: one per pool thread, so no locks; each holds a
 * reference to its MHD responses, which MHD counts per queued connection */

struct tcache {
	struct cache *c;
	struct tcache *next;
};

static size_t cache_budget = HTTP_CACHE_DEFAULT;
static pthread_mutex_t caches_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tcache *caches;
static __thread struct tcache *my_cache;
static __thread int my_cache_failed;

void
http_set_cache(size_t bytes)
{
	cache_budget = bytes;
}

static void
drop_response(void *val)
{
	MHD_destroy_response(val);
}

/* The calling thread's cache (made on first use), or NULL (off, or no
 * memory: then answers are built every time). */
static struct cache *
thread_cache(void)
{
	size_t bytes = cache_budget / HTTP_THREADS;
	struct tcache *t;

	if (my_cache != NULL)
		return my_cache->c;
	if (bytes == 0 || my_cache_failed || (t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if ((t->c = cache_new(HTTP_CACHE_ENTRIES, bytes, drop_response)) == NULL) {
		free(t);
		my_cache_failed = 1;
		return NULL;
	}
	pthread_mutex_lock(&caches_lock);
	t->next = caches;
	caches = t;
	pthread_mutex_unlock(&caches_lock);
	my_cache = t;
	return t->c;
}

struct MHD_Response *
http_cached(const void *key, size_t klen)
{
	struct cache *c = thread_cache();

	return c != NULL ? cache_get(c, key, klen) : NULL;
}

/* Keeps resp under r's key: 1 if the cache took the reference. */
static int
cache_keep(const struct sv_reply *r, struct MHD_Response *resp, size_t size)
{
	struct cache *c;

	if (r->ckey_len == 0 || r->status != 200 || (c = thread_cache()) == NULL)
		return 0;
	return cache_put(c, r->ckey, r->ckey_len, resp, size) == 0;
}

static void
caches_free(void)
{
	pthread_mutex_lock(&caches_lock);
	while (caches != NULL) {
		struct tcache *t = caches;

		caches = t->next;
		cache_free(t->c);
		free(t);
	}
	pthread_mutex_unlock(&caches_lock);
}

/* r's body as a response, which takes the memory; NULL when none. */
static struct MHD_Response *
body_response(struct sv_reply *r)
{
	struct MHD_Response *resp;

	if (r->body.err)
		reply_error(r, 500, SV_ERROR, "out of memory");
	if (r->body.err) /* not even the error fits */
		return NULL;
	resp = MHD_create_response_from_buffer_with_free_callback(r->body.len, r->body.data, free);
	if (resp == NULL) {
		buf_free(&r->body);
		return NULL;
	}
	r->body.data = NULL;
	return resp;
}

static enum MHD_Result
send_reply(struct MHD_Connection *conn, struct sv_reply *r)
{
	struct MHD_Response *resp = r->stream;
	size_t size = r->body.len;
	enum MHD_Result ret;

	if (r->shared != NULL)
		return MHD_queue_response(conn, (unsigned)r->status, r->shared);
	if (resp == NULL && (resp = body_response(r)) == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	                        r->ctype != NULL ? r->ctype : SV_CT_JSON);
	if (r->status == 405)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	if (r->status == 401)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	ret = MHD_queue_response(conn, (unsigned)r->status, resp);
	if (r->stream != NULL || !cache_keep(r, resp, size))
		MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
add_len(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	size_t *n = cls;

	(void)kind;
	*n += strlen(key) + 2 + (value != NULL ? strlen(value) : 0);
	return MHD_YES;
}

/* The length of the path and its decoded query parameters. */
static size_t
url_length(struct MHD_Connection *conn, const char *url)
{
	size_t n = strlen(url);

	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_len, &n);
	return n;
}

/* Whether the client may submit and cancel jobs: it is authorized (a token
 * is required and it sent it) or it connects from loopback. */
static int
can_write(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;
	static const unsigned char mapped[12] = { [10] = 0xff, [11] = 0xff };
	const unsigned char *a6;

	if (auth_token != NULL)
		return 1;
	if (sa != NULL && sa->sa_family == AF_INET)
		return ((const unsigned char *)&((const struct sockaddr_in *)(const void *)sa)
		            ->sin_addr)[0] == 127;
	if (sa == NULL || sa->sa_family != AF_INET6)
		return 0;
	a6 = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
	return memcmp(a6, &in6addr_loopback, 16) == 0 ||
	       (memcmp(a6, mapped, 12) == 0 && a6[12] == 127);
}

/* The answer of a complete request. */
static enum sv_route
answer(struct MHD_Connection *conn, const char *url, const char *method, struct sv_reply *r)
{
	int is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	enum sv_route rt;

	if (url_length(conn, url) > HTTP_URL_MAX) {
		reply_error(r, 414, SV_ERROR, "URI too long");
	} else if (strcmp(url, "/healthz") == 0 && is_get) {
		buf_puts(&r->body, "{\"status\":\"ok\"}\n");
		r->status = 200;
		return SV_R_HEALTHZ;
	} else if (is_get && web_static(url, r)) { /* the page's files need no token */
		return SV_R_WEB;
	} else if (!authorized(conn)) {
		reply_error(r, 401, SV_ERROR, "Unauthorized: send Authorization: Bearer <token>");
	} else if (jobs_route(conn, url, method, can_write(conn), r, &rt)) {
		return rt;
	} else if (!is_get) {
		reply_error(r, 405, SV_ERROR, "Method not allowed (only GET and HEAD)");
	} else {
		return dispatch(conn, url, r);
	}
	return SV_R_OTHER;
}

static int64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static enum MHD_Result park(struct MHD_Connection *conn, struct sv_reply *r, void **con_cls);

static enum MHD_Result
handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
        const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct sv_reply r = { .status = 500, .outcome = SV_HIT };
	int64_t t0;
	enum sv_route rt;
	enum MHD_Result ret;
	enum sv_outcome o;

	(void)cls;
	(void)version;
	(void)upload_data;
	/* answer once the request is complete: an early answer costs the keep-alive */
	if (*con_cls == NULL) {
		*con_cls = &conn_marker;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		*upload_data_size = 0; /* a body is never read */
		return MHD_YES;
	}
	t0 = mono_us();
	r.rt = *con_cls != &conn_marker ? *con_cls : NULL;
	rt = answer(conn, url, method, &r);
	if (r.park) /* read-through: resumed, and asked again, once it can be answered */
		return park(conn, &r, con_cls);
	ret = send_reply(conn, &r);
	o = r.status >= 400 && r.outcome == SV_HIT ? SV_ERROR : r.outcome;
	if (readthru_waited(r.rt) && o == SV_HIT)
		o = SV_MISS;
	metrics_record(rt, o, mono_us() - (r.rt != NULL ? readthru_t0(r.rt) : t0));
	buf_free(&r.body);
	return ret;
}

/* Suspends conn until what r->rt waits on ends (readthru.c). */
static enum MHD_Result
park(struct MHD_Connection *conn, struct sv_reply *r, void **con_cls)
{
	*con_cls = r->rt;
	buf_free(&r->body);
	if (r->stream != NULL)
		MHD_destroy_response(r->stream);
	/* suspended before it is seen: the resume cannot come first */
	MHD_suspend_connection(conn);
	readthru_park(r->rt, conn);
	return MHD_YES;
}

static void
completed(void *cls, struct MHD_Connection *conn, void **con_cls,
          enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	if (*con_cls != NULL && *con_cls != &conn_marker)
		readthru_free(*con_cls);
	*con_cls = NULL;
}

int
http_start(const struct sv_listen *l, const char *token, uint16_t *port)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)(void *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)&ss;
	unsigned flags =
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
	    MHD_ALLOW_SUSPEND_RESUME; /* misses (readthru.c), event streams (events.c) */
	const union MHD_DaemonInfo *info;

	auth_token = token;
	if (l->family == AF_INET6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(l->port);
		inet_pton(AF_INET6, l->host, &sin6->sin6_addr);
		flags |= MHD_USE_IPv6;
	} else {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(l->port);
		inet_pton(AF_INET, l->host, &sin->sin_addr);
	}
	daemon_h = MHD_start_daemon(
	    flags, l->port, NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)HTTP_THREADS, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)HTTP_CONN_LIMIT, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned)HTTP_PER_IP_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MEMORY_LIMIT,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)HTTP_BACKLOG, MHD_OPTION_NOTIFY_COMPLETED,
	    completed, NULL, MHD_OPTION_END);
	if (daemon_h == NULL) {
		log_warnx("cannot listen on %s port %u", l->host, (unsigned)l->port);
		return -1;
	}
	info = MHD_get_daemon_info(daemon_h, MHD_DAEMON_INFO_BIND_PORT);
	*port = info != NULL ? info->port : l->port;
	return 0;
}

void
http_stop(void)
{
	readthru_stop(); /* resumes every waiting request with an error */
	if (daemon_h != NULL)
		MHD_stop_daemon(daemon_h);
	daemon_h = NULL;
	caches_free();
}
