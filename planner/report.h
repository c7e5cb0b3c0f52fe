/*
 * report.h: what the planner tells its user: the progress line while it
 * runs, and at the end the summary and every requested range the ledger
 * does not prove, which decides the exit code.
 */
#ifndef CP_REPORT_H
#define CP_REPORT_H

#include <stdint.h>

#include "plan.h"

/* The counters of one run besides the plan's own. */
struct run_stats {
	int64_t start_ms;                       /* monotonic */
	int64_t first_lease_ms, last_commit_ms; /* the fetch phase */
	uint64_t n429, n418;
};

/* The plan's counters summed over its targets. */
struct totals {
	int64_t slots_total, slots_done, slots_hit;
	uint64_t requests, received, new_candles, retries, bytes;
	int failed_targets;
};

void report_sum(const struct plan *p, struct totals *s);
/* The progress line on stdout: rewritten in place on a tty (tty != 0), one
 * line per call otherwise; final ends the line. */
void report_progress(const struct plan *p, const struct run_stats *r, int tty, int final);
/* Checks every target against the ledger at db_path and prints the
 * summary; the ranges not covered go to stderr with their reason. Returns
 * EXIT_OK or EXIT_FAILED. */
int report_final(const struct plan *p, const struct run_stats *r, const char *db_path);

#endif
