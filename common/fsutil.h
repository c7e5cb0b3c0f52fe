/*
 * fsutil.h: the one rule for every file a candlepipe program writes (export
 * --output, the monitor's --port-file, cp-planner --keygen's key files, the
 * writer's ready file): only regular files are written. A device, FIFO,
 * socket or directory is refused; a symlink is followed to the regular file
 * it points at, and that file is replaced, never the link. A write is
 * atomic and durable: a temporary file in the target's directory, written,
 * fsync'ed, renamed over the target, then the directory fsync'ed, so a
 * crash leaves the old file or the new one, never a part.
 */
#ifndef CP_FSUTIL_H
#define CP_FSUTIL_H

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#define FS_ERR_MAX 160   /* room for any reason fs_* write into err */
#define FS_NOREPLACE 0x1 /* fs_atomic_open: the target must not exist */

/* What the fs_ functions return. FS_NOT_REGULAR is the caller's usage error
 * (exit 2): the user named something that is not a file. */
enum fs_status {
	FS_OK = 0,
	FS_ERROR = -1,       /* the system's error, in err */
	FS_NOT_REGULAR = -2, /* err: "not a regular file (a directory)" */
};

/* Where path leads for writing: symlinks followed (at most 40) into target.
 * FS_OK if target is a regular file or does not exist yet; otherwise the
 * status with the reason in err (cap bytes): "not a regular file (a
 * character device)", or the system's ("Permission denied", ...). */
/* What a file that is no regular file is: "a directory", "a FIFO", ... */
const char *fs_type_name(mode_t m);

enum fs_status fs_check_output(const char *path, char target[PATH_MAX], char *err, size_t cap);

/* A file being written under a temporary name next to its target. */
struct fs_atomic {
	FILE *f; /* write here; NULL when closed */
	int flags, have_mode;
	mode_t keep_mode; /* the replaced target's permission bits (have_mode) */
	char target[PATH_MAX], tmp[PATH_MAX];
};

/* Checks path (fs_check_output) and creates the temporary file (mode, less
 * the umask; a replaced file's own permission bits are kept). flags:
 * FS_NOREPLACE (an existing target is FS_ERROR "File exists"). FS_OK, or
 * the status with the reason in err. */
enum fs_status fs_atomic_open(struct fs_atomic *a, const char *path, mode_t mode, int flags,
                              char *err, size_t cap);
/* Flushes and fsyncs the file, renames it over its target and fsyncs the
 * directory. 0, or -1 with the reason in err; the temporary file is removed
 * on failure. Closes a->f either way. */
int fs_atomic_commit(struct fs_atomic *a, char *err, size_t cap);
/* Closes and removes the temporary file (nothing is replaced). */
void fs_atomic_abort(struct fs_atomic *a);
/* The whole of data (len bytes) to path, atomically as above. FS_OK or the
 * status with the reason in err. */
enum fs_status fs_write_file(const char *path, const char *data, size_t len, mode_t mode, int flags,
                             char *err, size_t cap);

#endif
