/*
 * The emulated tasks of a node: a start is a record and a timer for the
 * end of its `sleep` (none for `sleep infinity`); a kill ends it at once
 * with the signal a real `sleep` dies of. What each task owes the
 * controller (its "running", its log line, its exit) is read from its
 * flags by the node's reports; a task is recycled once its exit is
 * acknowledged. Records come from a free list: no allocation per task
 * once the fleet is warm.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_emu_int.h"
#include "util/clock.h"
#include "util/log.h"

static struct emu_task *task_alloc(struct emu *e)
{
  struct emu_task *t = e->free_tasks;

  if (t)
    e->free_tasks = t->next;
  else if (!(t = malloc(sizeof *t)))
    return NULL;
  memset(t, 0, sizeof *t);
  return t;
}

static struct emu_task *task_find(struct emu_node *node, const char *id, int attempt)
{
  for (struct emu_task *t = node->tasks; t; t = t->next)
    if (strcmp(t->id, id) == 0 && (attempt < 0 || t->attempt < 0 || t->attempt == attempt))
      return t;
  return NULL;
}

/* Ends t now with exit code code (-1: by signal sig). */
static void task_end(struct emu_task *t, int code, int sig)
{
  if (t->exited)
    return;
  if (event_initialized(&t->end))
    evtimer_del(&t->end);
  t->exited = true;
  t->exit_code = code;
  t->signal = sig;
  t->ended_ms = sc_clock_wall_ms();
}

static void on_task_end(evutil_socket_t fd, short what, void *arg)
{
  struct emu_task *t = arg;

  (void)fd, (void)what;
  task_end(t, t->fails ? 1 : 0, 0);
  t->node->emu->task_ended(t->node);
}

void emu_task_start(struct emu_node *node, const struct sc_client_start *start)
{
  const struct sc_task_spec *spec = &start->spec;
  struct emu *e = node->emu;
  struct emu_task *t;
  int64_t ms;

  if ((t = task_find(node, spec->task_id, spec->attempt)) &&
      (!t->exit_sent || spec->attempt >= 0)) {
    sc_debug("%s: task %s already here, start ignored", e->cfg->plan->nodes[node->index].name,
             spec->task_id);
    return;
  }
  if (strlen(spec->task_id) >= sizeof t->id || !(t = task_alloc(e))) {
    sc_error("task %s: not started (a long id, or out of memory)", spec->task_id);
    return;
  }
  snprintf(t->id, sizeof t->id, "%s", spec->task_id);
  t->node = node;
  t->attempt = spec->attempt;
  t->pid = e->next_pid++;
  t->started_ms = sc_clock_wall_ms();
  t->fails = sc_emu_fails(e->cfg->seed, spec->task_id, spec->attempt, e->cfg->fail_rate);
  t->keep = spec->keep_on_disconnect;
  t->next = node->tasks;
  node->tasks = t;
  node->ntasks++;
  ms = sc_emu_sleep_ms(spec->argv, spec->shell);
  if (ms == 0) {
    task_end(t, t->fails ? 1 : 0, 0);
  } else if (ms != SC_EMU_FOREVER) {
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    evtimer_assign(&t->end, e->base, on_task_end, t);
    event_base_update_cache_time(e->base); /* from now, not the loop's turn */
    evtimer_add(&t->end, &tv);
  }
}

bool emu_task_kill(struct emu_node *node, const char *id, int sig)
{
  for (struct emu_task *t = node->tasks; t; t = t->next)
    if (!t->exited && strcmp(t->id, id) == 0) {
      task_end(t, -1, sig > 0 ? sig : SIGTERM);
      return true;
    }
  return false;
}

int emu_task_kill_all(struct emu_node *node, bool fence)
{
  int n = 0;

  for (struct emu_task *t = node->tasks; t; t = t->next)
    if (!t->exited && !(fence && t->keep)) {
      task_end(t, -1, SIGTERM);
      n++;
    }
  return n;
}

int emu_task_running(struct emu_node *node, bool with_pid, struct sc_client_task *out, int max)
{
  int n = 0;

  for (struct emu_task *t = node->tasks; t && n < max; t = t->next)
    if (!t->exit_sent && (with_pid || t->running_sent))
      out[n++] = (struct sc_client_task){.task_id = t->id, .pid = with_pid ? t->pid : 0};
  return n;
}

struct emu_task *emu_task_log_due(struct emu_node *node)
{
  if (node->emu->cfg->quiet || node->emu->stopping)
    return NULL;
  for (struct emu_task *t = node->tasks; t; t = t->next)
    if (t->exited && !t->log_sent)
      return t;
  return NULL;
}

int emu_task_updates(struct emu_node *node, struct sc_client_update *u, int max)
{
  bool quiet = node->emu->cfg->quiet || node->emu->stopping;
  int n = 0;

  /* As the real agent: a task's "running", then its exit once its output
   * is all shipped, both in one request when they are due together. */
  for (struct emu_task *x = node->tasks; x && n + 2 <= max; x = x->next) {
    bool final = x->exited && !x->exit_sent && (x->log_sent || quiet);
    for (int k = 0; k < 2; k++) {
      if ((k == 0 && x->running_sent) || (k == 1 && !final))
        continue;
      if (k == 0)
        x->running_inflight = true;
      else
        x->exit_inflight = true;
      u[n] = (struct sc_client_update){.task_id = x->id, .attempt = x->attempt,
                                       .exited = k == 1, .pid = x->pid,
                                       .exit_code = x->exit_code, .signal = x->signal,
                                       .started_ms = x->started_ms,
                                       .ended_ms = k == 1 ? x->ended_ms : 0};
      n++;
    }
  }
  return n;
}

void emu_task_updates_done(struct emu_node *node, bool acknowledged)
{
  struct emu_task **p = &node->tasks;

  for (struct emu_task *t = node->tasks; t; t = t->next) {
    t->running_sent = t->running_sent || (acknowledged && t->running_inflight);
    t->exit_sent = t->exit_sent || (acknowledged && t->exit_inflight);
    t->running_inflight = t->exit_inflight = false;
  }
  while (*p) {
    struct emu_task *t = *p;
    if (!t->exit_sent) {
      p = &t->next;
      continue;
    }
    *p = t->next;
    node->ntasks--;
    t->next = node->emu->free_tasks;
    node->emu->free_tasks = t;
  }
}

void emu_task_release_all(struct emu *e)
{
  for (int i = 0; e->nodes && i < e->n; i++)
    while (e->nodes[i].tasks) {
      struct emu_task *t = e->nodes[i].tasks;
      e->nodes[i].tasks = t->next;
      if (!t->exited && event_initialized(&t->end))
        evtimer_del(&t->end);
      free(t);
    }
  while (e->free_tasks) {
    struct emu_task *t = e->free_tasks;
    e->free_tasks = t->next;
    free(t);
  }
}
