/*
 * fuzz_proto: libFuzzer entry point for the message decoders
 * (common/proto.c). Every input goes through msg_peek_type,
 * msg_peek_version and every msg_decode_*; an accepted message must re-encode and decode to the same
 * bytes' meaning (encode(decode(x)) decodes again), and a rejected one must
 * leave its output untouched.
 *
 *   clang -std=c11 -D_GNU_SOURCE -g -O1 -Icommon \
 *     -fsanitize=fuzzer,address,undefined tests/fuzz/fuzz_proto.c \
 *     common/proto.c -lmsgpackc -o tests/fuzz/fuzz_proto
 *   tests/fuzz/fuzz_proto -max_len=300000 tests/fuzz/corpus
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct candle cbuf[CANDLE_MAX_PER_RESPONSE];

/* Re-encodes an accepted message and checks it decodes again. */
#define ROUNDTRIP(enc, dec, m, type)                    \
	do {                                            \
		struct buf b_ = { 0 };                  \
		type again_;                            \
		memset(&again_, 0, sizeof(again_));     \
		if (enc(&b_, m) != 0)                   \
			abort();                        \
		if (dec(b_.data, b_.len, &again_) != 0) \
			abort();                        \
		buf_free(&b_);                          \
	} while (0)

static void
untouched(const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		if (c[i] != 0xA5)
			abort();
}

/* The event bodies (proto_fields.h), the same way. */
static void
event_bodies(const uint8_t *data, size_t size)
{
	struct msg_leased_ev le;
	struct msg_fetched_ev fe;
	struct msg_committed_ev ce;

	memset(&le, 0xA5, sizeof(le));
	if (msg_decode_leased_ev(data, size, &le) == 0)
		ROUNDTRIP(msg_encode_leased_ev, msg_decode_leased_ev, &le, struct msg_leased_ev);
	else
		untouched(&le, sizeof(le));
	memset(&fe, 0xA5, sizeof(fe));
	if (msg_decode_fetched_ev(data, size, &fe) == 0)
		ROUNDTRIP(msg_encode_fetched_ev, msg_decode_fetched_ev, &fe, struct msg_fetched_ev);
	else
		untouched(&fe, sizeof(fe));
	memset(&ce, 0xA5, sizeof(ce));
	if (msg_decode_committed_ev(data, size, &ce) == 0)
		ROUNDTRIP(msg_encode_committed_ev, msg_decode_committed_ev, &ce,
		          struct msg_committed_ev);
	else
		untouched(&ce, sizeof(ce));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg_ready rd;
	struct chunk_info ci;
	struct msg_result rs;
	struct msg_failed fl;
	struct msg_committed cm;
	struct msg_refused rf;

	(void)msg_peek_type(data, size);
	(void)msg_peek_version(data, size);

	memset(&rd, 0xA5, sizeof(rd));
	if (msg_decode_ready(data, size, &rd) == 0)
		ROUNDTRIP(msg_encode_ready, msg_decode_ready, &rd, struct msg_ready);
	else
		untouched(&rd, sizeof(rd));

	memset(&ci, 0xA5, sizeof(ci));
	if (msg_decode_lease(data, size, &ci) == 0)
		ROUNDTRIP(msg_encode_lease, msg_decode_lease, &ci, struct chunk_info);
	else
		untouched(&ci, sizeof(ci));

	memset(&rs, 0xA5, sizeof(rs));
	rs.candles = cbuf;
	if (msg_decode_result(data, size, &rs) == 0) {
		struct candle *again = malloc(sizeof(cbuf));
		struct msg_result r2 = { .candles = again };
		struct buf b = { 0 };

		if (again == NULL || msg_encode_result(&b, &rs) != 0 ||
		    msg_decode_result(b.data, b.len, &r2) != 0 || r2.ncandles != rs.ncandles)
			abort();
		buf_free(&b);
		free(again);
	} else {
		untouched(&rs.ci, sizeof(rs.ci));
		if (rs.candles != cbuf)
			abort();
	}

	memset(&fl, 0xA5, sizeof(fl));
	if (msg_decode_failed(data, size, &fl) == 0)
		ROUNDTRIP(msg_encode_failed, msg_decode_failed, &fl, struct msg_failed);
	else
		untouched(&fl, sizeof(fl));

	memset(&cm, 0xA5, sizeof(cm));
	if (msg_decode_committed(data, size, &cm) == 0)
		ROUNDTRIP(msg_encode_committed, msg_decode_committed, &cm, struct msg_committed);
	else
		untouched(&cm, sizeof(cm));

	memset(&rf, 0xA5, sizeof(rf));
	if (msg_decode_refused(data, size, &rf) == 0)
		ROUNDTRIP(msg_encode_refused, msg_decode_refused, &rf, struct msg_refused);
	else
		untouched(&rf, sizeof(rf));
	event_bodies(data, size);
	return 0;
}
