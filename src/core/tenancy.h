/*
 * Tenancy in the scheduling core: resource vectors, the tenant tree with
 * guarantees, limits and lend limits, the quota balance of every subtree
 * (Kueue's hierarchical cohorts) and the shares that order tenants. Pure
 * data and arithmetic: no I/O, no clock. Invariant (sc_tenancy_check): an
 * inner tenant's usage is the sum of its children's, and the cached
 * balances equal the ones recomputed from usage. Rules: docs/tenancy.md.
 */
#ifndef SC_CORE_TENANCY_H
#define SC_CORE_TENANCY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/cluster.h"

/* Dimensions of a resource vector: all accelerators in milli-GPU, CPU in
 * milli, memory in MiB, then one milli-GPU dimension per accelerator model
 * whose sc_cluster model id is below SC_RES_MODELS (dimension
 * SC_RES_MODEL0 + id). A model with a higher id counts in "gpu" only. */
enum {
  SC_RES_GPU = 0,
  SC_RES_CPU = 1,
  SC_RES_MEM = 2,
  SC_RES_MODEL0 = 3,
  SC_RES_MODELS = 13,
  SC_RES_DIMS = SC_RES_MODEL0 + SC_RES_MODELS
};
#define SC_RES_UNLIMITED INT64_MAX /* a limit or lend limit that is not set */

struct sc_res {
  int64_t v[SC_RES_DIMS];
};

/* v[] = 0 / SC_RES_UNLIMITED everywhere. */
void sc_res_zero(struct sc_res *r);
void sc_res_unlimited(struct sc_res *r);
/* a += sign * b (sign 1 or -1). */
void sc_res_add(struct sc_res *a, const struct sc_res *b, int sign);
/* What a job of n tasks asks for, from its shapes: the "gpu", "cpu" and
 * "memory" totals, and a model dimension when a shape allows exactly one
 * model (several allowed models: known only once placed). */
void sc_res_of_shapes(struct sc_res *out, const struct sc_shape *shapes, int n);
/* The same from a placement on cluster c: each device's model counts. */
void sc_res_of_placement(struct sc_res *out, const struct sc_cluster *c,
                         const struct sc_shape *shapes, const struct sc_placement *p, int n);
/* The installed capacity of cluster c. */
void sc_res_of_cluster(struct sc_res *out, const struct sc_cluster *c);
/* The name of dimension dim into buf: "gpu", "cpu", "memory" or
 * "gpu.MODEL" (model names from models[nmodels]; "gpu.#ID" when unknown). */
void sc_res_name(int dim, const char (*models)[SC_NAME_MAX], int nmodels, char *buf,
                 size_t size);

enum sc_preempt_within {
  SC_PREEMPT_WITHIN_NEVER = 0,
  SC_PREEMPT_WITHIN_LOWER_PRIORITY = 1,
};

/*
 * One tenant of the tree, filled by the caller. Tenants come by index,
 * parents first: parent < own index, -1 for a root (the roots are children
 * of an implicit cluster node whose guarantee and limit are the capacity).
 * Jobs belong to leaves only. usage and spot_usage are the subtree's and
 * are kept by sc_tenancy_charge; the caller may instead fill the leaves'
 * and call sc_tenancy_rollup.
 */
struct sc_tenant {
  const char *name;         /* borrowed, for messages; NULL: "#INDEX" */
  int parent;
  int64_t weight;           /* share of borrowed capacity, milli (1000 = 1); >= 0 */
  struct sc_res guarantee;  /* 0 = none */
  struct sc_res limit;      /* SC_RES_UNLIMITED = none */
  struct sc_res lend_limit; /* SC_RES_UNLIMITED = lends all idle guarantee */
  int preempt_within;       /* enum sc_preempt_within */
  bool spot_over_limit;     /* spot jobs may run above the limit */
  struct sc_res usage;      /* standard jobs running in the subtree */
  struct sc_res spot_usage; /* spot jobs running in the subtree */
};

/* The derived state: children, pools, balances, shares. Opaque. */
struct sc_tenancy;

/* What sc_tenancy_new needs. models: the cluster's model names (copied),
 * for messages. */
struct sc_tenancy_opts {
  struct sc_tenant *tenants; /* borrowed; must outlive the tenancy */
  int ntenants;
  struct sc_res capacity;    /* installed capacity (sc_res_of_cluster) */
  const char (*models)[SC_NAME_MAX];
  int nmodels;
  bool engine_capacity;      /* sc_tenancy_fits never refuses for the
                                cluster's capacity ("(capacity)"): the
                                caller's placement engine finds no room
                                instead (a controller whose lost nodes'
                                tasks still count as held) */
};

/*
 * Validates the tree and builds the derived state over the caller's tenant
 * array, which it borrows (usage is updated in place by sc_tenancy_charge;
 * everything else must not change while the tenancy lives). Refused with
 * SC_EINVAL and a message in err (size errlen) when a parent index is not
 * below its child's, a weight is negative, or a tenant's children's
 * guarantees add up to more than its own on some resource:
 * tenant 'org': children's guarantees on gpu.A100-80G 12000 > 8000.
 * Returns 0, SC_EINVAL or SC_ENOMEM; *out NULL on failure.
 */
int sc_tenancy_new(const struct sc_tenancy_opts *opts, char *err, size_t errlen,
                   struct sc_tenancy **out);
void sc_tenancy_free(struct sc_tenancy *tn);

int sc_tenancy_count(const struct sc_tenancy *tn);
const struct sc_tenant *sc_tenancy_tenant(const struct sc_tenancy *tn, int i);
bool sc_tenancy_is_leaf(const struct sc_tenancy *tn, int i);
/* The quota dimensions: bit d set for "gpu" always, and for every other
 * dimension on which some tenant sets a guarantee, limit or lend limit.
 * Only those take part in quota checks, borrowing and shares. */
uint32_t sc_tenancy_dims(const struct sc_tenancy *tn);

/* Recomputes every inner tenant's usage from the leaves' and every
 * balance. O(tenants x dims). */
void sc_tenancy_rollup(struct sc_tenancy *tn);

/* Adds (sign 1) or removes (sign -1) a running job's request at leaf and
 * up its path, spot or standard. O(depth x dims). SC_EINVAL: not a leaf. */
int sc_tenancy_charge(struct sc_tenancy *tn, int leaf, const struct sc_res *req, bool spot,
                      int sign);

/*
 * The quota check of admitting a job asking req at leaf (rules in
 * docs/tenancy.md): 0 when it fits; SC_ENOFIT with the first violation in
 * reason (size reasonlen), as "quota: gpu.A100-80G 12000/8000 (limit)":
 * the subtree's usage after admission / the most it may use, and why:
 * (limit) the leaf's own, (limit of 'org') an ancestor's, (lend limit)
 * capacity inside the tree that is not lent, (capacity) the cluster's.
 * Does not change the state.
 */
int sc_tenancy_fits(const struct sc_tenancy *tn, int leaf, const struct sc_res *req, bool spot,
                    char *reason, size_t reasonlen);

/* Balance T(x, dim) (what x's subtree has left of the guarantee it can
 * count on; negative = borrowed). x = -1: the cluster node. */
int64_t sc_tenancy_balance(const struct sc_tenancy *tn, int x, int dim);
/* True when x borrows on some quota dimension in mask (T < 0). */
bool sc_tenancy_borrows(const struct sc_tenancy *tn, int x, uint32_t mask);

/*
 * The fair-share key of tenant x among its siblings (lower goes first):
 * class 0 while x borrows on no quota dimension, value = the entitlement
 * ratio max u/g in parts per billion; class 1 when it borrows, value =
 * weighted dominant borrowed share, max borrowed/reach(parent) * 1000 /
 * weight in ppb, with weight 0 marked infinite (inf = true, value then
 * unweighted). Exact rule: docs/tenancy.md.
 */
struct sc_share {
  int klass;
  bool inf;
  int64_t value;
};
void sc_tenancy_share(const struct sc_tenancy *tn, int x, struct sc_share *out);
/* <0, 0, >0 as a goes before, ties with, goes after b. */
int sc_share_cmp(const struct sc_share *a, const struct sc_share *b);

/* Parent of x (-1 for a root), and the lowest common ancestor of a and b
 * (-1: only the cluster node). */
int sc_tenancy_parent(const struct sc_tenancy *tn, int x);
int sc_tenancy_lca(const struct sc_tenancy *tn, int a, int b);
/* Children of x (x = -1: the roots) as an array of count *n; borrowed. */
const int *sc_tenancy_children(const struct sc_tenancy *tn, int x, int *n);

/* Verifies the invariants (usage sums, non-negative usage, cached
 * balances); returns 0, SC_ESTATE, or SC_ENOMEM (it recomputes the
 * balances in scratch memory). */
int sc_tenancy_check(const struct sc_tenancy *tn);

#endif
