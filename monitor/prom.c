/*
 * prom.c: the Prometheus exposition (text format 0.0.4) at /metrics.
 * The main thread renders the text each tick and publishes a copy under a
 * mutex; libmicrohttpd's own thread serves the latest copy. Counters sum
 * over every run the monitor saw, so they only go up; histograms cover the
 * chunks committed while the monitor was attached.
 */
#include <arpa/inet.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "mon.h"

static struct MHD_Daemon *daemon_h;
static pthread_mutex_t snap_mtx = PTHREAD_MUTEX_INITIALIZER;
static char *snap;
static size_t snap_len;

static void
head(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
label_value(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			buf_printf(b, "\\%c", *s);
		else if (*s == '\n')
			buf_puts(b, "\\n");
		else
			tb_putn(b, s, 1);
	}
}

/* A sample's value: the shortest decimal that reads back the same, or
 * Prometheus's NaN, +Inf, -Inf. */
static void
sample_value(struct buf *b, double v)
{
	if (isnan(v))
		buf_puts(b, "NaN");
	else if (isinf(v))
		buf_puts(b, v > 0 ? "+Inf" : "-Inf");
	else
		tb_double(b, v);
}

static void
hist(struct buf *b, const char *name, const char *help, const struct mon_hist *h)
{
	uint64_t cum = 0;

	head(b, name, "histogram", help);
	for (int i = 0; i < MON_HIST_N; i++) {
		cum += h->b[i];
		buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, mon_hist_le[i],
		           (unsigned long long)cum);
	}
	buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)h->count);
	buf_printf(b, "%s_sum ", name);
	sample_value(b, h->sum);
	buf_printf(b, "\n%s_count %llu\n", name, (unsigned long long)h->count);
}

static void
scalar(struct buf *b, const char *name, const char *type, const char *help, double v)
{
	head(b, name, type, help);
	buf_printf(b, "%s ", name);
	sample_value(b, v);
	tb_putn(b, "\n", 1);
}

static void
per_target(struct buf *b, const struct monitor *m, const char *name, const char *help, int what)
{
	head(b, name, "gauge", help);
	for (int i = 0; i < m->p.nt; i++) {
		const struct mon_target *t = &m->p.t[i];
		int64_t v = what == 0   ? t->slots_total
		            : what == 1 ? t->slots_done
		            : what == 2 ? t->slots_hit
		                        : t->failed;
		buf_printf(b, "%s{market=\"", name);
		label_value(b, t->market);
		buf_puts(b, "\",timeframe=\"");
		label_value(b, t->tf);
		buf_printf(b, "\"} %lld\n", (long long)v);
	}
}

void
mon_prom_render(const struct monitor *m, struct buf *b)
{
	const struct mon_progress *p = &m->p;

	buf_reset(b);
	scalar(b, "candlepipe_requests_total", "counter",
	       "Candle requests completed (answered or failed), all runs.",
	       (double)mon_total(m, m->base_requests, p->requests));
	scalar(b, "candlepipe_candles_received_total", "counter",
	       "Candles received in responses, all runs.",
	       (double)mon_total(m, m->base_candles, p->candles));
	scalar(b, "candlepipe_candles_new_total", "counter",
	       "Candles newly stored (rows inserted), all runs.",
	       (double)mon_total(m, m->base_new, p->new_candles));
	scalar(b, "candlepipe_retries_total", "counter",
	       "Chunks sent again after a temporary failure, all runs.",
	       (double)mon_total(m, m->base_retries, p->retries));
	scalar(b, "candlepipe_response_bytes_total", "counter",
	       "Response body bytes of committed chunks, all runs.",
	       (double)mon_total(m, m->base_bytes, p->bytes));
	head(b, "candlepipe_http_responses_total", "counter",
	     "Rate-limit HTTP responses counted by the planner (429, 418), all runs.");
	buf_printf(b, "candlepipe_http_responses_total{code=\"429\"} %lld\n",
	           (long long)mon_total(m, m->base_429, p->n429));
	buf_printf(b, "candlepipe_http_responses_total{code=\"418\"} %lld\n",
	           (long long)mon_total(m, m->base_418, p->n418));
	head(b, "candlepipe_events_total", "counter", "Events received by this monitor, by topic.");
	for (int i = 0; i < T_COUNT; i++)
		buf_printf(b, "candlepipe_events_total{topic=\"%s\"} %llu\n", mon_topic_names[i],
		           (unsigned long long)m->ev[i]);
	scalar(b, "candlepipe_events_invalid_total", "counter",
	       "Events dropped because their payload did not decode.", (double)m->ev_bad);
	scalar(b, "candlepipe_chunks_committed_total", "counter",
	       "Committed chunks seen by this monitor.", (double)m->chunks_all);
	scalar(b, "candlepipe_chunks_from_coverage_total", "counter",
	       "Committed chunks served from existing coverage (complete overlap or duplicate).",
	       (double)m->chunks_cov_all);
	per_target(b, m, "candlepipe_slots_total", "Slots requested, per target (current run).", 0);
	per_target(b, m, "candlepipe_slots_done", "Slots covered so far, per target (current run).",
	           1);
	per_target(b, m, "candlepipe_slots_hit", "Slots already covered at start, per target.", 2);
	per_target(b, m, "candlepipe_target_failed", "1 if the target has failed ranges.", 3);
	head(b, "candlepipe_source_allowed_requests_per_second", "gauge",
	     "Requests/s the planner's budget allows each source now.");
	for (int i = 0; i < p->ns; i++) {
		buf_puts(b, "candlepipe_source_allowed_requests_per_second{source=\"");
		label_value(b, p->s[i].source);
		buf_puts(b, "\"} ");
		sample_value(b, p->s[i].allowed);
		tb_putn(b, "\n", 1);
	}
	scalar(b, "candlepipe_rate_limit_requests_per_second", "gauge",
	       "Configured --rate per source address.", p->rate_limit);
	scalar(b, "candlepipe_requests_per_second", "gauge",
	       "Requests/s over the last 10 s, in whole seconds (NaN under one second).",
	       m->rates_known ? m->rps : NAN);
	scalar(b, "candlepipe_candles_per_second", "gauge",
	       "Candles received/s over the last 10 s, in whole seconds (NaN under one second).",
	       m->rates_known ? m->cps : NAN);
	scalar(b, "candlepipe_progress_ratio", "gauge",
	       "Work done: (slots_done - slots_hit) / (slots_total - slots_hit).",
	       m->pred.progress);
	scalar(b, "candlepipe_coverage_hit_ratio", "gauge",
	       "Slots that needed no request: slots_hit / slots_total.",
	       p->slots_total ? (double)p->slots_hit / (double)p->slots_total : 0);
	scalar(b, "candlepipe_elapsed_seconds", "gauge", "Run time so far.",
	       (double)p->elapsed_ms / 1000.0);
	scalar(b, "candlepipe_finished", "gauge", "1 once the run has finished.", p->finished);
	scalar(b, "candlepipe_predicted_remaining_seconds", "gauge",
	       "Predicted time to completion (NaN before 10% progress).",
	       m->pred.available ? m->pred.remaining_s : NAN);
	scalar(b, "candlepipe_predicted_total_seconds", "gauge",
	       "Predicted total run time (NaN before 10% progress).",
	       m->pred.available ? m->pred.total_s : NAN);
	scalar(b, "candlepipe_efficiency_score", "gauge",
	       "Candles per request / 200 times rate budget utilisation.", m->pat.efficiency);
	head(b, "candlepipe_pattern", "gauge", "The collection pattern (1 for the current one).");
	for (int i = 0; i < PATTERN_END; i++)
		buf_printf(b, "candlepipe_pattern{type=\"%s\"} %d\n", pattern_names[i],
		           m->pat.kind == (enum pattern_kind)i);
	hist(b, "candlepipe_chunk_queue_seconds", "Planned to leased, per chunk.", &m->h_queue);
	hist(b, "candlepipe_chunk_rate_wait_seconds",
	     "Leased to sent (waiting for the rate token), per chunk.", &m->h_wait);
	hist(b, "candlepipe_chunk_api_seconds", "Sent to answered (the API call), per chunk.",
	     &m->h_api);
	hist(b, "candlepipe_chunk_parse_seconds", "Answered to parsed, per chunk.", &m->h_parse);
	hist(b, "candlepipe_chunk_write_seconds", "Parsed to committed (the writer), per chunk.",
	     &m->h_write);
	hist(b, "candlepipe_chunk_total_seconds", "Planned to committed, per chunk.", &m->h_total);
}

void
prom_publish(const struct buf *text)
{
	char *c;

	if (daemon_h == NULL || text->err || text->data == NULL)
		return;
	if ((c = malloc(text->len + 1)) == NULL)
		return;
	memcpy(c, text->data, text->len + 1);
	pthread_mutex_lock(&snap_mtx);
	free(snap);
	snap = c;
	snap_len = text->len;
	pthread_mutex_unlock(&snap_mtx);
}

static enum MHD_Result
answer(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
       const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct MHD_Response *r;
	enum MHD_Result rc;
	unsigned code = MHD_HTTP_OK;

	(void)cls, (void)version, (void)upload, (void)upload_size, (void)con_cls;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		static const char msg[] = "method not allowed\n";
		r = MHD_create_response_from_buffer(sizeof(msg) - 1, (void *)(uintptr_t)msg,
		                                    MHD_RESPMEM_PERSISTENT);
		code = MHD_HTTP_METHOD_NOT_ALLOWED;
	} else if (strcmp(url, "/metrics") != 0) {
		static const char msg[] = "candlepipe monitor: see /metrics\n";
		r = MHD_create_response_from_buffer(sizeof(msg) - 1, (void *)(uintptr_t)msg,
		                                    MHD_RESPMEM_PERSISTENT);
		code = MHD_HTTP_NOT_FOUND;
	} else {
		pthread_mutex_lock(&snap_mtx);
		r = MHD_create_response_from_buffer(snap ? snap_len : 0, snap ? snap : (char *)"",
		                                    MHD_RESPMEM_MUST_COPY);
		pthread_mutex_unlock(&snap_mtx);
		if (r != NULL)
			MHD_add_response_header(r, "Content-Type",
			                        "text/plain; version=0.0.4; charset=utf-8");
	}
	if (r == NULL)
		return MHD_NO;
	rc = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return rc;
}

/* Parses ADDR:PORT (IPv4; empty or "*": any address) into sin and host. */
static int
parse_addr(const char *addr_port, struct sockaddr_in *sin, char *host, size_t cap)
{
	const char *colon = strrchr(addr_port, ':');
	char *end;
	long port;

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	if (colon == NULL || (size_t)(colon - addr_port) >= cap)
		return -1;
	memcpy(host, addr_port, (size_t)(colon - addr_port));
	host[colon - addr_port] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || port < 0 || port > 65535)
		return -1;
	if (host[0] == '\0' || strcmp(host, "*") == 0)
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
	else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		return -1;
	sin->sin_port = htons((uint16_t)port);
	return 0;
}

/* Writes the port to file (common/fsutil: atomic, durable); warns on
 * failure: the metrics are served all the same. */
static void
write_port_file(const char *file, long port)
{
	char text[32], err[FS_ERR_MAX];

	snprintf(text, sizeof(text), "%ld\n", port);
	if (fs_write_file(file, text, strlen(text), 0666, 0, err, sizeof(err)) != FS_OK)
		log_warnx("cannot write %s: %s", file, err);
}

int
prom_start(const char *addr_port, const char *port_file)
{
	struct sockaddr_in sin;
	char host[64];
	long port;
	const union MHD_DaemonInfo *info;

	if (parse_addr(addr_port, &sin, host, sizeof(host)) == -1)
		return -1;
	port = ntohs(sin.sin_port);
	daemon_h = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
	                            (uint16_t)port, NULL, NULL, answer, NULL, MHD_OPTION_SOCK_ADDR,
	                            (struct sockaddr *)&sin, MHD_OPTION_CONNECTION_TIMEOUT, 10U,
	                            MHD_OPTION_END);
	if (daemon_h == NULL) {
		log_warnx("prometheus: cannot listen on %s", addr_port);
		return -2;
	}
	info = MHD_get_daemon_info(daemon_h, MHD_DAEMON_INFO_BIND_PORT);
	if (info != NULL)
		port = info->port;
	log_info("prometheus: serving http://%s:%ld/metrics", host[0] ? host : "0.0.0.0", port);
	if (port_file != NULL)
		write_port_file(port_file, port);
	return 0;
}

void
prom_stop(void)
{
	if (daemon_h != NULL)
		MHD_stop_daemon(daemon_h);
	daemon_h = NULL;
	free(snap);
	snap = NULL;
}
