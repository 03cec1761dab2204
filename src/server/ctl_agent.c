/*
 * The agent protocol of the controller: registration (with adoption of
 * running tasks), heartbeats that reconcile what an agent runs with what it
 * should run, status reports, assignment long-polls and log chunks. Reports
 * become state-machine events (ctl_state.c); this file keeps only the
 * delivery bookkeeping (what was sent, what to send again) and the kill
 * queues. A process the controller did not assign to that node, or no
 * longer wants, is killed.
 */
#include "server/ctl_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"
#include "util/vec.h"

#define MISSING_LIMIT 3        /* heartbeats without a running task -> lost */
#define STATE_WRITE_MS 10000   /* a live node's heartbeat time is stored this often */

void sc_kill_list_release(struct sc_kill_list *k)
{
  free(k->items);
  free(k->notices);
  memset(k, 0, sizeof *k);
}

void sc_assignments_release(struct sc_assignments *a)
{
  for (int i = 0; i < a->nstarts; i++)
    sc_spec_run_unref(a->starts[i].run);
  sc_kill_list_release(&a->kills);
  memset(a, 0, sizeof *a);
}

/* The task of a report, or NULL when the controller knows no such task. */
static struct ctl_task *task_of(struct sc_ctl *c, int64_t job_id, int index)
{
  struct ctl_job *j = ctl_job_find(c, job_id);

  return j && index >= 0 && index < j->ntasks ? &j->tasks[index] : NULL;
}

/* Adds the preemption notice of kill r on node to out, when its task has
 * one for the process that lives there (the noticed attempt's). Without
 * room the kill goes plain: the process still ends, only sooner. */
static void add_notice(struct sc_ctl *c, int node, const struct sc_task_ref *r,
                       struct sc_kill_list *out)
{
  const struct ctl_task *t = task_of(c, r->job_id, r->index);
  struct sc_kill_notice *n;

  if (!t || !t->notice.set || t->alive_node != node || t->alive_attempt != t->notice.attempt ||
      sc_vec_reserve(&out->notices, &out->capnotices, out->nnotices + 1, sizeof *out->notices) < 0)
    return;
  n = &out->notices[out->nnotices++];
  memset(n, 0, sizeof *n);
  n->task = *r;
  n->signal = t->notice.signal;
  n->grace_ms = t->notice.grace_ms;
  n->by = t->notice.by;
  memcpy(n->kind, t->notice.kind, sizeof n->kind);
}

/* Moves node's queued kills into out, with their notices; they stay
 * queued if out cannot grow. */
static void take_kills(struct sc_ctl *c, int node, struct sc_kill_list *out)
{
  struct ctl_refq *q = &c->nodes[node].kill_q;

  if (q->n == 0 || sc_vec_reserve(&out->items, &out->cap, out->n + q->n, sizeof *out->items) < 0)
    return;
  memcpy(out->items + out->n, q->items, (size_t)q->n * sizeof *q->items);
  for (int i = 0; i < q->n; i++)
    add_notice(c, node, &q->items[i], out);
  out->n += q->n;
  q->n = 0;
}

/* Tasks the controller thinks live on node but the agent did not list
 * (full: the agent registered, so it lists everything it runs). */
static void reconcile_missing(struct sc_ctl *c, int node, const struct sc_agent_running *running,
                              int nrunning, bool full, struct sc_store_batch *b)
{
  struct ctl_event_args lost = {.node = node, .attempt = -1, .reason = "task lost by its agent"};
  struct ctl_event_args gone = {.node = node, .attempt = -1};
  int n = ctl_alive_snapshot(c, node);

  if (n < 0) {
    sc_error("node %s: out of memory, its missing tasks are settled later",
             c->nodes[node].rec.name);
    return;
  }
  for (int i = 0; i < n; i++) {
    struct ctl_task *t = c->scratch[i];
    int k = (int)(t - t->job->tasks);
    bool listed = false;
    for (int r = 0; r < nrunning && !listed; r++)
      listed = running[r].job_id == t->job->id && running[r].index == k;
    if (t->alive_node != node || listed)
      continue;
    if (t->state == SC_TASK_ASSIGNED) {
      if (full && t->delivered) { /* a restarted agent: send it again */
        t->delivered = false;
        ctl_node_push(c, node, false, t->job->id, k);
      }
    } else if (t->state == SC_TASK_RUNNING && t->node == node) {
      if (full || ++t->missing >= MISSING_LIMIT)
        ctl_task_event(c, t, CTL_EV_LOST, &lost, b);
    } else {
      ctl_task_event(c, t, CTL_EV_GONE, &gone, b); /* an old or killed process */
    }
  }
}

/* Reconciles node with the agent's list of what it runs; fills kill. */
static void reconcile(struct sc_ctl *c, int node, const struct sc_agent_running *running,
                      int nrunning, bool full, struct sc_kill_list *kill, struct sc_store_batch *b)
{
  for (int i = 0; i < nrunning; i++) {
    const struct sc_agent_running *r = &running[i];
    struct ctl_task *t = task_of(c, r->job_id, r->index);
    struct ctl_event_args args = {.node = node, .attempt = -1, .pid = r->pid};
    if (t)
      ctl_task_event(c, t, CTL_EV_RUNNING, &args, b);
    else
      ctl_node_push(c, node, true, r->job_id, r->index);
  }
  reconcile_missing(c, node, running, nrunning, full, b);
  take_kills(c, node, kill);
}

/* Heartbeats the controller takes per second at most, once the fleet is
 * large (Nomad's max_heartbeats_per_second rule, with more room). */
#define HEARTBEATS_PER_S 1000

int64_t sc_ctl_heartbeat_interval_ms(struct sc_ctl *c)
{
  int64_t ms = c->opts.heartbeat_timeout_ms / 4, fleet, cap = c->opts.heartbeat_timeout_ms / 3;
  int nodes;

  pthread_mutex_lock(&c->mu);
  nodes = c->nnodes;
  pthread_mutex_unlock(&c->mu);
  ms = ms > 1000 ? 1000 : ms < 100 ? 100 : ms;
  fleet = (int64_t)nodes * 1000 / HEARTBEATS_PER_S; /* 10,000 nodes: 10 s */
  if (fleet > ms)
    ms = fleet < cap ? fleet : cap; /* three beats missed before a node is lost */
  return ms;
}

int64_t sc_ctl_grace_ms(struct sc_ctl *c)
{
  return c->opts.grace_ms;
}

int64_t sc_ctl_fence_after_ms(struct sc_ctl *c)
{
  return c->opts.fence_after_ms > 0 ? c->opts.fence_after_ms : 0;
}

/* Marks node ready again (a lost node came back) and records it. */
static void node_seen(struct sc_ctl *c, int node, struct sc_store_batch *b)
{
  struct ctl_node *n = &c->nodes[node];
  int64_t now = sc_clock_mono_ms();

  ctl_node_seen(c, node, now);
  n->rec.last_heartbeat_ms = ctl_wall_ms(c);
  if (n->rec.state != SC_NODE_READY || now - n->written_ms > STATE_WRITE_MS) {
    if (n->rec.state != SC_NODE_READY) {
      sc_info("node %s is back", n->rec.name);
      ctl_notify_locked(c);
    }
    n->rec.state = SC_NODE_READY;
    n->written_ms = now;
    ctl_batch_node(b, n, !n->stale);
    if (n->stale) {
      n->stale = false;
      c->nstale_nodes--;
    }
  }
}

/* Ends the wait of node's current poll, if any: it answers empty. */
static void supersede_poll(struct sc_ctl *c, int node)
{
  c->nodes[node].poll_seq++;
  ctl_node_wake(c, node); /* the older parked poll answers empty */
  pthread_cond_broadcast(&c->changed);
}

int sc_ctl_register(struct sc_ctl *c, const struct sc_agent_reg *reg, struct sc_kill_list *kill)
{
  struct sc_store_batch *b = sc_store_batch_new();
  bool submitted = false;
  int node, rc;

  memset(kill, 0, sizeof *kill);
  if (!b)
    return SC_ENOMEM;
  pthread_mutex_lock(&c->mu);
  node = ctl_node_upsert(c, reg);
  if (node >= 0) {
    c->nodes[node].written_ms = sc_clock_mono_ms();
    ctl_batch_node(b, &c->nodes[node], false);
    /* A register starts the agent afresh: a poll still open from before
     * (a killed process's) answers empty instead of taking its starts. */
    supersede_poll(c, node);
    reconcile(c, node, reg->running, reg->nrunning, true, kill, b);
    ctl_notify_locked(c);
    sc_info("node %s registered: %d devices, %d running tasks", reg->name, reg->ndev,
            reg->nrunning);
    submitted = ctl_submit_locked(c, b);
  }
  pthread_mutex_unlock(&c->mu);
  if (node < 0) {
    sc_store_batch_free(b);
    return node;
  }
  rc = ctl_finish(c, b, submitted);
  if (rc < 0)
    sc_kill_list_release(kill);
  return rc;
}

int sc_ctl_heartbeat(struct sc_ctl *c, const char *name, const struct sc_agent_running *running,
                     int nrunning, struct sc_kill_list *kill)
{
  struct sc_store_batch *b = sc_store_batch_new();
  bool submitted = false;
  int node, rc;

  memset(kill, 0, sizeof *kill);
  if (!b)
    return SC_ENOMEM;
  pthread_mutex_lock(&c->mu);
  node = ctl_node_find(c, name);
  if (node >= 0) {
    node_seen(c, node, b);
    reconcile(c, node, running, nrunning, false, kill, b);
    submitted = ctl_submit_locked(c, b);
  }
  pthread_mutex_unlock(&c->mu);
  if (node < 0) {
    sc_store_batch_free(b);
    return SC_ENOENT;
  }
  rc = ctl_finish(c, b, submitted);
  if (rc < 0) {
    /* The agent sends its list again; the kills go out with the next reply. */
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < kill->n; i++)
      ctl_node_push(c, node, true, kill->items[i].job_id, kill->items[i].index);
    pthread_mutex_unlock(&c->mu);
    sc_kill_list_release(kill);
  }
  return rc;
}

int sc_ctl_status(struct sc_ctl *c, const char *name, const struct sc_agent_update *u, int n)
{
  struct sc_store_batch *b = sc_store_batch_new();
  bool submitted = false;
  int node;

  if (!b)
    return SC_ENOMEM;
  pthread_mutex_lock(&c->mu);
  node = ctl_node_find(c, name);
  for (int i = 0; node >= 0 && i < n; i++) {
    struct ctl_task *t = task_of(c, u[i].job_id, u[i].index);
    struct ctl_event_args args = {.node = node, .attempt = u[i].attempt, .pid = u[i].pid,
                                  .exit_code = u[i].exit_code, .signal = u[i].signal,
                                  .reason = u[i].reason[0] ? u[i].reason : NULL,
                                  .started_ms = u[i].started_ms, .ended_ms = u[i].ended_ms};
    if (t)
      ctl_task_event(c, t, u[i].exited ? CTL_EV_EXITED : CTL_EV_RUNNING, &args, b);
    else if (!u[i].exited)
      ctl_node_push(c, node, true, u[i].job_id, u[i].index);
  }
  if (node >= 0) {
    node_seen(c, node, b);
    ctl_notify_locked(c);
    submitted = ctl_submit_locked(c, b);
  }
  pthread_mutex_unlock(&c->mu);
  if (node < 0) {
    sc_store_batch_free(b);
    return SC_ENOENT;
  }
  return ctl_finish(c, b, submitted);
}

/* The start of task index of j for its agent, into s. */
static void task_start(struct sc_ctl *c, struct ctl_job *j, int index, struct sc_task_start *s)
{
  const struct ctl_task *t = &j->tasks[index];
  const struct ctl_node *n = &c->nodes[t->node], *n0;
  const struct ctl_tenant *tn;

  memset(s, 0, sizeof *s);
  s->task.job_id = j->id;
  s->task.index = index;
  s->count = j->ntasks;
  s->attempt = t->attempt;
  s->ndev = t->ndev;
  memcpy(s->devices, t->dev, sizeof s->devices);
  if (t->ndev > 0)
    memcpy(s->vendor, n->rec.dev[t->pos[0]].vendor, sizeof s->vendor);
  s->gpu_milli = j->spec.gpu_milli;
  s->cpu_milli = j->spec.cpu_milli;
  s->memory_mib = j->spec.memory_mib;
  s->max_runtime_s = j->spec.max_runtime_s;
  s->grace_s = (c->opts.grace_ms + 999) / 1000;
  n0 = j->tasks[0].node >= 0 ? &c->nodes[j->tasks[0].node] : NULL;
  snprintf(s->master_addr, sizeof s->master_addr, "%s",
           n0 && n0->rec.address[0] ? n0->rec.address : "127.0.0.1");
  s->master_port = 20000 + (int)(j->id % 20000);
  snprintf(s->tenant, sizeof s->tenant, "%s", j->spec.tenant);
  if ((tn = ctl_tenant_find(c, j->spec.tenant))) {
    s->tenant_id = tn->rec.id;
    memcpy(s->run_as, tn->rec.run_as, sizeof s->run_as);
  }
  sc_ctl_task_token(c, j->id, t->attempt, s->task_token);
  s->run = sc_spec_run_ref(j->spec.run);
}

/* Moves deliverable starts and the kills of node into out; true if any. A
 * start is marked delivered only once its reply entry is filled, and the
 * kills move only when out has room for all of them: nothing is dropped. */
static bool take_assignments(struct sc_ctl *c, int node, struct sc_assignments *out)
{
  struct ctl_node *n = &c->nodes[node];
  int i;

  for (i = 0; i < n->start_q.n && out->nstarts < SC_CTL_STARTS_MAX; i++) {
    const struct sc_task_ref *r = &n->start_q.items[i];
    struct ctl_task *t = task_of(c, r->job_id, r->index);
    if (t && t->node == node && t->state == SC_TASK_ASSIGNED && t->published) {
      task_start(c, t->job, r->index, &out->starts[out->nstarts++]);
      t->delivered = true;
    }
  }
  /* The rest waits for the next poll, so an agent starting many tasks still
   * gets to send its heartbeats in between. */
  if (i < n->start_q.n)
    memmove(n->start_q.items, n->start_q.items + i,
            (size_t)(n->start_q.n - i) * sizeof *n->start_q.items);
  n->start_q.n -= i;
  take_kills(c, node, &out->kills);
  return out->nstarts > 0 || out->kills.n > 0;
}

int sc_ctl_assignments(struct sc_ctl *c, const char *name, int64_t wait_ms,
                       struct sc_assignments *out)
{
  struct timespec ts = sc_clock_mono_after(wait_ms);
  int64_t deadline = sc_clock_mono_ms() + wait_ms;
  uint64_t seq = 0;
  int node, rc = 0;

  memset(out, 0, sizeof *out);
  pthread_mutex_lock(&c->mu);
  node = ctl_node_find(c, name);
  if (node >= 0) {
    /* One poll per node: a newer one means the agent gave up on this one
     * (or died and was restarted), so an older poll must not take starts. */
    supersede_poll(c, node);
    seq = c->nodes[node].poll_seq;
  }
  for (;;) {
    bool timed_out;
    node = ctl_node_find(c, name);
    if (node < 0) {
      rc = SC_ENOENT;
      break;
    }
    if (c->nodes[node].poll_seq != seq)
      break; /* superseded: answer empty */
    ctl_node_seen(c, node, sc_clock_mono_ms());
    if (take_assignments(c, node, out) || c->stop || sc_clock_mono_ms() >= deadline)
      break;
    timed_out = pthread_cond_timedwait(&c->changed, &c->mu, &ts) == ETIMEDOUT;
    if (timed_out) {
      if (c->nodes[node].poll_seq == seq)
        take_assignments(c, node, out);
      break;
    }
  }
  pthread_mutex_unlock(&c->mu);
  return rc;
}

int sc_ctl_assignments_poll(struct sc_ctl *c, const char *name, struct sc_ctl_poll *p,
                            int64_t deadline_ms, const struct sc_ctl_waker *w,
                            struct sc_assignments *out)
{
  struct ctl_node *n;
  int node, rc = 0;

  memset(out, 0, sizeof *out);
  pthread_mutex_lock(&c->mu);
  if ((node = ctl_node_find(c, name)) < 0) {
    pthread_mutex_unlock(&c->mu);
    return SC_ENOENT;
  }
  n = &c->nodes[node];
  if (n->poll.arg == w->arg)
    n->poll = (struct sc_ctl_waker){NULL, NULL}; /* called again: not parked now */
  if (!p->started) {
    /* One poll per node, as in sc_ctl_assignments. */
    supersede_poll(c, node);
    p->seq = n->poll_seq;
    p->started = true;
  }
  if (n->poll_seq == p->seq) {
    ctl_node_seen(c, node, sc_clock_mono_ms());
    if (!take_assignments(c, node, out) && !c->stop && sc_clock_mono_ms() < deadline_ms) {
      n->poll = *w;
      rc = SC_EAGAIN;
    }
  }
  pthread_mutex_unlock(&c->mu);
  return rc;
}

void sc_ctl_poll_cancel(struct sc_ctl *c, const char *name, void *arg)
{
  int node;

  pthread_mutex_lock(&c->mu);
  if ((node = ctl_node_find(c, name)) >= 0 && c->nodes[node].poll.arg == arg)
    c->nodes[node].poll = (struct sc_ctl_waker){NULL, NULL};
  pthread_mutex_unlock(&c->mu);
}

/* A start that did not arrive: deliverable again if still wanted here. */
static void undo_start(struct sc_ctl *c, int node, const struct sc_task_start *s)
{
  struct ctl_task *t = task_of(c, s->task.job_id, s->task.index);

  if (t && t->node == node && t->state == SC_TASK_ASSIGNED && t->published && t->delivered &&
      t->attempt == s->attempt) {
    t->delivered = false;
    ctl_node_push(c, node, false, s->task.job_id, s->task.index);
  }
}

/* A kill that did not arrive: queued again while a process it means may
 * still run there (never one the node should run now: ids name no attempt). */
static void undo_kill(struct sc_ctl *c, int node, const struct sc_task_ref *k)
{
  const struct ctl_task *t = task_of(c, k->job_id, k->index);

  if (t && (t->alive_node != node ||
            (t->node == node && (t->state == SC_TASK_ASSIGNED || t->state == SC_TASK_RUNNING))))
    return;
  ctl_node_push(c, node, true, k->job_id, k->index);
}

void sc_ctl_assignments_undo(struct sc_ctl *c, const char *name, const struct sc_assignments *a)
{
  int node;

  pthread_mutex_lock(&c->mu);
  node = ctl_node_find(c, name);
  if (node >= 0 && c->nodes[node].rec.state == SC_NODE_READY) {
    for (int i = 0; i < a->nstarts; i++)
      undo_start(c, node, &a->starts[i]);
    for (int i = 0; i < a->kills.n; i++)
      undo_kill(c, node, &a->kills.items[i]);
    sc_info("node %s: an assignments reply was not delivered (%d starts, %d kills): queued again",
            name, a->nstarts, a->kills.n);
    pthread_cond_broadcast(&c->changed);
  }
  pthread_mutex_unlock(&c->mu);
}

/* The attempt whose output node may send for t, or -2 when none (mu held). */
static int log_attempt(struct sc_ctl *c, const struct ctl_task *t, const char *node)
{
  if (!node) /* admin: the current attempt, or the old one still draining */
    return t->state == SC_TASK_PENDING && t->alive_node >= 0 && t->attempt > 0 ? t->attempt - 1
                                                                               : t->attempt;
  if (t->alive_node < 0 || strcmp(c->nodes[t->alive_node].rec.name, node) != 0 ||
      t->alive_attempt < 0)
    return -2;
  return t->alive_attempt;
}

int sc_ctl_log_append(struct sc_ctl *c, const struct sc_log_chunk *chunk)
{
  struct sc_store_batch *b;
  struct sc_store_op op = {.kind = SC_STORE_LOG_APPEND};
  const struct ctl_task *t;
  int attempt = -2, rc;

  pthread_mutex_lock(&c->mu);
  if ((t = task_of(c, chunk->job_id, chunk->index)))
    attempt = log_attempt(c, t, chunk->node);
  pthread_mutex_unlock(&c->mu);
  if (!t)
    return SC_ENOENT;
  if (attempt < 0 || (chunk->attempt >= 0 && chunk->attempt != attempt))
    return SC_EPERM;
  op.u.log.job_id = chunk->job_id;
  op.u.log.task = chunk->index;
  op.u.log.attempt = attempt;
  op.u.log.offset = chunk->offset;
  op.u.log.data = (char *)chunk->data;
  op.u.log.len = chunk->len;
  b = sc_store_batch_new();
  sc_store_batch_add(b, &op);
  rc = sc_store_write(c->store, b);
  sc_store_batch_free(b);
  if (rc == 0) {
    pthread_mutex_lock(&c->mu);
    ctl_wake_logs_locked(c);
    pthread_mutex_unlock(&c->mu);
  }
  return rc < 0 && rc != SC_ENOMEM ? SC_ESTORE : rc;
}
