/*
 * The store interface: thin wrappers over a backend's ops table, write
 * batches (deep copies, so callers may change their memory right after
 * queueing) and the names of states. Backends live in their own files.
 */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/vec.h"

/* Every backend's struct sc_store starts with its ops pointer. */
struct sc_store {
  const struct sc_store_ops *ops;
};

int sc_store_open(const struct sc_store_ops *ops, const char *path, struct sc_store **out)
{
  *out = NULL;
  if (!ops || !path)
    return SC_EINVAL;
  return ops->open(path, out);
}

const struct sc_store_ops *sc_store_backend(const char *where)
{
  if (where && (strncmp(where, "postgres://", 11) == 0 || strncmp(where, "postgresql://", 13) == 0))
    return &sc_store_pg;
  return &sc_store_sqlite;
}

void sc_store_close(struct sc_store *s)
{
  if (s)
    s->ops->close(s);
}

struct sc_store_batch *sc_store_batch_new(void)
{
  return calloc(1, sizeof(struct sc_store_batch));
}

/* Deep-copies the owned strings of op into dst (already a shallow copy). */
static int op_copy_strings(struct sc_store_op *dst)
{
  switch (dst->kind) {
  case SC_STORE_JOB_INSERT:
  case SC_STORE_JOB_UPDATE:
    dst->u.job.tasks = NULL;
    if (dst->u.job.spec && !(dst->u.job.spec = strdup(dst->u.job.spec)))
      return SC_ENOMEM;
    return 0;
  case SC_STORE_NODE_PUT:
  case SC_STORE_NODE_STATE: {
    const struct sc_device_rec *dev = dst->u.node.dev;
    dst->u.node.dev = NULL;
    if (dst->u.node.labels && !(dst->u.node.labels = strdup(dst->u.node.labels)))
      return SC_ENOMEM;
    return sc_node_rec_set_devices(&dst->u.node, dev, dst->u.node.ndev);
  }
  case SC_STORE_TENANT_PUT:
    if (dst->u.tenant.rules && !(dst->u.tenant.rules = strdup(dst->u.tenant.rules)))
      return SC_ENOMEM;
    return 0;
  case SC_STORE_LOG_APPEND: {
    char *copy = malloc(dst->u.log.len + 1);
    if (!copy) {
      dst->u.log.data = NULL;
      return SC_ENOMEM;
    }
    memcpy(copy, dst->u.log.data, dst->u.log.len);
    copy[dst->u.log.len] = '\0';
    dst->u.log.data = copy;
    return 0;
  }
  default:
    return 0;
  }
}

static void op_release(struct sc_store_op *op)
{
  switch (op->kind) {
  case SC_STORE_JOB_INSERT:
  case SC_STORE_JOB_UPDATE:
    free(op->u.job.spec);
    break;
  case SC_STORE_NODE_PUT:
  case SC_STORE_NODE_STATE:
    sc_node_rec_release(&op->u.node);
    break;
  case SC_STORE_LOG_APPEND:
    free(op->u.log.data);
    break;
  case SC_STORE_TENANT_PUT:
    free(op->u.tenant.rules);
    break;
  default:
    break;
  }
}

void sc_store_free_tenants(struct sc_tenant_rec *tenants, int n)
{
  for (int i = 0; tenants && i < n; i++)
    free(tenants[i].rules);
  free(tenants);
}

void sc_store_batch_add(struct sc_store_batch *b, const struct sc_store_op *op)
{
  int rc;

  if (!b || b->err)
    return;
  if ((rc = SC_VEC_RESERVE_ONE(b->ops, b->n, b->cap)) < 0) {
    b->err = rc;
    return;
  }
  b->ops[b->n] = *op;
  rc = op_copy_strings(&b->ops[b->n]);
  if (rc < 0) {
    op_release(&b->ops[b->n]);
    b->err = rc;
    return;
  }
  b->n++;
}

void sc_store_batch_free(struct sc_store_batch *b)
{
  if (!b)
    return;
  for (int i = 0; i < b->n; i++)
    op_release(&b->ops[i]);
  free(b->ops);
  free(b);
}

int sc_store_submit(struct sc_store *s, struct sc_store_batch *b)
{
  if (!b)
    return SC_ENOMEM;
  if (b->err)
    return b->err;
  return s->ops->submit(s, b);
}

int sc_store_wait(struct sc_store *s, struct sc_store_batch *b)
{
  return s->ops->wait(s, b);
}

int sc_store_write(struct sc_store *s, struct sc_store_batch *b)
{
  int rc = sc_store_submit(s, b);

  return rc < 0 ? rc : sc_store_wait(s, b);
}

int sc_store_job_get(struct sc_store *s, int64_t id, struct sc_job_rec *out)
{
  return s->ops->job_get(s, id, out);
}

int sc_store_job_head(struct sc_store *s, int64_t id, struct sc_job_rec *out)
{
  return s->ops->job_head(s, id, out);
}

int sc_store_task_page(struct sc_store *s, int64_t job_id, int after, int limit,
                       struct sc_task_rec **out, int *n)
{
  return s->ops->task_page(s, job_id, after, limit, out, n);
}

int sc_store_job_list(struct sc_store *s, const struct sc_job_filter *f,
                      struct sc_job_rec **out, int *n)
{
  return s->ops->job_list(s, f, out, n);
}

int sc_store_jobs_active(struct sc_store *s, struct sc_job_rec **out, int *n)
{
  return s->ops->jobs_active(s, out, n);
}

int sc_store_max_job_id(struct sc_store *s, int64_t *id)
{
  return s->ops->max_job_id(s, id);
}

int sc_store_node_list(struct sc_store *s, struct sc_node_rec **out, int *n)
{
  return s->ops->node_list(s, out, n);
}

int sc_store_token_list(struct sc_store *s, struct sc_token_rec **out, int *n)
{
  return s->ops->token_list(s, out, n);
}

int sc_store_tenant_list(struct sc_store *s, struct sc_tenant_rec **out, int *n)
{
  return s->ops->tenant_list(s, out, n);
}

int sc_store_attempt_list(struct sc_store *s, int64_t job_id, struct sc_attempt_rec **out,
                          int *n)
{
  return s->ops->attempt_list(s, job_id, out, n);
}

int sc_store_log_read(struct sc_store *s, const struct sc_log_query *q, char **data,
                      size_t *len, int64_t *end)
{
  return s->ops->log_read(s, q, data, len, end);
}

int sc_store_usage_report(struct sc_store *s, const struct sc_usage_query *q,
                          struct sc_usage_row **out, int *n)
{
  return s->ops->usage_report(s, q, out, n);
}

int sc_store_usage_list(struct sc_store *s, int64_t job_id, struct sc_usage_rec **out, int *n)
{
  return s->ops->usage_list(s, job_id, out, n);
}

int sc_store_price_list(struct sc_store *s, struct sc_price_rec **out, int *n)
{
  return s->ops->price_list(s, out, n);
}

void sc_store_stats(struct sc_store *s, struct sc_store_stats *out)
{
  memset(out, 0, sizeof *out);
  if (s->ops->stats)
    s->ops->stats(s, out);
}

void sc_job_rec_release(struct sc_job_rec *j)
{
  free(j->spec);
  free(j->tasks);
  j->spec = NULL;
  j->tasks = NULL;
  j->ntasks = 0;
}

void sc_node_rec_release(struct sc_node_rec *n)
{
  free(n->labels);
  free(n->dev);
  n->labels = NULL;
  n->dev = NULL;
  n->ndev = 0;
}

int sc_node_rec_set_devices(struct sc_node_rec *n, const struct sc_device_rec *dev, int ndev)
{
  struct sc_device_rec *copy = NULL;

  if (ndev > SC_STORE_MAX_DEVICES)
    ndev = SC_STORE_MAX_DEVICES;
  if (ndev > 0 && !(copy = malloc((size_t)ndev * sizeof *copy)))
    return SC_ENOMEM;
  if (ndev > 0)
    memcpy(copy, dev, (size_t)ndev * sizeof *copy);
  free(n->dev);
  n->dev = copy;
  n->ndev = ndev > 0 ? ndev : 0;
  return 0;
}

void sc_store_free_jobs(struct sc_job_rec *jobs, int n)
{
  for (int i = 0; jobs && i < n; i++)
    sc_job_rec_release(&jobs[i]);
  free(jobs);
}

void sc_store_free_nodes(struct sc_node_rec *nodes, int n)
{
  for (int i = 0; nodes && i < n; i++)
    sc_node_rec_release(&nodes[i]);
  free(nodes);
}

static const char *const job_states[] = {"pending", "running", "succeeded", "failed",
                                         "cancelled"};
static const char *const task_states[] = {"pending", "assigned", "running", "succeeded",
                                          "failed", "cancelled", "lost"};
static const char *const node_states[] = {"ready", "lost"};
static const char *const token_kinds[] = {"admin", "user", "agent", "metrics"};
static const char *const usage_ends[] = {"running", "exit", "cancel", "preempted",
                                         "node_lost", "timeout", "interrupted"};
static const char *const usage_bys[] = {"none", "tenant", "model", "region", "day", "job"};

static const char *name_of(const char *const *names, int n, int value)
{
  return value >= 0 && value < n ? names[value] : "unknown";
}

static int parse_name(const char *const *names, int n, const char *text)
{
  for (int i = 0; text && i < n; i++)
    if (strcmp(names[i], text) == 0)
      return i;
  return -1;
}

const char *sc_job_state_name(int state)
{
  return name_of(job_states, SC_JOB_NSTATES, state);
}

const char *sc_task_state_name(int state)
{
  return name_of(task_states, SC_TASK_NSTATES, state);
}

const char *sc_node_state_name(int state)
{
  return name_of(node_states, SC_NODE_NSTATES, state);
}

const char *sc_token_kind_name(int kind)
{
  return name_of(token_kinds, SC_TOKEN_NKINDS, kind);
}

int sc_job_state_parse(const char *name)
{
  return parse_name(job_states, SC_JOB_NSTATES, name);
}

int sc_task_state_parse(const char *name)
{
  return parse_name(task_states, SC_TASK_NSTATES, name);
}

int sc_token_kind_parse(const char *name)
{
  return parse_name(token_kinds, SC_TOKEN_NKINDS, name);
}

const char *sc_usage_end_name(int how)
{
  return name_of(usage_ends, SC_USAGE_NENDS, how);
}

int sc_usage_end_parse(const char *name)
{
  return parse_name(usage_ends, SC_USAGE_NENDS, name);
}

const char *sc_usage_by_name(int by)
{
  return name_of(usage_bys, SC_USAGE_BY_N, by);
}

int sc_usage_by_parse(const char *name)
{
  return parse_name(usage_bys, SC_USAGE_BY_N, name);
}

bool sc_job_state_final(int state)
{
  return state == SC_JOB_SUCCEEDED || state == SC_JOB_FAILED || state == SC_JOB_CANCELLED;
}

bool sc_task_state_final(int state)
{
  return state == SC_TASK_SUCCEEDED || state == SC_TASK_FAILED ||
         state == SC_TASK_CANCELLED || state == SC_TASK_LOST;
}
