/*
 * SQLite backend of the store: one database file in WAL mode with
 * synchronous=FULL, so a commit is on disk when COMMIT returns. One writer
 * thread owns the write connection and commits queued batches in order,
 * many per transaction (group commit, each batch in its own savepoint so one
 * bad batch fails alone). Reads use a small pool of read connections.
 */
#include "store/store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_sql.h"
#include "util/error.h"
#include "util/log.h"

#define POOL_MAX 16
#define BATCHES_PER_TXN 512

struct sc_store {
  const struct sc_store_ops *ops;  /* first, as store.c expects */
  char *path;
  sqlite3 *wdb;
  sqlite3_stmt *stmts[SQL_NSTMTS];
  pthread_t writer;
  pthread_mutex_t mu;
  pthread_cond_t work, done;
  struct sc_store_batch *head, *tail;
  bool stop, writer_started;
  pthread_mutex_t pool_mu;
  sqlite3 *pool[POOL_MAX];
  int npool;
};

static int open_conn(const char *path, sqlite3 **out)
{
  sqlite3 *db = NULL;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;

  *out = NULL;
  if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
    sc_error("store: cannot open '%s': %s", path, db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return SC_ESTORE;
  }
  sqlite3_busy_timeout(db, 10000);
  if (sqlite3_exec(db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;", NULL, NULL,
                   NULL) != SQLITE_OK) {
    sqlite3_close(db);
    return SC_ESTORE;
  }
  *out = db;
  return 0;
}

static int exec(sqlite3 *db, const char *sql)
{
  char *err = NULL;

  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
    sc_error("store: %s", err ? err : "error");
    sqlite3_free(err);
    return SC_ESTORE;
  }
  return 0;
}

/* ---- writes (writer thread only) ---- */

static void bind_text_or_null(sqlite3_stmt *st, int col, const char *text)
{
  if (text && *text)
    sqlite3_bind_text(st, col, text, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(st, col);
}

static void bind_ms(sqlite3_stmt *st, int col, int64_t ms)
{
  if (ms > 0)
    sqlite3_bind_int64(st, col, ms);
  else
    sqlite3_bind_null(st, col);
}

static void bind_code(sqlite3_stmt *st, int col, int code)
{
  if (code >= 0)
    sqlite3_bind_int(st, col, code);
  else
    sqlite3_bind_null(st, col);
}

static int step_done(struct sc_store *s, sqlite3_stmt *st)
{
  int rc = sqlite3_step(st);

  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
    sc_error("store: write failed: %s", sqlite3_errmsg(s->wdb));
    return SC_ESTORE;
  }
  return 0;
}

static void format_devices(const struct sc_task_rec *t, char *buf, size_t size)
{
  size_t len = 0;

  buf[len++] = '[';
  for (int i = 0; i < t->ndev && i < SC_STORE_MAX_DEVICES && len + 8 < size; i++)
    len += (size_t)snprintf(buf + len, size - len, i ? ",%d" : "%d", t->devices[i]);
  buf[len++] = ']';
  buf[len] = '\0';
}

static int write_task(struct sc_store *s, const struct sc_task_rec *t)
{
  sqlite3_stmt *st = s->stmts[SQL_TASK_PUT];
  char devices[128];

  format_devices(t, devices, sizeof devices);
  sqlite3_bind_int64(st, 1, t->job_id);
  sqlite3_bind_int(st, 2, t->index);
  sqlite3_bind_text(st, 3, sc_task_state_name(t->state), -1, SQLITE_STATIC);
  bind_text_or_null(st, 4, t->node);
  sqlite3_bind_text(st, 5, devices, -1, SQLITE_TRANSIENT);
  bind_text_or_null(st, 6, t->vendor);
  sqlite3_bind_int(st, 7, t->gpu_milli);
  bind_code(st, 8, t->exit_code);
  bind_code(st, 9, t->signal);
  sqlite3_bind_int(st, 10, t->attempt);
  sqlite3_bind_int64(st, 11, t->pid);
  bind_ms(st, 12, t->started_ms);
  bind_ms(st, 13, t->finished_ms);
  return step_done(s, st);
}

static int write_job_insert(struct sc_store *s, const struct sc_job_rec *j)
{
  sqlite3_stmt *st = s->stmts[SQL_JOB_INSERT];
  struct sc_task_rec t;
  int rc;

  sqlite3_bind_int64(st, 1, j->id);
  sqlite3_bind_text(st, 2, j->name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, j->tenant, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 4, j->priority);
  sqlite3_bind_text(st, 5, j->spec ? j->spec : "{}", -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 6, sc_job_state_name(j->state), -1, SQLITE_STATIC);
  bind_text_or_null(st, 7, j->reason);
  bind_ms(st, 8, j->created_ms);
  sqlite3_bind_int(st, 9, j->attempt);
  sqlite3_bind_int(st, 10, j->max_retries);
  sqlite3_bind_int(st, 11, j->ntasks);
  rc = step_done(s, st);
  memset(&t, 0, sizeof t);
  t.job_id = j->id;
  t.exit_code = t.signal = -1;
  t.attempt = j->attempt;
  for (int i = 0; rc == 0 && i < j->ntasks; i++) {
    t.index = i;
    rc = write_task(s, &t);
  }
  return rc;
}

static int write_job_update(struct sc_store *s, const struct sc_job_rec *j)
{
  sqlite3_stmt *st = s->stmts[SQL_JOB_UPDATE];

  sqlite3_bind_int64(st, 1, j->id);
  sqlite3_bind_text(st, 2, sc_job_state_name(j->state), -1, SQLITE_STATIC);
  bind_text_or_null(st, 3, j->reason);
  bind_ms(st, 4, j->started_ms);
  bind_ms(st, 5, j->finished_ms);
  sqlite3_bind_int(st, 6, j->attempt);
  return step_done(s, st);
}

static int write_node(struct sc_store *s, const struct sc_node_rec *n, bool state_only)
{
  sqlite3_stmt *st = s->stmts[state_only ? SQL_NODE_STATE : SQL_NODE_PUT];

  sqlite3_bind_text(st, 1, n->name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, sc_node_state_name(n->state), -1, SQLITE_STATIC);
  bind_ms(st, 3, n->last_heartbeat_ms);
  if (!state_only) {
    sqlite3_bind_text(st, 4, n->address, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, n->cpu_milli);
    sqlite3_bind_int64(st, 6, n->memory_mib);
    sqlite3_bind_text(st, 7, n->labels ? n->labels : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, n->devices ? n->devices : "[]", -1, SQLITE_STATIC);
    bind_ms(st, 9, n->registered_ms);
  }
  return step_done(s, st);
}

static int write_token(struct sc_store *s, const struct sc_token_rec *t)
{
  sqlite3_stmt *st = s->stmts[SQL_TOKEN_PUT];

  sqlite3_bind_blob(st, 1, t->hash, sizeof t->hash, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, sc_token_kind_name(t->kind), -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, t->tenant, -1, SQLITE_STATIC);
  bind_ms(st, 4, t->created_ms);
  return step_done(s, st);
}

/* Returns the end offset found by a "... LIMIT 1" query, 0 when none. */
static int64_t query_end(sqlite3_stmt *st)
{
  int64_t end = 0;

  if (sqlite3_step(st) == SQLITE_ROW)
    end = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return end;
}

/* The attempt a log chunk belongs to: given, or the task's current one. */
static int log_attempt(struct sc_store *s, const struct sc_log_rec *l)
{
  sqlite3_stmt *st = s->stmts[SQL_TASK_ATTEMPT];

  if (l->attempt >= 0)
    return l->attempt;
  sqlite3_bind_int64(st, 1, l->job_id);
  sqlite3_bind_int(st, 2, l->task);
  return (int)query_end(st);
}

static int write_log(struct sc_store *s, const struct sc_log_rec *l)
{
  sqlite3_stmt *st;
  int64_t att_end, task_end, job_end, skip;
  int attempt = log_attempt(s, l);

  st = s->stmts[SQL_LOG_ATTEMPT_END];
  sqlite3_bind_int64(st, 1, l->job_id);
  sqlite3_bind_int(st, 2, l->task);
  sqlite3_bind_int(st, 3, attempt);
  att_end = query_end(st);
  skip = att_end - l->offset;
  if (skip < 0)
    skip = 0; /* a gap: the agent lost bytes; append what came */
  if ((size_t)skip >= l->len)
    return 0; /* a duplicate after a retry */
  st = s->stmts[SQL_LOG_TASK_END];
  sqlite3_bind_int64(st, 1, l->job_id);
  sqlite3_bind_int(st, 2, l->task);
  task_end = query_end(st);
  st = s->stmts[SQL_LOG_JOB_END];
  sqlite3_bind_int64(st, 1, l->job_id);
  job_end = query_end(st);
  st = s->stmts[SQL_LOG_APPEND];
  sqlite3_bind_int64(st, 1, l->job_id);
  sqlite3_bind_int(st, 2, l->task);
  sqlite3_bind_int64(st, 3, task_end);
  sqlite3_bind_int64(st, 4, job_end);
  sqlite3_bind_blob(st, 5, l->data + skip, (int)(l->len - (size_t)skip), SQLITE_STATIC);
  sqlite3_bind_int(st, 6, attempt);
  sqlite3_bind_int64(st, 7, l->offset + skip);
  return step_done(s, st);
}

static int write_op(struct sc_store *s, const struct sc_store_op *op)
{
  switch (op->kind) {
  case SC_STORE_JOB_INSERT:
    return write_job_insert(s, &op->u.job);
  case SC_STORE_JOB_UPDATE:
    return write_job_update(s, &op->u.job);
  case SC_STORE_TASK_PUT:
    return write_task(s, &op->u.task);
  case SC_STORE_NODE_PUT:
    return write_node(s, &op->u.node, false);
  case SC_STORE_NODE_STATE:
    return write_node(s, &op->u.node, true);
  case SC_STORE_TOKEN_PUT:
    return write_token(s, &op->u.token);
  case SC_STORE_LOG_APPEND:
    return write_log(s, &op->u.log);
  }
  return SC_EINVAL;
}

/* Applies one batch inside a savepoint; on error rolls back just it. */
static int write_batch(struct sc_store *s, struct sc_store_batch *b)
{
  int rc = step_done(s, s->stmts[SQL_SAVEPOINT]);

  for (int i = 0; rc == 0 && i < b->n; i++)
    rc = write_op(s, &b->ops[i]);
  if (rc < 0) {
    step_done(s, s->stmts[SQL_ROLLBACK_TO]);
    step_done(s, s->stmts[SQL_RELEASE]);
    return rc;
  }
  return step_done(s, s->stmts[SQL_RELEASE]);
}

/* Commits the chain of batches from first (count of them) in one transaction. */
static void commit_chain(struct sc_store *s, struct sc_store_batch *first, int count)
{
  int rc = step_done(s, s->stmts[SQL_BEGIN]);
  struct sc_store_batch *b = first;

  for (int i = 0; i < count; i++, b = b->next)
    b->rc = rc < 0 ? rc : write_batch(s, b);
  if (rc == 0 && step_done(s, s->stmts[SQL_COMMIT]) < 0) {
    step_done(s, s->stmts[SQL_ROLLBACK]);
    rc = SC_ESTORE;
  }
  pthread_mutex_lock(&s->mu);
  b = first;
  for (int i = 0; i < count; i++) {
    struct sc_store_batch *next = b->next;
    if (rc < 0)
      b->rc = rc;
    b->done = true;
    b->next = NULL;
    b = next;
  }
  pthread_cond_broadcast(&s->done);
  pthread_mutex_unlock(&s->mu);
}

static void *writer_main(void *arg)
{
  struct sc_store *s = arg;

  pthread_mutex_lock(&s->mu);
  for (;;) {
    struct sc_store_batch *first, *b;
    int count = 0;
    while (!s->head && !s->stop)
      pthread_cond_wait(&s->work, &s->mu);
    if (!s->head)
      break;
    first = s->head;
    for (b = first; b && count < BATCHES_PER_TXN; b = b->next)
      count++;
    s->head = b;
    if (!b)
      s->tail = NULL;
    pthread_mutex_unlock(&s->mu);
    commit_chain(s, first, count);
    pthread_mutex_lock(&s->mu);
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

static int sqlite_submit(struct sc_store *s, struct sc_store_batch *b)
{
  b->done = false;
  b->rc = 0;
  b->next = NULL;
  pthread_mutex_lock(&s->mu);
  if (s->stop) {
    pthread_mutex_unlock(&s->mu);
    return SC_ESTATE;
  }
  if (s->tail)
    s->tail->next = b;
  else
    s->head = b;
  s->tail = b;
  pthread_cond_signal(&s->work);
  pthread_mutex_unlock(&s->mu);
  return 0;
}

static int sqlite_wait(struct sc_store *s, struct sc_store_batch *b)
{
  int rc;

  pthread_mutex_lock(&s->mu);
  while (!b->done)
    pthread_cond_wait(&s->done, &s->mu);
  rc = b->rc;
  pthread_mutex_unlock(&s->mu);
  return rc;
}

/* ---- open / close ---- */

static int prepare_all(struct sc_store *s)
{
  for (int i = 0; i < SQL_NSTMTS; i++)
    if (sqlite3_prepare_v3(s->wdb, sc_sql_stmts[i], -1, SQLITE_PREPARE_PERSISTENT,
                           &s->stmts[i], NULL) != SQLITE_OK) {
      sc_error("store: prepare %d: %s", i, sqlite3_errmsg(s->wdb));
      return SC_ESTORE;
    }
  return 0;
}

/* Brings a database made by an older version up to date. */
static int migrate(sqlite3 *db)
{
  sqlite3_stmt *st = NULL;
  bool has_attempt = false;

  if (sqlite3_prepare_v2(db, "PRAGMA table_info(logs)", -1, &st, NULL) != SQLITE_OK)
    return SC_ESTORE;
  while (sqlite3_step(st) == SQLITE_ROW)
    has_attempt = has_attempt ||
                  strcmp((const char *)sqlite3_column_text(st, 1), "attempt") == 0;
  sqlite3_finalize(st);
  if (!has_attempt && exec(db, sc_sql_migrate_1) < 0)
    return SC_ESTORE;
  return exec(db, sc_sql_log_index);
}

static void sqlite_close(struct sc_store *s)
{
  if (!s)
    return;
  if (s->writer_started) {
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->writer, NULL);
  }
  for (int i = 0; i < SQL_NSTMTS; i++)
    sqlite3_finalize(s->stmts[i]);
  for (int i = 0; i < s->npool; i++)
    sqlite3_close(s->pool[i]);
  sqlite3_close(s->wdb);
  pthread_mutex_destroy(&s->mu);
  pthread_mutex_destroy(&s->pool_mu);
  pthread_cond_destroy(&s->work);
  pthread_cond_destroy(&s->done);
  free(s->path);
  free(s);
}

static int sqlite_open(const char *path, struct sc_store **out)
{
  struct sc_store *s = calloc(1, sizeof *s);
  int rc;

  *out = NULL;
  if (!s || !(s->path = strdup(path))) {
    free(s);
    return SC_ENOMEM;
  }
  s->ops = &sc_store_sqlite;
  pthread_mutex_init(&s->mu, NULL);
  pthread_mutex_init(&s->pool_mu, NULL);
  pthread_cond_init(&s->work, NULL);
  pthread_cond_init(&s->done, NULL);
  rc = open_conn(path, &s->wdb);
  if (rc == 0)
    rc = exec(s->wdb, "PRAGMA journal_mode=WAL");
  if (rc == 0)
    rc = exec(s->wdb, sc_sql_schema);
  if (rc == 0)
    rc = migrate(s->wdb);
  if (rc == 0)
    rc = prepare_all(s);
  if (rc == 0 && pthread_create(&s->writer, NULL, writer_main, s) != 0)
    rc = SC_ENOMEM;
  if (rc < 0) {
    sqlite_close(s);
    return rc;
  }
  s->writer_started = true;
  *out = s;
  return 0;
}

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
  return open_conn(s->path, db);
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

static void copy_col(sqlite3_stmt *st, int col, char *dst, size_t size)
{
  const char *text = (const char *)sqlite3_column_text(st, col);
  size_t len = text ? strlen(text) : 0;

  if (len >= size)
    len = size - 1;
  if (len)
    memcpy(dst, text, len);
  dst[len] = '\0';
}

static int col_code(sqlite3_stmt *st, int col)
{
  return sqlite3_column_type(st, col) == SQLITE_NULL ? -1 : sqlite3_column_int(st, col);
}

static void parse_devices(const char *text, struct sc_task_rec *t)
{
  const char *p = text ? text : "";

  t->ndev = 0;
  while (*p && t->ndev < SC_STORE_MAX_DEVICES) {
    char *end;
    long v;
    while (*p && (*p < '0' || *p > '9'))
      p++;
    if (!*p)
      break;
    v = strtol(p, &end, 10);
    t->devices[t->ndev++] = (int)v;
    p = end;
  }
}

static void row_task(sqlite3_stmt *st, struct sc_task_rec *t)
{
  memset(t, 0, sizeof *t);
  t->job_id = sqlite3_column_int64(st, 0);
  t->index = sqlite3_column_int(st, 1);
  t->state = sc_task_state_parse((const char *)sqlite3_column_text(st, 2));
  copy_col(st, 3, t->node, sizeof t->node);
  parse_devices((const char *)sqlite3_column_text(st, 4), t);
  copy_col(st, 5, t->vendor, sizeof t->vendor);
  t->gpu_milli = sqlite3_column_int(st, 6);
  t->exit_code = col_code(st, 7);
  t->signal = col_code(st, 8);
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
  copy_col(st, 1, j->name, sizeof j->name);
  copy_col(st, 2, j->tenant, sizeof j->tenant);
  j->priority = sqlite3_column_int(st, 3);
  j->spec = strdup(spec ? spec : "{}");
  j->state = sc_job_state_parse((const char *)sqlite3_column_text(st, 5));
  copy_col(st, 6, j->reason, sizeof j->reason);
  j->created_ms = sqlite3_column_int64(st, 7);
  j->started_ms = sqlite3_column_int64(st, 8);
  j->finished_ms = sqlite3_column_int64(st, 9);
  j->attempt = sqlite3_column_int(st, 10);
  j->max_retries = sqlite3_column_int(st, 11);
  j->ntasks = sqlite3_column_int(st, 12);
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

/* Runs a job query already bound in st, appending jobs to *out. */
static int collect_jobs(sqlite3 *db, sqlite3_stmt *st, bool with_tasks,
                        struct sc_job_rec **out, int *n)
{
  int cap = 0, rc = 0, step;

  *out = NULL;
  *n = 0;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    if (*n == cap) {
      int ncap = cap ? cap * 2 : 16;
      struct sc_job_rec *jobs = realloc(*out, (size_t)ncap * sizeof *jobs);
      if (!jobs) {
        rc = SC_ENOMEM;
        break;
      }
      *out = jobs;
      cap = ncap;
    }
    rc = row_job(st, &(*out)[(*n)++]);
    if (rc == 0 && with_tasks)
      rc = load_tasks(db, &(*out)[*n - 1]);
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

static int sqlite_job_get(struct sc_store *s, int64_t id, struct sc_job_rec *out)
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
      rc = load_tasks(db, out);
  } else {
    rc = rc == SQLITE_DONE ? SC_ENOENT : SC_ESTORE;
  }
  sqlite3_finalize(st);
  pool_put(s, db);
  if (rc < 0)
    sc_job_rec_release(out);
  return rc;
}

static int sqlite_job_list(struct sc_store *s, const struct sc_job_filter *f,
                           struct sc_job_rec **out, int *n)
{
  char sql[512];
  sqlite3 *db;
  sqlite3_stmt *st = NULL;
  int rc, col = 2;

  *out = NULL;
  *n = 0;
  snprintf(sql, sizeof sql, "%s WHERE id > ?1%s%s ORDER BY id LIMIT %d", sc_sql_job_select,
           f->state >= 0 ? " AND state = ?2" : "",
           f->tenant ? (f->state >= 0 ? " AND tenant = ?3" : " AND tenant = ?2") : "",
           f->limit > 0 ? f->limit : 100);
  if ((rc = pool_get(s, &db)) < 0)
    return rc;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    pool_put(s, db);
    return SC_ESTORE;
  }
  sqlite3_bind_int64(st, 1, f->after);
  if (f->state >= 0)
    sqlite3_bind_text(st, col++, sc_job_state_name(f->state), -1, SQLITE_STATIC);
  if (f->tenant)
    sqlite3_bind_text(st, col, f->tenant, -1, SQLITE_STATIC);
  rc = collect_jobs(db, st, f->with_tasks, out, n);
  sqlite3_finalize(st);
  pool_put(s, db);
  return rc;
}

static int sqlite_jobs_active(struct sc_store *s, struct sc_job_rec **out, int *n)
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
  rc = collect_jobs(db, st, true, out, n);
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

static int sqlite_max_job_id(struct sc_store *s, int64_t *id)
{
  return query_int(s, "SELECT coalesce(max(id), 0) FROM jobs", id);
}

static void row_node(sqlite3_stmt *st, struct sc_node_rec *n)
{
  const char *labels = (const char *)sqlite3_column_text(st, 4);
  const char *devices = (const char *)sqlite3_column_text(st, 5);

  memset(n, 0, sizeof *n);
  copy_col(st, 0, n->name, sizeof n->name);
  copy_col(st, 1, n->address, sizeof n->address);
  n->cpu_milli = sqlite3_column_int64(st, 2);
  n->memory_mib = sqlite3_column_int64(st, 3);
  n->labels = strdup(labels ? labels : "{}");
  n->devices = strdup(devices ? devices : "[]");
  n->state = sqlite3_column_text(st, 6) &&
                     strcmp((const char *)sqlite3_column_text(st, 6), "ready") == 0
               ? SC_NODE_READY
               : SC_NODE_LOST;
  n->last_heartbeat_ms = sqlite3_column_int64(st, 7);
  n->registered_ms = sqlite3_column_int64(st, 8);
}

/* Runs a prepared-per-call read, growing *out by elem_size per row. */
static int collect_rows(struct sc_store *s, const char *sql, size_t elem_size,
                        void (*row)(sqlite3_stmt *, void *), void **out, int *n)
{
  sqlite3 *db;
  sqlite3_stmt *st = NULL;
  int rc, cap = 0, step = SQLITE_ERROR;

  *out = NULL;
  *n = 0;
  if ((rc = pool_get(s, &db)) < 0)
    return rc;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
      if (*n == cap) {
        int ncap = cap ? cap * 2 : 16;
        void *grown = realloc(*out, (size_t)ncap * elem_size);
        if (!grown) {
          rc = SC_ENOMEM;
          break;
        }
        *out = grown;
        cap = ncap;
      }
      row(st, (char *)*out + (size_t)(*n)++ * elem_size);
    }
  }
  if (rc == 0 && step != SQLITE_DONE)
    rc = SC_ESTORE;
  sqlite3_finalize(st);
  pool_put(s, db);
  return rc;
}

static void row_node_any(sqlite3_stmt *st, void *dst)
{
  row_node(st, dst);
}

static void row_token(sqlite3_stmt *st, void *dst)
{
  struct sc_token_rec *t = dst;
  const void *hash = sqlite3_column_blob(st, 0);

  memset(t, 0, sizeof *t);
  if (hash && sqlite3_column_bytes(st, 0) == (int)sizeof t->hash)
    memcpy(t->hash, hash, sizeof t->hash);
  t->kind = sc_token_kind_parse((const char *)sqlite3_column_text(st, 1));
  copy_col(st, 2, t->tenant, sizeof t->tenant);
  t->created_ms = sqlite3_column_int64(st, 3);
}

static int sqlite_node_list(struct sc_store *s, struct sc_node_rec **out, int *n)
{
  void *rows;
  int rc = collect_rows(s, sc_sql_nodes, sizeof **out, row_node_any, &rows, n);

  *out = rows;
  if (rc < 0) {
    sc_store_free_nodes(*out, *n);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

static int sqlite_token_list(struct sc_store *s, struct sc_token_rec **out, int *n)
{
  void *rows;
  int rc = collect_rows(s, sc_sql_tokens, sizeof **out, row_token, &rows, n);

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

static int sqlite_log_read(struct sc_store *s, const struct sc_log_query *q, char **data,
                           size_t *len, int64_t *end)
{
  bool by_task = q->task >= 0;
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
  if (sqlite3_prepare_v2(db, by_task ? sc_sql_log_task_start : sc_sql_log_job_start, -1,
                         &st, NULL) != SQLITE_OK)
    goto out;
  sqlite3_bind_int64(st, 1, q->job_id);
  if (by_task)
    sqlite3_bind_int(st, col++, q->task);
  sqlite3_bind_int64(st, col, q->offset);
  if (sqlite3_step(st) == SQLITE_ROW)
    start = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  st = NULL;
  if (sqlite3_prepare_v2(db, by_task ? sc_sql_log_task_read : sc_sql_log_job_read, -1,
                         &st, NULL) != SQLITE_OK)
    goto out;
  col = 2;
  sqlite3_bind_int64(st, 1, q->job_id);
  if (by_task)
    sqlite3_bind_int(st, col++, q->task);
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

const struct sc_store_ops sc_store_sqlite = {
  .name = "sqlite",
  .open = sqlite_open,
  .close = sqlite_close,
  .submit = sqlite_submit,
  .wait = sqlite_wait,
  .job_get = sqlite_job_get,
  .job_list = sqlite_job_list,
  .jobs_active = sqlite_jobs_active,
  .max_job_id = sqlite_max_job_id,
  .node_list = sqlite_node_list,
  .token_list = sqlite_token_list,
  .log_read = sqlite_log_read,
};
