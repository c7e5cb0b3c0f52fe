/*
 * log.c: one event per line on stderr, e.g.
 *   2026-11-26T08:00:00.123Z planner[1234] info: message
 * Each line is formatted into a local buffer and written with a single
 * write(2), so lines from concurrent processes sharing stderr never
 * interleave. Owns the process name, the verbose flag and the hooks of a
 * live status line (log_set_status_line), which is cleared before each line
 * and redrawn after it.
 *
 * When stderr is the systemd journal's stream ($JOURNAL_STREAM names its
 * device and inode, systemd.exec(5)), a line starts with its priority as
 * sd-daemon(3)'s prefixes instead of the time, which the journal keeps:
 *   <6>planner[1234] info: message
 * <3> fatal, <4> warn, <6> info, <7> debug. A process whose stderr is a
 * file or a terminal (a log under the run directory) keeps the time.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "timeutil.h"

#define LOG_LINE_MAX 2048
/* the syslog priorities of sd-daemon(3)'s SD_ERR, SD_WARNING, SD_INFO, SD_DEBUG */
#define LOG_PRI_ERR 3
#define LOG_PRI_WARNING 4
#define LOG_PRI_INFO 6
#define LOG_PRI_DEBUG 7

static char log_proc[32] = "candlepipe";
static int log_verbose;
static int log_journal = -1; /* stderr is the journal's stream; -1: not checked yet */
static void (*status_clear)(void), (*status_redraw)(void);

/* 1 when stderr is the stream $JOURNAL_STREAM ("DEV:INO") names, else 0 */
static int
stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char *end;

	if (js == NULL || *js < '0' || *js > '9')
		return 0;
	dev = strtoull(js, &end, 10);
	if (*end != ':' || end[1] < '0' || end[1] > '9')
		return 0;
	ino = strtoull(end + 1, &end, 10);
	if (*end != '\0' || fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void
log_init(const char *procname, int verbose)
{
	if (procname != NULL)
		snprintf(log_proc, sizeof(log_proc), "%s", procname);
	log_verbose = verbose;
	log_journal = stderr_is_journal();
}

void
log_set_status_line(void (*clear)(void), void (*redraw)(void))
{
	status_clear = clear;
	status_redraw = redraw;
}

/* n advanced by r, what snprintf returned for text written at line + n
 * with max - n bytes of room: clamped to what fitted. */
static size_t
advance(size_t n, int r, size_t max)
{
	if (r <= 0)
		return n;
	return n + ((size_t)r < max - n ? (size_t)r : max - n - 1);
}

/* "<time> <proc>[<pid>] <level>: " at the start of line, or for the journal
 * "<prio><proc>[<pid>] <level>: "; its length. */
static size_t
put_prefix(char *line, size_t max, const char *level, int prio)
{
	char ts[TIME_TEXT_LEN];
	struct timespec now;

	if (log_journal == -1)
		log_journal = stderr_is_journal();
	if (log_journal == 1)
		return advance(
		    0,
		    snprintf(line, max, "<%d>%s[%ld] %s: ", prio, log_proc, (long)getpid(), level),
		    max);
	clock_gettime(CLOCK_REALTIME, &now);
	time_format((int64_t)now.tv_sec, ts);
	return advance(0,
	               snprintf(line, max, "%s.%03ldZ %s[%ld] %s: ", ts,
	                        (long)(now.tv_nsec / 1000000), log_proc, (long)getpid(), level),
	               max);
}

/* One event, one line: embedded line breaks become spaces. */
static void
fold_breaks(char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] == '\n' || s[i] == '\r')
			s[i] = ' ';
}

/* Writes all of buf to stderr, retrying after signals; gives up on error. */
static void
write_all(const char *buf, size_t len)
{
	for (size_t off = 0; off < len;) {
		ssize_t w = write(STDERR_FILENO, buf + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
}

/* Formats and writes one line, prio its syslog priority (LOG_PRI_*);
 * errstr (may be NULL) is appended as ": errstr".
 * Each part is truncated to what is left of the line. */
static void
log_emit(const char *level, int prio, const char *errstr, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	size_t n, max = sizeof(line) - 1; /* room for the newline */

	n = put_prefix(line, max, level, prio);
	if (n < max - 1) {
		size_t start = n;

		n = advance(n, vsnprintf(line + n, max - n, fmt, ap), max);
		fold_breaks(line + start, n - start);
	}
	if (errstr != NULL && n < max - 1)
		n = advance(n, snprintf(line + n, max - n, ": %s", errstr), max);
	line[n++] = '\n';
	if (status_clear != NULL)
		status_clear();
	write_all(line, n);
	if (status_redraw != NULL)
		status_redraw();
}

void
log_info(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_emit("info", LOG_PRI_INFO, NULL, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	log_emit("debug", LOG_PRI_DEBUG, NULL, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_emit("warn", LOG_PRI_WARNING, strerror(saved), fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_emit("warn", LOG_PRI_WARNING, NULL, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
fatalx(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit("fatal", LOG_PRI_ERR, NULL, fmt, ap);
	va_end(ap);
	exit(code);
}
