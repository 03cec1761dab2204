/*
 * The pending queue, kept incrementally so a scheduling pass never walks
 * every job: pending jobs in scheduling order (priority desc, id asc), and
 * the ids submitted since the last pass. Invariant: a job is queued iff its
 * state is pending. It only orders pending work; it changes no state.
 */
#include "server/ctl_int.h"

#include "util/vec.h"

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

void ctl_queue_note_fresh(struct sc_ctl *c, int64_t id)
{
  if (SC_VEC_RESERVE_ONE(c->fresh, c->nfresh, c->capfresh) == 0)
    c->fresh[c->nfresh++] = id;
  else
    c->full = true; /* no room to list it: look at every pending job */
  c->dirty = true;
  if (c->sched_idle)
    pthread_cond_signal(&c->sched_cond);
}
