/*
 * ctlproto.c: the control protocol's encode/decode helpers (ctlproto.h):
 * looking values up in a decoded msgpack map, the version check, packing
 * keys and values, and the one-target SUBMIT that cp-serve and the client
 * both send. Owns no socket and no state.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "ctlproto.h"

const msgpack_object *
ctl_get(const msgpack_object *map, const char *key)
{
	size_t len = strlen(key);

	if (map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];
		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == len &&
		    memcmp(kv->key.via.str.ptr, key, len) == 0)
			return &kv->val;
	}
	return NULL;
}

int
ctl_get_i64(const msgpack_object *map, const char *key, int64_t *out)
{
	const msgpack_object *o = ctl_get(map, key);

	if (o != NULL && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) {
		*out = (int64_t)o->via.u64;
		return 0;
	}
	if (o != NULL && o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*out = o->via.i64;
		return 0;
	}
	return -1;
}

int
ctl_str_copy(const msgpack_object *o, char *buf, size_t cap)
{
	if (o == NULL || o->type != MSGPACK_OBJECT_STR || o->via.str.size >= cap)
		return -1;
	memcpy(buf, o->via.str.ptr, o->via.str.size);
	buf[o->via.str.size] = '\0';
	return 0;
}

int
ctl_get_str(const msgpack_object *map, const char *key, char *buf, size_t cap)
{
	return ctl_str_copy(ctl_get(map, key), buf, cap);
}

int
ctl_check_version(const msgpack_object *o, char *err, size_t errlen)
{
	int64_t v;

	if (o->type != MSGPACK_OBJECT_MAP || ctl_get_i64(o, "v", &v) == -1) {
		snprintf(err, errlen, "not a control message (a map with \"v\" wanted)");
		return -1;
	}
	if (v != CTL_VERSION) {
		snprintf(err, errlen, "this daemon speaks control protocol %d, the request %lld",
		         CTL_VERSION, (long long)v);
		return -1;
	}
	return 0;
}

void
ctl_pack_key(msgpack_packer *pk, const char *key)
{
	size_t n = strlen(key);

	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, key, n);
}

void
ctl_pack_kv_str(msgpack_packer *pk, const char *key, const char *val)
{
	ctl_pack_key(pk, key);
	ctl_pack_key(pk, val);
}

void
ctl_pack_kv_i64(msgpack_packer *pk, const char *key, int64_t val)
{
	ctl_pack_key(pk, key);
	msgpack_pack_int64(pk, val);
}

void
ctl_pack_submit1(msgpack_packer *pk, const char *market, const char *tf, int64_t from, int64_t to)
{
	msgpack_pack_map(pk, 6);
	ctl_pack_kv_i64(pk, "v", CTL_VERSION);
	ctl_pack_kv_str(pk, "op", "submit");
	ctl_pack_key(pk, "markets");
	msgpack_pack_array(pk, 1);
	ctl_pack_key(pk, market);
	ctl_pack_key(pk, "timeframes");
	msgpack_pack_array(pk, 1);
	ctl_pack_key(pk, tf);
	ctl_pack_kv_i64(pk, "from", from);
	ctl_pack_kv_i64(pk, "to", to);
}

int
ctl_state_final(const char *s)
{
	return strcmp(s, "done") == 0 || strcmp(s, "failed") == 0 || strcmp(s, "cancelled") == 0;
}
