// One job: its state (refreshed every 2 s), tasks, past attempts and a
// live tail of its output. The tail long-polls GET /v1/jobs/{id}/logs
// (wait=20) from the offset it reached, so new lines appear as the agent
// ships them; it keeps the last MAX_TAIL characters.

import { api } from './api.js';
import { h, fill, table, badge, age, when, gpusOf, notice } from './dom.js';

const MAX_TAIL = 200000;

function field(label, value, cls) {
  return h('div', { class: cls }, h('dt', null, label),
    h('dd', null, value === null || value === undefined || value === '' ? '–' : value));
}

function command(spec) {
  const c = spec?.command;
  return Array.isArray(c) ? c.map((a) => (/[\s'"$]/.test(a) ? JSON.stringify(a) : a)).join(' ') : c || '';
}

function head(j) {
  const res = j.spec?.resources || {};
  const g = gpusOf(res);
  return h('dl', { class: 'facts' },
    field('State', [badge(j.state), j.held ? ' held' : '']),
    field(j.state === 'pending' ? 'Pending because' : 'Reason',
      j.state === 'pending' ? j.pending_reason : j.reason),
    field('Tenant', j.tenant),
    field('Priority', j.priority),
    field('Tasks', j.task_count),
    field('Per task', [g ? (res.gpu_milli ? `${res.gpu_milli} milli-GPU` : `${g} GPU`) : 'no GPU',
      ` · ${(res.cpu_milli || 0) / 1000} CPU`, res.memory ? ` · ${res.memory} memory` : '',
      j.spec?.models?.length ? ` · ${j.spec.models.join(', ')}` : '']),
    field('Created', when(j.created_at)),
    field('Started', j.started_at ? `${when(j.started_at)} (ran ${age(j.started_at, j.finished_at)})` : null),
    field('Finished', j.finished_at ? when(j.finished_at) : null),
    field('Attempt', `${j.attempt} (retries ${j.attempt - (j.preemptions || 0)}/${j.max_retries}, preempted ${j.preemptions || 0})`),
    field('Command', h('code', null, command(j.spec)), 'wide'));
}

function tasks(j) {
  return table([{ label: 'Task' }, { label: 'State' }, { label: 'Node' }, { label: 'Devices' },
    { label: 'Share', cls: 'n' }, { label: 'Attempt', cls: 'n' }, { label: 'Exit' },
    { label: 'Started' }, { label: 'Ran', cls: 'n' }],
  (j.tasks || []).map((t) => ({
    props: { dataset: { task: t.index, state: t.state } },
    cells: [t.task_id, badge(t.state), t.node || '–', t.devices.length ? t.devices.join(', ') : '–',
      t.devices.length ? `${t.gpu_milli}m` : '–', t.attempt,
      t.exit_code !== null ? `code ${t.exit_code}` : t.signal !== null ? `signal ${t.signal}` : '–',
      when(t.started_at), t.started_at ? age(t.started_at, t.finished_at) : '–'],
  })), { class: 'tasks' });
}

function attempts(j) {
  if (!j.attempts?.length) return null;
  return [h('h2', null, 'Earlier attempts'), table(
    [{ label: 'Attempt', cls: 'n' }, { label: 'Ended because' }, { label: 'Started' }, { label: 'Finished' }],
    j.attempts.map((a) => [a.attempt, a.reason, when(a.started_at), when(a.finished_at)]))];
}

// The log tail of job id: follows from offset 0 until the output is done
// or the page is left. Restarted (from 0) when the task choice changes.
function tail(id, ntasks, ctx) {
  const pre = h('pre', { id: 'log', class: 'log', tabindex: 0 });
  const state = h('span', { id: 'log-state', class: 'log-state' });
  const follow = h('input', { type: 'checkbox', checked: true, id: 'log-follow' });
  const pick = ntasks > 1 ? h('select', { id: 'log-task', 'aria-label': 'Task' },
    h('option', { value: '' }, 'all tasks'),
    Array.from({ length: Math.min(ntasks, 1024) }, (_, i) => h('option', { value: i }, `task ${i}`))) : null;
  let run = 0;

  async function loop(mine, task) {
    let offset = 0;
    let text = '';
    pre.textContent = '';
    state.textContent = 'following';
    while (mine === run && !ctx.signal.aborted) {
      let r;
      try {
        r = await api(`/v1/jobs/${encodeURIComponent(id)}/logs`, { signal: ctx.signal, params: { offset, task, wait: 20 } });
      } catch (e) {
        ctx.fail(e);
        if (ctx.signal.aborted || e.name === 'AbortError') return;
        state.textContent = `retrying: ${e.message}`;
        await new Promise((res) => setTimeout(res, 2000));
        continue;
      }
      if (mine !== run) return;
      if (r.data) {
        text = (text + r.data).slice(-MAX_TAIL);
        pre.textContent = text;
        pre.dataset.lines = text.split('\n').filter(Boolean).length;
        if (follow.checked) pre.scrollTop = pre.scrollHeight;
      }
      offset = r.offset;
      pre.dataset.offset = offset;
      if (r.done) {
        state.textContent = `complete · ${offset} bytes`;
        pre.dataset.done = 'true';
        return;
      }
      state.textContent = `following · ${offset} bytes`;
    }
  }
  const start = () => { run += 1; loop(run, pick ? pick.value : ''); };
  if (pick) pick.addEventListener('change', start);
  start();
  return h('section', { class: 'card log-card' },
    h('div', { class: 'log-head' }, h('h2', null, 'Output'), pick, state,
      h('label', null, follow, ' follow')),
    pre);
}

export function mount(root, ctx, id) {
  const title = h('h1', null, h('a', { href: '#/jobs' }, 'Jobs'), ' / ', id);
  const facts = h('section', { class: 'card', id: 'job-facts' });
  const more = h('section', { id: 'job-tasks' });
  root.append(title, facts, more);
  let logs = null;
  ctx.every(async () => {
    let j;
    try {
      j = await api(`/v1/jobs/${encodeURIComponent(id)}`, { signal: ctx.signal });
    } catch (e) {
      if (e.status === 404) {
        fill(facts, notice(`No job ${id} (or it is another tenant's).`));
        return;
      }
      throw e;
    }
    fill(title, h('a', { href: '#/jobs' }, 'Jobs'), ' / ', j.id, ' ', h('span', { class: 'sub' }, j.name));
    fill(facts, head(j));
    if (j.array) {
      fill(more, h('p', null, `An array of ${j.array.size} elements (${j.array.indices}). `,
        h('a', { href: `#/jobs?state=all&array=${encodeURIComponent(j.id)}` }, 'List its elements')));
      return;
    }
    fill(more, h('section', { class: 'card' }, h('h2', null, 'Tasks'), tasks(j),
      j.tasks_next !== null && j.tasks_next !== undefined ? notice(`The first ${j.tasks.length} tasks of ${j.task_count}.`, 'info') : null,
      attempts(j)));
    if (!logs) {
      logs = tail(id, j.task_count, ctx);
      root.append(logs);
    }
  }, 2000);
}
