/*
 * The controller: in-memory model of active jobs and nodes, rebuilt from the
 * store at start, changed only under one mutex and written through to the
 * store in the same order (batches queued under the mutex). Assignments are
 * published to agents only after their commit is durable, so a kill -9 of
 * the controller never lets a task run twice at once. A scheduling thread
 * places pending gangs with the core and watches heartbeats and runtimes.
 */
#ifndef SC_SERVER_CTL_H
#define SC_SERVER_CTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/policy.h"
#include "server/spec.h"
#include "store/store.h"

struct sc_ctl;

struct sc_ctl_opts {
  const struct sc_policy *policy;   /* default fgd */
  int64_t heartbeat_timeout_ms;     /* default 30 s */
  int64_t grace_ms;                 /* SIGTERM -> SIGKILL, default 10 s */
  int window;                       /* tasks in FGD's target workload, 1000 */
};

/* Counters for logs and benchmarks. */
struct sc_ctl_stats {
  uint64_t passes;
  uint64_t full_passes;       /* passes over every pending job (the others
                                 tried only jobs submitted since the last) */
  double last_pass_ms, max_pass_ms;
  int last_pending;           /* pending jobs when the last pass began */
  int last_tried;             /* gangs it handed to the placement engine */
  uint64_t placed;
};

/*
 * Creates a controller over store (borrowed) and rebuilds its state from
 * it. sc_ctl_start launches the scheduling thread; sc_ctl_stop ends it and
 * wakes every long-poll; sc_ctl_free frees everything (after stop).
 */
int sc_ctl_new(const struct sc_ctl_opts *opts, struct sc_store *store, struct sc_ctl **out);
int sc_ctl_start(struct sc_ctl *c);
void sc_ctl_stop(struct sc_ctl *c);
void sc_ctl_free(struct sc_ctl *c);
struct sc_store *sc_ctl_store(struct sc_ctl *c);
void sc_ctl_stats(struct sc_ctl *c, struct sc_ctl_stats *out);

/* Job ids as the API writes them ("j-000123") and back (SC_EINVAL). */
void sc_job_id_format(int64_t id, char *buf, size_t size);
int sc_job_id_parse(const char *text, int64_t *id);
/* Task ids "j-000123.4" and back. */
void sc_task_id_format(int64_t job, int index, char *buf, size_t size);
int sc_task_id_parse(const char *text, int64_t *job, int *index);

/*
 * Submits a validated spec (ownership of spec->json moves to the
 * controller). Returns 0 once the job is durable, with out filled (caller
 * releases it with sc_job_rec_release); SC_ESTORE or SC_ENOMEM otherwise.
 */
int sc_ctl_submit(struct sc_ctl *c, struct sc_job_spec *spec, struct sc_job_rec *out);

/*
 * Cancels job id (tenant != NULL restricts to that tenant: others are
 * SC_ENOENT). Returns 0, SC_ENOENT, SC_ESTATE (already finished) or SC_ESTORE.
 */
int sc_ctl_cancel(struct sc_ctl *c, int64_t id, const char *tenant);

/* The nodes as GET /v1/nodes returns them: {"nodes": [...]} (new ref). */
json_t *sc_ctl_nodes_json(struct sc_ctl *c);

/* ---- agent side ---- */

struct sc_agent_device {
  int index;
  char vendor[32];
  char model[64];
  int64_t memory_mib;
};

struct sc_agent_running {
  int64_t job_id;
  int index;
  int64_t pid;
};

struct sc_agent_reg {
  char name[64];
  char address[64];
  int64_t cpu_milli, memory_mib;
  char *labels;                      /* JSON object text, borrowed */
  int ndev;
  struct sc_agent_device dev[16];
  int nrunning;
  struct sc_agent_running *running;  /* borrowed */
};

struct sc_agent_update {
  int64_t job_id;
  int index;
  bool exited;                       /* false: running */
  int64_t pid;
  int exit_code, signal;             /* -1 unknown */
};

/* Replies carry task ids to kill as a JSON array (new ref in *kill). */
int sc_ctl_register(struct sc_ctl *c, const struct sc_agent_reg *reg, json_t **kill);
int64_t sc_ctl_heartbeat_interval_ms(struct sc_ctl *c);
/* SC_ENOENT when the node never registered (the agent must register). */
int sc_ctl_heartbeat(struct sc_ctl *c, const char *name, const struct sc_agent_running *running,
                     int nrunning, json_t **kill);
int sc_ctl_status(struct sc_ctl *c, const char *name, const struct sc_agent_update *u, int n);
/* Long-polls up to wait_ms; *out = {"start": [...], "kill": [...]}. */
int sc_ctl_assignments(struct sc_ctl *c, const char *name, int64_t wait_ms, json_t **out);
/*
 * Takes back a reply of sc_ctl_assignments for node name (borrowed) that
 * never reached its agent (the connection failed): its starts become
 * deliverable again at once and its kills are queued again where their
 * processes may still run. Agents ignore a start of a task they run.
 */
void sc_ctl_assignments_undo(struct sc_ctl *c, const char *name, json_t *reply);
/* Appends output of task index of job_id; attempt -1 = the task's current
 * attempt (offsets restart at 0 with each attempt). */
int sc_ctl_log_append(struct sc_ctl *c, int64_t job_id, int index, int attempt,
                      int64_t offset, const char *data, size_t len);

/* ---- log readers ---- */

/* Blocks until the log generation differs from *gen or until deadline_ms
 * (CLOCK_REALTIME ms); updates *gen. */
void sc_ctl_log_wait(struct sc_ctl *c, uint64_t *gen, int64_t deadline_ms);
uint64_t sc_ctl_log_generation(struct sc_ctl *c);

int64_t sc_now_ms(void);

#endif
