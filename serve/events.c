/*
 * events.c: GET /v1/events, the pipeline's live progress as server-sent
 * events (issue 16). One thread subscribes to the event hub's monitor
 * endpoint as cp-monitor does (--events EP: the planner's "progress" event,
 * once a second) and re-emits each as `event: progress` whose data is the
 * progress map as JSON (common/events.h's keys) with "jobs": the daemon's
 * jobs from the control socket (jobs.c); with no event for
 * EV_IDLE_MS it still sends the jobs (`event: jobs`), so a page sees a job
 * end. Owns the ring of the last EV_RING messages and the clients: each
 * client's stream is a libmicrohttpd callback that suspends its connection
 * when it has sent everything and is resumed when a new message comes, so
 * no pool thread ever waits for a client, and a slow client skips to the
 * oldest message still in the ring.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "log.h"
#include "serve.h"
#include "timeutil.h"

#define EV_RING 16
#define EV_IDLE_MS 2000
#define EV_POLL_MS 500
#define EV_CLIENTS_MAX 64

struct client {
	struct MHD_Connection *conn;
	uint64_t next; /* the sequence number of the next message to send */
	struct buf out;
	size_t off;
	int waiting; /* suspended, in waiters */
	struct client *prev, *nextc;
};

static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static struct buf ring[EV_RING];
static uint64_t seq; /* messages published so far; ring[(seq - 1) % EV_RING] the newest */
static struct client *clients;
static int nclients, closing;
static pthread_t ev_thread;
static int thread_started;
static volatile int stop_thread;
static void *ev_ctx, *ev_sub;

/* Publishes text as the next message and resumes every waiting client. */
static void
publish(const struct buf *text)
{
	struct buf *slot;

	pthread_mutex_lock(&ev_lock);
	slot = &ring[seq % EV_RING];
	buf_reset(slot);
	sv_buf_put(slot, text->data, text->len);
	seq++;
	for (struct client *c = clients; c != NULL; c = c->nextc)
		if (c->waiting) {
			c->waiting = 0;
			MHD_resume_connection(c->conn);
		}
	pthread_mutex_unlock(&ev_lock);
}

/* One SSE message: event name, then data (one line of JSON) with the jobs. */
static void
build(struct buf *b, const char *event, const void *payload, size_t len)
{
	buf_reset(b);
	buf_printf(b, "event: %s\ndata: {\"progress\":", event);
	if (payload != NULL)
		jobs_msgpack_json(b, payload, len);
	else
		buf_puts(b, "null");
	buf_puts(b, ",\"jobs\":");
	if (jobs_list_json(b) == -1)
		buf_puts(b, "null");
	buf_printf(b, ",\"t_ms\":%lld}\n\n", (long long)time_now_ms());
}

/* The waiting events of the SUB socket: 1 if a progress event was sent. */
static int
drain(struct buf *b)
{
	int sent = 0;

	for (;;) {
		zmq_msg_t topic, data;
		int more = 0;
		size_t ml = sizeof(more);

		zmq_msg_init(&topic);
		if (zmq_msg_recv(&topic, ev_sub, ZMQ_DONTWAIT) == -1) {
			zmq_msg_close(&topic);
			return sent;
		}
		zmq_msg_init(&data);
		zmq_getsockopt(ev_sub, ZMQ_RCVMORE, &more, &ml);
		if (more && zmq_msg_recv(&data, ev_sub, 0) >= 0 && zmq_msg_size(&topic) == 8 &&
		    memcmp(zmq_msg_data(&topic), "progress", 8) == 0) {
			build(b, "progress", zmq_msg_data(&data), zmq_msg_size(&data));
			publish(b);
			sent = 1;
		}
		/* frames beyond the two are not ours */
		while (zmq_getsockopt(ev_sub, ZMQ_RCVMORE, &more, &ml) == 0 && more &&
		       zmq_msg_recv(&data, ev_sub, 0) >= 0)
			continue;
		zmq_msg_close(&data);
		zmq_msg_close(&topic);
	}
}

static void *
ev_main(void *arg)
{
	struct buf b = { 0 };
	int64_t last = 0;

	(void)arg;
	while (!stop_thread) {
		zmq_pollitem_t it = { ev_sub, 0, ZMQ_POLLIN, 0 };
		int64_t now;

		if (ev_sub != NULL)
			(void)zmq_poll(&it, 1, EV_POLL_MS);
		else
			(void)zmq_poll(NULL, 0, EV_POLL_MS);
		now = time_mono_ms();
		if (ev_sub != NULL && drain(&b))
			last = now;
		if (now - last >= EV_IDLE_MS) {
			build(&b, "jobs", NULL, 0);
			publish(&b);
			last = now;
		}
	}
	buf_free(&b);
	return NULL;
}

int
events_start(const char *endpoint)
{
	if (endpoint != NULL) {
		if ((ev_ctx = zmq_ctx_new()) == NULL ||
		    (ev_sub = zmq_socket(ev_ctx, ZMQ_SUB)) == NULL ||
		    zmq_connect(ev_sub, endpoint) == -1) {
			log_warnx("--events %s: %s", endpoint, zmq_strerror(errno));
			return -1;
		}
		zmq_setsockopt(ev_sub, ZMQ_SUBSCRIBE, "progress", 8);
	}
	if (pthread_create(&ev_thread, NULL, ev_main, NULL) != 0) {
		log_warnx("cannot start the event thread");
		return -1;
	}
	thread_started = 1;
	return 0;
}

void
events_stop(void)
{
	pthread_mutex_lock(&ev_lock);
	closing = 1;
	for (struct client *c = clients; c != NULL; c = c->nextc)
		if (c->waiting) {
			c->waiting = 0;
			MHD_resume_connection(c->conn);
		}
	pthread_mutex_unlock(&ev_lock);
	stop_thread = 1;
	if (thread_started)
		pthread_join(ev_thread, NULL);
	thread_started = 0;
	if (ev_sub != NULL)
		zmq_close(ev_sub);
	if (ev_ctx != NULL)
		zmq_ctx_term(ev_ctx);
	ev_sub = ev_ctx = NULL;
}

/* The next message for c into c->out, or suspends c: 1 if there is one.
 * Under ev_lock. */
static int
next_message(struct client *c)
{
	if (seq > EV_RING && c->next < seq - EV_RING)
		c->next = seq - EV_RING; /* fell behind: the oldest kept */
	if (c->next >= seq) {
		c->waiting = 1;
		MHD_suspend_connection(c->conn);
		return 0;
	}
	buf_reset(&c->out);
	sv_buf_put(&c->out, ring[c->next % EV_RING].data, ring[c->next % EV_RING].len);
	c->off = 0;
	c->next++;
	return 1;
}

static ssize_t
client_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct client *c = cls;
	size_t n;

	(void)pos;
	if (c->off == c->out.len) {
		int have;

		pthread_mutex_lock(&ev_lock);
		have = closing ? -1 : next_message(c);
		pthread_mutex_unlock(&ev_lock);
		if (have == -1)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (have == 0)
			return 0; /* suspended: resumed by the next message */
	}
	n = c->out.len - c->off;
	if (n > max)
		n = max;
	memcpy(out, c->out.data + c->off, n);
	c->off += n;
	return (ssize_t)n;
}

static void
client_free(void *cls)
{
	struct client *c = cls;

	pthread_mutex_lock(&ev_lock);
	if (c->prev != NULL)
		c->prev->nextc = c->nextc;
	else
		clients = c->nextc;
	if (c->nextc != NULL)
		c->nextc->prev = c->prev;
	nclients--;
	pthread_mutex_unlock(&ev_lock);
	buf_free(&c->out);
	free(c);
}

void
events_answer(struct MHD_Connection *conn, struct sv_reply *r)
{
	struct client *c;

	pthread_mutex_lock(&ev_lock);
	if (closing || nclients >= EV_CLIENTS_MAX || (c = calloc(1, sizeof(*c))) == NULL) {
		pthread_mutex_unlock(&ev_lock);
		reply_error(r, 503, SV_ERROR, "too many event streams (at most 64)");
		return;
	}
	c->conn = conn;
	c->next = seq > 0 ? seq - 1 : 0; /* the newest first, then each new one */
	buf_puts(&c->out, "retry: 2000\n\n");
	c->nextc = clients;
	if (clients != NULL)
		clients->prev = c;
	clients = c;
	nclients++;
	pthread_mutex_unlock(&ev_lock);
	r->stream =
	    MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, client_read, c, client_free);
	if (r->stream == NULL) {
		client_free(c);
		reply_error(r, 500, SV_ERROR, "out of memory");
		return;
	}
	/* a stream is idle between messages: no idle timeout, the jobs message
	 * every EV_IDLE_MS finds a client that went away */
	MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, 0U);
	MHD_add_response_header(r->stream, "Cache-Control", "no-cache");
	r->status = 200;
	r->ctype = "text/event-stream; charset=utf-8";
}
