// Usage and cost: GET /v1/usage over a window, grouped by tenant, model,
// region, day or job (docs/accounting.md), with the total and the prices
// in force. By day, a bar chart of cost and GPU-hours per day.

import { api } from './api.js';
import { h, fill, table, bar, num, hashParams, setHashParams, when } from './dom.js';

const WINDOWS = { '24h': 'last 24 hours', '7d': 'last 7 days', '30d': 'last 30 days', '90d': 'last 90 days', '': 'all history' };
const BYS = ['tenant', 'model', 'region', 'day', 'job', 'none'];

function money(x) {
  return num(x, 2);
}

// Cost (bars) and GPU-hours (labels) per day, as an SVG.
function dayChart(groups) {
  const w = 900;
  const hgt = 180;
  const pad = 28;
  const max = Math.max(...groups.map((g) => g.cost), 1e-9);
  const bw = (w - 2 * pad) / Math.max(groups.length, 1);
  return h('svg:svg', { viewBox: `0 0 ${w} ${hgt}`, class: 'chart days', role: 'img', 'aria-label': 'Cost per day' },
    groups.map((g, i) => {
      const bh = ((hgt - 2 * pad) * g.cost) / max;
      const x = pad + i * bw;
      return h('svg:g', null,
        h('svg:rect', { x: x + 2, y: hgt - pad - bh, width: Math.max(bw - 4, 1), height: Math.max(bh, 0.5), class: 'bar-cost' },
          h('svg:title', null, `${g.key}: cost ${money(g.cost)}, ${num(g.gpu_hours, 2)} GPU-hours`)),
        groups.length <= 31 ? h('svg:text', { x: x + bw / 2, y: hgt - 8, class: 'axis', 'text-anchor': 'middle' }, g.key.slice(5)) : null);
    }),
    h('svg:line', { x1: pad, x2: w - pad, y1: hgt - pad, y2: hgt - pad, class: 'axis-line' }));
}

export function mount(root, ctx) {
  const q = hashParams();
  const f = { since: q.since === 'all' ? '' : q.since ?? '30d', by: BYS.includes(q.by) ? q.by : 'tenant', tenant: q.tenant || '' };
  const out = h('section', { class: 'card', id: 'usage-table' });
  const chart = h('section', { class: 'card', id: 'usage-chart', hidden: true });
  const prices = h('section', { class: 'card', id: 'usage-prices' });
  let timer = null;
  const again = () => { clearTimeout(timer); timer = setTimeout(refresh, 250); };
  root.append(h('h1', null, 'Usage and cost'),
    h('form', { class: 'controls', onsubmit: (e) => e.preventDefault() },
      h('label', null, 'Window ', h('select', { id: 'usage-since', onchange: (e) => { f.since = e.target.value; again(); } },
        Object.entries(WINDOWS).map(([k, v]) => h('option', { value: k, selected: k === f.since }, v)))),
      h('label', null, 'By ', h('select', { id: 'usage-by', onchange: (e) => { f.by = e.target.value; again(); } },
        BYS.map((b) => h('option', { value: b, selected: b === f.by }, b)))),
      h('label', null, 'Tenant ', h('input', {
        id: 'usage-tenant', type: 'search', value: f.tenant, size: 12, placeholder: 'all',
        oninput: (e) => { f.tenant = e.target.value.trim(); again(); },
      }))),
    chart, out, prices);

  async function refresh() {
    setHashParams({ since: f.since === '30d' ? '' : f.since || 'all', by: f.by === 'tenant' ? '' : f.by, tenant: f.tenant });
    const [r, p] = await Promise.all([
      api('/v1/usage', { signal: ctx.signal, params: { since: f.since, by: f.by, tenant: f.tenant } }),
      api('/v1/prices', { signal: ctx.signal }).catch(() => ({ prices: [] })),
    ]);
    const groups = r.groups.slice().sort((a, b) => (f.by === 'day' ? a.key.localeCompare(b.key) : b.cost - a.cost || b.gpu_hours - a.gpu_hours));
    const maxGpu = Math.max(...groups.map((g) => g.gpu_hours), 1e-9);
    const figures = (g) => [num(g.gpu_hours, 2), num(g.spot_gpu_hours, 2), num(g.cpu_core_hours, 2),
      num(g.memory_gib_hours, 1), money(g.cost_on_demand), money(g.cost_spot), h('strong', null, money(g.cost))];
    const rows = groups.map((g) => ({
      props: { dataset: { key: g.key } },
      cells: [h('span', { class: 'cell-bar' }, bar(g.gpu_hours, maxGpu), g.key || (f.by === 'none' ? 'all' : '(none)')), ...figures(g)],
    }));
    rows.push({ props: { class: 'total' }, cells: ['Total', ...figures(r.total)] });
    fill(out, h('p', { class: 'hint' }, `${r.since ? `From ${when(r.since)}` : 'All history'} to ${when(r.until)}; running tasks count up to now.`),
      table([{ label: f.by === 'none' ? '' : f.by }, { label: 'GPU-h', cls: 'n' }, { label: 'spot GPU-h', cls: 'n' },
        { label: 'CPU core-h', cls: 'n' }, { label: 'Memory GiB-h', cls: 'n' }, { label: 'On-demand', cls: 'n' },
        { label: 'Spot', cls: 'n' }, { label: 'Cost', cls: 'n' }], rows, { class: 'usage' }));
    chart.hidden = f.by !== 'day' || groups.length === 0;
    if (!chart.hidden) fill(chart, h('h2', null, 'Cost per day'), dayChart(groups));
    fill(prices, h('h2', null, 'Prices'), p.prices.length
      ? table([{ label: 'Item' }, { label: 'Unit' }, { label: 'From' }, { label: 'Per hour', cls: 'n' }, { label: 'Spot per hour', cls: 'n' }],
        p.prices.map((x) => [x.item, x.unit, when(x.from), money(x.per_hour), x.spot_per_hour === null ? '–' : money(x.spot_per_hour)]))
      : h('p', { class: 'empty' }, 'No prices set: usage costs nothing (supercell price set).'));
  }
  ctx.every(refresh, 30000);
}
