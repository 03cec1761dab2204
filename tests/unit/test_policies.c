/* Each policy's score and device choice on small hand-built nodes; the
 * expected numbers are worked out by hand in the comments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "runner.h"
#include <string.h>

#include "core/policy.h"

struct fixture {
  struct sc_cluster c;
  struct sc_node *n1;   /* 32000 m CPU, A x4 with 1000, 500, 200, 1000 free */
  struct sc_node *n2;   /* 8000 m CPU, A x2 with 300, 1000 free */
  struct sc_node *idle; /* 16000 m CPU, A x4 all free, no tasks */
  struct sc_shape share;   /* 4000 m CPU, 300 m of one device */
  struct sc_shape whole2;  /* 8000 m CPU, two whole devices */
  struct sc_shape cpuonly; /* 6000 m CPU */
  struct sc_shape typical_shape;
  double typical_freq;
  struct sc_typical typical; /* one shape: 4000 m CPU, 500 m of one device */
  struct sc_policy_ctx ctx;
};

static struct sc_shape shape(int64_t cpu, int milli, int count)
{
  struct sc_shape s = {.cpu = cpu, .gpu_milli = milli, .gpu_count = count, .any_model = true,
                       .id = -1};
  return s;
}

static int setup(void **state)
{
  static struct fixture f;

  memset(&f, 0, sizeof f);
  sc_cluster_init(&f.c);
  sc_cluster_add_node(&f.c, "n1", 32000, 65536, 4, "A");
  sc_cluster_add_node(&f.c, "n2", 8000, 65536, 2, "A");
  sc_cluster_add_node(&f.c, "idle", 16000, 65536, 4, "A");
  f.n1 = &f.c.nodes[0];
  f.n2 = &f.c.nodes[1];
  f.idle = &f.c.nodes[2];
  f.n1->gpu_left[1] = 500;
  f.n1->gpu_left[2] = 200;
  f.n1->tags = SC_TAG_SHARE; /* it runs sharing tasks */
  f.n2->gpu_left[0] = 300;
  f.n2->tags = SC_TAG_SHARE;
  f.share = shape(4000, 300, 1);
  f.whole2 = shape(8000, 1000, 2);
  f.cpuonly = shape(6000, 0, 0);
  f.typical_shape = shape(4000, 500, 1);
  f.typical_freq = 1.0;
  f.typical = (struct sc_typical){&f.typical_shape, &f.typical_freq, 1};
  f.ctx.typical = &f.typical;
  *state = &f;
  return 0;
}

static int teardown(void **state)
{
  struct fixture *f = *state;
  sc_cluster_release(&f->c);
  return 0;
}

static void test_dotprod(void **state)
{
  struct fixture *f = *state;
  const struct sc_policy *p = sc_policy_find("dotprod");

  /* n1 free (32000/128000, 2700/8000) = (0.25, 0.3375); share task
   * (4000/128000, 300/8000) = (0.03125, 0.0375). dot = 0.0078125 +
   * 0.01265625 = 0.02046875; 1 - dot/2 = 0.989765625 -> int(98.98) = 98. */
  assert_int_equal(p->score(f->n1, &f->share, &f->ctx), 98);
  /* Whole 2: task (0.0625, 0.25): dot = 0.015625 + 0.084375 = 0.1;
   * 1 - 0.05 = 0.95 -> 95. */
  assert_int_equal(p->score(f->n1, &f->whole2, &f->ctx), 95);
  /* CPU-only on the idle node: node (0.125, 0.5), task (0.046875, 0):
   * dot = 0.005859375; 1 - 0.0029296875 -> 99. */
  assert_int_equal(p->score(f->idle, &f->cpuonly, &f->ctx), 99);
}

static void test_clustering(void **state)
{
  struct fixture *f = *state;
  const struct sc_policy *p = sc_policy_find("clustering");

  /* base = (25 * (8000 - 2700)) / 8000 = 132500 / 8000 = 16 (integer).
   * n1 runs only sharing tasks: a sharing task gets 16 + 75 = 91. */
  assert_int_equal(p->score(f->n1, &f->share, &f->ctx), 91);
  /* A 2-device task: its kind is absent and the map is not empty: 16. */
  assert_int_equal(p->score(f->n1, &f->whole2, &f->ctx), 16);
  /* The idle node: base (25 * 4000) / 8000 = 12, empty map: 12 + 25. */
  assert_int_equal(p->score(f->idle, &f->whole2, &f->ctx), 37);
  /* CPU-only tasks score 0 everywhere. */
  assert_int_equal(p->score(f->n1, &f->cpuonly, &f->ctx), 0);
  /* With two kinds present, the same kind gets base + 50. */
  f->n1->tags = SC_TAG_SHARE | (1u << 2);
  assert_int_equal(p->score(f->n1, &f->share, &f->ctx), 66);
  f->n1->tags = SC_TAG_SHARE;
}

static void test_packing(void **state)
{
  struct fixture *f = *state;
  const struct sc_policy *p = sc_policy_find("packing");

  /* n1 ascending by free: 200 (idx 2), 500 (1), 1000 (0), 1000 (3). The
   * share task (300) skips 200 and takes 500, a used device: R = 500 *
   * 100 / 1000 = 50, score = max(100 - 50 / 10, 50) = 95. */
  assert_int_equal(p->score(f->n1, &f->share, &f->ctx), 95);
  /* Two whole devices use 2 fully free ones: max(50 - 2, 33) = 48. */
  assert_int_equal(p->score(f->n1, &f->whole2, &f->ctx), 48);
  /* Idle node (4 free = its 4 devices): max(33 - 4, 4) = 29. */
  assert_int_equal(p->score(f->idle, &f->whole2, &f->ctx), 29);
  assert_int_equal(p->score(f->idle, &f->cpuonly, &f->ctx), 0);
}

static void test_bestfit(void **state)
{
  struct fixture *f = *state;
  const struct sc_policy *p = sc_policy_find("bestfit");

  /* (32000 - 4000) / 128000 * .5 = 0.109375; (2700 - 300) / 8000 * .5 =
   * 0.15; (1 - 0.259375) * 100 = 74.06 -> 74. */
  assert_int_equal(p->score(f->n1, &f->share, &f->ctx), 74);
  /* 24000 / 128000 * .5 = 0.09375; 700 / 8000 * .5 = 0.04375;
   * (1 - 0.1375) * 100 = 86.25 -> 86. */
  assert_int_equal(p->score(f->n1, &f->whole2, &f->ctx), 86);
}

static void test_fgd(void **state)
{
  struct fixture *f = *state;
  const struct sc_policy *p = sc_policy_find("fgd");
  struct sc_placement pl;

  /* Target workload: one shape (4000 m, 500 m of a device), f = 1.
   * n1 before: it fits (Q3); only the 200 m device is too small, so the
   * fragment is 200.
   * Share task (300 m): on idx 0 -> 700, 500, 200, 1000: fragment still
   * 200, delta 0, int(100 * sigmoid(0)) = 50. On idx 1 -> 1000, 200, 200,
   * 1000: fragment 400, sigmoid(-0.2) = 0.4502 -> 45. idx 3 ties idx 0.
   * Score 50 and the first best device, 0 (best-fit would take idx 1). */
  assert_int_equal(p->score(f->n1, &f->share, &f->ctx), 50);
  sc_policy_choose_devices(p, f->n1, 0, &f->share, &f->ctx, NULL, &pl);
  assert_int_equal(pl.ndev, 1);
  assert_int_equal(pl.dev[0], 0);
  /* n2 (300, 1000) before: fragment 300 (the 300 m device). On idx 0 the
   * device empties: fragment 0, sigmoid(0.3) = 0.5744 -> 57. On idx 1:
   * 300, 700: fragment 300 -> 50. Score 57 on device 0. */
  assert_int_equal(p->score(f->n2, &f->share, &f->ctx), 57);
  sc_policy_choose_devices(p, f->n2, 1, &f->share, &f->ctx, NULL, &pl);
  assert_int_equal(pl.node, 1);
  assert_int_equal(pl.dev[0], 0);
  /* Two whole devices on n1 take the free idx 0 and 3: 0, 500, 200, 0
   * still fits one 500 m task: fragment 200, delta 0 -> 50. */
  assert_int_equal(p->score(f->n1, &f->whole2, &f->ctx), 50);
  sc_policy_choose_devices(p, f->n1, 0, &f->whole2, &f->ctx, NULL, &pl);
  assert_int_equal(pl.ndev, 2);
  assert_int_equal(pl.dev[0], 0);
  assert_int_equal(pl.dev[1], 3);
}

static void test_best_share_device(void **state)
{
  struct fixture *f = *state;
  struct sc_placement pl;

  /* The least free device that fits 300 m on n1 is idx 1 (500). */
  assert_int_equal(sc_policy_best_share_device(f->n1, &f->share), 1);
  sc_policy_choose_devices(sc_policy_find("bestfit"), f->n1, 0, &f->share, &f->ctx, NULL, &pl);
  assert_int_equal(pl.dev[0], 1);
}

static void test_random_share_device(void **state)
{
  struct fixture *f = *state;
  const struct sc_policy *p = sc_policy_find("random");
  struct sc_rng rng;
  int hits[4] = {0};

  /* Fitting devices of n1 for 300 m: 0, 1, 3 (idx 2 has 200). Uniform:
   * each about 1/3 of 3000 draws; idx 2 never. */
  sc_rng_seed(&rng, 7);
  for (int i = 0; i < 3000; i++)
    hits[p->share_device(f->n1, &f->share, &f->ctx, &rng)]++;
  assert_int_equal(hits[2], 0);
  for (int d = 0; d < 4; d += d == 1 ? 2 : 1)
    assert_in_range(hits[d], 850, 1150);
}

/*
 * A node of several models is scored group by group, each group as a node
 * with the node's CPU; devices come from the best group. mix: 32000 m CPU,
 * devices 0 A (1000 free), 1 B (1000), 2 A (1000), 3 B (500).
 */
static void test_mixed_groups(void **state)
{
  static const char *const models[] = {"A", "B", "A", "B"};
  struct fixture *f = *state;
  const struct sc_policy *bestfit = sc_policy_find("bestfit"), *fgd = sc_policy_find("fgd");
  struct sc_shape share = f->share, whole2 = f->whole2;
  struct sc_node *mix;
  struct sc_placement pl;

  assert_int_equal(sc_cluster_add_node_models(&f->c, "mix", 32000, 65536, 4, models), 3);
  mix = &f->c.nodes[3];
  mix->gpu_left[3] = 500;
  /* Bestfit, share (4000 m, 300 m): CPU term 28000 / 128000 * .5 =
   * .109375. Group A leaves 2000 - 300: 1700 / 8000 * .5 = .10625 -> int(100
   * * .784375) = 78; group B leaves 1200: .075 -> 81. B wins, and in B the
   * least free device that fits is its 500: node device 3. */
  assert_int_equal(sc_policy_node_score(bestfit, mix, &share, &f->ctx), 81);
  sc_policy_choose_devices(bestfit, mix, 3, &share, &f->ctx, NULL, &pl);
  assert_int_equal(pl.node, 3);
  assert_int_equal(pl.ndev, 1);
  assert_int_equal(pl.dev[0], 3);
  /* Two whole devices fit group A only (B has one free): CPU term 24000 /
   * 128000 * .5 = .09375, GPU 0 -> 90; A's devices are 0 and 2. */
  assert_int_equal(sc_policy_node_score(bestfit, mix, &whole2, &f->ctx), 90);
  sc_policy_choose_devices(bestfit, mix, 3, &whole2, &f->ctx, NULL, &pl);
  assert_int_equal(pl.ndev, 2);
  assert_int_equal(pl.dev[0], 0);
  assert_int_equal(pl.dev[1], 2);
  /* Models select the group (any case): B only, two whole: no fit. */
  sc_shape_set_models(&whole2, &f->c, "b");
  assert_int_equal(sc_policy_node_score(bestfit, mix, &whole2, &f->ctx), SC_POLICY_NOFIT);
  /* A only, the share: 78 on A's first device (both 1000 free). */
  sc_shape_set_models(&share, &f->c, "a");
  assert_int_equal(sc_policy_node_score(bestfit, mix, &share, &f->ctx), 78);
  sc_policy_choose_devices(bestfit, mix, 3, &share, &f->ctx, NULL, &pl);
  assert_int_equal(pl.dev[0], 0);
  /* FGD (target: 4000 m, 500 m of a device, f = 1), the share of any
   * model. Group A (1000, 1000): the target fits before and after on
   * either device (700 left): fragment 0 -> 0, delta 0 -> 50. Group B
   * (1000, 500): fragment 0 before; on its 1000 -> 700, 500: still 0 ->
   * 50; on its 500 -> 200, below 500: fragment 200 -> 45. Both groups
   * score 50: the first, A, and its first device, 0. */
  share = f->share;
  assert_int_equal(sc_policy_node_score(fgd, mix, &share, &f->ctx), 50);
  sc_policy_choose_devices(fgd, mix, 3, &share, &f->ctx, NULL, &pl);
  assert_int_equal(pl.dev[0], 0);
  /* B only: 50 on its 1000 device (node device 1), not its 500 (45). */
  sc_shape_set_models(&share, &f->c, "B");
  assert_int_equal(sc_policy_node_score(fgd, mix, &share, &f->ctx), 50);
  sc_policy_choose_devices(fgd, mix, 3, &share, &f->ctx, NULL, &pl);
  assert_int_equal(pl.dev[0], 1);
  /* A CPU-only task sees the whole node: bestfit's GPU term is its 3500
   * free milli: 3500 / 8000 * .5 = .21875; CPU 26000 / 128000 * .5 =
   * .1015625 -> int(100 * .6796875) = 67. */
  assert_int_equal(sc_policy_node_score(bestfit, mix, &f->cpuonly, &f->ctx), 67);
}

static void test_table(void **state)
{
  static const char *const names[] = {"random", "dotprod", "clustering", "packing", "bestfit",
                                      "fgd"};
  (void)state;
  for (int i = 0; i < 6; i++) {
    assert_non_null(sc_policies[i]);
    assert_string_equal(sc_policies[i]->name, names[i]);
  }
  assert_null(sc_policies[6]);
  assert_null(sc_policy_find("nope"));
}

int main(int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_dotprod, setup, teardown),
    cmocka_unit_test_setup_teardown(test_clustering, setup, teardown),
    cmocka_unit_test_setup_teardown(test_packing, setup, teardown),
    cmocka_unit_test_setup_teardown(test_bestfit, setup, teardown),
    cmocka_unit_test_setup_teardown(test_fgd, setup, teardown),
    cmocka_unit_test_setup_teardown(test_best_share_device, setup, teardown),
    cmocka_unit_test_setup_teardown(test_random_share_device, setup, teardown),
    cmocka_unit_test_setup_teardown(test_mixed_groups, setup, teardown),
    cmocka_unit_test(test_table),
  };
  return SC_RUN_TESTS(argc, argv, tests, NULL, NULL);
}
