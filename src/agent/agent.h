/*
 * The node agent: registers the node, heartbeats, long-polls assignments in
 * its own thread, launches tasks (task.c), ships their logs and reports
 * their state. All task state lives in the state dir, so a restarted agent
 * adopts running tasks and never loses a final status: a status is only
 * forgotten once the controller acknowledged it. Internals: agent_int.h.
 */
#ifndef SC_AGENT_AGENT_H
#define SC_AGENT_AGENT_H

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/devices.h"

struct sc_agent_config {
  const char *server;       /* controller URL */
  const char *token;        /* agent token */
  const char *name;         /* node name */
  const char *state_dir;    /* where tasks, logs and exit codes live */
  const char *cgroup_root;  /* subtree under each cgroup hierarchy; NULL:
                               supercell/<name>; "" = no cgroups */
  const char *cgroup_base;  /* where the hierarchies are mounted; NULL:
                               /sys/fs/cgroup */
  const char *dev_dir;      /* where device nodes are; NULL: /dev */
  int64_t task_pids_max;    /* processes per task; 0: 16384 */
  int isolation;            /* SC_ISOLATION_* */
  int nhide, nshare;
  const char *hide[6];      /* dirs tasks never see (the agent's state dir too) */
  const char *share[8];     /* host dirs bound into every task's view */
  struct sc_devices devices;
  int64_t cpu_milli, memory_mib;
  json_t *labels;           /* object of strings (borrowed) */
  int64_t heartbeat_ms;     /* 0: as the controller says */
  int64_t task_uid_base;    /* as root: tenant id N runs as uid/gid base + N;
                               0: 200000 */
  const char *image_dir;    /* named images (NAME -> image_dir/NAME, an OCI
                               layout); NULL: /var/lib/supercell/images */
  bool single_user;         /* not root: run every tenant's tasks as the
                               agent's user (else only the first tenant's) */
};

/* How tasks run: in their own namespaces (the default when the agent is
 * root) or sharing the agent's view of the node. */
enum { SC_ISOLATION_AUTO, SC_ISOLATION_NAMESPACES, SC_ISOLATION_NONE };

/* Tenant id N runs as uid and gid SC_TASK_UID_BASE + N by default: above
 * the ids distributions give people (1000..60000) and their subordinate
 * ranges (100000 + 65536 per user for the first). */
#define SC_TASK_UID_BASE 200000

struct sc_agent;

/* Prepares an agent: state dir, lock, cgroups, adoption of the tasks found
 * in the state dir. cfg strings must outlive the agent. Returns 0 with *out
 * set, or an SC_E* code with a message in err (e.g. the state dir is in
 * use) and *out NULL. */
int sc_agent_new(const struct sc_agent_config *cfg, struct sc_agent **out, char *err,
                 size_t size);

/* Runs until *stop becomes non-zero (a signal handler may set it: lock-free
 * atomics are async-signal-safe), then terminates the tasks (TERM, KILL
 * after grace), reports what it can and returns 0. Returns SC_EAUTH when
 * the controller rejects the token at start. The assignments thread runs
 * with signals blocked, so handlers run on the calling thread. */
int sc_agent_run(struct sc_agent *a, atomic_int *stop);

/* Frees the agent (not its task processes). */
void sc_agent_free(struct sc_agent *a);

#endif
