/* The agent's requests to the controller from the main thread: register,
 * heartbeat, task status and log chunks (docs/control-plane-contract.md).
 * A request that fails in transport marks the agent unregistered: it
 * registers again (after sending what it owes) once the controller is back. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "util/error.h"
#include "util/log.h"

#define LOG_CHUNK (128 * 1024)

/* Sends one request; returns the HTTP status, or -1 on transport failure
 * (the agent then backs off and registers again). Lock not held. */
static long agent_call(struct sc_agent *a, const char *method, const char *path,
                       json_t *body, struct sc_http_reply *r)
{
  int rc = sc_http_call(&a->http, method, path, body, 10000, r);

  if (rc) {
    int64_t now = sc_agent_now_ms();
    if (a->backoff_ms == 0)
      sc_warn("controller unreachable (%s): retrying", a->http.error);
    a->backoff_ms = a->backoff_ms ? (a->backoff_ms * 2 > 1000 ? 1000 : a->backoff_ms * 2) : 100;
    a->next_try_ms = now + a->backoff_ms;
    a->call_failed = true;
    pthread_mutex_lock(&a->lock);
    a->registered = false;
    pthread_mutex_unlock(&a->lock);
    return -1;
  }
  a->backoff_ms = 0;
  return r->status;
}

/* True when a 4xx reply means the request itself is unwanted (drop it);
 * auth and throttling errors are retried instead. */
static bool drop_on(long status)
{
  return status >= 400 && status < 500 && status != 401 && status != 403 && status != 408 &&
         status != 429;
}

/* After an error reply that is worth retrying: wait a second before the
 * next request (agent_step skips its round until then). */
static void retry_later(struct sc_agent *a)
{
  a->backoff_ms = 1000;
  a->next_try_ms = sc_agent_now_ms() + a->backoff_ms;
}

static void log_api_error(const char *what, const struct sc_http_reply *r)
{
  char buf[256];
  const char *field, *msg = sc_http_error_message(r, &field, buf, sizeof buf);

  sc_warn("%s: %s%s%s%s", what, msg, field ? " (field '" : "", field ? field : "",
          field ? "')" : "");
}

static int64_t file_size(const char *path)
{
  struct stat st;

  return stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
}

/* Ships one chunk of t's log. Returns 1 when more is waiting, 0 when all
 * is shipped, -1 on failure. */
static int ship_chunk(struct sc_agent *a, struct sc_task *t)
{
  char path[4200], *buf;
  int64_t size = file_size(sc_task_path(t, "log", path, sizeof path));
  ssize_t n;
  size_t keep;
  int fd, ret = -1;
  long status;
  json_t *body;
  struct sc_http_reply r;

  if (size <= t->log_sent)
    return 0;
  if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || !(buf = malloc(LOG_CHUNK))) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  n = pread(fd, buf, LOG_CHUNK, (off_t)t->log_sent);
  close(fd);
  /* Only the chunk that reaches the end of an exited task's output is
   * final: an earlier one may end inside a character the next completes. */
  keep = n > 0 ? sc_agent_utf8_clean(buf, (size_t)n,
                                     t->exited && t->log_sent + n >= size)
               : 0;
  if (keep == 0) {
    free(buf);
    return 0;
  }
  body = json_pack("{s:s, s:I, s:s%}", "task_id", t->spec.task_id, "offset",
                   (json_int_t)t->log_sent, "data", buf, keep);
  free(buf);
  if (body && t->spec.attempt >= 0) /* offsets restart at 0 for each attempt */
    json_object_set_new(body, "attempt", json_integer(t->spec.attempt));
  status = body ? agent_call(a, "POST", "/v1/agent/logs", body, &r) : -1;
  json_decref(body);
  if (status == 200 || drop_on(status)) {
    if (status != 200)
      log_api_error("log chunk dropped", &r);
    sc_task_mark_shipped(t, t->log_sent + (int64_t)keep);
    ret = t->log_sent < size ? 1 : 0;
  } else if (status > 0) {
    log_api_error("logs", &r);
    retry_later(a);
  }
  if (status >= 0)
    sc_http_reply_release(&r);
  return ret;
}

/* Ships new log output of every task; all of it for exited tasks. */
void sc_agent_ship_logs(struct sc_agent *a)
{
  struct sc_task **list;
  size_t n = 0, cap = 0;

  pthread_mutex_lock(&a->lock);
  for (struct sc_task *t = a->tasks; t; t = t->next)
    cap++;
  list = malloc((cap ? cap : 1) * sizeof *list);
  for (struct sc_task *t = a->tasks; list && t; t = t->next)
    if (!t->exit_sent)
      list[n++] = t;
  pthread_mutex_unlock(&a->lock);
  for (size_t i = 0; i < n; i++) {
    int more, rounds = 0;
    do
      more = ship_chunk(a, list[i]);
    while (more == 1 && list[i]->exited && ++rounds < 64);
    if (more < 0 && a->backoff_ms)
      break;
    sc_agent_heartbeat_if_due(a); /* a long flush must not make the node look lost */
  }
  free(list);
}

/* True once an exited task's log has been shipped to its end. */
static bool fully_shipped(const struct sc_task *t)
{
  char path[4200];

  return t->log_sent >= file_size(sc_task_path(t, "log", path, sizeof path));
}

static json_t *status_update(const struct sc_task *t, bool final)
{
  json_t *u = json_pack("{s:s, s:s, s:i}", "task_id", t->spec.task_id, "state",
                        final ? "exited" : "running", "pid", (int)t->pid);

  if (u && t->spec.attempt >= 0)
    json_object_set_new(u, "attempt", json_integer(t->spec.attempt));
  if (u && final) {
    json_object_set_new(u, "exit_code", t->exit_code >= 0 ? json_integer(t->exit_code) : json_null());
    json_object_set_new(u, "signal", t->signal > 0 ? json_integer(t->signal) : json_null());
  }
  return u;
}

/* Sends pending "running" and final statuses in one request. The tasks
 * sent are remembered by pointer: only the main thread frees tasks, and the
 * poll thread may add some meanwhile. */
void sc_agent_send_status(struct sc_agent *a)
{
  json_t *updates = json_array(), *body;
  struct { struct sc_task *t; bool final; } sent[256];
  struct sc_http_reply r;
  size_t n = 0;
  long status;

  pthread_mutex_lock(&a->lock);
  for (struct sc_task *t = a->tasks; t && n + 2 <= sizeof sent / sizeof sent[0]; t = t->next) {
    if (!t->running_sent && t->pid > 0) {
      json_array_append_new(updates, status_update(t, false));
      sent[n].t = t, sent[n++].final = false;
    }
    if (t->exited && !t->exit_sent && fully_shipped(t)) {
      json_array_append_new(updates, status_update(t, true));
      sent[n].t = t, sent[n++].final = true;
    }
  }
  pthread_mutex_unlock(&a->lock);
  if (n == 0) {
    json_decref(updates);
    return;
  }
  body = json_pack("{s:s, s:o}", "name", a->cfg.name, "updates", updates);
  status = agent_call(a, "POST", "/v1/agent/status", body, &r);
  json_decref(body);
  if (status < 0)
    return;
  if (status == 200 || (drop_on(status) && status != 404)) {
    if (status != 200)
      log_api_error("status dropped", &r);
    pthread_mutex_lock(&a->lock);
    for (size_t i = 0; i < n; i++) {
      struct sc_task *t = sent[i].t;
      if (!sent[i].final) {
        t->running_sent = true;
        continue;
      }
      sc_info("task %s: reported exit (code %d, signal %d)", t->spec.task_id,
              t->exit_code, t->signal);
      sc_task_mark_reported(t);
    }
    pthread_mutex_unlock(&a->lock);
  } else {
    log_api_error("status", &r);
    retry_later(a);
    if (status == 404) { /* the controller does not know this node */
      pthread_mutex_lock(&a->lock);
      a->registered = false;
      pthread_mutex_unlock(&a->lock);
    }
  }
  sc_http_reply_release(&r);
}
