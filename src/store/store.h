/*
 * Durable controller state behind one interface (struct sc_store_ops), the
 * way SQLite hides its OS layer: the server calls sc_store_* wrappers and
 * never sees SQL. Writes travel in batches; a batch is atomic and, once
 * sc_store_wait returns 0, durable (it survives kill -9). Batches commit in
 * the order they were submitted, so callers that submit under their own lock
 * keep the store in the same order as their memory. See
 * docs/control-plane-contract.md for the meaning of the fields.
 */
#ifndef SC_STORE_STORE_H
#define SC_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/histogram.h"

#define SC_STORE_NAME_MAX 129    /* job names: 1..128 chars */
#define SC_STORE_TENANT_MAX 65   /* tenants: 1..64 chars */
#define SC_STORE_NODE_MAX 64     /* node names: 1..63 chars */
#define SC_STORE_REASON_MAX 128
#define SC_STORE_VENDOR_MAX 32
#define SC_STORE_MAX_DEVICES 16

enum sc_job_state {
  SC_JOB_PENDING, SC_JOB_RUNNING, SC_JOB_SUCCEEDED, SC_JOB_FAILED, SC_JOB_CANCELLED,
  SC_JOB_NSTATES
};

enum sc_task_state {
  SC_TASK_PENDING, SC_TASK_ASSIGNED, SC_TASK_RUNNING, SC_TASK_SUCCEEDED,
  SC_TASK_FAILED, SC_TASK_CANCELLED, SC_TASK_LOST, SC_TASK_NSTATES
};

enum sc_node_state { SC_NODE_READY, SC_NODE_LOST, SC_NODE_NSTATES };

/* Kinds are stored by name (sc_token_kind_name): a new kind goes last and
 * tokens stored before it keep their meaning. A metrics token may only
 * read /metrics. */
enum sc_token_kind {
  SC_TOKEN_ADMIN, SC_TOKEN_USER, SC_TOKEN_AGENT, SC_TOKEN_METRICS, SC_TOKEN_NKINDS
};

/* One task of a job. exit_code and signal are -1 when unknown. */
struct sc_task_rec {
  int64_t job_id;
  int index;
  int state;                         /* enum sc_task_state */
  char node[SC_STORE_NODE_MAX];      /* "" when not placed */
  int ndev;
  int devices[SC_STORE_MAX_DEVICES]; /* device indices as the agent numbers them */
  char vendor[SC_STORE_VENDOR_MAX];
  int gpu_milli;                     /* per device, 0 for CPU-only */
  int exit_code, signal;
  int attempt;
  int64_t pid;
  int64_t started_ms, finished_ms;   /* Unix ms, 0 = not yet */
};

/* A job. spec is the normalised JSON spec (owned when non-NULL); tasks are
 * owned and filled by reads (ntasks entries), ignored by JOB_UPDATE. */
struct sc_job_rec {
  int64_t id;
  char name[SC_STORE_NAME_MAX];
  char tenant[SC_STORE_TENANT_MAX];
  int priority;
  char *spec;
  int state;                          /* enum sc_job_state */
  char reason[SC_STORE_REASON_MAX];   /* "" = none */
  int64_t created_ms, started_ms, finished_ms;
  int attempt, max_retries;
  int ntasks;
  bool held;                          /* a user's hold: not scheduled */
  int64_t array_id;                   /* an array element: its array (the
                                         first element's id); 0 none */
  int array_index;                    /* its index in the array, -1 none */
  int preempted;                      /* attempts that ended preempted: they
                                         do not count against max_retries */
  int64_t checkpoint_ms;              /* its last checkpoint (Unix ms), 0 */
  int array_size;                     /* an array's first element read
                                         collapsed: elements, and by state */
  int array_counts[SC_JOB_NSTATES];
  struct sc_task_rec *tasks;
  int counts[SC_TASK_NSTATES];        /* tasks by state, when read with them */
};

/* One accelerator of a node: index as its agent numbers it. */
struct sc_device_rec {
  int index;
  char vendor[SC_STORE_VENDOR_MAX];
  char model[64];
  int64_t memory_mib;
};

/* A node as its agent registered it. labels is a JSON object text (owned,
 * {"region": "eu"}); dev its ndev devices (owned array; kept out of line
 * so store ops stay small); backends store devices as they see fit. */
struct sc_node_rec {
  char name[SC_STORE_NODE_MAX];
  char address[64];
  int64_t cpu_milli, memory_mib;
  char *labels;
  int ndev;
  struct sc_device_rec *dev;
  int state;                          /* enum sc_node_state */
  int64_t last_heartbeat_ms, registered_ms;
  bool drained;                       /* an operator's: no new work; its
                                         kept tasks count as lost when lost */
};

/* A token. The id is public (derived from the hash), the text is never
 * stored. An agent token bound to a node (node != "") may act only as that
 * node; one bound to none is a bootstrap token that may only register. */
#define SC_STORE_TOKEN_ID_MAX 16      /* "tk-" and 12 hex digits */
struct sc_token_rec {
  char id[SC_STORE_TOKEN_ID_MAX];
  unsigned char hash[32];             /* SHA-256 of the token text */
  int kind;                           /* enum sc_token_kind */
  char tenant[SC_STORE_TENANT_MAX];
  char node[SC_STORE_NODE_MAX];       /* agent tokens: their node, "" = bootstrap */
  int64_t created_ms, expires_ms;     /* Unix ms; expires 0 = never */
  int64_t last_used_ms;               /* as last written: at most a minute old */
  bool revoked;
};

/* A tenant: its stable numeric id (1, 2, ... in order of first use; an
 * agent runs its tasks as uid base + id) and the node user it maps to
 * instead ("" = none; never root). */
#define SC_STORE_USER_MAX 33          /* POSIX user names: 1..32 chars */
/* A tenant: its place in the tenant tree (parent, "" for a root), its
 * fair-share weight and its rules as JSON text (owned; NULL reads as "{}"):
 * {"guarantee": {"gpu": 8000, "gpu.A100-80G": 4000, "cpu": 64000,
 *  "memory": 524288}, "limit": {...}, "lend_limit": {...},
 *  "regions": ["eu"], "preempt_within": "never", "spot_over_limit": false}
 * (gpu in milli-GPUs, cpu in milli-CPUs, memory in MiB). */
struct sc_tenant_rec {
  char name[SC_STORE_TENANT_MAX];
  int64_t id;
  char run_as[SC_STORE_USER_MAX];
  int64_t created_ms;
  char parent[SC_STORE_TENANT_MAX];
  double weight;
  char *rules;
};

/* An attempt of a job that ended and was retried: why, and when it ran
 * (the job row holds its current attempt). */
struct sc_attempt_rec {
  int64_t job_id;
  int attempt;
  char reason[SC_STORE_REASON_MAX];
  int64_t started_ms, finished_ms;    /* Unix ms, 0 = it never started */
};

/* How a task attempt's usage ended (enum order is stored by name, see
 * sc_usage_end_name). */
enum sc_usage_end {
  SC_USAGE_RUNNING,     /* not yet: reports count it up to now */
  SC_USAGE_EXIT,        /* its process exited (exit_code, signal) */
  SC_USAGE_CANCEL,      /* cancelled: by a user, a failed sibling, a
                           dependency */
  SC_USAGE_PREEMPTED,   /* taken back for other work */
  SC_USAGE_NODE_LOST,   /* its node (or its process) was lost */
  SC_USAGE_TIMEOUT,     /* ran past its max runtime */
  SC_USAGE_INTERRUPTED, /* the controller stopped it (supercell up ends) */
  SC_USAGE_NENDS
};

/*
 * A usage record: what one task attempt held and for how long. Written in
 * the batch of the state change that starts the attempt (end_ms 0) and
 * rewritten whole by the one that ends it (see docs/accounting.md for
 * which end time counts). Keyed by (job_id, task, attempt).
 */
struct sc_usage_rec {
  int64_t job_id;
  int task, attempt;
  char tenant[SC_STORE_TENANT_MAX];
  char node[SC_STORE_NODE_MAX];
  char region[64];                    /* the node's "region" label, "" */
  char model[64];                     /* its devices' model, "" CPU only */
  char vendor[SC_STORE_VENDOR_MAX];
  int devices;                        /* devices held */
  int gpu_milli;                      /* of each: 1000 whole, 1..999 a share */
  int64_t cpu_milli, memory_mib;
  bool spot;                          /* the job is preemptible */
  int64_t start_ms, end_ms;           /* Unix ms; end 0 = still running */
  int how;                            /* enum sc_usage_end */
  int exit_code, signal;              /* how == exit: -1 when unknown */
};

/* A price version: from from_ms on (until the item's next version), an
 * item costs per_hour per unit-hour: a GPU model per device-hour, "cpu"
 * per core-hour, "memory" per GiB-hour; spot usage pays spot_per_hour
 * (< 0: none set, it pays per_hour). */
#define SC_STORE_ITEM_MAX 64
struct sc_price_rec {
  char item[SC_STORE_ITEM_MAX];
  int64_t from_ms;
  double per_hour, spot_per_hour;
  int64_t created_ms;
};

/* A usage report: the use of [since_ms, until_ms) (records still running
 * count up to now_ms), grouped by (enum sc_usage_by), of one subtree of
 * tenants (tenant: it and its descendants; NULL all) seen from another
 * (within: only tenants in its subtree; NULL no limit). */
enum sc_usage_by {
  SC_USAGE_BY_NONE, SC_USAGE_BY_TENANT, SC_USAGE_BY_MODEL, SC_USAGE_BY_REGION,
  SC_USAGE_BY_DAY, SC_USAGE_BY_JOB, SC_USAGE_BY_N
};

struct sc_usage_query {
  const char *tenant, *within;
  int64_t since_ms, until_ms, now_ms;
  int by;                            /* enum sc_usage_by */
};

/* One group of a report: its key ("" for SC_USAGE_BY_NONE; a tenant, a
 * model, a region, a UTC day "2026-01-31", a job id "j-000123"), the
 * record pieces it sums, use in unit-hours and cost at the prices in force
 * over each piece (cost = cost_on_demand + cost_spot). */
struct sc_usage_row {
  char key[80];
  int64_t records;
  double gpu_hours, spot_gpu_hours, cpu_core_hours, memory_gib_hours;
  double cost, cost_on_demand, cost_spot;
};

/* A chunk of a task's output. Offsets count bytes of one attempt's output
 * (a retried task starts again at 0); the store drops bytes it already
 * holds for that attempt and appends the rest at the end of the task's
 * (and the job's) stream. */
struct sc_log_rec {
  int64_t job_id;
  int task;
  int attempt;                        /* -1: the task's current attempt */
  int64_t offset;                     /* within this attempt's output */
  char *data;                         /* owned */
  size_t len;
};

enum sc_store_op_kind {
  SC_STORE_JOB_INSERT,  /* job row plus job.ntasks pending task rows */
  SC_STORE_JOB_UPDATE,  /* state, reason, times, attempt */
  SC_STORE_TASK_PUT,    /* whole task row */
  SC_STORE_NODE_PUT,    /* whole node row */
  SC_STORE_NODE_STATE,  /* state and last heartbeat only */
  SC_STORE_TOKEN_PUT,
  SC_STORE_LOG_APPEND,
  SC_STORE_TENANT_PUT,  /* whole tenant row */
  SC_STORE_ATTEMPT_PUT, /* a past attempt of a job */
  SC_STORE_USAGE_PUT,   /* whole usage record */
  SC_STORE_PRICE_PUT,   /* a price version (replaces one of the same item
                           and from_ms) */
};

struct sc_store_op {
  enum sc_store_op_kind kind;
  union {
    struct sc_job_rec job;
    struct sc_task_rec task;
    struct sc_node_rec node;
    struct sc_token_rec token;
    struct sc_log_rec log;
    struct sc_tenant_rec tenant;
    struct sc_attempt_rec attempt;
    struct sc_usage_rec usage;
    struct sc_price_rec price;
  } u;
};

/*
 * A batch of writes, committed atomically. Owns deep copies of its ops.
 * Adding keeps the first error on the batch (err), as SQLite keeps rc on
 * its objects: callers add without checking and sc_store_submit fails the
 * whole batch, so a batch is written entire or not at all.
 */
struct sc_store_batch {
  struct sc_store_op *ops;
  int n, cap;
  int err;                 /* first error of sc_store_batch_add, 0 */
  /* Backend bookkeeping (guarded by the backend). */
  struct sc_store_batch *next;
  bool done;
  int rc;
  double submitted_ms;     /* monotonic, when it was queued */
};

/* What the store's writes cost, since it was opened (for /metrics):
 * commits (one transaction of one or more batches: group commit, from
 * BEGIN to a durable COMMIT), each batch from its submission to its
 * result, and the batches that failed. */
struct sc_store_stats {
  struct sc_histogram_snap commit_seconds;
  struct sc_histogram_snap batch_seconds;
  uint64_t failed_batches;
};

/* Filters of sc_store_job_list. */
struct sc_job_filter {
  int state;             /* -1 = any */
  const char *tenant;    /* NULL = any */
  int64_t after;         /* ids > after */
  int limit;             /* max jobs returned */
  bool with_tasks;
  bool summary;          /* counts, not tasks; spec holds only its "tasks", "array",
                            "resources" and "models" (bounded, whatever the
                            spec's size) */
  bool collapse;         /* an array is one row, its first element's, with
                            array_size and array_counts (state matches when
                            any element is in it) */
  int64_t array_id;      /* > 0: only this array's elements */
  int array_index;       /* with array_id, >= 0: only this element */
};

/* A log read: output of one task (task >= 0) or of the whole job in arrival
 * order (task -1), from offset, at most max bytes. */
struct sc_log_query {
  int64_t job_id;
  int task;
  int64_t offset;
  size_t max;
  int attempt;           /* only this attempt's output; -1 all (offsets are
                            then the attempt's own for a task, the job
                            stream's for the whole job) */
};

struct sc_store;

struct sc_store_ops {
  const char *name;
  int (*open)(const char *path, struct sc_store **out);
  void (*close)(struct sc_store *s);
  int (*submit)(struct sc_store *s, struct sc_store_batch *b);
  int (*wait)(struct sc_store *s, struct sc_store_batch *b);
  int (*job_get)(struct sc_store *s, int64_t id, struct sc_job_rec *out);
  int (*job_head)(struct sc_store *s, int64_t id, struct sc_job_rec *out);
  int (*task_page)(struct sc_store *s, int64_t job_id, int after, int limit,
                   struct sc_task_rec **out, int *n);
  int (*job_list)(struct sc_store *s, const struct sc_job_filter *f,
                  struct sc_job_rec **out, int *n);
  int (*jobs_active)(struct sc_store *s, struct sc_job_rec **out, int *n);
  int (*max_job_id)(struct sc_store *s, int64_t *id);
  int (*node_list)(struct sc_store *s, struct sc_node_rec **out, int *n);
  int (*token_list)(struct sc_store *s, struct sc_token_rec **out, int *n);
  int (*tenant_list)(struct sc_store *s, struct sc_tenant_rec **out, int *n);
  int (*attempt_list)(struct sc_store *s, int64_t job_id, struct sc_attempt_rec **out, int *n);
  int (*log_read)(struct sc_store *s, const struct sc_log_query *q, char **data,
                  size_t *len, int64_t *end);
  int (*usage_report)(struct sc_store *s, const struct sc_usage_query *q,
                      struct sc_usage_row **out, int *n);
  int (*usage_list)(struct sc_store *s, int64_t job_id, struct sc_usage_rec **out, int *n);
  int (*price_list)(struct sc_store *s, struct sc_price_rec **out, int *n);
  void (*stats)(struct sc_store *s, struct sc_store_stats *out); /* NULL: none kept */
};

/* The embedded SQLite backend (store/sqlite.c): path is a database file. */
extern const struct sc_store_ops sc_store_sqlite;

/*
 * The PostgreSQL backend (store/pg*.c, on libpq): path is a libpq URI,
 * postgres://user@host/db or postgresql://...?host=/run/dir (a Unix socket
 * directory); passwords come from the URI, ~/.pgpass or PGPASSWORD, as
 * libpq reads them. The same records, order and durability as SQLite;
 * see docs/operations.md, "PostgreSQL store".
 */
extern const struct sc_store_ops sc_store_pg;

/*
 * The fencing seam for a standby controller: from the next commit on,
 * every transaction of s first checks that the lease row's epoch is still
 * epoch (holding it FOR SHARE until COMMIT), and fails whole with
 * SC_ESTORE once another controller has moved it on; 0 turns the check
 * off (the default). SC_EINVAL for a store that is not PostgreSQL.
 */
int sc_store_pg_fence(struct sc_store *s, int64_t epoch);

/*
 * Called from the store's writer thread each time a commit fails because
 * its epoch is over (another controller took the lease): the controller
 * must step down. fn must be quick; NULL turns it off.
 */
void sc_store_pg_on_fenced(struct sc_store *s, void (*fn)(void *arg, int64_t epoch), void *arg);

/*
 * Leader election among standby controllers on one PostgreSQL database
 * (store/pg_lease.c; docs/operations.md, "Standby controllers (HA)").
 * The lease row as a read sees it: the epoch of the current tenure (every
 * takeover adds one; 0: never held), the holder's advertised URL and
 * identity, its lease duration and the age of its last renewal, both on
 * the database's clock (so no machine's clock can make two leaders).
 */
#define SC_STORE_URL_MAX 256
#define SC_STORE_HOLDER_ID_MAX 72
struct sc_store_lease {
  int64_t epoch;
  char holder[SC_STORE_URL_MAX];
  char holder_id[SC_STORE_HOLDER_ID_MAX];
  int64_t lease_ms;
  int64_t age_ms;
};

/* Who asks for the lease, and for how long. */
struct sc_store_lease_req {
  const char *holder;      /* the URL it advertises */
  const char *holder_id;   /* its identity (its state directory's) */
  int64_t lease_ms;
  int64_t wait_ms;         /* the longest wait for the row's lock (commits
                              in flight hold it); past it, SC_ESTORE */
};

/*
 * Takes the lease for r when it is free: never held, lapsed (no renewal
 * for its holder's lease_ms, on the database's clock), or held by r's own
 * holder_id (a controller restarted on its state directory). Then, in one
 * transaction, the epoch goes up by one and the holder, lease_ms and
 * renewal are ours: *won is true and *out the new lease. Else *won is
 * false and *out the lease as it stands. The bump waits for the commits in
 * flight of the holder it replaces (they hold the row), so none of them
 * commits after it. 0, SC_ESTORE (out zeroed) or SC_EINVAL (not
 * PostgreSQL).
 */
int sc_store_pg_lease_acquire(struct sc_store *s, const struct sc_store_lease_req *r,
                              struct sc_store_lease *out, bool *won);
/* Renews lease epoch (renewal = the database's now): 0, SC_ESTATE when
 * the epoch moved on (another controller leads: step down), SC_ESTORE
 * when the database could not say. */
int sc_store_pg_lease_renew(struct sc_store *s, int64_t epoch, int64_t wait_ms);
/* Gives lease epoch up (a clean stop): its renewal is set back so that a
 * standby takes it at its next look. 0, SC_ESTATE, SC_ESTORE. */
int sc_store_pg_lease_release(struct sc_store *s, int64_t epoch);
/* Reads the lease row into *out: 0 or SC_ESTORE (out zeroed). */
int sc_store_pg_lease_read(struct sc_store *s, struct sc_store_lease *out);

/* The backend for a --store value: PostgreSQL for a postgres:// or
 * postgresql:// URI, SQLite (a file path) for anything else. */
const struct sc_store_ops *sc_store_backend(const char *where);

/*
 * A fault-injecting store (store/faulty.c) over another one, in the spirit
 * of SQLite's fault simulation: tests make the Nth call fail, or every Kth
 * commit (or a seeded random share of them) fail, nothing of it written,
 * or stall. Settings can change at
 * any time; counters say what happened.
 */
struct sc_store_faults {
  int64_t fail_call;     /* the Nth call from now (1 = the next) fails; 0 off */
  int fail_every;        /* every Kth submitted batch fails; 0 off */
  int stall_every;       /* every Kth submitted batch is acknowledged late */
  int stall_ms;
  int fail_percent;      /* each batch fails with this chance (0..100), drawn
                            from a generator seeded with seed: replayable */
  uint32_t seed;
};

struct sc_store_fault_stats {
  int64_t calls, batches, failed_calls, failed_batches, stalled_batches;
};

/* Wraps inner (ownership moves to the wrapper, which closes it). */
int sc_store_faulty_new(struct sc_store *inner, struct sc_store **out);
void sc_store_faulty_set(struct sc_store *s, const struct sc_store_faults *f);
void sc_store_faulty_stats(struct sc_store *s, struct sc_store_fault_stats *out);

/*
 * Opens the store at path with backend ops (creating the schema). Returns 0
 * or SC_ESTORE / SC_ENOMEM; *out is NULL on failure. sc_store_close waits
 * for queued batches and frees the store.
 */
int sc_store_open(const struct sc_store_ops *ops, const char *path, struct sc_store **out);
void sc_store_close(struct sc_store *s);

/* Batches: _new allocates an empty one (NULL when out of memory); _add
 * deep-copies op (strings and spec included) or records SC_ENOMEM in
 * b->err (a NULL b is ignored); _free frees it and its copies. */
struct sc_store_batch *sc_store_batch_new(void);
void sc_store_batch_add(struct sc_store_batch *b, const struct sc_store_op *op);
void sc_store_batch_free(struct sc_store_batch *b);

/*
 * Queues b for commit without waiting (the store borrows b until
 * sc_store_wait returns). Batches commit in submission order, several per
 * transaction (group commit). A NULL b is SC_ENOMEM and a batch with a
 * sticky error fails with it, before anything is queued. sc_store_wait
 * blocks until b is durable and returns its result: 0 or SC_ESTORE.
 * sc_store_write does both.
 */
int sc_store_submit(struct sc_store *s, struct sc_store_batch *b);
int sc_store_wait(struct sc_store *s, struct sc_store_batch *b);
int sc_store_write(struct sc_store *s, struct sc_store_batch *b);

/* Reads. Records returned are owned by the caller: release each job with
 * sc_job_rec_release, arrays with sc_store_free_jobs / _nodes / free(). */
int sc_store_job_get(struct sc_store *s, int64_t id, struct sc_job_rec *out);
/* A job's row and its task counts by state, not its tasks: what a request
 * about a job of thousands of tasks can afford. SC_ENOENT when unknown. */
int sc_store_job_head(struct sc_store *s, int64_t id, struct sc_job_rec *out);
/* Tasks of job_id with index > after, by index, at most limit (*out freed
 * with free()). */
int sc_store_task_page(struct sc_store *s, int64_t job_id, int after, int limit,
                       struct sc_task_rec **out, int *n);
int sc_store_job_list(struct sc_store *s, const struct sc_job_filter *f,
                      struct sc_job_rec **out, int *n);
int sc_store_jobs_active(struct sc_store *s, struct sc_job_rec **out, int *n);
int sc_store_max_job_id(struct sc_store *s, int64_t *id);
int sc_store_node_list(struct sc_store *s, struct sc_node_rec **out, int *n);
int sc_store_token_list(struct sc_store *s, struct sc_token_rec **out, int *n);
/* Every tenant, by id (*out freed with sc_store_free_tenants). */
int sc_store_tenant_list(struct sc_store *s, struct sc_tenant_rec **out, int *n);
/* A job's past attempts, by attempt (*out freed with free()). */
int sc_store_attempt_list(struct sc_store *s, int64_t job_id, struct sc_attempt_rec **out,
                          int *n);
/* Reads output into *data (malloc'd, NUL-terminated, *len bytes); *end is
 * the offset just past the returned bytes. */
int sc_store_log_read(struct sc_store *s, const struct sc_log_query *q, char **data,
                      size_t *len, int64_t *end);

/* A usage report (*out: one row per group, by key; freed with free()).
 * The aggregation and the piecewise pricing run in the store. */
int sc_store_usage_report(struct sc_store *s, const struct sc_usage_query *q,
                          struct sc_usage_row **out, int *n);
/* A job's usage records by task and attempt (*out freed with free()). */
int sc_store_usage_list(struct sc_store *s, int64_t job_id, struct sc_usage_rec **out, int *n);
/* Every price version, by item then from_ms (*out freed with free()). */
int sc_store_price_list(struct sc_store *s, struct sc_price_rec **out, int *n);
/* The cost of writes so far into out (zeroed when the backend keeps none):
 * callable from any thread at any time. */
void sc_store_stats(struct sc_store *s, struct sc_store_stats *out);

void sc_job_rec_release(struct sc_job_rec *j);
/* Frees the rules of tenants[0..n) and the array. */
void sc_store_free_tenants(struct sc_tenant_rec *tenants, int n);
void sc_node_rec_release(struct sc_node_rec *n);
/* Replaces n's devices with a copy of dev (ndev, at most
 * SC_STORE_MAX_DEVICES): 0 or SC_ENOMEM (n unchanged). */
int sc_node_rec_set_devices(struct sc_node_rec *n, const struct sc_device_rec *dev, int ndev);
void sc_store_free_jobs(struct sc_job_rec *jobs, int n);
void sc_store_free_nodes(struct sc_node_rec *nodes, int n);

/* Names of states and kinds as the API spells them, and back (-1 unknown). */
const char *sc_job_state_name(int state);
const char *sc_task_state_name(int state);
const char *sc_node_state_name(int state);
const char *sc_token_kind_name(int kind);
int sc_job_state_parse(const char *name);
int sc_token_kind_parse(const char *name);
int sc_task_state_parse(const char *name);
/* Usage ends ("running", "exit", "cancel", "preempted", "node_lost",
 * "timeout", "interrupted") and report groupings ("none", "tenant",
 * "model", "region", "day", "job"), and back (-1 unknown). */
const char *sc_usage_end_name(int how);
int sc_usage_end_parse(const char *name);
const char *sc_usage_by_name(int by);
int sc_usage_by_parse(const char *name);
/* True for succeeded, failed, cancelled (jobs) and those plus lost (tasks). */
bool sc_job_state_final(int state);
bool sc_task_state_final(int state);

#endif
