/*
 * progress.h: the planner's "progress" event, published through the event
 * hub (common/hub.h) once a second.
 */
#ifndef CP_PROGRESS_H
#define CP_PROGRESS_H

#include <stdint.h>

#include "budget.h"
#include "plan.h"
#include "report.h"

/* The "progress" event: the totals, each target and each source (nothing
 * without a hub). */
void progress_publish(const struct plan *p, const struct run_stats *r, const struct budget *b,
                      int nb, double rate_limit, int64_t now, int finished);

#endif
