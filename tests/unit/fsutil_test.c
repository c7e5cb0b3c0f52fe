/*
 * fsutil_test.c: the rule for written files (common/fsutil.c): what is
 * refused (a directory, devices, a FIFO, a socket, a symlink loop), what
 * symlinks lead to (the file they point at is replaced, the link stays),
 * never overwriting with FS_NOREPLACE, the permission bits of a replaced
 * file, and that a failed write leaves the target as it was and no
 * temporary file behind.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "fsutil.h"

static char dir[64];

/* dir/name into out. */
static const char *
at(char out[PATH_MAX], const char *name)
{
	snprintf(out, PATH_MAX, "%s/%s", dir, name);
	return out;
}

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/fsutil_test.XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

/* Removes dir and all it holds, symlinks as themselves. */
static int
teardown(void **state)
{
	(void)state;
	return nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Entries in dir (without . and ..). */
static int
entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void
put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void
assert_text(const char *path, const char *want)
{
	char got[256] = "";
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(got, 1, sizeof(got) - 1, f);
	got[n] = '\0';
	fclose(f);
	assert_string_equal(got, want);
}

/* fs_check_output's status and reason for path. */
static enum fs_status
check(const char *path, char *err)
{
	char target[PATH_MAX];

	err[0] = '\0';
	return fs_check_output(path, target, err, FS_ERR_MAX);
}

static void
test_refused_types(void **state)
{
	char p[PATH_MAX], err[FS_ERR_MAX];
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int s;

	(void)state;
	assert_int_equal(check(dir, err), FS_NOT_REGULAR);
	assert_string_equal(err, "not a regular file (a directory)");
	assert_int_equal(check("/dev/null", err), FS_NOT_REGULAR);
	assert_string_equal(err, "not a regular file (a character device)");
	assert_int_equal(mkfifo(at(p, "fifo"), 0600), 0);
	assert_int_equal(check(p, err), FS_NOT_REGULAR);
	assert_string_equal(err, "not a regular file (a FIFO)");
	assert_true(strlen(at(p, "sock")) < sizeof(sun.sun_path));
	memcpy(sun.sun_path, p, strlen(p) + 1);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(check(p, err), FS_NOT_REGULAR);
	assert_string_equal(err, "not a regular file (a socket)");
	close(s);
	/* a symlink to a device is the device */
	assert_int_equal(symlink("/dev/full", at(p, "full")), 0);
	assert_int_equal(check(p, err), FS_NOT_REGULAR);
	assert_string_equal(err, "not a regular file (a character device)");
	/* and nothing was written by writing to any of them */
	assert_int_equal(fs_write_file(p, "x", 1, 0644, 0, err, sizeof(err)), FS_NOT_REGULAR);
	assert_int_equal(fs_write_file(dir, "x", 1, 0644, 0, err, sizeof(err)), FS_NOT_REGULAR);
	assert_int_equal(entries(), 3);
}

static void
test_system_errors(void **state)
{
	char p[PATH_MAX], q[PATH_MAX], err[FS_ERR_MAX], longname[PATH_MAX + 8];

	(void)state;
	assert_int_equal(symlink("loop", at(p, "loop")), 0);
	assert_int_equal(check(p, err), FS_ERROR);
	assert_string_equal(err, strerror(ELOOP));
	put(at(q, "plain"), "old");
	snprintf(p, sizeof(p), "%s/plain/x", dir);
	assert_int_equal(check(p, err), FS_ERROR);
	assert_string_equal(err, strerror(ENOTDIR));
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(check(longname, err), FS_ERROR);
	assert_string_equal(err, strerror(ENAMETOOLONG));
	/* a directory that does not exist: the temporary file cannot be made */
	assert_int_equal(fs_write_file(at(p, "no/such/file"), "x", 1, 0644, 0, err, sizeof(err)),
	                 FS_ERROR);
	assert_string_equal(err, strerror(ENOENT));
	unlink(at(p, "loop"));
	unlink(q);
}

static void
test_write_replace_and_modes(void **state)
{
	char p[PATH_MAX], err[FS_ERR_MAX];
	struct stat st;
	mode_t old = umask(022);
	int before = entries();

	(void)state;
	/* a new file: mode less the umask */
	assert_int_equal(fs_write_file(at(p, "new"), "one\n", 4, 0666, 0, err, sizeof(err)), FS_OK);
	assert_text(p, "one\n");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	/* replaced: the file's own permission bits stay */
	assert_int_equal(chmod(p, 0640), 0);
	assert_int_equal(fs_write_file(p, "two\n", 4, 0666, 0, err, sizeof(err)), FS_OK);
	assert_text(p, "two\n");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	/* FS_NOREPLACE: an existing file is an error and stays as it is */
	assert_int_equal(fs_write_file(p, "three\n", 6, 0600, FS_NOREPLACE, err, sizeof(err)),
	                 FS_ERROR);
	assert_string_equal(err, strerror(EEXIST));
	assert_text(p, "two\n");
	assert_int_equal(
	    fs_write_file(at(p, "key"), "k\n", 2, 0600, FS_NOREPLACE, err, sizeof(err)), FS_OK);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(entries(), before + 2); /* no temporary file left */
	umask(old);
	unlink(p);
	unlink(at(p, "new"));
}

static void
test_symlinks(void **state)
{
	char p[PATH_MAX], t[PATH_MAX], err[FS_ERR_MAX], target[PATH_MAX];
	struct stat st;

	(void)state;
	assert_int_equal(mkdir(at(p, "sub"), 0700), 0);
	put(at(t, "sub/real"), "");
	/* a relative link, through a second link: the file at the end gets it */
	assert_int_equal(symlink("real", at(p, "sub/l1")), 0);
	assert_int_equal(symlink("sub/l1", at(p, "l2")), 0);
	assert_int_equal(fs_check_output(p, target, err, sizeof(err)), FS_OK);
	assert_string_equal(target, t);
	assert_int_equal(fs_write_file(p, "data\n", 5, 0644, 0, err, sizeof(err)), FS_OK);
	assert_text(t, "data\n");
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	/* a dangling link: the file it names is created */
	assert_int_equal(symlink("sub/later", at(p, "dangling")), 0);
	assert_int_equal(fs_write_file(p, "new\n", 4, 0644, 0, err, sizeof(err)), FS_OK);
	assert_text(at(t, "sub/later"), "new\n");
	/* an absolute link */
	assert_int_equal(symlink(at(t, "sub/real"), at(p, "abs")), 0);
	assert_int_equal(fs_write_file(p, "abs\n", 4, 0644, 0, err, sizeof(err)), FS_OK);
	assert_text(t, "abs\n");
	/* FS_NOREPLACE through a link to an existing file: refused */
	assert_int_equal(fs_write_file(p, "x", 1, 0600, FS_NOREPLACE, err, sizeof(err)), FS_ERROR);
	assert_text(t, "abs\n");
}

static void
test_failed_write(void **state)
{
	char p[PATH_MAX], err[FS_ERR_MAX], big[8192];
	struct rlimit old, small = { 1024, 0 };
	struct fs_atomic a;
	int before;

	(void)state;
	put(at(p, "kept"), "old\n");
	before = entries();
	/* a file too large for the limit: the write fails at commit */
	memset(big, 'x', sizeof(big));
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small.rlim_max = old.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	assert_int_equal(fs_atomic_open(&a, p, 0644, 0, err, sizeof(err)), FS_OK);
	fwrite(big, 1, sizeof(big), a.f);
	assert_int_equal(fs_atomic_commit(&a, err, sizeof(err)), FS_ERROR);
	assert_string_equal(err, strerror(EFBIG));
	assert_null(a.f);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_text(p, "old\n");
	assert_int_equal(entries(), before);
	/* abandoned: the target is untouched, the temporary file gone */
	assert_int_equal(fs_atomic_open(&a, p, 0644, 0, err, sizeof(err)), FS_OK);
	fputs("half", a.f);
	assert_int_equal(entries(), before + 1);
	fs_atomic_abort(&a);
	fs_atomic_abort(&a); /* twice is harmless */
	assert_text(p, "old\n");
	assert_int_equal(entries(), before);
	assert_int_equal(fs_atomic_commit(&a, err, sizeof(err)), FS_ERROR); /* closed */
	unlink(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused_types),
		cmocka_unit_test(test_system_errors),
		cmocka_unit_test(test_write_replace_and_modes),
		cmocka_unit_test(test_symlinks),
		cmocka_unit_test(test_failed_write),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
