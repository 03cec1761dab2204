/*
 * A fault-injecting store over another one (see store.h). Every call counts
 * towards fail_call; every submitted batch towards fail_every and
 * stall_every. A failed batch is never handed to the inner store, so
 * nothing of it is written, and its wait returns SC_ESTORE; a stalled one
 * is committed normally and acknowledged stall_ms late. Reads that fail
 * return SC_ESTORE with their outputs empty. Settings and counters are
 * guarded by the wrapper's mutex.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "util/error.h"
#include "util/vec.h"

enum fate { FATE_OK, FATE_FAIL, FATE_STALL };

struct sc_store {
  const struct sc_store_ops *ops;  /* first, as store.c expects */
  struct sc_store *inner;
  pthread_mutex_t mu;
  struct sc_store_faults f;
  struct sc_store_fault_stats st;
  struct sc_store_batch **marked;  /* batches failed or stalled here */
  enum fate *fates;
  int nmarked, capmarked, capfates;
};

static const struct sc_store_ops faulty_ops;

/* Counts one call; true when it is the one to fail. */
static bool call_fails(struct sc_store *s)
{
  bool fail;

  pthread_mutex_lock(&s->mu);
  s->st.calls++;
  fail = s->f.fail_call > 0 && --s->f.fail_call == 0;
  s->st.failed_calls += fail;
  pthread_mutex_unlock(&s->mu);
  return fail;
}

int sc_store_faulty_new(struct sc_store *inner, struct sc_store **out)
{
  struct sc_store *s = calloc(1, sizeof *s);

  *out = NULL;
  if (!s)
    return SC_ENOMEM;
  s->ops = &faulty_ops;
  s->inner = inner;
  pthread_mutex_init(&s->mu, NULL);
  *out = s;
  return 0;
}

void sc_store_faulty_set(struct sc_store *s, const struct sc_store_faults *f)
{
  pthread_mutex_lock(&s->mu);
  s->f = *f;
  pthread_mutex_unlock(&s->mu);
}

void sc_store_faulty_stats(struct sc_store *s, struct sc_store_fault_stats *out)
{
  pthread_mutex_lock(&s->mu);
  *out = s->st;
  pthread_mutex_unlock(&s->mu);
}

static int faulty_open(const char *path, struct sc_store **out)
{
  (void)path;
  *out = NULL;
  return SC_EINVAL; /* made by sc_store_faulty_new over an open store */
}

static void faulty_close(struct sc_store *s)
{
  sc_store_close(s->inner);
  free(s->marked);
  free(s->fates);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

/* The fate of the next batch (mu held). */
static enum fate next_fate(struct sc_store *s)
{
  int64_t k = ++s->st.batches;

  if (s->f.fail_every > 0 && k % s->f.fail_every == 0)
    return FATE_FAIL;
  if (s->f.fail_percent > 0) {
    s->f.seed = s->f.seed * 1103515245u + 12345u; /* an LCG: replayable per seed */
    if ((int)((s->f.seed >> 16) % 100) < s->f.fail_percent)
      return FATE_FAIL;
  }
  if (s->f.stall_every > 0 && k % s->f.stall_every == 0)
    return FATE_STALL;
  return FATE_OK;
}

/* Takes b's mark off the list: FATE_OK when it had none. */
static enum fate take_mark(struct sc_store *s, struct sc_store_batch *b)
{
  enum fate fate = FATE_OK;

  pthread_mutex_lock(&s->mu);
  for (int i = 0; i < s->nmarked; i++)
    if (s->marked[i] == b) {
      fate = s->fates[i];
      s->marked[i] = s->marked[--s->nmarked];
      s->fates[i] = s->fates[s->nmarked];
      break;
    }
  pthread_mutex_unlock(&s->mu);
  return fate;
}

static int faulty_submit(struct sc_store *s, struct sc_store_batch *b)
{
  enum fate fate;
  int rc;

  if (call_fails(s))
    return SC_ESTORE;
  pthread_mutex_lock(&s->mu);
  fate = next_fate(s);
  rc = fate == FATE_OK ? 0 : sc_vec_reserve(&s->marked, &s->capmarked, s->nmarked + 1,
                                             sizeof *s->marked);
  if (rc == 0 && fate != FATE_OK)
    rc = sc_vec_reserve(&s->fates, &s->capfates, s->nmarked + 1, sizeof *s->fates);
  if (rc == 0 && fate != FATE_OK) {
    s->marked[s->nmarked] = b;
    s->fates[s->nmarked++] = fate;
    s->st.failed_batches += fate == FATE_FAIL;
    s->st.stalled_batches += fate == FATE_STALL;
  }
  pthread_mutex_unlock(&s->mu);
  if (rc < 0 || fate == FATE_FAIL)
    return rc;
  if ((rc = sc_store_submit(s->inner, b)) < 0)
    take_mark(s, b);
  return rc;
}

static int faulty_wait(struct sc_store *s, struct sc_store_batch *b)
{
  enum fate fate = take_mark(s, b);
  int stall_ms;

  if (fate == FATE_FAIL)
    return SC_ESTORE;
  if (fate == FATE_STALL) {
    pthread_mutex_lock(&s->mu);
    stall_ms = s->f.stall_ms;
    pthread_mutex_unlock(&s->mu);
    usleep((useconds_t)stall_ms * 1000);
  }
  return sc_store_wait(s->inner, b);
}

static int faulty_job_get(struct sc_store *s, int64_t id, struct sc_job_rec *out)
{
  if (call_fails(s)) {
    memset(out, 0, sizeof *out);
    return SC_ESTORE;
  }
  return sc_store_job_get(s->inner, id, out);
}

static int faulty_job_head(struct sc_store *s, int64_t id, struct sc_job_rec *out)
{
  if (call_fails(s)) {
    memset(out, 0, sizeof *out);
    return SC_ESTORE;
  }
  return sc_store_job_head(s->inner, id, out);
}

static int faulty_task_page(struct sc_store *s, int64_t job_id, int after, int limit,
                            struct sc_task_rec **out, int *n)
{
  *out = NULL;
  *n = 0;
  return call_fails(s) ? SC_ESTORE : sc_store_task_page(s->inner, job_id, after, limit, out, n);
}

static int faulty_job_list(struct sc_store *s, const struct sc_job_filter *f,
                           struct sc_job_rec **out, int *n)
{
  *out = NULL;
  *n = 0;
  return call_fails(s) ? SC_ESTORE : sc_store_job_list(s->inner, f, out, n);
}

static int faulty_jobs_active(struct sc_store *s, struct sc_job_rec **out, int *n)
{
  *out = NULL;
  *n = 0;
  return call_fails(s) ? SC_ESTORE : sc_store_jobs_active(s->inner, out, n);
}

static int faulty_max_job_id(struct sc_store *s, int64_t *id)
{
  *id = 0;
  return call_fails(s) ? SC_ESTORE : sc_store_max_job_id(s->inner, id);
}

static int faulty_node_list(struct sc_store *s, struct sc_node_rec **out, int *n)
{
  *out = NULL;
  *n = 0;
  return call_fails(s) ? SC_ESTORE : sc_store_node_list(s->inner, out, n);
}

static int faulty_token_list(struct sc_store *s, struct sc_token_rec **out, int *n)
{
  *out = NULL;
  *n = 0;
  return call_fails(s) ? SC_ESTORE : sc_store_token_list(s->inner, out, n);
}

static int faulty_tenant_list(struct sc_store *s, struct sc_tenant_rec **out, int *n)
{
  *out = NULL;
  *n = 0;
  return call_fails(s) ? SC_ESTORE : sc_store_tenant_list(s->inner, out, n);
}

static int faulty_attempt_list(struct sc_store *s, int64_t job_id, struct sc_attempt_rec **out,
                               int *n)
{
  *out = NULL;
  *n = 0;
  return call_fails(s) ? SC_ESTORE : sc_store_attempt_list(s->inner, job_id, out, n);
}

static int faulty_usage_report(struct sc_store *s, const struct sc_usage_query *q,
                               struct sc_usage_row **out, int *n)
{
  *out = NULL;
  *n = 0;
  return call_fails(s) ? SC_ESTORE : sc_store_usage_report(s->inner, q, out, n);
}

static int faulty_usage_list(struct sc_store *s, int64_t job_id, struct sc_usage_rec **out,
                             int *n)
{
  *out = NULL;
  *n = 0;
  return call_fails(s) ? SC_ESTORE : sc_store_usage_list(s->inner, job_id, out, n);
}

static int faulty_price_list(struct sc_store *s, struct sc_price_rec **out, int *n)
{
  *out = NULL;
  *n = 0;
  return call_fails(s) ? SC_ESTORE : sc_store_price_list(s->inner, out, n);
}

static int faulty_log_read(struct sc_store *s, const struct sc_log_query *q, char **data,
                           size_t *len, int64_t *end)
{
  *data = NULL;
  *len = 0;
  *end = q->offset;
  return call_fails(s) ? SC_ESTORE : sc_store_log_read(s->inner, q, data, len, end);
}

static void faulty_stats(struct sc_store *s, struct sc_store_stats *out)
{
  sc_store_stats(s->inner, out);
}

static const struct sc_store_ops faulty_ops = {
  .name = "faulty",
  .open = faulty_open,
  .close = faulty_close,
  .submit = faulty_submit,
  .wait = faulty_wait,
  .job_get = faulty_job_get,
  .job_head = faulty_job_head,
  .task_page = faulty_task_page,
  .job_list = faulty_job_list,
  .jobs_active = faulty_jobs_active,
  .max_job_id = faulty_max_job_id,
  .node_list = faulty_node_list,
  .token_list = faulty_token_list,
  .tenant_list = faulty_tenant_list,
  .attempt_list = faulty_attempt_list,
  .log_read = faulty_log_read,
  .usage_report = faulty_usage_report,
  .usage_list = faulty_usage_list,
  .price_list = faulty_price_list,
  .stats = faulty_stats,
};
