/*
 * overlap.h: the original system's overlap analysis, on the coverage ledger.
 */
#ifndef CP_OVERLAP_H
#define CP_OVERLAP_H

#include "ledger.h"
#include "proto.h"

/* Classifies the window [wfrom, wto) against covered (sorted, merged,
 * non-overlapping ranges). Sets *cov to the covered part the status refers
 * to ([x, x) when none). Never fails. */
enum overlap overlap_analyze(const struct range_list *covered, int64_t wfrom, int64_t wto,
                             struct range *cov);

#endif
