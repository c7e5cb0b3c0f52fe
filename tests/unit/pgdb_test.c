/* pgdb_test: common/pgdb.c. Without a server: which --db values are
 * PostgreSQL, the password left out of messages, the exit code of a
 * connection that cannot be made or parsed. With CP_PG_ADMIN_URI (a
 * database on a throwaway server, as tests/pg.bats passes it): the schema
 * rule on real databases (empty, ours, newer, foreign ones that are
 * refused and left unchanged), a reader's steps on them (pgdb_reader_*),
 * the schema's creation, the coverage read and a connection the server
 * drops. Each case makes its own database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "capture.h"

#include "exitcodes.h"
#include "log.h"
#include "pgdb.h"
#include "pgschema.h"
#include "timeutil.h"

static void
test_is_uri(void **state)
{
	(void)state;
	assert_true(pgdb_is_uri("postgresql://u@h/db"));
	assert_true(pgdb_is_uri("postgres://h/db"));
	assert_true(pgdb_is_uri("postgresql:///db?host=/tmp/x"));
	assert_true(pgdb_is_uri("dbname=cp host=/tmp"));
	assert_true(pgdb_is_uri("host=db.example"));
	assert_false(pgdb_is_uri("data/candles.db"));
	assert_false(pgdb_is_uri("/var/lib/candlepipe/candles.db"));
	assert_false(pgdb_is_uri("postgresql.db"));
	assert_false(pgdb_is_uri(""));
	assert_false(pgdb_is_uri(NULL));
}

static void
test_display(void **state)
{
	char b[256];

	(void)state;
	assert_string_equal(pgdb_display("postgresql://u:secret@h/db", b, sizeof(b)),
	                    "postgresql://u:***@h/db");
	assert_string_equal(pgdb_display("postgresql://u@h/db", b, sizeof(b)),
	                    "postgresql://u@h/db");
	assert_string_equal(pgdb_display("host=h password=secret dbname=x", b, sizeof(b)),
	                    "host=h password=*** dbname=x");
	assert_string_equal(pgdb_display("dbname=x", b, sizeof(b)), "dbname=x");
}

static void
test_connect_errors(void **state)
{
	int code = -1, missing = -1;

	(void)state;
	cap_begin();
	/* no server at that socket: temporary (it may come up) */
	assert_null(pgdb_connect("postgresql:///cp?host=/nonexistent-cp-dir", "pgdb_test", &code));
	assert_int_equal(code, EXIT_TEMPFAIL);
	/* a string libpq cannot parse: permanent */
	code = -1;
	assert_null(pgdb_connect("host=x nosuchkeyword=1", "pgdb_test", &code));
	assert_int_equal(code, EXIT_PERMFAIL);
	cap_end(NULL);
	assert_non_null(strstr(cap_text, "nosuchkeyword"));
	/* a reader: no server is no database to read; a bad string refuses us */
	cap_begin();
	assert_null(pgdb_reader_connect("postgresql:///cp?host=/nonexistent-cp-dir", "pgdb_test",
	                                &code, &missing));
	assert_int_equal(code, EXIT_TEMPFAIL);
	assert_int_equal(missing, 1);
	assert_null(pgdb_reader_connect("host=x nosuchkeyword=1", "pgdb_test", &code, &missing));
	assert_int_equal(code, EXIT_PERMFAIL);
	assert_int_equal(missing, 0);
	cap_end(NULL);
	assert_int_equal(pgdb_exit_code(NULL, NULL), EXIT_TEMPFAIL);
	assert_true(pgdb_conn_lost(NULL, NULL));
}

/* The admin connection, or skip when no server was given. */
static PGconn *
admin(void)
{
	const char *uri = getenv("CP_PG_ADMIN_URI");
	PGconn *c;
	int code;

	if (uri == NULL || *uri == '\0')
		skip();
	c = pgdb_connect(uri, "pgdb_test", &code);
	assert_non_null(c);
	return c;
}

static void
sql(PGconn *c, const char *q)
{
	PGresult *r = PQexec(c, q);
	ExecStatusType st = PQresultStatus(r);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		fail_msg("%s: %s", q, PQerrorMessage(c));
	PQclear(r);
}

/* One value of a query as text, in a static buffer. */
static const char *
value(PGconn *c, const char *q)
{
	static char v[512];
	PGresult *r = PQexec(c, q);

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		fail_msg("%s: %s", q, PQerrorMessage(c));
	snprintf(v, sizeof(v), "%s", PQgetisnull(r, 0, 0) ? "NULL" : PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

/* A fresh database name: drops and creates it through the admin
 * connection and returns a connection to it; its URI in uri. */
static PGconn *
fresh(const char *name, char *uri, size_t len)
{
	PGconn *a = admin(), *c;
	char q[256];
	int code;

	snprintf(q, sizeof(q), "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
	sql(a, q);
	snprintf(q, sizeof(q), "CREATE DATABASE %s", name);
	sql(a, q);
	snprintf(uri, len, "dbname=%s host=%s user=%s", name, PQhost(a), PQuser(a));
	PQfinish(a);
	c = pgdb_connect(uri, "pgdb_test", &code);
	assert_non_null(c);
	return c;
}

static enum ledger_kind
kind(PGconn *c)
{
	struct ledger_schema sc;
	int code = -1;

	assert_int_equal(pgdb_schema_read(c, &sc, &code), 0);
	return sc.kind;
}

/* pgdb_reader_schema on c (named uri): its return, *code, *missing and
 * line in why. */
static int
reader_schema(PGconn *c, const char *uri, int *code, int *missing, char *why)
{
	*code = *missing = -1;
	why[0] = '\0';
	return pgdb_reader_schema(c, uri, "LAUNCHER", why, PGDB_LINE_MAX, code, missing);
}

/* A reader's steps on a database that is not, or not yet, there: a
 * database the server does not have is missing (and permanent); an EMPTY
 * one is refused as missing with the hint; a read-only session writes
 * nothing and reads one snapshot per transaction. */
static void
reader_steps(PGconn *c, const char *uri)
{
	char why[PGDB_LINE_MAX], none[512];
	int code = -1, missing = -1;
	PGconn *r;

	snprintf(none, sizeof(none), "dbname=pgdb_t_none host=%s user=%s", PQhost(c), PQuser(c));
	cap_begin();
	assert_null(pgdb_reader_connect(none, "pgdb_test", &code, &missing));
	cap_end(NULL);
	assert_int_equal(code, EXIT_PERMFAIL);
	assert_int_equal(missing, 1);
	assert_int_equal(reader_schema(c, uri, &code, &missing, why), -1);
	assert_int_equal(code, EXIT_PERMFAIL);
	assert_int_equal(missing, 1);
	assert_non_null(
	    strstr(why, "has no candlepipe schema yet (collect first: LAUNCHER collect"));
	r = pgdb_reader_connect(uri, "pgdb_test", &code, &missing);
	assert_non_null(r);
	assert_int_equal(missing, 0);
	assert_int_equal(pgdb_read_only(r, why, sizeof(why), &code), 0);
	assert_string_equal(value(r, "SHOW transaction_isolation"), "repeatable read");
	assert_string_equal(value(r, "SHOW transaction_read_only"), "on");
	assert_int_equal(pgdb_run(r, "CREATE TABLE public.w(x int)", why, sizeof(why), &code), -1);
	assert_int_equal(code, EXIT_PERMFAIL);
	assert_non_null(strstr(why, "read-only transaction"));
	PQfinish(r);
}

static void
test_create_ours(void **state)
{
	struct ledger_schema sc;
	char uri[256], why[PGDB_LINE_MAX];
	PGconn *c = fresh("pgdb_t_ours", uri, sizeof(uri));
	int code = -1, missing = -1;

	(void)state;
	assert_int_equal(kind(c), LEDGER_EMPTY);
	reader_steps(c, uri);
	assert_int_equal(pgdb_create(c, uri, &sc, &code), 0);
	assert_int_equal(sc.kind, LEDGER_OURS);
	assert_int_equal(sc.version, PGSCHEMA_VERSION);
	assert_string_equal(sc.tables, PGSCHEMA_TABLES);
	assert_int_equal(reader_schema(c, uri, &code, &missing, why), 0);
	assert_int_equal(missing, 0);
	/* again: nothing to do, still ours */
	assert_int_equal(pgdb_create(c, uri, &sc, &code), 0);
	assert_int_equal(sc.kind, LEDGER_OURS);
	PQfinish(c);
	c = pgdb_open_checked(uri, "pgdb_test", &code);
	assert_non_null(c);
	PQfinish(c);
}

/* A database whose candlepipe schema is set up by setup_sql is refused:
 * kind want, pgdb_create fails with EXIT_PERMFAIL, pgdb_open_checked too,
 * and the schema's tables are what they were. */
static void
refused(const char *name, const char *setup_sql, enum ledger_kind want)
{
	struct ledger_schema sc;
	char uri[256], before[512], why[PGDB_LINE_MAX];
	PGconn *c = fresh(name, uri, sizeof(uri));
	const char *tables = "SELECT string_agg(relname || ':' || reltuples::text, ','"
	                     " ORDER BY relname) FROM pg_class"
	                     " WHERE relnamespace = 'candlepipe'::regnamespace";
	int code = -1, missing = -1;

	sql(c, setup_sql);
	snprintf(before, sizeof(before), "%s", value(c, tables));
	assert_int_equal(kind(c), want);
	cap_begin();
	assert_int_equal(pgdb_create(c, uri, &sc, &code), -1);
	assert_int_equal(code, EXIT_PERMFAIL);
	code = -1;
	assert_null(pgdb_open_checked(uri, "pgdb_test", &code));
	assert_int_equal(code, EXIT_PERMFAIL);
	cap_end(NULL);
	assert_non_null(strstr(cap_text, "refusing to touch it"));
	/* a reader is refused too, in one line, and it is not missing */
	assert_int_equal(reader_schema(c, uri, &code, &missing, why), -1);
	assert_int_equal(code, EXIT_PERMFAIL);
	assert_int_equal(missing, 0);
	assert_non_null(strstr(why, "refusing to touch it"));
	assert_string_equal(value(c, tables), before);
	assert_string_equal(value(c, "SELECT count(*) FROM pg_extension"
	                             " WHERE extname = 'btree_gist'"),
	                    "0");
	PQfinish(c);
}

static void
test_foreign(void **state)
{
	(void)state;
	refused("pgdb_t_f1", "CREATE SCHEMA candlepipe; CREATE TABLE candlepipe.stuff(x int)",
	        LEDGER_FOREIGN);
	/* a meta table with other columns */
	refused("pgdb_t_f2",
	        "CREATE SCHEMA candlepipe; CREATE TABLE candlepipe.meta(a int);"
	        " INSERT INTO candlepipe.meta VALUES (1)",
	        LEDGER_FOREIGN);
	/* a meta of another application */
	refused("pgdb_t_f3",
	        "CREATE SCHEMA candlepipe; CREATE TABLE candlepipe.meta(key text, value text);"
	        " INSERT INTO candlepipe.meta VALUES ('application', 'other'),"
	        " ('schema_version', '1')",
	        LEDGER_FOREIGN);
	/* an empty schema of that name is someone's too */
	refused("pgdb_t_f4", "CREATE SCHEMA candlepipe", LEDGER_FOREIGN);
}

static void
test_newer(void **state)
{
	struct ledger_schema sc;
	char uri[256], why[PGDB_LINE_MAX];
	PGconn *c = fresh("pgdb_t_newer", uri, sizeof(uri));
	int code = -1, missing = -1;

	(void)state;
	assert_int_equal(pgdb_create(c, uri, &sc, &code), 0);
	sql(c, "UPDATE candlepipe.meta SET value = '99' WHERE key = 'schema_version'");
	assert_int_equal(kind(c), LEDGER_NEWER);
	cap_begin();
	assert_int_equal(pgdb_create(c, uri, &sc, &code), -1);
	assert_int_equal(code, EXIT_PERMFAIL);
	cap_end(NULL);
	assert_non_null(strstr(cap_text, "schema version 99"));
	assert_int_equal(reader_schema(c, uri, &code, &missing, why), -1);
	assert_int_equal(code, EXIT_PERMFAIL);
	assert_int_equal(missing, 0);
	assert_non_null(strstr(why, "schema version 99"));
	PQfinish(c);
}

static void
test_covered(void **state)
{
	struct ledger_schema sc;
	struct range_list l = { 0 };
	char uri[256];
	PGconn *c = fresh("pgdb_t_cov", uri, sizeof(uri));
	int64_t t0;
	int icode;

	(void)state;
	assert_int_equal(time_parse("2024-01-01T00:00:00", &t0), 0);
	/* no schema yet: nothing covered, no error */
	assert_int_equal(pgdb_covered(c, "KRW-BTC", "1m", t0, t0 + 86400, &l), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(pgdb_create(c, uri, &sc, &icode), 0);
	sql(c, "INSERT INTO candlepipe.coverage VALUES"
	       " ('KRW-BTC', '1m', '[2024-01-01T01:00:00, 2024-01-01T02:00:00)'),"
	       " ('KRW-BTC', '1m', '[2024-01-01T02:00:00, 2024-01-01T03:00:00)'),"
	       " ('KRW-BTC', '1m', '[2024-01-01T05:00:00, 2024-01-02T05:00:00)'),"
	       " ('KRW-BTC', '3m', '[2024-01-01T00:00:00, 2024-01-03T00:00:00)'),"
	       " ('KRW-ETH', '1m', '[2024-01-01T00:00:00, 2024-01-03T00:00:00)')");
	assert_int_equal(pgdb_covered(c, "KRW-BTC", "1m", t0 + 1800, t0 + 6 * 3600, &l), 0);
	/* touching rows merged, clipped to the window */
	assert_int_equal(l.n, 2);
	assert_int_equal(l.v[0].from, t0 + 3600);
	assert_int_equal(l.v[0].to, t0 + 3 * 3600);
	assert_int_equal(l.v[1].from, t0 + 5 * 3600);
	assert_int_equal(l.v[1].to, t0 + 6 * 3600);
	l.n = 0;
	assert_int_equal(pgdb_covered(c, "KRW-BTC", "1m", t0 + 3 * 3600, t0 + 5 * 3600, &l), 0);
	assert_int_equal(l.n, 0);
	/* the exclusion constraint is the backstop: overlapping rows cannot be */
	cap_begin();
	assert_null(pgdb_exec(c,
	                      "INSERT INTO candlepipe.coverage VALUES ('KRW-BTC', '1m',"
	                      " '[2024-01-01T01:30:00, 2024-01-01T01:40:00)')",
	                      PGRES_COMMAND_OK, "overlap", NULL));
	cap_end(NULL);
	assert_non_null(strstr(cap_text, "exclusion constraint"));
	range_list_free(&l);
	PQfinish(c);
}

static void
test_dropped(void **state)
{
	char uri[256], q[128];
	PGconn *c = fresh("pgdb_t_drop", uri, sizeof(uri)), *a = admin();
	PGresult *r;

	(void)state;
	snprintf(q, sizeof(q), "SELECT pg_terminate_backend(%d)", PQbackendPID(c));
	sql(a, q);
	r = PQexec(c, "SELECT 1");
	assert_true(pgdb_conn_lost(c, r));
	assert_int_equal(pgdb_exit_code(c, r), EXIT_TEMPFAIL);
	PQclear(r);
	/* a plain error is permanent and no lost connection */
	PQfinish(c);
	r = PQexec(a, "SELECT * FROM no_such_table");
	assert_false(pgdb_conn_lost(a, r));
	assert_int_equal(pgdb_exit_code(a, r), EXIT_PERMFAIL);
	PQclear(r);
	PQfinish(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_uri),         cmocka_unit_test(test_display),
		cmocka_unit_test(test_connect_errors), cmocka_unit_test(test_create_ours),
		cmocka_unit_test(test_foreign),        cmocka_unit_test(test_newer),
		cmocka_unit_test(test_covered),        cmocka_unit_test(test_dropped),
	};

	log_init("pgdb_test", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
