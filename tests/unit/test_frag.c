/* Fragmentation classes, per-node frag vectors and typical shapes, with
 * the expected numbers worked out by hand in the comments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "runner.h"
#include <string.h>

#include "core/frag.h"

static struct sc_shape shape(int64_t cpu, int milli, int count)
{
  struct sc_shape s = {.cpu = cpu, .gpu_milli = milli, .gpu_count = count, .any_model = true,
                       .id = -1};
  return s;
}

/* Node: 2000 milli-CPU free, model A, devices with 1000 and 300 free. */
static void make_node(struct sc_cluster *c, struct sc_node **n)
{
  sc_cluster_init(c);
  assert_int_equal(sc_cluster_add_node(c, "n0", 2000, 4096, 2, "A"), 0);
  assert_int_equal(sc_cluster_model_id(c, "B"), 1);
  *n = &c->nodes[0];
  (*n)->gpu_left[1] = 300;
}

static void test_classify(void **state)
{
  struct sc_cluster c;
  struct sc_node *n;
  struct sc_shape q;

  (void)state;
  make_node(&c, &n);
  /* CPU-only shapes: XL when the CPU fits, XR when not. */
  assert_int_equal(sc_frag_classify(n, &(struct sc_shape){.cpu = 1000}), SC_FRAG_XL);
  assert_int_equal(sc_frag_classify(n, &(struct sc_shape){.cpu = 3000}), SC_FRAG_XR);
  /* Only model B allowed: NoAccess. */
  q = shape(1000, 500, 1);
  sc_shape_set_models(&q, &c, "B");
  assert_int_equal(sc_frag_classify(n, &q), SC_FRAG_NOACCESS);
  /* One device has >= 500 free: fits (Q3) or lacks CPU (Q4). */
  q = shape(1000, 500, 1);
  assert_int_equal(sc_frag_classify(n, &q), SC_FRAG_Q3);
  q = shape(3000, 500, 1);
  assert_int_equal(sc_frag_classify(n, &q), SC_FRAG_Q4);
  /* Two whole devices needed, one is free: lacks GPU (Q2) or both (Q1). */
  q = shape(1000, 1000, 2);
  assert_int_equal(sc_frag_classify(n, &q), SC_FRAG_Q2);
  q = shape(3000, 1000, 2);
  assert_int_equal(sc_frag_classify(n, &q), SC_FRAG_Q1);
  sc_cluster_release(&c);
}

static void test_frag_vector(void **state)
{
  struct sc_cluster c;
  struct sc_node *n;
  struct sc_shape shapes[3] = {shape(1000, 500, 1), shape(500, 0, 0), shape(1000, 1000, 2)};
  double freq[3] = {0.5, 0.25, 0.25}, v[SC_FRAG_NCLASS];
  struct sc_typical t = {shapes, freq, 3};

  (void)state;
  make_node(&c, &n);
  /* L = 1000 + 300 = 1300 free milli.
   * q0 (500 m, f .5) fits: Q3; the 300 m device is too small for it, so
   *    Q2 += .5 * 300 = 150 and Q3 += .5 * 1000 = 500.
   * q1 (CPU only, f .25): XL += .25 * 1300 = 325.
   * q2 (2 whole, f .25): one free device only: Q2 += .25 * 1300 = 325.
   * So Q2 = 475, Q3 = 500, XL = 325; fragmented (all but Q3) = 800. */
  sc_frag_node(n, &t, v);
  assert_true(v[SC_FRAG_Q1] == 0 && v[SC_FRAG_Q4] == 0 && v[SC_FRAG_XR] == 0);
  assert_true(v[SC_FRAG_Q2] == 475.0);
  assert_true(v[SC_FRAG_Q3] == 500.0);
  assert_true(v[SC_FRAG_XL] == 325.0);
  assert_true(sc_frag_sum_except_q3(v) == 800.0);
  assert_true(sc_frag_node_score(n, &t) == 800.0);
  sc_cluster_release(&c);
}

/* A node of several models measures each group as a node and sums. */
static void test_frag_mixed(void **state)
{
  static const char *const models[] = {"A", "B"};
  struct sc_cluster c;
  struct sc_shape shapes[3] = {shape(1000, 500, 1), shape(500, 0, 0), shape(1000, 1000, 1)};
  double freq[3] = {0.5, 0.25, 0.25}, v[SC_FRAG_NCLASS];
  struct sc_typical t = {shapes, freq, 3};
  struct sc_node *n;

  (void)state;
  sc_cluster_init(&c);
  assert_int_equal(sc_cluster_add_node_models(&c, "n0", 2000, 4096, 2, models), 0);
  n = &c.nodes[0];
  n->gpu_left[1] = 300;
  sc_shape_set_models(&shapes[2], &c, "B");
  /* Group A (one device, 1000 free):
   *   q0 (500 m, f .5) fits: Q3 += 500;
   *   q1 (CPU only, f .25): XL += 250;
   *   q2 (a whole B, f .25): not A: NoAccess += 250.
   * Group B (one device, 300 free):
   *   q0: no device has 500: Q2 += .5 * 300 = 150;
   *   q1: XL += 75;
   *   q2: B allowed, 300 < 1000: Q2 += 75.
   * Sum: Q2 225, Q3 500, XL 325, NoAccess 250; fragmented 800. (As one
   * node of model A the 300 would count under q0's Q2 as well, and q2
   * would be NoAccess for all 1300.) */
  sc_frag_node(n, &t, v);
  assert_true(v[SC_FRAG_Q1] == 0 && v[SC_FRAG_Q4] == 0 && v[SC_FRAG_XR] == 0);
  assert_true(v[SC_FRAG_Q2] == 225.0);
  assert_true(v[SC_FRAG_Q3] == 500.0);
  assert_true(v[SC_FRAG_XL] == 325.0);
  assert_true(v[SC_FRAG_NOACCESS] == 250.0);
  assert_true(sc_frag_node_score(n, &t) == 800.0);
  sc_cluster_release(&c);
}

static void test_typical_build(void **state)
{
  struct sc_typical_key keys[5];
  struct sc_typical t;

  (void)state;
  memset(keys, 0, sizeof keys);
  /* Counts 30, 50, 5, 15 and a second 15 with more CPU (total 115).
   * Sorted: 50, 30, 15 (cpu 9000), 15 (cpu 2000), 5. 95 % of 115 is
   * 109.25: the cumulative counts 50, 80, 95, 110 reach it at the 4th key.
   * Frequencies renormalise over the kept 110: 50/110, 30/110, 15/110. */
  keys[0].shape = shape(1000, 1000, 1), keys[0].count = 30;
  keys[1].shape = shape(2000, 500, 1), keys[1].count = 50;
  keys[2].shape = shape(3000, 0, 0), keys[2].count = 5;
  keys[3].shape = shape(2000, 1000, 8), keys[3].count = 15;
  keys[4].shape = shape(9000, 1000, 2), keys[4].count = 15;
  assert_int_equal(sc_typical_build(keys, 5, 95.0, &t), 0);
  assert_int_equal(t.n, 4);
  assert_int_equal(t.shapes[0].cpu, 2000);
  assert_int_equal(t.shapes[1].cpu, 1000);
  assert_int_equal(t.shapes[2].cpu, 9000);
  assert_int_equal(t.shapes[3].gpu_count, 8);
  assert_true(t.freq[0] == (50.0 / 115) / (110.0 / 115));
  assert_true(t.freq[2] == (15.0 / 115) / (110.0 / 115));
  double sum = 0;
  for (int i = 0; i < t.n; i++)
    sum += t.freq[i];
  assert_true(sum > 0.999999 && sum < 1.000001);
  sc_typical_release(&t);
}

static void test_typical_spec_breaks_ties(void **state)
{
  struct sc_typical_key keys[2];
  struct sc_typical t;

  (void)state;
  memset(keys, 0, sizeof keys);
  /* Same counts and shape numbers: the model list compares as bytes,
   * descending, so "T4" comes before "P100". All kept (100 %). */
  keys[0].shape = shape(1000, 1000, 1), keys[0].count = 3;
  strcpy(keys[0].spec, "P100");
  keys[1].shape = shape(1000, 1000, 1), keys[1].count = 3;
  strcpy(keys[1].spec, "T4");
  assert_int_equal(sc_typical_build(keys, 2, 95.0, &t), 0);
  assert_int_equal(t.n, 2);
  assert_string_equal(keys[0].spec, "T4");
  assert_true(t.freq[0] == 0.5);
  sc_typical_release(&t);
}

int main(int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_classify),
    cmocka_unit_test(test_frag_vector),
    cmocka_unit_test(test_frag_mixed),
    cmocka_unit_test(test_typical_build),
    cmocka_unit_test(test_typical_spec_breaks_ties),
  };
  return SC_RUN_TESTS(argc, argv, tests, NULL, NULL);
}
