/*
 * Preemption notice files (see notice.h). The write happens in a forked
 * child that takes the task process's own user and group first: the path
 * goes through a directory the task controls, so the agent (often root)
 * must not open anything there with its own rights.
 */
#include "agent/notice.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/error.h"

#define NOTICE_FILE "SUPERCELL_PREEMPTED"

static const char *signal_name(int sig)
{
  switch (sig) {
  case SIGINT: return "SIGINT";
  case SIGHUP: return "SIGHUP";
  case SIGQUIT: return "SIGQUIT";
  case SIGUSR1: return "SIGUSR1";
  case SIGUSR2: return "SIGUSR2";
  default: return "SIGTERM";
  }
}

void sc_notice_format(const struct sc_notice *n, char *buf, size_t size)
{
  int64_t deadline = n->now_wall_ms + n->grace_ms;
  time_t secs = (time_t)(deadline / 1000);
  struct tm tm;
  char when[40] = "";

  if (gmtime_r(&secs, &tm))
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  snprintf(buf, size,
           "preempted_by=%s\nkind=%s\nsignal=%s\ngrace_s=%lld\ndeadline=%s\n"
           "deadline_unix=%lld\n",
           n->by && *n->by ? n->by : "operator", n->kind, signal_name(n->signal),
           (long long)(n->grace_ms / 1000), when, (long long)secs);
}

/* The first child of pid (an isolated task's init runs the task as its
 * child), or pid when it has none we can see. */
static pid_t main_process(pid_t pid)
{
  char path[64];
  long child = 0;
  FILE *f;

  snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
  if ((f = fopen(path, "re"))) {
    if (fscanf(f, "%ld", &child) != 1)
      child = 0;
    fclose(f);
  }
  return child > 0 ? (pid_t)child : pid;
}

/* The real uid and gid of pid from /proc: 0 or -1. */
static int process_ids(pid_t pid, uid_t *uid, gid_t *gid)
{
  char path[64], line[256];
  int found = 0;
  FILE *f;

  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  if (!(f = fopen(path, "re")))
    return -1;
  while (fgets(line, sizeof line, f)) {
    unsigned long v;
    if (sscanf(line, "Uid: %lu", &v) == 1) {
      *uid = (uid_t)v;
      found |= 1;
    } else if (sscanf(line, "Gid: %lu", &v) == 1) {
      *gid = (gid_t)v;
      found |= 2;
    }
  }
  fclose(f);
  return found == 3 ? 0 : -1;
}

int sc_notice_write(const struct sc_task *t, bool isolated, const char *text)
{
  pid_t pid = t->pid > 0 && isolated ? main_process(t->pid) : t->pid, child;
  size_t len = strlen(text);
  char path[96];
  uid_t uid = 0;
  gid_t gid = 0;
  int status = 0;

  if (pid <= 0 || process_ids(pid, &uid, &gid) < 0)
    return SC_EIO;
  snprintf(path, sizeof path, "/proc/%d/cwd/" NOTICE_FILE, (int)pid);
  child = fork();
  if (child < 0)
    return SC_EIO;
  if (child == 0) { /* raw system calls only from here: the agent has
                        threads, and libc's set*id wrappers (or a sanitizer's
                        interceptors) may take locks a thread held at fork */
    long fd;
    if (syscall(SYS_geteuid) == 0 && uid != 0 &&
        (syscall(SYS_setgroups, 0, NULL) != 0 || syscall(SYS_setresgid, gid, gid, gid) != 0 ||
         syscall(SYS_setresuid, uid, uid, uid) != 0))
      syscall(SYS_exit_group, 1);
    fd = syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                 0644);
    if (fd < 0 || syscall(SYS_write, fd, text, len) != (long)len)
      syscall(SYS_exit_group, 1);
    syscall(SYS_close, fd);
    syscall(SYS_exit_group, 0);
  }
  while (waitpid(child, &status, 0) < 0 && errno == EINTR)
    ;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : SC_EIO;
}
