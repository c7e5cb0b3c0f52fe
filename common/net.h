/*
 * net.h: ZeroMQ sockets set up the same way in every process: explicit
 * high-water marks, a short linger, ROUTER_MANDATORY on routers, optional
 * CURVE keys, and the lossy event publisher.
 */
#ifndef CP_NET_H
#define CP_NET_H

#include <stddef.h>

#include <zmq.h>

#define NET_HWM 1000
#define NET_LINGER_MS 200
/* A connecting socket whose peer is not bound yet (the writer starts
 * before the planner) retries after 10 ms, doubling to 100 ms (ZeroMQ's
 * fixed 100 ms would delay the first COMMITTED by up to that). */
#define NET_RECONNECT_MS 10
#define NET_RECONNECT_MAX_MS 100

struct net_curve {
	const char *server_key_file; /* server: our secret+public; client: server public */
	const char *client_key_file; /* client: our secret+public */
};

/* Tuning for one socket: 0 keeps NET_HWM; immediate sets ZMQ_IMMEDIATE (a
 * send fails at once while the peer is down instead of queueing). */
struct net_tune {
	int hwm;
	int immediate;
};

/* A new ZeroMQ context, or NULL (logged). */
void *net_ctx_new(void);
/* Terminates ctx (its sockets closed first), again after EINTR; any other
 * failure is logged. */
void net_ctx_term(void *ctx);

/* Creates a socket of type (ZMQ_ROUTER, ZMQ_DEALER, ...) and binds
 * (bind != 0) or connects it to endpoint. Returns the socket or NULL (logged).
 * curve may be NULL (no encryption). */
void *net_socket(void *ctx, int type, const char *endpoint, int bind,
                 const struct net_curve *curve);
/* The same with tuning (tune may be NULL). */
void *net_socket_tuned(void *ctx, int type, const char *endpoint, int bind,
                       const struct net_curve *curve, const struct net_tune *tune);
/* Starts the ZAP handler of ctx (a thread): CURVE clients are accepted only
 * if their public key is listed in allow_file ("public=<z85>" lines). Call
 * before binding CURVE sockets. 0 or -1 (logged). */
int net_zap_start(void *ctx, const char *allow_file);
/* Stops it (before zmq_ctx_term). */
void net_zap_stop(void);

/* The frames of one message as net_recv_msg received them. */
#define NET_FRAMES_MAX 8
#define NET_WHY_MAX 128
struct net_msg {
	zmq_msg_t f[NET_FRAMES_MAX];
	int n;                 /* frames held (after a return > 0) */
	int err;               /* after -1: the receive's errno, or EMSGSIZE (too many frames) */
	char why[NET_WHY_MAX]; /* after -1: the reason, for a log line */
};
/* Receives one whole multipart message from sock (flags: 0, or ZMQ_DONTWAIT
 * to return at once when none is waiting). Returns its number of frames
 * (1 to NET_FRAMES_MAX), 0 if flags has ZMQ_DONTWAIT and nothing is
 * waiting, or -1 with m->why set: a message of more frames (all of them
 * received, the first NET_FRAMES_MAX kept in m, the rest dropped:
 * m->err == EMSGSIZE, the next message can be read), or a receive that
 * failed (m->err its errno: ETERM, EINTR...; nothing kept; stop reading for
 * now). Whatever it returns, net_msg_close(m) afterwards is right. */
int net_recv_msg(void *sock, int flags, struct net_msg *m);
/* The next whole message waiting on sock, without blocking: its number of
 * frames (net_msg_close it), or 0 when none is waiting or the receive
 * failed (logged under from, e.g. "work socket"). Messages of too many
 * frames are dropped on the way, each logged. */
int net_recv_next(void *sock, struct net_msg *m, const char *from);
/* Frame i of m and its length. */
const void *net_frame(const struct net_msg *m, int i, size_t *len);
/* Releases the frames m holds; safe to call again. */
void net_msg_close(struct net_msg *m);

/* Sends one frame without blocking; 0, or -1 if it would block or failed. */
int net_send(void *sock, const void *data, size_t len, int more);
/* The event stream: PUB connected to the planner's event hub. Sending never
 * blocks and drops when nobody listens or the pipe is full. */
void *net_events_open(void *ctx, const char *endpoint, const struct net_curve *curve);
/* Publishes topic + payload (two frames). */
void net_event(void *pub, const char *topic, const void *data, size_t len);

/* The hello (proto.h): every envelope carries PROTO_VERSION. A router
 * that received data from ident answers a message of another version with
 * REFUSED and logs it (once per version heard): 1, the caller drops it; 0
 * if data has our version or none. self names us ("planner"). */
int net_refuse_other_version(void *router, const void *ident, size_t ilen, const void *data,
                             size_t len, const char *self);
/* A message from peer ("planner") of another version, a REFUSED included:
 * exits EXIT_PERMFAIL with one line naming both versions. */
void net_require_version(const void *data, size_t len, const char *peer, const char *self);

#endif
