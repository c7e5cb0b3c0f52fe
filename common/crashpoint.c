/*
 * crashpoint.c: the test-build crash and failure hooks (crashpoint.h).
 * With -DCP_CRASHPOINTS and CP_CRASH="name:N" in the environment, the Nth
 * call of crashpoint("name") logs "crashpoint name:N reached" and leaves
 * with _exit(99): no atexit handlers, no stdio flush, no SQLite cleanup, as
 * a real crash would. With CP_FAIL="name:N[+][,...]", failpoint("name")
 * returns 1 at its Nth pass (and every later one with "+"). Owns the armed
 * names and their pass counters. Without -DCP_CRASHPOINTS this file is
 * empty.
 */
#ifdef CP_CRASHPOINTS

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crashpoint.h"
#include "log.h"

#define CRASHPOINT_EXIT 99
#define POINTS_MAX 8

struct point {
	char name[64];
	unsigned long target, passes;
	int sticky; /* "N+": every pass from the Nth on */
};

struct armed {
	const char *env;
	int state; /* 0 not read yet, 1 read */
	int n;
	struct point p[POINTS_MAX];
};

static struct armed crash_set = { .env = "CP_CRASH" };
static struct armed fail_set = { .env = "CP_FAIL" };

/* one "name:N" or "name:N+" of len bytes into *p; 0 if malformed */
static int
point_parse(const char *s, size_t len, struct point *p)
{
	const char *colon = memrchr(s, ':', len);
	char num[24], *end;
	size_t nlen;

	if (colon == NULL || colon == s || (size_t)(colon - s) >= sizeof(p->name))
		return 0;
	nlen = len - (size_t)(colon - s) - 1;
	if (nlen > 0 && colon[nlen] == '+') {
		p->sticky = 1;
		nlen--;
	}
	if (nlen == 0 || nlen >= sizeof(num) || colon[1] < '0' || colon[1] > '9')
		return 0;
	memcpy(num, colon + 1, nlen);
	num[nlen] = '\0';
	p->target = strtoul(num, &end, 10);
	if (*end != '\0' || p->target == 0)
		return 0;
	memcpy(p->name, s, (size_t)(colon - s));
	p->name[colon - s] = '\0';
	return 1;
}

static void
arm(struct armed *a)
{
	const char *env = getenv(a->env), *s, *comma;

	a->state = 1;
	if (env == NULL || *env == '\0')
		return;
	for (s = env; *s != '\0'; s = *comma != '\0' ? comma + 1 : comma) {
		comma = strchrnul(s, ',');
		if (a->n == POINTS_MAX || !point_parse(s, (size_t)(comma - s), &a->p[a->n])) {
			log_warnx("%s=%s: want name:N[+] (N >= 1), at most %d, comma-separated; "
			          "ignored",
			          a->env, env, POINTS_MAX);
			a->n = 0;
			return;
		}
		a->n++;
	}
}

/* the armed point called name if this pass is one of its targets */
static const struct point *
pass(struct armed *a, const char *name)
{
	int i;

	if (a->state == 0)
		arm(a);
	for (i = 0; i < a->n; i++) {
		struct point *p = &a->p[i];
		if (strcmp(p->name, name) != 0)
			continue;
		p->passes++;
		if (p->passes == p->target || (p->sticky && p->passes > p->target))
			return p;
	}
	return NULL;
}

void
crashpoint(const char *name)
{
	const struct point *p = pass(&crash_set, name);

	if (p != NULL) {
		log_warnx("crashpoint %s:%lu reached", p->name, p->target);
		_exit(CRASHPOINT_EXIT);
	}
}

int
failpoint(const char *name)
{
	const struct point *p = pass(&fail_set, name);

	if (p == NULL)
		return 0;
	log_warnx("failpoint %s:%lu hit", p->name, p->passes);
	return 1;
}

#else
typedef int crashpoint_unused;
#endif
