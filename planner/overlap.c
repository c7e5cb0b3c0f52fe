/*
 * overlap.c: overlap analysis in the original system's terms, judged on the
 * coverage ledger (ranges proven complete) instead of row counts, so gaps
 * with no trades never look like holes.
 *
 *   NO_OVERLAP                 nothing of the window is covered
 *   COMPLETE_OVERLAP           all of it is covered: no request
 *   PARTIAL_START              the newest part is covered down to some slot
 *   PARTIAL_MIDDLE_CONTINUOUS  the newest part is missing, the rest is
 *                              covered continuously down to the window's end
 *   PARTIAL_MIDDLE_FRAGMENT    covered pieces in the middle
 *
 * The covered part reported is always a real range, so the effective end of
 * a chunk is never undefined (the original's None).
 */
#include "overlap.h"

enum overlap
overlap_analyze(const struct range_list *covered, int64_t wfrom, int64_t wto, struct range *cov)
{
	const struct range *top = NULL;

	cov->from = cov->to = wfrom;
	if (wfrom >= wto)
		return OV_COMPLETE_OVERLAP;
	/* the newest covered range that intersects the window */
	for (size_t i = covered->n; i-- > 0;) {
		const struct range *r = &covered->v[i];
		if (r->from < wto && r->to > wfrom) {
			top = r;
			break;
		}
	}
	if (top == NULL)
		return OV_NO_OVERLAP;
	cov->from = top->from > wfrom ? top->from : wfrom;
	cov->to = top->to < wto ? top->to : wto;
	if (cov->from == wfrom && cov->to == wto)
		return OV_COMPLETE_OVERLAP;
	if (cov->to == wto)
		return OV_PARTIAL_START;
	if (cov->from == wfrom)
		return OV_PARTIAL_MIDDLE_CONTINUOUS;
	return OV_PARTIAL_MIDDLE_FRAGMENT;
}
