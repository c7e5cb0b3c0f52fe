/*
 * proto.c: the message codecs. Encoding uses msgpack-c's packer writing into
 * a capped, growable msgbuf; decoding uses a small hand-written msgpack
 * reader that bounds-checks every length against the input before reading,
 * accepts only the msgpack types each field allows, range-checks every value
 * and rejects trailing bytes. Decoders fill a local copy and publish it only
 * on success, so the caller's output is untouched on error. Encoders apply
 * the same semantic checks, so we never emit what we would refuse to read.
 * Owns the name tables and the wire layout:
 *
 *   ci      = id, attempt, tf, market, to, count, seg_lo, overlap, cov_from,
 *             cov_to, lease_ms, delay_ms, received, newest, oldest,
 *             effective_end, history_end, http_status, remaining_req,
 *             planned_ms, t_leased, t_sent, t_answered, t_parsed, t_committed
 *   READY     [1, 1, free_slots, leases_seen, source]
 *   LEASE     [1, 2, ci...]                        (<= CHUNK_INFO_WIRE_MAX bytes)
 *   RESULT    [1, 3, ci..., bytes, [candle...]]     (<= MSG_RESULT_MAX_BYTES)
 *   FAILED    [1, 4, ci..., kind, retry_after_ms, source, reason]
 *   COMMITTED [1, 5, ci..., bytes, new_candles, duplicate]
 *   candle  = [start, timestamp_ms, unit, first_day, num0 .. num9]
 */
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "proto.h"
#include "tf.h"

/* A RESULT carries up to 200 candles of ~450 bytes: it gets its own cap. */
#define MSGBUF_MAX_BYTES MSG_RESULT_MAX_BYTES
#define CI_FIELDS 25
#define CANDLE_FIELDS (4 + CN_COUNT)
#define CANDLE_UNIT_MAX 1440
#define HTTP_STATUS_MAX 999
#define FIRST_DAY_MAX 11

const char *const msg_type_names[MSG_TYPE_END] = {
	[0] = "NONE",
	[MSG_READY] = "READY",
	[MSG_LEASE] = "LEASE",
	[MSG_RESULT] = "RESULT",
	[MSG_FAILED] = "FAILED",
	[MSG_COMMITTED] = "COMMITTED",
	[MSG_EVENT] = "EVENT",
};

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
};

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

/* The planner's half of a chunk: what to fetch and why. */
static int
ci_request_ok(const struct chunk_info *ci)
{
	return ci->tf < TF_COUNT && market_ok(ci->market) && ci->to >= 0 && ci->count >= 1 &&
	       ci->count <= CANDLE_MAX_PER_RESPONSE && ci->seg_lo >= 0 && ci->overlap < OV_END &&
	       ci->cov_from >= 0 && ci->cov_to >= ci->cov_from;
}

/* The fetcher's half: what the answer held. */
static int
ci_answer_ok(const struct chunk_info *ci)
{
	return ci->received <= CANDLE_MAX_PER_RESPONSE && ci->newest >= 0 && ci->oldest >= 0 &&
	       ci->effective_end >= 0 && ci->history_end <= 1 &&
	       ci->http_status <= HTTP_STATUS_MAX && ci->remaining_req >= -1 && ci->planned_ms >= 0;
}

static int
ci_ok(const struct chunk_info *ci)
{
	return ci_request_ok(ci) && ci_answer_ok(ci);
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

/* ---- encoding ---- */

struct enc {
	msgpack_packer pk;
	struct msgbuf *b;
	size_t start;
	int err;
};

void
msgbuf_free(struct msgbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

static int
enc_write(void *data, const char *buf, size_t len)
{
	struct enc *e = data;
	struct msgbuf *b = e->b;

	if (e->err)
		return -1;
	if (b->len > MSGBUF_MAX_BYTES || len > MSGBUF_MAX_BYTES - b->len) {
		e->err = 1;
		return -1;
	}
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + len)
			cap *= 2;
		if (cap > MSGBUF_MAX_BYTES)
			cap = MSGBUF_MAX_BYTES;
		if ((p = realloc(b->data, cap)) == NULL) {
			e->err = 1;
			return -1;
		}
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, buf, len);
	b->len += len;
	return 0;
}

static void
enc_begin(struct enc *e, struct msgbuf *b, enum msg_type type, size_t nfields)
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
		e->b->len = e->start;
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

static void
enc_ci(struct enc *e, const struct chunk_info *ci)
{
	msgpack_packer *pk = &e->pk;

	msgpack_pack_uint64(pk, ci->id);
	msgpack_pack_uint64(pk, ci->attempt);
	msgpack_pack_uint64(pk, ci->tf);
	enc_str(e, ci->market);
	msgpack_pack_int64(pk, ci->to);
	msgpack_pack_uint64(pk, ci->count);
	msgpack_pack_int64(pk, ci->seg_lo);
	msgpack_pack_uint64(pk, ci->overlap);
	msgpack_pack_int64(pk, ci->cov_from);
	msgpack_pack_int64(pk, ci->cov_to);
	msgpack_pack_uint64(pk, ci->lease_ms);
	msgpack_pack_uint64(pk, ci->delay_ms);
	msgpack_pack_uint64(pk, ci->received);
	msgpack_pack_int64(pk, ci->newest);
	msgpack_pack_int64(pk, ci->oldest);
	msgpack_pack_int64(pk, ci->effective_end);
	msgpack_pack_uint64(pk, ci->history_end);
	msgpack_pack_uint64(pk, ci->http_status);
	msgpack_pack_int64(pk, ci->remaining_req);
	msgpack_pack_int64(pk, ci->planned_ms);
	msgpack_pack_uint64(pk, ci->t_leased);
	msgpack_pack_uint64(pk, ci->t_sent);
	msgpack_pack_uint64(pk, ci->t_answered);
	msgpack_pack_uint64(pk, ci->t_parsed);
	msgpack_pack_uint64(pk, ci->t_committed);
}

int
msg_encode_ready(struct msgbuf *b, const struct msg_ready *m)
{
	struct enc e;

	if (!str_ok(m->source, SOURCE_MAX))
		return -1;
	enc_begin(&e, b, MSG_READY, 5);
	msgpack_pack_uint64(&e.pk, m->free_slots);
	msgpack_pack_uint64(&e.pk, m->leases_seen);
	enc_str(&e, m->source);
	return enc_end(&e, MSG_MAX_BYTES);
}

int
msg_encode_lease(struct msgbuf *b, const struct chunk_info *ci)
{
	struct enc e;

	if (!ci_ok(ci))
		return -1;
	enc_begin(&e, b, MSG_LEASE, 2 + CI_FIELDS);
	enc_ci(&e, ci);
	return enc_end(&e, CHUNK_INFO_WIRE_MAX);
}

int
msg_encode_result(struct msgbuf *b, const struct msg_result *m)
{
	struct enc e;

	if (!ci_ok(&m->ci) || m->ncandles > CANDLE_MAX_PER_RESPONSE ||
	    (m->ncandles > 0 && m->candles == NULL))
		return -1;
	for (size_t i = 0; i < m->ncandles; i++)
		if (!candle_ok(&m->candles[i]))
			return -1;
	enc_begin(&e, b, MSG_RESULT, 2 + CI_FIELDS + 2);
	enc_ci(&e, &m->ci);
	msgpack_pack_uint64(&e.pk, m->bytes);
	msgpack_pack_array(&e.pk, m->ncandles);
	for (size_t i = 0; i < m->ncandles; i++) {
		const struct candle *c = &m->candles[i];

		msgpack_pack_array(&e.pk, CANDLE_FIELDS);
		msgpack_pack_int64(&e.pk, c->start);
		msgpack_pack_int64(&e.pk, c->timestamp_ms);
		msgpack_pack_int64(&e.pk, c->unit);
		enc_str(&e, c->first_day);
		for (int j = 0; j < CN_COUNT; j++)
			enc_str(&e, c->num[j]);
	}
	return enc_end(&e, MSG_RESULT_MAX_BYTES);
}

int
msg_encode_failed(struct msgbuf *b, const struct msg_failed *m)
{
	struct enc e;

	if (!ci_ok(&m->ci) || m->kind < 1 || m->kind >= FAIL_END ||
	    !str_ok(m->source, SOURCE_MAX) || !str_ok(m->reason, REASON_MAX))
		return -1;
	enc_begin(&e, b, MSG_FAILED, 2 + CI_FIELDS + 4);
	enc_ci(&e, &m->ci);
	msgpack_pack_uint64(&e.pk, m->kind);
	msgpack_pack_uint64(&e.pk, m->retry_after_ms);
	enc_str(&e, m->source);
	enc_str(&e, m->reason);
	return enc_end(&e, MSG_MAX_BYTES);
}

int
msg_encode_committed(struct msgbuf *b, const struct msg_committed *m)
{
	struct enc e;

	if (!ci_ok(&m->ci) || m->new_candles > CANDLE_MAX_PER_RESPONSE || m->duplicate > 1)
		return -1;
	enc_begin(&e, b, MSG_COMMITTED, 2 + CI_FIELDS + 3);
	enc_ci(&e, &m->ci);
	msgpack_pack_uint64(&e.pk, m->bytes);
	msgpack_pack_uint64(&e.pk, m->new_candles);
	msgpack_pack_uint64(&e.pk, m->duplicate);
	return enc_end(&e, MSG_MAX_BYTES);
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

#define RD_U(r, hi, dst)                           \
	do {                                       \
		uint64_t v_;                       \
		if (rd_uint((r), (hi), &v_) == -1) \
			return -1;                 \
		(dst) = v_;                        \
	} while (0)
#define RD_I(r, lo, hi, dst)                            \
	do {                                            \
		int64_t v_;                             \
		if (rd_int((r), (lo), (hi), &v_) == -1) \
			return -1;                      \
		(dst) = v_;                             \
	} while (0)

/* Opens [PROTO_VERSION, type, ...] with exactly nfields elements. */
static int
rd_envelope(struct rd *r, const void *data, size_t len, size_t max, enum msg_type type,
            uint32_t nfields)
{
	uint32_t n;
	uint64_t v;

	if (data == NULL || len > max)
		return -1;
	r->p = data;
	r->end = r->p + len;
	if (rd_array(r, &n) == -1 || n != nfields)
		return -1;
	if (rd_uint(r, UINT64_MAX, &v) == -1 || v != PROTO_VERSION)
		return -1;
	if (rd_uint(r, UINT64_MAX, &v) == -1 || v != (uint64_t)type)
		return -1;
	return 0;
}

static int
rd_ci(struct rd *r, struct chunk_info *ci)
{
	memset(ci, 0, sizeof(*ci));
	RD_U(r, UINT64_MAX, ci->id);
	RD_U(r, UINT8_MAX, ci->attempt);
	RD_U(r, TF_COUNT - 1, ci->tf);
	if (rd_str(r, ci->market, sizeof(ci->market)) == -1)
		return -1;
	RD_I(r, 0, INT64_MAX, ci->to);
	RD_U(r, CANDLE_MAX_PER_RESPONSE, ci->count);
	RD_I(r, 0, INT64_MAX, ci->seg_lo);
	RD_U(r, OV_END - 1, ci->overlap);
	RD_I(r, 0, INT64_MAX, ci->cov_from);
	RD_I(r, 0, INT64_MAX, ci->cov_to);
	RD_U(r, UINT32_MAX, ci->lease_ms);
	RD_U(r, UINT32_MAX, ci->delay_ms);
	RD_U(r, CANDLE_MAX_PER_RESPONSE, ci->received);
	RD_I(r, 0, INT64_MAX, ci->newest);
	RD_I(r, 0, INT64_MAX, ci->oldest);
	RD_I(r, 0, INT64_MAX, ci->effective_end);
	RD_U(r, 1, ci->history_end);
	RD_U(r, HTTP_STATUS_MAX, ci->http_status);
	RD_I(r, -1, INT8_MAX, ci->remaining_req);
	RD_I(r, 0, INT64_MAX, ci->planned_ms);
	RD_U(r, UINT32_MAX, ci->t_leased);
	RD_U(r, UINT32_MAX, ci->t_sent);
	RD_U(r, UINT32_MAX, ci->t_answered);
	RD_U(r, UINT32_MAX, ci->t_parsed);
	RD_U(r, UINT32_MAX, ci->t_committed);
	return ci_ok(ci) ? 0 : -1;
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

int
msg_decode_ready(const void *data, size_t len, struct msg_ready *out)
{
	struct msg_ready m;
	struct rd r;

	memset(&m, 0, sizeof(m));
	if (rd_envelope(&r, data, len, MSG_MAX_BYTES, MSG_READY, 5) == -1)
		return -1;
	RD_U(&r, UINT32_MAX, m.free_slots);
	RD_U(&r, UINT32_MAX, m.leases_seen);
	if (rd_str(&r, m.source, sizeof(m.source)) == -1 || rd_left(&r) != 0)
		return -1;
	*out = m;
	return 0;
}

int
msg_decode_lease(const void *data, size_t len, struct chunk_info *out)
{
	struct chunk_info ci;
	struct rd r;

	if (rd_envelope(&r, data, len, CHUNK_INFO_WIRE_MAX, MSG_LEASE, 2 + CI_FIELDS) == -1 ||
	    rd_ci(&r, &ci) == -1 || rd_left(&r) != 0)
		return -1;
	*out = ci;
	return 0;
}

int
msg_decode_result(const void *data, size_t len, struct msg_result *out)
{
	struct chunk_info ci;
	struct candle *tmp = NULL;
	uint32_t bytes, n;
	struct rd r;

	if (rd_envelope(&r, data, len, MSG_RESULT_MAX_BYTES, MSG_RESULT, 2 + CI_FIELDS + 2) == -1 ||
	    rd_ci(&r, &ci) == -1)
		return -1;
	RD_U(&r, UINT32_MAX, bytes);
	if (rd_array(&r, &n) == -1 || n > CANDLE_MAX_PER_RESPONSE)
		return -1;
	if (n > 0) {
		if (out->candles == NULL || (tmp = calloc(n, sizeof(*tmp))) == NULL)
			return -1;
		for (uint32_t i = 0; i < n; i++)
			if (rd_candle(&r, &tmp[i]) == -1)
				goto fail;
	}
	if (rd_left(&r) != 0)
		goto fail;
	out->ci = ci;
	out->bytes = bytes;
	out->ncandles = (uint16_t)n;
	if (n > 0)
		memcpy(out->candles, tmp, n * sizeof(*tmp));
	free(tmp);
	return 0;
fail:
	free(tmp);
	return -1;
}

int
msg_decode_failed(const void *data, size_t len, struct msg_failed *out)
{
	struct msg_failed m;
	struct rd r;

	memset(&m, 0, sizeof(m));
	if (rd_envelope(&r, data, len, MSG_MAX_BYTES, MSG_FAILED, 2 + CI_FIELDS + 4) == -1 ||
	    rd_ci(&r, &m.ci) == -1)
		return -1;
	RD_U(&r, FAIL_END - 1, m.kind);
	if (m.kind < 1)
		return -1;
	RD_U(&r, UINT32_MAX, m.retry_after_ms);
	if (rd_str(&r, m.source, sizeof(m.source)) == -1 ||
	    rd_str(&r, m.reason, sizeof(m.reason)) == -1 || rd_left(&r) != 0)
		return -1;
	*out = m;
	return 0;
}

int
msg_decode_committed(const void *data, size_t len, struct msg_committed *out)
{
	struct msg_committed m;
	struct rd r;

	memset(&m, 0, sizeof(m));
	if (rd_envelope(&r, data, len, MSG_MAX_BYTES, MSG_COMMITTED, 2 + CI_FIELDS + 3) == -1 ||
	    rd_ci(&r, &m.ci) == -1)
		return -1;
	RD_U(&r, UINT32_MAX, m.bytes);
	RD_U(&r, CANDLE_MAX_PER_RESPONSE, m.new_candles);
	RD_U(&r, 1, m.duplicate);
	if (rd_left(&r) != 0)
		return -1;
	*out = m;
	return 0;
}
