/*
 * Leader election on the lease row of the PostgreSQL store (migrations 9
 * and 10): take the lease when it lapsed, renew it, give it up, read it.
 * Every time is the database's (now()), never a controller's clock, so
 * clock skew between machines cannot make two leaders; the epoch, bumped
 * at every takeover, fences the commits of the holder it replaces (pg.c,
 * supercell_fence). docs/operations.md, "Standby controllers (HA)".
 */
#include "store/store.h"

#include <stdio.h>
#include <string.h>

#include "store/pg_int.h"
#include "util/error.h"

#define NOW_MS "(extract(epoch FROM now()) * 1000)::bigint"
#define LEASE_COLS "epoch, holder, holder_id, lease_ms"

/* $1 holder, $2 holder_id, $3 lease_ms. Free: never held (0 + 0), lapsed,
 * or held under our own identity (we restarted). */
static const char sql_acquire[] =
  "UPDATE lease SET epoch = epoch + 1, holder = $1, holder_id = $2, lease_ms = $3,"
  " renewed_ms = " NOW_MS " WHERE id = 1 AND (renewed_ms + lease_ms <= " NOW_MS
  " OR (holder_id = $2 AND $2 <> '')) RETURNING " LEASE_COLS ", 0";
static const char sql_read[] =
  "SELECT " LEASE_COLS ", " NOW_MS " - renewed_ms FROM lease WHERE id = 1";
static const char sql_renew[] =
  "UPDATE lease SET renewed_ms = " NOW_MS " WHERE id = 1 AND epoch = $1 RETURNING epoch";
static const char sql_release[] =
  "UPDATE lease SET renewed_ms = 0 WHERE id = 1 AND epoch = $1 RETURNING epoch";

/* One statement in its own transaction, waiting at most wait_ms for the
 * row's lock (a holder's commit in flight holds it FOR SHARE). */
struct lease_call {
  const char *what, *sql;
  const struct sc_pg_args *args;
  int64_t wait_ms;
  PGresult *result;
};

static int exec_one(PGconn *c, const char *what, const char *sql)
{
  PGresult *r;
  int rc = sc_pg_run(c, what, sql, NULL, &r);

  PQclear(r);
  return rc;
}

static int run_locked(PGconn *c, void *arg)
{
  struct lease_call *q = arg;
  char set[64];
  int rc;

  PQclear(q->result); /* a first try on a connection that broke */
  q->result = NULL;
  snprintf(set, sizeof set, "SET LOCAL lock_timeout = %lld",
           (long long)(q->wait_ms > 0 ? q->wait_ms : 1000));
  rc = exec_one(c, q->what, "BEGIN");
  if (rc == 0)
    rc = exec_one(c, q->what, set);
  if (rc == 0)
    rc = sc_pg_run(c, q->what, q->sql, q->args, &q->result);
  if (rc == 0)
    rc = exec_one(c, q->what, "COMMIT");
  if (rc < 0) {
    PQclear(q->result);
    q->result = NULL;
    if (PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) != PQTRANS_IDLE)
      exec_one(c, q->what, "ROLLBACK");
  }
  return rc;
}

/* Runs q; 0 with q->result (the caller clears it) or SC_ESTORE. */
static int lease_call(struct sc_store *s, struct lease_call *q)
{
  if (!s || s->ops != &sc_store_pg)
    return SC_EINVAL;
  return sc_pg_with_conn(s, run_locked, q);
}

static void decode(const PGresult *r, struct sc_store_lease *out)
{
  out->epoch = sc_pg_i64(r, 0, 0);
  sc_pg_copy(r, 0, 1, out->holder, sizeof out->holder);
  sc_pg_copy(r, 0, 2, out->holder_id, sizeof out->holder_id);
  out->lease_ms = sc_pg_i64(r, 0, 3);
  out->age_ms = sc_pg_i64(r, 0, 4);
}

int sc_store_pg_lease_read(struct sc_store *s, struct sc_store_lease *out)
{
  PGresult *r;
  int rc;

  memset(out, 0, sizeof *out);
  if (!s || s->ops != &sc_store_pg)
    return SC_EINVAL;
  if ((rc = sc_pg_query(s, "lease read", sql_read, NULL, &r)) < 0)
    return rc;
  if (PQntuples(r) == 1)
    decode(r, out);
  else
    rc = SC_ESTORE; /* migration 9 made the row: someone deleted it */
  PQclear(r);
  return rc;
}

int sc_store_pg_lease_acquire(struct sc_store *s, const struct sc_store_lease_req *req,
                              struct sc_store_lease *out, bool *won)
{
  struct sc_pg_args a = {0};
  struct lease_call q = {"lease acquire", sql_acquire, &a, req->wait_ms, NULL};
  int rc;

  memset(out, 0, sizeof *out);
  *won = false;
  sc_pg_arg_text(&a, req->holder);
  sc_pg_arg_text(&a, req->holder_id);
  sc_pg_arg_i64(&a, req->lease_ms);
  if ((rc = lease_call(s, &q)) < 0)
    return rc;
  if (PQntuples(q.result) == 1) {
    decode(q.result, out);
    *won = true;
    pthread_mutex_lock(&s->mu);
    s->lease_ms = req->lease_ms; /* the writer's idle limit (pg.c) */
    pthread_mutex_unlock(&s->mu);
  }
  PQclear(q.result);
  return *won ? 0 : sc_store_pg_lease_read(s, out);
}

/* An UPDATE of lease epoch: 0 when it matched, SC_ESTATE when the epoch
 * moved on, SC_ESTORE. */
static int update_epoch(struct sc_store *s, const char *what, const char *sql, int64_t epoch,
                        int64_t wait_ms)
{
  struct sc_pg_args a = {0};
  struct lease_call q = {what, sql, &a, wait_ms, NULL};
  int rc;

  sc_pg_arg_i64(&a, epoch);
  if ((rc = lease_call(s, &q)) < 0)
    return rc;
  rc = PQntuples(q.result) == 1 ? 0 : SC_ESTATE;
  PQclear(q.result);
  return rc;
}

int sc_store_pg_lease_renew(struct sc_store *s, int64_t epoch, int64_t wait_ms)
{
  return update_epoch(s, "lease renew", sql_renew, epoch, wait_ms);
}

int sc_store_pg_lease_release(struct sc_store *s, int64_t epoch)
{
  return update_epoch(s, "lease release", sql_release, epoch, 1000);
}
