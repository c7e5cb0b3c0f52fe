/*
 * proc.c: process life-cycle helpers (see proc.h): dying with the parent,
 * catching the stop signals, telling the supervisor we are ready.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"

void
proc_die_with_parent(void)
{
	const char *v = getenv("CP_DIE_WITH_PARENT");

	if (v == NULL || strcmp(v, "1") != 0)
		return;
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
	/* the parent may have died before the call took effect */
	if (getppid() == 1)
		raise(SIGTERM);
}

void
proc_catch_signals(void (*handler)(int), const int *extra)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = handler;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	for (; extra != NULL && *extra != 0; extra++)
		sigaction(*extra, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

void
proc_notify_ready(int fd)
{
	ssize_t n;

	if (fd < 0)
		return;
	do
		n = write(fd, "\n", 1);
	while (n == -1 && errno == EINTR);
	if (n != 1)
		log_warn("--notify-fd %d: cannot write the readiness newline", fd);
	(void)close(fd);
}
