// Fleet: every node grouped by region and rack (or model), each with a
// grid of its devices filled by the share in use (whole or fractional),
// a summary by model, and the latest fragmentation sample.

import { api } from './api.js';
import { h, fill, table, bar, num, pct, hashParams, setHashParams } from './dom.js';

const GROUPS = {
  'region,rack': 'region, then rack',
  region: 'region',
  rack: 'rack',
  model: 'model',
  none: 'nothing',
};
const open = new Map(); // group key -> whether its <details> is open

function modelsOf(n) {
  return [...new Set(n.devices.map((d) => d.model))].join('+') || 'CPU only';
}

function usedMilli(n) {
  return n.devices.reduce((s, d) => s + d.milli_used, 0);
}

function device(d, node) {
  const m = d.milli_used;
  const cls = m <= 0 ? 'free' : m >= 1000 ? 'full' : 'part';
  const title = `${node.name} device ${d.index}: ${d.vendor} ${d.model}, ` +
    (m <= 0 ? 'free' : m >= 1000 ? 'in use (whole)' : `${m} milli in use (fractional)`);
  return h('span', { class: `dev ${cls}`, title, dataset: { milli: m, index: d.index } },
    h('span', { class: 'level', style: { height: `${Math.min(100, m / 10)}%` } }));
}

function nodeCard(n) {
  const used = n.devices.filter((d) => d.milli_used > 0).length;
  const state = n.state !== 'ready' ? n.state : n.drained ? 'drained' : 'ready';
  return h('div', {
    class: `node st-${state}`,
    dataset: { node: n.name, gpus: n.devices.length, usedDevices: used, milliUsed: usedMilli(n) },
  },
  h('div', { class: 'node-head' },
    h('span', { class: 'node-name', title: n.name }, n.name),
    state !== 'ready' ? h('span', { class: `badge s-${state}` }, state) : null),
  h('div', { class: 'node-meta' },
    `${modelsOf(n)} · ${used}/${n.devices.length} in use`),
  n.devices.length ? h('div', { class: 'devs' }, n.devices.map((d) => device(d, n))) : null);
}

function keyOf(n, by) {
  if (by === 'model') return modelsOf(n);
  return n.labels?.[by] || `no ${by}`;
}

// Nodes grouped by the first of levels, recursively; a <details> each.
function groups(nodes, levels, path = '') {
  if (!levels.length)
    return h('div', { class: 'nodes' }, nodes.map(nodeCard));
  const [by, ...rest] = levels;
  const m = new Map();
  for (const n of nodes) {
    const k = keyOf(n, by);
    if (!m.has(k)) m.set(k, []);
    m.get(k).push(n);
  }
  return [...m.keys()].sort().map((k) => {
    const list = m.get(k);
    const gpus = list.reduce((s, n) => s + n.devices.length, 0);
    const used = list.reduce((s, n) => s + usedMilli(n), 0) / 1000;
    const id = `${path}/${by}=${k}`;
    const d = h('details', { class: `group lvl-${by}`, dataset: { group: id } },
      h('summary', null,
        h('span', { class: 'group-name' }, by === 'none' ? 'all nodes' : `${by} ${k}`),
        h('span', { class: 'group-meta' },
          `${list.length} node${list.length === 1 ? '' : 's'} · ${num(used, 2)} of ${gpus} GPUs in use`),
        bar(used, gpus)),
      rest.length ? h('div', { class: 'subgroups' }, groups(list, rest, id)) : groups(list, rest, id));
    d.open = open.has(id) ? open.get(id) : nodes.length <= 400 || levels.length > 1;
    d.addEventListener('toggle', () => open.set(id, d.open));
    return d;
  });
}

function byModel(nodes) {
  const m = new Map();
  for (const n of nodes) for (const d of n.devices) {
    const e = m.get(d.model) || { model: d.model, vendor: d.vendor, nodes: new Set(), gpus: 0, used: 0 };
    e.nodes.add(n.name);
    e.gpus += 1;
    e.used += d.milli_used / 1000;
    m.set(d.model, e);
  }
  const rows = [...m.values()].sort((a, b) => b.gpus - a.gpus).map((e) => [
    `${e.vendor} ${e.model}`, e.nodes.size, e.gpus, num(e.used, 2), num(e.gpus - e.used, 2),
    h('span', { class: 'cell-bar' }, bar(e.used, e.gpus), pct(e.used / e.gpus)),
  ]);
  return table([{ label: 'Model' }, { label: 'Nodes', cls: 'n' }, { label: 'GPUs', cls: 'n' },
    { label: 'In use', cls: 'n' }, { label: 'Free', cls: 'n' }, { label: 'Allocated' }],
  rows, { class: 'models' });
}

function tile(label, value, sub) {
  return h('div', { class: 'tile' }, h('div', { class: 'tile-label' }, label),
    h('div', { class: 'tile-value' }, value), sub ? h('div', { class: 'tile-sub' }, sub) : null);
}

export function mount(root, ctx) {
  const q = hashParams();
  const state = { group: GROUPS[q.group] ? q.group : 'region,rack', model: q.model || '', text: q.q || '' };
  const summary = h('section', { class: 'tiles', id: 'fleet-summary' });
  const models = h('section', { class: 'card', id: 'fleet-models' });
  const list = h('section', { id: 'fleet-nodes' });
  const modelSel = h('select', { id: 'fleet-model', 'aria-label': 'Model' });
  const controls = h('div', { class: 'controls' },
    h('label', null, 'Group by ',
      h('select', {
        id: 'fleet-group',
        onchange: (e) => { state.group = e.target.value; redraw(); },
      }, Object.entries(GROUPS).map(([k, v]) => h('option', { value: k, selected: k === state.group }, v)))),
    h('label', null, 'Model ', modelSel),
    h('input', {
      type: 'search', placeholder: 'node name', value: state.text, 'aria-label': 'Node name',
      oninput: (e) => { state.text = e.target.value; redraw(); },
    }),
    h('span', { class: 'legend' },
      h('span', { class: 'dev free' }), 'free', h('span', { class: 'dev part' }, h('span', { class: 'level' })),
      'fractional', h('span', { class: 'dev full' }, h('span', { class: 'level' })), 'whole'));
  modelSel.addEventListener('change', () => { state.model = modelSel.value; redraw(); });
  root.append(h('h1', null, 'Fleet'), h('div', { class: 'overview' }, summary, models), controls, list);
  let nodes = [];
  let last = null; // the newest timeline sample seen (the next call asks only for later ones)

  function redraw() {
    setHashParams({ group: state.group === 'region,rack' ? '' : state.group, model: state.model, q: state.text });
    const all = [...new Set(nodes.flatMap((n) => n.devices.map((d) => d.model)))].sort();
    fill(modelSel, h('option', { value: '' }, 'all'),
      all.map((m) => h('option', { value: m, selected: m === state.model }, m)));
    const shown = nodes.filter((n) => (!state.model || n.devices.some((d) => d.model === state.model)) &&
      (!state.text || n.name.includes(state.text)));
    const levels = state.group === 'none' ? ['none'] : state.group.split(',');
    fill(list, shown.length ? groups(shown, levels) : h('p', { class: 'empty' }, 'No nodes.'));
  }

  ctx.every(async () => {
    const [n, tl] = await Promise.all([
      api('/v1/nodes', { signal: ctx.signal }),
      api('/v1/fleet/timeline', { signal: ctx.signal, params: { since: last?.at } }).catch(() => null),
    ]);
    if (tl?.samples?.length) last = tl.samples[tl.samples.length - 1];
    nodes = n.nodes.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
    const ready = nodes.filter((x) => x.state === 'ready' && !x.drained);
    const gpus = ready.reduce((s, x) => s + x.devices.length, 0);
    const used = ready.reduce((s, x) => s + usedMilli(x), 0) / 1000;
    fill(summary,
      tile('Nodes', `${ready.length} ready`, `${nodes.length - ready.length} lost or drained`),
      tile('GPUs in use', `${num(used, 2)} / ${gpus}`, pct(gpus ? used / gpus : 0)),
      tile('Fragmentation', last && last.fragmentation_pct !== null ? `${num(last.fragmentation_pct)}%` : '–',
        last && last.fragmented_gpus !== null ? `${num(last.fragmented_gpus, 2)} GPUs stranded (FGD)` : 'no workload yet'),
      tile('Pending jobs', last ? String(last.pending_jobs) : '–', h('a', { href: '#/jobs?state=pending' }, 'see why')));
    fill(models, h('h2', null, 'By model'), byModel(ready));
    redraw();
  }, 5000);
}
