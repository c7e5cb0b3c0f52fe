/*
 * readthru.c: cp-serve's read-through. A request whose window the ledger
 * does not prove waits (its connection suspended, no pool thread held) on
 * a flight: a job of exactly the missing window, submitted to the planner
 * daemon over its control socket (--control, the protocol of
 * common/ctlproto.h). Requests for the same (market, timeframe, from, to)
 * while it runs wait on the same flight (coalescing); overlapping windows
 * are separate jobs, which the daemon's overlap rule keeps from fetching a
 * range twice. Once the job ends every waiter is resumed and its route runs
 * again: a covered window is then answered from the database; a failed
 * job, a daemon that does not answer, --miss-timeout-ms passing, or a job
 * that ended without the window being proven is an error in Upbit's shape,
 * never a partial answer.
 *
 * Owns the flight table (shared with forming.c under rt_lock) and one
 * thread that alone talks to the daemon: it submits new flights, asks the
 * STATUS of each running job every RT_TICK_MS, and ends the waits whose
 * deadline passed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "opts.h"
#include "readthru.h"
#include "timeutil.h"

#define RT_TICK_MS 5    /* STATUS of a running job, deadlines, while requests wait */
#define RT_IDLE_MS 500  /* the thread's sleep with nothing to wait on */
#define RT_MAX_ROUNDS 8 /* jobs one request may wait on (a sparse market widens) */

pthread_mutex_t rt_lock = PTHREAD_MUTEX_INITIALIZER;
struct flight *rt_flights;
struct rt_opts rt_opt;
int rt_stopping;

static pthread_t ctl_thread;
static int ctl_running;
static int wake_fd[2] = { -1, -1 };
static struct ctl_client cli; /* used by the thread alone */
static uint64_t n_jobs, n_coalesced, n_refused, n_nodaemon, n_timeouts, n_failed;

uint64_t
rt_count(uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

void
rt_add(uint64_t *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

static int
stopping(void)
{
	return __atomic_load_n(&rt_stopping, __ATOMIC_ACQUIRE);
}

int
readthru_on(void)
{
	return rt_opt.control != NULL;
}

/* ---- flights ---------------------------------------------------------------- */

void
rt_finish(struct flight *fl, enum rt_result res, int status, const char *why,
          struct rt_req **resume)
{
	struct flight **pp = &rt_flights;
	struct rt_req *q, *next;

	while (*pp != NULL && *pp != fl)
		pp = &(*pp)->next;
	if (*pp == fl)
		*pp = fl->next;
	for (q = fl->waiters; q != NULL; q = next) {
		next = q->next;
		q->res = res;
		q->status = status;
		snprintf(q->why, sizeof(q->why), "%s", why);
		if (fl->kind == FL_JOB && res == RT_DONE) {
			q->done_from = fl->from;
			q->done_to = fl->to;
		}
		q->fl = NULL;
		q->next = *resume;
		*resume = q;
	}
	free(fl);
}

void
rt_resume(struct rt_req *list)
{
	while (list != NULL) {
		struct rt_req *next = list->next; /* the resumed route may park it again */

		list->next = NULL;
		MHD_resume_connection(list->conn);
		list = next;
	}
}

static struct flight *
flight_find(const struct rt_req *q)
{
	for (struct flight *fl = rt_flights; fl != NULL; fl = fl->next)
		if (fl->kind == q->kind && fl->tf == q->tf && fl->from == q->from &&
		    fl->to == q->to && strcmp(fl->market, q->market) == 0)
			return fl;
	return NULL;
}

static struct flight *
flight_new(const struct rt_req *q)
{
	struct flight *fl = calloc(1, sizeof(*fl));

	if (fl == NULL)
		return NULL;
	fl->kind = q->kind;
	memcpy(fl->market, q->market, sizeof(fl->market));
	fl->tf = q->tf;
	fl->from = q->from;
	fl->to = q->to;
	fl->next = rt_flights;
	rt_flights = fl;
	return fl;
}

static void
wake_ctl(void)
{
	char c = 1;

	if (wake_fd[1] != -1 && write(wake_fd[1], &c, 1) == -1 && errno != EAGAIN)
		log_debug("read-through: wake: %s", strerror(errno));
}

void
readthru_park(struct rt_req *q, struct MHD_Connection *conn)
{
	struct flight *fl;

	pthread_mutex_lock(&rt_lock);
	q->conn = conn;
	if (rt_stopping || (fl = flight_find(q)) == NULL) {
		fl = rt_stopping ? NULL : flight_new(q);
		if (fl == NULL) {
			q->res = RT_FAILED;
			q->status = 503;
			snprintf(q->why, sizeof(q->why), "cp-serve is stopping (or out of memory)");
			pthread_mutex_unlock(&rt_lock);
			MHD_resume_connection(conn);
			return;
		}
		if (fl->kind == FL_JOB)
			wake_ctl();
		else
			forming_wake();
	} else if (fl->kind == FL_JOB) {
		rt_add(&n_coalesced);
	}
	q->fl = fl;
	q->next = fl->waiters;
	fl->waiters = q;
	pthread_mutex_unlock(&rt_lock);
}

/* ---- the requests' side ------------------------------------------------------ */

struct rt_req *
rt_req_of(struct sv_reply *r)
{
	struct rt_req *q = r->rt;

	if (q != NULL)
		return q;
	if ((q = calloc(1, sizeof(*q))) == NULL) {
		reply_error(r, 500, SV_ERROR, "out of memory");
		return NULL;
	}
	q->t0_us = time_mono_ms() * 1000;
	q->deadline_ms = time_mono_ms() + rt_opt.miss_timeout_ms;
	r->rt = q;
	return q;
}

int
readthru_waited(const struct rt_req *q)
{
	return q != NULL && q->waited;
}

int64_t
readthru_t0(const struct rt_req *q)
{
	return q != NULL ? q->t0_us : -1;
}

void
readthru_free(struct rt_req *q)
{
	if (q == NULL)
		return;
	buf_free(&q->forming);
	free(q);
}

/* How an earlier wait of q ended, when it ends the request: 1 with the
 * error in r, else 0. */
static int
wait_ended(struct rt_req *q, struct sv_reply *r)
{
	if (q->res == RT_FAILED) {
		reply_error(r, q->status, SV_ERROR, q->why);
		return 1;
	}
	if (q->res == RT_TIMEOUT || time_mono_ms() >= q->deadline_ms) {
		rt_add(&n_timeouts);
		reply_error(r, 504, SV_ERROR,
		            "the read-through did not end within --miss-timeout-ms; the job "
		            "goes on, ask again later");
		return 1;
	}
	if (stopping()) {
		reply_error(r, 503, SV_ERROR, "cp-serve is stopping");
		return 1;
	}
	return 0;
}

/* Sets what q waits on and parks r. */
static void
park(struct rt_req *q, struct sv_reply *r, enum fl_kind kind, const char *market, enum tf tf,
     int64_t from, int64_t to)
{
	q->kind = kind;
	snprintf(q->market, sizeof(q->market), "%s", market);
	q->tf = tf;
	q->from = from;
	q->to = to;
	q->res = RT_NONE;
	r->park = 1;
}

void
readthru_miss(struct sv_reply *r, const char *why, const char *market, enum tf tf, int64_t from,
              int64_t to)
{
	struct rt_req *q;

	if (!readthru_on() || strlen(market) >= RT_MARKET_MAX) {
		reply_miss(r, why);
		return;
	}
	if ((q = rt_req_of(r)) == NULL || wait_ended(q, r))
		return;
	if ((q->res == RT_DONE && q->kind == FL_JOB && from >= q->done_from && to <= q->done_to) ||
	    q->rounds >= RT_MAX_ROUNDS) {
		rt_add(&n_failed);
		reply_error(r, 503, SV_ERROR,
		            "the job collecting this window ended, but the ledger still does not "
		            "prove it (see /v1/gaps)");
		return;
	}
	q->rounds++;
	q->waited = 1;
	park(q, r, FL_JOB, market, tf, from, to);
}

int
rt_forming_park(struct sv_reply *r, const char *market, enum tf tf, int64_t open)
{
	struct rt_req *q = rt_req_of(r);

	if (q == NULL || wait_ended(q, r))
		return -1;
	if (q->rounds++ >= RT_MAX_ROUNDS) {
		reply_error(r, 503, SV_ERROR, "the forming candle could not be had from upstream");
		return -1;
	}
	park(q, r, FL_FORMING, market, tf, open, open);
	return 0;
}

/* ---- the control client -------------------------------------------------------- */

static int64_t quiet_since; /* since when the daemon does not answer; 0 while it does */

/* After a request with no answer: 1 to wait for the daemon (it answered
 * before and has been quiet for less than CTL_GONE_MS: a supervisor is
 * restarting it; the waiters' own deadlines still hold), 0 to give up. */
static int
wait_for_daemon(void)
{
	int64_t now = time_mono_ms();

	if (cli.instance == 0)
		return 0;
	if (quiet_since == 0)
		quiet_since = now;
	return now - quiet_since < CTL_GONE_MS;
}

/* One request and its verdict: 0 with the answer in cli.reply, 1 refused,
 * -1 no answer. */
static int
ctl_ask(const msgpack_sbuffer *sb, char *why, size_t len)
{
	enum ctl_verdict v = ctl_client_ask(&cli, sb, why, len);

	if (v != CTL_NOANSWER)
		quiet_since = 0;

	if (v == CTL_NOANSWER)
		snprintf(why, len,
		         "the collector daemon at %s does not answer (is %s start running?)",
		         rt_opt.control, opts_launcher());
	return v == CTL_NOANSWER ? -1 : v != CTL_OK;
}

/* SUBMIT of one window: 0 with *job, 1 refused, -1 no answer. */
static int
do_submit(const struct flight *fl, int64_t *job, char *why, size_t len)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int rc;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	ctl_pack_submit1(&pk, fl->market, tf_name(fl->tf), fl->from, fl->to);
	rc = ctl_ask(&sb, why, len);
	if (rc == 0 && ctl_get_i64(&cli.reply.data, "job", job) == -1) {
		snprintf(why, len, "the daemon's answer has no job id");
		rc = 1;
	}
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

/* How an ended job left its window: 1 covered, 2 not (why). */
static int
job_verdict(const msgpack_object *j, const char *state, int64_t id, char *why, size_t len)
{
	const msgpack_object *t = ctl_get(j, "targets"), *m;
	char reason[CTL_ERR_MAX] = "";

	if (strcmp(state, "done") != 0) {
		(void)ctl_get_str(j, "reason", reason, sizeof(reason));
		snprintf(why, len, "the job %lld for this window %s%s%s", (long long)id, state,
		         reason[0] != '\0' ? ": " : "", reason);
		return 2;
	}
	for (uint32_t i = 0; t != NULL && t->type == MSGPACK_OBJECT_ARRAY && i < t->via.array.size;
	     i++) {
		m = ctl_get(&t->via.array.ptr[i], "missing");
		if (m != NULL && m->type == MSGPACK_OBJECT_ARRAY && m->via.array.size > 0) {
			(void)ctl_get_str(&m->via.array.ptr[0], "reason", reason, sizeof(reason));
			snprintf(why, len, "the job %lld did not cover this window: %s",
			         (long long)id, reason);
			return 2;
		}
	}
	return 1;
}

/* STATUS of job (of the daemon's instance inst): 0 running, 1 ended
 * covered, 2 ended otherwise (why), 3 gone with a restarted daemon (whose
 * job ids start again at 1: its job of that id is another's), -1 no
 * answer. */
static int
do_status(int64_t job, int64_t inst, char *why, size_t len)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	const msgpack_object *jobs;
	char state[16] = "";
	int rc;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	ctl_pack_kv_i64(&pk, "v", CTL_VERSION);
	ctl_pack_kv_str(&pk, "op", "status");
	ctl_pack_kv_i64(&pk, "job", job);
	rc = ctl_ask(&sb, why, len);
	if (rc != -1 && cli.instance != 0 && inst != 0 && cli.instance != inst)
		rc = 3;
	else if (rc == 1)
		rc = 2; /* "no job N" */
	jobs = rc == 0 ? ctl_get(&cli.reply.data, "jobs") : NULL;
	if (rc == 0 &&
	    (jobs == NULL || jobs->type != MSGPACK_OBJECT_ARRAY || jobs->via.array.size != 1 ||
	     ctl_get_str(jobs->via.array.ptr, "state", state, sizeof(state)) == -1)) {
		snprintf(why, len, "a malformed STATUS answer from the daemon");
		rc = 2;
	}
	if (rc == 0 && ctl_state_final(state))
		rc = job_verdict(jobs->via.array.ptr, state, job, why, len);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

/* ---- the thread ------------------------------------------------------------------ */

/* The daemon does not answer: every job flight ends. Under rt_lock. */
static void
fail_all_jobs(const char *why, struct rt_req **resume)
{
	struct flight *fl = rt_flights, *next;

	rt_add(&n_nodaemon);
	for (; fl != NULL; fl = next) {
		next = fl->next;
		if (fl->kind == FL_JOB)
			rt_finish(fl, RT_FAILED, 503, why, resume);
	}
}

static struct flight *
first_unsubmitted(void)
{
	for (struct flight *fl = rt_flights; fl != NULL; fl = fl->next)
		if (fl->kind == FL_JOB && !fl->busy)
			return fl;
	return NULL;
}

/* Submits every new flight. Under rt_lock, released during each request
 * (only this thread frees job flights). */
static void
submit_all(struct rt_req **resume)
{
	struct flight *fl;
	char why[CTL_ERR_MAX];

	while (!rt_stopping && (fl = first_unsubmitted()) != NULL) {
		struct flight copy = *fl;
		int64_t job = 0;
		int rc;

		fl->busy = 1;
		pthread_mutex_unlock(&rt_lock);
		rc = do_submit(&copy, &job, why, sizeof(why));
		pthread_mutex_lock(&rt_lock);
		if (rt_stopping) /* readthru_stop ended (and freed) every flight */
			return;
		if (rc == 0) {
			fl->job = job;
			fl->instance = cli.instance;
			rt_add(&n_jobs);
			log_debug("read-through: job %lld for %s %s", (long long)job, fl->market,
			          tf_name(fl->tf));
		} else if (rc == 1) {
			rt_add(&n_refused);
			rt_finish(fl, RT_FAILED, 503, why, resume);
		} else if (wait_for_daemon()) {
			fl->busy = 0; /* submitted again next round */
			return;
		} else {
			fail_all_jobs(why, resume);
		}
	}
}

static struct flight *
first_unpolled(unsigned tick)
{
	for (struct flight *fl = rt_flights; fl != NULL; fl = fl->next)
		if (fl->kind == FL_JOB && fl->job > 0 && (unsigned)fl->busy != tick)
			return fl;
	return NULL;
}

/* Asks each running job's STATUS once (busy holds the tick it was asked
 * in, + 1). Under rt_lock, released during each request. */
static void
poll_all(unsigned tick, struct rt_req **resume)
{
	struct flight *fl;
	char why[CTL_ERR_MAX];

	while (!rt_stopping && (fl = first_unpolled(tick)) != NULL) {
		int64_t job = fl->job, inst = fl->instance;
		int rc;

		fl->busy = (int)tick;
		pthread_mutex_unlock(&rt_lock);
		rc = do_status(job, inst, why, sizeof(why));
		pthread_mutex_lock(&rt_lock);
		if (rt_stopping)
			return;
		if (rc == 1) {
			rt_finish(fl, RT_DONE, 200, "", resume);
		} else if (rc == 2) {
			rt_add(&n_failed);
			rt_finish(fl, RT_FAILED, 503, why, resume);
		} else if (rc == 3) {
			log_info("read-through: the daemon restarted: job %lld for %s %s is gone;"
			         " submitting it again",
			         (long long)job, fl->market, tf_name(fl->tf));
			fl->job = 0;
			fl->busy = 0;
		} else if (rc == -1 && wait_for_daemon()) {
			return; /* asked again next round */
		} else if (rc == -1) {
			fail_all_jobs(why, resume);
		}
	}
}

/* Ends the waits whose deadline passed (their flights go on). */
static void
expire_all(struct rt_req **resume)
{
	int64_t now = time_mono_ms();

	for (struct flight *fl = rt_flights; fl != NULL; fl = fl->next) {
		struct rt_req **pp = &fl->waiters;

		while (*pp != NULL) {
			struct rt_req *q = *pp;

			if (q->deadline_ms > now) {
				pp = &q->next;
				continue;
			}
			*pp = q->next;
			q->res = RT_TIMEOUT;
			q->fl = NULL;
			q->next = *resume;
			*resume = q;
		}
	}
}

static void
sleep_on_wake(int ms)
{
	struct pollfd p = { wake_fd[0], POLLIN, 0 };
	char drain[64];

	if (poll(&p, 1, ms) > 0)
		while (read(wake_fd[0], drain, sizeof(drain)) > 0)
			;
}

static void *
ctl_main(void *arg)
{
	unsigned tick = 1;

	(void)arg;
	pthread_mutex_lock(&rt_lock);
	while (!rt_stopping) {
		struct rt_req *resume = NULL;
		int waiting;

		/* busy is 1 for "submitted, not asked yet": ticks stay above it */
		tick = tick < 2 ? 2 : tick + 1;
		submit_all(&resume);
		poll_all(tick, &resume);
		expire_all(&resume);
		waiting = rt_flights != NULL;
		pthread_mutex_unlock(&rt_lock);
		rt_resume(resume);
		sleep_on_wake(waiting ? RT_TICK_MS : RT_IDLE_MS);
		pthread_mutex_lock(&rt_lock);
	}
	pthread_mutex_unlock(&rt_lock);
	return NULL;
}

int
readthru_start(const struct rt_opts *o)
{
	char why[CTL_ERR_MAX];

	rt_opt = *o;
	if (!readthru_on())
		return 0;
	if (pipe2(wake_fd, O_NONBLOCK | O_CLOEXEC) == -1) {
		log_warnx("read-through: pipe: %s", strerror(errno));
		return -1;
	}
	if (ctl_client_open(&cli, rt_opt.control, CTL_REPLY_TIMEOUT_MS, why, sizeof(why)) == -1) {
		log_warnx("read-through: %s", why);
		return -1;
	}
	if (pthread_create(&ctl_thread, NULL, ctl_main, NULL) != 0)
		return -1;
	ctl_running = 1;
	return forming_start();
}

void
readthru_stop(void)
{
	struct rt_req *resume = NULL;

	if (!readthru_on())
		return;
	pthread_mutex_lock(&rt_lock);
	__atomic_store_n(&rt_stopping, 1, __ATOMIC_RELEASE);
	while (rt_flights != NULL)
		rt_finish(rt_flights, RT_FAILED, 503, "cp-serve is stopping", &resume);
	forming_wake();
	pthread_mutex_unlock(&rt_lock);
	rt_resume(resume);
	wake_ctl();
	if (ctl_running)
		pthread_join(ctl_thread, NULL);
	ctl_running = 0;
	forming_stop();
	ctl_client_close(&cli);
}

void
readthru_metrics(struct buf *b)
{
	static const struct {
		const char *name, *help;
		uint64_t *v;
	} m[] = {
		{ "cp_serve_miss_jobs_total", "misses that became a job of the daemon", &n_jobs },
		{ "cp_serve_coalesced_total", "misses that waited on a job another request started",
		  &n_coalesced },
		{ "cp_serve_miss_refused_total", "jobs the daemon refused", &n_refused },
		{ "cp_serve_miss_failed_total", "jobs that ended without proving their window",
		  &n_failed },
		{ "cp_serve_miss_timeouts_total", "misses answered 504 after --miss-timeout-ms",
		  &n_timeouts },
		{ "cp_serve_control_unanswered_total", "times the daemon did not answer",
		  &n_nodaemon },
	};

	if (!readthru_on())
		return;
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", m[i].name, m[i].help,
		           m[i].name, m[i].name, (unsigned long long)rt_count(m[i].v));
	forming_metrics(b);
}
