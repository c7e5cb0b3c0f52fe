/*
 * mon.h: the monitor's model of a collection, built from the event stream
 * (common/events.h): the latest progress map, per-chunk performance metrics
 * from `committed` events, histograms, windowed rates, the completion
 * prediction and the pattern. Only the main thread touches it.
 */
#ifndef CP_MON_H
#define CP_MON_H

#include <limits.h>
#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "events.h"
#include "jsonw.h"
#include "pattern.h"
#include "proto.h"
#include "timeutil.h"

#define MON_TARGETS_MAX 256
#define MON_SOURCES_MAX 64
#define MON_TF_MAX 8
#define MON_REASON_MAX (REASON_MAX + 48)
#define MON_SAMPLES 128       /* progress samples kept (1/s) */
#define MON_WINDOW_MS 10000   /* rates and prediction window */
#define MON_PREDICT_FROM 0.10 /* predict from this progress on */
#define MON_HIST_N 13
#define MON_CHAIN_ENDS 16
#define MON_PROGRESS_MAX_BYTES (1024 * 1024)

struct mon_target {
	char market[MARKET_MAX];
	char tf[MON_TF_MAX];
	int64_t slots_total, slots_done, slots_hit, requests, candles;
	int failed;
	char reason[MON_REASON_MAX];
};

struct mon_source {
	char source[SOURCE_MAX];
	double allowed; /* requests/s now */
	int64_t blocked_ms, sent, n429, n418, remaining;
};

/* The progress map, decoded and type-checked. */
struct mon_progress {
	int64_t v, run, elapsed_ms, slots_total, slots_done, slots_hit;
	int64_t requests, candles, new_candles, retries, n429, n418, bytes;
	int64_t analysis_us, chunks_planned; /* the planner's overlap analysis */
	int finished;
	double rate_limit; /* configured --rate, 0 if absent */
	int nt, ns;
	struct mon_target t[MON_TARGETS_MAX];
	struct mon_source s[MON_SOURCES_MAX];
};

/* ChunkPerformanceMetrics of one committed chunk (milliseconds), from the
 * wall clock times of its leased, fetched and committed events; a phase
 * whose event the monitor did not see (it attached later, or the lossy
 * stream dropped it) is MON_UNKNOWN. api_ms rides on the ChunkInfo. */
#define MON_UNKNOWN INT64_MIN
struct mon_chunk {
	int64_t queue_ms;     /* planned (first lease) -> leased */
	int64_t rate_wait_ms; /* leased -> sent: waiting for the rate token */
	int64_t api_ms;       /* sent -> answered */
	int64_t parse_ms;     /* answered -> parsed */
	int64_t write_ms;     /* parsed -> committed */
	int64_t total_ms;     /* planned -> committed */
	int from_coverage;    /* COMPLETE_OVERLAP or a duplicate result */
};

/* The times of one lease (id, attempt) from its leased and fetched events,
 * kept until the ring wraps, for its committed event. */
#define MON_PENDING 1024
struct mon_times {
	uint64_t id;
	uint8_t attempt;
	uint8_t have; /* MON_HAVE_LEASED | MON_HAVE_FETCHED */
	int64_t planned_ms, leased_ms, sent_ms, answered_ms, parsed_ms;
};
enum { MON_HAVE_LEASED = 1, MON_HAVE_FETCHED = 2 };

struct mon_hist {
	uint64_t b[MON_HIST_N]; /* cumulative counts are built when printed */
	uint64_t count;
	double sum; /* seconds */
};
extern const double mon_hist_le[MON_HIST_N];

/* The topics of events.h's table, then any other. */
#define MON_TOPIC_(id, topic, publisher, payload) T_##id = EV_T_##id,
enum mon_topic { EVENT_TOPICS(MON_TOPIC_) T_OTHER = EV_T_COUNT, T_COUNT };
#undef MON_TOPIC_
extern const char *const mon_topic_names[T_COUNT];

/* Order analysis: the last committed chunk per target. */
struct mon_chain {
	char market[MARKET_MAX];
	uint8_t tf;
	int64_t ends[MON_CHAIN_ENDS]; /* where open chains' data ended (the planner
	                                 splits a target into parallel segments) */
	int next_end;
	int64_t slots, candles; /* spanned by non-final chunks, received */
};

struct mon_prediction {
	int available;
	double progress; /* work done: (done - hit) / (total - hit) */
	double total_s, remaining_s;
	double rps; /* request rate used */
	double remaining_requests;
};

struct monitor {
	int have_progress;
	struct mon_progress p;
	int64_t p_mono_ms; /* when the last progress arrived */
	/* counters summed over runs seen, for Prometheus */
	int64_t base_requests, base_candles, base_new, base_retries, base_429, base_418, base_bytes;
	/* progress samples of the current run */
	struct {
		int64_t t, slots, requests, candles;
	} ring[MON_SAMPLES];
	int nring, ring_head;
	double rps, cps, sps; /* windowed requests, candles, slots per s (0 if */
	int rates_known;      /* not rates_known: under a second of samples) */
	/* events */
	uint64_t ev[T_COUNT], ev_bad;
	int64_t last_event_mono_ms;
	/* chunks of the current run */
	uint64_t chunks, chunks_cov, chunks_ordered;
	struct mon_chunk sum;  /* sums of the run's known chunk metrics */
	struct mon_chunk nsum; /* how many of each phase are known */
	struct mon_chunk last;
	struct mon_times pend[MON_PENDING];
	int pend_next;
	struct mon_chain chain[PATTERN_TARGETS_MAX];
	int nchain;
	/* lifetime histograms (seconds) */
	struct mon_hist h_queue, h_wait, h_api, h_parse, h_write, h_total;
	uint64_t chunks_all, chunks_cov_all;
	/* derived each tick */
	struct mon_prediction pred;
	struct pattern_result pat;
	double allowed_rate; /* sum of the sources' allowed rates */
};

void mon_init(struct monitor *m);
/* msgpack field readers, -1 on a wrong type (out untouched): an integer
 * within int64_t, a string truncated to cap - 1 bytes; key comparison. */
int mon_get_int(const msgpack_object *o, int64_t *out);
int mon_get_str(const msgpack_object *o, char *out, size_t cap);
int mon_key_is(const msgpack_object *k, const char *s);
/* Decodes a progress payload into *out; 0 or -1 (out untouched). */
int mon_decode_progress(const void *data, size_t len, struct mon_progress *out);
/* Feeds one decoded progress event (now = monotonic ms). */
void mon_on_progress(struct monitor *m, const struct mon_progress *p, int64_t now);
/* The times of a lease, from its leased and fetched events. */
void mon_on_leased(struct monitor *m, const struct msg_leased_ev *e);
void mon_on_fetched(struct monitor *m, const struct msg_fetched_ev *e);
/* Computes a committed chunk's metrics (m->last) and feeds them in. */
void mon_chunk_metrics(const struct monitor *m, const struct msg_committed_ev *c,
                       struct mon_chunk *out);
void mon_on_committed(struct monitor *m, const struct msg_committed_ev *c);
/* n events over ms milliseconds as a rate per second that never reads
 * above a per-second budget: n / ceil(ms / 1000). -1 (no rate: "n/a")
 * under one second. */
int mon_rate(int64_t n, int64_t ms, double *rate);
/* Recomputes rates, prediction and pattern. */
void mon_update(struct monitor *m);
/* Cumulative totals across runs. */
int64_t mon_total(const struct monitor *m, int64_t base, int64_t cur);

/* Events (ingest.c): one event into the model and, if w is not NULL, its
 * JSON line into w; mon_drain receives every waiting event from sub. */
void mon_on_event(struct monitor *m, const char *topic, size_t tlen, const void *data, size_t len,
                  struct jw *w);
void mon_drain(void *sub, struct monitor *m, struct jw *w);

/* A UTC time as a person reads it: ISO 8601 with the Z ("...T12:00:00Z"). */
#define MON_UTC_LEN (TIME_TEXT_LEN + 1)
void mon_time_utc(int64_t t, char out[MON_UTC_LEN]);

/* Output: JSON (summary object and events), Prometheus text, the view. */
void mon_json_summary(const struct monitor *m, struct jw *w);
void mon_json_chunk(struct jw *w, const struct chunk_info *ci);
/* analysis_ms: the planner's average overlap analysis per chunk (NaN if
 * unknown yet). */
void mon_json_metrics(struct jw *w, const struct msg_committed_ev *c, const struct mon_chunk *k,
                      double analysis_ms);
/* The planner's average overlap-analysis time per chunk, or NaN. */
double mon_analysis_ms(const struct monitor *m);
void mon_json_progress(struct jw *w, const struct mon_progress *p);
void mon_prom_render(const struct monitor *m, struct buf *b);
/* Draws the terminal view (ANSI) into b. status: a line about the connection. */
void mon_view_render(const struct monitor *m, struct buf *b, int cols, int rows,
                     const char *status);

/* Prometheus HTTP server (libmicrohttpd, its own thread). */
int prom_start(const char *addr_port, const char *port_file);
void prom_publish(const struct buf *text);
void prom_stop(void);

#endif
