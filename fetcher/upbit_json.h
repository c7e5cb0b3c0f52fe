/*
 * upbit_json.h: fail-closed parsing and validation of Upbit answers: the
 * candle array of /v1/candles/..., the error envelope, the Remaining-Req
 * header and the block time of a 418. Outside input is data to classify:
 * every function bounds-checks, never allocates, and never crashes.
 */
#ifndef CP_UPBIT_JSON_H
#define CP_UPBIT_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "candle.h"
#include "json_tok.h"
#include "tf.h"

#define UPBIT_BODY_MAX_BYTES (1024 * 1024)           /* larger bodies are rejected */
#define UPBIT_DEPTH_MAX JTOK_DEPTH_MAX               /* nesting of arrays and objects */
#define UPBIT_STRING_MAX_BYTES JTOK_STRING_MAX_BYTES /* any one string, even a skipped one */
#define UPBIT_ERR_NAME_MAX 48
#define UPBIT_ERR_MESSAGE_MAX 120

/* What was asked: the answer must match it. */
struct upbit_query {
	const char *market; /* e.g. "KRW-BTC" */
	enum tf tf;
	int64_t to;     /* exclusive: every start < to */
	unsigned count; /* at most this many candles (1..200) */
};

/*
 * Parses and validates a candle response body (a JSON array of candle
 * objects, newest first). On success returns the number of candles written
 * to out[0..], at most min(q->count, cap). On any defect returns -1 with a
 * one-line reason in err (errlen bytes, always NUL-terminated) and out in an
 * unspecified state. Decimal fields keep their exact JSON text.
 */
int upbit_parse_candles(const char *body, size_t len, const struct upbit_query *q,
                        struct candle *out, size_t cap, char *err, size_t errlen);

/* Upbit's error envelope {"error":{"name":<int or string>,"message":"..."}}. */
struct upbit_error {
	int has_code;                        /* name was an integer */
	long code;                           /* its value (the HTTP status) */
	char name[UPBIT_ERR_NAME_MAX];       /* name as text (number or string) */
	char message[UPBIT_ERR_MESSAGE_MAX]; /* truncated if longer; "" if absent */
};

/* 0 and *out filled if body is such an envelope (name or message present),
 * else -1 and *out untouched. */
int upbit_parse_error(const char *body, size_t len, struct upbit_error *out);

/* Block time of a 418 message in ms: the first integer followed by a unit
 * word (" seconds", "sec", "s"; also minutes), capped at one day; 0 if none. */
uint32_t upbit_block_ms(const char *message);

/* The header value "group=candles; min=600; sec=N" (len bytes, need not be
 * NUL-terminated): N clamped to 0..127, or -1 if absent, malformed or of
 * another group. */
int upbit_remaining_req(const char *value, size_t len);

#endif
