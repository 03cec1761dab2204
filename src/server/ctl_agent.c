/*
 * The agent side of the controller: registration (with adoption of running
 * tasks), heartbeats that reconcile what an agent runs with what it should
 * run, status reports, assignment long-polls and log chunks. A process the
 * controller did not assign to that node, or no longer wants, is killed.
 */
#include "server/ctl_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/codec.h"
#include "util/error.h"
#include "util/log.h"

#define MISSING_LIMIT 3        /* heartbeats without a running task -> lost */
#define STARTS_PER_REPLY 32    /* task starts per assignments reply */

static void node_state_op(const struct ctl_node *n, struct sc_store_op *op)
{
  memset(op, 0, sizeof *op);
  op->kind = SC_STORE_NODE_STATE;
  op->u.node = n->rec;
  op->u.node.labels = op->u.node.devices = NULL;
}

int ctl_node_parse_devices(struct ctl_node *n)
{
  json_t *arr = json_loads(n->rec.devices ? n->rec.devices : "[]", 0, NULL);
  size_t i;
  json_t *d;

  n->ndev = 0;
  json_array_foreach(arr, i, d) {
    struct sc_agent_device *dev;
    if (n->ndev >= SC_STORE_MAX_DEVICES)
      break;
    dev = &n->dev[n->ndev++];
    dev->index = (int)json_integer_value(json_object_get(d, "index"));
    snprintf(dev->vendor, sizeof dev->vendor, "%s",
             json_string_value(json_object_get(d, "vendor")) ?: "");
    snprintf(dev->model, sizeof dev->model, "%s",
             json_string_value(json_object_get(d, "model")) ?: "");
    dev->memory_mib = json_integer_value(json_object_get(d, "memory_mib"));
  }
  json_decref(arr);
  return 0;
}

static char *devices_json(const struct sc_agent_reg *reg)
{
  json_t *arr = json_array();
  char *text;

  for (int i = 0; i < reg->ndev; i++)
    json_array_append_new(arr, json_pack("{s:i, s:s, s:s, s:I}", "index", reg->dev[i].index,
                                         "vendor", reg->dev[i].vendor, "model",
                                         reg->dev[i].model, "memory_mib",
                                         (json_int_t)reg->dev[i].memory_mib));
  text = json_dumps(arr, JSON_COMPACT);
  json_decref(arr);
  return text;
}

/* Adds a node or refreshes a known one from reg; returns its index. */
static int node_upsert(struct sc_ctl *c, const struct sc_agent_reg *reg)
{
  int i = ctl_node_find(c, reg->name);
  struct ctl_node *n;
  char *labels = strdup(reg->labels ? reg->labels : "{}"), *devices = devices_json(reg);

  if (!labels || !devices) {
    free(labels);
    free(devices);
    return SC_ENOMEM;
  }
  if (i < 0) {
    if (c->nnodes == c->capnodes) {
      int cap = c->capnodes ? c->capnodes * 2 : 16;
      struct ctl_node *nodes = realloc(c->nodes, (size_t)cap * sizeof *nodes);
      if (!nodes) {
        free(labels);
        free(devices);
        return SC_ENOMEM;
      }
      c->nodes = nodes;
      c->capnodes = cap;
    }
    i = c->nnodes++;
    memset(&c->nodes[i], 0, sizeof c->nodes[i]);
    snprintf(c->nodes[i].rec.name, sizeof c->nodes[i].rec.name, "%s", reg->name);
    c->nodes[i].rec.registered_ms = sc_now_ms();
  }
  n = &c->nodes[i];
  sc_node_rec_release(&n->rec);
  n->rec.labels = labels;
  n->rec.devices = devices;
  snprintf(n->rec.address, sizeof n->rec.address, "%s", reg->address);
  n->rec.cpu_milli = reg->cpu_milli;
  n->rec.memory_mib = reg->memory_mib;
  n->rec.state = SC_NODE_READY;
  n->rec.last_heartbeat_ms = n->last_seen_ms = sc_now_ms();
  n->ndev = reg->ndev < SC_STORE_MAX_DEVICES ? reg->ndev : SC_STORE_MAX_DEVICES;
  memcpy(n->dev, reg->dev, (size_t)n->ndev * sizeof n->dev[0]);
  return i;
}

static int kill_json_append(json_t *kill, int64_t job, int index)
{
  char id[48];

  sc_task_id_format(job, index, id, sizeof id);
  return json_array_append_new(kill, json_string(id));
}

/* One process an agent says it runs: keep it, adopt it or kill it. */
static void reconcile_one(struct sc_ctl *c, int node, const struct sc_agent_running *r,
                          json_t *kill, struct sc_store_batch *b)
{
  struct ctl_job *j = ctl_job_find(c, r->job_id);
  struct ctl_task *t = j && r->index < j->ntasks ? &j->tasks[r->index] : NULL;
  struct sc_store_op op;

  if (t && t->node == node && (t->state == SC_TASK_ASSIGNED || t->state == SC_TASK_RUNNING)) {
    ctl_task_set_alive(c, t, node);
    t->missing = 0;
    if (r->pid > 0)
      t->pid = r->pid;
    if (t->state == SC_TASK_ASSIGNED) {
      t->state = SC_TASK_RUNNING;
      t->started_ms = sc_now_ms();
      if (!j->started_ms)
        j->started_ms = t->started_ms;
      ctl_job_op(j, &op);
      sc_store_batch_add(b, &op);
      ctl_task_op(c, j, r->index, &op);
      sc_store_batch_add(b, &op);
    }
    return;
  }
  if (t && t->alive_node < 0 && t->exit_node != node)
    ctl_task_set_alive(c, t, node); /* an orphan: holds resources until gone */
  kill_json_append(kill, r->job_id, r->index);
}

static bool listed(const struct sc_agent_running *running, int n, int64_t job, int index)
{
  for (int i = 0; i < n; i++)
    if (running[i].job_id == job && running[i].index == index)
      return true;
  return false;
}

static int task_order(const void *pa, const void *pb)
{
  const struct ctl_task *a = *(struct ctl_task *const *)pa, *b = *(struct ctl_task *const *)pb;

  if (a->job->id != b->job->id)
    return a->job->id < b->job->id ? -1 : 1;
  return a < b ? -1 : a > b;
}

/*
 * The tasks alive on node, in job id then index order, in c->scratch (the
 * list changes while they are settled). Returns how many, or -1 when out of
 * memory.
 */
static int alive_snapshot(struct sc_ctl *c, int node)
{
  const struct ctl_node *n = &c->nodes[node];
  int k = 0;

  if (n->nalive > c->capscratch) {
    struct ctl_task **s = realloc(c->scratch, (size_t)n->nalive * sizeof *s);
    if (!s)
      return -1;
    c->scratch = s;
    c->capscratch = n->nalive;
  }
  for (struct ctl_task *t = n->alive; t; t = t->alive_next)
    c->scratch[k++] = t;
  if (k > 1)
    qsort(c->scratch, (size_t)k, sizeof *c->scratch, task_order);
  return k;
}

/* Tasks the controller thinks live on node but the agent did not list. */
static void reconcile_missing(struct sc_ctl *c, int node, const struct sc_agent_running *running,
                              int nrunning, bool full, struct sc_store_batch *b)
{
  int n = alive_snapshot(c, node);

  if (n < 0) {
    sc_error("node %s: out of memory, its missing tasks are settled later",
             c->nodes[node].rec.name);
    return;
  }
  for (int i = 0; i < n; i++) {
    struct ctl_task *t = c->scratch[i];
    struct ctl_job *j = t->job;
    int k = (int)(t - j->tasks);
    if (t->alive_node != node || listed(running, nrunning, j->id, k))
      continue;
    if (t->state == SC_TASK_ASSIGNED) {
      if (full && t->delivered_ms) { /* a restarted agent: send it again */
        t->delivered_ms = 0;
        ctl_refq_push(&c->nodes[node].start_q, j->id, k);
      }
    } else if (t->state == SC_TASK_RUNNING && t->node == node) {
      if (full || ++t->missing >= MISSING_LIMIT) {
        ctl_task_set_alive(c, t, -1);
        t->state = SC_TASK_LOST;
        t->finished_ms = sc_now_ms();
        ctl_job_end(c, j, SC_JOB_FAILED, "task lost by its agent", true, b);
      }
    } else {
      ctl_task_set_alive(c, t, -1); /* an old or killed process is gone */
      ctl_notify_locked(c);
    }
  }
}

/* Reconciles node with the agent's list; fills kill (and clears kill_q). */
static void reconcile(struct sc_ctl *c, int node, const struct sc_agent_running *running,
                      int nrunning, bool full, json_t *kill, struct sc_store_batch *b)
{
  struct ctl_node *n = &c->nodes[node];

  for (int i = 0; i < nrunning; i++)
    reconcile_one(c, node, &running[i], kill, b);
  reconcile_missing(c, node, running, nrunning, full, b);
  for (int i = 0; i < n->kill_q.n; i++) {
    const struct sc_agent_running *r = &n->kill_q.items[i];
    bool dup = false;
    char id[48];
    size_t k;
    json_t *v;
    sc_task_id_format(r->job_id, r->index, id, sizeof id);
    json_array_foreach(kill, k, v) dup = dup || strcmp(json_string_value(v), id) == 0;
    if (!dup)
      json_array_append_new(kill, json_string(id));
  }
  n->kill_q.n = 0;
}

int64_t sc_ctl_heartbeat_interval_ms(struct sc_ctl *c)
{
  int64_t ms = c->opts.heartbeat_timeout_ms / 4;

  return ms > 1000 ? 1000 : ms < 100 ? 100 : ms;
}

/* Marks node ready again (a lost node came back) and records it. */
static void node_seen(struct sc_ctl *c, int node, struct sc_store_batch *b)
{
  struct ctl_node *n = &c->nodes[node];
  struct sc_store_op op;
  int64_t now = sc_now_ms();

  n->last_seen_ms = now;
  if (n->rec.state != SC_NODE_READY || now - n->rec.last_heartbeat_ms > 10000) {
    if (n->rec.state != SC_NODE_READY)
      sc_info("node %s is back", n->rec.name);
    n->rec.state = SC_NODE_READY;
    n->rec.last_heartbeat_ms = now;
    node_state_op(n, &op);
    sc_store_batch_add(b, &op);
    ctl_notify_locked(c);
  }
  n->rec.last_heartbeat_ms = now;
}

/* Ends the wait of node's current poll, if any: it answers empty. */
static void supersede_poll(struct sc_ctl *c, int node)
{
  c->nodes[node].poll_seq++;
  pthread_cond_broadcast(&c->changed);
}

/* Starts an agent request that answers with a kill list: a store batch
 * for what it changes and the empty list. Returns 0 or SC_ENOMEM (both
 * outputs then NULL). */
static int kill_reply_begin(struct sc_store_batch **b, json_t **kill)
{
  *b = sc_store_batch_new();
  *kill = json_array();
  if (*b && *kill)
    return 0;
  sc_store_batch_free(*b);
  json_decref(*kill);
  *b = NULL;
  *kill = NULL;
  return SC_ENOMEM;
}

/* Ends an agent request on a node: waits for its writes (none were queued
 * when the node was unknown) and returns node's error code, else the
 * store's result. */
static int node_reply_finish(struct sc_ctl *c, struct sc_store_batch *b, bool submitted,
                             int node)
{
  int rc = ctl_finish(c, b, submitted);

  return node < 0 ? node : rc;
}

int sc_ctl_register(struct sc_ctl *c, const struct sc_agent_reg *reg, json_t **kill)
{
  struct sc_store_batch *b;
  struct sc_store_op op = {.kind = SC_STORE_NODE_PUT};
  bool submitted;
  int node;

  if (kill_reply_begin(&b, kill) < 0)
    return SC_ENOMEM;
  pthread_mutex_lock(&c->mu);
  node = node_upsert(c, reg);
  if (node >= 0) {
    op.u.node = c->nodes[node].rec;
    sc_store_batch_add(b, &op);
    /* A register starts the agent afresh: a poll still open from before
     * (a killed process's) answers empty instead of taking its starts. */
    supersede_poll(c, node);
    reconcile(c, node, reg->running, reg->nrunning, true, *kill, b);
    ctl_notify_locked(c);
    sc_info("node %s registered: %d devices, %d running tasks", reg->name, reg->ndev,
            reg->nrunning);
  }
  submitted = ctl_submit_locked(c, b);
  pthread_mutex_unlock(&c->mu);
  return node_reply_finish(c, b, submitted, node);
}

int sc_ctl_heartbeat(struct sc_ctl *c, const char *name, const struct sc_agent_running *running,
                     int nrunning, json_t **kill)
{
  struct sc_store_batch *b;
  bool submitted = false;
  int node;

  if (kill_reply_begin(&b, kill) < 0)
    return SC_ENOMEM;
  pthread_mutex_lock(&c->mu);
  node = ctl_node_find(c, name);
  if (node >= 0) {
    node_seen(c, node, b);
    reconcile(c, node, running, nrunning, false, *kill, b);
    submitted = ctl_submit_locked(c, b);
  }
  pthread_mutex_unlock(&c->mu);
  return node_reply_finish(c, b, submitted, node < 0 ? SC_ENOENT : node);
}

/* An "exited" report: record the outcome and settle the job. */
static void task_exited(struct sc_ctl *c, int node, struct ctl_job *j,
                        const struct sc_agent_update *u, struct sc_store_batch *b)
{
  struct ctl_task *t = &j->tasks[u->index];
  struct sc_store_op op;
  char reason[64];

  if (t->alive_node == node)
    ctl_task_set_alive(c, t, -1);
  t->exit_node = node;
  if (t->node != node || t->state == SC_TASK_PENDING)
    return; /* an old attempt's process: nothing to record */
  if (sc_task_state_final(t->state)) {
    if (t->exit_code < 0 && t->signal < 0) {
      t->exit_code = u->exit_code;
      t->signal = u->signal;
      ctl_task_op(c, j, u->index, &op);
      sc_store_batch_add(b, &op);
    }
    return;
  }
  t->exit_code = u->exit_code;
  t->signal = u->signal;
  t->finished_ms = sc_now_ms();
  t->state = u->exit_code == 0 && u->signal <= 0 ? SC_TASK_SUCCEEDED : SC_TASK_FAILED;
  ctl_task_op(c, j, u->index, &op);
  sc_store_batch_add(b, &op);
  if (t->state == SC_TASK_FAILED) {
    if (u->signal > 0)
      snprintf(reason, sizeof reason, "killed by signal %d", u->signal);
    else
      snprintf(reason, sizeof reason, "exit code %d", u->exit_code);
    ctl_job_end(c, j, SC_JOB_FAILED, reason, true, b);
  } else {
    ctl_job_check_done(c, j, b);
  }
}

/* A "running" report: the assignment reached the agent and started. */
static void task_running(struct sc_ctl *c, int node, struct ctl_job *j,
                         const struct sc_agent_update *u, struct sc_store_batch *b)
{
  struct ctl_task *t = &j->tasks[u->index];
  struct sc_store_op op;

  if (t->node == node && t->state == SC_TASK_ASSIGNED) {
    t->state = SC_TASK_RUNNING;
    t->pid = u->pid;
    ctl_task_set_alive(c, t, node);
    t->started_ms = sc_now_ms();
    if (!j->started_ms) {
      j->started_ms = t->started_ms;
      ctl_job_op(j, &op);
      sc_store_batch_add(b, &op);
    }
    ctl_task_op(c, j, u->index, &op);
    sc_store_batch_add(b, &op);
    return;
  }
  if (t->node == node && t->state == SC_TASK_RUNNING) {
    /* A heartbeat marked it running first (heartbeats carry no pid). */
    if (u->pid > 0 && t->pid != u->pid) {
      t->pid = u->pid;
      ctl_task_op(c, j, u->index, &op);
      sc_store_batch_add(b, &op);
    }
    return;
  }
  if (t->exit_node == node)
    return; /* a report older than the exit we know of */
  if (t->alive_node < 0)
    ctl_task_set_alive(c, t, node);
  ctl_refq_push(&c->nodes[node].kill_q, j->id, u->index);
  ctl_notify_locked(c);
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
    struct ctl_job *j = ctl_job_find(c, u[i].job_id);
    if (!j || u[i].index < 0 || u[i].index >= j->ntasks) {
      if (!u[i].exited)
        ctl_refq_push(&c->nodes[node].kill_q, u[i].job_id, u[i].index);
      continue;
    }
    if (u[i].exited)
      task_exited(c, node, j, &u[i], b);
    else
      task_running(c, node, j, &u[i], b);
  }
  if (node >= 0) {
    node_seen(c, node, b);
    ctl_notify_locked(c);
    submitted = ctl_submit_locked(c, b);
  }
  pthread_mutex_unlock(&c->mu);
  return node_reply_finish(c, b, submitted, node < 0 ? SC_ENOENT : node);
}

/* The start message of task index of j for its agent. */
static json_t *task_start_json(struct sc_ctl *c, const struct ctl_job *j, int index)
{
  const struct ctl_task *t = &j->tasks[index];
  const struct ctl_node *n = &c->nodes[t->node];
  const struct ctl_task *t0 = &j->tasks[0];
  json_t *command = json_object_get(j->spec.json, "command");
  json_t *devices = json_array(), *o;
  char id[48], jid[32];

  for (int d = 0; d < t->ndev; d++)
    json_array_append_new(devices, json_integer(t->dev[d]));
  sc_task_id_format(j->id, index, id, sizeof id);
  sc_job_id_format(j->id, jid, sizeof jid);
  o = json_pack("{s:s, s:s, s:i, s:i, s:O, s:o, s:s, s:i, s:I, s:I, s:I, s:I, s:i, s:i}",
                "task_id", id, "job_id", jid, "index", index, "count", j->ntasks, "env",
                json_object_get(j->spec.json, "env"), "devices", devices, "vendor",
                n->ndev > 0 && t->ndev > 0 ? n->dev[0].vendor : "", "gpu_milli",
                j->spec.gpu_milli, "cpu_milli", (json_int_t)j->spec.cpu_milli, "memory_mib",
                (json_int_t)j->spec.memory_mib, "max_runtime_s",
                (json_int_t)j->spec.max_runtime_s, "grace_s",
                (json_int_t)((c->opts.grace_ms + 999) / 1000), "attempt", t->attempt,
                "master_port", 20000 + (int)(j->id % 20000));
  if (!o)
    return NULL;
  json_object_set(o, json_is_string(command) ? "shell" : "argv", command);
  if (json_object_get(j->spec.json, "workdir"))
    json_object_set(o, "workdir", json_object_get(j->spec.json, "workdir"));
  json_object_set_new(o, "master_addr",
                      json_string(t0->node >= 0 && c->nodes[t0->node].rec.address[0]
                                    ? c->nodes[t0->node].rec.address
                                    : "127.0.0.1"));
  return o;
}

/* Moves deliverable starts and kills of node into out; true if any. */
static bool take_assignments(struct sc_ctl *c, int node, json_t *start, json_t *kill)
{
  struct ctl_node *n = &c->nodes[node];
  int64_t now = sc_now_ms();

  int i, sent = 0;

  for (i = 0; i < n->start_q.n && sent < STARTS_PER_REPLY; i++) {
    struct sc_agent_running *r = &n->start_q.items[i];
    struct ctl_job *j = ctl_job_find(c, r->job_id);
    struct ctl_task *t = j ? &j->tasks[r->index] : NULL;
    if (t && t->node == node && t->state == SC_TASK_ASSIGNED && t->published) {
      t->delivered_ms = now;
      json_array_append_new(start, task_start_json(c, j, r->index));
      sent++;
    }
  }
  /* The rest waits for the next poll, so an agent starting many tasks still
   * gets to send its heartbeats in between. */
  if (i < n->start_q.n)
    memmove(n->start_q.items, n->start_q.items + i,
            (size_t)(n->start_q.n - i) * sizeof *n->start_q.items);
  n->start_q.n -= i;
  for (i = 0; i < n->kill_q.n; i++)
    kill_json_append(kill, n->kill_q.items[i].job_id, n->kill_q.items[i].index);
  n->kill_q.n = 0;
  return json_array_size(start) > 0 || json_array_size(kill) > 0;
}

int sc_ctl_assignments(struct sc_ctl *c, const char *name, int64_t wait_ms, json_t **out)
{
  int64_t deadline = sc_now_ms() + wait_ms;
  struct timespec ts = {.tv_sec = deadline / 1000, .tv_nsec = (long)(deadline % 1000) * 1000000L};
  json_t *start = json_array(), *kill = json_array();
  uint64_t seq = 0;
  int node, rc = 0;

  *out = NULL;
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
    c->nodes[node].last_seen_ms = sc_now_ms();
    if (take_assignments(c, node, start, kill) || c->stop || sc_now_ms() >= deadline)
      break;
    timed_out = pthread_cond_timedwait(&c->changed, &c->mu, &ts) == ETIMEDOUT;
    if (timed_out) {
      if (c->nodes[node].poll_seq == seq)
        take_assignments(c, node, start, kill);
      break;
    }
  }
  pthread_mutex_unlock(&c->mu);
  if (rc == 0)
    *out = json_pack("{s:o, s:o}", "start", start, "kill", kill);
  else {
    json_decref(start);
    json_decref(kill);
  }
  return rc == 0 && !*out ? SC_ENOMEM : rc;
}

/* A start that did not arrive: deliverable again if still wanted here. */
static void undo_start(struct sc_ctl *c, int node, json_t *start)
{
  json_t *attempt = json_object_get(start, "attempt");
  struct ctl_job *j;
  struct ctl_task *t;
  int64_t job;
  int index;

  if (sc_task_id_parse(json_string_value(json_object_get(start, "task_id")), &job, &index) < 0 ||
      !(j = ctl_job_find(c, job)) || index >= j->ntasks)
    return;
  t = &j->tasks[index];
  if (t->node == node && t->state == SC_TASK_ASSIGNED && t->published && t->delivered_ms &&
      t->attempt == json_integer_value(attempt)) {
    t->delivered_ms = 0;
    ctl_refq_push(&c->nodes[node].start_q, job, index);
  }
}

/* A kill that did not arrive: queued again while a process it means may
 * still run there (never one the node should run now: ids name no attempt). */
static void undo_kill(struct sc_ctl *c, int node, const char *id)
{
  struct ctl_job *j;
  const struct ctl_task *t;
  int64_t job;
  int index;

  if (sc_task_id_parse(id, &job, &index) < 0)
    return;
  j = ctl_job_find(c, job);
  t = j && index < j->ntasks ? &j->tasks[index] : NULL;
  if (t && (t->alive_node != node ||
            (t->node == node && (t->state == SC_TASK_ASSIGNED || t->state == SC_TASK_RUNNING))))
    return;
  ctl_refq_push(&c->nodes[node].kill_q, job, index);
}

void sc_ctl_assignments_undo(struct sc_ctl *c, const char *name, json_t *reply)
{
  json_t *v;
  size_t i;
  int node;

  pthread_mutex_lock(&c->mu);
  node = ctl_node_find(c, name);
  if (node >= 0 && c->nodes[node].rec.state == SC_NODE_READY) {
    json_array_foreach(json_object_get(reply, "start"), i, v) undo_start(c, node, v);
    json_array_foreach(json_object_get(reply, "kill"), i, v)
      undo_kill(c, node, json_string_value(v));
    sc_info("node %s: an assignments reply was not delivered (%zu starts, %zu kills): queued again",
            name, json_array_size(json_object_get(reply, "start")),
            json_array_size(json_object_get(reply, "kill")));
    pthread_cond_broadcast(&c->changed);
  }
  pthread_mutex_unlock(&c->mu);
}

int sc_ctl_log_append(struct sc_ctl *c, int64_t job_id, int index, int attempt,
                      int64_t offset, const char *data, size_t len)
{
  struct sc_store_batch *b = sc_store_batch_new();
  struct sc_store_op op = {.kind = SC_STORE_LOG_APPEND};
  int rc;

  if (!b)
    return SC_ENOMEM;
  if (attempt < 0) {
    struct ctl_job *j;
    pthread_mutex_lock(&c->mu);
    j = ctl_job_find(c, job_id);
    if (j && index >= 0 && index < j->ntasks) {
      const struct ctl_task *t = &j->tasks[index];
      /* A requeued task whose old process still runs: that output is the
       * previous attempt's. */
      bool draining = t->state == SC_TASK_PENDING && t->alive_node >= 0 && t->attempt > 0;
      attempt = draining ? t->attempt - 1 : t->attempt;
    }
    pthread_mutex_unlock(&c->mu);
  }
  op.u.log.job_id = job_id;
  op.u.log.task = index;
  op.u.log.attempt = attempt;
  op.u.log.offset = offset;
  op.u.log.data = (char *)data;
  op.u.log.len = len;
  rc = sc_store_batch_add(b, &op);
  if (rc == 0)
    rc = sc_store_write(c->store, b);
  sc_store_batch_free(b);
  if (rc == 0) {
    pthread_mutex_lock(&c->mu);
    ctl_wake_logs_locked(c);
    pthread_mutex_unlock(&c->mu);
  }
  return rc;
}

/* Milli-GPU in use per device of node, from the tasks that hold them. */
static void node_usage(struct sc_ctl *c, int node, int used[SC_STORE_MAX_DEVICES])
{
  memset(used, 0, sizeof(int) * SC_STORE_MAX_DEVICES);
  for (const struct ctl_task *t = c->nodes[node].alive; t; t = t->alive_next) {
    if (t->node != node)
      continue;
    for (int d = 0; d < t->ndev; d++)
      used[t->pos[d]] += t->job->gpu_milli;
  }
}

json_t *sc_ctl_nodes_json(struct sc_ctl *c)
{
  json_t *nodes = json_array();
  char when[40], since[40];

  pthread_mutex_lock(&c->mu);
  for (int i = 0; i < c->nnodes; i++) {
    struct ctl_node *n = &c->nodes[i];
    int used[SC_STORE_MAX_DEVICES];
    json_t *devs = json_array(), *labels = json_loads(n->rec.labels, 0, NULL);
    node_usage(c, i, used);
    for (int d = 0; d < n->ndev; d++)
      json_array_append_new(devs, json_pack("{s:i, s:s, s:s, s:I, s:i}", "index",
                                            n->dev[d].index, "vendor", n->dev[d].vendor,
                                            "model", n->dev[d].model, "memory_mib",
                                            (json_int_t)n->dev[d].memory_mib, "milli_used",
                                            used[d]));
    sc_time_format(n->rec.last_heartbeat_ms, when, sizeof when);
    sc_time_format(n->rec.registered_ms, since, sizeof since);
    json_array_append_new(nodes, json_pack("{s:s, s:s, s:s, s:I, s:I, s:o, s:o, s:s, s:o}",
                                           "name", n->rec.name, "state",
                                           sc_node_state_name(n->rec.state), "address",
                                           n->rec.address, "cpu_milli",
                                           (json_int_t)n->rec.cpu_milli, "memory_mib",
                                           (json_int_t)n->rec.memory_mib, "labels",
                                           labels ? labels : json_object(), "devices", devs,
                                           "last_heartbeat", when, "registered_at",
                                           since[0] ? json_string(since) : json_null()));
  }
  pthread_mutex_unlock(&c->mu);
  return json_pack("{s:o}", "nodes", nodes);
}
