/*
 * pgdb.c: PostgreSQL as candlepipe's store, the parts every process shares
 * (see pgdb.h). Owns the rule that says which --db values are PostgreSQL
 * databases, how a process connects (timeout, application_name, keepalives,
 * UTC), which databases are candlepipe's (the schema of pgschema.h, judged
 * by its "candlepipe" schema alone), the schema's one-transaction creation,
 * the coverage read (the twin of ledger_covered), which failures are
 * temporary, and the steps the two readers (cp-serve, cp-query) open a
 * database with: connect (and whether there is a database at all), a
 * read-only session, the schema's verdict as one line. The writes of candles and coverage are the writer's
 * (writer/store_pg.c); the claims are the planner's.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exitcodes.h"
#include "log.h"
#include "pgdb.h"
#include "pgschema.h"
#include "timeutil.h"

/* The advisory lock key that serialises creating the schema. */
#define PGDB_CREATE_LOCK "SELECT pg_advisory_xact_lock(hashtext('candlepipe schema create'))"
/* The last time PostgreSQL's timestamp and time_format share. */
#define PGDB_TIME_MAX INT64_C(253402300799)

int
pgdb_is_uri(const char *db)
{
	if (db == NULL)
		return 0;
	if (strncmp(db, "postgresql://", 13) == 0 || strncmp(db, "postgres://", 11) == 0)
		return 1;
	return strstr(db, "dbname=") != NULL || strstr(db, "host=") != NULL;
}

/* Copies s into buf with the text from a to b replaced by "***". */
static const char *
mask_span(const char *s, const char *a, const char *b, char *buf, size_t len)
{
	snprintf(buf, len, "%.*s***%s", (int)(a - s), s, b);
	return buf;
}

const char *
pgdb_display(const char *conninfo, char *buf, size_t len)
{
	const char *p, *at, *colon, *end;

	if (strstr(conninfo, "://") != NULL) {
		p = strstr(conninfo, "://") + 3;
		at = strchr(p, '@');
		end = p + strcspn(p, "/?");
		colon = at != NULL ? memchr(p, ':', (size_t)(at - p)) : NULL;
		if (at != NULL && at < end && colon != NULL)
			return mask_span(conninfo, colon + 1, at, buf, len);
	} else if ((p = strstr(conninfo, "password")) != NULL && (p = strchr(p, '=')) != NULL) {
		p++;
		while (*p == ' ')
			p++;
		end = p + strcspn(p, " ");
		return mask_span(conninfo, p, end, buf, len);
	}
	snprintf(buf, len, "%s", conninfo);
	return buf;
}

const char *
pgdb_errmsg(PGconn *c, const PGresult *r)
{
	static char line[PGDB_WHY_MAX];
	const char *m = r != NULL ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	size_t n;

	if (m == NULL || *m == '\0')
		m = r != NULL && *PQresultErrorMessage(r) != '\0' ? PQresultErrorMessage(r)
		                                                  : PQerrorMessage(c);
	snprintf(line, sizeof(line), "%s", m != NULL && *m != '\0' ? m : "unknown error");
	/* one line: libpq ends its messages with a newline, some have two */
	for (n = 0; line[n] != '\0'; n++)
		if (line[n] == '\n')
			line[n] = line[n + 1] != '\0' ? ' ' : '\0';
	return line;
}

/* The SQLSTATE of r, "" when there is none. */
static const char *
sqlstate(const PGresult *r)
{
	const char *s = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	return s != NULL ? s : "";
}

int
pgdb_conn_lost(PGconn *c, const PGresult *r)
{
	const char *s = sqlstate(r);

	if (c == NULL || PQstatus(c) == CONNECTION_BAD)
		return 1;
	/* 08: connection exception; 57P01..57P03: admin or crash shutdown,
	 * cannot connect now */
	return strncmp(s, "08", 2) == 0 || strncmp(s, "57P0", 4) == 0;
}

int
pgdb_exit_code(PGconn *c, const PGresult *r)
{
	const char *s = sqlstate(r);

	if (pgdb_conn_lost(c, r))
		return EXIT_TEMPFAIL;
	/* 53: out of resources (disk full, too many connections); 40001,
	 * 40P01: serialization failure, deadlock; 55P03: lock not available;
	 * 57014: query canceled */
	if (strncmp(s, "53", 2) == 0 || strcmp(s, "40001") == 0 || strcmp(s, "40P01") == 0 ||
	    strcmp(s, "55P03") == 0 || strcmp(s, "57014") == 0)
		return EXIT_TEMPFAIL;
	return EXIT_PERMFAIL;
}

PGresult *
pgdb_exec(PGconn *c, const char *sql, ExecStatusType want, const char *what, int *code)
{
	PGresult *r = PQexec(c, sql);

	if (r != NULL && PQresultStatus(r) == want)
		return r;
	log_warnx("%s: %s", what, pgdb_errmsg(c, r));
	if (code != NULL)
		*code = pgdb_exit_code(c, r);
	PQclear(r);
	return NULL;
}

int
pgdb_run(PGconn *c, const char *sql, char *why, size_t len, int *code)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

	if (!ok) {
		snprintf(why, len, "%s", pgdb_errmsg(c, r));
		*code = pgdb_exit_code(c, r);
	}
	PQclear(r);
	return ok ? 0 : -1;
}

/* pgdb_run, the failure logged as "what: message". */
static int
exec_ok(PGconn *c, const char *sql, const char *what, int *code)
{
	char why[PGDB_WHY_MAX];

	if (pgdb_run(c, sql, why, sizeof(why), code) == 0)
		return 0;
	log_warnx("%s: %s", what, why);
	return -1;
}

void
pgdb_time_param(int64_t t, char out[20])
{
	time_format(t < 0 ? 0 : t > PGDB_TIME_MAX ? PGDB_TIME_MAX : t, out);
}

/* 1 if the parsed conninfo (or the environment) sets keyword. */
static int
option_set(const PQconninfoOption *o, const char *keyword, const char *env)
{
	const char *v;

	for (; o != NULL && o->keyword != NULL; o++)
		if (strcmp(o->keyword, keyword) == 0 && o->val != NULL && *o->val != '\0')
			return 1;
	v = env != NULL ? getenv(env) : NULL;
	return v != NULL && *v != '\0';
}

/* The server's notices ("extension exists, skipping") as debug lines. */
static void
notice_log(void *arg, const char *msg)
{
	(void)arg;
	log_debug("postgresql: %.*s", (int)strcspn(msg, "\n"), msg);
}

/* A failed connection's message names a cause no retry will mend. */
static int
connect_permanent(const char *msg)
{
	static const char *const perm[] = {
		"authentication failed", "no pg_hba.conf entry",
		"does not exist",        "password",
		"permission denied",     "invalid",
		"not permitted",         "SSL",
		"certificate",
	};

	for (size_t i = 0; i < sizeof(perm) / sizeof(perm[0]); i++)
		if (strstr(msg, perm[i]) != NULL)
			return 1;
	return 0;
}

/* The connection, or NULL: the keywords around conninfo say the timeout
 * and name unless conninfo does. */
static PGconn *
connect_params(const char *conninfo, const char *app, const PQconninfoOption *opts)
{
	const char *kw[8], *val[8];
	char timeout[16];
	int n = 0;

	kw[n] = "dbname", val[n++] = conninfo;
	if (!option_set(opts, "connect_timeout", "PGCONNECT_TIMEOUT")) {
		snprintf(timeout, sizeof(timeout), "%d", PGDB_CONNECT_TIMEOUT_S);
		kw[n] = "connect_timeout", val[n++] = timeout;
	}
	kw[n] = "fallback_application_name", val[n++] = app;
	if (!option_set(opts, "keepalives_idle", NULL))
		kw[n] = "keepalives_idle", val[n++] = "10";
	if (!option_set(opts, "keepalives_interval", NULL))
		kw[n] = "keepalives_interval", val[n++] = "5";
	if (!option_set(opts, "keepalives_count", NULL))
		kw[n] = "keepalives_count", val[n++] = "3";
	kw[n] = NULL, val[n] = NULL;
	return PQconnectdbParams(kw, val, 1);
}

/* pgdb_connect, and why it could not connect in why ("" if it could). */
static PGconn *
connect_why(const char *conninfo, const char *app, int *code, char *why, size_t len)
{
	char *err = NULL, shown[PGDB_WHY_MAX];
	PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
	PGconn *c = NULL;

	*code = EXIT_PERMFAIL;
	why[0] = '\0';
	pgdb_display(conninfo, shown, sizeof(shown));
	if (opts == NULL) {
		log_warnx("%s: %s", shown, err != NULL ? strtok(err, "\n") : "out of memory");
		goto fail;
	}
	c = connect_params(conninfo, app, opts);
	if (c == NULL || PQstatus(c) != CONNECTION_OK) {
		const char *m = c != NULL ? pgdb_errmsg(c, NULL) : "out of memory";

		*code = connect_permanent(m) ? EXIT_PERMFAIL : EXIT_TEMPFAIL;
		log_warnx("cannot connect to %s: %s", shown, m);
		snprintf(why, len, "%s", m);
		goto fail;
	}
	PQsetNoticeProcessor(c, notice_log, NULL);
	if (exec_ok(c, "SET TIME ZONE 'UTC'", shown, code) == -1)
		goto fail;
	PQconninfoFree(opts);
	return c;
fail:
	PQfreemem(err);
	PQconninfoFree(opts);
	PQfinish(c);
	return NULL;
}

PGconn *
pgdb_connect(const char *conninfo, const char *app, int *code)
{
	char why[PGDB_WHY_MAX];

	return connect_why(conninfo, app, code, why, sizeof(why));
}

PGconn *
pgdb_reader_connect(const char *conninfo, const char *app, int *code, int *missing)
{
	char why[PGDB_WHY_MAX];
	PGconn *c = connect_why(conninfo, app, code, why, sizeof(why));

	/* the server's own words for a database that is not there */
	*missing = c == NULL && (*code == EXIT_TEMPFAIL || (strstr(why, "database \"") != NULL &&
	                                                    strstr(why, "does not exist") != NULL));
	return c;
}

int
pgdb_read_only(PGconn *c, char *why, size_t len, int *code)
{
	return pgdb_run(c,
	                "SET SESSION CHARACTERISTICS AS TRANSACTION"
	                " ISOLATION LEVEL REPEATABLE READ, READ ONLY",
	                why, len, code);
}

/* The tables of each version, and the statements that upgrade the version
 * before it to it (pgschema.h). */
static const char *const pgdb_tables[PGSCHEMA_VERSION + 1] = {
	[1] = PGSCHEMA_TABLES_V1,
	[2] = PGSCHEMA_TABLES,
};
static const char *const pgdb_upgrade[PGSCHEMA_VERSION + 1] = {
	[2] = PGSCHEMA_V2_SQL,
};

/* The kind of a database whose candlepipe schema exists (has), has meta
 * (has_meta) saying application app and schema_version ver, with tables. */
static enum ledger_kind
classify(int has, const char *app, long ver, const char *tables)
{
	if (!has)
		return LEDGER_EMPTY;
	if (app == NULL || strcmp(app, "candlepipe") != 0 || ver < 1)
		return LEDGER_FOREIGN;
	if (ver > PGSCHEMA_VERSION)
		return LEDGER_NEWER;
	return strcmp(tables, pgdb_tables[ver]) == 0 ? LEDGER_OURS : LEDGER_FOREIGN;
}

/* Reads the meta rows of an existing candlepipe.meta: app into app (""
 * when missing), the version into *ver (0 when missing or not a number).
 * 0; 1 when meta is not ours to read (other columns: foreign); -1 with
 * *code set. */
static int
meta_read(PGconn *c, char *app, size_t len, long *ver, int *code)
{
	PGresult *r = PQexec(c, "SELECT (SELECT value::text FROM candlepipe.meta"
	                        "  WHERE key::text = 'application' LIMIT 1),"
	                        " (SELECT value::text FROM candlepipe.meta"
	                        "  WHERE key::text = 'schema_version' LIMIT 1)");
	const char *s = sqlstate(r);
	char *end;
	int rc = 0;

	if (r != NULL && PQresultStatus(r) == PGRES_TUPLES_OK) {
		snprintf(app, len, "%s", PQgetvalue(r, 0, 0));
		*ver = strtol(PQgetvalue(r, 0, 1), &end, 10);
		if (*end != '\0')
			*ver = 0;
	} else if (!pgdb_conn_lost(c, r) && strncmp(s, "42", 2) == 0 && strcmp(s, "42501") != 0) {
		rc = 1; /* no key or value column: not our meta */
	} else {
		log_warnx("candlepipe.meta: %s", pgdb_errmsg(c, r));
		*code = pgdb_exit_code(c, r);
		rc = -1;
	}
	PQclear(r);
	return rc;
}

int
pgdb_schema_read(PGconn *c, struct ledger_schema *out, int *code)
{
	PGresult *r;
	char app[64] = "";
	int has, has_meta, m = 1;

	memset(out, 0, sizeof(*out));
	r = pgdb_exec(c,
	              "SELECT n.oid IS NOT NULL, to_regclass('candlepipe.meta') IS NOT NULL,"
	              " coalesce((SELECT string_agg(relname::text, ',' ORDER BY relname::text)"
	              "  FROM pg_class WHERE relnamespace = n.oid AND relkind IN ('r', 'p')), '')"
	              " FROM (SELECT (SELECT oid FROM pg_namespace"
	              "  WHERE nspname = 'candlepipe') AS oid) n",
	              PGRES_TUPLES_OK, "schema check", code);
	if (r == NULL)
		return -1;
	has = PQgetvalue(r, 0, 0)[0] == 't';
	has_meta = PQgetvalue(r, 0, 1)[0] == 't';
	snprintf(out->tables, sizeof(out->tables), "%s", PQgetvalue(r, 0, 2));
	PQclear(r);
	if (has_meta && (m = meta_read(c, app, sizeof(app), &out->version, code)) == -1)
		return -1;
	out->kind = classify(has, m == 0 ? app : NULL, out->version, out->tables);
	return 0;
}

void
pgdb_schema_why(const struct ledger_schema *sc, const char *name, char *buf, size_t len)
{
	char shown[PGDB_WHY_MAX];

	pgdb_display(name, shown, sizeof(shown));
	if (sc->kind == LEDGER_NEWER)
		snprintf(buf, len,
		         "%s has candlepipe schema version %ld, this program knows versions 1 to "
		         "%d; refusing to touch it",
		         shown, sc->version, PGSCHEMA_VERSION);
	else
		snprintf(buf, len,
		         "%s has a \"candlepipe\" schema that is not candlepipe's (tables: %s);"
		         " refusing to touch it",
		         shown, sc->tables[0] != '\0' ? sc->tables : "none");
}

int
pgdb_reader_schema(PGconn *c, const char *name, const char *launcher, char *why, size_t len,
                   int *code, int *missing)
{
	struct ledger_schema sc;
	char shown[PGDB_WHY_MAX];

	*missing = 0;
	pgdb_display(name, shown, sizeof(shown));
	if (pgdb_schema_read(c, &sc, code) == -1) {
		snprintf(why, len, "%s: cannot read the schema", shown);
		return -1;
	}
	if (sc.kind == LEDGER_OURS)
		return 0;
	*code = EXIT_PERMFAIL;
	*missing = sc.kind == LEDGER_EMPTY;
	if (*missing)
		snprintf(why, len,
		         "database %s has no candlepipe schema yet (collect first: %s collect ... "
		         "--db URI)",
		         shown, launcher);
	else
		pgdb_schema_why(&sc, shown, why, len);
	return -1;
}

/* 0 for an EMPTY or OURS database; -1 with *code EXIT_PERMFAIL (the reason
 * logged) for the others. */
static int
schema_accept(const struct ledger_schema *sc, const char *name, int *code)
{
	char why[PGDB_LINE_MAX];

	if (sc->kind == LEDGER_EMPTY || sc->kind == LEDGER_OURS)
		return 0;
	pgdb_schema_why(sc, name, why, sizeof(why));
	log_warnx("%s", why);
	*code = EXIT_PERMFAIL;
	return -1;
}

PGconn *
pgdb_open_checked(const char *conninfo, const char *app, int *code)
{
	struct ledger_schema sc;
	PGconn *c = pgdb_connect(conninfo, app, code);

	if (c == NULL)
		return NULL;
	if (pgdb_schema_read(c, &sc, code) == 0 && schema_accept(&sc, conninfo, code) == 0)
		return c;
	PQfinish(c);
	return NULL;
}

/* Upgrades the OURS database *out (an older version, read under the create
 * lock in the open transaction) to PGSCHEMA_VERSION, one version at a
 * time, and reads it again. 0 or -1 (logged, *code). */
static int
upgrade(PGconn *c, const char *name, struct ledger_schema *out, int *code)
{
	char shown[PGDB_WHY_MAX];
	long from = out->version;

	for (long v = from + 1; v <= PGSCHEMA_VERSION; v++)
		if (exec_ok(c, pgdb_upgrade[v], "upgrade schema", code) == -1)
			return -1;
	if (pgdb_schema_read(c, out, code) == -1)
		return -1;
	log_info("%s: candlepipe schema upgraded from version %ld to %ld",
	         pgdb_display(name, shown, sizeof(shown)), from, out->version);
	return 0;
}

int
pgdb_create(PGconn *c, const char *name, struct ledger_schema *out, int *code)
{
	memset(out, 0, sizeof(*out));
	if (exec_ok(c, "BEGIN", "create schema", code) == -1 ||
	    exec_ok(c, PGDB_CREATE_LOCK, "create schema", code) == -1 ||
	    pgdb_schema_read(c, out, code) == -1)
		goto fail;
	if (out->kind == LEDGER_EMPTY && (exec_ok(c, PGSCHEMA_SQL, "create schema", code) == -1 ||
	                                  pgdb_schema_read(c, out, code) == -1))
		goto fail;
	if (out->kind == LEDGER_OURS && out->version < PGSCHEMA_VERSION &&
	    upgrade(c, name, out, code) == -1)
		goto fail;
	if (exec_ok(c, "COMMIT", "create schema", code) == -1)
		goto fail;
	if (schema_accept(out, name, code) == -1)
		return -1;
	if (out->kind != LEDGER_OURS) {
		log_warnx("create schema: the new schema does not read back as ours");
		*code = EXIT_PERMFAIL;
		return -1;
	}
	return 0;
fail:
	PQclear(PQexec(c, "ROLLBACK"));
	return -1;
}

/* The current row of r as a range [*f, *t); 0, or -1 (logged) if malformed. */
static int
covered_row(const PGresult *r, int i, int64_t *f, int64_t *t)
{
	char *e1, *e2;

	*f = strtoll(PQgetvalue(r, i, 0), &e1, 10);
	*t = strtoll(PQgetvalue(r, i, 1), &e2, 10);
	if (*e1 == '\0' && *e2 == '\0' && *f < *t && !PQgetisnull(r, i, 0))
		return 0;
	log_warnx("coverage: bad row [%s, %s)", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
	return -1;
}

/* Appends the rows of r to out, clipped to [from, to) and merged. */
static int
covered_rows(const PGresult *r, int64_t from, int64_t to, struct range_list *out)
{
	size_t n0 = out->n;
	int64_t f, t;

	for (int i = 0; i < PQntuples(r); i++) {
		struct range *last;

		if (covered_row(r, i, &f, &t) == -1)
			return -1;
		f = f < from ? from : f;
		t = t > to ? to : t;
		last = out->n > n0 ? &out->v[out->n - 1] : NULL;
		if (f >= t)
			continue;
		if (last != NULL && last->to >= f) {
			last->to = last->to < t ? t : last->to;
		} else if (range_list_push(out, f, t) == -1) {
			log_warnx("coverage: out of memory");
			return -1;
		}
	}
	return 0;
}

int
pgdb_covered(PGconn *c, const char *market, const char *tf, int64_t from, int64_t to,
             struct range_list *out)
{
	char tfrom[TIME_TEXT_LEN], tto[TIME_TEXT_LEN];
	const char *params[4] = { market, tf, tfrom, tto };
	size_t n0 = out->n;
	PGresult *r;
	int rc = 0;

	if (from >= to)
		return 0;
	pgdb_time_param(from, tfrom);
	pgdb_time_param(to, tto);
	r = PQexecParams(c,
	                 "SELECT extract(epoch FROM lower(span))::bigint,"
	                 " extract(epoch FROM upper(span))::bigint"
	                 " FROM candlepipe.coverage WHERE market = $1 AND timeframe = $2"
	                 " AND span && tsrange($3::timestamp, $4::timestamp) ORDER BY lower(span)",
	                 4, NULL, params, NULL, NULL, 0);
	if (r != NULL && PQresultStatus(r) == PGRES_TUPLES_OK) {
		rc = covered_rows(r, from, to, out);
	} else if (strcmp(sqlstate(r), "42P01") != 0 && strcmp(sqlstate(r), "3F000") != 0) {
		/* 42P01, 3F000: no table or no schema yet: nothing covered */
		log_warnx("coverage: %s", pgdb_errmsg(c, r));
		rc = -1;
	}
	PQclear(r);
	if (rc == -1)
		out->n = n0;
	return rc;
}
