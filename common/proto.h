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
 *   everyone --EVENT--> monitor (PUB/SUB, lossy by design, events.h)
 *   planner --REFUSED--> peer (a message of another protocol version)
 *
 * What only the monitor reads (the wall clock times of a chunk's phases)
 * rides on the events, not on LEASE, RESULT and COMMITTED: LEASED_EV,
 * FETCHED_EV and COMMITTED_EV are the events' bodies, never work.
 *
 * The hello: every envelope carries PROTO_VERSION, so a connection's first
 * message (a fetcher's READY, the writer's first COMMITTED, the first event
 * a monitor receives) is its hello. A mismatch is rejected, not guessed at:
 * the planner answers it with REFUSED [its version, 7, speaks, heard, who]
 * (a layout no version may change) and logs it; a fetcher that receives a
 * REFUSED or a LEASE of another version, and a monitor that receives an
 * event of another version, exit 3 (EXIT_PERMFAIL) with one line naming
 * both versions. The fields of every message are in proto_fields.h.
 */
#ifndef CP_PROTO_H
#define CP_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "candle.h"

#include "proto_fields.h"

#define PROTO_VERSION 2                   /* 2: the monitor's timings left the work messages */
#define MARKET_MAX 16                     /* longest market code + NUL */
#define SOURCE_MAX 48                     /* source address text + NUL */
#define REASON_MAX 160                    /* failure text + NUL */
#define PEER_NAME_MAX 16                  /* a program's name in a REFUSED + NUL */
#define CHUNK_INFO_WIRE_MAX 128           /* a LEASE message never exceeds this */
#define MSG_MAX_BYTES (64 * 1024)         /* larger messages are rejected unread */
#define MSG_RESULT_MAX_BYTES (256 * 1024) /* the RESULT message's own cap */

#define PROTO_ENUM_(T, n, max) MSG_##T,
enum msg_type { MSG_NONE, MSG_TYPES(PROTO_ENUM_) MSG_TYPE_END };
#undef PROTO_ENUM_
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
	FAIL_TOKEN_LATE,   /* not sent: the fetcher reached the rate token too late */
	FAIL_END
};

/* A rate token is used at most this late (the fetcher sends FAIL_TOKEN_LATE
 * instead); the planner's spacing leaves this much slack per one-second
 * window, so that a request started that late cannot make two fall into one. */
#define TOKEN_LATE_MAX_MS 15
extern const char *const fail_kind_names[FAIL_END];

/* The structs, one member per field of the tables (proto_fields.h). */
#define PROTO_MEMBER_(kind, name, lo, hi, check, json) PROTO_MEMBER_##kind(name, hi);
#define PROTO_MEMBER_U8(name, hi) uint8_t name
#define PROTO_MEMBER_U16(name, hi) uint16_t name
#define PROTO_MEMBER_U32(name, hi) uint32_t name
#define PROTO_MEMBER_U64(name, hi) uint64_t name
#define PROTO_MEMBER_I8(name, hi) int8_t name
#define PROTO_MEMBER_I64(name, hi) int64_t name
#define PROTO_MEMBER_STR(name, hi) char name[hi]
#define PROTO_MEMBER_CI(name, hi) struct chunk_info name
/* decode: the caller provides CANDLE_MAX_PER_RESPONSE candles at name */
#define PROTO_MEMBER_CANDLES(name, hi) \
	uint16_t n##name;              \
	struct candle *name

struct chunk_info {
	CHUNK_INFO_FIELDS(PROTO_MEMBER_)
};

#define PROTO_STRUCT_(T, n)                     \
	struct msg_##n {                        \
		MSG_##T##_FIELDS(PROTO_MEMBER_) \
	};
MSG_BODIES(PROTO_STRUCT_)
#undef PROTO_STRUCT_

/* Encoders write into a struct buf (buf.h), never past MSG_RESULT_MAX_BYTES. */

/* Encoders append one whole message to b (reset it first); 0 or -1. */
int msg_encode_ready(struct buf *b, const struct msg_ready *m);
int msg_encode_lease(struct buf *b, const struct chunk_info *ci);
int msg_encode_result(struct buf *b, const struct msg_result *m);
int msg_encode_failed(struct buf *b, const struct msg_failed *m);
int msg_encode_committed(struct buf *b, const struct msg_committed *m);
int msg_encode_refused(struct buf *b, const struct msg_refused *m);
int msg_encode_leased_ev(struct buf *b, const struct msg_leased_ev *m);
int msg_encode_fetched_ev(struct buf *b, const struct msg_fetched_ev *m);
int msg_encode_committed_ev(struct buf *b, const struct msg_committed_ev *m);

/* Returns the message type of a well-formed envelope of this version, or -1. */
int msg_peek_type(const void *data, size_t len);
/* The protocol version of any message of any version (an array whose first
 * element is its version), or of a map event whose first key is "v"; -1 if
 * it has none. A version other than PROTO_VERSION is refused, not guessed
 * at: see msg_refusal_text. */
int64_t msg_peek_version(const void *data, size_t len);
/* "the PEER speaks protocol THEIRS, this SELF protocol PROTO_VERSION:
 * rebuild one of them" into buf (the line every refusal logs). */
void msg_refusal_text(char *buf, size_t cap, const char *peer, int64_t theirs, const char *self);
/* Decoders: 0 and *out filled, or -1 and *out untouched. */
int msg_decode_ready(const void *data, size_t len, struct msg_ready *out);
int msg_decode_lease(const void *data, size_t len, struct chunk_info *out);
int msg_decode_result(const void *data, size_t len, struct msg_result *out);
int msg_decode_failed(const void *data, size_t len, struct msg_failed *out);
int msg_decode_committed(const void *data, size_t len, struct msg_committed *out);
/* REFUSED is read in any envelope version (its layout is frozen). */
int msg_decode_refused(const void *data, size_t len, struct msg_refused *out);
/* The event bodies (events.h). */
int msg_decode_leased_ev(const void *data, size_t len, struct msg_leased_ev *out);
int msg_decode_fetched_ev(const void *data, size_t len, struct msg_fetched_ev *out);
int msg_decode_committed_ev(const void *data, size_t len, struct msg_committed_ev *out);

#endif
