/* Task cgroups on v2 or v1 (see cgroup.h): subtree setup, per-task limits,
 * OOM counts, kill and removal. */
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

/* Each controller's v1 mount under base, and a file only it has. */
static const char *const v1_mounts[SC_CG_NCTRL][2] = {
  [SC_CG_MEMORY] = {"memory", "memory.limit_in_bytes"},
  [SC_CG_CPU] = {"cpu", "cpu.cfs_quota_us"},
  [SC_CG_PIDS] = {"pids", "cgroup.procs"},
  [SC_CG_DEVICES] = {"devices", "devices.allow"},
};

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

static int write_in(const char *dir, const char *file, const char *text)
{
  char path[4200];

  snprintf(path, sizeof path, "%s/%s", dir, file);
  return write_file(path, text);
}

/* mkdir -p of dir below the existing top (a prefix of dir). On v2 each
 * level above dir gets the controllers enabled for its children. */
static int make_path(const char *top, const char *dir, bool v2, char *err, size_t size)
{
  char path[4096];
  size_t at = strlen(top);

  snprintf(path, sizeof path, "%s", top);
  while (dir[at]) {
    size_t next = at + 1 + strcspn(dir + at + 1, "/");
    if (v2 && write_in(path, "cgroup.subtree_control", "+cpu +memory +pids") != 0 &&
        write_in(path, "cgroup.subtree_control", "+cpu +memory") != 0) {
      snprintf(err, size, "cannot enable the cpu and memory controllers in '%s': %s", path,
               strerror(errno));
      return SC_EPERM;
    }
    snprintf(path, sizeof path, "%.*s", (int)next, dir);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
      snprintf(err, size, "cannot create cgroup '%s': %s", path, strerror(errno));
      return SC_EPERM;
    }
    at = next;
  }
  if (v2 && write_in(dir, "cgroup.subtree_control", "+cpu +memory +pids") != 0 &&
      write_in(dir, "cgroup.subtree_control", "+cpu +memory") != 0) {
    snprintf(err, size, "cannot enable the cpu and memory controllers in '%s': %s", dir,
             strerror(errno));
    return SC_EPERM;
  }
  return 0;
}

/* True when base is a cgroup v2 mount offering the memory controller. */
static bool v2_usable(const char *base)
{
  char path[4200], text[512] = "";
  FILE *f;

  snprintf(path, sizeof path, "%s/cgroup.controllers", base);
  if (!(f = fopen(path, "re")))
    return false;
  if (!fgets(text, sizeof text, f))
    text[0] = '\0';
  fclose(f);
  return strstr(text, "memory") != NULL;
}

int sc_cgroup_setup(struct sc_cgroups *cg, const char *base, const char *name, char *err,
                    size_t size)
{
  char dir[4096], probe[3800];
  int rc = 0;

  memset(cg, 0, sizeof *cg);
  if (!base)
    base = "/sys/fs/cgroup";
  if (v2_usable(base)) {
    cg->version = 2;
    snprintf(dir, sizeof dir, "%s/%s", base, name);
    if ((rc = make_path(base, dir, true, err, size)) == 0 && !(cg->root[0] = strdup(dir)))
      rc = SC_ENOMEM;
  } else {
    cg->version = 1;
    for (int c = 0; rc == 0 && c < SC_CG_NCTRL; c++) {
      snprintf(probe, sizeof probe, "%s/%s/%s", base, v1_mounts[c][0], v1_mounts[c][1]);
      if (access(probe, F_OK) != 0)
        continue; /* that controller is not mounted */
      snprintf(probe, sizeof probe, "%s/%s", base, v1_mounts[c][0]);
      snprintf(dir, sizeof dir, "%s/%s", probe, name);
      if ((rc = make_path(probe, dir, false, err, size)) == 0 && !(cg->root[c] = strdup(dir)))
        rc = SC_ENOMEM;
    }
    if (rc == 0 && !cg->root[SC_CG_MEMORY]) {
      snprintf(err, size, "no cgroup v2 controllers and no v1 memory controller under '%s'",
               base);
      rc = SC_EIO;
    }
  }
  if (rc != 0)
    sc_cgroups_release(cg);
  return rc;
}

void sc_cgroups_release(struct sc_cgroups *cg)
{
  for (int c = 0; c < SC_CG_NCTRL; c++)
    free(cg->root[c]);
  memset(cg, 0, sizeof *cg);
}

static int limits_v2(const char *dir, const struct sc_cgroup_limits *l)
{
  char v[64];

  if (l->memory_mib > 0)
    snprintf(v, sizeof v, "%lld", (long long)l->memory_mib * 1048576);
  else
    snprintf(v, sizeof v, "max");
  if (write_in(dir, "memory.max", v) != 0)
    return -1;
  if (l->cpu_milli > 0)
    snprintf(v, sizeof v, "%lld 100000", (long long)l->cpu_milli * 100);
  else
    snprintf(v, sizeof v, "max 100000");
  if (write_in(dir, "cpu.max", v) != 0)
    return -1;
  if (l->pids_max > 0) {
    snprintf(v, sizeof v, "%lld", (long long)l->pids_max);
    write_in(dir, "pids.max", v); /* absent when the pids controller is off */
  }
  return 0;
}

/* The v1 devices allow-list: deny all, then allow each listed device. */
static int devices_v1(const char *dir, const struct sc_cgroup_limits *l)
{
  char line[64];

  if (write_in(dir, "devices.deny", "a") != 0)
    return -1;
  for (int i = 0; i < l->ndev; i++) {
    if (l->dev[i].minor < 0)
      snprintf(line, sizeof line, "%c %d:* rwm", l->dev[i].type, l->dev[i].major);
    else
      snprintf(line, sizeof line, "%c %d:%d rwm", l->dev[i].type, l->dev[i].major,
               l->dev[i].minor);
    if (write_in(dir, "devices.allow", line) != 0)
      return -1;
  }
  return 0;
}

static int limits_v1(int c, const char *dir, const struct sc_cgroup_limits *l)
{
  char v[64];

  switch (c) {
  case SC_CG_MEMORY:
    if (l->memory_mib <= 0)
      return 0;
    snprintf(v, sizeof v, "%lld", (long long)l->memory_mib * 1048576);
    if (write_in(dir, "memory.limit_in_bytes", v) != 0)
      return -1;
    write_in(dir, "memory.memsw.limit_in_bytes", v); /* no swapping around it, where swap is accounted */
    return 0;
  case SC_CG_CPU:
    if (l->cpu_milli <= 0)
      return 0;
    snprintf(v, sizeof v, "%lld", (long long)l->cpu_milli * 100);
    return write_in(dir, "cpu.cfs_period_us", "100000") == 0 &&
                   write_in(dir, "cpu.cfs_quota_us", v) == 0
             ? 0
             : -1;
  case SC_CG_PIDS:
    if (l->pids_max <= 0)
      return 0;
    snprintf(v, sizeof v, "%lld", (long long)l->pids_max);
    return write_in(dir, "pids.max", v);
  case SC_CG_DEVICES:
    return l->devices ? devices_v1(dir, l) : 0;
  }
  return 0;
}

int sc_cgroup_create(const struct sc_cgroups *cg, const char *name,
                     const struct sc_cgroup_limits *limits, char **path)
{
  char dir[4096], list[4 * 4200] = "";
  size_t len = 0;
  int rc = 0;

  *path = NULL;
  for (int c = 0; rc == 0 && c < SC_CG_NCTRL; c++) {
    if (!cg->root[c])
      continue;
    snprintf(dir, sizeof dir, "%s/%s", cg->root[c], name);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
      rc = SC_EIO;
      break;
    }
    len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", len ? ":" : "", dir);
    if ((cg->version == 2 ? limits_v2(dir, limits) : limits_v1(c, dir, limits)) != 0)
      rc = SC_EIO;
  }
  if (rc == 0 && !(*path = strdup(list)))
    rc = SC_ENOMEM;
  if (rc != 0)
    sc_cgroup_remove(list);
  return rc;
}

/* Calls fn(dir, arg) for each directory of path; stops at a non-zero. */
static int each_dir(const char *path, int (*fn)(const char *dir, void *arg), void *arg)
{
  char dir[4200];
  int rc = 0;

  while (path && *path && rc == 0) {
    size_t n = strcspn(path, ":");
    snprintf(dir, sizeof dir, "%.*s", (int)n, path);
    rc = fn(dir, arg);
    path += n + (path[n] == ':');
  }
  return rc;
}

struct open_state {
  int *fds, n;
};

static int open_one(const char *dir, void *arg)
{
  struct open_state *s = arg;
  char file[4300];

  if (s->n >= SC_CG_NCTRL)
    return -1;
  snprintf(file, sizeof file, "%s/cgroup.procs", dir);
  if ((s->fds[s->n] = open(file, O_WRONLY | O_CLOEXEC)) < 0)
    return -1;
  s->n++;
  return 0;
}

int sc_cgroup_open_procs(const char *path, int fds[SC_CG_NCTRL])
{
  struct open_state s = {fds, 0};

  for (int i = 0; i < SC_CG_NCTRL; i++)
    fds[i] = -1;
  if (each_dir(path, open_one, &s) != 0) {
    for (int i = 0; i < s.n; i++)
      close(fds[i]), fds[i] = -1;
    return -1;
  }
  return s.n;
}

/* The value of key in a "key value" file of dir, or -1. */
static int64_t keyed_value(const char *dir, const char *file, const char *key)
{
  char path[4300], line[256];
  size_t klen = strlen(key);
  int64_t value = -1;
  FILE *f;

  snprintf(path, sizeof path, "%s/%s", dir, file);
  if (!(f = fopen(path, "re")))
    return -1;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, key, klen) == 0 && line[klen] == ' ')
      value = strtoll(line + klen + 1, NULL, 10);
  fclose(f);
  return value;
}

static int oom_one(const char *dir, void *arg)
{
  int64_t *kills = arg, v = keyed_value(dir, "memory.events", "oom_kill");

  if (v < 0)
    v = keyed_value(dir, "memory.oom_control", "oom_kill");
  if (v > 0)
    *kills += v;
  return 0;
}

int64_t sc_cgroup_oom_kills(const char *path)
{
  int64_t kills = 0;

  each_dir(path, oom_one, &kills);
  return kills;
}

static int kill_one(const char *dir, void *arg)
{
  char file[4300];
  FILE *f;
  long pid;

  (void)arg;
  if (write_in(dir, "cgroup.kill", "1") == 0)
    return 0;
  snprintf(file, sizeof file, "%s/cgroup.procs", dir);
  if (!(f = fopen(file, "re")))
    return 0;
  while (fscanf(f, "%ld", &pid) == 1)
    if (pid > 1)
      kill((pid_t)pid, SIGKILL);
  fclose(f);
  return 0;
}

void sc_cgroup_kill(const char *path)
{
  each_dir(path, kill_one, NULL);
}

static int remove_one(const char *dir, void *arg)
{
  (void)arg;
  rmdir(dir);
  return 0;
}

void sc_cgroup_remove(const char *path)
{
  each_dir(path, remove_one, NULL);
}
