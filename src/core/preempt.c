/*
 * Victim search. Candidates in preference order are evicted on a scratch
 * cluster (sc_sched_uncommit) and uncharged from the tenancy until the gang
 * places and passes quota; then each victim, worst first, is put back when
 * the rest still suffice. Under a monotone "suffices", this backward pass
 * yields the minimal set first in the bottleneck order (docs/tenancy.md).
 * Invariant between steps: the scratch cluster and tn hold exactly the
 * running jobs not in the chosen set.
 */
#include "core/preempt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

#include "core/sched.h"

#include "core/banned.h"

/* A candidate's preference key, sorted with qsort (no globals). */
struct cand_key {
  int spot_last;              /* 0 spot, 1 standard */
  int priority;
  int64_t work_lost;
  int job;
};

struct sc_preempt {
  struct sc_cluster scratch;
  struct cand_key *keys;
  struct sc_sched *sched;
  const struct sc_preempt_in *in;
  int *cand, ncand;
  int *chosen, nchosen;
  int *av, *ap;               /* per job: child of the LCA toward it / toward the gang */
  int cap_jobs;
  struct sc_placement *place; /* the gang's placement of the last successful try */
  int cap_gang;
  unsigned char *used;        /* per node: the gang uses it */
  size_t cap_nodes;
  uint32_t mask;              /* quota dimensions the gang asks for */
  int biggest, nbiggest;      /* the gang's largest whole-device task, how many */
  int roomy;                  /* such tasks the scratch cluster has room for */
  bool waive_touch;           /* the gang places without victims */
};

int sc_preempt_key_cmp(const struct sc_run_job *jobs, int a, int b)
{
  const struct sc_run_job *x = &jobs[a], *y = &jobs[b];

  if (x->spot != y->spot)
    return x->spot ? -1 : 1;
  if (x->priority != y->priority)
    return x->priority < y->priority ? -1 : 1;
  if (x->work_lost != y->work_lost)
    return x->work_lost < y->work_lost ? -1 : 1;
  return a < b ? -1 : a > b;
}

int sc_preempt_set_cmp(const struct sc_run_job *jobs, const int *a, int na, const int *b,
                       int nb)
{
  for (int i = na - 1, k = nb - 1; i >= 0 || k >= 0; i--, k--) {
    int c;
    if (i < 0 || k < 0)
      return i < 0 ? -1 : 1;
    if ((c = sc_preempt_key_cmp(jobs, a[i], b[k])) != 0)
      return c;
  }
  return 0;
}

int sc_preempt_new(struct sc_preempt **out)
{
  *out = calloc(1, sizeof **out);
  return *out ? 0 : SC_ENOMEM;
}

void sc_preempt_free(struct sc_preempt *ps)
{
  if (!ps)
    return;
  sc_sched_free(ps->sched);
  sc_cluster_release(&ps->scratch);
  free(ps->cand);
  free(ps->keys);
  free(ps->chosen);
  free(ps->av);
  free(ps->ap);
  free(ps->place);
  free(ps->used);
  free(ps);
}

/* Grows the workspace for in; copies the cluster and builds the engine. */
static int prepare(struct sc_preempt *ps, const struct sc_preempt_in *in)
{
  const struct sc_cluster *c = in->cluster;
  struct sc_sched_opts o = {in->policy, {NULL}, 0};

  if (in->njobs > ps->cap_jobs) {
    int cap = in->njobs;
    free(ps->cand);
    free(ps->keys);
    free(ps->chosen);
    free(ps->av);
    free(ps->ap);
    ps->cand = malloc((size_t)cap * sizeof *ps->cand);
    ps->keys = malloc((size_t)cap * sizeof *ps->keys);
    ps->chosen = malloc((size_t)cap * sizeof *ps->chosen);
    ps->av = malloc((size_t)cap * sizeof *ps->av);
    ps->ap = malloc((size_t)cap * sizeof *ps->ap);
    ps->cap_jobs = ps->cand && ps->keys && ps->chosen && ps->av && ps->ap ? cap : 0;
    if (!ps->cap_jobs)
      return SC_ENOMEM;
  }
  if (in->ngang > ps->cap_gang) {
    free(ps->place);
    ps->place = malloc((size_t)in->ngang * sizeof *ps->place);
    ps->cap_gang = ps->place ? in->ngang : 0;
    if (!ps->place)
      return SC_ENOMEM;
  }
  if (c->nnodes > ps->scratch.cap) {
    struct sc_node *nodes = realloc(ps->scratch.nodes, c->nnodes * sizeof *nodes);
    unsigned char *used = realloc(ps->used, c->nnodes);
    if (nodes)
      ps->scratch.nodes = nodes;
    if (used)
      ps->used = used;
    if (!nodes || !used)
      return SC_ENOMEM;
    ps->scratch.cap = ps->cap_nodes = c->nnodes;
  }
  memcpy(ps->scratch.nodes, c->nodes, c->nnodes * sizeof *c->nodes);
  ps->scratch.nnodes = c->nnodes;
  sc_sched_free(ps->sched);
  ps->sched = NULL;
  return sc_sched_new(&ps->scratch, &o, &ps->sched);
}

/* Evicts (sign -1) or restores (sign 1) job j on the scratch cluster and in
 * the tenancy. */
static int move_job(struct sc_preempt *ps, int j, int sign)
{
  const struct sc_preempt_in *in = ps->in;
  const struct sc_run_job *job = &in->jobs[j];
  int rc = 0;

  for (int k = 0; k < job->ntasks && rc == 0; k++) {
    const struct sc_run_task *t = &in->tasks[job->first_task + k];
    rc = sign < 0 ? sc_sched_uncommit(ps->sched, &t->shape, &t->place)
                  : sc_sched_commit(ps->sched, &t->shape, &t->place);
  }
  if (rc == 0)
    rc = sc_tenancy_charge(in->tn, job->tenant, &job->req, job->spot, sign);
  return rc;
}

/* Child of the common ancestor of a and b on a's side. */
static int side_of(const struct sc_tenancy *tn, int a, int b)
{
  int l = sc_tenancy_lca(tn, a, b);

  while (sc_tenancy_parent(tn, a) != l)
    a = sc_tenancy_parent(tn, a);
  return a;
}

/* Every tenant from leaf m up to top borrows on a dimension in mask. */
static bool path_borrows(const struct sc_tenancy *tn, int m, int top, uint32_t mask)
{
  for (int x = m;; x = sc_tenancy_parent(tn, x)) {
    if (!sc_tenancy_borrows(tn, x, mask))
      return false;
    if (x == top)
      return true;
  }
}

static bool is_reclaim_victim(const struct sc_preempt *ps, int j)
{
  return !ps->in->jobs[j].spot && ps->in->kind == SC_PREEMPT_RECLAIM;
}

/* sc_preempt_key_cmp on keys. */
static int cand_cmp(const void *pa, const void *pb)
{
  const struct cand_key *a = pa, *b = pb;

  if (a->spot_last != b->spot_last)
    return a->spot_last < b->spot_last ? -1 : 1;
  if (a->priority != b->priority)
    return a->priority < b->priority ? -1 : 1;
  if (a->work_lost != b->work_lost)
    return a->work_lost < b->work_lost ? -1 : 1;
  return a->job < b->job ? -1 : a->job > b->job;
}

/* Statically eligible victims, sorted by preference. */
static void candidates(struct sc_preempt *ps)
{
  const struct sc_preempt_in *in = ps->in;
  const struct sc_tenant *own = sc_tenancy_tenant(in->tn, in->tenant);

  ps->ncand = 0;
  for (int j = 0; j < in->njobs; j++) {
    const struct sc_run_job *v = &in->jobs[j];
    bool ok;
    if (v->spot) {
      ok = true;
    } else if (in->kind == SC_PREEMPT_PRIORITY) {
      ok = v->tenant == in->tenant && v->priority < in->priority &&
           own->preempt_within == SC_PREEMPT_WITHIN_LOWER_PRIORITY;
    } else {
      ok = v->tenant != in->tenant;
      if (ok) {
        ps->av[j] = side_of(in->tn, v->tenant, in->tenant);
        ps->ap[j] = side_of(in->tn, in->tenant, v->tenant);
        ok = path_borrows(in->tn, v->tenant, ps->av[j], ps->mask);
      }
    }
    if (ok)
      ps->keys[ps->ncand++] = (struct cand_key){v->spot ? 0 : 1, v->priority, v->work_lost, j};
  }
  if (ps->ncand > 1) /* no candidates: keys may not even be allocated */
    qsort(ps->keys, (size_t)ps->ncand, sizeof *ps->keys, cand_cmp);
  for (int i = 0; i < ps->ncand; i++)
    ps->cand[i] = ps->keys[i].job;
}

/* Places the gang on the scratch cluster and takes it off again; the
 * placement is kept in ps->place. */
static bool places(struct sc_preempt *ps)
{
  const struct sc_preempt_in *in = ps->in;

  if (sc_sched_place_gang(ps->sched, in->gang, in->ngang, in->rng, ps->place) < 0)
    return false;
  for (int i = in->ngang - 1; i >= 0; i--)
    sc_sched_uncommit(ps->sched, &in->gang[i], &ps->place[i]);
  return true;
}

/* The gang's side ap stays within guarantee on its dimensions once the
 * gang runs, in the current state. */
static bool side_within(struct sc_preempt *ps, int ap)
{
  const struct sc_preempt_in *in = ps->in;
  bool ok = true;

  sc_tenancy_charge(in->tn, in->tenant, &in->req, false, 1);
  for (int d = 0; d < SC_RES_DIMS && ok; d++)
    if ((ps->mask & (1u << d)) && sc_tenancy_balance(in->tn, ap, d) < 0)
      ok = false;
  sc_tenancy_charge(in->tn, in->tenant, &in->req, false, -1);
  return ok;
}

/* Quota with the chosen set gone: the gang fits, and for reclaim its side
 * of every reclaim victim stays within guarantee once it runs. */
static bool quota_ok(struct sc_preempt *ps)
{
  const struct sc_preempt_in *in = ps->in;
  bool ok = true;

  if (sc_tenancy_fits(in->tn, in->tenant, &in->req, false, NULL, 0) < 0)
    return false;
  if (in->kind != SC_PREEMPT_RECLAIM)
    return true;
  for (int i = 0; i < ps->nchosen && ok; i++)
    if (is_reclaim_victim(ps, ps->chosen[i]))
      ok = side_within(ps, ps->ap[ps->chosen[i]]);
  return ok;
}

/* No reclaim victim is taken from a side that would not borrow even if it
 * were the last one taken. */
static bool reclaim_bounded(struct sc_preempt *ps)
{
  const struct sc_preempt_in *in = ps->in;
  bool ok = true;

  for (int i = 0; i < ps->nchosen && ok; i++) {
    int j = ps->chosen[i];
    if (!is_reclaim_victim(ps, j))
      continue;
    sc_tenancy_charge(in->tn, in->jobs[j].tenant, &in->jobs[j].req, false, 1);
    ok = path_borrows(in->tn, in->jobs[j].tenant, ps->av[j], ps->mask);
    sc_tenancy_charge(in->tn, in->jobs[j].tenant, &in->jobs[j].req, false, -1);
  }
  return ok;
}

/* Each victim has a task on a node of the gang's placement. */
static bool touches(struct sc_preempt *ps)
{
  const struct sc_preempt_in *in = ps->in;
  bool ok = true;

  if (ps->waive_touch)
    return true;
  for (int i = 0; i < in->ngang; i++)
    ps->used[ps->place[i].node] = 1;
  for (int i = 0; i < ps->nchosen && ok; i++) {
    const struct sc_run_job *v = &in->jobs[ps->chosen[i]];
    bool any = false;
    for (int k = 0; k < v->ntasks && !any; k++)
      any = ps->used[in->tasks[v->first_task + k].place.node] != 0;
    ok = any;
  }
  for (int i = 0; i < in->ngang; i++)
    ps->used[ps->place[i].node] = 0;
  return ok;
}

/* How much of the rules suffices() checks: the greedy pass stops at the
 * first prefix that lets the gang start (QUOTA_PLACE); the backward pass
 * then also keeps every reclaim victim bounded (BOUNDED), and the answer
 * has every victim on the gang's nodes (FULL). */
enum { QUOTA_PLACE, BOUNDED, FULL };

/* The chosen set (already evicted) lets the gang start. */
static bool suffices(struct sc_preempt *ps, int level)
{
  if (level >= BOUNDED && !reclaim_bounded(ps))
    return false;
  if (!quota_ok(ps) || !places(ps))
    return false;
  return level < FULL || touches(ps);
}

/* Restores every chosen job: scratch and tenancy as the caller gave them. */
static int restore_all(struct sc_preempt *ps)
{
  int rc = 0;

  while (ps->nchosen > 0)
    if (move_job(ps, ps->chosen[--ps->nchosen], 1) < 0)
      rc = SC_ENOMEM;
  return rc;
}

/* How many tasks of the gang's largest whole-device size the scratch
 * cluster has room for, node by node (0 when the gang has none). */
static int count_roomy(const struct sc_preempt *ps)
{
  int n = 0;

  if (ps->biggest == 0)
    return 0;
  for (size_t i = 0; i < ps->scratch.nnodes; i++)
    n += sc_node_gpus_with(&ps->scratch.nodes[i], SC_MILLI) / ps->biggest;
  return n;
}

/* After job j left the scratch cluster: the room on its tasks' nodes
 * (before[k]: the whole devices free on task k's node before) is added,
 * each node once. */
static void note_room(struct sc_preempt *ps, int j, const int before[])
{
  const struct sc_run_job *v = &ps->in->jobs[j];
  const struct sc_run_task *t = &ps->in->tasks[v->first_task];

  for (int k = 0; k < v->ntasks; k++) {
    int node = t[k].place.node, after, m;
    for (m = 0; m < k && t[m].place.node != node; m++)
      ;
    if (m < k)
      continue; /* counted with an earlier task */
    after = sc_node_gpus_with(&ps->scratch.nodes[node], SC_MILLI);
    ps->roomy += after / ps->biggest - before[k] / ps->biggest;
  }
}

/* Adds candidates in order until the gang passes quota and places. The
 * placement is tried only once enough GPU is free in total and the nodes
 * have room for the gang's largest tasks (necessary conditions). */
static int greedy(struct sc_preempt *ps)
{
  const struct sc_preempt_in *in = ps->in;
  int64_t need = 0, cap = 0;
  int before[SC_MAX_GPUS * 4];

  for (int i = 0; i < in->ngang; i++)
    need += sc_shape_total_milli(&in->gang[i]);
  for (size_t n = 0; n < in->cluster->nnodes; n++)
    cap += (int64_t)in->cluster->nodes[n].gpu_count * SC_MILLI;
  ps->roomy = count_roomy(ps);
  for (int i = 0; i < ps->ncand; i++) {
    int j = ps->cand[i], rc, nt = in->jobs[j].ntasks;
    bool track = ps->biggest > 0 && nt <= (int)(sizeof before / sizeof before[0]);
    /* Re-checks with the earlier picks gone: the victim's side must still
     * borrow, and the gang's side of it must be within guarantee. */
    if (is_reclaim_victim(ps, j) && (!path_borrows(in->tn, in->jobs[j].tenant, ps->av[j], ps->mask) ||
                                     !side_within(ps, ps->ap[j])))
      continue;
    for (int k = 0; track && k < nt; k++)
      before[k] = sc_node_gpus_with(&ps->scratch.nodes[in->tasks[in->jobs[j].first_task + k].place.node],
                                    SC_MILLI);
    if ((rc = move_job(ps, j, -1)) < 0)
      return rc;
    ps->chosen[ps->nchosen++] = j;
    if (track)
      note_room(ps, j, before);
    else if (ps->biggest > 0)
      ps->roomy = count_roomy(ps);
    if (ps->biggest > 0 && ps->roomy < ps->nbiggest)
      continue;
    if (cap - sc_sched_gpu_used_milli(ps->sched) >= need && suffices(ps, QUOTA_PLACE))
      return 0;
  }
  return SC_ENOFIT;
}

/* Removes chosen[i] from the set (restores it) when the rest suffice;
 * returns 1 when it did. */
static int try_drop(struct sc_preempt *ps, int i)
{
  int j = ps->chosen[i], rc;

  if ((rc = move_job(ps, j, 1)) < 0)
    return rc;
  memmove(&ps->chosen[i], &ps->chosen[i + 1], (size_t)(ps->nchosen - i - 1) * sizeof(int));
  ps->nchosen--;
  if (suffices(ps, BOUNDED))
    return 1;
  if ((rc = move_job(ps, j, -1)) < 0)
    return rc;
  memmove(&ps->chosen[i + 1], &ps->chosen[i], (size_t)(ps->nchosen - i) * sizeof(int));
  ps->chosen[i] = j;
  ps->nchosen++;
  return 0;
}

/* Puts back every victim with no task on the gang's nodes: all at once
 * when the rest still suffice (the common case on a large cluster, where
 * the greedy pass evicts scattered jobs before a node frees), else one by
 * one, worst first. */
static int drop_untouched(struct sc_preempt *ps)
{
  const struct sc_preempt_in *in = ps->in;
  int kept = 0, nback = 0, rc;

  for (int i = 0; i < in->ngang; i++)
    ps->used[ps->place[i].node] = 1;
  for (int i = 0; i < ps->nchosen; i++) {
    const struct sc_run_job *v = &in->jobs[ps->chosen[i]];
    bool any = false;
    for (int k = 0; k < v->ntasks && !any; k++)
      any = ps->used[in->tasks[v->first_task + k].place.node] != 0;
    if (any) {
      ps->chosen[kept++] = ps->chosen[i];
    } else {
      ps->cand[nback++] = ps->chosen[i]; /* cand is free for reuse now */
      if ((rc = move_job(ps, ps->chosen[i], 1)) < 0)
        return rc;
    }
  }
  memset(ps->used, 0, in->cluster->nnodes);
  ps->nchosen = kept;
  if (nback == 0 || suffices(ps, BOUNDED))
    return 0;
  /* Take them out again, in preference order, and try one at a time. */
  for (int i = 0; i < nback; i++) {
    int j = ps->cand[i], at = ps->nchosen++;
    if ((rc = move_job(ps, j, -1)) < 0)
      return rc;
    while (at > 0 && sc_preempt_key_cmp(in->jobs, j, ps->chosen[at - 1]) < 0) {
      ps->chosen[at] = ps->chosen[at - 1];
      at--;
    }
    ps->chosen[at] = j;
  }
  for (int i = ps->nchosen - 1; i >= 0; i--) {
    const struct sc_run_job *v = &in->jobs[ps->chosen[i]];
    bool any = false;
    for (int k = 0; k < v->ntasks && !any; k++)
      for (int g = 0; g < in->ngang && !any; g++)
        any = in->tasks[v->first_task + k].place.node == ps->place[g].node;
    if (!any && (rc = try_drop(ps, i)) < 0)
      return rc;
  }
  return 0;
}

/* Backward pass: worst victim first, put back each one the rest can do
 * without. Victims off the gang's nodes go first (drop_untouched). */
static int trim(struct sc_preempt *ps)
{
  int rc;

  if (!ps->waive_touch && (rc = drop_untouched(ps)) < 0)
    return rc;
  /* Repeat until nothing more goes: a victim needed only because of
   * another one (reclaim keeps the gang's side within guarantee of every
   * victim's) may be dropped once that one is. */
  for (bool dropped = true; dropped;) {
    dropped = false;
    for (int i = ps->nchosen - 1; i >= 0; i--) {
      if ((rc = try_drop(ps, i)) < 0)
        return rc;
      dropped = dropped || rc == 1;
    }
  }
  return suffices(ps, FULL) ? 0 : SC_ENOFIT;
}

static int check_input(const struct sc_preempt_in *in)
{
  if (!in->cluster || !in->policy || !in->tn || in->njobs < 0 || in->ngang <= 0 ||
      (in->njobs > 0 && (!in->jobs || !in->tasks)) || !in->gang)
    return SC_EINVAL;
  if (in->tenant < 0 || in->tenant >= sc_tenancy_count(in->tn) ||
      !sc_tenancy_is_leaf(in->tn, in->tenant))
    return SC_EINVAL;
  if (in->kind != SC_PREEMPT_RECLAIM && in->kind != SC_PREEMPT_PRIORITY)
    return SC_EINVAL;
  return 0;
}

int sc_preempt_search(struct sc_preempt *ps, const struct sc_preempt_in *in,
                      struct sc_preempt_out *out)
{
  int rc;

  memset(out, 0, sizeof *out);
  if ((rc = check_input(in)) < 0)
    return rc;
  if ((rc = prepare(ps, in)) < 0)
    return rc;
  memset(ps->used, 0, in->cluster->nnodes);
  ps->in = in;
  ps->nchosen = 0;
  ps->mask = 0;
  for (int d = 0; d < SC_RES_DIMS; d++)
    if (in->req.v[d] > 0)
      ps->mask |= 1u << d;
  ps->mask &= sc_tenancy_dims(in->tn);
  ps->biggest = ps->nbiggest = 0;
  for (int i = 0; i < in->ngang; i++) {
    const struct sc_shape *g = &in->gang[i];
    if (g->gpu_milli != SC_MILLI || g->gpu_count == 0)
      continue;
    if (g->gpu_count > ps->biggest)
      ps->biggest = g->gpu_count, ps->nbiggest = 0;
    if (g->gpu_count == ps->biggest)
      ps->nbiggest++;
  }
  ps->waive_touch = places(ps);
  if (ps->waive_touch && quota_ok(ps)) {
    out->place = ps->place;
    return 0;
  }
  candidates(ps);
  rc = greedy(ps);
  if (rc == 0)
    rc = trim(ps);
  if (rc < 0) {
    int rc2 = restore_all(ps);
    snprintf(out->reason, sizeof out->reason, "%s",
             ps->ncand == 0 ? "no eligible victims"
                            : "no set of eligible victims lets the job start");
    return rc2 < 0 ? rc2 : rc;
  }
  out->victims = ps->chosen;
  out->nvictims = ps->nchosen;
  out->place = ps->place;
  /* The caller's tenancy as given: the victims still run. */
  for (int i = 0; i < ps->nchosen; i++)
    sc_tenancy_charge(in->tn, in->jobs[ps->chosen[i]].tenant, &in->jobs[ps->chosen[i]].req,
                      in->jobs[ps->chosen[i]].spot, 1);
  return 0;
}
