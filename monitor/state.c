/*
 * state.c: the monitor's model. Decodes the planner's progress map (every
 * field type-checked: a hostile payload is dropped, never trusted), joins
 * each lease's leased, fetched and committed events (by id and attempt)
 * into ChunkPerformanceMetrics and histograms, and derives
 * windowed rates, the completion prediction and the pattern every tick.
 *
 * Prediction: the request rate is the steadiest signal (the rate budget
 * holds it flat), and each target's slots per request is steady too (it is
 * the market's density times the candles a request returns); slots per
 * second is not, because sparse markets and history ends make slots jump.
 * So remaining time = sum over targets of remaining slots / that target's
 * slots per request (all requests so far, failures included), divided by
 * the request rate over the last 10 s; total = elapsed + remaining.
 */
#include <math.h>
#include <msgpack.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "events.h"
#include "mon.h"
#include "tf.h"
#include "timeutil.h"

const double mon_hist_le[MON_HIST_N] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
};

#define TOPIC_NAME_(id, topic, publisher, payload) [T_##id] = (topic),
const char *const mon_topic_names[T_COUNT] = { EVENT_TOPICS(TOPIC_NAME_)[T_OTHER] = "other" };

void
mon_init(struct monitor *m)
{
	memset(m, 0, sizeof(*m));
}

void
mon_time_utc(int64_t t, char out[MON_UTC_LEN])
{
	char a[TIME_TEXT_LEN];

	time_format(t, a);
	snprintf(out, MON_UTC_LEN, "%sZ", a);
}

int64_t
mon_total(const struct monitor *m, int64_t base, int64_t cur)
{
	return base + (m->have_progress ? cur : 0);
}

/* --- decoding ------------------------------------------------------------ */

int
mon_get_int(const msgpack_object *o, int64_t *out)
{
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		if (o->via.u64 > (uint64_t)INT64_MAX)
			return -1;
		*out = (int64_t)o->via.u64;
		return 0;
	}
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*out = o->via.i64;
		return 0;
	}
	return -1;
}

static int
get_count(const msgpack_object *o, int64_t *out)
{
	int64_t v;

	if (mon_get_int(o, &v) == -1 || v < 0)
		return -1;
	*out = v;
	return 0;
}

static int
get_double(const msgpack_object *o, double *out)
{
	int64_t i;

	if (o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64) {
		if (!isfinite(o->via.f64))
			return -1;
		*out = o->via.f64;
		return 0;
	}
	if (mon_get_int(o, &i) == -1)
		return -1;
	*out = (double)i;
	return 0;
}

/* Copies a string, truncated to cap - 1 bytes. */
int
mon_get_str(const msgpack_object *o, char *out, size_t cap)
{
	size_t n;

	if (o->type != MSGPACK_OBJECT_STR)
		return -1;
	n = o->via.str.size < cap - 1 ? o->via.str.size : cap - 1;
	memcpy(out, o->via.str.ptr, n);
	out[n] = '\0';
	return 0;
}

int
mon_key_is(const msgpack_object *k, const char *s)
{
	size_t n = strlen(s);
	return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
	       memcmp(k->via.str.ptr, s, n) == 0;
}

static int
decode_target(const msgpack_object *o, void *out)
{
	struct mon_target *t = out;
	const msgpack_object *a;
	int64_t failed;

	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 9)
		return -1;
	a = o->via.array.ptr;
	if (mon_get_str(&a[0], t->market, sizeof(t->market)) == -1 ||
	    mon_get_str(&a[1], t->tf, sizeof(t->tf)) == -1 ||
	    get_count(&a[2], &t->slots_total) == -1 || get_count(&a[3], &t->slots_done) == -1 ||
	    get_count(&a[4], &t->slots_hit) == -1 || get_count(&a[5], &t->requests) == -1 ||
	    get_count(&a[6], &t->candles) == -1 || get_count(&a[7], &failed) == -1 ||
	    mon_get_str(&a[8], t->reason, sizeof(t->reason)) == -1)
		return -1;
	t->failed = failed != 0;
	return 0;
}

static int
decode_source(const msgpack_object *o, void *out)
{
	struct mon_source *s = out;
	const msgpack_object *a;

	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 7)
		return -1;
	a = o->via.array.ptr;
	if (mon_get_str(&a[0], s->source, sizeof(s->source)) == -1 ||
	    get_double(&a[1], &s->allowed) == -1 || get_count(&a[2], &s->blocked_ms) == -1 ||
	    get_count(&a[3], &s->sent) == -1 || get_count(&a[4], &s->n429) == -1 ||
	    get_count(&a[5], &s->n418) == -1 || mon_get_int(&a[6], &s->remaining) == -1)
		return -1;
	return 0;
}

/* Decodes an array of at most max elements of size bytes into base; extra
 * elements are ignored. */
static int
decode_array(const msgpack_object *v, int *n, int max, void *base, size_t size,
             int (*elem)(const msgpack_object *, void *))
{
	if (v->type != MSGPACK_OBJECT_ARRAY)
		return -1;
	for (*n = 0; (uint32_t)*n < v->via.array.size && *n < max; ++*n)
		if (elem(&v->via.array.ptr[*n], (char *)base + (size_t)*n * size) == -1)
			return -1;
	return 0;
}

static int
dec_v(const msgpack_object *v, struct mon_progress *p)
{
	return mon_get_int(v, &p->v) == -1 || p->v != EVENTS_VERSION ? -1 : 0;
}

static int
dec_finished(const msgpack_object *v, struct mon_progress *p)
{
	int64_t x;

	if (get_count(v, &x) == -1 || x > 1)
		return -1;
	p->finished = (int)x;
	return 0;
}

static int
dec_rate_limit(const msgpack_object *v, struct mon_progress *p)
{
	return get_double(v, &p->rate_limit) == -1 || p->rate_limit < 0 ? -1 : 0;
}

static int
dec_targets(const msgpack_object *v, struct mon_progress *p)
{
	return decode_array(v, &p->nt, MON_TARGETS_MAX, p->t, sizeof(p->t[0]), decode_target);
}

static int
dec_sources(const msgpack_object *v, struct mon_progress *p)
{
	return decode_array(v, &p->ns, MON_SOURCES_MAX, p->s, sizeof(p->s[0]), decode_source);
}

/* The progress map's counters: decoded by offset; the first PROGRESS_JSON_INTS
 * are also the progress event's JSON fields, in this order. */
struct int_field {
	const char *key;
	size_t off;
};
#define PROGRESS_INT(k)                              \
	{                                            \
#k, offsetof(struct mon_progress, k) \
	}
static const struct int_field progress_ints[] = {
	PROGRESS_INT(run),         PROGRESS_INT(elapsed_ms),     PROGRESS_INT(slots_total),
	PROGRESS_INT(slots_done),  PROGRESS_INT(slots_hit),      PROGRESS_INT(requests),
	PROGRESS_INT(candles),     PROGRESS_INT(new_candles),    PROGRESS_INT(retries),
	PROGRESS_INT(n429),        PROGRESS_INT(n418),           PROGRESS_INT(bytes),
	PROGRESS_INT(analysis_us), PROGRESS_INT(chunks_planned),
};
#define PROGRESS_JSON_INTS 12

/* The other keys, each with its own check. */
static const struct {
	const char *key;
	int (*dec)(const msgpack_object *, struct mon_progress *);
} progress_fields[] = {
	{ "v", dec_v },
	{ "finished", dec_finished },
	{ "rate_limit", dec_rate_limit },
	{ "targets", dec_targets },
	{ "sources", dec_sources },
};

static int64_t *
progress_int(struct mon_progress *p, size_t off)
{
	return (int64_t *)(void *)((char *)p + off);
}

static int
decode_field(const msgpack_object *k, const msgpack_object *v, struct mon_progress *p)
{
	for (size_t j = 0; j < sizeof(progress_ints) / sizeof(progress_ints[0]); j++)
		if (mon_key_is(k, progress_ints[j].key))
			return get_count(v, progress_int(p, progress_ints[j].off));
	for (size_t j = 0; j < sizeof(progress_fields) / sizeof(progress_fields[0]); j++)
		if (mon_key_is(k, progress_fields[j].key))
			return progress_fields[j].dec(v, p);
	return 0; /* unknown keys: newer planners may add fields */
}

/* p starts zeroed; "v" is required. */
static int
decode_map(const msgpack_object *root, struct mon_progress *p)
{
	if (root->type != MSGPACK_OBJECT_MAP)
		return -1;
	for (uint32_t i = 0; i < root->via.map.size; i++)
		if (decode_field(&root->via.map.ptr[i].key, &root->via.map.ptr[i].val, p) == -1)
			return -1;
	return p->v == EVENTS_VERSION ? 0 : -1;
}

int
mon_decode_progress(const void *data, size_t len, struct mon_progress *out)
{
	static struct mon_progress tmp; /* large: not on the stack */
	msgpack_unpacked up;
	size_t off = 0;
	int rc = -1;

	if (len == 0 || len > MON_PROGRESS_MAX_BYTES)
		return -1;
	memset(&tmp, 0, sizeof(tmp));
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, data, len, &off) == MSGPACK_UNPACK_SUCCESS && off == len &&
	    decode_map(&up.data, &tmp) == 0) {
		*out = tmp;
		rc = 0;
	}
	msgpack_unpacked_destroy(&up);
	return rc;
}

/* --- folding events in --------------------------------------------------- */

static void
reset_run(struct monitor *m)
{
	m->nring = m->ring_head = 0;
	m->chunks = m->chunks_cov = m->chunks_ordered = 0;
	memset(&m->sum, 0, sizeof(m->sum));
	memset(&m->nsum, 0, sizeof(m->nsum));
	m->nchain = 0;
	memset(&m->pred, 0, sizeof(m->pred));
}

void
mon_on_progress(struct monitor *m, const struct mon_progress *p, int64_t now)
{
	if (m->have_progress && p->run != m->p.run) {
		/* a new run: keep the counters monotonic across runs */
		m->base_requests += m->p.requests;
		m->base_candles += m->p.candles;
		m->base_new += m->p.new_candles;
		m->base_retries += m->p.retries;
		m->base_429 += m->p.n429;
		m->base_418 += m->p.n418;
		m->base_bytes += m->p.bytes;
		reset_run(m);
	}
	if (m->nring > 0) {
		int last = (m->ring_head + MON_SAMPLES - 1) % MON_SAMPLES;
		if (p->elapsed_ms < m->ring[last].t)
			m->nring = m->ring_head = 0; /* clock went back: same run restarted */
	}
	m->p = *p;
	m->have_progress = 1;
	m->p_mono_ms = now;
	m->ring[m->ring_head].t = p->elapsed_ms;
	m->ring[m->ring_head].slots = p->slots_done;
	m->ring[m->ring_head].requests = p->requests;
	m->ring[m->ring_head].candles = p->candles;
	m->ring_head = (m->ring_head + 1) % MON_SAMPLES;
	if (m->nring < MON_SAMPLES)
		m->nring++;
}

/* The slot of a lease's times, or -1. */
static int
times_index(const struct monitor *m, const struct chunk_info *ci)
{
	for (int i = 0; i < MON_PENDING; i++)
		if (m->pend[i].have != 0 && m->pend[i].id == ci->id &&
		    m->pend[i].attempt == ci->attempt)
			return i;
	return -1;
}

/* The times of a lease: its entry, or a new one in the ring. */
static struct mon_times *
times_for(struct monitor *m, const struct chunk_info *ci)
{
	int i = times_index(m, ci);
	struct mon_times *t;

	if (i >= 0)
		return &m->pend[i];
	t = &m->pend[m->pend_next];
	m->pend_next = (m->pend_next + 1) % MON_PENDING;
	memset(t, 0, sizeof(*t));
	t->id = ci->id;
	t->attempt = ci->attempt;
	return t;
}

void
mon_on_leased(struct monitor *m, const struct msg_leased_ev *e)
{
	struct mon_times *t = times_for(m, &e->ci);

	t->planned_ms = e->planned_ms;
	t->leased_ms = e->leased_ms;
	t->have |= MON_HAVE_LEASED;
}

void
mon_on_fetched(struct monitor *m, const struct msg_fetched_ev *e)
{
	struct mon_times *t = times_for(m, &e->ci);

	t->sent_ms = e->sent_ms;
	t->answered_ms = e->answered_ms;
	t->parsed_ms = e->parsed_ms;
	t->have |= MON_HAVE_FETCHED;
}

/* later - earlier when both events were seen, else MON_UNKNOWN. */
static int64_t
phase(const struct mon_times *t, unsigned need, int64_t later, int64_t earlier)
{
	return t != NULL && (t->have & need) == need ? later - earlier : MON_UNKNOWN;
}

void
mon_chunk_metrics(const struct monitor *m, const struct msg_committed_ev *c, struct mon_chunk *out)
{
	const struct chunk_info *ci = &c->ci;
	static const struct mon_times none;
	int i = times_index(m, ci);
	const struct mon_times *t = i >= 0 ? &m->pend[i] : NULL;
	const struct mon_times *k = t != NULL ? t : &none;

	out->queue_ms = phase(t, MON_HAVE_LEASED, k->leased_ms, k->planned_ms);
	out->rate_wait_ms = phase(t, MON_HAVE_LEASED | MON_HAVE_FETCHED, k->sent_ms, k->leased_ms);
	out->api_ms = ci->api_ms;
	out->parse_ms = phase(t, MON_HAVE_FETCHED, k->parsed_ms, k->answered_ms);
	out->write_ms = phase(t, MON_HAVE_FETCHED, c->committed_ms, k->parsed_ms);
	out->total_ms = phase(t, MON_HAVE_LEASED, c->committed_ms, k->planned_ms);
	out->from_coverage = ci->overlap == OV_COMPLETE_OVERLAP || c->duplicate;
}

static void
hist_add(struct mon_hist *h, int64_t ms)
{
	double s = ms > 0 ? (double)ms / 1000.0 : 0;

	for (int i = 0; i < MON_HIST_N; i++)
		if (s <= mon_hist_le[i]) {
			h->b[i]++;
			break;
		}
	h->count++;
	h->sum += s;
}

/* One known phase into the run's sum and count and the histogram. */
static void
phase_add(int64_t *sum, int64_t *n, struct mon_hist *h, int64_t ms)
{
	if (ms == MON_UNKNOWN)
		return;
	*sum += ms;
	(*n)++;
	hist_add(h, ms);
}

static struct mon_chain *
chain_for(struct monitor *m, const struct chunk_info *ci)
{
	for (int i = 0; i < m->nchain; i++)
		if (m->chain[i].tf == ci->tf && strcmp(m->chain[i].market, ci->market) == 0)
			return &m->chain[i];
	if (m->nchain == PATTERN_TARGETS_MAX)
		return NULL;
	memset(&m->chain[m->nchain], 0, sizeof(m->chain[0]));
	snprintf(m->chain[m->nchain].market, MARKET_MAX, "%s", ci->market);
	m->chain[m->nchain].tf = ci->tf;
	return &m->chain[m->nchain++];
}

void
mon_on_committed(struct monitor *m, const struct msg_committed_ev *c)
{
	const struct chunk_info *ci = &c->ci;
	struct mon_chunk k;
	struct mon_chain *ch;
	int64_t lo;
	int k2;

	mon_chunk_metrics(m, c, &k);
	m->last = k;
	m->chunks++;
	m->chunks_all++;
	m->chunks_cov += (uint64_t)k.from_coverage;
	m->chunks_cov_all += (uint64_t)k.from_coverage;
	phase_add(&m->sum.queue_ms, &m->nsum.queue_ms, &m->h_queue, k.queue_ms);
	phase_add(&m->sum.rate_wait_ms, &m->nsum.rate_wait_ms, &m->h_wait, k.rate_wait_ms);
	phase_add(&m->sum.api_ms, &m->nsum.api_ms, &m->h_api, k.api_ms);
	phase_add(&m->sum.parse_ms, &m->nsum.parse_ms, &m->h_parse, k.parse_ms);
	phase_add(&m->sum.write_ms, &m->nsum.write_ms, &m->h_write, k.write_ms);
	phase_add(&m->sum.total_ms, &m->nsum.total_ms, &m->h_total, k.total_ms);

	if (ci->tf >= TF_COUNT || (ch = chain_for(m, ci)) == NULL)
		return;
	lo = ci->history_end ? 0 : ci->received > 0 ? ci->oldest : ci->effective_end;
	for (k2 = 0; k2 < MON_CHAIN_ENDS; k2++)
		if (ch->ends[k2] != 0 && ch->ends[k2] == ci->to)
			break;
	if (k2 < MON_CHAIN_ENDS)
		m->chunks_ordered++; /* it continues a chain of its target */
	else {
		k2 = ch->next_end;
		ch->next_end = (ch->next_end + 1) % MON_CHAIN_ENDS;
	}
	ch->ends[k2] = lo;
	if (!ci->history_end && ci->received > 0 && ci->oldest > 0 && ci->oldest < ci->to) {
		ch->slots += tf_count((enum tf)ci->tf, ci->oldest, ci->to);
		ch->candles += ci->received;
	}
}

/* --- derived figures ------------------------------------------------------ */

int
mon_rate(int64_t n, int64_t ms, double *rate)
{
	if (ms < 1000)
		return -1;
	/* whole seconds: the budget allows `rate` requests in any one second,
	 * so n in ceil(ms / 1000) of them is never read as more */
	int64_t seconds = (ms + 999) / 1000;

	*rate = (double)n / (double)seconds;
	return 0;
}

static void
update_rates(struct monitor *m)
{
	int newest, oldest;
	int64_t ms;

	m->rps = m->cps = m->sps = 0;
	m->rates_known = 0;
	if (m->nring < 2)
		return;
	newest = (m->ring_head + MON_SAMPLES - 1) % MON_SAMPLES;
	oldest = newest;
	for (int i = 1; i < m->nring; i++) {
		int k = (newest + MON_SAMPLES - i) % MON_SAMPLES;
		if (m->ring[newest].t - m->ring[k].t > MON_WINDOW_MS)
			break;
		oldest = k;
	}
	ms = m->ring[newest].t - m->ring[oldest].t;
	if (mon_rate(m->ring[newest].requests - m->ring[oldest].requests, ms, &m->rps) == -1)
		return;
	mon_rate(m->ring[newest].candles - m->ring[oldest].candles, ms, &m->cps);
	mon_rate(m->ring[newest].slots - m->ring[oldest].slots, ms, &m->sps);
	m->rates_known = 1;
}

static void
update_prediction(struct monitor *m)
{
	const struct mon_progress *p = &m->p;
	struct mon_prediction *pr = &m->pred;
	int64_t work = p->slots_total - p->slots_hit;
	double gspr = 0, rr = 0, el = (double)p->elapsed_ms / 1000.0;

	memset(pr, 0, sizeof(*pr));
	if (!m->have_progress)
		return;
	pr->progress = work > 0 ? (double)(p->slots_done - p->slots_hit) / (double)work : 1;
	if (pr->progress < 0)
		pr->progress = 0;
	if (p->finished) {
		pr->available = 1;
		pr->total_s = el;
		return;
	}
	if (pr->progress < MON_PREDICT_FROM || m->rps <= 0 || p->requests <= 0)
		return;
	gspr = (double)(p->slots_done - p->slots_hit) / (double)p->requests;
	for (int i = 0; i < p->nt; i++) {
		const struct mon_target *t = &p->t[i];
		double spr = gspr;
		int64_t left = t->slots_total - t->slots_done;
		if (t->failed || left <= 0)
			continue;
		if (t->requests >= 3 && t->slots_done > t->slots_hit)
			spr = (double)(t->slots_done - t->slots_hit) / (double)t->requests;
		if (spr < 1)
			spr = 1;
		rr += (double)left / spr;
	}
	pr->available = 1;
	pr->rps = m->rps;
	pr->remaining_requests = rr;
	pr->remaining_s = rr / m->rps;
	pr->total_s = el + pr->remaining_s;
}

/* The requests/s the budget allows: the sources' sum, else the configured
 * --rate per source. */
static double
allowed_rate(const struct mon_progress *p)
{
	double r = 0;

	for (int i = 0; i < p->ns; i++)
		r += p->s[i].allowed;
	if (r <= 0 && p->rate_limit > 0)
		r = p->rate_limit * (p->ns > 0 ? p->ns : 1);
	return r;
}

/* Slots per candle per target: from the committed chunks' chains, or, with
 * no chunk seen yet (attached late), from the progress. */
static void
densities(const struct monitor *m, struct pattern_stats *s)
{
	const struct mon_progress *p = &m->p;

	for (int i = 0; i < m->nchain && s->ntargets < PATTERN_TARGETS_MAX; i++)
		if (m->chain[i].candles > 0)
			s->spc[s->ntargets++] =
			    (double)m->chain[i].slots / (double)m->chain[i].candles;
	if (s->ntargets > 0)
		return;
	for (int i = 0; i < p->nt && s->ntargets < PATTERN_TARGETS_MAX; i++)
		if (p->t[i].candles > 0 && p->t[i].slots_done > p->t[i].slots_hit)
			s->spc[s->ntargets++] = (double)(p->t[i].slots_done - p->t[i].slots_hit) /
			                        (double)p->t[i].candles;
}

static int
capped(int64_t n)
{
	return n > 1000000 ? 1000000 : (int)n;
}

static void
update_pattern(struct monitor *m)
{
	struct pattern_stats s;
	const struct mon_progress *p = &m->p;

	memset(&s, 0, sizeof(s));
	m->allowed_rate = allowed_rate(p);
	densities(m, &s);
	s.chunks = m->chunks > 0 ? capped((int64_t)m->chunks) : capped(p->requests);
	s.ordered_frac = m->chunks > 0 ? (double)m->chunks_ordered / (double)m->chunks : 0;
	s.candles_per_request = p->requests > 0 ? (double)p->candles / (double)p->requests : 0;
	s.sent_rate = m->rps;
	s.allowed_rate = m->allowed_rate;
	s.n429 = p->n429;
	s.n418 = p->n418;
	s.finished = p->finished;
	pattern_classify(&s, &m->pat);
}

void
mon_update(struct monitor *m)
{
	update_rates(m);
	update_prediction(m);
	update_pattern(m);
}

/* --- JSON ------------------------------------------------------------------ */

double
mon_analysis_ms(const struct monitor *m)
{
	if (!m->have_progress || m->p.chunks_planned <= 0)
		return NAN;
	return (double)m->p.analysis_us / 1000.0 / (double)m->p.chunks_planned;
}

/* A phase in ms, null if its event was not seen. */
static void
json_phase(struct jw *w, const char *key, int64_t ms)
{
	if (ms == MON_UNKNOWN)
		jw_num(w, key, NAN);
	else
		jw_int(w, key, ms);
}

void
mon_json_metrics(struct jw *w, const struct msg_committed_ev *c, const struct mon_chunk *k,
                 double analysis_ms)
{
	jw_obj(w, "metrics");
	json_phase(w, "queue_ms", k->queue_ms);
	json_phase(w, "rate_wait_ms", k->rate_wait_ms);
	json_phase(w, "api_ms", k->api_ms);
	json_phase(w, "parse_ms", k->parse_ms);
	json_phase(w, "write_ms", k->write_ms);
	json_phase(w, "total_ms", k->total_ms);
	/* the planner analyses each chunk's overlap when it plans it, in
	 * microseconds; it reports the total, so this is its average */
	jw_num(w, "overlap_analysis_ms", analysis_ms);
	jw_int(w, "bytes", c->bytes);
	jw_int(w, "requested", c->ci.count);
	jw_int(w, "received", c->ci.received);
	jw_int(w, "new", c->new_candles);
	jw_bool(w, "duplicate", c->duplicate);
	jw_bool(w, "from_coverage", k->from_coverage);
	jw_obj_end(w);
}

static const struct int_field target_ints[] = {
	{ "slots_total", offsetof(struct mon_target, slots_total) },
	{ "slots_done", offsetof(struct mon_target, slots_done) },
	{ "slots_hit", offsetof(struct mon_target, slots_hit) },
	{ "requests", offsetof(struct mon_target, requests) },
	{ "candles", offsetof(struct mon_target, candles) },
};

static const struct int_field source_ints[] = {
	{ "blocked_ms", offsetof(struct mon_source, blocked_ms) },
	{ "sent", offsetof(struct mon_source, sent) },
	{ "n429", offsetof(struct mon_source, n429) },
	{ "n418", offsetof(struct mon_source, n418) },
	{ "remaining_req", offsetof(struct mon_source, remaining) },
};

/* The first n int64_t fields of table f, read from base. */
static void
json_ints(struct jw *w, const void *base, const struct int_field *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		jw_int(w, f[i].key,
		       *(const int64_t *)(const void *)((const char *)base + f[i].off));
}

/* Opens a target's object with its market and timeframe. */
static void
json_target_open(struct jw *w, const struct mon_target *t)
{
	jw_obj(w, NULL);
	jw_str(w, "market", t->market);
	jw_str(w, "timeframe", t->tf);
}

void
mon_json_progress(struct jw *w, const struct mon_progress *p)
{
	jw_int(w, "v", p->v);
	json_ints(w, p, progress_ints, PROGRESS_JSON_INTS);
	jw_bool(w, "finished", p->finished);
	jw_num(w, "rate_limit", p->rate_limit);
	jw_arr(w, "targets");
	for (int i = 0; i < p->nt; i++) {
		json_target_open(w, &p->t[i]);
		json_ints(w, &p->t[i], target_ints, sizeof(target_ints) / sizeof(target_ints[0]));
		jw_bool(w, "failed", p->t[i].failed);
		jw_str(w, "reason", p->t[i].reason);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_arr(w, "sources");
	for (int i = 0; i < p->ns; i++) {
		jw_obj(w, NULL);
		jw_str(w, "source", p->s[i].source);
		jw_num(w, "allowed_rps", p->s[i].allowed);
		json_ints(w, &p->s[i], source_ints, sizeof(source_ints) / sizeof(source_ints[0]));
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

static double
avg(int64_t sum, uint64_t n)
{
	return n ? (double)sum / (double)n : NAN;
}

void
mon_json_summary(const struct monitor *m, struct jw *w)
{
	const struct mon_progress *p = &m->p;
	char eta[MON_UTC_LEN];

	jw_obj(w, NULL);
	jw_str(w, "topic", "summary");
	jw_bool(w, "connected", m->have_progress);
	jw_int(w, "run", p->run);
	jw_num(w, "elapsed_s", (double)p->elapsed_ms / 1000.0);
	jw_bool(w, "finished", p->finished);
	jw_num(w, "progress", m->pred.progress);
	jw_int(w, "slots_total", p->slots_total);
	jw_int(w, "slots_done", p->slots_done);
	jw_int(w, "slots_hit", p->slots_hit);
	jw_num(w, "coverage_hit_ratio",
	       p->slots_total ? (double)p->slots_hit / (double)p->slots_total : NAN);
	jw_int(w, "requests", p->requests);
	jw_int(w, "candles", p->candles);
	jw_int(w, "new_candles", p->new_candles);
	jw_int(w, "bytes", p->bytes);
	jw_int(w, "retries", p->retries);
	jw_int(w, "n429", p->n429);
	jw_int(w, "n418", p->n418);
	jw_num(w, "candles_per_s", m->rates_known ? m->cps : NAN);
	jw_num(w, "requests_per_s", m->rates_known ? m->rps : NAN);
	jw_num(w, "slots_per_s", m->rates_known ? m->sps : NAN);
	jw_num(w, "allowed_rps", m->allowed_rate);
	jw_num(w, "rate_limit", p->rate_limit);
	jw_num(w, "candles_per_request",
	       p->requests ? (double)p->candles / (double)p->requests : NAN);
	jw_arr(w, "targets");
	for (int i = 0; i < p->nt; i++) {
		const struct mon_target *t = &p->t[i];
		json_target_open(w, t);
		json_ints(w, t, target_ints, 2); /* slots_total, slots_done */
		jw_bool(w, "failed", t->failed);
		if (t->reason[0])
			jw_str(w, "reason", t->reason);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_arr(w, "failed");
	for (int i = 0; i < p->nt; i++)
		if (p->t[i].failed || p->t[i].reason[0]) {
			json_target_open(w, &p->t[i]);
			jw_str(w, "reason", p->t[i].reason);
			jw_obj_end(w);
		}
	jw_arr_end(w);
	jw_obj(w, "chunks");
	jw_int(w, "committed", (int64_t)m->chunks);
	jw_int(w, "from_coverage", (int64_t)m->chunks_cov);
	jw_num(w, "avg_queue_ms", avg(m->sum.queue_ms, (uint64_t)m->nsum.queue_ms));
	jw_num(w, "avg_rate_wait_ms", avg(m->sum.rate_wait_ms, (uint64_t)m->nsum.rate_wait_ms));
	jw_num(w, "avg_api_ms", avg(m->sum.api_ms, (uint64_t)m->nsum.api_ms));
	jw_num(w, "avg_parse_ms", avg(m->sum.parse_ms, (uint64_t)m->nsum.parse_ms));
	jw_num(w, "avg_write_ms", avg(m->sum.write_ms, (uint64_t)m->nsum.write_ms));
	jw_num(w, "avg_total_ms", avg(m->sum.total_ms, (uint64_t)m->nsum.total_ms));
	jw_num(w, "avg_overlap_analysis_ms", mon_analysis_ms(m));
	jw_obj_end(w);
	jw_obj(w, "pattern");
	jw_str(w, "type", pattern_names[m->pat.kind]);
	jw_num(w, "slots_per_candle", m->pat.spc);
	jw_num(w, "slots_per_request", m->pat.slots_per_request);
	jw_num(w, "utilisation", m->pat.utilisation);
	jw_num(w, "efficiency_score", m->pat.efficiency);
	jw_str(w, "suggestion", m->pat.suggestion);
	jw_obj_end(w);
	jw_obj(w, "prediction");
	jw_bool(w, "available", m->pred.available);
	if (m->pred.available) {
		jw_num(w, "total_s", m->pred.total_s);
		jw_num(w, "remaining_s", m->pred.remaining_s);
		jw_num(w, "remaining_requests", m->pred.remaining_requests);
		mon_time_utc(time_now() + (int64_t)m->pred.remaining_s, eta);
		jw_str(w, "eta_utc", eta);
	}
	jw_str(w, "method",
	       "remaining slots / slots per request per target, "
	       "over the request rate of the last 10 s");
	jw_obj_end(w);
	jw_obj_end(w);
}
