/*
 * PostgreSQL backend of the store, on libpq. One writer thread owns the
 * write connection and commits queued batches in order, many per
 * transaction (group commit), as sqlite.c does: a 0 from sc_store_wait
 * means COMMIT returned, and the writer's session runs with
 * synchronous_commit on, so the batch is on the server's disk (and its
 * synchronous standbys', where there are any). The transaction is sent as
 * one libpq pipeline (one round trip); when it fails, the group is
 * committed again batch by batch in savepoints, so one bad batch fails
 * alone. Every commit can first check a fencing epoch (migration 9).
 * Reads are in pg_read.c and pg_usage.c, the lease's election in
 * pg_lease.c.
 */
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg_int.h"
#include "store/rows.h"
#include "util/error.h"
#include "util/log.h"

/* The SQLSTATE supercell_fence raises (pg_sql.c, migration 9). */
#define FENCED_STATE "SCFNC"

/* ---- writes (writer thread only) ---- */

/* What a pipeline sent: how many queries, and the first failure. */
struct pipe {
  PGconn *c;
  int sent;
  int failed;          /* send or result failures */
  bool fenced, logged;
};

static void send_prepared(struct pipe *p, int stmt, const struct sc_pg_args *a)
{
  char name[8];

  snprintf(name, sizeof name, "w%d", stmt);
  if (PQsendQueryPrepared(p->c, name, a->n, a->val, a->len, a->fmt, 0))
    p->sent++;
  else
    p->failed++;
}

static void send_sql(struct pipe *p, const char *sql)
{
  if (PQsendQueryParams(p->c, sql, 0, NULL, NULL, NULL, NULL, 0))
    p->sent++;
  else
    p->failed++;
}

static void arg_text_or_null(struct sc_pg_args *a, const char *text)
{
  sc_pg_arg_text(a, text && *text ? text : NULL);
}

static void arg_ms(struct sc_pg_args *a, int64_t ms)
{
  if (ms > 0)
    sc_pg_arg_i64(a, ms);
  else
    sc_pg_arg_null(a);
}

static void arg_code(struct sc_pg_args *a, int code)
{
  if (code >= 0)
    sc_pg_arg_i64(a, code);
  else
    sc_pg_arg_null(a);
}

static int send_task(struct pipe *p, const struct sc_task_rec *t)
{
  struct sc_pg_args a = {0};
  char *devices = sc_rows_task_devices_text(t);

  if (!devices)
    return SC_ENOMEM;
  sc_pg_arg_i64(&a, t->job_id);
  sc_pg_arg_i64(&a, t->index);
  sc_pg_arg_text(&a, sc_task_state_name(t->state));
  arg_text_or_null(&a, t->node);
  sc_pg_arg_text(&a, devices);
  arg_text_or_null(&a, t->vendor);
  sc_pg_arg_i64(&a, t->gpu_milli);
  arg_code(&a, t->exit_code);
  arg_code(&a, t->signal);
  sc_pg_arg_i64(&a, t->attempt);
  sc_pg_arg_i64(&a, t->pid);
  arg_ms(&a, t->started_ms);
  arg_ms(&a, t->finished_ms);
  send_prepared(p, PG_TASK_PUT, &a);
  free(devices); /* libpq copied it into its output buffer */
  return 0;
}

static int send_job_insert(struct pipe *p, const struct sc_job_rec *j)
{
  struct sc_pg_args a = {0};

  sc_pg_arg_i64(&a, j->id);
  sc_pg_arg_text(&a, j->name);
  sc_pg_arg_text(&a, j->tenant);
  sc_pg_arg_i64(&a, j->priority);
  sc_pg_arg_text(&a, j->spec ? j->spec : "{}");
  sc_pg_arg_text(&a, sc_job_state_name(j->state));
  arg_text_or_null(&a, j->reason);
  arg_ms(&a, j->created_ms);
  sc_pg_arg_i64(&a, j->attempt);
  sc_pg_arg_i64(&a, j->max_retries);
  sc_pg_arg_i64(&a, j->ntasks);
  sc_pg_arg_i64(&a, j->held ? 1 : 0);
  sc_pg_arg_i64(&a, j->array_id);
  sc_pg_arg_i64(&a, j->array_id > 0 ? j->array_index : -1);
  send_prepared(p, PG_JOB_INSERT, &a);
  if (j->ntasks > 0) {
    memset(&a, 0, sizeof a);
    sc_pg_arg_i64(&a, j->id);
    sc_pg_arg_i64(&a, j->attempt);
    sc_pg_arg_i64(&a, j->ntasks);
    send_prepared(p, PG_JOB_TASKS, &a);
  }
  return 0;
}

static int send_job_update(struct pipe *p, const struct sc_job_rec *j)
{
  struct sc_pg_args a = {0};

  sc_pg_arg_i64(&a, j->id);
  sc_pg_arg_text(&a, sc_job_state_name(j->state));
  arg_text_or_null(&a, j->reason);
  arg_ms(&a, j->started_ms);
  arg_ms(&a, j->finished_ms);
  sc_pg_arg_i64(&a, j->attempt);
  sc_pg_arg_i64(&a, j->held ? 1 : 0);
  sc_pg_arg_i64(&a, j->preempted);
  sc_pg_arg_i64(&a, j->checkpoint_ms);
  send_prepared(p, PG_JOB_UPDATE, &a);
  return 0;
}

static int send_node(struct pipe *p, const struct sc_node_rec *n, bool state_only)
{
  struct sc_pg_args a = {0};
  char *devices = state_only ? NULL : sc_rows_node_devices_text(n);

  if (!state_only && !devices)
    return SC_ENOMEM;
  sc_pg_arg_text(&a, n->name);
  sc_pg_arg_text(&a, sc_node_state_name(n->state));
  arg_ms(&a, n->last_heartbeat_ms);
  if (!state_only) {
    sc_pg_arg_text(&a, n->address);
    sc_pg_arg_i64(&a, n->cpu_milli);
    sc_pg_arg_i64(&a, n->memory_mib);
    sc_pg_arg_text(&a, n->labels ? n->labels : "{}");
    sc_pg_arg_text(&a, devices);
    arg_ms(&a, n->registered_ms);
    sc_pg_arg_i64(&a, n->drained ? 1 : 0);
  }
  send_prepared(p, state_only ? PG_NODE_STATE : PG_NODE_PUT, &a);
  free(devices);
  return 0;
}

static int send_token(struct pipe *p, const struct sc_token_rec *t)
{
  struct sc_pg_args a = {0};

  sc_pg_arg_bin(&a, t->hash, sizeof t->hash);
  sc_pg_arg_text(&a, sc_token_kind_name(t->kind));
  sc_pg_arg_text(&a, t->tenant);
  arg_ms(&a, t->created_ms);
  sc_pg_arg_text(&a, t->id);
  sc_pg_arg_text(&a, t->node);
  arg_ms(&a, t->expires_ms);
  arg_ms(&a, t->last_used_ms);
  sc_pg_arg_i64(&a, t->revoked ? 1 : 0);
  send_prepared(p, PG_TOKEN_PUT, &a);
  return 0;
}

static int send_log(struct pipe *p, const struct sc_log_rec *l)
{
  struct sc_pg_args a = {0};

  sc_pg_arg_i64(&a, l->job_id);
  sc_pg_arg_i64(&a, l->task);
  sc_pg_arg_i64(&a, l->attempt);
  sc_pg_arg_bin(&a, l->data, l->len);
  sc_pg_arg_i64(&a, l->offset);
  send_prepared(p, PG_LOG_APPEND, &a);
  return 0;
}

static int send_tenant(struct pipe *p, const struct sc_tenant_rec *t)
{
  struct sc_pg_args a = {0};

  sc_pg_arg_i64(&a, t->id);
  sc_pg_arg_text(&a, t->name);
  send_prepared(p, PG_TENANT_FREE_ID, &a);
  memset(&a, 0, sizeof a);
  sc_pg_arg_text(&a, t->name);
  sc_pg_arg_i64(&a, t->id);
  sc_pg_arg_text(&a, t->run_as);
  arg_ms(&a, t->created_ms);
  sc_pg_arg_text(&a, t->parent);
  sc_pg_arg_f64(&a, t->weight > 0 ? t->weight : 1.0);
  sc_pg_arg_text(&a, t->rules ? t->rules : "{}");
  send_prepared(p, PG_TENANT_PUT, &a);
  return 0;
}

static int send_attempt(struct pipe *p, const struct sc_attempt_rec *at)
{
  struct sc_pg_args a = {0};

  sc_pg_arg_i64(&a, at->job_id);
  sc_pg_arg_i64(&a, at->attempt);
  sc_pg_arg_text(&a, at->reason);
  arg_ms(&a, at->started_ms);
  arg_ms(&a, at->finished_ms);
  send_prepared(p, PG_ATTEMPT_PUT, &a);
  return 0;
}

static int send_usage(struct pipe *p, const struct sc_usage_rec *u)
{
  struct sc_pg_args a = {0};

  sc_pg_arg_i64(&a, u->job_id);
  sc_pg_arg_i64(&a, u->task);
  sc_pg_arg_i64(&a, u->attempt);
  sc_pg_arg_text(&a, u->tenant);
  sc_pg_arg_text(&a, u->node);
  sc_pg_arg_text(&a, u->region);
  sc_pg_arg_text(&a, u->model);
  sc_pg_arg_text(&a, u->vendor);
  sc_pg_arg_i64(&a, u->devices);
  sc_pg_arg_i64(&a, u->gpu_milli);
  sc_pg_arg_i64(&a, u->cpu_milli);
  sc_pg_arg_i64(&a, u->memory_mib);
  sc_pg_arg_i64(&a, u->spot ? 1 : 0);
  sc_pg_arg_i64(&a, u->start_ms);
  arg_ms(&a, u->end_ms);
  sc_pg_arg_text(&a, sc_usage_end_name(u->how));
  arg_code(&a, u->exit_code);
  arg_code(&a, u->signal);
  send_prepared(p, PG_USAGE_PUT, &a);
  return 0;
}

static int send_price(struct pipe *p, const struct sc_price_rec *pr)
{
  struct sc_pg_args a = {0};

  sc_pg_arg_text(&a, pr->item);
  sc_pg_arg_i64(&a, pr->from_ms);
  sc_pg_arg_f64(&a, pr->per_hour);
  if (pr->spot_per_hour >= 0)
    sc_pg_arg_f64(&a, pr->spot_per_hour);
  else
    sc_pg_arg_null(&a);
  arg_ms(&a, pr->created_ms);
  send_prepared(p, PG_PRICE_PUT, &a);
  return 0;
}

static int send_op(struct pipe *p, const struct sc_store_op *op)
{
  switch (op->kind) {
  case SC_STORE_JOB_INSERT:
    return send_job_insert(p, &op->u.job);
  case SC_STORE_JOB_UPDATE:
    return send_job_update(p, &op->u.job);
  case SC_STORE_TASK_PUT:
    return send_task(p, &op->u.task);
  case SC_STORE_NODE_PUT:
    return send_node(p, &op->u.node, false);
  case SC_STORE_NODE_STATE:
    return send_node(p, &op->u.node, true);
  case SC_STORE_TOKEN_PUT:
    return send_token(p, &op->u.token);
  case SC_STORE_LOG_APPEND:
    return send_log(p, &op->u.log);
  case SC_STORE_TENANT_PUT:
    return send_tenant(p, &op->u.tenant);
  case SC_STORE_ATTEMPT_PUT:
    return send_attempt(p, &op->u.attempt);
  case SC_STORE_USAGE_PUT:
    return send_usage(p, &op->u.usage);
  case SC_STORE_PRICE_PUT:
    return send_price(p, &op->u.price);
  }
  return SC_EINVAL;
}

/* Sends every op of b; SC_ENOMEM when one could not be encoded. */
static int send_batch(struct pipe *p, const struct sc_store_batch *b)
{
  int rc = 0;

  for (int i = 0; rc == 0 && i < b->n; i++)
    rc = send_op(p, &b->ops[i]);
  return rc;
}

static void send_fence(struct pipe *p, int64_t epoch)
{
  struct sc_pg_args a = {0};

  if (epoch <= 0)
    return;
  sc_pg_arg_i64(&a, epoch);
  send_prepared(p, PG_FENCE, &a);
}

/* Notes a failed result: fenced or not, the first error logged. */
static void pipe_note(struct pipe *p, PGresult *r)
{
  ExecStatusType st = PQresultStatus(r);
  const char *state;

  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
    return;
  state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  if (state && strcmp(state, FENCED_STATE) == 0)
    p->fenced = true;
  if (st != PGRES_PIPELINE_ABORTED && !p->logged) {
    sc_pg_log_error("commit failed", PQresultErrorMessage(r));
    p->logged = true;
  }
  p->failed++;
}

/* Ends the pipeline with a sync and reads every result: 0 when every
 * query succeeded. After an error the server skips the rest up to the sync
 * (PGRES_PIPELINE_ABORTED); the sync's own result is not followed by NULL. */
static int pipe_finish(struct pipe *p)
{
  bool synced = PQpipelineSync(p->c) == 1;

  if (!synced)
    p->failed++;
  for (int got = 0; got < p->sent && PQstatus(p->c) == CONNECTION_OK;) {
    PGresult *r = PQgetResult(p->c);
    if (!r) {
      got++; /* the end of one query's results */
      continue;
    }
    pipe_note(p, r);
    PQclear(r);
  }
  if (synced && PQstatus(p->c) == CONNECTION_OK) {
    PGresult *r = PQgetResult(p->c);
    if (!r || PQresultStatus(r) != PGRES_PIPELINE_SYNC)
      p->failed++;
    PQclear(r);
  }
  if (PQstatus(p->c) != CONNECTION_OK)
    p->failed++;
  return p->failed ? SC_ESTORE : 0;
}

static int pipe_start(struct pipe *p, PGconn *c)
{
  memset(p, 0, sizeof *p);
  p->c = c;
  return PQenterPipelineMode(c) ? 0 : SC_ESTORE;
}

/* Finishes the pipeline and leaves pipeline mode; 0 or SC_ESTORE. */
static int pipe_end(struct pipe *p)
{
  int rc = pipe_finish(p);

  PQexitPipelineMode(p->c);
  return rc;
}

/* Runs sql (one or more statements) outside a pipeline; errors logged. */
static int exec_simple(PGconn *c, const char *sql)
{
  PGresult *r = PQexec(c, sql);
  ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : SC_ESTORE;

  if (rc < 0) {
    char what[48];
    snprintf(what, sizeof what, "%.40s", sql);
    sc_pg_log_error(what, r ? PQresultErrorMessage(r) : PQerrorMessage(c));
  }
  PQclear(r);
  return rc;
}

/* After a failure: ends the transaction the connection may still be in. */
static void rollback(PGconn *c)
{
  if (PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) != PQTRANS_IDLE)
    exec_simple(c, "ROLLBACK");
}

/* Fast path: the whole group in one pipelined transaction, one round trip. */
static int commit_fast(struct sc_store *s, struct sc_store_batch *first, int count,
                       int64_t epoch, bool *fenced)
{
  struct pipe p;
  struct sc_store_batch *b = first;
  int rc = pipe_start(&p, s->wconn);

  if (rc < 0)
    return rc;
  send_sql(&p, "BEGIN");
  send_fence(&p, epoch);
  for (int i = 0; rc == 0 && i < count; i++, b = b->next)
    rc = send_batch(&p, b);
  send_sql(&p, rc == 0 ? "COMMIT" : "ROLLBACK");
  if (pipe_end(&p) < 0)
    rc = SC_ESTORE;
  *fenced = p.fenced;
  if (rc < 0)
    rollback(s->wconn);
  return rc;
}

/* Slow path, after the fast one failed: one transaction again, each batch
 * in its own savepoint (a round trip each), so a batch that fails is
 * rolled back alone and the others commit. Sets each b->rc. */
static int commit_each(struct sc_store *s, struct sc_store_batch *first, int count,
                       int64_t epoch, bool *fenced)
{
  struct pipe p;
  struct sc_store_batch *b = first;
  int rc = pipe_start(&p, s->wconn);

  if (rc == 0) {
    send_sql(&p, "BEGIN");
    send_fence(&p, epoch);
    rc = pipe_end(&p);
    *fenced = p.fenced;
  }
  for (int i = 0; rc == 0 && i < count; i++, b = b->next) {
    if ((rc = pipe_start(&p, s->wconn)) < 0)
      break;
    send_sql(&p, "SAVEPOINT batch");
    b->rc = send_batch(&p, b);
    send_sql(&p, "RELEASE batch");
    if (pipe_end(&p) < 0 && b->rc == 0)
      b->rc = SC_ESTORE;
    if (PQstatus(s->wconn) != CONNECTION_OK)
      rc = SC_ESTORE;
    else if (b->rc < 0)
      rc = exec_simple(s->wconn, "ROLLBACK TO SAVEPOINT batch; RELEASE batch");
  }
  if (rc == 0)
    rc = exec_simple(s->wconn, "COMMIT");
  if (rc < 0)
    rollback(s->wconn);
  return rc;
}

static int writer_connect(struct sc_store *s);

/* A fenced writer's session ends a transaction left idle longer than the
 * lease (a controller stopped in the middle of one): the row it holds
 * would otherwise keep a successor from taking the lease. */
static void idle_limit(struct sc_store *s, int64_t limit_ms)
{
  char sql[96];

  if (limit_ms <= 0 || limit_ms == s->idle_limit_ms)
    return;
  snprintf(sql, sizeof sql, "SET idle_in_transaction_session_timeout = %lld",
           (long long)limit_ms);
  if (exec_simple(s->wconn, sql) == 0)
    s->idle_limit_ms = limit_ms;
}

/* Commits the chain of batches from first (count of them) in one
 * transaction, fenced with the epoch in force when it starts. */
static void commit_chain(void *arg, struct sc_store_batch *first, int count)
{
  struct sc_store *s = arg;
  struct sc_store_batch *b = first;
  void (*on_fenced)(void *arg, int64_t epoch);
  void *on_fenced_arg;
  int64_t epoch, lease_ms;
  bool fenced = false, each = false;
  int rc = 0;

  pthread_mutex_lock(&s->mu);
  epoch = s->fence_epoch;
  lease_ms = s->lease_ms;
  on_fenced = s->on_fenced;
  on_fenced_arg = s->on_fenced_arg;
  pthread_mutex_unlock(&s->mu);
  if (!s->wconn || PQstatus(s->wconn) != CONNECTION_OK)
    rc = writer_connect(s); /* the server restarted, or a link broke */
  if (rc == 0 && epoch > 0)
    idle_limit(s, lease_ms);
  for (int i = 0; i < count; i++, b = b->next)
    b->rc = 0;
  if (rc == 0)
    rc = commit_fast(s, first, count, epoch, &fenced);
  if (rc < 0 && count > 1 && !fenced && PQstatus(s->wconn) == CONNECTION_OK) {
    each = true;
    rc = commit_each(s, first, count, epoch, &fenced);
  }
  if (fenced) {
    sc_error("store: this controller is fenced (lease epoch %lld is over): nothing commits",
             (long long)epoch);
    if (on_fenced) /* before anyone hears of the failure: it steps down first */
      on_fenced(on_fenced_arg, epoch);
  }
  b = first;
  for (int i = 0; i < count; i++, b = b->next) {
    if (rc < 0 || !each)
      b->rc = rc < 0 ? SC_ESTORE : 0;
    else if (b->rc < 0)
      b->rc = SC_ESTORE;
  }
}

static int pg_submit(struct sc_store *s, struct sc_store_batch *b)
{
  return sc_store_queue_submit(&s->queue, b);
}

static int pg_wait(struct sc_store *s, struct sc_store_batch *b)
{
  return sc_store_queue_wait(&s->queue, b);
}

static void pg_stats(struct sc_store *s, struct sc_store_stats *out)
{
  sc_store_queue_stats(&s->queue, out);
}

int sc_store_pg_fence(struct sc_store *s, int64_t epoch)
{
  if (!s || s->ops != &sc_store_pg || epoch < 0)
    return SC_EINVAL;
  pthread_mutex_lock(&s->mu);
  s->fence_epoch = epoch;
  pthread_mutex_unlock(&s->mu);
  return 0;
}

void sc_store_pg_on_fenced(struct sc_store *s, void (*fn)(void *arg, int64_t epoch), void *arg)
{
  if (!s || s->ops != &sc_store_pg)
    return;
  pthread_mutex_lock(&s->mu);
  s->on_fenced = fn;
  s->on_fenced_arg = arg;
  pthread_mutex_unlock(&s->mu);
}

/* ---- open / close ---- */

/* The writer's session: commits wait for the disk (a server or role set
 * to synchronous_commit=off would break the promise of sc_store_wait; a
 * stronger setting, remote_apply, is kept), and its statements prepared. */
static int writer_setup(PGconn *c)
{
  PGresult *r;
  const char *fsync;
  int rc = 0;

  if (sc_pg_run(c, "show synchronous_commit", "SHOW synchronous_commit", NULL, &r) < 0)
    return SC_ESTORE;
  if (PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "off") == 0)
    rc = exec_simple(c, "SET synchronous_commit TO on");
  PQclear(r);
  if (rc < 0)
    return rc;
  if (sc_pg_run(c, "show fsync", "SHOW fsync", NULL, &r) == 0) {
    fsync = PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "";
    if (strcmp(fsync, "on") != 0)
      sc_warn("store: the PostgreSQL server runs with fsync=%s: a commit is not durable", fsync);
    PQclear(r);
  }
  for (int i = 0; rc == 0 && i < PG_NSTMTS; i++) {
    char name[8];
    snprintf(name, sizeof name, "w%d", i);
    r = PQprepare(c, name, sc_pg_stmts[i], 0, NULL);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
      sc_pg_log_error("prepare", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
      rc = SC_ESTORE;
    }
    PQclear(r);
  }
  return rc;
}

static int writer_connect(struct sc_store *s)
{
  int rc;

  PQfinish(s->wconn);
  s->wconn = NULL;
  s->idle_limit_ms = 0; /* a new session */
  if ((rc = sc_pg_connect(s->conninfo, &s->wconn)) < 0)
    return rc;
  if ((rc = writer_setup(s->wconn)) < 0) {
    PQfinish(s->wconn);
    s->wconn = NULL;
  }
  return rc;
}

/*
 * Brings the schema up to date in one transaction (DDL is transactional in
 * PostgreSQL), under an advisory lock so controllers that start together
 * migrate once. supercell_schema holds the version: 0 for a new database.
 */
static int migrate(PGconn *c)
{
  const int latest = sc_pg_migrations[sc_pg_nmigrations - 1].version;
  PGresult *r;
  int version = 0, rc;

  rc = exec_simple(c, "BEGIN; SELECT pg_advisory_xact_lock(7232001);"
                      " CREATE TABLE IF NOT EXISTS supercell_schema (version integer NOT NULL)");
  if (rc == 0)
    rc = sc_pg_run(c, "migrate", "SELECT coalesce(max(version), 0) FROM supercell_schema", NULL,
                   &r);
  if (rc == 0) {
    version = (int)sc_pg_i64(r, 0, 0);
    PQclear(r);
  }
  if (rc == 0 && version > latest) {
    sc_error("store: the database's schema is version %d, newer than this binary's %d",
             version, latest);
    rc = SC_ESTORE;
  }
  for (int i = 0; rc == 0 && i < sc_pg_nmigrations; i++) {
    if (sc_pg_migrations[i].version <= version)
      continue;
    rc = exec_simple(c, sc_pg_migrations[i].sql);
  }
  if (rc == 0 && version < latest) {
    char sql[96];
    snprintf(sql, sizeof sql,
             "DELETE FROM supercell_schema; INSERT INTO supercell_schema VALUES (%d)", latest);
    rc = exec_simple(c, sql);
  }
  if (rc == 0 && (rc = exec_simple(c, "COMMIT")) == 0 && version < latest)
    sc_info("store: PostgreSQL schema migrated from version %d to %d", version, latest);
  if (rc < 0)
    exec_simple(c, "ROLLBACK");
  return rc;
}

static void pg_close(struct sc_store *s)
{
  if (!s)
    return;
  sc_store_queue_stop(&s->queue); /* what is queued commits first */
  for (int i = 0; i < s->npool; i++)
    PQfinish(s->pool[i]);
  if (s->wconn)
    PQfinish(s->wconn);
  pthread_mutex_destroy(&s->mu);
  pthread_mutex_destroy(&s->pool_mu);
  free(s->conninfo);
  free(s);
}

static int pg_open(const char *conninfo, struct sc_store **out)
{
  struct sc_store *s;
  int rc;

  *out = NULL;
  if ((rc = sc_pq_lib_load()) != 0) /* before anything that closes */
    return rc;
  s = calloc(1, sizeof *s);
  if (!s || !(s->conninfo = strdup(conninfo))) {
    free(s);
    return SC_ENOMEM;
  }
  s->ops = &sc_store_pg;
  pthread_mutex_init(&s->mu, NULL);
  pthread_mutex_init(&s->pool_mu, NULL);
  rc = sc_pg_connect(conninfo, &s->wconn);
  if (rc == 0)
    rc = migrate(s->wconn);
  if (rc == 0)
    rc = writer_setup(s->wconn);
  if (rc == 0)
    rc = sc_store_queue_start(&s->queue, PG_BATCHES_PER_TXN, commit_chain, s);
  if (rc < 0) {
    pg_close(s);
    return rc;
  }
  *out = s;
  return 0;
}

const struct sc_store_ops sc_store_pg = {
  .name = "postgres",
  .open = pg_open,
  .close = pg_close,
  .submit = pg_submit,
  .wait = pg_wait,
  .job_get = sc_pg_job_get,
  .job_head = sc_pg_job_head,
  .task_page = sc_pg_task_page,
  .job_list = sc_pg_job_list,
  .jobs_active = sc_pg_jobs_active,
  .max_job_id = sc_pg_max_job_id,
  .node_list = sc_pg_node_list,
  .token_list = sc_pg_token_list,
  .tenant_list = sc_pg_tenant_list,
  .attempt_list = sc_pg_attempt_list,
  .log_read = sc_pg_log_read,
  .usage_report = sc_pg_usage_report,
  .usage_list = sc_pg_usage_list,
  .price_list = sc_pg_price_list,
  .stats = pg_stats,
};
