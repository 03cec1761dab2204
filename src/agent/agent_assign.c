/* The assignments thread: long-polls the controller and applies what comes
 * back, kills first, then starts. New work starts as soon as the reply
 * arrives; launches run without the table lock, so the main thread's
 * heartbeats go on while a large batch starts. */
#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "agent/agent_int.h"
#include "agent/cgroup.h"
#include "agent/image.h"
#include "agent/notice.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

#define POLL_WAIT_S 25

/* LOCAL_RANK when the controller gave none: tasks of the same job with a
 * lower index on this node, among those running and those in this batch
 * (table lock held). */
static int local_rank(struct sc_agent *a, const struct sc_client_assignments *as,
                      const struct sc_task_spec *spec)
{
  int rank = 0;

  for (struct sc_task *t = a->tasks.head; t; t = t->next)
    if (!t->exited && strcmp(t->spec.job_id, spec->job_id) == 0 && t->spec.index < spec->index)
      rank++;
  for (int i = 0; i < as->nstarts; i++) {
    const struct sc_task_spec *s = &as->starts[i].spec;
    if (strcmp(s->job_id, spec->job_id) == 0 && s->index < spec->index &&
        !sc_task_table_find(&a->tasks, s->task_id))
      rank++;
  }
  return rank;
}

#define TASK_PIDS_MAX 16384

/* Devices every task may open (as runc allows): null, zero, full, random,
 * urandom, tty, ptmx and the pseudo-terminals. */
static const struct sc_cgroup_device basic_devices[] = {
  {'c', 1, 3}, {'c', 1, 5}, {'c', 1, 7}, {'c', 1, 8}, {'c', 1, 9},
  {'c', 5, 0}, {'c', 5, 2}, {'c', 136, -1},
};

/* Adds the device nodes of node device index (found under dev_dir) to l. */
static void allow_device(struct sc_agent *a, int index, struct sc_cgroup_limits *l)
{
  const char *dir = a->cfg.dev_dir ? a->cfg.dev_dir : "/dev";
  char names[SC_DEVICE_NODES_MAX][64], path[4200];
  int n = sc_devices_nodes(&a->cfg.devices, index, names, SC_DEVICE_NODES_MAX);
  struct stat st;

  for (int i = 0; i < n && l->ndev < SC_CGROUP_MAX_DEVICES; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    if (stat(path, &st) != 0 || (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)))
      continue; /* declared but absent (tests, a driver not loaded) */
    l->dev[l->ndev++] = (struct sc_cgroup_device){S_ISCHR(st.st_mode) ? 'c' : 'b',
                                                  (int)major(st.st_rdev), (int)minor(st.st_rdev)};
  }
}

/* The cgroup of a task (named after its dir: one per attempt): its memory,
 * CPU, processes and only its devices. */
static char *task_cgroup(struct sc_agent *a, const struct sc_task_spec *spec, const char *dir)
{
  const char *name = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
  struct sc_cgroup_limits l = {.memory_mib = spec->memory_mib, .cpu_milli = spec->cpu_milli,
                               .devices = true};
  char *path = NULL;

  if (!a->cgroups.version)
    return NULL;
  l.pids_max = a->cfg.task_pids_max > 0 ? a->cfg.task_pids_max : TASK_PIDS_MAX;
  for (size_t i = 0; i < sizeof basic_devices / sizeof basic_devices[0]; i++)
    l.dev[l.ndev++] = basic_devices[i];
  for (int i = 0; i < spec->ndevices; i++)
    allow_device(a, spec->devices[i], &l);
  if (sc_cgroup_create(&a->cgroups, name, &l, &path) != 0)
    sc_warn("task %s: cannot create its cgroup; running without limits", spec->task_id);
  return path;
}

/* The device node names of spec's devices (their own and their vendor's
 * control nodes), without repeats, into names; returns how many. */
static int task_device_names(struct sc_agent *a, const struct sc_task_spec *spec,
                             char (*names)[64])
{
  int n = 0;

  for (int i = 0; i < spec->ndevices; i++) {
    char dn[SC_DEVICE_NODES_MAX][64];
    int k = sc_devices_nodes(&a->cfg.devices, spec->devices[i], dn, SC_DEVICE_NODES_MAX);
    for (int j = 0; j < k && n < SC_SANDBOX_MAX_DEV; j++) {
      bool dup = false;
      for (int m = 0; m < n && !dup; m++)
        dup = strcmp(names[m], dn[j]) == 0;
      if (!dup)
        memcpy(names[n++], dn[j], 64);
    }
  }
  return n;
}

/* The view of a task (a new struct the caller frees), NULL without
 * isolation; *failed when it could not be prepared (the task must not run
 * then). */
static struct sc_sandbox *task_sandbox(struct sc_agent *a, const struct sc_task_spec *spec,
                                       const char *dir, bool *failed)
{
  char root[4200];
  const char *hide[8];
  char names[SC_SANDBOX_MAX_DEV][64];
  struct sc_sandbox *sb;
  int nhide = 0, n;

  *failed = false;
  if (!a->isolate && !spec->image)
    return NULL;
  if (!(sb = calloc(1, sizeof *sb))) {
    *failed = true;
    return NULL;
  }
  if (spec->image) { /* the runtime builds the view */
    sb->enabled = sb->image = true;
    return sb;
  }
  hide[nhide++] = a->cfg.state_dir;
  for (int i = 0; i < a->cfg.nhide && nhide < 8; i++)
    hide[nhide++] = a->cfg.hide[i];
  n = task_device_names(a, spec, names);
  snprintf(root, sizeof root, "%s/root", dir); /* its root is built on it */
  if (mkdir(root, 0755) != 0 && errno != EEXIST) {
    free(sb);
    *failed = true;
    return NULL;
  }
  sc_sandbox_prepare(sb, root, hide, nhide, spec->workdir, a->cfg.share, a->cfg.nshare,
                     a->cfg.dev_dir, (const char(*)[64])names, n);
  sb->no_network = spec->no_network;
  sb->userns = a->userns;
  return sb;
}

#define SC_HOME_MAX 512

/* Who task spec runs as, into how (and its home dir into home); NULL, or why it must not start (a short
 * reason for its status, the detail into *detail for its log):
 *   - a root agent runs it as the tenant's run_as user, or as uid and gid
 *     base + tenant id; never as root;
 *   - an agent that is not root cannot switch users: it runs the tasks of
 *     one tenant only, the first it was given (kept in <state>/tenant),
 *     unless --single-user says every tenant may share its user. */
static const char *task_user(struct sc_agent *a, const struct sc_task_spec *spec,
                             struct sc_task_launch *how, char *home, char *detail, size_t size)
{
  const char *tenant = spec->tenant && *spec->tenant ? spec->tenant : "default";
  int64_t base = a->cfg.task_uid_base > 0 ? a->cfg.task_uid_base : SC_TASK_UID_BASE;

  if (!a->switch_user) {
    char path[4200];
    FILE *f;
    if (a->cfg.single_user || strcmp(a->tenant_pin, tenant) == 0)
      return NULL;
    if (a->tenant_pin[0]) {
      snprintf(detail, size,
               "this agent is not root, so it cannot keep tenants apart: it runs tenant "
               "'%s''s tasks only (start it with --single-user to run every tenant's tasks "
               "as its user)", a->tenant_pin);
      return "refused: agent serves one tenant";
    }
    snprintf(a->tenant_pin, sizeof a->tenant_pin, "%s", tenant);
    snprintf(path, sizeof path, "%s/tenant", a->cfg.state_dir);
    if ((f = fopen(path, "we"))) {
      fprintf(f, "%s\n", tenant);
      fclose(f);
    }
    sc_info("not root: this agent runs tenant %s's tasks only from now on", tenant);
    return NULL;
  }
  how->set_user = true;
  if (spec->run_as && *spec->run_as) {
    struct passwd pw, *found = NULL;
    char buf[4096];
    getpwnam_r(spec->run_as, &pw, buf, sizeof buf, &found);
    if (!found) {
      snprintf(detail, size, "user '%s' (tenant %s's run_as) does not exist on this node",
               spec->run_as, tenant);
      return "refused: unknown run_as user";
    }
    if (pw.pw_uid == 0 || pw.pw_gid == 0) {
      snprintf(detail, size, "tenant %s's run_as user '%s' is root or in group root: tasks "
               "never run as root", tenant, spec->run_as);
      return "refused: would run as root";
    }
    how->uid = pw.pw_uid;
    how->gid = pw.pw_gid;
    snprintf(home, SC_HOME_MAX, "%s", pw.pw_dir);
    return NULL;
  }
  if (spec->tenant_id <= 0 || base + spec->tenant_id > 0x7fffffffLL) {
    snprintf(detail, size, "the controller gave no usable tenant id for tenant %s (%lld)",
             tenant, (long long)spec->tenant_id);
    return "refused: no tenant id";
  }
  how->uid = (uid_t)(base + spec->tenant_id);
  how->gid = (gid_t)(base + spec->tenant_id);
  snprintf(home, SC_HOME_MAX, "%s", spec->workdir && *spec->workdir ? spec->workdir : "/tmp");
  return NULL;
}

/* Wakes the main loop: it has something to send. */
static void wake_main(struct sc_agent *a)
{
  pthread_mutex_lock(&a->mu);
  a->dirty = true;
  pthread_cond_broadcast(&a->wake);
  pthread_mutex_unlock(&a->mu);
}

/* The environment a task starts from (the job's env and the agent's
 * variables come after it): the agent's own (less SUPERCELL_*; none for an
 * image task, whose image brings its own), SUPERCELL_NODE,
 * SUPERCELL_ATTEMPT, SUPERCELL_SERVER (the controller, for `supercell
 * checkpoint`), and HOME, USER and LOGNAME of the user it runs as.
 * *owned: where the strings the array owns begin. NULL when out of memory;
 * free with free_base. */
static char **user_base_env(struct sc_agent *a, const struct sc_task_spec *spec, bool as_user,
                            const char *home, size_t *owned)
{
  const char *who = spec->run_as && *spec->run_as ? spec->run_as
                    : spec->tenant && *spec->tenant ? spec->tenant : "default";
  size_t n = 0, k;
  char **env;
  int ok;

  while (!spec->image && a->base_env[n])
    n++;
  if (!(env = calloc(n + 7, sizeof *env)))
    return NULL;
  memcpy(env, a->base_env, n * sizeof *env);
  *owned = k = n;
  ok = asprintf(&env[k++], "SUPERCELL_NODE=%s", a->cfg.name) >= 0 &&
       asprintf(&env[k++], "SUPERCELL_ATTEMPT=%d", spec->attempt > 0 ? spec->attempt : 0) >= 0 &&
       asprintf(&env[k++], "SUPERCELL_SERVER=%s", a->cfg.server ? a->cfg.server : "") >= 0;
  if (ok && as_user)
    ok = asprintf(&env[k++], "HOME=%s", home) >= 0 && asprintf(&env[k++], "USER=%s", who) >= 0 &&
         asprintf(&env[k++], "LOGNAME=%s", who) >= 0;
  if (!ok) {
    env[k - 1] = NULL; /* asprintf leaves a failed one undefined */
    for (size_t i = n; i < k - 1; i++)
      free(env[i]);
    free(env);
    return NULL;
  }
  return env;
}

static void free_base(char **env, size_t owned)
{
  for (size_t k = owned; env && env[k]; k++)
    free(env[k]);
  free(env);
}

/* Records t and wakes the main loop to report it. */
static void insert_task(struct sc_agent *a, struct sc_task *t)
{
  sc_task_table_lock(&a->tasks);
  sc_task_table_insert(&a->tasks, t);
  sc_task_table_unlock(&a->tasks);
  wake_main(a);
}

/* Does not start t: logs and records why. */
static void refuse(struct sc_agent *a, struct sc_task *t, const char *reason, const char *detail)
{
  sc_warn("task %s: not started: %s", t->spec.task_id, detail);
  sc_task_refuse(t, reason, detail);
  insert_task(a, t);
}

/* Prepares an image task: its bundle (the image unpacked once per digest)
 * and crun's command line into how->argv (free with sc_image_argv_free).
 * Returns NULL, or the reason it cannot run (detail filled). */
static const char *image_task(struct sc_agent *a, struct sc_task *t, struct sc_task_launch *how,
                              char **envp, char *detail, size_t size)
{
  char names[SC_SANDBOX_MAX_DEV][64], id[128], digest[72];
  const char *base = strrchr(t->dir, '/') ? strrchr(t->dir, '/') + 1 : t->dir;
  struct sc_image_task it = {
    .ref = t->spec.image, .task_dir = t->dir, .id = id, .env = envp, .argv = t->spec.argv,
    .shell = t->spec.shell, .workdir = t->spec.workdir, .uid = how->uid, .gid = how->gid,
    .no_network = t->spec.no_network, .share = a->cfg.share, .nshare = a->cfg.nshare,
    .dev_dir = a->cfg.dev_dir, .dev_names = (const char(*)[64])names};
  int rc;

  if (!how->set_user) {
    snprintf(detail, size, "this agent is not root: it cannot run image tasks");
    return "refused: images need a root agent";
  }
  snprintf(id, sizeof id, "%s", base);
  for (char *p = id; *p; p++)
    if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-", *p))
      *p = '_';
  it.ndev = task_device_names(a, &t->spec, names);
  if ((rc = sc_image_prepare(&a->images, &it, &how->argv, digest, detail, size)) != 0)
    return "refused: image unavailable";
  sc_info("task %s: image %s (%s)", t->spec.task_id, t->spec.image, digest);
  how->set_user = false; /* crun switches to the task's user in the container */
  return NULL;
}

/* Creates and launches one task, then records it. Ownership of spec passes
 * on; text is the assignment for task.json. */
static void launch(struct sc_agent *a, struct sc_task_spec *spec, const char *text)
{
  struct sc_task_launch how = {0};
  struct sc_task *t;
  char *cgroup = NULL, **envp = NULL, **base, dir[4200], home[SC_HOME_MAX] = "";
  struct sc_sandbox *sandbox;
  const char *refused;
  char detail[600];
  size_t owned = 0;
  bool no_view;
  int rc;

  sc_task_dir_name(a->tasks_dir, spec, dir, sizeof dir);
  if (access(dir, F_OK) == 0) /* an earlier run of this id, fully reported */
    sc_task_remove_dir(dir);
  if ((rc = sc_task_new(a->tasks_dir, spec, text, &t)) != 0) {
    sc_error("cannot prepare a task: %s", sc_strerror(rc));
    return;
  }
  if ((refused = task_user(a, &t->spec, &how, home, detail, sizeof detail))) {
    refuse(a, t, refused, detail);
    return;
  }
  if (t->spec.no_network && !a->isolate && !t->spec.image) {
    refuse(a, t, "refused: cannot isolate network",
           "the job asks for no network, and this agent runs tasks without namespaces "
           "(--isolation none, or not root)");
    return;
  }
  if (t->spec.image && t->spec.workdir)
    snprintf(home, sizeof home, "%s", t->spec.workdir); /* a path in the image */
  base = user_base_env(a, &t->spec, how.set_user, home, &owned);
  rc = base ? sc_task_env_build(&t->spec, &a->cfg.devices, base, &envp) : SC_ENOMEM;
  free_base(base, owned);
  if (rc != 0) {
    refuse(a, t, "refused: agent out of memory", "the agent ran out of memory");
    return;
  }
  if (t->spec.image && (refused = image_task(a, t, &how, envp, detail, sizeof detail))) {
    sc_task_env_free(envp);
    refuse(a, t, refused, detail);
    return;
  }
  cgroup = task_cgroup(a, &t->spec, t->dir);
  sandbox = task_sandbox(a, &t->spec, t->dir, &no_view);
  how.envp = envp;
  how.cgroup = cgroup;
  how.sandbox = sandbox;
  how.default_workdir = sandbox && !sandbox->image ? "/tmp" : NULL; /* its own tmpfs */
  how.contact_path = t->spec.keep_on_disconnect ? NULL : a->contact_path;
  how.wake_path = a->wake_path;
  rc = no_view ? 0 : sc_task_start(t, &how);
  if (no_view)
    sc_task_refuse(t, "refused: cannot isolate", "the agent could not prepare its view");
  free(sandbox);
  if (rc)
    sc_error("task %s: cannot start: %s", t->spec.task_id, sc_strerror(rc));
  else if (no_view)
    sc_error("task %s: cannot prepare its view of the node: not started", t->spec.task_id);
  else if (how.set_user)
    sc_info("task %s: started pid %d as uid %d", t->spec.task_id, (int)t->pid, (int)how.uid);
  else
    sc_info("task %s: started pid %d", t->spec.task_id, (int)t->pid);
  free(cgroup);
  sc_task_env_free(envp);
  sc_image_argv_free(how.argv);
  insert_task(a, t);
}

/* True when start i of as is to be launched: not here yet (an earlier
 * record of the task without attempts, or still unreported, counts as
 * here), not earlier in the batch, and the agent is not stopping. Table
 * lock held. */
static bool accept_start(struct sc_agent *a, const struct sc_client_assignments *as, int i)
{
  const struct sc_task_spec *spec = &as->starts[i].spec;
  struct sc_task *old;

  if (atomic_load(&a->stopping))
    return false;
  old = sc_task_table_find_attempt(&a->tasks, spec->task_id, spec->attempt);
  if (old && (!old->exit_sent || spec->attempt >= 0)) {
    sc_debug("task %s: already here, start ignored", spec->task_id);
    return false;
  }
  for (int k = 0; k < i; k++)
    if (strcmp(as->starts[k].spec.task_id, spec->task_id) == 0 &&
        as->starts[k].spec.attempt == spec->attempt)
      return false;
  return true;
}

/* The preemption notice of kill id in kills, or NULL: a plain kill. */
static const struct sc_client_notice *notice_of(const struct sc_client_kills *kills,
                                                const char *id)
{
  for (int i = 0; i < kills->nnotices; i++)
    if (strcmp(kills->notices[i].task_id, id) == 0)
      return &kills->notices[i];
  return NULL;
}

/* Preempts t: the notice file in its working directory first, so the
 * task finds it when the signal comes; SIGKILL after the notice's grace. */
static void preempt_task(struct sc_agent *a, struct sc_task *t, const struct sc_client_notice *n)
{
  struct sc_notice notice = {.by = n->by, .kind = n->kind, .signal = n->signal,
                             .grace_ms = n->grace_ms, .now_wall_ms = sc_clock_wall_ms()};
  char text[512];

  sc_notice_format(&notice, text, sizeof text);
  if (sc_notice_write(t, a->isolate, text) < 0)
    sc_warn("task %s: cannot write its preemption notice file", t->spec.task_id);
  sc_info("task %s: preempted by %s (%s): signal %d, SIGKILL in %lld ms", t->spec.task_id,
          n->by[0] ? n->by : "operator", n->kind, n->signal, (long long)n->grace_ms);
  sc_task_signal_kill(t, sc_clock_mono_ms(), n->signal, n->grace_ms);
}

/* Terminates the tasks named in kills, with notice where one came
 * (table lock held). */
static void apply_kills(struct sc_agent *a, const struct sc_client_kills *kills)
{
  bool any = false;

  for (int i = 0; i < kills->n; i++)
    for (struct sc_task *t = a->tasks.head; t; t = t->next)
      if (strcmp(t->spec.task_id, kills->ids[i]) == 0 && !t->exited && !t->kill_at_ms) {
        const struct sc_client_notice *n = notice_of(kills, kills->ids[i]);
        if (n) {
          preempt_task(a, t, n);
        } else {
          sc_info("task %s: killing as the controller asks", kills->ids[i]);
          sc_task_terminate(t, sc_clock_mono_ms(), -1);
        }
        any = true;
      }
  if (any)
    wake_main(a);
}

void sc_agent_apply(struct sc_agent *a, struct sc_client_assignments *as)
{
  bool *go = as->nstarts ? calloc((size_t)as->nstarts, sizeof *go) : NULL;

  if (as->nstarts && !go) {
    sc_error("out of memory: %d starts dropped", as->nstarts);
    return;
  }
  /* Kills first: a kill names an earlier attempt than a start of the same
   * reply, never the process that start is about to create. Ranks are
   * settled before any launch, against the batch as it came. */
  sc_task_table_lock(&a->tasks);
  apply_kills(a, &as->kills);
  for (int i = 0; i < as->nstarts; i++) {
    struct sc_task_spec *spec = &as->starts[i].spec;
    go[i] = accept_start(a, as, i);
    if (go[i] && spec->count > 1 && spec->local_rank < 0)
      spec->local_rank = local_rank(a, as, spec);
  }
  sc_task_table_unlock(&a->tasks);
  for (int i = 0; i < as->nstarts; i++) {
    struct sc_task_spec spec;
    if (!go[i])
      continue;
    spec = as->starts[i].spec; /* moves to the task */
    memset(&as->starts[i].spec, 0, sizeof spec);
    launch(a, &spec, as->starts[i].text);
  }
  free(go);
}

void sc_agent_wait_locked(struct sc_agent *a, int64_t ms)
{
  struct timespec ts = sc_clock_mono_after(ms);

  pthread_cond_timedwait(&a->wake, &a->mu, &ts);
}

/* One long-poll. Returns the delay before the next one in ms. */
static int64_t poll_once(struct sc_agent *a, int64_t *backoff)
{
  struct sc_client_assignments as;
  enum sc_client_rc rc = sc_client_assignments(&a->poll_client, POLL_WAIT_S, &as);

  if (rc == SC_CLIENT_UNREACHABLE) {
    if (!atomic_load(&a->stopping))
      sc_log(*backoff >= 1000 ? SC_LOG_WARN : SC_LOG_DEBUG, "assignments: %s",
             a->poll_client.error);
    *backoff = *backoff ? (*backoff * 2 > 1000 ? 1000 : *backoff * 2) : 100;
    return atomic_load(&a->stopping) ? 0 : *backoff;
  }
  *backoff = 0;
  if (rc == SC_CLIENT_OK) {
    sc_debug("assignments: %d to start, %d to kill", as.nstarts, as.kills.n);
    sc_agent_apply(a, &as);
    sc_client_assignments_release(&as);
    return 0;
  }
  if (rc == SC_CLIENT_UNKNOWN_NODE) {
    atomic_store(&a->registered, false); /* the controller does not know us */
    wake_main(a);
  } else {
    sc_warn("assignments: %s", a->poll_client.error);
  }
  return 1000;
}

void *sc_agent_poll_main(void *arg)
{
  struct sc_agent *a = arg;
  int64_t backoff = 0, delay = 0;

  while (!atomic_load(&a->stopping)) {
    if (!atomic_load(&a->registered) || delay > 0) {
      pthread_mutex_lock(&a->mu);
      if (!atomic_load(&a->stopping))
        sc_agent_wait_locked(a, delay > 0 ? delay : 50);
      pthread_mutex_unlock(&a->mu);
      delay = 0;
      continue;
    }
    delay = poll_once(a, &backoff);
  }
  return NULL;
}
