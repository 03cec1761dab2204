/*
 * The placement engine: picks a node and devices for one task, or a whole
 * gang, under a policy. Nodes with identical state (model, free CPU, memory,
 * per-device shares as a multiset per model, and tags when the policy reads
 * them) form one equivalence class, scored once per task shape and cached,
 * so the cost of a decision grows with the number of distinct node states,
 * not nodes. Ties go to the lowest node rank. A task's devices are of one
 * model (one group of its node). See docs/simulator.md and docs/design.md.
 */
#ifndef SC_CORE_SCHED_H
#define SC_CORE_SCHED_H

#include "core/cluster.h"
#include "core/frag.h"
#include "core/policy.h"
#include "core/rng.h"

struct sc_sched;

struct sc_sched_opts {
  const struct sc_policy *policy;
  struct sc_policy_ctx ctx;  /* ctx.typical: also enables frag tracking */
  int nshapes;               /* shape ids in [0, nshapes) are cached */
};

/*
 * Builds the engine over cluster c, whose nodes may already carry load.
 * The engine borrows c (which must outlive it) and owns only its index; all
 * later changes to c's nodes must go through sc_sched_commit / _uncommit.
 * Returns 0, SC_EINVAL or SC_ENOMEM; *out is NULL on failure.
 */
int sc_sched_new(struct sc_cluster *c, const struct sc_sched_opts *opts,
                 struct sc_sched **out);
void sc_sched_free(struct sc_sched *s);

/*
 * Chooses a node and devices for one task of shape sh (rng is used by the
 * random policy only). Returns 0 and fills p, or SC_ENOFIT (p->node = -1)
 * when no node fits. Does not change the cluster.
 */
int sc_sched_pick(struct sc_sched *s, const struct sc_shape *sh, struct sc_rng *rng,
                  struct sc_placement *p);

/* Applies / undoes a placement returned by sc_sched_pick. Returns 0, or
 * SC_ENOMEM with the engine and cluster unchanged. */
int sc_sched_commit(struct sc_sched *s, const struct sc_shape *sh,
                    const struct sc_placement *p);
int sc_sched_uncommit(struct sc_sched *s, const struct sc_shape *sh,
                      const struct sc_placement *p);

/*
 * Places n tasks all or nothing: picks and commits them in order; if one
 * does not fit, undoes the others and returns SC_ENOFIT. p has n entries.
 * SC_ENOMEM: out of memory; the others were undone, unless undoing needed
 * memory too: the engine then answers SC_ENOMEM to everything and must be
 * freed (the caller's cluster then holds part of the gang).
 */
int sc_sched_place_gang(struct sc_sched *s, const struct sc_shape *shapes, int n,
                        struct sc_rng *rng, struct sc_placement *p);

/* Cluster-wide fragmentation vector (needs ctx.typical) and GPU use. */
void sc_sched_frag(const struct sc_sched *s, double out[SC_FRAG_NCLASS]);
int64_t sc_sched_gpu_used_milli(const struct sc_sched *s);
/* Number of distinct node states currently indexed. */
size_t sc_sched_nclasses(const struct sc_sched *s);

/* Verifies the index against the cluster (each node's class key, its
 * devices' models, the GPU use); returns 0 or SC_ESTATE. */
int sc_sched_check(const struct sc_sched *s);

#endif
