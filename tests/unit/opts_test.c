/* opts_test.c: the table-driven option parser (common/opts.c). */
#include <getopt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "opts.h"

struct dest {
	const char *db;
	int quiet, inflight, fn_calls, flag_calls;
	int64_t count;
	double rate;
};

static int
fn_even(const char *arg, void *dest)
{
	struct dest *d = dest;

	d->fn_calls++;
	return (strlen(arg) % 2 == 0) ? 0 : -1;
}

static int
fn_flag(const char *arg, void *dest)
{
	assert_null(arg);
	((struct dest *)dest)->flag_calls++;
	return 0;
}

static void
no_usage(FILE *f)
{
	(void)f;
	fail_msg("usage() called");
}

/* parses the words of line (space separated, at most 15) with the table */
static int
parse(struct dest *d, const char *line)
{
	static char buf[256];
	char *argv[16], *w;
	int argc = 0;
	const struct opt table[] = {
		{ "db", 0, OPT_STR, &d->db, 0, 0, 0, NULL },
		{ "quiet", 'q', OPT_SET, &d->quiet, 0, 0, 7, NULL },
		{ "max-inflight", 0, OPT_INT, &d->inflight, 1, 64, 0, NULL },
		{ "count", 'c', OPT_I64, &d->count, 1, 100000000, 0, NULL },
		{ "rate", 0, OPT_NUM, &d->rate, 0, 10000, 0, NULL },
		{ "even", 0, OPT_FN, d, 0, 0, 0, fn_even },
		{ "flag", 0, OPT_FLAG, d, 0, 0, 0, fn_flag },
		{ "help", 'h', OPT_HELP, NULL, 0, 0, 0, NULL },
		{ NULL, 0, OPT_END, NULL, 0, 0, 0, NULL },
	};

	memset(d, 0, sizeof(*d));
	snprintf(buf, sizeof(buf), "prog %s", line);
	for (w = strtok(buf, " "); w != NULL && argc < 15; w = strtok(NULL, " "))
		argv[argc++] = w;
	argv[argc] = NULL;
	optind = 0; /* glibc: full re-initialisation between parses */
	opterr = 0;
	return opts_parse("prog", argc, argv, table, no_usage);
}

static void
t_every_kind(void **state)
{
	struct dest d;

	(void)state;
	assert_int_equal(parse(&d, "--db x.db -q --max-inflight 64 -c 100000000 --rate 2.5 "
	                           "--even ab --flag"),
	                 0);
	assert_string_equal(d.db, "x.db");
	assert_int_equal(d.quiet, 7);
	assert_int_equal(d.inflight, 64);
	assert_int_equal(d.count, 100000000);
	assert_true(d.rate == 2.5);
	assert_int_equal(d.fn_calls, 1);
	assert_int_equal(d.flag_calls, 1);
	assert_int_equal(parse(&d, "--count=7 --rate=0"), 0);
	assert_int_equal(d.count, 7);
	assert_true(d.rate == 0);
}

static void
t_out_of_range_and_malformed(void **state)
{
	struct dest d;

	(void)state;
	assert_int_equal(parse(&d, "--max-inflight 0"), -1);
	assert_int_equal(parse(&d, "--max-inflight 65"), -1);
	assert_int_equal(parse(&d, "--max-inflight 3x"), -1);
	assert_int_equal(parse(&d, "--max-inflight 99999999999999999999"), -1);
	assert_int_equal(parse(&d, "--count 0"), -1);
	assert_int_equal(parse(&d, "--rate -1"), -1);
	assert_int_equal(parse(&d, "--rate nan"), -1);
	assert_int_equal(parse(&d, "--rate inf"), -1);
	assert_int_equal(parse(&d, "--rate 10001"), -1);
	assert_int_equal(d.rate, 0); /* nothing stored from a refused argument */
}

static void
t_refusals(void **state)
{
	struct dest d;

	(void)state;
	assert_int_equal(parse(&d, "--even abc"), -1); /* the callback's refusal */
	assert_int_equal(d.fn_calls, 1);
	assert_int_equal(parse(&d, "--nope"), -1); /* unknown option */
	assert_int_equal(parse(&d, "--db"), -1);   /* missing argument */
	assert_int_equal(parse(&d, "-x"), -1);     /* unknown short option */
	assert_int_equal(parse(&d, "--db a operand"), -1);
	assert_int_equal(parse(&d, "--quiet=1"), -1); /* no argument allowed */
}

static void
t_messages(void **state)
{
	struct dest d;
	char msg[256] = "";
	FILE *f = tmpfile();
	int saved = dup(2);

	(void)state;
	assert_non_null(f);
	dup2(fileno(f), 2);
	parse(&d, "--max-inflight 0");
	parse(&d, "--rate x");
	parse(&d, "--db a b");
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	assert_true(fread(msg, 1, sizeof(msg) - 1, f) > 0);
	fclose(f);
	assert_string_equal(msg,
	                    "prog: --max-inflight must be a whole number from 1 to 64, not '0'\n"
	                    "prog: --rate must be a number from 0 to 10000, not 'x'\n"
	                    "prog: unexpected argument 'b'\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_every_kind),
		cmocka_unit_test(t_out_of_range_and_malformed),
		cmocka_unit_test(t_refusals),
		cmocka_unit_test(t_messages),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
