/* proc_test: proc_die_with_parent (common/proc.c) in forked children: off
 * unless CP_DIE_WITH_PARENT=1, the parent-death signal when on, and a
 * process whose parent died before the call terminates itself. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "proc.h"

/* Exit status of a child that sets CP_DIE_WITH_PARENT to v (NULL: unset),
 * calls proc_die_with_parent and exits with its parent-death signal. */
static int
pdeathsig_with(const char *v)
{
	int st, sig = -1;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		if (v == NULL)
			unsetenv("CP_DIE_WITH_PARENT");
		else
			setenv("CP_DIE_WITH_PARENT", v, 1);
		proc_die_with_parent();
		/* exit, not _exit: coverage data is written at exit */
		exit(prctl(PR_GET_PDEATHSIG, &sig) == -1 ? 255 : sig);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void
test_switch(void **state)
{
	(void)state;
	assert_int_equal(pdeathsig_with(NULL), 0);
	assert_int_equal(pdeathsig_with("0"), 0);
	assert_int_equal(pdeathsig_with("yes"), 0);
	assert_int_equal(pdeathsig_with("1"), SIGTERM);
}

static volatile sig_atomic_t got_term;

/* SIGTERM as the processes handle it: noted, for a clean exit. */
static void
on_term(int sig)
{
	(void)sig;
	got_term = 1;
}

/* The grandchild, orphaned before it asks, sends itself SIGTERM: it reports
 * its new parent, then "term" if the signal arrived, "alive" if not. */
static void
test_orphaned_before(void **state)
{
	char buf[64] = { 0 };
	int p[2], st;
	pid_t ppid = 0, pid;
	ssize_t n;

	(void)state;
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		pid_t parent = getpid();

		close(p[0]);
		if (fork() == 0) {
			while (getppid() == parent)
				usleep(1000);
			ppid = getppid();
			if (write(p[1], &ppid, sizeof(ppid)) != sizeof(ppid))
				_exit(1);
			setenv("CP_DIE_WITH_PARENT", "1", 1);
			signal(SIGTERM, on_term);
			proc_die_with_parent();
			if (write(p[1], got_term ? "term" : "alive", got_term ? 4 : 5) < 0)
				exit(1);
			exit(0); /* exit, not _exit: coverage data is written at exit */
		}
		exit(0);
	}
	close(p[1]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(read(p[0], &ppid, sizeof(ppid)), sizeof(ppid));
	n = read(p[0], buf, sizeof(buf));
	close(p[0]);
	if (ppid != 1)
		skip(); /* a subreaper adopted it: its parent is not gone */
	assert_int_equal(n, 4);
	assert_memory_equal(buf, "term", 4);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_switch),
		cmocka_unit_test(test_orphaned_before),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
