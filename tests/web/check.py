#!/usr/bin/env python3
"""tests/web/check.py: the browser checks of tests/web.bats and the first
paint of bench/web_bench.sh, each in a real headless Chromium (wd.py) on
cp-serve's page. Reads the page's models (window.cpMap, cpProgress, cpChart)
and the map canvas's pixels. Exit 0 passed, 1 failed, 77 skipped (the
chart library is not installed), with one line saying why.

  check.py map      --url U --market M --timeframe TF --hole-from T --hole-to T --shot F
  check.py chart    --url U --last-utc T --last-close X --shot F
  check.py fetch    --url U --market M --timeframe TF --hole-from T --hole-to T --shot F
  check.py progress --url U --start CMD --shot F
  check.py paint    --url U [--runs N]      (also times a click and a zoom)
  check.py rows     --url U --markets N --shot F
"""

import argparse
import subprocess
import sys
import time

sys.path.insert(0, __import__("os").path.dirname(__file__))
from wd import Browser, WebDriverError  # noqa: E402

READY = "return window.cpMap && window.cpMap.fullDrawMs != null"

# The series' segment [from, to) of kind, with the colours of the canvas at
# its middle and at the middle of the segment before it.
FIND = """
const [market, tf, from, to, kind] = arguments, M = window.cpMap;
const i = M.series.findIndex(s => s.market === market && s.timeframe === tf);
if (i < 0) return {error: 'no series ' + market + ' ' + tf};
const s = M.series[i], f = Date.parse(from) / 1000, t = Date.parse(to) / 1000;
const k = s.segments.findIndex(g => g.kind === kind && g.from === f && g.to === t);
const c = document.getElementById('map'), dpr = window.devicePixelRatio || 1;
const px = (x) => Array.from(c.getContext('2d').getImageData(Math.round(x * dpr),
    Math.round(M.rowY(i) * dpr), 1, 1).data.slice(0, 3));
const out = {index: i, segments: s.segments.map(g => [new Date(g.from * 1000).toISOString(), new Date(g.to * 1000).toISOString(), g.kind]),
    found: k >= 0, width: c.clientWidth, height: c.clientHeight};
if (k < 0) return out;
out.x = M.xOf((f + t) / 2);
out.y = M.rowY(i);
out.color = px(out.x);
if (k > 0) out.before = px(M.xOf((s.segments[k - 1].from + s.segments[k - 1].to) / 2));
return out;
"""

COLOR = """return getComputedStyle(document.documentElement).getPropertyValue('--' + arguments[0]).trim()"""


def rgb(hexcolor):
    h = hexcolor.lstrip("#")
    return [int(h[i:i + 2], 16) for i in (0, 2, 4)]


def near(a, b):
    return a is not None and all(abs(x - y) <= 8 for x, y in zip(a, b))


def fail(msg):
    print("FAIL: " + msg)
    return 1


def hole(b, a):
    b.get(a.url)
    b.wait_js(READY, 60, "the map's first full draw")
    return b.js(FIND, a.market, a.timeframe, a.hole_from, a.hole_to, "missing")


def check_map(b, a):
    r = hole(b, a)
    b.screenshot(a.shot)
    if not r.get("found"):
        return fail("no missing stretch %s .. %s in %s" % (a.hole_from, a.hole_to, r))
    missing, candles = rgb(b.js(COLOR, "missing")), rgb(b.js(COLOR, "candles"))
    if not near(r["color"], missing):
        return fail("the hole's pixel is %s, not the missing colour %s" % (r["color"], missing))
    if not near(r.get("before"), candles):
        return fail("the stretch before the hole is %s, not %s" % (r.get("before"), candles))
    # zoomed in (the view halves around its middle), the hole stays exact
    span0 = b.js("return window.cpMap.view.to - window.cpMap.view.from")
    b.click("#zoom-in")
    b.wait_js("return window.cpMap.view.to - window.cpMap.view.from < arguments[0] * 0.6",
              10, "the zoom", span0)
    z = b.js(FIND, a.market, a.timeframe, a.hole_from, a.hole_to, "missing")
    if not z.get("found") or not near(z["color"], missing):
        return fail("zoomed in, the hole is gone or another colour: %s" % z)
    print("map: hole %s .. %s at x=%.0f of %d px, colour %s; before it %s; zoomed x2 at x=%.0f" %
          (a.hole_from, a.hole_to, r["x"], r["width"], r["color"], r["before"], z["x"]))
    return 0


def check_chart(b, a):
    b.get(a.url)
    ok = b.wait_js("return window.cpChart && window.cpChart.available !== null && "
                   "[window.cpChart.available]", 60, "the chart library")
    if not ok[0]:
        b.screenshot(a.shot)
        print("skip: the chart library is not installed (npm ci in serve/www)")
        return 77
    b.wait_js("return window.cpChart.loaded > 0", 60, "the chart")
    last = b.js("return window.cpChart.last")
    b.screenshot(a.shot)
    if last is None or last["utc"] != a.last_utc or float(last["close"]) != float(a.last_close):
        return fail("the chart's last candle is %s, the database's %s close %s" %
                    (last, a.last_utc, a.last_close))
    print("chart: last candle %s close %s, as in the database" % (last["utc"], last["close"]))
    return 0


def check_fetch(b, a):
    r = hole(b, a)
    if not r.get("found"):
        return fail("no missing stretch to click: %s" % r)
    b.click_at("#map", r["x"] - r["width"] / 2, r["y"] - r["height"] / 2)
    d = b.wait_js("const d = document.getElementById('detail'); return !d.hidden && "
                  "[d.dataset.kind, d.dataset.from, d.dataset.to, "
                  "!document.getElementById('fetch').hidden]", 10, "the stretch's detail")
    want = [a.hole_from.replace(".000", ""), a.hole_to.replace(".000", "")]
    if d[0] != "missing" or d[1:3] != want or not d[3]:
        return fail("clicked the hole, the detail says %s (want missing %s with Fetch)" % (d, want))
    b.click("#fetch")
    job = b.wait_js("return document.getElementById('fetch-result').dataset.job", 10, "the job id")
    b.wait_js("return (window.cpProgress.jobs || []).some(j => j.id == arguments[0] && "
              "j.state === 'done')", 90, "job %s done (from /v1/events)" % job, int(job))
    b.wait_js("const s = window.cpMap.series.find(x => x.market === arguments[0] && "
              "x.timeframe === arguments[1]); return s && !s.segments.some(g => "
              "g.kind !== 'covered' && g.to > Date.parse(arguments[2]) / 1000 && "
              "g.from < Date.parse(arguments[3]) / 1000)", 30, "the map without the hole",
              a.market, a.timeframe, a.hole_from, a.hole_to)
    b.screenshot(a.shot)
    print("fetch: job %s filled %s .. %s; the map shows it covered" % (job, a.hole_from, a.hole_to))
    return 0


RUNNING_ROW = ("const r = document.querySelector('#jobs tbody tr[data-state=\"fetching\"], "
               "#jobs tbody tr[data-state=\"planning\"], #jobs tbody tr[data-state=\"queued\"]');"
               "return r && [r.dataset.job, +r.dataset.slotsDone, window.cpProgress.updates]")


def check_progress(b, a):
    b.get(a.url)
    b.wait_js(READY + " && window.cpProgress.updates > 0", 60, "the page and its event stream")
    # the collection starts once the page is up, so a slow browser start
    # cannot miss it
    coll = subprocess.Popen(a.start, shell=True) if a.start else None
    try:
        return watch_progress(b, a)
    finally:
        if coll is not None:
            coll.wait()


def watch_progress(b, a):
    job, done0, u0 = b.wait_js(RUNNING_ROW, 60, "a running job in the progress view")
    moved = b.wait_js(
        "const r = document.querySelector('#jobs tbody tr[data-job=\"' + arguments[0] + '\"]');"
        "return r && window.cpProgress.updates >= arguments[2] + 2 && "
        "(+r.dataset.slotsDone > arguments[1] || r.dataset.state === 'done') && "
        "[r.dataset.state, +r.dataset.slotsDone, window.cpProgress.updates, "
        "document.getElementById('stats').textContent]",
        90, "the progress of job %s to move" % job, job, done0, u0)
    b.screenshot(a.shot)
    print("progress: job %s from %d slots (update %d) to %s %d slots (update %d); %s" %
          (job, done0, u0, moved[0], moved[1], moved[2], moved[3]))
    return 0


# Records performance.now() at each draw of the map (its data-draws
# attribute) and at the window's mousedown / mouseup (capture: before the
# page's handler; bubble, added after the page's: after it).
PROBE = """
const w = window, c = document.getElementById('map');
w.cpProbe = {draws: [], up: null, handled: null, frame: null};
new MutationObserver(() => w.cpProbe.draws.push([w.cpMap.draws, performance.now()]))
    .observe(c, {attributes: true, attributeFilter: ['data-draws']});
w.addEventListener('mouseup', () => { w.cpProbe.up = performance.now(); }, true);
w.addEventListener('mouseup', () => { w.cpProbe.handled = performance.now();
    requestAnimationFrame(() => { w.cpProbe.frame = performance.now(); }); });
const r = c.getBoundingClientRect();
return [r.left + r.width / 2, r.top + w.cpMap.rowY(Math.min(5, w.cpMap.series.length - 1))];
"""

ZOOM = """
const M = window.cpMap, P = window.cpProbe, d0 = M.draws, span = M.view.to - M.view.from;
P.frame = null;
const t0 = performance.now();
document.getElementById('zoom-in').click();
const t1 = performance.now();
requestAnimationFrame(() => { P.frame = performance.now(); });
return [t0, t1 - t0, d0, span];
"""


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def time_click(b, x, y):
    """A real click on the loaded map (at x, y of the viewport): ms of the
    page's handler (the detail shown) and until the next frame."""
    b.click_viewport(x, y)
    r = b.wait_js("const P = window.cpProbe; return P.frame != null && "
                  "!document.getElementById('detail').hidden && [P.handled - P.up, P.frame - P.up]",
                  10, "the click's detail")
    return r


def time_zoom(b):
    """#zoom-in on the loaded map: ms of the redraw, until the next frame,
    and until the redraw with the view's new candle counts (the page waits
    150 ms for more zooming before it asks /v1/coverage)."""
    t0, sync, d0, span = b.js(ZOOM)
    r = b.wait_js("const P = window.cpProbe, M = window.cpMap; "
                  "const d = P.draws.find(x => x[0] >= arguments[1] + 2); "
                  "return P.frame != null && d && M.view.to - M.view.from < arguments[2] * 0.6 && "
                  "[P.frame - arguments[0], d[1] - arguments[0]]", 30, "the zoom", t0, d0, span)
    return [sync, r[0], r[1]]


def paint(b, a):
    ms, clicks, zooms = [], [], []
    for _ in range(a.runs):
        b.get(a.url)
        r = b.wait_js("return window.cpMap && window.cpMap.fullDrawMs != null && "
                      "[window.cpMap.firstDrawMs, window.cpMap.fullDrawMs, "
                      "window.cpMap.series.length]", 60, "the map")
        ms.append(r)
        x, y = b.js(PROBE)
        clicks.append(time_click(b, x, y))
        zooms.append(time_zoom(b))
    b.screenshot(a.shot)
    first = sorted(x[0] for x in ms)
    full = sorted(x[1] for x in ms)
    markets = b.js("return new Set(window.cpMap.series.map(s => s.market)).size")
    print("web first paint of the coverage map, %d markets, %d series, %d loads: median %.0f ms "
          "(max %.0f); with the candle counts: median %.0f ms (max %.0f)" %
          (markets, ms[0][2], len(ms), first[len(first) // 2], first[-1], full[len(full) // 2],
           full[-1]))
    print("web on the loaded map (medians): click to the stretch's detail %.1f ms, to the next "
          "frame %.1f ms; zoom x2 redraw %.1f ms, to the next frame %.1f ms, redrawn with the "
          "new view's counts %.0f ms (incl. the page's 150 ms wait)" %
          (median(c[0] for c in clicks), median(c[1] for c in clicks),
           median(z[0] for z in zooms), median(z[1] for z in zooms), median(z[2] for z in zooms)))
    return 0


# Every row of the map drawn: per series its first covered stretch's pixel.
ROWS = """
const M = window.cpMap, c = document.getElementById('map'), dpr = window.devicePixelRatio || 1;
const g = c.getContext('2d'), out = {series: M.series.length, height: c.clientHeight,
    markets: new Set(M.series.map(s => s.market)).size,
    labels: document.getElementById('map-labels').childElementCount, px: []};
M.series.forEach((s, i) => {
    const seg = s.segments.find(x => x.kind === 'covered');
    if (!seg) { out.px.push([s.market, s.timeframe, 'no covered stretch']); return; }
    out.px.push([s.market, s.timeframe, Array.from(g.getImageData(Math.round(M.xOf((seg.from + seg.to) / 2) * dpr),
        Math.round(M.rowY(i) * dpr), 1, 1).data.slice(0, 3))]);
});
return out;
"""


def blend_of(p, c0, c1):
    """p is c0, c1 or an anti-aliased mix of the two (a no-trade bucket's
    edge inside a covered stretch)."""
    if not isinstance(p, list):
        return False
    k = max(range(3), key=lambda i: abs(c1[i] - c0[i]))
    t = min(1.0, max(0.0, (p[k] - c0[k]) / float(c1[k] - c0[k])))
    return near(p, [c0[i] + t * (c1[i] - c0[i]) for i in range(3)])


def check_rows(b, a):
    b.get(a.url)
    b.wait_js(READY, 60, "the map's first full draw")
    r = b.js(ROWS)
    b.screenshot(a.shot)
    candles, notrade = rgb(b.js(COLOR, "candles")), rgb(b.js(COLOR, "notrade"))
    bad = [x for x in r["px"] if not blend_of(x[2], candles, notrade)]
    if r["markets"] != a.markets or r["labels"] != r["series"]:
        return fail("%d markets in %d series with %d labels, want %d markets" %
                    (r["markets"], r["series"], r["labels"], a.markets))
    if r["height"] < r["series"] * 14 or bad:  # 14: the page's ROW_H
        return fail("canvas %d px high for %d rows; rows not drawn: %s" %
                    (r["height"], r["series"], bad[:5]))
    print("rows: %d markets, %d series, every row drawn (%d px)" %
          (r["markets"], r["series"], r["height"]))
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["map", "chart", "fetch", "progress", "paint", "rows"])
    p.add_argument("--url", required=True)
    p.add_argument("--market")
    p.add_argument("--timeframe")
    p.add_argument("--hole-from")
    p.add_argument("--hole-to")
    p.add_argument("--last-utc")
    p.add_argument("--last-close")
    p.add_argument("--shot", default="/dev/null")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--markets", type=int, help="rows: the number of markets the map must have")
    p.add_argument("--start", help="progress: a shell command started once the page is up")
    a = p.parse_args()
    fn = {"map": check_map, "chart": check_chart, "fetch": check_fetch,
          "progress": check_progress, "paint": paint, "rows": check_rows}[a.what]
    try:
        with Browser() as b:
            try:
                return fn(b, a)
            except WebDriverError as e:
                try:
                    b.screenshot(a.shot)
                    print("page: " + str(b.js("return [document.getElementById('who').textContent,"
                                              " JSON.stringify(window.cpMap && window.cpMap.series.length)]")))
                except WebDriverError:
                    pass
                return fail(str(e))
    except (OSError, WebDriverError) as e:
        return fail("the browser: %s" % e)


if __name__ == "__main__":
    t0 = time.time()
    rc = main()
    sys.exit(rc)
