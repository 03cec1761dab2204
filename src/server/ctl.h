/*
 * The controller: in-memory model of active jobs and nodes, rebuilt from the
 * store at start, changed only under one mutex and written through to the
 * store in the same order (batches queued under the mutex). Assignments are
 * published to agents only after their commit is durable, so a kill -9 of
 * the controller never lets a task run twice at once. A scheduling thread
 * places pending gangs with the core and watches heartbeats and runtimes.
 *
 * The controller speaks plain structs: the API files decode requests into
 * them and encode its replies (codec.c), so no JSON crosses this header.
 */
#ifndef SC_SERVER_CTL_H
#define SC_SERVER_CTL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/frag.h"
#include "core/policy.h"
#include "server/spec.h"
#include "server/tenant_rules.h"
#include "store/store.h"
#include "util/histogram.h"

struct sc_ctl;

struct sc_ctl_opts {
  const struct sc_policy *policy;   /* default fgd */
  int64_t heartbeat_timeout_ms;     /* default 30 s */
  int64_t grace_ms;                 /* SIGTERM -> SIGKILL, default 10 s */
  int64_t fence_after_ms;           /* agents cut off this long stop their
                                       tasks; 0: twice the heartbeat
                                       timeout; < 0: never (and work of a
                                       lost node is requeued at once) */
  int window;                       /* tasks in FGD's target workload, 1000 */
  /* A fixed target workload instead (--fgd-target): keys with their model
   * lists as text (masks unset), borrowed; NULL: the window's. */
  const struct sc_typical_key *target;
  int ntarget;
  int64_t max_checkpoint_grace_ms;  /* the longest preemption notice a job
                                       may ask (checkpoint_grace): 0 is
                                       taken as the default, 10 min */
  const unsigned char *task_key;    /* 32 bytes that sign task credentials
                                       (kept in the state dir, so they stay
                                       valid across restarts); NULL: random */
  /* The wall clock (Unix ms) for what is stored and shown; NULL: the
   * system's. Timeouts and deadlines never read it: they run on the
   * monotonic clock, so a stepped wall clock changes only timestamps. */
  int64_t (*wall_ms)(void);
  /* The fleet timeline (sc_ctl_timeline): one sample every
   * timeline_interval_ms (0: 5 s; at most one per scheduler tick, 200
   * ms), the last timeline_samples kept (0: 720, an hour at 5 s). */
  int64_t timeline_interval_ms;
  int timeline_samples;
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
  uint64_t failed_commits;    /* store batches that did not commit */
  int stale;                  /* jobs and nodes whose rows await a rewrite */
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

/*
 * Submits a validated spec (its text and run move to the controller; spec
 * is left released). Returns 0 once the job is durable, with out filled
 * (caller releases it with sc_job_rec_release); SC_ESTORE or SC_ENOMEM
 * otherwise, and then nothing of the job exists.
 */
int sc_ctl_submit(struct sc_ctl *c, struct sc_job_spec *spec, struct sc_job_rec *out);

/*
 * Cancels job id (tenant != NULL restricts to that tenant: others are
 * SC_ENOENT). Returns 0, SC_ENOENT, SC_ESTATE (already finished) or SC_ESTORE.
 */
int sc_ctl_cancel(struct sc_ctl *c, int64_t id, const char *tenant);

/* A node as GET /v1/nodes shows it: its record (labels owned) and the
 * milli-GPU in use on each of its devices. */
struct sc_node_view {
  struct sc_node_rec rec;
  int milli_used[SC_STORE_MAX_DEVICES];
};

/* Copies the nodes into *out (caller frees with sc_ctl_nodes_free). */
int sc_ctl_nodes(struct sc_ctl *c, struct sc_node_view **out, int *n);
void sc_ctl_nodes_free(struct sc_node_view *nodes, int n);

/* ---- the fleet timeline (ctl_timeline.c, docs/operations.md) ---- */

/* One sample of the schedulable fleet (ready nodes not drained), as the
 * scheduler sees it. */
struct sc_timeline_sample {
  int64_t at_ms;             /* wall clock, Unix ms */
  int nodes;                 /* ready, not drained */
  int gpus;                  /* their devices */
  int64_t gpu_milli_used;    /* held by live tasks, in milli-GPU */
  double frag_milli;         /* FGD's fragmented milli-GPU (core/frag.h)
                                against the recent workload; < 0 when no
                                workload is known yet (no job submitted) */
  int pending;               /* jobs pending */
};

/* The samples taken after since_ms (wall, Unix ms; 0: all), oldest first,
 * copied into *out (caller frees), and the sampling interval. 0 or
 * SC_ENOMEM (then *out NULL, *n 0). */
int sc_ctl_timeline(struct sc_ctl *c, int64_t since_ms, struct sc_timeline_sample **out,
                    int *n, int64_t *interval_ms);
/* The most samples the timeline keeps. */
int sc_ctl_timeline_capacity(struct sc_ctl *c);

/* ---- what /metrics shows (ctl_metrics.c; docs/operations.md) ---- */

/* Why a pending job waits, as a bounded class: the first word of its
 * pending reason (sc_ctl_pending_reason), except that Priority and
 * Unsatisfiable count as Resources (telling them apart scans the fleet
 * for each job). */
enum sc_pending_class {
  SC_PENDING_NONE,             /* no pass has looked at it yet */
  SC_PENDING_RESOURCES,
  SC_PENDING_HELD,
  SC_PENDING_BEGIN_TIME,
  SC_PENDING_DEPENDENCY,
  SC_PENDING_DEPENDENCY_NEVER,
  SC_PENDING_QUOTA,
  SC_PENDING_ARRAY_LIMIT,
  SC_PENDING_NCLASSES
};
/* "None", "Resources", "Held", "BeginTime", "Dependency",
 * "DependencyNeverSatisfied", "QuotaExceeded", "JobArrayTaskLimit". */
const char *sc_pending_class_name(int cls);

/* Outcomes of a job's end (its final state - SC_JOB_SUCCEEDED) and kinds
 * of preemption (as SC_PREEMPT_KINDS lists them). */
#define SC_CTL_NOUTCOMES 3           /* succeeded, failed, cancelled */
#define SC_CTL_NPREEMPT_KINDS 3      /* reclaim, priority, operator */
const char *sc_preempt_kind_name(int kind);

/* One tenant's counters (since the controller started) and its active
 * jobs now. */
struct sc_ctl_tenant_metrics {
  char name[SC_STORE_TENANT_MAX];
  uint64_t submitted;                /* jobs (an array: each element) */
  uint64_t starts;                   /* attempts whose first task ran */
  uint64_t exits[SC_CTL_NOUTCOMES];  /* jobs that ended, by outcome */
  uint64_t preemptions[SC_CTL_NPREEMPT_KINDS]; /* its jobs preempted, by kind */
  double preempted_gpu_s[SC_CTL_NPREEMPT_KINDS]; /* the GPU-seconds of work
                                        they lost (since their last
                                        checkpoint or attempt start) */
  int running;
  int pending[SC_PENDING_NCLASSES];
};

/* The accelerators of one model in one region, on ready nodes. */
struct sc_ctl_pool_metrics {
  char model[64], region[64];        /* region "" : nodes without one */
  int devices;
  int64_t allocated_milli;           /* held by tasks (each device at most 1000) */
};

/* The nodes of one region by state and drained flag. */
struct sc_ctl_region_metrics {
  char region[64];
  int nodes[SC_NODE_NSTATES][2];     /* [state][drained] */
};

/* A snapshot for /metrics; arrays owned (sc_ctl_metrics_release). */
struct sc_ctl_metrics {
  struct sc_ctl_tenant_metrics *tenants;
  int ntenants;
  struct sc_ctl_pool_metrics *pools;
  int npools;
  struct sc_ctl_region_metrics *regions;
  int nregions;
  struct sc_histogram_snap pass_seconds;     /* scheduling passes' duration */
  struct sc_histogram_snap start_seconds;    /* submit to first start */
  bool frag_known;                   /* false: no ready GPU or no workload yet */
  double frag_milli;                 /* FGD's fragmented milli-GPU (core/frag.h) */
  double capacity_milli;             /* milli-GPU of ready, undrained nodes */
  double lock_held_s;                /* how long the snapshot held the lock */
};

/*
 * Takes a snapshot of the counters and gauges /metrics shows. The lock is
 * held for one walk of the nodes and active jobs and a copy of the fleet
 * as a scheduling pass sees it; the fragmentation is measured on that
 * copy after the lock is dropped. 0 or SC_ENOMEM (out released).
 */
int sc_ctl_metrics(struct sc_ctl *c, struct sc_ctl_metrics *out);
void sc_ctl_metrics_release(struct sc_ctl_metrics *m);

/* ---- preemption and checkpoints (docs/control-plane.md) ---- */

/* A task credential: "sct1.<job id>.<attempt>.<64 hex HMAC>". */
#define SC_TASK_TOKEN_MAX 128

/* The kinds a preemption may have; a preemptor names one. */
#define SC_PREEMPT_KINDS "reclaim|priority|operator"

/*
 * Preempts running job victim for job by (0: an operator) as kind
 * (reclaim, priority or operator): the job goes back to pending whole with
 * the reason "preempted by j-000123 (reclaim)", its attempt ends as
 * preempted (attempts table, usage records) and uses up none of its
 * retries; each of its processes gets its preempt_signal, a notice file
 * and SIGKILL after its checkpoint_grace (capped by
 * max_checkpoint_grace_ms), and holds its devices until its agent says it
 * is gone. Returns once durable: 0, SC_ENOENT, SC_ESTATE (not running),
 * SC_EINVAL (kind) or SC_ESTORE.
 */
int sc_ctl_preempt(struct sc_ctl *c, int64_t victim, int64_t by, const char *kind);

/* Who asks for a checkpoint to be recorded: a task (its credential's job
 * and attempt) or a user or admin (tenant NULL: any; attempt -1). */
struct sc_checkpoint_req {
  int64_t job;
  int attempt;                       /* a task's: that attempt's process
                                        must still live; -1: a user's */
  const char *tenant;                /* a user's: only its own jobs */
};

/* Records that job r->job checkpointed now (its last_checkpoint_at, kept
 * durably) into *at_ms. A task may while its attempt runs or its process
 * lives on in its grace; a user while the job runs or has processes alive.
 * 0, SC_ENOENT (no such job, or another tenant's), SC_EPERM (the
 * credential's attempt has no process any more), SC_ESTATE (nothing runs)
 * or SC_ESTORE. */
int sc_ctl_checkpoint(struct sc_ctl *c, const struct sc_checkpoint_req *r, int64_t *at_ms);

/* The credential of attempt of job (what its tasks get) into out. */
void sc_ctl_task_token(struct sc_ctl *c, int64_t job, int attempt, char out[SC_TASK_TOKEN_MAX]);
/* Checks a presented task credential's signature (not whether its attempt
 * still runs: sc_ctl_checkpoint does): 0 with *job and *attempt, or
 * SC_EAUTH. */
int sc_ctl_task_token_check(struct sc_ctl *c, const char *text, int64_t *job, int *attempt);
/* The controller's cap on checkpoint_grace, in ms. */
int64_t sc_ctl_max_checkpoint_grace_ms(struct sc_ctl *c);

/* ---- agent side ---- */

/* A task: job id and index. */
struct sc_task_ref {
  int64_t job_id;
  int index;
};

struct sc_agent_running {
  int64_t job_id;
  int index;
  int64_t pid;
};

struct sc_agent_reg {
  char name[SC_STORE_NODE_MAX];
  char address[64];
  int64_t cpu_milli, memory_mib;
  const char *labels;                /* JSON object text, borrowed */
  int ndev;
  struct sc_device_rec dev[SC_STORE_MAX_DEVICES];
  int nrunning;
  const struct sc_agent_running *running; /* borrowed */
};

struct sc_agent_update {
  int64_t job_id;
  int index;
  int attempt;                       /* the attempt the agent runs, -1 unknown */
  bool exited;                       /* false: running */
  int64_t pid;
  int exit_code, signal;             /* -1 unknown */
  char reason[64];                   /* exited: the agent's reason ("out of
                                        memory"), "" when none */
  int64_t started_ms, ended_ms;      /* the process's start and (exited)
                                        end on the node's clock, Unix ms;
                                        0 unknown */
};

/* A preemption notice that goes with a kill: the agent writes the notice
 * file in the task's working directory, sends signal (not SIGTERM) and
 * SIGKILL after grace_ms (not its usual grace). */
struct sc_kill_notice {
  struct sc_task_ref task;
  int signal;
  int64_t grace_ms;
  int64_t by;                        /* the preemptor's job id, 0: an operator */
  char kind[16];                     /* reclaim, priority, operator */
};

/* Tasks an agent must kill, and the notices of those preempted.
 * Caller-owned (zero it before use); release with sc_kill_list_release. */
struct sc_kill_list {
  struct sc_task_ref *items;
  int n, cap;
  struct sc_kill_notice *notices;
  int nnotices, capnotices;
};
void sc_kill_list_release(struct sc_kill_list *k);

/* One task to start on a node: all its agent needs. */
struct sc_task_start {
  struct sc_task_ref task;
  int count, attempt;                /* gang size; attempt of this start */
  int ndev;
  int devices[SC_STORE_MAX_DEVICES]; /* as the agent numbers them */
  char vendor[SC_STORE_VENDOR_MAX];
  int gpu_milli;
  int64_t cpu_milli, memory_mib, max_runtime_s, grace_s;
  char master_addr[64];
  int master_port;
  char tenant[SC_STORE_TENANT_MAX];
  int64_t tenant_id;                 /* agents run it as uid base + id ... */
  char run_as[SC_STORE_USER_MAX];    /* ... or as this user, when set */
  char task_token[SC_TASK_TOKEN_MAX]; /* its credential (SUPERCELL_TASK_TOKEN) */
  struct sc_spec_run *run;           /* counted reference */
};

#define SC_CTL_STARTS_MAX 32         /* starts per assignments reply */

/* A reply to an assignments poll. Release with sc_assignments_release. */
struct sc_assignments {
  int nstarts;
  struct sc_task_start starts[SC_CTL_STARTS_MAX];
  struct sc_kill_list kills;
};
void sc_assignments_release(struct sc_assignments *a);

/* Whether the registered nodes could ever run spec (each node empty, a
 * gang all at once, a task's devices of one model); when not, a message
 * naming what is missing into msg ("no node has 4 x H100 (largest: 2 x
 * H100 on gpu-017)", "no node has 5 x GPU (largest: 4 x A100 on gpu-017)").
 * True while no node is registered. */
bool sc_ctl_could_run(struct sc_ctl *c, const struct sc_job_spec *spec, char *msg, size_t size);
/* Why job id, pending, waits, in Slurm's words ("Resources",
 * "Unsatisfiable (...)", "None": not looked at yet) into buf; false when
 * it is not a pending job in memory. */
bool sc_ctl_pending_reason(struct sc_ctl *c, int64_t id, char *buf, size_t size);

/* Holds (hold) or releases pending job id (tenant != NULL: only its own).
 * A held job is not scheduled until released. 0, SC_ENOENT, SC_ESTATE (not
 * pending), SC_ENOMEM or SC_ESTORE. */
int sc_ctl_hold(struct sc_ctl *c, int64_t id, const char *tenant, bool hold);

/* The reason of a job cancelled because a dependency can never be met. */
#define SC_CTL_DEP_NEVER "DependencyNeverSatisfied"

/* Checks that the jobs spec depends on exist and are the spec tenant's
 * (reads the store): 0, SC_EINVAL with msg naming the dependency, or a
 * store error. */
int sc_ctl_deps_check(struct sc_ctl *c, const struct sc_job_spec *spec, char *msg, size_t size);

/* The reason of jobs running when `supercell up` stops. */
#define SC_CTL_INTERRUPTED "interrupted (supercell up stopped)"

/* Ends what runs, as a stopping `supercell up` does: each running job is
 * requeued when it has retries left or is marked requeue: true (it runs
 * again at the next start), else it fails with SC_CTL_INTERRUPTED; its
 * tasks are killed. Durable on return: 0 or SC_ESTORE. */
int sc_ctl_interrupt(struct sc_ctl *c);

/* Drains node name (no new work; drained while lost, its kept tasks are
 * lost and their jobs requeued) or puts it back in service. 0, SC_ENOENT,
 * SC_ENOMEM or SC_ESTORE. */
int sc_ctl_node_drain(struct sc_ctl *c, const char *name, bool drain);

/* Tenants (all, or only the one named only when non-NULL), by name; *out
 * freed with free(). 0 or SC_ENOMEM. */
int sc_ctl_tenant_list(struct sc_ctl *c, const char *only, struct sc_tenant_rec **out, int *n);
/* What a tenant write changes: each field only when its has_ flag is set;
 * rules (a JSON object, borrowed) goes through sc_rules_apply. */
struct sc_tenant_update {
  bool create;                /* SC_EEXIST when it exists */
  bool has_run_as, has_parent, has_weight;
  char run_as[SC_STORE_USER_MAX];
  char parent[SC_STORE_TENANT_MAX];
  double weight;
  struct json_t *rules;
};

/* Creates or changes tenant name as u says, keeping the tree sound: the
 * parent exists and is no descendant, children's guarantees fit in their
 * parent's, a child's regions within its parent's allowlist. Returns when
 * durable: 0 (out filled, its rules owned by the caller), SC_EEXIST,
 * SC_EINVAL (err), SC_ENOMEM or SC_ESTORE. */
int sc_ctl_tenant_put(struct sc_ctl *c, const char *name, const struct sc_tenant_update *u,
                      struct sc_tenant_rec *out, struct sc_rules_error *err);
/* Deletes tenant name: SC_ENOENT, SC_EBUSY (jobs not ended, or children;
 * msg says which), or 0 once durable. Its id is never given again. */
int sc_ctl_tenant_delete(struct sc_ctl *c, const char *name, char *msg, size_t size);
/* Per tenant (by name, as sc_ctl_tenant_list) what its tasks hold now and
 * what its subtree holds: gpu (milli), per model, cpu, memory. */
struct sc_tenant_usage {
  char name[SC_STORE_TENANT_MAX];
  struct sc_res_set own, subtree;
  int jobs_active;
};
int sc_ctl_tenant_usage(struct sc_ctl *c, struct sc_tenant_usage **out, int *n);
/* The allowlist in force for tenant name ("" none) into buf; whether it
 * exists. */
bool sc_ctl_tenant_regions(struct sc_ctl *c, const char *name, char *buf, size_t size);

/* Creates tenant name if new (its id is given now) and sets the node user
 * its tasks run as (run_as, "" = uid base + id; the caller checked it);
 * returns when durable: 0, SC_ENOMEM or SC_ESTORE. */
int sc_ctl_tenant_set(struct sc_ctl *c, const char *name, const char *run_as,
                      struct sc_tenant_rec *out);

/* Registers (or re-registers) node reg->name and reconciles what it runs;
 * fills kill (zeroed first). Returns 0, SC_ENOMEM or SC_ESTORE. */
int sc_ctl_register(struct sc_ctl *c, const struct sc_agent_reg *reg, struct sc_kill_list *kill);
/* The heartbeat interval agents are told (at register and in every
 * heartbeat reply): a quarter of the timeout, at most 1 s, and longer for
 * a large fleet so the controller takes at most about 1,000 heartbeats a
 * second (10,000 nodes: 10 s), never over a third of the timeout. */
int64_t sc_ctl_heartbeat_interval_ms(struct sc_ctl *c);
/* What agents are told: the fence timeout (0 = none). */
int64_t sc_ctl_fence_after_ms(struct sc_ctl *c);
/* ... and its grace (TERM to KILL), which fencing uses too. */
int64_t sc_ctl_grace_ms(struct sc_ctl *c);
/* The same for a heartbeat; SC_ENOENT when the node never registered (the
 * agent must register). */
int sc_ctl_heartbeat(struct sc_ctl *c, const char *name, const struct sc_agent_running *running,
                     int nrunning, struct sc_kill_list *kill);
int sc_ctl_status(struct sc_ctl *c, const char *name, const struct sc_agent_update *u, int n);
/*
 * Long-polls up to wait_ms for node name's starts and kills (out zeroed
 * first, released by the caller). What it returns counts as delivered:
 * if the reply then cannot be sent, hand it to sc_ctl_assignments_undo.
 * Returns 0, SC_ENOENT (unknown node) or SC_ENOMEM (nothing was taken).
 */
int sc_ctl_assignments(struct sc_ctl *c, const char *name, int64_t wait_ms,
                       struct sc_assignments *out);
/*
 * The same long-poll without a blocked thread, for an event-driven front.
 * A wake-up: wake(arg), called at most once per registration, under the
 * controller's lock (so it may only signal: never call back in).
 */
struct sc_ctl_waker {
  void (*wake)(void *arg);
  void *arg;          /* identifies the registration */
};
/* One poll's progress, zeroed before its first call. */
struct sc_ctl_poll {
  uint64_t seq;
  bool started;
};
/*
 * Takes node name's starts and kills into out (zeroed first). 0: answer
 * now (with them, or empty: a newer poll of the node superseded this one,
 * the controller stops, or deadline_ms, monotonic, has come). SC_EAGAIN:
 * nothing yet; w is registered with the node and woken when it has some,
 * when a newer poll supersedes this one, or when the controller stops:
 * then call again with the same p. SC_ENOENT: unknown node. Only the
 * node's changes wake it (not every change of the fleet).
 */
int sc_ctl_assignments_poll(struct sc_ctl *c, const char *name, struct sc_ctl_poll *p,
                            int64_t deadline_ms, const struct sc_ctl_waker *w,
                            struct sc_assignments *out);
/* Drops registration arg of node name if it is still there (the request
 * ended some other way): it will not be woken. */
void sc_ctl_poll_cancel(struct sc_ctl *c, const char *name, void *arg);
/*
 * Takes back a reply of sc_ctl_assignments for node name that never
 * reached its agent: its starts become deliverable again at once and its
 * kills are queued again where their processes may still run. Agents
 * ignore a start of a task they run.
 */
void sc_ctl_assignments_undo(struct sc_ctl *c, const char *name, const struct sc_assignments *a);
/* A chunk of a task's output, from the agent of node. */
struct sc_log_chunk {
  const char *node;                  /* the reporting node; NULL: not checked (admin) */
  int64_t job_id;
  int index;
  int attempt;                       /* -1: the attempt of the process alive there */
  int64_t offset;                    /* offsets restart at 0 with each attempt */
  const char *data;
  size_t len;
};

/* Appends a chunk. It is taken only while a process of that attempt lives
 * on that node: SC_ENOENT for an unknown task, SC_EPERM for one whose
 * process does not live there (unassigned, another node's, finished, or
 * another attempt); nothing is stored then. SC_ESTORE when the write fails. */
int sc_ctl_log_append(struct sc_ctl *c, const struct sc_log_chunk *chunk);

/* ---- log readers ---- */

/* Blocks until the log generation differs from *gen or until the
 * monotonic time deadline_ms (sc_clock_mono_ms); updates *gen. */
void sc_ctl_log_wait(struct sc_ctl *c, uint64_t *gen, int64_t deadline_ms);
uint64_t sc_ctl_log_generation(struct sc_ctl *c);
/* The same without a blocked thread: 0 with *gen updated when the
 * generation differs from *gen (or the controller stops); SC_EAGAIN with
 * w registered (woken, as above, at the next log append); SC_ENOMEM. */
int sc_ctl_log_park(struct sc_ctl *c, uint64_t *gen, const struct sc_ctl_waker *w);
void sc_ctl_log_cancel(struct sc_ctl *c, void *arg);

#endif
