/*
 * Preemption victim search: which running jobs to evict, whole, so that a
 * pending gang can start, for guarantee reclaim (other tenants' borrowed
 * capacity) or within-tenant priority. The answer is placement-proven
 * (the gang is placed by sc_sched on a scratch copy of the cluster with
 * the victims gone) and quota-proven (sc_tenancy_fits), minimal, and the
 * best such set in a stated order. Pure: decisions only. docs/tenancy.md.
 */
#ifndef SC_CORE_PREEMPT_H
#define SC_CORE_PREEMPT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/cluster.h"
#include "core/policy.h"
#include "core/rng.h"
#include "core/tenancy.h"

#define SC_TIME_NEVER INT64_MAX /* an end time that is not known */

/* A running task: its shape and where it runs. */
struct sc_run_task {
  struct sc_shape shape;
  struct sc_placement place;
};

/* A running job as preemption and backfill see it. */
struct sc_run_job {
  int tenant;          /* leaf tenant index */
  int priority;
  bool spot;           /* preemptible by any standard job */
  int64_t work_lost;   /* GPU-seconds since its last checkpoint, or its start */
  int64_t end;         /* expected end (start + max_runtime); SC_TIME_NEVER */
  int first_task;      /* its tasks: tasks[first_task .. first_task + ntasks) */
  int ntasks;
  struct sc_res req;   /* what it is charged in the tenancy */
};

enum sc_preempt_kind {
  SC_PREEMPT_RECLAIM = 0,  /* other tenants' borrowed capacity */
  SC_PREEMPT_PRIORITY = 1, /* lower-priority jobs of the same tenant */
};

/* One search. Everything is borrowed. cluster has every running task
 * applied and is not changed (the search works on a copy); tn's usage
 * includes every running job: it is changed during the search and
 * restored before it returns. */
struct sc_preempt_in {
  const struct sc_cluster *cluster;
  const struct sc_policy *policy;
  struct sc_rng *rng;               /* for the random policy only; may be NULL */
  struct sc_tenancy *tn;
  const struct sc_run_job *jobs;
  int njobs;
  const struct sc_run_task *tasks;
  const struct sc_shape *gang;      /* the preemptor's tasks */
  int ngang;
  int tenant;                       /* the preemptor's leaf */
  int priority;
  struct sc_res req;                /* what the preemptor will be charged */
  int kind;                         /* enum sc_preempt_kind */
};

/* The answer; arrays belong to the search workspace and stay valid until
 * its next search or its free. */
struct sc_preempt_out {
  const int *victims;                 /* job indices, in preference order */
  int nvictims;
  const struct sc_placement *place;   /* ngang entries: where the gang goes */
  char reason[160];                   /* why nothing was found */
};

/* A reusable workspace (scratch cluster, engine, candidate arrays). */
struct sc_preempt;
int sc_preempt_new(struct sc_preempt **out);
void sc_preempt_free(struct sc_preempt *ps);

/*
 * Finds the victims. Returns 0 with out filled (nvictims 0: the gang fits
 * as things are), SC_ENOFIT when no set of eligible victims lets it start
 * (out->reason says why), SC_EINVAL on bad input, SC_ENOMEM (tn may then
 * lack some victims' usage: rebuild it with sc_tenancy_rollup). Grows the
 * workspace to the cluster's and job list's sizes and builds one scratch
 * engine (sc_sched_new); nothing is allocated per candidate.
 * The victims: only eligible jobs (reclaim: other leaves whose path up to
 * the common ancestor's child borrows on a resource the gang asks for,
 * and the gang's side within guarantee once it runs; priority: same leaf,
 * lower priority, preempt_within allows; spot jobs in both kinds); whole
 * jobs; each with a task on a node the gang is placed on (unless the gang
 * needs the victims for quota only); minimal; and first in the bottleneck
 * order of (spot first, lower priority, less work lost, index).
 */
int sc_preempt_search(struct sc_preempt *ps, const struct sc_preempt_in *in,
                      struct sc_preempt_out *out);

/*
 * The order of victim sets: a < 0 when set a (sorted by sc_preempt_key_cmp,
 * best first) is preferred to b: their worst victims compared first, then
 * the next worst, and so on; a set that runs out first wins. Exposed for
 * tests and the simulator's reports.
 */
int sc_preempt_set_cmp(const struct sc_run_job *jobs, const int *a, int na, const int *b,
                       int nb);
/* Victim preference of two jobs: spot first, lower priority, less work
 * lost, lower index. */
int sc_preempt_key_cmp(const struct sc_run_job *jobs, int a, int b);

#endif
