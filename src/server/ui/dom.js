// DOM building and formatting shared by the pages. Text always goes in as
// text nodes (never as HTML): job names, labels and logs are user data.

const SVG = 'http://www.w3.org/2000/svg';

// h('div', {class: 'x', dataset: {node: 'a'}, onclick: f}, child, ...):
// an element; 'svg:rect' makes an SVG one. Children may be strings,
// numbers, nodes, arrays of them, or null (skipped).
export function h(tag, props, ...kids) {
  const svg = tag.startsWith('svg:');
  const el = svg ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'style') Object.assign(el.style, v);
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class' && !svg) el.className = v;
    else if (k === 'value' && !svg) el.value = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  add(el, kids);
  return el;
}

function add(el, kids) {
  for (const k of kids) {
    if (k === null || k === undefined || k === false) continue;
    if (Array.isArray(k)) add(el, k);
    else el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
}

// Replaces el's children.
export function fill(el, ...kids) {
  el.replaceChildren();
  add(el, kids);
  return el;
}

// A table: cols [{label, cls}], rows of cells (or {cells, props} for the <tr>).
export function table(cols, rows, props = {}) {
  return h('table', props,
    h('thead', null, h('tr', null, cols.map((c) => h('th', { class: c.cls }, c.label)))),
    h('tbody', null, rows.map((r) => {
      const cells = Array.isArray(r) ? r : r.cells;
      return h('tr', Array.isArray(r) ? null : r.props,
        cells.map((c, i) => h('td', { class: cols[i]?.cls }, c)));
    })));
}

// A state as a coloured badge.
export function badge(state, text = state) {
  return h('span', { class: `badge s-${state}` }, text);
}

// A horizontal bar: value of max, with an optional marker (a guarantee).
export function bar(value, max, { marker, cls = '' } = {}) {
  const pct = (v) => `${Math.max(0, Math.min(100, max > 0 ? (100 * v) / max : 0))}%`;
  return h('span', { class: `bar ${cls}` },
    h('span', { class: 'fill', style: { width: pct(value) } }),
    marker !== undefined && marker !== null
      ? h('span', { class: 'marker', style: { left: pct(marker) } }) : null);
}

export function num(x, digits = 1) {
  if (x === null || x === undefined || Number.isNaN(x)) return '–';
  return Number(x).toLocaleString('en-US', { maximumFractionDigits: digits });
}

export function pct(fraction, digits = 1) {
  return fraction === null || fraction === undefined ? '–' : `${num(100 * fraction, digits)}%`;
}

// GPUs of a job's resources per task: "2", "0.5" or "0".
export function gpusOf(res) {
  if (!res || !res.gpus) return 0;
  return res.gpu_milli ? (res.gpus * res.gpu_milli) / 1000 : res.gpus;
}

// "3s", "4m", "2h 5m", "3d" since (or between) RFC 3339 times.
export function age(from, to) {
  if (!from) return '–';
  const ms = (to ? Date.parse(to) : Date.now()) - Date.parse(from);
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

export function when(t) {
  if (!t) return '–';
  const d = new Date(t);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

// A Resources object ({gpu: 8, "gpu.H100": 4, cpu: 64, memory: "512Gi"})
// as "gpu 8 · H100 4 · cpu 64 · mem 512Gi"; "–" when empty.
export function resources(r) {
  const parts = Object.entries(r || {}).map(([k, v]) => {
    const name = k.startsWith('gpu.') ? k.slice(4) : k === 'memory' ? 'mem' : k;
    return `${name} ${typeof v === 'number' ? num(v, 2) : v}`;
  });
  return parts.length ? parts.join(' · ') : '–';
}

// A message in the page (an error the next refresh may clear).
export function notice(text, cls = 'error') {
  return h('p', { class: `notice ${cls}`, role: cls === 'error' ? 'alert' : null }, text);
}

// Reads and writes the query of the hash route (#/jobs?state=running).
export function hashParams() {
  const q = location.hash.split('?')[1] || '';
  return Object.fromEntries(new URLSearchParams(q));
}

export function setHashParams(params) {
  const base = location.hash.split('?')[0] || '#/';
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== '' && v != null));
  const next = q.toString() ? `${base}?${q}` : base;
  if (next !== location.hash) history.replaceState(null, '', next);
}
