/*
 * cgroup v2 limits for tasks: one cgroup per task under a subtree the agent
 * owns (default /sys/fs/cgroup/supercell/<agent name>), with memory.max and
 * cpu.max. When the subtree cannot be set up the agent runs tasks without
 * limits (and says so once). Fractional GPU shares are not isolated here:
 * SUPERCELL_GPU_MILLI is advisory.
 */
#ifndef SC_AGENT_CGROUP_H
#define SC_AGENT_CGROUP_H

#include <stddef.h>
#include <stdint.h>

/* Creates root (e.g. /sys/fs/cgroup/supercell/node-a) and enables the cpu
 * and memory controllers on the way down from the cgroup2 mount. Returns 0,
 * or SC_EIO / SC_EPERM with the reason in err. */
int sc_cgroup_setup(const char *root, char *err, size_t size);

/* Creates root/<name> with memory.max (0 = no limit) and cpu.max (milli;
 * 0 = no limit). *path is a new string the caller frees. Returns 0 or SC_EIO. */
int sc_cgroup_create(const char *root, const char *name, int64_t memory_mib,
                     int64_t cpu_milli, char **path);

/* Opens path/cgroup.procs for writing (O_CLOEXEC); -1 on failure. A task
 * child writes "0" to it to move itself in before exec. */
int sc_cgroup_open_procs(const char *path);

/* Kills every process in the cgroup (cgroup.kill, or SIGKILL to each pid
 * listed in cgroup.procs on older kernels). */
void sc_cgroup_kill(const char *path);

/* Removes the (empty) cgroup; errors are ignored. */
void sc_cgroup_remove(const char *path);

#endif
