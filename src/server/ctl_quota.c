/*
 * Tenant limits at admission. A scheduling pass starts from what each
 * tenant's subtree holds (its running and assigned tasks); before a job is
 * placed its whole request (every task) is checked against the limit of
 * its tenant and of each ancestor, and a placed job is charged to all of
 * them, so a pass never admits past a limit. Admission and placement are
 * one decision: a job over a per-model limit (gpu.MODEL) may still be
 * placed on other models it allows; only when none remains does it wait,
 * with the reason `quota: gpu.A100-80G 12/8 (limit)` (after admission /
 * limit; "limit of T" for an ancestor's).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/ctl_int.h"
#include "util/error.h"

struct ctl_quota {
  int n;                        /* c->ntenants when it began */
  struct sc_res_set *subtree;   /* by tenant index */
};

int ctl_quota_begin(struct sc_ctl *c, struct ctl_quota **out)
{
  struct ctl_quota *q = calloc(1, sizeof *q);

  *out = NULL;
  if (!q || !(q->subtree = calloc((size_t)(c->ntenants > 0 ? c->ntenants : 1),
                                  sizeof *q->subtree))) {
    free(q);
    return SC_ENOMEM;
  }
  q->n = c->ntenants;
  for (int k = 0; k < c->njobs; k++)
    if (c->jobs[k]->state == SC_JOB_RUNNING)
      ctl_quota_charge(c, q, c->jobs[k]);
  *out = q;
  return 0;
}

void ctl_quota_end(struct ctl_quota *q)
{
  if (q)
    free(q->subtree);
  free(q);
}

/* The tenant indexes charged for a job of tenant name: its own, then its
 * ancestors'; how many. */
static int chain(const struct sc_ctl *c, const char *name, int idx[65])
{
  const struct ctl_tenant *t = ctl_tenant_find(c, name), *up[64];
  int n = 0, nup;

  if (!t)
    return 0;
  idx[n++] = (int)(t - c->tenants);
  nup = ctl_tenant_ancestors(c, t, up, 64);
  for (int k = 0; k < nup; k++)
    idx[n++] = (int)(up[k] - c->tenants);
  return n;
}

void ctl_quota_charge(struct sc_ctl *c, struct ctl_quota *q, const struct ctl_job *j)
{
  struct sc_res_set use;
  int idx[65], n;

  if (!q)
    return;
  n = chain(c, j->spec.tenant, idx);
  ctl_job_usage(c, j, &use);
  for (int k = 0; k < n; k++)
    if (idx[k] < q->n)
      for (int r = 0; r < use.n; r++)
        sc_res_set_add(&q->subtree[idx[k]], use.name[r], use.amount[r]);
}

/* What all of j's tasks ask for, of resource res (gpu.MODEL as gpu). */
static int64_t request(const struct ctl_job *j, const char *res)
{
  int64_t per_dev = j->gpu_milli > 0 && j->gpu_milli < 1000 ? j->gpu_milli : 1000;

  if (strcmp(res, "cpu") == 0)
    return j->cpu_milli * j->ntasks;
  if (strcmp(res, "memory") == 0)
    return j->memory_mib * j->ntasks;
  return (int64_t)j->gpus * per_dev * j->ntasks; /* gpu, gpu.MODEL */
}

static void reason(char *buf, size_t size, const char *res, int64_t after, int64_t limit,
                   const struct ctl_tenant *t, bool own)
{
  char a[32], l[32];

  sc_res_format(res, after, a, sizeof a);
  sc_res_format(res, limit, l, sizeof l);
  if (own)
    snprintf(buf, size, "quota: %s %s/%s (limit)", res, a, l);
  else
    snprintf(buf, size, "quota: %s %s/%s (limit of %s)", res, a, l, t->rec.name);
}

bool ctl_quota_admit(struct sc_ctl *c, struct ctl_quota *q, struct ctl_job *j,
                     const struct sc_cluster *cl, struct sc_shape *sh)
{
  int idx[65], n = q ? chain(c, j->spec.tenant, idx) : 0;

  j->quota_reason[0] = '\0';
  for (int k = 0; k < n; k++) {
    const struct ctl_tenant *t = &c->tenants[idx[k]];
    const struct sc_res_set *lim = &t->rules.limit;
    const struct sc_res_set *used = idx[k] < q->n ? &q->subtree[idx[k]] : NULL;
    for (int r = 0; used && r < lim->n; r++) {
      const char *res = lim->name[r];
      int64_t want = request(j, res), have = sc_res_get(used, res);
      int m;
      if (want == 0)
        continue;
      have = have < 0 ? 0 : have;
      if (have + want <= lim->amount[r])
        continue;
      if (strncmp(res, "gpu.", 4) != 0) { /* gpu, cpu, memory: the job waits */
        reason(j->quota_reason, sizeof j->quota_reason, res, have + want, lim->amount[r], t,
               k == 0);
        return false;
      }
      /* gpu.MODEL: the job may still run on its other models */
      if ((m = sc_cluster_model_find(cl, res + 4)) < 0)
        continue; /* no node of that model is up: nothing to take from */
      if (sh->any_model) {
        sh->any_model = false;
        sh->models = cl->nmodels >= 64 ? ~0ULL : (1ULL << cl->nmodels) - 1;
      }
      sh->models &= ~(1ULL << m);
      if (sh->models == 0) {
        reason(j->quota_reason, sizeof j->quota_reason, res, have + want, lim->amount[r], t,
               k == 0);
        return false;
      }
    }
  }
  return true;
}
