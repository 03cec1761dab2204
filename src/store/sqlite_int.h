/*
 * Private to the SQLite backend: the store struct shared by its write side
 * (sqlite.c: writer thread, group commit) and read side (sqlite_read.c:
 * pooled read connections, row decoding).
 */
#ifndef SC_STORE_SQLITE_INT_H
#define SC_STORE_SQLITE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>

#include "store/sqlite_sql.h"
#include "store/store.h"

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
int sc_sqlite_log_read(struct sc_store *s, const struct sc_log_query *q, char **data,
                       size_t *len, int64_t *end);

#endif
