/*
 * files.c - the files the simulator reads and writes: the TLS certificate
 * and key it loads, and the port file it writes once listening.  Owns the
 * rule for written paths: only regular files are written, a symlink is
 * written through to the regular file it leads to, and a device, FIFO,
 * socket or directory is refused.  A write goes to a temporary file in the
 * target's directory, is fsync'ed and renamed over the target, so a reader
 * sees the old content or the new, never a part.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim.h"

#define MAX_LINK_HOPS 40

/* What a file that is not regular is, for the refusal. */
static const char *
kind_of(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode) || S_ISBLK(mode))
		return "a device";
	return "not a regular file";
}

/* The path a symlink at cur points to, relative to cur's directory: 0, or -1. */
static int
follow_link(char *cur, size_t cap)
{
	char link[PATH_MAX], dir[PATH_MAX];
	ssize_t n = readlink(cur, link, sizeof(link) - 1);

	if (n < 0)
		return -1;
	link[n] = '\0';
	if (link[0] == '/') {
		snprintf(cur, cap, "%s", link);
		return 0;
	}
	snprintf(dir, sizeof(dir), "%s", cur);
	if ((size_t)snprintf(cur, cap, "%s/%s", dirname(dir), link) >= cap) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
sfile_target(const char *path, char *out, size_t cap)
{
	struct stat st;

	if ((size_t)snprintf(out, cap, "%s", path) >= cap) {
		fprintf(stderr, "upbit-sim: --port-file %s: path too long\n", path);
		return -1;
	}
	for (int hop = 0; hop < MAX_LINK_HOPS; hop++) {
		if (lstat(out, &st) == -1) {
			if (errno == ENOENT)
				return 0; /* a new file */
			fprintf(stderr, "upbit-sim: --port-file %s: %s\n", path, strerror(errno));
			return -1;
		}
		if (S_ISREG(st.st_mode))
			return 0;
		if (!S_ISLNK(st.st_mode)) {
			fprintf(stderr,
			        "upbit-sim: --port-file %s: refused: %s is %s"
			        " (only regular files are written)\n",
			        path, out, kind_of(st.st_mode));
			return -1;
		}
		if (follow_link(out, cap) == -1) {
			fprintf(stderr, "upbit-sim: --port-file %s: %s\n", path, strerror(errno));
			return -1;
		}
	}
	fprintf(stderr, "upbit-sim: --port-file %s: refused: too many symlinks\n", path);
	return -1;
}

/* Writes all of text to fd, fsyncs and closes it: 0, or -1 (errno). */
static int
write_all(int fd, const char *text)
{
	size_t len = strlen(text), done = 0;
	mode_t mask = umask(0);
	int err;

	umask(mask);
	if (fchmod(fd, 0666 & ~mask) == -1)
		goto fail;
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		done += (size_t)n;
	}
	if (fsync(fd) == -1)
		goto fail;
	return close(fd);
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

int
sfile_replace(const char *target, const char *text)
{
	char dir[PATH_MAX], base[PATH_MAX], tmp[PATH_MAX];
	int fd, err;

	snprintf(dir, sizeof(dir), "%s", target);
	snprintf(base, sizeof(base), "%s", target);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dirname(dir), basename(base)) >=
	    sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = mkstemp(tmp)) == -1)
		return -1;
	if (write_all(fd, text) == -1 || rename(tmp, target) == -1)
		goto fail;
	return 0;
fail:
	err = errno;
	unlink(tmp);
	errno = err;
	return -1;
}

char *
sfile_read(const char *path, size_t max)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;
	int err;

	if (f == NULL)
		return NULL;
	if ((buf = malloc(max + 1)) == NULL)
		goto fail;
	n = fread(buf, 1, max + 1, f);
	if (ferror(f) || n > max) {
		errno = ferror(f) ? EIO : EFBIG;
		free(buf);
		goto fail;
	}
	buf[n] = '\0';
	fclose(f);
	return buf;
fail:
	err = errno;
	fclose(f);
	errno = err;
	return NULL;
}
