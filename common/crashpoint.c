/*
 * crashpoint.c: the test-build crash hook. With -DCP_CRASHPOINTS and
 * CP_CRASH="name:N" in the environment, the Nth call of crashpoint("name")
 * logs "crashpoint name:N reached" and leaves with _exit(99): no atexit
 * handlers, no stdio flush, no SQLite cleanup, as a real crash would.
 * Owns the armed name and its pass counter. Without -DCP_CRASHPOINTS this
 * file is empty.
 */
#ifdef CP_CRASHPOINTS

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crashpoint.h"
#include "log.h"

#define CRASHPOINT_EXIT 99

static int cp_state; /* 0 not read yet, 1 armed, -1 disarmed */
static char cp_name[64];
static unsigned long cp_target, cp_passes;

static void
crashpoint_arm(void)
{
	const char *env = getenv("CP_CRASH"), *colon;
	char *end;
	size_t len;

	cp_state = -1;
	if (env == NULL || *env == '\0')
		return;
	if ((colon = strrchr(env, ':')) == NULL)
		goto bad;
	len = (size_t)(colon - env);
	if (len == 0 || len >= sizeof(cp_name) || colon[1] < '0' || colon[1] > '9')
		goto bad;
	cp_target = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || cp_target == 0)
		goto bad;
	memcpy(cp_name, env, len);
	cp_name[len] = '\0';
	cp_state = 1;
	return;
bad:
	log_warnx("CP_CRASH=%s: want name:N with N >= 1; ignored", env);
}

void
crashpoint(const char *name)
{
	if (cp_state == 0)
		crashpoint_arm();
	if (cp_state != 1 || strcmp(name, cp_name) != 0)
		return;
	if (++cp_passes == cp_target) {
		log_warnx("crashpoint %s:%lu reached", cp_name, cp_target);
		_exit(CRASHPOINT_EXIT);
	}
}

#else
typedef int crashpoint_unused;
#endif
