/*
 * main.c: cp-monitor, a read-only observer of a running collection. It
 * subscribes to the planner's event hub (common/events.h), keeps a model of
 * the run (state.c) and shows it as a live terminal view (view.c), as JSON
 * lines (--json) and/or as Prometheus metrics (--prometheus, prom.c). It
 * never sends anything to the pipeline: attaching or leaving (Ctrl-C,
 * SIGTERM) cannot disturb it, and the SUB socket reconnects by itself when
 * the pipeline starts (again).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <msgpack.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <zmq.h>

#include "events.h"
#include "exitcodes.h"
#include "fsutil.h"
#include "log.h"
#include "mon.h"
#include "net.h"
#include "opts.h"
#include "proc.h"
#include "rundir.h"
#include "timeutil.h"

#define TICK_MS 500
#define SUMMARY_MS 1000
#define STALE_MS 3000

struct opts {
	const char *db, *endpoint, *prometheus, *port_file;
	int json, quiet, exit_on_finish, verbose, print_run_dir;
	struct net_curve curve; /* CURVE keys for a hub across hosts (net.h) */
};

static int sig_pipe[2] = { -1, -1 };
static volatile sig_atomic_t stop_signal;

static void
usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: cp-monitor [--db PATH | --endpoint EP] [--json] [--quiet]\n"
	    "                  [--prometheus ADDR:PORT [--port-file F]] [--exit-on-finish] [-v]\n"
	    "       cp-monitor --print-run-dir [--db PATH]\n"
	    "\n"
	    "Attaches to a running (or future) collection and shows its progress.\n"
	    "  --db PATH           the collection's database (default data/candles.db): the\n"
	    "                      hub endpoint is read from monitor.endpoint in its run directory\n"
	    "  --print-run-dir     print the run directory of --db (/tmp/cp-<first 12 hex of\n"
	    "                      sha1 of its absolute path, as realpath -m>) and exit; run.sh\n"
	    "                      keeps its sockets, logs and endpoint file there\n"
	    "  --endpoint EP       the hub's endpoint (e.g. ipc:///tmp/run/monitor.sock)\n"
	    "  --json              one JSON object per event and a summary every second\n"
	    "                      on stdout (no terminal view)\n"
	    "  --prometheus A:P    serve Prometheus metrics at http://A:P/metrics (port 0: any)\n"
	    "  --port-file F       write the metrics port to F once listening (a regular\n"
	    "                      file, or a symlink to one; anything else is refused)\n"
	    "  --quiet             no terminal view (headless with --prometheus)\n"
	    "  --exit-on-finish    exit when the run finishes (default: wait for the next)\n"
	    "  --curve-server F    CURVE: the hub's public key (cp-planner --keygen)\n"
	    "  --curve-client F    CURVE: this monitor's key pair\n"
	    "  -v                  verbose logs\n"
	    "  -h, --help          this text\n");
}

static void
on_signal(int sig)
{
	int saved = errno;
	unsigned char c = (unsigned char)sig;

	if (sig != SIGWINCH)
		stop_signal = sig;
	if (write(sig_pipe[1], &c, 1) == -1) {
		/* the pipe is full: a wake-up is already pending */
	}
	errno = saved;
}

static int
signals_init(void)
{

	if (pipe(sig_pipe) == -1)
		return -1;
	for (int i = 0; i < 2; i++) {
		fcntl(sig_pipe[i], F_SETFL, fcntl(sig_pipe[i], F_GETFL) | O_NONBLOCK);
		fcntl(sig_pipe[i], F_SETFD, FD_CLOEXEC);
	}
	proc_catch_signals(on_signal, (const int[]){ SIGHUP, SIGWINCH, 0 });
	return 0;
}

static void
drain_signals(void)
{
	unsigned char buf[64];

	while (read(sig_pipe[0], buf, sizeof(buf)) > 0)
		continue;
}

/* --- the hub endpoint ---------------------------------------------------- */

/* Reads the endpoint from file: 1 with ep filled, 0 if not there (yet), -1. */
static int
read_endpoint(const char *file, char *ep, size_t cap)
{
	FILE *f = fopen(file, "r");
	char *ok;

	if (f == NULL) {
		if (errno == ENOENT)
			return 0;
		log_warn("%s", file);
		return -1;
	}
	ok = fgets(ep, (int)cap, f);
	fclose(f);
	if (ok == NULL)
		return 0;
	ep[strcspn(ep, " \t\r\n")] = '\0';
	return ep[0] != '\0';
}

/* Reads the hub endpoint for db, waiting for the file if it is not there.
 * 0 with ep filled, or -1 (interrupted or unreadable). */
static int
endpoint_for_db(const char *db, char *ep, size_t cap)
{
	char abs[PATH_MAX], file[PATH_MAX + 64];
	int said = 0, rc;
	size_t len;

	if (rundir_for(db, abs, file, sizeof(file)) == -1) {
		log_warnx("cannot make %s absolute", db);
		return -1;
	}
	len = strlen(file); /* /tmp/cp- and 12 digits: the name fits */
	snprintf(file + len, sizeof(file) - len, "/monitor.endpoint");
	while (!stop_signal) {
		if ((rc = read_endpoint(file, ep, cap)) != 0) {
			if (rc == 1)
				log_info("hub endpoint %s (from %s)", ep, file);
			return rc == 1 ? 0 : -1;
		}
		if (!said) {
			log_info("waiting for %s: no collection has used %s yet", file, abs);
			said = 1;
		}
		struct pollfd pfd = { sig_pipe[0], POLLIN, 0 };
		poll(&pfd, 1, 250);
		drain_signals();
	}
	return -1;
}

static int
flush_out(struct buf *b)
{
	if (b->len == 0)
		return 0;
	if (fwrite(b->data, 1, b->len, stdout) != b->len || fflush(stdout) == EOF)
		return -1;
	buf_reset(b);
	return 0;
}

static void
term_size(int *cols, int *rows)
{
	struct winsize ws;

	const char *env = getenv("COLUMNS");
	long c = env != NULL ? strtol(env, NULL, 10) : 0;

	/* not a terminal: $COLUMNS, else 100 columns */
	*cols = c > 0 && c < 10000 ? (int)c : 100;
	*rows = 40;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
		*cols = ws.ws_col;
		*rows = ws.ws_row;
	}
}

/* The second line of a usage error: the help of the command the user typed
 * ($CP_USAGE_HINT, which run.sh sets to its own, else ours). */
static void
try_help(void)
{
	const char *hint = getenv("CP_USAGE_HINT");

	fprintf(stderr, "try '%s'\n", hint != NULL && *hint != '\0' ? hint : "cp-monitor --help");
}

/* The options, then their cross-checks; exits 2 on a bad one. */
static void
parse_opts(int argc, char **argv, struct opts *o)
{
	const struct opt table[] = {
		{ "db", 0, OPT_STR, &o->db, 0, 0, 0, NULL },
		{ "endpoint", 0, OPT_STR, &o->endpoint, 0, 0, 0, NULL },
		{ "json", 0, OPT_SET, &o->json, 0, 0, 1, NULL },
		{ "prometheus", 0, OPT_STR, &o->prometheus, 0, 0, 0, NULL },
		{ "port-file", 0, OPT_STR, &o->port_file, 0, 0, 0, NULL },
		{ "quiet", 'q', OPT_SET, &o->quiet, 0, 0, 1, NULL },
		{ "exit-on-finish", 0, OPT_SET, &o->exit_on_finish, 0, 0, 1, NULL },
		{ "print-run-dir", 0, OPT_SET, &o->print_run_dir, 0, 0, 1, NULL },
		{ "curve-server", 0, OPT_STR, &o->curve.server_key_file, 0, 0, 0, NULL },
		{ "curve-client", 0, OPT_STR, &o->curve.client_key_file, 0, 0, 0, NULL },
		{ "verbose", 'v', OPT_SET, &o->verbose, 0, 0, 1, NULL },
		{ "help", 'h', OPT_HELP, NULL, 0, 0, 0, NULL },
		{ NULL, 0, OPT_END, NULL, 0, 0, 0, NULL },
	};
	const char *bad = NULL;
	char target[PATH_MAX], err[FS_ERR_MAX], why[PATH_MAX + FS_ERR_MAX + 32];

	memset(o, 0, sizeof(*o));
	o->db = "data/candles.db";
	if (opts_parse("cp-monitor", argc, argv, table, usage) == -1)
		bad = "";
	else if (o->endpoint != NULL && strstr(o->endpoint, "://") == NULL)
		bad = "--endpoint must look like ipc://PATH or tcp://HOST:PORT";
	/* cppcheck-suppress knownConditionTrueFalse ; opts_parse writes o->db through the table */
	else if (o->db[0] == '\0')
		bad = "--db must not be empty";
	else if (o->port_file != NULL && o->prometheus == NULL)
		bad = "--port-file needs --prometheus";
	else if (o->port_file != NULL &&
	         fs_check_output(o->port_file, target, err, sizeof(err)) == FS_NOT_REGULAR) {
		snprintf(why, sizeof(why), "--port-file %s: %s", o->port_file, err);
		bad = why;
	}
	if (bad == NULL)
		return;
	if (bad[0] != '\0')
		fprintf(stderr, "cp-monitor: %s\n", bad);
	try_help();
	exit(EXIT_USAGE);
}

/* --print-run-dir: the run directory of db on stdout. EXIT_OK, or
 * EXIT_USAGE when db has no absolute name. */
static int
print_run_dir(const char *db)
{
	char abs[PATH_MAX], dir[PATH_MAX];

	if (rundir_for(db, abs, dir, sizeof(dir)) == -1) {
		fprintf(stderr, "cp-monitor: --db %s: cannot make it absolute\n", db);
		return EXIT_USAGE;
	}
	if (printf("%s\n", dir) < 0 || fflush(stdout) == EOF)
		return EXIT_TEMPFAIL;
	return EXIT_OK;
}

/* The whole monitor: options, outputs, the connection. */
struct app {
	struct opts o;
	struct monitor *m;
	char ep[1024];
	void *ctx, *sub;
	struct jw out;
	struct buf prom;
	int view, tty;
	int64_t next_tick, next_summary;
};

/* EXIT_OK, or the exit code of a bad or unusable --prometheus. */
static int
start_prometheus(const struct opts *o)
{
	int rc;

	if (o->prometheus == NULL || (rc = prom_start(o->prometheus, o->port_file)) == 0)
		return EXIT_OK;
	if (rc == -1) {
		fprintf(stderr, "cp-monitor: --prometheus wants ADDR:PORT (IPv4), not '%s'\n",
		        o->prometheus);
		try_help();
		return EXIT_USAGE;
	}
	return EXIT_PERMFAIL;
}

/* Finds the hub and subscribes to it: EXIT_OK or the exit code. */
static int
attach(struct app *a)
{
	const struct net_curve *curve = a->o.curve.server_key_file ? &a->o.curve : NULL;

	if (a->o.endpoint != NULL)
		snprintf(a->ep, sizeof(a->ep), "%s", a->o.endpoint);
	else if (endpoint_for_db(a->o.db, a->ep, sizeof(a->ep)) == -1)
		return stop_signal ? EXIT_OK : EXIT_PERMFAIL;
	if ((a->ctx = net_ctx_new()) == NULL ||
	    (a->sub = net_socket(a->ctx, ZMQ_SUB, a->ep, 0, curve)) == NULL ||
	    zmq_setsockopt(a->sub, ZMQ_SUBSCRIBE, "", 0) == -1) {
		log_warnx("cannot subscribe to %s: %s", a->ep, zmq_strerror(zmq_errno()));
		return EXIT_PERMFAIL;
	}
	log_info("attached to %s", a->ep);
	return EXIT_OK;
}

static void
put_summary(struct app *a)
{
	mon_json_summary(a->m, &a->out);
	tb_putn(&a->out.b, "\n", 1);
	a->out.comma = 0;
}

/* The view's status line: the endpoint and whether events arrive. */
static void
status_line(const struct app *a, int64_t now, char *buf, size_t cap)
{
	int64_t idle = now - a->m->last_event_mono_ms;

	if (a->m->last_event_mono_ms == 0)
		snprintf(buf, cap, "%s  \033[33mno events yet\033[0m", a->ep);
	else if (idle > STALE_MS)
		snprintf(buf, cap, "%s  \033[33mno events for %llds\033[0m", a->ep,
		         (long long)(idle / 1000));
	else
		snprintf(buf, cap, "%s  \033[32mlive\033[0m", a->ep);
}

static void
draw(struct app *a, const char *status)
{
	int cols, rows;

	term_size(&cols, &rows);
	mon_view_render(a->m, &a->out.b, cols, rows, status);
}

/* Every TICK_MS: derived figures, the JSON summary (every SUMMARY_MS), the
 * Prometheus text and the view. */
static void
tick(struct app *a, int64_t now)
{
	char status[1200];

	mon_update(a->m);
	if (a->o.json && now >= a->next_summary) {
		put_summary(a);
		a->next_summary = now + SUMMARY_MS;
	}
	if (a->o.prometheus != NULL) {
		mon_prom_render(a->m, &a->prom);
		prom_publish(&a->prom);
	}
	if (a->view) {
		status_line(a, now, status, sizeof(status));
		draw(a, status);
	}
	a->next_tick = now + TICK_MS;
}

/* --exit-on-finish: the last summary and view. */
static void
finish(struct app *a)
{
	mon_update(a->m);
	if (a->o.json)
		put_summary(a);
	if (a->view)
		draw(a, a->ep);
	flush_out(&a->out.b);
}

/* The poll loop until a signal, a closed stdout or the run's end. */
static int
run(struct app *a)
{
	while (!stop_signal) {
		int64_t now = time_mono_ms();
		zmq_pollitem_t items[2] = {
			{ a->sub, 0, ZMQ_POLLIN, 0 },
			{ NULL, sig_pipe[0], ZMQ_POLLIN, 0 },
		};

		if (zmq_poll(items, 2, a->next_tick > now ? (long)(a->next_tick - now) : 0) == -1 &&
		    zmq_errno() != EINTR) {
			log_warnx("zmq_poll: %s", zmq_strerror(zmq_errno()));
			return EXIT_TEMPFAIL;
		}
		if (items[1].revents & ZMQ_POLLIN)
			drain_signals();
		mon_drain(a->sub, a->m, a->o.json ? &a->out : NULL);
		if ((now = time_mono_ms()) >= a->next_tick)
			tick(a, now);
		if (flush_out(&a->out.b) == -1)
			break; /* stdout is gone (a closed pipe): nothing left to do */
		if (a->o.exit_on_finish && a->m->have_progress && a->m->p.finished) {
			finish(a);
			break;
		}
	}
	if (stop_signal)
		log_debug("leaving on signal %d", (int)stop_signal);
	return EXIT_OK;
}

int
main(int argc, char **argv)
{
	static struct monitor m;
	static struct app a;
	int rc;

	parse_opts(argc, argv, &a.o);
	log_init("monitor", a.o.verbose);
	if (a.o.print_run_dir)
		return print_run_dir(a.o.db);
	a.m = &m;
	a.view = !a.o.json && !a.o.quiet;
	a.tty = isatty(STDOUT_FILENO);
	if (signals_init() == -1)
		fatalx(EXIT_TEMPFAIL, "pipe: %s", strerror(errno));
	if ((rc = start_prometheus(&a.o)) != EXIT_OK)
		return rc;
	mon_init(&m);
	if ((rc = attach(&a)) == EXIT_OK && !stop_signal) {
		if (a.view && a.tty)
			fputs("\033[?25l\033[2J", stdout);
		rc = run(&a);
	}
	if (a.view && a.tty)
		fputs("\033[?25h\n", stdout);
	fflush(stdout);
	if (a.sub != NULL)
		zmq_close(a.sub);
	net_ctx_term(a.ctx);
	prom_stop();
	buf_free(&a.out.b);
	buf_free(&a.prom);
	return rc;
}
