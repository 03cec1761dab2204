/* The agent's life on its main thread: state dir and adoption, the loop
 * (task exits, heartbeats, logs, statuses), registration and backoff (it
 * decides what each request's outcome means), and a clean stop that ends
 * the tasks. The assignments long-poll runs in its own thread
 * (agent_assign.c); requests are in agent_client.c. */
#include "agent/agent_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/cgroup.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"
#include "util/notify.h"
#include "util/token_file.h"

#define LOOP_MS 100             /* the loop looks at its tasks this often */
#define GC_MS 600000            /* files of reported tasks: looked at this often */
#define BACKOFF_MAX_MS 1000
#define RETRY_MS 1000           /* after an error reply worth retrying */
#define STOP_REPORT_MS 2000     /* reporting time after the last task ends */

extern char **environ;

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
        sc_task_remove_dir(dir);
      continue;
    }
    if (t->exit_sent || !adopt) {
      snprintf(path, sizeof path, "%s/reported", dir);
      if (t->exit_sent && stat(path, &st) == 0 && time(NULL) - st.st_mtime > 3600)
        sc_task_remove_dir(dir);
      sc_task_free(t);
      continue;
    }
    sc_info("task %s: adopted (pid %d, %s)", t->spec.task_id, (int)t->pid,
            t->exited ? "exited" : sc_task_alive(t) ? "running" : "ending");
    sc_task_table_lock(&a->tasks);
    sc_task_table_insert(&a->tasks, t);
    sc_task_table_unlock(&a->tasks);
  }
  if (d)
    closedir(d);
}

static int agent_lock(struct sc_agent *a, char *err, size_t size)
{
  char path[4200];

  snprintf(path, sizeof path, "%s/agent.lock", a->cfg.state_dir);
  a->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
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
  const char *base = a->cfg.cgroup_base ? a->cfg.cgroup_base : "/sys/fs/cgroup";
  char name[4096], err[512];
  size_t blen = strlen(base);

  if (a->cfg.cgroup_root && !*a->cfg.cgroup_root)
    return;
  if (!a->cfg.cgroup_root)
    snprintf(name, sizeof name, "supercell/%s", a->cfg.name);
  else if (strncmp(a->cfg.cgroup_root, base, blen) == 0 && a->cfg.cgroup_root[blen] == '/')
    snprintf(name, sizeof name, "%s", a->cfg.cgroup_root + blen + 1); /* a full v2 path */
  else
    snprintf(name, sizeof name, "%s", a->cfg.cgroup_root);
  if (sc_cgroup_setup(&a->cgroups, base, name, err, sizeof err) != 0) {
    sc_warn("cgroups: %s; tasks run without memory, CPU, process and device limits", err);
    return;
  }
  sc_info("cgroups: task limits on cgroup v%d under %s", a->cgroups.version,
          a->cgroups.root[0] ? a->cgroups.root[0] : a->cgroups.root[SC_CG_MEMORY]);
}

/* Both clients call with token (NULL: the configured one). */
static int use_token(struct sc_agent *a, const char *token)
{
  const char *t = token ? token : a->cfg.token;
  int rc = sc_client_set_token(&a->client, t);

  if (rc == 0)
    rc = sc_client_set_token(&a->poll_client, t);
  a->has_credential = rc == 0 && token != NULL;
  return rc;
}

/* Uses the node's credential from an earlier registration, if any. */
static int load_credential(struct sc_agent *a)
{
  size_t len = strlen(a->cfg.state_dir) + 16;
  char *cred;
  int rc = 0;

  if (!(a->credential_path = malloc(len)) || !(a->contact_path = malloc(len)) ||
      !(a->wake_path = malloc(len)))
    return SC_ENOMEM;
  snprintf(a->wake_path, len, "%s/wake", a->cfg.state_dir);
  snprintf(a->credential_path, len, "%s/node.token", a->cfg.state_dir);
  snprintf(a->contact_path, len, "%s/contact", a->cfg.state_dir);
  if ((cred = sc_token_file_read(a->credential_path))) {
    rc = use_token(a, cred);
    free(cred);
  }
  return rc;
}

/* Keeps the credential a bootstrap registration returned, and uses it. */
static void keep_credential(struct sc_agent *a, const char *cred)
{
  if (sc_token_file_write(a->credential_path, cred) != 0)
    sc_warn("cannot write '%s': a restart registers with the bootstrap token again",
            a->credential_path);
  if (use_token(a, cred) != 0)
    sc_error("out of memory: the node's credential is not used");
  else
    sc_info("node %s: using its own credential from now on", a->cfg.name);
}

/* The agent's environment for its tasks, less SUPERCELL_* (the agent's
 * token, its controller: the agent sets a task's own SUPERCELL_* itself).
 * NULL when out of memory. */
static char **task_base_env(void)
{
  size_t n = 0, k = 0;
  char **env;

  while (environ[n])
    n++;
  if (!(env = calloc(n + 1, sizeof *env)))
    return NULL;
  for (size_t i = 0; i < n; i++)
    if (strncmp(environ[i], "SUPERCELL_", 10) != 0)
      env[k++] = environ[i];
  return env;
}

/* True when this (unprivileged) process may make user namespaces: a child
 * is cloned into one, as the supervisors do (clone, not unshare, which a
 * process with threads, or a sanitizer's, may not call). */
static bool userns_available(void)
{
  int status = 0;
  pid_t pid = (pid_t)syscall(SYS_clone, SIGCHLD | CLONE_NEWUSER, NULL, NULL, NULL, NULL);

  if (pid == 0)
    _exit(0);
  if (pid < 0)
    return false;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Reads the tenant a non-root agent serves (<state>/tenant). */
static void load_tenant_pin(struct sc_agent *a)
{
  char path[4200];
  FILE *f;

  snprintf(path, sizeof path, "%s/tenant", a->cfg.state_dir);
  if ((f = fopen(path, "re"))) {
    if (fgets(a->tenant_pin, sizeof a->tenant_pin, f))
      a->tenant_pin[strcspn(a->tenant_pin, "\n")] = '\0';
    fclose(f);
  }
}

/* Everything sc_agent_new needs before the agent can be freed safely. */
static struct sc_agent *agent_alloc(const struct sc_agent_config *cfg)
{
  struct sc_agent *a = calloc(1, sizeof *a);

  if (!a)
    return NULL;
  a->cfg = *cfg;
  a->lock_fd = -1;
  a->wake_fd = -1;
  a->base_env = task_base_env();
  a->heartbeat_ms = cfg->heartbeat_ms > 0 ? cfg->heartbeat_ms : 1000;
  atomic_init(&a->registered, false);
  atomic_init(&a->stopping, 0);
  sc_task_table_init(&a->tasks);
  pthread_mutex_init(&a->mu, NULL);
  sc_clock_cond_init(&a->wake);
  return a;
}

int sc_agent_new(const struct sc_agent_config *cfg, struct sc_agent **out, char *err,
                 size_t size)
{
  struct sc_agent *a = agent_alloc(cfg);
  size_t len = strlen(cfg->state_dir) + 8;
  int rc;

  *out = NULL;
  if (!a || !a->base_env || !(a->tasks_dir = malloc(len))) {
    snprintf(err, size, "out of memory");
    sc_agent_free(a);
    return SC_ENOMEM;
  }
  snprintf(a->tasks_dir, len, "%s/tasks", cfg->state_dir);
  /* Only the agent's user may look inside: task specs, logs, the node's
   * credential. */
  if (mkdirs(a->tasks_dir) != 0 || chmod(cfg->state_dir, 0700) != 0 ||
      chmod(a->tasks_dir, 0700) != 0) {
    snprintf(err, size, "cannot create state dir '%s': %s", a->tasks_dir, strerror(errno));
    rc = SC_EIO;
  } else if ((rc = agent_lock(a, err, size)) == 0 &&
             ((rc = sc_client_init(&a->client, cfg->server, cfg->token, cfg->name, NULL)) != 0 ||
              (rc = sc_client_init(&a->poll_client, cfg->server, cfg->token, cfg->name,
                                   &a->stopping)) != 0)) {
    snprintf(err, size, "cannot start the HTTP client: %s",
             a->client.error[0] ? a->client.error
             : a->poll_client.error[0] ? a->poll_client.error : sc_strerror(rc));
  }
  if (rc != 0) {
    sc_agent_free(a);
    return rc;
  }
  if ((rc = load_credential(a)) != 0) {
    snprintf(err, size, "out of memory");
    sc_agent_free(a);
    return rc;
  }
  agent_cgroups(a);
  a->isolate = cfg->isolation != SC_ISOLATION_NONE && (geteuid() == 0 || userns_available());
  a->userns = a->isolate && geteuid() != 0;
  if (cfg->isolation == SC_ISOLATION_NAMESPACES && !a->isolate)
    sc_warn("--isolation namespaces: not root and no user namespaces here: tasks run without");
  sc_info("tasks run %s", !a->isolate ? "in the agent's namespaces (no isolation)"
                          : a->userns ? "in their own PID, mount, IPC and UTS namespaces "
                                        "(in a user namespace: the agent is not root)"
                                      : "in their own PID, mount, IPC and UTS namespaces");
  snprintf(a->image_cache, sizeof a->image_cache, "%s/images", cfg->state_dir);
  a->images.cache_dir = a->image_cache;
  a->images.image_dir = cfg->image_dir ? cfg->image_dir : "/var/lib/supercell/images";
  if (sc_image_find_tools(&a->images, a->crun_path, a->umoci_path, sizeof a->crun_path))
    sc_info("image tasks: crun %s, umoci %s, named images in %s", a->crun_path, a->umoci_path,
            a->images.image_dir);
  else
    sc_info("image tasks: not here (crun or umoci missing)");
  a->switch_user = geteuid() == 0;
  if (a->switch_user)
    sc_info("tasks run as their tenant's user: uid and gid %lld + tenant id, or its run_as",
            (long long)(cfg->task_uid_base > 0 ? cfg->task_uid_base : SC_TASK_UID_BASE));
  else if (cfg->single_user)
    sc_warn("not root and --single-user: every tenant's tasks run as uid %d, this agent's "
            "user, and can read and signal each other", (int)geteuid());
  else
    load_tenant_pin(a);
  scan_tasks(a, true);
  a->next_gc_ms = sc_clock_mono_ms() + GC_MS;
  *out = a;
  return 0;
}

void sc_agent_free(struct sc_agent *a)
{
  if (!a)
    return;
  sc_task_table_release(&a->tasks);
  sc_client_release(&a->client);
  sc_client_release(&a->poll_client);
  if (a->lock_fd >= 0)
    close(a->lock_fd);
  free(a->tasks_dir);
  free(a->contact_path);
  free(a->wake_path);
  if (a->wake_fd >= 0)
    close(a->wake_fd);
  free(a->credential_path);
  free(a->base_env);
  sc_cgroups_release(&a->cgroups);
  pthread_mutex_destroy(&a->mu);
  pthread_cond_destroy(&a->wake);
  free(a);
}

void sc_agent_poll_tasks(struct sc_agent *a)
{
  int64_t now = sc_clock_mono_ms();

  sc_task_table_lock(&a->tasks);
  for (struct sc_task *t = a->tasks.head; t; t = t->next) {
    sc_task_tick_kill(t, now);
    if (sc_task_poll(t, now)) {
      if (t->signal)
        sc_info("task %s: ended by signal %d", t->spec.task_id, t->signal);
      else
        sc_info("task %s: exited with code %d", t->spec.task_id, t->exit_code);
    }
  }
  sc_task_table_unlock(&a->tasks);
}

/* ---- what a request's outcome means ---- */

/* The controller did not answer: register again once it does, after a
 * doubling backoff (the first miss is logged). */
static void unreachable(struct sc_agent *a, const char *what)
{
  if (a->backoff_ms == 0)
    sc_warn("%s: controller unreachable (%s): retrying", what, a->client.error);
  a->backoff_ms = a->backoff_ms ? (a->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
                                                                       : a->backoff_ms * 2)
                                : 100;
  a->next_try_ms = sc_clock_mono_ms() + a->backoff_ms;
  atomic_store(&a->registered, false);
}

/* Settles the outcome of a request of the loop: true when the loop may go
 * on with its round. */
static bool settle(struct sc_agent *a, enum sc_client_rc rc, const char *what)
{
  switch (rc) {
  case SC_CLIENT_OK:
  case SC_CLIENT_REFUSED: /* the caller dropped what was refused */
    a->backoff_ms = 0;
    return true;
  case SC_CLIENT_UNREACHABLE:
    unreachable(a, what);
    return false;
  case SC_CLIENT_UNKNOWN_NODE:
    sc_warn("%s: %s: registering again", what, a->client.error);
    atomic_store(&a->registered, false);
    return false;
  case SC_CLIENT_DENIED:
    if (a->has_credential) { /* revoked? registering falls back to cfg.token */
      sc_warn("%s: %s: registering again", what, a->client.error);
      atomic_store(&a->registered, false);
      return false;
    }
    /* fall through */
  case SC_CLIENT_LATER:
    sc_warn("%s: %s", what, a->client.error);
    a->backoff_ms = RETRY_MS;
    a->next_try_ms = sc_clock_mono_ms() + a->backoff_ms;
    return false;
  }
  return false;
}

/* The controller answered a request sent at sent_ms: the tasks may run on.
 * The send time, not the reply's, counts: the controller saw the node at or
 * after it, so a fence counted from it never comes later than the one the
 * controller waits for. The supervisors read the contact file ("LAST FENCE
 * GRACE", ms) to fence their task even when no agent runs (the monotonic
 * clock is the machine's, the same for them). */
static void note_contact(struct sc_agent *a, int64_t sent_ms)
{
  char text[96], tmp[4200];
  FILE *f;

  a->last_contact_ms = sent_ms;
  if (a->fenced)
    sc_info("the controller answers again: tasks are no longer fenced");
  a->fenced = false;
  snprintf(text, sizeof text, "%lld %lld %lld\n", (long long)a->last_contact_ms,
           (long long)a->fence_after_ms, (long long)a->fence_grace_ms);
  snprintf(tmp, sizeof tmp, "%s.tmp", a->contact_path);
  if (!(f = fopen(tmp, "we")) || fputs(text, f) < 0 || fclose(f) != 0 ||
      rename(tmp, a->contact_path) != 0)
    sc_warn("cannot write %s: supervisors may fence too early or never", a->contact_path);
}

/* Cut off from the controller for the fence timeout: its work is being
 * started elsewhere, so stop every task here (TERM, KILL after grace).
 * The supervisors do the same on their own. */
static void check_fence(struct sc_agent *a)
{
  int64_t now = sc_clock_mono_ms();
  int n = 0;

  if (a->fence_after_ms <= 0 || a->last_contact_ms <= 0 || a->fenced ||
      now - a->last_contact_ms <= a->fence_after_ms)
    return;
  a->fenced = true;
  sc_task_table_lock(&a->tasks);
  for (struct sc_task *t = a->tasks.head; t; t = t->next)
    if (!t->exited && !t->kill_at_ms && !t->spec.keep_on_disconnect) {
      sc_task_terminate(t, now, -1);
      n++;
    }
  sc_task_table_unlock(&a->tasks);
  sc_warn("fenced: no answer from the controller for %lld ms (fence after %lld ms): "
          "stopped %d task(s)", (long long)(now - a->last_contact_ms),
          (long long)a->fence_after_ms, n);
}

/* Terminates the tasks the controller named (the heartbeat and register
 * replies carry kills; the poll thread applies its own). */
static void apply_kills(struct sc_agent *a, struct sc_client_kills *kills)
{
  struct sc_client_assignments as = {.kills = *kills};

  if (kills->n > 0)
    sc_agent_apply(a, &as);
  sc_client_kills_release(kills);
}

/* The tasks whose final status the controller has not acknowledged. For
 * a heartbeat (!with_pid) only those it knows as running: one it has not
 * heard "running" of yet is still "assigned" there and needs no mention,
 * and naming it first would make it run without its pid. Table lock held;
 * the ids point into the tasks. */
static int running_list(struct sc_agent *a, bool with_pid, struct sc_client_task **out)
{
  int n = 0, k = 0;

  *out = NULL;
  for (struct sc_task *t = a->tasks.head; t; t = t->next)
    n += !t->exit_sent && (with_pid || t->running_sent);
  if (n == 0 || !(*out = calloc((size_t)n, sizeof **out)))
    return n == 0 ? 0 : -1;
  for (struct sc_task *t = a->tasks.head; t; t = t->next)
    if (!t->exit_sent && (with_pid || t->running_sent))
      (*out)[k++] = (struct sc_client_task){.task_id = t->spec.task_id,
                                            .pid = with_pid ? t->pid : 0};
  return k;
}

/* Sends what is owed, then registers with the tasks still unreported.
 * Returns 0, -1 to retry later, or SC_EAUTH when the token is refused at
 * the first attempt. */
static int agent_register(struct sc_agent *a, bool *first)
{
  struct sc_client_node node = {a->cfg.cpu_milli, a->cfg.memory_mib, a->cfg.labels,
                                &a->cfg.devices};
  struct sc_client_registered reg;
  struct sc_client_task *running;
  enum sc_client_rc rc;
  int64_t sent;
  bool more;
  int n;

  /* What is owed first: the controller learns the exits before it hears
   * which tasks still run. */
  if (!settle(a, sc_agent_ship_logs(a, sc_clock_mono_ms() + 2000, &more), "logs") ||
      !settle(a, sc_agent_send_status(a), "status"))
    return -1;
  sc_task_table_lock(&a->tasks);
  n = running_list(a, true, &running);
  sc_task_table_unlock(&a->tasks);
  /* The ids stay valid unlocked: only this thread frees tasks. */
  sent = sc_clock_mono_ms();
  rc = n < 0 ? SC_CLIENT_LATER : sc_client_register(&a->client, &node, running, n, &reg);
  free(running);
  if (rc == SC_CLIENT_DENIED && a->has_credential && a->cfg.token) {
    /* The node's credential was revoked: register with the bootstrap
     * token, which brings a new one. */
    sc_warn("register: the node's credential was refused (%s): using the configured token",
            a->client.error);
    unlink(a->credential_path);
    use_token(a, NULL);
    return -1;
  }
  if (rc == SC_CLIENT_DENIED && *first) {
    sc_error("register: %s", a->client.error);
    return SC_EAUTH;
  }
  if (rc != SC_CLIENT_UNREACHABLE)
    *first = false; /* a refused token exits only at the first reply */
  if (!settle(a, rc, "register"))
    return -1;
  if (reg.credential)
    keep_credential(a, reg.credential);
  if (a->cfg.heartbeat_ms <= 0 && reg.heartbeat_ms > 0)
    a->heartbeat_ms = reg.heartbeat_ms;
  a->fence_after_ms = reg.fence_after_ms;
  a->fence_grace_ms = reg.grace_ms > 0 ? reg.grace_ms : 10000;
  note_contact(a, sent);
  a->moves_seen = a->client.http.moves;
  sc_info("registered as %s with %s (%d devices, heartbeat %lld ms)", a->cfg.name,
          a->client.http.base, a->cfg.devices.count, (long long)a->heartbeat_ms);
  apply_kills(a, &reg.kills);
  sc_client_registered_release(&reg);
  atomic_store(&a->registered, true);
  {
    char status[200];
    snprintf(status, sizeof status, "READY=1\nSTATUS=registered as %s with %s", a->cfg.name,
             a->client.http.base);
    sc_notify(status);
  }
  pthread_mutex_lock(&a->mu);
  pthread_cond_broadcast(&a->wake); /* the poll thread starts polling */
  pthread_mutex_unlock(&a->mu);
  a->next_heartbeat_ms = sc_clock_mono_ms() + a->heartbeat_ms;
  settle(a, sc_agent_send_status(a), "status");
  return 0;
}

/* Sends a heartbeat naming the tasks the controller knows as running. */
static bool agent_heartbeat(struct sc_agent *a)
{
  struct sc_client_kills kills = {0};
  struct sc_client_task *running;
  enum sc_client_rc rc;
  int64_t sent, interval = 0;
  int n;

  sc_task_table_lock(&a->tasks);
  n = running_list(a, false, &running);
  sc_task_table_unlock(&a->tasks);
  /* The ids stay valid unlocked: only this thread frees tasks. */
  sent = sc_clock_mono_ms();
  rc = n < 0 ? SC_CLIENT_LATER : sc_client_heartbeat(&a->client, running, n, &kills, &interval);
  free(running);
  if (rc == SC_CLIENT_OK && interval > 0 && a->cfg.heartbeat_ms <= 0)
    a->heartbeat_ms = interval; /* the controller's, as the fleet grows */
  a->next_heartbeat_ms = sc_clock_mono_ms() + a->heartbeat_ms;
  if (!settle(a, rc, "heartbeat"))
    return false;
  note_contact(a, sent);
  apply_kills(a, &kills);
  return true;
}

/* Waits on the wake condition up to ms unless something is to be sent. */
static void agent_wait(struct sc_agent *a, int64_t ms)
{
  pthread_mutex_lock(&a->mu);
  if (!a->dirty)
    sc_agent_wait_locked(a, ms);
  a->dirty = false;
  pthread_mutex_unlock(&a->mu);
}

/* Ships logs and statuses, with a heartbeat whenever one falls due, so a
 * long flush cannot make the node look lost. False when a request failed. */
static bool agent_report(struct sc_agent *a)
{
  bool more = true;

  while (more) {
    if (sc_clock_mono_ms() >= a->next_heartbeat_ms && !agent_heartbeat(a))
      return false;
    if (!settle(a, sc_agent_ship_logs(a, a->next_heartbeat_ms, &more), "logs"))
      return false;
  }
  return settle(a, sc_agent_send_status(a), "status");
}

/* One round of the main loop. Returns SC_EAUTH when registration is refused
 * at start, else 0. */
static int agent_step(struct sc_agent *a, bool *first)
{
  int64_t now = sc_clock_mono_ms();
  int rc = 0;

  sc_agent_poll_tasks(a);
  check_fence(a);
  if (!atomic_load(&a->registered)) {
    if (now >= a->next_try_ms)
      rc = agent_register(a, first);
    return rc == SC_EAUTH ? rc : 0;
  }
  if (a->backoff_ms && now < a->next_try_ms)
    return 0;
  if (!agent_report(a))
    return 0;
  if (a->client.http.moves != a->moves_seen) {
    /* Another controller answers now (a standby took over): it learns
     * which tasks run here, with their pids, as after its restart. */
    sc_info("the controller at %s leads now: registering again", a->client.http.base);
    atomic_store(&a->registered, false);
    return 0;
  }
  sc_task_table_lock(&a->tasks);
  sc_task_table_forget_reported(&a->tasks);
  sc_task_table_unlock(&a->tasks);
  if (sc_clock_mono_ms() >= a->next_gc_ms) {
    scan_tasks(a, false); /* files of tasks reported over an hour ago */
    a->next_gc_ms = sc_clock_mono_ms() + GC_MS;
  }
  return 0;
}

static bool unreported(const struct sc_task *t)
{
  return !t->exit_sent;
}

/* Ends every task (TERM, KILL after its grace), then reports their exits
 * while the controller answers; what is not sent stays in the state dir. */
static void agent_shutdown(struct sc_agent *a)
{
  int64_t now = sc_clock_mono_ms(), deadline = now + STOP_REPORT_MS;
  bool pending = true;

  sc_task_table_lock(&a->tasks);
  for (struct sc_task *t = a->tasks.head; t; t = t->next)
    if (!t->exited) {
      sc_task_terminate(t, now, -1);
      if (t->kill_at_ms + STOP_REPORT_MS > deadline)
        deadline = t->kill_at_ms + STOP_REPORT_MS;
    }
  sc_task_table_unlock(&a->tasks);
  while (pending && sc_clock_mono_ms() < deadline) {
    bool more;
    sc_agent_poll_tasks(a);
    sc_task_table_lock(&a->tasks);
    pending = sc_task_table_any(&a->tasks, unreported);
    sc_task_table_unlock(&a->tasks);
    if (atomic_load(&a->registered) &&
        (!a->backoff_ms || sc_clock_mono_ms() >= a->next_try_ms) &&
        settle(a, sc_agent_ship_logs(a, deadline, &more), "logs"))
      settle(a, sc_agent_send_status(a), "status");
    if (pending)
      agent_wait(a, 50);
  }
}

/* The exits thread: a task's supervisor writes a byte to the wake FIFO
 * when the task ended (its exit file is written); the main loop then looks
 * at its tasks at once instead of at its next round. */
static void *exits_main(void *arg)
{
  struct sc_agent *a = arg;
  char buf[64];

  while (!atomic_load(&a->stopping)) {
    ssize_t n = read(a->wake_fd, buf, sizeof buf);
    if (n < 0 && errno != EINTR)
      break;
    if (n > 0) {
      pthread_mutex_lock(&a->mu);
      a->dirty = true;
      pthread_cond_broadcast(&a->wake);
      pthread_mutex_unlock(&a->mu);
    }
  }
  return NULL;
}

/* Makes the wake FIFO (0600) and starts the exits thread (signals blocked);
 * without it, exits are seen at the loop's next round. */
static bool start_exits(struct sc_agent *a, pthread_t *thread)
{
  sigset_t all, old;
  int rc;

  if ((mkfifo(a->wake_path, 0600) != 0 && errno != EEXIST) ||
      (a->wake_fd = open(a->wake_path, O_RDWR | O_CLOEXEC)) < 0) {
    sc_warn("cannot open %s (%s): task exits are seen within %d ms", a->wake_path,
            strerror(errno), LOOP_MS);
    return false;
  }
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  rc = pthread_create(thread, NULL, exits_main, a);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return rc == 0;
}

/* Starts the assignments thread with every signal blocked in it. */
static int start_poller(struct sc_agent *a, pthread_t *thread)
{
  sigset_t all, old;
  int rc;

  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  rc = pthread_create(thread, NULL, sc_agent_poll_main, a);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return rc;
}

int sc_agent_run(struct sc_agent *a, atomic_int *stop)
{
  pthread_t poller, exits;
  bool first = true, watching;
  int rc = 0;

  if (start_poller(a, &poller) != 0)
    return SC_ENOMEM;
  watching = start_exits(a, &exits);
  while (!atomic_load(stop)) {
    if ((rc = agent_step(a, &first)) != 0)
      break;
    agent_wait(a, LOOP_MS);
  }
  sc_info(rc ? "stopping" : "stopping: ending tasks");
  atomic_store(&a->stopping, 1);
  pthread_mutex_lock(&a->mu);
  pthread_cond_broadcast(&a->wake);
  pthread_mutex_unlock(&a->mu);
  sc_client_wakeup(&a->poll_client); /* ends the long-poll now */
  pthread_join(poller, NULL);       /* no task can start after this */
  if (watching) {
    (void)!write(a->wake_fd, "", 1); /* its read returns; it sees stopping */
    pthread_join(exits, NULL);
  }
  if (!rc)
    agent_shutdown(a);
  return rc;
}
