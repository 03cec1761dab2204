/*
 * GpuPacking: prefers partly used devices over idle ones and idle devices on
 * busy nodes over idle nodes: sharing tasks fill the fullest devices first.
 * Integer arithmetic, as in the reference.
 */
#include "core/policy.h"

#include "core/banned.h"

static int packing_score(const struct sc_node *n, const struct sc_shape *s,
                         const struct sc_policy_ctx *ctx)
{
  int order[SC_MAX_GPUS], free_full = 0, need = s->gpu_count, full_used = 0;
  int64_t rest = 0;

  (void)ctx;
  if (s->gpu_milli <= 0)
    return 0;
  for (int i = 0; i < n->gpu_count; i++)
    free_full += n->gpu_left[i] == SC_MILLI;
  if (free_full == n->gpu_count)
    return 33 - free_full > free_full ? 33 - free_full : free_full;
  /* Stable insertion sort of device indices by free share, ascending. */
  for (int i = 0; i < n->gpu_count; i++) {
    int j = i;
    while (j > 0 && n->gpu_left[order[j - 1]] > n->gpu_left[i]) {
      order[j] = order[j - 1];
      j--;
    }
    order[j] = i;
  }
  for (int k = 0; k < n->gpu_count && need > 0; k++) {
    int left = n->gpu_left[order[k]];
    if (left < s->gpu_milli)
      continue;
    need--;
    if (left == SC_MILLI)
      full_used++;
    rest += left * 100 / SC_MILLI;
  }
  if (full_used > 0)
    return 50 - full_used > 33 ? 50 - full_used : 33;
  return 100 - rest / 10 > 50 ? (int)(100 - rest / 10) : 50;
}

const struct sc_policy sc_policy_packing = {
  .name = "packing",
  .summary = "fill partly used devices and busy nodes first (GpuPacking)",
  .score = packing_score,
};
