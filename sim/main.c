/*
 * main.c - command line of upbit-sim, the offline Upbit quotation API
 * simulator: `serve` (default), `markets` and `truth`.  Owns option parsing
 * and the exit codes (0 ok, 1 runtime failure, 2 usage error).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define DEFAULT_PORT 8080

static void
usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: upbit-sim [serve] [options]      run the HTTP simulator\n"
	    "       upbit-sim markets [--seed S] [--listed-at T] [--extra-markets N] [--json]\n"
	    "       upbit-sim truth --market M --timeframe TF --from A --to B\n"
	    "                       [--seed S] [--listed-at T] [--extra-markets N]\n"
	    "\n"
	    "serve options:\n"
	    "  --bind ADDR          numeric address to listen on (default 127.0.0.1)\n"
	    "  --port N             TCP port, 0 = pick a free one (default %d)\n"
	    "  --port-file F        write the port to F (atomically) once listening; F must\n"
	    "                       be a regular file or new (a symlink is written through)\n"
	    "  --tls-cert FILE      serve HTTPS (TLS 1.2+) with this PEM certificate chain\n"
	    "  --tls-key FILE       the PEM private key of --tls-cert (both or neither)\n"
	    "  --delist M@T         from time T on, market M answers 404 Code not found and\n"
	    "                       leaves /v1/market/all (repeatable)\n"
	    "  --seed S             data and fault seed (default 1)\n"
	    "  --listed-at T        listing instant of KRW-BERA (default %s)\n"
	    "  --extra-markets N    add N synthetic KRW markets KRW-SIM001.. (0..%d,\n"
	    "                       default 0); give truth and markets the same N\n"
	    "  --rate-limit N       requests/s per (client IP, group), 0 = off (default 10)\n"
	    "  --block-seconds N    first 418 block length, doubles per repeat (default 30)\n"
	    "  --latency-ms MS      added latency per request, +-10%% jitter (default 0)\n"
	    "  --fault-rate P       probability 0..1 of a fault per request (default 0)\n"
	    "  --faults LIST        comma list of 500,502,reset,hang,truncate,garbage\n"
	    "                       or all (default all)\n"
	    "  --hang-ms MS         how long a hang fault holds the connection (default 15000)\n"
	    "  --help               this text\n"
	    "\n"
	    "timeframes: 1s 1m 3m 5m 10m 15m 30m 1h(60m) 4h(240m) 1d 1w 1M 1y\n"
	    "times (--from, --to, --listed-at, --delist): 2025-06-24, 2025-06-24T04:56:53Z,\n"
	    "       2025-06-24T13:56:53+09:00, 2025-06-24 04:56:53, 2025-06-24T04:56,\n"
	    "       2025-06-24T04:56:53.250Z (no offset = UTC; fractions are truncated)\n",
	    DEFAULT_PORT, SIM_DEFAULT_LISTED_AT, SIM_EXTRA_MARKETS_MAX);
}

static int
bad(const char *opt, const char *val, const char *why)
{
	fprintf(stderr, "upbit-sim: invalid --%s '%s': %s\n", opt, val, why);
	fprintf(stderr, "upbit-sim: try 'upbit-sim --help'\n");
	return 2;
}

static int
parse_int(const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int
parse_u64(const char *s, uint64_t *out)
{
	char *end;
	if (*s == '-' || *s == '\0')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int
parse_prob(const char *s, double *out)
{
	char *end;
	errno = 0;
	double p = strtod(s, &end);
	if (errno || end == s || *end != '\0' || !(p >= 0.0 && p <= 1.0))
		return -1;
	*out = p;
	return 0;
}

static int
parse_faults(const char *s, unsigned *mask)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", s);
	*mask = 0;
	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "all") == 0) {
			*mask |= (1u << SFAULT_COUNT) - 1;
			continue;
		}
		int found = 0;
		for (int i = 0; i < SFAULT_COUNT; i++) {
			if (strcmp(tok, sfault_name((enum sfault)i)) == 0) {
				*mask |= 1u << i;
				found = 1;
			}
		}
		if (!found)
			return -1;
	}
	return *mask ? 0 : -1;
}

enum mode { M_SERVE, M_MARKETS, M_TRUTH };
#define IN(m) (1u << (m))
#define ANY_MODE (IN(M_SERVE) | IN(M_MARKETS) | IN(M_TRUTH))

#define MAX_DELIST 32

/* Everything the command line sets. */
struct cli {
	struct ssrv_config sc;
	const char *listed_at, *market, *tfname, *from_s, *to_s;
	const char *tls_cert, *tls_key;
	const char *delist[MAX_DELIST];
	int ndelist;
	int extra_markets;
	int json;
	enum mode mode;
};

enum okind { K_HELP, K_STR, K_FLAG, K_INT, K_U64, K_PROB, K_FAULTS, K_DELIST };

/* One option: where its value goes (offset into struct cli), the modes that
 * accept it, and for numbers the range and the complaint. */
static const struct simopt {
	const char *name;
	enum okind kind;
	unsigned modes;
	size_t off;
	long long lo, hi;
	const char *why;
} sim_opts[] = {
	{ "help", K_HELP, ANY_MODE, 0, 0, 0, NULL }, /* first: -h is sim_opts[0] */
	{ "bind", K_STR, IN(M_SERVE), offsetof(struct cli, sc.bind), 0, 0, NULL },
	{ "port", K_INT, IN(M_SERVE), offsetof(struct cli, sc.port), 0, 65535,
	  "expected 0..65535" },
	{ "port-file", K_STR, IN(M_SERVE), offsetof(struct cli, sc.port_file), 0, 0, NULL },
	{ "seed", K_U64, ANY_MODE, offsetof(struct cli, sc.seed), 0, 0,
	  "expected an unsigned integer" },
	{ "rate-limit", K_INT, IN(M_SERVE), offsetof(struct cli, sc.rate_limit), 0, 1000000,
	  "expected 0..1000000" },
	{ "latency-ms", K_INT, IN(M_SERVE), offsetof(struct cli, sc.latency_ms), 0, 600000,
	  "expected 0..600000" },
	{ "fault-rate", K_PROB, IN(M_SERVE), offsetof(struct cli, sc.fault_rate), 0, 0,
	  "expected a number in 0..1" },
	{ "faults", K_FAULTS, IN(M_SERVE), offsetof(struct cli, sc.faults), 0, 0,
	  "expected a comma list of 500,502,reset,hang,truncate,garbage,all" },
	{ "block-seconds", K_INT, IN(M_SERVE), offsetof(struct cli, sc.block_seconds), 1, 86400,
	  "expected 1..86400" },
	{ "listed-at", K_STR, ANY_MODE, offsetof(struct cli, listed_at), 0, 0, NULL },
	{ "extra-markets", K_INT, ANY_MODE, offsetof(struct cli, extra_markets), 0,
	  SIM_EXTRA_MARKETS_MAX, "expected 0..1000" },
	{ "hang-ms", K_INT, IN(M_SERVE), offsetof(struct cli, sc.hang_ms), 0, 600000,
	  "expected 0..600000" },
	{ "tls-cert", K_STR, IN(M_SERVE), offsetof(struct cli, tls_cert), 0, 0, NULL },
	{ "tls-key", K_STR, IN(M_SERVE), offsetof(struct cli, tls_key), 0, 0, NULL },
	{ "delist", K_DELIST, IN(M_SERVE), 0, 0, 0, "at most 32 --delist options" },
	{ "json", K_FLAG, IN(M_MARKETS), offsetof(struct cli, json), 0, 0, NULL },
	{ "market", K_STR, IN(M_TRUTH), offsetof(struct cli, market), 0, 0, NULL },
	{ "timeframe", K_STR, IN(M_TRUTH), offsetof(struct cli, tfname), 0, 0, NULL },
	{ "from", K_STR, IN(M_TRUTH), offsetof(struct cli, from_s), 0, 0, NULL },
	{ "to", K_STR, IN(M_TRUTH), offsetof(struct cli, to_s), 0, 0, NULL },
};
#define N_OPTS (sizeof(sim_opts) / sizeof(sim_opts[0]))
#define OPT_BASE 256 /* getopt value of sim_opts[i]: OPT_BASE + i */

/* Stores arg as o's value in c: 0, or -1 if arg is not a valid value.
 * --help prints the usage and exits 0. */
static int
opt_store(struct cli *c, const struct simopt *o, const char *arg)
{
	void *dst = (char *)c + o->off;
	long long v;

	switch (o->kind) {
	case K_FLAG: *(int *)dst = 1; return 0;
	case K_INT:
		if (parse_int(arg, o->lo, o->hi, &v))
			return -1;
		*(int *)dst = (int)v;
		return 0;
	case K_U64: return parse_u64(arg, dst);
	case K_PROB: return parse_prob(arg, dst);
	case K_FAULTS: return parse_faults(arg, dst);
	case K_HELP: usage(stdout); exit(0);
	case K_DELIST:
		if (c->ndelist == MAX_DELIST)
			return -1;
		c->delist[c->ndelist++] = arg;
		return 0;
	case K_STR: break;
	}
	*(const char **)dst = arg;
	return 0;
}

/* The getopt table of sim_opts. */
static const struct option *
long_opts(void)
{
	static struct option lo[N_OPTS + 1];

	for (size_t i = 0; i < N_OPTS; i++) {
		lo[i].name = sim_opts[i].name;
		lo[i].has_arg = sim_opts[i].kind == K_HELP || sim_opts[i].kind == K_FLAG
		                    ? no_argument
		                    : required_argument;
		lo[i].val = OPT_BASE + (int)i;
	}
	return lo;
}

static int
opt_error(const char *arg)
{
	if (optopt)
		fprintf(stderr, "upbit-sim: option needs a value or is unknown: %s\n", arg);
	else
		fprintf(stderr, "upbit-sim: unknown option %s\n", arg);
	fprintf(stderr, "upbit-sim: try 'upbit-sim --help'\n");
	return 2;
}

/* The options after the command: -1 to go on, or the exit code. */
static int
parse_opts(int argc, char **argv, struct cli *c)
{
	const struct option *lo = long_opts();
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		const struct simopt *o;

		if (opt == 'h')
			opt = OPT_BASE; /* --help */
		if (opt < OPT_BASE)
			return opt_error(argv[optind - 1]);
		o = &sim_opts[opt - OPT_BASE];
		if (!(o->modes & IN(c->mode))) {
			fprintf(stderr, "upbit-sim: option --%s not valid here\n", o->name);
			return 2;
		}
		if (opt_store(c, o, optarg) == -1)
			return bad(o->name, optarg, o->why);
	}
	if (optind < argc) {
		fprintf(stderr, "upbit-sim: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	return -1;
}

static void
print_markets(int json)
{
	char when[20];
	if (json)
		printf("[");
	else
		printf("%-10s %-12s %-20s %-16s %s\n", "MARKET", "LIQUIDITY", "LISTED_AT_UTC",
		       "TICK", "ENGLISH_NAME");
	for (int i = 0; i < sgen_market_count(); i++) {
		const struct smarket *m = sgen_market(i);
		char tick[48];
		*sfmt_fixed(tick, m->tick_e8, 8) = '\0';
		/* trim trailing zeros of the tick for readability */
		char *e = tick + strlen(tick) - 1;
		while (*e == '0')
			*e-- = '\0';
		if (*e == '.')
			*e = '\0';
		*stime_put_iso(when, m->listed_ms / 1000) = '\0';
		if (json)
			printf("%s{\"market\":\"%s\",\"liquidity\":\"%s\",\"listed_at\":\"%sZ\","
			       "\"recent\":%s,\"tick\":%s,\"korean_name\":\"%s\","
			       "\"english_name\":\"%s\"}",
			       i ? "," : "", m->code, sliq_name(m->liq), when,
			       m->recent ? "true" : "false", tick, m->korean_name, m->english_name);
		else
			printf("%-10s %-12s %-20s %-16s %s%s\n", m->code, sliq_name(m->liq), when,
			       tick, m->english_name, m->recent ? " (recent listing)" : "");
	}
	if (json)
		printf("]\n");
}

static int
run_truth(const char *market, const char *tfname, int64_t from_ms, int64_t to_ms)
{
	enum stf tf;
	const struct smarket *m = sgen_find_market(market);
	if (m == NULL) {
		fprintf(stderr, "upbit-sim: unknown market '%s'\n", market);
		return 2;
	}
	if (stf_parse(tfname, &tf) != 0)
		return bad("timeframe", tfname,
		           "expected 1s 1m 3m 5m 10m 15m 30m 1h 4h 1d 1w 1M 1y");
	int64_t now_ms = stime_now_ms();
	int64_t s = stf_floor(tf, from_ms >= 0 ? from_ms / 1000 : -((-from_ms + 999) / 1000));
	if (s * 1000 < from_ms)
		s = stf_next(tf, s);
	int64_t lb = sgen_lower_bound(m, tf, now_ms);
	if (s < lb)
		s = lb;
	char buf[SGEN_JSON_MAX + 1];
	for (; s * 1000 < to_ms; s = stf_next(tf, s)) {
		if (stf_next(tf, s) * 1000 > now_ms)
			break; /* only closed candles */
		if (!sgen_nonempty(m, tf, s, now_ms))
			continue;
		size_t n = sgen_format(m, tf, s, now_ms, 0, buf);
		buf[n++] = '\n';
		if (fwrite(buf, 1, n, stdout) != n)
			return 1;
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

/* The command word, if any: 1 if argv[1] was one, 0 if not, -1 if unknown. */
static int
parse_command(int argc, char **argv, enum mode *mode)
{
	static const char *const names[] = { "serve", "markets", "truth" };

	if (argc < 2 || argv[1][0] == '-')
		return 0;
	for (int i = 0; i < 3; i++) {
		if (strcmp(argv[1], names[i]) == 0) {
			*mode = (enum mode)i;
			return 1;
		}
	}
	fprintf(stderr, "upbit-sim: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return -1;
}

static int
truth_cmd(const struct cli *c)
{
	int64_t a, b;

	if (c->market == NULL || c->tfname == NULL || c->from_s == NULL || c->to_s == NULL) {
		fprintf(stderr, "upbit-sim: truth needs --market, --timeframe, --from and --to\n");
		return 2;
	}
	if (stime_parse_user(c->from_s, &a) != 0)
		return bad("from", c->from_s, "expected an ISO time like 2026-01-31T09:00:00Z");
	if (stime_parse_user(c->to_s, &b) != 0)
		return bad("to", c->to_s, "expected an ISO time like 2026-01-31T09:00:00Z");
	return run_truth(c->market, c->tfname, a, b);
}

/* --delist M@T, after sgen_init: -1, or the exit code of a bad one. */
static int
apply_delists(const struct cli *c)
{
	for (int i = 0; i < c->ndelist; i++) {
		char code[64];
		const char *at = strchr(c->delist[i], '@');
		int64_t t;

		if (at == NULL || (size_t)(at - c->delist[i]) >= sizeof(code) ||
		    stime_parse_user(at + 1, &t) != 0)
			return bad("delist", c->delist[i],
			           "expected MARKET@TIME like KRW-ZIL@2026-11-20T10:00:00Z");
		memcpy(code, c->delist[i], (size_t)(at - c->delist[i]));
		code[at - c->delist[i]] = '\0';
		if (sgen_delist(code, t) != 0)
			return bad("delist", c->delist[i],
			           "no such market (see upbit-sim markets)");
	}
	return -1;
}

/* The TLS files and the port file's target, before serving: -1 to go on,
 * or the exit code. */
static int
prepare_serve(struct cli *c)
{
	static char port_target[PATH_MAX];

	if ((c->tls_cert == NULL) != (c->tls_key == NULL)) {
		fprintf(stderr, "upbit-sim: --tls-cert and --tls-key go together\n");
		return 2;
	}
	if (c->tls_cert != NULL &&
	    ((c->sc.tls_cert_pem = sfile_read(c->tls_cert, 1 << 20)) == NULL ||
	     (c->sc.tls_key_pem = sfile_read(c->tls_key, 1 << 20)) == NULL)) {
		const char *f = c->sc.tls_cert_pem == NULL ? c->tls_cert : c->tls_key;

		fprintf(stderr, "upbit-sim: cannot read %s: %s\n", f, strerror(errno));
		return 2;
	}
	if (c->sc.port_file != NULL) {
		if (sfile_target(c->sc.port_file, port_target, sizeof(port_target)) != 0)
			return 2;
		c->sc.port_file = port_target;
	}
	return -1;
}

static int
serve_cmd(struct cli *c)
{
	int rc = prepare_serve(c);

	if (rc == -1)
		rc = ssrv_run(&c->sc);
	free(c->sc.tls_cert_pem);
	free(c->sc.tls_key_pem);
	return rc;
}

int
main(int argc, char **argv)
{
	struct cli c = {
		.sc = {
			.bind = "127.0.0.1",
			.port = DEFAULT_PORT,
			.seed = 1,
			.rate_limit = 10,
			.faults = (1u << SFAULT_COUNT) - 1,
			.block_seconds = 30,
			.hang_ms = 15000,
		},
		.listed_at = SIM_DEFAULT_LISTED_AT,
		.mode = M_SERVE,
	};
	struct sgen_config gc = { 0 };
	int shift = parse_command(argc, argv, &c.mode), rc;

	if (shift == -1)
		return 2;
	if ((rc = parse_opts(argc - shift, argv + shift, &c)) != -1)
		return rc;
	gc.seed = c.sc.seed;
	gc.extra_markets = c.extra_markets;
	if (stime_parse_user(c.listed_at, &gc.recent_listed_ms) != 0)
		return bad("listed-at", c.listed_at,
		           "expected an ISO time like 2026-11-01T00:00:00Z");
	sgen_init(&gc);
	if ((rc = apply_delists(&c)) != -1)
		return rc;
	switch (c.mode) {
	case M_MARKETS: print_markets(c.json); return 0;
	case M_TRUTH: return truth_cmd(&c);
	default: return serve_cmd(&c);
	}
}
