/*
 * planner: owns one collection. It reads the coverage ledger (read-only),
 * plans segments over exactly the missing ranges, leases chunks to fetchers
 * on their READY credits together with a rate token of their source
 * address, re-issues expired leases, retries failures with back-off, and
 * ends when every requested range is proven in the database. It also hosts
 * the event hub (XSUB -> XPUB) that monitors attach to.
 *
 * Exit: 0 all covered; 1 some ranges not covered (one line says which and
 * why); 2 usage; 4 temporary trouble (restart me).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "budget.h"
#include "claims.h"
#include "control.h"
#include "crashpoint.h"
#include "events.h"
#include "exitcodes.h"
#include "flags.h"
#include "follow.h"
#include "hub.h"
#include "job.h"
#include "keys.h"
#include "ledger.h"
#include "log.h"
#include "proc.h"
#include "net.h"
#include "opts.h"
#include "plan.h"
#include "progress.h"
#include "proto.h"
#include "report.h"
#include "subs.h"
#include "tf.h"
#include "timeutil.h"

#define FETCHERS_MAX 256
#define FETCHER_SILENT_MS 3000
#define LOOKAHEAD_MS 50 /* leases carry tokens at most this far ahead */
#define SPLIT_NOW_MS 5  /* split only when a token is this close */
#define IDENT_MAX 64

struct fetcher {
	unsigned char ident[IDENT_MAX];
	size_t ident_len;
	int source;           /* index into budgets */
	int64_t free_slots;   /* as last announced */
	uint32_t leases_seen; /* as last announced */
	uint32_t leases_sent;
	int64_t last_seen_ms;
};

struct opts {
	const char *db, *work, *events, *monitor;
	const char *markets, *timeframes;
	const char *from, *to;
	int64_t count;
	double rate;
	int quiet;
	int validate_only, verbose;
	int notify_fd; /* --notify-fd: -1 none */
	int64_t hedge_after_ms, guard_epoch_ms, guard_after_ms;
	int follow;
	int64_t follow_delay_ms;
	struct net_curve curve;  /* our key pair: every bound socket is CURVE */
	const char *curve_allow; /* the client keys allowed to connect */
	int daemon;              /* --daemon: jobs arrive on the control socket */
	const char *control;
};

static volatile sig_atomic_t stop_signal;

static struct fetcher fetchers[FETCHERS_MAX];
static int nfetchers;
static struct budget budgets[BUDGET_SOURCES_MAX];
static int nbudgets;
static struct plan plan;
static void *sock_work;
static struct buf mbuf;
static struct run_stats stats;
static double rate_limit;
static int64_t hedge_after_ms;
static struct jobs jobs;
static struct opts daemon_opts; /* the daemon's own options */

static void
on_signal(int sig)
{
	stop_signal = sig;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: cp-planner --db PATH --market M[,M...] --timeframe TF[,TF...]\n"
	           "                  [--from T] [--to T] [--count N] --work EP\n"
	           "                  [--events EP --monitor EP] [--rate N] [--quiet] [-v]\n"
	           "       cp-planner --validate [same options]\n"
	           "       cp-planner --daemon --control EP --db PATH --work EP [...]\n"
	           "       cp-planner ctl --control EP submit|status|follow|... ARGS\n"
	           "\n"
	           "Plans and leases the chunks of one collection; exits when every\n"
	           "requested range is proven in the database.\n"
	           "  --from T     first candle start to collect (inclusive), ISO 8601\n"
	           "  --to T       end (exclusive); default: now (the forming candle is\n"
	           "               never collected)\n"
	           "  --count N    the N most recent closed intervals before --to\n"
	           "  --rate N     candle requests per second per source address (10;\n"
	           "               0 = unlimited)\n"
	           "  --validate   check the options and exit (0 ok, 2 usage error)\n"
	           "  --feature NAME=on|off   switch an optimisation: split (parallel\n"
	           "               segments), hedge (race overdue requests), lookahead\n"
	           "               (lease ahead of the rate token); all on by default\n"
	           "  --features FILE         the same as 'name = on|off' lines\n"
	           "  --hedge-after-ms N      a request is overdue after N ms (default:\n"
	           "               4 x the usual API time, at least 600)\n"
	           "  --guard-epoch-ms N      the guard measures each flag on and off for\n"
	           "               N ms and keeps it off if it is >20%% worse; 0 = no guard\n"
	           "               (10000)\n"
	           "  --guard-after-ms N      start the guard after N ms (30000)\n"
	           "  --curve-server F        CURVE key pair for every socket the planner\n"
	           "               binds (for tcp across hosts)\n"
	           "  --curve-allow F         only clients whose public key is in F may\n"
	           "               connect (\"public=\" lines; required with --curve-server)\n"
	           "  --keygen F   write a new CURVE key pair to F (mode 0600) and its\n"
	           "               public half to F.pub, then exit\n"
	           "  --follow     after the backfill, keep every target up to date: each\n"
	           "               candle is fetched --follow-delay-ms (1000) after it\n"
	           "               closes; runs until SIGTERM/SIGINT\n"
	           "  --notify-fd N           once the sockets are bound and there is work\n"
	           "               (--daemon: once the control socket is bound), write a\n"
	           "               newline to fd N and close it (s6's readiness)\n"
	           "  --daemon     accept jobs on the control socket (--control EP; ipc://\n"
	           "               sockets live in an owner-only directory) and run until\n"
	           "               SIGTERM/SIGINT; the targets of the command line, if\n"
	           "               any, are its first job. 'cp-planner ctl --help' for the client\n"
	           "Times without an offset are UTC.\n"
	           "exit: 0 all covered, 1 not all covered, 2 usage, 3 permanent, 4 temporary\n");
}

static int
opt_feature(const char *arg, void *dest)
{
	(void)dest;
	return features_set(arg);
}

static int
opt_features_file(const char *arg, void *dest)
{
	(void)dest;
	return features_load(arg);
}

static int
opt_keygen(const char *arg, void *dest)
{
	(void)dest;
	exit(keys_generate(arg));
}

#define MS_MAX 86400000 /* a day */

/* --daemon's own checks: 1 when they decide (*why: the refusal, or NULL
 * for a daemon without first targets), 0 to go on with the usual ones. */
static int
check_daemon_opts(const struct opts *o, const char **why)
{
	if (o->control == NULL)
		*why = "--daemon needs --control EP";
	else if (o->follow)
		*why = "--daemon does not follow yet (no --follow)";
	else if (o->markets == NULL && o->timeframes == NULL)
		*why = o->db == NULL || o->work == NULL ? "--db and --work are required" : NULL;
	else
		return 0;
	return 1;
}

/* The cross-option checks; 0, or -1 with a message. */
static int
check_opts(const struct opts *o)
{
	const char *why = NULL;

	if (o->daemon && check_daemon_opts(o, &why))
		goto done; /* why: the refusal, or NULL */
	if (o->markets == NULL || o->timeframes == NULL)
		why = "--market and --timeframe are required";
	else if (!o->validate_only && (o->db == NULL || o->work == NULL))
		why = "--db and --work are required";
	else if (o->count > 0 && o->from != NULL)
		why = "--count cannot be combined with --from "
		      "(use --from/--to for a range, or --count [--to] for the latest N)";
	else if (o->follow && o->to != NULL)
		why = "--follow keeps collecting up to now: it takes no --to";
	else if (o->count < 0 && o->from == NULL)
		why = "give --from (with or without --to) or --count";
done:
	if (why != NULL) {
		fprintf(stderr, "cp-planner: %s\n", why);
		return -1;
	}
	return 0;
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	const struct opt table[] = {
		{ "db", 0, OPT_STR, &o->db, 0, 0, 0, NULL },
		{ "work", 0, OPT_STR, &o->work, 0, 0, 0, NULL },
		{ "events", 0, OPT_STR, &o->events, 0, 0, 0, NULL },
		{ "monitor", 0, OPT_STR, &o->monitor, 0, 0, 0, NULL },
		{ "market", 0, OPT_STR, &o->markets, 0, 0, 0, NULL },
		{ "timeframe", 0, OPT_STR, &o->timeframes, 0, 0, 0, NULL },
		{ "from", 0, OPT_STR, &o->from, 0, 0, 0, NULL },
		{ "to", 0, OPT_STR, &o->to, 0, 0, 0, NULL },
		{ "count", 0, OPT_I64, &o->count, 1, 100000000, 0, NULL },
		{ "rate", 0, OPT_NUM, &o->rate, 0, 10000, 0, NULL },
		{ "quiet", 0, OPT_SET, &o->quiet, 0, 0, 1, NULL },
		{ "validate", 0, OPT_SET, &o->validate_only, 0, 0, 1, NULL },
		{ "verbose", 'v', OPT_SET, &o->verbose, 0, 0, 1, NULL },
		{ "feature", 0, OPT_FN, NULL, 0, 0, 0, opt_feature },
		{ "features", 0, OPT_FN, NULL, 0, 0, 0, opt_features_file },
		{ "hedge-after-ms", 0, OPT_I64, &o->hedge_after_ms, 0, MS_MAX, 0, NULL },
		{ "guard-epoch-ms", 0, OPT_I64, &o->guard_epoch_ms, 0, MS_MAX, 0, NULL },
		{ "guard-after-ms", 0, OPT_I64, &o->guard_after_ms, 0, MS_MAX, 0, NULL },
		{ "follow", 0, OPT_SET, &o->follow, 0, 0, 1, NULL },
		{ "curve-server", 0, OPT_STR, &o->curve.server_key_file, 0, 0, 0, NULL },
		{ "curve-allow", 0, OPT_STR, &o->curve_allow, 0, 0, 0, NULL },
		{ "keygen", 0, OPT_FN, NULL, 0, 0, 0, opt_keygen },
		{ "follow-delay-ms", 0, OPT_I64, &o->follow_delay_ms, 0, MS_MAX, 0, NULL },
		{ "notify-fd", 0, OPT_INT, &o->notify_fd, PROC_NOTIFY_FD_MIN, PROC_NOTIFY_FD_MAX, 0,
		  NULL },
		{ "daemon", 0, OPT_SET, &o->daemon, 0, 0, 1, NULL },
		{ "control", 0, OPT_STR, &o->control, 0, 0, 0, NULL },
		{ "help", 'h', OPT_HELP, NULL, 0, 0, 0, NULL },
		{ NULL, 0, OPT_END, NULL, 0, 0, 0, NULL },
	};

	memset(o, 0, sizeof(*o));
	o->rate = 10;
	o->count = -1;
	o->hedge_after_ms = -1;
	o->guard_epoch_ms = 10000;
	o->guard_after_ms = 30000;
	o->follow_delay_ms = 1000;
	o->notify_fd = -1;
	features_init();
	if (opts_parse("cp-planner", argc, argv, table, usage) == -1)
		return -1;
	return check_opts(o);
}

/* Resolves the requested [from, to) of one timeframe; -1 with a message. */
static int
resolve_range(const struct opts *o, enum tf tf, int64_t now, int64_t *from, int64_t *to)
{
	int64_t t, open = tf_floor(tf, now);

	if (o->to != NULL) {
		if (time_parse(o->to, &t) == -1) {
			fprintf(
			    stderr,
			    "cp-planner: bad --to '%s' (want ISO 8601, e.g. 2026-01-31T00:00:00Z)\n",
			    o->to);
			return -1;
		}
		*to = tf_ceil(tf, t); /* candles starting before --to */
		if (*to > open)
			*to = open; /* never the candle still forming */
	} else {
		*to = open;
	}
	if (o->from != NULL) {
		if (time_parse(o->from, &t) == -1) {
			fprintf(
			    stderr,
			    "cp-planner: bad --from '%s' (want ISO 8601, e.g. 2026-01-01T00:00:00Z)\n",
			    o->from);
			return -1;
		}
		if (o->to != NULL) {
			int64_t tt;
			(void)time_parse(o->to, &tt);
			if (t >= tt) {
				fprintf(stderr, "cp-planner: --from must be earlier than --to\n");
				return -1;
			}
		}
		if (t < 0) {
			fprintf(stderr, "cp-planner: --from before 1970 is not supported\n");
			return -1;
		}
		*from = tf_ceil(tf, t);
	} else {
		*from = tf_add(tf, *to, -o->count);
		if (*from < 0)
			*from = 0;
	}
	if (*from > *to)
		*from = *to;
	return 0;
}

/* A market code like KRW-BTC; 0, or -1 with a message. */
static int
check_market(const char *m)
{
	size_t len = strlen(m);

	if (len < 3 || len >= MARKET_MAX || strchr(m, '-') == NULL ||
	    strspn(m, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != len) {
		fprintf(stderr, "cp-planner: bad market code '%s' (like KRW-BTC)\n", m);
		return -1;
	}
	return 0;
}

/* Adds [from, to) of every market for one timeframe, with what the ledger
 * of db already covers (db NULL: nothing yet, or --validate). */
static int
add_markets(const struct opts *o, const struct ledger_src *db, enum tf tf, int64_t from, int64_t to)
{
	char *markets = strdup(o->markets), *m, *sm = NULL;
	int rc = 0;

	if (markets == NULL)
		fatalx(EXIT_TEMPFAIL, "out of memory");
	for (m = strtok_r(markets, ",", &sm); m != NULL; m = strtok_r(NULL, ",", &sm)) {
		struct range_list cov = { 0 };
		if ((rc = check_market(m)) == -1)
			break;
		if (o->validate_only)
			continue;
		if (db != NULL && ledger_src_covered(db, m, tf_name(tf), from, to, &cov) == -1)
			fatalx(EXIT_TEMPFAIL, "cannot read the coverage ledger of %s", o->db);
		/* around the ranges another collector claims (claims.c) */
		if (o->daemon)
			job_add_target(&jobs, &plan, m, tf, from, to, &cov);
		else
			claims_add_target(&plan, m, tf, from, to, &cov, NULL);
		range_list_free(&cov);
	}
	free(markets);
	return rc;
}

/* One timeframe of --timeframe: its range and its markets. */
static int
add_timeframe(const struct opts *o, const struct ledger_src *db, const char *name, int64_t now)
{
	enum tf tf;
	int64_t from, to;

	if (tf_parse(name, &tf) == -1) {
		fprintf(stderr,
		        "cp-planner: unknown timeframe '%s' (one of 1s 1m 3m 5m 10m 15m 30m 1h 4h "
		        "1d 1w 1M 1y)\n",
		        name);
		return -1;
	}
	if (resolve_range(o, tf, now, &from, &to) == -1)
		return -1;
	return add_markets(o, db, tf, from, to);
}

/* Checks the lists and ranges and, unless --validate, adds the targets to
 * the plan. 0, or -1 with a message. */
static int
build_targets(const struct opts *o, const struct ledger_src *db)
{
	char *tfs = strdup(o->timeframes), *tfn, *st = NULL;
	int64_t now = time_now();
	int rc = 0;

	if (tfs == NULL)
		fatalx(EXIT_TEMPFAIL, "out of memory");
	for (tfn = strtok_r(tfs, ",", &st); tfn != NULL && rc == 0; tfn = strtok_r(NULL, ",", &st))
		rc = add_timeframe(o, db, tfn, now);
	free(tfs);
	return rc;
}

static int
find_budget(const char *source)
{
	return budget_find(budgets, nbudgets, source);
}

static struct fetcher *
fetcher_for(const unsigned char *ident, size_t len)
{
	for (int i = 0; i < nfetchers; i++)
		if (fetchers[i].ident_len == len && memcmp(fetchers[i].ident, ident, len) == 0)
			return &fetchers[i];
	return NULL;
}

static void
on_ready(const unsigned char *ident, size_t ilen, const struct msg_ready *r, const struct opts *o,
         int64_t now)
{
	struct fetcher *f = fetcher_for(ident, ilen);
	int b;

	if (f == NULL) {
		if (nfetchers == FETCHERS_MAX || ilen > IDENT_MAX) {
			log_warnx("too many fetchers; ignoring one");
			return;
		}
		b = budget_lookup(budgets, &nbudgets, r->source, o->rate);
		if (b == -1) {
			/* sharing another source's budget would pass Upbit's limit */
			log_warnx("too many source addresses (at most %d): ignoring the fetcher "
			          "of source %s",
			          BUDGET_SOURCES_MAX, r->source);
			return;
		}
		f = &fetchers[nfetchers++];
		memset(f, 0, sizeof(*f));
		memcpy(f->ident, ident, ilen);
		f->ident_len = ilen;
		/* leases it saw before we (re)started are not ours to count */
		f->leases_sent = r->leases_seen;
		f->source = b;
		log_info("fetcher joined (source %s)", r->source);
	}
	log_debug("ready: free %u seen %u", r->free_slots, r->leases_seen);
	f->free_slots = r->free_slots;
	f->leases_seen = r->leases_seen;
	f->last_seen_ms = now;
}

static int64_t
credits(const struct fetcher *f)
{
	int64_t unseen = (int64_t)f->leases_sent - (int64_t)f->leases_seen;
	return f->free_slots - (unseen > 0 ? unseen : 0);
}

/* The "leased" event: the LEASE with the times only the monitor reads. */
static void
publish_leased(const struct chunk_info *ci, int64_t planned_ms, int64_t leased_ms)
{
	struct msg_leased_ev e;

	e.ci = *ci;
	e.planned_ms = planned_ms;
	e.leased_ms = leased_ms;
	mbuf.len = 0;
	if (msg_encode_leased_ev(&mbuf, &e) == 0)
		hub_publish(EV_LEASED, mbuf.data, mbuf.len);
}

static void
send_lease(struct fetcher *f, int seg, int64_t now, int64_t send_at)
{
	struct chunk_info *ci;
	uint32_t delay = (uint32_t)(send_at > now ? send_at - now : 0);
	int64_t wall = time_now_ms();
	char to[TIME_TEXT_LEN];

	ci = plan_lease(&plan, seg, now, wall, delay);
	mbuf.len = 0;
	if (msg_encode_lease(&mbuf, ci) == -1)
		fatalx(EXIT_TEMPFAIL, "cannot encode a lease");
	if (net_send(sock_work, f->ident, f->ident_len, 1) == -1 ||
	    net_send(sock_work, mbuf.data, mbuf.len, 0) == -1) {
		/* the fetcher is gone: the lease expires and is re-issued */
		log_debug("lease to a vanished fetcher dropped");
		f->free_slots = 0;
		return;
	}
	CRASHPOINT("planner_after_lease");
	if (stats.first_lease_ms == 0)
		stats.first_lease_ms = now;
	time_format(ci->to, to);
	log_debug("lease %s %s to=%s count=%u delay=%u ms", ci->market, tf_name(ci->tf), to,
	          ci->count, ci->delay_ms);
	plan_note_source(&plan, seg, f->source);
	job_note_lease(&jobs, plan.s[seg].target);
	f->leases_sent++;
	budget_take(&budgets[f->source], send_at);
	report_note_send(&stats, send_at);
	publish_leased(ci, plan.s[seg].planned_ms, wall);
}

/* Hands out leases while fetchers have credit, segments are ready and
 * tokens are near. Returns the earliest time worth waking up for. */
static int64_t
dispatch(int64_t now)
{
	int64_t wake = now + 100;
	int64_t lookahead = feature_on(FEAT_LOOKAHEAD) ? LOOKAHEAD_MS : 0;

	for (int i = 0; i < nfetchers; i++) {
		struct fetcher *f = &fetchers[i];
		while (credits(f) > 0) {
			int64_t at = budget_next(&budgets[f->source], now);
			int seg;
			if (at - now > lookahead) {
				if (at - lookahead < wake)
					wake = at - lookahead;
				break;
			}
			seg = plan_next_ready(&plan, now);
			/* a token is idle: race an overdue request, or open a segment */
			if (seg == -1 && at - now <= SPLIT_NOW_MS && feature_on(FEAT_HEDGE))
				seg = plan_hedge(&plan, now, hedge_after_ms);
			if (seg == -1 && at - now <= SPLIT_NOW_MS && feature_on(FEAT_SPLIT))
				seg = plan_split(&plan);
			if (seg == -1) {
				if (at > now && at < wake)
					wake = at;
				break;
			}
			send_lease(f, seg, now, at);
		}
	}
	return wake;
}

static void
on_failed(const struct msg_failed *m, int64_t now)
{
	int b = find_budget(m->source);
	enum fail_action a;
	char to[TIME_TEXT_LEN];

	if (b >= 0 && m->kind == FAIL_RATE_429) {
		stats.n429++;
		budget_on_429(&budgets[b], now);
		log_warnx("429 from source %s: slowing down to %.1f requests/s", m->source,
		          budget_rate_now(&budgets[b], now));
	} else if (b >= 0 && m->kind == FAIL_TEMP_NET) {
		/* libcurl re-sends a request whose reused connection died without
		 * an answer: that hidden request counts at the server, so it is
		 * charged to the budget like any other */
		int64_t at = budget_next(&budgets[b], now);
		budget_take(&budgets[b], at);
		report_note_send(&stats, at);
	} else if (b >= 0 && m->kind == FAIL_BLOCKED_418) {
		int64_t len = budget_on_418(&budgets[b], now, m->retry_after_ms);
		stats.n418++;
		log_warnx("418 from source %s: blocked; no request leaves it for %lld s", m->source,
		          (long long)(len / 1000));
	}
	a = plan_on_failed(&plan, m, now, (uint32_t)random());
	if (a == FA_RELEASED) {
		log_debug("%s %s: leased again (%s)", m->ci.market, tf_name(m->ci.tf), m->reason);
		return;
	}
	mbuf.len = 0;
	if (msg_encode_failed(&mbuf, m) == 0)
		hub_publish(a == FA_RETRY ? EV_RETRY : EV_FAILED, mbuf.data, mbuf.len);
	time_format(m->ci.to, to);
	if (a == FA_PERMANENT)
		log_warnx("%s %s: %s", m->ci.market, tf_name(m->ci.tf), m->reason);
	else if (a == FA_DELISTED)
		log_warnx("%s: %s: what was collected stays; its other ranges are not "
		          "collected%s",
		          m->ci.market, PLAN_DELISTED,
		          follow_active() ? " (no longer followed)" : "");
	else if (a == FA_GAVE_UP)
		log_warnx("%s %s: giving up on the range below %s: %s", m->ci.market,
		          tf_name(m->ci.tf), to, m->reason);
	else if (a == FA_RETRY)
		log_debug("%s %s: retrying (%s)", m->ci.market, tf_name(m->ci.tf),
		          fail_kind_names[m->kind]);
}

/* A commit before the plan takes it: Remaining-Req goes to the budget of
 * the source that made the request, and no other. */
static void
on_committed(const struct msg_committed *c)
{
	int b = plan_source_of(&plan, &c->ci);
	char to[TIME_TEXT_LEN];

	if (c->ci.remaining_req >= 0 && b >= 0 && b < nbudgets)
		budget_on_remaining(&budgets[b], c->ci.remaining_req);
	time_format(c->ci.to, to);
	log_debug("committed %s %s to=%s received=%u", c->ci.market, tf_name(c->ci.tf), to,
	          c->ci.received);
}

static void
on_message(const unsigned char *ident, size_t ilen, const void *data, size_t len,
           const struct opts *o, int64_t now)
{
	union {
		struct msg_ready r;
		struct msg_failed f;
		struct msg_committed c;
	} u;
	int type = msg_peek_type(data, len);

	if (net_refuse_other_version(sock_work, ident, ilen, data, len, "planner"))
		return;
	switch (type) {
	case MSG_READY:
		if (msg_decode_ready(data, len, &u.r) == 0)
			on_ready(ident, ilen, &u.r, o, now);
		else
			log_warnx("malformed READY dropped");
		break;
	case MSG_FAILED:
		if (msg_decode_failed(data, len, &u.f) == 0)
			on_failed(&u.f, now);
		else
			log_warnx("malformed FAILED dropped");
		break;
	case MSG_COMMITTED:
		if (msg_decode_committed(data, len, &u.c) == 0) {
			on_committed(&u.c);
			if (plan_on_committed(&plan, &u.c)) {
				stats.last_commit_ms = now;
				follow_note(&u.c.ci);
			}
		} else {
			log_warnx("malformed COMMITTED dropped");
		}
		break;
	default: log_warnx("unexpected message (type %d, %zu bytes) dropped", type, len);
	}
}

/* Handles every message waiting on the work socket. A ROUTER delivers the
 * sender's identity, then the message: one frame, or more to drop. */
static void
drain_work(const struct opts *o)
{
	for (;;) {
		struct net_msg m;
		const void *id, *body;
		size_t ilen, len;
		int n = net_recv_next(sock_work, &m, "work socket");

		if (n == 0)
			return;
		if (n == 2) {
			id = net_frame(&m, 0, &ilen);
			body = net_frame(&m, 1, &len);
			on_message(id, ilen, body, len, o, time_mono_ms());
		} else {
			log_warnx("message with extra frames dropped");
		}
		net_msg_close(&m);
	}
}

static void
forget_silent_fetchers(int64_t now)
{
	for (int i = 0; i < nfetchers;) {
		if (now - fetchers[i].last_seen_ms > FETCHER_SILENT_MS) {
			log_info("fetcher (source %s) went silent; its leases will expire",
			         budgets[fetchers[i].source].source);
			fetchers[i] = fetchers[--nfetchers];
			continue;
		}
		i++;
	}
}

/* The "progress" event, once a second and at the end. */
static void
publish_progress(int64_t now, int finished)
{
	progress_publish(&plan, &stats, budgets, nbudgets, rate_limit, now, finished);
}

/* A --count window of timeframe tf that starts after now: the N intervals
 * before --to are all in the future. 0, or -1 with a message. */
static int
check_count_window(const struct opts *o, enum tf tf, int64_t to, int64_t now)
{
	char nows[TIME_TEXT_LEN];

	if (tf_add(tf, tf_ceil(tf, to), -o->count) <= now)
		return 0;
	time_format(now, nows);
	if (o->count == 1)
		fprintf(stderr, "cp-planner: the %s interval before --to %s starts after now (%sZ)",
		        tf_name(tf), o->to, nows);
	else
		fprintf(
		    stderr,
		    "cp-planner: the %lld %s intervals before --to %s all start after now (%sZ)",
		    (long long)o->count, tf_name(tf), o->to, nows);
	fprintf(stderr, ": nothing to collect\n");
	return -1;
}

/* A range wholly in the future is empty: --from after now, or a --count
 * window before a future --to that starts after now. 0, or -1 with a
 * message. Runs after build_targets, so the times and timeframes parse. */
static int
check_future(const struct opts *o, int64_t now)
{
	char *tfs, *tfn, *st = NULL, nows[TIME_TEXT_LEN];
	int64_t t;
	enum tf tf;
	int rc = 0;

	if (o->from != NULL) {
		if (time_parse(o->from, &t) == -1 || t <= now)
			return 0;
		time_format(now, nows);
		fprintf(stderr,
		        "cp-planner: --from %s is in the future (now is %sZ): nothing to collect\n",
		        o->from, nows);
		return -1;
	}
	if (o->to == NULL || time_parse(o->to, &t) == -1 || t <= now)
		return 0;
	if ((tfs = strdup(o->timeframes)) == NULL)
		fatalx(EXIT_TEMPFAIL, "out of memory");
	for (tfn = strtok_r(tfs, ",", &st); tfn != NULL && rc == 0; tfn = strtok_r(NULL, ",", &st))
		if (tf_parse(tfn, &tf) == 0)
			rc = check_count_window(o, tf, t, now);
	free(tfs);
	return rc;
}

/* --validate: checks the lists and ranges without touching anything. */
static int
validate(const struct opts *o)
{
	int rc;

	if (o->daemon && o->markets == NULL)
		return EXIT_OK; /* a daemon without first targets: nothing to check */
	plan_init(&plan, 1);
	rc = build_targets(o, NULL) == -1 || check_future(o, time_now()) == -1 ? EXIT_USAGE
	                                                                       : EXIT_OK;
	plan_free(&plan);
	return rc;
}

/* One job of o's lists and range, checked with the command line's rules
 * and messages (on stderr), then planned: 0 with its id (a job that cannot
 * read the database is failed), or -1 when o is refused. */
static int
plan_job(struct opts *o, uint32_t *id)
{
	struct job *j;
	struct ledger_src db;
	int code, rc;

	o->validate_only = 1;
	if (build_targets(o, NULL) == -1 || check_future(o, time_now()) == -1)
		return -1;
	o->validate_only = 0;
	j = job_new(&jobs, time_mono_ms());
	*id = j->id;
	job_fire(&jobs, j, JEV_PLAN);
	if (ledger_src_open(o->db, "cp-planner", &db, &code) == -1) {
		snprintf(j->reason, sizeof(j->reason), "cannot use the database %s", o->db);
		job_fire(&jobs, j, JEV_ERROR);
		return 0;
	}
	job_building(&jobs, *id);
	rc = build_targets(o, &db);
	job_building(&jobs, 0);
	ledger_src_close(&db);
	j = job_find(&jobs, *id);
	job_fire(&jobs, j, rc == 0 ? JEV_PLANNED : JEV_ERROR);
	return 0;
}

/* plan_job with its messages captured: a refusal's become err, one line
 * without our name; the log lines of a success go on to stderr. */
static int
submit_captured(struct opts *o, uint32_t *id, char *err, size_t errlen)
{
	FILE *saved = stderr, *mem;
	char *buf = NULL, *p;
	size_t len = 0;
	int rc;

	mem = open_memstream(&buf, &len);
	if (mem == NULL)
		fatalx(EXIT_TEMPFAIL, "out of memory");
	stderr = mem;
	rc = plan_job(o, id);
	stderr = saved;
	/* cppcheck-suppress nullPointerRedundantCheck ; fatalx does not return */
	fclose(mem);
	if (rc == 0) {
		fputs(buf, stderr);
	} else {
		while ((p = strstr(buf, "cp-planner: ")) != NULL)
			memmove(p, p + 12, strlen(p + 12) + 1);
		for (p = buf; *p != '\0'; p++)
			if (*p == '\n')
				*p = p[1] != '\0' ? ';' : '\0';
		snprintf(err, errlen, "%s", *buf != '\0' ? buf : "refused");
	}
	free(buf);
	return rc;
}

/* A SUBMIT of the control socket (ctl_submit_fn). */
static int
on_submit(const struct ctl_submit *r, uint32_t *id, char *err, size_t errlen)
{
	struct opts o = daemon_opts;
	char from[TIME_TEXT_LEN], to[TIME_TEXT_LEN];

	if (r->follow) {
		snprintf(err, errlen, "follow jobs are not done yet");
		return -1;
	}
	if (r->from < 0 || r->to < 0) {
		snprintf(err, errlen, "times before 1970 are not supported");
		return -1;
	}
	time_format(r->from, from);
	time_format(r->to, to);
	o.markets = r->markets;
	o.timeframes = r->timeframes;
	o.from = from;
	o.to = r->to != 0 ? to : NULL;
	o.count = -1;
	return submit_captured(&o, id, err, errlen);
}

/* The follow job of subscription s: its backfill (the s->backfill candles
 * before the one s->added falls in, less what the ledger has), then its
 * target is extended as candles close. 0, or -1 with err. */
static int
follow_job(const struct sub *s, char *err, size_t errlen)
{
	struct opts o = daemon_opts;
	char from[TIME_TEXT_LEN];
	struct job *j;
	uint32_t id;
	enum tf tf;
	int64_t f;

	if (tf_parse(s->tf, &tf) == -1) {
		snprintf(err, errlen, "unknown timeframe '%s'", s->tf);
		return -1;
	}
	f = tf_add(tf, tf_floor(tf, s->added), -s->backfill);
	time_format(f > 0 ? f : 0, from);
	o.markets = s->market;
	o.timeframes = s->tf;
	o.from = from;
	o.to = NULL;
	o.count = -1;
	if (submit_captured(&o, &id, err, errlen) == -1)
		return -1;
	j = job_find(&jobs, id);
	j->follow = 1;
	j->backfill = s->backfill;
	j->added = s->added;
	for (int i = 0; i < j->nown; i++)
		plan.t[j->own[i]].follow = 1;
	log_info("job %u follows %s %s (backfill %lld)", id, s->market, s->tf,
	         (long long)s->backfill);
	return 0;
}

/* subs_load's callback: the daemon follows a stored subscription again. */
static void
follow_stored(const struct sub *s, void *arg)
{
	char err[CTL_ERR_MAX];

	(void)arg;
	if (follow_job(s, err, sizeof(err)) == -1)
		log_warnx("cannot follow %s %s again: %s", s->market, s->tf, err);
}

/* The pair (market, tf) of a request into s, checked; -1 with err. */
static int
follow_pair(const char *market, const char *tfn, struct sub *s, char *err, size_t errlen)
{
	enum tf tf;
	size_t len = strlen(market);

	if (len < 3 || len >= MARKET_MAX || strchr(market, '-') == NULL ||
	    strspn(market, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != len) {
		snprintf(err, errlen, "bad market code '%s' (like KRW-BTC)", market);
		return -1;
	}
	if (tf_parse(tfn, &tf) == -1) {
		snprintf(
		    err, errlen,
		    "unknown timeframe '%s' (one of 1s 1m 3m 5m 10m 15m 30m 1h 4h 1d 1w 1M 1y)",
		    tfn);
		return -1;
	}
	memset(s, 0, sizeof(*s));
	snprintf(s->market, sizeof(s->market), "%s", market);
	snprintf(s->tf, sizeof(s->tf), "%s", tf_name(tf));
	return 0;
}

/* The subscriptions of r, checked, into *out (*n of them, freed by the
 * caller). 0, or -1 with err. */
static int
follow_pairs(const struct ctl_follow *r, struct sub **out, int *n, char *err, size_t errlen)
{
	char markets[CTL_TEXT_MAX], tfs[CTL_TEXT_MAX], *m, *t, *sm = NULL, *st = NULL;
	int rc = 0;

	*out = NULL;
	*n = 0;
	snprintf(markets, sizeof(markets), "%s", r->markets);
	for (m = strtok_r(markets, ",", &sm); m != NULL && rc == 0; m = strtok_r(NULL, ",", &sm)) {
		snprintf(tfs, sizeof(tfs), "%s", r->timeframes);
		for (t = strtok_r(tfs, ",", &st); t != NULL && rc == 0;
		     t = strtok_r(NULL, ",", &st)) {
			struct sub *v = realloc(*out, (size_t)(*n + 1) * sizeof(*v));
			if (v == NULL)
				fatalx(EXIT_TEMPFAIL, "out of memory");
			*out = v;
			rc = follow_pair(m, t, &v[*n], err, errlen);
			(*n)++;
		}
	}
	return rc;
}

/* The backfill of s (added now) that r asks for: its count, or the
 * candles from its from; none by default. */
static void
follow_backfill(const struct ctl_follow *r, struct sub *s, int64_t now)
{
	enum tf tf;

	s->added = now;
	s->backfill = r->backfill > 0 ? r->backfill : 0;
	if (r->from >= 0 && tf_parse(s->tf, &tf) == 0 && r->from < tf_floor(tf, now))
		s->backfill = tf_count(tf, tf_ceil(tf, r->from), tf_floor(tf, now));
}

/* UNFOLLOW: every pair must be followed; then each one's job is cancelled
 * and its row removed. The number removed, or -1 with err. */
static int
unfollow(struct sub *v, int n, char *err, size_t errlen)
{
	int removed = 0;

	for (int i = 0; i < n; i++) {
		enum tf tf;
		(void)tf_parse(v[i].tf, &tf);
		if (job_find_follow(&jobs, &plan, v[i].market, tf) == NULL) {
			snprintf(err, errlen, "%s %s is not followed (./run.sh follow --list)",
			         v[i].market, v[i].tf);
			return -1;
		}
	}
	for (int i = 0; i < n; i++) {
		enum tf tf;
		struct job *j;
		(void)tf_parse(v[i].tf, &tf);
		j = job_find_follow(&jobs, &plan, v[i].market, tf);
		if (subs_remove(daemon_opts.db, v[i].market, v[i].tf, err, errlen) == -1)
			return -1;
		if (job_terminal(j->st))
			j->follow = 0; /* a failed one: no longer a subscription */
		else
			(void)job_cancel(&jobs, &plan, j->id, err, errlen);
		removed++;
	}
	return removed;
}

/* FOLLOW: each pair not followed yet is stored, then followed. The number
 * added, or -1 with err. */
static int
follow_add(const struct ctl_follow *r, struct sub *v, int n, char *err, size_t errlen)
{
	int64_t now = time_now();
	int added = 0;

	for (int i = 0; i < n; i++) {
		enum tf tf;
		(void)tf_parse(v[i].tf, &tf);
		if (job_find_follow(&jobs, &plan, v[i].market, tf) != NULL)
			continue;
		follow_backfill(r, &v[i], now);
		/* stored first: a follow the daemon has is one it follows again */
		if (subs_add(daemon_opts.db, &v[i], err, errlen) == -1 ||
		    follow_job(&v[i], err, errlen) == -1)
			return -1;
		added++;
	}
	return added;
}

/* A FOLLOW or UNFOLLOW of the control socket (ctl_follow_fn). */
static int
on_follow(const struct ctl_follow *r, int remove, char *err, size_t errlen)
{
	struct sub *v;
	int n, rc;

	if (follow_pairs(r, &v, &n, err, errlen) == -1)
		rc = -1;
	else
		rc = remove ? unfollow(v, n, err, errlen) : follow_add(r, v, n, err, errlen);
	free(v);
	return rc;
}

/* --daemon: an empty plan whose follow mode extends only follow jobs, the
 * stored subscriptions followed again, and the command line's targets as
 * a job. */
static int
load_daemon(const struct opts *o)
{
	struct opts first = *o;
	char err[CTL_ERR_MAX];
	uint32_t id;

	daemon_opts = *o;
	plan.follow_marked = 1;
	if (subs_load(o->db, follow_stored, NULL, err, sizeof(err)) == -1)
		log_warnx("%s (no follow is resumed)", err);
	if (o->markets == NULL)
		return 0;
	if (submit_captured(&first, &id, err, sizeof(err)) == -1) {
		fprintf(stderr, "cp-planner: %s\n", err);
		return -1;
	}
	return 0;
}

/* Plans the targets over what the ledger does not prove yet (a missing
 * database proves nothing). 0, or -1 after a usage message. */
static int
load_plan(const struct opts *o)
{
	struct ledger_src db;
	int code, rc;

	srandom((unsigned)(time_now_ms() ^ getpid()));
	plan_init(&plan, (uint32_t)random() ^ (uint32_t)time_now());
	/* a daemon's claims are named by its control socket (one daemon each) */
	claims_open(o->db, plan.run_id, o->daemon ? o->control : NULL);
	if (o->daemon)
		return load_daemon(o);
	if (ledger_src_open(o->db, "cp-planner", &db, &code) == -1)
		fatalx(code, "cannot use %s", o->db);
	rc = build_targets(o, &db);
	ledger_src_close(&db);
	return rc;
}

/* Binds the work socket and, with --events and --monitor, the event hub. */
static void
bind_sockets(void *ctx, const struct opts *o)
{
	const struct net_curve *curve = keys_server(ctx, &o->curve, o->curve_allow);

	sock_work = net_socket(ctx, ZMQ_ROUTER, o->work, 1, curve);
	if (sock_work == NULL)
		fatalx(EXIT_TEMPFAIL, "cannot bind %s", o->work);
	if (o->events == NULL || o->monitor == NULL)
		return;
	hub_open(ctx, o->events, o->monitor, curve);
}

/* --daemon: the control socket, answered from the plan, jobs and budgets. */
static void
open_control(void *ctx, const struct opts *o)
{
	struct ctl_env e = {
		&plan, &jobs, budgets, &nbudgets, stats.start_ms, on_submit, on_follow
	};
	char err[CTL_ERR_MAX];

	if (ctl_open(ctx, o->control, &e, err, sizeof(err)) == -1)
		fatalx(EXIT_PERMFAIL, "%s", err);
	log_info("daemon: control socket %s", o->control);
}

/* When the poll loop last did each periodic job (monotonic ms). */
struct loop_clock {
	int64_t progress, pub, gc, guard_after;
	int tty, quiet;
};

/* Waits for messages until the next lease, retry or deadline is due (at
 * most 100 ms), then handles them and forwards the event hub's traffic. */
static void
poll_once(const struct opts *o, int64_t now, int64_t wake)
{
	zmq_pollitem_t items[4] = { { sock_work, 0, ZMQ_POLLIN, 0 } };
	int n = 1 + hub_poll_items(&items[1]);

	n += ctl_poll_item(&items[n]);
	int64_t wait = wake - now;

	if (wait < 0)
		wait = 0;
	if (wait > 100)
		wait = 100;
	if (zmq_poll(items, n, (long)wait) == -1 && errno != EINTR)
		fatalx(EXIT_TEMPFAIL, "zmq_poll: %s", zmq_strerror(errno));
	drain_work(o);
	ctl_drain();
	hub_forward();
}

/* The periodic jobs: silent fetchers, the guard, progress. */
static void
housekeeping(struct loop_clock *c, int64_t now)
{
	if (now - c->gc >= 500) {
		forget_silent_fetchers(now);
		c->gc = now;
		/* the guard's epochs last seconds: ticking it here keeps
		 * report_sum off the per-message path */
		if (follow_active()) {
			guard_stop();
		} else if (now - stats.start_ms >= c->guard_after) {
			struct totals tt;
			report_sum(&plan, &tt);
			guard_tick(now, tt.slots_done - tt.slots_hit);
		}
	}
	if (now - c->pub >= 1000) {
		publish_progress(now, 0);
		c->pub = now;
	}
	if (!c->quiet && now - c->progress >= (c->tty ? 250 : 2000)) {
		report_progress(&plan, &stats, c->tty, 0);
		c->progress = now;
	}
}

/* The monotonic time the next followed candle is due, if before wake: the
 * loop then wakes on the millisecond instead of up to 100 ms late. */
static int64_t
follow_wake(const struct opts *o, int64_t now, int64_t wake)
{
	int64_t wall = time_now_ms(), due = follow_next_ms(&plan, o->follow_delay_ms, wall);

	if (due != INT64_MAX && now + (due - wall) < wake)
		wake = now + (due - wall);
	return wake;
}

/* 1 while the planner has work: following, serving jobs, or ranges not
 * proven yet (some maybe claimed by another collector). */
static int
has_work(const struct opts *o)
{
	return o->follow || o->daemon || !plan_finished(&plan) || claims_waiting();
}

/* Leases until every range is proven (with --follow: until a signal). */
static void
run(const struct opts *o, struct loop_clock *c)
{
	while (!stop_signal && has_work(o)) {
		int64_t now = time_mono_ms(), wake;

		plan_expire(&plan, now);
		claims_tick(&plan, now);
		if (o->daemon)
			jobs_tick(&jobs, &plan);
		if (o->follow || o->daemon)
			follow_tick(&plan, o->follow_delay_ms);
		wake = dispatch(now);
		if (plan_next_wake(&plan) < wake)
			wake = plan_next_wake(&plan);
		if (o->follow || o->daemon)
			wake = follow_wake(o, now, wake);
		poll_once(o, now, wake);
		housekeeping(c, time_mono_ms());
	}
}

/* The final progress, report and exit code. */
static int
finish(const struct opts *o, const struct loop_clock *c)
{
	int rc;

	publish_progress(time_mono_ms(), 1);
	if (!c->quiet)
		report_progress(&plan, &stats, c->tty, 1);
	if (stop_signal)
		log_info("stopping on signal %d", (int)stop_signal);
	rc = report_final(&plan, &stats, o->db);
	if (plan.impossible > 0 || guard_impossible() > 0)
		log_warnx("impossible events (bugs, each logged when it happened): %llu segment,"
		          " %llu guard",
		          (unsigned long long)plan.impossible,
		          (unsigned long long)guard_impossible());
	if (o->daemon && stop_signal)
		rc = EXIT_OK; /* a daemon's jobs end with it; stopping it is its end */
	if (o->follow) {
		follow_report();
		/* a clean stop of a follower is a success if the backfill was */
		if (follow_active() && stop_signal)
			rc = EXIT_OK;
	}
	return rc;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct loop_clock c = { 0 };
	void *ctx;
	int rc;

	if (argc > 1 && strcmp(argv[1], "ctl") == 0) {
		log_init("planner", 0);
		return ctl_main(argc - 1, argv + 1);
	}
	jobs_init(&jobs);
	if (parse_opts(argc, argv, &o) == -1) {
		/* run.sh names its own help: the user typed its command line */
		const char *hint = getenv("CP_USAGE_HINT");
		fprintf(stderr, "try '%s'\n",
		        hint != NULL && *hint != '\0' ? hint : "cp-planner --help");
		return EXIT_USAGE;
	}
	log_init("planner", o.verbose);
	proc_die_with_parent();
	if (o.validate_only)
		return validate(&o);
	proc_catch_signals(on_signal, NULL);
	if (load_plan(&o) == -1)
		return EXIT_USAGE;
	if ((ctx = net_ctx_new()) == NULL)
		return EXIT_TEMPFAIL;
	bind_sockets(ctx, &o);
	stats.start_ms = time_mono_ms();
	rate_limit = o.rate;
	hedge_after_ms = o.hedge_after_ms;
	guard_init(o.guard_epoch_ms > 0, o.guard_epoch_ms, stats.start_ms);
	c.guard_after = o.guard_after_ms;
	if (o.daemon)
		open_control(ctx, &o);
	c.tty = isatty(STDOUT_FILENO);
	c.quiet = o.quiet;
	log_info("planning %d target%s, %d segment%s to fetch", plan.nt, plan.nt == 1 ? "" : "s",
	         plan.ns, plan.ns == 1 ? "" : "s");
	/* ready: the sockets are bound and there is something to do (a plan
	 * already proven exits without, so nobody starts fetchers for it); a
	 * daemon, once its control socket is bound, with or without work */
	if (has_work(&o))
		proc_notify_ready(o.notify_fd);
	run(&o, &c);
	claims_close();
	rc = finish(&o, &c);
	zmq_close(sock_work);
	ctl_close();
	jobs_free(&jobs);
	hub_close();
	net_zap_stop();
	net_ctx_term(ctx);
	buf_free(&mbuf);
	plan_free(&plan);
	return rc;
}
