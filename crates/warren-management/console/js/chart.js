// A small line chart in SVG (our own: the console needs lines over time and a legend,
// about 120 lines; a charting library would be most of the asset budget). The chart
// keeps its points and redraws its paths in place, so a refresh never flickers.

import { h } from './dom.js';

const W = 600;
const H = 180;
const PAD = { left: 56, right: 8, top: 10, bottom: 22 };

/** A line chart over the last `windowMs` milliseconds.
 *  lineChart({title: 'Message rates', series: ['Publish', 'Deliver'], format: fmtRate,
 *             windowMs: 600000})
 *  returns {el, push(values[], t = Date.now()), points}: `push` adds one sample (one
 *  value per series; undefined leaves a gap-free line) and redraws. Colours come from
 *  the CSS classes .series-0 ... .series-5. `points`: an array kept by the caller
 *  (e.g. at module level) so a chart shows history collected on an earlier visit;
 *  `minMax`: the smallest top of the y axis (10 for counts, so ticks stay whole). */
export function lineChart({ title, series, format = String, windowMs = 10 * 60 * 1000, points = [], minMax = 1 }) {
  const svg = h('svg:svg', {
    viewBox: `0 0 ${W} ${H}`, class: 'chart-svg', role: 'img', 'aria-label': title,
    preserveAspectRatio: 'none',
  });
  const grid = h('svg:g', { class: 'chart-grid' });
  const lines = series.map((_, i) => h('svg:path', { class: `chart-line series-${i}`, d: '' }));
  svg.append(grid, ...lines);
  const axis = h('div', { class: 'chart-axis' });
  const values = series.map((label, i) => h('span', { class: 'legend-value' }, '–'));
  const legend = h('ul', { class: 'chart-legend' }, series.map((label, i) =>
    h('li', null, h('span', { class: `swatch series-${i}`, 'aria-hidden': 'true' }), `${label} `, values[i])));
  const el = h('figure', { class: 'chart' }, h('figcaption', null, title), h('div', { class: 'chart-box' }, svg, axis), legend);

  function draw() {
    const now = Date.now();
    while (points.length && points[0].t < now - windowMs) points.shift();
    let max = 0;
    for (const p of points) for (const v of p.v) if (v > max) max = v;
    max = niceMax(Math.max(max, minMax));
    // The x axis spans the points seen so far, up to the window (a new chart is not a
    // flat line squeezed against the right edge).
    const from = points.length > 1 ? Math.max(points[0].t, now - windowMs) : now - windowMs;
    const span = Math.max(now - from, 1);
    const x = (t) => PAD.left + ((t - from) / span) * (W - PAD.left - PAD.right);
    const y = (v) => H - PAD.bottom - (v / max) * (H - PAD.top - PAD.bottom);
    lines.forEach((path, i) => {
      let d = '';
      for (const p of points) {
        const v = p.v[i];
        if (v === undefined || v === null || Number.isNaN(v)) continue;
        d += `${d ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(v).toFixed(1)}`;
      }
      path.setAttribute('d', d);
    });
    const ticks = [0, max / 2, max];
    grid.replaceChildren(...ticks.map((v) => h('svg:line', {
      x1: PAD.left, x2: W - PAD.right, y1: y(v).toFixed(1), y2: y(v).toFixed(1),
    })));
    // Labels in HTML (an SVG stretched to its box would distort text).
    axis.replaceChildren(...ticks.map((v) => {
      const tick = h('span', { class: 'tick' }, format(v));
      // Set through the CSSOM (the page's policy forbids style attributes).
      tick.style.top = `${(y(v) / H) * 100}%`;
      return tick;
    }),
      h('span', { class: 'tick-x' }, `last ${span < 60000 ? `${Math.round(span / 1000)} s` : `${Math.round(span / 60000)} min`}`));
    const last = points[points.length - 1];
    values.forEach((span, i) => { span.textContent = last ? format(last.v[i]) : '–'; });
  }

  draw();
  return {
    el,
    points,
    push(v, t = Date.now()) {
      points.push({ t, v });
      draw();
    },
  };
}

/** A round upper bound for the axis: 0 -> 1, 7 -> 10, 130 -> 200. */
function niceMax(v) {
  if (!(v > 0)) return 1;
  const mag = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * mag) return m * mag;
  return 10 * mag;
}

/** A bar for "used of limit" (memory vs watermark, disk free vs limit):
 *  gauge({label, used, limit, format, alarm}) -> element; `alarm` paints it red. */
export function gauge({ label, used, limit, format = String, alarm = false, text }) {
  const pct = limit > 0 ? Math.min(100, Math.round((used / limit) * 100)) : 0;
  const bar = h('progress', { max: 100, value: pct, 'aria-label': label });
  return h('div', { class: `gauge${alarm ? ' alarm' : ''}` },
    h('div', { class: 'gauge-label' }, label, alarm ? h('strong', { class: 'alarm-text' }, ' ALARM') : null),
    bar, h('div', { class: 'gauge-text' }, text || `${format(used)} of ${format(limit)}`));
}
