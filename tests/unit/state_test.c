/*
 * state_test.c: the monitor's model and outputs (monitor/state.c, ingest.c,
 * prom.c, view.c) driven by crafted events: the progress map's type checks
 * (each hostile field drops the event), the JSON line of every topic, the
 * receive loop over a socket, counters across runs, the Prometheus text and
 * the terminal view's edge cases (waiting, many targets, failures, blocked
 * sources, the prediction, the final summary).
 */
#include <math.h>
#include <msgpack.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include <cmocka.h>

#include "events.h"
#include "mon.h"
#include "tf.h"

static struct monitor m; /* large: not on the stack */

struct tgt {
	const char *market, *tf;
	int64_t total, done, hit, req, candles, failed;
	const char *reason;
};

struct src {
	const char *source;
	double allowed;
	int64_t blocked_ms;
};

struct prog {
	int64_t run, elapsed_ms, total, done, hit, req, candles, n429;
	int finished;
	double rate;
	int nt, ns;
	const struct tgt *t;
	const struct src *s;
};

static void
pk_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str(pk, strlen(s));
	msgpack_pack_str_body(pk, s, strlen(s));
}

static void
pk_kv(msgpack_packer *pk, const char *k, int64_t v)
{
	pk_str(pk, k);
	msgpack_pack_int64(pk, v);
}

/* A well-formed progress map as the planner sends it. */
static void
pack_prog(msgpack_sbuffer *sb, const struct prog *p)
{
	msgpack_packer pk;

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 20);
	pk_kv(&pk, "v", EVENTS_VERSION);
	pk_kv(&pk, "run", p->run);
	pk_kv(&pk, "elapsed_ms", p->elapsed_ms);
	pk_kv(&pk, "slots_total", p->total);
	pk_kv(&pk, "slots_done", p->done);
	pk_kv(&pk, "slots_hit", p->hit);
	pk_kv(&pk, "requests", p->req);
	pk_kv(&pk, "candles", p->candles);
	pk_kv(&pk, "new_candles", p->candles / 2);
	pk_kv(&pk, "retries", 1);
	pk_kv(&pk, "n429", p->n429);
	pk_kv(&pk, "n418", 0);
	pk_kv(&pk, "bytes", 2000000);
	pk_kv(&pk, "finished", p->finished);
	pk_str(&pk, "rate_limit");
	msgpack_pack_double(&pk, p->rate);
	pk_kv(&pk, "analysis_us", 3000);
	pk_kv(&pk, "chunks_planned", 4);
	pk_kv(&pk, "future_field", 9); /* unknown keys are skipped */
	pk_str(&pk, "targets");
	msgpack_pack_array(&pk, (size_t)p->nt);
	for (int i = 0; i < p->nt; i++) {
		const struct tgt *t = &p->t[i];
		msgpack_pack_array(&pk, 9);
		pk_str(&pk, t->market);
		pk_str(&pk, t->tf);
		msgpack_pack_int64(&pk, t->total);
		msgpack_pack_int64(&pk, t->done);
		msgpack_pack_int64(&pk, t->hit);
		msgpack_pack_int64(&pk, t->req);
		msgpack_pack_int64(&pk, t->candles);
		msgpack_pack_int64(&pk, t->failed);
		pk_str(&pk, t->reason);
	}
	pk_str(&pk, "sources");
	msgpack_pack_array(&pk, (size_t)p->ns);
	for (int i = 0; i < p->ns; i++) {
		msgpack_pack_array(&pk, 7);
		pk_str(&pk, p->s[i].source);
		msgpack_pack_double(&pk, p->s[i].allowed);
		msgpack_pack_int64(&pk, p->s[i].blocked_ms);
		msgpack_pack_int64(&pk, 10);
		msgpack_pack_int64(&pk, 0);
		msgpack_pack_int64(&pk, 0);
		msgpack_pack_int64(&pk, -1);
	}
}

static void
feed_prog(const struct prog *p)
{
	msgpack_sbuffer sb;

	pack_prog(&sb, p);
	mon_on_event(&m, "progress", 8, sb.data, sb.size, NULL);
	msgpack_sbuffer_destroy(&sb);
}

static const struct tgt one_target[] = {
	{ "KRW-BTC", "1m", 1000, 400, 100, 30, 300, 0, "" },
};
static const struct src one_source[] = { { "10.0.0.1", 10, 0 } };

static void
test_progress_json(void **state)
{
	struct prog p = {
		1, 5000, 1000, 400, 100, 30, 300, 0, 0, 10, 1, 1, one_target, one_source
	};
	struct jw w = { { NULL, 0, 0, 0 }, 0 };
	msgpack_sbuffer sb;

	(void)state;
	mon_init(&m);
	pack_prog(&sb, &p);
	mon_on_event(&m, "progress", 8, sb.data, sb.size, &w);
	msgpack_sbuffer_destroy(&sb);
	assert_string_equal(
	    w.b.data,
	    "{\"topic\":\"progress\",\"v\":2,\"run\":1,\"elapsed_ms\":5000,\"slots_total\":1000,"
	    "\"slots_done\":400,\"slots_hit\":100,\"requests\":30,\"candles\":300,"
	    "\"new_candles\":150,\"retries\":1,\"n429\":0,\"n418\":0,\"bytes\":2000000,"
	    "\"finished\":false,\"rate_limit\":10,\"targets\":[{\"market\":\"KRW-BTC\","
	    "\"timeframe\":\"1m\",\"slots_total\":1000,\"slots_done\":400,\"slots_hit\":100,"
	    "\"requests\":30,\"candles\":300,\"failed\":false,\"reason\":\"\"}],"
	    "\"sources\":[{\"source\":\"10.0.0.1\",\"allowed_rps\":10,\"blocked_ms\":0,"
	    "\"sent\":10,\"n429\":0,\"n418\":0,\"remaining_req\":-1}]}\n");
	assert_int_equal(m.ev[T_PROGRESS], 1);
	assert_int_equal(m.ev_bad, 0);
	assert_true(m.have_progress);
	/* the planner's overlap analysis: 3000 us over 4 chunks */
	assert_true(fabs(mon_analysis_ms(&m) - 0.75) < 1e-9);
	buf_free(&w.b);
}

/* A map of "v": 1 (unless key is "v") and key: the value pack() writes. */
static int
decode_with(const char *key, void (*pack)(msgpack_packer *))
{
	static struct mon_progress out;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int rc;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, strcmp(key, "v") == 0 ? 1 : 2);
	if (strcmp(key, "v") != 0)
		pk_kv(&pk, "v", EVENTS_VERSION);
	pk_str(&pk, key);
	pack(&pk);
	rc = mon_decode_progress(sb.data, sb.size, &out);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

static void
p_neg(msgpack_packer *pk)
{
	msgpack_pack_int64(pk, -1);
}
static void
p_two(msgpack_packer *pk)
{
	msgpack_pack_int64(pk, 2);
}
static void
p_other_version(msgpack_packer *pk)
{
	msgpack_pack_int64(pk, EVENTS_VERSION + 1);
}
static void
p_huge(msgpack_packer *pk)
{
	msgpack_pack_uint64(pk, (uint64_t)INT64_MAX + 1);
}
static void
p_str(msgpack_packer *pk)
{
	pk_str(pk, "7");
}
static void
p_nan(msgpack_packer *pk)
{
	msgpack_pack_double(pk, NAN);
}
static void
p_negf(msgpack_packer *pk)
{
	msgpack_pack_float(pk, -0.5F);
}
static void
p_short_row(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 1);
	msgpack_pack_array(pk, 3);
	pk_str(pk, "KRW-BTC");
	pk_str(pk, "1m");
	msgpack_pack_int64(pk, 1);
}
static void
p_bad_target(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 1);
	msgpack_pack_array(pk, 9);
	pk_str(pk, "KRW-BTC");
	pk_str(pk, "1m");
	for (int i = 0; i < 6; i++)
		msgpack_pack_int64(pk, i == 3 ? -5 : 1); /* a negative request count */
	pk_str(pk, "");
}
static void
p_bad_source(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 1);
	msgpack_pack_array(pk, 7);
	pk_str(pk, "s");
	pk_str(pk, "fast"); /* allowed must be a number */
	for (int i = 0; i < 5; i++)
		msgpack_pack_int64(pk, 0);
}
static void
p_int_rate(msgpack_packer *pk)
{
	msgpack_pack_int64(pk, 5);
}

static void
test_progress_rejects(void **state)
{
	static struct mon_progress out;
	const char junk[] = "\x81\xa1v\x02\xc0"; /* {"v": 2} and a byte more */

	(void)state;
	assert_int_equal(decode_with("v", p_other_version), -1); /* another version */
	assert_int_equal(decode_with("v", p_str), -1);           /* not an integer */
	assert_int_equal(decode_with("run", p_neg), -1);         /* counts are >= 0 */
	assert_int_equal(decode_with("bytes", p_huge), -1);      /* beyond int64_t */
	assert_int_equal(decode_with("finished", p_two), -1);
	assert_int_equal(decode_with("rate_limit", p_nan), -1);
	assert_int_equal(decode_with("rate_limit", p_negf), -1);
	assert_int_equal(decode_with("rate_limit", p_str), -1);
	assert_int_equal(decode_with("targets", p_two), -1);
	assert_int_equal(decode_with("targets", p_short_row), -1);
	assert_int_equal(decode_with("targets", p_bad_target), -1);
	assert_int_equal(decode_with("sources", p_str), -1);
	assert_int_equal(decode_with("sources", p_bad_source), -1);
	assert_int_equal(decode_with("sources", p_short_row), -1);
	/* accepted: an integer rate, an unknown key of any type */
	assert_int_equal(decode_with("rate_limit", p_int_rate), 0);
	assert_int_equal(decode_with("x-new", p_bad_source), 0);
	/* not a map, no "v", trailing bytes, empty */
	assert_int_equal(mon_decode_progress("\x91\x01", 2, &out), -1);
	assert_int_equal(mon_decode_progress("\x80", 1, &out), -1);
	assert_int_equal(mon_decode_progress(junk, 4, &out), 0);
	assert_int_equal(mon_decode_progress(junk, 5, &out), -1);
	assert_int_equal(mon_decode_progress(junk, 0, &out), -1);
}

static struct chunk_info
chunk(uint64_t id, const char *market, int64_t to, int64_t oldest, uint16_t received)
{
	struct chunk_info ci;

	memset(&ci, 0, sizeof(ci));
	ci.id = id;
	ci.tf = TF_1M;
	snprintf(ci.market, sizeof(ci.market), "%s", market);
	ci.to = to;
	ci.count = 200;
	ci.seg_lo = 0;
	ci.overlap = OV_NO_OVERLAP;
	ci.received = received;
	ci.oldest = oldest;
	ci.newest = to - 60;
	ci.http_status = 200;
	ci.remaining_req = 5;
	ci.api_ms = 200;
	return ci;
}

#define P0 INT64_C(1700000000000) /* a chunk's planning, wall clock ms */

/* The leased and fetched events of ci, planned at P0: queue 10 ms, rate
 * wait 100, API 200, parse 5; its commit (in mc) 25 ms after parsing. */
static void
feed_times(const struct chunk_info *ci, struct msg_committed_ev *mc)
{
	struct msg_leased_ev le = { .ci = *ci, .planned_ms = P0, .leased_ms = P0 + 10 };
	struct msg_fetched_ev fe = { .ci = *ci, .sent_ms = P0 + 110 };

	fe.answered_ms = fe.sent_ms + ci->api_ms;
	fe.parsed_ms = fe.answered_ms + 5;
	mon_on_leased(&m, &le);
	mon_on_fetched(&m, &fe);
	mc->ci = *ci;
	mc->committed_ms = fe.parsed_ms + 25;
}

static void
test_event_lines(void **state)
{
	struct jw w = { { NULL, 0, 0, 0 }, 0 };
	struct chunk_info ci = chunk(7, "KRW-ETH", 1700000400, 1700000400 - 200 * 60, 200);
	struct msg_failed mf;
	struct msg_leased_ev le;
	struct msg_fetched_ev fe;
	struct msg_committed_ev mc;
	struct mon_chunk k;
	struct buf b = { 0 };

	(void)state;
	mon_init(&m);
	le.ci = ci;
	le.planned_ms = P0;
	le.leased_ms = P0 + 10;
	assert_int_equal(msg_encode_leased_ev(&b, &le), 0);
	mon_on_event(&m, "leased", 6, b.data, b.len, &w);
	assert_string_equal(
	    w.b.data,
	    "{\"topic\":\"leased\",\"id\":\"7\",\"attempt\":0,\"timeframe\":\"1m\",\"market\":"
	    "\"KRW-ETH\",\"to\":\"2023-11-14T22:20:00Z\",\"count\":200,\"seg_lo\":\"1970-01-01T00:00:00Z\","
	    "\"overlap\":\"NO_OVERLAP\",\"cov_from\":0,\"cov_to\":0,\"lease_ms\":0,\"delay_ms\":0,"
	    "\"received\":200,\"newest\":1700000340,\"oldest\":"
	    "1699988400,\"effective_end\":0,\"history_end\":false,\"http_status\":200,"
	    "\"remaining_req\":5,\"api_ms\":200,\"planned_ms\":1700000000000,"
	    "\"leased_ms\":1700000000010}\n");

	buf_reset(&w.b);
	fe.ci = ci;
	fe.sent_ms = P0 + 110;
	fe.answered_ms = P0 + 310;
	fe.parsed_ms = P0 + 315;
	b.len = 0;
	assert_int_equal(msg_encode_fetched_ev(&b, &fe), 0);
	mon_on_event(&m, "fetched", 7, b.data, b.len, &w);
	assert_non_null(strstr(w.b.data, "\"api_ms\":200,\"sent_ms\":1700000000110,"
	                                 "\"answered_ms\":1700000000310,"
	                                 "\"parsed_ms\":1700000000315}\n"));

	buf_reset(&w.b);
	memset(&mf, 0, sizeof(mf));
	mf.ci = ci;
	mf.kind = FAIL_RATE_429;
	mf.retry_after_ms = 1500;
	snprintf(mf.source, sizeof(mf.source), "10.0.0.2");
	snprintf(mf.reason, sizeof(mf.reason), "HTTP 429 \"too many\"");
	b.len = 0;
	assert_int_equal(msg_encode_failed(&b, &mf), 0);
	mon_on_event(&m, "retry", 5, b.data, b.len, &w);
	assert_non_null(strstr(w.b.data, "\"api_ms\":200,\"kind\":\"rate_429\",\"retry_after_ms\":"
	                                 "1500,\"source\":\"10.0.0.2\",\"reason\":\"HTTP 429 "
	                                 "\\\"too many\\\"\"}\n"));

	buf_reset(&w.b);
	memset(&mc, 0, sizeof(mc));
	mc.ci = ci;
	mc.bytes = 4096;
	mc.new_candles = 150;
	mc.committed_ms = P0 + 340;
	b.len = 0;
	assert_int_equal(msg_encode_committed_ev(&b, &mc), 0);
	mon_on_event(&m, "committed", 9, b.data, b.len, &w);
	assert_non_null(strstr(
	    w.b.data,
	    "\"bytes\":4096,\"new_candles\":150,\"duplicate\":false,"
	    "\"committed_ms\":1700000000340,\"metrics\":{\"queue_ms\":10,\"rate_wait_ms\":100,"
	    "\"api_ms\":200,\"parse_ms\":5,\"write_ms\":25,"
	    "\"total_ms\":340,\"overlap_analysis_ms\":null,"
	    "\"bytes\":4096,\"requested\":200,\"received\":200,"
	    "\"new\":150,\"duplicate\":false,\"from_coverage\":false}}\n"));
	assert_int_equal(m.chunks, 1);
	assert_int_equal(m.h_api.count, 1);
	/* a chunk whose leased and fetched events were missed (the monitor
	 * attached later): its API time is known, the other phases are not */
	buf_reset(&w.b);
	mc.ci.id = 8;
	b.len = 0;
	assert_int_equal(msg_encode_committed_ev(&b, &mc), 0);
	mon_on_event(&m, "committed", 9, b.data, b.len, &w);
	assert_non_null(strstr(w.b.data, "\"metrics\":{\"queue_ms\":null,\"rate_wait_ms\":null,"
	                                 "\"api_ms\":200,\"parse_ms\":null,\"write_ms\":null,"
	                                 "\"total_ms\":null,"));
	assert_int_equal(m.chunks, 2);
	assert_int_equal(m.h_api.count, 2);
	assert_int_equal(m.h_queue.count, 1);
	assert_int_equal(m.nsum.total_ms, 1);
	/* the same lease's re-issue (another attempt) is another lease */
	mc.ci.id = 7;
	mc.ci.attempt = 1;
	mon_chunk_metrics(&m, &mc, &k);
	assert_true(k.queue_ms == MON_UNKNOWN && k.api_ms == 200);

	/* a topic the monitor does not know: its size */
	buf_reset(&w.b);
	mon_on_event(&m, "hello", 5, "abc", 3, &w);
	assert_string_equal(w.b.data, "{\"topic\":\"hello\",\"bytes\":3}\n");
	/* a payload that does not decode: one error line, counted */
	buf_reset(&w.b);
	mon_on_event(&m, "committed", 9, "\xc1", 1, &w);
	assert_string_equal(
	    w.b.data, "{\"topic\":\"committed\",\"error\":\"undecodable payload\",\"bytes\":1}\n");
	buf_reset(&w.b);
	mon_on_event(&m, "failed", 6, "\x90", 1, &w);
	mon_on_event(&m, "fetched", 7, "\x90", 1, &w);
	mon_on_event(&m, "progress", 8, "\x90", 1, NULL);
	assert_string_equal(
	    w.b.data, "{\"topic\":\"failed\",\"error\":\"undecodable payload\",\"bytes\":1}\n"
	              "{\"topic\":\"fetched\",\"error\":\"undecodable payload\",\"bytes\":1}\n");
	assert_int_equal(m.ev_bad, 4);
	assert_int_equal(m.ev[T_OTHER], 1);
	assert_int_equal(m.ev[T_COMMITTED], 3);
	buf_free(&b);
	buf_free(&w.b);
}

static void
test_drain(void **state)
{
	void *ctx = zmq_ctx_new(), *tx = zmq_socket(ctx, ZMQ_PAIR), *rx = zmq_socket(ctx, ZMQ_PAIR);
	struct jw w = { { NULL, 0, 0, 0 }, 0 };

	(void)state;
	mon_init(&m);
	assert_int_equal(zmq_bind(rx, "inproc://mon"), 0);
	assert_int_equal(zmq_connect(tx, "inproc://mon"), 0);
	mon_drain(rx, &m, &w); /* nothing waiting */
	assert_int_equal(w.b.len, 0);
	zmq_send(tx, "hello", 5, ZMQ_SNDMORE);
	zmq_send(tx, "ab", 2, 0);
	zmq_send(tx, "alone", 5, 0); /* a topic without a payload */
	zmq_send(tx, "hello", 5, ZMQ_SNDMORE);
	zmq_send(tx, "xyz", 3, ZMQ_SNDMORE);
	zmq_send(tx, "extra", 5, 0); /* a frame more than an event has */
	zmq_send(tx, "hello", 5, ZMQ_SNDMORE);
	zmq_send(tx, "", 0, 0);
	mon_drain(rx, &m, &w);
	assert_string_equal(w.b.data, "{\"topic\":\"hello\",\"bytes\":2}\n"
	                              "{\"topic\":\"hello\",\"bytes\":3}\n"
	                              "{\"topic\":\"hello\",\"bytes\":0}\n");
	assert_int_equal(m.ev[T_OTHER], 3);
	assert_int_equal(m.ev_bad, 1);
	assert_true(m.last_event_mono_ms > 0);
	zmq_close(tx);
	zmq_close(rx);
	zmq_ctx_term(ctx);
	buf_free(&w.b);
}

/* Progress every second of a run: requests at 5/s, slots at 20/s. */
static void
feed_run(int64_t run, int secs, const struct tgt *t, int nt, const struct src *s, int ns)
{
	for (int i = 0; i <= secs; i++) {
		struct prog p = { run, 1000 * i, 2000, 200 + 20 * i, 200, 5 * i, 1000 * i,
			          0,   0,        10,   nt,           ns,  t,     s };
		feed_prog(&p);
	}
}

static void
test_prometheus(void **state)
{
	static const struct tgt odd[] = {
		{ "KRW-\"Q\\\nX", "1m", 2000, 300, 200, 5, 100, 1, "stuck" },
	};
	struct buf b = { NULL, 0, 0, 0 };
	struct chunk_info ci = chunk(1, "KRW-BTC", 1700000400, 1700000400 - 200 * 60, 200);
	struct msg_committed_ev mc;

	(void)state;
	mon_init(&m);
	mon_prom_render(&m, &b);
	assert_non_null(strstr(b.data, "\ncandlepipe_requests_total 0\n"));
	assert_non_null(strstr(b.data, "\ncandlepipe_predicted_remaining_seconds NaN\n"));
	feed_run(1, 4, odd, 1, one_source, 1);
	feed_run(2, 3, odd, 1, one_source, 1); /* a new run: counters add up */
	memset(&mc, 0, sizeof(mc));
	ci.api_ms = 3000; /* 3 s in the API */
	feed_times(&ci, &mc);
	mon_on_committed(&m, &mc);
	mon_update(&m);
	mon_prom_render(&m, &b);
	assert_non_null(strstr(b.data, "\ncandlepipe_requests_total 35\n"));
	assert_non_null(strstr(b.data, "\ncandlepipe_candles_received_total 7000\n"));
	assert_non_null(strstr(b.data, "\ncandlepipe_retries_total 2\n"));
	assert_non_null(strstr(b.data, "\ncandlepipe_events_total{topic=\"progress\"} 9\n"));
	/* label values escape quotes, backslashes and newlines */
	assert_non_null(strstr(
	    b.data, "\ncandlepipe_slots_total{market=\"KRW-\\\"Q\\\\\\nX\",timeframe=\"1m\"} "
	            "2000\n"));
	assert_non_null(strstr(
	    b.data, "\ncandlepipe_target_failed{market=\"KRW-\\\"Q\\\\\\nX\",timeframe=\"1m\"} "
	            "1\n"));
	assert_non_null(strstr(
	    b.data, "\ncandlepipe_source_allowed_requests_per_second{source=\"10.0.0.1\"} 10\n"));
	assert_non_null(strstr(b.data, "\ncandlepipe_chunk_api_seconds_bucket{le=\"2.5\"} 0\n"
	                               "candlepipe_chunk_api_seconds_bucket{le=\"5\"} 1\n"));
	assert_non_null(strstr(b.data, "\ncandlepipe_chunk_api_seconds_sum 3\n"
	                               "candlepipe_chunk_api_seconds_count 1\n"));
	assert_non_null(strstr(b.data, "\ncandlepipe_requests_per_second 5\n"));
	buf_free(&b);
}

static void
test_summary(void **state)
{
	static const struct tgt two[] = {
		{ "KRW-BTC", "1m", 2000, 1200, 200, 50, 1000, 0, "" },
		{ "KRW-ETH", "1m", 2000, 2000, 0, 10, 2000, 1, "HTTP 404" },
	};
	struct jw w = { { NULL, 0, 0, 0 }, 0 };

	(void)state;
	mon_init(&m);
	mon_json_summary(&m, &w); /* nothing seen yet */
	assert_non_null(strstr(w.b.data, "{\"topic\":\"summary\",\"connected\":false,\"run\":0,"));
	assert_non_null(strstr(w.b.data, "\"coverage_hit_ratio\":null,"));
	assert_non_null(strstr(w.b.data, "\"prediction\":{\"available\":false,\"method\":"));
	buf_reset(&w.b);
	w.comma = 0;
	feed_run(1, 12, two, 2, one_source, 1);
	mon_update(&m);
	mon_json_summary(&m, &w);
	assert_non_null(strstr(w.b.data,
	                       "\"targets\":[{\"market\":\"KRW-BTC\",\"timeframe\":\"1m\","
	                       "\"slots_total\":2000,\"slots_done\":1200,\"failed\":false},"
	                       "{\"market\":\"KRW-ETH\",\"timeframe\":\"1m\",\"slots_total\":"
	                       "2000,\"slots_done\":2000,\"failed\":true,\"reason\":\"HTTP "
	                       "404\"}],\"failed\":[{\"market\":\"KRW-ETH\",\"timeframe\":"
	                       "\"1m\",\"reason\":\"HTTP 404\"}],"));
	assert_non_null(strstr(w.b.data, "\"requests_per_s\":5,"));
	/* KRW-BTC: 800 slots left at 1000 / 50 = 20 slots per request: 40
	 * requests; KRW-ETH failed: none */
	assert_non_null(strstr(w.b.data,
	                       "\"prediction\":{\"available\":true,\"total_s\":20,"
	                       "\"remaining_s\":8,\"remaining_requests\":40,\"eta_utc\":"));
	{ /* ISO 8601 with the Z, as every UTC time printed */
		const char *eta = strstr(w.b.data, "\"eta_utc\":\"") + 11;
		assert_int_equal(strspn(eta, "0123456789-T:"), 19);
		assert_memory_equal(eta + 19, "Z\"", 2);
	}
	assert_non_null(
	    strstr(w.b.data, "\"pattern\":{\"type\":\"dense\",\"slots_per_candle\":1,"));
	buf_free(&w.b);
}

static void
test_rates_window(void **state)
{
	(void)state;
	mon_init(&m);
	/* 30 s of samples: only the last 10 s count */
	for (int i = 0; i <= 30; i++) {
		int64_t req = i < 20 ? i : 20 + 3 * (i - 20);
		struct prog p = { 1,  1000 * i, 2000, 200 + 10 * i, 200, req, 10 * i, 0, 0,
			          10, 1,        0,    one_target,   NULL };
		feed_prog(&p);
	}
	mon_update(&m);
	assert_true(fabs(m.rps - 3) < 1e-9);
	/* no sources: the allowed rate is --rate */
	assert_true(fabs(m.allowed_rate - 10) < 1e-9);
	/* the same run's clock went back: the planner restarted it */
	{
		struct prog p = { 1, 500, 2000, 100, 200, 1, 10, 0, 0, 4, 1, 0, one_target, NULL };
		feed_prog(&p);
	}
	mon_update(&m);
	assert_int_equal(m.nring, 1);
	assert_true(m.rps == 0);
	/* slots_done below slots_hit: progress is 0, not negative */
	assert_true(m.pred.progress == 0);
	assert_false(m.pred.available);
	assert_true(fabs(m.allowed_rate - 4) < 1e-9);
}

static void
test_chains(void **state)
{
	struct msg_committed_ev mc;
	char name[16];

	(void)state;
	mon_init(&m);
	memset(&mc, 0, sizeof(mc));
	/* two chunks of one target, the second continuing the first */
	mc.ci = chunk(1, "KRW-BTC", 1700000400, 1700000400 - 400 * 60, 200);
	mon_on_committed(&m, &mc);
	mc.ci = chunk(2, "KRW-BTC", 1700000400 - 400 * 60, 1700000400 - 600 * 60, 200);
	mon_on_committed(&m, &mc);
	assert_int_equal(m.chunks_ordered, 1);
	assert_int_equal(m.chain[0].candles, 400);
	/* an unknown timeframe counts but joins no chain */
	mc.ci.tf = 200;
	mon_on_committed(&m, &mc);
	assert_int_equal(m.chunks, 3);
	assert_int_equal(m.nchain, 1);
	/* more targets than chains: the rest are not followed */
	for (int i = 0; i < PATTERN_TARGETS_MAX + 2; i++) {
		snprintf(name, sizeof(name), "KRW-%d", i);
		mc.ci = chunk(10 + (uint64_t)i, name, 1700000400, 0, 0);
		mc.ci.history_end = 1;
		mc.duplicate = 1;
		mon_on_committed(&m, &mc);
	}
	assert_int_equal(m.nchain, PATTERN_TARGETS_MAX);
	assert_int_equal(m.chunks_cov, PATTERN_TARGETS_MAX + 2);
}

/* The view of m as text. */
static const char *
view(struct buf *b, int cols, int rows)
{
	mon_view_render(&m, b, cols, rows, "ipc://x  live");
	return b->data;
}

static void
test_view(void **state)
{
	static struct tgt many[12];
	static const struct src srcs[] = { { "10.0.0.1", 5, 2500 }, { "10.0.0.2", 5, 0 } };
	static char names[12][16];
	struct buf b = { NULL, 0, 0, 0 };
	struct msg_committed_ev mc;

	(void)state;
	mon_init(&m);
	assert_non_null(strstr(view(&b, 100, 40), "waiting for the pipeline's first progress"));
	for (int i = 0; i < 12; i++) {
		snprintf(names[i], sizeof(names[i]), "KRW-M%02d", i);
		many[i] =
		    (struct tgt){ names[i], "1m", 100, 50, 0, 5, 50, i < 5, i < 5 ? "gone" : "" };
	}
	many[0].reason = "";
	feed_run(3, 20, many, 12, srcs, 2);
	memset(&mc, 0, sizeof(mc));
	{
		struct chunk_info ci = chunk(1, "KRW-M00", 1700000400, 1700000400 - 200 * 60, 200);
		feed_times(&ci, &mc);
	}
	mon_on_committed(&m, &mc);
	mon_update(&m);
	view(&b, 200, 20);
	assert_non_null(strstr(b.data, "candlepipe monitor\033[0m  ipc://x  live"));
	/* 4 rows for targets: 4 bars, then the rest summed up */
	assert_non_null(strstr(b.data, "  KRW-M03    1m  [#########################"));
	assert_null(strstr(b.data, "KRW-M04    1m"));
	assert_non_null(strstr(b.data, "  ... and 8 more targets\033[K\n"));
	assert_non_null(strstr(b.data, "(rate_limit 10.0/source, 2 sources)"));
	assert_non_null(strstr(b.data, "             source 10.0.0.1 blocked for 2.5 s\033[K\n"));
	assert_null(strstr(b.data, "source 10.0.0.2 blocked"));
	assert_non_null(strstr(b.data, " failed      KRW-M00 1m: (no reason)\033[K\n"
	                               " failed      KRW-M01 1m: gone\033[K\n"));
	assert_non_null(strstr(b.data, " failed      KRW-M02 1m: gone\033[K\n  ...\033[K\n"));
	assert_non_null(
	    strstr(b.data, " chunks      1 committed (0 from coverage); avg ms: queue 10"));
	assert_non_null(strstr(b.data, " prediction  done in 7s at "));
	/* a long run, finished: the summary with hours */
	{
		struct prog p = {
			3, 3661000, 100, 100, 0, 7200, 720000, 1, 1, 10, 1, 0, many, NULL
		};
		feed_prog(&p);
	}
	mon_update(&m);
	view(&b, 200, 10);
	assert_non_null(strstr(b.data, " run 3 \033[1mfinished\033[0m in 1h01m01s\033[K\n"));
	assert_non_null(strstr(b.data, "  KRW-M00    1m  [#########################"));
	assert_non_null(strstr(b.data, " summary     100/100 slots covered (0 already there), "
	                               "720000 candles received, 360000 stored new\033[K\n"));
	assert_non_null(strstr(b.data, "100.0 candles/request, 0.0% coverage hit ratio, 2.0 MB"));
	assert_non_null(strstr(b.data, "             197 candles/s, 2.0 requests/s on average"));
	assert_non_null(strstr(b.data, "waiting for the next run (Ctrl-C to leave)"));
	buf_free(&b);
}

/* The widest line of a view, in columns (escape sequences take none). */
static int
widest(const char *s)
{
	int w = 0, col = 0;

	for (; *s; s++) {
		if (s[0] == '\033' && s[1] == '[') {
			for (s += 2; *s && !(*s >= 0x40 && *s <= 0x7e); s++)
				;
			if (*s == '\0')
				break;
			continue;
		}
		if (*s == '\n') {
			col = 0;
			continue;
		}
		if (((unsigned char)*s & 0xc0) != 0x80 && ++col > w)
			w = col;
	}
	return w;
}

static void
test_view_width(void **state)
{
	static const struct tgt wide[] = {
		{ "KRW-\xea\xb0\x80\xea\xb0\x80\xea\xb0\x80", "1m", 100, 50, 0, 5, 50, 1,
		  "a reason long enough to run past any narrow terminal's right edge" },
	};
	struct buf b = { NULL, 0, 0, 0 };

	(void)state;
	mon_init(&m);
	feed_run(1, 12, wide, 1, one_source, 1);
	mon_update(&m);
	for (int cols = 20; cols <= 120; cols += 10) {
		view(&b, cols, 40);
		assert_true(widest(b.data) <= cols);
		/* lines are cut, never dropped; colours are still reset */
		assert_non_null(strstr(b.data, " throughput"));
		assert_non_null(strstr(b.data, "\033[0m"));
	}
	view(&b, 200, 40);
	assert_true(widest(b.data) > 120); /* the width is not cut without need */
	/* a cut inside a multibyte character keeps it whole or drops it */
	view(&b, 8, 40);
	assert_non_null(strstr(b.data, "  KRW-\xea\xb0\x80\xea\xb0\x80\033[K"));
	view(&b, 7, 40);
	assert_non_null(strstr(b.data, "  KRW-\xea\xb0\x80\033[K"));
	buf_free(&b);
}

static void
test_rates_never_over_budget(void **state)
{
	struct buf b = { NULL, 0, 0, 0 };
	struct jw w = { { NULL, 0, 0, 0 }, 0 };
	double r = -1;

	(void)state;
	/* under a second: no rate at all */
	assert_int_equal(mon_rate(1, 95, &r), -1);
	assert_int_equal(mon_rate(1, 999, &r), -1);
	assert_true(r == -1);
	/* whole seconds: 10 requests in 1.05 s of a 10/s budget are 5/s, not 9.5 */
	assert_int_equal(mon_rate(10, 1050, &r), 0);
	assert_true(fabs(r - 5) < 1e-9);
	assert_int_equal(mon_rate(10, 1000, &r), 0);
	assert_true(fabs(r - 10) < 1e-9);
	assert_int_equal(mon_rate(0, 5000, &r), 0);
	assert_true(r == 0);
	/* a one-request run of 95 ms: n/a everywhere, never "10.5 req/s" */
	mon_init(&m);
	{
		struct prog p0 = { 1, 0, 10, 0, 0, 0, 0, 0, 0, 10, 1, 1, one_target, one_source };
		struct prog p1 = {
			1, 95, 10, 10, 0, 1, 10, 0, 1, 10, 1, 1, one_target, one_source
		};
		feed_prog(&p0);
		feed_prog(&p1);
	}
	mon_update(&m);
	assert_false(m.rates_known);
	mon_json_summary(&m, &w);
	assert_non_null(strstr(w.b.data, "\"candles_per_s\":null,\"requests_per_s\":null,"
	                                 "\"slots_per_s\":null,"));
	mon_prom_render(&m, &b);
	assert_non_null(strstr(b.data, "\ncandlepipe_requests_per_second NaN\n"));
	view(&b, 200, 40);
	assert_non_null(strstr(b.data, "             n/a candles/s, n/a requests/s on average"));
	assert_non_null(strstr(b.data, "             1 request, 1 retry, "));
	assert_non_null(strstr(b.data, "10 candles received"));
	/* the same run still going: the live line says n/a too */
	m.p.finished = 0;
	view(&b, 200, 40);
	assert_non_null(
	    strstr(b.data, " throughput  n/a candles/s   n/a requests/s of 10.0 allowed"));
	assert_non_null(strstr(b.data, "(rate_limit 10.0/source, 1 source)"));
	buf_free(&b);
	buf_free(&w.b);
}

static void
test_numbers_and_ids(void **state)
{
	static const struct src odd_rate[] = { { "10.0.0.1", 39.601, 0 } };
	struct buf b = { NULL, 0, 0, 0 };
	struct jw w = { { NULL, 0, 0, 0 }, 0 };
	struct chunk_info ci = chunk((1ULL << 53) + 1, "KRW-BTC", 1700000400, 1700000000, 1);
	struct buf mb = { 0 };

	(void)state;
	mon_init(&m);
	feed_run(1, 2, one_target, 1, odd_rate, 1);
	mon_update(&m);
	mon_prom_render(&m, &b);
	/* the shortest decimal that reads back the same, not 39.600999999999999 */
	assert_non_null(strstr(
	    b.data,
	    "\ncandlepipe_source_allowed_requests_per_second{source=\"10.0.0.1\"} 39.601\n"));
	assert_null(strstr(b.data, "39.600999"));
	mon_json_summary(&m, &w);
	assert_non_null(strstr(w.b.data, "\"allowed_rps\":39.601,"));
	/* a chunk id past 2^53 is a string, exactly */
	buf_reset(&w.b);
	w.comma = 0;
	assert_int_equal(msg_encode_leased_ev(&mb, &(struct msg_leased_ev){ .ci = ci }), 0);
	mon_on_event(&m, "leased", 6, mb.data, mb.len, &w);
	assert_non_null(strstr(w.b.data, "{\"topic\":\"leased\",\"id\":\"9007199254740993\","));
	buf_free(&mb);
	buf_free(&b);
	buf_free(&w.b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_progress_json),
		cmocka_unit_test(test_progress_rejects),
		cmocka_unit_test(test_event_lines),
		cmocka_unit_test(test_drain),
		cmocka_unit_test(test_prometheus),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_rates_window),
		cmocka_unit_test(test_chains),
		cmocka_unit_test(test_view),
		cmocka_unit_test(test_view_width),
		cmocka_unit_test(test_rates_never_over_budget),
		cmocka_unit_test(test_numbers_and_ids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
