/* The agent's life: state dir and adoption, the main loop (task exits,
 * logs, statuses, heartbeats), registration, and a clean stop that ends
 * the tasks. The assignments long-poll runs in its own thread
 * (agent_assign.c); requests are in agent_proto.c. */
#include "agent/agent.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/cgroup.h"
#include "util/error.h"
#include "util/log.h"

extern char **environ;


int64_t sc_agent_now_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Length of the UTF-8 sequence starting at p (n bytes left): > 0 when valid,
 * 0 when incomplete at the end, -1 when invalid. */
static int utf8_seq(const unsigned char *p, size_t n)
{
  int len;
  unsigned int cp;

  if (p[0] < 0x80)
    return 1;
  if (p[0] >= 0xC2 && p[0] <= 0xDF)
    len = 2, cp = p[0] & 0x1F;
  else if (p[0] >= 0xE0 && p[0] <= 0xEF)
    len = 3, cp = p[0] & 0x0F;
  else if (p[0] >= 0xF0 && p[0] <= 0xF4)
    len = 4, cp = p[0] & 0x07;
  else
    return -1;
  for (int i = 1; i < len; i++) {
    if ((size_t)i >= n)
      return 0;
    if ((p[i] & 0xC0) != 0x80)
      return -1;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
      (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
    return -1;
  return len;
}

size_t sc_agent_utf8_clean(char *buf, size_t len, bool final)
{
  unsigned char *p = (unsigned char *)buf;
  size_t i = 0;

  while (i < len) {
    int n = utf8_seq(p + i, len - i);
    if (n == 0 && !final)
      return i; /* wait for the rest of the sequence */
    if (n <= 0) {
      p[i++] = '?';
      continue;
    }
    if (n == 1 && p[i] == 0)
      p[i] = '?';
    i += (size_t)n;
  }
  return len;
}

static int mkdirs(const char *path)
{
  char buf[4096];

  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; p++)
    if (*p == '/') {
      *p = '\0';
      if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return -1;
      *p = '/';
    }
  return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* Loads the tasks left by an earlier agent process (adopt) or only removes
 * the files of tasks reported more than an hour ago (!adopt). Running
 * tasks are adopted; finished but unreported ones get reported. */
static void scan_tasks(struct sc_agent *a, bool adopt)
{
  DIR *d = opendir(a->tasks_dir);
  struct dirent *e;
  char dir[4200], path[4300];
  struct stat st;

  while (d && (e = readdir(d))) {
    struct sc_task *t;
    if (e->d_name[0] == '.')
      continue;
    snprintf(dir, sizeof dir, "%s/%s", a->tasks_dir, e->d_name);
    if (sc_task_load(dir, &t) != 0) {
      snprintf(path, sizeof path, "%s/task.json", dir);
      if (adopt && access(path, F_OK) != 0) /* a start cut short by a crash */
        sc_agent_remove_task_dir(dir);
      continue;
    }
    if (t->exit_sent || !adopt) {
      snprintf(path, sizeof path, "%s/reported", dir);
      if (t->exit_sent && stat(path, &st) == 0 && time(NULL) - st.st_mtime > 3600)
        sc_agent_remove_task_dir(dir);
      sc_task_free(t);
      continue;
    }
    sc_info("task %s: adopted (pid %d, %s)", t->spec.task_id, (int)t->pid,
            t->exited ? "exited" : sc_task_alive(t) ? "running" : "ending");
    t->next = a->tasks;
    a->tasks = t;
  }
  if (d)
    closedir(d);
}

static int agent_lock(struct sc_agent *a, char *err, size_t size)
{
  char path[4200];

  snprintf(path, sizeof path, "%s/agent.lock", a->cfg.state_dir);
  a->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (a->lock_fd < 0) {
    snprintf(err, size, "cannot open '%s': %s", path, strerror(errno));
    return SC_EIO;
  }
  if (flock(a->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    snprintf(err, size, "state dir '%s' is in use by another agent", a->cfg.state_dir);
    return SC_EBUSY;
  }
  return 0;
}

static void agent_cgroups(struct sc_agent *a)
{
  char root[4096], err[512];

  if (a->cfg.cgroup_root && !*a->cfg.cgroup_root)
    return;
  if (a->cfg.cgroup_root)
    snprintf(root, sizeof root, "%s", a->cfg.cgroup_root);
  else
    snprintf(root, sizeof root, "/sys/fs/cgroup/supercell/%s", a->cfg.name);
  if (sc_cgroup_setup(root, err, sizeof err) != 0) {
    sc_warn("cgroups: %s; tasks run without memory and CPU limits", err);
    return;
  }
  a->cgroup_root = strdup(root);
  sc_info("cgroups: task limits under %s", root);
}

int sc_agent_init(struct sc_agent *a, const struct sc_agent_config *cfg, char *err,
                  size_t size)
{
  pthread_condattr_t attr;
  size_t len = strlen(cfg->state_dir) + 8;
  int rc;

  memset(a, 0, sizeof *a);
  a->cfg = *cfg;
  a->lock_fd = -1;
  a->base_env = environ;
  a->heartbeat_ms = cfg->heartbeat_ms > 0 ? cfg->heartbeat_ms : 1000;
  pthread_mutex_init(&a->lock, NULL);
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&a->wake, &attr);
  pthread_condattr_destroy(&attr);
  if (!(a->tasks_dir = malloc(len)))
    return SC_ENOMEM;
  snprintf(a->tasks_dir, len, "%s/tasks", cfg->state_dir);
  if (mkdirs(a->tasks_dir) != 0) {
    snprintf(err, size, "cannot create state dir '%s': %s", a->tasks_dir, strerror(errno));
    return SC_EIO;
  }
  if ((rc = agent_lock(a, err, size)) != 0)
    return rc;
  if ((rc = sc_http_init(&a->http, cfg->server, cfg->token)) != 0 ||
      (rc = sc_http_init(&a->poll_http, cfg->server, cfg->token)) != 0) {
    snprintf(err, size, "cannot start the HTTP client: %s", sc_strerror(rc));
    return rc;
  }
  a->poll_http.abort = &a->stopping;
  agent_cgroups(a);
  scan_tasks(a, true);
  a->next_gc_ms = sc_agent_now_ms() + 600000;
  return 0;
}

void sc_agent_release(struct sc_agent *a)
{
  while (a->tasks) {
    struct sc_task *next = a->tasks->next;
    sc_task_free(a->tasks);
    a->tasks = next;
  }
  sc_http_release(&a->http);
  sc_http_release(&a->poll_http);
  if (a->lock_fd >= 0)
    close(a->lock_fd);
  free(a->tasks_dir);
  free(a->cgroup_root);
  pthread_mutex_destroy(&a->lock);
  pthread_cond_destroy(&a->wake);
  memset(a, 0, sizeof *a);
}

void sc_agent_poll_tasks(struct sc_agent *a)
{
  int64_t now = sc_agent_now_ms();

  for (struct sc_task *t = a->tasks; t; t = t->next) {
    sc_task_tick_kill(t, now);
    if (sc_task_poll(t, now)) {
      if (t->signal)
        sc_info("task %s: ended by signal %d", t->spec.task_id, t->signal);
      else
        sc_info("task %s: exited with code %d", t->spec.task_id, t->exit_code);
    }
  }
}

/* Drops reported tasks from memory (their files stay for an hour). */
static void forget_reported(struct sc_agent *a)
{
  struct sc_task **pp = &a->tasks;

  while (*pp) {
    struct sc_task *t = *pp;
    if (t->exit_sent && !t->child) { /* reported and its supervisor reaped */
      *pp = t->next;
      sc_task_free(t);
    } else {
      pp = &t->next;
    }
  }
}

/* The tasks whose final status the controller has not acknowledged. For
 * a heartbeat (!with_pid) only those it knows as running: one it has not
 * heard "running" of yet is still "assigned" there and needs no mention,
 * and naming it first would make it run without its pid. */
static json_t *running_list(struct sc_agent *a, bool with_pid)
{
  json_t *arr = json_array();

  pthread_mutex_lock(&a->lock);
  for (struct sc_task *t = a->tasks; t; t = t->next)
    if (!t->exit_sent && (with_pid || t->running_sent))
      json_array_append_new(arr, with_pid ? json_pack("{s:s, s:i}", "task_id", t->spec.task_id,
                                                     "pid", (int)t->pid)
                                          : json_string(t->spec.task_id));
  pthread_mutex_unlock(&a->lock);
  return arr;
}

static void apply_kills(struct sc_agent *a, json_t *reply)
{
  json_t *kill = json_object_get(reply, "kill");

  if (json_array_size(kill) > 0)
    sc_agent_apply(a, NULL, kill);
}

static void report_reply_error(const char *what, const struct sc_http_reply *r)
{
  char buf[256];
  const char *field, *msg = sc_http_error_message(r, &field, buf, sizeof buf);

  sc_error("%s: %s%s%s%s", what, msg, field ? " (field '" : "", field ? field : "",
           field ? "')" : "");
}

/* Sends what is owed, then registers with the tasks still unreported.
 * Returns 0, -1 to retry later, or SC_EAUTH when the token is refused. */
static int agent_register(struct sc_agent *a, bool *first)
{
  struct sc_http_reply r;
  json_t *body, *hb;
  int rc;

  a->call_failed = false;
  sc_agent_ship_logs(a);
  sc_agent_send_status(a);
  if (a->call_failed) /* still unreachable: retry after the backoff */
    return -1;
  body = json_pack("{s:s, s:I, s:I, s:O, s:o, s:o}", "name", a->cfg.name, "cpu_milli",
                   (json_int_t)a->cfg.cpu_milli, "memory_mib", (json_int_t)a->cfg.memory_mib,
                   "labels", a->cfg.labels, "devices", sc_devices_to_json(&a->cfg.devices),
                   "running", running_list(a, true));
  rc = sc_http_call(&a->http, "POST", "/v1/agent/register", body, 10000, &r);
  json_decref(body);
  if (rc) {
    if (*first || a->backoff_ms == 0)
      sc_warn("cannot reach the controller at %s (%s): retrying", a->cfg.server, a->http.error);
    a->backoff_ms = a->backoff_ms ? (a->backoff_ms * 2 > 1000 ? 1000 : a->backoff_ms * 2) : 100;
    a->next_try_ms = sc_agent_now_ms() + a->backoff_ms;
    return -1;
  }
  a->backoff_ms = 0;
  if (r.status != 200) {
    report_reply_error("register", &r);
    rc = (r.status == 401 || r.status == 403) && *first ? SC_EAUTH : -1;
    *first = false;
    a->next_try_ms = sc_agent_now_ms() + 2000;
    sc_http_reply_release(&r);
    return rc;
  }
  *first = false;
  hb = json_object_get(r.body, "heartbeat_interval_ms");
  if (a->cfg.heartbeat_ms <= 0 && json_is_integer(hb) && json_integer_value(hb) > 0)
    a->heartbeat_ms = json_integer_value(hb);
  sc_info("registered as %s with %s (%d devices, heartbeat %lld ms)", a->cfg.name,
          a->cfg.server, a->cfg.devices.count, (long long)a->heartbeat_ms);
  apply_kills(a, r.body);
  sc_http_reply_release(&r);
  pthread_mutex_lock(&a->lock);
  a->registered = true;
  pthread_cond_broadcast(&a->wake);
  pthread_mutex_unlock(&a->lock);
  a->next_heartbeat_ms = sc_agent_now_ms() + a->heartbeat_ms;
  sc_agent_send_status(a);
  return 0;
}

static void agent_heartbeat(struct sc_agent *a)
{
  struct sc_http_reply r;
  json_t *body = json_pack("{s:s, s:o}", "name", a->cfg.name, "running", running_list(a, false));
  int rc = sc_http_call(&a->http, "POST", "/v1/agent/heartbeat", body, 10000, &r);

  json_decref(body);
  a->next_heartbeat_ms = sc_agent_now_ms() + a->heartbeat_ms;
  if (rc) {
    sc_warn("heartbeat: controller unreachable (%s)", a->http.error);
    pthread_mutex_lock(&a->lock);
    a->registered = false;
    pthread_mutex_unlock(&a->lock);
    a->backoff_ms = 100;
    a->next_try_ms = sc_agent_now_ms() + a->backoff_ms;
    return;
  }
  if (r.status == 200) {
    apply_kills(a, r.body);
  } else {
    report_reply_error("heartbeat", &r);
    if (r.status == 404 || r.status == 409) {
      pthread_mutex_lock(&a->lock);
      a->registered = false;
      pthread_mutex_unlock(&a->lock);
    }
  }
  sc_http_reply_release(&r);
}

void sc_agent_heartbeat_if_due(struct sc_agent *a)
{
  if (a->registered && !a->call_failed && sc_agent_now_ms() >= a->next_heartbeat_ms)
    agent_heartbeat(a);
}

/* Waits on the wake condition up to ms unless something is to be sent. */
static void agent_wait(struct sc_agent *a, int64_t ms)
{
  struct timespec ts;

  pthread_mutex_lock(&a->lock);
  if (!a->dirty) {
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += ms * 1000000;
    ts.tv_sec += ts.tv_nsec / 1000000000;
    ts.tv_nsec %= 1000000000;
    pthread_cond_timedwait(&a->wake, &a->lock, &ts);
  }
  a->dirty = false;
  pthread_mutex_unlock(&a->lock);
}

/* One round of the main loop. Returns SC_EAUTH when registration is refused
 * at start, else 0. */
static int agent_step(struct sc_agent *a, bool *first)
{
  int64_t now = sc_agent_now_ms();
  bool registered;
  int rc = 0;

  pthread_mutex_lock(&a->lock);
  sc_agent_poll_tasks(a);
  registered = a->registered;
  pthread_mutex_unlock(&a->lock);
  if (!registered) {
    if (now >= a->next_try_ms)
      rc = agent_register(a, first);
    return rc == SC_EAUTH ? rc : 0;
  }
  if (a->backoff_ms && now < a->next_try_ms)
    return 0;
  a->call_failed = false;
  sc_agent_heartbeat_if_due(a);
  sc_agent_ship_logs(a);
  sc_agent_send_status(a);
  pthread_mutex_lock(&a->lock);
  forget_reported(a);
  pthread_mutex_unlock(&a->lock);
  if (sc_agent_now_ms() >= a->next_gc_ms) {
    scan_tasks(a, false); /* files of tasks reported over an hour ago */
    a->next_gc_ms = sc_agent_now_ms() + 600000;
  }
  return 0;
}

/* Ends every task (TERM, KILL after its grace), then reports their exits
 * while the controller answers; what is not sent stays in the state dir. */
static void agent_shutdown(struct sc_agent *a)
{
  int64_t now = sc_agent_now_ms(), deadline = now + 2000;
  bool pending = true;

  pthread_mutex_lock(&a->lock);
  for (struct sc_task *t = a->tasks; t; t = t->next)
    if (!t->exited) {
      sc_task_terminate(t, now, -1);
      if (t->kill_at_ms + 2000 > deadline)
        deadline = t->kill_at_ms + 2000;
    }
  pthread_mutex_unlock(&a->lock);
  while (pending && sc_agent_now_ms() < deadline) {
    pending = false;
    pthread_mutex_lock(&a->lock);
    sc_agent_poll_tasks(a);
    for (struct sc_task *t = a->tasks; t; t = t->next)
      pending = pending || !t->exit_sent;
    pthread_mutex_unlock(&a->lock);
    if (a->registered && (!a->backoff_ms || sc_agent_now_ms() >= a->next_try_ms)) {
      sc_agent_ship_logs(a);
      sc_agent_send_status(a);
    }
    if (pending)
      agent_wait(a, 50);
  }
}

int sc_agent_run(struct sc_agent *a, volatile int *stop)
{
  pthread_t poller;
  bool first = true;
  int rc = 0;

  if (pthread_create(&poller, NULL, sc_agent_poll_main, a) != 0)
    return SC_ENOMEM;
  while (!*stop) {
    if ((rc = agent_step(a, &first)) != 0)
      break;
    agent_wait(a, 100);
  }
  sc_info(rc ? "stopping" : "stopping: ending tasks");
  pthread_mutex_lock(&a->lock);
  a->stopping = 1;
  pthread_cond_broadcast(&a->wake);
  pthread_mutex_unlock(&a->lock);
  sc_http_wakeup(&a->poll_http); /* ends the long-poll now */
  pthread_join(poller, NULL); /* no task can start after this */
  if (!rc)
    agent_shutdown(a);
  return rc;
}
