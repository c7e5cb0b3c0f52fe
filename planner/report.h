/*
 * report.h: what the planner tells its user: the progress line while it
 * runs, and at the end the summary and every requested range the ledger
 * does not prove, which decides the exit code.
 */
#ifndef CP_REPORT_H
#define CP_REPORT_H

#include <stdint.h>

#include "plan.h"

#define REPORT_SENDS_RING 1024 /* send times kept for the request rate */

/* The times requests were scheduled to leave (their rate tokens): the
 * request rate is counted from these, so it never shows more than the
 * budget let through. */
struct send_log {
	int64_t t[REPORT_SENDS_RING]; /* monotonic ms, the newest n % RING */
	uint64_t n;
	int64_t first;
};

/* The counters of one run besides the plan's own. */
struct run_stats {
	int64_t start_ms;                       /* monotonic */
	int64_t first_lease_ms, last_commit_ms; /* the fetch phase */
	uint64_t n429, n418;
	struct send_log sends;
};

/* The plan's counters summed over its targets. */
struct totals {
	int64_t slots_total, slots_done, slots_hit;
	uint64_t requests, received, new_candles, retries, bytes;
	int failed_targets;
};

void report_sum(const struct plan *p, struct totals *s);
/* A request is scheduled to leave at at_ms (monotonic). */
void report_note_send(struct run_stats *r, int64_t at_ms);
/* The request rate as text: "n/a" until a second has passed since the
 * first send; then the sends of the last second (live), or at the end
 * (final) the sends per one-second window since the first. Neither can
 * exceed the budget, however the sends fall. */
void report_rate_text(const struct run_stats *r, int64_t now_ms, int final, char *buf, size_t len);
/* The progress line on stdout: rewritten in place on a tty (tty != 0), one
 * line per call otherwise; final ends the line. On a tty, while the line is
 * shown, log lines on a terminal stderr clear it first and redraw it after
 * (log_set_status_line). */
void report_progress(const struct plan *p, const struct run_stats *r, int tty, int final);
/* Checks every target against the ledger at db_path and prints the
 * summary; the ranges not covered go to stderr with their reason. Returns
 * EXIT_OK or EXIT_FAILED. */
int report_final(const struct plan *p, const struct run_stats *r, const char *db_path);

#endif
