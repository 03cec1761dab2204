/*
 * `supercell sim`: runs the FGD paper's experiment matrix (workloads x
 * policies x seeds) on a pool of threads, shows progress on a terminal and
 * writes the tables and plots. Output order is fixed by the matrix, not by
 * completion, so any --jobs gives byte-identical files.
 */
#include "sim/sim_cmd.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sim/experiment.h"
#include "util/progress.h"
#include "sim/report.h"
#include "util/clock.h"
#include "util/error.h"

#ifndef SC_DATA_DIR
#define SC_DATA_DIR "data"
#endif

static const char *const paper_workloads[] = {
  "default",    "cpu050",     "cpu100",     "cpu200",     "cpu250",     "gpushare40",
  "gpushare60", "gpushare80", "gpushare100", "gpuspec10", "gpuspec20",  "gpuspec25",
  "gpuspec33",  "multigpu20", "multigpu30", "multigpu40", "multigpu50", NULL,
};

#define MAX_ITEMS 64

struct sim_args {
  const char *workloads[MAX_ITEMS];
  int nworkloads;
  const char *pods_file;
  const char *nodes_file;
  const char *data_dir;
  const struct sc_policy *policies[MAX_ITEMS];
  int npolicies;
  long long *seeds;
  int nseeds;
  double tune;
  int scale;
  int jobs;
  int skip_draws;
  const char *out_alloc, *out_frag, *out_ratio, *out_failed, *out_dir, *plot;
  int quiet;
  int check;
};

struct job {
  int workload;
  const struct sc_policy *policy;
  long long seed;
};

struct pool {
  const struct sim_args *args;
  struct sc_workload *workloads;
  struct job *jobs;
  struct sc_sim_run *runs;
  size_t njobs;
  atomic_size_t next;
  atomic_size_t done;
  atomic_int failed;
};

static void usage(FILE *f)
{
  fprintf(f,
    "usage: supercell sim [options]\n"
    "Replays Alibaba OpenB traces against placement policies (the FGD paper's\n"
    "experiment, docs/simulator.md).\n\n"
    "  --workload NAME[,NAME...]|all  data/openb/openb_pod_list_NAME.csv (default: default)\n"
    "  --pods FILE                    a pod list of the same format instead\n"
    "  --nodes FILE                   node list (default: data/openb/openb_node_list_gpu_node.csv)\n"
    "  --data-dir DIR                 where openb/ lives (default: the source tree's data/)\n"
    "  --policy LIST|all              random,dotprod,clustering,packing,bestfit,fgd (default: all)\n"
    "  --seeds RANGE|LIST             e.g. 42-51 or 42,45 (default: 42-51)\n"
    "  --tune RATIO                   arrived GPU demand target / capacity (default: 1.3)\n"
    "  --scale K                      replicate cluster and workload K times (default: 1)\n"
    "  --jobs N                       experiments run at once (default: number of cores)\n"
    "  --out FILE                     allocation table (the paper's analysis_allo_discrete.csv)\n"
    "  --out-frag FILE                fragmentation amount table\n"
    "  --out-frag-ratio FILE          fragmentation ratio table\n"
    "  --out-failed FILE              failed tasks, grouped\n"
    "  --out-dir DIR                  all four tables as DIR/alloc.csv, frag.csv, ...\n"
    "  --plot FILE.svg                Figure 9(a); with several workloads also FILE-bars.svg\n"
    "  --quiet                        no summary on stdout\n"
    "  --check                        verify the engine's invariants after every task (slow)\n"
    "  --help                         this text\n");
}

static int split_list(char *text, const char **items, int max, const char *what)
{
  int n = 0;

  for (char *save = NULL, *tok = strtok_r(text, ",", &save); tok;
       tok = strtok_r(NULL, ",", &save)) {
    if (n == max) {
      fprintf(stderr, "supercell sim: too many %s (max %d)\n", what, max);
      return -1;
    }
    items[n++] = tok;
  }
  if (n == 0) {
    fprintf(stderr, "supercell sim: empty %s list\n", what);
    return -1;
  }
  return n;
}

static int parse_policies(char *text, struct sim_args *a)
{
  const char *names[MAX_ITEMS];
  int n;

  if (strcmp(text, "all") == 0) {
    for (a->npolicies = 0; sc_policies[a->npolicies]; a->npolicies++)
      a->policies[a->npolicies] = sc_policies[a->npolicies];
    return 0;
  }
  if ((n = split_list(text, names, MAX_ITEMS, "policies")) < 0)
    return -1;
  for (int i = 0; i < n; i++) {
    a->policies[i] = sc_policy_find(names[i]);
    if (!a->policies[i]) {
      fprintf(stderr, "supercell sim: unknown policy '%s' (known:", names[i]);
      for (int k = 0; sc_policies[k]; k++)
        fprintf(stderr, " %s", sc_policies[k]->name);
      fprintf(stderr, ")\n");
      return -1;
    }
  }
  a->npolicies = n;
  return 0;
}

static int parse_ll(const char *text, long long *out)
{
  char *end;

  errno = 0;
  *out = strtoll(text, &end, 10);
  return (end == text || *end || errno) ? -1 : 0;
}

/* "42-51", "42,45,50" or a mix: "42-44,50". */
static int parse_seeds(char *text, struct sim_args *a)
{
  const char *parts[MAX_ITEMS];
  int n = split_list(text, parts, MAX_ITEMS, "seeds");

  for (int i = 0; i < n; i++) {
    char buf[64], *dash;
    long long lo, hi;
    snprintf(buf, sizeof buf, "%s", parts[i]);
    dash = strchr(buf + 1, '-');
    if (dash)
      *dash = '\0';
    if (parse_ll(buf, &lo) < 0 || (dash && parse_ll(dash + 1, &hi) < 0) || (dash && hi < lo) ||
        (dash && hi - lo > 100000)) {
      fprintf(stderr, "supercell sim: bad value for '--seeds': \"%s\"\n", parts[i]);
      return -1;
    }
    if (!dash)
      hi = lo;
    for (long long s = lo; s <= hi; s++) {
      long long *grown = realloc(a->seeds, (size_t)(a->nseeds + 1) * sizeof *grown);
      if (!grown)
        return -1;
      a->seeds = grown;
      a->seeds[a->nseeds++] = s;
    }
  }
  return n < 0 ? -1 : 0;
}

static int parse_number(const char *opt, const char *text, double min, double max, double *out)
{
  char *end;

  errno = 0;
  *out = strtod(text, &end);
  if (end == text || *end || errno || *out < min || *out > max) {
    fprintf(stderr, "supercell sim: bad value for '--%s': \"%s\" (expected %g..%g)\n", opt, text,
            min, max);
    return -1;
  }
  return 0;
}

static int parse_args(int argc, char **argv, struct sim_args *a)
{
  static const struct option opts[] = {
    {"workload", required_argument, 0, 'w'}, {"pods", required_argument, 0, 'p'},
    {"nodes", required_argument, 0, 'n'},    {"data-dir", required_argument, 0, 'D'},
    {"policy", required_argument, 0, 'P'},   {"seeds", required_argument, 0, 's'},
    {"tune", required_argument, 0, 't'},     {"scale", required_argument, 0, 'k'},
    {"jobs", required_argument, 0, 'j'},     {"out", required_argument, 0, 'o'},
    {"out-frag", required_argument, 0, 'f'}, {"out-frag-ratio", required_argument, 0, 'r'},
    {"out-failed", required_argument, 0, 'F'}, {"out-dir", required_argument, 0, 'O'},
    {"plot", required_argument, 0, 'g'},     {"skip-draws", required_argument, 0, 'S'},
    {"quiet", no_argument, 0, 'q'},          {"help", no_argument, 0, 'h'},
    {"check", no_argument, 0, 'c'},
    {0, 0, 0, 0},
  };
  char seeds_default[] = "42-51", policy_default[] = "all";
  double v;
  int c;

  a->tune = 1.3;
  a->scale = 1;
  a->skip_draws = 10;
  a->data_dir = SC_DATA_DIR;
  a->jobs = (int)sysconf(_SC_NPROCESSORS_ONLN);
  optind = 1;
  while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
    switch (c) {
    case 'w':
      if (strcmp(optarg, "all") == 0) {
        for (a->nworkloads = 0; paper_workloads[a->nworkloads]; a->nworkloads++)
          a->workloads[a->nworkloads] = paper_workloads[a->nworkloads];
      } else if ((a->nworkloads = split_list(optarg, a->workloads, MAX_ITEMS, "workloads")) < 0) {
        return 2;
      }
      break;
    case 'p': a->pods_file = optarg; break;
    case 'n': a->nodes_file = optarg; break;
    case 'D': a->data_dir = optarg; break;
    case 'P': if (parse_policies(optarg, a) < 0) return 2; break;
    case 's': if (parse_seeds(optarg, a) < 0) return 2; break;
    case 't': if (parse_number("tune", optarg, 0.01, 100, &a->tune) < 0) return 2; break;
    case 'k':
      if (parse_number("scale", optarg, 1, 10000, &v) < 0) return 2;
      a->scale = (int)v;
      break;
    case 'j':
      if (parse_number("jobs", optarg, 1, 1024, &v) < 0) return 2;
      a->jobs = (int)v;
      break;
    case 'S':
      if (parse_number("skip-draws", optarg, 0, 1000, &v) < 0) return 2;
      a->skip_draws = (int)v;
      break;
    case 'o': a->out_alloc = optarg; break;
    case 'f': a->out_frag = optarg; break;
    case 'r': a->out_ratio = optarg; break;
    case 'F': a->out_failed = optarg; break;
    case 'O': a->out_dir = optarg; break;
    case 'g': a->plot = optarg; break;
    case 'q': a->quiet = 1; break;
    case 'c': a->check = 1; break;
    case 'h': usage(stdout); return 1;
    default: usage(stderr); return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "supercell sim: unexpected argument '%s'\n", argv[optind]);
    return 2;
  }
  if (a->pods_file && a->nworkloads > 0) {
    fprintf(stderr, "supercell sim: use either --workload or --pods\n");
    return 2;
  }
  if (!a->pods_file && a->nworkloads == 0) {
    a->workloads[0] = "default";
    a->nworkloads = 1;
  }
  if (a->pods_file) {
    a->workloads[0] = a->pods_file;
    a->nworkloads = 1;
  }
  if (a->npolicies == 0)
    parse_policies(policy_default, a);
  if (a->nseeds == 0 && parse_seeds(seeds_default, a) < 0)
    return 2;
  if (a->jobs < 1)
    a->jobs = 1;
  return 0;
}

/* Bare workload name of a pod file: ".../openb_pod_list_NAME.csv" -> NAME. */
static const char *bare_name(const char *path)
{
  static __thread char buf[64];
  const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
  size_t len;

  if (strncmp(base, "openb_pod_list_", 15) == 0)
    base += 15;
  len = strcspn(base, ".");
  snprintf(buf, sizeof buf, "%.*s", (int)(len < 63 ? len : 63), base);
  return buf;
}

static int load_workloads(const struct sim_args *a, struct sc_workload *w)
{
  char path[4096], nodes_path[4096], err[512];
  struct sc_trace_nodes nodes;
  int rc;

  snprintf(nodes_path, sizeof nodes_path, "%s",
           a->nodes_file ? a->nodes_file : "");
  if (!a->nodes_file)
    snprintf(nodes_path, sizeof nodes_path, "%s/openb/openb_node_list_gpu_node.csv", a->data_dir);
  if ((rc = sc_trace_read_nodes(nodes_path, &nodes, err, sizeof err)) < 0) {
    fprintf(stderr, "supercell sim: %s\n", err);
    return rc;
  }
  for (int i = 0; i < a->nworkloads; i++) {
    struct sc_trace_pods pods;
    if (a->pods_file)
      snprintf(path, sizeof path, "%s", a->pods_file);
    else
      snprintf(path, sizeof path, "%s/openb/openb_pod_list_%s.csv", a->data_dir, a->workloads[i]);
    rc = sc_trace_read_pods(path, &pods, err, sizeof err);
    if (rc == 0) {
      rc = sc_workload_init(&w[i], a->pods_file ? bare_name(path) : a->workloads[i], &nodes,
                            &pods, a->scale, err, sizeof err);
      if (rc < 0)
        fprintf(stderr, "supercell sim: %s: %s\n", path, err);
      sc_trace_pods_release(&pods);
    } else {
      fprintf(stderr, "supercell sim: %s\n", err);
    }
    if (rc < 0) {
      for (int k = 0; k < i; k++)
        sc_workload_release(&w[k]);
      break;
    }
  }
  sc_trace_nodes_release(&nodes);
  return rc;
}

static void *worker(void *arg)
{
  struct pool *p = arg;

  for (;;) {
    size_t i = atomic_fetch_add(&p->next, 1);
    struct sc_experiment_opts o;
    const struct job *j;
    struct sc_sim_run *run;
    if (i >= p->njobs || atomic_load(&p->failed))
      break;
    j = &p->jobs[i];
    run = &p->runs[i];
    o = (struct sc_experiment_opts){.policy = j->policy, .seed = j->seed,
                                    .tune = p->args->tune,
                                    .skip_draws = p->args->skip_draws,
                                    .check = p->args->check};
    run->workload = p->workloads[j->workload].name;
    run->policy = j->policy->name;
    run->tune = p->args->tune;
    run->seed = j->seed;
    run->total_gpus = p->workloads[j->workload].total_gpus;
    run->rc = sc_experiment_run(&p->workloads[j->workload], &o, &run->result);
    if (run->rc < 0)
      atomic_store(&p->failed, 1);
    atomic_fetch_add(&p->done, 1);
  }
  return NULL;
}

static int run_pool(struct pool *p, int nthreads, bool show_progress)
{
  pthread_t tids[256];
  struct sc_progress bar;
  int started = 0;

  if (nthreads > 256)
    nthreads = 256;
  if ((size_t)nthreads > p->njobs)
    nthreads = (int)p->njobs;
  sc_progress_start(&bar, "experiments", p->njobs, show_progress);
  for (int i = 0; i < nthreads; i++)
    if (pthread_create(&tids[i], NULL, worker, p) == 0)
      started++;
  if (started == 0)
    worker(p);
  while (atomic_load(&p->done) < p->njobs && !atomic_load(&p->failed) && started > 0) {
    sc_progress_update(&bar, atomic_load(&p->done));
    usleep(100 * 1000);
  }
  for (int i = 0; i < started; i++)
    pthread_join(tids[i], NULL);
  sc_progress_finish(&bar, atomic_load(&p->done));
  return atomic_load(&p->failed) ? SC_ESTATE : 0;
}


static int write_file(const char *path, const struct sc_sim_run *runs, size_t n, int kind)
{
  FILE *f = fopen(path, "w");
  int rc;

  if (!f) {
    fprintf(stderr, "supercell sim: %s: cannot write: %s\n", path, strerror(errno));
    return SC_EIO;
  }
  if (kind == 3)
    rc = sc_report_write_failed(f, runs, n);
  else if (kind == 4)
    rc = sc_report_plot_alloc(f, runs[0].workload, runs, n);
  else if (kind == 5)
    rc = sc_report_plot_bars(f, runs, n);
  else
    rc = sc_report_write_table(f, (enum sc_report_table)kind, runs, n);
  if (fclose(f) != 0 || rc < 0) {
    fprintf(stderr, "supercell sim: %s: write error\n", path);
    return SC_EIO;
  }
  return 0;
}

static int write_outputs(const struct sim_args *a, const struct sc_sim_run *runs, size_t n)
{
  const char *paths[4] = {a->out_alloc, a->out_frag, a->out_ratio, a->out_failed};
  static const char *const dir_names[4] = {"alloc.csv", "frag.csv", "frag_ratio.csv",
                                           "failed.csv"};
  char buf[4][4096];
  int rc = 0;

  if (a->out_dir) {
    if (mkdir(a->out_dir, 0777) < 0 && errno != EEXIST) {
      fprintf(stderr, "supercell sim: %s: cannot create: %s\n", a->out_dir, strerror(errno));
      return SC_EIO;
    }
    for (int i = 0; i < 4; i++)
      if (!paths[i]) {
        snprintf(buf[i], sizeof buf[i], "%s/%s", a->out_dir, dir_names[i]);
        paths[i] = buf[i];
      }
  }
  for (int i = 0; i < 4 && rc == 0; i++)
    if (paths[i])
      rc = write_file(paths[i], runs, n, i);
  if (rc == 0 && a->plot) {
    rc = write_file(a->plot, runs, n, 4);
    if (rc == 0 && a->nworkloads > 1) {
      char bars[4096];
      size_t len = strlen(a->plot);
      if (len > 4 && strcmp(a->plot + len - 4, ".svg") == 0)
        len -= 4;
      snprintf(bars, sizeof bars, "%.*s-bars.svg", (int)len, a->plot);
      rc = write_file(bars, runs, n, 5);
    }
  }
  return rc;
}

static void print_summary(const struct sim_args *a, const struct sc_sim_run *runs, size_t n,
                          double wall)
{
  double cpu = 0;

  printf("%-12s %-11s %6s %12s %12s %9s %9s %9s\n", "WORKLOAD", "POLICY", "SEEDS",
         "ALLOC@100%", "ALLOC@130%", "TASKS", "FAILED", "SEC/EXP");
  for (size_t i = 0; i < n; i += (size_t)a->nseeds) {
    double s100 = 0, s130 = 0, sec = 0, failed = 0, tasks = 0;
    int c100 = 0, c130 = 0;
    for (size_t k = i; k < i + (size_t)a->nseeds; k++) {
      const struct sc_experiment_result *r = &runs[k].result;
      if (r->alloc[100] == r->alloc[100]) s100 += r->alloc[100], c100++;
      if (r->alloc[130] == r->alloc[130]) s130 += r->alloc[130], c130++;
      sec += r->seconds;
      failed += (double)r->failed_tasks;
      tasks += (double)r->tasks;
    }
    cpu += sec;
    printf("%-12s %-11s %6d %11.2f%% %11.2f%% %9.0f %9.0f %9.3f\n", runs[i].workload,
           runs[i].policy, a->nseeds, c100 ? s100 / c100 : 0, c130 ? s130 / c130 : 0,
           tasks / a->nseeds, failed / a->nseeds, sec / a->nseeds);
  }
  printf("%zu experiments in %.2f s wall (%.2f s of experiment time, %d jobs)\n", n, wall, cpu,
         a->jobs);
}

int sc_cmd_sim(int argc, char **argv)
{
  struct sim_args a;
  struct pool p;
  struct sc_workload w[MAX_ITEMS];
  double t0, t1;
  int rc;

  memset(&a, 0, sizeof a);
  rc = parse_args(argc, argv, &a);
  if (rc != 0) {
    free(a.seeds);
    return rc == 1 ? 0 : rc;
  }
  t0 = sc_clock_mono_msf();
  if (load_workloads(&a, w) < 0) {
    free(a.seeds);
    return 1;
  }
  memset(&p, 0, sizeof p);
  p.args = &a;
  p.workloads = w;
  p.njobs = (size_t)a.nworkloads * (size_t)a.npolicies * (size_t)a.nseeds;
  p.jobs = calloc(p.njobs, sizeof *p.jobs);
  p.runs = calloc(p.njobs, sizeof *p.runs);
  rc = (p.jobs && p.runs) ? 0 : SC_ENOMEM;
  for (size_t i = 0; rc == 0 && i < p.njobs; i++) {
    size_t per_workload = (size_t)a.npolicies * (size_t)a.nseeds;
    p.jobs[i].workload = (int)(i / per_workload);
    p.jobs[i].policy = a.policies[(i % per_workload) / (size_t)a.nseeds];
    p.jobs[i].seed = a.seeds[i % (size_t)a.nseeds];
  }
  if (rc == 0)
    rc = run_pool(&p, a.jobs, isatty(STDOUT_FILENO) && isatty(STDERR_FILENO));
  t1 = sc_clock_mono_msf();
  for (size_t i = 0; rc < 0 && i < p.njobs; i++)
    if (p.runs[i].rc < 0) {
      fprintf(stderr, "supercell sim: %s/%s/seed %lld: %s\n", p.runs[i].workload,
              p.runs[i].policy, p.runs[i].seed, sc_strerror(p.runs[i].rc));
      break;
    }
  if (rc == 0)
    rc = write_outputs(&a, p.runs, p.njobs);
  if (rc == 0 && !a.quiet)
    print_summary(&a, p.runs, p.njobs,
                  (t1 - t0) / 1e3);
  for (size_t i = 0; p.runs && i < p.njobs; i++)
    sc_experiment_result_release(&p.runs[i].result);
  for (int i = 0; i < a.nworkloads; i++)
    sc_workload_release(&w[i]);
  free(p.jobs);
  free(p.runs);
  free(a.seeds);
  return rc == 0 ? 0 : 1;
}
