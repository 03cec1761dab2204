/*
 * The state machine of jobs and their tasks, in one place: every change of
 * a job's or task's state goes through ctl_job_event or ctl_task_event,
 * which also keep the pending queue and the alive lists in step and add
 * the changed rows to the caller's store batch. Task transitions:
 *
 *   pending --ASSIGNED--> assigned --RUNNING--> running --EXITED--> succeeded | failed
 *   assigned|running --LOST--> lost;  any active --CANCEL/TIMEOUT--> cancelled
 *   assigned --UNASSIGNED--> pending (its placement did not commit)
 *
 * A job fails when a task fails or is lost, and is then requeued whole
 * (every task back to pending, attempt + 1) while retries remain; it
 * succeeds when every task succeeded. A preempted job is requeued whole
 * too, whatever its retries: attempt + 1 and preempted + 1, so the
 * retries used are attempt - preempted; its processes get a notice (the
 * job's signal, SIGKILL after its checkpoint grace) with their kill. Invariant: a task with alive_node >= 0
 * holds resources on that node until its agent says the process is gone, so
 * a requeued gang waits for its old processes to end.
 */
#include "server/ctl_int.h"

#include <stdio.h>
#include <string.h>

#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

#define FENCE_MARGIN_MS 250

/* Queues a kill of t on the node where its process lives, or forgets an
 * assignment that never reached its agent. */
static void kill_task(struct sc_ctl *c, struct ctl_task *t)
{
  if (t->alive_node < 0)
    return;
  if (t->state == SC_TASK_ASSIGNED && !t->delivered) {
    ctl_task_set_alive(c, t, -1); /* never reached the agent */
    return;
  }
  if (ctl_node_push(c, t->alive_node, true, t->job->id, (int)(t - t->job->tasks)) < 0)
    sc_error("task j-%06lld.%d: out of memory, its kill is sent at the next heartbeat",
             (long long)t->job->id, (int)(t - t->job->tasks));
}

/* ---- usage records (docs/accounting.md) ---- */

/* The attempt of t started running (at t->started_ms): its record opens. */
static void usage_open(struct ctl_task *t)
{
  t->usage = (struct ctl_usage){.start_ms = t->started_ms, .attempt = t->attempt,
                                .node = t->node, .pos0 = t->ndev > 0 ? t->pos[0] : -1,
                                .ndev = t->ndev, .how = SC_USAGE_RUNNING, .exit_code = -1,
                                .signal = -1};
}

/* The running attempt of t ended at end_ms as how (the caller then writes
 * t's row, which carries the record). An end before the start counts as
 * the start (clocks of different machines). */
static bool usage_close(struct ctl_task *t, int how, int64_t end_ms)
{
  if (t->started_ms <= 0)
    return false; /* never ran: nothing used */
  if (t->usage.start_ms <= 0 || t->usage.attempt != t->attempt)
    usage_open(t); /* only the store had it (a restart) */
  if (t->usage.end_ms > 0)
    return false;
  t->usage.end_ms = end_ms > t->usage.start_ms ? end_ms : t->usage.start_ms;
  t->usage.how = how;
  return true;
}

/* How a job's running tasks end when it ends for reason (job_end). */
static int usage_how(int state, const char *reason)
{
  if (strcmp(reason, SC_CTL_INTERRUPTED) == 0)
    return SC_USAGE_INTERRUPTED;
  if (strncmp(reason, "preempted", 9) == 0)
    return SC_USAGE_PREEMPTED;
  if (state == SC_JOB_FAILED && strcmp(reason, "exceeded max runtime") == 0)
    return SC_USAGE_TIMEOUT;
  return SC_USAGE_CANCEL; /* by a user, a failed sibling, a dependency */
}

/* When a task on node i that is lost ended, at the latest: the last time
 * its agent was heard from (never later than now). */
static int64_t node_last_heard(const struct sc_ctl *c, int i, int64_t now)
{
  int64_t seen = i >= 0 ? c->nodes[i].rec.last_heartbeat_ms : 0;

  return seen > 0 && seen < now ? seen : now;
}

/* A time the agent reported (its process's start or end), when it is
 * plausible: in [not_before, now]; else now, when the report came. */
static int64_t agent_time(int64_t reported, int64_t not_before, int64_t now)
{
  return reported > 0 && reported >= not_before && reported <= now ? reported : now;
}

/* A fresh pending attempt; the old process (alive_node) is kept track of. */
static void task_reset(struct ctl_task *t, int attempt)
{
  struct ctl_task keep = *t;

  memset(t, 0, sizeof *t);
  t->job = keep.job;
  t->alive_node = keep.alive_node;
  t->alive_attempt = keep.alive_attempt;
  t->alive_prev = keep.alive_prev;
  t->alive_next = keep.alive_next;
  t->exit_node = keep.exit_node;
  t->usage = keep.usage; /* the attempt that ended: rewritten with the row */
  t->notice = keep.notice; /* its process may still be in its grace */
  t->held_node = keep.held_node; /* ... holding its devices (preempted) */
  t->held_ndev = keep.held_ndev;
  memcpy(t->held_pos, keep.held_pos, sizeof t->held_pos);
  t->state = SC_TASK_PENDING;
  t->node = -1;
  t->exit_code = t->signal = -1;
  t->attempt = attempt;
}

/* Whether an end for reason is a preemption (the reason job_preempt
 * gives; usage_how reads it the same way). */
static bool is_preemption(const char *reason)
{
  return strncmp(reason, "preempted", 9) == 0;
}

/* A job marked requeue: true goes back to pending after an interruption
 * whatever its retries (reason: the controller's INTERRUPTED_REASON); a
 * preempted job always does, and that uses up none of its retries. */
static bool retryable_always(const struct ctl_job *j, const char *reason)
{
  return (j->spec.requeue && strcmp(reason, SC_CTL_INTERRUPTED) == 0) || is_preemption(reason);
}

static void job_end(struct sc_ctl *c, struct ctl_job *j, int state, const char *reason,
                    bool retryable, struct sc_store_batch *b);

/* ---- counters for /metrics (ctl_metrics.c) ---- */

const char *sc_preempt_kind_name(int kind)
{
  static const char *const kinds[SC_CTL_NPREEMPT_KINDS] = {"reclaim", "priority", "operator"};

  return kind >= 0 && kind < SC_CTL_NPREEMPT_KINDS ? kinds[kind] : "unknown";
}

/* Job j ended in its final state. */
static void count_exit(struct sc_ctl *c, const struct ctl_job *j)
{
  struct ctl_tenant_counts *n = ctl_tenant_counts(c, j->spec.tenant);

  if (n && j->state >= SC_JOB_SUCCEEDED && j->state - SC_JOB_SUCCEEDED < SC_CTL_NOUTCOMES)
    n->exits[j->state - SC_JOB_SUCCEEDED]++;
}

/* An attempt of j started (its first task runs): the first attempt's wait
 * since submission goes to the histogram. */
static void count_start(struct sc_ctl *c, const struct ctl_job *j)
{
  struct ctl_tenant_counts *n = ctl_tenant_counts(c, j->spec.tenant);
  int64_t waited = ctl_wall_ms(c) - j->created_ms;

  if (n)
    n->starts++;
  if (j->attempt == 0 && j->created_ms > 0)
    sc_histogram_observe(&c->start_hist, (double)(waited > 0 ? waited : 0) / 1000.0);
}

/* Running job j is preempted as kind: the work it loses counts too. */
static void count_preempt(struct sc_ctl *c, const struct ctl_job *j, const char *kind)
{
  struct ctl_tenant_counts *n = ctl_tenant_counts(c, j->spec.tenant);

  for (int k = 0; n && k < SC_CTL_NPREEMPT_KINDS; k++)
    if (strcmp(kind, sc_preempt_kind_name(k)) == 0) {
      n->preemptions[k]++;
      n->preempted_gpu_ms[k] += ctl_job_work_lost_gpu_ms(j, ctl_wall_ms(c));
    }
}

/* Job j ended: the jobs waiting on it may run now, or never; those are
 * cancelled here, and what waits on them in turn (the outermost call
 * settles the whole cascade, without recursion). */
static void job_final(struct sc_ctl *c, struct ctl_job *j, struct sc_store_batch *b)
{
  struct ctl_job *d;

  ctl_deps_final(c, j);
  if (c->settling)
    return;
  c->settling = true;
  while ((d = ctl_deps_next_doomed(c)))
    job_end(c, d, SC_JOB_CANCELLED, SC_CTL_DEP_NEVER, false, b);
  c->settling = false;
}

/* Ends j as state (failed or cancelled), or requeues it whole when
 * retryable and attempts remain; kills its live tasks. */
static void job_end(struct sc_ctl *c, struct ctl_job *j, int state, const char *reason,
                    bool retryable, struct sc_store_batch *b)
{
  int64_t now = ctl_wall_ms(c);
  bool retry = retryable && (j->attempt - j->preempted < j->spec.max_retries ||
                             retryable_always(j, reason));

  /* A process of it may live on where no one can reach it: a node lost
   * (cut off, maybe still running) fences it fence_after after it was
   * last seen, then SIGKILL after the grace. Not before then elsewhere. */
  for (int i = 0; retry && c->opts.fence_after_ms > 0 && !j->spec.keep_on_disconnect &&
                  i < j->ntasks;
       i++) {
    const struct ctl_task *t = &j->tasks[i];
    if (t->node >= 0 && c->nodes[t->node].rec.state == SC_NODE_LOST &&
        (t->state == SC_TASK_LOST || t->state == SC_TASK_RUNNING ||
         t->state == SC_TASK_ASSIGNED)) {
      /* ... plus a margin for the SIGKILL to land */
      int64_t until = c->nodes[t->node].last_seen_ms + c->opts.fence_after_ms +
                      c->opts.grace_ms + FENCE_MARGIN_MS;
      if (until > j->hold_until_ms)
        j->hold_until_ms = until;
    }
  }
  for (int i = 0; i < j->ntasks; i++) {
    struct ctl_task *t = &j->tasks[i];
    /* A task on a lost node (a gang's others there, one lost at a
     * restart) ended when the node was last heard from. */
    bool on_lost = t->node >= 0 && c->nodes[t->node].rec.state == SC_NODE_LOST;
    if (t->state == SC_TASK_RUNNING && !on_lost)
      usage_close(t, usage_how(state, reason), now);
    else if (t->state == SC_TASK_RUNNING || t->state == SC_TASK_LOST)
      usage_close(t, SC_USAGE_NODE_LOST, node_last_heard(c, t->node, now));
    kill_task(c, t);
    if (retry) {
      task_reset(t, j->attempt + 1);
    } else if (!sc_task_state_final(t->state)) {
      t->state = SC_TASK_CANCELLED;
      t->finished_ms = now;
    }
  }
  if (retry) { /* the attempt that ended stays on record, with why */
    struct sc_store_op op = {.kind = SC_STORE_ATTEMPT_PUT};
    op.u.attempt.job_id = j->id;
    op.u.attempt.attempt = j->attempt;
    snprintf(op.u.attempt.reason, sizeof op.u.attempt.reason, "%s", reason);
    op.u.attempt.started_ms = j->started_ms;
    op.u.attempt.finished_ms = now;
    sc_store_batch_add(b, &op);
    j->attempt++;
    j->state = SC_JOB_PENDING;
    if (is_preemption(reason)) { /* not a retry: none used up */
      j->preempted++;
      snprintf(j->reason, sizeof j->reason, "%s", reason);
    } else {
      snprintf(j->reason, sizeof j->reason, "retry %d after: %s", j->attempt, reason);
    }
    if (j->hold_until_ms > sc_clock_mono_ms())
      sc_info("job j-%06lld: held %lld ms, until its tasks on the lost node are fenced",
              (long long)j->id, (long long)(j->hold_until_ms - sc_clock_mono_ms()));
    j->started_ms = j->started_mono_ms = 0;
  } else {
    j->state = state;
    snprintf(j->reason, sizeof j->reason, "%s", reason);
    j->finished_ms = now;
    c->nfinal++;
    count_exit(c, j);
  }
  ctl_queue_sync(c, j);
  if (retry && j->hold_until_ms > 0)
    ctl_job_timers(c, j);
  sc_info("job j-%06lld %s: %s", (long long)j->id, retry ? "requeued" : sc_job_state_name(state),
          reason);
  ctl_batch_job(c, b, j);
  ctl_notify_locked(c);
  if (!retry)
    job_final(c, j, b);
}

/* Marks j succeeded when all its tasks succeeded. */
static void job_check_done(struct sc_ctl *c, struct ctl_job *j, struct sc_store_batch *b)
{
  if (j->state != SC_JOB_RUNNING)
    return;
  for (int i = 0; i < j->ntasks; i++)
    if (j->tasks[i].state != SC_TASK_SUCCEEDED)
      return;
  j->state = SC_JOB_SUCCEEDED;
  j->reason[0] = '\0';
  j->finished_ms = ctl_wall_ms(c);
  c->nfinal++;
  count_exit(c, j);
  ctl_queue_sync(c, j);
  ctl_batch_job_row(c, b, j);
  ctl_notify_locked(c);
  job_final(c, j, b);
}

/* The gang of j was placed: each task on its node and devices. */
static void job_assigned(struct sc_ctl *c, struct ctl_job *j, const struct ctl_event_args *a,
                         struct sc_store_batch *b)
{
  for (int i = 0; i < j->ntasks; i++) {
    struct ctl_task *t = &j->tasks[i];
    const struct sc_placement *p = &a->placements[i];
    int node = a->inverse[p->node];
    const struct ctl_node *n = &c->nodes[node];
    t->state = SC_TASK_ASSIGNED;
    t->node = node;
    ctl_task_set_alive(c, t, node);
    t->ndev = p->ndev;
    for (int d = 0; d < p->ndev; d++) {
      t->pos[d] = p->dev[d];
      t->dev[d] = n->rec.dev[p->dev[d]].index;
    }
    t->published = t->delivered = false;
    t->missing = 0;
    t->exit_node = -1;
    t->attempt = j->attempt;
    t->notice.set = false; /* the noticed process is gone: it held these */
  }
  j->state = SC_JOB_RUNNING;
  j->assigned_mono_ms = sc_clock_mono_ms();
  j->reason[0] = '\0';
  ctl_queue_sync(c, j);
  ctl_batch_job(c, b, j);
}

/* The placement of j did not commit: the store still has it pending, and
 * so must memory (only tasks still assigned and unpublished go back). */
static void job_unassigned(struct sc_ctl *c, struct ctl_job *j)
{
  bool any = false;

  for (int i = 0; i < j->ntasks; i++) {
    struct ctl_task *t = &j->tasks[i];
    if (t->state != SC_TASK_ASSIGNED || t->published)
      continue;
    if (t->alive_node == t->node)
      ctl_task_set_alive(c, t, -1);
    task_reset(t, j->attempt);
    any = true;
  }
  if (any && j->state == SC_JOB_RUNNING) {
    j->state = SC_JOB_PENDING;
    ctl_queue_sync(c, j);
    ctl_notify_locked(c);
  }
}

/* Job j, running, is taken back (a->by, a->kind): each of its live
 * processes gets a notice, the job is requeued whole. */
static void job_preempt(struct sc_ctl *c, struct ctl_job *j, const struct ctl_event_args *a,
                        struct sc_store_batch *b)
{
  int64_t grace_ms = (j->spec.checkpoint_grace_s >= 0 ? j->spec.checkpoint_grace_s
                                                     : SC_SPEC_DEFAULT_GRACE_S) * 1000;
  const char *kind = a && a->kind ? a->kind : "operator";
  char reason[96], by[32] = "operator";

  if (c->opts.max_checkpoint_grace_ms >= 0 && grace_ms > c->opts.max_checkpoint_grace_ms)
    grace_ms = c->opts.max_checkpoint_grace_ms; /* the default, or a cap lowered since */
  if (a && a->by > 0)
    snprintf(by, sizeof by, "j-%06lld", (long long)a->by);
  snprintf(reason, sizeof reason, "preempted by %s (%s)", by, kind);
  count_preempt(c, j, kind); /* before the requeue: its work lost is known now */
  for (int i = 0; i < j->ntasks; i++) {
    struct ctl_task *t = &j->tasks[i];
    t->notice = (struct ctl_notice){.set = t->alive_node >= 0, .grace_ms = grace_ms,
                                    .attempt = t->alive_attempt, .signal = j->spec.preempt_signal,
                                    .by = a ? a->by : 0};
    snprintf(t->notice.kind, sizeof t->notice.kind, "%s", kind);
    /* Its process keeps its devices through the grace: the requeue resets
     * the task's placement, so the one it holds is kept aside until the
     * process is gone (ctl_task_set_alive). */
    t->held_node = t->alive_node >= 0 && t->alive_node == t->node ? t->node : -1;
    t->held_ndev = t->ndev;
    memcpy(t->held_pos, t->pos, sizeof t->held_pos);
  }
  job_end(c, j, SC_JOB_FAILED, reason, true, b);
}

int64_t ctl_job_work_lost_gpu_ms(const struct ctl_job *j, int64_t now)
{
  int64_t since = j->checkpoint_ms > j->started_ms ? j->checkpoint_ms : j->started_ms;
  int64_t milli = 0;

  if (j->state != SC_JOB_RUNNING || since <= 0 || now <= since)
    return 0;
  for (int i = 0; i < j->ntasks; i++)
    if (j->tasks[i].state == SC_TASK_RUNNING)
      milli += (int64_t)j->tasks[i].ndev * j->spec.gpu_milli;
  return milli * (now - since) / 1000;
}

void ctl_job_event(struct sc_ctl *c, struct ctl_job *j, enum ctl_event ev,
                   const struct ctl_event_args *args, struct sc_store_batch *b)
{
  switch (ev) {
  case CTL_EV_ASSIGNED:
    job_assigned(c, j, args, b);
    break;
  case CTL_EV_UNASSIGNED:
    job_unassigned(c, j);
    break;
  case CTL_EV_CANCEL:
    if (!sc_job_state_final(j->state))
      job_end(c, j, SC_JOB_CANCELLED, "cancelled by user", false, b);
    break;
  case CTL_EV_DEP_NEVER:
    if (j->state == SC_JOB_PENDING)
      job_end(c, j, SC_JOB_CANCELLED, SC_CTL_DEP_NEVER, false, b);
    break;
  case CTL_EV_TIMEOUT:
    if (j->state == SC_JOB_RUNNING)
      job_end(c, j, SC_JOB_FAILED, "exceeded max runtime", false, b);
    break;
  case CTL_EV_FAIL:
    if (!sc_job_state_final(j->state))
      job_end(c, j, SC_JOB_FAILED, args && args->reason ? args->reason : "failed", true, b);
    break;
  case CTL_EV_PREEMPT:
    if (j->state == SC_JOB_RUNNING)
      job_preempt(c, j, args, b);
    break;
  case CTL_EV_INTERRUPT:
    if (!sc_job_state_final(j->state) && j->state != SC_JOB_PENDING)
      job_end(c, j, SC_JOB_FAILED, args && args->reason ? args->reason : "interrupted", true, b);
    break;
  default:
    sc_error("job j-%06lld: %d is not a job event", (long long)j->id, (int)ev);
    return;
  }
  if (j->stale && b)
    ctl_batch_job(c, b, j); /* rows that failed to commit go with this change */
}

/* A process of t runs on node: the assignment started, or one the node
 * should not run (an old attempt, another node's, a cancelled one). */
static void task_running(struct sc_ctl *c, struct ctl_task *t, const struct ctl_event_args *a,
                         struct sc_store_batch *b)
{
  struct ctl_job *j = t->job;
  int index = (int)(t - j->tasks);

  if (t->node == a->node && (t->state == SC_TASK_ASSIGNED || t->state == SC_TASK_RUNNING)) {
    ctl_task_set_alive(c, t, a->node);
    t->missing = 0;
    if (t->state == SC_TASK_ASSIGNED) {
      t->state = SC_TASK_RUNNING;
      t->delivered = true;
      t->started_ms = agent_time(a->started_ms, 0, ctl_wall_ms(c));
      usage_open(t);
      if (!j->started_ms) {
        count_start(c, j);
        j->started_ms = t->started_ms;
        j->started_mono_ms = sc_clock_mono_ms();
        ctl_job_timers(c, j);
        ctl_batch_job_row(c, b, j);
      }
    } else if (a->pid <= 0 || a->pid == t->pid) {
      return; /* nothing new: a heartbeat naming it */
    }
    if (a->pid > 0)
      t->pid = a->pid;
    ctl_batch_task_row(c, b, j, index);
    return;
  }
  if (t->exit_node == a->node)
    return; /* a report older than the exit we know of */
  if (t->alive_node < 0) {
    ctl_task_set_alive(c, t, a->node); /* an orphan: holds resources until gone */
    t->alive_attempt = -1;             /* of an attempt we cannot tell */
  }
  ctl_node_push(c, a->node, true, j->id, index);
  ctl_notify_locked(c);
}

/* The reasons an agent may give for a failed task, which become the job's:
 * "out of memory", or "refused: " and a few plain words (why the agent
 * did not start it: "refused: would run as root"). Anything else is
 * ignored and the exit code speaks. */
static bool agent_reason_ok(const char *r)
{
  if (!r)
    return false;
  if (strcmp(r, "out of memory") == 0)
    return true;
  if (strncmp(r, "refused: ", 9) != 0 || strlen(r) > 60 || !r[9])
    return false;
  for (const char *p = r + 9; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == ' ' || *p == '_' ||
          *p == '-'))
      return false;
  return true;
}

/* t's process on node ended with exit_code / signal. */
static void task_exited(struct sc_ctl *c, struct ctl_task *t, const struct ctl_event_args *a,
                        struct sc_store_batch *b)
{
  struct ctl_job *j = t->job;
  int index = (int)(t - j->tasks);
  struct ctl_event_args fail = {.node = a->node, .attempt = -1};
  char reason[64];

  if (t->node != a->node && t->alive_node != a->node)
    return; /* no process of this task runs there: nothing to settle */
  if (a->attempt >= 0 && a->attempt != t->attempt) {
    /* Another attempt's process ended: it no longer holds resources there. */
    if (t->alive_node == a->node && (t->alive_attempt == a->attempt || t->alive_attempt < 0))
      ctl_task_set_alive(c, t, -1);
    return;
  }
  if (t->alive_node == a->node)
    ctl_task_set_alive(c, t, -1);
  t->exit_node = a->node;
  if (t->node != a->node || t->state == SC_TASK_PENDING)
    return; /* an old attempt's process: nothing to record */
  if (sc_task_state_final(t->state)) {
    if (t->exit_code < 0 && t->signal < 0) { /* killed: record how it ended */
      t->exit_code = a->exit_code;
      t->signal = a->signal;
      ctl_batch_task_row(c, b, j, index);
    }
    return;
  }
  t->exit_code = a->exit_code;
  t->signal = a->signal;
  t->finished_ms = agent_time(a->ended_ms, t->started_ms, ctl_wall_ms(c));
  t->state = a->exit_code == 0 && a->signal <= 0 ? SC_TASK_SUCCEEDED : SC_TASK_FAILED;
  if (usage_close(t, SC_USAGE_EXIT, t->finished_ms)) {
    t->usage.exit_code = a->exit_code;
    t->usage.signal = a->signal;
  }
  ctl_batch_task_row(c, b, j, index);
  if (t->state == SC_TASK_SUCCEEDED) {
    job_check_done(c, j, b);
    return;
  }
  if (agent_reason_ok(a->reason))
    snprintf(reason, sizeof reason, "%s", a->reason);
  else if (a->signal > 0)
    snprintf(reason, sizeof reason, "killed by signal %d", a->signal);
  else
    snprintf(reason, sizeof reason, "exit code %d", a->exit_code);
  fail.reason = reason;
  ctl_job_event(c, j, CTL_EV_FAIL, &fail, b);
}

/* t's process, or the node it ran on, is lost. */
static void task_lost(struct sc_ctl *c, struct ctl_task *t, const struct ctl_event_args *a,
                      struct sc_store_batch *b)
{
  if (t->alive_node == a->node)
    ctl_task_set_alive(c, t, -1);
  if (t->node != a->node || (t->state != SC_TASK_ASSIGNED && t->state != SC_TASK_RUNNING))
    return;
  if (t->state == SC_TASK_RUNNING)
    usage_close(t, SC_USAGE_NODE_LOST, node_last_heard(c, a->node, ctl_wall_ms(c)));
  t->state = SC_TASK_LOST;
  t->finished_ms = ctl_wall_ms(c);
  ctl_job_event(c, t->job, CTL_EV_FAIL, a, b);
}

void ctl_task_event(struct sc_ctl *c, struct ctl_task *t, enum ctl_event ev,
                    const struct ctl_event_args *args, struct sc_store_batch *b)
{
  switch (ev) {
  case CTL_EV_RUNNING:
    task_running(c, t, args, b);
    break;
  case CTL_EV_EXITED:
    task_exited(c, t, args, b);
    break;
  case CTL_EV_LOST:
    task_lost(c, t, args, b);
    break;
  case CTL_EV_GONE:
    if (t->alive_node == args->node) {
      ctl_task_set_alive(c, t, -1);
      ctl_notify_locked(c);
    }
    break;
  default:
    sc_error("task j-%06lld.%d: %d is not a task event", (long long)t->job->id,
             (int)(t - t->job->tasks), (int)ev);
    return;
  }
  if (t->job->stale && b)
    ctl_batch_job(c, b, t->job); /* rows that failed to commit go with this change */
}
