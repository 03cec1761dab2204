/*
 * GPU fragmentation against a target workload (FGD, USENIX ATC'23): the
 * typical task shapes with their frequencies, the class of a node for one
 * shape (Q1..Q4, XL, XR, NoAccess) and the fragmented milli-GPU of a node
 * and of the cluster. See docs/simulator.md for the exact rules.
 */
#ifndef SC_CORE_FRAG_H
#define SC_CORE_FRAG_H

#include "core/cluster.h"

enum sc_frag_class {
  SC_FRAG_Q1,        /* lacks both CPU and GPU */
  SC_FRAG_Q2,        /* lacks GPU */
  SC_FRAG_Q3,        /* satisfied */
  SC_FRAG_Q4,        /* lacks CPU */
  SC_FRAG_XL,        /* CPU-only shape, CPU satisfied */
  SC_FRAG_XR,        /* CPU-only shape, lacks CPU */
  SC_FRAG_NOACCESS,  /* model not allowed */
  SC_FRAG_NCLASS
};

/* One key of the target workload: a shape, the model list it was written
 * with (part of the key) and its count in the workload. */
struct sc_typical_key {
  struct sc_shape shape;
  char spec[128];
  double count;
};

/* The typical shapes, most popular first, with frequencies summing to 1. */
struct sc_typical {
  struct sc_shape *shapes;
  double *freq;
  int n;
};

/*
 * Builds the typical shapes from the distinct keys of a workload: sorts keys
 * by count descending (ties: cpu, milli, count, spec descending), keeps the
 * shortest prefix covering threshold_pct percent of the total count and
 * renormalises. Sorts keys in place. out owns its arrays: release with
 * sc_typical_release. Returns 0 or SC_ENOMEM / SC_EINVAL.
 */
int sc_typical_build(struct sc_typical_key *keys, int nkeys, double threshold_pct,
                     struct sc_typical *out);
void sc_typical_release(struct sc_typical *t);

/* The fragmentation class of node n, of one model, for a typical shape q. */
enum sc_frag_class sc_frag_classify(const struct sc_node *n, const struct sc_shape *q);

/* Fragmentation vector of one node: out[class] in milli-GPU. A node of
 * several models sums its groups' vectors, each group viewed as a node. */
void sc_frag_node(const struct sc_node *n, const struct sc_typical *t,
                  double out[SC_FRAG_NCLASS]);

/* Sum of every class but Q3 (the fragmented milli-GPU), in class order. */
double sc_frag_sum_except_q3(const double v[SC_FRAG_NCLASS]);

/* sc_frag_sum_except_q3 of sc_frag_node, without building the vector. */
double sc_frag_node_score(const struct sc_node *n, const struct sc_typical *t);

#endif
