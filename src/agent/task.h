/*
 * A task process on this node and its files in the agent's state dir
 * (<state>/tasks/<task id>@<attempt>/, or <task id>/ when the controller
 * names no attempt): task.json (the assignment), pid (written by
 * the supervisor), proc (pid and /proc start times), log (stdout+stderr),
 * exit ("exit N" / "signal N", written by the supervisor), reason (why it
 * failed when the exit code does not say: "out of memory", "refused: ..."),
 * shipped (log bytes the controller acknowledged) and reported (final
 * status acknowledged). The agent makes them 0600 in 0700 dirs.
 *
 * Each task runs under a forked supervisor in its own session, the task in
 * its own process group: killing the agent (even with SIGKILL) leaves both
 * alive, and the supervisor records the exit status for whichever agent
 * process comes next. Invariant: exited implies the exit file was read.
 */
#ifndef SC_AGENT_TASK_H
#define SC_AGENT_TASK_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/task_spec.h"

struct sc_task {
  struct sc_task_spec spec;
  char *dir;                 /* <state>/tasks/<task id>@<attempt> (owned) */
  char *cgroup;              /* cgroup path or NULL (owned) */
  pid_t pid;                 /* task pid == its process group id; 0 if unknown */
  pid_t supervisor;          /* supervisor pid */
  bool child;                /* the supervisor is our child: reap it */
  unsigned long long start_ticks, supervisor_ticks; /* /proc/PID/stat field 22 */
  bool exited;
  int exit_code;             /* >= 0 when it exited, else -1 */
  int signal;                /* > 0 when a signal ended it, else 0 */
  char reason[64];           /* "out of memory", "refused: ...", "" */
  bool running_sent;         /* "running" acknowledged (or adopted) */
  bool exit_sent;            /* final status acknowledged */
  int64_t log_sent;          /* log bytes acknowledged by the controller */
  int64_t kill_at_ms;        /* SIGKILL due at this time; 0 = not killing */
  int64_t gone_since_ms;     /* processes gone but no exit file since */
  int64_t exited_at_ms;      /* when the agent saw the exit */
  struct sc_task *next;
};

struct sc_sandbox;

/* How to launch: the environment (borrowed), the cgroup (may be NULL) and
 * the view of the node (NULL or disabled: none, the task shares the
 * agent's). */
struct sc_task_launch {
  char **envp;
  const char *cgroup;
  const struct sc_sandbox *sandbox;
  const char *default_workdir; /* when the spec has none; NULL = inherit */
  char **argv;               /* what to exec instead of the spec's command
                                (an image task's runtime), NULL */
  const char *wake_path;     /* the agent's wake FIFO: the supervisor writes a
                                byte there when the task ended; NULL */
  const char *contact_path;  /* the agent's contact file: the supervisor
                                fences the task by it; NULL = never */
  bool set_user;             /* run as uid/gid, no supplementary groups */
  uid_t uid;
  gid_t gid;
};

/* The dir of a task: tasks_dir/<task id>@<attempt> (or tasks_dir/<task id>
 * when the controller gives no attempt), so a retry of the same task on the
 * same node never shares files with the attempt before it. */
void sc_task_dir_name(const char *tasks_dir, const struct sc_task_spec *spec, char *buf,
                      size_t size);

/* Creates the task dir under tasks_dir and writes task.json (the
 * assignment's JSON text, borrowed). Takes ownership of spec (also on
 * failure). *out is a new task. Returns 0, SC_EEXIST when the dir holds a
 * task already, or SC_EIO. */
int sc_task_new(const char *tasks_dir, struct sc_task_spec *spec, const char *assignment,
                struct sc_task **out);

/* Starts the supervisor and the task; fills pid, supervisor, start times
 * and writes the proc file. Returns 0 or SC_EIO (the task then counts as
 * exited with code 127). */
int sc_task_start(struct sc_task *t, const struct sc_task_launch *how);

/* Does not start t: writes "supercell: not started: detail" to its log,
 * reason to its reason file, and exit 126 (reason short enough for a
 * status report, detail for the user). */
void sc_task_refuse(struct sc_task *t, const char *reason, const char *detail);

/* Loads a task from its dir after an agent restart. Returns 0 or SC_EIO /
 * SC_EPARSE (dir not a task). *out is a new task. */
int sc_task_load(const char *dir, struct sc_task **out);

/* Checks whether the task has ended; reaps our supervisor (also after the
 * exit: t->child stays true until then). Returns true when this call saw
 * the exit. now_ms is a monotonic clock in ms. */
bool sc_task_poll(struct sc_task *t, int64_t now_ms);

/* Sends SIGTERM to the process group and arms SIGKILL after grace_s
 * (spec.grace_s when grace_s < 0). A second call does not re-arm. */
void sc_task_terminate(struct sc_task *t, int64_t now_ms, int grace_s);

/* The same with signal sig and a grace of grace_ms (a preemption notice:
 * the job's preempt_signal and checkpoint_grace). */
void sc_task_signal_kill(struct sc_task *t, int64_t now_ms, int sig, int64_t grace_ms);

/* Sends SIGKILL when the grace period has passed. */
void sc_task_tick_kill(struct sc_task *t, int64_t now_ms);

/* True while the task's process (with the recorded start time) exists. */
bool sc_task_alive(const struct sc_task *t);

/* Records that the final status was acknowledged (the reported file). */
void sc_task_mark_reported(struct sc_task *t);

/* Records the acknowledged log offset (the shipped file). */
void sc_task_mark_shipped(struct sc_task *t, int64_t offset);

/* Path of one of the task's files ("log", "exit" ...) into buf. */
const char *sc_task_path(const struct sc_task *t, const char *file, char *buf, size_t size);

/* When the supervisor wrote one of the task's files, in Unix ms (0 when
 * it has not): "pid" right after the task forked, "exit" right after it
 * ended. What the agent reports as the task's start and end times. */
int64_t sc_task_file_ms(const struct sc_task *t, const char *file);

/* Frees a task (not its processes or files). */
void sc_task_free(struct sc_task *t);

/* Removes a task dir and the files in it. */
void sc_task_remove_dir(const char *dir);

/* Reads field 22 (start time) of /proc/pid/stat; 0 and SC_ENOENT when the
 * process does not exist or is a zombie. */
int sc_proc_start_ticks(pid_t pid, unsigned long long *ticks);

#endif
