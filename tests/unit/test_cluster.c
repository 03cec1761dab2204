/* The cluster model's nodes of several models: device groups, views of a
 * group, feasibility group by group, and the node checker; expected values
 * are worked out in the comments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "runner.h"
#include <string.h>

#include "core/cluster.h"
#include "util/error.h"

static struct sc_shape shape(int64_t cpu, int milli, int count)
{
  struct sc_shape s = {.cpu = cpu, .gpu_milli = milli, .gpu_count = count, .any_model = true,
                       .id = -1};
  return s;
}

/* One node, devices interleaved: 0 A100, 1 H100, 2 A100, 3 H100, 4 A100.
 * Model ids in order of appearance: A100 0, H100 1. */
static struct sc_node *make_mixed(struct sc_cluster *c)
{
  static const char *const models[] = {"A100", "H100", "A100", "H100", "A100"};

  sc_cluster_init(c);
  assert_int_equal(sc_cluster_add_node_models(c, "mix", 8000, 4096, 5, models), 0);
  return &c->nodes[0];
}

static void test_add_node_models(void **state)
{
  static const char *const same[] = {"T4", "T4"}, *const blank[] = {"T4", ""};
  struct sc_cluster c;
  struct sc_node *n;

  (void)state;
  n = make_mixed(&c);
  assert_int_equal(n->gpu_count, 5);
  assert_int_equal(n->model, SC_MODEL_MIXED);
  assert_int_equal(n->dev_model[0], 0);
  assert_int_equal(n->dev_model[3], 1);
  assert_int_equal(c.nmodels, 2);
  assert_int_equal(sc_node_check(n), 0);
  /* Devices of one model make a node of that model, as add_node does. */
  assert_int_equal(sc_cluster_add_node_models(&c, "t4", 1000, 1024, 2, same), 1);
  assert_int_equal(c.nodes[1].model, 2);
  assert_int_equal(sc_cluster_add_node(&c, "a", 1000, 1024, 2, "A100"), 2);
  assert_int_equal(c.nodes[2].model, 0);
  assert_int_equal(c.nodes[2].dev_model[1], 0);
  assert_int_equal(sc_cluster_add_node(&c, "cpu", 1000, 1024, 0, NULL), 3);
  assert_int_equal(c.nodes[3].model, -1);
  /* A device without a model is refused; nothing is added. */
  assert_int_equal(sc_cluster_add_node_models(&c, "bad", 1000, 1024, 2, blank), SC_EINVAL);
  assert_int_equal(c.nnodes, 4);
  sc_cluster_release(&c);
}

static void test_groups_and_views(void **state)
{
  struct sc_cluster c;
  struct sc_node *n, view;
  struct sc_group g[SC_MAX_GPUS];
  int8_t pos[SC_MAX_GPUS];

  (void)state;
  n = make_mixed(&c);
  n->gpu_left[2] = 250;
  n->gpu_left[3] = 600;
  /* Groups in order of first device: A100 = {0, 2, 4} = 0b10101 = 21,
   * H100 = {1, 3} = 0b01010 = 10. */
  assert_int_equal(sc_node_groups(n, g), 2);
  assert_int_equal(g[0].model, 0);
  assert_int_equal(g[0].devs, 21);
  assert_int_equal(g[1].model, 1);
  assert_int_equal(g[1].devs, 10);
  /* The H100 view: its devices 1 and 3 as view devices 0 and 1, the
   * node's CPU and memory. */
  sc_node_view(n, &g[1], &view, pos);
  assert_int_equal(view.model, 1);
  assert_int_equal(view.gpu_count, 2);
  assert_int_equal(view.gpu_left[0], 1000);
  assert_int_equal(view.gpu_left[1], 600);
  assert_int_equal(view.gpu_left[2], 0);
  assert_int_equal(pos[0], 1);
  assert_int_equal(pos[1], 3);
  assert_int_equal(view.cpu_left, 8000);
  assert_int_equal(sc_node_check(&view), 0);
  /* The A100 view: 1000, 250, 1000 at node devices 0, 2, 4. */
  sc_node_view(n, &g[0], &view, pos);
  assert_int_equal(view.gpu_count, 3);
  assert_int_equal(view.gpu_left[1], 250);
  assert_int_equal(pos[2], 4);
  assert_int_equal(sc_node_gpu_left(&view), 2250);
  sc_cluster_release(&c);
}

static void test_fits_by_group(void **state)
{
  struct sc_cluster c;
  struct sc_node *n;
  struct sc_shape s;

  (void)state;
  n = make_mixed(&c);
  /* Five devices, but at most three of one model: 3 whole fit (A100),
   * 4 do not. */
  s = shape(1000, 1000, 3);
  assert_true(sc_node_fits(n, &s));
  s = shape(1000, 1000, 4);
  assert_false(sc_node_fits(n, &s));
  /* Only H100 allowed (any case): 2 whole fit, 3 do not. */
  s = shape(1000, 1000, 2);
  sc_shape_set_models(&s, &c, "h100");
  assert_true(sc_node_fits(n, &s));
  s = shape(1000, 1000, 3);
  sc_shape_set_models(&s, &c, "H100");
  assert_false(sc_node_fits(n, &s));
  assert_true(sc_node_model_ok(n, &s));
  /* A model the node lacks. */
  sc_shape_set_models(&s, &c, "V100");
  assert_false(sc_node_model_ok(n, &s));
  /* Shares: with H100 devices at 400 and 300 free, 500 m of an H100 does
   * not fit although their sum is 700, and fits an A100. */
  n->gpu_left[1] = 400;
  n->gpu_left[3] = 300;
  s = shape(1000, 500, 1);
  sc_shape_set_models(&s, &c, "H100");
  assert_false(sc_node_fits(n, &s));
  sc_shape_set_models(&s, &c, "H100|A100");
  assert_true(sc_node_fits(n, &s));
  /* CPU and memory stay the node's: a CPU-only task sees them whole. */
  s = shape(8000, 0, 0);
  assert_true(sc_node_fits(n, &s));
  s.cpu = 8001;
  assert_false(sc_node_fits(n, &s));
  sc_cluster_release(&c);
}

static void test_check_models(void **state)
{
  struct sc_cluster c;
  struct sc_node *n;

  (void)state;
  n = make_mixed(&c);
  /* The node's model must say what its devices are. */
  n->model = 0;
  assert_int_equal(sc_node_check(n), SC_ESTATE);
  n->model = SC_MODEL_MIXED;
  for (int i = 0; i < n->gpu_count; i++)
    n->dev_model[i] = 0;
  assert_int_equal(sc_node_check(n), SC_ESTATE); /* one model, not mixed */
  n->model = 0;
  assert_int_equal(sc_node_check(n), 0);
  n->dev_model[1] = SC_MAX_MODELS; /* no such model id */
  n->model = SC_MODEL_MIXED;
  assert_int_equal(sc_node_check(n), SC_ESTATE);
  sc_cluster_release(&c);
}

int main(int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_add_node_models),
    cmocka_unit_test(test_groups_and_views),
    cmocka_unit_test(test_fits_by_group),
    cmocka_unit_test(test_check_models),
  };
  return SC_RUN_TESTS(argc, argv, tests, NULL, NULL);
}
