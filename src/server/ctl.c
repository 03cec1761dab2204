/*
 * Controller lifecycle and its user-facing calls: rebuild from the store at
 * start, submission (acknowledged only once durable; nothing of a job that
 * failed to commit stays in memory), cancellation, the nodes view, stats and
 * the log followers' wake-ups. State changes go through ctl_state.c.
 */
#include "server/ctl_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/ids.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"
#include "util/vec.h"
#include "util/units.h"

#define RESTART_GRACE_MS 10000

/* Bucket bounds (seconds) of the pass duration and submit-to-start
 * histograms (/metrics). */
static const double pass_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                     0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};
static const double start_bounds[] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,   2.5,
                                      5,    10,    30,   60,  300,  900, 3600, 14400};


/* The window shape of spec s, added with count 0 if new; -1 when out of
 * memory. O(shapes in the window). */
static int window_key(struct sc_ctl *c, const struct sc_job_spec *s)
{
  struct ctl_shape_key *k;
  bool fits = strlen(s->models) < sizeof k->models;

  for (int i = 0; i < c->nwkeys; i++) {
    k = &c->wkeys[i];
    if (k->cpu == s->cpu_milli && k->mem == s->memory_mib && k->gpus == s->gpus &&
        k->gpu_milli == s->gpu_milli && strcmp(ctl_key_models(k), s->models) == 0)
      return i;
  }
  if (SC_VEC_RESERVE_ONE(c->wkeys, c->nwkeys, c->capwkeys) < 0)
    return -1;
  k = &c->wkeys[c->nwkeys];
  memset(k, 0, sizeof *k);
  if (!fits && !(k->models_long = strdup(s->models)))
    return -1;
  if (fits)
    memcpy(k->models, s->models, strlen(s->models) + 1);
  k->cpu = s->cpu_milli;
  k->mem = s->memory_mib;
  k->gpus = s->gpus;
  k->gpu_milli = s->gpu_milli;
  return c->nwkeys++;
}

/* Drops window shape i, now unused: the last takes its place. */
static void window_key_drop(struct sc_ctl *c, int i)
{
  int last = --c->nwkeys;

  free(c->wkeys[i].models_long);
  if (i == last)
    return;
  c->wkeys[i] = c->wkeys[last];
  for (int e = 0; e < c->wcount; e++)
    if (c->window[e] == last)
      c->window[e] = i;
}

/* Adds the tasks of a submitted job to FGD's window of recent tasks (left
 * out when out of memory). O(shapes + tasks), and O(window) more when a
 * shape leaves the window. */
static void window_add(struct sc_ctl *c, const struct sc_job_spec *s)
{
  int n = s->tasks < c->opts.window ? s->tasks : c->opts.window;
  int key = n > 0 ? window_key(c, s) : -1;

  for (int i = 0; i < n && key >= 0; i++) {
    c->wkeys[key].count++;
    if (c->wcount == c->opts.window) { /* the oldest entry leaves */
      int old = c->window[c->wpos];
      if (--c->wkeys[old].count == 0) {
        window_key_drop(c, old);
        if (key == c->nwkeys) /* key was the last: moved to old */
          key = old;
      }
    } else {
      c->wcount++;
    }
    c->window[c->wpos] = key;
    c->wpos = (c->wpos + 1) % c->opts.window;
  }
}

/* Fills out (job and pending tasks) as the 201 reply shows it; out->spec
 * is a copy of the spec text. */
static int submitted_rec(const struct ctl_job *j, struct sc_job_rec *out)
{
  memset(out, 0, sizeof *out);
  out->id = j->id;
  snprintf(out->name, sizeof out->name, "%s", j->spec.name);
  snprintf(out->tenant, sizeof out->tenant, "%s", j->spec.tenant);
  out->priority = j->spec.priority;
  out->spec = strdup(j->spec.text);
  out->state = j->state;
  out->created_ms = j->created_ms;
  out->max_retries = j->spec.max_retries;
  out->ntasks = j->ntasks;
  out->held = j->held;
  out->counts[SC_TASK_PENDING] = j->ntasks;
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

/* The spec of job id: an array element (array_id > 0) sees its array and
 * index, a slurm_env job Slurm's variables too. */
static int element_spec(const struct sc_job_spec *spec, int64_t id, int64_t array_id, int index,
                        struct sc_job_spec *out)
{
  const char *keys[10], *vals[10];
  char num[6][32];
  int n = 0;

  if (array_id > 0) {
    snprintf(num[0], sizeof num[0], "j-%06lld", (long long)array_id);
    snprintf(num[1], sizeof num[1], "%d", index);
    snprintf(num[2], sizeof num[2], "%lld", (long long)array_id);
    snprintf(num[3], sizeof num[3], "%d", spec->array_count);
    keys[n] = "SUPERCELL_ARRAY_JOB_ID", vals[n++] = num[0];
    keys[n] = "SUPERCELL_ARRAY_INDEX", vals[n++] = num[1];
    keys[n] = "SLURM_ARRAY_JOB_ID", vals[n++] = num[2];
    keys[n] = "SLURM_ARRAY_TASK_ID", vals[n++] = num[1];
    keys[n] = "SLURM_ARRAY_TASK_COUNT", vals[n++] = num[3];
  }
  if (spec->slurm_env) { /* SLURM_PROCID and SLURM_LOCALID: each task's, the agent's */
    snprintf(num[4], sizeof num[4], "%lld", (long long)id);
    snprintf(num[5], sizeof num[5], "%d", spec->tasks);
    keys[n] = "SLURM_JOB_ID", vals[n++] = num[4];
    keys[n] = "SLURM_JOB_NAME", vals[n++] = spec->name;
    keys[n] = "SLURM_NTASKS", vals[n++] = num[5];
    keys[n] = "SLURM_NPROCS", vals[n++] = num[5];
  }
  return sc_spec_with_env(spec, keys, vals, n, out);
}

/* The jobs of one submission: one, or an array's elements (ids id0 + k). */
static int submission_jobs(struct sc_ctl *c, struct sc_job_spec *spec, int64_t id0, int n,
                           struct ctl_job **jobs)
{
  int *idx = NULL, max, rc = 0;
  struct sc_spec_error err;

  if (spec->array_count > 0 &&
      (!(idx = calloc((size_t)n, sizeof *idx)) ||
       sc_spec_array_indices(spec->array, idx, n, &max, &err) != n))
    rc = idx ? SC_EINVAL : SC_ENOMEM;
  for (int k = 0; rc == 0 && k < n; k++) {
    struct sc_job_spec es;
    bool own = spec->array_count > 0 || spec->slurm_env;
    if (own && (rc = element_spec(spec, id0 + k, idx ? id0 : 0, idx ? idx[k] : -1, &es)) < 0)
      break;
    jobs[k] = ctl_job_new(id0 + k, own ? &es : spec);
    if (own)
      sc_spec_release(&es);
    if (!jobs[k]) {
      rc = SC_ENOMEM;
      break;
    }
    jobs[k]->created_ms = ctl_wall_ms(c);
    jobs[k]->held = jobs[k]->spec.hold;
    jobs[k]->array_id = idx ? id0 : 0;
    jobs[k]->array_index = idx ? idx[k] : -1;
  }
  free(idx);
  return rc;
}

/* Cancels the jobs doomed by a dependency already impossible; returns
 * once durable. Called and returns with mu held. */
static void cancel_doomed(struct sc_ctl *c)
{
  struct sc_store_batch *b;
  struct ctl_job *j;
  bool submitted;

  if (c->ndoomed == 0)
    return;
  b = sc_store_batch_new();
  while ((j = ctl_deps_next_doomed(c)))
    ctl_job_event(c, j, CTL_EV_DEP_NEVER, NULL, b);
  submitted = ctl_submit_locked(c, b);
  pthread_mutex_unlock(&c->mu);
  ctl_finish(c, b, submitted);
  pthread_mutex_lock(&c->mu);
}

int sc_ctl_submit(struct sc_ctl *c, struct sc_job_spec *spec, struct sc_job_rec *out)
{
  struct sc_store_batch *b = sc_store_batch_new();
  struct sc_store_op op = {.kind = SC_STORE_JOB_INSERT};
  struct ctl_dep deps[SC_SPEC_MAX_DEPS];
  struct ctl_tenant_counts *counts;
  int n = spec->array_count > 0 ? spec->array_count : 1, inserted = 0;
  struct ctl_job **jobs = calloc((size_t)n, sizeof *jobs);
  char msg[256];
  int64_t id0;
  int rc = b && jobs ? 0 : SC_ENOMEM;

  memset(out, 0, sizeof *out);
  if (rc == 0 && spec->ndeps > 0)
    rc = ctl_deps_resolve(c, spec, deps, msg, sizeof msg);
  pthread_mutex_lock(&c->mu);
  id0 = c->next_id;
  c->next_id += rc == 0 ? n : 0;
  pthread_mutex_unlock(&c->mu);
  if (rc == 0)
    rc = submission_jobs(c, spec, id0, n, jobs);
  for (int k = 0; rc == 0 && k < n; k++) {
    struct sc_job_rec r;
    if ((rc = submitted_rec(jobs[k], k == 0 ? out : &r)) < 0)
      break;
    op.u.job = k == 0 ? *out : r;
    op.u.job.array_id = jobs[k]->array_id;
    op.u.job.array_index = jobs[k]->array_index;
    op.u.job.tasks = NULL;
    sc_store_batch_add(b, &op);
    if (k > 0)
      sc_job_rec_release(&r);
  }
  if (rc == 0) {
    out->array_id = jobs[0]->array_id;
    out->array_index = jobs[0]->array_index;
    pthread_mutex_lock(&c->mu);
    rc = ctl_tenant_ensure(c, jobs[0]->spec.tenant, b);
    if (rc == 0 && b->n > n) /* a tenant row: queued in memory's order */
      rc = sc_store_submit(c->store, b);
    pthread_mutex_unlock(&c->mu);
    if (rc == 0)
      rc = b->n > n ? sc_store_wait(c->store, b) : sc_store_write(c->store, b);
  }
  if (rc == 0) {
    pthread_mutex_lock(&c->mu);
    if (b->n > n)
      ctl_tenant_settle(c, b);
    for (; rc == 0 && inserted < n; inserted++) {
      struct ctl_job *j = jobs[inserted];
      if ((rc = ctl_jobs_insert(c, j)) < 0)
        break;
      if (spec->ndeps > 0 && (rc = ctl_deps_attach(c, j, deps, spec->ndeps)) < 0) {
        inserted++;
        break;
      }
      window_add(c, &j->spec);
      ctl_queue_sync(c, j);
      ctl_queue_note_fresh(c, j->id);
      if ((counts = ctl_tenant_counts(c, j->spec.tenant)))
        counts->submitted++;
    }
    cancel_doomed(c);
    pthread_mutex_unlock(&c->mu);
    if (rc < 0) /* durable but not in memory: a restart picks it up */
      sc_error("job j-%06lld: out of memory, it waits for a restart", (long long)id0);
  }
  sc_store_batch_free(b);
  for (int k = inserted; jobs && k < n; k++)
    ctl_job_free(jobs[k]);
  free(jobs);
  if (rc < 0 && inserted == 0) {
    sc_job_rec_release(out);
    return rc == SC_ENOMEM || rc == SC_EINVAL ? rc : SC_ESTORE;
  }
  return 0;
}

int sc_ctl_hold(struct sc_ctl *c, int64_t id, const char *tenant, bool hold)
{
  struct sc_store_batch *b = sc_store_batch_new();
  struct ctl_job *j;
  int rc = 0;

  if (!b)
    return SC_ENOMEM;
  pthread_mutex_lock(&c->mu);
  j = ctl_job_find(c, id);
  if (!j || (tenant && strcmp(j->spec.tenant, tenant) != 0))
    rc = SC_ENOENT;
  else if (j->state != SC_JOB_PENDING)
    rc = SC_ESTATE;
  if (rc == 0 && j->held != hold) {
    j->held = hold;
    ctl_batch_job_row(c, b, j);
    c->dirty = c->full = true;
    ctl_notify_locked(c);
  }
  return ctl_commit_unlock(c, b, rc);
}

int sc_ctl_interrupt(struct sc_ctl *c)
{
  struct ctl_event_args args = {.attempt = -1, .reason = SC_CTL_INTERRUPTED};
  struct sc_store_batch *b = sc_store_batch_new();

  if (!b)
    return SC_ENOMEM;
  pthread_mutex_lock(&c->mu);
  c->frozen = true; /* what is requeued runs at the next start, not now */
  for (int i = 0; i < c->njobs; i++)
    ctl_job_event(c, c->jobs[i], CTL_EV_INTERRUPT, &args, b);
  return ctl_commit_unlock(c, b, 0);
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
    ctl_job_event(c, j, CTL_EV_CANCEL, NULL, b);
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
    struct ctl_node *node = &c->nodes[c->nnodes];
    node->rec = recs[i];
    if (ctl_node_index(c, c->nnodes) < 0) {
      for (int k = i; k < n; k++)
        sc_node_rec_release(&recs[k]);
      free(recs);
      return SC_ENOMEM;
    }
    c->nnodes++;
    if (ctl_node_region(node) < 0) {
      for (int k = i + 1; k < n; k++)
        sc_node_rec_release(&recs[k]);
      free(recs);
      return SC_ENOMEM;
    }
    /* After a restart agents reconnect with backoff: give them at least
     * RESTART_GRACE_MS before a node counts as lost. */
    ctl_node_seen(c, c->nnodes - 1,
                  sc_clock_mono_ms() + (c->opts.heartbeat_timeout_ms < RESTART_GRACE_MS
                                          ? RESTART_GRACE_MS - c->opts.heartbeat_timeout_ms
                                          : 0));
  }
  free(recs); /* labels and devices moved into the nodes */
  return 0;
}

/* Restores task r->index of j from its stored row. */
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
    for (int k = 0; k < c->nodes[t->node].rec.ndev; k++)
      if (c->nodes[t->node].rec.dev[k].index == t->dev[d])
        t->pos[d] = k;
  if (t->node >= 0 && (t->state == SC_TASK_ASSIGNED || t->state == SC_TASK_RUNNING)) {
    ctl_task_set_alive(c, t, t->node);
    t->published = true;
    t->delivered = t->state == SC_TASK_RUNNING;
    if (t->state == SC_TASK_ASSIGNED) /* redeliver: agents ignore duplicates */
      ctl_node_push(c, t->node, false, j->id, r->index);
  } else if (t->state == SC_TASK_ASSIGNED || t->state == SC_TASK_RUNNING) {
    t->state = SC_TASK_LOST; /* its node is unknown: fail it below */
  }
}

static int load_job(struct sc_ctl *c, const struct sc_job_rec *r)
{
  struct sc_job_spec spec;
  struct sc_spec_error err;
  struct ctl_job *j;
  int rc = sc_spec_parse_text(r->spec, &spec, &err);

  if (rc == SC_ENOMEM)
    return rc;
  if (rc < 0 || spec.tasks != r->ntasks) {
    sc_warn("job j-%06lld: stored spec unreadable (%s), skipped", (long long)r->id,
            rc < 0 ? err.message : "task count differs");
    sc_spec_release(&spec);
    return 0;
  }
  if (!(j = ctl_job_new(r->id, &spec))) {
    sc_spec_release(&spec);
    return SC_ENOMEM;
  }
  j->state = r->state;
  j->held = r->held;
  j->array_id = r->array_id;
  j->array_index = r->array_id > 0 ? r->array_index : -1;
  memcpy(j->reason, r->reason, sizeof j->reason);
  j->created_ms = r->created_ms;
  j->started_ms = r->started_ms;
  j->finished_ms = r->finished_ms;
  j->attempt = r->attempt;
  j->preempted = r->preempted;
  j->checkpoint_ms = r->checkpoint_ms;
  if (j->state == SC_JOB_PENDING && j->attempt > 0 && c->opts.fence_after_ms > 0 &&
      !strstr(j->reason, SC_CTL_INTERRUPTED)) /* `up` stopped: its tasks were ended */
    /* Requeued before the restart, maybe from a node now cut off: its old
     * processes are surely fenced after this. */
    j->hold_until_ms = sc_clock_mono_ms() + c->opts.fence_after_ms + c->opts.grace_ms;
  if (j->started_ms > 0) { /* its max runtime counts on from the stored start */
    int64_t ran = ctl_wall_ms(c) - j->started_ms;
    j->started_mono_ms = sc_clock_mono_ms() - (ran > 0 ? ran : 0);
  }
  if ((rc = ctl_jobs_insert(c, j)) < 0) {
    ctl_job_free(j);
    return rc;
  }
  for (int i = 0; i < r->ntasks; i++)
    if (r->tasks[i].index >= 0 && r->tasks[i].index < j->ntasks)
      load_task(c, j, &r->tasks[i]);
  window_add(c, &j->spec);
  if (sc_job_state_final(j->state))
    c->nfinal++;
  ctl_queue_sync(c, j);
  return 0;
}

static int load_jobs(struct sc_ctl *c)
{
  struct sc_job_rec *recs = NULL;
  struct sc_store_batch *b = sc_store_batch_new();
  struct ctl_event_args lost = {.attempt = -1, .reason = "node lost"};
  int n = 0, rc = b ? sc_store_jobs_active(c->store, &recs, &n) : SC_ENOMEM;

  for (int i = 0; rc == 0 && i < n; i++)
    rc = load_job(c, &recs[i]);
  sc_store_free_jobs(recs, n);
  for (int i = 0; rc == 0 && i < c->njobs; i++) /* jobs stored before tenants had ids */
    rc = ctl_tenant_ensure(c, c->jobs[i]->spec.tenant, b);
  for (int i = 0; rc == 0 && i < c->njobs; i++) {
    struct ctl_job *j = c->jobs[i];
    for (int k = 0; k < j->ntasks; k++)
      if (j->tasks[k].state == SC_TASK_LOST && j->state == SC_JOB_RUNNING) {
        ctl_job_event(c, j, CTL_EV_FAIL, &lost, b);
        break;
      }
  }
  for (int i = 0; rc == 0 && i < c->njobs; i++) { /* what pending jobs wait for */
    struct ctl_job *j = c->jobs[i];
    struct ctl_dep deps[SC_SPEC_MAX_DEPS];
    char msg[256];
    int drc;
    if (j->state != SC_JOB_PENDING || j->spec.ndeps == 0)
      continue;
    drc = ctl_deps_resolve(c, &j->spec, deps, msg, sizeof msg);
    if (drc == SC_EINVAL)
      sc_warn("job j-%06lld: %s: it waits for nothing", (long long)j->id, msg);
    else if (drc < 0 || (drc = ctl_deps_attach(c, j, deps, j->spec.ndeps)) < 0)
      rc = drc;
  }
  for (struct ctl_job *j; rc == 0 && (j = ctl_deps_next_doomed(c));)
    ctl_job_event(c, j, CTL_EV_DEP_NEVER, NULL, b);
  if (rc == 0 && b->n > 0)
    rc = sc_store_write(c->store, b);
  if (rc == 0 && b)
    ctl_tenant_settle(c, b);
  sc_store_batch_free(b);
  for (int i = 0; i < c->njobs; i++)
    c->jobs[i]->writes = 0; /* settled (or sc_ctl_new fails) */
  return rc;
}

int sc_ctl_new(const struct sc_ctl_opts *opts, struct sc_store *store, struct sc_ctl **out)
{
  struct sc_ctl *c = calloc(1, sizeof *c);
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
  if (c->opts.fence_after_ms == 0)
    c->opts.fence_after_ms = 2 * c->opts.heartbeat_timeout_ms;
  if (c->opts.window <= 0)
    c->opts.window = 1000;
  c->store = store;
  sc_histogram_init(&c->pass_hist, pass_bounds, sizeof pass_bounds / sizeof pass_bounds[0]);
  sc_histogram_init(&c->start_hist, start_bounds, sizeof start_bounds / sizeof start_bounds[0]);
  pthread_mutex_init(&c->mu, NULL);
  sc_clock_cond_init(&c->changed);
  sc_clock_cond_init(&c->sched_cond);
  sc_clock_cond_init(&c->log_cond);
  c->window = calloc((size_t)c->opts.window, sizeof *c->window);
  rc = c->window ? ctl_preempt_init(c) : SC_ENOMEM;
  if (rc == 0)
    rc = ctl_timeline_init(c);
  if (rc == 0)
    rc = sc_store_max_job_id(store, &c->next_id);
  c->next_id++;
  if (rc == 0)
    rc = ctl_tenants_load(c);
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
  for (int i = 0; i < c->nnodes; i++)
    ctl_node_wake(c, i); /* parked polls answer now */
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
    ctl_job_free(c->jobs[i]);
  for (int i = 0; i < c->nnodes; i++) {
    sc_node_rec_release(&c->nodes[i].rec);
    free(c->nodes[i].start_q.items);
    free(c->nodes[i].kill_q.items);
  }
  free(c->jobs);
  free(c->nodes);
  ctl_tenants_free(c);
  for (int i = 0; i < c->nwkeys; i++)
    free(c->wkeys[i].models_long);
  free(c->wkeys);
  free(c->window);
  free(c->fresh);
  free(c->doomed);
  free(c->stale);
  free(c->scratch);
  free(c->log_waiters);
  free(c->node_slots);
  sc_timeheap_release(&c->seen_due);
  sc_timeheap_release(&c->run_due);
  sc_timeheap_release(&c->begin_due);
  sc_timeheap_release(&c->hold_due);
  ctl_sched_release(c);
  ctl_timeline_release(c);
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
  out->stale = c->nstale + c->nstale_nodes;
  pthread_mutex_unlock(&c->mu);
}

/* ---- views ---- */

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

int sc_ctl_nodes(struct sc_ctl *c, struct sc_node_view **out, int *n)
{
  struct sc_node_view *v;
  int rc = 0;

  *out = NULL;
  *n = 0;
  pthread_mutex_lock(&c->mu);
  v = calloc((size_t)(c->nnodes > 0 ? c->nnodes : 1), sizeof *v);
  for (int i = 0; v && i < c->nnodes; i++) {
    v[i].rec = c->nodes[i].rec;
    v[i].rec.dev = NULL;
    v[i].rec.labels = strdup(c->nodes[i].rec.labels ? c->nodes[i].rec.labels : "{}");
    if (!v[i].rec.labels ||
        sc_node_rec_set_devices(&v[i].rec, c->nodes[i].rec.dev, c->nodes[i].rec.ndev) < 0) {
      sc_node_rec_release(&v[i].rec);
      sc_ctl_nodes_free(v, i);
      v = NULL;
      break;
    }
    node_usage(c, i, v[i].milli_used);
    *n = i + 1;
  }
  if (!v) {
    rc = SC_ENOMEM;
    *n = 0;
  }
  pthread_mutex_unlock(&c->mu);
  *out = v;
  return rc;
}

void sc_ctl_nodes_free(struct sc_node_view *nodes, int n)
{
  for (int i = 0; nodes && i < n; i++)
    sc_node_rec_release(&nodes[i].rec);
  free(nodes);
}

/* ---- log followers ---- */

int sc_ctl_log_park(struct sc_ctl *c, uint64_t *gen, const struct sc_ctl_waker *w)
{
  int rc = SC_EAGAIN;

  pthread_mutex_lock(&c->mu);
  if (c->log_gen != *gen || c->stop)
    rc = 0;
  else if (SC_VEC_RESERVE_ONE(c->log_waiters, c->nlog_waiters, c->caplog_waiters) < 0)
    rc = SC_ENOMEM;
  else
    c->log_waiters[c->nlog_waiters++] = *w;
  *gen = c->log_gen;
  pthread_mutex_unlock(&c->mu);
  return rc;
}

void sc_ctl_log_cancel(struct sc_ctl *c, void *arg)
{
  pthread_mutex_lock(&c->mu);
  for (int i = 0; i < c->nlog_waiters; i++)
    if (c->log_waiters[i].arg == arg) {
      c->log_waiters[i] = c->log_waiters[--c->nlog_waiters];
      break;
    }
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
  struct timespec ts = sc_clock_timespec(deadline_ms);

  pthread_mutex_lock(&c->mu);
  while (c->log_gen == *gen && !c->stop && sc_clock_mono_ms() < deadline_ms)
    if (pthread_cond_timedwait(&c->log_cond, &c->mu, &ts) == ETIMEDOUT)
      break;
  *gen = c->log_gen;
  pthread_mutex_unlock(&c->mu);
}

/* ---- what a job needs against what the fleet has ---- */

/* True when model (a device's) is one of spec's models ('|'-separated, any
 * case), or spec names none. */
static bool model_allowed(const char *models, const char *model)
{
  const char *p = models;

  if (!*p)
    return true;
  while (*p) {
    size_t len = strcspn(p, "|");
    if (strlen(model) == len && strncasecmp(model, p, len) == 0)
      return true;
    p += len + (p[len] == '|');
  }
  return false;
}

/* How many tasks of spec node n could hold at once if it were empty, each
 * task's devices of one model; *devices gets the most devices of one
 * allowed model on n and *model that model (NULL when none). */
static int64_t node_holds(const struct ctl_node *n, const struct sc_job_spec *s, int *devices,
                          const char **model)
{
  int64_t k = s->tasks, per = 0;

  *devices = 0;
  *model = NULL;
  for (int d = 0; d < n->rec.ndev; d++) {
    const char *m = n->rec.dev[d].model;
    int count = 0, e = 0;
    while (e < d && strcmp(n->rec.dev[e].model, m) != 0)
      e++;
    if (e < d || !model_allowed(s->models, m))
      continue; /* counted with its model's first device, or not allowed */
    for (e = d; e < n->rec.ndev; e++)
      count += strcmp(n->rec.dev[e].model, m) == 0;
    if (s->gpus > 0)
      per += s->gpu_milli > 0 && s->gpu_milli < 1000 ? count * (1000 / s->gpu_milli)
                                                     : count / s->gpus;
    if (count > *devices)
      *devices = count, *model = m;
  }
  if (s->cpu_milli > 0 && n->rec.cpu_milli / s->cpu_milli < k)
    k = n->rec.cpu_milli / s->cpu_milli;
  if (s->memory_mib > 0 && n->rec.memory_mib / s->memory_mib < k)
    k = n->rec.memory_mib / s->memory_mib;
  if (s->gpus > 0 && per < k)
    k = per;
  return k;
}

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The models the fleet offers, unique and sorted, ", "-joined, into buf. */
static void fleet_models(const struct sc_ctl *c, char *buf, size_t size)
{
  const char *models[64];
  size_t len = 0;
  int n = 0;

  for (int i = 0; i < c->nnodes; i++)
    for (int d = 0; d < c->nodes[i].rec.ndev && n < 64; d++) {
      bool seen = false;
      for (int k = 0; k < n && !seen; k++)
        seen = strcmp(models[k], c->nodes[i].rec.dev[d].model) == 0;
      if (!seen)
        models[n++] = c->nodes[i].rec.dev[d].model;
    }
  qsort(models, (size_t)n, sizeof models[0], cmp_str);
  buf[0] = '\0';
  for (int k = 0; k < n && len + strlen(models[k]) + 3 < size; k++)
    len += (size_t)snprintf(buf + len, size - len, "%s%s", k ? ", " : "", models[k]);
  if (n == 0)
    snprintf(buf, size, "none");
}

/* Whether the registered nodes could ever run spec (all of a gang at
 * once, each node empty); when not, why, into msg. Lock held. */
static bool could_run(const struct sc_ctl *c, const struct sc_job_spec *s, char *msg,
                      size_t size)
{
  int64_t holds = 0, cpu = 0, mem = 0;
  int best = 0, bcpu = -1, bmem = -1, bdev = -1, devs;
  const char *model, *bmodel = NULL;
  char what[SC_SPEC_MAX_MODELS * 64 + 8], have[512];

  char allowed[SC_SPEC_MAX_REGIONS * 64];
  int nallowed = 0;

  if (c->nnodes == 0)
    return true; /* nothing registered yet: the fleet is coming */
  if (!ctl_allowed_regions(c, s, allowed, sizeof allowed)) {
    snprintf(msg, size, "its regions (%s) are outside its tenant's allowlist", s->regions);
    return false;
  }
  for (int i = 0; i < c->nnodes; i++) {
    if (!ctl_region_allowed(allowed, c->nodes[i].region))
      continue; /* residency: never its node */
    nallowed++;
    holds += node_holds(&c->nodes[i], s, &devs, &model);
    if (devs > best || bdev < 0)
      best = devs, bdev = i, bmodel = model;
    if (c->nodes[i].rec.cpu_milli > cpu || bcpu < 0)
      cpu = c->nodes[i].rec.cpu_milli, bcpu = i;
    if (c->nodes[i].rec.memory_mib > mem || bmem < 0)
      mem = c->nodes[i].rec.memory_mib, bmem = i;
  }
  if (holds >= s->tasks)
    return true;
  if (nallowed == 0) {
    snprintf(msg, size, "no node in region%s %s", strchr(allowed, '|') ? "s" : "", allowed);
    for (char *p = msg; *p; p++)
      if (*p == '|')
        *p = ',';
    return false;
  }
  snprintf(what, sizeof what, "%s", s->models[0] ? s->models : "GPU");
  for (char *p = what; *p; p++)
    if (*p == '|')
      *p = '/';
  if (s->gpus > 0 && s->models[0] && best == 0) {
    fleet_models(c, have, sizeof have);
    snprintf(msg, size, "no node offers model %s; models: %s", what, have);
  } else if (s->gpus > 0 && best < s->gpus) {
    if (best > 0)
      snprintf(msg, size, "no node has %d x %s (largest: %d x %s on %s)", s->gpus, what, best,
               bmodel, c->nodes[bdev].rec.name);
    else
      snprintf(msg, size, "no node has %d x %s (no node has any)", s->gpus, what);
  } else if (s->cpu_milli > cpu) {
    snprintf(msg, size, "no node has %lld milli-CPU (largest: %lld on %s)",
             (long long)s->cpu_milli, (long long)cpu, c->nodes[bcpu].rec.name);
  } else if (s->memory_mib > mem) {
    char want[32], got[32];
    sc_format_memory(s->memory_mib, want, sizeof want);
    sc_format_memory(mem, got, sizeof got);
    snprintf(msg, size, "no node has %s of memory (largest: %s on %s)", want, got,
             c->nodes[bmem].rec.name);
  } else {
    snprintf(msg, size, "the fleet runs at most %lld of this gang's %d tasks at once",
             (long long)holds, s->tasks);
  }
  return false;
}

bool sc_ctl_could_run(struct sc_ctl *c, const struct sc_job_spec *spec, char *msg, size_t size)
{
  bool ok;

  pthread_mutex_lock(&c->mu);
  ok = could_run(c, spec, msg, size);
  pthread_mutex_unlock(&c->mu);
  return ok;
}

/* Whether a job ahead of j in scheduling order (higher priority, or as
 * high and older) waits for resources too: then j waits for Priority, as
 * Slurm says, and the first of them for Resources. */
static bool behind_waiting(struct sc_ctl *c, const struct ctl_job *j)
{
  char why[256];

  for (const struct ctl_job *q = ctl_queue_first(&c->queue); q && q != j;
       q = ctl_queue_next(&c->queue, q))
    if (q->tried && !q->held && q->deps_left == 0 && !q->dep_never &&
        q->spec.begin_ms <= ctl_wall_ms(c) && could_run(c, &q->spec, why, sizeof why))
      return true;
  return false;
}

/* Elements of array j->array_id running now. */
static int array_running(struct sc_ctl *c, const struct ctl_job *j)
{
  int n = 0;

  for (int64_t id = j->array_id; id < j->array_id + j->spec.array_count; id++) {
    const struct ctl_job *e = ctl_job_find(c, id);
    n += e && e->state == SC_JOB_RUNNING;
  }
  return n;
}

/* "ok:j-000007 (running)": the first dependency j still waits for. */
static void waits_for(const struct ctl_job *j, char *buf, size_t size)
{
  for (int i = 0; i < j->ndeps; i++) {
    const struct ctl_dep *d = &j->deps[i];
    char name[64];
    if (d->left == 0)
      continue;
    sc_spec_dep_format(&j->spec.deps[i], name, sizeof name);
    if (d->hi > d->lo)
      snprintf(buf, size, "%s: %d of %lld not ended", name, d->left,
               (long long)(d->hi - d->lo + 1));
    else
      snprintf(buf, size, "%s", name);
    return;
  }
  snprintf(buf, size, "?");
}

bool sc_ctl_pending_reason(struct sc_ctl *c, int64_t id, char *buf, size_t size)
{
  struct ctl_job *j;
  char why[256];
  bool found = false;

  pthread_mutex_lock(&c->mu);
  if ((j = ctl_job_find(c, id)) && j->state == SC_JOB_PENDING) {
    found = true;
    if (j->held)
      snprintf(buf, size, "Held (release it: supercell release)");
    else if (j->spec.begin_ms > ctl_wall_ms(c)) {
      char when[40];
      sc_time_format(j->spec.begin_ms, when, sizeof when);
      snprintf(buf, size, "BeginTime (%s)", when);
    } else if (j->dep_never) {
      snprintf(buf, size, "DependencyNeverSatisfied");
    } else if (j->quota_reason[0]) {
      snprintf(buf, size, "QuotaExceeded (%s)", j->quota_reason);
    } else if (j->deps_left > 0) {
      waits_for(j, why, sizeof why);
      snprintf(buf, size, "Dependency (%s)", why);
    } else if (j->spec.array_max_running > 0 &&
               array_running(c, j) >= j->spec.array_max_running) {
      snprintf(buf, size, "JobArrayTaskLimit (%%%d running)", j->spec.array_max_running);
    } else if (j->hold_until_ms > sc_clock_mono_ms())
      snprintf(buf, size, "Resources (its last attempt's node is lost: waiting for its fence)");
    else if (!could_run(c, &j->spec, why, sizeof why))
      snprintf(buf, size, "Unsatisfiable (%s)", why);
    else if (j->tried && j->id == c->resv_job)
      snprintf(buf, size, "Resources (%s)", c->resv_text);
    else if (j->tried)
      snprintf(buf, size, behind_waiting(c, j) ? "Priority" : "Resources");
    else
      snprintf(buf, size, "None");
  }
  pthread_mutex_unlock(&c->mu);
  return found;
}
