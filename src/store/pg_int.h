/*
 * Private to the PostgreSQL backend: the store struct shared by its write
 * side (pg.c: writer thread, pipelined group commit, fencing, migrations)
 * and its read side (pg_read.c, pg_usage.c: pooled connections, row
 * decoding), and libpq's functions as loaded at the first open.
 */
#ifndef SC_STORE_PG_INT_H
#define SC_STORE_PG_INT_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/queue.h"
#include "store/store.h"

/* The libpq functions the backend calls, resolved from SC_SONAME_PQ when
 * the first PostgreSQL store opens (util/dynlib.h: no other process maps
 * libpq and its TLS, Kerberos and LDAP dependencies). After this header
 * the calls go through sc_pq_api. */
#define SC_PQ_FUNCS(X)                                                          \
  X(PQconnectdbParams) X(PQstatus) X(PQerrorMessage) X(PQfinish) X(PQreset)     \
  X(PQexec) X(PQexecParams) X(PQprepare) X(PQsendQueryParams)                   \
  X(PQsendQueryPrepared) X(PQenterPipelineMode) X(PQexitPipelineMode)           \
  X(PQpipelineSync) X(PQgetResult) X(PQresultStatus) X(PQresultErrorMessage)    \
  X(PQresultErrorField) X(PQclear) X(PQntuples) X(PQgetvalue) X(PQgetlength)    \
  X(PQgetisnull) X(PQtransactionStatus) X(PQsetNoticeProcessor)                 \
  X(PQparameterStatus) X(PQpipelineStatus)

struct sc_pq_api {
#define SC_PQ_SLOT(f) __typeof__(f) *f;
  SC_PQ_FUNCS(SC_PQ_SLOT)
#undef SC_PQ_SLOT
};
extern struct sc_pq_api sc_pq_api;

/* Loads libpq once per process; 0 or SC_ESTORE (logged). */
int sc_pq_lib_load(void);

#ifndef SC_PQ_LIB_IMPL
#define PQconnectdbParams (sc_pq_api.PQconnectdbParams)
#define PQstatus (sc_pq_api.PQstatus)
#define PQerrorMessage (sc_pq_api.PQerrorMessage)
#define PQfinish (sc_pq_api.PQfinish)
#define PQreset (sc_pq_api.PQreset)
#define PQexec (sc_pq_api.PQexec)
#define PQexecParams (sc_pq_api.PQexecParams)
#define PQprepare (sc_pq_api.PQprepare)
#define PQsendQueryParams (sc_pq_api.PQsendQueryParams)
#define PQsendQueryPrepared (sc_pq_api.PQsendQueryPrepared)
#define PQenterPipelineMode (sc_pq_api.PQenterPipelineMode)
#define PQexitPipelineMode (sc_pq_api.PQexitPipelineMode)
#define PQpipelineSync (sc_pq_api.PQpipelineSync)
#define PQgetResult (sc_pq_api.PQgetResult)
#define PQresultStatus (sc_pq_api.PQresultStatus)
#define PQresultErrorMessage (sc_pq_api.PQresultErrorMessage)
#define PQresultErrorField (sc_pq_api.PQresultErrorField)
#define PQclear (sc_pq_api.PQclear)
#define PQntuples (sc_pq_api.PQntuples)
#define PQgetvalue (sc_pq_api.PQgetvalue)
#define PQgetlength (sc_pq_api.PQgetlength)
#define PQgetisnull (sc_pq_api.PQgetisnull)
#define PQtransactionStatus (sc_pq_api.PQtransactionStatus)
#define PQsetNoticeProcessor (sc_pq_api.PQsetNoticeProcessor)
#define PQparameterStatus (sc_pq_api.PQparameterStatus)
#define PQpipelineStatus (sc_pq_api.PQpipelineStatus)
#endif

#define PG_POOL_MAX 16
#define PG_BATCHES_PER_TXN 512
#define PG_MAX_ARGS 20

/* The statements the writer prepares on its connection (pg_sql.c). */
enum sc_pg_stmt {
  PG_JOB_INSERT, PG_JOB_TASKS, PG_JOB_UPDATE, PG_TASK_PUT, PG_NODE_PUT, PG_NODE_STATE,
  PG_TOKEN_PUT, PG_LOG_APPEND, PG_TENANT_FREE_ID, PG_TENANT_PUT, PG_ATTEMPT_PUT,
  PG_USAGE_PUT, PG_PRICE_PUT, PG_FENCE, PG_NSTMTS
};
extern const char *const sc_pg_stmts[PG_NSTMTS];

/* Migrations: version N is the same change in every backend (a change one
 * backend has no use for is a no-op there); see docs/operations.md. */
struct sc_pg_migration {
  int version;
  const char *sql;
};
extern const struct sc_pg_migration sc_pg_migrations[];
extern const int sc_pg_nmigrations;

/* Read statements (pg_sql.c): the SQLite backend's, in PostgreSQL's
 * dialect, with the same order and results. */
extern const char sc_pg_sql_job_select[], sc_pg_sql_job_summary_select[];
extern const char sc_pg_sql_job_get[], sc_pg_sql_jobs_active[], sc_pg_sql_tasks_of_jobs[];
extern const char sc_pg_sql_task_counts[], sc_pg_sql_array_counts[], sc_pg_sql_task_page[];
extern const char sc_pg_sql_nodes[], sc_pg_sql_tokens[], sc_pg_sql_tenants[];
extern const char sc_pg_sql_attempts[];

struct sc_store {
  const struct sc_store_ops *ops;  /* first, as store.c expects */
  char *conninfo;                  /* a libpq URI (postgres://...) */
  PGconn *wconn;                   /* the writer's (writer thread only) */
  struct sc_store_queue queue;     /* group commit (queue.h) */
  pthread_mutex_t mu;              /* guards the fence fields below */
  int64_t fence_epoch;             /* guarded by mu; 0: commits check no lease */
  int64_t lease_ms;                /* guarded by mu: the lease last won (the
                                      writer's idle-in-transaction limit) */
  void (*on_fenced)(void *arg, int64_t epoch); /* guarded by mu */
  void *on_fenced_arg;
  int64_t idle_limit_ms;           /* writer only: what its session has set */
  pthread_mutex_t pool_mu;
  PGconn *pool[PG_POOL_MAX];
  int npool;
};

/* A statement's parameters as libpq takes them: text, or binary for bytea;
 * a NULL value is SQL NULL. Numbers are formatted into num; each has its
 * type, so a parameter a query does not use needs no cast. binary asks
 * for results in binary (bytea as bytes, integers big-endian). */
struct sc_pg_args {
  int n;
  const char *val[PG_MAX_ARGS];
  int len[PG_MAX_ARGS];
  int fmt[PG_MAX_ARGS];
  Oid type[PG_MAX_ARGS];
  char num[PG_MAX_ARGS][24];
  bool binary;
};
void sc_pg_arg_i64(struct sc_pg_args *a, int64_t v);
void sc_pg_arg_f64(struct sc_pg_args *a, double v);
void sc_pg_arg_text(struct sc_pg_args *a, const char *text); /* NULL: SQL NULL */
void sc_pg_arg_null(struct sc_pg_args *a);
/* A bigint[] in PostgreSQL's text form, "{1,2}": typed, so the server
 * reads it once per query, not once per row it compares. */
void sc_pg_arg_i64_array(struct sc_pg_args *a, const char *text);
void sc_pg_arg_bin(struct sc_pg_args *a, const void *data, size_t len);

/* Opens a connection with the backend's settings (notices to the debug
 * log, UTF-8); 0 or SC_ESTORE (logged, without the URI's password). */
int sc_pg_connect(const char *conninfo, PGconn **out);

/* Logs "store: WHAT: MSG" with libpq's multi-line msg on one line. */
void sc_pg_log_error(const char *what, const char *msg);

/* A pooled read connection, and back (a broken one is closed). */
int sc_pg_pool_get(struct sc_store *s, PGconn **c);
void sc_pg_pool_put(struct sc_store *s, PGconn *c);
/* Runs fn on a pooled read connection; when it fails because the
 * connection broke (a server restart), once more on a new one (fn must
 * start afresh: reads are idempotent). Returns what fn returns. */
int sc_pg_with_conn(struct sc_store *s, int (*fn)(PGconn *c, void *arg), void *arg);
/* One statement on a pooled connection (sc_pg_with_conn, sc_pg_run). */
int sc_pg_query(struct sc_store *s, const char *what, const char *sql,
                const struct sc_pg_args *a, PGresult **out);
/* Runs sql with args (NULL: none) on c; *out is the result to PQclear
 * when 0. A failure is logged with what, and SC_ESTORE. */
int sc_pg_run(PGconn *c, const char *what, const char *sql, const struct sc_pg_args *a,
              PGresult **out);
/* Column helpers: an integer (0 for NULL), an integer that may be NULL
 * (-1), a double, a text copied into dst (truncated; "" for NULL). */
int64_t sc_pg_i64(const PGresult *r, int row, int col);
int sc_pg_code(const PGresult *r, int row, int col);
double sc_pg_f64(const PGresult *r, int row, int col);
void sc_pg_copy(const PGresult *r, int row, int col, char *dst, size_t size);

/* Read operations of sc_store_pg (pg_read.c, pg_usage.c). */
int sc_pg_job_get(struct sc_store *s, int64_t id, struct sc_job_rec *out);
int sc_pg_job_head(struct sc_store *s, int64_t id, struct sc_job_rec *out);
int sc_pg_task_page(struct sc_store *s, int64_t job_id, int after, int limit,
                    struct sc_task_rec **out, int *n);
int sc_pg_job_list(struct sc_store *s, const struct sc_job_filter *f, struct sc_job_rec **out,
                   int *n);
int sc_pg_jobs_active(struct sc_store *s, struct sc_job_rec **out, int *n);
int sc_pg_max_job_id(struct sc_store *s, int64_t *id);
int sc_pg_node_list(struct sc_store *s, struct sc_node_rec **out, int *n);
int sc_pg_token_list(struct sc_store *s, struct sc_token_rec **out, int *n);
int sc_pg_tenant_list(struct sc_store *s, struct sc_tenant_rec **out, int *n);
int sc_pg_attempt_list(struct sc_store *s, int64_t job_id, struct sc_attempt_rec **out,
                       int *n);
int sc_pg_log_read(struct sc_store *s, const struct sc_log_query *q, char **data, size_t *len,
                   int64_t *end);
int sc_pg_usage_report(struct sc_store *s, const struct sc_usage_query *q,
                       struct sc_usage_row **out, int *n);
int sc_pg_usage_list(struct sc_store *s, int64_t job_id, struct sc_usage_rec **out, int *n);
int sc_pg_price_list(struct sc_store *s, struct sc_price_rec **out, int *n);

#endif
