/* Task processes: supervisor + process group launch, exit files, adoption
 * after an agent restart, termination. Code between fork and exec (or
 * _exit) uses only async-signal-safe calls: everything is prepared first. */
#include "agent/task.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/cgroup.h"
#include "agent/sandbox.h"
#include "util/error.h"

int64_t sc_task_file_ms(const struct sc_task *t, const char *file)
{
  char path[4200];
  struct stat st;

  if (stat(sc_task_path(t, file, path, sizeof path), &st) != 0)
    return 0;
  return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}

const char *sc_task_path(const struct sc_task *t, const char *file, char *buf, size_t size)
{
  snprintf(buf, size, "%s/%s", t->dir, file);
  return buf;
}

/* Writes text to path atomically (temp file, rename; fsync when sync).
 * The page cache outlives an agent crash, which is what these files are
 * for; only exit files are synced (a machine crash ends the tasks too). */
static int write_atomic(const char *path, const char *text, bool sync)
{
  char tmp[4200];
  int fd;
  ssize_t n;

  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return SC_EIO;
  n = write(fd, text, strlen(text));
  if (n != (ssize_t)strlen(text) || (sync && fsync(fd) != 0)) {
    close(fd);
    return SC_EIO;
  }
  close(fd);
  return rename(tmp, path) == 0 ? 0 : SC_EIO;
}

static char *read_small(const char *path)
{
  char buf[4096];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t n;

  if (fd < 0)
    return NULL;
  n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n < 0)
    return NULL;
  buf[n] = '\0';
  return strdup(buf);
}

int sc_proc_start_ticks(pid_t pid, unsigned long long *ticks)
{
  char path[64], buf[1024], *p;
  int fd, field;
  ssize_t n;

  *ticks = 0;
  if (pid <= 0)
    return SC_ENOENT;
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
    return SC_ENOENT;
  n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0)
    return SC_ENOENT;
  buf[n] = '\0';
  if (!(p = strrchr(buf, ')')) || p[1] != ' ')
    return SC_ENOENT;
  p += 2; /* field 3: state */
  if (*p == 'Z' || *p == 'X')
    return SC_ENOENT;
  for (field = 3; field < 22 && p; field++)
    if ((p = strchr(p, ' ')))
      p++;
  if (!p)
    return SC_ENOENT;
  *ticks = strtoull(p, NULL, 10);
  return 0;
}

void sc_task_dir_name(const char *tasks_dir, const struct sc_task_spec *spec, char *buf,
                      size_t size)
{
  if (spec->attempt >= 0)
    snprintf(buf, size, "%s/%s@%d", tasks_dir, spec->task_id, spec->attempt);
  else
    snprintf(buf, size, "%s/%s", tasks_dir, spec->task_id);
}

int sc_task_new(const char *tasks_dir, struct sc_task_spec *spec, const char *assignment,
                struct sc_task **out)
{
  struct sc_task *t = calloc(1, sizeof *t);
  char path[4200];
  size_t len = strlen(tasks_dir) + strlen(spec->task_id) + 16;
  int rc;

  *out = NULL;
  if (!t || !(t->dir = malloc(len))) {
    free(t);
    sc_task_spec_release(spec);
    return SC_ENOMEM;
  }
  t->spec = *spec;
  memset(spec, 0, sizeof *spec);
  t->exit_code = -1;
  sc_task_dir_name(tasks_dir, &t->spec, t->dir, len);
  if (mkdir(t->dir, 0755) != 0) {
    rc = errno == EEXIST ? SC_EEXIST : SC_EIO;
    sc_task_free(t);
    return rc;
  }
  rc = write_atomic(sc_task_path(t, "task.json", path, sizeof path), assignment, false);
  if (rc) {
    sc_task_free(t);
    return rc;
  }
  *out = t;
  return 0;
}

void sc_task_remove_dir(const char *dir)
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

void sc_task_free(struct sc_task *t)
{
  if (!t)
    return;
  sc_task_spec_release(&t->spec);
  free(t->dir);
  free(t->cgroup);
  free(t);
}

/* Everything the forked children need, prepared before fork. */
struct launch_plan {
  char **exec_paths;          /* candidates, in order (NULL-terminated) */
  char **argv, **envp;
  const char *workdir;
  int log_fd, null_fd, pipe_w;
  int cg_fds[SC_CG_NCTRL];   /* cgroup.procs of the task's cgroups, -1 */
  int status_r, status_w;    /* the task's wait status, from its init */
  int go_r, go_w;            /* user namespace: the init waits on go_r until
                                the supervisor wrote its id maps */
  const struct sc_sandbox *sandbox; /* NULL: no namespaces */
  bool set_user;
  uid_t uid;
  gid_t gid;
  char contact_path[4200];   /* "" = never fence */
  char wake_path[4200];      /* "" = none */
  int64_t grace_ms;
  char pid_path[4200], exit_path[4200], exit_tmp[4200];
  char err_prefix[600];
};

/* Async-signal-safe helpers for the forked children. */
static void safe_write(int fd, const char *s)
{
  size_t len = strlen(s);

  while (len > 0) {
    ssize_t n = write(fd, s, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return;
    s += n;
    len -= (size_t)n;
  }
}

static char *safe_itoa(long long v, char *end)
{
  bool neg = v < 0;
  unsigned long long u = neg ? 0 - (unsigned long long)v : (unsigned long long)v;

  *--end = '\0';
  do
    *--end = (char)('0' + u % 10);
  while ((u /= 10) > 0);
  if (neg)
    *--end = '-';
  return end;
}

static void safe_write_file(const char *tmp, const char *path, const char *a, long long v,
                            bool sync)
{
  char num[32];
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

  if (fd < 0)
    return;
  safe_write(fd, a);
  safe_write(fd, safe_itoa(v, num + sizeof num));
  safe_write(fd, "\n");
  if (sync)
    fsync(fd);
  close(fd);
  rename(tmp, path);
}

static void reset_signals(void)
{
  struct sigaction sa;
  sigset_t none;

  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++)
    sigaction(sig, &sa, NULL);
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Moves the calling process into the task's cgroups and closes them. */
static void join_cgroups(const struct launch_plan *p)
{
  for (int i = 0; i < SC_CG_NCTRL; i++)
    if (p->cg_fds[i] >= 0) {
      safe_write(p->cg_fds[i], "0");
      close(p->cg_fds[i]);
    }
}

/* Writes "supercell: cannot isolate the task: STEP: ERROR" and exits 127. */
static void isolation_failed(const char *step, int err)
{
  safe_write(2, "supercell: cannot isolate the task: ");
  safe_write(2, step);
  safe_write(2, ": ");
  safe_write(2, strerrordesc_np(err) ? strerrordesc_np(err) : "error");
  safe_write(2, "\n");
  _exit(127);
}

/* The task's identity: the bounding set and no_new_privs (namespaces),
 * then its user: no supplementary groups, gid, uid (all three ids of each,
 * so it cannot switch back; its capabilities go with uid 0). */
static void become_task_user(const struct launch_plan *p)
{
  const char *step;

  if (p->sandbox && !p->sandbox->image && sc_sandbox_drop_privileges(&step) != 0)
    isolation_failed(step, errno);
  if (!p->set_user)
    return;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    isolation_failed("set no_new_privs", errno);
  if (setgroups(0, NULL) != 0)
    isolation_failed("drop supplementary groups", errno);
  if (setresgid(p->gid, p->gid, p->gid) != 0)
    isolation_failed("set the task's gid", errno);
  if (setresuid(p->uid, p->uid, p->uid) != 0)
    isolation_failed("set the task's uid", errno);
}

static void run_task(const struct launch_plan *p, bool joined)
{
  char num[32];
  int err;

  setpgid(0, 0);
  if (!joined)
    join_cgroups(p);
  dup2(p->null_fd, 0);
  dup2(p->log_fd, 1);
  dup2(p->log_fd, 2);
  close(p->log_fd);
  close(p->null_fd);
  close(p->pipe_w);
  if (p->status_w >= 0)
    close(p->status_w);
  reset_signals();
  umask(022); /* the agent's is 077 */
  become_task_user(p);
  if (p->workdir && chdir(p->workdir) != 0) {
    err = errno;
    safe_write(2, "supercell: cannot change to directory '");
    safe_write(2, p->workdir);
    safe_write(2, "': ");
    safe_write(2, strerrordesc_np(err) ? strerrordesc_np(err) : "error");
    safe_write(2, "\n");
    _exit(127);
  }
  /* As execvp: the first candidate that runs; the error of the last one
   * found but not runnable (EACCES) beats "not found". */
  err = ENOENT;
  for (char **c = p->exec_paths; *c; c++) {
    execve(*c, p->argv, p->envp);
    if (errno != ENOENT && errno != ENOTDIR && errno != EACCES && errno != ELOOP) {
      err = errno;
      break;
    }
    if (errno == EACCES)
      err = EACCES;
  }
  safe_write(2, p->err_prefix);
  safe_write(2, strerrordesc_np(err) ? strerrordesc_np(err) : "error");
  safe_write(2, " (errno ");
  safe_write(2, safe_itoa(err, num + sizeof num));
  safe_write(2, ")\n");
  _exit(err == ENOENT ? 127 : 126);
}

/* Closes every fd above 2 except the plan's, after pointing 0-2 at
 * /dev/null so the supervisor holds none of the agent's pipes. */
#define KEEP_FIXED 7
static void supervisor_fds(const struct launch_plan *p)
{
  int keep[KEEP_FIXED + SC_CG_NCTRL] = {
    p->log_fd, p->null_fd, p->pipe_w, p->status_r, p->status_w, p->go_r, p->go_w};
  int n = KEEP_FIXED, lo = 3;

  for (int i = 0; i < SC_CG_NCTRL; i++)
    keep[n++] = p->cg_fds[i];


  dup2(p->null_fd, 0);
  dup2(p->null_fd, 1);
  dup2(p->null_fd, 2);
  for (int i = 1; i < n; i++) /* insertion sort */
    for (int j = i; j > 0 && keep[j] < keep[j - 1]; j--) {
      int tmp = keep[j];
      keep[j] = keep[j - 1];
      keep[j - 1] = tmp;
    }
  for (int i = 0; i < n; i++) {
    if (keep[i] < lo)
      continue;
    if (keep[i] > lo)
      close_range((unsigned)lo, (unsigned)keep[i] - 1, 0);
    lo = keep[i] + 1;
  }
  close_range((unsigned)lo, ~0U, 0);
}

/* What the task's init forwards to the task's process group: what would
 * end it, and the signals a preemption notice may name. */
static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

/* Reaps every child of init that has ended (orphans of the namespace
 * included). True when the task was among them (its wait status into
 * *status) or when no child is left. */
static bool reap_children(pid_t task, int *status)
{
  bool ended = false;
  pid_t w;
  int st;

  for (;;) {
    w = waitpid(-1, &st, WNOHANG);
    if (w == task) {
      *status = st;
      ended = true;
    } else if (w == 0) {
      return ended;
    } else if (w < 0 && errno != EINTR) {
      return true; /* ECHILD: nothing left to wait for */
    }
  }
}

/*
 * init's loop: waits for the signals it forwards and for SIGCHLD, all
 * blocked, with sigwaitinfo, and forwards each to the task's process group
 * until the task ends. No signal handler: a handler in this process (a
 * fork child of the agent that never execs) is not reliable. Under
 * ThreadSanitizer the runtime, in a child forked from a multi-threaded
 * process, ignores its interceptors, and its own handler only queues an
 * asynchronous signal for a later interceptor that never comes: the task
 * never saw its preemption signal. Returns the task's wait status.
 */
static int forward_until_exit(pid_t task, const sigset_t *waited)
{
  int status = 0, sig;

  while (!reap_children(task, &status)) {
    sig = sigwaitinfo(waited, NULL);
    if (sig > 0 && sig != SIGCHLD)
      kill(-task, sig);
  }
  return status;
}

/*
 * PID 1 of the task's namespaces: joins the cgroups, builds the view,
 * starts the task, forwards signals to it (PID 1 ignores those it has no
 * handler for and does not block, so the task would never see a SIGTERM),
 * reaps orphans, and when the task ends hands its wait status to the
 * supervisor and exits, which ends every process left in the namespace.
 * The forwarded signals are blocked from the start: one sent while the
 * view is built stays pending and reaches the task once it runs.
 */
static void ns_init(const struct launch_plan *p)
{
  sigset_t waited;
  const char *step;
  pid_t child;
  int status = 0, err;

  sigemptyset(&waited);
  for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
    sigaddset(&waited, forwarded[i]);
  sigaddset(&waited, SIGCHLD);
  sigprocmask(SIG_BLOCK, &waited, NULL);
  setpgid(0, 0);
  join_cgroups(p);
  if (p->go_r >= 0) { /* a user namespace: wait for its id maps */
    char go = 0;
    close(p->go_w);
    if (read(p->go_r, &go, 1) != 1) {
      safe_write(p->log_fd, "supercell: cannot isolate the task: no user namespace maps\n");
      status = 127 << 8;
      (void)!write(p->status_w, &status, sizeof status);
      _exit(1);
    }
    close(p->go_r);
  }
  if (sc_sandbox_enter(p->sandbox, &step) != 0) {
    err = errno;
    safe_write(p->log_fd, "supercell: cannot isolate the task: ");
    safe_write(p->log_fd, step);
    safe_write(p->log_fd, ": ");
    safe_write(p->log_fd, strerrordesc_np(err) ? strerrordesc_np(err) : "error");
    safe_write(p->log_fd, "\n");
    status = 127 << 8;
    (void)!write(p->status_w, &status, sizeof status);
    _exit(1);
  }
  child = fork();
  if (child == 0)
    run_task(p, true); /* unblocks and resets every signal before exec */
  if (child > 0) /* here too: a signal forwarded first would find no group */
    setpgid(child, child);
  status = child < 0 ? 127 << 8 : forward_until_exit(child, &waited);
  (void)!write(p->status_w, &status, sizeof status);
  _exit(0);
}

static int64_t mono_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Parses a non-negative decimal at *s, moving past it and one space. */
static int64_t parse_ms(const char **s)
{
  int64_t v = 0;

  while (**s >= '0' && **s <= '9')
    v = v * 10 + (*(*s)++ - '0');
  if (**s == ' ')
    (*s)++;
  return v;
}

/*
 * The supervisor's own fence: when the agent's contact file ("LAST FENCE
 * GRACE", monotonic ms) says the controller last answered more than FENCE
 * ago, the task gets SIGTERM, and SIGKILL once LAST + FENCE + GRACE has
 * passed: the time after which the controller starts the task's next
 * attempt elsewhere. It holds with no agent alive (killed, crashed,
 * stuck). Returns how long to wait before looking again (ms).
 */
static int64_t fence_check(const struct launch_plan *p, pid_t task, bool *termed)
{
  char buf[96];
  const char *s = buf;
  int64_t now = mono_ms(), last, fence, grace, deadline, wait = 1000;
  ssize_t n;
  int fd;

  if (!p->contact_path[0] || (fd = open(p->contact_path, O_RDONLY | O_CLOEXEC)) < 0)
    return wait;
  n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0)
    return wait;
  buf[n] = '\0';
  last = parse_ms(&s);
  fence = parse_ms(&s);
  grace = parse_ms(&s);
  if (fence <= 0 || last <= 0)
    return wait;
  if (grace <= 0)
    grace = p->grace_ms;
  deadline = last + fence;
  if (now >= deadline + grace) {
    kill(-task, SIGKILL);
    return wait;
  }
  if (now >= deadline && !*termed) {
    kill(-task, SIGTERM);
    *termed = true;
  }
  /* Wake at the next of the two moments, or in a second. */
  if (now < deadline && deadline - now < wait)
    wait = deadline - now;
  else if (now >= deadline && deadline + grace - now < wait)
    wait = deadline + grace - now;
  return wait > 0 ? wait : 1;
}

/* Writes text to /proc/<pid>/<file>; 0 or -1. */
static int proc_write(pid_t pid, const char *file, const char *text)
{
  char path[64] = "/proc/", num[32];
  size_t n = strlen(path);
  const char *p = safe_itoa(pid, num + sizeof num);
  int fd, rc;

  memcpy(path + n, p, strlen(p) + 1);
  n = strlen(path);
  path[n++] = '/';
  memcpy(path + n, file, strlen(file) + 1);
  if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
    return -1;
  rc = write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -1;
  close(fd);
  return rc;
}

/* The id maps of a task's user namespace: the agent's own uid and gid, and
 * nothing else (an unprivileged agent has no others to give). */
static int write_id_maps(pid_t pid)
{
  char line[80], num[32];
  const char *u = safe_itoa(getuid(), num + sizeof num);

  line[0] = '\0';
  strcat(line, u);
  strcat(line, " ");
  strcat(line, u);
  strcat(line, " 1\n");
  if (proc_write(pid, "uid_map", line) != 0 || proc_write(pid, "setgroups", "deny") != 0)
    return -1;
  u = safe_itoa(getgid(), num + sizeof num);
  line[0] = '\0';
  strcat(line, u);
  strcat(line, " ");
  strcat(line, u);
  strcat(line, " 1\n");
  return proc_write(pid, "gid_map", line);
}

static void supervise(const struct launch_plan *p)
{
  bool termed = false;
  struct sigaction sa;
  sigset_t block;
  pid_t task;
  int status = 0;

  setsid();
  /* Block (not ignore) what would stop the supervisor: the task inherits
   * the mask, so a SIGTERM sent before it has reset its signals stays
   * pending and ends it once run_task unblocks, instead of being lost. */
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGHUP);
  sigaddset(&block, SIGQUIT);
  sigaddset(&block, SIGPIPE);
  sigaddset(&block, SIGCHLD); /* waited for with a timeout, below */
  sigprocmask(SIG_BLOCK, &block, NULL);
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  sigaction(SIGCHLD, &sa, NULL);
  supervisor_fds(p);
  if (p->sandbox) {
    task = (pid_t)syscall(SYS_clone, SIGCHLD | sc_sandbox_clone_flags(p->sandbox), NULL, NULL, NULL, NULL);
    if (task == 0)
      ns_init(p);
    if (task > 0 && p->go_w >= 0) {
      close(p->go_r);
      if (write_id_maps(task) == 0)
        (void)!write(p->go_w, "1", 1);
      close(p->go_w); /* without the byte the init gives up */
    }
  } else {
    task = fork();
    if (task == 0)
      run_task(p, false);
  }
  if (task < 0) {
    safe_write_file(p->exit_tmp, p->exit_path, "exit ", 127, true);
    _exit(1);
  }
  setpgid(task, task);
  safe_write_file(p->exit_tmp, p->pid_path, "", task, false);
  (void)!write(p->pipe_w, &task, sizeof task);
  close(p->pipe_w);
  close(p->log_fd);
  close(p->null_fd);
  for (int i = 0; i < SC_CG_NCTRL; i++)
    if (p->cg_fds[i] >= 0)
      close(p->cg_fds[i]);
  if (p->status_w >= 0)
    close(p->status_w);
  for (int64_t wait = 0;;) {
    sigset_t chld;
    struct timespec ts;
    pid_t r = waitpid(task, &status, WNOHANG);
    if (r == task)
      break;
    if (r < 0 && errno != EINTR) {
      status = SIGKILL; /* reads as killed by signal 9 */
      break;
    }
    wait = fence_check(p, task, &termed);
    ts.tv_sec = wait / 1000;
    ts.tv_nsec = (long)(wait % 1000) * 1000000L;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigtimedwait(&chld, NULL, &ts);
  }
  if (p->sandbox) {
    /* The task's status comes from its init; none: init was killed
     * (SIGKILL from the agent), and the namespace with it. */
    int st;
    ssize_t n = read(p->status_r, &st, sizeof st);
    status = n == (ssize_t)sizeof st ? st : SIGKILL;
  }
  kill(-task, SIGKILL); /* stragglers left in the task's group */
  if (WIFEXITED(status))
    safe_write_file(p->exit_tmp, p->exit_path, "exit ", WEXITSTATUS(status), true);
  else
    safe_write_file(p->exit_tmp, p->exit_path, "signal ", WTERMSIG(status), true);
  if (p->wake_path[0]) { /* the agent, if one reads, looks now */
    int fd = open(p->wake_path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
      (void)!write(fd, "x", 1);
      close(fd);
    }
  }
  _exit(0);
}

/* Where argv0 may be: itself when it has a '/', else each entry of the
 * task's PATH. The task tries them in order in its own view and as its own
 * user (the agent's view and rights may differ: a private /tmp, a PATH
 * entry under /root). A NULL-terminated array, NULL when out of memory. */
static char **exec_candidates(const char *argv0, char **envp)
{
  const char *path = sc_task_env_get(envp, "PATH"), *p;
  size_t n = 1, k = 0;
  char **v;

  if (!path)
    path = "/usr/local/bin:/usr/bin:/bin";
  for (p = path; !strchr(argv0, '/') && *p; p++)
    n += *p == ':';
  if (!(v = calloc(n + 1, sizeof *v)))
    return NULL;
  if (strchr(argv0, '/')) {
    if (!(v[k++] = strdup(argv0)))
      goto oom;
    return v;
  }
  for (p = path; k < n; k++) {
    size_t len = strcspn(p, ":");
    if (asprintf(&v[k], "%.*s/%s", (int)len, len ? p : ".", argv0) < 0) {
      v[k] = NULL;
      goto oom;
    }
    p += len + (p[len] == ':');
  }
  return v;
oom:
  for (size_t i = 0; i < k; i++)
    free(v[i]);
  free(v);
  return NULL;
}

static int write_proc_file(const struct sc_task *t)
{
  char path[4200], *text;
  json_t *obj = json_pack("{s:i, s:i, s:I, s:I, s:s?}", "pid", (int)t->pid, "supervisor",
                          (int)t->supervisor, "start_ticks", (json_int_t)t->start_ticks,
                          "supervisor_ticks", (json_int_t)t->supervisor_ticks,
                          "cgroup", t->cgroup);
  int rc;

  text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
  json_decref(obj);
  rc = text ? write_atomic(sc_task_path(t, "proc", path, sizeof path), text, false) : SC_ENOMEM;
  free(text);
  return rc;
}

static int plan_init(struct launch_plan *p, struct sc_task *t, const struct sc_task_launch *how,
                     char **shell_argv)
{
  char path[4200];

  memset(p, 0, sizeof *p);
  p->log_fd = p->null_fd = p->pipe_w = p->status_r = p->status_w = p->go_r = p->go_w = -1;
  for (int i = 0; i < SC_CG_NCTRL; i++)
    p->cg_fds[i] = -1;
  p->argv = how->argv ? how->argv : t->spec.argv;
  if (!p->argv) {
    shell_argv[0] = "/bin/sh", shell_argv[1] = "-c", shell_argv[2] = t->spec.shell;
    shell_argv[3] = NULL;
    p->argv = shell_argv;
  }
  p->envp = how->envp;
  p->set_user = how->set_user;
  if (how->contact_path)
    snprintf(p->contact_path, sizeof p->contact_path, "%s", how->contact_path);
  if (how->wake_path)
    snprintf(p->wake_path, sizeof p->wake_path, "%s", how->wake_path);
  p->grace_ms = (int64_t)(t->spec.grace_s > 0 ? t->spec.grace_s : 10) * 1000;
  p->uid = how->uid;
  p->gid = how->gid;
  p->workdir = t->spec.workdir && *t->spec.workdir ? t->spec.workdir : how->default_workdir;
  if (!(p->exec_paths = exec_candidates(p->argv[0], how->envp)))
    return SC_ENOMEM;
  snprintf(p->err_prefix, sizeof p->err_prefix, "supercell: cannot execute '%.400s': ",
           p->argv[0]);
  sc_task_path(t, "pid", p->pid_path, sizeof p->pid_path);
  sc_task_path(t, "exit", p->exit_path, sizeof p->exit_path);
  sc_task_path(t, "exit.tmp", p->exit_tmp, sizeof p->exit_tmp);
  p->log_fd = open(sc_task_path(t, "log", path, sizeof path),
                   O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  p->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (how->cgroup && sc_cgroup_open_procs(how->cgroup, p->cg_fds) < 0)
    return SC_EIO; /* a task never runs outside the limits it was given */
  if (how->sandbox && how->sandbox->enabled) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
      return SC_EIO;
    p->status_r = fds[0];
    p->status_w = fds[1];
    p->sandbox = how->sandbox;
    if (how->sandbox->userns) {
      if (pipe2(fds, O_CLOEXEC) != 0)
        return SC_EIO;
      p->go_r = fds[0];
      p->go_w = fds[1];
    }
  }
  return p->log_fd < 0 || p->null_fd < 0 ? SC_EIO : 0;
}

static void plan_release(struct launch_plan *p)
{
  for (size_t i = 0; p->exec_paths && p->exec_paths[i]; i++)
    free(p->exec_paths[i]);
  free(p->exec_paths);
  if (p->log_fd >= 0)
    close(p->log_fd);
  if (p->null_fd >= 0)
    close(p->null_fd);
  for (int i = 0; i < SC_CG_NCTRL; i++)
    if (p->cg_fds[i] >= 0)
      close(p->cg_fds[i]);
  if (p->status_r >= 0)
    close(p->status_r);
  if (p->status_w >= 0)
    close(p->status_w);
  if (p->go_r >= 0)
    close(p->go_r);
  if (p->go_w >= 0)
    close(p->go_w);
}

/* Marks a task that could not start as exited 127 (exit file included). */
static int start_failed(struct sc_task *t, struct launch_plan *p, int rc)
{
  plan_release(p);
  write_atomic(p->exit_path, "exit 127\n", true);
  t->exited = true;
  t->exit_code = 127;
  return rc;
}

void sc_task_refuse(struct sc_task *t, const char *reason, const char *detail)
{
  char path[4200];
  int fd = open(sc_task_path(t, "log", path, sizeof path),
                O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

  if (fd >= 0) {
    dprintf(fd, "supercell: not started: %s\n", detail);
    close(fd);
  }
  snprintf(t->reason, sizeof t->reason, "%s", reason);
  write_atomic(sc_task_path(t, "reason", path, sizeof path), t->reason, true);
  write_atomic(sc_task_path(t, "exit", path, sizeof path), "exit 126\n", true);
  t->exited = true;
  t->exit_code = 126;
}

int sc_task_start(struct sc_task *t, const struct sc_task_launch *how)
{
  struct launch_plan plan;
  char *shell_argv[4];
  int fds[2], rc;
  pid_t sup, task = 0;
  ssize_t n;

  if ((rc = plan_init(&plan, t, how, shell_argv)) != 0)
    return start_failed(t, &plan, rc);
  if (pipe2(fds, O_CLOEXEC) != 0)
    return start_failed(t, &plan, SC_EIO);
  plan.pipe_w = fds[1];
  sup = fork();
  if (sup == 0)
    supervise(&plan);
  close(fds[1]);
  if (sup < 0) {
    close(fds[0]);
    return start_failed(t, &plan, SC_EIO);
  }
  do
    n = read(fds[0], &task, sizeof task);
  while (n < 0 && errno == EINTR);
  close(fds[0]);
  plan_release(&plan);
  t->supervisor = sup;
  t->child = true;
  sc_proc_start_ticks(sup, &t->supervisor_ticks);
  if (n == (ssize_t)sizeof task && task > 0) {
    t->pid = task;
    sc_proc_start_ticks(task, &t->start_ticks);
  }
  t->cgroup = how->cgroup ? strdup(how->cgroup) : NULL;
  return write_proc_file(t);
}

/* Reads the exit file into t; returns true when it exists and parses. */
static bool read_exit(struct sc_task *t)
{
  char path[4200], *text = read_small(sc_task_path(t, "exit", path, sizeof path));
  int value;
  bool ok = false;

  if (!text)
    return false;
  if (sscanf(text, "exit %d", &value) == 1) {
    t->exit_code = value, t->signal = 0, ok = true;
  } else if (sscanf(text, "signal %d", &value) == 1) {
    t->exit_code = -1, t->signal = value, ok = true;
  }
  free(text);
  return ok;
}

bool sc_task_alive(const struct sc_task *t)
{
  unsigned long long ticks;

  if (t->pid <= 0 || sc_proc_start_ticks(t->pid, &ticks) != 0)
    return false;
  return t->start_ticks == 0 || ticks == t->start_ticks;
}

static bool supervisor_alive(struct sc_task *t)
{
  unsigned long long ticks;

  if (t->child) {
    pid_t r = waitpid(t->supervisor, NULL, WNOHANG);
    if (r == 0)
      return true;
    t->child = false; /* reaped (or not ours any more) */
    return false;
  }
  if (t->supervisor <= 0 || sc_proc_start_ticks(t->supervisor, &ticks) != 0)
    return false;
  return t->supervisor_ticks == 0 || ticks == t->supervisor_ticks;
}

static void mark_exited(struct sc_task *t, int64_t now_ms)
{
  t->exited = true;
  t->exited_at_ms = now_ms;
  t->kill_at_ms = 0;
  if (t->cgroup) {
    /* It failed and the kernel killed a process of it for its memory
     * limit (the task itself, or a child the shell waited for): say so. */
    if ((t->signal > 0 || t->exit_code != 0) && sc_cgroup_oom_kills(t->cgroup) > 0) {
      char path[4200];
      snprintf(t->reason, sizeof t->reason, "out of memory");
      write_atomic(sc_task_path(t, "reason", path, sizeof path), t->reason, true);
    }
    sc_cgroup_kill(t->cgroup);
  }
}

bool sc_task_poll(struct sc_task *t, int64_t now_ms)
{
  char path[4200];
  bool sup;

  if (t->exited) {
    if (t->child) /* the supervisor exits right after the exit file: reap it */
      supervisor_alive(t);
    return false;
  }
  sup = supervisor_alive(t);
  if (read_exit(t)) {
    mark_exited(t, now_ms);
    return true;
  }
  if (sup || sc_task_alive(t)) {
    t->gone_since_ms = 0;
    return false;
  }
  if (t->gone_since_ms == 0) {
    t->gone_since_ms = now_ms;
    return false;
  }
  if (now_ms - t->gone_since_ms < 1000)
    return false;
  /* Supervisor and task vanished without an exit file: count it as killed. */
  write_atomic(sc_task_path(t, "exit", path, sizeof path), "signal 9\n", true);
  t->exit_code = -1;
  t->signal = SIGKILL;
  mark_exited(t, now_ms);
  return true;
}

void sc_task_signal_kill(struct sc_task *t, int64_t now_ms, int sig, int64_t grace_ms)
{
  if (t->exited || t->kill_at_ms)
    return;
  if (t->pid > 0)
    kill(-t->pid, sig);
  t->kill_at_ms = now_ms + grace_ms;
  if (t->kill_at_ms == 0)
    t->kill_at_ms = 1;
}

void sc_task_terminate(struct sc_task *t, int64_t now_ms, int grace_s)
{
  if (grace_s < 0)
    grace_s = t->spec.grace_s >= 0 ? t->spec.grace_s : 10;
  sc_task_signal_kill(t, now_ms, SIGTERM, (int64_t)grace_s * 1000);
}

void sc_task_tick_kill(struct sc_task *t, int64_t now_ms)
{
  if (t->exited || !t->kill_at_ms || now_ms < t->kill_at_ms)
    return;
  if (t->pid > 0)
    kill(-t->pid, SIGKILL);
  if (t->cgroup)
    sc_cgroup_kill(t->cgroup);
  t->kill_at_ms = now_ms + 1000; /* repeat until the exit is seen */
}

void sc_task_mark_reported(struct sc_task *t)
{
  char path[4200];

  t->exit_sent = true;
  write_atomic(sc_task_path(t, "reported", path, sizeof path), "1\n", false);
  if (t->cgroup)
    sc_cgroup_remove(t->cgroup);
}

void sc_task_mark_shipped(struct sc_task *t, int64_t offset)
{
  char path[4200], text[32];

  t->log_sent = offset;
  snprintf(text, sizeof text, "%lld\n", (long long)offset);
  write_atomic(sc_task_path(t, "shipped", path, sizeof path), text, false);
}

static void load_proc(struct sc_task *t)
{
  char path[4200], *text = read_small(sc_task_path(t, "proc", path, sizeof path));
  json_t *obj = text ? json_loads(text, 0, NULL) : NULL;
  const char *cg;

  free(text);
  if (obj) {
    t->pid = (pid_t)json_integer_value(json_object_get(obj, "pid"));
    t->supervisor = (pid_t)json_integer_value(json_object_get(obj, "supervisor"));
    t->start_ticks = (unsigned long long)json_integer_value(json_object_get(obj, "start_ticks"));
    t->supervisor_ticks =
      (unsigned long long)json_integer_value(json_object_get(obj, "supervisor_ticks"));
    if ((cg = json_string_value(json_object_get(obj, "cgroup"))))
      t->cgroup = strdup(cg);
    json_decref(obj);
  }
  if (t->pid <= 0 && (text = read_small(sc_task_path(t, "pid", path, sizeof path)))) {
    t->pid = (pid_t)atoi(text);
    free(text);
  }
}

int sc_task_load(const char *dir, struct sc_task **out)
{
  struct sc_task *t = calloc(1, sizeof *t);
  char path[4200], err[256], *text;
  json_t *assignment;

  *out = NULL;
  if (!t || !(t->dir = strdup(dir))) {
    free(t);
    return SC_ENOMEM;
  }
  assignment = json_load_file(sc_task_path(t, "task.json", path, sizeof path), 0, NULL);
  if (!assignment || sc_task_spec_from_json(&t->spec, assignment, err, sizeof err) != 0) {
    json_decref(assignment);
    sc_task_free(t);
    return SC_EPARSE;
  }
  json_decref(assignment);
  t->exit_code = -1;
  t->running_sent = true;
  load_proc(t);
  if (read_exit(t))
    t->exited = true;
  if ((text = read_small(sc_task_path(t, "reason", path, sizeof path)))) {
    snprintf(t->reason, sizeof t->reason, "%s", text);
    free(text);
  }
  if ((text = read_small(sc_task_path(t, "shipped", path, sizeof path)))) {
    t->log_sent = atoll(text);
    free(text);
  }
  t->exit_sent = access(sc_task_path(t, "reported", path, sizeof path), F_OK) == 0;
  *out = t;
  return 0;
}
