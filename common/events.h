/*
 * events.h: the live event stream. Every process publishes on a ZeroMQ PUB
 * socket connected to the planner's hub (--events, an XSUB); monitors
 * subscribe at the hub's XPUB (--monitor). Lossy by design: nothing waits
 * for a monitor, and with no subscriber nothing is even sent.
 *
 * Each event is two frames: a topic string and a msgpack payload. Every
 * event that is published is one line of EVENT_TOPICS, and every line is
 * published by its publisher: X(ID, topic, publisher, payload), payload
 * leased_ev, fetched_ev, committed_ev (the event bodies of proto_fields.h:
 * the ChunkInfo or the COMMITTED with the wall clock times that only the
 * monitor reads), failed (a FAILED message, proto.h) or progress (the map
 * below). Publishers name a topic as EV_<ID>; the monitor's topics and
 * decoders come from the same table.
 *
 * progress map keys (PROGRESS_KEYS, in this order; "v" first, as every
 * map event's, so that msg_peek_version reads it): "v" (PROTO_VERSION),
 * "run" (run id), "elapsed_ms", "slots_total", "slots_done", "slots_hit"
 * (already covered at start), "requests", "candles", "new_candles",
 * "retries", "n429", "n418", "bytes", "finished" (0/1), "analysis_us" (time
 * spent in overlap analysis so far), "chunks_planned" (chunks analysed),
 * "targets": array of [market, timeframe, slots_total, slots_done, slots_hit,
 *            requests, candles, failed (0/1), reason],
 * "sources": array of [source, allowed requests/s now, blocked ms left,
 *            requests sent, n429, n418, last Remaining-Req sec (-1 unknown)],
 * "rate_limit".
 */
#ifndef CP_EVENTS_H
#define CP_EVENTS_H

#include "proto.h"

/* The event payloads carry the protocol's version. */
#define EVENTS_VERSION PROTO_VERSION

#define EVENT_TOPICS(X)                                                                         \
	X(LEASED, "leased", "planner", leased_ev)    /* a chunk handed out */                   \
	X(FETCHED, "fetched", "fetcher", fetched_ev) /* the ChunkInfo with its outcome */       \
	X(HTTP, "http", "fetcher", failed)           /* a 429 or 418 answer, as it happens */   \
	X(RETRY, "retry", "planner", failed)         /* the chunk goes again */                 \
	X(FAILED, "failed", "planner", failed)       /* the chunk gave up or failed for good */ \
	X(COMMITTED, "committed", "writer", committed_ev) /* durable */                         \
	X(PROGRESS, "progress", "planner", progress)      /* once a second */

#define EV_ENUM_(id, topic, publisher, payload) EV_T_##id,
enum ev_topic { EVENT_TOPICS(EV_ENUM_) EV_T_COUNT };
#undef EV_ENUM_
extern const char *const ev_topic_names[EV_T_COUNT];
extern const char *const ev_topic_publishers[EV_T_COUNT];

/* The topic names for publishers: the table's, by id. */
#define EV_NAME(id) (ev_topic_names[EV_T_##id])
#define EV_LEASED EV_NAME(LEASED)
#define EV_FETCHED EV_NAME(FETCHED)
#define EV_HTTP EV_NAME(HTTP)
#define EV_RETRY EV_NAME(RETRY)
#define EV_FAILED EV_NAME(FAILED)
#define EV_COMMITTED EV_NAME(COMMITTED)
#define EV_PROGRESS EV_NAME(PROGRESS)

/* clang-format off */
#define PROGRESS_KEYS(X)                                                           \
	X(v) X(run) X(elapsed_ms) X(slots_total) X(slots_done) X(slots_hit)        \
	X(requests) X(candles) X(new_candles) X(retries) X(n429) X(n418) X(bytes)  \
	X(finished) X(analysis_us) X(chunks_planned) X(targets) X(sources)         \
	X(rate_limit)
/* clang-format on */
#define EV_ONE_(k) +1 /* NOLINT(bugprone-macro-parentheses): a term of a sum */
enum { EV_PROGRESS_NKEYS = 0 PROGRESS_KEYS(EV_ONE_) };
#undef EV_ONE_

#endif
