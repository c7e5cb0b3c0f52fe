/*
 * crashpoint.h: test-build hook that makes a process exit at the Nth pass of
 * a named point. Built only with CRASHPOINTS=1 (-DCP_CRASHPOINTS); the
 * environment variable CP_CRASH="name:N" arms it. In normal builds
 * CRASHPOINT() compiles to nothing.
 */
#ifndef CP_CRASHPOINT_H
#define CP_CRASHPOINT_H

#ifdef CP_CRASHPOINTS
void crashpoint(const char *name);
#define CRASHPOINT(name) crashpoint(name)
#else
#define CRASHPOINT(name) ((void)0)
#endif

#endif
