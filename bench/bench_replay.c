/*
 * Production replays the simulator (bench/replay-openb.sh): one experiment
 * of `supercell sim` (workload, policy, seed) is run in-process, then the
 * same tasks go to a real controller, in the same order and shapes, on an
 * emulated fleet of the same nodes, each task running forever. The
 * controller's placements are read back through the API and measured with
 * the simulator's own metrics (sc_experiment_run over given placements),
 * so the two curves come from one reducer and differ only if placements
 * do.
 *
 * What makes them comparable:
 * - nodes: the experiment's GPU nodes, emulated by one `supercell agent
 *   --emulate-nodes`, named replay-00001... in the experiment's rank order;
 *   the controller breaks ties by node name, the simulator by rank;
 * - FGD's target: `--fgd-target` with the workload's pod list, counted as
 *   the simulator counts it;
 * - failures: the simulator fails a task that fits nowhere for good; the
 *   controller keeps it pending (and reserves nodes for it). Tasks are
 *   sent in chunks that end at each task the simulator failed; once the
 *   chunk is decided, that task must be pending, and it is cancelled.
 *
 * Usage: bench_replay [--supercell PATH] [--data DIR] [--workload default]
 *                     [--policy fgd] [--seed 42] [--tasks N] [--csv FILE]
 *                     [--fgd-target window]
 * --fgd-target window leaves FGD's target to the controller's window of
 * recent tasks (its default), to show what a fixed target changes.
 * Exit 0 when every placement and both curves (allocation and
 * fragmentation, every arrival percentage) are equal within 0.01 points.
 */
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "sim/experiment.h"
#include "sim/trace.h"
#include "util/error.h"

struct cfg {
  const char *supercell, *data, *workload, *policy, *csv;
  int64_t seed;
  long tasks; /* 0 = all */
  bool window; /* FGD's target from the controller's window, not the trace */
};

struct replay {
  const struct cfg *cfg;
  struct sc_workload w;
  struct sc_experiment_plan plan;
  struct sc_experiment_result sim;
  size_t n;                  /* tasks replayed */
  int *node_of_rank;         /* emulated node k (rank order) -> cluster node */
  int *rank_of_node;         /* cluster node -> k */
  struct sc_placement *ctl;  /* the controller's, per task */
  char (*job)[32];           /* job id per task */
  struct bh_server srv;
  pid_t emulator;
  CURL *h;
  struct curl_slist *headers;
  struct bh_buf out;
  char tmp[512];
};

static void die(const char *what)
{
  fprintf(stderr, "bench_replay: %s\n", what);
  exit(2);
}

static int parse_args(int argc, char **argv, struct cfg *c)
{
  *c = (struct cfg){.workload = "default", .policy = "fgd", .seed = 42};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) {
      fprintf(stderr, "bench_replay: %s needs a value\n", a);
      return -1;
    }
    if (strcmp(a, "--supercell") == 0)
      c->supercell = v;
    else if (strcmp(a, "--data") == 0)
      c->data = v;
    else if (strcmp(a, "--workload") == 0)
      c->workload = v;
    else if (strcmp(a, "--policy") == 0)
      c->policy = v;
    else if (strcmp(a, "--seed") == 0)
      c->seed = atoll(v);
    else if (strcmp(a, "--tasks") == 0)
      c->tasks = atol(v);
    else if (strcmp(a, "--csv") == 0)
      c->csv = v;
    else if (strcmp(a, "--fgd-target") == 0 && strcmp(v, "window") == 0)
      c->window = true;
    else {
      fprintf(stderr, "bench_replay: unknown option %s\n", a);
      return -1;
    }
    i++;
  }
  return 0;
}

/* The simulator's side: the workload, its plan and its placements. */
static void simulate(struct replay *r, const char *nodes_path, const char *pods_path,
                     const struct sc_experiment_opts *opts)
{
  struct sc_trace_nodes nodes;
  struct sc_trace_pods pods;
  struct sc_rng rng;
  char err[512];

  if (sc_trace_read_nodes(nodes_path, &nodes, err, sizeof err) < 0 ||
      sc_trace_read_pods(pods_path, &pods, err, sizeof err) < 0 ||
      sc_workload_init(&r->w, r->cfg->workload, &nodes, &pods, 1, err, sizeof err) < 0)
    die(err);
  sc_trace_nodes_release(&nodes);
  sc_trace_pods_release(&pods);
  if (sc_experiment_plan(&r->w, opts, &rng, &r->plan) < 0 ||
      sc_experiment_run(&r->w, opts, &r->sim) < 0)
    die("out of memory");
  r->n = r->cfg->tasks > 0 && (size_t)r->cfg->tasks < r->plan.n ? (size_t)r->cfg->tasks
                                                                : r->plan.n;
  r->node_of_rank = calloc(r->w.cluster.nnodes, sizeof *r->node_of_rank);
  r->rank_of_node = calloc(r->w.cluster.nnodes, sizeof *r->rank_of_node);
  r->ctl = calloc(r->plan.n, sizeof *r->ctl);
  r->job = calloc(r->plan.n, sizeof *r->job);
  if (!r->node_of_rank || !r->rank_of_node || !r->ctl || !r->job)
    die("out of memory");
  /* Ranks are a permutation of 0..n-1 (Go's Perm). */
  for (size_t i = 0; i < r->w.cluster.nnodes; i++) {
    r->node_of_rank[r->plan.ranks[i]] = (int)i;
    r->rank_of_node[i] = (int)r->plan.ranks[i];
  }
  for (size_t i = 0; i < r->plan.n; i++)
    r->ctl[i].node = -1;
}

/* The experiment's GPU nodes in rank order, as an OpenB node list. */
static void write_nodes(const struct replay *r, const char *path)
{
  const struct sc_cluster *cl = &r->w.cluster;
  FILE *f = fopen(path, "w");

  if (!f)
    die("cannot write the node list");
  fprintf(f, "sn,cpu_milli,memory_mib,gpu,model\n");
  for (size_t k = 0; k < cl->nnodes; k++) {
    const struct sc_node *n = &cl->nodes[r->node_of_rank[k]];
    fprintf(f, "%s,%lld,%lld,%d,%s\n", n->name, (long long)n->cpu_cap, (long long)n->mem_cap,
            n->gpu_count, n->model >= 0 ? cl->models[n->model] : "");
  }
  fclose(f);
}

static json_t *call(struct replay *r, const char *method, const char *path, const char *body,
                    long want)
{
  char url[512];
  long st;
  json_t *doc;

  snprintf(url, sizeof url, "%s%s", r->srv.url, path);
  st = bh_curl_call(r->h, url, body, &r->out);
  if (st != want) {
    fprintf(stderr, "bench_replay: %s %s: HTTP %ld: %s\n", method, path, st,
            r->out.data ? r->out.data : "");
    exit(2);
  }
  doc = json_loads(r->out.data ? r->out.data : "null", JSON_DECODE_ANY, NULL);
  if (!doc)
    die("a reply is not JSON");
  return doc;
}

static int ready_nodes(struct replay *r)
{
  json_t *doc = call(r, "GET", "/v1/nodes", NULL, 200), *nodes = json_object_get(doc, "nodes");
  size_t i;
  json_t *n;
  int ready = 0;

  json_array_foreach(nodes, i, n)
    ready += strcmp(json_string_value(json_object_get(n, "state")) ?: "", "ready") == 0;
  json_decref(doc);
  return ready;
}

/* One task as a job that runs forever, with the pod's exact shape. */
static void submit(struct replay *r, size_t i)
{
  const struct sc_trace_pod *p = &r->w.pods[r->plan.order[i]];
  json_t *res = json_pack("{s:I, s:I}", "cpu_milli", (json_int_t)p->cpu_milli, "memory",
                          (json_int_t)p->memory_mib);
  json_t *models = json_array(), *spec, *reply;
  char *body, name[32];

  if (p->cpu_milli < 1)
    die("a task asks no CPU: the controller's jobs ask at least 1 milli-CPU");
  if (p->num_gpu == 1 && p->gpu_milli < 1000)
    json_object_set_new(res, "gpu_milli", json_integer(p->gpu_milli));
  else
    json_object_set_new(res, "gpus", json_integer(p->num_gpu));
  for (const char *s = p->spec; *s;) {
    size_t len = strcspn(s, "|");
    if (len > 0)
      json_array_append_new(models, json_stringn(s, len));
    s += len + (s[len] == '|');
  }
  snprintf(name, sizeof name, "t%05zu", i);
  spec = json_pack("{s:s, s:[s,s], s:o, s:o}", "name", name, "command", "sleep", "infinity",
                   "resources", res, "models", models);
  body = json_dumps(spec, JSON_COMPACT);
  reply = call(r, "POST", "/v1/jobs", body, 201);
  snprintf(r->job[i], sizeof r->job[i], "%s", json_string_value(json_object_get(reply, "id")));
  free(body);
  json_decref(spec);
  json_decref(reply);
}

/* Reads task 0 of job i: its placement into r->ctl[i]; true when the
 * controller has decided it (placed, or pending with a reason). */
static bool read_job(struct replay *r, size_t i, bool *pending)
{
  char path[64];
  json_t *doc, *task, *devs, *d;
  const char *node, *reason, *state;
  size_t k;
  bool decided;

  snprintf(path, sizeof path, "/v1/jobs/%s", r->job[i]);
  doc = call(r, "GET", path, NULL, 200);
  task = json_array_get(json_object_get(doc, "tasks"), 0);
  node = json_string_value(json_object_get(task, "node"));
  reason = json_string_value(json_object_get(doc, "pending_reason"));
  state = json_string_value(json_object_get(doc, "state")) ?: "";
  *pending = strcmp(state, "pending") == 0 && !node;
  decided = node || (reason && *reason);
  r->ctl[i] = (struct sc_placement){.node = -1};
  if (node) {
    int k_rank = -1;
    if (sscanf(node, "replay-%d", &k_rank) != 1 || k_rank < 1 ||
        (size_t)k_rank > r->w.cluster.nnodes)
      die("a task is on a node the replay did not start");
    r->ctl[i].node = r->node_of_rank[k_rank - 1];
    devs = json_object_get(task, "devices");
    json_array_foreach(devs, k, d)
      if (r->ctl[i].ndev < SC_MAX_GPUS)
        r->ctl[i].dev[r->ctl[i].ndev++] = (int8_t)json_integer_value(d);
  }
  json_decref(doc);
  return decided;
}

static void cancel(struct replay *r, size_t i)
{
  char path[64];

  snprintf(path, sizeof path, "/v1/jobs/%s/cancel", r->job[i]);
  json_decref(call(r, "POST", path, "{}", 200));
}

/* Sends the tasks in chunks ending at each task the simulator failed. */
static int replay_tasks(struct replay *r)
{
  size_t start = 0, held_placed = 0;
  int64_t t0 = bh_mono_ns();

  while (start < r->n) {
    size_t end = start;
    bool pending = false;
    while (end + 1 < r->n && r->sim.placed[end].node >= 0)
      end++;
    for (size_t i = start; i <= end; i++)
      submit(r, i);
    for (int tries = 0; !read_job(r, end, &pending); tries++) {
      if (tries > 30000) {
        fprintf(stderr, "bench_replay: task %zu, job %s, undecided: %s\n", end, r->job[end],
                r->out.data ? r->out.data : "");
        die("the controller decides nothing (see the server log)");
      }
      bh_sleep_ms(1);
    }
    if (r->sim.placed[end].node < 0 && pending)
      cancel(r, end); /* failed in both: it ends, as in the simulator */
    else if (r->sim.placed[end].node < 0)
      held_placed++;
    start = end + 1;
    if (bh_tty()) {
      double s = (double)(bh_mono_ns() - t0) / 1e9;
      printf("\r  replayed %zu/%zu tasks (%.0f/s)   ", start, r->n, (double)start / s);
      fflush(stdout);
    }
  }
  if (bh_tty())
    printf("\n");
  return (int)held_placed;
}

/* Compares placements; prints the first differences. */
static size_t compare_placements(struct replay *r)
{
  size_t diff = 0;

  for (size_t i = 0; i < r->n; i++) {
    bool pending;
    const struct sc_placement *a = &r->sim.placed[i], *b;
    (void)read_job(r, i, &pending);
    b = &r->ctl[i];
    if (a->node == b->node && a->ndev == b->ndev &&
        memcmp(a->dev, b->dev, (size_t)a->ndev * sizeof a->dev[0]) == 0)
      continue;
    if (diff++ < 5)
      fprintf(stderr, "  task %zu (%s): simulator %s%05d, controller %s%05d\n", i, r->job[i],
              a->node >= 0 ? "replay-" : "none ", a->node >= 0 ? r->rank_of_node[a->node] + 1 : 0,
              b->node >= 0 ? "replay-" : "none ", b->node >= 0 ? r->rank_of_node[b->node] + 1 : 0);
  }
  return diff;
}

int main(int argc, char **argv)
{
  struct cfg cfg;
  struct replay r = {.cfg = &cfg};
  struct sc_experiment_opts opts = {.tune = 1.3, .skip_draws = 10, .record = true};
  struct sc_experiment_result sim_m, ctl_m;
  struct sc_placement *given;
  char nodes_path[700], pods_path[700], rank_nodes[700], state[700], log[700], token[800];
  double max_alloc = 0, max_frag = 0;
  size_t diff;
  int held, ready = 0, cols = 0;
  FILE *csv = NULL;

  if (parse_args(argc, argv, &cfg) < 0)
    return 2;
  if (!cfg.data) { /* the source tree's copy of the trace */
    static char dir[600];
    const char *src = getenv("SC_SOURCE_DIR");
    snprintf(dir, sizeof dir, "%s/data/openb", src && *src ? src : ".");
    cfg.data = dir;
  }
  if (!(opts.policy = sc_policy_find(cfg.policy)))
    die("unknown policy");
  opts.seed = cfg.seed;
  snprintf(nodes_path, sizeof nodes_path, "%s/openb_node_list_gpu_node.csv", cfg.data);
  snprintf(pods_path, sizeof pods_path, "%s/openb_pod_list_%s.csv", cfg.data, cfg.workload);
  simulate(&r, nodes_path, pods_path, &opts);
  printf("== Replay: %s, policy %s, seed %lld: %zu of %zu tasks on %zu emulated nodes ==\n",
         cfg.workload, cfg.policy, (long long)cfg.seed, r.n, r.plan.n, r.w.cluster.nnodes);

  curl_global_init(CURL_GLOBAL_DEFAULT);
  snprintf(r.tmp, sizeof r.tmp, "%s", bh_tmpdir("replay"));
  snprintf(rank_nodes, sizeof rank_nodes, "%s/nodes-by-rank.csv", r.tmp);
  snprintf(state, sizeof state, "%s/state", r.tmp);
  snprintf(log, sizeof log, "%s/emulator.log", r.tmp);
  snprintf(token, sizeof token, "%s/agent.token", state);
  write_nodes(&r, rank_nodes);
  {
    const char *fgd[] = {"--policy", cfg.policy, "--fgd-target", pods_path, NULL};
    const char *other[] = {"--policy", cfg.policy, NULL};
    if (bh_server_start(&r.srv, bh_supercell_path(cfg.supercell), state,
                        strcmp(cfg.policy, "fgd") == 0 && !cfg.window ? fgd : other,
                        20000) < 0)
      die("the controller did not start");
  }
  {
    const char *args[] = {"agent", "--server", r.srv.url, "--token-file", token,
                          "--emulate-nodes", rank_nodes, "--emulate-prefix", "replay",
                          "--log-level", "warn", NULL};
    r.emulator = bh_spawn(bh_supercell_path(cfg.supercell), args, log);
  }
  r.h = bh_curl_new(r.srv.token, &r.headers, &r.out);
  for (int i = 0; i < 3000 && (ready = ready_nodes(&r)) < (int)r.w.cluster.nnodes; i++)
    bh_sleep_ms(10);
  if (ready < (int)r.w.cluster.nnodes)
    die("the emulated nodes did not all register");

  held = replay_tasks(&r);
  diff = compare_placements(&r);

  /* Both sides measured by the simulator's reducer over the same tasks
   * (those past --tasks fail on both). */
  given = calloc(r.plan.n, sizeof *given);
  if (!given)
    die("out of memory");
  opts.record = false;
  opts.given = given;
  for (size_t i = 0; i < r.plan.n; i++)
    given[i] = i < r.n ? r.sim.placed[i] : (struct sc_placement){.node = -1};
  if (sc_experiment_run(&r.w, &opts, &sim_m) < 0)
    die("out of memory");
  for (size_t i = 0; i < r.plan.n; i++)
    given[i] = i < r.n ? r.ctl[i] : (struct sc_placement){.node = -1};
  if (sc_experiment_run(&r.w, &opts, &ctl_m) < 0)
    die("out of memory");

  if (cfg.csv && !(csv = fopen(cfg.csv, "w")))
    die("cannot write the CSV file");
  if (csv)
    fprintf(csv, "arrived_pct,sim_alloc_pct,ctl_alloc_pct,sim_frag_pct,ctl_frag_pct\n");
  printf("%8s %12s %12s %12s %12s\n", "arrived", "sim alloc", "ctl alloc", "sim frag",
         "ctl frag");
  for (int k = 0; k < SC_SIM_NCOLS; k++) {
    double a = sim_m.alloc[k], b = ctl_m.alloc[k], fa = sim_m.frag_amount[k],
           fb = ctl_m.frag_amount[k];
    if (isnan(a) && isnan(b))
      continue;
    cols++;
    if (isnan(a) != isnan(b))
      max_alloc = INFINITY;
    else if (fabs(a - b) > max_alloc)
      max_alloc = fabs(a - b);
    if (!isnan(fa) && !isnan(fb) && fabs(fa - fb) > max_frag)
      max_frag = fabs(fa - fb);
    if (csv)
      fprintf(csv, "%d,%.2f,%.2f,%.2f,%.2f\n", k, a, b, fa, fb);
    if (k % 10 == 0)
      printf("%7d%% %11.2f%% %11.2f%% %11.2f%% %11.2f%%\n", k, a, b, fa, fb);
  }
  if (csv)
    fclose(csv);
  printf("placements: %zu of %zu differ; tasks the simulator failed but the controller "
         "placed: %d\n",
         diff, r.n, held);
  printf("curves over %d arrival percentages: max |diff| allocation %.2f points, "
         "fragmentation %.2f points\n",
         cols, max_alloc, max_frag);

  bh_kill_wait(r.emulator, SIGTERM, 5000);
  bh_server_kill(&r.srv, SIGTERM, 5000);
  curl_easy_cleanup(r.h);
  curl_slist_free_all(r.headers);
  bh_buf_free(&r.out);
  bh_rm_rf(r.tmp);
  sc_experiment_result_release(&sim_m);
  sc_experiment_result_release(&ctl_m);
  sc_experiment_result_release(&r.sim);
  sc_experiment_plan_release(&r.plan);
  sc_workload_release(&r.w);
  free(given);
  free(r.ctl);
  free(r.job);
  free(r.node_of_rank);
  free(r.rank_of_node);
  if (diff == 0 && held == 0 && max_alloc <= 0.01 && max_frag <= 0.01) {
    printf("equal: the controller placed every task where the simulator did\n");
    return 0;
  }
  printf("NOT EQUAL\n");
  return 1;
}
