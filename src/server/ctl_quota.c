/*
 * Tenancy in a scheduling pass: the controller's tenant tree and running
 * jobs become the core's (core/tenancy.h: guarantees, limits, lend limits,
 * Kueue's balances) and the pending jobs are tried in the core's fair-share
 * order (core/fairshare.h): tenants by weighted dominant share, siblings
 * first, then down the tree; within a tenant by priority, then submission.
 * A job is admitted only when the core's quota check passes and the
 * engine places it (one decision); a placed job is charged at once, so the
 * order moves on within the pass. Decisions are the core's: this file
 * translates (tenants by index, parents first; resource names to vector
 * dimensions; the core's milli amounts to the reason people read).
 *
 * The core puts jobs at leaves only. A tenant that has children and jobs
 * of its own gets a hidden leaf child for them, guaranteed what its
 * children's guarantees leave of its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/fairshare.h"
#include "core/preempt.h"
#include "core/tenancy.h"
#include "server/ctl_int.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

struct ctl_quota {
  struct sc_tenant *tenants;  /* the core's, parents first */
  int n;
  int *leaf;                  /* by ctl tenant index: its jobs' core leaf */
  bool *busy;                 /* by ctl tenant index: it has jobs not ended */
  int nctl;
  struct sc_tenancy *tn;
  struct sc_order *order;
  struct sc_order_job *ojobs; /* the jobs being ordered */
  struct ctl_job **jobs;
  int njobs;
  const struct sc_cluster *cl;
  struct sc_preempt *ps;       /* the victim search's workspace, once needed */
  bool spot_running;           /* a spot job runs: any standard job may take it */
  char models[SC_MAX_MODELS][SC_NAME_MAX];
  int nmodels;
};

/* Whether j runs on spot capacity (preemptible: true). */
static bool job_spot(const struct ctl_job *j)
{
  return j->spec.preemptible;
}

/* The dimension of resource name in cl ("gpu.A100" by model id), -1. */
static int dim_of(const struct sc_cluster *cl, const char *name)
{
  if (strcmp(name, "gpu") == 0)
    return SC_RES_GPU;
  if (strcmp(name, "cpu") == 0)
    return SC_RES_CPU;
  if (strcmp(name, "memory") == 0)
    return SC_RES_MEM;
  if (strncmp(name, "gpu.", 4) == 0)
    for (int m = 0; m < cl->nmodels && m < SC_RES_MODELS; m++)
      if (strcasecmp(cl->models[m], name + 4) == 0)
        return SC_RES_MODEL0 + m;
  return -1;
}

static void res_from_set(struct sc_res *out, const struct sc_res_set *s,
                         const struct sc_cluster *cl)
{
  for (int i = 0; i < s->n; i++) {
    int d = dim_of(cl, s->name[i]);
    if (d >= 0)
      out->v[d] = s->amount[i];
  }
}

static int has_children(const struct sc_ctl *c, const char *name)
{
  for (int i = 0; i < c->ntenants; i++)
    if (strcmp(c->tenants[i].rec.parent, name) == 0)
      return 1;
  return 0;
}

/* Appends ctl tenant i (core parent p) and its subtree, parents first. */
static void add_subtree(struct sc_ctl *c, struct ctl_quota *q, int i, int p, int depth)
{
  const struct ctl_tenant *t = &c->tenants[i];
  struct sc_tenant *x = &q->tenants[q->n];
  int self = q->n++;

  memset(x, 0, sizeof *x);
  x->name = t->rec.name;
  x->parent = p;
  x->weight = (int64_t)((t->rec.weight > 0 ? t->rec.weight : 1.0) * 1000);
  sc_res_zero(&x->guarantee);
  sc_res_unlimited(&x->limit);
  sc_res_unlimited(&x->lend_limit);
  res_from_set(&x->guarantee, &t->rules.guarantee, q->cl);
  res_from_set(&x->limit, &t->rules.limit, q->cl);
  res_from_set(&x->lend_limit, &t->rules.lend_limit, q->cl);
  x->preempt_within = t->rules.preempt_lower ? SC_PREEMPT_WITHIN_LOWER_PRIORITY
                                             : SC_PREEMPT_WITHIN_NEVER;
  x->spot_over_limit = t->rules.spot_over_limit;
  q->leaf[i] = self;
  if (depth > 64)
    return;
  if (q->busy[i] && has_children(c, t->rec.name)) {
    struct sc_tenant *own = &q->tenants[q->n];
    struct sc_res left = x->guarantee;
    memset(own, 0, sizeof *own);
    own->name = t->rec.name;
    own->parent = self;
    own->weight = x->weight;
    for (int k = 0; k < c->ntenants; k++)
      if (strcmp(c->tenants[k].rec.parent, t->rec.name) == 0) {
        struct sc_res g;
        sc_res_zero(&g);
        res_from_set(&g, &c->tenants[k].rules.guarantee, q->cl);
        sc_res_add(&left, &g, -1);
      }
    for (int d = 0; d < SC_RES_DIMS; d++)
      if (left.v[d] < 0)
        left.v[d] = 0;
    own->guarantee = left;
    sc_res_unlimited(&own->limit);
    sc_res_unlimited(&own->lend_limit);
    own->preempt_within = x->preempt_within;
    own->spot_over_limit = x->spot_over_limit;
    q->leaf[i] = q->n++;
  }
  for (int k = 0; k < c->ntenants; k++)
    if (strcmp(c->tenants[k].rec.parent, t->rec.name) == 0)
      add_subtree(c, q, k, self, depth + 1);
}

/* What job j's tasks hold now, as a vector. */
static void job_res(const struct sc_ctl *c, const struct ctl_job *j, const struct sc_cluster *cl,
                    struct sc_res *out)
{
  struct sc_res_set use;

  sc_res_zero(out);
  ctl_job_usage(c, j, &use);
  res_from_set(out, &use, cl);
}

int ctl_quota_begin(struct sc_ctl *c, const struct sc_cluster *cl, struct ctl_quota **out)
{
  struct ctl_quota *q = calloc(1, sizeof *q);
  struct sc_tenancy_opts opts;
  char err[256];
  int rc = q ? 0 : SC_ENOMEM;

  *out = NULL;
  if (rc == 0) {
    q->cl = cl;
    q->nctl = c->ntenants;
    q->tenants = calloc((size_t)(2 * c->ntenants + 1), sizeof *q->tenants);
    q->leaf = calloc((size_t)(c->ntenants + 1), sizeof *q->leaf);
    q->busy = calloc((size_t)(c->ntenants + 1), sizeof *q->busy);
    if (!q->tenants || !q->leaf || !q->busy)
      rc = SC_ENOMEM;
  }
  for (int k = 0; rc == 0 && k < c->njobs; k++) { /* one look at the jobs */
    const struct ctl_tenant *t = ctl_tenant_find(c, c->jobs[k]->spec.tenant);
    if (t && !sc_job_state_final(c->jobs[k]->state))
      q->busy[t - c->tenants] = true;
  }
  for (int i = 0; rc == 0 && i < c->ntenants; i++) {
    q->leaf[i] = -1;
  }
  for (int i = 0; rc == 0 && i < c->ntenants; i++) /* roots, and their trees */
    if (!c->tenants[i].rec.parent[0] || !ctl_tenant_find(c, c->tenants[i].rec.parent))
      add_subtree(c, q, i, -1, 0);
  if (rc == 0) {
    q->nmodels = cl->nmodels < SC_MAX_MODELS ? cl->nmodels : SC_MAX_MODELS;
    memcpy(q->models, cl->models, sizeof q->models);
    memset(&opts, 0, sizeof opts);
    opts.tenants = q->tenants;
    opts.ntenants = q->n;
    sc_res_of_cluster(&opts.capacity, cl);
    opts.models = (const char(*)[SC_NAME_MAX])q->models;
    opts.nmodels = q->nmodels;
    /* Over the fleet's capacity is no quota matter: the engine finds no
     * room (Resources), and tasks of a lost node still count as held
     * while its capacity is gone. */
    opts.engine_capacity = true;
    rc = sc_tenancy_new(&opts, err, sizeof err, &q->tn);
    if (rc == SC_EINVAL)
      sc_warn("tenant tree refused by the core: %s", err);
  }
  for (int k = 0; rc == 0 && k < c->njobs; k++) { /* what runs now */
    const struct ctl_job *j = c->jobs[k];
    const struct ctl_tenant *t = ctl_tenant_find(c, j->spec.tenant);
    struct sc_res r;
    if (j->state != SC_JOB_RUNNING || !t)
      continue;
    job_res(c, j, cl, &r);
    sc_tenancy_charge(q->tn, q->leaf[t - c->tenants], &r, job_spot(j), 1);
    q->spot_running = q->spot_running || job_spot(j);
  }
  if (rc < 0) {
    ctl_quota_end(q);
    return rc;
  }
  *out = q;
  return 0;
}

void ctl_quota_end(struct ctl_quota *q)
{
  if (!q)
    return;
  sc_order_free(q->order);
  sc_preempt_free(q->ps);
  sc_tenancy_free(q->tn);
  free(q->ojobs);
  free(q->tenants);
  free(q->leaf);
  free(q->busy);
  free(q);
}

int ctl_quota_order(struct sc_ctl *c, struct ctl_quota *q, struct ctl_job **jobs, int n)
{
  int k = 0, rc;

  free(q->ojobs);
  q->ojobs = calloc((size_t)(n > 0 ? n : 1), sizeof *q->ojobs);
  if (!q->ojobs)
    return SC_ENOMEM;
  q->jobs = jobs;
  for (int i = 0; i < n; i++) {
    const struct ctl_tenant *t = ctl_tenant_find(c, jobs[i]->spec.tenant);
    if (!t || q->leaf[t - c->tenants] < 0)
      continue; /* no tenant row yet (cannot happen: submit makes it) */
    jobs[k] = jobs[i];
    q->ojobs[k].tenant = q->leaf[t - c->tenants];
    q->ojobs[k].priority = jobs[i]->priority;
    q->ojobs[k].seq = jobs[i]->id;
    k++;
  }
  q->njobs = k;
  sc_order_free(q->order);
  q->order = NULL;
  rc = sc_order_new(q->tn, q->ojobs, k, &q->order);
  return rc;
}

struct ctl_job *ctl_quota_next(struct ctl_quota *q, int *at)
{
  *at = q->order ? sc_order_next(q->order) : -1;
  return *at >= 0 ? q->jobs[*at] : NULL;
}

void ctl_quota_charge(struct sc_ctl *c, struct ctl_quota *q, const struct ctl_job *j)
{
  const struct ctl_tenant *t = q && q->tn ? ctl_tenant_find(c, j->spec.tenant) : NULL;
  struct sc_res r;

  if (!t || q->leaf[t - c->tenants] < 0)
    return;
  job_res(c, j, q->cl, &r);
  sc_tenancy_charge(q->tn, q->leaf[t - c->tenants], &r, job_spot(j), 1);
}

void ctl_quota_done(struct sc_ctl *c, struct ctl_quota *q, int at, bool placed)
{
  struct ctl_job *j = q->jobs[at];
  struct sc_res r;

  if (!placed) {
    sc_order_skip(q->order, at, false);
    return;
  }
  job_res(c, j, q->cl, &r);
  sc_order_admit(q->order, at, &r, job_spot(j));
}

/* The core's reason, "quota: gpu.A100-80G 12/8 (limit of 'org')", as the
 * pending reason shows it: without the quotes. */
static void humane(const char *core, char *buf, size_t size)
{
  size_t k = 0;

  for (const char *p = core; *p && k + 1 < size; p++)
    if (*p != '\'')
      buf[k++] = *p;
  buf[k] = '\0';
}

bool ctl_quota_admit(struct sc_ctl *c, struct ctl_quota *q, struct ctl_job *j,
                     const struct sc_cluster *cl, struct sc_shape *sh)
{
  const struct ctl_tenant *t = q ? ctl_tenant_find(c, j->spec.tenant) : NULL;
  uint32_t dims = q && q->tn ? sc_tenancy_dims(q->tn) : 0;
  char why[200];
  struct sc_res req;
  int leaf;

  j->quota_reason[0] = '\0';
  if (!t || !q->tn || (leaf = q->leaf[t - c->tenants]) < 0)
    return true;
  {
    struct sc_shape one = *sh;
    sc_res_zero(&req);
    for (int k = 0; k < j->ntasks; k++) {
      struct sc_res r1;
      sc_res_of_shapes(&r1, &one, 1);
      sc_res_add(&req, &r1, 1);
    }
  }
  if (sc_tenancy_fits(q->tn, leaf, &req, job_spot(j), why, sizeof why) != 0) {
    humane(why, j->quota_reason, sizeof j->quota_reason);
    return false;
  }
  /* Per-model rules and a job that allows several models: keep only the
   * models it could be charged on within them. */
  for (int m = 0; m < cl->nmodels && m < SC_RES_MODELS && sh->gpu_count > 0; m++) {
    struct sc_res rm = req;
    if (!(dims & (1u << (SC_RES_MODEL0 + m))) || !sc_shape_model_ok(sh, m) ||
        req.v[SC_RES_MODEL0 + m] > 0)
      continue;
    rm.v[SC_RES_MODEL0 + m] = req.v[SC_RES_GPU];
    if (sc_tenancy_fits(q->tn, leaf, &rm, job_spot(j), why, sizeof why) == 0)
      continue;
    if (sh->any_model) {
      sh->any_model = false;
      sh->models = cl->nmodels >= 64 ? ~0ULL : (1ULL << cl->nmodels) - 1;
    }
    sh->models &= ~(1ULL << m);
    if (sh->models == 0) {
      humane(why, j->quota_reason, sizeof j->quota_reason);
      return false;
    }
  }
  return true;
}

/* ---- preemption: the core chooses the victims ---- */

/* Whether victims preempted for j still have processes alive (then j
 * waits for them rather than choosing more). */
static bool victims_stopping(const struct sc_ctl *c, const struct ctl_job *j)
{
  char by[48];

  snprintf(by, sizeof by, "preempted by j-%06lld", (long long)j->id);
  for (int k = 0; k < c->njobs; k++) {
    const struct ctl_job *v = c->jobs[k];
    if (v->nalive > 0 && v->state == SC_JOB_PENDING && strstr(v->reason, by))
      return true;
  }
  return false;
}

bool ctl_quota_nominated(const struct sc_ctl *c, const struct ctl_job *j)
{
  return j->nnominated > 0 && j->state == SC_JOB_PENDING && victims_stopping(c, j);
}

bool ctl_quota_victim_waits(const struct sc_ctl *c, const struct ctl_job *v)
{
  const char *at = strstr(v->reason, "preempted by j-");
  const struct ctl_job *p;

  if (v->state != SC_JOB_PENDING || !at)
    return false;
  p = ctl_job_find((struct sc_ctl *)c, strtoll(at + strlen("preempted by j-"), NULL, 10));
  return p && p->state == SC_JOB_PENDING && victims_stopping(c, p);
}

void ctl_running_free(struct ctl_running *r)
{
  free(r->jobs);
  free(r->tasks);
  free(r->owner);
  memset(r, 0, sizeof *r);
}

int ctl_running_build(struct sc_ctl *c, struct ctl_quota *q, const struct sc_cluster *cl,
                      const int *map, struct ctl_running *r)
{
  int64_t now = ctl_wall_ms(c), now_mono = sc_clock_mono_ms();
  int ntasks = 0;

  memset(r, 0, sizeof *r);
  for (int k = 0; k < c->njobs; k++)
    if (c->jobs[k]->state == SC_JOB_RUNNING)
      ntasks += c->jobs[k]->ntasks;
  r->jobs = calloc((size_t)(c->njobs + 1), sizeof *r->jobs);
  r->owner = calloc((size_t)(c->njobs + 1), sizeof *r->owner);
  r->tasks = calloc((size_t)(ntasks + 1), sizeof *r->tasks);
  if (!r->jobs || !r->owner || !r->tasks) {
    ctl_running_free(r);
    return SC_ENOMEM;
  }
  ntasks = 0;
  for (int k = 0; k < c->njobs; k++) { /* what runs, where, as the core sees it */
    struct ctl_job *v = c->jobs[k];
    const struct ctl_tenant *vt = q ? ctl_tenant_find(c, v->spec.tenant) : NULL;
    struct sc_run_job *rj = &r->jobs[r->n];
    bool whole = true;
    if (v->state != SC_JOB_RUNNING || (q && (!vt || q->leaf[vt - c->tenants] < 0)))
      continue;
    memset(rj, 0, sizeof *rj);
    rj->tenant = q ? q->leaf[vt - c->tenants] : -1;
    rj->priority = v->priority;
    rj->spot = v->spec.preemptible;
    rj->work_lost = ctl_job_work_lost_gpu_ms(v, now) / 1000;
    /* Assigned but not started yet: it starts about when it was placed
     * (a fixed estimate: "now" would move the shadow on every pass). */
    rj->end = v->spec.max_runtime_s <= 0 ? SC_TIME_NEVER
              : (v->started_mono_ms > 0    ? v->started_mono_ms
                 : v->assigned_mono_ms > 0 ? v->assigned_mono_ms
                                           : now_mono) +
                  v->spec.max_runtime_s * 1000;
    rj->first_task = ntasks;
    for (int i = 0; i < v->ntasks; i++) {
      const struct ctl_task *tk = &v->tasks[i];
      struct sc_run_task *rt = &r->tasks[ntasks];
      if (tk->node >= 0 && tk->alive_node != tk->node)
        continue; /* it ended (its gang runs on): it holds nothing */
      if (tk->node < 0 || map[tk->node] < 0) {
        whole = false; /* a task on a node out of the pass: not a candidate */
        break;
      }
      memset(rt, 0, sizeof *rt);
      rt->shape.cpu = v->cpu_milli;
      rt->shape.mem = v->memory_mib;
      rt->shape.gpu_count = v->gpus;
      rt->shape.gpu_milli = v->gpus > 0 ? v->gpu_milli : 0;
      rt->shape.any_model = true;
      rt->shape.id = -1;
      rt->place.node = map[tk->node];
      rt->place.ndev = tk->ndev;
      for (int d = 0; d < tk->ndev && d < SC_MAX_GPUS; d++)
        rt->place.dev[d] = (int8_t)tk->pos[d];
      ntasks++;
    }
    if (!whole) {
      ntasks = rj->first_task;
      continue;
    }
    rj->ntasks = ntasks - rj->first_task;
    job_res(c, v, cl, &rj->req);
    r->owner[r->n++] = v;
  }
  return 0;
}

bool ctl_quota_may_preempt(struct sc_ctl *c, const struct ctl_quota *q, const struct ctl_job *j)
{
  const struct ctl_tenant *t = q && q->tn ? ctl_tenant_find(c, j->spec.tenant) : NULL;
  int leaf;

  if (!t || (leaf = q->leaf[t - c->tenants]) < 0 || job_spot(j))
    return false;
  if (q->spot_running)
    return true; /* spot capacity is idle capacity to a standard job */
  for (int i = leaf; i >= 0; i = q->tenants[i].parent) {
    if (q->tenants[i].preempt_within != SC_PREEMPT_WITHIN_NEVER)
      return true;
    for (int d = 0; d < SC_RES_DIMS; d++)
      if (q->tenants[i].guarantee.v[d] > 0)
        return true;
  }
  return false;
}

int ctl_quota_victims(struct sc_ctl *c, struct ctl_quota *q, struct ctl_job *j,
                      const struct sc_cluster *cl, const struct sc_policy *policy,
                      const int *map, const int *inverse, const struct sc_shape *gang,
                      struct ctl_job **victims, int *nvictims, const char **kind)
{
  const struct ctl_tenant *t = q && q->tn ? ctl_tenant_find(c, j->spec.tenant) : NULL;
  struct ctl_running run = {0};
  struct sc_preempt_in in;
  struct sc_preempt_out out;
  int rc = SC_ENOFIT, leaf;

  *nvictims = 0;
  if (!t || (leaf = q->leaf[t - c->tenants]) < 0 || job_spot(j) || victims_stopping(c, j))
    return SC_ENOFIT;
  if (!q->ps && sc_preempt_new(&q->ps) < 0)
    return SC_ENOMEM;
  if ((rc = ctl_running_build(c, q, cl, map, &run)) < 0)
    return rc;
  memset(&in, 0, sizeof in);
  in.cluster = cl;
  in.policy = policy;
  in.tn = q->tn;
  in.jobs = run.jobs;
  in.njobs = run.n;
  in.tasks = run.tasks;
  in.gang = gang;
  in.ngang = j->ntasks;
  in.tenant = leaf;
  in.priority = j->priority;
  sc_res_zero(&in.req);
  for (int i = 0; i < j->ntasks; i++) {
    struct sc_res r1;
    sc_res_of_shapes(&r1, &gang[i], 1);
    sc_res_add(&in.req, &r1, 1);
  }
  in.kind = SC_PREEMPT_RECLAIM;
  *kind = "reclaim";
  rc = sc_preempt_search(q->ps, &in, &out);
  if (rc == SC_ENOFIT && t->rules.preempt_lower) {
    in.kind = SC_PREEMPT_PRIORITY;
    *kind = "priority";
    rc = sc_preempt_search(q->ps, &in, &out);
  }
  if (rc == 0 && out.nvictims == 0)
    rc = SC_ENOFIT; /* it fits as things are: the engine said otherwise (memory) */
  for (int i = 0; rc == 0 && i < out.nvictims; i++)
    victims[(*nvictims)++] = run.owner[out.victims[i]];
  j->nnominated = 0; /* where the gang goes, kept for it until it starts */
  for (int i = 0; rc == 0 && i < j->ntasks; i++) {
    int node = inverse[out.place[i].node];
    bool seen = false;
    for (int k = 0; k < j->nnominated; k++)
      seen = seen || j->nominated[k] == node;
    if (!seen && j->nnominated < 8)
      j->nominated[j->nnominated++] = node;
  }
  ctl_running_free(&run);
  return rc;
}
