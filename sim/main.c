/*
 * main.c - command line of upbit-sim, the offline Upbit quotation API
 * simulator: `serve` (default), `markets` and `truth`.  Owns option parsing
 * and the exit codes (0 ok, 1 runtime failure, 2 usage error).
 */
#include <errno.h>
#include <getopt.h>
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
	    "       upbit-sim markets [--seed S] [--listed-at T] [--json]\n"
	    "       upbit-sim truth --market M --timeframe TF --from A --to B\n"
	    "                       [--seed S] [--listed-at T]\n"
	    "\n"
	    "serve options:\n"
	    "  --bind ADDR          numeric address to listen on (default 127.0.0.1)\n"
	    "  --port N             TCP port, 0 = pick a free one (default %d)\n"
	    "  --port-file F        write the port to F (atomically) once listening\n"
	    "  --seed S             data and fault seed (default 1)\n"
	    "  --listed-at T        listing instant of KRW-BERA (default %s)\n"
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
	    "times: 2025-06-24T04:56:53Z, 2025-06-24T13:56:53+09:00, 2025-06-24 04:56:53,\n"
	    "       2025-06-24T04:56:53.000Z (no offset = UTC)\n",
	    DEFAULT_PORT, SIM_DEFAULT_LISTED_AT);
}

static int
bad(const char *opt, const char *val, const char *why)
{
	fprintf(stderr, "upbit-sim: invalid %s '%s': %s\n", opt, val, why);
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

enum {
	O_BIND = 256,
	O_PORT,
	O_PORT_FILE,
	O_SEED,
	O_RATE,
	O_LAT,
	O_FRATE,
	O_FAULTS,
	O_BLOCK,
	O_LISTED,
	O_HANG,
	O_HELP,
	O_JSON,
	O_MARKET,
	O_TF,
	O_FROM,
	O_TO
};

static const struct option long_opts[] = {
	{ "bind", required_argument, NULL, O_BIND },
	{ "port", required_argument, NULL, O_PORT },
	{ "port-file", required_argument, NULL, O_PORT_FILE },
	{ "seed", required_argument, NULL, O_SEED },
	{ "rate-limit", required_argument, NULL, O_RATE },
	{ "latency-ms", required_argument, NULL, O_LAT },
	{ "fault-rate", required_argument, NULL, O_FRATE },
	{ "faults", required_argument, NULL, O_FAULTS },
	{ "block-seconds", required_argument, NULL, O_BLOCK },
	{ "listed-at", required_argument, NULL, O_LISTED },
	{ "hang-ms", required_argument, NULL, O_HANG },
	{ "help", no_argument, NULL, O_HELP },
	{ "json", no_argument, NULL, O_JSON },
	{ "market", required_argument, NULL, O_MARKET },
	{ "timeframe", required_argument, NULL, O_TF },
	{ "from", required_argument, NULL, O_FROM },
	{ "to", required_argument, NULL, O_TO },
	{ NULL, 0, NULL, 0 },
};

enum mode { M_SERVE, M_MARKETS, M_TRUTH };

/* which options each mode accepts */
static int
allowed(enum mode mode, int opt)
{
	switch (opt) {
	case O_SEED:
	case O_LISTED:
	case O_HELP: return 1;
	case O_JSON: return mode == M_MARKETS;
	case O_MARKET:
	case O_TF:
	case O_FROM:
	case O_TO: return mode == M_TRUTH;
	default: return mode == M_SERVE;
	}
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
		return bad("--timeframe", tfname,
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

int
main(int argc, char **argv)
{
	struct ssrv_config sc = {
		.bind = "127.0.0.1",
		.port = DEFAULT_PORT,
		.seed = 1,
		.rate_limit = 10,
		.faults = (1u << SFAULT_COUNT) - 1,
		.block_seconds = 30,
		.hang_ms = 15000,
	};
	const char *listed_at = SIM_DEFAULT_LISTED_AT;
	const char *market = NULL, *tfname = NULL, *from_s = NULL, *to_s = NULL;
	int json = 0;
	enum mode mode = M_SERVE;
	long long v;
	int opt;

	if (argc > 1 && argv[1][0] != '-') {
		if (strcmp(argv[1], "serve") == 0)
			mode = M_SERVE;
		else if (strcmp(argv[1], "markets") == 0)
			mode = M_MARKETS;
		else if (strcmp(argv[1], "truth") == 0)
			mode = M_TRUTH;
		else {
			fprintf(stderr, "upbit-sim: unknown command '%s'\n", argv[1]);
			usage(stderr);
			return 2;
		}
		argv++;
		argc--;
	}
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		if (opt == 'h')
			opt = O_HELP;
		if (opt == '?' || opt == ':') {
			if (optopt)
				fprintf(stderr,
				        "upbit-sim: option needs a value or is unknown: %s\n",
				        argv[optind - 1]);
			else
				fprintf(stderr, "upbit-sim: unknown option %s\n", argv[optind - 1]);
			fprintf(stderr, "upbit-sim: try 'upbit-sim --help'\n");
			return 2;
		}
		if (!allowed(mode, opt)) {
			fprintf(stderr, "upbit-sim: option %s not valid here\n", argv[optind - 1]);
			return 2;
		}
		switch (opt) {
		case O_HELP: usage(stdout); return 0;
		case O_BIND: sc.bind = optarg; break;
		case O_PORT:
			if (parse_int(optarg, 0, 65535, &v))
				return bad("--port", optarg, "expected 0..65535");
			sc.port = (int)v;
			break;
		case O_PORT_FILE: sc.port_file = optarg; break;
		case O_SEED:
			if (parse_u64(optarg, &sc.seed))
				return bad("--seed", optarg, "expected an unsigned integer");
			break;
		case O_RATE:
			if (parse_int(optarg, 0, 1000000, &v))
				return bad("--rate-limit", optarg, "expected 0..1000000");
			sc.rate_limit = (int)v;
			break;
		case O_LAT:
			if (parse_int(optarg, 0, 600000, &v))
				return bad("--latency-ms", optarg, "expected 0..600000");
			sc.latency_ms = (int)v;
			break;
		case O_HANG:
			if (parse_int(optarg, 0, 600000, &v))
				return bad("--hang-ms", optarg, "expected 0..600000");
			sc.hang_ms = (int)v;
			break;
		case O_BLOCK:
			if (parse_int(optarg, 1, 86400, &v))
				return bad("--block-seconds", optarg, "expected 1..86400");
			sc.block_seconds = (int)v;
			break;
		case O_FRATE: {
			char *end;
			errno = 0;
			double p = strtod(optarg, &end);
			if (errno || end == optarg || *end != '\0' || !(p >= 0.0 && p <= 1.0))
				return bad("--fault-rate", optarg, "expected a number in 0..1");
			sc.fault_rate = p;
			break;
		}
		case O_FAULTS:
			if (parse_faults(optarg, &sc.faults))
				return bad(
				    "--faults", optarg,
				    "expected a comma list of 500,502,reset,hang,truncate,garbage,all");
			break;
		case O_LISTED: listed_at = optarg; break;
		case O_JSON: json = 1; break;
		case O_MARKET: market = optarg; break;
		case O_TF: tfname = optarg; break;
		case O_FROM: from_s = optarg; break;
		case O_TO: to_s = optarg; break;
		default: return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "upbit-sim: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}

	struct sgen_config gc = { .seed = sc.seed };
	if (stime_parse(listed_at, &gc.recent_listed_ms) != 0)
		return bad("--listed-at", listed_at,
		           "expected an ISO time like 2026-11-01T00:00:00Z");
	sgen_init(&gc);

	switch (mode) {
	case M_MARKETS: print_markets(json); return 0;
	case M_TRUTH: {
		int64_t a, b;
		if (market == NULL || tfname == NULL || from_s == NULL || to_s == NULL) {
			fprintf(stderr,
			        "upbit-sim: truth needs --market, --timeframe, --from and --to\n");
			return 2;
		}
		if (stime_parse(from_s, &a) != 0)
			return bad("--from", from_s, "expected an ISO time");
		if (stime_parse(to_s, &b) != 0)
			return bad("--to", to_s, "expected an ISO time");
		return run_truth(market, tfname, a, b);
	}
	default: return ssrv_run(&sc);
	}
}
