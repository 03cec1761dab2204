/*
 * What both sides of the PostgreSQL backend share: connections with the
 * backend's settings, statement parameters, column decoding and the pool
 * of read connections.
 */
#include "store/pg_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/log.h"

/* The server's notices (a CREATE ... IF NOT EXISTS that skipped) go to the
 * debug log: library code never prints. */
static void notice(void *arg, const char *message)
{
  size_t len = strlen(message);

  (void)arg;
  sc_debug("store: postgres: %.*s", (int)(len && message[len - 1] == '\n' ? len - 1 : len),
           message);
}

void sc_pg_log_error(const char *what, const char *msg)
{
  char line[512];
  size_t at = 0;

  /* One line: the server's ERROR, DETAIL and CONTEXT lines joined. */
  for (const char *p = msg ? msg : "unknown error"; *p && at + 3 < sizeof line; p++) {
    if (*p != '\n')
      line[at++] = *p;
    else if (p[1] && at > 0)
      line[at++] = ';', line[at++] = ' ';
  }
  while (at > 0 && line[at - 1] == ' ')
    at--;
  line[at] = '\0';
  sc_error("store: %s: %s", what, line);
}

static void log_conn_error(PGconn *c)
{
  sc_pg_log_error("cannot connect to PostgreSQL", c ? PQerrorMessage(c) : "out of memory");
}

int sc_pg_connect(const char *conninfo, PGconn **out)
{
  /* The URI is expanded first; later keywords override what it says. */
  const char *const keys[] = {"dbname", "fallback_application_name", "client_encoding", NULL};
  const char *const values[] = {conninfo, "supercell", "UTF8", NULL};
  PGconn *c;

  *out = NULL;
  if (sc_pq_lib_load() != 0)
    return SC_ESTORE;
  c = PQconnectdbParams(keys, values, 1);
  if (!c || PQstatus(c) != CONNECTION_OK) {
    log_conn_error(c);
    PQfinish(c);
    return SC_ESTORE;
  }
  PQsetNoticeProcessor(c, notice, NULL);
  *out = c;
  return 0;
}

/* ---- parameters ---- */

/* Type oids (catalog/pg_type.h, stable across versions). */
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_TEXT 25
#define OID_FLOAT8 701
#define OID_INT8_ARRAY 1016

static int arg_slot(struct sc_pg_args *a, Oid type)
{
  int i = a->n < PG_MAX_ARGS ? a->n++ : PG_MAX_ARGS - 1;

  a->val[i] = NULL;
  a->len[i] = 0;
  a->fmt[i] = 0;
  a->type[i] = type;
  return i;
}

void sc_pg_arg_i64(struct sc_pg_args *a, int64_t v)
{
  int i = arg_slot(a, OID_INT8);

  snprintf(a->num[i], sizeof a->num[i], "%" PRId64, v);
  a->val[i] = a->num[i];
}

void sc_pg_arg_f64(struct sc_pg_args *a, double v)
{
  int i = arg_slot(a, OID_FLOAT8);

  snprintf(a->num[i], sizeof a->num[i], "%.17g", v);
  a->val[i] = a->num[i];
}

void sc_pg_arg_text(struct sc_pg_args *a, const char *text)
{
  a->val[arg_slot(a, OID_TEXT)] = text;
}

void sc_pg_arg_i64_array(struct sc_pg_args *a, const char *text)
{
  a->val[arg_slot(a, OID_INT8_ARRAY)] = text;
}

void sc_pg_arg_null(struct sc_pg_args *a)
{
  arg_slot(a, 0);
}

void sc_pg_arg_bin(struct sc_pg_args *a, const void *data, size_t len)
{
  int i = arg_slot(a, OID_BYTEA);

  a->val[i] = len ? data : "";
  a->len[i] = (int)len;
  a->fmt[i] = 1;
}

/* ---- reads ---- */

int sc_pg_run(PGconn *c, const char *what, const char *sql, const struct sc_pg_args *a,
              PGresult **out)
{
  PGresult *r = PQexecParams(c, sql, a ? a->n : 0, a ? a->type : NULL, a ? a->val : NULL,
                             a ? a->len : NULL, a ? a->fmt : NULL, a && a->binary);
  ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;

  *out = NULL;
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
    sc_pg_log_error(what, r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    PQclear(r);
    return SC_ESTORE;
  }
  *out = r;
  return 0;
}

int64_t sc_pg_i64(const PGresult *r, int row, int col)
{
  return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

int sc_pg_code(const PGresult *r, int row, int col)
{
  return PQgetisnull(r, row, col) ? -1 : (int)strtol(PQgetvalue(r, row, col), NULL, 10);
}

double sc_pg_f64(const PGresult *r, int row, int col)
{
  return PQgetisnull(r, row, col) ? 0 : strtod(PQgetvalue(r, row, col), NULL);
}

void sc_pg_copy(const PGresult *r, int row, int col, char *dst, size_t size)
{
  const char *text = PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col);

  snprintf(dst, size, "%s", text);
}

int sc_pg_pool_get(struct sc_store *s, PGconn **c)
{
  pthread_mutex_lock(&s->pool_mu);
  if (s->npool > 0) {
    *c = s->pool[--s->npool];
    pthread_mutex_unlock(&s->pool_mu);
    return 0;
  }
  pthread_mutex_unlock(&s->pool_mu);
  return sc_pg_connect(s->conninfo, c);
}

void sc_pg_pool_put(struct sc_store *s, PGconn *c)
{
  /* A connection that broke, or that a failed read left in a transaction,
   * is not reused: the next read opens a fresh one. */
  if (c && (PQstatus(c) != CONNECTION_OK || PQtransactionStatus(c) != PQTRANS_IDLE)) {
    PQfinish(c);
    return;
  }
  pthread_mutex_lock(&s->pool_mu);
  if (s->npool < PG_POOL_MAX) {
    s->pool[s->npool++] = c;
    c = NULL;
  }
  pthread_mutex_unlock(&s->pool_mu);
  PQfinish(c);
}

/* Closes every idle pooled connection (after one broke, the others have
 * most likely broken with it: a server restart). */
static void pool_drain(struct sc_store *s)
{
  PGconn *idle[PG_POOL_MAX];
  int n;

  pthread_mutex_lock(&s->pool_mu);
  n = s->npool;
  memcpy(idle, s->pool, (size_t)n * sizeof *idle);
  s->npool = 0;
  pthread_mutex_unlock(&s->pool_mu);
  for (int i = 0; i < n; i++)
    PQfinish(idle[i]);
}

int sc_pg_with_conn(struct sc_store *s, int (*fn)(PGconn *c, void *arg), void *arg)
{
  PGconn *c;
  int rc;

  if ((rc = sc_pg_pool_get(s, &c)) < 0)
    return rc;
  rc = fn(c, arg);
  if (rc < 0 && PQstatus(c) != CONNECTION_OK) {
    sc_warn("store: a PostgreSQL connection broke: reading again on a new one");
    PQfinish(c);
    pool_drain(s);
    if ((rc = sc_pg_connect(s->conninfo, &c)) < 0)
      return rc;
    rc = fn(c, arg);
  }
  sc_pg_pool_put(s, c);
  return rc;
}

struct one_query {
  const char *what, *sql;
  const struct sc_pg_args *args;
  PGresult *result;
};

static int run_one(PGconn *c, void *arg)
{
  struct one_query *q = arg;

  return sc_pg_run(c, q->what, q->sql, q->args, &q->result);
}

int sc_pg_query(struct sc_store *s, const char *what, const char *sql,
                const struct sc_pg_args *a, PGresult **out)
{
  struct one_query q = {what, sql, a, NULL};
  int rc = sc_pg_with_conn(s, run_one, &q);

  *out = rc == 0 ? q.result : NULL;
  return rc;
}
