/*
 * Internals of the controller, in layers (each file calls only the ones
 * above it in this list, never back):
 *   ctl_queue.c  the pending queue: orders pending work
 *   ctl_table.c  jobs and nodes tables, alive lists, store rows, commits
 *   ctl_tenant.c tenants: stable ids, the user each maps to
 *   ctl_deps.c   dependencies between jobs: what each waits for
 *   ctl_quota.c  tenant limits at admission, per scheduling pass
 *   ctl_state.c  the job and task state machine: one entry per event
 *   ctl_preempt.c preemption and checkpoints: entry points, task credentials
 *   ctl_agent.c  the agent protocol: reports become events
 *   ctl_timeline.c the fleet timeline: a bounded ring of samples
 *   ctl_sched.c  the scheduling thread: passes, timeouts, rewrites
 *   ctl_metrics.c what /metrics shows: the counters the others keep, gauges
 *   ctl.c        lifecycle, rebuild from the store, submit, cancel, views
 * Everything here is guarded by sc_ctl.mu.
 */
#ifndef SC_SERVER_CTL_INT_H
#define SC_SERVER_CTL_INT_H

#include <pthread.h>

#include "core/cluster.h"
#include "core/frag.h"
#include "core/preempt.h"
#include "util/timeheap.h"
#include "server/ctl.h"
#include "server/tenant_rules.h"

struct ctl_job;

/* A dependency resolved: jobs lo..hi (an array's elements are
 * consecutive) must end as type (enum sc_dep_type) asks; left of them
 * have not ended yet. */
struct ctl_dep {
  int64_t lo, hi;
  int type;
  int left;
};

/* The usage record of a task's latest started attempt as memory knows it
 * (docs/accounting.md); written with every row of its task, so a record
 * whose batch failed is rewritten with the task. start_ms 0: none known
 * (after a restart a running attempt's record is in the store only, and
 * is rebuilt from the task when it ends). */
struct ctl_usage {
  int64_t start_ms, end_ms;  /* wall clock; end 0 while it runs */
  int attempt;
  int node, pos0, ndev;      /* where: node index, its first device, count */
  int how;                   /* enum sc_usage_end */
  int exit_code, signal;
};

/* A preemption notice to the process of one attempt of a task: its kill
 * carries it (ctl_agent.c take_kills) while that process lives. */
struct ctl_notice {
  bool set;              /* a notice was given (else the rest is unused) */
  int64_t grace_ms;      /* notice to SIGKILL */
  int attempt;           /* the attempt whose process is noticed */
  int signal;            /* the job's preempt_signal */
  int64_t by;            /* the preemptor's job id, 0: an operator */
  char kind[16];         /* reclaim, priority, operator */
};

struct ctl_task {
  struct ctl_job *job;   /* the job this task belongs to */
  int state;             /* enum sc_task_state */
  int node;              /* assigned node index, -1 */
  int alive_node;        /* node where a process of this id lives, -1; set it
                            only with ctl_task_set_alive (keeps the lists) */
  int alive_attempt;     /* the attempt that process runs, -1 unknown (a
                            process found where it should not be) */
  struct ctl_task *alive_prev, *alive_next; /* that node's alive list */
  int ndev;
  int dev[SC_STORE_MAX_DEVICES]; /* device indices as the agent numbers them */
  int pos[SC_STORE_MAX_DEVICES]; /* positions in the node's device array */
  int exit_code, signal;
  int64_t pid, started_ms, finished_ms; /* wall clock, as stored */
  bool published;        /* assignment durable: may be delivered */
  bool delivered;        /* sent to the agent (a reply took it) */
  int missing;           /* heartbeats in a row without this running task */
  int held_node;         /* a preempted process still alive holds its old
                            devices here until gone (held_pos), else -1 */
  int held_ndev;
  int held_pos[SC_STORE_MAX_DEVICES];
  int exit_node;         /* node that reported this task's exit, -1: stale
                            "running" reports from it are ignored */
  int attempt;
  struct ctl_usage usage;
  struct ctl_notice notice; /* kept through a requeue (task_reset) */
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
  bool stale;            /* its rows failed to commit: rewrite them */
  int writes;            /* its rows in batches not settled yet: until they
                            are, the job stays in memory (a failure must
                            find it to mark it stale) */
  uint32_t models_epoch; /* models_mask is valid for this ctl models_epoch */
  uint64_t models_mask;  /* spec.models as model ids of the pass's cluster */
  struct ctl_job *q_prev, *q_next; /* pending queue, same priority, id asc */
  struct ctl_task *tasks;
  int64_t created_ms, started_ms, finished_ms; /* wall clock, as stored */
  int64_t started_mono_ms; /* monotonic start, for max_runtime; 0 */
  int64_t assigned_mono_ms; /* monotonic: when the last pass placed it */
  bool tried;              /* a pass looked at it and it did not fit */
  bool held;               /* a user's hold (stored): not scheduled */
  int64_t hold_until_ms;   /* monotonic: requeued from a lost node, it
                              starts nowhere before its old processes
                              there are surely fenced; 0 */
  int attempt;
  int preempted;           /* attempts that ended preempted: attempt -
                              preempted is the retries used */
  int64_t checkpoint_ms;   /* wall: its last checkpoint, 0 none */
  int64_t array_id;        /* an array element: its array, else 0 */
  int array_index;         /* its index, -1 */
  struct ctl_dep *deps;    /* owned, ndeps (spec.after resolved) */
  int ndeps;
  int deps_left;           /* deps with jobs not ended: not scheduled */
  bool dep_never;          /* a dependency can never be met: cancelled */
  int nominated[8];        /* a preemptor waiting for its victims to stop:
                              the nodes it will take (controller indexes),
                              kept from others meanwhile */
  int nnominated;
  char quota_reason[320];  /* the last pass held it back: which limit */
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

/* A queue of task references without duplicates. */
struct ctl_refq {
  struct sc_task_ref *items;
  int n, cap;
};

struct ctl_node {
  struct sc_node_rec rec;          /* labels owned; devices inline */
  char region[64];                 /* its region= label, "" none */
  int64_t last_seen_ms;            /* monotonic */
  int64_t written_ms;              /* monotonic: its state row last queued */
  bool stale;                      /* its row failed to commit */
  struct ctl_refq start_q, kill_q;
  struct ctl_task *alive;          /* tasks with alive_node == this node */
  int nalive;
  uint64_t poll_seq;               /* bumped by each assignments poll and
                                      register: only the poll holding the
                                      latest value waits, older ones answer
                                      empty (a dead agent's poll takes nothing) */
  struct sc_ctl_waker poll;        /* its parked poll (event-driven front), or none */
};

/* One distinct task shape of FGD's target window, with the number of
 * window entries that have it. The models list is kept whole: inline when
 * short, else in an owned copy. */
struct ctl_shape_key {
  int64_t cpu, mem;
  int gpus, gpu_milli;
  char models[64];
  char *models_long;     /* owned, when the list does not fit models */
  int count;
};

/* The models list of a window shape. */
static inline const char *ctl_key_models(const struct ctl_shape_key *k)
{
  return k->models_long ? k->models_long : k->models;
}

/* What happened to a tenant's jobs since the controller started, for
 * /metrics (struct sc_ctl_tenant_metrics says what each counts). */
struct ctl_tenant_counts {
  uint64_t submitted, starts;
  uint64_t exits[SC_CTL_NOUTCOMES];
  uint64_t preemptions[SC_CTL_NPREEMPT_KINDS];
  int64_t preempted_gpu_ms[SC_CTL_NPREEMPT_KINDS];
};

/* A tenant; durable once a batch holding its row (as it is now) committed. */
struct ctl_tenant {
  struct sc_tenant_rec rec;        /* rules text owned */
  struct ctl_tenant_counts counts;
  bool durable;
  struct sc_tenant_rules rules;    /* rec.rules parsed */
  char eff_regions[SC_REGIONS_MAX * 64]; /* the allowlist in force: its own,
                                     else its nearest ancestor's; '|'
                                     separated, "" when none */
};

struct ctl_pass_buf;

/* The fleet timeline: the last cap samples, a ring (ctl_timeline.c). */
struct ctl_timeline {
  struct sc_timeline_sample *ring; /* cap entries, allocated at start */
  int cap, n, next;          /* n kept; next: where the next one goes */
  int64_t due_ms;            /* monotonic: when the next sample is due */
};

struct sc_ctl {
  struct sc_ctl_opts opts;
  struct sc_store *store;
  pthread_mutex_t mu;
  pthread_cond_t changed;    /* agents' long-polls (monotonic clock) */
  pthread_cond_t sched_cond; /* scheduling thread (monotonic clock) */
  pthread_cond_t log_cond;   /* log followers (monotonic clock) */
  uint64_t log_gen;
  struct sc_ctl_waker *log_waiters; /* parked log followers */
  int nlog_waiters, caplog_waiters;
  bool dirty;                /* a pass is wanted */
  bool full;                 /* ... over every pending job (something was
                                freed or changed), not only the fresh ones */
  bool sched_idle;           /* the thread sleeps with nothing to do */
  int64_t runtime_due_ms;    /* earliest max-runtime end of a running job
                                (monotonic ms) as of the last tick, 0 */
  bool stop, started;
  bool frozen;               /* stopping (sc_ctl_interrupt): place nothing */
  int64_t next_begin_ms;     /* wall: the earliest begin time of a pending
                                job still to come, 0 */
  /* The tick's timers (util/timeheap.h: lazy, checked when due), so a
   * tick costs O(what comes due), not a scan of every node and job:
   * nodes' heartbeat deadlines (monotonic, by node index), running jobs'
   * max runtimes (monotonic, by job id), pending jobs' begin times (wall)
   * and fence holds (monotonic). timers_lost: a push failed (out of
   * memory): the next tick scans everything and rebuilds them. */
  struct sc_timeheap seen_due, run_due, begin_due, hold_due;
  int *node_slots;           /* nodes by name (ctl_table.c) */
  size_t nnode_slots;
  bool timers_lost;
  pthread_t thread;
  struct ctl_job **jobs;     /* active jobs, ascending id */
  int njobs, capjobs;
  int nfinal;                /* jobs in jobs[] that ended (for compaction) */
  struct ctl_queue queue;    /* pending jobs in scheduling order */
  int64_t *fresh;            /* ids submitted since the last pass */
  int nfresh, capfresh;
  int64_t *stale;            /* ids of stale jobs (a job may repeat) */
  int nstale, capstale;
  int nstale_nodes;          /* nodes with stale set */
  struct ctl_node *nodes;
  int nnodes, capnodes;
  int64_t next_id;
  int ndep_jobs;              /* jobs in jobs[] with dependencies */
  int64_t *doomed;            /* waiters whose dependency can never be met */
  int ndoomed, capdoomed;
  bool settling;              /* ctl_state.c cancels the doomed */
  int nthrottled;             /* array elements in jobs[] with a %N limit */
  struct ctl_tenant *tenants; /* by name */
  int ntenants, captenants;
  int64_t next_tenant_id;
  /* FGD's target workload: the last opts.window tasks submitted, as a ring
   * of indices into wkeys, the distinct shapes with their counts. Both
   * change per task submitted, so a pass reads O(shapes), not the window. */
  int *window;
  int wpos, wcount;
  struct ctl_shape_key *wkeys;
  int nwkeys, capwkeys;
  uint32_t models_epoch;     /* bumped when the pass's model ids change */
  struct ctl_pass_buf *pass; /* the scheduling thread's buffers */
  struct ctl_task **scratch; /* a snapshot of one node's alive list */
  int capscratch;
  struct sc_ctl_stats stats;
  struct sc_histogram pass_hist;   /* passes' duration, seconds */
  struct sc_histogram start_hist;  /* submit to first start, seconds */
  int64_t resv_job;           /* the last pass's backfill head, 0 none */
  char resv_text[160];        /* its reservation, for its pending reason */
  unsigned char task_key[32]; /* signs task credentials (task_token.c) */
  struct ctl_timeline timeline;
};

/* ---- ctl_queue.c: the pending queue ---- */

/* Puts j in the pending queue or takes it out, as j->state says. */
void ctl_queue_sync(struct sc_ctl *c, struct ctl_job *j);
/* The first pending job in scheduling order, and the one after j (NULL at
 * the end). */
struct ctl_job *ctl_queue_first(const struct ctl_queue *q);
struct ctl_job *ctl_queue_next(const struct ctl_queue *q, const struct ctl_job *j);
/* Notes a new pending job for the next pass (a pass of only fresh jobs
 * when nothing else changed) and wakes the scheduling thread if idle. */
void ctl_queue_note_fresh(struct sc_ctl *c, int64_t id);

/* ---- ctl_table.c: tables, indexes, rows and commits ---- */

/* Wall-clock now (opts.wall_ms) for what is stored and shown. */
int64_t ctl_wall_ms(const struct sc_ctl *c);

struct ctl_job *ctl_job_find(struct sc_ctl *c, int64_t id);
/* A new job of spec (its text and run move to the job), all tasks pending;
 * NULL when out of memory (spec untouched). ctl_job_free frees one. */
struct ctl_job *ctl_job_new(int64_t id, struct sc_job_spec *spec);
void ctl_job_free(struct ctl_job *j);
/* Inserts j keeping ids ascending: 0 or SC_ENOMEM. */
int ctl_jobs_insert(struct sc_ctl *c, struct ctl_job *j);
/* Removes finished jobs whose processes are all gone and rows are durable. */
void ctl_jobs_compact(struct sc_ctl *c);

int ctl_node_find(struct sc_ctl *c, const char *name);
/* Adds node i (its name set, i = nnodes before it counts) to the index
 * by name: 0 or SC_ENOMEM. */
int ctl_node_index(struct sc_ctl *c, int i);
/* Sets n->region from its labels: 0 or SC_ENOMEM. */
int ctl_node_region(struct ctl_node *n);
/* Adds a node or refreshes a known one from reg; returns its index or
 * SC_ENOMEM (nothing changed). */
int ctl_node_upsert(struct sc_ctl *c, const struct sc_agent_reg *reg);

/* Moves task t's live process to node (-1: gone), keeping the nodes' alive
 * lists and the job's count; a process that goes away frees resources, so
 * the next pass is a full one. A process that moves there runs t's current
 * attempt (alive_attempt). */
void ctl_task_set_alive(struct sc_ctl *c, struct ctl_task *t, int node);
/* The tasks alive on node, in job id then index order, in c->scratch (the
 * list changes while they are settled). Returns how many, or -1 when out
 * of memory. */
int ctl_alive_snapshot(struct sc_ctl *c, int node);
/* Queues a task reference once: 0 or SC_ENOMEM. */
int ctl_refq_push(struct ctl_refq *q, int64_t job, int index);
/* Queues a start (kill false) or kill of task job.index for node and
 * wakes that node's parked poll, only it: 0 or SC_ENOMEM. */
int ctl_node_push(struct sc_ctl *c, int node, bool kill, int64_t job, int index);
/* Node i was heard from now: its last_seen_ms and heartbeat deadline. */
void ctl_node_seen(struct sc_ctl *c, int i, int64_t now_mono);
/* The timers of job j (its max runtime, begin time, fence hold), as they
 * are now; called when one of them is set. */
void ctl_job_timers(struct sc_ctl *c, const struct ctl_job *j);
/* Wakes node's parked poll, if any (mu held). */
void ctl_node_wake(struct sc_ctl *c, int node);

/* Store rows of a job, a task, a node (whole or state only), added to b
 * (errors stay on b). ctl_batch_job adds the job row and every task row. */
void ctl_batch_job_row(struct sc_ctl *c, struct sc_store_batch *b, const struct ctl_job *j);
void ctl_batch_task_row(struct sc_ctl *c, struct sc_store_batch *b, const struct ctl_job *j,
                        int index);
void ctl_batch_job(struct sc_ctl *c, struct sc_store_batch *b, struct ctl_job *j);
/* The usage record of task index of j as memory has it (t->usage), added
 * to b; ctl_batch_task_row adds it with the task's row. */
void ctl_batch_usage_row(struct sc_ctl *c, struct sc_store_batch *b, const struct ctl_job *j,
                         int index);
void ctl_batch_node(struct sc_store_batch *b, const struct ctl_node *n, bool state_only);

/* Submits b (under mu) when it holds writes or an error; the caller then
 * waits with ctl_finish after unlocking. Returns whether it must wait. */
bool ctl_submit_locked(struct sc_ctl *c, struct sc_store_batch *b);
/*
 * Waits for b if submitted, frees it, returns 0 or SC_ESTORE (SC_ENOMEM
 * when b could not even be built). On failure the jobs and nodes whose
 * rows b carried are marked stale (memory is ahead of the store) and are
 * rewritten whole by the scheduling thread or the next event on them.
 * Takes mu itself: call it unlocked.
 */
int ctl_finish(struct sc_ctl *c, struct sc_store_batch *b, bool submitted);
/* Ends a change made under mu: when rc is 0 submits b, drops mu and waits
 * for it (ctl_finish); else drops mu and frees b. Returns rc, or
 * SC_ESTORE when b did not commit. */
int ctl_commit_unlock(struct sc_ctl *c, struct sc_store_batch *b, int rc);
/* Marks j (or node i) stale: its rows are rewritten soon. */
void ctl_mark_job_stale(struct sc_ctl *c, struct ctl_job *j);
void ctl_mark_node_stale(struct sc_ctl *c, int i);
/* Adds the rows of every stale job and node to b and clears the marks
 * (ctl_finish sets them again if b fails). */
void ctl_batch_stale(struct sc_ctl *c, struct sc_store_batch *b);

void ctl_notify_locked(struct sc_ctl *c);
/* Wakes log followers: call after a change is durable (they read the
 * store), never before, or they re-read the old state and sleep on. */
void ctl_wake_logs_locked(struct sc_ctl *c);

/* Checks the pending queue and alive lists against the jobs and nodes
 * (O(all tasks)): 0 or SC_ESTATE. Sanitizer builds run it after passes. */
int ctl_check(const struct sc_ctl *c);

/* ---- ctl_tenant.c: tenants ---- */

int ctl_tenants_load(struct sc_ctl *c);
void ctl_tenants_free(struct sc_ctl *c);
const struct ctl_tenant *ctl_tenant_find(const struct sc_ctl *c, const char *name);
/* What j's tasks that hold resources now hold: cpu, memory, gpu (milli)
 * and gpu.MODEL per device model. */
void ctl_job_usage(const struct sc_ctl *c, const struct ctl_job *j, struct sc_res_set *out);
/* The regions spec may run in: its own list within its tenant's allowlist
 * ('|'-separated into buf; "" when neither rules). Returns false when the
 * two do not meet (nothing allowed). */
bool ctl_allowed_regions(const struct sc_ctl *c, const struct sc_job_spec *s, char *buf,
                         size_t size);
/* Whether region (a node's, "" none) is in allowed ("" allows any node). */
bool ctl_region_allowed(const char *allowed, const char *region);
/* The tenant's ancestors, nearest first, into up (at most max): how many. */
int ctl_tenant_ancestors(const struct sc_ctl *c, const struct ctl_tenant *t,
                         const struct ctl_tenant **up, int max);
/* The counters of tenant name, NULL when it is not known. */
struct ctl_tenant_counts *ctl_tenant_counts(struct sc_ctl *c, const char *name);
/* Gives tenant name an id if it has none, and adds its row to b unless
 * durable: 0 or SC_ENOMEM. */
int ctl_tenant_ensure(struct sc_ctl *c, const char *name, struct sc_store_batch *b);
/* After b committed: the tenants whose rows it held (as they are now) are
 * durable. */
void ctl_tenant_settle(struct sc_ctl *c, const struct sc_store_batch *b);

/* ---- ctl_deps.c: dependencies ---- */

/* Resolves spec's dependencies into out (spec->ndeps of them) by reading
 * the store (call it unlocked): 0, SC_EINVAL (msg: "after ok:j-000007: no
 * job j-000007"), or a store error. */
int ctl_deps_resolve(struct sc_ctl *c, const struct sc_job_spec *spec, struct ctl_dep *out,
                     char *msg, size_t size);
/* Gives j (in memory) its resolved dependencies and counts what they wait
 * for (one store read per range not all in memory); a dependency already
 * impossible dooms j. 0, SC_ENOMEM or SC_ESTORE. */
int ctl_deps_attach(struct sc_ctl *c, struct ctl_job *j, const struct ctl_dep *deps, int n);
/* Job x ended: settles the dependencies on it (waiters may run, or are
 * doomed). */
void ctl_deps_final(struct sc_ctl *c, const struct ctl_job *x);
/* A doomed waiter still pending, taken off the list; NULL when none. */
struct ctl_job *ctl_deps_next_doomed(struct sc_ctl *c);

/* ---- ctl_quota.c: tenant limits ---- */

struct ctl_quota;
/* The core's tenancy for a pass over cluster cl (borrowed until
 * ctl_quota_end): the tree, what runs now. 0, SC_EINVAL (the core refused
 * the tree: logged) or SC_ENOMEM. */
int ctl_quota_begin(struct sc_ctl *c, const struct sc_cluster *cl, struct ctl_quota **q);
void ctl_quota_end(struct ctl_quota *q);
/* Orders jobs[n] (kept, compacted in place) by fair share: 0 or SC_E*. */
int ctl_quota_order(struct sc_ctl *c, struct ctl_quota *q, struct ctl_job **jobs, int n);
/* The next job to try (its position in *at), NULL when none is left; then
 * ctl_quota_done says whether it was placed (charged) or not (skipped). */
struct ctl_job *ctl_quota_next(struct ctl_quota *q, int *at);
void ctl_quota_done(struct sc_ctl *c, struct ctl_quota *q, int at, bool placed);
/* Charges placed job j to its tenant outside the order (before it). */
void ctl_quota_charge(struct sc_ctl *c, struct ctl_quota *q, const struct ctl_job *j);
/* Whether j may be admitted by the core's quota check (limits, lend
 * limits, capacity); per-model rules narrow sh's models (cl's ids). When
 * not, j->quota_reason says why. */
bool ctl_quota_admit(struct sc_ctl *c, struct ctl_quota *q, struct ctl_job *j,
                     const struct sc_cluster *cl, struct sc_shape *sh);
/* Whether v, requeued by a preemption, must leave the capacity it freed
 * to its preemptor: while the preemptor waits for its other victims. */
bool ctl_quota_victim_waits(const struct sc_ctl *c, const struct ctl_job *v);
/* Whether j could take capacity back at all: a standard job while a spot
 * job runs, or of a tenant with a guarantee on its path (reclaim) or a
 * priority preemption rule. A cheap test before a victim search. */
bool ctl_quota_may_preempt(struct sc_ctl *c, const struct ctl_quota *q, const struct ctl_job *j);
/* Job j (gang: its shapes in cl) does not fit: the running jobs the core
 * would evict so it starts (reclaim of borrowed capacity, else priority
 * within its tenant when allowed), into victims (room for every running
 * job) and *kind. map: controller node -> cl node. 0 with victims, or
 * SC_ENOFIT (none may go, or victims of j are still stopping), SC_ENOMEM. */
int ctl_quota_victims(struct sc_ctl *c, struct ctl_quota *q, struct ctl_job *j,
                      const struct sc_cluster *cl, const struct sc_policy *policy,
                      const int *map, const int *inverse, const struct sc_shape *gang,
                      struct ctl_job **victims, int *nvictims, const char **kind);
/* What runs, as the core's preemption and backfill see it: jobs whose
 * tasks are all on nodes of the pass (map: controller node -> cl node),
 * owner[i] the controller's job of jobs[i]. With q, jobs of tenants
 * outside the core's tree are left out and .tenant is the core's leaf;
 * without, every running job is in (.tenant -1). .end is on the
 * monotonic clock (ms): start + max_runtime, SC_TIME_NEVER without one. */
struct ctl_running {
  struct sc_run_job *jobs;
  struct sc_run_task *tasks;
  struct ctl_job **owner;
  int n;
};
int ctl_running_build(struct sc_ctl *c, struct ctl_quota *q, const struct sc_cluster *cl,
                      const int *map, struct ctl_running *r);
void ctl_running_free(struct ctl_running *r);
/* Whether preemptor j still waits for victims to stop (its nominated
 * nodes are then kept from other jobs). */
bool ctl_quota_nominated(const struct sc_ctl *c, const struct ctl_job *j);

/* ---- ctl_state.c: the state machine ---- */

enum ctl_event {
  /* job events (ctl_job_event) */
  CTL_EV_ASSIGNED,    /* the gang was placed: args.placements, args.inverse */
  CTL_EV_UNASSIGNED,  /* its placement did not commit: pending again */
  CTL_EV_CANCEL,      /* a user cancelled it */
  CTL_EV_TIMEOUT,     /* it ran past its max runtime */
  CTL_EV_FAIL,        /* it failed (args.reason), retried if attempts remain */
  CTL_EV_INTERRUPT,   /* the controller stops (supercell up): requeued when
                         requeue or attempts remain, else failed (args.reason) */
  CTL_EV_DEP_NEVER,   /* a dependency can never be met: cancelled */
  CTL_EV_PREEMPT,     /* taken back (args.by, args.kind): requeued whole,
                         retries untouched; its processes get a notice */
  /* task events (ctl_task_event), reported from args.node */
  CTL_EV_RUNNING,     /* a process runs (args.pid, 0 unknown) */
  CTL_EV_EXITED,      /* its process ended (args.exit_code, args.signal) */
  CTL_EV_LOST,        /* its process or node is lost (args.reason) */
  CTL_EV_GONE,        /* a process no longer wanted there has ended */
};

struct ctl_event_args {
  int node;
  int attempt;                           /* the reporter's attempt, -1 unknown */
  int64_t pid;
  int exit_code, signal;
  const char *reason;
  int64_t started_ms, ended_ms;          /* RUNNING, EXITED: the process's
                                            start and end by the agent's
                                            clock (Unix ms), 0 unknown */
  const struct sc_placement *placements; /* CTL_EV_ASSIGNED: one per task */
  const int *inverse;                    /* cluster node -> controller node */
  int64_t by;                            /* CTL_EV_PREEMPT: the preemptor, 0 */
  const char *kind;                      /* ... and why: reclaim, priority,
                                            operator */
};

/* Applies a job event to j, adding the rows it changes to b. */
void ctl_job_event(struct sc_ctl *c, struct ctl_job *j, enum ctl_event ev,
                   const struct ctl_event_args *args, struct sc_store_batch *b);
/* Applies a task event to t; a report about a process the node should not
 * run queues its kill there. Adds the rows it changes to b. */
void ctl_task_event(struct sc_ctl *c, struct ctl_task *t, enum ctl_event ev,
                    const struct ctl_event_args *args, struct sc_store_batch *b);

/* The GPU time (milli-GPU x ms / 1000: GPU-ms) running job j would lose if
 * it were preempted at wall time now: what its running tasks hold times the
 * time since its last checkpoint or, when later or none, since this
 * attempt started. 0 for a job not running. For the victim chooser. */
int64_t ctl_job_work_lost_gpu_ms(const struct ctl_job *j, int64_t now);

/* ---- ctl_preempt.c ---- */

/* Fills in its options when unset (max_checkpoint_grace_ms) and takes the
 * task key (random when none is given): 0 or an SC_E* code. */
int ctl_preempt_init(struct sc_ctl *c);

/* ---- ctl_timeline.c: the fleet timeline ---- */

/* Fills in its options when unset and allocates the ring: 0 or SC_ENOMEM. */
int ctl_timeline_init(struct sc_ctl *c);
void ctl_timeline_release(struct sc_ctl *c);
/* Adds a sample of cluster cl (the schedulable nodes with what their live
 * tasks hold) taken at wall time now, its fragmentation measured against
 * typ (NULL: no workload known yet). O(nodes x typ's shapes). */
void ctl_timeline_record(struct sc_ctl *c, const struct sc_cluster *cl,
                         const struct sc_typical *typ, int64_t now);

/* ---- ctl_tick.c ---- */

#define CTL_TICK_MS 200 /* the scheduling thread ticks this often */

/* What came due (timers), rows to rewrite, compaction; mu held, dropped
 * to commit. */
void ctl_tick(struct sc_ctl *c);

/* ---- ctl_sched.c ---- */

void *ctl_sched_main(void *arg);
/* Frees the scheduling thread's buffers (after sc_ctl_stop). */
void ctl_sched_release(struct sc_ctl *c);
/* Takes a timeline sample now (mu held): the cluster and FGD's workload
 * built as a pass builds them. The scheduling thread calls it when one is
 * due; tests call it directly. */
void ctl_sched_sample(struct sc_ctl *c);
/* The fleet as a pass would see it now (ready, undrained nodes with what
 * live tasks hold) into cl, and FGD's target workload from the window of
 * recent tasks into typ (n 0 when the window is empty); mu held. Both
 * are the caller's to release (sc_cluster_release, sc_typical_release),
 * also on failure: 0 or SC_ENOMEM. */
int ctl_sched_fleet(struct sc_ctl *c, struct sc_cluster *cl, struct sc_typical *typ);

#endif
