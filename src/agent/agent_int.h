/*
 * Internals of the agent, split along its threads:
 *   task_table.c    the tasks, with their own lock
 *   agent_client.c  requests to the controller (no loop state)
 *   agent_logs.c    main thread: ship log output, send task statuses
 *   agent_assign.c  assignments thread: long-poll, start and kill tasks
 *   agent.c         main thread: the loop, registration and backoff, stop
 * Each file calls only those above it. The threads share the task table
 * (its lock), the flags below (atomics) and the wake condition (mu).
 */
#ifndef SC_AGENT_AGENT_INT_H
#define SC_AGENT_AGENT_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/agent.h"
#include "agent/agent_client.h"
#include "agent/cgroup.h"
#include "agent/image.h"
#include "agent/sandbox.h"
#include "agent/task_table.h"

struct sc_agent {
  struct sc_agent_config cfg;
  char *tasks_dir;
  struct sc_image_cfg images; /* image tasks: cache, named images, tools */
  char image_cache[4200], crun_path[512], umoci_path[512];
  char *wake_path;           /* <state>/wake: a FIFO the supervisors write a
                                byte to when their task ended */
  int wake_fd;               /* read end (opened read-write: never EOF), -1 */
  char *contact_path;        /* <state>/contact: "LAST_CONTACT_MONO_MS
                                FENCE_AFTER_MS", read by the supervisors */
  struct sc_cgroups cgroups; /* version 0 when tasks run without cgroups */
  bool isolate;              /* tasks get their own namespaces and view */
  bool userns;               /* ... in a user namespace (not root) */
  char **base_env;           /* the agent's environment less SUPERCELL_*
                                (owned array, borrowed strings) */
  bool switch_user;          /* root: tasks run as their tenant's user */
  char tenant_pin[65];       /* not root nor single-user: the one tenant
                                served (<state>/tenant), "" = none yet */
  struct sc_task_table tasks;
  /* Shared by both threads, without a lock: */
  atomic_bool registered;    /* false: the main loop registers first. The
                                main thread sets it; either thread clears
                                it (the controller forgot the node) */
  atomic_int stopping;       /* set once by the main thread; aborts the
                                assignments thread's long-poll */
  /* Guarded by mu: */
  pthread_mutex_t mu;
  pthread_cond_t wake;       /* both threads wait on it (monotonic clock) */
  bool dirty;                /* the main loop has something to send now */
  /* Main thread only: */
  struct sc_client client;
  char *credential_path;     /* <state>/node.token: this node's own token */
  bool has_credential;       /* the clients use it (else cfg.token, which may
                                be a bootstrap token that only registers) */
  int64_t heartbeat_ms, next_heartbeat_ms, next_try_ms, backoff_ms, next_gc_ms;
  unsigned moves_seen;       /* client.http.moves at the last registration:
                                when it moved on (a new leader), register
                                again there with the tasks that run */
  int64_t fence_after_ms;    /* from the controller; 0 = never fence */
  int64_t fence_grace_ms;    /* ... and TERM to KILL when fencing */
  int64_t last_contact_ms;   /* monotonic: the controller last answered */
  bool fenced;               /* cut off too long: the tasks were stopped */
  /* Assignments thread only: */
  struct sc_client poll_client;
  int lock_fd;
};

/* ---- agent_logs.c (main thread) ---- */

/* Log bytes from buf made into valid UTF-8 of the same length (invalid
 * bytes and NUL become '?'); an incomplete sequence at the end is left out
 * unless final. Returns the number of bytes kept (<= len). */
size_t sc_agent_utf8_clean(char *buf, size_t len, bool final);

/* Ships new log output of the tasks: a chunk of each running task's, all
 * of an exited task's, until the monotonic time deadline_ms; *more says
 * that the deadline cut it short with output left. Chunks the controller
 * refuses are dropped. Returns SC_CLIENT_OK, or the outcome that stopped
 * it. */
enum sc_client_rc sc_agent_ship_logs(struct sc_agent *a, int64_t deadline_ms, bool *more);

/* Sends pending "running" and final statuses in one request; marks them
 * sent when acknowledged (or refused: they are dropped). */
enum sc_client_rc sc_agent_send_status(struct sc_agent *a);

/* ---- agent_assign.c (assignments thread) ---- */

/* The assignments thread: long-polls while registered, until stopping. */
void *sc_agent_poll_main(void *arg);

/* Applies an assignments reply: kills first, then starts the tasks that
 * are not here yet (launched without the table lock; their specs move out
 * of as, which the caller still releases). */
void sc_agent_apply(struct sc_agent *a, struct sc_client_assignments *as);

/* Sleeps on a->wake up to ms (mu held). */
void sc_agent_wait_locked(struct sc_agent *a, int64_t ms);

/* ---- agent.c ---- */

/* One look at every task: exits, and SIGKILL when grace periods end.
 * Takes the table lock. */
void sc_agent_poll_tasks(struct sc_agent *a);

#endif
