/*
 * The tenancy decisions of the core, in process, no I/O: (1) one ordering
 * and admission pass: 100 tenants in a three-level tree (4 orgs x 4 teams
 * x 5 leaves), 10,000 pending jobs (1/2/4/8 devices, some 2 x 8 gangs, a
 * fifth pinned to a model) and 1,000 nodes of 8 devices; the pass is
 * sc_order_reset (sort) then, per job in fair-share order, the quota check
 * (sc_tenancy_fits), the placement (sc_sched_place_gang) and sc_order_admit
 * or _skip. (2) one victim search (sc_preempt_search, guarantee reclaim of
 * 8 devices) on the same cluster full of running jobs. (3) one EASY
 * backfill plan for a 2 x 8-device head on the cluster full of 1-device
 * jobs (ends spread over an hour, a tenth without one), then every pending
 * job of (1) tried against it. Median and p99 over
 * repetitions; the engine build before each pass is not timed.
 * Usage: bench_tenancy [--reps 31] [--nodes 1000] [--jobs 10000]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backfill.h"
#include "core/fairshare.h"
#include "core/preempt.h"
#include "core/sched.h"
#include "core/tenancy.h"
#include "harness.h"

#define NTENANTS 100
#define MAX_REPS 501

static unsigned lcg(unsigned *s)
{
  *s = *s * 1103515245u + 12345u;
  return (*s >> 8) & 0xffffff;
}

/* 4 orgs (0-3), 16 teams (4-19), 80 leaves (20-99); guarantees add up to
 * 75% of the devices; leaf weights 1-3. */
static void make_tree(struct sc_tenant *t, int64_t gpus_milli)
{
  for (int i = 0; i < NTENANTS; i++) {
    memset(&t[i], 0, sizeof t[i]);
    t[i].parent = i < 4 ? -1 : i < 20 ? (i - 4) / 4 : 4 + (i - 20) / 5;
    t[i].weight = 1000 * (1 + i % 3);
    sc_res_unlimited(&t[i].limit);
    sc_res_unlimited(&t[i].lend_limit);
    t[i].preempt_within = SC_PREEMPT_WITHIN_LOWER_PRIORITY;
  }
  for (int i = 0; i < 4; i++)
    t[i].guarantee.v[SC_RES_GPU] = gpus_milli * 3 / 16;
  for (int i = 4; i < 20; i++)
    t[i].guarantee.v[SC_RES_GPU] = gpus_milli * 3 / 64;
  for (int i = 20; i < 100; i++)
    t[i].guarantee.v[SC_RES_GPU] = i % 5 == 4 ? 0 : gpus_milli * 3 / 256;
}

static void make_cluster(struct sc_cluster *c, int nodes)
{
  sc_cluster_init(c);
  for (int i = 0; i < nodes; i++)
    sc_cluster_add_node(c, "node", 128000, 1048576, 8, i % 2 ? "H100" : "A100-80G");
}

/* Job i's tasks: shapes with ids for the engine's score cache. */
static int job_shapes(unsigned *seed, struct sc_shape *sh)
{
  static const int sizes[4] = {1, 2, 4, 8};
  unsigned r = lcg(seed) % 100;
  int gpus = sizes[r % 4], n = r >= 95 ? 2 : 1, model = lcg(seed) % 5 == 0 ? (int)(r % 2) : -1;

  if (n == 2)
    gpus = 8;
  for (int i = 0; i < n; i++) {
    sh[i] = (struct sc_shape){.cpu = 4000 * gpus, .mem = 16384 * gpus, .gpu_count = gpus,
                              .gpu_milli = 1000, .any_model = model < 0,
                              .models = model < 0 ? 0 : 1ull << model,
                              .id = (gpus == 1 ? 0 : gpus == 2 ? 1 : gpus == 4 ? 2 : 3) +
                                    4 * (model + 1)};
  }
  return n;
}

/* full = c with every node filled by running jobs of leaves 20-59 (charged
 * to tn, whose usage is reset first); returns how many. */
static int fill(const struct sc_cluster *c, struct sc_cluster *full, struct sc_tenancy *tn,
                struct sc_tenant *t, struct sc_run_job *run, struct sc_run_task *tasks,
                int small, unsigned *seed)
{
  int nrun = 0;

  sc_cluster_init(full);
  full->nodes = malloc(c->nnodes * sizeof *c->nodes);
  memcpy(full->nodes, c->nodes, c->nnodes * sizeof *c->nodes);
  full->nnodes = full->cap = c->nnodes;
  for (int i = 0; i < NTENANTS; i++)
    sc_res_zero(&t[i].usage);
  sc_tenancy_rollup(tn);
  for (size_t n = 0; n < c->nnodes; n++) {
    int left = 8, dev = 0;
    while (left > 0) {
      int g = small ? 1 : 1 << (lcg(seed) % 4);
      if (g > left)
        continue;
      struct sc_shape sh = {.cpu = 4000 * g, .mem = 16384 * g, .gpu_count = g,
                            .gpu_milli = 1000, .any_model = true, .id = -1};
      struct sc_placement p = {(int)n, g, {0}};
      for (int k = 0; k < g; k++)
        p.dev[k] = (int8_t)dev++;
      sc_node_apply(&full->nodes[n], &sh, &p);
      tasks[nrun] = (struct sc_run_task){sh, p};
      run[nrun] = (struct sc_run_job){20 + (int)(lcg(seed) % 40), (int)(lcg(seed) % 3), false,
                                      (int64_t)(lcg(seed) % 100000), SC_TIME_NEVER, nrun, 1,
                                      {{0}}};
      sc_res_of_placement(&run[nrun].req, full, &sh, &p, 1);
      sc_tenancy_charge(tn, run[nrun].tenant, &run[nrun].req, false, 1);
      nrun++;
      left -= g;
    }
  }
  return nrun;
}

static void report(const char *what, double *ms, int reps, double target)
{
  double med = bh_quantile(ms, (size_t)reps, 0.5), p99 = bh_quantile(ms, (size_t)reps, 0.99);
  printf("%-44s median %7.3f ms  p99 %7.3f ms  (target < %.0f ms)\n", what, med, p99, target);
}

int main(int argc, char **argv)
{
  int reps = 31, nodes = 1000, njobs = 10000;
  struct sc_tenant t[NTENANTS];
  struct sc_cluster c;
  struct sc_res cap;
  struct sc_tenancy *tn;
  char err[160];
  unsigned seed = 7;
  static double ms[MAX_REPS];

  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--reps") == 0)
      reps = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--nodes") == 0)
      nodes = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--jobs") == 0)
      njobs = atoi(argv[i + 1]);
  }
  if (reps < 1 || reps > MAX_REPS || nodes < 1 || njobs < 1) {
    fprintf(stderr, "usage: bench_tenancy [--reps 1-%d] [--nodes N] [--jobs N]\n", MAX_REPS);
    return 2;
  }
  make_cluster(&c, nodes);
  sc_res_of_cluster(&cap, &c);
  make_tree(t, cap.v[SC_RES_GPU]);
  struct sc_tenancy_opts topts = {t, NTENANTS, cap, c.models, c.nmodels, false};
  if (sc_tenancy_new(&topts, err, sizeof err, &tn) < 0) {
    fprintf(stderr, "bench_tenancy: %s\n", err);
    return 1;
  }

  /* (1) The pending jobs. */
  struct sc_order_job *jobs = calloc((size_t)njobs, sizeof *jobs);
  struct sc_shape(*shapes)[2] = calloc((size_t)njobs, sizeof *shapes);
  int *ntasks = calloc((size_t)njobs, sizeof *ntasks);
  struct sc_res *reqs = calloc((size_t)njobs, sizeof *reqs);
  struct sc_order *order;
  int admitted = 0;
  for (int i = 0; i < njobs; i++) {
    ntasks[i] = job_shapes(&seed, shapes[i]);
    jobs[i] = (struct sc_order_job){20 + (int)(lcg(&seed) % 80), lcg(&seed) % 10 == 0 ? 5 : 0, i};
    sc_res_of_shapes(&reqs[i], shapes[i], ntasks[i]);
  }
  if (sc_order_new(tn, jobs, njobs, &order) < 0)
    return 1;
  struct sc_sched_opts so = {sc_policy_find("bestfit"), {NULL}, 12};
  struct sc_cluster work;
  sc_cluster_init(&work);
  work.nodes = malloc(c.nnodes * sizeof *c.nodes);
  work.nnodes = work.cap = c.nnodes;
  for (int r = 0; r < reps; r++) {
    struct sc_sched *s;
    struct sc_placement p[2];
    int64_t t0;
    memcpy(work.nodes, c.nodes, c.nnodes * sizeof *c.nodes);
    for (int i = 0; i < NTENANTS; i++)
      sc_res_zero(&t[i].usage);
    sc_tenancy_rollup(tn);
    if (sc_sched_new(&work, &so, &s) < 0)
      return 1;
    t0 = bh_mono_ns();
    sc_order_reset(order, jobs, njobs);
    admitted = 0;
    for (int j; (j = sc_order_next(order)) >= 0;) {
      if (sc_tenancy_fits(tn, jobs[j].tenant, &reqs[j], false, NULL, 0) == 0 &&
          sc_sched_place_gang(s, shapes[j], ntasks[j], NULL, p) == 0) {
        sc_order_admit(order, j, &reqs[j], false);
        admitted++;
      } else {
        sc_order_skip(order, j, false);
      }
    }
    ms[r] = (double)(bh_mono_ns() - t0) / 1e6;
    sc_sched_free(s);
  }
  printf("tenancy pass: %d tenants, %d pending, %d nodes: %d admitted\n", NTENANTS, njobs, nodes,
         admitted);
  report("order + quota + placement pass", ms, reps, 20);

  /* (2) Full clusters: every node filled with jobs of orgs 0 and 1's
   * leaves (so they borrow); org 3's leaf 95 (nothing running) reclaims 8
   * devices. Mixed: 1/2/4/8-device jobs. Small: 1-device jobs only, so a
   * node frees only when all 8 of its jobs go, the search's worst case. */
  struct sc_run_job *run = calloc((size_t)nodes * 8, sizeof *run);
  struct sc_run_task *tasks = calloc((size_t)nodes * 8, sizeof *tasks);
  struct sc_preempt *ps;
  if (sc_preempt_new(&ps) < 0)
    return 1;
  for (int small = 0; small < 2; small++) {
    struct sc_cluster full;
    int nrun = fill(&c, &full, tn, t, run, tasks, small, &seed);
    struct sc_shape eight = {.cpu = 32000, .mem = 131072, .gpu_count = 8, .gpu_milli = 1000,
                             .any_model = true, .id = -1};
    struct sc_preempt_in in = {&full, sc_policy_find("bestfit"), NULL, tn, run, nrun, tasks,
                               &eight, 1, 95, 0, {{0}}, SC_PREEMPT_RECLAIM};
    struct sc_preempt_out out = {0};
    sc_res_of_shapes(&in.req, &eight, 1);
    for (int r = 0; r < reps; r++) {
      int64_t t0 = bh_mono_ns();
      int rc = sc_preempt_search(ps, &in, &out);
      ms[r] = (double)(bh_mono_ns() - t0) / 1e6;
      if (rc < 0) {
        fprintf(stderr, "bench_tenancy: victim search failed: %s\n", out.reason);
        return 1;
      }
    }
    printf("victim search: %d nodes full, %d running jobs (%s): %d victims on node %d\n", nodes,
           nrun, small ? "1 device each" : "1/2/4/8 devices", out.nvictims, out.place[0].node);
    report(small ? "victim search (reclaim 8, 1-device victims)"
                 : "victim search (reclaim 8, mixed victims)",
           ms, reps, 10);
    sc_cluster_release(&full);
  }
  sc_preempt_free(ps);

  /* (3) Backfill on the full cluster of 1-device jobs. */
  {
    struct sc_cluster full;
    struct sc_backfill *bf;
    struct sc_shape head[2];
    static double ms_try[MAX_REPS];
    int nrun = fill(&c, &full, tn, t, run, tasks, 1, &seed), started = 0;
    const int64_t now = 1000000;
    for (int i = 0; i < nrun; i++)
      run[i].end = lcg(&seed) % 10 == 0 ? SC_TIME_NEVER : now + 60000 + lcg(&seed) % 3540000;
    for (int i = 0; i < 2; i++)
      head[i] = (struct sc_shape){.cpu = 32000, .mem = 131072, .gpu_count = 8,
                                  .gpu_milli = 1000, .any_model = true, .id = -1};
    struct sc_backfill_in in = {&full, sc_policy_find("bestfit"), NULL, run, nrun, tasks,
                                head, 2, now, NULL};
    if (sc_backfill_new(&bf) < 0)
      return 1;
    for (int r = 0; r < reps; r++) {
      struct sc_placement p[2];
      int64_t t0 = bh_mono_ns(), t1;
      if (sc_backfill_plan(bf, &in) < 0)
        return 1;
      t1 = bh_mono_ns();
      started = 0;
      for (int j = 0; j < njobs; j++)
        started += sc_backfill_try(bf, shapes[j], ntasks[j], 60000 + (int64_t)(j % 60) * 60000,
                                   p) == 0;
      ms[r] = (double)(t1 - t0) / 1e6;
      ms_try[r] = (double)(bh_mono_ns() - t1) / 1e6;
    }
    printf("backfill: %d nodes full, %d running jobs (1 device each), head 2 x 8 devices: "
           "shadow now + %lld s, %d of %d pending jobs may start\n",
           nodes, nrun, (long long)((sc_backfill_shadow(bf) - now) / 1000), started, njobs);
    report("backfill plan (reservation)", ms, reps, 20);
    report("backfill: every pending job tried", ms_try, reps, 20);
    sc_backfill_free(bf);
    sc_cluster_release(&full);
  }
  sc_order_free(order);
  sc_tenancy_free(tn);
  sc_cluster_release(&c);
  sc_cluster_release(&work);
  free(jobs);
  free(shapes);
  free(ntasks);
  free(reqs);
  free(run);
  free(tasks);
  return 0;
}
