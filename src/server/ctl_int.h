/*
 * Internals of the controller shared by ctl.c (jobs, lifecycle),
 * ctl_agent.c (agent protocol) and ctl_sched.c (placement, liveness).
 * Everything here is guarded by sc_ctl.mu.
 */
#ifndef SC_SERVER_CTL_INT_H
#define SC_SERVER_CTL_INT_H

#include <pthread.h>

#include "server/ctl.h"

struct ctl_job;

struct ctl_task {
  struct ctl_job *job;   /* the job this task belongs to */
  int state;             /* enum sc_task_state */
  int node;              /* assigned node index, -1 */
  int alive_node;        /* node where a process of this id lives, -1; set it
                            only with ctl_task_set_alive (keeps the lists) */
  struct ctl_task *alive_prev, *alive_next; /* that node's alive list */
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

/*
 * An active job. The fields a scheduling pass reads come first, so walking
 * the pending queue touches one cache line per job; the spec (over 1 KiB,
 * mostly the models text) comes last.
 */
struct ctl_job {
  int64_t id;
  int state;             /* enum sc_job_state; after a change call
                            ctl_queue_sync so the pending queue follows */
  int ntasks;
  int priority;          /* spec.priority */
  int nalive;            /* tasks with alive_node >= 0 (pending: draining) */
  int64_t cpu_milli, memory_mib; /* per task, from the spec */
  int gpus, gpu_milli;
  bool any_model;        /* spec.models names no model */
  bool queued;           /* in the pending queue */
  uint32_t models_epoch; /* models_mask is valid for this ctl models_epoch */
  uint64_t models_mask;  /* spec.models as model ids of the pass's cluster */
  struct ctl_job *q_prev, *q_next; /* pending queue, same priority, id asc */
  struct ctl_task *tasks;
  int64_t created_ms, started_ms, finished_ms;
  int attempt;
  char reason[SC_STORE_REASON_MAX];
  struct sc_job_spec spec;
};

/*
 * Pending jobs in scheduling order: priority descending, then id ascending.
 * One FIFO per priority (ids ascending; a requeued job is inserted in id
 * order) and a bitmap of the non-empty ones. Submission appends in O(1);
 * a pass walks it without sorting.
 */
#define CTL_PRIO_MIN (-1000)
#define CTL_PRIO_MAX 1000
#define CTL_NPRIO (CTL_PRIO_MAX - CTL_PRIO_MIN + 1)

struct ctl_queue {
  struct ctl_job *head[CTL_NPRIO], *tail[CTL_NPRIO]; /* by priority - MIN */
  uint64_t nonempty[(CTL_NPRIO + 63) / 64];
  int n;
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
  struct ctl_task *alive;          /* tasks with alive_node == this node */
  int nalive;
  uint64_t poll_seq;               /* bumped by each assignments poll and
                                      register: only the poll holding the
                                      latest value waits, older ones answer
                                      empty (a dead agent's poll takes nothing) */
};

/* One entry of FGD's target workload window. */
struct ctl_shape_key {
  int64_t cpu, mem;
  int gpus, gpu_milli;
  char models[128];
};

struct ctl_pass_buf;

struct sc_ctl {
  struct sc_ctl_opts opts;
  struct sc_store *store;
  pthread_mutex_t mu;
  pthread_cond_t changed;    /* agents' long-polls */
  pthread_cond_t sched_cond; /* scheduling thread (CLOCK_MONOTONIC) */
  pthread_cond_t log_cond;   /* log followers */
  uint64_t log_gen;
  bool dirty;                /* a pass is wanted */
  bool full;                 /* ... over every pending job (something was
                                freed or changed), not only the fresh ones */
  bool sched_idle;           /* the thread sleeps with nothing to do */
  int64_t runtime_due_ms;    /* earliest max-runtime end of a running job
                                (CLOCK_REALTIME ms) as of the last tick, 0 */
  bool stop, started;
  pthread_t thread;
  struct ctl_job **jobs;     /* active jobs, ascending id */
  int njobs, capjobs;
  int nfinal;                /* jobs in jobs[] that ended (for compaction) */
  struct ctl_queue queue;    /* pending jobs in scheduling order */
  int64_t *fresh;            /* ids submitted since the last pass */
  int nfresh, capfresh;
  struct ctl_node *nodes;
  int nnodes, capnodes;
  int64_t next_id;
  struct ctl_shape_key *window;
  int wpos, wcount;
  uint32_t models_epoch;     /* bumped when the pass's model ids change */
  struct ctl_pass_buf *pass; /* the scheduling thread's buffers */
  struct ctl_task **scratch; /* a snapshot of one node's alive list */
  int capscratch;
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
/* Wakes log followers: call after a change is durable (they read the
 * store), never before, or they re-read the old state and sleep on. */
void ctl_wake_logs_locked(struct sc_ctl *c);

/* Removes finished jobs whose processes are all gone. */
void ctl_jobs_compact(struct sc_ctl *c);

/* ctl_queue.c */
/* Puts j in the pending queue or takes it out, as j->state says. */
void ctl_queue_sync(struct sc_ctl *c, struct ctl_job *j);
/* The first pending job in scheduling order, and the one after j (NULL at
 * the end). */
struct ctl_job *ctl_queue_first(const struct ctl_queue *q);
struct ctl_job *ctl_queue_next(const struct ctl_queue *q, const struct ctl_job *j);
/* Moves task t's live process to node (-1: gone), keeping the nodes' alive
 * lists and the job's count; a process that goes away frees resources, so
 * the next pass is a full one. */
void ctl_task_set_alive(struct sc_ctl *c, struct ctl_task *t, int node);
/* Notes a new pending job for the next pass (a pass of only fresh jobs
 * when nothing else changed) and wakes the scheduling thread if idle. */
void ctl_notify_fresh_locked(struct sc_ctl *c, int64_t id);
/* Checks the invariants above against the jobs and nodes (O(all tasks)):
 * 0 or SC_ESTATE. Sanitizer builds run it after every pass. */
int ctl_check(const struct sc_ctl *c);

/* ctl_agent.c */
int ctl_node_parse_devices(struct ctl_node *n);

/* ctl_sched.c */
void *ctl_sched_main(void *arg);
/* Frees the scheduling thread's buffers (after sc_ctl_stop). */
void ctl_sched_release(struct sc_ctl *c);

#endif
