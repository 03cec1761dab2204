/*
 * The node agent: registers the node, heartbeats, long-polls assignments in
 * its own thread, launches tasks (task.c), ships their logs and reports
 * their state. All task state lives in the state dir, so a restarted agent
 * adopts running tasks and never loses a final status: a status is only
 * forgotten once the controller acknowledged it.
 */
#ifndef SC_AGENT_AGENT_H
#define SC_AGENT_AGENT_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/devices.h"
#include "agent/task.h"
#include "util/http.h"

struct sc_agent_config {
  const char *server;       /* controller URL */
  const char *token;        /* agent token */
  const char *name;         /* node name */
  const char *state_dir;    /* where tasks, logs and exit codes live */
  const char *cgroup_root;  /* NULL: /sys/fs/cgroup/supercell/<name>; "" = off */
  struct sc_devices devices;
  int64_t cpu_milli, memory_mib;
  json_t *labels;           /* object of strings (borrowed) */
  int64_t heartbeat_ms;     /* 0: as the controller says */
};

struct sc_agent {
  struct sc_agent_config cfg;
  char *tasks_dir;
  char *cgroup_root;         /* NULL when cgroups are not used */
  char **base_env;           /* the agent's environment (borrowed) */
  pthread_mutex_t lock;      /* guards tasks and the flags below */
  pthread_cond_t wake;       /* the main loop waits on it */
  struct sc_task *tasks;
  bool registered;           /* false: (re)register before anything else */
  bool dirty;                /* something to send now */
  volatile int stopping;     /* aborts the long-poll */
  struct sc_http http;       /* main thread */
  struct sc_http poll_http;  /* assignments thread */
  int64_t heartbeat_ms, next_heartbeat_ms, next_try_ms, backoff_ms, next_gc_ms;
  bool call_failed;          /* a request failed in transport (main thread) */
  int lock_fd;
};

/* Prepares an agent: state dir, lock, cgroups, adoption of the tasks found
 * in the state dir. cfg strings must outlive the agent. Returns 0, or an
 * SC_E* code with a message in err (e.g. the state dir is in use). */
int sc_agent_init(struct sc_agent *a, const struct sc_agent_config *cfg, char *err,
                  size_t size);

/* Runs until *stop becomes non-zero (set from a signal handler), then
 * terminates the tasks (TERM, KILL after grace), reports what it can and
 * returns 0. Returns SC_EAUTH when the controller rejects the token at start. */
int sc_agent_run(struct sc_agent *a, volatile int *stop);

/* Frees the agent (not its task processes). */
void sc_agent_release(struct sc_agent *a);

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t sc_agent_now_ms(void);

/* Applies an assignments reply: its "kill" array first, then starts the
 * tasks of its "start" array that are not here yet (both may be NULL).
 * Called without a->lock (it takes it briefly; launches run unlocked). */
void sc_agent_apply(struct sc_agent *a, json_t *start, json_t *kill);

/* One pass of the main loop's local work: polls tasks for exit and sends
 * SIGKILL when grace periods end. Called with a->lock held. */
void sc_agent_poll_tasks(struct sc_agent *a);

/* Log bytes from buf made into valid UTF-8 of the same length (invalid
 * bytes and NUL become '?'); an incomplete sequence at the end is left out
 * unless final. Returns the number of bytes kept (<= len). */
size_t sc_agent_utf8_clean(char *buf, size_t len, bool final);

/* Internal to the agent's files. Main thread: ship new log output, send
 * a heartbeat when one is due, send pending task statuses. The assignments thread's entry point. Removes a
 * task dir and the files in it. */
void sc_agent_ship_logs(struct sc_agent *a);
void sc_agent_heartbeat_if_due(struct sc_agent *a);
void sc_agent_send_status(struct sc_agent *a);
void *sc_agent_poll_main(void *arg);
void sc_agent_remove_task_dir(const char *dir);

#endif
