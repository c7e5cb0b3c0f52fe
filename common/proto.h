/*
 * proto.h: the one protocol header. Every message between planner, fetchers,
 * writer and monitor is a msgpack array [PROTO_VERSION, type, body...].
 * Decoders fail closed: truncated input, trailing bytes, wrong version, wrong
 * types or out-of-range values return -1 and leave the output untouched.
 *
 * Flow:
 *   fetcher --READY-->  planner (free transfer slots; also the heartbeat)
 *   planner --LEASE-->  fetcher (a ChunkInfo with a rate token: delay_ms)
 *   fetcher --RESULT--> writer  (the ChunkInfo outcome and the candles)
 *   fetcher --FAILED--> planner (temporary or permanent failure, 429, 418)
 *   writer  --COMMITTED--> planner (after COMMIT: the chunk is durable)
 *   everyone --EVENT--> monitor (PUB/SUB, lossy by design)
 */
#ifndef CP_PROTO_H
#define CP_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "candle.h"

#define PROTO_VERSION 1
#define MARKET_MAX 16                     /* longest market code + NUL */
#define SOURCE_MAX 48                     /* source address text + NUL */
#define REASON_MAX 160                    /* failure text + NUL */
#define CHUNK_INFO_WIRE_MAX 128           /* a LEASE message never exceeds this */
#define MSG_MAX_BYTES (64 * 1024)         /* larger messages are rejected unread */
#define MSG_RESULT_MAX_BYTES (256 * 1024) /* the RESULT message's own cap */

enum msg_type {
	MSG_READY = 1,
	MSG_LEASE,
	MSG_RESULT,
	MSG_FAILED,
	MSG_COMMITTED,
	MSG_EVENT,
	MSG_TYPE_END
};
extern const char *const msg_type_names[MSG_TYPE_END];

/* The original system's overlap statuses (see planner/overlap.c). */
enum overlap {
	OV_NO_OVERLAP,
	OV_COMPLETE_OVERLAP,
	OV_PARTIAL_START,
	OV_PARTIAL_MIDDLE_CONTINUOUS,
	OV_PARTIAL_MIDDLE_FRAGMENT,
	OV_END
};
extern const char *const overlap_names[OV_END];

/* Why a chunk failed. TEMP kinds are retried by the planner, PERM never. */
enum fail_kind {
	FAIL_TEMP_HTTP = 1, /* 5xx */
	FAIL_TEMP_NET,      /* reset, timeout, stalled transfer */
	FAIL_TEMP_BODY,     /* truncated, malformed or invalid body */
	FAIL_RATE_429,
	FAIL_BLOCKED_418,
	FAIL_PERM_MARKET,  /* 404 Code not found */
	FAIL_PERM_REQUEST, /* other 4xx */
	FAIL_END
};
extern const char *const fail_kind_names[FAIL_END];

/* ChunkInfo: one request of one segment, from plan to commit. Times are epoch
 * seconds (aligned slot starts) unless named _ms. */
struct chunk_info {
	uint64_t id;     /* unique across planner runs */
	uint8_t attempt; /* 0 first lease, +1 per re-issue */
	uint8_t tf;      /* enum tf */
	char market[MARKET_MAX];
	int64_t to;        /* exclusive upper bound sent to Upbit */
	uint16_t count;    /* 1..200 */
	int64_t seg_lo;    /* the segment ends at this slot (inclusive) */
	uint8_t overlap;   /* enum overlap of the window it was planned in */
	int64_t cov_from;  /* covered range it was planned against, */
	int64_t cov_to;    /* [cov_from, cov_to); equal if none */
	uint32_t lease_ms; /* the lease lasts this long after receipt */
	uint32_t delay_ms; /* rate token: send no earlier than this after receipt */
	/* outcome, filled by the fetcher */
	uint16_t received;     /* candles in the response */
	int64_t newest;        /* newest start returned, 0 if none */
	int64_t oldest;        /* oldest start returned, 0 if none */
	int64_t effective_end; /* proved complete: [effective_end, to) */
	uint8_t history_end;   /* response shorter than count: history starts here */
	uint16_t http_status;
	int8_t remaining_req; /* Remaining-Req sec=, -1 unknown */
	/* timings: wall clock ms of planning, then offsets from it in ms */
	int64_t planned_ms;
	uint32_t t_leased, t_sent, t_answered, t_parsed, t_committed;
};

struct msg_ready {
	uint32_t free_slots;     /* transfers this fetcher can start now */
	uint32_t leases_seen;    /* total LEASE messages received since start */
	char source[SOURCE_MAX]; /* source address its requests leave from */
};

struct msg_result {
	struct chunk_info ci;
	uint32_t bytes; /* response body size */
	uint16_t ncandles;
	struct candle *candles; /* decode: caller provides CANDLE_MAX_PER_RESPONSE */
};

struct msg_failed {
	struct chunk_info ci;
	uint8_t kind;            /* enum fail_kind */
	uint32_t retry_after_ms; /* 418 block time, 0 if unknown */
	char source[SOURCE_MAX];
	char reason[REASON_MAX];
};

struct msg_committed {
	struct chunk_info ci;
	uint32_t bytes;
	uint16_t new_candles; /* rows actually inserted (0 for a repeat) */
	uint8_t duplicate;    /* coverage already recorded: a repeated result */
};

/* Growable output buffer for encoders. */
struct msgbuf {
	char *data;
	size_t len, cap;
};
void msgbuf_free(struct msgbuf *b);

/* Encoders append one whole message to b (reset it first); 0 or -1. */
int msg_encode_ready(struct msgbuf *b, const struct msg_ready *m);
int msg_encode_lease(struct msgbuf *b, const struct chunk_info *ci);
int msg_encode_result(struct msgbuf *b, const struct msg_result *m);
int msg_encode_failed(struct msgbuf *b, const struct msg_failed *m);
int msg_encode_committed(struct msgbuf *b, const struct msg_committed *m);

/* Returns the message type of a well-formed envelope, or -1. */
int msg_peek_type(const void *data, size_t len);
/* Decoders: 0 and *out filled, or -1 and *out untouched. */
int msg_decode_ready(const void *data, size_t len, struct msg_ready *out);
int msg_decode_lease(const void *data, size_t len, struct chunk_info *out);
int msg_decode_result(const void *data, size_t len, struct msg_result *out);
int msg_decode_failed(const void *data, size_t len, struct msg_failed *out);
int msg_decode_committed(const void *data, size_t len, struct msg_committed *out);

#endif
