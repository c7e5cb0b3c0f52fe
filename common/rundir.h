/*
 * rundir.h: the run directory of a collection, named from its database path
 * (rundir.c). run.sh and the monitor both get it from here.
 */
#ifndef CP_RUNDIR_H
#define CP_RUNDIR_H

#include <limits.h>
#include <stddef.h>

/* The run directory of db: db made absolute like `realpath -m` into abs,
 * then dir = /tmp/cp-<first 12 hex of its SHA-1>. 0, or -1 if db has no
 * absolute name (too long, or the working directory is gone). */
int rundir_for(const char *db, char abs[PATH_MAX], char *dir, size_t cap);
/* db made absolute like `realpath -m`; 0 or -1. */
int rundir_abs_path(const char *path, char out[PATH_MAX]);
/* The SHA-1 of the text msg as 40 hex digits. */
void rundir_sha1_hex(const char *msg, char out[41]);

#endif
