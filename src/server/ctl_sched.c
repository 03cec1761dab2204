/*
 * The scheduling thread. Woken on every change (submission, task end, node
 * change), it builds one sc_cluster from the ready nodes and the resources
 * live tasks hold, places pending gangs in priority then submission order
 * with sc_sched_place_gang (all or nothing), commits the assignments and
 * only then publishes them to the agents. Between passes it ticks: lost
 * nodes, runtimes past their limit, finished jobs leaving memory.
 */
#include "server/ctl_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/sched.h"
#include "util/error.h"
#include "util/log.h"

#define TICK_MS 200
#define TYPICAL_THRESHOLD 95.0
#define MAX_SHAPE_IDS 64

static double mono_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void shape_of(const struct sc_job_spec *s, struct sc_shape *sh)
{
  memset(sh, 0, sizeof *sh);
  sh->cpu = s->cpu_milli;
  sh->mem = s->memory_mib;
  sh->gpu_count = s->gpus;
  sh->gpu_milli = s->gpus > 0 ? s->gpu_milli : 0;
  sh->any_model = true;
  sh->id = -1;
}

/* True when the placement fits the node's free resources right now. */
static bool usage_fits(const struct sc_node *n, const struct sc_shape *sh,
                       const struct sc_placement *p)
{
  if (n->cpu_left < sh->cpu || n->mem_left < sh->mem)
    return false;
  for (int d = 0; d < p->ndev; d++)
    if (p->dev[d] < 0 || p->dev[d] >= n->gpu_count || n->gpu_left[p->dev[d]] < sh->gpu_milli)
      return false;
  return true;
}

/* Builds the cluster of ready nodes (map: node -> cluster index or -1). */
static int build_cluster(struct sc_ctl *c, struct sc_cluster *cl, int *map)
{
  sc_cluster_init(cl);
  for (int i = 0; i < c->nnodes; i++) {
    const struct ctl_node *n = &c->nodes[i];
    int gpus = n->ndev < SC_MAX_GPUS ? n->ndev : SC_MAX_GPUS;
    map[i] = -1;
    if (n->rec.state != SC_NODE_READY)
      continue;
    map[i] = sc_cluster_add_node(cl, n->rec.name, n->rec.cpu_milli, n->rec.memory_mib, gpus,
                                 gpus > 0 ? n->dev[0].model : NULL);
    if (map[i] < 0)
      map[i] = -1;
  }
  /* Resources held by live tasks (an overcommitted node counts as full). */
  for (int i = 0; i < c->njobs; i++) {
    const struct ctl_job *j = c->jobs[i];
    struct sc_shape sh;
    shape_of(&j->spec, &sh);
    for (int k = 0; k < j->ntasks; k++) {
      const struct ctl_task *t = &j->tasks[k];
      struct sc_placement p = {.node = t->alive_node >= 0 ? map[t->alive_node] : -1};
      struct sc_node *n;
      if (p.node < 0 || t->node != t->alive_node)
        continue;
      n = &cl->nodes[p.node];
      p.ndev = t->ndev;
      for (int d = 0; d < t->ndev; d++)
        p.dev[d] = (int8_t)t->pos[d];
      if (usage_fits(n, &sh, &p)) {
        sc_node_apply(n, &sh, &p);
      } else {
        n->cpu_left = n->mem_left = 0;
        memset(n->gpu_left, 0, sizeof n->gpu_left);
      }
    }
  }
  return 0;
}

/* FGD's target workload: the task shapes of the recent window. */
static int build_typical(struct sc_ctl *c, const struct sc_cluster *cl, struct sc_typical *typ)
{
  struct sc_typical_key *keys = calloc((size_t)(c->wcount > 0 ? c->wcount : 1), sizeof *keys);
  int nkeys = 0, rc;

  memset(typ, 0, sizeof *typ);
  if (!keys)
    return SC_ENOMEM;
  for (int i = 0; i < c->wcount; i++) {
    const struct ctl_shape_key *w = &c->window[i];
    int k;
    for (k = 0; k < nkeys; k++)
      if (keys[k].shape.cpu == w->cpu && keys[k].shape.mem == w->mem &&
          keys[k].shape.gpu_count == w->gpus && keys[k].shape.gpu_milli == w->gpu_milli &&
          strcmp(keys[k].spec, w->models) == 0)
        break;
    if (k == nkeys) {
      struct sc_job_spec tmp = {.cpu_milli = w->cpu, .memory_mib = w->mem, .gpus = w->gpus,
                                .gpu_milli = w->gpu_milli};
      shape_of(&tmp, &keys[k].shape);
      sc_shape_set_models(&keys[k].shape, cl, w->models);
      memcpy(keys[k].spec, w->models, sizeof keys[k].spec);
      nkeys++;
    }
    keys[k].count += 1;
  }
  rc = nkeys > 0 ? sc_typical_build(keys, nkeys, TYPICAL_THRESHOLD, typ) : SC_ENOENT;
  free(keys);
  return rc;
}

static int job_order(const void *pa, const void *pb)
{
  const struct ctl_job *a = *(struct ctl_job *const *)pa, *b = *(struct ctl_job *const *)pb;

  if (a->spec.priority != b->spec.priority)
    return a->spec.priority > b->spec.priority ? -1 : 1;
  return a->id < b->id ? -1 : a->id > b->id;
}

/* Pending jobs whose old processes are all gone, in queue order. */
static int collect_pending(struct sc_ctl *c, struct ctl_job ***out)
{
  struct ctl_job **list = malloc((size_t)(c->njobs > 0 ? c->njobs : 1) * sizeof *list);
  int n = 0;

  *out = list;
  if (!list)
    return 0;
  for (int i = 0; i < c->njobs; i++) {
    struct ctl_job *j = c->jobs[i];
    bool draining = false;
    if (j->state != SC_JOB_PENDING)
      continue;
    for (int k = 0; k < j->ntasks && !draining; k++)
      draining = j->tasks[k].alive_node >= 0;
    if (!draining)
      list[n++] = j;
  }
  qsort(list, (size_t)n, sizeof *list, job_order);
  return n;
}

/* Records a placed gang in memory and in b. */
static void assign_gang(struct sc_ctl *c, struct ctl_job *j, const struct sc_placement *p,
                        const int *inverse, struct sc_store_batch *b)
{
  for (int i = 0; i < j->ntasks; i++) {
    struct ctl_task *t = &j->tasks[i];
    const struct ctl_node *n = &c->nodes[inverse[p[i].node]];
    t->state = SC_TASK_ASSIGNED;
    t->node = t->alive_node = inverse[p[i].node];
    t->ndev = p[i].ndev;
    for (int d = 0; d < p[i].ndev; d++) {
      t->pos[d] = p[i].dev[d];
      t->dev[d] = n->dev[p[i].dev[d]].index;
    }
    t->published = false;
    t->delivered_ms = 0;
    t->missing = 0;
    t->exit_node = -1;
    t->attempt = j->attempt;
  }
  j->state = SC_JOB_RUNNING;
  j->reason[0] = '\0';
  ctl_batch_job(c, b, j);
}

/* Shape-cache ids: jobs with equal shapes share one id. */
static int shape_id(struct sc_shape *ids, int *nids, const struct sc_shape *sh)
{
  for (int i = 0; i < *nids; i++)
    if (ids[i].cpu == sh->cpu && ids[i].mem == sh->mem && ids[i].gpu_count == sh->gpu_count &&
        ids[i].gpu_milli == sh->gpu_milli && ids[i].any_model == sh->any_model &&
        ids[i].models == sh->models)
      return i;
  if (*nids >= MAX_SHAPE_IDS)
    return -1;
  ids[*nids] = *sh;
  return (*nids)++;
}

struct pass {
  struct sc_cluster cl;
  struct sc_typical typ;
  struct sc_sched *sched;
  int *map, *inverse;
  struct ctl_job **pending;
  int npending;
  struct ctl_job **placed;
  int nplaced;
};

static void pass_release(struct pass *ps)
{
  sc_sched_free(ps->sched);
  sc_typical_release(&ps->typ);
  sc_cluster_release(&ps->cl);
  free(ps->map);
  free(ps->inverse);
  free(ps->pending);
  free(ps->placed);
}

static int pass_prepare(struct sc_ctl *c, struct pass *ps)
{
  struct sc_sched_opts opts = {.policy = c->opts.policy, .nshapes = MAX_SHAPE_IDS};

  memset(ps, 0, sizeof *ps);
  ps->npending = collect_pending(c, &ps->pending);
  if (ps->npending == 0)
    return SC_ENOENT;
  ps->map = malloc((size_t)c->nnodes * sizeof *ps->map + 1);
  ps->inverse = malloc((size_t)c->nnodes * sizeof *ps->inverse + 1);
  ps->placed = malloc((size_t)ps->npending * sizeof *ps->placed);
  if (!ps->map || !ps->inverse || !ps->placed)
    return SC_ENOMEM;
  build_cluster(c, &ps->cl, ps->map);
  if (ps->cl.nnodes == 0)
    return SC_ENOENT;
  for (int i = 0; i < c->nnodes; i++)
    if (ps->map[i] >= 0)
      ps->inverse[ps->map[i]] = i;
  if (strcmp(c->opts.policy->name, "fgd") == 0 && build_typical(c, &ps->cl, &ps->typ) == 0)
    opts.ctx.typical = &ps->typ;
  return sc_sched_new(&ps->cl, &opts, &ps->sched);
}

/* One scheduling pass; called and returns with mu held (drops it to commit). */
static void sched_pass(struct sc_ctl *c, struct sc_rng *rng)
{
  struct sc_store_batch *b = sc_store_batch_new();
  struct sc_shape ids[MAX_SHAPE_IDS], *shapes = NULL;
  struct sc_placement *p = NULL;
  struct pass ps;
  int nids = 0;
  double t0 = mono_ms();
  bool submitted;

  int prc = b ? pass_prepare(c, &ps) : -1;
  if (!b || prc < 0) {
    if (b)
      pass_release(&ps);
    sc_store_batch_free(b);
    return;
  }
  for (int i = 0; i < ps.npending; i++) {
    struct ctl_job *j = ps.pending[i];
    struct sc_shape sh;
    shape_of(&j->spec, &sh);
    sh.any_model = j->spec.models[0] == '\0';
    if (!sh.any_model)
      sc_shape_set_models(&sh, &ps.cl, j->spec.models);
    sh.id = shape_id(ids, &nids, &sh);
    shapes = realloc(shapes, (size_t)j->ntasks * sizeof *shapes);
    p = realloc(p, (size_t)j->ntasks * sizeof *p);
    if (!shapes || !p)
      break;
    for (int k = 0; k < j->ntasks; k++)
      shapes[k] = sh;
    if (sc_sched_place_gang(ps.sched, shapes, j->ntasks, rng, p) == 0) {
      assign_gang(c, j, p, ps.inverse, b);
      ps.placed[ps.nplaced++] = j;
    }
  }
  free(shapes);
  free(p);
  c->stats.passes++;
  c->stats.last_pass_ms = mono_ms() - t0;
  if (c->stats.last_pass_ms > c->stats.max_pass_ms)
    c->stats.max_pass_ms = c->stats.last_pass_ms;
  c->stats.last_pending = ps.npending;
  c->stats.placed += (uint64_t)ps.nplaced;
  submitted = ctl_submit_locked(c, b);
  pthread_mutex_unlock(&c->mu);
  ctl_finish(c, b, submitted);
  pthread_mutex_lock(&c->mu);
  for (int i = 0; i < ps.nplaced; i++) {
    struct ctl_job *j = ps.placed[i];
    for (int k = 0; k < j->ntasks; k++) {
      struct ctl_task *t = &j->tasks[k];
      if (t->state == SC_TASK_ASSIGNED && !t->published && t->node >= 0) {
        t->published = true;
        ctl_refq_push(&c->nodes[t->node].start_q, j->id, k);
      }
    }
  }
  if (ps.nplaced > 0)
    pthread_cond_broadcast(&c->changed);
  pass_release(&ps);
}

/* Marks node i lost and settles the jobs whose tasks lived there. */
static void node_lost(struct sc_ctl *c, int i, struct sc_store_batch *b)
{
  struct ctl_node *n = &c->nodes[i];
  struct sc_store_op op = {.kind = SC_STORE_NODE_STATE};

  sc_warn("node %s lost: no heartbeat for %lld ms", n->rec.name,
          (long long)(sc_now_ms() - n->last_seen_ms));
  n->rec.state = SC_NODE_LOST;
  n->start_q.n = n->kill_q.n = 0;
  op.u.node = n->rec;
  op.u.node.labels = op.u.node.devices = NULL;
  sc_store_batch_add(b, &op);
  for (int k = 0; k < c->njobs; k++) {
    struct ctl_job *j = c->jobs[k];
    bool hit = false;
    for (int t = 0; t < j->ntasks; t++) {
      struct ctl_task *task = &j->tasks[t];
      if (task->alive_node == i)
        task->alive_node = -1;
      if (task->node == i &&
          (task->state == SC_TASK_ASSIGNED || task->state == SC_TASK_RUNNING)) {
        task->state = SC_TASK_LOST;
        task->finished_ms = sc_now_ms();
        hit = true;
      }
    }
    if (hit)
      ctl_job_end(c, j, SC_JOB_FAILED, "node lost", true, b);
  }
  ctl_notify_locked(c);
}

/* Heartbeat timeouts and max runtimes. */
static void tick(struct sc_ctl *c)
{
  struct sc_store_batch *b = sc_store_batch_new();
  int64_t now = sc_now_ms();
  bool submitted;

  if (!b)
    return;
  for (int i = 0; i < c->nnodes; i++)
    if (c->nodes[i].rec.state == SC_NODE_READY &&
        now - c->nodes[i].last_seen_ms > c->opts.heartbeat_timeout_ms)
      node_lost(c, i, b);
  for (int i = 0; i < c->njobs; i++) {
    struct ctl_job *j = c->jobs[i];
    if (j->state == SC_JOB_RUNNING && j->spec.max_runtime_s > 0 && j->started_ms > 0 &&
        now - j->started_ms > j->spec.max_runtime_s * 1000)
      ctl_job_end(c, j, SC_JOB_FAILED, "exceeded max runtime", false, b);
  }
  ctl_jobs_compact(c);
  submitted = ctl_submit_locked(c, b);
  pthread_mutex_unlock(&c->mu);
  ctl_finish(c, b, submitted);
  pthread_mutex_lock(&c->mu);
}

void *ctl_sched_main(void *arg)
{
  struct sc_ctl *c = arg;
  struct sc_rng rng;
  double last_tick = 0;

  sc_rng_seed(&rng, 42);
  pthread_mutex_lock(&c->mu);
  while (!c->stop) {
    if (c->dirty) {
      c->dirty = false;
      sched_pass(c, &rng);
    }
    if (mono_ms() - last_tick >= TICK_MS) {
      tick(c);
      last_tick = mono_ms();
    }
    if (!c->dirty && !c->stop) {
      int64_t deadline = sc_now_ms() + TICK_MS;
      struct timespec ts = {.tv_sec = deadline / 1000,
                            .tv_nsec = (long)(deadline % 1000) * 1000000L};
      pthread_cond_timedwait(&c->sched_cond, &c->mu, &ts);
    }
  }
  pthread_mutex_unlock(&c->mu);
  return NULL;
}
