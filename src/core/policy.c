/*
 * Policy table and the device choice shared by all policies. The device
 * rules follow the reference scheduler (docs/simulator.md, section 3.1).
 */
#include "core/policy.h"

#include <assert.h>
#include <string.h>

#include "core/banned.h"

const struct sc_policy *const sc_policies[] = {
  &sc_policy_random,  &sc_policy_dotprod, &sc_policy_clustering,
  &sc_policy_packing, &sc_policy_bestfit, &sc_policy_fgd,
  NULL,
};

const struct sc_policy *sc_policy_find(const char *name)
{
  for (int i = 0; sc_policies[i]; i++)
    if (strcmp(sc_policies[i]->name, name) == 0)
      return sc_policies[i];
  return NULL;
}

int sc_policy_best_share_device(const struct sc_node *n, const struct sc_shape *s)
{
  int best = -1;

  for (int i = 0; i < n->gpu_count; i++)
    if (n->gpu_left[i] >= s->gpu_milli &&
        (best < 0 || n->gpu_left[i] < n->gpu_left[best]))
      best = i;
  return best;
}

void sc_policy_choose_devices(const struct sc_policy *policy, const struct sc_node *n,
                              int node_index, const struct sc_shape *s,
                              const struct sc_policy_ctx *ctx, struct sc_rng *rng,
                              struct sc_placement *p)
{
  memset(p, 0, sizeof *p);
  p->node = node_index;
  if (s->gpu_milli <= 0)
    return;
  if (s->gpu_count == 1 && s->gpu_milli < SC_MILLI) {
    int dev = policy->share_device ? policy->share_device(n, s, ctx, rng)
                                   : sc_policy_best_share_device(n, s);
    assert(dev >= 0);
    p->dev[p->ndev++] = (int8_t)dev;
    return;
  }
  /* Whole devices: the lowest-index free ones. A multi-device task asking
   * for partial shares (not in the traces) takes them greedily. */
  if (s->gpu_milli == SC_MILLI) {
    for (int i = 0; i < n->gpu_count && p->ndev < s->gpu_count; i++)
      if (n->gpu_left[i] == SC_MILLI)
        p->dev[p->ndev++] = (int8_t)i;
  } else {
    int left[SC_MAX_GPUS] = {0};
    for (int i = 0; i < n->gpu_count; i++)
      left[i] = n->gpu_left[i];
    for (int i = 0; i < n->gpu_count && p->ndev < s->gpu_count;) {
      if (left[i] >= s->gpu_milli) {
        left[i] -= s->gpu_milli;
        p->dev[p->ndev++] = (int8_t)i;
      } else {
        i++;
      }
    }
  }
  assert(p->ndev == s->gpu_count);
}
