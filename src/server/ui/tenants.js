// Tenants: the tree (parents before children, indented), each tenant's
// guarantee, limit and what its subtree holds now, with a GPU bar (the
// marker is the guarantee, the bar's end the limit when there is one).

import { api } from './api.js';
import { h, fill, table, bar, num, resources } from './dom.js';

// Tenants in tree order with their depth.
function tree(list) {
  const kids = new Map();
  const names = new Set(list.map((t) => t.name));
  for (const t of list) {
    const p = t.parent && names.has(t.parent) ? t.parent : '';
    if (!kids.has(p)) kids.set(p, []);
    kids.get(p).push(t);
  }
  const out = [];
  const walk = (p, depth) => {
    for (const t of (kids.get(p) || []).sort((a, b) => a.name.localeCompare(b.name))) {
      out.push({ t, depth, leaf: !kids.has(t.name) });
      walk(t.name, depth + 1);
    }
  };
  walk('', 0);
  return out;
}

function gpuCell(t) {
  const use = t.usage?.subtree?.gpu || 0;
  const g = t.guarantee?.gpu;
  const lim = t.limit?.gpu;
  const max = lim || Math.max(use, g || 0) || 1;
  const over = (g !== undefined && use > g) ? ' borrowing' : '';
  return h('span', { class: 'cell-bar' },
    bar(use, max, { marker: g, cls: over ? 'over' : '' }),
    h('span', null, `${num(use, 2)}${g !== undefined ? ` / ${num(g, 2)} guaranteed` : ''}${lim !== undefined ? ` · limit ${num(lim, 2)}` : ''}`));
}

export function mount(root, ctx) {
  const out = h('section', { class: 'card', id: 'tenants-table' });
  root.append(h('h1', null, 'Tenants'), out,
    h('p', { class: 'hint' }, 'Use is what the tenant and its subtree hold now. A tenant over its guarantee is borrowing: ' +
      'its owner may reclaim it with notice (docs/tenancy.md).'));
  ctx.every(async () => {
    const r = await api('/v1/tenants', { signal: ctx.signal });
    const rows = tree(r.tenants).map(({ t, depth }) => ({
      props: { dataset: { tenant: t.name, depth, parent: t.parent || '' } },
      cells: [
        h('span', { class: 'tree', style: { paddingLeft: `${depth * 1.25}rem` } }, depth ? '└ ' : '', h('strong', null, t.name)),
        num(t.weight, 2), gpuCell(t), resources(t.guarantee), resources(t.limit),
        resources(t.usage?.subtree), t.usage?.jobs_active ?? 0,
        t.regions_in_force?.length ? t.regions_in_force.join(', ') : 'any',
      ],
    }));
    fill(out, rows.length ? table([
      { label: 'Tenant' }, { label: 'Weight', cls: 'n' }, { label: 'GPUs held (subtree)' },
      { label: 'Guarantee' }, { label: 'Limit' }, { label: 'Holds now (subtree)' },
      { label: 'Active jobs', cls: 'n' }, { label: 'Regions' }], rows, { class: 'tenants' })
      : h('p', { class: 'empty' }, 'No tenants yet: one appears with its first job.'));
  }, 5000);
}
