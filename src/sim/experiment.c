/*
 * The FGD paper's experiment on the core engine. Follows docs/simulator.md
 * step by step: name-sorted workload, one discarded draw, Go Shuffle, tuning
 * to 130 % with its quirk, 10 draws then Perm for node ranks, one placement
 * attempt per task, one metrics row per event, discretised means.
 */
#include "sim/experiment.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/rng.h"
#include "core/sched.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/vec.h"

#define MAX_BUCKET 400

double sc_round2(double x)
{
  char buf[64];

  snprintf(buf, sizeof buf, "%.2f", x);
  return strtod(buf, NULL);
}

static int cmp_node_name(const void *a, const void *b)
{
  return strcmp(((const struct sc_trace_node *)a)->name, ((const struct sc_trace_node *)b)->name);
}

static int cmp_pod_name(const void *a, const void *b)
{
  return strcmp(((const struct sc_trace_pod *)a)->name, ((const struct sc_trace_pod *)b)->name);
}

/* Copies items scale times, suffixing names with the replica number. */
static void *replicate(const void *items, size_t n, size_t size, int scale)
{
  char *out = malloc(n * (size_t)scale * size + 1);

  if (!out)
    return NULL;
  for (int r = 0; r < scale; r++) {
    for (size_t i = 0; i < n; i++) {
      char *dst = out + ((size_t)r * n + i) * size;
      memcpy(dst, (const char *)items + i * size, size);
      if (scale > 1) {
        /* Both item types start with a name of SC_TRACE_NAME_MAX bytes. */
        size_t len = strnlen(dst, SC_TRACE_NAME_MAX);
        if (len + 6 < SC_TRACE_NAME_MAX)
          snprintf(dst + len, SC_TRACE_NAME_MAX - len, "-r%04d", r);
      }
    }
  }
  return out;
}

static int add_nodes(struct sc_workload *w, const struct sc_trace_nodes *nodes, int scale,
                     char *err, size_t errlen)
{
  struct sc_trace_node *all = replicate(nodes->items, nodes->n, sizeof *all, scale);
  size_t n = nodes->n * (size_t)scale;
  int rc = 0;

  if (!all)
    return SC_ENOMEM;
  qsort(all, n, sizeof *all, cmp_node_name);
  for (size_t i = 0; i < n && rc >= 0; i++) {
    if (all[i].gpus == 0)
      continue; /* the experiment uses the GPU nodes only */
    rc = sc_cluster_add_node(&w->cluster, all[i].name, all[i].cpu_milli, all[i].memory_mib,
                             all[i].gpus, all[i].model);
    w->total_gpus += all[i].gpus;
  }
  free(all);
  if (rc >= 0 && w->cluster.nnodes == 0) {
    snprintf(err, errlen, "the node list has no node with GPUs");
    return SC_EINVAL;
  }
  if (rc < 0)
    snprintf(err, errlen, "cannot add nodes: %s", sc_strerror(rc));
  return rc < 0 ? rc : 0;
}

int sc_target_keys(const struct sc_trace_pod *pods, size_t npods, struct sc_typical_key **out,
                   int *nout, int *key_of)
{
  struct sc_typical_key *keys = calloc(npods + 1, sizeof *keys);
  int nkeys = 0;

  *out = NULL;
  *nout = 0;
  if (!keys)
    return SC_ENOMEM;
  for (size_t i = 0; i < npods; i++) {
    const struct sc_trace_pod *p = &pods[i];
    int k;
    for (k = 0; k < nkeys; k++) {
      const struct sc_shape *q = &keys[k].shape;
      if (q->cpu == p->cpu_milli && q->gpu_milli == p->gpu_milli && q->gpu_count == p->num_gpu &&
          strcmp(keys[k].spec, p->spec) == 0)
        break;
    }
    if (k == nkeys) {
      struct sc_shape *q = &keys[k].shape;
      q->cpu = p->cpu_milli;
      q->mem = p->memory_mib;
      q->gpu_count = p->num_gpu;
      q->gpu_milli = p->gpu_milli;
      q->any_model = p->spec[0] == '\0';
      q->id = -1;
      memcpy(keys[k].spec, p->spec, sizeof p->spec);
      nkeys++;
    }
    keys[k].count += 1;
    if (key_of)
      key_of[i] = k;
  }
  *out = keys;
  *nout = nkeys;
  return 0;
}

/* Assigns each pod a shape and a cache id shared by equal shapes (same
 * CPU, GPU request and model mask), and builds FGD's target workload. */
static int add_shapes(struct sc_workload *w)
{
  struct sc_typical_key *keys = NULL;
  int *key_of = calloc(w->npods + 1, sizeof *key_of);
  int nkeys = 0, rc;

  w->shapes = calloc(w->npods, sizeof *w->shapes);
  rc = key_of && w->shapes ? sc_target_keys(w->pods, w->npods, &keys, &nkeys, key_of) : SC_ENOMEM;
  for (int k = 0; k < nkeys; k++) { /* ids in order of first appearance */
    struct sc_shape *s = &keys[k].shape;
    sc_shape_set_models(s, &w->cluster, keys[k].spec);
    for (int j = 0; j < k && s->id < 0; j++) {
      const struct sc_shape *q = &keys[j].shape;
      if (q->cpu == s->cpu && q->gpu_milli == s->gpu_milli && q->gpu_count == s->gpu_count &&
          q->any_model == s->any_model && q->models == s->models)
        s->id = q->id;
    }
    if (s->id < 0)
      s->id = w->nshapes++;
  }
  for (size_t i = 0; i < w->npods && rc == 0; i++) {
    const struct sc_trace_pod *p = &w->pods[i];
    const struct sc_shape *key = &keys[key_of[i]].shape;
    struct sc_shape *s = &w->shapes[i];
    *s = *key;
    s->mem = p->memory_mib; /* the key's is its first pod's */
  }
  if (rc == 0)
    rc = sc_typical_build(keys, nkeys, SC_TARGET_THRESHOLD, &w->typical);
  free(keys);
  free(key_of);
  return rc;
}

void sc_trace_pods_sort(struct sc_trace_pod *pods, size_t n)
{
  qsort(pods, n, sizeof *pods, cmp_pod_name);
}

int sc_workload_init(struct sc_workload *w, const char *name,
                     const struct sc_trace_nodes *nodes, const struct sc_trace_pods *pods,
                     int scale, char *err, size_t errlen)
{
  int rc;

  memset(w, 0, sizeof *w);
  snprintf(w->name, sizeof w->name, "%s", name);
  sc_cluster_init(&w->cluster);
  if (scale < 1 || pods->n == 0) {
    snprintf(err, errlen, pods->n == 0 ? "the pod list is empty" : "scale must be >= 1");
    return SC_EINVAL;
  }
  rc = add_nodes(w, nodes, scale, err, errlen);
  if (rc == 0) {
    w->npods = pods->n * (size_t)scale;
    w->pods = replicate(pods->items, pods->n, sizeof *w->pods, scale);
    rc = w->pods ? 0 : SC_ENOMEM;
  }
  if (rc == 0) {
    sc_trace_pods_sort(w->pods, w->npods);
    rc = add_shapes(w);
  }
  if (rc == SC_ENOMEM)
    snprintf(err, errlen, "out of memory");
  if (rc < 0)
    sc_workload_release(w);
  return rc;
}

void sc_workload_release(struct sc_workload *w)
{
  sc_cluster_release(&w->cluster);
  free(w->pods);
  free(w->shapes);
  sc_typical_release(&w->typical);
  memset(w, 0, sizeof *w);
}

/* Shuffles the name-sorted pods and tunes the total GPU demand to
 * tune x capacity. Returns the task order (indices into w->pods). */
static int32_t *make_order(const struct sc_workload *w, double tune, struct sc_rng *rng,
                           size_t *count)
{
  size_t n = w->npods, cap = n * 2 + 16;
  int32_t *order = malloc(cap * sizeof *order);
  int64_t total = 0;
  double target = tune * (double)(w->total_gpus * SC_MILLI);
  bool tune_up;

  if (!order)
    return NULL;
  for (size_t i = 0; i < n; i++) {
    order[i] = (int32_t)i;
    total += sc_shape_total_milli(&w->shapes[i]);
  }
  sc_rng_shuffle_int(rng, order, (int32_t)n);
  tune_up = (double)total < target;
  while ((double)total > target && n > 0) {
    int32_t idx = sc_rng_intn(rng, (int32_t)n);
    total -= sc_shape_total_milli(&w->shapes[order[idx]]);
    memmove(&order[idx], &order[idx + 1], (n - (size_t)idx - 1) * sizeof *order);
    n--;
  }
  while (tune_up) {
    int32_t idx = sc_rng_intn(rng, (int32_t)w->npods);
    /* Quirk of the reference: compares the per-device share, not the total. */
    if ((double)(total + w->shapes[idx].gpu_milli) > target)
      break;
    if (n == cap) {
      int32_t *grown = realloc(order, (cap *= 2) * sizeof *order);
      if (!grown) {
        free(order);
        return NULL;
      }
      order = grown;
    }
    total += sc_shape_total_milli(&w->shapes[idx]);
    order[n++] = idx;
  }
  *count = n;
  return order;
}

struct buckets {
  int64_t count[MAX_BUCKET];
  double alloc[MAX_BUCKET], frag[MAX_BUCKET], ratio[MAX_BUCKET];
};

static void record_row(struct buckets *b, const struct sc_workload *w, int64_t arrived,
                       struct sc_sched *sched)
{
  double v[SC_FRAG_NCLASS], idle = 0, frag;
  double total_gpus = (double)w->total_gpus;
  long k = lrint((double)arrived / total_gpus / 10.0);

  if (k < 0 || k >= MAX_BUCKET)
    return;
  sc_sched_frag(sched, v);
  for (int i = 0; i < SC_FRAG_NCLASS; i++)
    idle += v[i];
  frag = sc_frag_sum_except_q3(v);
  b->count[k]++;
  b->alloc[k] += sc_round2((double)sc_sched_gpu_used_milli(sched) / total_gpus / 10.0);
  b->frag[k] += sc_round2(frag);
  b->ratio[k] += idle > 0 ? sc_round2(100.0 * frag / idle) : 0.0;
}

/* Means per arrival percentage; an empty one borrows its neighbours. */
static void reduce(const struct buckets *b, const struct sc_workload *w,
                   struct sc_experiment_result *r)
{
  for (int k = 0; k < SC_SIM_NCOLS; k++) {
    int64_t n = b->count[k];
    double alloc = b->alloc[k], frag = b->frag[k], ratio = b->ratio[k];
    if (n == 0) {
      for (int j = k - 1; j <= k + 1; j += 2) {
        if (j < 0 || j >= MAX_BUCKET)
          continue;
        n += b->count[j];
        alloc += b->alloc[j];
        frag += b->frag[j];
        ratio += b->ratio[j];
      }
    }
    if (n == 0) {
      r->alloc[k] = r->frag_amount[k] = r->frag_ratio[k] = NAN;
      continue;
    }
    r->alloc[k] = sc_round2(alloc / (double)n);
    r->frag_amount[k] = sc_round2(100.0 * (frag / (double)n) / 1000.0 / (double)w->total_gpus);
    r->frag_ratio[k] = ratio / (double)n;
  }
}

static int cmp_failed(const void *a, const void *b)
{
  const struct sc_failed *x = a, *y = b;

  if (x->count != y->count)
    return x->count > y->count ? -1 : 1;
  if (x->cpu_milli != y->cpu_milli)
    return x->cpu_milli < y->cpu_milli ? -1 : 1;
  if (x->num_gpu != y->num_gpu)
    return x->num_gpu < y->num_gpu ? -1 : 1;
  if (x->gpu_milli != y->gpu_milli)
    return x->gpu_milli < y->gpu_milli ? -1 : 1;
  return strcmp(x->spec, y->spec);
}

/* Counts a failed task under its printed description (CPU in cores with
 * two decimals, as the reference's report, so 3152 m counts as 3150 m). */
static int add_failed(struct sc_experiment_result *r, const struct sc_trace_pod *p, int *cap)
{
  int64_t cpu = (int64_t)(sc_round2((double)p->cpu_milli / 1000.0) * 1000.0);

  for (int i = 0; i < r->nfailed; i++) {
    struct sc_failed *f = &r->failed[i];
    if (f->cpu_milli == cpu && f->num_gpu == p->num_gpu && f->gpu_milli == p->gpu_milli &&
        strcmp(f->spec, p->spec) == 0) {
      f->count++;
      return 0;
    }
  }
  if (SC_VEC_RESERVE_ONE(r->failed, r->nfailed, *cap) < 0)
    return SC_ENOMEM;
  r->failed[r->nfailed] = (struct sc_failed){cpu, p->num_gpu, p->gpu_milli, "", 1};
  memcpy(r->failed[r->nfailed].spec, p->spec, sizeof p->spec);
  r->nfailed++;
  return 0;
}

/* Whether a placement made elsewhere fits node n (devices distinct). */
static bool given_fits(const struct sc_cluster *c, const struct sc_shape *s,
                       const struct sc_placement *p)
{
  const struct sc_node *n;
  uint32_t seen = 0;

  if (p->node < 0 || (size_t)p->node >= c->nnodes)
    return false;
  n = &c->nodes[p->node];
  if (n->cpu_left < s->cpu || n->mem_left < s->mem || p->ndev != s->gpu_count)
    return false;
  for (int d = 0; d < p->ndev; d++) {
    int x = p->dev[d];
    if (x < 0 || x >= n->gpu_count || (seen & (1u << x)) || n->gpu_left[x] < s->gpu_milli)
      return false;
    seen |= 1u << x;
  }
  return true;
}

static int place_all(const struct sc_workload *w, const struct sc_cluster *cl,
                     struct sc_sched *sched, struct sc_rng *rng,
                     const struct sc_experiment_plan *plan,
                     const struct sc_experiment_opts *opts, struct sc_experiment_result *r)
{
  const int32_t *order = plan->order;
  size_t n = plan->n;
  struct buckets *b = calloc(1, sizeof *b);
  int64_t arrived = 0;
  int cap = 0, rc = 0;

  if (!b)
    return SC_ENOMEM;
  for (size_t i = 0; i < n && rc == 0; i++) {
    const struct sc_shape *s = &w->shapes[order[i]];
    struct sc_placement p;
    arrived += sc_shape_total_milli(s);
    if (opts->given) {
      p = opts->given[i];
      rc = given_fits(cl, s, &p) ? 0 : SC_ENOFIT;
    } else {
      rc = sc_sched_pick(sched, s, rng, &p);
    }
    if (r->placed)
      r->placed[i] = rc == 0 ? p : (struct sc_placement){.node = -1};
    if (rc == 0) {
      rc = sc_sched_commit(sched, s, &p);
    } else if (rc == SC_ENOFIT) {
      r->failed_tasks++;
      rc = add_failed(r, &w->pods[order[i]], &cap);
    }
    record_row(b, w, arrived, sched);
    if (opts->check && rc == 0)
      rc = sc_sched_check(sched);
    if (sc_sched_nclasses(sched) > r->max_classes)
      r->max_classes = sc_sched_nclasses(sched);
  }
  r->tasks = (int64_t)n;
  r->arrived_milli = arrived;
  reduce(b, w, r);
  free(b);
  if (r->nfailed > 1)
    qsort(r->failed, (size_t)r->nfailed, sizeof *r->failed, cmp_failed);
  return rc;
}

int sc_experiment_plan(const struct sc_workload *w, const struct sc_experiment_opts *opts,
                       struct sc_rng *rng, struct sc_experiment_plan *plan)
{
  int32_t *perm = malloc(w->cluster.nnodes * sizeof *perm);

  memset(plan, 0, sizeof *plan);
  plan->ranks = malloc(w->cluster.nnodes * sizeof *plan->ranks);
  if (!perm || !plan->ranks)
    goto fail;
  sc_rng_seed(rng, opts->seed);
  (void)sc_rng_int63(rng); /* evaluated for a debug log in the reference */
  plan->order = make_order(w, opts->tune, rng, &plan->n);
  if (!plan->order)
    goto fail;
  for (size_t i = 0; i < plan->n; i++)
    plan->total_milli += sc_shape_total_milli(&w->shapes[plan->order[i]]);
  /* Informer reflectors of the reference draw these before the ranks. */
  for (int i = 0; i < opts->skip_draws; i++)
    (void)sc_rng_float64(rng);
  sc_rng_perm(rng, perm, (int32_t)w->cluster.nnodes);
  for (size_t i = 0; i < w->cluster.nnodes; i++)
    plan->ranks[i] = (uint32_t)perm[i];
  free(perm);
  return 0;
fail:
  free(perm);
  sc_experiment_plan_release(plan);
  return SC_ENOMEM;
}

void sc_experiment_plan_release(struct sc_experiment_plan *plan)
{
  free(plan->order);
  free(plan->ranks);
  memset(plan, 0, sizeof *plan);
}

int sc_experiment_run(const struct sc_workload *w, const struct sc_experiment_opts *opts,
                      struct sc_experiment_result *r)
{
  struct sc_cluster c;
  struct sc_rng rng;
  struct sc_sched *sched = NULL;
  struct sc_sched_opts so = {opts->policy, {&w->typical}, w->nshapes};
  struct sc_experiment_plan plan = {0};
  double t0 = sc_clock_mono_msf();
  int rc = SC_ENOMEM;

  memset(r, 0, sizeof *r);
  c = w->cluster;
  c.nodes = malloc(w->cluster.nnodes * sizeof *c.nodes);
  if (!c.nodes || sc_experiment_plan(w, opts, &rng, &plan) < 0)
    goto out;
  memcpy(c.nodes, w->cluster.nodes, w->cluster.nnodes * sizeof *c.nodes);
  c.cap = c.nnodes;
  for (size_t i = 0; i < c.nnodes; i++)
    c.nodes[i].rank = plan.ranks[i];
  rc = sc_sched_new(&c, &so, &sched);
  if (rc == 0 && opts->record && !(r->placed = calloc(plan.n + 1, sizeof *r->placed)))
    rc = SC_ENOMEM;
  if (rc == 0)
    rc = place_all(w, &c, sched, &rng, &plan, opts, r);
out:
  r->seconds = (sc_clock_mono_msf() - t0) / 1e3;
  sc_sched_free(sched);
  sc_experiment_plan_release(&plan);
  free(c.nodes);
  if (rc < 0)
    sc_experiment_result_release(r);
  return rc;
}

void sc_experiment_result_release(struct sc_experiment_result *r)
{
  free(r->failed);
  free(r->placed);
  r->placed = NULL;
  r->failed = NULL;
  r->nfailed = 0;
}
