/*
 * Controller lifecycle and job transitions: rebuild from the store,
 * submission, cancellation, the end of a job (fail, cancel or requeue the
 * whole gang) and the store rows that mirror each change. Invariant: a task
 * with alive_node >= 0 holds resources on that node until its agent says the
 * process is gone, so a requeued gang waits for its old processes to end.
 */
#include "server/ctl_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/error.h"
#include "util/log.h"

#define RESTART_GRACE_MS 10000

int64_t sc_now_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sc_job_id_format(int64_t id, char *buf, size_t size)
{
  snprintf(buf, size, "j-%06lld", (long long)id);
}

int sc_job_id_parse(const char *text, int64_t *id)
{
  char *end;
  long long v;

  *id = 0;
  if (!text || strncmp(text, "j-", 2) != 0 || text[2] < '0' || text[2] > '9')
    return SC_EINVAL;
  errno = 0;
  v = strtoll(text + 2, &end, 10);
  if (errno || *end || v <= 0)
    return SC_EINVAL;
  *id = v;
  return 0;
}

void sc_task_id_format(int64_t job, int index, char *buf, size_t size)
{
  snprintf(buf, size, "j-%06lld.%d", (long long)job, index);
}

int sc_task_id_parse(const char *text, int64_t *job, int *index)
{
  char head[64], *end;
  const char *dot = text ? strrchr(text, '.') : NULL;
  long v;

  *job = 0;
  *index = -1;
  if (!dot || (size_t)(dot - text) >= sizeof head)
    return SC_EINVAL;
  memcpy(head, text, (size_t)(dot - text));
  head[dot - text] = '\0';
  errno = 0;
  v = strtol(dot + 1, &end, 10);
  if (errno || *end || end == dot + 1 || v < 0 || v >= SC_SPEC_MAX_TASKS)
    return SC_EINVAL;
  *index = (int)v;
  return sc_job_id_parse(head, job);
}

/* ---- lookups and store rows ---- */

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

int ctl_node_find(struct sc_ctl *c, const char *name)
{
  for (int i = 0; i < c->nnodes; i++)
    if (strcmp(c->nodes[i].rec.name, name) == 0)
      return i;
  return -1;
}

void ctl_job_op(const struct ctl_job *j, struct sc_store_op *op)
{
  memset(op, 0, sizeof *op);
  op->kind = SC_STORE_JOB_UPDATE;
  op->u.job.id = j->id;
  op->u.job.state = j->state;
  memcpy(op->u.job.reason, j->reason, sizeof op->u.job.reason);
  op->u.job.started_ms = j->started_ms;
  op->u.job.finished_ms = j->finished_ms;
  op->u.job.attempt = j->attempt;
}

void ctl_task_op(struct sc_ctl *c, const struct ctl_job *j, int index, struct sc_store_op *op)
{
  const struct ctl_task *t = &j->tasks[index];
  struct sc_task_rec *r = &op->u.task;

  memset(op, 0, sizeof *op);
  op->kind = SC_STORE_TASK_PUT;
  r->job_id = j->id;
  r->index = index;
  r->state = t->state;
  if (t->node >= 0) {
    const struct ctl_node *n = &c->nodes[t->node];
    memcpy(r->node, n->rec.name, sizeof r->node);
    if (n->ndev > 0 && t->ndev > 0)
      memcpy(r->vendor, n->dev[0].vendor, sizeof r->vendor);
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
}

int ctl_batch_job(struct sc_ctl *c, struct sc_store_batch *b, const struct ctl_job *j)
{
  struct sc_store_op op;
  int rc;

  ctl_job_op(j, &op);
  rc = sc_store_batch_add(b, &op);
  for (int i = 0; rc == 0 && i < j->ntasks; i++) {
    ctl_task_op(c, j, i, &op);
    rc = sc_store_batch_add(b, &op);
  }
  return rc;
}

int ctl_refq_push(struct ctl_refq *q, int64_t job, int index)
{
  for (int i = 0; i < q->n; i++)
    if (q->items[i].job_id == job && q->items[i].index == index)
      return 0;
  if (q->n == q->cap) {
    int cap = q->cap ? q->cap * 2 : 16;
    struct sc_agent_running *items = realloc(q->items, (size_t)cap * sizeof *items);
    if (!items)
      return SC_ENOMEM;
    q->items = items;
    q->cap = cap;
  }
  q->items[q->n++] = (struct sc_agent_running){.job_id = job, .index = index};
  return 0;
}

bool ctl_submit_locked(struct sc_ctl *c, struct sc_store_batch *b)
{
  if (!b || b->n == 0)
    return false;
  if (sc_store_submit(c->store, b) < 0) {
    sc_error("store: cannot queue a write");
    return false;
  }
  return true;
}

int ctl_finish(struct sc_ctl *c, struct sc_store_batch *b, bool submitted)
{
  int rc = submitted ? sc_store_wait(c->store, b) : 0;

  if (rc < 0)
    sc_error("store: a write failed: %s", sc_strerror(rc));
  sc_store_batch_free(b);
  if (submitted) {
    /* Log followers read the job from the store: a task's end is visible
     * to them only now. */
    pthread_mutex_lock(&c->mu);
    ctl_wake_logs_locked(c);
    pthread_mutex_unlock(&c->mu);
  }
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
  c->log_gen++;
  pthread_cond_broadcast(&c->log_cond);
}

/* ---- job transitions ---- */

void ctl_kill_task(struct sc_ctl *c, struct ctl_job *j, int i)
{
  struct ctl_task *t = &j->tasks[i];

  if (t->alive_node < 0)
    return;
  if (t->state == SC_TASK_ASSIGNED && t->delivered_ms == 0) {
    ctl_task_set_alive(c, t, -1); /* never reached the agent */
    return;
  }
  ctl_refq_push(&c->nodes[t->alive_node].kill_q, j->id, i);
}

/* A fresh pending attempt; the old process (alive_node) is kept track of. */
static void task_reset(struct ctl_task *t, int attempt)
{
  struct ctl_task keep = *t;

  memset(t, 0, sizeof *t);
  t->job = keep.job;
  t->alive_node = keep.alive_node;
  t->alive_prev = keep.alive_prev;
  t->alive_next = keep.alive_next;
  t->exit_node = keep.exit_node;
  t->state = SC_TASK_PENDING;
  t->node = -1;
  t->exit_code = t->signal = -1;
  t->attempt = attempt;
}

void ctl_job_end(struct sc_ctl *c, struct ctl_job *j, int state, const char *reason,
                 bool retryable, struct sc_store_batch *b)
{
  int64_t now = sc_now_ms();
  bool retry = retryable && j->attempt < j->spec.max_retries;

  for (int i = 0; i < j->ntasks; i++) {
    struct ctl_task *t = &j->tasks[i];
    ctl_kill_task(c, j, i);
    if (retry) {
      task_reset(t, j->attempt + 1);
    } else if (!sc_task_state_final(t->state)) {
      t->state = SC_TASK_CANCELLED;
      t->finished_ms = now;
    }
  }
  if (retry) {
    j->attempt++;
    j->state = SC_JOB_PENDING;
    snprintf(j->reason, sizeof j->reason, "retry %d after: %s", j->attempt, reason);
    j->started_ms = 0;
  } else {
    j->state = state;
    snprintf(j->reason, sizeof j->reason, "%s", reason);
    j->finished_ms = now;
    c->nfinal++;
  }
  ctl_queue_sync(c, j);
  sc_info("job j-%06lld %s: %s", (long long)j->id, retry ? "requeued" : sc_job_state_name(state),
          reason);
  ctl_batch_job(c, b, j);
  ctl_notify_locked(c);
}

void ctl_job_check_done(struct sc_ctl *c, struct ctl_job *j, struct sc_store_batch *b)
{
  struct sc_store_op op;

  if (j->state != SC_JOB_RUNNING)
    return;
  for (int i = 0; i < j->ntasks; i++)
    if (j->tasks[i].state != SC_TASK_SUCCEEDED)
      return;
  j->state = SC_JOB_SUCCEEDED;
  j->reason[0] = '\0';
  j->finished_ms = sc_now_ms();
  c->nfinal++;
  ctl_queue_sync(c, j);
  ctl_job_op(j, &op);
  sc_store_batch_add(b, &op);
  ctl_notify_locked(c);
}

/* ---- jobs in memory ---- */

static void job_free(struct ctl_job *j)
{
  if (!j)
    return;
  sc_spec_release(&j->spec);
  free(j->tasks);
  free(j);
}

static struct ctl_job *job_new(int64_t id, struct sc_job_spec *spec)
{
  struct ctl_job *j = calloc(1, sizeof *j);

  if (!j || !(j->tasks = calloc((size_t)spec->tasks, sizeof *j->tasks))) {
    free(j);
    return NULL;
  }
  j->id = id;
  j->spec = *spec;
  spec->json = NULL;
  j->ntasks = spec->tasks;
  j->priority = spec->priority;
  j->cpu_milli = spec->cpu_milli;
  j->memory_mib = spec->memory_mib;
  j->gpus = spec->gpus;
  j->gpu_milli = spec->gpu_milli;
  j->any_model = strspn(spec->models, "|") == strlen(spec->models); /* as sc_shape_set_models */
  for (int i = 0; i < j->ntasks; i++) {
    j->tasks[i].job = j;
    j->tasks[i].alive_node = j->tasks[i].exit_node = -1;
    task_reset(&j->tasks[i], 0);
  }
  return j;
}

/* Inserts j keeping ids ascending (new ids come last almost always). */
static int jobs_insert(struct sc_ctl *c, struct ctl_job *j)
{
  int pos = c->njobs;

  if (c->njobs == c->capjobs) {
    int cap = c->capjobs ? c->capjobs * 2 : 256;
    struct ctl_job **jobs = realloc(c->jobs, (size_t)cap * sizeof *jobs);
    if (!jobs)
      return SC_ENOMEM;
    c->jobs = jobs;
    c->capjobs = cap;
  }
  while (pos > 0 && c->jobs[pos - 1]->id > j->id)
    pos--;
  memmove(&c->jobs[pos + 1], &c->jobs[pos], (size_t)(c->njobs - pos) * sizeof *c->jobs);
  c->jobs[pos] = j;
  c->njobs++;
  return 0;
}

/* Adds the shapes of a submitted job to FGD's window of recent tasks. */
static void window_add(struct sc_ctl *c, const struct sc_job_spec *s)
{
  struct ctl_shape_key k;
  int n = s->tasks < c->opts.window ? s->tasks : c->opts.window;

  memset(&k, 0, sizeof k);
  k.cpu = s->cpu_milli;
  k.mem = s->memory_mib;
  k.gpus = s->gpus;
  k.gpu_milli = s->gpu_milli;
  memcpy(k.models, s->models, strnlen(s->models, sizeof k.models - 1));
  for (int i = 0; i < n; i++) {
    c->window[c->wpos] = k;
    c->wpos = (c->wpos + 1) % c->opts.window;
    if (c->wcount < c->opts.window)
      c->wcount++;
  }
}

static void rec_of(const struct ctl_job *j, struct sc_job_rec *r)
{
  memset(r, 0, sizeof *r);
  r->id = j->id;
  snprintf(r->name, sizeof r->name, "%s", j->spec.name);
  snprintf(r->tenant, sizeof r->tenant, "%s", j->spec.tenant);
  r->priority = j->spec.priority;
  r->spec = json_dumps(j->spec.json, JSON_COMPACT);
  r->state = j->state;
  memcpy(r->reason, j->reason, sizeof r->reason);
  r->created_ms = j->created_ms;
  r->started_ms = j->started_ms;
  r->finished_ms = j->finished_ms;
  r->attempt = j->attempt;
  r->max_retries = j->spec.max_retries;
  r->ntasks = j->ntasks;
}

/* Fills out (job and pending tasks) as the 201 reply shows it. */
static int submitted_rec(const struct ctl_job *j, struct sc_job_rec *out)
{
  rec_of(j, out);
  out->tasks = calloc((size_t)j->ntasks, sizeof *out->tasks);
  if (!out->spec || !out->tasks) {
    sc_job_rec_release(out);
    return SC_ENOMEM;
  }
  for (int i = 0; i < j->ntasks; i++) {
    out->tasks[i].job_id = j->id;
    out->tasks[i].index = i;
    out->tasks[i].exit_code = out->tasks[i].signal = -1;
    out->tasks[i].gpu_milli = j->spec.gpu_milli;
  }
  return 0;
}

int sc_ctl_submit(struct sc_ctl *c, struct sc_job_spec *spec, struct sc_job_rec *out)
{
  struct sc_store_batch *b = sc_store_batch_new();
  struct sc_store_op op = {.kind = SC_STORE_JOB_INSERT};
  struct ctl_job *j;
  int64_t id;
  int rc;

  memset(out, 0, sizeof *out);
  pthread_mutex_lock(&c->mu);
  id = c->next_id++;
  pthread_mutex_unlock(&c->mu);
  j = b ? job_new(id, spec) : NULL;
  if (!j) {
    sc_store_batch_free(b);
    return SC_ENOMEM;
  }
  j->created_ms = sc_now_ms();
  rc = submitted_rec(j, out);
  if (rc == 0) {
    op.u.job = *out;
    op.u.job.tasks = NULL;
    rc = sc_store_batch_add(b, &op);
  }
  if (rc == 0)
    rc = sc_store_write(c->store, b);
  sc_store_batch_free(b);
  if (rc < 0) {
    sc_job_rec_release(out);
    job_free(j);
    return rc;
  }
  pthread_mutex_lock(&c->mu);
  rc = jobs_insert(c, j);
  if (rc == 0) {
    window_add(c, &j->spec);
    ctl_queue_sync(c, j);
    ctl_notify_fresh_locked(c, j->id);
  }
  pthread_mutex_unlock(&c->mu);
  if (rc < 0) {
    job_free(j);
    sc_job_rec_release(out);
  }
  return rc;
}

int sc_ctl_cancel(struct sc_ctl *c, int64_t id, const char *tenant)
{
  struct sc_store_batch *b = sc_store_batch_new();
  struct ctl_job *j;
  struct sc_job_rec rec;
  bool submitted = false;
  int rc = 0;

  if (!b)
    return SC_ENOMEM;
  pthread_mutex_lock(&c->mu);
  j = ctl_job_find(c, id);
  if (j && tenant && strcmp(j->spec.tenant, tenant) != 0) {
    rc = SC_ENOENT;
  } else if (j && !sc_job_state_final(j->state)) {
    ctl_job_end(c, j, SC_JOB_CANCELLED, "cancelled by user", false, b);
    submitted = ctl_submit_locked(c, b);
  } else if (!j) {
    rc = 1; /* not active: ask the store below */
  } else {
    rc = SC_ESTATE;
  }
  pthread_mutex_unlock(&c->mu);
  if (rc == 1) {
    rc = sc_store_job_get(c->store, id, &rec);
    if (rc == 0)
      rc = tenant && strcmp(rec.tenant, tenant) != 0 ? SC_ENOENT : SC_ESTATE;
    sc_job_rec_release(&rec);
  }
  return ctl_finish(c, b, submitted) < 0 ? SC_ESTORE : rc;
}

/* ---- rebuild from the store ---- */

static int load_nodes(struct sc_ctl *c)
{
  struct sc_node_rec *recs;
  int n, rc = sc_store_node_list(c->store, &recs, &n);

  if (rc < 0)
    return rc;
  c->nodes = calloc((size_t)(n > 0 ? n : 1), sizeof *c->nodes);
  if (!c->nodes) {
    sc_store_free_nodes(recs, n);
    return SC_ENOMEM;
  }
  c->capnodes = n > 0 ? n : 1;
  for (int i = 0; i < n; i++) {
    struct ctl_node *node = &c->nodes[c->nnodes++];
    node->rec = recs[i];
    /* After a restart agents reconnect with backoff: give them at least
     * RESTART_GRACE_MS before a node counts as lost. */
    node->last_seen_ms = sc_now_ms() + (c->opts.heartbeat_timeout_ms < RESTART_GRACE_MS
                                          ? RESTART_GRACE_MS - c->opts.heartbeat_timeout_ms
                                          : 0);
    ctl_node_parse_devices(node);
  }
  free(recs); /* strings moved into the nodes */
  return 0;
}

/* Restores task i of j from its stored row. */
static void load_task(struct sc_ctl *c, struct ctl_job *j, const struct sc_task_rec *r)
{
  struct ctl_task *t = &j->tasks[r->index];

  t->state = r->state;
  t->node = r->node[0] ? ctl_node_find(c, r->node) : -1;
  t->exit_code = r->exit_code;
  t->signal = r->signal;
  t->pid = r->pid;
  t->attempt = r->attempt;
  t->started_ms = r->started_ms;
  t->finished_ms = r->finished_ms;
  t->ndev = r->ndev;
  memcpy(t->dev, r->devices, sizeof t->dev);
  for (int d = 0; t->node >= 0 && d < t->ndev; d++)
    for (int k = 0; k < c->nodes[t->node].ndev; k++)
      if (c->nodes[t->node].dev[k].index == t->dev[d])
        t->pos[d] = k;
  if (t->node >= 0 && (t->state == SC_TASK_ASSIGNED || t->state == SC_TASK_RUNNING)) {
    ctl_task_set_alive(c, t, t->node);
    t->published = true;
    if (t->state == SC_TASK_ASSIGNED) /* redeliver: agents ignore duplicates */
      ctl_refq_push(&c->nodes[t->node].start_q, j->id, r->index);
  } else if (t->state == SC_TASK_ASSIGNED || t->state == SC_TASK_RUNNING) {
    t->state = SC_TASK_LOST; /* its node is unknown: fail it below */
  }
}

static int load_job(struct sc_ctl *c, struct sc_job_rec *r)
{
  struct sc_job_spec spec;
  struct sc_spec_error err;
  json_t *json = json_loads(r->spec, 0, NULL);
  struct ctl_job *j;
  int rc = sc_spec_parse(json, &spec, &err);

  json_decref(json);
  if (rc < 0 || spec.tasks != r->ntasks) {
    sc_warn("job j-%06lld: stored spec unreadable (%s), skipped", (long long)r->id,
            err.message);
    sc_spec_release(&spec);
    return 0;
  }
  if (!(j = job_new(r->id, &spec))) {
    sc_spec_release(&spec);
    return SC_ENOMEM;
  }
  j->state = r->state;
  memcpy(j->reason, r->reason, sizeof j->reason);
  j->created_ms = r->created_ms;
  j->started_ms = r->started_ms;
  j->finished_ms = r->finished_ms;
  j->attempt = r->attempt;
  for (int i = 0; i < r->ntasks; i++)
    if (r->tasks[i].index >= 0 && r->tasks[i].index < j->ntasks)
      load_task(c, j, &r->tasks[i]);
  window_add(c, &j->spec);
  if ((rc = jobs_insert(c, j)) < 0) {
    for (int i = 0; i < j->ntasks; i++)
      ctl_task_set_alive(c, &j->tasks[i], -1);
    job_free(j);
    return rc;
  }
  if (sc_job_state_final(j->state))
    c->nfinal++;
  ctl_queue_sync(c, j);
  return 0;
}

static int load_jobs(struct sc_ctl *c)
{
  struct sc_job_rec *recs;
  struct sc_store_batch *b = sc_store_batch_new();
  int n, rc = b ? sc_store_jobs_active(c->store, &recs, &n) : SC_ENOMEM;

  for (int i = 0; rc == 0 && i < n; i++)
    rc = load_job(c, &recs[i]);
  if (rc == 0)
    sc_store_free_jobs(recs, n);
  for (int i = 0; rc == 0 && i < c->njobs; i++) {
    struct ctl_job *j = c->jobs[i];
    for (int k = 0; k < j->ntasks; k++)
      if (j->tasks[k].state == SC_TASK_LOST && j->state == SC_JOB_RUNNING) {
        ctl_job_end(c, j, SC_JOB_FAILED, "node lost", true, b);
        break;
      }
  }
  if (rc == 0 && b->n > 0)
    rc = sc_store_write(c->store, b);
  sc_store_batch_free(b);
  return rc;
}

int sc_ctl_new(const struct sc_ctl_opts *opts, struct sc_store *store, struct sc_ctl **out)
{
  struct sc_ctl *c = calloc(1, sizeof *c);
  pthread_condattr_t mono;
  int rc;

  *out = NULL;
  if (!c)
    return SC_ENOMEM;
  c->opts = *opts;
  if (!c->opts.policy)
    c->opts.policy = sc_policy_find("fgd");
  if (c->opts.heartbeat_timeout_ms <= 0)
    c->opts.heartbeat_timeout_ms = 30000;
  if (c->opts.grace_ms <= 0)
    c->opts.grace_ms = 10000;
  if (c->opts.window <= 0)
    c->opts.window = 1000;
  c->store = store;
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->changed, NULL);
  pthread_condattr_init(&mono);
  pthread_condattr_setclock(&mono, CLOCK_MONOTONIC);
  pthread_cond_init(&c->sched_cond, &mono);
  pthread_condattr_destroy(&mono);
  pthread_cond_init(&c->log_cond, NULL);
  c->window = calloc((size_t)c->opts.window, sizeof *c->window);
  rc = c->window ? sc_store_max_job_id(store, &c->next_id) : SC_ENOMEM;
  c->next_id++;
  if (rc == 0)
    rc = load_nodes(c);
  if (rc == 0)
    rc = load_jobs(c);
  if (rc < 0) {
    sc_ctl_free(c);
    return rc;
  }
  c->dirty = c->full = true;
  c->models_epoch = 1; /* jobs start at 0: their model masks are unknown */
  sc_info("controller: %d nodes, %d active jobs, next id j-%06lld", c->nnodes, c->njobs,
          (long long)c->next_id);
  *out = c;
  return 0;
}

int sc_ctl_start(struct sc_ctl *c)
{
  if (pthread_create(&c->thread, NULL, ctl_sched_main, c) != 0)
    return SC_ENOMEM;
  c->started = true;
  return 0;
}

void sc_ctl_stop(struct sc_ctl *c)
{
  pthread_mutex_lock(&c->mu);
  c->stop = true;
  ctl_notify_locked(c);
  ctl_wake_logs_locked(c);
  pthread_mutex_unlock(&c->mu);
  if (c->started)
    pthread_join(c->thread, NULL);
  c->started = false;
}

void sc_ctl_free(struct sc_ctl *c)
{
  if (!c)
    return;
  for (int i = 0; i < c->njobs; i++)
    job_free(c->jobs[i]);
  for (int i = 0; i < c->nnodes; i++) {
    sc_node_rec_release(&c->nodes[i].rec);
    free(c->nodes[i].start_q.items);
    free(c->nodes[i].kill_q.items);
  }
  free(c->jobs);
  free(c->nodes);
  free(c->window);
  free(c->fresh);
  free(c->scratch);
  ctl_sched_release(c);
  pthread_mutex_destroy(&c->mu);
  pthread_cond_destroy(&c->changed);
  pthread_cond_destroy(&c->sched_cond);
  pthread_cond_destroy(&c->log_cond);
  free(c);
}

struct sc_store *sc_ctl_store(struct sc_ctl *c)
{
  return c->store;
}

void sc_ctl_stats(struct sc_ctl *c, struct sc_ctl_stats *out)
{
  pthread_mutex_lock(&c->mu);
  *out = c->stats;
  pthread_mutex_unlock(&c->mu);
}

uint64_t sc_ctl_log_generation(struct sc_ctl *c)
{
  uint64_t gen;

  pthread_mutex_lock(&c->mu);
  gen = c->log_gen;
  pthread_mutex_unlock(&c->mu);
  return gen;
}

void sc_ctl_log_wait(struct sc_ctl *c, uint64_t *gen, int64_t deadline_ms)
{
  struct timespec ts = {.tv_sec = deadline_ms / 1000,
                        .tv_nsec = (long)(deadline_ms % 1000) * 1000000L};

  pthread_mutex_lock(&c->mu);
  while (c->log_gen == *gen && !c->stop && sc_now_ms() < deadline_ms)
    if (pthread_cond_timedwait(&c->log_cond, &c->mu, &ts) == ETIMEDOUT)
      break;
  *gen = c->log_gen;
  pthread_mutex_unlock(&c->mu);
}

/* Removes finished jobs whose processes are all gone (called by the ticker;
 * walks the jobs only when some have ended). */
void ctl_jobs_compact(struct sc_ctl *c)
{
  int kept = 0, final = 0;

  if (c->nfinal == 0)
    return;
  for (int i = 0; i < c->njobs; i++) {
    struct ctl_job *j = c->jobs[i];
    if (!sc_job_state_final(j->state)) {
      c->jobs[kept++] = j;
    } else if (j->nalive > 0) {
      c->jobs[kept++] = j;
      final++;
    } else {
      job_free(j);
    }
  }
  c->njobs = kept;
  c->nfinal = final;
}
