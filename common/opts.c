/*
 * opts.c: the table-driven option parser (opts.h). Builds getopt_long's
 * tables from a struct opt table, then converts each argument into its
 * destination with the kind's range check and message.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "opts.h"

#define OPTS_MAX 48
#define LONG_ONLY_BASE 256 /* getopt_long's value of table entry i: base + i */

static int
takes_arg(enum opt_kind k)
{
	return k != OPT_SET && k != OPT_FLAG && k != OPT_HELP;
}

/* a whole number in [o->min, o->max] into *v; -1 with the message */
static int
whole(const char *prog, const struct opt *o, const char *arg, long long *v)
{
	char *end;

	errno = 0;
	*v = strtoll(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || *v < (long long)o->min ||
	    *v > (long long)o->max) {
		fprintf(stderr, "%s: --%s must be a whole number from %.0f to %.0f, not '%s'\n",
		        prog, o->name, o->min, o->max, arg);
		return -1;
	}
	return 0;
}

static int
number(const char *prog, const struct opt *o, const char *arg, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(arg, &end);
	if (errno != 0 || end == arg || *end != '\0' || !isfinite(*v) || *v < o->min ||
	    *v > o->max) {
		fprintf(stderr, "%s: --%s must be a number from %g to %g, not '%s'\n", prog,
		        o->name, o->min, o->max, arg);
		return -1;
	}
	return 0;
}

/* one option's argument (NULL if it takes none) into its destination */
static int
apply(const char *prog, const struct opt *o, const char *arg, void (*usage)(FILE *))
{
	long long ll;
	double d;

	switch (o->kind) {
	case OPT_STR: *(const char **)o->dest = arg; return 0;
	case OPT_SET: *(int *)o->dest = o->value; return 0;
	case OPT_INT:
		if (whole(prog, o, arg, &ll) == -1)
			return -1;
		*(int *)o->dest = (int)ll;
		return 0;
	case OPT_I64:
		if (whole(prog, o, arg, &ll) == -1)
			return -1;
		*(int64_t *)o->dest = ll;
		return 0;
	case OPT_NUM:
		if (number(prog, o, arg, &d) == -1)
			return -1;
		*(double *)o->dest = d;
		return 0;
	case OPT_FN:
	case OPT_FLAG: return o->fn(arg, o->dest);
	case OPT_HELP: usage(stdout); exit(EXIT_OK);
	case OPT_END: break;
	}
	return -1;
}

int
opts_parse(const char *prog, int argc, char **argv, const struct opt *table, void (*usage)(FILE *))
{
	struct option lo[OPTS_MAX + 1];
	char shorts[2 * OPTS_MAX + 2], *s = shorts, *argv0;
	int n, c, i;

	for (n = 0; table[n].kind != OPT_END; n++) {
		if (n == OPTS_MAX) {
			fprintf(stderr, "%s: more than %d options\n", prog, OPTS_MAX);
			return -1;
		}
		lo[n] = (struct option){ table[n].name,
			                 takes_arg(table[n].kind) ? required_argument : no_argument,
			                 NULL, LONG_ONLY_BASE + n };
		if (table[n].short_name != 0) {
			*s++ = table[n].short_name;
			if (takes_arg(table[n].kind))
				*s++ = ':';
		}
	}
	lo[n] = (struct option){ NULL, 0, NULL, 0 };
	*s = '\0';
	/* getopt's own messages start with argv[0]: the program's name, not
	 * the path it was started by */
	argv0 = argv[0];
	argv[0] = (char *)prog;
	while ((c = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
		for (i = 0; i < n && c != LONG_ONLY_BASE + i && c != table[i].short_name; i++)
			;
		if (c == '?' || i == n || apply(prog, &table[i], optarg, usage) == -1) {
			argv[0] = argv0;
			return -1;
		}
	}
	argv[0] = argv0;
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
		return -1;
	}
	return 0;
}

const char *
opts_launcher(void)
{
	const char *l = getenv("CP_LAUNCHER");

	return l != NULL && *l != '\0' ? l : "./run.sh";
}

void
opts_fputs(const char *text, FILE *f)
{
	static const char tok[] = "./run.sh";
	const char *p;

	while ((p = strstr(text, tok)) != NULL) {
		fwrite(text, 1, (size_t)(p - text), f);
		fputs(opts_launcher(), f);
		text = p + sizeof(tok) - 1;
	}
	fputs(text, f);
}
