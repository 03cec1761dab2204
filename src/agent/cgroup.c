/* cgroup v2 files: subtree setup, per-task limits, kill and removal. */
#include "agent/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"

static int write_file(const char *path, const char *text)
{
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  ssize_t n;

  if (fd < 0)
    return -1;
  n = write(fd, text, strlen(text));
  close(fd);
  return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* The cgroup2 mount: /sys/fs/cgroup in unified mode (cgroup.controllers
 * exists there only when the hierarchy is v2). */
static int find_mount(const char *root, char *mount, size_t size)
{
  (void)root;
  if (access("/sys/fs/cgroup/cgroup.controllers", R_OK) != 0)
    return -1;
  snprintf(mount, size, "/sys/fs/cgroup");
  return 0;
}

int sc_cgroup_setup(const char *root, char *err, size_t size)
{
  char mount[4096], dir[4096], file[4200];
  size_t at;

  if (find_mount(root, mount, sizeof mount) != 0) {
    snprintf(err, size, "no cgroup v2 hierarchy (cgroup.controllers not found)");
    return SC_EIO;
  }
  if (strncmp(root, mount, strlen(mount)) != 0 || root[strlen(mount)] != '/') {
    snprintf(err, size, "'%s' is not under the cgroup v2 mount '%s'", root, mount);
    return SC_EIO;
  }
  snprintf(dir, sizeof dir, "%s", mount);
  at = strlen(mount);
  while (root[at]) {
    size_t next = at + 1 + strcspn(root + at + 1, "/");
    snprintf(file, sizeof file, "%s/cgroup.subtree_control", dir);
    if (write_file(file, "+cpu +memory") != 0) {
      snprintf(err, size, "cannot enable cpu and memory controllers in '%s': %s", dir,
               strerror(errno));
      return SC_EPERM;
    }
    snprintf(dir, sizeof dir, "%.*s", (int)next, root);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
      snprintf(err, size, "cannot create cgroup '%s': %s", dir, strerror(errno));
      return SC_EPERM;
    }
    at = next;
  }
  snprintf(file, sizeof file, "%s/cgroup.subtree_control", root);
  if (write_file(file, "+cpu +memory") != 0) {
    snprintf(err, size, "cannot enable cpu and memory controllers in '%s': %s", root,
             strerror(errno));
    return SC_EPERM;
  }
  return 0;
}

int sc_cgroup_create(const char *root, const char *name, int64_t memory_mib,
                     int64_t cpu_milli, char **path)
{
  char dir[4096], file[4200], value[64];

  *path = NULL;
  snprintf(dir, sizeof dir, "%s/%s", root, name);
  if (mkdir(dir, 0755) != 0 && errno != EEXIST)
    return SC_EIO;
  snprintf(file, sizeof file, "%s/memory.max", dir);
  if (memory_mib > 0)
    snprintf(value, sizeof value, "%lld", (long long)memory_mib * 1048576);
  else
    snprintf(value, sizeof value, "max");
  if (write_file(file, value) != 0)
    goto fail;
  snprintf(file, sizeof file, "%s/cpu.max", dir);
  if (cpu_milli > 0)
    snprintf(value, sizeof value, "%lld 100000", (long long)cpu_milli * 100);
  else
    snprintf(value, sizeof value, "max 100000");
  if (write_file(file, value) != 0)
    goto fail;
  if (!(*path = strdup(dir)))
    goto fail;
  return 0;
fail:
  rmdir(dir);
  return SC_EIO;
}

int sc_cgroup_open_procs(const char *path)
{
  char file[4200];

  snprintf(file, sizeof file, "%s/cgroup.procs", path);
  return open(file, O_WRONLY | O_CLOEXEC);
}

void sc_cgroup_kill(const char *path)
{
  char file[4200];
  FILE *f;
  long pid;

  snprintf(file, sizeof file, "%s/cgroup.kill", path);
  if (write_file(file, "1") == 0)
    return;
  snprintf(file, sizeof file, "%s/cgroup.procs", path);
  if (!(f = fopen(file, "re")))
    return;
  while (fscanf(f, "%ld", &pid) == 1)
    if (pid > 1)
      kill((pid_t)pid, SIGKILL);
  fclose(f);
}

void sc_cgroup_remove(const char *path)
{
  if (path)
    rmdir(path);
}
