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
#include <getopt.h>
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
#include "log.h"
#include "mon.h"
#include "net.h"
#include "timeutil.h"

#define TICK_MS 500
#define SUMMARY_MS 1000
#define DRAIN_MAX 2000
#define STALE_MS 3000

struct opts {
	const char *db, *endpoint, *prometheus, *port_file;
	int json, quiet, exit_on_finish, verbose;
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
	    "\n"
	    "Attaches to a running (or future) collection and shows its progress.\n"
	    "  --db PATH           the collection's database (default data/candles.db): the\n"
	    "                      hub endpoint is read from /tmp/cp-<sha1 of path>/monitor.endpoint\n"
	    "  --endpoint EP       the hub's endpoint (e.g. ipc:///tmp/run/monitor.sock)\n"
	    "  --json              one JSON object per event and a summary every second\n"
	    "                      on stdout (no terminal view)\n"
	    "  --prometheus A:P    serve Prometheus metrics at http://A:P/metrics (port 0: any)\n"
	    "  --port-file F       write the metrics port to F once listening\n"
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
	struct sigaction sa;

	if (pipe(sig_pipe) == -1)
		return -1;
	for (int i = 0; i < 2; i++) {
		fcntl(sig_pipe[i], F_SETFL, fcntl(sig_pipe[i], F_GETFL) | O_NONBLOCK);
		fcntl(sig_pipe[i], F_SETFD, FD_CLOEXEC);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGWINCH, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static void
drain_signals(void)
{
	unsigned char buf[64];

	while (read(sig_pipe[0], buf, sizeof(buf)) > 0)
		continue;
}

/* --- the run directory: /tmp/cp-<first 12 hex of sha1(abs db path)> ------ */

struct sha1 {
	uint32_t h[5];
};

static uint32_t
rol(uint32_t x, int k)
{
	return (x << k) | (x >> (32 - k));
}

static void
sha1_block(struct sha1 *s, const unsigned char *p)
{
	uint32_t w[80], a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4];

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 80; i++)
		w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	for (int i = 0; i < 80; i++) {
		uint32_t f, k, t;
		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5a827999;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ed9eba1;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8f1bbcdc;
		} else {
			f = b ^ c ^ d;
			k = 0xca62c1d6;
		}
		t = rol(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = rol(b, 30);
		b = a;
		a = t;
	}
	s->h[0] += a, s->h[1] += b, s->h[2] += c, s->h[3] += d, s->h[4] += e;
}

static void
sha1_hex(const char *msg, char out[41])
{
	struct sha1 s = { { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0 } };
	size_t len = strlen(msg), i = 0, r;
	unsigned char pad[128];
	uint64_t bits = (uint64_t)len * 8;

	for (; i + 64 <= len; i += 64)
		sha1_block(&s, (const unsigned char *)msg + i);
	r = len - i;
	memset(pad, 0, sizeof(pad));
	memcpy(pad, msg + i, r);
	pad[r] = 0x80;
	r = r + 1 + 8 <= 64 ? 64 : 128;
	for (int k = 0; k < 8; k++)
		pad[r - 1 - k] = (unsigned char)(bits >> (8 * k));
	sha1_block(&s, pad);
	if (r == 128)
		sha1_block(&s, pad + 64);
	for (int k = 0; k < 5; k++)
		snprintf(out + 8 * k, 9, "%08x", s.h[k]);
}

/* Like `realpath -m`: absolute, symlinks of the existing prefix resolved,
 * "." and ".." folded, the path need not exist. 0 or -1. */
static int
abs_path(const char *path, char out[PATH_MAX])
{
	char tmp[PATH_MAX], res[PATH_MAX], *comp[PATH_MAX / 2], *save = NULL, *c;
	int n = 0, k;
	size_t off = 0;

	if (realpath(path, out) != NULL)
		return 0;
	if (path[0] == '/')
		snprintf(tmp, sizeof(tmp), "%s", path);
	else {
		if (getcwd(res, sizeof(res)) == NULL)
			return -1;
		if ((size_t)snprintf(tmp, sizeof(tmp), "%s/%s", res, path) >= sizeof(tmp))
			return -1;
	}
	for (c = strtok_r(tmp, "/", &save); c != NULL; c = strtok_r(NULL, "/", &save)) {
		if (strcmp(c, ".") == 0)
			continue;
		if (strcmp(c, "..") == 0) {
			n -= n > 0;
			continue;
		}
		comp[n++] = c;
	}
	/* resolve the longest existing prefix, then append the rest */
	for (k = n; k > 0; k--) {
		char pre[PATH_MAX];
		off = 0;
		pre[0] = '\0';
		for (int i = 0; i < k; i++)
			off += (size_t)snprintf(
			    pre + off, sizeof(pre) - (off < sizeof(pre) ? off : sizeof(pre)), "/%s",
			    comp[i]);
		if (off < sizeof(pre) && realpath(pre, res) != NULL)
			break;
	}
	if (k == 0)
		snprintf(res, sizeof(res), "/");
	off = strlen(res);
	for (int i = k; i < n; i++)
		off += (size_t)snprintf(res + off,
		                        sizeof(res) - (off < sizeof(res) ? off : sizeof(res)),
		                        "%s%s", off > 1 ? "/" : "", comp[i]);
	if (off >= sizeof(res))
		return -1;
	memcpy(out, res, off + 1);
	return 0;
}

/* Reads the hub endpoint for db, waiting for the file if it is not there.
 * 0 with ep filled, or -1 (interrupted or unreadable). */
static int
endpoint_for_db(const char *db, char *ep, size_t cap)
{
	char abs[PATH_MAX], hex[41], file[PATH_MAX + 64];
	int said = 0;

	if (abs_path(db, abs) == -1) {
		log_warnx("cannot make %s absolute", db);
		return -1;
	}
	sha1_hex(abs, hex);
	snprintf(file, sizeof(file), "/tmp/cp-%.12s/monitor.endpoint", hex);
	while (!stop_signal) {
		FILE *f = fopen(file, "r");
		if (f != NULL) {
			char *ok = fgets(ep, (int)cap, f);
			fclose(f);
			if (ok != NULL) {
				ep[strcspn(ep, " \t\r\n")] = '\0';
				if (ep[0] != '\0') {
					log_info("hub endpoint %s (from %s)", ep, file);
					return 0;
				}
			}
		} else if (errno != ENOENT) {
			log_warn("%s", file);
			return -1;
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

/* --- events ------------------------------------------------------------- */

static enum mon_topic
topic_of(const char *t, size_t n)
{
	for (int i = 0; i < T_OTHER; i++)
		if (strlen(mon_topic_names[i]) == n && memcmp(mon_topic_names[i], t, n) == 0)
			return (enum mon_topic)i;
	return T_OTHER;
}

/* Decodes a proc map {"name","pid","event","code"} into w (JSON) and text. */
static int
decode_proc(const void *data, size_t len, struct jw *w, char *text, size_t cap)
{
	msgpack_unpacked up;
	size_t off = 0;
	char name[32] = "?", ev[16] = "?";
	int64_t pid = 0, code = 0;
	int rc = -1;

	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, data, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len ||
	    up.data.type != MSGPACK_OBJECT_MAP)
		goto out;
	for (uint32_t i = 0; i < up.data.via.map.size; i++) {
		const msgpack_object *k = &up.data.via.map.ptr[i].key,
		                     *v = &up.data.via.map.ptr[i].val;
		if (k->type != MSGPACK_OBJECT_STR)
			goto out;
#define KEY(s) (k->via.str.size == strlen(s) && memcmp(k->via.str.ptr, s, strlen(s)) == 0)
		if ((KEY("name") || KEY("event")) && v->type == MSGPACK_OBJECT_STR) {
			char *dst = KEY("name") ? name : ev;
			size_t cap2 = KEY("name") ? sizeof(name) : sizeof(ev);
			size_t n = v->via.str.size < cap2 - 1 ? v->via.str.size : cap2 - 1;
			memcpy(dst, v->via.str.ptr, n);
			dst[n] = '\0';
		} else if ((KEY("pid") || KEY("code")) &&
		           (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
		            v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)) {
			int64_t x = v->type == MSGPACK_OBJECT_POSITIVE_INTEGER
			                ? (int64_t)(v->via.u64 & INT64_MAX)
			                : v->via.i64;
			if (KEY("pid"))
				pid = x;
			else
				code = x;
		}
#undef KEY
	}
	jw_str(w, "name", name);
	jw_int(w, "pid", pid);
	jw_str(w, "event", ev);
	jw_int(w, "code", code);
	snprintf(text, cap, "%s (pid %lld) %s, code %lld", name, (long long)pid, ev,
	         (long long)code);
	rc = 0;
out:
	msgpack_unpacked_destroy(&up);
	return rc;
}

/* Handles one event; appends its JSON line to w when json is set. */
static void
on_event(struct monitor *m, const char *topic, size_t tlen, const void *data, size_t len, int json,
         struct jw *w)
{
	static struct mon_progress prog;
	enum mon_topic t = topic_of(topic, tlen);
	struct chunk_info ci;
	struct msg_failed mf;
	struct msg_committed mc;
	int ok = -1;
	size_t mark = w->b.len;

	m->ev[t]++;
	if (json) {
		jw_obj(w, NULL);
		jw_strn(w, "topic", topic, tlen);
	}
	switch (t) {
	case T_LEASED:
	case T_FETCHED:
		if ((ok = msg_decode_lease(data, len, &ci)) == 0 && json)
			mon_json_chunk(w, &ci);
		break;
	case T_RETRY:
	case T_FAILED:
		if ((ok = msg_decode_failed(data, len, &mf)) == 0 && json) {
			mon_json_chunk(w, &mf.ci);
			jw_str(w, "kind", mf.kind < FAIL_END ? fail_kind_names[mf.kind] : "?");
			jw_int(w, "retry_after_ms", mf.retry_after_ms);
			jw_str(w, "source", mf.source);
			jw_str(w, "reason", mf.reason);
		}
		break;
	case T_COMMITTED:
		if ((ok = msg_decode_committed(data, len, &mc)) == 0) {
			mon_on_committed(m, &mc);
			if (json) {
				mon_json_chunk(w, &mc.ci);
				jw_int(w, "bytes", mc.bytes);
				jw_int(w, "new_candles", mc.new_candles);
				jw_bool(w, "duplicate", mc.duplicate);
				mon_json_metrics(w, &mc, mon_analysis_ms(m));
			}
		}
		break;
	case T_PROGRESS:
		if ((ok = mon_decode_progress(data, len, &prog)) == 0) {
			mon_on_progress(m, &prog, time_mono_ms());
			if (json)
				mon_json_progress(w, &prog);
		}
		break;
	case T_PROC: ok = decode_proc(data, len, w, m->last_proc, sizeof(m->last_proc)); break;
	case T_OTHER:
	case T_COUNT:
		ok = 0;
		if (json)
			jw_int(w, "bytes", (int64_t)len);
		break;
	}
	if (ok == -1) {
		m->ev_bad++;
		log_debug("dropped an undecodable %.*s event (%zu bytes)", (int)tlen, topic, len);
		if (json) { /* rewrite the line: only what is known */
			w->b.len = mark;
			w->comma = 0;
			jw_obj(w, NULL);
			jw_strn(w, "topic", topic, tlen);
			jw_str(w, "error", "undecodable payload");
			jw_int(w, "bytes", (int64_t)len);
		}
	}
	if (json) {
		jw_obj_end(w);
		tb_putn(&w->b, "\n", 1);
		w->comma = 0;
	}
}

/* Receives every waiting event (at most DRAIN_MAX). */
static void
drain(void *sub, struct monitor *m, int json, struct jw *w)
{
	for (int i = 0; i < DRAIN_MAX; i++) {
		zmq_msg_t tp, pl;
		int more = 0;
		size_t ms = sizeof(more);

		zmq_msg_init(&tp);
		if (zmq_msg_recv(&tp, sub, ZMQ_DONTWAIT) == -1) {
			zmq_msg_close(&tp);
			return;
		}
		zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &ms);
		zmq_msg_init(&pl);
		if (more && zmq_msg_recv(&pl, sub, 0) != -1) {
			m->last_event_mono_ms = time_mono_ms();
			on_event(m, zmq_msg_data(&tp), zmq_msg_size(&tp), zmq_msg_data(&pl),
			         zmq_msg_size(&pl), json, w);
			zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &ms);
		} else
			m->ev_bad++;
		while (more) { /* extra frames: not ours */
			zmq_msg_close(&pl);
			zmq_msg_init(&pl);
			if (zmq_msg_recv(&pl, sub, 0) == -1)
				break;
			zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &ms);
		}
		zmq_msg_close(&pl);
		zmq_msg_close(&tp);
	}
}

static int
flush_out(struct tbuf *b)
{
	if (b->len == 0)
		return 0;
	if (fwrite(b->d, 1, b->len, stdout) != b->len || fflush(stdout) == EOF)
		return -1;
	tb_reset(b);
	return 0;
}

static void
term_size(int *cols, int *rows)
{
	struct winsize ws;

	*cols = 100;
	*rows = 40;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
		*cols = ws.ws_col;
		*rows = ws.ws_row;
	}
}

static void
parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "endpoint", required_argument, NULL, 'e' },
		{ "json", no_argument, NULL, 'j' },
		{ "prometheus", required_argument, NULL, 'p' },
		{ "port-file", required_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "exit-on-finish", no_argument, NULL, 'x' },
		{ "curve-server", required_argument, NULL, 'S' },
		{ "curve-client", required_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->db = "data/candles.db";
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hqv", lo, NULL)) != -1) {
		switch (c) {
		case 'd': o->db = optarg; break;
		case 'e': o->endpoint = optarg; break;
		case 'j': o->json = 1; break;
		case 'p': o->prometheus = optarg; break;
		case 'P': o->port_file = optarg; break;
		case 'q': o->quiet = 1; break;
		case 'x': o->exit_on_finish = 1; break;
		case 'S': o->curve.server_key_file = optarg; break;
		case 'C': o->curve.client_key_file = optarg; break;
		case 'v': o->verbose = 1; break;
		case 'h': usage(stdout); exit(EXIT_OK);
		case ':':
			fprintf(stderr, "cp-monitor: %s needs a value\n", argv[optind - 1]);
			goto bad;
		default:
			fprintf(stderr, "cp-monitor: unknown option '%s'\n", argv[optind - 1]);
			goto bad;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "cp-monitor: unexpected argument '%s'\n", argv[optind]);
		goto bad;
	}
	if (o->endpoint != NULL && strstr(o->endpoint, "://") == NULL) {
		fprintf(stderr,
		        "cp-monitor: --endpoint must look like ipc://PATH or tcp://HOST:PORT\n");
		goto bad;
	}
	if (o->db[0] == '\0') {
		fprintf(stderr, "cp-monitor: --db must not be empty\n");
		goto bad;
	}
	if (o->port_file != NULL && o->prometheus == NULL) {
		fprintf(stderr, "cp-monitor: --port-file needs --prometheus\n");
		goto bad;
	}
	return;
bad:
	fprintf(stderr, "try 'cp-monitor --help'\n");
	exit(EXIT_USAGE);
}

int
main(int argc, char **argv)
{
	static struct monitor m;
	struct opts o;
	char ep[1024];
	void *ctx = NULL, *sub = NULL;
	struct jw out = { { NULL, 0, 0, 0 }, 0 };
	struct tbuf prom = { NULL, 0, 0, 0 };
	int view, tty, rc = EXIT_OK;
	int64_t next_tick = 0, next_summary = 0;

	parse_opts(argc, argv, &o);
	log_init("monitor", o.verbose);
	view = !o.json && !o.quiet;
	tty = isatty(STDOUT_FILENO);
	if (signals_init() == -1)
		fatalx(EXIT_TEMPFAIL, "pipe: %s", strerror(errno));
	if (o.prometheus != NULL) {
		int prc = prom_start(o.prometheus, o.port_file);
		if (prc == -1) {
			fprintf(stderr,
			        "cp-monitor: --prometheus wants ADDR:PORT (IPv4), not '%s'\n",
			        o.prometheus);
			return EXIT_USAGE;
		}
		if (prc == -2)
			return EXIT_PERMFAIL;
	}
	mon_init(&m);

	if (o.endpoint != NULL)
		snprintf(ep, sizeof(ep), "%s", o.endpoint);
	else if (endpoint_for_db(o.db, ep, sizeof(ep)) == -1) {
		rc = stop_signal ? EXIT_OK : EXIT_PERMFAIL;
		goto out;
	}
	ctx = zmq_ctx_new();
	if (ctx == NULL ||
	    (sub = net_socket(ctx, ZMQ_SUB, ep, 0, o.curve.server_key_file ? &o.curve : NULL)) ==
	        NULL ||
	    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0) == -1) {
		log_warnx("cannot subscribe to %s", ep);
		rc = EXIT_PERMFAIL;
		goto out;
	}
	log_info("attached to %s", ep);
	if (view && tty)
		fputs("\033[?25l\033[2J", stdout);

	while (!stop_signal) {
		int64_t now = time_mono_ms();
		long wait = next_tick > now ? (long)(next_tick - now) : 0;
		zmq_pollitem_t items[2] = {
			{ sub, 0, ZMQ_POLLIN, 0 },
			{ NULL, sig_pipe[0], ZMQ_POLLIN, 0 },
		};

		if (zmq_poll(items, 2, wait) == -1 && zmq_errno() != EINTR) {
			log_warnx("zmq_poll: %s", zmq_strerror(zmq_errno()));
			rc = EXIT_TEMPFAIL;
			break;
		}
		if (items[1].revents & ZMQ_POLLIN)
			drain_signals();
		drain(sub, &m, o.json, &out);
		now = time_mono_ms();
		if (now >= next_tick) {
			char status[1200];
			int cols, rows;
			int64_t idle = now - m.last_event_mono_ms;

			mon_update(&m);
			if (o.json && now >= next_summary) {
				mon_json_summary(&m, &out);
				tb_putn(&out.b, "\n", 1);
				out.comma = 0;
				next_summary = now + SUMMARY_MS;
			}
			if (o.prometheus != NULL) {
				mon_prom_render(&m, &prom);
				prom_publish(&prom);
			}
			if (view) {
				term_size(&cols, &rows);
				if (m.last_event_mono_ms == 0)
					snprintf(status, sizeof(status),
					         "%s  \033[33mno events yet\033[0m", ep);
				else if (idle > STALE_MS)
					snprintf(status, sizeof(status),
					         "%s  \033[33mno events for %llds\033[0m", ep,
					         (long long)(idle / 1000));
				else
					snprintf(status, sizeof(status), "%s  \033[32mlive\033[0m",
					         ep);
				mon_view_render(&m, &out.b, cols, rows, status);
			}
			next_tick = now + TICK_MS;
		}
		if (flush_out(&out.b) == -1)
			break; /* stdout is gone (a closed pipe): nothing left to do */
		if (o.exit_on_finish && m.have_progress && m.p.finished) {
			mon_update(&m);
			if (o.json) {
				mon_json_summary(&m, &out);
				tb_putn(&out.b, "\n", 1);
				out.comma = 0;
			}
			if (view) {
				int cols, rows;
				term_size(&cols, &rows);
				mon_view_render(&m, &out.b, cols, rows, ep);
			}
			flush_out(&out.b);
			break;
		}
	}
	if (stop_signal)
		log_debug("leaving on signal %d", (int)stop_signal);
out:
	if (view && tty)
		fputs("\033[?25h\n", stdout);
	fflush(stdout);
	if (sub != NULL)
		zmq_close(sub);
	if (ctx != NULL)
		zmq_ctx_term(ctx);
	prom_stop();
	tb_free(&out.b);
	tb_free(&prom);
	return rc;
}
