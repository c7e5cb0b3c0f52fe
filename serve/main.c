/*
 * main.c: cp-serve, the HTTP API over one candlepipe database. Parses the
 * command line, refuses a non-loopback listen address without a token, checks
 * the database is candlepipe's (read-only, never written), starts the
 * read-through (readthru.c, with --control) and the HTTP daemon (http.c),
 * writes the port file, and runs until SIGTERM or SIGINT.
 *
 * Exit codes: 0 stopped by a signal; 2 usage (a bad option, a non-loopback
 * address without --token-file, an unreadable or empty token file, a port
 * file that is not a regular file); 3 permanent (the database is missing or
 * not candlepipe's); 4 temporary (cannot listen, the database is busy, a
 * PostgreSQL server that cannot be reached).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "fsutil.h"
#include "log.h"
#include "opts.h"
#include "serve.h"

#define TOKEN_MAX 512

struct options {
	const char *db, *listen, *token_file, *port_file, *control, *api_url, *cacert;
	const char *events, *www; /* the web page's (issue 16) */
	int verbose, cache_mb, miss_timeout_ms;
};

static void
usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: cp-serve --db PATH|URI [--listen ADDR:PORT] [--token-file F]\n"
	    "                [--port-file F] [--cache-mb N] [--control EP [--miss-timeout-ms N]\n"
	    "                [--api-url URL] [--cacert F]] [--events EP] [--www DIR] [-v]\n"
	    "\n"
	    "Serves the candles of a candlepipe database over HTTP with Upbit's API\n"
	    "(/v1/candles/..., /v1/market/all). A window the coverage ledger does not\n"
	    "prove is answered 503 (not collected yet); with --control it becomes a job\n"
	    "of the planner daemon at EP, and the answer waits for it (read-through).\n"
	    "Also /v1/candles/range, /v1/coverage, /v1/gaps, /v1/jobs, /v1/events,\n"
	    "/healthz, /readyz, /metrics, and the web page at /.\n"
	    "\n"
	    "  --db PATH|URI     the database, read-only (never written): a SQLite file,\n"
	    "                    or a PostgreSQL connection string (postgresql://...)\n"
	    "  --listen A:P      numeric address and port (default 127.0.0.1:8765;\n"
	    "                    [::1]:P for IPv6; port 0 picks a free one)\n"
	    "  --token-file F    require 'Authorization: Bearer <token>', the token being\n"
	    "                    the first line of F; needed for a non-loopback address\n"
	    "  --port-file F     write the bound port to F once listening\n"
	    "  --cache-mb N      memory for the finished answers of proven 'count' candle\n"
	    "                    windows, which never change (default 64; 0: none)\n"
	    "  --control EP      the planner daemon's control socket (./run.sh start:\n"
	    "                    ipc://RUN_DIR/control.sock): misses become its jobs,\n"
	    "                    and /v1/jobs submits, lists and cancels them\n"
	    "  --miss-timeout-ms N  how long a miss waits for its job (default 30000;\n"
	    "                    then 504, the job goes on)\n"
	    "  --api-url URL     upstream for the candle still forming, with --control\n"
	    "                    (default $UPBIT_API_URL or https://api.upbit.com)\n"
	    "  --cacert F        CA certificates (PEM) to verify an https --api-url\n"
	    "  --events EP       the event hub's monitor endpoint, for /v1/events\n"
	    "                    (ipc://RUN_DIR/monitor.sock under ./run.sh start)\n"
	    "  --www DIR         the web page's files (default: www next to the binary,\n"
	    "                    or the installed share/candlepipe/www)\n"
	    "  -v, --verbose     debug logging\n"
	    "  -h, --help        this help\n"
	    "\n"
	    "exit: 0 stopped (SIGTERM/SIGINT), 2 usage, 3 not a candlepipe database,\n"
	    "4 temporary (cannot listen, database busy, PostgreSQL not reachable)\n");
}

/* The first line of file, trimmed, into tok: 0 or -1 (said why). */
static int
read_token(const char *file, char *tok, size_t len)
{
	FILE *f = fopen(file, "r");
	size_t n;

	if (f == NULL) {
		fprintf(stderr, "cp-serve: --token-file %s: %s\n", file, strerror(errno));
		return -1;
	}
	if (fgets(tok, (int)len, f) == NULL)
		tok[0] = '\0';
	fclose(f);
	n = strlen(tok);
	while (n > 0 && (tok[n - 1] == '\n' || tok[n - 1] == '\r' || tok[n - 1] == ' ' ||
	                 tok[n - 1] == '\t'))
		tok[--n] = '\0';
	if (n == 0 || strchr(tok, ' ') != NULL) {
		fprintf(stderr,
		        "cp-serve: --token-file %s: the first line must be the token "
		        "(no spaces)\n",
		        file);
		return -1;
	}
	return 0;
}

/* Cross-option checks: 0 or -1 (said why). */
static int
check_options(const struct options *o, struct sv_listen *l, char *tok, size_t toklen)
{
	char target[PATH_MAX], err[FS_ERR_MAX];

	if (o->db == NULL) {
		fprintf(stderr, "cp-serve: --db PATH is required\n");
		return -1;
	}
	if (http_parse_listen(o->listen, l) == -1) {
		fprintf(stderr,
		        "cp-serve: --listen must be a numeric ADDR:PORT (127.0.0.1:8765, "
		        "[::1]:8765), not '%s'\n",
		        o->listen);
		return -1;
	}
	if (!l->loopback && o->token_file == NULL) {
		fprintf(stderr,
		        "cp-serve: --listen %s is not a loopback address: give "
		        "--token-file F so that clients must authenticate\n",
		        o->listen);
		return -1;
	}
	if (o->token_file != NULL && read_token(o->token_file, tok, toklen) == -1)
		return -1;
	if (strncmp(o->api_url, "http://", 7) != 0 && strncmp(o->api_url, "https://", 8) != 0) {
		fprintf(stderr, "cp-serve: --api-url must start with http:// or https://\n");
		return -1;
	}
	if (o->cacert != NULL && access(o->cacert, R_OK) == -1) {
		fprintf(stderr, "cp-serve: --cacert %s: %s\n", o->cacert, strerror(errno));
		return -1;
	}
	if (o->port_file != NULL &&
	    fs_check_output(o->port_file, target, err, sizeof(err)) == FS_NOT_REGULAR) {
		fprintf(stderr, "cp-serve: --port-file %s: %s\n", o->port_file, err);
		return -1;
	}
	return 0;
}

static int
write_port(const char *file, uint16_t port)
{
	char buf[16], err[FS_ERR_MAX];
	int n = snprintf(buf, sizeof(buf), "%u\n", (unsigned)port);

	if (fs_write_file(file, buf, (size_t)n, 0644, 0, err, sizeof(err)) != FS_OK) {
		log_warnx("cannot write the port file %s: %s", file, err);
		return -1;
	}
	return 0;
}

/* Serves until SIGTERM or SIGINT: the exit code. */
static int
serve(const struct options *o, const struct sv_listen *l, const char *token)
{
	struct rt_opts ro = { o->control, o->api_url, o->cacert, o->miss_timeout_ms };
	sigset_t set;
	uint16_t port;
	int sig = 0, code;

	if ((code = sdb_check(o->db)) != 0)
		return code;
	/* blocked before the daemon's threads start, so they inherit it */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (web_set_dir(o->www) == -1)
		log_warnx("no web page: %s is not a directory", o->www != NULL ? o->www : "www");
	if (readthru_start(&ro) == -1)
		return EXIT_TEMPFAIL;
	if (jobs_open(o->control) == -1 || events_start(o->events) == -1 ||
	    http_start(l, token, &port) == -1) {
		events_stop();
		readthru_stop();
		return EXIT_TEMPFAIL;
	}
	if (o->port_file != NULL && write_port(o->port_file, port) == -1) {
		events_stop();
		http_stop();
		return EXIT_TEMPFAIL;
	}
	log_info("listening on http://%s%s%s:%u/ (database %s, read-only%s%s%s)",
	         l->family == AF_INET6 ? "[" : "", l->host, l->family == AF_INET6 ? "]" : "",
	         (unsigned)port, sdb_name(), token != NULL ? ", bearer token required" : "",
	         o->control != NULL ? ", read-through " : "", o->control != NULL ? o->control : "");
	sigwait(&set, &sig);
	log_info("stopping on signal %d", sig);
	events_stop();
	http_stop();
	jobs_close();
	sdb_close_all();
	return EXIT_OK;
}

int
main(int argc, char **argv)
{
	const char *env_api = getenv("UPBIT_API_URL");
	struct options o = { .listen = "127.0.0.1:8765",
		             .cache_mb = 64,
		             .miss_timeout_ms = 30000,
		             .api_url = env_api != NULL && *env_api != '\0'
		                            ? env_api
		                            : "https://api.upbit.com" };
	const struct opt table[] = {
		{ .name = "db", .kind = OPT_STR, .dest = &o.db },
		{ .name = "listen", .kind = OPT_STR, .dest = &o.listen },
		{ .name = "token-file", .kind = OPT_STR, .dest = &o.token_file },
		{ .name = "port-file", .kind = OPT_STR, .dest = &o.port_file },
		{ .name = "control", .kind = OPT_STR, .dest = &o.control },
		{ .name = "events", .kind = OPT_STR, .dest = &o.events },
		{ .name = "www", .kind = OPT_STR, .dest = &o.www },
		{ .name = "cache-mb",
		  .kind = OPT_INT,
		  .dest = &o.cache_mb,
		  .min = 0,
		  .max = 65536 },
		{ .name = "api-url", .kind = OPT_STR, .dest = &o.api_url },
		{ .name = "cacert", .kind = OPT_STR, .dest = &o.cacert },
		{ .name = "miss-timeout-ms",
		  .kind = OPT_INT,
		  .dest = &o.miss_timeout_ms,
		  .min = 1,
		  .max = 3600000 },
		{ .name = "verbose",
		  .short_name = 'v',
		  .kind = OPT_SET,
		  .dest = &o.verbose,
		  .value = 1 },
		{ .name = "help", .short_name = 'h', .kind = OPT_HELP },
		{ .kind = OPT_END },
	};
	struct sv_listen l;
	char tok[TOKEN_MAX];

	if (opts_parse("cp-serve", argc, argv, table, usage) == -1 ||
	    check_options(&o, &l, tok, sizeof(tok)) == -1) {
		fprintf(stderr, "try 'cp-serve --help'\n");
		return EXIT_USAGE;
	}
	log_init("cp-serve", o.verbose);
	/* each connection is used by one thread only (sdb.c): no per-call mutexes,
	 * which were a seventh of a covered answer's time under perf */
	sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
	http_set_cache((size_t)o.cache_mb << 20);
	return serve(&o, &l, o.token_file != NULL ? tok : NULL);
}
