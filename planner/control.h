/*
 * control.h: the planner daemon's control protocol (private to planner/).
 * A client (DEALER) sends one msgpack map per request to the daemon's
 * ROUTER control socket and gets one map back. Every map carries
 * "v": CTL_VERSION; a request of another version is answered with an
 * error naming both versions and changes nothing.
 *
 *   SUBMIT  {v, op:"submit", markets:[str], timeframes:[str], from:int,
 *            [to:int], [follow:bool]}           -> {v, ok, job | error}
 *   STATUS  {v, op:"status", [job:int]}         -> {v, ok, uptime_ms,
 *            impossible, budgets:[{source, rate, rate_now, sent, n429}],
 *            jobs:[{id, state, reason, slots_done, slots_total, requests,
 *                   waits, age_ms, first_lease_us (planned -> first lease,
 *                   -1 before it), targets:[{market, tf, from, to, slots_done,
 *                   slots_total, requests, missing:[{from, to, reason}]}]}]}
 *   CANCEL  {v, op:"cancel", job:int}           -> {v, ok | error}
 *   FOLLOW  {v, op:"follow", markets:[str], timeframes:[str],
 *            [backfill:int | from:int]}         -> {v, ok, added:int,
 *            follows:[FOLLOWED]} (the subscriptions of the request; one
 *            per market and timeframe, kept in the follows table)
 *   UNFOLLOW {v, op:"unfollow", markets:[str], timeframes:[str]}
 *                                               -> {v, ok | error}
 *   FOLLOWS {v, op:"follows"}                   -> {v, ok, follows:[FOLLOWED]}
 *   FOLLOWED = {job, state, reason, backfill, added, target:{as in STATUS}}
 *
 * Every answer also carries "instance": a number this run of the daemon
 * drew when it started. A client that sees it change knows the daemon was
 * restarted and its jobs are gone (job ids start again at 1); a one-shot
 * job is idempotent, so the client submits it again.
 *
 * Times are epoch seconds; from and to follow the command line's rules
 * (to absent: now; candles starting in [from, to), never the forming one).
 */
#ifndef CP_CONTROL_H
#define CP_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>
#include <zmq.h>

#include "budget.h"
#include "ctlproto.h"
#include "job.h"
#include "plan.h"

struct ctl_submit {
	char markets[CTL_TEXT_MAX];    /* "KRW-BTC,KRW-ETH" */
	char timeframes[CTL_TEXT_MAX]; /* "1m,1h" */
	int64_t from, to;              /* epoch seconds; to 0: now */
	int follow;
};

/* A FOLLOW or UNFOLLOW request. */
struct ctl_follow {
	char markets[CTL_TEXT_MAX];
	char timeframes[CTL_TEXT_MAX];
	int64_t backfill; /* -1: not given */
	int64_t from;     /* -1: not given; else the backfill starts there */
};

/* Plans a submitted job: 0 with its id, or -1 with the reason in err. */
typedef int (*ctl_submit_fn)(const struct ctl_submit *req, uint32_t *id, char *err, size_t errlen);
/* Adds (remove 0) or removes the subscriptions of req: the number added or
 * removed, or -1 with the reason in err (then nothing changed). */
typedef int (*ctl_follow_fn)(const struct ctl_follow *req, int remove, char *err, size_t errlen);

struct ctl_env {
	struct plan *plan;
	struct jobs *jobs;
	const struct budget *budgets;
	const int *nbudgets;
	int64_t start_ms; /* monotonic */
	ctl_submit_fn submit;
	ctl_follow_fn follow;
};

/* Binds the control socket at endpoint. For ipc:// the socket's directory
 * is created mode 0700 (or must be a directory of ours that only we can
 * use) and the socket file is made 0600. 0, or -1 with the reason in err. */
int ctl_open(void *ctx, const char *endpoint, const struct ctl_env *env, char *err, size_t errlen);
/* The control socket's poll item into *item: 1, or 0 when not open. */
int ctl_poll_item(zmq_pollitem_t *item);
/* Answers every request waiting on the control socket. */
void ctl_drain(void);
void ctl_close(void);
/* Shared by the daemon and the client (ctlcli.c). */
/* The comma-joined lists of markets and timeframes of m; -1 with err. */
int ctl_get_lists(const msgpack_object *m, char *markets, char *timeframes, size_t cap, char *err,
                  size_t errlen);
/* 1 if item is one of the comma-separated list. */
int ctl_in_list(const char *item, const char *list);

/* The client: `cp-planner ctl --control EP submit|status|cancel|wait ...`;
 * argv[0] is "ctl". Returns the exit code. */
int ctl_main(int argc, char **argv);

#endif
