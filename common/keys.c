/*
 * keys.c: CURVE key pairs (keys.h), today the planner's: --keygen writes
 * them as "public=" and "secret=" lines (the format net.h reads), and the
 * bound sockets accept only the clients listed in the --curve-allow file. The key
 * files follow common/fsutil's rule: regular files only (a symlink leads to
 * its file), written atomically; the key pair never replaces a file.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <zmq.h>

#include "fsutil.h"
#include "keys.h"
#include "log.h"

/* Refuses a path that is not a regular file (or a symlink to one) before
 * anything is written: EXIT_OK, or EXIT_USAGE after the message. */
static int
check_path(const char *path)
{
	char target[PATH_MAX], err[FS_ERR_MAX];

	if (fs_check_output(path, target, err, sizeof(err)) != FS_NOT_REGULAR)
		return EXIT_OK;
	fprintf(stderr, "cp-planner: --keygen %s: %s\ntry 'cp-planner --help'\n", path, err);
	return EXIT_USAGE;
}

/* Writes text to path (common/fsutil: atomic, durable): EXIT_OK, or the
 * exit code after a message. */
static int
write_key(const char *path, const char *text, mode_t mode, int flags)
{
	char err[FS_ERR_MAX];
	enum fs_status s = fs_write_file(path, text, strlen(text), mode, flags, err, sizeof(err));

	if (s == FS_OK)
		return EXIT_OK;
	fprintf(stderr, "cp-planner: cannot write %s: %s\n", path, err);
	return s == FS_NOT_REGULAR ? EXIT_USAGE : EXIT_PERMFAIL;
}

int
keys_generate(const char *path)
{
	char pub[41], sec[41], pubpath[PATH_MAX], text[128];
	int rc;

	if (snprintf(pubpath, sizeof(pubpath), "%s.pub", path) >= (int)sizeof(pubpath)) {
		fprintf(stderr, "cp-planner: cannot write %s.pub: %s\n", path,
		        strerror(ENAMETOOLONG));
		return EXIT_PERMFAIL;
	}
	if ((rc = check_path(path)) != EXIT_OK || (rc = check_path(pubpath)) != EXIT_OK)
		return rc;
	if (zmq_curve_keypair(pub, sec) == -1) {
		fprintf(stderr, "cp-planner: no CURVE support in libzmq: %s\n",
		        zmq_strerror(errno));
		return EXIT_PERMFAIL;
	}
	snprintf(text, sizeof(text), "public=%s\nsecret=%s\n", pub, sec);
	if ((rc = write_key(path, text, 0600, FS_NOREPLACE)) != EXIT_OK)
		return rc;
	snprintf(text, sizeof(text), "public=%s\n", pub);
	return write_key(pubpath, text, 0666, 0);
}

const struct net_curve *
keys_server(void *ctx, const struct net_curve *curve, const char *allow_file)
{
	if (curve->server_key_file == NULL)
		return NULL;
	if (allow_file == NULL || net_zap_start(ctx, allow_file) == -1)
		fatalx(EXIT_PERMFAIL, "CURVE needs a usable --curve-allow file");
	return curve;
}
