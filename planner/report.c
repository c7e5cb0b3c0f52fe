/*
 * report.c: the planner's output to its user (report.h): the progress line,
 * the end-of-run summary, and the final check of the requested ranges
 * against the ledger ("collect: not covered: ..." and exit 1), and the
 * request rate they show, counted so that it cannot over-count.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ledger.h"
#include "log.h"
#include "pgdb.h"
#include "report.h"
#include "tf.h"
#include "timeutil.h"

#define REPORT_LINE_MAX 4096
#define PROGRESS_MAX 512

static char progress_line[PROGRESS_MAX]; /* the line shown on the tty */
static int progress_shown;

void
report_sum(const struct plan *p, struct totals *s)
{
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < p->nt; i++) {
		const struct target *t = &p->t[i];
		s->slots_total += t->slots_total;
		s->slots_done += t->slots_done;
		s->slots_hit += t->slots_hit;
		s->requests += t->requests;
		s->received += t->received;
		s->new_candles += t->new_candles;
		s->retries += t->retries;
		s->bytes += t->bytes;
		s->failed_targets += t->failed;
	}
}

static double
per_s(uint64_t n, double seconds)
{
	return seconds > 0 ? (double)n / seconds : 0;
}

/* "s" unless n is 1. */
static const char *
plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

void
report_note_send(struct run_stats *r, int64_t at_ms)
{
	if (r->sends.n == 0)
		r->sends.first = at_ms;
	r->sends.t[r->sends.n++ % REPORT_SENDS_RING] = at_ms;
}

/* Sends scheduled in (now_ms - 1000, now_ms]. */
static uint64_t
sends_last_second(const struct send_log *l, int64_t now_ms)
{
	uint64_t k = l->n < REPORT_SENDS_RING ? l->n : REPORT_SENDS_RING, c = 0;

	/* cppcheck-suppress knownConditionTrueFalse ; n grows in report_note_send() */
	for (uint64_t i = 0; i < k; i++)
		if (l->t[i] > now_ms - 1000 && l->t[i] <= now_ms)
			c++;
	return c;
}

/* The newest send time. */
static int64_t
last_send(const struct send_log *l)
{
	return l->t[(l->n - 1) % REPORT_SENDS_RING];
}

void
report_rate_text(const struct run_stats *r, int64_t now_ms, int final, char *buf, size_t len)
{
	const struct send_log *l = &r->sends;
	int64_t windows;

	if (l->n == 0 || now_ms - l->first < 1000) {
		snprintf(buf, len, "n/a");
		return;
	}
	if (!final) {
		snprintf(buf, len, "%llu", (unsigned long long)sends_last_second(l, now_ms));
		return;
	}
	/* the one-second windows from the first send hold every send, and
	 * none of them more than the budget allows */
	windows = (last_send(l) - l->first) / 1000 + 1;
	snprintf(buf, len, "%.1f", (double)l->n / (double)windows);
}

/* The status line hooks of log.c: a log line on the terminal goes on a line
 * of its own, the progress line after it. */
static void
progress_clear(void)
{
	if (!progress_shown)
		return;
	fputs("\r\033[K", stdout);
	fflush(stdout);
}

static void
progress_redraw(void)
{
	if (!progress_shown)
		return;
	fputs(progress_line, stdout);
	fflush(stdout);
}

void
report_progress(const struct plan *p, const struct run_stats *r, int tty, int final)
{
	static int hooked;
	struct totals s;
	int64_t now = time_mono_ms();
	double el = (double)(now - r->start_ms) / 1000.0;
	double pct;
	char rate[32];

	report_sum(p, &s);
	pct = s.slots_total ? 100.0 * (double)s.slots_done / (double)s.slots_total : 100.0;
	report_rate_text(r, now, final, rate, sizeof(rate));
	snprintf(progress_line, sizeof(progress_line),
	         "collect: %5.1f%% %lld/%lld slots | %llu candle%s | %.0f candles/s | "
	         "%s req/s | retries %llu | 429 %llu",
	         pct, (long long)s.slots_done, (long long)s.slots_total,
	         (unsigned long long)s.received, plural(s.received), per_s(s.received, el), rate,
	         (unsigned long long)s.retries, (unsigned long long)r->n429);
	if (tty && !hooked && isatty(STDERR_FILENO)) {
		log_set_status_line(progress_clear, progress_redraw);
		hooked = 1;
	}
	printf("%s%s%s", tty ? "\r\033[K" : "", progress_line, tty && !final ? "" : "\n");
	progress_shown = tty && !final;
	fflush(stdout);
}

/* The text of the pieces of one target the ledger does not prove, appended
 * to line[*off..] ("; " between entries; the last piece carries the reason).
 * Returns how many pieces there are. */
static int
append_missing(const struct target *t, const struct range_list *miss, int first, char *line,
               size_t *off)
{
	const char *reason = t->reason[0] ? t->reason : "interrupted";

	for (size_t k = 0; k < miss->n; k++) {
		char a[TIME_TEXT_LEN], b[TIME_TEXT_LEN];
		int last = k + 1 == miss->n;
		if (*off >= REPORT_LINE_MAX - 200)
			break;
		time_format(miss->v[k].from, a);
		time_format(miss->v[k].to, b);
		*off +=
		    (size_t)snprintf(line + *off, REPORT_LINE_MAX - *off, "%s%s %s %s..%s%s%s%s",
		                     first && k == 0 ? "" : "; ", t->market, tf_name(t->tf), a, b,
		                     last ? " (" : "", last ? reason : "", last ? ")" : "");
	}
	return (int)miss->n;
}

/* Appends the uncovered pieces of every target; returns how many. */
static int
uncovered_ranges(const struct plan *p, const struct ledger_src *db, char *line)
{
	size_t off = 0;
	int uncovered = 0;

	line[0] = '\0';
	for (int i = 0; i < p->nt; i++) {
		const struct target *t = &p->t[i];
		struct range_list want = { 0 }, cov = { 0 }, miss = { 0 };
		if (t->from >= t->to)
			continue;
		range_list_push(&want, t->from, t->to);
		ledger_src_covered(db, t->market, tf_name(t->tf), t->from, t->to, &cov);
		range_subtract(&want, &cov, &miss);
		uncovered += append_missing(t, &miss, uncovered == 0, line, &off);
		range_list_free(&want);
		range_list_free(&cov);
		range_list_free(&miss);
	}
	return uncovered;
}

static void
print_summary(const struct plan *p, const struct run_stats *r)
{
	struct totals s;
	double el = (double)(time_mono_ms() - r->start_ms) / 1000.0;
	double fetch = (double)(r->last_commit_ms - r->first_lease_ms) / 1000.0;

	report_sum(p, &s);
	if (fetch < 0)
		fetch = 0;
	printf("summary: %d range%s in %.1f s: %llu candle%s received, %llu new, "
	       "%llu request%s (%.1f candles/request), %llu %s, %llu x 429, "
	       "%llu x 418, %.0f candles/s (fetch phase %.2f s), %lld of %lld slots "
	       "already covered\n",
	       p->nt, p->nt == 1 ? "" : "s", el, (unsigned long long)s.received, plural(s.received),
	       (unsigned long long)s.new_candles, (unsigned long long)s.requests,
	       plural(s.requests), s.requests ? (double)s.received / (double)s.requests : 0.0,
	       (unsigned long long)s.retries, s.retries == 1 ? "retry" : "retries",
	       (unsigned long long)r->n429, (unsigned long long)r->n418, per_s(s.received, fetch),
	       fetch, (long long)s.slots_hit, (long long)s.slots_total);
	fflush(stdout);
}

int
report_final(const struct plan *p, const struct run_stats *r, const char *db_path)
{
	struct ledger_src db = { NULL, NULL };
	char line[REPORT_LINE_MAX];
	int exists, code, uncovered;

	/* a file no writer made is read as it is; a PostgreSQL one is judged */
	if (pgdb_is_uri(db_path))
		(void)ledger_src_open(db_path, "cp-planner", &db, &code);
	else
		db.db = ledger_open_ro(db_path, &exists);
	uncovered = uncovered_ranges(p, &db, line);
	ledger_src_close(&db);
	print_summary(p, r);
	if (uncovered) {
		fprintf(stderr, "collect: not covered: %s\n", line);
		return EXIT_FAILED;
	}
	return EXIT_OK;
}
