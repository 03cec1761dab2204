/*
 * The fair-share tournament. Each leaf keeps its jobs sorted (priority
 * down, seq up, index up) with a head; each tree node caches its share key
 * and the winning job of its subtree. An admit or skip at a leaf changes
 * only the keys and winners on its path, which are recomputed. Invariant:
 * winner[x] is the best head in x's subtree by (key of each child on the
 * way, priority, seq, index); node n is the cluster.
 */
#include "core/fairshare.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"

#include "core/banned.h"

struct sort_item {
  int tenant, priority;
  int64_t seq;
  int job;
};

struct sc_order {
  struct sc_tenancy *tn;
  const struct sc_order_job *jobs;
  int njobs, cap, n;
  int *queue;              /* [cap] job indices by leaf, each leaf sorted */
  int *start;              /* [n + 2] leaf x's jobs are queue[start[x]..start[x+1]) */
  int *head;               /* [n] next position in the leaf's queue */
  int *winner;             /* [n + 1] best job of the subtree, -1 if none */
  int *parent;             /* [n + 1] parent node (n for roots, -1 for n) */
  struct sc_share *key;    /* [n] */
  struct sort_item *items; /* [cap] scratch for sorting */
};

static int item_cmp(const void *pa, const void *pb)
{
  const struct sort_item *a = pa, *b = pb;

  if (a->tenant != b->tenant)
    return a->tenant < b->tenant ? -1 : 1;
  if (a->priority != b->priority)
    return a->priority > b->priority ? -1 : 1;
  if (a->seq != b->seq)
    return a->seq < b->seq ? -1 : 1;
  return a->job < b->job ? -1 : a->job > b->job;
}

/* True when job a goes before job b as heads of equally ranked subtrees. */
static bool job_before(const struct sc_order *o, int a, int b)
{
  const struct sc_order_job *x = &o->jobs[a], *y = &o->jobs[b];

  if (x->priority != y->priority)
    return x->priority > y->priority;
  if (x->seq != y->seq)
    return x->seq < y->seq;
  return a < b;
}

/* Recomputes winner[x] from x's queue (leaf) or children. */
static void winner_update(struct sc_order *o, int x)
{
  int nch, best = -1, best_job = -1;
  const int *ch;

  if (x < o->n && sc_tenancy_is_leaf(o->tn, x)) {
    o->winner[x] = o->head[x] < o->start[x + 1] ? o->queue[o->head[x]] : -1;
    return;
  }
  ch = sc_tenancy_children(o->tn, x == o->n ? -1 : x, &nch);
  for (int k = 0; k < nch; k++) {
    int c = ch[k], job = o->winner[c], cmp;
    if (job < 0)
      continue;
    cmp = best < 0 ? -1 : sc_share_cmp(&o->key[c], &o->key[best]);
    if (cmp < 0 || (cmp == 0 && job_before(o, job, best_job))) {
      best = c;
      best_job = job;
    }
  }
  o->winner[x] = best_job;
}

/* Keys and winners of leaf and its ancestors. */
static void path_update(struct sc_order *o, int leaf, bool keys)
{
  for (int x = leaf; x >= 0; x = o->parent[x]) {
    if (keys && x < o->n)
      sc_tenancy_share(o->tn, x, &o->key[x]);
    winner_update(o, x);
  }
}

void sc_order_refresh(struct sc_order *o)
{
  for (int x = 0; x < o->n; x++)
    sc_tenancy_share(o->tn, x, &o->key[x]);
  for (int x = o->n - 1; x >= 0; x--) /* children before parents */
    winner_update(o, x);
  winner_update(o, o->n);
}

static int reserve(struct sc_order *o, int njobs)
{
  int cap = o->cap;
  int *queue;
  struct sort_item *items;

  if (njobs <= cap)
    return 0;
  while (cap < njobs)
    cap = cap ? cap * 2 : 256;
  queue = malloc((size_t)cap * sizeof *queue);
  items = malloc((size_t)cap * sizeof *items);
  if (!queue || !items) {
    free(queue);
    free(items);
    return SC_ENOMEM;
  }
  free(o->queue);
  free(o->items);
  o->queue = queue;
  o->items = items;
  o->cap = cap;
  return 0;
}

int sc_order_reset(struct sc_order *o, const struct sc_order_job *jobs, int njobs)
{
  int rc;

  o->jobs = jobs;
  o->njobs = 0;
  memset(o->start, 0, (size_t)(o->n + 2) * sizeof *o->start);
  for (int i = 0; i < njobs; i++)
    if (jobs[i].tenant < 0 || jobs[i].tenant >= o->n ||
        !sc_tenancy_is_leaf(o->tn, jobs[i].tenant)) {
      njobs = 0;
      rc = SC_EINVAL;
      goto out;
    }
  if ((rc = reserve(o, njobs)) < 0) {
    njobs = 0;
    goto out;
  }
  for (int i = 0; i < njobs; i++)
    o->items[i] = (struct sort_item){jobs[i].tenant, jobs[i].priority, jobs[i].seq, i};
  if (njobs > 1)
    qsort(o->items, (size_t)njobs, sizeof *o->items, item_cmp);
  for (int i = 0; i < njobs; i++) {
    o->queue[i] = o->items[i].job;
    o->start[o->items[i].tenant + 1]++;
  }
out:
  o->njobs = njobs;
  for (int x = 0; x <= o->n; x++)
    o->start[x + 1] += o->start[x];
  for (int x = 0; x < o->n; x++)
    o->head[x] = o->start[x];
  sc_order_refresh(o);
  return rc;
}

int sc_order_new(struct sc_tenancy *tn, const struct sc_order_job *jobs, int njobs,
                 struct sc_order **out)
{
  struct sc_order *o = calloc(1, sizeof *o);
  size_t n1;
  int rc;

  *out = NULL;
  if (!o)
    return SC_ENOMEM;
  o->tn = tn;
  o->n = sc_tenancy_count(tn);
  n1 = (size_t)o->n + 1;
  o->start = malloc((n1 + 1) * sizeof *o->start);
  o->head = malloc(n1 * sizeof *o->head);
  o->winner = malloc(n1 * sizeof *o->winner);
  o->parent = malloc(n1 * sizeof *o->parent);
  o->key = malloc(n1 * sizeof *o->key);
  if (!o->start || !o->head || !o->winner || !o->parent || !o->key) {
    sc_order_free(o);
    return SC_ENOMEM;
  }
  for (int x = 0; x < o->n; x++) {
    int p = sc_tenancy_parent(tn, x);
    o->parent[x] = p < 0 ? o->n : p;
  }
  o->parent[o->n] = -1;
  if ((rc = sc_order_reset(o, jobs, njobs)) < 0) {
    sc_order_free(o);
    return rc;
  }
  *out = o;
  return 0;
}

void sc_order_free(struct sc_order *o)
{
  if (!o)
    return;
  free(o->queue);
  free(o->items);
  free(o->start);
  free(o->head);
  free(o->winner);
  free(o->parent);
  free(o->key);
  free(o);
}

int sc_order_next(const struct sc_order *o)
{
  return o->winner[o->n];
}

int sc_order_admit(struct sc_order *o, int job, const struct sc_res *req, bool spot)
{
  int leaf, rc;

  if (job < 0 || job != o->winner[o->n])
    return SC_EINVAL;
  leaf = o->jobs[job].tenant;
  if ((rc = sc_tenancy_charge(o->tn, leaf, req, spot, 1)) < 0)
    return rc;
  o->head[leaf]++;
  path_update(o, leaf, !spot);
  return 0;
}

int sc_order_skip(struct sc_order *o, int job, bool block)
{
  int leaf;

  if (job < 0 || job != o->winner[o->n])
    return SC_EINVAL;
  leaf = o->jobs[job].tenant;
  o->head[leaf] = block ? o->start[leaf + 1] : o->head[leaf] + 1;
  path_update(o, leaf, false);
  return 0;
}
