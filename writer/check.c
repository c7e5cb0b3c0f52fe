/*
 * check.c: the writer's check of a RESULT's coverage proof (see check.h for
 * the rules and where they come from). It owns the rules and the refusal
 * that sends a failing chunk back to the planner; it touches neither the
 * database nor ZeroMQ, so unit tests call it directly.
 *
 * The lease names only the top of its range (`to`) and a count: Upbit walks
 * back over intervals without trades, so a candle may lie far below the
 * segment's bottom (seg_lo) and the leased range is [0, to), the start of
 * history to `to`. That the candles are closed, and their decimals present,
 * is store.c's own check at write time.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "log.h"
#include "tf.h"
#include "timeutil.h"

const char *const check_rule_names[CHECK_RULE_END] = {
	[CHECK_OK] = "ok",
	[CHECK_TIMEFRAME] = "timeframe",
	[CHECK_RECEIVED] = "received",
	[CHECK_RANGE] = "range",
	[CHECK_GRID] = "grid",
	[CHECK_ORDER] = "order",
	[CHECK_ENDS] = "newest/oldest",
	[CHECK_HISTORY_END] = "history_end",
	[CHECK_EFFECTIVE_END] = "effective_end",
};

static enum check_rule broken(char *why, size_t whylen, enum check_rule rule, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Puts how rule is broken in why; returns rule. */
static enum check_rule
broken(char *why, size_t whylen, enum check_rule rule, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return rule;
}

/* Candle i against the leased range, the grid and its newer neighbour. */
static enum check_rule
check_candle(const struct msg_result *r, size_t i, char *why, size_t whylen)
{
	enum tf tf = (enum tf)r->ci.tf;
	int64_t start = r->candles[i].start;
	char t[TIME_TEXT_LEN], to[TIME_TEXT_LEN];

	time_format(start, t);
	time_format(r->ci.to, to);
	if (start < 0 || start >= r->ci.to)
		return broken(why, whylen, CHECK_RANGE, "candle %zu starts at %s, outside [0, %s)",
		              i, t, to);
	if (!tf_aligned(tf, start))
		return broken(why, whylen, CHECK_GRID, "candle %zu starts at %lld, off the %s grid",
		              i, (long long)start, tf_name(tf));
	if (i > 0 && start >= r->candles[i - 1].start)
		return broken(why, whylen, CHECK_ORDER,
		              "candle %zu (%s) is not older than candle %zu", i, t, i - 1);
	return CHECK_OK;
}

/* The summary fields against the candles. */
static enum check_rule
check_summary(const struct msg_result *r, char *why, size_t whylen)
{
	const struct chunk_info *ci = &r->ci;
	uint16_t n = r->ncandles;
	int64_t newest = n > 0 ? r->candles[0].start : 0;
	int64_t oldest = n > 0 ? r->candles[n - 1].start : 0;
	int64_t effective_end = ci->history_end ? 0 : oldest;

	if (ci->newest != newest || ci->oldest != oldest)
		return broken(why, whylen, CHECK_ENDS,
		              "newest %lld, oldest %lld; the candles say %lld, %lld",
		              (long long)ci->newest, (long long)ci->oldest, (long long)newest,
		              (long long)oldest);
	if ((ci->history_end != 0) != (ci->received < ci->count))
		return broken(why, whylen, CHECK_HISTORY_END,
		              "history_end %u with %u of %u candles (set only when fewer came)",
		              ci->history_end, ci->received, ci->count);
	if (ci->effective_end != effective_end)
		return broken(why, whylen, CHECK_EFFECTIVE_END, "effective_end %lld, not %lld (%s)",
		              (long long)ci->effective_end, (long long)effective_end,
		              ci->history_end ? "history ends: the start of history"
		                              : "the oldest candle's start");
	return CHECK_OK;
}

enum check_rule
check_result(const struct msg_result *r, char *why, size_t whylen)
{
	const struct chunk_info *ci = &r->ci;
	enum check_rule rule;
	size_t i;

	why[0] = '\0';
	if (ci->tf >= TF_COUNT)
		return broken(why, whylen, CHECK_TIMEFRAME, "unknown timeframe %u", ci->tf);
	if (r->ncandles != ci->received || ci->received > ci->count ||
	    (r->ncandles > 0 && r->candles == NULL))
		return broken(why, whylen, CHECK_RECEIVED, "%u candles, received %u, count %u",
		              r->ncandles, ci->received, ci->count);
	for (i = 0; i < r->ncandles; i++) {
		rule = check_candle(r, i, why, whylen);
		if (rule != CHECK_OK)
			return rule;
	}
	return check_summary(r, why, whylen);
}

void
check_refusal(const struct msg_result *r, enum check_rule rule, const char *why,
              struct msg_failed *f)
{
	const struct chunk_info *ci = &r->ci;
	char from[TIME_TEXT_LEN], to[TIME_TEXT_LEN];

	time_format(ci->history_end ? 0 : ci->effective_end, from);
	time_format(ci->to, to);
	log_warnx("%.*s %s [%s, %s): RESULT of chunk %llu refused, rule %s broken: %s;"
	          " not committed, handed back to the planner as failed",
	          MARKET_MAX, ci->market, tf_name((enum tf)ci->tf), from, to,
	          (unsigned long long)ci->id, check_rule_names[rule], why);
	memset(f, 0, sizeof(*f));
	f->ci = *ci;
	f->kind = FAIL_TEMP_BODY;
	snprintf(f->source, sizeof(f->source), "writer");
	snprintf(f->reason, sizeof(f->reason), "writer check: %s: %s", check_rule_names[rule], why);
}
