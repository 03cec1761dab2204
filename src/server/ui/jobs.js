// Jobs: the list with filters (state, tenant, name, an array's elements),
// each job's live state and why a pending one waits; refreshed every 3 s.
// "Active" is two calls (pending, running): the API lists in id order, so
// the jobs that matter now are found without walking the whole history.

import { api } from './api.js';
import { h, fill, table, badge, num, age, gpusOf, notice, hashParams, setHashParams } from './dom.js';

const STATES = ['active', 'pending', 'running', 'succeeded', 'failed', 'cancelled', 'all'];
const PAGE = 200;

function tasksText(j) {
  if (j.array) {
    const c = j.array.counts || {};
    return `${j.array.size} elements: ` + Object.entries(c).filter(([, v]) => v > 0)
      .map(([k, v]) => `${v} ${k}`).join(', ');
  }
  const c = j.task_counts || {};
  return c.running ? `${c.running}/${j.task_count} running` : `${j.task_count}`;
}

function gpusText(j) {
  const g = gpusOf(j.resources);
  if (!g) return '–';
  const per = j.resources.gpu_milli ? `${j.resources.gpu_milli}m` : `${g}`;
  return j.task_count > 1 ? `${j.task_count} × ${per}` : per;
}

function why(j) {
  if (j.state === 'pending') return j.pending_reason || (j.held ? 'Held' : '');
  return j.reason || '';
}

function row(j) {
  const href = `#/jobs/${encodeURIComponent(j.id)}`;
  return {
    props: { dataset: { job: j.id, state: j.state } },
    cells: [
      h('a', { href }, j.id), j.name, j.tenant, badge(j.state), tasksText(j), gpusText(j),
      j.priority, j.state === 'pending' ? age(j.created_at) : j.started_at ? age(j.started_at, j.finished_at) : '–',
      h('span', { class: 'why' }, why(j)),
    ],
  };
}

async function list(params, signal) {
  if (params.state !== 'active') {
    const r = await api('/v1/jobs', { signal, params: { ...params, state: params.state === 'all' ? '' : params.state, limit: PAGE } });
    return { jobs: r.jobs, next: r.next };
  }
  const [p, r] = await Promise.all(['pending', 'running'].map((state) =>
    api('/v1/jobs', { signal, params: { ...params, state, after: '', limit: 500 } })));
  const jobs = [...new Map([...p.jobs, ...r.jobs].map((j) => [j.id, j])).values()]
    .sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
  return { jobs, next: null, more: p.next || r.next };
}

export function mount(root, ctx) {
  const q = hashParams();
  const f = { state: STATES.includes(q.state) ? q.state : 'active', tenant: q.tenant || '', q: q.q || '',
    array: q.array || '', after: q.after || '' };
  const counts = h('span', { class: 'counts' });
  const out = h('section', { id: 'jobs-table', class: 'card' });
  const pager = h('div', { class: 'pager' });
  let timer = null;
  const again = () => { clearTimeout(timer); timer = setTimeout(refresh, 250); };
  const controls = h('form', { class: 'controls', onsubmit: (e) => e.preventDefault() },
    h('label', null, 'State ', h('select', {
      id: 'jobs-state', onchange: (e) => { f.state = e.target.value; f.after = ''; again(); },
    }, STATES.map((s) => h('option', { value: s, selected: s === f.state }, s)))),
    h('label', null, 'Tenant ', h('input', {
      id: 'jobs-tenant', type: 'search', value: f.tenant, size: 12,
      oninput: (e) => { f.tenant = e.target.value.trim(); f.after = ''; again(); },
    })),
    h('label', null, 'Name ', h('input', {
      id: 'jobs-name', type: 'search', value: f.q, size: 14,
      oninput: (e) => { f.q = e.target.value; draw(); },
    })),
    f.array ? h('span', { class: 'chip' }, `elements of ${f.array} `,
      h('a', { href: '#/jobs', onclick: () => { f.array = ''; } }, '×')) : null,
    counts);
  root.append(h('h1', null, 'Jobs'), controls, out, pager);
  let data = { jobs: [] };

  function draw() {
    const shown = data.jobs.filter((j) => !f.q || j.name.includes(f.q));
    const by = {};
    for (const j of shown) by[j.state] = (by[j.state] || 0) + 1;
    fill(counts, Object.entries(by).map(([k, v]) => badge(k, `${v} ${k}`)));
    fill(out, shown.length ? table([
      { label: 'ID' }, { label: 'Name' }, { label: 'Tenant' }, { label: 'State' }, { label: 'Tasks' },
      { label: 'GPUs', cls: 'n' }, { label: 'Prio', cls: 'n' }, { label: 'Age', cls: 'n' },
      { label: 'Why (pending reason or end)' }], shown.map(row), { class: 'jobs' })
      : h('p', { class: 'empty' }, 'No jobs match.'));
    fill(pager,
      f.after ? h('button', { type: 'button', onclick: () => { f.after = ''; refresh(); } }, 'First page') : null,
      data.next ? h('button', { type: 'button', onclick: () => { f.after = data.next; refresh(); } }, 'Next page') : null,
      data.more ? notice(`Showing the first ${num(data.jobs.length, 0)} active jobs.`, 'info') : null);
  }

  async function refresh() {
    setHashParams({ state: f.state === 'active' ? '' : f.state, tenant: f.tenant, q: f.q, array: f.array, after: f.after });
    data = await list({ state: f.state, tenant: f.tenant, array: f.array, after: f.after }, ctx.signal);
    draw();
  }
  ctx.every(refresh, 3000);
}
