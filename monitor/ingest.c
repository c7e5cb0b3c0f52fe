/*
 * ingest.c: events from the hub into the model (state.c) and, with --json,
 * into one JSON line each. Every topic has its own decoder; a payload that
 * does not decode is counted and shown as an error line, never trusted.
 * Owns the receive loop over the SUB socket (mon_drain).
 */
#include <errno.h>
#include <msgpack.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "log.h"
#include "mon.h"
#include "net.h"
#include "tf.h"
#include "timeutil.h"

#define DRAIN_MAX 2000

static enum mon_topic
topic_of(const char *t, size_t n)
{
	for (int i = 0; i < T_OTHER; i++)
		if (strlen(mon_topic_names[i]) == n && memcmp(mon_topic_names[i], t, n) == 0)
			return (enum mon_topic)i;
	return T_OTHER;
}

/* --- JSON of the messages, from the tables of proto_fields.h ------------- */

static void
json_time(struct jw *w, const char *key, int64_t t)
{
	char a[MON_UTC_LEN];

	mon_time_utc(t, a);
	jw_str(w, key, a);
}

/* A field's JSON form (the json column of proto_fields.h). */
#define JSON_NUM(w, m, n) jw_int(w, #n, (int64_t)(m)->n)
#define JSON_ID(w, m, n) jw_id(w, #n, (m)->n) /* a string: ids pass 2^53 */
#define JSON_BOOL(w, m, n) jw_bool(w, #n, (m)->n)
#define JSON_TEXT(w, m, n) jw_str(w, #n, (m)->n)
#define JSON_TIME(w, m, n) json_time(w, #n, (m)->n)
#define JSON_TF(w, m, n) jw_str(w, "timeframe", (m)->n < TF_COUNT ? tf_name((enum tf)(m)->n) : "?")
#define JSON_OVERLAP(w, m, n) jw_str(w, #n, (m)->n < OV_END ? overlap_names[(m)->n] : "?")
#define JSON_KIND(w, m, n) jw_str(w, #n, (m)->n < FAIL_END ? fail_kind_names[(m)->n] : "?")
#define JSON_CI(w, m, n) mon_json_chunk(w, &(m)->n)
#define JSON_NONE(w, m, n) (void)0
#define JSON_(kind, name, lo, hi, check, json) JSON_##json(w, m, name);

void
mon_json_chunk(struct jw *w, const struct chunk_info *m)
{
	CHUNK_INFO_FIELDS(JSON_)
}

static void
json_failed(struct jw *w, const struct msg_failed *m)
{
	MSG_FAILED_FIELDS(JSON_)
}

static void
json_leased_ev(struct jw *w, const struct msg_leased_ev *m)
{
	MSG_LEASED_EV_FIELDS(JSON_)
}

static void
json_fetched_ev(struct jw *w, const struct msg_fetched_ev *m)
{
	MSG_FETCHED_EV_FIELDS(JSON_)
}

static void
json_committed_ev(struct jw *w, const struct msg_committed_ev *m)
{
	MSG_COMMITTED_EV_FIELDS(JSON_)
}

/* One event's payload; w is NULL without --json. */
struct ev {
	struct monitor *m;
	const void *data;
	size_t len;
	struct jw *w;
};

static int
on_leased_ev(const struct ev *e)
{
	struct msg_leased_ev le;

	if (msg_decode_leased_ev(e->data, e->len, &le) == -1)
		return -1;
	mon_on_leased(e->m, &le);
	if (e->w != NULL)
		json_leased_ev(e->w, &le);
	return 0;
}

static int
on_fetched_ev(const struct ev *e)
{
	struct msg_fetched_ev fe;

	if (msg_decode_fetched_ev(e->data, e->len, &fe) == -1)
		return -1;
	mon_on_fetched(e->m, &fe);
	if (e->w != NULL)
		json_fetched_ev(e->w, &fe);
	return 0;
}

static int
on_failed(const struct ev *e)
{
	struct msg_failed mf;

	if (msg_decode_failed(e->data, e->len, &mf) == -1)
		return -1;
	if (e->w != NULL)
		json_failed(e->w, &mf);
	return 0;
}

static int
on_committed_ev(const struct ev *e)
{
	struct msg_committed_ev mc;

	if (msg_decode_committed_ev(e->data, e->len, &mc) == -1)
		return -1;
	mon_on_committed(e->m, &mc);
	if (e->w != NULL) {
		json_committed_ev(e->w, &mc);
		mon_json_metrics(e->w, &mc, &e->m->last, mon_analysis_ms(e->m));
	}
	return 0;
}

static int
on_progress(const struct ev *e)
{
	static struct mon_progress prog; /* large: not on the stack */

	if (mon_decode_progress(e->data, e->len, &prog) == -1)
		return -1;
	mon_on_progress(e->m, &prog, time_mono_ms());
	if (e->w != NULL)
		mon_json_progress(e->w, &prog);
	return 0;
}

static int
on_other(const struct ev *e)
{
	if (e->w != NULL)
		jw_int(e->w, "bytes", (int64_t)e->len);
	return 0;
}

/* Each topic's decoder, by its payload (events.h). */
#define HANDLER_(id, topic, publisher, payload) [T_##id] = on_##payload,
static int (*const handlers[T_COUNT])(const struct ev *) = {
	EVENT_TOPICS(HANDLER_)[T_OTHER] = on_other
};

static void
json_head(struct jw *w, const char *topic, size_t tlen)
{
	jw_obj(w, NULL);
	jw_strn(w, "topic", topic, tlen);
}

void
mon_on_event(struct monitor *m, const char *topic, size_t tlen, const void *data, size_t len,
             struct jw *w)
{
	enum mon_topic t = topic_of(topic, tlen);
	struct ev e = { m, data, len, w };
	size_t mark = w != NULL ? w->b.len : 0;

	m->ev[t]++;
	if (w != NULL)
		json_head(w, topic, tlen);
	if (handlers[t](&e) == -1) {
		m->ev_bad++;
		log_debug("dropped an undecodable %.*s event (%zu bytes)", (int)tlen, topic, len);
		if (w != NULL) { /* rewrite the line: only what is known */
			w->b.len = mark;
			w->comma = 0;
			json_head(w, topic, tlen);
			jw_str(w, "error", "undecodable payload");
			jw_int(w, "bytes", (int64_t)len);
		}
	}
	if (w != NULL) {
		jw_obj_end(w);
		tb_putn(&w->b, "\n", 1);
		w->comma = 0;
	}
}

/* An event of another protocol version: exit 3, naming its publisher. */
static void
require_version(const char *topic, size_t tlen, const void *data, size_t len)
{
	enum mon_topic t = topic_of(topic, tlen);

	net_require_version(data, len, t < T_OTHER ? ev_topic_publishers[t] : "publisher",
	                    "monitor");
}

/* Receives one waiting event (topic, payload, and any frames beyond them,
 * which are not ours); 0, or -1 when none is waiting or the socket failed. */
static int
recv_one(void *sub, struct monitor *m, struct jw *w)
{
	struct net_msg msg;
	const void *topic, *data;
	size_t tlen, len;
	int n = net_recv_msg(sub, ZMQ_DONTWAIT, &msg);

	if (n == 0)
		return -1;
	if (n == -1) {
		m->ev_bad++;
		log_warnx("event stream: %s", msg.why);
		net_msg_close(&msg);
		return msg.err == EMSGSIZE ? 0 : -1;
	}
	if (n >= 2) {
		m->last_event_mono_ms = time_mono_ms();
		topic = net_frame(&msg, 0, &tlen);
		data = net_frame(&msg, 1, &len);
		require_version(topic, tlen, data, len);
		mon_on_event(m, topic, tlen, data, len, w);
	} else {
		m->ev_bad++; /* a topic without a payload */
	}
	net_msg_close(&msg);
	return 0;
}

void
mon_drain(void *sub, struct monitor *m, struct jw *w)
{
	for (int i = 0; i < DRAIN_MAX && recv_one(sub, m, w) == 0; i++)
		continue;
}
