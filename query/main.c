/*
 * main.c: cp-query, the read side of candlepipe. One binary, four commands
 * (run.sh query|gaps|export|verify execs it with the command as its first
 * argument): query answers a range of one market and timeframe from
 * whatever chunks hold it, gaps lists what is missing, export streams whole
 * markets, verify checks a whole database. It owns nothing durable: it
 * only ever opens the database read-only, so it can run beside a collection.
 */
#include <stdio.h>
#include <string.h>

#include "exitcodes.h"
#include "log.h"
#include "opts.h"
#include "query.h"

static void
usage(FILE *f)
{
	opts_fputs("usage: cp-query COMMAND [options]   (or ./run.sh COMMAND ...)\n"
	           "\n"
	           "commands:\n"
	           "  query   the candles of one market and timeframe in [from, to), with a\n"
	           "          coverage report on stderr; optional fill-forward of proven\n"
	           "          no-trade intervals and --fetch-missing\n"
	           "  gaps    the ranges never fetched and the no-trade stretches\n"
	           "  export  stream whole markets or ranges as csv or Upbit JSON lines\n"
	           "  verify  check a database as fsck checks a file system: integrity,\n"
	           "          coverage, grid, KST, decimals, history starts\n"
	           "\n"
	           "'cp-query COMMAND --help' describes each. The database is only ever\n"
	           "opened read-only.\n",
	           f);
}

int
main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	log_init("cp-query", 0);
	if (cmd == NULL) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "query") == 0)
		return query_run(argc - 1, argv + 1);
	if (strcmp(cmd, "gaps") == 0)
		return gaps_run(argc - 1, argv + 1);
	if (strcmp(cmd, "export") == 0)
		return export_run(argc - 1, argv + 1);
	if (strcmp(cmd, "verify") == 0)
		return verify_run(argc - 1, argv + 1);
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	fprintf(stderr, "cp-query: unknown command '%s' (query, gaps, export or verify)\n", cmd);
	query_try_help(NULL);
	return EXIT_USAGE;
}
