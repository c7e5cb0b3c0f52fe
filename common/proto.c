/*
 * proto.c: the message codecs. Encoding uses msgpack-c's packer writing into
 * a capped, growable buffer (buf.h); decoding uses a small hand-written msgpack
 * reader that bounds-checks every length against the input before reading,
 * accepts only the msgpack types each field allows, range-checks every value
 * and rejects trailing bytes. Decoders fill a local copy and publish it only
 * on success, so the caller's output is untouched on error. Encoders apply
 * the same semantic checks, so we never emit what we would refuse to read.
 * Owns the name tables and the wire layout, all of it expanded from the
 * tables of proto_fields.h (the field order there is the wire order):
 *
 *   ci        = CHUNK_INFO_FIELDS, flattened
 *   READY     [v, 1, free_slots, leases_seen, source]
 *   LEASE     [v, 2, ci...]                        (<= CHUNK_INFO_WIRE_MAX bytes)
 *   RESULT    [v, 3, ci..., bytes, [candle...]]     (<= MSG_RESULT_MAX_BYTES)
 *   FAILED    [v, 4, ci..., kind, retry_after_ms, source, reason]
 *   COMMITTED [v, 5, ci..., bytes, new_candles, duplicate]
 *   REFUSED   [v, 7, speaks, heard, who]            (frozen, read in any v)
 *   the event bodies (events.h), never sent as work:
 *   LEASED_EV    [v, 8, ci..., planned_ms, leased_ms]
 *   FETCHED_EV   [v, 9, ci..., sent_ms, answered_ms, parsed_ms]
 *   COMMITTED_EV [v, 10, ci..., bytes, new_candles, duplicate, committed_ms]
 *   candle    = [start, timestamp_ms, unit, first_day, num0 .. num9]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "events.h"
#include "proto.h"
#include "tf.h"

/* A RESULT carries up to 200 candles of ~450 bytes: it gets its own cap. */
#define MSGBUF_MAX_BYTES MSG_RESULT_MAX_BYTES
/* the msgpack elements of a field: a ChunkInfo is flattened */
#define WIRE_U8 1
#define WIRE_U16 1
#define WIRE_U32 1
#define WIRE_U64 1
#define WIRE_I8 1
#define WIRE_I64 1
#define WIRE_STR 1
#define WIRE_CI CI_FIELDS
#define WIRE_CANDLES 1
#define WIRE_(kind, name, lo, hi, check, json) \
	+WIRE_##kind /* NOLINT(bugprone-macro-parentheses): a term of a sum */
#define ONE_(kind, name, lo, hi, check, json) \
	+1 /* NOLINT(bugprone-macro-parentheses): a term of a sum */
enum { CI_FIELDS = 0 CHUNK_INFO_FIELDS(ONE_) };
#define CANDLE_FIELDS (4 + CN_COUNT)
#define CANDLE_UNIT_MAX 1440
#define FIRST_DAY_MAX 11

#define TYPE_NAME_(T, n, max) [MSG_##T] = #T,
const char *const msg_type_names[MSG_TYPE_END] = { [MSG_NONE] = "NONE", MSG_TYPES(TYPE_NAME_) };

#define EV_NAME_(id, topic, publisher, payload) [EV_T_##id] = (topic),
const char *const ev_topic_names[EV_T_COUNT] = { EVENT_TOPICS(EV_NAME_) };
#define EV_PUBLISHER_(id, topic, publisher, payload) [EV_T_##id] = (publisher),
const char *const ev_topic_publishers[EV_T_COUNT] = { EVENT_TOPICS(EV_PUBLISHER_) };

const char *const overlap_names[OV_END] = {
	[OV_NO_OVERLAP] = "NO_OVERLAP",
	[OV_COMPLETE_OVERLAP] = "COMPLETE_OVERLAP",
	[OV_PARTIAL_START] = "PARTIAL_START",
	[OV_PARTIAL_MIDDLE_CONTINUOUS] = "PARTIAL_MIDDLE_CONTINUOUS",
	[OV_PARTIAL_MIDDLE_FRAGMENT] = "PARTIAL_MIDDLE_FRAGMENT",
};

const char *const fail_kind_names[FAIL_END] = {
	[0] = "none",
	[FAIL_TEMP_HTTP] = "temp_http",
	[FAIL_TEMP_NET] = "temp_net",
	[FAIL_TEMP_BODY] = "temp_body",
	[FAIL_RATE_429] = "rate_429",
	[FAIL_BLOCKED_418] = "blocked_418",
	[FAIL_PERM_MARKET] = "perm_market",
	[FAIL_PERM_REQUEST] = "perm_request",
	[FAIL_TOKEN_LATE] = "token_late",
};

#define CAP_(T, n, max) [MSG_##T] = (max),
static const size_t msg_cap[MSG_TYPE_END] = { MSG_TYPES(CAP_) };

/* ---- semantic checks shared by encoders and decoders ---- */

/* A string field: NUL-terminated within cap (the reader guarantees it). */
static int
str_ok(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

static int
market_ok(const char *s)
{
	size_t n;

	if (!str_ok(s, MARKET_MAX) || (n = strlen(s)) == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return 0;
	return 1;
}

/* Any text (str_ok is checked for every STR field first). */
static int
text_ok(const char *s)
{
	(void)s;
	return 1;
}

static int
u_in(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v >= lo && v <= hi;
}

static int
i_in(int64_t v, int64_t lo, int64_t hi)
{
	return v >= lo && v <= hi;
}

static int ci_ok(const struct chunk_info *ci);
static int candles_ok(const struct candle *c, uint16_t n, uint16_t max);

/* A field's check (proto_fields.h): its range, its text predicate. */
#define OK_U8(m, n, lo, hi, ck) u_in((m)->n, lo, hi)
#define OK_U16 OK_U8
#define OK_U32 OK_U8
#define OK_U64 OK_U8
#define OK_I8(m, n, lo, hi, ck) i_in((m)->n, lo, hi)
#define OK_I64 OK_I8
#define OK_STR(m, n, lo, hi, ck) (str_ok((m)->n, sizeof((m)->n)) && ck((m)->n))
#define OK_CI(m, n, lo, hi, ck) ci_ok(&(m)->n)
#define OK_CANDLES(m, f, lo, hi, ck) candles_ok((m)->f, (m)->n##f, hi)
#define OK_(kind, name, lo, hi, check, json) &&OK_##kind(m, name, lo, hi, check)

/* Every field in its range; the covered range is a range. */
static int
ci_ok(const struct chunk_info *m)
{
	return 1 CHUNK_INFO_FIELDS(OK_) && m->cov_to >= m->cov_from;
}

/* Skips a run of at least one digit; 0, or -1 if *p is not a digit. */
static int
skip_digits(const char **p)
{
	if (**p < '0' || **p > '9')
		return -1;
	while (**p >= '0' && **p <= '9')
		(*p)++;
	return 0;
}

/* An optional sign, then digits. */
static int
skip_signed_digits(const char **p)
{
	if (**p == '+' || **p == '-')
		(*p)++;
	return skip_digits(p);
}

/* Plain decimal: [+-]digits[.digits][(e|E)[+-]digits]; "" means absent. */
static int
decimal_ok(const char *s)
{
	const char *p = s;

	if (*p == '\0')
		return 1;
	if (skip_signed_digits(&p) == -1)
		return 0;
	if (*p == '.') {
		p++;
		if (skip_digits(&p) == -1)
			return 0;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (skip_signed_digits(&p) == -1)
			return 0;
	}
	return *p == '\0';
}

/* "" or "YYYY-MM-DD" (shape only; the writer stores it as text). */
static int
first_day_ok(const char *s)
{
	if (!str_ok(s, FIRST_DAY_MAX))
		return 0;
	if (s[0] == '\0')
		return 1;
	for (int i = 0; i < 10; i++) {
		if (i == 4 || i == 7) {
			if (s[i] != '-')
				return 0;
		} else if (s[i] < '0' || s[i] > '9') {
			return 0;
		}
	}
	return s[10] == '\0';
}

static int
candle_ok(const struct candle *c)
{
	if (c->start < 0 || c->timestamp_ms < 0 || c->unit < 0 || c->unit > CANDLE_UNIT_MAX ||
	    !first_day_ok(c->first_day))
		return 0;
	for (int i = 0; i < CN_COUNT; i++)
		if (!str_ok(c->num[i], CANDLE_NUM_MAX) || !decimal_ok(c->num[i]))
			return 0;
	return 1;
}

static int
candles_ok(const struct candle *c, uint16_t n, uint16_t max)
{
	if (n > max || (n > 0 && c == NULL))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!candle_ok(&c[i]))
			return 0;
	return 1;
}

/* ---- encoding ---- */

struct enc {
	msgpack_packer pk;
	struct buf *b;
	size_t start;
	int err;
};

static int
enc_write(void *data, const char *buf, size_t len)
{
	struct enc *e = data;

	if (e->err)
		return -1;
	if (buf_add(e->b, buf, len, MSGBUF_MAX_BYTES) == -1) {
		e->err = 1;
		return -1;
	}
	return 0;
}

static void
enc_begin(struct enc *e, struct buf *b, enum msg_type type, size_t nfields)
{
	e->b = b;
	e->start = b->len;
	e->err = 0;
	msgpack_packer_init(&e->pk, e, enc_write);
	msgpack_pack_array(&e->pk, nfields);
	msgpack_pack_uint64(&e->pk, PROTO_VERSION);
	msgpack_pack_uint64(&e->pk, (uint64_t)type);
}

/* 0, or -1 with b restored to its length before the message. */
static int
enc_end(struct enc *e, size_t max)
{
	if (e->err || e->b->len - e->start > max) {
		/* b as it was: enc_begin saw no error on it */
		e->b->len = e->start;
		e->b->err = 0;
		if (e->b->data != NULL)
			e->b->data[e->start] = '\0';
		return -1;
	}
	return 0;
}

static void
enc_str(struct enc *e, const char *s)
{
	size_t n = strlen(s);

	msgpack_pack_str(&e->pk, n);
	msgpack_pack_str_body(&e->pk, s, n);
}

/* A field's encoding (proto_fields.h). */
#define ENC_U8(e, m, n) msgpack_pack_uint64(&(e)->pk, (m)->n)
#define ENC_U16 ENC_U8
#define ENC_U32 ENC_U8
#define ENC_U64 ENC_U8
#define ENC_I8(e, m, n) msgpack_pack_int64(&(e)->pk, (m)->n)
#define ENC_I64 ENC_I8
#define ENC_STR(e, m, n) enc_str(e, (m)->n)
#define ENC_CI(e, m, n) enc_ci(e, &(m)->n)
#define ENC_CANDLES(e, m, f) enc_candles(e, (m)->f, (m)->n##f)
#define ENC_(kind, name, lo, hi, check, json) ENC_##kind(e, m, name);

static void
enc_ci(struct enc *e, const struct chunk_info *m)
{
	CHUNK_INFO_FIELDS(ENC_)
}

static void
enc_candles(struct enc *e, const struct candle *c, uint16_t n)
{
	msgpack_pack_array(&e->pk, n);
	for (size_t i = 0; i < n; i++) {
		msgpack_pack_array(&e->pk, CANDLE_FIELDS);
		msgpack_pack_int64(&e->pk, c[i].start);
		msgpack_pack_int64(&e->pk, c[i].timestamp_ms);
		msgpack_pack_int64(&e->pk, c[i].unit);
		enc_str(e, c[i].first_day);
		for (int j = 0; j < CN_COUNT; j++)
			enc_str(e, c[i].num[j]);
	}
}

/* Per message: its checks, its encoder (msg_encode_<name>) and its field
 * count, from MSG_<TYPE>_FIELDS. */
#define BODY_CODEC_(T, n)                                                \
	enum { NFIELDS_##T = 2 MSG_##T##_FIELDS(WIRE_) };                \
	static int ok_##n(const struct msg_##n *m)                       \
	{                                                                \
		return 1 MSG_##T##_FIELDS(OK_);                          \
	}                                                                \
	static void enc_body_##n(struct enc *e, const struct msg_##n *m) \
	{                                                                \
		MSG_##T##_FIELDS(ENC_)                                   \
	}                                                                \
	int msg_encode_##n(struct buf *b, const struct msg_##n *m)       \
	{                                                                \
		struct enc e;                                            \
		if (!ok_##n(m))                                          \
			return -1;                                       \
		enc_begin(&e, b, MSG_##T, NFIELDS_##T);                  \
		enc_body_##n(&e, m);                                     \
		return enc_end(&e, msg_cap[MSG_##T]);                    \
	}
MSG_BODIES(BODY_CODEC_)

int
msg_encode_lease(struct buf *b, const struct chunk_info *ci)
{
	struct enc e;

	if (!ci_ok(ci))
		return -1;
	enc_begin(&e, b, MSG_LEASE, 2 + CI_FIELDS);
	enc_ci(&e, ci);
	return enc_end(&e, CHUNK_INFO_WIRE_MAX);
}

/* ---- decoding: a bounds-checked msgpack reader ---- */

struct rd {
	const uint8_t *p, *end;
};

static size_t
rd_left(const struct rd *r)
{
	return (size_t)(r->end - r->p);
}

/* Reads an n-byte big-endian unsigned value. */
static int
rd_be(struct rd *r, size_t n, uint64_t *v)
{
	uint64_t x = 0;

	if (rd_left(r) < n)
		return -1;
	for (size_t i = 0; i < n; i++)
		x = x << 8 | r->p[i];
	r->p += n;
	*v = x;
	return 0;
}

/* Any msgpack integer, as a value in [lo, hi]. */
static int
rd_int(struct rd *r, int64_t lo, int64_t hi, int64_t *out)
{
	uint64_t u;
	int64_t v;
	uint8_t c;

	if (rd_left(r) < 1)
		return -1;
	c = *r->p++;
	if (c <= 0x7f) {
		v = c;
	} else if (c >= 0xe0) {
		v = (int64_t)c - 0x100;
	} else if (c >= 0xcc && c <= 0xcf) { /* uint 8/16/32/64 */
		if (rd_be(r, (size_t)1 << (c - 0xcc), &u) == -1 || u > INT64_MAX)
			return -1;
		v = (int64_t)u;
	} else if (c >= 0xd0 && c <= 0xd3) { /* int 8/16/32/64 */
		size_t n = (size_t)1 << (c - 0xd0);

		if (rd_be(r, n, &u) == -1)
			return -1;
		/* NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult): n is 1, 2 or 4 here */
		if (n < 8 && (u >> (8 * n - 1)) != 0)
			u |= ~(uint64_t)0 << (8 * n); /* sign-extend */
		v = (int64_t)u;                       /* two's complement */
	} else {
		return -1;
	}
	if (v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* Any msgpack integer, as a value in [0, hi] (hi may exceed INT64_MAX). */
static int
rd_uint(struct rd *r, uint64_t hi, uint64_t *out)
{
	uint64_t u;
	int64_t v;

	if (rd_left(r) >= 1 && *r->p == 0xcf) {
		r->p++;
		if (rd_be(r, 8, &u) == -1)
			return -1;
	} else {
		if (rd_int(r, 0, INT64_MAX, &v) == -1)
			return -1;
		u = (uint64_t)v;
	}
	if (u > hi)
		return -1;
	*out = u;
	return 0;
}

/* A str of at most cap - 1 bytes without NUL, copied with a NUL. */
static int
rd_str(struct rd *r, char *buf, size_t cap)
{
	uint64_t n;
	uint8_t c;

	if (rd_left(r) < 1)
		return -1;
	c = *r->p++;
	if (c >= 0xa0 && c <= 0xbf)
		n = c & 0x1f;
	else if (c >= 0xd9 && c <= 0xdb) {
		if (rd_be(r, (size_t)1 << (c - 0xd9), &n) == -1)
			return -1;
	} else
		return -1;
	if (n >= cap || n > rd_left(r) || memchr(r->p, '\0', n) != NULL)
		return -1;
	memcpy(buf, r->p, n);
	buf[n] = '\0';
	r->p += n;
	return 0;
}

/* An array header; the count is capped by the bytes left (>= 1 per item). */
static int
rd_array(struct rd *r, uint32_t *n)
{
	uint64_t v;
	uint8_t c;

	if (rd_left(r) < 1)
		return -1;
	c = *r->p++;
	if (c >= 0x90 && c <= 0x9f)
		v = c & 0x0f;
	else if (c == 0xdc || c == 0xdd) {
		if (rd_be(r, c == 0xdc ? 2 : 4, &v) == -1)
			return -1;
	} else
		return -1;
	if (v > rd_left(r))
		return -1;
	*n = (uint32_t)v;
	return 0;
}

#define RD_I(r, lo, hi, dst)                            \
	do {                                            \
		int64_t v_;                             \
		if (rd_int((r), (lo), (hi), &v_) == -1) \
			return -1;                      \
		(dst) = v_;                             \
	} while (0)

/* Opens [PROTO_VERSION, type, ...] with exactly nfields elements (any
 * version if any_version). */
static int
rd_envelope(struct rd *r, const void *data, size_t len, enum msg_type type, uint32_t nfields,
            int any_version)
{
	uint32_t n;
	uint64_t v;

	if (data == NULL || len > msg_cap[type])
		return -1;
	r->p = data;
	r->end = r->p + len;
	if (rd_array(r, &n) == -1 || n != nfields)
		return -1;
	if (rd_uint(r, UINT64_MAX, &v) == -1 || (!any_version && v != PROTO_VERSION))
		return -1;
	if (rd_uint(r, UINT64_MAX, &v) == -1 || v != (uint64_t)type)
		return -1;
	return 0;
}

/* A field's decoding (proto_fields.h); its checks follow (OK_). */
/* NOLINTBEGIN(bugprone-macro-parentheses): T is a type */
#define RD_UNSIGNED_(K, T)                                   \
	static int rd_##K(struct rd *r, T *dst, uint64_t hi) \
	{                                                    \
		uint64_t v;                                  \
		if (rd_uint(r, hi, &v) == -1)                \
			return -1;                           \
		*dst = (T)v;                                 \
		return 0;                                    \
	}
#define RD_SIGNED_(K, T)                                                \
	static int rd_##K(struct rd *r, T *dst, int64_t lo, int64_t hi) \
	{                                                               \
		int64_t v;                                              \
		if (rd_int(r, lo, hi, &v) == -1)                        \
			return -1;                                      \
		*dst = (T)v;                                            \
		return 0;                                               \
	}
RD_UNSIGNED_(U8, uint8_t)
RD_UNSIGNED_(U16, uint16_t)
RD_UNSIGNED_(U32, uint32_t)
RD_UNSIGNED_(U64, uint64_t)
RD_SIGNED_(I8, int8_t)
RD_SIGNED_(I64, int64_t)
/* NOLINTEND(bugprone-macro-parentheses) */

static int rd_ci(struct rd *r, struct chunk_info *m);
static int rd_candles(struct rd *r, struct candle **c, uint16_t *n, uint16_t max);

#define RD_U8(r, m, n, lo, hi) rd_U8(r, &(m)->n, hi)
#define RD_U16(r, m, n, lo, hi) rd_U16(r, &(m)->n, hi)
#define RD_U32(r, m, n, lo, hi) rd_U32(r, &(m)->n, hi)
#define RD_U64(r, m, n, lo, hi) rd_U64(r, &(m)->n, hi)
#define RD_I8(r, m, n, lo, hi) rd_I8(r, &(m)->n, lo, hi)
#define RD_I64(r, m, n, lo, hi) rd_I64(r, &(m)->n, lo, hi)
#define RD_STR(r, m, n, lo, hi) rd_str(r, (m)->n, sizeof((m)->n))
#define RD_CI(r, m, n, lo, hi) rd_ci(r, &(m)->n)
#define RD_CANDLES(r, m, f, lo, hi) rd_candles(r, &(m)->f, &(m)->n##f, hi)
/* NOLINTNEXTLINE(bugprone-macro-parentheses): a term of a disjunction */
#define RD_(kind, name, lo, hi, check, json) || RD_##kind(r, m, name, lo, hi) == -1

/* The ChunkInfo's fields, then its checks. */
static int
rd_ci(struct rd *r, struct chunk_info *m)
{
	memset(m, 0, sizeof(*m));
	if (0 CHUNK_INFO_FIELDS(RD_))
		return -1;
	return ci_ok(m) ? 0 : -1;
}

static int
rd_candle(struct rd *r, struct candle *c)
{
	uint32_t n;

	if (rd_array(r, &n) == -1 || n != CANDLE_FIELDS)
		return -1;
	RD_I(r, 0, INT64_MAX, c->start);
	RD_I(r, 0, INT64_MAX, c->timestamp_ms);
	RD_I(r, 0, CANDLE_UNIT_MAX, c->unit);
	if (rd_str(r, c->first_day, sizeof(c->first_day)) == -1)
		return -1;
	for (int i = 0; i < CN_COUNT; i++)
		if (rd_str(r, c->num[i], sizeof(c->num[i])) == -1)
			return -1;
	return candle_ok(c) ? 0 : -1;
}

int
msg_peek_type(const void *data, size_t len)
{
	struct rd r;
	uint32_t n;
	uint64_t v, type;

	if (data == NULL || len > MSG_RESULT_MAX_BYTES)
		return -1;
	r.p = data;
	r.end = r.p + len;
	if (rd_array(&r, &n) == -1 || n < 2)
		return -1;
	if (rd_uint(&r, UINT64_MAX, &v) == -1 || v != PROTO_VERSION)
		return -1;
	if (rd_uint(&r, MSG_TYPE_END - 1, &type) == -1 || type < MSG_READY)
		return -1;
	if (type != MSG_RESULT && len > MSG_MAX_BYTES)
		return -1;
	if (type == MSG_LEASE && len > CHUNK_INFO_WIRE_MAX)
		return -1;
	return (int)type;
}

/* The candles of a RESULT into a new array (*c, freed by the caller, also
 * on failure); the caller's own buffer is filled only on success. */
static int
rd_candles(struct rd *r, struct candle **c, uint16_t *n, uint16_t max)
{
	uint32_t k;

	*c = NULL;
	if (rd_array(r, &k) == -1 || k > max)
		return -1;
	*n = (uint16_t)k;
	if (k == 0)
		return 0;
	if ((*c = calloc(k, sizeof(**c))) == NULL)
		return -1;
	for (uint32_t i = 0; i < k; i++)
		if (rd_candle(r, &(*c)[i]) == -1)
			return -1;
	return 0;
}

/* Per message: a decoder into a local copy (rd_msg_<name>: envelope,
 * fields, no trailing bytes, then the same checks as the encoder). */
#define BODY_DECODER_(T, n)                                                                     \
	static int rd_msg_##n(const void *data, size_t len, struct msg_##n *m, int any_version) \
	{                                                                                       \
		struct rd rd_, *r = &rd_;                                                       \
		memset(m, 0, sizeof(*m));                                                       \
		if (rd_envelope(r, data, len, MSG_##T, NFIELDS_##T, any_version) == -1)         \
			return -1;                                                              \
		if (0 MSG_##T##_FIELDS(RD_))                                                    \
			return -1;                                                              \
		return rd_left(r) == 0 && ok_##n(m) ? 0 : -1;                                   \
	}
MSG_BODIES(BODY_DECODER_)

/* The messages decoded as they are: 0 and *out filled, or -1. */
#define PLAIN_DECODER_(n, any_version)                                        \
	int msg_decode_##n(const void *data, size_t len, struct msg_##n *out) \
	{                                                                     \
		struct msg_##n m;                                             \
		if (rd_msg_##n(data, len, &m, any_version) == -1)             \
			return -1;                                            \
		*out = m;                                                     \
		return 0;                                                     \
	}
PLAIN_DECODER_(ready, 0)
PLAIN_DECODER_(failed, 0)
PLAIN_DECODER_(committed, 0)
PLAIN_DECODER_(refused, 1)
PLAIN_DECODER_(leased_ev, 0)
PLAIN_DECODER_(fetched_ev, 0)
PLAIN_DECODER_(committed_ev, 0)

int
msg_decode_lease(const void *data, size_t len, struct chunk_info *out)
{
	struct chunk_info ci;
	struct rd r;

	if (rd_envelope(&r, data, len, MSG_LEASE, 2 + CI_FIELDS, 0) == -1 || rd_ci(&r, &ci) == -1 ||
	    rd_left(&r) != 0)
		return -1;
	*out = ci;
	return 0;
}

/* Into the caller's candle buffer, and only on success. */
int
msg_decode_result(const void *data, size_t len, struct msg_result *out)
{
	struct msg_result m;
	int rc = -1;

	if (rd_msg_result(data, len, &m, 0) == -1 || (m.ncandles > 0 && out->candles == NULL))
		goto fail;
	if (m.ncandles > 0)
		memcpy(out->candles, m.candles, m.ncandles * sizeof(*m.candles));
	free(m.candles);
	m.candles = out->candles;
	*out = m;
	return 0;
fail:
	free(m.candles);
	return rc;
}

/* ---- versions ---- */

int64_t
msg_peek_version(const void *data, size_t len)
{
	struct rd r;
	uint32_t n;
	uint64_t v;
	char key[2];

	if (data == NULL || len == 0 || len > MSG_RESULT_MAX_BYTES)
		return -1;
	r.p = data;
	r.end = r.p + len;
	if ((*r.p & 0xf0) == 0x80 || *r.p == 0xde || *r.p == 0xdf) { /* a map: "v" first */
		size_t head = *r.p == 0xde ? 3 : *r.p == 0xdf ? 5 : 1;

		if (head > len)
			return -1;
		r.p += head;
		if (rd_str(&r, key, sizeof(key)) == -1 || strcmp(key, "v") != 0)
			return -1;
	} else if (rd_array(&r, &n) == -1 || n < 2) {
		return -1;
	}
	if (rd_uint(&r, INT64_MAX, &v) == -1)
		return -1;
	return (int64_t)v;
}

void
msg_refusal_text(char *buf, size_t cap, const char *peer, int64_t theirs, const char *self)
{
	snprintf(buf, cap, "the %s speaks protocol %lld, this %s protocol %d: rebuild one of them",
	         peer, (long long)theirs, self, PROTO_VERSION);
}
