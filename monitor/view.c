/*
 * view.c: the live terminal view, drawn with plain ANSI sequences (cursor
 * home, clear to end of line) so no curses is needed: a progress bar per
 * market and timeframe, rates against the budget, errors, efficiency,
 * coverage, chunk timings, failures, the pattern and the prediction; after
 * the run, a final summary.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mon.h"
#include "timeutil.h"

#define EOL "\033[K\n"

static void
fmt_dur(double s, char *out, size_t cap)
{
	long t = s > 0 && s < 1e9 ? (long)(s + 0.5) : 0;

	if (t >= 3600)
		snprintf(out, cap, "%ldh%02ldm%02lds", t / 3600, t / 60 % 60, t % 60);
	else if (t >= 60)
		snprintf(out, cap, "%ldm%02lds", t / 60, t % 60);
	else
		snprintf(out, cap, "%lds", t);
}

static void
bar(struct tbuf *b, double frac, int width)
{
	int full = (int)(frac * width + 0.5);

	if (full > width)
		full = width;
	if (full < 0)
		full = 0;
	tb_putn(b, "[", 1);
	for (int i = 0; i < width; i++)
		tb_putn(b, i < full ? "#" : ".", 1);
	tb_putn(b, "]", 1);
}

static double
ratio(int64_t a, int64_t b)
{
	return b > 0 ? (double)a / (double)b : 0;
}

static void
targets(const struct monitor *m, struct tbuf *b, int cols, int max_rows)
{
	const struct mon_progress *p = &m->p;
	int bw = cols - 70, shown = 0;

	if (bw > 50)
		bw = 50;
	if (bw < 10)
		bw = 10;
	for (int i = 0; i < p->nt; i++) {
		const struct mon_target *t = &p->t[i];
		double f = t->slots_total ? (double)t->slots_done / (double)t->slots_total : 1;
		if (shown == max_rows && p->nt - i > 1) {
			tb_printf(b, "  ... and %d more targets" EOL, p->nt - i);
			break;
		}
		tb_printf(b, "  %-10.10s %-3.3s ", t->market, t->tf);
		bar(b, f, bw);
		tb_printf(b, " %5.1f%% %9lld/%-9lld req %-6lld %s" EOL, 100 * f,
		          (long long)t->slots_done, (long long)t->slots_total,
		          (long long)t->requests, t->failed ? "FAILED" : "");
		shown++;
	}
}

static void
chunk_line(const struct monitor *m, struct tbuf *b)
{
	double n = (double)m->chunks;

	if (m->chunks == 0) {
		tb_puts(b, " chunks      none committed since the monitor attached" EOL);
		return;
	}
	tb_printf(b,
	          " chunks      %llu committed (%llu from coverage); avg ms: queue %.0f, "
	          "rate wait %.0f, api %.0f, parse %.1f, write %.1f, total %.0f" EOL,
	          (unsigned long long)m->chunks, (unsigned long long)m->chunks_cov,
	          (double)m->sum.queue_ms / n, (double)m->sum.rate_wait_ms / n,
	          (double)m->sum.api_ms / n, (double)m->sum.parse_ms / n,
	          (double)m->sum.write_ms / n, (double)m->sum.total_ms / n);
	tb_puts(b, "             (overlap analysis runs once at plan time, not per chunk)" EOL);
}

static void
failures(const struct monitor *m, struct tbuf *b, int max_rows)
{
	int n = 0;

	for (int i = 0; i < m->p.nt; i++) {
		const struct mon_target *t = &m->p.t[i];
		if (!t->failed && !t->reason[0])
			continue;
		if (n++ == max_rows) {
			tb_puts(b, "  ..." EOL);
			break;
		}
		tb_printf(b, " failed      %s %s: %.100s" EOL, t->market, t->tf,
		          t->reason[0] ? t->reason : "(no reason)");
	}
}

void
mon_view_render(const struct monitor *m, struct tbuf *b, int cols, int rows, const char *status)
{
	const struct mon_progress *p = &m->p;
	char el[32], rem[32], tot[32], eta[TIME_TEXT_LEN];
	int trows = rows - 16;

	tb_reset(b);
	tb_puts(b, "\033[H");
	tb_printf(b, "\033[1mcandlepipe monitor\033[0m  %s" EOL, status);
	if (!m->have_progress) {
		tb_puts(b, EOL " waiting for the pipeline's first progress event..." EOL "\033[J");
		return;
	}
	fmt_dur((double)p->elapsed_ms / 1000.0, el, sizeof(el));
	if (p->finished) {
		tb_printf(b, " run %lld \033[1mfinished\033[0m in %s" EOL, (long long)p->run, el);
		targets(m, b, cols, trows > 1 ? trows : 1);
		tb_printf(b,
		          " summary     %lld/%lld slots covered (%lld already there), "
		          "%lld candles received, %lld stored new" EOL,
		          (long long)p->slots_done, (long long)p->slots_total,
		          (long long)p->slots_hit, (long long)p->candles,
		          (long long)p->new_candles);
		tb_printf(b,
		          "             %lld requests, %lld retries, 429 %lld, 418 %lld, "
		          "%.1f candles/request, %.1f%% coverage hit ratio, %.1f MB" EOL,
		          (long long)p->requests, (long long)p->retries, (long long)p->n429,
		          (long long)p->n418, ratio(p->candles, p->requests),
		          100 * ratio(p->slots_hit, p->slots_total), (double)p->bytes / 1e6);
		tb_printf(b, "             %.0f candles/s, %.1f requests/s on average" EOL,
		          ratio(p->candles * 1000, p->elapsed_ms),
		          ratio(p->requests * 1000, p->elapsed_ms));
		tb_printf(b, " pattern     %s, efficiency %.2f" EOL, pattern_names[m->pat.kind],
		          m->pat.efficiency);
		chunk_line(m, b);
		failures(m, b, 5);
		tb_puts(b, EOL " waiting for the next run (Ctrl-C to leave)" EOL "\033[J");
		return;
	}
	tb_printf(b, " run %lld     elapsed %s   %.1f%% done (%lld/%lld slots)" EOL,
	          (long long)p->run, el, 100 * m->pred.progress, (long long)p->slots_done,
	          (long long)p->slots_total);
	targets(m, b, cols, trows > 1 ? trows : 1);
	tb_printf(b,
	          " throughput  %.0f candles/s   %.1f requests/s of %.1f allowed "
	          "(rate_limit %.1f/source, %d source%s)" EOL,
	          m->cps, m->rps, m->allowed_rate, p->rate_limit, p->ns, p->ns == 1 ? "" : "s");
	for (int i = 0; i < p->ns && i < 4; i++)
		if (p->s[i].blocked_ms > 0)
			tb_printf(b, "             source %s blocked for %.1f s" EOL,
			          p->s[i].source, (double)p->s[i].blocked_ms / 1000.0);
	tb_printf(b, " errors      429: %lld   418: %lld   retries: %lld" EOL, (long long)p->n429,
	          (long long)p->n418, (long long)p->retries);
	tb_printf(b,
	          " efficiency  %.1f candles/request (%.0f%% of 200), %lld requests, "
	          "coverage hit ratio %.1f%% (%lld of %lld slots needed no request)" EOL,
	          ratio(p->candles, p->requests), 100 * ratio(p->candles, p->requests * 200),
	          (long long)p->requests, 100 * ratio(p->slots_hit, p->slots_total),
	          (long long)p->slots_hit, (long long)p->slots_total);
	chunk_line(m, b);
	failures(m, b, 3);
	tb_printf(b,
	          " pattern     %s (%.1f slots/candle), efficiency score %.2f, "
	          "budget used %.0f%%" EOL,
	          pattern_names[m->pat.kind], m->pat.spc, m->pat.efficiency,
	          100 * m->pat.utilisation);
	tb_printf(b, " suggestion  %s" EOL, m->pat.suggestion);
	if (m->pred.available) {
		fmt_dur(m->pred.remaining_s, rem, sizeof(rem));
		fmt_dur(m->pred.total_s, tot, sizeof(tot));
		time_format(time_now() + (int64_t)m->pred.remaining_s, eta);
		tb_printf(b, " prediction  done in %s at %s UTC (total %s)" EOL, rem, eta, tot);
	} else
		tb_printf(b, " prediction  from 10%% progress on" EOL);
	tb_puts(b, "\033[J");
}
