/*
 * What /metrics shows of the controller (server/metrics.c renders it):
 * the counters the state machine keeps per tenant (struct
 * ctl_tenant_counts), the histograms of passes and of submit-to-start,
 * and gauges counted now. One snapshot holds the lock for one walk of the
 * nodes and the active jobs and a copy of the fleet (what a scheduling
 * pass builds anyway); FGD's fragmentation is measured on that copy after
 * the lock is dropped, so a scrape of a large fleet does not stall
 * scheduling or the agents. Everything is aggregated here, by tenant,
 * model and region, never per job or node (bounded cardinality).
 */
#include "server/ctl_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/error.h"
#include "util/vec.h"

const char *sc_pending_class_name(int cls)
{
  static const char *const names[SC_PENDING_NCLASSES] = {
    [SC_PENDING_NONE] = "None",
    [SC_PENDING_RESOURCES] = "Resources",
    [SC_PENDING_HELD] = "Held",
    [SC_PENDING_BEGIN_TIME] = "BeginTime",
    [SC_PENDING_DEPENDENCY] = "Dependency",
    [SC_PENDING_DEPENDENCY_NEVER] = "DependencyNeverSatisfied",
    [SC_PENDING_QUOTA] = "QuotaExceeded",
    [SC_PENDING_ARRAY_LIMIT] = "JobArrayTaskLimit",
  };

  return cls >= 0 && cls < SC_PENDING_NCLASSES ? names[cls] : "unknown";
}

void sc_ctl_metrics_release(struct sc_ctl_metrics *m)
{
  free(m->tenants);
  free(m->pools);
  free(m->regions);
  memset(m, 0, sizeof *m);
}

/* The class of pending job j, in the order sc_ctl_pending_reason tests
 * them; array_running: the running elements of its array (when it has a
 * %N limit). */
static int pending_class(const struct ctl_job *j, int array_running, int64_t wall)
{
  if (j->held)
    return SC_PENDING_HELD;
  if (j->spec.begin_ms > wall)
    return SC_PENDING_BEGIN_TIME;
  if (j->dep_never)
    return SC_PENDING_DEPENDENCY_NEVER;
  if (j->quota_reason[0])
    return SC_PENDING_QUOTA;
  if (j->deps_left > 0)
    return SC_PENDING_DEPENDENCY;
  if (j->spec.array_max_running > 0 && array_running >= j->spec.array_max_running)
    return SC_PENDING_ARRAY_LIMIT;
  return j->tried ? SC_PENDING_RESOURCES : SC_PENDING_NONE;
}

/* The running elements of the array whose first element in jobs[] is at
 * i (elements have consecutive ids, so they are adjacent). */
static int array_running(const struct sc_ctl *c, int i)
{
  int64_t id = c->jobs[i]->array_id;
  int n = 0;

  for (; i < c->njobs && c->jobs[i]->array_id == id; i++)
    n += c->jobs[i]->state == SC_JOB_RUNNING;
  return n;
}

/* Copies the tenants' counters and counts their active jobs (mu held). */
static int snap_jobs(const struct sc_ctl *c, struct sc_ctl_metrics *m)
{
  int64_t wall = ctl_wall_ms(c), arr_id = 0;
  int arr_running = 0, t = 0;

  m->tenants = calloc((size_t)c->ntenants + 1, sizeof *m->tenants);
  if (!m->tenants)
    return SC_ENOMEM;
  m->ntenants = c->ntenants;
  for (int i = 0; i < c->ntenants; i++) {
    const struct ctl_tenant_counts *k = &c->tenants[i].counts;
    struct sc_ctl_tenant_metrics *o = &m->tenants[i];
    memcpy(o->name, c->tenants[i].rec.name, sizeof o->name);
    o->submitted = k->submitted;
    o->starts = k->starts;
    memcpy(o->exits, k->exits, sizeof o->exits);
    memcpy(o->preemptions, k->preemptions, sizeof o->preemptions);
    for (int n = 0; n < SC_CTL_NPREEMPT_KINDS; n++)
      o->preempted_gpu_s[n] = (double)k->preempted_gpu_ms[n] / 1000.0;
  }
  for (int i = 0; i < c->njobs; i++) {
    const struct ctl_job *j = c->jobs[i];
    if (j->array_id > 0 && j->spec.array_max_running > 0 && j->array_id != arr_id) {
      arr_id = j->array_id;
      arr_running = array_running(c, i);
    }
    if (j->state != SC_JOB_PENDING && j->state != SC_JOB_RUNNING)
      continue;
    /* Tenants are sorted by name; jobs of one tenant often come in a row. */
    if (t >= m->ntenants || strcmp(m->tenants[t].name, j->spec.tenant) != 0) {
      const struct ctl_tenant *tn = ctl_tenant_find(c, j->spec.tenant);
      if (!tn)
        continue;
      t = (int)(tn - c->tenants);
    }
    if (j->state == SC_JOB_RUNNING)
      m->tenants[t].running++;
    else
      m->tenants[t].pending[pending_class(j, j->array_id == arr_id ? arr_running : 0, wall)]++;
  }
  return 0;
}

/* The pool of (model, region) in m, added when new; NULL when out of
 * memory. hint: the last one found (nodes of a fleet look alike). */
static struct sc_ctl_pool_metrics *pool_of(struct sc_ctl_metrics *m, int *cap, const char *model,
                                           const char *region, int *hint)
{
  struct sc_ctl_pool_metrics *p;

  if (*hint >= 0 && strcmp(m->pools[*hint].model, model) == 0 &&
      strcmp(m->pools[*hint].region, region) == 0)
    return &m->pools[*hint];
  for (int i = 0; i < m->npools; i++)
    if (strcmp(m->pools[i].model, model) == 0 && strcmp(m->pools[i].region, region) == 0)
      return &m->pools[*hint = i];
  if (SC_VEC_RESERVE_ONE(m->pools, m->npools, *cap) < 0)
    return NULL;
  p = &m->pools[*hint = m->npools++];
  memset(p, 0, sizeof *p);
  snprintf(p->model, sizeof p->model, "%s", model);
  snprintf(p->region, sizeof p->region, "%s", region);
  return p;
}

static struct sc_ctl_region_metrics *region_of(struct sc_ctl_metrics *m, int *cap,
                                               const char *region)
{
  struct sc_ctl_region_metrics *r;

  for (int i = 0; i < m->nregions; i++)
    if (strcmp(m->regions[i].region, region) == 0)
      return &m->regions[i];
  if (SC_VEC_RESERVE_ONE(m->regions, m->nregions, *cap) < 0)
    return NULL;
  r = &m->regions[m->nregions++];
  memset(r, 0, sizeof *r);
  snprintf(r->region, sizeof r->region, "%s", region);
  return r;
}

/* Milli-GPU held on each device of node i: tasks placed there and
 * preempted processes in their grace (as a pass counts them). */
static void node_held(const struct sc_ctl *c, int i, int used[SC_STORE_MAX_DEVICES])
{
  memset(used, 0, sizeof(int) * SC_STORE_MAX_DEVICES);
  for (const struct ctl_task *t = c->nodes[i].alive; t; t = t->alive_next) {
    const int *pos = t->node == i ? t->pos : t->held_pos;
    int ndev = t->node == i ? t->ndev : t->held_node == i ? t->held_ndev : 0;
    for (int d = 0; d < ndev; d++)
      if (pos[d] >= 0 && pos[d] < SC_STORE_MAX_DEVICES)
        used[pos[d]] += t->job->gpu_milli;
  }
}

/* Counts nodes by region and state, and the devices of ready nodes and
 * what is held on them by model and region (mu held). */
static int snap_nodes(const struct sc_ctl *c, struct sc_ctl_metrics *m)
{
  int cap_pools = 0, cap_regions = 0, hint = -1;

  for (int i = 0; i < c->nnodes; i++) {
    const struct ctl_node *n = &c->nodes[i];
    struct sc_ctl_region_metrics *r = region_of(m, &cap_regions, n->region);
    int used[SC_STORE_MAX_DEVICES];
    if (!r)
      return SC_ENOMEM;
    if (n->rec.state >= 0 && n->rec.state < SC_NODE_NSTATES)
      r->nodes[n->rec.state][n->rec.drained ? 1 : 0]++;
    if (n->rec.state != SC_NODE_READY || n->rec.ndev == 0)
      continue;
    node_held(c, i, used);
    for (int d = 0; d < n->rec.ndev && d < SC_STORE_MAX_DEVICES; d++) {
      struct sc_ctl_pool_metrics *p = pool_of(m, &cap_pools, n->rec.dev[d].model, n->region,
                                              &hint);
      if (!p)
        return SC_ENOMEM;
      p->devices++;
      p->allocated_milli += used[d] < 1000 ? used[d] : 1000;
    }
  }
  return 0;
}

/* FGD's fragmented milli-GPU of cl for workload typ, and its capacity
 * (no lock: both are the snapshot's own). */
static void measure_frag(const struct sc_cluster *cl, const struct sc_typical *typ,
                         struct sc_ctl_metrics *m)
{
  m->capacity_milli = 0;
  m->frag_milli = 0;
  for (size_t i = 0; i < cl->nnodes; i++) {
    m->capacity_milli += (double)cl->nodes[i].gpu_count * 1000.0;
    if (typ->n > 0)
      m->frag_milli += sc_frag_node_score(&cl->nodes[i], typ);
  }
  m->frag_known = typ->n > 0 && m->capacity_milli > 0;
}

int sc_ctl_metrics(struct sc_ctl *c, struct sc_ctl_metrics *out)
{
  struct sc_cluster cl;
  struct sc_typical typ;
  double t0;
  int rc;

  memset(out, 0, sizeof *out);
  sc_cluster_init(&cl);
  memset(&typ, 0, sizeof typ);
  sc_histogram_read(&c->pass_hist, &out->pass_seconds);
  sc_histogram_read(&c->start_hist, &out->start_seconds);
  pthread_mutex_lock(&c->mu);
  t0 = sc_clock_mono_msf();
  rc = snap_jobs(c, out);
  if (rc == 0)
    rc = snap_nodes(c, out);
  if (rc == 0)
    rc = ctl_sched_fleet(c, &cl, &typ);
  out->lock_held_s = (sc_clock_mono_msf() - t0) / 1000.0;
  pthread_mutex_unlock(&c->mu);
  if (rc == 0)
    measure_frag(&cl, &typ, out);
  sc_cluster_release(&cl);
  sc_typical_release(&typ);
  if (rc < 0)
    sc_ctl_metrics_release(out);
  return rc;
}
