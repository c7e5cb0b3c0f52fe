/*
 * main.c: cp-fetcher, the process that turns leases into HTTP requests.
 *
 * It asks the planner for work with READY (free slots, also the heartbeat),
 * holds each LEASE until its rate token is due (receipt + delay_ms on the
 * monotonic clock), then GETs the chunk from Upbit through http.c, validates
 * the answer with upbit_json.c and sends a RESULT to the writer or a FAILED
 * to the planner. It never retries by itself: retries, back-off and the rate
 * budget belong to the planner. Owns the two DEALER sockets and the event
 * publisher; the lease table (at most max_inflight leases, each with its
 * encoded result while the writer cannot take it) is lease.c's.
 *
 * Exit codes: 0 after SIGTERM/SIGINT; 2 usage; 3 a TLS failure retrying
 * cannot fix (the server's certificate is not trusted: see --cacert);
 * 4 temporary trouble.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "crashpoint.h"
#include "events.h"
#include "exitcodes.h"
#include "http.h"
#include "lease.h"
#include "log.h"
#include "proc.h"
#include "net.h"
#include "opts.h"
#include "proto.h"
#include "sandbox.h"
#include "tf.h"
#include "timeutil.h"
#include "upbit_json.h"

#define TOKEN_LATE_US (TOKEN_LATE_MAX_MS * 1000LL) /* a later token is not used */
#define DEFAULT_API_URL "https://api.upbit.com"
#define DEFAULT_MAX_INFLIGHT 4
#define MAX_INFLIGHT_MAX 64
#define USER_AGENT "candlepipe/0.1"
#define HEARTBEAT_US 1000000LL  /* READY at least this often */
#define POLL_MAX_US 100000LL    /* the loop wakes at least this often */
#define TOKEN_SLEEP_US 2000LL   /* sleep, not poll, this close to a token */
#define SEND_RETRY_US 50000LL   /* held result: retry sending this often */
#define STOP_GRACE_US 3000000LL /* running transfers get this long on stop */
#define URL_MAX 512
#define API_URL_MAX 256

struct opts {
	const char *work, *results, *events, *source_ip, *name, *cacert;
	struct net_curve curve; /* tcp across hosts: CURVE keys (net.h) */
	char api_url[API_URL_MAX];
	int max_inflight;
	int verbose;
};

static volatile sig_atomic_t stop_signal;

static struct opts o;
static const char *source_label;
static void *sock_work, *sock_results, *sock_events;
static struct http *http;
static struct candle *candles; /* parse scratch: CANDLE_MAX_PER_RESPONSE */
static struct buf mbuf;        /* scratch for READY, FAILED and events */
static uint32_t leases_seen;
static int last_free = -1;      /* free_slots last announced */
static uint32_t last_seen_sent; /* leases_seen last announced */
static int64_t next_ready_us, next_send_us;
#define FETCHER_WORK_LINGER_MS 20 /* at exit: time to flush to a live planner */
static int send_blocked;          /* a RESULT could not be handed to zmq */
static int stopping;
static uint64_t n_ok, n_failed, n_dropped;
static uint64_t n_started;
static int64_t late_sum_us, late_max_us; /* transfer start after its token */
static uint64_t n_late_1ms, n_token_late;

static void
on_signal(int sig)
{
	stop_signal = sig;
}

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: cp-fetcher --work EP --results EP [--events EP] [--api-url URL]\n"
	        "                  [--source-ip ADDR] [--max-inflight N] [--name NAME]\n"
	        "                  [--cacert FILE] [-v]\n"
	        "\n"
	        "Takes leases from the planner (--work), fetches the candles from Upbit\n"
	        "and hands the validated results to the writer (--results).\n"
	        "  --events EP        publish events to this hub (lossy)\n"
	        "  --api-url URL      default $UPBIT_API_URL, else " DEFAULT_API_URL "\n"
	        "  --source-ip ADDR   send requests from this local address\n"
	        "  --cacert FILE      verify the server with the CA certificates (PEM) in\n"
	        "                     FILE instead of the system's; an untrusted server\n"
	        "                     certificate ends the fetcher (exit 3)\n"
	        "  --max-inflight N   concurrent transfers (default %d, 1..%d)\n"
	        "  --name NAME        process name in logs (default fetcher)\n"
	        "  --curve-server F   CURVE: the servers' public key (file from\n"
	        "                     cp-planner --keygen); needs --curve-client\n"
	        "  --curve-client F   CURVE: this fetcher's key pair\n"
	        "  -v                 log every chunk\n",
	        DEFAULT_MAX_INFLIGHT, MAX_INFLIGHT_MAX);
}

static const char *api_arg; /* --api-url as given */

static const struct opt optab[] = {
	{ .name = "work", .kind = OPT_STR, .dest = &o.work },
	{ .name = "results", .kind = OPT_STR, .dest = &o.results },
	{ .name = "events", .kind = OPT_STR, .dest = &o.events },
	{ .name = "api-url", .kind = OPT_STR, .dest = &api_arg },
	{ .name = "source-ip", .kind = OPT_STR, .dest = &o.source_ip },
	{ .name = "cacert", .kind = OPT_STR, .dest = &o.cacert },
	{ .name = "max-inflight",
	  .kind = OPT_INT,
	  .dest = &o.max_inflight,
	  .min = 1,
	  .max = MAX_INFLIGHT_MAX },
	{ .name = "name", .kind = OPT_STR, .dest = &o.name },
	{ .name = "curve-server", .kind = OPT_STR, .dest = &o.curve.server_key_file },
	{ .name = "curve-client", .kind = OPT_STR, .dest = &o.curve.client_key_file },
	{ .name = "verbose", .short_name = 'v', .kind = OPT_SET, .dest = &o.verbose, .value = 1 },
	{ .name = "help", .short_name = 'h', .kind = OPT_HELP },
	{ .kind = OPT_END },
};

/* o.api_url: api without trailing slashes; 0 or -1 (said why). */
static int
set_api_url(const char *api)
{
	size_t len;

	if (strncmp(api, "http://", 7) != 0 && strncmp(api, "https://", 8) != 0) {
		fprintf(stderr, "cp-fetcher: --api-url must start with http:// or https://\n");
		return -1;
	}
	len = strlen(api);
	while (len > 0 && api[len - 1] == '/')
		len--;
	if (len >= sizeof(o.api_url)) {
		fprintf(stderr, "cp-fetcher: --api-url too long\n");
		return -1;
	}
	memcpy(o.api_url, api, len);
	o.api_url[len] = '\0';
	return 0;
}

/* --cacert names a file we can read: 0, or -1 (said why). */
static int
check_cacert(void)
{
	FILE *f;

	if (o.cacert == NULL)
		return 0;
	if ((f = fopen(o.cacert, "r")) == NULL) {
		fprintf(stderr, "cp-fetcher: cannot read --cacert %s: %s\n", o.cacert,
		        strerror(errno));
		return -1;
	}
	fclose(f);
	return 0;
}

static int
parse_opts(int argc, char **argv)
{
	const char *env = getenv("UPBIT_API_URL");

	api_arg = env != NULL && *env != '\0' ? env : DEFAULT_API_URL;
	o.max_inflight = DEFAULT_MAX_INFLIGHT;
	o.name = "fetcher";
	if (opts_parse("cp-fetcher", argc, argv, optab, usage) == -1)
		return -1;
	if (o.work == NULL || o.results == NULL) {
		fprintf(stderr, "cp-fetcher: --work and --results are required\n");
		return -1;
	}
	if (set_api_url(api_arg) == -1)
		return -1;
	if (o.source_ip != NULL && (o.source_ip[0] == '\0' || strlen(o.source_ip) >= SOURCE_MAX ||
	                            strpbrk(o.source_ip, " \t!/") != NULL)) {
		fprintf(stderr, "cp-fetcher: bad --source-ip '%s'\n", o.source_ip);
		return -1;
	}
	return check_cacert();
}

/* ms since the request left (monotonic), clamped to the wire type. */
static uint32_t
since_sent_ms(const struct lease *l)
{
	int64_t d = (time_mono_us() - l->sent_us) / 1000;

	if (d < 0)
		return 0;
	return d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

/* The GET of chunk ci into out (cap bytes); 0, or -1 (logged). */
static int
build_url(char *out, size_t cap, const struct chunk_info *ci)
{
	char t[TIME_TEXT_LEN], to[3 * TIME_TEXT_LEN + 1], m[3 * MARKET_MAX + 1];

	time_format(ci->to, t);
	if (http_escape(to, sizeof(to), t) == -1 || http_escape(m, sizeof(m), ci->market) == -1)
		return -1;
	if ((size_t)snprintf(out, cap, "%s/v1/candles/%s?market=%s&count=%u&to=%sZ", o.api_url,
	                     tf_route((enum tf)ci->tf), m, (unsigned)ci->count, to) >= cap) {
		log_warnx("the URL of chunk %llu is longer than %zu bytes",
		          (unsigned long long)ci->id, cap - 1);
		return -1;
	}
	return 0;
}

static int
free_slots(void)
{
	if (stopping || send_blocked)
		return 0;
	return o.max_inflight - lease_in_use();
}

/* READY now if the free slots changed, or the heartbeat is due. */
static void
ready_maybe(int64_t now, int force)
{
	struct msg_ready r;
	int n = free_slots();

	if (!force && n == last_free && leases_seen == last_seen_sent && now < next_ready_us)
		return;
	memset(&r, 0, sizeof(r));
	r.free_slots = (uint32_t)n;
	r.leases_seen = leases_seen;
	snprintf(r.source, sizeof(r.source), "%s", source_label);
	mbuf.len = 0;
	if (msg_encode_ready(&mbuf, &r) == -1) {
		log_warnx("cannot encode READY");
		return;
	}
	/* A READY that would block is simply late: the heartbeat repeats it. */
	if (net_send(sock_work, mbuf.data, mbuf.len, 0) == 0) {
		last_free = n;
		last_seen_sent = leases_seen;
	}
	next_ready_us = now + HEARTBEAT_US;
}

/* The FAILED message of a lease (logged by the caller). */
static void
send_back(struct lease *l, enum fail_kind kind, uint32_t retry_after_ms, const char *reason)
{
	struct msg_failed m;

	memset(&m, 0, sizeof(m));
	m.ci = l->ci;
	m.kind = (uint8_t)kind;
	m.retry_after_ms = retry_after_ms;
	snprintf(m.source, sizeof(m.source), "%s", source_label);
	snprintf(m.reason, sizeof(m.reason), "%s", reason);
	mbuf.len = 0;
	if (msg_encode_failed(&mbuf, &m) == -1) {
		log_warnx("cannot encode FAILED for chunk %llu", (unsigned long long)l->ci.id);
		return;
	}
	if (FAILPOINT("fetcher_send_failed") || net_send(sock_work, mbuf.data, mbuf.len, 0) == -1)
		log_warnx("FAILED for chunk %llu not sent (%s); the lease will expire",
		          (unsigned long long)l->ci.id, zmq_strerror(zmq_errno()));
	if (kind == FAIL_RATE_429 || kind == FAIL_BLOCKED_418)
		net_event(sock_events, EV_HTTP, mbuf.data, mbuf.len);
}

/* The warning line of a failed chunk and the FAILED message. */
static void
send_failed(struct lease *l, enum fail_kind kind, uint32_t retry_after_ms, const char *reason)
{
	char t[TIME_TEXT_LEN];

	time_format(l->ci.to, t);
	log_warnx("%s %s to %s: %s: %s", l->ci.market, tf_name((enum tf)l->ci.tf), t,
	          fail_kind_names[kind], reason);
	n_failed++;
	send_back(l, kind, retry_after_ms, reason);
}

/* A printable prefix of a body: blanks folded, other bytes dropped. */
static void
body_excerpt(const char *body, size_t len, char *out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < len && i < 80 && n + 1 < cap; i++) {
		char c = body[i];

		if (c == '\n' || c == '\r' || c == '\t')
			c = ' ';
		if (c < 0x20 || c > 0x7e || (c == ' ' && (n == 0 || out[n - 1] == ' ')))
			continue;
		out[n++] = c;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
}

/* The Upbit message of an error body, or a printable prefix of the body. */
static void
body_text(const struct http_done *d, char *out, size_t cap)
{
	struct upbit_error e;

	if (upbit_parse_error(d->body, d->len, &e) == 0)
		snprintf(out, cap, "%s", e.message[0] != '\0' ? e.message : e.name);
	else
		body_excerpt(d->body, d->len, out, cap);
}

/* The "fetched" event: the outcome with the wall clock times of its
 * phases (the request's departure, then monotonic offsets from it), which
 * only the monitor reads. */
static void
publish_fetched(const struct lease *l, uint32_t parsed)
{
	struct msg_fetched_ev e;

	if (sock_events == NULL)
		return;
	e.ci = l->ci;
	e.sent_ms = l->sent_ms;
	e.answered_ms = l->sent_ms + l->ci.api_ms;
	e.parsed_ms = l->sent_ms + parsed;
	mbuf.len = 0;
	if (msg_encode_fetched_ev(&mbuf, &e) == 0)
		net_event(sock_events, EV_FETCHED, mbuf.data, mbuf.len);
}

/* A 200: validate, encode the RESULT and hold it for the writer. */
static void
handle_ok(struct lease *l, const struct http_done *d)
{
	struct upbit_query q;
	struct msg_result r;
	char err[REASON_MAX];
	uint32_t parsed;
	int n;

	q.market = l->ci.market;
	q.tf = (enum tf)l->ci.tf;
	q.to = l->ci.to;
	q.count = l->ci.count;
	n = upbit_parse_candles(d->body, d->len, &q, candles, CANDLE_MAX_PER_RESPONSE, err,
	                        sizeof(err));
	if (n < 0) {
		send_failed(l, FAIL_TEMP_BODY, 0, err);
		lease_step(l, LEASE_EV_FAILED);
		return;
	}
	l->ci.received = (uint16_t)n;
	l->ci.newest = n > 0 ? candles[0].start : 0;
	l->ci.oldest = n > 0 ? candles[n - 1].start : 0;
	l->ci.history_end = n < l->ci.count;
	l->ci.effective_end = l->ci.history_end ? 0 : l->ci.oldest;
	parsed = since_sent_ms(l);
	memset(&r, 0, sizeof(r));
	r.ci = l->ci;
	r.bytes = d->len > UINT32_MAX ? UINT32_MAX : (uint32_t)d->len;
	r.ncandles = (uint16_t)n;
	r.candles = candles;
	l->out.len = 0;
	if (msg_encode_result(&l->out, &r) == -1) {
		send_failed(l, FAIL_TEMP_BODY, 0, "the result does not fit a RESULT message");
		lease_step(l, LEASE_EV_FAILED);
		return;
	}
	lease_step(l, LEASE_EV_ANSWERED);
	l->held_since_us = time_mono_us();
	n_ok++;
	publish_fetched(l, parsed);
	if (o.verbose) {
		char t[TIME_TEXT_LEN];

		time_format(l->ci.to, t);
		log_debug("%s %s to %s: %d candles, %zu bytes, answered in %u ms", l->ci.market,
		          tf_name((enum tf)l->ci.tf), t, n, d->len, (unsigned)l->ci.api_ms);
	}
}

/* A transfer that failed below HTTP: the reason and the kind. */
static enum fail_kind
transport_reason(const struct http_done *d, char *reason, size_t cap)
{
	size_t n;

	if (d->too_big) {
		snprintf(reason, cap, "body larger than %d bytes", UPBIT_BODY_MAX_BYTES);
		return FAIL_TEMP_BODY;
	}
	if (d->truncated) {
		snprintf(reason, cap, "truncated body (%.120s)", d->error);
		return FAIL_TEMP_BODY;
	}
	n = strnlen(d->error, cap - 1); /* the reason keeps what fits */
	memcpy(reason, d->error, n);
	reason[n] = '\0';
	return FAIL_TEMP_NET;
}

/* A 418: the address is blocked, for the time the message states. */
static enum fail_kind
block_reason(const char *text, char *reason, size_t cap, uint32_t *block_ms)
{
	*block_ms = upbit_block_ms(text);
	if (*block_ms > 0)
		snprintf(reason, cap, "HTTP 418: blocked for %u s (%s)",
		         (unsigned)(*block_ms / 1000), text);
	else
		snprintf(reason, cap, "HTTP 418: blocked, time unknown (%s)", text);
	log_warnx("source %s is BLOCKED by Upbit (418) for %s: %s", source_label,
	          *block_ms > 0 ? "the stated time" : "an unknown time", text);
	return FAIL_BLOCKED_418;
}

/* An HTTP status other than 200: the reason and the kind (temporary ones
 * are retried by the planner, permanent ones fail the chunk's target). */
static enum fail_kind
status_reason(const struct lease *l, const struct http_done *d, char *reason, size_t cap,
              uint32_t *retry_after_ms)
{
	char text[UPBIT_ERR_MESSAGE_MAX];
	long st = d->status;

	if (st < 400 || st >= 600) {
		snprintf(reason, cap, "unexpected HTTP status %ld", st);
		return FAIL_TEMP_HTTP;
	}
	body_text(d, text, sizeof(text));
	if (st == 418)
		return block_reason(text, reason, cap, retry_after_ms);
	if (st == 429) {
		snprintf(reason, cap, "HTTP 429%s%s%s", text[0] ? " (" : "", text,
		         text[0] ? ")" : "");
		return FAIL_RATE_429;
	}
	if (st == 404 && strstr(text, "Code not found") != NULL) {
		snprintf(reason, cap, "unknown market %s (404 Code not found)", l->ci.market);
		return FAIL_PERM_MARKET;
	}
	if (st >= 500) {
		snprintf(reason, cap, "HTTP %ld%s%s", st, text[0] ? ": " : "", text);
		return FAIL_TEMP_HTTP;
	}
	snprintf(reason, cap, "HTTP %ld: %s", st, text[0] ? text : "(no message)");
	/* 408 Request Timeout is a transport hiccup, not a bad request */
	return st == 408 ? FAIL_TEMP_HTTP : FAIL_PERM_REQUEST;
}

/* Classifies one finished transfer; the lease ends FREE or HELD. */
static void
handle_done(struct http_done *d)
{
	struct lease *l = d->user;
	char reason[REASON_MAX];
	enum fail_kind kind;
	uint32_t retry_after_ms = 0;
	long st = d->status;

	l->ci.api_ms = since_sent_ms(l);
	l->ci.http_status = (uint16_t)(st > 0 && st <= 999 ? st : 0);
	l->ci.remaining_req = (int8_t)d->remaining_req;
	CRASHPOINT("fetcher_after_http");

	if (!d->too_big && !d->failed && st == 200) {
		handle_ok(l, d);
		return;
	}
	if (d->failed && d->tls_fatal)
		fatalx(EXIT_PERMFAIL, "TLS: %s (%s); retrying cannot fix this%s", d->error,
		       o.api_url, o.cacert ? "" : ": is --cacert needed?");
	if (d->too_big || d->failed)
		kind = transport_reason(d, reason, sizeof(reason));
	else
		kind = status_reason(l, d, reason, sizeof(reason), &retry_after_ms);
	send_failed(l, kind, retry_after_ms, reason);
	lease_step(l, LEASE_EV_FAILED);
}

/* Hands held results to zmq, oldest first; stops at the first that would
 * block and retries SEND_RETRY_US later. */
static void
pump_results(int64_t now)
{
	if (send_blocked && now < next_send_us)
		return;
	for (;;) {
		struct lease *l = lease_oldest_held();

		if (l == NULL) {
			if (send_blocked)
				log_info("the writer takes results again");
			send_blocked = 0;
			return;
		}
		if (net_send(sock_results, l->out.data, l->out.len, 0) == 0) {
			CRASHPOINT("fetcher_after_send");
			lease_step(l, LEASE_EV_SENT);
			continue;
		}
		if (now - l->held_since_us > (int64_t)l->ci.lease_ms * 1000) {
			char t[TIME_TEXT_LEN];

			time_format(l->ci.to, t);
			log_warnx("%s %s to %s: the writer took no result for %u ms; dropped"
			          " (the planner re-issues it)",
			          l->ci.market, tf_name((enum tf)l->ci.tf), t,
			          (unsigned)l->ci.lease_ms);
			n_dropped++;
			lease_step(l, LEASE_EV_EXPIRED);
			continue;
		}
		if (!send_blocked)
			log_info("the writer does not take results (%s); holding",
			         zmq_strerror(zmq_errno()));
		send_blocked = 1;
		next_send_us = now + SEND_RETRY_US;
		return;
	}
}

static void
take_lease(const void *data, size_t len, int64_t now)
{
	struct chunk_info ci;
	struct lease *l;
	int type = msg_peek_type(data, len);

	net_require_version(data, len, "planner", "fetcher"); /* a LEASE or REFUSED */
	if (type != MSG_LEASE) {
		if (type > 0 && type < MSG_TYPE_END)
			log_warnx("unexpected %s message from the planner dropped",
			          msg_type_names[type]);
		else
			log_warnx("malformed message (%zu bytes) from the planner dropped", len);
		return;
	}
	leases_seen++; /* even a bad one: the planner counts what it sent */
	if (msg_decode_lease(data, len, &ci) == -1) {
		log_warnx("undecodable LEASE (%zu bytes) dropped", len);
		return;
	}
	if (stopping) {
		log_debug("stopping: lease of chunk %llu not taken", (unsigned long long)ci.id);
		return;
	}
	if ((l = lease_find(LEASE_FREE)) == NULL) {
		log_warnx("lease of chunk %llu beyond my %d slots dropped",
		          (unsigned long long)ci.id, o.max_inflight);
		return;
	}
	l->ci = ci;
	l->ci.api_ms = 0;
	l->sent_us = l->sent_ms = 0;
	l->due_us = now + (int64_t)ci.delay_ms * 1000;
	l->expire_us = now + (int64_t)ci.lease_ms * 1000;
	lease_step(l, LEASE_EV_TAKE);
}

/* Reads every waiting frame of a socket (ZMQ_FD is edge-triggered: always
 * drain until ZMQ_EVENTS says nothing is left). work != 0: leases. */
static int
drain(void *sock, int work)
{
	int got = 0;

	for (;;) {
		struct net_msg m;
		const void *data;
		int ev = 0, n;
		size_t sz = sizeof(ev);

		if (zmq_getsockopt(sock, ZMQ_EVENTS, &ev, &sz) == -1 || !(ev & ZMQ_POLLIN))
			break;
		if ((n = net_recv_next(sock, &m, work ? "work socket" : "results socket")) == 0)
			break;
		got++;
		data = net_frame(&m, 0, &sz);
		if (!work)
			log_warnx("unexpected message (%zu bytes) from the writer dropped", sz);
		else if (n > 1)
			log_warnx("multipart message from the planner dropped");
		else
			take_lease(data, sz, time_mono_us());
		net_msg_close(&m);
	}
	return got;
}

/* Starts every transfer whose rate token is due; drops expired leases. */
static void
start_due(void)
{
	char url[URL_MAX];

	for (int i = 0; i < o.max_inflight; i++) {
		struct lease *l = lease_at(i);
		int64_t now;

		if (l->state != LEASE_WAITING)
			continue;
		now = time_mono_us();
		if (now < l->due_us)
			continue;
		if (now >= l->expire_us) {
			/* the planner re-issues it: nothing to report */
			log_debug("lease of chunk %llu expired before its start; dropped",
			          (unsigned long long)l->ci.id);
			lease_step(l, LEASE_EV_DROP);
			continue;
		}
		if (now - l->due_us > TOKEN_LATE_US) {
			/* we were frozen or starved: sent now, the request could fall
			 * into one second with the tokens given out after this one
			 * (planner/budget.c leaves TOKEN_LATE_MAX_MS of slack). The
			 * planner leases the chunk again with a new token. */
			char why[80], t[TIME_TEXT_LEN];
			snprintf(why, sizeof(why), "rate token %.1f ms late (at most %d); not sent",
			         (double)(now - l->due_us) / 1000, TOKEN_LATE_MAX_MS);
			/* the machine's load, not the chunk's trouble: info, not a failure */
			time_format(l->ci.to, t);
			log_info("%s %s to %s: %s: %s", l->ci.market, tf_name((enum tf)l->ci.tf), t,
			         fail_kind_names[FAIL_TOKEN_LATE], why);
			n_token_late++;
			send_back(l, FAIL_TOKEN_LATE, 0, why);
			lease_step(l, LEASE_EV_DROP);
			continue;
		}
		l->sent_us = now;
		l->sent_ms = time_now_ms();
		n_started++;
		late_sum_us += now - l->due_us;
		n_late_1ms += now - l->due_us > 1000;
		if (now - l->due_us > late_max_us)
			late_max_us = now - l->due_us;
		if (build_url(url, sizeof(url), &l->ci) == -1 || http_start(http, url, l) == -1) {
			send_failed(l, FAIL_TEMP_NET, 0, "the transfer could not start");
			lease_step(l, LEASE_EV_DROP);
			continue;
		}
		lease_step(l, LEASE_EV_START);
	}
}

/*
 * Waits for the next thing to do. Poll timeouts have whole-ms granularity
 * and may overshoot, so the loop polls until shortly before a rate token
 * and sleeps the last stretch on the monotonic clock: transfers start within
 * tens of microseconds after their token, never before it.
 */
static int
wait_next(int zfd)
{
	int64_t now = time_mono_us(), tok = lease_next_due_us(), until;

	if (tok != INT64_MAX && tok - now <= TOKEN_SLEEP_US) {
		struct timespec ts = { (time_t)(tok / 1000000), (long)(tok % 1000000) * 1000 };

		if (tok > now)
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		return 0;
	}
	until = now + POLL_MAX_US;
	if (tok != INT64_MAX && tok - TOKEN_SLEEP_US < until)
		until = tok - TOKEN_SLEEP_US;
	if (send_blocked && next_send_us < until)
		until = next_send_us;
	if (next_ready_us < until)
		until = next_ready_us;
	return http_wait(http, zfd, until > now ? (int)((until - now + 999) / 1000) : 0);
}

static void
begin_stop(void)
{
	int dropped = 0;

	stopping = 1;
	for (int i = 0; i < o.max_inflight; i++) {
		if (lease_at(i)->state == LEASE_WAITING) {
			lease_step(lease_at(i), LEASE_EV_DROP);
			dropped++;
		}
	}
	log_info("stopping on signal %d: %d transfers running, %d leases not started",
	         (int)stop_signal, http_running(http), dropped);
	ready_maybe(time_mono_us(), 1);
}

/* The lease table, the parse scratch and the HTTP client; exits on failure. */
static void
setup_http(void)
{
	struct http_config hc;

	if (lease_table_init(o.max_inflight) == -1 ||
	    (candles = calloc(CANDLE_MAX_PER_RESPONSE, sizeof(*candles))) == NULL)
		fatalx(EXIT_TEMPFAIL, "out of memory");
	memset(&hc, 0, sizeof(hc));
	hc.max_inflight = o.max_inflight;
	hc.body_max = UPBIT_BODY_MAX_BYTES;
	hc.source_ip = o.source_ip;
	hc.user_agent = USER_AGENT;
	hc.cacert = o.cacert;
	if ((http = http_new(&hc)) == NULL)
		fatalx(EXIT_TEMPFAIL, "cannot set up libcurl");
}

/* The zmq context and sockets; the planner socket's fd for polling. Exits
 * on failure. */
static void *
setup_sockets(int *zfd)
{
	const struct net_curve *curve = o.curve.server_key_file != NULL ? &o.curve : NULL;
	struct net_tune tune;
	size_t zsz = sizeof(*zfd);
	void *ctx;

	if (FAILPOINT("fetcher_zmq_ctx") || (ctx = zmq_ctx_new()) == NULL)
		fatalx(EXIT_TEMPFAIL, "zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
	/* To the writer: a small send high-water mark and ZMQ_IMMEDIATE, so with
	 * the writer down or slow a send fails at once instead of queueing
	 * megabytes inside zmq: back-pressure reaches the planner (free_slots
	 * 0) and memory stays bounded. */
	tune.hwm = 2 * o.max_inflight + 2;
	tune.immediate = 1;
	if ((sock_work = net_socket(ctx, ZMQ_DEALER, o.work, 0, curve)) == NULL ||
	    (sock_results = net_socket_tuned(ctx, ZMQ_DEALER, o.results, 0, curve, &tune)) == NULL)
		fatalx(EXIT_TEMPFAIL, "cannot connect to the planner or the writer");
	sock_events = net_events_open(ctx, o.events, curve);
	if (o.events != NULL && sock_events == NULL)
		log_warnx("no event stream (%s); going on without", o.events);
	if (FAILPOINT("fetcher_zmq_fd") || zmq_getsockopt(sock_work, ZMQ_FD, zfd, &zsz) == -1)
		fatalx(EXIT_TEMPFAIL, "ZMQ_FD: %s", zmq_strerror(zmq_errno()));
	return ctx;
}

/* One pass of the loop: leases in, transfers started and finished, results
 * out, READY. -1 if libcurl failed. */
static int
loop_once(int zfd)
{
	struct http_done d;
	int64_t now;
	int rc;

	drain(sock_work, 1);
	start_due();
	if (http_perform(http) == -1)
		return -1;
	while ((rc = http_next_done(http, &d)) == 1) {
		handle_done(&d);
		http_release(http, &d);
	}
	if (rc == -1)
		return -1;
	drain(sock_results, 0);
	now = time_mono_us();
	pump_results(now);
	ready_maybe(now, 0);
	/* sends may have swallowed the ZMQ_FD edge: look again */
	drain(sock_work, 1);
	start_due();
	return wait_next(zfd);
}

/* Runs until a signal stops it (after the grace time for running
 * transfers) or libcurl fails; the exit code. */
static int
run(int zfd)
{
	int64_t stop_deadline = 0;

	for (;;) {
		if (stop_signal && !stopping) {
			begin_stop();
			stop_deadline = time_mono_us() + STOP_GRACE_US;
		}
		if (stopping && (!lease_busy() || time_mono_us() >= stop_deadline))
			return EXIT_OK;
		if (loop_once(zfd) == -1)
			return EXIT_TEMPFAIL;
	}
}

static void
report_exit(void)
{
	if (stopping && lease_busy())
		log_warnx("stop: %d transfers or results abandoned after %lld s", lease_in_use(),
		          (long long)(STOP_GRACE_US / 1000000));
	log_info("exit: %llu requests, %llu results, %llu failures, %llu results dropped;"
	         " start after token: mean %lld us, max %lld us, %llu over 1 ms;"
	         " %llu tokens too late, not sent",
	         (unsigned long long)n_started, (unsigned long long)n_ok,
	         (unsigned long long)n_failed, (unsigned long long)n_dropped,
	         (long long)(n_started ? late_sum_us / (int64_t)n_started : 0),
	         (long long)late_max_us, (unsigned long long)n_late_1ms,
	         (unsigned long long)n_token_late);
	if (lease_impossible() > 0)
		log_warnx("exit: %llu impossible lease events (bugs, each logged when it happened)",
		          (unsigned long long)lease_impossible());
}

static void
cleanup(void *ctx)
{
	http_free(&http);
	lease_table_free();
	buf_free(&mbuf);
	free(candles);
	/* what is still queued for the planner is credit; with the planner
	 * gone (the run's end) a full linger would delay our exit 200 ms */
	(void)zmq_setsockopt(sock_work, ZMQ_LINGER, &(int){ FETCHER_WORK_LINGER_MS }, sizeof(int));
	zmq_close(sock_work);
	zmq_close(sock_results);
	if (sock_events != NULL)
		zmq_close(sock_events);
	zmq_ctx_term(ctx);
}

int
main(int argc, char **argv)
{
	void *ctx;
	int zfd = -1, rc;

	if (parse_opts(argc, argv) == -1) {
		fprintf(stderr, "try 'cp-fetcher --help'\n");
		return EXIT_USAGE;
	}
	log_init(o.name, o.verbose);
	proc_die_with_parent();
	source_label = o.source_ip != NULL ? o.source_ip : "default";
	proc_catch_signals(on_signal, NULL);
	setup_http();
	ctx = setup_sockets(&zfd);
	/* from here on the fetcher reads the Internet: no more file writes */
	if (sandbox_enter() == -1)
		fatalx(EXIT_PERMFAIL, "cannot turn the Landlock sandbox on");
	sandbox_probe();
	log_info("start: api %s, source %s, max-inflight %d, work %s, results %s, events %s",
	         o.api_url, source_label, o.max_inflight, o.work, o.results,
	         o.events ? o.events : "-");
	ready_maybe(time_mono_us(), 1);
	rc = run(zfd);
	report_exit();
	cleanup(ctx);
	return rc;
}
