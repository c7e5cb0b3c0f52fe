/*
 * log.c: one event per line on stderr, e.g.
 *   2026-11-26T08:00:00.123Z planner[1234] info: message
 * Each line is formatted into a local buffer and written with a single
 * write(2), so lines from concurrent processes sharing stderr never
 * interleave. Owns the process name and the verbose flag.
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

void
log_init(const char *procname, int verbose)
{
	if (procname != NULL)
		snprintf(log_proc, sizeof(log_proc), "%s", procname);
	log_verbose = verbose;
}

/* Formats and writes one line; errstr (may be NULL) is appended as ": errstr". */
static void
log_emit(const char *level, const char *errstr, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX], ts[TIME_TEXT_LEN];
	struct timespec now;
	size_t n, max = sizeof(line) - 1; /* room for the newline */
	int r;

	clock_gettime(CLOCK_REALTIME, &now);
	time_format((int64_t)now.tv_sec, ts);
	r = snprintf(line, max, "%s.%03ldZ %s[%ld] %s: ", ts, (long)(now.tv_nsec / 1000000),
	             log_proc, (long)getpid(), level);
	n = r < 0 ? 0 : (size_t)r < max ? (size_t)r : max - 1;
	if (n < max - 1) {
		size_t start = n;

		r = vsnprintf(line + n, max - n, fmt, ap);
		if (r > 0)
			n += (size_t)r < max - n ? (size_t)r : max - n - 1;
		/* one event, one line: embedded line breaks become spaces */
		for (size_t i = start; i < n; i++)
			if (line[i] == '\n' || line[i] == '\r')
				line[i] = ' ';
	}
	if (errstr != NULL && n < max - 1) {
		r = snprintf(line + n, max - n, ": %s", errstr);
		if (r > 0)
			n += (size_t)r < max - n ? (size_t)r : max - n - 1;
	}
	line[n++] = '\n';
	for (size_t off = 0; off < n;) {
		ssize_t w = write(STDERR_FILENO, line + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
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
