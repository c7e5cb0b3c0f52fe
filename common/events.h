/*
 * events.h: the live event stream. Every process publishes on a ZeroMQ PUB
 * socket connected to the planner's hub (--events, an XSUB); monitors
 * subscribe at the hub's XPUB (--monitor). Lossy by design: nothing waits
 * for a monitor, and with no subscriber nothing is even sent.
 *
 * Each event is two frames: a topic string and a msgpack payload.
 *
 *   topic       from     payload
 *   leased      planner  LEASE message (proto.h): a chunk handed out
 *   fetched     fetcher  LEASE encoding of the ChunkInfo with its outcome
 *                        (http_status, received, t_sent, t_answered, t_parsed)
 *   retry       planner  FAILED message: the chunk goes again
 *   failed      planner  FAILED message: the chunk gave up or failed for good
 *   committed   writer   COMMITTED message: durable (timings complete)
 *   progress    planner  map, once a second, see below
 *   proc        any      map {"name": str, "pid": int, "event": "start"|"exit",
 *                        "code": int}
 *
 * progress map keys: "v" (EVENTS_VERSION), "run" (run id), "elapsed_ms",
 * "slots_total", "slots_done", "slots_hit" (already covered at start),
 * "requests", "candles", "new_candles", "retries", "n429", "n418", "bytes",
 * "finished" (0/1), "analysis_us" (time spent in overlap analysis so far),
 * "chunks_planned" (chunks analysed),
 * "targets": array of [market, timeframe, slots_total, slots_done, slots_hit,
 *            requests, candles, failed (0/1), reason],
 * "sources": array of [source, allowed requests/s now, blocked ms left,
 *            requests sent, n429, n418, last Remaining-Req sec (-1 unknown)].
 */
#ifndef CP_EVENTS_H
#define CP_EVENTS_H

#define EVENTS_VERSION 1

#define EV_LEASED "leased"
#define EV_FETCHED "fetched"
#define EV_RETRY "retry"
#define EV_FAILED "failed"
#define EV_COMMITTED "committed"
#define EV_PROGRESS "progress"
#define EV_PROC "proc"

#endif
