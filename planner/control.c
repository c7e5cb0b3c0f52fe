/*
 * control.c: the daemon side of the control protocol (control.h): the
 * owner-only control socket, the decoding of requests (every malformed or
 * other-version request is an error answer, never a crash), and the
 * answers to SUBMIT, STATUS, CANCEL, FOLLOW, UNFOLLOW and FOLLOWS, each
 * with the instance number of this run. Owns the socket and nothing else:
 * jobs, plan, budgets and the follows table belong to the planner
 * (ctl_env).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "claims.h"
#include "control.h"
#include "log.h"
#include "net.h"
#include "timeutil.h"

#define CTL_REQUEST_MAX_BYTES (64 * 1024)

static void *sock_ctl;
static struct ctl_env env;
static int64_t instance; /* drawn by ctl_open */

/* --- the socket --- */

/* The directory of an ipc socket: created 0700, or one of ours that no one
 * else may enter. 0, or -1 with err. */
static int
check_run_dir(const char *sock_path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(sock_path, '/');
	struct stat st;

	if (slash == NULL || slash == sock_path || (size_t)(slash - sock_path) >= sizeof(dir)) {
		snprintf(err, errlen, "the control socket '%s' needs a directory", sock_path);
		return -1;
	}
	memcpy(dir, sock_path, (size_t)(slash - sock_path));
	dir[slash - sock_path] = '\0';
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s is not a directory", dir);
		return -1;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		snprintf(err, errlen,
		         "the run directory %s must be ours and owner-only (mode 0700, it is %04o)",
		         dir, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

int
ctl_open(void *ctx, const char *endpoint, const struct ctl_env *e, char *err, size_t errlen)
{
	const char *path = strncmp(endpoint, "ipc://", 6) == 0 ? endpoint + 6 : NULL;
	mode_t old;

	if (path != NULL && check_run_dir(path, err, errlen) == -1)
		return -1;
	old = umask(077); /* the socket file is born 0600 */
	sock_ctl = net_socket(ctx, ZMQ_ROUTER, endpoint, 1, NULL);
	umask(old);
	if (sock_ctl == NULL) {
		snprintf(err, errlen, "cannot bind the control socket %s", endpoint);
		return -1;
	}
	if (path != NULL && chmod(path, 0600) == -1) {
		snprintf(err, errlen, "chmod %s: %s", path, strerror(errno));
		ctl_close();
		return -1;
	}
	env = *e;
	instance = ((time_now_ms() << 16) ^ (int64_t)getpid() ^ (int64_t)random()) & INT64_MAX;
	return 0;
}

int
ctl_poll_item(zmq_pollitem_t *item)
{
	if (sock_ctl == NULL)
		return 0;
	memset(item, 0, sizeof(*item));
	item->socket = sock_ctl;
	item->events = ZMQ_POLLIN;
	return 1;
}

void
ctl_close(void)
{
	if (sock_ctl != NULL)
		zmq_close(sock_ctl);
	sock_ctl = NULL;
}

/* --- the answers --- */

static void
pack_error(msgpack_packer *pk, const char *err)
{
	msgpack_pack_map(pk, 4);
	ctl_pack_kv_i64(pk, "v", CTL_VERSION);
	ctl_pack_kv_i64(pk, "instance", instance);
	ctl_pack_key(pk, "ok");
	msgpack_pack_false(pk);
	ctl_pack_kv_str(pk, "error", err);
}

static void
pack_ok(msgpack_packer *pk, uint32_t extra)
{
	msgpack_pack_map(pk, 3 + extra);
	ctl_pack_kv_i64(pk, "v", CTL_VERSION);
	ctl_pack_kv_i64(pk, "instance", instance);
	ctl_pack_key(pk, "ok");
	msgpack_pack_true(pk);
}

/* A list of strings joined by commas into out; -1 with err. */
static int
join_list(const msgpack_object *o, const char *what, char *out, size_t cap, char *err,
          size_t errlen)
{
	size_t len = 0;

	if (o == NULL || o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size == 0) {
		snprintf(err, errlen, "give at least one %s", what);
		return -1;
	}
	out[0] = '\0';
	for (uint32_t i = 0; i < o->via.array.size; i++) {
		char item[64];
		if (ctl_str_copy(&o->via.array.ptr[i], item, sizeof(item)) == -1 ||
		    item[0] == '\0' || strchr(item, ',') != NULL || len + strlen(item) + 2 > cap) {
			snprintf(err, errlen, "bad %s list (strings without commas wanted)", what);
			return -1;
		}
		len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? "," : "", item);
	}
	return 0;
}

int
ctl_get_lists(const msgpack_object *m, char *markets, char *timeframes, size_t cap, char *err,
              size_t errlen)
{
	if (join_list(ctl_get(m, "markets"), "market", markets, cap, err, errlen) == -1 ||
	    join_list(ctl_get(m, "timeframes"), "timeframe", timeframes, cap, err, errlen) == -1)
		return -1;
	return 0;
}

/* SUBMIT's fields into r; -1 with err. */
static int
decode_submit(const msgpack_object *m, struct ctl_submit *r, char *err, size_t errlen)
{
	const msgpack_object *f = ctl_get(m, "follow");

	memset(r, 0, sizeof(*r));
	if (ctl_get_lists(m, r->markets, r->timeframes, sizeof(r->markets), err, errlen) == -1)
		return -1;
	if (ctl_get_i64(m, "from", &r->from) == -1) {
		snprintf(err, errlen, "give from (epoch seconds)");
		return -1;
	}
	if (ctl_get(m, "to") != NULL && ctl_get_i64(m, "to", &r->to) == -1) {
		snprintf(err, errlen, "to must be epoch seconds");
		return -1;
	}
	if (f != NULL && f->type != MSGPACK_OBJECT_BOOLEAN) {
		snprintf(err, errlen, "follow must be true or false");
		return -1;
	}
	r->follow = f != NULL && f->via.boolean;
	return 0;
}

static void
answer_submit(msgpack_packer *pk, const msgpack_object *m)
{
	struct ctl_submit r;
	char err[CTL_ERR_MAX];
	uint32_t id;

	if (decode_submit(m, &r, err, sizeof(err)) == -1 ||
	    env.submit(&r, &id, err, sizeof(err)) == -1) {
		pack_error(pk, err);
		return;
	}
	pack_ok(pk, 1);
	ctl_pack_kv_i64(pk, "job", id);
}

static void
answer_cancel(msgpack_packer *pk, const msgpack_object *m)
{
	char err[CTL_ERR_MAX];
	int64_t id;

	if (ctl_get_i64(m, "job", &id) == -1 || id <= 0 || id > UINT32_MAX) {
		pack_error(pk, "give the job id to cancel");
		return;
	}
	if (job_cancel(env.jobs, env.plan, (uint32_t)id, err, sizeof(err)) == -1) {
		pack_error(pk, err);
		return;
	}
	pack_ok(pk, 0);
}

static void
pack_budgets(msgpack_packer *pk, int64_t now)
{
	ctl_pack_key(pk, "budgets");
	msgpack_pack_array(pk, (size_t)*env.nbudgets);
	for (int i = 0; i < *env.nbudgets; i++) {
		const struct budget *b = &env.budgets[i];
		msgpack_pack_map(pk, 5);
		ctl_pack_kv_str(pk, "source", b->source);
		ctl_pack_key(pk, "rate");
		msgpack_pack_double(pk, b->rate);
		ctl_pack_key(pk, "rate_now");
		msgpack_pack_double(pk, budget_rate_now(b, now));
		ctl_pack_kv_i64(pk, "sent", (int64_t)b->sent);
		ctl_pack_kv_i64(pk, "n429", (int64_t)b->n429);
	}
}

/* Why the range r of j's target ti (an index into j->own) is not covered
 * (yet). */
static const char *
missing_reason(const struct job *j, int ti, const struct range *r)
{
	const struct target *t = &env.plan->t[j->own[ti]];

	if (!job_terminal(j->st) && claims_deferred(j->own[ti], r->from, r->to))
		return "waits on another collector";
	if (!job_terminal(j->st))
		return "not fetched yet";
	if (t->reason[0] != '\0')
		return t->reason;
	for (int k = 0; k < j->nwait; k++) {
		const struct target *w = &env.plan->t[j->wait[k]];
		if (w->reason[0] != '\0' && w->tf == t->tf && strcmp(w->market, t->market) == 0)
			return w->reason;
	}
	return j->reason[0] != '\0' ? j->reason : "not covered";
}

/* One target of j: its range, slots, requests and missing ranges. Adds its
 * slots to *done and *total. */
static void
pack_target(msgpack_packer *pk, const struct job *j, int ti, int64_t *done, int64_t *total)
{
	const struct target *t = &env.plan->t[j->own[ti]];
	struct range_list cov = { 0 }, want = { 0 }, miss = { 0 };
	int64_t n = 0;

	if (job_covered(j, env.plan, ti, &cov) == -1 ||
	    range_list_push(&want, t->from, t->to) == -1 ||
	    range_subtract(&want, &cov, &miss) == -1)
		fatalx(EXIT_TEMPFAIL, "out of memory");
	for (size_t i = 0; i < cov.n; i++)
		n += tf_count(t->tf, cov.v[i].from, cov.v[i].to);
	*done += n;
	*total += t->slots_total;
	msgpack_pack_map(pk, 8);
	ctl_pack_kv_str(pk, "market", t->market);
	ctl_pack_kv_str(pk, "tf", tf_name(t->tf));
	ctl_pack_kv_i64(pk, "from", t->from);
	ctl_pack_kv_i64(pk, "to", t->to);
	ctl_pack_kv_i64(pk, "slots_done", n);
	ctl_pack_kv_i64(pk, "slots_total", t->slots_total);
	ctl_pack_kv_i64(pk, "requests", (int64_t)t->requests);
	ctl_pack_key(pk, "missing");
	msgpack_pack_array(pk, miss.n);
	for (size_t i = 0; i < miss.n; i++) {
		msgpack_pack_map(pk, 3);
		ctl_pack_kv_i64(pk, "from", miss.v[i].from);
		ctl_pack_kv_i64(pk, "to", miss.v[i].to);
		ctl_pack_kv_str(pk, "reason", missing_reason(j, ti, &miss.v[i]));
	}
	range_list_free(&cov);
	range_list_free(&want);
	range_list_free(&miss);
}

static void
pack_job(msgpack_packer *pk, const struct job *j)
{
	int64_t done = 0, total = 0, requests = 0;

	msgpack_pack_map(pk, 10);
	ctl_pack_kv_i64(pk, "id", j->id);
	ctl_pack_kv_i64(pk, "first_lease_us", j->first_lease_us);
	ctl_pack_kv_str(pk, "state", job_state_names[j->st]);
	ctl_pack_kv_str(pk, "reason", j->reason);
	ctl_pack_kv_i64(pk, "waits", j->nwait);
	ctl_pack_key(pk, "targets");
	msgpack_pack_array(pk, (size_t)j->nown);
	for (int i = 0; i < j->nown; i++) {
		pack_target(pk, j, i, &done, &total);
		requests += (int64_t)env.plan->t[j->own[i]].requests;
	}
	ctl_pack_kv_i64(pk, "slots_done", done);
	ctl_pack_kv_i64(pk, "slots_total", total);
	ctl_pack_kv_i64(pk, "requests", requests);
	ctl_pack_kv_i64(pk, "age_ms", time_mono_ms() - j->submitted_ms);
}

static void
answer_status(msgpack_packer *pk, const msgpack_object *m)
{
	int64_t id = 0, now = time_mono_ms();
	int n = 0;

	if (ctl_get(m, "job") != NULL && (ctl_get_i64(m, "job", &id) == -1 || id < 0)) {
		pack_error(pk, "job must be a job id");
		return;
	}
	if (id != 0 && (id > UINT32_MAX || job_find(env.jobs, (uint32_t)id) == NULL)) {
		char err[64];
		snprintf(err, sizeof(err), "no job %lld", (long long)id);
		pack_error(pk, err);
		return;
	}
	for (int i = 0; i < env.jobs->n; i++)
		n += id == 0 || env.jobs->v[i].id == id;
	pack_ok(pk, 4);
	ctl_pack_kv_i64(pk, "uptime_ms", now - env.start_ms);
	ctl_pack_kv_i64(pk, "impossible", (int64_t)env.jobs->impossible);
	pack_budgets(pk, now);
	ctl_pack_key(pk, "jobs");
	msgpack_pack_array(pk, (size_t)n);
	for (int i = 0; i < env.jobs->n; i++)
		if (id == 0 || env.jobs->v[i].id == id)
			pack_job(pk, &env.jobs->v[i]);
}

int
ctl_in_list(const char *item, const char *list)
{
	size_t n = strlen(item);

	for (const char *p = list; p != NULL; p = strchr(p, ',')) {
		p += *p == ',';
		if (strncmp(p, item, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return 1;
	}
	return 0;
}

/* 1 if j is a subscription (of the lists, when given). */
static int
follow_listed(const struct job *j, const struct ctl_follow *r)
{
	const struct target *t;

	if (!j->follow || j->st == JOB_CANCELLED || j->nown == 0)
		return 0;
	t = &env.plan->t[j->own[0]];
	return r == NULL ||
	       (ctl_in_list(t->market, r->markets) && ctl_in_list(tf_name(t->tf), r->timeframes));
}

/* The subscriptions (of r's lists, NULL: all) as "follows". */
static void
pack_follows(msgpack_packer *pk, const struct ctl_follow *r)
{
	int n = 0;

	for (int i = 0; i < env.jobs->n; i++)
		n += follow_listed(&env.jobs->v[i], r);
	ctl_pack_key(pk, "follows");
	msgpack_pack_array(pk, (size_t)n);
	for (int i = 0; i < env.jobs->n; i++) {
		const struct job *j = &env.jobs->v[i];
		int64_t done = 0, total = 0;
		if (!follow_listed(j, r))
			continue;
		msgpack_pack_map(pk, 6);
		ctl_pack_kv_i64(pk, "job", j->id);
		ctl_pack_kv_str(pk, "state", job_state_names[j->st]);
		ctl_pack_kv_str(pk, "reason", j->reason);
		ctl_pack_kv_i64(pk, "backfill", j->backfill);
		ctl_pack_kv_i64(pk, "added", j->added);
		ctl_pack_key(pk, "target");
		pack_target(pk, j, 0, &done, &total);
	}
}

/* An optional non-negative integer field; 0, or -1 with err. */
static int
opt_count(const msgpack_object *m, const char *key, int64_t *out, char *err, size_t errlen)
{
	*out = -1;
	if (ctl_get(m, key) == NULL)
		return 0;
	if (ctl_get_i64(m, key, out) == -1 || *out < 0) {
		snprintf(err, errlen, "%s must be a number >= 0", key);
		return -1;
	}
	return 0;
}

/* FOLLOW (remove 0) and UNFOLLOW (1). */
static void
answer_follow(msgpack_packer *pk, const msgpack_object *m, int remove)
{
	struct ctl_follow r;
	char err[CTL_ERR_MAX];
	int n;

	memset(&r, 0, sizeof(r));
	if (ctl_get_lists(m, r.markets, r.timeframes, sizeof(r.markets), err, sizeof(err)) == -1 ||
	    opt_count(m, "backfill", &r.backfill, err, sizeof(err)) == -1 ||
	    opt_count(m, "from", &r.from, err, sizeof(err)) == -1 ||
	    (n = env.follow(&r, remove, err, sizeof(err))) == -1) {
		pack_error(pk, err);
		return;
	}
	pack_ok(pk, remove ? 1 : 2);
	ctl_pack_kv_i64(pk, remove ? "removed" : "added", n);
	if (!remove)
		pack_follows(pk, &r);
}

/* The one dispatch: decodes, checks the version, answers into pk. */
static void
answer(msgpack_packer *pk, const void *data, size_t len)
{
	msgpack_unpacked u;
	char err[CTL_ERR_MAX], op[16];
	size_t off = 0;

	msgpack_unpacked_init(&u);
	if (len > CTL_REQUEST_MAX_BYTES ||
	    msgpack_unpack_next(&u, data, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len) {
		pack_error(pk, "malformed request (one msgpack map wanted)");
	} else if (ctl_check_version(&u.data, err, sizeof(err)) == -1) {
		pack_error(pk, err);
	} else if (ctl_get_str(&u.data, "op", op, sizeof(op)) == -1) {
		pack_error(pk, "no op (submit, status, cancel, follow, unfollow or follows)");
	} else if (strcmp(op, "submit") == 0) {
		answer_submit(pk, &u.data);
	} else if (strcmp(op, "status") == 0) {
		answer_status(pk, &u.data);
	} else if (strcmp(op, "cancel") == 0) {
		answer_cancel(pk, &u.data);
	} else if (strcmp(op, "follow") == 0 || strcmp(op, "unfollow") == 0) {
		answer_follow(pk, &u.data, op[0] == 'u');
	} else if (strcmp(op, "follows") == 0) {
		pack_ok(pk, 1);
		pack_follows(pk, NULL);
	} else {
		snprintf(err, sizeof(err),
		         "unknown op '%s' (submit, status, cancel, follow, unfollow or follows)",
		         op);
		pack_error(pk, err);
	}
	msgpack_unpacked_destroy(&u);
}

/* Reads one request (identity, body) and answers it; 0, or -1 when none
 * is waiting. */
static int
serve_one(void)
{
	zmq_msg_t id, body;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int more = 0;
	size_t sz = sizeof(more);

	zmq_msg_init(&id);
	if (zmq_msg_recv(&id, sock_ctl, ZMQ_DONTWAIT) == -1) {
		zmq_msg_close(&id);
		return -1;
	}
	zmq_msg_init(&body);
	if (zmq_msg_recv(&body, sock_ctl, ZMQ_DONTWAIT) == -1) {
		zmq_msg_close(&body);
		zmq_msg_close(&id);
		return 0;
	}
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	zmq_getsockopt(sock_ctl, ZMQ_RCVMORE, &more, &sz);
	if (more)
		pack_error(&pk, "one frame per request");
	else
		answer(&pk, zmq_msg_data(&body), zmq_msg_size(&body));
	while (more) { /* discard any extra frames */
		zmq_msg_t x;
		zmq_msg_init(&x);
		zmq_msg_recv(&x, sock_ctl, 0);
		zmq_msg_close(&x);
		zmq_getsockopt(sock_ctl, ZMQ_RCVMORE, &more, &sz);
	}
	if (net_send(sock_ctl, zmq_msg_data(&id), zmq_msg_size(&id), 1) == -1 ||
	    net_send(sock_ctl, sb.data, sb.size, 0) == -1)
		log_debug("control client gone before its answer");
	msgpack_sbuffer_destroy(&sb);
	zmq_msg_close(&body);
	zmq_msg_close(&id);
	return 0;
}

void
ctl_drain(void)
{
	if (sock_ctl == NULL)
		return;
	while (serve_one() == 0)
		;
}
