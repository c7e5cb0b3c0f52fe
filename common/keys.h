/*
 * keys.h: CURVE set-up for a process that binds sockets (today the
 * planner): writing a new key pair (--keygen) and securing the sockets it
 * binds (--curve-server with --curve-allow).
 */
#ifndef CP_KEYS_H
#define CP_KEYS_H

#include "net.h"

/* Writes a new key pair to path (mode 0600, created: never overwritten) and
 * its public half to path.pub (replaced). Returns the exit code (log.h):
 * EXIT_USAGE if either path is not a regular file (a directory, device,
 * FIFO or socket; nothing is written then), EXIT_PERMFAIL for any other
 * failure; a message on stderr when it fails. */
int keys_generate(const char *path);
/* The CURVE settings for the sockets the caller binds: NULL without a
 * server key; with one, starts the ZAP handler of ctx over allow_file and
 * exits EXIT_PERMFAIL if that is missing or unusable. */
const struct net_curve *keys_server(void *ctx, const struct net_curve *curve,
                                    const char *allow_file);

#endif
