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

/* Plans a submitted job: 0 with its id, or -1 with the reason in err. */
typedef int (*ctl_submit_fn)(const struct ctl_submit *req, uint32_t *id, char *err, size_t errlen);

struct ctl_env {
	struct plan *plan;
	struct jobs *jobs;
	const struct budget *budgets;
	const int *nbudgets;
	int64_t start_ms; /* monotonic */
	ctl_submit_fn submit;
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

/* The client: `cp-planner ctl --control EP submit|status|cancel|wait ...`;
 * argv[0] is "ctl". Returns the exit code. */
int ctl_main(int argc, char **argv);

#endif
