/*
 * ctlproto.h: the encode/decode helpers of the planner daemon's control
 * protocol (planner/control.h describes the requests and answers), shared
 * by its three ends: the daemon (planner/control.c), its command-line client
 * (planner/ctlcli.c) and cp-serve's read-through (serve/readthru.c). One
 * msgpack map per request and per answer, each with "v": CTL_VERSION.
 */
#ifndef CP_CTLPROTO_H
#define CP_CTLPROTO_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#define CTL_VERSION 1
#define CTL_TEXT_MAX 4096 /* markets (or timeframes) joined by commas */
#define CTL_ERR_MAX 512
#define CTL_REPLY_TIMEOUT_MS 3000
#define CTL_GONE_MS 30000 /* wait: how long a daemon may not answer (a restart) */

/* The value of key in map (a msgpack map), or NULL. */
const msgpack_object *ctl_get(const msgpack_object *map, const char *key);
int ctl_get_i64(const msgpack_object *map, const char *key, int64_t *out);
/* Copies a msgpack string (shorter than cap) into buf; 0 or -1. */
int ctl_str_copy(const msgpack_object *o, char *buf, size_t cap);
/* Copies a string value (shorter than cap); 0 or -1. */
int ctl_get_str(const msgpack_object *map, const char *key, char *buf, size_t cap);
/* Checks that o is a map with "v" == CTL_VERSION; 0, or -1 with err. */
int ctl_check_version(const msgpack_object *o, char *err, size_t errlen);
/* Packs a string key and a string value. */
void ctl_pack_kv_str(msgpack_packer *pk, const char *key, const char *val);
void ctl_pack_kv_i64(msgpack_packer *pk, const char *key, int64_t val);
void ctl_pack_key(msgpack_packer *pk, const char *key);
/* Packs a SUBMIT of one market and one timeframe over [from, to) (epoch s)
 * into pk: {v, op:"submit", markets:[market], timeframes:[tf], from, to}. */
void ctl_pack_submit1(msgpack_packer *pk, const char *market, const char *tf, int64_t from,
                      int64_t to);
/* Whether a job state names an end: done, failed or cancelled. */
int ctl_state_final(const char *state);

#endif
