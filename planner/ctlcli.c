/*
 * ctlcli.c: the control client, `cp-planner ctl`: submits, lists, cancels
 * and waits for the jobs of a planner daemon over its control socket
 * (control.h), and adds, removes, lists and watches its follow
 * subscriptions, through the one control client (common/ctlproto.h,
 * struct ctl_client). Owns the exit code of a wait, which is the one a
 * collection has: 0 all covered, 1 done but not all covered, 2 usage,
 * 3 permanent, 4 the daemon went away.
 *
 * A wait outlives a restart of the daemon: when it does not answer, the
 * client asks again for up to CTL_GONE_MS (ctl_client_ask_patient); when
 * it answers as another instance (c->restarted), the job it waited on is
 * gone, and the job it submitted is submitted again (collecting is
 * idempotent: what the first run stored is not fetched twice).
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

#define CTL_WAIT_POLL_MS 20   /* a wait's STATUS: the end is seen within 20 ms */
#define CTL_WATCH_POLL_MS 500 /* follow --watch */

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
	        "  follow --market M[,M...] --timeframe TF[,TF...] [--backfill N | --from T]\n"
	        "             [--watch]  adds standing follow jobs (kept in the database);\n"
	        "             --watch shows them until Ctrl-C, which does not remove them\n"
	        "  unfollow --market M[,M...] --timeframe TF[,TF...]  removes them\n"
	        "  follows        lists the follow subscriptions\n"
	        "T is ISO 8601 (UTC without an offset) or epoch seconds. --timeout-ms: how\n"
	        "long to wait for an answer (3000).\n"
	        "Exit: 0 done and all covered; 1 done but not all covered (or cancelled);\n"
	        "2 usage or a refused request; 3 the job failed; 4 no answer from the daemon\n"
	        "(a wait waits %d s for a restarting daemon and submits its job again).\n",
	        CTL_GONE_MS / 1000);
}

static int
usage_error(const char *what)
{
	fprintf(stderr, "cp-planner ctl: %s\ntry 'cp-planner ctl --help'\n", what);
	return EXIT_USAGE;
}

static void
say_waiting(const struct ctl_client *c)
{
	(void)c;
	fprintf(stderr, "cp-planner ctl: the daemon does not answer; waiting for it"
	                " (it may be restarting)\n");
}

static const struct ctl_patience patience = { CTL_GONE_MS, &interrupted, say_waiting };

/* Sends the packed request (patient: ctl_client_ask_patient) and judges
 * its answer: 0, EXIT_USAGE refused, EXIT_PERMFAIL of another protocol,
 * EXIT_TEMPFAIL no answer (each said on stderr). The answer of a restarted
 * daemon (c->restarted) to a patient request is not judged: 0. */
static int
request(struct ctl_client *c, const msgpack_sbuffer *sb, int patient)
{
	char why[CTL_ERR_MAX];
	enum ctl_verdict v = patient ? ctl_client_ask_patient(c, sb, &patience, why, sizeof(why))
	                             : ctl_client_ask(c, sb, why, sizeof(why));

	if (v == CTL_OK || (patient && c->restarted))
		return EXIT_OK;
	fprintf(stderr, "cp-planner ctl: %s\n", why);
	if (v == CTL_NOANSWER)
		return EXIT_TEMPFAIL;
	return v == CTL_REFUSED ? EXIT_USAGE : EXIT_PERMFAIL;
}

/* Packs {v, op, [job]} and sends it: request's code. */
static int
op_request(struct ctl_client *c, const char *op, int64_t job, int patient)
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
	rc = request(c, &sb, patient);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

static int
simple_request(struct ctl_client *c, const char *op, int64_t job)
{
	return op_request(c, op, job, 0);
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

/* Packs key and a comma-separated list. */
static void
pack_list(msgpack_packer *pk, const char *key, const char *list)
{
	ctl_pack_key(pk, key);
	ctl_pack_list(pk, list);
}

struct submit_args {
	const char *markets, *timeframes, *from, *to, *backfill;
	int wait; /* submit --wait, follow --watch */
};

/* The option's slot in a, or NULL. */
static const char **
arg_slot(struct submit_args *a, const char *k)
{
	if (strcmp(k, "--market") == 0)
		return &a->markets;
	if (strcmp(k, "--timeframe") == 0)
		return &a->timeframes;
	if (strcmp(k, "--from") == 0)
		return &a->from;
	if (strcmp(k, "--to") == 0)
		return &a->to;
	if (strcmp(k, "--backfill") == 0)
		return &a->backfill;
	return NULL;
}

/* The options of submit (flag "--wait") or follow ("--watch"); 0 or -1. */
static int
parse_args(int argc, char **argv, struct submit_args *a, const char *flag)
{
	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc; i++) {
		const char **dst;
		if (strcmp(argv[i], flag) == 0) {
			a->wait = 1;
			continue;
		}
		dst = arg_slot(a, argv[i]);
		if (dst == NULL || i + 1 >= argc)
			return -1;
		*dst = argv[++i];
	}
	return a->markets != NULL && a->timeframes != NULL ? 0 : -1;
}

static int
parse_submit(int argc, char **argv, struct submit_args *a)
{
	if (parse_args(argc, argv, a, "--wait") == -1 || a->backfill != NULL)
		return -1;
	return a->from != NULL ? 0 : -1;
}

/* The SUBMIT request; 0 with *job, or an exit code. */
static int
submit(struct ctl_client *c, const struct submit_args *a, int64_t *job)
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
	pack_list(&pk, "markets", a->markets);
	pack_list(&pk, "timeframes", a->timeframes);
	ctl_pack_kv_i64(&pk, "from", from);
	if (a->to != NULL)
		ctl_pack_kv_i64(&pk, "to", to);
	rc = request(c, &sb, 0);
	msgpack_sbuffer_destroy(&sb);
	if (rc == 0 && ctl_get_i64(&c->reply.data, "job", job) == -1)
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
cmd_status(struct ctl_client *c, int64_t job)
{
	int rc = simple_request(c, "status", job);
	const msgpack_object *r = &c->reply.data, *v;
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

/* The daemon restarted while job was waited on: the job a (NULL: none we
 * know) is submitted again into *job. 0, or the exit code. */
static int
resubmit(struct ctl_client *c, const struct submit_args *a, int64_t *job)
{
	int64_t old = *job;
	int rc;

	if (a == NULL) {
		fprintf(stderr, "cp-planner ctl: the daemon restarted: job %lld is gone\n",
		        (long long)old);
		return EXIT_TEMPFAIL;
	}
	if ((rc = submit(c, a, job)) != 0)
		return rc;
	fprintf(stderr,
	        "cp-planner ctl: the daemon restarted: job %lld is gone; submitted again as job"
	        " %lld (what was stored is not fetched again)\n",
	        (long long)old, (long long)*job);
	return 0;
}

/* The progress line of job j (a terminal's \r line), and the final line
 * on stdout once state is final: 1 then, else 0. */
static int
show_progress(const msgpack_object *j, int64_t job, const char *state, int tty)
{
	if (tty)
		fprintf(stderr, "\rjob %lld %s: %lld/%lld slots, %lld requests\033[K",
		        (long long)job, state, (long long)geti(j, "slots_done"),
		        (long long)geti(j, "slots_total"), (long long)geti(j, "requests"));
	if (!ctl_state_final(state))
		return 0;
	if (tty)
		fputc('\n', stderr);
	printf("job %lld %s: %lld/%lld slots, %lld requests\n", (long long)job, state,
	       (long long)geti(j, "slots_done"), (long long)geti(j, "slots_total"),
	       (long long)geti(j, "requests"));
	return 1;
}

/* Polls STATUS until job ends. cancel_on_int: Ctrl-C cancels it. a: the
 * job's submission, made again if the daemon restarts (NULL: none). */
static int
cmd_wait(struct ctl_client *c, int64_t job, int cancel_on_int, const struct submit_args *a)
{
	int tty = isatty(STDERR_FILENO), cancelled = 0;

	for (;;) {
		int rc = op_request(c, "status", job, 1);
		uint32_t n;
		const msgpack_object *j;
		char state[16] = "?";

		if (rc == 0 && c->restarted) {
			if ((rc = resubmit(c, a, &job)) != 0)
				return rc;
			continue;
		}
		if (rc != 0)
			return rc == EXIT_USAGE ? EXIT_USAGE : EXIT_TEMPFAIL;
		if ((j = get_array(&c->reply.data, "jobs", &n)) == NULL || n != 1)
			return EXIT_TEMPFAIL;
		(void)ctl_get_str(j, "state", state, sizeof(state));
		if (show_progress(j, job, state, tty))
			return job_end_code(j, state);
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
cmd_submit(struct ctl_client *c, int argc, char **argv)
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
	return cmd_wait(c, job, 1, &a);
}

/* Packs a FOLLOW or UNFOLLOW of a and sends it: 0 or an exit code. */
static int
follow_request(struct ctl_client *c, const struct submit_args *a, const char *op)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int64_t from = 0, backfill = 0;
	char *end = NULL;
	int rc;

	if (a->from != NULL && parse_time_arg(a->from, &from) == -1)
		return usage_error("bad --from (ISO 8601 like 2026-01-01T00:00:00Z, or epoch s)");
	if (a->backfill != NULL && ((backfill = strtoll(a->backfill, &end, 10)) < 0 ||
	                            *a->backfill == '\0' || *end != '\0'))
		return usage_error("--backfill wants a number of candles (0 or more)");
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 4 + (a->from != NULL) + (a->backfill != NULL));
	ctl_pack_kv_i64(&pk, "v", CTL_VERSION);
	ctl_pack_kv_str(&pk, "op", op);
	pack_list(&pk, "markets", a->markets);
	pack_list(&pk, "timeframes", a->timeframes);
	if (a->from != NULL)
		ctl_pack_kv_i64(&pk, "from", from);
	if (a->backfill != NULL)
		ctl_pack_kv_i64(&pk, "backfill", backfill);
	rc = request(c, &sb, 0);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

/* One subscription (a FOLLOWED map) as a line on f; its state into state. */
static void
print_follow(FILE *f, const msgpack_object *s, char *state, size_t cap)
{
	const msgpack_object *t = ctl_get(s, "target");
	char market[64] = "?", tf[8] = "?", reason[CTL_ERR_MAX] = "", a[TIME_TEXT_LEN],
	     b[TIME_TEXT_LEN];

	snprintf(state, cap, "?");
	(void)ctl_get_str(s, "state", state, cap);
	(void)ctl_get_str(s, "reason", reason, sizeof(reason));
	if (t == NULL)
		return;
	(void)ctl_get_str(t, "market", market, sizeof(market));
	(void)ctl_get_str(t, "tf", tf, sizeof(tf));
	time_format(geti(s, "added"), a);
	time_format(geti(t, "to"), b);
	fprintf(f,
	        "follow %s %s: job %lld %s%s%s, backfill %lld, since %sZ, up to %sZ, %lld/%lld"
	        " slots, %lld requests\n",
	        market, tf, (long long)geti(s, "job"), state, reason[0] ? ": " : "", reason,
	        (long long)geti(s, "backfill"), a, b, (long long)geti(t, "slots_done"),
	        (long long)geti(t, "slots_total"), (long long)geti(t, "requests"));
}

/* 1 if the FOLLOWED map s is of a's lists (a NULL: any). */
static int
follow_of(const msgpack_object *s, const struct submit_args *a)
{
	const msgpack_object *t = ctl_get(s, "target");
	char market[64] = "", tf[8] = "";

	if (a == NULL)
		return 1;
	if (t == NULL || ctl_get_str(t, "market", market, sizeof(market)) == -1 ||
	    ctl_get_str(t, "tf", tf, sizeof(tf)) == -1)
		return 0;
	return ctl_in_list(market, a->markets) && ctl_in_list(tf, a->timeframes);
}

/* Prints the "follows" of c's last answer (those of a's lists; NULL:
 * all) to f. *live: how many have not failed. Returns how many. */
static uint32_t
print_follows(const struct ctl_client *c, const struct submit_args *a, FILE *f, uint32_t *live)
{
	uint32_t n, shown = 0;
	const msgpack_object *v = get_array(&c->reply.data, "follows", &n);
	char state[16];

	*live = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (!follow_of(&v[i], a))
			continue;
		print_follow(f, &v[i], state, sizeof(state));
		*live += strcmp(state, "failed") != 0;
		shown++;
	}
	return shown;
}

/* The follows of a, as print_follows would print them, into buf; how
 * many; *live as print_follows. */
static uint32_t
follows_text(const struct ctl_client *c, const struct submit_args *a, char **buf, uint32_t *live)
{
	size_t len = 0;
	FILE *f = open_memstream(buf, &len);
	uint32_t n;

	if (f == NULL)
		fatalx(EXIT_TEMPFAIL, "out of memory");
	n = print_follows(c, a, f, live);
	/* cppcheck-suppress nullPointerRedundantCheck ; fatalx does not return */
	fclose(f);
	return n;
}

/* follow --watch: prints the subscriptions of a whenever their state or
 * their end changes, until a signal (0: they stay), until none is left
 * (0: removed) or every one failed (3). Rides out a restart of the
 * daemon: it follows them again itself. */
static int
cmd_watch(struct ctl_client *c, const struct submit_args *a)
{
	char *last = NULL;
	int rc = EXIT_OK;

	while (!interrupted) {
		char *now = NULL;
		uint32_t live, n;
		if ((rc = op_request(c, "follows", 0, 1)) != 0)
			break;
		n = follows_text(c, a, &now, &live);
		if (last == NULL || strcmp(now, last) != 0)
			fputs(now, stdout);
		fflush(stdout);
		free(last);
		last = now;
		if (n == 0 || live == 0) {
			fprintf(stderr, "cp-planner ctl: %s\n",
			        n == 0 ? "no longer followed (removed)" : "every follow failed");
			rc = n == 0 ? EXIT_OK : EXIT_PERMFAIL;
			break;
		}
		sleep_ms(CTL_WATCH_POLL_MS);
	}
	free(last);
	if (interrupted)
		fprintf(stderr, "cp-planner ctl: stopped watching; the follow subscriptions stay"
		                " (the daemon keeps them up to date; remove them with unfollow)\n");
	return rc;
}

/* The options of follow (remove 0) or unfollow; 0 or -1. */
static int
parse_follow(int argc, char **argv, struct submit_args *a, int remove)
{
	if (parse_args(argc, argv, a, remove ? "--no-such-flag" : "--watch") == -1 ||
	    a->to != NULL || (a->from != NULL && a->backfill != NULL))
		return -1;
	return remove && (a->from != NULL || a->backfill != NULL) ? -1 : 0;
}

/* "added N follows" for the answer's key. */
static void
print_count(const struct ctl_client *c, const char *key)
{
	int64_t n = geti(&c->reply.data, key);

	printf("%s %lld follow%s\n", key, (long long)n, n == 1 ? "" : "s");
}

static int
cmd_follow(struct ctl_client *c, int argc, char **argv, int remove)
{
	struct submit_args a;
	uint32_t live;
	int rc;

	if (parse_follow(argc, argv, &a, remove) == -1)
		return usage_error(remove
		                       ? "unfollow wants --market M[,M...] --timeframe TF[,TF...]"
		                       : "follow wants --market M[,M...] --timeframe TF[,TF...]"
		                         " [--backfill N | --from T] [--watch]");
	if (a.wait) {
		signal(SIGINT, on_int);
		signal(SIGTERM, on_int);
	}
	if ((rc = follow_request(c, &a, remove ? "unfollow" : "follow")) != 0)
		return rc;
	print_count(c, remove ? "removed" : "added");
	if (remove)
		return EXIT_OK;
	(void)print_follows(c, NULL, stdout, &live);
	fflush(stdout);
	return a.wait ? cmd_watch(c, &a) : EXIT_OK;
}

static int
cmd_follows(struct ctl_client *c)
{
	uint32_t live;
	int rc = simple_request(c, "follows", 0);

	if (rc != 0)
		return rc;
	if (print_follows(c, NULL, stdout, &live) == 0)
		printf("follows: none\n");
	return EXIT_OK;
}

/* One command of argv[0..argc). */
static int
dispatch_cmd(struct ctl_client *c, int argc, char **argv)
{
	const char *cmd = argv[0];
	int64_t job = 0;

	if (strcmp(cmd, "submit") == 0)
		return cmd_submit(c, argc, argv);
	if (strcmp(cmd, "follow") == 0 || strcmp(cmd, "unfollow") == 0)
		return cmd_follow(c, argc, argv, cmd[0] == 'u');
	if (strcmp(cmd, "follows") == 0 && argc == 1)
		return cmd_follows(c);
	if (strcmp(cmd, "status") == 0 && argc <= 2) {
		if (argc == 2 && job_arg(argv[1], &job) == -1)
			return usage_error("status [JOB]: JOB is a job id");
		return cmd_status(c, job);
	}
	if ((strcmp(cmd, "cancel") == 0 || strcmp(cmd, "wait") == 0) && argc == 2) {
		if (job_arg(argv[1], &job) == -1)
			return usage_error("JOB is a job id");
		if (cmd[0] == 'w')
			return cmd_wait(c, job, 0, NULL);
		return simple_request(c, "cancel", job);
	}
	return usage_error("the command is submit, status [JOB], cancel JOB, wait JOB, follow,"
	                   " unfollow or follows");
}

/* --control EP and --timeout-ms N; returns the index of the command. */
static int
parse_global(int argc, char **argv, const char **endpoint, int *timeout_ms)
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
			*endpoint = argv[++i];
		else if (strcmp(argv[i], "--timeout-ms") == 0)
			*timeout_ms = (int)strtol(argv[++i], NULL, 10);
		else
			return -1;
	}
	return *endpoint != NULL && *timeout_ms > 0 && i < argc ? i : -1;
}

int
ctl_main(int argc, char **argv)
{
	struct ctl_client c;
	const char *endpoint = NULL;
	int timeout_ms = CTL_REPLY_TIMEOUT_MS, first, rc;
	char why[CTL_ERR_MAX];

	if ((first = parse_global(argc, argv, &endpoint, &timeout_ms)) == -1)
		return usage_error("give --control EP and a command");
	if (ctl_client_open(&c, endpoint, timeout_ms, why, sizeof(why)) == -1)
		rc = usage_error("bad --control endpoint");
	else
		rc = dispatch_cmd(&c, argc - first, argv + first);
	ctl_client_close(&c);
	return rc;
}
