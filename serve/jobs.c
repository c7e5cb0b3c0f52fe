/*
 * jobs.c: the routes the web page needs beyond reading (issues 13 and 16):
 * POST /v1/jobs (SUBMIT), GET /v1/jobs (STATUS), DELETE /v1/jobs/N (CANCEL)
 * over the planner daemon's control socket (planner/control.h: one msgpack
 * map per request and per answer), GET /v1/whoami (whether this client may
 * write) and the dispatch of /v1/events and of /v1/coverage without a
 * market. Owns one control client (common/ctlproto.h, behind a mutex: the
 * pool's threads and the event thread take turns) and the msgpack to JSON
 * conversion of the daemon's answers, which are passed on field for field.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctlproto.h"
#include "log.h"
#include "opts.h"
#include "serve.h"
#include "timeutil.h"

#define JOBS_DEPTH_MAX 16

static pthread_mutex_t ctl_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ctl_client cli; /* under ctl_lock */
static int have_cli;

int
jobs_open(const char *control)
{
	char why[CTL_ERR_MAX];

	if (control == NULL)
		return 0;
	if (ctl_client_open(&cli, control, CTL_REPLY_TIMEOUT_MS, why, sizeof(why)) == -1) {
		log_warnx("--control %s: %s", control, why);
		return -1;
	}
	have_cli = 1;
	return 0;
}

void
jobs_close(void)
{
	ctl_client_close(&cli);
	have_cli = 0;
}

/* ---- msgpack ------------------------------------------------------------ */

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

/* What a request does with its answer (called under ctl_lock). */
typedef void (*ctl_answer_fn)(const msgpack_object *m, void *arg);

/* Sends sb and hands the answer to fn: 200, or the HTTP status of the
 * failure with its message in err (503 no daemon, 400 refused). */
static int
ctl_request(const msgpack_sbuffer *sb, ctl_answer_fn fn, void *arg, char *err, size_t cap)
{
	enum ctl_verdict v;

	if (!have_cli) {
		snprintf(err, cap, "no collection daemon: cp-serve runs without --control");
		return 503;
	}
	pthread_mutex_lock(&ctl_lock);
	v = ctl_client_ask(&cli, sb, err, cap);
	if (v == CTL_OK && fn != NULL)
		fn(&cli.reply.data, arg);
	pthread_mutex_unlock(&ctl_lock);
	if (v == CTL_NOANSWER)
		snprintf(err, cap, "no answer from the collection daemon (is %s start running?)",
		         opts_launcher());
	return v == CTL_OK ? 200 : v == CTL_REFUSED ? 400 : 503;
}

static void
pack_head(msgpack_packer *pk, size_t n, const char *op)
{
	msgpack_pack_map(pk, n);
	ctl_pack_kv_i64(pk, "v", CTL_VERSION);
	ctl_pack_kv_str(pk, "op", op);
}

static void
put_jobs(const msgpack_object *m, void *arg)
{
	const msgpack_object *j = ctl_get(m, "jobs");

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
	const msgpack_object *id = ctl_get(m, "job");

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
	ctl_pack_key(&pk, "markets");
	ctl_pack_list(&pk, sv_arg(a, "market"));
	ctl_pack_key(&pk, "timeframes");
	ctl_pack_list(&pk, sv_arg(a, "timeframe"));
	ctl_pack_kv_i64(&pk, "from", from);
	if (to != 0)
		ctl_pack_kv_i64(&pk, "to", to);
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
	ctl_pack_kv_i64(&pk, "job", id);
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
	           can_write ? "true" : "false", have_cli ? "true" : "false");
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
