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
  struct sc_placement *resv;
  int nresv, cap_resv;
  unsigned char *reserved;     /* per node: held by the reservation */
  size_t cap_nodes;
  int64_t t_now, shadow;
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
  if (in->njobs > bf->cap_ends) {
    struct end_item *ends = realloc(bf->ends, (size_t)in->njobs * sizeof *ends);
    if (!ends)
      return SC_ENOMEM;
    bf->ends = ends;
    bf->cap_ends = in->njobs;
  }
  if (in->nhead > bf->cap_resv) {
    struct sc_placement *resv = realloc(bf->resv, (size_t)in->nhead * sizeof *resv);
    if (!resv)
      return SC_ENOMEM;
    bf->resv = resv;
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

/* The shadow time and reservation, on "later" used as scratch: running
 * jobs leave it in end order until the head places. */
static int shadow(struct sc_backfill *bf, const struct sc_backfill_in *in)
{
  struct sc_placement *p = bf->resv;
  int nends = 0, rc;

  for (int j = 0; j < in->njobs; j++)
    if (in->jobs[j].end != SC_TIME_NEVER)
      bf->ends[nends++] = (struct end_item){in->jobs[j].end < in->now ? in->now : in->jobs[j].end, j};
  if (nends > 1)
    qsort(bf->ends, (size_t)nends, sizeof *bf->ends, end_cmp);
  bf->shadow = SC_TIME_NEVER;
  if ((rc = sc_sched_place_gang(bf->s_later, in->head, in->nhead, in->rng, p)) == 0)
    bf->shadow = in->now;
  for (int i = 0; rc == SC_ENOFIT && i < nends;) {
    int64_t t = bf->ends[i].end;
    for (; i < nends && bf->ends[i].end == t; i++) {
      const struct sc_run_job *job = &in->jobs[bf->ends[i].job];
      for (int k = 0; k < job->ntasks && rc == SC_ENOFIT; k++) {
        const struct sc_run_task *task = &in->tasks[job->first_task + k];
        if (sc_sched_uncommit(bf->s_later, &task->shape, &task->place) < 0)
          rc = SC_ENOMEM;
      }
    }
    if (rc == SC_ENOFIT && (rc = sc_sched_place_gang(bf->s_later, in->head, in->nhead, in->rng, p)) == 0)
      bf->shadow = t;
  }
  return rc == SC_ENOFIT ? 0 : rc;
}

int sc_backfill_plan(struct sc_backfill *bf, const struct sc_backfill_in *in)
{
  struct sc_sched_opts o = {in->policy, {NULL}, 0};
  int rc;

  bf->shadow = SC_TIME_NEVER;
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
  if (bf->shadow != SC_TIME_NEVER) {
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

int sc_backfill_try(struct sc_backfill *bf, const struct sc_shape *shapes, int n,
                    int64_t max_runtime, struct sc_placement *p)
{
  bool ends_first;
  int rc;

  for (int i = 0; i < n; i++)
    p[i].node = -1;
  if (!bf->s_now || n <= 0 || max_runtime < 0)
    return SC_EINVAL;
  ends_first = bf->shadow == SC_TIME_NEVER ||
               (max_runtime > 0 && max_runtime <= bf->shadow - bf->t_now);
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
