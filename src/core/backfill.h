/*
 * EASY backfill: the blocked head job gets a reservation (the earliest
 * time, from running jobs' expected ends, and the nodes at which it
 * fits); other jobs may start now only when they cannot delay it. Time is
 * an input; nothing here reads a clock. Rules: docs/tenancy.md.
 */
#ifndef SC_CORE_BACKFILL_H
#define SC_CORE_BACKFILL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/cluster.h"
#include "core/policy.h"
#include "core/preempt.h"
#include "core/rng.h"

/* One plan. Everything is borrowed for the duration of sc_backfill_plan
 * only; cluster has every running task applied. */
struct sc_backfill_in {
  const struct sc_cluster *cluster;
  const struct sc_policy *policy;
  struct sc_rng *rng;               /* random policy only; may be NULL */
  const struct sc_run_job *jobs;    /* running jobs; .end = start + max_runtime */
  int njobs;
  const struct sc_run_task *tasks;
  const struct sc_shape *head;      /* the blocked job's tasks */
  int nhead;
  int64_t now;
  const struct sc_typical *typical; /* FGD's target workload; may be NULL */
};

/* A plan: copies of the cluster now, at the shadow time and for jobs that
 * run past it, with their engines. Owns everything it holds. */
struct sc_backfill;
int sc_backfill_new(struct sc_backfill **out);
void sc_backfill_free(struct sc_backfill *bf);

/*
 * Computes the head's reservation: running jobs end in order of .end
 * (ties by index; an end before now counts as now) and the head is
 * placed, by the policy, at the first end after which it fits. Jobs
 * without a known end (SC_TIME_NEVER) leave after all others, one at a
 * time, lowest index first: a head that fits only then still gets its
 * nodes, with the shadow SC_TIME_NEVER: no job can be known to end before
 * it, so none may use them (a stream of short jobs on them could delay
 * the head forever). Returns 0, SC_EINVAL or SC_ENOMEM. When the head cannot fit
 * even on the emptied cluster there is no reservation (n = 0 below):
 * every job that fits may start.
 */
int sc_backfill_plan(struct sc_backfill *bf, const struct sc_backfill_in *in);

/* The shadow time, and the reservation's placement (*n entries, 0 for no
 * reservation; the head holds its nodes whole from the shadow time).
 * Valid until the next plan. */
int64_t sc_backfill_shadow(const struct sc_backfill *bf);
const struct sc_placement *sc_backfill_reservation(const struct sc_backfill *bf, int *n);

/* Would a job of this max_runtime (0: none) run past the shadow time,
 * so that it may use only nodes the reservation does not hold? False
 * without a reservation. */
bool sc_backfill_runs_past(const struct sc_backfill *bf, int64_t max_runtime);

/*
 * May a job of n tasks start now without delaying the head? A job with a
 * max_runtime (> 0) that ends before a known shadow time (strictly: one
 * ending with the job that sets it, as a job started in the same
 * millisecond with the same limit does, is not known to be out of the
 * way) may use any free capacity; any other (longer, or without a max_runtime) only nodes the
 * reservation does not hold. Returns 0 with p (n entries) filled and the
 * job recorded in the plan as started (the caller starts it), SC_ENOFIT
 * when it may not (p[i].node = -1), SC_EINVAL, SC_ENOMEM.
 */
int sc_backfill_try(struct sc_backfill *bf, const struct sc_shape *shapes, int n,
                    int64_t max_runtime, struct sc_placement *p);

#endif
