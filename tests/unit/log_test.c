/* log_test: the one-line logger (common/log.c) with stderr redirected: the
 * line's shape, levels, errno handling, folded line breaks, truncation of
 * each part to the 2 KiB line, a process name too long for its buffer,
 * writes that fail or are interrupted by a signal, fatalx's exit, and the
 * journal's priority prefixes when stderr is $JOURNAL_STREAM. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "capture.h"

#include "log.h"

#define LINE_BYTES 2047 /* LOG_LINE_MAX - 1: the longest line, newline included */

/* "YYYY-MM-DDTHH:MM:SS.mmmZ " then want, then one newline and nothing more */
static void
assert_line(const char *text, const char *want)
{
	size_t n = strlen(text);

	if (n < 25 || text[4] != '-' || text[10] != 'T' || text[19] != '.' || text[23] != 'Z' ||
	    text[24] != ' ')
		fail_msg("no timestamp in: %s", text);
	if (strncmp(text + 25, want, strlen(want)) != 0 || strlen(want) + 26 != n ||
	    text[n - 1] != '\n')
		fail_msg("want \"<time> %s\\n\", got: %s", want, text);
}

static void
test_line(void **state)
{
	char want[128];

	(void)state;
	log_init("tester", 0);
	cap_begin();
	log_info("hello %d", 42);
	snprintf(want, sizeof(want), "tester[%ld] info: hello 42", (long)getpid());
	assert_line(cap_end(NULL), want);
	/* an empty message still makes a line */
	cap_begin();
	log_info("%s", "");
	snprintf(want, sizeof(want), "tester[%ld] info: ", (long)getpid());
	assert_line(cap_end(NULL), want);
	/* a NULL name keeps the current one */
	log_init(NULL, 0);
	cap_begin();
	log_warnx("no errno here");
	snprintf(want, sizeof(want), "tester[%ld] warn: no errno here", (long)getpid());
	assert_line(cap_end(NULL), want);
}

static void
test_levels(void **state)
{
	char want[128];

	(void)state;
	log_init("tester", 0);
	cap_begin();
	log_debug("quiet");
	assert_string_equal(cap_end(NULL), "");
	log_init("tester", 1);
	cap_begin();
	errno = EAGAIN;
	log_debug("loud");
	assert_int_equal(errno, EAGAIN);
	snprintf(want, sizeof(want), "tester[%ld] debug: loud", (long)getpid());
	assert_line(cap_end(NULL), want);
	/* log_warn appends errno's text and leaves errno as it was */
	cap_begin();
	errno = ENOENT;
	log_warn("open %s", "x.db");
	assert_int_equal(errno, ENOENT);
	snprintf(want, sizeof(want), "tester[%ld] warn: open x.db: No such file or directory",
	         (long)getpid());
	assert_line(cap_end(NULL), want);
}

static void
test_fold(void **state)
{
	char want[128];

	(void)state;
	log_init("tester", 0);
	cap_begin();
	log_info("one\ntwo\r\nthree");
	snprintf(want, sizeof(want), "tester[%ld] info: one two  three", (long)getpid());
	assert_line(cap_end(NULL), want);
}

static void
test_truncate(void **state)
{
	char msg[5000], name[64];
	size_t head;

	(void)state;
	log_init("tester", 0);
	memset(msg, 'x', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	/* a long message fills the line; errno's text no longer fits */
	cap_begin();
	errno = ENOENT;
	log_warn("%s", msg);
	cap_end(NULL);
	assert_int_equal(cap_len, LINE_BYTES);
	assert_memory_equal(cap_text + LINE_BYTES - 3, "xx\n", 3);
	/* a message that leaves a few bytes: errno's text is cut to them */
	head = (size_t)(strstr(cap_text, "warn: ") - cap_text) + 6;
	msg[LINE_BYTES - 1 - head - 4] = '\0';
	cap_begin();
	errno = ENOENT;
	log_warn("%s", msg);
	cap_end(NULL);
	assert_int_equal(cap_len, LINE_BYTES);
	assert_memory_equal(cap_text + LINE_BYTES - 6, "x: No\n", 6);
	/* a process name longer than its buffer is cut to 31 characters */
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	log_init(name, 0);
	cap_begin();
	log_info("short");
	cap_end(NULL);
	name[31] = '\0';
	assert_non_null(strstr(cap_text, name));
	assert_null(strstr(cap_text, "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"));
	log_init("tester", 0);
}

/* a failing stderr (disk full, closed) loses the line, nothing else */
static void
test_write_fails(void **state)
{
	int saved = dup(STDERR_FILENO), fd = open("/dev/full", O_WRONLY);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	errno = EPERM;
	log_warnx("to a full disk");
	assert_int_equal(errno, EPERM);
	close(STDERR_FILENO);
	log_info("to nowhere");
	assert_int_equal(errno, EPERM);
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
}

static volatile sig_atomic_t signals;

static void
on_signal(int sig)
{
	(void)sig;
	signals++;
}

struct drain {
	pthread_t main;
	int fd;
	char buf[256 * 1024];
	size_t len;
};

/* Interrupts the blocked writer a few times, then reads the pipe dry. */
static void *
drain_main(void *arg)
{
	struct drain *d = arg;
	ssize_t n;

	for (int i = 0; i < 10; i++) {
		usleep(20000);
		pthread_kill(d->main, SIGUSR1);
	}
	while ((n = read(d->fd, d->buf + d->len, sizeof(d->buf) - d->len)) > 0)
		d->len += (size_t)n;
	return NULL;
}

/* A line written to a full pipe survives signals arriving while write(2)
 * blocks: it arrives whole once the reader catches up. */
static void
test_interrupted(void **state)
{
	static struct drain d;
	struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART */
	int p[2], saved, fl;
	pthread_t t;
	char want[64];

	(void)state;
	assert_int_equal(sigaction(SIGUSR1, &sa, NULL), 0);
	assert_int_equal(pipe(p), 0);
	fl = fcntl(p[1], F_GETFL);
	assert_int_equal(fcntl(p[1], F_SETFL, fl | O_NONBLOCK), 0);
	while (write(p[1], "f", 1) == 1)
		continue;
	assert_int_equal(fcntl(p[1], F_SETFL, fl), 0);
	saved = dup(STDERR_FILENO);
	assert_int_equal(dup2(p[1], STDERR_FILENO), STDERR_FILENO);
	close(p[1]);
	d.main = pthread_self();
	d.fd = p[0];
	d.len = 0;
	log_init("tester", 0);
	signals = 0;
	assert_int_equal(pthread_create(&t, NULL, drain_main, &d), 0);
	log_info("after the signals");
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	assert_int_equal(pthread_join(t, NULL), 0);
	close(p[0]);
	assert_true(signals > 0);
	snprintf(want, sizeof(want), "info: after the signals\n");
	assert_true(d.len > strlen(want));
	assert_memory_equal(d.buf + d.len - strlen(want), want, strlen(want));
	signal(SIGUSR1, SIG_DFL);
}

static void
test_fatalx(void **state)
{
	int st;
	pid_t pid;

	(void)state;
	log_init("tester", 0);
	cap_begin();
	if ((pid = fork()) == 0)
		fatalx(EXIT_PERMFAIL, "broken %s", "invariant");
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	cap_end(NULL);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), EXIT_PERMFAIL);
	assert_non_null(strstr(cap_text, "] fatal: broken invariant\n"));
}

/* A status line on the same file: the log line must come between the two. */
static void
status_clear(void)
{
	(void)!write(STDERR_FILENO, "\r\033[K", 4);
}

static void
status_redraw(void)
{
	(void)!write(STDERR_FILENO, "progress 50%", 12);
}

static void
test_status_line(void **state)
{
	const char *t;

	(void)state;
	log_init("tester", 0);
	log_set_status_line(status_clear, status_redraw);
	cap_begin();
	log_warnx("a warning");
	t = cap_end(NULL);
	log_set_status_line(NULL, NULL);
	/* cleared, the whole line, then the status redrawn after its newline */
	assert_memory_equal(t, "\r\033[K", 4);
	assert_non_null(strstr(t, "] warn: a warning\nprogress 50%"));
	assert_int_equal(strlen(strstr(t, "progress")), 12);
	/* without the hooks nothing is added */
	cap_begin();
	log_info("plain");
	t = cap_end(NULL);
	assert_null(strstr(t, "progress"));
	assert_true(t[0] != '\r');
}

/* JOURNAL_STREAM naming stderr (as systemd sets it, "DEV:INO"), or not */
static void
set_journal_stream(int match)
{
	struct stat st;
	char v[64];

	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
	         (unsigned long long)st.st_ino + (match ? 0 : 1));
	assert_int_equal(setenv("JOURNAL_STREAM", v, 1), 0);
}

/* stderr is the journal: each level's sd-daemon priority, no timestamp */
static void
test_journal(void **state)
{
	static const struct {
		int level;
		const char *want;
	} cases[] = {
		{ 6, "<6>tester[%ld] info: a 1\n" },
		{ 7, "<7>tester[%ld] debug: a 1\n" },
		{ 4, "<4>tester[%ld] warn: a 1\n" },
		{ 5, "<4>tester[%ld] warn: a 1: Permission denied\n" },
		{ 3, "<3>tester[%ld] fatal: a 1\n" },
	};
	char want[128];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cap_begin();
		set_journal_stream(1);
		log_init("tester", 1);
		switch (cases[i].level) {
		case 6: log_info("a %d", 1); break;
		case 7: log_debug("a %d", 1); break;
		case 4: log_warnx("a %d", 1); break;
		case 5:
			errno = EACCES;
			log_warn("a %d", 1);
			break;
		default:
			if (fork() == 0)
				fatalx(EXIT_PERMFAIL, "a %d", 1);
			wait(NULL);
		}
		snprintf(want, sizeof(want), cases[i].want,
		         (long)(cases[i].level == 3 ? 0 : getpid()));
		if (cases[i].level == 3) {
			const char *t = cap_end(NULL);

			/* the child's pid: only the shape */
			assert_true(strncmp(t, "<3>tester[", 10) == 0);
			assert_non_null(strstr(t, "] fatal: a 1\n"));
		} else {
			assert_string_equal(cap_end(NULL), want);
		}
	}
	/* another stream's JOURNAL_STREAM (a child whose stderr is a log file) */
	cap_begin();
	set_journal_stream(0);
	log_init("tester", 0);
	log_info("hello");
	snprintf(want, sizeof(want), "tester[%ld] info: hello", (long)getpid());
	assert_line(cap_end(NULL), want);
	/* garbage in it is not the journal either */
	cap_begin();
	setenv("JOURNAL_STREAM", "12:x", 1);
	log_init("tester", 0);
	log_info("hello");
	assert_line(cap_end(NULL), want);
	unsetenv("JOURNAL_STREAM");
	log_init("tester", 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line),        cmocka_unit_test(test_levels),
		cmocka_unit_test(test_fold),        cmocka_unit_test(test_truncate),
		cmocka_unit_test(test_write_fails), cmocka_unit_test(test_interrupted),
		cmocka_unit_test(test_fatalx),      cmocka_unit_test(test_status_line),
		cmocka_unit_test(test_journal),
	};

	/* run under systemd, the test's own stderr may be the journal */
	unsetenv("JOURNAL_STREAM");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
