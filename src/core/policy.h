/*
 * Placement policies: each scores a feasible node for a task shape (higher is
 * better, 0..100) and may choose the device of a GPU-sharing task. A policy
 * only ever sees nodes of one model (a node of several is shown to it group
 * by group, sc_node_view) for device tasks. Adding a policy is one file
 * under core/policies/ and one entry in core/policy.c.
 */
#ifndef SC_CORE_POLICY_H
#define SC_CORE_POLICY_H

#include "core/cluster.h"
#include "core/frag.h"
#include "core/rng.h"

/* What policies may read besides the node and the shape. */
struct sc_policy_ctx {
  const struct sc_typical *typical; /* target workload (FGD); may be NULL */
};

enum {
  SC_POLICY_TAGS = 1u << 0,    /* score reads sc_node.tags */
  SC_POLICY_UNIFORM = 1u << 1, /* no score: a uniformly random feasible node */
};

struct sc_policy {
  const char *name;
  const char *summary;
  unsigned flags;
  /* Score of node n, on which s fits, in [0, 100]. NULL when UNIFORM. */
  int (*score)(const struct sc_node *n, const struct sc_shape *s,
               const struct sc_policy_ctx *ctx);
  /* Device for a sharing task (1 device, milli < 1000) on node n, where it
   * fits. NULL: the best-fit device (least free share that fits, lowest
   * index on ties). rng may be consumed. */
  int (*share_device)(const struct sc_node *n, const struct sc_shape *s,
                      const struct sc_policy_ctx *ctx, struct sc_rng *rng);
};

/* The built-in policies, in the paper's order, NULL-terminated. */
extern const struct sc_policy *const sc_policies[];

/* Returns the policy named name, or NULL. */
const struct sc_policy *sc_policy_find(const char *name);

/* Device for a sharing task: least free share >= milli, lowest index on ties. */
int sc_policy_best_share_device(const struct sc_node *n, const struct sc_shape *s);

#define SC_POLICY_NOFIT (-1)

/*
 * The score of shape s on node n under policy, or SC_POLICY_NOFIT when s
 * does not fit (memory aside); 0 for every fit under a UNIFORM policy. A
 * device task on a node of several models is scored on each group whose
 * model it allows and where it fits, the group viewed as a node of its own
 * (sc_node_view): the best group's score, the first group's on ties. On a
 * node of one model, and for CPU-only tasks, it is policy->score on n.
 */
int sc_policy_node_score(const struct sc_policy *policy, const struct sc_node *n,
                         const struct sc_shape *s, const struct sc_policy_ctx *ctx);

/*
 * Chooses the devices of shape s on node n (which must fit it) into p:
 * whole-device tasks take the lowest-index fully free devices, sharing tasks
 * use the policy's device choice. On a node of several models they come from
 * one group: the one sc_policy_node_score chose, or under a UNIFORM policy a
 * uniformly random group where s fits (rng drawn only when there are
 * several). Sets p->node to node_index.
 */
void sc_policy_choose_devices(const struct sc_policy *policy, const struct sc_node *n,
                              int node_index, const struct sc_shape *s,
                              const struct sc_policy_ctx *ctx, struct sc_rng *rng,
                              struct sc_placement *p);

/* Per-policy entry points (core/policies/). */
extern const struct sc_policy sc_policy_random;
extern const struct sc_policy sc_policy_dotprod;
extern const struct sc_policy sc_policy_clustering;
extern const struct sc_policy sc_policy_packing;
extern const struct sc_policy sc_policy_bestfit;
extern const struct sc_policy sc_policy_fgd;

#endif
