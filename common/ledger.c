/*
 * ledger.c: the read side of the coverage ledger and the range-list helpers
 * the planner builds on. Owns range_list memory (push/free), the set
 * difference of sorted half-open range lists, and read-only access to the
 * coverage table. It also owns the rule that says which files are
 * candlepipe databases (ledger_schema_read, see ledger.h), which the writer
 * applies before it writes anything and the readers before they read, and
 * how a reader opens a database it may not write (ledger_open_ro). The
 * writer owns the schema and every write. ledger_src reads coverage from
 * either store (a PostgreSQL one through pgdb.c).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ledger.h"
#include "log.h"
#include "pgdb.h"
#include "timeutil.h"

#define LEDGER_BUSY_TIMEOUT_MS 5000

int
range_list_push(struct range_list *l, int64_t from, int64_t to)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct range *v;

		if (cap > SIZE_MAX / sizeof(*v) || (v = realloc(l->v, cap * sizeof(*v))) == NULL)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n].from = from;
	l->v[l->n].to = to;
	l->n++;
	return 0;
}

void
range_list_free(struct range_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

int
range_subtract(const struct range_list *want, const struct range_list *have, struct range_list *out)
{
	size_t j = 0, n0 = out->n;

	for (size_t i = 0; i < want->n; i++) {
		int64_t cur = want->v[i].from, end = want->v[i].to;

		if (cur >= end)
			continue;
		/* have ranges ending at or before cur cannot cut later wants */
		while (j < have->n && have->v[j].to <= cur)
			j++;
		for (size_t k = j; k < have->n && have->v[k].from < end; k++) {
			if (have->v[k].from > cur &&
			    range_list_push(out, cur, have->v[k].from) == -1)
				goto fail;
			if (have->v[k].to > cur)
				cur = have->v[k].to;
			if (cur >= end)
				break;
		}
		if (cur < end && range_list_push(out, cur, end) == -1)
			goto fail;
	}
	return 0;
fail:
	out->n = n0;
	return -1;
}

/* SQLite failures that may pass on a restart; everything else is permanent. */
static const unsigned char sqlite_temporary[256] = {
	[SQLITE_BUSY] = 1, [SQLITE_LOCKED] = 1, [SQLITE_IOERR] = 1,
	[SQLITE_FULL] = 1, [SQLITE_NOMEM] = 1,  [SQLITE_INTERRUPT] = 1,
};

int
ledger_exit_code(int sqlite_rc)
{
	return sqlite_temporary[sqlite_rc & 0xff] ? EXIT_TEMPFAIL : EXIT_PERMFAIL;
}

/* "file:" URI of path (percent-encoded) with query, in out. 0, or -1 if
 * it does not fit. */
static int
file_uri(const char *path, const char *query, char *out, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = (size_t)snprintf(out, len, "file:%s", path[0] == '/' ? "//" : "");
	const unsigned char *p;

	for (p = (const unsigned char *)path; *p != '\0' && n + 4 < len; p++) {
		if (isalnum(*p) || strchr("/._-~", *p) != NULL) {
			out[n++] = (char)*p;
		} else {
			out[n++] = '%';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		}
	}
	if (*p != '\0' || n + strlen(query) + 1 > len)
		return -1;
	memcpy(out + n, query, strlen(query) + 1);
	return 0;
}

sqlite3 *
ledger_open_uri(const char *path, int immutable, int *rc, char *why, size_t whylen)
{
	char uri[3 * PATH_MAX + 32];
	sqlite3 *db = NULL;

	if (file_uri(path, immutable ? "?mode=ro&immutable=1" : "?mode=ro", uri, sizeof(uri)) ==
	    -1) {
		*rc = SQLITE_CANTOPEN;
		if (why != NULL)
			snprintf(why, whylen, "path too long");
		return NULL;
	}
	*rc = sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
	if (*rc == SQLITE_OK) {
		sqlite3_extended_result_codes(db, 1);
		sqlite3_busy_timeout(db, LEDGER_BUSY_TIMEOUT_MS);
		/* the first read opens the -wal and -shm, or finds it is no database */
		*rc = sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
	}
	if (*rc == SQLITE_OK)
		return db;
	/* sqlite3_errmsg(NULL) is "out of memory", the one reason for no handle */
	if (why != NULL)
		snprintf(why, whylen, "%s", sqlite3_errmsg(db));
	sqlite3_close(db);
	return NULL;
}

int
ledger_wal_exists(const char *path)
{
	char wal[PATH_MAX + 8];
	struct stat st;

	snprintf(wal, sizeof(wal), "%s-wal", path);
	return lstat(wal, &st) == 0;
}

/* The -shm could not be created or locked (a read-only directory). */
static int
shm_unavailable(int rc)
{
	return (rc & 0xff) == SQLITE_READONLY || (rc & 0xff) == SQLITE_CANTOPEN;
}

sqlite3 *
ledger_open_ro(const char *path, int *exists)
{
	char why[LEDGER_WHY_MAX];
	struct stat st;
	sqlite3 *db;
	int rc;

	if (exists != NULL)
		*exists = 0;
	if (path == NULL)
		return NULL;
	if (stat(path, &st) == -1) {
		/* errno says why; the caller words it */
		if (errno == ENOENT)
			return NULL;
		if (exists != NULL)
			*exists = 1;
		return NULL;
	}
	if (exists != NULL)
		*exists = 1;
	db = ledger_open_uri(path, 0, &rc, why, sizeof(why));
	/* No -wal: no writer is connected, the file holds everything, and
	 * reading it as immutable needs no -shm. */
	if (db == NULL && shm_unavailable(rc) && !ledger_wal_exists(path))
		db = ledger_open_uri(path, 1, &rc, why, sizeof(why));
	if (db != NULL)
		return db;
	/* any other first-read failure: the caller's reads say it again */
	if (rc != SQLITE_CANTOPEN && rc != SQLITE_NOMEM &&
	    sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK)
		return db;
	sqlite3_close(db);
	log_warnx("%s: %s", path, why);
	return NULL;
}

/* One column of the schema row as text into out ("" for NULL). */
static void
column_copy(sqlite3_stmt *st, int col, char *out, size_t len)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(out, len, "%s", t != NULL ? (const char *)t : "");
}

/* The kind of a file with this user_version, application_id, number of
 * schema objects and tables. */
static enum ledger_kind
classify(long version, long app_id, long objects, const char *tables)
{
	if (version == 0 && app_id == 0 && objects == 0)
		return LEDGER_EMPTY;
	if (version > LEDGER_SCHEMA_VERSION)
		return LEDGER_NEWER;
	if ((version == 1 && strcmp(tables, LEDGER_TABLES_V1) == 0) ||
	    (version == 2 && strcmp(tables, LEDGER_TABLES_V2) == 0) ||
	    (version == 3 && strcmp(tables, LEDGER_TABLES_V3) == 0))
		return LEDGER_OURS;
	return LEDGER_FOREIGN;
}

int
ledger_schema_read(sqlite3 *db, struct ledger_schema *out)
{
	static const char sql[] =
	    "SELECT (SELECT user_version FROM pragma_user_version),"
	    " (SELECT application_id FROM pragma_application_id),"
	    " (SELECT count(*) FROM sqlite_master),"
	    " (SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master"
	    "  WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name))";
	sqlite3_stmt *st = NULL;
	char tables[sizeof(LEDGER_TABLES_V3) + 1];
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	memset(out, 0, sizeof(*out));
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		out->version = (long)sqlite3_column_int64(st, 0);
		column_copy(st, 3, out->tables, sizeof(out->tables));
		column_copy(st, 3, tables, sizeof(tables));
		out->kind = classify(out->version, (long)sqlite3_column_int64(st, 1),
		                     (long)sqlite3_column_int64(st, 2), tables);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

void
ledger_schema_why(const struct ledger_schema *sc, const char *path, char *buf, size_t len)
{
	if (sc->kind == LEDGER_NEWER)
		snprintf(buf, len,
		         "%s has schema version %ld, this program knows versions 1 to %d;"
		         " refusing to touch it",
		         path, sc->version, LEDGER_SCHEMA_VERSION);
	else
		snprintf(buf, len,
		         "%s is not a candlepipe database (user_version %ld, tables: %s);"
		         " refusing to touch it",
		         path, sc->version, sc->tables[0] != '\0' ? sc->tables : "none");
}

sqlite3 *
ledger_open_checked(const char *path, int *code)
{
	struct ledger_schema sc;
	char why[LEDGER_WHY_MAX];
	struct stat st;
	int exists, rc;
	sqlite3 *db;

	if (path != NULL && stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		*code = EXIT_PERMFAIL;
		log_warnx("%s is not a regular file", path);
		return NULL;
	}
	db = ledger_open_ro(path, &exists);
	*code = exists ? EXIT_PERMFAIL : EXIT_OK;
	if (db == NULL)
		return NULL;
	rc = ledger_schema_read(db, &sc);
	if (rc != SQLITE_OK) {
		*code = ledger_exit_code(rc);
		log_warnx("%s: %s", path, sqlite3_errmsg(db));
	} else if (sc.kind == LEDGER_NEWER || sc.kind == LEDGER_FOREIGN) {
		ledger_schema_why(&sc, path, why, sizeof(why));
		log_warnx("%s", why);
	} else {
		return db;
	}
	sqlite3_close(db);
	return NULL;
}

/* 1 if the coverage table exists, 0 if not, -1 on error. */
static int
coverage_exists(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db,
	                       "SELECT 1 FROM sqlite_master WHERE type = 'table' "
	                       "AND name = 'coverage'",
	                       -1, &st, NULL) != SQLITE_OK) {
		log_warnx("ledger: %s", sqlite3_errmsg(db));
		return -1;
	}
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	log_warnx("ledger: %s", sqlite3_errmsg(db));
	return -1;
}

/* The coverage rows of (market, tf) that intersect [from, to), sorted:
 * a prepared statement, or NULL (logged). */
static sqlite3_stmt *
covered_query(sqlite3 *db, const char *market, const char *tf, int64_t from, int64_t to)
{
	char tfrom[TIME_TEXT_LEN], tto[TIME_TEXT_LEN];
	sqlite3_stmt *st = NULL;

	/* time_format clamps to years 0000..9999, where text order is time order */
	time_format(from, tfrom);
	time_format(to, tto);
	if (sqlite3_prepare_v2(db,
	                       "SELECT from_utc, to_utc FROM coverage "
	                       "WHERE market = ?1 AND timeframe = ?2 "
	                       "AND to_utc > ?3 AND from_utc < ?4 ORDER BY from_utc",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, market, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, tf, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 3, tfrom, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
	    sqlite3_bind_text(st, 4, tto, -1, SQLITE_TRANSIENT) != SQLITE_OK) {
		log_warnx("ledger: %s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

/* The current row as a range [*f, *t); 0, or -1 (logged) if malformed. */
static int
covered_row(sqlite3_stmt *st, const char *market, const char *tf, int64_t *f, int64_t *t)
{
	const char *a = (const char *)sqlite3_column_text(st, 0);
	const char *b = (const char *)sqlite3_column_text(st, 1);

	/* time_parse rejects NULL (a value SQLite could not turn into text) */
	if (time_parse(a, f) == 0 && time_parse(b, t) == 0 && *f < *t)
		return 0;
	log_warnx("ledger: bad coverage row %s %s [%s, %s)", market, tf, a ? a : "NULL",
	          b ? b : "NULL");
	return -1;
}

/* Appends [f, t) to out, merged into the last range of out past n0 when
 * adjacent or overlapping. 0 or -1 (logged). */
static int
covered_append(struct range_list *out, size_t n0, int64_t f, int64_t t)
{
	struct range *last = out->n > n0 ? &out->v[out->n - 1] : NULL;

	if (last != NULL && last->to >= f) {
		if (last->to < t)
			last->to = t;
		return 0;
	}
	if (range_list_push(out, f, t) == -1) {
		log_warnx("ledger: out of memory");
		return -1;
	}
	return 0;
}

int
ledger_covered(sqlite3 *db, const char *market, const char *tf, int64_t from, int64_t to,
               struct range_list *out)
{
	sqlite3_stmt *st;
	size_t n0 = out->n;
	int64_t f, t;
	int rc, ex;

	if (from >= to)
		return 0;
	if ((ex = coverage_exists(db)) != 1)
		return ex; /* a ledger without the table yet covers nothing */
	if ((st = covered_query(db, market, tf, from, to)) == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (covered_row(st, market, tf, &f, &t) == -1)
			goto fail;
		/* clipped to [from, to) */
		f = f < from ? from : f;
		t = t > to ? to : t;
		if (f < t && covered_append(out, n0, f, t) == -1)
			goto fail;
	}
	if (rc != SQLITE_DONE) {
		log_warnx("ledger: %s", sqlite3_errmsg(db));
		goto fail;
	}
	sqlite3_finalize(st);
	return 0;
fail:
	sqlite3_finalize(st);
	out->n = n0;
	return -1;
}

int
ledger_src_open(const char *db, const char *app, struct ledger_src *src, int *code)
{
	src->db = NULL;
	src->pg = NULL;
	if (pgdb_is_uri(db))
		src->pg = pgdb_open_checked(db, app, code);
	else
		src->db = ledger_open_checked(db, code);
	return src->db == NULL && src->pg == NULL && *code != EXIT_OK ? -1 : 0;
}

int
ledger_src_covered(const struct ledger_src *src, const char *market, const char *tf, int64_t from,
                   int64_t to, struct range_list *out)
{
	if (src->pg != NULL)
		return pgdb_covered(src->pg, market, tf, from, to, out);
	if (src->db != NULL)
		return ledger_covered(src->db, market, tf, from, to, out);
	return 0;
}

void
ledger_src_close(struct ledger_src *src)
{
	PQfinish(src->pg);
	sqlite3_close(src->db);
	src->pg = NULL;
	src->db = NULL;
}
