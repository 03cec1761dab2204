/*
 * SQLite backend, read side: queries on pooled read connections (WAL lets
 * them run beside the writer) and the decoding of rows into store records.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/rows.h"
#include "store/sqlite_int.h"
#include "util/error.h"
#include "util/vec.h"
#include "util/log.h"

/* ---- reads ---- */

static int pool_get(struct sc_store *s, sqlite3 **db)
{
  pthread_mutex_lock(&s->pool_mu);
  if (s->npool > 0) {
    *db = s->pool[--s->npool];
    pthread_mutex_unlock(&s->pool_mu);
    return 0;
  }
  pthread_mutex_unlock(&s->pool_mu);
  return sc_sqlite_open_conn(s->path, db);
}

static void pool_put(struct sc_store *s, sqlite3 *db)
{
  pthread_mutex_lock(&s->pool_mu);
  if (s->npool < POOL_MAX) {
    s->pool[s->npool++] = db;
    db = NULL;
  }
  pthread_mutex_unlock(&s->pool_mu);
  sqlite3_close(db);
}

int sc_sqlite_pool_get(struct sc_store *s, sqlite3 **db)
{
  return pool_get(s, db);
}

void sc_sqlite_pool_put(struct sc_store *s, sqlite3 *db)
{
  pool_put(s, db);
}

void sc_sqlite_copy_col(sqlite3_stmt *st, int col, char *dst, size_t size)
{
  const char *text = (const char *)sqlite3_column_text(st, col);
  size_t len = text ? strlen(text) : 0;

  if (len >= size)
    len = size - 1;
  if (len)
    memcpy(dst, text, len);
  dst[len] = '\0';
}

int sc_sqlite_col_code(sqlite3_stmt *st, int col)
{
  return sqlite3_column_type(st, col) == SQLITE_NULL ? -1 : sqlite3_column_int(st, col);
}

static void row_task(sqlite3_stmt *st, struct sc_task_rec *t)
{
  memset(t, 0, sizeof *t);
  t->job_id = sqlite3_column_int64(st, 0);
  t->index = sqlite3_column_int(st, 1);
  t->state = sc_task_state_parse((const char *)sqlite3_column_text(st, 2));
  sc_sqlite_copy_col(st, 3, t->node, sizeof t->node);
  if (sc_rows_task_devices_parse((const char *)sqlite3_column_text(st, 4), t) < 0)
    sc_warn("store: task j-%06lld.%d: unreadable devices, read as none", (long long)t->job_id,
            t->index);
  sc_sqlite_copy_col(st, 5, t->vendor, sizeof t->vendor);
  t->gpu_milli = sqlite3_column_int(st, 6);
  t->exit_code = sc_sqlite_col_code(st, 7);
  t->signal = sc_sqlite_col_code(st, 8);
  t->attempt = sqlite3_column_int(st, 9);
  t->pid = sqlite3_column_int64(st, 10);
  t->started_ms = sqlite3_column_int64(st, 11);
  t->finished_ms = sqlite3_column_int64(st, 12);
}

static int row_job(sqlite3_stmt *st, struct sc_job_rec *j)
{
  const char *spec = (const char *)sqlite3_column_text(st, 4);

  memset(j, 0, sizeof *j);
  j->id = sqlite3_column_int64(st, 0);
  sc_sqlite_copy_col(st, 1, j->name, sizeof j->name);
  sc_sqlite_copy_col(st, 2, j->tenant, sizeof j->tenant);
  j->priority = sqlite3_column_int(st, 3);
  j->spec = strdup(spec ? spec : "{}");
  j->state = sc_job_state_parse((const char *)sqlite3_column_text(st, 5));
  sc_sqlite_copy_col(st, 6, j->reason, sizeof j->reason);
  j->created_ms = sqlite3_column_int64(st, 7);
  j->started_ms = sqlite3_column_int64(st, 8);
  j->finished_ms = sqlite3_column_int64(st, 9);
  j->attempt = sqlite3_column_int(st, 10);
  j->max_retries = sqlite3_column_int(st, 11);
  j->ntasks = sqlite3_column_int(st, 12);
  j->held = sqlite3_column_int(st, 13) != 0;
  j->array_id = sqlite3_column_int64(st, 14);
  j->array_index = sqlite3_column_int(st, 15);
  j->preempted = sqlite3_column_int(st, 16);
  j->checkpoint_ms = sqlite3_column_int64(st, 17);
  return j->spec ? 0 : SC_ENOMEM;
}

static int load_tasks(sqlite3 *db, struct sc_job_rec *j)
{
  sqlite3_stmt *st = NULL;
  int rc = 0, n = 0;

  if (j->ntasks <= 0)
    return 0;
  j->tasks = calloc((size_t)j->ntasks, sizeof *j->tasks);
  if (!j->tasks)
    return SC_ENOMEM;
  if (sqlite3_prepare_v2(db, sc_sql_tasks_of_job, -1, &st, NULL) != SQLITE_OK)
    return SC_ESTORE;
  sqlite3_bind_int64(st, 1, j->id);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < j->ntasks)
    row_task(st, &j->tasks[n++]);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW)
    return SC_ESTORE;
  j->ntasks = n;
  return 0;
}

/* Fills j->counts: its tasks by state. */
static int load_counts(sqlite3 *db, struct sc_job_rec *j)
{
  sqlite3_stmt *st = NULL;
  int rc;

  memset(j->counts, 0, sizeof j->counts);
  if (sqlite3_prepare_v2(db, sc_sql_task_counts, -1, &st, NULL) != SQLITE_OK)
    return SC_ESTORE;
  sqlite3_bind_int64(st, 1, j->id);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    int state = sc_task_state_parse((const char *)sqlite3_column_text(st, 0));
    if (state >= 0 && state < SC_TASK_NSTATES)
      j->counts[state] = sqlite3_column_int(st, 1);
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : SC_ESTORE;
}

/* The elements of array j (its first element) by state. */
static int load_array_counts(sqlite3 *db, struct sc_job_rec *j)
{
  sqlite3_stmt *st = NULL;
  int rc;

  memset(j->array_counts, 0, sizeof j->array_counts);
  j->array_size = 0;
  if (sqlite3_prepare_v2(db, sc_sql_array_counts, -1, &st, NULL) != SQLITE_OK)
    return SC_ESTORE;
  sqlite3_bind_int64(st, 1, j->id);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    int state = sc_job_state_parse((const char *)sqlite3_column_text(st, 0));
    if (state >= 0 && state < SC_JOB_NSTATES)
      j->array_counts[state] = sqlite3_column_int(st, 1);
    j->array_size += sqlite3_column_int(st, 1);
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : SC_ESTORE;
}

/* Runs a job query already bound in st, appending jobs to *out. */
static int collect_jobs(sqlite3 *db, sqlite3_stmt *st, bool with_tasks, bool with_counts,
                        bool arrays, struct sc_job_rec **out, int *n)
{
  int cap = 0, rc = 0, step;

  *out = NULL;
  *n = 0;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    if ((rc = SC_VEC_RESERVE_ONE(*out, *n, cap)) < 0)
      break;
    rc = row_job(st, &(*out)[(*n)++]);
    if (rc == 0 && with_tasks)
      rc = load_tasks(db, &(*out)[*n - 1]);
    if (rc == 0 && with_counts)
      rc = load_counts(db, &(*out)[*n - 1]);
    if (rc == 0 && arrays && (*out)[*n - 1].array_id == (*out)[*n - 1].id)
      rc = load_array_counts(db, &(*out)[*n - 1]);
    if (rc < 0)
      break;
  }
  if (rc == 0 && step != SQLITE_DONE)
    rc = SC_ESTORE;
  if (rc < 0) {
    sc_store_free_jobs(*out, *n);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

/* Job id's row, then its tasks (job_get) or its task counts (job_head). */
static int job_one(struct sc_store *s, int64_t id, struct sc_job_rec *out,
                   int (*more)(sqlite3 *db, struct sc_job_rec *j))
{
  sqlite3 *db;
  sqlite3_stmt *st = NULL;
  int rc;

  memset(out, 0, sizeof *out);
  if ((rc = pool_get(s, &db)) < 0)
    return rc;
  if (sqlite3_prepare_v2(db, sc_sql_job_get, -1, &st, NULL) != SQLITE_OK) {
    pool_put(s, db);
    return SC_ESTORE;
  }
  sqlite3_bind_int64(st, 1, id);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    rc = row_job(st, out);
    if (rc == 0)
      rc = more(db, out);
  } else {
    rc = rc == SQLITE_DONE ? SC_ENOENT : SC_ESTORE;
  }
  sqlite3_finalize(st);
  pool_put(s, db);
  if (rc < 0)
    sc_job_rec_release(out);
  return rc;
}

int sc_sqlite_job_get(struct sc_store *s, int64_t id, struct sc_job_rec *out)
{
  return job_one(s, id, out, load_tasks);
}

int sc_sqlite_job_head(struct sc_store *s, int64_t id, struct sc_job_rec *out)
{
  return job_one(s, id, out, load_counts);
}

int sc_sqlite_task_page(struct sc_store *s, int64_t job_id, int after, int limit,
                        struct sc_task_rec **out, int *n)
{
  sqlite3 *db;
  sqlite3_stmt *st = NULL;
  int rc, cap = 0, step;

  *out = NULL;
  *n = 0;
  if ((rc = pool_get(s, &db)) < 0)
    return rc;
  if (sqlite3_prepare_v2(db, sc_sql_task_page, -1, &st, NULL) != SQLITE_OK) {
    pool_put(s, db);
    return SC_ESTORE;
  }
  sqlite3_bind_int64(st, 1, job_id);
  sqlite3_bind_int(st, 2, after);
  sqlite3_bind_int(st, 3, limit);
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    if ((rc = SC_VEC_RESERVE_ONE(*out, *n, cap)) < 0)
      break;
    row_task(st, &(*out)[(*n)++]);
  }
  if (rc == 0 && step != SQLITE_DONE)
    rc = SC_ESTORE;
  sqlite3_finalize(st);
  pool_put(s, db);
  if (rc < 0) {
    free(*out);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

int sc_sqlite_job_list(struct sc_store *s, const struct sc_job_filter *f,
                       struct sc_job_rec **out, int *n)
{
  char sql[1400];
  sqlite3 *db;
  sqlite3_stmt *st = NULL;
  int rc;

  *out = NULL;
  *n = 0;
  sc_rows_job_list_sql(f, f->summary ? sc_sql_job_summary_select : sc_sql_job_select, '?', sql,
                       sizeof sql);
  if ((rc = pool_get(s, &db)) < 0)
    return rc;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    pool_put(s, db);
    return SC_ESTORE;
  }
  sqlite3_bind_int64(st, 1, f->after);
  if (f->state >= 0)
    sqlite3_bind_text(st, 2, sc_job_state_name(f->state), -1, SQLITE_STATIC);
  if (f->tenant)
    sqlite3_bind_text(st, 3, f->tenant, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 4, f->array_id);
  sqlite3_bind_int(st, 5, f->array_index);
  rc = collect_jobs(db, st, f->with_tasks && !f->summary, f->summary, f->collapse, out, n);
  sqlite3_finalize(st);
  pool_put(s, db);
  return rc;
}

int sc_sqlite_jobs_active(struct sc_store *s, struct sc_job_rec **out, int *n)
{
  sqlite3 *db;
  sqlite3_stmt *st = NULL;
  int rc;

  *out = NULL;
  *n = 0;
  if ((rc = pool_get(s, &db)) < 0)
    return rc;
  if (sqlite3_prepare_v2(db, sc_sql_jobs_active, -1, &st, NULL) != SQLITE_OK) {
    pool_put(s, db);
    return SC_ESTORE;
  }
  rc = collect_jobs(db, st, true, false, false, out, n);
  sqlite3_finalize(st);
  pool_put(s, db);
  return rc;
}

/* Runs a one-row, one-integer query with one optional bound integer. */
static int query_int(struct sc_store *s, const char *sql, int64_t *value)
{
  sqlite3 *db;
  sqlite3_stmt *st = NULL;
  int rc;

  *value = 0;
  if ((rc = pool_get(s, &db)) < 0)
    return rc;
  rc = SC_ESTORE;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    *value = sqlite3_column_int64(st, 0);
    rc = 0;
  }
  sqlite3_finalize(st);
  pool_put(s, db);
  return rc;
}

int sc_sqlite_max_job_id(struct sc_store *s, int64_t *id)
{
  return query_int(s, "SELECT coalesce(max(id), 0) FROM jobs", id);
}

static void row_node(sqlite3_stmt *st, struct sc_node_rec *n)
{
  const char *labels = (const char *)sqlite3_column_text(st, 4);

  memset(n, 0, sizeof *n);
  sc_sqlite_copy_col(st, 0, n->name, sizeof n->name);
  sc_sqlite_copy_col(st, 1, n->address, sizeof n->address);
  n->cpu_milli = sqlite3_column_int64(st, 2);
  n->memory_mib = sqlite3_column_int64(st, 3);
  n->labels = strdup(labels ? labels : "{}");
  if (sc_rows_node_devices_parse((const char *)sqlite3_column_text(st, 5), n) < 0)
    sc_warn("store: node %s: unreadable devices, read as none", n->name);
  n->state = sqlite3_column_text(st, 6) &&
                     strcmp((const char *)sqlite3_column_text(st, 6), "ready") == 0
               ? SC_NODE_READY
               : SC_NODE_LOST;
  n->last_heartbeat_ms = sqlite3_column_int64(st, 7);
  n->registered_ms = sqlite3_column_int64(st, 8);
  n->drained = sqlite3_column_int(st, 9) != 0;
}

int sc_sqlite_collect_rows(struct sc_store *s, const char *sql, int64_t key, size_t elem_size,
                           int (*row)(sqlite3_stmt *, void *), void **out, int *n)
{
  sqlite3 *db;
  sqlite3_stmt *st = NULL;
  int rc, cap = 0, step = SQLITE_ERROR;

  *out = NULL;
  *n = 0;
  if ((rc = pool_get(s, &db)) < 0)
    return rc;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
    if (key >= 0)
      sqlite3_bind_int64(st, 1, key);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
      if ((rc = sc_vec_reserve(out, &cap, *n + 1, elem_size)) < 0)
        break;
      if ((rc = row(st, (char *)*out + (size_t)(*n)++ * elem_size)) < 0)
        break; /* the row counts: the caller frees what it holds */
    }
  }
  if (rc == 0 && step != SQLITE_DONE)
    rc = SC_ESTORE;
  sqlite3_finalize(st);
  pool_put(s, db);
  return rc;
}

static int row_node_any(sqlite3_stmt *st, void *dst)
{
  row_node(st, dst);
  return 0;
}

static int row_token(sqlite3_stmt *st, void *dst)
{
  struct sc_token_rec *t = dst;
  const void *hash = sqlite3_column_blob(st, 0);

  memset(t, 0, sizeof *t);
  if (hash && sqlite3_column_bytes(st, 0) == (int)sizeof t->hash)
    memcpy(t->hash, hash, sizeof t->hash);
  t->kind = sc_token_kind_parse((const char *)sqlite3_column_text(st, 1));
  sc_sqlite_copy_col(st, 2, t->tenant, sizeof t->tenant);
  t->created_ms = sqlite3_column_int64(st, 3);
  sc_sqlite_copy_col(st, 4, t->id, sizeof t->id);
  sc_sqlite_copy_col(st, 5, t->node, sizeof t->node);
  t->expires_ms = sqlite3_column_int64(st, 6);
  t->last_used_ms = sqlite3_column_int64(st, 7);
  t->revoked = sqlite3_column_int(st, 8) != 0;
  return 0;
}

static int row_tenant(sqlite3_stmt *st, void *dst)
{
  struct sc_tenant_rec *t = dst;

  memset(t, 0, sizeof *t);
  sc_sqlite_copy_col(st, 0, t->name, sizeof t->name);
  t->id = sqlite3_column_int64(st, 1);
  sc_sqlite_copy_col(st, 2, t->run_as, sizeof t->run_as);
  t->created_ms = sqlite3_column_int64(st, 3);
  sc_sqlite_copy_col(st, 4, t->parent, sizeof t->parent);
  t->weight = sqlite3_column_double(st, 5);
  t->rules = strdup(sqlite3_column_text(st, 6) ? (const char *)sqlite3_column_text(st, 6) : "{}");
  return t->rules ? 0 : SC_ENOMEM;
}

static int row_attempt(sqlite3_stmt *st, void *dst)
{
  struct sc_attempt_rec *a = dst;

  memset(a, 0, sizeof *a);
  a->job_id = sqlite3_column_int64(st, 0);
  a->attempt = sqlite3_column_int(st, 1);
  sc_sqlite_copy_col(st, 2, a->reason, sizeof a->reason);
  a->started_ms = sqlite3_column_int64(st, 3);
  a->finished_ms = sqlite3_column_int64(st, 4);
  return 0;
}

int sc_sqlite_attempt_list(struct sc_store *s, int64_t job_id, struct sc_attempt_rec **out,
                           int *n)
{
  void *rows;
  int rc = sc_sqlite_collect_rows(s, sc_sql_attempts, job_id, sizeof **out, row_attempt, &rows, n);

  *out = rows;
  if (rc < 0) {
    free(*out);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

int sc_sqlite_tenant_list(struct sc_store *s, struct sc_tenant_rec **out, int *n)
{
  void *rows;
  int rc = sc_sqlite_collect_rows(s, sc_sql_tenants, -1, sizeof **out, row_tenant, &rows, n);

  *out = rows;
  if (rc < 0) {
    sc_store_free_tenants(*out, *n);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

int sc_sqlite_node_list(struct sc_store *s, struct sc_node_rec **out, int *n)
{
  void *rows;
  int rc = sc_sqlite_collect_rows(s, sc_sql_nodes, -1, sizeof **out, row_node_any, &rows, n);

  *out = rows;
  if (rc < 0) {
    sc_store_free_nodes(*out, *n);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

int sc_sqlite_token_list(struct sc_store *s, struct sc_token_rec **out, int *n)
{
  void *rows;
  int rc = sc_sqlite_collect_rows(s, sc_sql_tokens, -1, sizeof **out, row_token, &rows, n);

  *out = rows;
  if (rc < 0) {
    free(*out);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

/* Appends bytes [from, n) of blob to the growing buffer, up to max total. */
static int buf_append(char **buf, size_t *len, size_t *cap, const char *blob, size_t n,
                      size_t max)
{
  if (*len + n > max)
    n = max - *len;
  if (*len + n + 1 > *cap) {
    size_t ncap = (*len + n + 1) * 2;
    char *grown = realloc(*buf, ncap);
    if (!grown)
      return SC_ENOMEM;
    *buf = grown;
    *cap = ncap;
  }
  memcpy(*buf + *len, blob, n);
  *len += n;
  (*buf)[*len] = '\0';
  return 0;
}

/* Reads rows (offset, data) of st from offset on into *data. */
static int log_collect(sqlite3_stmt *st, const struct sc_log_query *q, char **data,
                       size_t *len, int64_t *end)
{
  size_t cap = 0;
  int64_t cur = q->offset;
  int rc = 0, step;

  while (*len < q->max && (step = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t off = sqlite3_column_int64(st, 0);
    const char *blob = sqlite3_column_blob(st, 1);
    size_t n = (size_t)sqlite3_column_bytes(st, 1), skip;
    if (off + (int64_t)n <= cur)
      continue;
    if (off > cur)
      cur = off;
    skip = (size_t)(cur - off);
    size_t before = *len;
    if ((rc = buf_append(data, len, &cap, blob + skip, n - skip, q->max)) < 0)
      break;
    cur += (int64_t)(*len - before);
  }
  if (rc == 0 && !*data && !(*data = calloc(1, 1)))
    rc = SC_ENOMEM;
  *end = cur;
  return rc;
}

int sc_sqlite_log_read(struct sc_store *s, const struct sc_log_query *q, char **data,
                       size_t *len, int64_t *end)
{
  bool by_task = q->task >= 0, by_attempt = q->attempt >= 0;
  const char *start_sql = by_task ? (by_attempt ? sc_sql_log_task_att_start : sc_sql_log_task_start)
                                  : (by_attempt ? sc_sql_log_job_att_start : sc_sql_log_job_start);
  const char *read_sql = by_task ? (by_attempt ? sc_sql_log_task_att_read : sc_sql_log_task_read)
                                 : (by_attempt ? sc_sql_log_job_att_read : sc_sql_log_job_read);
  sqlite3 *db;
  sqlite3_stmt *st = NULL;
  int64_t start = 0;
  int rc, col = 2;

  *data = NULL;
  *len = 0;
  *end = q->offset;
  if ((rc = pool_get(s, &db)) < 0)
    return rc;
  rc = SC_ESTORE;
  if (sqlite3_prepare_v2(db, start_sql, -1, &st, NULL) != SQLITE_OK)
    goto out;
  sqlite3_bind_int64(st, 1, q->job_id);
  if (by_task)
    sqlite3_bind_int(st, col++, q->task);
  if (by_attempt)
    sqlite3_bind_int(st, col++, q->attempt);
  sqlite3_bind_int64(st, col, q->offset);
  if (sqlite3_step(st) == SQLITE_ROW)
    start = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  st = NULL;
  if (sqlite3_prepare_v2(db, read_sql, -1, &st, NULL) != SQLITE_OK)
    goto out;
  col = 2;
  sqlite3_bind_int64(st, 1, q->job_id);
  if (by_task)
    sqlite3_bind_int(st, col++, q->task);
  if (by_attempt)
    sqlite3_bind_int(st, col++, q->attempt);
  sqlite3_bind_int64(st, col, start);
  rc = log_collect(st, q, data, len, end);
out:
  sqlite3_finalize(st);
  pool_put(s, db);
  if (rc < 0) {
    free(*data);
    *data = NULL;
    *len = 0;
  }
  return rc;
}

