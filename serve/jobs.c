/*
 * jobs.c: the routes the web page needs beyond reading (issues 13 and 16):
 * POST /v1/jobs (SUBMIT), GET /v1/jobs (STATUS), DELETE /v1/jobs/N (CANCEL)
 * over the planner daemon's control socket (planner/control.h: one msgpack
 * map per request and per answer), GET /v1/whoami (whether this client may
 * write) and the dispatch of /v1/events and of /v1/coverage without a
 * market. Owns the DEALER socket (one, behind a mutex: the pool's threads
 * and the event thread take turns) and the msgpack to JSON conversion of
 * the daemon's answers, which are passed on field for field.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <zmq.h>

#include "log.h"
#include "serve.h"
#include "timeutil.h"

#define JOBS_CTL_VERSION 1 /* planner/control.h's CTL_VERSION */
#define JOBS_TIMEOUT_MS 3000
#define JOBS_DEPTH_MAX 16

static pthread_mutex_t ctl_lock = PTHREAD_MUTEX_INITIALIZER;
static void *ctl_ctx, *ctl_sock;
static char ctl_endpoint[512];

int
jobs_open(const char *control)
{
	int linger = 0;

	if (control == NULL)
		return 0;
	snprintf(ctl_endpoint, sizeof(ctl_endpoint), "%s", control);
	if ((ctl_ctx = zmq_ctx_new()) == NULL ||
	    (ctl_sock = zmq_socket(ctl_ctx, ZMQ_DEALER)) == NULL) {
		log_warnx("control socket: %s", zmq_strerror(errno));
		return -1;
	}
	zmq_setsockopt(ctl_sock, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_connect(ctl_sock, control) == -1) {
		log_warnx("--control %s: %s", control, zmq_strerror(errno));
		return -1;
	}
	return 0;
}

void
jobs_close(void)
{
	if (ctl_sock != NULL)
		zmq_close(ctl_sock);
	if (ctl_ctx != NULL)
		zmq_ctx_term(ctl_ctx);
	ctl_sock = ctl_ctx = NULL;
}

/* ---- msgpack ------------------------------------------------------------ */

static int
key_is(const msgpack_object *k, const char *name)
{
	return k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(name) &&
	       memcmp(k->via.str.ptr, name, k->via.str.size) == 0;
}

/* The value of name in the map m, or NULL. */
static const msgpack_object *
mp_find(const msgpack_object *m, const char *name)
{
	if (m->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < m->via.map.size; i++)
		if (key_is(&m->via.map.ptr[i].key, name))
			return &m->via.map.ptr[i].val;
	return NULL;
}

static void mp_json(struct buf *b, const msgpack_object *o, int depth);

static void
mp_json_map(struct buf *b, const msgpack_object *o, int depth)
{
	sv_buf_put(b, "{", 1);
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object *k = &o->via.map.ptr[i].key;

		if (i > 0)
			sv_buf_put(b, ",", 1);
		if (k->type == MSGPACK_OBJECT_STR)
			sv_buf_json_strn(b, k->via.str.ptr, k->via.str.size);
		else
			sv_buf_json_str(b, "?");
		sv_buf_put(b, ":", 1);
		mp_json(b, &o->via.map.ptr[i].val, depth + 1);
	}
	sv_buf_put(b, "}", 1);
}

/* A number, boolean, string or null o as JSON. */
static void
mp_json_scalar(struct buf *b, const msgpack_object *o)
{
	double f = o->via.f64;

	if (o->type == MSGPACK_OBJECT_BOOLEAN)
		buf_puts(b, o->via.boolean ? "true" : "false");
	else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		buf_printf(b, "%llu", (unsigned long long)o->via.u64);
	else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		buf_printf(b, "%lld", (long long)o->via.i64);
	else if ((o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64) &&
	         f == f && f < 1e300 && f > -1e300)
		buf_printf(b, "%.6g", f);
	else if (o->type == MSGPACK_OBJECT_STR)
		sv_buf_json_strn(b, o->via.str.ptr, o->via.str.size);
	else
		buf_puts(b, "null"); /* nil, a NaN, an infinity, bin, ext */
}

/* o as JSON: maps, arrays, strings, numbers, booleans, null (anything
 * else, or deeper than JOBS_DEPTH_MAX, as null). */
static void
mp_json(struct buf *b, const msgpack_object *o, int depth)
{
	if (depth > JOBS_DEPTH_MAX) {
		buf_puts(b, "null");
	} else if (o->type == MSGPACK_OBJECT_MAP) {
		mp_json_map(b, o, depth);
	} else if (o->type == MSGPACK_OBJECT_ARRAY) {
		sv_buf_put(b, "[", 1);
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			if (i > 0)
				sv_buf_put(b, ",", 1);
			mp_json(b, &o->via.array.ptr[i], depth + 1);
		}
		sv_buf_put(b, "]", 1);
	} else {
		mp_json_scalar(b, o);
	}
}

void
jobs_msgpack_json(struct buf *b, const void *data, size_t len)
{
	msgpack_unpacked u;
	size_t off = 0;

	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, data, len, &off) == MSGPACK_UNPACK_SUCCESS)
		mp_json(b, &u.data, 0);
	else
		buf_puts(b, "null");
	msgpack_unpacked_destroy(&u);
}

/* ---- the control socket ---------------------------------------------- */

static void
pack_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* One request (sb) and its answer into *u (raw holds its bytes): 0, or -1
 * with why. Under ctl_lock. */
static int
ctl_call(const msgpack_sbuffer *sb, zmq_msg_t *raw, msgpack_unpacked *u, const char **why)
{
	zmq_pollitem_t it = { ctl_sock, 0, ZMQ_POLLIN, 0 };
	size_t off = 0;

	*why = "no answer from the collection daemon (is ./run.sh start running?)";
	while (zmq_msg_recv(raw, ctl_sock, ZMQ_DONTWAIT) >= 0)
		continue; /* a late answer to a request that timed out */
	if (zmq_send(ctl_sock, sb->data, sb->size, ZMQ_DONTWAIT) == -1 ||
	    zmq_poll(&it, 1, JOBS_TIMEOUT_MS) <= 0 || zmq_msg_recv(raw, ctl_sock, 0) == -1)
		return -1;
	if (msgpack_unpack_next(u, zmq_msg_data(raw), zmq_msg_size(raw), &off) !=
	    MSGPACK_UNPACK_SUCCESS) {
		*why = "a malformed answer from the collection daemon";
		return -1;
	}
	return 0;
}

/* The answer's "ok" (1), or 0 with its "error" text into err. */
static int
answer_ok(const msgpack_object *m, char *err, size_t cap)
{
	const msgpack_object *ok = mp_find(m, "ok"), *e = mp_find(m, "error");

	if (ok != NULL && ok->type == MSGPACK_OBJECT_BOOLEAN && ok->via.boolean)
		return 1;
	if (e != NULL && e->type == MSGPACK_OBJECT_STR)
		snprintf(err, cap, "%.*s", (int)e->via.str.size, e->via.str.ptr);
	else
		snprintf(err, cap, "refused by the collection daemon");
	return 0;
}

/* What a request does with its answer (called under ctl_lock). */
typedef void (*ctl_answer_fn)(const msgpack_object *m, void *arg);

/* Sends sb and hands the answer to fn: 200, or the HTTP status of the
 * failure with its message in err (503 no daemon, 400 refused). */
static int
ctl_request(const msgpack_sbuffer *sb, ctl_answer_fn fn, void *arg, char *err, size_t cap)
{
	msgpack_unpacked u;
	zmq_msg_t raw;
	const char *why;
	int status = 200;

	if (ctl_sock == NULL) {
		snprintf(err, cap, "no collection daemon: cp-serve runs without --control");
		return 503;
	}
	msgpack_unpacked_init(&u);
	zmq_msg_init(&raw);
	pthread_mutex_lock(&ctl_lock);
	if (ctl_call(sb, &raw, &u, &why) == -1) {
		snprintf(err, cap, "%s", why);
		status = 503;
	} else if (!answer_ok(&u.data, err, cap)) {
		status = 400;
	} else if (fn != NULL) {
		fn(&u.data, arg);
	}
	pthread_mutex_unlock(&ctl_lock);
	zmq_msg_close(&raw);
	msgpack_unpacked_destroy(&u);
	return status;
}

static void
pack_head(msgpack_packer *pk, size_t n, const char *op)
{
	msgpack_pack_map(pk, n);
	pack_str(pk, "v");
	msgpack_pack_int64(pk, JOBS_CTL_VERSION);
	pack_str(pk, "op");
	pack_str(pk, op);
}

static void
put_jobs(const msgpack_object *m, void *arg)
{
	const msgpack_object *j = mp_find(m, "jobs");

	if (j != NULL)
		mp_json(arg, j, 0);
	else
		buf_puts(arg, "[]");
}

int
jobs_list_json(struct buf *b)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	char err[256];
	int st;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pack_head(&pk, 2, "status");
	st = ctl_request(&sb, put_jobs, b, err, sizeof(err));
	msgpack_sbuffer_destroy(&sb);
	return st == 200 ? 0 : -1;
}

/* ---- the routes ------------------------------------------------------- */

/* A status of ctl_request into r: 200 keeps r's body. */
static void
reply_status(struct sv_reply *r, int status, const char *err)
{
	if (status != 200)
		reply_error(r, status, status == 503 ? SV_MISS : SV_ERROR, err);
	else
		r->status = 200;
}

static void
jobs_get(struct sv_reply *r)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	char err[256];

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pack_head(&pk, 2, "status");
	buf_puts(&r->body, "{\"jobs\":");
	reply_status(r, ctl_request(&sb, put_jobs, &r->body, err, sizeof(err)), err);
	if (r->status == 200)
		buf_puts(&r->body, "}\n");
	msgpack_sbuffer_destroy(&sb);
}

static void
put_id(const msgpack_object *m, void *arg)
{
	const msgpack_object *id = mp_find(m, "job");

	if (id != NULL && id->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		buf_printf(arg, "{\"id\":%llu,\"state\":\"queued\"}\n",
		           (unsigned long long)id->via.u64);
	else
		buf_puts(arg, "{\"id\":null,\"state\":\"queued\"}\n");
}

/* The submit's times (ISO like /v1/coverage's, to optional: now): 0 or -1. */
static int
submit_args(const struct sv_args *a, int64_t *from, int64_t *to, const char **err)
{
	const char *m = sv_arg(a, "market"), *tf = sv_arg(a, "timeframe");
	const char *f = sv_arg(a, "from"), *t = sv_arg(a, "to");
	enum tf x;

	*to = 0;
	*err = "Missing request parameter error: market, timeframe and from are required";
	if (m == NULL || *m == '\0' || tf == NULL || *tf == '\0' || f == NULL)
		return -1;
	*err = "Invalid parameter: from and to must be times like 2026-10-01T00:00:00Z";
	if (time_parse(f, from) == -1 || (t != NULL && time_parse(t, to) == -1))
		return -1;
	*err = "Invalid parameter: timeframe must be one of 1s 1m 3m 5m 10m 15m 30m 1h 4h "
	       "1d 1w 1M 1y";
	/* a list of timeframes is passed on; each is checked here */
	for (const char *p = tf; *p != '\0';) {
		char one[8];
		size_t n = strcspn(p, ",");

		if (n == 0 || n >= sizeof(one))
			return -1;
		memcpy(one, p, n);
		one[n] = '\0';
		if (tf_parse(one, &x) == -1)
			return -1;
		p += n + (p[n] == ',');
	}
	return 0;
}

/* A comma-separated list as an array of strings. */
static void
pack_list(msgpack_packer *pk, const char *list)
{
	size_t n = 1;

	for (const char *p = list; *p != '\0'; p++)
		n += *p == ',';
	msgpack_pack_array(pk, n);
	for (const char *p = list;; p++) {
		size_t k = strcspn(p, ",");

		msgpack_pack_str_with_body(pk, p, k);
		p += k;
		if (*p == '\0')
			break;
	}
}

static void
jobs_post(const struct sv_args *a, struct sv_reply *r)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int64_t from, to;
	const char *why;
	char err[256];

	if (submit_args(a, &from, &to, &why) == -1) {
		reply_error(r, 400, SV_ERROR, why);
		return;
	}
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pack_head(&pk, to != 0 ? 6 : 5, "submit");
	pack_str(&pk, "markets");
	pack_list(&pk, sv_arg(a, "market"));
	pack_str(&pk, "timeframes");
	pack_list(&pk, sv_arg(a, "timeframe"));
	pack_str(&pk, "from");
	msgpack_pack_int64(&pk, from);
	if (to != 0) {
		pack_str(&pk, "to");
		msgpack_pack_int64(&pk, to);
	}
	reply_status(r, ctl_request(&sb, put_id, &r->body, err, sizeof(err)), err);
	if (r->status == 200)
		r->status = 202;
	msgpack_sbuffer_destroy(&sb);
}

static void
jobs_delete(const char *idtext, struct sv_reply *r)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	char err[256], *end;
	long long id = strtoll(idtext, &end, 10);

	if (*idtext == '\0' || *end != '\0' || id <= 0) {
		reply_error(r, 400, SV_ERROR, "Invalid parameter: the job id is a positive number");
		return;
	}
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pack_head(&pk, 3, "cancel");
	pack_str(&pk, "job");
	msgpack_pack_int64(&pk, id);
	reply_status(r, ctl_request(&sb, NULL, NULL, err, sizeof(err)), err);
	if (r->status == 200)
		buf_printf(&r->body, "{\"id\":%lld,\"state\":\"cancelled\"}\n", id);
	msgpack_sbuffer_destroy(&sb);
}

static const char *
get_arg(void *ctx, const char *key)
{
	return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, key);
}

static void
whoami(int can_write, struct sv_reply *r)
{
	buf_printf(&r->body, "{\"can_write\":%s,\"control\":%s,\"events\":true}\n",
	           can_write ? "true" : "false", ctl_sock != NULL ? "true" : "false");
	r->status = 200;
}

/* /v1/jobs and /v1/jobs/N by method. */
static void
jobs_methods(const struct sv_args *a, const char *url, const char *method, int can_write,
             struct sv_reply *r)
{
	int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	int post = strcmp(method, "POST") == 0, del = strcmp(method, "DELETE") == 0;
	int one = url[8] == '/';

	if ((one && !del) || (!one && !get && !post))
		reply_error(r, 405, SV_ERROR,
		            "Method not allowed (GET, POST /v1/jobs; DELETE /v1/jobs/N)");
	else if (!get && !can_write)
		reply_error(r, 403, SV_ERROR,
		            "Forbidden: jobs are submitted and cancelled from loopback, or with "
		            "the bearer token of --token-file");
	else if (get)
		jobs_get(r);
	else if (post)
		jobs_post(a, r);
	else
		jobs_delete(url + 9, r);
}

int
jobs_route(struct MHD_Connection *conn, const char *url, const char *method, int can_write,
           struct sv_reply *r, enum sv_route *rt)
{
	struct sv_args a = { get_arg, conn };
	int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;

	*rt = SV_R_JOBS;
	if (strcmp(url, "/v1/jobs") == 0 || strncmp(url, "/v1/jobs/", 9) == 0)
		jobs_methods(&a, url, method, can_write, r);
	else if (strcmp(url, "/v1/whoami") == 0 && get)
		whoami(can_write, r);
	else if (strcmp(url, "/v1/coverage") == 0 && get && sv_arg(&a, "market") == NULL)
		map_coverage(&a, r);
	else if (strcmp(url, "/v1/events") == 0 && get)
		events_answer(conn, r), *rt = SV_R_EVENTS;
	else
		return 0;
	return 1;
}
