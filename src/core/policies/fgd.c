/*
 * Fragmentation Gradient Descent (Weng et al., USENIX ATC'23): place a task
 * where it grows the node's expected GPU fragmentation, measured against the
 * target workload, the least. score = int(100 * sigmoid((before - after) /
 * 1000)); a sharing task also picks the device that gives the best score.
 */
#include "core/policy.h"

#include <assert.h>
#include <math.h>

#include "core/banned.h"

static int frag_delta_score(double before, const struct sc_node *after,
                            const struct sc_policy_ctx *ctx)
{
  double x = (before - sc_frag_node_score(after, ctx->typical)) / 1000.0;
  return (int)(1.0 / (1.0 + exp(-x)) * 100.0);
}

/* Best score over the devices a sharing task fits; *dev gets the first
 * device reaching it. */
static int fgd_share(const struct sc_node *n, const struct sc_shape *s,
                     const struct sc_policy_ctx *ctx, int *dev)
{
  double before = sc_frag_node_score(n, ctx->typical);
  struct sc_node after = *n;
  int best = -1, tried_left[SC_MAX_GPUS], ntried = 0, tried_score[SC_MAX_GPUS];

  *dev = -1;
  after.cpu_left -= s->cpu;
  for (int i = 0; i < n->gpu_count; i++) {
    int left = n->gpu_left[i], score = -1;
    if (left < s->gpu_milli)
      continue;
    /* Devices with the same free share give the same score. */
    for (int k = 0; k < ntried; k++)
      if (tried_left[k] == left)
        score = tried_score[k];
    if (score < 0) {
      after.gpu_left[i] = (int16_t)(left - s->gpu_milli);
      score = frag_delta_score(before, &after, ctx);
      after.gpu_left[i] = (int16_t)left;
      tried_left[ntried] = left;
      tried_score[ntried++] = score;
    }
    if (score > best) {
      best = score;
      *dev = i;
    }
  }
  return best;
}

static int fgd_score(const struct sc_node *n, const struct sc_shape *s,
                     const struct sc_policy_ctx *ctx)
{
  struct sc_node after;
  int need = s->gpu_count, dev;
  bool taken[SC_MAX_GPUS] = {false};

  assert(ctx && ctx->typical);
  if (s->gpu_count == 1 && s->gpu_milli > 0 && s->gpu_milli < SC_MILLI)
    return fgd_share(n, s, ctx, &dev);
  after = *n;
  after.cpu_left -= s->cpu;
  /* Take from the devices with the least free share that fits first
   * (ascending, stable), as the reference's resource subtraction. */
  while (s->gpu_milli > 0 && need > 0) {
    int pick = -1;
    for (int i = 0; i < n->gpu_count; i++)
      if (!taken[i] && n->gpu_left[i] >= s->gpu_milli &&
          (pick < 0 || n->gpu_left[i] < n->gpu_left[pick]))
        pick = i;
    if (pick < 0)
      break;
    taken[pick] = true;
    after.gpu_left[pick] = (int16_t)(after.gpu_left[pick] - s->gpu_milli);
    need--;
  }
  return frag_delta_score(sc_frag_node_score(n, ctx->typical), &after, ctx);
}

static int fgd_share_device(const struct sc_node *n, const struct sc_shape *s,
                            const struct sc_policy_ctx *ctx, struct sc_rng *rng)
{
  int dev;

  (void)rng;
  fgd_share(n, s, ctx, &dev);
  return dev;
}

const struct sc_policy sc_policy_fgd = {
  .name = "fgd",
  .summary = "fragmentation gradient descent (FGD, ATC'23)",
  .score = fgd_score,
  .share_device = fgd_share_device,
};
