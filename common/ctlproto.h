/*
 * ctlproto.h: the encode/decode helpers of the planner daemon's control
 * protocol (planner/control.h describes the requests and answers), shared
 * by its ends: the daemon (planner/control.c), and the one client
 * (struct ctl_client) of its command line (planner/ctlcli.c) and of
 * cp-serve (serve/readthru.c, serve/jobs.c). One msgpack map per request
 * and per answer, each with "v": CTL_VERSION.
 */
#ifndef CP_CTLPROTO_H
#define CP_CTLPROTO_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>
#include <zmq.h>

#define CTL_VERSION 1
#define CTL_TEXT_MAX 4096 /* markets (or timeframes) joined by commas */
#define CTL_ERR_MAX 512
#define CTL_REPLY_TIMEOUT_MS 3000
#define CTL_GONE_MS 30000 /* wait: how long a daemon may not answer (a restart) */
#define CTL_ENDPOINT_MAX 512

/* What ctl_client_ask makes of one request. */
enum ctl_verdict {
	CTL_NOANSWER = -1, /* nothing (or no msgpack) came back in time */
	CTL_OK = 0,        /* "ok": true, with our version */
	CTL_REFUSED = 1,   /* "ok": false, its "error" in why */
	CTL_ALIEN = 2,     /* not a control answer of CTL_VERSION (why says what) */
};

/* One DEALER socket to a daemon's control endpoint, and its last answer.
 * Not for two threads at once (the caller serialises). */
struct ctl_client {
	void *ctx, *sock;
	char endpoint[CTL_ENDPOINT_MAX];
	int timeout_ms;
	msgpack_unpacked reply; /* the last answer; its strings point into raw */
	zmq_msg_t raw;
	int live;         /* opened, not closed yet */
	int64_t instance; /* the daemon's "instance" (control.h) since its first answer, 0 */
	int restarted;    /* the last answer is of another instance: the daemon restarted */
};

/* How ctl_client_ask_patient rides out a daemon that does not answer. */
struct ctl_patience {
	int gone_ms;                                 /* gives up after this long (CTL_GONE_MS) */
	const volatile sig_atomic_t *stop;           /* or once *stop is set (NULL: never) */
	void (*waiting)(const struct ctl_client *c); /* at the first silence (or NULL) */
};

/* Connects c to endpoint (a ZeroMQ address; the connection itself is
 * made in the background) with a wait of timeout_ms per answer: 0, or -1
 * with why. c is closed with ctl_client_close either way. */
int ctl_client_open(struct ctl_client *c, const char *endpoint, int timeout_ms, char *why,
                    size_t len);
void ctl_client_close(struct ctl_client *c);
/* Sends the packed request sb and waits for its answer, then c->reply.data
 * holds it (until the next ask). A request with no answer in time (or a
 * malformed one) makes the socket anew, so that a late answer is never
 * taken for the next one's. An answer notes the daemon's instance
 * (c->instance, c->restarted). Returns the verdict; why says what went
 * wrong (with the endpoint when nothing came back). */
enum ctl_verdict ctl_client_ask(struct ctl_client *c, const msgpack_sbuffer *sb, char *why,
                                size_t len);
/* ctl_client_ask, but a daemon that does not answer is asked again, on a
 * new socket each time, until p->gone_ms have passed or *p->stop is set
 * (a supervisor restarts a daemon that died). CTL_NOANSWER's why says for
 * how long. Whether the answer came from a restarted daemon: c->restarted
 * (then the jobs it was asked about are gone, and its refusal of them is
 * no verdict). */
enum ctl_verdict ctl_client_ask_patient(struct ctl_client *c, const msgpack_sbuffer *sb,
                                        const struct ctl_patience *p, char *why, size_t len);

/* Waits up to timeout_ms for sock to be readable, through signals (a
 * signal that ends the wait early, say SIGINT on a client that then
 * cancels its job, must not lose the answer): 1 readable, 0 not in time,
 * -1 on an error of the socket. */
int ctl_poll_in(void *sock, long timeout_ms);

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
/* Packs a comma-separated list as an array of strings (empty items kept as
 * such: the daemon refuses them). */
void ctl_pack_list(msgpack_packer *pk, const char *list);
/* Packs a SUBMIT of one market and one timeframe over [from, to) (epoch s)
 * into pk: {v, op:"submit", markets:[market], timeframes:[tf], from, to}. */
void ctl_pack_submit1(msgpack_packer *pk, const char *market, const char *tf, int64_t from,
                      int64_t to);
/* Whether a job state names an end: done, failed or cancelled. */
int ctl_state_final(const char *state);

#endif
