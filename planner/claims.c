/*
 * claims.c: the planner's claims on a PostgreSQL database (issue 14), for an
 * embedded collection and for the daemon's jobs. Owns the planner's second
 * connection (the first only reads coverage), this collector's owner id,
 * the claims it holds in candlepipe.claims and the ranges it deferred
 * because another collector claimed them.
 *
 * Before a target's missing ranges become segments, they are claimed (and
 * so are a followed target's new slots as its candles close, the live
 * tail, claims_extend: two followers of one market fetch each once): in
 * one transaction, serialised per (market, timeframe) by an advisory lock,
 * the expired claims overlapping them are deleted, the other owners' live
 * ones are read (those ranges are planned around and deferred), the
 * coverage is read again (what another collector committed and let go
 * meanwhile is proven: it lets go only after its commit), and the rest is
 * inserted as ours (expires = now + CLAIMS_TTL_S; the exclusion constraint
 * is the backstop). A claim of ours is deleted once no live segment of its
 * market and timeframe overlaps it any more (its range is done, failed, or
 * its job cancelled), the others are renewed every CLAIMS_RENEW_MS, all are
 * deleted when the planner ends, and a dead collector's lapse. A deferred
 * range is looked at again every CLAIMS_RETRY_MS: what was covered
 * meanwhile is proven, what our own other targets fetch stays deferred,
 * what nobody holds any more is claimed and becomes a new segment. So two
 * collectors with overlapping work never fetch the same range at once.
 * Claims are an optimisation of requests, never of correctness (the
 * writer's merge is): when they fail (no right to write them, the server
 * gone), the planner logs it and goes on without.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "claims.h"
#include "log.h"
#include "pgdb.h"
#include "timeutil.h"

struct deferred {
	int target;
	struct range_list r;
};

/* one row of ours in candlepipe.claims */
struct held {
	char market[MARKET_MAX];
	enum tf tf;
	int64_t from, to;
};

static PGconn *conn;
static char owner[512];
static char conninfo[1024];
static struct deferred *def;
static int ndef;
static struct held *held;
static int nheld;
static int64_t renewed_ms, retried_ms, ticked_ms;

static const char SQL_DELETE_OURS[] = "DELETE FROM candlepipe.claims WHERE owner = $1";

int
claims_open(const char *db, uint32_t run_id, const char *name)
{
	char host[64] = "host";
	const char *params[1] = { owner };
	int code;

	if (!pgdb_is_uri(db))
		return 0;
	gethostname(host, sizeof(host) - 1);
	if (name != NULL)
		snprintf(owner, sizeof(owner), "%s/%s", host, name);
	else
		snprintf(owner, sizeof(owner), "%s/%ld/%08x", host, (long)getpid(), run_id);
	snprintf(conninfo, sizeof(conninfo), "%s", db);
	conn = pgdb_connect(db, "cp-planner claims", &code);
	if (conn == NULL)
		log_warnx("claims: no connection; collecting without claims");
	else if (name != NULL) /* our previous run's (no schema yet: none) */
		PQclear(PQexecParams(conn, SQL_DELETE_OURS, 1, NULL, params, NULL, NULL, 0));
	renewed_ms = retried_ms = ticked_ms = time_mono_ms();
	return 0;
}

/* The connection, reconnected if it was lost; NULL without claims. */
static PGconn *
live(void)
{
	int code;

	if (conninfo[0] == '\0')
		return NULL;
	if (conn != NULL && PQstatus(conn) == CONNECTION_OK)
		return conn;
	PQfinish(conn);
	conn = pgdb_connect(conninfo, "cp-planner claims", &code);
	return conn;
}

/* Runs sql with params; 0 or -1 (logged). Rows into *out when wanted. */
static int
exec_params(const char *sql, int n, const char *const *params, PGresult **out)
{
	PGresult *r = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = r != NULL ? PQresultStatus(r) : PGRES_FATAL_ERROR;

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		if (out != NULL)
			*out = r;
		else
			PQclear(r);
		return 0;
	}
	log_warnx("claims: %s", pgdb_errmsg(conn, r));
	PQclear(r);
	return -1;
}

/* out = a minus b minus c (each sorted, non-overlapping). 0 or -1. */
static int
minus2(const struct range_list *a, const struct range_list *b, const struct range_list *c,
       struct range_list *out)
{
	struct range_list t = { 0 };
	int rc = range_subtract(a, b, &t) == -1 || range_subtract(&t, c, out) == -1 ? -1 : 0;

	range_list_free(&t);
	return rc;
}

/* out = a and b (both sorted, non-overlapping). 0 or -1. */
static int
intersect(const struct range_list *a, const struct range_list *b, struct range_list *out)
{
	struct range_list rest = { 0 };
	int rc = range_subtract(a, b, &rest) == -1 || range_subtract(a, &rest, out) == -1 ? -1 : 0;

	range_list_free(&rest);
	return rc;
}

/* The live claims of (market, tf) in [from, to): others' into theirs, ours
 * into mine. 0 or -1. */
static int
read_claims(const char *const *key, struct range_list *theirs, struct range_list *mine)
{
	PGresult *r = NULL;
	int rc;

	if (exec_params("SELECT extract(epoch FROM lower(span))::bigint,"
	                " extract(epoch FROM upper(span))::bigint, owner = $5"
	                " FROM candlepipe.claims WHERE market = $1 AND timeframe = $2"
	                " AND span && tsrange($3::timestamp, $4::timestamp) ORDER BY lower(span)",
	                5, key, &r) == -1)
		return -1;
	rc = 0;
	for (int i = 0; i < PQntuples(r) && rc == 0; i++)
		rc = range_list_push(PQgetvalue(r, i, 2)[0] == 't' ? mine : theirs,
		                     strtoll(PQgetvalue(r, i, 0), NULL, 10),
		                     strtoll(PQgetvalue(r, i, 1), NULL, 10));
	PQclear(r);
	return rc;
}

/* Inserts the ranges of l as ours. 0 or -1. */
static int
insert_claims(const char *market, enum tf tf, const struct range_list *l)
{
	char f[TIME_TEXT_LEN], t[TIME_TEXT_LEN], ttl[16];
	const char *params[6] = { market, tf_name(tf), f, t, owner, ttl };

	snprintf(ttl, sizeof(ttl), "%d", CLAIMS_TTL_S);
	for (size_t i = 0; i < l->n; i++) {
		pgdb_time_param(l->v[i].from, f);
		pgdb_time_param(l->v[i].to, t);
		if (exec_params("INSERT INTO candlepipe.claims VALUES ($1, $2,"
		                " tsrange($3::timestamp, $4::timestamp), $5,"
		                " now() + make_interval(secs => $6::int))",
		                6, params, NULL) == -1)
			return -1;
	}
	return 0;
}

/* Remembers the ranges of l (committed) as rows of ours. */
static void
hold(const char *market, enum tf tf, const struct range_list *l)
{
	struct held *v;

	if (l->n == 0)
		return;
	v = realloc(held, (nheld + l->n) * sizeof(*v));
	if (v == NULL)
		fatalx(EXIT_TEMPFAIL, "out of memory");
	held = v;
	for (size_t i = 0; i < l->n; i++) {
		/* cppcheck-suppress nullPointerRedundantCheck ; fatalx does not return */
		struct held *h = &held[nheld++];
		snprintf(h->market, sizeof(h->market), "%s", market);
		h->tf = tf;
		h->from = l->v[i].from;
		h->to = l->v[i].to;
	}
}

/* The claim transaction's start: BEGIN, the lock of (market, tf), the
 * expired claims over [from, to) of key deleted, the live ones read. */
static int
lock_read(const char *const *key, struct range_list *theirs, struct range_list *mine)
{
	return exec_params("BEGIN", 0, NULL, NULL) == -1 ||
	               exec_params("SELECT pg_advisory_xact_lock(hashtext('claims/' || $1 || '/' "
	                           "|| $2))",
	                           2, key, NULL) == -1 ||
	               exec_params("DELETE FROM candlepipe.claims WHERE market = $1 AND timeframe ="
	                           " $2 AND span && tsrange($3::timestamp, $4::timestamp)"
	                           " AND expires < now()",
	                           4, key, NULL) == -1 ||
	               read_claims(key, theirs, mine) == -1
	           ? -1
	           : 0;
}

/* The claim transaction over want (sorted, not empty): the part another
 * collector holds into theirs, the part covered now into late, the rest
 * claimed as ours. 0 or -1. */
static int
take_txn(const char *market, enum tf tf, const struct range_list *want, struct range_list *theirs,
         struct range_list *late)
{
	char f[TIME_TEXT_LEN], t[TIME_TEXT_LEN];
	const char *key[5] = { market, tf_name(tf), f, t, owner };
	int64_t lo = want->v[0].from, hi = want->v[want->n - 1].to;
	struct range_list raw = { 0 }, mine = { 0 }, rest = { 0 }, cov = { 0 }, add = { 0 };
	int rc = -1;

	pgdb_time_param(lo, f);
	pgdb_time_param(hi, t);
	if (lock_read(key, &raw, &mine) == -1 || intersect(want, &raw, theirs) == -1 ||
	    range_subtract(want, theirs, &rest) == -1 ||
	    /* after the claims: a claim is let go only after its range's commit */
	    pgdb_covered(conn, market, key[1], lo, hi, &cov) == -1 ||
	    intersect(&rest, &cov, late) == -1 || minus2(&rest, late, &mine, &add) == -1 ||
	    insert_claims(market, tf, &add) == -1 || exec_params("COMMIT", 0, NULL, NULL) == -1)
		goto done;
	hold(market, tf, &add);
	rc = 0;
done:
	if (rc == -1)
		PQclear(PQexec(conn, "ROLLBACK"));
	range_list_free(&raw);
	range_list_free(&mine);
	range_list_free(&rest);
	range_list_free(&cov);
	range_list_free(&add);
	return rc;
}

/* Claims want (sorted; theirs and late empty): see take_txn. Without
 * claims, or when they fail (logged), theirs and late stay empty. */
static void
take(const char *market, enum tf tf, const struct range_list *want, struct range_list *theirs,
     struct range_list *late)
{
	if (want->n == 0 || live() == NULL || take_txn(market, tf, want, theirs, late) == 0)
		return;
	theirs->n = late->n = 0;
	log_warnx("claims: %s %s not claimed; fetching it without a claim", market, tf_name(tf));
}

/* Remembers theirs (of target) to be looked at again; said at info level,
 * or with tail (a followed candle: one a candle) at debug level. */
static void
defer(int target, const struct range_list *theirs, int tail)
{
	struct deferred *v;

	if (theirs->n == 0)
		return;
	v = realloc(def, (size_t)(ndef + 1) * sizeof(*v));
	if (v == NULL)
		fatalx(EXIT_TEMPFAIL, "out of memory");
	def = v;
	v += ndef++;
	/* cppcheck-suppress nullPointerRedundantCheck ; fatalx does not return */
	v->target = target;
	memset(&v->r, 0, sizeof(v->r));
	if (range_subtract(theirs, &(struct range_list){ 0 }, &v->r) == -1)
		fatalx(EXIT_TEMPFAIL, "out of memory");
	if (tail)
		log_debug("claims: the new candles of target %d held by another collector;"
		          " waiting on them",
		          target);
	else
		log_info("claims: %zu range%s of target %d held by another collector; planned"
		         " around",
		         theirs->n, theirs->n == 1 ? "" : "s", target);
}

/* What target gets of a claim: late is proven, mine become its segments
 * (newest first). */
static void
add_ranges(struct plan *p, int target, const struct range_list *late, const struct range_list *mine)
{
	for (size_t i = 0; i < late->n; i++)
		plan_add_done(p, target, late->v[i].from, late->v[i].to);
	for (size_t i = mine->n; i-- > 0;)
		plan_add_range(p, target, mine->v[i].from, mine->v[i].to);
}

/* What a claim of want split it into: held by another collector, proven
 * meanwhile, ours to fetch. */
struct split {
	struct range_list theirs, late, mine;
};

/* Claims want (sorted) into c (empty): see take. */
static void
claim(const char *market, enum tf tf, const struct range_list *want, struct split *c)
{
	take(market, tf, want, &c->theirs, &c->late);
	if (minus2(want, &c->theirs, &c->late, &c->mine) == -1)
		fatalx(EXIT_TEMPFAIL, "out of memory");
}

/* Gives target what c holds (add_ranges, defer: tail as there), then
 * frees c. */
static void
apply(struct plan *p, int target, struct split *c, int tail)
{
	add_ranges(p, target, &c->late, &c->mine);
	defer(target, &c->theirs, tail);
	range_list_free(&c->theirs);
	range_list_free(&c->late);
	range_list_free(&c->mine);
}

int
claims_add_target(struct plan *p, const char *market, enum tf tf, int64_t from, int64_t to,
                  const struct range_list *covered, const struct range_list *except)
{
	static const struct range_list none = { 0 };
	struct range_list want = { 0 }, missing = { 0 };
	struct split c = { 0 };
	int idx;

	if (live() == NULL)
		return plan_add_target_except(p, market, tf, from, to, covered, except);
	if (range_list_push(&want, from, to) == -1 ||
	    minus2(&want, covered, except != NULL ? except : &none, &missing) == -1)
		fatalx(EXIT_TEMPFAIL, "out of memory");
	claim(market, tf, &missing, &c);
	/* the target without segments: they are added as claimed */
	idx = plan_add_target_except(p, market, tf, from, to, covered, &want);
	apply(p, idx, &c, 0);
	range_list_free(&want);
	range_list_free(&missing);
	return idx;
}

void
claims_extend(struct plan *p, int target, int64_t to)
{
	struct target *t = &p->t[target];
	struct range_list want = { 0 };
	struct split c = { 0 };

	if (to <= t->to)
		return;
	if (live() == NULL) {
		plan_extend(p, target, to);
		return;
	}
	if (range_list_push(&want, t->to, to) == -1)
		fatalx(EXIT_TEMPFAIL, "out of memory");
	claim(t->market, t->tf, &want, &c);
	/* the new slots without segments: they are added as claimed */
	plan_grow(p, target, to);
	apply(p, target, &c, 1);
	range_list_free(&want);
}

int
claims_waiting(void)
{
	return ndef > 0;
}

int
claims_deferred(int target, int64_t from, int64_t to)
{
	for (int i = 0; i < ndef; i++)
		for (size_t k = 0; def[i].target == target && k < def[i].r.n; k++)
			if (def[i].r.v[k].from < to && def[i].r.v[k].to > from)
				return 1;
	return 0;
}

void
claims_forget(int target)
{
	for (int i = 0; i < ndef;) {
		if (def[i].target == target) {
			range_list_free(&def[i].r);
			def[i] = def[--ndef];
		} else {
			i++;
		}
	}
}

/* 1 if s is a live segment (with slots left) of (market, tf). */
static int
seg_of(const struct plan *p, const struct segment *s, const char *market, enum tf tf)
{
	const struct target *t = &p->t[s->target];

	return (s->st == SEG_READY || s->st == SEG_LEASED || s->st == SEG_WAIT) &&
	       s->lo < s->cursor && t->tf == tf && strcmp(t->market, market) == 0;
}

/* in (sorted) less what live segments of other targets of target's market
 * and timeframe fetch (ours already) into out (empty). 0 or -1. */
static int
not_busy(const struct plan *p, int target, const struct range_list *in, struct range_list *out)
{
	const struct target *t = &p->t[target];
	struct range_list seg = { 0 };
	int rc = range_subtract(in, &seg, out);

	for (int i = 0; i < p->ns && rc == 0; i++) {
		const struct segment *s = &p->s[i];
		struct range_list next = { 0 };
		if (s->target == target || !seg_of(p, s, t->market, t->tf))
			continue;
		seg.n = 0;
		rc = range_list_push(&seg, s->lo, s->cursor) == -1 ||
		             range_subtract(out, &seg, &next) == -1
		         ? -1
		         : 0;
		range_list_free(out);
		*out = next;
	}
	range_list_free(&seg);
	return rc;
}

/* Looks at deferred entry d again; 1 when nothing of it is left. */
static int
retry_one(struct plan *p, struct deferred *d)
{
	const struct target *t = &p->t[d->target];
	struct range_list want = { 0 }, theirs = { 0 }, late = { 0 }, mine = { 0 }, left = { 0 };

	if (t->failed) /* its ranges are wanted no more */
		range_list_free(&d->r);
	if (t->failed || not_busy(p, d->target, &d->r, &want) == -1)
		goto done;
	take(t->market, t->tf, &want, &theirs, &late);
	if (minus2(&want, &theirs, &late, &mine) == -1 || minus2(&d->r, &mine, &late, &left) == -1)
		goto done;
	add_ranges(p, d->target, &late, &mine);
	if (mine.n > 0)
		log_info("claims: %zu range%s of target %d free again; fetching", mine.n,
		         mine.n == 1 ? "" : "s", d->target);
	range_list_free(&d->r);
	d->r = left;
	left.v = NULL;
done:
	range_list_free(&want);
	range_list_free(&theirs);
	range_list_free(&late);
	range_list_free(&mine);
	range_list_free(&left);
	return d->r.n == 0;
}

/* 1 while a live segment of ours overlaps h. */
static int
held_busy(const struct plan *p, const struct held *h)
{
	for (int i = 0; i < p->ns; i++) {
		const struct segment *s = &p->s[i];
		if (seg_of(p, s, h->market, h->tf) && s->lo < h->to && s->cursor > h->from)
			return 1;
	}
	return 0;
}

/* Deletes our claims that nothing fetches any more (kept when the delete
 * fails: it is tried again). */
static void
release_done(const struct plan *p)
{
	char f[TIME_TEXT_LEN], t[TIME_TEXT_LEN];
	const char *params[5] = { owner, NULL, NULL, f, t };

	for (int i = 0; i < nheld;) {
		const struct held *h = &held[i];
		if (held_busy(p, h)) {
			i++;
			continue;
		}
		params[1] = h->market;
		params[2] = tf_name(h->tf);
		pgdb_time_param(h->from, f);
		pgdb_time_param(h->to, t);
		if (exec_params(
		        "DELETE FROM candlepipe.claims WHERE owner = $1 AND market = $2"
		        " AND timeframe = $3 AND span = tsrange($4::timestamp, $5::timestamp)",
		        5, params, NULL) == -1)
			return;
		held[i] = held[--nheld];
	}
}

void
claims_tick(struct plan *p, int64_t now_ms)
{
	const char *params[2] = { owner, NULL };
	char ttl[16];

	if (conninfo[0] == '\0' || (nheld == 0 && ndef == 0) ||
	    now_ms - ticked_ms < CLAIMS_TICK_MS || live() == NULL)
		return;
	ticked_ms = now_ms;
	release_done(p);
	if (nheld > 0 && now_ms - renewed_ms >= CLAIMS_RENEW_MS) {
		snprintf(ttl, sizeof(ttl), "%d", CLAIMS_TTL_S);
		params[1] = ttl;
		(void)exec_params("UPDATE candlepipe.claims SET expires = now() +"
		                  " make_interval(secs => $2::int) WHERE owner = $1",
		                  2, params, NULL);
		renewed_ms = now_ms;
	}
	if (ndef == 0 || now_ms - retried_ms < CLAIMS_RETRY_MS)
		return;
	retried_ms = now_ms;
	for (int i = 0; i < ndef;) {
		if (retry_one(p, &def[i]))
			def[i] = def[--ndef];
		else
			i++;
	}
}

void
claims_close(void)
{
	const char *params[1] = { owner };

	if (live() != NULL && nheld > 0)
		(void)exec_params(SQL_DELETE_OURS, 1, params, NULL);
	for (int i = 0; i < ndef; i++)
		range_list_free(&def[i].r);
	free(def);
	free(held);
	def = NULL;
	held = NULL;
	ndef = nheld = 0;
	PQfinish(conn);
	conn = NULL;
}
