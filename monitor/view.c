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
bar(struct buf *b, double frac, int width)
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

/* The plural ending of n things. */
static const char *
plural(long long n)
{
	return n == 1 ? "" : "s";
}

/* A rate for people: "%.*f" of v, or "n/a" when it is not known. */
static const char *
rate_text(int known, double v, int decimals, char *out, size_t cap)
{
	if (!known)
		snprintf(out, cap, "n/a");
	else
		snprintf(out, cap, "%.*f", decimals, v);
	return out;
}

static double
ratio(int64_t a, int64_t b)
{
	return b > 0 ? (double)a / (double)b : 0;
}

static void
targets(const struct monitor *m, struct buf *b, int cols, int max_rows)
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
			buf_printf(b, "  ... and %d more targets" EOL, p->nt - i);
			break;
		}
		buf_printf(b, "  %-10.10s %-3.3s ", t->market, t->tf);
		bar(b, f, bw);
		buf_printf(b, " %5.1f%% %9lld/%-9lld req %-6lld %s" EOL, 100 * f,
		           (long long)t->slots_done, (long long)t->slots_total,
		           (long long)t->requests, t->failed ? "FAILED" : "");
		shown++;
	}
}

/* A phase's average over the chunks it is known for, or "?". */
static const char *
avg_text(char *buf, size_t cap, int64_t sum, int64_t n, int decimals)
{
	if (n <= 0)
		return "?";
	snprintf(buf, cap, "%.*f", decimals, (double)sum / (double)n);
	return buf;
}

static void
chunk_line(const struct monitor *m, struct buf *b)
{
	char q[24], r[24], a[24], p[24], w[24], t[24];

	if (m->chunks == 0) {
		buf_puts(b, " chunks      none committed since the monitor attached" EOL);
		return;
	}
	buf_printf(b,
	           " chunks      %llu committed (%llu from coverage); avg ms: queue %s, "
	           "rate wait %s, api %s, parse %s, write %s, total %s" EOL,
	           (unsigned long long)m->chunks, (unsigned long long)m->chunks_cov,
	           avg_text(q, sizeof(q), m->sum.queue_ms, m->nsum.queue_ms, 0),
	           avg_text(r, sizeof(r), m->sum.rate_wait_ms, m->nsum.rate_wait_ms, 0),
	           avg_text(a, sizeof(a), m->sum.api_ms, m->nsum.api_ms, 0),
	           avg_text(p, sizeof(p), m->sum.parse_ms, m->nsum.parse_ms, 1),
	           avg_text(w, sizeof(w), m->sum.write_ms, m->nsum.write_ms, 1),
	           avg_text(t, sizeof(t), m->sum.total_ms, m->nsum.total_ms, 0));
	buf_puts(b, "             (overlap analysis runs once at plan time, not per chunk)" EOL);
}

static void
failures(const struct monitor *m, struct buf *b, int max_rows)
{
	int n = 0;

	for (int i = 0; i < m->p.nt; i++) {
		const struct mon_target *t = &m->p.t[i];
		if (!t->failed && !t->reason[0])
			continue;
		if (n++ == max_rows) {
			buf_puts(b, "  ..." EOL);
			break;
		}
		buf_printf(b, " failed      %s %s: %.100s" EOL, t->market, t->tf,
		           t->reason[0] ? t->reason : "(no reason)");
	}
}

/* After the run: what it did, averaged over the whole run. */
static void
finished_summary(const struct monitor *m, struct buf *b)
{
	const struct mon_progress *p = &m->p;
	char cps[32], rps[32];
	double c = 0, r = 0;
	int known = mon_rate(p->candles, p->elapsed_ms, &c) == 0;

	known = known && mon_rate(p->requests, p->elapsed_ms, &r) == 0;
	buf_printf(b,
	           " summary     %lld/%lld slots covered (%lld already there), "
	           "%lld candle%s received, %lld stored new" EOL,
	           (long long)p->slots_done, (long long)p->slots_total, (long long)p->slots_hit,
	           (long long)p->candles, plural(p->candles), (long long)p->new_candles);
	buf_printf(b,
	           "             %lld request%s, %lld retr%s, 429 %lld, 418 %lld, "
	           "%.1f candles/request, %.1f%% coverage hit ratio, %.1f MB" EOL,
	           (long long)p->requests, plural(p->requests), (long long)p->retries,
	           p->retries == 1 ? "y" : "ies", (long long)p->n429, (long long)p->n418,
	           ratio(p->candles, p->requests), 100 * ratio(p->slots_hit, p->slots_total),
	           (double)p->bytes / 1e6);
	buf_printf(b, "             %s candles/s, %s requests/s on average" EOL,
	           rate_text(known, c, 0, cps, sizeof(cps)),
	           rate_text(known, r, 1, rps, sizeof(rps)));
	buf_printf(b, " pattern     %s, efficiency %.2f" EOL, pattern_names[m->pat.kind],
	           m->pat.efficiency);
	chunk_line(m, b);
	failures(m, b, 5);
	buf_puts(b, EOL " waiting for the next run (Ctrl-C to leave)" EOL "\033[J");
}

/* Draws the view into b, line by line, without regard to the width. */
static void
render(const struct monitor *m, struct buf *b, int cols, int rows, const char *status)
{
	const struct mon_progress *p = &m->p;
	char el[32], rem[32], tot[32], eta[MON_UTC_LEN], cps[32], rps[32];
	int trows = rows - 16;

	buf_reset(b);
	buf_puts(b, "\033[H");
	buf_printf(b, "\033[1mcandlepipe monitor\033[0m  %s" EOL, status);
	if (!m->have_progress) {
		buf_puts(b, EOL " waiting for the pipeline's first progress event..." EOL "\033[J");
		return;
	}
	fmt_dur((double)p->elapsed_ms / 1000.0, el, sizeof(el));
	if (p->finished) {
		buf_printf(b, " run %lld \033[1mfinished\033[0m in %s" EOL, (long long)p->run, el);
		targets(m, b, cols, trows > 1 ? trows : 1);
		finished_summary(m, b);
		return;
	}
	buf_printf(b, " run %lld     elapsed %s   %.1f%% done (%lld/%lld slots)" EOL,
	           (long long)p->run, el, 100 * m->pred.progress, (long long)p->slots_done,
	           (long long)p->slots_total);
	targets(m, b, cols, trows > 1 ? trows : 1);
	buf_printf(b,
	           " throughput  %s candles/s   %s requests/s of %.1f allowed "
	           "(rate_limit %.1f/source, %d source%s)" EOL,
	           rate_text(m->rates_known, m->cps, 0, cps, sizeof(cps)),
	           rate_text(m->rates_known, m->rps, 1, rps, sizeof(rps)), m->allowed_rate,
	           p->rate_limit, p->ns, plural(p->ns));
	for (int i = 0; i < p->ns && i < 4; i++)
		if (p->s[i].blocked_ms > 0)
			buf_printf(b, "             source %s blocked for %.1f s" EOL,
			           p->s[i].source, (double)p->s[i].blocked_ms / 1000.0);
	buf_printf(b, " errors      429: %lld   418: %lld   retries: %lld" EOL, (long long)p->n429,
	           (long long)p->n418, (long long)p->retries);
	buf_printf(b,
	           " efficiency  %.1f candles/request (%.0f%% of 200), %lld request%s, "
	           "coverage hit ratio %.1f%% (%lld of %lld slots needed no request)" EOL,
	           ratio(p->candles, p->requests), 100 * ratio(p->candles, p->requests * 200),
	           (long long)p->requests, plural(p->requests),
	           100 * ratio(p->slots_hit, p->slots_total), (long long)p->slots_hit,
	           (long long)p->slots_total);
	chunk_line(m, b);
	failures(m, b, 3);
	buf_printf(b,
	           " pattern     %s (%.1f slots/candle), efficiency score %.2f, "
	           "budget used %.0f%%" EOL,
	           pattern_names[m->pat.kind], m->pat.spc, m->pat.efficiency,
	           100 * m->pat.utilisation);
	buf_printf(b, " suggestion  %s" EOL, m->pat.suggestion);
	if (m->pred.available) {
		fmt_dur(m->pred.remaining_s, rem, sizeof(rem));
		fmt_dur(m->pred.total_s, tot, sizeof(tot));
		mon_time_utc(time_now() + (int64_t)m->pred.remaining_s, eta);
		buf_printf(b, " prediction  done in %s at %s (total %s)" EOL, rem, eta, tot);
	} else
		buf_printf(b, " prediction  from 10%% progress on" EOL);
	buf_puts(b, "\033[J");
}

/* Length of the escape sequence at s (ESC [ params final), 0 if none. */
static size_t
escape_len(const char *s, size_t n)
{
	size_t i = 2;

	if (n < 2 || s[0] != '\033' || s[1] != '[')
		return 0;
	while (i < n && !(s[i] >= 0x40 && s[i] <= 0x7e))
		i++;
	return i < n ? i + 1 : n;
}

/* Cuts every line of b to cols columns, keeping the escape sequences (the
 * colours are reset and the line cleared all the same): the view never
 * wraps. UTF-8 continuation bytes take no column. */
static void
fit_width(struct buf *b, int cols)
{
	size_t in = 0, out = 0, e;
	int col = 0;

	while (in < b->len) {
		char c = b->data[in];

		if ((e = escape_len(b->data + in, b->len - in)) > 0) {
			memmove(b->data + out, b->data + in, e);
			in += e;
			out += e;
			continue;
		}
		if (c == '\n')
			col = 0;
		else if (((unsigned char)c & 0xc0) != 0x80)
			col++; /* a character starts: it takes a column */
		/* past the width: dropped, with the rest of its character */
		if (col <= cols)
			b->data[out++] = c;
		in++;
	}
	b->len = out;
	if (b->data != NULL)
		b->data[out] = '\0';
}

void
mon_view_render(const struct monitor *m, struct buf *b, int cols, int rows, const char *status)
{
	render(m, b, cols, rows, status);
	if (cols > 0)
		fit_width(b, cols);
}
