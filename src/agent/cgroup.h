/*
 * Task limits through cgroups: one cgroup per task under a subtree the
 * agent owns, on cgroup v2 (one unified tree: memory.max, cpu.max,
 * pids.max) or, where the v2 mount has no controllers, on cgroup v1 (a tree
 * per controller: memory.limit_in_bytes, cpu.cfs_quota_us, pids.max and the
 * devices allow-list). A task's cgroup is a list of directories (one on
 * v2, one per controller on v1) kept as one string, "dir:dir:...", so it
 * survives an agent restart in the task's proc file. Device access is
 * enforced on v1 only (v2 needs an eBPF program); fractional GPU shares are
 * not isolated: SUPERCELL_GPU_MILLI is advisory.
 */
#ifndef SC_AGENT_CGROUP_H
#define SC_AGENT_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SC_CGROUP_MAX_DEVICES 64

enum sc_cgroup_ctrl { SC_CG_MEMORY, SC_CG_CPU, SC_CG_PIDS, SC_CG_DEVICES, SC_CG_NCTRL };

/* The agent's subtree: version 2 (root[0] is the subtree) or 1 (root[c]
 * per controller, NULL where that controller is not mounted). */
struct sc_cgroups {
  int version;
  char *root[SC_CG_NCTRL];
};

/* A device a task may open: 'c' or 'b', major, minor (-1: any minor). */
struct sc_cgroup_device {
  char type;
  int major, minor;
};

struct sc_cgroup_limits {
  int64_t memory_mib;     /* 0: no limit */
  int64_t cpu_milli;      /* 0: no limit */
  int64_t pids_max;       /* 0: no limit */
  bool devices;           /* restrict devices to the list below (v1) */
  int ndev;
  struct sc_cgroup_device dev[SC_CGROUP_MAX_DEVICES];
};

/* Sets up the subtree name ("supercell/node-a") on cgroup v2 where it has
 * the controllers, else on the v1 hierarchies under /sys/fs/cgroup (base,
 * for tests; NULL = /sys/fs/cgroup). Returns 0, or SC_EIO / SC_EPERM with
 * the reason in err (cg is then unusable). Release with sc_cgroups_release. */
int sc_cgroup_setup(struct sc_cgroups *cg, const char *base, const char *name, char *err,
                    size_t size);
void sc_cgroups_release(struct sc_cgroups *cg);

/* Creates the cgroup of task name with limits; *path is its directory list
 * (a new string the caller frees). Returns 0 or SC_EIO (nothing left). */
int sc_cgroup_create(const struct sc_cgroups *cg, const char *name,
                     const struct sc_cgroup_limits *limits, char **path);

/* Opens cgroup.procs of each directory of path for writing (O_CLOEXEC)
 * into fds (up to SC_CG_NCTRL); returns how many, or -1 when one cannot
 * be opened (none left open). A task child writes "0" to each to move
 * itself in before exec. */
int sc_cgroup_open_procs(const char *path, int fds[SC_CG_NCTRL]);

/* How many times the kernel killed a process of the cgroup for exceeding
 * its memory limit (v2 memory.events oom_kill, v1 memory.oom_control). */
int64_t sc_cgroup_oom_kills(const char *path);

/* Kills every process in the cgroup (cgroup.kill on v2, else SIGKILL to
 * each pid of cgroup.procs). */
void sc_cgroup_kill(const char *path);

/* Removes the (empty) cgroup's directories; errors are ignored. */
void sc_cgroup_remove(const char *path);

#endif
