// candlepipe's web page (issue 16): the coverage map, the live progress and
// the candles chart. A plain ES module, no build step. Every call is the
// documented HTTP API of cp-serve: /v1/whoami, /v1/coverage (without a
// market: every series, buckets=N candle counts), /v1/jobs, /v1/events
// (server-sent events), /v1/candles/range. The models the tests (and you,
// in the console) read: window.cpMap, window.cpProgress, window.cpChart.

const ROW_H = 14;
const AXIS_H = 22;
const MIN_SPAN = 3600; // seconds: zoomed in down to an hour
const CHART_MAX_SLOTS = 20000;
const TF_SEC = {
	'1s': 1, '1m': 60, '3m': 180, '5m': 300, '10m': 600, '15m': 900, '30m': 1800,
	'1h': 3600, '4h': 14400, '1d': 86400, '1w': 604800, '1M': 2592000, '1y': 31536000,
};
const COLORS = {};
for (const k of ['candles', 'notrade', 'missing', 'before', 'fetching'])
	COLORS[k] = getComputedStyle(document.documentElement).getPropertyValue('--' + k).trim();
const RUNNING = new Set(['queued', 'planning', 'fetching']);

const token = new URLSearchParams(location.hash.slice(1)).get('token');
const $ = (id) => document.getElementById(id);

const M = (window.cpMap = {
	series: [], // {market, timeframe, history_start, covered:[[from,to]], counts, segments}
	full: null, // {from, to}: the ledger's span (seconds)
	view: null, // {from, to}: what the map shows
	bucket: null, // {from, seconds, n} of the counts
	running: [], // targets of running jobs: {market, tf, from, to}
	canWrite: false,
	draws: 0,
	firstDrawMs: null, // performance.now() at the first draw (from navigation start)
	fullDrawMs: null, // ... at the first draw with the candle counts
	selected: null,
});
const P = (window.cpProgress = { updates: 0, last: null, stats: null, jobs: [], ended: new Set() });
const C = (window.cpChart = { available: null, loaded: 0, last: null, candles: 0, note: '' });

function iso(sec) {
	return new Date(sec * 1000).toISOString().slice(0, 19) + 'Z';
}
function secs(text) {
	return text == null ? null : Date.parse(/Z$|[+-]\d\d:\d\d$/.test(text) ? text : text + 'Z') / 1000;
}

async function api(path, opts = {}) {
	opts.headers = Object.assign({}, opts.headers, token ? { Authorization: 'Bearer ' + token } : {});
	const r = await fetch(path, opts);
	const text = await r.text();
	if (!r.ok) {
		let msg = text;
		try { msg = JSON.parse(text).error.message; } catch (e) { /* not Upbit's shape */ }
		throw new Error(r.status + ': ' + msg);
	}
	return text;
}
const apiJSON = async (path, opts) => JSON.parse(await api(path, opts));

// ---- the coverage map ---------------------------------------------------

// The exact stretches of s within [vf, vt): before (listing), covered,
// fetching (a running job's range not covered yet), missing.
function segmentsOf(s, vf, vt) {
	const out = [];
	const push = (from, to, kind) => {
		if (to > from) out.push({ from, to, kind });
	};
	let lo = vf;
	if (s.history_start != null && s.history_start > vf) {
		push(vf, Math.min(s.history_start, vt), 'before');
		lo = s.history_start;
	}
	const gap = (a, b) => { // [a, b) not covered: fetching where a job runs
		const jobs = M.running
			.filter((j) => j.market === s.market && j.tf === s.timeframe && j.to > a && j.from < b)
			.sort((x, y) => x.from - y.from);
		for (const j of jobs) {
			const f = Math.max(a, j.from), t = Math.min(b, j.to);
			if (f >= t) continue;
			push(a, f, 'missing');
			push(f, t, 'fetching');
			a = t;
		}
		push(a, b, 'missing');
	};
	for (const [f, t] of s.covered) {
		if (t <= lo || f >= vt) continue;
		gap(lo, Math.max(lo, f));
		push(Math.max(lo, f), Math.min(t, vt), 'covered');
		lo = Math.min(t, vt);
	}
	gap(lo, vt);
	return out;
}

function recompute() {
	if (!M.view) return;
	for (const s of M.series) s.segments = segmentsOf(s, M.view.from, M.view.to);
}

function setSeries(resp, withCounts) {
	const old = new Map(M.series.map((s) => [s.market + ' ' + s.timeframe, s]));
	M.series = resp.series.map((x) => ({
		market: x.market,
		timeframe: x.timeframe,
		history_start: secs(x.history_start),
		covered: x.covered.map(([f, t]) => [secs(f), secs(t)]),
		counts: withCounts ? x.counts : (old.get(x.market + ' ' + x.timeframe) || {}).counts || null,
		segments: [],
	}));
	if (withCounts) M.bucket = { from: secs(resp.from), seconds: resp.bucket_seconds, n: resp.buckets };
}

const mapCanvas = $('map'), axisCanvas = $('map-axis');
const xOf = (t) => ((t - M.view.from) / (M.view.to - M.view.from)) * mapCanvas.clientWidth;
const tOf = (x) => M.view.from + (x / mapCanvas.clientWidth) * (M.view.to - M.view.from);
M.xOf = xOf;
M.rowY = (i) => i * ROW_H + ROW_H / 2;

function sizeCanvas(c, h) {
	const dpr = window.devicePixelRatio || 1, w = c.clientWidth;
	if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
		c.width = Math.round(w * dpr);
		c.height = Math.round(h * dpr);
		c.style.height = h + 'px';
	}
	const g = c.getContext('2d');
	g.setTransform(dpr, 0, 0, dpr, 0, 0);
	g.clearRect(0, 0, w, h);
	return g;
}

function drawNoTrade(g, s, y) {
	const b = M.bucket, tfs = TF_SEC[s.timeframe] || 60;
	if (!s.counts || !b || b.seconds < tfs) return; // a bucket narrower than a candle proves nothing
	g.fillStyle = COLORS.notrade;
	for (const seg of s.segments) {
		if (seg.kind !== 'covered') continue;
		const i0 = Math.max(0, Math.floor((seg.from - b.from) / b.seconds));
		const i1 = Math.min(b.n, Math.ceil((seg.to - b.from) / b.seconds));
		for (let i = i0; i < i1; i++) {
			const f = Math.max(seg.from, b.from + i * b.seconds), t = Math.min(seg.to, b.from + (i + 1) * b.seconds);
			if (s.counts[i] === 0 && t > f) {
				const x0 = xOf(f);
				g.fillRect(x0, y + 1, Math.max(1, xOf(t) - x0), ROW_H - 2);
			}
		}
	}
}

function drawAxis() {
	const w = axisCanvas.clientWidth, g = sizeCanvas(axisCanvas, AXIS_H);
	const span = M.view.to - M.view.from;
	const y = 365 * 86400, steps = [3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400,
		14 * 86400, 30 * 86400, 91 * 86400, 182 * 86400, y, 2 * y, 5 * y, 10 * y, 20 * y, 50 * y];
	const step = steps.find((st) => (span / st) * 110 <= w) || steps[steps.length - 1];
	g.fillStyle = '#555';
	g.font = '11px monospace';
	for (let t = Math.ceil(M.view.from / step) * step; t < M.view.to; t += step) {
		const x = xOf(t);
		g.fillRect(x, AXIS_H - 6, 1, 6);
		const label = step >= 86400 ? iso(t).slice(0, 10) : iso(t).slice(5, 16).replace('T', ' ');
		g.fillText(label, x + 2, 12);
	}
}

function draw() {
	if (!M.view) return;
	const rows = M.series.length, g = sizeCanvas(mapCanvas, Math.max(ROW_H, rows * ROW_H));
	M.series.forEach((s, i) => {
		const y = i * ROW_H;
		for (const seg of s.segments) {
			const x0 = xOf(seg.from);
			g.fillStyle = COLORS[seg.kind === 'covered' ? 'candles' : seg.kind];
			g.fillRect(x0, y + 1, Math.max(1, xOf(seg.to) - x0), ROW_H - 2);
		}
		drawNoTrade(g, s, y);
	});
	drawAxis();
	const labels = $('map-labels');
	if (labels.childElementCount !== rows || labels.dataset.key !== M.series.map((s) => s.market + s.timeframe).join()) {
		labels.replaceChildren(...M.series.map((s) => {
			const d = document.createElement('div');
			d.textContent = s.market + ' ' + s.timeframe;
			d.dataset.market = s.market;
			d.dataset.timeframe = s.timeframe;
			return d;
		}));
		labels.dataset.key = M.series.map((s) => s.market + s.timeframe).join();
	}
	$('map-range').textContent = iso(M.view.from) + ' .. ' + iso(M.view.to) + ' (' + rows + ' series)';
	M.draws++;
	mapCanvas.dataset.draws = M.draws;
	if (M.firstDrawMs == null) M.firstDrawMs = performance.now();
	if (M.fullDrawMs == null && M.bucket) M.fullDrawMs = performance.now();
}

let loadSeq = 0;
// The map of the view (the ledger's whole span the first time): the ranges
// first (a fast paint), then the candle counts per bucket.
async function loadMap() {
	const seq = ++loadSeq;
	if (!M.view) {
		const r = await apiJSON('/v1/coverage');
		const hs = r.series.map((x) => secs(x.history_start)).filter((h) => h != null);
		let from = secs(r.from), to = secs(r.to);
		if (hs.length) from = Math.min(from, Math.max(Math.min(...hs), from - (to - from)));
		const pad = Math.max(MIN_SPAN, (to - from) * 0.02);
		M.full = { from: from - pad, to: to + pad };
		M.view = { ...M.full };
		setSeries(r, false);
		recompute();
		draw();
	}
	const n = Math.min(2000, Math.max(50, Math.round(mapCanvas.clientWidth / 2)));
	const r = await apiJSON(`/v1/coverage?buckets=${n}&from=${iso(Math.floor(M.view.from))}&to=${iso(Math.ceil(M.view.to))}`);
	if (seq !== loadSeq) return; // a newer view is on its way
	setSeries(r, true);
	recompute();
	draw();
	fillSeriesSelect();
}

let reloadTimer = null;
function setView(from, to) {
	const span = Math.max(MIN_SPAN, Math.min(to - from, (M.full.to - M.full.from) * 4));
	const mid = (from + to) / 2;
	M.view = { from: mid - span / 2, to: mid + span / 2 };
	recompute();
	draw();
	clearTimeout(reloadTimer);
	reloadTimer = setTimeout(() => loadMap().catch(showError), 150);
}

function zoomAt(t, factor) {
	const f = t - (t - M.view.from) * factor, to = t + (M.view.to - t) * factor;
	setView(f, to);
}

function stretchAt(x, y) {
	const s = M.series[Math.floor(y / ROW_H)];
	if (!s) return null;
	const t = tOf(x);
	const seg = s.segments.find((g) => g.from <= t && t < g.to);
	return seg ? { series: s, seg } : null;
}

function showDetail(hit) {
	M.selected = hit;
	const d = $('detail');
	if (!hit) { d.hidden = true; return; }
	const { series: s, seg } = hit, tfs = TF_SEC[s.timeframe] || 60;
	const names = { covered: 'collected', missing: 'never fetched', before: 'before listing', fetching: 'being fetched' };
	d.hidden = false;
	d.dataset.kind = seg.kind;
	d.dataset.from = iso(seg.from);
	d.dataset.to = iso(seg.to);
	$('detail-text').textContent = `${s.market} ${s.timeframe}: ${names[seg.kind]} ${iso(seg.from)} .. ${iso(seg.to)} (${Math.round((seg.to - seg.from) / tfs)} slots)`;
	$('fetch').hidden = !(seg.kind === 'missing' && M.canWrite);
	$('fetch-result').textContent = '';
}

function wireMap() {
	let drag = null;
	mapCanvas.addEventListener('wheel', (e) => {
		if (!M.view) return;
		e.preventDefault();
		zoomAt(tOf(e.offsetX), e.deltaY > 0 ? 1.25 : 0.8);
	}, { passive: false });
	mapCanvas.addEventListener('mousedown', (e) => { drag = { x: e.offsetX, view: { ...M.view }, moved: false }; });
	window.addEventListener('mousemove', (e) => {
		if (!drag) return;
		const dx = e.clientX - mapCanvas.getBoundingClientRect().left - drag.x;
		if (Math.abs(dx) > 3) drag.moved = true;
		if (!drag.moved) return;
		const dt = (dx / mapCanvas.clientWidth) * (drag.view.to - drag.view.from);
		setView(drag.view.from - dt, drag.view.to - dt);
	});
	window.addEventListener('mouseup', (e) => {
		if (drag && !drag.moved && e.target === mapCanvas) showDetail(stretchAt(e.offsetX, e.offsetY));
		drag = null;
	});
	$('zoom-all').onclick = () => setView(M.full.from, M.full.to);
	$('zoom-in').onclick = () => zoomAt((M.view.from + M.view.to) / 2, 0.5);
	$('zoom-out').onclick = () => zoomAt((M.view.from + M.view.to) / 2, 2);
	$('fetch').onclick = async () => {
		const { series: s, seg } = M.selected;
		try {
			const j = await apiJSON(`/v1/jobs?market=${encodeURIComponent(s.market)}&timeframe=${s.timeframe}&from=${iso(seg.from)}&to=${iso(seg.to)}`, { method: 'POST' });
			$('fetch-result').textContent = `job ${j.id} submitted`;
			$('fetch-result').dataset.job = j.id;
			M.running.push({ market: s.market, tf: s.timeframe, from: seg.from, to: seg.to });
			recompute();
			draw();
		} catch (e) {
			$('fetch-result').textContent = 'refused: ' + e.message;
		}
	};
	$('show-chart').onclick = () => {
		const { series: s, seg } = M.selected, tfs = TF_SEC[s.timeframe] || 60;
		$('chart-series').value = s.market + ' ' + s.timeframe;
		$('chart-from').value = iso(Math.max(seg.from, seg.to - 500 * tfs));
		$('chart-to').value = iso(seg.to);
		showChart().catch(showError);
	};
	window.addEventListener('resize', () => draw());
}

// ---- live progress --------------------------------------------------------

function patternOf(targets) {
	const live = targets.filter((t) => t[6] > 0);
	if (live.length === 0) return 'insufficient data';
	const spc = live.map((t) => Math.max(1, t[3] / t[6])).sort((a, b) => a - b);
	const sparse = spc.filter((v) => v >= 2).length;
	if (sparse > 0 && sparse < spc.length) return 'mixed';
	if (spc[Math.floor(spc.length / 2)] >= 2) return 'sparse';
	return live.length === 1 ? 'sequential' : 'dense';
}

function progressStats(p) {
	const prev = P.prevProgress;
	P.prevProgress = p;
	if (!p) return P.stats;
	const st = { requests: p.requests, candles: p.candles, n429: p.n429, n418: p.n418, retries: p.retries,
		slots: `${p.slots_done}/${p.slots_total}`, pattern: patternOf(p.targets || []) };
	// the budget: the sources' allowed requests/s now (rate_limit 0: none)
	st.budget = p.rate_limit === 0 ? null : (p.sources || []).reduce((a, s) => a + (s[1] || 0), 0) || p.rate_limit;
	if (prev && prev.run === p.run && p.elapsed_ms > prev.elapsed_ms) {
		const dt = (p.elapsed_ms - prev.elapsed_ms) / 1000;
		st.candles_s = (p.candles - prev.candles) / dt;
		st.requests_s = (p.requests - prev.requests) / dt;
		const slots_s = (p.slots_done - prev.slots_done) / dt;
		st.eta_s = slots_s > 0 ? (p.slots_total - p.slots_done) / slots_s : null;
	}
	return (P.stats = st);
}

const fmt = (v, d = 1) => (v == null || !isFinite(v) ? 'n/a' : v.toFixed(d));

function renderProgress(data) {
	const st = progressStats(data.progress);
	if (st)
		$('stats').textContent = `${fmt(st.candles_s)} candles/s, ${fmt(st.requests_s)} requests/s of ${st.budget == null ? 'no limit' : fmt(st.budget) + '/s'} budget, ` +
			`429: ${st.n429}, 418: ${st.n418}, retries: ${st.retries}, slots ${st.slots}, ` +
			`ETA ${st.eta_s == null ? 'n/a' : fmt(st.eta_s, 0) + ' s'}, pattern: ${st.pattern}`;
	const jobs = data.jobs || [];
	// a job that ended since the last message: its ranges are covered now
	const ended = jobs.filter((j) => !RUNNING.has(j.state) && !P.ended.has(j.id));
	for (const j of ended) P.ended.add(j.id);
	P.jobs = jobs;
	$('jobs').tBodies[0].replaceChildren(...jobs.slice(-50).reverse().map((j) => {
		const tr = document.createElement('tr');
		tr.dataset.job = j.id;
		tr.dataset.state = j.state;
		tr.dataset.slotsDone = j.slots_done;
		const pct = j.slots_total > 0 ? (100 * j.slots_done) / j.slots_total : 0;
		const targets = (j.targets || []).map((t) => `${t.market} ${t.tf} ${iso(t.from)}..${iso(t.to)}`).join(', ');
		tr.innerHTML = `<td>${j.id}</td><td>${j.state}</td><td></td>` +
			`<td><span class="bar"><b style="width:${pct.toFixed(1)}%"></b></span> ${j.slots_done}/${j.slots_total}</td><td>${j.requests}</td>`;
		tr.children[2].textContent = targets;
		return tr;
	}));
	M.running = [];
	for (const j of jobs)
		if (RUNNING.has(j.state))
			for (const t of j.targets || []) M.running.push({ market: t.market, tf: t.tf, from: t.from, to: t.to });
	recompute();
	draw();
	if (ended.length > 0 && P.updates > 0) loadMap().catch(showError);
	P.updates++;
	P.last = data;
	$('progress-section').dataset.updates = P.updates;
}

// EventSource; with a token (which it cannot send) the same stream over fetch
function connectEvents() {
	const onData = (text) => {
		try { renderProgress(JSON.parse(text)); } catch (e) { showError(e); }
	};
	if (!token) {
		const es = new EventSource('/v1/events');
		es.onopen = () => { $('stream-state').textContent = 'live'; };
		es.onerror = () => { $('stream-state').textContent = 'reconnecting'; };
		es.addEventListener('progress', (e) => onData(e.data));
		es.addEventListener('jobs', (e) => onData(e.data));
		return;
	}
	fetch('/v1/events', { headers: { Authorization: 'Bearer ' + token } }).then(async (r) => {
		$('stream-state').textContent = 'live';
		const rd = r.body.getReader(), dec = new TextDecoder();
		let buf = '';
		for (;;) {
			const { value, done } = await rd.read();
			if (done) break;
			buf += dec.decode(value, { stream: true });
			let i;
			while ((i = buf.indexOf('\n\n')) >= 0) {
				const block = buf.slice(0, i);
				buf = buf.slice(i + 2);
				const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
				if (data) onData(data);
			}
		}
		throw new Error('stream ended');
	}).catch(() => {
		$('stream-state').textContent = 'reconnecting';
		setTimeout(connectEvents, 2000);
	});
}

// ---- the chart ---------------------------------------------------------------

function loadChartLib() {
	return new Promise((resolve) => {
		const s = document.createElement('script');
		s.src = '/vendor/lightweight-charts.js';
		s.onload = () => resolve(!!window.LightweightCharts);
		s.onerror = () => resolve(false);
		document.head.appendChild(s);
	});
}

function fillSeriesSelect() {
	const sel = $('chart-series'), keys = M.series.map((s) => s.market + ' ' + s.timeframe);
	if (sel.dataset.key === keys.join()) return;
	const cur = sel.value;
	sel.replaceChildren(...keys.map((k) => new Option(k, k)));
	sel.dataset.key = keys.join();
	if (keys.includes(cur)) sel.value = cur;
	if (!cur && M.series.length) { // the newest 500 candles of the first series
		const s = M.series[0], last = s.covered[s.covered.length - 1], tfs = TF_SEC[s.timeframe] || 60;
		if (last) {
			$('chart-from').value = iso(Math.max(last[0], last[1] - 500 * tfs));
			$('chart-to').value = iso(last[1]);
			showChart().catch(showError);
		}
	}
}

let chart = null, candleSeries, volumeSeries, shadeSeries;
function makeChart() {
	const L = window.LightweightCharts, el = $('chart');
	chart = L.createChart(el, { autoSize: true, timeScale: { timeVisible: true, secondsVisible: true },
		layout: { background: { color: '#fff' } }, localization: { timeFormatter: (t) => iso(t).replace('T', ' ') } });
	const add = (type, opts) => (chart.addSeries ? chart.addSeries(L[type + 'Series'], opts) : chart['add' + type + 'Series'](opts));
	shadeSeries = add('Histogram', { priceScaleId: 'shade', color: 'rgba(229,72,77,0.18)', priceLineVisible: false, lastValueVisible: false });
	chart.priceScale('shade').applyOptions({ scaleMargins: { top: 0, bottom: 0 }, visible: false });
	candleSeries = add('Candlestick', {});
	volumeSeries = add('Histogram', { priceScaleId: 'vol', color: 'rgba(80,120,200,0.5)', priceFormat: { type: 'volume' }, lastValueVisible: false, priceLineVisible: false });
	chart.priceScale('vol').applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
}

async function rangeCandles(market, tf, from, to) {
	const text = await api(`/v1/candles/range?market=${encodeURIComponent(market)}&timeframe=${tf}&from=${iso(from)}&to=${iso(to)}`);
	return text.split('\n').filter((l) => l).map((l) => JSON.parse(l));
}

// The chart of the form's series and range: candles where stored, nothing
// where a proven slot has no trade, shade where never fetched.
async function showChart() {
	const [market, tf] = $('chart-series').value.split(' ');
	const s = M.series.find((x) => x.market === market && x.timeframe === tf);
	let from = secs($('chart-from').value), to = secs($('chart-to').value);
	const note = (t) => { C.note = t; $('chart-note').textContent = t; };
	if (!C.available) return note(C.available === false ? 'the chart library is not installed' : '');
	if (!s || !(from < to)) return note('pick a series and a range');
	const tfs = TF_SEC[tf], fixed = tfs <= 604800, week = tf === '1w' ? 4 * 86400 : 0;
	if (fixed) from = Math.ceil((from - week) / tfs) * tfs + week;
	if (fixed && (to - from) / tfs > CHART_MAX_SLOTS) return note(`at most ${CHART_MAX_SLOTS} candles: narrow the range`);
	const covered = s.covered.filter(([f, t]) => t > from && f < to).map(([f, t]) => [Math.max(f, from), Math.min(t, to)]);
	const rows = (await Promise.all(covered.map(([f, t]) => rangeCandles(market, tf, f, t)))).flat();
	const byTime = new Map(rows.map((c) => [secs(c.candle_date_time_utc), c]));
	const isCovered = (t) => covered.some(([f, e]) => f <= t && t < e);
	const times = fixed ? [] : [...byTime.keys()].sort((a, b) => a - b);
	if (fixed) for (let t = from; t < to; t += tfs) times.push(t);
	const cs = [], vs = [], sh = [];
	for (const t of times) {
		const c = byTime.get(t);
		cs.push(c ? { time: t, open: c.opening_price, high: c.high_price, low: c.low_price, close: c.trade_price } : { time: t });
		vs.push(c ? { time: t, value: c.candle_acc_trade_volume } : { time: t });
		sh.push(isCovered(t) || (s.history_start != null && t < s.history_start) ? { time: t } : { time: t, value: 1 });
	}
	if (!chart) makeChart();
	// enough decimals for the smallest price (BTC-quoted markets trade at 1e-8)
	const low = Math.min(...rows.map((c) => c.low_price).filter((v) => v > 0));
	const digits = isFinite(low) ? Math.min(10, Math.max(2, 3 - Math.floor(Math.log10(low)))) : 2;
	candleSeries.applyOptions({ priceFormat: { type: 'price', precision: digits, minMove: 10 ** -digits } });
	candleSeries.setData(cs);
	volumeSeries.setData(vs);
	shadeSeries.setData(sh);
	chart.timeScale().fitContent();
	const lastC = rows.length ? rows[rows.length - 1] : null;
	C.candles = rows.length;
	C.loaded++;
	C.last = lastC && { utc: lastC.candle_date_time_utc, open: lastC.opening_price, high: lastC.high_price,
		low: lastC.low_price, close: lastC.trade_price, volume: lastC.candle_acc_trade_volume };
	$('chart').dataset.loaded = C.loaded;
	note(`${rows.length} candles, ${times.length - rows.length} empty slots`);
}

// ---- start -----------------------------------------------------------------

function showError(e) {
	console.error(e);
	$('who').textContent = String(e.message || e);
}

async function main() {
	wireMap();
	$('chart-form').onsubmit = (e) => { e.preventDefault(); showChart().catch(showError); };
	const who = apiJSON('/v1/whoami').then((w) => {
		M.canWrite = w.can_write;
		$('who').textContent = w.can_write ? 'jobs: allowed' : 'read-only';
	});
	const lib = loadChartLib().then((ok) => {
		C.available = ok;
		if (!ok) {
			const n = document.createElement('div');
			n.className = 'note';
			n.textContent = 'The chart library is not installed: run "npm ci" in serve/www (README: The web page). The map and the progress work without it.';
			$('chart').replaceChildren(n);
		}
	});
	connectEvents();
	await Promise.all([who, lib, loadMap()]);
	if ($('chart-series').value) await showChart();
}
main().catch(showError);
