/*
 * Accounting in the store (SQLite, or with --pg PostgreSQL: the same
 * figures from both, store_backend.h): usage records and price
 * versions round trip, and reports aggregate them in SQL: piecewise prices
 * over a record that spans a price change, milli-GPU shares, spot against
 * on-demand prices, running records counted up to now, windows, tenant
 * subtrees and groupings. Every expected figure is derived by hand in the
 * comments (H is an hour in ms, B is 2026-01-01T00:00:00Z).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "store_backend.h"
#include "util/error.h"

#define H 3600000LL
#define B 1767225600000LL
#define EPS 1e-9

static struct sc_store *store;

static void put(const struct sc_store_op *op)
{
  struct sc_store_batch *b = sc_store_batch_new();

  sc_store_batch_add(b, op);
  assert_int_equal(sc_store_write(store, b), 0);
  sc_store_batch_free(b);
}

static void put_tenant(const char *name, const char *parent, int64_t id)
{
  struct sc_store_op op = {.kind = SC_STORE_TENANT_PUT};

  snprintf(op.u.tenant.name, sizeof op.u.tenant.name, "%s", name);
  snprintf(op.u.tenant.parent, sizeof op.u.tenant.parent, "%s", parent);
  op.u.tenant.id = id;
  put(&op);
}

static void put_price(const char *item, int64_t from, double per_hour, double spot)
{
  struct sc_store_op op = {.kind = SC_STORE_PRICE_PUT};

  snprintf(op.u.price.item, sizeof op.u.price.item, "%s", item);
  op.u.price.from_ms = from;
  op.u.price.per_hour = per_hour;
  op.u.price.spot_per_hour = spot;
  put(&op);
}

struct rec {
  const char *tenant, *model;
  int64_t job;
  int task, devices, gpu_milli;
  int64_t cpu_milli, memory_mib;
  bool spot;
  int64_t start, end;
};

static void put_usage(const struct rec *r)
{
  struct sc_store_op op = {.kind = SC_STORE_USAGE_PUT};
  struct sc_usage_rec *u = &op.u.usage;

  u->job_id = r->job;
  u->task = r->task;
  snprintf(u->tenant, sizeof u->tenant, "%s", r->tenant);
  snprintf(u->node, sizeof u->node, "node-a");
  snprintf(u->region, sizeof u->region, "eu");
  snprintf(u->model, sizeof u->model, "%s", r->model);
  u->devices = r->devices;
  u->gpu_milli = r->gpu_milli;
  u->cpu_milli = r->cpu_milli;
  u->memory_mib = r->memory_mib;
  u->spot = r->spot;
  u->start_ms = r->start;
  u->end_ms = r->end;
  u->how = r->end ? SC_USAGE_EXIT : SC_USAGE_RUNNING;
  u->exit_code = r->end ? 0 : -1;
  u->signal = -1;
  put(&op);
}

/*
 * Prices: H100 2.0 (spot 0.8) per GPU-hour from B, then 3.0 (no spot
 * price) from B + 1H; A100 1.0 from B; cpu 0.1 per core-hour and memory
 * 0.01 per GiB-hour from B. Tenants: a, b below a, c and d roots.
 * Records:
 *   R1 a, j1: 1 x H100, 2 cores, 4 GiB, on-demand, B+0.5H .. B+1.5H
 *   R2 b, j2: a 500-milli share of an H100, spot, B .. B+2H
 *   R3 c, j3: 2 x A100 (recorded as "a100"), running since B+1H
 *   R4 d, j5: 1 x X (no price), B+23H .. B+25H (spans a midnight)
 */
static int setup(void **state)
{
  static const struct rec recs[] = {
    {"a", "H100", 1, 0, 1, 1000, 2000, 4096, false, B + H / 2, B + 3 * H / 2},
    {"b", "H100", 2, 0, 1, 500, 0, 0, true, B, B + 2 * H},
    {"c", "a100", 3, 0, 2, 1000, 0, 0, false, B + H, 0},
    {"d", "X", 5, 0, 1, 1000, 0, 0, false, B + 23 * H, B + 25 * H},
  };

  tb_setup(state);
  store = tb_open();
  put_tenant("a", "", 1);
  put_tenant("b", "a", 2);
  put_tenant("c", "", 3);
  put_tenant("d", "", 4);
  put_price("H100", B, 2.0, 0.8);
  put_price("H100", B + H, 3.0, -1);
  put_price("A100", B, 1.0, -1);
  put_price("cpu", B, 0.1, -1);
  put_price("memory", B, 0.01, -1);
  for (size_t i = 0; i < sizeof recs / sizeof recs[0]; i++)
    put_usage(&recs[i]);
  return 0;
}

static int teardown(void **state)
{
  sc_store_close(store);
  store = NULL;
  return tb_teardown(state);
}

static struct sc_usage_row *report(const struct sc_usage_query *q, int want)
{
  struct sc_usage_row *rows;
  int n;

  assert_int_equal(sc_store_usage_report(store, q, &rows, &n), 0);
  assert_int_equal(n, want);
  return rows;
}

/* Records and prices read back as written (no spot price reads -1). */
static void test_usage_roundtrip(void **state)
{
  struct sc_usage_rec *u;
  struct sc_price_rec *p;
  int n;

  (void)state;
  assert_int_equal(sc_store_usage_list(store, 2, &u, &n), 0);
  assert_int_equal(n, 1);
  assert_string_equal(u[0].tenant, "b");
  assert_int_equal(u[0].gpu_milli, 500);
  assert_true(u[0].spot);
  assert_int_equal(u[0].how, SC_USAGE_EXIT);
  assert_int_equal(u[0].end_ms, B + 2 * H);
  free(u);
  assert_int_equal(sc_store_usage_list(store, 3, &u, &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(u[0].end_ms, 0);
  assert_int_equal(u[0].how, SC_USAGE_RUNNING);
  assert_int_equal(u[0].exit_code, -1);
  free(u);
  assert_int_equal(sc_store_price_list(store, &p, &n), 0);
  assert_int_equal(n, 5); /* A100, cpu, H100 x 2, memory (any case, by item) */
  assert_string_equal(p[0].item, "A100");
  assert_string_equal(p[2].item, "H100");
  assert_float_equal(p[2].spot_per_hour, 0.8, EPS);
  assert_float_equal(p[3].spot_per_hour, -1, EPS);
  free(p);
}

/*
 * By tenant over [0, B+48H), now B+3H:
 *   a: R1 1 GPU x 1 h = 1 GPU-h; GPU 0.5 h x 2.0 + 0.5 h x 3.0 = 2.5,
 *      CPU 2 cores x 1 h x 0.1 = 0.2, memory 4 GiB x 1 h x 0.01 = 0.04:
 *      2.74, all on-demand; 2 core-h, 4 GiB-h
 *   b: R2 0.5 GPU x 2 h = 1 GPU-h, spot; B..B+1H at the spot 0.8:
 *      0.5 x 1 x 0.8 = 0.4, then no spot price: on-demand 3.0:
 *      0.5 x 1 x 3.0 = 1.5; 1.9, all spot
 *   c: R3 running, counted to now: 2 GPUs x 2 h = 4 GPU-h at 1.0 = 4.0
 *      ("a100" pays the "A100" price: models match in any case)
 *   d: R4 2 GPU-h of X, which has no price: 0
 */
static void test_usage_by_tenant(void **state)
{
  struct sc_usage_query q = {.until_ms = B + 48 * H, .now_ms = B + 3 * H,
                             .by = SC_USAGE_BY_TENANT};
  struct sc_usage_row *r = report(&q, 4);

  (void)state;
  assert_string_equal(r[0].key, "a");
  assert_int_equal(r[0].records, 1);
  assert_float_equal(r[0].gpu_hours, 1.0, EPS);
  assert_float_equal(r[0].cpu_core_hours, 2.0, EPS);
  assert_float_equal(r[0].memory_gib_hours, 4.0, EPS);
  assert_float_equal(r[0].cost, 2.74, EPS);
  assert_float_equal(r[0].cost_on_demand, 2.74, EPS);
  assert_float_equal(r[0].cost_spot, 0, EPS);
  assert_string_equal(r[1].key, "b");
  assert_float_equal(r[1].gpu_hours, 1.0, EPS);
  assert_float_equal(r[1].spot_gpu_hours, 1.0, EPS);
  assert_float_equal(r[1].cost, 1.9, EPS);
  assert_float_equal(r[1].cost_spot, 1.9, EPS);
  assert_float_equal(r[1].cost_on_demand, 0, EPS);
  assert_string_equal(r[2].key, "c");
  assert_float_equal(r[2].gpu_hours, 4.0, EPS);
  assert_float_equal(r[2].cost, 4.0, EPS);
  assert_string_equal(r[3].key, "d");
  assert_float_equal(r[3].gpu_hours, 2.0, EPS);
  assert_float_equal(r[3].cost, 0, EPS);
  free(r);
}

/*
 * Subtrees: a's is a and b (2 GPU-h, 2.74 + 1.9 = 4.64, of which 2.74
 * on-demand and 1.9 spot); a user of b sees only b, also when it asks for
 * a (the intersection); a user of c asking for a sees nothing.
 */
static void test_usage_subtree(void **state)
{
  struct sc_usage_query q = {.tenant = "a", .until_ms = B + 3 * H, .now_ms = B + 3 * H};
  struct sc_usage_row *r = report(&q, 1);

  (void)state;
  assert_string_equal(r[0].key, "");
  assert_int_equal(r[0].records, 2);
  assert_float_equal(r[0].gpu_hours, 2.0, EPS);
  assert_float_equal(r[0].cost, 4.64, EPS);
  assert_float_equal(r[0].cost_on_demand, 2.74, EPS);
  assert_float_equal(r[0].cost_spot, 1.9, EPS);
  free(r);
  q.within = "b";
  r = report(&q, 1);
  assert_float_equal(r[0].gpu_hours, 1.0, EPS);
  assert_float_equal(r[0].cost, 1.9, EPS);
  free(r);
  q.tenant = NULL;
  r = report(&q, 1);
  assert_float_equal(r[0].cost, 1.9, EPS);
  free(r);
  q.tenant = "a";
  q.within = "c";
  free(report(&q, 0));
}

/*
 * The window [B+1H, B+2H) by model, pieces clipped to it:
 *   H100: R1's [1H, 1.5H): 0.5 GPU-h at 3.0 = 1.5, CPU 2 x 0.5 x 0.1 =
 *         0.1, memory 4 x 0.5 x 0.01 = 0.02: 1.62; R2's [1H, 2H): 0.5 x 1
 *         = 0.5 GPU-h at 3.0 (no spot price then) = 1.5. 1 GPU-h, 3.12
 *   a100: R3's [1H, 2H): 2 GPU-h at 1.0 = 2.0 (it runs on: the window ends)
 * ("H100" sorts before "a100": keys order bytewise.)
 */
static void test_usage_window_piecewise(void **state)
{
  struct sc_usage_query q = {.since_ms = B + H, .until_ms = B + 2 * H, .now_ms = B + 3 * H,
                             .by = SC_USAGE_BY_MODEL};
  struct sc_usage_row *r = report(&q, 2);

  (void)state;
  assert_string_equal(r[0].key, "H100");
  assert_int_equal(r[0].records, 2);
  assert_float_equal(r[0].gpu_hours, 1.0, EPS);
  assert_float_equal(r[0].spot_gpu_hours, 0.5, EPS);
  assert_float_equal(r[0].cost, 3.12, EPS);
  assert_float_equal(r[0].cost_spot, 1.5, EPS);
  assert_string_equal(r[1].key, "a100");
  assert_float_equal(r[1].gpu_hours, 2.0, EPS);
  assert_float_equal(r[1].cost, 2.0, EPS);
  free(r);
}

/*
 * By UTC day, tenant d: R4 runs 23:00 .. 01:00, one hour each side of
 * midnight. The window has no start: days count from the first record (B).
 * By job, tenant a: j-000001 1 GPU-h and j-000002 1 GPU-h (its subtree).
 */
static void test_usage_by_day_and_job(void **state)
{
  struct sc_usage_query q = {.tenant = "d", .until_ms = B + 48 * H, .now_ms = B + 48 * H,
                             .by = SC_USAGE_BY_DAY};
  struct sc_usage_row *r = report(&q, 2);

  (void)state;
  assert_string_equal(r[0].key, "2026-01-01");
  assert_float_equal(r[0].gpu_hours, 1.0, EPS);
  assert_string_equal(r[1].key, "2026-01-02");
  assert_float_equal(r[1].gpu_hours, 1.0, EPS);
  free(r);
  q.tenant = "a";
  q.by = SC_USAGE_BY_JOB;
  r = report(&q, 2);
  assert_string_equal(r[0].key, "j-000001");
  assert_float_equal(r[0].gpu_hours, 1.0, EPS);
  assert_string_equal(r[1].key, "j-000002");
  assert_float_equal(r[1].gpu_hours, 1.0, EPS);
  free(r);
}

/* A record rewritten with its end (the attempt ended) counts only to it;
 * a price set again for the same item and time replaces the old one. */
static void test_usage_close_and_reprice(void **state)
{
  struct rec r3 = {"c", "a100", 3, 0, 2, 1000, 0, 0, false, B + H, B + 3 * H / 2};
  struct sc_usage_query q = {.tenant = "c", .until_ms = B + 3 * H, .now_ms = B + 3 * H};
  struct sc_usage_row *r;

  (void)state;
  put_usage(&r3); /* 2 GPUs x 0.5 h = 1 GPU-h at 1.0 */
  r = report(&q, 1);
  assert_float_equal(r[0].gpu_hours, 1.0, EPS);
  assert_float_equal(r[0].cost, 1.0, EPS);
  free(r);
  put_price("a100", B, 4.0, 2.0); /* the A100 version from B, any case: 1 x 4.0 */
  r = report(&q, 1);
  assert_float_equal(r[0].cost, 4.0, EPS);
  free(r);
}

int main(int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_usage_roundtrip, setup, teardown),
    cmocka_unit_test_setup_teardown(test_usage_by_tenant, setup, teardown),
    cmocka_unit_test_setup_teardown(test_usage_subtree, setup, teardown),
    cmocka_unit_test_setup_teardown(test_usage_window_piecewise, setup, teardown),
    cmocka_unit_test_setup_teardown(test_usage_by_day_and_job, setup, teardown),
    cmocka_unit_test_setup_teardown(test_usage_close_and_reprice, setup, teardown),
  };

  tb_parse_args(&argc, &argv);
  return SC_RUN_TESTS(argc, argv, tests, tb_group_setup, tb_group_teardown);
}
