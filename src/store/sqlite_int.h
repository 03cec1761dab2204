/*
 * Private to the SQLite backend: the store struct shared by its write side
 * (sqlite.c: writer thread, group commit) and read side (sqlite_read.c:
 * pooled read connections, row decoding).
 */
#ifndef SC_STORE_SQLITE_INT_H
#define SC_STORE_SQLITE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "store/queue.h"
#include "store/sqlite_sql.h"
#include "store/store.h"

/* The SQLite functions the backend calls, resolved from SC_SONAME_SQLITE
 * when the first store opens (util/dynlib.h: a CLI process never maps
 * SQLite). After this header the calls go through sc_sqlite_api. */
#define SC_SQLITE_FUNCS(X)                                                     \
  X(sqlite3_open_v2) X(sqlite3_close) X(sqlite3_busy_timeout) X(sqlite3_exec)  \
  X(sqlite3_errmsg) X(sqlite3_free) X(sqlite3_prepare_v2) X(sqlite3_prepare_v3) \
  X(sqlite3_step) X(sqlite3_reset) X(sqlite3_finalize) X(sqlite3_clear_bindings) \
  X(sqlite3_bind_blob) X(sqlite3_bind_int) X(sqlite3_bind_int64)               \
  X(sqlite3_bind_null) X(sqlite3_bind_text) X(sqlite3_column_blob)             \
  X(sqlite3_column_bytes) X(sqlite3_column_int) X(sqlite3_column_int64)        \
  X(sqlite3_column_text) X(sqlite3_column_type) X(sqlite3_bind_double)         \
  X(sqlite3_column_double)

struct sc_sqlite_api {
#define SC_SQLITE_SLOT(f) __typeof__(f) *f;
  SC_SQLITE_FUNCS(SC_SQLITE_SLOT)
#undef SC_SQLITE_SLOT
};
extern struct sc_sqlite_api sc_sqlite_api;

/* Loads SQLite once per process; 0 or SC_ESTORE (logged). */
int sc_sqlite_lib_load(void);

#ifndef SC_SQLITE_LIB_IMPL
#define sqlite3_open_v2 (sc_sqlite_api.sqlite3_open_v2)
#define sqlite3_close (sc_sqlite_api.sqlite3_close)
#define sqlite3_busy_timeout (sc_sqlite_api.sqlite3_busy_timeout)
#define sqlite3_exec (sc_sqlite_api.sqlite3_exec)
#define sqlite3_errmsg (sc_sqlite_api.sqlite3_errmsg)
#define sqlite3_free (sc_sqlite_api.sqlite3_free)
#define sqlite3_prepare_v2 (sc_sqlite_api.sqlite3_prepare_v2)
#define sqlite3_prepare_v3 (sc_sqlite_api.sqlite3_prepare_v3)
#define sqlite3_step (sc_sqlite_api.sqlite3_step)
#define sqlite3_reset (sc_sqlite_api.sqlite3_reset)
#define sqlite3_finalize (sc_sqlite_api.sqlite3_finalize)
#define sqlite3_clear_bindings (sc_sqlite_api.sqlite3_clear_bindings)
#define sqlite3_bind_blob (sc_sqlite_api.sqlite3_bind_blob)
#define sqlite3_bind_int (sc_sqlite_api.sqlite3_bind_int)
#define sqlite3_bind_int64 (sc_sqlite_api.sqlite3_bind_int64)
#define sqlite3_bind_null (sc_sqlite_api.sqlite3_bind_null)
#define sqlite3_bind_text (sc_sqlite_api.sqlite3_bind_text)
#define sqlite3_column_blob (sc_sqlite_api.sqlite3_column_blob)
#define sqlite3_column_bytes (sc_sqlite_api.sqlite3_column_bytes)
#define sqlite3_column_int (sc_sqlite_api.sqlite3_column_int)
#define sqlite3_column_int64 (sc_sqlite_api.sqlite3_column_int64)
#define sqlite3_column_text (sc_sqlite_api.sqlite3_column_text)
#define sqlite3_column_type (sc_sqlite_api.sqlite3_column_type)
#define sqlite3_bind_double (sc_sqlite_api.sqlite3_bind_double)
#define sqlite3_column_double (sc_sqlite_api.sqlite3_column_double)
#endif

#define POOL_MAX 16
#define BATCHES_PER_TXN 512

struct sc_store {
  const struct sc_store_ops *ops;  /* first, as store.c expects */
  char *path;
  sqlite3 *wdb;
  sqlite3_stmt *stmts[SQL_NSTMTS]; /* the writer thread's */
  struct sc_store_queue queue;     /* group commit (queue.h) */
  pthread_mutex_t pool_mu;
  sqlite3 *pool[POOL_MAX];
  int npool;
};

/* Opens a connection with the backend's settings (WAL, busy timeout). */
int sc_sqlite_open_conn(const char *path, sqlite3 **out);

/* Read operations of sc_store_sqlite (sqlite_read.c). */
int sc_sqlite_job_get(struct sc_store *s, int64_t id, struct sc_job_rec *out);
int sc_sqlite_job_head(struct sc_store *s, int64_t id, struct sc_job_rec *out);
int sc_sqlite_task_page(struct sc_store *s, int64_t job_id, int after, int limit,
                        struct sc_task_rec **out, int *n);
int sc_sqlite_job_list(struct sc_store *s, const struct sc_job_filter *f,
                       struct sc_job_rec **out, int *n);
int sc_sqlite_jobs_active(struct sc_store *s, struct sc_job_rec **out, int *n);
int sc_sqlite_max_job_id(struct sc_store *s, int64_t *id);
int sc_sqlite_node_list(struct sc_store *s, struct sc_node_rec **out, int *n);
int sc_sqlite_token_list(struct sc_store *s, struct sc_token_rec **out, int *n);
int sc_sqlite_tenant_list(struct sc_store *s, struct sc_tenant_rec **out, int *n);
int sc_sqlite_attempt_list(struct sc_store *s, int64_t job_id, struct sc_attempt_rec **out,
                           int *n);
/* Accounting reads (sqlite_usage.c). */
int sc_sqlite_usage_report(struct sc_store *s, const struct sc_usage_query *q,
                           struct sc_usage_row **out, int *n);
int sc_sqlite_usage_list(struct sc_store *s, int64_t job_id, struct sc_usage_rec **out,
                         int *n);
int sc_sqlite_price_list(struct sc_store *s, struct sc_price_rec **out, int *n);
/* Runs sql on a pooled read connection (binding key as ?1 when >= 0),
 * growing *out by elem_size per row, each filled by row (0, or an error
 * that stops the read: that row counts, so the caller frees what it
 * holds). *out is the caller's, also on failure (sqlite_read.c). */
int sc_sqlite_collect_rows(struct sc_store *s, const char *sql, int64_t key, size_t elem_size,
                           int (*row)(sqlite3_stmt *, void *), void **out, int *n);
/* A text column into dst (size, truncated; "" for NULL), and an integer
 * column that may be NULL (-1). */
void sc_sqlite_copy_col(sqlite3_stmt *st, int col, char *dst, size_t size);
int sc_sqlite_col_code(sqlite3_stmt *st, int col);
/* A pooled read connection, and back (sqlite_read.c). */
int sc_sqlite_pool_get(struct sc_store *s, sqlite3 **db);
void sc_sqlite_pool_put(struct sc_store *s, sqlite3 *db);
int sc_sqlite_log_read(struct sc_store *s, const struct sc_log_query *q, char **data,
                       size_t *len, int64_t *end);

#endif
