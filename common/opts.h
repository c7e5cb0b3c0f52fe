/*
 * opts.h: table-driven command-line parsing for every process's options.
 * A program declares its options as a table of struct opt; opts_parse()
 * runs getopt_long over it, converts and range-checks each argument into
 * its destination, and prints one uniform message for a bad one:
 *   PROG: --NAME must be a whole number from MIN to MAX, not 'ARG'
 * The program keeps only its defaults (set before the call) and its
 * cross-option checks (after it).
 */
#ifndef CP_OPTS_H
#define CP_OPTS_H

#include <stdint.h>
#include <stdio.h>

enum opt_kind {
	OPT_END,  /* terminates the table */
	OPT_STR,  /* const char **dest = the argument */
	OPT_SET,  /* int *dest = value; takes no argument */
	OPT_INT,  /* int *dest = the argument, a whole number in [min, max] */
	OPT_I64,  /* int64_t *dest = the argument, a whole number in [min, max] */
	OPT_NUM,  /* double *dest = the argument, a number in [min, max] */
	OPT_FN,   /* fn(argument, dest) converts; -1 = refused (fn printed why) */
	OPT_FLAG, /* fn(NULL, dest) for an option without argument; -1 = refused */
	OPT_HELP, /* prints the usage to stdout and exits 0 */
};

struct opt {
	const char *name; /* the long name, without "--" */
	char short_name;  /* 0: long only */
	enum opt_kind kind;
	void *dest;
	double min, max; /* OPT_INT, OPT_I64, OPT_NUM: the accepted range */
	int value;       /* OPT_SET: the value stored */
	int (*fn)(const char *arg, void *dest);
};

/*
 * Parses argv[1..] against table (ended by an OPT_END entry). Operands
 * (arguments that are not options) are refused. usage(stdout) serves
 * OPT_HELP. Returns 0, or -1 after a message on stderr that starts with
 * prog (getopt's own for unknown options and missing arguments).
 */
int opts_parse(const char *prog, int argc, char **argv, const struct opt *table,
               void (*usage)(FILE *));

/* The command a user types to run us: $CP_LAUNCHER (run.sh sets it:
 * "./run.sh" in a checkout, "candlepipe" when installed), else "./run.sh". */
const char *opts_launcher(void);
/* fputs(text, f) with every "./run.sh" in text written as opts_launcher(),
 * so that a usage text names the command the user has. */
void opts_fputs(const char *text, FILE *f);

#endif
