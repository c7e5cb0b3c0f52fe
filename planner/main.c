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
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>
#include <zmq.h>

#include "budget.h"
#include "crashpoint.h"
#include "events.h"
#include "flags.h"
#include "ledger.h"
#include "log.h"
#include "proc.h"
#include "net.h"
#include "plan.h"
#include "proto.h"
#include "tf.h"
#include "timeutil.h"

#define FETCHERS_MAX 256
#define SOURCES_MAX 64
#define FETCHER_SILENT_MS 3000
#define LOOKAHEAD_MS 50 /* leases carry tokens at most this far ahead */
#define SPLIT_NOW_MS 5  /* split only when a token is this close */
#define IDENT_MAX 64

enum progress_mode { PROGRESS_AUTO, PROGRESS_QUIET };

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
	char *markets, *timeframes;
	const char *from, *to;
	long long count;
	double rate;
	enum progress_mode progress;
	int validate_only, verbose;
	int64_t hedge_after_ms, guard_epoch_ms, guard_after_ms;
	int follow;
	int64_t follow_delay_ms;
	struct net_curve curve;  /* our key pair: every bound socket is CURVE */
	const char *curve_allow; /* the client keys allowed to connect */
};

static volatile sig_atomic_t stop_signal;

static struct fetcher fetchers[FETCHERS_MAX];
static int nfetchers;
static struct budget budgets[SOURCES_MAX];
static int nbudgets;
static struct plan plan;
static void *sock_work, *sock_xsub, *sock_xpub;
static struct msgbuf mbuf;
static int64_t t_start_ms;
static int64_t t_first_lease_ms, t_last_commit_ms; /* the fetch phase */
static uint64_t n429, n418;
static double rate_limit;
static int64_t hedge_after_ms;

/* Follow mode: how long after its close each new candle was committed. */
#define LAG_RING 1024
static int following; /* the backfill is done */
static int64_t lag_ms[LAG_RING];
static unsigned nlag;
static int64_t lag_worst_ms;

static void
lag_note(const struct chunk_info *ci)
{
	int64_t lag = time_now_ms() - ci->to * 1000;

	if (!following || ci->received == 0 || lag < 0)
		return;
	lag_ms[nlag++ % LAG_RING] = lag;
	if (lag > lag_worst_ms)
		lag_worst_ms = lag;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int64_t
lag_median(void)
{
	int64_t v[LAG_RING];
	unsigned n = nlag < LAG_RING ? nlag : LAG_RING;

	/* cppcheck-suppress knownConditionTrueFalse ; nlag grows in lag_add() */
	if (n == 0)
		return 0;
	memcpy(v, lag_ms, n * sizeof(v[0]));
	qsort(v, n, sizeof(v[0]), cmp_i64);
	return v[n / 2];
}

/* Extends every target whose next slot has closed (and settled). */
static void
follow_tick(int64_t delay_ms)
{
	int64_t now_ms = time_now_ms();

	for (int i = 0; i < plan.nt; i++) {
		struct target *t = &plan.t[i];
		int64_t open = tf_floor(t->tf, now_ms / 1000);
		if (open > t->to && now_ms >= open * 1000 + delay_ms && !t->failed)
			plan_extend(&plan, i, open);
	}
}

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
	           "               5 x the usual API time, at least 1500)\n"
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
	           "Times without an offset are UTC.\n");
}

/* Writes a CURVE key pair as "public=" and "secret=" lines (net.h). */
static int
keygen(const char *path)
{
	char pub[41], sec[41], pubpath[PATH_MAX];
	FILE *f;
	int fd;

	if (zmq_curve_keypair(pub, sec) == -1) {
		fprintf(stderr, "cp-planner: no CURVE support in libzmq: %s\n",
		        zmq_strerror(errno));
		return EXIT_PERMFAIL;
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1 ||
	    (f = fdopen(fd, "w")) == NULL) {
		fprintf(stderr, "cp-planner: cannot create %s: %s\n", path, strerror(errno));
		return EXIT_PERMFAIL;
	}
	fprintf(f, "public=%s\nsecret=%s\n", pub, sec);
	if (fclose(f) != 0)
		return EXIT_PERMFAIL;
	snprintf(pubpath, sizeof(pubpath), "%s.pub", path);
	if ((f = fopen(pubpath, "w")) == NULL) {
		fprintf(stderr, "cp-planner: cannot create %s: %s\n", pubpath, strerror(errno));
		return EXIT_PERMFAIL;
	}
	fprintf(f, "public=%s\n", pub);
	return fclose(f) == 0 ? EXIT_OK : EXIT_PERMFAIL;
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "work", required_argument, NULL, 'w' },
		{ "events", required_argument, NULL, 'e' },
		{ "monitor", required_argument, NULL, 'm' },
		{ "market", required_argument, NULL, 'M' },
		{ "timeframe", required_argument, NULL, 't' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 'T' },
		{ "count", required_argument, NULL, 'c' },
		{ "rate", required_argument, NULL, 'r' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "validate", no_argument, NULL, 'V' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "feature", required_argument, NULL, 'F' },
		{ "features", required_argument, NULL, 'X' },
		{ "hedge-after-ms", required_argument, NULL, 'H' },
		{ "guard-epoch-ms", required_argument, NULL, 'G' },
		{ "guard-after-ms", required_argument, NULL, 'A' },
		{ "follow", no_argument, NULL, 'W' },
		{ "curve-server", required_argument, NULL, 'S' },
		{ "curve-allow", required_argument, NULL, 'L' },
		{ "keygen", required_argument, NULL, 'K' },
		{ "follow-delay-ms", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	char *end;

	memset(o, 0, sizeof(*o));
	o->rate = 10;
	o->count = -1;
	o->hedge_after_ms = -1;
	o->guard_epoch_ms = 10000;
	o->guard_after_ms = 30000;
	o->follow_delay_ms = 1000;
	features_init();
	while ((c = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		switch (c) {
		case 'd': o->db = optarg; break;
		case 'w': o->work = optarg; break;
		case 'e': o->events = optarg; break;
		case 'm': o->monitor = optarg; break;
		case 'M': o->markets = optarg; break;
		case 't': o->timeframes = optarg; break;
		case 'f': o->from = optarg; break;
		case 'T': o->to = optarg; break;
		case 'c':
			errno = 0;
			o->count = strtoll(optarg, &end, 10);
			if (errno || *end || o->count < 1 || o->count > 100000000) {
				fprintf(
				    stderr,
				    "cp-planner: --count must be a whole number from 1 to 100000000, not '%s'\n",
				    optarg);
				return -1;
			}
			break;
		case 'r':
			o->rate = strtod(optarg, &end);
			if (*end || o->rate < 0 || o->rate > 10000) {
				fprintf(stderr, "cp-planner: bad --rate '%s'\n", optarg);
				return -1;
			}
			break;
		case 'q': o->progress = PROGRESS_QUIET; break;
		case 'F':
			if (features_set(optarg) == -1)
				return -1;
			break;
		case 'X':
			if (features_load(optarg) == -1)
				return -1;
			break;
		case 'W': o->follow = 1; break;
		case 'S': o->curve.server_key_file = optarg; break;
		case 'L': o->curve_allow = optarg; break;
		case 'K': exit(keygen(optarg));
		case 'H':
		case 'G':
		case 'D':
		case 'A': {
			long long v;
			errno = 0;
			v = strtoll(optarg, &end, 10);
			if (errno || *end || v < 0 || v > 86400000) {
				fprintf(stderr, "cp-planner: bad milliseconds '%s'\n", optarg);
				return -1;
			}
			if (c == 'H')
				o->hedge_after_ms = v;
			else if (c == 'G')
				o->guard_epoch_ms = v;
			else if (c == 'D')
				o->follow_delay_ms = v;
			else
				o->guard_after_ms = v;
			break;
		}
		case 'V': o->validate_only = 1; break;
		case 'v': o->verbose = 1; break;
		case 'h': usage(stdout); exit(EXIT_OK);
		default: return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "cp-planner: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (o->markets == NULL || o->timeframes == NULL) {
		fprintf(stderr, "cp-planner: --market and --timeframe are required\n");
		return -1;
	}
	if (!o->validate_only && (o->db == NULL || o->work == NULL)) {
		fprintf(stderr, "cp-planner: --db and --work are required\n");
		return -1;
	}
	if (o->count > 0 && o->from != NULL) {
		fprintf(stderr,
		        "cp-planner: --count cannot be combined with --from "
		        "(use --from/--to for a range, or --count [--to] for the latest N)\n");
		return -1;
	}
	if (o->follow && o->to != NULL) {
		fprintf(stderr,
		        "cp-planner: --follow keeps collecting up to now: it takes no --to\n");
		return -1;
	}
	if (o->count < 0 && o->from == NULL) {
		fprintf(stderr, "cp-planner: give --from (with or without --to) or --count\n");
		return -1;
	}
	return 0;
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

/* Checks the lists and ranges; with targets != NULL adds them to the plan. */
static int
build_targets(const struct opts *o, sqlite3 *db)
{
	char *markets = strdup(o->markets), *tfs = strdup(o->timeframes);
	char *m, *sm = NULL, *st = NULL, *tfn;
	int64_t now = time_now();
	int rc = 0;

	if (markets == NULL || tfs == NULL)
		fatalx(EXIT_TEMPFAIL, "out of memory");
	for (tfn = strtok_r(tfs, ",", &st); tfn != NULL && rc == 0;
	     tfn = strtok_r(NULL, ",", &st)) {
		enum tf tf;
		int64_t from, to;
		if (tf_parse(tfn, &tf) == -1) {
			fprintf(
			    stderr,
			    "cp-planner: unknown timeframe '%s' (one of 1s 1m 3m 5m 10m 15m 30m 1h 4h 1d 1w 1M 1y)\n",
			    tfn);
			rc = -1;
			break;
		}
		if (resolve_range(o, tf, now, &from, &to) == -1) {
			rc = -1;
			break;
		}
		strcpy(markets, o->markets);
		sm = NULL;
		for (m = strtok_r(markets, ",", &sm); m != NULL; m = strtok_r(NULL, ",", &sm)) {
			struct range_list cov = { 0 };
			size_t len = strlen(m);
			if (len < 3 || len >= MARKET_MAX || strchr(m, '-') == NULL ||
			    strspn(m, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != len) {
				fprintf(stderr, "cp-planner: bad market code '%s' (like KRW-BTC)\n",
				        m);
				rc = -1;
				break;
			}
			if (db == NULL && o->validate_only)
				continue;
			if (db != NULL && ledger_covered(db, m, tf_name(tf), from, to, &cov) == -1)
				fatalx(EXIT_TEMPFAIL, "cannot read the coverage ledger of %s",
				       o->db);
			plan_add_target(&plan, m, tf, from, to, &cov);
			range_list_free(&cov);
		}
	}
	free(markets);
	free(tfs);
	return rc;
}

static int
find_budget(const char *source)
{
	for (int i = 0; i < nbudgets; i++)
		if (strcmp(budgets[i].source, source) == 0)
			return i;
	if (nbudgets == SOURCES_MAX)
		return 0;
	return -1;
}

static void
publish(const char *topic, const void *data, size_t len)
{
	if (sock_xpub != NULL)
		net_event(sock_xpub, topic, data, len);
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
		f = &fetchers[nfetchers++];
		memset(f, 0, sizeof(*f));
		memcpy(f->ident, ident, ilen);
		f->ident_len = ilen;
		/* leases it saw before we (re)started are not ours to count */
		f->leases_sent = r->leases_seen;
		b = find_budget(r->source);
		if (b == -1) {
			b = nbudgets++;
			budget_init(&budgets[b], r->source, o->rate);
		}
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

static void
send_lease(struct fetcher *f, int seg, int64_t now, int64_t send_at)
{
	struct chunk_info *ci;
	uint32_t delay = (uint32_t)(send_at > now ? send_at - now : 0);

	ci = plan_lease(&plan, seg, now, time_now_ms(), delay);
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
	if (t_first_lease_ms == 0)
		t_first_lease_ms = now;
	log_debug("lease %s %s to=%lld count=%u delay=%u ms", ci->market, tf_name(ci->tf),
	          (long long)ci->to, ci->count, ci->delay_ms);
	f->leases_sent++;
	budget_take(&budgets[f->source], send_at);
	publish(EV_LEASED, mbuf.data, mbuf.len);
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

	if (b >= 0 && m->kind == FAIL_RATE_429) {
		n429++;
		budget_on_429(&budgets[b], now);
		log_warnx("429 from source %s: slowing down to %.1f requests/s", m->source,
		          budget_rate_now(&budgets[b], now));
	} else if (b >= 0 && m->kind == FAIL_TEMP_NET) {
		/* libcurl re-sends a request whose reused connection died without
		 * an answer: that hidden request counts at the server, so it is
		 * charged to the budget like any other */
		budget_take(&budgets[b], budget_next(&budgets[b], now));
	} else if (b >= 0 && m->kind == FAIL_BLOCKED_418) {
		int64_t len = budget_on_418(&budgets[b], now, m->retry_after_ms);
		n418++;
		log_warnx("418 from source %s: blocked; no request leaves it for %lld s", m->source,
		          (long long)(len / 1000));
	}
	a = plan_on_failed(&plan, m, now, (uint32_t)random());
	mbuf.len = 0;
	if (msg_encode_failed(&mbuf, m) == 0)
		publish(a == FA_RETRY ? EV_RETRY : EV_FAILED, mbuf.data, mbuf.len);
	if (a == FA_PERMANENT)
		log_warnx("%s %s: %s", m->ci.market, tf_name(m->ci.tf), m->reason);
	else if (a == FA_GAVE_UP)
		log_warnx("%s %s: giving up on the range below %lld: %s", m->ci.market,
		          tf_name(m->ci.tf), (long long)m->ci.to, m->reason);
	else if (a == FA_RETRY)
		log_debug("%s %s: retrying (%s)", m->ci.market, tf_name(m->ci.tf),
		          fail_kind_names[m->kind]);
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
			if (u.c.ci.remaining_req >= 0) {
				for (int i = 0; i < nbudgets; i++)
					budget_on_remaining(&budgets[i], u.c.ci.remaining_req);
			}
			log_debug("committed %s %s to=%lld received=%u", u.c.ci.market,
			          tf_name(u.c.ci.tf), (long long)u.c.ci.to, u.c.ci.received);
			if (plan_on_committed(&plan, &u.c)) {
				t_last_commit_ms = now;
				lag_note(&u.c.ci);
			}
		} else {
			log_warnx("malformed COMMITTED dropped");
		}
		break;
	default: log_warnx("unexpected message (type %d, %zu bytes) dropped", type, len);
	}
}

static void
drain_work(const struct opts *o)
{
	for (;;) {
		zmq_msg_t id, body;
		int more;
		size_t sz = sizeof(more);
		zmq_msg_init(&id);
		if (zmq_msg_recv(&id, sock_work, ZMQ_DONTWAIT) == -1) {
			zmq_msg_close(&id);
			return;
		}
		zmq_getsockopt(sock_work, ZMQ_RCVMORE, &more, &sz);
		if (!more) {
			zmq_msg_close(&id);
			continue;
		}
		zmq_msg_init(&body);
		zmq_msg_recv(&body, sock_work, 0);
		zmq_getsockopt(sock_work, ZMQ_RCVMORE, &more, &sz);
		if (!more)
			on_message(zmq_msg_data(&id), zmq_msg_size(&id), zmq_msg_data(&body),
			           zmq_msg_size(&body), o, time_mono_ms());
		else
			log_warnx("message with extra frames dropped");
		while (more) { /* discard any extra frames */
			zmq_msg_t x;
			zmq_msg_init(&x);
			zmq_msg_recv(&x, sock_work, 0);
			zmq_msg_close(&x);
			zmq_getsockopt(sock_work, ZMQ_RCVMORE, &more, &sz);
		}
		zmq_msg_close(&body);
		zmq_msg_close(&id);
	}
}

/* Forwards everything waiting on one side of the event hub to the other. */
static void
forward(void *from, void *to)
{
	for (;;) {
		zmq_msg_t m;
		int more;
		size_t sz = sizeof(more);
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, from, ZMQ_DONTWAIT) == -1) {
			zmq_msg_close(&m);
			return;
		}
		zmq_getsockopt(from, ZMQ_RCVMORE, &more, &sz);
		if (zmq_msg_send(&m, to, (more ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) == -1)
			zmq_msg_close(&m);
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

struct totals {
	int64_t slots_total, slots_done, slots_hit;
	uint64_t requests, received, new_candles, retries, bytes;
	int failed_targets;
};

static void
sum_totals(struct totals *s)
{
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < plan.nt; i++) {
		const struct target *t = &plan.t[i];
		s->slots_total += t->slots_total;
		s->slots_done += t->slots_done;
		s->slots_hit += t->slots_hit;
		s->requests += t->requests;
		s->received += t->received;
		s->new_candles += t->new_candles;
		s->retries += t->retries;
		s->bytes += t->bytes;
		s->failed_targets += t->failed;
	}
}

static void
pack_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str_with_body(pk, s, strlen(s));
}

static void
pack_kv(msgpack_packer *pk, const char *k, int64_t v)
{
	pack_str(pk, k);
	msgpack_pack_int64(pk, v);
}

/* The "progress" event (common/events.h), once a second and at the end. */
static void
publish_progress(int64_t now, int finished)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct totals s;

	if (sock_xpub == NULL)
		return;
	sum_totals(&s);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 19);
	pack_kv(&pk, "v", EVENTS_VERSION);
	pack_kv(&pk, "run", plan.run_id);
	pack_kv(&pk, "elapsed_ms", now - t_start_ms);
	pack_kv(&pk, "slots_total", s.slots_total);
	pack_kv(&pk, "slots_done", s.slots_done);
	pack_kv(&pk, "slots_hit", s.slots_hit);
	pack_kv(&pk, "requests", (int64_t)s.requests);
	pack_kv(&pk, "candles", (int64_t)s.received);
	pack_kv(&pk, "new_candles", (int64_t)s.new_candles);
	pack_kv(&pk, "retries", (int64_t)s.retries);
	pack_kv(&pk, "n429", (int64_t)n429);
	pack_kv(&pk, "n418", (int64_t)n418);
	pack_kv(&pk, "bytes", (int64_t)s.bytes);
	pack_kv(&pk, "finished", finished);
	pack_kv(&pk, "analysis_us", plan.analysis_ns / 1000);
	pack_kv(&pk, "chunks_planned", (int64_t)plan.planned);
	pack_str(&pk, "targets");
	msgpack_pack_array(&pk, (size_t)plan.nt);
	for (int i = 0; i < plan.nt; i++) {
		const struct target *t = &plan.t[i];
		msgpack_pack_array(&pk, 9);
		pack_str(&pk, t->market);
		pack_str(&pk, tf_name(t->tf));
		msgpack_pack_int64(&pk, t->slots_total);
		msgpack_pack_int64(&pk, t->slots_done);
		msgpack_pack_int64(&pk, t->slots_hit);
		msgpack_pack_int64(&pk, (int64_t)t->requests);
		msgpack_pack_int64(&pk, (int64_t)t->received);
		msgpack_pack_int64(&pk, t->failed || t->reason[0]);
		pack_str(&pk, t->reason);
	}
	pack_str(&pk, "sources");
	msgpack_pack_array(&pk, (size_t)nbudgets);
	for (int i = 0; i < nbudgets; i++) {
		const struct budget *b = &budgets[i];
		int64_t left = b->blocked_until_ms > now ? b->blocked_until_ms - now : 0;
		msgpack_pack_array(&pk, 7);
		pack_str(&pk, b->source);
		msgpack_pack_double(&pk, budget_rate_now(b, now));
		msgpack_pack_int64(&pk, left);
		msgpack_pack_int64(&pk, (int64_t)b->sent);
		msgpack_pack_int64(&pk, (int64_t)b->n429);
		msgpack_pack_int64(&pk, (int64_t)b->n418);
		msgpack_pack_int64(&pk, b->last_remaining);
	}
	pack_str(&pk, "rate_limit");
	msgpack_pack_double(&pk, rate_limit);
	publish(EV_PROGRESS, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
}

static void
print_progress(int tty, int final)
{
	struct totals s;
	double el = (double)(time_mono_ms() - t_start_ms) / 1000.0;
	double pct, cps, rps;

	sum_totals(&s);
	pct = s.slots_total ? 100.0 * (double)s.slots_done / (double)s.slots_total : 100.0;
	cps = el > 0 ? (double)s.received / el : 0;
	rps = el > 0 ? (double)s.requests / el : 0;
	printf("%scollect: %5.1f%% %lld/%lld slots | %llu candles | %.0f candles/s | "
	       "%.1f req/s | retries %llu | 429 %llu%s",
	       tty ? "\r\033[K" : "", pct, (long long)s.slots_done, (long long)s.slots_total,
	       (unsigned long long)s.received, cps, rps, (unsigned long long)s.retries,
	       (unsigned long long)n429, tty && !final ? "" : "\n");
	fflush(stdout);
}

/* Checks the final state against the ledger. Returns the exit code. */
static int
final_report(const struct opts *o)
{
	int exists, uncovered = 0;
	sqlite3 *db = ledger_open_ro(o->db, &exists);
	struct totals s;
	double el = (double)(time_mono_ms() - t_start_ms) / 1000.0;
	double fetch = (double)(t_last_commit_ms - t_first_lease_ms) / 1000.0;
	char line[4096];
	size_t off = 0;

	line[0] = '\0';
	for (int i = 0; i < plan.nt; i++) {
		const struct target *t = &plan.t[i];
		struct range_list want = { 0 }, cov = { 0 }, miss = { 0 };
		if (t->from >= t->to)
			continue;
		range_list_push(&want, t->from, t->to);
		if (db != NULL)
			ledger_covered(db, t->market, tf_name(t->tf), t->from, t->to, &cov);
		range_subtract(&want, &cov, &miss);
		for (size_t k = 0; k < miss.n; k++) {
			char a[TIME_TEXT_LEN], b[TIME_TEXT_LEN];
			time_format(miss.v[k].from, a);
			time_format(miss.v[k].to, b);
			if (off < sizeof(line) - 200)
				off += (size_t)snprintf(
				    line + off, sizeof(line) - off, "%s%s %s %s..%s%s%s%s",
				    uncovered ? "; " : "", t->market, tf_name(t->tf), a, b,
				    k + 1 == miss.n ? " (" : "",
				    k + 1 == miss.n ? (t->reason[0] ? t->reason : "interrupted")
				                    : "",
				    k + 1 == miss.n ? ")" : "");
			uncovered++;
		}
		range_list_free(&want);
		range_list_free(&cov);
		range_list_free(&miss);
	}
	if (db != NULL)
		sqlite3_close(db);
	sum_totals(&s);
	printf("summary: %d range%s in %.1f s: %llu candles received, %llu new, "
	       "%llu requests (%.1f candles/request), %llu retries, %llu x 429, "
	       "%llu x 418, %.0f candles/s (fetch phase %.2f s), %lld of %lld slots "
	       "already covered\n",
	       plan.nt, plan.nt == 1 ? "" : "s", el, (unsigned long long)s.received,
	       (unsigned long long)s.new_candles, (unsigned long long)s.requests,
	       s.requests ? (double)s.received / (double)s.requests : 0.0,
	       (unsigned long long)s.retries, (unsigned long long)n429, (unsigned long long)n418,
	       fetch > 0 ? (double)s.received / fetch : 0.0, fetch > 0 ? fetch : 0.0,
	       (long long)s.slots_hit, (long long)s.slots_total);
	fflush(stdout);
	if (uncovered) {
		fprintf(stderr, "collect: not covered: %s\n", line);
		return EXIT_FAILED;
	}
	return EXIT_OK;
}

int
main(int argc, char **argv)
{
	struct opts o;
	const struct net_curve *curve;
	void *ctx;
	sqlite3 *db;
	int exists, tty, rc;
	int64_t last_progress = 0, last_pub = 0, last_gc = 0, guard_started;
	struct sigaction sa;

	if (parse_opts(argc, argv, &o) == -1) {
		fprintf(stderr, "try 'cp-planner --help'\n");
		return EXIT_USAGE;
	}
	log_init("planner", o.verbose);
	proc_die_with_parent();
	if (o.validate_only) {
		plan_init(&plan, 1);
		rc = build_targets(&o, NULL) == -1 ? EXIT_USAGE : EXIT_OK;
		plan_free(&plan);
		return rc;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	srandom((unsigned)(time_now_ms() ^ getpid()));

	plan_init(&plan, (uint32_t)random() ^ (uint32_t)time_now());
	db = ledger_open_ro(o.db, &exists);
	if (db == NULL && exists)
		fatalx(EXIT_TEMPFAIL, "cannot open %s", o.db);
	if (build_targets(&o, db) == -1)
		return EXIT_USAGE;
	if (db != NULL)
		sqlite3_close(db);

	ctx = zmq_ctx_new();
	curve = o.curve.server_key_file != NULL ? &o.curve : NULL;
	if (curve != NULL && (o.curve_allow == NULL || net_zap_start(ctx, o.curve_allow) == -1))
		fatalx(EXIT_PERMFAIL, "CURVE needs a usable --curve-allow file");
	sock_work = net_socket(ctx, ZMQ_ROUTER, o.work, 1, curve);
	if (sock_work == NULL)
		fatalx(EXIT_TEMPFAIL, "cannot bind %s", o.work);
	if (o.events != NULL && o.monitor != NULL) {
		sock_xsub = net_socket(ctx, ZMQ_XSUB, o.events, 1, curve);
		sock_xpub = net_socket(ctx, ZMQ_XPUB, o.monitor, 1, curve);
		if (sock_xsub == NULL || sock_xpub == NULL)
			fatalx(EXIT_TEMPFAIL, "cannot bind the event hub");
	}
	t_start_ms = time_mono_ms();
	rate_limit = o.rate;
	hedge_after_ms = o.hedge_after_ms;
	guard_init(o.guard_epoch_ms > 0, o.guard_epoch_ms, t_start_ms);
	guard_started = o.guard_after_ms;
	tty = isatty(STDOUT_FILENO);
	log_info("planning %d target%s, %d segment%s to fetch", plan.nt, plan.nt == 1 ? "" : "s",
	         plan.ns, plan.ns == 1 ? "" : "s");

	while (!stop_signal && (o.follow || !plan_finished(&plan))) {
		zmq_pollitem_t items[3] = {
			{ sock_work, 0, ZMQ_POLLIN, 0 },
			{ sock_xsub, 0, ZMQ_POLLIN, 0 },
			{ sock_xpub, 0, ZMQ_POLLIN, 0 },
		};
		int64_t now = time_mono_ms(), wake, wait;

		plan_expire(&plan, now);
		if (o.follow) {
			if (!following && plan_finished(&plan)) {
				following = 1;
				log_info("backfill done; following %d target%s", plan.nt,
				         plan.nt == 1 ? "" : "s");
			}
			follow_tick(o.follow_delay_ms);
		}
		wake = dispatch(now);
		if (plan_next_wake(&plan) < wake)
			wake = plan_next_wake(&plan);
		wait = wake - now;
		if (wait < 0)
			wait = 0;
		if (wait > 100)
			wait = 100;
		if (zmq_poll(items, sock_xsub ? 3 : 1, (long)wait) == -1 && errno != EINTR)
			fatalx(EXIT_TEMPFAIL, "zmq_poll: %s", zmq_strerror(errno));
		drain_work(&o);
		if (sock_xsub != NULL) {
			forward(sock_xsub, sock_xpub);
			forward(sock_xpub, sock_xsub);
		}
		now = time_mono_ms();
		if (now - last_gc >= 500) {
			forget_silent_fetchers(now);
			last_gc = now;
			/* the guard's epochs last seconds: ticking it here keeps
			 * sum_totals off the per-message path */
			if (now - t_start_ms >= guard_started) {
				struct totals tt;
				sum_totals(&tt);
				guard_tick(now, tt.slots_done - tt.slots_hit);
			}
		}
		if (now - last_pub >= 1000) {
			publish_progress(now, 0);
			last_pub = now;
		}
		if (o.progress != PROGRESS_QUIET && now - last_progress >= (tty ? 250 : 2000)) {
			print_progress(tty, 0);
			last_progress = now;
		}
	}
	publish_progress(time_mono_ms(), 1);
	if (o.progress != PROGRESS_QUIET)
		print_progress(tty, 1);
	if (stop_signal)
		log_info("stopping on signal %d", (int)stop_signal);
	rc = final_report(&o);
	if (o.follow) {
		printf("follow: %u candles stored after their close: lag median %.1f s, "
		       "worst %.1f s\n",
		       nlag, (double)lag_median() / 1000.0, (double)lag_worst_ms / 1000.0);
		fflush(stdout);
		/* a clean stop of a follower is a success if the backfill was */
		if (following && stop_signal)
			rc = EXIT_OK;
	}
	zmq_close(sock_work);
	if (sock_xsub != NULL) {
		zmq_close(sock_xsub);
		zmq_close(sock_xpub);
	}
	net_zap_stop();
	zmq_ctx_term(ctx);
	msgbuf_free(&mbuf);
	plan_free(&plan);
	return rc;
}
