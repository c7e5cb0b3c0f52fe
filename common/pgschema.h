/*
 * pgschema.h: the PostgreSQL schema, shared by the writer (which creates
 * and upgrades it, the only process that writes candles and coverage), the
 * planner (coverage and claims), and the readers (cp-query, cp-serve).
 * The SQLite schema is in writer/store.c; this is its PostgreSQL twin, with
 * the same rows and the same promises, in PostgreSQL's own types.
 *
 * Everything lives in one schema, "candlepipe", that we own: a database
 * whose "candlepipe" schema exists without our meta row (or with a newer
 * version) is another program's, or a newer candlepipe's, and is refused
 * without a write. Other schemas of the database are never touched.
 *
 * Design:
 * - Decimals are numeric (unconstrained), which keeps the scale of Upbit's
 *   fixed-scale text exactly ('162483000.00000000' reads back the same), so
 *   no double rounding and no text twin. Times are timestamp (without time
 *   zone), in UTC, like candle_date_time_utc itself.
 * - Coverage is a set of tsrange [from, to) per (market, timeframe), that
 *   can never overlap: EXCLUDE USING gist with btree_gist. The writer keeps
 *   it merged (rows never touch either) under a transaction-scoped advisory
 *   lock per (market, timeframe) taken before the merge reads; the
 *   constraint is the backstop.
 * - Claims are the ranges a collector is fetching now, with an expiry, so
 *   that two collectors never fetch the same range at once and a dead
 *   collector's claims lapse. Same exclusion rule; a claimer deletes the expired
 *   claims that overlap its range in the transaction that inserts its own.
 * - Follows are the daemon's standing follow jobs (version 2), one row per
 *   (market, timeframe), written by the daemon itself (planner/subs.c),
 *   the PostgreSQL twin of SQLite's follows table (schema version 3 there).
 * - No partitioning by time. Every read and write goes by (market,
 *   timeframe, time range), which the primary key's btree serves directly,
 *   at any size; time partitions would have to exist before the first
 *   insert into them (a maintenance job), would not shrink the index a
 *   query walks, and candles are history that nobody deletes by age. A team
 *   that wants to drop old 1s candles can still attach partitions later,
 *   since the key already leads with the columns a partition key would use.
 */
#ifndef CP_PGSCHEMA_H
#define CP_PGSCHEMA_H

#define PGSCHEMA_VERSION 2
#define PGSCHEMA_NAME "candlepipe"
/* The tables of PGSCHEMA_VERSION, sorted by name, comma-separated. */
#define PGSCHEMA_TABLES "candles,claims,coverage,follows,history_start,markets,meta"
/* The tables of version 1 (no follows), which readers read as they are
 * and the writer upgrades in place (PGSCHEMA_V2_SQL). */
#define PGSCHEMA_TABLES_V1 "candles,claims,coverage,history_start,markets,meta"

/* Creates the schema of version 1 in an empty database (btree_gist is a
 * trusted extension since PostgreSQL 13, so the database owner may create
 * it). */
#define PGSCHEMA_V1_SQL                                                                       \
	"CREATE EXTENSION IF NOT EXISTS btree_gist;"                                          \
	"CREATE SCHEMA candlepipe;"                                                           \
	"CREATE TABLE candlepipe.meta("                                                       \
	" key text PRIMARY KEY, value text NOT NULL);"                                        \
	"INSERT INTO candlepipe.meta VALUES ('application', 'candlepipe'),"                   \
	" ('schema_version', '1');"                                                           \
	"CREATE TABLE candlepipe.candles("                                                    \
	" market text NOT NULL, timeframe text NOT NULL,"                                     \
	" candle_date_time_utc timestamp NOT NULL, candle_date_time_kst timestamp NOT NULL,"  \
	" opening_price numeric NOT NULL, high_price numeric NOT NULL,"                       \
	" low_price numeric NOT NULL, trade_price numeric NOT NULL,"                          \
	" timestamp bigint NOT NULL,"                                                         \
	" candle_acc_trade_price numeric NOT NULL, candle_acc_trade_volume numeric NOT NULL," \
	" unit smallint, prev_closing_price numeric, change_price numeric,"                   \
	" change_rate numeric, converted_trade_price numeric, first_day_of_period date,"      \
	" PRIMARY KEY (market, timeframe, candle_date_time_utc));"                            \
	"CREATE TABLE candlepipe.coverage("                                                   \
	" market text NOT NULL, timeframe text NOT NULL, span tsrange NOT NULL,"              \
	" CHECK (lower_inc(span) AND NOT upper_inc(span) AND NOT isempty(span)),"             \
	" EXCLUDE USING gist (market WITH =, timeframe WITH =, span WITH &&));"               \
	"CREATE TABLE candlepipe.history_start("                                              \
	" market text NOT NULL, timeframe text NOT NULL, first_utc timestamp NOT NULL,"       \
	" PRIMARY KEY (market, timeframe));"                                                  \
	"CREATE TABLE candlepipe.markets("                                                    \
	" market text PRIMARY KEY, korean_name text NOT NULL, english_name text NOT NULL,"    \
	" warning boolean, caution jsonb, updated_utc timestamp NOT NULL);"                   \
	"CREATE TABLE candlepipe.claims("                                                     \
	" market text NOT NULL, timeframe text NOT NULL, span tsrange NOT NULL,"              \
	" owner text NOT NULL, expires timestamptz NOT NULL,"                                 \
	" EXCLUDE USING gist (market WITH =, timeframe WITH =, span WITH &&));"

/* Upgrades version 1 to 2 in place (in the writer's transaction that read
 * version 1 under the create lock): the follows table, nothing else. */
#define PGSCHEMA_V2_SQL                                                             \
	"CREATE TABLE candlepipe.follows("                                          \
	" market text NOT NULL, timeframe text NOT NULL, backfill bigint NOT NULL," \
	" added_utc timestamp NOT NULL, PRIMARY KEY (market, timeframe));"          \
	"UPDATE candlepipe.meta SET value = '2' WHERE key = 'schema_version';"

/* Creates the schema of PGSCHEMA_VERSION in an empty database, in one
 * transaction: version 1, then each upgrade, so that a new database and an
 * upgraded one are the same. */
#define PGSCHEMA_SQL PGSCHEMA_V1_SQL PGSCHEMA_V2_SQL

#endif
