/*
 * Fair-share order of pending jobs for one scheduling pass: a tournament
 * from the top of the tenant tree down, siblings compared by their share
 * key (sc_tenancy_share), then inside a leaf by priority and submission
 * order. The caller asks for the next job, tries it, and says whether it
 * was admitted (usage charged, shares move) or skipped. Deterministic; no
 * allocation after sc_order_new / sc_order_reset. Rules: docs/tenancy.md.
 */
#ifndef SC_CORE_FAIRSHARE_H
#define SC_CORE_FAIRSHARE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/tenancy.h"

/* A pending job as the order sees it. */
struct sc_order_job {
  int tenant;      /* leaf tenant index */
  int priority;    /* higher goes first within the tenant */
  int64_t seq;     /* submission order: lower goes first */
};

struct sc_order;

/*
 * Builds the order over jobs[njobs] for tenancy tn. Both are borrowed and
 * must outlive the order; sc_order_admit charges tn. O(jobs log jobs +
 * tenants). Returns 0, SC_EINVAL (a job's tenant is not a leaf) or
 * SC_ENOMEM; *out NULL on failure.
 */
int sc_order_new(struct sc_tenancy *tn, const struct sc_order_job *jobs, int njobs,
                 struct sc_order **out);
void sc_order_free(struct sc_order *o);
/* Starts a new pass over another job list (borrowed), reusing memory when
 * it is large enough. Returns 0, SC_EINVAL or SC_ENOMEM (order emptied). */
int sc_order_reset(struct sc_order *o, const struct sc_order_job *jobs, int njobs);

/* The next job to try (an index into jobs), or -1 when none is left. The
 * same job until it is admitted or skipped. O(1). */
int sc_order_next(const struct sc_order *o);
/* Job (the one sc_order_next returned) was admitted asking req: it is
 * charged to its tenant in tn and leaves the order. O(depth x (fanout +
 * dims)). SC_EINVAL when job is not the next one. */
int sc_order_admit(struct sc_order *o, int job, const struct sc_res *req, bool spot);
/* Job (the one sc_order_next returned) cannot start now: it leaves the
 * order; with block, every other job of its tenant leaves too (a tenant
 * that keeps strict submission order). SC_EINVAL when not the next one. */
int sc_order_skip(struct sc_order *o, int job, bool block);

/* Tells the order that tn's usage changed outside it (a job ended):
 * recomputes every key. O(tenants x dims). */
void sc_order_refresh(struct sc_order *o);

#endif
