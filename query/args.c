/*
 * args.c: cp-query's command line, shared by its three commands: one option
 * table for what they all take (--market, --timeframe, --from, --to, --db,
 * --format, --help) to which each command appends only its own options,
 * parsed by common/opts; and the helpers that turn the text into values or
 * exit 2 naming the command (times, timeframes, formats, usage errors).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "opts.h"
#include "query.h"
#include "timeutil.h"

#define QARGS_MAX 16 /* common options + a command's own + the end */

static const char *query_cmd; /* the command running, for query_error */

void
query_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "cp-query%s%s: ", query_cmd ? " " : "", query_cmd ? query_cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
query_try_help(const char *cmd)
{
	const char *hint = getenv("CP_USAGE_HINT");

	/* the help of the command line the user typed: run.sh's when it ran us */
	if (hint != NULL && *hint != '\0')
		fprintf(stderr, "try '%s'\n", hint);
	else if (getenv("CP_RUN_SH") != NULL)
		fprintf(stderr, "try '%s %s'\n", opts_launcher(), cmd != NULL ? cmd : "help");
	else
		fprintf(stderr, "try 'cp-query %s'\n", cmd != NULL ? cmd : "--help");
}

void
query_usage_error(const char *cmd, const char *fmt, ...)
{
	char help[32];
	va_list ap;

	fprintf(stderr, "cp-query %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	snprintf(help, sizeof(help), "%s --help", cmd);
	query_try_help(help);
	exit(EXIT_USAGE);
}

int64_t
query_parse_time(const char *cmd, const char *opt, const char *s)
{
	int64_t t;

	if (time_parse(s, &t) == -1)
		query_usage_error(cmd,
		                  "%s: bad time '%s' (ISO 8601, e.g. "
		                  "2026-01-31T09:00:00; no offset = UTC)",
		                  opt, s);
	return t;
}

enum tf
query_parse_tf(const char *cmd, const char *s)
{
	enum tf tf;

	if (tf_parse(s, &tf) == -1)
		query_usage_error(cmd,
		                  "unknown timeframe '%s' (1s 1m 3m 5m 10m 15m "
		                  "30m 1h 4h 1d 1w 1M 1y)",
		                  s);
	return tf;
}

void
qargs_parse(struct qargs *a, const char *cmd, int argc, char **argv, const struct opt *own,
            void (*usage)(FILE *))
{
	static char prog[32];
	const struct opt common[] = {
		{ "market", 'm', OPT_STR, &a->market, 0, 0, 0, NULL },
		{ "timeframe", 't', OPT_STR, &a->timeframe, 0, 0, 0, NULL },
		{ "from", 0, OPT_STR, &a->from, 0, 0, 0, NULL },
		{ "to", 0, OPT_STR, &a->to, 0, 0, 0, NULL },
		{ "db", 0, OPT_STR, &a->db, 0, 0, 0, NULL },
		{ "format", 0, OPT_STR, &a->format, 0, 0, 0, NULL },
		{ "help", 'h', OPT_HELP, NULL, 0, 0, 0, NULL },
	};
	struct opt table[QARGS_MAX];
	size_t n = sizeof(common) / sizeof(common[0]);

	memset(a, 0, sizeof(*a));
	a->cmd = cmd;
	query_cmd = cmd;
	a->db = QUERY_DEFAULT_DB;
	memcpy(table, common, sizeof(common));
	for (; own != NULL && own->kind != OPT_END && n < QARGS_MAX - 1; own++)
		table[n++] = *own;
	table[n] = (struct opt){ .kind = OPT_END };
	/* getopt names argv[0] in its messages: "cp-query CMD: ..." */
	snprintf(prog, sizeof(prog), "cp-query %s", cmd);
	argv[0] = prog;
	if (opts_parse(prog, argc, argv, table, usage) == -1) {
		char help[32];

		snprintf(help, sizeof(help), "%s --help", cmd);
		query_try_help(help);
		exit(EXIT_USAGE);
	}
}

enum tf
qargs_market_tf(const struct qargs *a)
{
	if (a->market == NULL || *a->market == '\0')
		query_usage_error(a->cmd, "--market is required");
	if (strchr(a->market, ',') != NULL || strcmp(a->market, "all") == 0)
		query_usage_error(a->cmd, "--market %s: %s takes one market; %s", a->market, a->cmd,
		                  strcmp(a->cmd, "query") == 0
		                      ? "for several, use export (--market all, or one at a time)"
		                      : "run it once for each");
	if (a->timeframe == NULL)
		query_usage_error(a->cmd, "--timeframe is required");
	return query_parse_tf(a->cmd, a->timeframe);
}

enum out_format
qargs_format(const struct qargs *a, unsigned allowed, const char *names, enum out_format dflt)
{
	enum out_format f = dflt;

	if (a->format != NULL && out_parse_format(a->format, allowed, &f) == -1)
		query_usage_error(a->cmd, "--format must be %s, not '%s'", names, a->format);
	return f;
}
