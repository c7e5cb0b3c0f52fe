/*
 * fsutil.c: writing files safely (fsutil.h), the one copy of the rule every
 * program follows: resolve the path through its symlinks, refuse anything
 * that is not a regular file, write a temporary file in the target's
 * directory, fsync it, rename it over the target (or link it, when the
 * target must not exist), fsync the directory. Owns no state.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"

#define FS_LINKS_MAX 40 /* as the kernel's own limit on a path's symlinks */

/* err = strerror(e); returns FS_ERROR. */
static enum fs_status
sys_error(int e, char *err, size_t cap)
{
	snprintf(err, cap, "%s", strerror(e));
	return FS_ERROR;
}

const char *
fs_type_name(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISSOCK(m))
		return "a socket";
	return "of an unknown type";
}

/* The directory part of path into dir ("." without a slash). */
static void
dir_of(const char *path, char dir[PATH_MAX])
{
	const char *slash = strrchr(path, '/');
	size_t n = slash == NULL ? 0 : (size_t)(slash - path);

	if (slash == NULL)
		snprintf(dir, PATH_MAX, ".");
	else if (n == 0)
		snprintf(dir, PATH_MAX, "/");
	else
		snprintf(dir, PATH_MAX, "%.*s", (int)n, path);
}

/* cur = where the symlink cur points: its text, relative to its directory. */
static int
follow_link(char cur[PATH_MAX])
{
	char link[PATH_MAX], dir[PATH_MAX];
	ssize_t n = readlink(cur, link, sizeof(link) - 1);

	if (n < 0)
		return -1;
	link[n] = '\0';
	dir_of(cur, dir);
	if (link[0] == '/' || strchr(cur, '/') == NULL) {
		memcpy(cur, link, (size_t)n + 1);
		return 0;
	}
	if (snprintf(cur, PATH_MAX, "%s/%s", dir, link) >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

enum fs_status
fs_check_output(const char *path, char target[PATH_MAX], char *err, size_t cap)
{
	struct stat st;

	if (strlen(path) >= PATH_MAX)
		return sys_error(ENAMETOOLONG, err, cap);
	snprintf(target, PATH_MAX, "%s", path);
	for (int hops = 0; hops <= FS_LINKS_MAX; hops++) {
		if (lstat(target, &st) == -1)
			return errno == ENOENT ? FS_OK : sys_error(errno, err, cap);
		if (S_ISREG(st.st_mode))
			return FS_OK;
		if (!S_ISLNK(st.st_mode)) {
			snprintf(err, cap, "not a regular file (%s)", fs_type_name(st.st_mode));
			return FS_NOT_REGULAR;
		}
		if (follow_link(target) == -1)
			return sys_error(errno, err, cap);
	}
	return sys_error(ELOOP, err, cap);
}

/* Creates a new temporary file next to a->target; the fd, or -1. */
static int
create_tmp(struct fs_atomic *a, mode_t mode)
{
	static unsigned seq;
	int fd = -1;

	for (int tries = 0; fd == -1 && tries < 100; tries++) {
		if (snprintf(a->tmp, sizeof(a->tmp), "%s.%ld.%u.tmp", a->target, (long)getpid(),
		             seq++) >= (int)sizeof(a->tmp)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
		if (fd == -1 && errno != EEXIST)
			return -1;
	}
	return fd;
}

enum fs_status
fs_atomic_open(struct fs_atomic *a, const char *path, mode_t mode, int flags, char *err, size_t cap)
{
	enum fs_status s;
	struct stat st;
	int fd;

	memset(a, 0, sizeof(*a));
	a->flags = flags;
	if ((s = fs_check_output(path, a->target, err, cap)) != FS_OK)
		return s;
	if (stat(a->target, &st) == 0) {
		if (flags & FS_NOREPLACE)
			return sys_error(EEXIST, err, cap);
		a->keep_mode = st.st_mode & 07777;
		a->have_mode = 1;
	}
	if ((fd = create_tmp(a, mode)) == -1)
		return sys_error(errno, err, cap);
	if ((a->have_mode && fchmod(fd, a->keep_mode) == -1) || (a->f = fdopen(fd, "w")) == NULL) {
		int e = errno;

		close(fd);
		unlink(a->tmp);
		return sys_error(e, err, cap);
	}
	return FS_OK;
}

/* Puts the written file in place: over the target, or beside nothing. */
static int
put_in_place(const struct fs_atomic *a)
{
	if (!(a->flags & FS_NOREPLACE))
		return rename(a->tmp, a->target);
	/* link(2) fails if the target appeared meanwhile: never overwritten */
	if (link(a->tmp, a->target) == -1)
		return -1;
	return unlink(a->tmp);
}

/* fsync of the directory that holds path: the rename itself is durable. */
static int
sync_dir(const char *path)
{
	char dir[PATH_MAX];
	int fd, rc;

	dir_of(path, dir);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	if (rc == -1 && errno == EINVAL)
		rc = 0; /* a file system that cannot sync directories */
	close(fd);
	return rc;
}

enum fs_status
fs_atomic_commit(struct fs_atomic *a, char *err, size_t cap)
{
	FILE *f = a->f;
	int bad;

	if (f == NULL)
		return sys_error(EBADF, err, cap);
	a->f = NULL;
	bad = fflush(f) == EOF || ferror(f) || fsync(fileno(f)) == -1;
	if (bad) {
		int e = errno;

		fclose(f);
		unlink(a->tmp);
		return sys_error(e, err, cap);
	}
	if (fclose(f) == EOF || put_in_place(a) == -1) {
		int e = errno;

		unlink(a->tmp);
		return sys_error(e, err, cap);
	}
	return sync_dir(a->target) == -1 ? sys_error(errno, err, cap) : FS_OK;
}

void
fs_atomic_abort(struct fs_atomic *a)
{
	if (a->f == NULL)
		return;
	fclose(a->f);
	a->f = NULL;
	unlink(a->tmp);
}

enum fs_status
fs_write_file(const char *path, const char *data, size_t len, mode_t mode, int flags, char *err,
              size_t cap)
{
	struct fs_atomic a;
	enum fs_status s = fs_atomic_open(&a, path, mode, flags, err, cap);

	if (s != FS_OK)
		return s;
	if (len > 0 && fwrite(data, 1, len, a.f) != len) {
		int e = errno;

		fs_atomic_abort(&a);
		return sys_error(e, err, cap);
	}
	return fs_atomic_commit(&a, err, cap);
}
