/* Tenant tree validation, quota checks and their reasons, balances, share
 * keys and the fair-share order, with a small discrete-time simulation of
 * saturated queues; expected values are derived by hand in the comments.
 * Units: gpu in milli-GPU (1000 = one device). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "runner.h"
#include <stdio.h>
#include <string.h>

#include "core/fairshare.h"
#include "core/tenancy.h"
#include "util/error.h"

#define G(n) ((int64_t)(n) * 1000) /* n GPUs in milli */

static const char models[2][SC_NAME_MAX] = {"A100-80G", "H100"};

static struct sc_tenant tenant(const char *name, int parent, int64_t weight)
{
  struct sc_tenant t;

  memset(&t, 0, sizeof t);
  t.name = name;
  t.parent = parent;
  t.weight = weight;
  sc_res_unlimited(&t.limit);
  sc_res_unlimited(&t.lend_limit);
  return t;
}

static struct sc_res gpus(int64_t milli, int model)
{
  struct sc_res r;

  sc_res_zero(&r);
  r.v[SC_RES_GPU] = milli;
  if (model >= 0)
    r.v[SC_RES_MODEL0 + model] = milli;
  return r;
}

static struct sc_tenancy *make(struct sc_tenant *t, int n, int64_t capacity_gpu)
{
  struct sc_tenancy_opts o = {t, n, gpus(capacity_gpu, -1), models, 2, false};
  struct sc_tenancy *tn;
  char err[160];

  o.capacity.v[SC_RES_MODEL0] = capacity_gpu; /* every device an A100-80G */
  assert_int_equal(sc_tenancy_new(&o, err, sizeof err, &tn), 0);
  return tn;
}

static void test_validate(void **state)
{
  struct sc_tenant t[3];
  struct sc_tenancy_opts o = {t, 3, gpus(G(16), 0), models, 2, false};
  struct sc_tenancy *tn;
  char err[160];

  (void)state;
  t[0] = tenant("org", -1, 1000);
  t[1] = tenant("a", 0, 1000);
  t[2] = tenant("b", 0, 1000);
  t[0].guarantee = gpus(G(8), 0);
  t[1].guarantee = gpus(G(6), 0);
  t[2].guarantee = gpus(G(6), -1);
  /* gpu: 6 + 6 = 12 > 8, reported on the first resource that overflows. */
  assert_int_equal(sc_tenancy_new(&o, err, sizeof err, &tn), SC_EINVAL);
  assert_null(tn);
  assert_string_equal(err, "tenant 'org': children's guarantees on gpu 12 > 8");
  /* gpu fits (6 + 2 = 8); gpu.A100-80G: a's 6 > org's 4. */
  t[2].guarantee = gpus(G(2), -1);
  t[0].guarantee.v[SC_RES_MODEL0] = G(4);
  assert_int_equal(sc_tenancy_new(&o, err, sizeof err, &tn), SC_EINVAL);
  assert_string_equal(err, "tenant 'org': children's guarantees on gpu.A100-80G 6 > 4");
  /* Parents come first. */
  t[0].guarantee.v[SC_RES_MODEL0] = G(8);
  t[1].parent = 2;
  assert_int_equal(sc_tenancy_new(&o, err, sizeof err, &tn), SC_EINVAL);
  assert_string_equal(err, "tenant 'a': parent 2 is not an earlier tenant");
  t[1].parent = 0;
  assert_int_equal(sc_tenancy_new(&o, err, sizeof err, &tn), 0);
  /* gpu always counts; gpu.A100-80G because guarantees name it. */
  assert_int_equal(sc_tenancy_dims(tn), (1u << SC_RES_GPU) | (1u << SC_RES_MODEL0));
  sc_tenancy_free(tn);
}

static void test_limit_reasons(void **state)
{
  struct sc_tenant t[3];
  struct sc_tenancy *tn;
  struct sc_res four = gpus(G(4), 0), eight = gpus(G(8), 0);
  char why[128];

  (void)state;
  t[0] = tenant("org", -1, 1000);
  t[1] = tenant("a", 0, 1000);
  t[2] = tenant("b", 0, 1000);
  t[1].limit.v[SC_RES_MODEL0] = G(8);
  t[0].limit.v[SC_RES_GPU] = G(10);
  tn = make(t, 3, G(32));
  assert_int_equal(sc_tenancy_charge(tn, 1, &four, false, 1), 0);
  /* a runs 4 A100s; 8 more would make 12 of its 8 on gpu.A100-80G. The gpu
   * dimension (checked first) passes at a (no limit) but org would reach
   * 4 + 8 = 12 > 10: "gpu" comes first in dimension order. */
  assert_int_equal(sc_tenancy_fits(tn, 1, &eight, false, why, sizeof why), SC_ENOFIT);
  assert_string_equal(why, "quota: gpu 12/10 (limit of 'org')");
  sc_tenancy_free(tn); /* limits are read at build: rebuild without org's */
  t[0].limit.v[SC_RES_GPU] = SC_RES_UNLIMITED;
  tn = make(t, 3, G(32));
  assert_int_equal(sc_tenancy_fits(tn, 1, &eight, false, why, sizeof why), SC_ENOFIT);
  assert_string_equal(why, "quota: gpu.A100-80G 12/8 (limit)");
  /* 4 more make exactly 8: fits. */
  assert_int_equal(sc_tenancy_fits(tn, 1, &four, false, why, sizeof why), 0);
  assert_string_equal(why, "");
  /* b has no limit of its own: org's unlimited now, 32 GPUs of capacity. */
  assert_int_equal(sc_tenancy_fits(tn, 2, &eight, false, why, sizeof why), 0);
  /* Fractions print as such: a at 4 + 4.5 = 8.5 of 8. */
  four = gpus(4500, 0);
  assert_int_equal(sc_tenancy_fits(tn, 1, &four, false, why, sizeof why), SC_ENOFIT);
  assert_string_equal(why, "quota: gpu.A100-80G 8.5/8 (limit)");
  assert_int_equal(sc_tenancy_check(tn), 0);
  sc_tenancy_free(tn);
}

static void test_lend_limit_and_capacity(void **state)
{
  struct sc_tenant t[4];
  struct sc_tenancy *tn;
  struct sc_res four = gpus(G(4), -1), one = gpus(G(1), -1);
  char why[128];

  (void)state;
  /* p: g 8, limit 8; a: g 4; b: g 4, lends nothing; c (a root): g 0. */
  t[0] = tenant("p", -1, 1000);
  t[1] = tenant("a", 0, 1000);
  t[2] = tenant("b", 0, 1000);
  t[3] = tenant("c", -1, 1000);
  t[0].guarantee = gpus(G(8), -1);
  t[0].limit = gpus(G(8), -1);
  t[1].guarantee = gpus(G(4), -1);
  t[2].guarantee = gpus(G(4), -1);
  t[2].lend_limit = gpus(0, -1);
  tn = make(t, 4, G(16));
  assert_int_equal(sc_tenancy_charge(tn, 1, &four, false, 1), 0);
  /* a at its guarantee: T(a) = 0. a asks 4 more: T(a) = -4; b's idle 4
   * count min(lend 0, 4) = 0; T(p) = pool 0 + (-4) + 0 = -4 < g - L = 0.
   * p would use 8 <= limit 8, so the lend limit is why: p can use at most
   * 8 + (-4) - 8 + 8 = 4. */
  assert_int_equal(sc_tenancy_fits(tn, 1, &four, false, why, sizeof why), SC_ENOFIT);
  assert_string_equal(why, "quota: gpu 8/4 (lend limit)");
  /* b lends again: T(b) = 4 counts, T(p) = 0 >= 0: fits. */
  sc_tenancy_free(tn);
  sc_res_unlimited(&t[2].lend_limit);
  sc_res_zero(&t[1].usage);
  sc_res_zero(&t[0].usage);
  tn = make(t, 4, G(16));
  assert_int_equal(sc_tenancy_charge(tn, 1, &four, false, 1), 0);
  assert_int_equal(sc_tenancy_fits(tn, 1, &four, false, why, sizeof why), 0);
  /* c (g 0) runs 8: the cluster's balance is 16 - 8 (p's g) + T(p) 4 +
   * T(c) -8 = 4. c asks 4: 0, fits; then 1 more: 4 + 12 + 1 = 17 > 16. */
  four = gpus(G(8), -1);
  assert_int_equal(sc_tenancy_charge(tn, 3, &four, false, 1), 0);
  assert_int_equal(sc_tenancy_balance(tn, -1, SC_RES_GPU), G(4));
  four = gpus(G(4), -1);
  assert_int_equal(sc_tenancy_charge(tn, 3, &four, false, 1), 0);
  assert_int_equal(sc_tenancy_fits(tn, 3, &one, false, why, sizeof why), SC_ENOFIT);
  assert_string_equal(why, "quota: gpu 17/16 (capacity)");
  /* b, within its guarantee, is refused too: it has to reclaim from c. */
  assert_int_equal(sc_tenancy_fits(tn, 2, &one, false, why, sizeof why), SC_ENOFIT);
  assert_string_equal(why, "quota: gpu 17/16 (capacity)");
  assert_true(sc_tenancy_borrows(tn, 3, ~0u));
  assert_false(sc_tenancy_borrows(tn, 1, ~0u));
  assert_int_equal(sc_tenancy_check(tn), 0);
  sc_tenancy_free(tn);
}

static void test_spot_and_limits(void **state)
{
  struct sc_tenant t[1];
  struct sc_tenancy *tn;
  struct sc_res six = gpus(G(6), -1), four = gpus(G(4), -1);
  char why[128];

  (void)state;
  t[0] = tenant("a", -1, 1000);
  t[0].limit = gpus(G(8), -1);
  tn = make(t, 1, G(16));
  /* 6 spot GPUs count against a's limit of 8: 4 more standard make 10. */
  assert_int_equal(sc_tenancy_charge(tn, 0, &six, true, 1), 0);
  assert_int_equal(sc_tenancy_fits(tn, 0, &four, false, why, sizeof why), SC_ENOFIT);
  assert_string_equal(why, "quota: gpu 10/8 (limit)");
  assert_int_equal(sc_tenancy_fits(tn, 0, &four, true, why, sizeof why), SC_ENOFIT);
  /* Spot does not use the guarantee ledger: the balance is untouched. */
  assert_int_equal(sc_tenancy_balance(tn, 0, SC_RES_GPU), 0);
  /* spot_over_limit: spot runs beside the limit and does not count in it. */
  sc_tenancy_free(tn);
  t[0].spot_over_limit = true;
  tn = make(t, 1, G(16));
  assert_int_equal(sc_tenancy_fits(tn, 0, &four, false, why, sizeof why), 0);
  assert_int_equal(sc_tenancy_fits(tn, 0, &six, true, why, sizeof why), 0);
  assert_int_equal(sc_tenancy_check(tn), 0);
  sc_tenancy_free(tn);
}

static void test_share_keys(void **state)
{
  struct sc_tenant t[3];
  struct sc_tenancy *tn;
  struct sc_res two = gpus(G(2), -1), three = gpus(G(3), -1);
  struct sc_share s;

  (void)state;
  t[0] = tenant("a", -1, 1000);
  t[1] = tenant("b", -1, 2000);
  t[2] = tenant("z", -1, 0);
  t[0].guarantee = gpus(G(4), -1);
  tn = make(t, 3, G(16));
  assert_int_equal(sc_tenancy_charge(tn, 0, &two, false, 1), 0);
  assert_int_equal(sc_tenancy_charge(tn, 1, &three, false, 1), 0);
  assert_int_equal(sc_tenancy_charge(tn, 2, &two, false, 1), 0);
  /* a: within its guarantee, 2 of 4 = 0.5 -> class 0, 500,000,000 ppb. */
  sc_tenancy_share(tn, 0, &s);
  assert_int_equal(s.klass, 0);
  assert_int_equal(s.value, 500000000);
  /* b: g 0, borrows 3 of the cluster's 16 = 0.1875, weight 2: 0.09375. */
  sc_tenancy_share(tn, 1, &s);
  assert_int_equal(s.klass, 1);
  assert_false(s.inf);
  assert_int_equal(s.value, 93750000);
  /* z: weight 0 and borrowing: infinite, ranked by 2/16 unweighted. */
  sc_tenancy_share(tn, 2, &s);
  assert_true(s.inf);
  assert_int_equal(s.value, 125000000);
  sc_tenancy_free(tn);
}

/* Charges and releases in a three-level tree keep the cached balances
 * equal to a recomputation (sc_tenancy_check), and rollup agrees. */
static void test_check_after_charges(void **state)
{
  struct sc_tenant t[7];
  struct sc_tenancy *tn;
  unsigned seed = 7;
  struct sc_res held[4][40];
  int nheld[4] = {0};
  const int leaves[4] = {3, 4, 5, 6};

  (void)state;
  t[0] = tenant("root", -1, 1000);
  t[1] = tenant("x", 0, 1000);
  t[2] = tenant("y", 0, 1000);
  for (int i = 3; i < 7; i++)
    t[i] = tenant(NULL, i < 5 ? 1 : 2, 1000);
  t[0].guarantee = gpus(G(12), 0);
  t[1].guarantee = gpus(G(6), 0);
  t[2].guarantee = gpus(G(4), -1);
  t[3].guarantee = gpus(G(3), 0);
  t[4].lend_limit = gpus(G(1), 0);
  t[4].guarantee = gpus(G(2), -1);
  t[5].guarantee = gpus(G(4), -1);
  tn = make(t, 7, G(16));
  for (int step = 0; step < 400; step++) {
    int l;
    seed = seed * 1103515245u + 12345u;
    l = (int)((seed >> 16) % 4);
    if (nheld[l] > 0 && ((seed >> 8) & 1)) {
      assert_int_equal(sc_tenancy_charge(tn, leaves[l], &held[l][--nheld[l]], false, -1), 0);
    } else if (nheld[l] < 40) {
      held[l][nheld[l]] = gpus(((seed >> 4) % 3 + 1) * 500, (int)(seed >> 20) % 2);
      assert_int_equal(sc_tenancy_charge(tn, leaves[l], &held[l][nheld[l]++], false, 1), 0);
    }
    assert_int_equal(sc_tenancy_check(tn), 0);
  }
  sc_tenancy_rollup(tn);
  assert_int_equal(sc_tenancy_check(tn), 0);
  /* Not a leaf: refused. */
  assert_int_equal(sc_tenancy_charge(tn, 1, &held[0][0], false, 1), SC_EINVAL);
  t[3].usage.v[SC_RES_GPU] += 1; /* corrupt: caught */
  assert_int_equal(sc_tenancy_check(tn), SC_ESTATE);
  sc_tenancy_free(tn);
}

/* Inside a tenant: priority, then seq; between equal siblings the head
 * job's priority and seq; a skip with block drops the tenant's rest. */
static void test_order_basic(void **state)
{
  struct sc_tenant t[2];
  struct sc_tenancy *tn;
  struct sc_order *o;
  struct sc_order_job jobs[5] = {
    {0, 0, 10}, {0, 5, 11}, {1, 0, 1}, {1, 0, 2}, {0, 5, 3},
  };
  struct sc_res one = gpus(G(1), -1);

  (void)state;
  t[0] = tenant("a", -1, 1000);
  t[1] = tenant("b", -1, 1000);
  t[0].guarantee = gpus(G(2), -1);
  t[1].guarantee = gpus(G(2), -1);
  tn = make(t, 2, G(8));
  assert_int_equal(sc_order_new(tn, jobs, 5, &o), 0);
  /* Both at share 0: heads are a's job 4 (priority 5, seq 3) and b's job
   * 2 (priority 0): job 4 first. a is then at 1/2, b at 0: b's job 2. */
  assert_int_equal(sc_order_next(o), 4);
  assert_int_equal(sc_order_admit(o, 4, &one, false), 0);
  assert_int_equal(sc_order_next(o), 2);
  assert_int_equal(sc_order_admit(o, 3, &one, false), SC_EINVAL); /* not next */
  assert_int_equal(sc_order_admit(o, 2, &one, false), 0);
  /* 1/2 each: a's head job 1 (priority 5) beats b's job 3 (priority 0). */
  assert_int_equal(sc_order_next(o), 1);
  assert_int_equal(sc_order_skip(o, 1, true), 0); /* a keeps strict order: job 0 goes */
  assert_int_equal(sc_order_next(o), 3);
  assert_int_equal(sc_order_skip(o, 3, false), 0);
  assert_int_equal(sc_order_next(o), -1);
  assert_int_equal(sc_tenancy_check(tn), 0);
  sc_order_free(o);
  sc_tenancy_free(tn);
}

#define SIM_TENANTS 4
#define SIM_QUEUE 24

/*
 * Discrete-time simulation of one scheduling pass per tick over gpu_total
 * GPUs: every leaf in leaves[] always has SIM_QUEUE identical 1-GPU jobs
 * pending (durations 5..14 ticks from an LCG), jobs that end release their
 * GPU, the order admits while a GPU is free. Fills the GPU-time share of
 * each leaf in parts per thousand.
 */
static void simulate(struct sc_tenancy *tn, const int *leaves, int nleaves, int gpu_total,
                     int ticks, int permille[SIM_TENANTS])
{
  struct sc_order_job jobs[SIM_TENANTS * SIM_QUEUE];
  int64_t next_seq[SIM_TENANTS], gpu_time[SIM_TENANTS] = {0}, total = 0;
  int run_leaf[64], run_end[64], nrun = 0;
  struct sc_res one = gpus(G(1), -1);
  struct sc_order *o = NULL;
  unsigned seed = 42;

  for (int l = 0; l < nleaves; l++)
    next_seq[l] = l;
  for (int now = 0; now < ticks; now++) {
    for (int i = 0; i < nrun;) {
      if (run_end[i] == now) {
        assert_int_equal(sc_tenancy_charge(tn, leaves[run_leaf[i]], &one, false, -1), 0);
        run_leaf[i] = run_leaf[nrun - 1];
        run_end[i] = run_end[--nrun];
      } else {
        i++;
      }
    }
    for (int l = 0, k = 0; l < nleaves; l++)
      for (int q = 0; q < SIM_QUEUE; q++, k++)
        jobs[k] = (struct sc_order_job){leaves[l], 0, next_seq[l] + (int64_t)q * nleaves};
    if (!o)
      assert_int_equal(sc_order_new(tn, jobs, nleaves * SIM_QUEUE, &o), 0);
    else
      assert_int_equal(sc_order_reset(o, jobs, nleaves * SIM_QUEUE), 0);
    while (nrun < gpu_total) {
      int j = sc_order_next(o), l = j / SIM_QUEUE;
      assert_true(j >= 0);
      assert_int_equal(sc_order_admit(o, j, &one, false), 0);
      seed = seed * 1103515245u + 12345u;
      run_leaf[nrun] = l;
      run_end[nrun++] = now + 5 + (int)((seed >> 16) % 10);
      next_seq[l] += nleaves;
    }
    for (int i = 0; i < nrun; i++)
      gpu_time[run_leaf[i]]++;
    total += nrun;
  }
  assert_int_equal(sc_tenancy_check(tn), 0);
  for (int l = 0; l < nleaves; l++) {
    permille[l] = (int)(gpu_time[l] * 1000 / total);
    print_message("leaf %d: %d permille of GPU-time\n", leaves[l], permille[l]);
  }
  sc_order_free(o);
}

static void test_fair_share_equal(void **state)
{
  struct sc_tenant t[2];
  struct sc_tenancy *tn;
  const int leaves[2] = {0, 1};
  int pm[SIM_TENANTS];

  (void)state;
  /* No guarantees: both borrow from the start; equal weights give equal
   * borrowed shares, so 8 GPUs each of 16 over time: 500 +- 50 permille. */
  t[0] = tenant("a", -1, 1000);
  t[1] = tenant("b", -1, 1000);
  tn = make(t, 2, G(16));
  simulate(tn, leaves, 2, 16, 2000, pm);
  assert_in_range(pm[0], 450, 550);
  assert_in_range(pm[1], 450, 550);
  sc_tenancy_free(tn);
  /* Equal guarantees of 8 each: the ratio u/g keeps them level. */
  t[0].guarantee = gpus(G(8), -1);
  t[1].guarantee = gpus(G(8), -1);
  sc_res_zero(&t[0].usage);
  sc_res_zero(&t[1].usage);
  tn = make(t, 2, G(16));
  simulate(tn, leaves, 2, 16, 2000, pm);
  assert_in_range(pm[0], 450, 550);
  sc_tenancy_free(tn);
}

static void test_fair_share_weights(void **state)
{
  struct sc_tenant t[2];
  struct sc_tenancy *tn;
  const int leaves[2] = {0, 1};
  int pm[SIM_TENANTS];

  (void)state;
  /* Weights 1:3, no guarantee: borrowed/16/w level when b holds three
   * times a's GPUs: 4 and 12 of 16, 250 and 750 permille (+- 50). */
  t[0] = tenant("a", -1, 1000);
  t[1] = tenant("b", -1, 3000);
  tn = make(t, 2, G(16));
  simulate(tn, leaves, 2, 16, 2000, pm);
  assert_in_range(pm[0], 200, 300);
  assert_in_range(pm[1], 700, 800);
  sc_tenancy_free(tn);
}

static void test_fair_share_hierarchy(void **state)
{
  struct sc_tenant t[5];
  struct sc_tenancy *tn;
  const int leaves[3] = {2, 3, 4};
  int pm[SIM_TENANTS];

  (void)state;
  /* org1 and org2 equal; org1 splits between two leaves, org2 has one:
   * siblings first, so org2's leaf gets half (500), org1's leaves a
   * quarter each (250), not a third each. */
  t[0] = tenant("org1", -1, 1000);
  t[1] = tenant("org2", -1, 1000);
  t[2] = tenant("a", 0, 1000);
  t[3] = tenant("b", 0, 1000);
  t[4] = tenant("c", 1, 1000);
  tn = make(t, 5, G(16));
  simulate(tn, leaves, 3, 16, 2000, pm);
  assert_in_range(pm[0], 200, 300);
  assert_in_range(pm[1], 200, 300);
  assert_in_range(pm[2], 450, 550);
  sc_tenancy_free(tn);
}

int main(int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_validate),
    cmocka_unit_test(test_limit_reasons),
    cmocka_unit_test(test_lend_limit_and_capacity),
    cmocka_unit_test(test_spot_and_limits),
    cmocka_unit_test(test_share_keys),
    cmocka_unit_test(test_check_after_charges),
    cmocka_unit_test(test_order_basic),
    cmocka_unit_test(test_fair_share_equal),
    cmocka_unit_test(test_fair_share_weights),
    cmocka_unit_test(test_fair_share_hierarchy),
  };
  return SC_RUN_TESTS(argc, argv, tests, NULL, NULL);
}
