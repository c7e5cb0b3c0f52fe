/*
 * writer: the only read-write connection to the database. It receives
 * RESULT messages from the fetchers (ROUTER, bound at --results), writes
 * every result that is immediately available in ONE transaction (candles
 * plus the coverage they prove, see store.c), and only after COMMIT sends
 * one COMMITTED per result to the planner (DEALER to --work) and publishes
 * it as a "committed" event. A result it cannot vouch for (undecodable,
 * wrong version, forming candle, out of range) is dropped with a warning and
 * never acknowledged: the planner's lease expiry re-issues the chunk. A
 * result whose coverage proof does not follow from its candles (check.c) is
 * not written either, and goes back to the planner at once as FAILED. After
 * a crash, re-sent results find their coverage and are acked as duplicates.
 *
 * With --copy-from SRC it serves nobody: it copies another candlepipe
 * database into --db through the same store calls (copy.c) and exits.
 *
 * Exit: 0 on SIGTERM/SIGINT (or a copy done); 2 usage; 3 permanent (lock held, another
 * program's or a newer schema, not a regular file, no such directory,
 * permission denied, a bad --markets-file); 4 temporary (restart me).
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "check.h"
#include "copy.h"
#include "crashpoint.h"
#include "events.h"
#include "exitcodes.h"
#include "fsutil.h"
#include "log.h"
#include "proc.h"
#include "net.h"
#include "opts.h"
#include "proto.h"
#include "store.h"
#include "timeutil.h"

#define BATCH_MAX 64 /* results per transaction */
#define POLL_MS 100  /* signal latency bound */
#define STATS_EVERY_MS 10000
#define DB_FAILURES_MAX 20 /* consecutive failed batches: restart me */
/* A lost PostgreSQL connection: reconnect after 250 ms, doubling to 4 s. */
#define RECONNECT_MIN_MS 250
#define RECONNECT_MAX_MS 4000

struct opts {
	const char *db, *results, *work, *events, *ready_file, *markets_file;
	const char *copy_from;                      /* --copy-from: copy this database, then exit */
	int notify_fd;                              /* --notify-fd: -1 none */
	struct net_curve bind_curve, connect_curve; /* CURVE keys (net.h) */
	const char *curve_allow;                    /* client keys allowed to connect */
	int verbose;
};

/* One received result and what became of it. */
struct slot {
	struct msg_result r;
	enum store_status status;
	struct store_outcome out;
};

static volatile sig_atomic_t stop_signal;

static struct slot slots[BATCH_MAX];
static struct candle candle_bufs[BATCH_MAX][CANDLE_MAX_PER_RESPONSE];
static struct store *store;
static void *ctx, *sock_results, *sock_work, *sock_events;
static struct buf mbuf;
static int db_failures;

static struct {
	uint64_t batches, results, candles, duplicates, rejected, dropped, unacked;
	uint64_t failed_batches, refused;
} stats, stats_logged;

static void
on_signal(int sig)
{
	stop_signal = sig;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: cp-writer --db PATH --results EP --work EP [--events EP]\n"
	           "                 [--ready-file F] [--notify-fd N] [--markets-file F] [-v]\n"
	           "       cp-writer --db PATH --copy-from SRC [-v]\n"
	           "  --db PATH         SQLite database: created if missing (its directory must\n"
	           "                    exist); another program's file is refused, untouched;\n"
	           "                    PATH.lock is held and names our pid\n"
	           "  --db postgresql://...  a PostgreSQL database (URI or libpq keywords): its\n"
	           "                    \"candlepipe\" schema is created if missing; another's\n"
	           "                    is refused; a lost connection is retried\n"
	           "  --results EP      bind a ROUTER here for the fetchers' RESULT messages\n"
	           "  --work EP         the planner's endpoint, for COMMITTED messages\n"
	           "  --events EP       the event hub to publish \"committed\" events to\n"
	           "  --ready-file F    write our pid to F once ready\n"
	           "  --notify-fd N     once ready, write a newline to fd N and close it (s6)\n"
	           "  --markets-file F  upsert the markets of F (the JSON body of Upbit's\n"
	           "                    /v1/market/all) into the markets table at start\n"
	           "  --curve-server F  CURVE key pair of the servers (cp-planner --keygen):\n"
	           "                    encrypts --results, and is the planner's public key\n"
	           "  --curve-client F  CURVE key pair of this process as a client\n"
	           "  --curve-allow F   only clients with a public key in F may connect\n"
	           "  --copy-from SRC   copy the candles, coverage, history starts and markets\n"
	           "                    of SRC (a SQLite file or PostgreSQL, read only) into\n"
	           "                    --db, merged, through the same checks; then exit\n"
	           "                    (idempotent: again, it changes nothing and says so)\n"
	           "  -v                verbose (debug) logging\n"
	           "exit: 0 stopped by signal (or copied), 2 usage, 3 permanent failure,\n"
	           "      4 temporary (a copy: run it again to complete it)\n");
}

/* --curve-server: the servers' key pair, for binding and for the planner. */
static int
set_curve_server(const char *arg, void *dest)
{
	struct opts *o = dest;

	o->bind_curve.server_key_file = arg;
	o->connect_curve.server_key_file = arg;
	return 0;
}

/* --copy-from: --db and a source other than it, no pipeline options. */
static int
check_copy_opts(const struct opts *o)
{
	const char *why = NULL;

	if (o->db == NULL || o->db[0] == '\0' || o->copy_from[0] == '\0')
		why = "--copy-from needs --db and a source";
	else if (strcmp(o->db, o->copy_from) == 0)
		why = "--copy-from and --db name the same database";
	else if (o->results != NULL || o->work != NULL || o->events != NULL ||
	         o->ready_file != NULL || o->notify_fd != -1)
		why =
		    "--copy-from takes no --results, --work, --events, --ready-file or --notify-fd";
	if (why == NULL)
		return 0;
	fprintf(stderr, "cp-writer: %s\n", why);
	usage(stderr);
	return -1;
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	const struct opt table[] = {
		{ .name = "db", .kind = OPT_STR, .dest = &o->db },
		{ .name = "results", .kind = OPT_STR, .dest = &o->results },
		{ .name = "work", .kind = OPT_STR, .dest = &o->work },
		{ .name = "events", .kind = OPT_STR, .dest = &o->events },
		{ .name = "ready-file", .kind = OPT_STR, .dest = &o->ready_file },
		{ .name = "notify-fd",
		  .kind = OPT_INT,
		  .dest = &o->notify_fd,
		  .min = PROC_NOTIFY_FD_MIN,
		  .max = PROC_NOTIFY_FD_MAX },
		{ .name = "markets-file", .kind = OPT_STR, .dest = &o->markets_file },
		{ .name = "copy-from", .kind = OPT_STR, .dest = &o->copy_from },
		{ .name = "curve-server", .kind = OPT_FN, .dest = o, .fn = set_curve_server },
		{ .name = "curve-client",
		  .kind = OPT_STR,
		  .dest = &o->connect_curve.client_key_file },
		{ .name = "curve-allow", .kind = OPT_STR, .dest = &o->curve_allow },
		{ .name = "verbose",
		  .short_name = 'v',
		  .kind = OPT_SET,
		  .dest = &o->verbose,
		  .value = 1 },
		{ .name = "help", .short_name = 'h', .kind = OPT_HELP },
		{ .kind = OPT_END },
	};

	memset(o, 0, sizeof(*o));
	o->notify_fd = -1;
	if (opts_parse("cp-writer", argc, argv, table, usage) == -1) {
		usage(stderr);
		return -1;
	}
	if (o->copy_from != NULL)
		return check_copy_opts(o);
	if (o->db == NULL || o->results == NULL || o->work == NULL || o->db[0] == '\0' ||
	    o->results[0] == '\0' || o->work[0] == '\0') {
		fprintf(stderr, "cp-writer: --db, --results and --work are required\n");
		usage(stderr);
		return -1;
	}
	return 0;
}

/* Writes our pid to path (common/fsutil: atomic, durable). 0 or -1. */
static int
write_ready_file(const char *path)
{
	char text[32], err[FS_ERR_MAX];

	snprintf(text, sizeof(text), "%ld\n", (long)getpid());
	if (fs_write_file(path, text, strlen(text), 0666, 0, err, sizeof(err)) != FS_OK) {
		/* the reason first: a long path would push it out of the line */
		log_warnx("cannot write the ready file (%s): %s", err, path);
		return -1;
	}
	return 0;
}

enum recv_status { RECV_NONE, RECV_OK, RECV_DROPPED };

/* Receives one message from the results ROUTER without blocking and finds
 * its payload, the last frame: [identity, payload] or, from a REQ-style
 * peer, [identity, "", payload]. RECV_NONE if nothing is waiting (or the
 * socket failed: logged), RECV_DROPPED (logged) for any other shape; with
 * RECV_OK, m holds the frames (net_msg_close). */
static enum recv_status
recv_frames(struct net_msg *m, const void **data, size_t *len)
{
	int n = net_recv_msg(sock_results, ZMQ_DONTWAIT, m);
	size_t mid = 0;

	if (n == 0)
		return RECV_NONE;
	if (n == -1) {
		log_warnx("results socket: %s", m->why);
		net_msg_close(m);
		return m->err == EMSGSIZE ? RECV_DROPPED : RECV_NONE;
	}
	if (n == 3)
		(void)net_frame(m, 1, &mid);
	if (n < 2 || n > 3 || mid != 0) {
		log_warnx("message of %d frames on the results socket dropped", n);
		net_msg_close(m);
		return RECV_DROPPED;
	}
	*data = net_frame(m, n - 1, len);
	return RECV_OK;
}

/* Decodes a RESULT payload into r (r->candles must point at a full
 * buffer); anything else is dropped with a warning. */
static enum recv_status
decode_result(const void *data, size_t len, struct msg_result *r)
{
	int type = msg_peek_type(data, len);

	if (type == MSG_RESULT && msg_decode_result(data, len, r) == 0)
		return RECV_OK;
	if (type == MSG_RESULT)
		log_warnx("malformed RESULT (%zu bytes) dropped", len);
	else if (type > 0 && type < MSG_TYPE_END)
		log_warnx("unexpected %s message on the results socket dropped",
		          msg_type_names[type]);
	else
		log_warnx("malformed message (%zu bytes, too long, wrong version or type)"
		          " on the results socket dropped",
		          len);
	return RECV_DROPPED;
}

/* Receives and decodes one message from the results socket into r. */
static enum recv_status
recv_result(struct msg_result *r)
{
	struct net_msg m;
	const void *data;
	size_t len;
	enum recv_status st = recv_frames(&m, &data, &len);

	if (st == RECV_OK) {
		st = decode_result(data, len, r);
		net_msg_close(&m);
	}
	return st;
}

/* The planner does not talk to us today; drain whatever it sends so the
 * pipe never fills, and say so. */
static void
drain_work(void)
{
	for (int i = 0; i < BATCH_MAX; i++) {
		struct net_msg m;
		size_t len;
		int n = net_recv_next(sock_work, &m, "work socket");

		if (n == 0)
			return;
		(void)net_frame(&m, 0, &len);
		if (n == 1)
			log_debug("ignoring a %zu-byte frame from the planner", len);
		else
			log_debug("ignoring a message of %d frames from the planner", n);
		net_msg_close(&m);
	}
}

/* The "committed" event: the COMMITTED with its wall clock time, which
 * only the monitor reads. */
static void
publish_committed(const struct msg_committed *c, int64_t now_ms)
{
	struct msg_committed_ev e;

	if (sock_events == NULL)
		return;
	e.ci = c->ci;
	e.bytes = c->bytes;
	e.new_candles = c->new_candles;
	e.duplicate = c->duplicate;
	e.committed_ms = now_ms;
	mbuf.len = 0;
	if (msg_encode_committed_ev(&mbuf, &e) == 0)
		net_event(sock_events, EV_COMMITTED, mbuf.data, mbuf.len);
}

/* After COMMIT: one COMMITTED per written result to the planner, and a
 * "committed" event. */
static void
ack(struct slot *s, int64_t now_ms)
{
	struct msg_committed c;

	memset(&c, 0, sizeof(c));
	c.ci = s->r.ci;
	c.bytes = s->r.bytes;
	c.new_candles = s->out.new_candles;
	c.duplicate = s->out.duplicate;
	mbuf.len = 0;
	/* Unsent (out of memory, or the planner's pipe is full): the lease
	 * expires and the re-issued result is a duplicate. */
	if (msg_encode_committed(&mbuf, &c) == -1) {
		stats.unacked++;
		log_warnx("COMMITTED of chunk %llu not encoded", (unsigned long long)c.ci.id);
		return;
	}
	if (net_send(sock_work, mbuf.data, mbuf.len, 0) == -1) {
		stats.unacked++;
		log_warnx("COMMITTED of chunk %llu not sent to the planner",
		          (unsigned long long)c.ci.id);
	}
	/* the data is in the database either way: the monitor counts it */
	publish_committed(&c, now_ms);
}

/* Orders results by (market, timeframe, to): rows then go into the B-tree
 * in ascending key order, which keeps its pages full. */
static int
slot_cmp(const void *a, const void *b)
{
	const struct chunk_info *x = &((const struct slot *)a)->r.ci;
	const struct chunk_info *y = &((const struct slot *)b)->r.ci;
	int c = strncmp(x->market, y->market, MARKET_MAX);

	if (c != 0)
		return c;
	if (x->tf != y->tf)
		return x->tf < y->tf ? -1 : 1;
	return (x->to > y->to) - (x->to < y->to);
}

/* Writes slots[0..n) in one transaction: 0, or -1 (rolled back). */
static int
commit_once(int n)
{
	int64_t now = time_now();
	int i;

	if (store_begin(store) == -1)
		return -1;
	CRASHPOINT("writer_after_begin");
	for (i = 0; i < n; i++) {
		slots[i].status = store_put_result(store, &slots[i].r, now, &slots[i].out);
		if (slots[i].status == STORE_ERROR)
			break;
	}
	if (i < n || store_commit(store) == -1) {
		store_rollback(store);
		return -1;
	}
	CRASHPOINT("writer_after_commit");
	return 0;
}

/* Sleeps ms milliseconds, or less when a signal comes. */
static void
sleep_ms(int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Connects to the database again, waiting 250 ms doubling to 4 s between
 * attempts, until it works (0) or a signal comes (-1). A permanent refusal
 * (the database gone, no longer ours, the role's rights) ends the writer. */
static int
reconnect(void)
{
	struct store_err err;
	int64_t delay = RECONNECT_MIN_MS;

	while (!stop_signal) {
		log_warnx("database connection lost; reconnecting in %lld ms", (long long)delay);
		sleep_ms(delay);
		if (stop_signal)
			break;
		if (store_reconnect(store, &err) == 0)
			return 0;
		if (err.code == EXIT_PERMFAIL)
			fatalx(EXIT_PERMFAIL, "%s", err.msg);
		log_warnx("%s", err.msg);
		delay = delay * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : delay * 2;
	}
	return -1;
}

/* commit_once; after a lost connection (also during COMMIT, which may have
 * committed) reconnects and writes the whole batch again: the retry of a
 * committed batch inserts nothing and finds its ranges covered. */
static int
commit_batch(int n)
{
	while (commit_once(n) == -1) {
		if (!store_conn_lost(store) || reconnect() == -1)
			return -1;
	}
	return 0;
}

/* Writes slots[0..n) in one transaction and acknowledges them after COMMIT.
 * On any database failure nothing is acknowledged. */
static void
write_batch(int n)
{
	int64_t now_ms;
	int i;

	qsort(slots, (size_t)n, sizeof(slots[0]), slot_cmp);
	if (commit_batch(n) == -1) {
		stats.failed_batches++;
		log_warnx("batch of %d results not committed; their leases will be re-issued", n);
		if (++db_failures >= DB_FAILURES_MAX)
			fatalx(EXIT_TEMPFAIL, "%d batches in a row failed to commit", db_failures);
		return;
	}
	db_failures = 0;
	stats.batches++;
	now_ms = time_now_ms();
	for (i = 0; i < n; i++) {
		if (slots[i].status != STORE_OK) {
			stats.rejected++;
			continue;
		}
		stats.results++;
		stats.candles += slots[i].out.new_candles;
		stats.duplicates += slots[i].out.duplicate;
		log_debug("chunk %llu %s: %u new candles%s", (unsigned long long)slots[i].r.ci.id,
		          slots[i].r.ci.market, slots[i].out.new_candles,
		          slots[i].out.duplicate ? " (duplicate)" : "");
		ack(&slots[i], now_ms);
	}
}

static void
log_stats(int force)
{
	if (!force && memcmp(&stats, &stats_logged, sizeof(stats)) == 0)
		return;
	log_info("%llu results committed (%llu duplicates), %llu new candles, "
	         "%llu rejected, %llu dropped, %llu unacked, %llu failed batches, %llu refused",
	         (unsigned long long)stats.results, (unsigned long long)stats.duplicates,
	         (unsigned long long)stats.candles, (unsigned long long)stats.rejected,
	         (unsigned long long)stats.dropped, (unsigned long long)stats.unacked,
	         (unsigned long long)stats.failed_batches, (unsigned long long)stats.refused);
	stats_logged = stats;
}

/* Creates the context and the sockets: EXIT_OK or the exit code. A NULL
 * context (out of memory or descriptors) fails at the first socket. */
static int
open_sockets(const struct opts *o)
{
	const struct net_curve *server = o->bind_curve.server_key_file ? &o->bind_curve : NULL;
	const struct net_curve *client =
	    o->connect_curve.server_key_file ? &o->connect_curve : NULL;

	if ((ctx = net_ctx_new()) == NULL)
		return EXIT_TEMPFAIL;
	if (server != NULL && (o->curve_allow == NULL || net_zap_start(ctx, o->curve_allow) == -1))
		fatalx(EXIT_PERMFAIL, "CURVE needs a usable --curve-allow file");
	sock_results = net_socket(ctx, ZMQ_ROUTER, o->results, 1, server);
	if (sock_results == NULL)
		return EXIT_TEMPFAIL;
	sock_work = net_socket(ctx, ZMQ_DEALER, o->work, 0, client);
	if (sock_work == NULL)
		return EXIT_PERMFAIL;
	if (o->events != NULL) {
		sock_events = net_events_open(ctx, o->events, client);
		if (sock_events == NULL)
			log_warnx("events to %s disabled", o->events);
	}
	return EXIT_OK;
}

static void
close_sockets(void)
{
	if (sock_events != NULL)
		zmq_close(sock_events);
	if (sock_work != NULL)
		zmq_close(sock_work);
	if (sock_results != NULL)
		zmq_close(sock_results);
	net_zap_stop();
	net_ctx_term(ctx);
}

/* A result whose proof does not follow from its candles is not written:
 * its chunk goes back to the planner as FAILED (check.c). 1 if refused. */
static int
refused(const struct msg_result *r)
{
	struct msg_failed f;
	char why[REASON_MAX];
	enum check_rule rule = check_result(r, why, sizeof(why));

	if (rule == CHECK_OK)
		return 0;
	stats.refused++;
	check_refusal(r, rule, why, &f);
	mbuf.len = 0;
	if (msg_encode_failed(&mbuf, &f) == -1 || net_send(sock_work, mbuf.data, mbuf.len, 0) == -1)
		log_warnx("FAILED of chunk %llu not sent to the planner; its lease will expire",
		          (unsigned long long)f.ci.id);
	return 1;
}

/* Receives everything available now, bounded (dropped ones count too),
 * and writes it as one batch. */
static void
take_results(void)
{
	int n = 0, tries;

	for (tries = 0; tries < BATCH_MAX; tries++) {
		enum recv_status st = recv_result(&slots[n].r);

		if (st == RECV_NONE)
			break;
		if (st == RECV_DROPPED)
			stats.dropped++;
		else if (!refused(&slots[n].r))
			n++;
	}
	if (n > 0)
		write_batch(n);
}

/* Serves until a signal. zmq_poll fails only with EINTR here (our own
 * sockets, our own context), and the loop condition sees the signal; any
 * other failure is logged and ends the writer (exit 4: restart it). */
static void
serve(void)
{
	int64_t next_stats = time_mono_ms() + STATS_EVERY_MS;

	while (!stop_signal) {
		zmq_pollitem_t items[2] = {
			{ sock_results, 0, ZMQ_POLLIN, 0 },
			{ sock_work, 0, ZMQ_POLLIN, 0 },
		};

		if (zmq_poll(items, 2, POLL_MS) == -1 && zmq_errno() != EINTR)
			fatalx(EXIT_TEMPFAIL, "zmq_poll: %s", zmq_strerror(zmq_errno()));
		if (items[1].revents & ZMQ_POLLIN)
			drain_work();
		if (items[0].revents & ZMQ_POLLIN)
			take_results();
		if (time_mono_ms() >= next_stats) {
			log_stats(0);
			next_stats = time_mono_ms() + STATS_EVERY_MS;
		}
	}
	log_info("stopping on signal %d", (int)stop_signal);
	log_stats(1);
}

/* --markets-file: the market list into the markets table. 0 or -1 (err). */
static int
load_markets(const char *file, struct store_err *err)
{
	long n = store_load_markets(store, file, time_now(), err);

	if (n == -1)
		return -1;
	log_info("%ld markets from %s", n, file);
	return 0;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct store_err err;
	int i, rc;

	if (parse_opts(argc, argv, &o) == -1)
		return EXIT_USAGE;
	log_init("writer", o.verbose);
	proc_die_with_parent();

	proc_catch_signals(on_signal, NULL);

	if (o.copy_from != NULL)
		return copy_run(o.db, o.copy_from, &stop_signal);
	for (i = 0; i < BATCH_MAX; i++)
		slots[i].r.candles = candle_bufs[i];
	store = store_open(o.db, &err);
	if (store == NULL || (o.markets_file != NULL && load_markets(o.markets_file, &err) == -1)) {
		log_warnx("%s", err.msg);
		store_close(&store);
		return err.code;
	}
	if (o.ready_file != NULL)
		unlink(o.ready_file); /* a stale one from a previous run says nothing */

	rc = open_sockets(&o);
	if (rc == EXIT_OK && o.ready_file != NULL && write_ready_file(o.ready_file) == -1)
		rc = EXIT_PERMFAIL;
	if (rc == EXIT_OK) {
		log_info("ready: %s, results at %s, planner at %s", o.db, o.results, o.work);
		proc_notify_ready(o.notify_fd);
		serve();
		if (o.ready_file != NULL)
			unlink(o.ready_file);
	}
	close_sockets();
	store_close(&store);
	buf_free(&mbuf);
	return rc;
}
