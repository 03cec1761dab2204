/*
 * GpuClustering: keeps tasks of one kind (sharing, 1-, 2-, 4-, 8-device)
 * together. A node already running the same kind and nothing else scores
 * highest; a node with other kinds lowest; fuller nodes break the rest.
 */
#include "core/policy.h"

#include "core/banned.h"

static int clustering_score(const struct sc_node *n, const struct sc_shape *s,
                            const struct sc_policy_ctx *ctx)
{
  uint32_t tag = sc_shape_tag(s);
  int64_t base;

  (void)ctx;
  if (tag == 0)
    return 0;
  base = (25 * (8000 - sc_node_gpu_left(n))) / 8000;
  if (n->tags & tag)
    return (int)(base + (__builtin_popcount(n->tags) == 1 ? 75 : 50));
  return (int)(base + (n->tags == 0 ? 25 : 0));
}

const struct sc_policy sc_policy_clustering = {
  .name = "clustering",
  .summary = "co-locate tasks of the same GPU kind (GpuClustering)",
  .flags = SC_POLICY_TAGS,
  .score = clustering_score,
};
