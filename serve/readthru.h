/*
 * readthru.h: what serve/readthru.c (misses become jobs of the daemon) and
 * serve/forming.c (the forming candle from upstream) share: a request's
 * state across its suspensions, the table of flights (a job, or an upstream
 * call, that requests wait on) and its lock. Private to serve/.
 */
#ifndef CP_SERVE_READTHRU_H
#define CP_SERVE_READTHRU_H

#include <pthread.h>
#include <stdint.h>

#include "ctlproto.h"
#include "serve.h"

#define RT_MARKET_MAX 64

enum fl_kind { FL_JOB, FL_FORMING };

enum rt_result {
	RT_NONE,    /* not waited yet, or waiting */
	RT_DONE,    /* the job ended with its window covered / the candle came */
	RT_FAILED,  /* the job failed, the daemon did not answer, upstream failed */
	RT_TIMEOUT, /* --miss-timeout-ms passed */
};

struct flight;

struct rt_req {
	struct MHD_Connection *conn;
	int64_t t0_us, deadline_ms;
	int waited, rounds;
	/* what to wait on (set before parking) */
	enum fl_kind kind;
	char market[RT_MARKET_MAX];
	enum tf tf;
	int64_t from, to;
	/* how the last wait ended */
	enum rt_result res;
	int status; /* the error's status when res is RT_FAILED */
	char why[CTL_ERR_MAX];
	int64_t done_from, done_to; /* the window of the last job that ended covered */
	/* the forming candle, once it came */
	int have_forming;
	int64_t forming_open;
	struct buf forming;
	struct flight *fl;
	struct rt_req *next; /* among its flight's waiters, or to resume */
};

struct flight {
	enum fl_kind kind;
	char market[RT_MARKET_MAX];
	enum tf tf;
	int64_t from, to;
	int64_t job;      /* the daemon's job id, 0 until submitted */
	int64_t instance; /* the daemon's instance that gave job (ids restart with it) */
	int busy;         /* submitted (job) or being fetched (forming) */
	struct rt_req *waiters;
	struct flight *next;
};

/* Every flight and request field is under rt_lock. */
extern pthread_mutex_t rt_lock;
extern struct flight *rt_flights;
extern struct rt_opts rt_opt;
extern int rt_stopping;

/* Ends fl (unlinked, freed): each waiter gets res and why and is moved to
 * *resume. Under rt_lock. */
void rt_finish(struct flight *fl, enum rt_result res, int status, const char *why,
               struct rt_req **resume);
/* Resumes the connections of list (after rt_lock is released). */
void rt_resume(struct rt_req *list);
uint64_t rt_count(uint64_t *c);
void rt_add(uint64_t *c);

/* r's state, made on first use: NULL with a 500 in r when out of memory. */
struct rt_req *rt_req_of(struct sv_reply *r);
/* Parks r on the upstream call for the forming candle of (market, tf) in
 * the slot open: 0, or -1 with the error in r (an earlier wait failed, the
 * deadline passed). */
int rt_forming_park(struct sv_reply *r, const char *market, enum tf tf, int64_t open);

/* forming.c */
int forming_start(void);
/* Wakes the upstream thread (under rt_lock). */
void forming_wake(void);
void forming_stop(void);
void forming_metrics(struct buf *b);

#endif
