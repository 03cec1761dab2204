/*
 * SQLite backend of the store: one database file in WAL mode with
 * synchronous=FULL, so a commit is on disk when COMMIT returns. One writer
 * thread owns the write connection and commits queued batches in order,
 * many per transaction (group commit, each batch in its own savepoint so one
 * bad batch fails alone). Reads (sqlite_read.c) use a pool of read
 * connections.
 */
#include "store/store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/rows.h"
#include "store/sqlite_int.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

int sc_sqlite_open_conn(const char *path, sqlite3 **out)
{
  sqlite3 *db = NULL;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;

  *out = NULL;
  if (sc_sqlite_lib_load() != 0)
    return SC_ESTORE;
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

static int write_task(struct sc_store *s, const struct sc_task_rec *t)
{
  sqlite3_stmt *st = s->stmts[SQL_TASK_PUT];
  char *devices = sc_rows_task_devices_text(t);

  if (!devices)
    return SC_ENOMEM;
  sqlite3_bind_int64(st, 1, t->job_id);
  sqlite3_bind_int(st, 2, t->index);
  sqlite3_bind_text(st, 3, sc_task_state_name(t->state), -1, SQLITE_STATIC);
  bind_text_or_null(st, 4, t->node);
  sqlite3_bind_text(st, 5, devices, -1, free);
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
  sqlite3_bind_int(st, 12, j->held ? 1 : 0);
  sqlite3_bind_int64(st, 13, j->array_id);
  sqlite3_bind_int(st, 14, j->array_id > 0 ? j->array_index : -1);
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
  sqlite3_bind_int(st, 7, j->held ? 1 : 0);
  sqlite3_bind_int(st, 8, j->preempted);
  sqlite3_bind_int64(st, 9, j->checkpoint_ms);
  return step_done(s, st);
}

static int write_node(struct sc_store *s, const struct sc_node_rec *n, bool state_only)
{
  sqlite3_stmt *st = s->stmts[state_only ? SQL_NODE_STATE : SQL_NODE_PUT];
  char *devices = state_only ? NULL : sc_rows_node_devices_text(n);

  if (!state_only && !devices)
    return SC_ENOMEM;
  sqlite3_bind_text(st, 1, n->name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, sc_node_state_name(n->state), -1, SQLITE_STATIC);
  bind_ms(st, 3, n->last_heartbeat_ms);
  if (!state_only) {
    sqlite3_bind_text(st, 4, n->address, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, n->cpu_milli);
    sqlite3_bind_int64(st, 6, n->memory_mib);
    sqlite3_bind_text(st, 7, n->labels ? n->labels : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, devices, -1, free);
    bind_ms(st, 9, n->registered_ms);
    sqlite3_bind_int(st, 10, n->drained ? 1 : 0);
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
  sqlite3_bind_text(st, 5, t->id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 6, t->node, -1, SQLITE_STATIC);
  bind_ms(st, 7, t->expires_ms);
  bind_ms(st, 8, t->last_used_ms);
  sqlite3_bind_int(st, 9, t->revoked ? 1 : 0);
  return step_done(s, st);
}

static int write_attempt(struct sc_store *s, const struct sc_attempt_rec *a)
{
  sqlite3_stmt *st = s->stmts[SQL_ATTEMPT_PUT];

  sqlite3_bind_int64(st, 1, a->job_id);
  sqlite3_bind_int(st, 2, a->attempt);
  sqlite3_bind_text(st, 3, a->reason, -1, SQLITE_STATIC);
  bind_ms(st, 4, a->started_ms);
  bind_ms(st, 5, a->finished_ms);
  return step_done(s, st);
}

static int write_tenant(struct sc_store *s, const struct sc_tenant_rec *t)
{
  sqlite3_stmt *st = s->stmts[SQL_TENANT_PUT];

  sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, t->id);
  sqlite3_bind_text(st, 3, t->run_as, -1, SQLITE_STATIC);
  bind_ms(st, 4, t->created_ms);
  sqlite3_bind_text(st, 5, t->parent, -1, SQLITE_STATIC);
  sqlite3_bind_double(st, 6, t->weight > 0 ? t->weight : 1.0);
  sqlite3_bind_text(st, 7, t->rules ? t->rules : "{}", -1, SQLITE_STATIC);
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

static int write_usage(struct sc_store *s, const struct sc_usage_rec *u)
{
  sqlite3_stmt *st = s->stmts[SQL_USAGE_PUT];

  sqlite3_bind_int64(st, 1, u->job_id);
  sqlite3_bind_int(st, 2, u->task);
  sqlite3_bind_int(st, 3, u->attempt);
  sqlite3_bind_text(st, 4, u->tenant, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, u->node, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 6, u->region, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 7, u->model, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 8, u->vendor, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 9, u->devices);
  sqlite3_bind_int(st, 10, u->gpu_milli);
  sqlite3_bind_int64(st, 11, u->cpu_milli);
  sqlite3_bind_int64(st, 12, u->memory_mib);
  sqlite3_bind_int(st, 13, u->spot ? 1 : 0);
  sqlite3_bind_int64(st, 14, u->start_ms);
  bind_ms(st, 15, u->end_ms);
  sqlite3_bind_text(st, 16, sc_usage_end_name(u->how), -1, SQLITE_STATIC);
  bind_code(st, 17, u->exit_code);
  bind_code(st, 18, u->signal);
  return step_done(s, st);
}

static int write_price(struct sc_store *s, const struct sc_price_rec *p)
{
  sqlite3_stmt *st = s->stmts[SQL_PRICE_PUT];

  sqlite3_bind_text(st, 1, p->item, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, p->from_ms);
  sqlite3_bind_double(st, 3, p->per_hour);
  if (p->spot_per_hour >= 0)
    sqlite3_bind_double(st, 4, p->spot_per_hour);
  else
    sqlite3_bind_null(st, 4);
  bind_ms(st, 5, p->created_ms);
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
  case SC_STORE_TENANT_PUT:
    return write_tenant(s, &op->u.tenant);
  case SC_STORE_ATTEMPT_PUT:
    return write_attempt(s, &op->u.attempt);
  case SC_STORE_USAGE_PUT:
    return write_usage(s, &op->u.usage);
  case SC_STORE_PRICE_PUT:
    return write_price(s, &op->u.price);
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

/* Commits the chain of batches from first (count of them) in one
 * transaction (the queue's writer thread calls it). */
static void commit_chain(void *arg, struct sc_store_batch *first, int count)
{
  struct sc_store *s = arg;
  int rc = step_done(s, s->stmts[SQL_BEGIN]);
  struct sc_store_batch *b = first;

  for (int i = 0; i < count; i++, b = b->next)
    b->rc = rc < 0 ? rc : write_batch(s, b);
  if (rc == 0 && step_done(s, s->stmts[SQL_COMMIT]) < 0) {
    step_done(s, s->stmts[SQL_ROLLBACK]);
    rc = SC_ESTORE;
  }
  b = first;
  for (int i = 0; rc < 0 && i < count; i++, b = b->next)
    b->rc = rc;
}

static int sqlite_submit(struct sc_store *s, struct sc_store_batch *b)
{
  return sc_store_queue_submit(&s->queue, b);
}

static int sqlite_wait(struct sc_store *s, struct sc_store_batch *b)
{
  return sc_store_queue_wait(&s->queue, b);
}

static void sqlite_stats(struct sc_store *s, struct sc_store_stats *out)
{
  sc_store_queue_stats(&s->queue, out);
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

/* True when table has column (read with PRAGMA table_info). */
static bool has_column(sqlite3 *db, const char *table, const char *column)
{
  char sql[128];
  sqlite3_stmt *st = NULL;
  bool found = false;

  snprintf(sql, sizeof sql, "PRAGMA table_info(%s)", table);
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    return false;
  while (sqlite3_step(st) == SQLITE_ROW)
    found = found || strcmp((const char *)sqlite3_column_text(st, 1), column) == 0;
  sqlite3_finalize(st);
  return found;
}

/* Brings a database made by an older version up to date. */
static int migrate(sqlite3 *db)
{
  if (!has_column(db, "logs", "attempt") && exec(db, sc_sql_migrate_1) < 0)
    return SC_ESTORE;
  if (!has_column(db, "tokens", "revoked") && exec(db, sc_sql_migrate_2) < 0)
    return SC_ESTORE;
  if (!has_column(db, "nodes", "drained") && exec(db, sc_sql_migrate_3) < 0)
    return SC_ESTORE;
  if (!has_column(db, "jobs", "held") && exec(db, sc_sql_migrate_4) < 0)
    return SC_ESTORE;
  if (!has_column(db, "jobs", "array_id") && exec(db, sc_sql_migrate_5) < 0)
    return SC_ESTORE;
  if (!has_column(db, "tenants", "rules") && exec(db, sc_sql_migrate_6) < 0)
    return SC_ESTORE;
  if (!has_column(db, "usage", "job_id") && exec(db, sc_sql_migrate_7) < 0)
    return SC_ESTORE;
  if (!has_column(db, "jobs", "preempted") && exec(db, sc_sql_migrate_8) < 0)
    return SC_ESTORE;
  return exec(db, sc_sql_log_index);
}

static void sqlite_close(struct sc_store *s)
{
  if (!s)
    return;
  sc_store_queue_stop(&s->queue); /* what is queued commits first */
  for (int i = 0; i < SQL_NSTMTS; i++)
    sqlite3_finalize(s->stmts[i]);
  for (int i = 0; i < s->npool; i++)
    sqlite3_close(s->pool[i]);
  sqlite3_close(s->wdb);
  pthread_mutex_destroy(&s->pool_mu);
  free(s->path);
  free(s);
}

static int sqlite_open(const char *path, struct sc_store **out)
{
  struct sc_store *s;
  int rc;

  *out = NULL;
  if ((rc = sc_sqlite_lib_load()) != 0) /* before anything that closes */
    return rc;
  s = calloc(1, sizeof *s);
  if (!s || !(s->path = strdup(path))) {
    free(s);
    return SC_ENOMEM;
  }
  s->ops = &sc_store_sqlite;
  pthread_mutex_init(&s->pool_mu, NULL);
  rc = sc_sqlite_open_conn(path, &s->wdb);
  if (rc == 0)
    rc = exec(s->wdb, "PRAGMA journal_mode=WAL");
  if (rc == 0)
    rc = exec(s->wdb, sc_sql_schema);
  if (rc == 0)
    rc = migrate(s->wdb);
  if (rc == 0)
    rc = prepare_all(s);
  if (rc == 0)
    rc = sc_store_queue_start(&s->queue, BATCHES_PER_TXN, commit_chain, s);
  if (rc < 0) {
    sqlite_close(s);
    return rc;
  }
  *out = s;
  return 0;
}

const struct sc_store_ops sc_store_sqlite = {
  .name = "sqlite",
  .open = sqlite_open,
  .close = sqlite_close,
  .submit = sqlite_submit,
  .wait = sqlite_wait,
  .job_get = sc_sqlite_job_get,
  .job_head = sc_sqlite_job_head,
  .task_page = sc_sqlite_task_page,
  .job_list = sc_sqlite_job_list,
  .jobs_active = sc_sqlite_jobs_active,
  .max_job_id = sc_sqlite_max_job_id,
  .node_list = sc_sqlite_node_list,
  .token_list = sc_sqlite_token_list,
  .tenant_list = sc_sqlite_tenant_list,
  .attempt_list = sc_sqlite_attempt_list,
  .log_read = sc_sqlite_log_read,
  .usage_report = sc_sqlite_usage_report,
  .usage_list = sc_sqlite_usage_list,
  .price_list = sc_sqlite_price_list,
  .stats = sqlite_stats,
};
