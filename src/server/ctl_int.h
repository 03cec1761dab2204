/*
 * Internals of the controller shared by ctl.c (jobs, lifecycle),
 * ctl_agent.c (agent protocol) and ctl_sched.c (placement, liveness).
 * Everything here is guarded by sc_ctl.mu.
 */
#ifndef SC_SERVER_CTL_INT_H
#define SC_SERVER_CTL_INT_H

#include <pthread.h>

#include "server/ctl.h"

struct ctl_task {
  int state;             /* enum sc_task_state */
  int node;              /* assigned node index, -1 */
  int alive_node;        /* node where a process of this id lives, -1 */
  int ndev;
  int dev[SC_STORE_MAX_DEVICES]; /* device indices as the agent numbers them */
  int pos[SC_STORE_MAX_DEVICES]; /* positions in the node's device array */
  int exit_code, signal;
  int64_t pid, started_ms, finished_ms;
  bool published;        /* assignment durable: may be delivered */
  int64_t delivered_ms;  /* 0 = not delivered yet */
  int missing;           /* heartbeats in a row without this running task */
  int exit_node;         /* node that reported this task's exit, -1: stale
                            "running" reports from it are ignored */
  int attempt;
};

struct ctl_job {
  int64_t id;
  struct sc_job_spec spec;
  int state;             /* enum sc_job_state */
  char reason[SC_STORE_REASON_MAX];
  int64_t created_ms, started_ms, finished_ms;
  int attempt;
  int ntasks;
  struct ctl_task *tasks;
};

/* A queue of task references (job id, index). */
struct ctl_refq {
  struct sc_agent_running *items;  /* pid unused */
  int n, cap;
};

struct ctl_node {
  struct sc_node_rec rec;          /* labels/devices owned */
  int ndev;
  struct sc_agent_device dev[SC_STORE_MAX_DEVICES];
  int64_t last_seen_ms;
  struct ctl_refq start_q, kill_q;
};

/* One entry of FGD's target workload window. */
struct ctl_shape_key {
  int64_t cpu, mem;
  int gpus, gpu_milli;
  char models[128];
};

struct sc_ctl {
  struct sc_ctl_opts opts;
  struct sc_store *store;
  pthread_mutex_t mu;
  pthread_cond_t changed;    /* agents' long-polls */
  pthread_cond_t sched_cond; /* scheduling thread */
  pthread_cond_t log_cond;   /* log followers */
  uint64_t log_gen;
  bool dirty, stop, started;
  pthread_t thread;
  struct ctl_job **jobs;     /* active jobs, ascending id */
  int njobs, capjobs;
  struct ctl_node *nodes;
  int nnodes, capnodes;
  int64_t next_id;
  struct ctl_shape_key *window;
  int wpos, wcount;
  struct sc_ctl_stats stats;
};

/* ctl.c */
struct ctl_job *ctl_job_find(struct sc_ctl *c, int64_t id);
int ctl_node_find(struct sc_ctl *c, const char *name);
void ctl_task_op(struct sc_ctl *c, const struct ctl_job *j, int index, struct sc_store_op *op);
void ctl_job_op(const struct ctl_job *j, struct sc_store_op *op);
/* Adds the job row and every task row of j to b. */
int ctl_batch_job(struct sc_ctl *c, struct sc_store_batch *b, const struct ctl_job *j);
int ctl_refq_push(struct ctl_refq *q, int64_t job, int index);
/* Queues a kill of task i of j on the node where it lives (or forgets a
 * never-delivered assignment). */
void ctl_kill_task(struct sc_ctl *c, struct ctl_job *j, int i);
/* Ends job j as failed/cancelled, or requeues it whole when retryable and
 * attempts remain; kills its live tasks. Adds rows to b. */
void ctl_job_end(struct sc_ctl *c, struct ctl_job *j, int state, const char *reason,
                 bool retryable, struct sc_store_batch *b);
/* Marks j succeeded when all tasks succeeded. Adds rows to b. */
void ctl_job_check_done(struct sc_ctl *c, struct ctl_job *j, struct sc_store_batch *b);
/* Submits b (under mu) when non-empty; the caller waits after unlocking. */
bool ctl_submit_locked(struct sc_ctl *c, struct sc_store_batch *b);
/* Waits for b if it was submitted, frees it. Returns 0 or SC_ESTORE. */
int ctl_finish(struct sc_ctl *c, struct sc_store_batch *b, bool submitted);
void ctl_notify_locked(struct sc_ctl *c);

/* Removes finished jobs whose processes are all gone. */
void ctl_jobs_compact(struct sc_ctl *c);

/* ctl_agent.c */
int ctl_node_parse_devices(struct ctl_node *n);

/* ctl_sched.c */
void *ctl_sched_main(void *arg);

#endif
