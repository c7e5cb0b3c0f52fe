/*
 * proto_fields.h: the wire schema, in one place. Every message and every
 * ChunkInfo field is one line of an X-macro table; the structs (proto.h),
 * the encoders, the decoders with their field counts, the range checks
 * (proto.c), the monitor's JSON (monitor/ingest.c) and the size benchmark
 * (bench/msgsize.c) are all expanded from these tables. Adding a field is
 * one line here; its position is its wire position.
 *
 * A field is X(kind, name, lo, hi, check, json):
 *   kind   U8 U16 U32 U64 (unsigned), I8 I64 (signed): the C type and the
 *          msgpack integer; STR: char name[hi], a msgpack str of at most
 *          hi - 1 bytes without NUL; CI: a whole ChunkInfo, flattened into
 *          the message; CANDLES: uint16_t n<name> and struct candle *<name>,
 *          one msgpack array of candles (at most hi)
 *   lo hi  the accepted range of an integer (both ends included); encoders
 *          refuse what decoders would refuse
 *   check  STR only: a predicate on the text (text_ok: any text;
 *          market_ok: non-empty printable ASCII without blanks); none else
 *   json   how the monitor prints it (--json): NUM, ID (a decimal string), BOOL, TEXT, TIME (epoch
 *          seconds as UTC text, ISO 8601 with Z), TF (key "timeframe", the timeframe's
 *          name), OVERLAP and KIND (the enum's name), CI (the ChunkInfo's
 *          fields in place), NONE (not printed)
 */
#ifndef CP_PROTO_FIELDS_H
#define CP_PROTO_FIELDS_H

/* ChunkInfo: one request of one segment, from plan to commit. Times are
 * epoch seconds (aligned slot starts) unless named _ms. */
#define CHUNK_INFO_FIELDS(X)                                                                       \
	X(U64, id, 0, UINT64_MAX, none, ID)     /* unique across planner runs */                   \
	X(U8, attempt, 0, UINT8_MAX, none, NUM) /* 0 first lease, +1 per re-issue */               \
	X(U8, tf, 0, TF_COUNT - 1, none, TF)    /* enum tf */                                      \
	X(STR, market, 0, MARKET_MAX, market_ok, TEXT)                                             \
	X(I64, to, 0, INT64_MAX, none, TIME) /* exclusive upper bound sent to Upbit */             \
	X(U16, count, 1, CANDLE_MAX_PER_RESPONSE, none, NUM)                                       \
	X(I64, seg_lo, 0, INT64_MAX, none, TIME) /* the segment ends at this slot (inclusive) */   \
	X(U8, overlap, 0, OV_END - 1, none, OVERLAP) /* of the window it was planned in */         \
	X(I64, cov_from, 0, INT64_MAX, none, NUM)    /* covered range it was planned against, */   \
	X(I64, cov_to, 0, INT64_MAX, none, NUM)      /* [cov_from, cov_to); equal if none */       \
	X(U32, lease_ms, 0, UINT32_MAX, none, NUM)   /* the lease lasts this long after receipt */ \
	X(U32, delay_ms, 0, UINT32_MAX, none, NUM)   /* rate token: send no earlier than this */   \
	/* outcome, filled by the fetcher */                                                       \
	X(U16, received, 0, CANDLE_MAX_PER_RESPONSE, none, NUM) /* candles in the response */      \
	X(I64, newest, 0, INT64_MAX, none, NUM)        /* newest start returned, 0 if none */      \
	X(I64, oldest, 0, INT64_MAX, none, NUM)        /* oldest start returned, 0 if none */      \
	X(I64, effective_end, 0, INT64_MAX, none, NUM) /* proved complete: [effective_end, to) */  \
	X(U8, history_end, 0, 1, none, BOOL) /* shorter than count: history starts here */         \
	X(U16, http_status, 0, 999, none, NUM)                                                     \
	X(I8, remaining_req, -1, INT8_MAX, none, NUM) /* Remaining-Req sec=, -1 unknown */         \
	X(U32, api_ms, 0, UINT32_MAX, none, NUM)      /* sent to answered (the planner hedges) */

/* The messages: X(TYPE, name, wire cap in bytes). The type numbers are
 * the order here, from 1; EVENT (6) is reserved, REFUSED (7) is frozen:
 * every version must read it (see proto.h). */
#define MSG_TYPES(X)                                                                          \
	X(READY, ready, MSG_MAX_BYTES)               /* fetcher -> planner */                 \
	X(LEASE, lease, CHUNK_INFO_WIRE_MAX)         /* planner -> fetcher */                 \
	X(RESULT, result, MSG_RESULT_MAX_BYTES)      /* fetcher -> writer */                  \
	X(FAILED, failed, MSG_MAX_BYTES)             /* fetcher -> planner */                 \
	X(COMMITTED, committed, MSG_MAX_BYTES)       /* writer -> planner */                  \
	X(EVENT, event, MSG_MAX_BYTES)               /* reserved: no message */               \
	X(REFUSED, refused, MSG_MAX_BYTES)           /* planner -> peer of another version */ \
	X(LEASED_EV, leased_ev, MSG_MAX_BYTES)       /* planner -> monitor: "leased" event */ \
	X(FETCHED_EV, fetched_ev, MSG_MAX_BYTES)     /* fetcher -> monitor: "fetched" */      \
	X(COMMITTED_EV, committed_ev, MSG_MAX_BYTES) /* writer -> monitor: "committed" */

/* The messages with a body struct msg_<name> (LEASE's body is the
 * struct chunk_info itself, EVENT has none). */
#define MSG_BODIES(X)           \
	X(READY, ready)         \
	X(RESULT, result)       \
	X(FAILED, failed)       \
	X(COMMITTED, committed) \
	X(REFUSED, refused)     \
	X(LEASED_EV, leased_ev) X(FETCHED_EV, fetched_ev) X(COMMITTED_EV, committed_ev)

/* Each message's fields after [version, type]. */
#define MSG_READY_FIELDS(X)                                                                      \
	X(U32, free_slots, 0, UINT32_MAX, none, NUM)  /* transfers this fetcher can start now */ \
	X(U32, leases_seen, 0, UINT32_MAX, none, NUM) /* LEASE messages received since start */  \
	X(STR, source, 0, SOURCE_MAX, text_ok, TEXT)  /* address its requests leave from */

#define MSG_LEASE_FIELDS(X) X(CI, ci, 0, 0, none, CI)

#define MSG_RESULT_FIELDS(X)                                             \
	X(CI, ci, 0, 0, none, CI)                                        \
	X(U32, bytes, 0, UINT32_MAX, none, NUM) /* response body size */ \
	X(CANDLES, candles, 0, CANDLE_MAX_PER_RESPONSE, none, NONE)

#define MSG_FAILED_FIELDS(X)                                                                \
	X(CI, ci, 0, 0, none, CI)                                                           \
	X(U8, kind, 1, FAIL_END - 1, none, KIND)         /* enum fail_kind */               \
	X(U32, retry_after_ms, 0, UINT32_MAX, none, NUM) /* 418 block time, 0 if unknown */ \
	X(STR, source, 0, SOURCE_MAX, text_ok, TEXT)                                        \
	X(STR, reason, 0, REASON_MAX, text_ok, TEXT)

#define MSG_COMMITTED_FIELDS(X)                                                                    \
	X(CI, ci, 0, 0, none, CI)                                                                  \
	X(U32, bytes, 0, UINT32_MAX, none, NUM)                                                    \
	X(U16, new_candles, 0, CANDLE_MAX_PER_RESPONSE, none, NUM) /* rows inserted (0: repeat) */ \
	X(U8, duplicate, 0, 1, none, BOOL) /* coverage already recorded: a repeated result */

/* The refusal of a message of another protocol version. Frozen: never
 * change this line, so that a peer of any version can read it. */
#define MSG_REFUSED_FIELDS(X)                                                                 \
	X(U32, speaks, 0, UINT32_MAX, none, NUM)     /* the refusing side's version */        \
	X(U32, heard, 0, UINT32_MAX, none, NUM)      /* the version of the refused message */ \
	X(STR, who, 0, PEER_NAME_MAX, text_ok, TEXT) /* the refusing program: "planner" */

/*
 * The event bodies (events.h): what only the monitor reads rides here, not
 * on the work messages. Times are wall clock epoch milliseconds, each taken
 * by the process that saw the moment; the monitor joins the three events of
 * a lease by (id, attempt) into the chunk's phases.
 */
#define MSG_LEASED_EV_FIELDS(X)                                                   \
	X(CI, ci, 0, 0, none, CI)                                                 \
	X(I64, planned_ms, 0, INT64_MAX, none, NUM) /* the chunk's first lease */ \
	X(I64, leased_ms, 0, INT64_MAX, none, NUM)  /* this lease (a re-issue: later) */

#define MSG_FETCHED_EV_FIELDS(X)                                             \
	X(CI, ci, 0, 0, none, CI)                                            \
	X(I64, sent_ms, 0, INT64_MAX, none, NUM)     /* the request left */  \
	X(I64, answered_ms, 0, INT64_MAX, none, NUM) /* the answer was in */ \
	X(I64, parsed_ms, 0, INT64_MAX, none, NUM)   /* its candles were validated */

#define MSG_COMMITTED_EV_FIELDS(X) \
	MSG_COMMITTED_FIELDS(X)    \
	X(I64, committed_ms, 0, INT64_MAX, none, NUM) /* after COMMIT */

#endif
