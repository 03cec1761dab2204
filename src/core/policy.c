/*
 * Policy table, the device choice shared by all policies and the scoring of
 * nodes of several models, group by group. The device rules follow the
 * reference scheduler (docs/simulator.md, section 3.1).
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

/* Score on a node of one model (or of a CPU-only task on any node). */
static int score_one(const struct sc_policy *policy, const struct sc_node *n,
                     const struct sc_shape *s, const struct sc_policy_ctx *ctx)
{
  if (!sc_node_fits_nomem(n, s))
    return SC_POLICY_NOFIT;
  return policy->score ? policy->score(n, s, ctx) : 0;
}

/*
 * The group of n, a node of several models, that device task s goes to,
 * into *best, and its score: the best score, the first group on ties; under
 * a UNIFORM policy given rng, a uniformly random group where s fits (without
 * rng, the first). SC_POLICY_NOFIT when s fits no group.
 */
static int group_pick(const struct sc_policy *policy, const struct sc_node *n,
                      const struct sc_shape *s, const struct sc_policy_ctx *ctx,
                      struct sc_rng *rng, struct sc_group *best)
{
  struct sc_group groups[SC_MAX_GPUS];
  int ngroups = sc_node_groups(n, groups), best_score = SC_POLICY_NOFIT, fits = 0;

  for (int g = 0; g < ngroups; g++) {
    struct sc_node view;
    int8_t pos[SC_MAX_GPUS];
    int score;
    if (!sc_shape_model_ok(s, groups[g].model))
      continue;
    sc_node_view(n, &groups[g], &view, pos);
    if ((score = score_one(policy, &view, s, ctx)) == SC_POLICY_NOFIT)
      continue;
    fits++;
    /* Uniform: reservoir sampling, each fitting group with odds 1/fits. */
    if ((policy->flags & SC_POLICY_UNIFORM) ? fits == 1 || (rng && sc_rng_intn(rng, fits) == 0)
                                            : score > best_score) {
      *best = groups[g];
      best_score = score;
    }
  }
  return best_score;
}

int sc_policy_node_score(const struct sc_policy *policy, const struct sc_node *n,
                         const struct sc_shape *s, const struct sc_policy_ctx *ctx)
{
  struct sc_group g;

  if (n->model != SC_MODEL_MIXED || s->gpu_milli <= 0)
    return score_one(policy, n, s, ctx);
  return group_pick(policy, n, s, ctx, NULL, &g);
}

/* Devices for s on n, a node of one model. */
static void choose_one(const struct sc_policy *policy, const struct sc_node *n,
                       const struct sc_shape *s, const struct sc_policy_ctx *ctx,
                       struct sc_rng *rng, struct sc_placement *p)
{
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

void sc_policy_choose_devices(const struct sc_policy *policy, const struct sc_node *n,
                              int node_index, const struct sc_shape *s,
                              const struct sc_policy_ctx *ctx, struct sc_rng *rng,
                              struct sc_placement *p)
{
  struct sc_node view;
  struct sc_group g;
  int8_t pos[SC_MAX_GPUS];
  int score;

  memset(p, 0, sizeof *p);
  p->node = node_index;
  if (s->gpu_milli <= 0)
    return;
  if (n->model != SC_MODEL_MIXED) {
    choose_one(policy, n, s, ctx, rng, p);
    return;
  }
  score = group_pick(policy, n, s, ctx, rng, &g);
  assert(score != SC_POLICY_NOFIT);
  (void)score;
  sc_node_view(n, &g, &view, pos);
  choose_one(policy, &view, s, ctx, rng, p);
  for (int i = 0; i < p->ndev; i++)
    p->dev[i] = pos[p->dev[i]];
}
