/*
 * ctlcli.c: the control client, `cp-planner ctl`: submits, lists, cancels
 * and waits for the jobs of a planner daemon over its control socket
 * (control.h). Owns its DEALER socket and the exit code of a wait, which is
 * the one a collection has: 0 all covered, 1 done but not all covered, 2
 * usage, 3 permanent, 4 the daemon went away.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "log.h"
#include "timeutil.h"

#define CTL_WAIT_POLL_MS 100

struct client {
	const char *endpoint;
	int timeout_ms;
	struct ctl_client cc; /* cc.reply: the last answer */
};

static volatile sig_atomic_t interrupted;

static void
on_int(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void
ctl_usage(FILE *f)
{
	fprintf(f,
	        "usage: cp-planner ctl --control EP [--timeout-ms N] COMMAND ...\n"
	        "\n"
	        "Talks to a planner started with --daemon --control EP.\n"
	        "  submit --market M[,M...] --timeframe TF[,TF...] --from T [--to T] [--wait]\n"
	        "             adds a job; prints its id (with --wait: waits like 'wait',\n"
	        "             and Ctrl-C cancels the job)\n"
	        "  status [JOB]   the daemon's uptime and budget, and each job (or JOB):\n"
	        "             state, slots covered/total, requests, ranges not covered\n"
	        "  cancel JOB     cancels a job\n"
	        "  wait JOB       waits until the job ends; a progress line on a terminal\n"
	        "T is ISO 8601 (UTC without an offset) or epoch seconds. --timeout-ms: how\n"
	        "long to wait for an answer (3000).\n"
	        "Exit: 0 done and all covered; 1 done but not all covered (or cancelled);\n"
	        "2 usage or a refused request; 3 the job failed; 4 no answer from the daemon.\n");
}

static int
usage_error(const char *what)
{
	fprintf(stderr, "cp-planner ctl: %s\ntry 'cp-planner ctl --help'\n", what);
	return EXIT_USAGE;
}

/* Sends the packed request; its answer in c->cc.reply. 0, or the exit
 * code with the reason printed: EXIT_TEMPFAIL no answer in time, EXIT_USAGE
 * refused, EXIT_PERMFAIL not a daemon of our protocol's version. */
static int
request(struct client *c, const msgpack_sbuffer *sb)
{
	char why[CTL_ERR_MAX];
	enum ctl_verdict v = ctl_client_ask(&c->cc, sb, why, sizeof(why));

	if (v != CTL_OK)
		fprintf(stderr, "cp-planner ctl: %s\n", why);
	if (v == CTL_NOANSWER)
		return EXIT_TEMPFAIL;
	return v == CTL_OK ? 0 : v == CTL_REFUSED ? EXIT_USAGE : EXIT_PERMFAIL;
}

/* Packs {v, op, [job]} and sends it: 0, EXIT_USAGE (refused) or
 * EXIT_TEMPFAIL (no answer). */
static int
simple_request(struct client *c, const char *op, int64_t job)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int rc;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, job > 0 ? 3 : 2);
	ctl_pack_kv_i64(&pk, "v", CTL_VERSION);
	ctl_pack_kv_str(&pk, "op", op);
	if (job > 0)
		ctl_pack_kv_i64(&pk, "job", job);
	rc = request(c, &sb);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

/* A time argument: ISO 8601 or epoch seconds. */
static int
parse_time_arg(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s != '\0' && *end == '\0' && errno == 0 && v >= 0) {
		*out = v;
		return 0;
	}
	return time_parse(s, out);
}

struct submit_args {
	const char *markets, *timeframes, *from, *to;
	int wait;
};

static int
parse_submit(int argc, char **argv, struct submit_args *a)
{
	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc; i++) {
		const char *k = argv[i], **dst = NULL;
		if (strcmp(k, "--wait") == 0) {
			a->wait = 1;
			continue;
		}
		if (strcmp(k, "--market") == 0)
			dst = &a->markets;
		else if (strcmp(k, "--timeframe") == 0)
			dst = &a->timeframes;
		else if (strcmp(k, "--from") == 0)
			dst = &a->from;
		else if (strcmp(k, "--to") == 0)
			dst = &a->to;
		if (dst == NULL || i + 1 >= argc)
			return -1;
		*dst = argv[++i];
	}
	return a->markets != NULL && a->timeframes != NULL && a->from != NULL ? 0 : -1;
}

/* The SUBMIT request; 0 with *job, or an exit code. */
static int
submit(struct client *c, const struct submit_args *a, int64_t *job)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int64_t from, to = 0;
	int rc;

	if (parse_time_arg(a->from, &from) == -1)
		return usage_error("bad --from (ISO 8601 like 2026-01-01T00:00:00Z, or epoch s)");
	if (a->to != NULL && parse_time_arg(a->to, &to) == -1)
		return usage_error("bad --to (ISO 8601 like 2026-01-31T00:00:00Z, or epoch s)");
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, a->to != NULL ? 6 : 5);
	ctl_pack_kv_i64(&pk, "v", CTL_VERSION);
	ctl_pack_kv_str(&pk, "op", "submit");
	ctl_pack_key(&pk, "markets");
	ctl_pack_list(&pk, a->markets);
	ctl_pack_key(&pk, "timeframes");
	ctl_pack_list(&pk, a->timeframes);
	ctl_pack_kv_i64(&pk, "from", from);
	if (a->to != NULL)
		ctl_pack_kv_i64(&pk, "to", to);
	rc = request(c, &sb);
	msgpack_sbuffer_destroy(&sb);
	if (rc == 0 && ctl_get_i64(&c->cc.reply.data, "job", job) == -1)
		rc = EXIT_TEMPFAIL;
	return rc;
}

static int64_t
geti(const msgpack_object *m, const char *key)
{
	int64_t v = 0;

	(void)ctl_get_i64(m, key, &v);
	return v;
}

static const msgpack_object *
get_array(const msgpack_object *m, const char *key, uint32_t *n)
{
	const msgpack_object *o = ctl_get(m, key);

	*n = 0;
	if (o == NULL || o->type != MSGPACK_OBJECT_ARRAY)
		return NULL;
	*n = o->via.array.size;
	return o->via.array.ptr;
}

/* Prints the ranges of one target that are not covered, to f. Returns how
 * many. */
static uint32_t
print_missing(FILE *f, const msgpack_object *t)
{
	char market[64] = "?", tf[8] = "?", reason[CTL_ERR_MAX], a[TIME_TEXT_LEN], b[TIME_TEXT_LEN];
	uint32_t n;
	const msgpack_object *m = get_array(t, "missing", &n);

	(void)ctl_get_str(t, "market", market, sizeof(market));
	(void)ctl_get_str(t, "tf", tf, sizeof(tf));
	for (uint32_t i = 0; i < n; i++) {
		if (ctl_get_str(&m[i], "reason", reason, sizeof(reason)) == -1)
			reason[0] = '\0';
		time_format(geti(&m[i], "from"), a);
		time_format(geti(&m[i], "to"), b);
		fprintf(f, "  not covered: %s %s %sZ .. %sZ (%s)\n", market, tf, a, b, reason);
	}
	return n;
}

static void
print_job(const msgpack_object *j)
{
	char state[16] = "?", a[TIME_TEXT_LEN], b[TIME_TEXT_LEN], market[64] = "?", tf[8] = "?";
	uint32_t nt;
	const msgpack_object *t = get_array(j, "targets", &nt);

	(void)ctl_get_str(j, "state", state, sizeof(state));
	printf("job %lld %s: %lld/%lld slots, %lld requests, %u target%s, waits on %lld\n",
	       (long long)geti(j, "id"), state, (long long)geti(j, "slots_done"),
	       (long long)geti(j, "slots_total"), (long long)geti(j, "requests"), nt,
	       nt == 1 ? "" : "s", (long long)geti(j, "waits"));
	for (uint32_t i = 0; i < nt; i++) {
		(void)ctl_get_str(&t[i], "market", market, sizeof(market));
		(void)ctl_get_str(&t[i], "tf", tf, sizeof(tf));
		time_format(geti(&t[i], "from"), a);
		time_format(geti(&t[i], "to"), b);
		printf("  %s %s %sZ .. %sZ: %lld/%lld slots, %lld requests\n", market, tf, a, b,
		       (long long)geti(&t[i], "slots_done"), (long long)geti(&t[i], "slots_total"),
		       (long long)geti(&t[i], "requests"));
		print_missing(stdout, &t[i]);
	}
	if (geti(j, "first_lease_us") >= 0)
		printf("  first lease %.3f ms after planning\n",
		       (double)geti(j, "first_lease_us") / 1000.0);
}

static int
cmd_status(struct client *c, int64_t job)
{
	int rc = simple_request(c, "status", job);
	const msgpack_object *r = &c->cc.reply.data, *v;
	uint32_t n;
	char src[64];

	if (rc != 0)
		return rc;
	printf("daemon: up %.1f s, %lld impossible job events\n",
	       (double)geti(r, "uptime_ms") / 1000.0, (long long)geti(r, "impossible"));
	v = get_array(r, "budgets", &n);
	for (uint32_t i = 0; i < n; i++) {
		const msgpack_object *rate = ctl_get(&v[i], "rate"),
		                     *now = ctl_get(&v[i], "rate_now");
		if (ctl_get_str(&v[i], "source", src, sizeof(src)) == -1)
			snprintf(src, sizeof(src), "?");
		printf("budget: source %s: %.1f requests/s (now %.1f), %lld sent, %lld x 429\n",
		       src,
		       rate != NULL && rate->type == MSGPACK_OBJECT_FLOAT64 ? rate->via.f64 : 0,
		       now != NULL && now->type == MSGPACK_OBJECT_FLOAT64 ? now->via.f64 : 0,
		       (long long)geti(&v[i], "sent"), (long long)geti(&v[i], "n429"));
	}
	v = get_array(r, "jobs", &n);
	for (uint32_t i = 0; i < n; i++)
		print_job(&v[i]);
	return 0;
}

/* The exit code of a job that ended, its ranges not covered on stderr. */
static int
job_end_code(const msgpack_object *j, const char *state)
{
	uint32_t nt, missing = 0;
	const msgpack_object *t = get_array(j, "targets", &nt);

	for (uint32_t i = 0; i < nt; i++)
		missing += print_missing(stderr, &t[i]);
	if (strcmp(state, "failed") == 0) {
		char reason[CTL_ERR_MAX] = "";
		(void)ctl_get_str(j, "reason", reason, sizeof(reason));
		fprintf(stderr, "cp-planner ctl: job %lld failed: %s\n", (long long)geti(j, "id"),
		        reason);
		return EXIT_PERMFAIL;
	}
	if (strcmp(state, "cancelled") == 0)
		return EXIT_FAILED;
	return missing == 0 ? EXIT_OK : EXIT_FAILED;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Polls STATUS until job ends. cancel_on_int: Ctrl-C cancels it. */
static int
cmd_wait(struct client *c, int64_t job, int cancel_on_int)
{
	int tty = isatty(STDERR_FILENO), cancelled = 0;

	for (;;) {
		int rc = simple_request(c, "status", job);
		uint32_t n;
		const msgpack_object *j;
		char state[16] = "?";

		if (rc != 0)
			return rc == EXIT_USAGE ? EXIT_USAGE : EXIT_TEMPFAIL;
		if ((j = get_array(&c->cc.reply.data, "jobs", &n)) == NULL || n != 1)
			return EXIT_TEMPFAIL;
		(void)ctl_get_str(j, "state", state, sizeof(state));
		if (tty)
			fprintf(stderr, "\rjob %lld %s: %lld/%lld slots, %lld requests\033[K",
			        (long long)job, state, (long long)geti(j, "slots_done"),
			        (long long)geti(j, "slots_total"), (long long)geti(j, "requests"));
		if (ctl_state_final(state)) {
			if (tty)
				fputc('\n', stderr);
			printf("job %lld %s: %lld/%lld slots, %lld requests\n", (long long)job,
			       state, (long long)geti(j, "slots_done"),
			       (long long)geti(j, "slots_total"), (long long)geti(j, "requests"));
			return job_end_code(j, state);
		}
		if (interrupted && cancel_on_int && !cancelled) {
			cancelled = 1;
			(void)simple_request(c, "cancel", job);
			continue;
		}
		if (interrupted && !cancel_on_int)
			return EXIT_FAILED;
		sleep_ms(CTL_WAIT_POLL_MS);
	}
}

static int
job_arg(const char *s, int64_t *job)
{
	char *end;

	*job = strtoll(s, &end, 10);
	return *s != '\0' && *end == '\0' && *job > 0 ? 0 : -1;
}

static int
cmd_submit(struct client *c, int argc, char **argv)
{
	struct submit_args a;
	int64_t job;
	int rc;

	if (parse_submit(argc, argv, &a) == -1)
		return usage_error("submit wants --market M[,M...] --timeframe TF[,TF...] --from T "
		                   "[--to T] [--wait]");
	if (a.wait)
		signal(SIGINT, on_int);
	if ((rc = submit(c, &a, &job)) != 0)
		return rc;
	if (!a.wait) {
		printf("%lld\n", (long long)job);
		return EXIT_OK;
	}
	fprintf(stderr, "job %lld submitted\n", (long long)job);
	return cmd_wait(c, job, 1);
}

/* One command of argv[0..argc). */
static int
dispatch_cmd(struct client *c, int argc, char **argv)
{
	const char *cmd = argv[0];
	int64_t job = 0;

	if (strcmp(cmd, "submit") == 0)
		return cmd_submit(c, argc, argv);
	if (strcmp(cmd, "status") == 0 && argc <= 2) {
		if (argc == 2 && job_arg(argv[1], &job) == -1)
			return usage_error("status [JOB]: JOB is a job id");
		return cmd_status(c, job);
	}
	if ((strcmp(cmd, "cancel") == 0 || strcmp(cmd, "wait") == 0) && argc == 2) {
		if (job_arg(argv[1], &job) == -1)
			return usage_error("JOB is a job id");
		if (cmd[0] == 'w')
			return cmd_wait(c, job, 0);
		return simple_request(c, "cancel", job);
	}
	return usage_error("the command is submit, status [JOB], cancel JOB or wait JOB");
}

/* --control EP and --timeout-ms N; returns the index of the command. */
static int
parse_global(int argc, char **argv, struct client *c)
{
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			ctl_usage(stdout);
			exit(EXIT_OK);
		}
		if (i + 1 >= argc)
			return -1;
		if (strcmp(argv[i], "--control") == 0)
			c->endpoint = argv[++i];
		else if (strcmp(argv[i], "--timeout-ms") == 0)
			c->timeout_ms = (int)strtol(argv[++i], NULL, 10);
		else
			return -1;
	}
	return c->endpoint != NULL && c->timeout_ms > 0 && i < argc ? i : -1;
}

int
ctl_main(int argc, char **argv)
{
	struct client c = { .timeout_ms = CTL_REPLY_TIMEOUT_MS };
	int first = parse_global(argc, argv, &c), rc;
	char why[CTL_ERR_MAX];

	if (first == -1)
		return usage_error("give --control EP and a command");
	if (ctl_client_open(&c.cc, c.endpoint, c.timeout_ms, why, sizeof(why)) == -1) {
		ctl_client_close(&c.cc);
		return usage_error("bad --control endpoint");
	}
	rc = dispatch_cmd(&c, argc - first, argv + first);
	ctl_client_close(&c.cc);
	return rc;
}
