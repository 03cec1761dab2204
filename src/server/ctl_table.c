/*
 * The controller's tables and indexes: active jobs by id, nodes, each
 * node's list of tasks whose processes live there, and the store rows and
 * commits that mirror them. Invariants: a task is on node n's alive list
 * iff its alive_node is n, and job->nalive counts them; a job or node whose
 * rows failed to commit is stale until a batch rewriting them commits, and
 * a stale job stays in memory until then.
 */
#include "server/ctl_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"
#include "util/vec.h"

int64_t ctl_wall_ms(const struct sc_ctl *c)
{
  return c->opts.wall_ms ? c->opts.wall_ms() : sc_clock_wall_ms();
}

/* ---- jobs ---- */

struct ctl_job *ctl_job_find(struct sc_ctl *c, int64_t id)
{
  int lo = 0, hi = c->njobs - 1;

  while (lo <= hi) {
    int mid = (lo + hi) / 2;
    if (c->jobs[mid]->id == id)
      return c->jobs[mid];
    if (c->jobs[mid]->id < id)
      lo = mid + 1;
    else
      hi = mid - 1;
  }
  return NULL;
}

static void task_init(struct ctl_job *j, int i)
{
  struct ctl_task *t = &j->tasks[i];

  memset(t, 0, sizeof *t);
  t->job = j;
  t->state = SC_TASK_PENDING;
  t->node = t->alive_node = t->exit_node = t->alive_attempt = t->held_node = -1;
  t->exit_code = t->signal = -1;
}

struct ctl_job *ctl_job_new(int64_t id, struct sc_job_spec *spec)
{
  struct ctl_job *j = calloc(1, sizeof *j);

  if (!j || !(j->tasks = calloc((size_t)spec->tasks, sizeof *j->tasks))) {
    free(j);
    return NULL;
  }
  j->id = id;
  j->array_index = -1;
  j->spec = *spec;
  spec->text = NULL;
  spec->run = NULL;
  j->ntasks = spec->tasks;
  j->priority = spec->priority;
  j->cpu_milli = spec->cpu_milli;
  j->memory_mib = spec->memory_mib;
  j->gpus = spec->gpus;
  j->gpu_milli = spec->gpu_milli;
  j->any_model = strspn(spec->models, "|") == strlen(spec->models); /* as sc_shape_set_models */
  for (int i = 0; i < j->ntasks; i++)
    task_init(j, i);
  return j;
}

void ctl_job_free(struct ctl_job *j)
{
  if (!j)
    return;
  sc_spec_release(&j->spec);
  free(j->deps);
  free(j->tasks);
  free(j);
}

int ctl_jobs_insert(struct sc_ctl *c, struct ctl_job *j)
{
  int pos = c->njobs, rc = SC_VEC_RESERVE_ONE(c->jobs, c->njobs, c->capjobs);

  if (rc < 0)
    return rc;
  /* New ids come last almost always. */
  while (pos > 0 && c->jobs[pos - 1]->id > j->id)
    pos--;
  memmove(&c->jobs[pos + 1], &c->jobs[pos], (size_t)(c->njobs - pos) * sizeof *c->jobs);
  c->jobs[pos] = j;
  c->njobs++;
  c->nthrottled += j->spec.array_max_running > 0;
  ctl_job_timers(c, j);
  return 0;
}

void ctl_jobs_compact(struct sc_ctl *c)
{
  int kept = 0, final = 0;

  if (c->nfinal == 0)
    return;
  for (int i = 0; i < c->njobs; i++) {
    struct ctl_job *j = c->jobs[i];
    if (!sc_job_state_final(j->state)) {
      c->jobs[kept++] = j;
    } else if (j->nalive > 0 || j->stale || j->writes > 0) {
      c->jobs[kept++] = j;
      final++;
    } else {
      c->ndep_jobs -= j->ndeps > 0;
      c->nthrottled -= j->spec.array_max_running > 0;
      ctl_job_free(j);
    }
  }
  c->njobs = kept;
  c->nfinal = final;
}

/* ---- nodes ---- */

/* Nodes by name: open addressing (FNV-1a of the name), node index + 1 in
 * each slot, 0 free; at most half full. Nodes are never removed. */
static size_t node_slot(const struct sc_ctl *c, const char *name)
{
  uint64_t h = 0xcbf29ce484222325ULL;

  for (const unsigned char *p = (const unsigned char *)name; *p; p++)
    h = (h ^ *p) * 0x100000001b3ULL;
  for (size_t i = (size_t)h & (c->nnode_slots - 1);; i = (i + 1) & (c->nnode_slots - 1))
    if (c->node_slots[i] == 0 || strcmp(c->nodes[c->node_slots[i] - 1].rec.name, name) == 0)
      return i;
}

int ctl_node_index(struct sc_ctl *c, int i)
{
  if ((size_t)(c->nnodes + 1) * 2 > c->nnode_slots) {
    size_t n = c->nnode_slots ? c->nnode_slots * 2 : 64;
    int *slots = calloc(n, sizeof *slots), *old = c->node_slots;
    if (!slots)
      return SC_ENOMEM;
    c->node_slots = slots;
    c->nnode_slots = n;
    for (int k = 0; k < c->nnodes; k++)
      if (k != i)
        c->node_slots[node_slot(c, c->nodes[k].rec.name)] = k + 1;
    free(old);
  }
  c->node_slots[node_slot(c, c->nodes[i].rec.name)] = i + 1;
  return 0;
}

int ctl_node_find(struct sc_ctl *c, const char *name)
{
  return c->nnode_slots ? c->node_slots[node_slot(c, name)] - 1 : -1;
}

int ctl_node_region(struct ctl_node *n)
{
  json_t *labels = json_loads(n->rec.labels ? n->rec.labels : "{}", 0, NULL);
  const char *r = json_string_value(json_object_get(labels, "region"));

  snprintf(n->region, sizeof n->region, "%s", r ? r : "");
  json_decref(labels);
  /* The labels are ours (checked when the agent registered): unreadable
   * means out of memory, and a node must not lose its residency. */
  return labels ? 0 : SC_ENOMEM;
}

int ctl_node_upsert(struct sc_ctl *c, const struct sc_agent_reg *reg)
{
  int i = ctl_node_find(c, reg->name);
  struct sc_node_rec fresh = {0};
  struct ctl_node *n;

  fresh.labels = strdup(reg->labels ? reg->labels : "{}");
  if (!fresh.labels || sc_node_rec_set_devices(&fresh, reg->dev, reg->ndev) < 0 ||
      (i < 0 && SC_VEC_RESERVE_ONE(c->nodes, c->nnodes, c->capnodes) < 0)) {
    sc_node_rec_release(&fresh);
    return SC_ENOMEM;
  }
  if (i < 0) {
    i = c->nnodes;
    memset(&c->nodes[i], 0, sizeof c->nodes[i]);
    snprintf(c->nodes[i].rec.name, sizeof c->nodes[i].rec.name, "%s", reg->name);
    if (ctl_node_index(c, i) < 0) {
      sc_node_rec_release(&fresh);
      return SC_ENOMEM;
    }
    c->nnodes++;
    c->nodes[i].rec.registered_ms = ctl_wall_ms(c);
  }
  n = &c->nodes[i];
  sc_node_rec_release(&n->rec);
  n->rec.labels = fresh.labels;
  n->rec.dev = fresh.dev;
  n->rec.ndev = fresh.ndev;
  snprintf(n->rec.address, sizeof n->rec.address, "%s", reg->address);
  n->rec.cpu_milli = reg->cpu_milli;
  n->rec.memory_mib = reg->memory_mib;
  n->rec.state = SC_NODE_READY;
  n->rec.last_heartbeat_ms = ctl_wall_ms(c);
  ctl_node_seen(c, i, sc_clock_mono_ms());
  if (ctl_node_region(n) < 0) {
    n->rec.state = SC_NODE_LOST; /* not schedulable without its region */
    return SC_ENOMEM;
  }
  return i;
}

/* ---- where processes live ---- */

void ctl_task_set_alive(struct sc_ctl *c, struct ctl_task *t, int node)
{
  int old = t->alive_node;

  if (old == node)
    return;
  if (old >= 0) {
    struct ctl_node *n = &c->nodes[old];
    if (t->alive_prev)
      t->alive_prev->alive_next = t->alive_next;
    else
      n->alive = t->alive_next;
    if (t->alive_next)
      t->alive_next->alive_prev = t->alive_prev;
    t->alive_prev = t->alive_next = NULL;
    n->nalive--;
    t->job->nalive--;
    /* Resources freed, or a requeued gang stopped draining. */
    c->dirty = c->full = true;
  }
  t->alive_node = node;
  t->alive_attempt = node >= 0 ? t->attempt : -1;
  t->held_node = -1; /* a preempted process is gone, or moved */
  if (node >= 0) {
    struct ctl_node *n = &c->nodes[node];
    t->alive_prev = NULL;
    t->alive_next = n->alive;
    if (n->alive)
      n->alive->alive_prev = t;
    n->alive = t;
    n->nalive++;
    t->job->nalive++;
  }
}

static int task_order(const void *pa, const void *pb)
{
  const struct ctl_task *a = *(struct ctl_task *const *)pa, *b = *(struct ctl_task *const *)pb;

  if (a->job->id != b->job->id)
    return a->job->id < b->job->id ? -1 : 1;
  return a < b ? -1 : a > b;
}

int ctl_alive_snapshot(struct sc_ctl *c, int node)
{
  const struct ctl_node *n = &c->nodes[node];
  int k = 0;

  if (sc_vec_reserve(&c->scratch, &c->capscratch, n->nalive, sizeof *c->scratch) < 0)
    return -1;
  for (struct ctl_task *t = n->alive; t; t = t->alive_next)
    c->scratch[k++] = t;
  if (k > 1)
    qsort(c->scratch, (size_t)k, sizeof *c->scratch, task_order);
  return k;
}

int ctl_refq_push(struct ctl_refq *q, int64_t job, int index)
{
  for (int i = 0; i < q->n; i++)
    if (q->items[i].job_id == job && q->items[i].index == index)
      return 0;
  if (SC_VEC_RESERVE_ONE(q->items, q->n, q->cap) < 0)
    return SC_ENOMEM;
  q->items[q->n++] = (struct sc_task_ref){.job_id = job, .index = index};
  return 0;
}

/* ---- store rows ---- */

/* Adds a row of j to b, counting it until its batch is settled. */
static void add_row(struct sc_store_batch *b, const struct sc_store_op *op, struct ctl_job *j)
{
  int before = b ? b->n : 0;

  sc_store_batch_add(b, op);
  if (b && b->n > before)
    j->writes++;
}

void ctl_batch_job_row(struct sc_ctl *c, struct sc_store_batch *b, const struct ctl_job *j)
{
  struct sc_store_op op;

  (void)c;
  memset(&op, 0, sizeof op);
  op.kind = SC_STORE_JOB_UPDATE;
  op.u.job.id = j->id;
  op.u.job.state = j->state;
  memcpy(op.u.job.reason, j->reason, sizeof op.u.job.reason);
  op.u.job.started_ms = j->started_ms;
  op.u.job.finished_ms = j->finished_ms;
  op.u.job.attempt = j->attempt;
  op.u.job.held = j->held;
  op.u.job.preempted = j->preempted;
  op.u.job.checkpoint_ms = j->checkpoint_ms;
  add_row(b, &op, (struct ctl_job *)j);
}

void ctl_batch_task_row(struct sc_ctl *c, struct sc_store_batch *b, const struct ctl_job *j,
                        int index)
{
  const struct ctl_task *t = &j->tasks[index];
  struct sc_store_op op;
  struct sc_task_rec *r = &op.u.task;

  memset(&op, 0, sizeof op);
  op.kind = SC_STORE_TASK_PUT;
  r->job_id = j->id;
  r->index = index;
  r->state = t->state;
  if (t->node >= 0) {
    const struct ctl_node *n = &c->nodes[t->node];
    memcpy(r->node, n->rec.name, sizeof r->node);
    if (n->rec.ndev > 0 && t->ndev > 0)
      memcpy(r->vendor, n->rec.dev[t->pos[0]].vendor, sizeof r->vendor);
  }
  r->ndev = t->ndev;
  memcpy(r->devices, t->dev, sizeof r->devices);
  r->gpu_milli = j->spec.gpu_milli;
  r->exit_code = t->exit_code;
  r->signal = t->signal;
  r->attempt = t->attempt;
  r->pid = t->pid;
  r->started_ms = t->started_ms;
  r->finished_ms = t->finished_ms;
  add_row(b, &op, (struct ctl_job *)j);
  if (t->usage.start_ms > 0)
    ctl_batch_usage_row(c, b, j, index);
}

/* The string member key of the JSON object text (labels, a spec), or ""
 * ("" too when it does not parse). */
static void json_text_string(const char *text, const char *key, char *out, size_t size)
{
  json_t *o, *v;

  out[0] = '\0';
  if (!text || !strstr(text, key) || !(o = json_loads(text, 0, NULL)))
    return;
  if (json_is_string(v = json_object_get(o, key)))
    snprintf(out, size, "%s", json_string_value(v));
  json_decref(o);
}

/* A job's spot flag: its spec's "preemptible" (false when absent). */
static bool spec_spot(const char *text)
{
  json_t *o;
  bool spot;

  if (!text || !strstr(text, "\"preemptible\"") || !(o = json_loads(text, 0, NULL)))
    return false;
  spot = json_is_true(json_object_get(o, "preemptible"));
  json_decref(o);
  return spot;
}

void ctl_batch_usage_row(struct sc_ctl *c, struct sc_store_batch *b, const struct ctl_job *j,
                         int index)
{
  const struct ctl_usage *u = &j->tasks[index].usage;
  struct sc_store_op op;
  struct sc_usage_rec *r = &op.u.usage;

  memset(&op, 0, sizeof op);
  op.kind = SC_STORE_USAGE_PUT;
  r->job_id = j->id;
  r->task = index;
  r->attempt = u->attempt;
  snprintf(r->tenant, sizeof r->tenant, "%s", j->spec.tenant);
  if (u->node >= 0 && u->node < c->nnodes) {
    const struct sc_node_rec *n = &c->nodes[u->node].rec;
    memcpy(r->node, n->name, sizeof r->node);
    json_text_string(n->labels, "region", r->region, sizeof r->region);
    if (u->ndev > 0 && u->pos0 >= 0 && u->pos0 < n->ndev) {
      snprintf(r->model, sizeof r->model, "%s", n->dev[u->pos0].model);
      memcpy(r->vendor, n->dev[u->pos0].vendor, sizeof r->vendor);
    }
  }
  r->devices = u->ndev;
  r->gpu_milli = u->ndev > 0 ? j->spec.gpu_milli : 0;
  r->cpu_milli = j->spec.cpu_milli;
  r->memory_mib = j->spec.memory_mib;
  r->spot = spec_spot(j->spec.text);
  r->start_ms = u->start_ms;
  r->end_ms = u->end_ms;
  r->how = u->how;
  r->exit_code = u->exit_code;
  r->signal = u->signal;
  add_row(b, &op, (struct ctl_job *)j);
}

void ctl_batch_job(struct sc_ctl *c, struct sc_store_batch *b, struct ctl_job *j)
{
  ctl_batch_job_row(c, b, j);
  for (int i = 0; i < j->ntasks; i++)
    ctl_batch_task_row(c, b, j, i);
  j->stale = false; /* ctl_finish marks it again if b fails */
}

void ctl_batch_node(struct sc_store_batch *b, const struct ctl_node *n, bool state_only)
{
  struct sc_store_op op;

  memset(&op, 0, sizeof op);
  op.kind = state_only ? SC_STORE_NODE_STATE : SC_STORE_NODE_PUT;
  op.u.node = n->rec;
  if (state_only) {
    op.u.node.labels = NULL;
    op.u.node.dev = NULL;
    op.u.node.ndev = 0;
  }
  sc_store_batch_add(b, &op);
}

/* ---- commits ---- */

bool ctl_submit_locked(struct sc_ctl *c, struct sc_store_batch *b)
{
  int rc;

  if (b && b->n == 0 && b->err == 0)
    return false;
  if ((rc = sc_store_submit(c->store, b)) < 0) {
    sc_error("store: cannot queue a write: %s", sc_strerror(rc));
    if (b)
      b->err = rc;
    return false;
  }
  return true;
}

int ctl_commit_unlock(struct sc_ctl *c, struct sc_store_batch *b, int rc)
{
  bool submitted = rc == 0 && ctl_submit_locked(c, b);

  pthread_mutex_unlock(&c->mu);
  if (rc != 0) {
    sc_store_batch_free(b);
    return rc;
  }
  return ctl_finish(c, b, submitted) < 0 ? SC_ESTORE : 0;
}

void ctl_mark_job_stale(struct sc_ctl *c, struct ctl_job *j)
{
  if (j->stale)
    return;
  if (SC_VEC_RESERVE_ONE(c->stale, c->nstale, c->capstale) < 0) {
    sc_error("job j-%06lld: out of memory, its rows are rewritten at the next restart",
             (long long)j->id);
    return;
  }
  j->stale = true;
  c->stale[c->nstale++] = j->id;
}

void ctl_mark_node_stale(struct sc_ctl *c, int i)
{
  if (!c->nodes[i].stale) {
    c->nodes[i].stale = true;
    c->nstale_nodes++;
  }
}

/* Settles the rows b carried: their jobs' write counts go down, and when
 * b failed (failed) its jobs and nodes are marked stale (mu held). */
static void settle_batch(struct sc_ctl *c, const struct sc_store_batch *b, bool failed)
{
  for (int i = 0; i < b->n; i++) {
    const struct sc_store_op *op = &b->ops[i];
    struct ctl_job *j = NULL;
    int node;
    switch (op->kind) {
    case SC_STORE_JOB_UPDATE:
      j = ctl_job_find(c, op->u.job.id);
      break;
    case SC_STORE_TASK_PUT:
      j = ctl_job_find(c, op->u.task.job_id);
      break;
    case SC_STORE_USAGE_PUT:
      j = ctl_job_find(c, op->u.usage.job_id);
      break;
    case SC_STORE_NODE_PUT:
    case SC_STORE_NODE_STATE:
      if (failed && (node = ctl_node_find(c, op->u.node.name)) >= 0)
        ctl_mark_node_stale(c, node);
      break;
    default: /* inserts and log chunks: their callers were told */
      break;
    }
    if (j && j->writes > 0)
      j->writes--;
    if (j && failed)
      ctl_mark_job_stale(c, j);
  }
  if (!failed)
    return;
  c->stats.failed_commits++;
  c->dirty = true; /* the scheduling thread rewrites them */
  pthread_cond_signal(&c->sched_cond);
}

int ctl_finish(struct sc_ctl *c, struct sc_store_batch *b, bool submitted)
{
  int rc = submitted ? sc_store_wait(c->store, b) : b ? b->err : SC_ENOMEM;

  pthread_mutex_lock(&c->mu);
  if (b)
    settle_batch(c, b, rc < 0);
  if (rc < 0) {
    sc_error("store: a write failed: %s", sc_strerror(rc));
    rc = rc == SC_ENOMEM ? rc : SC_ESTORE;
  } else if (submitted) {
    /* Log followers read the job from the store: a task's end is visible
     * to them only now. */
    ctl_wake_logs_locked(c);
  }
  pthread_mutex_unlock(&c->mu);
  sc_store_batch_free(b);
  return rc;
}

void ctl_batch_stale(struct sc_ctl *c, struct sc_store_batch *b)
{
  int n = c->nstale;

  c->nstale = 0;
  for (int i = 0; i < n; i++) {
    struct ctl_job *j = ctl_job_find(c, c->stale[i]);
    if (j && j->stale)
      ctl_batch_job(c, b, j);
  }
  for (int i = 0; c->nstale_nodes > 0 && i < c->nnodes; i++)
    if (c->nodes[i].stale) {
      ctl_batch_node(b, &c->nodes[i], false);
      c->nodes[i].stale = false;
      c->nstale_nodes--;
    }
}

void ctl_node_wake(struct sc_ctl *c, int node)
{
  struct sc_ctl_waker w = c->nodes[node].poll;

  if (w.wake) {
    c->nodes[node].poll = (struct sc_ctl_waker){NULL, NULL};
    w.wake(w.arg);
  }
}

void ctl_node_seen(struct sc_ctl *c, int i, int64_t now_mono)
{
  c->nodes[i].last_seen_ms = now_mono;
  /* Due once silent for longer than the timeout (strictly: + 1). */
  if (sc_timeheap_push(&c->seen_due, now_mono + c->opts.heartbeat_timeout_ms + 1, i) < 0)
    c->timers_lost = true;
}

void ctl_job_timers(struct sc_ctl *c, const struct ctl_job *j)
{
  int rc = 0;

  if (j->state == SC_JOB_RUNNING && j->spec.max_runtime_s > 0 && j->started_mono_ms > 0)
    rc |= sc_timeheap_push(&c->run_due, j->started_mono_ms + j->spec.max_runtime_s * 1000, j->id);
  if (j->state == SC_JOB_PENDING && j->spec.begin_ms > 0)
    rc |= sc_timeheap_push(&c->begin_due, j->spec.begin_ms, j->id);
  if (j->state == SC_JOB_PENDING && j->hold_until_ms > 0)
    rc |= sc_timeheap_push(&c->hold_due, j->hold_until_ms, j->id);
  if (rc < 0)
    c->timers_lost = true;
}

int ctl_node_push(struct sc_ctl *c, int node, bool kill, int64_t job, int index)
{
  int rc = ctl_refq_push(kill ? &c->nodes[node].kill_q : &c->nodes[node].start_q, job, index);

  if (rc == 0)
    ctl_node_wake(c, node);
  return rc;
}

void ctl_notify_locked(struct sc_ctl *c)
{
  c->dirty = c->full = true;
  pthread_cond_signal(&c->sched_cond);
  pthread_cond_broadcast(&c->changed);
}

void ctl_wake_logs_locked(struct sc_ctl *c)
{
  int n = c->nlog_waiters;

  c->log_gen++;
  pthread_cond_broadcast(&c->log_cond);
  c->nlog_waiters = 0; /* each is woken once: they park again to wait more */
  for (int i = 0; i < n; i++)
    c->log_waiters[i].wake(c->log_waiters[i].arg);
}

/* ---- invariants ---- */

int ctl_check(const struct sc_ctl *c)
{
  int queued = 0, alive = 0, listed = 0;
  const struct ctl_job *prev = NULL;

  for (int i = 0; i < c->njobs; i++) {
    const struct ctl_job *j = c->jobs[i];
    int n = 0;
    if (j->queued != (j->state == SC_JOB_PENDING))
      return SC_ESTATE;
    queued += j->queued;
    for (int k = 0; k < j->ntasks; k++) {
      const struct ctl_task *t = &j->tasks[k];
      n += t->alive_node >= 0 && t->job == j;
      /* An assigned or running task holds resources where it was placed. */
      if ((t->state == SC_TASK_ASSIGNED || t->state == SC_TASK_RUNNING) &&
          (t->node < 0 || t->alive_node != t->node))
        return SC_ESTATE;
    }
    if (n != j->nalive)
      return SC_ESTATE;
    alive += n;
  }
  if (queued != c->queue.n)
    return SC_ESTATE;
  for (const struct ctl_job *j = ctl_queue_first(&c->queue); j; j = ctl_queue_next(&c->queue, j)) {
    if (!j->queued || (prev && (prev->priority < j->priority ||
                                (prev->priority == j->priority && prev->id >= j->id))))
      return SC_ESTATE;
    prev = j;
    queued--;
  }
  for (int i = 0; i < c->nnodes; i++) {
    int n = 0;
    for (const struct ctl_task *t = c->nodes[i].alive; t; t = t->alive_next, n++)
      if (t->alive_node != i || (t->alive_next && t->alive_next->alive_prev != t))
        return SC_ESTATE;
    if (n != c->nodes[i].nalive)
      return SC_ESTATE;
    listed += n;
  }
  return queued == 0 && listed == alive ? 0 : SC_ESTATE;
}
