/*
 * One trace-driven experiment of the FGD paper (docs/simulator.md): shuffle
 * and tune a workload with the reference RNG, place every task once with a
 * policy on the core's engine, and reduce the per-event metrics to the
 * paper's discretised curves over arrived GPU demand (0..130 %).
 */
#ifndef SC_SIM_EXPERIMENT_H
#define SC_SIM_EXPERIMENT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/cluster.h"
#include "core/frag.h"
#include "core/policy.h"
#include "core/rng.h"
#include "sim/trace.h"

#define SC_SIM_MAX_PCT 130
#define SC_SIM_NCOLS (SC_SIM_MAX_PCT + 1)

/* FGD's target workload keeps the most popular shapes covering this % of
 * the tasks (the paper's 95). */
#define SC_TARGET_THRESHOLD 95.0

/* Sorts pods by name, the order every experiment starts from. */
void sc_trace_pods_sort(struct sc_trace_pod *pods, size_t n);

/*
 * FGD's target workload of a pod list (sorted by name) as the experiment
 * computes it: one key per (CPU, GPU count, GPU share, model list as
 * written), with the shape of its first pod (memory included) and its
 * count. Model masks are the caller's: sc_shape_set_models against its own
 * cluster, then sc_typical_build. key_of (optional, npods entries) gets
 * each pod's key. *out is owned by the caller (free). Returns 0 or
 * SC_ENOMEM. The controller's --fgd-target reads the same keys.
 */
int sc_target_keys(const struct sc_trace_pod *pods, size_t npods, struct sc_typical_key **out,
                   int *nout, int *key_of);

/* A workload prepared once and shared read-only by its experiments. */
struct sc_workload {
  char name[64];
  struct sc_cluster cluster;      /* template: every node free, ranks unset */
  int64_t total_gpus;             /* devices in the cluster */
  struct sc_trace_pod *pods;      /* sorted by name (W of the paper) */
  struct sc_shape *shapes;        /* per pod, with cache ids */
  size_t npods;
  int nshapes;
  struct sc_typical typical;
};

/*
 * Builds a workload from trace nodes (those with GPUs) and pods, each
 * replicated scale times (scale >= 1). Copies what it needs. Returns 0,
 * SC_EINVAL (no GPU node, err says why) or SC_ENOMEM.
 */
int sc_workload_init(struct sc_workload *w, const char *name,
                     const struct sc_trace_nodes *nodes, const struct sc_trace_pods *pods,
                     int scale, char *err, size_t errlen);
void sc_workload_release(struct sc_workload *w);

/* One failed-task group: identical descriptions counted together. */
struct sc_failed {
  int64_t cpu_milli;
  int num_gpu;
  int gpu_milli;
  char spec[SC_TRACE_SPEC_MAX];
  int count;
};

struct sc_experiment_result {
  double alloc[SC_SIM_NCOLS];        /* % of GPUs allocated; NAN if no row */
  double frag_amount[SC_SIM_NCOLS];  /* fragmented GPU, % of capacity */
  double frag_ratio[SC_SIM_NCOLS];   /* fragmented share of idle GPU, % */
  int64_t tasks;                     /* tasks after tuning */
  int64_t failed_tasks;
  int64_t arrived_milli;
  struct sc_failed *failed;          /* groups, most frequent first */
  int nfailed;
  double seconds;                    /* wall time of the placement loop */
  size_t max_classes;                /* most distinct node states seen */
  struct sc_placement *placed;       /* with opts.record: per task of the
                                        plan, node -1 when it failed */
};

struct sc_experiment_opts {
  const struct sc_policy *policy;
  int64_t seed;
  double tune;                       /* target demand / capacity, e.g. 1.3 */
  int skip_draws;                    /* reference RNG draws before Perm: 10 */
  bool check;                        /* verify the engine after every event */
  bool record;                       /* fill result.placed */
  /* Optional, one per task of the plan: commit these placements (node -1:
   * the task fails) instead of picking, to measure placements made
   * elsewhere (bench/replay-openb.sh measures the controller's). */
  const struct sc_placement *given;
};

/* The order of tasks and node ranks of one experiment, before placement. */
struct sc_experiment_plan {
  int32_t *order;      /* indices into w->pods; tuning clones follow */
  size_t n;
  int64_t total_milli; /* GPU demand after tuning */
  uint32_t *ranks;     /* per node of w->cluster */
};

/* Draws the plan with the reference RNG, leaving rng where placement
 * starts. plan owns its arrays (sc_experiment_plan_release). Returns 0 or
 * SC_ENOMEM. */
int sc_experiment_plan(const struct sc_workload *w, const struct sc_experiment_opts *opts,
                       struct sc_rng *rng, struct sc_experiment_plan *plan);
void sc_experiment_plan_release(struct sc_experiment_plan *plan);

/* Runs one experiment. result owns failed[]: release with
 * sc_experiment_result_release. Returns 0 or SC_ENOMEM. Thread-safe for
 * distinct results over one shared workload. */
int sc_experiment_run(const struct sc_workload *w, const struct sc_experiment_opts *opts,
                      struct sc_experiment_result *result);
void sc_experiment_result_release(struct sc_experiment_result *r);

/* Python's round(x, 2) (correct rounding of the binary value, half-even). */
double sc_round2(double x);

#endif
