/*
 * crashpoint.h: test-build hooks. Built only with CRASHPOINTS=1
 * (-DCP_CRASHPOINTS); in normal builds both compile to nothing.
 *
 * CRASHPOINT(name): the process exits at the Nth pass of a named point.
 * The environment variable CP_CRASH="name:N" arms it.
 *
 * FAILPOINT(name): an expression that is true at the Nth pass of a named
 * point, so the error path beside it runs as if the call it guards had
 * failed: `if (FAILPOINT("store_begin") || sqlite3_exec(...) != SQLITE_OK)`.
 * CP_FAIL="name:N[,name:N...]" arms one or more points; "name:N+" fails the
 * Nth pass and every later one. Each armed pass logs "failpoint name:N hit".
 * In normal builds FAILPOINT(name) is the constant 0.
 */
#ifndef CP_CRASHPOINT_H
#define CP_CRASHPOINT_H

#ifdef CP_CRASHPOINTS
void crashpoint(const char *name);
int failpoint(const char *name);
#define CRASHPOINT(name) crashpoint(name)
#define FAILPOINT(name) failpoint(name)
#else
#define CRASHPOINT(name) ((void)0)
#define FAILPOINT(name) 0
#endif

#endif
