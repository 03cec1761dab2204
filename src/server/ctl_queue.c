/*
 * The controller's incrementally kept indexes, so a scheduling pass never
 * walks every job: the pending queue in scheduling order (priority desc,
 * id asc) and each node's list of tasks whose processes live there.
 * Invariants: a job is queued iff its state is pending; a task is on node
 * n's alive list iff its alive_node is n, and job->nalive counts them.
 */
#include "server/ctl_int.h"

#include <stdlib.h>

#include "util/error.h"

static int prio_slot(int priority)
{
  if (priority < CTL_PRIO_MIN)
    priority = CTL_PRIO_MIN;
  if (priority > CTL_PRIO_MAX)
    priority = CTL_PRIO_MAX;
  return priority - CTL_PRIO_MIN;
}

static void queue_insert(struct ctl_queue *q, struct ctl_job *j)
{
  int s = prio_slot(j->priority);
  struct ctl_job *after = q->tail[s];

  /* New jobs have the highest ids: almost always appended at the tail. */
  while (after && after->id > j->id)
    after = after->q_prev;
  j->q_prev = after;
  j->q_next = after ? after->q_next : q->head[s];
  if (j->q_next)
    j->q_next->q_prev = j;
  else
    q->tail[s] = j;
  if (after)
    after->q_next = j;
  else
    q->head[s] = j;
  q->nonempty[s / 64] |= 1ULL << (s % 64);
  j->queued = true;
  q->n++;
}

static void queue_remove(struct ctl_queue *q, struct ctl_job *j)
{
  int s = prio_slot(j->priority);

  if (j->q_prev)
    j->q_prev->q_next = j->q_next;
  else
    q->head[s] = j->q_next;
  if (j->q_next)
    j->q_next->q_prev = j->q_prev;
  else
    q->tail[s] = j->q_prev;
  if (!q->head[s])
    q->nonempty[s / 64] &= ~(1ULL << (s % 64));
  j->q_prev = j->q_next = NULL;
  j->queued = false;
  q->n--;
}

void ctl_queue_sync(struct sc_ctl *c, struct ctl_job *j)
{
  bool want = j->state == SC_JOB_PENDING;

  if (want && !j->queued)
    queue_insert(&c->queue, j);
  else if (!want && j->queued)
    queue_remove(&c->queue, j);
}

/* The head of the highest non-empty priority slot <= s, or NULL. */
static struct ctl_job *queue_from(const struct ctl_queue *q, int s)
{
  for (int w = s / 64; w >= 0 && s >= 0; w--) {
    uint64_t bits = q->nonempty[w];
    int top = w == s / 64 ? s % 64 : 63;
    if (top < 63)
      bits &= (1ULL << (top + 1)) - 1;
    if (bits)
      return q->head[w * 64 + 63 - __builtin_clzll(bits)];
  }
  return NULL;
}

struct ctl_job *ctl_queue_first(const struct ctl_queue *q)
{
  return q->n > 0 ? queue_from(q, CTL_NPRIO - 1) : NULL;
}

struct ctl_job *ctl_queue_next(const struct ctl_queue *q, const struct ctl_job *j)
{
  if (j->q_next)
    return j->q_next;
  return queue_from(q, prio_slot(j->priority) - 1);
}

void ctl_task_set_alive(struct sc_ctl *c, struct ctl_task *t, int node)
{
  int old = t->alive_node;

  if (old == node)
    return;
  if (old >= 0) {
    struct ctl_node *n = &c->nodes[old];
    if (t->alive_prev)
      t->alive_prev->alive_next = t->alive_next;
    else
      n->alive = t->alive_next;
    if (t->alive_next)
      t->alive_next->alive_prev = t->alive_prev;
    t->alive_prev = t->alive_next = NULL;
    n->nalive--;
    t->job->nalive--;
    /* Resources freed, or a requeued gang stopped draining. */
    c->dirty = c->full = true;
  }
  t->alive_node = node;
  if (node >= 0) {
    struct ctl_node *n = &c->nodes[node];
    t->alive_prev = NULL;
    t->alive_next = n->alive;
    if (n->alive)
      n->alive->alive_prev = t;
    n->alive = t;
    n->nalive++;
    t->job->nalive++;
  }
}

void ctl_notify_fresh_locked(struct sc_ctl *c, int64_t id)
{
  if (c->nfresh == c->capfresh) {
    int cap = c->capfresh ? c->capfresh * 2 : 256;
    int64_t *fresh = realloc(c->fresh, (size_t)cap * sizeof *fresh);
    if (fresh) {
      c->fresh = fresh;
      c->capfresh = cap;
    }
  }
  if (c->nfresh < c->capfresh)
    c->fresh[c->nfresh++] = id;
  else
    c->full = true; /* no room to list it: look at every pending job */
  c->dirty = true;
  if (c->sched_idle)
    pthread_cond_signal(&c->sched_cond);
}

/* Verifies the pending queue and the alive lists against the jobs. */
int ctl_check(const struct sc_ctl *c)
{
  int queued = 0, alive = 0, listed = 0;
  const struct ctl_job *prev = NULL;

  for (int i = 0; i < c->njobs; i++) {
    const struct ctl_job *j = c->jobs[i];
    int n = 0;
    if (j->queued != (j->state == SC_JOB_PENDING))
      return SC_ESTATE;
    queued += j->queued;
    for (int k = 0; k < j->ntasks; k++)
      n += j->tasks[k].alive_node >= 0 && j->tasks[k].job == j;
    if (n != j->nalive)
      return SC_ESTATE;
    alive += n;
  }
  if (queued != c->queue.n)
    return SC_ESTATE;
  for (const struct ctl_job *j = ctl_queue_first(&c->queue); j; j = ctl_queue_next(&c->queue, j)) {
    if (!j->queued || (prev && (prev->priority < j->priority ||
                                (prev->priority == j->priority && prev->id >= j->id))))
      return SC_ESTATE;
    prev = j;
    queued--;
  }
  for (int i = 0; i < c->nnodes; i++) {
    int n = 0;
    for (const struct ctl_task *t = c->nodes[i].alive; t; t = t->alive_next, n++)
      if (t->alive_node != i || (t->alive_next && t->alive_next->alive_prev != t))
        return SC_ESTATE;
    if (n != c->nodes[i].nalive)
      return SC_ESTATE;
    listed += n;
  }
  return queued == 0 && listed == alive ? 0 : SC_ESTATE;
}
