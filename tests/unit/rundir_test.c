/*
 * rundir_test.c: the run directory of a collection from its --db
 * (common/rundir.c): SHA-1 against known digests (one and two padding
 * blocks, several message blocks), `realpath -m` semantics of the absolute
 * path (missing files, "." and "..", symlinks, relative paths, a deleted
 * working directory), and the name run.sh used to compute itself.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "rundir.h"

static char dir[PATH_MAX]; /* a fresh directory, symlinks resolved */

static int
setup(void **state)
{
	char tmpl[] = "/tmp/rundir_test.XXXXXX";

	(void)state;
	if (mkdtemp(tmpl) == NULL || realpath(tmpl, dir) == NULL)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_sha1(void **state)
{
	char hex[41], a56[57], b130[131];

	(void)state;
	rundir_sha1_hex("", hex);
	assert_string_equal(hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	rundir_sha1_hex("abc", hex);
	assert_string_equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
	memset(a56, 'a', 56); /* the length no longer fits the first padding block */
	a56[56] = '\0';
	rundir_sha1_hex(a56, hex);
	assert_string_equal(hex, "c2db330f6083854c99d4b5bfb6e8f29f201be699");
	memset(b130, 'b', 130); /* two whole blocks, then the rest */
	b130[130] = '\0';
	rundir_sha1_hex(b130, hex);
	assert_string_equal(hex, "9aec7f62e945657b6b0af7e1171c578a7fe3b876");
}

/* rundir_abs_path(in) == dir + want */
static void
assert_abs(const char *in, const char *want)
{
	char out[PATH_MAX], exp[PATH_MAX * 2];

	snprintf(exp, sizeof(exp), "%s%s", dir, want);
	assert_int_equal(rundir_abs_path(in, out), 0);
	assert_string_equal(out, exp);
}

static void
test_abs_path(void **state)
{
	char in[PATH_MAX * 2], out[PATH_MAX], cwd[PATH_MAX];

	(void)state;
	snprintf(in, sizeof(in), "%s/sub", dir);
	assert_int_equal(mkdir(in, 0700), 0);
	snprintf(in, sizeof(in), "%s/link", dir);
	assert_int_equal(symlink("sub", in), 0);

	/* an existing path: realpath itself */
	snprintf(in, sizeof(in), "%s/./sub", dir);
	assert_abs(in, "/sub");
	/* missing parts after the existing prefix, "." and ".." folded */
	snprintf(in, sizeof(in), "%s/sub/new/./x/../c.db", dir);
	assert_abs(in, "/sub/new/c.db");
	/* a symlink in the existing prefix is resolved */
	snprintf(in, sizeof(in), "%s//link/data/c.db", dir);
	assert_abs(in, "/sub/data/c.db");
	/* ".." above the root stays at the root; nothing of it exists */
	assert_int_equal(rundir_abs_path("/../../no-such-dir-cp/./x.db", out), 0);
	assert_string_equal(out, "/no-such-dir-cp/x.db");
	assert_int_equal(rundir_abs_path("/..", out), 0);
	assert_string_equal(out, "/");

	/* relative to the working directory */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(dir), 0);
	assert_abs("link/../sub/missing.db", "/sub/missing.db");
	/* a path too long to be absolute */
	memset(in, 'x', PATH_MAX - 2);
	in[PATH_MAX - 2] = '\0';
	assert_int_equal(rundir_abs_path(in, out), -1);
	memset(in, 'x', PATH_MAX + 8);
	in[0] = '/';
	in[PATH_MAX + 8] = '\0';
	assert_int_equal(rundir_abs_path(in, out), -1);
	/* a working directory that was removed has no absolute name */
	snprintf(in, sizeof(in), "%s/gone", dir);
	assert_int_equal(mkdir(in, 0700), 0);
	assert_int_equal(chdir(in), 0);
	assert_int_equal(rmdir(in), 0);
	assert_int_equal(rundir_abs_path("c.db", out), -1);
	assert_int_equal(chdir(cwd), 0);
}

static void
test_run_dir(void **state)
{
	char abs[PATH_MAX], rd[PATH_MAX + 64], small[16], longp[PATH_MAX + 8];

	(void)state;
	/* run.sh used: /tmp/cp-$(printf %s "$(realpath -m DB)" | sha1sum | cut -c1-12) */
	assert_int_equal(rundir_for("/tmp/cp-test/./candles.db", abs, rd, sizeof(rd)), 0);
	assert_string_equal(abs, "/tmp/cp-test/candles.db");
	assert_string_equal(rd, "/tmp/cp-80caecde4e65");
	/* a name that does not fit is an error, not a truncated directory */
	assert_int_equal(rundir_for("/tmp/cp-test/./candles.db", abs, small, sizeof(small)), -1);
	/* a path that cannot be made absolute has no run directory */
	memset(longp, 'x', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	longp[0] = '/';
	assert_int_equal(rundir_for(longp, abs, rd, sizeof(rd)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha1),
		cmocka_unit_test(test_abs_path),
		cmocka_unit_test(test_run_dir),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
