/* Assignments: the long-poll thread and starting/killing what it returns.
 * New work starts as soon as the controller answers the poll. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/cgroup.h"
#include "util/error.h"
#include "util/log.h"

static struct sc_task *find_task(struct sc_agent *a, const char *task_id)
{
  for (struct sc_task *t = a->tasks; t; t = t->next)
    if (strcmp(t->spec.task_id, task_id) == 0)
      return t;
  return NULL;
}

/* Removes the files of a finished earlier run of the same task id. */
void sc_agent_remove_task_dir(const char *dir)
{
  DIR *d = opendir(dir);
  struct dirent *e;
  char path[4200];

  while (d && (e = readdir(d)))
    if (e->d_name[0] != '.' || (e->d_name[1] && strcmp(e->d_name, "..") != 0)) {
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      unlink(path);
    }
  if (d)
    closedir(d);
  rmdir(dir);
}

/* LOCAL_RANK when the controller gave none: tasks of the same job with a
 * lower index on this node, among those running and those in this batch. */
static int local_rank(struct sc_agent *a, json_t *start, const struct sc_task_spec *spec)
{
  int rank = 0;
  size_t i;
  json_t *v;

  for (struct sc_task *t = a->tasks; t; t = t->next)
    if (!t->exited && strcmp(t->spec.job_id, spec->job_id) == 0 && t->spec.index < spec->index)
      rank++;
  json_array_foreach(start, i, v) {
    const char *job = json_string_value(json_object_get(v, "job_id"));
    json_t *index = json_object_get(v, "index");
    if (job && strcmp(job, spec->job_id) == 0 && json_is_integer(index) &&
        json_integer_value(index) < spec->index &&
        json_is_string(json_object_get(v, "task_id")) &&
        !find_task(a, json_string_value(json_object_get(v, "task_id"))))
      rank++;
  }
  return rank;
}

static char *task_cgroup(struct sc_agent *a, const struct sc_task_spec *spec)
{
  char *path = NULL;

  if (a->cgroup_root &&
      sc_cgroup_create(a->cgroup_root, spec->task_id, spec->memory_mib, spec->cpu_milli,
                       &path) != 0)
    sc_warn("task %s: cannot create its cgroup; running without limits", spec->task_id);
  return path;
}

/* Creates and launches one task, then records it (the lock is taken only
 * to insert it, so heartbeats go on while a large batch starts). Ownership
 * of spec passes on. */
static void launch(struct sc_agent *a, struct sc_task_spec *spec, json_t *assignment)
{
  struct sc_task_launch how = {0};
  struct sc_task *t;
  char *cgroup = NULL, **envp = NULL, dir[4200];
  int rc;

  sc_task_dir_name(a->tasks_dir, spec, dir, sizeof dir);
  if (access(dir, F_OK) == 0) /* an earlier run of this id, fully reported */
    sc_agent_remove_task_dir(dir);
  if ((rc = sc_task_env_build(spec, &a->cfg.devices, a->base_env, &envp)) != 0 ||
      (rc = sc_task_new(a->tasks_dir, spec, json_incref(assignment), &t)) != 0) {
    sc_error("cannot prepare a task: %s", sc_strerror(rc));
    sc_task_env_free(envp);
    sc_task_spec_release(spec);
    return;
  }
  cgroup = task_cgroup(a, &t->spec);
  how.envp = envp;
  how.cgroup = cgroup;
  rc = sc_task_start(t, &how);
  if (rc)
    sc_error("task %s: cannot start: %s", t->spec.task_id, sc_strerror(rc));
  else
    sc_info("task %s: started pid %d", t->spec.task_id, (int)t->pid);
  free(cgroup);
  sc_task_env_free(envp);
  pthread_mutex_lock(&a->lock);
  t->next = a->tasks;
  a->tasks = t;
  a->dirty = true;
  pthread_cond_broadcast(&a->wake);
  pthread_mutex_unlock(&a->lock);
}

/* The record of task_id's attempt (any attempt when attempt < 0). */
static struct sc_task *find_attempt(struct sc_agent *a, const char *task_id, int attempt)
{
  for (struct sc_task *t = a->tasks; t; t = t->next)
    if (strcmp(t->spec.task_id, task_id) == 0 &&
        (attempt < 0 || t->spec.attempt < 0 || t->spec.attempt == attempt))
      return t;
  return NULL;
}

/* True when an earlier entry of this batch starts the same attempt. */
static bool in_batch(const struct sc_task_spec *specs, size_t n, const struct sc_task_spec *s)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp(specs[i].task_id, s->task_id) == 0 && specs[i].attempt == s->attempt)
      return true;
  return false;
}

/* Decodes and checks one start (lock held); true when it is to be launched. */
static bool accept_start(struct sc_agent *a, json_t *start, json_t *assignment,
                         struct sc_task_spec *specs, size_t n)
{
  struct sc_task_spec *spec = &specs[n];
  struct sc_task *old;
  char err[256];

  if (a->stopping)
    return false;
  if (sc_task_spec_from_json(spec, assignment, err, sizeof err) != 0) {
    sc_error("%s", err);
    return false;
  }
  old = find_attempt(a, spec->task_id, spec->attempt);
  if ((old && (!old->exit_sent || spec->attempt >= 0)) || in_batch(specs, n, spec)) {
    sc_debug("task %s: already here, start ignored", spec->task_id);
    sc_task_spec_release(spec);
    return false;
  }
  if (spec->count > 1 && spec->local_rank < 0)
    spec->local_rank = local_rank(a, start, spec);
  return true;
}

static void apply_kills(struct sc_agent *a, json_t *kill)
{
  size_t i;
  json_t *v;

  json_array_foreach(kill, i, v) {
    const char *id = json_string_value(v);
    for (struct sc_task *t = a->tasks; id && t; t = t->next)
      if (strcmp(t->spec.task_id, id) == 0 && !t->exited && !t->kill_at_ms) {
        sc_info("task %s: killing as the controller asks", id);
        sc_task_terminate(t, sc_agent_now_ms(), -1);
        a->dirty = true;
      }
  }
}

void sc_agent_apply(struct sc_agent *a, json_t *start, json_t *kill)
{
  size_t n = 0, total = json_array_size(start), i;
  struct sc_task_spec *specs = total ? calloc(total, sizeof *specs) : NULL;
  json_t **objs = total ? calloc(total, sizeof *objs) : NULL, *v;

  if (total && (!specs || !objs)) {
    sc_error("out of memory: %zu starts dropped", total);
    total = 0;
  }
  /* Kills first: a kill names an earlier attempt than a start of the same
   * reply, never the process that start is about to create. */
  pthread_mutex_lock(&a->lock);
  apply_kills(a, kill);
  json_array_foreach(start, i, v)
    if (i < total && accept_start(a, start, v, specs, n))
      objs[n++] = v;
  pthread_mutex_unlock(&a->lock);
  for (i = 0; i < n; i++)
    launch(a, &specs[i], objs[i]);
  free(specs);
  free(objs);
}

/* Sleeps up to ms unless the agent is stopping or woken. Lock held. */
static void poll_wait(struct sc_agent *a, int64_t ms)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (ms % 1000) * 1000000;
  if (ts.tv_nsec >= 1000000000)
    ts.tv_sec++, ts.tv_nsec -= 1000000000;
  pthread_cond_timedwait(&a->wake, &a->lock, &ts);
}

/* One long-poll. Returns the delay before the next one in ms. */
static int64_t poll_once(struct sc_agent *a, int64_t *backoff)
{
  struct sc_http_reply r;
  long status;
  char path[512], name[256];
  int rc;

  snprintf(path, sizeof path, "/v1/agent/assignments?name=%s&wait=25",
           sc_http_escape(a->cfg.name, name, sizeof name));
  rc = sc_http_call(&a->poll_http, "GET", path, NULL, 40000, &r);
  if (rc) {
    if (!a->stopping)
      sc_log(*backoff >= 1000 ? SC_LOG_WARN : SC_LOG_DEBUG, "assignments: %s",
             a->poll_http.error);
    *backoff = *backoff ? (*backoff * 2 > 1000 ? 1000 : *backoff * 2) : 100;
    return a->stopping ? 0 : *backoff;
  }
  *backoff = 0;
  if (r.status == 200 && json_is_object(r.body)) {
    sc_debug("assignments: %zu to start, %zu to kill",
             json_array_size(json_object_get(r.body, "start")),
             json_array_size(json_object_get(r.body, "kill")));
    sc_agent_apply(a, json_object_get(r.body, "start"), json_object_get(r.body, "kill"));
  }
  pthread_mutex_lock(&a->lock);
  if (r.status == 200 && json_is_object(r.body)) {
    pthread_cond_broadcast(&a->wake);
  } else if (r.status == 404) {
    a->registered = false; /* the controller does not know us: register again */
    pthread_cond_broadcast(&a->wake);
  } else {
    sc_warn("assignments: HTTP %ld", r.status);
  }
  pthread_mutex_unlock(&a->lock);
  status = r.status; /* the release below clears r */
  sc_http_reply_release(&r);
  return status == 200 ? 0 : 1000;
}

/* The assignments thread: long-polls while the agent is registered. */
void *sc_agent_poll_main(void *arg)
{
  struct sc_agent *a = arg;
  int64_t backoff = 0, delay = 0;

  pthread_mutex_lock(&a->lock);
  while (!a->stopping) {
    if (!a->registered || delay > 0) {
      poll_wait(a, delay > 0 ? delay : 50);
      delay = 0;
      continue;
    }
    pthread_mutex_unlock(&a->lock);
    delay = poll_once(a, &backoff);
    pthread_mutex_lock(&a->lock);
  }
  pthread_mutex_unlock(&a->lock);
  return NULL;
}
