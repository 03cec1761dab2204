/*
 * EASY backfill over two copies of the cluster: "now" (what is free now)
 * and "later" (what a job running past the shadow time may use: now's
 * state with the reservation's nodes held whole). Invariant: on every node
 * the reservation does not hold, later equals now; every job the plan lets
 * start is applied to now, and to later when it is off the reserved nodes.
 */
#include "core/backfill.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"

#include "core/sched.h"

#include "core/banned.h"

struct end_item {
  int64_t end;
  int job;
};

struct sc_backfill {
  struct sc_cluster now, later;
  struct sc_sched *s_now, *s_later;
  struct end_item *ends;
  int cap_ends;
  int *bounds;                 /* jobs gone by each distinct end time */
  int at;                      /* "later" is at bounds[at] while planning */
  struct sc_placement *resv, *probe;
  int nresv, cap_resv;
  unsigned char *reserved;     /* per node: held by the reservation */
  size_t cap_nodes;
  int64_t t_now, shadow;
  bool found;                  /* the head has a reservation */
  struct sc_rng *rng;
};

int sc_backfill_new(struct sc_backfill **out)
{
  *out = calloc(1, sizeof **out);
  return *out ? 0 : SC_ENOMEM;
}

void sc_backfill_free(struct sc_backfill *bf)
{
  if (!bf)
    return;
  sc_sched_free(bf->s_now);
  sc_sched_free(bf->s_later);
  sc_cluster_release(&bf->now);
  sc_cluster_release(&bf->later);
  free(bf->ends);
  free(bf->resv);
  free(bf->probe);
  free(bf->bounds);
  free(bf->reserved);
  free(bf);
}

/* dst's nodes become a copy of src's (grown as needed). */
static int copy_nodes(struct sc_cluster *dst, const struct sc_cluster *src)
{
  if (src->nnodes > dst->cap) {
    struct sc_node *nodes = realloc(dst->nodes, src->nnodes * sizeof *nodes);
    if (!nodes)
      return SC_ENOMEM;
    dst->nodes = nodes;
    dst->cap = src->nnodes;
  }
  memcpy(dst->nodes, src->nodes, src->nnodes * sizeof *src->nodes);
  dst->nnodes = src->nnodes;
  return 0;
}

static int end_cmp(const void *pa, const void *pb)
{
  const struct end_item *a = pa, *b = pb;

  if (a->end != b->end)
    return a->end < b->end ? -1 : 1;
  return a->job < b->job ? -1 : a->job > b->job;
}

static int grow(struct sc_backfill *bf, const struct sc_backfill_in *in)
{
  if (in->njobs + 1 > bf->cap_ends) {
    struct end_item *ends = realloc(bf->ends, (size_t)(in->njobs + 1) * sizeof *ends);
    int *bounds = ends ? realloc(bf->bounds, (size_t)(in->njobs + 1) * sizeof *bounds) : NULL;
    if (ends)
      bf->ends = ends;
    if (!bounds)
      return SC_ENOMEM;
    bf->bounds = bounds;
    bf->cap_ends = in->njobs + 1;
  }
  if (in->nhead > bf->cap_resv) {
    struct sc_placement *resv = realloc(bf->resv, (size_t)in->nhead * sizeof *resv);
    struct sc_placement *pr = resv ? realloc(bf->probe, (size_t)in->nhead * sizeof *pr) : NULL;
    if (resv)
      bf->resv = resv;
    if (!pr)
      return SC_ENOMEM;
    bf->probe = pr;
    bf->cap_resv = in->nhead;
  }
  if (in->cluster->nnodes > bf->cap_nodes) {
    unsigned char *r = realloc(bf->reserved, in->cluster->nnodes);
    if (!r)
      return SC_ENOMEM;
    bf->reserved = r;
    bf->cap_nodes = in->cluster->nnodes;
  }
  return 0;
}

/* Free totals: a necessary condition for a placement, checked before
 * asking the engine (most end times free too little to matter). */
struct totals {
  int64_t cpu, mem, gpu;
};

static void totals_add(struct totals *t, const struct sc_shape *sh, int n) /* n may be -1 */
{
  t->cpu += (int64_t)sh->cpu * n;
  t->mem += (int64_t)sh->mem * n;
  t->gpu += (int64_t)sh->gpu_count * sh->gpu_milli * n;
}

static void totals_add_all(struct totals *t, const struct sc_shape *sh, int n)
{
  for (int i = 0; i < n; i++)
    totals_add(t, &sh[i], 1);
}

static bool totals_cover(const struct totals *have, const struct totals *need)
{
  return have->cpu >= need->cpu && have->mem >= need->mem && have->gpu >= need->gpu;
}

/* Moves "later" (used as scratch) to the state where the running jobs
 * ends[0 .. bounds[k]) have left: uncommits or recommits what lies between
 * here and there, keeping have (the free totals) in step. */
static int move_to(struct sc_backfill *bf, const struct sc_backfill_in *in, struct totals *have,
                   int k)
{
  int from = bf->bounds[bf->at], to = bf->bounds[k], rc;
  bool leave = to > from;

  for (int i = leave ? from : to; i < (leave ? to : from); i++) {
    const struct sc_run_job *job = &in->jobs[bf->ends[i].job];
    for (int t = 0; t < job->ntasks; t++) {
      const struct sc_run_task *task = &in->tasks[job->first_task + t];
      if ((rc = leave ? sc_sched_uncommit(bf->s_later, &task->shape, &task->place)
                      : sc_sched_commit(bf->s_later, &task->shape, &task->place)) < 0)
        return rc;
      totals_add(have, &task->shape, leave ? 1 : -1);
    }
  }
  bf->at = k;
  return 0;
}

/* Does the head fit in "later" as it is? Sets *fit, keeping the placement
 * in resv when it does; the head is taken back out. */
static int probe(struct sc_backfill *bf, const struct sc_backfill_in *in,
                 const struct totals *have, const struct totals *need, bool *fit)
{
  int rc;

  *fit = false;
  if (!totals_cover(have, need))
    return 0; /* a necessary condition fails: no need to ask the engine */
  rc = sc_sched_place_gang(bf->s_later, in->head, in->nhead, in->rng, bf->probe);
  if (rc == SC_ENOFIT)
    return 0;
  if (rc < 0)
    return rc;
  *fit = true;
  memcpy(bf->resv, bf->probe, (size_t)in->nhead * sizeof *bf->resv);
  for (int i = 0; i < in->nhead; i++)
    if ((rc = sc_sched_uncommit(bf->s_later, &in->head[i], &bf->probe[i])) < 0)
      return rc;
  return 0;
}

/*
 * The shadow time and reservation. Running jobs leave in end order (jobs
 * without a known end last, one at a time, oldest = lowest index first);
 * bounds[k] counts the jobs gone by the k-th distinct end time. Whether the
 * head fits only grows with k, so k is found by bisection: O(log jobs)
 * placements and O(jobs) task moves, not one placement per end time.
 */
static int shadow(struct sc_backfill *bf, const struct sc_backfill_in *in)
{
  struct totals have = {0, 0, 0}, need = {0, 0, 0};
  int nends = 0, m = 0, lo, hi, rc;
  bool fit;

  for (int j = 0; j < in->njobs; j++)
    bf->ends[nends++] = (struct end_item){in->jobs[j].end < in->now ? in->now : in->jobs[j].end, j};
  if (nends > 1)
    qsort(bf->ends, (size_t)nends, sizeof *bf->ends, end_cmp);
  bf->bounds[m++] = 0;
  for (int i = 0; i < nends; i++)
    if (i + 1 == nends || bf->ends[i + 1].end != bf->ends[i].end ||
        bf->ends[i].end == SC_TIME_NEVER)
      bf->bounds[m++] = i + 1;
  for (size_t i = 0; i < bf->later.nnodes; i++) {
    const struct sc_node *n = &bf->later.nodes[i];
    have.cpu += n->cpu_left;
    have.mem += n->mem_left;
    for (int d = 0; d < n->gpu_count; d++)
      have.gpu += n->gpu_left[d];
  }
  totals_add_all(&need, in->head, in->nhead);
  bf->shadow = SC_TIME_NEVER;
  bf->found = false;
  bf->at = 0;
  if ((rc = probe(bf, in, &have, &need, &fit)) < 0)
    return rc;
  if (fit) {
    bf->shadow = in->now;
    bf->found = true;
    return 0;
  }
  /* Everything gone: if the head does not fit even then, no reservation. */
  if (m == 1 || (rc = move_to(bf, in, &have, m - 1)) < 0 ||
      (rc = probe(bf, in, &have, &need, &fit)) < 0 || !fit)
    return rc < 0 ? rc : 0;
  lo = 0;     /* does not fit */
  hi = m - 1; /* fits; resv holds its placement */
  while (hi - lo > 1) {
    int mid = lo + (hi - lo) / 2;
    if ((rc = move_to(bf, in, &have, mid)) < 0 || (rc = probe(bf, in, &have, &need, &fit)) < 0)
      return rc;
    if (fit)
      hi = mid;
    else
      lo = mid;
  }
  if (hi != bf->at) { /* the last probe was a miss: place again at hi */
    if ((rc = move_to(bf, in, &have, hi)) < 0 || (rc = probe(bf, in, &have, &need, &fit)) < 0)
      return rc;
    if (!fit)
      return SC_EINVAL; /* the engine answered differently for one state */
  }
  bf->shadow = bf->ends[bf->bounds[hi] - 1].end;
  bf->found = true;
  return 0;
}

int sc_backfill_plan(struct sc_backfill *bf, const struct sc_backfill_in *in)
{
  struct sc_sched_opts o = {in->policy, {in->typical}, 0};
  int rc;

  bf->shadow = SC_TIME_NEVER;
  bf->found = false;
  bf->nresv = 0;
  if (!in->cluster || !in->policy || in->nhead <= 0 || !in->head || in->njobs < 0 ||
      (in->njobs > 0 && (!in->jobs || !in->tasks)))
    return SC_EINVAL;
  bf->t_now = in->now;
  bf->rng = in->rng;
  sc_sched_free(bf->s_now);
  sc_sched_free(bf->s_later);
  bf->s_now = bf->s_later = NULL;
  if ((rc = grow(bf, in)) < 0 || (rc = copy_nodes(&bf->later, in->cluster)) < 0 ||
      (rc = sc_sched_new(&bf->later, &o, &bf->s_later)) < 0 || (rc = shadow(bf, in)) < 0)
    return rc;
  memset(bf->reserved, 0, in->cluster->nnodes);
  if (bf->found) {
    bf->nresv = in->nhead;
    for (int i = 0; i < in->nhead; i++)
      bf->reserved[bf->resv[i].node] = 1;
  }
  /* Both copies start from the cluster now; later holds reserved nodes. */
  sc_sched_free(bf->s_later);
  bf->s_later = NULL;
  if ((rc = copy_nodes(&bf->now, in->cluster)) < 0 ||
      (rc = copy_nodes(&bf->later, in->cluster)) < 0)
    return rc;
  for (size_t i = 0; i < bf->later.nnodes; i++)
    if (bf->reserved[i]) {
      struct sc_node *n = &bf->later.nodes[i];
      n->cpu_left = 0;
      n->mem_left = 0;
      memset(n->gpu_left, 0, sizeof n->gpu_left);
    }
  if ((rc = sc_sched_new(&bf->now, &o, &bf->s_now)) < 0 ||
      (rc = sc_sched_new(&bf->later, &o, &bf->s_later)) < 0)
    return rc;
  return 0;
}

int64_t sc_backfill_shadow(const struct sc_backfill *bf)
{
  return bf->shadow;
}

const struct sc_placement *sc_backfill_reservation(const struct sc_backfill *bf, int *n)
{
  *n = bf->nresv;
  return bf->resv;
}

bool sc_backfill_runs_past(const struct sc_backfill *bf, int64_t max_runtime)
{
  return bf->found && !(bf->shadow != SC_TIME_NEVER && max_runtime > 0 &&
                        max_runtime < bf->shadow - bf->t_now);
}

int sc_backfill_try(struct sc_backfill *bf, const struct sc_shape *shapes, int n,
                    int64_t max_runtime, struct sc_placement *p)
{
  bool ends_first;
  int rc;

  for (int i = 0; i < n; i++)
    p[i].node = -1;
  if (!bf->s_now || n <= 0 || max_runtime < 0)
    return SC_EINVAL;
  ends_first = !sc_backfill_runs_past(bf, max_runtime);
  if (ends_first) {
    /* Anywhere free now; mirrored to later off the reserved nodes. */
    if ((rc = sc_sched_place_gang(bf->s_now, shapes, n, bf->rng, p)) < 0)
      return rc;
    for (int i = 0; i < n; i++)
      if (!bf->reserved[p[i].node] && (rc = sc_sched_commit(bf->s_later, &shapes[i], &p[i])) < 0)
        return rc;
    return 0;
  }
  /* Runs past the shadow: only where later has room, applied to both. */
  if ((rc = sc_sched_place_gang(bf->s_later, shapes, n, bf->rng, p)) < 0)
    return rc;
  for (int i = 0; i < n; i++)
    if ((rc = sc_sched_commit(bf->s_now, &shapes[i], &p[i])) < 0)
      return rc;
  return 0;
}
