/*
 * claims.c: the planner's claims on a PostgreSQL database (issue 14). Owns
 * the planner's second connection (the first only reads coverage at the
 * start), this collector's owner id, its claims in candlepipe.claims and
 * the ranges it deferred because another collector claimed them.
 *
 * Before a target's missing ranges become segments, they are claimed: in
 * one transaction, serialised per (market, timeframe) by an advisory lock,
 * the expired claims overlapping them are deleted, the other owners' live
 * ones are read (those ranges are planned around and deferred), and the
 * rest is inserted as ours (expires = now + CLAIMS_TTL_S; the exclusion
 * constraint is the backstop). Ours are renewed every CLAIMS_RENEW_MS and
 * deleted when the planner ends; a dead collector's lapse. A deferred
 * range is looked at again every CLAIMS_RETRY_MS: what was covered
 * meanwhile is done, what nobody holds any more is claimed and becomes a
 * new segment. So two collectors with overlapping work never fetch the
 * same range at once. Claims are an optimisation of requests, never of
 * correctness (the writer's merge is): when they fail (no right to write
 * them, the server gone), the planner logs it and goes on without.
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

static PGconn *conn;
static char owner[128];
static char conninfo[1024];
static struct deferred *def;
static int ndef;
static int64_t renewed_ms, retried_ms;

int
claims_open(const char *db, uint32_t run_id)
{
	char host[64] = "host";
	int code;

	if (!pgdb_is_uri(db))
		return 0;
	gethostname(host, sizeof(host) - 1);
	snprintf(owner, sizeof(owner), "%s/%ld/%08x", host, (long)getpid(), run_id);
	snprintf(conninfo, sizeof(conninfo), "%s", db);
	conn = pgdb_connect(db, "cp-planner claims", &code);
	if (conn == NULL)
		log_warnx("claims: no connection; collecting without claims");
	renewed_ms = retried_ms = time_mono_ms();
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
insert_claims(const char *market, const char *tf, const struct range_list *l)
{
	char f[TIME_TEXT_LEN], t[TIME_TEXT_LEN], ttl[16];
	const char *params[6] = { market, tf, f, t, owner, ttl };

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

/* The claim transaction over the hull [from, to) of missing. 0 or -1. */
static int
take_txn(const char *market, const char *tf, const struct range_list *missing,
         struct range_list *theirs)
{
	char f[TIME_TEXT_LEN], t[TIME_TEXT_LEN];
	const char *key[5] = { market, tf, f, t, owner };
	struct range_list mine = { 0 }, rest = { 0 }, add = { 0 };
	int rc = -1;

	pgdb_time_param(missing->v[0].from, f);
	pgdb_time_param(missing->v[missing->n - 1].to, t);
	if (exec_params("BEGIN", 0, NULL, NULL) == -1 ||
	    exec_params("SELECT pg_advisory_xact_lock(hashtext('claims/' || $1 || '/' || $2))", 2,
	                key, NULL) == -1 ||
	    exec_params("DELETE FROM candlepipe.claims WHERE market = $1 AND timeframe = $2"
	                " AND span && tsrange($3::timestamp, $4::timestamp) AND expires < now()",
	                4, key, NULL) == -1 ||
	    read_claims(key, theirs, &mine) == -1 || range_subtract(missing, theirs, &rest) == -1 ||
	    range_subtract(&rest, &mine, &add) == -1 || insert_claims(market, tf, &add) == -1 ||
	    exec_params("COMMIT", 0, NULL, NULL) == -1)
		goto done;
	rc = 0;
done:
	if (rc == -1)
		PQclear(PQexec(conn, "ROLLBACK"));
	range_list_free(&mine);
	range_list_free(&rest);
	range_list_free(&add);
	return rc;
}

void
claims_take(const char *market, const char *tf, const struct range_list *missing,
            struct range_list *theirs)
{
	size_t n0 = theirs->n;

	if (missing->n == 0 || live() == NULL)
		return;
	if (take_txn(market, tf, missing, theirs) == -1) {
		theirs->n = n0;
		log_warnx("claims: %s %s not claimed; fetching it without a claim", market, tf);
	}
}

void
claims_defer(int target, const struct range_list *theirs)
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
	for (size_t i = 0; i < theirs->n; i++)
		if (range_list_push(&v->r, theirs->v[i].from, theirs->v[i].to) == -1)
			fatalx(EXIT_TEMPFAIL, "out of memory");
	log_info("claims: %zu range%s of target %d held by another collector; planned around",
	         theirs->n, theirs->n == 1 ? "" : "s", target);
}

int
claims_waiting(void)
{
	return ndef > 0;
}

/* Looks at deferred entry i again; 1 when nothing of it is left. */
static int
retry_one(struct plan *p, struct deferred *d)
{
	const struct target *t = &p->t[d->target];
	struct range_list cov = { 0 }, rest = { 0 }, theirs = { 0 }, mine = { 0 };

	/* what the other collector committed meanwhile is done */
	if (pgdb_covered(conn, t->market, tf_name(t->tf), d->r.v[0].from, d->r.v[d->r.n - 1].to,
	                 &cov) == -1 ||
	    range_subtract(&d->r, &cov, &rest) == -1)
		goto done;
	claims_take(t->market, tf_name(t->tf), &rest, &theirs);
	if (range_subtract(&rest, &theirs, &mine) == -1)
		goto done;
	for (size_t i = mine.n; i-- > 0;)
		plan_add_range(p, d->target, mine.v[i].from, mine.v[i].to);
	if (mine.n > 0)
		log_info("claims: %zu range%s of target %d free again; fetching", mine.n,
		         mine.n == 1 ? "" : "s", d->target);
	range_list_free(&d->r);
	d->r = theirs;
	theirs.v = NULL;
done:
	range_list_free(&cov);
	range_list_free(&rest);
	range_list_free(&theirs);
	range_list_free(&mine);
	return d->r.n == 0;
}

void
claims_tick(struct plan *p, int64_t now_ms)
{
	const char *params[2] = { owner, NULL };
	char ttl[16];

	if (conninfo[0] == '\0' || live() == NULL)
		return;
	if (now_ms - renewed_ms >= CLAIMS_RENEW_MS) {
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

	if (live() != NULL)
		(void)exec_params("DELETE FROM candlepipe.claims WHERE owner = $1", 1, params,
		                  NULL);
	for (int i = 0; i < ndef; i++)
		range_list_free(&def[i].r);
	free(def);
	def = NULL;
	ndef = 0;
	PQfinish(conn);
	conn = NULL;
}
