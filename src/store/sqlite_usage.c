/*
 * SQLite backend, accounting reads: usage reports aggregated in SQL (each
 * record clipped to the window and to its bucket, priced piecewise over
 * the price versions it spans, summed per group), a job's records and the
 * price list. Only fixed fragments are composed; every value is bound.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/rows.h"
#include "store/sqlite_int.h"
#include "util/error.h"
#include "util/log.h"
#include "util/vec.h"

#define NEVER "9223372036854775807"
#define DAY_MS "86400000"

/* ?1 tenant, ?2 within, ?3 since, ?4 until, ?5 now. */
static const char sql_sub[] =
  " sub(name) AS (SELECT ?1 UNION SELECT t.name FROM tenants t JOIN sub ON t.parent = sub.name),";
static const char sql_mine[] =
  " mine(name) AS (SELECT ?2 UNION SELECT t.name FROM tenants t JOIN mine"
  " ON t.parent = mine.name),";
/* Buckets: the window whole, or cut at UTC midnights (from the first
 * record when the window has no start). */
static const char sql_window[] = " b(lo, hi) AS (SELECT ?3, ?4),";
static const char sql_days[] =
  " w(since) AS (SELECT CASE WHEN ?3 > 0 THEN ?3"
  " ELSE coalesce((SELECT min(start_ms) FROM usage), ?4) END),"
  " b(lo, hi) AS (SELECT since, min(since - since % " DAY_MS " + " DAY_MS ", ?4) FROM w"
  " WHERE since < ?4 UNION ALL SELECT hi, min(hi + " DAY_MS ", ?4) FROM b WHERE hi < ?4),";
/* Price versions as intervals [from_ms, to_ms); spot_hour is the price
 * spot use pays (the on-demand one when no spot price is set). */
static const char sql_prices[] =
  " p AS (SELECT item, from_ms, lead(from_ms, 1, " NEVER ") OVER (PARTITION BY item"
  " ORDER BY from_ms) AS to_ms, per_hour, coalesce(spot_per_hour, per_hour) AS spot_hour"
  " FROM prices),";
/* Pieces of records: [s, e) within the window and one bucket. */
static const char sql_pieces_head[] = " x AS (SELECT ";
static const char sql_pieces_body[] =
  " AS k, u.spot AS spot, u.model AS model, max(u.start_ms, b.lo) AS s,"
  " min(coalesce(u.end_ms, ?5), b.hi) AS e, u.devices * u.gpu_milli AS g,"
  " u.cpu_milli AS cpu, u.memory_mib AS mem FROM usage u JOIN b ON u.start_ms < b.hi"
  " AND coalesce(u.end_ms, " NEVER ") > b.lo WHERE u.start_ms < ?4"
  " AND coalesce(u.end_ms, " NEVER ") > ?3";
static const char sql_in_sub[] = " AND u.tenant IN sub";
static const char sql_in_mine[] = " AND u.tenant IN mine";
/* The cost of a piece: for each item it uses (its model per device-hour,
 * cpu per core-hour, memory per GiB-hour), the overlap with each price
 * version times that version's price. Items with no price cost 0. */
#define PIECE_COST(item, qty, unit)                                                   \
  "(SELECT total((min(e, p.to_ms) - max(s, p.from_ms)) * CASE WHEN x.spot THEN p.spot_hour" \
  " ELSE p.per_hour END) FROM p WHERE p.item = " item " AND p.from_ms < e AND p.to_ms > s)" \
  " * " qty " / " unit
static const char sql_tail[] =
  "), y AS (SELECT k, spot, s, e, g, cpu, mem, ("
  "CASE WHEN g > 0 THEN " PIECE_COST("x.model", "g", "1000.0") " ELSE 0 END"
  " + CASE WHEN cpu > 0 THEN " PIECE_COST("'cpu'", "cpu", "1000.0") " ELSE 0 END"
  " + CASE WHEN mem > 0 THEN " PIECE_COST("'memory'", "mem", "1024.0") " ELSE 0 END"
  ") / 3600000.0 AS cost FROM x WHERE e > s)"
  " SELECT k, count(*), total((e - s) * g), total(CASE WHEN spot THEN (e - s) * g ELSE 0 END),"
  " total((e - s) * cpu), total((e - s) * mem), total(cost),"
  " total(CASE WHEN spot THEN 0 ELSE cost END), total(CASE WHEN spot THEN cost ELSE 0 END)"
  " FROM y GROUP BY k ORDER BY k";

static const char *const group_keys[SC_USAGE_BY_N] = {
  [SC_USAGE_BY_NONE] = "''",
  [SC_USAGE_BY_TENANT] = "u.tenant",
  [SC_USAGE_BY_MODEL] = "u.model",
  [SC_USAGE_BY_REGION] = "u.region",
  [SC_USAGE_BY_DAY] = "strftime('%Y-%m-%d', b.lo / 1000, 'unixepoch')",
  [SC_USAGE_BY_JOB] = "printf('j-%06d', u.job_id)",
};

/* The report's pieces in this backend's dialect (rows.h). */
static const struct sc_usage_sql dialect = {
  sql_sub,    sql_mine,        sql_days,        sql_window, sql_prices, sql_pieces_head,
  group_keys, sql_pieces_body, sql_in_sub, sql_in_mine, sql_tail,
};

static void row_report(sqlite3_stmt *st, struct sc_usage_row *r)
{
  memset(r, 0, sizeof *r);
  sc_sqlite_copy_col(st, 0, r->key, sizeof r->key);
  r->records = sqlite3_column_int64(st, 1);
  r->gpu_hours = sqlite3_column_double(st, 2) / 1000.0 / 3600000.0;
  r->spot_gpu_hours = sqlite3_column_double(st, 3) / 1000.0 / 3600000.0;
  r->cpu_core_hours = sqlite3_column_double(st, 4) / 1000.0 / 3600000.0;
  r->memory_gib_hours = sqlite3_column_double(st, 5) / 1024.0 / 3600000.0;
  r->cost = sqlite3_column_double(st, 6);
  r->cost_on_demand = sqlite3_column_double(st, 7);
  r->cost_spot = sqlite3_column_double(st, 8);
}

int sc_sqlite_usage_report(struct sc_store *s, const struct sc_usage_query *q,
                           struct sc_usage_row **out, int *n)
{
  sqlite3 *db;
  sqlite3_stmt *st = NULL;
  char *sql;
  int rc, cap = 0, step;

  *out = NULL;
  *n = 0;
  if (q->by < 0 || q->by >= SC_USAGE_BY_N)
    return SC_EINVAL;
  if (!(sql = sc_rows_usage_sql(&dialect, q)))
    return SC_ENOMEM;
  if ((rc = sc_sqlite_pool_get(s, &db)) < 0) {
    free(sql);
    return rc;
  }
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    sc_error("store: usage report: %s", sqlite3_errmsg(db));
    free(sql);
    sc_sqlite_pool_put(s, db);
    return SC_ESTORE;
  }
  free(sql);
  if (q->tenant)
    sqlite3_bind_text(st, 1, q->tenant, -1, SQLITE_STATIC);
  if (q->within)
    sqlite3_bind_text(st, 2, q->within, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, q->since_ms);
  sqlite3_bind_int64(st, 4, q->until_ms);
  sqlite3_bind_int64(st, 5, q->now_ms);
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    if ((rc = SC_VEC_RESERVE_ONE(*out, *n, cap)) < 0)
      break;
    row_report(st, &(*out)[(*n)++]);
  }
  if (rc == 0 && step != SQLITE_DONE) {
    sc_error("store: usage report: %s", sqlite3_errmsg(db));
    rc = SC_ESTORE;
  }
  sqlite3_finalize(st);
  sc_sqlite_pool_put(s, db);
  if (rc < 0) {
    free(*out);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

static const char sql_usage_of_job[] =
  "SELECT job_id, task, attempt, tenant, node, region, model, vendor, devices, gpu_milli,"
  " cpu_milli, memory_mib, spot, start_ms, end_ms, how, exit_code, signal FROM usage"
  " WHERE job_id = ?1 ORDER BY task, attempt";

static void row_usage(sqlite3_stmt *st, struct sc_usage_rec *u)
{
  memset(u, 0, sizeof *u);
  u->job_id = sqlite3_column_int64(st, 0);
  u->task = sqlite3_column_int(st, 1);
  u->attempt = sqlite3_column_int(st, 2);
  sc_sqlite_copy_col(st, 3, u->tenant, sizeof u->tenant);
  sc_sqlite_copy_col(st, 4, u->node, sizeof u->node);
  sc_sqlite_copy_col(st, 5, u->region, sizeof u->region);
  sc_sqlite_copy_col(st, 6, u->model, sizeof u->model);
  sc_sqlite_copy_col(st, 7, u->vendor, sizeof u->vendor);
  u->devices = sqlite3_column_int(st, 8);
  u->gpu_milli = sqlite3_column_int(st, 9);
  u->cpu_milli = sqlite3_column_int64(st, 10);
  u->memory_mib = sqlite3_column_int64(st, 11);
  u->spot = sqlite3_column_int(st, 12) != 0;
  u->start_ms = sqlite3_column_int64(st, 13);
  u->end_ms = sqlite3_column_int64(st, 14);
  u->how = sc_usage_end_parse((const char *)sqlite3_column_text(st, 15));
  u->exit_code = sc_sqlite_col_code(st, 16);
  u->signal = sc_sqlite_col_code(st, 17);
}

static const char sql_prices_all[] =
  "SELECT item, from_ms, per_hour, spot_per_hour, created_ms FROM prices"
  " ORDER BY item, from_ms";

static void row_price(sqlite3_stmt *st, struct sc_price_rec *p)
{
  memset(p, 0, sizeof *p);
  sc_sqlite_copy_col(st, 0, p->item, sizeof p->item);
  p->from_ms = sqlite3_column_int64(st, 1);
  p->per_hour = sqlite3_column_double(st, 2);
  p->spot_per_hour =
    sqlite3_column_type(st, 3) == SQLITE_NULL ? -1 : sqlite3_column_double(st, 3);
  p->created_ms = sqlite3_column_int64(st, 4);
}

static int decode_usage(sqlite3_stmt *st, void *row)
{
  row_usage(st, row);
  return 0;
}

static int decode_price(sqlite3_stmt *st, void *row)
{
  row_price(st, row);
  return 0;
}

/* A read of fixed-size rows: on failure nothing is kept. */
static int read_rows(struct sc_store *s, const char *sql, int64_t key, size_t size,
                     int (*decode)(sqlite3_stmt *, void *), void **out, int *n)
{
  int rc = sc_sqlite_collect_rows(s, sql, key, size, decode, out, n);

  if (rc < 0) {
    free(*out);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

int sc_sqlite_usage_list(struct sc_store *s, int64_t job_id, struct sc_usage_rec **out, int *n)
{
  void *rows;
  int rc = read_rows(s, sql_usage_of_job, job_id, sizeof **out, decode_usage, &rows, n);

  *out = rows;
  return rc;
}

int sc_sqlite_price_list(struct sc_store *s, struct sc_price_rec **out, int *n)
{
  void *rows;
  int rc = read_rows(s, sql_prices_all, -1, sizeof **out, decode_price, &rows, n);

  *out = rows;
  return rc;
}
