// Timeline: the controller's samples of the fleet (GET /v1/fleet/timeline,
// one every interval_ms, the last `capacity` kept) charted as allocated
// and fragmented GPUs (% of the schedulable GPUs) and pending jobs. Only
// samples newer than the last one held are fetched at each refresh.

import { api } from './api.js';
import { h, fill, num, hashParams, setHashParams } from './dom.js';

const WINDOWS = { 0: 'everything kept', 300: 'last 5 minutes', 900: 'last 15 minutes', 3600: 'last hour' };

function timeLabel(ms, span) {
  const d = new Date(ms);
  const hm = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
  return span <= 600000 ? `${hm}:${String(d.getSeconds()).padStart(2, '0')}` : hm;
}

// A line chart of series [{key, label, cls, area}] over samples; y from 0
// to yMax (percent when unit is '%').
function chart(samples, series, { width, height, yMax, unit, t0, t1 }) {
  const L = 44;
  const R = 12;
  const T = 10;
  const B = 24;
  const pw = Math.max(width - L - R, 10);
  const ph = height - T - B;
  const x = (ms) => L + (pw * (ms - t0)) / Math.max(t1 - t0, 1);
  const y = (v) => T + ph - (ph * Math.min(v, yMax)) / yMax;
  const kids = [];
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    kids.push(h('svg:line', { x1: L, x2: L + pw, y1: y(v), y2: y(v), class: 'grid' }),
      h('svg:text', { x: L - 6, y: y(v) + 4, class: 'axis', 'text-anchor': 'end' }, `${num(v, unit === '%' ? 0 : 1)}${unit}`));
  }
  const span = t1 - t0;
  const ticks = Math.max(2, Math.floor(pw / 110));
  for (let i = 0; i <= ticks; i++) {
    const ms = t0 + (span * i) / ticks;
    kids.push(h('svg:text', { x: x(ms), y: height - 6, class: 'axis', 'text-anchor': i === 0 ? 'start' : i === ticks ? 'end' : 'middle' }, timeLabel(ms, span)));
  }
  for (const s of series) {
    const pts = samples.filter((p) => p[s.key] !== null && p[s.key] !== undefined)
      .map((p) => [x(p.t), y(p[s.key])]);
    if (!pts.length) continue;
    const line = pts.map(([a, b], i) => `${i ? 'L' : 'M'}${a.toFixed(1)},${b.toFixed(1)}`).join('');
    if (s.area)
      kids.push(h('svg:path', { d: `${line}L${pts[pts.length - 1][0].toFixed(1)},${y(0)}L${pts[0][0].toFixed(1)},${y(0)}Z`, class: `area ${s.cls}` }));
    kids.push(h('svg:path', { d: line, class: `line ${s.cls}` }));
    if (pts.length === 1) kids.push(h('svg:circle', { cx: pts[0][0], cy: pts[0][1], r: 3, class: `dot ${s.cls}` }));
  }
  return h('svg:svg', { width, height, viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img' }, kids);
}

function legend(items) {
  return h('div', { class: 'legend' }, items.map(([cls, label, value, key]) =>
    h('span', { class: 'legend-item', dataset: { key } }, h('span', { class: `swatch ${cls}` }), `${label} `, h('strong', null, value))));
}

export function mount(root, ctx) {
  const q = hashParams();
  let win = Object.hasOwn(WINDOWS, q.window || '') ? Number(q.window) : 0;
  const top = h('section', { class: 'card', id: 'timeline-use' });
  const queue = h('section', { class: 'card', id: 'timeline-queue' });
  const about = h('p', { class: 'hint' });
  root.append(h('h1', null, 'Utilization and fragmentation'),
    h('div', { class: 'controls' }, h('label', null, 'Show ', h('select', {
      id: 'timeline-window', onchange: (e) => { win = Number(e.target.value); setHashParams({ window: win || '' }); draw(); },
    }, Object.entries(WINDOWS).map(([k, v]) => h('option', { value: k, selected: Number(k) === win }, v))))),
    top, queue, about);
  let samples = [];
  let meta = { interval_ms: 5000, capacity: 0 };

  function draw() {
    const now = samples.length ? samples[samples.length - 1].t : Date.now();
    const shown = win ? samples.filter((s) => s.t >= now - win * 1000) : samples;
    const last = shown[shown.length - 1];
    const width = Math.max(top.clientWidth - 32, 300);
    const t1 = now;
    const t0 = win ? now - win * 1000 : Math.min(shown[0]?.t ?? now, now - 60000);
    top.dataset.samples = shown.length;
    if (!last) {
      fill(top, h('p', { class: 'empty' }, 'No samples yet: the first comes within one interval.'));
      fill(queue);
      return;
    }
    top.dataset.allocated = last.allocated;
    top.dataset.fragmentation = last.frag ?? '';
    fill(top, h('h2', null, 'GPUs allocated and fragmented (% of schedulable GPUs)'),
      legend([['alloc', 'Allocated', `${num(last.allocated, 1)}% (${num(last.gpus_used, 2)} of ${last.gpus} GPUs)`, 'allocated'],
        ['frag', 'Fragmented (FGD)', last.frag === null ? 'no workload yet' : `${num(last.frag, 1)}% (${num(last.fragmented_gpus, 2)} GPUs)`, 'fragmentation']]),
      chart(shown, [{ key: 'allocated', cls: 'alloc', area: true }, { key: 'frag', cls: 'frag' }],
        { width, height: 260, yMax: 100, unit: '%', t0, t1 }));
    const maxQ = Math.max(4, ...shown.map((s) => s.pending_jobs));
    fill(queue, h('h2', null, 'Pending jobs and ready nodes'),
      legend([['pend', 'Pending jobs', String(last.pending_jobs), 'pending'], ['nodes', 'Ready nodes', String(last.nodes), 'nodes']]),
      chart(shown, [{ key: 'pending_jobs', cls: 'pend' }, { key: 'nodes', cls: 'nodes' }],
        { width, height: 150, yMax: Math.max(maxQ, ...shown.map((s) => s.nodes)), unit: '', t0, t1 }));
    fill(about, `A sample every ${num(meta.interval_ms / 1000, 1)} s; the controller keeps the last ${meta.capacity} ` +
      `(${num((meta.capacity * meta.interval_ms) / 60000, 0)} minutes) in memory, so a restart starts afresh. ` +
      'Fragmented GPUs are the free shares that the recent workload\'s typical tasks could not use (FGD).');
  }

  ctx.every(async () => {
    const since = samples.length ? samples[samples.length - 1].at : '';
    const r = await api('/v1/fleet/timeline', { signal: ctx.signal, params: { since } });
    meta = r;
    for (const s of r.samples)
      samples.push({ ...s, t: Date.parse(s.at), allocated: 100 * s.allocated, frag: s.fragmentation_pct });
    if (samples.length > r.capacity) samples = samples.slice(-r.capacity);
    draw();
  }, () => Math.min(Math.max(meta.interval_ms, 1000), 10000));
  let resize = null;
  window.addEventListener('resize', () => { clearTimeout(resize); resize = setTimeout(draw, 150); }, { signal: ctx.signal });
}
