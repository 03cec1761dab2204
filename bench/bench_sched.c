/*
 * The controller's scheduling pass, in process: a SQLite store in a
 * temporary directory gets 100 nodes (8 devices each, two models) and 1,000
 * pending jobs of mixed shapes through the store API; the real controller
 * (sc_ctl_new rebuilds from the store, sc_ctl_start runs the scheduling
 * thread) then runs its pass, and its own timer (sc_ctl_stats.last_pass_ms:
 * pending collection, cluster build, FGD target workload, engine build and
 * placement, before the commit) is read back. Then more passes are forced
 * over what is still pending (the steady state: nothing fits). Several
 * repetitions, median reported. --mixed gives every node both models (4 + 4
 * devices, device groups in the core) instead of one model per node.
 * --gang T makes the first job a gang of T tasks of 8 devices (whole nodes):
 * with --jobs 1 the pass is that one gang decision.
 * Usage: bench_sched [--reps 7] [--nodes 100] [--jobs 1000] [--policy fgd] [--mixed] [--gang T]
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "server/ctl_int.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

#define MAX_REPS 50
#define STEADY_PASSES 5

struct cfg {
  int reps, nodes, jobs;
  const char *policy;
  bool mixed; /* each node 4 A100-80G + 4 H800 */
  int gang; /* --gang: tasks of 8 devices in job 1, 0 none */
};

static unsigned lcg(unsigned *s)
{
  *s = *s * 1103515245u + 12345u;
  return (*s >> 8) & 0xffffff;
}

/* The model of device d of node i. */
static const char *node_model(const struct cfg *cfg, int i, int d)
{
  return (cfg->mixed ? d >= 4 : i % 2) ? "H800" : "A100-80G";
}

/* Job i of the mix: shares, 1/2/4/8 whole devices, gangs, CPU-only; a
 * fifth of the device jobs restricted to one model; a few high priority.
 * Asks for about 2.3x the cluster's devices, so about half stays pending. */
static char *job_spec(int i, unsigned *seed, int *ntasks)
{
  unsigned r = lcg(seed) % 100;
  int tasks = 1, gpus = 0, milli = 0, cpu = 4000;
  json_t *res, *spec;
  char *text, name[32];

  if (r < 25)
    gpus = 1, milli = r % 2 ? 250 : 500;
  else if (r < 55)
    gpus = 1;
  else if (r < 70)
    gpus = 2;
  else if (r < 80)
    gpus = 4;
  else if (r < 85)
    gpus = 8;
  else if (r < 90)
    tasks = 4, gpus = 2;
  else if (r < 95)
    tasks = 8, gpus = 1;
  else
    cpu = 8000;
  snprintf(name, sizeof name, "sched-%d", i);
  res = json_pack("{s:i, s:s, s:i}", "cpu_milli", cpu, "memory", "16Gi", "gpus", gpus);
  if (milli)
    json_object_set_new(res, "gpu_milli", json_integer(milli));
  spec = json_pack("{s:s, s:[s], s:i, s:o, s:i}", "name", name, "command", "true", "tasks",
                   tasks, "resources", res, "priority", lcg(seed) % 20 == 0 ? 10 : 0);
  if (gpus > 0 && lcg(seed) % 5 == 0)
    json_object_set_new(spec, "models", json_pack("[s]", lcg(seed) % 2 ? "H800" : "A100-80G"));
  text = json_dumps(spec, JSON_COMPACT);
  json_decref(spec);
  *ntasks = tasks;
  return text;
}

/* Writes nodes and pending jobs to a fresh store through the store API. */
static int fill_store(struct sc_store *st, const struct cfg *cfg)
{
  struct sc_store_batch *b = sc_store_batch_new();
  int64_t now = sc_clock_wall_ms();
  unsigned seed = 12345;
  int rc;

  for (int i = 0; i < cfg->nodes; i++) {
    struct sc_store_op op = {.kind = SC_STORE_NODE_PUT};
    struct sc_device_rec dev[8];
    struct sc_node_rec *n = &op.u.node;
    snprintf(n->name, sizeof n->name, "node-%03d", i);
    snprintf(n->address, sizeof n->address, "127.0.0.1");
    n->cpu_milli = 96000;
    n->memory_mib = 1024 * 1024;
    n->labels = "{}";
    n->ndev = 8;
    n->dev = dev;
    for (int d = 0; d < 8; d++) {
      dev[d].index = d;
      snprintf(dev[d].vendor, sizeof dev[d].vendor, "nvidia");
      snprintf(dev[d].model, sizeof dev[d].model, "%s", node_model(cfg, i, d));
      dev[d].memory_mib = 81920;
    }
    n->state = SC_NODE_READY;
    n->last_heartbeat_ms = n->registered_ms = now;
    sc_store_batch_add(b, &op);
  }
  for (int i = 0; i < cfg->jobs; i++) {
    struct sc_store_op op = {.kind = SC_STORE_JOB_INSERT};
    struct sc_job_rec *j = &op.u.job;
    j->id = i + 1;
    snprintf(j->name, sizeof j->name, "sched-%d", i);
    snprintf(j->tenant, sizeof j->tenant, "default");
    if (i == 0 && cfg->gang > 0) { /* one gang of whole nodes first */
      char text[256];
      snprintf(text, sizeof text,
               "{\"name\": \"gang\", \"command\": [\"true\"], \"tasks\": %d, "
               "\"resources\": {\"gpus\": 8, \"cpu_milli\": 8000, \"memory\": \"64Gi\"}}",
               cfg->gang);
      j->spec = strdup(text);
      j->ntasks = cfg->gang;
    } else {
      j->spec = job_spec(i, &seed, &j->ntasks);
    }
    j->state = SC_JOB_PENDING;
    j->created_ms = now;
    sc_store_batch_add(b, &op);
    free(j->spec);
  }
  rc = sc_store_write(st, b);
  sc_store_batch_free(b);
  return rc;
}

/* Waits until the controller has run more than `passes` passes. */
static void wait_passes(struct sc_ctl *c, uint64_t passes, struct sc_ctl_stats *out)
{
  int64_t deadline = bh_mono_ns() + 20 * (int64_t)1000000000;

  do {
    sc_ctl_stats(c, out);
    if (out->passes > passes)
      return;
    bh_sleep_ms(1);
  } while (bh_mono_ns() < deadline);
  fprintf(stderr, "bench_sched: no scheduling pass within 20 s\n");
  exit(1);
}

/* Assignments published to agents (durable): tasks in the start queues. */
static int published(struct sc_ctl *c)
{
  int n = 0;

  pthread_mutex_lock(&c->mu);
  for (int i = 0; i < c->nnodes; i++)
    n += c->nodes[i].start_q.n;
  pthread_mutex_unlock(&c->mu);
  return n;
}

struct rep {
  double first_ms, publish_ms, steady_ms;
  int pending, placed_jobs, placed_tasks, still_pending;
};

static int cmp_d(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;

  return x < y ? -1 : x > y;
}

static int run_rep(const struct cfg *cfg, struct rep *r)
{
  struct sc_ctl_opts opts = {.policy = sc_policy_find(cfg->policy)};
  struct sc_ctl_stats st;
  struct sc_store *store;
  struct sc_ctl *c;
  char *tmp = bh_tmpdir("sched"), path[600];
  double steady[STEADY_PASSES];
  int64_t t0;
  int rc, tasks_total = 0;

  snprintf(path, sizeof path, "%s/supercell.db", tmp);
  if ((rc = sc_store_open(&sc_store_sqlite, path, &store)) < 0 || (rc = fill_store(store, cfg)) < 0 ||
      (rc = sc_ctl_new(&opts, store, &c)) < 0) {
    fprintf(stderr, "bench_sched: setup failed: %s\n", sc_strerror(rc));
    return rc;
  }
  for (int i = 0; i < c->njobs; i++)
    tasks_total += c->jobs[i]->ntasks;
  t0 = bh_mono_ns();
  sc_ctl_start(c);
  wait_passes(c, 0, &st);
  r->first_ms = st.last_pass_ms;
  r->pending = st.last_pending;
  r->placed_jobs = (int)st.placed;
  r->placed_tasks = 0;
  pthread_mutex_lock(&c->mu);
  for (int i = 0; i < c->njobs; i++)
    if (c->jobs[i]->state == SC_JOB_RUNNING)
      r->placed_tasks += c->jobs[i]->ntasks;
  pthread_mutex_unlock(&c->mu);
  while (published(c) < r->placed_tasks && bh_mono_ns() - t0 < 20 * (int64_t)1000000000)
    bh_sleep_ms(1);
  r->publish_ms = (double)(bh_mono_ns() - t0) / 1e6;
  /* Steady state: passes over the jobs that did not fit (none when all
   * fit: a pass over nothing does not run). */
  memset(steady, 0, sizeof steady);
  r->still_pending = 0;
  for (int k = 0; k < STEADY_PASSES && r->placed_jobs < r->pending; k++) {
    uint64_t before;
    sc_ctl_stats(c, &st);
    before = st.passes;
    pthread_mutex_lock(&c->mu);
    ctl_notify_locked(c);
    pthread_mutex_unlock(&c->mu);
    wait_passes(c, before, &st);
    steady[k] = st.last_pass_ms;
    r->still_pending = st.last_pending;
  }
  qsort(steady, STEADY_PASSES, sizeof *steady, cmp_d);
  r->steady_ms = steady[STEADY_PASSES / 2];
  (void)tasks_total;
  sc_ctl_stop(c);
  sc_ctl_free(c);
  sc_store_close(store);
  bh_rm_rf(tmp);
  return 0;
}

int main(int argc, char **argv)
{
  struct cfg cfg = {.reps = 7, .nodes = 100, .jobs = 1000, .policy = "fgd"};
  struct rep reps[MAX_REPS];
  double first[MAX_REPS], steady[MAX_REPS], publish[MAX_REPS];

  for (int i = 1; i < argc; i++) {
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(argv[i], "--reps") == 0 && v)
      cfg.reps = atoi(v), i++;
    else if (strcmp(argv[i], "--nodes") == 0 && v)
      cfg.nodes = atoi(v), i++;
    else if (strcmp(argv[i], "--jobs") == 0 && v)
      cfg.jobs = atoi(v), i++;
    else if (strcmp(argv[i], "--policy") == 0 && v)
      cfg.policy = v, i++;
    else if (strcmp(argv[i], "--mixed") == 0)
      cfg.mixed = true;
    else if (strcmp(argv[i], "--gang") == 0 && v)
      cfg.gang = atoi(v), i++;
    else {
      fprintf(stderr,
              "usage: bench_sched [--reps N] [--nodes N] [--jobs N] [--policy NAME] [--mixed] "
              "[--gang TASKS]\n");
      return 2;
    }
  }
  if (cfg.reps < 1 || cfg.reps > MAX_REPS || !sc_policy_find(cfg.policy)) {
    fprintf(stderr, "bench_sched: bad --reps or --policy\n");
    return 2;
  }
  sc_log_setup(SC_LOG_WARN, "bench");
  printf("== Scheduling pass: controller code path (store -> sc_ctl_new -> scheduling thread), "
         "%d nodes x 8 devices%s, %d pending jobs, policy %s ==\n",
         cfg.nodes, cfg.mixed ? " (4 A100-80G + 4 H800 each)" : "", cfg.jobs, cfg.policy);
  for (int i = 0; i < cfg.reps; i++) {
    if (run_rep(&cfg, &reps[i]) < 0)
      return 1;
    first[i] = reps[i].first_ms;
    steady[i] = reps[i].steady_ms;
    publish[i] = reps[i].publish_ms;
    if (bh_tty()) {
      printf("\r  repetition %d/%d: %.2f ms", i + 1, cfg.reps, first[i]);
      fflush(stdout);
    }
  }
  if (bh_tty())
    printf("\n");
  printf("pending %d jobs -> placed %d jobs (%d tasks), %d still pending\n", reps[0].pending,
         reps[0].placed_jobs, reps[0].placed_tasks, reps[0].still_pending);
  qsort(first, (size_t)cfg.reps, sizeof *first, cmp_d);
  qsort(steady, (size_t)cfg.reps, sizeof *steady, cmp_d);
  qsort(publish, (size_t)cfg.reps, sizeof *publish, cmp_d);
  printf("pass over %d pending (places what fits): median %.2f ms, min %.2f, max %.2f"
         " (%d reps; target < 10 ms)\n",
         reps[0].pending, first[cfg.reps / 2], first[0], first[cfg.reps - 1], cfg.reps);
  printf("pass over the %d that do not fit (steady state): median %.2f ms, min %.2f, max %.2f\n",
         reps[0].still_pending, steady[cfg.reps / 2], steady[0], steady[cfg.reps - 1]);
  printf("start -> pass -> durable commit -> assignments published: median %.1f ms\n",
         publish[cfg.reps / 2]);
  return 0;
}
