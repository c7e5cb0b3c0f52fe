/*
 * log.h: one event per line on stderr, prefixed with time, process name and
 * level. log_warn appends strerror(errno); log_warnx does not. fatal logs and
 * exits with EXIT_TEMPFAIL (a broken invariant: restart me).
 */
#ifndef CP_LOG_H
#define CP_LOG_H

#include <stdnoreturn.h>

#include "exitcodes.h" /* fatalx takes one of them */

void log_init(const char *procname, int verbose);
/* A live status line (the planner's progress on a terminal): clear() is
 * called before every log line is written and redraw() after it, so a log
 * line never shares a terminal line with it. NULL, NULL: none. */
void log_set_status_line(void (*clear)(void), void (*redraw)(void));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void fatalx(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
