/*
 * The scheduling thread. Woken on changes, it builds one sc_cluster from the
 * ready nodes and the resources live tasks hold (each node's alive list),
 * places pending gangs in priority then submission order (the maintained
 * queue) with sc_sched_place_gang (all or nothing), commits the assignments
 * and only then publishes them to the agents. When only submissions came in
 * since the last pass it tries just those; a gang that did not fit skips the
 * same shape for the rest of the pass; passes are at least PASS_GAP_MS
 * apart. The first job of a pass that cannot start (and takes nothing
 * back by preemption) gets a reservation (core/backfill.h, EASY): every
 * job after it starts only where it cannot delay it. Between passes it
 * ticks (ctl_tick.c: lost nodes, runtimes past their limit, finished jobs
 * leaving memory) and every few seconds takes a sample of the fleet for
 * its timeline (ctl_timeline.c).
 */
#include "server/ctl_int.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/backfill.h"
#include "core/sched.h"
#include "server/ids.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"
#include "util/vec.h"

#define STALE_GAP_MS 20  /* rewrites of rows that failed to commit, at most this often */
#define PASS_GAP_MS 1.0  /* passes at most this often while changes stream in */
#define TYPICAL_THRESHOLD 95.0
#define MAX_SHAPE_IDS 64
#define MEMO_SLOTS 256   /* shapes that failed in this pass (power of two) */
#define MEMO_PROBES 8
#define MAX_SEARCHES 8   /* victim searches per pass (each copies the cluster) */
#define MAX_PLANS 4      /* backfill heads tried per pass (each copies it too) */

/* Sanitizer builds verify the queue and alive lists after every pass
 * (O(all tasks); release builds keep their asserts, so not there). */
#if defined(__SANITIZE_ADDRESS__)
#define CTL_CHECK_PASSES 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CTL_CHECK_PASSES 1
#endif
#endif
#ifndef CTL_CHECK_PASSES
#define CTL_CHECK_PASSES 0
#endif

/* A gang shape that did not fit in this pass: gangs of it at least this big
 * do not fit either (free resources only shrink within a pass). */
struct memo_slot {
  struct sc_shape sh;
  bool past;             /* it failed running past the backfill shadow */
  int ntasks;
  uint32_t gen;          /* valid when equal to the buffer's memo_gen */
};

/* An array with a %N limit: its elements running (or placed) now. */
struct array_run {
  int64_t id;
  int running;
};

/* Buffers of the scheduling thread, kept between passes. */
struct ctl_pass_buf {
  struct array_run *arun; /* by id, the arrays of throttled elements */
  int narun, caparun;
  int *map, *inverse;    /* node -> cluster index and back */
  int capmap, capinverse;
  struct ctl_job **jobs; /* the fresh jobs to try */
  struct ctl_job **placed;
  int capjobs, capplaced;
  struct sc_shape *shapes;
  struct sc_placement *p;
  int captasks, capp;
  uint32_t *rank;              /* per node: its place in name order */
  const struct ctl_node **byname;
  int nranked, caprank, capbyname; /* rank holds nranked nodes */
  struct sc_typical_key *keys; /* FGD's target: a key per shape (at most
                                  opts.window, or opts.ntarget) */
  struct memo_slot memo[MEMO_SLOTS];
  uint32_t memo_gen;
  char models[SC_MAX_MODELS][SC_NAME_MAX]; /* the last cluster's model ids */
  int nmodels;
  struct sc_backfill *bf; /* the pass's reservation, once a job is blocked */
};

/* Grows *buf to hold n elements of size bytes; false when out of memory. */
static bool grow(void *buf, int *cap, int n, size_t size)
{
  return sc_vec_reserve(buf, cap, n, size) == 0;
}

/* Room in pb for every node and for njobs jobs. */
static bool pass_buf_fit(struct sc_ctl *c, struct ctl_pass_buf *pb, int njobs)
{
  int nkeys = c->opts.ntarget > c->opts.window ? c->opts.ntarget : c->opts.window;

  if (!pb->keys && !(pb->keys = malloc((size_t)nkeys * sizeof *pb->keys)))
    return false;
  return grow(&pb->map, &pb->capmap, c->nnodes, sizeof *pb->map) &&
         grow(&pb->inverse, &pb->capinverse, c->nnodes, sizeof *pb->inverse) &&
         grow(&pb->jobs, &pb->capjobs, njobs, sizeof *pb->jobs) &&
         grow(&pb->placed, &pb->capplaced, njobs, sizeof *pb->placed);
}

void ctl_sched_release(struct sc_ctl *c)
{
  struct ctl_pass_buf *pb = c->pass;

  if (!pb)
    return;
  free(pb->map);
  free(pb->inverse);
  free(pb->jobs);
  free(pb->placed);
  free(pb->shapes);
  free(pb->p);
  free(pb->keys);
  free(pb->rank);
  free(pb->byname);
  free(pb->arun);
  sc_backfill_free(pb->bf);
  free(pb);
  c->pass = NULL;
}

/* The shape of each task of j, without model constraints. */
static void job_shape(const struct ctl_job *j, struct sc_shape *sh)
{
  memset(sh, 0, sizeof *sh);
  sh->cpu = j->cpu_milli;
  sh->mem = j->memory_mib;
  sh->gpu_count = j->gpus;
  sh->gpu_milli = j->gpus > 0 ? j->gpu_milli : 0;
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

/* Applies the tasks holding resources on node i to its cluster node n (an
 * overcommitted node counts as full). */
static void apply_alive(const struct sc_ctl *c, int i, struct sc_node *n, int index)
{
  for (const struct ctl_task *t = c->nodes[i].alive; t; t = t->alive_next) {
    struct sc_placement p = {.node = index, .ndev = t->ndev};
    struct sc_shape sh;
    const int *pos = t->pos;
    if (t->node != i && t->held_node == i) { /* preempted, in its grace */
      p.ndev = t->held_ndev;
      pos = t->held_pos;
    } else if (t->node != i) {
      continue; /* an old or orphan process: it holds nothing */
    }
    job_shape(t->job, &sh);
    for (int d = 0; d < p.ndev; d++)
      p.dev[d] = (int8_t)pos[d];
    if (usage_fits(n, &sh, &p)) {
      sc_node_apply(n, &sh, &p);
    } else {
      n->cpu_left = n->mem_left = 0;
      memset(n->gpu_left, 0, sizeof n->gpu_left);
    }
  }
}

/* Builds the cluster of ready nodes (map: node -> cluster index or -1)
 * with what their live tasks hold. Each device keeps its position and
 * model, so a node of several models is one node of device groups in the
 * core (docs/design.md). */
static void build_nodes(struct sc_ctl *c, struct sc_cluster *cl, int *map)
{
  sc_cluster_init(cl);
  for (int i = 0; i < c->nnodes; i++) {
    const struct ctl_node *n = &c->nodes[i];
    int gpus = n->rec.ndev < SC_MAX_GPUS ? n->rec.ndev : SC_MAX_GPUS;
    const char *models[SC_MAX_GPUS];
    map[i] = -1;
    if (n->rec.state != SC_NODE_READY || n->rec.drained)
      continue;
    for (int d = 0; d < gpus; d++)
      models[d] = n->rec.dev[d].model;
    map[i] = sc_cluster_add_node_models(cl, n->rec.name, n->rec.cpu_milli, n->rec.memory_mib,
                                        gpus, models);
    if (map[i] < 0) {
      map[i] = -1;
      continue;
    }
    if (n->region[0]) { /* residency: 1 + region id, 0 none */
      int r = sc_cluster_region_id(cl, n->region);
      cl->nodes[map[i]].region = (uint8_t)(r >= 0 ? r + 1 : 0);
    }
    apply_alive(c, i, &cl->nodes[map[i]], map[i]);
  }
}

/* The cluster a pass places on: build_nodes, less the nodes kept for
 * preemptors. */
static void build_cluster(struct sc_ctl *c, struct sc_cluster *cl, int *map)
{
  build_nodes(c, cl, map);
  /* Nodes a preemptor will take once its victims have stopped are kept
   * from every job meanwhile (it places there when they are gone). */
  for (int k = 0; k < c->njobs; k++) {
    const struct ctl_job *j = c->jobs[k];
    if (j->nnominated == 0 || !ctl_quota_nominated(c, j))
      continue;
    for (int n = 0; n < j->nnominated; n++) {
      int x = j->nominated[n] >= 0 && j->nominated[n] < c->nnodes ? map[j->nominated[n]] : -1;
      if (x >= 0) {
        cl->nodes[x].cpu_left = cl->nodes[x].mem_left = 0;
        memset(cl->nodes[x].gpu_left, 0, sizeof cl->nodes[x].gpu_left);
      }
    }
  }
}

/* Bumps models_epoch when the cluster numbers its models differently from
 * the last pass's (the jobs' cached model masks are then stale). */
static void models_check(struct sc_ctl *c, struct ctl_pass_buf *pb, const struct sc_cluster *cl)
{
  size_t size = (size_t)cl->nmodels * sizeof cl->models[0];

  if (cl->nmodels == pb->nmodels && memcmp(cl->models, pb->models, size) == 0)
    return;
  memcpy(pb->models, cl->models, size);
  pb->nmodels = cl->nmodels;
  c->models_epoch++;
}

/* FGD's target workload: the distinct task shapes of the recent window
 * with their counts (kept as tasks arrive, ctl.c), or the fixed target of
 * --fgd-target; model masks for this pass's cluster. O(shapes). A key's
 * spec text is only a tie-break for ordering: a cut copy is enough. */
static int build_typical(struct sc_ctl *c, struct sc_typical_key *keys,
                         const struct sc_cluster *cl, struct sc_typical *typ)
{
  int nkeys = 0;

  memset(typ, 0, sizeof *typ);
  if (c->opts.ntarget > 0) {
    memcpy(keys, c->opts.target, (size_t)c->opts.ntarget * sizeof *keys);
    nkeys = c->opts.ntarget;
    for (int k = 0; k < nkeys; k++)
      sc_shape_set_models(&keys[k].shape, cl, keys[k].spec);
  }
  for (int i = 0; i < c->nwkeys && c->opts.ntarget == 0; i++) {
    const struct ctl_shape_key *w = &c->wkeys[i];
    struct sc_typical_key *k = &keys[nkeys++];
    memset(k, 0, sizeof *k);
    k->shape.cpu = w->cpu;
    k->shape.mem = w->mem;
    k->shape.gpu_count = w->gpus;
    k->shape.gpu_milli = w->gpus > 0 ? w->gpu_milli : 0;
    k->shape.any_model = true;
    k->shape.id = -1;
    sc_shape_set_models(&k->shape, cl, ctl_key_models(w));
    snprintf(k->spec, sizeof k->spec, "%.*s", (int)sizeof k->spec - 1, ctl_key_models(w));
    k->count = w->count;
  }
  return nkeys > 0 ? sc_typical_build(keys, nkeys, TYPICAL_THRESHOLD, typ) : SC_ENOENT;
}

static int job_order(const void *pa, const void *pb)
{
  const struct ctl_job *a = *(struct ctl_job *const *)pa, *b = *(struct ctl_job *const *)pb;

  if (a->priority != b->priority)
    return a->priority > b->priority ? -1 : 1;
  return a->id < b->id ? -1 : a->id > b->id;
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

static bool shape_equal(const struct sc_shape *a, const struct sc_shape *b)
{
  return a->cpu == b->cpu && a->mem == b->mem && a->gpu_count == b->gpu_count &&
         a->gpu_milli == b->gpu_milli && a->any_model == b->any_model &&
         (a->any_model || a->models == b->models) && a->regions == b->regions;
}

/* The memo slot of sh (placed now, or past the backfill shadow): its
 * entry when one is there, else a free one or NULL. */
static struct memo_slot *memo_find(struct ctl_pass_buf *pb, const struct sc_shape *sh, bool past)
{
  uint64_t h = (uint64_t)sh->cpu * 0x9e3779b97f4a7c15ULL ^
               (uint64_t)sh->mem * 0xc2b2ae3d27d4eb4fULL ^
               (uint64_t)(sh->gpu_count * 1001 + sh->gpu_milli) * 0x165667b19e3779f9ULL ^
               (sh->any_model ? 0 : sh->models) ^ (uint64_t)past;

  h ^= h >> 29;
  for (int k = 0; k < MEMO_PROBES; k++) {
    struct memo_slot *m = &pb->memo[(h + (uint64_t)k) & (MEMO_SLOTS - 1)];
    if (m->gen != pb->memo_gen || (m->past == past && shape_equal(&m->sh, sh)))
      return m;
  }
  return NULL;
}

/* Whether a gang of ntasks of sh is known not to fit in this pass: one as
 * big or smaller did not, placed now, or (when this one would run past
 * the shadow, with less room) past the shadow too. */
static bool memo_failed(struct ctl_pass_buf *pb, const struct sc_shape *sh, int ntasks, bool past)
{
  for (int k = 0; k <= (int)past; k++) {
    const struct memo_slot *m = memo_find(pb, sh, k == 1);
    if (m && m->gen == pb->memo_gen && m->ntasks <= ntasks)
      return true;
  }
  return false;
}

static void memo_note(struct ctl_pass_buf *pb, const struct sc_shape *sh, int ntasks, bool past)
{
  struct memo_slot *m = memo_find(pb, sh, past);

  if (!m)
    return;
  if (m->gen != pb->memo_gen || ntasks < m->ntasks)
    m->ntasks = ntasks;
  m->sh = *sh;
  m->past = past;
  m->gen = pb->memo_gen;
}

/* One pass's state. */
struct pass {
  struct ctl_pass_buf *pb;
  struct sc_cluster cl;
  struct sc_typical typ;
  struct sc_sched *sched;
  struct sc_rng *rng;
  struct sc_store_batch *b;
  struct sc_shape ids[MAX_SHAPE_IDS];
  int nids, tried, nplaced;
  struct ctl_quota *quota;  /* tenants' holdings as the pass admits jobs */
  int searches;             /* victim searches in this pass */
  int plans;                /* backfill plans in this pass */
  const struct sc_typical *typical; /* FGD's target workload, or NULL */
  bool planned;             /* a head holds a reservation: jobs go through pb->bf */
  int64_t last_head;        /* the last pass's head, tried again in a fresh pass */
};

/* The shape of each task of j in this pass's cluster (model mask cached in
 * the job while the cluster's model ids stay the same). */
/* The shape of each task of j in this pass's cluster; false when its
 * residency rule allows no node of it (then it cannot be placed). */
static bool pass_shape(struct sc_ctl *c, struct pass *ps, struct ctl_job *j, struct sc_shape *sh)
{
  char allowed[SC_SPEC_MAX_REGIONS * 64];

  job_shape(j, sh);
  if (!ctl_allowed_regions(c, &j->spec, allowed, sizeof allowed))
    return false;
  if (allowed[0] && !(sh->regions = sc_cluster_regions_mask(&ps->cl, allowed)))
    return false; /* a rule, but no node of its regions is up */
  if (!j->any_model) {
    if (j->models_epoch != c->models_epoch) {
      sc_shape_set_models(sh, &ps->cl, j->spec.models);
      j->models_mask = sh->models;
      j->models_epoch = c->models_epoch;
    }
    sh->any_model = false;
    sh->models = j->models_mask;
  }
  return true;
}

/* Counts the running elements of each throttled array (jobs[] is by id
 * and an array's elements have consecutive ids): false when out of memory. */
static bool count_arrays(struct sc_ctl *c, struct ctl_pass_buf *pb)
{
  pb->narun = 0;
  for (int i = 0; c->nthrottled > 0 && i < c->njobs; i++) {
    const struct ctl_job *j = c->jobs[i];
    if (j->array_id == 0 || j->spec.array_max_running == 0)
      continue;
    if (pb->narun == 0 || pb->arun[pb->narun - 1].id != j->array_id) {
      if (SC_VEC_RESERVE_ONE(pb->arun, pb->narun, pb->caparun) < 0)
        return false;
      pb->arun[pb->narun++] = (struct array_run){.id = j->array_id};
    }
    pb->arun[pb->narun - 1].running += j->state == SC_JOB_RUNNING;
  }
  return true;
}

static struct array_run *array_find(struct ctl_pass_buf *pb, int64_t id)
{
  int lo = 0, hi = pb->narun - 1;

  while (lo <= hi) {
    int mid = (lo + hi) / 2;
    if (pb->arun[mid].id == id)
      return &pb->arun[mid];
    if (pb->arun[mid].id < id)
      lo = mid + 1;
    else
      hi = mid - 1;
  }
  return NULL;
}

/* Pending job j fits nowhere: asks the core for victims (reclaim, or
 * priority within its tenant) and takes them back with notice. True when
 * some were; j starts in a later pass, once their processes are gone. */
static bool try_preempt(struct sc_ctl *c, struct pass *ps, struct ctl_job *j)
{
  struct ctl_job **victims = malloc((size_t)(c->njobs + 1) * sizeof *victims);
  const char *kind = "reclaim";
  int n = 0, rc;

  ps->searches++;
  if (!victims)
    return false;
  /* The search proves the gang places once the victims are gone; FGD needs
   * its workload window, which the scratch engine lacks: best fit proves
   * the same. */
  rc = ctl_quota_victims(c, ps->quota, j, &ps->cl,
                         strcmp(c->opts.policy->name, "fgd") == 0 ? sc_policy_find("bestfit")
                                                                  : c->opts.policy,
                         ps->pb->map, ps->pb->inverse,
                         ps->pb->shapes, victims, &n, &kind);
  for (int i = 0; rc == 0 && i < n; i++) {
    struct ctl_event_args args = {.attempt = -1, .by = j->id, .kind = kind};
    sc_info("job j-%06lld: preempting j-%06lld (%s)", (long long)j->id, (long long)victims[i]->id,
            kind);
    ctl_job_event(c, victims[i], CTL_EV_PREEMPT, &args, ps->b);
  }
  free(victims);
  return rc == 0 && n > 0;
}

/* The reservation of the pass's head j, for its pending reason. */
static void note_reservation(struct sc_ctl *c, struct pass *ps, const struct ctl_job *j)
{
  int n, len;
  const struct sc_placement *r = sc_backfill_reservation(ps->pb->bf, &n);
  int64_t shadow = sc_backfill_shadow(ps->pb->bf);
  char *out = c->resv_text;
  size_t size = sizeof c->resv_text;

  c->resv_job = j->id;
  if (shadow == SC_TIME_NEVER) {
    len = snprintf(out, size, "reserved: when jobs without a max runtime end, on ");
  } else {
    char when[40];
    sc_time_format(ctl_wall_ms(c) + (shadow - sc_clock_mono_ms()), when, sizeof when);
    len = snprintf(out, size, "reserved: by %s, on ", when);
  }
  for (int i = 0; i < n && len > 0 && (size_t)len < size; i++) {
    const char *name = c->nodes[ps->pb->inverse[r[i].node]].rec.name;
    bool seen = false;
    for (int k = 0; k < i; k++)
      seen = seen || r[k].node == r[i].node;
    if (!seen)
      len += snprintf(out + len, size - (size_t)len, "%s%s", i ? "," : "", name);
  }
}

/* Job j (its tasks' shapes in pb->shapes) is the first of the pass that
 * cannot start: the core plans its reservation from the running jobs'
 * max runtimes (EASY backfill), and every later job of the pass goes
 * through the plan. A head that cannot fit even on an emptied fleet gets
 * none (the next blocked job may). False only when out of memory. */
static bool plan_head(struct sc_ctl *c, struct pass *ps, struct ctl_job *j)
{
  struct ctl_pass_buf *pb = ps->pb;
  struct ctl_running run;
  struct sc_backfill_in in;
  int rc, n;

  ps->plans++;
  if (!pb->bf && sc_backfill_new(&pb->bf) < 0)
    return false;
  if (ctl_running_build(c, NULL, &ps->cl, pb->map, &run) < 0)
    return false;
  memset(&in, 0, sizeof in);
  in.cluster = &ps->cl;
  in.policy = c->opts.policy;
  in.rng = ps->rng;
  in.jobs = run.jobs;
  in.njobs = run.n;
  in.tasks = run.tasks;
  in.head = pb->shapes;
  in.nhead = j->ntasks;
  in.now = sc_clock_mono_ms();
  in.typical = ps->typical;
  rc = sc_backfill_plan(pb->bf, &in);
  ctl_running_free(&run);
  if (rc == SC_ENOMEM)
    return false;
  if (rc < 0) {
    sc_warn("job j-%06lld: no backfill reservation: %s", (long long)j->id, sc_strerror(rc));
    return true;
  }
  sc_backfill_reservation(pb->bf, &n);
  if (n > 0) {
    ps->planned = true;
    note_reservation(c, ps, j);
  }
  return true;
}

/* Places j's gang (pb->shapes) into pb->p: by the engine, or once a head
 * holds a reservation, only where it cannot delay the head (and then in
 * the pass's engine too, which preemption searches read). */
static int place(struct pass *ps, const struct ctl_job *j)
{
  struct ctl_pass_buf *pb = ps->pb;
  int rc;

  if (!ps->planned)
    return sc_sched_place_gang(ps->sched, pb->shapes, j->ntasks, ps->rng, pb->p);
  rc = sc_backfill_try(pb->bf, pb->shapes, j->ntasks, j->spec.max_runtime_s * 1000, pb->p);
  for (int k = 0; rc == 0 && k < j->ntasks; k++)
    rc = sc_sched_commit(ps->sched, &pb->shapes[k], &pb->p[k]);
  return rc;
}

/* Tries to place pending job j; false when the pass must stop (no memory). */
static bool try_job(struct sc_ctl *c, struct pass *ps, struct ctl_job *j)
{
  struct ctl_pass_buf *pb = ps->pb;
  struct array_run *ar = NULL;
  struct sc_shape sh;
  bool past, known, may_preempt;
  int rc;

  if (j->held || (j->spec.begin_ms > 0 && j->spec.begin_ms > ctl_wall_ms(c)))
    return true; /* held, or its begin time is to come (the tick wakes it) */
  if (j->deps_left > 0 || j->dep_never)
    return true; /* it waits for other jobs (their ends wake it) */
  if (ctl_quota_victim_waits(c, j))
    return true; /* preempted: what it freed is its preemptor's */
  if (j->spec.array_max_running > 0 && (ar = array_find(pb, j->array_id)) &&
      ar->running >= j->spec.array_max_running)
    return true; /* its array runs its %N (an element's end wakes it) */
  j->tried = true; /* if it is placed now, it is no longer pending */
  if (j->nalive > 0)
    return true; /* a requeued gang whose old processes still run */
  if (j->hold_until_ms > 0) {
    if (sc_clock_mono_ms() < j->hold_until_ms)
      return true; /* ... or may run, cut off, until fenced */
    j->hold_until_ms = 0;
  }
  if (!pass_shape(c, ps, j, &sh))
    return true; /* residency: no node it may use is up */
  if (!ctl_quota_admit(c, ps->quota, j, &ps->cl, &sh))
    return true; /* over a limit of its tenant or an ancestor */
  past = ps->planned && sc_backfill_runs_past(pb->bf, j->spec.max_runtime_s * 1000);
  /* The same shape, as big or smaller, did not fit: j does not either,
   * though it may still take capacity back by preemption. */
  known = memo_failed(pb, &sh, j->ntasks, past);
  may_preempt = ps->quota && ps->searches < MAX_SEARCHES && ctl_quota_may_preempt(c, ps->quota, j);
  if (known && !may_preempt)
    return true;
  sh.id = shape_id(ps->ids, &ps->nids, &sh);
  if (!grow(&pb->shapes, &pb->captasks, j->ntasks, sizeof *pb->shapes) ||
      !grow(&pb->p, &pb->capp, j->ntasks, sizeof *pb->p))
    return false;
  for (int k = 0; k < j->ntasks; k++)
    pb->shapes[k] = sh;
  ps->tried++;
  rc = known ? SC_ENOFIT : place(ps, j);
  if (rc == 0) {
    struct ctl_event_args args = {.placements = pb->p, .inverse = pb->inverse};
    ctl_job_event(c, j, CTL_EV_ASSIGNED, &args, ps->b);
    pb->placed[ps->nplaced++] = j;
    if (ar)
      ar->running++;
  } else if (rc != SC_ENOFIT) {
    return false; /* out of memory: the engine cannot go on */
  } else if (may_preempt && try_preempt(c, ps, j)) {
    return true; /* victims get their notice; it starts once they are gone */
  } else if (!known) {
    if (!ps->planned && ps->plans < MAX_PLANS && !plan_head(c, ps, j))
      return false;
    memo_note(pb, &sh, j->ntasks, past);
  }
  return true;
}

static bool any_ready(const struct sc_ctl *c)
{
  for (int i = 0; i < c->nnodes; i++)
    if (c->nodes[i].rec.state == SC_NODE_READY)
      return true;
  return false;
}

static int name_order(const void *pa, const void *pb)
{
  const struct ctl_node *a = *(const struct ctl_node *const *)pa;
  const struct ctl_node *b = *(const struct ctl_node *const *)pb;

  return strcmp(a->rec.name, b->rec.name);
}

/* Ties between equally good nodes go to the name that sorts first: the
 * same order after every restart, and one an operator can choose (the
 * replay of bench/replay-openb.sh names nodes in the simulator's rank
 * order). Ranks are sorted again only when nodes join: O(n log n) then,
 * O(n) per pass. */
static int rank_by_name(struct sc_ctl *c, struct ctl_pass_buf *pb, struct sc_cluster *cl)
{
  if (pb->nranked != c->nnodes) {
    if (!grow(&pb->rank, &pb->caprank, c->nnodes, sizeof *pb->rank) ||
        !grow(&pb->byname, &pb->capbyname, c->nnodes, sizeof *pb->byname))
      return SC_ENOMEM;
    for (int i = 0; i < c->nnodes; i++)
      pb->byname[i] = &c->nodes[i];
    qsort(pb->byname, (size_t)c->nnodes, sizeof *pb->byname, name_order);
    for (int r = 0; r < c->nnodes; r++)
      pb->rank[pb->byname[r] - c->nodes] = (uint32_t)r;
    pb->nranked = c->nnodes;
  }
  for (int i = 0; i < c->nnodes; i++)
    if (pb->map[i] >= 0)
      cl->nodes[pb->map[i]].rank = pb->rank[i];
  return 0;
}

/* Builds the cluster, FGD's target workload and the engine for ps. */
static int pass_prepare(struct sc_ctl *c, struct pass *ps)
{
  struct ctl_pass_buf *pb = ps->pb;
  struct sc_sched_opts opts = {.policy = c->opts.policy, .nshapes = MAX_SHAPE_IDS};

  build_cluster(c, &ps->cl, pb->map);
  if (ps->cl.nnodes == 0)
    return SC_ENOENT;
  for (int i = 0; i < c->nnodes; i++)
    if (pb->map[i] >= 0)
      pb->inverse[pb->map[i]] = i;
  if (rank_by_name(c, pb, &ps->cl) < 0)
    return SC_ENOMEM;
  models_check(c, pb, &ps->cl);
  if (strcmp(c->opts.policy->name, "fgd") == 0 &&
      build_typical(c, pb->keys, &ps->cl, &ps->typ) == 0)
    opts.ctx.typical = ps->typical = &ps->typ;
  pb->memo_gen++;
  return sc_sched_new(&ps->cl, &opts, &ps->sched);
}

int ctl_sched_fleet(struct sc_ctl *c, struct sc_cluster *cl, struct sc_typical *typ)
{
  int nkeys = c->opts.ntarget > 0 ? c->opts.ntarget : c->nwkeys;
  struct sc_typical_key *keys = malloc((size_t)(nkeys > 0 ? nkeys : 1) * sizeof *keys);
  int *map = malloc((size_t)(c->nnodes > 0 ? c->nnodes : 1) * sizeof *map);
  int rc = keys && map ? 0 : SC_ENOMEM;

  sc_cluster_init(cl);
  memset(typ, 0, sizeof *typ);
  if (rc == 0) {
    build_cluster(c, cl, map);
    rc = build_typical(c, keys, cl, typ);
    if (rc == SC_ENOENT) /* no task submitted yet: no workload */
      rc = 0;
  }
  free(keys);
  free(map);
  return rc;
}

/* The fresh jobs still pending, in queue order, into pb->jobs, with the
 * last pass's backfill head (so that they cannot delay it either). */
static int fresh_jobs(struct sc_ctl *c, struct ctl_pass_buf *pb, int64_t head)
{
  struct ctl_job *h = head ? ctl_job_find(c, head) : NULL;
  int n = 0;

  for (int i = 0; i < c->nfresh; i++) {
    struct ctl_job *j = ctl_job_find(c, c->fresh[i]);
    if (j && j->queued && j != h)
      pb->jobs[n++] = j;
  }
  if (h && h->queued)
    pb->jobs[n++] = h;
  if (n > 1)
    qsort(pb->jobs, (size_t)n, sizeof *pb->jobs, job_order);
  return n;
}

/* Whether a node preemptor x was nominated for is still kept for another
 * preemptor whose victims have not all stopped (build_cluster emptied it).
 * x's own victims are gone, but its room is there: tried now, it would not
 * place and would search again, taking victims it does not need. */
static bool nominated_kept(const struct sc_ctl *c, const struct ctl_job *x)
{
  for (int k = 0; k < c->njobs; k++) {
    const struct ctl_job *y = c->jobs[k];
    bool shared = false;
    if (y == x || y->nnominated == 0)
      continue;
    for (int a = 0; a < x->nnominated && !shared; a++)
      for (int b = 0; b < y->nnominated && !shared; b++)
        shared = x->nominated[a] == y->nominated[b];
    if (shared && ctl_quota_nominated(c, y))
      return true;
  }
  return false;
}

/* Tries every pending job (full) or only the fresh ones; false when it
 * stopped short (out of memory). */
static bool pass_run(struct sc_ctl *c, struct pass *ps, bool full)
{
  struct ctl_job *j;
  int n = 0, at;

  if (full) { /* every pending job, in queue order (the order's tie-break) */
    for (j = ctl_queue_first(&c->queue); j; j = ctl_queue_next(&c->queue, j))
      ps->pb->jobs[n++] = j;
  } else {
    n = fresh_jobs(c, ps->pb, ps->last_head);
  }
  { /* Preemptors whose victims have stopped go first: the room they
     * freed is theirs (as Kubernetes' nominated pods); one chance each,
     * then they take their turn (and may search again). One whose
     * nodes are still kept for another preemptor waits for it. */
    int m = 0;
    for (int i = 0; i < n; i++) {
      struct ctl_job *x = ps->pb->jobs[i];
      if (x->nnominated > 0 && !ctl_quota_nominated(c, x)) {
        int placed = ps->nplaced;
        if (nominated_kept(c, x))
          continue;
        x->nnominated = 0;
        if (!try_job(c, ps, x))
          return false;
        if (ps->nplaced > placed) {
          ctl_quota_charge(c, ps->quota, x);
          continue;
        }
      }
      ps->pb->jobs[m++] = x;
    }
    n = m;
  }
  if (!ps->quota || ctl_quota_order(c, ps->quota, ps->pb->jobs, n) < 0) {
    if (ps->quota) /* out of memory: the queue's order, no tenancy */
      sc_warn("scheduling pass: no fair-share order (out of memory): queue order");
    for (int i = 0; i < n; i++)
      if (!try_job(c, ps, ps->pb->jobs[i]))
        return false;
    return true;
  }
  /* Fair share: the core says which job comes next; each is placed
   * (charged to its tenant, shares move) or skipped. */
  while ((j = ctl_quota_next(ps->quota, &at))) {
    int placed = ps->nplaced;
    if (!try_job(c, ps, j))
      return false;
    ctl_quota_done(c, ps->quota, at, ps->nplaced > placed);
  }
  return true;
}

/* Commits the placements of ps, then publishes them; drops mu meanwhile.
 * A placement that did not commit goes back to pending, as in the store. */
static void pass_publish(struct sc_ctl *c, struct pass *ps)
{
  bool submitted = ctl_submit_locked(c, ps->b);
  int rc;

  pthread_mutex_unlock(&c->mu);
  rc = ctl_finish(c, ps->b, submitted);
  pthread_mutex_lock(&c->mu);
  ps->b = NULL;
  for (int i = 0; i < ps->nplaced; i++) {
    struct ctl_job *j = ps->pb->placed[i];
    if (rc < 0) {
      ctl_job_event(c, j, CTL_EV_UNASSIGNED, NULL, NULL);
      continue;
    }
    for (int k = 0; k < j->ntasks; k++) {
      struct ctl_task *t = &j->tasks[k];
      if (t->state == SC_TASK_ASSIGNED && !t->published && t->node >= 0 &&
          ctl_node_push(c, t->node, false, j->id, k) == 0)
        t->published = true; /* out of memory: the next register sends it */
    }
  }
  if (rc < 0 && ps->nplaced > 0)
    sc_warn("scheduling pass: %d placements did not commit, pending again", ps->nplaced);
  if (ps->nplaced > 0)
    pthread_cond_broadcast(&c->changed);
}

/* One scheduling pass; called and returns with mu held (drops it to commit). */
static void sched_pass(struct sc_ctl *c, struct sc_rng *rng)
{
  bool full = c->full;
  struct pass ps;
  double t0 = sc_clock_mono_msf();
  int npending = c->queue.n, rc;

  c->full = false;
  if ((full ? npending == 0 : c->nfresh == 0) || !any_ready(c) || c->frozen) {
    c->nfresh = 0; /* a node coming back or freed resources ask for a full pass */
    return;
  }
  memset(&ps, 0, sizeof ps);
  ps.rng = rng;
  if (!c->pass)
    c->pass = calloc(1, sizeof *c->pass);
  ps.pb = c->pass;
  ps.b = sc_store_batch_new();
  ps.last_head = c->resv_job;
  c->resv_job = 0; /* the pass chooses its head anew */
  if (!ps.pb || !ps.b || !pass_buf_fit(c, ps.pb, full ? npending : c->nfresh + 1) ||
      !count_arrays(c, ps.pb))
    rc = SC_ENOMEM;
  else if ((rc = pass_prepare(c, &ps)) == 0 && ctl_quota_begin(c, &ps.cl, &ps.quota) < 0)
    ps.quota = NULL; /* the queue's order, no quota: logged */
  if (rc < 0) {
    sc_error("scheduling pass skipped: %s", sc_strerror(rc));
    sc_store_batch_free(ps.b);
    c->dirty = true; /* try again (PASS_GAP_MS later) */
    c->full = c->full || full;
    goto out;
  }
  if (!pass_run(c, &ps, full)) {
    sc_error("scheduling pass cut short: out of memory");
    c->dirty = c->full = true;
  }
  c->nfresh = 0;
  c->stats.passes++;
  c->stats.full_passes += full;
  c->stats.last_pass_ms = sc_clock_mono_msf() - t0;
  sc_histogram_observe(&c->pass_hist, c->stats.last_pass_ms / 1000.0);
  if (c->stats.last_pass_ms > c->stats.max_pass_ms)
    c->stats.max_pass_ms = c->stats.last_pass_ms;
  c->stats.last_pending = npending;
  c->stats.last_tried = ps.tried;
  c->stats.placed += (uint64_t)ps.nplaced;
  pass_publish(c, &ps);
out:
  ctl_quota_end(ps.quota);
  sc_sched_free(ps.sched);
  sc_typical_release(&ps.typ);
  sc_cluster_release(&ps.cl);
}

/*
 * A timeline sample: the ready nodes not drained with what their live
 * tasks hold (not emptied for preemptors: those hold nothing yet) and
 * FGD's workload, built as a pass builds them, into the fixed ring.
 * Cost, once per interval (5 s by default): O(nodes + live tasks) for the
 * cluster, O(distinct shapes) for the workload (what every pass pays)
 * and O(nodes x typical shapes) for the measure; no allocation
 * past the cluster's and the workload's.
 */
void ctl_sched_sample(struct sc_ctl *c)
{
  struct ctl_pass_buf *pb;
  struct sc_cluster cl;
  struct sc_typical typ;
  bool known;

  if (!c->pass)
    c->pass = calloc(1, sizeof *c->pass);
  if (!(pb = c->pass) || !pass_buf_fit(c, pb, 0))
    return; /* out of memory: no sample this time */
  build_nodes(c, &cl, pb->map);
  known = (c->wcount > 0 || c->opts.ntarget > 0) && build_typical(c, pb->keys, &cl, &typ) == 0;
  ctl_timeline_record(c, &cl, known ? &typ : NULL, ctl_wall_ms(c));
  if (known)
    sc_typical_release(&typ);
  sc_cluster_release(&cl);
}

/* Sleeps on sched_cond until the monotonic time deadline_ms (rounded up
 * to the next millisecond). */
static void sched_sleep(struct sc_ctl *c, double deadline_ms)
{
  struct timespec ts = sc_clock_timespec((int64_t)deadline_ms + 1);

  pthread_cond_timedwait(&c->sched_cond, &c->mu, &ts);
}

/*
 * Passes run when something changed, at least PASS_GAP_MS apart: while
 * submissions stream in, one pass takes all that came in meanwhile; on an
 * idle cluster a submission is scheduled at once. Ticks come every
 * CTL_TICK_MS, at once when rows failed to commit, and when a max runtime ends
 * (so its kill goes out then, not up to a tick late).
 */
void *ctl_sched_main(void *arg)
{
  struct sc_ctl *c = arg;
  struct sc_rng rng;
  double last_tick = 0, next_pass = 0;

  sc_rng_seed(&rng, 42);
  pthread_mutex_lock(&c->mu);
  while (!c->stop) {
    double now = sc_clock_mono_msf(), wake;
    if (c->dirty && now >= next_pass) {
      c->dirty = false;
      sched_pass(c, &rng);
      assert(!CTL_CHECK_PASSES || ctl_check(c) == 0);
      next_pass = sc_clock_mono_msf() + PASS_GAP_MS;
    }
    if (sc_clock_mono_msf() - last_tick >= CTL_TICK_MS ||
        (c->runtime_due_ms > 0 && sc_clock_mono_ms() >= c->runtime_due_ms) ||
        (c->nstale + c->nstale_nodes > 0 && sc_clock_mono_msf() - last_tick >= STALE_GAP_MS)) {
      ctl_tick(c);
      last_tick = sc_clock_mono_msf();
      if (sc_clock_mono_ms() >= c->timeline.due_ms) { /* a timeline sample */
        ctl_sched_sample(c);
        c->timeline.due_ms = sc_clock_mono_ms() + c->opts.timeline_interval_ms;
      }
    }
    if (c->stop)
      break;
    wake = last_tick + CTL_TICK_MS;
    if (c->runtime_due_ms > 0 && (double)c->runtime_due_ms < wake)
      wake = (double)c->runtime_due_ms;
    if (c->nstale + c->nstale_nodes > 0 && last_tick + STALE_GAP_MS < wake)
      wake = last_tick + STALE_GAP_MS;
    if (c->dirty && next_pass < wake)
      wake = next_pass;
    if (wake <= sc_clock_mono_msf())
      continue;
    c->sched_idle = !c->dirty;
    sched_sleep(c, wake);
    c->sched_idle = false;
  }
  pthread_mutex_unlock(&c->mu);
  return NULL;
}
