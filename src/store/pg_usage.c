/*
 * PostgreSQL backend, accounting reads: sqlite_usage.c's report in
 * PostgreSQL's dialect (greatest/least for SQLite's two-argument max/min,
 * coalesce(sum(), 0) for total(), to_char for strftime), with the same
 * groups, figures and order; a job's records and the price list. Only
 * fixed fragments are composed; every value is a parameter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg_int.h"
#include "store/rows.h"
#include "util/error.h"
#include "util/log.h"

#define NEVER "9223372036854775807"
#define DAY_MS "86400000"
/* A price item as SQLite's NOCASE column compares it: ASCII folded. */
#define ITEM(col) "lower(" col " COLLATE \"C\")"

/* $1 tenant, $2 within, $3 since, $4 until, $5 now. */
static const char sql_sub[] =
  " sub(name) AS (SELECT $1::text UNION SELECT t.name FROM tenants t JOIN sub"
  " ON t.parent = sub.name),";
static const char sql_mine[] =
  " mine(name) AS (SELECT $2::text UNION SELECT t.name FROM tenants t JOIN mine"
  " ON t.parent = mine.name),";
static const char sql_window[] = " b(lo, hi) AS (SELECT $3::bigint, $4::bigint),";
static const char sql_days[] =
  " w(since) AS (SELECT CASE WHEN $3 > 0 THEN $3"
  " ELSE coalesce((SELECT min(start_ms) FROM usage), $4) END),"
  " b(lo, hi) AS (SELECT since, least(since - since % " DAY_MS " + " DAY_MS ", $4) FROM w"
  " WHERE since < $4 UNION ALL SELECT hi, least(hi + " DAY_MS ", $4) FROM b WHERE hi < $4),";
static const char sql_prices[] =
  " p AS (SELECT " ITEM("item") " AS item, from_ms, lead(from_ms, 1, " NEVER ")"
  " OVER (PARTITION BY " ITEM("item") " ORDER BY from_ms) AS to_ms, per_hour,"
  " coalesce(spot_per_hour, per_hour) AS spot_hour FROM prices),";
static const char sql_pieces_head[] = " x AS (SELECT ";
static const char sql_pieces_body[] =
  " AS k, u.spot AS spot, u.model AS model, greatest(u.start_ms, b.lo) AS s,"
  " least(coalesce(u.end_ms, $5), b.hi) AS e, u.devices * u.gpu_milli AS g,"
  " u.cpu_milli AS cpu, u.memory_mib AS mem FROM usage u JOIN b ON u.start_ms < b.hi"
  " AND coalesce(u.end_ms, " NEVER ") > b.lo WHERE u.start_ms < $4"
  " AND coalesce(u.end_ms, " NEVER ") > $3";
static const char sql_in_sub[] = " AND u.tenant IN (SELECT name FROM sub)";
static const char sql_in_mine[] = " AND u.tenant IN (SELECT name FROM mine)";
#define PIECE_COST(item, qty, unit)                                                     \
  "coalesce((SELECT sum((least(e, p.to_ms) - greatest(s, p.from_ms)) * CASE WHEN x.spot <> 0" \
  " THEN p.spot_hour ELSE p.per_hour END) FROM p WHERE p.item = " item                  \
  " AND p.from_ms < e AND p.to_ms > s), 0) * " qty " / " unit
static const char sql_tail[] =
  "), y AS (SELECT k, spot, s, e, g, cpu, mem, ("
  "CASE WHEN g > 0 THEN " PIECE_COST(ITEM("x.model"), "g", "1000.0::float8") " ELSE 0 END"
  " + CASE WHEN cpu > 0 THEN " PIECE_COST("'cpu'", "cpu", "1000.0::float8") " ELSE 0 END"
  " + CASE WHEN mem > 0 THEN " PIECE_COST("'memory'", "mem", "1024.0::float8") " ELSE 0 END"
  ") / 3600000.0::float8 AS cost FROM x WHERE e > s)"
  " SELECT k, count(*), coalesce(sum((e - s) * g), 0)::float8,"
  " coalesce(sum(CASE WHEN spot <> 0 THEN (e - s) * g ELSE 0 END), 0)::float8,"
  " coalesce(sum((e - s) * cpu), 0)::float8, coalesce(sum((e - s) * mem), 0)::float8,"
  " coalesce(sum(cost), 0), coalesce(sum(CASE WHEN spot <> 0 THEN 0 ELSE cost END), 0),"
  " coalesce(sum(CASE WHEN spot <> 0 THEN cost ELSE 0 END), 0)"
  " FROM y GROUP BY k ORDER BY k COLLATE \"C\"";

static const char *const group_keys[SC_USAGE_BY_N] = {
  [SC_USAGE_BY_NONE] = "''::text",
  [SC_USAGE_BY_TENANT] = "u.tenant",
  [SC_USAGE_BY_MODEL] = "u.model",
  [SC_USAGE_BY_REGION] = "u.region",
  [SC_USAGE_BY_DAY] = "to_char(to_timestamp(b.lo / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
  /* printf('j-%06d'): at least six digits */
  [SC_USAGE_BY_JOB] = "'j-' || CASE WHEN u.job_id BETWEEN 0 AND 999999"
                      " THEN lpad(u.job_id::text, 6, '0') ELSE u.job_id::text END",
};

/* The report's pieces in this backend's dialect (rows.h). */
static const struct sc_usage_sql dialect = {
  sql_sub,    sql_mine,        sql_days,        sql_window, sql_prices, sql_pieces_head,
  group_keys, sql_pieces_body, sql_in_sub, sql_in_mine, sql_tail,
};

static void row_report(const PGresult *r, int i, struct sc_usage_row *u)
{
  memset(u, 0, sizeof *u);
  sc_pg_copy(r, i, 0, u->key, sizeof u->key);
  u->records = sc_pg_i64(r, i, 1);
  u->gpu_hours = sc_pg_f64(r, i, 2) / 1000.0 / 3600000.0;
  u->spot_gpu_hours = sc_pg_f64(r, i, 3) / 1000.0 / 3600000.0;
  u->cpu_core_hours = sc_pg_f64(r, i, 4) / 1000.0 / 3600000.0;
  u->memory_gib_hours = sc_pg_f64(r, i, 5) / 1024.0 / 3600000.0;
  u->cost = sc_pg_f64(r, i, 6);
  u->cost_on_demand = sc_pg_f64(r, i, 7);
  u->cost_spot = sc_pg_f64(r, i, 8);
}

static int query(struct sc_store *s, const char *sql, const struct sc_pg_args *a,
                 PGresult **r)
{
  return sc_pg_query(s, "usage", sql, a, r);
}

int sc_pg_usage_report(struct sc_store *s, const struct sc_usage_query *q,
                       struct sc_usage_row **out, int *n)
{
  struct sc_pg_args a = {0};
  PGresult *r;
  char *sql;
  int rc;

  *out = NULL;
  *n = 0;
  if (q->by < 0 || q->by >= SC_USAGE_BY_N)
    return SC_EINVAL;
  if (!(sql = sc_rows_usage_sql(&dialect, q)))
    return SC_ENOMEM;
  sc_pg_arg_text(&a, q->tenant);
  sc_pg_arg_text(&a, q->within);
  sc_pg_arg_i64(&a, q->since_ms);
  sc_pg_arg_i64(&a, q->until_ms);
  sc_pg_arg_i64(&a, q->now_ms);
  rc = query(s, sql, &a, &r);
  free(sql);
  if (rc < 0)
    return rc;
  if (PQntuples(r) > 0 && !(*out = calloc((size_t)PQntuples(r), sizeof **out)))
    rc = SC_ENOMEM;
  for (int i = 0; rc == 0 && i < PQntuples(r); i++)
    row_report(r, i, &(*out)[(*n)++]);
  PQclear(r);
  return rc;
}

static const char sql_usage_of_job[] =
  "SELECT job_id, task, attempt, tenant, node, region, model, vendor, devices, gpu_milli,"
  " cpu_milli, memory_mib, spot, start_ms, end_ms, how, exit_code, signal FROM usage"
  " WHERE job_id = $1 ORDER BY task, attempt";

static void row_usage(const PGresult *r, int i, struct sc_usage_rec *u)
{
  memset(u, 0, sizeof *u);
  u->job_id = sc_pg_i64(r, i, 0);
  u->task = (int)sc_pg_i64(r, i, 1);
  u->attempt = (int)sc_pg_i64(r, i, 2);
  sc_pg_copy(r, i, 3, u->tenant, sizeof u->tenant);
  sc_pg_copy(r, i, 4, u->node, sizeof u->node);
  sc_pg_copy(r, i, 5, u->region, sizeof u->region);
  sc_pg_copy(r, i, 6, u->model, sizeof u->model);
  sc_pg_copy(r, i, 7, u->vendor, sizeof u->vendor);
  u->devices = (int)sc_pg_i64(r, i, 8);
  u->gpu_milli = (int)sc_pg_i64(r, i, 9);
  u->cpu_milli = sc_pg_i64(r, i, 10);
  u->memory_mib = sc_pg_i64(r, i, 11);
  u->spot = sc_pg_i64(r, i, 12) != 0;
  u->start_ms = sc_pg_i64(r, i, 13);
  u->end_ms = sc_pg_i64(r, i, 14);
  u->how = sc_usage_end_parse(PQgetvalue(r, i, 15));
  u->exit_code = sc_pg_code(r, i, 16);
  u->signal = sc_pg_code(r, i, 17);
}

static const char sql_prices_all[] =
  "SELECT item, from_ms, per_hour, spot_per_hour, created_ms FROM prices"
  " ORDER BY " ITEM("item") ", from_ms";

static void row_price(const PGresult *r, int i, struct sc_price_rec *p)
{
  memset(p, 0, sizeof *p);
  sc_pg_copy(r, i, 0, p->item, sizeof p->item);
  p->from_ms = sc_pg_i64(r, i, 1);
  p->per_hour = sc_pg_f64(r, i, 2);
  p->spot_per_hour = PQgetisnull(r, i, 3) ? -1 : sc_pg_f64(r, i, 3);
  p->created_ms = sc_pg_i64(r, i, 4);
}

int sc_pg_usage_list(struct sc_store *s, int64_t job_id, struct sc_usage_rec **out, int *n)
{
  struct sc_pg_args a = {0};
  PGresult *r;
  int rc;

  *out = NULL;
  *n = 0;
  sc_pg_arg_i64(&a, job_id);
  if ((rc = query(s, sql_usage_of_job, &a, &r)) < 0)
    return rc;
  if (PQntuples(r) > 0 && !(*out = calloc((size_t)PQntuples(r), sizeof **out)))
    rc = SC_ENOMEM;
  for (int i = 0; rc == 0 && i < PQntuples(r); i++)
    row_usage(r, i, &(*out)[(*n)++]);
  PQclear(r);
  return rc;
}

int sc_pg_price_list(struct sc_store *s, struct sc_price_rec **out, int *n)
{
  PGresult *r;
  int rc;

  *out = NULL;
  *n = 0;
  if ((rc = query(s, sql_prices_all, NULL, &r)) < 0)
    return rc;
  if (PQntuples(r) > 0 && !(*out = calloc((size_t)PQntuples(r), sizeof **out)))
    rc = SC_ENOMEM;
  for (int i = 0; rc == 0 && i < PQntuples(r); i++)
    row_price(r, i, &(*out)[(*n)++]);
  PQclear(r);
  return rc;
}
