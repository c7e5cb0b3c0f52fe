/*
 * log.c: one event per line on stderr, e.g.
 *   2026-11-26T08:00:00.123Z planner[1234] info: message
 * Each line is formatted into a local buffer and written with a single
 * write(2), so lines from concurrent processes sharing stderr never
 * interleave. Owns the process name, the verbose flag and the hooks of a
 * live status line (log_set_status_line), which is cleared before each line
 * and redrawn after it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "timeutil.h"

#define LOG_LINE_MAX 2048

static char log_proc[32] = "candlepipe";
static int log_verbose;
static void (*status_clear)(void), (*status_redraw)(void);

void
log_init(const char *procname, int verbose)
{
	if (procname != NULL)
		snprintf(log_proc, sizeof(log_proc), "%s", procname);
	log_verbose = verbose;
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

/* "<time> <proc>[<pid>] <level>: " at the start of line; its length. */
static size_t
put_prefix(char *line, size_t max, const char *level)
{
	char ts[TIME_TEXT_LEN];
	struct timespec now;

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

/* Formats and writes one line; errstr (may be NULL) is appended as ": errstr".
 * Each part is truncated to what is left of the line. */
static void
log_emit(const char *level, const char *errstr, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	size_t n, max = sizeof(line) - 1; /* room for the newline */

	n = put_prefix(line, max, level);
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
	log_emit("info", NULL, fmt, ap);
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
	log_emit("debug", NULL, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_emit("warn", strerror(saved), fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_emit("warn", NULL, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
fatalx(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit("fatal", NULL, fmt, ap);
	va_end(ap);
	exit(code);
}
