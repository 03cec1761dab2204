/*
 * BestFit: the node with the least CPU and GPU left after placement, each
 * normalised by the largest node spec and weighted 1/2. The reference then
 * min-max normalises over the feasible nodes, which preserves the best node
 * and its ties, so the scheduler compares raw scores.
 */
#include "core/policy.h"

#include "core/banned.h"

static int bestfit_score(const struct sc_node *n, const struct sc_shape *s,
                         const struct sc_policy_ctx *ctx)
{
  double score = 0;

  (void)ctx;
  score += (double)(n->cpu_left - s->cpu) / 128000.0 * 0.5;
  score += (double)(sc_node_gpu_left(n) - sc_shape_total_milli(s)) / 8000.0 * 0.5;
  return (int)((1.0 - score) * 100.0);
}

const struct sc_policy sc_policy_bestfit = {
  .name = "bestfit",
  .summary = "least CPU and GPU left after placement",
  .score = bestfit_score,
};
