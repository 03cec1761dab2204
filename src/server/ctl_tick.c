/*
 * The scheduling thread's tick (ctl_sched.c calls it every CTL_TICK_MS,
 * mu held): what came due in the timer heaps (silent nodes, max runtimes,
 * begin times, fence holds), rows to rewrite, finished jobs leaving
 * memory; and an operator's drain, which settles a lost node's tasks the
 * same way.
 */
#include "server/ctl_int.h"

#include <stdbool.h>
#include <stdint.h>

#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

#define LOSS_CHUNK 64 /* nodes lost per lock hold and commit (a fleet that
                         falls silent at once is settled in steps that let
                         API calls and heartbeats in between) */

/* Marks node i lost and settles the tasks that lived there (its alive
 * list holds every task assigned to it or running there). */
static void node_lost(struct sc_ctl *c, int i, struct sc_store_batch *b)
{
  struct ctl_node *n = &c->nodes[i];
  struct ctl_event_args lost = {.node = i, .attempt = -1, .reason = "node lost"};
  int k;

  if ((k = ctl_alive_snapshot(c, i)) < 0) {
    sc_error("node %s: out of memory, looked at again at the next tick", n->rec.name);
    return;
  }
  sc_warn("node %s lost: no heartbeat for %lld ms", n->rec.name,
          (long long)(sc_clock_mono_ms() - n->last_seen_ms));
  n->rec.state = SC_NODE_LOST;
  n->start_q.n = n->kill_q.n = 0;
  ctl_batch_node(b, n, true);
  while (k-- > 0) {
    struct ctl_task *t = c->scratch[k];
    if (t->job->spec.keep_on_disconnect && !n->rec.drained)
      continue; /* on_disconnect: keep: it runs on; the node's return or a drain settles it */
    ctl_task_event(c, t, CTL_EV_LOST, &lost, b);
  }
  ctl_notify_locked(c);
}

int sc_ctl_node_drain(struct sc_ctl *c, const char *name, bool drain)
{
  struct ctl_event_args lost = {.attempt = -1, .reason = "node drained while lost"};
  struct sc_store_batch *b = sc_store_batch_new();
  bool submitted;
  int i, k = 0;

  if (!b)
    return SC_ENOMEM;
  pthread_mutex_lock(&c->mu);
  if ((i = ctl_node_find(c, name)) < 0) {
    pthread_mutex_unlock(&c->mu);
    sc_store_batch_free(b);
    return SC_ENOENT;
  }
  c->nodes[i].rec.drained = drain;
  sc_info("node %s: %s", name, drain ? "drained: no new work" : "back in service");
  ctl_batch_node(b, &c->nodes[i], false);
  /* A lost node drained: the operator says it is gone, so its kept tasks
   * are lost now and their jobs requeued (no fence holds them: they were
   * never fenced). */
  if (drain && c->nodes[i].rec.state == SC_NODE_LOST && (k = ctl_alive_snapshot(c, i)) > 0) {
    lost.node = i;
    while (k-- > 0)
      ctl_task_event(c, c->scratch[k], CTL_EV_LOST, &lost, b);
  }
  c->dirty = c->full = true;
  ctl_notify_locked(c);
  submitted = ctl_submit_locked(c, b);
  pthread_mutex_unlock(&c->mu);
  return ctl_finish(c, b, submitted) < 0 ? SC_ESTORE : 0;
}

/* The monotonic time job j's max runtime ends, or 0 for none. */
static int64_t runtime_due(const struct ctl_job *j)
{
  if (j->state != SC_JOB_RUNNING || j->spec.max_runtime_s <= 0 || j->started_mono_ms <= 0)
    return 0;
  return j->started_mono_ms + j->spec.max_runtime_s * 1000;
}

/* After a failed timer push: every node and job gets its timers again
 * (O(all), once). */
static void timers_rebuild(struct sc_ctl *c)
{
  int64_t now = sc_clock_mono_ms();

  sc_warn("timers: rebuilt after a failed push (out of memory)");
  c->timers_lost = false;
  c->seen_due.n = c->run_due.n = c->begin_due.n = c->hold_due.n = 0;
  for (int i = 0; i < c->nnodes; i++)
    ctl_node_seen(c, i, c->nodes[i].last_seen_ms < now ? c->nodes[i].last_seen_ms : now);
  for (int k = 0; k < c->njobs; k++)
    ctl_job_timers(c, c->jobs[k]);
}

/* Commits b (mu dropped meanwhile) and starts a new batch; NULL when out
 * of memory. */
static struct sc_store_batch *tick_flush(struct sc_ctl *c, struct sc_store_batch *b)
{
  bool submitted = ctl_submit_locked(c, b);

  pthread_mutex_unlock(&c->mu);
  ctl_finish(c, b, submitted);
  pthread_mutex_lock(&c->mu);
  return sc_store_batch_new();
}

/*
 * Heartbeat timeouts, max runtimes, begin times and fence holds that came
 * due (from the timer heaps: O(what is due), not a scan of every node and
 * job), rows to rewrite and compaction. Silent nodes are settled
 * LOSS_CHUNK at a time, each chunk committed before the next.
 */
void ctl_tick(struct sc_ctl *c)
{
  struct sc_store_batch *b = sc_store_batch_new();
  int64_t now = sc_clock_mono_ms(), wall = ctl_wall_ms(c);
  struct sc_timer t;
  bool submitted;
  int lost = 0;

  if (!b)
    return;
  if (c->timers_lost)
    timers_rebuild(c);
  while (sc_timeheap_pop_due(&c->seen_due, now, &t)) { /* silent nodes */
    int i = (int)t.id;
    if (i >= c->nnodes || c->nodes[i].rec.state != SC_NODE_READY ||
        now - c->nodes[i].last_seen_ms <= c->opts.heartbeat_timeout_ms)
      continue; /* heard from since: a later entry stands for it */
    node_lost(c, i, b);
    if (c->nodes[i].rec.state == SC_NODE_READY && sc_timeheap_push(&c->seen_due, now + CTL_TICK_MS, i) < 0)
      c->timers_lost = true; /* out of memory in node_lost: again later */
    if (++lost % LOSS_CHUNK == 0 && !(b = tick_flush(c, b)))
      return;
  }
  while (sc_timeheap_pop_due(&c->run_due, now, &t)) { /* max runtimes */
    struct ctl_job *j = ctl_job_find(c, t.id);
    int64_t due = j ? runtime_due(j) : 0;
    if (due > 0 && now >= due)
      ctl_job_event(c, j, CTL_EV_TIMEOUT, NULL, b);
  }
  c->runtime_due_ms = sc_timeheap_next(&c->run_due);
  while (sc_timeheap_pop_due(&c->begin_due, wall, &t)) { /* begin times */
    const struct ctl_job *j = ctl_job_find(c, t.id);
    if (j && j->state == SC_JOB_PENDING && j->spec.begin_ms <= wall)
      c->dirty = c->full = true;
  }
  c->next_begin_ms = sc_timeheap_next(&c->begin_due);
  while (sc_timeheap_pop_due(&c->hold_due, now, &t)) { /* fence holds */
    const struct ctl_job *j = ctl_job_find(c, t.id);
    if (j && j->queued && j->hold_until_ms > 0 && now >= j->hold_until_ms)
      c->dirty = c->full = true; /* its hold ended: try it */
  }
  ctl_batch_stale(c, b);
  ctl_jobs_compact(c);
  submitted = ctl_submit_locked(c, b);
  pthread_mutex_unlock(&c->mu);
  ctl_finish(c, b, submitted);
  pthread_mutex_lock(&c->mu);
}
