/*
 * Random: a uniformly random feasible node (the scheduler draws it; there is
 * no score) and, for a sharing task, a uniformly random device that fits,
 * drawn by reservoir sampling in index order as the reference does.
 */
#include "core/policy.h"

#include "core/banned.h"

static int random_share_device(const struct sc_node *n, const struct sc_shape *s,
                               const struct sc_policy_ctx *ctx, struct sc_rng *rng)
{
  int chosen = -1, seen = 0;

  (void)ctx;
  for (int i = 0; i < n->gpu_count; i++) {
    if (n->gpu_left[i] < s->gpu_milli)
      continue;
    seen++;
    if (sc_rng_intn(rng, seen) == 0)
      chosen = i;
  }
  return chosen;
}

const struct sc_policy sc_policy_random = {
  .name = "random",
  .summary = "uniformly random feasible node and device",
  .flags = SC_POLICY_UNIFORM,
  .score = NULL,
  .share_device = random_share_device,
};
