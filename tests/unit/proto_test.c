/* proto_test: the message codecs (common/proto.c). Round trips of every
 * message, golden wire bytes, the LEASE size bound, and fail-closed
 * decoding: every truncation, every single-bit flip, trailing bytes, wrong
 * version/type/length, wrong msgpack types, out-of-range values, huge
 * declared lengths and oversized input. Decoders must leave their output
 * untouched on error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "proto.h"
#include "tf.h"

#define CI_FIELDS 20
#define RESULT_MAX_BYTES (256 * 1024) /* MSG_RESULT_MAX_BYTES in proto.c */

/* ---- fixtures ---- */

static struct chunk_info
sample_ci(void)
{
	struct chunk_info ci;

	memset(&ci, 0, sizeof(ci));
	ci.id = 0x0123456789abcdefULL;
	ci.attempt = 2;
	ci.tf = TF_15M;
	strcpy(ci.market, "KRW-BTC");
	ci.to = 1751241600;
	ci.count = 200;
	ci.seg_lo = 1751061600;
	ci.overlap = OV_PARTIAL_MIDDLE_FRAGMENT;
	ci.cov_from = 1751000000;
	ci.cov_to = 1751100000;
	ci.lease_ms = 30000;
	ci.delay_ms = 125;
	ci.received = 173;
	ci.newest = 1751240700;
	ci.oldest = 1751085000;
	ci.effective_end = 1751061600;
	ci.history_end = 1;
	ci.http_status = 200;
	ci.remaining_req = -1;
	ci.api_ms = 115;
	return ci;
}

/* The largest values a valid ChunkInfo carries: times below 2^32 s (year
 * 2106), an API time below 10 minutes, a 15-character market. */
static struct chunk_info
max_ci(void)
{
	struct chunk_info ci;

	memset(&ci, 0, sizeof(ci));
	ci.id = UINT64_MAX;
	ci.attempt = UINT8_MAX;
	ci.tf = TF_1Y;
	strcpy(ci.market, "ABCDEFGHIJ-KLMN");
	ci.to = UINT32_MAX;
	ci.count = 200;
	ci.seg_lo = UINT32_MAX;
	ci.overlap = OV_END - 1;
	ci.cov_from = UINT32_MAX;
	ci.cov_to = UINT32_MAX;
	ci.lease_ms = UINT32_MAX;
	ci.delay_ms = UINT32_MAX;
	ci.received = 200;
	ci.newest = UINT32_MAX;
	ci.oldest = UINT32_MAX;
	ci.effective_end = UINT32_MAX;
	ci.history_end = 1;
	ci.http_status = 999;
	ci.remaining_req = INT8_MAX;
	ci.api_ms = 599999;
	return ci;
}

static const char *const sample_nums[CN_COUNT] = {
	"162483000.00000000",
	"163000000.00000000",
	"-0.5",
	"162999999.99999999",
	"1234567890123.12345678",
	"8.428e-05",
	"",
	"+2.5E+10",
	"0",
	"1E3",
};

static void
sample_candle(struct candle *c, int i)
{
	memset(c, 0, sizeof(*c));
	c->start = 1751241600 - (int64_t)i * 900;
	c->timestamp_ms = c->start * 1000 + 899999;
	c->unit = i % 2 ? 15 : 0;
	if (i % 3 == 0)
		strcpy(c->first_day, "2025-06-30");
	for (int j = 0; j < CN_COUNT; j++)
		strcpy(c->num[j], sample_nums[(i + j) % CN_COUNT]);
	if (i == 1) /* the longest accepted number text */
		memset(c->num[0], '9', CANDLE_NUM_MAX - 1);
}

static void
assert_ci_equal(const struct chunk_info *a, const struct chunk_info *b)
{
	assert_true(a->id == b->id);
	assert_int_equal(a->attempt, b->attempt);
	assert_int_equal(a->tf, b->tf);
	assert_string_equal(a->market, b->market);
	assert_true(a->to == b->to);
	assert_int_equal(a->count, b->count);
	assert_true(a->seg_lo == b->seg_lo);
	assert_int_equal(a->overlap, b->overlap);
	assert_true(a->cov_from == b->cov_from);
	assert_true(a->cov_to == b->cov_to);
	assert_int_equal(a->lease_ms, b->lease_ms);
	assert_int_equal(a->delay_ms, b->delay_ms);
	assert_int_equal(a->received, b->received);
	assert_true(a->newest == b->newest);
	assert_true(a->oldest == b->oldest);
	assert_true(a->effective_end == b->effective_end);
	assert_int_equal(a->history_end, b->history_end);
	assert_int_equal(a->http_status, b->http_status);
	assert_int_equal(a->remaining_req, b->remaining_req);
	assert_int_equal(a->api_ms, b->api_ms);
}

static void
assert_candle_equal(const struct candle *a, const struct candle *b)
{
	assert_true(a->start == b->start);
	assert_true(a->timestamp_ms == b->timestamp_ms);
	assert_int_equal(a->unit, b->unit);
	assert_string_equal(a->first_day, b->first_day);
	for (int j = 0; j < CN_COUNT; j++)
		assert_string_equal(a->num[j], b->num[j]);
}

/* ---- a raw msgpack writer, to craft what the encoders refuse to emit ---- */

enum vkind { V_U, V_I, V_STR, V_NIL, V_F64, V_BOOL, V_BIN, V_ARR };

struct val {
	enum vkind k;
	int64_t i;
	uint64_t u;
	const char *s;
	size_t len;
};

#define VU(x) ((struct val){ .k = V_U, .u = (x) })
#define VI(x) ((struct val){ .k = V_I, .i = (x) })
#define VS(x) ((struct val){ .k = V_STR, .s = (x), .len = strlen(x) })
#define VA(n) ((struct val){ .k = V_ARR, .u = (n) })

static void
pack_vals(msgpack_sbuffer *sb, const struct val *v, size_t n)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	for (size_t i = 0; i < n; i++) {
		switch (v[i].k) {
		case V_U: msgpack_pack_uint64(&pk, v[i].u); break;
		case V_I: msgpack_pack_int64(&pk, v[i].i); break;
		case V_STR:
			msgpack_pack_str(&pk, v[i].len);
			msgpack_pack_str_body(&pk, v[i].s, v[i].len);
			break;
		case V_NIL: msgpack_pack_nil(&pk); break;
		case V_F64: msgpack_pack_double(&pk, 1.5); break;
		case V_BOOL: msgpack_pack_true(&pk); break;
		case V_BIN:
			msgpack_pack_bin(&pk, v[i].len);
			msgpack_pack_bin_body(&pk, v[i].s, v[i].len);
			break;
		case V_ARR: msgpack_pack_array(&pk, (size_t)v[i].u); break;
		}
	}
}

/* The 20 ChunkInfo fields in wire order. */
static size_t
ci_vals(const struct chunk_info *ci, struct val *v)
{
	size_t n = 0;

	v[n++] = VU(ci->id);
	v[n++] = VU(ci->attempt);
	v[n++] = VU(ci->tf);
	v[n++] = VS(ci->market);
	v[n++] = VI(ci->to);
	v[n++] = VU(ci->count);
	v[n++] = VI(ci->seg_lo);
	v[n++] = VU(ci->overlap);
	v[n++] = VI(ci->cov_from);
	v[n++] = VI(ci->cov_to);
	v[n++] = VU(ci->lease_ms);
	v[n++] = VU(ci->delay_ms);
	v[n++] = VU(ci->received);
	v[n++] = VI(ci->newest);
	v[n++] = VI(ci->oldest);
	v[n++] = VI(ci->effective_end);
	v[n++] = VU(ci->history_end);
	v[n++] = VU(ci->http_status);
	v[n++] = VI(ci->remaining_req);
	v[n++] = VU(ci->api_ms);
	assert_int_equal(n, CI_FIELDS);
	return n;
}

static size_t
candle_vals(const struct candle *c, struct val *v)
{
	size_t n = 0;

	v[n++] = VA(4 + CN_COUNT);
	v[n++] = VI(c->start);
	v[n++] = VI(c->timestamp_ms);
	v[n++] = VI(c->unit);
	v[n++] = VS(c->first_day);
	for (int j = 0; j < CN_COUNT; j++)
		v[n++] = VS(c->num[j]);
	return n;
}

/* Message value lists: [1, type, ci..., tail...]. */
struct vmsg {
	struct val v[64 + 15 * 4];
	size_t n;
};

static void
vmsg_lease(struct vmsg *m, const struct chunk_info *ci)
{
	m->n = 0;
	m->v[m->n++] = VA(2 + CI_FIELDS);
	m->v[m->n++] = VU(PROTO_VERSION);
	m->v[m->n++] = VU(MSG_LEASE);
	m->n += ci_vals(ci, &m->v[m->n]);
}

static void
vmsg_committed(struct vmsg *m, const struct chunk_info *ci)
{
	m->n = 0;
	m->v[m->n++] = VA(2 + CI_FIELDS + 3);
	m->v[m->n++] = VU(PROTO_VERSION);
	m->v[m->n++] = VU(MSG_COMMITTED);
	m->n += ci_vals(ci, &m->v[m->n]);
	m->v[m->n++] = VU(4096);
	m->v[m->n++] = VU(17);
	m->v[m->n++] = VU(0);
}

/* A RESULT with the given candles (at most 4). */
static void
vmsg_result(struct vmsg *m, const struct chunk_info *ci, const struct candle *c, size_t nc)
{
	m->n = 0;
	m->v[m->n++] = VA(2 + CI_FIELDS + 2);
	m->v[m->n++] = VU(PROTO_VERSION);
	m->v[m->n++] = VU(MSG_RESULT);
	m->n += ci_vals(ci, &m->v[m->n]);
	m->v[m->n++] = VU(12345);
	m->v[m->n++] = VA(nc);
	for (size_t i = 0; i < nc; i++)
		m->n += candle_vals(&c[i], &m->v[m->n]);
}

/* ---- helpers over every decoder ---- */

static struct candle cbuf[CANDLE_MAX_PER_RESPONSE];

/* Runs every decoder on data; returns how many accepted it. Outputs that
 * are rejected must be untouched (checked against a 0xA5 fill). */
static int
decode_all(const void *data, size_t len)
{
	struct msg_ready rd;
	struct chunk_info ci;
	struct msg_result rs;
	struct msg_failed fl;
	struct msg_committed cm;
	unsigned char pat[sizeof(fl)];
	int ok = 0;

	memset(pat, 0xA5, sizeof(pat));
	memset(&rd, 0xA5, sizeof(rd));
	memset(&ci, 0xA5, sizeof(ci));
	memset(&rs, 0xA5, sizeof(rs));
	memset(&fl, 0xA5, sizeof(fl));
	memset(&cm, 0xA5, sizeof(cm));
	rs.candles = cbuf;
	(void)msg_peek_type(data, len);
	if (msg_decode_ready(data, len, &rd) == 0)
		ok++;
	else
		assert_memory_equal(&rd, pat, sizeof(rd));
	if (msg_decode_lease(data, len, &ci) == 0)
		ok++;
	else
		assert_memory_equal(&ci, pat, sizeof(ci));
	if (msg_decode_result(data, len, &rs) == 0) {
		ok++;
	} else {
		assert_ptr_equal(rs.candles, cbuf);
		assert_memory_equal(&rs.ci, pat, sizeof(rs.ci));
		assert_memory_equal(&rs.bytes, pat, sizeof(rs.bytes));
		assert_memory_equal(&rs.ncandles, pat, sizeof(rs.ncandles));
	}
	if (msg_decode_failed(data, len, &fl) == 0)
		ok++;
	else
		assert_memory_equal(&fl, pat, sizeof(fl));
	if (msg_decode_committed(data, len, &cm) == 0)
		ok++;
	else
		assert_memory_equal(&cm, pat, sizeof(cm));
	return ok;
}

static int
decodes_raw(const struct vmsg *m)
{
	msgpack_sbuffer sb;
	int ok;

	msgpack_sbuffer_init(&sb);
	pack_vals(&sb, m->v, m->n);
	ok = decode_all(sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	return ok;
}

/* Every prefix fails, every bit flip is harmless, trailing bytes fail. */
static void
abuse(const struct buf *b)
{
	unsigned char *copy = malloc(b->len + 8);

	assert_non_null(copy);
	assert_int_equal(decode_all(b->data, b->len), 1);
	for (size_t n = 0; n < b->len; n++) {
		memcpy(copy, b->data, n);
		assert_int_equal(decode_all(copy, n), 0);
	}
	for (size_t i = 0; i < b->len * 8; i++) {
		memcpy(copy, b->data, b->len);
		copy[i / 8] ^= (unsigned char)(1u << (i % 8));
		(void)decode_all(copy, b->len);
	}
	for (int extra = 1; extra <= 8; extra++) {
		memcpy(copy, b->data, b->len);
		memset(copy + b->len, 0, (size_t)extra);
		assert_int_equal(decode_all(copy, b->len + (size_t)extra), 0);
		copy[b->len] = 0xc0; /* nil */
		assert_int_equal(decode_all(copy, b->len + (size_t)extra), 0);
	}
	free(copy);
}

/* ---- tests ---- */

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(msg_type_names[MSG_READY], "READY");
	assert_string_equal(msg_type_names[MSG_LEASE], "LEASE");
	assert_string_equal(msg_type_names[MSG_RESULT], "RESULT");
	assert_string_equal(msg_type_names[MSG_FAILED], "FAILED");
	assert_string_equal(msg_type_names[MSG_COMMITTED], "COMMITTED");
	assert_string_equal(msg_type_names[MSG_EVENT], "EVENT");
	assert_string_equal(msg_type_names[MSG_REFUSED], "REFUSED");
	assert_int_equal(MSG_REFUSED, 7); /* frozen: every version reads it */
	assert_string_equal(overlap_names[OV_NO_OVERLAP], "NO_OVERLAP");
	assert_string_equal(overlap_names[OV_COMPLETE_OVERLAP], "COMPLETE_OVERLAP");
	assert_string_equal(overlap_names[OV_PARTIAL_START], "PARTIAL_START");
	assert_string_equal(overlap_names[OV_PARTIAL_MIDDLE_CONTINUOUS],
	                    "PARTIAL_MIDDLE_CONTINUOUS");
	assert_string_equal(overlap_names[OV_PARTIAL_MIDDLE_FRAGMENT], "PARTIAL_MIDDLE_FRAGMENT");
	assert_string_equal(fail_kind_names[FAIL_TEMP_HTTP], "temp_http");
	assert_string_equal(fail_kind_names[FAIL_TEMP_NET], "temp_net");
	assert_string_equal(fail_kind_names[FAIL_TEMP_BODY], "temp_body");
	assert_string_equal(fail_kind_names[FAIL_RATE_429], "rate_429");
	assert_string_equal(fail_kind_names[FAIL_BLOCKED_418], "blocked_418");
	assert_string_equal(fail_kind_names[FAIL_PERM_MARKET], "perm_market");
	assert_string_equal(fail_kind_names[FAIL_PERM_REQUEST], "perm_request");
	assert_string_equal(fail_kind_names[FAIL_TOKEN_LATE], "token_late");
	for (int i = 0; i < MSG_TYPE_END; i++)
		assert_non_null(msg_type_names[i]);
	for (int i = 0; i < FAIL_END; i++)
		assert_non_null(fail_kind_names[i]);
}

static void
test_ready(void **state)
{
	static const unsigned char golden[] = { 0x95, 0x02, 0x01, 0x03, 0x07, 0xa8, '1',
		                                '0',  '.',  '0',  '.',  '0',  '.',  '1' };
	struct msg_ready m = { .free_slots = 3, .leases_seen = 7 }, out;
	struct buf b = { 0 };

	(void)state;
	strcpy(m.source, "10.0.0.1");
	assert_int_equal(msg_encode_ready(&b, &m), 0);
	assert_int_equal(b.len, sizeof(golden));
	assert_memory_equal(b.data, golden, sizeof(golden));
	assert_int_equal(msg_peek_type(b.data, b.len), MSG_READY);
	assert_int_equal(msg_decode_ready(b.data, b.len, &out), 0);
	assert_int_equal(out.free_slots, 3);
	assert_int_equal(out.leases_seen, 7);
	assert_string_equal(out.source, "10.0.0.1");
	abuse(&b);
	/* extremes: u32 max, the longest source, an empty source */
	m.free_slots = UINT32_MAX;
	m.leases_seen = UINT32_MAX;
	memset(m.source, 'x', SOURCE_MAX - 1);
	m.source[SOURCE_MAX - 1] = '\0';
	b.len = 0;
	assert_int_equal(msg_encode_ready(&b, &m), 0);
	assert_int_equal(msg_decode_ready(b.data, b.len, &out), 0);
	assert_int_equal(out.free_slots, UINT32_MAX);
	assert_string_equal(out.source, m.source);
	m.source[0] = '\0';
	b.len = 0;
	assert_int_equal(msg_encode_ready(&b, &m), 0);
	assert_int_equal(msg_decode_ready(b.data, b.len, &out), 0);
	assert_string_equal(out.source, "");
	/* an unterminated source is refused by the encoder */
	memset(m.source, 'x', SOURCE_MAX);
	b.len = 0;
	assert_int_equal(msg_encode_ready(&b, &m), -1);
	assert_int_equal(b.len, 0);
	buf_free(&b);
	assert_null(b.data);
}

static void
test_lease(void **state)
{
	struct chunk_info ci = sample_ci(), out;
	struct buf b = { 0 };
	msgpack_sbuffer sb;
	struct vmsg vm;

	(void)state;
	assert_int_equal(msg_encode_lease(&b, &ci), 0);
	assert_true(b.len <= CHUNK_INFO_WIRE_MAX);
	assert_int_equal(msg_peek_type(b.data, b.len), MSG_LEASE);
	assert_int_equal(msg_decode_lease(b.data, b.len, &out), 0);
	assert_ci_equal(&ci, &out);
	/* the wire order is the documented one, byte for byte */
	vmsg_lease(&vm, &ci);
	msgpack_sbuffer_init(&sb);
	pack_vals(&sb, vm.v, vm.n);
	assert_int_equal(sb.size, b.len);
	assert_memory_equal(sb.data, b.data, b.len);
	msgpack_sbuffer_destroy(&sb);
	abuse(&b);
	buf_free(&b);
}

static void
test_lease_size(void **state)
{
	struct chunk_info ci = max_ci(), out;
	struct buf b = { 0 };

	(void)state;
	assert_int_equal(msg_encode_lease(&b, &ci), 0);
	print_message("max LEASE: %zu bytes (limit %d)\n", b.len, CHUNK_INFO_WIRE_MAX);
	assert_true(b.len <= CHUNK_INFO_WIRE_MAX);
	assert_int_equal(msg_decode_lease(b.data, b.len, &out), 0);
	assert_ci_equal(&ci, &out);
	abuse(&b);
	/* every time at INT64_MAX still fits the cap */
	ci.to = ci.seg_lo = ci.cov_from = ci.cov_to = INT64_MAX;
	ci.newest = ci.oldest = ci.effective_end = INT64_MAX;
	b.len = 0;
	assert_int_equal(msg_encode_lease(&b, &ci), 0);
	assert_true(b.len <= CHUNK_INFO_WIRE_MAX);
	/* a refused ChunkInfo leaves the buffer as it was */
	ci.count = 0;
	b.len = 0;
	assert_int_equal(msg_encode_lease(&b, &ci), -1);
	assert_int_equal(b.len, 0);
	/* the same check never touches what the buffer held before */
	b.len = 0;
	assert_int_equal(msg_encode_lease(&b, &out), 0);
	size_t first = b.len;
	assert_int_equal(msg_encode_lease(&b, &ci), -1);
	assert_int_equal(b.len, first);
	/* encoders append: two messages back to back */
	assert_int_equal(msg_encode_lease(&b, &out), 0);
	assert_int_equal(b.len, 2 * first);
	assert_memory_equal(b.data, b.data + first, first);
	buf_free(&b);
}

static void
test_result(void **state)
{
	struct candle in[4], *dec = calloc(CANDLE_MAX_PER_RESPONSE, sizeof(*dec));
	struct msg_result m = { .ci = sample_ci(), .bytes = 54321, .ncandles = 4, .candles = in },
	                  out = { .candles = dec };
	struct buf b = { 0 };
	msgpack_sbuffer sb;
	struct vmsg vm;

	(void)state;
	assert_non_null(dec);
	for (int i = 0; i < 4; i++)
		sample_candle(&in[i], i);
	assert_int_equal(msg_encode_result(&b, &m), 0);
	assert_int_equal(msg_peek_type(b.data, b.len), MSG_RESULT);
	assert_int_equal(msg_decode_result(b.data, b.len, &out), 0);
	assert_ci_equal(&m.ci, &out.ci);
	assert_int_equal(out.bytes, 54321);
	assert_int_equal(out.ncandles, 4);
	assert_ptr_equal(out.candles, dec);
	for (int i = 0; i < 4; i++)
		assert_candle_equal(&in[i], &dec[i]);
	vmsg_result(&vm, &m.ci, in, 4);
	m.bytes = 12345;
	b.len = 0;
	assert_int_equal(msg_encode_result(&b, &m), 0);
	msgpack_sbuffer_init(&sb);
	pack_vals(&sb, vm.v, vm.n);
	assert_int_equal(sb.size, b.len);
	assert_memory_equal(sb.data, b.data, b.len);
	msgpack_sbuffer_destroy(&sb);
	abuse(&b);
	/* no candles */
	m.ncandles = 0;
	m.candles = NULL;
	b.len = 0;
	assert_int_equal(msg_encode_result(&b, &m), 0);
	out.candles = NULL; /* not needed for an empty result */
	assert_int_equal(msg_decode_result(b.data, b.len, &out), 0);
	assert_int_equal(out.ncandles, 0);
	/* candles, but nowhere to put them */
	m.ncandles = 4;
	m.candles = in;
	b.len = 0;
	assert_int_equal(msg_encode_result(&b, &m), 0);
	assert_int_equal(msg_decode_result(b.data, b.len, &out), -1);
	buf_free(&b);
	free(dec);
}

static void
test_result_200(void **state)
{
	struct candle *in = calloc(CANDLE_MAX_PER_RESPONSE + 1, sizeof(*in));
	struct candle *dec = calloc(CANDLE_MAX_PER_RESPONSE, sizeof(*dec));
	struct msg_result m = { .ci = sample_ci(), .bytes = 80000, .candles = in };
	struct msg_result out = { .candles = dec };
	struct buf b = { 0 };

	(void)state;
	assert_non_null(in);
	assert_non_null(dec);
	for (int i = 0; i <= CANDLE_MAX_PER_RESPONSE; i++) {
		sample_candle(&in[i], i);
		for (int j = 0; j < CN_COUNT; j++) /* the longest texts */
			memset(in[i].num[j], j % 2 ? '7' : '1', CANDLE_NUM_MAX - 1);
		strcpy(in[i].first_day, "2025-06-30");
		in[i].timestamp_ms = INT64_MAX;
		in[i].start = INT64_MAX;
	}
	m.ncandles = CANDLE_MAX_PER_RESPONSE;
	assert_int_equal(msg_encode_result(&b, &m), 0);
	print_message("RESULT with 200 maximal candles: %zu bytes (cap %d)\n", b.len,
	              RESULT_MAX_BYTES);
	assert_true(b.len > MSG_MAX_BYTES);
	assert_true(b.len <= RESULT_MAX_BYTES);
	assert_int_equal(msg_peek_type(b.data, b.len), MSG_RESULT);
	assert_int_equal(msg_decode_result(b.data, b.len, &out), 0);
	assert_int_equal(out.ncandles, CANDLE_MAX_PER_RESPONSE);
	for (int i = 0; i < CANDLE_MAX_PER_RESPONSE; i++)
		assert_candle_equal(&in[i], &dec[i]);
	/* 201 candles: refused both ways */
	m.ncandles = CANDLE_MAX_PER_RESPONSE + 1;
	b.len = 0;
	assert_int_equal(msg_encode_result(&b, &m), -1);
	{
		/* hand-built: the 201st candle is declared and present */
		msgpack_sbuffer sb;
		msgpack_packer pk;
		struct val v[CI_FIELDS];
		struct chunk_info ci = sample_ci();

		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_array(&pk, 2 + CI_FIELDS + 2);
		msgpack_pack_uint64(&pk, PROTO_VERSION);
		msgpack_pack_uint64(&pk, MSG_RESULT);
		pack_vals(&sb, v, ci_vals(&ci, v));
		msgpack_pack_uint64(&pk, 1);
		msgpack_pack_array(&pk, CANDLE_MAX_PER_RESPONSE + 1);
		for (int i = 0; i <= CANDLE_MAX_PER_RESPONSE; i++) {
			struct val cv[4 + CN_COUNT + 1];

			sample_candle(&in[i], i);
			pack_vals(&sb, cv, candle_vals(&in[i], cv));
		}
		assert_int_equal(decode_all(sb.data, sb.size), 0);
		msgpack_sbuffer_destroy(&sb);
	}
	buf_free(&b);
	free(in);
	free(dec);
}

static void
test_failed(void **state)
{
	struct msg_failed m, out;
	struct buf b = { 0 };

	(void)state;
	memset(&m, 0, sizeof(m));
	m.ci = sample_ci();
	m.kind = FAIL_BLOCKED_418;
	m.retry_after_ms = 600000;
	strcpy(m.source, "192.0.2.7");
	strcpy(m.reason, "HTTP 418: {\"error\":{\"name\":418,\"message\":\"blocked\"}}");
	assert_int_equal(msg_encode_failed(&b, &m), 0);
	assert_int_equal(msg_peek_type(b.data, b.len), MSG_FAILED);
	assert_int_equal(msg_decode_failed(b.data, b.len, &out), 0);
	assert_ci_equal(&m.ci, &out.ci);
	assert_int_equal(out.kind, FAIL_BLOCKED_418);
	assert_int_equal(out.retry_after_ms, 600000);
	assert_string_equal(out.source, m.source);
	assert_string_equal(out.reason, m.reason);
	abuse(&b);
	/* every kind; the longest reason */
	memset(m.reason, 'r', REASON_MAX - 1);
	m.reason[REASON_MAX - 1] = '\0';
	for (int k = 1; k < FAIL_END; k++) {
		m.kind = (uint8_t)k;
		b.len = 0;
		assert_int_equal(msg_encode_failed(&b, &m), 0);
		assert_int_equal(msg_decode_failed(b.data, b.len, &out), 0);
		assert_int_equal(out.kind, k);
		assert_string_equal(out.reason, m.reason);
	}
	m.kind = 0;
	assert_int_equal(msg_encode_failed(&b, &m), -1);
	m.kind = FAIL_END;
	assert_int_equal(msg_encode_failed(&b, &m), -1);
	buf_free(&b);
}

static void
test_committed(void **state)
{
	struct msg_committed m, out;
	struct buf b = { 0 };
	msgpack_sbuffer sb;
	struct vmsg vm;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.ci = sample_ci();
	m.bytes = 4096;
	m.new_candles = 17;
	m.duplicate = 0;
	assert_int_equal(msg_encode_committed(&b, &m), 0);
	assert_int_equal(msg_peek_type(b.data, b.len), MSG_COMMITTED);
	assert_int_equal(msg_decode_committed(b.data, b.len, &out), 0);
	assert_ci_equal(&m.ci, &out.ci);
	assert_int_equal(out.bytes, 4096);
	assert_int_equal(out.new_candles, 17);
	assert_int_equal(out.duplicate, 0);
	vmsg_committed(&vm, &m.ci);
	msgpack_sbuffer_init(&sb);
	pack_vals(&sb, vm.v, vm.n);
	assert_int_equal(sb.size, b.len);
	assert_memory_equal(sb.data, b.data, b.len);
	msgpack_sbuffer_destroy(&sb);
	abuse(&b);
	m.duplicate = 2;
	assert_int_equal(msg_encode_committed(&b, &m), -1);
	m.duplicate = 1;
	m.new_candles = 201;
	assert_int_equal(msg_encode_committed(&b, &m), -1);
	buf_free(&b);
}

/* Replaces ChunkInfo field i of a valid LEASE and COMMITTED by v. */
static int
decodes_with_field(size_t i, struct val v)
{
	struct chunk_info ci = sample_ci();
	struct vmsg m;
	int ok;

	vmsg_lease(&m, &ci);
	m.v[3 + i] = v;
	ok = decodes_raw(&m);
	vmsg_committed(&m, &ci);
	m.v[3 + i] = v;
	return ok + decodes_raw(&m);
}

static void
test_field_types_and_ranges(void **state)
{
	static const char nul_market[] = "KRW\0BTC";
	struct chunk_info ci = sample_ci();
	struct vmsg m;

	(void)state;
	/* sanity: the unmodified raw messages decode */
	vmsg_lease(&m, &ci);
	assert_int_equal(decodes_raw(&m), 1);
	/* a wrong msgpack type anywhere in the ChunkInfo */
	for (size_t i = 0; i < CI_FIELDS; i++) {
		assert_int_equal(decodes_with_field(i, (struct val){ .k = V_NIL }), 0);
		assert_int_equal(decodes_with_field(i, (struct val){ .k = V_F64 }), 0);
		assert_int_equal(decodes_with_field(i, (struct val){ .k = V_BOOL }), 0);
		assert_int_equal(decodes_with_field(i, VA(0)), 0);
		assert_int_equal(
		    decodes_with_field(i, (struct val){ .k = V_BIN, .s = "x", .len = 1 }), 0);
		if (i != 3)
			assert_int_equal(decodes_with_field(i, VS("1")), 0);
		else
			assert_int_equal(decodes_with_field(i, VU(1)), 0);
	}
	/* out of range: field index, then a bad value */
	static const struct {
		size_t field;
		int64_t v;
	} bad[] = {
		{ 1, 256 },
		{ 2, TF_COUNT },
		{ 4, -1 },
		{ 5, 0 },
		{ 5, 201 },
		{ 6, -1 },
		{ 7, OV_END },
		{ 8, -1 },
		{ 9, -1 },
		{ 9, 1750999999 }, /* cov_to < cov_from */
		{ 10, (int64_t)UINT32_MAX + 1 },
		{ 11, -1 },
		{ 12, 201 },
		{ 13, -1 },
		{ 14, -1 },
		{ 15, -1 },
		{ 16, 2 },
		{ 17, 1000 },
		{ 18, -2 },
		{ 18, 128 },
		{ 19, -1 },
		{ 19, (int64_t)UINT32_MAX + 1 },
		{ 0, -1 },
	};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		if (decodes_with_field(bad[k].field, VI(bad[k].v)) != 0)
			fail_msg("field %zu = %lld accepted", bad[k].field, (long long)bad[k].v);
	}
	/* and the edges that are fine */
	assert_int_equal(decodes_with_field(5, VI(1)), 2);
	assert_int_equal(decodes_with_field(18, VI(-1)), 2);
	assert_int_equal(decodes_with_field(18, VI(127)), 2);
	assert_int_equal(decodes_with_field(0, VU(UINT64_MAX)), 2);
	assert_int_equal(decodes_with_field(2, VI(TF_1Y)), 2);
	/* the same value in a wider signed encoding is still accepted */
	vmsg_lease(&m, &ci);
	{
		msgpack_sbuffer sb;
		unsigned char wide[] = { 0xd3, 0, 0, 0, 0, 0, 0, 0, 200 }; /* int64 200 */
		unsigned char *p;

		msgpack_sbuffer_init(&sb);
		pack_vals(&sb, m.v, m.n);
		/* count (field 5) is 0xcc 0xc8 after id..to: find and widen it */
		p = memchr(sb.data + 3, 0xcc, sb.size - 3);
		while (p != NULL && p[1] != 200)
			p = memchr(p + 1, 0xcc,
			           sb.size - (size_t)(p + 1 - (unsigned char *)sb.data));
		assert_non_null(p);
		{
			size_t off = (size_t)(p - (unsigned char *)sb.data), n = sb.size + 7;
			unsigned char *w = malloc(n);
			struct chunk_info out;

			assert_non_null(w);
			memcpy(w, sb.data, off);
			memcpy(w + off, wide, sizeof(wide));
			memcpy(w + off + 9, sb.data + off + 2, sb.size - off - 2);
			assert_int_equal(msg_decode_lease(w, n, &out), 0);
			assert_int_equal(out.count, 200);
			free(w);
		}
		msgpack_sbuffer_destroy(&sb);
	}
	/* market: empty, 16 characters, embedded NUL, control characters */
	assert_int_equal(decodes_with_field(3, VS("")), 0);
	assert_int_equal(decodes_with_field(3, VS("ABCDEFGHIJ-KLMNO")), 0);
	assert_int_equal(decodes_with_field(3, VS("ABCDEFGHIJ-KLMN")), 2);
	assert_int_equal(
	    decodes_with_field(3, ((struct val){ .k = V_STR, .s = nul_market, .len = 7 })), 0);
	assert_int_equal(decodes_with_field(3, VS("KRW BTC")), 0);
	assert_int_equal(decodes_with_field(3, VS("KRW\nBTC")), 0);
}

static void
test_candle_fields(void **state)
{
	static const char *good[] = { "",          "0",   "-1",   "+2",       "162483000.00000000",
		                      "8.428e-05", "1E3", "1e+3", "-0.5E-10", "007" };
	static const char *badnum[] = { "1.",  ".5",  "1e",    "1e+", "abc",     "1.2.3",
		                        "--1", " 1",  "1 ",    "+",   "-",       "0x10",
		                        "NaN", "inf", "1,000", "e5",  "1.5e5.5", "1_000" };
	static const char *badday[] = { "2025-6-30",   "2025-06-3", "2025/06/30",
		                        "2025-06-30T", "20250630",  "x025-06-30" };
	struct chunk_info ci = sample_ci();
	struct candle c;
	struct vmsg m;

	(void)state;
	sample_candle(&c, 0);
	vmsg_result(&m, &ci, &c, 1);
	assert_int_equal(decodes_raw(&m), 1);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		strcpy(c.num[CN_CHANGE_RATE], good[i]);
		vmsg_result(&m, &ci, &c, 1);
		if (decodes_raw(&m) != 1)
			fail_msg("number \"%s\" rejected", good[i]);
	}
	for (size_t i = 0; i < sizeof(badnum) / sizeof(badnum[0]); i++) {
		struct msg_result r = { .ci = ci, .ncandles = 1, .candles = &c };
		struct buf b = { 0 };

		sample_candle(&c, 0);
		strcpy(c.num[CN_CHANGE_RATE], badnum[i]);
		vmsg_result(&m, &ci, &c, 1);
		if (decodes_raw(&m) != 0)
			fail_msg("number \"%s\" accepted", badnum[i]);
		assert_int_equal(msg_encode_result(&b, &r), -1);
		buf_free(&b);
	}
	for (size_t i = 0; i < sizeof(badday) / sizeof(badday[0]); i++) {
		sample_candle(&c, 0);
		strcpy(c.first_day, badday[i]);
		vmsg_result(&m, &ci, &c, 1);
		if (decodes_raw(&m) != 0)
			fail_msg("first_day \"%s\" accepted", badday[i]);
	}
	/* a 40-character number does not fit its 40-byte buffer */
	sample_candle(&c, 0);
	vmsg_result(&m, &ci, &c, 1);
	{
		char longnum[CANDLE_NUM_MAX + 1];

		memset(longnum, '1', CANDLE_NUM_MAX);
		longnum[CANDLE_NUM_MAX] = '\0';
		m.v[m.n - 1] = VS(longnum);
		assert_int_equal(decodes_raw(&m), 0);
		longnum[CANDLE_NUM_MAX - 1] = '\0';
		m.v[m.n - 1] = VS(longnum);
		assert_int_equal(decodes_raw(&m), 1);
	}
	/* unit range; negative start; candle array of the wrong length */
	vmsg_result(&m, &ci, &c, 1);
	size_t base = m.n - (4 + CN_COUNT + 1);
	m.v[base + 3] = VI(-1);
	assert_int_equal(decodes_raw(&m), 0);
	m.v[base + 3] = VI(1441);
	assert_int_equal(decodes_raw(&m), 0);
	m.v[base + 3] = VI(240);
	assert_int_equal(decodes_raw(&m), 1);
	m.v[base + 1] = VI(-1);
	assert_int_equal(decodes_raw(&m), 0);
	vmsg_result(&m, &ci, &c, 1);
	m.v[base] = VA(4 + CN_COUNT - 1);
	m.n--;
	assert_int_equal(decodes_raw(&m), 0);
	/* the candle count disagrees with the candles present */
	vmsg_result(&m, &ci, &c, 1);
	m.v[base - 1] = VA(2);
	assert_int_equal(decodes_raw(&m), 0);
	m.v[base - 1] = VA(0);
	assert_int_equal(decodes_raw(&m), 0);
}

static void
test_envelope(void **state)
{
	struct chunk_info ci = sample_ci();
	struct buf b = { 0 };
	struct vmsg m;

	(void)state;
	/* wrong version, wrong type, wrong element count */
	vmsg_lease(&m, &ci);
	m.v[1] = VU(PROTO_VERSION + 1);
	assert_int_equal(decodes_raw(&m), 0);
	m.v[1] = VU(0);
	assert_int_equal(decodes_raw(&m), 0);
	m.v[1] = VI(-1);
	assert_int_equal(decodes_raw(&m), 0);
	m.v[1] = VS("1");
	assert_int_equal(decodes_raw(&m), 0);
	vmsg_lease(&m, &ci);
	m.v[2] = VU(MSG_COMMITTED);
	assert_int_equal(decodes_raw(&m), 0);
	m.v[2] = VU(MSG_EVENT);
	assert_int_equal(decodes_raw(&m), 0);
	m.v[2] = VU(99);
	assert_int_equal(decodes_raw(&m), 0);
	vmsg_lease(&m, &ci);
	m.v[0] = VA(2 + CI_FIELDS + 1);
	m.v[m.n++] = VU(0);
	assert_int_equal(decodes_raw(&m), 0);
	vmsg_lease(&m, &ci);
	m.v[0] = VA(2 + CI_FIELDS - 1);
	m.n--;
	assert_int_equal(decodes_raw(&m), 0);
	/* not an array at all; empty input; NULL */
	assert_int_equal(decode_all("\x01", 1), 0);
	assert_int_equal(decode_all("", 0), 0);
	assert_int_equal(decode_all(NULL, 0), 0);
	assert_int_equal(msg_peek_type(NULL, 0), -1);
	assert_int_equal(msg_peek_type("\x92\x02\x06", 3), MSG_EVENT);
	assert_int_equal(msg_peek_type("\x92\x03\x01", 3), -1);
	assert_int_equal(msg_peek_type("\x92\x02\x07", 3), MSG_REFUSED);
	assert_int_equal(msg_peek_type("\x92\x02\x0a", 3), MSG_COMMITTED_EV);
	assert_int_equal(msg_peek_type("\x92\x02\x0b", 3), -1);
	assert_int_equal(msg_peek_type("\x92\x02\x00", 3), -1);
	assert_int_equal(msg_peek_type("\x91\x02", 2), -1);
	/* a valid message inside an oversized buffer */
	assert_int_equal(msg_encode_lease(&b, &ci), 0);
	{
		size_t big = RESULT_MAX_BYTES + 1;
		char *p = calloc(1, big);

		assert_non_null(p);
		memcpy(p, b.data, b.len);
		assert_int_equal(decode_all(p, MSG_MAX_BYTES + 1), 0);
		assert_int_equal(decode_all(p, big), 0);
		assert_int_equal(msg_peek_type(p, MSG_MAX_BYTES + 1), -1);
		assert_int_equal(msg_peek_type(p, CHUNK_INFO_WIRE_MAX + 1), -1);
		free(p);
	}
	buf_free(&b);
}

static void
test_huge_lengths(void **state)
{
	/* array32 declaring 4 Gi elements */
	static const unsigned char arr32[] = { 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01, 0x01 };
	/* array16 declaring 65535 */
	static const unsigned char arr16[] = { 0xdc, 0xff, 0xff, 0x01, 0x02 };
	/* READY whose source is a str32 of 4 GiB */
	static const unsigned char str32[] = { 0x95, 0x02, 0x01, 0x00, 0x00, 0xdb,
		                               0xff, 0xff, 0xff, 0xff, 'a',  'b' };
	/* READY whose source is a str8 longer than the input */
	static const unsigned char str8[] = { 0x95, 0x02, 0x01, 0x00, 0x00, 0xd9, 0x20, 'a' };
	/* READY with a uint64 beyond u32 and a truncated uint64 */
	static const unsigned char u64[] = { 0x95, 0x02, 0x01, 0xcf, 0, 0,    0,
		                             1,    0,    0,    0,    0, 0x00, 0xa0 };
	static const unsigned char u64t[] = { 0x95, 0x02, 0x01, 0xcf, 0, 0 };
	/* a bin, a map, an ext where the envelope should be */
	static const unsigned char bin[] = { 0xc4, 0x01, 0x01 };
	static const unsigned char map[] = { 0x81, 0x01, 0x01 };
	static const unsigned char ext[] = { 0xd4, 0x01, 0x01 };
	static const unsigned char ok[] = { 0x95, 0x02, 0x01, 0x00, 0x00, 0xa0 };
	struct chunk_info ci = sample_ci();
	struct vmsg m;

	(void)state;
	assert_int_equal(decode_all(ok, sizeof(ok)), 1);
	assert_int_equal(decode_all(arr32, sizeof(arr32)), 0);
	assert_int_equal(decode_all(arr16, sizeof(arr16)), 0);
	assert_int_equal(decode_all(str32, sizeof(str32)), 0);
	assert_int_equal(decode_all(str8, sizeof(str8)), 0);
	assert_int_equal(decode_all(u64, sizeof(u64)), 0);
	assert_int_equal(decode_all(u64t, sizeof(u64t)), 0);
	assert_int_equal(decode_all(bin, sizeof(bin)), 0);
	assert_int_equal(decode_all(map, sizeof(map)), 0);
	assert_int_equal(decode_all(ext, sizeof(ext)), 0);
	assert_int_equal(msg_peek_type(arr32, sizeof(arr32)), -1);
	/* RESULT whose candle array declares 4 Gi candles */
	vmsg_result(&m, &ci, NULL, 0);
	{
		msgpack_sbuffer sb;
		static const unsigned char tail[] = { 0xdd, 0xff, 0xff, 0xff, 0xff, 0x9e };

		m.n--; /* drop the empty candle array header */
		msgpack_sbuffer_init(&sb);
		pack_vals(&sb, m.v, m.n);
		msgpack_sbuffer_write(&sb, (const char *)tail, sizeof(tail));
		assert_int_equal(decode_all(sb.data, sb.size), 0);
		msgpack_sbuffer_destroy(&sb);
	}
	/* a market declared as str32 of 4 GiB */
	vmsg_lease(&m, &ci);
	{
		msgpack_sbuffer sb;
		static const unsigned char s32[] = { 0xdb, 0xff, 0xff, 0xff, 0xff, 'K' };

		msgpack_sbuffer_init(&sb);
		pack_vals(&sb, m.v, 3 + 3); /* header, version, type, id, attempt, tf */
		msgpack_sbuffer_write(&sb, (const char *)s32, sizeof(s32));
		assert_int_equal(decode_all(sb.data, sb.size), 0);
		msgpack_sbuffer_destroy(&sb);
	}
}

/* Random mutations beyond single bits: nothing crashes, and rejected
 * decodes leave outputs untouched (decode_all checks). */
static void
test_mutations(void **state)
{
	struct candle in[3];
	struct msg_result r = { .ci = sample_ci(), .bytes = 1, .ncandles = 3, .candles = in };
	struct buf b = { 0 };
	unsigned char *copy;
	uint32_t seed = 12345;

	(void)state;
	for (int i = 0; i < 3; i++)
		sample_candle(&in[i], i);
	assert_int_equal(msg_encode_result(&b, &r), 0);
	copy = malloc(b.len);
	assert_non_null(copy);
	for (int iter = 0; iter < 20000; iter++) {
		memcpy(copy, b.data, b.len);
		for (int k = 0; k < 1 + iter % 4; k++) {
			seed = seed * 1103515245u + 12345u;
			copy[(seed >> 8) % b.len] = (unsigned char)(seed >> 24);
		}
		(void)decode_all(copy, b.len);
		(void)decode_all(copy, (seed >> 4) % b.len);
	}
	free(copy);
	buf_free(&b);
}

/* What the encoders refuse and what they do at the buffer cap; a FAILED
 * with kind 0 (no failure) on the wire. */
static void
test_edges(void **state)
{
	struct chunk_info ci = sample_ci();
	struct msg_ready ready = { .free_slots = 1, .source = "f1" };
	struct msg_result res;
	struct msg_failed out, pat;
	struct buf b = { 0 };
	struct candle c;
	struct vmsg m;

	(void)state;
	/* a LEASE of an invalid chunk is not encoded */
	ci.count = 0;
	assert_int_equal(msg_encode_lease(&b, &ci), -1);
	assert_int_equal(b.len, 0);
	/* a candle whose first_day has no NUL is not encoded */
	sample_candle(&c, 0);
	memset(c.first_day, '2', sizeof(c.first_day));
	memset(&res, 0, sizeof(res));
	res.ci = sample_ci();
	res.candles = &c;
	res.ncandles = 1;
	assert_int_equal(msg_encode_result(&b, &res), -1);
	assert_int_equal(b.len, 0);
	/* appending near the cap: the buffer grows to the cap (and its NUL) exactly ... */
	b.cap = b.len = MSG_RESULT_MAX_BYTES - 300;
	assert_non_null(b.data = calloc(1, b.cap));
	assert_int_equal(msg_encode_ready(&b, &ready), 0);
	assert_int_equal(b.cap, MSG_RESULT_MAX_BYTES + 1); /* and the NUL */
	assert_true(b.len > MSG_RESULT_MAX_BYTES - 300);
	/* ... and a message that does not fit fails, leaving b as it was */
	b.len = MSG_RESULT_MAX_BYTES - 5;
	assert_int_equal(msg_encode_ready(&b, &ready), -1);
	assert_int_equal(b.len, MSG_RESULT_MAX_BYTES - 5);
	buf_free(&b);
	/* FAILED with kind 0 is refused, the output untouched; kind 1 decodes */
	for (uint64_t kind = 0; kind < 2; kind++) {
		msgpack_sbuffer sb;

		m.n = 0;
		m.v[m.n++] = VA(2 + CI_FIELDS + 4);
		m.v[m.n++] = VU(PROTO_VERSION);
		m.v[m.n++] = VU(MSG_FAILED);
		m.n += ci_vals(&res.ci, &m.v[m.n]);
		m.v[m.n++] = VU(kind);
		m.v[m.n++] = VU(0);
		m.v[m.n++] = VS("fetcher-1");
		m.v[m.n++] = VS("why");
		msgpack_sbuffer_init(&sb);
		pack_vals(&sb, m.v, m.n);
		memset(&out, 0x5a, sizeof(out));
		pat = out;
		assert_int_equal(msg_decode_failed(sb.data, sb.size, &out), kind == 0 ? -1 : 0);
		if (kind == 0)
			assert_memory_equal(&out, &pat, sizeof(out));
		else
			assert_string_equal(out.reason, "why");
		msgpack_sbuffer_destroy(&sb);
	}
}

/* ---- the tables of proto_fields.h ---- */

/* LEASE and COMMITTED round trip of ci; 0 and *out set, or -1. */
static int
ci_round_trip(const struct chunk_info *ci, struct chunk_info *out)
{
	struct msg_committed c = { .ci = *ci, .bytes = 1 }, back;
	struct buf b = { 0 };
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (msg_encode_lease(&b, ci) == -1 || msg_decode_lease(b.data, b.len, out) == -1)
		goto done;
	b.len = 0;
	if (msg_encode_committed(&b, &c) == -1 || msg_decode_committed(b.data, b.len, &back) == -1)
		goto done;
	{ /* the same ChunkInfo both ways: the same LEASE bytes */
		struct buf b2 = { 0 };

		b.len = 0;
		if (msg_encode_lease(&b, out) == 0 && msg_encode_lease(&b2, &back.ci) == 0 &&
		    b.len == b2.len && memcmp(b.data, b2.data, b.len) == 0)
			rc = 0;
		buf_free(&b2);
	}
done:
	buf_free(&b);
	return rc;
}

/* Setting and comparing a field of each kind (a STR at v - 1 characters). */
#define RT_SET_INT(ci, name, v) ((ci).name = (v))
#define RT_SET_U8 RT_SET_INT
#define RT_SET_U16 RT_SET_INT
#define RT_SET_U32 RT_SET_INT
#define RT_SET_U64 RT_SET_INT
#define RT_SET_I8 RT_SET_INT
#define RT_SET_I64 RT_SET_INT
#define RT_SET_STR(ci, name, v) (memset((ci).name, 'A', (v)-1), (ci).name[(v)-1] = '\0')
#define RT_EQ_INT(a, b, name) ((a).name == (b).name)
#define RT_EQ_U8 RT_EQ_INT
#define RT_EQ_U16 RT_EQ_INT
#define RT_EQ_U32 RT_EQ_INT
#define RT_EQ_U64 RT_EQ_INT
#define RT_EQ_I8 RT_EQ_INT
#define RT_EQ_I64 RT_EQ_INT
#define RT_EQ_STR(a, b, name) (strcmp((a).name, (b).name) == 0)
#define RT_CI_FIELD(kind, name, lo, hi, check, json)                                            \
	for (int end = 0; end < 2; end++) {                                                     \
		struct chunk_info ci = sample_ci(), out;                                        \
		RT_SET_##kind(ci, name, end ? (hi) : RT_LO(kind, lo));                          \
		if (ci.cov_to < ci.cov_from)                                                    \
			ci.cov_to = ci.cov_from;                                                \
		if (ci_round_trip(&ci, &out) == -1 || !RT_EQ_##kind(ci, out, name))             \
			fail_msg("ChunkInfo field %s at its %s end does not round-trip", #name, \
			         end ? "upper" : "lower");                                      \
		fields += end;                                                                  \
	}
#define RT_LO(kind, lo) RT_LO_##kind(lo)
#define RT_LO_INT(lo) (lo)
#define RT_LO_U8 RT_LO_INT
#define RT_LO_U16 RT_LO_INT
#define RT_LO_U32 RT_LO_INT
#define RT_LO_U64 RT_LO_INT
#define RT_LO_I8 RT_LO_INT
#define RT_LO_I64 RT_LO_INT
#define RT_LO_STR(lo) 2 /* one character */

/* Every field of the ChunkInfo table round-trips at both ends of its
 * range, alone (so a field the codec forgot, or read into another, fails). */
static void
test_table_round_trip(void **state)
{
	int fields = 0;

	(void)state;
	CHUNK_INFO_FIELDS(RT_CI_FIELD)
	assert_int_equal(fields, CI_FIELDS);
}

/* The other messages' own fields, each set away from zero. */
static void
test_table_messages(void **state)
{
	struct msg_ready r = { 7, 9, "1.2.3.4" }, r2;
	struct msg_failed f = { .ci = sample_ci(), .kind = FAIL_BLOCKED_418 }, f2;
	struct msg_committed c = { .ci = sample_ci(), .bytes = 5, .new_candles = 3 }, c2;
	struct msg_refused x = { PROTO_VERSION, 41, "planner" }, x2;
	struct buf b = { 0 };

	(void)state;
	f.retry_after_ms = 30000;
	strcpy(f.source, "5.6.7.8");
	strcpy(f.reason, "418");
	c.duplicate = 1;
	assert_int_equal(msg_encode_ready(&b, &r), 0);
	assert_int_equal(msg_decode_ready(b.data, b.len, &r2), 0);
	assert_memory_equal(&r, &r2, sizeof(r));
	b.len = 0;
	assert_int_equal(msg_encode_failed(&b, &f), 0);
	assert_int_equal(msg_decode_failed(b.data, b.len, &f2), 0);
	assert_int_equal(f2.kind, f.kind);
	assert_int_equal(f2.retry_after_ms, f.retry_after_ms);
	assert_string_equal(f2.source, f.source);
	assert_string_equal(f2.reason, f.reason);
	b.len = 0;
	assert_int_equal(msg_encode_committed(&b, &c), 0);
	assert_int_equal(msg_decode_committed(b.data, b.len, &c2), 0);
	assert_int_equal(c2.bytes, 5);
	assert_int_equal(c2.new_candles, 3);
	assert_int_equal(c2.duplicate, 1);
	b.len = 0;
	assert_int_equal(msg_encode_refused(&b, &x), 0);
	assert_int_equal(msg_decode_refused(b.data, b.len, &x2), 0);
	assert_int_equal(x2.speaks, PROTO_VERSION);
	assert_int_equal(x2.heard, 41);
	assert_string_equal(x2.who, "planner");
	buf_free(&b);
}

/* The event bodies: the work message's fields, then the wall clock times
 * only the monitor reads; each is its own type, never a work message. */
static void
test_event_bodies(void **state)
{
	struct msg_leased_ev l = { .ci = sample_ci(), .planned_ms = 1751241601234 }, l2;
	struct msg_fetched_ev f = { .ci = sample_ci(), .sent_ms = 1751241602000 }, f2;
	struct msg_committed_ev c = { .ci = sample_ci(), .bytes = 5, .new_candles = 3 }, c2;
	struct chunk_info ci;
	struct msg_committed plain;
	struct buf b = { 0 };

	(void)state;
	l.leased_ms = l.planned_ms + 3;
	f.answered_ms = f.sent_ms + 115;
	f.parsed_ms = f.answered_ms + 6;
	c.duplicate = 1;
	c.committed_ms = INT64_MAX;
	assert_int_equal(msg_encode_leased_ev(&b, &l), 0);
	assert_int_equal(msg_peek_type(b.data, b.len), MSG_LEASED_EV);
	assert_int_equal(msg_decode_leased_ev(b.data, b.len, &l2), 0);
	assert_ci_equal(&l.ci, &l2.ci);
	assert_true(l2.planned_ms == l.planned_ms && l2.leased_ms == l.leased_ms);
	assert_int_equal(msg_decode_lease(b.data, b.len, &ci), -1);
	b.len = 0;
	assert_int_equal(msg_encode_fetched_ev(&b, &f), 0);
	assert_int_equal(msg_decode_fetched_ev(b.data, b.len, &f2), 0);
	assert_ci_equal(&f.ci, &f2.ci);
	assert_true(f2.sent_ms == f.sent_ms && f2.answered_ms == f.answered_ms &&
	            f2.parsed_ms == f.parsed_ms);
	assert_int_equal(msg_decode_leased_ev(b.data, b.len, &l2), -1);
	b.len = 0;
	assert_int_equal(msg_encode_committed_ev(&b, &c), 0);
	assert_int_equal(msg_decode_committed_ev(b.data, b.len, &c2), 0);
	assert_true(c2.committed_ms == INT64_MAX);
	assert_int_equal(c2.bytes, 5);
	assert_int_equal(c2.new_candles, 3);
	assert_int_equal(c2.duplicate, 1);
	assert_int_equal(msg_decode_committed(b.data, b.len, &plain), -1);
	/* a time before 1970 is refused */
	c.committed_ms = -1;
	b.len = 0;
	assert_int_equal(msg_encode_committed_ev(&b, &c), -1);
	buf_free(&b);
}

/* The work messages carry nothing only the monitor reads: the widest
 * LEASE and COMMITTED (every field at the top of its range). */
static void
test_work_messages_are_lean(void **state)
{
	struct chunk_info ci = max_ci();
	struct msg_committed c = { .ci = max_ci(), .bytes = UINT32_MAX };
	struct buf b = { 0 };

	(void)state;
	c.new_candles = CANDLE_MAX_PER_RESPONSE;
	c.duplicate = 1;
	assert_int_equal(msg_encode_lease(&b, &ci), 0);
	assert_true(b.len <= 95); /* 122 with the monitor's timings */
	b.len = 0;
	assert_int_equal(msg_encode_committed(&b, &c), 0);
	assert_true(b.len <= 103); /* 130 with them */
	buf_free(&b);
}

/* REFUSED is read in any envelope version, the others only in ours;
 * msg_peek_version reads any message's version and a map event's "v". */
static void
test_versions(void **state)
{
	struct chunk_info ci = sample_ci(), out;
	struct msg_refused x;
	struct vmsg m;
	char text[160], want[160];

	(void)state;
	/* a LEASE of version 9 is no LEASE, but its version is readable */
	vmsg_lease(&m, &ci);
	m.v[1] = VU(9);
	{
		msgpack_sbuffer sb;

		msgpack_sbuffer_init(&sb);
		pack_vals(&sb, m.v, m.n);
		assert_int_equal(msg_decode_lease(sb.data, sb.size, &out), -1);
		assert_int_equal(msg_peek_type(sb.data, sb.size), -1);
		assert_int_equal(msg_peek_version(sb.data, sb.size), 9);
		msgpack_sbuffer_destroy(&sb);
	}
	/* [9, 7, 9, 1, "planner"]: a refusal from a version-9 planner */
	assert_int_equal(msg_decode_refused("\x95\x09\x07\x09\x01\xa7planner", 13, &x), 0);
	assert_int_equal(x.speaks, 9);
	assert_int_equal(x.heard, 1);
	assert_string_equal(x.who, "planner");
	assert_int_equal(msg_decode_refused("\x95\x09\x07\x09\x01\xa7planner", 12, &x), -1);
	assert_int_equal(msg_decode_refused("\x94\x09\x07\x09\x01", 5, &x), -1);
	/* versions of arrays and maps; anything else has none */
	assert_int_equal(msg_peek_version("\x92\x03\x01", 3), 3);
	assert_int_equal(msg_peek_version("\x82\xa1v\x02\xa1x\x00", 7), 2);
	assert_int_equal(msg_peek_version("\xde\x00\x01\xa1v\x05", 6), 5);
	assert_int_equal(msg_peek_version("\x81\xa1w\x02", 4), -1);
	assert_int_equal(msg_peek_version("\x91\x03", 2), -1);
	assert_int_equal(msg_peek_version("\x92\xff\x01", 3), -1);
	assert_int_equal(msg_peek_version("\xde\x00", 2), -1);
	assert_int_equal(msg_peek_version("\x01", 1), -1);
	assert_int_equal(msg_peek_version("", 0), -1);
	assert_int_equal(msg_peek_version(NULL, 0), -1);
	msg_refusal_text(text, sizeof(text), "planner", 9, "fetcher");
	snprintf(want, sizeof(want),
	         "the planner speaks protocol 9, this fetcher protocol %d: "
	         "rebuild one of them",
	         PROTO_VERSION);
	assert_string_equal(text, want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_ready),
		cmocka_unit_test(test_lease),
		cmocka_unit_test(test_lease_size),
		cmocka_unit_test(test_result),
		cmocka_unit_test(test_result_200),
		cmocka_unit_test(test_failed),
		cmocka_unit_test(test_committed),
		cmocka_unit_test(test_event_bodies),
		cmocka_unit_test(test_work_messages_are_lean),
		cmocka_unit_test(test_field_types_and_ranges),
		cmocka_unit_test(test_candle_fields),
		cmocka_unit_test(test_envelope),
		cmocka_unit_test(test_huge_lengths),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_table_round_trip),
		cmocka_unit_test(test_table_messages),
		cmocka_unit_test(test_versions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
