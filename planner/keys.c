/*
 * keys.c: CURVE key pairs for the planner (keys.h): --keygen writes them as
 * "public=" and "secret=" lines (the format net.h reads), and the bound
 * sockets accept only the clients listed in the --curve-allow file.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "keys.h"
#include "log.h"

static FILE *
create(const char *path, int flags, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | flags, mode);
	FILE *f = fd == -1 ? NULL : fdopen(fd, "w");

	if (f == NULL) {
		fprintf(stderr, "cp-planner: cannot create %s: %s\n", path, strerror(errno));
		if (fd != -1)
			close(fd);
	}
	return f;
}

/* Closes a file written by create(): EXIT_OK, or EXIT_PERMFAIL with a
 * message when the data did not reach it (a full disk). */
static int
finish(FILE *f, const char *path)
{
	if (fclose(f) != 0) {
		fprintf(stderr, "cp-planner: cannot write %s: %s\n", path, strerror(errno));
		return EXIT_PERMFAIL;
	}
	return EXIT_OK;
}

int
keys_generate(const char *path)
{
	char pub[41], sec[41], pubpath[PATH_MAX];
	FILE *f;

	if (zmq_curve_keypair(pub, sec) == -1) {
		fprintf(stderr, "cp-planner: no CURVE support in libzmq: %s\n",
		        zmq_strerror(errno));
		return EXIT_PERMFAIL;
	}
	if ((f = create(path, O_EXCL, 0600)) == NULL)
		return EXIT_PERMFAIL;
	fprintf(f, "public=%s\nsecret=%s\n", pub, sec);
	if (finish(f, path) != EXIT_OK)
		return EXIT_PERMFAIL;
	snprintf(pubpath, sizeof(pubpath), "%s.pub", path);
	if ((f = create(pubpath, O_TRUNC, 0666)) == NULL)
		return EXIT_PERMFAIL;
	fprintf(f, "public=%s\n", pub);
	return finish(f, pubpath);
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
